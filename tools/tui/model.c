// SPDX-License-Identifier: GPL-2.0
/*
 * The dashboard's model (model.h): at each refresh, rows made from what the report layer
 * computes, and their orders. No curses here: the unit tests drive it with synthetic
 * streams (selftests/unit/test_tui_model.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/engine.h"
#include "engine/evloop.h"
#include "engine/findings.h"
#include "engine/record.h"
#include "engine/lockgraph.h"
#include "engine/waitfor.h"
#include "report/report.h"
#include "report/symbols.h"
#include "tui/model.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *short_policy(__u32 policy)
{
	const char *p = cw_report__policy_name(policy);

	if (!p)
		return "?";
	return strncmp(p, "SCHED_", 6) ? p : p + 6;
}

static void pct(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f", v);
}

static const struct cw_wf_wait *find_wait(const struct cw_wf_wait *w, size_t nr, __u32 pid,
					  __u32 tid)
{
	for (size_t i = 0; i < nr; i++)
		if (w[i].pid == pid && w[i].tid == tid)
			return &w[i];
	return NULL;
}


/* " for D" after buf, when the start of the state is known and before now. */
static void add_duration(char *buf, size_t len, __u64 since, __u64 now)
{
	size_t n = strlen(buf);
	char d[32];

	if (since && now > since && n < len)
		snprintf(buf + n, len - n, " for %s", cw_report__fmt_ns(d, sizeof(d), now - since));
}

/* The name of the lock or futex word at addr as the tables name it, else its address. */
static const char *wait_name(const struct cw_tui_model *m, __u32 pid, __u64 addr, char *buf,
			     size_t len)
{
	const char *name = cw_report__snapshot_lock_name(m->snap, pid, addr, buf, len);

	if (!name || !strcmp(name, "-")) {
		snprintf(buf, len, "0x%llx", (unsigned long long)addr);
		name = buf;
	}
	return name;
}

/* What a blocked thread waits on, as the wait-for graph says it. */
static void blocked_state(const struct cw_tui_model *m, const struct cw_wf_wait *w,
			  const struct cw_thread *t, __u64 now, char *buf, size_t len)
{
	char held[32] = "", nbuf[256];
	const char *name = wait_name(m, w->pid, w->addr, nbuf, sizeof(nbuf));
	int lock = cw_report__wait_is_lock(w);
	__u64 since = w->since_ns;

	if (w->holder_tid)
		snprintf(held, sizeof(held), " held by %u%s", w->holder_tid,
			 w->holder_exited ? " (exited)" : "");
	if (lock)
		snprintf(buf, len, "blocked on %s%s", name, held);
	else if (w->reason == CW_OFFCPU_FUTEX)
		snprintf(buf, len, "futex wait %s%s", name, held);
	else if (w->reason == CW_OFFCPU_KLOCK)
		snprintf(buf, len, "kernel lock 0x%llx", (unsigned long long)w->addr);
	else if (w->reason == CW_OFFCPU_IO)
		snprintf(buf, len, "io wait");
	else
		snprintf(buf, len, "sleeping");
	/*
	 * For how long, when the wait's start is known: a wait found by looking has none, but
	 * the scheduler may have seen this thread go to sleep on the same word since.
	 */
	if (!since && t->has_state && t->state.state != CW_OFFCPU_NONE &&
	    t->state.wait_addr == w->addr)
		since = t->state.since_ns;
	add_duration(buf, len, since, now);
}

/*
 * What a thread not blocked in the wait-for graph does now, as the scheduler last said,
 * and for how long; 0 when no state of it came, or when the state had lasted less at
 * its reading than the reading's age: a busy thread switches many times between two
 * readings, and its last reading says little of now (the interval's summary says more).
 * A thread_stats record read later says the state still held then: the source sends a
 * new state with any reading that found it changed.
 */
