// SPDX-License-Identifier: GPL-2.0
/*
 * Futex waits and kernel lock contention, aggregated in the kernel (lock_sites) and sent
 * as CW_EV_LOCK_STATS records, checked record by record as the source sends them:
 *  - wl_futexwait's waiter waits on a word with known outcomes (EAGAIN, timed out,
 *    woken): its thread's CW_SITE_FUTEX figures say exactly that;
 *  - a thread blocked on a held mutex, and one on a held PI mutex: their waits name
 *    the holder (owner_tid) read from the mutex at the wait;
 *  - the uprobe view of the same mutex counts the trylock that found it busy;
 *  - under --no-uprobes no uprobe record at all, the futex figures all the same;
 *  - wl_klock's threads contend for their mmap_lock: CW_SITE_KLOCK figures, flagged
 *    as the mmap_lock, with the kernel stack sent.
 * Nothing per operation crosses the ring buffer unless raw_events asks for it.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "cw_maps.h"
#include "source/session.h"

#define LCB_F_READ (1U << 1)	/* include/trace/events/lock.h */
#define LCB_F_WRITE (1U << 2)

/* What the sink saw. */
struct seen {
	struct cw_ev_lock_stats *st;
	size_t nr, cap;
	__u64 by_type[CW_EV_TYPE_MAX];
	__u64 lost;
	__u64 ticks, ticks_no_uprobes;
	__u64 *kstacks;		/* ids of the kernel stacks sent */
	size_t nr_kstacks, cap_kstacks;
	struct cw_ev_futex *futex_ends;
	size_t nr_futex_ends, cap_futex_ends;
};

static void *grow(void *v, size_t *cap, size_t nr, size_t size)
{
	if (nr < *cap)
		return v;
	*cap = *cap ? 2 * *cap : 64;
	return realloc(v, *cap * size);
}

static int sink(void *ctx, const struct cw_hdr *h)
{
	struct seen *s = ctx;

	if (h->type < CW_EV_TYPE_MAX)
		s->by_type[h->type]++;
	switch (h->type) {
	case CW_EV_LOCK_STATS:
		s->st = grow(s->st, &s->cap, s->nr, sizeof(*s->st));
		if (!s->st)
			return -ENOMEM;
		s->st[s->nr++] = *(const struct cw_ev_lock_stats *)h;
		break;
	case CW_EV_STACK: {
		const struct cw_ev_stack *k = (const void *)h;

		if (k->space != CW_STACK_KERNEL)
			break;
		s->kstacks = grow(s->kstacks, &s->cap_kstacks, s->nr_kstacks, sizeof(__u64));
		if (!s->kstacks)
			return -ENOMEM;
		s->kstacks[s->nr_kstacks++] = k->stack_id;
		break;
	}
	case CW_EV_FUTEX_END:
		s->futex_ends = grow(s->futex_ends, &s->cap_futex_ends, s->nr_futex_ends,
				     sizeof(*s->futex_ends));
		if (!s->futex_ends)
			return -ENOMEM;
		s->futex_ends[s->nr_futex_ends++] = *(const struct cw_ev_futex *)h;
		break;
	case CW_EV_LOST:
		s->lost += ((const struct cw_ev_lost *)h)->count;
		break;
	case CW_EV_TICK:
		s->ticks++;
		s->ticks_no_uprobes += !!(h->flags & CW_F_NO_UPROBES);
		break;
	}
	return 0;
}

static void seen_free(struct seen *s)
{
	free(s->st);
	free(s->kstacks);
	free(s->futex_ends);
	memset(s, 0, sizeof(*s));
}

/* The figures of every record of one (what, thread, object), summed: they are deltas. */
struct sum {
	__u64 records, acquisitions, contentions, failures, wait_ns_total, wait_ns_max, hist;
	__u64 outcomes[CW_FUTEX_OUTCOMES];
	__u32 owner_tid, op, flags, kind;
	__u64 stack_id;		/* of the latest record */
	size_t paths;		/* distinct stack ids */
};

