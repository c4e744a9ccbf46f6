// SPDX-License-Identifier: GPL-2.0
/*
 * The engine's list of findings (engine/findings.h) from synthetic streams: which
 * findings, of which kind and severity, between which locks and threads, closed by
 * which dependency; the cycles it reports once for one closing dependency, and those
 * it suppresses, with the reason. The list is what every output and --fail-on read.
 */
#include <errno.h>

#include "kselftest_harness.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "engine/lockgraph.h"
#include "cw_synth.h"
#include "alloc_fail.h"

#define PID 4000
#define T1 4001
#define T2 4002
#define T3 4003
#define A 0x5000a0
#define B 0x5000b0
#define C 0x5000c0
#define D 0x5000d0
#define G 0x500090

FIXTURE(fs) {
	struct cw_engine *eng;
	struct cw_findings *fs;
	__u64 ts;
};

FIXTURE_SETUP(fs)
{
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	self->ts = 10;
}

FIXTURE_TEARDOWN(fs)
{
	cw_findings__free(self->fs);
	cw_engine__free(self->eng);
}

static void feed(struct __test_metadata *_metadata, struct cw_engine *eng,
		 const struct cw_hdr *h)
{
	ASSERT_EQ(0, cw_engine__feed(eng, h));
}

/* tid acquired `to` while holding `from`; flags, gate and kind as given. */
static void edge_x(struct __test_metadata *_metadata, FIXTURE_DATA(fs) *self, __u32 tid,
		   __u64 from, __u64 to, __u16 flags, __u64 gate, __u8 kind, __u16 attr)
{
	struct cw_ev_edge e = synth_edge(self->ts++, PID, tid, from, to);

	e.flags = flags;
	e.gate_addr = gate;
	if (kind)
		e.from_kind = e.to_kind = kind;
	e.from_attr = e.to_attr = attr;
	feed(_metadata, self->eng, &e.hdr);
}

static void edge(struct __test_metadata *_metadata, FIXTURE_DATA(fs) *self, __u32 tid,
		 __u64 from, __u64 to)
{
	edge_x(_metadata, self, tid, from, to, 0, 0, 0, 0);
}

static void build(struct __test_metadata *_metadata, FIXTURE_DATA(fs) *self)
{
	cw_findings__free(self->fs);
	self->fs = NULL;
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
}

/* Finding f is the cycle through locks[0..len) (in that order) made by tids[i]. */
static void expect_cycle(struct __test_metadata *_metadata, const struct cw_finding *f,
			 const __u64 *locks, const __u32 *tids, size_t len)
{
	ASSERT_EQ(CW_FINDING_LOCK_ORDER_INVERSION, f->kind);
	ASSERT_EQ(len, f->nr_locks);
	ASSERT_EQ(2 * len, f->nr_stacks);
	for (size_t i = 0; i < len; i++) {
		const struct cw_lock_order_link *l = &f->lock_order.links[i];
		size_t next = (i + 1) % len;

		EXPECT_EQ(PID, f->locks[i].pid);
		EXPECT_EQ(locks[i], f->locks[i].addr) TH_LOG("lock %zu", i);
		EXPECT_EQ(CW_LOCK_MUTEX, f->locks[i].type);
		EXPECT_EQ(0, f->locks[i].lifetime);
		/* named by where the cycle saw it acquired: the link into it */
		EXPECT_EQ(0x402000 + (locks[i] & 0xfff), f->locks[i].ip);
		EXPECT_EQ(tids[i], l->tid) TH_LOG("link %zu", i);
		EXPECT_EQ(0x401000 + (locks[i] & 0xfff), l->from_ip);
		EXPECT_EQ(0x402000 + (locks[next] & 0xfff), l->to_ip);
		/* stacks by (pid, space, id), resolved only when shown */
		EXPECT_EQ(PID, f->stacks[l->held_stack].pid);
		EXPECT_EQ(CW_STACK_USER, f->stacks[l->held_stack].space);
		EXPECT_EQ(0x100 + locks[i], f->stacks[l->held_stack].id);
		EXPECT_EQ(CW_STACK_USER, f->stacks[l->acquire_stack].space);
		EXPECT_EQ(0x200 + locks[next], f->stacks[l->acquire_stack].id);
	}
}