static int sched_state(const struct cw_tui_model *m, const struct cw_engine *eng,
		       const struct cw_thread *t, __u64 now, char *buf, size_t len)
{
	const struct cw_evloop_thread *loop;
	const struct cw_ev_thread_state *s = &t->state;
	__u64 read = s->hdr.ts_ns;
	char nbuf[256];

	if (t->has_stats && t->stats.hdr.ts_ns > read)
		read = t->stats.hdr.ts_ns;
	if (!t->has_state || !s->since_ns || read < s->since_ns ||
	    (now > read && read - s->since_ns < now - read))
		return 0;
	switch (s->state) {
	case CW_OFFCPU_NONE:
		snprintf(buf, len, "running");
		break;
	case CW_OFFCPU_PREEMPTED:
		snprintf(buf, len, "runnable");
		break;
	case CW_OFFCPU_LOCK:
	case CW_OFFCPU_FUTEX:
		if (s->wait_addr)
			snprintf(buf, len, "%s %s", s->state == CW_OFFCPU_LOCK ? "lock wait" :
				 "futex wait", wait_name(m, t->pid, s->wait_addr, nbuf, sizeof(nbuf)));
		else
			snprintf(buf, len, "%s", s->state == CW_OFFCPU_LOCK ? "lock wait" :
				 "futex wait");
		break;
	case CW_OFFCPU_KLOCK:
		snprintf(buf, len, "kernel lock 0x%llx", (unsigned long long)s->wait_addr);
		break;
	case CW_OFFCPU_IO:
		snprintf(buf, len, "io wait");
		break;
	default:
		/* an event loop's thread in its loop wait: waiting for work, not stuck */
		loop = cw_evloop__find(cw_engine__evloop(eng), t->pid, t->tid);
		if (loop && loop->has_stats && loop->stats.in_wait && loop->stats.iterations)
			snprintf(buf, len, "event-loop wait (%s)",
				 cw_report__loop_wait_name(loop->stats.wait_nr));
		else
			snprintf(buf, len, "sleeping");
		break;
	}
	add_duration(buf, len, s->since_ns, now);
	return 1;
}

/* What a thread mostly did over the interval, when it is not blocked now. */
static const char *interval_state(const struct cw_report_thread_row *r)
{
	__u64 wait = r->lock_ns + r->futex_ns + r->klock_ns;

	if (!r->measured || !r->total_ns)
		return "-";
	if (r->oncpu_ns >= r->runnable_ns && r->oncpu_ns >= wait && r->oncpu_ns >= r->other_ns)
		return "running";
	if (r->runnable_ns >= wait && r->runnable_ns >= r->other_ns)
		return "runnable";
	if (wait >= r->other_ns)
		return r->lock_ns >= r->futex_ns ? "lock wait" : "futex wait";
	return "sleeping";
}

/* The lock the thread of row r waited on longest since tracing began, how long; "-": none. */
static void longest_wait(const struct cw_tui_model *m, const struct cw_report_thread_row *r,
			 char *buf, size_t len)
{
	char nbuf[256], d[32];

	if (!r->longest_ns) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%s %s", wait_name(m, r->t->pid, r->longest_addr, nbuf, sizeof(nbuf)),
		 cw_report__fmt_ns(d, sizeof(d), r->longest_ns));
}

static int make_threads(struct cw_tui_model *m, const struct cw_engine *eng,
			const struct cw_report_view *v, const struct cw_wf_wait *waits,
			size_t nr_waits, __u64 dt_ns)
{
	struct cw_tui_thread *rows;

	rows = calloc(v->nr_threads ? v->nr_threads : 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < v->nr_threads; i++) {
		const struct cw_report_thread_row *r = &v->threads[i];
		const struct cw_thread *t = r->t;
		const struct cw_wf_wait *w = find_wait(waits, nr_waits, t->pid, t->tid);
		struct cw_tui_thread *row = &rows[i];
		__u64 total = r->measured && r->total_ns ? r->total_ns : dt_ns;

		row->pid = t->pid;
		row->tid = t->tid;
		row->exited = t->exited;
		if (t->comm[0])
			cw_report__text_safe(t->comm, sizeof(t->comm), row->name,
					     sizeof(row->name));
		else
			snprintf(row->name, sizeof(row->name), "?");
		if (t->has_stats) {
			const struct cw_ev_thread_stats *s = &t->stats;
			int rt = s->policy == 1 || s->policy == 2;

			snprintf(row->policy, sizeof(row->policy), "%s %d%s",
				 short_policy(s->policy), rt ? (int)s->rt_priority : s->nice,
				 s->prio != s->normal_prio ? " PI" : "");
		} else {
			snprintf(row->policy, sizeof(row->policy), "-");
		}
		if (t->exited)
			snprintf(row->state, sizeof(row->state), "exited");
		else if (w)
			blocked_state(m, w, t, cw_engine__now(eng), row->state, sizeof(row->state));
		else if (!sched_state(m, eng, t, cw_engine__now(eng), row->state, sizeof(row->state)))
			snprintf(row->state, sizeof(row->state), "%s", interval_state(r));
		longest_wait(m, r, row->waited, sizeof(row->waited));
		row->cpu_pct = r->measured && total ? 100.0 * r->oncpu_ns / total : -1;
		row->wait_pct = -1;
		if (r->waits_known && total)
			row->wait_pct = 100.0 * r->lock_ns / total;
		else if (v->thread_locks_known && total)
			row->wait_pct = 100.0 * r->wait_ns / total;
		pct(row->cpu, sizeof(row->cpu), row->cpu_pct);
		pct(row->lock, sizeof(row->lock), row->wait_pct);
		pct(row->futex, sizeof(row->futex),
		    r->waits_known && total ? 100.0 * r->futex_ns / total : -1);
	}
	free(m->threads);
	m->threads = rows;
	m->nr_threads = v->nr_threads;
	return 0;
}