static struct sum sum_of(const struct seen *s, __u8 what, __u32 pid, __u32 tid, __u64 addr)
{
	struct sum r = {};
	__u64 ids[64];

	for (size_t i = 0; i < s->nr; i++) {
		const struct cw_ev_lock_stats *e = &s->st[i];
		size_t k;

		if (e->what != what || e->hdr.pid != pid || e->hdr.tid != tid || e->addr != addr)
			continue;
		r.records++;
		r.acquisitions += e->acquisitions;
		r.contentions += e->contentions;
		r.failures += e->failures;
		r.wait_ns_total += e->wait_ns_total;
		if (e->wait_ns_max > r.wait_ns_max)
			r.wait_ns_max = e->wait_ns_max;
		for (int b = 0; b < CW_HIST_BUCKETS; b++)
			r.hist += e->wait_hist[b];
		for (int o = 0; o < CW_FUTEX_OUTCOMES; o++)
			r.outcomes[o] += e->outcomes[o];
		r.owner_tid = e->owner_tid;
		r.op = e->op;
		r.flags |= e->flags;
		r.kind = e->kind;
		r.stack_id = e->stack_id;
		for (k = 0; k < r.paths && ids[k] != e->stack_id; k++)
			;
		if (k == r.paths && r.paths < 64)
			ids[r.paths++] = e->stack_id;
	}
	return r;
}

static size_t count_what(const struct seen *s, __u8 what, __u32 pid)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nr; i++)
		n += s->st[i].what == what && s->st[i].hdr.pid == pid;
	return n;
}

FIXTURE(futexwait)
{
	struct cw_wl wl;
	struct cw_session *sess;
	struct seen seen;
	long pid, waiter, locker, pilocker, futex2;
	unsigned long long word, mutex, pimutex;
};

FIXTURE_VARIANT(futexwait)
{
	int raw_events;
	int no_uprobes;
};

FIXTURE_VARIANT_ADD(futexwait, aggregated)
{
};

FIXTURE_VARIANT_ADD(futexwait, raw_events)
{
	.raw_events = 1,
};

FIXTURE_VARIANT_ADD(futexwait, no_uprobes)
{
	.no_uprobes = 1,
};

FIXTURE_SETUP(futexwait)
{
	struct cw_source_opts opts = { .raw_events = variant->raw_events,
				       .no_uprobes = variant->no_uprobes };
	const char *why = cw_live_skip_reason();
	char err[256] = "", line[256];
	struct cw_drain d;

	memset(self, 0, sizeof(*self));
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, cw_wl__start(&self->wl, "wl_futexwait", NULL));
	self->pid = cw_field(self->wl.ready, "pid");
	self->word = cw_field(self->wl.ready, "word");
	self->mutex = cw_field(self->wl.ready, "mutex");
	self->pimutex = cw_field(self->wl.ready, "pimutex");
	opts.pid = self->pid;
	ASSERT_EQ(0, cw_trace__open(&opts, sink, &self->seen, &self->sess, err, sizeof(err)))
		TH_LOG("session: %s", err);
	ASSERT_EQ(0, cw_drain__start(&d, self->sess));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "armed", line, sizeof(line)));
	self->waiter = cw_field(line, "waiter");
	self->locker = cw_field(line, "locker");
	self->pilocker = cw_field(line, "pilocker");
	self->futex2 = cw_field(line, "futex2");
	/* each really asleep in futex(2) before anything is released */
	ASSERT_EQ(0, cw_wait_futex_blocked(self->pid, self->waiter));
	ASSERT_EQ(0, cw_wait_futex_blocked(self->pid, self->locker));
	ASSERT_EQ(0, cw_wait_futex_blocked(self->pid, self->pilocker));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "release"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "done", self->wl.done, sizeof(self->wl.done)));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	/* the calls ended before "done": the last read of lock_sites has them all */
	ASSERT_EQ(0, cw_session__finish(self->sess));
	ASSERT_EQ(1, cw_field(self->wl.done, "eagain"));
	ASSERT_EQ(1, cw_field(self->wl.done, "timedout"));
	ASSERT_EQ(1, cw_field(self->wl.done, "woken"));
}

