/* SPDX-License-Identifier: GPL-2.0 */
/* Reports drawn from the engine's model: plain text for people, JSON for scripts. */
#ifndef __CW_REPORT_H
#define __CW_REPORT_H

#include <stdio.h>
#include "engine/cost.h"
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
	unsigned int hotspot_pct;	/* contention_hotspot threshold, % (0: the default) */
	int no_uprobes;			/* traced with --no-uprobes: no lock-order findings */
	int governed;			/* --max-overhead, or ticks with and without lock calls */
	unsigned int coverage_permille;	/* governed: the share of time the lock calls were
					 * traced */
	unsigned int sched_coverage_permille; /* governed: the share of time the scheduler
					 * was traced (its tracepoints not shed) */
	const char *backend;		/* "kmod" when traced through the kernel module (which
					 * sees no lock call either), else NULL */
};

struct cw_symbols;
struct cw_findings;
struct cw_finding;
struct cw_contention;
struct cw_hot_object;
struct cw_thread_time;
struct cw_classifier;

/* What the renderers of findings share: where to write, the model, names, options. */
struct cw_render {
	FILE *out;
	const struct cw_engine *eng;
	struct cw_symbols *sym;
	const struct cw_findings *fs;
	int verbose;			/* -v: what is not reported too */
	int track_free;			/* traced with --track-free */
	const struct cw_contention *contention;	/* the contention model, NULL: none */
};

/* How the dot export draws a lock graph edge: the most serious finding it is in wins. */
enum { CW_DOT_PLAIN, CW_DOT_SUPPRESSED, CW_DOT_FINDING };

/*
 * How one kind of finding is shown, in every output (render.c holds one per kind). The
 * engine decided what is reported; a renderer only draws. Any hook may be NULL.
 */
struct cw_finding_renderer {
	/* text: a reported finding, numbered among all findings */
	void (*text)(const struct cw_render *r, const struct cw_finding *f, size_t number);
	/* text, after every finding: what the kind did not report (-v lists it), its limits */
	void (*text_rest)(const struct cw_render *r);
	/* JSON: a reported finding, and a suppressed one, as one object each */
	void (*json)(const struct cw_render *r, const struct cw_finding *f);
	void (*json_suppressed)(const struct cw_render *r, const struct cw_finding *f);
	/* JSON: the kind's own top-level members, each written as ",\n  \"name\": value" */
	void (*json_fields)(const struct cw_render *r);
	/* dot: raise the CW_DOT_* mark of the lock graph edges the finding goes through */
	void (*dot)(const struct cw_finding *f, unsigned char *edge_mark);
};

/* Each kind's renderers, in its own file (render.c's table). */
extern const struct cw_finding_renderer cw_lock_order_renderer;	/* lockorder.c */
extern const struct cw_finding_renderer cw_hotspot_renderer;		/* hotspot.c */
extern const struct cw_finding_renderer cw_deadlock_renderer;		/* deadlock.c */
extern const struct cw_finding_renderer cw_livelock_renderer;		/* livelock.c */
extern const struct cw_finding_renderer cw_prio_renderer;		/* prio.c */
extern const struct cw_finding_renderer cw_loop_stall_renderer;		/* evloop.c */
extern const struct cw_finding_renderer cw_loop_block_renderer;		/* evloop.c */
/* The loop wait (epoll_wait, poll, ...) of an x86-64 system call number; "wait": unknown. */
const char *cw_report__loop_wait_name(__u32 nr);

/* The renderer of a kind, NULL when there is none (a kind not detected yet). */
const struct cw_finding_renderer *cw_report__renderer(unsigned int kind);
/* The text of every reported finding, numbered, then what each kind adds (-v lists). */
void cw_report__findings_text(const struct cw_render *r);
/* The JSON objects of the reported findings, or of the suppressed ones: an array's body. */
void cw_report__findings_json(const struct cw_render *r, int suppressed);
/* The kinds' own top-level JSON members, after "suppressed". */
void cw_report__findings_json_fields(const struct cw_render *r);
/* The lock graph edges' marks (CW_DOT_*, one per edge); NULL without memory. */
unsigned char *cw_report__findings_dot_marks(const struct cw_render *r, size_t nr_edges);

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
struct cw_wf_wait;
struct cw_report_snapshot *cw_report__snapshot_new(void);
/* A wait on a lock: a futex word with an owner, or one a look knew for a lock, is one. */
int cw_report__wait_is_lock(const struct cw_wf_wait *w);
void cw_report__snapshot_free(struct cw_report_snapshot *snap);
int cw_report__snapshot(FILE *out, const struct cw_engine *eng, const struct cw_report_target *t,
			struct cw_report_snapshot *snap);

/*
 * The same snapshot as rows, for the live dashboard (tools/tui/): what the batch tables
 * print, idle locks included (active says which are not). Names point into snap: valid
 * until the next snapshot of it.
 */
