/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The contention model: every wait the engine saw, merged per object and ranked. One
 * object is one lock, condition variable, semaphore, futex word or kernel lock of one
 * process, whichever view saw it: the uprobes' lock sites (CW_SITE_ACQUIRE), the futex
 * waits (CW_SITE_FUTEX: the word, classified by the libc code that waited on it), the
 * kernel's lock tracepoints (CW_SITE_KLOCK). Wakeups (CW_SITE_WAKE) say who made the
 * waiters wait.
 *
 * Classifying a futex wait needs its stack's symbols, which the engine does not have: the
 * caller passes a classifier (presentation implements it with the stack library). The
 * model stays pure and deterministic for a given stream and classifier.
 */
#ifndef __CW_CONTENTION_H
#define __CW_CONTENTION_H

#include <stddef.h>
#include <linux/types.h>

#include "concwatch/events.h"

struct cw_engine;

/* What a futex wait was, as the libc code that made it says. */
struct cw_futex_class {
	__u8 kind;		/* CW_LOCK_*: MUTEX, RWLOCK, COND, SEM, BARRIER, LIBC, THREAD;
				 * CW_LOCK_FUTEX when not known */
	__u64 object;		/* the object's address (the mutex, the pthread_cond_t...):
				 * the futex word less its offset in the object */
};

/* cw_futex_classify_fn's op when the wait's futex op word is not known */
#define CW_FUTEX_OP_UNKNOWN (~0U)

/*
 * Classify the futex wait of process pid on word uaddr from user stack stack_id; op is
 * the wait's futex op word (FUTEX_WAIT_BITSET|FUTEX_PRIVATE_FLAG...), CW_FUTEX_OP_UNKNOWN
 * when not known. Returns 0 and fills *out, or -ENOENT when the stack says nothing (then
 * the object is the word, kind CW_LOCK_FUTEX). Called once per (pid, uaddr, stack_id).
 */
typedef int (*cw_futex_classify_fn)(void *ctx, __u32 pid, __u64 uaddr, __u64 stack_id,
				    __u32 op, struct cw_futex_class *out);

struct cw_contention_opts {
	cw_futex_classify_fn classify;	/* NULL: every futex stays a CW_LOCK_FUTEX */
	void *ctx;
	unsigned int hotspot_pct;	/* contention_hotspot threshold, % of the traced
					 * threads' time; 0 = CW_HOTSPOT_DEFAULT_PCT */
};

#define CW_HOTSPOT_DEFAULT_PCT 10

/*
 * A call path of an object: waiting on it (waiters), or waking its waiters (holders).
 * An object seen by two views takes its waiters from the view whose wait total it took
 * (the uprobes' acquire stacks, or the futex waits' deeper stacks), so that the waiters'
 * totals add up to the object's and no wait is listed twice.
 */
struct cw_hot_path {
	__u32 tid;		/* holders: the waking thread; waiters: 0 (summed over threads) */
	__u16 space;		/* CW_STACK_USER, or CW_STACK_KERNEL for kernel locks */
	__u64 stack_id;		/* 0 = not known */
	__u64 ip;		/* uprobes: the acquire's return address, else 0 */
	__u64 count;		/* waiters: waits (uprobes: contended acquisitions, or every
				 * acquisition of a per-operation stream; futex: calls that
				 * slept); holders: waiters woken */
	__u64 wait_ns_total;	/* holders: the waiting they ended */
	__u64 wait_ns_max;
};

/* A thread waiting on an object: its waits summed over call paths. */
struct cw_hot_thread {
	__u32 tid;
	__u64 count;		/* waits (futex: blocking calls; uprobes: acquisitions) */
	__u64 wait_ns_total;
	__u64 wait_ns_max;	/* futex view only, else 0 */
};

struct cw_hot_object {
	__u32 pid;
	__u8 kind;		/* CW_LOCK_* */
	__u8 views;		/* CW_VIEW_*: which views saw it */
	__u16 attr;		/* CW_ATTR_* when known */
	__u32 flags;		/* CW_SITE_F_* (kernel locks: CW_SITE_F_MMAP_LOCK) */
	__u32 klock_flags;	/* kernel locks: LCB_F_* */
	__u64 addr;		/* the object */
	__u64 first_ip;		/* first acquisition site (uprobes), for naming; 0 = none: name
				 * it by waiters[0]'s stack (futex waits carry no ip) */
	__u64 acquisitions;	/* uprobes: acquisitions; else blocking calls (futex), or
				 * contentions that took the lock (kernel) */
	__u64 contentions;	/* waits that blocked (uprobes' figure when it has one) */
	__u64 failures;		/* busy trylocks, timed-out acquires and waits (the larger of
				 * the two views) */
	__u64 wait_ns_total;	/* both views: the larger of uprobe and futex totals, never a sum */
	__u64 wait_ns_max;	/* the larger of the views' */
	__u64 hold_ns_total;	/* uprobes only: CW_VIEW_ACQUIRE */
	__u64 hold_ns_max;
	__u64 wait_p50_ns;	/* from hist; 0 when no wait was measured */
	__u64 wait_p99_ns;
	__u64 hist[CW_HIST_BUCKETS];	/* the waits of the view wait_ns_total came from */
	__u64 acquire_wait_ns;	/* each view's own total: uprobes (CW_VIEW_ACQUIRE) */
	__u64 futex_wait_ns;	/* futex waits (CW_VIEW_FUTEX), all words of the object */
	__u64 outcomes[CW_FUTEX_OUTCOMES];	/* futex waits by CW_FUTEX_* */
	__u32 owner_tid;	/* futex: a live thread of pid the word named as holder, 0 = none
				 * (the latest named owner, if the engine knows that thread and
				 * saw no exit of it) */
	double share;		/* wait_ns_total / traced threads' time */
	int hotspot;		/* share >= threshold, it blocked someone, and it is a lock: not
				 * CW_LOCK_WAITS_FOR_WORK, not an unclassified non-PI futex */
	/* lists by wait_ns_total, then count, largest first; ties by first appearance */
	struct cw_hot_path *waiters;
	size_t nr_waiters;
	struct cw_hot_path *holders;	/* CW_SITE_WAKE per (waking tid, stack) */
	size_t nr_holders;
	struct cw_hot_thread *threads;	/* waiting threads: the futex view's when it has them
					 * (the uprobes' statistics are not per thread) */
	size_t nr_threads;
	__u64 seq;		/* first appearance in the stream: ties rank by it */
};

