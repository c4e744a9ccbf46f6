// SPDX-License-Identifier: GPL-2.0
/*
 * Contention hotspots on real processes, through the command line a user runs:
 * `concwatch report -v --json -p PID`, with and without --no-uprobes, attached to a
 * workload of selftests/workloads that waits for it (the wl.h handshake: the work runs
 * between "go", sent once concwatch says it is tracing, and "done"). The JSON goes
 * through jq: the contract is the JSON (Documentation/usage.md), not our formatting.
 *
 *   hot       wl_hot: hot_lock ranks first, with a wait total within 0.5-2x of what the
 *             workload measured itself; cold_lock after it; holder blame names
 *             hold_hot_lock(); a contention_hotspot finding names hot_lock, and `run
 *             --fail-on contention_hotspot` exits 66 on it (0 without contention); the
 *             THREAD table has a figure, not null, wherever the scheduler measured one
 *   condpp    wl_condpp: the waits are on ping_cond and pong_cond, type cond, by name,
 *             and never a hotspot, though they are most of the threads' time
 *   rawfutex  wl_rawfutex: a futex used through syscall(SYS_futex) is a futex named
 *             futex_word, with exactly the sleeping waits the workload made, and the
 *             thread that woke them, from wake_waiters(), as its holder
 *   klock     wl_klock: the mmap_lock of the process in kernel_locks, contended for
 *             writing (rwsem_write), with a kernel stack
 *   pi        wl_pi: a PTHREAD_PRIO_INHERIT mutex (FUTEX_LOCK_PI) is a mutex named pi_lock,
 *             seen by the futex view, with waits no longer than the workload's own
 *
 * Every fixture runs in the default mode, with --no-uprobes and through the in-process
 * library (PRELOAD: `run --backend preload`, with `run --fail-on contention_hotspot`
 * too); hot, rawfutex and klock through the kernel module too (--backend kmod, loaded
 * here where it can be: the QEMU guests).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"

/*
 * The preload variants: `concwatch run --backend preload` starts the workload with the
 * in-process library (it cannot be given to a running process), and the BPF programs
 * beside it trace the futexes, the scheduler and kernel locks, with no uprobe. The
 * workload waits for "go" as under report -p: run traces it from its exec, and before
 * "go" its threads only wait at a barrier.
 */
#define PRELOAD 3

static int have_jq(void)
{
	return system("jq --version >/dev/null 2>&1") == 0;
}

/*
 * Why this test cannot run here; CW_TEST_ONLY=FIXTURE[.VARIANT] (a developer's
 * shortcut: the 6.1 harness cannot select tests) skips the others.
 */
static void skip_reason(struct __test_metadata *_metadata, int no_uprobes, const char **why)
{
	const char *only = getenv("CW_TEST_ONLY");
	char name[128];

	snprintf(name, sizeof(name), "%s.%s", _metadata->fixture->name,
		 no_uprobes == PRELOAD ? "preload" : no_uprobes == 2 ? "kmod" :
		 no_uprobes ? "no_uprobes" : "default");
	*why = cw_live_skip_reason();
	if (!*why && !have_jq())
		*why = "jq is not installed";
	if (!*why && only && strncmp(name, only, strlen(only)))
		*why = "not in CW_TEST_ONLY";
}

/*
 * The kmod variants (no_uprobes == 2) need the module: loaded here where it can be (the
 * QEMU guests; *loaded = 1: unload it after), else *why says why not.
 */
static void kmod_for(int no_uprobes, int *loaded, const char **why, char *buf, size_t len)
{
	*loaded = 0;
	if (*why || no_uprobes != 2)
		return;
	*loaded = cw_kmod_load(buf, len);
	if (*loaded < 0)
		*why = buf;
}

/*
 * Run workload name (with -w and args) under `concwatch report -v --json [--no-uprobes]
 * -p PID`: start it, attach, wait until concwatch says it is tracing, let the workload
 * do its work, stop it, and wait for concwatch, which ends when its target does and
 * exits 0. The report is in r->json; the workload's lines in r->wl. The preload variants
 * go through cw_report__run_preload().
 */
