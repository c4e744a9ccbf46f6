/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Priority: what the stream says about real-time threads kept waiting by lower-priority
 * work (the `priority_inversion` finding), and the priority-inheritance boosts that
 * prevented it. Pure, fed by the engine (engine.c) with:
 *
 * - CW_EV_PRIO_INVERSION: a stretch a tracer measured in the kernel (bpf/cw_prio.bpf.h):
 *   real-time H waited on a lock held by L while L was runnable and preemptor M had its
 *   CPU. Stretches of one wait (same H, L, lock, wait start) are one inversion: their
 *   durations add up, the longest names the preemptor. Shorter than the threshold
 *   (--pi-threshold, default 1 ms): ignored;
 *   A stretch still going on (CW_PI_F_ONGOING, its duration so far) counts until its
 *   final record (the same start) replaces it: an inversion that never ends is
 *   reported too, unbounded;
 * - CW_EV_PRIO_STACKS, after a stretch's record: L's and M's user stacks (each may be
 *   missing), kept with the inversion: the longest stretch's, as its preemptor is;
 * - CW_EV_PRIO_CHANGE with CW_PRIO_PI_BOOST: a holder boosted by a PI mutex, and its donor;
 * - CW_EV_BLOCKED (reason CW_OFFCPU_LOCK, owner known): who waited on whom, for the latent
 *   rule, judged with the threads' scheduling attributes (CW_EV_THREAD_STATS) at findings
 *   time: a real-time thread blocked on a non-PI lock held by a thread that is not
 *   real-time can be inverted by any busy thread of the machine.
 */
#ifndef __CW_PRIO_H
#define __CW_PRIO_H

#include <stddef.h>
#include <linux/types.h>
#include <concwatch/events.h>

struct cw_engine;

#define CW_PRIO_DEFAULT_THRESHOLD_NS 1000000ULL

/* A task a finding names: any process's (a preemptor need not be traced). */
struct cw_prio_task {
	__u32 pid;
	__u32 tid;
	__s32 prio;		/* kernel prio: 0..99 real-time (99 - rt_priority), 100..139 */
	__u32 policy;		/* SCHED_* */
	char comm[CW_COMM_LEN];
};

/* One inversion: H waited on addr held by L, kept off its CPU by the preemptor. */
struct cw_prio_inv {
	__u32 pid;		/* of H and L */
	struct cw_prio_task high, low, preemptor;	/* preemptor: of the longest stretch */
	__u64 addr;
	__u64 wait_since_ns;	/* when H's wait began */
	__u64 end_ns;		/* when the last stretch ended */
	__u64 duration_ns;	/* the stretches, summed */
	__u64 longest_ns;
	__u32 stretches;
	__u32 preempted;	/* the preemptor took L's CPU (CW_PI_F_PREEMPTED) */
	__u64 high_stack_id;	/* H's wait, from its blocked record; 0 = none */
	__u64 low_stack_id;	/* L's where it was kept off its CPU (CW_EV_PRIO_STACKS): of
				 * the longest stretch, else of another; 0 = none */
	__u64 preemptor_stack_id; /* the preemptor's as it gave L's CPU back, of the longest
				 * stretch (whose preemptor is named); 0 = none */
	__u64 longest_ts;	/* ts_ns of the longest stretch's record: its stacks' too */
	__u32 preemptor_untraced;	/* its stacks record said: the preemptor's process
					 * is not traced (CW_PI_STACKS_F_UNTRACED) */
	__u64 ongoing_ns;	/* a stretch still going on at the last word (CW_PI_F_ONGOING),
				 * not in duration_ns; 0: none */
	__u64 ongoing_start;	/* its start */
	__u64 ended_start;	/* the start of the last stretch whose final record came: a
				 * word of it delivered after that (out of time order) is
				 * stale */
};

/* A priority-inheritance boost: tid's prio raised to new_prio, lent by donor. */
struct cw_prio_boost {
	__u32 pid;
	__u32 tid;
	__u32 donor_tid;
	__s32 old_prio;
	__s32 new_prio;
	__u32 policy;
	__u64 first_ts;
	__u64 count;		/* boosts alike (same thread, donor, prio) */
};

/* A wait of a thread on a lock whose holder was known (a blocked record). */
struct cw_prio_wait {
	__u32 pid;
	__u32 tid;
	__u32 owner_tid;
	__u8 kind;		/* CW_LOCK_* */
	__u64 addr;
	__u64 ts;		/* first seen */
	__u64 stack_id;
};

struct cw_prio;

struct cw_prio *cw_prio__new(void);
void cw_prio__free(struct cw_prio *p);
void cw_prio__set_threshold(struct cw_prio *p, __u64 ns);
__u64 cw_prio__threshold(const struct cw_prio *p);

/*
 * CW_EV_PRIO_INVERSION, CW_EV_PRIO_STACKS, CW_EV_PRIO_CHANGE, CW_EV_BLOCKED (others
 * ignored). 0 or -ENOMEM.
 */
int cw_prio__feed(struct cw_prio *p, const struct cw_hdr *h);

/* The inversions at or over the threshold, in the order their first stretch came. */
size_t cw_prio__nr_inversions(const struct cw_prio *p);
const struct cw_prio_inv *cw_prio__inversion(const struct cw_prio *p, size_t i);
size_t cw_prio__nr_boosts(const struct cw_prio *p);
const struct cw_prio_boost *cw_prio__boost(const struct cw_prio *p, size_t i);
/* Whether tid of pid was boosted with donor as donor (donor 0: by anyone). */
int cw_prio__boosted(const struct cw_prio *p, __u32 pid, __u32 tid, __u32 donor);
size_t cw_prio__nr_waits(const struct cw_prio *p);
const struct cw_prio_wait *cw_prio__wait(const struct cw_prio *p, size_t i);

/* SCHED_FIFO, SCHED_RR, SCHED_DEADLINE. */
static inline int cw_prio__rt_policy(__u32 policy)
{
	return policy == 1 || policy == 2 || policy == 6;
}

#endif /* __CW_PRIO_H */
