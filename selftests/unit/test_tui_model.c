// SPDX-License-Identifier: GPL-2.0
/*
 * The dashboard's model (tools/tui/model.c) on synthetic streams, without a terminal:
 * per-second rates over the interval since the last refresh, the sorts of each panel
 * (locks by wait with what waits for work after the locks, by acquisitions, by name),
 * a blocked thread's state naming the lock, its holder and for how long, the lock's
 * owner and waiters, and findings listed newest
 * first with the report's text of each, the same finding kept across refreshes; under a
 * budget, the lock probes' state from the ticks in the header's cost line.
 */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "engine/engine.h"
#include "tui/model.h"
#include "cw_synth.h"

#define PID 4200
#define T1 4201
#define T2 4202
#define LOCK_A 0x5000
#define LOCK_B 0x6000
#define LOCK_C 0x7000
#define LOCK_D 0x8000
#define START 1000000000ULL	/* the model's clock at its start */
#define SEC 1000000000ULL

FIXTURE(model)
{
	struct cw_engine *eng;
	struct cw_tui_model m;
	struct cw_report_target t;
	__u64 ts;
};

FIXTURE_SETUP(model)
{
	struct cw_ev_comm c1 = synth_comm(1, PID, T1, "worker-1");
	struct cw_ev_comm c2 = synth_comm(2, PID, T2, "worker-2");

	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	ASSERT_EQ(0, cw_tui_model__init(&self->m, START));
	self->t = (struct cw_report_target){ .pid = PID };
	ASSERT_EQ(0, cw_engine__feed(self->eng, &c1.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &c2.hdr));
	self->ts = 10;
}

FIXTURE_TEARDOWN(model)
{
	cw_tui_model__fini(&self->m);
	cw_engine__free(self->eng);
}

/* n acquisitions and releases of addr by tid, each having waited wait_ns. */
static void take(struct __test_metadata *_metadata, FIXTURE_DATA(model) *self, __u32 tid,
		 __u64 addr, int n, __u64 wait_ns)
{
	for (int i = 0; i < n; i++) {
		struct cw_ev_lock a = synth_lock(CW_EV_LOCK_ACQUIRED, ++self->ts, PID, tid, addr,
						 wait_ns, 0);
		struct cw_ev_lock r = synth_lock(CW_EV_LOCK_RELEASED, ++self->ts, PID, tid, addr,
						 0, 0);

		ASSERT_EQ(0, cw_engine__feed(self->eng, &a.hdr));
		ASSERT_EQ(0, cw_engine__feed(self->eng, &r.hdr));
	}
}

/* The target is given as exited: nothing is looked up in /proc for the made-up pid. */
static int refresh(FIXTURE_DATA(model) *self, __u64 at)
{
	return cw_tui_model__refresh(&self->m, self->eng, &self->t, 1, at);
}