static void rate(char *buf, size_t len, double v)
{
	if (v >= 100 || v == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f", v);
}

/*
 * The rows of locks waited on now that no figure of the interval names (a process hung
 * before concwatch attached): name, type, holder and waiters, the rest not known.
 */
static size_t waited_only_locks(const struct cw_tui_model *m, struct cw_tui_lock *rows,
				size_t base, const struct cw_wf_wait *waits, size_t nr_waits)
{
	size_t nr = base;

	for (size_t k = 0; k < nr_waits; k++) {
		const struct cw_wf_wait *w = &waits[k];
		struct cw_tui_lock *row = NULL;
		char nbuf[256];
		const char *name;
		size_t i;

		if (!cw_report__wait_is_lock(w))
			continue;
		for (i = 0; i < nr && !row; i++)
			if (rows[i].pid == w->pid && rows[i].addr == w->addr)
				row = &rows[i];
		if (row && i - 1 < base)
			continue;	/* a row of the interval's: its waiters are counted */
		if (row) {
			row->waiters++;
			snprintf(row->nr_waiters, sizeof(row->nr_waiters), "%u", row->waiters);
			if (w->holder_tid && !strcmp(row->owner, "-"))
				snprintf(row->owner, sizeof(row->owner), "%u", w->holder_tid);
			continue;
		}
		row = &rows[nr++];
		memset(row, 0, sizeof(*row));
		name = cw_report__snapshot_lock_name(m->snap, w->pid, w->addr, nbuf, sizeof(nbuf));
		if (name && strcmp(name, "-"))
			snprintf(row->name, sizeof(row->name), "%s", name);
		else
			snprintf(row->name, sizeof(row->name), "0x%llx", (unsigned long long)w->addr);
		row->pid = w->pid;
		row->addr = w->addr;
		row->type = cw_lock_kind__name(w->kind ?: CW_LOCK_FUTEX);
		row->acq_s = row->cont_s = -1;
		row->waiters = 1;
		snprintf(row->nr_waiters, sizeof(row->nr_waiters), "1");
		snprintf(row->owner, sizeof(row->owner), "-");
		if (w->holder_tid)
			snprintf(row->owner, sizeof(row->owner), "%u", w->holder_tid);
		snprintf(row->acq, sizeof(row->acq), "-");
		snprintf(row->cont, sizeof(row->cont), "-");
		snprintf(row->wait, sizeof(row->wait), "-");
		snprintf(row->maxwait, sizeof(row->maxwait), "-");
		snprintf(row->maxhold, sizeof(row->maxhold), "-");
	}
	return nr;
}

static int make_locks(struct cw_tui_model *m, const struct cw_report_view *v,
		      const struct cw_wf_wait *waits, size_t nr_waits, __u64 dt_ns)
{
	struct cw_tui_lock *rows = calloc(v->nr_locks + nr_waits + 1, sizeof(*rows));
	double dt = dt_ns ? dt_ns / 1e9 : 1;
	size_t nr;

	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < v->nr_locks; i++) {
		const struct cw_report_lock_row *r = &v->locks[i];
		struct cw_tui_lock *row = &rows[i];

		if (r->name && strcmp(r->name, "-"))
			snprintf(row->name, sizeof(row->name), "%s", r->name);
		else
			snprintf(row->name, sizeof(row->name), "0x%llx",
				 (unsigned long long)r->addr);
		row->pid = r->pid;
		row->addr = r->addr;
		row->type = cw_lock_kind__name(r->kind);
		row->acq_s = r->l ? r->acquisitions / dt : -1;
		row->cont_s = r->contentions_known ? r->contentions / dt : -1;
		row->wait_ns = r->wait_ns;
		row->hotspot = r->hotspot;
		row->for_work = CW_LOCK_WAITS_FOR_WORK(r->kind);
		snprintf(row->owner, sizeof(row->owner), "-");
		for (size_t k = 0; k < nr_waits; k++) {
			if (waits[k].pid != r->pid || waits[k].addr != r->addr)
				continue;
			row->waiters++;
			if (waits[k].holder_tid)
				snprintf(row->owner, sizeof(row->owner), "%u", waits[k].holder_tid);
		}
		snprintf(row->nr_waiters, sizeof(row->nr_waiters), "%u", row->waiters);
		if (row->acq_s >= 0)
			rate(row->acq, sizeof(row->acq), row->acq_s);
		else
			snprintf(row->acq, sizeof(row->acq), "-");
		if (row->cont_s >= 0)
			rate(row->cont, sizeof(row->cont), row->cont_s);
		else
			snprintf(row->cont, sizeof(row->cont), "-");
		cw_report__fmt_ns(row->wait, sizeof(row->wait), r->wait_ns);
		snprintf(row->maxwait, sizeof(row->maxwait), "-");
		snprintf(row->maxhold, sizeof(row->maxhold), "-");
		if (r->l) {
			row->maxwait_ns = r->l->wait_ns_max;
			cw_report__fmt_ns(row->maxwait, sizeof(row->maxwait), r->l->wait_ns_max);
		}
		if (r->hold_known) {
			row->maxhold_ns = r->l->hold_ns_max;
			cw_report__fmt_ns(row->maxhold, sizeof(row->maxhold), r->l->hold_ns_max);
		}
	}
	nr = waited_only_locks(m, rows, v->nr_locks, waits, nr_waits);
	free(m->locks);
	m->locks = rows;
	m->nr_locks = nr;
	return 0;
}