FIXTURE_TEARDOWN(futexwait)
{
	cw_session__free(self->sess);
	seen_free(&self->seen);
	if (self->wl.pid > 0)
		cw_wl__stop(&self->wl);
}

/*
 * The waiter's calls on its word: EAGAIN (futex, and futex_wait(2) where the kernel has
 * it), a timeout, a wake-up; each a blocking call, two slept, one timed out, every one in
 * the histogram, from that thread alone.
 */
static void waits_on_a_word(struct __test_metadata *_metadata,
			    FIXTURE_DATA(futexwait) *self, const FIXTURE_VARIANT(futexwait) *variant)
{
	struct sum w;

	ASSERT_EQ(0, self->seen.lost);
	w = sum_of(&self->seen, CW_SITE_FUTEX, self->pid, self->waiter, self->word);
	ASSERT_LT(0, w.records) TH_LOG("no futex statistics for the waiter's word");
	EXPECT_EQ(3 + self->futex2, w.acquisitions);
	EXPECT_EQ(2, w.contentions);
	EXPECT_EQ(1, w.failures);
	EXPECT_EQ(1 + self->futex2, w.outcomes[CW_FUTEX_EAGAIN]);
	EXPECT_EQ(1, w.outcomes[CW_FUTEX_TIMEDOUT]);
	EXPECT_EQ(1, w.outcomes[CW_FUTEX_WOKEN]);
	EXPECT_EQ(0, w.outcomes[CW_FUTEX_EINTR]);
	EXPECT_EQ(w.contentions, w.hist);	/* the waits that slept: not the EAGAIN */
	/* the timed wait alone lasted 1 ms */
	EXPECT_LE(1000000, w.wait_ns_max);
	EXPECT_LE(w.wait_ns_max, w.wait_ns_total);
	EXPECT_EQ(CW_LOCK_FUTEX, w.kind);
	EXPECT_EQ(0, w.flags & CW_SITE_F_NO_STACK);
	EXPECT_NE(0, w.stack_id);
	/* nobody else waited on it; the waiter's other waits are other words */
	for (size_t i = 0; i < self->seen.nr; i++) {
		const struct cw_ev_lock_stats *e = &self->seen.st[i];

		if (e->what == CW_SITE_FUTEX && e->addr == self->word)
			EXPECT_EQ(self->waiter, e->hdr.tid);
	}
}

/* A thread blocked on a held mutex: one wait, woken, naming the holder from __owner. */
static void mutex_wait_names_owner(struct __test_metadata *_metadata,
				   FIXTURE_DATA(futexwait) *self, const FIXTURE_VARIANT(futexwait) *variant)
{
	struct sum m;

	m = sum_of(&self->seen, CW_SITE_FUTEX, self->pid, self->locker, self->mutex);
	ASSERT_LT(0, m.records) TH_LOG("no futex statistics for the locker on the mutex");
	EXPECT_EQ(1, m.acquisitions);
	EXPECT_EQ(1, m.contentions);
	EXPECT_EQ(0, m.failures);
	EXPECT_EQ(1, m.outcomes[CW_FUTEX_WOKEN]);
	EXPECT_EQ(1, m.hist);
	EXPECT_EQ(FUTEX_WAIT, m.op & FUTEX_CMD_MASK);
	EXPECT_EQ(self->pid, m.owner_tid) TH_LOG("the main thread holds it");
}

/* The same on a priority-inheritance mutex: FUTEX_LOCK_PI, the owner from the word. */
static void pi_mutex_wait_names_owner(struct __test_metadata *_metadata,
				      FIXTURE_DATA(futexwait) *self, const FIXTURE_VARIANT(futexwait) *variant)
{
	struct sum m;

	m = sum_of(&self->seen, CW_SITE_FUTEX, self->pid, self->pilocker, self->pimutex);
	ASSERT_LT(0, m.records) TH_LOG("no futex statistics for the PI locker");
	EXPECT_EQ(1, m.acquisitions);
	EXPECT_EQ(1, m.outcomes[CW_FUTEX_WOKEN]);
	EXPECT_EQ(FUTEX_LOCK_PI, m.op & FUTEX_CMD_MASK);
	EXPECT_EQ(self->pid, m.owner_tid);
}

