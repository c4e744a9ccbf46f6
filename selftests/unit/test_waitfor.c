// SPDX-License-Identifier: GPL-2.0
/*
 * The wait-for graph and the deadlock finding on synthetic streams: which hangs, by which
 * rule, which threads and locks in which order, confirmed when.
 */
#include "kselftest_harness.h"
#include "cw_render.h"
#include "cw_synth.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "engine/waitfor.h"
#include "report/report.h"
#include "report/symbols.h"

#define PID 100
#define A 0xa000
#define B 0xb000
#define C 0xc000
#define MS 1000000ULL
#define T0 1000000000ULL	/* the streams' start, 1 s */

/* A blocked record: tid waits on addr held by owner (0: not said), traced unless synthetic. */
static void blocked(struct cw_engine *eng, __u64 ts, __u32 tid, __u64 addr, __u32 owner,
		    __u8 reason, int synthetic)
{
	struct cw_ev_blocked b;

	memset(&b, 0, sizeof(b));
	b.hdr = synth_hdr(CW_EV_BLOCKED, sizeof(b), ts, PID, tid);
	if (synthetic)
		b.hdr.flags = CW_F_SYNTHETIC;
	b.addr = addr;
	b.since_ns = synthetic ? 0 : ts;
	b.owner_tid = owner;
	b.reason = reason;
	b.kind = addr ? CW_LOCK_MUTEX : 0;
	b.stack_id = addr ? 0x5000 + tid : 0;
	b.futex_op = reason == CW_OFFCPU_SLEEP ? 0 /* read */ : ~0U;
	cw_engine__feed(eng, &b.hdr);
}

static void lock_op(struct cw_engine *eng, __u16 type, __u64 ts, __u32 tid, __u64 addr)
{
	struct cw_ev_lock e = synth_lock(type, ts, PID, tid, addr, 0, 0);

	cw_engine__feed(eng, &e.hdr);
}

static void tick(struct cw_engine *eng, __u64 ts)
{
	struct cw_ev_tick t = synth_tick(ts, ts / MS);

	cw_engine__feed(eng, &t.hdr);
}

static void comm(struct cw_engine *eng, __u64 ts, __u32 tid, int synthetic)
{
	struct cw_ev_comm c = synth_comm(ts, PID, tid, "wl");

	if (synthetic)
		c.hdr.flags = CW_F_SYNTHETIC;
	cw_engine__feed(eng, &c.hdr);
}

static void thread_exit(struct cw_engine *eng, __u64 ts, __u32 tid)
{
	struct cw_ev_exit x = synth_exit(ts, PID, tid);

	cw_engine__feed(eng, &x.hdr);
}

FIXTURE(wf)
{
	struct cw_engine *eng;
	struct cw_findings *fs;
};

FIXTURE_SETUP(wf)
{
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	self->fs = NULL;
}

FIXTURE_TEARDOWN(wf)
{
	cw_findings__free(self->fs);
	cw_engine__free(self->eng);
}

/* The deadlock findings of the engine now: how many, into self->fs. */
static size_t deadlocks(struct __test_metadata *_metadata, FIXTURE_DATA(wf) *self)
{
	size_t n = 0;

	cw_findings__free(self->fs);
	self->fs = NULL;
	EXPECT_EQ(0, cw_findings__new(self->eng, &self->fs));
	if (!self->fs)
		return 0;
	for (size_t i = 0; i < cw_findings__nr(self->fs); i++)
		n += cw_findings__get(self->fs, i)->kind == CW_FINDING_DEADLOCK;
	return n;
}

/* The i-th deadlock finding. */
static const struct cw_finding *dl(FIXTURE_DATA(wf) *self, size_t i)
{
	for (size_t k = 0; k < cw_findings__nr(self->fs); k++) {
		const struct cw_finding *f = cw_findings__get(self->fs, k);

		if (f->kind == CW_FINDING_DEADLOCK && !i--)
			return f;
	}
	return NULL;
}

