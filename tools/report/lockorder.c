// SPDX-License-Identifier: GPL-2.0
/*
 * The renderers of lock_order_inversion findings (render.c's table), in the spirit of
 * the kernel's lockdep: the closing dependency, the chain that was already there with
 * the stacks that made each link, and the interleaving of threads that deadlocks. The
 * engine decided which cycles are findings; the longer cycles a finding's dependency
 * closes too and the cycles that cannot deadlock (taken under one gate lock, or closed
 * by read after read on a reader-preferring rwlock) are listed with -v, never as
 * findings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/findings.h"
#include "report/report.h"
#include "report/symbols.h"

#define NAME_LEN 256

/* What a report needs of each lock of a cycle. */
struct named_lock {
	const struct cw_finding_lock *l;
	char name[NAME_LEN];
	char label[64];		/* short, for the scenario table */
	int how;		/* CW_LOCK_NAMED_* */
	int maybe_reused;	/* memory not known to stay one lock: no variable, no init seen */
};

/* The locks of f, named; NULL without memory. Free with free(). */
static struct named_lock *name_locks(const struct cw_render *r, const struct cw_finding *f,
				     int track_free)
{
	struct named_lock *nl = calloc(f->nr_locks, sizeof(*nl));

	if (!nl)
		return NULL;
	for (size_t i = 0; i < f->nr_locks; i++) {
		const struct cw_finding_lock *fl = &f->locks[i];
		const struct cw_lock *l = cw_engine__find_lock(r->eng, fl->pid, fl->addr);

		nl[i].l = fl;
		nl[i].how = cw_symbols__lock_name(r->sym, fl->pid, fl->addr, fl->ip, nl[i].name,
						  sizeof(nl[i].name));
		if (nl[i].how == CW_LOCK_NAMED_SYMBOL)
			snprintf(nl[i].label, sizeof(nl[i].label), "%s", nl[i].name);
		else
			snprintf(nl[i].label, sizeof(nl[i].label), "L%zu", i + 1);
		/* with --track-free, a free() of its memory would have ended its history */
		nl[i].maybe_reused = nl[i].how != CW_LOCK_NAMED_SYMBOL && !(l && l->init_ip) &&
				     !track_free;
	}
	return nl;
}

/* How many locks of the cycle may be memory reused for another lock. */
static size_t reused(const struct named_lock *nl, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += nl[i].maybe_reused;
	return n;
}

static const char *thread_comm(const struct cw_engine *eng, __u32 pid, __u32 tid)
{
	const struct cw_thread *t = cw_engine__find_thread(eng, pid, tid);

	return t && t->comm[0] ? t->comm : "?";
}

/* The same for text: the name is the process's, a newline or an escape sequence too. */
static const char *text_comm(const struct cw_engine *eng, __u32 pid, __u32 tid,
			     char buf[CW_SAFE_COMM_LEN])
{
	return cw_report__text_safe(thread_comm(eng, pid, tid), CW_COMM_LEN, buf,
				    CW_SAFE_COMM_LEN);
}

static const char *lock_type(const struct cw_finding_lock *l)
{
	return cw_lock_kind__name(l->type == CW_LOCK_COND ? CW_LOCK_MUTEX : l->type);
}

static const struct cw_stack *find_stack(const struct cw_render *r, const struct cw_stack_ref *s)
{
	return s->id ? cw_engine__find_stack(r->eng, s->pid, s->space, s->id) : NULL;
}

/* One lock-order link's stack, resolved; "(stack not received)" when it never came. */
static void text_stack(const struct cw_render *r, const struct cw_stack_ref *ref,
		       const char *indent)
{
	cw_report__text_stack_of(r->out, r->sym, find_stack(r, ref), indent);
}

static const char *verb(int read)
{
	return read ? "read-acquired" : "acquired";
}

/* What a link's thread did with the lock it went for: took it, or began to wait on it. */
static const char *to_verb(__u16 flags)
{
	if (flags & CW_EDGE_ATTEMPT)
		return flags & CW_EDGE_READ_TO ? "tried to read-acquire" : "tried to acquire";
	return verb(flags & CW_EDGE_READ_TO);
}

