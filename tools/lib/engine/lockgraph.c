// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/index.h"
#include "engine/lockgraph.h"

/* Work bounds: a pathological graph must not stall a report. */
#define MAX_SEARCH_STEPS 2000000
#define MAX_CHOICE_STEPS 100000

struct cw_lg {
	struct cw_lg_node *nodes;
	size_t nr_nodes, cap_nodes;
	struct cw_lg_edge *edges;
	size_t nr_edges, cap_edges;
	struct cw_index node_ix;	/* (pid, addr) -> the node of its current lifetime */
	struct cw_index gen_ix;		/* (pid, addr) -> its current lifetime */
	struct cw_index edge_ix;	/* (from, to) -> edge */
};

struct cw_lg *cw_lg__new(void)
{
	return calloc(1, sizeof(struct cw_lg));
}

void cw_lg__free(struct cw_lg *lg)
{
	if (!lg)
		return;
	for (size_t i = 0; i < lg->nr_nodes; i++)
		free(lg->nodes[i].out);
	for (size_t i = 0; i < lg->nr_edges; i++)
		free(lg->edges[i].insts);
	free(lg->nodes);
	free(lg->edges);
	cw_index__fini(&lg->node_ix);
	cw_index__fini(&lg->gen_ix);
	cw_index__fini(&lg->edge_ix);
	free(lg);
}

static __u32 current_gen(const struct cw_lg *lg, __u32 pid, __u64 addr)
{
	__u32 gen;

	return cw_index__get(&lg->gen_ix, pid, addr, &gen) ? 0 : gen;
}

int cw_lg__lock_reset(struct cw_lg *lg, __u32 pid, __u64 addr)
{
	return cw_index__put(&lg->gen_ix, pid, addr, current_gen(lg, pid, addr) + 1);
}

/* The node of (pid, addr)'s current lifetime, made on first sight. -1 without memory. */
static long get_node(struct cw_lg *lg, __u32 pid, __u64 addr, __u8 kind, __u16 attr)
{
	__u32 gen = current_gen(lg, pid, addr), slot;
	struct cw_lg_node *n;

	if (!cw_index__get(&lg->node_ix, pid, addr, &slot) && lg->nodes[slot].gen == gen) {
		n = &lg->nodes[slot];
		if ((attr & CW_ATTR_KNOWN) && !(n->attr & CW_ATTR_KNOWN))
			n->attr = attr;
		return slot;
	}
	if (lg->nr_nodes >= UINT32_MAX)
		return -1;
	n = cw_grow(lg->nodes, &lg->cap_nodes, lg->nr_nodes + 1, sizeof(*n));
	if (!n)
		return -1;
	lg->nodes = n;
	n = &lg->nodes[lg->nr_nodes];
	memset(n, 0, sizeof(*n));
	n->pid = pid;
	n->addr = addr;
	n->gen = gen;
	n->kind = kind;
	n->attr = attr;
	if (cw_index__put(&lg->node_ix, pid, addr, lg->nr_nodes))
		return -1;
	return lg->nr_nodes++;
}

static int same_inst(const struct cw_lg_inst *a, const struct cw_lg_inst *b)
{
	/* made at the attempt or at the return, the same path */
	return a->tid == b->tid && !((a->flags ^ b->flags) & ~CW_EDGE_ATTEMPT) &&
	       a->from_ip == b->from_ip &&
	       a->to_ip == b->to_ip && a->from_stack_id == b->from_stack_id &&
	       a->to_stack_id == b->to_stack_id && a->gate == b->gate;
}

int cw_lg__add_edge(struct cw_lg *lg, const struct cw_ev_edge *e)
{
	struct cw_lg_inst inst = {
		.tid = e->hdr.tid,
		.flags = e->flags,
		.from_ip = e->from_ip,
		.to_ip = e->to_ip,
		.from_stack_id = e->from_stack_id,
		.to_stack_id = e->to_stack_id,
		.gate = e->gate_addr,
		.ts = e->hdr.ts_ns,
	};
	struct cw_lg_inst *insts;
	struct cw_lg_edge *edge;
	long from, to;
	__u32 slot;

	from = get_node(lg, e->hdr.pid, e->from_addr, e->from_kind, e->from_attr);
	to = get_node(lg, e->hdr.pid, e->to_addr, e->to_kind, e->to_attr);
	if (from < 0 || to < 0)
		return -ENOMEM;
	if (cw_index__get(&lg->edge_ix, from, to, &slot)) {
		struct cw_lg_node *n = &lg->nodes[from];
		size_t *out;

		edge = cw_grow(lg->edges, &lg->cap_edges, lg->nr_edges + 1, sizeof(*edge));
		if (!edge)
			return -ENOMEM;
		lg->edges = edge;
		out = cw_grow(n->out, &n->cap_out, n->nr_out + 1, sizeof(*out));
		if (!out)
			return -ENOMEM;
		n->out = out;
		slot = lg->nr_edges;
		if (cw_index__put(&lg->edge_ix, from, to, slot))
			return -ENOMEM;
		memset(&lg->edges[slot], 0, sizeof(lg->edges[slot]));
		lg->edges[slot].from = from;
		lg->edges[slot].to = to;
		n->out[n->nr_out++] = slot;
		lg->nr_edges++;
	}
	edge = &lg->edges[slot];
	for (size_t i = 0; i < edge->nr_insts; i++)
		if (same_inst(&edge->insts[i], &inst))
			return 0;
	insts = cw_grow(edge->insts, &edge->cap_insts, edge->nr_insts + 1, sizeof(inst));
	if (!insts)
		return -ENOMEM;	/* the edge keeps the instances it had */
	edge->insts = insts;
	edge->insts[edge->nr_insts++] = inst;
	return 0;
}

