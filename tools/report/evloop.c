// SPDX-License-Identifier: GPL-2.0
/*
 * The renderers of event_loop_stall findings (render.c's table): the loop's thread, its
 * longest stall (how long, from when, how much of it on a CPU, whether it ended), how
 * many stalls and their time, and the loop's iterations (p50, p99, longest). The engine
 * (engine/evloop.h) decided what a stall is; here it is only drawn.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/evloop.h"
#include "engine/findings.h"
#include "report/report.h"

#define NAME_LEN 256

/* The loop wait a system call number names. */
const char *cw_report__loop_wait_name(__u32 nr)
{
	switch (nr) {
	case 7:
		return "poll";
	case 23:
		return "select";
	case 232:
		return "epoll_wait";
	case 270:
		return "pselect6";
	case 271:
		return "ppoll";
	case 281:
		return "epoll_pwait";
	case 426:
		return "io_uring_enter";
	case 441:
		return "epoll_pwait2";
	default:
		return "wait";
	}
}

/* The share of the stall on a CPU, %; -1: not known. */
static double oncpu_pct(const struct cw_loop_finding *l)
{
	if (!l->oncpu_known || !l->duration_ns)
		return -1;
	return 100.0 * (double)(l->oncpu_ns < l->duration_ns ? l->oncpu_ns : l->duration_ns) /
	       (double)l->duration_ns;
}

static void text_finding(const struct cw_render *r, const struct cw_finding *f, size_t number)
{
	const struct cw_loop_finding *l = &f->loop;
	__u32 pid = f->threads[0].pid, tid = f->threads[0].tid;
	char comm[CW_SAFE_COMM_LEN], d[32], at[32], thr[32], tot[32], p50[32], p99[32], mx[32];
	__u64 first = cw_engine__first_ts(r->eng);
	double cpu = oncpu_pct(l);
	FILE *out = r->out;

	cw_report__text_safe(cw_report__comm(r->eng, pid, tid), CW_COMM_LEN, comm, sizeof(comm));
	fprintf(out, "\n======================================================\n");
	fprintf(out, "WARNING: event loop stall: a loop's thread ran %s without going back to "
		     "its %s\n", cw_report__fmt_ns(d, sizeof(d), l->duration_ns),
		cw_report__loop_wait_name(l->wait_nr));
	fprintf(out, "finding %zu: event_loop_stall, process %u, thread %s/%u\n", number, pid,
		comm, tid);
	fprintf(out, "------------------------------------------------------\n");
	fprintf(out, "The longest stall began %s after tracing began and %s %s",
		cw_report__fmt_ns(at, sizeof(at), l->start_ns > first ? l->start_ns - first : 0),
		l->ongoing ? "had lasted" : "lasted", d);
	if (cpu >= 0)
		fprintf(out, ", %.0f%% of it on a CPU (%s)", cpu,
			cpu >= 50 ? "busy: slow work in a callback" :
				    "mostly off a CPU: blocked inside the loop");
	else
		fprintf(out, " (time on a CPU not measured)");
	fprintf(out, "%s.\n", l->ongoing ? "; it was still going on when the trace ended" : "");
	fprintf(out, "%llu stall%s of %s or more, %s in all; %llu iterations: p50 %s, p99 %s, "
		     "longest %s.\n",
		(unsigned long long)l->stalls, l->stalls == 1 ? "" : "s",
		cw_report__fmt_ns(thr, sizeof(thr), l->threshold_ns),
		cw_report__fmt_ns(tot, sizeof(tot), l->stall_ns_total),
		(unsigned long long)l->iterations, cw_report__fmt_ns(p50, sizeof(p50), l->busy_p50_ns),
		cw_report__fmt_ns(p99, sizeof(p99), l->busy_p99_ns),
		cw_report__fmt_ns(mx, sizeof(mx), l->busy_max_ns));
	fprintf(out, "\nWhile one callback runs, every other task of the loop waits: its "
		     "connections, timers and callbacks are served only after it.\n");
}

static void json_finding(const struct cw_render *r, const struct cw_finding *f)
{
	const struct cw_loop_finding *l = &f->loop;
	__u32 pid = f->threads[0].pid, tid = f->threads[0].tid;
	char summary[NAME_LEN], d[32];
	double cpu = oncpu_pct(l);
	FILE *out = r->out;

	fprintf(out, "{\"kind\": \"event_loop_stall\", \"severity\": \"warning\", \"tid\": %u, "
		     "\"comm\": ", tid);
	cw_report__json_string(out, cw_report__comm(r->eng, pid, tid), CW_COMM_LEN);
	fprintf(out, ", \"threads\": [{\"tid\": %u, \"comm\": ", tid);
	cw_report__json_string(out, cw_report__comm(r->eng, pid, tid), CW_COMM_LEN);
	fprintf(out, "}], \"wait\": \"%s\", \"start_ns\": %llu, \"duration_ns\": %llu, "
		     "\"ended\": %s, \"oncpu_ns\": ",
		cw_report__loop_wait_name(l->wait_nr), (unsigned long long)l->start_ns,
		(unsigned long long)l->duration_ns, l->ongoing ? "false" : "true");
	if (l->oncpu_known)
		fprintf(out, "%llu, \"oncpu_share\": %.3f", (unsigned long long)l->oncpu_ns,
			cpu / 100);
	else
		fputs("null, \"oncpu_share\": null", out);
	fprintf(out, ", \"stalls\": %llu, \"stall_ns_total\": %llu, \"threshold_ns\": %llu, "
		     "\"iterations\": %llu, \"iteration_p50_ns\": %llu, \"iteration_p99_ns\": %llu, "
		     "\"iteration_max_ns\": %llu, \"stack\": []",
		(unsigned long long)l->stalls, (unsigned long long)l->stall_ns_total,
		(unsigned long long)l->threshold_ns, (unsigned long long)l->iterations,
		(unsigned long long)l->busy_p50_ns, (unsigned long long)l->busy_p99_ns,
		(unsigned long long)l->busy_max_ns);
	snprintf(summary, sizeof(summary), "thread %u ran %s without going back to its %s", tid,
		 cw_report__fmt_ns(d, sizeof(d), l->duration_ns),
		 cw_report__loop_wait_name(l->wait_nr));
	fputs(", \"summary\": ", out);
	cw_report__json_string(out, summary, sizeof(summary));
	fputc('}', out);
}