struct cw_report_lock_row {
	const struct cw_lock *l;	/* NULL: an object of the futex view only */
	__u32 pid;
	__u8 kind;			/* CW_LOCK_* */
	__u64 addr;
	__u64 order;			/* first appearance: locks first, by time */
	const char *name;		/* as the tables name it, escaped; "-": none */
	/* over the interval */
	__u64 acquisitions, contentions, wait_ns, hold_ns;
	double share;			/* wait_ns of the traced threads' time, 0 if none */
	int active;			/* anything happened to it in the interval */
	int contentions_known, hold_known;
	int hotspot;			/* its wait over the interval passes the threshold */
};

struct cw_report_thread_row {
	const struct cw_thread *t;
	int measured;			/* the scheduler's view measured its time */
	int waits_known;		/* lock_ns and futex_ns are measured */
	/* over the interval */
	__u64 acquisitions, wait_ns;	/* the engine's lock figures */
	__u64 total_ns, oncpu_ns, runnable_ns, lock_ns, futex_ns, klock_ns, other_ns;
	/* since tracing began: the lock it waited on longest (not a wait for work), 0: none */
	__u64 longest_addr, longest_ns;
};

struct cw_report_view {
	struct cw_report_lock_row *locks;	/* every lock, busiest first (as --batch) */
	size_t nr_locks, nr_active;
	struct cw_report_thread_row *threads;	/* in the engine's order */
	size_t nr_threads;
	__u64 traced_ns;		/* the traced threads' time in the interval */
	unsigned int threshold_pct;	/* contention_hotspot's */
	int thread_locks_known;		/* cw_report__thread_locks_known() */
	/* what tracing cost in the interval, when the source measures it (CW_EV_COST) */
	int cost_known;
	struct cw_cost_estimate cost;
	__u64 oncpu_ns;			/* the measured threads' CPU time in the interval */
	double cost_share;		/* cost of oncpu_ns in %, -1: unknown */
};

/* Take a snapshot into *v (cw_report__view_fini() frees it). 0 or -ENOMEM. */
int cw_report__snapshot_view(const struct cw_engine *eng, const struct cw_report_target *t,
			     struct cw_report_snapshot *snap, struct cw_report_view *v);
void cw_report__view_fini(struct cw_report_view *v);
/*
 * What tracing cost in the view's interval: a line for a header ("cost 0.9% CPU, 12% of
 * target; tracepoints 0.3%; probe hits 2000/s (0 single-stepped)"), or the batch
 * snapshots' two lines. The target's cost (probe hits at their calibrated cost, probe
 * programs) apart from the tracepoint programs', which run for every task.
 */
void cw_report__cost_short(const struct cw_report_view *v, char *buf, size_t len);
void cw_report__cost_lines(FILE *out, const struct cw_report_view *v);
/* The symbol context the snapshots keep (NULL before the first): valid until the next. */
struct cw_symbols *cw_report__snapshot_symbols(const struct cw_report_snapshot *snap);
/*
 * The table name of a lock or object the snapshots named, or else named now into buf
 * as the tables name them; "-" when only its address is known, NULL before the first
 * snapshot.
 */
const char *cw_report__snapshot_lock_name(const struct cw_report_snapshot *snap, __u32 pid,
					  __u64 addr, char *buf, size_t len);
/*
 * The findings of the trace so far, a line each (severity, kind, summary), or "No
 * findings.": the batch snapshots' findings panel, after cw_report__snapshot(). 0 or
 * -errno.
 */
int cw_report__snapshot_findings(FILE *out, const struct cw_engine *eng,
				 const struct cw_report_target *t,
				 const struct cw_report_snapshot *snap);
/* The text report's text of one finding, numbered, escaped; malloc'ed, NULL: no memory. */
char *cw_report__finding_text(const struct cw_render *r, const struct cw_finding *f,
			      size_t number);
/* Its one line: the headline without "ERROR: " or "WARNING: ", else its title. */
char *cw_report__finding_summary(const char *text);

/*
 * `concwatch deadlock`: the deadlock findings, then every thread blocked now and on what
 * (deadlock.c). 0 or -errno.
 */
int cw_report__deadlock_text(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			     const struct cw_report_target *t);
/* The threads blocked now, what each waits on, who holds it, their stacks (deadlock.c);
 * with say_none, a line saying none is. */
void cw_report__blocked_text(const struct cw_render *r, int say_none);

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
/*
 * Stack st resolved and shown at indent, or why it is not: NULL, it never came (records
 * were lost); or it could not be resolved.
 */
void cw_report__text_stack_of(FILE *out, struct cw_symbols *sym, const struct cw_stack *st,
			      const char *indent);
/*
 * One object of the contention model as the text report shows it: its waits, the call
 * paths that waited and the threads and call paths that woke them (r->contention set).
 */
void cw_report__text_object(FILE *out, const struct cw_render *r, const struct cw_hot_object *o);
/* One thread's time, a line each: on CPU, runnable, and off CPU by why, with shares. */
void cw_report__text_thread_time(FILE *out, const struct cw_thread_time *tt, const char *indent);
void cw_report__json_frames(FILE *out, const struct cw_ustack *s);
/* A finding's threads as JSON objects {"tid", "comm"}, comma separated (stacks.c). */
void cw_report__json_threads(FILE *out, const struct cw_engine *eng, const struct cw_finding *f);
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