/* Link i of f waits on addr (0: on no lock) held by holder. */
#define EXPECT_LINK(f, i, t, addr_, holder)                                                    \
	do {                                                                                   \
		const struct cw_deadlock_link *l_ = &(f)->deadlock.links[i];                   \
		EXPECT_EQ(t, l_->tid);                                                         \
		EXPECT_EQ(holder, l_->holder_tid);                                             \
		if (addr_) {                                                                   \
			ASSERT_LT(l_->lock, (f)->nr_locks);                                    \
			EXPECT_EQ(addr_, (f)->locks[l_->lock].addr);                           \
		} else {                                                                       \
			EXPECT_EQ(SIZE_MAX, l_->lock);                                         \
		}                                                                              \
	} while (0)

TEST(detected)
{
	EXPECT_TRUE(cw_finding_kind__detected(CW_FINDING_DEADLOCK));
	EXPECT_STREQ("cycle", cw_deadlock_rule__name(CW_DEADLOCK_CYCLE));
	EXPECT_STREQ("blocked_outside", cw_deadlock_rule__name(CW_DEADLOCK_BLOCKED_OUTSIDE));
}

/* ABBA, owners from the lock words: a finding once it lasted the window, not before. */
TEST_F(wf, cycle2)
{
	const struct cw_finding *f;

	blocked(self->eng, T0, 101, B, 102, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 100 * MS, 102, A, 101, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 500 * MS);
	EXPECT_EQ(0, deadlocks(_metadata, self));	/* formed 400 ms ago */
	tick(self->eng, T0 + 700 * MS);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	f = dl(self, 0);
	EXPECT_EQ(CW_SEVERITY_ERROR, f->severity);
	EXPECT_EQ(CW_DEADLOCK_CYCLE, f->deadlock.rule);
	EXPECT_EQ(T0 + 100 * MS, f->deadlock.formed_ns);
	EXPECT_EQ(T0 + 700 * MS, f->deadlock.confirmed_ns);
	ASSERT_EQ(2, f->deadlock.nr_links);
	EXPECT_LINK(f, 0, 101, B, 102);
	EXPECT_LINK(f, 1, 102, A, 101);
	ASSERT_EQ(2, f->nr_locks);
	EXPECT_EQ(B, f->locks[0].addr);
	EXPECT_EQ(CW_LOCK_MUTEX, f->locks[0].type);
	ASSERT_EQ(2, f->nr_threads);
	EXPECT_EQ(101, f->threads[0].tid);
	EXPECT_EQ(102, f->threads[1].tid);
	EXPECT_EQ(0x5000 + 101, f->stacks[f->deadlock.links[0].stack].id);
	EXPECT_EQ(1, cw_findings__matching(self->fs, 1ULL << CW_FINDING_DEADLOCK));
}

/*
 * Three threads, holders from their traced acquisitions (no owner in the records), fed
 * out of tid order: the cycle starts at its lowest tid and goes the way the waits go.
 */
TEST_F(wf, cycle3_traced_holders)
{
	const struct cw_finding *f;

	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0, 103, C);
	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0 + 1, 102, B);
	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0 + 2, 101, A);
	lock_op(self->eng, CW_EV_LOCK_BEGIN, T0 + 10, 103, A);
	blocked(self->eng, T0 + 11, 103, A, 0, CW_OFFCPU_LOCK, 0);
	lock_op(self->eng, CW_EV_LOCK_BEGIN, T0 + 20, 101, B);
	blocked(self->eng, T0 + 21, 101, B, 0, CW_OFFCPU_LOCK, 0);
	lock_op(self->eng, CW_EV_LOCK_BEGIN, T0 + 30, 102, C);
	blocked(self->eng, T0 + 31, 102, C, 0, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 600 * MS);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	f = dl(self, 0);
	EXPECT_EQ(CW_DEADLOCK_CYCLE, f->deadlock.rule);
	EXPECT_EQ(T0 + 31, f->deadlock.formed_ns);
	ASSERT_EQ(3, f->deadlock.nr_links);
	EXPECT_LINK(f, 0, 101, B, 102);
	EXPECT_LINK(f, 1, 102, C, 103);
	EXPECT_LINK(f, 2, 103, A, 101);
	EXPECT_EQ(CW_WF_HOLDER_TRACED, f->deadlock.links[0].holder_from);
}

