// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/findings.h"
#include "engine/index.h"
#include "engine/waitfor.h"
#include "report/classify.h"
#include "report/report.h"
#include "report/symbols.h"

#define PATHS_LOCKS 5		/* locks whose call paths the text report shows */
#define PATHS_PER_LOCK 2
#define TABLE_LOCKS 20		/* rows of the lock table (-v: all) */
#define TABLE_KLOCKS 10
#define KLOCK_PATHS 3		/* kernel locks whose stacks are shown */
#define NAME_COLUMN 28

#define fmt_ns cw_report__fmt_ns

/* "12.3 ms"-style durations: three significant figures are what a reader compares. */
const char *cw_report__fmt_ns(char *buf, size_t len, __u64 ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}

/* A name as a table shows it: the function says enough of a site. */
static void shorten_name(const char *raw, int how, char *name, size_t len)
{
	/* symbol names are the traced program's too */
	cw_report__text_safe(raw, 1024, name, len);

	if (how == CW_LOCK_NAMED_INIT || how == CW_LOCK_NAMED_SITE) {
		/* "heap lock initialised at f (x.c:1)", "cond first waited on at f (x.c:1)" */
		char *at = strstr(name, " at "), *paren;

		if (at && !strncmp(name, "thread joined at ", 17)) {
			memmove(name + 8, at + 4, strlen(at + 4) + 1);
			memcpy(name, "joined: ", 8);
		} else if (at) {
			memmove(name + 6, at + 4, strlen(at + 4) + 1);
			memcpy(name, how == CW_LOCK_NAMED_INIT ? "init: " : "used: ", 6);
		}
		paren = strstr(name, " (");
		if (paren)
			*paren = '\0';
	} else if (how == CW_LOCK_NAMED_ADDR) {
		snprintf(name, len, "-"); /* the address is the next column */
	}
}

static void short_lock_name(struct cw_symbols *sym, const struct cw_lock *l, char *name,
			    size_t len)
{
	char raw[256];
	int how = cw_symbols__lock_name(sym, l->pid, l->addr, 0, raw, sizeof(raw));

	shorten_name(raw, how, name, len);
}

/*
 * A name in a column of width w: whole when it fits; else its start and "..", so that a
 * cut never passes for a name ("memcached+0x1b" would name another place).
 */
static const char *column(const char *name, int w, char *buf, size_t len)
{
	if ((int)strlen(name) <= w)
		return name;
	snprintf(buf, len, "%.*s..", w - 2, name);
	return buf;
}

const char *cw_report__comm(const struct cw_engine *eng, __u32 pid, __u32 tid)
{
	const struct cw_thread *t = cw_engine__find_thread(eng, pid, tid);

	return t && t->comm[0] ? t->comm : "?";
}

static const char *safe_comm(const struct cw_engine *eng, __u32 pid, __u32 tid, char *buf,
			     size_t len)
{
	return cw_report__text_safe(cw_report__comm(eng, pid, tid), CW_COMM_LEN, buf, len);
}

/* Figures of an object the uprobes' lock record knows better (operations, holds). */
static const struct cw_lock *probed_lock(const struct cw_engine *eng, const struct cw_hot_object *o)
{
	return o->views & CW_VIEW_ACQUIRE ? cw_engine__find_lock(eng, o->pid, o->addr) : NULL;
}

static int hold_known(const struct cw_engine *eng, const struct cw_hot_object *o)
{
	const struct cw_lock *l = probed_lock(eng, o);

	return l && (l->known & CW_LOCK_KNOWN_HOLD);
}

static void pct_cell(char *buf, size_t len, double share)
{
	if (share >= 0.0995)
		snprintf(buf, len, "%.0f%%", share * 100);
	else
		snprintf(buf, len, "%.1f%%", share * 100);
}

/* The user-space objects, most waited on first. */
static void object_table(FILE *out, const struct cw_render *r)
{
	const struct cw_contention *c = r->contention;
	size_t nr = cw_contention__nr_objects(c), rows = nr;
	char traced[32];

	if (!nr) {
		fprintf(out, "No lock operations or futex waits seen.\n");
		return;
	}
	if (!r->verbose && rows > TABLE_LOCKS)
		rows = TABLE_LOCKS;
	fprintf(out, "Locks by total wait (SHARE: of the traced threads' %s):\n",
		fmt_ns(traced, sizeof(traced), cw_contention__traced_ns(c)));
	fprintf(out, "%-*s %-7s %-18s %8s %9s %9s %10s %9s %9s %9s %10s %6s\n", NAME_COLUMN, "NAME",
		"TYPE", "LOCK", "PID", "ACQUIRED", "CONTENDED", "WAIT-TOTAL", "WAIT-MAX", "WAIT-P50",
		"WAIT-P99", "HOLD-TOTAL", "SHARE");
	for (size_t i = 0; i < rows; i++) {
		const struct cw_hot_object *o = cw_contention__object(c, i);
		const struct cw_lock *l = probed_lock(r->eng, o);
		char raw[256], name[1024], cut[NAME_COLUMN + 1], acq[24] = "-", cont[24] = "-",
		     total[32], max[32], p50[32] = "-", p99[32] = "-", hold[32] = "-",
		     share[16] = "-";

		shorten_name(raw, cw_report__object_name(r->sym, o, raw, sizeof(raw)), name,
			     sizeof(name));
		if (o->views & CW_VIEW_ACQUIRE)
			snprintf(acq, sizeof(acq), "%llu", (unsigned long long)o->acquisitions);
		if (!l || (l->known & CW_LOCK_KNOWN_CONTENTIONS) || (o->views & CW_VIEW_FUTEX))
			snprintf(cont, sizeof(cont), "%llu", (unsigned long long)o->contentions);
		if (o->wait_p50_ns) {
			fmt_ns(p50, sizeof(p50), o->wait_p50_ns);
			fmt_ns(p99, sizeof(p99), o->wait_p99_ns);
		}
		if (hold_known(r->eng, o))
			fmt_ns(hold, sizeof(hold), o->hold_ns_total);
		if (cw_contention__traced_ns(c))
			pct_cell(share, sizeof(share), o->share);
		fprintf(out, "%-*s %-7s 0x%016llx %8u %9s %9s %10s %9s %9s %9s %10s %6s%s\n",
			NAME_COLUMN, column(name, NAME_COLUMN, cut, sizeof(cut)),
			cw_lock_kind__name(o->kind), (unsigned long long)o->addr, o->pid, acq, cont,
			fmt_ns(total, sizeof(total), o->wait_ns_total),
			fmt_ns(max, sizeof(max), o->wait_ns_max), p50, p99, hold, share,
			o->hotspot ? "  HOTSPOT" : "");
	}
	if (rows < nr)
		fprintf(out, "(%zu more, with less waiting: -v lists them)\n", nr - rows);
}

