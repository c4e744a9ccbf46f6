// SPDX-License-Identifier: GPL-2.0
/*
 * `concwatch deadlock -p PID`, the real binary, on processes that hung before it started:
 * each workload blocks its threads for ever in a known way and names them, their locks and
 * the lines they block at. Once /proc shows every one asleep in its system call, one look
 * must say exactly which hang it is (rule), which thread waits on which lock held by which
 * thread, in the cycle's order from its lowest tid, with the workload's frame at its line,
 * and exit 1; a process whose threads wait for input or at a barrier is no deadlock: exit
 * 0, and the threads blocked are listed with what they wait in and on: the condition
 * variable, the semaphore, the rwlock and who holds it, a pool in one wait on one line.
 */
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"

#define ROOT_OR_SKIP()                                                                     \
	do {                                                                               \
		if (geteuid())                                                             \
			SKIP(return, "deadlock -p reads other processes' memory: needs root"); \
	} while (0)

struct out {
	int status;
	char *out, *err;
};

static struct out deadlock(int pid, int json)
{
	char p[32];
	struct out r = {};

	snprintf(p, sizeof(p), "%d", pid);
	r.status = cw_run_capture((const char *const[]){ cw_bin_path(), "deadlock", "-p", p,
							 json ? "--json" : NULL, NULL },
				  NULL, &r.out, &r.err);
	return r;
}

static void out_free(struct out *r)
{
	free(r->out);
	free(r->err);
}

#define ASSERT_EXIT(code, r)                                                                \
	do {                                                                                \
		ASSERT_TRUE(WIFEXITED((r).status)) TH_LOG("status %d", (r).status);         \
		ASSERT_EQ(code, WEXITSTATUS((r).status)) TH_LOG("stderr: %s\nstdout: %s",   \
								 (r).err, (r).out);         \
	} while (0)

