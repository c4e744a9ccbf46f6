// SPDX-License-Identifier: GPL-2.0
/*
 * The statistics the BPF programs aggregate per (process, lock, call path), read each
 * tick, on a pre-fork server in miniature (wl_forklock): the parent and its children
 * take the same global mutex, at the same address in every process, from the same
 * function, exactly COUNT times each. Each process must be reported with exactly COUNT
 * acquisitions however many ticks read the statistics, also one that stopped being
 * traced (its last figures arrive once, then it is forgotten, by the kernel's map too).
 */
#include <errno.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "cw_maps.h"
#include "engine/engine.h"
#include "source/session.h"

#define CHILDREN 3

FIXTURE(forklock)
{
	struct cw_wl wl;
	struct cw_engine *eng;
	struct cw_session *sess;
	long count;
	long pids[CHILDREN + 1];	/* the parent, then its children */
	unsigned long long lock;
};

FIXTURE_SETUP(forklock)
{
	const char *why = cw_live_skip_reason();
	char nr[16], count[32];
	const char *args[] = { nr, count, NULL };

	memset(self, 0, sizeof(*self));
	if (why)
		SKIP(return, "%s", why);
	self->count = cw_scale(5000);
	snprintf(nr, sizeof(nr), "%d", CHILDREN);
	snprintf(count, sizeof(count), "%ld", self->count);
	ASSERT_EQ(0, cw_wl__start(&self->wl, "wl_forklock", args));
	self->pids[0] = cw_field(self->wl.ready, "pid");
	ASSERT_EQ(self->wl.pid, self->pids[0]);
	for (int c = 0; c < CHILDREN; c++) {
		char key[16];

		snprintf(key, sizeof(key), "child%d", c);
		self->pids[c + 1] = cw_field(self->wl.ready, key);
		ASSERT_LT(0, self->pids[c + 1]);
	}
	self->lock = cw_field(self->wl.ready, "lock");
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
}

FIXTURE_TEARDOWN(forklock)
{
	cw_session__free(self->sess);
	cw_engine__free(self->eng);
	if (self->wl.pid > 0)
		cw_wl__stop(&self->wl);
}

/* Trace the parent and every child, draining while they work, as `run` would. */
static void trace_all(struct __test_metadata *_metadata, FIXTURE_DATA(forklock) *self)
{
	struct cw_source_opts opts = { .pid = self->pids[0] };
	char err[256] = "";
	struct cw_drain d;

	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, self->eng, &self->sess, err,
				      sizeof(err))) TH_LOG("session: %s", err);
	for (int c = 1; c <= CHILDREN; c++) {
		long pid = self->pids[c];

		ASSERT_EQ(0, cw_session__add_process(self->sess, pid))
			TH_LOG("child %ld: %s", pid, cw_session__error(self->sess));
	}
	ASSERT_EQ(0, cw_drain__start(&d, self->sess));
	ASSERT_EQ(0, cw_wl__go(&self->wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	ASSERT_EQ(self->count, cw_field(self->wl.done, "counter"));
}

/* Let the source read the statistics at least n more times (a read a tick). */
static void more_ticks(struct __test_metadata *_metadata, FIXTURE_DATA(forklock) *self, int n)
{
	__u64 want = cw_engine__counts(self->eng)->ticks + n;

	/* the reorder window holds the newest tick back: one tick more than asked */
	for (int k = 0; k < 50 && cw_engine__counts(self->eng)->ticks <= want; k++)
		ASSERT_EQ(CW_SESSION_DEADLINE,
			  cw_session__run(self->sess, cw_now_ns() + 100000000ULL, NULL));
	ASSERT_LT(want, cw_engine__counts(self->eng)->ticks);
}

static void expect_exact(struct __test_metadata *_metadata, FIXTURE_DATA(forklock) *self)
{
	for (int c = 0; c <= CHILDREN; c++) {
		long pid = self->pids[c];
		const struct cw_lock *l = cw_engine__find_lock(self->eng, pid, self->lock);

		ASSERT_NE(NULL, l) TH_LOG("process %ld: no statistics for wl_lock", pid);
		EXPECT_EQ(self->count, l->acquisitions) TH_LOG("process %ld", pid);
		ASSERT_EQ(1, l->nr_sites) TH_LOG("process %ld", pid);
		EXPECT_EQ(self->count, l->sites[0].acquisitions) TH_LOG("process %ld", pid);
	}
}

/* Same lock, same call path, four processes: each its own exact count, tick after tick. */
TEST_F(forklock, exact_per_process)
{
	CW_SKIPPED_IN_SETUP();
	trace_all(_metadata, self);
	more_ticks(_metadata, self, 3);
	ASSERT_EQ(0, cw_session__finish(self->sess));
	ASSERT_EQ(0, cw_engine__counts(self->eng)->lost_total);
	expect_exact(_metadata, self);
}

/*
 * A process no longer traced (exited, or removed): the figures it gathered since the
 * last read still arrive, once; then its statistics are dropped and never sent again.
 */
TEST_F(forklock, removed_process_sent_once)
{
	CW_SKIPPED_IN_SETUP();
	trace_all(_metadata, self);
	ASSERT_LT(0, cw_lock_sites_of(self->pids[1], -1));
	ASSERT_EQ(0, cw_session__remove_process(self->sess, self->pids[1]));
	more_ticks(_metadata, self, 3);
	/* gone from the kernel's map too; the others stay */
	EXPECT_EQ(0, cw_lock_sites_of(self->pids[1], -1));
	EXPECT_LT(0, cw_lock_sites_of(self->pids[2], -1));
	ASSERT_EQ(0, cw_session__finish(self->sess));
	ASSERT_EQ(0, cw_engine__counts(self->eng)->lost_total);
	expect_exact(_metadata, self);
}

TEST_HARNESS_MAIN
