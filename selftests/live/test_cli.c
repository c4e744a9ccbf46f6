// SPDX-License-Identifier: GPL-2.0
/*
 * The concwatch command line against its contract (Documentation/usage.md): exit codes,
 * one-line errors, and a real report of a live process.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "cwtest.h"

struct result {
	int status;
	char *out;
	char *err;
};

static struct result run_prep(cw_prep_fn prep, const char *a1, const char *a2, const char *a3,
			      const char *a4)
{
	const char *argv[] = { cw_bin_path(), a1, a2, a3, a4, NULL };
	struct result r;

	r.status = cw_run_capture(argv, prep, &r.out, &r.err);
	return r;
}

static struct result run(const char *a1, const char *a2, const char *a3, const char *a4)
{
	return run_prep(NULL, a1, a2, a3, a4);
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

#define ASSERT_EXIT(code, r)                                                     \
	do {                                                                     \
		ASSERT_TRUE(WIFEXITED((r).status)) TH_LOG("status 0x%x", (r).status); \
		ASSERT_EQ(code, WEXITSTATUS((r).status)) TH_LOG("stderr: %s", (r).err); \
	} while (0)

TEST(version)
{
	struct result r = run("--version", NULL, NULL, NULL);

	ASSERT_EXIT(0, r);
	ASSERT_STREQ("concwatch " CW_VERSION "\n", r.out);
	result_free(&r);
}

/* The contract's -h is --help: usage on stdout, exit 0. */
TEST(short_help)
{
	struct result r = run("-h", NULL, NULL, NULL);

	ASSERT_EXIT(0, r);
	EXPECT_EQ(0, strncmp(r.out, "Usage: concwatch [OPTION...]\n", 29));
	result_free(&r);
	r = run("run", "-h", NULL, NULL);
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.out, "127 when CMD is not found"));
	result_free(&r);
}

TEST(unknown_option_exits_2_with_one_line)
{
	struct result r = run("--bogus", NULL, NULL, NULL);

	ASSERT_EXIT(2, r);
	ASSERT_EQ(1, cw_count_lines(r.err)) TH_LOG("stderr: %s", r.err);
	ASSERT_NE(NULL, strstr(r.err, "unrecognized option '--bogus'"));
	result_free(&r);
}

TEST(unknown_option_of_a_command)
{
	struct result r = run("report", "--bogus", NULL, NULL);

	ASSERT_EXIT(2, r);
	ASSERT_STREQ("concwatch report: unrecognized option '--bogus'\n", r.err);
	result_free(&r);
}

TEST(missing_option_value)
{
	struct result r = run("-p", NULL, NULL, NULL);

	ASSERT_EXIT(2, r);
	ASSERT_EQ(1, cw_count_lines(r.err)) TH_LOG("stderr: %s", r.err);
	result_free(&r);
}

TEST(bad_pid_exits_2)
{
	struct result r = run("-p", "12abc", NULL, NULL);

	ASSERT_EXIT(2, r);
	ASSERT_STREQ("concwatch: invalid PID '12abc': expected a whole number from 1 to 2147483647 "
		     "(see concwatch --help)\n", r.err);
	result_free(&r);
}

TEST(unknown_command_exits_2)
{
	struct result r = run("frobnicate", NULL, NULL, NULL);

	ASSERT_EXIT(2, r);
	ASSERT_STREQ("concwatch: unknown command 'frobnicate' (see concwatch --help)\n", r.err);
	result_free(&r);
}

TEST(bad_fail_on_kind)
{
	struct result r = run("run", "--fail-on", "deadlock,bogus", "/bin/true");

	ASSERT_EXIT(2, r);
	ASSERT_STREQ("concwatch run: unknown finding kind 'bogus' in --fail-on "
		     "(see concwatch run --help)\n", r.err);
	result_free(&r);
}