TEST(registry_of_kinds)
{
	static const char *const contract[] = {
		"lock_order_inversion", "deadlock", "priority_inversion", "livelock",
		"contention_hotspot", "event_loop_stall", "blocking_in_event_loop",
	};

	ASSERT_EQ(7, CW_FINDING_KIND_MAX);
	for (unsigned int k = 0; k < CW_FINDING_KIND_MAX; k++) {
		EXPECT_STREQ(contract[k], cw_finding_kind__name(k));
		EXPECT_EQ((int)k, cw_finding_kind__parse(contract[k]));
		/* this version detects every kind */
		EXPECT_EQ(1, cw_finding_kind__detected(k));
	}
	EXPECT_EQ(NULL, cw_finding_kind__name(CW_FINDING_KIND_MAX));
	EXPECT_EQ(0, cw_finding_kind__detected(CW_FINDING_KIND_MAX));
	EXPECT_EQ(-ENOENT, cw_finding_kind__parse("all"));
	EXPECT_EQ(-ENOENT, cw_finding_kind__parse("races"));
	EXPECT_EQ(-ENOENT, cw_finding_kind__parse(""));
	EXPECT_STREQ("gate_lock", cw_suppression__name(CW_SUPPRESSED_GATE_LOCK));
	EXPECT_STREQ("read_read", cw_suppression__name(CW_SUPPRESSED_READ_READ));
}

TEST_F(fs, nothing_seen_nothing_found)
{
	build(_metadata, self);
	EXPECT_EQ(0, cw_findings__nr(self->fs));
	EXPECT_EQ(0, cw_findings__nr_reported(self->fs));
	EXPECT_EQ(NULL, cw_findings__get(self->fs, 0));
	EXPECT_EQ(0, cw_findings__truncated(self->fs, CW_FINDING_LOCK_ORDER_INVERSION));
	EXPECT_EQ(0, cw_findings__matching(self->fs, ~0ULL));
}

/* A then B in one thread, B then A in another: one warning, closed by B -> A. */
TEST_F(fs, abba_two_threads)
{
	const struct cw_finding *f;
	struct cw_ev_comm c = synth_comm(1, PID, T1, "worker-1");

	feed(_metadata, self->eng, &c.hdr);
	edge(_metadata, self, T1, A, B);
	edge(_metadata, self, T2, B, A);
	build(_metadata, self);
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	EXPECT_EQ(1, cw_findings__nr_reported(self->fs));
	f = cw_findings__get(self->fs, 0);
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	EXPECT_TRUE(cw_finding__reported(f));
	EXPECT_EQ(CW_SUPPRESSED_NONE, f->suppressed);
	expect_cycle(_metadata, f, (__u64[]){ A, B }, (__u32[]){ T1, T2 }, 2);
	ASSERT_EQ(2, f->nr_threads);
	EXPECT_EQ(PID, f->threads[0].pid);
	EXPECT_EQ(T1, f->threads[0].tid);
	EXPECT_EQ(T2, f->threads[1].tid);
	/* the dependency made last closed the cycle: B -> A, link 1 */
	EXPECT_EQ(1, f->lock_order.closing);
	EXPECT_EQ(0, f->lock_order.single_thread);
	EXPECT_EQ(0, f->lock_order.longer_cycles);
	/* the links are the lock graph's edges, in order */
	EXPECT_EQ(0, f->lock_order.links[0].graph_edge);
	EXPECT_EQ(1, f->lock_order.links[1].graph_edge);
	/* --fail-on: the kind asked for matches, another does not */
	EXPECT_EQ(1, cw_findings__matching(self->fs, 1ULL << CW_FINDING_LOCK_ORDER_INVERSION));
	EXPECT_EQ(0, cw_findings__matching(self->fs, 1ULL << CW_FINDING_DEADLOCK));
	EXPECT_EQ(1, cw_findings__matching(self->fs, (1ULL << CW_FINDING_KIND_MAX) - 1));
}

/* Three threads, three locks, and the closing dependency in the middle of the chain. */
TEST_F(fs, three_threads_closed_in_the_middle)
{
	const struct cw_finding *f;

	edge(_metadata, self, T1, A, B);
	edge(_metadata, self, T3, C, A);
	edge(_metadata, self, T2, B, C);
	build(_metadata, self);
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	f = cw_findings__get(self->fs, 0);
	expect_cycle(_metadata, f, (__u64[]){ A, B, C }, (__u32[]){ T1, T2, T3 }, 3);
	EXPECT_EQ(1, f->lock_order.closing);	/* B -> C, by T2, came last */
	ASSERT_EQ(3, f->nr_threads);
	EXPECT_EQ(T1, f->threads[0].tid);
	EXPECT_EQ(T2, f->threads[1].tid);
	EXPECT_EQ(T3, f->threads[2].tid);
}

