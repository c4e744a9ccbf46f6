// SPDX-License-Identifier: GPL-2.0
/*
 * The priority_inversion finding on synthetic streams: measured stretches (which count,
 * how they merge, the threshold, the priority rule), L's and M's stacks (which stretch's),
 * the latent rule from blocked records and thread attributes, PI boosts, and the text and
 * JSON the report draws.
 */
#include "kselftest_harness.h"
#include "cw_render.h"
#include "cw_synth.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "engine/prio.h"
#include "report/report.h"
#include "report/symbols.h"

#define PID 100
#define OTHER_PID 200
#define H 101
#define L 102
#define M 103
#define A 0xa000
#define MS 1000000ULL
#define T0 1000000000ULL

/* kernel prios of SCHED_FIFO 30, 20, 10, and nice 0 */
#define PRIO_H 69
#define PRIO_M 79
#define PRIO_L 89
#define PRIO_OTHER 120

static void comm(struct cw_engine *eng, __u32 pid, __u32 tid, const char *name)
{
	struct cw_ev_comm c = synth_comm(T0, pid, tid, name);

	cw_engine__feed(eng, &c.hdr);
}

/* H blocks on A, held by owner (CW_EV_BLOCKED, stack 0x5000 + tid). */
static void blocked(struct cw_engine *eng, __u64 ts, __u32 tid, __u32 owner)
{
	struct cw_ev_blocked b;

	memset(&b, 0, sizeof(b));
	b.hdr = synth_hdr(CW_EV_BLOCKED, sizeof(b), ts, PID, tid);
	b.addr = A;
	b.since_ns = ts;
	b.owner_tid = owner;
	b.reason = CW_OFFCPU_LOCK;
	b.kind = CW_LOCK_MUTEX;
	b.op = CW_OP_LOCK;
	b.stack_id = 0x5000 + tid;
	cw_engine__feed(eng, &b.hdr);
}

/* L's kernel prio the stretches say */
static __s32 stretch_low_prio = PRIO_L;

/* A stretch: L runnable for dur up to ts while H waited since since; preemptor (pid, tid, prio). */
/* An inversion record of H's wait on A held by L, L at low_prio, M at mprio. */
static void pi_record(struct cw_ev_pi *e, __u64 ts, __u64 since, __u64 dur, __s32 low_prio,
		      __u32 mpid, __u32 mtid, __s32 mprio)
{
	memset(e, 0, sizeof(*e));
	e->hdr = synth_hdr(CW_EV_PRIO_INVERSION, sizeof(*e), ts, PID, L);
	e->addr = A;
	e->wait_since_ns = since;
	e->duration_ns = dur;
	e->high_tid = H;
	e->high_prio = PRIO_H;
	e->high_policy = 1;
	e->low_prio = low_prio;
	e->low_policy = low_prio < 100 ? 1 : 0;
	e->preemptor_pid = mpid;
	e->preemptor_tid = mtid;
	e->preemptor_prio = mprio;
	e->preemptor_policy = mprio < 100 ? 1 : 0;
	e->flags = CW_PI_F_PREEMPTED;
}

static void stretch(struct cw_engine *eng, __u64 ts, __u64 since, __u64 dur, __u32 mpid,
		    __u32 mtid, __s32 mprio, const char *mcomm)
{
	struct cw_ev_pi e;

	pi_record(&e, ts, since, dur, stretch_low_prio, mpid, mtid, mprio);
	strncpy(e.preemptor_comm, mcomm, sizeof(e.preemptor_comm) - 1);
	cw_engine__feed(eng, &e.hdr);
}

/*
 * A word of a stretch still going on at ts, dur long (H waiting since since), as the
 * source sends it each tick: preempted by mtid of mpid (0: none named yet).
 */
static void ongoing_word(struct cw_engine *eng, __u64 ts, __u64 since, __u64 dur, __u32 mpid,
			 __u32 mtid)
{
	struct cw_ev_pi e;

	pi_record(&e, ts, since, dur, PRIO_L, mpid, mtid, mtid ? PRIO_M : 0);
	if (!mtid)
		e.preemptor_policy = 0;
	e.hdr.flags = CW_F_AGGREGATED;
	e.flags |= CW_PI_F_ONGOING;
	cw_engine__feed(eng, &e.hdr);
}

