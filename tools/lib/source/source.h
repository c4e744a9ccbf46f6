/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A source produces event records (include/concwatch/events.h): the BPF programs, the
 * kernel module, a recording. Everything downstream sees only records, so the engine
 * cannot tell the sources apart.
 *
 *   cw_source__start()   attach to the target; after it, records flow
 *   cw_source__fd()      pollable: readable when records wait (or -1: call drain on a timer)
 *   cw_source__drain()   hand every waiting record to fn, plus the source's own tick and
 *                        lost records; never blocks
 *   cw_source__stop()    detach; records already produced can still be drained
 *   cw_source__stats()   what went through and what was lost
 */
#ifndef __CW_SOURCE_H
#define __CW_SOURCE_H

#include <stddef.h>
#include "engine/record.h"

struct cw_source_stats {
	__u64 records;		/* handed to the callback, ticks and lost records included */
	__u64 bytes;
	__u64 ticks;
	__u64 lost[CW_LOST_MAX]; /* by CW_LOST_* */
};

struct cw_source;

struct cw_source_ops {
	const char *name;
	int (*start)(struct cw_source *src);
	int (*fd)(struct cw_source *src);
	int (*drain)(struct cw_source *src, cw_record_fn fn, void *ctx);
	int (*stop)(struct cw_source *src);
	void (*stats)(struct cw_source *src, struct cw_source_stats *st);
	void (*free)(struct cw_source *src);
};

struct cw_source {
	const struct cw_source_ops *ops;
	char err[256];		/* why the last call failed, one line for the user */
	char notes[512];	/* what the user may want to know with -v (functions not probed) */
};

/* CLOCK_MONOTONIC in ns: the clock of every record's ts_ns (source/emit.c). */
__u64 cw_now_ns(void);

static inline int cw_source__start(struct cw_source *src)
{
	return src->ops->start(src);
}

static inline int cw_source__fd(struct cw_source *src)
{
	return src->ops->fd(src);
}

/* Returns the number of records handed on, or -errno, or fn's non-zero return. */
static inline int cw_source__drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	return src->ops->drain(src, fn, ctx);
}

static inline int cw_source__stop(struct cw_source *src)
{
	return src->ops->stop(src);
}

static inline void cw_source__stats(struct cw_source *src, struct cw_source_stats *st)
{
	src->ops->stats(src, st);
}

static inline const char *cw_source__error(const struct cw_source *src)
{
	return src->err;
}

static inline void cw_source__free(struct cw_source *src)
{
	if (src)
		src->ops->free(src);
}

/* The BPF source: uprobes on the target's libc, streamed through a BPF ring buffer. */
struct cw_bpf_opts {
	int pid;			/* process to trace */
	size_t ringbuf_bytes;		/* ring buffer size, power of two; 0 = default (4 MiB) */
	__u64 tick_ns;			/* tick period; 0 = default (100 ms) */
	__u32 max_threads;		/* threads tracked at once; 0 = default (16384) */
	__s32 stack_bytes;		/* user stack copied for DWARF unwinding, multiple of 8,
					 * at most 24576; 0 = default (16384), -1 = none */
	int verbose;			/* print libbpf's debug output */
	int raw_events;			/* a record per lock operation, not statistics (tests) */
	int track_free;			/* free() ends the history of the locks inside the block */
	int defer_pid;			/* start() does not trace pid: the caller adds it
					 * (cw_bpf_source__add_process), and may fail to */
};

int cw_bpf_source__new(const struct cw_bpf_opts *opts, struct cw_source **out);

/*
 * After start: trace one more process (a child of a traced command, or the new image
 * after an exec: remove it first), or stop tracing one (exited, or about to be
 * attached again). 0 or -errno; add says why in the source's error.
 */
int cw_bpf_source__add_process(struct cw_source *src, int pid);
int cw_bpf_source__remove_process(struct cw_source *src, int pid);
/*
 * Send what pid maps now that was not sent yet (a process about to exit: its stacks may
 * only be read once it is gone). 0 or -errno.
 */
int cw_bpf_source__refresh_modules(struct cw_source *src, int pid);

#endif /* __CW_SOURCE_H */