/* The findings array of a JSON report (up to "suppressed"), in a buffer of its own. */
static char *findings_of(const char *json)
{
	const char *b = strstr(json, "\"findings\": ["), *e = b ? strstr(b, "\"suppressed\":") : NULL;

	return b && e ? strndup(b, e - b) : NULL;
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

/*
 * Where thread tid's entry of a deadlock's "cycle" is in findings: it waits on lock
 * (0: on none) held by holder (0: none), found as reason; NULL when it is not there so.
 */
static const char *entry(const char *findings, long tid, const char *comm, long long lock,
			 long holder, int holder_exited, const char *reason)
{
	char want[512], waits[32], held[32];

	if (lock)
		snprintf(waits, sizeof(waits), "\"0x%llx\"", lock);
	else
		snprintf(waits, sizeof(waits), "null");
	if (holder)
		snprintf(held, sizeof(held), "%ld", holder);
	else
		snprintf(held, sizeof(held), "null");
	snprintf(want, sizeof(want),
		 "{\"tid\": %ld, \"comm\": \"%s\", \"waits_on\": %s, \"held_by\": %s, "
		 "\"holder_exited\": %s, \"reason\": \"%s\"", tid, comm, waits, held,
		 holder_exited ? "true" : "false", reason);
	return strstr(findings, want);
}

/* The workload's frame func at file:line in the stack of the entry at e (up to the next). */
static int entry_has_frame(const char *e, const char *func, const char *file, long line)
{
	char want[256];
	const char *end = strstr(e + 1, "{\"tid\": ");
	const char *f;

	snprintf(want, sizeof(want), "\"func\": \"%s\", ", func);
	f = strstr(e, want);
	if (!f || (end && f > end))
		return 0;
	snprintf(want, sizeof(want), "\"file\": \"%s\", \"line\": %ld}", file, line);
	f = strstr(f, want);
	return f && (!end || f < end);
}

static void start(struct __test_metadata *_metadata, struct cw_wl *wl, const char *name)
{
	ASSERT_EQ(0, cw_wl__start(wl, name, NULL)) TH_LOG("cannot start %s", name);
}

static void stop(struct __test_metadata *_metadata, struct cw_wl *wl)
{
	/* still there: the look did not disturb it; then it is ended (its threads never
	 * return, so closing stdin is not enough for every one) */
	EXPECT_EQ(0, kill(wl->pid, 0));
	kill(wl->pid, SIGKILL);
	cw_wl__stop(wl);
}

/* ABBA: each thread holds one lock and waits on the other's. */
TEST(abba)
{
	struct cw_wl wl;
	struct out r;
	long pid, a, b, la, ca;
	long long l1, l2;
	const char *ea, *eb;
	char *fs, line[256];

	ROOT_OR_SKIP();
	start(_metadata, &wl, "wl_deadlock");
	pid = cw_field(wl.ready, "pid");
	a = cw_field(wl.ready, "tid_a");
	b = cw_field(wl.ready, "tid_b");
	l1 = cw_field(wl.ready, "lock_1");
	l2 = cw_field(wl.ready, "lock_2");
	la = cw_field(wl.ready, "line_lock_a");
	ca = cw_field(wl.ready, "line_call_a");
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, a));
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, b));

	r = deadlock(pid, 1);
	ASSERT_EXIT(1, r);
	fs = findings_of(r.out);
	ASSERT_NE(NULL, fs) TH_LOG("%s", r.out);
	EXPECT_EQ(1, count(fs, "\"kind\": \"deadlock\""));
	EXPECT_EQ(1, count(fs, "\"kind\": \"deadlock\", \"rule\": \"cycle\", \"severity\": "
			       "\"error\", \"formed_at_ns\": null"));
	/* dl-a holds lock_1 and waits on lock_2; dl-b the other way round */
	ea = entry(fs, a, "dl-a", l2, b, 0, "futex");
	eb = entry(fs, b, "dl-b", l1, a, 0, "futex");
	ASSERT_NE(NULL, ea) TH_LOG("%s", fs);
	ASSERT_NE(NULL, eb) TH_LOG("%s", fs);
	/* the cycle from its lowest tid */
	EXPECT_TRUE(a < b ? ea < eb : eb < ea);
	EXPECT_TRUE(entry_has_frame(ea, "take_second_lock_a", "workloads/wl_deadlock.c", la));
	EXPECT_TRUE(entry_has_frame(ea, "thread_a", "workloads/wl_deadlock.c", ca));
	EXPECT_TRUE(entry_has_frame(eb, "take_second_lock_b", "workloads/wl_deadlock.c",
				    cw_field(wl.ready, "line_lock_b")));
	free(fs);
	out_free(&r);

	r = deadlock(pid, 0);
	ASSERT_EXIT(1, r);
	EXPECT_NE(NULL, strstr(r.out, "\nERROR: deadlock: threads wait on each other in a cycle\n"
				      "finding 1: deadlock (cycle), process "));
	snprintf(line, sizeof(line), "\n  dl-a/%ld waits on lock_2 (mutex 0x%llx), held by "
		 "dl-b/%ld\n", a, l2, b);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	snprintf(line, sizeof(line), "\n  dl-b/%ld waits on lock_1 (mutex 0x%llx), held by "
		 "dl-a/%ld\n", b, l1, a);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	/* the main thread waits for its input: listed, not part of the deadlock */
	snprintf(line, sizeof(line), "\nOther threads blocked now:\n  wl_deadlock/%ld is blocked "
		 "in read(), outside any lock (interruptible)\n", pid);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	EXPECT_STREQ("", r.err);
	out_free(&r);
	stop(_metadata, &wl);
}

