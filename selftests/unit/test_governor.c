// SPDX-License-Identifier: GPL-2.0
/*
 * The cost governor (engine/governor.h) on synthetic rates: a simulated caller ticks it
 * every 100 ms, carries out its decisions, and reports what each attach and detach took;
 * the tests assert the exact decisions, when, and the coverage. Rates are round figures
 * so that the arithmetic is exact: a target on one CPU (1e9 ns/s) whose lock tracing
 * costs half of it (5e8 ns/s, 10 times a 5% budget), or 1% of it.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "engine/governor.h"

#define MS 1000000ULL
#define TICK (100 * MS)
#define CPU 1000000000ULL	/* one CPU, ns/s */

struct decision {
	__u64 ms;	/* at the tick of now_ns = ms */
	int d;		/* CW_GOVERNOR_DETACH, _ATTACH */
};

struct sim {
	struct cw_governor *g;
	int started;
	__u64 now;
	int on;
	int ignore;		/* ticks to ignore decisions for */
	__u64 cost;		/* tracing's cost while on, ns/s */
	__u64 cpu_on, cpu_off;	/* the target's CPU time, ns/s */
	__u64 attach_ns, detach_ns;	/* what each attach and detach takes */
	__u64 report_attach, report_detach;	/* measured, told at the next tick */
	struct decision log[64];
	size_t nr;
};

static void sim_init(struct sim *s, double pct, __u64 cost)
{
	struct cw_governor_opts o = { .max_overhead_pct = pct };

	memset(s, 0, sizeof(*s));
	s->on = 1;		/* live attach starts traced */
	s->cost = cost;
	s->cpu_on = s->cpu_off = CPU;
	if (cw_governor__new(&o, &s->g))
		s->g = NULL;
}

/* One tick dt after the last; the decision carried out at once, unless ignored. */
static int sim_tick(struct sim *s, __u64 dt)
{
	struct cw_governor_tick t = {
		.now_ns = s->now += dt,
		.on = s->on,
		.cost_ns_per_s = s->on ? s->cost : 0,
		.cpu_ns_per_s = s->on ? s->cpu_on : s->cpu_off,
		.attach_ns = s->report_attach,
		.detach_ns = s->report_detach,
	};
	int d = cw_governor__tick(s->g, &t);

	s->started = 1;
	s->report_attach = s->report_detach = 0;
	if (d > 0 && s->nr < sizeof(s->log) / sizeof(s->log[0]))
		s->log[s->nr++] = (struct decision){ s->now / MS, d };
	if (s->ignore) {
		s->ignore--;
	} else if (d == CW_GOVERNOR_DETACH && s->on) {
		s->on = 0;
		s->report_detach = s->detach_ns;
	} else if (d == CW_GOVERNOR_ATTACH && !s->on) {
		s->on = 1;
		s->report_attach = s->attach_ns;
	}
	return d;
}

/* The first tick at 0, then every 100 ms up to end_ms. */
static void sim_run(struct sim *s, __u64 end_ms)
{
	if (!s->started)
		sim_tick(s, 0);
	while (s->now < end_ms * MS)
		sim_tick(s, TICK);
}

static void sim_fini(struct sim *s)
{
	cw_governor__free(s->g);
}

static void expect_log(struct __test_metadata *_metadata, const struct sim *s,
		       const struct decision *want, size_t n)
{
	for (size_t i = 0; i < n && i < s->nr; i++) {
		EXPECT_EQ(want[i].ms, s->log[i].ms) TH_LOG("decision %zu", i);
		EXPECT_EQ(want[i].d, s->log[i].d) TH_LOG("decision %zu", i);
	}
	ASSERT_EQ(n, s->nr);
}

#define DET CW_GOVERNOR_DETACH
#define ATT CW_GOVERNOR_ATTACH

TEST(bad_options_rejected)
{
	struct cw_governor_opts o = {};
	struct cw_governor *g = (struct cw_governor *)&o;
	const double bad[] = { 0, -5, 100.5, 1e9, __builtin_nan("") };

	EXPECT_EQ(-EINVAL, cw_governor__new(NULL, &g));
	EXPECT_EQ(NULL, g);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.max_overhead_pct = bad[i];
		EXPECT_EQ(-EINVAL, cw_governor__new(&o, &g)) TH_LOG("%g", bad[i]);
		EXPECT_EQ(NULL, g);
	}
	o.max_overhead_pct = 100;
	ASSERT_EQ(0, cw_governor__new(&o, &g));
	cw_governor__free(g);
	o.max_overhead_pct = 0.01;
	ASSERT_EQ(0, cw_governor__new(&o, &g));
	cw_governor__free(g);
	cw_governor__free(NULL);
}