/* One call path of an object: its stack, or why there is none. */
static void text_path(FILE *out, const struct cw_render *r, __u32 pid,
		      const struct cw_hot_path *p, const char *indent)
{
	const struct cw_stack *st;
	struct cw_ustack s;

	st = p->stack_id ? cw_engine__find_stack(r->eng, pid, p->space, p->stack_id) : NULL;
	if (!st) {
		char site[256];

		if (p->ip) {
			cw_symbols__site(r->sym, pid, p->ip, site, sizeof(site));
			fprintf(out, "%sat %s (no stack: see lost events)\n", indent, site);
		} else {
			fprintf(out, "%s(stack not received: see lost events)\n", indent);
		}
		return;
	}
	if (cw_symbols__resolve(r->sym, st, &s))
		fprintf(out, "%s(stack could not be resolved)\n", indent);
	else
		cw_report__text_stack(out, &s, indent);
	cw_ustack__fini(&s);
}

void cw_report__text_object(FILE *out, const struct cw_render *r, const struct cw_hot_object *o)
{
	const struct cw_contention *c = r->contention;
	char raw[256], name[1024], w[32], m[32], p50[32], p99[32], share[16] = "";
	struct cw_hot_path *wp = NULL, *hp = NULL;
	size_t nw, nh;

	if (cw_report__object_name(r->sym, o, raw, sizeof(raw)) == CW_LOCK_NAMED_ADDR)
		raw[0] = '\0';	/* known by its address only: not named twice */
	cw_report__text_safe(raw, sizeof(raw), name, sizeof(name));
	if (cw_contention__traced_ns(c)) {
		pct_cell(share + 2, sizeof(share) - 2, o->share);
		memcpy(share, ", ", 2);
	}
	fprintf(out, "\n%s%s%s 0x%llx: %s waited", name, name[0] ? ", " : "",
		cw_lock_kind__name(o->kind), (unsigned long long)o->addr,
		fmt_ns(w, sizeof(w), o->wait_ns_total));
	if (o->contentions)
		fprintf(out, " in %llu contended wait%s", (unsigned long long)o->contentions,
			o->contentions == 1 ? "" : "s");
	else if (o->views & CW_VIEW_ACQUIRE)
		fprintf(out, " over %llu acquisition%s", (unsigned long long)o->acquisitions,
			o->acquisitions == 1 ? "" : "s");
	fprintf(out, " (at most %s", fmt_ns(m, sizeof(m), o->wait_ns_max));
	if (o->wait_p50_ns)
		fprintf(out, ", p50 %s, p99 %s", fmt_ns(p50, sizeof(p50), o->wait_p50_ns),
			fmt_ns(p99, sizeof(p99), o->wait_p99_ns));
	fprintf(out, ")%s%s%s\n", share, share[0] ? " of the traced threads' time" : "",
		o->hotspot ? ": contention hotspot" :
		CW_LOCK_WAITS_FOR_WORK(o->kind) ? " (waiting for work, not contention)" : "");
	if (o->owner_tid) {
		char comm[CW_SAFE_COMM_LEN];

		fprintf(out, "  owner named by the lock word: thread %u (%s)\n", o->owner_tid,
			safe_comm(r->eng, o->pid, o->owner_tid, comm, sizeof(comm)));
	}
	if (cw_report__merge_paths(r->sym, o->pid, o->waiters, o->nr_waiters, 0, &wp, &nw) ||
	    cw_report__merge_paths(r->sym, o->pid, o->holders, o->nr_holders, 1, &hp, &nh)) {
		free(wp);
		fprintf(out, "  (call paths: out of memory)\n");
		return;
	}
	fprintf(out, "  waited from %zu call path%s%s\n", nw, nw == 1 ? "" : "s", nw ? ":" : "");
	for (size_t k = 0; k < nw && k < PATHS_PER_LOCK; k++) {
		const struct cw_hot_path *p = &wp[k];

		if (p->count)
			fprintf(out, "  %llu wait%s, ", (unsigned long long)p->count,
				p->count == 1 ? "" : "s");
		else
			fputs("  ", out);
		fprintf(out, "%s waited (at most %s), from:\n",
			fmt_ns(w, sizeof(w), p->wait_ns_total), fmt_ns(m, sizeof(m), p->wait_ns_max));
		text_path(out, r, o->pid, p, "    ");
	}
	if (!nh) {
		fprintf(out, "  made to wait by: not seen (no wakeup of its waiters was traced)\n");
		free(wp);
		free(hp);
		return;
	}
	fprintf(out, "  made to wait by %zu waker%s (thread and call path):\n", nh,
		nh == 1 ? "" : "s");
	for (size_t k = 0; k < nh && k < PATHS_PER_LOCK; k++) {
		const struct cw_hot_path *p = &hp[k];
		char comm[CW_SAFE_COMM_LEN];

		fprintf(out, "  thread %u (%s) woke %llu waiter%s, ending %s of waiting, from:\n",
			p->tid, safe_comm(r->eng, o->pid, p->tid, comm, sizeof(comm)),
			(unsigned long long)p->count, p->count == 1 ? "" : "s",
			fmt_ns(w, sizeof(w), p->wait_ns_total));
		text_path(out, r, o->pid, p, "    ");
	}
	free(wp);
	free(hp);
}

/*
 * The objects waited on longest, each with the call paths that waited on it and the
 * threads and call paths that made them wait: whose wakeup ended the waits.
 */
static void object_paths(FILE *out, const struct cw_render *r)
{
	const struct cw_contention *c = r->contention;
	size_t shown = 0;

	size_t nr = cw_contention__nr_objects(c);

	/* contention first; waiting for work (condvars, joins...) in the places left */
	for (size_t j = 0; j < 2 * nr && shown < PATHS_LOCKS; j++) {
		const struct cw_hot_object *o = cw_contention__object(c, j % nr);

		if (!o->wait_ns_total) {
			j = j < nr ? nr - 1 : 2 * nr;	/* by wait total: the rest did not wait */
			continue;
		}
		if (!CW_LOCK_WAITS_FOR_WORK(o->kind) != (j < nr))
			continue;
		if (!shown++)
			fprintf(out, "\nWho waited on the locks waited on longest, and who made them "
				     "wait:\n");
		cw_report__text_object(out, r, o);
	}
}

/* "1.20 s  60%": a time and its share of the thread's time. */
static const char *time_cell(char *buf, size_t len, __u64 ns, __u64 total, int known)
{
	char t[32];

	if (!known)
		return "-";
	if (!total)
		return fmt_ns(buf, len, ns);
	snprintf(buf, len, "%s %3.0f%%", fmt_ns(t, sizeof(t), ns), 100.0 * ns / total);
	return buf;
}

/*
 * One thread's time, a line each: on a CPU, runnable waiting for one, and off-CPU by
 * why, each with its share of the thread's traced time.
 */
