// SPDX-License-Identifier: GPL-2.0
/*
 * The lock rules (include/concwatch/lockrules.h) compiled in userspace
 * (tools/lib/rules/), on the sequences of selftests/lib/rules_seq.h: exactly the edges
 * written there, each once, with the kinds and attributes of its locks; the statistics
 * of each step; the held set's overflow. selftests/live/test_rules.c holds the BPF
 * programs to the same results.
 */
#include <stdlib.h>

#include "kselftest_harness.h"
#include "rules_drive.h"

#define BASE 0x10000ULL
#define PID 100
#define TID 101

/* The edges sent, with the lifetimes of their ends as the engine counts them. */
struct captured {
	struct cw_ev_edge *e;
	int *from_gen, *to_gen;
	size_t nr, cap;
	__u64 reset_addr[64];
	int resets[64];
	size_t nr_reset;
};

static int *resets_of(struct captured *c, __u64 addr)
{
	for (size_t i = 0; i < c->nr_reset; i++)
		if (c->reset_addr[i] == addr)
			return &c->resets[i];
	if (c->nr_reset == 64)
		return NULL;
	c->reset_addr[c->nr_reset] = addr;
	return &c->resets[c->nr_reset++];
}

static int capture(void *ctx, const struct cw_hdr *h)
{
	struct captured *c = ctx;
	const struct cw_ev_edge *e = (const void *)h;
	int *from, *to;

	if (h->type == CW_EV_LOCK_INIT || h->type == CW_EV_LOCK_DESTROY) {
		int *n = resets_of(c, ((const struct cw_ev_lock *)h)->addr);

		if (!n)
			return -1;
		(*n)++;
		return 0;
	}
	if (h->type != CW_EV_LOCK_EDGE)
		return 0;
	from = resets_of(c, e->from_addr);
	to = resets_of(c, e->to_addr);
	if (!from || !to)
		return -1;
	if (c->nr == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *p = realloc(c->e, cap * sizeof(*c->e));
		void *f = realloc(c->from_gen, cap * sizeof(int));
		void *t = realloc(c->to_gen, cap * sizeof(int));

		c->e = p ? p : c->e;
		c->from_gen = f ? f : c->from_gen;
		c->to_gen = t ? t : c->to_gen;
		if (!p || !f || !t)
			return -1;
		c->cap = cap;
	}
	c->from_gen[c->nr] = *from;
	c->to_gen[c->nr] = *to;
	c->e[c->nr++] = *e;
	return 0;
}

/* One end of an expected edge: "3", "3r", "3@3", "3r@3". */
static const char *parse_end(const char *p, int *lock, int *read, int *gen)
{
	char *e;

	*lock = strtol(p, &e, 10);
	*read = *e == 'r';
	e += *read;
	*gen = 1;
	if (*e == '@')
		*gen = strtol(e + 1, &e, 10);
	return e;
}

struct want {
	int from, from_read, from_gen, to, to_read, to_gen, gate;	/* gate -1: none */
};

static size_t parse_edges(const char *s, struct want *w, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		const char *p;

		while (*s == ' ')
			s++;
		if (!*s)
			break;
		p = parse_end(s, &w[n].from, &w[n].from_read, &w[n].from_gen);
		p = parse_end(p + 1, &w[n].to, &w[n].to_read, &w[n].to_gen);
		w[n].gate = -1;
		if (*p == '/')
			w[n].gate = strtol(p + 1, (char **)&p, 10);
		s = p;
		n++;
	}
	return n;
}

/* The overflow sequence: 34 locks taken in order by a set of 32 slots. */
static size_t overflow_edges(struct want *w, size_t max)
{
	size_t n = 0;

	for (int to = 1; to < 34; to++)
		for (int from = 0; from < to && from < CW_HELD_MAX && n < max; from++)
			w[n++] = (struct want){ from, 0, 1, to, 0, 1, from ? 0 : -1 };
	return n;
}

static void captured_fini(struct captured *c)
{
	free(c->e);
	free(c->from_gen);
	free(c->to_gen);
}

