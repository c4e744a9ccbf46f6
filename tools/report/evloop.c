// SPDX-License-Identifier: GPL-2.0
/*
 * The renderers of event_loop_stall findings (render.c's table): the loop's thread, its
 * longest stall (how long, from when, how much of it on a CPU, whether it ended), how
 * many stalls and their time, and the loop's iterations (p50, p99, longest). The engine
 * (engine/evloop.h) decided what a stall is; here it is only drawn.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/evloop.h"
#include "engine/findings.h"
#include "report/report.h"
#include "report/symbols.h"

#define NAME_LEN 256

/* The loop wait a system call number names. */
const char *cw_report__loop_wait_name(__u32 nr)
{
	return cw_report__syscall_name(nr) ?: "wait";
}

/*
 * Samples grouped by where they were once unwound: one group per call path as people read
 * it, the functions from the innermost out (a sample's pc is anywhere in its function, so
 * addresses would not group). A stack that does not resolve groups only with its own id.
 */
struct sample_group {
	__u64 hash;
	size_t nr;		/* frames; (size_t)-1: not resolved */
	size_t first;		/* the stacks[] index of its first sample */
	size_t count;
};

static __u64 hash_str(__u64 h, const char *str)
{
	for (; *str; str++) {
		h ^= (unsigned char)*str;
		h *= 1099511628211ULL;
	}
	return h * 1099511628211ULL;
}

/* A stack of the model by its reference, resolved; 0, or -1 (u is empty then). */
static int resolve_ref(struct cw_symbols *sym, const struct cw_stack_ref *ref,
		       struct cw_ustack *u)
{
	const struct cw_stack *st = ref->id ? cw_engine__find_stack(cw_symbols__engine(sym),
								    ref->pid, ref->space, ref->id) :
					      NULL;

	memset(u, 0, sizeof(*u));
	if (!st)
		return -1;
	if (cw_symbols__resolve(sym, st, u)) {
		cw_ustack__fini(u);
		memset(u, 0, sizeof(*u));
		return -1;
	}
	return 0;
}

static struct sample_group sample_key(struct cw_symbols *sym, const struct cw_stack_ref *ref)
{
	struct sample_group g = { .hash = 1469598103934665603ULL, .nr = (size_t)-1, .count = 1 };
	struct cw_ustack u;

	if (resolve_ref(sym, ref, &u)) {
		g.hash ^= ref->id;
		return g;
	}
	for (size_t i = 0; i < u.nr; i++) {
		const struct cw_frame *fr = &u.frames[i];

		if (fr->func) {
			g.hash = hash_str(g.hash, fr->func);
		} else {
			g.hash ^= fr->addr;
			g.hash *= 1099511628211ULL;
		}
	}
	g.nr = u.nr;
	cw_ustack__fini(&u);
	return g;
}

static int by_count(const void *a, const void *b)
{
	const struct sample_group *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->first < y->first ? -1 : 1;
}

/* Groups of f's samples, most samples first; *out malloc'ed. 0 or -ENOMEM. */
static int sample_groups(struct cw_symbols *sym, const struct cw_finding *f,
			 struct sample_group **out, size_t *nr_out)
{
	struct sample_group *g = malloc((f->nr_stacks ?: 1) * sizeof(*g));
	size_t n = 0;

	*out = g;
	*nr_out = 0;
	if (!g)
		return -ENOMEM;
	for (size_t i = 0; i < f->nr_stacks; i++) {
		struct sample_group k = sample_key(sym, &f->stacks[i]);
		size_t j;

		for (j = 0; j < n; j++)
			if (g[j].hash == k.hash && g[j].nr == k.nr)
				break;
		if (j < n) {
			g[j].count++;
			continue;
		}
		k.first = i;
		g[n++] = k;
	}
	qsort(g, n, sizeof(*g), by_count);
	*nr_out = n;
	return 0;
}

/*
 * The function most of a stall's samples were under: of the functions in more than half
 * of the samples' stacks (main, the loop's own dispatch, and the culprit), the one in the
 * fewest, innermost on a tie: the most specific place the stall was. NULL when no
 * function is in more than half of them (*count then 0). The name is malloc'ed.
 */
