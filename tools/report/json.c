// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON report (Documentation/usage.md). A number the run did not measure is null,
 * never 0: a script must be able to tell "none" from "not traced".
 */
#include <errno.h>
#include <stdlib.h>

#include "engine/findings.h"
#include "report/report.h"
#include "report/symbols.h"

/* A figure the stream may not carry: its value, or null. */
static void json_known(FILE *out, const char *name, int known, __u64 v)
{
	if (known)
		fprintf(out, "\"%s\": %llu, ", name, (unsigned long long)v);
	else
		fprintf(out, "\"%s\": null, ", name);
}

#define JSON_PATHS 5	/* waiters and holders listed per lock */

/* A call path's stack as FRAMEs; [] when it was not received or not resolved. */
static void json_path_stack(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			    __u32 pid, const struct cw_hot_path *p, struct cw_ustack *keep)
{
	const struct cw_stack *st;
	struct cw_ustack s = {};

	st = p->stack_id ? cw_engine__find_stack(eng, pid, p->space, p->stack_id) : NULL;
	if (st && !cw_symbols__resolve(sym, st, &s)) {
		cw_report__json_frames(out, &s);
		if (keep) {
			*keep = s;
			return;
		}
	} else {
		fputs("[]", out);
	}
	cw_ustack__fini(&s);
}

/* How the top waiter's stack ended, and why, after its frames. */
static void json_stack_end(FILE *out, const char *name, const struct cw_ustack *s, int have)
{
	if (!have) {
		fprintf(out, ", \"%s_end\": null, \"%s_why\": null", name, name);
		return;
	}
	fprintf(out, ", \"%s_end\": \"%s\", \"%s_why\": ", name, cw_report__stack_end(s->end),
		name);
	if (s->why[0])
		cw_report__json_string(out, s->why, sizeof(s->why));
	else
		fputs("null", out);
}

static void json_views(FILE *out, __u8 views)
{
	int n = 0;

	fputs("\"views\": [", out);
	for (unsigned int b = 0; b < 3; b++)
		if (views & (1U << b))
			fprintf(out, "%s\"%s\"", n++ ? ", " : "", cw_report__view_names[b]);
	fputs("], ", out);
}

/* A share of the traced threads' time: null when no thread's time was measured. */
static void json_share(FILE *out, __u64 traced_ns, double share)
{
	if (traced_ns)
		fprintf(out, "\"share\": %.6f, ", share);
	else
		fputs("\"share\": null, ", out);
}

