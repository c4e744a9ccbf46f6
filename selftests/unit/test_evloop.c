// SPDX-License-Identifier: GPL-2.0
/*
 * Event loops in the engine (engine/evloop.h) on synthetic streams: the latest figures
 * win; a stall going on, sent each tick, is replaced by the record that ends it, and a
 * word of it delivered after that record changes nothing; a stall under the threshold is
 * none; the event_loop_stall finding gives the longest stall, the count, the time on a
 * CPU and the iterations' percentiles.
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

TEST_HARNESS_MAIN