/* A thread relocking the (default, not recursive) mutex it holds. */
TEST(self_relock)
{
	struct cw_wl wl;
	struct out r;
	long pid, t;
	long long l;
	const char *e;
	char *fs;

	ROOT_OR_SKIP();
	start(_metadata, &wl, "wl_selfdead");
	pid = cw_field(wl.ready, "pid");
	t = cw_field(wl.ready, "tid");
	l = cw_field(wl.ready, "lock");
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, t));
	r = deadlock(pid, 1);
	ASSERT_EXIT(1, r);
	fs = findings_of(r.out);
	ASSERT_NE(NULL, fs);
	EXPECT_EQ(1, count(fs, "\"kind\": \"deadlock\", \"rule\": \"self\", \"severity\": "
			       "\"error\""));
	e = entry(fs, t, "sd-a", l, t, 0, "futex");
	ASSERT_NE(NULL, e) TH_LOG("%s", fs);
	EXPECT_TRUE(entry_has_frame(e, "relock", "workloads/wl_selfdead.c",
				    cw_field(wl.ready, "line_lock")));
	free(fs);
	out_free(&r);
	stop(_metadata, &wl);
}

/* A wait on a mutex whose owner thread exited holding it. */
TEST(owner_exited)
{
	struct cw_wl wl;
	struct out r;
	long pid, a, b;
	long long l;
	const char *e;
	char *fs, line[256];

	ROOT_OR_SKIP();
	start(_metadata, &wl, "wl_ownerexit");
	pid = cw_field(wl.ready, "pid");
	a = cw_field(wl.ready, "tid_a");
	b = cw_field(wl.ready, "tid_b");
	l = cw_field(wl.ready, "lock");
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, b));
	r = deadlock(pid, 1);
	ASSERT_EXIT(1, r);
	fs = findings_of(r.out);
	ASSERT_NE(NULL, fs);
	EXPECT_EQ(1, count(fs, "\"kind\": \"deadlock\", \"rule\": \"owner_exited\", "
			       "\"severity\": \"error\""));
	e = entry(fs, b, "oe-b", l, a, 1, "futex");
	ASSERT_NE(NULL, e) TH_LOG("%s", fs);
	EXPECT_TRUE(entry_has_frame(e, "take_lock_b", "workloads/wl_ownerexit.c",
				    cw_field(wl.ready, "line_lock")));
	free(fs);
	out_free(&r);

	r = deadlock(pid, 0);
	ASSERT_EXIT(1, r);
	snprintf(line, sizeof(line), "\n  oe-b/%ld waits on lock (mutex 0x%llx), held by thread "
		 "%ld, which has exited\n", b, l, a);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	out_free(&r);
	stop(_metadata, &wl);
}

/* Three threads, each holding its lock and waiting on the next one's. */
TEST(cycle3)
{
	struct cw_wl wl;
	struct out r;
	long pid, t[3], first = 0;
	long long l[3];
	const char *e[3];
	char *fs, key[16], comm[8];

	ROOT_OR_SKIP();
	start(_metadata, &wl, "wl_cycle3dead");
	pid = cw_field(wl.ready, "pid");
	for (int k = 0; k < 3; k++) {
		snprintf(key, sizeof(key), "tid_%d", k + 1);
		t[k] = cw_field(wl.ready, key);
		snprintf(key, sizeof(key), "lock_%d", k + 1);
		l[k] = cw_field(wl.ready, key);
	}
	for (int k = 0; k < 3; k++)
		ASSERT_EQ(0, cw_wait_futex_blocked(pid, t[k]));
	r = deadlock(pid, 1);
	ASSERT_EXIT(1, r);
	fs = findings_of(r.out);
	ASSERT_NE(NULL, fs);
	EXPECT_EQ(1, count(fs, "\"kind\": \"deadlock\""));
	EXPECT_EQ(1, count(fs, "\"rule\": \"cycle\""));
	/* c3-k holds lock_k and waits on lock_k+1, held by c3-k+1 */
	for (int k = 0; k < 3; k++) {
		snprintf(comm, sizeof(comm), "c3-%d", k + 1);
		e[k] = entry(fs, t[k], comm, l[(k + 1) % 3], t[(k + 1) % 3], 0, "futex");
		ASSERT_NE(NULL, e[k]) TH_LOG("thread %d: %s", k + 1, fs);
		EXPECT_TRUE(entry_has_frame(e[k], "take_next_lock", "workloads/wl_cycle3dead.c",
					    cw_field(wl.ready, "line_lock")));
		if (t[k] < t[first])
			first = k;
	}
	/* in the cycle's order, from its lowest tid */
	EXPECT_TRUE(e[first] < e[(first + 1) % 3]);
	EXPECT_TRUE(e[(first + 1) % 3] < e[(first + 2) % 3]);
	free(fs);
	out_free(&r);
	stop(_metadata, &wl);
}