static void report_run_at(struct __test_metadata *_metadata, struct cw_report *r,
			  const char *name, const char *const args[], int no_uprobes,
			  const char *threshold)
{
	const char *wl_args[12] = { "-w" };
	const char *argv[12];
	char pid[16];
	int n = 0, out, err, status = 0, i;
	pid_t cw;

	if (no_uprobes == PRELOAD) {
		const char *opts[] = { "--hotspot-threshold", threshold, NULL };
		char why[256];

		ASSERT_EQ(0, cw_report__run_preload(r, "cw-contention", threshold ? opts : NULL,
						    name, args, why, sizeof(why)))
			TH_LOG("%s", why);
		return;
	}
	memset(r, 0, sizeof(*r));
	for (i = 0; args && args[i] && i < 10; i++)
		wl_args[i + 1] = args[i];
	ASSERT_EQ(0, cw_wl__start(&r->wl, name, wl_args));
	r->pid = r->wl.pid;
	snprintf(pid, sizeof(pid), "%d", r->wl.pid);
	argv[n++] = cw_bin_path();
	argv[n++] = "report";
	argv[n++] = "-v";
	argv[n++] = "--json";
	if (no_uprobes == 2) {
		argv[n++] = "--backend";
		argv[n++] = "kmod";
	} else if (no_uprobes) {
		argv[n++] = "--no-uprobes";
	}
	if (threshold) {
		argv[n++] = "--hotspot-threshold";
		argv[n++] = threshold;
	}
	argv[n++] = "-p";
	argv[n++] = pid;
	argv[n] = NULL;
	out = cw_tmp_file(r->json, sizeof(r->json), "cw-contention", "json");
	ASSERT_LE(0, out);
	err = cw_tmp_file(r->err, sizeof(r->err), "cw-contention", "err");
	ASSERT_LE(0, err);
	/* concwatch says when its probes are in place: only then does the work start */
	cw = cw_trace_start(argv, out, err, r->err, &status);
	ASSERT_LT(0, cw) TH_LOG("concwatch did not trace (%d, status 0x%x), stderr in %s", cw,
				status, r->err);
	ASSERT_EQ(0, cw_wl__go(&r->wl));
	ASSERT_EQ(0, cw_wl__stop(&r->wl));
	ASSERT_EQ(cw, waitpid(cw, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("concwatch: status 0x%x", status);
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("concwatch failed, stderr in %s", r->err);
}

/* report_run_at() with the default hotspot threshold. */
static void report_run(struct __test_metadata *_metadata, struct cw_report *r, const char *name,
		       const char *const args[], int no_uprobes)
{
	report_run_at(_metadata, r, name, args, no_uprobes, NULL);
}

static void show(const char *path);

/* Keep the files of a failed test, to be read (and show the gist); remove a passed one's. */
static void report_done(struct __test_metadata *_metadata, struct cw_report *r)
{
	if (_metadata->passed && !_metadata->skip) {
		if (r->json[0])
			unlink(r->json);
		if (r->err[0])
			unlink(r->err);
	} else if (r->json[0]) {
		show(r->json);
		fprintf(stderr, "# kept %s and %s\n", r->json, r->err);
	}
}

/* jq -e filter holds on the report. */
/* What a failed expectation shows of the report: ranking, findings, the lock's holders. */
static void show(const char *path)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "jq -c '{mode, lost_events, findings: [.findings[] | {kind, summary}], "
		 "locks: [.locks[:5][] | {name, type, addr, views, acquisitions, contentions, "
		 "wait_ns_total, share, hotspot, holders: [.holders[:1][]? | {tid, stack: "
		 "[.stack[]?.func]}]}], kernel_locks: [.kernel_locks[:3][]? | {name, lock_type, "
		 "contentions, stack: [.top_waiter_stack[]? | .func // .ip]}]}' < '%s' | "
		 "sed 's/^/# /' >&2",
		 path);
	if (system(cmd))
		fprintf(stderr, "# %s is not JSON jq reads\n", path);
}

/* The address after "key=" in a ready line, lower case as JSON says it. */
static unsigned long long addr_of(const struct cw_report *r, const char *key)
{
	return (unsigned long long)cw_field(r->wl.ready, key);
}

/* The comma-separated list after "key=" in line, as a jq array's inside: "1,2,3". */
static const char *list_of(const char *line, const char *key, char *buf, size_t len)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), " %s=", key);
	p = strstr(line, want);
	buf[0] = '\0';
	if (p)
		snprintf(buf, len, "%.*s", (int)strcspn(p + strlen(want), " \n"), p + strlen(want));
	return buf;
}

/* The first lock of the report's ranking, waits for work and unknown futexes left out. */
#define FIRST_LOCK "([.locks[] | select(.type | IN(\"mutex\", \"rwlock\", \"spin\", \"libc\"))][0])"

/* The lock of the report at addr: a jq expression. */
/*
 * One check of a fixture's report, a function: a fixture's checks all read one real run
 * (its TEST_F "report" calls them in turn), which under TCG costs tens of seconds.
 */
#define CHECK(fx, name)                                                                 \
	static void fx##_##name(struct __test_metadata *_metadata, FIXTURE_DATA(fx) *self, \
				const FIXTURE_VARIANT(fx) *variant)

#define LOCK_AT "(.locks[] | select(.addr == \"0x%llx\"))"

