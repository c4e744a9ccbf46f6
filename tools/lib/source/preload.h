/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-process library's source (preload.c): what `run` needs of it besides the
 * struct cw_source operations.
 */
#ifndef __CW_SOURCE_PRELOAD_H
#define __CW_SOURCE_PRELOAD_H

#include "source/source.h"

/* Whether the library is where the source would look for it (the default backend of run). */
int cw_preload_source__available(void);

/*
 * Put the library, the source's socket and its options in this process's environment,
 * for a command started now to inherit (the library after what LD_PRELOAD held: a
 * sanitizer's runtime must stay first; AddressSanitizer is told not to mind it
 * otherwise, ASAN_OPTIONS verify_asan_link_order=0). 0 or -errno.
 */
int cw_preload_source__setenv(struct cw_source *src);
/* Take them out again; ld_preload: what LD_PRELOAD was before (NULL: unset). */
int cw_preload_source__unsetenv(struct cw_source *src, const char *ld_preload);
/*
 * Whether the library will start in process pid, at its exec (parent 0) or its fork from
 * parent, which happened at since_ns (0: it is held there, nothing of its new image ran):
 * the loader honours LD_PRELOAD only for a dynamically linked program, outside a secure
 * execution, when its environment still names the library; a forked child is as its
 * parent was, and a child sharing its parent's memory (vfork, a raw clone) says no hello
 * of its own. 1, or 0 with why ("is a static binary"): trace its lock calls through
 * uprobes instead (cw_bpf_source__trace_lock_calls); -errno when pid cannot be read.
 * A process judged so is not named by cw_preload_source__silent(). After an exec, the
 * regions of the images before it are read to their end and let go.
 */
int cw_preload_source__loads_in(struct cw_source *src, int pid, int parent, __u64 since_ns,
				char *why, size_t len);
/*
 * fn(ctx, pid, tid) is called when thread tid of process pid, recorded by the library,
 * is about to exec a program the library will not start in: trace the process through
 * ptrace from that exec (cw_launch__seize). The thread waits until fn returned.
 */
void cw_preload_source__on_exec(struct cw_source *src, int (*fn)(void *ctx, int pid, int tid),
				void *ctx);
/*
 * fn(ctx, pid, tls_slot) is called when the library starts in process pid (its hello: a
 * new image, or a forked child): where its threads keep the address of their slot
 * (cw_preload_region.tls_slot), for cw_bpf_source__library_waits().
 */
void cw_preload_source__on_hello(struct cw_source *src,
				 void (*fn)(void *ctx, int pid, __s64 tls_slot), void *ctx);
/*
 * Processes the session follows whose program, exec'd, sent no hello (the library did
 * not start in them: a static binary, a cleared environment, a secure execution): how
 * many, and the first max of them in pids. A forked child that never ran its own code
 * (killed at once, as strace kills the child it probes ptrace with) is not one.
 */
size_t cw_preload_source__silent(struct cw_source *src, int *pids, size_t max);

#endif /* __CW_SOURCE_PRELOAD_H */