/* cw_hot_object.flags beyond CW_SITE_F_*: what the model concluded */
#define CW_HOT_F_PI (1U << 16)		/* waited on with FUTEX_LOCK_PI & co: a lock, classified or not */

#define CW_VIEW_ACQUIRE (1U << 0)	/* uprobes on the lock's functions */
#define CW_VIEW_FUTEX (1U << 1)		/* futex waits */
#define CW_VIEW_KLOCK (1U << 2)		/* kernel lock tracepoints */

/* One thread's time, from its CW_EV_THREAD_STATS and its futex waits. */
struct cw_thread_time {
	__u32 pid, tid;
	__u64 total_ns;		/* oncpu + every offcpu */
	__u64 oncpu_ns;
	__u64 runnable_ns;
	__u64 lock_wait_ns;	/* off CPU in probed acquires, plus the part of its futex
				 * off-CPU time its lock-classified futex waits outside probed
				 * acquires account for (in proportion to the other waits) */
	__u64 futex_wait_ns;	/* the rest of its futex off-CPU time (condvars, semaphores,
				 * unknown words) */
	__u64 klock_wait_ns;
	__u64 io_ns;
	__u64 sleep_ns;		/* other interruptible sleep, and off-CPU of no known reason */
	__u64 runq_ns_max;
	__u32 policy;
	__s32 prio;
	int measured;		/* a CW_EV_THREAD_STATS came: the figures above are real.
				 * 0: only lock_wait_ns (per-operation acquires + lock-classified
				 * futex waits) and futex_wait_ns (the other futex waits) are,
				 * when the stream had any (waits_known) */
	int waits_known;	/* lock_wait_ns and futex_wait_ns are measured figures */
};

struct cw_contention;

/* Build the model of what eng holds now. 0 or -ENOMEM. */
int cw_contention__new(const struct cw_engine *eng, const struct cw_contention_opts *opts,
		       struct cw_contention **out);
void cw_contention__free(struct cw_contention *c);

/* User-space objects (every kind but CW_LOCK_KERNEL), by wait_ns_total, largest first. */
size_t cw_contention__nr_objects(const struct cw_contention *c);
const struct cw_hot_object *cw_contention__object(const struct cw_contention *c, size_t i);
/* Kernel locks, by wait_ns_total, largest first. */
size_t cw_contention__nr_klocks(const struct cw_contention *c);
const struct cw_hot_object *cw_contention__klock(const struct cw_contention *c, size_t i);
const struct cw_hot_object *cw_contention__find(const struct cw_contention *c, __u32 pid,
						__u64 addr);
/*
 * The object a futex word (or a lock address) belongs to: the object the word's waits
 * were classified into (the first class of the word, when its stacks disagree), else the
 * object at that address; NULL when none. For records that carry the word (switch and
 * wakeup's wait_addr, blocked threads).
 */
const struct cw_hot_object *cw_contention__find_word(const struct cw_contention *c, __u32 pid,
						     __u64 addr);
/* Threads in the engine's order. */
size_t cw_contention__nr_threads(const struct cw_contention *c);
const struct cw_thread_time *cw_contention__thread(const struct cw_contention *c, size_t i);
/* The traced threads' time the shares are of. */
__u64 cw_contention__traced_ns(const struct cw_contention *c);

/*
 * A percentile (0..100) of a log2 histogram (CW_HIST_BUCKETS buckets), the upper bound of
 * its bucket (2^(i+1) for bucket i); 0 when empty. The objects' percentiles are further
 * capped at their wait_ns_max.
 */
__u64 cw_hist__percentile(const __u64 *hist, unsigned int pct);

/* Whether an object is a hotspot at threshold pct: exact, in integers (>= pct). */
int cw_contention__is_hotspot(__u64 wait_ns_total, __u64 traced_ns, unsigned int pct);
/* The threshold the model was built with (opts->hotspot_pct or the default). */
unsigned int cw_contention__threshold_pct(const struct cw_contention *c);

#endif /* __CW_CONTENTION_H */
