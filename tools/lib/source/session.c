// SPDX-License-Identifier: GPL-2.0
/* A tracing session: see session.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "source/session.h"

#define DEFAULT_WINDOW_NS 10000000ULL
#define POLL_MS 100

struct cw_session {
	struct cw_source **srcs;
	size_t nr_srcs, cap_srcs;
	struct cw_merge *merge;
	cw_record_fn sink;
	void *sink_ctx;
	int pid;		/* cw_session_opts.pid */
	int pidfd;		/* readable once the target exits */
	int watch_fd;		/* cw_session__watch_fd(), or -1 */
	int more;		/* a source without fd handed records on: it may have more */
	int started, finished;
	char err[256];
	char *notes;		/* the sources' notes joined, when there are several */
};

static int push(void *ctx, const struct cw_hdr *rec)
{
	return cw_merge__push(ctx, rec);
}

int cw_session__new(const struct cw_session_opts *opts, cw_record_fn sink, void *sink_ctx,
		    struct cw_session **out)
{
	struct cw_session *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->sink = sink;
	s->sink_ctx = sink_ctx;
	s->pid = opts->pid;
	s->pidfd = -1;
	s->watch_fd = -1;
	s->merge = cw_merge__new(opts->window_ns ? opts->window_ns : DEFAULT_WINDOW_NS);
	if (!s->merge) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

int cw_session__add_source(struct cw_session *s, struct cw_source *src)
{
	if (s->started) {
		cw_source__free(src);
		snprintf(s->err, sizeof(s->err), "a source added to a running session");
		return -EBUSY;
	}
	if (s->nr_srcs == s->cap_srcs) {
		size_t cap = s->cap_srcs ? s->cap_srcs * 2 : 2;
		struct cw_source **v = realloc(s->srcs, cap * sizeof(*v));

		if (!v) {
			cw_source__free(src);
			snprintf(s->err, sizeof(s->err), "out of memory");
			return -ENOMEM;
		}
		s->srcs = v;
		s->cap_srcs = cap;
	}
	s->srcs[s->nr_srcs++] = src;
	return 0;
}

/* The error of source src in the session's, or else err's own words. */
static void source_error(struct cw_session *s, struct cw_source *src, int err)
{
	snprintf(s->err, sizeof(s->err), "%s",
		 cw_source__error(src)[0] ? cw_source__error(src) : strerror(-err));
}

int cw_session__start(struct cw_session *s)
{
	int ret;

	s->started = 1;
	s->more = 1;
	/* Open the pidfd first: if the pid is reused later, we still watch the right process. */
	if (s->pid) {
		s->pidfd = syscall(SYS_pidfd_open, s->pid, 0);
		if (s->pidfd < 0 && errno == ESRCH) {
			snprintf(s->err, sizeof(s->err), "no such process: %d", s->pid);
			return -ESRCH;
		}
	}
	for (size_t i = 0; i < s->nr_srcs; i++) {
		ret = cw_source__start(s->srcs[i]);
		if (ret) {
			source_error(s, s->srcs[i], ret);
			return ret;
		}
	}
	return 0;
}

int cw_session__open(const struct cw_session_opts *opts, struct cw_source *src,
		     cw_record_fn sink, void *sink_ctx, struct cw_session **out, char *err,
		     size_t errlen)
{
	struct cw_session *s;
	int ret;

	ret = cw_session__new(opts, sink, sink_ctx, &s);
	if (ret) {
		cw_source__free(src);
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	ret = cw_session__add_source(s, src);
	if (!ret)
		ret = cw_session__start(s);
	if (ret) {
		snprintf(err, errlen, "%s", s->err);
		cw_session__free(s);
		return ret;
	}
	*out = s;
	return 0;
}

/*
 * A lone source whose records come in order already (a recording) goes straight to the
 * sink: the reorder window would only move a record that came late in the live run to
 * another place than the live run gave it.
 */
static int direct(const struct cw_session *s)
{
	return s->nr_srcs == 1 && s->srcs[0]->ordered;
}

/* Each source -> reorder window -> sink, for whatever is waiting now. */
static int pump(struct cw_session *s, int flush)
{
	cw_record_fn fn = direct(s) ? s->sink : push;
	void *ctx = direct(s) ? s->sink_ctx : s->merge;
	int ret;

	s->more = 0;
	for (size_t i = 0; i < s->nr_srcs; i++) {
		struct cw_source *src = s->srcs[i];

		if (src->ended)
			continue;
		/*
		 * A source with an fd hands on everything waiting at once; one without may
		 * hand on a batch: at the end, until it has no more.
		 */
		do {
			ret = cw_source__drain(src, fn, ctx);
		} while (flush && ret > 0 && !src->ended && cw_source__fd(src) < 0);
		if (ret < 0) {
			source_error(s, src, ret);
			return ret;
		}
		if (ret > 0 && !src->ended && cw_source__fd(src) < 0)
			s->more = 1;
	}
	if (direct(s))
		return 0;
	ret = cw_merge__pop(s->merge, flush, s->sink, s->sink_ctx);
	if (ret < 0)
		snprintf(s->err, sizeof(s->err), "failed to process records: %s", strerror(-ret));
	return ret;
}

static int all_ended(const struct cw_session *s)
{
	for (size_t i = 0; i < s->nr_srcs; i++)
		if (!s->srcs[i]->ended)
			return 0;
	return s->nr_srcs > 0;
}

int cw_session__run(struct cw_session *s, __u64 until_ns, volatile sig_atomic_t *stop)
{
	size_t nfds = s->nr_srcs + 2;
	struct pollfd *pfd;
	int ret;

	pfd = calloc(nfds, sizeof(*pfd));
	if (!pfd) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return -ENOMEM;
	}
	/* poll() skips a negative fd */
	pfd[0] = (struct pollfd){ .fd = s->pidfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = s->watch_fd, .events = POLLIN };
	for (size_t i = 0; i < s->nr_srcs; i++)
		pfd[i + 2] = (struct pollfd){ .fd = cw_source__fd(s->srcs[i]), .events = POLLIN };

	for (;;) {
		__u64 now = cw_now_ns();
		int timeout = s->more ? 0 : POLL_MS;

		if (stop && *stop) {
			ret = CW_SESSION_STOPPED;
			break;
		}
		if (until_ns && now >= until_ns) {
			ret = CW_SESSION_DEADLINE;
			break;
		}
		if (until_ns && (until_ns - now) / 1000000 < (__u64)timeout)
			timeout = (until_ns - now) / 1000000 + 1;

		ret = poll(pfd, nfds, timeout);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			snprintf(s->err, sizeof(s->err), "poll failed: %s", strerror(errno));
			break;
		}
		ret = pump(s, 0);
		if (ret < 0)
			break;
		if (pfd[0].fd >= 0 && (pfd[0].revents & POLLIN)) {
			ret = CW_SESSION_TARGET_EXITED;
			break;
		}
		if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN)) {
			ret = CW_SESSION_FD_READY;
			break;
		}
		if (all_ended(s)) {
			ret = CW_SESSION_ENDED;
			break;
		}
	}
	free(pfd);
	return ret;
}