/* The stacks of the stretch recorded at ts (H waiting since since): L's, M's, flags. */
static void stacks(struct cw_engine *eng, __u64 ts, __u64 since, __u64 low, __u64 m, __u32 flags)
{
	struct cw_ev_pi_stacks e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_PRIO_STACKS, sizeof(e), ts, PID, L);
	e.addr = A;
	e.wait_since_ns = since;
	e.low_stack_id = low;
	e.preemptor_stack_id = m;
	e.high_tid = H;
	e.flags = flags;
	cw_engine__feed(eng, &e.hdr);
}

static void thread_sched(struct cw_engine *eng, __u64 ts, __u32 tid, __u32 policy, __s32 prio)
{
	struct cw_ev_thread_stats e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_THREAD_STATS, sizeof(e), ts, PID, tid);
	e.hdr.flags = CW_F_AGGREGATED;
	e.since_ns = T0;
	e.policy = policy;
	e.prio = e.normal_prio = prio;
	e.rt_priority = prio < 100 ? 99 - prio : 0;
	cw_engine__feed(eng, &e.hdr);
}

static void boost(struct cw_engine *eng, __u64 ts, __u32 tid, __s32 from, __s32 to, __u32 donor)
{
	struct cw_ev_prio e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_PRIO_CHANGE, sizeof(e), ts, PID, tid);
	e.old_prio = from;
	e.new_prio = to;
	e.policy = 1;
	e.reason = donor ? CW_PRIO_PI_BOOST : CW_PRIO_PI_UNBOOST;
	e.donor_tid = donor;
	cw_engine__feed(eng, &e.hdr);
}

/* The lock's attributes as the kernel's statistics read them. */
static void lock_attr(struct cw_engine *eng, __u64 ts, __u16 attr)
{
	struct cw_ev_lock_stats s;

	memset(&s, 0, sizeof(s));
	s.hdr = synth_hdr(CW_EV_LOCK_STATS, sizeof(s), ts, PID, 0);
	s.hdr.flags = CW_F_AGGREGATED;
	s.addr = A;
	s.what = CW_SITE_ACQUIRE;
	s.kind = CW_LOCK_MUTEX;
	s.attr = attr | CW_ATTR_KNOWN;
	s.acquisitions = 1;
	cw_engine__feed(eng, &s.hdr);
}

FIXTURE(pi)
{
	struct cw_engine *eng;
	struct cw_findings *fs;
};

FIXTURE_SETUP(pi)
{
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	self->fs = NULL;
	comm(self->eng, PID, H, "prio-h");
	comm(self->eng, PID, L, "prio-l");
}

FIXTURE_TEARDOWN(pi)
{
	cw_findings__free(self->fs);
	cw_engine__free(self->eng);
}

/* The priority_inversion findings now: how many; *first: the first. */
static size_t inversions(struct __test_metadata *_metadata, FIXTURE_DATA(pi) *self,
			 const struct cw_finding **first)
{
	size_t n = 0;

	cw_findings__free(self->fs);
	self->fs = NULL;
	*first = NULL;
	EXPECT_EQ(0, cw_findings__new(self->eng, &self->fs));
	if (!self->fs)
		return 0;
	for (size_t i = 0; i < cw_findings__nr(self->fs); i++) {
		const struct cw_finding *f = cw_findings__get(self->fs, i);

		if (f->kind != CW_FINDING_PRIORITY_INVERSION)
			continue;
		if (!n++)
			*first = f;
	}
	return n;
}

TEST(detected)
{
	EXPECT_TRUE(cw_finding_kind__detected(CW_FINDING_PRIORITY_INVERSION));
	EXPECT_EQ(CW_FINDING_PRIORITY_INVERSION, cw_finding_kind__parse("priority_inversion"));
}

