// SPDX-License-Identifier: GPL-2.0
/*
 * The contention model (engine/contention.h) and the contention_hotspot finding on
 * synthetic ABI v3 streams: statistics summed across ticks, percentiles of the log2
 * histograms, one object from the uprobes' and the futex view (never a double count),
 * the classifier asked once per key, waiting for work never a hotspot, ranking and its
 * ties, the threshold's edge, the per-thread time breakdown, holders and owners, kernel
 * locks, and running out of memory anywhere.
 */
#include <errno.h>

#include "kselftest_harness.h"
#include "engine/contention.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "cw_synth.h"
#include "alloc_fail.h"

#define PID 500
#define T1 501
#define T2 502
#define T3 503
#define M 0x7000	/* a mutex */
#define N 0x7100	/* another one */
#define C 0x7200	/* a condvar: its waiters sleep on C + 40 (__g_signals[0]) */
#define B 0x7300	/* a barrier */
#define W 0x7400	/* a bare futex word */
#define K1 0xffff888000001000ULL	/* a kernel lock: the task's mmap_lock */
#define K2 0xffff888000002000ULL

/* A classifier from a table: (word, stack) -> class; stack 0 matches any. */
struct rule {
	__u64 uaddr, stack_id;
	__u8 kind;
	__u64 object;
};

struct classifier {
	const struct rule *rules;
	size_t nr;
	int calls;
	__u32 last_pid;
	__u64 keys[16][2];	/* (uaddr, stack_id) of each call */
};

static int classify(void *ctx, __u32 pid, __u64 uaddr, __u64 stack_id, __u32 op,
		    struct cw_futex_class *out)
{
	struct classifier *cl = ctx;

	if (cl->calls < 16) {
		cl->keys[cl->calls][0] = uaddr;
		cl->keys[cl->calls][1] = stack_id;
	}
	cl->calls++;
	cl->last_pid = pid;
	for (size_t i = 0; i < cl->nr; i++) {
		const struct rule *r = &cl->rules[i];

		if (r->uaddr == uaddr && (!r->stack_id || r->stack_id == stack_id)) {
			out->kind = r->kind;
			out->object = r->object;
			return 0;
		}
	}
	return -ENOENT;
}

static const struct rule glibc_rules[] = {
	{ M, 0, CW_LOCK_MUTEX, M },
	{ N, 0, CW_LOCK_MUTEX, N },
	{ C + 40, 0, CW_LOCK_COND, C },
	{ B + 8, 0, CW_LOCK_BARRIER, B },
};

FIXTURE(ct)
{
	struct cw_engine *eng;
	struct cw_contention *c;
	struct cw_findings *fs;
	struct classifier cl;
	struct cw_contention_opts opts;
	__u64 ts;
};

FIXTURE_SETUP(ct)
{
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	self->cl = (struct classifier){ .rules = glibc_rules, .nr = 4 };
	self->opts = (struct cw_contention_opts){ .classify = classify, .ctx = &self->cl };
	self->ts = 1000;
}

FIXTURE_TEARDOWN(ct)
{
	cw_findings__free(self->fs);
	cw_contention__free(self->c);
	cw_engine__free(self->eng);
}

static void feed(struct __test_metadata *_metadata, struct cw_engine *eng, const struct cw_hdr *h)
{
	ASSERT_EQ(0, cw_engine__feed(eng, h));
}

/* One view's statistics for one key: n waits of wait_ns each. */
static void stats(struct __test_metadata *_metadata, FIXTURE_DATA(ct) *self, __u8 what,
		  __u32 tid, __u64 addr, __u64 stack_id, __u64 n, __u64 wait_ns)
{
	struct cw_ev_lock_stats s = synth_stats(what, self->ts++, PID, tid, addr, stack_id, n,
						wait_ns);

	feed(_metadata, self->eng, &s.hdr);
}

static void acquire(struct __test_metadata *_metadata, FIXTURE_DATA(ct) *self, __u64 addr,
		    __u64 stack_id, __u64 ip, __u64 n, __u64 wait_ns)
{
	struct cw_ev_lock_stats s = synth_stats(CW_SITE_ACQUIRE, self->ts++, PID, 0, addr,
						stack_id, n, wait_ns);

	s.ip = ip;
	feed(_metadata, self->eng, &s.hdr);
}

static void thread_stats(struct __test_metadata *_metadata, FIXTURE_DATA(ct) *self, __u32 tid,
			 __u64 oncpu, const __u64 offcpu[CW_OFFCPU_MAX])
{
	struct cw_ev_thread_stats t = synth_thread_stats(self->ts++, PID, tid, oncpu, offcpu);

	feed(_metadata, self->eng, &t.hdr);
}

static void name(struct __test_metadata *_metadata, FIXTURE_DATA(ct) *self, __u32 tid)
{
	struct cw_ev_comm c = synth_comm(self->ts++, PID, tid, "worker");

	feed(_metadata, self->eng, &c.hdr);
}

static void model(struct __test_metadata *_metadata, FIXTURE_DATA(ct) *self,
		  const struct cw_contention_opts *opts)
{
	cw_contention__free(self->c);
	self->c = NULL;
	ASSERT_EQ(0, cw_contention__new(self->eng, opts, &self->c));
	ASSERT_NE(NULL, self->c);
}