/* A thread relocking the mutex it holds. */
TEST_F(wf, self)
{
	const struct cw_finding *f;

	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0, 101, A);
	lock_op(self->eng, CW_EV_LOCK_BEGIN, T0 + 10 * MS, 101, A);
	blocked(self->eng, T0 + 11 * MS, 101, A, 101, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 600 * MS);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	f = dl(self, 0);
	EXPECT_EQ(CW_DEADLOCK_SELF, f->deadlock.rule);
	EXPECT_EQ(CW_SEVERITY_ERROR, f->severity);
	ASSERT_EQ(1, f->deadlock.nr_links);
	EXPECT_LINK(f, 0, 101, A, 101);
	ASSERT_EQ(1, f->nr_threads);
}

/* The holder exited (traced): its waiters, one finding for the lock, the owner named. */
TEST_F(wf, owner_exited_traced)
{
	const struct cw_finding *f;

	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0, 103, A);
	thread_exit(self->eng, T0 + 1 * MS, 103);
	blocked(self->eng, T0 + 2 * MS, 102, A, 0, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 3 * MS, 101, A, 103, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 400 * MS);
	EXPECT_EQ(0, deadlocks(_metadata, self));
	tick(self->eng, T0 + 600 * MS);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	f = dl(self, 0);
	EXPECT_EQ(CW_DEADLOCK_OWNER_EXITED, f->deadlock.rule);
	EXPECT_EQ(T0 + 3 * MS, f->deadlock.formed_ns);
	ASSERT_EQ(2, f->deadlock.nr_links);
	EXPECT_LINK(f, 0, 101, A, 103);
	EXPECT_LINK(f, 1, 102, A, 103);
	EXPECT_TRUE(f->deadlock.links[0].holder_exited);
	ASSERT_EQ(3, f->nr_threads);
	EXPECT_EQ(103, f->threads[2].tid);
	ASSERT_EQ(1, f->nr_locks);
}

/* One look at a process: the owner the lock word names is none of its threads. */
TEST_F(wf, owner_exited_scan)
{
	const struct cw_finding *f;

	comm(self->eng, T0, PID, 1);
	comm(self->eng, T0, 101, 1);
	blocked(self->eng, T0, 101, A, 555, CW_OFFCPU_FUTEX, 1);
	blocked(self->eng, T0, PID, 0, 0, CW_OFFCPU_SLEEP, 1);
	tick(self->eng, T0);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	f = dl(self, 0);
	EXPECT_EQ(CW_DEADLOCK_OWNER_EXITED, f->deadlock.rule);
	EXPECT_EQ(0, f->deadlock.formed_ns);	/* found by looking: not known */
	ASSERT_EQ(1, f->deadlock.nr_links);
	EXPECT_LINK(f, 0, 101, A, 555);
	EXPECT_EQ(CW_LOCK_MUTEX, f->locks[0].type);
}

/*
 * Threads waiting on the waiters of a dead end are stuck too: they follow in the
 * finding, and do not move when it formed.
 */
TEST_F(wf, upstream_of_dead_ends)
{
	const struct cw_finding *f;

	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0, 109, A);
	thread_exit(self->eng, T0 + 1 * MS, 109);
	blocked(self->eng, T0 + 10 * MS, 105, A, 109, CW_OFFCPU_LOCK, 0);	/* holds B */
	blocked(self->eng, T0 + 20 * MS, 101, B, 105, CW_OFFCPU_LOCK, 0);	/* holds C */
	blocked(self->eng, T0 + 30 * MS, 102, C, 101, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 40 * MS, 103, A + 1, 104, CW_OFFCPU_LOCK, 0);	/* elsewhere */
	tick(self->eng, T0 + 520 * MS);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	f = dl(self, 0);
	EXPECT_EQ(CW_DEADLOCK_OWNER_EXITED, f->deadlock.rule);
	EXPECT_EQ(T0 + 10 * MS, f->deadlock.formed_ns);
	ASSERT_EQ(3, f->deadlock.nr_links);
	EXPECT_LINK(f, 0, 105, A, 109);
	EXPECT_LINK(f, 1, 101, B, 105);
	EXPECT_LINK(f, 2, 102, C, 101);
	EXPECT_FALSE(f->deadlock.links[0].upstream);
	EXPECT_TRUE(f->deadlock.links[1].upstream);
	EXPECT_TRUE(f->deadlock.links[2].upstream);
}

