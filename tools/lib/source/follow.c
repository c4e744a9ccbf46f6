// SPDX-License-Identifier: GPL-2.0
/* Following a command's processes through the session: see follow.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/array.h"
#include "source/follow.h"

struct cw_follow {
	struct cw_session *sess;
	struct cw_launch *launch;
	struct cw_follow_cb cb;
	void *ctx;
	int *traced;			/* the processes traced now */
	size_t nr_traced, cap_traced;
	size_t untraced;
	int release_failed;		/* said once: the processes stay under ptrace */
	char err[256];
};

int cw_follow__new(struct cw_session *s, struct cw_launch *l, const struct cw_follow_cb *cb,
		   void *ctx, struct cw_follow **out)
{
	struct cw_follow *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->sess = s;
	f->launch = l;
	if (cb)
		f->cb = *cb;
	f->ctx = ctx;
	cw_session__watch_fd(s, cw_launch__fd(l));
	*out = f;
	return 0;
}

/* Where pid is in f->traced, or -1. */
static ssize_t find_traced(const struct cw_follow *f, int pid)
{
	for (size_t i = 0; i < f->nr_traced; i++)
		if (f->traced[i] == pid)
			return i;
	return -1;
}

static int remember(struct cw_follow *f, int pid)
{
	int *v = cw_grow(f->traced, &f->cap_traced, f->nr_traced + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	f->traced = v;
	f->traced[f->nr_traced++] = pid;
	return 0;
}

static void failed(struct cw_follow *f, const struct cw_launch_event *ev, int err)
{
	if (f->cb.failed)
		f->cb.failed(f->ctx, ev, err, cw_session__error(f->sess));
}

/* Stop tracing ev's process, if it is: it exited, or exec'ed. */
static void untrace(struct cw_follow *f, const struct cw_launch_event *ev)
{
	ssize_t i = find_traced(f, ev->pid);
	int err;

	if (i < 0)
		return;
	f->traced[i] = f->traced[--f->nr_traced];
	err = cw_session__remove_process(f->sess, ev->pid);
	if (err)
		failed(f, ev, err);
}

int cw_follow__process(struct cw_follow *f, const struct cw_launch_event *ev)
{
	int err;

	if (ev->kind == CW_LAUNCH_EXEC)
		untrace(f, ev);
	err = cw_session__add_process(f->sess, ev->pid);
	if (!err && remember(f, ev->pid)) {
		/* not remembered, so it would never be removed: do not trace it */
		cw_session__remove_process(f->sess, ev->pid);
		err = -ENOMEM;
		snprintf(f->err, sizeof(f->err), "out of memory");
	}
	if (err)
		f->untraced++;
	if (f->cb.traced)
		f->cb.traced(f->ctx, ev, err, err == -ENOMEM && f->err[0] ? f->err :
					      cw_session__error(f->sess));
	if (!ev->held)
		return 0;
	if (!err && f->cb.release && f->cb.release(f->ctx, ev)) {
		int ret = cw_launch__release(f->launch, ev->pid);

		if (!ret)
			return 0;
		if (ret != -ESRCH && !f->release_failed++ && f->cb.failed) {
			char why[200];

			snprintf(why, sizeof(why), "following processes without ptrace (the "
				 "kernel's process connector): %s; they stay traced through ptrace",
				 strerror(-ret));
			f->cb.failed(f->ctx, ev, ret, why);
		}
	}
	return cw_launch__resume(f->launch, ev->pid);
}

int cw_follow__run(struct cw_follow *f, __u64 until_ns, volatile sig_atomic_t *stop)
{
	for (;;) {
		struct cw_launch_event ev;
		int end, n, err;

		end = cw_session__run(f->sess, until_ns, stop);
		if (end < 0) {
			snprintf(f->err, sizeof(f->err), "%s", cw_session__error(f->sess));
			return end;
		}
		if (end != CW_SESSION_FD_READY)
			return end;
		while ((n = cw_launch__next(f->launch, &ev, 0)) == 1) {
			if (ev.kind == CW_LAUNCH_EXIT) {
				untrace(f, &ev);
			} else if (ev.kind == CW_LAUNCH_EXITING) {
				/* its stacks are read later: keep what its maps say now */
				if (find_traced(f, ev.pid) >= 0) {
					err = cw_session__refresh_process(f->sess, ev.pid);
					if (err)
						failed(f, &ev, err);
				}
				cw_launch__resume(f->launch, ev.pid);
			} else {
				cw_follow__process(f, &ev);
			}
		}
		if (n == -ECHILD)
			return CW_SESSION_TARGET_EXITED;
		if (n < 0 && n != -EINTR) {
			snprintf(f->err, sizeof(f->err), "following the command: %s", strerror(-n));
			return n;
		}
	}
}

const char *cw_follow__error(const struct cw_follow *f)
{
	return f->err;
}

size_t cw_follow__untraced(const struct cw_follow *f)
{
	return f->untraced;
}

void cw_follow__free(struct cw_follow *f)
{
	if (!f)
		return;
	free(f->traced);
	free(f);
}