void cw_report__text_thread_time(FILE *out, const struct cw_thread_time *tt, const char *indent)
{
	static const char *const what[] = { "on CPU", "runnable", "lock wait", "futex wait",
					    "kernel lock wait", "IO", "sleep" };
	int m = tt->measured, w = m || tt->waits_known;
	__u64 total = m ? tt->total_ns : 0;
	__u64 ns[] = { tt->oncpu_ns, tt->runnable_ns, tt->lock_wait_ns, tt->futex_wait_ns,
		       tt->klock_wait_ns, tt->io_ns, tt->sleep_ns };
	int known[] = { m, m, w, w, m, m, m };
	char cell[48], t[32];

	if (!w) {
		fprintf(out, "%snot measured (no scheduler record of it yet)\n", indent);
		return;
	}
	if (m)
		fprintf(out, "%straced %s\n", indent, fmt_ns(t, sizeof(t), tt->total_ns));
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		fprintf(out, "%s%-17s %s\n", indent, what[i],
			time_cell(cell, sizeof(cell), ns[i], total, known[i]));
	if (m)
		fprintf(out, "%s%-17s %s\n", indent, "longest runnable",
			fmt_ns(t, sizeof(t), tt->runq_ns_max));
}

static const char *const policy_names[] = {
	[0] = "SCHED_OTHER", [1] = "SCHED_FIFO", [2] = "SCHED_RR", [3] = "SCHED_BATCH",
	[5] = "SCHED_IDLE", [6] = "SCHED_DEADLINE",
};

const char *cw_report__policy_name(__u32 policy)
{
	return policy < sizeof(policy_names) / sizeof(policy_names[0]) && policy_names[policy] ?
		       policy_names[policy] : NULL;
}

/*
 * Where each thread's time went: on a CPU, runnable waiting for one, and off-CPU by why.
 * A thread the scheduler view did not measure has its lock and futex waits only.
 */
static void thread_table(FILE *out, const struct cw_render *r)
{
	const struct cw_contention *c = r->contention;
	size_t nr = cw_contention__nr_threads(c);

	if (!nr)
		return;
	fprintf(out, "\nWhere the threads' time went (%% of each thread's traced time):\n");
	fprintf(out, "%-16s %8s %8s %9s %14s %14s %14s %14s %14s %14s %14s %9s\n", "THREAD", "PID",
		"TID", "TRACED", "ON-CPU", "RUNNABLE", "LOCK-WAIT", "FUTEX-WAIT", "KLOCK-WAIT",
		"IO", "SLEEP", "RUNQ-MAX");
	for (size_t i = 0; i < nr; i++) {
		const struct cw_thread_time *tt = cw_contention__thread(c, i);
		const struct cw_thread *t = cw_engine__find_thread(r->eng, tt->pid, tt->tid);
		char comm[CW_SAFE_COMM_LEN], tot[32] = "-", cells[8][48], rq[32] = "-";
		int m = tt->measured, w = m || tt->waits_known;
		__u64 total = m ? tt->total_ns : 0;

		if (m) {
			fmt_ns(tot, sizeof(tot), tt->total_ns);
			fmt_ns(rq, sizeof(rq), tt->runq_ns_max);
		}
		fprintf(out, "%-16s %8u %8u %9s %14s %14s %14s %14s %14s %14s %14s %9s%s\n",
			safe_comm(r->eng, tt->pid, tt->tid, comm, sizeof(comm)), tt->pid, tt->tid,
			tot, time_cell(cells[0], 48, tt->oncpu_ns, total, m),
			time_cell(cells[1], 48, tt->runnable_ns, total, m),
			time_cell(cells[2], 48, tt->lock_wait_ns, total, w),
			time_cell(cells[3], 48, tt->futex_wait_ns, total, w),
			time_cell(cells[4], 48, tt->klock_wait_ns, total, m),
			time_cell(cells[5], 48, tt->io_ns, total, m),
			time_cell(cells[6], 48, tt->sleep_ns, total, m), rq,
			t && t->exited ? "  (exited)" : "");
	}
}

/* Kernel locks the target's threads waited on, with the kernel stacks that waited. */
static void klock_table(FILE *out, const struct cw_render *r)
{
	const struct cw_contention *c = r->contention;
	size_t nr = cw_contention__nr_klocks(c), rows = nr;

	if (!nr)
		return;
	if (!r->verbose && rows > TABLE_KLOCKS)
		rows = TABLE_KLOCKS;
	fprintf(out, "\nKernel locks by total wait:\n");
	fprintf(out, "%-*s %-18s %-18s %8s %9s %10s %9s %9s %9s %6s\n", NAME_COLUMN, "NAME",
		"LOCK-TYPE", "LOCK", "PID", "CONTENDED", "WAIT-TOTAL", "WAIT-MAX", "WAIT-P50",
		"WAIT-P99", "SHARE");
	for (size_t i = 0; i < rows; i++) {
		const struct cw_hot_object *o = cw_contention__klock(c, i);
		char raw[256], name[1024], cut[NAME_COLUMN + 1], total[32], max[32], p50[32] = "-",
		     p99[32] = "-", share[16] = "-";

		cw_report__object_name(r->sym, o, raw, sizeof(raw));
		cw_report__text_safe(raw, sizeof(raw), name, sizeof(name));
		if (o->wait_p50_ns) {
			fmt_ns(p50, sizeof(p50), o->wait_p50_ns);
			fmt_ns(p99, sizeof(p99), o->wait_p99_ns);
		}
		if (cw_contention__traced_ns(c))
			pct_cell(share, sizeof(share), o->share);
		fprintf(out, "%-*s %-18s 0x%016llx %8u %9llu %10s %9s %9s %9s %6s%s\n", NAME_COLUMN,
			column(name, NAME_COLUMN, cut, sizeof(cut)),
			cw_report__klock_type(o->klock_flags), (unsigned long long)o->addr, o->pid,
			(unsigned long long)o->contentions,
			fmt_ns(total, sizeof(total), o->wait_ns_total),
			fmt_ns(max, sizeof(max), o->wait_ns_max), p50, p99, share,
			o->hotspot ? "  HOTSPOT" : "");
	}
	if (rows < nr)
		fprintf(out, "(%zu more, with less waiting: -v lists them)\n", nr - rows);
	for (size_t i = 0; i < nr && i < KLOCK_PATHS; i++) {
		const struct cw_hot_object *o = cw_contention__klock(c, i);
		char raw[256], name[1024], w[32];

		if (!o->nr_waiters)
			continue;
		cw_report__object_name(r->sym, o, raw, sizeof(raw));
		cw_report__text_safe(raw, sizeof(raw), name, sizeof(name));
		fprintf(out, "\n%s (%s): %s waited, most from:\n", name,
			cw_report__klock_type(o->klock_flags),
			fmt_ns(w, sizeof(w), o->wait_ns_total));
		fprintf(out, "  %llu wait%s, %s waited:\n", (unsigned long long)o->waiters[0].count,
			o->waiters[0].count == 1 ? "" : "s",
			fmt_ns(w, sizeof(w), o->waiters[0].wait_ns_total));
		text_path(out, r, o->pid, &o->waiters[0], "    ");
	}
}

/* What a snapshot remembers of a lock or thread: its figures when it was taken. */
struct snap_lock {
	__u32 pid;
	__u64 addr;
	__u64 acquisitions, contentions, wait_ns, hold_ns;
	char *name;		/* the table's name, made once: a lock's name does not change */
};