/* A loop thread: one that came back to its loop wait at least once (an iteration). */
static int is_loop(const struct cw_evloop_thread *t)
{
	return t->has_stats && t->stats.iterations;
}

/* The loop threads and their iterations, after the findings. */
static void text_rest(const struct cw_render *r)
{
	const struct cw_evloop *ev = cw_engine__evloop(r->eng);
	char comm[CW_SAFE_COMM_LEN], p50[32], p99[32], mx[32];
	FILE *out = r->out;
	int head = 0;

	for (size_t i = 0; i < cw_evloop__nr(ev); i++) {
		const struct cw_evloop_thread *t = cw_evloop__get(ev, i);
		const struct cw_ev_loop_stats *st = &t->stats;

		if (!is_loop(t))
			continue;
		if (!head++)
			fprintf(out, "\nEvent loops (threads that wait in epoll_wait, poll, select or "
				     "io_uring_enter; an iteration: from a wait's return to the next "
				     "wait):\n%-16s %8s %8s %-14s %10s %10s %9s %9s %9s %7s\n",
				"THREAD", "PID", "TID", "WAIT", "WAITS", "ITERATIONS", "P50", "P99",
				"LONGEST", "STALLS");
		fprintf(out, "%-16s %8u %8u %-14s %10llu %10llu %9s %9s %9s %7llu\n",
			cw_report__text_safe(cw_report__comm(r->eng, t->pid, t->tid), CW_COMM_LEN,
					     comm, sizeof(comm)),
			t->pid, t->tid, cw_report__loop_wait_name(st->wait_nr),
			(unsigned long long)st->waits, (unsigned long long)st->iterations,
			cw_report__fmt_ns(p50, sizeof(p50), cw_evloop__percentile(t, 50)),
			cw_report__fmt_ns(p99, sizeof(p99), cw_evloop__percentile(t, 99)),
			cw_report__fmt_ns(mx, sizeof(mx), st->busy_ns_max),
			(unsigned long long)(t->stalls + (t->ongoing.duration_ns != 0)));
	}
}

/* "event_loops": the loop threads and their iterations. */
static void json_fields(const struct cw_render *r)
{
	const struct cw_evloop *ev = cw_engine__evloop(r->eng);
	FILE *out = r->out;
	size_t n = 0;

	fputs(",\n  \"event_loops\": [", out);
	for (size_t i = 0; i < cw_evloop__nr(ev); i++) {
		const struct cw_evloop_thread *t = cw_evloop__get(ev, i);
		const struct cw_ev_loop_stats *st = &t->stats;

		if (!is_loop(t))
			continue;
		fprintf(out, "%s{\"pid\": %u, \"tid\": %u, \"comm\": ", n++ ? ",\n    " : "\n    ",
			t->pid, t->tid);
		cw_report__json_string(out, cw_report__comm(r->eng, t->pid, t->tid), CW_COMM_LEN);
		fprintf(out, ", \"wait\": \"%s\", \"waits\": %llu, \"iterations\": %llu, "
			     "\"iteration_ns_total\": %llu, \"wait_ns_total\": %llu, "
			     "\"iteration_p50_ns\": %llu, \"iteration_p99_ns\": %llu, "
			     "\"iteration_max_ns\": %llu, \"stalls\": %llu, \"in_wait\": %s}",
			cw_report__loop_wait_name(st->wait_nr), (unsigned long long)st->waits,
			(unsigned long long)st->iterations, (unsigned long long)st->busy_ns_total,
			(unsigned long long)st->wait_ns_total,
			(unsigned long long)cw_evloop__percentile(t, 50),
			(unsigned long long)cw_evloop__percentile(t, 99),
			(unsigned long long)st->busy_ns_max,
			(unsigned long long)(t->stalls + (t->ongoing.duration_ns != 0)),
			st->in_wait ? "true" : "false");
	}
	if (n)
		fputs("\n  ", out);
	fputc(']', out);
}

static void dot_marks(const struct cw_finding *f, unsigned char *edge_mark)
{
}

const struct cw_finding_renderer cw_loop_stall_renderer = {
	.text = text_finding,
	.text_rest = text_rest,
	.json = json_finding,
	.json_fields = json_fields,
	.dot = dot_marks,
};
