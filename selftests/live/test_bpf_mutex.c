// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF source on a real process: wl_mutex takes and releases its global mutex
 * exactly N times on one worker thread. Every call must arrive as exactly one
 * lock_begin, one successful lock_acquired and one lock_released record, for that
 * mutex, from that thread, with nothing lost.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "source/session.h"

FIXTURE(mutex)
{
	struct cw_wl wl;
	struct cw_engine *eng;
	struct cw_session *sess;
	long n;
	long pid, tid;
	unsigned long long lock;
};

FIXTURE_SETUP(mutex)
{
	const char *why = cw_live_skip_reason();
	char arg[32];
	const char *args[] = { arg, NULL };

	memset(self, 0, sizeof(*self));
	if (why)
		SKIP(return, "%s", why);
	self->n = cw_scale(20000);
	snprintf(arg, sizeof(arg), "%ld", self->n);
	ASSERT_EQ(0, cw_wl__start(&self->wl, "wl_mutex", args));
	self->pid = cw_field(self->wl.ready, "pid");
	self->tid = cw_field(self->wl.ready, "tid");
	self->lock = cw_field(self->wl.ready, "lock");
	ASSERT_EQ(self->wl.pid, self->pid);
	ASSERT_NE(self->pid, self->tid);
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
}

FIXTURE_TEARDOWN(mutex)
{
	cw_session__free(self->sess);
	cw_engine__free(self->eng);
	if (self->wl.pid > 0)
		cw_wl__stop(&self->wl);
}

static int open_session_mode(struct __test_metadata *_metadata, FIXTURE_DATA(mutex) *self,
			     int raw)
{
	struct cw_source_opts opts = { .pid = self->pid, .raw_events = raw };
	char err[256] = "";
	int ret;

	ret = cw_trace__open(&opts, cw_engine__feed, self->eng, &self->sess, err, sizeof(err));
	EXPECT_EQ(0, ret) TH_LOG("session: %s", err);
	return ret;
}

/* A record per operation: the tests that check every one. */
static int open_session(struct __test_metadata *_metadata, FIXTURE_DATA(mutex) *self)
{
	return open_session_mode(_metadata, self, 1);
}

/* Drain while the workload runs, as the tool does: the ring buffer is smaller than N records. */
static void work_while_draining(struct __test_metadata *_metadata, FIXTURE_DATA(mutex) *self)
{
	struct cw_drain d;

	ASSERT_EQ(0, cw_drain__start(&d, self->sess));
	ASSERT_EQ(0, cw_wl__go(&self->wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
}

TEST_F(mutex, exact_counts_and_tid)
{
	const struct cw_engine_counts *c;
	const struct cw_lock_user *u;
	const struct cw_thread *t;
	const struct cw_lock *l;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, open_session(_metadata, self));
	work_while_draining(_metadata, self);
	ASSERT_EQ(self->n, cw_field(self->wl.done, "counter"));
	/* the probes ran in the worker before it printed "done": all its records exist */
	ASSERT_EQ(0, cw_session__finish(self->sess));

	c = cw_engine__counts(self->eng);
	ASSERT_EQ(0, c->lost_total);
	ASSERT_EQ(0, c->malformed);
	l = cw_engine__find_lock(self->eng, self->pid, self->lock);
	ASSERT_NE(NULL, l) TH_LOG("no records for wl_lock at 0x%llx", self->lock);
	EXPECT_EQ(CW_LOCK_MUTEX, l->kind);
	EXPECT_EQ(self->n, l->begins);
	EXPECT_EQ(self->n, l->acquisitions);
	EXPECT_EQ(self->n, l->releases);
	EXPECT_EQ(0, l->failures);
	ASSERT_EQ(1, l->nr_users);
	u = cw_lock__user(l, self->tid);
	ASSERT_NE(NULL, u) TH_LOG("wl_lock used by tid %u, not the worker %ld", l->users[0].tid,
				  self->tid);
	EXPECT_EQ(self->n, u->acquisitions);
	EXPECT_EQ(self->n, u->releases);

	t = cw_engine__find_thread(self->eng, self->pid, self->tid);
	ASSERT_NE(NULL, t);
	EXPECT_STREQ("wl-worker", t->comm);
	EXPECT_EQ(self->n, t->lock_acquisitions);
}

/*
 * The default: the programs count per (lock, call path) in the kernel and send the
 * counts each tick, not a record per operation. The same N acquisitions, uncontended
 * (one thread), held for a measured time, from the one call path of the worker.
 */
TEST_F(mutex, aggregated_counts)
{
	const struct cw_lock *l;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, open_session_mode(_metadata, self, 0));
	work_while_draining(_metadata, self);
	ASSERT_EQ(0, cw_session__finish(self->sess));
	ASSERT_EQ(0, cw_engine__counts(self->eng)->lost_total);
	ASSERT_EQ(0, cw_engine__counts(self->eng)->by_type[CW_EV_LOCK_BEGIN]);
	ASSERT_EQ(0, cw_engine__counts(self->eng)->by_type[CW_EV_LOCK_ACQUIRED]);
	l = cw_engine__find_lock(self->eng, self->pid, self->lock);
	ASSERT_NE(NULL, l);
	EXPECT_EQ(self->n, l->acquisitions);
	EXPECT_EQ(0, l->contentions);
	EXPECT_EQ(CW_LOCK_KNOWN_CONTENTIONS | CW_LOCK_KNOWN_HOLD, l->known);
	EXPECT_LT(0, l->hold_ns_total);
	ASSERT_EQ(1, l->nr_sites);
	EXPECT_EQ(self->n, l->sites[0].acquisitions);
	EXPECT_NE(0, l->sites[0].stack_id);
}