static __u64 mix(__u64 h, __u64 v)
{
	h ^= v;
	return h * 0x100000001b3ULL;
}

static __u64 finding_key(const struct cw_finding *f)
{
	__u64 h = mix(0xcbf29ce484222325ULL, f->kind);

	for (size_t i = 0; i < f->nr_locks; i++)
		h = mix(mix(mix(h, f->locks[i].pid), f->locks[i].addr), f->locks[i].lifetime);
	for (size_t i = 0; i < f->nr_threads; i++)
		h = mix(h, f->threads[i].tid);
	return h;
}

static int make_findings(struct cw_tui_model *m, const struct cw_engine *eng,
			 const struct cw_report_target *t, __u64 now_ns)
{
	struct cw_symbols *sym = cw_report__snapshot_symbols(m->snap);
	struct cw_render r = { .eng = eng, .sym = sym, .track_free = t->track_free };
	struct cw_report_model rm;
	size_t number = 0;
	int err;

	if (!sym)
		return 0;
	err = cw_report__model_new(eng, sym, t, &rm);
	if (err)
		return err;
	r.fs = rm.fs;
	r.contention = rm.c;
	for (size_t i = 0; i < m->nr_findings; i++)
		m->findings[i].live = 0;
	for (size_t i = 0; i < cw_findings__nr(rm.fs); i++) {
		const struct cw_finding *f = cw_findings__get(rm.fs, i);
		struct cw_tui_finding *row = NULL;
		__u64 key;
		char *text;

		if (!cw_finding__reported(f))
			continue;
		number++;
		key = finding_key(f);
		for (size_t k = 0; k < m->nr_findings && !row; k++)
			if (m->findings[k].key == key && m->findings[k].kind ==
			    cw_finding_kind__name(f->kind))
				row = &m->findings[k];
		text = cw_report__finding_text(&r, f, number);
		if (!text)
			continue;
		if (!row) {
			row = cw_grow(m->findings, &m->cap_findings, m->nr_findings + 1,
				      sizeof(*row));
			if (!row) {
				free(text);
				err = -ENOMEM;
				break;
			}
			m->findings = row;
			row = &m->findings[m->nr_findings++];
			*row = (struct cw_tui_finding){ .key = key, .seen = m->refreshes,
							.seen_ns = now_ns - m->start_ns,
							.kind = cw_finding_kind__name(f->kind) };
		}
		free(row->text);
		free(row->summary);
		row->text = text;
		row->summary = cw_report__finding_summary(text);
		row->severity = f->severity;
		row->live = 1;
	}
	cw_report__model_fini(&rm);
	return err;
}

void cw_tui_model__coverage(const struct cw_tui_model *m, const struct cw_engine *eng,
			    struct cw_report_target *t)
{
	cw_report__set_coverage(t, eng, m->budget_pct > 0);
}

/*
 * Under a budget: whether the lock probes are attached now (the newest tick says) and
 * the share of time they were, rounded down, so that 100% means all of it. Before the
 * first tick, only the budget: the governor starts with them attached.
 */
static void governor_state(struct cw_tui_model *m, const struct cw_engine *eng,
			   const struct cw_report_target *t)
{
	int n;

	m->governor[0] = '\0';
	m->probes_off = 0;
	if (!t->governed)
		return;
	m->probes_off = !!(cw_engine__tick_flags(eng) & CW_F_NO_UPROBES);
	n = snprintf(m->governor, sizeof(m->governor), "lock probes: %s (budget %g%%)",
		     m->probes_off ? "off" : "on", m->budget_pct);
	if (cw_engine__counts(eng)->ticks && n > 0 && (size_t)n < sizeof(m->governor))
		n += snprintf(m->governor + n, sizeof(m->governor) - n, ", on %u%% of the time",
			      t->coverage_permille / 10);
	/* the scheduler shed as well, now or before */
	if (t->sched_coverage_permille < 1000 && n > 0 && (size_t)n < sizeof(m->governor))
		snprintf(m->governor + n, sizeof(m->governor) - n, "; scheduler: %s, on %u%%",
			 cw_engine__tick_flags(eng) & CW_F_NO_SCHED ? "off" : "on",
			 t->sched_coverage_permille / 10);
}

