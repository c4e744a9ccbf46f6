/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lock-order graph: which lock was taken while which was held, and the cycles that
 * can deadlock. Pure, deterministic: the same edges in the same order give the same
 * cycles in the same order.
 *
 * A node is one lock of one process for one lifetime: pthread_*_init/destroy (and
 * freeing the memory) end a lifetime, and the address taken again is a new node, so a
 * destroyed lock whose memory is reused with another meaning adds no false cycle.
 * An edge from -> to has instances: each way it was seen (thread, call sites, modes,
 * the outermost other lock held), as the kernel sent them (one per edge and call site).
 */
#ifndef __CW_LOCKGRAPH_H
#define __CW_LOCKGRAPH_H

#include <stddef.h>
#include <concwatch/events.h>

struct cw_lg_inst {
	__u32 tid;
	__u16 flags;		/* CW_EDGE_* */
	__u64 from_ip, to_ip;
	__u64 from_stack_id;	/* where `from` was acquired */
	__u64 to_stack_id;	/* where `to` was being acquired */
	__u64 gate;		/* the outermost other lock held then, 0 = none */
	__u64 ts;
};

struct cw_lg_node {
	__u32 pid;
	__u32 gen;		/* lifetime of the address: 0, 1, ... */
	__u64 addr;
	__u8 kind;		/* CW_LOCK_* */
	__u16 attr;		/* CW_ATTR_* when known */
	size_t *out;		/* indices of edges from this node */
	size_t nr_out, cap_out;
};

struct cw_lg_edge {
	size_t from, to;	/* node indices */
	struct cw_lg_inst *insts;
	size_t nr_insts, cap_insts;
};

/* How a cycle was judged, most dangerous first (findings.c makes findings of them). */
enum cw_cycle_verdict {
	CW_CYCLE_DEADLOCK,	/* threads can each hold one lock and wait for the next */
	CW_CYCLE_SINGLE_THREAD,	/* it could, but every edge was seen in one thread only */
	CW_CYCLE_GATED,		/* every edge was taken holding one other lock: serialized */
	CW_CYCLE_READ_READ,	/* some link is read-after-read on a reader-preferring rwlock */
};

struct cw_cycle {
	enum cw_cycle_verdict verdict;
	__u64 gate;		/* GATED: the lock held across every edge */
	size_t read_node;	/* READ_READ: a node whose link cannot block */
	size_t len;
	size_t *nodes;		/* nodes[i] -> nodes[(i + 1) % len], from the first-seen node */
	size_t *edges;		/* edges[i] goes nodes[i] -> nodes[(i + 1) % len] */
	const struct cw_lg_inst **insts; /* the instance chosen per edge; NULL for READ_READ */
};

struct cw_lg;

struct cw_lg *cw_lg__new(void);
void cw_lg__free(struct cw_lg *lg);

/* pthread_*_init/destroy, or the memory freed: the address starts a new lifetime. */
int cw_lg__lock_reset(struct cw_lg *lg, __u32 pid, __u64 addr);
/* Add what a CW_EV_LOCK_EDGE record says. 0 or -ENOMEM. */
int cw_lg__add_edge(struct cw_lg *lg, const struct cw_ev_edge *e);

size_t cw_lg__nr_nodes(const struct cw_lg *lg);
const struct cw_lg_node *cw_lg__node(const struct cw_lg *lg, size_t i);
size_t cw_lg__nr_edges(const struct cw_lg *lg);
const struct cw_lg_edge *cw_lg__edge(const struct cw_lg *lg, size_t i);
/* Lifetimes the address went through after this node's (it may have been reused). */
__u32 cw_lg__later_lifetimes(const struct cw_lg *lg, const struct cw_lg_node *n);

/*
 * Every elementary cycle, each once, with its verdict, by verdict (those that can
 * deadlock first) and then in the order of their first node. At most max cycles and max_len locks per cycle are
 * enumerated; *truncated says whether the search stopped short. Free with
 * cw_lg__cycles_free(). 0 or -ENOMEM.
 */
int cw_lg__cycles(const struct cw_lg *lg, size_t max, size_t max_len, struct cw_cycle **out,
		  size_t *nr, int *truncated);
void cw_lg__cycles_free(struct cw_cycle *c, size_t nr);

#endif /* __CW_LOCKGRAPH_H */
