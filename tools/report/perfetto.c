// SPDX-License-Identifier: GPL-2.0
/*
 * The timeline export: Chrome's trace-event JSON ({"traceEvents": [...]}), which
 * ui.perfetto.dev and chrome://tracing open. Drawn from the per-operation records that
 * `record --timeline` takes, fed in time order as they come from the recording (not from
 * the engine, which aggregates them away):
 *  - a track per traced thread (pid, tid, named by thread_name metadata), holding what
 *    the thread did one after the other, as complete ("X") slices: "running",
 *    "runnable" (preempted, or woken and waiting for a CPU), "waiting on LOCK" (a lock,
 *    a futex word, a kernel lock, named as the report names them), "sleeping", "I/O";
 *    from the scheduler's switches and wakeups;
 *  - lock hold spans, acquired to released (uprobes' per-operation records), as async
 *    slices ("b"/"e", category "lock") named "holds LOCK": Perfetto puts them on a
 *    track of their own per lock of the process, where spans of several threads may
 *    overlap (a read lock), which a thread's own track could not show: its slices must
 *    nest, and a hold crosses its running and waiting slices;
 *  - a flow arrow from the waker to the wakee of each wakeup with a known waker: "s" on
 *    the waker's track, "f" (binding point "e": the enclosing slice) on the wakee's,
 *    one id per arrow.
 * Times are µs with three decimals (the format's unit), from CLOCK_MONOTONIC as
 * recorded: exact, with no rounding through a double.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/index.h"
#include "report/export.h"
#include "report/report.h"
#include "report/symbols.h"

enum state { ST_NONE, ST_RUNNING, ST_RUNNABLE, ST_WAITING };

struct thread {
	__u32 pid, tid;
	enum state state;
	__u64 since;
	__u8 reason;		/* ST_WAITING: CW_OFFCPU_* */
	__u64 wait_addr;
	char comm[CW_COMM_LEN];
};

struct slice {
	__u32 pid, tid;
	__u64 ts, dur;
	enum state state;
	__u8 reason;
	__u64 addr;
};

struct flow {
	__u32 from_pid, from_tid, to_pid, to_tid;
	__u64 ts;
	__u8 reason;
	__u64 addr;
};

struct hold {
	__u32 pid, tid;
	__u64 addr;
	__u64 ts, dur;		/* dur: ~0 while held */
};

struct cw_timeline {
	struct thread *threads;
	size_t nr_threads, cap_threads;
	struct cw_index thread_ix;	/* (pid, tid) -> row: a lookup per record */
	struct slice *slices;
	size_t nr_slices, cap_slices;
	struct flow *flows;
	size_t nr_flows, cap_flows;
	struct hold *holds;
	size_t nr_holds, cap_holds;
	__u32 *pids;		/* the traced processes: each pid a switch or wakeup named */
	size_t nr_pids, cap_pids;
	__u64 nr_switches;
	__u64 first_ts, last_ts;
	int err;
};

#define OPEN ((__u64)-1)

