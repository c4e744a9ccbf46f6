// SPDX-License-Identifier: GPL-2.0
/*
 * What the BPF source says of acquires that block, in the default aggregated mode:
 *  - wl_deadlock -w, traced from before its threads take their first lock and left to
 *    deadlock ABBA: exactly two CW_EV_BLOCKED records, each thread on its second lock
 *    naming the other as the owner, and both lock-order dependencies, made when each
 *    thread began to wait, though neither second acquisition ever succeeds; a
 *    recording of it read back holds the same records;
 *  - wl_contend (three threads on two mutexes, not a deadlock): every blocked record of a
 *    thread is followed by the record that ends it (reason NONE, the same lock), before
 *    that thread blocks again.
 */
#include <errno.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "source/recording.h"
#include "source/session.h"

/* What the sink saw, in the order it saw it; written to rec too when set. */
struct seen {
	pthread_mutex_t mu;
	struct cw_recorder *rec;
	struct cw_ev_blocked *blk;
	size_t nr_blk, cap_blk;
	struct cw_ev_edge *edges;
	size_t nr_edges, cap_edges;
	__u64 lost;
	__u64 nr_lock_records;	/* CW_EV_LOCK_* per operation: none in this mode */
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
	int err = 0;

	pthread_mutex_lock(&s->mu);
	if (s->rec)
		err = cw_recorder__write(s->rec, h);
	switch (h->type) {
	case CW_EV_BLOCKED:
		s->blk = grow(s->blk, &s->cap_blk, s->nr_blk, sizeof(*s->blk));
		if (!s->blk) {
			err = -ENOMEM;
			break;
		}
		s->blk[s->nr_blk++] = *(const struct cw_ev_blocked *)h;
		break;
	case CW_EV_LOCK_EDGE:
		s->edges = grow(s->edges, &s->cap_edges, s->nr_edges, sizeof(*s->edges));
		if (!s->edges) {
			err = -ENOMEM;
			break;
		}
		s->edges[s->nr_edges++] = *(const struct cw_ev_edge *)h;
		break;
	case CW_EV_LOCK_BEGIN:
	case CW_EV_LOCK_ACQUIRED:
	case CW_EV_LOCK_RELEASED:
		s->nr_lock_records++;
		break;
	case CW_EV_LOST:
		s->lost += ((const struct cw_ev_lost *)h)->count;
		break;
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

static size_t nr_blocked(struct seen *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nr_blk;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* The waits seen to end (reason NONE records): each is one acquire that blocked. */
static size_t nr_ended(struct seen *s)
{
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nr_blk; i++)
		n += s->blk[i].reason == CW_OFFCPU_NONE;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void seen_free(struct seen *s)
{
	free(s->blk);
	free(s->edges);
}

/* Read the recording file back through the replay source, as `report FILE` does. */
static int replay(const char *file, struct seen *out)
{
	struct cw_session *sess = NULL;
	struct cw_source *src;
	char err[256];
	int ret;

	ret = cw_replay__open(file, &src, err, sizeof(err));
	if (ret)
		return ret;
	ret = cw_session__open(&(struct cw_session_opts){}, src, sink, out, &sess, err,
			       sizeof(err));
	if (!ret)
		ret = cw_session__run(sess, 0, NULL) == CW_SESSION_ENDED ? 0 : -EIO;
	if (!ret)
		ret = cw_session__finish(sess);
	cw_session__free(sess);
	return ret;
}

/* Edges from -> to sent by thread tid. */
static size_t edges_of(const struct seen *s, __u32 tid, __u64 from, __u64 to)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nr_edges; i++)
		n += s->edges[i].hdr.tid == tid && s->edges[i].from_addr == from &&
		     s->edges[i].to_addr == to;
	return n;
}

FIXTURE(blocked)
{
	struct cw_wl wl;
	struct cw_session *sess;
	struct seen seen;
	int pid;
};

FIXTURE_SETUP(blocked)
{
	memset(self, 0, sizeof(*self));
	pthread_mutex_init(&self->seen.mu, NULL);
	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
}

FIXTURE_TEARDOWN(blocked)
{
	cw_session__free(self->sess);
	cw_recorder__close(self->seen.rec, NULL);
	if (self->wl.pid > 0)
		cw_wl__stop(&self->wl);
	seen_free(&self->seen);
}

/* Trace the workload started in self->wl, in the default (aggregated) mode. */
static int trace(FIXTURE_DATA(blocked) *self, char *err, size_t len)
{
	struct cw_source_opts opts = {};

	self->pid = cw_field(self->wl.ready, "pid");
	opts.pid = self->pid;
	return cw_trace__open(&opts, sink, &self->seen, &self->sess, err, len);
}

TEST_F_TIMEOUT(blocked, deadlock, 300)
{
	const char *const args[] = { "-w", NULL };
	unsigned long long lock_1, lock_2;
	struct seen *s = &self->seen;
	char err[256] = "", armed[512], file[] = "/tmp/cw-blocked." CW_TMP_X;
	struct seen again = {};
	int fd;
	const struct cw_ev_blocked *ba = NULL, *bb = NULL;
	long tid_a, tid_b;
	struct cw_drain d;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, cw_wl__start(&self->wl, "wl_deadlock", args));
	lock_1 = cw_field(self->wl.ready, "lock_1");
	lock_2 = cw_field(self->wl.ready, "lock_2");
	fd = mkstemp(file);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, cw_recorder__open(file, &(struct cw_rec_meta){ .pid = self->wl.pid },
				       &s->rec));
	ASSERT_EQ(0, trace(self, err, sizeof(err))) TH_LOG("session: %s", err);
	ASSERT_EQ(0, cw_drain__start(&d, self->sess));
	/* the threads start only now: the tracer sees them take their first locks */
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "armed", armed, sizeof(armed)));
	tid_a = cw_field(armed, "tid_a");
	tid_b = cw_field(armed, "tid_b");
	ASSERT_LT(0, tid_a);
	ASSERT_LT(0, tid_b);
	/*
	 * Both asleep in futex(2) on their second lock; their records go out as they are
	 * switched out, which /proc may show a moment before: wait for the two of them.
	 */
	ASSERT_EQ(0, cw_wait_futex_blocked(self->pid, tid_a));
	ASSERT_EQ(0, cw_wait_futex_blocked(self->pid, tid_b));
	while (nr_blocked(s) < 2)
		sched_yield();
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	ASSERT_EQ(0, cw_session__finish(self->sess));
	ASSERT_EQ(0, cw_recorder__close(s->rec, NULL));
	s->rec = NULL;

	/* the recording read back holds the same records, in the same order */
	pthread_mutex_init(&again.mu, NULL);
	EXPECT_EQ(0, replay(file, &again));
	unlink(file);
	EXPECT_EQ(s->nr_blk, again.nr_blk);
	EXPECT_EQ(s->nr_edges, again.nr_edges);
	if (s->nr_blk == again.nr_blk)
		EXPECT_EQ(0, memcmp(s->blk, again.blk, s->nr_blk * sizeof(*s->blk)));
	if (s->nr_edges == again.nr_edges)
		EXPECT_EQ(0, memcmp(s->edges, again.edges, s->nr_edges * sizeof(*s->edges)));
	seen_free(&again);

	EXPECT_EQ(0, s->lost);
	EXPECT_EQ(0, s->nr_lock_records);
	ASSERT_EQ(2, s->nr_blk);
	for (size_t i = 0; i < 2; i++) {
		if (s->blk[i].hdr.tid == tid_a)
			ba = &s->blk[i];
		if (s->blk[i].hdr.tid == tid_b)
			bb = &s->blk[i];
	}
	ASSERT_NE(NULL, ba);
	ASSERT_NE(NULL, bb);
	/* dl-a waits for lock_2, held by dl-b; dl-b for lock_1, held by dl-a */
	EXPECT_EQ(self->pid, ba->hdr.pid);
	EXPECT_EQ(lock_2, ba->addr);
	EXPECT_EQ(tid_b, ba->owner_tid);
	EXPECT_EQ(self->pid, bb->hdr.pid);
	EXPECT_EQ(lock_1, bb->addr);
	EXPECT_EQ(tid_a, bb->owner_tid);
	for (const struct cw_ev_blocked *b = ba; b; b = b == ba ? bb : NULL) {
		EXPECT_EQ(CW_OFFCPU_LOCK, b->reason);
		EXPECT_EQ(CW_LOCK_MUTEX, b->kind);
		EXPECT_EQ(CW_OP_LOCK, b->op);
		EXPECT_EQ(0, b->hdr.flags & CW_F_SYNTHETIC);
		EXPECT_NE(0, b->stack_id);
		EXPECT_NE(0, b->since_ns);
		EXPECT_LE(b->since_ns, b->hdr.ts_ns);
	}
	/* the two acquires are at different call paths */
	EXPECT_NE(ba->stack_id, bb->stack_id);

	/* both dependencies, though neither second acquisition succeeded; nothing else */
	EXPECT_EQ(1, edges_of(s, tid_a, lock_1, lock_2));
	EXPECT_EQ(1, edges_of(s, tid_b, lock_2, lock_1));
	EXPECT_EQ(2, s->nr_edges);
	for (size_t i = 0; i < s->nr_edges; i++) {
		EXPECT_EQ(CW_LOCK_MUTEX, s->edges[i].from_kind);
		EXPECT_EQ(CW_LOCK_MUTEX, s->edges[i].to_kind);
		EXPECT_EQ(0, s->edges[i].gate_addr);
		/* the call path of the acquire that waits */
		EXPECT_EQ(s->edges[i].hdr.tid == tid_a ? ba->stack_id : bb->stack_id,
			  s->edges[i].to_stack_id);
	}
}

