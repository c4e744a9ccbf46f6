/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tracing session: one or several sources (source.h), the reorder window that merges
 * their records by time, and a sink (the engine, a recorder) that receives them in time
 * order. It owns the poll loop every command shares, live or replaying a recording, and
 * knows nothing of what is behind the sources.
 *
 *	cw_session__new(&opts, sink, ctx, &s);
 *	cw_session__add_source(s, src);		as many as needed
 *	cw_session__start(s);
 *	while (cw_session__run(s, until, &stop) == ...)
 *		...;
 *	cw_session__finish(s);
 *	cw_session__free(s);
 */
#ifndef __CW_SESSION_H
#define __CW_SESSION_H

#include <signal.h>
#include "engine/merge.h"
#include "source/source.h"

struct cw_session_opts {
	__u64 window_ns;		/* reorder window; 0 = default (10 ms) */
	int pid;			/* the traced process: its end ends the session;
					 * 0 = none (processes come and go: see follow.h) */
};

enum cw_session_end {
	CW_SESSION_DEADLINE = 1,	/* the time asked for has passed */
	CW_SESSION_STOPPED,		/* *stop was set (a signal) */
	CW_SESSION_TARGET_EXITED,	/* the traced process is gone */
	CW_SESSION_FD_READY,		/* the fd given to cw_session__watch_fd() is readable */
	CW_SESSION_ENDED,		/* every source has ended (a recording read through) */
};

struct cw_session;

/* An empty session: records will go to sink. 0 or -ENOMEM. */
int cw_session__new(const struct cw_session_opts *opts, cw_record_fn sink, void *sink_ctx,
		    struct cw_session **out);

/*
 * Run src too, merged by time with the others. The session owns it from now on, also
 * when this fails. Before cw_session__start() only. 0 or -errno.
 */
int cw_session__add_source(struct cw_session *s, struct cw_source *src);

/* Start every source. On failure cw_session__error() says why and -errno is returned. */
int cw_session__start(struct cw_session *s);

/*
 * cw_session__new(), __add_source(src) and __start() in one: the session owns src from
 * now on, also on failure. On failure err holds one line for the user and -errno is
 * returned.
 */
int cw_session__open(const struct cw_session_opts *opts, struct cw_source *src,
		     cw_record_fn sink, void *sink_ctx, struct cw_session **out, char *err,
		     size_t errlen);

/*
 * Move records from the sources to the sink until CLOCK_MONOTONIC reaches until_ns
 * (0: no limit), *stop becomes non-zero, the target exits, or every source has ended.
 * Returns an enum cw_session_end, or -errno (cw_session__error() says why).
 */
int cw_session__run(struct cw_session *s, __u64 until_ns, volatile sig_atomic_t *stop);

/* Also wake cw_session__run() when fd becomes readable (a launcher's); -1: none. */
void cw_session__watch_fd(struct cw_session *s, int fd);

/*
 * Trace one more process in every source that follows processes, or stop tracing one,
 * or send what it maps now (see cw_source__add_process()). 0 or -errno, and
 * cw_session__error() says why; -EOPNOTSUPP when no source follows processes.
 */
int cw_session__add_process(struct cw_session *s, int pid);
int cw_session__remove_process(struct cw_session *s, int pid);
int cw_session__refresh_process(struct cw_session *s, int pid);

/* Detach, drain what is left and flush the reorder window into the sink. */
int cw_session__finish(struct cw_session *s);

const char *cw_session__error(const struct cw_session *s);
/* What the user may want to know with -v: functions not probed, and why. */
const char *cw_session__notes(struct cw_session *s);

/* The sources' statistics summed, and the reorder window's; either may be NULL. */
void cw_session__stats(const struct cw_session *s, struct cw_source_stats *src,
		       struct cw_merge_stats *merge);
/* The sources, in the order they were added: each one's own statistics and losses. */
size_t cw_session__nr_sources(const struct cw_session *s);
struct cw_source *cw_session__source(const struct cw_session *s, size_t i);

void cw_session__free(struct cw_session *s);

#endif /* __CW_SESSION_H */