/* An object only the futex view saw (no lock row of the engine): a condvar, a futex... */
struct snap_obj {
	__u32 pid;
	__u8 kind;
	__u64 addr;
	__u64 contentions, wait_ns;
	char *name;
};

struct snap_thread {
	__u32 pid, tid;
	__u64 acquisitions, wait_ns;
	/* the contention model's figures (struct cw_thread_time), cumulative */
	__u64 total_ns, oncpu_ns, runnable_ns, lock_ns, futex_ns, klock_ns, other_ns;
};

struct cw_report_snapshot {
	struct snap_lock *locks;	/* by the engine's index: locks in order of appearance */
	size_t nr_locks;
	struct snap_obj *objs;		/* in order of appearance */
	size_t nr_objs, cap_objs;
	struct snap_thread *threads;
	size_t nr_threads;
	/* the futex classifier's symbols, kept while the module map stays the same */
	struct cw_symbols *sym;
	struct cw_classifier *cls;
	size_t sym_modules;
	struct cw_ev_cost cost;		/* the cost totals of the last snapshot (type 0: none) */
};

struct cw_report_snapshot *cw_report__snapshot_new(void)
{
	return calloc(1, sizeof(struct cw_report_snapshot));
}

void cw_report__snapshot_free(struct cw_report_snapshot *snap)
{
	if (!snap)
		return;
	for (size_t i = 0; i < snap->nr_locks; i++)
		free(snap->locks[i].name);
	for (size_t i = 0; i < snap->nr_objs; i++)
		free(snap->objs[i].name);
	free(snap->locks);
	free(snap->objs);
	free(snap->threads);
	cw_classifier__free(snap->cls);
	cw_symbols__free(snap->sym);
	free(snap);
}

