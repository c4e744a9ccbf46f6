// SPDX-License-Identifier: GPL-2.0
/*
 * Event loops seen from their waits (bpf/cw_evloop.bpf.h, engine/evloop.h): wl_evloop's
 * epoll echo server answers its client's requests on loopback, and one request in the
 * middle does what the mode says. The loop measures that request's handling itself
 * (slow_ns); the stall concwatch reports covers it and a little more (the read before it
 * and the echo after it, in the same iteration):
 *
 *  - healthy: the loop thread is known as a loop (every request an iteration), no stall;
 *  - burn: 300 ms of CPU in burn_request(): one event_loop_stall of the loop thread,
 *    at least slow_ns long and within 50 ms of it, on a CPU nearly all of it;
 *  - lock: a mutex the worker holds 200 ms more once the loop sleeps on it: one stall,
 *    as long, off a CPU nearly all of it;
 *  - sleep: usleep(50 ms): no stall under the default 100 ms threshold; one under 20 ms
 *    (40 ms under emulation, where an iteration itself can take 20 ms).
 *
 * And through the command line: `record --stall-threshold 20ms -- wl_evloop sleep`, then
 * `report` of the recording names the stall of the loop thread under 20 ms, and none
 * under the default.
 */
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "engine/evloop.h"
#include "engine/findings.h"
#include "source/session.h"

#define MS 1000000ULL
#define REQUESTS "2000"

struct run {
	struct cw_wl wl;
	struct cw_engine *eng;
	struct cw_findings *fs;
	__u64 slow_ns;
	__u32 loop_tid;
};

/* wl_evloop MODE traced from its start to its end; the findings made. */
static void trace(struct __test_metadata *_metadata, struct run *r, const char *mode,
		  __u64 threshold_ns)
{
	const char *args[] = { "-w", mode, REQUESTS, NULL };
	struct cw_source_opts opts = { .stall_threshold_ns = threshold_ns };
	struct cw_session *sess = NULL;
	char err[256] = "";
	struct cw_drain dr;

	ASSERT_EQ(0, cw_wl__start(&r->wl, "wl_evloop", args));
	r->loop_tid = cw_field(r->wl.ready, "loop");
	r->eng = cw_engine__new();
	ASSERT_NE(NULL, r->eng);
	if (threshold_ns)
		cw_engine__set_stall_threshold(r->eng, threshold_ns);
	opts.pid = r->wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, r->eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, cw_drain__start(&dr, sess));
	ASSERT_EQ(0, cw_wl__go(&r->wl));
	r->slow_ns = cw_field(r->wl.done, "slow_ns");
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&dr));
	ASSERT_EQ(0, cw_session__finish(sess));
	ASSERT_EQ(0, cw_wl__stop(&r->wl));
	cw_session__free(sess);
	ASSERT_EQ(0, cw_findings__new(r->eng, &r->fs));
}

static void run_fini(struct run *r)
{
	cw_findings__free(r->fs);
	cw_engine__free(r->eng);
}

/* The loop thread's figures: a loop, every request an iteration. */
static const struct cw_evloop_thread *loop_of(struct __test_metadata *_metadata,
					      const struct run *r)
{
	const struct cw_evloop *ev = cw_engine__evloop(r->eng);
	const struct cw_evloop_thread *t = NULL;

	for (size_t i = 0; i < cw_evloop__nr(ev); i++)
		if (cw_evloop__get(ev, i)->tid == r->loop_tid)
			t = cw_evloop__get(ev, i);
	if (!t) {
		TH_LOG("the loop thread %u is not a loop", r->loop_tid);
		return NULL;
	}
	EXPECT_TRUE(t->has_stats);
	/* the accept, each request, the client's close, and the 100 ms timeouts */
	EXPECT_LE(atoll(REQUESTS) + 1, t->stats.waits);
	EXPECT_LE(atoll(REQUESTS), t->stats.iterations);
	return t;
}

/* The only stall finding, of the loop thread; NULL (and a failure) when not so. */
static const struct cw_finding *the_stall(struct __test_metadata *_metadata, const struct run *r)
{
	const struct cw_finding *found = NULL;
	size_t n = 0;

	for (size_t i = 0; i < cw_findings__nr(r->fs); i++) {
		const struct cw_finding *f = cw_findings__get(r->fs, i);

		if (f->kind != CW_FINDING_EVENT_LOOP_STALL)
			continue;
		n++;
		found = f;
	}
	EXPECT_EQ(1, n);
	if (n != 1)
		return NULL;
	EXPECT_EQ(1, found->nr_threads);
	EXPECT_EQ(r->loop_tid, found->threads[0].tid);
	EXPECT_TRUE(cw_finding__reported(found));
	return found;
}

static size_t stalls(const struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < cw_findings__nr(r->fs); i++)
		n += cw_findings__get(r->fs, i)->kind == CW_FINDING_EVENT_LOOP_STALL;
	return n;
}

/* A stall that covers the loop's own measure of its slow request, and little more. */
static void expect_covers(struct __test_metadata *_metadata, const struct cw_loop_finding *l,
			  __u64 slow_ns)
{
	TH_LOG("stall %llu ns, on a CPU %llu ns; the loop measured %llu ns",
	       (unsigned long long)l->duration_ns, (unsigned long long)l->oncpu_ns,
	       (unsigned long long)slow_ns);
	EXPECT_LE(slow_ns, l->duration_ns);
	/* under emulation (CW_TEST_SCALE > 1) an iteration's read and echo take longer */
	EXPECT_GT(slow_ns + 50 * MS * (20 / cw_scale(20)), l->duration_ns);
	EXPECT_EQ(1, l->stalls);
	EXPECT_FALSE(l->ongoing);
	EXPECT_EQ(232, l->wait_nr);	/* epoll_wait */
	EXPECT_TRUE(l->oncpu_known);
}

