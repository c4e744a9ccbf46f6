/* SPDX-License-Identifier: GPL-2.0 */
/* Reports drawn from the engine's model: plain text for people, JSON for scripts. */
#ifndef __CW_REPORT_H
#define __CW_REPORT_H

#include <stdio.h>
#include "engine/engine.h"
#include "stack/stack.h"

/* What the report says about the traced process (read by the caller at attach time). */
struct cw_report_target {
	int pid;
	char comm[CW_COMM_LEN];
	char cmdline[512];
	int alive;			/* still running: its files are reached through /proc */
	const char *debuginfo_path;	/* NULL: elfutils' default */
	int verbose;			/* -v: list what is not a finding too */
	int lock_graph;			/* JSON: add the whole lock graph (export) */
	int track_free;			/* traced with --track-free */
};

struct cw_symbols;
struct cw_cycle;

/* The lock-order cycles of a run: findings (cw_cycle__is_finding) and the others. */
struct cw_lock_cycles {
	struct cw_cycle *cycles;
	size_t nr;
	size_t findings;	/* cycles shown as findings: one per closing dependency */
	unsigned char *shown;	/* per cycle: a finding shown */
	size_t *also;		/* per shown cycle: the longer cycles the same dependency closes */
	int truncated;		/* the search stopped at its limits */
	int track_free;		/* set by the caller: frees ended lock histories (--track-free) */
};

/* 0 or -ENOMEM. */
int cw_report__lock_cycles(const struct cw_engine *eng, struct cw_lock_cycles *lc);
void cw_report__lock_cycles_fini(struct cw_lock_cycles *lc);
/* The lockdep-style text of every finding; with verbose, the cycles suppressed too. */
void cw_report__lock_order_text(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
				const struct cw_lock_cycles *lc, int verbose);
/* The JSON objects (comma separated) of the findings, or of the suppressed cycles. */
void cw_report__lock_order_json(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
				const struct cw_lock_cycles *lc, int suppressed);

/*
 * The reports take the caller's symbol context (report/symbols.h), made once for the
 * report with cw_symbols__new(): every table, stack and lock name of one report comes
 * from it, so that each module is opened and parsed once.
 */

/* Full text report: header, losses, locks, threads, findings. 0 or -errno. */
int cw_report__text(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		    const struct cw_report_target *t);

/*
 * Batch snapshots (-p PID --batch): the lock and thread tables of what happened since
 * the last snapshot (since the start, for the first), locks named as the report names
 * them, busiest first; idle locks are counted, not listed. 0 or -errno.
 */
struct cw_report_snapshot;
struct cw_report_snapshot *cw_report__snapshot_new(void);
void cw_report__snapshot_free(struct cw_report_snapshot *snap);
int cw_report__snapshot(FILE *out, const struct cw_engine *eng, const struct cw_report_target *t,
			struct cw_report_snapshot *snap);

/* The JSON report (Documentation/usage.md). 0 or -errno. */
int cw_report__json(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		    const struct cw_report_target *t);

/*
 * Whether threads' lock figures were measured: the kernel's aggregation counts per lock
 * and call path, not per thread; a record per operation (tests) counts both.
 */
static inline int cw_report__thread_locks_known(const struct cw_engine *eng)
{
	const struct cw_engine_counts *c = cw_engine__counts(eng);

	return c->by_type[CW_EV_LOCK_ACQUIRED] || !c->by_type[CW_EV_LOCK_STATS];
}

/* Stacks in reports (stacks.c). */
const char *cw_report__stack_end(int end);
/* Where a lock's call paths live: user stacks, or kernel stacks for kernel locks. */
static inline __u16 cw_report__lock_stack_space(const struct cw_lock *l)
{
	return l->kind == CW_LOCK_KERNEL ? CW_STACK_KERNEL : CW_STACK_USER;
}
struct cw_lock_site *cw_report__sites_by_wait(const struct cw_lock *l, size_t *nr);
void cw_report__text_stack(FILE *out, const struct cw_ustack *s, const char *indent);
void cw_report__json_frames(FILE *out, const struct cw_ustack *s);
/*
 * Strings a traced process chose (thread names, command lines, symbol names), safe for
 * each output (escape.c). A JSON string of at most max bytes of s (NULL: null), control
 * characters escaped, bytes that are not UTF-8 as U+FFFD.
 */
void cw_report__json_string(FILE *out, const char *s, size_t max);
/* At most max bytes of s for text, control characters and stray bytes as \xNN; in buf. */
const char *cw_report__text_safe(const char *s, size_t max, char *buf, size_t len);
/* The same for inside a dot quoted string: '"' and '\' escaped too. */
const char *cw_report__dot_safe(const char *s, size_t max, char *buf, size_t len);
/* Write len bytes of a text report, newlines and tabs kept, other control characters and
 * stray bytes as \xNN: what no field escaped cannot reach a terminal raw. 0 or -EIO. */
int cw_report__write_safe(FILE *out, const char *buf, size_t len);
/* Room for CW_COMM_LEN bytes of a name, each escaped at most as \xNN (or \\xNN in dot). */
#define CW_SAFE_COMM_LEN (CW_COMM_LEN * 5)

/* Exports (export.c): the lock graph in Graphviz dot, and as a JSON object. */
int cw_export__dot(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym);
void cw_export__json_graph(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym);

#endif /* __CW_REPORT_H */