struct func_count {
	char *name;
	size_t count;		/* samples it is in */
	size_t innermost;	/* the least frame index it was seen at */
	size_t last;		/* the last sample counted + 1 */
};

/* Samples looked at for it: enough to find where most of them were. */
#define HOT_SAMPLES 4096

static char *hot_function(struct cw_symbols *sym, const struct cw_finding *f, size_t *count)
{
	struct func_count *v = NULL, *best = NULL;
	size_t n = 0, cap = 0, nr = f->nr_stacks < HOT_SAMPLES ? f->nr_stacks : HOT_SAMPLES;
	char *name = NULL;

	*count = 0;
	for (size_t i = 0; i < nr; i++) {
		struct cw_ustack u;

		if (resolve_ref(sym, &f->stacks[i], &u))
			continue;
		for (size_t j = 0; j < u.nr; j++) {
			const char *fn = u.frames[j].func;
			size_t k;

			if (!fn)
				continue;
			for (k = 0; k < n && strcmp(v[k].name, fn); k++)
				;
			if (k == n) {
				struct func_count *g = cw_grow(v, &cap, n + 1, sizeof(*v));

				if (!g || !(fn = strdup(fn))) {
					v = g ?: v;
					cw_ustack__fini(&u);
					goto out;
				}
				v = g;
				v[n++] = (struct func_count){ .name = (char *)fn, .innermost = j };
			}
			if (v[k].last == i + 1)
				continue;	/* recursion: once per sample */
			v[k].last = i + 1;
			v[k].count++;
			if (j < v[k].innermost)
				v[k].innermost = j;
		}
		cw_ustack__fini(&u);
	}
	for (size_t k = 0; k < n; k++) {
		if (v[k].count * 2 <= nr)
			continue;
		if (!best || v[k].count < best->count ||
		    (v[k].count == best->count && v[k].innermost < best->innermost))
			best = &v[k];
	}
	if (best) {
		name = strdup(best->name);
		*count = best->count;
	}
out:
	for (size_t k = 0; k < n; k++)
		free(v[k].name);
	free(v);
	return name;
}

/* A resolved stack in text, or why there is none. */
static void text_stack_ref(const struct cw_render *r, const struct cw_stack_ref *ref,
			   const char *indent)
{
	cw_report__text_stack_of(r->out, r->sym,
				 ref->id ? cw_engine__find_stack(r->eng, ref->pid, ref->space,
								 ref->id) :
					   NULL,
				 indent);
}

/* Call paths shown of a stall's samples: the rest are counted. */
#define STALL_PATHS 3

static void text_samples(const struct cw_render *r, const struct cw_finding *f)
{
	const struct cw_loop_finding *l = &f->loop;
	struct sample_group *g;
	size_t n, shown = 0, hot_count;
	FILE *out = r->out;
	char *hot;

	if (!f->nr_stacks) {
		fprintf(out, "No sample of it on a CPU: its time was spent off a CPU, or too "
			     "short for the sampler (every 20 ms from half the threshold on).\n");
		return;
	}
	if (sample_groups(r->sym, f, &g, &n)) {
		fprintf(out, "(out of memory grouping its samples)\n");
		return;
	}
	fprintf(out, "Where it was: %zu sample%s on a CPU during its stalls", f->nr_stacks,
		f->nr_stacks == 1 ? "" : "s");
	if (l->kernel_samples)
		fprintf(out, " (%llu in the kernel: a system call or a page fault, shown from "
			     "where it entered)", (unsigned long long)l->kernel_samples);
	hot = hot_function(r->sym, f, &hot_count);
	if (hot)
		fprintf(out, "; %zu of %zu under %s%s", hot_count,
			f->nr_stacks < HOT_SAMPLES ? f->nr_stacks : HOT_SAMPLES, hot,
			strchr(hot, ' ') ? "" : "()");	/* a JIT name says what it is */
	free(hot);
	fprintf(out, ". By call path:\n");
	for (size_t i = 0; i < n && i < STALL_PATHS; i++) {
		fprintf(out, "  %zu of %zu (%.0f%%):\n", g[i].count, f->nr_stacks,
			100.0 * g[i].count / f->nr_stacks);
		text_stack_ref(r, &f->stacks[g[i].first], "      ");
		shown += g[i].count;
	}
	if (shown < f->nr_stacks)
		fprintf(out, "  %zu more on %zu other call path%s\n", f->nr_stacks - shown,
			n - STALL_PATHS, n - STALL_PATHS == 1 ? "" : "s");
	free(g);
}