/* Deltas summed across ticks, maxima kept, histograms and outcomes summed, per key. */
TEST_F(ct, aggregation_across_ticks)
{
	struct cw_ev_lock_stats s = synth_stats(CW_SITE_FUTEX, 100, PID, T1, W, 0x51, 2, 1000);
	const struct cw_view_site *v;
	const struct cw_hot_object *o;
	const struct cw_thread *t;

	s.owner_tid = T2;
	s.op = 128;
	feed(_metadata, self->eng, &s.hdr);
	s = synth_stats(CW_SITE_FUTEX, 200, PID, T1, W, 0x51, 3, 4000);
	s.failures = 1;
	s.outcomes[CW_FUTEX_TIMEDOUT] = 1;
	s.op = 137;
	feed(_metadata, self->eng, &s.hdr);
	/* another thread on the same word and path is another key */
	s = synth_stats(CW_SITE_FUTEX, 300, PID, T2, W, 0x51, 1, 100);
	feed(_metadata, self->eng, &s.hdr);

	ASSERT_EQ(2, cw_engine__nr_view_sites(self->eng));
	v = cw_engine__find_view_site(self->eng, PID, T1, W, 0x51, CW_SITE_FUTEX);
	ASSERT_NE(NULL, v);
	EXPECT_EQ(v, cw_engine__view_site(self->eng, 0));
	EXPECT_EQ(5, v->acquisitions);
	EXPECT_EQ(5, v->contentions);
	EXPECT_EQ(1, v->failures);
	EXPECT_EQ(2 * 1000 + 3 * 4000, v->wait_ns_total);
	EXPECT_EQ(4000, v->wait_ns_max);
	EXPECT_EQ(2, v->hist[cw_hist_bucket(1000)]);
	EXPECT_EQ(3, v->hist[cw_hist_bucket(4000)]);
	EXPECT_EQ(5, v->outcomes[CW_FUTEX_WOKEN]);
	EXPECT_EQ(1, v->outcomes[CW_FUTEX_TIMEDOUT]);
	EXPECT_EQ(T2, v->owner_tid);	/* the latest that named one */
	EXPECT_EQ(137, v->op);		/* the latest */
	EXPECT_EQ(100, v->first_ts);
	EXPECT_EQ(200, v->last_ts);
	EXPECT_EQ(NULL, cw_engine__find_view_site(self->eng, PID, T1, W, 0x51, CW_SITE_WAKE));
	EXPECT_EQ(NULL, cw_engine__find_view_site(self->eng, PID, T1, W, 0x52, CW_SITE_FUTEX));

	/* the thread's futex figures come from its statistics */
	t = cw_engine__find_thread(self->eng, PID, T1);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(5, t->futex_waits);
	EXPECT_EQ(14000, t->futex_wait_ns);

	model(_metadata, self, NULL);
	ASSERT_EQ(1, cw_contention__nr_objects(self->c));
	o = cw_contention__object(self->c, 0);
	EXPECT_EQ(CW_LOCK_FUTEX, o->kind);
	EXPECT_EQ(CW_VIEW_FUTEX, o->views);
	EXPECT_EQ(W, o->addr);
	EXPECT_EQ(14100, o->wait_ns_total);
	EXPECT_EQ(4000, o->wait_ns_max);
	EXPECT_EQ(6, o->contentions);
	EXPECT_EQ(1, o->failures);
	EXPECT_EQ(6, o->outcomes[CW_FUTEX_WOKEN]);
	ASSERT_EQ(1, o->nr_waiters);	/* one call path, summed over the threads */
	EXPECT_EQ(0x51, o->waiters[0].stack_id);
	EXPECT_EQ(6, o->waiters[0].count);
	EXPECT_EQ(14100, o->waiters[0].wait_ns_total);
	ASSERT_EQ(2, o->nr_threads);
	EXPECT_EQ(T1, o->threads[0].tid);
	EXPECT_EQ(14000, o->threads[0].wait_ns_total);
	EXPECT_EQ(T2, o->threads[1].tid);
	/* {1 x 100, 2 x 1000, 3 x 4000}: p50 in [512, 1024); p99 in [2048, 4096), capped at max */
	EXPECT_EQ(1024, o->wait_p50_ns);
	EXPECT_EQ(4000, o->wait_p99_ns);
}

TEST(percentiles)
{
	__u64 hist[CW_HIST_BUCKETS] = {};

	EXPECT_EQ(0, cw_hist__percentile(hist, 50));
	hist[3] = 90;	/* [8, 16) */
	hist[10] = 9;	/* [1024, 2048) */
	hist[20] = 1;
	EXPECT_EQ(16, cw_hist__percentile(hist, 0));
	EXPECT_EQ(16, cw_hist__percentile(hist, 50));
	EXPECT_EQ(16, cw_hist__percentile(hist, 90));
	EXPECT_EQ(2048, cw_hist__percentile(hist, 91));
	EXPECT_EQ(2048, cw_hist__percentile(hist, 99));
	EXPECT_EQ(1ULL << 21, cw_hist__percentile(hist, 100));
	EXPECT_EQ(1ULL << 21, cw_hist__percentile(hist, 200));
	memset(hist, 0, sizeof(hist));
	hist[CW_HIST_BUCKETS - 1] = 1;
	EXPECT_EQ(1ULL << CW_HIST_BUCKETS, cw_hist__percentile(hist, 50));
	hist[0] = 1;	/* 0 and 1 ns */
	EXPECT_EQ(2, cw_hist__percentile(hist, 50));
}

/*
 * A glibc mutex seen by the uprobes and by its futex waits is one object, its wait the
 * larger of the two views' (never their sum), with that view's waiters; a condvar's
 * waits on __g_signals are the condvar's.
 */
TEST_F(ct, uprobe_and_futex_views_merge)
{
	const struct cw_hot_object *o;

	acquire(_metadata, self, M, 0x11, 0x401234, 4, 1000);		/* uprobes: 4000 */
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x21, 2, 2500);	/* futex: 5000 */
	stats(_metadata, self, CW_SITE_FUTEX, T2, M, 0x22, 1, 500);	/* + 500 */
	acquire(_metadata, self, N, 0x12, 0x405678, 10, 1000);		/* uprobes: 10000 */
	stats(_metadata, self, CW_SITE_FUTEX, T1, N, 0x23, 1, 3000);
	stats(_metadata, self, CW_SITE_FUTEX, T3, C + 40, 0x24, 1, 700);

	model(_metadata, self, &self->opts);
	ASSERT_EQ(3, cw_contention__nr_objects(self->c));

	o = cw_contention__find(self->c, PID, M);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(CW_LOCK_MUTEX, o->kind);
	EXPECT_EQ(CW_VIEW_ACQUIRE | CW_VIEW_FUTEX, o->views);
	EXPECT_EQ(5500, o->wait_ns_total);
	EXPECT_EQ(4000, o->acquire_wait_ns);
	EXPECT_EQ(5500, o->futex_wait_ns);
	EXPECT_EQ(4, o->acquisitions);	/* the uprobes count acquisitions */
	EXPECT_EQ(2500, o->wait_ns_max);
	EXPECT_EQ(0x401234, o->first_ip);
	ASSERT_EQ(2, o->nr_waiters);	/* the futex view's, the larger */
	EXPECT_EQ(0x21, o->waiters[0].stack_id);
	EXPECT_EQ(5000, o->waiters[0].wait_ns_total);
	EXPECT_EQ(2, o->waiters[0].count);
	EXPECT_EQ(0x22, o->waiters[1].stack_id);
	ASSERT_EQ(2, o->nr_threads);
	EXPECT_EQ(T1, o->threads[0].tid);
	EXPECT_EQ(T2, o->threads[1].tid);
	EXPECT_EQ(2 + 1, o->hist[cw_hist_bucket(2500)] + o->hist[cw_hist_bucket(500)]);

	o = cw_contention__find(self->c, PID, N);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(10000, o->wait_ns_total);
	EXPECT_EQ(CW_VIEW_ACQUIRE | CW_VIEW_FUTEX, o->views);
	ASSERT_EQ(1, o->nr_waiters);	/* the uprobes' view, the larger */
	EXPECT_EQ(0x12, o->waiters[0].stack_id);
	EXPECT_EQ(0x405678, o->waiters[0].ip);
	EXPECT_EQ(10, o->waiters[0].count);
	EXPECT_EQ(10, o->hist[cw_hist_bucket(1000)]);

	o = cw_contention__find(self->c, PID, C);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(CW_LOCK_COND, o->kind);
	EXPECT_EQ(700, o->wait_ns_total);
	EXPECT_EQ(NULL, cw_contention__find(self->c, PID, C + 40));
	EXPECT_EQ(NULL, cw_contention__find(self->c, PID + 1, M));

	/* ranked by wait: N, M, C */
	EXPECT_EQ(N, cw_contention__object(self->c, 0)->addr);
	EXPECT_EQ(M, cw_contention__object(self->c, 1)->addr);
	EXPECT_EQ(C, cw_contention__object(self->c, 2)->addr);

	/* no classifier: the words stay futexes; M's word is M itself, still one object */
	model(_metadata, self, NULL);
	ASSERT_EQ(3, cw_contention__nr_objects(self->c));
	o = cw_contention__find(self->c, PID, M);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(CW_LOCK_MUTEX, o->kind);
	EXPECT_EQ(5500, o->wait_ns_total);
	o = cw_contention__find(self->c, PID, C + 40);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(CW_LOCK_FUTEX, o->kind);
	EXPECT_EQ(NULL, cw_contention__find(self->c, PID, C));
}

