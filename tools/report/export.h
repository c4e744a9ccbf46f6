/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The exports of the contention model for other tools (Documentation/usage.md, "export"):
 *  - folded stacks weighted by wait time (folded.c): flamegraph.pl, speedscope, inferno;
 *  - a gzipped pprof profile.proto with Go's mutex-profile sample types (pprof.c):
 *    go tool pprof, Pyroscope, Parca;
 *  - a Chrome/Perfetto trace-event JSON timeline of per-operation records (perfetto.c).
 *
 * The first two draw the same samples, one per (object, waiting call path): profile.c
 * makes them from the engine's contention model, with named frames and lock names, and
 * the writers only encode them (the unit tests give them synthetic samples).
 */
#ifndef __CW_EXPORT_H
#define __CW_EXPORT_H

#include <stdio.h>
#include "engine/contention.h"
#include "engine/engine.h"
#include "stack/stack.h"

struct cw_symbols;

/* One call path's waiting on one object. */
struct cw_xsample {
	__u32 pid;
	__u8 kind;			/* CW_LOCK_* */
	const char *lock_type;		/* kernel locks: "mutex", "rwsem_write"...; else NULL */
	__u64 addr;			/* the object */
	const char *lock;		/* its name, as the report names it */
	const struct cw_ustack *stack;	/* the waiters' named frames, innermost first;
					 * NULL or empty when the path is not known */
	__u64 count;			/* waits */
	__u64 wait_ns;			/* nanoseconds waited */
};

/* The samples of a run, and what a profile says about the run. */
struct cw_xprofile {
	struct cw_xsample *samples;	/* objects by wait, largest first; then paths by wait */
	size_t nr, cap;
	__u64 time_ns;			/* wall clock (ns since the epoch) of the run's start, 0 */
	__u64 duration_ns;		/* how long the run covers */
	const struct cw_engine *eng;	/* for the modules' ranges (pprof's mappings); NULL */
	struct cw_xstore *store;	/* what the samples point to (profile.c) */
};

/*
 * The samples of the model of eng: every object with waits (user space, then kernel
 * locks), each waiting call path's frames named by sym; frames without a function named
 * "module+0xOFFSET" (offset in the file). opts: the classifier (may be NULL). 0 or -errno.
 */
int cw_xprofile__new(const struct cw_engine *eng, struct cw_symbols *sym,
		     const struct cw_contention_opts *opts, struct cw_xprofile **out);
/* Accepts NULL. */
void cw_xprofile__free(struct cw_xprofile *p);

/* The leaf frame that names a sample's object: "[mutex hot_lock]", "[kernel rwsem_write
 * mmap_lock]". */
void cw_xsample__leaf(const struct cw_xsample *s, char *buf, size_t len);
/* A frame's name: its function, else "module+0xADDR" (the file's name, no directory),
 * else "0xADDR". */
const char *cw_xframe__name(const struct cw_frame *f, char *buf, size_t len);
/* The name of a kernel lock type from lock:contention_begin's LCB_F_* flags. */
const char *cw_klock_type__name(__u32 lcb_flags);

/* Folded stacks: "root;...;leaf;[kind lock] wait_ns" per sample with a wait. 0 or -EIO. */
int cw_export__folded(FILE *out, const struct cw_xprofile *p);

struct cw_pb;
/* The profile.proto message of p (not compressed). 0 or -ENOMEM. */
int cw_pprof__encode(const struct cw_xprofile *p, struct cw_pb *pb);
/* ... gzipped, as pprof files are. 0 or -errno. */
int cw_export__pprof(FILE *out, const struct cw_xprofile *p);

/*
 * The timeline (perfetto.c): a cw_record_fn fed every record of a recording, then
 * written. Timeline records are what `record --timeline` adds: scheduler switches and
 * wakeups, lock and futex operations.
 */
struct cw_timeline;
int cw_timeline__new(struct cw_timeline **out);
void cw_timeline__free(struct cw_timeline *tl);
int cw_timeline__feed(void *tl, const struct cw_hdr *rec);
/* Whether any scheduler switch came: without them there is no timeline to draw. */
int cw_timeline__has_sched(const struct cw_timeline *tl);
/*
 * The trace-event JSON. eng and sym name threads and locks (eng: thread names; sym may
 * be NULL: locks by address). 0 or -errno.
 */
int cw_export__perfetto(FILE *out, const struct cw_timeline *tl, const struct cw_engine *eng,
			struct cw_symbols *sym);

#endif /* __CW_EXPORT_H */