TEST_F(model, lock_rates_and_sorts)
{
	/* A: 10 acquisitions waiting 1 ms each; B: 200 without waiting */
	take(_metadata, self, T1, LOCK_A, 10, 1000000);
	take(_metadata, self, T2, LOCK_B, 200, 0);
	ASSERT_EQ(0, refresh(self, START + 2 * SEC));
	ASSERT_EQ(2, self->m.nr_locks);
	ASSERT_EQ(2, cw_tui_model__nr_rows(&self->m, CW_TUI_LOCKS));
	/* by wait first: A, its 10 ms; over two seconds, 5 and 100 acquisitions a second */
	EXPECT_STREQ("WAIT", cw_tui_model__sort_name(CW_TUI_LOCKS, self->m.sort[CW_TUI_LOCKS]));
	EXPECT_STREQ("0x5000", self->m.locks[0].name);
	EXPECT_STREQ("mutex", self->m.locks[0].type);
	EXPECT_STREQ("10.0 ms", self->m.locks[0].wait);
	EXPECT_STREQ("5.0", self->m.locks[0].acq);
	EXPECT_STREQ("0x6000", self->m.locks[1].name);
	EXPECT_STREQ("100", self->m.locks[1].acq);
	EXPECT_STREQ("0 ns", self->m.locks[1].wait);
	/* by acquisitions: B first */
	self->m.sort[CW_TUI_LOCKS] = 1;
	EXPECT_STREQ("ACQ/s", cw_tui_model__sort_name(CW_TUI_LOCKS, 1));
	cw_tui_model__sort(&self->m);
	EXPECT_STREQ("0x6000", self->m.locks[0].name);
	/* the next interval: only what happened in it; B idle, still a row, at 0 */
	take(_metadata, self, T1, LOCK_A, 3, 0);
	ASSERT_EQ(0, refresh(self, START + 3 * SEC));
	ASSERT_EQ(2, self->m.nr_locks);
	EXPECT_STREQ("0x5000", self->m.locks[0].name);
	EXPECT_STREQ("3.0", self->m.locks[0].acq);
	EXPECT_STREQ("0", self->m.locks[1].acq);
	/* every sort has a name, and NAME sorts by it */
	for (size_t i = 0; i < cw_tui_model__nr_sorts(CW_TUI_LOCKS); i++)
		if (!strcmp(cw_tui_model__sort_name(CW_TUI_LOCKS, i), "NAME"))
			self->m.sort[CW_TUI_LOCKS] = i;
	cw_tui_model__sort(&self->m);
	EXPECT_STREQ("0x5000", self->m.locks[0].name);
	EXPECT_STREQ("0x6000", self->m.locks[1].name);
}

/* A condition variable waited on for long ranks after a lock waited on for less. */
TEST_F(model, waiting_for_work_after_locks)
{
	struct cw_ev_lock a = synth_lock(CW_EV_LOCK_ACQUIRED, ++self->ts, PID, T1, LOCK_C,
					 900000000, 0);
	struct cw_ev_lock r = synth_lock(CW_EV_LOCK_RELEASED, ++self->ts, PID, T1, LOCK_C, 0, 0);

	a.kind = r.kind = CW_LOCK_COND;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &a.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &r.hdr));
	take(_metadata, self, T2, LOCK_A, 1, 1000);
	ASSERT_EQ(0, refresh(self, START + SEC));
	ASSERT_EQ(2, self->m.nr_locks);
	EXPECT_STREQ("0x5000", self->m.locks[0].name);
	EXPECT_STREQ("0x7000", self->m.locks[1].name);
	EXPECT_STREQ("cond", self->m.locks[1].type);
	EXPECT_TRUE(self->m.locks[1].for_work);
}

/* The state of thread tid in the threads panel. */
static const char *state_of(const struct cw_tui_model *m, __u32 tid)
{
	for (size_t i = 0; i < m->nr_threads; i++)
		if (m->threads[i].tid == tid)
			return m->threads[i].state;
	return NULL;
}

TEST_F(model, blocked_thread_names_lock_and_holder)
{
	struct cw_ev_lock held = synth_lock(CW_EV_LOCK_ACQUIRED, ++self->ts, PID, T2, LOCK_A, 0,
					    0);
	struct cw_ev_blocked b;
	struct cw_ev_tick tick;

	ASSERT_EQ(0, cw_engine__feed(self->eng, &held.hdr));
	memset(&b, 0, sizeof(b));
	b.hdr = synth_hdr(CW_EV_BLOCKED, sizeof(b), ++self->ts, PID, T1);
	b.addr = LOCK_A;
	b.since_ns = self->ts;
	b.owner_tid = T2;
	b.reason = CW_OFFCPU_LOCK;
	b.kind = CW_LOCK_MUTEX;
	b.futex_op = ~0U;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &b.hdr));
	ASSERT_EQ(0, refresh(self, START + SEC));
	ASSERT_EQ(2, self->m.nr_threads);
	EXPECT_STREQ("blocked on 0x5000 held by 4202", state_of(&self->m, T1));
	/* the lock's row: its holder and its one waiter */
	ASSERT_EQ(1, self->m.nr_locks);
	EXPECT_STREQ("4202", self->m.locks[0].owner);
	EXPECT_STREQ("1", self->m.locks[0].nr_waiters);
	/* a tick 1.5 s later: the engine's clock moved, and the wait has lasted that long */
	tick = synth_tick(self->ts + 1500000000ULL, 1);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &tick.hdr));
	ASSERT_EQ(0, refresh(self, START + 2 * SEC));
	EXPECT_STREQ("blocked on 0x5000 held by 4202 for 1.50 s", state_of(&self->m, T1));
	/* no scheduler figures for T2 in this stream: its state is not known */
	EXPECT_STREQ("-", state_of(&self->m, T2));
	EXPECT_STREQ("worker-1", self->m.threads[0].tid == T1 ? self->m.threads[0].name :
							       self->m.threads[1].name);
}

