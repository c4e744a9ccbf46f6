// SPDX-License-Identifier: GPL-2.0
/*
 * Event loops in the engine (engine/evloop.h) on synthetic streams: the latest figures
 * win; a stall going on, sent each tick, is replaced by the record that ends it, and a
 * word of it delivered after that record changes nothing; a stall under the threshold is
 * none; the event_loop_stall finding gives the longest stall, the count, the time on a
 * CPU and the iterations' percentiles, and the samples of its stalls; blocks inside
 * iterations are summed by cause into blocking_in_event_loop findings.
 */
#include "kselftest_harness.h"
#include "cw_synth.h"
#include "engine/engine.h"
#include "engine/evloop.h"
#include "engine/findings.h"

#define MS 1000000ULL
#define PID 7000
#define LOOP 7001

static struct cw_ev_loop_stall stall(__u64 ts, __u64 start, __u64 d, __u64 oncpu, __u32 flags)
{
	struct cw_ev_loop_stall e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_LOOP_STALL, sizeof(e), ts, PID, LOOP);
	e.start_ns = start;
	e.duration_ns = d;
	e.oncpu_ns = oncpu;
	e.wait_nr = 232;
	e.flags = flags;
	return e;
}

static struct cw_ev_loop_stats stats(__u64 ts, __u64 waits)
{
	struct cw_ev_loop_stats e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_LOOP_STATS, sizeof(e), ts, PID, LOOP);
	e.hdr.flags = CW_F_AGGREGATED;
	e.waits = waits;
	e.iterations = waits - 1;
	e.busy_ns_max = 300 * MS;
	e.wait_nr = 232;
	/* 98 iterations of [16, 32) us, one of [256, 512) us, one of [256, 512) ms */
	e.busy_hist[14] = 98;
	e.busy_hist[18] = 1;
	e.busy_hist[28] = 1;
	return e;
}

static void feed(struct __test_metadata *_metadata, struct cw_engine *eng, const void *rec)
{
	ASSERT_EQ(0, cw_engine__feed(eng, rec));
}

TEST(ongoing_then_ended)
{
	struct cw_engine *eng = cw_engine__new();
	const struct cw_evloop_thread *t;
	struct cw_findings *fs;
	const struct cw_finding *f;
	struct cw_ev_loop_stall s;
	struct cw_ev_loop_stats st;

	ASSERT_NE(NULL, eng);
	st = stats(1000 * MS, 101);
	feed(_metadata, eng, &st);
	st = stats(900 * MS, 50);	/* older: the newer one stays */
	feed(_metadata, eng, &st);
	/* going on at 1.15 s and 1.25 s, ended at 1.3 s after 300 ms, 290 ms of it on a CPU */
	s = stall(1150 * MS, 1000 * MS, 150 * MS, 0, CW_LOOP_F_ONGOING);
	feed(_metadata, eng, &s);
	t = cw_evloop__get(cw_engine__evloop(eng), 0);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(150 * MS, t->ongoing.duration_ns);
	EXPECT_TRUE(t->longest.ongoing);
	s = stall(1250 * MS, 1000 * MS, 250 * MS, 0, CW_LOOP_F_ONGOING);
	feed(_metadata, eng, &s);
	s = stall(1300 * MS, 1000 * MS, 300 * MS, 290 * MS, CW_LOOP_F_ONCPU);
	feed(_metadata, eng, &s);
	/* a word read at 1.28 s, delivered late */
	s = stall(1280 * MS, 1000 * MS, 280 * MS, 0, CW_LOOP_F_ONGOING);
	feed(_metadata, eng, &s);
	/* under the threshold (100 ms): none */
	s = stall(1500 * MS, 1450 * MS, 50 * MS, 50 * MS, CW_LOOP_F_ONCPU);
	feed(_metadata, eng, &s);

	ASSERT_EQ(1, cw_evloop__nr(cw_engine__evloop(eng)));
	t = cw_evloop__get(cw_engine__evloop(eng), 0);
	EXPECT_EQ(101, t->stats.waits);
	EXPECT_EQ(1, t->stalls);
	EXPECT_EQ(300 * MS, t->stall_ns_total);
	EXPECT_EQ(0, t->ongoing.duration_ns);
	EXPECT_EQ(300 * MS, t->longest.duration_ns);
	EXPECT_FALSE(t->longest.ongoing);
	EXPECT_EQ(32768, cw_evloop__percentile(t, 50));	/* the upper bound of [16, 32) us */
	EXPECT_EQ(524288, cw_evloop__percentile(t, 99));
	/* [256, 512) ms's upper bound is past the longest iteration: the longest */
	EXPECT_EQ(300 * MS, cw_evloop__percentile(t, 100));

	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	ASSERT_EQ(1, cw_findings__nr(fs));
	f = cw_findings__get(fs, 0);
	EXPECT_EQ(CW_FINDING_EVENT_LOOP_STALL, f->kind);
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	ASSERT_EQ(1, f->nr_threads);
	EXPECT_EQ(LOOP, f->threads[0].tid);
	EXPECT_EQ(1, f->loop.stalls);
	EXPECT_EQ(1000 * MS, f->loop.start_ns);
	EXPECT_EQ(300 * MS, f->loop.duration_ns);
	EXPECT_EQ(290 * MS, f->loop.oncpu_ns);
	EXPECT_TRUE(f->loop.oncpu_known);
	EXPECT_FALSE(f->loop.ongoing);
	EXPECT_EQ(100, f->loop.iterations);
	EXPECT_EQ(300 * MS, f->loop.busy_max_ns);
	EXPECT_EQ(1, cw_findings__matching(fs, 1ULL << CW_FINDING_EVENT_LOOP_STALL));
	cw_findings__free(fs);
	cw_engine__free(eng);
}

