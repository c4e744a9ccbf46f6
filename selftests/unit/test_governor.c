// SPDX-License-Identifier: GPL-2.0
/*
 * The cost governor (engine/governor.h) on synthetic rates: a simulated caller ticks it
 * every 100 ms, carries out its decisions, and reports what each attach and detach took;
 * the tests assert the exact decisions, when, and the coverage. Rates are round figures
 * so that the arithmetic is exact: a target on one CPU (1e9 ns/s) whose lock tracing
 * costs half of it (5e8 ns/s, 10 times a 5% budget), or 1% of it.
 *
 * The ledger's arithmetic, under 5% at 1 CPU, in the tests' comments: off, the target
 * earns 5 ms of cost a tick (5% of 0.1 s); on at 50% a tick costs 50 ms and earns 5 ms,
 * 45 ms net. The sample, 0.1 s at a share of 1, needs 95 ms in advance (19 ticks off); a
 * 1 s window at 50%, 450 ms (90 ticks).
 */
#include <errno.h>
#include <stdlib.h>
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
	int shed;		/* the scheduler tracepoints off (only while off) */
	int ignore;		/* ticks to ignore decisions for */
	__u64 cost;		/* the lock probes' cost while on, ns/s */
	__u64 base;		/* the trap-free tracing's, on and off, ns/s */
	__u64 rest;		/* of it, what stays when shed (futex, kernel locks), ns/s */
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
	s->on = 0;		/* the BPF source starts with the lock probes off */
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
		.sched_off = s->shed,
		.cost_ns_per_s = s->on ? s->cost + s->base : s->shed ? s->rest : s->base,
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
		s->shed = 0;
		s->report_attach = s->attach_ns;
	} else if (d == CW_GOVERNOR_SHED && !s->on) {
		s->shed = 1;
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
		       const struct decision *want)
{
	size_t n = 0;

	for (size_t i = 0; getenv("SIMLOG") && i < s->nr; i++)
		TH_LOG("{ %llu, %d }", s->log[i].ms, s->log[i].d);
	for (; want[n].d; n++) {
		if (n >= s->nr)
			continue;
		EXPECT_EQ(want[n].ms, s->log[n].ms) TH_LOG("decision %zu", n);
		EXPECT_EQ(want[n].d, s->log[n].d) TH_LOG("decision %zu", n);
	}

	ASSERT_EQ(n, s->nr);
}

/*
 * A timeline: run s up to end_ms; every decision since its start must be the ones listed,
 * in order, and no other. TIMELINE(&s, 40000, { 1900, ATT }, { 2000, DET }); none: with
 * nothing after end_ms.
 */
#define TIMELINE(s, end_ms, ...)                                                        \
	do {                                                                             \
		sim_run(s, end_ms);                                                      \
		expect_log(_metadata, s, (const struct decision[]){ __VA_ARGS__ { 0, 0 } }); \
	} while (0)

/* A simulation of budget pct, the lock probes costing cost ns/s; ASSERTs it is made. */
#define SIM(s, pct, cost)                 \
	do {                              \
		sim_init(s, pct, cost);   \
		ASSERT_NE(NULL, (s)->g);  \
	} while (0)

#define DET CW_GOVERNOR_DETACH
#define ATT CW_GOVERNOR_ATTACH
#define SHED CW_GOVERNOR_SHED

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
/*
 * Tracing that costs 1% of the target under a 5% budget: attached once the sample is paid
 * for (19 ticks: 95 ms of cost at 5 ms a tick), and on for good.
 */
TEST(cheap_target_never_detaches)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 100);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(1000, st.coverage_permille);	/* before any time passed */
	EXPECT_TRUE(st.share_pct == -1);
	TIMELINE(&s, 100000, { 1900, ATT },);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(100000 * MS, st.elapsed_ns);
	EXPECT_EQ(98100 * MS, st.covered_ns);
	EXPECT_EQ(981, st.coverage_permille);
	EXPECT_EQ(1, st.attaches);
	EXPECT_EQ(0, st.detaches);
	EXPECT_TRUE(st.on);
	EXPECT_TRUE(st.share_pct == 1);
	EXPECT_EQ(0, st.owed_cpu_ns);
	sim_fini(&s);
}

/*
 * Tracing costing 50% of the target, 10 times a 5% budget, attach and detach free: off
 * until the sample is paid for at a share of 1 (95 ms, 1.9 s of CPU time), which then
 * costs 45 ms net and detaches, leaving 50 ms. The next window, at the sample's 50%, needs
 * 450 ms: 80 ticks more. Then 1 s on, 9 s off, for ever: the duty cycle d = 5 / 50.
 */
