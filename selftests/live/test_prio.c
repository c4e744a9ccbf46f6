// SPDX-License-Identifier: GPL-2.0
/*
 * Priority inversion on a real process, through the command line a user runs:
 * `concwatch report -v --json -p PID` attached to wl_prio (SCHED_FIFO H 30, M 20, L 10 on
 * one CPU, ordered by semaphores and /proc, never by sleeping). The JSON goes through jq.
 *
 *   plain   a non-PI mutex: exactly one priority_inversion finding, rule preempted, with
 *           H, L and M's tids, the lock's address, and a duration of at least 200 ms and
 *           at most M's own measured spin plus 100 ms
 *   pi      PTHREAD_PRIO_INHERIT: no priority_inversion finding, and the boost in
 *           pi_boosts: L raised from FIFO 10 (kernel prio 89) to H's (69), donor H
 *   fork    M a process of its own ("prio-m", not traced): the finding names M's pid
 *           and comm, and has no stack of M
 * kmod and kmod_pi are plain and pi through the kernel module (--backend kmod), loaded
 * here where it can be (the QEMU guests).
 * With the plain and fork variants, L's stack is taken where it spins holding the lock
 * (wl_prio's line_l); with plain, M's where it sleeps after its spin (line_m).
 * and, under `run` and `record`: --fail-on priority_inversion exits 66 (0 with PI); a
 * recording reports the same inversion; L SCHED_OTHER gives a latent finding (a warning)
 * without M, the measured one when M spins.
 *
 * Skips (exit 4) when SCHED_FIFO is not permitted (sched_setscheduler: EPERM) or only
 * one CPU is allowed, with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"

#define SPIN_MS 300

struct report {
	struct cw_wl wl;
	char json[64];
	char err[64];
};

FIXTURE(prio) {
	struct report r;
	int kmod_loaded;	/* the module, by this test: unloaded after */
};

FIXTURE_VARIANT(prio) {
	const char *flag;	/* wl_prio's: NULL, "-pi", "-fork" */
	const char *backend;	/* NULL: BPF */
};

FIXTURE_VARIANT_ADD(prio, plain) {
	.flag = NULL,
};

FIXTURE_VARIANT_ADD(prio, pi) {
	.flag = "-pi",
};

FIXTURE_VARIANT_ADD(prio, fork) {
	.flag = "-fork",
};

FIXTURE_VARIANT_ADD(prio, kmod) {
	.flag = NULL,
	.backend = "kmod",
};

FIXTURE_VARIANT_ADD(prio, kmod_pi) {
	.flag = "-pi",
	.backend = "kmod",
};

