/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cost governor of live attach (--max-overhead PCT): when to detach the lock uprobes
 * and when to attach them again, so that what tracing costs the target stays within a
 * budget, B, a share of the target's own CPU time. Pure: fed at each tick with what the
 * caller measured, it answers keep, detach, attach or shed, and keeps the share of time
 * lock tracing was on (coverage) and the share the scheduler tracepoints were on (the
 * scheduler coverage). Attaching, detaching and shedding are the caller's.
 *
 * Two tiers. The lock uprobes go first: off, the trap-free tracing (futex, scheduler,
 * kernel locks) stays on. Where that alone is over budget (a server whose threads sleep
 * and wake tens of thousands of times a second pays a clock read and a lookup or two at
 * each switch and wakeup, 5-15% of memcached's CPU time on the slow-clock VM), the
 * scheduler tracepoints are shed too: the futex and kernel-lock tracepoints, which run
 * only at a futex call or a contended kernel lock, stay on throughout. An attach brings
 * the scheduler tracepoints back with the lock probes, so a window is always at full
 * cost, and the ledger below pays for it either way.
 *
 * The measure. An interval's cost is the estimator's (engine/cost.h: probe hits times
 * their calibrated cost, plus the probe programs' run time, plus the tracepoint
 * programs'), set against the target's CPU time in the same interval. The budget covers
 * all of it: with the lock probes off the trap-free tracing still costs. The traps
 * run on the target's threads, so their time is part of its CPU time: a cost above it is
 * the calibration's error and counts as all of it, as in cw_cost__share_of(). A share
 * s = cost / CPU time is thus at most 1.
 *
 * The ledger. From the first tick the governor keeps B * (CPU time) - cost: the budget's
 * credit, negative when owed. Every interval adds to it, on or off. It is capped at the
 * net cost of the next window at a share of 1 at the highest CPU rate seen, so that a
 * target cheap for hours cannot save up for a burst of more than a window.
 *
 * Off: paid in advance. Tracing is attached again only once the credit covers what the
 * next window will cost beyond what it earns, (s_pred - B) * R * (window + attach +
 * detach): s_pred the share of the last window judged, and, before any was, 1 (a window
 * at full cost); R the highest CPU rate the target has shown (a server under a fixed load
 * runs less CPU off than on, its traps gone; one idle now is not cheap once it wakes).
 * So the budget holds at every tick (up to the error of that prediction), not only over
 * a whole cycle, and a load shorter than the time it takes to pay for a window is never
 * traced at full cost: memcached's 1.3 s load under memcslap, whose probes cost 80% of
 * its CPU time on the slow-trap host, lost 36% of its time when the governor started on
 * and paid afterwards for a first window of a second. A target idle while off pays
 * nothing and stays off (it takes no locks meanwhile); one idle from the start has paid
 * for nothing, and is not attached. For a target that uses as much CPU off as
 * on, this is the duty cycle d = B / s: on for d of the time. Counting the time off in
 * CPU time rather than wall time matters when the traps added to the target's CPU time
 * instead: a server under a fixed load uses less CPU once the probes are gone, and a
 * wall-time off window would overshoot the budget by 1 / (1 - s + B).
 *
 * On: judged over windows. The first window after the start, the sample, lasts
 * first_window_ns (100 ms, a tick of the source), and, started off, is paid for at a
 * share of 1 (0.1 s of CPU time at 1 CPU: 1.9 s of CPU time off first under 5%); started
 * on, it is the one window not paid for, and a short one. The others last window_ns (1 s:
 * ten ticks, so that one busy tick does not detach, the per-thread CPU times, read at
 * switches and once a second, have caught up, and a cost over budget stops within a
 * second). At a window's end its share is judged: s > B detaches; otherwise a new window
 * begins. So tracing stays on while it keeps within budget, and a sampled target that
 * became cheap (idle, or its lock-heavy phase over) is traced for good again from its
 * first window within budget. There is no band below the budget: a window within it owes
 * nothing, and detaching would buy nothing but the cost of a detach and an attach.
 *
 * Off: the trap-free tracing judged over windows of first_ns (a sample's length: shedding
 * is cheap and lasts only until the next attach, overrunning is not), from the start and
 * from each detach. A window over budget sheds the scheduler tracepoints (asked until
 * carried out); one within it begins the next. Shed, the target pays the futex and
 * kernel-lock tracepoints alone, and the ledger fills the faster for it.
 *
 * Attaching and detaching cost too, and are no coverage. While probes are placed or
 * removed (Linux 6.1 removes them one by one, each waiting ~0.1 s), the target keeps
 * trapping on those in place. The interval holding an attach is on at its end and its
 * cost is measured whole (the rate the caller gives is over all of it); the detach's
 * duration is charged at the last on rate, an upper bound. Coverage leaves out the
 * attach's duration (tracing incomplete) and the interval holding the detach (untargeted
 * at its start). A window after the sample lasts at least CW_GOVERNOR_TRANSITION_FACTOR
 * (10) times attach plus detach, so that the transitions take at most a tenth of what it
 * pays for, and at least one tick: windows end at ticks.
 *
 * The state is the caller's report, not the governor's decisions: each tick says whether
 * lock tracing is on, as it has been since the previous tick (the caller carries out a
 * decision right after the tick that made it). Attaches and detaches are recognised from
 * the change, whoever made them; a detach not carried out is asked again at each tick,
 * the ledger paying for it; an attach not carried out is asked again while it is paid.
 */
#ifndef __CW_ENGINE_GOVERNOR_H
#define __CW_ENGINE_GOVERNOR_H

#include <linux/types.h>

#define CW_GOVERNOR_WINDOW_NS 1000000000ULL	/* the default window_ns: see above */
#define CW_GOVERNOR_FIRST_WINDOW_NS 100000000ULL /* the default first_window_ns */
#define CW_GOVERNOR_TRANSITION_FACTOR 10	/* a window after an attach, in attach+detach */

struct cw_governor_opts {
	double max_overhead_pct;	/* B: tracing's cost as % of the target's CPU time,
					 * in (0, 100] */
	__u64 window_ns;		/* judge the share over this much time on; 0: the
					 * default, CW_GOVERNOR_WINDOW_NS */
	__u64 first_window_ns;		/* the first window, the sample; 0: the default,
					 * CW_GOVERNOR_FIRST_WINDOW_NS; at most window_ns */
};

/* What the caller measured over the interval since the previous tick. */
struct cw_governor_tick {
	__u64 now_ns;		/* CLOCK_MONOTONIC: the interval's end */
	int on;			/* lock uprobes attached (since the decision of the previous
				 * tick was carried out) */
	int sched_off;		/* off only: the scheduler tracepoints detached too (shed),
				 * likewise */
	__u64 cost_ns_per_s;	/* what tracing cost the target over the interval, ns per
				 * second of it (cw_cost_estimate.ns / interval): on, the lock
				 * probes' and the trap-free tracing's; off, the trap-free
				 * tracing's. Fed only when calibrated */
	__u64 cpu_ns_per_s;	/* the target's CPU time over the interval, ns per second of
				 * it, the traps' time included */
	__u64 attach_ns;	/* how long the last attach took; 0: not measured, the last
				 * measured one stays */
	__u64 detach_ns;	/* how long the last detach took, likewise */
};

enum cw_governor_decision {
	CW_GOVERNOR_KEEP = 0,	/* leave lock tracing as it is */
	CW_GOVERNOR_DETACH,	/* detach the lock uprobes now */
	CW_GOVERNOR_ATTACH,	/* attach them now, the scheduler tracepoints first if shed */
	CW_GOVERNOR_SHED,	/* off: detach the scheduler tracepoints too, now */
};

struct cw_governor_stats {
	__u64 elapsed_ns;	/* from the first tick to the last */
	__u64 covered_ns;	/* of it with lock tracing on, attaches' own time left out */
	__u32 coverage_permille;	/* covered_ns of elapsed_ns, rounded down; 1000 before
					 * any time passed */
	__u64 sched_covered_ns;	/* of it with the scheduler tracepoints on, likewise */
	__u32 sched_coverage_permille;	/* sched_covered_ns of elapsed_ns, likewise */
	__u32 attaches;		/* seen: on after off */
	__u32 detaches;		/* seen: off after on */
	__u32 sheds;		/* seen: the scheduler tracepoints off after on */
	int on;			/* as the last tick said */
	int sched_on;		/* likewise */
	double share_pct;	/* the last window judged: cost, % of the target's CPU time;
				 * -1: none yet */
	double rest_share_pct;	/* the last off window judged (the trap-free tracing
				 * alone), likewise */
	__u64 owed_cpu_ns;	/* off: CPU time the target has still to run before an attach,
				 * at its highest CPU rate */
	__s64 credit_ns;	/* the ledger: B * CPU time - cost, in CPU time (the cost
				 * over B); negative: owed */
};

struct cw_governor;

/* 0; -EINVAL: opts NULL, or max_overhead_pct not in (0, 100]; -ENOMEM. */
int cw_governor__new(const struct cw_governor_opts *opts, struct cw_governor **out);
void cw_governor__free(struct cw_governor *g);

/*
 * Account the interval since the previous tick (the first tick only starts the clock)
 * and decide: a CW_GOVERNOR_* value, or -EINVAL when t is NULL or goes back in time
 * (nothing accounted then).
 */
int cw_governor__tick(struct cw_governor *g, const struct cw_governor_tick *t);

void cw_governor__stats(const struct cw_governor *g, struct cw_governor_stats *st);
/* The share of time lock tracing was on, in permille (st.coverage_permille). */
unsigned int cw_governor__coverage_permille(const struct cw_governor *g);

#endif /* __CW_ENGINE_GOVERNOR_H */
