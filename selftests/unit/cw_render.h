/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The report of what a test's engine holds, as the command line prints it: for the unit
 * tests of a finding's text and JSON (they link tools/report/).
 */
#ifndef __CW_RENDER_H
#define __CW_RENDER_H

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "report/report.h"
#include "report/symbols.h"

typedef int (*cw_render_fn)(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			    const struct cw_report_target *t);

/* The report of process pid ("wl") by fn; malloc'ed, NULL on failure. */
static inline char *cw_render(struct cw_engine *eng, __u32 pid, cw_render_fn fn)
{
	struct cw_report_target t = { .pid = pid, .comm = "wl" };
	struct cw_symbols *sym;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int err;

	if (!out)
		return NULL;
	if (cw_symbols__new(eng, NULL, &sym)) {
		fclose(out);
		free(buf);
		return NULL;
	}
	err = fn(out, eng, sym, &t);
	fclose(out);
	cw_symbols__free(sym);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

#endif /* __CW_RENDER_H */
