// SPDX-License-Identifier: GPL-2.0
/* The engine on synthetic streams: exact counts per lock, per thread; losses; clock. */
#include <errno.h>

#include "kselftest_harness.h"
#include "engine/engine.h"
#include "cw_synth.h"

FIXTURE(engine)
{
	struct cw_engine *eng;
};

FIXTURE_SETUP(engine)
{
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
}

FIXTURE_TEARDOWN(engine)
{
	cw_engine__free(self->eng);
}

static void feed_lock(struct cw_engine *eng, __u16 type, __u64 ts, __u32 pid, __u32 tid,
		      __u64 addr, __u64 wait, __s32 result)
{
	struct cw_ev_lock e = synth_lock(type, ts, pid, tid, addr, wait, result);

	cw_engine__feed(eng, &e.hdr);
}

/* Two threads on one mutex, one on another; a failed trylock; exact per-thread counts. */
TEST_F(engine, counts_per_lock_and_thread)
{
	const struct cw_lock *a, *b;
	const struct cw_lock_user *u;
	const struct cw_thread *t;
	__u64 ts = 1000;

	for (int i = 0; i < 3; i++) {
		feed_lock(self->eng, CW_EV_LOCK_BEGIN, ts++, 100, 101, 0xa0, 0, 0);
		feed_lock(self->eng, CW_EV_LOCK_ACQUIRED, ts++, 100, 101, 0xa0, 10 + i, 0);
		feed_lock(self->eng, CW_EV_LOCK_RELEASED, ts++, 100, 101, 0xa0, 0, 0);
	}
	feed_lock(self->eng, CW_EV_LOCK_BEGIN, ts++, 100, 102, 0xa0, 0, 0);
	feed_lock(self->eng, CW_EV_LOCK_ACQUIRED, ts++, 100, 102, 0xa0, 500, 0);
	feed_lock(self->eng, CW_EV_LOCK_RELEASED, ts++, 100, 102, 0xa0, 0, 0);
	feed_lock(self->eng, CW_EV_LOCK_ACQUIRED, ts++, 100, 102, 0xb0, 0, EBUSY);

	ASSERT_EQ(2, cw_engine__nr_locks(self->eng));
	a = cw_engine__find_lock(self->eng, 100, 0xa0);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(4, a->begins);
	ASSERT_EQ(4, a->acquisitions);
	ASSERT_EQ(4, a->releases);
	ASSERT_EQ(0, a->failures);
	ASSERT_EQ(10 + 11 + 12 + 500, a->wait_ns_total);
	ASSERT_EQ(500, a->wait_ns_max);
	ASSERT_EQ(2, a->nr_users);
	u = cw_lock__user(a, 101);
	ASSERT_NE(NULL, u);
	ASSERT_EQ(3, u->acquisitions);
	ASSERT_EQ(3, u->releases);
	u = cw_lock__user(a, 102);
	ASSERT_NE(NULL, u);
	ASSERT_EQ(1, u->acquisitions);

	b = cw_engine__find_lock(self->eng, 100, 0xb0);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, b->acquisitions);
	ASSERT_EQ(1, b->failures);

	/* same address in another process is another lock */
	ASSERT_EQ(NULL, cw_engine__find_lock(self->eng, 200, 0xa0));

	t = cw_engine__find_thread(self->eng, 100, 102);
	ASSERT_NE(NULL, t);
	ASSERT_EQ(1, t->lock_acquisitions);
	ASSERT_EQ(500, t->lock_wait_ns);
	ASSERT_EQ(2, cw_engine__nr_threads(self->eng));
}

/* A robust mutex whose owner died is acquired with EOWNERDEAD; ENOTRECOVERABLE is not. */
TEST_F(engine, robust_mutex_results)
{
	const struct cw_lock *l;

	feed_lock(self->eng, CW_EV_LOCK_ACQUIRED, 10, 1, 2, 0x40, 5, EOWNERDEAD);
	feed_lock(self->eng, CW_EV_LOCK_ACQUIRED, 20, 1, 2, 0x40, 5, ENOTRECOVERABLE);
	l = cw_engine__find_lock(self->eng, 1, 0x40);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(1, l->acquisitions);
	ASSERT_EQ(1, l->failures);
}

