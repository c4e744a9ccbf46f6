// SPDX-License-Identifier: GPL-2.0
/*
 * Livelocks on real processes, through the command line a user runs: `concwatch report
 * --json -o FILE -p PID` attached to selftests/workloads/wl_livelock, which waits for it
 * (the wl.h handshake: the rounds run between "go", sent once concwatch says it is
 * tracing, and "done"). The JSON goes through jq.
 *
 *   lockstep     two threads in lockstep (a barrier between every step), each holding its
 *                own lock and trylocking the other's, ROUNDS rounds of ~1 ms: exactly one
 *                livelock finding, with the two tids, the two lock addresses, each
 *                thread's ROUNDS failures on the other's lock held by the other, from
 *                try_other() called by livelock_round(), for longer than the threshold
 *   timed        lockstep with pthread_mutex_timedlock() timing out after 1 ms: the same,
 *                each attempt a timedlock that waited its timeout
 *   progress     the same threads taking turns on one lock: each one's trylock fails
 *                once and succeeds once every two rounds: busy, but no livelock
 *   no_uprobes   lockstep under --no-uprobes: no finding, and the report says livelock
 *                detection is not available
 *   kmod         lockstep through the kernel module (--backend kmod, loaded here where
 *                it can be: the QEMU guests): the same finding
 *   preload, timed_preload, progress_preload
 *                lockstep, timed and progress through the in-process library: `concwatch
 *                run --backend preload --json -o FILE -- wl_livelock -w ...` (the library
 *                cannot be given to a running process), whose command keeps the
 *                handshake's standard input and output: the same findings
 *   run_fail_on_livelock   `run --fail-on livelock` exits 66 on lockstep, 0 on progress
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"

#define ROUNDS 1500		/* of ~1.1 ms each: 1.7 s, past the 500 ms threshold */

#define PRELOAD 3		/* a variant's no_uprobes: run --backend preload */

/*
 * wl_livelock -w ROUNDS 1000 mode under `concwatch report --json -o FILE -p PID`, or
 * (PRELOAD) under `concwatch run --backend preload --json -o FILE`.
 */