/* ---- one hot lock, one cold one ---- */

#define HOT_THREADS 4
#define HOT_HOLD_US 20
#define HOT_COLD_EVERY 100

FIXTURE(hot) {
	struct cw_report r;
	int kmod_loaded;	/* the module was loaded for it: unloaded after */
	long long waited;	/* the workload's own wait for hot_lock, ns */
	long iters;
	long hold_us;		/* its critical section */
};

FIXTURE_VARIANT(hot) {
	int no_uprobes;
};

FIXTURE_VARIANT_ADD(hot, default) {
	.no_uprobes = 0,
};

FIXTURE_VARIANT_ADD(hot, no_uprobes) {
	.no_uprobes = 1,
};

FIXTURE_VARIANT_ADD(hot, kmod) {
	.no_uprobes = 2,
};

FIXTURE_VARIANT_ADD(hot, preload) {
	.no_uprobes = PRELOAD,
};

FIXTURE_SETUP(hot)
{
	char threads[16], iters[16], hold[16], cold[16], kmod_why[256];
	const char *args[] = { threads, iters, hold, cold, NULL };
	const char *why;

	memset(&self->r, 0, sizeof(self->r));
	skip_reason(_metadata, variant->no_uprobes, &why);
	kmod_for(variant->no_uprobes, &self->kmod_loaded, &why, kmod_why, sizeof(kmod_why));
	if (why)
		SKIP(return, "%s", why);
	/* a multiple of the cold lock's period, so each thread takes cold_lock exactly */
	self->iters = cw_scale(2000) / HOT_COLD_EVERY * HOT_COLD_EVERY ?: HOT_COLD_EVERY;
	snprintf(threads, sizeof(threads), "%d", HOT_THREADS);
	snprintf(iters, sizeof(iters), "%ld", self->iters);
	/*
	 * the critical section as long in the QEMU guests' slowed time (CW_TEST_SCALE) as
	 * on the host: 20 us there, a uprobe trap's length, and threads seldom block
	 */
	self->hold_us = HOT_HOLD_US * (2000 / cw_scale(2000));
	snprintf(hold, sizeof(hold), "%ld", self->hold_us);
	snprintf(cold, sizeof(cold), "%d", HOT_COLD_EVERY);
	report_run(_metadata, &self->r, "wl_hot", args, variant->no_uprobes);
	self->waited = cw_field(self->r.wl.done, "waited_ns");
	ASSERT_LT(0, self->waited) TH_LOG("the workload never waited: %s", self->r.wl.done);
}

FIXTURE_TEARDOWN(hot)
{
	report_done(_metadata, &self->r);
	if (self->kmod_loaded > 0)
		EXPECT_EQ(0, cw_kmod_unload());
}

/*
 * hot_lock first, named, a mutex, and its wait total what the threads measured around
 * pthread_mutex_lock themselves, within a factor of two either way; the report says
 * which mode it ran in, and what --no-uprobes cannot find.
 */
CHECK(hot, ranks_first_with_the_measured_wait)
{
	CW_SKIPPED_IN_SETUP();
	EXPECT_JQ(&self->r, ".mode.uprobes == %s", variant->no_uprobes == 1 ? "false" : "true");
	/* nothing per operation crosses the ring buffer: nothing to lose */
	EXPECT_JQ(&self->r, ".lost_events == 0");
	if (variant->no_uprobes == 1)
		EXPECT_JQ(&self->r, ".mode.not_available | index(\"lock_order_inversion\") != null");
	/*
	 * First of the locks: a wait no libc code could be matched to (a join, without
	 * glibc's debug symbols, as in the QEMU guests) is listed by its wait too, but is
	 * no lock
	 */
	EXPECT_JQ(&self->r,
		  FIRST_LOCK " | .addr == \"0x%llx\" and .name == \"hot_lock\" and "
		  ".type == \"mutex\" and .contentions > 0",
		  addr_of(&self->r, "hot_lock"));
	EXPECT_JQ(&self->r, FIRST_LOCK " | .wait_ns_total >= %lld and .wait_ns_total <= %lld",
		  self->waited / 2, self->waited * 2);
	/*
	 * the wait histogram's percentiles lie within what was measured, and are of waits:
	 * not of bucket 0 (read 2 ns), where the in-process library's acquisitions that
	 * found the lock free, which waited 0 ns, would be
	 */
	EXPECT_JQ(&self->r,
		  FIRST_LOCK " | .wait_p50_ns > 2 and .wait_p50_ns <= .wait_p99_ns and "
		  ".wait_p99_ns <= 2 * .wait_ns_max and .wait_ns_max <= .wait_ns_total");
}

