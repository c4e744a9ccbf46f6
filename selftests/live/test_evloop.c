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
 * Each mode's blocking_in_event_loop: none when the loop runs (healthy, burn); the
 * worker's lock, named, with its holder and locked_request() in the stack (lock); the
 * sleep's clock_nanosleep() under usleep() (sleep, under the default thresholds: a block
 * of 10 ms is one, a stall of 100 ms is not). The burn's stall has its samples, most of
 * them in burn_request(). A burn that looks at its epoll set with a zero timeout between
 * slices (peek) is one stall all the same: such calls never wait.
 *
 * And through the command line: `record --stall-threshold 20ms -- wl_evloop sleep`, then
 * `report` of the recording names the stall of the loop thread under 20 ms, and none
 * under the default; the sleep's block under both, and not under a 60 ms block threshold.
 */
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "engine/evloop.h"
#include "engine/findings.h"
#include "report/symbols.h"
#include "source/session.h"

#define MS 1000000ULL
#define REQUESTS "2000"

struct run {
	struct cw_wl wl;
	struct cw_engine *eng;
	struct cw_findings *fs;
	__u64 slow_ns;
	__u32 loop_tid, worker_tid;
	__u64 lock_addr;
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
	r->worker_tid = cw_field(r->wl.ready, "worker");
	r->lock_addr = cw_field(r->wl.ready, "lock");
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

static size_t of_kind(const struct run *r, enum cw_finding_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < cw_findings__nr(r->fs); i++)
		n += cw_findings__get(r->fs, i)->kind == kind;
	return n;
}

/* The only blocking_in_event_loop finding, of the loop thread; NULL when not so. */
static const struct cw_finding *the_block(struct __test_metadata *_metadata, const struct run *r)
{
	const struct cw_finding *found = NULL;

	for (size_t i = 0; i < cw_findings__nr(r->fs); i++)
		if (cw_findings__get(r->fs, i)->kind == CW_FINDING_BLOCKING_IN_EVENT_LOOP)
			found = cw_findings__get(r->fs, i);
	EXPECT_EQ(1, of_kind(r, CW_FINDING_BLOCKING_IN_EVENT_LOOP));
	if (!found)
		return NULL;
	EXPECT_EQ(r->loop_tid, found->threads[0].tid);
	EXPECT_TRUE(cw_finding__reported(found));
	EXPECT_EQ(1, found->block.count);
	EXPECT_EQ(found->block.max_ns, found->block.total_ns);
	EXPECT_EQ(1, found->nr_stacks);
	return found;
}

/* Whether stack ref, unwound, has a frame of func; its index, or -1. */
static int frame_of(struct cw_symbols *sym, const struct cw_stack_ref *ref, const char *func)
{
	const struct cw_stack *st = cw_engine__find_stack(cw_symbols__engine(sym), ref->pid,
							  ref->space, ref->id);
	struct cw_ustack u;
	int at = -1;

	if (!st || cw_symbols__resolve(sym, st, &u))
		return -1;
	for (size_t i = 0; at < 0 && i < u.nr; i++)
		if (u.frames[i].func && !strcmp(u.frames[i].func, func))
			at = i;
	cw_ustack__fini(&u);
	return at;
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
	EXPECT_EQ(0, of_kind(&r, CW_FINDING_BLOCKING_IN_EVENT_LOOP));
	run_fini(&r);
}

/*
 * The stall's samples: the sampler's clock ticks every ~20 ms from half the threshold
 * on, so a 300 ms stall has several (a quarter of what the clock could take, for a busy
 * machine), and most of them are in func, which the burn loops in.
 */
static void expect_samples_in(struct __test_metadata *_metadata, const struct run *r,
			      const struct cw_finding *f, const char *func)
{
	struct cw_symbols *sym;
	size_t in = 0;

	EXPECT_LE((f->loop.duration_ns - f->loop.threshold_ns / 2) / (20 * MS) / 4, f->nr_stacks);
	ASSERT_EQ(0, cw_symbols__new(r->eng, NULL, &sym));
	for (size_t i = 0; i < f->nr_stacks; i++) {
		EXPECT_EQ(r->loop_tid, cw_engine__find_stack(r->eng, f->stacks[i].pid,
							     CW_STACK_USER, f->stacks[i].id) ?
				       cw_engine__find_stack(r->eng, f->stacks[i].pid,
							     CW_STACK_USER, f->stacks[i].id)->tid :
				       0);
		in += frame_of(sym, &f->stacks[i], func) >= 0;
	}
	TH_LOG("%zu of %zu samples in %s()", in, f->nr_stacks, func);
	EXPECT_LT(f->nr_stacks / 2, in);
	cw_symbols__free(sym);
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
		expect_samples_in(_metadata, &r, f, "burn_request");
	}
	/* it ran: blocked nowhere */
	EXPECT_EQ(0, of_kind(&r, CW_FINDING_BLOCKING_IN_EVENT_LOOP));
	run_fini(&r);
}

/*
 * Looking at its epoll set with a zero timeout while it burns (as libuv does with
 * callbacks pending) never waits: the 300 ms are still one iteration, one stall, not
 * thousands of short ones.
 */