static struct cw_ev_thread_state thread_state(__u64 read, __u32 tid, __u8 state, __u64 since,
					       __u64 addr)
{
	struct cw_ev_thread_state s;

	memset(&s, 0, sizeof(s));
	s.hdr = synth_hdr(CW_EV_THREAD_STATE, sizeof(s), read, PID, tid);
	s.hdr.flags = CW_F_AGGREGATED;
	s.state = state;
	s.since_ns = since;
	s.wait_addr = addr;
	return s;
}

/* An event loop's thread asleep in its loop wait is waiting for work: said so. */
TEST_F(model, event_loop_wait)
{
	struct cw_ev_thread_state sleeping = thread_state(3 * SEC, T1, CW_OFFCPU_SLEEP, SEC, 0);
	struct cw_ev_tick tick = synth_tick(3 * SEC + SEC / 2, 1);
	struct cw_ev_loop_stats ls;

	memset(&ls, 0, sizeof(ls));
	ls.hdr = synth_hdr(CW_EV_LOOP_STATS, sizeof(ls), 3 * SEC, PID, T1);
	ls.hdr.flags = CW_F_AGGREGATED;
	ls.waits = 10;
	ls.iterations = 9;
	ls.wait_nr = 232;
	ls.in_wait = 1;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &sleeping.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &ls.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &tick.hdr));
	ASSERT_EQ(0, refresh(self, START + SEC));
	EXPECT_STREQ("event-loop wait (epoll_wait) for 2.50 s", state_of(&self->m, T1));
	/* out of its wait (asleep elsewhere): sleeping */
	ls.hdr.ts_ns = 3 * SEC + SEC / 10;
	ls.in_wait = 0;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &ls.hdr));
	ASSERT_EQ(0, refresh(self, START + 2 * SEC));
	EXPECT_STREQ("sleeping for 2.50 s", state_of(&self->m, T1));
}

/*
 * A thread not blocked in the wait-for graph: what the scheduler last said it does, for
 * how long since it began; a state that had lasted less at its reading than the reading's
 * age is not shown (a busy thread switches between readings). A wait the graph knows
 * without its start takes it from the scheduler's state on the same word.
 */
