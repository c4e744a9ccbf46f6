// SPDX-License-Identifier: GPL-2.0
/*
 * The tracer-cost estimate (engine/cost.h) on synthetic CW_EV_COST records: hits of each
 * trap kind times its calibrated cost plus the probe and tracepoint programs' run time,
 * over the time between two records; totals that went back; what is not measured; the share of the target's CPU
 * time. And the engine: it keeps the newest record, and counts none of them as events.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "engine/cost.h"
#include "engine/engine.h"
#include "cw_synth.h"

static struct cw_ev_cost cost(__u64 ts, __u64 start, __u64 emu, __u64 step, __u64 ret,
			      __u64 bpf_ns)
{
	struct cw_ev_cost c;

	memset(&c, 0, sizeof(c));
	c.hdr = synth_hdr(CW_EV_COST, sizeof(c), ts, 0, 0);
	c.start_ns = start;
	c.hits[CW_TRAP_EMULATED] = emu;
	c.hits[CW_TRAP_STEPPED] = step;
	c.hits[CW_TRAP_RETURN] = ret;
	c.bpf_run_ns = bpf_ns;
	c.bpf_runs = emu + step + ret;
	c.tp_run_ns = 3 * bpf_ns;	/* the tracepoints' */
	c.tp_runs = 10;
	c.hit_ns[CW_TRAP_EMULATED] = 600;
	c.hit_ns[CW_TRAP_STEPPED] = 5500;
	c.hit_ns[CW_TRAP_RETURN] = 400;
	c.flags = CW_COST_CALIBRATED | CW_COST_BPF_STATS;
	return c;
}

/*
 * From the start: 1000 emulated, 10 stepped, 500 returns, 0.1 ms of the probe programs
 * and 0.3 ms of the tracepoint programs in 1 s.
 */
TEST(since_start)
{
	struct cw_ev_cost to = cost(2000000000ULL, 1000000000ULL, 1000, 10, 500, 100000);
	struct cw_cost_estimate e;

	ASSERT_EQ(0, cw_cost__estimate(NULL, &to, &e));
	EXPECT_EQ(1000000000ULL, e.interval_ns);
	EXPECT_EQ(1000, e.hits[CW_TRAP_EMULATED]);
	EXPECT_EQ(10, e.hits[CW_TRAP_STEPPED]);
	EXPECT_EQ(500, e.hits[CW_TRAP_RETURN]);
	EXPECT_EQ(1000 * 600 + 10 * 5500 + 500 * 400, e.trap_ns);
	EXPECT_EQ(100000, e.bpf_ns);
	EXPECT_EQ(855000 + 100000, e.probe_ns);
	/* the tracepoint programs, which stay on without the probes, are in the cost too */
	EXPECT_EQ(300000, e.tp_ns);
	EXPECT_EQ(855000 + 100000 + 300000, e.ns);
	EXPECT_TRUE(e.cpu_pct > 0.1255 - 1e-9 && e.cpu_pct < 0.1255 + 1e-9);
	EXPECT_TRUE(e.tp_cpu_pct > 0.03 - 1e-9 && e.tp_cpu_pct < 0.03 + 1e-9);
	EXPECT_TRUE(e.calibrated);
	EXPECT_TRUE(e.bpf_stats);
	EXPECT_EQ(-EINVAL, cw_cost__estimate(NULL, NULL, &e));
}

