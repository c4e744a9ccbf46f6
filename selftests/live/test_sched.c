// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduler as the BPF source sees it (bpf/cw_sched.bpf.h): threads of wl_sched with
 * known scheduling, each measuring itself, and the CW_EV_THREAD_STATS records of the
 * default mode must agree with what they measured: a futex wait is FUTEX time and its
 * waker is named with the tid and the function that woke it (CW_SITE_WAKE); a spinning
 * thread's on-CPU time covers its own CPU clock; nanosleep is SLEEP; two threads pinned
 * to one CPU wait runnable for each other; SCHED_FIFO and nice show in policy and
 * priority. record --timeline adds a record per switch and wakeup: the same wait, seen
 * as the waiter's switch-out and its wakeup by the waker.
 */
#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "report/symbols.h"
#include "source/session.h"

#define MAX_THREADS 32
#define MAX_WAKES 64
#define MS 1000000ULL
/* seconds a test may take: loading the programs alone takes a while under QEMU's TCG */
#define SCHED_TIMEOUT 300

/* A CW_SITE_WAKE key's figures, summed over its records. */
struct wake {
	__u32 tid;
	__u64 addr, stack_id;
	__u64 woken, contentions, wait_ns_total, wait_ns_max, hist_total;
	__u32 flags;
	__u8 kind;
};

/* What the session delivered, besides what the engine takes. */
struct seen {
	struct cw_engine *eng;
	__u32 pid;
	struct cw_ev_thread_stats th[MAX_THREADS];	/* the latest of each thread */
	int nr_th;
	int regressed;		/* a thread's record had less of a figure than its previous one */
	struct wake wakes[MAX_WAKES];
	int nr_wakes;
	struct cw_ev_switch *sw;
	size_t nr_sw, cap_sw;
	struct cw_ev_wakeup *wk;
	size_t nr_wk, cap_wk;
	__u64 by_type[CW_EV_TYPE_MAX];
};

static int less(const struct cw_ev_thread_stats *now, const struct cw_ev_thread_stats *before)
{
	if (now->oncpu_ns < before->oncpu_ns || now->nr_wakeups < before->nr_wakeups ||
	    now->nr_voluntary < before->nr_voluntary)
		return 1;
	for (int i = 0; i < CW_OFFCPU_MAX; i++)
		if (now->offcpu_ns[i] < before->offcpu_ns[i])
			return 1;
	return 0;
}

static void on_thread(struct seen *s, const struct cw_ev_thread_stats *e)
{
	int i;


	for (i = 0; i < s->nr_th && s->th[i].hdr.tid != e->hdr.tid; i++)
		;
	if (i == s->nr_th) {
		if (s->nr_th == MAX_THREADS)
			return;
		s->nr_th++;
	} else if (e->hdr.ts_ns < s->th[i].hdr.ts_ns) {
		return; /* an older reading */
	} else if (less(e, &s->th[i])) {
		s->regressed = 1;
	}
	s->th[i] = *e;
}

static void on_wake(struct seen *s, const struct cw_ev_lock_stats *e)
{
	struct wake *w = NULL;

	for (int i = 0; i < s->nr_wakes; i++)
		if (s->wakes[i].tid == e->hdr.tid && s->wakes[i].addr == e->addr &&
		    s->wakes[i].stack_id == e->stack_id)
			w = &s->wakes[i];
	if (!w) {
		if (s->nr_wakes == MAX_WAKES)
			return;
		w = &s->wakes[s->nr_wakes++];
		memset(w, 0, sizeof(*w));
		w->tid = e->hdr.tid;
		w->addr = e->addr;
		w->stack_id = e->stack_id;
	}
	w->woken += e->acquisitions;
	w->contentions += e->contentions;
	w->wait_ns_total += e->wait_ns_total;
	if (e->wait_ns_max > w->wait_ns_max)
		w->wait_ns_max = e->wait_ns_max;
	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		w->hist_total += e->wait_hist[i];
	w->flags |= e->flags;
	w->kind = e->kind;
}

static int keep(void **arr, size_t *nr, size_t *cap, const void *rec, size_t size)
{
	if (*nr == *cap) {
		size_t n = *cap ? 2 * *cap : 256;
		void *p = realloc(*arr, n * size);

		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = n;
	}
	memcpy((char *)*arr + (*nr)++ * size, rec, size);
	return 0;
}