TEST_F(model, time_in_state)
{
	struct cw_ev_thread_state sleeping = thread_state(3 * SEC, T1, CW_OFFCPU_SLEEP, SEC, 0);
	struct cw_ev_thread_state running = thread_state(3 * SEC, T2, CW_OFFCPU_NONE, 2 * SEC, 0);
	struct cw_ev_tick tick = synth_tick(3 * SEC + SEC / 2, 1);
	__u64 offcpu[CW_OFFCPU_MAX] = {};
	struct cw_ev_thread_stats st;
	struct cw_ev_blocked b;

	ASSERT_EQ(0, cw_engine__feed(self->eng, &sleeping.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &running.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &tick.hdr));
	ASSERT_EQ(0, refresh(self, START + SEC));
	EXPECT_STREQ("sleeping for 2.50 s", state_of(&self->m, T1));
	EXPECT_STREQ("running for 1.50 s", state_of(&self->m, T2));

	/* T2 read runnable 10 us before the reading, 0.5 s ago: no longer telling */
	running = thread_state(4 * SEC, T2, CW_OFFCPU_PREEMPTED, 4 * SEC - 10000, 0);
	tick = synth_tick(4 * SEC + SEC / 2, 2);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &running.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &tick.hdr));
	ASSERT_EQ(0, refresh(self, START + 2 * SEC));
	EXPECT_STREQ("-", state_of(&self->m, T2));
	/* T1's figures read again at 4.4 s, no new state: still asleep then */
	offcpu[CW_OFFCPU_SLEEP] = 3 * SEC + 4 * SEC / 10;
	st = synth_thread_stats(4 * SEC + 4 * SEC / 10, PID, T1, 0, offcpu);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &st.hdr));
	/* but read runnable for 0.6 s, 0.1 s ago: it is */
	running = thread_state(5 * SEC, T2, CW_OFFCPU_PREEMPTED, 4 * SEC + 4 * SEC / 10, 0);
	tick = synth_tick(5 * SEC + SEC / 10, 3);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &running.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &tick.hdr));
	ASSERT_EQ(0, refresh(self, START + 3 * SEC));
	EXPECT_STREQ("runnable for 700.0 ms", state_of(&self->m, T2));
	EXPECT_STREQ("sleeping for 4.10 s", state_of(&self->m, T1));

	/* T1 found blocked on LOCK_B by looking (no start), asleep on it since 5 s */
	sleeping = thread_state(5 * SEC + SEC / 10, T1, CW_OFFCPU_FUTEX, 5 * SEC, LOCK_B);
	memset(&b, 0, sizeof(b));
	b.hdr = synth_hdr(CW_EV_BLOCKED, sizeof(b), 5 * SEC + SEC / 10, PID, T1);
	b.hdr.flags = CW_F_SYNTHETIC;
	b.addr = LOCK_B;
	b.reason = CW_OFFCPU_FUTEX;
	b.kind = CW_LOCK_FUTEX;
	b.futex_op = 0;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &sleeping.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &b.hdr));
	tick = synth_tick(6 * SEC, 4);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &tick.hdr));
	ASSERT_EQ(0, refresh(self, START + 4 * SEC));
	EXPECT_STREQ("futex wait 0x6000 for 1.00 s", state_of(&self->m, T1));
}

/* A process hung before the attach: its locks are rows from the waits alone. */
TEST_F(model, locks_known_from_waits_alone)
{
	struct cw_ev_blocked b;

	for (int i = 0; i < 2; i++) {
		memset(&b, 0, sizeof(b));
		b.hdr = synth_hdr(CW_EV_BLOCKED, sizeof(b), ++self->ts, PID, i ? T2 : T1);
		b.hdr.flags = CW_F_SYNTHETIC;
		b.addr = i ? LOCK_A : LOCK_B;
		b.owner_tid = i ? T1 : T2;
		b.reason = CW_OFFCPU_FUTEX;
		b.kind = CW_LOCK_MUTEX;
		b.futex_op = 128;	/* FUTEX_WAIT_PRIVATE */
		ASSERT_EQ(0, cw_engine__feed(self->eng, &b.hdr));
	}
	ASSERT_EQ(0, refresh(self, START + SEC));
	ASSERT_EQ(2, self->m.nr_locks);
	for (int i = 0; i < 2; i++) {
		const struct cw_tui_lock *l = &self->m.locks[i];

		EXPECT_STREQ(l->addr == LOCK_A ? "0x5000" : "0x6000", l->name);
		EXPECT_STREQ("mutex", l->type);
		EXPECT_STREQ(l->addr == LOCK_A ? "4201" : "4202", l->owner);
		EXPECT_STREQ("1", l->nr_waiters);
		EXPECT_STREQ("-", l->acq);
		EXPECT_STREQ("-", l->wait);
	}
}

/* An ABBA between two threads on from/to. */
static void abba(struct __test_metadata *_metadata, FIXTURE_DATA(model) *self, __u64 x,
		 __u64 y)
{
	struct cw_ev_edge e1 = synth_edge(++self->ts, PID, T1, x, y);
	struct cw_ev_edge e2 = synth_edge(++self->ts, PID, T2, y, x);

	take(_metadata, self, T1, x, 1, 0);
	take(_metadata, self, T2, y, 1, 0);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &e1.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &e2.hdr));
}