/*
 * A mutex whose acquires were never contended as the library or the uprobes saw them,
 * while its futex waits were (a condvar wait taking the mutex back inside libc): the
 * futex view's total is the wait, and the waits it counted are the contentions, never
 * a wait with no contention.
 */
TEST_F(ct, futex_waits_count_as_contentions)
{
	struct cw_ev_lock_stats s = synth_stats(CW_SITE_ACQUIRE, self->ts++, PID, 0, M, 0x11,
						5, 0);
	const struct cw_hot_object *o;

	s.contentions = 0;
	feed(_metadata, self->eng, &s.hdr);
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x21, 2, 1500);

	model(_metadata, self, &self->opts);
	o = cw_contention__find(self->c, PID, M);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(CW_VIEW_ACQUIRE | CW_VIEW_FUTEX, o->views);
	EXPECT_EQ(5, o->acquisitions);
	EXPECT_EQ(2, o->contentions);
	EXPECT_EQ(3000, o->wait_ns_total);
}

/* Once per (pid, word, stack), however many threads and ticks share it; per model. */
TEST_F(ct, classify_once_per_key)
{
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x31, 1, 100);
	stats(_metadata, self, CW_SITE_FUTEX, T2, M, 0x31, 1, 100);
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x31, 1, 100);	/* next tick */
	stats(_metadata, self, CW_SITE_FUTEX, T3, M, 0x31, 1, 100);
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x32, 1, 100);
	stats(_metadata, self, CW_SITE_FUTEX, T1, W, 0x31, 1, 100);
	/* wakes and kernel locks are not futex waits: never classified */
	stats(_metadata, self, CW_SITE_WAKE, T2, M, 0x41, 1, 100);
	stats(_metadata, self, CW_SITE_KLOCK, 0, K1, 0x42, 1, 100);

	model(_metadata, self, &self->opts);
	EXPECT_EQ(3, self->cl.calls);
	EXPECT_EQ(PID, self->cl.last_pid);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < i; j++)
			EXPECT_FALSE(self->cl.keys[i][0] == self->cl.keys[j][0] &&
				     self->cl.keys[i][1] == self->cl.keys[j][1]);
	/* W has no rule: a futex at the word */
	ASSERT_NE(NULL, cw_contention__find(self->c, PID, W));
	EXPECT_EQ(CW_LOCK_FUTEX, cw_contention__find(self->c, PID, W)->kind);
	EXPECT_EQ(500, cw_contention__find(self->c, PID, M)->wait_ns_total);
	model(_metadata, self, &self->opts);
	EXPECT_EQ(6, self->cl.calls);
}

/*
 * Waiting for work is not contention: a condvar and a barrier with most of the time
 * are shown, never hotspots; a mutex with half of it is one, and the only finding.
 */
TEST_F(ct, waiting_for_work_is_never_a_hotspot)
{
	const __u64 off[CW_OFFCPU_MAX] = { [CW_OFFCPU_FUTEX] = 9000 };
	const struct cw_finding *f;
	const struct cw_hot_object *o;

	thread_stats(_metadata, self, T1, 1000, off);	/* 10000 ns traced */
	stats(_metadata, self, CW_SITE_FUTEX, T1, C + 40, 0x51, 1, 8000);
	stats(_metadata, self, CW_SITE_FUTEX, T1, B + 8, 0x52, 1, 6000);
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x53, 1, 5000);

	model(_metadata, self, &self->opts);
	EXPECT_EQ(10000, cw_contention__traced_ns(self->c));
	ASSERT_EQ(3, cw_contention__nr_objects(self->c));
	o = cw_contention__object(self->c, 0);
	EXPECT_EQ(C, o->addr);
	EXPECT_EQ(CW_LOCK_COND, o->kind);
	EXPECT_EQ(0.8, o->share);
	EXPECT_FALSE(o->hotspot);
	o = cw_contention__object(self->c, 1);
	EXPECT_EQ(CW_LOCK_BARRIER, o->kind);
	EXPECT_FALSE(o->hotspot);
	o = cw_contention__object(self->c, 2);
	EXPECT_EQ(M, o->addr);
	EXPECT_TRUE(o->hotspot);

	self->cl.calls = 0;
	ASSERT_EQ(0, cw_findings__new_opts(self->eng, &self->opts, &self->fs));
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	f = cw_findings__get(self->fs, 0);
	EXPECT_EQ(CW_FINDING_CONTENTION_HOTSPOT, f->kind);
	EXPECT_EQ(M, f->locks[0].addr);
	EXPECT_EQ(1, cw_findings__matching(self->fs, 1ULL << CW_FINDING_CONTENTION_HOTSPOT));

	/* from the model already built: the same list, no classifying again */
	cw_findings__free(self->fs);
	self->fs = NULL;
	ASSERT_EQ(3, self->cl.calls);
	ASSERT_EQ(0, cw_findings__new_model(self->eng, self->c, &self->fs));
	EXPECT_EQ(3, self->cl.calls);
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	EXPECT_EQ(M, cw_findings__get(self->fs, 0)->locks[0].addr);

	/*
	 * Without the classifier every word is an unknown futex, as likely an idle wait as
	 * a lock: none is called a hotspot, the mutex's word included.
	 */
	cw_findings__free(self->fs);
	self->fs = NULL;
	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	EXPECT_EQ(0, cw_findings__nr(self->fs));
	cw_contention__free(self->c);
	self->c = NULL;
	ASSERT_EQ(0, cw_contention__new(self->eng, NULL, &self->c));
	o = cw_contention__object(self->c, 0);
	EXPECT_EQ(C + 40, o->addr);
	EXPECT_EQ(CW_LOCK_FUTEX, o->kind);
	EXPECT_EQ(0.8, o->share);
	EXPECT_FALSE(o->hotspot);
}

/* An unknown futex word locked with FUTEX_LOCK_PI is a mutex at the word: a hotspot. */
TEST_F(ct, unknown_pi_futex_is_a_mutex)
{
	const __u64 off[CW_OFFCPU_MAX] = { [CW_OFFCPU_FUTEX] = 9000 };
	struct cw_ev_lock_stats pi = synth_stats(CW_SITE_FUTEX, 100, PID, T1, W, 0x61, 1, 5000);
	const struct cw_hot_object *o;

	thread_stats(_metadata, self, T1, 1000, off);	/* 10000 ns traced */
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x62, 1, 6000);
	pi.op = 6 | 128;	/* FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG */
	feed(_metadata, self->eng, &pi.hdr);

	ASSERT_EQ(0, cw_contention__new(self->eng, NULL, &self->c));
	ASSERT_EQ(2, cw_contention__nr_objects(self->c));
	o = cw_contention__object(self->c, 0);
	EXPECT_EQ(M, o->addr);
	EXPECT_EQ(CW_LOCK_FUTEX, o->kind);
	EXPECT_FALSE(o->hotspot);
	EXPECT_FALSE(o->flags & CW_HOT_F_PI);
	o = cw_contention__object(self->c, 1);
	EXPECT_EQ(W, o->addr);
	EXPECT_EQ(CW_LOCK_MUTEX, o->kind);
	EXPECT_TRUE(o->flags & CW_HOT_F_PI);
	EXPECT_TRUE(o->hotspot);
}