static int matches(const struct rs_seq *s, int seq, const struct captured *c, size_t i,
		   const struct want *w)
{
	const struct cw_ev_edge *e = &c->e[i];
	__u16 flags = (w->from_read ? CW_EDGE_READ_FROM : 0) | (w->to_read ? CW_EDGE_READ_TO : 0);

	return e->from_addr == rs_addr(BASE, seq, w->from) && c->from_gen[i] == w->from_gen &&
	       c->to_gen[i] == w->to_gen &&
	       e->to_addr == rs_addr(BASE, seq, w->to) && e->flags == flags &&
	       e->gate_addr == (w->gate < 0 ? 0 : rs_addr(BASE, seq, w->gate)) &&
	       e->from_kind == rs_kind(s->locks[w->from]) &&
	       e->to_kind == rs_kind(s->locks[w->to]) &&
	       e->from_attr == rs_attr(s->locks[w->from]) &&
	       e->to_attr == rs_attr(s->locks[w->to]);
}

FIXTURE(seq) {
	struct cw_rules *r;
	struct captured c;
	__u64 clock;
};

FIXTURE_VARIANT(seq) {
	int seq;
};

FIXTURE_VARIANT_ADD(seq, nesting) { .seq = 0 };
FIXTURE_VARIANT_ADD(seq, abba) { .seq = 1 };
FIXTURE_VARIANT_ADD(seq, trylock) { .seq = 2 };
FIXTURE_VARIANT_ADD(seq, recursion) { .seq = 3 };
FIXTURE_VARIANT_ADD(seq, read) { .seq = 4 };
FIXTURE_VARIANT_ADD(seq, writer_pref) { .seq = 5 };
FIXTURE_VARIANT_ADD(seq, gate) { .seq = 6 };
FIXTURE_VARIANT_ADD(seq, reuse) { .seq = 7 };
FIXTURE_VARIANT_ADD(seq, overflow) { .seq = 8 };

FIXTURE_SETUP(seq)
{
	memset(self, 0, sizeof(*self));
	ASSERT_EQ(9, RS_NR_SEQS);
	ASSERT_EQ(0, cw_rules__new(PID, capture, &self->c, &self->r));
	ASSERT_EQ(0, rs_drive(self->r, variant->seq, PID, TID, BASE, &self->clock, capture,
			      &self->c));
}

FIXTURE_TEARDOWN(seq)
{
	cw_rules__free(self->r);
	captured_fini(&self->c);
}

/* The edges written in the table, each exactly once, and nothing else. */
TEST_F(seq, edges)
{
	const struct rs_seq *s = &rs_seqs[variant->seq];
	static struct want w[1024];
	size_t n;

	n = strcmp(s->edges, "*") ? parse_edges(s->edges, w, 1024) : overflow_edges(w, 1024);
	ASSERT_NE(0, n);
	EXPECT_EQ(n, self->c.nr);
	EXPECT_EQ(n, cw_rules__counts(self->r)->edges);
	for (size_t i = 0; i < n; i++) {
		int found = 0;

		for (size_t j = 0; j < self->c.nr; j++)
			found += matches(s, variant->seq, &self->c, j, &w[i]);
		EXPECT_EQ(1, found) TH_LOG("%s: edge %d>%d (gate %d)", s->name, w[i].from,
					   w[i].to, w[i].gate);
	}
	for (size_t j = 0; j < self->c.nr; j++) {
		EXPECT_EQ(CW_EV_LOCK_EDGE, self->c.e[j].hdr.type);
		EXPECT_EQ(PID, self->c.e[j].hdr.pid);
		EXPECT_EQ(TID, self->c.e[j].hdr.tid);
		/* a dependency is what the rules made of operations, not one operation */
		EXPECT_EQ(CW_F_AGGREGATED, self->c.e[j].hdr.flags);
	}
	EXPECT_EQ(s->overflows, cw_rules__counts(self->r)->held_overflow);
}