/*
 * The uprobe view of the mutex: the trylock that found it busy is a failure, the lock a
 * contended acquisition; both waits in the histogram. Without uprobes, none of it, and
 * no per-operation lock record either; with raw_events, operations instead of figures.
 */
static void uprobe_view(struct __test_metadata *_metadata,
			FIXTURE_DATA(futexwait) *self, const FIXTURE_VARIANT(futexwait) *variant)
{
	const struct seen *s = &self->seen;
	struct sum a;

	a = sum_of(s, CW_SITE_ACQUIRE, self->pid, 0, self->mutex);
	if (variant->no_uprobes || variant->raw_events) {
		EXPECT_EQ(0, count_what(s, CW_SITE_ACQUIRE, self->pid));
		if (variant->raw_events)
			EXPECT_LT(0, s->by_type[CW_EV_LOCK_ACQUIRED]);
	} else {
		ASSERT_LT(0, a.records);
		EXPECT_EQ(1, a.acquisitions);
		EXPECT_EQ(1, a.contentions);
		EXPECT_EQ(1, a.failures);
		EXPECT_EQ(2, a.hist);
		EXPECT_EQ(CW_LOCK_MUTEX, a.kind);
	}
	if (variant->no_uprobes) {
		EXPECT_EQ(0, s->by_type[CW_EV_LOCK_BEGIN]);
		EXPECT_EQ(0, s->by_type[CW_EV_LOCK_ACQUIRED]);
		EXPECT_EQ(0, s->by_type[CW_EV_LOCK_RELEASED]);
		EXPECT_EQ(0, s->by_type[CW_EV_LOCK_INIT]);
		EXPECT_EQ(0, s->by_type[CW_EV_LOCK_DESTROY]);
		EXPECT_EQ(0, s->by_type[CW_EV_LOCK_EDGE]);
		/* every tick says how the stream was made */
		EXPECT_LT(0, s->ticks);
		EXPECT_EQ(s->ticks, s->ticks_no_uprobes);
	} else {
		EXPECT_EQ(0, s->ticks_no_uprobes);
	}
}

/* Per-operation futex records only when asked for: then one END per call of the waiter. */
static void raw_records_only_when_asked(struct __test_metadata *_metadata,
					FIXTURE_DATA(futexwait) *self, const FIXTURE_VARIANT(futexwait) *variant)
{
	const struct seen *s = &self->seen;
	size_t n = 0;

	if (!variant->raw_events) {
		EXPECT_EQ(0, s->by_type[CW_EV_FUTEX_BEGIN]);
		EXPECT_EQ(0, s->by_type[CW_EV_FUTEX_END]);
		EXPECT_EQ(0, s->by_type[CW_EV_KLOCK_BEGIN]);
		EXPECT_EQ(0, s->by_type[CW_EV_KLOCK_END]);
		return;
	}
	for (size_t i = 0; i < s->nr_futex_ends; i++) {
		const struct cw_ev_futex *e = &s->futex_ends[i];

		if (e->hdr.tid != self->waiter || e->uaddr != self->word)
			continue;
		n++;
		EXPECT_NE(0, e->stack_id);
	}
	EXPECT_EQ(3 + self->futex2, n);
	EXPECT_EQ(s->by_type[CW_EV_FUTEX_BEGIN], s->by_type[CW_EV_FUTEX_END]);
}

/*
 * One test per way of tracing: each setup runs the workload under a new session, which
 * under QEMU's TCG takes most of the default 30 s with uprobes (loading and attaching).
 */
TEST_F_TIMEOUT(futexwait, aggregated_facts, 300)
{
	CW_SKIPPED_IN_SETUP();
	waits_on_a_word(_metadata, self, variant);
	mutex_wait_names_owner(_metadata, self, variant);
	pi_mutex_wait_names_owner(_metadata, self, variant);
	uprobe_view(_metadata, self, variant);
	raw_records_only_when_asked(_metadata, self, variant);
}