/* A FRAME array of ref ([] when none), as the contract has it. */
static void json_stack_ref(const struct cw_render *r, const struct cw_stack_ref *ref)
{
	struct cw_ustack u;

	if (resolve_ref(r->sym, ref, &u)) {
		fputs("[]", r->out);
		return;
	}
	cw_report__json_frames(r->out, &u);
	cw_ustack__fini(&u);
}

/* "stack": the stalls' top call path; "samples", "sample_stacks": every path, by count. */
static void json_samples(const struct cw_render *r, const struct cw_finding *f)
{
	struct sample_group *g;
	FILE *out = r->out;
	size_t n, hot_count;
	char *hot;

	if (!f->nr_stacks || sample_groups(r->sym, f, &g, &n)) {
		fputs(", \"stack\": [], \"samples\": 0, \"kernel_samples\": 0, \"hot_function\": null, "
		      "\"sample_stacks\": []", out);
		return;
	}
	fputs(", \"stack\": ", out);
	json_stack_ref(r, &f->stacks[g[0].first]);
	fprintf(out, ", \"samples\": %zu, \"kernel_samples\": %llu, \"hot_function\": ",
		f->nr_stacks, (unsigned long long)f->loop.kernel_samples);
	hot = hot_function(r->sym, f, &hot_count);
	if (hot) {
		fputs("{\"func\": ", out);
		cw_report__json_string(out, hot, SIZE_MAX);
		fprintf(out, ", \"samples\": %zu}", hot_count);
	} else {
		fputs("null", out);
	}
	free(hot);
	fputs(", \"sample_stacks\": [", out);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s{\"samples\": %zu, \"frames\": ", i ? ", " : "", g[i].count);
		json_stack_ref(r, &f->stacks[g[i].first]);
		fputc('}', out);
	}
	fputc(']', out);
	free(g);
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
	fputc('\n', out);
	text_samples(r, f);
	if (cpu >= 0 && cpu < 50)
		fprintf(out, "What it blocked in: the blocking_in_event_loop findings of thread "
			     "%u.\n", tid);
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
		     "\"iteration_max_ns\": %llu",
		(unsigned long long)l->stalls, (unsigned long long)l->stall_ns_total,
		(unsigned long long)l->threshold_ns, (unsigned long long)l->iterations,
		(unsigned long long)l->busy_p50_ns, (unsigned long long)l->busy_p99_ns,
		(unsigned long long)l->busy_max_ns);
	json_samples(r, f);
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
	/* nothing dropped silently: blocks, samples and stalls past the engine's bounds */
	for (size_t i = 0; i < cw_evloop__nr(ev); i++) {
		const struct cw_evloop_thread *t = cw_evloop__get(ev, i);

		if (is_loop(t) && t->dropped)
			fprintf(out, "thread %u: %llu blocks, samples or stalls past the bounds kept "
				     "per loop thread (%d each) were counted, not kept\n",
				t->tid, (unsigned long long)t->dropped, CW_EVLOOP_MAX_SAMPLES);
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
			     "\"iteration_max_ns\": %llu, \"stalls\": %llu, \"in_wait\": %s, "
			     "\"dropped\": %llu}",
			cw_report__loop_wait_name(st->wait_nr), (unsigned long long)st->waits,
			(unsigned long long)st->iterations, (unsigned long long)st->busy_ns_total,
			(unsigned long long)st->wait_ns_total,
			(unsigned long long)cw_evloop__percentile(t, 50),
			(unsigned long long)cw_evloop__percentile(t, 99),
			(unsigned long long)st->busy_ns_max,
			(unsigned long long)(t->stalls + (t->ongoing.duration_ns != 0)),
			st->in_wait ? "true" : "false", (unsigned long long)t->dropped);
	}
	if (n)
		fputs("\n  ", out);
	fputc(']', out);
}