/* Names at attach are synthetic: records, but not events the target produced. */
TEST_F(engine, synthetic_records_are_not_events)
{
	struct cw_ev_comm c = synth_comm(10, 7, 8, "main");

	c.hdr.flags = CW_F_SYNTHETIC;
	cw_engine__feed(self->eng, &c.hdr);
	feed_lock(self->eng, CW_EV_LOCK_BEGIN, 20, 7, 8, 0x10, 0, 0);
	ASSERT_EQ(2, cw_engine__counts(self->eng)->records);
	ASSERT_EQ(1, cw_engine__counts(self->eng)->synthetic);
	ASSERT_EQ(1, cw_engine__events(self->eng));
}

TEST_F(engine, thread_names_and_exit)
{
	struct cw_ev_comm c = synth_comm(10, 7, 8, "worker-1");
	struct cw_ev_exit x = {};
	const struct cw_thread *t;

	ASSERT_EQ(0, cw_engine__feed(self->eng, &c.hdr));
	x.hdr = synth_hdr(CW_EV_EXIT, sizeof(x), 20, 7, 8);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &x.hdr));
	t = cw_engine__find_thread(self->eng, 7, 8);
	ASSERT_NE(NULL, t);
	ASSERT_STREQ("worker-1", t->comm);
	ASSERT_EQ(1, t->exited);
}

/*
 * Two sources name a thread out of time order (the library's name from when the thread
 * took its slot, drained after the scheduler's record of a later rename): the newest by
 * time stays, whichever came last; a later rename still replaces it.
 */
TEST_F(engine, newest_thread_name_wins)
{
	struct cw_ev_comm renamed = synth_comm(30, 7, 8, "m1"), old = synth_comm(10, 7, 8, "wl"),
			  again = synth_comm(40, 7, 8, "m2");
	const struct cw_thread *t;

	ASSERT_EQ(0, cw_engine__feed(self->eng, &renamed.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &old.hdr));
	t = cw_engine__find_thread(self->eng, 7, 8);
	ASSERT_NE(NULL, t);
	ASSERT_STREQ("m1", t->comm);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &again.hdr));
	t = cw_engine__find_thread(self->eng, 7, 8);
	ASSERT_STREQ("m2", t->comm);
}

/* Time comes from records only: ticks move the clock when nothing else happens. */
TEST_F(engine, clock_from_events_and_ticks)
{
	struct cw_ev_tick t1 = synth_tick(5000, 0), t2 = synth_tick(9000, 1);
	const struct cw_engine_counts *c;

	feed_lock(self->eng, CW_EV_LOCK_BEGIN, 4000, 1, 1, 0x10, 0, 0);
	ASSERT_EQ(0, cw_engine__feed(self->eng, &t1.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &t2.hdr));
	ASSERT_EQ(4000, cw_engine__first_ts(self->eng));
	ASSERT_EQ(9000, cw_engine__now(self->eng));
	/* an older record does not move the clock back, and is counted */
	feed_lock(self->eng, CW_EV_LOCK_RELEASED, 8000, 1, 1, 0x10, 0, 0);
	ASSERT_EQ(9000, cw_engine__now(self->eng));
	c = cw_engine__counts(self->eng);
	ASSERT_EQ(2, c->ticks);
	ASSERT_EQ(1, c->out_of_order);
	ASSERT_EQ(4, c->records);
}

/*
 * The newest tick's flags say what its source does now (the governor's probes off:
 * CW_F_NO_UPROBES); one older than the newest, come late, does not change them.
 */
TEST_F(engine, flags_of_the_newest_tick)
{
	struct cw_ev_tick t1 = synth_tick(1000, 0), t2 = synth_tick(2000, 1);
	struct cw_ev_tick t3 = synth_tick(3000, 2), late = synth_tick(2500, 3);
	const struct cw_engine_counts *c;

	EXPECT_EQ(0, cw_engine__tick_flags(self->eng));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &t1.hdr));
	EXPECT_EQ(0, cw_engine__tick_flags(self->eng));
	t2.hdr.flags = CW_F_NO_UPROBES;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &t2.hdr));
	EXPECT_EQ(CW_F_NO_UPROBES, cw_engine__tick_flags(self->eng));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &t3.hdr));
	EXPECT_EQ(0, cw_engine__tick_flags(self->eng));
	late.hdr.flags = CW_F_NO_UPROBES;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &late.hdr));
	EXPECT_EQ(0, cw_engine__tick_flags(self->eng));
	c = cw_engine__counts(self->eng);
	EXPECT_EQ(4, c->ticks);
	EXPECT_EQ(2, c->ticks_no_uprobes);
}