TEST_F(model, findings_newest_first_with_their_text)
{
	const struct cw_tui_finding *f;

	abba(_metadata, self, LOCK_A, LOCK_B);
	ASSERT_EQ(0, refresh(self, START + SEC));
	ASSERT_EQ(1, cw_tui_model__nr_rows(&self->m, CW_TUI_FINDINGS));
	f = cw_tui_model__finding(&self->m, 0);
	ASSERT_NE(NULL, f);
	EXPECT_STREQ("lock_order_inversion", f->kind);
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	EXPECT_STREQ("possible circular locking dependency detected", f->summary);
	EXPECT_NE(NULL, strstr(f->text, "\nfinding 1: lock_order_inversion, process 4200\n"))
		TH_LOG("%s", f->text);
	EXPECT_EQ(SEC, f->seen_ns);
	/* a second inversion later: listed first, the first one kept as it was seen */
	abba(_metadata, self, LOCK_C, LOCK_D);
	ASSERT_EQ(0, refresh(self, START + 2 * SEC));
	ASSERT_EQ(2, cw_tui_model__nr_rows(&self->m, CW_TUI_FINDINGS));
	ASSERT_EQ(2, self->m.nr_findings);
	f = cw_tui_model__finding(&self->m, 0);
	EXPECT_EQ(2 * SEC, f->seen_ns);
	EXPECT_NE(NULL, strstr(f->text, "0x7000")) TH_LOG("%s", f->text);
	f = cw_tui_model__finding(&self->m, 1);
	EXPECT_EQ(SEC, f->seen_ns);
	EXPECT_NE(NULL, strstr(f->text, "0x5000")) TH_LOG("%s", f->text);
	EXPECT_EQ(NULL, cw_tui_model__finding(&self->m, 2));
	/* refreshed again, nothing new: the same two, not four */
	ASSERT_EQ(0, refresh(self, START + 3 * SEC));
	EXPECT_EQ(2, self->m.nr_findings);
}

/* n ticks of the source, 100 ms apart, each with flags (CW_F_NO_UPROBES: probes off). */
static void ticks(struct __test_metadata *_metadata, FIXTURE_DATA(model) *self, int n,
		  __u16 flags)
{
	for (int i = 0; i < n; i++) {
		struct cw_ev_tick k;

		self->ts += SEC / 10;
		k = synth_tick(self->ts, self->ts / (SEC / 10));
		k.hdr.flags = flags;
		ASSERT_EQ(0, cw_engine__feed(self->eng, &k.hdr));
	}
}

/* Without a budget (--no-uprobes, the kernel module): no state, nothing governed. */
TEST_F(model, no_budget_no_governor_state)
{
	ticks(_metadata, self, 3, CW_F_NO_UPROBES);
	ASSERT_EQ(0, refresh(self, START + SEC));
	EXPECT_STREQ("", self->m.governor);
	EXPECT_EQ(0, self->m.probes_off);
	EXPECT_STREQ("cost: not measured", self->m.cost);
	EXPECT_EQ(0, self->t.governed);
}

/*
 * Under a budget, the ticks say it all: whether the lock probes are attached now (the
 * newest tick), and the share of ticks they were, rounded down; the cost line has it
 * after the cost's first figures; the target says the same share for the report `w`
 * writes.
 */
