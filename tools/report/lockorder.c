// SPDX-License-Identifier: GPL-2.0
/*
 * Lock-order inversions, reported in the spirit of the kernel's lockdep: the closing
 * dependency, the chain that was already there with the stacks that made each link, and
 * the interleaving of threads that deadlocks. Cycles that cannot deadlock (taken under
 * one gate lock, or closed by read-after-read on a reader-preferring rwlock) are listed
 * with -v, never as findings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lockgraph.h"
#include "report/report.h"
#include "report/symbols.h"

#define MAX_CYCLES 1000
#define MAX_CYCLE_LEN 16
#define NAME_LEN 256

/* The edge of the cycle made last: lockdep's "trying to acquire" moment. */
static size_t closing_edge(const struct cw_cycle *c)
{
	size_t last = 0;

	for (size_t i = 1; i < c->len; i++)
		if (c->insts[i]->ts > c->insts[last]->ts)
			last = i;
	return last;
}

/*
 * One finding per dependency that closed cycles, as lockdep reports the one new
 * dependency: in a dense graph one bad acquisition closes many cycles (through every
 * path back), and only the shortest of them is shown; the others are counted with it.
 */
int cw_report__lock_cycles(const struct cw_engine *eng, struct cw_lock_cycles *lc)
{
	memset(lc, 0, sizeof(*lc));
	if (cw_lg__cycles(cw_engine__lockgraph(eng), MAX_CYCLES, MAX_CYCLE_LEN, &lc->cycles,
			  &lc->nr, &lc->truncated))
		return -ENOMEM;
	lc->shown = calloc(lc->nr + 1, sizeof(*lc->shown));
	lc->also = calloc(lc->nr + 1, sizeof(*lc->also));
	if (!lc->shown || !lc->also) {
		cw_report__lock_cycles_fini(lc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < lc->nr; i++) {
		const struct cw_cycle *c = &lc->cycles[i];
		size_t best = i, edge;

		if (!cw_cycle__is_finding(c))
			continue;
		edge = c->edges[closing_edge(c)];
		for (size_t k = 0; k < lc->nr; k++) {
			const struct cw_cycle *o = &lc->cycles[k];

			if (k == i || !cw_cycle__is_finding(o) || o->edges[closing_edge(o)] != edge)
				continue;
			if (o->len < lc->cycles[best].len || (o->len == lc->cycles[best].len && k < best))
				best = k;
		}
		if (best == i)
			lc->shown[i] = 1;
		lc->also[best] += best != i;
	}
	for (size_t i = 0; i < lc->nr; i++)
		lc->findings += lc->shown[i];
	return 0;
}

void cw_report__lock_cycles_fini(struct cw_lock_cycles *lc)
{
	cw_lg__cycles_free(lc->cycles, lc->nr);
	free(lc->shown);
	free(lc->also);
	memset(lc, 0, sizeof(*lc));
}

/* What a report needs of each lock of a cycle. */
struct named_lock {
	const struct cw_lg_node *n;
	char name[NAME_LEN];
	char label[64];		/* short, for the scenario table */
	int how;		/* CW_LOCK_NAMED_* */
	int maybe_reused;	/* memory not known to stay one lock: no variable, no init seen */
};

/*
 * The instance the judgement chose for edge i; a cycle closed by read after read had
 * no choice that blocks: then the first instance seen.
 */
static const struct cw_lg_inst *inst_of(const struct cw_lg *lg, const struct cw_cycle *c,
					size_t i)
{
	return c->insts[i] ?: &cw_lg__edge(lg, c->edges[i])->insts[0];
}

static void name_locks(const struct cw_engine *eng, struct cw_symbols *sym,
		       const struct cw_cycle *c, struct named_lock *nl, int track_free)
{
	const struct cw_lg *lg = cw_engine__lockgraph(eng);

	for (size_t i = 0; i < c->len; i++) {
		const struct cw_lg_node *n = cw_lg__node(lg, c->nodes[i]);
		const struct cw_lock *l = cw_engine__find_lock(eng, n->pid, n->addr);
		/* where the cycle saw it acquired: the edge into it */
		__u64 ip = inst_of(lg, c, (i + c->len - 1) % c->len)->to_ip;

		nl[i].n = n;
		nl[i].how = cw_symbols__lock_name(sym, n->pid, n->addr, ip, nl[i].name,
						  sizeof(nl[i].name));
		if (nl[i].how == CW_LOCK_NAMED_SYMBOL)
			snprintf(nl[i].label, sizeof(nl[i].label), "%s", nl[i].name);
		else
			snprintf(nl[i].label, sizeof(nl[i].label), "L%zu", i + 1);
		/* with --track-free, a free() of its memory would have ended its history */
		nl[i].maybe_reused = nl[i].how != CW_LOCK_NAMED_SYMBOL && !(l && l->init_ip) &&
				     !track_free;
	}
}

/* How many locks of the cycle may be memory reused for another lock. */
static size_t reused(const struct named_lock *nl, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += nl[i].maybe_reused;
	return n;
}

/* Whether link i is the first of the cycle made by its thread: threads listed once. */
static int first_of_thread(const struct cw_cycle *c, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (c->insts[k]->tid == c->insts[i]->tid)
			return 0;
	return 1;
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

static const char *lock_type(const struct cw_lg_node *n)
{
	return cw_lock_kind__name(n->kind == CW_LOCK_COND ? CW_LOCK_MUTEX : n->kind);
}

/* One lock-order link's stack, resolved; "(stack not received)" when it never came. */
static void text_stack(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		       __u32 pid, __u64 stack_id, const char *indent)
{
	const struct cw_stack *st = stack_id ?
		cw_engine__find_stack(eng, pid, CW_STACK_USER, stack_id) : NULL;
	struct cw_ustack s;

	if (!st) {
		fprintf(out, "%s(stack not received: see lost events)\n", indent);
		return;
	}
	if (cw_symbols__resolve(sym, st, &s))
		fprintf(out, "%s(stack could not be resolved)\n", indent);
	else
		cw_report__text_stack(out, &s, indent);
	cw_ustack__fini(&s);
}

static const char *verb(int read)
{
	return read ? "read-acquired" : "acquired";
}

static void text_link(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		      const struct cw_cycle *c, const struct named_lock *nl, size_t i)
{
	const struct cw_lg_inst *in = c->insts[i];
	const struct named_lock *from = &nl[i], *to = &nl[(i + 1) % c->len];
	__u32 pid = from->n->pid;
	char comm[CW_SAFE_COMM_LEN];

	fprintf(out, "-> #%zu %s -> %s, by %s/%u:\n", i, from->label, to->label,
		text_comm(eng, pid, in->tid, comm), in->tid);
	fprintf(out, "       %s %s at:\n", verb(in->flags & CW_EDGE_READ_TO), to->label);
	text_stack(out, eng, sym, pid, in->to_stack_id, "         ");
	fprintf(out, "       while holding %s, %s at:\n", from->label,
		verb(in->flags & CW_EDGE_READ_FROM));
	text_stack(out, eng, sym, pid, in->from_stack_id, "         ");
	fputc('\n', out);
}

/* The interleaving that deadlocks: each thread takes its first lock, then waits. */
static void text_scenario(FILE *out, const struct cw_engine *eng, const struct cw_cycle *c,
			  const struct named_lock *nl)
{
	char (*col)[CW_SAFE_COMM_LEN + 32] = calloc(c->len, sizeof(*col));
	char comm[CW_SAFE_COMM_LEN];
	int width = 0;

	if (!col)
		return;
	for (size_t i = 0; i < c->len; i++) {
		const struct cw_lg_inst *in = c->insts[i];
		int w;

		snprintf(col[i], sizeof(col[i]), "%s/%u",
			 text_comm(eng, nl[i].n->pid, in->tid, comm), in->tid);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(col[k], col[i]))
				snprintf(col[i], sizeof(col[i]), "%s/%u (again)",
					 text_comm(eng, nl[i].n->pid, in->tid, comm), in->tid);
		w = strlen(col[i]);
		if (w > width)
			width = w;
		w = strlen(nl[i].label) + strlen("write_lock();");
		if (w > width)
			width = w;
	}
	width += 4;
	fprintf(out, "Possible unsafe scenario:\n\n       ");
	for (size_t i = 0; i < c->len; i++)
		fprintf(out, "%-*s", i + 1 < c->len ? width : 0, col[i]);
	fprintf(out, "\n       ");
	for (size_t i = 0; i < c->len; i++) {
		int w = strlen(col[i]);

		for (int k = 0; k < w; k++)
			fputc('-', out);
		if (i + 1 < c->len)
			fprintf(out, "%*s", width - w, "");
	}
	fputc('\n', out);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c->len; i++) {
			const struct cw_lg_inst *in = c->insts[i];
			const struct named_lock *l = &nl[(i + pass) % c->len];
			int read = pass ? in->flags & CW_EDGE_READ_TO : in->flags & CW_EDGE_READ_FROM;
			const char *op = l->n->kind != CW_LOCK_RWLOCK ? "lock" :
					 read ? "read_lock" : "write_lock";

			fprintf(out, "  %*s%s(%s);\n", (int)(i * width) + 5, "", op, l->label);
		}
	}
	fprintf(out, "\n *** DEADLOCK ***\n\n");
	free(col);
}