static int by_interval_acquisitions(const void *a, const void *b)
{
	const struct cw_report_lock_row *x = a, *y = b;

	if (x->acquisitions != y->acquisitions)
		return x->acquisitions < y->acquisitions ? 1 : -1;
	if (x->wait_ns != y->wait_ns)
		return x->wait_ns < y->wait_ns ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Remember every lock (and name the new ones): a row each, idle or not; NULL rows when
 * out of memory.
 */
static struct cw_report_lock_row *snap_locks(const struct cw_engine *eng,
					     const struct cw_symbols_opts *so,
					     struct cw_report_snapshot *snap, size_t extra,
					     size_t *nr_rows)
{
	size_t nr = cw_engine__nr_locks(eng), n = 0;
	struct cw_symbols *sym = NULL;
	struct snap_lock *v;
	struct cw_report_lock_row *rows;

	rows = malloc((nr + extra ? nr + extra : 1) * sizeof(*rows));
	v = nr > snap->nr_locks ? realloc(snap->locks, nr * sizeof(*v)) : snap->locks;
	if (!rows || (nr && !v)) {
		free(rows);
		return NULL;
	}
	snap->locks = v;
	for (size_t i = 0; i < nr; i++) {
		const struct cw_lock *l = cw_engine__lock(eng, i);
		struct snap_lock *p = &v[i];
		char name[1024];

		if (i >= snap->nr_locks || p->pid != l->pid || p->addr != l->addr) {
			if (i < snap->nr_locks)
				free(p->name);
			memset(p, 0, sizeof(*p));
			p->pid = l->pid;
			p->addr = l->addr;
		}
		if (!p->name) {
			/* symbol tables are read when a new lock needs a name, not every interval */
			if (!sym && cw_symbols__new(eng, so, &sym))
				sym = NULL;
			if (sym) {
				short_lock_name(sym, l, name, sizeof(name));
				p->name = strdup(name);
			}
		}
		rows[n] = (struct cw_report_lock_row){
			.l = l,
			.pid = l->pid,
			.kind = l->kind,
			.addr = l->addr,
			.order = l->first_ts,
			.name = p->name ? p->name : "-",
			.acquisitions = l->acquisitions - p->acquisitions,
			.contentions = l->contentions - p->contentions,
			.wait_ns = l->wait_ns_total - p->wait_ns,
			.hold_ns = l->hold_ns_total - p->hold_ns,
		};
		p->acquisitions = l->acquisitions;
		p->contentions = l->contentions;
		p->wait_ns = l->wait_ns_total;
		p->hold_ns = l->hold_ns_total;
		rows[n].active = rows[n].acquisitions || rows[n].contentions || rows[n].wait_ns;
		n++;
	}
	snap->nr_locks = nr;
	cw_symbols__free(sym);
	*nr_rows = n;
	return rows;
}

/*
 * The futex view's objects no lock row shows (condition variables, semaphores, futex
 * words; locks when the uprobes are off), appended to rows[*n..]. How many there are in
 * all (idle or not), or -ENOMEM.
 */
static long snap_objects(const struct cw_contention *c, struct cw_report_snapshot *snap,
			 struct cw_report_lock_row *rows, size_t *n)
{
	long all = 0;

	for (size_t i = 0; i < cw_contention__nr_objects(c); i++) {
		const struct cw_hot_object *o = cw_contention__object(c, i);
		struct snap_obj *p = NULL;
		char raw[256], name[1024];

		if (o->views & (CW_VIEW_ACQUIRE | CW_VIEW_KLOCK))
			continue;	/* a lock row of its own */
		all++;
		for (size_t k = 0; k < snap->nr_objs && !p; k++)
			if (snap->objs[k].pid == o->pid && snap->objs[k].addr == o->addr &&
			    snap->objs[k].kind == o->kind)
				p = &snap->objs[k];
		if (!p) {
			p = cw_grow(snap->objs, &snap->cap_objs, snap->nr_objs + 1, sizeof(*p));
			if (!p)
				return -ENOMEM;
			snap->objs = p;
			p = &snap->objs[snap->nr_objs++];
			*p = (struct snap_obj){ .pid = o->pid, .addr = o->addr, .kind = o->kind };
			shorten_name(raw, cw_report__object_name(snap->sym, o, raw, sizeof(raw)),
				     name, sizeof(name));
			p->name = strdup(name);
		}
		rows[*n] = (struct cw_report_lock_row){
			.pid = o->pid,
			.kind = o->kind,
			.addr = o->addr,
			.order = ~0ULL - cw_contention__nr_objects(c) + i,
			.name = p->name ? p->name : "-",
			.contentions = o->contentions - p->contentions,
			.wait_ns = o->wait_ns_total - p->wait_ns,
		};
		p->contentions = o->contentions;
		p->wait_ns = o->wait_ns_total;
		rows[*n].active = rows[*n].contentions || rows[*n].wait_ns;
		(*n)++;
	}
	return all;
}

static void snap_lock_table(FILE *out, const struct cw_report_view *v)
{
	size_t idle = 0;

	fprintf(out, "%-24s %-18s %8s %7s %10s %10s %10s %10s %6s\n", "NAME", "LOCK", "PID", "TYPE",
		"ACQUIRED", "CONTENDED", "WAIT", "HOLD", "SHARE");
	for (size_t i = 0; i < v->nr_locks; i++) {
		const struct cw_report_lock_row *row = &v->locks[i];
		char wait[32], hold[32] = "-", cont[32] = "-", acq[32] = "-", share[16] = "-",
		     cut[25];

		/* a lock idle over the interval is left out, as top leaves out idle tasks */
		if (!row->active) {
			idle++;
			continue;
		}
		if (row->contentions_known)
			snprintf(cont, sizeof(cont), "%llu", (unsigned long long)row->contentions);
		if (row->l)
			snprintf(acq, sizeof(acq), "%llu", (unsigned long long)row->acquisitions);
		if (row->hold_known)
			fmt_ns(hold, sizeof(hold), row->hold_ns);
		if (v->traced_ns)
			pct_cell(share, sizeof(share), row->share);
		fprintf(out, "%-24s 0x%016llx %8u %7s %10s %10s %10s %10s %6s%s\n",
			column(row->name, 24, cut, sizeof(cut)), (unsigned long long)row->addr,
			row->pid, cw_lock_kind__name(row->kind), acq, cont,
			fmt_ns(wait, sizeof(wait), row->wait_ns), hold, share,
			row->hotspot ? "  HOTSPOT" : "");
	}
	if (idle)
		fprintf(out, "(%zu lock%s idle in this interval)\n", idle, idle == 1 ? "" : "s");
}

/* The threads' figures over the interval; the traced threads' time in it in *traced. */
static int snap_threads(const struct cw_engine *eng, const struct cw_contention *c,
			struct cw_report_snapshot *snap, struct snap_thread **delta, __u64 *traced)
{
	size_t nr = cw_engine__nr_threads(eng);
	struct snap_thread *v, *d;

	*delta = NULL;
	*traced = 0;
	v = nr > snap->nr_threads ? realloc(snap->threads, nr * sizeof(*v)) : snap->threads;
	if (nr && !v)
		return -ENOMEM;
	snap->threads = v;
	d = calloc(nr ? nr : 1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		const struct cw_thread *t = cw_engine__thread(eng, i);
		const struct cw_thread_time *tt = NULL;
		struct snap_thread *p = &v[i], now = { .pid = t->pid, .tid = t->tid };

		if (i >= snap->nr_threads || p->pid != t->pid || p->tid != t->tid)
			*p = (struct snap_thread){ .pid = t->pid, .tid = t->tid };
		/* the model lists threads in the engine's order */
		if (i < cw_contention__nr_threads(c) && cw_contention__thread(c, i)->tid == t->tid &&
		    cw_contention__thread(c, i)->pid == t->pid)
			tt = cw_contention__thread(c, i);
		now.acquisitions = t->lock_acquisitions;
		now.wait_ns = t->lock_wait_ns;
		if (tt && tt->measured) {
			now.total_ns = tt->total_ns;
			now.oncpu_ns = tt->oncpu_ns;
			now.runnable_ns = tt->runnable_ns;
			now.klock_ns = tt->klock_wait_ns;
			now.other_ns = tt->io_ns + tt->sleep_ns;
		}
		if (tt && (tt->measured || tt->waits_known)) {
			now.lock_ns = tt->lock_wait_ns;
			now.futex_ns = tt->futex_wait_ns;
		}
#define DELTA(f) d[i].f = now.f >= p->f ? now.f - p->f : 0
		d[i] = now;
		DELTA(acquisitions);
		DELTA(wait_ns);
		DELTA(total_ns);
		DELTA(oncpu_ns);
		DELTA(runnable_ns);
		DELTA(lock_ns);
		DELTA(futex_ns);
		DELTA(klock_ns);
		DELTA(other_ns);
#undef DELTA
		*traced += d[i].total_ns;
		*p = now;
	}
	snap->nr_threads = nr;
	*delta = d;
	return 0;
}

static void snap_thread_table(FILE *out, const struct cw_report_view *v)
{
	if (!v->nr_threads)
		return;
	fprintf(out, "\n%-16s %8s %8s %10s %10s %10s %10s %10s %10s %10s\n", "THREAD", "PID", "TID",
		"ACQUIRED", "LOCK-WAIT", "FUTEX-WAIT", "ON-CPU", "RUNNABLE", "KLOCK-WAIT",
		"OTHER-OFF");
	for (size_t i = 0; i < v->nr_threads; i++) {
		const struct cw_report_thread_row *row = &v->threads[i];
		const struct cw_thread *t = row->t;
		char wait[32] = "-", fw[32] = "-", acq[24] = "-", on[32] = "-", rn[32] = "-",
		     kl[32] = "-", oth[32] = "-", comm[CW_SAFE_COMM_LEN];

		if (v->thread_locks_known)
			snprintf(acq, sizeof(acq), "%llu", (unsigned long long)row->acquisitions);
		if (row->waits_known) {
			fmt_ns(wait, sizeof(wait), row->lock_ns);
			fmt_ns(fw, sizeof(fw), row->futex_ns);
		} else if (v->thread_locks_known) {
			fmt_ns(wait, sizeof(wait), row->wait_ns);
		}
		if (row->measured) {
			fmt_ns(on, sizeof(on), row->oncpu_ns);
			fmt_ns(rn, sizeof(rn), row->runnable_ns);
			fmt_ns(kl, sizeof(kl), row->klock_ns);
			fmt_ns(oth, sizeof(oth), row->other_ns);
		}
		fprintf(out, "%-16s %8u %8u %10s %10s %10s %10s %10s %10s %10s%s\n",
			t->comm[0] ? cw_report__text_safe(t->comm, sizeof(t->comm), comm,
							  sizeof(comm)) : "?",
			t->pid, t->tid, acq, wait, fw, on, rn, kl, oth,
			t->exited ? "  (exited)" : "");
	}
}

/* The classifier's symbols, made again when the process mapped new modules. */
static int snap_symbols(const struct cw_engine *eng, const struct cw_symbols_opts *so,
			struct cw_report_snapshot *snap)
{
	if (snap->sym && snap->sym_modules == cw_engine__nr_modules(eng))
		return 0;
	cw_classifier__free(snap->cls);
	cw_symbols__free(snap->sym);
	snap->cls = NULL;
	snap->sym = NULL;
	if (cw_symbols__new(eng, so, &snap->sym) || cw_classifier__new(snap->sym, &snap->cls)) {
		cw_symbols__free(snap->sym);
		snap->sym = NULL;
		return -ENOMEM;
	}
	snap->sym_modules = cw_engine__nr_modules(eng);
	return 0;
}

void cw_report__view_fini(struct cw_report_view *v)
{
	if (!v)
		return;
	free(v->locks);
	free(v->threads);
	memset(v, 0, sizeof(*v));
}

/*
 * Each thread's longest wait on one lock since tracing began, from the contention model's
 * waiting threads (the futex view's: the uprobes' statistics are not per thread); waits
 * for work (condvars, semaphores, barriers, joins) are no lock's.
 */
static int snap_longest_waits(const struct cw_contention *c, struct cw_report_view *v)
{
	struct cw_index ix = {};
	int err = 0;

	for (size_t i = 0; i < v->nr_threads && !err; i++)
		err = cw_index__put(&ix, v->threads[i].t->pid, v->threads[i].t->tid, i);
	for (size_t i = 0; i < cw_contention__nr_objects(c) && !err; i++) {
		const struct cw_hot_object *o = cw_contention__object(c, i);

		if (CW_LOCK_WAITS_FOR_WORK(o->kind))
			continue;
		for (size_t k = 0; k < o->nr_threads; k++) {
			struct cw_report_thread_row *row;
			__u32 slot;

			if (cw_index__get(&ix, o->pid, o->threads[k].tid, &slot))
				continue;
			row = &v->threads[slot];
			if (o->threads[k].wait_ns_total > row->longest_ns) {
				row->longest_ns = o->threads[k].wait_ns_total;
				row->longest_addr = o->addr;
			}
		}
	}
	cw_index__fini(&ix);
	return err;
}

/* What tracing cost since the last snapshot, when the source sends its totals. */
static void snap_cost(const struct cw_engine *eng, struct cw_report_snapshot *snap,
		      struct cw_report_view *v)
{
	const struct cw_ev_cost *now = cw_engine__cost(eng);

	v->cost_share = -1;
	if (!now)
		return;
	cw_cost__estimate(snap->cost.hdr.type ? &snap->cost : NULL, now, &v->cost);
	v->cost_known = 1;
	v->cost_share = cw_cost__share_of(&v->cost, v->oncpu_ns);
	snap->cost = *now;
}

void cw_report__cost_short(const struct cw_report_view *v, char *buf, size_t len)
{
	const struct cw_cost_estimate *e = &v->cost;
	char share[32] = "", tp[32] = "";
	double s = e->interval_ns / 1e9;
	int n;

	if (!v->cost_known) {
		snprintf(buf, len, "cost: not measured");
		return;
	}
	if (v->cost_share >= 0)
		snprintf(share, sizeof(share), ", %.0f%% of target", v->cost_share);
	if (e->bpf_stats)
		snprintf(tp, sizeof(tp), "; tracepoints %.1f%%", e->tp_cpu_pct);
	if (e->calibrated)
		n = snprintf(buf, len, "cost %.1f%% CPU%s%s", e->cpu_pct, share, tp);
	else
		n = snprintf(buf, len, "cost ? (not calibrated)%s", tp);
	if (n >= 0 && (size_t)n < len && s > 0)
		snprintf(buf + n, len - n, "; probe hits %.0f/s (%.0f single-stepped)",
			 (e->hits[CW_TRAP_EMULATED] + e->hits[CW_TRAP_STEPPED] +
			  e->hits[CW_TRAP_RETURN]) / s, e->hits[CW_TRAP_STEPPED] / s);
}

void cw_report__cost_lines(FILE *out, const struct cw_report_view *v)
{
	const struct cw_cost_estimate *e = &v->cost;
	char bpf[32], tp[32];

	if (!v->cost_known)
		return;
	if (!e->calibrated)
		fprintf(out, "Tracing cost: unknown in the target (the probe hit cost is not "
			"calibrated)");
	else if (v->cost_share < 0)
		fprintf(out, "Tracing cost: %.2f%% of a CPU in the target", e->cpu_pct);
	else
		fprintf(out, "Tracing cost: %.2f%% of a CPU in the target (%.1f%% of its CPU time)",
			e->cpu_pct, v->cost_share);
	if (e->bpf_stats)
		fprintf(out, ", of which %.2f%% in tracepoints for every task\n", e->tp_cpu_pct);
	else
		fprintf(out, "\n");
	fprintf(out, "Probe hits: %llu emulated, %llu single-stepped, %llu returns; BPF run time ",
		(unsigned long long)e->hits[CW_TRAP_EMULATED],
		(unsigned long long)e->hits[CW_TRAP_STEPPED],
		(unsigned long long)e->hits[CW_TRAP_RETURN]);
	if (e->bpf_stats) {
		fmt_ns(bpf, sizeof(bpf), e->bpf_ns);
		fmt_ns(tp, sizeof(tp), e->tp_ns);
		fprintf(out, "%s in probes, %s in tracepoints\n", bpf, tp);
	} else {
		fprintf(out, "not measured\n");
	}
}

int cw_report__snapshot_view(const struct cw_engine *eng, const struct cw_report_target *t,
			     struct cw_report_snapshot *snap, struct cw_report_view *v)
{
	struct cw_symbols_opts so = { .debuginfo_path = t->debuginfo_path,
				      .live_pid = t->alive ? t->pid : 0 };
	struct cw_contention_opts co = { .hotspot_pct = t->hotspot_pct };
	struct cw_contention *c = NULL;
	struct snap_thread *d = NULL;
	size_t n;
	long objs;
	int err = -ENOMEM;

	memset(v, 0, sizeof(*v));
	if (snap_symbols(eng, &so, snap))
		return -ENOMEM;
	co.classify = cw_classifier__classify;
	co.ctx = snap->cls;
	if (cw_contention__new(eng, &co, &c))
		return -ENOMEM;
	v->locks = snap_locks(eng, &so, snap, cw_contention__nr_objects(c), &n);
	if (!v->locks)
		goto cleanup;
	objs = snap_objects(c, snap, v->locks, &n);
	if (objs < 0 || snap_threads(eng, c, snap, &d, &v->traced_ns))
		goto cleanup;
	v->nr_locks = n;
	v->threshold_pct = cw_contention__threshold_pct(c);
	v->thread_locks_known = cw_report__thread_locks_known(eng);
	for (size_t i = 0; i < n; i++) {
		struct cw_report_lock_row *row = &v->locks[i];
		const struct cw_lock *l = row->l;

		v->nr_active += row->active;
		row->contentions_known = !l || (l->known & CW_LOCK_KNOWN_CONTENTIONS);
		row->hold_known = l && (l->known & CW_LOCK_KNOWN_HOLD);
		if (v->traced_ns) {
			row->share = (double)row->wait_ns / v->traced_ns;
			row->hotspot = cw_contention__is_hotspot(row->wait_ns, v->traced_ns,
								 v->threshold_pct) &&
				       !CW_LOCK_WAITS_FOR_WORK(row->kind);
		}
	}
	qsort(v->locks, n, sizeof(*v->locks), by_interval_acquisitions);
	v->nr_threads = cw_engine__nr_threads(eng);
	v->threads = calloc(v->nr_threads ? v->nr_threads : 1, sizeof(*v->threads));
	if (!v->threads)
		goto cleanup;
	for (size_t i = 0; i < v->nr_threads; i++) {
		const struct cw_thread_time *tt = i < cw_contention__nr_threads(c) ?
							  cw_contention__thread(c, i) : NULL;
		struct cw_report_thread_row *row = &v->threads[i];

		row->t = cw_engine__thread(eng, i);
		row->measured = tt && tt->tid == row->t->tid && tt->measured;
		row->waits_known = tt && tt->tid == row->t->tid && (tt->measured || tt->waits_known);
		row->acquisitions = d[i].acquisitions;
		row->wait_ns = d[i].wait_ns;
		row->total_ns = d[i].total_ns;
		row->oncpu_ns = d[i].oncpu_ns;
		row->runnable_ns = d[i].runnable_ns;
		row->lock_ns = d[i].lock_ns;
		row->futex_ns = d[i].futex_ns;
		row->klock_ns = d[i].klock_ns;
		row->other_ns = d[i].other_ns;
		if (row->measured)
			v->oncpu_ns += row->oncpu_ns;
	}
	if (snap_longest_waits(c, v))
		goto cleanup;
	snap_cost(eng, snap, v);
	err = 0;
cleanup:
	free(d);
	cw_contention__free(c);
	if (err)
		cw_report__view_fini(v);
	return err;
}

struct cw_symbols *cw_report__snapshot_symbols(const struct cw_report_snapshot *snap)
{
	return snap->sym;
}

const char *cw_report__snapshot_lock_name(const struct cw_report_snapshot *snap, __u32 pid,
					  __u64 addr, char *buf, size_t len)
{
	char raw[256];
	int how;

	for (size_t i = 0; i < snap->nr_locks; i++)
		if (snap->locks[i].pid == pid && snap->locks[i].addr == addr && snap->locks[i].name)
			return snap->locks[i].name;
	for (size_t i = 0; i < snap->nr_objs; i++)
		if (snap->objs[i].pid == pid && snap->objs[i].addr == addr && snap->objs[i].name)
			return snap->objs[i].name;
	/* a wait no probe saw (a hang found by looking): named as the tables name locks */
	if (!snap->sym)
		return NULL;
	how = cw_symbols__lock_name(snap->sym, pid, addr, 0, raw, sizeof(raw));
	shorten_name(raw, how, buf, len);
	return buf;
}

char *cw_report__finding_summary(const char *text)
{
	const char *title = NULL;

	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");

		if (!strncmp(p, "ERROR: ", 7))
			return strndup(p + 7, n - 7);
		if (!strncmp(p, "WARNING: ", 9))
			return strndup(p + 9, n - 9);
		if (!title && !strncmp(p, "finding ", 8))
			title = p;
		p += n;
		if (*p)
			p++;
	}
	return title ? strndup(title, strcspn(title, "\n")) : strdup("");
}