/* One measured stretch, M of another process: every field of the finding. */
TEST_F(pi, preempted)
{
	const struct cw_finding *f;

	blocked(self->eng, T0 + 10 * MS, H, L);
	stretch(self->eng, T0 + 310 * MS, T0 + 10 * MS, 300 * MS, OTHER_PID, M, PRIO_M, "prio-m");
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(CW_SEVERITY_ERROR, f->severity);
	EXPECT_EQ(CW_PI_RULE_PREEMPTED, f->prio.rule);
	EXPECT_EQ(H, f->prio.high.tid);
	EXPECT_EQ(PRIO_H, f->prio.high.prio);
	EXPECT_EQ(L, f->prio.low.tid);
	EXPECT_EQ(PRIO_L, f->prio.low.prio);
	EXPECT_EQ(OTHER_PID, f->prio.preemptor.pid);
	EXPECT_EQ(M, f->prio.preemptor.tid);
	EXPECT_EQ(PRIO_M, f->prio.preemptor.prio);
	EXPECT_STREQ("prio-m", f->prio.preemptor.comm);
	EXPECT_EQ(300 * MS, f->prio.duration_ns);
	EXPECT_EQ(1, f->prio.stretches);
	EXPECT_EQ(1, f->prio.bounded);
	EXPECT_EQ(1, f->prio.preempted);
	EXPECT_EQ(T0 + 10 * MS, f->prio.wait_since_ns);
	ASSERT_EQ(1, f->nr_locks);
	EXPECT_EQ(A, f->locks[0].addr);
	/* the preemptor is no thread of the process: H and L only */
	ASSERT_EQ(2, f->nr_threads);
	EXPECT_EQ(H, f->threads[0].tid);
	EXPECT_EQ(L, f->threads[1].tid);
	/* H's wait; no stacks record came: L's and M's not taken */
	ASSERT_EQ(3, f->nr_stacks);
	EXPECT_EQ(0x5000 + H, f->stacks[0].id);
	EXPECT_EQ(0, f->stacks[1].id);
	EXPECT_EQ(0, f->stacks[2].id);
	EXPECT_EQ(0, f->prio.preemptor_untraced);
	EXPECT_EQ(1, cw_findings__matching(self->fs, 1ULL << CW_FINDING_PRIORITY_INVERSION));
}

/*
 * L's and M's stacks come after their stretch's record: attached to its inversion (M's
 * as M's process's stack), not to another wait's; a record before any stretch, or for
 * one under the threshold, is no inversion's.
 */
TEST_F(pi, stacks)
{
	const struct cw_finding *f;

	stacks(self->eng, T0 + 5 * MS, T0, 0x6001, 0x7001, 0);
	stretch(self->eng, T0 + 310 * MS, T0 + 10 * MS, 300 * MS, PID, M, PRIO_M, "prio-m");
	stacks(self->eng, T0 + 310 * MS, T0 + 10 * MS, 0x6000, 0x7000, 0);
	/* another wait (H waiting since another time), and a stretch too short to count */
	stacks(self->eng, T0 + 310 * MS, T0 + 11 * MS, 0x6002, 0x7002, 0);
	stretch(self->eng, T0 + 400 * MS, T0 + 390 * MS, MS / 2, PID, M, PRIO_M, "prio-m");
	stacks(self->eng, T0 + 400 * MS, T0 + 390 * MS, 0x6003, 0x7003, 0);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	ASSERT_EQ(3, f->nr_stacks);
	EXPECT_EQ(PID, f->stacks[1].pid);
	EXPECT_EQ(CW_STACK_USER, f->stacks[1].space);
	EXPECT_EQ(0x6000, f->stacks[1].id);
	EXPECT_EQ(PID, f->stacks[2].pid);
	EXPECT_EQ(0x7000, f->stacks[2].id);

	/* M of another process: its stack is its process's */
	cw_engine__free(self->eng);
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	stretch(self->eng, T0 + 310 * MS, T0 + 10 * MS, 300 * MS, OTHER_PID, M, PRIO_M, "prio-m");
	stacks(self->eng, T0 + 310 * MS, T0 + 10 * MS, 0x6000, 0x7000, 0);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(PID, f->stacks[1].pid);
	EXPECT_EQ(OTHER_PID, f->stacks[2].pid);
	EXPECT_EQ(0x7000, f->stacks[2].id);
	EXPECT_EQ(0, f->prio.preemptor_untraced);
}