static void text_finding(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			 const struct cw_cycle *c, size_t number, size_t also, int track_free)
{
	struct named_lock *nl = calloc(c->len, sizeof(*nl));
	char comm[CW_SAFE_COMM_LEN];
	size_t last;
	const struct cw_lg_inst *in;
	const struct named_lock *from, *to;
	__u32 pid;

	if (!nl) {
		fprintf(out, "(finding %zu: out of memory)\n", number);
		return;
	}
	name_locks(eng, sym, c, nl, track_free);
	last = closing_edge(c);
	in = c->insts[last];
	from = &nl[last];
	to = &nl[(last + 1) % c->len];
	pid = from->n->pid;

	fprintf(out, "\n======================================================\n");
	fprintf(out, "WARNING: possible circular locking dependency detected\n");
	fprintf(out, "finding %zu: lock_order_inversion, process %u\n", number, pid);
	fprintf(out, "------------------------------------------------------\n");
	fprintf(out, "%s/%u %s %s while holding %s,\n", text_comm(eng, pid, in->tid, comm),
		in->tid, verb(in->flags & CW_EDGE_READ_TO), to->label, from->label);
	fprintf(out, "but %s was already known to be taken before %s.\n\n", to->label,
		from->label);
	fprintf(out, "Locks:\n");
	for (size_t i = 0; i < c->len; i++) {
		fprintf(out, "  %s", nl[i].label);
		if (strcmp(nl[i].label, nl[i].name))
			fprintf(out, ": %s", nl[i].name);
		fprintf(out, " (%s 0x%llx)\n", lock_type(nl[i].n),
			(unsigned long long)nl[i].n->addr);
	}
	fprintf(out, "Threads:\n");
	for (size_t i = 0; i < c->len; i++)
		if (first_of_thread(c, i))
			fprintf(out, "  %s/%u\n", text_comm(eng, pid, c->insts[i]->tid, comm),
				c->insts[i]->tid);
	if (c->verdict == CW_CYCLE_SINGLE_THREAD)
		fprintf(out, "\nEvery dependency of this cycle was made by one thread: it deadlocks "
			     "when two threads\nrun these paths at the same time.\n");
	if (also)
		fprintf(out, "\nThe same dependency %s -> %s closes %zu longer cycle%s too (-v lists "
			     "%s).\n", from->label, to->label, also, also == 1 ? "" : "s",
			also == 1 ? "it" : "them");
	for (size_t i = 0, n = 0; i < c->len; i++) {
		if (!nl[i].maybe_reused)
			continue;
		fprintf(out, "%s%s", n++ ? ", " : "\nMemory may have been reused: ", nl[i].label);
	}
	if (reused(nl, c->len))
		fprintf(out, ".\nNo variable holds %s and no pthread_*_init of %s was seen: "
			     "the memory may have\nbeen freed and used for another lock in "
			     "between (--track-free follows free and delete).\n",
			reused(nl, c->len) == 1 ? "it" : "them", reused(nl, c->len) == 1 ? "it" : "them");

	fprintf(out, "\nThe dependency chain, the newest link first:\n\n");
	for (size_t k = 0; k < c->len; k++)
		text_link(out, eng, sym, c, nl, (last + c->len - k) % c->len);
	text_scenario(out, eng, c, nl);
	free(nl);
}

