// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel-module source (tools/lib/source/kmod.c) without the module: a non-blocking
 * pipe stands in for /dev/concwatch (source/kmod.h), written whole records at a time as
 * the device returns them. What its drain hands on: the records in the order read, the
 * module's own lost records counted as they are, records breaking the framing dropped
 * with the rest of their read and records failing their checks dropped alone (each
 * counted as CW_LOST_MALFORMED), the thread of a record named first, ticks saying no
 * lock calls were traced only under --no-uprobes, lock operations, futex waits and
 * kernel-lock waits summed as the BPF programs sum them (each operation handed on
 * instead with raw_events), and a drain cut after a quarter of a tick until stop. And
 * the probe table mapped to the module's handlers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common/array.h"
#include "common/time.h"
#include "source/kmod.h"
#include "source/probes.h"
#include "cw_synth.h"

#include <concwatch/kmod.h>

/* A process no system has (pid_max is 2^22 at most): no thread of it is named. */
#define NO_PID 0x7ffffff0

/* What the drains handed on, each record copied. */
struct seen {
	unsigned char *buf;
	size_t len, cap;
	size_t nr;
};

static int collect(void *ctx, const struct cw_hdr *rec)
{
	struct seen *s = ctx;
	unsigned char *p = cw_grow(s->buf, &s->cap, s->len + rec->size, 1);

	if (!p)
		return -ENOMEM;
	s->buf = p;
	memcpy(s->buf + s->len, rec, rec->size);
	s->len += rec->size;
	s->nr++;
	return 0;
}

/* The i-th record handed on, or NULL. */
static const struct cw_hdr *nth(const struct seen *s, size_t i)
{
	size_t off = 0;

	for (; off < s->len; i--) {
		const struct cw_hdr *h = (const void *)(s->buf + off);

		if (!i)
			return h;
		off += h->size;
	}
	return NULL;
}

static size_t count_type(const struct seen *s, unsigned int type)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nr; i++)
		n += nth(s, i)->type == type;
	return n;
}

/* The last CW_EV_THREAD_STATS record of thread tid handed on, or NULL. */
static const struct cw_ev_thread_stats *thread_stats(const struct seen *s, __u32 tid)
{
	const struct cw_ev_thread_stats *st = NULL;

	for (size_t i = 0; i < s->nr; i++)
		if (nth(s, i)->type == CW_EV_THREAD_STATS && nth(s, i)->tid == tid)
			st = (const void *)nth(s, i);
	return st;
}

static struct cw_ev_switch sw(__u64 ts, __u32 pid, __u32 tid)
{
	struct cw_ev_switch e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_SCHED_SWITCH, sizeof(e), ts, pid, tid);
	e.hdr.cpu = 1;
	return e;
}

static struct cw_ev_futex futex(__u64 ts, __u32 tid, __u32 op, __u64 wait, __s32 result)
{
	struct cw_ev_futex e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_FUTEX_END, sizeof(e), ts, 7, tid);
	e.uaddr = 0x7f0000001000;
	e.op = op;
	e.wait_ns = wait;
	e.result = result;
	return e;
}

FIXTURE(kmod) {
	int wfd;
	struct cw_source *src;
	struct seen seen;
};