static void text_link(const struct cw_render *r, const struct cw_finding *f,
		      const struct named_lock *nl, size_t i)
{
	const struct cw_lock_order_link *in = &f->lock_order.links[i];
	const struct named_lock *from = &nl[i], *to = &nl[(i + 1) % f->nr_locks];
	char comm[CW_SAFE_COMM_LEN];
	FILE *out = r->out;

	fprintf(out, "-> #%zu %s -> %s, by %s/%u:\n", i, from->label, to->label,
		text_comm(r->eng, from->l->pid, in->tid, comm), in->tid);
	fprintf(out, "       %s %s at:\n", to_verb(in->flags), to->label);
	text_stack(r, &f->stacks[in->acquire_stack], "         ");
	fprintf(out, "       while holding %s, %s at:\n", from->label,
		verb(in->flags & CW_EDGE_READ_FROM));
	text_stack(r, &f->stacks[in->held_stack], "         ");
	fputc('\n', out);
}

/* The interleaving that deadlocks: each thread takes its first lock, then waits. */
static void text_scenario(const struct cw_render *r, const struct cw_finding *f,
			  const struct named_lock *nl)
{
	const struct cw_lock_order_link *links = f->lock_order.links;
	size_t len = f->nr_locks;
	char (*col)[CW_SAFE_COMM_LEN + 32] = calloc(len, sizeof(*col));
	char comm_buf[CW_SAFE_COMM_LEN];
	FILE *out = r->out;
	int width = 0;

	if (!col)
		return;
	for (size_t i = 0; i < len; i++) {
		const char *comm = text_comm(r->eng, nl[i].l->pid, links[i].tid, comm_buf);
		int w;

		snprintf(col[i], sizeof(col[i]), "%s/%u", comm, links[i].tid);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(col[k], col[i]))
				snprintf(col[i], sizeof(col[i]), "%s/%u (again)", comm,
					 links[i].tid);
		w = strlen(col[i]);
		if (w > width)
			width = w;
		w = strlen(nl[i].label) + strlen("write_lock();");
		if (w > width)
			width = w;
	}
	width += 4;
	fprintf(out, "Possible unsafe scenario:\n\n       ");
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%-*s", i + 1 < len ? width : 0, col[i]);
	fprintf(out, "\n       ");
	for (size_t i = 0; i < len; i++) {
		int w = strlen(col[i]);

		for (int k = 0; k < w; k++)
			fputc('-', out);
		if (i + 1 < len)
			fprintf(out, "%*s", width - w, "");
	}
	fputc('\n', out);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < len; i++) {
			const struct named_lock *l = &nl[(i + pass) % len];
			int read = pass ? links[i].flags & CW_EDGE_READ_TO :
					  links[i].flags & CW_EDGE_READ_FROM;
			const char *op = l->l->type != CW_LOCK_RWLOCK ? "lock" :
					 read ? "read_lock" : "write_lock";

			fprintf(out, "  %*s%s(%s);\n", (int)(i * width) + 5, "", op, l->label);
		}
	}
	fprintf(out, "\n *** DEADLOCK ***\n\n");
	free(col);
}