/* Every successful acquire counted once, at the lock's own site; nothing contended. */
TEST_F(seq, acquisitions)
{
	const struct rs_seq *s = &rs_seqs[variant->seq];
	struct rs_iter it = { .p = s->ops };
	__u64 want[RS_LOCKS_MAX] = {};
	int lock;
	char op;

	while (rs_next(&it, &op, &lock))
		want[lock] += !!strchr("LTrwty", op);
	for (int i = 0; s->locks[i]; i++) {
		const struct cw_rules_site *site = NULL;

		for (size_t j = 0; j < cw_rules__nr_sites(self->r); j++)
			if (cw_rules__site(self->r, j)->key.addr == rs_addr(BASE, variant->seq, i))
				site = cw_rules__site(self->r, j);
		ASSERT_NE(NULL, site) TH_LOG("%s: lock %d", s->name, i);
		EXPECT_EQ(want[i], site->v.acquisitions) TH_LOG("%s: lock %d", s->name, i);
		EXPECT_EQ(0, site->v.contentions);
		EXPECT_EQ(10 * want[i], site->v.wait_ns_total);
		EXPECT_EQ(10, site->v.wait_ns_max);
		EXPECT_EQ(rs_kind(s->locks[i]), site->v.kind);
		EXPECT_EQ(PID, site->key.tgid);
	}
}

/*
 * A recursive mutex's hold runs from its first acquisition to its last release:
 * L0@3000 L0@4000 U0@5000 L1@6000 U1@7000 U0@8000 L1@9000 U1@10000.
 */
TEST(recursion_figures)
{
	struct cw_rules *r;
	struct captured c = {};
	__u64 clock = 0;
	const struct cw_rules_site *s0, *s1;

	ASSERT_EQ(0, cw_rules__new(PID, capture, &c, &r));
	ASSERT_EQ(0, rs_drive(r, 3, PID, TID, BASE, &clock, NULL, NULL));
	ASSERT_EQ(2, cw_rules__nr_sites(r));
	s0 = cw_rules__site(r, 0);
	s1 = cw_rules__site(r, 1);
	EXPECT_EQ(rs_addr(BASE, 3, 0), s0->key.addr);
	EXPECT_EQ(2, s0->v.acquisitions);
	EXPECT_EQ(5000, s0->v.hold_ns_total);
	EXPECT_EQ(5000, s0->v.hold_ns_max);
	EXPECT_EQ(rs_addr(BASE, 3, 1), s1->key.addr);
	EXPECT_EQ(2, s1->v.acquisitions);
	EXPECT_EQ(2000, s1->v.hold_ns_total);
	EXPECT_EQ(1000, s1->v.hold_ns_max);
	cw_rules__free(r);
	captured_fini(&c);
}

/* What the rules say of each step, on one held set. */
TEST(steps)
{
	struct cw_rules *r;
	struct captured c = {};
	struct cw_rules_acq a = { .addr = 0x1000, .kind = CW_LOCK_MUTEX, .op = CW_OP_LOCK };
	struct cw_rules_acq b = { .addr = 0x2000, .kind = CW_LOCK_MUTEX, .op = CW_OP_LOCK };
	__u64 hold;

	ASSERT_EQ(0, cw_rules__new(PID, capture, &c, &r));
	EXPECT_EQ(CW_RULES_HELD, cw_rules__acquired(r, TID, &a, 10));
	EXPECT_EQ(CW_RULES_AGAIN, cw_rules__acquired(r, TID, &a, 20));
	EXPECT_EQ(CW_RULES_HELD, cw_rules__acquired(r, TID, &b, 30));
	EXPECT_EQ(1, c.nr);
	/* another thread holds nothing: no edge, and its set is its own */
	EXPECT_EQ(CW_RULES_HELD, cw_rules__acquired(r, TID + 1, &b, 35));
	EXPECT_EQ(1, c.nr);
	EXPECT_EQ(0, cw_rules__released(r, TID, 0x3000, 40, &hold));	/* never taken */
	EXPECT_EQ(0, hold);
	EXPECT_EQ(1, cw_rules__released(r, TID, 0x1000, 50, &hold));	/* one depth less */
	EXPECT_EQ(0, hold);
	EXPECT_EQ(2, cw_rules__released(r, TID, 0x2000, 60, &hold));
	EXPECT_EQ(30, hold);
	EXPECT_EQ(2, cw_rules__released(r, TID, 0x1000, 70, &hold));
	EXPECT_EQ(60, hold);
	EXPECT_EQ(0, cw_rules__released(r, TID, 0x1000, 80, &hold));
	/* the exit of a thread forgets what it held */
	cw_rules__thread_exit(r, TID + 1);
	EXPECT_EQ(0, cw_rules__released(r, TID + 1, 0x2000, 90, &hold));
	/* acquired results */
	EXPECT_TRUE(cw_rules_op_acquired(CW_OP_LOCK, 0));
	EXPECT_TRUE(cw_rules_op_acquired(CW_OP_LOCK, 130));
	EXPECT_FALSE(cw_rules_op_acquired(CW_OP_TRYLOCK, 16));
	EXPECT_TRUE(cw_rules_op_acquired(CW_OP_COND_WAIT, 110));
	EXPECT_FALSE(cw_rules_op_acquired(CW_OP_TIMEDLOCK, 110));
	cw_rules__free(r);
	captured_fini(&c);
}