TEST_F(engine, losses_totalled_by_kind)
{
	struct cw_ev_lost a = synth_lost(10, CW_LOST_RINGBUF, 5);
	struct cw_ev_lost b = synth_lost(20, CW_LOST_MAP_FULL, 2);
	struct cw_ev_lost c = synth_lost(30, CW_LOST_RINGBUF, 1);
	struct cw_ev_lost d = synth_lost(40, CW_LOST_MAX + 3, 4); /* from a newer source */
	const struct cw_engine_counts *n;

	cw_engine__feed(self->eng, &a.hdr);
	cw_engine__feed(self->eng, &b.hdr);
	cw_engine__feed(self->eng, &c.hdr);
	cw_engine__feed(self->eng, &d.hdr);
	n = cw_engine__counts(self->eng);
	ASSERT_EQ(6, n->lost[CW_LOST_RINGBUF]);
	ASSERT_EQ(2, n->lost[CW_LOST_MAP_FULL]);
	ASSERT_EQ(4, n->lost_unknown_kind);
	ASSERT_EQ(12, n->lost_total);
	ASSERT_EQ(0, cw_engine__events(self->eng)); /* losses are not events */
}

TEST_F(engine, malformed_and_unknown_records)
{
	struct cw_ev_lock e = synth_lock(CW_EV_LOCK_BEGIN, 1, 1, 1, 0x10, 0, 0);
	struct cw_ev_tick t = synth_tick(2, 0);
	const struct cw_engine_counts *c;

	e.hdr.size = 48; /* too short for a lock record: counted, and the stream goes on */
	ASSERT_EQ(0, cw_engine__feed(self->eng, &e.hdr));
	t.hdr.type = 4000;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &t.hdr));
	c = cw_engine__counts(self->eng);
	ASSERT_EQ(1, c->malformed);
	ASSERT_EQ(1, c->unknown);
	ASSERT_EQ(0, c->records);
	ASSERT_EQ(0, cw_engine__nr_locks(self->eng));
}

static struct cw_ev_lock_stats acquire_stats(__u64 ts, __u32 pid, __u64 addr, __u64 acq,
					   __u64 cont, __u64 wait, __u64 wait_max, __u64 hold,
					   __u64 hold_max)
{
	struct cw_ev_lock_stats s;

	memset(&s, 0, sizeof(s));
	s.hdr = synth_hdr(CW_EV_LOCK_STATS, sizeof(s), ts, pid, 0);
	s.hdr.flags = CW_F_AGGREGATED;
	s.addr = addr;
	s.what = CW_SITE_ACQUIRE;
	s.kind = CW_LOCK_MUTEX;
	s.interval_ns = 1000;
	s.acquisitions = acq;
	s.contentions = cont;
	s.wait_ns_total = wait;
	s.wait_ns_max = wait_max;
	s.hold_ns_total = hold;
	s.hold_ns_max = hold_max;
	return s;
}

/*
 * An aggregating source's interval counts add up with each other and with raw records
 * of the same lock; figures only they carry (contentions, hold times) become known.
 */