/* In a look, a live owner is no hang; a traced stream never calls an unknown owner gone. */
TEST_F(wf, owner_alive)
{
	comm(self->eng, T0, 101, 1);
	comm(self->eng, T0, 102, 1);
	blocked(self->eng, T0, 101, A, 102, CW_OFFCPU_FUTEX, 1);
	tick(self->eng, T0 + 2 * CW_WF_WINDOW_NS);
	EXPECT_EQ(0, deadlocks(_metadata, self));
}

TEST_F(wf, owner_unknown_traced)
{
	blocked(self->eng, T0 + 1, 103, B, 777, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 2 * CW_WF_WINDOW_NS);
	EXPECT_EQ(0, deadlocks(_metadata, self));
}

/* The holder waits in read(): a chain of waits ends there, reported at a lower severity. */
TEST_F(wf, blocked_outside)
{
	const struct cw_finding *f;

	comm(self->eng, T0, 101, 1);
	comm(self->eng, T0, 102, 1);
	comm(self->eng, T0, 103, 1);
	blocked(self->eng, T0, 103, B, 101, CW_OFFCPU_FUTEX, 1);
	blocked(self->eng, T0, 101, A, 102, CW_OFFCPU_FUTEX, 1);
	blocked(self->eng, T0, 102, 0, 0, CW_OFFCPU_SLEEP, 1);
	tick(self->eng, T0);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	f = dl(self, 0);
	EXPECT_EQ(CW_DEADLOCK_BLOCKED_OUTSIDE, f->deadlock.rule);
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	ASSERT_EQ(3, f->deadlock.nr_links);
	EXPECT_LINK(f, 0, 101, A, 102);
	EXPECT_LINK(f, 1, 103, B, 101);	/* waits on the waiter */
	EXPECT_LINK(f, 2, 102, 0, 0);
	EXPECT_EQ(CW_OFFCPU_SLEEP, f->deadlock.links[2].reason);
	EXPECT_EQ(0, f->deadlock.links[2].syscall);
}

/* Waits that end before the window: the acquire returned, or the source said so. */
TEST_F(wf, cleared_before_window)
{
	blocked(self->eng, T0, 101, B, 102, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 1 * MS, 102, A, 101, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 100 * MS);
	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0 + 200 * MS, 101, B);
	tick(self->eng, T0 + 2000 * MS);
	EXPECT_EQ(0, deadlocks(_metadata, self));

	blocked(self->eng, T0 + 2100 * MS, 101, A, 101, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 2200 * MS, 101, 0, 0, CW_OFFCPU_NONE, 0);
	tick(self->eng, T0 + 4000 * MS);
	EXPECT_EQ(0, deadlocks(_metadata, self));
}

/*
 * A cycle that forms and breaks within the window is none; one that lasted it stays a
 * finding after it broke (a timed wait gave up: it hung for that long).
 */
TEST_F(wf, forms_then_breaks)
{
	blocked(self->eng, T0, 101, B, 102, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 10 * MS, 102, A, 101, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 300 * MS);
	thread_exit(self->eng, T0 + 400 * MS, 102);
	blocked(self->eng, T0 + 401 * MS, 101, 0, 0, CW_OFFCPU_NONE, 0);
	tick(self->eng, T0 + 900 * MS);
	EXPECT_EQ(0, deadlocks(_metadata, self));

	blocked(self->eng, T0 + 1000 * MS, 103, C, 104, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 1000 * MS, 104, B, 103, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 1600 * MS);
	blocked(self->eng, T0 + 1700 * MS, 103, 0, 0, CW_OFFCPU_NONE, 0);
	tick(self->eng, T0 + 1800 * MS);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	EXPECT_EQ(T0 + 1600 * MS, dl(self, 0)->deadlock.confirmed_ns);
	EXPECT_LINK(dl(self, 0), 0, 103, C, 104);
}

/* Without a tick since, a report still sees a hang that has lasted the window by now. */
TEST_F(wf, confirmed_without_tick)
{
	blocked(self->eng, T0, 101, A, 101, CW_OFFCPU_LOCK, 0);
	comm(self->eng, T0 + 100 * MS, 102, 0);
	EXPECT_EQ(0, deadlocks(_metadata, self));
	comm(self->eng, T0 + 500 * MS, 102, 0);
	EXPECT_EQ(1, deadlocks(_metadata, self));
}