/* The contract's own example: a pid that does not exist is an environment error. */
TEST(no_such_pid_exits_3)
{
	struct result r;

	if (geteuid())
		SKIP(return, "the privilege check comes first when not root");
	r = run("-p", "999999", NULL, NULL);
	ASSERT_EXIT(3, r);
	ASSERT_STREQ("concwatch: no such process: 999999\n", r.err);
	result_free(&r);
	r = run("report", "-p", "999999", "--json");
	ASSERT_EXIT(3, r);
	ASSERT_STREQ("concwatch report: no such process: 999999\n", r.err);
	ASSERT_STREQ("", r.out);
	result_free(&r);
}

/* Become "nobody" with no capabilities at all. */
static int drop_privileges(void)
{
	return setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	       setresuid(65534, 65534, 65534);
}

/* In a mount namespace of its own, hide the kernel's BTF under an empty tmpfs. */
static int hide_btf(void)
{
	return unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	       mount("none", "/sys/kernel/btf", "tmpfs", 0, NULL);
}

TEST(not_permitted_exits_3)
{
	char pid[32];
	struct result r;

	if (geteuid())
		SKIP(return, "needs root to drop privileges from");
	snprintf(pid, sizeof(pid), "%d", getpid());
	r = run_prep(drop_privileges, "report", "-p", pid, NULL);
	ASSERT_EXIT(3, r);
	ASSERT_STREQ("concwatch report: not permitted: tracing needs root (CAP_SYS_ADMIN and "
		     "CAP_SYS_PTRACE)\n", r.err);
	result_free(&r);
}

TEST(no_btf_exits_3)
{
	char pid[32];
	struct result r;

	if (geteuid())
		SKIP(return, "needs root for a mount namespace");
	snprintf(pid, sizeof(pid), "%d", getpid());
	r = run_prep(hide_btf, "-p", pid, "--batch", NULL);
	ASSERT_EXIT(3, r);
	ASSERT_STREQ("concwatch: this kernel has no BTF (/sys/kernel/btf/vmlinux: No such file or "
		     "directory): concwatch's BPF programs need CONFIG_DEBUG_INFO_BTF=y\n", r.err);
	result_free(&r);
}

static int gate[2];
static pid_t thread_tid;

static void *parked_thread(void *arg)
{
	char c;

	thread_tid = gettid();
	return read(gate[0], &c, 1) == 1 ? NULL : (void *)1;
}

/* A thread id is not a process: say which process it belongs to. */
TEST(thread_id_is_not_a_process)
{
	char tid[32], want[160];
	struct result r;
	pthread_t t;

	ASSERT_EQ(0, pipe(gate));
	ASSERT_EQ(0, pthread_create(&t, NULL, parked_thread, NULL));
	while (!__atomic_load_n(&thread_tid, __ATOMIC_ACQUIRE))
		sched_yield(); /* the tid is set first thing, before the thread parks */
	snprintf(tid, sizeof(tid), "%d", thread_tid);
	r = run("report", "-p", tid, NULL);
	ASSERT_EQ(1, write(gate[1], "x", 1));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EXIT(2, r);
	snprintf(want, sizeof(want), "concwatch report: %d is a thread of process %d: give the "
		 "process (-p %d)\n", thread_tid, getpid(), getpid());
	ASSERT_STREQ(want, r.err);
	result_free(&r);
}

/*
 * A static program without pthread mutexes (busybox-static): nothing to attach to,
 * and concwatch says which function it looked for.
 */
