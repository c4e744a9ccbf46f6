// SPDX-License-Identifier: GPL-2.0
/*
 * Attaching to, and detaching from, a process in full swing: wl_contend's threads
 * hammer two mutexes the whole time. Every probe must start and stop recording at
 * the same instant, so per (lock, thread) the only unmatched records are the one
 * operation that may be in flight at each edge:
 *   begins - acquisitions   in {0, 1}  (acquire begun before detach, returned after)
 *   releases - acquisitions in {-1, 0, 1} (held across attach, or across detach)
 * Detaching the probes one by one, a grace period apart, broke this by thousands.
 */
#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "source/session.h"

#define THREADS 3

static int every_thread_busy(const struct cw_engine *eng, int pid, unsigned long long addr,
			     unsigned long long want)
{
	const struct cw_lock *l = cw_engine__find_lock(eng, pid, addr);

	if (!l || l->nr_users < THREADS)
		return 0;
	for (size_t i = 0; i < l->nr_users; i++)
		if (l->users[i].acquisitions < want)
			return 0;
	return 1;
}

TEST(attach_and_detach_mid_flight)
{
	const char *why = cw_live_skip_reason();
	const char *args[] = { "3", NULL };
	struct cw_source_opts opts = {};
	unsigned long long outer, inner, want = cw_scale(2000);
	struct cw_session *sess = NULL;
	struct cw_engine *eng;
	struct cw_wl wl;
	char err[256] = "";
	int pid, end;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_contend", args));
	pid = cw_field(wl.ready, "pid");
	outer = cw_field(wl.ready, "outer");
	inner = cw_field(wl.ready, "inner");
	ASSERT_EQ(0, cw_wl__go(&wl));
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = pid;
	opts.raw_events = 1; /* a record per operation: checked one by one */
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);

	/* wait, by the records themselves, until every thread took both locks many times */
	do {
		end = cw_session__run(sess, cw_now_ns() + 50000000ULL, NULL);
		ASSERT_EQ(CW_SESSION_DEADLINE, end) TH_LOG("%s", cw_session__error(sess));
	} while (!every_thread_busy(eng, pid, outer, want) ||
		 !every_thread_busy(eng, pid, inner, want));
	ASSERT_EQ(0, cw_session__finish(sess));
	ASSERT_EQ(0, cw_engine__counts(eng)->lost_total);

	for (int k = 0; k < 2; k++) {
		const struct cw_lock *l = cw_engine__find_lock(eng, pid, k ? inner : outer);

		ASSERT_NE(NULL, l);
		ASSERT_EQ(THREADS, l->nr_users);
		for (size_t i = 0; i < l->nr_users; i++) {
			const struct cw_lock_user *u = &l->users[i];
			long long b = u->begins - u->acquisitions;
			long long r = u->releases - u->acquisitions;

			EXPECT_TRUE(b == 0 || b == 1)
				TH_LOG("%s tid %u: %llu begins, %llu acquisitions", k ? "inner" : "outer",
				       u->tid, (unsigned long long)u->begins,
				       (unsigned long long)u->acquisitions);
			EXPECT_TRUE(r >= -1 && r <= 1)
				TH_LOG("%s tid %u: %llu releases, %llu acquisitions", k ? "inner" : "outer",
				       u->tid, (unsigned long long)u->releases,
				       (unsigned long long)u->acquisitions);
			EXPECT_EQ(0, u->failures);
			EXPECT_EQ(0, strncmp("contend-",
					     cw_engine__find_thread(eng, pid, u->tid)->comm, 8));
		}
	}
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