TEST_F(engine, aggregated_stats_accumulate)
{
	struct cw_ev_lock_stats a = acquire_stats(1000, 5, 0xc0, 10, 3, 900, 400, 5000, 800);
	struct cw_ev_lock_stats b = acquire_stats(2000, 5, 0xc0, 4, 1, 100, 600, 700, 300);
	const struct cw_lock *l;

	feed_lock(self->eng, CW_EV_LOCK_ACQUIRED, 500, 5, 6, 0xc0, 50, 0);
	l = cw_engine__find_lock(self->eng, 5, 0xc0);
	ASSERT_NE(NULL, l);
	/* raw records alone: the operations, no contention or hold figures */
	ASSERT_EQ(CW_LOCK_KNOWN_OPS, l->known);

	ASSERT_EQ(0, cw_engine__feed(self->eng, &a.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &b.hdr));
	ASSERT_EQ(CW_LOCK_KNOWN_OPS | CW_LOCK_KNOWN_CONTENTIONS | CW_LOCK_KNOWN_HOLD, l->known);
	ASSERT_EQ(1 + 10 + 4, l->acquisitions);
	ASSERT_EQ(3 + 1, l->contentions);
	ASSERT_EQ(50 + 900 + 100, l->wait_ns_total);
	ASSERT_EQ(600, l->wait_ns_max);
	ASSERT_EQ(5000 + 700, l->hold_ns_total);
	ASSERT_EQ(800, l->hold_ns_max);
	ASSERT_EQ(1, cw_engine__nr_locks(self->eng));
	ASSERT_EQ(2, cw_engine__counts(self->eng)->by_type[CW_EV_LOCK_STATS]);
}

/* Acquisitions are counted per call path too: by the stack id of each acquisition. */
TEST_F(engine, lock_sites_by_stack)
{
	struct cw_ev_lock e;
	const struct cw_lock_site *a, *b;
	const struct cw_lock *l;

	for (int i = 0; i < 3; i++) {
		e = synth_lock(CW_EV_LOCK_BEGIN, 10 + i, 1, 2, 0x80, 0, 0);
		e.stack_id = 0xaaa;
		cw_engine__feed(self->eng, &e.hdr);
		e = synth_lock(CW_EV_LOCK_ACQUIRED, 10 + i, 1, 2, 0x80, 100 * (i + 1), 0);
		e.stack_id = 0xaaa;
		cw_engine__feed(self->eng, &e.hdr);
	}
	e = synth_lock(CW_EV_LOCK_ACQUIRED, 20, 1, 3, 0x80, 7, 0);
	e.stack_id = 0xbbb;
	cw_engine__feed(self->eng, &e.hdr);

	l = cw_engine__find_lock(self->eng, 1, 0x80);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(2, l->nr_sites);
	a = cw_lock__site(l, 0xaaa);
	b = cw_lock__site(l, 0xbbb);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(3, a->begins);
	ASSERT_EQ(3, a->acquisitions);
	ASSERT_EQ(600, a->wait_ns_total);
	ASSERT_EQ(300, a->wait_ns_max);
	ASSERT_EQ(0, b->begins);
	ASSERT_EQ(1, b->acquisitions);
	ASSERT_EQ(NULL, cw_lock__site(l, 0xccc));
}

/* A stack's frames and its raw copy arrive separately, under one id; repeats change nothing. */
TEST_F(engine, stacks_frames_and_raw)
{
	struct {
		struct cw_ev_stack s;
		__u64 ips[2];
	} st;
	struct {
		struct cw_ev_ustack_raw r;
		__u8 data[16];
	} raw;
	const struct cw_stack *s;

	memset(&st, 0, sizeof(st));
	st.s.hdr = synth_hdr(CW_EV_STACK, sizeof(st), 100, 5, 6);
	st.s.stack_id = 0x77;
	st.s.space = CW_STACK_USER;
	st.s.nr = 2;
	st.ips[0] = 0x401000;
	st.ips[1] = 0x401234;
	memset(&raw, 0, sizeof(raw));
	raw.r.hdr = synth_hdr(CW_EV_USTACK_RAW, sizeof(raw), 101, 5, 6);
	raw.r.stack_id = 0x77;
	raw.r.ip = 0x401000;
	raw.r.sp = 0x7ffd0000;
	raw.r.len = 16;
	memset(raw.data, 0xab, sizeof(raw.data));

	cw_engine__feed(self->eng, &st.s.hdr);
	cw_engine__feed(self->eng, &raw.r.hdr);
	st.ips[1] = 0xdead; /* a repeat with other frames must not replace the first */
	cw_engine__feed(self->eng, &st.s.hdr);

	ASSERT_EQ(1, cw_engine__nr_stacks(self->eng));
	s = cw_engine__find_stack(self->eng, 5, CW_STACK_USER, 0x77);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(2, s->nr);
	ASSERT_EQ(0x401234, s->ips[1]);
	ASSERT_TRUE(s->has_raw);
	ASSERT_EQ(0x7ffd0000, s->sp);
	ASSERT_EQ(16, s->raw_len);
	ASSERT_EQ(0xab, s->raw[15]);
	ASSERT_EQ(6, s->tid);
	/* the same id in the kernel space, or another process, is another stack */
	ASSERT_EQ(NULL, cw_engine__find_stack(self->eng, 5, CW_STACK_KERNEL, 0x77));
	ASSERT_EQ(NULL, cw_engine__find_stack(self->eng, 9, CW_STACK_USER, 0x77));
}