/* Larger wait first; equal waits in the order the locks first appeared. */
TEST_F(ct, ranking_and_ties)
{
	acquire(_metadata, self, 0xa0, 0x1, 0x401000, 1, 1000);
	stats(_metadata, self, CW_SITE_FUTEX, T1, W, 0x2, 1, 5000);
	acquire(_metadata, self, 0xc0, 0x3, 0x401100, 1, 1000);
	acquire(_metadata, self, 0xb0, 0x4, 0x401200, 2, 500);

	model(_metadata, self, NULL);
	ASSERT_EQ(4, cw_contention__nr_objects(self->c));
	EXPECT_EQ(W, cw_contention__object(self->c, 0)->addr);
	EXPECT_EQ(0xa0, cw_contention__object(self->c, 1)->addr);
	EXPECT_EQ(0xc0, cw_contention__object(self->c, 2)->addr);
	EXPECT_EQ(0xb0, cw_contention__object(self->c, 3)->addr);
	EXPECT_EQ(NULL, cw_contention__object(self->c, 4));
	EXPECT_EQ(0, cw_contention__nr_klocks(self->c));
}

/* Call paths and threads of equal waits: in the order they first appeared. */
TEST_F(ct, path_ties_by_first_appearance)
{
	const struct cw_hot_object *o;

	for (__u64 i = 0; i < 40; i++)
		stats(_metadata, self, CW_SITE_FUTEX, T1 + (i % 2 ? 100 + i : 0), W, 0x900 - i, 1,
		      i == 20 ? 2000 : 1000);
	model(_metadata, self, NULL);
	o = cw_contention__find(self->c, PID, W);
	ASSERT_NE(NULL, o);
	ASSERT_EQ(40, o->nr_waiters);
	EXPECT_EQ(0x900 - 20, o->waiters[0].stack_id);
	for (__u64 i = 1, k = 0; i < 40; i++, k++) {
		k += k == 20;
		EXPECT_EQ(0x900 - k, o->waiters[i].stack_id);
	}
	ASSERT_EQ(21, o->nr_threads);
	EXPECT_EQ(T1, o->threads[0].tid);	/* 20 waits */
	EXPECT_EQ(T1 + 101, o->threads[1].tid);
	EXPECT_EQ(T1 + 103, o->threads[2].tid);
	EXPECT_EQ(T1 + 139, o->threads[20].tid);
}

/* share >= threshold: exactly at it is a hotspot, one ns below is not. */
TEST_F(ct, threshold_edge)
{
	const __u64 off[CW_OFFCPU_MAX] = { [CW_OFFCPU_LOCK] = 300 };
	struct cw_contention_opts opts = { .hotspot_pct = 20 };
	const struct cw_finding *f;

	thread_stats(_metadata, self, T1, 700, off);	/* 1000 */
	thread_stats(_metadata, self, T2, 1000, (const __u64[CW_OFFCPU_MAX]){});	/* 2000 */
	acquire(_metadata, self, 0xa0, 0x1, 0x401000, 1, 200);	/* 10% */
	acquire(_metadata, self, 0xb0, 0x2, 0x401100, 1, 199);

	model(_metadata, self, NULL);
	EXPECT_EQ(2000, cw_contention__traced_ns(self->c));
	EXPECT_EQ(CW_HOTSPOT_DEFAULT_PCT, cw_contention__threshold_pct(self->c));
	EXPECT_TRUE(cw_contention__object(self->c, 0)->hotspot);
	EXPECT_FALSE(cw_contention__object(self->c, 1)->hotspot);
	EXPECT_EQ(0.1, cw_contention__object(self->c, 0)->share);

	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	f = cw_findings__get(self->fs, 0);
	EXPECT_EQ(CW_SEVERITY_WARNING, f->severity);
	EXPECT_EQ(200, f->hotspot.wait_ns_total);
	EXPECT_EQ(2000, f->hotspot.traced_ns);
	EXPECT_EQ(10, f->hotspot.threshold_pct);
	EXPECT_EQ(0.1, f->hotspot.share);

	model(_metadata, self, &opts);
	EXPECT_FALSE(cw_contention__object(self->c, 0)->hotspot);
	cw_findings__free(self->fs);
	self->fs = NULL;
	ASSERT_EQ(0, cw_findings__new_opts(self->eng, &opts, &self->fs));
	EXPECT_EQ(0, cw_findings__nr(self->fs));

	EXPECT_TRUE(cw_contention__is_hotspot(10, 100, 10));
	EXPECT_FALSE(cw_contention__is_hotspot(9, 100, 10));
	EXPECT_FALSE(cw_contention__is_hotspot(0, 100, 0));
	EXPECT_FALSE(cw_contention__is_hotspot(10, 0, 10));
	EXPECT_TRUE(cw_contention__is_hotspot(~0ULL, ~0ULL, 100));
}

/*
 * A thread's time from its newest cumulative statistics; its futex off-CPU time split
 * into lock waits and the rest by how its futex waits were classified.
 */
TEST_F(ct, thread_time_breakdown)
{
	__u64 off[CW_OFFCPU_MAX] = {
		[CW_OFFCPU_NONE] = 5,  [CW_OFFCPU_PREEMPTED] = 200, [CW_OFFCPU_LOCK] = 300,
		[CW_OFFCPU_FUTEX] = 700, [CW_OFFCPU_KLOCK] = 50,   [CW_OFFCPU_IO] = 40,
		[CW_OFFCPU_SLEEP] = 30,
	};
	struct cw_ev_thread_stats old;
	struct cw_ev_lock e = synth_lock(CW_EV_LOCK_ACQUIRED, 0, PID, T2, N, 123, 0);
	const struct cw_thread_time *tt;

	thread_stats(_metadata, self, T1, 500, (const __u64[CW_OFFCPU_MAX]){});
	thread_stats(_metadata, self, T1, 1000, off);	/* cumulative: replaces */
	old = synth_thread_stats(1, PID, T1, 1, off);	/* older: ignored */
	feed(_metadata, self->eng, &old.hdr);
	ASSERT_EQ(1000, cw_thread__stats(cw_engine__find_thread(self->eng, PID, T1))->oncpu_ns);
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x61, 1, 400);	/* a lock */
	stats(_metadata, self, CW_SITE_FUTEX, T1, C + 40, 0x62, 1, 250);	/* not one */
	e.hdr.ts_ns = self->ts++;
	feed(_metadata, self->eng, &e.hdr);	/* T2: no statistics, one probed acquire */

	model(_metadata, self, &self->opts);
	ASSERT_EQ(2, cw_contention__nr_threads(self->c));
	tt = cw_contention__thread(self->c, 0);
	EXPECT_EQ(T1, tt->tid);
	EXPECT_EQ(PID, tt->pid);
	EXPECT_TRUE(tt->measured);
	EXPECT_EQ(1000 + 5 + 200 + 300 + 700 + 50 + 40 + 30, tt->total_ns);
	EXPECT_EQ(1000, tt->oncpu_ns);
	EXPECT_EQ(200, tt->runnable_ns);
	/*
	 * 400 ns of lock-classified futex waits, 300 of them inside probed acquires (LOCK):
	 * 100 outside, against 250 of other waits: FUTEX's 700 splits 200 / 500.
	 */
	EXPECT_EQ(500, tt->futex_wait_ns);
	EXPECT_EQ(300 + 200, tt->lock_wait_ns);
	EXPECT_EQ(50, tt->klock_wait_ns);
	EXPECT_EQ(40, tt->io_ns);
	EXPECT_EQ(35, tt->sleep_ns);
	EXPECT_EQ(120, tt->prio);
	tt = cw_contention__thread(self->c, 1);
	EXPECT_EQ(T2, tt->tid);
	EXPECT_FALSE(tt->measured);
	EXPECT_TRUE(tt->waits_known);
	EXPECT_EQ(123, tt->lock_wait_ns);
	EXPECT_EQ(0, tt->total_ns);
	EXPECT_EQ(NULL, cw_contention__thread(self->c, 2));
	/* the measured threads' time only */
	EXPECT_EQ(2325, cw_contention__traced_ns(self->c));

	/* no classifier: every futex wait is futex wait */
	model(_metadata, self, NULL);
	tt = cw_contention__thread(self->c, 0);
	EXPECT_EQ(700, tt->futex_wait_ns);
	EXPECT_EQ(300, tt->lock_wait_ns);
}