static void text_finding(const struct cw_render *r, const struct cw_finding *f, size_t number)
{
	const struct cw_lock_order *lo = &f->lock_order;
	struct named_lock *nl = name_locks(r, f, r->track_free);
	size_t last = lo->closing, len = f->nr_locks, also = lo->longer_cycles;
	const struct cw_lock_order_link *in = &lo->links[last];
	const struct named_lock *from, *to;
	char comm[CW_SAFE_COMM_LEN];
	FILE *out = r->out;
	__u32 pid;

	if (!nl) {
		fprintf(out, "(finding %zu: out of memory)\n", number);
		return;
	}
	from = &nl[last];
	to = &nl[(last + 1) % len];
	pid = from->l->pid;

	fprintf(out, "\n======================================================\n");
	fprintf(out, "WARNING: possible circular locking dependency detected\n");
	fprintf(out, "finding %zu: lock_order_inversion, process %u\n", number, pid);
	fprintf(out, "------------------------------------------------------\n");
	fprintf(out, "%s/%u %s %s while holding %s,\n", text_comm(r->eng, pid, in->tid, comm),
		in->tid, to_verb(in->flags), to->label, from->label);
	fprintf(out, "but %s was already known to be taken before %s.\n\n", to->label,
		from->label);
	fprintf(out, "Locks:\n");
	for (size_t i = 0; i < len; i++) {
		fprintf(out, "  %s", nl[i].label);
		if (strcmp(nl[i].label, nl[i].name))
			fprintf(out, ": %s", nl[i].name);
		fprintf(out, " (%s 0x%llx)\n", lock_type(nl[i].l), (unsigned long long)nl[i].l->addr);
	}
	fprintf(out, "Threads:\n");
	for (size_t i = 0; i < f->nr_threads; i++)
		fprintf(out, "  %s/%u\n", text_comm(r->eng, f->threads[i].pid, f->threads[i].tid,
						      comm), f->threads[i].tid);
	if (lo->single_thread)
		fprintf(out, "\nEvery dependency of this cycle was made by one thread: it deadlocks "
			     "when two threads\nrun these paths at the same time.\n");
	if (also)
		fprintf(out, "\nThe same dependency %s -> %s closes %zu longer cycle%s too (-v lists "
			     "%s).\n", from->label, to->label, also, also == 1 ? "" : "s",
			also == 1 ? "it" : "them");
	for (size_t i = 0, n = 0; i < len; i++) {
		if (!nl[i].maybe_reused)
			continue;
		fprintf(out, "%s%s", n++ ? ", " : "\nMemory may have been reused: ", nl[i].label);
	}
	if (reused(nl, len))
		fprintf(out, ".\nNo variable holds %s and no pthread_*_init of %s was seen: "
			     "the memory may have\nbeen freed and used for another lock in "
			     "between (--track-free follows free and delete).\n",
			reused(nl, len) == 1 ? "it" : "them", reused(nl, len) == 1 ? "it" : "them");

	fprintf(out, "\nThe dependency chain, the newest link first:\n\n");
	for (size_t k = 0; k < len; k++)
		text_link(r, f, nl, (last + len - k) % len);
	text_scenario(r, f, nl);
	free(nl);
}

/* A cycle on one line: its locks, in order. */
static void text_cycle_line(const struct cw_render *r, const struct cw_finding *f)
{
	struct named_lock *nl = name_locks(r, f, 0);

	if (!nl)
		return;
	fprintf(r->out, "  ");
	for (size_t i = 0; i <= f->nr_locks; i++)
		fprintf(r->out, "%s%s", i ? " -> " : "", nl[i % f->nr_locks].name);
	fputc('\n', r->out);
	free(nl);
}

static void text_suppressed(const struct cw_render *r, const struct cw_finding *f)
{
	struct named_lock *nl = name_locks(r, f, 0);
	const struct cw_lock_order *lo = &f->lock_order;
	char gate[NAME_LEN];
	FILE *out = r->out;

	if (!nl)
		return;
	fprintf(out, "  ");
	for (size_t i = 0; i <= f->nr_locks; i++)
		fprintf(out, "%s%s", i ? " -> " : "", nl[i % f->nr_locks].label);
	if (f->suppressed == CW_SUPPRESSED_GATE_LOCK) {
		cw_symbols__lock_name(r->sym, nl[0].l->pid, lo->gate, 0, gate, sizeof(gate));
		fprintf(out, ": every link was made holding %s (0x%llx), which serializes them\n",
			gate, (unsigned long long)lo->gate);
	} else {
		fprintf(out, ": closed by read after read on %s, a rwlock that prefers readers: "
			     "readers do not wait for readers\n", nl[lo->read_lock].label);
	}
	for (size_t i = 0; i < f->nr_locks; i++)
		if (strcmp(nl[i].label, nl[i].name))
			fprintf(out, "    %s: %s\n", nl[i].label, nl[i].name);
	free(nl);
}