TEST(ten_times_the_budget)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 2);
	sim_run(&s, 1000);
	cw_governor__stats(s.g, &st);
	EXPECT_FALSE(st.on);
	EXPECT_TRUE(st.share_pct == -1);
	/* 1.9 s of CPU time owed for the sample, 1 s run */
	EXPECT_EQ(900 * MS, st.owed_cpu_ns);
	EXPECT_EQ(1000 * MS, st.credit_ns);
	TIMELINE(&s, 2100, { 1900, ATT }, { 2000, DET },);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct == 50);
	EXPECT_FALSE(st.on);
	/* 55 ms of credit, 1.1 s of CPU time; 450 ms needed, 9 s */
	EXPECT_EQ(1100 * MS, st.credit_ns);
	EXPECT_EQ(7900 * MS, st.owed_cpu_ns);
	TIMELINE(&s, 40000, { 1900, ATT }, { 2000, DET }, { 10000, ATT }, { 11000, DET },
		 { 20000, ATT }, { 21000, DET }, { 30000, ATT }, { 31000, DET }, { 40000, ATT },);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(40000 * MS, st.elapsed_ns);
	EXPECT_EQ(3100 * MS, st.covered_ns);
	EXPECT_EQ(77, st.coverage_permille);
	EXPECT_EQ(77, cw_governor__coverage_permille(s.g));
	EXPECT_EQ(4, st.attaches);	/* the attach at 40 s is not seen yet */
	EXPECT_EQ(4, st.detaches);
	EXPECT_EQ(0, st.owed_cpu_ns);
	sim_fini(&s);
}

/*
 * Started with the probes on (a caller that attached them at once): the sample is the
 * one window not paid for, and a short one: 100 ms at 50% owe 45 ms; the next window
 * needs 450 ms more, 99 ticks. Then 1 s on, 9 s off.
 */
TEST(starting_on_samples_briefly)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 2);
	s.on = 1;
	TIMELINE(&s, 20000, { 100, DET }, { 10000, ATT }, { 11000, DET }, { 20000, ATT },);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(1100 * MS, st.covered_ns);
	EXPECT_EQ(55, st.coverage_permille);
	EXPECT_EQ(1, st.attaches);
	EXPECT_EQ(2, st.detaches);
	sim_fini(&s);
}

/*
 * Attach and detach taking 0.1 s each (Linux 6.1's detach). The sample's attach is
 * measured after it, so the sample is paid for as before and is all attach (no coverage);
 * its detach is charged at the on rate, 50 ms. A window after it lasts 10 * 0.2 s = 2 s,
 * and needs 45 ms a tick over 2.2 s (the transitions at the window's share): 990 ms. So
 * 198 ticks off after the sample, then 2 s on (0.1 s of it no coverage) costing 900 ms,
 * and 190 ticks off (the 90 ms left, less the detach's 50 ms): 1.9 s in 21 s.
 */
TEST(slow_attach_and_detach_lengthen_windows)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 2);
	s.attach_ns = s.detach_ns = 100 * MS;
	TIMELINE(&s, 63800, { 1900, ATT }, { 2000, DET }, { 21800, ATT }, { 23800, DET },
		 { 42800, ATT }, { 44800, DET }, { 63800, ATT },);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(63800 * MS, st.elapsed_ns);
	EXPECT_EQ((1900 + 1900) * MS, st.covered_ns);
	EXPECT_EQ(59, st.coverage_permille);	/* 3.8 s of 63.8 s */
	sim_fini(&s);
}

/*
 * A server at a fixed load: 0.5 s/s of work, and while traced 0.5 s/s of traps on top.
 * Off, it runs only 0.5 s/s, earning 2.5 ms a tick: the sample needs 95 ms at the 0.5
 * CPU seen, 19 ticks; it costs 45 ms net at 1 CPU, leaving 2.5 ms. The next window needs
 * 450 ms at the highest rate seen, 1 CPU: 179 ticks, then 180. The budget is met exactly
 * (0.5 s in 10 s of CPU time), where 9 s off in wall time would have made it 9%.
 */
TEST(time_off_is_counted_in_cpu_time)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 2);
	s.cpu_off = CPU / 2;
	TIMELINE(&s, 39900, { 1900, ATT }, { 2000, DET }, { 19900, ATT }, { 20900, DET },
		 { 38900, ATT }, { 39900, DET },);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(2100 * MS, st.covered_ns);
	EXPECT_EQ(52, st.coverage_permille);	/* 2.1 s of 39.9 s */
	sim_fini(&s);
}

