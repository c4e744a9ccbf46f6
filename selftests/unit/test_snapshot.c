// SPDX-License-Identifier: GPL-2.0
/*
 * Batch snapshots (cw_report__snapshot) on synthetic streams: each counts what happened
 * since the last, lists the busiest lock first, counts idle locks instead of listing
 * them, and prints thread names escaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "engine/engine.h"
#include "report/report.h"
#include "cw_synth.h"

#define PID 4100
#define TID 4101
#define LOCK_A 0x5000
#define LOCK_B 0x6000

/* n acquisitions and releases of addr by TID, from *ts on, each waiting wait_ns. */
static void take(struct __test_metadata *_metadata, struct cw_engine *eng, __u64 *ts,
		 __u64 addr, int n, __u64 wait_ns)
{
	for (int i = 0; i < n; i++) {
		struct cw_ev_lock a = synth_lock(CW_EV_LOCK_ACQUIRED, ++*ts, PID, TID, addr,
						 wait_ns, 0);
		struct cw_ev_lock r = synth_lock(CW_EV_LOCK_RELEASED, ++*ts, PID, TID, addr, 0, 0);

		ASSERT_EQ(0, cw_engine__feed(eng, &a.hdr));
		ASSERT_EQ(0, cw_engine__feed(eng, &r.hdr));
	}
}

/* A snapshot's text. */
static char *snapshot(struct cw_engine *eng, struct cw_report_snapshot *snap)
{
	struct cw_report_target t = { .pid = PID };
	size_t len = 0;
	char *buf = NULL;
	FILE *m = open_memstream(&buf, &len);

	if (cw_report__snapshot(m, eng, &t, snap)) {
		fclose(m);
		free(buf);
		return NULL;
	}
	fclose(m);
	return buf;
}

/* The ACQUIRED column of the row of lock addr, -1 when it has none. */
static long long acquired(const char *text, __u64 addr)
{
	char want[32];
	const char *row;
	unsigned long long v;

	snprintf(want, sizeof(want), " 0x%016llx ", (unsigned long long)addr);
	row = strstr(text, want);
	if (!row || sscanf(row + strlen(want), "%*u %*s %llu", &v) != 1)
		return -1;
	return v;
}

FIXTURE(snap)
{
	struct cw_engine *eng;
	struct cw_report_snapshot *snap;
	__u64 ts;
};

FIXTURE_SETUP(snap)
{
	struct cw_ev_comm c = synth_comm(1, PID, TID, "w\n\x1b[2J\xff");

	self->eng = cw_engine__new();
	self->snap = cw_report__snapshot_new();
	self->ts = 10;
	ASSERT_NE(NULL, self->eng);
	ASSERT_NE(NULL, self->snap);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &c.hdr));
}

FIXTURE_TEARDOWN(snap)
{
	cw_report__snapshot_free(self->snap);
	cw_engine__free(self->eng);
}

TEST_F(snap, each_interval_its_own)
{
	char *s;

	take(_metadata, self->eng, &self->ts, LOCK_A, 3, 100);
	take(_metadata, self->eng, &self->ts, LOCK_B, 5, 0);
	s = snapshot(self->eng, self->snap);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(3, acquired(s, LOCK_A)) TH_LOG("%s", s);
	EXPECT_EQ(5, acquired(s, LOCK_B));
	/* busiest first */
	EXPECT_LT(strstr(s, " 0x0000000000006000 "), strstr(s, " 0x0000000000005000 "));
	free(s);

	/* the next interval: A 7 more times, B idle */
	take(_metadata, self->eng, &self->ts, LOCK_A, 7, 0);
	s = snapshot(self->eng, self->snap);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(7, acquired(s, LOCK_A)) TH_LOG("%s", s);
	EXPECT_EQ(-1, acquired(s, LOCK_B));
	EXPECT_NE(NULL, strstr(s, "\n(1 lock idle in this interval)\n"));
	free(s);

	/* nothing at all */
	s = snapshot(self->eng, self->snap);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, strncmp(s, "No lock operations in this interval (2 locks idle).\n", 52))
		TH_LOG("%s", s);
	free(s);
}

