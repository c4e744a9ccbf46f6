// SPDX-License-Identifier: GPL-2.0
/*
 * The exports of a real recording, through the CLI as a user runs them: wl_contend's
 * threads hammer outer_lock then inner_lock, recorded with `concwatch record -p`.
 *  - folded: a line for outer_lock's waits from worker, through pthread_mutex_lock, with
 *    a weight;
 *  - pprof: go tool pprof -raw reads it (skipped without go), and its delays per lock
 *    are the folded lines' to the nanosecond;
 *  - perfetto: refused with exit status 2 and the way out without --timeline; with
 *    record --timeline (when this build has it), the contend-N threads' tracks, their
 *    waits on outer_lock by name, and balanced flow arrows (jq).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"

#define THREADS "4"

FIXTURE(exp) {
	char dir[64];
	char rec[128];
	int recorded;
};

static int run_ok(const char *const argv[], char **out, char **err)
{
	int status = cw_run_capture(argv, NULL, out, err);

	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Record wl_contend in full swing for a while, with extra (NULL or "--timeline"). */
static int record(struct __test_metadata *_metadata, const char *path, const char *extra)
{
	const char *args[] = { THREADS, NULL };
	char pid[16], *out = NULL, *err = NULL;
	struct cw_wl wl;
	int ret;

	if (cw_wl__start(&wl, "wl_contend", args) || cw_wl__go(&wl))
		return -1;
	snprintf(pid, sizeof(pid), "%lld", cw_field(wl.ready, "pid"));
	{
		const char *argv[] = { cw_bin_path(), "record", "-p", pid, "--duration", "1",
				       "-o", path, extra, NULL };

		ret = run_ok(argv, &out, &err);
	}
	if (ret)
		TH_LOG("record: exit %d: %s", ret, err);
	free(out);
	free(err);
	cw_wl__stop(&wl);
	return ret;
}

FIXTURE_SETUP(exp)
{
	const char *why = cw_live_skip_reason();

	if (why)
		SKIP(return, "%s", why);
	snprintf(self->dir, sizeof(self->dir), "/tmp/cw_export." CW_TMP_X);
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->rec, sizeof(self->rec), "%s/contend.cw", self->dir);
	ASSERT_EQ(0, record(_metadata, self->rec, NULL));
	self->recorded = 1;
}