static int sink(void *ctx, const struct cw_hdr *h)
{
	struct seen *s = ctx;

	if (h->type < CW_EV_TYPE_MAX && h->pid == s->pid)
		s->by_type[h->type]++;
	if (h->pid == s->pid && h->type == CW_EV_THREAD_STATS)
		on_thread(s, (const void *)h);
	if (h->pid == s->pid && h->type == CW_EV_LOCK_STATS &&
	    ((const struct cw_ev_lock_stats *)h)->what == CW_SITE_WAKE)
		on_wake(s, (const void *)h);
	if (h->type == CW_EV_SCHED_SWITCH && keep((void **)&s->sw, &s->nr_sw, &s->cap_sw, h,
						  sizeof(*s->sw)))
		return -ENOMEM;
	if (h->type == CW_EV_SCHED_WAKEUP && h->pid == s->pid &&
	    keep((void **)&s->wk, &s->nr_wk, &s->cap_wk, h, sizeof(*s->wk)))
		return -ENOMEM;
	return cw_engine__feed(s->eng, h);
}

FIXTURE(sched)
{
	struct cw_wl wl;
	struct seen seen;
	struct cw_session *sess;
	struct cw_drain drain;
	int draining;
	int pid;
};

FIXTURE_SETUP(sched)
{
	memset(self, 0, sizeof(*self));
	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
	self->seen.eng = cw_engine__new();
	ASSERT_NE(NULL, self->seen.eng);
}

FIXTURE_TEARDOWN(sched)
{
	if (self->draining)
		cw_drain__stop(&self->drain);
	cw_session__free(self->sess);
	cw_engine__free(self->seen.eng);
	free(self->seen.sw);
	free(self->seen.wk);
	if (self->wl.pid > 0)
		cw_wl__stop(&self->wl);
}

/* Start wl_sched's scenario, traced (record --timeline's mode with timeline), draining. */
static int start(struct __test_metadata *_metadata, FIXTURE_DATA(sched) *self,
		 const char *scenario, int timeline)
{
	const char *args[] = { scenario, NULL };
	struct cw_source_opts opts = { .timeline = timeline };
	char err[256] = "";
	int ret;

	ret = cw_wl__start(&self->wl, "wl_sched", args);
	EXPECT_EQ(0, ret);
	if (ret)
		return ret;
	self->pid = self->wl.pid;
	self->seen.pid = self->pid;
	opts.pid = self->pid;
	ret = cw_trace__open(&opts, sink, &self->seen, &self->sess, err, sizeof(err));
	EXPECT_EQ(0, ret) TH_LOG("session: %s", err);
	if (!ret)
		ret = cw_drain__start(&self->drain, self->sess);
	self->draining = !ret;
	return ret;
}

/* The workload said done: stop draining, end the session, and stop the workload. */
static void finish(struct __test_metadata *_metadata, FIXTURE_DATA(sched) *self)
{
	self->draining = 0;
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&self->drain));
	ASSERT_EQ(0, cw_session__finish(self->sess));
	ASSERT_EQ(0, cw_engine__counts(self->seen.eng)->lost_total);
	ASSERT_FALSE(self->seen.regressed) TH_LOG("a thread's cumulative figures went down");
}

static const struct cw_ev_thread_stats *thread(const struct seen *s, long tid)
{
	for (int i = 0; i < s->nr_th; i++)
		if (s->th[i].hdr.tid == tid)
			return &s->th[i];
	return NULL;
}

static void show(struct __test_metadata *_metadata, const struct cw_ev_thread_stats *t)
{
	TH_LOG("tid %u: on %llu, runnable %llu, lock %llu, futex %llu, klock %llu, io %llu, "
	       "sleep %llu ns; %llu vol, %llu invol, %llu wakeups, runq max %llu",
	       t->hdr.tid, (unsigned long long)t->oncpu_ns,
	       (unsigned long long)t->offcpu_ns[CW_OFFCPU_PREEMPTED],
	       (unsigned long long)t->offcpu_ns[CW_OFFCPU_LOCK],
	       (unsigned long long)t->offcpu_ns[CW_OFFCPU_FUTEX],
	       (unsigned long long)t->offcpu_ns[CW_OFFCPU_KLOCK],
	       (unsigned long long)t->offcpu_ns[CW_OFFCPU_IO],
	       (unsigned long long)t->offcpu_ns[CW_OFFCPU_SLEEP],
	       (unsigned long long)t->nr_voluntary, (unsigned long long)t->nr_involuntary,
	       (unsigned long long)t->nr_wakeups, (unsigned long long)t->runq_ns_max);
}

