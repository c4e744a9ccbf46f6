// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of a run for other tools: the lock-order graph in Graphviz's dot, cycles that
 * are findings drawn red and bold, cycles that cannot deadlock orange and dashed; and
 * the lock graph as JSON.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lockgraph.h"
#include "report/report.h"
#include "report/symbols.h"

#define NAME_LEN 256

/* How each edge is drawn: 0 plain, 1 in a suppressed cycle, 2 in a finding. */
static unsigned char *edge_marks(const struct cw_lg *lg, const struct cw_lock_cycles *lc)
{
	unsigned char *mark = calloc(cw_lg__nr_edges(lg) + 1, 1);

	if (!mark)
		return NULL;
	for (size_t i = 0; i < lc->nr; i++) {
		const struct cw_cycle *c = &lc->cycles[i];
		unsigned char m = cw_cycle__is_finding(c) ? 2 : 1;

		for (size_t k = 0; k < c->len; k++)
			if (mark[c->edges[k]] < m)
				mark[c->edges[k]] = m;
	}
	return mark;
}

static const char *thread_comm(const struct cw_engine *eng, __u32 pid, __u32 tid)
{
	const struct cw_thread *t = cw_engine__find_thread(eng, pid, tid);

	return t && t->comm[0] ? t->comm : "?";
}

int cw_export__dot(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym)
{
	const struct cw_lg *lg = cw_engine__lockgraph(eng);
	struct cw_lock_cycles lc;
	unsigned char *mark;
	char name[NAME_LEN], safe[NAME_LEN * 5], label[sizeof(safe) + 64];

	if (cw_report__lock_cycles(eng, &lc))
		return -ENOMEM;
	mark = edge_marks(lg, &lc);
	if (!mark) {
		cw_report__lock_cycles_fini(&lc);
		return -ENOMEM;
	}
	fprintf(out, "digraph lock_order {\n");
	fprintf(out, "\tlabel=\"concwatch %s: lock order (an edge A -> B: B acquired while A "
		     "held)\";\n", CW_VERSION);
	fprintf(out, "\tnode [shape=box, fontname=\"monospace\"];\n");
	for (size_t i = 0; i < cw_lg__nr_nodes(lg); i++) {
		const struct cw_lg_node *n = cw_lg__node(lg, i);

		cw_symbols__lock_name(sym, n->pid, n->addr, 0, name, sizeof(name));
		/* escaped for dot first: the \n of the label is dot's own line break */
		cw_report__dot_safe(name, sizeof(name), safe, sizeof(safe));
		snprintf(label, sizeof(label), "%s\\n%s 0x%llx%s", safe,
			 cw_lock_kind__name(n->kind == CW_LOCK_COND ? CW_LOCK_MUTEX : n->kind),
			 (unsigned long long)n->addr, n->gen ? " (reused)" : "");
		fprintf(out, "\tn%zu [label=\"%s\"];\n", i, label);
	}
	for (size_t i = 0; i < cw_lg__nr_edges(lg); i++) {
		const struct cw_lg_edge *e = cw_lg__edge(lg, i);
		const struct cw_lg_node *from = cw_lg__node(lg, e->from);
		char threads[512] = "", comm[CW_SAFE_COMM_LEN], one[CW_SAFE_COMM_LEN + 16];
		size_t len = 0;

		for (size_t k = 0; k < e->nr_insts; k++) {
			int seen = 0, n;

			for (size_t j = 0; j < k; j++)
				seen |= e->insts[j].tid == e->insts[k].tid;
			if (seen)
				continue;
			cw_report__dot_safe(thread_comm(eng, from->pid, e->insts[k].tid),
					    CW_COMM_LEN, comm, sizeof(comm));
			n = snprintf(one, sizeof(one), "%s%s/%u", len ? ", " : "", comm,
				     e->insts[k].tid);
			/* whole names only: a cut escape could end the quoted string */
			if (len + n >= sizeof(threads))
				break;
			memcpy(threads + len, one, n + 1);
			len += n;
		}
		fprintf(out, "\tn%zu -> n%zu [label=\"%s\"", e->from, e->to, threads);
		if (mark[i] == 2)
			fprintf(out, ", color=red, fontcolor=red, penwidth=2.5");
		else if (mark[i] == 1)
			fprintf(out, ", color=orange, style=dashed");
		fprintf(out, "];\n");
	}
	fprintf(out, "}\n");
	free(mark);
	cw_report__lock_cycles_fini(&lc);
	return ferror(out) ? -EIO : 0;
}

void cw_export__json_graph(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym)
{
	const struct cw_lg *lg = cw_engine__lockgraph(eng);
	char name[NAME_LEN];

	fputs("{\"nodes\": [", out);
	for (size_t i = 0; i < cw_lg__nr_nodes(lg); i++) {
		const struct cw_lg_node *n = cw_lg__node(lg, i);

		cw_symbols__lock_name(sym, n->pid, n->addr, 0, name, sizeof(name));
		fprintf(out, "%s\n      {\"id\": %zu, \"pid\": %u, \"addr\": \"0x%llx\", "
			     "\"lifetime\": %u, \"name\": ", i ? "," : "", i, n->pid,
			(unsigned long long)n->addr, n->gen);
		cw_report__json_string(out, name, sizeof(name));
		fprintf(out, ", \"type\": \"%s\"}",
			cw_lock_kind__name(n->kind == CW_LOCK_COND ? CW_LOCK_MUTEX : n->kind));
	}
	fputs("],\n    \"edges\": [", out);
	for (size_t i = 0; i < cw_lg__nr_edges(lg); i++) {
		const struct cw_lg_edge *e = cw_lg__edge(lg, i);

		fprintf(out, "%s\n      {\"from\": %zu, \"to\": %zu, \"threads\": [", i ? "," : "",
			e->from, e->to);
		for (size_t k = 0; k < e->nr_insts; k++)
			fprintf(out, "%s%u", k ? ", " : "", e->insts[k].tid);
		fputs("]}", out);
	}
	fputs("]}", out);
}