/*
 * A look beside a tracer (report -p): a wait it found and said ended is gone; a traced
 * wait is neither ended nor replaced by what a look says; a cycle of a found wait and a
 * traced one is confirmed once the traced one has lasted the window, formed when it began.
 */
TEST_F(wf, look_beside_tracer)
{
	const struct cw_finding *f;

	comm(self->eng, T0, 101, 1);
	comm(self->eng, T0, 102, 1);
	/* found: 101 waits on A, held by 102; it leaves that wait, then 102 waits on A */
	blocked(self->eng, T0, 101, A, 102, CW_OFFCPU_FUTEX, 1);
	blocked(self->eng, T0 + 100 * MS, 101, 0, 0, CW_OFFCPU_NONE, 1);
	blocked(self->eng, T0 + 150 * MS, 102, A, 101, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 2000 * MS);
	EXPECT_EQ(0, deadlocks(_metadata, self));

	/* traced: 101 waits on B held by 102; a look's records about 101 change nothing */
	blocked(self->eng, T0 + 2100 * MS, 101, B, 102, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 2200 * MS, 101, 0, 0, CW_OFFCPU_NONE, 1);
	blocked(self->eng, T0 + 2200 * MS, 101, C, 0, CW_OFFCPU_FUTEX, 1);
	tick(self->eng, T0 + 2500 * MS);
	EXPECT_EQ(0, deadlocks(_metadata, self));	/* formed 400 ms ago */
	tick(self->eng, T0 + 2700 * MS);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	f = dl(self, 0);
	EXPECT_EQ(CW_DEADLOCK_CYCLE, f->deadlock.rule);
	EXPECT_EQ(T0 + 2100 * MS, f->deadlock.formed_ns);
	EXPECT_LINK(f, 0, 101, B, 102);
	EXPECT_LINK(f, 1, 102, A, 101);
}

/* A cycle of a wait found by looking and a traced one waits for the traced one's window. */
TEST_F(wf, found_and_traced)
{
	comm(self->eng, T0, 101, 1);
	comm(self->eng, T0, 102, 1);
	blocked(self->eng, T0, 101, B, 102, CW_OFFCPU_FUTEX, 1);
	blocked(self->eng, T0 + 300 * MS, 102, A, 101, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 400 * MS);
	EXPECT_EQ(0, deadlocks(_metadata, self));
	tick(self->eng, T0 + 800 * MS);
	ASSERT_EQ(1, deadlocks(_metadata, self));
	EXPECT_EQ(T0 + 300 * MS, dl(self, 0)->deadlock.formed_ns);
}

/* Two engines fed the same hangs in different orders give the same findings. */
TEST(deterministic)
{
	struct cw_engine *e[2] = { cw_engine__new(), cw_engine__new() };
	struct cw_findings *fs[2] = {};
	static const struct {
		__u32 tid, owner;
		__u64 addr;
	} w[] = {
		{ 201, 202, B }, { 202, 203, C }, { 203, 201, A },	/* 3-cycle */
		{ 101, 102, A + 1 }, { 102, 101, B + 1 },		/* 2-cycle */
		{ 150, 150, C + 1 },					/* self */
		{ 120, 999, A + 2 },					/* exited owner */
	};
	size_t n = sizeof(w) / sizeof(w[0]);

	ASSERT_NE(NULL, e[0]);
	ASSERT_NE(NULL, e[1]);
	for (int k = 0; k < 2; k++) {
		thread_exit(e[k], T0, 999);
		for (size_t i = 0; i < n; i++) {
			size_t j = k ? n - 1 - i : i;

			blocked(e[k], T0 + 1 * MS, w[j].tid, w[j].addr, w[j].owner,
				CW_OFFCPU_LOCK, 0);
		}
		tick(e[k], T0 + 600 * MS);
		ASSERT_EQ(0, cw_findings__new(e[k], &fs[k]));
	}
	ASSERT_EQ(4, cw_findings__nr(fs[0]));
	ASSERT_EQ(cw_findings__nr(fs[0]), cw_findings__nr(fs[1]));
	for (size_t i = 0; i < cw_findings__nr(fs[0]); i++) {
		const struct cw_finding *a = cw_findings__get(fs[0], i),
					*b = cw_findings__get(fs[1], i);

		ASSERT_EQ(a->deadlock.rule, b->deadlock.rule);
		ASSERT_EQ(a->deadlock.nr_links, b->deadlock.nr_links);
		for (size_t k = 0; k < a->deadlock.nr_links; k++) {
			EXPECT_EQ(a->deadlock.links[k].tid, b->deadlock.links[k].tid);
			EXPECT_EQ(a->deadlock.links[k].holder_tid, b->deadlock.links[k].holder_tid);
		}
	}
	/* cycles from their lowest thread, by it; then the exited owner */
	EXPECT_EQ(CW_DEADLOCK_CYCLE, cw_findings__get(fs[0], 0)->deadlock.rule);
	EXPECT_EQ(101, cw_findings__get(fs[0], 0)->deadlock.links[0].tid);
	EXPECT_EQ(CW_DEADLOCK_SELF, cw_findings__get(fs[0], 1)->deadlock.rule);
	EXPECT_EQ(150, cw_findings__get(fs[0], 1)->deadlock.links[0].tid);
	EXPECT_EQ(201, cw_findings__get(fs[0], 2)->deadlock.links[0].tid);
	EXPECT_EQ(202, cw_findings__get(fs[0], 2)->deadlock.links[1].tid);
	EXPECT_EQ(CW_DEADLOCK_OWNER_EXITED, cw_findings__get(fs[0], 3)->deadlock.rule);
	for (int k = 0; k < 2; k++) {
		cw_findings__free(fs[k]);
		cw_engine__free(e[k]);
	}
}