/* Drive the futex scenario to its end: the waiter blocked, then woken by the waker. */
static void futex_scenario(struct __test_metadata *_metadata, FIXTURE_DATA(sched) *self,
			   int timeline)
{
	char line[64];

	ASSERT_EQ(0, start(_metadata, self, "futex", timeline));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "blocked", line, sizeof(line)));
	ASSERT_EQ(0, cw_wait_futex_blocked(self->pid, cw_field(self->wl.ready, "waiter")));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "wake"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "done", self->wl.done, sizeof(self->wl.done)));
	finish(_metadata, self);
}

/* The CW_SITE_WAKE figures of waker tid on addr: exactly one call path. */
static const struct wake *wake_of(struct __test_metadata *_metadata, const struct seen *s,
				  long tid, __u64 addr)
{
	const struct wake *w = NULL;

	for (int i = 0; i < s->nr_wakes; i++) {
		TH_LOG("wake: tid %u addr 0x%llx stack 0x%llx: %llu woken, %llu ns", s->wakes[i].tid,
		       (unsigned long long)s->wakes[i].addr,
		       (unsigned long long)s->wakes[i].stack_id,
		       (unsigned long long)s->wakes[i].woken,
		       (unsigned long long)s->wakes[i].wait_ns_total);
		if (s->wakes[i].tid == tid && s->wakes[i].addr == addr) {
			if (w)
				return NULL;
			w = &s->wakes[i];
		}
	}
	return w;
}

/* Index of the first frame named name at or after from, or -1. */
static int find_frame(const struct cw_ustack *u, size_t from, const char *name)
{
	for (size_t i = from; i < u->nr; i++)
		if (u->frames[i].func && !strcmp(u->frames[i].func, name))
			return i;
	return -1;
}

/* The stack of wake entry w names func, called from caller. */
static void expect_waker_frames(struct __test_metadata *_metadata, FIXTURE_DATA(sched) *self,
				const struct wake *w, long waker, const char *func,
				const char *caller)
{
	const struct cw_stack *st;
	struct cw_symbols *sym;
	struct cw_ustack u;
	int at;

	st = cw_engine__find_stack(self->seen.eng, self->pid, CW_STACK_USER, w->stack_id);
	ASSERT_NE(NULL, st);
	EXPECT_EQ(waker, st->tid);
	ASSERT_TRUE(st->has_raw);
	ASSERT_EQ(0, cw_symbols__new(self->seen.eng, NULL, &sym));
	ASSERT_EQ(0, cw_symbols__resolve(sym, st, &u));
	at = find_frame(&u, 0, func);
	EXPECT_LE(0, at) {
		for (size_t i = 0; i < u.nr; i++)
			TH_LOG("#%zu %s", i, u.frames[i].func ? u.frames[i].func : "?");
	}
	if (at >= 0)
		EXPECT_LT(at, find_frame(&u, at, caller));
	cw_ustack__fini(&u);
	cw_symbols__free(sym);
}

/*
 * The waiter's FUTEX_WAIT on word: FUTEX time no longer than the call it measured, and
 * its waker, wl-waker, named in a CW_SITE_WAKE entry on word with the one wait it ended
 * and a stack through wake_waiter().
 */