/*
 * Several stretches: M's stack is the longest stretch's (whose M is named), L's too when
 * it has one, else another stretch's.
 */
TEST_F(pi, stacks_of_longest)
{
	const struct cw_finding *f;

	stretch(self->eng, T0 + 20 * MS, T0, 5 * MS, PID, M, PRIO_M, "short");
	stacks(self->eng, T0 + 20 * MS, T0, 0x6001, 0x7001, 0);
	stretch(self->eng, T0 + 50 * MS, T0, 20 * MS, PID, M + 1, PRIO_M, "long");
	stacks(self->eng, T0 + 50 * MS, T0, 0, 0x7002, 0);
	stretch(self->eng, T0 + 70 * MS, T0, 10 * MS, PID, M, PRIO_M, "middle");
	stacks(self->eng, T0 + 70 * MS, T0, 0x6003, 0x7003, 0);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(M + 1, f->prio.preemptor.tid);
	EXPECT_EQ(0x7002, f->stacks[2].id);
	EXPECT_EQ(0x6001, f->stacks[1].id);
	/* a longer stretch with both: its stacks */
	stretch(self->eng, T0 + 200 * MS, T0, 100 * MS, PID, M, PRIO_M, "longest");
	stacks(self->eng, T0 + 200 * MS, T0, 0x6004, 0x7004, 0);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(M, f->prio.preemptor.tid);
	EXPECT_EQ(0x6004, f->stacks[1].id);
	EXPECT_EQ(0x7004, f->stacks[2].id);
	/* the longest with no M stack and M of a process not traced: none, and why */
	stretch(self->eng, T0 + 500 * MS, T0, 200 * MS, OTHER_PID, M, PRIO_M, "other");
	stacks(self->eng, T0 + 500 * MS, T0, 0x6005, 0, CW_PI_STACKS_F_UNTRACED);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(OTHER_PID, f->prio.preemptor.pid);
	EXPECT_EQ(0x6005, f->stacks[1].id);
	EXPECT_EQ(0, f->stacks[2].id);
	EXPECT_EQ(1, f->prio.preemptor_untraced);
}

/* A preemptor of the process is one of the finding's threads. */
TEST_F(pi, preemptor_same_process)
{
	const struct cw_finding *f;

	stretch(self->eng, T0 + 310 * MS, T0 + 10 * MS, 300 * MS, PID, M, PRIO_M, "prio-m");
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	ASSERT_EQ(3, f->nr_threads);
	EXPECT_EQ(M, f->threads[2].tid);
	/* no blocked record came: no stack */
	EXPECT_EQ(0, f->stacks[0].id);
}

/* Two stretches of one wait are one inversion; another wait is another. */
TEST_F(pi, stretches_merge)
{
	const struct cw_finding *f;

	stretch(self->eng, T0 + 20 * MS, T0, 5 * MS, OTHER_PID, M, PRIO_M, "short");
	stretch(self->eng, T0 + 50 * MS, T0, 20 * MS, OTHER_PID, M + 1, PRIO_M, "long");
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(25 * MS, f->prio.duration_ns);
	EXPECT_EQ(20 * MS, f->prio.longest_ns);
	EXPECT_EQ(2, f->prio.stretches);
	EXPECT_EQ(M + 1, f->prio.preemptor.tid);
	EXPECT_STREQ("long", f->prio.preemptor.comm);
	EXPECT_EQ(T0 + 50 * MS, f->prio.end_ns);
	stretch(self->eng, T0 + 90 * MS, T0 + 60 * MS, 20 * MS, OTHER_PID, M, PRIO_M, "again");
	EXPECT_EQ(2, inversions(_metadata, self, &f));
}