/*
 * cold_lock after hot_lock, its wait smaller (on the host by far; under TCG, with few
 * iterations, one preempted holder of cold_lock weighs more). With uprobes every acquisition is
 * counted: exactly those the workload made of each. Without them cold_lock shows only
 * when it was contended at all.
 */
CHECK(hot, cold_lock_ranks_after_hot_lock)
{
	CW_SKIPPED_IN_SETUP();
	if (variant->no_uprobes != 1) {
		EXPECT_JQ(&self->r, LOCK_AT " | .name == \"cold_lock\" and .acquisitions == %lld",
			  addr_of(&self->r, "cold_lock"),
			  cw_field(self->r.wl.done, "cold_acquisitions"));
		EXPECT_JQ(&self->r, LOCK_AT " | .acquisitions == %lld",
			  addr_of(&self->r, "hot_lock"),
			  cw_field(self->r.wl.done, "hot_acquisitions"));
		EXPECT_JQ(&self->r, "[.locks[].name] | index(\"cold_lock\") > 0");
	}
	EXPECT_JQ(&self->r,
		  "[.locks[].name] as $n | ($n | index(\"cold_lock\")) == null or "
		  "($n | index(\"cold_lock\")) > ($n | index(\"hot_lock\"))");
	EXPECT_JQ(&self->r,
		  "([.locks[] | select(.name == \"cold_lock\") | .wait_ns_total] | add // 0) "
		  "< ([.locks[] | select(.name == \"hot_lock\") | .wait_ns_total] | add)");
}

/*
 * Who made them wait: the threads that held hot_lock while others waited, released in
 * hold_hot_lock(); the first holder is one of the workload's threads.
 */
CHECK(hot, holder_blame_names_the_holding_function)
{
	char tids[256];

	CW_SKIPPED_IN_SETUP();
	list_of(self->r.wl.ready, "tids", tids, sizeof(tids));
	EXPECT_JQ(&self->r,
		  FIRST_LOCK ".holders | length > 0 and "
		  "any(.[0].stack[]; .func == \"hold_hot_lock\") and "
		  "(.[0].tid as $t | [%s] | index($t)) != null and .[0].wait_ns_total > 0",
		  tids);
	EXPECT_JQ(&self->r, FIRST_LOCK " | .top_holder_stack == .holders[0].stack");
	/*
	 * from the release in libc straight to hold_hot_lock: no frame of the in-process
	 * library's wrapper, which the release went through (preload)
	 */
	EXPECT_JQ(&self->r,
		  FIRST_LOCK ".holders[0].stack | (map(.module // \"\" | "
		  "endswith(\"/libconcwatch-preload.so\")) | any | not) and "
		  "((map(.func) | index(\"hold_hot_lock\")) as $i | $i > 0 and "
		  "(.[$i - 1].module | endswith(\"/libc.so.6\")))");
	/* and who waited: from the same function, which called pthread_mutex_lock */
	EXPECT_JQ(&self->r,
		  FIRST_LOCK ".waiters | length > 0 and any(.[0].stack[]; .func == \"hold_hot_lock\")");
}

/*
 * A contention_hotspot finding names hot_lock: the threads spent most of their time
 * waiting for it, far above the default threshold of 10%.
 */
CHECK(hot, hotspot_finding_names_hot_lock)
{
	CW_SKIPPED_IN_SETUP();
	EXPECT_JQ(&self->r,
		  "[.findings[] | select(.kind == \"contention_hotspot\")] | length >= 1 and "
		  "(.[0] | .severity == \"warning\" and .locks[0].name == \"hot_lock\" and "
		  ".locks[0].addr == \"0x%llx\" and .share > 0.10 and .threshold_pct == 10 and "
		  ".wait_ns_total > 0 and (.summary | length > 0))",
		  addr_of(&self->r, "hot_lock"));
	EXPECT_JQ(&self->r, FIRST_LOCK " | .hotspot == true and .share > 0.10");
	/* cold_lock is no hotspot */
	EXPECT_JQ(&self->r, "[.findings[] | select(.kind == \"contention_hotspot\") | .locks[] | "
			    "select(.name == \"cold_lock\")] == []");
}

/*
 * The THREAD table: every worker, by name, with a figure in every column the scheduler
 * measures; each ran at least its share of critical sections (iters x 20 us of busy
 * work) and waited for the lock.
 */