TEST_F(model, governor_state_from_ticks)
{
	__u64 offcpu[CW_OFFCPU_MAX] = {};
	struct cw_ev_thread_stats st;
	struct cw_ev_cost c;

	self->m.budget_pct = 10;
	/* no tick yet: the budget, the probes on as the governor starts them */
	ASSERT_EQ(0, refresh(self, START + SEC));
	EXPECT_STREQ("lock probes: on (budget 10%)", self->m.governor);
	EXPECT_EQ(0, self->m.probes_off);
	EXPECT_STREQ("cost: not measured; lock probes: on (budget 10%)", self->m.cost);
	EXPECT_EQ(1, self->t.governed);
	EXPECT_EQ(1000, self->t.coverage_permille);
	/* 4 ticks on, then detached for 6: off now, on 4 ticks of 10 */
	ticks(_metadata, self, 4, 0);
	ticks(_metadata, self, 6, CW_F_NO_UPROBES);
	ASSERT_EQ(0, refresh(self, START + 2 * SEC));
	EXPECT_STREQ("lock probes: off (budget 10%), on 40% of the time", self->m.governor);
	EXPECT_EQ(1, self->m.probes_off);
	EXPECT_EQ(400, self->t.coverage_permille);
	/* attached again: 5 of 11, 45.4%, said as 45% */
	ticks(_metadata, self, 1, 0);
	ASSERT_EQ(0, refresh(self, START + 3 * SEC));
	EXPECT_STREQ("lock probes: on (budget 10%), on 45% of the time", self->m.governor);
	EXPECT_EQ(0, self->m.probes_off);
	EXPECT_EQ(454, self->t.coverage_permille);
	/*
	 * What tracing cost: in 1 s, 2000 emulated hits, 100 single-stepped, 1000 returns
	 * (1.75 ms), 0.25 ms of BPF in the probes and 1 ms in the tracepoints, 3 ms of the
	 * thread's 15 ms on a CPU; the state goes between the cost and the tracepoints' share
	 */
	memset(&c, 0, sizeof(c));
	c.hdr = synth_hdr(CW_EV_COST, sizeof(c), ++self->ts, 0, 0);
	c.start_ns = self->ts;
	c.hit_ns[CW_TRAP_EMULATED] = 500;
	c.hit_ns[CW_TRAP_STEPPED] = 5000;
	c.hit_ns[CW_TRAP_RETURN] = 250;
	c.flags = CW_COST_CALIBRATED | CW_COST_BPF_STATS;
	st = synth_thread_stats(self->ts, PID, T1, 0, offcpu);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &st.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &c.hdr));
	ASSERT_EQ(0, refresh(self, START + 4 * SEC));
	self->ts += SEC;
	c.hdr.ts_ns = self->ts;
	c.hits[CW_TRAP_EMULATED] = 2000;
	c.hits[CW_TRAP_STEPPED] = 100;
	c.hits[CW_TRAP_RETURN] = 1000;
	c.bpf_run_ns = 250000;
	c.tp_run_ns = 1000000;
	st = synth_thread_stats(self->ts, PID, T1, 15000000, offcpu);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &st.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &c.hdr));
	ASSERT_EQ(0, refresh(self, START + 5 * SEC));
	EXPECT_STREQ("cost 0.3% CPU, 20% of target; lock probes: on (budget 10%), on 45% of the "
		     "time; tracepoints 0.1%; probe hits 3100/s (100 single-stepped)", self->m.cost);
	/* a budget of 2.5%: as given */
	self->m.budget_pct = 2.5;
	ticks(_metadata, self, 1, CW_F_NO_UPROBES);
	cw_tui_model__coverage(&self->m, self->eng, &self->t);
	EXPECT_EQ(416, self->t.coverage_permille);	/* 5 of 12 */
	ASSERT_EQ(0, refresh(self, START + 6 * SEC));
	EXPECT_STREQ("lock probes: off (budget 2.5%), on 41% of the time", self->m.governor);
	/* the scheduler tracepoints shed too: said after the lock probes */
	ticks(_metadata, self, 1, CW_F_NO_UPROBES | CW_F_NO_SCHED);
	ASSERT_EQ(0, refresh(self, START + 7 * SEC));
	EXPECT_EQ(384, self->t.coverage_permille);	/* 5 of 13 */
	EXPECT_EQ(923, self->t.sched_coverage_permille);	/* 12 of 13 */
	EXPECT_STREQ("lock probes: off (budget 2.5%), on 38% of the time; scheduler: off, on 92%",
		     self->m.governor);
}