/* A stretch going on: counted, unbounded; its final record replaces it. */
TEST_F(pi, ongoing)
{
	const struct cw_finding *f;

	stretch(self->eng, T0 + 20 * MS, T0, 10 * MS, OTHER_PID, M, PRIO_M, "prio-m");
	/* from T0 + 50 ms */
	ongoing_word(self->eng, T0 + 100 * MS, T0, 50 * MS, OTHER_PID, M + 1);
	ongoing_word(self->eng, T0 + 200 * MS, T0, 150 * MS, OTHER_PID, M + 1);
	/* L's stack at its preemption, with each word (M's comes only at the end) */
	stacks(self->eng, T0 + 200 * MS, T0, 0x6000, 0, 0);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(0, f->prio.bounded);
	EXPECT_EQ(160 * MS, f->prio.duration_ns);
	EXPECT_EQ(2, f->prio.stretches);
	EXPECT_EQ(M + 1, f->prio.preemptor.tid);
	EXPECT_EQ(0x6000, f->stacks[1].id);
	EXPECT_EQ(0, f->stacks[2].id);
	/* it ended at T0 + 250 ms: the final record, same start, with M's stack */
	stretch(self->eng, T0 + 250 * MS, T0, 200 * MS, OTHER_PID, M + 1, PRIO_M, "prio-m");
	stacks(self->eng, T0 + 250 * MS, T0, 0x6000, 0x7000, 0);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(1, f->prio.bounded);
	EXPECT_EQ(210 * MS, f->prio.duration_ns);
	EXPECT_EQ(2, f->prio.stretches);
	EXPECT_EQ(200 * MS, f->prio.longest_ns);
	EXPECT_EQ(0x6000, f->stacks[1].id);
	EXPECT_EQ(0x7000, f->stacks[2].id);
}

/*
 * A word of a stretch read before its end but delivered after its final record (records
 * out of time order, as in a guest under emulation): stale, the inversion stays bounded
 * with the final record's figures.
 */
TEST_F(pi, ongoing_word_after_its_end)
{
	const struct cw_finding *f;

	/* ended at T0 + 250 ms, from T0 + 50 ms; then a word with the same start */
	stretch(self->eng, T0 + 250 * MS, T0, 200 * MS, OTHER_PID, M, PRIO_M, "prio-m");
	ongoing_word(self->eng, T0 + 260 * MS, T0, 210 * MS, 0, 0);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(1, f->prio.bounded);
	EXPECT_EQ(200 * MS, f->prio.duration_ns);
	EXPECT_EQ(1, f->prio.stretches);
	EXPECT_EQ(M, f->prio.preemptor.tid);
	/* a later stretch's word, from another start, is not stale */
	ongoing_word(self->eng, T0 + 400 * MS, T0, 100 * MS, 0, 0);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(0, f->prio.bounded);
}

/* Below the threshold (default 1 ms) nothing; a lower threshold counts it. */
TEST_F(pi, threshold)
{
	const struct cw_finding *f;

	stretch(self->eng, T0 + 20 * MS, T0, MS / 2, OTHER_PID, M, PRIO_M, "prio-m");
	EXPECT_EQ(0, inversions(_metadata, self, &f));
	cw_engine__free(self->eng);
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	cw_engine__set_pi_threshold(self->eng, MS / 4);
	stretch(self->eng, T0 + 20 * MS, T0, MS / 2, OTHER_PID, M, PRIO_M, "prio-m");
	EXPECT_EQ(1, inversions(_metadata, self, &f));
}

/* M as important as H, or not above L: no inversion. */
TEST_F(pi, preemptor_priority)
{
	const struct cw_finding *f;

	stretch(self->eng, T0 + 20 * MS, T0, 10 * MS, OTHER_PID, M, PRIO_H, "as-high");
	stretch(self->eng, T0 + 40 * MS, T0 + 1, 10 * MS, OTHER_PID, M, PRIO_H - 10, "higher");
	stretch(self->eng, T0 + 60 * MS, T0 + 2, 10 * MS, OTHER_PID, M, PRIO_L, "as-low");
	stretch(self->eng, T0 + 80 * MS, T0 + 3, 10 * MS, OTHER_PID, M, PRIO_OTHER, "cfs");
	EXPECT_EQ(0, inversions(_metadata, self, &f));
}