TEST(healthy_loop_has_no_stall)
{
	const char *why = cw_live_skip_reason();
	struct run r = {};

	if (why)
		SKIP(return, "%s", why);
	trace(_metadata, &r, "healthy", 0);
	loop_of(_metadata, &r);
	EXPECT_EQ(0, r.slow_ns);
	EXPECT_EQ(0, stalls(&r));
	run_fini(&r);
}

TEST(cpu_bound_callback_stalls_the_loop)
{
	const char *why = cw_live_skip_reason();
	const struct cw_finding *f;
	struct run r = {};

	if (why)
		SKIP(return, "%s", why);
	trace(_metadata, &r, "burn", 0);
	loop_of(_metadata, &r);
	f = the_stall(_metadata, &r);
	if (f) {
		expect_covers(_metadata, &f->loop, r.slow_ns);
		/* 300 ms of its own CPU time: on a CPU nearly all along */
		EXPECT_LE(f->loop.duration_ns * 9 / 10, f->loop.oncpu_ns);
	}
	run_fini(&r);
}

TEST(blocking_lock_stalls_the_loop)
{
	const char *why = cw_live_skip_reason();
	const struct cw_finding *f;
	struct run r = {};

	if (why)
		SKIP(return, "%s", why);
	trace(_metadata, &r, "lock", 0);
	loop_of(_metadata, &r);
	f = the_stall(_metadata, &r);
	if (f) {
		expect_covers(_metadata, &f->loop, r.slow_ns);
		/* asleep on the lock: off a CPU nearly all along */
		EXPECT_GT(f->loop.duration_ns / 10, f->loop.oncpu_ns);
	}
	run_fini(&r);
}

TEST(sleep_below_the_threshold_is_no_stall)
{
	const char *why = cw_live_skip_reason();
	const struct cw_finding *f;
	struct run r = {};
	__u64 threshold;

	if (why)
		SKIP(return, "%s", why);
	trace(_metadata, &r, "sleep", 0);
	loop_of(_metadata, &r);
	EXPECT_EQ(0, stalls(&r));
	run_fini(&r);

	/* under emulation an iteration can take 20 ms: 40 ms there, still under the sleep */
	threshold = cw_scale(20) < 20 ? 40 * MS : 20 * MS;
	memset(&r, 0, sizeof(r));
	trace(_metadata, &r, "sleep", threshold);
	f = the_stall(_metadata, &r);
	if (f) {
		expect_covers(_metadata, &f->loop, r.slow_ns);
		EXPECT_EQ(threshold, f->loop.threshold_ns);
		EXPECT_GT(f->loop.duration_ns / 10, f->loop.oncpu_ns);
	}
	run_fini(&r);
}

/* concwatch ARGS: its exit status, its output and errors in *out (malloc'ed). */
static int concwatch(const char *const args[], char **out)
{
	const char *argv[16] = { cw_bin_path() };
	char *err = NULL, *both;
	int st, i;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	st = cw_run_capture(argv, NULL, out, &err);
	if (*out && err && asprintf(&both, "%s%s", *out, err) > 0) {
		free(*out);
		*out = both;
	}
	free(err);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(recorded_stall_reported)
{
	const char *why = cw_live_skip_reason();
	char rec[PATH_MAX], json[PATH_MAX], wl[PATH_MAX + 64], *err = NULL;
	int fd;

	if (why)
		SKIP(return, "%s", why);
	cw_workload_path("wl_evloop", wl, sizeof(wl));
	fd = cw_tmp_file(rec, sizeof(rec), "cw-evloop", "cwrec");
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, concwatch((const char *const[]){ "record", "--stall-threshold", "20ms", "-o",
						     rec, "--", wl, "sleep", REQUESTS, NULL },
			       &err)) TH_LOG("%s", err);
	free(err);
	ASSERT_EQ(0, concwatch((const char *const[]){ "report", "--stall-threshold", "20ms", rec,
						     NULL }, &err));
	EXPECT_NE(NULL, strstr(err, "finding 1: event_loop_stall, process ")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, ", thread wl-loop/")) TH_LOG("%s", err);
	EXPECT_EQ(NULL, strstr(err, "finding 2: ")) TH_LOG("%s", err);
	free(err);
	ASSERT_EQ(0, concwatch((const char *const[]){ "report", rec, NULL }, &err));
	EXPECT_EQ(NULL, strstr(err, "event_loop_stall")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "\nEvent loops (")) TH_LOG("%s", err);
	free(err);
	/* the loop thread in the JSON's event_loops, every request an iteration, one stall */
	fd = cw_tmp_file(json, sizeof(json), "cw-evloop", "json");
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, concwatch((const char *const[]){ "report", "--json", "-o", json,
						     "--stall-threshold", "20ms", rec, NULL },
			       &err));
	free(err);
	EXPECT_TRUE(cw_jq_holds(json, ".event_loops | length == 1 and .[0].comm == \"wl-loop\" "
				      "and .[0].wait == \"epoll_wait\" and .[0].iterations >= "
				      REQUESTS " and .[0].stalls == 1"))
		TH_LOG("%s", cw_log_file(json, 65536));
	EXPECT_TRUE(cw_jq_holds(json, "[.findings[] | select(.kind == \"event_loop_stall\")] | "
				      "length == 1 and .[0].comm == \"wl-loop\" and "
				      ".[0].duration_ns >= 50000000 and .[0].ended"))
		TH_LOG("%s", cw_log_file(json, 65536));
	unlink(json);
	unlink(rec);
}

TEST_HARNESS_MAIN
