// SPDX-License-Identifier: GPL-2.0
/*
 * Every output iterates the engine's one list of findings (engine/findings.h) and hands
 * each finding to the renderer of its kind: adding a kind adds a line here and its own
 * renderers, and no output changes. Adding an output adds a hook to struct
 * cw_finding_renderer and one function per kind (Documentation/design.md).
 */
#include <stdlib.h>

#include "engine/findings.h"
#include "report/report.h"

static const struct cw_finding_renderer *const renderers[CW_FINDING_KIND_MAX] = {
	[CW_FINDING_LOCK_ORDER_INVERSION] = &cw_lock_order_renderer,
	[CW_FINDING_DEADLOCK] = &cw_deadlock_renderer,
	[CW_FINDING_LIVELOCK] = &cw_livelock_renderer,
	[CW_FINDING_CONTENTION_HOTSPOT] = &cw_hotspot_renderer,
	[CW_FINDING_PRIORITY_INVERSION] = &cw_prio_renderer,
	[CW_FINDING_EVENT_LOOP_STALL] = &cw_loop_stall_renderer,
	[CW_FINDING_BLOCKING_IN_EVENT_LOOP] = &cw_loop_block_renderer,
};

const struct cw_finding_renderer *cw_report__renderer(unsigned int kind)
{
	return kind < CW_FINDING_KIND_MAX ? renderers[kind] : NULL;
}

void cw_report__findings_text(const struct cw_render *r)
{
	size_t number = 0;

	for (size_t i = 0; i < cw_findings__nr(r->fs); i++) {
		const struct cw_finding *f = cw_findings__get(r->fs, i);
		const struct cw_finding_renderer *fr = cw_report__renderer(f->kind);

		if (!cw_finding__reported(f))
			continue;
		number++;
		if (fr && fr->text)
			fr->text(r, f, number);
		else	/* a kind detected without a renderer: still counted, still said */
			fprintf(r->out, "\nfinding %zu: %s\n", number, cw_finding_kind__name(f->kind));
	}
	for (unsigned int k = 0; k < CW_FINDING_KIND_MAX; k++)
		if (renderers[k] && renderers[k]->text_rest)
			renderers[k]->text_rest(r);
}

void cw_report__findings_json(const struct cw_render *r, int suppressed)
{
	size_t n = 0;

	for (size_t i = 0; i < cw_findings__nr(r->fs); i++) {
		const struct cw_finding *f = cw_findings__get(r->fs, i);
		const struct cw_finding_renderer *fr = cw_report__renderer(f->kind);
		void (*draw)(const struct cw_render *, const struct cw_finding *);

		if (suppressed ? f->severity != CW_SEVERITY_SUPPRESSED : !cw_finding__reported(f))
			continue;
		draw = !fr ? NULL : suppressed ? fr->json_suppressed : fr->json;
		fprintf(r->out, "%s\n    ", n++ ? "," : "");
		if (draw)
			draw(r, f);
		else
			fprintf(r->out, "{\"kind\": \"%s\"}", cw_finding_kind__name(f->kind));
	}
	if (n)
		fputs("\n  ", r->out);
}

void cw_report__findings_json_fields(const struct cw_render *r)
{
	for (unsigned int k = 0; k < CW_FINDING_KIND_MAX; k++)
		if (renderers[k] && renderers[k]->json_fields)
			renderers[k]->json_fields(r);
}

unsigned char *cw_report__findings_dot_marks(const struct cw_render *r, size_t nr_edges)
{
	unsigned char *mark = calloc(nr_edges + 1, 1);

	if (!mark)
		return NULL;
	for (size_t i = 0; i < cw_findings__nr(r->fs); i++) {
		const struct cw_finding *f = cw_findings__get(r->fs, i);
		const struct cw_finding_renderer *fr = cw_report__renderer(f->kind);

		if (fr && fr->dot)
			fr->dot(f, mark);
	}
	return mark;
}