static void json_object(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			const struct cw_hot_object *o, __u64 traced_ns)
{
	const struct cw_lock *l = o->views & CW_VIEW_ACQUIRE ?
					  cw_engine__find_lock(eng, o->pid, o->addr) : NULL;
	int ops = l && (l->known & CW_LOCK_KNOWN_OPS), hold = l && (l->known & CW_LOCK_KNOWN_HOLD);
	const struct cw_hot_path *waiters, *holders;
	struct cw_hot_path *wp = NULL, *hp = NULL;
	struct cw_ustack top = {};
	size_t nw = 0, nh = 0;
	char name[256];

	cw_report__object_name(sym, o, name, sizeof(name));
	fprintf(out, "{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ", (unsigned long long)o->addr,
		o->pid);
	cw_report__json_string(out, name, sizeof(name));
	fputs(", \"type\": ", out);
	cw_report__json_string(out, cw_lock_kind__name(o->kind), 16);
	fputs(", ", out);
	json_views(out, o->views);
	/* the futex view counts calls that waited, not acquisitions: as the text's `-` */
	json_known(out, "acquisitions", o->views & CW_VIEW_ACQUIRE, o->acquisitions);
	json_known(out, "releases", ops, l ? l->releases : 0);
	fprintf(out, "\"failures\": %llu, ", (unsigned long long)o->failures);
	json_known(out, "contentions",
		   !l || (l->known & CW_LOCK_KNOWN_CONTENTIONS) || (o->views & CW_VIEW_FUTEX),
		   o->contentions);
	fprintf(out, "\"wait_ns_total\": %llu, \"wait_ns_max\": %llu, ",
		(unsigned long long)o->wait_ns_total, (unsigned long long)o->wait_ns_max);
	/* percentiles of no wait measured are no figure */
	json_known(out, "wait_p50_ns", o->wait_p50_ns, o->wait_p50_ns);
	json_known(out, "wait_p99_ns", o->wait_p99_ns, o->wait_p99_ns);
	json_known(out, "hold_ns_total", hold, o->hold_ns_total);
	json_known(out, "hold_ns_max", hold, o->hold_ns_max);
	json_share(out, traced_ns, o->share);
	fprintf(out, "\"hotspot\": %s, ", o->hotspot ? "true" : "false");
	json_known(out, "owner_tid", o->owner_tid, o->owner_tid);
	/* merged by frames; without memory for that, as the model has them */
	if (cw_report__merge_paths(sym, o->pid, o->waiters, o->nr_waiters, 0, &wp, &nw) ||
	    cw_report__merge_paths(sym, o->pid, o->holders, o->nr_holders, 1, &hp, &nh)) {
		free(wp);
		wp = hp = NULL;
	}
	if (!wp || !hp) {
		waiters = o->waiters;
		nw = o->nr_waiters;
		holders = o->holders;
		nh = o->nr_holders;
	} else {
		waiters = wp;
		holders = hp;
	}
	fputs("\"top_waiter_stack\": ", out);
	if (nw)
		json_path_stack(out, eng, sym, o->pid, &waiters[0], &top);
	else
		fputs("[]", out);
	json_stack_end(out, "top_waiter_stack", &top, top.frames != NULL);
	cw_ustack__fini(&top);
	fputs(", \"top_holder_stack\": ", out);
	if (nh)
		json_path_stack(out, eng, sym, o->pid, &holders[0], NULL);
	else
		fputs("[]", out);
	fputs(", \"waiters\": [", out);
	for (size_t i = 0; i < nw && i < JSON_PATHS; i++) {
		const struct cw_hot_path *p = &waiters[i];

		fputs(i ? ", {\"stack\": " : "{\"stack\": ", out);
		json_path_stack(out, eng, sym, o->pid, p, NULL);
		fprintf(out, ", \"count\": %llu, \"wait_ns_total\": %llu, \"wait_ns_max\": %llu}",
			(unsigned long long)p->count, (unsigned long long)p->wait_ns_total,
			(unsigned long long)p->wait_ns_max);
	}
	fputs("], \"holders\": [", out);
	for (size_t i = 0; i < nh && i < JSON_PATHS; i++) {
		const struct cw_hot_path *p = &holders[i];

		fprintf(out, "%s{\"tid\": %u, \"comm\": ", i ? ", " : "", p->tid);
		cw_report__json_string(out, cw_report__comm(eng, o->pid, p->tid), CW_COMM_LEN);
		fputs(", \"stack\": ", out);
		json_path_stack(out, eng, sym, o->pid, p, NULL);
		fprintf(out, ", \"count\": %llu, \"wait_ns_total\": %llu}",
			(unsigned long long)p->count, (unsigned long long)p->wait_ns_total);
	}
	fputs("], \"users\": [", out);
	for (size_t i = 0; l && i < l->nr_users; i++) {
		const struct cw_lock_user *u = &l->users[i];

		fprintf(out, "%s{\"tid\": %u, \"begins\": %llu, \"acquisitions\": %llu, "
			     "\"failures\": %llu, \"releases\": %llu}",
			i ? ", " : "", u->tid, (unsigned long long)u->begins,
			(unsigned long long)u->acquisitions, (unsigned long long)u->failures,
			(unsigned long long)u->releases);
	}
	fputs("]}", out);
	free(wp);
	free(hp);
}

static void json_klock(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		       const struct cw_hot_object *o, __u64 traced_ns)
{
	char name[256];
	int how = cw_report__object_name(sym, o, name, sizeof(name));

	fprintf(out, "{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ", (unsigned long long)o->addr,
		o->pid);
	if (how == CW_LOCK_NAMED_SYMBOL)
		cw_report__json_string(out, name, sizeof(name));
	else
		fputs("null", out);
	fprintf(out, ", \"type\": \"kernel\", \"lock_type\": \"%s\", \"flags\": %u, "
		     "\"contentions\": %llu, \"wait_ns_total\": %llu, \"wait_ns_max\": %llu, ",
		cw_report__klock_type(o->klock_flags), o->klock_flags,
		(unsigned long long)o->contentions, (unsigned long long)o->wait_ns_total,
		(unsigned long long)o->wait_ns_max);
	json_known(out, "wait_p50_ns", o->wait_p50_ns, o->wait_p50_ns);
	json_known(out, "wait_p99_ns", o->wait_p99_ns, o->wait_p99_ns);
	json_share(out, traced_ns, o->share);
	fprintf(out, "\"hotspot\": %s, \"top_waiter_stack\": ", o->hotspot ? "true" : "false");
	if (o->nr_waiters)
		json_path_stack(out, eng, sym, o->pid, &o->waiters[0], NULL);
	else
		fputs("[]", out);
	fputc('}', out);
}