size_t cw_lg__nr_nodes(const struct cw_lg *lg)
{
	return lg->nr_nodes;
}

const struct cw_lg_node *cw_lg__node(const struct cw_lg *lg, size_t i)
{
	return i < lg->nr_nodes ? &lg->nodes[i] : NULL;
}

size_t cw_lg__nr_edges(const struct cw_lg *lg)
{
	return lg->nr_edges;
}

const struct cw_lg_edge *cw_lg__edge(const struct cw_lg *lg, size_t i)
{
	return i < lg->nr_edges ? &lg->edges[i] : NULL;
}

__u32 cw_lg__later_lifetimes(const struct cw_lg *lg, const struct cw_lg_node *n)
{
	return current_gen(lg, n->pid, n->addr) - n->gen;
}

/*
 * Judging a cycle: pick one instance per edge. Thread i holds nodes[i] (as edge i-1
 * acquired... held it) and waits for nodes[i+1] (as edge i acquires it). The link at a
 * node blocks unless both uses of it are reads of a rwlock that prefers readers: a
 * reader does not wait for readers there (lockdep's recursive-read rule).
 */
static int link_blocks(const struct cw_lg *lg, const struct cw_lg_inst *in,
		       const struct cw_lg_inst *out, size_t node)
{
	const struct cw_lg_node *n = &lg->nodes[node];

	if (!(in->flags & CW_EDGE_READ_TO) || !(out->flags & CW_EDGE_READ_FROM))
		return 1;
	return n->kind != CW_LOCK_RWLOCK || (n->attr & CW_ATTR_WRITER_PREF);
}

struct judge {
	const struct cw_lg *lg;
	const struct cw_cycle *c;
	const struct cw_lg_inst **pick;	/* being chosen */
	enum cw_cycle_verdict best;
	int found;			/* some choice has every link blocking */
	__u64 best_gate;
	size_t read_node;		/* a node where a read-read link stopped a choice */
	size_t steps;
};

/* The one other lock every chosen instance held, 0 when there is none. */
static __u64 common_gate(const struct judge *j)
{
	__u64 g = j->pick[0]->gate;

	if (!g)
		return 0;
	for (size_t i = 1; i < j->c->len; i++)
		if (j->pick[i]->gate != g)
			return 0;
	/* a lock of the cycle itself serializes nothing */
	for (size_t i = 0; i < j->c->len; i++)
		if (j->lg->nodes[j->c->nodes[i]].addr == g)
			return 0;
	return g;
}

static void judge_choice(struct judge *j, const struct cw_lg_inst **best)
{
	enum cw_cycle_verdict v;
	__u64 gate = common_gate(j);
	int threads = 0;

	for (size_t i = 1; i < j->c->len && !threads; i++)
		threads = j->pick[i]->tid != j->pick[0]->tid;
	v = gate ? CW_CYCLE_GATED : threads ? CW_CYCLE_DEADLOCK : CW_CYCLE_SINGLE_THREAD;
	if (!j->found || v < j->best) {
		j->found = 1;
		j->best = v;
		j->best_gate = gate;
		memcpy(best, j->pick, j->c->len * sizeof(*best));
	}
}

static void choose(struct judge *j, size_t i, const struct cw_lg_inst **best)
{
	const struct cw_lg_edge *e;

	if ((j->found && j->best == CW_CYCLE_DEADLOCK) || ++j->steps > MAX_CHOICE_STEPS)
		return;
	if (i == j->c->len) {
		if (!link_blocks(j->lg, j->pick[i - 1], j->pick[0], j->c->nodes[0])) {
			j->read_node = j->c->nodes[0];
			return;
		}
		judge_choice(j, best);
		return;
	}
	e = &j->lg->edges[j->c->edges[i]];
	for (size_t k = 0; k < e->nr_insts; k++) {
		j->pick[i] = &e->insts[k];
		if (i && !link_blocks(j->lg, j->pick[i - 1], j->pick[i], j->c->nodes[i])) {
			j->read_node = j->c->nodes[i];
			continue;
		}
		choose(j, i + 1, best);
	}
}