TEST(no_lock_functions_exits_3)
{
	const char *why = cw_live_skip_reason();
	char pid[32], exe[256], want[200];
	int gate_in[2], status;
	struct result r;
	pid_t child;
	ssize_t n;

	if (why)
		SKIP(return, "%s", why);
	if (access("/bin/busybox", X_OK))
		SKIP(return, "no /bin/busybox (Debian package busybox-static)");
	ASSERT_EQ(0, pipe(gate_in));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		/* "cat" blocks reading the pipe until the test closes it */
		dup2(gate_in[0], 0);
		close(gate_in[1]);
		execl("/bin/busybox", "busybox", "cat", NULL);
		_exit(127);
	}
	close(gate_in[0]);
	/* wait until the child really is busybox: exec has replaced the test's image */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", child);
	do {
		char link[256];

		n = readlink(exe, link, sizeof(link) - 1);
		ASSERT_LT(0, n);
		link[n] = '\0';
		if (!strcmp(link, "/usr/bin/busybox") || !strcmp(link, "/bin/busybox"))
			break;
		sched_yield();
	} while (1);

	snprintf(pid, sizeof(pid), "%d", child);
	r = run("report", "-p", pid, NULL);
	close(gate_in[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_EXIT(3, r);
	snprintf(want, sizeof(want), "concwatch report: process %d maps no libc, libpthread or "
		 "executable defining pthread_mutex_lock\n", child);
	ASSERT_STREQ(want, r.err);
	result_free(&r);
}

TEST(record_needs_output)
{
	struct result r = run("record", "-p", "1", NULL);

	ASSERT_EXIT(2, r);
	ASSERT_STREQ("concwatch record: no output file: use -o FILE (see concwatch record --help)\n",
		     r.err);
	result_free(&r);
}

/* concwatch with up to 9 arguments (NULL-terminated). */
static struct result run_args(const char *const args[])
{
	const char *argv[11] = { cw_bin_path() };
	struct result r;

	for (int i = 0; args[i] && i < 9; i++)
		argv[i + 1] = args[i];
	r.status = cw_run_capture(argv, NULL, &r.out, &r.err);
	return r;
}

static int count_str(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

#define LIVE_OR_SKIP()                                 \
	do {                                           \
		const char *why = cw_live_skip_reason(); \
		if (why)                               \
			SKIP(return, "%s", why);       \
	} while (0)

/* run -- CMD: CMD's own exit status, 128+N for signal N, 127 when it cannot start. */
TEST(run_exit_status_is_the_commands)
{
	struct result r;

	LIVE_OR_SKIP();
	r = run_args((const char *[]){ "run", "--", "/bin/sh", "-c", "exit 7", NULL });
	ASSERT_EXIT(7, r);
	result_free(&r);
	r = run_args((const char *[]){ "run", "--", "/bin/sh", "-c", "kill -9 $$", NULL });
	ASSERT_EXIT(128 + 9, r);
	result_free(&r);
	r = run_args((const char *[]){ "run", "--", "/nonexistent/cmd", NULL });
	ASSERT_EXIT(127, r);
	ASSERT_STREQ("concwatch run: failed to execute /nonexistent/cmd: No such file or "
		     "directory\n", r.err);
	result_free(&r);
}

/* A command with no pthread locks to probe (static busybox) runs all the same, said so. */
TEST(run_untraceable_command)
{
	struct result r;

	LIVE_OR_SKIP();
	if (access("/bin/busybox", X_OK))
		SKIP(return, "no /bin/busybox (busybox-static)");
	r = run_args((const char *[]){ "run", "--", "/bin/busybox", "sh", "-c", "exit 7", NULL });
	ASSERT_EXIT(7, r);
	EXPECT_NE(NULL, strstr(r.err, " (busybox) is not traced: process "));
	EXPECT_NE(NULL, strstr(r.err, " maps no libc, libpthread or executable defining "
				      "pthread_mutex_lock\n"));
	EXPECT_NE(NULL, strstr(r.out, "\nFindings: none\n"));
	result_free(&r);
}

/*
 * The inversion of wl_abba, started by a shell that forks and execs it: found in the
 * grandchild, whose threads and locks the JSON names.
 */
TEST(run_finds_inversion_in_grandchild)
{
	char path[PATH_MAX + 64], script[PATH_MAX + 80];
	struct result r;

	LIVE_OR_SKIP();
	snprintf(script, sizeof(script), "%s; exit 0",
		 cw_workload_path("wl_abba", path, sizeof(path)));
	r = run_args((const char *[]){ "run", "--json", "--", "/bin/sh", "-c", script, NULL });
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.out, "\"findings\": [\n    {\"kind\": \"lock_order_inversion\", "
				      "\"locks\": [{\"addr\": "));
	EXPECT_NE(NULL, strstr(r.out, "\"name\": \"lock_a\", \"type\": \"mutex\""));
	EXPECT_NE(NULL, strstr(r.out, "\"name\": \"lock_b\", \"type\": \"mutex\""));
	EXPECT_NE(NULL, strstr(r.out, "\"comm\": \"wl-t1\"}, {\"tid\": "));
	EXPECT_NE(NULL, strstr(r.out, "\"func\": \"t2_take_b_then_a\""));
	/* one finding only */
	EXPECT_EQ(NULL, strstr(strstr(r.out, "lock_order_inversion") + 1, "lock_order_inversion"));
	result_free(&r);
}

