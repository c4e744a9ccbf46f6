/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event loops, from CW_EV_LOOP_STATS, _STALL, _BLOCK and _SAMPLE (include/concwatch/events.h):
 * the threads that wait in a loop wait (epoll_wait, poll, select, io_uring_enter), their
 * iterations, and their stalls: an iteration at least the stall threshold long. A stall
 * still going on is sent each tick with its duration so far; the record that ends it
 * (the same start) replaces those words, and a word read before the end but delivered
 * after it is ignored. The blocks inside iterations are summed by cause; the samples of
 * long iterations are kept, and those of iterations that became stalls say where the
 * stalls were. Pure: time only from the records.
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

/*
 * A loop thread's blocks inside iterations (CW_EV_LOOP_BLOCK) of one cause: a lock, futex
 * word or kernel lock (reason CW_OFFCPU_LOCK, _FUTEX, _KLOCK, by addr), or a system call
 * (reason _IO or _SLEEP, by nr).
 */
struct cw_evloop_block {
	__u8 reason;		/* CW_OFFCPU_* */
	__u32 nr;		/* the system call of the longest, ~0: none */
	__u64 addr;		/* LOCK, FUTEX, KLOCK: what it waited on */
	__u64 count, total_ns, max_ns;
	__u64 longest_start_ns;	/* when the longest began */
	__u64 longest_iter_ns;	/* ... in the iteration that began then */
	__u64 stack_id;		/* the longest's user stack, 0: none */
	__u32 owner_tid;	/* the longest's lock holder, 0: not known */
};

/* One block of a loop thread inside an iteration (CW_EV_LOOP_BLOCK), as it came. */
struct cw_evloop_block_rec {
	__u64 start_ns, duration_ns, iter_start_ns;
	__u64 addr, stack_id;
	__u32 nr, owner_tid;
	__u8 reason;
};

/* A sample of a long iteration (CW_EV_LOOP_SAMPLE). */
struct cw_evloop_sample {
	__u64 iter_start_ns;
	__u64 stack_id;
	__u32 flags;		/* CW_LOOP_SAMPLE_F_* */
};

/* Bounds per loop thread: past them, blocks and samples are counted as dropped. */
#define CW_EVLOOP_MAX_BLOCKS 65536
#define CW_EVLOOP_MAX_SAMPLES 65536
#define CW_EVLOOP_MAX_STALLS 65536

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
	__u64 *stall_starts;		/* every stall's start (ended or going on), ascending */
	size_t nr_stall_starts, cap_stall_starts;
	struct cw_evloop_block_rec *blocks;	/* in the order they came */
	size_t nr_blocks, cap_blocks;
	struct cw_evloop_sample *samples;	/* in the order they came */
	size_t nr_samples, cap_samples;
	__u64 dropped;			/* blocks, samples and stall starts past the bounds */
};

struct cw_evloop;

struct cw_evloop *cw_evloop__new(void);
void cw_evloop__free(struct cw_evloop *ev);
/* A record of any type (others are ignored). 0 or -ENOMEM. */
int cw_evloop__feed(struct cw_evloop *ev, const struct cw_hdr *h);
/* Stalls shorter than ns are none (default CW_EVLOOP_DEFAULT_STALL_NS); set before feeding. */
void cw_evloop__set_threshold(struct cw_evloop *ev, __u64 ns);
__u64 cw_evloop__threshold(const struct cw_evloop *ev);
#define CW_EVLOOP_DEFAULT_BLOCK_NS 10000000ULL	/* --block-threshold's default: 10 ms */
/* Blocks shorter than ns are none (default CW_EVLOOP_DEFAULT_BLOCK_NS); set before feeding. */
void cw_evloop__set_block_threshold(struct cw_evloop *ev, __u64 ns);
__u64 cw_evloop__block_threshold(const struct cw_evloop *ev);
/* Whether thread t's iteration that began at iter_start_ns was a stall (ended or going on). */
int cw_evloop__is_stall(const struct cw_evloop_thread *t, __u64 iter_start_ns);
/*
 * t's blocks summed by cause, in the order each cause was first seen, but those of the
 * iteration that began at not_iter (0: none). *out is malloc'ed (NULL when none).
 * 0 or -ENOMEM.
 */
int cw_evloop__causes(const struct cw_evloop_thread *t, __u64 not_iter,
		      struct cw_evloop_block **out, size_t *nr);
/*
 * The iteration thread t exited in, its loop's end (0: none, or not known): the latest
 * figures, the exit's, say it was in no wait.
 */
__u64 cw_evloop__exit_iteration(const struct cw_evloop_thread *t);

/* The loop threads, in the order they were first seen. */
size_t cw_evloop__nr(const struct cw_evloop *ev);
const struct cw_evloop_thread *cw_evloop__get(const struct cw_evloop *ev, size_t i);
/* The loop thread tid of pid; NULL: none (it never waited in a loop wait). */
const struct cw_evloop_thread *cw_evloop__find(const struct cw_evloop *ev, __u32 pid, __u32 tid);
/* A thread's iteration length at percentile pct (50, 99), by cw_hist__percentile() (a log2
 * bucket's upper bound, at most the longest iteration), ns. */
__u64 cw_evloop__percentile(const struct cw_evloop_thread *t, unsigned int pct);

#endif /* __CW_ENGINE_EVLOOP_H */