TEST_F(engine, modules_by_start)
{
	struct {
		struct cw_ev_module m;
		char path[16];
	} r;
	const struct cw_module *m;

	memset(&r, 0, sizeof(r));
	r.m.hdr = synth_hdr(CW_EV_MODULE, sizeof(r), 1, 5, 0);
	r.m.start = 0x7f0000001000;
	r.m.end = 0x7f0000100000;
	r.m.inode = 42;
	r.m.build_id_len = 2;
	r.m.build_id[0] = 0xbe;
	r.m.build_id[1] = 0xef;
	strcpy(r.path, "/lib/libc.so.6");
	r.m.path_len = strlen(r.path) + 1;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &r.m.hdr));
	ASSERT_EQ(0, cw_engine__feed(self->eng, &r.m.hdr)); /* sent again */
	ASSERT_EQ(1, cw_engine__nr_modules(self->eng));
	m = cw_engine__module(self->eng, 0);
	ASSERT_STREQ("/lib/libc.so.6", m->path);
	ASSERT_EQ(0x7f0000100000, m->end);
	ASSERT_EQ(2, m->build_id_len);
	ASSERT_EQ(0xef, m->build_id[1]);
	/* the same range mapped anew (dlclose, dlopen): the newer file wins */
	strcpy(r.path, "/lib/libx.so");
	r.m.path_len = strlen(r.path) + 1;
	r.m.inode = 43;
	ASSERT_EQ(0, cw_engine__feed(self->eng, &r.m.hdr));
	ASSERT_EQ(1, cw_engine__nr_modules(self->eng));
	ASSERT_STREQ("/lib/libx.so", cw_engine__module(self->eng, 0)->path);
}

/* Time in futex waits per thread: blocking ops only, from their end records. */
TEST_F(engine, futex_wait_time)
{
	struct cw_ev_futex f;
	const struct cw_thread *t;

	memset(&f, 0, sizeof(f));
	f.hdr = synth_hdr(CW_EV_FUTEX_END, sizeof(f), 10, 1, 2);
	f.op = 0x80 | 9; /* FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG */
	f.wait_ns = 1000;
	cw_engine__feed(self->eng, &f.hdr);
	f.op = 0x80 | 1; /* FUTEX_WAKE: not a wait */
	f.wait_ns = 50;
	cw_engine__feed(self->eng, &f.hdr);
	f.op = CW_FUTEX_OP_WAITV;
	f.wait_ns = 500;
	cw_engine__feed(self->eng, &f.hdr);
	t = cw_engine__find_thread(self->eng, 1, 2);
	ASSERT_NE(NULL, t);
	ASSERT_EQ(2, t->futex_waits);
	ASSERT_EQ(1500, t->futex_wait_ns);
}

/* Many locks and threads: the index grows and every entry stays findable. */
TEST_F(engine, grows)
{
	for (__u32 i = 0; i < 5000; i++)
		feed_lock(self->eng, CW_EV_LOCK_ACQUIRED, i + 1, 1, 1000 + i % 97, 0x1000 + i * 64,
			  0, 0);
	ASSERT_EQ(5000, cw_engine__nr_locks(self->eng));
	ASSERT_EQ(97, cw_engine__nr_threads(self->eng));
	for (__u32 i = 0; i < 5000; i++) {
		const struct cw_lock *l = cw_engine__find_lock(self->eng, 1, 0x1000 + i * 64);

		ASSERT_NE(NULL, l);
		ASSERT_EQ(1, l->acquisitions);
		ASSERT_EQ(l, cw_engine__lock(self->eng, i)); /* first-seen order */
	}
}

TEST_HARNESS_MAIN