static void json_thread(FILE *out, const struct cw_engine *eng, const struct cw_thread_time *tt,
			int locks_known)
{
	const struct cw_thread *t = cw_engine__find_thread(eng, tt->pid, tt->tid);
	const char *policy = tt->measured ? cw_report__policy_name(tt->policy) : NULL;
	int m = tt->measured, w = m || tt->waits_known;

	fprintf(out, "{\"tid\": %u, \"pid\": %u, \"comm\": ", tt->tid, tt->pid);
	cw_report__json_string(out, t ? t->comm : "", CW_COMM_LEN);
	fputs(", \"policy\": ", out);
	if (policy)
		fprintf(out, "\"%s\"", policy);
	else if (m)
		fprintf(out, "\"%u\"", tt->policy);
	else
		fputs("null", out);
	fputs(", ", out);
	if (m)
		fprintf(out, "\"prio\": %d, ", tt->prio);
	else
		fputs("\"prio\": null, ", out);
	json_known(out, "traced_ns", m, tt->total_ns);
	json_known(out, "oncpu_ns", m, tt->oncpu_ns);
	json_known(out, "offcpu_ns", m, tt->total_ns - tt->oncpu_ns);
	json_known(out, "runnable_ns", m, tt->runnable_ns);
	json_known(out, "lock_wait_ns", w, tt->lock_wait_ns);
	json_known(out, "futex_wait_ns", w, tt->futex_wait_ns);
	json_known(out, "klock_wait_ns", m, tt->klock_wait_ns);
	json_known(out, "io_ns", m, tt->io_ns);
	json_known(out, "sleep_ns", m, tt->sleep_ns);
	json_known(out, "runq_ns_max", m, tt->runq_ns_max);
	json_known(out, "lock_acquisitions", t && locks_known, t ? t->lock_acquisitions : 0);
	fprintf(out, "\"futex_waits\": %llu, \"exited\": %s}",
		(unsigned long long)(t ? t->futex_waits : 0), t && t->exited ? "true" : "false");
}

/* A share given in %, as a fraction; negative: null (not known). */
static void json_pct(FILE *out, const char *key, double pct)
{
	if (pct >= 0)
		fprintf(out, "\"%s\": %.6f", key, pct / 100);
	else
		fprintf(out, "\"%s\": null", key);
}

/*
 * What tracing cost the target over the whole trace, when the source measured it (as
 * --max-overhead makes it, or a recording of such a session): the probe hits at their
 * calibrated cost plus the probe and tracepoint programs' run time (engine/cost.h, the
 * dashboard's and the governor's estimate), and that as a share of the CPU time the trace
 * measured for the target's threads. The estimate to hold against a benchmark's measured
 * loss.
 */
static void json_cost(FILE *out, const struct cw_engine *eng, const struct cw_contention *c)
{
	const struct cw_cost_estimate *e;
	struct cw_report_cost rc;

	if (cw_report__cost(eng, c, &rc))
		return;
	e = &rc.e;
	fprintf(out, ",\n  \"cost\": {\"interval_ns\": %llu, \"probe_hits\": {\"emulated\": %llu, "
		     "\"single_stepped\": %llu, \"returns\": %llu}, ",
		(unsigned long long)e->interval_ns, (unsigned long long)e->hits[CW_TRAP_EMULATED],
		(unsigned long long)e->hits[CW_TRAP_STEPPED],
		(unsigned long long)e->hits[CW_TRAP_RETURN]);
	json_known(out, "trap_ns", e->calibrated, e->trap_ns);
	json_known(out, "bpf_ns", e->bpf_stats, e->bpf_ns);
	json_known(out, "ns", e->calibrated, e->ns);
	json_known(out, "target_oncpu_ns", rc.oncpu_ns, rc.oncpu_ns);
	json_known(out, "tracepoint_ns", e->bpf_stats, e->tp_ns);
	json_pct(out, "share", rc.share_pct);
	fputs(", ", out);
	/* what the trap-free tracing alone cost, which no sampling of the probes saves */
	json_pct(out, "tracepoint_share", rc.tp_share_pct);
	fputs(", ", out);
	/* the budget it was governed by: null when none was */
	json_pct(out, "budget", rc.budget_pct > 0 ? rc.budget_pct : -1);
	fputc('}', out);
}