/* A lock holder that waits in read(): blocked, maybe forever; exit 1 all the same. */
TEST(holder_blocked_outside)
{
	struct cw_wl wl;
	struct out r;
	long pid, a, b;
	long long l;
	const char *ea, *eb;
	char *fs;

	ROOT_OR_SKIP();
	start(_metadata, &wl, "wl_holdsleep");
	pid = cw_field(wl.ready, "pid");
	a = cw_field(wl.ready, "tid_a");
	b = cw_field(wl.ready, "tid_b");
	l = cw_field(wl.ready, "lock");
	ASSERT_EQ(0, cw_wait_blocked_in(pid, a, SYS_read));
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, b));
	r = deadlock(pid, 1);
	ASSERT_EXIT(1, r);
	fs = findings_of(r.out);
	ASSERT_NE(NULL, fs);
	EXPECT_EQ(1, count(fs, "\"kind\": \"deadlock\", \"rule\": \"blocked_outside\", "
			       "\"severity\": \"warning\""));
	eb = entry(fs, b, "hs-b", l, a, 0, "futex");
	ea = entry(fs, a, "hs-a", 0, 0, 0, "sleep");
	ASSERT_NE(NULL, eb) TH_LOG("%s", fs);
	ASSERT_NE(NULL, ea) TH_LOG("%s", fs);
	/* the waiter, then the holder with the system call it waits in */
	EXPECT_TRUE(eb < ea);
	EXPECT_NE(NULL, strstr(ea, "\"syscall\": 0, \"syscall_name\": \"read\""));
	EXPECT_TRUE(entry_has_frame(ea, "hold_and_read", "workloads/wl_holdsleep.c",
				    cw_field(wl.ready, "line_read")));
	free(fs);
	out_free(&r);
	stop(_metadata, &wl);
}

/* Threads waiting for input and at a barrier: no deadlock, exit 0, what they wait in. */
TEST(not_hung)
{
	struct cw_wl wl;
	struct out r;
	long pid, w;
	char line[256], *fs;

	ROOT_OR_SKIP();
	start(_metadata, &wl, "wl_mutex");
	pid = cw_field(wl.ready, "pid");
	w = cw_field(wl.ready, "tid");
	ASSERT_EQ(0, cw_wait_blocked_in(pid, pid, SYS_read));
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, w));
	r = deadlock(pid, 0);
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.out, "\nNo deadlock.\n\nThreads blocked now:\n")) TH_LOG("%s",
											r.out);
	snprintf(line, sizeof(line), "\n  wl_mutex/%ld is blocked in read(), outside any lock "
		 "(interruptible)\n", pid);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	/* the barrier's word: named as the barrier, which nobody holds */
	snprintf(line, sizeof(line), "\n  wl-worker/%ld waits at barrier go (0x", w);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	EXPECT_EQ(NULL, strstr(r.out, "holder not known")) TH_LOG("%s", r.out);
	out_free(&r);

	r = deadlock(pid, 1);
	ASSERT_EXIT(0, r);
	fs = findings_of(r.out);
	ASSERT_NE(NULL, fs);
	EXPECT_STREQ("\"findings\": [],\n  ", fs);
	free(fs);
	snprintf(line, sizeof(line), "{\"tid\": %ld, \"comm\": \"wl_mutex\", \"waits_on\": null, "
		 "\"held_by\": null, \"holder_exited\": false, \"reason\": \"sleep\", \"syscall\": "
		 "0, \"syscall_name\": \"read\"", pid);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	out_free(&r);

	/* and it was not disturbed: it runs to its end when told */
	ASSERT_EQ(0, cw_wl__go(&wl));
	EXPECT_EQ(0, cw_wl__stop(&wl));
}