/*
 * The header's cost line: the governor's state right after the cost's first figures
 * (cw_report__cost_short() separates its parts with "; "), before the tracepoints' share
 * and the probe hits: on a narrow terminal the line is cut from its end.
 */
static void cost_line(struct cw_tui_model *m, const char *cost)
{
	size_t at = strcspn(cost, ";");

	if (!m->governor[0])
		snprintf(m->cost, sizeof(m->cost), "%s", cost);
	else
		snprintf(m->cost, sizeof(m->cost), "%.*s; %s%s", (int)at, cost, m->governor,
			 cost + at);
}

int cw_tui_model__refresh(struct cw_tui_model *m, const struct cw_engine *eng,
			  struct cw_report_target *t, int exited, __u64 now)
{
	struct cw_wf_wait *waits = NULL;
	struct cw_report_view v;
	__u64 dt = now - m->last_ns, events;
	size_t nr_waits = 0;
	char cost[sizeof(m->cost)];
	int err;

	t->alive = !exited;
	err = cw_report__snapshot_view(eng, t, m->snap, &v);
	if (err)
		return err;
	/* who is blocked now, on what, held by whom: the threads' states, the locks' owners */
	err = cw_wf__blocked(cw_engine__waitfor(eng), eng, &waits, &nr_waits);
	if (!err)
		err = make_threads(m, eng, &v, waits, nr_waits, dt);
	if (!err)
		err = make_locks(m, &v, waits, nr_waits, dt);
	free(waits);
	cw_report__cost_short(&v, cost, sizeof(cost));
	cw_report__view_fini(&v);
	cw_tui_model__coverage(m, eng, t);
	governor_state(m, eng, t);
	cost_line(m, cost);
	if (!err)
		err = make_findings(m, eng, t, now);
	events = cw_engine__events(eng);
	m->events_s = dt ? (events - m->events_last) * 1e9 / dt : 0;
	m->events_last = events;
	m->last_ns = now;
	m->refreshes++;
	if (!err)
		cw_tui_model__sort(m);
	return err;
}

/* ---- sorting ---- */

struct sort_def {
	const char *name;
	int (*cmp)(const void *a, const void *b);
};

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

static int t_by_wait(const void *a, const void *b)
{
	const struct cw_tui_thread *x = a, *y = b;

	return CMP(y->wait_pct, x->wait_pct) ?: CMP(x->tid, y->tid);
}

static int t_by_cpu(const void *a, const void *b)
{
	const struct cw_tui_thread *x = a, *y = b;

	return CMP(y->cpu_pct, x->cpu_pct) ?: CMP(x->tid, y->tid);
}

static int t_by_tid(const void *a, const void *b)
{
	const struct cw_tui_thread *x = a, *y = b;

	return CMP(x->tid, y->tid);
}

static int t_by_name(const void *a, const void *b)
{
	const struct cw_tui_thread *x = a, *y = b;

	return strcmp(x->name, y->name) ?: CMP(x->tid, y->tid);
}

static const struct sort_def thread_sorts[] = {
	{ "LOCK%", t_by_wait }, { "CPU%", t_by_cpu }, { "TID", t_by_tid }, { "NAME", t_by_name },
};

/*
 * Most waited on first; what waits for work (a condvar, a join) after the locks, as the
 * reports never call those hotspots: an idle worker's wait is no contention.
 */
static int l_by_wait(const void *a, const void *b)
{
	const struct cw_tui_lock *x = a, *y = b;

	return CMP(x->for_work, y->for_work) ?: CMP(y->wait_ns, x->wait_ns) ?:
	       CMP(y->acq_s, x->acq_s) ?: strcmp(x->name, y->name);
}

static int l_by_acq(const void *a, const void *b)
{
	const struct cw_tui_lock *x = a, *y = b;

	return CMP(y->acq_s, x->acq_s) ?: l_by_wait(a, b);
}

static int l_by_cont(const void *a, const void *b)
{
	const struct cw_tui_lock *x = a, *y = b;

	return CMP(y->cont_s, x->cont_s) ?: l_by_wait(a, b);
}

static int l_by_maxwait(const void *a, const void *b)
{
	const struct cw_tui_lock *x = a, *y = b;

	return CMP(y->maxwait_ns, x->maxwait_ns) ?: l_by_wait(a, b);
}

static int l_by_maxhold(const void *a, const void *b)
{
	const struct cw_tui_lock *x = a, *y = b;

	return CMP(y->maxhold_ns, x->maxhold_ns) ?: l_by_wait(a, b);
}

static int l_by_name(const void *a, const void *b)
{
	const struct cw_tui_lock *x = a, *y = b;

	return strcmp(x->name, y->name) ?: l_by_wait(a, b);
}