/*
 * Blocked records of a contended, progressing workload: each acquire's wait is ended by
 * a NONE record of the same thread and lock before that thread blocks again, and every
 * one is ended by the time the threads are joined. Between the two, the same acquire may
 * say its lock again with another holder (woken, it lost the lock to a third thread and
 * slept again): the same lock, start and call path, a holder that differs from the one
 * said before.
 */
TEST_F_TIMEOUT(blocked, contended, 300)
{
	const char *const args[] = { "3", NULL };
	unsigned long long outer, inner;
	struct seen *s = &self->seen;
	char err[256] = "";
	size_t nr_lock = 0, nr_again = 0;
	struct cw_drain d;
	long end;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, cw_wl__start(&self->wl, "wl_contend", args));
	outer = cw_field(self->wl.ready, "outer");
	inner = cw_field(self->wl.ready, "inner");
	ASSERT_EQ(0, trace(self, err, sizeof(err))) TH_LOG("session: %s", err);
	ASSERT_EQ(0, cw_drain__start(&d, self->sess));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "done", self->wl.done, sizeof(self->wl.done)));
	/*
	 * three threads on two mutexes, two CPUs: they block; see ten acquires block and
	 * end (one may sleep again under a new holder: more records than 2 per acquire),
	 * then stop them
	 */
	while (nr_ended(s) < 10)
		sched_yield();
	/* the workload joins its threads before it exits: the session ends with it */
	ASSERT_EQ(0, cw_wl__stop(&self->wl));
	self->wl.pid = 0;
	end = cw_drain__stop(&d);
	ASSERT_TRUE(end == CW_SESSION_STOPPED || end == CW_SESSION_TARGET_EXITED);
	ASSERT_EQ(0, cw_session__finish(self->sess));

	EXPECT_EQ(0, s->lost);
	for (size_t i = 0; i < s->nr_blk; i++) {
		const struct cw_ev_blocked *b = &s->blk[i];
		size_t j;

		ASSERT_EQ(self->pid, b->hdr.pid);
		if (b->reason == CW_OFFCPU_NONE)
			continue;
		nr_lock++;
		ASSERT_EQ(CW_OFFCPU_LOCK, b->reason);
		ASSERT_TRUE(b->addr == outer || b->addr == inner);
		EXPECT_EQ(CW_LOCK_MUTEX, b->kind);
		EXPECT_EQ(CW_OP_LOCK, b->op);
		EXPECT_NE(b->hdr.tid, b->owner_tid);
		/* the thread's next record ends this wait, or names the lock's new holder */
		for (j = i + 1; j < s->nr_blk && s->blk[j].hdr.tid != b->hdr.tid; j++)
			;
		ASSERT_LT(j, s->nr_blk) TH_LOG("the wait of %u on 0x%llx never ended",
					      b->hdr.tid, (unsigned long long)b->addr);
		if (s->blk[j].reason == CW_OFFCPU_LOCK) {
			EXPECT_NE(b->owner_tid, s->blk[j].owner_tid);
			nr_again++;
			nr_lock--; /* the same acquire */
		} else {
			EXPECT_EQ(CW_OFFCPU_NONE, s->blk[j].reason);
		}
		EXPECT_EQ(b->addr, s->blk[j].addr);
		EXPECT_EQ(b->since_ns, s->blk[j].since_ns);
		EXPECT_EQ(b->stack_id, s->blk[j].stack_id);
		EXPECT_LE(b->hdr.ts_ns, s->blk[j].hdr.ts_ns);
	}
	EXPECT_LE(10, nr_lock);
	EXPECT_EQ(s->nr_blk, 2 * nr_lock + nr_again);
	/* outer -> inner, whichever thread made it first: no inversion */
	for (size_t i = 0; i < s->nr_edges; i++) {
		EXPECT_EQ(outer, s->edges[i].from_addr);
		EXPECT_EQ(inner, s->edges[i].to_addr);
	}
}

TEST_HARNESS_MAIN