CHECK(hot, thread_table_has_figures)
{
	static const char *const cols[] = { "oncpu_ns", "offcpu_ns", "runnable_ns",
					    "futex_wait_ns", "klock_wait_ns", "io_ns",
					    "sleep_ns", "runq_ns_max", "lock_wait_ns" };
	char tids[256], *tid, *save;
	int idx = 0;

	CW_SKIPPED_IN_SETUP();
	list_of(self->r.wl.ready, "tids", tids, sizeof(tids));
	for (tid = strtok_r(tids, ",", &save); tid; tid = strtok_r(NULL, ",", &save), idx++) {
		char all[512] = "";
		size_t len = 0;

		EXPECT_JQ(&self->r, "[.threads[] | select(.tid == %s)] | length == 1 and "
				    "(.[0] | .comm == \"hot-%d\" and .pid == %d)",
			  tid, idx, self->r.pid);
		/* without uprobes no lock is known as a lock: lock_wait_ns may be null */
		for (size_t c = 0; c < ARRAY_SIZE(cols) - (variant->no_uprobes == 1); c++)
			len += snprintf(all + len, sizeof(all) - len, "%s.%s", c ? ", " : "",
					cols[c]);
		EXPECT_JQ(&self->r, ".threads[] | select(.tid == %s) | all(%s; type == \"number\")",
			  tid, all);
		EXPECT_JQ(&self->r,
			  ".threads[] | select(.tid == %s) | .oncpu_ns >= %lld and "
			  ".offcpu_ns >= .futex_wait_ns",
			  tid, (long long)self->iters * self->hold_us * 1000);
	}
	EXPECT_EQ(HOT_THREADS, idx);
	/* the workers waited, for the lock or at the barrier: one may never have had to */
	list_of(self->r.wl.ready, "tids", tids, sizeof(tids));
	EXPECT_JQ(&self->r, "[.threads[] | select(.tid | IN(%s)) | (.lock_wait_ns // 0) + "
			    ".futex_wait_ns] | add > 0", tids);
}

/* The checks above, on one run. */
TEST_F_TIMEOUT(hot, report, 300)
{
	CW_SKIPPED_IN_SETUP();
	hot_ranks_first_with_the_measured_wait(_metadata, self, variant);
	hot_cold_lock_ranks_after_hot_lock(_metadata, self, variant);
	hot_holder_blame_names_the_holding_function(_metadata, self, variant);
	hot_hotspot_finding_names_hot_lock(_metadata, self, variant);
	hot_thread_table_has_figures(_metadata, self, variant);
}

/*
 * `run --fail-on contention_hotspot`: 66 when the command's run had a hotspot, its own
 * status (0) when one thread alone never contended; through the uprobes, without them,
 * and through the in-process library.
 */
FIXTURE(run) {};
FIXTURE_SETUP(run) {}
FIXTURE_TEARDOWN(run) {}

/* (a fixture, for its timeout: the 6.1 harness has no TEST_TIMEOUT) */
TEST_F_TIMEOUT(run, fail_on_contention_hotspot, 300)
{
	char wl[PATH_MAX + 64], iters[16], hold[16];
	const char *why;
	struct {
		const char *threads;
		const char *mode;
		int code;
	} runs[] = {
		{ "4", NULL, 66 },
		{ "4", "--no-uprobes", 66 },
		{ "1", NULL, 0 },
		{ "4", "--backend=preload", 66 },
		{ "1", "--backend=preload", 0 },
	};

	skip_reason(_metadata, 0, &why);
	if (why)
		SKIP(return, "%s", why);
	cw_workload_path("wl_hot", wl, sizeof(wl));
	snprintf(iters, sizeof(iters), "%ld", cw_scale(2000));
	snprintf(hold, sizeof(hold), "%ld", HOT_HOLD_US * (2000 / cw_scale(2000)));
	for (size_t i = 0; i < ARRAY_SIZE(runs); i++) {
		const char *argv[14];
		char *out = NULL, *err = NULL;
		int n = 0, status;

		argv[n++] = cw_bin_path();
		argv[n++] = "run";
		if (runs[i].mode)
			argv[n++] = runs[i].mode;
		argv[n++] = "--fail-on";
		argv[n++] = "contention_hotspot";
		/* traced from exec to exit, the share is smaller: under TCG below 10% */
		argv[n++] = "--hotspot-threshold";
		argv[n++] = "2";
		argv[n++] = "--";
		argv[n++] = wl;
		argv[n++] = runs[i].threads;
		argv[n++] = iters;
		argv[n++] = hold;	/* scaled as the hot fixture's */
		argv[n] = NULL;
		status = cw_run_capture(argv, NULL, &out, &err);
		EXPECT_TRUE(WIFEXITED(status)) TH_LOG("status 0x%x", status);
		EXPECT_EQ(runs[i].code, WEXITSTATUS(status)) {
			TH_LOG("run %s threads=%s: stderr: %s", runs[i].mode ?: "(default)",
			       runs[i].threads, err ?: "");
		}
		/* the workload ran to its end: its line is on stdout, the report on stderr */
		EXPECT_TRUE(out && strstr(out, "done waited_ns="));
		if (runs[i].code)
			EXPECT_TRUE(err && strstr(err, "hot_lock"));
		free(out);
		free(err);
	}
}

