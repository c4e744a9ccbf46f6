/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Following a command's processes (run, record -- CMD): every process the command and
 * its descendants create or exec is added to the session's sources before it runs an
 * instruction of its own, its module map is sent again while it exits (its stacks are
 * read once it is gone), and it is removed once it has exited. Through the session's
 * process operations only, so every backend that follows processes is followed the same
 * way, and none has a loop of its own.
 *
 *	cw_launch__start(argv, &l, ...);	the command's EXEC is the first event
 *	cw_launch__next(l, &ev, -1);
 *	cw_session__open(&opts, src, ...);	opts.pid 0: processes come and go
 *	cw_follow__new(s, l, &cb, ctx, &f);
 *	cw_follow__process(f, &ev);		the command itself, then let it run
 *	cw_follow__run(f, until, &stop);
 */
#ifndef __CW_FOLLOW_H
#define __CW_FOLLOW_H

#include <signal.h>
#include "source/launch.h"
#include "source/session.h"

/* What the caller is told, to say it to the user; either may be NULL. */
struct cw_follow_cb {
	/* ev's process is traced from its first instruction (err 0), or not at all (why) */
	void (*traced)(void *ctx, const struct cw_launch_event *ev, int err, const char *why);
	/*
	 * Stopping to trace ev's process (exited, or exec'ed), or sending its module map
	 * while it exits, failed: tracing goes on, and what failed is said here once.
	 */
	void (*failed)(void *ctx, const struct cw_launch_event *ev, int err, const char *why);
	/*
	 * ev's process, held and traced now, needs no ptrace stop any more (it records
	 * itself): nonzero lets the launcher release it (cw_launch__release), and follow it
	 * and its descendants without ptrace. NULL: every process stays under ptrace.
	 */
	int (*release)(void *ctx, const struct cw_launch_event *ev);
};

struct cw_follow;

/* Follow l's processes into s; the session wakes up for the launcher's events. */
int cw_follow__new(struct cw_session *s, struct cw_launch *l, const struct cw_follow_cb *cb,
		   void *ctx, struct cw_follow **out);

/*
 * A process at its EXEC or FORK: trace it (after an exec, the probes of its old image
 * are gone with it: they are removed first), then, when held, let it run, released when
 * cb->release says so. 0, or -ESRCH when it was not held (it vanished); not being able
 * to trace it is said through cb->traced. A process followed without ptrace (ev->held
 * 0) is traced when its event is read: it runs already, and may be gone.
 */
int cw_follow__process(struct cw_follow *f, const struct cw_launch_event *ev);

/*
 * Run the session, following processes, until until_ns (0: no limit), *stop, or the end
 * of the command and every process it started (CW_SESSION_TARGET_EXITED). Returns an
 * enum cw_session_end, or -errno with cw_follow__error() saying why.
 */
int cw_follow__run(struct cw_follow *f, __u64 until_ns, volatile sig_atomic_t *stop);

const char *cw_follow__error(const struct cw_follow *f);
/* Processes of the command that could not be traced. */
size_t cw_follow__untraced(const struct cw_follow *f);

void cw_follow__free(struct cw_follow *f);

#endif /* __CW_FOLLOW_H */