/*
 * A target idle while off pays nothing back: it stays off, owing the same. One idle from
 * the start is never attached: it has paid for nothing, and takes no locks.
 */
TEST(idle_target_stays_off)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 2);
	TIMELINE(&s, 2000, { 1900, ATT }, { 2000, DET },);
	s.cpu_off = 0;
	TIMELINE(&s, 60000, { 1900, ATT }, { 2000, DET },);
	cw_governor__stats(s.g, &st);
	EXPECT_FALSE(st.on);
	/* 50 ms of credit, 450 ms needed: 8 s of CPU time */
	EXPECT_EQ(8000 * MS, st.owed_cpu_ns);
	sim_fini(&s);

	SIM(&s, 5, CPU / 2);
	s.cpu_off = 0;
	TIMELINE(&s, 60000, );
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(0, st.covered_ns);
	EXPECT_EQ(0, st.coverage_permille);
	sim_fini(&s);
}

/*
 * Sampled at 50%, the target's lock-heavy phase ends while off: the next window costs
 * 1%, within budget, and tracing stays on from then on.
 */
TEST(cheap_again_stays_on)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 2);
	sim_run(&s, 10000);
	s.cost = CPU / 100;
	TIMELINE(&s, 30000, { 1900, ATT }, { 2000, DET }, { 10000, ATT },);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.on);
	EXPECT_TRUE(st.share_pct == 1);
	EXPECT_EQ((100 + 20000) * MS, st.covered_ns);
	EXPECT_EQ(670, st.coverage_permille);
	sim_fini(&s);
}

/*
 * The share is judged over a window, not a tick: after a cheap sample (0.5%), one tick at
 * 40% among nine at 0.5% is 4.45% over the second, within 5%; a second at 6% throughout
 * detaches at its end.
 */
TEST(one_busy_tick_does_not_detach)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU * 5 / 1000);
	sim_run(&s, 2000);
	s.cost = CPU * 40 / 100;
	sim_tick(&s, TICK);
	s.cost = CPU * 5 / 1000;
	sim_run(&s, 3000);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct > 4.45 - 1e-9 && st.share_pct < 4.45 + 1e-9);
	s.cost = CPU * 6 / 100;
	TIMELINE(&s, 4000, { 1900, ATT }, { 4000, DET },);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct == 6);
	sim_fini(&s);
}

/*
 * A detach not carried out is asked again at each tick, and the ledger pays for it: four
 * ticks on at 45 ms net from the 95 ms paid leave 85 ms owed, and the next window needs
 * 450 ms: 107 ticks off.
 */
TEST(detach_not_carried_out_is_asked_again)
{
	struct sim s;

	SIM(&s, 5, CPU / 2);
	sim_run(&s, 1900);
	s.ignore = 3;
	TIMELINE(&s, 13000, { 1900, ATT }, { 2000, DET }, { 2100, DET }, { 2200, DET },
		 { 2300, DET }, { 13000, ATT },);
	sim_fini(&s);
}

/* An attach not carried out is asked again while it is paid for. */
TEST(attach_not_carried_out_is_asked_again)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 100);
	sim_run(&s, 1800);
	s.ignore = 2;
	TIMELINE(&s, 5000, { 1900, ATT }, { 2000, ATT }, { 2100, ATT },);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(2900 * MS, st.covered_ns);
	sim_fini(&s);
}

/*
 * An estimate above the target's CPU time (a calibration's error) counts as all of it:
 * a share of 100%, not 200%. Under 50% the sample needs 50 ms, one tick's earning; a
 * window after it 500 ms net, 10 ticks off: on 1 s in 2.
 */
TEST(cost_above_cpu_time_counts_as_all_of_it)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 50, 2 * CPU);
	TIMELINE(&s, 4200, { 100, ATT }, { 200, DET }, { 1200, ATT }, { 2200, DET },
		 { 3200, ATT }, { 4200, DET },);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct == 100);
	sim_fini(&s);
}

/*
 * The trap-free tracing counts in the budget, off and on. At 1%, a tick off earns 4 ms;
 * the sample waits 24 ticks (the credit capped at its 95 ms), costs 51% and leaves 49 ms;
 * a window needs 460 ms (51% - 5% of 1 s), 103 ticks, then 115. Its off windows are
 * within budget: the scheduler tracepoints are never shed.
 */
