/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A source produces event records (include/concwatch/events.h): the BPF programs, the
 * kernel module, the in-process library, a recording. Everything downstream sees only
 * records, so the engine cannot tell the sources apart; a session (session.h) runs one
 * or several and knows nothing of what is behind these operations.
 *
 *   cw_source__open()    the factory: a source of the backend the options name
 *   cw_source__start()   attach to the target; after it, records flow
 *   cw_source__fd()      pollable: readable when records wait (or -1: call drain on a timer)
 *   cw_source__drain()   hand every waiting record to fn, plus the source's own tick and
 *                        lost records; never blocks
 *   cw_source__stop()    detach; records already produced can still be drained
 *   cw_source__stats()   what went through and what was lost
 *   cw_source__add_process(), __remove_process(), __refresh_process()
 *                        follow processes as they come and go (optional: a source
 *                        without them answers -EOPNOTSUPP)
 */
#ifndef __CW_SOURCE_H
#define __CW_SOURCE_H

#include <errno.h>
#include <stddef.h>
#include "common/time.h"
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
	/* optional, NULL when the source has no processes to follow (a recording) */
	int (*add_process)(struct cw_source *src, int pid);
	int (*remove_process)(struct cw_source *src, int pid);
	int (*refresh_process)(struct cw_source *src, int pid);
	void (*free)(struct cw_source *src);
};

struct cw_source {
	const struct cw_source_ops *ops;
	int ended;		/* nothing more will come: a recording read to its end */
	int ordered;		/* its records come in the order to hand them on: a recording
				 * holds the reorder window's output already */
	char err[256];		/* why the last call failed, one line for the user */
	char notes[512];	/* what the user may want to know with -v (functions not probed) */
	char fallback[256];	/* cw_source__open() chose this backend because the default
				 * cannot run here: why, one line for the user; else empty */
};

/* What a source is asked for; each backend takes what applies to it. */
struct cw_source_opts {
	const char *backend;		/* "bpf" (NULL: the same), "kmod", "preload" */
	int pid;			/* process to trace from start(); 0: none, the caller
					 * adds processes (cw_source__add_process) */
	size_t ringbuf_bytes;		/* buffer between the kernel and us, power of two;
					 * 0 = default (4 MiB) */
	__u64 tick_ns;			/* tick period; 0 = default (100 ms) */
	__u32 max_threads;		/* threads tracked at once; 0 = default (16384) */
	__s32 stack_bytes;		/* user stack copied for DWARF unwinding, multiple of 8,
					 * at most 24576; 0 = default (16384), -1 = none */
	int verbose;			/* print the backend's own debug output (libbpf's) */
	int raw_events;			/* a record per lock operation, not statistics (tests) */
	int track_free;			/* free() ends the history of the locks inside the block */
	int no_uprobes;			/* futex, scheduler and kernel-lock tracing only: no
					 * uprobe at all, so no trap on the uncontended path
					 * (and no lock-order dependencies) */
	int lock_calls_elsewhere;	/* bpf: another source (the in-process library) records
					 * the lock calls of the processes added: no uprobe for
					 * a process unless asked (cw_bpf_source__trace_lock_calls),
					 * futex, scheduler and kernel-lock tracing for all */
	int timeline;			/* record --timeline: a record per switch and wakeup, and
					 * per lock, futex and kernel-lock operation (raw_events) */
	__u64 stall_threshold_ns;	/* --stall-threshold: an event loop's iteration this
					 * long is a stall; 0: the default (100 ms) */
	__u64 block_threshold_ns;	/* --block-threshold: an event loop's thread blocked
					 * this long in an iteration is sent; 0: the default
					 * (10 ms) */
	__u64 pi_threshold_ns;		/* --pi-threshold: priority inversions shorter than this
					 * are not sent; 0 = default (1 ms) */
	double max_overhead_pct;	/* bpf, --max-overhead: keep the lock uprobes' cost under
					 * this share of the targets' CPU time, detaching and
					 * attaching them (engine/governor.h); the ticks while
					 * detached say CW_F_NO_UPROBES; 0: no governor */
	int measure_cost;		/* send what tracing costs the target (CW_EV_COST) each
					 * tick: probe hits by trap kind, their per-hit cost
					 * calibrated at start (source/cost.h), and the BPF
					 * programs' run time, the kernel's statistics on
					 * while the source runs */
	int follow_blocked;		/* procscan beside a tracing source: look again, every
					 * tick, at the threads found blocked, send
					 * CW_OFFCPU_NONE for each that left its wait, end
					 * when none is left; no ticks of its own */
};