TEST_F_TIMEOUT(sched, futex_wait_and_its_waker, SCHED_TIMEOUT)
{
	long waiter, waker;
	__u64 word, wait_ns;
	const struct cw_ev_thread_stats *t;
	const struct wake *w;

	CW_SKIPPED_IN_SETUP();
	futex_scenario(_metadata, self, 0);
	waiter = cw_field(self->wl.ready, "waiter");
	waker = cw_field(self->wl.ready, "waker");
	word = cw_field(self->wl.ready, "word");
	wait_ns = cw_field(self->wl.done, "wait_ns");
	ASSERT_LE(20 * MS, wait_ns);

	t = thread(&self->seen, waiter);
	ASSERT_NE(NULL, t);
	show(_metadata, t);
	EXPECT_EQ(self->pid, t->hdr.pid);
	/* from its switch-out to its waking, inside the call it timed */
	EXPECT_GE(wait_ns, t->offcpu_ns[CW_OFFCPU_FUTEX]);
	EXPECT_LE(wait_ns / 2, t->offcpu_ns[CW_OFFCPU_FUTEX]);
	EXPECT_EQ(0, t->offcpu_ns[CW_OFFCPU_LOCK]);
	EXPECT_LE(1, t->nr_voluntary);
	EXPECT_LE(1, t->nr_wakeups);
	EXPECT_LT(0, t->since_ns);
	EXPECT_EQ(0, t->policy); /* SCHED_OTHER */
	EXPECT_EQ(120, t->prio);
	EXPECT_LE(1, t->nr_cpus_allowed);

	w = wake_of(_metadata, &self->seen, waker, word);
	ASSERT_NE(NULL, w) TH_LOG("no single wake entry of the waker %ld on 0x%llx", waker,
				  (unsigned long long)word);
	EXPECT_EQ(1, w->woken);
	EXPECT_EQ(1, w->contentions);
	EXPECT_EQ(1, w->hist_total);
	/* from the futex call to the waking: the switched-out part, and less than the call */
	EXPECT_LE(t->offcpu_ns[CW_OFFCPU_FUTEX], w->wait_ns_total);
	EXPECT_GE(wait_ns, w->wait_ns_total);
	EXPECT_EQ(w->wait_ns_total, w->wait_ns_max);
	EXPECT_EQ(0, w->flags & CW_SITE_F_NO_STACK);
	ASSERT_NE(0, w->stack_id);

	/* the default mode aggregates: no record per switch */
	EXPECT_EQ(0, self->seen.by_type[CW_EV_SCHED_SWITCH]);
	EXPECT_EQ(0, self->seen.by_type[CW_EV_SCHED_WAKEUP]);

	expect_waker_frames(_metadata, self, w, waker, "wake_waiter", "waker_main");
}

/*
 * A contended pthread_mutex_lock, probed: LOCK time, not FUTEX, and the holder's unlock
 * named as the waker of the mutex (its address, its kind), from release_lock().
 */
TEST_F_TIMEOUT(sched, lock_wait_and_its_releaser, SCHED_TIMEOUT)
{
	const struct cw_ev_thread_stats *t;
	long locker, holder;
	__u64 mutex, wait_ns;
	const struct wake *w;
	char line[64];

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, start(_metadata, self, "mutex", 0));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "blocked", line, sizeof(line)));
	locker = cw_field(self->wl.ready, "locker");
	holder = cw_field(self->wl.ready, "holder");
	mutex = cw_field(self->wl.ready, "mutex");
	ASSERT_EQ(0, cw_wait_futex_blocked(self->pid, locker));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "release"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "done", self->wl.done, sizeof(self->wl.done)));
	finish(_metadata, self);
	wait_ns = cw_field(self->wl.done, "wait_ns");
	ASSERT_LE(20 * MS, wait_ns);

	t = thread(&self->seen, locker);
	ASSERT_NE(NULL, t);
	show(_metadata, t);
	EXPECT_GE(wait_ns, t->offcpu_ns[CW_OFFCPU_LOCK]);
	EXPECT_LE(wait_ns / 2, t->offcpu_ns[CW_OFFCPU_LOCK]);
	EXPECT_EQ(0, t->offcpu_ns[CW_OFFCPU_FUTEX]);

	w = wake_of(_metadata, &self->seen, holder, mutex);
	ASSERT_NE(NULL, w) TH_LOG("no single wake entry of the holder %ld on 0x%llx", holder,
				  (unsigned long long)mutex);
	EXPECT_EQ(1, w->woken);
	EXPECT_EQ(CW_LOCK_MUTEX, w->kind);
	EXPECT_LE(t->offcpu_ns[CW_OFFCPU_LOCK], w->wait_ns_total);
	EXPECT_GE(wait_ns, w->wait_ns_total);
	ASSERT_NE(0, w->stack_id);
	expect_waker_frames(_metadata, self, w, holder, "release_lock", "holder_main");
}