/* The tests below start their own workloads and sessions. */
FIXTURE(own)
{
	int unused;
};

FIXTURE_SETUP(own)
{
	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
}

FIXTURE_TEARDOWN(own)
{
}

/*
 * A thread's own entries (its futex waits) leave the kernel's map once it has exited and
 * its last figures were sent: a server starting a thread per connection must not fill
 * it. The process's entries stay while it lives.
 */
TEST_F_TIMEOUT(own, exited_thread_entries_dropped, 300)
{
	struct cw_source_opts opts = {};
	struct cw_session *sess = NULL;
	long waiter, locker, pilocker;
	struct seen s = {};
	char err[256] = "", line[256];
	struct cw_wl wl;
	__u64 ticks;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_futexwait", NULL));
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, sink, &s, &sess, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, cw_wl__send(&wl, "go"));
	ASSERT_EQ(0, cw_wl__expect(&wl, "armed", line, sizeof(line)));
	waiter = cw_field(line, "waiter");
	locker = cw_field(line, "locker");
	pilocker = cw_field(line, "pilocker");
	ASSERT_EQ(0, cw_wait_futex_blocked(wl.pid, waiter));
	ASSERT_EQ(0, cw_wait_futex_blocked(wl.pid, locker));
	ASSERT_EQ(0, cw_wait_futex_blocked(wl.pid, pilocker));
	/* read while they wait: their entries are in the map */
	ticks = s.ticks + 2;
	while (s.ticks < ticks)
		ASSERT_EQ(CW_SESSION_DEADLINE, cw_session__run(sess, cw_now_ns() + 50000000ULL, NULL));
	ASSERT_LT(0, cw_lock_sites_of(wl.pid, waiter));
	ASSERT_EQ(0, cw_wl__send(&wl, "release"));
	ASSERT_EQ(0, cw_wl__expect(&wl, "done", line, sizeof(line)));
	/* joined: exited; two reads later their entries are gone, their figures sent */
	ticks = s.ticks + 3;
	while (s.ticks < ticks)
		ASSERT_EQ(CW_SESSION_DEADLINE, cw_session__run(sess, cw_now_ns() + 50000000ULL, NULL));
	EXPECT_EQ(0, cw_lock_sites_of(wl.pid, waiter));
	EXPECT_EQ(0, cw_lock_sites_of(wl.pid, locker));
	EXPECT_EQ(0, cw_lock_sites_of(wl.pid, pilocker));
	ASSERT_EQ(0, cw_session__finish(sess));
	EXPECT_EQ(1, sum_of(&s, CW_SITE_FUTEX, wl.pid, locker, cw_field(wl.ready, "mutex"))
			     .acquisitions);
	EXPECT_EQ(1, sum_of(&s, CW_SITE_FUTEX, wl.pid, waiter, cw_field(wl.ready, "word"))
			     .outcomes[CW_FUTEX_WOKEN]);
	cw_session__free(sess);
	seen_free(&s);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

/* The kernel stack of a site: sent before any record needs it. */
static int kstack_sent(const struct seen *s, __u64 id)
{
	for (size_t i = 0; i < s->nr_kstacks; i++)
		if (s->kstacks[i] == id)
			return 1;
	return 0;
}

/* A kernel lock site's records summed: figures read while the lock is busy may be torn. */
struct klock_sum {
	__u64 addr, stack_id, acquisitions, contentions, hist;
};

struct klock_sums {
	struct klock_sum *v;
	size_t nr;
};

static int klock_sum_add(struct klock_sums *t, const struct cw_ev_lock_stats *e)
{
	struct klock_sum *k = NULL;

	for (size_t i = 0; i < t->nr && !k; i++)
		if (t->v[i].addr == e->addr && t->v[i].stack_id == e->stack_id)
			k = &t->v[i];
	if (!k) {
		k = realloc(t->v, (t->nr + 1) * sizeof(*k));
		if (!k)
			return -ENOMEM;
		t->v = k;
		k = &t->v[t->nr++];
		*k = (struct klock_sum){ .addr = e->addr, .stack_id = e->stack_id };
	}
	k->acquisitions += e->acquisitions;
	k->contentions += e->contentions;
	for (int b = 0; b < CW_HIST_BUCKETS; b++)
		k->hist += e->wait_hist[b];
	return 0;
}