/* ---- condition-variable ping-pong ---- */

FIXTURE(condpp) {
	struct cw_report r;
};

FIXTURE_VARIANT(condpp) {
	int no_uprobes;
};

FIXTURE_VARIANT_ADD(condpp, default) {
	.no_uprobes = 0,
};

FIXTURE_VARIANT_ADD(condpp, no_uprobes) {
	.no_uprobes = 1,
};

/*
 * pthread_cond_wait through the library: pp_mutex taken back inside it, by libc, is no
 * contention there (preload.c); the futex view still sees that wait. No check here counts
 * pp_mutex's contentions.
 */
FIXTURE_VARIANT_ADD(condpp, preload) {
	.no_uprobes = PRELOAD,
};

FIXTURE_SETUP(condpp)
{
	char rounds[16];
	const char *args[] = { rounds, NULL };
	const char *why;

	memset(&self->r, 0, sizeof(self->r));
	skip_reason(_metadata, variant->no_uprobes, &why);
	if (why)
		SKIP(return, "%s", why);
	snprintf(rounds, sizeof(rounds), "%ld", cw_scale(2000));
	/*
	 * A threshold of 1%: the condvars' share of the threads' time is well above it on
	 * any schedule (a one-CPU guest's lets one player wait mostly on pp_mutex), and
	 * waiting for work must still be no hotspot.
	 */
	report_run_at(_metadata, &self->r, "wl_condpp", args, variant->no_uprobes, "1");
}

FIXTURE_TEARDOWN(condpp)
{
	report_done(_metadata, &self->r);
}

/*
 * Each condvar by its name and address, a cond and not a futex, with at most the
 * sleeping waits of its thread (its pthread_cond_wait calls: a call the signal reached
 * before it slept is no sleeping wait), and between them some sleeping waits and their
 * time (turns alternate: a player waits unless the other was quicker, and on any
 * schedule one of them waits). The mutex each takes back in pthread_cond_wait is
 * pp_mutex, never a second entry named after a condvar.
 */
CHECK(condpp, waits_are_on_the_named_condvars)
{
	static const char *const conds[] = { "ping_cond", "pong_cond" };
	static const char *const waits[] = { "ping_waits", "pong_waits" };

	CW_SKIPPED_IN_SETUP();
	for (int i = 0; i < 2; i++) {
		long long n = cw_field(self->r.wl.done, waits[i]);

		EXPECT_LE(0, n);
		EXPECT_JQ(&self->r, "[.locks[] | select(.name == \"%s\" and .addr != \"0x%llx\")] "
			  "== []", conds[i], addr_of(&self->r, conds[i]));
		EXPECT_JQ(&self->r,
			  "[.locks[] | select(.addr == \"0x%llx\")] | length <= 1 and all(.name == "
			  "\"%s\" and .type == \"cond\" and .contentions <= %lld and "
			  ".hotspot == false)",
			  addr_of(&self->r, conds[i]), conds[i], n);
	}
	EXPECT_JQ(&self->r, "[.locks[] | select(.type == \"cond\")] | (map(.contentions) | add) "
		  "> 0 and (map(.wait_ns_total) | add) > 0");
	EXPECT_JQ(&self->r, "[.locks[] | select(.addr == \"0x%llx\") | .name == \"pp_mutex\" and "
		  ".type == \"mutex\"] | all", addr_of(&self->r, "pp_mutex"));
	/* no anonymous futex inside either condvar (pthread_cond_t is 48 bytes) */
	EXPECT_JQ(&self->r,
		  "[.locks[] | select(.type == \"futex\") | .addr | ltrimstr(\"0x\") | "
		  "explode | reduce .[] as $c (0; . * 16 + ($c | if . >= 97 then . - 87 "
		  "else . - 48 end)) | select((. >= %llu and . < %llu) or (. >= %llu and . < "
		  "%llu))] == []",
		  addr_of(&self->r, "ping_cond"), addr_of(&self->r, "ping_cond") + 48,
		  addr_of(&self->r, "pong_cond"), addr_of(&self->r, "pong_cond") + 48);
}

/*
 * Waiting for work is no contention: the threads spend much of their time in the
 * condvar waits, above the hotspot threshold (1% here), and still no hotspot names them.
 */
CHECK(condpp, condvar_waits_are_never_a_hotspot)
{
	CW_SKIPPED_IN_SETUP();
	EXPECT_JQ(&self->r, "[.locks[] | select(.type == \"cond\") | .share] | add > 0.01");
	EXPECT_JQ(&self->r, "[.findings[] | select(.kind == \"contention_hotspot\") | .locks[] | "
			    "select(.type == \"cond\" or .name == \"ping_cond\" or "
			    ".name == \"pong_cond\")] == []");
	EXPECT_JQ(&self->r, "[.locks[] | select(.type == \"cond\" and .hotspot)] == []");
}