/*
 * The contention model and the findings of one report (hot.c), built with a futex
 * classifier on the report's symbols and the target's --hotspot-threshold: every output
 * and --fail-on see the same objects and findings.
 */
#include "engine/contention.h"

struct cw_report_model {
	struct cw_classifier *cls;
	struct cw_contention_opts opts;
	struct cw_contention *c;
	struct cw_findings *fs;
};

/*
 * What tracing cost the target over the whole trace, when the source measured it (as
 * --max-overhead makes it, or a recording of such a session): the newest CW_EV_COST's
 * totals (engine/cost.h) against the time on CPU of the target's measured threads.
 */
struct cw_report_cost {
	struct cw_cost_estimate e;
	__u64 oncpu_ns;		/* the measured threads' time on CPU; 0: none measured */
	double share_pct;	/* e.ns of oncpu_ns, %; -1: not known */
	double tp_share_pct;	/* e.tp_ns (the tracepoint programs) of oncpu_ns, %; -1: not
				 * known (no BPF statistics, or no time on CPU) */
	double budget_pct;	/* the budget it was governed by, %; 0: none */
};

/*
 * Whether a trace was governed, and its coverages, from the ticks (a governed trace's say
 * CW_F_NO_UPROBES while its lock probes were detached, CW_F_NO_SCHED while its scheduler
 * tracepoints were shed) into t->governed, t->coverage_permille and
 * t->sched_coverage_permille. Governed: budgeted (a live trace under a budget, whatever
 * its ticks say: the governor starts with the probes off, and a short trace may end
 * before it has paid for a window), ticks with and without lock calls, or ticks with the
 * scheduler shed (only the governor sheds it). Not governed: a trace that saw the lock
 * calls throughout, or none of the time (--no-uprobes).
 */
void cw_report__set_coverage(struct cw_report_target *t, const struct cw_engine *eng,
			     int budgeted);

/* 0; -ENOENT: nothing measured (no CW_EV_COST record). */
int cw_report__cost(const struct cw_engine *eng, const struct cw_contention *c,
		    struct cw_report_cost *out);

/* 0 or -errno (-ENOMEM); m is emptied on failure. t may be NULL (the defaults). */
int cw_report__model_new(const struct cw_engine *eng, struct cw_symbols *sym,
			 const struct cw_report_target *t, struct cw_report_model *m);
void cw_report__model_fini(struct cw_report_model *m);
/* An object's name (cw_symbols__object_name(), kernel locks cw_symbols__klock_name()), named
 * by the program's site rather than libc's. Returns CW_LOCK_NAMED_*. */
int cw_report__object_name(struct cw_symbols *sym, const struct cw_hot_object *o, char *buf,
			   size_t len);
/*
 * Where a wait of pid's user stack stack_id was made in the program: the first frame
 * outside libc past the innermost (the call of pthread_cond_wait, not glibc's system
 * call), for naming what it waits on by its site; 0 when none (no stack, all libc).
 */
__u64 cw_report__wait_site(struct cw_symbols *sym, __u32 pid, __u64 stack_id);
/* A kernel lock's type from lock:contention_begin's LCB_F_* flags: "mutex", "rwsem_read",
 * "rwsem_write", "spinlock", "rwlock_read", ... "unknown". */
const char *cw_report__klock_type(__u32 flags);
/*
 * An object's call paths (waiters, or holders with by_tid) with those of the same frames
 * merged, most waiting first: a call path may come under several stack ids. *out is
 * malloc'ed. 0 or -ENOMEM.
 */
int cw_report__merge_paths(struct cw_symbols *sym, __u32 pid, const struct cw_hot_path *v,
			   size_t nr, int by_tid, struct cw_hot_path **out, size_t *nr_out);
/* JSON names of CW_VIEW_* bits, by bit number. */
extern const char *const cw_report__view_names[3];
/* The name of an x86-64 system call a thread blocks in, NULL when not one of those known
 * (deadlock.c). */
const char *cw_report__syscall_name(__u32 nr);
/* "lock", "futex", "kernel_lock", "io", "sleep" for a CW_OFFCPU_* reason (deadlock.c). */
const char *cw_report__offcpu_name(__u8 reason);
/* "in read()", or "in system call 999", or "in a system call" (nr ~0) into buf: buf. */
const char *cw_report__syscall_in(char *buf, size_t len, __u32 nr);
/* "12.3 ms": three significant figures, what a reader compares (text.c). */
const char *cw_report__fmt_ns(char *buf, size_t len, __u64 ns);
/* "SCHED_OTHER", ... for a scheduling policy, NULL when unknown (text.c). */
const char *cw_report__policy_name(__u32 policy);
/* The comm of a thread the engine knows, "?" when it has none. */
const char *cw_report__comm(const struct cw_engine *eng, __u32 pid, __u32 tid);

/* Exports (export.c): the lock graph in Graphviz dot, and as a JSON object. */
int cw_export__dot(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym);
void cw_export__json_graph(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym);

#endif /* __CW_REPORT_H */