/* Every blocked thread, by tid, holders resolved: what `deadlock -p` lists without a hang. */
TEST_F(wf, blocked_list)
{
	struct cw_wf_wait *v;
	size_t n;

	comm(self->eng, T0, 101, 1);
	comm(self->eng, T0, 102, 1);
	blocked(self->eng, T0, 102, 0, 0, CW_OFFCPU_SLEEP, 1);
	blocked(self->eng, T0, 101, A, 102, CW_OFFCPU_FUTEX, 1);
	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0 + 1, 103, B);
	blocked(self->eng, T0 + 2, 104, B, 0, CW_OFFCPU_LOCK, 0);
	ASSERT_EQ(0, cw_wf__blocked(cw_engine__waitfor(self->eng), self->eng, &v, &n));
	ASSERT_EQ(3, n);
	EXPECT_EQ(101, v[0].tid);
	EXPECT_EQ(102, v[0].holder_tid);
	EXPECT_EQ(CW_WF_HOLDER_OWNER, v[0].holder_from);
	EXPECT_EQ(102, v[1].tid);
	EXPECT_EQ(0, v[1].addr);
	EXPECT_EQ(104, v[2].tid);
	EXPECT_EQ(103, v[2].holder_tid);
	EXPECT_EQ(CW_WF_HOLDER_TRACED, v[2].holder_from);
	free(v);
}

/* The text and the JSON report of a stream; malloc'ed. */
static char *render(struct cw_engine *eng, int json)
{
	return cw_render(eng, PID, json ? cw_report__json : cw_report__deadlock_text);
}

