// SPDX-License-Identifier: GPL-2.0
/*
 * The renderers of contention_hotspot findings (render.c's table): a lock whose waits
 * took more of the traced threads' time than --hotspot-threshold allows, with the call
 * paths that waited and those that made them wait. The engine decided what is a hotspot
 * (never a condition variable, a semaphore, a barrier or a join: waiting for work).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/findings.h"
#include "report/report.h"
#include "report/symbols.h"

#define NAME_LEN 256

/* The object a finding is about, named as the tables name it. */
static int finding_name(const struct cw_render *r, const struct cw_finding *f, char *buf,
			size_t len)
{
	const struct cw_finding_lock *fl = &f->locks[0];
	const struct cw_hot_object *o =
		r->contention ? cw_contention__find(r->contention, fl->pid, fl->addr) : NULL;

	if (o)
		return cw_report__object_name(r->sym, o, buf, len);
	if (fl->type == CW_LOCK_KERNEL)
		return cw_symbols__klock_name(r->sym, fl->addr,
					      !!(f->hotspot.flags & CW_SITE_F_MMAP_LOCK), buf, len);
	return cw_symbols__object_name(r->sym, fl->pid, fl->addr, fl->type, fl->ip, buf, len);
}

static const struct cw_stack *find_stack(const struct cw_render *r, const struct cw_stack_ref *ref)
{
	return ref->id ? cw_engine__find_stack(r->eng, ref->pid, ref->space, ref->id) : NULL;
}

/*
 * Whether stack i shows the same frames as an earlier one of its group (waiters, or
 * holders): one call path may come under several stack ids, and is shown once.
 */
static int repeated(const struct cw_render *r, const struct cw_finding *f, size_t i, size_t from)
{
	const struct cw_stack *a = find_stack(r, &f->stacks[i]), *b;
	struct cw_ustack sa, sb;
	int same = 0;

	if (!a || cw_symbols__resolve(r->sym, a, &sa)) {
		if (a)
			cw_ustack__fini(&sa);
		return 0;
	}
	for (size_t k = from; k < i && !same; k++) {
		b = find_stack(r, &f->stacks[k]);
		if (!b || cw_symbols__resolve(r->sym, b, &sb)) {
			if (b)
				cw_ustack__fini(&sb);
			continue;
		}
		same = sa.nr == sb.nr;
		for (size_t j = 0; same && j < sa.nr; j++)
			same = sa.frames[j].addr == sb.frames[j].addr;
		cw_ustack__fini(&sb);
	}
	cw_ustack__fini(&sa);
	return same;
}

static void summary(const struct cw_render *r, const struct cw_finding *f, const char *name,
		    char *buf, size_t len)
{
	const struct cw_hotspot *h = &f->hotspot;
	char w[32], t[32];

	snprintf(buf, len,
		 "%s %s waited on for %s, %.1f%% of the traced threads' %s (threshold %u%%)",
		 cw_lock_kind__name(f->locks[0].type), name,
		 cw_report__fmt_ns(w, sizeof(w), h->wait_ns_total), h->share * 100,
		 cw_report__fmt_ns(t, sizeof(t), h->traced_ns), h->threshold_pct);
}

static void text_stack(const struct cw_render *r, const struct cw_stack_ref *ref)
{
	cw_report__text_stack_of(r->out, r->sym, find_stack(r, ref), "    ");
}

static void hotspot_text(const struct cw_render *r, const struct cw_finding *f, size_t number)
{
	const struct cw_hotspot *h = &f->hotspot;
	char raw[NAME_LEN], name[NAME_LEN * 4], line[NAME_LEN * 4 + 256], w[32], p50[32],
	     p99[32], m[32];
	FILE *out = r->out;

	finding_name(r, f, raw, sizeof(raw));
	cw_report__text_safe(raw, sizeof(raw), name, sizeof(name));
	summary(r, f, name, line, sizeof(line));
	fprintf(out, "\nfinding %zu: contention_hotspot\n", number);
	fprintf(out, "WARNING: contention hotspot: %s\n", line);
	fprintf(out, "  lock 0x%llx, %llu contended wait%s: p50 %s, p99 %s, at most %s\n",
		(unsigned long long)f->locks[0].addr, (unsigned long long)h->contentions,
		h->contentions == 1 ? "" : "s", cw_report__fmt_ns(p50, sizeof(p50), h->wait_p50_ns),
		cw_report__fmt_ns(p99, sizeof(p99), h->wait_p99_ns),
		cw_report__fmt_ns(m, sizeof(m), h->wait_ns_max));
	if (h->owner_tid) {
		char comm[CW_SAFE_COMM_LEN];

		fprintf(out, "  held by thread %u (%s) at a wait, as its word said\n", h->owner_tid,
			cw_report__text_safe(cw_report__comm(r->eng, f->locks[0].pid, h->owner_tid),
					     CW_COMM_LEN, comm, sizeof(comm)));
	}
	if (f->nr_threads) {
		fprintf(out, "  waiting threads:");
		for (size_t i = 0; i < f->nr_threads; i++) {
			char comm[CW_SAFE_COMM_LEN];

			fprintf(out, "%s %s/%u", i ? "," : "",
				cw_report__text_safe(cw_report__comm(r->eng, f->threads[i].pid,
								     f->threads[i].tid),
						     CW_COMM_LEN, comm, sizeof(comm)),
				f->threads[i].tid);
			if (h->thread_wait_ns)
				fprintf(out, " %s", cw_report__fmt_ns(w, sizeof(w),
								      h->thread_wait_ns[i]));
		}
		fputc('\n', out);
	}
	for (size_t i = 0; i < f->nr_stacks; i++) {
		size_t from = i < h->nr_waiter_stacks ? 0 : h->nr_waiter_stacks;

		if (i == 0 && h->nr_waiter_stacks)
			fprintf(out, "  waited most from:\n");
		else if (i == h->nr_waiter_stacks)
			fprintf(out, "  made to wait most by (the waking thread's stack):\n");
		if (!repeated(r, f, i, from))
			text_stack(r, &f->stacks[i]);
	}
}

