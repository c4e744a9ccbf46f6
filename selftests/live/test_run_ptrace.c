// SPDX-License-Identifier: GPL-2.0
/*
 * `run` with the in-process library (its default backend) leaves ptrace to the program: a
 * process the library records is released from concwatch's ptrace at its exec or fork,
 * and its descendants are followed through the kernel's process events. So what needs
 * ptrace for itself works under run: LeakSanitizer (its leak check stops the threads
 * with ptrace at exit) and strace (which traces its child), with every finding still
 * made.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "cwtest.h"

/* A new temporary file's path in buf: 0, or -1. */
static int tmp_path(char *buf, size_t len, const char *what)
{
	int fd = cw_tmp_file(buf, len, "cw-ptrace", what);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * concwatch run [--backend BACKEND] --json -o JSON -- argv..., its stderr in *err;
 * backend NULL: run's default
 */
static int run_json(const char *backend, const char *const cmd[], const char *json, char **out,
		    char **err)
{
	const char *argv[32] = { cw_bin_path(), "run", "--json", "-o", json };
	int n = 5;

	if (backend) {
		argv[n++] = "--backend";
		argv[n++] = backend;
	}
	argv[n++] = "--";

	while (*cmd && n < 31)
		argv[n++] = *cmd++;
	argv[n] = NULL;
	return cw_run_capture(argv, NULL, out, err);
}

/* The inversion of wl_abba, and no other finding, in report file json. */
static void expect_abba(struct __test_metadata *_metadata, const char *json)
{
	EXPECT_EQ(1, cw_jq_holds(json, "[.findings[] | select(.kind == \"lock_order_inversion\")]"
				       " | length == 1"));
	EXPECT_EQ(1, cw_jq_holds(json, "[.findings[].locks[].name] | sort == [\"lock_a\", "
				       "\"lock_b\"]"));
	EXPECT_EQ(1, cw_jq_holds(json, "[.. | .func? | select(. == \"t2_take_b_then_a\")] | "
				       "length > 0"));
}

/*
 * A program built with AddressSanitizer leaks a block: its LeakSanitizer report comes
 * out whole (under ptrace it says "LeakSanitizer has encountered a fatal error"), its
 * exit status (1) is run's, and its inversion is found. The sanitizer's runtime is not
 * first in the library list with concwatch's library preloaded: run tells it not to mind.
 * The sanitizer's tracer process (a clone sharing the program's memory) is not said to
 * have missed the library.
 */
TEST(leaksanitizer_report_survives_run)
{
	char path[PATH_MAX + 64], json[PATH_MAX];
	char *out = NULL, *err = NULL;
	int status;

	LIVE_OR_SKIP();
	ASSERT_EQ(0, tmp_path(json, sizeof(json), "json"));
	status = run_json("preload", (const char *[]){ cw_workload_path("wl_abba_asan", path,
									 sizeof(path)), NULL },
			  json, &out, &err);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(1, WEXITSTATUS(status)) TH_LOG("stderr: %s", err);
	EXPECT_NE(NULL, strstr(err, "ERROR: LeakSanitizer: detected memory leaks")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "Direct leak of 4096 byte(s) in 1 object(s) allocated from:"));
	EXPECT_NE(NULL, strstr(err, " in leak_some "));
	EXPECT_EQ(NULL, strstr(err, "fatal error"));
	EXPECT_EQ(NULL, strstr(err, "did not load the in-process library")) TH_LOG("%s", err);
	expect_abba(_metadata, json);
	unlink(json);
	free(out);
	free(err);
}

/*
 * strace under run, as a user types it (no --backend: run's default is the library): it
 * traces its child (which run follows without ptrace, a fork and an exec after the fact),
 * writes the exec and the exit it saw, and the child's inversion is found in the program
 * strace started. The child strace forks to probe ptrace and kills at once is not said
 * to have missed the library.
 */
TEST(strace_works_under_run)
{
	char path[PATH_MAX + 64], json[PATH_MAX], trace[PATH_MAX], want[2 * PATH_MAX + 256];
	char *out = NULL, *err = NULL;
	int status;

	LIVE_OR_SKIP();
	if (access("/usr/bin/strace", X_OK))
		SKIP(return, "no /usr/bin/strace (Debian package strace)");
	ASSERT_EQ(0, tmp_path(json, sizeof(json), "json"));
	ASSERT_EQ(0, tmp_path(trace, sizeof(trace), "trace"));
	cw_workload_path("wl_abba", path, sizeof(path));
	status = run_json(NULL, (const char *[]){ "/usr/bin/strace", "-f", "-q", "-s", "4096",
						  "-e", "trace=execve", "-o", trace, path, NULL },
			  json, &out, &err);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("stderr: %s", err);
	snprintf(want, sizeof(want), "execve(\"%s\", [\"%s\"]", path, path);
	EXPECT_EQ(1, cw_file_has(trace, want));
	EXPECT_EQ(1, cw_file_has(trace, "+++ exited with 0 +++"));
	/* strace's own child, killed at once to probe ptrace, ran no code of its own */
	EXPECT_EQ(NULL, strstr(err, "did not load the in-process library")) TH_LOG("%s", err);
	expect_abba(_metadata, json);
	unlink(json);
	unlink(trace);
	free(out);
	free(err);
}

/*
 * A static program started by posix_spawn() from a recorded process: no exec function
 * the library wraps, so concwatch learns of it after it started and attaches its lock
 * uprobes then, saying so. The program waits (-w) until the test has read that line,
 * then makes its inversion, which is found.
 */
TEST(posix_spawned_static_binary_traced_from_when_seen)
{
	char spawn[PATH_MAX + 64], abba[PATH_MAX + 64], json[PATH_MAX], line[1024];
	const char *argv[] = { cw_bin_path(), "run", "--backend", "preload", "--json", "-o",
			       json, "--", spawn, abba, "-w", NULL };
	struct cw_wl wl;
	int err_pipe[2], found = 0;
	FILE *err;

	LIVE_OR_SKIP();
	ASSERT_EQ(0, tmp_path(json, sizeof(json), "json"));
	cw_workload_path("wl_spawn", spawn, sizeof(spawn));
	cw_workload_path("wl_abba_static", abba, sizeof(abba));
	ASSERT_EQ(0, pipe(err_pipe));
	ASSERT_EQ(0, cw_wl__start_cmd(&wl, argv, err_pipe[1]));
	close(err_pipe[1]);
	err = fdopen(err_pipe[0], "r");
	ASSERT_NE(NULL, err);
	/* the barrier: run says it traces the program's lock calls */
	while (!found && fgets(line, sizeof(line), err)) {
		char want[256];

		snprintf(want, sizeof(want), "concwatch run: process %lld (wl_abba_static) is a "
			 "static binary: its lock calls are traced through uprobes, from when "
			 "concwatch saw it start (its first ones may be missed)\n",
			 cw_field(wl.ready, "pid"));
		found = !strcmp(line, want);
		if (!found)
			TH_LOG("stderr: %s", line);
	}
	ASSERT_TRUE(found);
	ASSERT_EQ(0, cw_wl__go(&wl));
	EXPECT_EQ(0, cw_wl__stop(&wl));
	while (fgets(line, sizeof(line), err))
		TH_LOG("stderr: %s", line);
	fclose(err);
	expect_abba(_metadata, json);
	unlink(json);
}

TEST_HARNESS_MAIN