TEST_F(snap, thread_rows)
{
	char *s;

	take(_metadata, self->eng, &self->ts, LOCK_A, 4, 0);
	s = snapshot(self->eng, self->snap);
	ASSERT_NE(NULL, s);
	/* per operation records count per thread too: 4 now, 2 in the next interval */
	EXPECT_NE(NULL, strstr(s, "\nw\\x0a\\x1b[2J\\xff     4100     4101          4 "))
		TH_LOG("%s", s);
	free(s);
	take(_metadata, self->eng, &self->ts, LOCK_A, 2, 0);
	s = snapshot(self->eng, self->snap);
	ASSERT_NE(NULL, s);
	EXPECT_NE(NULL, strstr(s, "\nw\\x0a\\x1b[2J\\xff     4100     4101          2 "))
		TH_LOG("%s", s);
	free(s);
}

/*
 * What tracing cost, when the source measures it: each snapshot its own interval, the
 * share of the target's CPU time from the threads' measured time in it.
 */
TEST_F(snap, cost_lines)
{
	__u64 offcpu[CW_OFFCPU_MAX] = {};
	struct cw_ev_thread_stats st = synth_thread_stats(1000, PID, TID, 0, offcpu);
	const char *want;
	struct cw_ev_cost c;
	char *s;

	ASSERT_EQ(0, cw_engine__feed(self->eng, &st.hdr));
	memset(&c, 0, sizeof(c));
	c.hdr = synth_hdr(CW_EV_COST, sizeof(c), 1000, 0, 0);
	c.start_ns = 1000;
	c.hit_ns[CW_TRAP_EMULATED] = 500;
	c.hit_ns[CW_TRAP_STEPPED] = 5000;
	c.hit_ns[CW_TRAP_RETURN] = 250;
	c.flags = CW_COST_CALIBRATED | CW_COST_BPF_STATS;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &c.hdr));
	s = snapshot(self->eng, self->snap);
	ASSERT_NE(NULL, s);
	free(s);
	/* in 1 s: 2000 emulated, 100 stepped, 1000 returns (1.75 ms), 0.25 ms of BPF in the
	 * probes and 0.5 ms in the tracepoints: 2.5 ms, of the target's 15 ms */
	st = synth_thread_stats(1000001000ULL, PID, TID, 15000000, offcpu);
	c.hdr.ts_ns = 1000001000ULL;
	c.hits[CW_TRAP_EMULATED] = 2000;
	c.hits[CW_TRAP_STEPPED] = 100;
	c.hits[CW_TRAP_RETURN] = 1000;
	c.bpf_run_ns = 250000;
	c.tp_run_ns = 500000;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &st.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &c.hdr));
	s = snapshot(self->eng, self->snap);
	ASSERT_NE(NULL, s);
	want = "Tracing cost: 0.25% of a CPU in the target (16.7% of its CPU time), of which "
	       "0.05% in tracepoints for every task\n"
	       "Probe hits: 2000 emulated, 100 single-stepped, 1000 returns; BPF run time 250.0 us "
	       "in probes, 500.0 us in tracepoints\n"
	       "No lock operations seen.\n";
	EXPECT_EQ(0, strncmp(s, want, strlen(want))) TH_LOG("%s", s);
	free(s);
	/* no statistics, not calibrated: said so, nothing guessed */
	c.hdr.ts_ns = 2000001000ULL;
	c.flags = 0;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &c.hdr));
	s = snapshot(self->eng, self->snap);
	ASSERT_NE(NULL, s);
	want = "Tracing cost: unknown in the target (the probe hit cost is not calibrated)\n"
	       "Probe hits: 0 emulated, 0 single-stepped, 0 returns; BPF run time not measured\n"
	       "No lock operations seen.\n";
	EXPECT_EQ(0, strncmp(s, want, strlen(want))) TH_LOG("%s", s);
	free(s);
}

TEST(empty)
{
	struct cw_report_snapshot *snap = cw_report__snapshot_new();
	struct cw_engine *eng = cw_engine__new();
	char *s;

	ASSERT_NE(NULL, snap);
	ASSERT_NE(NULL, eng);
	s = snapshot(eng, snap);
	ASSERT_STREQ("No lock operations seen.\n", s);
	free(s);
	cw_report__snapshot_free(snap);
	cw_engine__free(eng);
}

TEST_HARNESS_MAIN