void cw_session__watch_fd(struct cw_session *s, int fd)
{
	s->watch_fd = fd;
}

int cw_session__add_process(struct cw_session *s, int pid)
{
	int ret = -EOPNOTSUPP;
	size_t i;

	for (i = 0; i < s->nr_srcs; i++) {
		int err = cw_source__add_process(s->srcs[i], pid);

		if (err == -EOPNOTSUPP)
			continue;
		ret = err;
		if (err) {
			source_error(s, s->srcs[i], err);
			break;
		}
	}
	if (ret == -EOPNOTSUPP)
		snprintf(s->err, sizeof(s->err), "no source of this session follows processes");
	if (ret && ret != -EOPNOTSUPP) {
		/* traced by all or by none */
		while (i--)
			cw_source__remove_process(s->srcs[i], pid);
	}
	return ret;
}

/* op on every source that follows processes: the first error, said; the others go on. */
static int each_source(struct cw_session *s, int (*op)(struct cw_source *, int), int pid)
{
	int ret = -EOPNOTSUPP;

	for (size_t i = 0; i < s->nr_srcs; i++) {
		int err = op(s->srcs[i], pid);

		if (err == -EOPNOTSUPP)
			continue;
		if (err && (!ret || ret == -EOPNOTSUPP))
			source_error(s, s->srcs[i], err);
		if (!ret || ret == -EOPNOTSUPP)
			ret = err;
	}
	if (ret == -EOPNOTSUPP)
		snprintf(s->err, sizeof(s->err), "no source of this session follows processes");
	return ret;
}

int cw_session__remove_process(struct cw_session *s, int pid)
{
	return each_source(s, cw_source__remove_process, pid);
}

int cw_session__refresh_process(struct cw_session *s, int pid)
{
	return each_source(s, cw_source__refresh_process, pid);
}

int cw_session__finish(struct cw_session *s)
{
	if (s->finished)
		return 0;
	s->finished = 1;
	for (size_t i = 0; i < s->nr_srcs; i++)
		cw_source__stop(s->srcs[i]);
	return pump(s, 1);
}

const char *cw_session__error(const struct cw_session *s)
{
	return s->err;
}

const char *cw_session__notes(struct cw_session *s)
{
	size_t len = 0, off = 0;

	if (s->nr_srcs == 1)
		return cw_source__notes(s->srcs[0]);
	for (size_t i = 0; i < s->nr_srcs; i++)
		len += strlen(cw_source__name(s->srcs[i])) + 2 +
		       strlen(cw_source__notes(s->srcs[i])) + 2;
	free(s->notes);
	s->notes = malloc(len + 1);
	if (!s->notes)
		return "";
	s->notes[0] = '\0';
	for (size_t i = 0; i < s->nr_srcs; i++) {
		const char *n = cw_source__notes(s->srcs[i]);

		if (n[0])
			off += sprintf(s->notes + off, "%s%s: %s", off ? "; " : "",
				       cw_source__name(s->srcs[i]), n);
	}
	return s->notes;
}

void cw_session__stats(const struct cw_session *s, struct cw_source_stats *src,
		       struct cw_merge_stats *merge)
{
	if (src) {
		memset(src, 0, sizeof(*src));
		for (size_t i = 0; i < s->nr_srcs; i++) {
			struct cw_source_stats st;

			cw_source__stats(s->srcs[i], &st);
			src->records += st.records;
			src->bytes += st.bytes;
			src->ticks += st.ticks;
			for (int k = 0; k < CW_LOST_MAX; k++)
				src->lost[k] += st.lost[k];
		}
	}
	if (merge)
		cw_merge__stats(s->merge, merge);
}

size_t cw_session__nr_sources(const struct cw_session *s)
{
	return s->nr_srcs;
}

struct cw_source *cw_session__source(const struct cw_session *s, size_t i)
{
	return i < s->nr_srcs ? s->srcs[i] : NULL;
}

void cw_session__free(struct cw_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr_srcs; i++)
		cw_source__free(s->srcs[i]);
	free(s->srcs);
	cw_merge__free(s->merge);
	if (s->pidfd >= 0)
		close(s->pidfd);
	free(s->notes);
	free(s);
}