/* A loop stuck at the end: its last word is the finding, going on, not ended. */
TEST(stuck_at_the_end)
{
	struct cw_engine *eng = cw_engine__new();
	struct cw_findings *fs;
	struct cw_ev_loop_stall s;

	ASSERT_NE(NULL, eng);
	s = stall(2000 * MS, 1000 * MS, 1000 * MS, 0, CW_LOOP_F_ONGOING);
	feed(_metadata, eng, &s);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	ASSERT_EQ(1, cw_findings__nr(fs));
	EXPECT_TRUE(cw_findings__get(fs, 0)->loop.ongoing);
	EXPECT_EQ(1, cw_findings__get(fs, 0)->loop.stalls);
	EXPECT_FALSE(cw_findings__get(fs, 0)->loop.oncpu_known);
	cw_findings__free(fs);
	cw_engine__free(eng);
}

/*
 * A loop that left its loop for good and exited: the time from its last wait to its exit
 * is no stall; a stall that ended before is still one.
 */
TEST(exited_loop_ending_is_no_stall)
{
	struct cw_engine *eng = cw_engine__new();
	struct cw_ev_loop_stall s = stall(2000 * MS, 1000 * MS, 1000 * MS, 0, CW_LOOP_F_ONGOING);
	struct cw_ev_exit x = synth_exit(2100 * MS, PID, LOOP);
	struct cw_findings *fs;

	ASSERT_NE(NULL, eng);
	feed(_metadata, eng, &s);
	feed(_metadata, eng, &x);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	EXPECT_EQ(0, cw_findings__nr(fs));
	cw_findings__free(fs);
	cw_engine__free(eng);

	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	s = stall(500 * MS, 300 * MS, 200 * MS, 150 * MS, CW_LOOP_F_ONCPU);
	feed(_metadata, eng, &s);
	s = stall(2000 * MS, 1000 * MS, 1000 * MS, 0, CW_LOOP_F_ONGOING);
	feed(_metadata, eng, &s);
	feed(_metadata, eng, &x);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	ASSERT_EQ(1, cw_findings__nr(fs));
	EXPECT_EQ(1, cw_findings__get(fs, 0)->loop.stalls);
	EXPECT_EQ(200 * MS, cw_findings__get(fs, 0)->loop.duration_ns);
	EXPECT_FALSE(cw_findings__get(fs, 0)->loop.ongoing);
	cw_findings__free(fs);
	cw_engine__free(eng);
}