/* Whether what is on the line that begins at p. */
static int on_line(const char *p, const char *what)
{
	const char *f = strstr(p, what);

	return f && f < p + strcspn(p, "\n");
}

/*
 * Waits nobody holds, and rwlocks: a pool of three threads idle in pthread_cond_wait at
 * one call site are one line naming the condition variable (no holder: nobody holds a
 * condition variable) over one stack; a writer behind a reader-held rwlock says how many
 * readers hold it (its memory counts them, it does not name them); a reader behind a
 * writer-held one names the writer. No deadlock: exit 0.
 */
TEST(wait_kinds)
{
	struct cw_wl wl;
	struct out r;
	long pid, pool[3], reader, writer, owner, rd;
	long long cond, table, conf, sem;
	char line[512], key[16], *fs;
	const char *p;

	ROOT_OR_SKIP();
	start(_metadata, &wl, "wl_waitkinds");
	pid = cw_field(wl.ready, "pid");
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "pool_%d", i + 1);
		pool[i] = cw_field(wl.ready, key);
		ASSERT_EQ(0, cw_wait_futex_blocked(pid, pool[i]));
	}
	reader = cw_field(wl.ready, "reader");
	writer = cw_field(wl.ready, "writer");
	owner = cw_field(wl.ready, "owner");
	rd = cw_field(wl.ready, "rd");
	cond = cw_field(wl.ready, "work_cond");
	table = cw_field(wl.ready, "table_lock");
	conf = cw_field(wl.ready, "conf_lock");
	sem = cw_field(wl.ready, "release_sem");
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, reader));
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, writer));
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, owner));
	ASSERT_EQ(0, cw_wait_futex_blocked(pid, rd));
	ASSERT_EQ(0, cw_wait_blocked_in(pid, pid, SYS_read));

	r = deadlock(pid, 0);
	ASSERT_EXIT(0, r);
	EXPECT_NE(NULL, strstr(r.out, "\nNo deadlock.\n\nThreads blocked now:\n")) TH_LOG("%s",
											r.out);
	/* the pool: one line, its three threads in tid order, the stack once */
	snprintf(line, sizeof(line), "\n  wk-pool/%ld, wk-pool/%ld, wk-pool/%ld wait on condition "
		 "variable work_cond (0x%llx)\n      #0  ", pool[0], pool[1], pool[2], cond);
	p = strstr(r.out, line);
	EXPECT_NE(NULL, p) TH_LOG("%s", r.out);
	snprintf(line, sizeof(line), " wait_for_work+0x");
	EXPECT_EQ(1, count(r.out, line)) TH_LOG("%s", r.out);
	snprintf(line, sizeof(line), "(wl_waitkinds.c:%lld)",
		 (long long)cw_field(wl.ready, "line_pool"));
	EXPECT_EQ(1, count(r.out, line)) TH_LOG("%s", r.out);
	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "wk-pool/%ld", pool[i]);
		EXPECT_EQ(1, count(r.out, line)) TH_LOG("%s", r.out);
	}
	/* the writer behind the reader, the reader behind the writer */
	snprintf(line, sizeof(line), "\n  wk-writer/%ld waits on table_lock (rwlock 0x%llx), held "
		 "by 1 reader, which one is not known\n", writer, table);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	snprintf(line, sizeof(line), "(wl_waitkinds.c:%lld)",
		 (long long)cw_field(wl.ready, "line_wrlock"));
	EXPECT_EQ(1, count(r.out, line)) TH_LOG("%s", r.out);
	snprintf(line, sizeof(line), "\n  wk-rd/%ld waits on conf_lock (rwlock 0x%llx), held by "
		 "wk-owner/%ld\n", rd, conf, owner);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	snprintf(line, sizeof(line), "(wl_waitkinds.c:%lld)",
		 (long long)cw_field(wl.ready, "line_rdlock"));
	EXPECT_EQ(1, count(r.out, line)) TH_LOG("%s", r.out);
	/*
	 * sem_wait is a tail call to an internal function: named only where libc's debug
	 * information is installed (classify.c), as the stack then shows
	 */
	if (strstr(r.out, "new_sem_wait_slow")) {
		snprintf(line, sizeof(line), "\n  wk-reader/%ld waits on semaphore release_sem "
			 "(0x%llx)\n", reader, sem);
		EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
		/* nobody holds a condition variable, a semaphore: no holder is looked for */
		EXPECT_EQ(NULL, strstr(r.out, "holder not known")) TH_LOG("%s", r.out);
	} else {
		/* a futex word nothing names: its holder is looked for, and not known */
		snprintf(line, sizeof(line), "\n  wk-reader/%ld waits on release_sem (futex "
			 "0x%llx), holder not known\n", reader, sem);
		EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
		EXPECT_EQ(2, count(r.out, "holder not known")) TH_LOG("%s", r.out);
	}
	EXPECT_STREQ("", r.err);
	out_free(&r);

	r = deadlock(pid, 1);
	ASSERT_EXIT(0, r);
	fs = findings_of(r.out);
	ASSERT_NE(NULL, fs);
	EXPECT_STREQ("\"findings\": [],\n  ", fs);
	free(fs);
	/* waits_on the futex word (__g_signals), the object the condition variable itself */
	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "{\"tid\": %ld, \"comm\": \"wk-pool\", \"waits_on\": "
			 "\"0x%llx\", \"held_by\": null, ", pool[i], cond + 40);
		p = strstr(r.out, line);
		if (!p) {
			snprintf(line, sizeof(line), "{\"tid\": %ld, \"comm\": \"wk-pool\", "
				 "\"waits_on\": \"0x%llx\", \"held_by\": null, ", pool[i],
				 cond + 44);
			p = strstr(r.out, line);
		}
		ASSERT_NE(NULL, p) TH_LOG("%s", r.out);
		snprintf(line, sizeof(line), "\"object\": \"0x%llx\", \"object_kind\": \"cond\", "
			 "\"object_name\": \"work_cond\", \"readers\": null, ", cond);
		EXPECT_TRUE(on_line(p, line)) TH_LOG("%s", p);
	}
	snprintf(line, sizeof(line), "{\"tid\": %ld, \"comm\": \"wk-writer\", \"waits_on\": "
		 "\"0x%llx\", \"held_by\": null, ", writer, table + 8);
	p = strstr(r.out, line);
	ASSERT_NE(NULL, p) TH_LOG("%s", r.out);
	snprintf(line, sizeof(line), "\"object\": \"0x%llx\", \"object_kind\": \"rwlock\", "
		 "\"object_name\": \"table_lock\", \"readers\": 1, ", table);
	EXPECT_TRUE(on_line(p, line)) TH_LOG("%s", p);
	snprintf(line, sizeof(line), "{\"tid\": %ld, \"comm\": \"wk-rd\", \"waits_on\": "
		 "\"0x%llx\", \"held_by\": %ld, ", rd, conf + 8, owner);
	EXPECT_NE(NULL, strstr(r.out, line)) TH_LOG("%s", r.out);
	out_free(&r);
	stop(_metadata, &wl);
}