/*
 * A new source of the backend opts names, not started. Options a backend cannot honour,
 * and a backend not available here, are refused now, before anything runs: err holds one
 * line for the user and -errno is returned (-EOPNOTSUPP: the backend is not available).
 * No backend named: bpf, or kmod where BPF cannot run here (cw_bpf_source__available())
 * and the module's device exists; the source's fallback then says so.
 */
int cw_source__open(const struct cw_source_opts *opts, struct cw_source **out, char *err,
		    size_t errlen);

/* The backends, for cw_source__open() only. */
int cw_bpf_source__open(const struct cw_source_opts *opts, struct cw_source **out, char *err,
			size_t errlen);
/*
 * Whether BPF can run here at all: the kernel's BTF, and a bpf() system call this
 * process may make. 0, or -EOPNOTSUPP with why (what is missing, a few words);
 * cw_bpf_source__open() answers -EOPNOTSUPP exactly when this does.
 */
int cw_bpf_source__available(char *why, size_t len);
/*
 * With opts->lock_calls_elsewhere: trace process pid's lock calls too, through uprobes (a
 * process the in-process library cannot start in). pid was added already; it should be
 * held (stopped) while its probes are attached. 0 or -errno with the source's error set.
 */
int cw_bpf_source__trace_lock_calls(struct cw_source *src, int pid);
/*
 * With opts->lock_calls_elsewhere: process pid's lock calls are recorded by the
 * in-process library, whose threads keep the address of their slot at tls_slot from their
 * thread pointer (cw_preload_region.tls_slot; 0: not known). The scheduler programs read
 * a sleeping thread's lock wait there: its wait-for edge and priority inversions, as
 * for a probed acquire. pid may be added after (the library's hello can come first); its
 * removal, or its lock calls traced through uprobes, forget it. 0 or -errno with the
 * source's error set; a source other than bpf answers -EOPNOTSUPP.
 */
int cw_bpf_source__library_waits(struct cw_source *src, int pid, __s64 tls_slot);
/*
 * "kmod": the concwatch kernel module's records, read from /dev/concwatch (its contract:
 * include/concwatch/kmod.h). -ENODEV when the module is not loaded.
 * tools/lib/source/kmod.c.
 */
int cw_kmod_source__open(const struct cw_source_opts *opts, struct cw_source **out, char *err,
			 size_t errlen);
/*
 * "procscan": one look at process opts->pid without tracing it (it may be hung since
 * before concwatch started): its threads (CW_EV_COMM), what each is blocked on, the
 * holder the lock's memory names (CW_EV_BLOCKED, CW_F_SYNTHETIC), each blocked thread's
 * user stack (CW_EV_USTACK_RAW with the modules it needs), then a tick; ended after
 * that. With opts->follow_blocked it goes on until every thread it found blocked has
 * left that wait. tools/lib/source/procscan.c.
 */
int cw_procscan_source__open(const struct cw_source_opts *opts, struct cw_source **out,
			     char *err, size_t errlen);


/*
 * "preload": what the in-process library (tools/preload/) records in the processes of
 * `run` (source/preload.h: the environment the command needs). -EOPNOTSUPP when the
 * library is not found. tools/lib/source/preload.c.
 */
int cw_preload_source__open(const struct cw_source_opts *opts, struct cw_source **out,
			    char *err, size_t errlen);

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

/*
 * After start: trace one more process (a child of a traced command, or the new image
 * after an exec: remove it first), or stop tracing one (exited, or about to be
 * attached again). 0 or -errno; the source's error says why.
 */
static inline int cw_source__add_process(struct cw_source *src, int pid)
{
	return src->ops->add_process ? src->ops->add_process(src, pid) : -EOPNOTSUPP;
}

static inline int cw_source__remove_process(struct cw_source *src, int pid)
{
	return src->ops->remove_process ? src->ops->remove_process(src, pid) : -EOPNOTSUPP;
}

/*
 * Send what pid maps now that was not sent yet (a process about to exit: its stacks may
 * only be read once it is gone). 0 or -errno.
 */
static inline int cw_source__refresh_process(struct cw_source *src, int pid)
{
	return src->ops->refresh_process ? src->ops->refresh_process(src, pid) : -EOPNOTSUPP;
}

static inline const char *cw_source__name(const struct cw_source *src)
{
	return src->ops->name;
}

static inline const char *cw_source__error(const struct cw_source *src)
{
	return src->err;
}

static inline const char *cw_source__notes(const struct cw_source *src)
{
	return src->notes;
}

static inline void cw_source__free(struct cw_source *src)
{
	if (src)
		src->ops->free(src);
}

#endif /* __CW_SOURCE_H */