/* A cycle on one line: its locks, in order. */
static void text_cycle_line(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			    const struct cw_cycle *c)
{
	struct named_lock *nl = calloc(c->len, sizeof(*nl));

	if (!nl)
		return;
	name_locks(eng, sym, c, nl, 0);
	fprintf(out, "  ");
	for (size_t i = 0; i <= c->len; i++)
		fprintf(out, "%s%s", i ? " -> " : "", nl[i % c->len].name);
	fputc('\n', out);
	free(nl);
}

static void text_suppressed(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			    const struct cw_cycle *c)
{
	const struct cw_lg *lg = cw_engine__lockgraph(eng);
	struct named_lock *nl = calloc(c->len, sizeof(*nl));
	char gate[NAME_LEN];

	if (!nl)
		return;
	name_locks(eng, sym, c, nl, 0);
	fprintf(out, "  ");
	for (size_t i = 0; i <= c->len; i++)
		fprintf(out, "%s%s", i ? " -> " : "", nl[i % c->len].label);
	if (c->verdict == CW_CYCLE_GATED) {
		cw_symbols__lock_name(sym, nl[0].n->pid, c->gate, 0, gate, sizeof(gate));
		fprintf(out, ": every link was made holding %s (0x%llx), which serializes them\n",
			gate, (unsigned long long)c->gate);
	} else {
		const struct cw_lg_node *n = cw_lg__node(lg, c->read_node);

		for (size_t i = 0; i < c->len; i++)
			if (nl[i].n == n)
				fprintf(out, ": closed by read after read on %s, a rwlock that prefers "
					     "readers: readers do not wait for readers\n",
					nl[i].label);
	}
	for (size_t i = 0; i < c->len; i++)
		if (strcmp(nl[i].label, nl[i].name))
			fprintf(out, "    %s: %s\n", nl[i].label, nl[i].name);
	free(nl);
}