/* A healthy loop: figures, no finding. A threshold of 20 ms makes a 50 ms one a stall. */
TEST(threshold)
{
	struct cw_engine *eng = cw_engine__new();
	struct cw_findings *fs;
	struct cw_ev_loop_stall s = stall(1500 * MS, 1450 * MS, 50 * MS, 1 * MS, CW_LOOP_F_ONCPU);
	struct cw_ev_loop_stats st = stats(1000 * MS, 11);

	ASSERT_NE(NULL, eng);
	feed(_metadata, eng, &st);
	feed(_metadata, eng, &s);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	EXPECT_EQ(0, cw_findings__nr(fs));
	cw_findings__free(fs);
	cw_engine__free(eng);

	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	cw_engine__set_stall_threshold(eng, 20 * MS);
	feed(_metadata, eng, &st);
	feed(_metadata, eng, &s);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	ASSERT_EQ(1, cw_findings__nr(fs));
	EXPECT_EQ(20 * MS, cw_findings__get(fs, 0)->loop.threshold_ns);
	EXPECT_EQ(50 * MS, cw_findings__get(fs, 0)->loop.duration_ns);
	cw_findings__free(fs);
	cw_engine__free(eng);
}

static struct cw_ev_loop_block block(__u64 start, __u64 d, __u64 iter, __u8 reason, __u32 nr,
				     __u64 addr, __u64 stack, __u32 owner)
{
	struct cw_ev_loop_block e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_LOOP_BLOCK, sizeof(e), start + d, PID, LOOP);
	e.start_ns = start;
	e.duration_ns = d;
	e.iter_start_ns = iter;
	e.reason = reason;
	e.nr = nr;
	e.addr = addr;
	e.stack_id = stack;
	e.owner_tid = owner;
	return e;
}

static struct cw_ev_loop_sample sample(__u64 ts, __u64 iter, __u64 stack, __u32 flags)
{
	struct cw_ev_loop_sample e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_LOOP_SAMPLE, sizeof(e), ts, PID, LOOP);
	e.iter_start_ns = iter;
	e.stack_id = stack;
	e.flags = flags;
	return e;
}

static const struct cw_finding *nth_of(const struct cw_findings *fs, enum cw_finding_kind kind,
				       size_t n)
{
	for (size_t i = 0; i < cw_findings__nr(fs); i++) {
		const struct cw_finding *f = cw_findings__get(fs, i);

		if (f->kind == kind && !n--)
			return f;
	}
	return NULL;
}

/*
 * Blocks inside iterations, by cause: three waits on lock 0x1000 (held by 7002, the
 * longest 40 ms), one of 8 ms under the default 10 ms threshold, and two sleeps in
 * nanosleep (35): two findings, the lock's first (more blocked time), each with its
 * count, longest, total, and the longest one's stack and holder; the lock's longest was
 * in a stall (its iteration at 1000 ms became one), the sleep's not.
 */