/* A traced hang: when it formed on the trace's clock, each thread's line, the JSON cycle. */
TEST_F(wf, rendered)
{
	char *text, *json;

	comm(self->eng, T0, 101, 0);
	comm(self->eng, T0, 102, 0);
	lock_op(self->eng, CW_EV_LOCK_ACQUIRED, T0 + 1 * MS, 103, A);
	thread_exit(self->eng, T0 + 2 * MS, 103);
	blocked(self->eng, T0 + 250 * MS, 101, A, 103, CW_OFFCPU_LOCK, 0);
	blocked(self->eng, T0 + 300 * MS, 102, A, 0, CW_OFFCPU_LOCK, 0);
	tick(self->eng, T0 + 900 * MS);
	text = render(self->eng, 0);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\n======================================================\n"
				     "ERROR: deadlock: threads wait on a lock whose holder has exited\n"
				     "finding 1: deadlock (owner_exited), process 100, 2 threads\n"
				     "------------------------------------------------------\n"
				     "Formed 300.0 ms after tracing began, and lasted past the 500.0 ms "
				     "window.\n\n"
				     "  wl/101 waits on lock 0xa000 (mutex 0xa000), held by thread 103, "
				     "which has exited\n"
				     "      (stack not received: see lost events)\n"
				     "  wl/102 waits on lock 0xa000 (mutex 0xa000), held by thread 103, "
				     "which has exited\n")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\n *** DEADLOCK ***\n")) TH_LOG("%s", text);
	EXPECT_EQ(NULL, strstr(text, "Other threads blocked now")) TH_LOG("%s", text);
	free(text);

	json = render(self->eng, 1);
	ASSERT_NE(NULL, json);
	EXPECT_NE(NULL, strstr(json, "{\"kind\": \"deadlock\", \"rule\": \"owner_exited\", "
				     "\"severity\": \"error\", \"formed_at_ns\": 1300000000, "
				     "\"confirmed_at_ns\": 1900000000, ")) TH_LOG("%s", json);
	EXPECT_NE(NULL, strstr(json, "\"cycle\": [{\"tid\": 101, \"comm\": \"wl\", "
				     "\"waits_on\": \"0xa000\", \"held_by\": 103, "
				     "\"holder_exited\": true, \"reason\": \"lock\", \"syscall\": null, "
				     "\"syscall_name\": null, \"since_ns\": 1250000000, "
				     "\"object\": \"0xa000\", \"object_kind\": \"mutex\", "
				     "\"object_name\": \"lock 0xa000\", \"readers\": null, "
				     "\"stack\": []}, "))
		TH_LOG("%s", json);
	EXPECT_NE(NULL, strstr(json, "\"threads\": [{\"tid\": 101, \"comm\": \"wl\"}, "
				     "{\"tid\": 102, \"comm\": \"wl\"}, {\"tid\": 103, "
				     "\"comm\": \"?\"}]")) TH_LOG("%s", json);
	EXPECT_NE(NULL, strstr(json, ",\n  \"blocked\": [\n    {\"tid\": 101, ")) TH_LOG("%s",
											    json);
	free(json);
}

/*
 * An rwlock found held by readers (procscan: its word at +8, the readers its memory
 * counted): named as the rwlock, held by the readers, whom nothing names. Threads
 * without a stack are listed each on its own, even in the same wait.
 */
TEST_F(wf, rwlock_readers_rendered)
{
	struct cw_ev_blocked b;
	char *text, *json;

	comm(self->eng, T0, 101, 1);
	comm(self->eng, T0, 102, 1);
	comm(self->eng, T0, 103, 1);
	memset(&b, 0, sizeof(b));
	b.hdr = synth_hdr(CW_EV_BLOCKED, sizeof(b), T0, PID, 101);
	b.hdr.flags = CW_F_SYNTHETIC;
	b.addr = A + 8;
	b.reason = CW_OFFCPU_FUTEX;
	b.kind = CW_LOCK_RWLOCK;
	b.readers = 2;
	b.futex_op = 128;
	cw_engine__feed(self->eng, &b.hdr);
	blocked(self->eng, T0, 102, 0, 0, CW_OFFCPU_SLEEP, 1);
	blocked(self->eng, T0, 103, 0, 0, CW_OFFCPU_SLEEP, 1);
	tick(self->eng, T0 + 1 * MS);
	text = render(self->eng, 0);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\nNo deadlock.\n\nThreads blocked now:\n"
				     "  wl/101 waits on lock 0xa000 (rwlock 0xa000), held by 2 readers, "
				     "which ones are not known\n"
				     "      (no stack)\n"
				     "  wl/102 is blocked in read(), outside any lock (interruptible)\n"
				     "      (no stack)\n"
				     "  wl/103 is blocked in read(), outside any lock (interruptible)\n"
				     "      (no stack)\n")) TH_LOG("%s", text);
	free(text);
	json = render(self->eng, 1);
	ASSERT_NE(NULL, json);
	EXPECT_NE(NULL, strstr(json, "{\"tid\": 101, \"comm\": \"wl\", \"waits_on\": \"0xa008\", "
				     "\"held_by\": null, \"holder_exited\": false, \"reason\": "
				     "\"futex\", \"syscall\": null, \"syscall_name\": null, "
				     "\"since_ns\": null, \"object\": \"0xa000\", \"object_kind\": "
				     "\"rwlock\", \"object_name\": \"lock 0xa000\", \"readers\": 2, "
				     "\"stack\": []}")) TH_LOG("%s", json);
	free(json);
}

TEST_HARNESS_MAIN