/*
 * --no-uprobes: no probed acquire, every lock wait is a futex wait; the statistics'
 * durations (runnable time after the wakeup included) only give the proportion.
 */
TEST_F(ct, thread_time_without_uprobes)
{
	const __u64 off[CW_OFFCPU_MAX] = { [CW_OFFCPU_FUTEX] = 1000, [CW_OFFCPU_PREEMPTED] = 500 };
	const struct cw_thread_time *tt;

	thread_stats(_metadata, self, T1, 100, off);
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x61, 3, 400);	/* 1200 */
	stats(_metadata, self, CW_SITE_FUTEX, T1, B + 8, 0x62, 1, 400);	/* 400 */
	model(_metadata, self, &self->opts);
	tt = cw_contention__thread(self->c, 0);
	EXPECT_EQ(750, tt->lock_wait_ns);
	EXPECT_EQ(250, tt->futex_wait_ns);
	EXPECT_EQ(500, tt->runnable_ns);
	EXPECT_EQ(1600, tt->total_ns);
	/* its only futex waits on locks, shorter than its probed time: still lock waits */
	thread_stats(_metadata, self, T3, 100, (const __u64[CW_OFFCPU_MAX]){
		[CW_OFFCPU_LOCK] = 300, [CW_OFFCPU_FUTEX] = 100 });
	stats(_metadata, self, CW_SITE_FUTEX, T3, M, 0x63, 1, 100);
	/* a thread off CPU in futex waits with no statistics of them: futex wait */
	thread_stats(_metadata, self, T2, 100, off);
	model(_metadata, self, &self->opts);
	tt = cw_contention__thread(self->c, 1);
	EXPECT_EQ(T3, tt->tid);
	EXPECT_EQ(400, tt->lock_wait_ns);
	EXPECT_EQ(0, tt->futex_wait_ns);
	tt = cw_contention__thread(self->c, 2);
	EXPECT_EQ(T2, tt->tid);
	EXPECT_EQ(0, tt->lock_wait_ns);
	EXPECT_EQ(1000, tt->futex_wait_ns);
}

/* No thread statistics: the stream's length times the threads seen. */
TEST_F(ct, traced_time_without_thread_stats)
{
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x61, 1, 400);	/* ts 1000 */
	self->ts = 5000;
	stats(_metadata, self, CW_SITE_FUTEX, T2, M, 0x61, 1, 400);	/* ts 5000 */
	model(_metadata, self, &self->opts);
	EXPECT_EQ(2 * 4000, cw_contention__traced_ns(self->c));
	EXPECT_FALSE(cw_contention__thread(self->c, 0)->measured);
	EXPECT_EQ(400, cw_contention__thread(self->c, 0)->lock_wait_ns);
	EXPECT_EQ(0, cw_contention__thread(self->c, 0)->futex_wait_ns);
}

/* The word's owner only when it is a known thread of the process that did not exit. */
TEST_F(ct, owner_only_a_live_known_thread)
{
	struct cw_ev_lock_stats s;
	struct cw_ev_exit x;

	name(_metadata, self, T2);
	name(_metadata, self, T3);
	s = synth_stats(CW_SITE_FUTEX, self->ts++, PID, T1, M, 0x71, 1, 100);
	s.owner_tid = T2;
	feed(_metadata, self->eng, &s.hdr);
	s = synth_stats(CW_SITE_FUTEX, self->ts++, PID, T1, N, 0x71, 1, 100);
	s.owner_tid = T3;
	feed(_metadata, self->eng, &s.hdr);
	x = synth_exit(self->ts++, PID, T3);
	feed(_metadata, self->eng, &x.hdr);
	s = synth_stats(CW_SITE_FUTEX, self->ts++, PID, T1, W, 0x71, 1, 100);
	s.owner_tid = 9999;	/* never seen */
	feed(_metadata, self->eng, &s.hdr);
	/* a thread of another process with that tid is not this one's */
	s = synth_stats(CW_SITE_FUTEX, self->ts++, PID + 1, T1, M, 0x71, 1, 100);
	s.owner_tid = T2;
	feed(_metadata, self->eng, &s.hdr);

	model(_metadata, self, &self->opts);
	EXPECT_EQ(T2, cw_contention__find(self->c, PID, M)->owner_tid);
	EXPECT_EQ(0, cw_contention__find(self->c, PID, N)->owner_tid);
	EXPECT_EQ(0, cw_contention__find(self->c, PID, W)->owner_tid);
	EXPECT_EQ(0, cw_contention__find(self->c, PID + 1, M)->owner_tid);
}

/* Wakes blame holders per (thread, stack), on the object their word belongs to. */
TEST_F(ct, holders_from_wakes)
{
	const struct cw_hot_object *o;

	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0x81, 3, 2000);
	stats(_metadata, self, CW_SITE_FUTEX, T1, C + 40, 0x82, 1, 900);
	stats(_metadata, self, CW_SITE_WAKE, T3, M, 0x91, 1, 1000);
	stats(_metadata, self, CW_SITE_WAKE, T2, M, 0x92, 1, 5000);
	stats(_metadata, self, CW_SITE_WAKE, T3, M, 0x91, 2, 500);	/* next tick */
	stats(_metadata, self, CW_SITE_WAKE, T2, C + 40, 0x93, 1, 900);
	stats(_metadata, self, CW_SITE_WAKE, T2, 0xdead0, 0x94, 1, 900);	/* no waiter seen */

	model(_metadata, self, &self->opts);
	EXPECT_EQ(2, cw_contention__nr_objects(self->c));
	o = cw_contention__find(self->c, PID, M);
	ASSERT_NE(NULL, o);
	ASSERT_EQ(2, o->nr_holders);
	EXPECT_EQ(T2, o->holders[0].tid);
	EXPECT_EQ(0x92, o->holders[0].stack_id);
	EXPECT_EQ(5000, o->holders[0].wait_ns_total);
	EXPECT_EQ(T3, o->holders[1].tid);
	EXPECT_EQ(0x91, o->holders[1].stack_id);
	EXPECT_EQ(3, o->holders[1].count);
	EXPECT_EQ(2000, o->holders[1].wait_ns_total);
	EXPECT_EQ(1000, o->holders[1].wait_ns_max);
	EXPECT_EQ(6000, o->wait_ns_total);	/* wakes are no waits */
	o = cw_contention__find(self->c, PID, C);
	ASSERT_NE(NULL, o);
	ASSERT_EQ(1, o->nr_holders);
	EXPECT_EQ(0x93, o->holders[0].stack_id);
	EXPECT_EQ(NULL, cw_contention__find(self->c, PID, 0xdead0));
	/* the word of a record (a switch's wait_addr) finds its object */
	EXPECT_EQ(o, cw_contention__find_word(self->c, PID, C + 40));
	EXPECT_EQ(cw_contention__find(self->c, PID, M), cw_contention__find_word(self->c, PID, M));
	EXPECT_EQ(NULL, cw_contention__find_word(self->c, PID, 0xdead0));
}