TEST(blocks_by_cause)
{
	struct cw_engine *eng = cw_engine__new();
	const struct cw_finding *f;
	struct cw_findings *fs;
	struct {
		struct cw_ev_loop_block b;
	} v[] = {
		{ block(100 * MS, 20 * MS, 90 * MS, CW_OFFCPU_LOCK, 202, 0x1000, 0xa1, 7002) },
		{ block(300 * MS, 8 * MS, 290 * MS, CW_OFFCPU_LOCK, 202, 0x1000, 0xa2, 7002) },
		{ block(400 * MS, 15 * MS, 390 * MS, CW_OFFCPU_SLEEP, 35, 0, 0xb1, 0) },
		{ block(1010 * MS, 40 * MS, 1000 * MS, CW_OFFCPU_LOCK, 202, 0x1000, 0xa3, 7002) },
		{ block(1200 * MS, 12 * MS, 1190 * MS, CW_OFFCPU_SLEEP, 35, 0, 0xb2, 0) },
		{ block(1300 * MS, 10 * MS, 1290 * MS, CW_OFFCPU_LOCK, 202, 0x1000, 0xa4, 0) },
	};
	struct cw_ev_loop_stall st = stall(1150 * MS, 1000 * MS, 150 * MS, 10 * MS, 0);

	ASSERT_NE(NULL, eng);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		feed(_metadata, eng, &v[i].b);
	feed(_metadata, eng, &st);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	ASSERT_NE(NULL, nth_of(fs, CW_FINDING_EVENT_LOOP_STALL, 0));

	f = nth_of(fs, CW_FINDING_BLOCKING_IN_EVENT_LOOP, 0);
	ASSERT_NE(NULL, f);
	EXPECT_TRUE(cw_finding__reported(f));
	EXPECT_EQ(CW_OFFCPU_LOCK, f->block.reason);
	EXPECT_EQ(0x1000, f->block.addr);
	EXPECT_EQ(3, f->block.count);
	EXPECT_EQ(70 * MS, f->block.total_ns);
	EXPECT_EQ(40 * MS, f->block.max_ns);
	EXPECT_EQ(1010 * MS, f->block.longest_start_ns);
	EXPECT_EQ(10 * MS, f->block.threshold_ns);
	EXPECT_TRUE(f->block.in_stall);
	EXPECT_EQ(7002, f->block.owner_tid);
	ASSERT_EQ(2, f->nr_threads);
	EXPECT_EQ(LOOP, f->threads[0].tid);
	EXPECT_EQ(7002, f->threads[1].tid);
	ASSERT_EQ(1, f->nr_locks);
	EXPECT_EQ(0x1000, f->locks[0].addr);
	ASSERT_EQ(1, f->nr_stacks);
	EXPECT_EQ(0xa3, f->stacks[0].id);
	EXPECT_EQ(CW_STACK_USER, f->stacks[0].space);

	f = nth_of(fs, CW_FINDING_BLOCKING_IN_EVENT_LOOP, 1);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(CW_OFFCPU_SLEEP, f->block.reason);
	EXPECT_EQ(35, f->block.nr);
	EXPECT_EQ(0, f->block.addr);
	EXPECT_EQ(2, f->block.count);
	EXPECT_EQ(27 * MS, f->block.total_ns);
	EXPECT_EQ(15 * MS, f->block.max_ns);
	EXPECT_FALSE(f->block.in_stall);
	EXPECT_EQ(1, f->nr_threads);
	EXPECT_EQ(0, f->nr_locks);
	EXPECT_EQ(0xb1, f->stacks[0].id);
	EXPECT_EQ(NULL, nth_of(fs, CW_FINDING_BLOCKING_IN_EVENT_LOOP, 2));
	cw_findings__free(fs);
	cw_engine__free(eng);

	/* a 20 ms threshold: only the lock's 40 ms and 20 ms waits */
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	cw_engine__set_block_threshold(eng, 20 * MS);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		feed(_metadata, eng, &v[i].b);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	f = nth_of(fs, CW_FINDING_BLOCKING_IN_EVENT_LOOP, 0);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(2, f->block.count);
	EXPECT_EQ(60 * MS, f->block.total_ns);
	EXPECT_EQ(20 * MS, f->block.threshold_ns);
	EXPECT_FALSE(f->block.in_stall);
	EXPECT_EQ(NULL, nth_of(fs, CW_FINDING_BLOCKING_IN_EVENT_LOOP, 1));
	cw_findings__free(fs);
	cw_engine__free(eng);
}

/*
 * A loop thread that exits in the middle of an iteration (its final figures: in no wait,
 * the iteration begun at 1000 ms) was shutting down: its blocks there (joining its
 * workers at 1010 ms) are none; one in an earlier iteration is. A thread still alive
 * keeps them all.
 */
TEST(exit_iteration_blocks_are_none)
{
	struct cw_ev_loop_block b1 = block(100 * MS, 20 * MS, 90 * MS, CW_OFFCPU_FUTEX, 202,
					   0x2000, 0xc1, 0);
	struct cw_ev_loop_block b2 = block(1010 * MS, 30 * MS, 1000 * MS, CW_OFFCPU_FUTEX, 202,
					   0x2000, 0xc2, 0);
	struct cw_ev_loop_stats st = stats(1050 * MS, 101);
	struct cw_ev_exit x = synth_exit(1060 * MS, PID, LOOP);
	struct cw_engine *eng;
	const struct cw_finding *f;
	struct cw_findings *fs;

	st.iter_start_ns = 1000 * MS;
	for (int exits = 0; exits < 2; exits++) {
		eng = cw_engine__new();
		ASSERT_NE(NULL, eng);
		feed(_metadata, eng, &b1);
		feed(_metadata, eng, &b2);
		feed(_metadata, eng, &st);
		if (exits)
			feed(_metadata, eng, &x);
		EXPECT_EQ(1000 * MS, cw_evloop__exit_iteration(cw_evloop__find(
						 cw_engine__evloop(eng), PID, LOOP)));
		ASSERT_EQ(0, cw_findings__new(eng, &fs));
		f = nth_of(fs, CW_FINDING_BLOCKING_IN_EVENT_LOOP, 0);
		ASSERT_NE(NULL, f);
		EXPECT_EQ(exits ? 1 : 2, f->block.count);
		EXPECT_EQ(exits ? 20 * MS : 50 * MS, f->block.total_ns);
		EXPECT_EQ(exits ? 0xc1 : 0xc2, f->stacks[0].id);
		cw_findings__free(fs);
		cw_engine__free(eng);
	}
}

