// SPDX-License-Identifier: GPL-2.0
/*
 * What tracing costs, measured (source/cost.h, CW_EV_COST):
 *  - the per-hit cost calibrated here, through either way of attaching a uprobe: a
 *    single-stepped hit costs more than an emulated one, and a return probe adds to an
 *    entry probe;
 *  - the hits counted exactly: wl_rounds takes its mutex N times a round, so each round
 *    adds 2N entry hits (lock, unlock) and N returns (lock's), and nothing between rounds;
 *  - --no-uprobes: no hit at all, and the tracepoint programs' run time still measured;
 *  - the governor (--max-overhead): wl_sampled's million locks a second cost far more
 *    than 5% of its CPU time through uprobes, so the lock probes are detached for part of
 *    the trace (ticks saying CW_F_NO_UPROBES); its inversion, repeated all along, is
 *    still found, and nothing is made up of the pair it always takes in one order.
 */
#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "source/cost.h"
#include "source/links.h"
#include "source/session.h"

static void check_calibration(struct __test_metadata *_metadata, int umulti_type)
{
	struct cw_cost_calib c;
	char err[256] = "";

	ASSERT_EQ(0, cw_cost_calib__run(&c, umulti_type, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_LT(0, c.hit_ns[CW_TRAP_EMULATED]);
	EXPECT_LT(c.hit_ns[CW_TRAP_EMULATED], c.hit_ns[CW_TRAP_STEPPED])
		TH_LOG("emulated %u ns, single-stepped %u ns", c.hit_ns[CW_TRAP_EMULATED],
		       c.hit_ns[CW_TRAP_STEPPED]);
	EXPECT_LT(0, c.hit_ns[CW_TRAP_RETURN]);
	EXPECT_LE(64, c.hits);
	EXPECT_LT(0, c.took_ns);
}

TEST(calibrate_perf_uprobes)
{
	const char *why = cw_live_skip_reason();

	if (why)
		SKIP(return, "%s", why);
	check_calibration(_metadata, -1);
}

TEST(calibrate_uprobe_multi)
{
	const char *why = cw_live_skip_reason();
	int type = cw_uprobe_multi_type();

	if (why)
		SKIP(return, "%s", why);
	if (type < 0)
		SKIP(return, "this kernel has no uprobe-multi links (Linux 6.6)");
	check_calibration(_metadata, type);
}

/* Run the session until a cost record read after since has come. */
static const struct cw_ev_cost *cost_after(struct __test_metadata *_metadata,
					   struct cw_session *sess, struct cw_engine *eng,
					   __u64 since)
{
	const struct cw_ev_cost *c;
	int end;

	while (!(c = cw_engine__cost(eng)) || c->hdr.ts_ns <= since) {
		end = cw_session__run(sess, cw_now_ns() + 50000000ULL, NULL);
		if (end != CW_SESSION_DEADLINE) {
			TH_LOG("session ended: %s", cw_session__error(sess));
			return NULL;
		}
	}
	return c;
}

TEST(hits_counted_exactly)
{
	const char *why = cw_live_skip_reason();
	long n = cw_scale(3000);
	char arg[32], err[256] = "";
	const char *args[] = { arg, NULL };
	struct cw_source_opts opts = { .measure_cost = 1 };
	struct cw_session *sess = NULL;
	const struct cw_ev_cost *c;
	struct cw_engine *eng;
	struct cw_wl wl;

	if (why)
		SKIP(return, "%s", why);
	snprintf(arg, sizeof(arg), "%ld", n);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_rounds", args));
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	c = cost_after(_metadata, sess, eng, 0);
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(c->flags & CW_COST_CALIBRATED);
	EXPECT_TRUE(c->flags & CW_COST_BPF_STATS);
	EXPECT_EQ(0, c->hits[CW_TRAP_EMULATED] + c->hits[CW_TRAP_STEPPED]);
	EXPECT_EQ(0, c->hits[CW_TRAP_RETURN]);
	for (long round = 1; round <= 2; round++) {
		__u64 runs = c->bpf_runs;

		ASSERT_EQ(0, cw_wl__go(&wl));
		c = cost_after(_metadata, sess, eng, cw_now_ns());
		ASSERT_NE(NULL, c);
		EXPECT_EQ(2 * n * round, c->hits[CW_TRAP_EMULATED] + c->hits[CW_TRAP_STEPPED])
			TH_LOG("round %ld: %llu emulated, %llu single-stepped", round,
			       (unsigned long long)c->hits[CW_TRAP_EMULATED],
			       (unsigned long long)c->hits[CW_TRAP_STEPPED]);
		EXPECT_EQ(n * round, c->hits[CW_TRAP_RETURN]);
		/* three probe programs ran for each pair, and nothing else did */
		EXPECT_EQ(runs + 3 * n, c->bpf_runs);
	}
	EXPECT_EQ(0, cw_engine__counts(eng)->lost_total);
	ASSERT_EQ(0, cw_session__finish(sess));
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST(no_uprobes_no_hits)
{
	const char *why = cw_live_skip_reason();
	char err[256] = "";
	const char *args[] = { "2000", NULL };
	struct cw_source_opts opts = { .measure_cost = 1, .no_uprobes = 1 };
	struct cw_session *sess = NULL;
	const struct cw_ev_cost *c;
	struct cw_engine *eng;
	struct cw_wl wl;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_rounds", args));
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, cw_wl__go(&wl));
	c = cost_after(_metadata, sess, eng, cw_now_ns());
	ASSERT_NE(NULL, c);
	for (int k = 0; k < CW_TRAP_MAX; k++)
		EXPECT_EQ(0, c->hits[k]);
	/* no probe program ran; the scheduler's did (the round's barrier puts threads to sleep) */
	EXPECT_EQ(0, c->bpf_runs);
	EXPECT_LT(0, c->tp_runs);
	EXPECT_LT(0, c->tp_run_ns);
	ASSERT_EQ(0, cw_session__finish(sess));
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST(governor_samples_and_finds_the_repeated_inversion)
{
	const char *why = cw_live_skip_reason();
	struct cw_source_opts opts = { .max_overhead_pct = 5 };
	const char *args[] = { "-w", "4", NULL };
	const struct cw_engine_counts *n;
	struct cw_session *sess = NULL;
	struct cw_findings *fs = NULL;
	const struct cw_finding *f;
	struct cw_engine *eng;
	char err[256] = "";
	__u64 a, b, c, d;
	struct cw_drain dr;
	size_t found = 0;
	struct cw_wl wl;

	if (why)
		SKIP(return, "%s", why);
	/*
	 * Under emulation (CW_TEST_SCALE > 1) a probe hit costs tens of times more and the
	 * two threads' 20 ms rounds take longer: at 5% the 6.1 guest paid for the 100 ms
	 * sample alone in the 4 s, which held no round. At 25% for 10 s it pays for a window
	 * of a second too; the probes still cost more than that, so they are still sampled.
	 */
	if (cw_scale(20) < 20) {
		opts.max_overhead_pct = 25;
		args[1] = "10";
	}
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_sampled", args));
	a = cw_field(wl.ready, "a");
	b = cw_field(wl.ready, "b");
	c = cw_field(wl.ready, "c");
	d = cw_field(wl.ready, "d");
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, cw_drain__start(&dr, sess));
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&dr));
	ASSERT_EQ(0, cw_session__finish(sess));
	n = cw_engine__counts(eng);
	/* sampled: some ticks with the lock probes off, some with them on */
	EXPECT_LT(0, n->ticks_no_uprobes);
	EXPECT_LT(n->ticks_no_uprobes, n->ticks);
	TH_LOG("lock calls traced in %llu of %llu ticks",
	       (unsigned long long)(n->ticks - n->ticks_no_uprobes), (unsigned long long)n->ticks);
	/* the cost records carry the budget, for the reports to say it */
	ASSERT_NE(NULL, cw_engine__cost(eng));
	EXPECT_EQ((__u32)(opts.max_overhead_pct * 10000), cw_engine__cost(eng)->budget_ppm);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	for (size_t i = 0; i < cw_findings__nr(fs); i++) {
		f = cw_findings__get(fs, i);
		if (f->kind != CW_FINDING_LOCK_ORDER_INVERSION)
			continue;
		/* a and b, in either order; never c or d, nor the hot lock */
		ASSERT_EQ(2, f->nr_locks);
		EXPECT_TRUE((f->locks[0].addr == a && f->locks[1].addr == b) ||
			    (f->locks[0].addr == b && f->locks[1].addr == a))
			TH_LOG("an inversion of 0x%llx and 0x%llx",
			       (unsigned long long)f->locks[0].addr,
			       (unsigned long long)f->locks[1].addr);
		EXPECT_NE(c, f->locks[0].addr);
		EXPECT_NE(d, f->locks[1].addr);
		found++;
	}
	EXPECT_EQ(1, found);
	cw_findings__free(fs);
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

/* What the engine takes, and the latest CW_EV_THREAD_STATS of thread tid. */
struct shed_seen {
	struct cw_engine *eng;
	__u32 tid;
	struct cw_ev_thread_stats th;
};

static int shed_feed(void *ctx, const struct cw_hdr *h)
{
	struct shed_seen *s = ctx;

	if (h->type == CW_EV_THREAD_STATS && h->tid == s->tid && h->ts_ns >= s->th.hdr.ts_ns)
		memcpy(&s->th, h, sizeof(s->th));
	return cw_engine__feed(s->eng, h);
}

/*
 * Two threads handing a turn back and forth through futex words switch and wake each
 * other tens of thousands of times a second: the futex and scheduler tracing alone cost
 * them far more than a budget of 1%. The governor judges it over the first 100 ms and
 * sheds the scheduler tracepoints: later ticks say CW_F_NO_SCHED, the thread's traced
 * time stops growing (a state left in progress at the shed is not counted on: the ping
 * thread's traced time stays under half of the time it ran the rounds), and the cost
 * records carry the target's CPU time, which the report's share is then taken of.
 */
TEST(governor_sheds_the_scheduler_over_budget)
{
	const char *why = cw_live_skip_reason();
	struct cw_source_opts opts = { .max_overhead_pct = 1 };
	const struct cw_engine_counts *n;
	struct cw_session *sess = NULL;
	struct shed_seen seen = {};
	char err[256] = "", rounds[32];
	const char *args[] = { "pingpong", rounds, NULL };
	__u64 traced = 0, ran_ns;
	struct cw_drain dr;
	struct cw_wl wl;

	if (why)
		SKIP(return, "%s", why);
	snprintf(rounds, sizeof(rounds), "%ld", cw_scale(400000));
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_sched", args));
	seen.eng = cw_engine__new();
	ASSERT_NE(NULL, seen.eng);
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, shed_feed, &seen, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	/* the ping thread's tid: the workload's main thread */
	seen.tid = wl.pid;
	ASSERT_EQ(0, cw_drain__start(&dr, sess));
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&dr));
	ASSERT_EQ(0, cw_session__finish(sess));
	ran_ns = cw_field(wl.done, "ns");
	n = cw_engine__counts(seen.eng);
	TH_LOG("scheduler traced in %llu of %llu ticks, rounds ran %llu ms",
	       (unsigned long long)(n->ticks - n->ticks_no_sched), (unsigned long long)n->ticks,
	       (unsigned long long)ran_ns / 1000000);
	/* shed after the ticks of the first window, and not before */
	EXPECT_LT(0, n->ticks_no_sched);
	EXPECT_LT(n->ticks_no_sched, n->ticks);
	/* the lock probes were never on: nothing paid for a window at full cost */
	EXPECT_EQ(n->ticks, n->ticks_no_uprobes);
	/* the ping thread was traced, only while the scheduler was */
	ASSERT_EQ(wl.pid, seen.th.hdr.pid);
	traced = seen.th.oncpu_ns;
	for (int i = 0; i < CW_OFFCPU_MAX; i++)
		traced += seen.th.offcpu_ns[i];
	TH_LOG("ping traced %llu ms", (unsigned long long)traced / 1000000);
	EXPECT_LT(0, traced);
	EXPECT_GT(ran_ns / 2, traced);
	/* the target's CPU time, which the cost is a share of */
	ASSERT_NE(NULL, cw_engine__cost(seen.eng));
	EXPECT_LT(0, cw_engine__cost(seen.eng)->target_cpu_ns);
	cw_session__free(sess);
	cw_engine__free(seen.eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