FIXTURE_SETUP(prio)
{
	const char *why = cw_live_skip_reason();

	memset(&self->r, 0, sizeof(self->r));
	self->kmod_loaded = 0;
	if (!why && system("jq --version >/dev/null 2>&1"))
		why = "jq is not installed";
	if (!why && variant->backend)
		why = cw_kmod_skip_reason(&self->kmod_loaded);
	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(prio)
{
	if (self->r.wl.pid > 0)
		cw_wl__stop(&self->r.wl);
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

TEST_F_TIMEOUT(prio, report, 300)
{
	const char *wl_args[4] = { "-w", variant->flag, NULL };
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	struct report *r = &self->r;
	const char *argv[10];
	long long h, l, m, pid_m, lock, spin, wl_pid, line_l, line_m;
	char pid[16], reason[64] = "";
	int out, err, status, i, n = 0;
	const char *p;
	pid_t cw;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, cw_wl__start(&r->wl, "wl_prio", wl_args));
	if (cw_field(r->wl.ready, "skip") == 1) {
		p = strstr(r->wl.ready, "reason=");
		if (p)
			snprintf(reason, sizeof(reason), "%.*s", (int)strcspn(p + 7, " \n"), p + 7);
		cw_wl__stop(&r->wl);
		r->wl.pid = 0;
		SKIP(return, "SCHED_FIFO threads on one CPU: %s", reason);
	}
	h = cw_field(r->wl.ready, "tid_h");
	l = cw_field(r->wl.ready, "tid_l");
	m = cw_field(r->wl.ready, "tid_m");
	pid_m = cw_field(r->wl.ready, "pid_m");
	lock = cw_field(r->wl.ready, "lock");
	wl_pid = r->wl.pid;
	ASSERT_LT(0, h);
	ASSERT_LT(0, lock);

	snprintf(pid, sizeof(pid), "%d", r->wl.pid);
	argv[n++] = cw_bin_path();
	argv[n++] = "report";
	argv[n++] = "-v";	/* says when it traces: only then does the work start */
	argv[n++] = "--json";
	if (variant->backend) {
		argv[n++] = "--backend";
		argv[n++] = variant->backend;
	}
	argv[n++] = "-p";
	argv[n++] = pid;
	argv[n] = NULL;
	out = cw_tmp_file(r->json, sizeof(r->json), "cw-prio", "json");
	ASSERT_LE(0, out);
	err = cw_tmp_file(r->err, sizeof(r->err), "cw-prio", "err");
	ASSERT_LE(0, err);
	cw = fork();
	ASSERT_LE(0, cw);
	if (!cw) {
		if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out);
	close(err);
	for (i = 0; !cw_file_has(r->err, "tracing process"); i++) {
		ASSERT_EQ(0, waitpid(cw, &status, WNOHANG))
			TH_LOG("concwatch ended before tracing, stderr in %s", r->err);
		ASSERT_LT(i, 12000) TH_LOG("concwatch never said it traces (stderr in %s)", r->err);
		nanosleep(&nap, NULL);
	}
	ASSERT_EQ(0, cw_wl__go(&r->wl));
	spin = cw_field(r->wl.done, "m_spin_ns");
	ASSERT_LE(SPIN_MS * 1000000LL, spin);
	line_l = cw_field(r->wl.done, "line_l");
	line_m = cw_field(r->wl.done, "line_m");
	ASSERT_LT(0, line_l);
	ASSERT_LT(0, line_m);
	ASSERT_EQ(0, cw_wl__stop(&r->wl));
	r->wl.pid = 0;
	ASSERT_EQ(cw, waitpid(cw, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("concwatch failed, stderr in %s", r->err);

#define PI_FINDINGS "[.findings[] | select(.kind == \"priority_inversion\")]"
	if (variant->flag && !strcmp(variant->flag, "-pi")) {
		EXPECT_JQ(r, PI_FINDINGS " | length == 0");
		EXPECT_JQ(r, "[.pi_boosts[] | select(.tid == %lld and .donor_tid == %lld and "
			     ".old_prio == 89 and .new_prio == 69 and .comm == \"prio-l\" and "
			     ".donor_comm == \"prio-h\")] | length == 1", l, h);
		return;
	}
	EXPECT_JQ(r, PI_FINDINGS " | length == 1");
	EXPECT_JQ(r, PI_FINDINGS "[0] | .rule == \"preempted\" and .severity == \"error\" and "
		     ".bounded == true and .locks[0].addr == \"0x%llx\" and "
		     ".locks[0].name == \"prio_lock\"", lock);
	EXPECT_JQ(r, PI_FINDINGS "[0] | .high.tid == %lld and .high.rt_priority == 30 and "
		     ".high.policy == \"SCHED_FIFO\" and .low.tid == %lld and "
		     ".low.rt_priority == 10 and .low.comm == \"prio-l\"", h, l);
	EXPECT_JQ(r, PI_FINDINGS "[0].preemptor | .tid == %lld and .pid == %lld and "
		     ".comm == \"prio-m\" and .rt_priority == 20 and .took_cpu == true and "
		     ".same_process == %s", m, pid_m, pid_m == wl_pid ? "true" : "false");
	EXPECT_JQ(r, PI_FINDINGS "[0] | .duration_ns >= 200000000 and .duration_ns <= %lld",
		  spin + 100000000LL);
	EXPECT_JQ(r, PI_FINDINGS "[0].high.stack | map(.func) | index(\"wait_prio_lock\") != null");
	/* L where it spins holding the lock, kept off its CPU; its innermost frame is ours */
	EXPECT_JQ(r, PI_FINDINGS "[0].low.stack[0] | .func == \"hold_prio_lock\" and "
		     "(.file | endswith(\"wl_prio.c\")) and .line == %lld", line_l);
	if (pid_m == wl_pid) {
		/* M as it gave the CPU back: asleep in the function that spun */
		EXPECT_JQ(r, "[" PI_FINDINGS "[0].preemptor.stack[] | select(.func == \"spin_m\" "
			     "and .line == %lld)] | length == 1", line_m);
	} else if (pid_m != wl_pid) {
		/* M's process is not traced (report -p): its stack is not taken */
		EXPECT_JQ(r, PI_FINDINGS "[0].preemptor.stack == null");
		EXPECT_NE(wl_pid, pid_m);
	}
	EXPECT_JQ(r, ".pi_boosts | length == 0");
}

/* The commands that run wl_prio themselves: slow under QEMU, hence the timeouts. */
FIXTURE(cmd) {
	int unused;
};

FIXTURE_SETUP(cmd)
{
}

FIXTURE_TEARDOWN(cmd)
{
}

/*
 * `concwatch run --fail-on priority_inversion -- wl_prio`: exit 66 on the inversion, with
 * L's and M's stacks in the text report; the command's own 0 with a PI mutex.
 */
TEST_F_TIMEOUT(cmd, run_fail_on, 300)
{
	char path[4096], want[128], *out = NULL, *err = NULL, *p, *end;
	const char *why = cw_live_skip_reason();
	int status;

	if (why)
		SKIP(return, "%s", why);
	cw_workload_path("wl_prio", path, sizeof(path));
	status = cw_run_capture((const char *[]){ cw_bin_path(), "run", "--fail-on",
						  "priority_inversion", "--", path, NULL },
				NULL, &out, &err);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 4 || strstr(out ?: "", " skip=1")) {
		free(out);
		free(err);
		SKIP(return, "wl_prio cannot run here: %s", out);
	}
	EXPECT_EQ(66, WEXITSTATUS(status)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "finding 1: priority_inversion (preempted)")) TH_LOG("%s", err);
	/* the text report: L's and M's stacks, each with wl_prio's frame on top of ours */
	snprintf(want, sizeof(want), "  prio-l's stack while kept off its CPU:\n"
		 "      #0  hold_prio_lock+0x");
	EXPECT_NE(NULL, strstr(err, want)) TH_LOG("%s", err);
	snprintf(want, sizeof(want), " spin_m+0x");
	p = strstr(err, "  prio-m's stack as it gave the CPU back:\n");
	EXPECT_NE(NULL, p) TH_LOG("%s", err);
	if (p) {
		end = strstr(p, "(complete)");
		p = strstr(p, want);
		EXPECT_TRUE(p && end && p < end) TH_LOG("%s", err);
	}
	free(out);
	free(err);
	status = cw_run_capture((const char *[]){ cw_bin_path(), "run", "--fail-on",
						  "priority_inversion", "--", path, "-pi", NULL },
				NULL, &out, &err);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "\nPriority inheritance boosts")) TH_LOG("%s", err);
	free(out);
	free(err);
}

