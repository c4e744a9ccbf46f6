// SPDX-License-Identifier: GPL-2.0
/*
 * Event loops of a real server this project did not write: Debian's redis-server (7.0),
 * started with its debug commands enabled, on a unix socket of its own, and traced once
 * it answers. One of its own commands stalls its loop:
 *
 *  - DEBUG SLEEP 0.3: the main thread sleeps 300 ms in nanosleep() inside the command:
 *    an event_loop_stall of the main thread, off a CPU, and a blocking_in_event_loop
 *    of it, a sleep in clock_nanosleep (glibc's nanosleep) at least 300 ms long, with
 *    debugCommand() in its stack (redis exports its symbols for its own crash reports);
 *  - DEBUG POPULATE: a million keys made in one command, on a CPU: a stall whose samples
 *    are mostly under debugCommand(), and no block.
 *
 * A PING after each command makes sure its loop went back to its wait and came out again
 * before the trace stops. Skipped (with the reason) where redis-server is not installed:
 * scripts/deps.sh installs it for make check.
 *
 * And Node.js (selftests/workloads/wl_evloop.js): synchronous JavaScript in a timer's
 * callback stalls libuv's loop, and the stall's samples name the function, JIT-compiled,
 * from V8's perf map (--perf-basic-prof).
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define REDIS "/usr/bin/redis-server"
#define REDIS_CLI "/usr/bin/redis-cli"

struct redis {
	pid_t pid;
	int out, err;
	char sock[PATH_MAX];
	struct cw_engine *eng;
	struct cw_session *sess;
	struct cw_drain dr;
	struct cw_findings *fs;
	struct cw_symbols *sym;
};

static const char *redis_skip_reason(void)
{
	if (access(REDIS, X_OK) || access(REDIS_CLI, X_OK))
		return "redis-server is not installed (scripts/deps.sh installs it)";
	return cw_live_skip_reason();
}

/* redis-cli -s SOCK ARGS...: 0 when it answered want (its first line), else -1. */
static int cli(const struct redis *r, const char *want, const char *a, const char *b,
	       const char *c)
{
	const char *argv[] = { REDIS_CLI, "-s", r->sock, a, b, c, NULL };
	char *out = NULL, *err = NULL;
	int st, ok;

	st = cw_run_capture(argv, NULL, &out, &err);
	ok = st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st) && out &&
	     !strncmp(out, want, strlen(want));
	free(out);
	free(err);
	return ok ? 0 : -1;
}

/* Start redis on its own socket, wait until it answers, and trace it. */
static void redis_start(struct __test_metadata *_metadata, struct redis *r)
{
	const char *argv[] = { REDIS, "--port", "0", "--unixsocket", r->sock,
			       "--enable-debug-command", "yes", "--save", "", "--appendonly",
			       "no", "--loglevel", "warning", "--dir", "/tmp", NULL };
	struct cw_source_opts opts = {};
	char err[256] = "";
	int tries;

	snprintf(r->sock, sizeof(r->sock), "/tmp/cw-redis-%d.sock", getpid());
	unlink(r->sock);
	r->pid = cw_spawn(argv, NULL, &r->out, &r->err);
	ASSERT_LT(0, r->pid);
	/* it answers once its loop runs: each try is a connect that fails at once */
	for (tries = 0; tries < 2000 && cli(r, "PONG", "PING", NULL, NULL); tries++)
		usleep(5000);
	ASSERT_GT(2000, tries);
	r->eng = cw_engine__new();
	ASSERT_NE(NULL, r->eng);
	opts.pid = r->pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, r->eng, &r->sess, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, cw_drain__start(&r->dr, r->sess));
}

/* Stop tracing (redis runs on), make the findings, then stop redis. */
static void redis_stop(struct __test_metadata *_metadata, struct redis *r)
{
	int st;

	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&r->dr));
	ASSERT_EQ(0, cw_session__finish(r->sess));
	cw_session__free(r->sess);
	ASSERT_EQ(0, cw_findings__new(r->eng, &r->fs));
	ASSERT_EQ(0, cw_symbols__new(r->eng, &(struct cw_symbols_opts){ .live_pid = r->pid },
				     &r->sym));
	kill(r->pid, SIGKILL);
	waitpid(r->pid, &st, 0);
	close(r->out);
	close(r->err);
	unlink(r->sock);
}

/*
 * Trace redis while a client sends it CMD ARG ARG2 (its reply starting with want), then
 * PING: the loop went back to its wait after the command. Then the findings.
 */
static void redis_run(struct __test_metadata *_metadata, struct redis *r, const char *want,
		      const char *cmd, const char *arg, const char *arg2)
{
	redis_start(_metadata, r);
	ASSERT_EQ(0, cli(r, want, cmd, arg, arg2));
	ASSERT_EQ(0, cli(r, "PONG", "PING", NULL, NULL));
	redis_stop(_metadata, r);
}

