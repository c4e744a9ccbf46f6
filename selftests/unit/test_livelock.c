// SPDX-License-Identifier: GPL-2.0
/*
 * The livelock rule (engine/livelock.h) and its finding on synthetic streams: threads
 * failing trylocks on each other's locks (aggregated CW_SITE_TRY statistics, or raw lock
 * records) are a livelock past the threshold and not before; a busy workload whose
 * trylocks fail but whose threads also get the locks is none; a thread that fails behind
 * a holder that works is none; the same stream gives the same findings.
 */
#include "kselftest_harness.h"
#include "cw_render.h"
#include "cw_synth.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "engine/livelock.h"
#include "report/report.h"
#include "report/symbols.h"

#define PID 100
#define A 0xa000
#define B 0xb000
#define MS 1000000ULL
#define T0 1000000000ULL	/* the streams' start, 1 s */
#define TICK (100 * MS)

/* One interval's CW_SITE_TRY figures of tid on addr, owner the holder at its last failure. */
static void try_stats(struct cw_engine *eng, __u64 ts, __u32 tid, __u64 addr, __u64 failures,
		      __u64 acquired, __u32 owner)
{
	struct cw_ev_lock_stats s = synth_stats(CW_SITE_TRY, ts, PID, tid, addr, 0x5000 + tid, 0,
						0);

	s.kind = CW_LOCK_MUTEX;
	s.op = CW_OP_TRYLOCK;
	s.ip = 0x401000 + tid;
	s.failures = failures;
	s.acquisitions = acquired;
	s.owner_tid = owner;
	cw_engine__feed(eng, &s.hdr);
}

static void tick(struct cw_engine *eng, __u64 ts)
{
	struct cw_ev_tick t = synth_tick(ts, ts / MS);

	cw_engine__feed(eng, &t.hdr);
}

static void comm(struct cw_engine *eng, __u32 tid, const char *name)
{
	struct cw_ev_comm c = synth_comm(T0, PID, tid, name);

	cw_engine__feed(eng, &c.hdr);
}

/*
 * Two threads in lockstep for n ticks: 101 holds A and fails on B (held by 102), 102
 * holds B and fails on A, per failures a tick each.
 */
static void lockstep(struct cw_engine *eng, int n, __u64 failures)
{
	comm(eng, 101, "wl-ll1");
	comm(eng, 102, "wl-ll2");
	for (int i = 1; i <= n; i++) {
		try_stats(eng, T0 + i * TICK, 101, B, failures, 0, 102);
		try_stats(eng, T0 + i * TICK, 102, A, failures, 0, 101);
		tick(eng, T0 + i * TICK);
	}
}

static size_t nr_livelocks(const struct cw_engine *eng, const struct cw_findings *fs)
{
	size_t n = 0;

	for (size_t i = 0; i < cw_findings__nr(fs); i++)
		n += cw_findings__get(fs, i)->kind == CW_FINDING_LIVELOCK;
	return n;
}

static const struct cw_finding *livelock(const struct cw_findings *fs, size_t k)
{
	for (size_t i = 0; i < cw_findings__nr(fs); i++) {
		const struct cw_finding *f = cw_findings__get(fs, i);

		if (f->kind == CW_FINDING_LIVELOCK && !k--)
			return f;
	}
	return NULL;
}

FIXTURE(ll)
{
	struct cw_engine *eng;
	struct cw_findings *fs;
};

FIXTURE_SETUP(ll)
{
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	self->fs = NULL;
}

FIXTURE_TEARDOWN(ll)
{
	cw_findings__free(self->fs);
	cw_engine__free(self->eng);
}

/* Two threads failing on each other's locks for 1.5 s: one finding, its threads, locks, rate. */
TEST_F(ll, lockstep_is_a_livelock)
{
	const struct cw_finding *f;
	const struct cw_livelock *l;

	lockstep(self->eng, 15, 90);
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	ASSERT_EQ(1, nr_livelocks(self->eng, self->fs));
	f = livelock(self->fs, 0);
	l = &f->livelock;
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	ASSERT_EQ(2, f->nr_threads);
	EXPECT_EQ(101, f->threads[0].tid);
	EXPECT_EQ(102, f->threads[1].tid);
	ASSERT_EQ(2, f->nr_locks);
	EXPECT_EQ(B, f->locks[0].addr);
	EXPECT_EQ(A, f->locks[1].addr);
	ASSERT_EQ(2, l->nr_links);
	EXPECT_EQ(101, l->links[0].tid);
	EXPECT_EQ(102, l->links[0].owner_tid);
	EXPECT_EQ(15 * 90, l->links[0].failures);
	EXPECT_EQ(0, l->links[0].lock);
	EXPECT_EQ(0x5000 + 101, f->stacks[l->links[0].stack].id);
	EXPECT_EQ(102, l->links[1].tid);
	EXPECT_EQ(101, l->links[1].owner_tid);
	EXPECT_EQ(15 * 90, l->links[1].failures);
	EXPECT_EQ(1, l->links[1].lock);
	EXPECT_EQ(2 * 15 * 90, l->failures);
	/* failing since the first interval's end, confirmed at the first tick past 500 ms */
	EXPECT_EQ(T0 + TICK, l->first_ns);
	EXPECT_EQ(T0 + TICK, l->formed_ns);
	EXPECT_EQ(T0 + 6 * TICK, l->confirmed_ns);
	EXPECT_EQ(T0 + 15 * TICK, l->last_ns);
	EXPECT_EQ(0, l->ended);
	EXPECT_EQ(1, cw_findings__matching(self->fs, 1ULL << CW_FINDING_LIVELOCK));
}