/* Between two records: what grew, over the time between them. */
TEST(between_two)
{
	struct cw_ev_cost from = cost(2000000000ULL, 1000000000ULL, 1000, 10, 500, 100000);
	struct cw_ev_cost to = cost(2500000000ULL, 1000000000ULL, 3000, 10, 1500, 300000);
	struct cw_cost_estimate e;

	ASSERT_EQ(0, cw_cost__estimate(&from, &to, &e));
	EXPECT_EQ(500000000ULL, e.interval_ns);
	EXPECT_EQ(2000, e.hits[CW_TRAP_EMULATED]);
	EXPECT_EQ(0, e.hits[CW_TRAP_STEPPED]);
	EXPECT_EQ(1000, e.hits[CW_TRAP_RETURN]);
	EXPECT_EQ(2000 * 600 + 1000 * 400 + 200000, e.probe_ns);
	EXPECT_EQ(600000, e.tp_ns);
	EXPECT_EQ(2000 * 600 + 1000 * 400 + 200000 + 600000, e.ns);
	/* 2.4 ms in 0.5 s */
	EXPECT_TRUE(e.cpu_pct > 0.48 - 1e-9 && e.cpu_pct < 0.48 + 1e-9);
	/* the target ran 4.8 ms in it: half of that was tracing */
	EXPECT_TRUE(cw_cost__share_of(&e, 4800000) > 50 - 1e-9 &&
		    cw_cost__share_of(&e, 4800000) < 50 + 1e-9);
	/* a cost above the target's measured time is all of it, not more */
	EXPECT_TRUE(cw_cost__share_of(&e, 1000) == 100);
	EXPECT_TRUE(cw_cost__share_of(&e, 0) == -1);
}

/* Another source's totals (another start) count from zero, never negative. */
TEST(restart_counts_from_zero)
{
	struct cw_ev_cost from = cost(2000000000ULL, 1000000000ULL, 1000, 10, 500, 100000);
	struct cw_ev_cost to = cost(3000000000ULL, 2500000000ULL, 40, 0, 20, 5000);
	struct cw_cost_estimate e;

	ASSERT_EQ(0, cw_cost__estimate(&from, &to, &e));
	EXPECT_EQ(500000000ULL, e.interval_ns);
	EXPECT_EQ(40, e.hits[CW_TRAP_EMULATED]);
	EXPECT_EQ(20, e.hits[CW_TRAP_RETURN]);
	EXPECT_EQ(40 * 600 + 20 * 400 + 5000 + 15000, e.ns);
}

/* Not calibrated: the hits are counted, their cost is not guessed; no BPF statistics. */
TEST(not_measured)
{
	struct cw_ev_cost to = cost(2000000000ULL, 1000000000ULL, 1000, 10, 500, 100000);
	struct cw_cost_estimate e;

	to.flags = 0;
	ASSERT_EQ(0, cw_cost__estimate(NULL, &to, &e));
	EXPECT_EQ(1000, e.hits[CW_TRAP_EMULATED]);
	EXPECT_EQ(0, e.trap_ns);
	EXPECT_EQ(0, e.bpf_ns);
	EXPECT_EQ(0, e.tp_ns);
	EXPECT_FALSE(e.calibrated);
	EXPECT_FALSE(e.bpf_stats);
	EXPECT_TRUE(cw_cost__share_of(&e, 3600000) == -1);
}

/* The engine keeps the newest totals; they are bookkeeping, not the target's events. */
TEST(engine_keeps_the_newest)
{
	struct cw_engine *eng = cw_engine__new();
	struct cw_ev_cost a = cost(2000, 1000, 5, 0, 2, 10);
	struct cw_ev_cost b = cost(3000, 1000, 9, 1, 4, 20);
	struct cw_ev_lock l = synth_lock(CW_EV_LOCK_ACQUIRED, 2500, 7, 7, 0x5000, 0, 0);

	ASSERT_NE(NULL, eng);
	EXPECT_EQ(NULL, cw_engine__cost(eng));
	ASSERT_EQ(0, cw_engine__feed(eng, &a.hdr));
	ASSERT_EQ(0, cw_engine__feed(eng, &l.hdr));
	ASSERT_EQ(0, cw_engine__feed(eng, &b.hdr));
	ASSERT_NE(NULL, cw_engine__cost(eng));
	EXPECT_EQ(9, cw_engine__cost(eng)->hits[CW_TRAP_EMULATED]);
	EXPECT_EQ(3000, cw_engine__cost(eng)->hdr.ts_ns);
	EXPECT_EQ(1, cw_engine__events(eng));
	/* an older one (out of order) does not replace it */
	ASSERT_EQ(0, cw_engine__feed(eng, &a.hdr));
	EXPECT_EQ(9, cw_engine__cost(eng)->hits[CW_TRAP_EMULATED]);
	cw_engine__free(eng);
}

TEST_HARNESS_MAIN