/* After every finding: the longer cycles, the search's limits, the harmless cycles. */
static void text_rest(const struct cw_render *r)
{
	size_t cycles = 0, subsumed = 0, suppressed = 0, nr = cw_findings__nr(r->fs);
	FILE *out = r->out;

	for (size_t i = 0; i < nr; i++) {
		const struct cw_finding *f = cw_findings__get(r->fs, i);

		if (f->kind != CW_FINDING_LOCK_ORDER_INVERSION)
			continue;
		cycles++;
		subsumed += f->severity == CW_SEVERITY_SUBSUMED;
		suppressed += f->severity == CW_SEVERITY_SUPPRESSED;
	}
	if (r->verbose && subsumed) {
		fprintf(out, "\nLonger cycles closed by the dependencies above:\n");
		for (size_t i = 0; i < nr; i++) {
			const struct cw_finding *f = cw_findings__get(r->fs, i);

			if (f->kind == CW_FINDING_LOCK_ORDER_INVERSION &&
			    f->severity == CW_SEVERITY_SUBSUMED)
				text_cycle_line(r, f);
		}
	}
	if (cw_findings__truncated(r->fs, CW_FINDING_LOCK_ORDER_INVERSION))
		fprintf(out, "\nThe search for cycles stopped after %zu (at most %d locks each): "
			     "there may be more.\n", cycles, CW_LOCK_ORDER_MAX_LEN);
	if (!suppressed)
		return;
	if (!r->verbose) {
		fprintf(out, "\n%zu lock-order cycle%s cannot deadlock and %s not reported "
			     "(-v lists %s).\n", suppressed, suppressed == 1 ? "" : "s",
			suppressed == 1 ? "is" : "are", suppressed == 1 ? "it" : "them");
		return;
	}
	fprintf(out, "\nLock-order cycles that cannot deadlock (not findings):\n");
	for (size_t i = 0; i < nr; i++) {
		const struct cw_finding *f = cw_findings__get(r->fs, i);

		if (f->kind == CW_FINDING_LOCK_ORDER_INVERSION &&
		    f->severity == CW_SEVERITY_SUPPRESSED)
			text_suppressed(r, f);
	}
}

/* --- JSON --------------------------------------------------------------------------- */

static void json_stack(const struct cw_render *r, const struct cw_stack_ref *ref)
{
	const struct cw_stack *st = find_stack(r, ref);
	struct cw_ustack s = {};

	if (st && !cw_symbols__resolve(r->sym, st, &s))
		cw_report__json_frames(r->out, &s);
	else
		fputs("[]", r->out);
	cw_ustack__fini(&s);
}

static void json_locks(FILE *out, const struct cw_finding *f, const struct named_lock *nl)
{
	fputs("\"locks\": [", out);
	for (size_t i = 0; i < f->nr_locks; i++) {
		fprintf(out, "%s{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ", i ? ", " : "",
			(unsigned long long)nl[i].l->addr, nl[i].l->pid);
		cw_report__json_string(out, nl[i].name, sizeof(nl[i].name));
		fprintf(out, ", \"type\": \"%s\", \"may_be_reused\": %s}", lock_type(nl[i].l),
			nl[i].maybe_reused ? "true" : "false");
	}
	fputs("]", out);
}