/*
 * `concwatch run --fail-on deadlock --json -o FILE` on workload name, its stdin a pipe
 * that stays open for 30 s (only the deadlock can end it sooner); t0, t1 around it. The
 * JSON report, malloc'ed, or NULL when there is none.
 */
static char *run_until_deadlock(const char *name, const char *backend, struct out *r,
				struct timespec *t0, struct timespec *t1)
{
	char wl[PATH_MAX + 64], script[PATH_MAX + 128], json[] = "/tmp/cw-test-deadlock-" CW_TMP_X;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int fd;

	fd = mkstemp(json);
	if (fd < 0)
		return NULL;
	close(fd);
	cw_workload_path(name, wl, sizeof(wl));
	snprintf(script, sizeof(script), "sleep 30 | exec %s", wl);
	clock_gettime(CLOCK_MONOTONIC, t0);
	r->status = cw_run_capture((const char *const[]){ cw_bin_path(), "run",
							  "--backend", backend ?: "bpf",
							  "--fail-on", "deadlock", "--json",
							  "-o", json, "--", "/bin/sh", "-c",
							  script, NULL },
				   NULL, &r->out, &r->err);
	clock_gettime(CLOCK_MONOTONIC, t1);
	f = fopen(json, "r");
	if (f && getdelim(&text, &len, '\0', f) <= 0) {
		free(text);
		text = NULL;
	}
	if (f)
		fclose(f);
	unlink(json);
	return text;
}