static void json_stacks(const struct cw_render *r, const struct cw_finding *f, size_t from,
			size_t to)
{
	int n = 0;

	fputc('[', r->out);
	for (size_t i = from; i < to; i++) {
		const struct cw_stack *st = find_stack(r, &f->stacks[i]);
		struct cw_ustack s = {};

		if (repeated(r, f, i, from))
			continue;
		fputs(n++ ? ", " : "", r->out);
		if (st && !cw_symbols__resolve(r->sym, st, &s))
			cw_report__json_frames(r->out, &s);
		else
			fputs("[]", r->out);
		cw_ustack__fini(&s);
	}
	fputc(']', r->out);
}

static void hotspot_json(const struct cw_render *r, const struct cw_finding *f)
{
	const struct cw_hotspot *h = &f->hotspot;
	size_t nw = h->nr_waiter_stacks < f->nr_stacks ? h->nr_waiter_stacks : f->nr_stacks;
	char name[NAME_LEN], line[NAME_LEN + 256];
	FILE *out = r->out;

	finding_name(r, f, name, sizeof(name));
	fprintf(out, "{\"kind\": \"contention_hotspot\", \"severity\": \"%s\", \"locks\": "
		     "[{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ",
		f->severity >= CW_SEVERITY_ERROR ? "error" : "warning",
		(unsigned long long)f->locks[0].addr, f->locks[0].pid);
	cw_report__json_string(out, name, sizeof(name));
	fprintf(out, ", \"type\": \"%s\"}], \"threads\": [", cw_lock_kind__name(f->locks[0].type));
	for (size_t i = 0; i < f->nr_threads; i++) {
		fprintf(out, "%s{\"tid\": %u, \"comm\": ", i ? ", " : "", f->threads[i].tid);
		cw_report__json_string(out, cw_report__comm(r->eng, f->threads[i].pid,
							    f->threads[i].tid), CW_COMM_LEN);
		if (h->thread_wait_ns)
			fprintf(out, ", \"wait_ns_total\": %llu",
				(unsigned long long)h->thread_wait_ns[i]);
		fputc('}', out);
	}
	fprintf(out, "], \"wait_ns_total\": %llu, \"wait_ns_max\": %llu, \"wait_p50_ns\": %llu, "
		     "\"wait_p99_ns\": %llu, \"contentions\": %llu, \"traced_ns\": %llu, "
		     "\"share\": %.6f, \"threshold_pct\": %u, \"owner_tid\": ",
		(unsigned long long)h->wait_ns_total, (unsigned long long)h->wait_ns_max,
		(unsigned long long)h->wait_p50_ns, (unsigned long long)h->wait_p99_ns,
		(unsigned long long)h->contentions, (unsigned long long)h->traced_ns, h->share,
		h->threshold_pct);
	if (h->owner_tid)
		fprintf(out, "%u", h->owner_tid);
	else
		fputs("null", out);
	fputs(", \"waiter_stacks\": ", out);
	json_stacks(r, f, 0, nw);
	fputs(", \"holder_stacks\": ", out);
	json_stacks(r, f, nw, f->nr_stacks);
	fputs(", \"summary\": ", out);
	summary(r, f, name, line, sizeof(line));
	cw_report__json_string(out, line, sizeof(line));
	fputc('}', out);
}

/* A hotspot is one lock, not an order between two: it marks no lock graph edge. */
static void hotspot_dot(const struct cw_finding *f, unsigned char *edge_mark)
{
}

const struct cw_finding_renderer cw_hotspot_renderer = {
	.text = hotspot_text,
	.json = hotspot_json,
	.dot = hotspot_dot,
};
