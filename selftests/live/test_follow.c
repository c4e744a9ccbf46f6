// SPDX-License-Identifier: GPL-2.0
/*
 * Following a command's processes (tools/lib/source/follow.h) on real processes under
 * the launcher, into a session whose source is synthetic: which process operations the
 * source is asked for, in which order, and that their failures are said rather than
 * ignored. No BPF: the follower knows only the session's process operations.
 *
 * The command is this binary again, `test_follow --follow-helper`: it forks a child that
 * execs this binary once more (`--follow-helper child`, which exits 0 at once), waits for
 * it, and exits 0.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "source/follow.h"

#define HELPER_FLAG "--follow-helper"
#define MAX_OPS 32

static void __attribute__((constructor)) helper_main(int argc, char **argv)
{
	int st;
	pid_t pid;

	if (argc < 2 || strcmp(argv[1], HELPER_FLAG))
		return;
	if (argc > 2)
		exit(0);	/* the child */
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], HELPER_FLAG, "child", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		exit(1);
	exit(0);
}

static const char *self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	path[n > 0 ? n : 0] = '\0';
	return path;
}

/* A source with no records that writes down the process operations asked of it. */
struct ops_src {
	struct cw_source base;
	char op[MAX_OPS];	/* 'a'dd, 'r'emove, 'f' refresh */
	int pid[MAX_OPS];
	int nr;
	int refresh_err;		/* refresh fails with it */
	int fail_children;		/* add fails for every process but the first */
};

static int nop(struct cw_source *src)
{
	return 0;
}

static int no_fd(struct cw_source *src)
{
	return -1;
}

static int no_records(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	return 0;
}

static void no_stats(struct cw_source *src, struct cw_source_stats *st)
{
	memset(st, 0, sizeof(*st));
}

static int note_op(struct ops_src *s, char op, int pid)
{
	if (s->nr == MAX_OPS)
		return -E2BIG;
	s->op[s->nr] = op;
	s->pid[s->nr++] = pid;
	return 0;
}

static int ops_add(struct cw_source *src, int pid)
{
	struct ops_src *s = (struct ops_src *)src;

	if (s->fail_children && s->nr) {
		snprintf(src->err, sizeof(src->err), "cannot trace %d", pid);
		return -EPERM;
	}
	return note_op(s, 'a', pid);
}

static int ops_remove(struct cw_source *src, int pid)
{
	return note_op((struct ops_src *)src, 'r', pid);
}

static int ops_refresh(struct cw_source *src, int pid)
{
	struct ops_src *s = (struct ops_src *)src;

	note_op(s, 'f', pid);
	if (s->refresh_err)
		snprintf(src->err, sizeof(src->err), "failed to read the maps of %d", pid);
	return s->refresh_err;
}

static void ops_free(struct cw_source *src)
{
}

static const struct cw_source_ops ops_src_ops = {
	.name = "ops",
	.start = nop,
	.fd = no_fd,
	.drain = no_records,
	.stop = nop,
	.stats = no_stats,
	.add_process = ops_add,
	.remove_process = ops_remove,
	.refresh_process = ops_refresh,
	.free = ops_free,
};

/* What the follower told its caller. */
struct told {
	int traced, untraced, failed;
	int failed_pid[MAX_OPS];
	char why[MAX_OPS][256];
};

static void on_traced(void *ctx, const struct cw_launch_event *ev, int err, const char *why)
{
	struct told *t = ctx;

	if (err)
		t->untraced++;
	else
		t->traced++;
}

static void on_failed(void *ctx, const struct cw_launch_event *ev, int err, const char *why)
{
	struct told *t = ctx;

	if (t->failed < MAX_OPS) {
		t->failed_pid[t->failed] = ev->pid;
		snprintf(t->why[t->failed], sizeof(t->why[0]), "%s", why);
	}
	t->failed++;
}

static const struct cw_follow_cb cb = { .traced = on_traced, .failed = on_failed };

/*
 * Run the helper under the launcher and the follower, with src as the session's
 * source; *child is the helper's child. The command's exit status, or -1.
 */
static int follow_helper(struct __test_metadata *_metadata, struct ops_src *src,
			 struct told *told, pid_t *child)
{
	char *argv[] = { (char *)self_exe(), HELPER_FLAG, NULL };
	struct cw_launch_event ev;
	struct cw_follow *f = NULL;
	struct cw_session *s = NULL;
	struct cw_launch *l = NULL;
	char err[256] = "";
	int pid, status = -1;

