/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What tracing costs the target, from two CW_EV_COST records (include/concwatch/events.h):
 * the probe hits between them, each kind at its calibrated per-hit cost, plus the probe
 * programs' run time, plus the tracepoint programs' run time, over the time between them.
 * Pure arithmetic: the dashboard's header, the batch snapshots, the JSON report and the
 * cost governor all take their figures from here.
 *
 * The tracepoint programs (futex, scheduler, kernel locks) run for every task of the
 * machine, not only in the target; most of their time is the target's when it is the
 * busy one, and the rest is still what concwatch costs: the estimate counts all of it, an
 * upper bound for the target's share, so that the estimate and a budget on it cover the
 * trap-free tracing that stays on without the lock probes.
 */
#ifndef __CW_ENGINE_COST_H
#define __CW_ENGINE_COST_H

#include <linux/types.h>
#include <concwatch/events.h>

struct cw_cost_estimate {
	__u64 interval_ns;		/* between the two records */
	__u64 hits[CW_TRAP_MAX];	/* probe hits in it, by CW_TRAP_* */
	__u64 trap_ns;			/* hits times their calibrated cost */
	__u64 bpf_ns;			/* the probe programs' run time in it */
	__u64 tp_ns;			/* the tracepoint programs' run time in it, for every
					 * task of the machine */
	__u64 probe_ns;			/* what the lock probes cost: trap_ns + bpf_ns */
	__u64 ns;			/* the cost: probe_ns + tp_ns */
	double cpu_pct;			/* ns of interval_ns: % of one CPU, as top's */
	double tp_cpu_pct;		/* tp_ns of interval_ns */
	int calibrated;			/* trap_ns is known (CW_COST_CALIBRATED) */
	int bpf_stats;			/* bpf_ns is measured (CW_COST_BPF_STATS) */
};

/*
 * The cost between from and to (from NULL: since to's start_ns). Totals that went back
 * (another source's record, a restart) count from zero. -EINVAL when to is NULL.
 */
int cw_cost__estimate(const struct cw_ev_cost *from, const struct cw_ev_cost *to,
		      struct cw_cost_estimate *out);

/* ns of the target's CPU time target_cpu_ns, in %, at most 100; -1: no CPU time. */
double cw_cost__part_of(__u64 ns, __u64 target_cpu_ns);

/* Its cost as a share of the target's CPU time in the same interval, in %; -1: unknown. */
double cw_cost__share_of(const struct cw_cost_estimate *e, __u64 target_cpu_ns);

#endif /* __CW_ENGINE_COST_H */
