// SPDX-License-Identifier: GPL-2.0
/* What tracing costs the target, from its running totals (cost.h). */
#include <errno.h>
#include <string.h>

#include "engine/cost.h"

static __u64 grew(__u64 from, __u64 to)
{
	return to >= from ? to - from : to;
}

int cw_cost__estimate(const struct cw_ev_cost *from, const struct cw_ev_cost *to,
		      struct cw_cost_estimate *out)
{
	static const struct cw_ev_cost zero;

	memset(out, 0, sizeof(*out));
	if (!to)
		return -EINVAL;
	if (!from || from->start_ns != to->start_ns)
		from = &zero;
	out->interval_ns = grew(from == &zero ? to->start_ns : from->hdr.ts_ns, to->hdr.ts_ns);
	out->calibrated = !!(to->flags & CW_COST_CALIBRATED);
	out->bpf_stats = !!(to->flags & CW_COST_BPF_STATS);
	for (int k = 0; k < CW_TRAP_MAX; k++) {
		out->hits[k] = grew(from->hits[k], to->hits[k]);
		if (out->calibrated)
			out->trap_ns += out->hits[k] * to->hit_ns[k];
	}
	if (out->bpf_stats) {
		out->bpf_ns = grew(from->bpf_run_ns, to->bpf_run_ns);
		out->tp_ns = grew(from->tp_run_ns, to->tp_run_ns);
	}
	out->probe_ns = out->trap_ns + out->bpf_ns;
	out->ns = out->probe_ns + out->tp_ns;
	if (out->interval_ns) {
		out->cpu_pct = 100.0 * out->ns / out->interval_ns;
		out->tp_cpu_pct = 100.0 * out->tp_ns / out->interval_ns;
	}
	return 0;
}

double cw_cost__part_of(__u64 ns, __u64 target_cpu_ns)
{
	if (!target_cpu_ns)
		return -1;
	/* the traps run on the target's threads: its CPU time includes them */
	return 100.0 * (ns < target_cpu_ns ? ns : target_cpu_ns) / target_cpu_ns;
}

double cw_cost__share_of(const struct cw_cost_estimate *e, __u64 target_cpu_ns)
{
	return e->calibrated ? cw_cost__part_of(e->ns, target_cpu_ns) : -1;
}
