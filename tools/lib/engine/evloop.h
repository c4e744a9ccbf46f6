/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event loops, from CW_EV_LOOP_STATS and CW_EV_LOOP_STALL (include/concwatch/events.h):
 * the threads that wait in a loop wait (epoll_wait, poll, select, io_uring_enter), their
 * iterations, and their stalls: an iteration at least the stall threshold long. A stall
 * still going on is sent each tick with its duration so far; the record that ends it
 * (the same start) replaces those words, and a word read before the end but delivered
 * after it is ignored. Pure: time only from the records.
 */
#ifndef __CW_ENGINE_EVLOOP_H
#define __CW_ENGINE_EVLOOP_H

#include <stddef.h>

#include "concwatch/events.h"

#define CW_EVLOOP_DEFAULT_STALL_NS 100000000ULL	/* --stall-threshold's default: 100 ms */

struct cw_evloop_stall {
	__u64 start_ns;		/* the return of the wait before it */
	__u64 duration_ns;	/* going on: so far */
	__u64 oncpu_ns;		/* of it on a CPU, when oncpu_known */
	__u32 wait_nr;		/* the system call of the wait it came from */
	int oncpu_known;
	int ongoing;		/* not ended at the latest word */
};

struct cw_evloop_thread {
	__u32 pid, tid;
	int has_stats;
	struct cw_ev_loop_stats stats;	/* the latest */
	__u64 stalls;			/* ended ones */
	__u64 stall_ns_total;		/* ... their time */
	struct cw_evloop_stall longest;	/* ended or going on; duration 0: none */
	struct cw_evloop_stall longest_ended;	/* the longest that ended; duration 0: none */
	struct cw_evloop_stall ongoing;	/* going on at the latest word; duration 0: none */
	__u64 ended_start;		/* the start of the latest ended one */
};

struct cw_evloop;

struct cw_evloop *cw_evloop__new(void);
void cw_evloop__free(struct cw_evloop *ev);
/* A record of any type (others are ignored). 0 or -ENOMEM. */
int cw_evloop__feed(struct cw_evloop *ev, const struct cw_hdr *h);
/* Stalls shorter than ns are none (default CW_EVLOOP_DEFAULT_STALL_NS); set before feeding. */
void cw_evloop__set_threshold(struct cw_evloop *ev, __u64 ns);
__u64 cw_evloop__threshold(const struct cw_evloop *ev);

/* The loop threads, in the order they were first seen. */
size_t cw_evloop__nr(const struct cw_evloop *ev);
const struct cw_evloop_thread *cw_evloop__get(const struct cw_evloop *ev, size_t i);
/* The loop thread tid of pid; NULL: none (it never waited in a loop wait). */
const struct cw_evloop_thread *cw_evloop__find(const struct cw_evloop *ev, __u32 pid, __u32 tid);
/* A thread's iteration length at percentile pct (50, 99), by cw_hist__percentile(), ns. */
__u64 cw_evloop__percentile(const struct cw_evloop_thread *t, unsigned int pct);

#endif /* __CW_ENGINE_EVLOOP_H */
