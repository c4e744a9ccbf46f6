// SPDX-License-Identifier: GPL-2.0
/*
 * The renderers of livelock findings (render.c's table): the threads that kept failing,
 * each lock they failed on, who held it then, how often they failed, and the stack of
 * their latest failing call. The engine (engine/livelock.h) decided what is a livelock;
 * here it is only drawn.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/findings.h"
#include "report/report.h"
#include "report/symbols.h"

#define NAME_LEN 256

static const char *op_name(__u8 op)
{
	switch (op) {
	case CW_OP_TRYLOCK:
		return "trylock";
	case CW_OP_TIMEDLOCK:
		return "timedlock";
	case CW_OP_TRYRDLOCK:
		return "tryrdlock";
	case CW_OP_TIMEDRDLOCK:
		return "timedrdlock";
	case CW_OP_TRYWRLOCK:
		return "trywrlock";
	case CW_OP_TIMEDWRLOCK:
		return "timedwrlock";
	default:
		return "acquire";
	}
}

/* Failures per second over span ns (0 when the span is empty). */
static double rate(__u64 n, __u64 span)
{
	return span ? (double)n * 1e9 / (double)span : 0;
}

static __u64 duration(const struct cw_livelock *ll)
{
	return ll->last_ns > ll->first_ns ? ll->last_ns - ll->first_ns : 0;
}

/* The failures of thread tid over all its links. */
static __u64 thread_failures(const struct cw_livelock *ll, __u32 tid)
{
	__u64 n = 0;

	for (size_t i = 0; i < ll->nr_links; i++)
		if (ll->links[i].tid == tid)
			n += ll->links[i].failures;
	return n;
}

static void stack_of(const struct cw_render *r, __u32 pid, __u64 id, struct cw_ustack *s,
		     int *ok)
{
	const struct cw_stack *st = id ? cw_engine__find_stack(r->eng, pid, CW_STACK_USER, id) :
					  NULL;

	*ok = st && !cw_symbols__resolve(r->sym, st, s);
}

static void text_finding(const struct cw_render *r, const struct cw_finding *f, size_t number)
{
	const struct cw_livelock *ll = &f->livelock;
	__u32 pid = f->threads[0].pid;
	char comm[CW_SAFE_COMM_LEN], name[NAME_LEN], buf[32], thr[32];
	__u64 first = cw_engine__first_ts(r->eng);
	FILE *out = r->out;

	fprintf(out, "\n======================================================\n");
	fprintf(out, "WARNING: livelock: threads keep failing to take locks the others hold\n");
	fprintf(out, "finding %zu: livelock, process %u, %zu threads, %zu lock%s\n", number, pid,
		f->nr_threads, f->nr_locks, f->nr_locks == 1 ? "" : "s");
	fprintf(out, "------------------------------------------------------\n");
	fprintf(out, "%llu failed attempts in %s (%.0f/s), none of them followed by the lock; "
		     "began %s after tracing began, %s (threshold %s).\n\n",
		(unsigned long long)ll->failures, cw_report__fmt_ns(buf, sizeof(buf), duration(ll)),
		rate(ll->failures, duration(ll)),
		cw_report__fmt_ns(name, sizeof(name), ll->first_ns > first ? ll->first_ns - first : 0),
		ll->ended ? "then they stopped" : "still going when the trace ended",
		cw_report__fmt_ns(thr, sizeof(thr), ll->threshold_ns));
	for (size_t i = 0; i < ll->nr_links; i++) {
		const struct cw_livelock_link *l = &ll->links[i];
		const struct cw_finding_lock *fl = &f->locks[l->lock];
		struct cw_ustack s = {};
		int ok;

		cw_symbols__lock_name(r->sym, pid, fl->addr, fl->ip, name, sizeof(name));
		fprintf(out, "  %s/%u failed %llu %s%s of %s (0x%llx)",
			cw_report__text_safe(cw_report__comm(r->eng, pid, l->tid), CW_COMM_LEN, comm,
					     sizeof(comm)),
			l->tid, (unsigned long long)l->failures, op_name(l->op),
			l->failures == 1 ? "" : "s", name, (unsigned long long)fl->addr);
		if (l->owner_tid)
			fprintf(out, ", held by %s/%u\n",
				cw_report__text_safe(cw_report__comm(r->eng, pid, l->owner_tid),
						     CW_COMM_LEN, comm, sizeof(comm)),
				l->owner_tid);
		else
			fprintf(out, ", holder not known\n");
		stack_of(r, pid, f->stacks[l->stack].id, &s, &ok);
		if (ok)
			cw_report__text_stack(out, &s, "      ");
		else
			fprintf(out, "      (no stack)\n");
		cw_ustack__fini(&s);
	}
	fprintf(out, "\nEach keeps trying a lock another one holds, and lets go of its own only "
		     "to take it again: they run, and none of them gets anywhere.\n");
	fprintf(out, "\n *** LIVELOCK ***\n");
}

/*
 * The thread's scheduling since it was first traced (CW_EV_THREAD_STATS), null when none
 * came: failed attempts on any lock, time on CPU, switches (its sleeps and yields between
 * attempts): that it ran and retried. Its failed attempts are at least those of the
 * livelock (failures): the BPF programs count them in the scheduling figures too, the
 * in-process library only per lock.
 */
