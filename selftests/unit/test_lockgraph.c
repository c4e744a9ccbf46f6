// SPDX-License-Identifier: GPL-2.0
/* The lock-order graph on synthetic edges: which cycles, judged how, each once. */
#include "kselftest_harness.h"
#include "engine/lockgraph.h"

#define PID 100
#define A 0xa0
#define B 0xb0
#define C 0xc0
#define D 0xd0
#define E 0xe0
#define G 0x90

struct spec {
	__u32 tid;
	__u64 from, to;
	__u16 flags;
	__u64 gate;
	__u8 kind;	/* both ends */
	__u16 attr;
};

static void add(struct __test_metadata *_metadata, struct cw_lg *lg, struct spec s)
{
	struct cw_ev_edge e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = CW_EV_LOCK_EDGE;
	e.hdr.size = sizeof(e);
	e.hdr.pid = PID;
	e.hdr.tid = s.tid;
	e.from_addr = s.from;
	e.to_addr = s.to;
	e.from_ip = 0x1000 + s.from;
	e.to_ip = 0x2000 + s.to;
	e.from_stack_id = 0x100 + s.from;
	e.to_stack_id = 0x200 + s.to;
	e.flags = s.flags;
	e.gate_addr = s.gate;
	e.from_kind = e.to_kind = s.kind ? s.kind : CW_LOCK_MUTEX;
	e.from_attr = e.to_attr = s.attr;
	ASSERT_EQ(0, cw_lg__add_edge(lg, &e));
}

FIXTURE(lg)
{
	struct cw_lg *lg;
	struct cw_cycle *cycles;
	size_t nr;
	int truncated;
};

FIXTURE_SETUP(lg)
{
	self->lg = cw_lg__new();
	ASSERT_NE(NULL, self->lg);
}

FIXTURE_TEARDOWN(lg)
{
	cw_lg__cycles_free(self->cycles, self->nr);
	cw_lg__free(self->lg);
}

static void cycles(struct __test_metadata *_metadata, FIXTURE_DATA(lg) *self)
{
	cw_lg__cycles_free(self->cycles, self->nr);
	self->cycles = NULL;
	self->nr = 0;
	ASSERT_EQ(0, cw_lg__cycles(self->lg, 100, 16, &self->cycles, &self->nr, &self->truncated));
}

/* The addresses around cycle c, from its first node. */
static int cycle_is(const struct cw_lg *lg, const struct cw_cycle *c, const __u64 *addrs, size_t n)
{
	if (c->len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (cw_lg__node(lg, c->nodes[i])->addr != addrs[i])
			return 0;
	return 1;
}

TEST_F(lg, abba_two_threads)
{
	const __u64 want[] = { A, B };

	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = B, .to = A });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(0, self->truncated);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
	ASSERT_TRUE(cycle_is(self->lg, &self->cycles[0], want, 2));
	ASSERT_EQ(1, self->cycles[0].insts[0]->tid);
	ASSERT_EQ(2, self->cycles[0].insts[1]->tid);
	ASSERT_EQ(0x100 + A, self->cycles[0].insts[0]->from_stack_id);
	ASSERT_EQ(0x200 + A, self->cycles[0].insts[1]->to_stack_id);
}

TEST_F(lg, no_cycle_in_consistent_order)
{
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = A, .to = B });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = B, .to = C });
	add(_metadata, self->lg, (struct spec){ .tid = 3, .from = A, .to = C });
	cycles(_metadata, self);
	ASSERT_EQ(0, self->nr);
	ASSERT_EQ(3, cw_lg__nr_nodes(self->lg));
	ASSERT_EQ(3, cw_lg__nr_edges(self->lg));
	ASSERT_EQ(2, cw_lg__edge(self->lg, 0)->nr_insts); /* A->B from two threads */
}