static void redis_fini(struct redis *r)
{
	cw_symbols__free(r->sym);
	cw_findings__free(r->fs);
	cw_engine__free(r->eng);
}

/* The findings of kind, of the main thread (redis's loop); *n: how many. */
static const struct cw_finding *of_main(const struct redis *r, enum cw_finding_kind kind,
					size_t *n)
{
	const struct cw_finding *found = NULL;

	*n = 0;
	for (size_t i = 0; i < cw_findings__nr(r->fs); i++) {
		const struct cw_finding *f = cw_findings__get(r->fs, i);

		if (f->kind != kind)
			continue;
		++*n;
		if (f->threads[0].tid == (__u32)r->pid)
			found = f;
	}
	return found;
}

/* Whether stack ref, unwound, has a frame of func. */
static int has_frame(const struct redis *r, const struct cw_stack_ref *ref, const char *func,
		     int log)
{
	const struct cw_stack *st = cw_engine__find_stack(r->eng, ref->pid, ref->space, ref->id);
	struct cw_ustack u;
	int found = 0;

	if (!st || cw_symbols__resolve(r->sym, st, &u))
		return 0;
	for (size_t i = 0; i < u.nr; i++) {
		found |= u.frames[i].func && !strcmp(u.frames[i].func, func);
		if (log)
			fprintf(stderr, "#   #%zu %s\n", i, u.frames[i].func ?: "?");
	}
	cw_ustack__fini(&u);
	return found;
}

TEST(redis_debug_sleep_blocks_its_loop)
{
	const char *why = redis_skip_reason();
	const struct cw_finding *f;
	struct redis r = {};
	size_t n;

	if (why)
		SKIP(return, "%s", why);
	redis_run(_metadata, &r, "OK", "DEBUG", "SLEEP", "0.3");

	f = of_main(&r, CW_FINDING_EVENT_LOOP_STALL, &n);
	EXPECT_EQ(1, n);
	ASSERT_NE(NULL, f);
	EXPECT_LE(300 * MS, f->loop.duration_ns);
	EXPECT_TRUE(f->loop.oncpu_known);
	EXPECT_GT(f->loop.duration_ns / 10, f->loop.oncpu_ns);
	EXPECT_EQ(232, f->loop.wait_nr);	/* epoll_wait */

	f = of_main(&r, CW_FINDING_BLOCKING_IN_EVENT_LOOP, &n);
	EXPECT_EQ(1, n);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(CW_OFFCPU_SLEEP, f->block.reason);
	EXPECT_EQ(230, f->block.nr);		/* clock_nanosleep, under nanosleep() */
	EXPECT_EQ(1, f->block.count);
	EXPECT_LE(300 * MS, f->block.max_ns);
	EXPECT_TRUE(f->block.in_stall);
	EXPECT_TRUE(has_frame(&r, &f->stacks[0], "debugCommand", 0))
		has_frame(&r, &f->stacks[0], "debugCommand", 1);
	redis_fini(&r);
}

TEST(redis_debug_populate_stalls_its_loop)
{
	const char *why = redis_skip_reason();
	const struct cw_finding *f;
	struct redis r = {};
	size_t n, in = 0;

	if (why)
		SKIP(return, "%s", why);
	redis_run(_metadata, &r, "OK", "DEBUG", "POPULATE", "1000000");

	f = of_main(&r, CW_FINDING_EVENT_LOOP_STALL, &n);
	EXPECT_EQ(1, n);
	ASSERT_NE(NULL, f);
	TH_LOG("stall %llu ns, %llu on a CPU, %zu samples",
	       (unsigned long long)f->loop.duration_ns, (unsigned long long)f->loop.oncpu_ns,
	       f->nr_stacks);
	EXPECT_LE(f->loop.duration_ns / 2, f->loop.oncpu_ns);
	/* a sample every ~20 ms from 50 ms on; a quarter of them, for a busy machine */
	EXPECT_LE((f->loop.duration_ns - 50 * MS) / (20 * MS) / 4, f->nr_stacks);
	for (size_t i = 0; i < f->nr_stacks; i++)
		in += has_frame(&r, &f->stacks[i], "debugCommand", 0);
	EXPECT_LT(f->nr_stacks / 2, in) {
		for (size_t i = 0; i < f->nr_stacks && i < 3; i++)
			has_frame(&r, &f->stacks[i], "debugCommand", 1);
	}
	/* it ran all along: no block */
	of_main(&r, CW_FINDING_BLOCKING_IN_EVENT_LOOP, &n);
	EXPECT_EQ(0, n);
	redis_fini(&r);
}

#define NODE "/usr/bin/node"