char *cw_report__finding_text(const struct cw_render *base, const struct cw_finding *f,
			      size_t number)
{
	const struct cw_finding_renderer *fr = cw_report__renderer(f->kind);
	struct cw_render r = *base;
	char *raw = NULL, *safe = NULL;
	size_t len = 0, slen = 0;
	FILE *m, *s;

	m = open_memstream(&raw, &len);
	if (!m)
		return NULL;
	r.out = m;
	if (fr && fr->text)
		fr->text(&r, f, number);
	else
		fprintf(m, "\nfinding %zu: %s\n", number, cw_finding_kind__name(f->kind));
	if (fclose(m)) {
		free(raw);
		return NULL;
	}
	s = open_memstream(&safe, &slen);
	if (s) {
		cw_report__write_safe(s, raw, len);
		if (fclose(s)) {
			free(safe);
			safe = NULL;
		}
	}
	free(raw);
	return safe;
}

int cw_report__snapshot_findings(FILE *out, const struct cw_engine *eng,
				 const struct cw_report_target *t,
				 const struct cw_report_snapshot *snap)
{
	struct cw_symbols *sym = cw_report__snapshot_symbols(snap);
	struct cw_render r = { .eng = eng, .sym = sym, .track_free = t->track_free };
	struct cw_report_model rm;
	size_t number = 0;
	int err;

	if (!sym)
		return -EINVAL;	/* no snapshot was taken yet */
	err = cw_report__model_new(eng, sym, t, &rm);
	if (err)
		return err;
	r.fs = rm.fs;
	r.contention = rm.c;
	for (size_t i = 0; i < cw_findings__nr(rm.fs) && !err; i++) {
		const struct cw_finding *f = cw_findings__get(rm.fs, i);
		char *text, *summary;

		if (!cw_finding__reported(f))
			continue;
		if (!number++)
			fprintf(out, "\n%-8s %-24s %s\n", "SEV", "FINDING", "SUMMARY");
		text = cw_report__finding_text(&r, f, number);
		summary = text ? cw_report__finding_summary(text) : NULL;
		if (summary)
			fprintf(out, "%-8s %-24s %s\n",
				f->severity == CW_SEVERITY_ERROR ? "ERROR" : "WARNING",
				cw_finding_kind__name(f->kind), summary);
		else
			err = -ENOMEM;
		free(text);
		free(summary);
	}
	if (!number && !err)
		fprintf(out, "\nNo findings.\n");
	cw_report__model_fini(&rm);
	return err ?: ferror(out) ? -EIO : 0;
}

