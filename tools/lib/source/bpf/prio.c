// SPDX-License-Identifier: GPL-2.0
/*
 * Priority inversions still going on (bpf/cw_prio.bpf.h sends a stretch only when the
 * holder gets a CPU back): at each read of thread_stats, a holder noted with a real-time
 * waiter, runnable past the threshold while the waiter still sleeps in its acquire, is
 * sent as a CW_EV_PRIO_INVERSION with CW_PI_F_ONGOING and the duration so far. A holder
 * that never gets its CPU back (a preemptor that spins for good) is then reported too,
 * unbounded; the stretch's own record, when it ends, replaces these (same start). The
 * holder's stack at its preemption follows as a CW_EV_PRIO_STACKS. When the scheduler
 * tracepoints are shed (the cost governor), a stretch going on is sent as ended there
 * (final): what was seen of it, bounded by what was watched.
 */
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "source/bpf/internal.h"

#define DEFAULT_THRESHOLD_NS 1000000ULL

int cw_bpf__prio_ongoing(struct bpf_source *s, __u32 tid, const struct cw_thread_sched *v,
			 __u64 now, int final)
{
	__u64 threshold = s->opts.pi_threshold_ns ?: DEFAULT_THRESHOLD_NS, start;
	struct cw_ev_pi_stacks st;
	struct cw_thread_sched h;
	struct cw_ev_pi e;
	__u32 waiter = v->pi_waiter;
	int err;

	if (!waiter || v->state != CW_OFFCPU_PREEMPTED || !v->state_ts)
		return 0;
	start = v->state_ts > v->pi_since ? v->state_ts : v->pi_since;
	if (now <= start || now - start < threshold)
		return 0;
	/* the waiter still sleeps on that lock (a lookup: only while an inversion lasts) */
	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.thread_stats), &waiter, &h) ||
	    h.tgid != v->tgid || h.state != CW_OFFCPU_LOCK || h.wait_addr != v->pi_lock)
		return 0;
	memset(&e, 0, sizeof(e));
	e.hdr = (struct cw_hdr){ .type = CW_EV_PRIO_INVERSION, .size = sizeof(e), .cpu = 0xffff,
				 .flags = CW_F_AGGREGATED, .ts_ns = now, .pid = v->tgid,
				 .tid = tid };
	e.addr = v->pi_lock;
	e.wait_since_ns = v->pi_since;
	e.duration_ns = now - start;
	e.high_tid = waiter;
	e.high_prio = v->pi_waiter_prio;
	e.high_policy = v->pi_waiter_policy;
	e.low_prio = v->prio;
	e.low_policy = v->policy;
	e.flags = final ? 0 : CW_PI_F_ONGOING;
	if (v->pre_tid) {
		e.preemptor_pid = v->pre_tgid;
		e.preemptor_tid = v->pre_tid;
		e.preemptor_prio = v->pre_prio;
		e.preemptor_policy = v->pre_policy;
		memcpy(e.preemptor_comm, v->pre_comm, sizeof(e.preemptor_comm) - 1);
		e.flags |= CW_PI_F_PREEMPTED;
	}
	err = cw_emit__deliver(&s->emit, &e.hdr);
	if (err || !v->pi_stack)
		return err;
	/* the holder's stack at its preemption (the preemptor's is taken only at the end) */
	memset(&st, 0, sizeof(st));
	st.hdr = e.hdr;
	st.hdr.type = CW_EV_PRIO_STACKS;
	st.hdr.size = sizeof(st);
	st.addr = e.addr;
	st.wait_since_ns = e.wait_since_ns;
	st.low_stack_id = v->pi_stack;
	st.high_tid = waiter;
	return cw_emit__deliver(&s->emit, &st.hdr);
}