/*
 * Dependencies at the attempt (cw_rules__waits()): an acquire that blocks makes them when
 * its wait begins, the same as its success would have made (gate, read flags), once; a
 * wait that never ends (a deadlock) or ends in failure (a timed acquire) keeps them; a
 * trylock, a relock of a held lock and a thread holding nothing make none.
 */
TEST(attempt)
{
	struct cw_rules *r, *r2;
	struct captured c = {}, c2 = {};
	struct cw_rules_acq a = { .addr = 0x1000, .kind = CW_LOCK_MUTEX, .op = CW_OP_LOCK };
	struct cw_rules_acq b = { .addr = 0x2000, .kind = CW_LOCK_RWLOCK, .op = CW_OP_RDLOCK,
				  .stack_id = 7 };
	struct cw_rules_acq x = { .addr = 0x3000, .kind = CW_LOCK_MUTEX, .op = CW_OP_LOCK };
	struct cw_rules_acq w, w2;
	__u64 hold;

	ASSERT_EQ(0, cw_rules__new(PID, capture, &c, &r));
	ASSERT_EQ(0, cw_rules__new(PID, capture, &c2, &r2));
	/* TID holds x then a and waits for b: x->b and a->b (gate x), at the wait */
	ASSERT_EQ(CW_RULES_HELD, cw_rules__acquired(r, TID, &x, 10));
	ASSERT_EQ(CW_RULES_HELD, cw_rules__acquired(r, TID, &a, 20));
	ASSERT_EQ(1, c.nr);	/* x->a */
	w = b;
	ASSERT_EQ(0, cw_rules__waits(r, TID, &w, 30));
	ASSERT_EQ(3, c.nr);
	EXPECT_EQ(1, w.waited);
	for (size_t i = 1; i < 3; i++) {
		EXPECT_EQ(0x2000, c.e[i].to_addr);
		EXPECT_EQ(7, c.e[i].to_stack_id);
		EXPECT_EQ(CW_EDGE_READ_TO | CW_EDGE_ATTEMPT, c.e[i].flags);
		EXPECT_EQ(CW_LOCK_RWLOCK, c.e[i].to_kind);
		EXPECT_EQ(30, c.e[i].hdr.ts_ns);
		EXPECT_EQ(c.e[i].from_addr == 0x1000 ? 0x3000 : 0, c.e[i].gate_addr);
	}
	EXPECT_NE(c.e[1].from_addr, c.e[2].from_addr);
	/* waiting again within the same acquire, then getting the lock: nothing new */
	ASSERT_EQ(0, cw_rules__waits(r, TID, &w, 40));
	EXPECT_EQ(CW_RULES_HELD, cw_rules__acquired(r, TID, &w, 50));
	EXPECT_EQ(3, c.nr);
	EXPECT_EQ(2, cw_rules__released(r, TID, 0x2000, 60, &hold));
	EXPECT_EQ(10, hold);

	/* the same acquisitions without a wait: the same edges, at the acquisition (but
	 * for the mark of an attempt on those made at the wait) */
	ASSERT_EQ(CW_RULES_HELD, cw_rules__acquired(r2, TID, &x, 10));
	ASSERT_EQ(CW_RULES_HELD, cw_rules__acquired(r2, TID, &a, 20));
	ASSERT_EQ(CW_RULES_HELD, cw_rules__acquired(r2, TID, &b, 50));
	ASSERT_EQ(3, c2.nr);
	for (size_t i = 0; i < 3; i++) {
		struct cw_ev_edge e1 = c.e[i], e2 = c2.e[i];

		e1.hdr.ts_ns = e2.hdr.ts_ns = 0;
		EXPECT_EQ(i ? CW_EDGE_ATTEMPT : 0, e1.flags & CW_EDGE_ATTEMPT);
		EXPECT_EQ(0, e2.flags & CW_EDGE_ATTEMPT);
		e1.flags &= ~CW_EDGE_ATTEMPT;
		EXPECT_EQ(0, memcmp(&e1, &e2, sizeof(e1)));
	}

	/* a wait that never ends: TID + 1 holds b and waits for a, forever */
	ASSERT_EQ(CW_RULES_HELD, cw_rules__acquired(r, TID + 1, &b, 70));
	w = a;
	ASSERT_EQ(0, cw_rules__waits(r, TID + 1, &w, 80));
	ASSERT_EQ(4, c.nr);
	EXPECT_EQ(0x2000, c.e[3].from_addr);
	EXPECT_EQ(0x1000, c.e[3].to_addr);
	EXPECT_EQ(CW_EDGE_READ_FROM | CW_EDGE_ATTEMPT, c.e[3].flags);
	EXPECT_EQ(0, c.e[3].gate_addr);
	/* it never held a */
	EXPECT_EQ(0, cw_rules__released(r, TID + 1, 0x1000, 90, &hold));

	/* a timed acquire that times out keeps its dependency: b -> x */
	w = x;
	w.op = CW_OP_TIMEDLOCK;
	ASSERT_EQ(0, cw_rules__waits(r, TID + 1, &w, 100));
	ASSERT_EQ(5, c.nr);
	EXPECT_EQ(0x2000, c.e[4].from_addr);
	EXPECT_EQ(0x3000, c.e[4].to_addr);
	EXPECT_EQ(0, cw_rules__released(r, TID + 1, 0x3000, 110, &hold));

	/* none for a trylock, for a relock of a held mutex, for a thread holding nothing */
	w = x;
	w.op = CW_OP_TRYLOCK;
	ASSERT_EQ(0, cw_rules__waits(r, TID + 1, &w, 120));
	w = b;
	w.op = CW_OP_WRLOCK;
	ASSERT_EQ(0, cw_rules__waits(r, TID + 1, &w, 130));
	w2 = x;
	ASSERT_EQ(0, cw_rules__waits(r, TID + 2, &w2, 140));
	EXPECT_EQ(1, w2.waited);
	EXPECT_EQ(5, c.nr);
	/* the lifetime of the lock is the one counted: a->gen is set from it */
	ASSERT_EQ(0, cw_rules__reset(r, 0x3000));
	ASSERT_EQ(CW_RULES_HELD, cw_rules__acquired(r, TID + 2, &a, 150));
	w2 = x;
	ASSERT_EQ(0, cw_rules__waits(r, TID + 2, &w2, 160));
	EXPECT_EQ(1, w2.gen);
	ASSERT_EQ(6, c.nr);
	EXPECT_EQ(0x1000, c.e[5].from_addr);
	EXPECT_EQ(0x3000, c.e[5].to_addr);
	cw_rules__free(r);
	cw_rules__free(r2);
	captured_fini(&c);
	captured_fini(&c2);
}

TEST_HARNESS_MAIN