/* Both orders in one thread: still a finding (two threads running it deadlock), said so. */
TEST_F(fs, single_thread)
{
	const struct cw_finding *f;

	edge(_metadata, self, T1, C, D);
	edge(_metadata, self, T1, D, C);
	build(_metadata, self);
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	f = cw_findings__get(self->fs, 0);
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	EXPECT_EQ(1, f->lock_order.single_thread);
	expect_cycle(_metadata, f, (__u64[]){ C, D }, (__u32[]){ T1, T1 }, 2);
	ASSERT_EQ(1, f->nr_threads);
	EXPECT_EQ(T1, f->threads[0].tid);
}

/*
 * A dense graph: a -> b -> c and a -> c in one thread, then c -> a in another closes two
 * cycles through one dependency. The shorter is the finding, the longer subsumed by it.
 */
TEST_F(fs, one_finding_per_closing_dependency)
{
	const struct cw_finding *f, *g;

	edge(_metadata, self, T1, A, B);
	edge(_metadata, self, T1, B, C);
	edge(_metadata, self, T1, A, C);
	edge(_metadata, self, T2, C, A);
	build(_metadata, self);
	ASSERT_EQ(2, cw_findings__nr(self->fs));
	EXPECT_EQ(1, cw_findings__nr_reported(self->fs));
	/* in the order the search found them: a b c a first */
	g = cw_findings__get(self->fs, 0);
	f = cw_findings__get(self->fs, 1);
	expect_cycle(_metadata, g, (__u64[]){ A, B, C }, (__u32[]){ T1, T1, T2 }, 3);
	expect_cycle(_metadata, f, (__u64[]){ A, C }, (__u32[]){ T1, T2 }, 2);
	EXPECT_EQ(CW_SEVERITY_SUBSUMED, g->severity);
	EXPECT_EQ(1, g->subsumed_by);
	EXPECT_FALSE(cw_finding__reported(g));
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	EXPECT_EQ(1, f->lock_order.longer_cycles);
	/* both closed by c -> a */
	EXPECT_EQ(g->lock_order.links[g->lock_order.closing].graph_edge,
		  f->lock_order.links[f->lock_order.closing].graph_edge);
	EXPECT_EQ(1, f->lock_order.closing);
	EXPECT_EQ(2, g->lock_order.closing);
	EXPECT_EQ(1, cw_findings__matching(self->fs, 1ULL << CW_FINDING_LOCK_ORDER_INVERSION));

	/* a second bad dependency, b -> a, later: a finding of its own */
	edge(_metadata, self, T3, B, A);
	build(_metadata, self);
	EXPECT_EQ(3, cw_findings__nr(self->fs));
	EXPECT_EQ(2, cw_findings__nr_reported(self->fs));
}

/*
 * Cycles that cannot deadlock are in the list, suppressed, with why: after the
 * findings, whatever order they were seen in.
 */
TEST_F(fs, suppressed_with_reason)
{
	const struct cw_finding *f;

	/* C <-> D, read after read on reader-preferring rwlocks */
	edge_x(_metadata, self, T1, C, D, CW_EDGE_READ_FROM | CW_EDGE_READ_TO, 0,
	       CW_LOCK_RWLOCK, CW_ATTR_KNOWN);
	edge_x(_metadata, self, T2, D, C, CW_EDGE_READ_FROM | CW_EDGE_READ_TO, 0,
	       CW_LOCK_RWLOCK, CW_ATTR_KNOWN);
	/* A <-> B, always holding G */
	edge(_metadata, self, T1, G, A);
	edge_x(_metadata, self, T1, A, B, 0, G, 0, 0);
	edge(_metadata, self, T2, G, B);
	edge_x(_metadata, self, T2, B, A, 0, G, 0, 0);
	/* and one that can deadlock, seen last */
	edge(_metadata, self, T3, 0x5000e0, 0x5000f0);
	edge(_metadata, self, T1, 0x5000f0, 0x5000e0);
	build(_metadata, self);
	ASSERT_EQ(3, cw_findings__nr(self->fs));
	EXPECT_EQ(1, cw_findings__nr_reported(self->fs));

	f = cw_findings__get(self->fs, 0);
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	EXPECT_EQ(0x5000e0, f->locks[0].addr);

	/* then by reason: the gate lock's first, though seen later */
	f = cw_findings__get(self->fs, 1);
	EXPECT_EQ(CW_SEVERITY_SUPPRESSED, f->severity);
	EXPECT_EQ(CW_SUPPRESSED_GATE_LOCK, f->suppressed);
	EXPECT_EQ(G, f->lock_order.gate);
	expect_cycle(_metadata, f, (__u64[]){ A, B }, (__u32[]){ T1, T2 }, 2);

	f = cw_findings__get(self->fs, 2);
	EXPECT_EQ(CW_SEVERITY_SUPPRESSED, f->severity);
	EXPECT_EQ(CW_SUPPRESSED_READ_READ, f->suppressed);
	ASSERT_EQ(2, f->nr_locks);
	EXPECT_EQ(C, f->locks[0].addr);
	EXPECT_EQ(D, f->locks[1].addr);
	EXPECT_EQ(CW_LOCK_RWLOCK, f->locks[0].type);
	/* no choice of instances blocks: each edge's first, for naming and stacks */
	EXPECT_EQ(T1, f->lock_order.links[0].tid);
	EXPECT_EQ(T2, f->lock_order.links[1].tid);
	/* where read meets read: D, between C -> D and D -> C, the first the judgement met */
	EXPECT_EQ(D, f->locks[f->lock_order.read_lock].addr);

	/* --fail-on never sees a suppressed one */
	EXPECT_EQ(1, cw_findings__matching(self->fs, ~0ULL));
}