/* The finding names the lock, its top waiting threads and stacks, then its holders'. */
TEST_F(ct, hotspot_finding)
{
	const __u64 off[CW_OFFCPU_MAX] = { [CW_OFFCPU_FUTEX] = 10000 };
	const struct cw_finding *f;

	thread_stats(_metadata, self, T1, 10000, off);
	acquire(_metadata, self, M, 0x11, 0x401234, 2, 1000);
	stats(_metadata, self, CW_SITE_FUTEX, T1, M, 0xa1, 1, 4000);
	stats(_metadata, self, CW_SITE_FUTEX, T2, M, 0xa2, 1, 6000);
	stats(_metadata, self, CW_SITE_WAKE, T3, M, 0xb1, 2, 5000);
	stats(_metadata, self, CW_SITE_FUTEX, T2, C + 40, 0xa3, 1, 9000);

	ASSERT_EQ(0, cw_findings__new_opts(self->eng, &self->opts, &self->fs));
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	EXPECT_EQ(1, cw_findings__nr_reported(self->fs));
	f = cw_findings__get(self->fs, 0);
	EXPECT_EQ(CW_FINDING_CONTENTION_HOTSPOT, f->kind);
	ASSERT_EQ(1, f->nr_locks);
	EXPECT_EQ(PID, f->locks[0].pid);
	EXPECT_EQ(M, f->locks[0].addr);
	EXPECT_EQ(CW_LOCK_MUTEX, f->locks[0].type);
	EXPECT_EQ(0x401234, f->locks[0].ip);
	ASSERT_EQ(2, f->nr_threads);
	EXPECT_EQ(T2, f->threads[0].tid);
	EXPECT_EQ(6000, f->hotspot.thread_wait_ns[0]);
	EXPECT_EQ(T1, f->threads[1].tid);
	ASSERT_EQ(3, f->nr_stacks);
	EXPECT_EQ(2, f->hotspot.nr_waiter_stacks);
	EXPECT_EQ(0xa2, f->stacks[0].id);
	EXPECT_EQ(CW_STACK_USER, f->stacks[0].space);
	EXPECT_EQ(0xa1, f->stacks[1].id);
	EXPECT_EQ(0xb1, f->stacks[2].id);
	EXPECT_EQ(10000, f->hotspot.wait_ns_total);
	EXPECT_EQ(20000, f->hotspot.traced_ns);
	EXPECT_EQ(0.5, f->hotspot.share);
	EXPECT_EQ(CW_VIEW_ACQUIRE | CW_VIEW_FUTEX, f->hotspot.views);
	EXPECT_EQ(6000, f->hotspot.wait_ns_max);
}

/* Kernel locks: their own ranked list, mmap_lock flagged, the same cw_lock rows. */
TEST_F(ct, kernel_locks)
{
	const __u64 off[CW_OFFCPU_MAX] = { [CW_OFFCPU_KLOCK] = 7000 };
	struct cw_ev_lock_stats s;
	const struct cw_hot_object *o;
	const struct cw_lock *l;

	thread_stats(_metadata, self, T1, 3000, off);
	s = synth_stats(CW_SITE_KLOCK, self->ts++, PID, 0, K1, 0xc1, 3, 2000);
	s.flags = CW_SITE_F_MMAP_LOCK;
	s.op = 0x8;	/* LCB_F_WRITE */
	s.failures = 1;	/* one was interrupted: not taken */
	feed(_metadata, self->eng, &s.hdr);
	stats(_metadata, self, CW_SITE_KLOCK, 0, K2, 0xc2, 1, 100);
	s = synth_stats(CW_SITE_KLOCK, self->ts++, PID, 0, K1, 0xc3, 1, 500);
	s.flags = CW_SITE_F_MMAP_LOCK;
	s.op = 0x8;
	feed(_metadata, self->eng, &s.hdr);

	l = cw_engine__find_lock(self->eng, PID, K1);
	ASSERT_NE(NULL, l);
	EXPECT_EQ(CW_LOCK_KERNEL, l->kind);
	EXPECT_EQ(4, l->contentions);
	EXPECT_EQ(3, l->acquisitions);	/* as raw records count: the lock taken */
	EXPECT_EQ(1, l->failures);
	EXPECT_EQ(6500, l->wait_ns_total);
	EXPECT_EQ(2, l->nr_sites);

	model(_metadata, self, NULL);
	EXPECT_EQ(0, cw_contention__nr_objects(self->c));
	ASSERT_EQ(2, cw_contention__nr_klocks(self->c));
	o = cw_contention__klock(self->c, 0);
	EXPECT_EQ(K1, o->addr);
	EXPECT_EQ(CW_LOCK_KERNEL, o->kind);
	EXPECT_EQ(CW_VIEW_KLOCK, o->views);
	EXPECT_TRUE(o->flags & CW_SITE_F_MMAP_LOCK);
	EXPECT_EQ(0x8, o->klock_flags);
	EXPECT_EQ(6500, o->wait_ns_total);
	EXPECT_EQ(2000, o->wait_ns_max);
	EXPECT_EQ(4, o->contentions);
	EXPECT_EQ(2000, o->wait_p50_ns);	/* [1024, 2048), capped at the max */
	ASSERT_EQ(2, o->nr_waiters);
	EXPECT_EQ(CW_STACK_KERNEL, o->waiters[0].space);
	EXPECT_EQ(0xc1, o->waiters[0].stack_id);
	EXPECT_EQ(3, o->waiters[0].count);
	EXPECT_TRUE(o->hotspot);	/* 6500 of 10000 */
	o = cw_contention__klock(self->c, 1);
	EXPECT_EQ(K2, o->addr);
	EXPECT_FALSE(o->flags & CW_SITE_F_MMAP_LOCK);
	EXPECT_FALSE(o->hotspot);
	EXPECT_EQ(7000, cw_contention__thread(self->c, 0)->klock_wait_ns);

	ASSERT_EQ(0, cw_findings__new(self->eng, &self->fs));
	ASSERT_EQ(1, cw_findings__nr(self->fs));
	EXPECT_EQ(K1, cw_findings__get(self->fs, 0)->locks[0].addr);
	EXPECT_EQ(CW_LOCK_KERNEL, cw_findings__get(self->fs, 0)->locks[0].type);
	EXPECT_EQ(CW_SITE_F_MMAP_LOCK, cw_findings__get(self->fs, 0)->hotspot.flags);
	EXPECT_EQ(CW_STACK_KERNEL, cw_findings__get(self->fs, 0)->stacks[0].space);
}

