/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel-module source's per-thread scheduling figures (kmod_sched.c): what the BPF
 * programs keep in thread_stats, made from the module's switch and wakeup records and sent
 * as the BPF source sends them. Used by kmod.c only.
 */
#ifndef __CW_SOURCE_KMOD_SCHED_H
#define __CW_SOURCE_KMOD_SCHED_H

#include <linux/types.h>

#include "source/emit.h"

struct cw_kmod_sched;

/* 0, or -ENOMEM. */
int cw_kmod_sched__new(struct cw_kmod_sched **out);
void cw_kmod_sched__free(struct cw_kmod_sched *ks);

/*
 * A record read from the module, its checks passed, in the order read: what it says of a
 * thread waits in that thread's events until it is applied. 0, or -ENOMEM.
 */
int cw_kmod_sched__record(struct cw_kmod_sched *ks, const struct cw_hdr *h);

/*
 * A drain read what it would: the events no older record can come before any more are
 * applied, a thread's exit sending its final figures through e. emptied_ns: when the read
 * that found every ring empty began, 0 when the drain stopped before one did; last: tracing
 * stopped and everything was read. 0, or a negative error.
 */
int cw_kmod_sched__advance(struct cw_kmod_sched *ks, struct cw_emit *e, __u64 emptied_ns,
			   __u64 now, int last);

/* The tick: the figures of the threads due (every one when last) through e. 0, or < 0. */
int cw_kmod_sched__send(struct cw_kmod_sched *ks, struct cw_emit *e, int last);

/* Process pid is traced from now on (again): its older records count no more. */
void cw_kmod_sched__traced(struct cw_kmod_sched *ks, __u32 pid, __u64 now);

/*
 * Process pid is no longer traced: its threads' figures are queued in e a last time, up
 * to now, and forgotten. 0, or -ENOMEM.
 */
int cw_kmod_sched__untraced(struct cw_kmod_sched *ks, struct cw_emit *e, __u32 pid, __u64 now);

#endif /* __CW_SOURCE_KMOD_SCHED_H */