int cw_report__wait_is_lock(const struct cw_wf_wait *w)
{
	return w->addr && (w->reason == CW_OFFCPU_LOCK ||
			   (w->reason == CW_OFFCPU_FUTEX &&
			    (w->holder_tid || w->kind == CW_LOCK_MUTEX ||
			     w->kind == CW_LOCK_RWLOCK || w->kind == CW_LOCK_SPIN)));
}

/* Whether waits a and b are on the same lock. */
static int same_lock(const struct cw_wf_wait *a, const struct cw_wf_wait *b)
{
	return cw_report__wait_is_lock(b) && a->pid == b->pid && a->addr == b->addr;
}

/*
 * The locks threads are blocked on now, as the wait-for graph says: who holds each and
 * how many wait. A process hung before the attach has these and no figure of the
 * interval. 0 or -ENOMEM.
 */
static int snap_blocked_now(FILE *out, const struct cw_engine *eng,
			    const struct cw_report_snapshot *snap)
{
	struct cw_wf_wait *w = NULL;
	size_t nr = 0, shown = 0;
	int err = cw_wf__blocked(cw_engine__waitfor(eng), eng, &w, &nr);

	if (err)
		return err;
	for (size_t i = 0; i < nr; i++) {
		char nbuf[256], cut[25], owner[16] = "-";
		const char *name;
		__u32 holder = 0;
		size_t n = 0, k;

		if (!cw_report__wait_is_lock(&w[i]))
			continue;
		for (k = 0; k < i && !same_lock(&w[i], &w[k]); k++)
			;
		if (k < i)
			continue;	/* listed at its first waiter */
		for (k = i; k < nr; k++) {
			if (!same_lock(&w[i], &w[k]))
				continue;
			n++;
			if (!holder)
				holder = w[k].holder_tid;
		}
		if (!shown++)
			fprintf(out, "\n%-24s %-18s %8s %7s %8s %8s\n", "BLOCKED ON NOW", "LOCK", "PID",
				"TYPE", "OWNER", "WAITERS");
		name = cw_report__snapshot_lock_name(snap, w[i].pid, w[i].addr, nbuf, sizeof(nbuf));
		if (holder)
			snprintf(owner, sizeof(owner), "%u", holder);
		fprintf(out, "%-24s 0x%016llx %8u %7s %8s %8zu\n",
			column(name ? name : "-", 24, cut, sizeof(cut)),
			(unsigned long long)w[i].addr, w[i].pid,
			w[i].kind ? cw_lock_kind__name(w[i].kind) : "futex", owner, n);
	}
	free(w);
	return 0;
}