static int count_of(const char *s, const char *what)
{
	int n = 0;

	for (; s && (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

/*
 * 50 children, each with its inversion, all released at once from a barrier after
 * flooding a 256 KiB ring buffer with futex records: every inversion is reported,
 * though records are lost (a dependency that finds the ring buffer full waits in the
 * kernel until delivered). Before, 9 of 50 went missing this way.
 */
FIXTURE(children) {
	int unused;
};

FIXTURE_SETUP(children)
{
}

FIXTURE_TEARDOWN(children)
{
}

/* Attaching to 50 processes one after the other takes ~35 s here (each detach waits). */
TEST_F_TIMEOUT(children, run_50_no_inversion_lost, 600)
{
	char wl[PATH_MAX + 64], n[16];
	long children = cw_scale(50);
	const char *lost;
	struct result r;

	LIVE_OR_SKIP();
	cw_workload_path("wl_children", wl, sizeof(wl));
	snprintf(n, sizeof(n), "%ld", children);
	r = run_args((const char *[]){ "run", "--json", "--ringbuf-size=262144", "--", wl, n,
				       "1000", NULL });
	ASSERT_EXIT(0, r);
	/* the report on either stream: where it goes is the contract's, not this test's */
	EXPECT_EQ(children, count_of(r.out, "{\"kind\": \"lock_order_inversion\"") +
		      count_of(r.err, "{\"kind\": \"lock_order_inversion\""));
	lost = strstr(r.out, "\"lost\": {") ? strstr(r.out, "\"lost\": {") :
						 strstr(r.err, "\"lost\": {");
	ASSERT_NE(NULL, lost);
	if (strncmp(lost, "\"lost\": {\"ring buffer full\": ",
		    strlen("\"lost\": {\"ring buffer full\": ")))
		TH_LOG("the ring buffer never filled here: the dependencies' wait in the kernel "
		       "went untested (test_rules tests it deterministically)");
	EXPECT_EQ(0, count_of(lost, "\"map full"));
	result_free(&r);
}

/* --fail-on: 66 when findings match; the report is printed all the same. */
TEST(run_fail_on_exits_66)
{
	char abba[PATH_MAX + 64];
	struct result r;

	LIVE_OR_SKIP();
	cw_workload_path("wl_abba", abba, sizeof(abba));
	r = run_args((const char *[]){ "run", "--fail-on", "lock_order_inversion", "--", abba,
				       NULL });
	ASSERT_EXIT(66, r);
	EXPECT_STREQ("concwatch run: findings matched --fail-on lock_order_inversion: exit "
		     "status 66\n", r.err);
	EXPECT_NE(NULL, strstr(r.out, "WARNING: possible circular locking dependency detected\n"));
	/* a run of a few milliseconds: its stacks still resolve, its maps read at its exit */
	EXPECT_NE(NULL, strstr(r.out, " t1_take_a_then_b+0x"));
	EXPECT_EQ(NULL, strstr(r.out, "in no executable mapping"));
	result_free(&r);
}

/* --exit-code N replaces 66; "all" matches every kind. */
TEST(run_fail_on_exit_code)
{
	char abba[PATH_MAX + 64];
	struct result r;

	LIVE_OR_SKIP();
	cw_workload_path("wl_abba", abba, sizeof(abba));
	r = run_args((const char *[]){ "run", "--fail-on", "all", "--exit-code", "9", "--", abba,
				       NULL });
	ASSERT_EXIT(9, r);
	result_free(&r);
}

/* Findings, but not of a kind asked for: the command's own status. */
TEST(run_fail_on_other_kind)
{
	char abba[PATH_MAX + 64];
	struct result r;

	LIVE_OR_SKIP();
	cw_workload_path("wl_abba", abba, sizeof(abba));
	r = run_args((const char *[]){ "run", "--fail-on", "deadlock", "--", abba, NULL });
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.out, "\nFindings: 1\n"));
	result_free(&r);
}

/* Heavy, correct nesting: nothing to fail on. */
TEST(run_fail_on_clean_program)
{
	char nesting[PATH_MAX + 64];
	struct result r;

	LIVE_OR_SKIP();
	cw_workload_path("wl_nesting", nesting, sizeof(nesting));
	r = run_args((const char *[]){ "run", "--fail-on", "all", "--", nesting, "200", NULL });
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.out, "\nFindings: none\n"));
	result_free(&r);
}