static const struct sort_def lock_sorts[] = {
	{ "WAIT", l_by_wait }, { "ACQ/s", l_by_acq }, { "CONT/s", l_by_cont },
	{ "MAXWAIT", l_by_maxwait }, { "MAXHOLD", l_by_maxhold }, { "NAME", l_by_name },
};

static const struct cw_tui_finding *sort_findings_base;

static int f_by_newest(const void *a, const void *b)
{
	const struct cw_tui_finding *x = &sort_findings_base[*(const size_t *)a];
	const struct cw_tui_finding *y = &sort_findings_base[*(const size_t *)b];

	return CMP(y->seen, x->seen) ?: CMP(*(const size_t *)a, *(const size_t *)b);
}

static int f_by_severity(const void *a, const void *b)
{
	const struct cw_tui_finding *x = &sort_findings_base[*(const size_t *)a];
	const struct cw_tui_finding *y = &sort_findings_base[*(const size_t *)b];

	return CMP(y->severity, x->severity) ?: f_by_newest(a, b);
}

static const struct sort_def finding_sorts[] = {
	{ "NEWEST", f_by_newest }, { "SEVERITY", f_by_severity },
};

static const struct sort_def *const sorts[CW_TUI_NR_PANELS] = { thread_sorts, lock_sorts,
								  finding_sorts };
static const size_t nr_sorts[CW_TUI_NR_PANELS] = { ARRAY_SIZE(thread_sorts),
						   ARRAY_SIZE(lock_sorts),
						   ARRAY_SIZE(finding_sorts) };

size_t cw_tui_model__nr_sorts(int panel)
{
	return nr_sorts[panel];
}

const char *cw_tui_model__sort_name(int panel, int sort)
{
	return sorts[panel][sort].name;
}

/* The filter lets s through: "" lets everything. */
static int shown(const struct cw_tui_model *m, const char *s)
{
	return !m->filter[0] || (s && strcasestr(s, m->filter));
}

static int thread_shown(const struct cw_tui_model *m, const void *row)
{
	const struct cw_tui_thread *t = row;
	char tid[16];

	snprintf(tid, sizeof(tid), "%u", t->tid);
	return shown(m, t->name) || shown(m, tid);
}

static int lock_shown(const struct cw_tui_model *m, const void *row)
{
	const struct cw_tui_lock *l = row;

	return shown(m, l->name) || shown(m, l->type);
}

/* Rows the filter shows first, in their order, then the others: how many it shows. */
static size_t partition(const struct cw_tui_model *m, void *rows, size_t nr, size_t size,
			int (*keep)(const struct cw_tui_model *m, const void *row))
{
	char *v = rows, *tmp;
	size_t n = 0, k = 0;

	if (!m->filter[0] || !nr)
		return nr;
	tmp = malloc(nr * size);
	if (!tmp)
		return nr;	/* out of memory: unfiltered rather than wrong */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nr; i++) {
			int in = keep(m, v + i * size);

			if (in == !pass) {
				memcpy(tmp + k++ * size, v + i * size, size);
				n += in;
			}
		}
	memcpy(v, tmp, nr * size);
	free(tmp);
	return n;
}

void cw_tui_model__sort(struct cw_tui_model *m)
{
	size_t *order;

	qsort(m->threads, m->nr_threads, sizeof(*m->threads),
	      thread_sorts[m->sort[CW_TUI_THREADS]].cmp);
	qsort(m->locks, m->nr_locks, sizeof(*m->locks), lock_sorts[m->sort[CW_TUI_LOCKS]].cmp);
	m->nr_threads_shown = partition(m, m->threads, m->nr_threads, sizeof(*m->threads),
					thread_shown);
	m->nr_locks_shown = partition(m, m->locks, m->nr_locks, sizeof(*m->locks), lock_shown);
	order = realloc(m->forder, (m->nr_findings ? m->nr_findings : 1) * sizeof(*order));
	if (!order)
		return;
	m->forder = order;
	m->nr_forder = 0;
	m->nr_live = 0;
	for (size_t i = 0; i < m->nr_findings; i++)
		m->nr_live += m->findings[i].live;
	for (size_t i = 0; i < m->nr_findings; i++)
		if (m->findings[i].live &&
		    (shown(m, m->findings[i].kind) || shown(m, m->findings[i].summary)))
			order[m->nr_forder++] = i;
	sort_findings_base = m->findings;
	qsort(order, m->nr_forder, sizeof(*order), finding_sorts[m->sort[CW_TUI_FINDINGS]].cmp);
}

size_t cw_tui_model__nr_rows(const struct cw_tui_model *m, int panel)
{
	if (panel == CW_TUI_THREADS)
		return m->nr_threads_shown;
	return panel == CW_TUI_LOCKS ? m->nr_locks_shown : m->nr_forder;
}