int cw_report__json(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		    const struct cw_report_target *t)
{
	const struct cw_engine_counts *c = cw_engine__counts(eng);
	struct cw_render r = { .out = out, .eng = eng, .sym = sym, .verbose = t->verbose,
			       .track_free = t->track_free };
	struct cw_report_model m;
	size_t n;

	/* without names the stacks would come out empty, silently */
	if (!sym)
		return -EINVAL;
	/* before any output: a failure leaves no half-written JSON */
	if (cw_report__model_new(eng, sym, t, &m))
		return -ENOMEM;
	r.fs = m.fs;
	r.contention = m.c;

	fprintf(out, "{\n  \"concwatch_version\": \"%s\",\n  \"target\": {\"pid\": %d, \"comm\": ",
		CW_VERSION, t->pid);
	cw_report__json_string(out, t->comm, sizeof(t->comm));
	fprintf(out, ", \"cmdline\": ");
	cw_report__json_string(out, t->cmdline, sizeof(t->cmdline));
	fprintf(out, "},\n  \"mode\": {\"uprobes\": %s, \"not_available\": [%s]",
		t->no_uprobes ? "false" : "true", t->no_uprobes ? "\"lock_order_inversion\", \"livelock\"" : "");
	/* a governed trace: the share of time the lock probes were attached */
	if (t->governed)
		fprintf(out, ", \"coverage\": %.3f, \"sched_coverage\": %.3f",
			t->coverage_permille / 1000.0, t->sched_coverage_permille / 1000.0);
	fprintf(out, "}");
	fprintf(out, ",\n  \"duration_ns\": %llu,\n  \"traced_ns\": %llu,"
		     "\n  \"hotspot_threshold_pct\": %u,\n  \"lost_events\": %llu,\n  \"lost\": {",
		(unsigned long long)(cw_engine__now(eng) - cw_engine__first_ts(eng)),
		(unsigned long long)cw_contention__traced_ns(m.c), m.opts.hotspot_pct,
		(unsigned long long)c->lost_total);
	for (unsigned int w = 1, k = 0; w <= CW_LOST_MAX; w++) {
		__u64 v = w < CW_LOST_MAX ? c->lost[w] : c->lost_unknown_kind;

		if (!v)
			continue;
		fprintf(out, "%s", k++ ? ", " : "");
		cw_report__json_string(out, w < CW_LOST_MAX ? cw_lost__name(w) : "unknown kinds", 64);
		fprintf(out, ": %llu", (unsigned long long)v);
	}
	fputc('}', out);
	json_cost(out, eng, m.c);
	fprintf(out, ",\n  \"findings\": [");
	cw_report__findings_json(&r, 0);
	fprintf(out, "],\n  \"suppressed\": [");
	cw_report__findings_json(&r, 1);
	fputc(']', out);
	cw_report__findings_json_fields(&r);
	fprintf(out, ",\n  \"locks\": [");
	n = cw_contention__nr_objects(m.c);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s\n    ", i ? "," : "");
		json_object(out, eng, sym, cw_contention__object(m.c, i),
			    cw_contention__traced_ns(m.c));
	}
	fprintf(out, "%s],\n  \"kernel_locks\": [", n ? "\n  " : "");
	n = cw_contention__nr_klocks(m.c);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s\n    ", i ? "," : "");
		json_klock(out, eng, sym, cw_contention__klock(m.c, i),
			   cw_contention__traced_ns(m.c));
	}
	fprintf(out, "%s],\n  \"threads\": [", n ? "\n  " : "");
	n = cw_contention__nr_threads(m.c);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s\n    ", i ? "," : "");
		json_thread(out, eng, cw_contention__thread(m.c, i),
			    cw_report__thread_locks_known(eng));
	}
	fprintf(out, "%s]", n ? "\n  " : "");
	cw_report__model_fini(&m);
	if (t->lock_graph) {
		fputs(",\n  \"lock_graph\": ", out);
		cw_export__json_graph(out, eng, sym);
	}
	fputs("\n}\n", out);
	return ferror(out) ? -EIO : 0;
}