/* Nothing is traced before "go": attaching alone produces no lock records for wl_lock. */
TEST_F(mutex, quiet_until_work)
{
	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, open_session(_metadata, self));
	ASSERT_EQ(0, cw_session__finish(self->sess));
	ASSERT_EQ(NULL, cw_engine__find_lock(self->eng, self->pid, self->lock));
	ASSERT_EQ(0, cw_wl__go(&self->wl));
}

/* The session notices the target's exit and still delivers everything it did. */
TEST_F(mutex, target_exit_ends_session)
{
	const struct cw_lock *l;
	int status;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, open_session(_metadata, self));
	work_while_draining(_metadata, self);
	status = cw_wl__stop(&self->wl);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(CW_SESSION_TARGET_EXITED, cw_session__run(self->sess, 0, NULL));
	ASSERT_EQ(0, cw_session__finish(self->sess));
	l = cw_engine__find_lock(self->eng, self->pid, self->lock);
	ASSERT_NE(NULL, l);
	EXPECT_EQ(self->n, l->acquisitions);
	EXPECT_EQ(self->n, l->releases);
}

/*
 * A wait for a condition is no wait for the mutex: wl_condtimed's worker holds tw_mutex
 * and waits on tw_cond with a timeout that always expires, three times 100 ms; no other
 * thread takes tw_mutex. Its taking back in pthread_cond_timedwait() is an acquisition
 * each time (the default version of the function is the one probed), never contended,
 * with no wait; the waits are the condvar's.
 */
TEST(cond_timedwait_is_no_mutex_wait)
{
	const char *why = cw_live_skip_reason();
	const char *args[] = { "-w", "3", "100", NULL };
	struct cw_source_opts opts = {};
	struct cw_session *sess = NULL;
	const struct cw_lock *l;
	struct cw_engine *eng;
	char err[256] = "";
	struct cw_wl wl;
	int pid;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_condtimed", args));
	pid = cw_field(wl.ready, "pid");
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, cw_wl__go(&wl));
	EXPECT_EQ(3, cw_field(wl.done, "timeouts"));
	ASSERT_EQ(0, cw_session__finish(sess));
	ASSERT_EQ(0, cw_engine__counts(eng)->lost_total);
	l = cw_engine__find_lock(eng, pid, cw_field(wl.ready, "mutex"));
	ASSERT_NE(NULL, l);
	EXPECT_EQ(1 + 3, l->acquisitions);	/* the lock, and each wait's taking back */
	EXPECT_EQ(0, l->contentions);
	EXPECT_EQ(0, l->wait_ns_total);
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST(no_such_process)
{
	struct cw_source_opts opts = { .pid = 0x3fffffff };
	struct cw_session *s = NULL;
	char err[256] = "";

	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
	ASSERT_EQ(-ESRCH, cw_trace__open(&opts, cw_engine__feed, NULL, &s, err, sizeof(err)));
	ASSERT_STREQ("no such process: 1073741823", err);
	ASSERT_EQ(NULL, s);
}

TEST_HARNESS_MAIN