static void dot_marks(const struct cw_finding *f, unsigned char *edge_mark)
{
}

/* --- blocking_in_event_loop ---------------------------------------------------------- */

/* What the loop's thread waited on: a lock, a futex word, a kernel lock; "" for a call. */
static void block_object(const struct cw_render *r, const struct cw_finding *f, char *buf,
			 size_t len)
{
	const struct cw_loop_block_finding *b = &f->block;
	__u32 pid = f->threads[0].pid;

	buf[0] = 0;
	if (f->nr_locks)
		cw_symbols__lock_name(r->sym, pid, f->locks[0].addr, f->locks[0].ip, buf, len);
	else if (b->reason == CW_OFFCPU_KLOCK)
		cw_symbols__klock_name(r->sym, b->addr, 0, buf, len);
	else if (b->addr)
		cw_symbols__object_name(r->sym, pid, b->addr, CW_LOCK_FUTEX, 0, buf, len);
}

/* "on mutex `m`", "on futex word ...", "in nanosleep() (sleeping)": the headline's cause. */
static const char *block_cause(const struct cw_render *r, const struct cw_finding *f,
			       char *buf, size_t len)
{
	const struct cw_loop_block_finding *b = &f->block;
	char obj[NAME_LEN], call[64];

	block_object(r, f, obj, sizeof(obj));
	if (f->nr_locks)
		snprintf(buf, len, "on %s `%s`", cw_lock_kind__name(f->locks[0].type), obj);
	else if (b->reason == CW_OFFCPU_KLOCK)
		snprintf(buf, len, "on kernel lock %s", obj);
	else if (b->addr)
		snprintf(buf, len, "on %s", obj);
	else
		snprintf(buf, len, "%s (%s)", cw_report__syscall_in(call, sizeof(call), b->nr),
			 b->reason == CW_OFFCPU_IO ? "uninterruptible: disk or other I/O" :
						     "sleeping");
	return buf;
}

static void text_block(const struct cw_render *r, const struct cw_finding *f, size_t number)
{
	const struct cw_loop_block_finding *b = &f->block;
	__u32 pid = f->threads[0].pid, tid = f->threads[0].tid;
	char comm[CW_SAFE_COMM_LEN], hcomm[CW_SAFE_COMM_LEN], cause[NAME_LEN + 64];
	char mx[32], tot[32], thr[32], at[32], call[64];
	__u64 first = cw_engine__first_ts(r->eng);
	FILE *out = r->out;

	cw_report__text_safe(cw_report__comm(r->eng, pid, tid), CW_COMM_LEN, comm, sizeof(comm));
	block_cause(r, f, cause, sizeof(cause));
	fprintf(out, "\n======================================================\n");
	fprintf(out, "WARNING: blocking in an event loop: a loop's thread blocked %s %s\n",
		cw_report__fmt_ns(mx, sizeof(mx), b->max_ns), cause);
	fprintf(out, "finding %zu: blocking_in_event_loop, process %u, thread %s/%u\n", number,
		pid, comm, tid);
	fprintf(out, "------------------------------------------------------\n");
	fprintf(out, "Inside its iterations (not in its loop wait) it blocked %llu time%s for %s or "
		     "more %s: %s in all, the longest %s, %s after tracing began%s.\n",
		(unsigned long long)b->count, b->count == 1 ? "" : "s",
		cw_report__fmt_ns(thr, sizeof(thr), b->threshold_ns), cause,
		cw_report__fmt_ns(tot, sizeof(tot), b->total_ns), mx,
		cw_report__fmt_ns(at, sizeof(at),
				  b->longest_start_ns > first ? b->longest_start_ns - first : 0),
		b->in_stall ? ", inside an event_loop_stall" : "");
	if (b->addr && b->nr != ~0U)
		fprintf(out, "It was %s.\n", cw_report__syscall_in(call, sizeof(call), b->nr));
	if (f->nr_threads > 1)
		fprintf(out, "The lock's holder when it went to sleep: thread %s/%u.\n",
			cw_report__text_safe(cw_report__comm(r->eng, pid, f->threads[1].tid),
					     CW_COMM_LEN, hcomm, sizeof(hcomm)),
			f->threads[1].tid);
	fprintf(out, "\nWhere it blocked (the longest):\n");
	text_stack_ref(r, &f->stacks[0], "    ");
	fprintf(out, "\nWhile the loop's thread is blocked, nothing else of its loop runs: move "
		     "the blocking call off the loop (a worker thread, an asynchronous call).\n");
}

