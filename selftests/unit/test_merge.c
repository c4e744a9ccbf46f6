// SPDX-License-Identifier: GPL-2.0
/* The reorder window: time order out, held until the window has passed, late ones counted. */
#include "kselftest_harness.h"
#include "engine/merge.h"
#include "cw_synth.h"

struct out {
	int n;
	__u64 ts[32];
	__u32 tid[32];
};

static int record_out(void *ctx, const struct cw_hdr *h)
{
	struct out *o = ctx;

	o->ts[o->n] = h->ts_ns;
	o->tid[o->n++] = h->tid;
	return 0;
}

static void push_lock(struct cw_merge *m, __u64 ts, __u32 tid)
{
	struct cw_ev_lock e = synth_lock(CW_EV_LOCK_BEGIN, ts, 1, tid, 0x10, 0, 0);

	cw_merge__push(m, &e.hdr);
}

TEST(reorders_within_window)
{
	struct cw_merge *m = cw_merge__new(100);
	struct out o = {};

	ASSERT_NE(NULL, m);
	push_lock(m, 1000, 1);
	push_lock(m, 950, 2);	/* came late, but within the window */
	push_lock(m, 1020, 3);
	ASSERT_EQ(0, cw_merge__pop(m, 0, record_out, &o));
	ASSERT_EQ(0, o.n);	/* newest is 1020: nothing is 100 older yet */

	push_lock(m, 1060, 4);
	ASSERT_EQ(0, cw_merge__pop(m, 0, record_out, &o));
	ASSERT_EQ(1, o.n);	/* only 950 <= 1060 - 100 */
	ASSERT_EQ(950, o.ts[0]);

	ASSERT_EQ(0, cw_merge__pop(m, 1, record_out, &o));
	ASSERT_EQ(4, o.n);
	ASSERT_EQ(1000, o.ts[1]);
	ASSERT_EQ(1020, o.ts[2]);
	ASSERT_EQ(1060, o.ts[3]);
	ASSERT_EQ(0, cw_merge__pending(m));
	cw_merge__free(m);
}

TEST(equal_timestamps_keep_arrival_order)
{
	struct cw_merge *m = cw_merge__new(0);
	struct out o = {};

	for (__u32 tid = 1; tid <= 20; tid++)
		push_lock(m, 500, tid);
	ASSERT_EQ(0, cw_merge__pop(m, 1, record_out, &o));
	ASSERT_EQ(20, o.n);
	for (int i = 0; i < 20; i++)
		ASSERT_EQ((__u32)i + 1, o.tid[i]);
	cw_merge__free(m);
}

TEST(late_records_counted_and_delivered)
{
	struct cw_merge *m = cw_merge__new(10);
	struct cw_merge_stats st;
	struct out o = {};

	push_lock(m, 100, 1);
	push_lock(m, 200, 2);
	ASSERT_EQ(0, cw_merge__pop(m, 0, record_out, &o));
	ASSERT_EQ(1, o.n);
	push_lock(m, 50, 3);	/* older than 100, already handed on */
	ASSERT_EQ(0, cw_merge__pop(m, 1, record_out, &o));
	ASSERT_EQ(3, o.n);
	ASSERT_EQ(50, o.ts[1]);
	cw_merge__stats(m, &st);
	ASSERT_EQ(1, st.late);
	ASSERT_EQ(3, st.pushed);
	ASSERT_EQ(3, st.popped);
	ASSERT_EQ(2, st.max_pending);
	cw_merge__free(m);
}

/* A tick alone moves the window: a stalled target's records still come out. */
TEST(ticks_release_records)
{
	struct cw_merge *m = cw_merge__new(100);
	struct cw_ev_tick t = synth_tick(5000, 1);
	struct out o = {};

	push_lock(m, 1000, 1);
	ASSERT_EQ(0, cw_merge__pop(m, 0, record_out, &o));
	ASSERT_EQ(0, o.n);
	cw_merge__push(m, &t.hdr);
	ASSERT_EQ(0, cw_merge__pop(m, 0, record_out, &o));
	ASSERT_EQ(1, o.n);
	ASSERT_EQ(1000, o.ts[0]);
	cw_merge__free(m);
}

struct order_check {
	__u64 last;
	int n;
	int inversions;
};

static int check_order(void *ctx, const struct cw_hdr *h)
{
	struct order_check *c = ctx;

	if (c->n++ && h->ts_ns < c->last)
		c->inversions++;
	c->last = h->ts_ns;
	return 0;
}

TEST(many_records_sorted)
{
	struct cw_merge *m = cw_merge__new(1000000);
	struct order_check c = {};

	/* 7919 is prime to 10000: every value 0..9999 once, in scrambled order */
	for (__u64 i = 0; i < 10000; i++)
		push_lock(m, (i * 7919) % 10000, 1);
	ASSERT_EQ(0, cw_merge__pop(m, 1, check_order, &c));
	ASSERT_EQ(10000, c.n);
	ASSERT_EQ(0, c.inversions);
	ASSERT_EQ(9999, c.last);
	cw_merge__free(m);
}

static int stop_after_two(void *ctx, const struct cw_hdr *h)
{
	int *n = ctx;

	return ++*n == 2 ? -42 : 0;
}

TEST(callback_error_stops_pop)
{
	struct cw_merge *m = cw_merge__new(0);
	int n = 0;

	for (int i = 0; i < 5; i++)
		push_lock(m, i, 1);
	ASSERT_EQ(-42, cw_merge__pop(m, 1, stop_after_two, &n));
	ASSERT_EQ(3, cw_merge__pending(m));
	cw_merge__free(m); /* must free what is still held: LeakSanitizer checks */
}

TEST_HARNESS_MAIN