/*
 * Raw records (the kernel module, record --timeline) say a lock is the mmap_lock in
 * their flags: it is named so, and its type comes from the kernel's flags alone.
 */
TEST_F(ct, raw_kernel_lock_mmap_flag)
{
	struct cw_ev_klock k = {};
	const struct cw_lock *l;

	k.hdr = synth_hdr(CW_EV_KLOCK_BEGIN, sizeof(k), self->ts++, PID, T1);
	k.addr = K1;
	k.lock_flags = 4 | CW_KLOCK_F_MMAP_LOCK;	/* LCB_F_WRITE */
	feed(_metadata, self->eng, &k.hdr);
	k.hdr = synth_hdr(CW_EV_KLOCK_END, sizeof(k), self->ts++, PID, T1);
	k.wait_ns = 700;
	feed(_metadata, self->eng, &k.hdr);
	l = cw_engine__find_lock(self->eng, PID, K1);
	ASSERT_NE(NULL, l);
	EXPECT_EQ(CW_SITE_F_MMAP_LOCK, l->site_flags);
	EXPECT_EQ(4, l->klock_flags);
	EXPECT_EQ(700, l->wait_ns_total);
	EXPECT_EQ(1, l->contentions);
}

/*
 * An rwsem contended for reading and for writing is two kernel-lock rows, one per kind of
 * contention; raw records of a process that sends statistics (record --timeline) do not
 * count twice, whichever came first.
 */
TEST_F(ct, kernel_lock_per_kind_of_contention)
{
	struct cw_ev_klock k = {};
	struct cw_ev_lock_stats s;
	const struct cw_hot_object *o;
	const struct cw_lock *l;

	k.hdr = synth_hdr(CW_EV_KLOCK_END, sizeof(k), self->ts++, PID, T1);
	k.addr = K1;
	k.wait_ns = 999;
	feed(_metadata, self->eng, &k.hdr);	/* raw, before any statistics */
	ASSERT_EQ(999, cw_engine__find_lock(self->eng, PID, K1)->wait_ns_total);
	s = synth_stats(CW_SITE_KLOCK, self->ts++, PID, 0, K1, 0xd1, 2, 1000);
	s.op = 2;	/* LCB_F_READ */
	s.flags = CW_SITE_F_MMAP_LOCK;
	feed(_metadata, self->eng, &s.hdr);
	s = synth_stats(CW_SITE_KLOCK, self->ts++, PID, 0, K1, 0xd2, 1, 5000);
	s.op = 4;	/* LCB_F_WRITE */
	s.flags = CW_SITE_F_MMAP_LOCK;
	feed(_metadata, self->eng, &s.hdr);
	k.hdr.ts_ns = self->ts++;
	feed(_metadata, self->eng, &k.hdr);	/* raw, after */
	EXPECT_TRUE(cw_engine__has_klock_sites(self->eng, PID));

	l = cw_engine__find_lock(self->eng, PID, K1);
	ASSERT_NE(NULL, l);
	EXPECT_EQ(7000, l->wait_ns_total);
	EXPECT_EQ(3, l->contentions);

	model(_metadata, self, NULL);
	ASSERT_EQ(2, cw_contention__nr_klocks(self->c));
	o = cw_contention__klock(self->c, 0);
	EXPECT_EQ(K1, o->addr);
	EXPECT_EQ(4, o->klock_flags);
	EXPECT_EQ(5000, o->wait_ns_total);
	EXPECT_EQ(1, o->contentions);
	ASSERT_EQ(1, o->nr_waiters);
	EXPECT_EQ(0xd2, o->waiters[0].stack_id);
	EXPECT_EQ(CW_STACK_KERNEL, o->waiters[0].space);
	EXPECT_TRUE(o->flags & CW_SITE_F_MMAP_LOCK);
	o = cw_contention__klock(self->c, 1);
	EXPECT_EQ(K1, o->addr);
	EXPECT_EQ(2, o->klock_flags);
	EXPECT_EQ(2000, o->wait_ns_total);
	EXPECT_EQ(2, o->contentions);
	EXPECT_EQ(1000, o->wait_p50_ns);
	EXPECT_EQ(2, o->hist[cw_hist_bucket(1000)]);
	EXPECT_EQ(0xd1, o->waiters[0].stack_id);
	/* the address names the first row of it */
	EXPECT_EQ(cw_contention__klock(self->c, 1), cw_contention__find(self->c, PID, K1));
	EXPECT_EQ(0, cw_contention__nr_objects(self->c));
}

/* Raw futex records count only while the process sent no futex statistics. */
TEST_F(ct, raw_futex_records_never_counted_twice)
{
	struct cw_ev_futex f = synth_futex(CW_EV_FUTEX_END, 10, PID, T1, W, 500);
	struct cw_ev_lock_stats s;
	const struct cw_thread *t;

	feed(_metadata, self->eng, &f.hdr);
	f = synth_futex(CW_EV_FUTEX_END, 11, PID, T2, W, 300);
	feed(_metadata, self->eng, &f.hdr);
	/* wakes (FUTEX_WAKE_PRIVATE, futex_wake(2)'s made-up op word) are no waits */
	f = synth_futex(CW_EV_FUTEX_END, 11, PID, T1, W, 5);
	f.op = 129;
	feed(_metadata, self->eng, &f.hdr);
	f.op = 0xfffffffdU;
	feed(_metadata, self->eng, &f.hdr);
	f.op = CW_FUTEX_OP_WAITV;
	f.wait_ns = 50;
	feed(_metadata, self->eng, &f.hdr);
	f = synth_futex(CW_EV_FUTEX_END, 12, PID + 1, T1, W, 800);
	feed(_metadata, self->eng, &f.hdr);
	EXPECT_EQ(550, cw_engine__find_thread(self->eng, PID, T1)->futex_wait_ns);
	EXPECT_EQ(2, cw_engine__find_thread(self->eng, PID, T1)->futex_waits);
	EXPECT_FALSE(cw_engine__has_futex_sites(self->eng, PID));

	s = synth_stats(CW_SITE_FUTEX, 20, PID, T1, W, 0x1, 2, 1000);
	feed(_metadata, self->eng, &s.hdr);
	EXPECT_TRUE(cw_engine__has_futex_sites(self->eng, PID));
	f = synth_futex(CW_EV_FUTEX_END, 30, PID, T1, W, 700);
	feed(_metadata, self->eng, &f.hdr);

	t = cw_engine__find_thread(self->eng, PID, T1);
	EXPECT_EQ(2, t->futex_waits);
	EXPECT_EQ(2000, t->futex_wait_ns);
	t = cw_engine__find_thread(self->eng, PID, T2);
	EXPECT_EQ(0, t->futex_waits);	/* its process's statistics cover it */
	t = cw_engine__find_thread(self->eng, PID + 1, T1);
	EXPECT_EQ(800, t->futex_wait_ns);	/* a raw-only process */
	EXPECT_FALSE(cw_engine__has_futex_sites(self->eng, PID + 1));
}