TEST(zero_timeout_polls_are_no_waits)
{
	const char *why = cw_live_skip_reason();
	const struct cw_finding *f;
	struct run r = {};

	if (why)
		SKIP(return, "%s", why);
	trace(_metadata, &r, "peek", 0);
	loop_of(_metadata, &r);
	f = the_stall(_metadata, &r);
	if (f) {
		expect_covers(_metadata, &f->loop, r.slow_ns);
		EXPECT_LE(f->loop.duration_ns * 9 / 10, f->loop.oncpu_ns);
		expect_samples_in(_metadata, &r, f, "peeking_request");
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
	/* what it blocked on: the worker's lock, in locked_request() */
	f = the_block(_metadata, &r);
	if (f) {
		struct cw_symbols *sym;
		char name[256];

		ASSERT_EQ(0, cw_symbols__new(r.eng, NULL, &sym));
		EXPECT_EQ(CW_OFFCPU_LOCK, f->block.reason);
		EXPECT_EQ(202, f->block.nr);	/* futex */
		EXPECT_EQ(r.lock_addr, f->block.addr);
		ASSERT_EQ(1, f->nr_locks);
		EXPECT_EQ(r.lock_addr, f->locks[0].addr);
		cw_symbols__lock_name(sym, f->locks[0].pid, f->locks[0].addr, f->locks[0].ip, name,
				      sizeof(name));
		EXPECT_STREQ("shared_lock", name);
		EXPECT_EQ(r.worker_tid, f->block.owner_tid);
		ASSERT_EQ(2, f->nr_threads);
		EXPECT_EQ(r.worker_tid, f->threads[1].tid);
		EXPECT_TRUE(f->block.in_stall);
		/* the request's wait for the lock: most of the loop's measure of it */
		EXPECT_LE(r.slow_ns / 2, f->block.max_ns);
		EXPECT_GE(r.slow_ns, f->block.max_ns);
		EXPECT_LE(0, frame_of(sym, &f->stacks[0], "locked_request"));
		cw_symbols__free(sym);
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
	/* a 50 ms sleep is no stall, and blocks the loop well past the 10 ms default */
	f = the_block(_metadata, &r);
	if (f) {
		struct cw_symbols *sym;

		EXPECT_EQ(CW_OFFCPU_SLEEP, f->block.reason);
		EXPECT_EQ(230, f->block.nr);	/* clock_nanosleep, under glibc's usleep */
		EXPECT_EQ(0, f->block.addr);
		EXPECT_EQ(0, f->nr_locks);
		EXPECT_EQ(1, f->nr_threads);
		EXPECT_FALSE(f->block.in_stall);
		EXPECT_LE(50 * MS, f->block.max_ns);
		EXPECT_GE(r.slow_ns, f->block.max_ns);
		ASSERT_EQ(0, cw_symbols__new(r.eng, NULL, &sym));
		EXPECT_LE(0, frame_of(sym, &f->stacks[0], "usleep"));
		cw_symbols__free(sym);
	}
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
	/* what it was: the sleep, in its own finding */
	EXPECT_NE(NULL, strstr(err, "finding 2: blocking_in_event_loop, process ")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "blocked 1 time for 10.0 ms or more in clock_nanosleep() "
				    "(sleeping)")) TH_LOG("%s", err);
	EXPECT_EQ(NULL, strstr(err, "finding 3: ")) TH_LOG("%s", err);
	free(err);
	ASSERT_EQ(0, concwatch((const char *const[]){ "report", rec, NULL }, &err));
	EXPECT_EQ(NULL, strstr(err, "event_loop_stall")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "finding 1: blocking_in_event_loop, process ")) TH_LOG("%s", err);
	free(err);
	/* a block threshold above the sleep: nothing */
	ASSERT_EQ(0, concwatch((const char *const[]){ "report", "--block-threshold", "60ms", rec,
						     NULL }, &err));
	EXPECT_EQ(NULL, strstr(err, "finding 1: ")) TH_LOG("%s", err);
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
				      REQUESTS " and .[0].stalls == 1 and .[0].dropped == 0"))
		TH_LOG("%s", cw_log_file(json, 65536));
	EXPECT_TRUE(cw_jq_holds(json, "[.findings[] | select(.kind == \"event_loop_stall\")] | "
				      "length == 1 and .[0].comm == \"wl-loop\" and "
				      ".[0].duration_ns >= 50000000 and .[0].ended"))
		TH_LOG("%s", cw_log_file(json, 65536));
	EXPECT_TRUE(cw_jq_holds(json, "[.findings[] | select(.kind == \"blocking_in_event_loop\")] "
				      "| length == 1 and .[0].comm == \"wl-loop\" and .[0].reason == "
				      "\"sleep\" and .[0].syscall_name == \"clock_nanosleep\" and "
				      ".[0].count == 1 and .[0].duration_ns >= 50000000 and "
				      ".[0].in_stall and .[0].holder == null and .[0].locks == [] and "
				      "([.[0].stack[].func] | index(\"usleep\")) != null"))
		TH_LOG("%s", cw_log_file(json, 65536));
	unlink(json);
	unlink(rec);
}

TEST_HARNESS_MAIN