FIXTURE_TEARDOWN(exp)
{
	char cmd[128];

	if (!self->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

/* The nanoseconds of the folded lines whose leaf is leaf, and whether each has frame. */
static unsigned long long folded_sum(const char *folded, const char *leaf, const char *frame,
				     int *lines, int *with_frame)
{
	unsigned long long sum = 0;
	const char *p = folded;

	*lines = *with_frame = 0;
	while (*p) {
		const char *eol = strchrnul(p, '\n'), *sp = eol;
		size_t n, ln = strlen(leaf);

		while (sp > p && sp[-1] != ' ')
			sp--;
		n = sp - p;	/* "...;pthread_mutex_lock;[mutex outer_lock] " */
		if (n > ln && !memcmp(p + n - 1 - ln, leaf, ln) && p[n - 1] == ' ') {
			(*lines)++;
			*with_frame += memmem(p, n, frame, strlen(frame)) != NULL;
			sum += strtoull(sp, NULL, 10);
		}
		p = *eol ? eol + 1 : eol;
	}
	return sum;
}

TEST_F_TIMEOUT(exp, folded_and_pprof_agree, 300)
{
	char *folded = NULL, *err = NULL, *raw = NULL, pb[160], cmd[512];
	unsigned long long outer, inner, pprof_outer = 0;
	int lines, with_worker, ret;
	const char *p;

	CW_SKIPPED_IN_SETUP();
	{
		const char *argv[] = { cw_bin_path(), "export", self->rec, "--format", "folded",
				       "-o", "-", NULL };

		ASSERT_EQ(0, run_ok(argv, &folded, &err)) TH_LOG("%s", err);
	}
	free(err);
	err = NULL;
	outer = folded_sum(folded, "[mutex outer_lock]", ";worker;pthread_mutex_lock;", &lines,
			   &with_worker);
	EXPECT_LT(0, lines) TH_LOG("no outer_lock line in:\n%s", folded);
	/*
	 * Every wait is in worker; but a wait whose copied stack was taken while the
	 * acquire's return address was the uretprobe trampoline (seen once in CI, cause not
	 * found) unwinds no further than pthread_mutex_lock, on a line of its own.
	 */
	EXPECT_LT(0, with_worker) TH_LOG("outer_lock never waited on in worker:\n%s", folded);
	EXPECT_LT(0, outer);
	/* inner_lock is only taken under outer_lock: nobody ever waits for it, no line */
	inner = folded_sum(folded, "[mutex inner_lock]", ";worker;pthread_mutex_lock;", &lines,
			   &with_worker);
	EXPECT_EQ(0, lines) TH_LOG("an inner_lock line in:\n%s", folded);

	snprintf(pb, sizeof(pb), "%s/contend.pb.gz", self->dir);
	{
		const char *argv[] = { cw_bin_path(), "export", self->rec, "--format", "pprof",
				       "-o", pb, NULL };

		ret = run_ok(argv, &raw, &err);
		ASSERT_EQ(0, ret) TH_LOG("%s", err);
		free(raw);
		free(err);
	}
	if (system("command -v go >/dev/null 2>&1")) {
		free(folded);
		SKIP(return, "go is not installed (Debian: golang-go): pprof not read back");
	}
	/* offline, every Go cache in the test's directory */
	snprintf(cmd, sizeof(cmd), "HOME=%s GOCACHE=%s/gocache GOPATH=%s/gopath GOFLAGS=-mod=mod "
		 "GOTOOLCHAIN=local GOPROXY=off go tool pprof -raw %s 2>&1", self->dir, self->dir,
		 self->dir, pb);
	{
		const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		ASSERT_EQ(0, run_ok(argv, &raw, &err)) TH_LOG("%s", raw);
	}
	EXPECT_NE(NULL, strstr(raw, "\ncontentions/count delay/nanoseconds\n"));
	/* "   count   delay: ids\n                lock:[outer_lock] type:[mutex]" */
	for (p = raw; (p = strstr(p, "lock:[outer_lock] type:[mutex]")); p++) {
		const char *line = p;
		unsigned long long count, delay;

		while (line > raw && line[-1] != '\n')
			line--;
		line -= line > raw;
		while (line > raw && line[-1] != '\n')
			line--;
		ASSERT_EQ(2, sscanf(line, " %llu %llu:", &count, &delay));
		pprof_outer += delay;
	}
	EXPECT_EQ(outer, pprof_outer) TH_LOG("folded:\n%s\npprof:\n%s", folded, raw);
	EXPECT_NE(NULL, strstr(raw, " worker ")) TH_LOG("%s", raw);
	free(raw);
	free(err);
	free(folded);
	EXPECT_EQ(0, inner);
}

TEST_F_TIMEOUT(exp, perfetto_needs_a_timeline, 300)
{
	char json[160], *out = NULL, *err = NULL;
	struct stat st;

	CW_SKIPPED_IN_SETUP();
	snprintf(json, sizeof(json), "%s/t.json", self->dir);
	{
		const char *argv[] = { cw_bin_path(), "export", self->rec, "--format", "perfetto",
				       "-o", json, NULL };

		EXPECT_EQ(2, run_ok(argv, &out, &err));
	}
	EXPECT_NE(NULL, strstr(err, "has no timeline")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "record --timeline")) TH_LOG("%s", err);
	EXPECT_EQ(-1, stat(json, &st));	/* nothing left behind */
	free(out);
	free(err);
}

static char *jq(const char *path, const char *filter)
{
	const char *argv[] = { "/usr/bin/env", "jq", "-r", filter, path, NULL };
	char *out = NULL, *err = NULL;
	int ret = run_ok(argv, &out, &err);

	free(err);
	if (ret) {
		free(out);
		return NULL;
	}
	return out;
}

TEST_F_TIMEOUT(exp, perfetto_timeline, 300)
{
	char rec[160], json[160], *help = NULL, *out = NULL, *err = NULL, *got;

	CW_SKIPPED_IN_SETUP();
	{
		const char *argv[] = { cw_bin_path(), "record", "--help", NULL };

		run_ok(argv, &help, &err);
		free(err);
		err = NULL;
	}
	if (!help || !strstr(help, "--timeline")) {
		free(help);
		SKIP(return, "this build's record has no --timeline");
	}
	free(help);
	if (system("command -v jq >/dev/null 2>&1"))
		SKIP(return, "jq is not installed");
	snprintf(rec, sizeof(rec), "%s/timeline.cw", self->dir);
	snprintf(json, sizeof(json), "%s/timeline.json", self->dir);
	ASSERT_EQ(0, record(_metadata, rec, "--timeline")) TH_LOG("record --timeline failed");
	{
		const char *argv[] = { cw_bin_path(), "export", rec, "--format", "perfetto",
				       "-o", json, NULL };

		ASSERT_EQ(0, run_ok(argv, &out, &err)) TH_LOG("%s", err);
	}
	free(out);
	free(err);
	/* the workers' tracks, by name */
	got = jq(json, "[.traceEvents[] | select(.ph == \"M\" and .name == \"thread_name\") | "
		       ".args.name | select(startswith(\"contend-\"))] | unique | join(\",\")");
	EXPECT_STREQ("contend-0,contend-1,contend-2,contend-3\n", got ? got : "(jq failed)");
	free(got);
	/* they ran, and waited on outer_lock by its name, in µs slices of their own tracks */
	got = jq(json, "[.traceEvents[] | select(.ph == \"X\") | .name] | "
		       "(any(. == \"running\")) and (any(. == \"waiting on outer_lock\"))");
	EXPECT_STREQ("true\n", got ? got : "(jq failed)");
	free(got);
	got = jq(json, "[.traceEvents[] | select(.ph == \"X\") | .ts, .dur | type] | unique | "
		       "join(\",\")");
	EXPECT_STREQ("number\n", got ? got : "(jq failed)");
	free(got);
	/* every arrow has its two ends, and there are some: the workers wake each other */
	got = jq(json, "[.traceEvents[] | select(.ph == \"s\" or .ph == \"f\")] | group_by(.id) | "
		       "(length > 0) and all(length == 2 and (map(.ph) | sort) == [\"f\", \"s\"])");
	EXPECT_STREQ("true\n", got ? got : "(jq failed)");
	free(got);
}

TEST_HARNESS_MAIN
