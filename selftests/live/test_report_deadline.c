// SPDX-License-Identifier: GPL-2.0
/*
 * `report -p PID --duration SEC` on a target that keeps every CPU busy making futex
 * calls (wl_futexstorm, more threads than CPUs): the reader competes with the target
 * for the CPU, and the records come about as fast as it reads them. The trace must
 * still end on time (a drain that never ran dry held it until the target ended), and
 * what could not be read must be said, never silently dropped.
 */
#include <errno.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "cwtest.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "N s traced" (or ms) of the report's first line, in seconds; -1 when absent. */
static double traced_s(const char *report)
{
	const char *end = strstr(report, " traced,");
	const char *p = end;
	double v;

	if (!end)
		return -1;
	while (p > report && p[-1] != ',')
		p--;
	if (sscanf(p, "%lf", &v) != 1)
		return -1;
	return !strncmp(end - 3, " ms", 3) ? v / 1e3 : v;
}

TEST(busy_target_ends_on_time)
{
	const char *why = cw_live_skip_reason();
	const char *wl_args[] = { "16", NULL };
	char pid[32], line[512], *out = NULL;
	const char *argv[] = { cw_bin_path(), "report", "-v", "-p", pid, "--duration", "1", NULL };
	size_t len = 0, cap = 0;
	int out_fd, err_fd, status, tracing = 0;
	double start, took, traced;
	struct cw_wl wl;
	FILE *ef, *of;
	pid_t cw;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_futexstorm", wl_args));
	ASSERT_EQ(0, cw_wl__send(&wl, "go\n"));
	snprintf(pid, sizeof(pid), "%d", wl.pid);
	cw = cw_spawn(argv, NULL, &out_fd, &err_fd);
	ASSERT_LT(0, cw);
	ef = fdopen(err_fd, "r");
	of = fdopen(out_fd, "r");
	ASSERT_NE(NULL, ef);
	ASSERT_NE(NULL, of);
	/* loading the programs and attaching take their time: the duration starts after */
	while (!tracing && fgets(line, sizeof(line), ef))
		tracing = !!strstr(line, "tracing process");
	start = now_s();
	ASSERT_TRUE(tracing) TH_LOG("concwatch never said it traces");
	while (fgets(line, sizeof(line), of)) {
		size_t n = strlen(line);

		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			out = realloc(out, cap);
			ASSERT_NE(NULL, out);
		}
		memcpy(out + len, line, n + 1);
		len += n;
	}
	ASSERT_EQ(cw, waitpid(cw, &status, 0));
	took = now_s() - start;
	while (fgets(line, sizeof(line), ef))
		;
	fclose(ef);
	fclose(of);
	EXPECT_EQ(0, cw_wl__stop(&wl));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/*
	 * Detaching, the last drain and the report come on top of the second traced:
	 * under a second here, but Linux 6.1 detaches its perf-event uprobes one by one
	 * (~0.1 s each, seconds in all in a QEMU guest). The bound only catches a drain that
	 * never ends; the deadline itself is the traced time below.
	 */
	EXPECT_GT(15.0, took) TH_LOG("traced for 1 s, ended after %.2f s", took);
	ASSERT_NE(NULL, out);
	traced = traced_s(out);
	TH_LOG("%.2f s traced, ended %.2f s after tracing began", traced, took);
	EXPECT_LE(1.0, traced) TH_LOG("report: %.200s", out);
	EXPECT_GT(1.5, traced) TH_LOG("report: %.200s", out);
	EXPECT_NE(NULL, strstr(out, "\nLost events: ")) TH_LOG("report: %s", out);
	free(out);
}

TEST_HARNESS_MAIN