static void report_run(struct __test_metadata *_metadata, struct cw_report *r, const char *mode,
		       int no_uprobes)
{
	char rounds[16];
	const char *wl_args[] = { "-w", rounds, "1000", mode, NULL };
	const char *argv[12];
	char pid[16];
	int n = 0, out, err, status = 0;
	pid_t cw;

	snprintf(rounds, sizeof(rounds), "%d", ROUNDS);
	if (no_uprobes == PRELOAD) {
		char why[256];

		/* run traces it from its exec: before "go" its threads only wait at a barrier */
		ASSERT_EQ(0, cw_report__run_preload(r, "cw-livelock", NULL, "wl_livelock",
						    wl_args + 1, why, sizeof(why)))
			TH_LOG("%s", why);
		return;
	}
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(0, cw_wl__start(&r->wl, "wl_livelock", wl_args));
	snprintf(pid, sizeof(pid), "%d", r->wl.pid);
	out = cw_tmp_file(r->json, sizeof(r->json), "cw-livelock", "json");
	ASSERT_LE(0, out);
	close(out);
	err = cw_tmp_file(r->err, sizeof(r->err), "cw-livelock", "err");
	ASSERT_LE(0, err);
	argv[n++] = cw_bin_path();
	argv[n++] = "report";
	argv[n++] = "-v";	/* says when it traces */
	argv[n++] = "--json";
	argv[n++] = "-o";
	argv[n++] = r->json;
	if (no_uprobes == 1)
		argv[n++] = "--no-uprobes";
	if (no_uprobes == 2) {
		argv[n++] = "--backend";
		argv[n++] = "kmod";
	}
	argv[n++] = "-p";
	argv[n++] = pid;
	argv[n] = NULL;
	/* the rounds start once the probes are in place */
	cw = cw_trace_start(argv, -1, err, r->err, &status);
	ASSERT_LT(0, cw) TH_LOG("concwatch did not trace (%d, status 0x%x), stderr in %s", cw,
				status, r->err);
	ASSERT_EQ(0, cw_wl__go(&r->wl));
	ASSERT_EQ(0, cw_wl__stop(&r->wl));
	ASSERT_EQ(cw, waitpid(cw, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("concwatch: status 0x%x", status);
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("concwatch failed, stderr in %s", r->err);
}

#define LIVELOCKS "[.findings[] | select(.kind == \"livelock\")]"

FIXTURE(ll) {
	struct cw_report r;
	int kmod_loaded;	/* the module, by this test: unloaded after */
};

FIXTURE_VARIANT(ll) {
	const char *mode;	/* wl_livelock's: 0 lockstep, 1 progress, 2 timed */
	int no_uprobes;		/* 1: --no-uprobes; 2: --backend kmod; PRELOAD */
};

FIXTURE_VARIANT_ADD(ll, lockstep) {
	.mode = "0",
};

FIXTURE_VARIANT_ADD(ll, timed) {
	.mode = "2",
};

FIXTURE_VARIANT_ADD(ll, progress) {
	.mode = "1",
};

FIXTURE_VARIANT_ADD(ll, no_uprobes) {
	.mode = "0",
	.no_uprobes = 1,
};

FIXTURE_VARIANT_ADD(ll, kmod) {
	.mode = "0",
	.no_uprobes = 2,
};

FIXTURE_VARIANT_ADD(ll, preload) {
	.mode = "0",
	.no_uprobes = PRELOAD,
};

FIXTURE_VARIANT_ADD(ll, timed_preload) {
	.mode = "2",
	.no_uprobes = PRELOAD,
};

FIXTURE_VARIANT_ADD(ll, progress_preload) {
	.mode = "1",
	.no_uprobes = PRELOAD,
};

FIXTURE_SETUP(ll)
{
	const char *why = cw_live_skip_reason();

	memset(&self->r, 0, sizeof(self->r));
	self->kmod_loaded = 0;
	if (!why && system("jq --version >/dev/null 2>&1"))
		why = "jq is not installed";
	if (!why && variant->no_uprobes == 2)
		why = cw_kmod_skip_reason(&self->kmod_loaded);
	if (why)
		SKIP(return, "%s", why);
	report_run(_metadata, &self->r, variant->mode, variant->no_uprobes);
}

FIXTURE_TEARDOWN(ll)
{
	if (self->kmod_loaded > 0)
		EXPECT_EQ(0, cw_kmod_unload());
	if (_metadata->passed && !_metadata->skip) {
		if (self->r.json[0])
			unlink(self->r.json);
		if (self->r.err[0])
			unlink(self->r.err);
	} else if (self->r.json[0]) {
		fprintf(stderr, "# kept %s and %s\n", self->r.json, self->r.err);
	}
}

TEST_F_TIMEOUT(ll, report, 120)
{
	long long t1 = cw_field(self->r.wl.ready, "tid1"), t2 = cw_field(self->r.wl.ready, "tid2");
	long long a = cw_field(self->r.wl.ready, "a"), b = cw_field(self->r.wl.ready, "b");
	const char *op = !strcmp(variant->mode, "2") ? "timedlock" : "trylock";

	CW_SKIPPED_IN_SETUP();
	ASSERT_LT(0, t1);
	ASSERT_LT(0, t2);
	/* the workload did what it says: every attempt failed, or half of them */
	if (strcmp(variant->mode, "1")) {
		ASSERT_EQ(ROUNDS, cw_field(self->r.wl.done, "failures1")) TH_LOG("%s", self->r.wl.done);
		ASSERT_EQ(ROUNDS, cw_field(self->r.wl.done, "failures2"));
		ASSERT_EQ(0, cw_field(self->r.wl.done, "acquired1"));
	} else {
		ASSERT_EQ(ROUNDS / 2, cw_field(self->r.wl.done, "failures1"))
			TH_LOG("%s", self->r.wl.done);
		ASSERT_EQ(ROUNDS / 2, cw_field(self->r.wl.done, "acquired2"));
	}
	EXPECT_JQ(&self->r, ".lost_events == 0");
	/*
	 * no lock's percentiles above its longest wait: its histogram holds the waits that
	 * were measured, not a 0 for a trylock the in-process library does not time
	 */
	EXPECT_JQ(&self->r, ".locks | all(.wait_p99_ns == null or .wait_p99_ns <= .wait_ns_max)");
	if (variant->no_uprobes == 1) {
		EXPECT_JQ(&self->r, ".mode.uprobes == false and "
				    "(.mode.not_available | index(\"livelock\") != null)");
		EXPECT_JQ(&self->r, LIVELOCKS " | length == 0");
		return;
	}
	EXPECT_JQ(&self->r, ".mode.not_available | index(\"livelock\") == null");
	if (!strcmp(variant->mode, "1")) {
		EXPECT_JQ(&self->r, LIVELOCKS " | length == 0");
		return;
	}
	EXPECT_JQ(&self->r, LIVELOCKS " | length == 1");
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | [.threads[].tid] == [%lld, %lld]", t1 < t2 ? t1 : t2,
		  t1 < t2 ? t2 : t1);
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | [.locks[].addr] | sort == ([\"0x%llx\", \"0x%llx\"] | "
		  "sort)", a, b);
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | [.locks[].name] | sort == [\"lock_a\", \"lock_b\"]");
	/* each thread failed on the other's lock, held by the other, every round */
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | [.attempts[] | select(.tid == %lld and "
		  ".lock == \"0x%llx\" and .held_by == %lld and .op == \"%s\" and "
		  ".failures == %d)] | length == 1", t1, b, t2, op, ROUNDS);
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | [.attempts[] | select(.tid == %lld and "
		  ".lock == \"0x%llx\" and .held_by == %lld and .op == \"%s\" and "
		  ".failures == %d)] | length == 1", t2, a, t1, op, ROUNDS);
	/* a timed acquire waited its timeout (1 ms) each time before it failed */
	if (!strcmp(variant->mode, "2"))
		EXPECT_JQ(&self->r, LIVELOCKS "[0] | all(.attempts[]; .timed_wait_ns >= %d * 1000000)",
			  ROUNDS);
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | .attempts | length == 2");
	/* thread_stats counted the same failures, and the threads ran */
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | all(.threads[]; .trylock_failures == %d and "
		  ".oncpu_ns > 0 and .switches > 0)", ROUNDS);
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | .failures == %d and .duration_ns >= 500000000 and "
		  ".threshold_ns == 500000000 and .failure_rate > 0", 2 * ROUNDS);
	EXPECT_JQ(&self->r, LIVELOCKS "[0] | all(.attempts[]; [.stack[].func] | "
		  "index(\"try_other\") != null and index(\"livelock_round\") != null)");
}

/*
 * `run --fail-on livelock`: the livelocking workload fails the run (66) with the finding
 * in the report; the progressing one keeps its own status (0).
 */
TEST(run_fail_on_livelock)
{
	char wl[PATH_MAX + 64];
	const char *why = cw_live_skip_reason();
	char *out = NULL, *err = NULL;
	int status;

	if (why)
		SKIP(return, "%s", why);
	cw_workload_path("wl_livelock", wl, sizeof(wl));
	status = cw_run_capture((const char *[]){ cw_bin_path(), "run", "--fail-on", "livelock",
						  "--", wl, "800", "1000", "0", NULL },
				NULL, &out, &err);
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status 0x%x", status);
	EXPECT_EQ(66, WEXITSTATUS(status)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "\nfinding 1: livelock, process ")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "failed 800 trylocks of lock_b (0x")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "failed 800 trylocks of lock_a (0x")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "concwatch run: findings matched --fail-on livelock: exit "
				    "status 66\n")) TH_LOG("%s", err);
	free(out);
	free(err);
	status = cw_run_capture((const char *[]){ cw_bin_path(), "run", "--fail-on", "livelock",
						  "--", wl, "800", "1000", "1", NULL },
				NULL, &out, &err);
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status 0x%x", status);
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", err);
	EXPECT_EQ(NULL, strstr(err, ": livelock, process ")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "\nFindings: none\n")) TH_LOG("%s", err);
	free(out);
	free(err);
}

TEST_HARNESS_MAIN
