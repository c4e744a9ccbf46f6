// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "source/session.h"

#define DEFAULT_WINDOW_NS 10000000ULL

struct cw_session {
	struct cw_source *src;
	struct cw_merge *merge;
	cw_record_fn sink;
	void *sink_ctx;
	int pidfd;		/* readable once the target exits */
	int watch_fd;		/* cw_session__watch_fd(), or -1 */
	int finished;
	char err[256];
};

static int push(void *ctx, const struct cw_hdr *rec)
{
	return cw_merge__push(ctx, rec);
}

int cw_session__open(const struct cw_session_opts *opts, cw_record_fn sink, void *sink_ctx,
		     struct cw_session **out, char *err, size_t errlen)
{
	struct cw_session *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->sink = sink;
	s->sink_ctx = sink_ctx;
	s->pidfd = -1;
	s->watch_fd = -1;
	s->merge = cw_merge__new(opts->window_ns ? opts->window_ns : DEFAULT_WINDOW_NS);
	if (!s->merge) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	ret = cw_bpf_source__new(&opts->bpf, &s->src);
	if (ret == -ENOSPC) {
		snprintf(err, errlen, "the ring buffer is too small for stack copies: give a larger "
			 "--ringbuf-size or a smaller --stack-bytes");
		goto cleanup;
	}
	if (ret) {
		snprintf(err, errlen, "bad BPF source options: %s", strerror(-ret));
		goto cleanup;
	}
	/* Open the pidfd first: if the pid is reused later, we still watch the right process. */
	s->pidfd = syscall(SYS_pidfd_open, opts->bpf.pid, 0);
	if (s->pidfd >= 0 && opts->follow) {
		close(s->pidfd);
		s->pidfd = -1;
	} else if (s->pidfd < 0 && errno == ESRCH) {
		ret = -ESRCH;
		snprintf(err, errlen, "no such process: %d", opts->bpf.pid);
		goto cleanup;
	}
	ret = cw_source__start(s->src);
	if (ret) {
		snprintf(err, errlen, "%s", cw_source__error(s->src));
		goto cleanup;
	}
	*out = s;
	return 0;
cleanup:
	cw_session__free(s);
	return ret;
}

/* Source -> reorder window -> sink, for whatever is waiting now. */
static int pump(struct cw_session *s, int flush)
{
	int ret;

	ret = cw_source__drain(s->src, push, s->merge);
	if (ret < 0) {
		snprintf(s->err, sizeof(s->err), "%s",
			 cw_source__error(s->src)[0] ? cw_source__error(s->src) : strerror(-ret));
		return ret;
	}
	ret = cw_merge__pop(s->merge, flush, s->sink, s->sink_ctx);
	if (ret < 0)
		snprintf(s->err, sizeof(s->err), "failed to process records: %s", strerror(-ret));
	return ret;
}

int cw_session__run(struct cw_session *s, __u64 until_ns, volatile sig_atomic_t *stop)
{
	struct pollfd pfd[3] = {
		{ .fd = cw_source__fd(s->src), .events = POLLIN },
		{ .fd = s->pidfd, .events = POLLIN },	/* poll() skips a negative fd */
		{ .fd = s->watch_fd, .events = POLLIN },
	};

	for (;;) {
		__u64 now = cw_now_ns();
		int timeout = 100, ret;

		if (stop && *stop)
			return CW_SESSION_STOPPED;
		if (until_ns && now >= until_ns)
			return CW_SESSION_DEADLINE;
		if (until_ns && (until_ns - now) / 1000000 < (__u64)timeout)
			timeout = (until_ns - now) / 1000000 + 1;

		ret = poll(pfd, 3, timeout);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			snprintf(s->err, sizeof(s->err), "poll failed: %s", strerror(errno));
			return ret;
		}
		ret = pump(s, 0);
		if (ret < 0)
			return ret;
		if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN))
			return CW_SESSION_TARGET_EXITED;
		if (pfd[2].fd >= 0 && (pfd[2].revents & POLLIN))
			return CW_SESSION_FD_READY;
	}
}

void cw_session__watch_fd(struct cw_session *s, int fd)
{
	s->watch_fd = fd;
}

int cw_session__add_process(struct cw_session *s, int pid)
{
	int err = cw_bpf_source__add_process(s->src, pid);

	if (err)
		snprintf(s->err, sizeof(s->err), "%s", cw_source__error(s->src)[0] ?
			 cw_source__error(s->src) : strerror(-err));
	return err;
}

int cw_session__remove_process(struct cw_session *s, int pid)
{
	return cw_bpf_source__remove_process(s->src, pid);
}

int cw_session__refresh_modules(struct cw_session *s, int pid)
{
	return cw_bpf_source__refresh_modules(s->src, pid);
}

int cw_session__finish(struct cw_session *s)
{
	if (s->finished)
		return 0;
	s->finished = 1;
	cw_source__stop(s->src);
	return pump(s, 1);
}

const char *cw_session__error(const struct cw_session *s)
{
	return s->err;
}

const char *cw_session__notes(const struct cw_session *s)
{
	return s->src->notes;
}

void cw_session__stats(const struct cw_session *s, struct cw_source_stats *src,
		       struct cw_merge_stats *merge)
{
	if (src)
		cw_source__stats(s->src, src);
	if (merge)
		cw_merge__stats(s->merge, merge);
}

void cw_session__free(struct cw_session *s)
{
	if (!s)
		return;
	cw_source__free(s->src);
	cw_merge__free(s->merge);
	if (s->pidfd >= 0)
		close(s->pidfd);
	free(s);
}
