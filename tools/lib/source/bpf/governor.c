// SPDX-License-Identifier: GPL-2.0
/*
 * The cost governor of live attach (cw_source_opts.max_overhead_pct, --max-overhead): each
 * tick, what tracing costs the targets (the cost records of cost.c, through engine/cost.h:
 * the lock uprobes when attached, and the tracepoint programs always) against the targets'
 * own CPU time (/proc/PID/stat), to engine/governor.h, whose decision is carried out here:
 * the lock uprobes of every traced process detached, or attached again, and, where the
 * trap-free tracing alone is over budget, the scheduler tracepoints shed until the next
 * attach (threads.c: the per-thread states they kept are forgotten, a priority inversion
 * going on ends there). The futex and kernel-lock tracepoints stay on throughout. While
 * shed the ticks say CW_F_NO_SCHED: the share of ticks without it is the scheduler
 * coverage.
 *
 * Tracing starts with the lock uprobes off (gov_off from the start: the processes are
 * added without them), so that the governor pays for its first window before it is
 * traced at full cost: a short load under a tight budget is never traced at the default
 * mode's cost. Starting off also saves an attach and a detach at each start. Not under a
 * budget of 100%, which is always met (the dashboard's --max-overhead 100: no budget).
 *
 * At a detach the held sets and the acquires in progress are forgotten (held_sets,
 * pending_locks emptied), so that a lock taken while nothing watched is never the held
 * side of a dependency, and a lock released then is no release the rules know: sampling
 * misses dependencies, it does not make them up. An acquire that had blocked ends its
 * wait in the stream there (a CW_EV_BLOCKED with reason none, CW_F_SYNTHETIC): its return
 * will not be seen, and the wait-for graph must not keep it waiting. While detached the
 * ticks say CW_F_NO_UPROBES: the share of ticks without it is the coverage the report
 * gives, from a live session or from a recording alike.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "engine/cost.h"
#include "engine/governor.h"
#include "source/bpf/internal.h"
#include "source/links.h"
#include "source/target.h"

/* The acquires in progress: a blocked one's wait ends in the stream; all forgotten. */
static int forget_pending(struct bpf_source *s, __u64 now)
{
	int fd = bpf_map__fd(s->skel->maps.pending_locks);
	__u32 key, next, *prev = NULL;
	struct pending_lock p;
	int err = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		int tgid;

		if (bpf_map_lookup_elem(fd, &key, &p) || !p.blocked)
			continue;
		tgid = cw_target__tgid(key);
		struct cw_ev_blocked b = {
			.hdr = { .type = CW_EV_BLOCKED, .size = sizeof(b), .cpu = 0xffff,
				 .flags = CW_F_SYNTHETIC, .ts_ns = now, .pid = tgid > 0 ? tgid : 0,
				 .tid = key },
			.addr = p.a.addr, .since_ns = p.a.begin_ns, .stack_id = p.a.stack_id,
			.reason = CW_OFFCPU_NONE, .kind = p.a.kind, .op = p.a.op,
		};
		if (b.hdr.pid && !err)
			err = cw_emit__deliver(&s->emit, &b.hdr);
	}
	/* deleting while walking the keys restarts the walk: delete from the first each time */
	while (!bpf_map_get_next_key(fd, NULL, &next))
		if (bpf_map_delete_elem(fd, &next))
			break;
	fd = bpf_map__fd(s->skel->maps.held_sets);
	while (!bpf_map_get_next_key(fd, NULL, &next))
		if (bpf_map_delete_elem(fd, &next))
			break;
	return err;
}

static void detach_all(struct bpf_source *s)
{
	for (size_t i = 0; i < s->nr_procs; i++) {
		struct proc *p = s->procs[i];

		cw_links_destroy(p->links, 2 * CW_BPF_NR_PROBES, p->mlinks, 2 * CW_BPF_NR_PROBES);
		cw_links_destroy(p->sdt_links, CW_BPF_NR_SDT, NULL, 0);
		p->lock_calls = 0;
	}
}

static int attach_all(struct bpf_source *s)
{
	int err = 0;

	for (size_t i = 0; i < s->nr_procs && !err; i++)
		err = cw_bpf_source__trace_lock_calls(&s->base, s->procs[i]->pid);
	return err;
}