int cw_timeline__new(struct cw_timeline **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void cw_timeline__free(struct cw_timeline *tl)
{
	if (!tl)
		return;
	free(tl->threads);
	cw_index__fini(&tl->thread_ix);
	free(tl->slices);
	free(tl->flows);
	free(tl->holds);
	free(tl->pids);
	free(tl);
}

int cw_timeline__has_sched(const struct cw_timeline *tl)
{
	return tl->nr_switches > 0;
}

static struct thread *thread(struct cw_timeline *tl, __u32 pid, __u32 tid)
{
	struct thread *t;
	__u32 row;

	if (!cw_index__get(&tl->thread_ix, pid, tid, &row))
		return &tl->threads[row];
	t = cw_grow(tl->threads, &tl->cap_threads, tl->nr_threads + 1, sizeof(*t));
	if (t)
		tl->threads = t;
	if (!t || cw_index__put(&tl->thread_ix, pid, tid, tl->nr_threads)) {
		tl->err = -ENOMEM;
		return NULL;
	}
	t = &tl->threads[tl->nr_threads++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->tid = tid;
	return t;
}

/*
 * The programs trace whole processes: a pid the switches or wakeups named as traced has
 * all its threads traced. A waker of another process is not (a kworker, an interrupted
 * task): it has no track to draw an arrow from.
 */
static void add_pid(struct cw_timeline *tl, __u32 pid)
{
	__u32 *v;

	for (size_t i = 0; i < tl->nr_pids; i++)
		if (tl->pids[i] == pid)
			return;
	v = cw_grow(tl->pids, &tl->cap_pids, tl->nr_pids + 1, sizeof(*v));
	if (!v) {
		tl->err = -ENOMEM;
		return;
	}
	tl->pids = v;
	v[tl->nr_pids++] = pid;
}

static int pid_traced(const struct cw_timeline *tl, __u32 pid)
{
	for (size_t i = 0; i < tl->nr_pids; i++)
		if (tl->pids[i] == pid)
			return 1;
	return 0;
}

/*
 * A traced thread seen on CPU (switching out, waking another) before any switch of its
 * own: it has been running since before the trace began, so since its first record.
 */
static void running_since_start(struct cw_timeline *tl, struct thread *t)
{
	if (t->state != ST_NONE)
		return;
	t->state = ST_RUNNING;
	t->since = tl->first_ts;
}

/* End t's slice at ts and begin the next state. */
static void enter(struct cw_timeline *tl, struct thread *t, __u64 ts, enum state st, __u8 reason,
		  __u64 addr)
{
	if (t->state != ST_NONE && ts >= t->since) {
		struct slice *s = cw_grow(tl->slices, &tl->cap_slices, tl->nr_slices + 1,
					  sizeof(*s));

		if (!s) {
			tl->err = -ENOMEM;
			return;
		}
		tl->slices = s;
		tl->slices[tl->nr_slices++] = (struct slice){
			.pid = t->pid, .tid = t->tid, .ts = t->since, .dur = ts - t->since,
			.state = t->state, .reason = t->reason, .addr = t->wait_addr,
		};
	}
	t->state = st;
	t->since = ts;
	t->reason = reason;
	t->wait_addr = addr;
}

static void on_switch(struct cw_timeline *tl, const struct cw_ev_switch *e)
{
	struct thread *prev, *next;

	tl->nr_switches++;
	/* an untraced task switched out is 0/0, as an untraced next is */
	if (e->hdr.tid) {
		add_pid(tl, e->hdr.pid);
		prev = thread(tl, e->hdr.pid, e->hdr.tid);
		if (!prev)
			return;
		running_since_start(tl, prev);
		if (e->reason == CW_OFFCPU_PREEMPTED)
			enter(tl, prev, e->hdr.ts_ns, ST_RUNNABLE, 0, 0);
		else
			enter(tl, prev, e->hdr.ts_ns, ST_WAITING, e->reason, e->wait_addr);
	}
	if (!e->next_tid)
		return;
	add_pid(tl, e->next_pid);
	next = thread(tl, e->next_pid, e->next_tid);
	if (next)
		enter(tl, next, e->hdr.ts_ns, ST_RUNNING, 0, 0);
}

static void on_wakeup(struct cw_timeline *tl, const struct cw_ev_wakeup *e)
{
	struct thread *t, *waker;
	struct flow *f;

	add_pid(tl, e->hdr.pid);
	t = thread(tl, e->hdr.pid, e->hdr.tid);
	if (!t)
		return;
	/* a thread not seen yet is runnable from now on too; a runnable one stays so */
	if (t->state == ST_WAITING || t->state == ST_NONE)
		enter(tl, t, e->hdr.ts_ns, ST_RUNNABLE, 0, 0);
	/* no waker (an interrupt), or one with no track of its own */
	if (!e->waker_tid || !pid_traced(tl, e->waker_pid))
		return;
	waker = thread(tl, e->waker_pid, e->waker_tid);
	if (!waker)
		return;
	running_since_start(tl, waker);
	f = cw_grow(tl->flows, &tl->cap_flows, tl->nr_flows + 1, sizeof(*f));
	if (!f) {
		tl->err = -ENOMEM;
		return;
	}
	tl->flows = f;
	tl->flows[tl->nr_flows++] = (struct flow){
		.from_pid = e->waker_pid, .from_tid = e->waker_tid,
		.to_pid = e->hdr.pid, .to_tid = e->hdr.tid,
		.ts = e->hdr.ts_ns, .reason = e->reason, .addr = e->wait_addr,
	};
}

static void on_lock(struct cw_timeline *tl, const struct cw_ev_lock *e)
{
	struct hold *h;

	if (e->hdr.type == CW_EV_LOCK_RELEASED) {
		/* the latest open hold of this lock by this thread (recursive ones nest) */
		for (size_t i = tl->nr_holds; i-- > 0;) {
			h = &tl->holds[i];
			if (h->dur == OPEN && h->addr == e->addr && h->tid == e->hdr.tid &&
			    h->pid == e->hdr.pid) {
				h->dur = e->hdr.ts_ns > h->ts ? e->hdr.ts_ns - h->ts : 0;
				break;
			}
		}
		return;
	}
	/* cond_wait's own release and re-acquisition of the mutex end and begin holds too */
	if (e->hdr.type != CW_EV_LOCK_ACQUIRED || e->result)
		return;
	h = cw_grow(tl->holds, &tl->cap_holds, tl->nr_holds + 1, sizeof(*h));
	if (!h) {
		tl->err = -ENOMEM;
		return;
	}
	tl->holds = h;
	tl->holds[tl->nr_holds++] = (struct hold){
		.pid = e->hdr.pid, .tid = e->hdr.tid, .addr = e->addr, .ts = e->hdr.ts_ns,
		.dur = OPEN,
	};
	thread(tl, e->hdr.pid, e->hdr.tid);
}

int cw_timeline__feed(void *ctx, const struct cw_hdr *h)
{
	struct cw_timeline *tl = ctx;
	struct thread *t;

	if (!tl->first_ts || h->ts_ns < tl->first_ts)
		tl->first_ts = h->ts_ns;
	if (h->ts_ns > tl->last_ts)
		tl->last_ts = h->ts_ns;
	switch (h->type) {
	case CW_EV_SCHED_SWITCH:
		if (h->size >= sizeof(struct cw_ev_switch))
			on_switch(tl, (const struct cw_ev_switch *)h);
		break;
	case CW_EV_SCHED_WAKEUP:
		if (h->size >= sizeof(struct cw_ev_wakeup))
			on_wakeup(tl, (const struct cw_ev_wakeup *)h);
		break;
	case CW_EV_LOCK_ACQUIRED:
	case CW_EV_LOCK_RELEASED:
		if (h->size >= sizeof(struct cw_ev_lock))
			on_lock(tl, (const struct cw_ev_lock *)h);
		break;
	case CW_EV_COMM:
		if (h->size >= sizeof(struct cw_ev_comm) && (t = thread(tl, h->pid, h->tid)))
			memcpy(t->comm, ((const struct cw_ev_comm *)h)->comm, CW_COMM_LEN - 1);
		break;
	case CW_EV_EXIT:
		t = thread(tl, h->pid, h->tid);
		if (t)
			enter(tl, t, h->ts_ns, ST_NONE, 0, 0);
		break;
	}
	return tl->err;
}

/* ns as the format's µs, exactly: "12345.678". */
static void put_us(FILE *out, __u64 ns)
{
	fprintf(out, "%llu.%03llu", (unsigned long long)(ns / 1000),
		(unsigned long long)(ns % 1000));
}

struct names {
	size_t nr_events;	/* written so far: each after the first follows a comma */
	const struct cw_engine *eng;
	struct cw_symbols *sym;
	struct { __u32 pid; __u64 addr; char *name; } *v;
	size_t nr, cap;
};

static void event(FILE *out, struct names *n)
{
	fputs(n->nr_events++ ? ",\n" : "\n", out);
}

/* The name of what pid waited on at addr, as the report names locks; cached. */
static const char *lock_name(struct names *n, __u32 pid, __u64 addr, __u8 reason)
{
	char buf[256];
	void *v;

	for (size_t i = 0; i < n->nr; i++)
		if (n->v[i].pid == pid && n->v[i].addr == addr)
			return n->v[i].name;
	if (!n->sym)
		snprintf(buf, sizeof(buf), "%s0x%llx", reason == CW_OFFCPU_KLOCK ? "kernel lock " :
			 reason == CW_OFFCPU_FUTEX ? "futex " : "lock ", (unsigned long long)addr);
	else if (reason == CW_OFFCPU_KLOCK)
		cw_symbols__klock_name(n->sym, addr, 0, buf, sizeof(buf));
	else
		cw_symbols__lock_name(n->sym, pid, addr, 0, buf, sizeof(buf));
	v = cw_grow(n->v, &n->cap, n->nr + 1, sizeof(*n->v));
	if (!v)
		return "?";
	n->v = v;
	n->v[n->nr].pid = pid;
	n->v[n->nr].addr = addr;
	n->v[n->nr].name = strdup(buf);
	return n->v[n->nr].name ? n->v[n->nr++].name : "?";
}

static const char *const reason_names[CW_OFFCPU_MAX] = {
	[CW_OFFCPU_NONE] = "blocked",
	[CW_OFFCPU_PREEMPTED] = "runnable",
	[CW_OFFCPU_LOCK] = "lock",
	[CW_OFFCPU_FUTEX] = "futex",
	[CW_OFFCPU_KLOCK] = "kernel lock",
	[CW_OFFCPU_IO] = "I/O",
	[CW_OFFCPU_SLEEP] = "sleeping",
};

static const char *reason_name(__u8 r)
{
	return r < CW_OFFCPU_MAX ? reason_names[r] : "blocked";
}

static int waits_on_object(__u8 reason, __u64 addr)
{
	return addr && (reason == CW_OFFCPU_LOCK || reason == CW_OFFCPU_FUTEX ||
			reason == CW_OFFCPU_KLOCK);
}

static void put_slice(FILE *out, struct names *n, const struct slice *s)
{
	char name[300];

	switch (s->state) {
	case ST_RUNNING:
		snprintf(name, sizeof(name), "running");
		break;
	case ST_RUNNABLE:
		snprintf(name, sizeof(name), "runnable");
		break;
	default:
		if (waits_on_object(s->reason, s->addr))
			snprintf(name, sizeof(name), "waiting on %s",
				 lock_name(n, s->pid, s->addr, s->reason));
		else
			snprintf(name, sizeof(name), "%s", reason_name(s->reason));
	}
	event(out, n);
	fprintf(out, "{\"ph\": \"X\", \"cat\": \"sched\", \"pid\": %u, \"tid\": %u, \"ts\": ",
		s->pid, s->tid);
	put_us(out, s->ts);
	fputs(", \"dur\": ", out);
	put_us(out, s->dur);
	fputs(", \"name\": ", out);
	cw_report__json_string(out, name, sizeof(name));
	if (s->state == ST_WAITING) {
		fprintf(out, ", \"args\": {\"reason\": \"%s\"", reason_name(s->reason));
		if (s->addr)
			fprintf(out, ", \"addr\": \"0x%llx\"", (unsigned long long)s->addr);
		fputc('}', out);
	}
	fputc('}', out);
}

static void put_comm(FILE *out, const struct cw_timeline *tl, const struct cw_engine *eng,
		     const struct thread *t)
{
	const struct cw_thread *et = eng ? cw_engine__find_thread(eng, t->pid, t->tid) : NULL;
	const char *comm = et && et->comm[0] ? et->comm : t->comm;
	char name[CW_COMM_LEN + 16];

	snprintf(name, sizeof(name), "%s", comm[0] ? comm : "?");
	cw_report__json_string(out, name, CW_COMM_LEN);
}

int cw_export__perfetto(FILE *out, const struct cw_timeline *tl, const struct cw_engine *eng,
			struct cw_symbols *sym)
{
	struct names nm = { .eng = eng, .sym = sym }, *n = &nm;
	__u64 end = tl->last_ts;
	char name[300];

	if (tl->err)
		return tl->err;
	fprintf(out, "{\"displayTimeUnit\": \"ns\", \"otherData\": {\"producer\": \"concwatch %s\", "
		     "\"clock\": \"CLOCK_MONOTONIC\"},\n\"traceEvents\": [", CW_VERSION);
	for (size_t i = 0; i < tl->nr_threads; i++) {
		const struct thread *t = &tl->threads[i];
		int first = 1;

		for (size_t k = 0; k < i; k++)
			first &= tl->threads[k].pid != t->pid;
		if (first) {
			const struct thread *leader = t;

			for (size_t k = 0; k < tl->nr_threads; k++)
				if (tl->threads[k].tid == t->pid && tl->threads[k].pid == t->pid)
					leader = &tl->threads[k];
			event(out, n);
			fprintf(out, "{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": %u, "
				     "\"tid\": %u, \"args\": {\"name\": ", t->pid, t->pid);
			put_comm(out, tl, eng, leader);
			fputs("}}", out);
		}
		event(out, n);
		fprintf(out, "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": %u, "
			     "\"tid\": %u, \"args\": {\"name\": ", t->pid, t->tid);
		put_comm(out, tl, eng, t);
		fputs("}}", out);
	}
	for (size_t i = 0; i < tl->nr_slices; i++)
		put_slice(out, n, &tl->slices[i]);
	/* what was still going on when the recording ended */
	for (size_t i = 0; i < tl->nr_threads; i++) {
		const struct thread *t = &tl->threads[i];
		struct slice s = {
			.pid = t->pid, .tid = t->tid, .ts = t->since, .dur = end - t->since,
			.state = t->state, .reason = t->reason, .addr = t->wait_addr,
		};

		if (t->state != ST_NONE && end >= t->since)
			put_slice(out, n, &s);
	}
	for (size_t i = 0; i < tl->nr_holds; i++) {
		const struct hold *h = &tl->holds[i];
		__u64 dur = h->dur == OPEN ? end - h->ts : h->dur;

		snprintf(name, sizeof(name), "holds %s", lock_name(n, h->pid, h->addr,
								   CW_OFFCPU_LOCK));
		for (int e = 0; e < 2; e++) {
			event(out, n);
			fprintf(out, "{\"ph\": \"%s\", \"cat\": \"lock\", \"id\": %zu, "
				     "\"pid\": %u, \"tid\": %u, \"ts\": ", e ? "e" : "b", i + 1,
				h->pid, h->tid);
			put_us(out, h->ts + (e ? dur : 0));
			fputs(", \"name\": ", out);
			cw_report__json_string(out, name, sizeof(name));
			if (!e)
				fprintf(out, ", \"args\": {\"addr\": \"0x%llx\", \"tid\": %u}",
					(unsigned long long)h->addr, h->tid);
			fputc('}', out);
		}
	}
	for (size_t i = 0; i < tl->nr_flows; i++) {
		const struct flow *f = &tl->flows[i];

		if (waits_on_object(f->reason, f->addr))
			snprintf(name, sizeof(name), "wakeup: waiting on %s",
				 lock_name(n, f->to_pid, f->addr, f->reason));
		else
			snprintf(name, sizeof(name), "wakeup");
		for (int e = 0; e < 2; e++) {
			event(out, n);
			fprintf(out, "{\"ph\": \"%s\", \"cat\": \"wakeup\", \"id\": %zu, "
				     "\"pid\": %u, \"tid\": %u, \"ts\": ", e ? "f" : "s", i + 1,
				e ? f->to_pid : f->from_pid, e ? f->to_tid : f->from_tid);
			put_us(out, f->ts);
			fputs(", \"name\": ", out);
			cw_report__json_string(out, name, sizeof(name));
			fputs(e ? ", \"bp\": \"e\"}" : "}", out);
		}
	}
	fputs("\n]}\n", out);
	for (size_t i = 0; i < n->nr; i++)
		free(n->v[i].name);
	free(n->v);
	return ferror(out) ? -EIO : 0;
}