/* A tick without figures, or earlier than the last, is refused and changes nothing. */
TEST(bad_ticks_rejected)
{
	struct cw_governor_tick t = { .now_ns = 1000 * MS, .on = 1, .cpu_ns_per_s = CPU };
	struct cw_governor_opts o = { .max_overhead_pct = 5 };
	struct cw_governor_stats st;
	struct cw_governor *g;

	ASSERT_EQ(0, cw_governor__new(&o, &g));
	EXPECT_EQ(-EINVAL, cw_governor__tick(g, NULL));
	EXPECT_EQ(CW_GOVERNOR_KEEP, cw_governor__tick(g, &t));
	t.now_ns = 1500 * MS;
	EXPECT_EQ(CW_GOVERNOR_KEEP, cw_governor__tick(g, &t));
	t.now_ns = 1400 * MS;
	EXPECT_EQ(-EINVAL, cw_governor__tick(g, &t));
	cw_governor__stats(g, &st);
	EXPECT_EQ(500 * MS, st.elapsed_ns);
	EXPECT_EQ(500 * MS, st.covered_ns);
	cw_governor__free(g);
}

/* Tracing that costs 1% of the target under a 5% budget stays on: coverage 100%. */
TEST(cheap_target_never_detaches)
{
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 5, CPU / 100);
	ASSERT_NE(NULL, s.g);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(1000, st.coverage_permille);	/* before any time passed */
	EXPECT_TRUE(st.share_pct == -1);
	sim_run(&s, 100000);
	expect_log(_metadata, &s, NULL, 0);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(100000 * MS, st.elapsed_ns);
	EXPECT_EQ(100000 * MS, st.covered_ns);
	EXPECT_EQ(1000, st.coverage_permille);
	EXPECT_EQ(0, st.attaches);
	EXPECT_EQ(0, st.detaches);
	EXPECT_TRUE(st.on);
	EXPECT_TRUE(st.share_pct == 1);
	EXPECT_EQ(0, st.owed_cpu_ns);
	sim_fini(&s);
}

/*
 * Tracing costing 50% of the target, 10 times a 5% budget, attach and detach free: the
 * first 1 s window detaches; off, the target must run 10 s of CPU for the window's 0.5 s
 * of cost, 1 s of it run in the window: 9 s off (d = 5 / 50, off = on * (1 - d) / d).
 * Then 1 s on, 9 s off, for ever: coverage d, 100 permille, and the budget met exactly.
 */
TEST(ten_times_the_budget)
{
	static const struct decision want[] = {
		{ 1000, DET }, { 10000, ATT }, { 11000, DET }, { 20000, ATT },
		{ 21000, DET }, { 30000, ATT }, { 31000, DET }, { 40000, ATT },
	};
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 5, CPU / 2);
	ASSERT_NE(NULL, s.g);
	sim_run(&s, 1100);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct == 50);
	EXPECT_FALSE(st.on);
	/* 10 s of CPU time owed, 1.1 s run */
	EXPECT_EQ(8900 * MS, st.owed_cpu_ns);
	sim_run(&s, 40000);
	expect_log(_metadata, &s, want, sizeof(want) / sizeof(want[0]));
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(40000 * MS, st.elapsed_ns);
	EXPECT_EQ(4000 * MS, st.covered_ns);
	EXPECT_EQ(100, st.coverage_permille);
	EXPECT_EQ(100, cw_governor__coverage_permille(s.g));
	EXPECT_EQ(3, st.attaches);	/* the attach at 40 s is not seen yet */
	EXPECT_EQ(4, st.detaches);
	EXPECT_EQ(0, st.owed_cpu_ns);
	sim_fini(&s);
}

/*
 * Attach and detach taking 0.1 s each (Linux 6.1's detach): the detach is charged at the
 * on rate (0.05 s of cost more), so the first off time is 10 s; a window after an attach
 * lasts 10 * 0.2 s = 2 s, the attach's 0.1 s of it no coverage; then 2 s cost 1 s plus
 * the detach's 0.05 s, which 21 s of CPU time pay: 19 s off. Coverage 1.9 s in 21 s
 * instead of 1 s in 10 s.
 */
