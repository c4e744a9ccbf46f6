// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "report/symbols.h"

#define PATHS_LOCKS 5		/* locks whose call paths the text report shows */
#define PATHS_PER_LOCK 2

/* "12.3 ms"-style durations: three significant figures are what a reader compares. */
static const char *fmt_ns(char *buf, size_t len, __u64 ns)
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

static int by_wait_total(const void *a, const void *b)
{
	const struct cw_lock *x = *(const struct cw_lock *const *)a;
	const struct cw_lock *y = *(const struct cw_lock *const *)b;

	if (x->wait_ns_total != y->wait_ns_total)
		return x->wait_ns_total < y->wait_ns_total ? 1 : -1;
	return x->first_ts < y->first_ts ? -1 : x->first_ts > y->first_ts;
}

/* The call paths that waited longest on the locks waited on longest, with their stacks. */
static void call_paths(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym)
{
	size_t nr = cw_engine__nr_locks(eng), shown = 0;
	const struct cw_lock **v;

	if (!nr)
		return;
	v = malloc(nr * sizeof(*v));
	if (!v) {
		fprintf(out, "\n(call paths: out of memory)\n");
		return;
	}
	for (size_t i = 0; i < nr; i++)
		v[i] = cw_engine__lock(eng, i);
	qsort(v, nr, sizeof(*v), by_wait_total);
	for (size_t i = 0; i < nr && shown < PATHS_LOCKS; i++) {
		struct cw_lock_site *sites;
		size_t nsites;
		char w[32], m[32], name[256];

		sites = cw_report__sites_by_wait(v[i], &nsites);
		if (!sites || !nsites) {
			free(sites);
			continue;
		}
		if (!shown++)
			fprintf(out, "\nCall paths of the locks waited on longest:\n");
		/* a lock known by its address only is not named twice */
		if (cw_symbols__lock_name(sym, v[i]->pid, v[i]->addr, 0, name, sizeof(name)) ==
		    CW_LOCK_NAMED_ADDR)
			name[0] = '\0';
		fprintf(out, "\n%s%s%s 0x%llx: %llu acquisitions, %s waited, from %zu call path%s\n",
			name, name[0] ? ", " : "", cw_lock_kind__name(v[i]->kind),
			(unsigned long long)v[i]->addr,
			(unsigned long long)v[i]->acquisitions,
			fmt_ns(w, sizeof(w), v[i]->wait_ns_total), nsites, nsites == 1 ? "" : "s");
		for (size_t k = 0; k < nsites && k < PATHS_PER_LOCK; k++) {
			const struct cw_stack *st;
			struct cw_ustack s;

			fprintf(out, "  %llu acquisitions, %s waited (at most %s), from:\n",
				(unsigned long long)sites[k].acquisitions,
				fmt_ns(w, sizeof(w), sites[k].wait_ns_total),
				fmt_ns(m, sizeof(m), sites[k].wait_ns_max));
			st = cw_engine__find_stack(eng, v[i]->pid, cw_report__lock_stack_space(v[i]),
						   sites[k].stack_id);
			if (!st) {
				fprintf(out, "    (stack not received: see lost events)\n");
				continue;
			}
			if (cw_symbols__resolve(sym, st, &s))
				fprintf(out, "    (stack could not be resolved)\n");
			else
				cw_report__text_stack(out, &s, "    ");
			cw_ustack__fini(&s);
		}
		free(sites);
	}
	free(v);
}

static int by_acquisitions(const void *a, const void *b)
{
	const struct cw_lock *x = *(const struct cw_lock *const *)a;
	const struct cw_lock *y = *(const struct cw_lock *const *)b;

	if (x->acquisitions != y->acquisitions)
		return x->acquisitions < y->acquisitions ? 1 : -1;
	return x->first_ts < y->first_ts ? -1 : x->first_ts > y->first_ts;
}