/*
 * wl_klock's threads map and unmap memory until they contend for their process's
 * mmap_lock (an rwsem): kernel lock figures flagged CW_SITE_F_MMAP_LOCK, of one lock
 * (one process, one mm), with its read/write flags, and their kernel stacks sent. A read
 * races the programs' updates, so one record's figures may be torn; a site's sum, read
 * last with the process quiet, is exact: every wait counted once, in the histogram too.
 */
TEST_F_TIMEOUT(own, klock_mmap_lock, 300)
{
	struct cw_source_opts opts = {};
	struct klock_sums sums = {};
	struct cw_session *sess = NULL;
	struct seen s = {};
	__u64 mmap_lock = 0, ticks;
	char err[256] = "", line[64];
	struct cw_wl wl;
	size_t found = 0;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_klock", NULL));
	opts.pid = wl.pid;
	opts.no_uprobes = 1; /* kernel locks need none */
	ASSERT_EQ(0, cw_trace__open(&opts, sink, &s, &sess, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(0, cw_wl__go(&wl));
	for (int tries = 0; !found && tries < 600; tries++) {
		ASSERT_EQ(CW_SESSION_DEADLINE, cw_session__run(sess, cw_now_ns() + 50000000ULL, NULL));
		for (size_t i = 0; i < s.nr && !found; i++)
			found = s.st[i].what == CW_SITE_KLOCK &&
				(s.st[i].flags & CW_SITE_F_MMAP_LOCK);
	}
	ASSERT_TRUE(found) TH_LOG("no mmap_lock contention in 30 s");
	/* quiet, then one more read: the last figures are final */
	ASSERT_EQ(0, cw_wl__send(&wl, "stop"));
	ASSERT_EQ(0, cw_wl__expect(&wl, "stopped", line, sizeof(line)));
	ticks = s.ticks + 2;
	while (s.ticks < ticks)
		ASSERT_EQ(CW_SESSION_DEADLINE, cw_session__run(sess, cw_now_ns() + 50000000ULL, NULL));
	ASSERT_EQ(0, cw_session__finish(sess));
	for (size_t i = 0; i < s.nr; i++) {
		const struct cw_ev_lock_stats *e = &s.st[i];

		if (e->what != CW_SITE_KLOCK)
			continue;
		ASSERT_EQ(wl.pid, e->hdr.pid);
		EXPECT_EQ(0, e->hdr.tid);
		EXPECT_EQ(CW_LOCK_KERNEL, e->kind);
		ASSERT_EQ(0, klock_sum_add(&sums, e));
		if (!(e->flags & CW_SITE_F_NO_STACK)) {
			EXPECT_NE(0, e->stack_id);
			EXPECT_TRUE(kstack_sent(&s, e->stack_id))
				TH_LOG("kernel stack %llx not sent", (unsigned long long)e->stack_id);
		}
		if (!(e->flags & CW_SITE_F_MMAP_LOCK))
			continue;
		/* one process, one mm, one mmap_lock: an rwsem, taken to read or to write */
		if (!mmap_lock)
			mmap_lock = e->addr;
		EXPECT_EQ(mmap_lock, e->addr);
		EXPECT_NE(0, e->op & (LCB_F_READ | LCB_F_WRITE));
	}
	for (size_t i = 0; i < sums.nr; i++) {
		EXPECT_EQ(sums.v[i].acquisitions, sums.v[i].contentions);
		EXPECT_EQ(sums.v[i].acquisitions, sums.v[i].hist);
	}
	free(sums.v);
	EXPECT_EQ(0, s.by_type[CW_EV_KLOCK_BEGIN]);
	EXPECT_EQ(0, s.by_type[CW_EV_KLOCK_END]);
	cw_session__free(sess);
	seen_free(&s);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