/* "/": each panel shows the rows whose name (a thread's tid, a lock's type) holds it. */
TEST_F(model, filter_by_name)
{
	take(_metadata, self, T1, LOCK_A, 10, 1000000);
	take(_metadata, self, T2, LOCK_B, 5, 0);
	abba(_metadata, self, LOCK_A, LOCK_B);
	ASSERT_EQ(0, refresh(self, START + SEC));
	ASSERT_EQ(2, cw_tui_model__nr_rows(&self->m, CW_TUI_THREADS));
	ASSERT_EQ(2, cw_tui_model__nr_rows(&self->m, CW_TUI_LOCKS));
	/* the inversion, and lock A's contention */
	ASSERT_EQ(2, cw_tui_model__nr_rows(&self->m, CW_TUI_FINDINGS));
	snprintf(self->m.filter, sizeof(self->m.filter), "WORKER-2");
	cw_tui_model__sort(&self->m);
	ASSERT_EQ(1, cw_tui_model__nr_rows(&self->m, CW_TUI_THREADS));
	EXPECT_EQ(T2, self->m.threads[0].tid);
	EXPECT_EQ(0, cw_tui_model__nr_rows(&self->m, CW_TUI_LOCKS));
	EXPECT_EQ(0, cw_tui_model__nr_rows(&self->m, CW_TUI_FINDINGS));
	/* every row is still there, only not shown */
	EXPECT_EQ(2, self->m.nr_threads);
	EXPECT_EQ(2, self->m.nr_locks);
	snprintf(self->m.filter, sizeof(self->m.filter), "0x6");
	cw_tui_model__sort(&self->m);
	ASSERT_EQ(1, cw_tui_model__nr_rows(&self->m, CW_TUI_LOCKS));
	EXPECT_STREQ("0x6000", self->m.locks[0].name);
	EXPECT_EQ(0, cw_tui_model__nr_rows(&self->m, CW_TUI_THREADS));
	snprintf(self->m.filter, sizeof(self->m.filter), "%u", T1);
	cw_tui_model__sort(&self->m);
	ASSERT_EQ(1, cw_tui_model__nr_rows(&self->m, CW_TUI_THREADS));
	EXPECT_EQ(T1, self->m.threads[0].tid);
	snprintf(self->m.filter, sizeof(self->m.filter), "Mutex");
	cw_tui_model__sort(&self->m);
	EXPECT_EQ(2, cw_tui_model__nr_rows(&self->m, CW_TUI_LOCKS));
	snprintf(self->m.filter, sizeof(self->m.filter), "lock_order");
	cw_tui_model__sort(&self->m);
	EXPECT_EQ(1, cw_tui_model__nr_rows(&self->m, CW_TUI_FINDINGS));
	/* a refresh keeps the filter */
	ASSERT_EQ(0, refresh(self, START + 2 * SEC));
	EXPECT_EQ(0, cw_tui_model__nr_rows(&self->m, CW_TUI_THREADS));
	self->m.filter[0] = '\0';
	cw_tui_model__sort(&self->m);
	EXPECT_EQ(2, cw_tui_model__nr_rows(&self->m, CW_TUI_THREADS));
}

/* Enter on a lock, on a thread: their texts, made from the engine now. */
TEST_F(model, drill_down_texts)
{
	char *text;
	size_t a = 0;

	take(_metadata, self, T1, LOCK_A, 10, 1000000);
	abba(_metadata, self, LOCK_A, LOCK_B);
	ASSERT_EQ(0, refresh(self, START + SEC));
	ASSERT_EQ(2, self->m.nr_locks);
	if (strcmp(self->m.locks[0].name, "0x5000"))
		a = 1;
	text = cw_tui_model__lock_text(&self->m, self->eng, &self->t, a);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, strncmp(text, "0x5000, mutex 0x5000 of process 4200\n", 37)) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\nNow: 0 threads waiting\n")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\nLock order around it (A -> B: B taken while A was held):\n"
				     "  lock 0x5000 -> lock 0x6000, by worker-1/4201\n"
				     "  lock 0x6000 -> lock 0x5000, by worker-2/4202\n"))
		TH_LOG("%s", text);
	free(text);
	EXPECT_EQ(NULL, cw_tui_model__lock_text(&self->m, self->eng, &self->t, 2));
	text = cw_tui_model__thread_text(&self->m, self->eng, &self->t,
					 self->m.threads[0].tid == T1 ? 0 : 1);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, strncmp(text, "Thread 4201 (worker-1) of process 4200, -\n", 42))
		TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\nNow: "));
	EXPECT_NE(NULL, strstr(text, "\nWhere its time went")) TH_LOG("%s", text);
	free(text);
	EXPECT_EQ(NULL, cw_tui_model__thread_text(&self->m, self->eng, &self->t, 2));
}

TEST_HARNESS_MAIN
