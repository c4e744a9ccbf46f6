/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dashboard's model: at each refresh, the rows of its panels made from the report
 * layer (the batch snapshot's interval rows, the wait-for graph's blocked threads, the
 * findings drawn by their kind's text renderer), and their orders. It decides nothing the
 * engine did not: it formats, ranks and remembers when a finding first appeared. No curses.
 */
#ifndef __CW_TUI_MODEL_H
#define __CW_TUI_MODEL_H

#include <stddef.h>
#include <linux/types.h>
#include "engine/findings.h"
#include "report/report.h"

enum { CW_TUI_THREADS, CW_TUI_LOCKS, CW_TUI_FINDINGS, CW_TUI_NR_PANELS };

/* A thread as the panel shows it: cells, and the figures it sorts by. */
struct cw_tui_thread {
	__u32 pid, tid;
	char name[CW_SAFE_COMM_LEN];
	char policy[24];
	char state[320];	/* a lock name is up to 255 bytes */
	char cpu[16], lock[16], futex[16];
	char waited[320];	/* the lock it waited on longest since tracing began, and how
				 * long ("-": none) */
	double cpu_pct, wait_pct;	/* -1: not measured */
	int exited;
};

struct cw_tui_lock {
	__u32 pid;
	__u64 addr;
	char name[64];
	const char *type;
	char acq[24], cont[24], wait[24], maxwait[24], maxhold[24];
	double acq_s, cont_s;
	__u64 wait_ns, maxwait_ns, maxhold_ns;
	int hotspot;
	int for_work;		/* a condvar, semaphore, barrier, join: not a lock */
	unsigned int waiters;	/* threads blocked on it now */
	char owner[16], nr_waiters[16];	/* its holder now ("-": none known), waiters */
};

/* A finding: its full report text, the line it is listed by, and when it was first seen. */
struct cw_tui_finding {
	__u64 key;		/* kind, locks, threads: the same finding at each refresh */
	unsigned long seen;	/* the refresh it first appeared in */
	__u64 seen_ns;		/* ... its time since the start */
	enum cw_severity severity;
	const char *kind;
	char *summary;
	char *text;		/* the report's text of it, escaped */
	int live;		/* still in the list at the latest refresh */
};
struct cw_tui_model {
	struct cw_report_snapshot *snap;
	struct cw_tui_thread *threads;	/* sorted, those the filter shows first */
	size_t nr_threads, nr_threads_shown;
	struct cw_tui_lock *locks;	/* sorted, those the filter shows first */
	size_t nr_locks, nr_locks_shown;
	char filter[64];	/* "/": the rows whose name holds it, any case; "": all */
	struct cw_tui_finding *findings;	/* in order of first appearance */
	size_t nr_findings, cap_findings;
	size_t *forder;		/* the findings still reported, in the panel's order, and
				 * shown by the filter */
	size_t nr_forder;
	size_t nr_live;		/* the findings still reported */
	int sort[CW_TUI_NR_PANELS];	/* each panel's sort: cw_tui_model__sort_name() */
	__u64 start_ns, last_ns;	/* the first and latest refresh */
	__u64 events_last;
	double events_s;		/* events per second over the latest interval */
	char cost[256];			/* the header's cost line: what tracing cost in it
					 * (cw_report__cost_short()), the lock probes' state
					 * (governor) after its first figures */
	double budget_pct;		/* the caller's: the lock probes' budget, % of the
					 * target's CPU time (--max-overhead, the dashboard's
					 * default); 0: not governed */
	char governor[160];		/* governed: "lock probes: off (budget 10%), on 23% of
					 * the time"; "": not governed */
	int probes_off;			/* governed, and the newest tick said them detached */
	unsigned long refreshes;
};

/* An empty model at now (CLOCK_MONOTONIC ns). 0 or -ENOMEM. */
int cw_tui_model__init(struct cw_tui_model *m, __u64 now);
void cw_tui_model__fini(struct cw_tui_model *m);
/*
 * The interval from the latest refresh to now: new rows, sorted. exited: the target is
 * gone (its files are no longer reached through /proc). 0 or -ENOMEM.
 */
int cw_tui_model__refresh(struct cw_tui_model *m, const struct cw_engine *eng,
			  struct cw_report_target *t, int exited, __u64 now);
/*
 * The share of time the lock calls and the scheduler were traced under m->budget_pct,
 * from the engine's ticks, into t as the reports say it (cw_report__set_coverage()). A
 * refresh does it; `w` does it too before it writes.
 */
void cw_tui_model__coverage(const struct cw_tui_model *m, const struct cw_engine *eng,
			    struct cw_report_target *t);
/*
 * Sort the rows again, by m->sort, and filter them by m->filter: a thread by its name or
 * tid, a lock by its name or type, a finding by its kind or summary.
 */
void cw_tui_model__sort(struct cw_tui_model *m);
size_t cw_tui_model__nr_sorts(int panel);
const char *cw_tui_model__sort_name(int panel, int sort);
/* The rows a panel shows (those the filter lets through). */
size_t cw_tui_model__nr_rows(const struct cw_tui_model *m, int panel);
/* The i-th finding of the panel, NULL past the last. */
const struct cw_tui_finding *cw_tui_model__finding(const struct cw_tui_model *m, size_t i);

/*
 * Drill-down, as text (malloc'ed, escaped, NULL on failure or past the last row), made
 * from the engine now: the lock of row i of the locks panel (its waits, the call paths
 * that waited and that woke them, its holder and waiters now, the lock-order edges
 * around it); the thread of row i of the threads panel (what it waits on now and from
 * where, where its time went).
 */
char *cw_tui_model__lock_text(const struct cw_tui_model *m, const struct cw_engine *eng,
			      const struct cw_report_target *t, size_t i);
char *cw_tui_model__thread_text(const struct cw_tui_model *m, const struct cw_engine *eng,
				const struct cw_report_target *t, size_t i);

#endif /* __CW_TUI_MODEL_H */