static void json_block(const struct cw_render *r, const struct cw_finding *f)
{
	const struct cw_loop_block_finding *b = &f->block;
	__u32 pid = f->threads[0].pid, tid = f->threads[0].tid;
	char obj[NAME_LEN], cause[NAME_LEN + 64], summary[2 * NAME_LEN], mx[32];
	const char *call = b->nr != ~0U ? cw_report__syscall_name(b->nr) : NULL;
	FILE *out = r->out;

	block_object(r, f, obj, sizeof(obj));
	fprintf(out, "{\"kind\": \"blocking_in_event_loop\", \"severity\": \"warning\", "
		     "\"tid\": %u, \"comm\": ", tid);
	cw_report__json_string(out, cw_report__comm(r->eng, pid, tid), CW_COMM_LEN);
	fputs(", \"threads\": [", out);
	cw_report__json_threads(out, r->eng, f);
	fputs("], \"locks\": [", out);
	if (f->nr_locks) {
		fprintf(out, "{\"addr\": \"0x%llx\", \"name\": ", (unsigned long long)f->locks[0].addr);
		cw_report__json_string(out, obj, sizeof(obj));
		fprintf(out, ", \"type\": \"%s\"}", cw_lock_kind__name(f->locks[0].type));
	}
	fprintf(out, "], \"reason\": \"%s\", \"syscall\": ", cw_report__offcpu_name(b->reason));
	if (b->nr != ~0U)
		fprintf(out, "%u", b->nr);
	else
		fputs("null", out);
	fputs(", \"syscall_name\": ", out);
	cw_report__json_string(out, call, 32);
	fputs(", \"object\": ", out);
	if (b->addr) {
		fprintf(out, "{\"addr\": \"0x%llx\", \"name\": ", (unsigned long long)b->addr);
		cw_report__json_string(out, obj, sizeof(obj));
		fputc('}', out);
	} else {
		fputs("null", out);
	}
	fputs(", \"holder\": ", out);
	if (f->nr_threads > 1) {
		fprintf(out, "{\"tid\": %u, \"comm\": ", f->threads[1].tid);
		cw_report__json_string(out, cw_report__comm(r->eng, pid, f->threads[1].tid),
				       CW_COMM_LEN);
		fputc('}', out);
	} else {
		fputs("null", out);
	}
	fprintf(out, ", \"count\": %llu, \"duration_ns\": %llu, \"total_ns\": %llu, "
		     "\"start_ns\": %llu, \"threshold_ns\": %llu, \"in_stall\": %s, \"stack\": ",
		(unsigned long long)b->count, (unsigned long long)b->max_ns,
		(unsigned long long)b->total_ns, (unsigned long long)b->longest_start_ns,
		(unsigned long long)b->threshold_ns, b->in_stall ? "true" : "false");
	json_stack_ref(r, &f->stacks[0]);
	snprintf(summary, sizeof(summary), "thread %u blocked %s %s inside its event loop", tid,
		 cw_report__fmt_ns(mx, sizeof(mx), b->max_ns), block_cause(r, f, cause, sizeof(cause)));
	fputs(", \"summary\": ", out);
	cw_report__json_string(out, summary, sizeof(summary));
	fputc('}', out);
}

const struct cw_finding_renderer cw_loop_block_renderer = {
	.text = text_block,
	.json = json_block,
	.dot = dot_marks,
};

const struct cw_finding_renderer cw_loop_stall_renderer = {
	.text = text_finding,
	.text_rest = text_rest,
	.json = json_finding,
	.json_fields = json_fields,
	.dot = dot_marks,
};
