/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A live tracing session: one source, the reorder window, and a sink (the engine, a
 * recorder) that receives records in time order. It owns the poll loop every live
 * command shares.
 */
#ifndef __CW_SESSION_H
#define __CW_SESSION_H

#include <signal.h>
#include "common/time.h"
#include "engine/merge.h"
#include "source/source.h"

struct cw_session_opts {
	struct cw_bpf_opts bpf;		/* bpf.pid is the target */
	__u64 window_ns;		/* reorder window; 0 = default (10 ms) */
	int follow;			/* processes come and go (run): the end of bpf.pid
					 * does not end the session; see watch_fd */
};

enum cw_session_end {
	CW_SESSION_DEADLINE = 1,	/* the time asked for has passed */
	CW_SESSION_STOPPED,		/* *stop was set (a signal) */
	CW_SESSION_TARGET_EXITED,	/* the traced process is gone */
	CW_SESSION_FD_READY,		/* the fd given to cw_session__watch_fd() is readable */
};

struct cw_session;

/* Start tracing. On failure err holds one line for the user and -errno is returned. */
int cw_session__open(const struct cw_session_opts *opts, cw_record_fn sink, void *sink_ctx,
		     struct cw_session **out, char *err, size_t errlen);

/*
 * Move records from the source to the sink until CLOCK_MONOTONIC reaches until_ns
 * (0: no limit), *stop becomes non-zero, or the target exits. Returns an
 * enum cw_session_end, or -errno (err says why).
 */
int cw_session__run(struct cw_session *s, __u64 until_ns, volatile sig_atomic_t *stop);

/* Also wake cw_session__run() when fd becomes readable (a launcher's); -1: none. */
void cw_session__watch_fd(struct cw_session *s, int fd);

/* Trace one more process, or stop tracing one (see cw_bpf_source__add_process). */
int cw_session__add_process(struct cw_session *s, int pid);
int cw_session__remove_process(struct cw_session *s, int pid);
/* Send the module map of pid again, for what it mapped since (cw_bpf_source__refresh_modules). */
int cw_session__refresh_modules(struct cw_session *s, int pid);

/* Detach, drain what is left and flush the reorder window into the sink. */
int cw_session__finish(struct cw_session *s);

const char *cw_session__error(const struct cw_session *s);
/* What the user may want to know with -v: functions not probed, and why. */
const char *cw_session__notes(const struct cw_session *s);
void cw_session__stats(const struct cw_session *s, struct cw_source_stats *src,
		       struct cw_merge_stats *merge);
void cw_session__free(struct cw_session *s);

#endif /* __CW_SESSION_H */