/*
 * record --timeline: the same wait as the waiter's switch-out (FUTEX, on word), its
 * wakeup by wl-waker with the stack of the wake entry, and its switch-in after that.
 */
TEST_F_TIMEOUT(sched, timeline_switch_and_wakeup, SCHED_TIMEOUT)
{
	const struct cw_ev_switch *out = NULL, *in = NULL;
	const struct cw_ev_wakeup *wk = NULL;
	const struct seen *s = &self->seen;
	long waiter, waker;
	__u64 word, wait_ns;
	const struct wake *w;

	CW_SKIPPED_IN_SETUP();
	futex_scenario(_metadata, self, 1);
	waiter = cw_field(self->wl.ready, "waiter");
	waker = cw_field(self->wl.ready, "waker");
	word = cw_field(self->wl.ready, "word");
	wait_ns = cw_field(self->wl.done, "wait_ns");

	for (size_t i = 0; i < s->nr_wk && !wk; i++)
		if (s->wk[i].hdr.tid == waiter && s->wk[i].waker_tid == waker)
			wk = &s->wk[i];
	ASSERT_NE(NULL, wk) TH_LOG("%zu wakeup records, none of %ld by %ld", s->nr_wk, waiter,
				   waker);
	EXPECT_EQ(self->pid, wk->hdr.pid);
	EXPECT_EQ(self->pid, wk->waker_pid);
	EXPECT_EQ(word, wk->wait_addr);
	EXPECT_EQ(CW_OFFCPU_FUTEX, wk->reason);
	EXPECT_LT(0, wk->blocked_ns);
	EXPECT_GE(wait_ns, wk->blocked_ns);
	EXPECT_EQ(120, wk->prio);
	w = wake_of(_metadata, s, waker, word);
	ASSERT_NE(NULL, w);
	EXPECT_EQ(w->stack_id, wk->waker_stack_id);

	/* the last switch-out of the waiter before its wakeup, and the first switch-in after */
	for (size_t i = 0; i < s->nr_sw; i++) {
		const struct cw_ev_switch *e = &s->sw[i];

		if (e->hdr.tid == waiter && e->hdr.ts_ns <= wk->hdr.ts_ns)
			out = e;
		if (e->next_tid == waiter && e->hdr.ts_ns >= wk->hdr.ts_ns && !in)
			in = e;
	}
	ASSERT_NE(NULL, out);
	EXPECT_EQ(self->pid, out->hdr.pid);
	EXPECT_EQ(CW_OFFCPU_FUTEX, out->reason);
	EXPECT_EQ(word, out->wait_addr);
	/* TASK_INTERRUPTIBLE (with TASK_FREEZABLE since 6.1's freezer) */
	EXPECT_EQ(1, out->prev_state & 0xff);
	EXPECT_EQ(wk->blocked_ns, wk->hdr.ts_ns - out->hdr.ts_ns);
	ASSERT_NE(NULL, in);
	EXPECT_EQ(self->pid, in->next_pid);

	/* and the per-operation records of the futex calls */
	EXPECT_LT(0, s->by_type[CW_EV_FUTEX_END]);
	/* the figures per thread are kept too */
	EXPECT_NE(NULL, thread(s, waiter));
}

/* A thread burning CPU: on-CPU time at least what its own CPU clock counted. */
TEST_F_TIMEOUT(sched, oncpu_covers_thread_cputime, SCHED_TIMEOUT)
{
	const struct cw_ev_thread_stats *t;
	__u64 cpu_ns;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, start(_metadata, self, "cpu", 0));
	ASSERT_EQ(0, cw_wl__go(&self->wl));
	finish(_metadata, self);
	cpu_ns = cw_field(self->wl.done, "cpu_ns");
	ASSERT_LE(200 * MS, cpu_ns);
	t = thread(&self->seen, cw_field(self->wl.ready, "tid"));
	ASSERT_NE(NULL, t);
	show(_metadata, t);
	/*
	 * The clocks differ (sched_clock, ktime); and on a loaded machine the first slice
	 * after go is now and then missed (FIXME: a thread seen first at its waking, not
	 * on a CPU then, once ran without a switch-in seen; cause not found; 5.2 ms were
	 * missed once at load average 9): a tenth of the time, a few slices, of slack.
	 */
	EXPECT_LE(cpu_ns - cpu_ns / 10, t->oncpu_ns);
	/* barriers, thread exit: not much more */
	EXPECT_GE(cpu_ns + cpu_ns / 2 + 20 * MS, t->oncpu_ns);
	EXPECT_EQ(0, t->offcpu_ns[CW_OFFCPU_SLEEP]);
	EXPECT_EQ(0, t->offcpu_ns[CW_OFFCPU_LOCK]);
}