/*
 * Live: a command that deadlocks under `run --fail-on deadlock` is reported as soon as
 * the cycle lasted the confirmation window (the blocked-acquire records of the tracer,
 * the engine's ticks moving its clock while the command sends nothing), then killed:
 * exit 66 long before the command's input (30 s) would end it, the exact cycle in the
 * report, formed within 1 s of the command's "ready".
 */
static void fail_on_deadlock(struct __test_metadata *_metadata, const char *backend)
{
	struct timespec t0, t1;
	long a, b;
	long long l1, l2, formed, start;
	char *text, *fs;
	const char *p;
	struct out r;

	text = run_until_deadlock("wl_deadlock", backend, &r, &t0, &t1);
	ASSERT_EXIT(66, r);
	/* before the command's stdin closes (30 s), BPF's load in the guests (TCG) included */
	EXPECT_LT(t1.tv_sec - t0.tv_sec, 25);
	EXPECT_NE(NULL, strstr(r.err, "concwatch run: a deadlock formed: reporting it now; the "
				      "command is killed (--fail-on deadlock)\n")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "concwatch run: findings matched --fail-on deadlock: exit "
				      "status 66\n")) TH_LOG("%s", r.err);
	/* the command's own stdout: its ready line */
	a = cw_field(r.out, "tid_a");
	b = cw_field(r.out, "tid_b");
	l1 = cw_field(r.out, "lock_1");
	l2 = cw_field(r.out, "lock_2");
	ASSERT_LT(0, a) TH_LOG("stdout: %s", r.out);
	ASSERT_NE(NULL, text);
	fs = findings_of(text);
	ASSERT_NE(NULL, fs) TH_LOG("%s", text);
	EXPECT_EQ(1, count(fs, "\"kind\": \"deadlock\", \"rule\": \"cycle\", \"severity\": "
			       "\"error\", \"formed_at_ns\": "));
	EXPECT_NE(NULL, entry(fs, a, "dl-a", l2, b, 0, "lock")) TH_LOG("%s", fs);
	EXPECT_NE(NULL, entry(fs, b, "dl-b", l1, a, 0, "lock")) TH_LOG("%s", fs);
	/* and the inversion that caused it, from the dependencies made at the attempt */
	EXPECT_EQ(1, count(fs, "\"kind\": \"lock_order_inversion\""));
	/* on the monotonic clock: after concwatch started, a window before it ended */
	p = strstr(fs, "\"formed_at_ns\": ");
	ASSERT_NE(NULL, p);
	formed = strtoll(p + strlen("\"formed_at_ns\": "), NULL, 10);
	start = t0.tv_sec * 1000000000LL + t0.tv_nsec;
	EXPECT_LT(start, formed);
	EXPECT_LT(formed + 500000000LL, t1.tv_sec * 1000000000LL + t1.tv_nsec);
	free(fs);
	free(text);
	out_free(&r);
}

TEST(run_fail_on_deadlock)
{
	const char *why = cw_live_skip_reason();

	if (why)
		SKIP(return, "%s", why);
	fail_on_deadlock(_metadata, NULL);
}

/* The same through the kernel module: its blocked records and dependencies. */
TEST(run_fail_on_deadlock_kmod)
{
	int loaded;
	const char *why = cw_kmod_skip_reason(&loaded);

	if (why)
		SKIP(return, "%s", why);
	fail_on_deadlock(_metadata, "kmod");
	if (loaded > 0)
		EXPECT_EQ(0, cw_kmod_unload());
}