/*
 * L SCHED_OTHER (-other): without M (SPIN_MS -1), one latent finding (a warning) naming H
 * and L; with M spinning, the measured inversion only (it subsumes the latent one).
 */
TEST_F_TIMEOUT(cmd, latent, 300)
{
	char path[4096], json[64], cmd[8192], *out = NULL, *err = NULL;
	const char *why = cw_live_skip_reason();
	const char *spins[] = { "-1", "300" };
	int status, fd;

	if (!why && system("jq --version >/dev/null 2>&1"))
		why = "jq is not installed";
	if (why)
		SKIP(return, "%s", why);
	cw_workload_path("wl_prio", path, sizeof(path));
	for (int i = 0; i < 2; i++) {
		fd = cw_tmp_file(json, sizeof(json), "cw-prio", "latent");
		ASSERT_LE(0, fd);
		close(fd);
		status = cw_run_capture((const char *[]){ cw_bin_path(), "run", "--json", "-o",
							  json, "--", path, "-other", spins[i],
							  NULL },
					NULL, &out, &err);
		ASSERT_TRUE(WIFEXITED(status));
		if (strstr(out ?: "", " skip=1")) {
			unlink(json);
			SKIP(return, "wl_prio cannot run here: %s", out);
		}
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", err);
		snprintf(cmd, sizeof(cmd),
			 "jq -e '[.findings[] | select(.kind == \"priority_inversion\")] | "
			 "length == 1 and .[0].rule == \"%s\" and .[0].severity == \"%s\" and "
			 ".[0].high.tid == %lld and .[0].low.tid == %lld and "
			 ".[0].low.policy == \"SCHED_OTHER\"' < '%s' >/dev/null",
			 i ? "preempted" : "latent", i ? "error" : "warning",
			 cw_field(out, "tid_h"), cw_field(out, "tid_l"), json);
		EXPECT_EQ(0, system(cmd)) TH_LOG("%s, in:%s\nrun said:\n%s", cmd,
						 cw_log_file(json, 65536), err);
		if (_metadata->passed)
			unlink(json);
		free(out);
		free(err);
		out = err = NULL;
	}
}

/*
 * record --timeline -- wl_prio, then report FILE --json: the same finding from the
 * recording, with L's stack (the timeline's per-switch records and the stack walks fit
 * in sched_switch together).
 */
TEST_F_TIMEOUT(cmd, record_round_trip, 300)
{
	char path[4096], rec[64], cmd[8192], *out = NULL, *err = NULL;
	const char *why = cw_live_skip_reason();
	int status, fd;

	if (!why && system("jq --version >/dev/null 2>&1"))
		why = "jq is not installed";
	if (why)
		SKIP(return, "%s", why);
	cw_workload_path("wl_prio", path, sizeof(path));
	fd = cw_tmp_file(rec, sizeof(rec), "cw-prio", "rec");
	ASSERT_LE(0, fd);
	close(fd);
	status = cw_run_capture((const char *[]){ cw_bin_path(), "record", "--timeline", "-o",
						  rec, "--", path, NULL },
				NULL, &out, &err);
	ASSERT_TRUE(WIFEXITED(status));
	if (strstr(out ?: "", " skip=1")) {
		unlink(rec);
		SKIP(return, "wl_prio cannot run here: %s", out);
	}
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", err);
	snprintf(cmd, sizeof(cmd),
		 "'%s' report '%s' --json | jq -e '[.findings[] | select(.kind == "
		 "\"priority_inversion\" and .rule == \"preempted\" and .high.tid == %lld and "
		 ".low.tid == %lld and .preemptor.tid == %lld and .duration_ns >= 200000000 and "
		 ".low.stack[0].func == \"hold_prio_lock\")] | length == 1' >/dev/null",
		 cw_bin_path(), rec, cw_field(out, "tid_h"), cw_field(out, "tid_l"),
		 cw_field(out, "tid_m"));
	EXPECT_EQ(0, system(cmd)) TH_LOG("%s; recording %s", cmd, rec);
	if (_metadata->passed)
		unlink(rec);
	free(out);
	free(err);
}

TEST_HARNESS_MAIN