/*
 * run finds a library the executable's RUNPATH names before it is loaded: here a libc
 * stand-in with SDT notes, whose notes are attached (said with -v).
 */
TEST(run_sdt_notes_through_runpath)
{
	char wl[PATH_MAX + 64];
	struct result r;

	LIVE_OR_SKIP();
	cw_workload_path("wl_sdt", wl, sizeof(wl));
	r = run_args((const char *[]){ "run", "-v", "--", wl, NULL });
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.err, "/sdt/libpthread.so.0: libc:{mutex_entry, "
				      "mutex_acquired, mutex_release}\n"));
	EXPECT_NE(NULL, strstr(r.out, "\nFindings: 1\n"));
	result_free(&r);
}

/* A mutex freed and its memory reused: marked without --track-free ... */
TEST(run_freed_memory_marked)
{
	char wl[PATH_MAX + 64];
	struct result r;

	LIVE_OR_SKIP();
	cw_workload_path("wl_free", wl, sizeof(wl));
	r = run_args((const char *[]){ "run", "--", wl, NULL });
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.out, "\nFindings: 1\n"));
	EXPECT_NE(NULL, strstr(r.out, "\nMemory may have been reused: L1.\n"));
	result_free(&r);
}

/* ... and no finding with it. */
TEST(run_track_free)
{
	char wl[PATH_MAX + 64];
	struct result r;

	LIVE_OR_SKIP();
	cw_workload_path("wl_free", wl, sizeof(wl));
	r = run_args((const char *[]){ "run", "--track-free", "--", wl, NULL });
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.out, "\nFindings: none\n"));
	result_free(&r);
}

/* record -- CMD, then report FILE and export FILE: the inversion, read back. */
TEST(record_report_export)
{
	char abba[PATH_MAX + 64], file[] = "/tmp/cw-rec." CW_TMP_X;
	struct result r;
	int fd;

	LIVE_OR_SKIP();
	fd = mkstemp(file);
	ASSERT_LE(0, fd);
	close(fd);
	cw_workload_path("wl_abba", abba, sizeof(abba));
	r = run_args((const char *[]){ "record", "-o", file, "--", abba, NULL });
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.err, " written to ")) TH_LOG("stderr: %s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "; lost events: 0\n"));
	result_free(&r);

	r = run_args((const char *[]){ "report", file, NULL });
	ASSERT_EXIT(0, r);
	EXPECT_EQ(0, strncmp(r.out, "concwatch ", 10));
	EXPECT_NE(NULL, strstr(r.out, " (wl_abba), "));
	EXPECT_NE(NULL, strstr(r.out, "\nFindings: 1\n"));
	EXPECT_NE(NULL, strstr(r.out, "  lock_a (mutex 0x"));
	EXPECT_NE(NULL, strstr(r.out, "t1_take_a_then_b+0x"));
	result_free(&r);

	r = run_args((const char *[]){ "export", file, "--format", "dot", "-o", "-", NULL });
	ASSERT_EXIT(0, r);
	EXPECT_EQ(0, strncmp(r.out, "digraph lock_order {\n", 21));
	EXPECT_NE(NULL, strstr(r.out, " [label=\"lock_a\\nmutex 0x"));
	EXPECT_EQ(2, count_str(r.out, ", color=red")); /* both edges of the cycle */
	EXPECT_EQ(2, count_str(r.out, " -> n"));
	result_free(&r);

	r = run_args((const char *[]){ "report", "/nonexistent.cw", NULL });
	ASSERT_EXIT(3, r);
	EXPECT_STREQ("concwatch report: /nonexistent.cw: failed to open: No such file or "
		     "directory\n", r.err);
	result_free(&r);
	unlink(file);
}