int cw_report__snapshot(FILE *out, const struct cw_engine *eng, const struct cw_report_target *t,
			struct cw_report_snapshot *snap)
{
	struct cw_report_view v;
	int err = cw_report__snapshot_view(eng, t, snap, &v);

	if (err)
		return err;
	cw_report__cost_lines(out, &v);
	if (!v.nr_locks)
		fprintf(out, "No lock operations seen.\n");
	else if (!v.nr_active)
		fprintf(out, "No lock operations in this interval (%zu lock%s idle).\n", v.nr_locks,
			v.nr_locks == 1 ? "" : "s");
	else
		snap_lock_table(out, &v);
	err = snap_blocked_now(out, eng, snap);
	snap_thread_table(out, &v);
	if (!err)
		err = ferror(out) ? -EIO : 0;
	cw_report__view_fini(&v);
	return err;
}

static void losses(FILE *out, const struct cw_engine *eng)
{
	const struct cw_engine_counts *c = cw_engine__counts(eng);
	int first = 1;

	fprintf(out, "Lost events: %llu", (unsigned long long)c->lost_total);
	for (unsigned int w = 1; w < CW_LOST_MAX; w++) {
		if (!c->lost[w])
			continue;
		fprintf(out, "%s%llu %s", first ? " (" : ", ", (unsigned long long)c->lost[w],
			cw_lost__name(w));
		first = 0;
	}
	if (c->lost_unknown_kind)
		fprintf(out, "%s%llu of kinds this version does not know", first ? " (" : ", ",
			(unsigned long long)c->lost_unknown_kind);
	fprintf(out, "%s\n", first && !c->lost_unknown_kind ? "" : ")");
	if (c->malformed || c->unknown)
		fprintf(out, "Records ignored: %llu malformed, %llu of unknown type\n",
			(unsigned long long)c->malformed, (unsigned long long)c->unknown);
	if (c->out_of_order)
		fprintf(out, "Records out of time order: %llu (later than the reorder window)\n",
			(unsigned long long)c->out_of_order);
}

static void findings(FILE *out, const struct cw_render *r)
{
	if (cw_findings__nr_reported(r->fs))
		fprintf(out, "\nFindings: %zu\n", cw_findings__nr_reported(r->fs));
	else
		fprintf(out, "\nFindings: none\n");
	cw_report__findings_text(r);
}

/*
 * What tracing cost the target over the trace, when it was measured: a share of its CPU
 * time, the tracepoint programs' part of it, and the budget. A budget below the
 * tracepoint programs' share alone is said as such: sampling the lock probes cannot meet it.
 */
static void cost_line(FILE *out, const struct cw_engine *eng, const struct cw_contention *c)
{
	struct cw_report_cost rc;

	if (cw_report__cost(eng, c, &rc) || rc.share_pct < 0)
		return;
	fprintf(out, "Tracing cost: %.1f%% of the target's CPU time", rc.share_pct);
	if (rc.tp_share_pct >= 0)
		fprintf(out, " (tracepoint programs %.1f%%, lock probes %.1f%%)", rc.tp_share_pct,
			rc.share_pct > rc.tp_share_pct ? rc.share_pct - rc.tp_share_pct : 0);
	if (rc.budget_pct > 0)
		fprintf(out, ", budget %g%%", rc.budget_pct);
	if (rc.budget_pct > 0 && rc.tp_share_pct > rc.budget_pct)
		fprintf(out, ": the futex and scheduler tracing alone costs more, which no "
			     "sampling of the lock probes can save");
	fputc('\n', out);
}

static int text_report(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		       const struct cw_report_target *t)
{
	char dur[32], comm[CW_SAFE_COMM_LEN], cmdline[sizeof(t->cmdline) * 4];
	struct cw_render r = { .out = out, .eng = eng, .sym = sym, .verbose = t->verbose,
			       .track_free = t->track_free };
	struct cw_report_model m;
	int err;

	if (!sym)
		return -EINVAL;
	err = cw_report__model_new(eng, sym, t, &m);
	if (err)
		return err;
	r.fs = m.fs;
	r.contention = m.c;
	fprintf(out, "concwatch %s: process %d (%s), %s traced, %llu events\n", CW_VERSION, t->pid,
		t->comm[0] ? cw_report__text_safe(t->comm, sizeof(t->comm), comm, sizeof(comm)) :
			     "?",
		fmt_ns(dur, sizeof(dur), cw_engine__now(eng) - cw_engine__first_ts(eng)),
		(unsigned long long)cw_engine__events(eng));
	if (t->cmdline[0])
		fprintf(out, "Command: %s\n", cw_report__text_safe(t->cmdline, sizeof(t->cmdline),
								   cmdline, sizeof(cmdline)));
	losses(out, eng);
	if (t->no_uprobes)
		fprintf(out, "Mode: %s (futex, scheduler and kernel-lock tracing): "
			     "lock_order_inversion and livelock findings need the lock probes "
			     "and cannot be given\n",
			t->backend && !strcmp(t->backend, "kmod") ? "the kernel module" :
								    "--no-uprobes");
	if (t->governed && t->coverage_permille >= 1000)
		fprintf(out, "Lock calls: traced all of the time, within --max-overhead\n");
	else if (t->governed)
		fprintf(out, "Lock calls: traced %.1f%% of the time (the lock probes were detached "
			     "to keep their cost within --max-overhead): lock_order_inversion and "
			     "livelock findings come from that share\n",
			t->coverage_permille / 10.0);
	if (t->governed && t->sched_coverage_permille < 1000)
		fprintf(out, "Scheduler: traced %.1f%% of the time (the futex and scheduler tracing "
			     "alone cost more than --max-overhead: the scheduler tracepoints were "
			     "shed too): thread times, wakeups and "
			     "priority_inversion findings come from that share\n",
			t->sched_coverage_permille / 10.0);
	cost_line(out, eng, m.c);
	fprintf(out, "\n");
	object_table(out, &r);
	object_paths(out, &r);
	thread_table(out, &r);
	klock_table(out, &r);
	findings(out, &r);
	cw_report__model_fini(&m);
	return ferror(out) ? -EIO : 0;
}

/*
 * The report is made in memory and written through cw_report__write_safe(): the fields
 * a process names (threads, command line) are escaped where they are printed, and
 * whatever else it named (symbols, files) cannot reach a terminal raw either.
 */
int cw_report__text(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		    const struct cw_report_target *t)
{
	size_t len = 0;
	char *buf = NULL;
	FILE *m;
	int err;

	m = open_memstream(&buf, &len);
	if (!m)
		return -errno;
	err = text_report(m, eng, sym, t);
	if (fclose(m) && !err)
		err = -errno;
	if (!err)
		err = cw_report__write_safe(out, buf, len);
	free(buf);
	return err;
}