TEST_F(lg, three_locks_three_threads)
{
	const __u64 want[] = { A, B, C };

	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = B, .to = C });
	add(_metadata, self->lg, (struct spec){ .tid = 3, .from = C, .to = A });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
	ASSERT_TRUE(cycle_is(self->lg, &self->cycles[0], want, 3));
}

TEST_F(lg, dining_philosophers)
{
	const __u64 forks[] = { A, B, C, D, E };

	/* philosopher i takes fork i, then fork i+1 */
	for (int i = 0; i < 5; i++)
		add(_metadata, self->lg,
		    (struct spec){ .tid = 10 + i, .from = forks[i], .to = forks[(i + 1) % 5] });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
	ASSERT_TRUE(cycle_is(self->lg, &self->cycles[0], forks, 5));
}

/* Every elementary cycle once: A->B->C->A and A->C->A share the edge C->A. */
TEST_F(lg, each_cycle_once)
{
	const __u64 big[] = { A, B, C }, small[] = { A, C };

	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B });
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = B, .to = C });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = C, .to = A });
	add(_metadata, self->lg, (struct spec){ .tid = 3, .from = A, .to = C });
	cycles(_metadata, self);
	ASSERT_EQ(2, self->nr);
	ASSERT_TRUE(cycle_is(self->lg, &self->cycles[0], big, 3));
	ASSERT_TRUE(cycle_is(self->lg, &self->cycles[1], small, 2));
}

TEST_F(lg, single_thread_is_marked)
{
	add(_metadata, self->lg, (struct spec){ .tid = 7, .from = A, .to = B });
	add(_metadata, self->lg, (struct spec){ .tid = 7, .from = B, .to = A });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(CW_CYCLE_SINGLE_THREAD, self->cycles[0].verdict);
	/* a second thread on one edge makes it a real deadlock */
	add(_metadata, self->lg, (struct spec){ .tid = 8, .from = B, .to = A });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
	ASSERT_EQ(8, self->cycles[0].insts[1]->tid);
}

/* Both orders taken only under one gate lock G: the gate serializes them. */
TEST_F(lg, gate_lock_suppresses)
{
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B, .gate = G });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = B, .to = A, .gate = G });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(CW_CYCLE_GATED, self->cycles[0].verdict);
	ASSERT_EQ(G, self->cycles[0].gate);
	/* the same order once without the gate: no longer serialized */
	add(_metadata, self->lg, (struct spec){ .tid = 3, .from = B, .to = A });
	cycles(_metadata, self);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
	ASSERT_EQ(3, self->cycles[0].insts[1]->tid);
}

/* Different gates serialize nothing; a gate that is a lock of the cycle neither. */
TEST_F(lg, gates_must_be_one_other_lock)
{
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B, .gate = G });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = B, .to = A, .gate = C });
	cycles(_metadata, self);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
	cw_lg__free(self->lg);
	self->lg = cw_lg__new();
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B, .gate = C });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = B, .to = C, .gate = C });
	add(_metadata, self->lg, (struct spec){ .tid = 3, .from = C, .to = A, .gate = C });
	cycles(_metadata, self);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
}

/* rwlocks, reader-preferring (glibc's default): read after read cannot block. */
TEST_F(lg, read_read_cycle_cannot_deadlock)
{
	const __u16 rr = CW_EDGE_READ_FROM | CW_EDGE_READ_TO;

	add(_metadata, self->lg,
	    (struct spec){ .tid = 1, .from = A, .to = B, .flags = rr, .kind = CW_LOCK_RWLOCK,
			   .attr = CW_ATTR_KNOWN });
	add(_metadata, self->lg,
	    (struct spec){ .tid = 2, .from = B, .to = A, .flags = rr, .kind = CW_LOCK_RWLOCK,
			   .attr = CW_ATTR_KNOWN });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(CW_CYCLE_READ_READ, self->cycles[0].verdict);
}

