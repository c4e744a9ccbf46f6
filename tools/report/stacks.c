// SPDX-License-Identifier: GPL-2.0
/* Stacks in reports: the call paths that used the busiest locks, as text and as JSON. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/findings.h"
#include "report/report.h"
#include "report/symbols.h"

static const char *const end_names[] = {
	[CW_STACK_END_COMPLETE] = "complete",
	[CW_STACK_END_TRUNCATED] = "truncated",
	[CW_STACK_END_LOST] = "lost",
};

const char *cw_report__stack_end(int end)
{
	return end >= 0 && end <= CW_STACK_END_LOST ? end_names[end] : "lost";
}

static int by_wait(const void *a, const void *b)
{
	const struct cw_lock_site *x = a, *y = b;

	if (x->wait_ns_total != y->wait_ns_total)
		return x->wait_ns_total < y->wait_ns_total ? 1 : -1;
	return x->acquisitions < y->acquisitions ? 1 : x->acquisitions > y->acquisitions ? -1 : 0;
}

/* The lock's call paths, busiest (most waited) first; malloc'ed, *nr of them. */
struct cw_lock_site *cw_report__sites_by_wait(const struct cw_lock *l, size_t *nr)
{
	struct cw_lock_site *v = malloc((l->nr_sites ? l->nr_sites : 1) * sizeof(*v));

	*nr = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < l->nr_sites; i++)
		if (l->sites[i].stack_id && l->sites[i].acquisitions)
			v[(*nr)++] = l->sites[i];
	qsort(v, *nr, sizeof(*v), by_wait);
	return v;
}

void cw_report__text_stack(FILE *out, const struct cw_ustack *s, const char *indent)
{
	char line[1024];

	for (size_t i = 0; i < s->nr; i++) {
		cw_frame__format(&s->frames[i], line, sizeof(line));
		fprintf(out, "%s#%-2zu %s\n", indent, i, line);
	}
	fprintf(out, "%s(%s%s%s)\n", indent, cw_report__stack_end(s->end), s->why[0] ? ": " : "",
		s->why);
}

void cw_report__text_stack_of(FILE *out, struct cw_symbols *sym, const struct cw_stack *st,
			      const char *indent)
{
	struct cw_ustack s;

	if (!st) {
		fprintf(out, "%s(stack not received: see lost events)\n", indent);
		return;
	}
	if (cw_symbols__resolve(sym, st, &s))
		fprintf(out, "%s(stack could not be resolved)\n", indent);
	else
		cw_report__text_stack(out, &s, indent);
	cw_ustack__fini(&s);
}

void cw_report__json_threads(FILE *out, const struct cw_engine *eng, const struct cw_finding *f)
{
	for (size_t i = 0; i < f->nr_threads; i++) {
		fprintf(out, "%s{\"tid\": %u, \"comm\": ", i ? ", " : "", f->threads[i].tid);
		cw_report__json_string(out, cw_report__comm(eng, f->threads[i].pid,
							    f->threads[i].tid), CW_COMM_LEN);
		fputc('}', out);
	}
}

/* A stack as the contract's FRAME array. */
void cw_report__json_frames(FILE *out, const struct cw_ustack *s)
{
	fputc('[', out);
	for (size_t i = 0; i < s->nr; i++) {
		const struct cw_frame *f = &s->frames[i];

		fprintf(out, "%s{\"addr\": \"0x%llx\", \"func\": ", i ? ", " : "",
			(unsigned long long)f->addr);
		if (f->func)
			cw_report__json_string(out, f->func, SIZE_MAX);
		else
			fputs("null", out);
		fprintf(out, ", \"offset\": %llu, \"module\": ", (unsigned long long)f->func_offset);
		if (f->module)
			cw_report__json_string(out, f->module, SIZE_MAX);
		else
			fputs("null", out);
		fputs(", \"file\": ", out);
		if (f->file)
			cw_report__json_string(out, f->file, SIZE_MAX);
		else
			fputs("null", out);
		if (f->line)
			fprintf(out, ", \"line\": %d", f->line);
		else
			fputs(", \"line\": null", out);
		if (f->inlined)
			fputs(", \"inlined\": true", out);
		fputc('}', out);
	}
	fputc(']', out);
}