/*
 * Samples: those of iterations that became stalls are the stall finding's stacks, in the
 * order taken (the one going on at the end included); those of a long iteration that was
 * no stall in the end, and of a stall under the threshold, are not.
 */
TEST(stall_samples)
{
	struct cw_engine *eng = cw_engine__new();
	struct cw_ev_loop_sample s[] = {
		sample(160 * MS, 100 * MS, 0x11, 0),	/* iteration 100: a stall */
		sample(180 * MS, 100 * MS, 0x12, CW_LOOP_SAMPLE_F_KERNEL),
		sample(560 * MS, 500 * MS, 0x21, 0),	/* iteration 500: 90 ms, none */
		sample(760 * MS, 700 * MS, 0x31, 0),	/* iteration 700: 80 ms, under 100 */
		sample(1060 * MS, 1000 * MS, 0x41, 0),	/* iteration 1000: going on */
	};
	struct cw_ev_loop_stall st[] = {
		stall(250 * MS, 100 * MS, 150 * MS, 150 * MS, CW_LOOP_F_ONCPU),
		stall(780 * MS, 700 * MS, 80 * MS, 80 * MS, CW_LOOP_F_ONCPU),
		stall(1150 * MS, 1000 * MS, 150 * MS, 0, CW_LOOP_F_ONGOING),
	};
	const struct cw_evloop_thread *t;
	const struct cw_finding *f;
	struct cw_findings *fs;

	ASSERT_NE(NULL, eng);
	feed(_metadata, eng, &s[0]);
	feed(_metadata, eng, &s[1]);
	feed(_metadata, eng, &st[0]);
	feed(_metadata, eng, &s[2]);
	feed(_metadata, eng, &s[3]);
	feed(_metadata, eng, &st[1]);
	feed(_metadata, eng, &s[4]);
	feed(_metadata, eng, &st[2]);
	t = cw_evloop__find(cw_engine__evloop(eng), PID, LOOP);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(5, t->nr_samples);
	EXPECT_TRUE(cw_evloop__is_stall(t, 100 * MS));
	EXPECT_FALSE(cw_evloop__is_stall(t, 500 * MS));
	EXPECT_FALSE(cw_evloop__is_stall(t, 700 * MS));
	EXPECT_TRUE(cw_evloop__is_stall(t, 1000 * MS));
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	f = nth_of(fs, CW_FINDING_EVENT_LOOP_STALL, 0);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(3, f->nr_stacks);
	EXPECT_EQ(0x11, f->stacks[0].id);
	EXPECT_EQ(0x12, f->stacks[1].id);
	EXPECT_EQ(0x41, f->stacks[2].id);
	EXPECT_EQ(PID, f->stacks[2].pid);
	EXPECT_EQ(1, f->loop.kernel_samples);
	cw_findings__free(fs);

	/* past the bound, samples are counted, not kept */
	EXPECT_EQ(0, t->dropped);
	for (size_t i = t->nr_samples; i <= CW_EVLOOP_MAX_SAMPLES; i++) {
		struct cw_ev_loop_sample e = sample(1100 * MS + i, 1000 * MS, 0x1000 + i, 0);

		feed(_metadata, eng, &e);
	}
	EXPECT_EQ(CW_EVLOOP_MAX_SAMPLES, t->nr_samples);
	EXPECT_EQ(1, t->dropped);
	cw_engine__free(eng);
}

TEST_HARNESS_MAIN