/* nanosleep is SLEEP time, at least what was asked for, and nothing else is. */
TEST_F_TIMEOUT(sched, nanosleep_is_sleep, SCHED_TIMEOUT)
{
	const struct cw_ev_thread_stats *t;
	__u64 slept;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, start(_metadata, self, "sleep", 0));
	ASSERT_EQ(0, cw_wl__go(&self->wl));
	finish(_metadata, self);
	slept = cw_field(self->wl.done, "slept_ns");
	t = thread(&self->seen, cw_field(self->wl.ready, "tid"));
	ASSERT_NE(NULL, t);
	show(_metadata, t);
	/*
	 * each sleep from just after its call began to its timer: 5 x 20 ms, less the calls'
	 * starts; but one (FIXME: once, with two builds running, 80 of 100 ms: a sleep's
	 * switch-out not seen, as oncpu_covers_thread_cputime's first slice; cause not found)
	 */
	EXPECT_LE(slept - 2 * MS - 20 * MS, t->offcpu_ns[CW_OFFCPU_SLEEP]);
	EXPECT_EQ(0, t->offcpu_ns[CW_OFFCPU_FUTEX]);
	EXPECT_EQ(0, t->offcpu_ns[CW_OFFCPU_LOCK]);
	EXPECT_EQ(0, t->offcpu_ns[CW_OFFCPU_IO]);
	EXPECT_LE(5, t->nr_voluntary);
	EXPECT_LE(5, t->nr_wakeups);
}

/* Two spinning threads on one CPU: each waits runnable while the other runs. */
TEST_F_TIMEOUT(sched, pinned_threads_wait_runnable, SCHED_TIMEOUT)
{
	const struct cw_ev_thread_stats *a, *b;
	long cpu;
	__u64 a_ns, b_ns;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, start(_metadata, self, "pinned", 0));
	ASSERT_EQ(0, cw_wl__go(&self->wl));
	finish(_metadata, self);
	cpu = cw_field(self->wl.done, "cpu");
	a_ns = cw_field(self->wl.done, "a_ns");
	b_ns = cw_field(self->wl.done, "b_ns");
	a = thread(&self->seen, cw_field(self->wl.ready, "a"));
	b = thread(&self->seen, cw_field(self->wl.ready, "b"));
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	show(_metadata, a);
	show(_metadata, b);
	for (int i = 0; i < 2; i++) {
		const struct cw_ev_thread_stats *t = i ? b : a;
		__u64 other = i ? a_ns : b_ns, hist = 0;

		/* they overlap for most of the other's CPU time: a quarter of it at least */
		EXPECT_LE(other / 4, t->offcpu_ns[CW_OFFCPU_PREEMPTED]);
		EXPECT_LE(1, t->nr_involuntary);
		EXPECT_LT(0, t->runq_ns_max);
		EXPECT_GE(t->offcpu_ns[CW_OFFCPU_PREEMPTED], t->runq_ns_max);
		for (int k = 0; k < CW_HIST_BUCKETS; k++)
			hist += t->runq_hist[k];
		/*
		 * Every preemption's run-queue wait is in the histogram, but one.
		 * FIXME: one preemption's switch-in added no wait, cause not found (once, at
		 * load average ~6: 154 preemptions, 153 waits)
		 */
		EXPECT_LE(t->nr_involuntary, hist + 1);
		EXPECT_EQ(1, t->nr_cpus_allowed);
		if (cpu < 64)
			EXPECT_EQ(1ULL << cpu, t->cpus_allowed);
	}
}