/* A real-time thread blocked on a plain mutex of a SCHED_OTHER holder: latent, a warning. */
TEST_F(pi, latent)
{
	const struct cw_finding *f;

	thread_sched(self->eng, T0, H, 1, PRIO_H);
	thread_sched(self->eng, T0, L, 0, PRIO_OTHER);
	lock_attr(self->eng, T0, 0);
	blocked(self->eng, T0 + 10 * MS, H, L);
	ASSERT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	EXPECT_EQ(CW_PI_RULE_LATENT, f->prio.rule);
	EXPECT_EQ(H, f->prio.high.tid);
	EXPECT_EQ(L, f->prio.low.tid);
	EXPECT_EQ(0, f->prio.preemptor.tid);
	EXPECT_EQ(0, f->prio.duration_ns);
	EXPECT_EQ(0x5000 + H, f->stacks[0].id);
	/* the same wait seen again is the same finding */
	blocked(self->eng, T0 + 20 * MS, H, L);
	EXPECT_EQ(1, inversions(_metadata, self, &f));
}

/* Not latent: a PI lock, a boost by the waiter, a real-time holder, a waiter not RT. */
TEST_F(pi, latent_not)
{
	const struct cw_finding *f;

	thread_sched(self->eng, T0, H, 1, PRIO_H);
	thread_sched(self->eng, T0, L, 0, PRIO_OTHER);
	lock_attr(self->eng, T0, CW_ATTR_PI);
	blocked(self->eng, T0 + 10 * MS, H, L);
	EXPECT_EQ(0, inversions(_metadata, self, &f));

	cw_engine__free(self->eng);
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	thread_sched(self->eng, T0, H, 1, PRIO_H);
	thread_sched(self->eng, T0, L, 0, PRIO_OTHER);
	boost(self->eng, T0 + 10 * MS, L, PRIO_OTHER, PRIO_H, H);
	blocked(self->eng, T0 + 10 * MS, H, L);
	EXPECT_EQ(0, inversions(_metadata, self, &f));

	cw_engine__free(self->eng);
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	thread_sched(self->eng, T0, H, 1, PRIO_H);
	thread_sched(self->eng, T0, L, 1, PRIO_L);
	blocked(self->eng, T0 + 10 * MS, H, L);
	EXPECT_EQ(0, inversions(_metadata, self, &f));

	cw_engine__free(self->eng);
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	thread_sched(self->eng, T0, H, 0, PRIO_OTHER);
	thread_sched(self->eng, T0, L, 0, PRIO_OTHER);
	blocked(self->eng, T0 + 10 * MS, H, L);
	EXPECT_EQ(0, inversions(_metadata, self, &f));
}

/* A measured inversion is not reported again as latent. */
TEST_F(pi, measured_subsumes_latent)
{
	const struct cw_finding *f;

	thread_sched(self->eng, T0, H, 1, PRIO_H);
	thread_sched(self->eng, T0, L, 0, PRIO_OTHER + 5);
	blocked(self->eng, T0 + 10 * MS, H, L);
	/* the holder is nice 5: a nice 0 preemptor is above it */
	stretch_low_prio = PRIO_OTHER + 5;
	stretch(self->eng, T0 + 40 * MS, T0 + 10 * MS, 30 * MS, OTHER_PID, M, PRIO_OTHER, "busy");
	stretch_low_prio = PRIO_L;
	EXPECT_EQ(1, inversions(_metadata, self, &f));
	EXPECT_EQ(CW_PI_RULE_PREEMPTED, f->prio.rule);
}

/* Boosts: counted alike, unboosts not. */
TEST_F(pi, boosts)
{
	const struct cw_prio *pr;
	const struct cw_prio_boost *b;

	boost(self->eng, T0 + 1 * MS, L, PRIO_L, PRIO_H, H);
	boost(self->eng, T0 + 2 * MS, L, PRIO_H, PRIO_L, 0);
	boost(self->eng, T0 + 3 * MS, L, PRIO_L, PRIO_H, H);
	pr = cw_engine__prio(self->eng);
	ASSERT_EQ(1, cw_prio__nr_boosts(pr));
	b = cw_prio__boost(pr, 0);
	EXPECT_EQ(L, b->tid);
	EXPECT_EQ(H, b->donor_tid);
	EXPECT_EQ(PRIO_L, b->old_prio);
	EXPECT_EQ(PRIO_H, b->new_prio);
	EXPECT_EQ(2, b->count);
	EXPECT_EQ(T0 + 1 * MS, b->first_ts);
}