TEST(slow_attach_and_detach_lengthen_windows)
{
	static const struct decision want[] = {
		{ 1000, DET }, { 11000, ATT }, { 13000, DET }, { 32000, ATT },
		{ 34000, DET }, { 53000, ATT },
	};
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 5, CPU / 2);
	ASSERT_NE(NULL, s.g);
	s.attach_ns = s.detach_ns = 100 * MS;
	sim_run(&s, 53000);
	expect_log(_metadata, &s, want, sizeof(want) / sizeof(want[0]));
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(53000 * MS, st.elapsed_ns);
	EXPECT_EQ((1000 + 1900 + 1900) * MS, st.covered_ns);
	EXPECT_EQ(90, st.coverage_permille);	/* 4.8 s of 53 s */
	sim_fini(&s);
}

/*
 * A server at a fixed load: 0.5 s/s of work, and while traced 0.5 s/s of traps on top.
 * Off, it runs only 0.5 s/s: the first window's 0.5 s of cost needs 10 s of CPU time,
 * 1 s run in it, 9 s off that take 18 s. The budget is met exactly (0.5 s in 10 s), where
 * 9 s off in wall time would have made it 0.5 s in 5.5 s, 9%.
 */
TEST(time_off_is_counted_in_cpu_time)
{
	static const struct decision want[] = {
		{ 1000, DET }, { 19000, ATT }, { 20000, DET }, { 38000, ATT },
	};
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 5, CPU / 2);
	ASSERT_NE(NULL, s.g);
	s.cpu_off = CPU / 2;
	sim_run(&s, 38000);
	expect_log(_metadata, &s, want, sizeof(want) / sizeof(want[0]));
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(2000 * MS, st.covered_ns);
	EXPECT_EQ(52, st.coverage_permille);	/* 2 s of 38 s */
	sim_fini(&s);
}

/* A target idle while off pays nothing back: it stays off, owing the same. */
TEST(idle_target_stays_off)
{
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 5, CPU / 2);
	ASSERT_NE(NULL, s.g);
	s.cpu_off = 0;
	sim_run(&s, 60000);
	ASSERT_EQ(1, s.nr);
	EXPECT_EQ(1000, s.log[0].ms);
	EXPECT_EQ(DET, s.log[0].d);
	cw_governor__stats(s.g, &st);
	EXPECT_FALSE(st.on);
	EXPECT_EQ(9000 * MS, st.owed_cpu_ns);
	sim_fini(&s);
}

/*
 * Sampled at 50%, the target's lock-heavy phase ends while off: the next window costs
 * 1%, within budget, and tracing stays on from then on.
 */
TEST(cheap_again_stays_on)
{
	static const struct decision want[] = { { 1000, DET }, { 10000, ATT } };
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 5, CPU / 2);
	ASSERT_NE(NULL, s.g);
	sim_run(&s, 10000);
	s.cost = CPU / 100;
	sim_run(&s, 30000);
	expect_log(_metadata, &s, want, sizeof(want) / sizeof(want[0]));
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.on);
	EXPECT_TRUE(st.share_pct == 1);
	EXPECT_EQ((1000 + 20000) * MS, st.covered_ns);
	EXPECT_EQ(700, st.coverage_permille);
	sim_fini(&s);
}

/*
 * The share is judged over a window, not a tick: one tick at 40% among nine at 0.5% is
 * 4.45% over the second, within 5%; a second at 6% throughout detaches at its end.
 */
TEST(one_busy_tick_does_not_detach)
{
	static const struct decision want[] = { { 2000, DET } };
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 5, CPU * 40 / 100);
	ASSERT_NE(NULL, s.g);
	sim_tick(&s, 0);
	sim_tick(&s, TICK);
	s.cost = CPU * 5 / 1000;
	sim_run(&s, 1000);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct > 4.45 - 1e-9 && st.share_pct < 4.45 + 1e-9);
	s.cost = CPU * 6 / 100;
	sim_run(&s, 2000);
	expect_log(_metadata, &s, want, sizeof(want) / sizeof(want[0]));
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct == 6);
	sim_fini(&s);
}