/* A source on a pipe, with opts (NULL: none) and a tick of tick_ns. */
static void open_source_opts(struct __test_metadata *_metadata, FIXTURE_DATA(kmod) *self,
			     __u64 tick_ns, const struct cw_source_opts *with)
{
	struct cw_source_opts opts = { .backend = "kmod" };
	char err[256] = "";
	int fds[2];

	if (with)
		opts = *with;
	opts.tick_ns = tick_ns;

	ASSERT_EQ(0, pipe2(fds, O_NONBLOCK | O_CLOEXEC));
	/* room for the bounded drain's three reads at once */
	ASSERT_LE(3 * CW_KMOD_READ_BYTES, fcntl(fds[1], F_SETPIPE_SZ, 4 * CW_KMOD_READ_BYTES));
	self->wfd = fds[1];
	ASSERT_EQ(0, cw_kmod_source__open_fd(&opts, fds[0], &self->src, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(fds[0], cw_source__fd(self->src));
}

static void open_source(struct __test_metadata *_metadata, FIXTURE_DATA(kmod) *self,
			__u64 tick_ns)
{
	open_source_opts(_metadata, self, tick_ns, NULL);
}

/* The fixture's source replaced by one with opts. */
static void reopen(struct __test_metadata *_metadata, FIXTURE_DATA(kmod) *self,
		   const struct cw_source_opts *opts)
{
	cw_source__free(self->src);
	close(self->wfd);
	open_source_opts(_metadata, self, 10000000000ULL, opts);
}

FIXTURE_SETUP(kmod)
{
	memset(&self->seen, 0, sizeof(self->seen));
	self->src = NULL;
	self->wfd = -1;
	/* a tick of 10 s: no drain of these tests is cut by the clock */
	open_source(_metadata, self, 10000000000ULL);
}

FIXTURE_TEARDOWN(kmod)
{
	cw_source__free(self->src);
	if (self->wfd >= 0)
		close(self->wfd);
	free(self->seen.buf);
}

/* What one read of the device returns: records back to back, in one write. */
static void put(struct __test_metadata *_metadata, int fd, const void *recs, size_t len)
{
	ASSERT_EQ((ssize_t)len, write(fd, recs, len));
}

static int drain(FIXTURE_DATA(kmod) *self)
{
	return cw_source__drain(self->src, collect, &self->seen);
}

TEST_F(kmod, records_in_order_then_tick)
{
	struct {
		struct cw_ev_switch a, b, c;
	} in = { sw(100, 0, 0), sw(200, 0, 0), sw(300, 0, 0) };
	const struct cw_ev_tick *t;
	struct cw_source_stats st;

	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(4, drain(self));
	ASSERT_EQ(4, self->seen.nr);
	EXPECT_EQ(0, memcmp(nth(&self->seen, 0), &in.a, sizeof(in.a)));
	EXPECT_EQ(0, memcmp(nth(&self->seen, 1), &in.b, sizeof(in.b)));
	EXPECT_EQ(0, memcmp(nth(&self->seen, 2), &in.c, sizeof(in.c)));
	t = (const void *)nth(&self->seen, 3);
	ASSERT_EQ(CW_EV_TICK, t->hdr.type);
	/* the lock calls are traced: nothing to say */
	EXPECT_EQ(0, t->hdr.flags);
	EXPECT_EQ(10000000000ULL, t->interval_ns);

	/* nothing waiting, no tick due: nothing */
	ASSERT_EQ(0, drain(self));
	cw_source__stats(self->src, &st);
	EXPECT_EQ(4, st.records);
	EXPECT_EQ(1, st.ticks);
	EXPECT_EQ(sizeof(in) + sizeof(*t), st.bytes);
	for (int k = 0; k < CW_LOST_MAX; k++)
		EXPECT_EQ(0, st.lost[k]);
}

static struct cw_ev_klock klock(__u16 type, __u64 ts, __u64 kstack, __u32 flags, __u64 wait,
				 __s32 result)
{
	struct cw_ev_klock k = {
		.hdr = { .type = type, .size = sizeof(k), .ts_ns = ts, .pid = 7, .tid = 8 },
		.addr = 0xffff8880deadbe00ULL,
		.kstack_id = kstack,
		.wait_ns = wait,
		.lock_flags = flags,
		.result = result,
	};

	return k;
}

/*
 * Kernel-lock waits are summed per (process, lock, kernel stack) as the BPF programs sum
 * them, and sent at the tick as CW_SITE_KLOCK statistics: two waits for writing on the
 * mmap_lock from one path, one interrupted wait for reading from another; an end
 * without its begin counts nothing. The per-wait records are not handed on.
 */
TEST_F(kmod, kernel_lock_waits_summed)
{
	struct {
		struct cw_ev_klock b1, e1, b2, e2, b3, e3, e4;
	} in = {
		klock(CW_EV_KLOCK_BEGIN, 100, 0xa1, 4 | CW_KLOCK_F_MMAP_LOCK, 0, 0),
		klock(CW_EV_KLOCK_END, 200, 0xa1, 4 | CW_KLOCK_F_MMAP_LOCK, 100, 0),
		klock(CW_EV_KLOCK_BEGIN, 300, 0xa1, 4 | CW_KLOCK_F_MMAP_LOCK, 0, 0),
		klock(CW_EV_KLOCK_END, 600, 0xa1, 4 | CW_KLOCK_F_MMAP_LOCK, 300, 0),
		klock(CW_EV_KLOCK_BEGIN, 700, 0xb2, 2 | CW_KLOCK_F_MMAP_LOCK, 0, 0),
		klock(CW_EV_KLOCK_END, 750, 0xb2, 2 | CW_KLOCK_F_MMAP_LOCK, 50, -4),
		klock(CW_EV_KLOCK_END, 800, 0, 0, 0, 0),
	};
	const struct cw_ev_lock_stats *a, *b;

	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(3, drain(self));
	EXPECT_EQ(0, count_type(&self->seen, CW_EV_KLOCK_BEGIN));
	EXPECT_EQ(0, count_type(&self->seen, CW_EV_KLOCK_END));
	ASSERT_EQ(2, count_type(&self->seen, CW_EV_LOCK_STATS));
	a = (const void *)nth(&self->seen, 0);
	b = (const void *)nth(&self->seen, 1);
	ASSERT_EQ(CW_EV_LOCK_STATS, a->hdr.type);
	ASSERT_EQ(CW_EV_LOCK_STATS, b->hdr.type);
	EXPECT_EQ(CW_EV_TICK, nth(&self->seen, 2)->type);
	EXPECT_EQ(7, a->hdr.pid);
	EXPECT_EQ(0, a->hdr.tid);
	EXPECT_EQ(CW_F_AGGREGATED, a->hdr.flags);
	EXPECT_EQ(CW_SITE_KLOCK, a->what);
	EXPECT_EQ(CW_LOCK_KERNEL, a->kind);
	EXPECT_EQ(0xffff8880deadbe00ULL, a->addr);
	EXPECT_EQ(0xa1, a->stack_id);
	EXPECT_EQ(2, a->acquisitions);
	EXPECT_EQ(2, a->contentions);
	EXPECT_EQ(0, a->failures);
	EXPECT_EQ(400, a->wait_ns_total);
	EXPECT_EQ(300, a->wait_ns_max);
	EXPECT_EQ(4, a->op);
	EXPECT_EQ(CW_SITE_F_MMAP_LOCK, a->flags);
	EXPECT_EQ(1, a->wait_hist[cw_hist_bucket(100)]);
	EXPECT_EQ(1, a->wait_hist[cw_hist_bucket(300)]);
	EXPECT_EQ(0xb2, b->stack_id);
	EXPECT_EQ(1, b->acquisitions);
	EXPECT_EQ(1, b->failures);
	EXPECT_EQ(50, b->wait_ns_total);
	EXPECT_EQ(2, b->op);
	EXPECT_EQ(CW_SITE_F_MMAP_LOCK, b->flags);
	EXPECT_EQ(a->hdr.ts_ns, b->hdr.ts_ns);
}

/*
 * Futex calls that can block are summed per (thread, word, call path) as the BPF
 * programs sum them, and sent at the tick as CW_SITE_FUTEX statistics: a wait woken, one
 * that returned at once (EAGAIN: a call, no wait), one timed out; a wake is no wait; the
 * other thread's wait on the word is a site of its own.
 */
TEST_F(kmod, futex_waits_summed)
{
	struct {
		struct cw_ev_futex a, b, c, d, e;
	} in = {
		futex(100, 8, 0x80, 100, 0),		/* FUTEX_WAIT_PRIVATE, woken */
		futex(200, 8, 0x80, 5, -EAGAIN),
		futex(300, 8, 0x89, 1000, -ETIMEDOUT),	/* FUTEX_WAIT_BITSET_PRIVATE */
		futex(400, 8, 0x81, 7, 1),		/* FUTEX_WAKE_PRIVATE */
		futex(500, 9, 0x80, 40, 0),
	};
	const struct cw_ev_lock_stats *a, *b;

	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(3, drain(self));
	EXPECT_EQ(0, count_type(&self->seen, CW_EV_FUTEX_END));
	a = (const void *)nth(&self->seen, 0);
	b = (const void *)nth(&self->seen, 1);
	ASSERT_EQ(CW_EV_LOCK_STATS, a->hdr.type);
	ASSERT_EQ(CW_EV_LOCK_STATS, b->hdr.type);
	EXPECT_EQ(CW_EV_TICK, nth(&self->seen, 2)->type);
	EXPECT_EQ(CW_SITE_FUTEX, a->what);
	EXPECT_EQ(CW_LOCK_FUTEX, a->kind);
	EXPECT_EQ(7, a->hdr.pid);
	EXPECT_EQ(8, a->hdr.tid);
	EXPECT_EQ(0x7f0000001000, a->addr);
	EXPECT_EQ(3, a->acquisitions);
	EXPECT_EQ(2, a->contentions);
	EXPECT_EQ(1, a->failures);
	EXPECT_EQ(1100, a->wait_ns_total);
	EXPECT_EQ(1000, a->wait_ns_max);
	EXPECT_EQ(1, a->outcomes[CW_FUTEX_WOKEN]);
	EXPECT_EQ(1, a->outcomes[CW_FUTEX_EAGAIN]);
	EXPECT_EQ(1, a->outcomes[CW_FUTEX_TIMEDOUT]);
	EXPECT_EQ(0, a->outcomes[CW_FUTEX_EINTR]);
	EXPECT_EQ(0x89, a->op);
	EXPECT_EQ(CW_SITE_F_NO_STACK, a->flags);
	EXPECT_EQ(1, a->wait_hist[cw_hist_bucket(100)]);
	EXPECT_EQ(1, a->wait_hist[cw_hist_bucket(1000)]);
	EXPECT_EQ(9, b->hdr.tid);
	EXPECT_EQ(1, b->acquisitions);
	EXPECT_EQ(40, b->wait_ns_total);
}

static struct cw_ev_wakeup wake(__u64 ts, __u32 tid, __u32 waker_pid, __u32 waker, __u64 addr,
				 __u64 stack, __u64 blocked)
{
	struct cw_ev_wakeup w = {
		.hdr = { .type = CW_EV_SCHED_WAKEUP, .size = sizeof(w), .ts_ns = ts, .pid = 7,
			 .tid = tid },
		.waker_pid = waker_pid,
		.waker_tid = waker,
		.wait_addr = addr,
		.waker_stack_id = stack,
		.blocked_ns = blocked,
		.reason = CW_OFFCPU_LOCK,
	};

	return w;
}

/*
 * Wakeups from a release (the module named the waker's call path) are summed per
 * (process, waker, lock, path) as cw_sched.bpf.h sums them, CW_SITE_WAKE: two wakes by
 * thread 8 from one path; a wakeup without a path (a timer, a signal) and one from
 * another process blame nobody. Every wakeup goes on to the engine as well, and counts
 * in its thread's figures (thread 9 woken three times, 10 once; the waker has none).
 */
TEST_F(kmod, release_wakes_summed)
{
	struct {
		struct cw_ev_wakeup a, b, c, d;
	} in = {
		wake(100, 9, 7, 8, 0x7f0000003000, 0xc3, 500),
		wake(200, 10, 7, 8, 0x7f0000003000, 0xc3, 1500),
		wake(300, 9, 0, 0, 0x7f0000003000, 0, 70),
		wake(400, 9, 11, 12, 0x7f0000003000, 0xd4, 90),
	};
	const struct cw_ev_lock_stats *st;

	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(10, drain(self));
	EXPECT_EQ(4, count_type(&self->seen, CW_EV_SCHED_WAKEUP));
	ASSERT_EQ(1, count_type(&self->seen, CW_EV_LOCK_STATS));
	st = (const void *)nth(&self->seen, 4);
	ASSERT_EQ(CW_EV_LOCK_STATS, st->hdr.type);
	EXPECT_EQ(CW_SITE_WAKE, st->what);
	EXPECT_EQ(7, st->hdr.pid);
	EXPECT_EQ(8, st->hdr.tid);
	EXPECT_EQ(0x7f0000003000, st->addr);
	EXPECT_EQ(0xc3, st->stack_id);
	EXPECT_EQ(2, st->acquisitions);
	EXPECT_EQ(2, st->contentions);
	EXPECT_EQ(2000, st->wait_ns_total);
	EXPECT_EQ(1500, st->wait_ns_max);
	EXPECT_EQ(1, st->wait_hist[cw_hist_bucket(500)]);
	EXPECT_EQ(1, st->wait_hist[cw_hist_bucket(1500)]);
	EXPECT_EQ(0, st->flags);
	ASSERT_EQ(2, count_type(&self->seen, CW_EV_THREAD_STATS));
	EXPECT_EQ(3, thread_stats(&self->seen, 9)->nr_wakeups);
	EXPECT_EQ(1, thread_stats(&self->seen, 10)->nr_wakeups);
	EXPECT_EQ(CW_EV_TICK, nth(&self->seen, 9)->type);
}

/* A lock operation of process 7 on the mutex at LOCK, from call path stack. */
#define LOCK 0x7f0000002000ULL

static struct cw_ev_lock lk(__u16 type, __u64 ts, __u32 tid, __u64 stack, __u8 op, __u64 wait,
			    __s32 result, __u16 flags)
{
	struct cw_ev_lock e = synth_lock(type, ts, 7, tid, LOCK, wait, result);

	e.hdr.flags = flags;
	e.stack_id = stack;
	e.op = op;
	/* an acquire's caller is where its path starts; an unlock's is elsewhere */
	e.ip = type == CW_EV_LOCK_RELEASED ? 0x409000 : 0x401000 + stack;
	return e;
}

/* A CW_EV_LOCK_STATS record's key, origin and counts; what is not named is 0. */
struct want {
	__u8 what, kind;
	__u16 attr;
	__u32 tid, op, flags;
	__u64 stack_id, ip;
	__u64 acquisitions, contentions, failures;
	__u64 wait_total, wait_max, hold_total, hold_max;
};

/* st is the sum of process 7's operations on LOCK as w says. */
static void expect_sum(struct __test_metadata *_metadata, const struct cw_ev_lock_stats *st,
		       struct want w)
{
	ASSERT_EQ(CW_EV_LOCK_STATS, st->hdr.type);
	EXPECT_EQ(CW_F_AGGREGATED, st->hdr.flags);
	EXPECT_EQ(7, st->hdr.pid);
	EXPECT_EQ(LOCK, st->addr);
	EXPECT_EQ(w.what, st->what);
	EXPECT_EQ(w.kind, st->kind);
	EXPECT_EQ(w.attr, st->attr);
	EXPECT_EQ(w.tid, st->hdr.tid);
	EXPECT_EQ(w.op, st->op);
	EXPECT_EQ(w.flags, st->flags);
	EXPECT_EQ(w.stack_id, st->stack_id);
	EXPECT_EQ(w.ip, st->ip);
	EXPECT_EQ(0, st->owner_tid);
	EXPECT_EQ(w.acquisitions, st->acquisitions);
	EXPECT_EQ(w.contentions, st->contentions);
	EXPECT_EQ(w.failures, st->failures);
	EXPECT_EQ(w.wait_total, st->wait_ns_total);
	EXPECT_EQ(w.wait_max, st->wait_ns_max);
	EXPECT_EQ(w.hold_total, st->hold_ns_total);
	EXPECT_EQ(w.hold_max, st->hold_ns_max);
}

/*
 * Lock operations are summed as the BPF programs sum them (count_site(), count_failure()
 * and count_try_success() of bpf/cw_locks.bpf.h), per (process, lock, call path), and
 * sent at the tick as CW_SITE_ACQUIRE statistics; a thread's busy trylocks and timed-out
 * acquires in its own CW_SITE_TRY entry of the lock. Path A: an uncontended acquire (its
 * time in the call is no wait), two that slept (one from a robust mutex's dead owner),
 * three releases, of which the inner one of a recursive hold says no hold time. Path B: a
 * busy trylock and a timed-out timedlock (failures, their waits counted), a condvar wait
 * timed out (it took the mutex back: an acquisition), thread 10's lock, a failure that is
 * no try. The per-operation records are not handed on; init and dependencies are. Thread
 * 8's busy trylock and timed-out acquire count in its figures too (thread_stats).
 */
TEST_F(kmod, lock_operations_summed)
{
	struct {
		struct cw_ev_lock init;
		struct cw_ev_edge edge;
		struct cw_ev_lock a1, a2, a3, a4, begin, a5, a6;
		struct cw_ev_lock b1, b2, b3, b4, b5;
	} in = {
		.init = synth_lock(CW_EV_LOCK_INIT, 50, NO_PID, 1, LOCK, 0, 0),
		.edge = synth_edge(60, NO_PID, 1, LOCK, LOCK + 64),
		.a1 = lk(CW_EV_LOCK_ACQUIRED, 100, 8, 0xa1, CW_OP_LOCK, 50, 0, 0),
		.a2 = lk(CW_EV_LOCK_ACQUIRED, 200, 9, 0xa1, CW_OP_LOCK, 1000, 0, CW_F_CONTENDED),
		.a3 = lk(CW_EV_LOCK_RELEASED, 300, 8, 0xa1, CW_OP_UNLOCK, 300, 0, 0),
		.a4 = lk(CW_EV_LOCK_RELEASED, 400, 9, 0xa1, CW_OP_UNLOCK, 0, 0, 0),
		.begin = lk(CW_EV_LOCK_BEGIN, 450, 9, 0xa1, CW_OP_LOCK, 0, 0, 0),
		.a5 = lk(CW_EV_LOCK_ACQUIRED, 500, 9, 0xa1, CW_OP_LOCK, 200, EOWNERDEAD,
			 CW_F_CONTENDED),
		.a6 = lk(CW_EV_LOCK_RELEASED, 600, 9, 0xa1, CW_OP_UNLOCK, 700, 0, 0),
		.b1 = lk(CW_EV_LOCK_ACQUIRED, 700, 8, 0xb2, CW_OP_TRYLOCK, 40, EBUSY, 0),
		.b2 = lk(CW_EV_LOCK_ACQUIRED, 800, 8, 0xb2, CW_OP_TIMEDLOCK, 5000, ETIMEDOUT,
			 CW_F_CONTENDED),
		.b3 = lk(CW_EV_LOCK_ACQUIRED, 900, 8, 0xb2, CW_OP_COND_WAIT, 9000, ETIMEDOUT, 0),
		.b4 = lk(CW_EV_LOCK_ACQUIRED, 1000, 10, 0xb2, CW_OP_LOCK, 20, 0, 0),
		.b5 = lk(CW_EV_LOCK_ACQUIRED, 1100, 8, 0xb2, CW_OP_LOCK, 3, EINVAL, 0),
	};
	struct cw_ev_lock later = lk(CW_EV_LOCK_RELEASED, 1200, 8, 0xa1, CW_OP_UNLOCK, 100, 0, 0);
	const struct cw_ev_lock_stats *a, *b, *t;

	in.a2.attr = CW_ATTR_KNOWN | CW_ATTR_ROBUST;
	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(7, drain(self));
	EXPECT_EQ(0, memcmp(nth(&self->seen, 0), &in.init, sizeof(in.init)));
	EXPECT_EQ(0, memcmp(nth(&self->seen, 1), &in.edge, sizeof(in.edge)));
	a = (const void *)nth(&self->seen, 2);
	b = (const void *)nth(&self->seen, 3);
	t = (const void *)nth(&self->seen, 4);
	EXPECT_EQ(CW_EV_THREAD_STATS, nth(&self->seen, 5)->type);
	EXPECT_EQ(CW_EV_TICK, nth(&self->seen, 6)->type);
	expect_sum(_metadata, a, (struct want){
		.what = CW_SITE_ACQUIRE, .kind = CW_LOCK_MUTEX,
		.attr = CW_ATTR_KNOWN | CW_ATTR_ROBUST, .stack_id = 0xa1, .ip = 0x4010a1,
		.acquisitions = 3, .contentions = 2, .wait_total = 1200, .wait_max = 1000,
		.hold_total = 1000, .hold_max = 700 });
	EXPECT_EQ(1, a->wait_hist[cw_hist_bucket(1000)]);
	EXPECT_EQ(1, a->wait_hist[cw_hist_bucket(200)]);
	EXPECT_EQ(0, a->wait_hist[cw_hist_bucket(50)]);
	expect_sum(_metadata, b, (struct want){
		.what = CW_SITE_ACQUIRE, .kind = CW_LOCK_MUTEX, .stack_id = 0xb2, .ip = 0x4010b2,
		.acquisitions = 2, .failures = 3, .wait_total = 5043, .wait_max = 5000 });
	EXPECT_EQ(1, b->wait_hist[cw_hist_bucket(40)]);
	EXPECT_EQ(1, b->wait_hist[cw_hist_bucket(5000)]);
	EXPECT_EQ(1, b->wait_hist[cw_hist_bucket(3)]);
	/* thread 8's: the latest failure's path, caller and op; no holder said */
	expect_sum(_metadata, t, (struct want){
		.what = CW_SITE_TRY, .kind = CW_LOCK_MUTEX, .tid = 8, .op = CW_OP_TIMEDLOCK,
		.stack_id = 0xb2, .ip = 0x4010b2, .acquisitions = 1, .failures = 2,
		.wait_total = 5000, .wait_max = 5000 });
	EXPECT_EQ(1, t->wait_hist[cw_hist_bucket(5000)]);
	EXPECT_EQ(0, count_type(&self->seen, CW_EV_LOCK_BEGIN));
	EXPECT_EQ(0, count_type(&self->seen, CW_EV_LOCK_ACQUIRED));
	EXPECT_EQ(0, count_type(&self->seen, CW_EV_LOCK_RELEASED));
	ASSERT_EQ(1, count_type(&self->seen, CW_EV_THREAD_STATS));
	EXPECT_EQ(2, thread_stats(&self->seen, 8)->trylock_failures);
	EXPECT_EQ(700, thread_stats(&self->seen, 8)->since_ns);

	/*
	 * The next interval counts from zero; the maxima stay, as the BPF entries' do. The
	 * thread's figures did not move: not sent again.
	 */
	put(_metadata, self->wfd, &later, sizeof(later));
	ASSERT_EQ(0, cw_source__stop(self->src));
	ASSERT_EQ(2, drain(self));
	a = (const void *)nth(&self->seen, 7);
	expect_sum(_metadata, a, (struct want){
		.what = CW_SITE_ACQUIRE, .kind = CW_LOCK_MUTEX,
		.attr = CW_ATTR_KNOWN | CW_ATTR_ROBUST, .stack_id = 0xa1, .ip = 0x4010a1,
		.wait_max = 1000, .hold_total = 100, .hold_max = 700 });
	EXPECT_EQ(0, a->wait_hist[cw_hist_bucket(1000)]);
	EXPECT_EQ(CW_EV_TICK, nth(&self->seen, 8)->type);
}

/*
 * With raw_events (and with timeline, which asks for the same records) every lock
 * operation is handed on as the module wrote it, and nothing is summed: the engine
 * counts the operations itself.
 */
TEST_F(kmod, raw_lock_records_handed_on)
{
	struct cw_source_opts opts[2] = { { .backend = "kmod", .raw_events = 1 },
					  { .backend = "kmod", .timeline = 1 } };
	struct {
		struct cw_ev_lock begin, acq, rel;
	} in = {
		synth_lock(CW_EV_LOCK_BEGIN, 100, NO_PID, 1, LOCK, 0, 0),
		synth_lock(CW_EV_LOCK_ACQUIRED, 200, NO_PID, 1, LOCK, 100, 0),
		synth_lock(CW_EV_LOCK_RELEASED, 300, NO_PID, 1, LOCK, 50, 0),
	};

	in.acq.hdr.flags = CW_F_CONTENDED;
	for (int i = 0; i < 2; i++) {
		reopen(_metadata, self, &opts[i]);
		self->seen.nr = self->seen.len = 0;
		put(_metadata, self->wfd, &in, sizeof(in));
		ASSERT_EQ(4, drain(self));
		EXPECT_EQ(0, memcmp(nth(&self->seen, 0), &in.begin, sizeof(in.begin)));
		EXPECT_EQ(0, memcmp(nth(&self->seen, 1), &in.acq, sizeof(in.acq)));
		EXPECT_EQ(0, memcmp(nth(&self->seen, 2), &in.rel, sizeof(in.rel)));
		EXPECT_EQ(CW_EV_TICK, nth(&self->seen, 3)->type);
		EXPECT_EQ(0, count_type(&self->seen, CW_EV_LOCK_STATS));
	}
}

/* Under --no-uprobes the module traces no lock calls: the ticks say so. */
TEST_F(kmod, no_uprobes_ticks_say_so)
{
	struct cw_source_opts opts = { .backend = "kmod", .no_uprobes = 1 };
	struct cw_ev_switch in = sw(100, 0, 0);
	const struct cw_ev_tick *t;

	reopen(_metadata, self, &opts);
	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(2, drain(self));
	t = (const void *)nth(&self->seen, 1);
	ASSERT_EQ(CW_EV_TICK, t->hdr.type);
	EXPECT_EQ(CW_F_NO_UPROBES, t->hdr.flags);
}

/* A full ring: the module's lost record, in place, with its CPU, counted once. */
TEST_F(kmod, module_lost_record_counted)
{
	struct {
		struct cw_ev_switch a;
		struct cw_ev_lost l;
		struct cw_ev_switch b;
	} in = { sw(100, 0, 0), synth_lost(150, CW_LOST_RINGBUF, 7), sw(200, 0, 0) };
	const struct cw_ev_lost *l;
	struct cw_source_stats st;

	in.l.hdr.cpu = 3;
	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(4, drain(self));
	l = (const void *)nth(&self->seen, 1);
	ASSERT_EQ(CW_EV_LOST, l->hdr.type);
	EXPECT_EQ(3, l->hdr.cpu);
	EXPECT_EQ(CW_LOST_RINGBUF, l->what);
	EXPECT_EQ(7, l->count);
	EXPECT_EQ(CW_EV_SCHED_SWITCH, nth(&self->seen, 2)->type);
	EXPECT_EQ(1, count_type(&self->seen, CW_EV_LOST));
	cw_source__stats(self->src, &st);
	EXPECT_EQ(7, st.lost[CW_LOST_RINGBUF]);
	EXPECT_EQ(0, st.lost[CW_LOST_MALFORMED]);
}

/* Headers that break the framing: nothing after them in the read can be trusted. */
FIXTURE(frame) {
	FIXTURE_DATA(kmod) k;
};

FIXTURE_VARIANT(frame) {
	__u16 size;		/* the broken record's hdr.size */
};

FIXTURE_VARIANT_ADD(frame, not_multiple_of_8) { .size = 36 };
FIXTURE_VARIANT_ADD(frame, shorter_than_header) { .size = 16 };
FIXTURE_VARIANT_ADD(frame, past_the_read) { .size = 4096 };

FIXTURE_SETUP(frame)
{
	memset(&self->k.seen, 0, sizeof(self->k.seen));
	open_source(_metadata, &self->k, 10000000000ULL);
}

FIXTURE_TEARDOWN(frame)
{
	cw_source__free(self->k.src);
	close(self->k.wfd);
	free(self->k.seen.buf);
}

TEST_F(frame, rest_of_read_dropped)
{
	struct {
		struct cw_ev_switch a, bad, b;
	} in = { sw(100, 0, 0), sw(150, 0, 0), sw(200, 0, 0) };
	struct cw_ev_switch c = sw(300, 0, 0);
	const struct cw_ev_lost *l;
	struct cw_source_stats st;

	in.bad.hdr.size = variant->size;
	put(_metadata, self->k.wfd, &in, sizeof(in));
	/* a, the malformed count, the tick: b went with the broken record */
	ASSERT_EQ(3, drain(&self->k));
	EXPECT_EQ(0, memcmp(nth(&self->k.seen, 0), &in.a, sizeof(in.a)));
	l = (const void *)nth(&self->k.seen, 1);
	ASSERT_EQ(CW_EV_LOST, l->hdr.type);
	EXPECT_EQ(CW_LOST_MALFORMED, l->what);
	EXPECT_EQ(1, l->count);
	EXPECT_EQ(CW_EV_TICK, nth(&self->k.seen, 2)->type);

	/* the next read starts at a record again; the loss is not said twice */
	put(_metadata, self->k.wfd, &c, sizeof(c));
	ASSERT_EQ(1, drain(&self->k));
	EXPECT_EQ(0, memcmp(nth(&self->k.seen, 3), &c, sizeof(c)));
	cw_source__stats(self->k.src, &st);
	EXPECT_EQ(1, st.lost[CW_LOST_MALFORMED]);
}

/* Well framed but wrong inside: that record alone is dropped. */
TEST_F(kmod, bad_content_drops_one_record)
{
	struct {
		struct cw_ev_switch a;
		struct cw_hdr short_futex[2];	/* a futex record of 48 bytes: too short */
		struct cw_ev_lost no_kind;	/* a loss of no kind */
		struct cw_ev_switch b;
	} in = { .a = sw(100, 0, 0), .no_kind = synth_lost(150, 0, 5), .b = sw(200, 0, 0) };
	struct cw_source_stats st;
	const struct cw_ev_lost *l;

	in.short_futex[0] = synth_hdr(CW_EV_FUTEX_BEGIN, sizeof(in.short_futex), 120, 0, 0);
	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(4, drain(self));
	EXPECT_EQ(0, memcmp(nth(&self->seen, 0), &in.a, sizeof(in.a)));
	EXPECT_EQ(0, memcmp(nth(&self->seen, 1), &in.b, sizeof(in.b)));
	l = (const void *)nth(&self->seen, 2);
	ASSERT_EQ(CW_EV_LOST, l->hdr.type);
	EXPECT_EQ(CW_LOST_MALFORMED, l->what);
	EXPECT_EQ(2, l->count);
	cw_source__stats(self->src, &st);
	EXPECT_EQ(2, st.lost[CW_LOST_MALFORMED]);
	EXPECT_EQ(0, st.lost[CW_LOST_RINGBUF]);
}

/* A record type of a newer module: well framed, handed on for the engine to skip. */
TEST_F(kmod, unknown_type_handed_on)
{
	struct cw_hdr in[4] = { synth_hdr(CW_EV_TYPE_MAX + 50, sizeof(in), 100, 0, 0) };
	struct cw_source_stats st;

	put(_metadata, self->wfd, in, sizeof(in));
	ASSERT_EQ(2, drain(self));
	EXPECT_EQ(0, memcmp(nth(&self->seen, 0), in, sizeof(in)));
	cw_source__stats(self->src, &st);
	EXPECT_EQ(0, st.lost[CW_LOST_MALFORMED]);
}

/*
 * A thread's first record: its name from /proc goes first, once. (Its two switch-outs
 * for no reason said make figures too, sent at the tick.)
 */
TEST_F(kmod, thread_named_first)
{
	struct {
		struct cw_ev_switch a, b;
	} in = { sw(100, getpid(), gettid()), sw(200, getpid(), gettid()) };
	const struct cw_ev_comm *c;

	ASSERT_EQ(0, prctl(PR_SET_NAME, "cw-kmod-test"));
	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_EQ(5, drain(self));
	c = (const void *)nth(&self->seen, 0);
	ASSERT_EQ(CW_EV_COMM, c->hdr.type);
	EXPECT_EQ(CW_F_SYNTHETIC, c->hdr.flags);
	EXPECT_EQ(getpid(), c->hdr.pid);
	EXPECT_EQ(gettid(), c->hdr.tid);
	EXPECT_STREQ("cw-kmod-test", c->comm);
	EXPECT_EQ(0, memcmp(nth(&self->seen, 1), &in.a, sizeof(in.a)));
	EXPECT_EQ(0, memcmp(nth(&self->seen, 2), &in.b, sizeof(in.b)));
	EXPECT_EQ(1, count_type(&self->seen, CW_EV_COMM));
	EXPECT_EQ(1, count_type(&self->seen, CW_EV_THREAD_STATS));
}

/* A thread of process 7 at prio 125 (nice 5), as the module records it. */
#define SCHED_PRIO 125

/*
 * A switch on cpu: prev leaves it for reason (waiting on addr), next gets it; 0 for an
 * untraced task, which the module says as 0/0.
 */
static struct cw_ev_switch swc(__u64 ts, __u16 cpu, __u32 prev, __u8 reason, __u64 addr,
			       __u32 next)
{
	struct cw_ev_switch e = sw(ts, prev ? 7 : 0, prev);

	e.hdr.cpu = cpu;
	e.reason = prev ? reason : CW_OFFCPU_NONE;
	e.wait_addr = addr;
	/* TASK_INTERRUPTIBLE, or still TASK_RUNNING */
	e.prev_state = prev && reason != CW_OFFCPU_PREEMPTED;
	e.next_pid = next ? 7 : 0;
	e.next_tid = next;
	e.prev_prio = e.next_prio = SCHED_PRIO;
	return e;
}

/* Thread tid woken on cpu by an interrupt (no waker). */
static struct cw_ev_wakeup wkc(__u64 ts, __u16 cpu, __u32 tid)
{
	struct cw_ev_wakeup w = wake(ts, tid, 0, 0, 0, 0, 0);

	w.hdr.cpu = cpu;
	w.reason = CW_OFFCPU_FUTEX;
	w.prio = SCHED_PRIO;
	return w;
}

static struct cw_ev_futex futexc(__u16 type, __u64 ts, __u16 cpu, __u32 tid)
{
	struct cw_ev_futex f = futex(ts, tid, 0x80, type == CW_EV_FUTEX_END ? 3600 : 0, 0);

	f.hdr.type = type;
	f.hdr.cpu = cpu;
	return f;
}

static struct cw_ev_exit exitc(__u64 ts, __u16 cpu, __u32 tid)
{
	struct cw_ev_exit x;

	memset(&x, 0, sizeof(x));
	x.hdr = synth_hdr(CW_EV_EXIT, sizeof(x), ts, 7, tid);
	x.hdr.cpu = cpu;
	return x;
}

/*
 * Thread 8's figures as the BPF programs keep them, at its exit: since, on CPU, off CPU
 * runnable, in a futex wait, asleep; the longest run-queue wait, and those it had (0:
 * none); its switches and wakeups. Everything else is 0 but the priorities.
 */
struct want_sched {
	__u64 since, exit, oncpu, runnable, futex, sleep, runq_max, runq[3];
	__u64 voluntary, involuntary, wakeups;
};

static void expect_final(struct __test_metadata *_metadata, const struct seen *seen,
			 struct want_sched w)
{
	const struct cw_ev_thread_stats *got = thread_stats(seen, 8);
	struct cw_ev_thread_stats want;
	size_t n = 0;

	for (size_t i = 0; i < seen->nr; i++)
		n += nth(seen, i)->type == CW_EV_THREAD_STATS && nth(seen, i)->tid == 8;
	/* the one at its exit: it has none after */
	EXPECT_EQ(1, n);
	ASSERT_NE(NULL, got);
	memset(&want, 0, sizeof(want));
	want.hdr = (struct cw_hdr){ .type = CW_EV_THREAD_STATS, .size = sizeof(want),
				    .cpu = 0xffff, .flags = CW_F_AGGREGATED, .ts_ns = w.exit,
				    .pid = 7, .tid = 8 };
	want.since_ns = w.since;
	want.oncpu_ns = w.oncpu;
	want.offcpu_ns[CW_OFFCPU_PREEMPTED] = w.runnable;
	want.offcpu_ns[CW_OFFCPU_FUTEX] = w.futex;
	want.offcpu_ns[CW_OFFCPU_SLEEP] = w.sleep;
	want.runq_ns_max = w.runq_max;
	for (int i = 0; i < 3; i++)
		if (w.runq[i])
			want.runq_hist[cw_hist_bucket(w.runq[i])]++;
	want.nr_voluntary = w.voluntary;
	want.nr_involuntary = w.involuntary;
	want.nr_wakeups = w.wakeups;
	want.prio = want.normal_prio = SCHED_PRIO;
	want.nice = SCHED_PRIO - 120;
	EXPECT_EQ(w.since, got->since_ns);
	EXPECT_EQ(w.exit, got->hdr.ts_ns);
	EXPECT_EQ(w.oncpu, got->oncpu_ns);
	EXPECT_EQ(w.runnable, got->offcpu_ns[CW_OFFCPU_PREEMPTED]);
	EXPECT_EQ(w.futex, got->offcpu_ns[CW_OFFCPU_FUTEX]);
	EXPECT_EQ(w.sleep, got->offcpu_ns[CW_OFFCPU_SLEEP]);
	EXPECT_EQ(w.runq_max, got->runq_ns_max);
	EXPECT_EQ(w.voluntary, got->nr_voluntary);
	EXPECT_EQ(w.involuntary, got->nr_involuntary);
	EXPECT_EQ(w.wakeups, got->nr_wakeups);
	/* and nothing else */
	EXPECT_EQ(0, memcmp(&want, got, sizeof(want)));
}

/*
 * Thread 8 runs, is preempted by thread 9, runs, sleeps in a futex wait, is woken, gets
 * a CPU from thread 10, runs and exits: its figures as the BPF programs make them, its
 * switch-ins all seen (each after a traced thread). The records of CPU 0 and CPU 1 come
 * in time order, or CPU 1's first in the same read, or CPU 1's in a drain before CPU 0's
 * were read (the first drain applies nothing: its records are in the future, where more
 * may come before them): the same figures.
 */
FIXTURE(sched) {
	FIXTURE_DATA(kmod) k;
};

FIXTURE_VARIANT(sched) {
	int order;		/* 0: time; 1: CPU 1's, then CPU 0's; 2: the same, two drains */
};

FIXTURE_VARIANT_ADD(sched, time_order) { .order = 0 };
FIXTURE_VARIANT_ADD(sched, cpus_out_of_order) { .order = 1 };
FIXTURE_VARIANT_ADD(sched, cpus_in_two_drains) { .order = 2 };

FIXTURE_SETUP(sched)
{
	memset(&self->k.seen, 0, sizeof(self->k.seen));
	open_source(_metadata, &self->k, 10000000000ULL);
}

FIXTURE_TEARDOWN(sched)
{
	cw_source__free(self->k.src);
	close(self->k.wfd);
	free(self->k.seen.buf);
}

#define FUTEX_WORD 0x7f0000001000ULL

TEST_F(sched, figures_as_bpf_makes_them)
{
	/* an hour ahead: no drain before stop can know that nothing older comes */
	__u64 b = variant->order == 2 ? cw_now_ns() + 3600000000000ULL : 0;
	struct {
		struct {
			struct cw_ev_switch sw0;
			struct cw_ev_wakeup wk0;
			struct cw_ev_switch sw1, sw2;
			struct cw_ev_futex fb;
			struct cw_ev_switch sw3;
		} cpu0;
		struct {
			struct cw_ev_wakeup wk1;
			struct cw_ev_switch sw4;
			struct cw_ev_futex fe;
			struct cw_ev_exit ex;
		} cpu1;
	} in = {
		.cpu0 = {
			/* 9 goes to sleep, 8 runs */
			swc(b + 1000, 0, 9, CW_OFFCPU_SLEEP, 0, 8),
			wkc(b + 2000, 0, 9),
			/* 8 preempted by 9, which waited 1000 for it */
			swc(b + 3000, 0, 8, CW_OFFCPU_PREEMPTED, 0, 9),
			/* 9 waits on a futex, 8 runs again after 500 */
			swc(b + 3500, 0, 9, CW_OFFCPU_FUTEX, FUTEX_WORD + 64, 8),
			futexc(CW_EV_FUTEX_BEGIN, b + 5900, 0, 8),
			swc(b + 6000, 0, 8, CW_OFFCPU_FUTEX, FUTEX_WORD, 0),
		},
		.cpu1 = {
			wkc(b + 9000, 1, 8),
			/* 10 goes to sleep: 8 waited 400 for CPU 1 */
			swc(b + 9400, 1, 10, CW_OFFCPU_SLEEP, 0, 8),
			futexc(CW_EV_FUTEX_END, b + 9500, 1, 8),
			exitc(b + 10000, 1, 8),
		},
	};
	const struct cw_ev_thread_stats *u;
	const struct cw_ev_thread_state *st = NULL;

	if (variant->order == 0) {
		put(_metadata, self->k.wfd, &in, sizeof(in));
	} else {
		put(_metadata, self->k.wfd, &in.cpu1, sizeof(in.cpu1));
		if (variant->order == 2) {
			ASSERT_LT(0, drain(&self->k));
			EXPECT_EQ(0, count_type(&self->k.seen, CW_EV_THREAD_STATS));
			ASSERT_EQ(0, cw_source__stop(self->k.src));
		}
		put(_metadata, self->k.wfd, &in.cpu0, sizeof(in.cpu0));
	}
	ASSERT_LT(0, drain(&self->k));

	/* the switches and wakeups go on to the engine */
	EXPECT_EQ(5, count_type(&self->k.seen, CW_EV_SCHED_SWITCH));
	EXPECT_EQ(2, count_type(&self->k.seen, CW_EV_SCHED_WAKEUP));
	expect_final(_metadata, &self->k.seen, (struct want_sched){
		.since = b + 1000, .exit = b + 10000,
		.oncpu = 2000 + 2500 + 600, .runnable = 500 + 400, .futex = 3000,
		.runq_max = 500, .runq = { 500, 400 },
		.voluntary = 1, .involuntary = 1, .wakeups = 1 });

	/* 9 waits on its futex still: that wait up to when the figures were made */
	u = thread_stats(&self->k.seen, 9);
	ASSERT_NE(NULL, u);
	EXPECT_EQ(b + 1000, u->since_ns);
	EXPECT_EQ(500, u->oncpu_ns);
	EXPECT_EQ(1000, u->offcpu_ns[CW_OFFCPU_SLEEP]);
	EXPECT_EQ(1000, u->offcpu_ns[CW_OFFCPU_PREEMPTED]);
	EXPECT_EQ(1000, u->runq_ns_max);
	EXPECT_EQ(u->hdr.ts_ns > b + 3500 ? u->hdr.ts_ns - (b + 3500) : 0,
		  u->offcpu_ns[CW_OFFCPU_FUTEX]);
	EXPECT_EQ(2, u->nr_voluntary);
	EXPECT_EQ(1, u->nr_wakeups);
	for (size_t i = 0; i < self->k.seen.nr; i++)
		if (nth(&self->k.seen, i)->type == CW_EV_THREAD_STATE &&
		    nth(&self->k.seen, i)->tid == 9)
			st = (const void *)nth(&self->k.seen, i);
	ASSERT_NE(NULL, st);
	EXPECT_EQ(CW_OFFCPU_FUTEX, st->state);
	EXPECT_EQ(b + 3500, st->since_ns);
	EXPECT_EQ(FUTEX_WORD + 64, st->wait_addr);
	EXPECT_EQ(u->hdr.ts_ns, st->hdr.ts_ns);
	/* 10, first seen going to sleep, asleep since */
	EXPECT_EQ(b + 9400, thread_stats(&self->k.seen, 10)->since_ns);
	EXPECT_EQ(0, thread_stats(&self->k.seen, 10)->oncpu_ns);
}

/*
 * The module sends no switch whose prev is untraced (idle, another process): thread 8,
 * switched in after the idle task, is taken to have run since it became runnable, woken
 * or preempted, when it is next seen running (a futex call returning, its switch-out,
 * its exit). A module that sends them (prev 0/0, as the BPF programs do) gives every
 * runnable time exactly.
 */
FIXTURE(unseen) {
	FIXTURE_DATA(kmod) k;
};

FIXTURE_VARIANT(unseen) {
	int every_switch;	/* the switches from untraced tasks are sent too */
};

FIXTURE_VARIANT_ADD(unseen, after_traced_only) { .every_switch = 0 };
FIXTURE_VARIANT_ADD(unseen, every_switch) { .every_switch = 1 };

FIXTURE_SETUP(unseen)
{
	memset(&self->k.seen, 0, sizeof(self->k.seen));
	open_source(_metadata, &self->k, 10000000000ULL);
}

FIXTURE_TEARDOWN(unseen)
{
	cw_source__free(self->k.src);
	close(self->k.wfd);
	free(self->k.seen.buf);
}

TEST_F(unseen, switch_in_after_untraced)
{
	struct {
		struct cw_ev_switch sw0, sw1;
		struct cw_ev_wakeup wk0;
		struct cw_ev_switch in0;
		struct cw_ev_futex fe;
		struct cw_ev_switch sw2, in1, sw3;
		struct cw_ev_wakeup wk1;
		struct cw_ev_switch in2;
		struct cw_ev_exit ex;
	} in = {
		swc(1000, 0, 10, CW_OFFCPU_SLEEP, 0, 8),
		swc(2000, 0, 8, CW_OFFCPU_FUTEX, FUTEX_WORD, 0),
		wkc(3000, 1, 8),
		swc(3500, 1, 0, 0, 0, 8),
		futexc(CW_EV_FUTEX_END, 3600, 1, 8),
		swc(5000, 1, 8, CW_OFFCPU_PREEMPTED, 0, 0),
		swc(6000, 0, 0, 0, 0, 8),
		swc(7000, 0, 8, CW_OFFCPU_SLEEP, 0, 0),
		wkc(8000, 0, 8),
		swc(8200, 0, 0, 0, 0, 8),
		exitc(9000, 0, 8),
	};

	if (variant->every_switch) {
		put(_metadata, self->k.wfd, &in, sizeof(in));
	} else {
		/* the module as it is: none of the three switch-ins after an untraced task */
		put(_metadata, self->k.wfd, &in, offsetof(typeof(in), in0));
		put(_metadata, self->k.wfd, &in.fe, offsetof(typeof(in), in1) -
						    offsetof(typeof(in), fe));
		put(_metadata, self->k.wfd, &in.sw3, offsetof(typeof(in), in2) -
						     offsetof(typeof(in), sw3));
		put(_metadata, self->k.wfd, &in.ex, sizeof(in.ex));
	}
	ASSERT_LT(0, drain(&self->k));
	if (variant->every_switch)
		expect_final(_metadata, &self->k.seen, (struct want_sched){
			.since = 1000, .exit = 9000,
			.oncpu = 1000 + 1500 + 1000 + 800, .runnable = 500 + 1000 + 200,
			.futex = 1000, .sleep = 1000, .runq_max = 1000, .runq = { 500, 1000, 200 },
			.voluntary = 2, .involuntary = 1, .wakeups = 2 });
	else
		expect_final(_metadata, &self->k.seen, (struct want_sched){
			.since = 1000, .exit = 9000,
			.oncpu = 1000 + 2000 + 2000 + 1000, .futex = 1000, .sleep = 1000,
			.voluntary = 2, .involuntary = 1, .wakeups = 2 });
}

/*
 * Woken on its way to sleep (the waking before its switch-out, which still says a futex
 * wait): runnable from the switch-out, as the BPF programs have it. Woken while running
 * with no sleep to end (its futex call returns, a record of it after the waking): its
 * next sleep is one.
 */
TEST_F(kmod, woken_on_its_way_to_sleep)
{
	struct {
		struct cw_ev_switch sw0;
		struct cw_ev_futex fb0;
		struct cw_ev_wakeup wk0;
		struct cw_ev_switch sw1, sw2;
		struct cw_ev_futex fe0, fb1;
		struct cw_ev_wakeup wk1;
		struct cw_ev_futex fe1, fb2;
		struct cw_ev_switch sw3;
		struct cw_ev_wakeup wk2;
		struct cw_ev_switch sw4;
		struct cw_ev_exit ex;
	} in = {
		swc(1000, 0, 9, CW_OFFCPU_SLEEP, 0, 8),
		futexc(CW_EV_FUTEX_BEGIN, 1900, 0, 8),
		wkc(2000, 1, 8),
		swc(2010, 0, 8, CW_OFFCPU_FUTEX, FUTEX_WORD, 9),
		swc(2500, 0, 9, CW_OFFCPU_PREEMPTED, 0, 8),
		futexc(CW_EV_FUTEX_END, 2600, 0, 8),
		futexc(CW_EV_FUTEX_BEGIN, 2900, 0, 8),
		wkc(3000, 1, 8),
		futexc(CW_EV_FUTEX_END, 3010, 0, 8),
		futexc(CW_EV_FUTEX_BEGIN, 3900, 0, 8),
		swc(4000, 0, 8, CW_OFFCPU_FUTEX, FUTEX_WORD, 0),
		wkc(6000, 1, 8),
		swc(6100, 1, 10, CW_OFFCPU_SLEEP, 0, 8),
		exitc(7000, 1, 8),
	};

	put(_metadata, self->wfd, &in, sizeof(in));
	ASSERT_LT(0, drain(self));
	expect_final(_metadata, &self->seen, (struct want_sched){
		.since = 1000, .exit = 7000,
		.oncpu = 1010 + 1500 + 900, .runnable = 490 + 100, .futex = 2000,
		.runq_max = 490, .runq = { 490, 100 },
		.voluntary = 2, .wakeups = 3 });
}

/*
 * While tracing goes on a drain stops reading after a quarter of a tick (here at once,
 * after one read) and the device stays readable for the rest; after stop one drain
 * reads everything, and ends the stream with the final tick, sent once.
 */
TEST(drain_bounded_until_stop)
{
	const size_t per_read = CW_KMOD_READ_BYTES / sizeof(struct cw_ev_switch);
	const size_t nr = 2 * per_read + 10;
	struct __test_metadata *m = _metadata;
	FIXTURE_DATA(kmod) self = {};
	struct cw_ev_switch *in;
	struct pollfd pfd;
	size_t i;

	open_source(m, &self, 4);
	in = calloc(nr, sizeof(*in));
	ASSERT_NE(NULL, in);
	for (i = 0; i < nr; i++)
		in[i] = sw(1000 + i, 0, 0);
	put(m, self.wfd, in, nr * sizeof(*in));

	ASSERT_LT(0, drain(&self));
	EXPECT_EQ(per_read, count_type(&self.seen, CW_EV_SCHED_SWITCH));
	pfd = (struct pollfd){ .fd = cw_source__fd(self.src), .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 0));

	ASSERT_LT(0, drain(&self));
	EXPECT_EQ(2 * per_read, count_type(&self.seen, CW_EV_SCHED_SWITCH));

	ASSERT_EQ(0, cw_source__stop(self.src));
	self.seen.nr = self.seen.len = 0;
	/* the last 10 records and the final tick */
	ASSERT_EQ(11, drain(&self));
	for (i = 0; i < 10; i++)
		EXPECT_EQ(0, memcmp(nth(&self.seen, i), &in[2 * per_read + i], sizeof(*in)));
	EXPECT_EQ(CW_EV_TICK, nth(&self.seen, 10)->type);
	ASSERT_EQ(0, drain(&self));

	free(in);
	free(self.seen.buf);
	cw_source__free(self.src);
	close(self.wfd);
}

/*
 * The module's handler for each function of the BPF source's probe table: the shape of
 * its BPF program, a return probe where the program has one, its cookie's kind and op;
 * free() (--track-free) has none, and the table ends after it.
 */
TEST(probe_table_shapes)
{
	static const struct {
		const char *func;
		__u32 shape, flags;
		__u8 kind, op;
	} want[] = {
#define ACQ CW_KMOD_P_ACQUIRE, CW_KMOD_P_RET
#define MX CW_LOCK_MUTEX
#define RW CW_LOCK_RWLOCK
		{ "pthread_mutex_lock", ACQ, MX, CW_OP_LOCK },
		{ "pthread_mutex_trylock", ACQ, MX, CW_OP_TRYLOCK },
		{ "pthread_mutex_timedlock", ACQ, MX, CW_OP_TIMEDLOCK },
		{ "pthread_mutex_clocklock", ACQ, MX, CW_OP_TIMEDLOCK },
		{ "pthread_mutex_unlock", CW_KMOD_P_RELEASE, 0, MX, 0 },
		{ "pthread_mutex_init", CW_KMOD_P_RESET, 0, MX, CW_OP_INIT },
		{ "pthread_mutex_destroy", CW_KMOD_P_RESET, 0, MX, CW_OP_DESTROY },
		{ "pthread_rwlock_rdlock", ACQ, RW, CW_OP_RDLOCK },
		{ "pthread_rwlock_tryrdlock", ACQ, RW, CW_OP_TRYRDLOCK },
		{ "pthread_rwlock_timedrdlock", ACQ, RW, CW_OP_TIMEDRDLOCK },
		{ "pthread_rwlock_clockrdlock", ACQ, RW, CW_OP_TIMEDRDLOCK },
		{ "pthread_rwlock_wrlock", ACQ, RW, CW_OP_WRLOCK },
		{ "pthread_rwlock_trywrlock", ACQ, RW, CW_OP_TRYWRLOCK },
		{ "pthread_rwlock_timedwrlock", ACQ, RW, CW_OP_TIMEDWRLOCK },
		{ "pthread_rwlock_clockwrlock", ACQ, RW, CW_OP_TIMEDWRLOCK },
		{ "pthread_rwlock_unlock", CW_KMOD_P_RELEASE, 0, RW, 0 },
		{ "pthread_rwlock_init", CW_KMOD_P_RESET, 0, RW, CW_OP_INIT },
		{ "pthread_rwlock_destroy", CW_KMOD_P_RESET, 0, RW, CW_OP_DESTROY },
		{ "pthread_spin_lock", CW_KMOD_P_SPIN_TAKEN, 0, 0, 0 },
		{ "pthread_spin_trylock", ACQ, CW_LOCK_SPIN, CW_OP_TRYLOCK },
		{ "pthread_spin_unlock", CW_KMOD_P_RELEASE, 0, CW_LOCK_SPIN, 0 },
		{ "pthread_cond_wait", CW_KMOD_P_COND_WAIT, CW_KMOD_P_RET, 0, 0 },
		{ "pthread_cond_timedwait", CW_KMOD_P_COND_WAIT, CW_KMOD_P_RET, 0, 0 },
		{ "pthread_cond_clockwait", CW_KMOD_P_COND_WAIT, CW_KMOD_P_RET, 0, 0 },
#undef ACQ
#undef MX
#undef RW
	};
	const size_t nr = sizeof(want) / sizeof(want[0]);
	struct cw_probe_info p;
	__u32 shape, flags;

	ASSERT_EQ(nr, cw_bpf_probes__nr());
	for (size_t i = 0; i < nr; i++) {
		ASSERT_EQ(0, cw_bpf_probes__get(i, &p));
		EXPECT_STREQ(want[i].func, p.func);
		shape = flags = 0xdead;
		ASSERT_EQ(0, cw_kmod_probe_shape(&p, &shape, &flags)) TH_LOG("%s", p.func);
		EXPECT_EQ(want[i].shape, shape) TH_LOG("%s", p.func);
		EXPECT_EQ(want[i].flags, flags) TH_LOG("%s", p.func);
		EXPECT_EQ(want[i].kind, p.kind) TH_LOG("%s", p.func);
		EXPECT_EQ(want[i].op, p.op) TH_LOG("%s", p.func);
		EXPECT_EQ(0, p.track_free);
	}
	ASSERT_EQ(0, cw_bpf_probes__get(nr, &p));
	EXPECT_STREQ("free", p.func);
	EXPECT_EQ(1, p.track_free);
	EXPECT_EQ(-ENOENT, cw_kmod_probe_shape(&p, &shape, &flags));
	EXPECT_EQ(-ENOENT, cw_bpf_probes__get(nr + 1, &p));
}

/* Without the device nothing can be started; with an option it cannot honour, no source. */
TEST(refusals)
{
	struct cw_source_opts opts = { .backend = "kmod", .track_free = 1 };
	struct cw_source *src = NULL;
	char err[256] = "";
	int fds[2];

	ASSERT_EQ(0, pipe2(fds, O_NONBLOCK | O_CLOEXEC));
	EXPECT_EQ(-EINVAL, cw_kmod_source__open_fd(&opts, fds[0], &src, err, sizeof(err)));
	EXPECT_STREQ("--track-free probes free() with a uprobe: the kernel module does not "
		     "probe it", err);
	/* the descriptor was the source's: closed */
	EXPECT_EQ(-1, fcntl(fds[0], F_GETFD));

	opts.track_free = 0;
	ASSERT_EQ(0, pipe2(fds, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, cw_kmod_source__open_fd(&opts, fds[0], &src, err, sizeof(err)));
	EXPECT_EQ(-ENODEV, cw_source__start(src));
	EXPECT_EQ(-EINVAL, cw_source__add_process(src, 1));
	EXPECT_STREQ("cannot trace process 1: tracing has not started", cw_source__error(src));
	EXPECT_EQ(-ENOENT, cw_source__remove_process(src, 1));
	EXPECT_STREQ("process 1 is not traced", cw_source__error(src));
	cw_source__free(src);
	close(fds[1]);
}

/* The device itself, where the module is not loaded: how to load it, in one line. */
TEST(no_module)
{
	struct cw_source_opts opts = { .backend = "kmod" };
	struct cw_source *src = NULL;
	const char *want = "the kmod backend needs the concwatch module: build it with 'make kmod' "
			   "(make -C kmod KDIR=/lib/modules/$(uname -r)/build) and load it with "
			   "'insmod build/kmod/";
	char err[512] = "";

	if (!access("/dev/concwatch", F_OK))
		SKIP(return, "/dev/concwatch exists here");
	ASSERT_EQ(-ENODEV, cw_kmod_source__open(&opts, &src, err, sizeof(err)));
	EXPECT_EQ(0, strncmp(err, want, strlen(want))) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "/concwatch.ko'"));
	EXPECT_EQ(NULL, src);
}

TEST_HARNESS_MAIN