/*
 * A real report: concwatch says on stderr (with -v) once it is tracing; only then does
 * the workload start its N lock/unlock pairs. When the workload exits, concwatch
 * notices, and prints the JSON report: the lock at the workload's address has exactly
 * N acquisitions, none contended, held for a measured time, with the worker's stack;
 * per-operation figures it does not measure are null, and nothing was lost.
 */
TEST(report_live_json)
{
	const char *why = cw_live_skip_reason();
	char arg[32], pid[32], line[512], filter[1024], cmd[1600];
	const char *wl_args[] = { arg, NULL };
	const char *argv[] = { cw_bin_path(), "report", "-v", "--json", "-p", pid, NULL };
	struct cw_wl wl;
	int out, err, status;
	long n = cw_scale(5000);
	FILE *ef, *of, *jq;
	pid_t cw;

	if (why)
		SKIP(return, "%s", why);
	snprintf(arg, sizeof(arg), "%ld", n);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_mutex", wl_args));
	snprintf(pid, sizeof(pid), "%d", wl.pid);
	cw = cw_spawn(argv, NULL, &out, &err);
	ASSERT_LT(0, cw);
	ef = fdopen(err, "r");
	/* -v may say first which functions were not probed; then that it is tracing */
	do {
		ASSERT_NE(NULL, fgets(line, sizeof(line), ef)) TH_LOG("concwatch never said it traces");
	} while (!strstr(line, "tracing process"));
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(0, cw_wl__stop(&wl));

	/* the JSON goes through jq: the contract is JSON, not our formatting */
	snprintf(filter, sizeof(filter),
		 ".target.pid == %s and .lost_events == 0 and .findings == [] and "
		 "(.locks[] | select(.addr == \"0x%llx\") | .acquisitions == %ld and "
		 ".contentions == 0 and .hold_ns_total > 0 and .releases == null and "
		 ".users == [] and .top_waiter_stack[0].func == \"pthread_mutex_lock\" "
		 "and .top_waiter_stack[1].func == \"worker\" and "
		 "(.top_waiter_stack[1].file | endswith(\"wl_mutex.c\")) and "
		 ".top_waiter_stack_end == \"complete\") and "
		 "(.threads[] | select(.tid == %lld) | .comm == \"wl-worker\")",
		 pid, cw_field(wl.ready, "lock"), n, cw_field(wl.ready, "tid"));
	snprintf(cmd, sizeof(cmd), "jq -e '%s' >/dev/null", filter);
	of = fdopen(out, "r");
	jq = popen(cmd, "w");
	ASSERT_NE(NULL, jq);
	while (fgets(line, sizeof(line), of))
		fputs(line, jq);
	status = pclose(jq);
	EXPECT_EQ(0, status) TH_LOG("jq -e '%s' failed on the report", filter);
	ASSERT_EQ(cw, waitpid(cw, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	fclose(of);
	fclose(ef);
}

TEST_HARNESS_MAIN