/* The text and the JSON report of a stream; malloc'ed. */
static char *render(struct cw_engine *eng, int json)
{
	return cw_render(eng, PID, json ? cw_report__json : cw_report__text);
}

TEST_F(pi, rendered)
{
	char *text, *json;

	blocked(self->eng, T0 + 10 * MS, H, L);
	stretch(self->eng, T0 + 310 * MS, T0 + 10 * MS, 300 * MS, OTHER_PID, M, PRIO_M, "prio-m");
	stacks(self->eng, T0 + 310 * MS, T0 + 10 * MS, 0x6000, 0, CW_PI_STACKS_F_UNTRACED);
	boost(self->eng, T0 + 400 * MS, L, PRIO_L, PRIO_H, H);
	text = render(self->eng, 0);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "ERROR: priority inversion: a real-time thread waited while "
				     "the holder of its lock was kept off its CPU\n"
				     "finding 1: priority_inversion (preempted), process 100\n"
				     "------------------------------------------------------\n"
				     "  prio-h/101 (SCHED_FIFO 30) waited on lock 0xa000 (mutex "
				     "0xa000)\n"
				     "  held by prio-l/102 (SCHED_FIFO 10), runnable but not running "
				     "for 300.0 ms,\n"
				     "  while prio-m/103 of process 200 (SCHED_FIFO 20) had its CPU\n"
				     "  prio-h's wait:\n"
				     "      (stack not received: see lost events)\n"
				     "  prio-l's stack while kept off its CPU:\n"
				     "      (stack not received: see lost events)\n"
				     "  prio-m's stack: not taken (process 200 is not traced)\n\n"))
		TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\nPriority inheritance boosts (a PI mutex lent a waiter's "
				     "priority to its holder):\n"
				     "  prio-l/102 raised from SCHED_FIFO 10 to SCHED_FIFO 30, lent by "
				     "prio-h/101\n")) TH_LOG("%s", text);
	free(text);

	json = render(self->eng, 1);
	ASSERT_NE(NULL, json);
	EXPECT_NE(NULL, strstr(json, "{\"kind\": \"priority_inversion\", \"rule\": \"preempted\", "
				     "\"severity\": \"error\", \"locks\": [{\"addr\": \"0xa000\", "
				     "\"pid\": 100, \"name\": \"lock 0xa000\", \"type\": \"mutex\", "
				     "\"pi\": null}], \"threads\": [{\"tid\": 101, \"comm\": "
				     "\"prio-h\"}, {\"tid\": 102, \"comm\": \"prio-l\"}], "
				     "\"high\": {\"tid\": 101, \"comm\": \"prio-h\", \"policy\": "
				     "\"SCHED_FIFO\", \"prio\": 69, \"rt_priority\": 30, \"stack\": []}, "
				     "\"low\": {\"tid\": 102, \"comm\": \"prio-l\", \"policy\": "
				     "\"SCHED_FIFO\", \"prio\": 89, \"rt_priority\": 10, "
				     "\"stack\": []}, "
				     "\"preemptor\": {\"pid\": 200, \"tid\": 103, \"comm\": \"prio-m\", "
				     "\"policy\": \"SCHED_FIFO\", \"prio\": 79, \"rt_priority\": 20, "
				     "\"same_process\": false, \"took_cpu\": true, "
				     "\"stack\": null}, "
				     "\"duration_ns\": 300000000, \"longest_ns\": 300000000, "
				     "\"stretches\": 1, \"bounded\": true, \"ended_at_ns\": 1310000000, "
				     "\"wait_since_ns\": 1010000000, \"summary\": "))
		TH_LOG("%s", json);
	EXPECT_NE(NULL, strstr(json, ",\n  \"pi_boosts\": [\n    {\"pid\": 100, \"tid\": 102, "
				     "\"comm\": \"prio-l\", \"donor_tid\": 101, \"donor_comm\": "
				     "\"prio-h\", \"policy\": \"SCHED_FIFO\", \"old_prio\": 89, "
				     "\"new_prio\": 69, \"count\": 1, \"first_ts_ns\": 1400000000}\n  ]"))
		TH_LOG("%s", json);
	free(json);
}

TEST_HARNESS_MAIN