static void json_thread_sched(FILE *out, const struct cw_engine *eng, __u32 pid, __u32 tid,
			      __u64 failures)
{
	const struct cw_thread *t = cw_engine__find_thread(eng, pid, tid);
	const struct cw_ev_thread_stats *st = t ? cw_thread__stats(t) : NULL;

	if (!st) {
		fputs(", \"trylock_failures\": null, \"oncpu_ns\": null, \"switches\": null", out);
		return;
	}
	fprintf(out, ", \"trylock_failures\": %llu, \"oncpu_ns\": %llu, \"switches\": %llu",
		(unsigned long long)(st->trylock_failures > failures ? st->trylock_failures :
								       failures),
		(unsigned long long)st->oncpu_ns,
		(unsigned long long)(st->nr_voluntary + st->nr_involuntary));
}

static void json_finding(const struct cw_render *r, const struct cw_finding *f)
{
	const struct cw_livelock *ll = &f->livelock;
	__u32 pid = f->threads[0].pid;
	char name[NAME_LEN], summary[NAME_LEN];
	__u64 d = duration(ll);
	FILE *out = r->out;

	fprintf(out, "{\"kind\": \"livelock\", \"severity\": \"warning\", \"started_at_ns\": %llu, "
		     "\"formed_at_ns\": %llu, \"confirmed_at_ns\": %llu, \"last_failure_ns\": %llu, "
		     "\"ended\": %s, \"duration_ns\": %llu, \"threshold_ns\": %llu, "
		     "\"failures\": %llu, \"failure_rate\": %.1f, \"retry_rate\": %.1f, \"locks\": [",
		(unsigned long long)ll->first_ns, (unsigned long long)ll->formed_ns,
		(unsigned long long)ll->confirmed_ns, (unsigned long long)ll->last_ns,
		ll->ended ? "true" : "false", (unsigned long long)d,
		(unsigned long long)ll->threshold_ns, (unsigned long long)ll->failures,
		rate(ll->failures, d), rate(ll->failures, d) / (double)(f->nr_threads ?: 1));
	for (size_t i = 0; i < f->nr_locks; i++) {
		const struct cw_finding_lock *l = &f->locks[i];

		cw_symbols__lock_name(r->sym, l->pid, l->addr, l->ip, name, sizeof(name));
		fprintf(out, "%s{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ", i ? ", " : "",
			(unsigned long long)l->addr, l->pid);
		cw_report__json_string(out, name, sizeof(name));
		fprintf(out, ", \"type\": \"%s\"}", cw_lock_kind__name(l->type));
	}
	fputs("], \"threads\": [", out);
	for (size_t i = 0; i < f->nr_threads; i++) {
		__u64 n = thread_failures(ll, f->threads[i].tid);

		fprintf(out, "%s{\"tid\": %u, \"comm\": ", i ? ", " : "", f->threads[i].tid);
		cw_report__json_string(out, cw_report__comm(r->eng, pid, f->threads[i].tid),
				       CW_COMM_LEN);
		fprintf(out, ", \"failures\": %llu, \"failure_rate\": %.1f", (unsigned long long)n,
			rate(n, d));
		json_thread_sched(out, r->eng, pid, f->threads[i].tid, n);
		fputc('}', out);
	}
	fputs("], \"attempts\": [", out);
	for (size_t i = 0; i < ll->nr_links; i++) {
		const struct cw_livelock_link *l = &ll->links[i];
		struct cw_ustack s = {};
		int ok;

		fprintf(out, "%s{\"tid\": %u, \"lock\": \"0x%llx\", \"op\": \"%s\", \"failures\": %llu, "
			     "\"first_ns\": %llu, \"last_ns\": %llu, \"held_by\": ", i ? ", " : "",
			l->tid, (unsigned long long)f->locks[l->lock].addr, op_name(l->op),
			(unsigned long long)l->failures, (unsigned long long)l->first_ns,
			(unsigned long long)l->last_ns);
		if (l->owner_tid)
			fprintf(out, "%u", l->owner_tid);
		else
			fputs("null", out);
		fprintf(out, ", \"timed_wait_ns\": %llu, \"stack\": ", (unsigned long long)l->wait_ns);
		stack_of(r, pid, f->stacks[l->stack].id, &s, &ok);
		if (ok)
			cw_report__json_frames(out, &s);
		else
			fputs("[]", out);
		cw_ustack__fini(&s);
		fputc('}', out);
	}
	snprintf(summary, sizeof(summary),
		 "%zu threads failed %llu attempts on %zu locks in %.3f s without taking one",
		 f->nr_threads, (unsigned long long)ll->failures, f->nr_locks, (double)d / 1e9);
	fputs("], \"summary\": ", out);
	cw_report__json_string(out, summary, sizeof(summary));
	fputc('}', out);
}

/* A livelock makes no lock-order dependency (a trylock makes none): no edge to mark. */
static void dot_marks(const struct cw_finding *f, unsigned char *edge_mark)
{
}

const struct cw_finding_renderer cw_livelock_renderer = {
	.text = text_finding,
	.json = json_finding,
	.dot = dot_marks,
};