int cw_bpf__govern_start(struct bpf_source *s)
{
	struct cw_governor_opts o = { .max_overhead_pct = s->opts.max_overhead_pct };
	int err;

	if (s->opts.max_overhead_pct <= 0)
		return 0;
	err = cw_governor__new(&o, &s->gov);
	if (err) {
		cw_bpf__set_err(s, "--max-overhead %g: %s", s->opts.max_overhead_pct,
				err == -EINVAL ? "a share of the target's CPU time in (0, 100]" :
						 strerror(-err));
		return err;
	}
	/*
	 * Before any process is added: none gets its lock probes until the governor says.
	 * A budget of all of the target's CPU time is always met: nothing to pay for first.
	 */
	if (s->opts.max_overhead_pct < 100) {
		s->gov_off = 1;
		s->emit.tick_flags |= CW_F_NO_UPROBES;
	}
	return 0;
}

int cw_bpf__govern(struct bpf_source *s, __u64 now)
{
	struct cw_governor_tick t = { .now_ns = now, .on = !s->gov_off, .sched_off = s->gov_shed };
	struct cw_cost_estimate est;
	__u64 cpu, t0;
	int d, err = 0;

	/* each tick's cost record, the one cost.c just sent */
	if (!s->gov || s->stopped_ns || s->cost.hdr.ts_ns != now || s->gov_last_ns == now)
		return 0;
	cpu = s->cost.target_cpu_ns;
	if (s->gov_last_ns && !cw_cost__estimate(&s->gov_prev, &s->cost, &est) &&
	    est.interval_ns) {
		t.cost_ns_per_s = est.ns * 1000000000ULL / est.interval_ns;
		t.cpu_ns_per_s = (cpu > s->gov_cpu_ns ? cpu - s->gov_cpu_ns : 0) * 1000000000ULL /
				 (now - s->gov_last_ns);
	}
	t.attach_ns = s->gov_attach_ns;
	t.detach_ns = s->gov_detach_ns;
	s->gov_prev = s->cost;
	s->gov_cpu_ns = cpu;
	s->gov_last_ns = now;
	d = cw_governor__tick(s->gov, &t);
	if (d == CW_GOVERNOR_DETACH && !s->gov_off) {
		struct cw_governor_stats st;

		t0 = cw_now_ns();
		detach_all(s);
		err = forget_pending(s, cw_now_ns());
		s->gov_detach_ns = cw_now_ns() - t0;
		s->gov_off = 1;
		s->emit.tick_flags |= CW_F_NO_UPROBES;
		cw_governor__stats(s->gov, &st);
		if (s->opts.verbose)
			fprintf(stderr, "concwatch: lock probes detached: they cost %.1f%% of the "
				"target's CPU time (budget %g%%); detaching took %.1f ms\n",
				st.share_pct, s->opts.max_overhead_pct, s->gov_detach_ns / 1e6);
	} else if (d == CW_GOVERNOR_SHED && s->gov_off && !s->gov_shed) {
		struct cw_governor_stats st;

		err = cw_bpf__sched_shed(s, cw_now_ns());
		s->gov_shed = 1;
		s->emit.tick_flags |= CW_F_NO_SCHED;
		cw_governor__stats(s->gov, &st);
		if (s->opts.verbose)
			fprintf(stderr, "concwatch: scheduler tracing shed: the futex and "
				"scheduler tracing alone cost %.1f%% of the target's CPU time "
				"(budget %g%%)\n", st.rest_share_pct, s->opts.max_overhead_pct);
	} else if (d == CW_GOVERNOR_ATTACH && s->gov_off) {
		struct cw_governor_stats st;

		cw_governor__stats(s->gov, &st);
		t0 = cw_now_ns();
		if (s->gov_shed) {
			err = cw_bpf__sched_attach(s);
			if (err)
				return err;
			s->gov_shed = 0;
			s->emit.tick_flags &= ~CW_F_NO_SCHED;
		}
		err = attach_all(s);
		s->gov_attach_ns = cw_now_ns() - t0;
		s->gov_off = 0;
		s->emit.tick_flags &= ~CW_F_NO_UPROBES;
		if (s->opts.verbose)
			fprintf(stderr, "concwatch: lock probes attached%s (%.1f ms), lock "
				"calls traced %.1f%% of the time so far\n",
				st.detaches ? " again" : "", s->gov_attach_ns / 1e6,
				st.coverage_permille / 10.0);
	}
	return err;
}

void cw_bpf__govern_fini(struct bpf_source *s)
{
	cw_governor__free(s->gov);
	s->gov = NULL;
}