void cw_report__lock_order_text(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
				const struct cw_lock_cycles *lc, int verbose)
{
	size_t number = 0, suppressed = 0;

	for (size_t i = 0; i < lc->nr; i++)
		suppressed += !cw_cycle__is_finding(&lc->cycles[i]);

	for (size_t i = 0; i < lc->nr; i++)
		if (lc->shown[i])
			text_finding(out, eng, sym, &lc->cycles[i], ++number, lc->also[i],
				     lc->track_free);
	if (verbose && lc->nr > lc->findings + suppressed) {
		fprintf(out, "\nLonger cycles closed by the dependencies above:\n");
		for (size_t i = 0; i < lc->nr; i++)
			if (cw_cycle__is_finding(&lc->cycles[i]) && !lc->shown[i])
				text_cycle_line(out, eng, sym, &lc->cycles[i]);
	}
	if (lc->truncated)
		fprintf(out, "\nThe search for cycles stopped after %zu (at most %d locks each): "
			     "there may be more.\n", lc->nr, MAX_CYCLE_LEN);
	if (!suppressed)
		return;
	if (!verbose) {
		fprintf(out, "\n%zu lock-order cycle%s cannot deadlock and %s not reported "
			     "(-v lists %s).\n", suppressed, suppressed == 1 ? "" : "s",
			suppressed == 1 ? "is" : "are", suppressed == 1 ? "it" : "them");
		return;
	}
	fprintf(out, "\nLock-order cycles that cannot deadlock (not findings):\n");
	for (size_t i = 0; i < lc->nr; i++)
		if (!cw_cycle__is_finding(&lc->cycles[i]))
			text_suppressed(out, eng, sym, &lc->cycles[i]);
}

/* --- JSON --------------------------------------------------------------------------- */

static void json_stack(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		       __u32 pid, __u64 stack_id)
{
	const struct cw_stack *st = stack_id ?
		cw_engine__find_stack(eng, pid, CW_STACK_USER, stack_id) : NULL;
	struct cw_ustack s = {};

	if (st && !cw_symbols__resolve(sym, st, &s))
		cw_report__json_frames(out, &s);
	else
		fputs("[]", out);
	cw_ustack__fini(&s);
}

static void json_locks(FILE *out, const struct cw_cycle *c, const struct named_lock *nl)
{
	fputs("\"locks\": [", out);
	for (size_t i = 0; i < c->len; i++) {
		fprintf(out, "%s{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ", i ? ", " : "",
			(unsigned long long)nl[i].n->addr, nl[i].n->pid);
		cw_report__json_string(out, nl[i].name, sizeof(nl[i].name));
		fprintf(out, ", \"type\": \"%s\", \"may_be_reused\": %s}", lock_type(nl[i].n),
			nl[i].maybe_reused ? "true" : "false");
	}
	fputs("]", out);
}

