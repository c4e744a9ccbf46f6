/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Livelocks: threads that keep failing trylocks and timed acquires on locks the others
 * hold, none of them ever getting one it failed on, while they go on trying. Pure, like
 * the rest of the engine, and fed by it (engine.c):
 *
 * - CW_SITE_TRY statistics (a tracing source aggregating in the kernel): per (thread,
 *   lock) and interval, the failed attempts (EBUSY, ETIMEDOUT), the acquisitions of the
 *   lock by that thread, and the holder the lock word named at the latest failure;
 * - raw lock records (record --timeline, raw_events): an ACQUIRED with a try or timed op
 *   and result EBUSY or ETIMEDOUT is a failure; any successful ACQUIRED is an
 *   acquisition; ACQUIRED and RELEASED say who holds a lock (the holder of a failure);
 * - CW_EV_TICK moves the clock: the rule is judged there.
 *
 * The rule. A (thread, lock) pair is *failing* from its first failure after the thread
 * last acquired that lock, for as long as failures keep coming: a gap longer than
 * a gap (half the threshold, 200 ms at least: statistics come once a tick, and a
 * backoff sleeps) ends it, and so does an acquisition of that lock by that thread
 * (progress). An interval with both failures and an acquisition ends the pair too and
 * starts it again at the interval's end: the order within the interval is not known.
 * A failing pair counts for the rule unless the lock's holder is known and is not a
 * failing thread itself (then the thread waits behind a holder that works: starvation or
 * a long hold, not a livelock; and a thread trylocking a lock it holds itself is a bug of
 * its own). Threads with counting pairs are linked when one failed on a lock the other
 * held, or both failed on the same lock; a connected set of two threads or more, all of
 * one process, with at least one of its locks known held by one of its threads (threads
 * failing on the same locks whose holders are not known, spin locks or rwlocks held by
 * readers, may wait behind holders that work), is a livelock once every thread in it
 * has been failing for the threshold
 * (CW_LL_THRESHOLD_NS by default, --livelock-threshold) on the engine's clock. It stays
 * one (an episode) while the same threads go on; when they stop (one makes progress,
 * stops trying, exits) the episode ends and is kept, with its figures.
 *
 * "They keep running or retrying" is what the failures themselves say: each failure is
 * an attempt the thread made, and the pair ends when they stop. A busy workload whose
 * trylocks often fail but whose threads all get the locks they fail on now and then
 * never makes a pair last, whatever its failure rate.
 */
#ifndef __CW_LIVELOCK_H
#define __CW_LIVELOCK_H

#include <stddef.h>
#include <linux/types.h>
#include <concwatch/events.h>

#define CW_LL_THRESHOLD_NS 500000000ULL
#define CW_LL_GAP_MIN_NS 200000000ULL
/* Work bound: the threads judged at a tick (the rest waits for the next ticks). */
#define CW_LL_MAX_THREADS 4096

/* One thread's failures on one lock during an episode. */
struct cw_ll_link {
	__u32 tid;
	__u32 owner_tid;	/* the holder at its latest failure, 0 = not known */
	__u64 addr;
	__u64 failures;		/* since the pair began failing */
	__u64 first_ns;		/* when the pair began failing */
	__u64 last_ns;		/* its latest failure */
	__u64 stack_id;		/* call path of its latest failure, 0 = none */
	__u64 ip;		/* return address of its latest failing call */
	__u64 wait_ns;		/* time its timed acquires waited before timing out */
	__u8 op;		/* CW_OP_* of the latest failure */
	__u8 kind;		/* CW_LOCK_* */
};

/* A livelock: a set of threads of process pid, and the pairs that made it. */
struct cw_ll_episode {
	__u32 pid;
	__u32 *tids;		/* sorted */
	size_t nr_tids;
	struct cw_ll_link *links;	/* by tid, then address */
	size_t nr_links;
	__u64 first_ns;		/* the earliest failure of its pairs */
	__u64 formed_ns;	/* when the last of its threads began failing */
	__u64 confirmed_ns;	/* the engine's clock when it became a livelock */
	__u64 last_ns;		/* the latest failure */
	int ended;		/* the threads stopped (or made progress) */
};

struct cw_ll;

struct cw_ll *cw_ll__new(void);
void cw_ll__free(struct cw_ll *ll);
/* How long the threads must fail together to be a livelock (0: the default). */
void cw_ll__set_threshold(struct cw_ll *ll, __u64 ns);
__u64 cw_ll__threshold(const struct cw_ll *ll);

/* A CW_SITE_TRY statistics record; others are ignored. 0 or -ENOMEM. */
int cw_ll__feed_stats(struct cw_ll *ll, const struct cw_ev_lock_stats *s);
/* A raw lock record (ACQUIRED, RELEASED; others are ignored). 0 or -ENOMEM. */
int cw_ll__feed_lock(struct cw_ll *ll, const struct cw_ev_lock *e);
/* The clock is now: judge. 0 or -ENOMEM. */
int cw_ll__tick(struct cw_ll *ll, __u64 now);

/* Episodes in the order they were confirmed. */
size_t cw_ll__nr(const struct cw_ll *ll);
const struct cw_ll_episode *cw_ll__get(const struct cw_ll *ll, size_t i);

#endif /* __CW_LIVELOCK_H */