/* They stop: the finding stays, ended; a quiet gap past half the threshold ends it. */
TEST_F(ll, ended_livelock_is_kept)
{
	lockstep(self->eng, 10, 50);
	tick(self->eng, T0 + 14 * TICK);
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	ASSERT_EQ(1, nr_livelocks(self->eng, self->fs));
	EXPECT_EQ(1, livelock(self->fs, 0)->livelock.ended);
	EXPECT_EQ(T0 + 10 * TICK, livelock(self->fs, 0)->livelock.last_ns);
	EXPECT_EQ(500, livelock(self->fs, 0)->livelock.links[0].failures);
}

/* Shorter than the threshold: none; the threshold is an option. */
TEST_F(ll, shorter_than_threshold)
{
	/* failing from T0+100ms to T0+500ms: 400 ms */
	lockstep(self->eng, 5, 90);
	tick(self->eng, T0 + 10 * TICK);
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	EXPECT_EQ(0, nr_livelocks(self->eng, self->fs));
	cw_findings__free(self->fs);
	self->fs = NULL;
	cw_engine__free(self->eng);

	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	cw_engine__set_livelock_threshold(self->eng, 300 * MS);
	lockstep(self->eng, 5, 90);
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	EXPECT_EQ(1, nr_livelocks(self->eng, self->fs));
	EXPECT_EQ(T0 + 4 * TICK, livelock(self->fs, 0)->livelock.confirmed_ns);
}

/* Busy and progressing: trylocks fail every interval, but both threads get the lock too. */
TEST_F(ll, progressing_trylocks_are_none)
{
	for (int i = 1; i <= 30; i++) {
		try_stats(self->eng, T0 + i * TICK, 101, A, 50, 50, 102);
		try_stats(self->eng, T0 + i * TICK, 102, A, 50, 50, 101);
		tick(self->eng, T0 + i * TICK);
	}
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	EXPECT_EQ(0, nr_livelocks(self->eng, self->fs));
}

/* One success of a thread every 400 ms is progress enough: no 500 ms without it. */
TEST_F(ll, occasional_progress_is_none)
{
	for (int i = 1; i <= 30; i++) {
		try_stats(self->eng, T0 + i * TICK, 101, B, 90, i % 4 == 0, 102);
		try_stats(self->eng, T0 + i * TICK, 102, A, 90, i % 4 == 2, 101);
		tick(self->eng, T0 + i * TICK);
	}
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	EXPECT_EQ(0, nr_livelocks(self->eng, self->fs));
}

/*
 * Two threads failing on a lock a third one holds all along and that does not fail
 * itself: they wait behind a long hold (starvation), not a livelock.
 */
TEST_F(ll, failing_behind_a_working_holder_is_none)
{
	for (int i = 1; i <= 15; i++) {
		try_stats(self->eng, T0 + i * TICK, 101, A, 90, 0, 103);
		try_stats(self->eng, T0 + i * TICK, 102, A, 90, 0, 103);
		tick(self->eng, T0 + i * TICK);
	}
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	EXPECT_EQ(0, nr_livelocks(self->eng, self->fs));
}

/* Two threads failing on one lock whose holder is not known: maybe behind a working holder. */
TEST_F(ll, holders_not_known_is_none)
{
	for (int i = 1; i <= 15; i++) {
		try_stats(self->eng, T0 + i * TICK, 101, A, 90, 0, 0);
		try_stats(self->eng, T0 + i * TICK, 102, A, 90, 0, 0);
		tick(self->eng, T0 + i * TICK);
	}
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	EXPECT_EQ(0, nr_livelocks(self->eng, self->fs));
}

/* One thread failing alone is no set of threads. */
TEST_F(ll, one_thread_is_none)
{
	for (int i = 1; i <= 15; i++) {
		try_stats(self->eng, T0 + i * TICK, 101, A, 90, 0, 0);
		tick(self->eng, T0 + i * TICK);
	}
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	EXPECT_EQ(0, nr_livelocks(self->eng, self->fs));
}

