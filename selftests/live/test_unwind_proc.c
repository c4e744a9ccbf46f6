// SPDX-License-Identifier: GPL-2.0
/*
 * Stacks of a process that hangs before anyone traced it: wl_deadlock's two threads each
 * hold one mutex and wait for the other's. Once both really sleep in futex(2),
 * cw_unwind_process() attaches with ptrace and must show, for each of them, innermost
 * first: glibc's blocking frames inside pthread_mutex_lock, the workload's functions with
 * their lines, and the thread's start; and that it reached the start.
 *
 * With glibc's debug information installed (Debian's libc6-dbg) glibc's own frames have
 * names, inlined ones included:
 *
 *   futex_wait inlined (futex-internal.h:146)
 *   __lll_lock_wait+0x2b (lowlevellock.c:49)
 *   lll_mutex_lock_optimized inlined (pthread_mutex_lock.c:48)
 *   pthread_mutex_lock+0x112 (pthread_mutex_lock.c:93)
 *   take_second_lock_a+0x26 (wl_deadlock.c:36)
 *   thread_a+0x31 (wl_deadlock.c:45)
 *   start_thread+0x305 (pthread_create.c:442)
 *   clone3+0x2c (clone3.S:81)
 *
 * Without it (the QEMU guests) only .dynsym names them: pthread_mutex_lock alone, the
 * others are addresses in libc.so.6. Unwinding needs no debug information either way.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common/time.h"
#include "cwtest.h"
#include "stack/stack.h"

/* Where a hung thread must be before the test looks: asleep, in futex(2). */
#define SYS_FUTEX 202

enum wait_result { BLOCKED, NO_ACCESS, GONE, TIMED_OUT };

static double now(void)
{
	return cw_now_ns() / 1e9;
}