const struct cw_tui_finding *cw_tui_model__finding(const struct cw_tui_model *m, size_t i)
{
	return i < m->nr_forder ? &m->findings[m->forder[i]] : NULL;
}

int cw_tui_model__init(struct cw_tui_model *m, __u64 now)
{
	memset(m, 0, sizeof(*m));
	m->snap = cw_report__snapshot_new();
	m->start_ns = m->last_ns = now;
	return m->snap ? 0 : -ENOMEM;
}

void cw_tui_model__fini(struct cw_tui_model *m)
{
	for (size_t i = 0; i < m->nr_findings; i++) {
		free(m->findings[i].text);
		free(m->findings[i].summary);
	}
	free(m->findings);
	free(m->forder);
	free(m->threads);
	free(m->locks);
	cw_report__snapshot_free(m->snap);
	memset(m, 0, sizeof(*m));
}

/* ---- drill-down ---- */

/* A drill-down being written: the report's renderers draw into out. */
struct drill {
	struct cw_render r;
	struct cw_report_model rm;
	char *raw;
	size_t len;
};

static int drill_begin(struct drill *d, const struct cw_tui_model *m,
		       const struct cw_engine *eng, const struct cw_report_target *t)
{
	memset(d, 0, sizeof(*d));
	d->r.eng = eng;
	d->r.sym = cw_report__snapshot_symbols(m->snap);
	d->r.track_free = t->track_free;
	if (!d->r.sym || cw_report__model_new(eng, d->r.sym, t, &d->rm))
		return -ENOMEM;
	d->r.fs = d->rm.fs;
	d->r.contention = d->rm.c;
	d->r.out = open_memstream(&d->raw, &d->len);
	if (!d->r.out) {
		cw_report__model_fini(&d->rm);
		return -ENOMEM;
	}
	return 0;
}

/* The text, escaped (the renderers escape names; the rest is made safe here). */
static char *drill_end(struct drill *d)
{
	char *safe = NULL;
	size_t slen = 0;
	FILE *s;
	int err = fclose(d->r.out);

	cw_report__model_fini(&d->rm);
	if (!err && (s = open_memstream(&safe, &slen))) {
		cw_report__write_safe(s, d->raw, d->len);
		if (fclose(s)) {
			free(safe);
			safe = NULL;
		}
	}
	free(d->raw);
	return safe;
}

static const char *comm_of(const struct cw_engine *eng, __u32 pid, __u32 tid, char *buf,
			   size_t len)
{
	return cw_report__text_safe(cw_report__comm(eng, pid, tid), CW_COMM_LEN, buf, len);
}

/* The lock-order edges from and to the lock (pid, addr), any lifetime of it. */
static void lock_edges(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		       __u32 pid, __u64 addr)
{
	const struct cw_lg *lg = cw_engine__lockgraph(eng);
	size_t shown = 0;

	for (size_t i = 0; i < cw_lg__nr_edges(lg); i++) {
		const struct cw_lg_edge *e = cw_lg__edge(lg, i);
		const struct cw_lg_node *n[2] = { cw_lg__node(lg, e->from), cw_lg__node(lg, e->to) };
		char name[2][256], safe[2][512], comm[CW_SAFE_COMM_LEN];
		int named[2];

		if (n[0]->pid != pid || !(n[0]->addr == addr || n[1]->addr == addr))
			continue;
		if (!shown++)
			fprintf(out, "\nLock order around it (A -> B: B taken while A was held):\n");
		for (int k = 0; k < 2; k++) {
			named[k] = cw_symbols__lock_name(sym, pid, n[k]->addr, 0, name[k],
							 sizeof(name[k]));
			cw_report__text_safe(name[k], sizeof(name[k]), safe[k], sizeof(safe[k]));
		}
		/* a name made of the address alone says it already */
		fprintf(out, "  %s", safe[0]);
		if (named[0] != CW_LOCK_NAMED_ADDR)
			fprintf(out, " (0x%llx)", (unsigned long long)n[0]->addr);
		fprintf(out, " -> %s", safe[1]);
		if (named[1] != CW_LOCK_NAMED_ADDR)
			fprintf(out, " (0x%llx)", (unsigned long long)n[1]->addr);
		fputs(", by", out);
		for (size_t k = 0; k < e->nr_insts; k++) {
			int seen = 0;

			for (size_t j = 0; j < k; j++)
				seen |= e->insts[j].tid == e->insts[k].tid;
			if (!seen)
				fprintf(out, "%s %s/%u", k ? "," : "",
					comm_of(eng, pid, e->insts[k].tid, comm, sizeof(comm)),
					e->insts[k].tid);
		}
		fputc('\n', out);
	}
	if (!shown)
		fprintf(out, "\nLock order around it: no lock taken while holding it, nor it "
			     "while holding another\n");
}