static void json_cycle(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
		       const struct cw_cycle *c, size_t also, int track_free)
{
	struct named_lock *nl = calloc(c->len, sizeof(*nl));
	__u32 pid;
	size_t last;

	if (!nl) {
		fputs("{\"kind\": \"lock_order_inversion\", \"error\": \"out of memory\"}", out);
		return;
	}
	name_locks(eng, sym, c, nl, track_free);
	pid = nl[0].n->pid;
	last = closing_edge(c);
	fputs("{\"kind\": \"lock_order_inversion\", ", out);
	json_locks(out, c, nl);
	fputs(", \"threads\": [", out);
	for (size_t i = 0, n = 0; i < c->len; i++) {
		if (!first_of_thread(c, i))
			continue;
		fprintf(out, "%s{\"tid\": %u, \"comm\": ", n++ ? ", " : "", c->insts[i]->tid);
		cw_report__json_string(out, thread_comm(eng, pid, c->insts[i]->tid), CW_COMM_LEN);
		fputc('}', out);
	}
	fputs("], \"edges\": [", out);
	for (size_t i = 0; i < c->len; i++) {
		const struct cw_lg_inst *in = c->insts[i];

		fprintf(out, "%s{\"from\": \"0x%llx\", \"to\": \"0x%llx\", \"tid\": %u, "
			     "\"from_read\": %s, \"to_read\": %s, \"held_stack\": ",
			i ? ", " : "", (unsigned long long)nl[i].n->addr,
			(unsigned long long)nl[(i + 1) % c->len].n->addr, in->tid,
			in->flags & CW_EDGE_READ_FROM ? "true" : "false",
			in->flags & CW_EDGE_READ_TO ? "true" : "false");
		json_stack(out, eng, sym, pid, in->from_stack_id);
		fputs(", \"acquire_stack\": ", out);
		json_stack(out, eng, sym, pid, in->to_stack_id);
		fputc('}', out);
	}
	fprintf(out, "], \"single_thread\": %s, \"longer_cycles\": %zu, \"summary\": ",
		c->verdict == CW_CYCLE_SINGLE_THREAD ? "true" : "false", also);
	{
		char summary[2 * NAME_LEN + 256];
		const struct cw_lg_inst *in = c->insts[last];

		snprintf(summary, sizeof(summary),
			 "%zu locks taken in inconsistent orders%s: %s/%u acquired %s while "
			 "holding %s",
			 c->len, c->verdict == CW_CYCLE_SINGLE_THREAD ? " (one thread)" : "",
			 thread_comm(eng, pid, in->tid), in->tid, nl[(last + 1) % c->len].label,
			 nl[last].label);
		cw_report__json_string(out, summary, sizeof(summary));
	}
	fputc('}', out);
	free(nl);
}

static void json_suppressed(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			    const struct cw_cycle *c)
{
	struct named_lock *nl = calloc(c->len, sizeof(*nl));
	char gate[NAME_LEN];

	if (!nl) {
		fputs("{\"error\": \"out of memory\"}", out);
		return;
	}
	name_locks(eng, sym, c, nl, 0);
	fprintf(out, "{\"reason\": \"%s\", ", c->verdict == CW_CYCLE_GATED ? "gate_lock" :
					      "read_read");
	json_locks(out, c, nl);
	if (c->verdict == CW_CYCLE_GATED) {
		cw_symbols__lock_name(sym, nl[0].n->pid, c->gate, 0, gate, sizeof(gate));
		fprintf(out, ", \"gate\": {\"addr\": \"0x%llx\", \"name\": ",
			(unsigned long long)c->gate);
		cw_report__json_string(out, gate, sizeof(gate));
		fputc('}', out);
	} else {
		fprintf(out, ", \"read_lock\": \"0x%llx\"",
			(unsigned long long)cw_lg__node(cw_engine__lockgraph(eng), c->read_node)->addr);
	}
	fputc('}', out);
	free(nl);
}

void cw_report__lock_order_json(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
				const struct cw_lock_cycles *lc, int suppressed)
{
	size_t n = 0;

	for (size_t i = 0; i < lc->nr; i++) {
		const struct cw_cycle *c = &lc->cycles[i];

		if (suppressed ? !cw_cycle__is_finding(c) : lc->shown[i]) {
			fprintf(out, "%s\n    ", n++ ? "," : "");
			if (suppressed)
				json_suppressed(out, eng, sym, c);
			else
				json_cycle(out, eng, sym, c, lc->also[i], lc->track_free);
		}
	}
	if (n)
		fputs("\n  ", out);
}