/* Thread tid's state letter ('S', 'R'...), 0 when it cannot be read. */
static char thread_state(int pid, int tid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* the name in parentheses may hold anything: the state follows the last ')' */
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Poll (never sleep) until thread tid sleeps in futex(2). */
static enum wait_result wait_blocked(int pid, int tid, double timeout)
{
	double end = now() + timeout;
	char path[64], buf[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	do {
		f = fopen(path, "re");
		if (!f)
			return errno == EACCES || errno == EPERM ? NO_ACCESS : GONE;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (atoi(buf) == SYS_FUTEX && thread_state(pid, tid) == 'S')
			return BLOCKED;
		sched_yield();
	} while (now() < end);
	return TIMED_OUT;
}

static int ptrace_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The stacks cw_unwind_process() delivered, copied out of the callback. */
struct seen {
	int tids[16];
	struct cw_ustack stacks[16];
	size_t nr, dropped;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int keep_stack(void *ctx, int tid, const struct cw_ustack *s)
{
	struct seen *seen = ctx;
	struct cw_ustack *c;

	if (seen->nr == ARRAY_SIZE(seen->tids)) {
		seen->dropped++;
		return 0;
	}
	c = &seen->stacks[seen->nr];
	*c = *s;
	c->frames = calloc(s->nr ? s->nr : 1, sizeof(*c->frames));
	if (!c->frames)
		return -ENOMEM;
	for (size_t i = 0; i < s->nr; i++) {
		c->frames[i] = s->frames[i];
		c->frames[i].func = dup_or_null(s->frames[i].func);
		c->frames[i].file = dup_or_null(s->frames[i].file);
		/* the unwinder that owns module paths is gone after the call */
		c->frames[i].module = dup_or_null(s->frames[i].module);
	}
	seen->tids[seen->nr++] = tid;
	return 0;
}

static void free_seen(struct seen *seen)
{
	for (size_t i = 0; i < seen->nr; i++) {
		for (size_t j = 0; j < seen->stacks[i].nr; j++)
			free((char *)seen->stacks[i].frames[j].module);
		cw_ustack__fini(&seen->stacks[i]);
	}
	seen->nr = 0;
}

static const struct cw_ustack *stack_of(const struct seen *seen, int tid)
{
	for (size_t i = 0; i < seen->nr; i++)
		if (seen->tids[i] == tid)
			return &seen->stacks[i];
	return NULL;
}

/* One expected frame: func NULL means "no name"; file is compared by its last component. */
struct want {
	const char *func;
	const char *file;
	int line;		/* 0: any line, as long as there is a file */
	int inlined;
	int in_workload;	/* else in libc */
};

static const char *base_name(const char *path)
{
	const char *p = path ? strrchr(path, '/') : NULL;

	return p ? p + 1 : path;
}

static bool same(const char *want, const char *seen)
{
	return want && seen ? !strcmp(want, seen) : want == seen;
}

/* Checks without stopping, so that a mismatch shows the whole stack. */
static void check_stack(struct __test_metadata *_metadata, const struct cw_ustack *s,
			const struct want *want, size_t nr, const char *libc, const char *wl)
{
	char buf[PATH_MAX + 256];
	bool ok = s->nr == nr && s->end == CW_STACK_END_COMPLETE;

	for (size_t i = 0; ok && i < nr; i++) {
		const struct cw_frame *f = &s->frames[i];

		ok = same(want[i].func, f->func) && f->inlined == want[i].inlined &&
		     same(want[i].in_workload ? wl : libc, f->module) &&
		     same(want[i].file, base_name(f->file)) && (!f->file || f->line > 0) &&
		     (!want[i].line || want[i].line == f->line);
	}
	EXPECT_TRUE(ok);
	if (ok)
		return;
	TH_LOG("expected, innermost first:");
	for (size_t i = 0; i < nr; i++)
		TH_LOG("  #%zu %s%s (%s:%d) [%s]", i, want[i].func ? want[i].func : "(no name)",
		       want[i].inlined ? " inlined" : "", want[i].file ? want[i].file : "no file",
		       want[i].line, want[i].in_workload ? wl : libc);
	TH_LOG("seen (%s%s%s):", s->end == CW_STACK_END_COMPLETE ? "complete" : "not complete",
	       s->why[0] ? ": " : "", s->why);
	for (size_t i = 0; i < s->nr; i++) {
		cw_frame__format(&s->frames[i], buf, sizeof(buf));
		TH_LOG("  #%zu %s", i, buf);
	}
}

/* Whether glibc's separate debug information is where elfutils looks first. */
static bool has_debuginfo(const struct cw_module_info *m)
{
	char path[128];
	int n;

	if (m->build_id_len < 2)
		return false;
	n = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", m->build_id[0]);
	for (int i = 1; i < m->build_id_len; i++)
		n += snprintf(path + n, sizeof(path) - n, "%02x", m->build_id[i]);
	snprintf(path + n, sizeof(path) - n, ".debug");
	return access(path, R_OK) == 0;
}

FIXTURE(deadlock)
{
	struct cw_wl wl;
	struct seen seen;
};

FIXTURE_SETUP(deadlock)
{
	memset(self, 0, sizeof(*self));
	ASSERT_EQ(0, cw_wl__start(&self->wl, "wl_deadlock", NULL));
}

FIXTURE_TEARDOWN(deadlock)
{
	free_seen(&self->seen);
	/* its threads never return: it dies by the signal, or of its closed stdin */
	if (self->wl.pid > 0) {
		kill(self->wl.pid, SIGKILL);
		cw_wl__stop(&self->wl);
	}
}

TEST_F(deadlock, stacks_of_hung_threads)
{
	int pid = cw_field(self->wl.ready, "pid");
	int tid_a = cw_field(self->wl.ready, "tid_a"), tid_b = cw_field(self->wl.ready, "tid_b");
	int lines[4] = {
		cw_field(self->wl.ready, "line_lock_a"), cw_field(self->wl.ready, "line_call_a"),
		cw_field(self->wl.ready, "line_lock_b"), cw_field(self->wl.ready, "line_call_b"),
	};
	const struct cw_module_info *libc = NULL;
	struct cw_module_info *mods = NULL;
	char wl_path[PATH_MAX + 64], wl_real[PATH_MAX];
	const int tids[2] = { tid_a, tid_b };
	enum wait_result r;
	size_t nr = 0;
	bool dbg;
	int err;

	ASSERT_EQ(self->wl.pid, pid);
	ASSERT_LT(0, tid_a);
	ASSERT_LT(0, tid_b);
	for (int i = 0; i < 4; i++)
		ASSERT_LT(0, lines[i]);
	for (int i = 0; i < 2; i++) {
		r = wait_blocked(pid, tids[i], 20);
		if (r == NO_ACCESS)
			SKIP(return, "ptrace not permitted: %s (yama ptrace_scope %d)",
			     "cannot read /proc/PID/task/TID/syscall", ptrace_scope());
		ASSERT_EQ(BLOCKED, r) TH_LOG("thread %d is not asleep in futex(2)", tids[i]);
	}

	ASSERT_EQ(0, cw_modules__read(pid, &mods, &nr));
	for (size_t i = 0; i < nr; i++)
		if (strstr(mods[i].path, "/libc.so.6"))
			libc = &mods[i];
	ASSERT_NE(NULL, libc);
	dbg = has_debuginfo(libc);
	cw_workload_path("wl_deadlock", wl_path, sizeof(wl_path));
	ASSERT_NE(NULL, realpath(wl_path, wl_real));

	err = cw_unwind_process(pid, NULL, keep_stack, &self->seen);
	if (err == -EPERM) {
		free(mods);
		SKIP(return, "ptrace not permitted (yama ptrace_scope %d)", ptrace_scope());
	}
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, self->seen.dropped);
	EXPECT_EQ(3, self->seen.nr);
	EXPECT_NE(NULL, stack_of(&self->seen, pid));

	for (int t = 0; t < 2; t++) {
		const char *take = t ? "take_second_lock_b" : "take_second_lock_a";
		const char *thread = t ? "thread_b" : "thread_a";
		const struct want with_dbg[] = {
			{ "futex_wait", "futex-internal.h", 0, 1, 0 },
			{ "__lll_lock_wait", "lowlevellock.c", 0, 0, 0 },
			{ "lll_mutex_lock_optimized", "pthread_mutex_lock.c", 0, 1, 0 },
			{ "pthread_mutex_lock", "pthread_mutex_lock.c", 0, 0, 0 },
			{ take, "wl_deadlock.c", lines[2 * t], 0, 1 },
			{ thread, "wl_deadlock.c", lines[2 * t + 1], 0, 1 },
			{ "start_thread", "pthread_create.c", 0, 0, 0 },
			{ "clone3", "clone3.S", 0, 0, 0 },
		};
		const struct want without_dbg[] = {
			{ NULL, NULL, 0, 0, 0 },	/* __lll_lock_wait is not exported */
			{ "pthread_mutex_lock", NULL, 0, 0, 0 },
			{ take, "wl_deadlock.c", lines[2 * t], 0, 1 },
			{ thread, "wl_deadlock.c", lines[2 * t + 1], 0, 1 },
			{ NULL, NULL, 0, 0, 0 },	/* start_thread */
			{ NULL, NULL, 0, 0, 0 },	/* clone3 */
		};
		const struct cw_ustack *s = stack_of(&self->seen, tids[t]);

		ASSERT_NE(NULL, s) TH_LOG("no stack for thread %d", tids[t]);
		if (dbg)
			check_stack(_metadata, s, with_dbg, ARRAY_SIZE(with_dbg), libc->path,
				    wl_real);
		else
			check_stack(_metadata, s, without_dbg, ARRAY_SIZE(without_dbg), libc->path,
				    wl_real);
		if (!_metadata->passed)
			TH_LOG("thread %s (%d); glibc's debug information is %s", thread, tids[t],
			       dbg ? "installed" : "absent");
	}
	free(mods);

	/* they still hang: the walk detached without waking them for good */
	for (int i = 0; i < 2; i++)
		EXPECT_EQ(BLOCKED, wait_blocked(pid, tids[i], 20));
}

TEST_HARNESS_MAIN