static int judge_cycle(const struct cw_lg *lg, struct cw_cycle *c)
{
	struct judge j = { .lg = lg, .c = c };

	j.pick = calloc(c->len, sizeof(*j.pick));
	c->insts = calloc(c->len, sizeof(*c->insts));
	if (!j.pick || !c->insts) {
		free(j.pick);
		return -ENOMEM;
	}
	choose(&j, 0, c->insts);
	free(j.pick);
	if (!j.found) {
		c->verdict = CW_CYCLE_READ_READ;
		c->read_node = j.read_node;
		return 0;
	}
	c->verdict = j.best;
	c->gate = j.best_gate;
	return 0;
}

struct search {
	const struct cw_lg *lg;
	size_t start, max, max_len;
	size_t *path_edges;		/* the edges of the path being walked */
	size_t depth;
	unsigned char *on_path;
	size_t steps;
	int truncated;
	struct cw_cycle *out;
	size_t nr;
	int err;
};

static int record_cycle(struct search *s)
{
	struct cw_cycle *c = &s->out[s->nr];

	memset(c, 0, sizeof(*c));
	c->len = s->depth;
	c->nodes = malloc(c->len * sizeof(*c->nodes));
	c->edges = malloc(c->len * sizeof(*c->edges));
	if (!c->nodes || !c->edges) {
		free(c->nodes);
		free(c->edges);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->len; i++) {
		c->edges[i] = s->path_edges[i];
		c->nodes[i] = s->lg->edges[c->edges[i]].from;
	}
	s->nr++;
	return judge_cycle(s->lg, c);
}

/*
 * Walk simple paths from start through nodes numbered above it: every elementary cycle
 * is found exactly once, from its lowest-numbered node.
 */
static void walk(struct search *s, size_t node)
{
	const struct cw_lg_node *n = &s->lg->nodes[node];

	for (size_t k = 0; k < n->nr_out && !s->err; k++) {
		size_t ei = n->out[k], to = s->lg->edges[ei].to;

		if (s->nr == s->max || ++s->steps > MAX_SEARCH_STEPS) {
			s->truncated = 1;
			return;
		}
		if (to < s->start || (to != s->start && s->on_path[to]))
			continue;
		s->path_edges[s->depth++] = ei;
		if (to == s->start) {
			s->err = record_cycle(s);
		} else if (s->depth < s->max_len) {
			s->on_path[to] = 1;
			walk(s, to);
			s->on_path[to] = 0;
		} else {
			s->truncated = 1; /* a cycle may run on beyond max_len */
		}
		s->depth--;
	}
}

int cw_lg__cycles(const struct cw_lg *lg, size_t max, size_t max_len, struct cw_cycle **out,
		  size_t *nr, int *truncated)
{
	struct search s = { .lg = lg, .max = max, .max_len = max_len };

	*out = NULL;
	*nr = 0;
	*truncated = 0;
	if (!lg->nr_nodes || !max || !max_len)
		return 0;
	s.out = calloc(max, sizeof(*s.out));
	s.path_edges = calloc(max_len, sizeof(*s.path_edges));
	s.on_path = calloc(lg->nr_nodes, 1);
	if (!s.out || !s.path_edges || !s.on_path) {
		s.err = -ENOMEM;
		goto cleanup;
	}
	for (s.start = 0; s.start < lg->nr_nodes && !s.err && !s.truncated; s.start++)
		walk(&s, s.start);
	/* a stable order: by verdict; ties keep the order they were found in */
	for (size_t i = 1; i < s.nr; i++)
		for (size_t k = i; k > 0 && s.out[k].verdict < s.out[k - 1].verdict; k--) {
			struct cw_cycle t = s.out[k];

			s.out[k] = s.out[k - 1];
			s.out[k - 1] = t;
		}
cleanup:
	free(s.path_edges);
	free(s.on_path);
	if (s.err) {
		cw_lg__cycles_free(s.out, s.nr);
		return s.err;
	}
	*out = s.out;
	*nr = s.nr;
	*truncated = s.truncated;
	return 0;
}

void cw_lg__cycles_free(struct cw_cycle *c, size_t nr)
{
	if (!c)
		return;
	for (size_t i = 0; i < nr; i++) {
		free(c[i].nodes);
		free(c[i].edges);
		free(c[i].insts);
	}
	free(c);
}