	src->base.ops = &ops_src_ops;
	if (cw_launch__start_flags(argv, CW_LAUNCH_F_EXITING, &l, err, sizeof(err))) {
		TH_LOG("launch: %s", err);
		return -1;
	}
	pid = cw_launch__pid(l);
	EXPECT_EQ(1, cw_launch__next(l, &ev, -1));
	EXPECT_EQ(CW_LAUNCH_EXEC, ev.kind);
	EXPECT_EQ(0, cw_session__open(&(struct cw_session_opts){}, &src->base, NULL, NULL, &s,
				      err, sizeof(err))) TH_LOG("%s", err);
	if (!s)
		goto cleanup;
	EXPECT_EQ(0, cw_follow__new(s, l, &cb, told, &f));
	if (!f)
		goto cleanup;
	EXPECT_EQ(0, cw_follow__process(f, &ev));
	EXPECT_EQ(CW_SESSION_TARGET_EXITED, cw_follow__run(f, 0, NULL))
		TH_LOG("%s", cw_follow__error(f));
	status = cw_launch__status(l);
	*child = 0;
	for (int i = 0; i < src->nr; i++)
		if (src->pid[i] != pid)
			*child = src->pid[i];
cleanup:
	cw_follow__free(f);
	cw_session__free(s);
	cw_launch__free(l);
	return status;
}

/*
 * Each process is added before it runs, its old image removed at an exec, its map
 * refreshed while it exits, and it is removed once gone: every add has its remove.
 */
TEST(operations_in_order)
{
	struct ops_src src = {};
	struct told told = {};
	pid_t child;
	int pid;

	if (geteuid())
		SKIP(return, "the launcher needs ptrace of its children");
	ASSERT_EQ(0, follow_helper(_metadata, &src, &told, &child));
	ASSERT_NE(0, child);
	pid = src.pid[0];
	/* helper: add; its fork: add; the fork's exec: remove, add; exits */
	ASSERT_EQ(8, src.nr) TH_LOG("%.*s", src.nr, src.op);
	EXPECT_EQ('a', src.op[0]);
	EXPECT_EQ('a', src.op[1]);
	EXPECT_EQ(child, src.pid[1]);
	EXPECT_EQ('r', src.op[2]);
	EXPECT_EQ(child, src.pid[2]);
	EXPECT_EQ('a', src.op[3]);
	EXPECT_EQ(child, src.pid[3]);
	EXPECT_EQ('f', src.op[4]);	/* exiting */
	EXPECT_EQ(child, src.pid[4]);
	EXPECT_EQ('r', src.op[5]);	/* exited */
	EXPECT_EQ(child, src.pid[5]);
	EXPECT_EQ('f', src.op[6]);
	EXPECT_EQ(pid, src.pid[6]);
	EXPECT_EQ('r', src.op[7]);
	EXPECT_EQ(pid, src.pid[7]);
	EXPECT_EQ(3, told.traced);
	EXPECT_EQ(0, told.untraced);
	EXPECT_EQ(0, told.failed);
}

/* A refresh that fails is said, once per failure, with the source's words; tracing goes on. */
TEST(failures_are_said)
{
	struct ops_src src = { .refresh_err = -EIO };
	struct told told = {};
	char want[64];
	pid_t child;

	if (geteuid())
		SKIP(return, "the launcher needs ptrace of its children");
	ASSERT_EQ(0, follow_helper(_metadata, &src, &told, &child));
	ASSERT_EQ(2, told.failed);
	EXPECT_EQ(child, told.failed_pid[0]);
	snprintf(want, sizeof(want), "failed to read the maps of %d", child);
	EXPECT_STREQ(want, told.why[0]);
	EXPECT_EQ(src.pid[0], told.failed_pid[1]);
	/* both processes were still removed */
	EXPECT_EQ('r', src.op[src.nr - 1]);
}

/*
 * A process that could not be traced is said once, and nothing is asked of the source
 * for it afterwards: its exec, its exit are no errors.
 */
TEST(untraced_process_is_left_alone)
{
	struct ops_src src = { .fail_children = 1 };
	struct told told = {};
	pid_t child;
	int pid;

	if (geteuid())
		SKIP(return, "the launcher needs ptrace of its children");
	ASSERT_EQ(0, follow_helper(_metadata, &src, &told, &child));
	pid = src.pid[0];
	ASSERT_EQ(3, src.nr) TH_LOG("%.*s", src.nr, src.op);
	EXPECT_EQ('a', src.op[0]);
	EXPECT_EQ('f', src.op[1]);
	EXPECT_EQ('r', src.op[2]);
	EXPECT_EQ(pid, src.pid[2]);
	EXPECT_EQ(1, told.traced);
	EXPECT_EQ(2, told.untraced);	/* the fork, and its exec */
	EXPECT_EQ(0, told.failed);
}

TEST_HARNESS_MAIN