/* Two keys whose hashes meet stay two entries. */
TEST_F(ct, view_sites_many_keys)
{
	for (__u64 i = 0; i < 3000; i++)
		stats(_metadata, self, i % 3 ? CW_SITE_FUTEX : CW_SITE_WAKE, T1 + i % 7, 0x1000 + i,
		      i / 5, 1, 10);
	for (__u64 i = 0; i < 3000; i++)
		stats(_metadata, self, i % 3 ? CW_SITE_FUTEX : CW_SITE_WAKE, T1 + i % 7, 0x1000 + i,
		      i / 5, 1, 10);
	ASSERT_EQ(3000, cw_engine__nr_view_sites(self->eng));
	for (__u64 i = 0; i < 3000; i += 17) {
		const struct cw_view_site *v = cw_engine__find_view_site(
			self->eng, PID, T1 + i % 7, 0x1000 + i, i / 5,
			i % 3 ? CW_SITE_FUTEX : CW_SITE_WAKE);

		ASSERT_NE(NULL, v);
		EXPECT_EQ(2, v->acquisitions);
	}
	/* keys built so that addr ^ rotated stack_id agree */
	stats(_metadata, self, CW_SITE_FUTEX, T1, 1ULL << 17, 0, 1, 10);
	stats(_metadata, self, CW_SITE_FUTEX, T1, 0, 1, 1, 20);
	ASSERT_EQ(3002, cw_engine__nr_view_sites(self->eng));
	EXPECT_EQ(10, cw_engine__find_view_site(self->eng, PID, T1, 1ULL << 17, 0,
						CW_SITE_FUTEX)->wait_ns_total);
	EXPECT_EQ(20, cw_engine__find_view_site(self->eng, PID, T1, 0, 1,
						CW_SITE_FUTEX)->wait_ns_total);
	/* one waiter per futex key, each its own word; wakes of words nobody waited on: none */
	model(_metadata, self, NULL);
	EXPECT_EQ(2000 + 2, cw_contention__nr_objects(self->c));
}

/* Many threads and call paths on one word: each summed once, whatever their number. */
TEST_F(ct, many_paths_one_word)
{
	const struct cw_hot_object *o;

	for (int round = 0; round < 2; round++)
		for (__u32 i = 0; i < 2000; i++) {
			stats(_metadata, self, CW_SITE_FUTEX, T1 + i % 500, W, 0x10000 + i % 800, 1,
			      10 + i % 800);
			stats(_metadata, self, CW_SITE_WAKE, T1 + i % 300, W, 0x20000 + i % 700, 1,
			      5);
		}
	model(_metadata, self, NULL);
	o = cw_contention__find(self->c, PID, W);
	ASSERT_NE(NULL, o);
	ASSERT_EQ(800, o->nr_waiters);
	EXPECT_EQ(0x10000 + 799, o->waiters[0].stack_id);
	EXPECT_EQ(0x10000, o->waiters[799].stack_id);
	ASSERT_EQ(500, o->nr_threads);
	/* (i % 300, i % 700) repeat only after lcm(300, 700) = 2100: 2000 keys, each twice */
	ASSERT_EQ(2000, o->nr_holders);
	EXPECT_EQ(2, o->holders[0].count);
	EXPECT_EQ(10, o->holders[0].wait_ns_total);
	EXPECT_EQ(T1, o->holders[0].tid);
	EXPECT_EQ(T1 + 1999 % 300, o->holders[1999].tid);
	EXPECT_EQ(0x20000 + 1999 % 700, o->holders[1999].stack_id);
}

/* Every view at once, the stream the allocation tests replay. */
static void feed_all(struct __test_metadata *_metadata, struct cw_engine *eng)
{
	const __u64 off[CW_OFFCPU_MAX] = { [CW_OFFCPU_FUTEX] = 10000 };
	struct cw_ev_thread_stats t = synth_thread_stats(1, PID, T1, 10000, off);
	struct cw_ev_lock_stats s[] = {
		synth_stats(CW_SITE_ACQUIRE, 2, PID, 0, M, 0x11, 2, 1000),
		synth_stats(CW_SITE_FUTEX, 3, PID, T1, M, 0xa1, 1, 4000),
		synth_stats(CW_SITE_FUTEX, 4, PID, T2, M, 0xa2, 1, 6000),
		synth_stats(CW_SITE_WAKE, 5, PID, T3, M, 0xb1, 2, 5000),
		synth_stats(CW_SITE_FUTEX, 6, PID, T2, C + 40, 0xa3, 1, 9000),
		synth_stats(CW_SITE_KLOCK, 7, PID, 0, K1, 0xc1, 3, 2000),
		synth_stats(CW_SITE_FUTEX, 8, PID, T3, W, 0xa4, 1, 3000),
	};
	struct cw_ev_comm c = synth_comm(9, PID, T3, "holder");

	s[6].op = 6;	/* W: FUTEX_LOCK_PI, a lock though no libc code names it */
	cw_engine__feed(eng, &t.hdr);
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		cw_engine__feed(eng, &s[i].hdr);
	cw_engine__feed(eng, &c.hdr);
	(void)_metadata;
}

/* Out of memory while feeding: counted as lost, never a crash; the model stays whole. */
TEST(feeding_out_of_memory)
{
	long n;

	for (n = 1; n < 1000; n++) {
		struct cw_engine *eng = cw_engine__new();
		struct cw_contention *c = NULL;

		ASSERT_NE(NULL, eng);
		fail_nth_allocation(n);
		feed_all(_metadata, eng);
		fail_nth_allocation(0);
		if (!alloc_failed) {
			EXPECT_EQ(0, cw_engine__counts(eng)->lost_total);
			cw_engine__free(eng);
			break;
		}
		EXPECT_LE(1, cw_engine__counts(eng)->lost[CW_LOST_MAP_FULL]) TH_LOG("allocation %ld", n);
		/* what did come in still makes a model */
		EXPECT_EQ(0, cw_contention__new(eng, NULL, &c));
		cw_contention__free(c);
		cw_engine__free(eng);
	}
	EXPECT_LT(5, n);
	EXPECT_GT(1000, n);
}

/* Out of memory while building the model or the findings: -ENOMEM, nothing leaked. */
TEST_F(ct, building_out_of_memory)
{
	long n;

	feed_all(_metadata, self->eng);
	for (n = 1; n < 1000; n++) {
		struct cw_contention *c = NULL;
		int err;

		fail_nth_allocation(n);
		err = cw_contention__new(self->eng, &self->opts, &c);
		fail_nth_allocation(0);
		if (!alloc_failed) {
			ASSERT_EQ(0, err);
			EXPECT_EQ(3, cw_contention__nr_objects(c));
			cw_contention__free(c);
			break;
		}
		EXPECT_EQ(-ENOMEM, err) TH_LOG("allocation %ld failed", n);
		EXPECT_EQ(NULL, c);
	}
	EXPECT_LT(10, n);
	EXPECT_GT(1000, n);
	for (n = 1; n < 1000; n++) {
		struct cw_findings *fs = NULL;
		int err;

		fail_nth_allocation(n);
		err = cw_findings__new_opts(self->eng, &self->opts, &fs);
		fail_nth_allocation(0);
		if (!alloc_failed) {
			ASSERT_EQ(0, err);
			EXPECT_EQ(3, cw_findings__nr(fs));	/* M, W, then K1 */
			cw_findings__free(fs);
			break;
		}
		EXPECT_EQ(-ENOMEM, err) TH_LOG("allocation %ld failed", n);
		EXPECT_EQ(NULL, fs);
	}
	EXPECT_GT(1000, n);
}

TEST_HARNESS_MAIN