/* The same from raw records: failures by result, holders by acquisitions and releases. */
TEST_F(ll, raw_records)
{
	const struct cw_finding *f;

	comm(self->eng, 101, "wl-ll1");
	comm(self->eng, 102, "wl-ll2");
	for (int r = 0; r < 100; r++) {
		__u64 t = T0 + r * 10 * MS;
		struct cw_ev_lock e;

		e = synth_lock(CW_EV_LOCK_ACQUIRED, t + 1, PID, 101, A, 0, 0);
		cw_engine__feed(self->eng, &e.hdr);
		e = synth_lock(CW_EV_LOCK_ACQUIRED, t + 2, PID, 102, B, 0, 0);
		cw_engine__feed(self->eng, &e.hdr);
		e = synth_lock(CW_EV_LOCK_ACQUIRED, t + 3, PID, 101, B, 0, EBUSY);
		e.op = CW_OP_TRYLOCK;
		cw_engine__feed(self->eng, &e.hdr);
		e = synth_lock(CW_EV_LOCK_ACQUIRED, t + 4, PID, 102, A, 0, EBUSY);
		e.op = CW_OP_TRYLOCK;
		cw_engine__feed(self->eng, &e.hdr);
		e = synth_lock(CW_EV_LOCK_RELEASED, t + 5, PID, 101, A, 0, 0);
		cw_engine__feed(self->eng, &e.hdr);
		e = synth_lock(CW_EV_LOCK_RELEASED, t + 6, PID, 102, B, 0, 0);
		cw_engine__feed(self->eng, &e.hdr);
		if (r % 10 == 9)
			tick(self->eng, t + 7);
	}
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	ASSERT_EQ(1, nr_livelocks(self->eng, self->fs));
	f = livelock(self->fs, 0);
	ASSERT_EQ(2, f->livelock.nr_links);
	EXPECT_EQ(100, f->livelock.links[0].failures);
	EXPECT_EQ(102, f->livelock.links[0].owner_tid);
	EXPECT_EQ(101, f->livelock.links[1].owner_tid);
	EXPECT_EQ(T0 + 3, f->livelock.first_ns);
}

/* The text and the JSON report of a stream; malloc'ed. */
static char *render(struct cw_engine *eng, int json)
{
	return cw_render(eng, PID, json ? cw_report__json : cw_report__text);
}

TEST_F(ll, rendered_and_deterministic)
{
	struct cw_engine *again = cw_engine__new();
	char *text, *json, *json2;

	ASSERT_NE(NULL, again);
	lockstep(self->eng, 11, 100);
	lockstep(again, 11, 100);
	text = render(self->eng, 0);
	json = render(self->eng, 1);
	json2 = render(again, 1);
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, json);
	ASSERT_NE(NULL, json2);
	EXPECT_STREQ(json, json2);
	EXPECT_NE(NULL, strstr(text, "WARNING: livelock: threads keep failing to take locks the "
				     "others hold\nfinding 1: livelock, process 100, 2 threads, 2 "
				     "locks\n")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "2200 failed attempts in 1.00 s (2200/s)"))
		TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "  wl-ll1/101 failed 1100 trylocks of ")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, ", held by wl-ll2/102\n")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(json, "{\"kind\": \"livelock\", \"severity\": \"warning\", "
				     "\"started_at_ns\": 1100000000, \"formed_at_ns\": 1100000000, "
				     "\"confirmed_at_ns\": 1600000000, \"last_failure_ns\": "
				     "2100000000, \"ended\": false, \"duration_ns\": 1000000000, "
				     "\"threshold_ns\": 500000000, \"failures\": 2200, "
				     "\"failure_rate\": 2200.0, \"retry_rate\": 1100.0, "
				     "\"locks\": [{\"addr\": \"0xb000\"")) TH_LOG("%s", json);
	EXPECT_NE(NULL, strstr(json, "\"threads\": [{\"tid\": 101, \"comm\": \"wl-ll1\", "
				     "\"failures\": 1100, \"failure_rate\": 1100.0, "
				     "\"trylock_failures\": null, \"oncpu_ns\": null, \"switches\": "
				     "null}, {\"tid\": 102, \"comm\": \"wl-ll2\", \"failures\": 1100, "
				     "\"failure_rate\": 1100.0, \"trylock_failures\": null, "
				     "\"oncpu_ns\": null, \"switches\": null}], \"attempts\": [{\"tid\": "
				     "101, \"lock\": \"0xb000\", "
				     "\"op\": \"trylock\", \"failures\": 1100, \"first_ns\": 1100000000, "
				     "\"last_ns\": 2100000000, \"held_by\": 102, ")) TH_LOG("%s", json);
	free(text);
	free(json);
	free(json2);
	cw_engine__free(again);
}

TEST_HARNESS_MAIN