/* The checks above, on one run. */
TEST_F_TIMEOUT(condpp, report, 300)
{
	CW_SKIPPED_IN_SETUP();
	condpp_waits_are_on_the_named_condvars(_metadata, self, variant);
	condpp_condvar_waits_are_never_a_hotspot(_metadata, self, variant);
}

/* ---- a futex used directly ---- */

FIXTURE(rawfutex) {
	struct cw_report r;
	int kmod_loaded;	/* the module was loaded for it: unloaded after */
};

FIXTURE_VARIANT(rawfutex) {
	int no_uprobes;
};

FIXTURE_VARIANT_ADD(rawfutex, default) {
	.no_uprobes = 0,
};

FIXTURE_VARIANT_ADD(rawfutex, no_uprobes) {
	.no_uprobes = 1,
};

/* Through the kernel module (QEMU guests): the futex calls from the same tracepoints. */
FIXTURE_VARIANT_ADD(rawfutex, kmod) {
	.no_uprobes = 2,
};

/* No pthread lock call to wrap: the futex calls from the BPF programs beside the library. */
FIXTURE_VARIANT_ADD(rawfutex, preload) {
	.no_uprobes = PRELOAD,
};

FIXTURE_SETUP(rawfutex)
{
	char rounds[16], kmod_why[256];
	const char *args[] = { "2", rounds, NULL };
	const char *why;

	memset(&self->r, 0, sizeof(self->r));
	skip_reason(_metadata, variant->no_uprobes, &why);
	kmod_for(variant->no_uprobes, &self->kmod_loaded, &why, kmod_why, sizeof(kmod_why));
	if (why)
		SKIP(return, "%s", why);
	snprintf(rounds, sizeof(rounds), "%ld", cw_scale(200));
	report_run(_metadata, &self->r, "wl_rawfutex", args, variant->no_uprobes);
}

FIXTURE_TEARDOWN(rawfutex)
{
	report_done(_metadata, &self->r);
	if (self->kmod_loaded > 0)
		EXPECT_EQ(0, cw_kmod_unload());
}

/* A futex named by its symbol, with exactly the waits that slept, all woken. */
CHECK(rawfutex, futex_named_by_its_symbol)
{
	CW_SKIPPED_IN_SETUP();
	EXPECT_JQ(&self->r,
		  "[" LOCK_AT "] | length == 1 and (.[0] | .name == \"futex_word\" and "
		  ".type == \"futex\" and .contentions == %lld and .failures == 0 and "
		  ".wait_ns_total > 0 and (.views | index(\"futex\")) != null)",
		  addr_of(&self->r, "futex_word"), cw_field(self->r.wl.done, "waits"));
}

/* Who made them wait: fx-waker, from wake_waiters(). */
CHECK(rawfutex, waker_is_the_holder)
{
	CW_SKIPPED_IN_SETUP();
	EXPECT_JQ(&self->r,
		  LOCK_AT " | .holders | length >= 1 and .[0].tid == %lld and "
		  ".[0].comm == \"fx-waker\" and any(.[0].stack[]; .func == \"wake_waiters\")",
		  addr_of(&self->r, "futex_word"), cw_field(self->r.wl.ready, "tid_waker"));
	EXPECT_JQ(&self->r,
		  LOCK_AT " | .waiters | length >= 1 and "
		  "any(.[0].stack[]; .func == \"wait_for_generation\")",
		  addr_of(&self->r, "futex_word"));
}

/* The checks above, on one run. */
TEST_F_TIMEOUT(rawfutex, report, 300)
{
	CW_SKIPPED_IN_SETUP();
	rawfutex_futex_named_by_its_symbol(_metadata, self, variant);
	rawfutex_waker_is_the_holder(_metadata, self, variant);
}

/* ---- the kernel's mmap_lock ---- */

FIXTURE(klock) {
	struct cw_report r;
	int kmod_loaded;	/* the module was loaded for it: unloaded after */
};

FIXTURE_VARIANT(klock) {
	int no_uprobes;
};

FIXTURE_VARIANT_ADD(klock, default) {
	.no_uprobes = 0,
};

FIXTURE_VARIANT_ADD(klock, no_uprobes) {
	.no_uprobes = 1,
};

/* Through the kernel module (QEMU guests): the same waits, from the same tracepoints. */
FIXTURE_VARIANT_ADD(klock, kmod) {
	.no_uprobes = 2,
};