/* A lock's name as a table shows it: the function says enough of a site. */
static void short_lock_name(struct cw_symbols *sym, const struct cw_lock *l, char *name,
			    size_t len)
{
	char raw[256];
	int how = cw_symbols__lock_name(sym, l->pid, l->addr, 0, raw, sizeof(raw));

	/* symbol names are the traced program's too */
	cw_report__text_safe(raw, sizeof(raw), name, len);

	if (how == CW_LOCK_NAMED_INIT || how == CW_LOCK_NAMED_SITE) {
		/* "heap lock initialised at f (x.c:1)" */
		char *at = strstr(name, " at "), *paren;

		if (at) {
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

/* The lock table; with sym, a NAME column too. */
static void lock_table(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym)
{
	size_t nr = cw_engine__nr_locks(eng);
	const struct cw_lock **v;

	if (!nr) {
		fprintf(out, "No lock operations seen.\n");
		return;
	}
	v = malloc(nr * sizeof(*v));
	if (!v) {
		fprintf(out, "(lock table: out of memory)\n");
		return;
	}
	for (size_t i = 0; i < nr; i++)
		v[i] = cw_engine__lock(eng, i);
	qsort(v, nr, sizeof(*v), by_acquisitions);

	if (sym)
		fprintf(out, "%-24s ", "NAME");
	fprintf(out, "%-18s %8s %7s %10s %10s %10s %10s %10s %10s %7s\n", "LOCK", "PID", "TYPE",
		"ACQUIRED", "CONTENDED", "WAIT-TOTAL", "WAIT-MAX", "HOLD-TOTAL", "HOLD-MAX",
		"THREADS");
	for (size_t i = 0; i < nr; i++) {
		const struct cw_lock *l = v[i];
		char total[32], max[32], htotal[32] = "-", hmax[32] = "-", cont[32] = "-",
		     users[24] = "-";

		if (l->known & CW_LOCK_KNOWN_CONTENTIONS)
			snprintf(cont, sizeof(cont), "%llu", (unsigned long long)l->contentions);
		if (l->known & CW_LOCK_KNOWN_HOLD) {
			fmt_ns(htotal, sizeof(htotal), l->hold_ns_total);
			fmt_ns(hmax, sizeof(hmax), l->hold_ns_max);
		}
		if (l->known & (CW_LOCK_KNOWN_OPS | CW_LOCK_KNOWN_CONTENTIONS) && l->nr_users)
			snprintf(users, sizeof(users), "%zu", l->nr_users);
		if (sym) {
			char name[1024];

			short_lock_name(sym, l, name, sizeof(name));
			/* a long name keeps its start: the table stays a table */
			fprintf(out, "%-24.24s ", name);
		}
		fprintf(out, "0x%016llx %8u %7s %10llu %10s %10s %10s %10s %10s %7s\n",
			(unsigned long long)l->addr, l->pid, cw_lock_kind__name(l->kind),
			(unsigned long long)l->acquisitions, cont,
			fmt_ns(total, sizeof(total), l->wait_ns_total),
			fmt_ns(max, sizeof(max), l->wait_ns_max), htotal, hmax, users);
	}
	free(v);
}

static void thread_table(FILE *out, const struct cw_engine *eng)
{
	size_t nr = cw_engine__nr_threads(eng);

	if (!nr)
		return;
	fprintf(out, "\n%-16s %8s %8s %10s %10s\n", "THREAD", "PID", "TID", "ACQUIRED", "LOCK-WAIT");
	for (size_t i = 0; i < nr; i++) {
		const struct cw_thread *t = cw_engine__thread(eng, i);
		char wait[32] = "-", acq[24] = "-", comm[CW_SAFE_COMM_LEN];

		if (cw_report__thread_locks_known(eng)) {
			snprintf(acq, sizeof(acq), "%llu", (unsigned long long)t->lock_acquisitions);
			fmt_ns(wait, sizeof(wait), t->lock_wait_ns);
		}
		fprintf(out, "%-16s %8u %8u %10s %10s%s\n",
			t->comm[0] ? cw_report__text_safe(t->comm, sizeof(t->comm), comm,
							  sizeof(comm)) : "?",
			t->pid, t->tid, acq, wait, t->exited ? "  (exited)" : "");
	}
}

/* What a snapshot remembers of a lock or thread: its figures when it was taken. */
struct snap_lock {
	__u32 pid;
	__u64 addr;
	__u64 acquisitions, contentions, wait_ns, hold_ns;
	char *name;		/* the table's name, made once: a lock's name does not change */
};

struct snap_thread {
	__u32 pid, tid;
	__u64 acquisitions, wait_ns;
};

struct cw_report_snapshot {
	struct snap_lock *locks;	/* by the engine's index: locks in order of appearance */
	size_t nr_locks;
	struct snap_thread *threads;
	size_t nr_threads;
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
	free(snap->locks);
	free(snap->threads);
	free(snap);
}

/* One lock's figures over the interval: now less what the last snapshot saw. */
struct snap_row {
	const struct cw_lock *l;
	const char *name;
	__u64 acquisitions, contentions, wait_ns, hold_ns;
};

static int by_interval_acquisitions(const void *a, const void *b)
{
	const struct snap_row *x = a, *y = b;

	if (x->acquisitions != y->acquisitions)
		return x->acquisitions < y->acquisitions ? 1 : -1;
	if (x->wait_ns != y->wait_ns)
		return x->wait_ns < y->wait_ns ? 1 : -1;
	return x->l->first_ts < y->l->first_ts ? -1 : x->l->first_ts > y->l->first_ts;
}

/* Remember every lock (and name the new ones); NULL rows when out of memory. */
static struct snap_row *snap_locks(const struct cw_engine *eng, const struct cw_symbols_opts *so,
				   struct cw_report_snapshot *snap, size_t *nr_rows)
{
	size_t nr = cw_engine__nr_locks(eng), n = 0;
	struct cw_symbols *sym = NULL;
	struct snap_lock *v;
	struct snap_row *rows;

	rows = malloc((nr ? nr : 1) * sizeof(*rows));
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
		rows[n] = (struct snap_row){
			.l = l,
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
		/* a lock idle over the interval is left out, as top leaves out idle tasks */
		if (rows[n].acquisitions || rows[n].contentions || rows[n].wait_ns)
			n++;
	}
	snap->nr_locks = nr;
	cw_symbols__free(sym);
	*nr_rows = n;
	return rows;
}

static void snap_lock_table(FILE *out, struct snap_row *rows, size_t n, size_t idle)
{
	qsort(rows, n, sizeof(*rows), by_interval_acquisitions);
	fprintf(out, "%-24s %-18s %8s %7s %10s %10s %10s %10s\n", "NAME", "LOCK", "PID", "TYPE",
		"ACQUIRED", "CONTENDED", "WAIT", "HOLD");
	for (size_t i = 0; i < n; i++) {
		const struct cw_lock *l = rows[i].l;
		char wait[32], hold[32] = "-", cont[32] = "-";

		if (l->known & CW_LOCK_KNOWN_CONTENTIONS)
			snprintf(cont, sizeof(cont), "%llu",
				 (unsigned long long)rows[i].contentions);
		if (l->known & CW_LOCK_KNOWN_HOLD)
			fmt_ns(hold, sizeof(hold), rows[i].hold_ns);
		fprintf(out, "%-24.24s 0x%016llx %8u %7s %10llu %10s %10s %10s\n", rows[i].name,
			(unsigned long long)l->addr, l->pid, cw_lock_kind__name(l->kind),
			(unsigned long long)rows[i].acquisitions, cont,
			fmt_ns(wait, sizeof(wait), rows[i].wait_ns), hold);
	}
	if (idle)
		fprintf(out, "(%zu lock%s idle in this interval)\n", idle, idle == 1 ? "" : "s");
}

static int snap_thread_table(FILE *out, const struct cw_engine *eng,
			     struct cw_report_snapshot *snap)
{
	size_t nr = cw_engine__nr_threads(eng);
	int known = cw_report__thread_locks_known(eng);
	struct snap_thread *v;

	if (!nr)
		return 0;
	v = nr > snap->nr_threads ? realloc(snap->threads, nr * sizeof(*v)) : snap->threads;
	if (!v)
		return -ENOMEM;
	snap->threads = v;
	fprintf(out, "\n%-16s %8s %8s %10s %10s\n", "THREAD", "PID", "TID", "ACQUIRED",
		"LOCK-WAIT");
	for (size_t i = 0; i < nr; i++) {
		const struct cw_thread *t = cw_engine__thread(eng, i);
		struct snap_thread *p = &v[i];
		char wait[32] = "-", acq[24] = "-", comm[CW_SAFE_COMM_LEN];

		if (i >= snap->nr_threads || p->pid != t->pid || p->tid != t->tid)
			*p = (struct snap_thread){ .pid = t->pid, .tid = t->tid };
		if (known) {
			snprintf(acq, sizeof(acq), "%llu",
				 (unsigned long long)(t->lock_acquisitions - p->acquisitions));
			fmt_ns(wait, sizeof(wait), t->lock_wait_ns - p->wait_ns);
		}
		p->acquisitions = t->lock_acquisitions;
		p->wait_ns = t->lock_wait_ns;
		fprintf(out, "%-16s %8u %8u %10s %10s%s\n",
			t->comm[0] ? cw_report__text_safe(t->comm, sizeof(t->comm), comm,
							  sizeof(comm)) : "?",
			t->pid, t->tid, acq, wait, t->exited ? "  (exited)" : "");
	}
	snap->nr_threads = nr;
	return 0;
}

int cw_report__snapshot(FILE *out, const struct cw_engine *eng, const struct cw_report_target *t,
			struct cw_report_snapshot *snap)
{
	struct cw_symbols_opts so = { .debuginfo_path = t->debuginfo_path,
				      .live_pid = t->alive ? t->pid : 0 };
	struct snap_row *rows;
	size_t n;

	rows = snap_locks(eng, &so, snap, &n);
	if (!rows)
		return -ENOMEM;
	if (!cw_engine__nr_locks(eng))
		fprintf(out, "No lock operations seen.\n");
	else if (!n)
		fprintf(out, "No lock operations in this interval (%zu lock%s idle).\n",
			cw_engine__nr_locks(eng), cw_engine__nr_locks(eng) == 1 ? "" : "s");
	else
		snap_lock_table(out, rows, n, cw_engine__nr_locks(eng) - n);
	free(rows);
	if (snap_thread_table(out, eng, snap))
		return -ENOMEM;
	return ferror(out) ? -EIO : 0;
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

static void findings(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		     const struct cw_report_target *t)
{
	struct cw_lock_cycles lc;

	if (cw_report__lock_cycles(eng, &lc)) {
		fprintf(out, "\nFindings: (out of memory)\n");
		cw_report__lock_cycles_fini(&lc);
		return;
	}
	lc.track_free = t->track_free;
	if (lc.findings)
		fprintf(out, "\nFindings: %zu\n", lc.findings);
	else
		fprintf(out, "\nFindings: none\n");
	cw_report__lock_order_text(out, eng, sym, &lc, t->verbose);
	cw_report__lock_cycles_fini(&lc);
}

static int text_report(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		       const struct cw_report_target *t)
{
	char dur[32], comm[CW_SAFE_COMM_LEN], cmdline[sizeof(t->cmdline) * 4];

	if (!sym)
		return -EINVAL;
	fprintf(out, "concwatch %s: process %d (%s), %s traced, %llu events\n", CW_VERSION, t->pid,
		t->comm[0] ? cw_report__text_safe(t->comm, sizeof(t->comm), comm, sizeof(comm)) :
			     "?",
		fmt_ns(dur, sizeof(dur), cw_engine__now(eng) - cw_engine__first_ts(eng)),
		(unsigned long long)cw_engine__events(eng));
	if (t->cmdline[0])
		fprintf(out, "Command: %s\n", cw_report__text_safe(t->cmdline, sizeof(t->cmdline),
								   cmdline, sizeof(cmdline)));
	losses(out, eng);
	fprintf(out, "\n");
	lock_table(out, eng, sym);
	thread_table(out, eng);
	call_paths(out, eng, sym);
	findings(out, eng, sym, t);
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