/*
 * A detach not carried out is asked again at each tick, and its debt grows: three more
 * ticks at 50% make 0.65 s of cost over 1.3 s of CPU time, 13 s of CPU time in all.
 */
TEST(detach_not_carried_out_is_asked_again)
{
	static const struct decision want[] = {
		{ 1000, DET }, { 1100, DET }, { 1200, DET }, { 1300, DET }, { 13000, ATT },
	};
	struct sim s;

	sim_init(&s, 5, CPU / 2);
	ASSERT_NE(NULL, s.g);
	sim_run(&s, 900);
	s.ignore = 3;
	sim_run(&s, 13000);
	expect_log(_metadata, &s, want, sizeof(want) / sizeof(want[0]));
	sim_fini(&s);
}

/* Tracing off at the start owes nothing: attach, and again until it is on. */
TEST(starting_off_attaches)
{
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 5, CPU / 100);
	ASSERT_NE(NULL, s.g);
	s.on = 0;
	s.ignore = 2;
	sim_run(&s, 5000);
	ASSERT_EQ(3, s.nr);
	EXPECT_EQ(0, s.log[0].ms);
	EXPECT_EQ(100, s.log[1].ms);
	EXPECT_EQ(200, s.log[2].ms);
	EXPECT_EQ(ATT, s.log[2].d);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(4800 * MS, st.covered_ns);
	sim_fini(&s);
}

/*
 * An estimate above the target's CPU time (a calibration's error) counts as all of it:
 * a share of 100%, not 200%, which 2 s of CPU time pay under a 50% budget.
 */
TEST(cost_above_cpu_time_counts_as_all_of_it)
{
	static const struct decision want[] = { { 1000, DET }, { 2000, ATT }, { 3000, DET } };
	struct cw_governor_stats st;
	struct sim s;

	sim_init(&s, 50, 2 * CPU);
	ASSERT_NE(NULL, s.g);
	sim_run(&s, 3000);
	expect_log(_metadata, &s, want, sizeof(want) / sizeof(want[0]));
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct == 100);
	sim_fini(&s);
}

/*
 * Coverage over a scripted timeline of irregular ticks, the caller attaching and
 * detaching on its own: on intervals count whole, but for an attach's own time; the
 * interval holding a detach does not count.
 */
TEST(coverage_is_exact)
{
	/* the tick (ms), on, the attach and detach it reports (ms): covered after it (ms) */
	static const struct {
		__u64 ms;
		int on;
		__u64 attach_ms, detach_ms, covered_ms;
	} script[] = {
		{ 5, 1, 0, 0, 0 },		/* the clock starts */
		{ 105, 1, 0, 0, 100 },
		{ 355, 1, 0, 0, 350 },
		{ 400, 0, 0, 7, 350 },		/* detached: not covered */
		{ 1400, 0, 0, 0, 350 },
		{ 1450, 1, 20, 0, 380 },	/* attached, in 20 ms of the 50 */
		{ 1460, 1, 0, 0, 390 },
		{ 1500, 0, 0, 0, 390 },
		{ 1510, 1, 30, 0, 390 },	/* an attach longer than its interval */
		{ 2005, 1, 0, 0, 885 },
	};
	struct cw_governor_opts o = { .max_overhead_pct = 100 };
	struct cw_governor_stats st;
	struct cw_governor *g;

	ASSERT_EQ(0, cw_governor__new(&o, &g));
	for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
		struct cw_governor_tick t = {
			.now_ns = script[i].ms * MS,
			.on = script[i].on,
			.cost_ns_per_s = CPU / 10,
			.cpu_ns_per_s = CPU,
			.attach_ns = script[i].attach_ms * MS,
			.detach_ns = script[i].detach_ms * MS,
		};

		ASSERT_LE(0, cw_governor__tick(g, &t));
		cw_governor__stats(g, &st);
		EXPECT_EQ(script[i].covered_ms * MS, st.covered_ns) TH_LOG("at %llu ms",
									  script[i].ms);
		EXPECT_EQ(script[i].ms * MS - 5 * MS, st.elapsed_ns);
	}
	EXPECT_EQ(442, st.coverage_permille);	/* 885 of 2000 */
	EXPECT_EQ(2, st.attaches);
	EXPECT_EQ(2, st.detaches);
	cw_governor__free(g);
}

TEST_HARNESS_MAIN
