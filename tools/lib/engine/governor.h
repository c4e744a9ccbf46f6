/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cost governor of live attach (--max-overhead PCT): when to detach the lock uprobes
 * and when to attach them again, so that what they cost the target stays within a
 * budget, B, a share of the target's own CPU time. Pure: fed at each tick with what the
 * caller measured, it answers keep, detach or attach, and keeps the share of time lock
 * tracing was on (coverage). Attaching and detaching are the caller's, and so is the
 * trap-free tracing (futex, scheduler, kernel locks) that stays on throughout.
 *
 * The measure. An interval's cost is the estimator's (engine/cost.h: probe hits times
 * their calibrated cost, plus the probe programs' run time), set against the target's
 * CPU time in the same interval. The traps run on the target's threads, so their time is
 * part of its CPU time: a cost above it is the calibration's error and counts as all of
 * it, as in cw_cost__share_of(). A share s = cost / CPU time is thus at most 1.
 *
 * On: judged over windows. While lock tracing is on, cost and CPU time add up over a
 * window of window_ns (1 s: ten of the source's 100 ms ticks, so that one busy tick does
 * not detach, the per-thread CPU times, read at switches and once a second, have caught
 * up, and a cost over budget stops within a second). At the window's end its share is
 * judged: s > B detaches; otherwise a new window begins. So tracing stays on while it
 * keeps within budget, and a sampled target that became cheap (idle, or its lock-heavy
 * phase over) is traced for good again from its first window within budget. There is no
 * band below the budget: a window within it owes no time off, and detaching would buy
 * nothing but the cost of a detach and an attach.
 *
 * Off: until the target's CPU time has paid. A detach leaves the cycle a debt, the cost
 * of the window judged (and of any ticks until the detach happened). Tracing stays off
 * until the whole cycle, the on window and the time off, meets the budget:
 *
 *	cost <= B * (CPU time on + CPU time off)
 *
 * with the CPU time off measured, tick by tick, not predicted. For a target that uses as
 * much CPU off as on (one bound by its CPU: the traps took time from its work), this is
 * the duty cycle d = B / s, on for d of the time: off = on * (1 - d) / d. d is at least B
 * (s <= 1), so the time off is bounded; it is 1 when s <= B, when nothing is owed.
 * Measuring the time off rather than sizing it in wall time matters when the traps added
 * to the target's CPU time instead: a server under a fixed load uses less CPU once the
 * probes are gone, and a wall-time off window would overshoot the budget by
 * 1 / (1 - s + B) (25% for 5% at s = 0.85, memcached on the slow-trap host). A target
 * idle while off pays nothing back and stays off until it runs again: it takes no locks
 * meanwhile.
 *
 * Attaching and detaching cost too, and are no coverage. While probes are placed or
 * removed (Linux 6.1 removes them one by one, each waiting ~0.1 s), the target keeps
 * trapping on those in place. The interval holding an attach is on at its end and its
 * cost is measured whole (the rate the caller gives is over all of it); the detach's
 * duration is charged to the cycle at the last on rate, an upper bound. Coverage leaves
 * out the attach's duration (tracing incomplete) and the interval holding the detach
 * (untargeted at its start). A window that follows an attach lasts at least
 * CW_GOVERNOR_TRANSITION_FACTOR (10) times attach plus detach, so that the transitions
 * take at most a tenth of what a cycle pays for, and at least one tick: windows end at
 * ticks.
 *
 * The state is the caller's report, not the governor's decisions: each tick says whether
 * lock tracing is on, as it has been since the previous tick (the caller carries out a
 * decision right after the tick that made it). Attaches and detaches are recognised from
 * the change, whoever made them; a detach not carried out is asked again at each tick,
 * its debt growing; an attach not carried out is asked again while nothing is owed.
 */
#ifndef __CW_ENGINE_GOVERNOR_H
#define __CW_ENGINE_GOVERNOR_H

#include <linux/types.h>

#define CW_GOVERNOR_WINDOW_NS 1000000000ULL	/* the default window_ns: see above */
#define CW_GOVERNOR_TRANSITION_FACTOR 10	/* a window after an attach, in attach+detach */

struct cw_governor_opts {
	double max_overhead_pct;	/* B: tracing's cost as % of the target's CPU time,
					 * in (0, 100] */
	__u64 window_ns;		/* judge the share over this much time on; 0: the
					 * default, CW_GOVERNOR_WINDOW_NS */
};

/* What the caller measured over the interval since the previous tick. */
struct cw_governor_tick {
	__u64 now_ns;		/* CLOCK_MONOTONIC: the interval's end */
	int on;			/* lock uprobes attached (since the decision of the previous
				 * tick was carried out) */
	__u64 cost_ns_per_s;	/* when on: what tracing cost the target over the interval,
				 * ns per second of it (cw_cost_estimate.ns / interval); read
				 * only when on, and fed only when calibrated */
	__u64 cpu_ns_per_s;	/* the target's CPU time over the interval, ns per second of
				 * it, the traps' time included */
	__u64 attach_ns;	/* how long the last attach took; 0: not measured, the last
				 * measured one stays */
	__u64 detach_ns;	/* how long the last detach took, likewise */
};

enum cw_governor_decision {
	CW_GOVERNOR_KEEP = 0,	/* leave lock tracing as it is */
	CW_GOVERNOR_DETACH,	/* detach the lock uprobes now */
	CW_GOVERNOR_ATTACH,	/* attach them now */
};

struct cw_governor_stats {
	__u64 elapsed_ns;	/* from the first tick to the last */
	__u64 covered_ns;	/* of it with lock tracing on, attaches' own time left out */
	__u32 coverage_permille;	/* covered_ns of elapsed_ns, rounded down; 1000 before
					 * any time passed */
	__u32 attaches;		/* seen: on after off */
	__u32 detaches;		/* seen: off after on */
	int on;			/* as the last tick said */
	double share_pct;	/* the last window judged: cost, % of the target's CPU time;
				 * -1: none yet */
	__u64 owed_cpu_ns;	/* off: CPU time the target has still to run before an attach */
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
