// SPDX-License-Identifier: GPL-2.0
/*
 * Tracing a process that was hung, or half-way through a wait, before concwatch attached
 * (`report -p`, `record -p`): the waits that began before the probes were there are taken
 * from one look at the process (the procscan source beside the tracer), followed until
 * they end. A deadlock that formed before the attach is reported, in the live report and
 * in a recording's; a wait the look found that ended afterwards is gone from the graph,
 * so it never closes a cycle with a wait traced later.
 */
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"

#define SKIP_UNLESS_LIVE()                                                                 \
	do {                                                                               \
		const char *why = cw_live_skip_reason();                                   \
		if (!why && system("jq --version >/dev/null 2>&1"))                       \
			why = "jq is not installed";                                       \
		if (why)                                                                   \
			SKIP(return, "%s", why);                                           \
	} while (0)

/* Run concwatch with argv (after the binary) to its end; its exit status. */
static int concwatch(const char *const args[])
{
	const char *argv[16] = { cw_bin_path() };
	char *out = NULL, *err = NULL;
	int status, n;

	for (n = 0; args[n] && n < 14; n++)
		argv[n + 1] = args[n];
	argv[n + 1] = NULL;
	status = cw_run_capture(argv, NULL, &out, &err);
	if (status)
		fprintf(stderr, "concwatch %s: status 0x%x\n%s", args[0], status, err ? err : "");
	free(out);
	free(err);
	return status;
}

/* The one deadlock finding of report json: a cycle of a and b, each on the other's lock. */
static void expect_abba(struct __test_metadata *_metadata, const char *json, long a, long b,
			long long l1, long long l2)
{
	char f[512];

	ASSERT_TRUE(cw_jq_holds(json, "[.findings[] | select(.kind == \"deadlock\")] | length == 1"))
		TH_LOG("report in %s", json);
	snprintf(f, sizeof(f),
		 ".findings[] | select(.kind == \"deadlock\") | .rule == \"cycle\" and "
		 ".formed_at_ns == null and ([.cycle[] | [.tid, .waits_on, .held_by]] | sort) == "
		 "([[%ld, \"0x%llx\", %ld], [%ld, \"0x%llx\", %ld]] | sort)", a, l2, b, b, l1, a);
	EXPECT_TRUE(cw_jq_holds(json, f)) TH_LOG("%s does not hold in %s", f, json);
}

/* wl_deadlock, hung before concwatch starts: the report and a recording's report say so. */
TEST(hung_before_attach)
{
	char json[PATH_MAX], rec[PATH_MAX], pid[16];
	long a, b;
	long long l1, l2;
	struct cw_wl wl;
	int fd;

	SKIP_UNLESS_LIVE();
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_deadlock", NULL));
	snprintf(pid, sizeof(pid), "%lld", cw_field(wl.ready, "pid"));
	a = cw_field(wl.ready, "tid_a");
	b = cw_field(wl.ready, "tid_b");
	l1 = cw_field(wl.ready, "lock_1");
	l2 = cw_field(wl.ready, "lock_2");
	ASSERT_EQ(0, cw_wait_futex_on(wl.pid, a, l2));
	ASSERT_EQ(0, cw_wait_futex_on(wl.pid, b, l1));

	fd = cw_tmp_file(json, sizeof(json), "cw-attach", "json");
	ASSERT_LE(0, fd);
	close(fd);
	fd = cw_tmp_file(rec, sizeof(rec), "cw-attach", "cwrec");
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, concwatch((const char *const[]){ "report", "--json", "-o", json, "-p", pid,
						     "--duration", "1", NULL }));
	expect_abba(_metadata, json, a, b, l1, l2);

	ASSERT_EQ(0, concwatch((const char *const[]){ "record", "-o", rec, "-p", pid,
						     "--duration", "1", NULL }));
	ASSERT_EQ(0, concwatch((const char *const[]){ "report", "--json", "-o", json, rec,
						     NULL }));
	expect_abba(_metadata, json, a, b, l1, l2);

	EXPECT_EQ(0, kill(wl.pid, 0)); /* still hung: nothing we did disturbed it */
	kill(wl.pid, SIGKILL);
	cw_wl__stop(&wl);
	unlink(json);
	unlink(rec);
}

/*
 * wl_handoff: ho-a found waiting on lock held by ho-b; after "go" ho-a holds lock and
 * ho-b waits on it, traced. Were ho-a's first wait kept after it ended, the two would be
 * a cycle for as long as ho-b waits: it lasts three confirmation windows here.
 */
TEST(look_ends_with_the_wait)
{
	const struct timespec windows = { 1, 500000000 };
	char json[PATH_MAX], err[PATH_MAX], pid[16], f[256];
	const char *argv[12];
	long a, b;
	long long lock;
	struct cw_wl wl;
	int fd, efd, status = 0, i;
	pid_t cw;

	SKIP_UNLESS_LIVE();
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_handoff", NULL));
	snprintf(pid, sizeof(pid), "%d", wl.pid);
	a = cw_field(wl.ready, "tid_a");
	b = cw_field(wl.ready, "tid_b");
	lock = cw_field(wl.ready, "lock");
	ASSERT_EQ(0, cw_wait_futex_on(wl.pid, a, lock));

	fd = cw_tmp_file(json, sizeof(json), "cw-attach", "json");
	ASSERT_LE(0, fd);
	close(fd);
	efd = cw_tmp_file(err, sizeof(err), "cw-attach", "err");
	ASSERT_LE(0, efd);
	i = 0;
	argv[i++] = cw_bin_path();
	argv[i++] = "report";
	argv[i++] = "-v";	/* says when it traces */
	argv[i++] = "--json";
	argv[i++] = "-o";
	argv[i++] = json;
	argv[i++] = "-p";
	argv[i++] = pid;
	argv[i] = NULL;
	cw = cw_trace_start(argv, -1, efd, err, &status);
	ASSERT_LT(0, cw) TH_LOG("concwatch did not trace (%d, status 0x%x), stderr in %s", cw,
				status, err);
	ASSERT_EQ(0, cw_wl__send(&wl, "go"));
	/* ho-b waits on lock again, now held by ho-a */
	ASSERT_EQ(0, cw_wait_futex_on(wl.pid, b, lock));
	/* not to order threads: the time a false cycle would need to be confirmed (500 ms) */
	nanosleep(&windows, NULL);
	ASSERT_EQ(0, cw_wl__stop(&wl));
	ASSERT_EQ(cw, waitpid(cw, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("concwatch: status 0x%x", status);
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("concwatch failed, stderr in %s", err);

	EXPECT_TRUE(cw_jq_holds(json, "[.findings[] | select(.kind == \"deadlock\")] | "
				      "length == 0")) TH_LOG("report in %s", json);
	/* and ho-b's traced wait on lock was seen, for as long as it lasted */
	snprintf(f, sizeof(f), "[.locks[] | select(.addr == \"0x%llx\") | .wait_ns_max] | "
		 "length == 1 and .[0] >= 1000000000", lock);
	EXPECT_TRUE(cw_jq_holds(json, f)) TH_LOG("%s does not hold in %s", f, json);
	unlink(json);
	unlink(err);
}

TEST_HARNESS_MAIN