char *cw_tui_model__lock_text(const struct cw_tui_model *m, const struct cw_engine *eng,
			      const struct cw_report_target *t, size_t i)
{
	const struct cw_tui_lock *l;
	struct cw_wf_wait *waits = NULL;
	size_t nr_waits = 0, found = 0;
	struct drill d;
	FILE *out;

	if (i >= m->nr_locks || drill_begin(&d, m, eng, t))
		return NULL;
	l = &m->locks[i];
	out = d.r.out;
	fprintf(out, "%s, %s 0x%llx of process %u\n", l->name, l->type,
		(unsigned long long)l->addr, l->pid);
	for (size_t k = 0; k < cw_contention__nr_objects(d.rm.c) && !found; k++) {
		const struct cw_hot_object *o = cw_contention__object(d.rm.c, k);

		if (o->pid == l->pid && o->addr == l->addr) {
			cw_report__text_object(out, &d.r, o);
			found = 1;
		}
	}
	if (!found)
		fprintf(out, "\nNo wait on it was traced.\n");
	if (!cw_wf__blocked(cw_engine__waitfor(eng), eng, &waits, &nr_waits)) {
		__u32 holder = 0;
		size_t nr = 0;
		char comm[CW_SAFE_COMM_LEN], dur[32];

		for (size_t k = 0; k < nr_waits; k++)
			if (waits[k].pid == l->pid && waits[k].addr == l->addr) {
				holder = holder ?: waits[k].holder_tid;
				nr++;
			}
		fprintf(out, "\nNow: ");
		if (holder)
			fprintf(out, "held by thread %u (%s), ", holder,
				comm_of(eng, l->pid, holder, comm, sizeof(comm)));
		fprintf(out, "%zu thread%s waiting%s\n", nr, nr == 1 ? "" : "s", nr ? ":" : "");
		for (size_t k = 0; k < nr_waits; k++) {
			const struct cw_wf_wait *w = &waits[k];

			if (w->pid != l->pid || w->addr != l->addr)
				continue;
			fprintf(out, "  thread %u (%s)", w->tid,
				comm_of(eng, w->pid, w->tid, comm, sizeof(comm)));
			if (w->since_ns && cw_engine__now(eng) > w->since_ns)
				fprintf(out, " for %s", cw_report__fmt_ns(dur, sizeof(dur),
									 cw_engine__now(eng) -
										 w->since_ns));
			fputc('\n', out);
		}
		free(waits);
	}
	lock_edges(out, eng, d.r.sym, l->pid, l->addr);
	return drill_end(&d);
}

char *cw_tui_model__thread_text(const struct cw_tui_model *m, const struct cw_engine *eng,
				const struct cw_report_target *t, size_t i)
{
	const struct cw_tui_thread *th;
	struct cw_wf_wait *waits = NULL;
	size_t nr_waits = 0, found = 0;
	struct drill d;
	FILE *out;

	if (i >= m->nr_threads || drill_begin(&d, m, eng, t))
		return NULL;
	th = &m->threads[i];
	out = d.r.out;
	fprintf(out, "Thread %u (%s) of process %u, %s\n", th->tid, th->name, th->pid,
		th->policy);
	if (!cw_wf__blocked(cw_engine__waitfor(eng), eng, &waits, &nr_waits)) {
		const struct cw_wf_wait *w = find_wait(waits, nr_waits, th->pid, th->tid);
		const struct cw_stack *st = w && w->stack_id ?
			cw_engine__find_stack(eng, th->pid, CW_STACK_USER, w->stack_id) : NULL;
		struct cw_ustack s;
		char state[sizeof(th->state)];

		const struct cw_thread *ct = cw_engine__find_thread(eng, th->pid, th->tid);

		/* now, not at the latest refresh */
		if (w && ct)
			blocked_state(m, w, ct, cw_engine__now(eng), state, sizeof(state));
		else if (!ct || ct->exited ||
			 !sched_state(m, eng, ct, cw_engine__now(eng), state, sizeof(state)))
			snprintf(state, sizeof(state), "%s", th->state);
		fprintf(out, "\nNow: %s\n", state);
		if (st && !cw_symbols__resolve(d.r.sym, st, &s)) {
			fprintf(out, "  waiting from:\n");
			cw_report__text_stack(out, &s, "    ");
			cw_ustack__fini(&s);
		} else if (w) {
			fprintf(out, "  (the wait's stack was not seen)\n");
		}
		free(waits);
	}
	for (size_t k = 0; k < cw_contention__nr_threads(d.rm.c) && !found; k++) {
		const struct cw_thread_time *tt = cw_contention__thread(d.rm.c, k);

		if (tt->pid == th->pid && tt->tid == th->tid) {
			fprintf(out, "\nWhere its time went since tracing began:\n");
			cw_report__text_thread_time(out, tt, "  ");
			found = 1;
		}
	}
	if (!found)
		fprintf(out, "\nWhere its time went: not measured\n");
	return drill_end(&d);
}