/*
 * The same through the in-process library: the wait it records as an acquire finds the
 * lock busy (with the holder the lock word names) makes the cycle.
 */
TEST(run_fail_on_deadlock_preload)
{
	const char *why = cw_live_skip_reason();

	if (why)
		SKIP(return, "%s", why);
	fail_on_deadlock(_metadata, "preload");
}

/*
 * The case: naive dining philosophers under `run --fail-on deadlock`. All five
 * hold their left fork (a barrier), then block on their right one: the five-thread cycle
 * and the lock-order 5-cycle that caused it (made at the attempts, none of which ever
 * succeeds) are both reported, the command is killed and run exits 66 long before the
 * command's stdin would close; the cycle formed when the philosophers blocked.
 */
TEST(run_fail_on_deadlock_philosophers)
{
	const char *why = cw_live_skip_reason();
	long tid[5];
	long long fork[5], formed, ready;
	char *text, *fs, key[16];
	struct timespec t0, t1;
	const char *p;
	struct out r;

	if (why)
		SKIP(return, "%s", why);
	text = run_until_deadlock("wl_philodead", NULL, &r, &t0, &t1);
	ASSERT_EXIT(66, r);
	EXPECT_LT(t1.tv_sec - t0.tv_sec, 25);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "tid%d", i);
		tid[i] = cw_field(r.out, key);
		snprintf(key, sizeof(key), "fork%d", i);
		fork[i] = cw_field(r.out, key);
		ASSERT_LT(0, tid[i]) TH_LOG("stdout: %s", r.out);
	}
	ready = cw_field(r.out, "mono_ns");
	ASSERT_NE(NULL, text);
	fs = findings_of(text);
	ASSERT_NE(NULL, fs) TH_LOG("%s", text);
	/* one cycle of the five: philosopher i waits on fork i+1, which i+1 holds */
	EXPECT_EQ(1, count(fs, "\"kind\": \"deadlock\", \"rule\": \"cycle\""));
	for (int i = 0; i < 5; i++) {
		char comm[16];

		snprintf(comm, sizeof(comm), "wl-phil%d", i);
		EXPECT_NE(NULL, entry(fs, tid[i], comm, fork[(i + 1) % 5], tid[(i + 1) % 5], 0,
				      "lock")) TH_LOG("philosopher %d: %s", i, fs);
	}
	/* the inversion: one lock-order cycle through the five forks */
	EXPECT_EQ(1, count(fs, "\"kind\": \"lock_order_inversion\""));
	for (int i = 0; i < 5; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "\"0x%llx\"", fork[i]);
		EXPECT_LE(2, count(fs, addr)) TH_LOG("fork %d in the deadlock and the inversion", i);
	}
	/* each of its five dependencies made at an attempt on a right fork, which never succeeded */
	EXPECT_EQ(5, count(fs, "\"to_read\": false, \"at_attempt\": true")) TH_LOG("%s", fs);
	EXPECT_EQ(0, count(fs, "\"at_attempt\": false"));
	/* formed when the last philosopher blocked: within a second of the workload's ready */
	p = strstr(fs, "\"formed_at_ns\": ");
	ASSERT_NE(NULL, p);
	formed = strtoll(p + strlen("\"formed_at_ns\": "), NULL, 10);
	ASSERT_LT(0, ready);
	EXPECT_LT(llabs(formed - ready), 1000000000LL) TH_LOG("formed %lld, ready %lld", formed, ready);
	free(fs);
	free(text);
	out_free(&r);
}

/* A process that does not exist: the contract's environment error, one line. */
TEST(no_such_process)
{
	struct out r;

	ROOT_OR_SKIP();
	r = deadlock(0x3ffffff0, 0);
	ASSERT_EXIT(3, r);
	EXPECT_STREQ("concwatch deadlock: no such process: 1073741808\n", r.err);
	EXPECT_STREQ("", r.out);
	out_free(&r);
}

TEST_HARNESS_MAIN