/* Policy and priorities: a SCHED_FIFO 10 thread and a nice 5 one. */
TEST_F_TIMEOUT(sched, policy_and_priority, SCHED_TIMEOUT)
{
	const struct cw_ev_thread_stats *f, *n;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, start(_metadata, self, "prio", 0));
	ASSERT_EQ(0, cw_wl__go(&self->wl));
	finish(_metadata, self);
	ASSERT_EQ(1, cw_field(self->wl.done, "nice"));
	n = thread(&self->seen, cw_field(self->wl.ready, "nice_tid"));
	ASSERT_NE(NULL, n);
	EXPECT_EQ(SCHED_OTHER, n->policy);
	EXPECT_EQ(5, n->nice);
	EXPECT_EQ(125, n->prio);
	EXPECT_EQ(125, n->normal_prio);
	EXPECT_EQ(0, n->rt_priority);
	if (cw_field(self->wl.done, "fifo") != 1)
		SKIP(return, "SCHED_FIFO not permitted here");
	f = thread(&self->seen, cw_field(self->wl.ready, "fifo_tid"));
	ASSERT_NE(NULL, f);
	EXPECT_EQ(SCHED_FIFO, f->policy);
	EXPECT_EQ(10, f->rt_priority);
	/* kernel prio of an RT task: MAX_RT_PRIO - 1 - rt_priority */
	EXPECT_EQ(89, f->prio);
	EXPECT_EQ(89, f->normal_prio);
}

/* Whether the engine's latest state of thread tid of pid is state. */
static int in_state(const struct cw_engine *eng, int pid, int tid, __u8 state)
{
	const struct cw_thread *t = cw_engine__find_thread(eng, pid, tid);

	return t && t->has_state && t->state.state == state;
}

/*
 * What a thread does now, since when (CW_EV_THREAD_STATE): after a round of wl_rounds,
 * its worker sleeps in the round's barrier (a futex wait, on the barrier's word) and its
 * main thread in read() on stdin (an interruptible sleep); each state began after the
 * round started and before the test saw the thread asleep.
 */
FIXTURE(state) {};
FIXTURE_SETUP(state) {}
FIXTURE_TEARDOWN(state) {}

TEST_F_TIMEOUT(state, now_and_since, SCHED_TIMEOUT)
{
	const char *why = cw_live_skip_reason();
	const char *args[] = { "100", NULL };
	struct cw_source_opts opts = {};
	struct cw_session *sess = NULL;
	const struct cw_thread *w, *m;
	struct cw_engine *eng;
	__u64 before, asleep, deadline;
	char err[256] = "";
	struct cw_wl wl;
	int tid;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_rounds", args));
	tid = cw_field(wl.ready, "tid");
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	before = cw_now_ns();
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(0, cw_wait_futex_blocked(wl.pid, tid));
	ASSERT_EQ(0, cw_wait_blocked_in(wl.pid, wl.pid, SYS_read));
	asleep = cw_now_ns();
	deadline = asleep + cw_scale(20) * 1000000000ULL;
	while (!(in_state(eng, wl.pid, tid, CW_OFFCPU_FUTEX) &&
		 in_state(eng, wl.pid, wl.pid, CW_OFFCPU_SLEEP)) && cw_now_ns() < deadline)
		ASSERT_EQ(CW_SESSION_DEADLINE,
			  cw_session__run(sess, cw_now_ns() + 50000000ULL, NULL))
			TH_LOG("%s", cw_session__error(sess));
	w = cw_engine__find_thread(eng, wl.pid, tid);
	m = cw_engine__find_thread(eng, wl.pid, wl.pid);
	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, m);
	ASSERT_TRUE(w->has_state);
	ASSERT_TRUE(m->has_state);
	EXPECT_EQ(CW_OFFCPU_FUTEX, w->state.state);
	EXPECT_NE(0, w->state.wait_addr);
	EXPECT_LE(before, w->state.since_ns);
	EXPECT_GE(asleep, w->state.since_ns);
	EXPECT_EQ(CW_OFFCPU_SLEEP, m->state.state);
	EXPECT_EQ(0, m->state.wait_addr);
	EXPECT_LE(before, m->state.since_ns);
	EXPECT_GE(asleep, m->state.since_ns);
	ASSERT_EQ(0, cw_session__finish(sess));
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