static void json_finding(const struct cw_render *r, const struct cw_finding *f)
{
	const struct cw_lock_order *lo = &f->lock_order;
	struct named_lock *nl = name_locks(r, f, r->track_free);
	size_t last = lo->closing, len = f->nr_locks;
	FILE *out = r->out;
	__u32 pid;

	if (!nl) {
		fputs("{\"kind\": \"lock_order_inversion\", \"error\": \"out of memory\"}", out);
		return;
	}
	pid = nl[0].l->pid;
	/* a reported inversion is a warning, as lockdep's: it may deadlock, it did not */
	fputs("{\"kind\": \"lock_order_inversion\", \"severity\": \"warning\", ", out);
	json_locks(out, f, nl);
	fputs(", \"threads\": [", out);
	for (size_t i = 0; i < f->nr_threads; i++) {
		fprintf(out, "%s{\"tid\": %u, \"comm\": ", i ? ", " : "", f->threads[i].tid);
		cw_report__json_string(out, thread_comm(r->eng, f->threads[i].pid,
							f->threads[i].tid), CW_COMM_LEN);
		fputc('}', out);
	}
	fputs("], \"edges\": [", out);
	for (size_t i = 0; i < len; i++) {
		const struct cw_lock_order_link *in = &lo->links[i];

		fprintf(out, "%s{\"from\": \"0x%llx\", \"to\": \"0x%llx\", \"tid\": %u, "
			     "\"from_read\": %s, \"to_read\": %s, \"at_attempt\": %s, "
			     "\"held_stack\": ",
			i ? ", " : "", (unsigned long long)nl[i].l->addr,
			(unsigned long long)nl[(i + 1) % len].l->addr, in->tid,
			in->flags & CW_EDGE_READ_FROM ? "true" : "false",
			in->flags & CW_EDGE_READ_TO ? "true" : "false",
			in->flags & CW_EDGE_ATTEMPT ? "true" : "false");
		json_stack(r, &f->stacks[in->held_stack]);
		fputs(", \"acquire_stack\": ", out);
		json_stack(r, &f->stacks[in->acquire_stack]);
		fputc('}', out);
	}
	fprintf(out, "], \"single_thread\": %s, \"longer_cycles\": %zu, \"summary\": ",
		lo->single_thread ? "true" : "false", lo->longer_cycles);
	{
		char summary[2 * NAME_LEN + 256];
		const struct cw_lock_order_link *in = &lo->links[last];

		snprintf(summary, sizeof(summary),
			 "%zu locks taken in inconsistent orders%s: %s/%u %s %s while "
			 "holding %s",
			 len, lo->single_thread ? " (one thread)" : "",
			 thread_comm(r->eng, pid, in->tid), in->tid, to_verb(in->flags),
			 nl[(last + 1) % len].label, nl[last].label);
		cw_report__json_string(out, summary, sizeof(summary));
	}
	fputc('}', out);
	free(nl);
}

static void json_suppressed(const struct cw_render *r, const struct cw_finding *f)
{
	/* may_be_reused as without --track-free: as the suppressed list always said */
	struct named_lock *nl = name_locks(r, f, 0);
	const struct cw_lock_order *lo = &f->lock_order;
	char gate[NAME_LEN];
	FILE *out = r->out;

	if (!nl) {
		fputs("{\"error\": \"out of memory\"}", out);
		return;
	}
	fprintf(out, "{\"reason\": \"%s\", ", cw_suppression__name(f->suppressed));
	json_locks(out, f, nl);
	if (f->suppressed == CW_SUPPRESSED_GATE_LOCK) {
		cw_symbols__lock_name(r->sym, nl[0].l->pid, lo->gate, 0, gate, sizeof(gate));
		fprintf(out, ", \"gate\": {\"addr\": \"0x%llx\", \"name\": ",
			(unsigned long long)lo->gate);
		cw_report__json_string(out, gate, sizeof(gate));
		fputc('}', out);
	} else {
		fprintf(out, ", \"read_lock\": \"0x%llx\"",
			(unsigned long long)f->locks[lo->read_lock].addr);
	}
	fputc('}', out);
	free(nl);
}

static void json_fields(const struct cw_render *r)
{
	fprintf(r->out, ",\n  \"cycle_search_truncated\": %s",
		cw_findings__truncated(r->fs, CW_FINDING_LOCK_ORDER_INVERSION) ? "true" : "false");
}

/* --- dot ---------------------------------------------------------------------------- */

/* The cycle's edges: red for a finding and the longer cycles it closes, orange if harmless. */
static void dot_marks(const struct cw_finding *f, unsigned char *edge_mark)
{
	unsigned char m = f->severity >= CW_SEVERITY_SUBSUMED ? CW_DOT_FINDING :
								  CW_DOT_SUPPRESSED;

	for (size_t i = 0; i < f->nr_locks; i++)
		if (edge_mark[f->lock_order.links[i].graph_edge] < m)
			edge_mark[f->lock_order.links[i].graph_edge] = m;
}

const struct cw_finding_renderer cw_lock_order_renderer = {
	.text = text_finding,
	.text_rest = text_rest,
	.json = json_finding,
	.json_suppressed = json_suppressed,
	.json_fields = json_fields,
	.dot = dot_marks,
};