TEST(trap_free_tracing_counts)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 2);
	s.base = CPU / 100;
	TIMELINE(&s, 37800, { 2400, ATT }, { 2500, DET }, { 12800, ATT }, { 13800, DET },
		 { 25300, ATT }, { 26300, DET }, { 37800, ATT },);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.share_pct == 51);
	EXPECT_TRUE(st.rest_share_pct == 1);
	EXPECT_EQ(0, st.sheds);
	EXPECT_EQ(1000, st.sched_coverage_permille);
	sim_fini(&s);
}

/*
 * The trap-free tracing alone at 6%, over a 5% budget: judged over the first 100 ms off
 * and shed (SHED at 0.1 s). Shed, the target costs nothing (rest 0) and earns 5 ms a tick:
 * the sample's 95 ms, with the 1 ms overrun of the first tick, after 20 ticks (2.1 s). The
 * sample costs 56% (the probes' 50% and the scheduler's 6%) and detaches (2.2 s); the next
 * 100 ms off are over budget again and shed (2.3 s). A window of 1 s at 56% needs 510 ms,
 * 94 ticks shed, plus what the 100 ms at 6% overran: then 1 s on, 0.1 s off with the
 * scheduler, about 10 s shed, for ever. The scheduler tracepoints are on for the windows
 * (5.1 s) and the judging before each shed (0.7 s): 5.8 s of 60.
 */
TEST(trap_free_tracing_over_budget_is_shed)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 5, CPU / 2);
	s.base = CPU * 6 / 100;
	TIMELINE(&s, 60000, { 100, SHED }, { 2100, ATT }, { 2200, DET }, { 2300, SHED },
		 { 11700, ATT }, { 12700, DET }, { 12800, SHED }, { 23000, ATT }, { 24000, DET },
		 { 24100, SHED }, { 34300, ATT }, { 35300, DET }, { 35400, SHED }, { 45600, ATT },
		 { 46600, DET }, { 46700, SHED }, { 57000, ATT }, { 58000, DET }, { 58100, SHED },);
	cw_governor__stats(s.g, &st);
	EXPECT_TRUE(st.rest_share_pct == 6);
	EXPECT_TRUE(st.share_pct == 56);
	EXPECT_EQ(7, st.sheds);	/* the shed at 58.1 s is seen at 58.2 */
	EXPECT_EQ(6, st.attaches);
	EXPECT_FALSE(st.on);
	EXPECT_FALSE(st.sched_on);
	EXPECT_EQ(5100 * MS, st.covered_ns);
	EXPECT_EQ(5100 * MS + 7 * 100 * MS, st.sched_covered_ns);
	EXPECT_EQ(96, st.sched_coverage_permille);
	sim_fini(&s);

	/* a shed not carried out is asked again at each tick */
	SIM(&s, 5, CPU / 2);
	s.base = CPU * 6 / 100;
	s.ignore = 3;	/* the ticks at 0, 0.1 and 0.2 s */
	TIMELINE(&s, 500, { 100, SHED }, { 200, SHED }, { 300, SHED },);
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(1, st.sheds);
	EXPECT_EQ(300 * MS, st.sched_covered_ns);
	sim_fini(&s);
}

/*
 * A budget of 100% is always met: started off, attached at the first tick the target
 * runs (nothing to pay for in advance, nothing can be saved), and never detached; started
 * on, never detached.
 */
TEST(budget_of_all_is_always_met)
{
	struct cw_governor_stats st;
	struct sim s;

	SIM(&s, 100, CPU / 2);
	TIMELINE(&s, 10000, { 100, ATT },);
	sim_fini(&s);

	SIM(&s, 100, 2 * CPU);
	s.on = 1;
	TIMELINE(&s, 10000, );
	cw_governor__stats(s.g, &st);
	EXPECT_EQ(1000, st.coverage_permille);
	EXPECT_TRUE(st.share_pct == 100);
	sim_fini(&s);
}

/*
 * Credit saved while cheap is capped at one window at a share of 1 (950 ms): a target
 * cheap for 100 s that turns to 50% pays for its first expensive window and one more from
 * it, then waits 79 ticks, as if it had saved 55 ms.
 */
TEST(credit_is_capped)
{
	struct sim s;

	SIM(&s, 5, CPU / 100);
	sim_run(&s, 100000);
	s.cost = CPU / 2;
	TIMELINE(&s, 110000, { 1900, ATT }, { 101000, DET }, { 101100, ATT }, { 102100, DET },
		 { 110000, ATT },);
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
