// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON report (Documentation/usage.md). A number the run did not measure is null,
 * never 0: a script must be able to tell "none" from "not traced".
 */
#include <errno.h>
#include <stdlib.h>

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

/* The call path that waited longest on l: its stack, and how that stack ended. */
static void json_top_waiter(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			    const struct cw_lock *l)
{
	struct cw_lock_site *sites;
	const struct cw_stack *st = NULL;
	struct cw_ustack s = {};
	size_t n;

	sites = cw_report__sites_by_wait(l, &n);
	if (sites && n)
		st = cw_engine__find_stack(eng, l->pid, cw_report__lock_stack_space(l),
					   sites[0].stack_id);
	free(sites);
	if (!st || cw_symbols__resolve(sym, st, &s)) {
		fputs("\"top_waiter_stack\": [], \"top_waiter_stack_end\": null, "
		      "\"top_waiter_stack_why\": null, ", out);
		cw_ustack__fini(&s);
		return;
	}
	fputs("\"top_waiter_stack\": ", out);
	cw_report__json_frames(out, &s);
	fprintf(out, ", \"top_waiter_stack_end\": \"%s\", \"top_waiter_stack_why\": ",
		cw_report__stack_end(s.end));
	if (s.why[0])
		cw_report__json_string(out, s.why, sizeof(s.why));
	else
		fputs("null", out);
	fputs(", ", out);
	cw_ustack__fini(&s);
}

static void json_lock(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		      const struct cw_lock *l)
{
	char name[256];

	cw_symbols__lock_name(sym, l->pid, l->addr, 0, name, sizeof(name));
	fprintf(out, "{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ",
		(unsigned long long)l->addr, l->pid);
	cw_report__json_string(out, name, sizeof(name));
	fputs(", \"type\": ", out);
	cw_report__json_string(out, cw_lock_kind__name(l->kind), 16);
	fprintf(out, ", \"acquisitions\": %llu, ", (unsigned long long)l->acquisitions);
	json_known(out, "releases", l->known & CW_LOCK_KNOWN_OPS, l->releases);
	json_known(out, "failures", l->known & CW_LOCK_KNOWN_OPS, l->failures);
	json_known(out, "contentions", l->known & CW_LOCK_KNOWN_CONTENTIONS, l->contentions);
	fprintf(out, "\"wait_ns_total\": %llu, \"wait_ns_max\": %llu, ",
		(unsigned long long)l->wait_ns_total, (unsigned long long)l->wait_ns_max);
	json_known(out, "hold_ns_total", l->known & CW_LOCK_KNOWN_HOLD, l->hold_ns_total);
	json_known(out, "hold_ns_max", l->known & CW_LOCK_KNOWN_HOLD, l->hold_ns_max);
	json_top_waiter(out, eng, sym, l);
	fprintf(out, "\"top_holder_stack\": [], \"users\": [");
	for (size_t i = 0; i < l->nr_users; i++) {
		const struct cw_lock_user *u = &l->users[i];

		fprintf(out, "%s{\"tid\": %u, \"begins\": %llu, \"acquisitions\": %llu, "
			     "\"failures\": %llu, \"releases\": %llu}",
			i ? ", " : "", u->tid, (unsigned long long)u->begins,
			(unsigned long long)u->acquisitions, (unsigned long long)u->failures,
			(unsigned long long)u->releases);
	}
	fprintf(out, "]}");
}

static void json_thread(FILE *out, const struct cw_thread *t, int locks_known)
{
	fprintf(out, "{\"tid\": %u, \"pid\": %u, \"comm\": ", t->tid, t->pid);
	cw_report__json_string(out, t->comm, sizeof(t->comm));
	fprintf(out, ", \"policy\": null, \"prio\": null, \"oncpu_ns\": null, \"offcpu_ns\": null, ");
	json_known(out, "lock_acquisitions", locks_known, t->lock_acquisitions);
	json_known(out, "lock_wait_ns", locks_known, t->lock_wait_ns);
	fprintf(out, "\"futex_waits\": %llu, \"futex_wait_ns\": %llu}",
		(unsigned long long)t->futex_waits, (unsigned long long)t->futex_wait_ns);
}

int cw_report__json(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		    const struct cw_report_target *t)
{
	const struct cw_engine_counts *c = cw_engine__counts(eng);
	struct cw_lock_cycles lc;

	/* without names the stacks would come out empty, silently */
	if (!sym)
		return -EINVAL;
	/* before any output: a failure leaves no half-written JSON */
	if (cw_report__lock_cycles(eng, &lc))
		return -ENOMEM;

	fprintf(out, "{\n  \"concwatch_version\": \"%s\",\n  \"target\": {\"pid\": %d, \"comm\": ",
		CW_VERSION, t->pid);
	cw_report__json_string(out, t->comm, sizeof(t->comm));
	fprintf(out, ", \"cmdline\": ");
	cw_report__json_string(out, t->cmdline, sizeof(t->cmdline));
	fprintf(out, "},\n  \"duration_ns\": %llu,\n  \"lost_events\": %llu,\n  \"lost\": {",
		(unsigned long long)(cw_engine__now(eng) - cw_engine__first_ts(eng)),
		(unsigned long long)c->lost_total);
	for (unsigned int w = 1, n = 0; w <= CW_LOST_MAX; w++) {
		__u64 v = w < CW_LOST_MAX ? c->lost[w] : c->lost_unknown_kind;

		if (!v)
			continue;
		fprintf(out, "%s", n++ ? ", " : "");
		cw_report__json_string(out, w < CW_LOST_MAX ? cw_lost__name(w) : "unknown kinds", 64);
		fprintf(out, ": %llu", (unsigned long long)v);
	}
	lc.track_free = t->track_free;
	fprintf(out, "},\n  \"findings\": [");
	cw_report__lock_order_json(out, eng, sym, &lc, 0);
	fprintf(out, "],\n  \"suppressed\": [");
	cw_report__lock_order_json(out, eng, sym, &lc, 1);
	fprintf(out, "],\n  \"cycle_search_truncated\": %s,\n  \"locks\": [",
		lc.truncated ? "true" : "false");
	cw_report__lock_cycles_fini(&lc);
	for (size_t i = 0; i < cw_engine__nr_locks(eng); i++) {
		fprintf(out, "%s\n    ", i ? "," : "");
		json_lock(out, eng, sym, cw_engine__lock(eng, i));
	}
	fprintf(out, "%s],\n  \"threads\": [", cw_engine__nr_locks(eng) ? "\n  " : "");
	for (size_t i = 0; i < cw_engine__nr_threads(eng); i++) {
		fprintf(out, "%s\n    ", i ? "," : "");
		json_thread(out, cw_engine__thread(eng, i), cw_report__thread_locks_known(eng));
	}
	fprintf(out, "%s]", cw_engine__nr_threads(eng) ? "\n  " : "");
	if (t->lock_graph) {
		fputs(",\n  \"lock_graph\": ", out);
		cw_export__json_graph(out, eng, sym);
	}
	fputs("\n}\n", out);
	return ferror(out) ? -EIO : 0;
}