TEST_F(lg, write_vs_read_deadlocks)
{
	/* T1 reads A, then writes B; T2 reads B, then writes A */
	add(_metadata, self->lg,
	    (struct spec){ .tid = 1, .from = A, .to = B, .flags = CW_EDGE_READ_FROM,
			   .kind = CW_LOCK_RWLOCK, .attr = CW_ATTR_KNOWN });
	add(_metadata, self->lg,
	    (struct spec){ .tid = 2, .from = B, .to = A, .flags = CW_EDGE_READ_FROM,
			   .kind = CW_LOCK_RWLOCK, .attr = CW_ATTR_KNOWN });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
}

/* A writer-preferring rwlock makes readers wait behind a waiting writer: read-read blocks. */
TEST_F(lg, writer_preferring_read_read_deadlocks)
{
	const __u16 rr = CW_EDGE_READ_FROM | CW_EDGE_READ_TO;
	const __u16 wp = CW_ATTR_KNOWN | CW_ATTR_WRITER_PREF;

	add(_metadata, self->lg,
	    (struct spec){ .tid = 1, .from = A, .to = B, .flags = rr, .kind = CW_LOCK_RWLOCK,
			   .attr = wp });
	add(_metadata, self->lg,
	    (struct spec){ .tid = 2, .from = B, .to = A, .flags = rr, .kind = CW_LOCK_RWLOCK,
			   .attr = wp });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(CW_CYCLE_DEADLOCK, self->cycles[0].verdict);
}

/* Destroyed and reused: the address's next lifetime is another lock. */
TEST_F(lg, lifetimes)
{
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B });
	ASSERT_EQ(0, cw_lg__lock_reset(self->lg, PID, A));
	ASSERT_EQ(0, cw_lg__lock_reset(self->lg, PID, B));
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = B, .to = A });
	cycles(_metadata, self);
	ASSERT_EQ(0, self->nr);
	ASSERT_EQ(4, cw_lg__nr_nodes(self->lg));
	ASSERT_EQ(0, cw_lg__node(self->lg, 0)->gen);
	ASSERT_EQ(1, cw_lg__later_lifetimes(self->lg, cw_lg__node(self->lg, 0)));
	ASSERT_EQ(1, cw_lg__node(self->lg, 2)->gen);
	ASSERT_EQ(0, cw_lg__later_lifetimes(self->lg, cw_lg__node(self->lg, 2)));
}

/* The same instance sent twice is kept once; another thread's is kept too. */
TEST_F(lg, instances_deduplicated)
{
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B });
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = B });
	add(_metadata, self->lg, (struct spec){ .tid = 2, .from = A, .to = B });
	ASSERT_EQ(1, cw_lg__nr_edges(self->lg));
	ASSERT_EQ(2, cw_lg__edge(self->lg, 0)->nr_insts);
}

/* The search stops at its bounds and says so. */
TEST_F(lg, bounded_search)
{
	const int n = 30;

	/* a complete digraph on n locks has more elementary cycles than anyone can list */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < n; k++)
			if (i != k)
				add(_metadata, self->lg,
				    (struct spec){ .tid = i, .from = 0x1000 + i * 64,
						   .to = 0x1000 + k * 64 });
	ASSERT_EQ(0, cw_lg__cycles(self->lg, 50, 8, &self->cycles, &self->nr, &self->truncated));
	ASSERT_EQ(50, self->nr);
	ASSERT_TRUE(self->truncated);
	for (size_t i = 0; i < self->nr; i++)
		ASSERT_GE(8, self->cycles[i].len);
}

/* Recursive self-dependency: a non-recursive lock taken again by its holder. */
TEST_F(lg, self_edge)
{
	add(_metadata, self->lg, (struct spec){ .tid = 1, .from = A, .to = A });
	cycles(_metadata, self);
	ASSERT_EQ(1, self->nr);
	ASSERT_EQ(1, self->cycles[0].len);
	ASSERT_EQ(CW_CYCLE_SINGLE_THREAD, self->cycles[0].verdict);
}

TEST_HARNESS_MAIN