/* The kernel's locks through the BPF programs beside the library: the same tracepoints. */
FIXTURE_VARIANT_ADD(klock, preload) {
	.no_uprobes = PRELOAD,
};

FIXTURE_SETUP(klock)
{
	char rounds[16], kmod_why[256];
	const char *args[] = { "4", rounds, NULL };
	const char *why;

	memset(&self->r, 0, sizeof(self->r));
	skip_reason(_metadata, variant->no_uprobes, &why);
	kmod_for(variant->no_uprobes, &self->kmod_loaded, &why, kmod_why, sizeof(kmod_why));
	if (why)
		SKIP(return, "%s", why);
	snprintf(rounds, sizeof(rounds), "%ld", cw_scale(100));
	report_run(_metadata, &self->r, "wl_klock", args, variant->no_uprobes);
}

FIXTURE_TEARDOWN(klock)
{
	report_done(_metadata, &self->r);
	if (self->kmod_loaded > 0)
		EXPECT_EQ(0, cw_kmod_unload());
}

/*
 * Threads mapping, protecting and unmapping memory wait for their mmap_lock for
 * writing: kernel_locks names it, typed rwsem_write, with a kernel stack through the
 * system call that took it; and no kernel lock is in the user-space locks table.
 */
TEST_F_TIMEOUT(klock, mmap_lock_write_contention, 300)
{
	CW_SKIPPED_IN_SETUP();
	EXPECT_JQ(&self->r,
		  "[.kernel_locks[] | select(.name == \"mmap_lock\" and "
		  ".lock_type == \"rwsem_write\")] | length >= 1 and (.[0] | .type == \"kernel\" "
		  "and .contentions > 0 and .wait_ns_total > 0 and .wait_ns_max > 0 and "
		  "(.top_waiter_stack | length > 1) and all(.top_waiter_stack[]; .func != null) "
		  "and any(.top_waiter_stack[]; .func | test(\"sys_mmap|sys_munmap|sys_mprotect|"
		  "vm_mmap|vm_munmap|mprotect\")))");
	EXPECT_JQ(&self->r, "[.locks[] | select(.type == \"kernel\")] == []");
	EXPECT_JQ(&self->r, ".kernel_locks | sort_by(-.wait_ns_total) == .");
}

/* ---- a priority-inheritance mutex ---- */

FIXTURE(pi) {
	struct cw_report r;
};

FIXTURE_VARIANT(pi) {
	int no_uprobes;
};

FIXTURE_VARIANT_ADD(pi, default) {
	.no_uprobes = 0,
};

FIXTURE_VARIANT_ADD(pi, no_uprobes) {
	.no_uprobes = 1,
};

FIXTURE_VARIANT_ADD(pi, preload) {
	.no_uprobes = PRELOAD,
};

FIXTURE_SETUP(pi)
{
	char iters[16], hold[16];
	const char *args[] = { "3", iters, hold, NULL };
	const char *why;

	memset(&self->r, 0, sizeof(self->r));
	skip_reason(_metadata, variant->no_uprobes, &why);
	if (why)
		SKIP(return, "%s", why);
	snprintf(iters, sizeof(iters), "%ld", cw_scale(1000));
	/* 20 us of hold, scaled as the hot fixture's: under TCG shorter ones seldom block */
	snprintf(hold, sizeof(hold), "%ld", HOT_HOLD_US * (2000 / cw_scale(2000)));
	report_run(_metadata, &self->r, "wl_pi", args, variant->no_uprobes);
}

FIXTURE_TEARDOWN(pi)
{
	report_done(_metadata, &self->r);
}

/*
 * The PI mutex's waits, through FUTEX_LOCK_PI: a mutex named pi_lock, seen by the futex
 * view, whose wait total is no more than the threads measured (twice that at most; four
 * times in the QEMU guests, where the system call's own cost weighs).
 */
TEST_F_TIMEOUT(pi, pi_mutex_waits, 300)
{
	long long waited;

	CW_SKIPPED_IN_SETUP();
	waited = cw_field(self->r.wl.done, "waited_ns");
	ASSERT_LT(0, waited);
	EXPECT_JQ(&self->r,
		  "[" LOCK_AT "] | length == 1 and (.[0] | .name == \"pi_lock\" and "
		  ".type == \"mutex\" and .contentions > 0 and .wait_ns_total > 0 and "
		  ".wait_ns_total <= %lld and (.views | index(\"futex\")) != null)",
		  addr_of(&self->r, "pi_lock"), waited * (cw_scale(2000) < 2000 ? 4 : 2));
	/* first of the locks: not main's join, a thread or, without debug symbols, a futex */
	EXPECT_JQ(&self->r, FIRST_LOCK ".name == \"pi_lock\"");
}

TEST_HARNESS_MAIN