/*
 * Node.js: wl_evloop.js's timer callback runs blockTheLoop(), 300 ms of synchronous
 * JavaScript, under --perf-basic-prof. The stall of the main thread (libuv's loop), on a
 * CPU, most of its samples in blockTheLoop(), named from V8's perf map: JIT-compiled code
 * in anonymous memory, unwound by its frame pointers into node's own frames.
 */
TEST(node_sync_function_stalls_its_loop)
{
	const char *why = cw_live_skip_reason();
	struct cw_source_opts opts = {};
	struct cw_session *sess = NULL;
	char js[PATH_MAX], map[64], err[256] = "";
	const struct cw_finding *f = NULL;
	struct cw_symbols *sym;
	struct cw_engine *eng;
	struct cw_findings *fs;
	struct cw_drain dr;
	struct cw_wl wl;
	__u64 slow_ns;
	size_t in = 0, named = 0;
	pid_t pid;

	if (access(NODE, X_OK))
		why = "node is not installed (scripts/deps.sh installs it)";
	if (why)
		SKIP(return, "%s", why);
	cw_workload_path("wl_evloop.js", js, sizeof(js));
	/* the perf map only: V8's own log (isolate-*-v8.log in the working directory) not */
	ASSERT_EQ(0, cw_wl__start_cmd(&wl, (const char *const[]){ NODE, "--perf-basic-prof",
								   "--logfile=/dev/null", js, "300",
								   NULL }, -1));
	pid = cw_field(wl.ready, "pid");
	ASSERT_EQ(pid, cw_field(wl.ready, "loop"));
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, cw_drain__start(&dr, sess));
	ASSERT_EQ(0, cw_wl__go(&wl));
	slow_ns = cw_field(wl.done, "slow_ns");
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&dr));
	ASSERT_EQ(0, cw_session__finish(sess));
	cw_session__free(sess);
	/* node writes its perf map as it compiles, and has it all once it exits */
	EXPECT_EQ(0, cw_wl__stop(&wl));
	snprintf(map, sizeof(map), "/tmp/perf-%d.map", pid);
	ASSERT_EQ(0, access(map, R_OK));
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	ASSERT_EQ(0, cw_symbols__new(eng, NULL, &sym));

	for (size_t i = 0; i < cw_findings__nr(fs); i++) {
		const struct cw_finding *g = cw_findings__get(fs, i);

		if (g->kind == CW_FINDING_EVENT_LOOP_STALL && g->threads[0].tid == (__u32)pid) {
			EXPECT_EQ(NULL, f);
			f = g;
		}
	}
	ASSERT_NE(NULL, f);
	TH_LOG("stall %llu ns, %llu on a CPU, %zu samples; the callback measured %llu ns",
	       (unsigned long long)f->loop.duration_ns, (unsigned long long)f->loop.oncpu_ns,
	       f->nr_stacks, (unsigned long long)slow_ns);
	EXPECT_LE(slow_ns, f->loop.duration_ns);
	EXPECT_LE(f->loop.duration_ns * 9 / 10, f->loop.oncpu_ns);
	EXPECT_LE((f->loop.duration_ns - 50 * MS) / (20 * MS) / 4, f->nr_stacks);
	for (size_t i = 0; i < f->nr_stacks; i++) {
		const struct cw_stack *st = cw_engine__find_stack(eng, f->stacks[i].pid,
								  CW_STACK_USER, f->stacks[i].id);
		struct cw_ustack u;
		int jit = 0, node = 0;

		if (!st || cw_symbols__resolve(sym, st, &u))
			continue;
		for (size_t j = 0; j < u.nr; j++) {
			const struct cw_frame *fr = &u.frames[j];

			/* V8 names it "JS:*blockTheLoop /path/wl_evloop.js:20" or so */
			if (fr->func && strstr(fr->func, "blockTheLoop") && fr->module &&
			    !strcmp(fr->module, map))
				jit = 1;
			/* and the walk went on through V8 into node's own code */
			if (jit && fr->func && strstr(fr->func, "node::"))
				node = 1;
		}
		in += jit;
		named += node;
		if (!jit && i < 3)
			for (size_t j = 0; j < u.nr && j < 12; j++)
				TH_LOG("sample %zu #%zu %s [%s]", i, j, u.frames[j].func ?: "?",
				       u.frames[j].module ?: "?");
		cw_ustack__fini(&u);
	}
	TH_LOG("%zu of %zu samples in blockTheLoop(), %zu of them unwound into node::",
	       in, f->nr_stacks, named);
	EXPECT_LT(f->nr_stacks / 2, in);
	EXPECT_LT(in / 2, named);
	cw_symbols__free(sym);
	cw_findings__free(fs);
	cw_engine__free(eng);
	unlink(map);
}

TEST_HARNESS_MAIN