/* A lock destroyed and initialised again is a new lock: its lifetime says which. */
TEST_F(fs, lifetime_of_a_reused_address)
{
	struct cw_ev_lock init = synth_lock(CW_EV_LOCK_INIT, 0, PID, T1, A, 0, 0);
	const struct cw_finding *f;

	edge(_metadata, self, T1, B, A);
	init.hdr.ts_ns = self->ts++;
	feed(_metadata, self->eng, &init.hdr);
	/* the old A -> B order says nothing of the new lock at A: no cycle yet */
	build(_metadata, self);
	EXPECT_EQ(0, cw_findings__nr(self->fs));
	edge(_metadata, self, T2, A, B);
	edge(_metadata, self, T1, B, A);
	build(_metadata, self);
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	f = cw_findings__get(self->fs, 0);
	ASSERT_EQ(2, f->nr_locks);
	EXPECT_EQ(B, f->locks[0].addr);
	EXPECT_EQ(0, f->locks[0].lifetime);
	EXPECT_EQ(A, f->locks[1].addr);
	EXPECT_EQ(1, f->locks[1].lifetime);
}

/* A graph with more cycles than the search's bound: it says it stopped. */
TEST_F(fs, search_bounds_say_truncated)
{
	for (int i = 0; i < 9; i++)
		for (int k = 0; k < 9; k++)
			if (i != k)
				edge(_metadata, self, T1 + (i + k) % 3, 0x500000 + i * 0x10,
				     0x500000 + k * 0x10);
	build(_metadata, self);
	EXPECT_EQ(1, cw_findings__truncated(self->fs, CW_FINDING_LOCK_ORDER_INVERSION));
	EXPECT_EQ(0, cw_findings__truncated(self->fs, CW_FINDING_DEADLOCK));
	EXPECT_EQ(CW_LOCK_ORDER_MAX_CYCLES, cw_findings__nr(self->fs));
}

/*
 * Out of memory anywhere while the list is built: -ENOMEM and no list, nothing leaked
 * (LeakSanitizer checks at exit); the next try gives the whole list.
 */
TEST_F(fs, out_of_memory)
{
	long n;

	edge(_metadata, self, T1, A, B);
	edge(_metadata, self, T1, B, C);
	edge(_metadata, self, T1, A, C);
	edge(_metadata, self, T2, C, A);
	edge_x(_metadata, self, T1, C, D, 0, G, 0, 0);
	edge_x(_metadata, self, T2, D, C, 0, G, 0, 0);
	for (n = 1; n < 1000; n++) {
		struct cw_findings *fs = NULL;
		int err;

		fail_nth_allocation(n);
		err = cw_findings__new(self->eng, &fs);
		fail_nth_allocation(0);
		if (!alloc_failed) {
			ASSERT_EQ(0, err);
			EXPECT_EQ(3, cw_findings__nr(fs));
			EXPECT_EQ(1, cw_findings__nr_reported(fs));
			cw_findings__free(fs);
			break;
		}
		EXPECT_EQ(-ENOMEM, err) TH_LOG("allocation %ld failed", n);
		EXPECT_EQ(NULL, fs);
		cw_findings__free(fs);
	}
	EXPECT_LT(10, n);	/* the list, each finding's arrays, the cycle search's */
	EXPECT_GT(1000, n);
}

TEST_HARNESS_MAIN
