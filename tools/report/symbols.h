/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stacks for presentation: the engine keeps what the stream sent (frames, raw copies,
 * the module map); this turns them into named frames with tools/lib/stack.
 */
#ifndef __CW_SYMBOLS_H
#define __CW_SYMBOLS_H

#include "engine/engine.h"
#include "stack/stack.h"

struct cw_symbols;

struct cw_symbols_opts {
	const char *debuginfo_path;	/* NULL: elfutils' default */
	/* A process still alive whose files are reached through /proc/PID/root (its mount
	 * namespace) and /proc/PID/map_files (deleted files); 0, or where that fails, the
	 * paths the stream recorded are opened as they are. */
	int live_pid;
};

int cw_symbols__new(const struct cw_engine *eng, const struct cw_symbols_opts *opts,
		    struct cw_symbols **out);
void cw_symbols__free(struct cw_symbols *sym);

/*
 * Named frames of stack: DWARF-unwound from its raw copy when it has one, else its
 * frames symbolized. Kernel stacks lose their leading frames inside the tracing code
 * (the BPF program and its trampoline). 0 or -errno; out is cw_ustack__fini'ed by the
 * caller either way.
 */
int cw_symbols__resolve(struct cw_symbols *sym, const struct cw_stack *stack,
			struct cw_ustack *out);

/*
 * Where a call was made from, for people: "func (file.c:12)", else "func+0x1c", else
 * "0xADDR [module]". ip is a return address (the call is the instruction before it).
 * buf always holds something; 0 or -errno when nothing could be resolved.
 */
int cw_symbols__site(struct cw_symbols *sym, __u32 pid, __u64 ip, char *buf, size_t len);

/* How a lock got its name (cw_symbols__lock_name's return). */
enum {
	CW_LOCK_NAMED_SYMBOL = 1,	/* a variable (or inside one): global, static, or a
					 * local one on a thread's stack ("mx1 in main") */
	CW_LOCK_NAMED_INIT,		/* no variable: where it was initialised */
	CW_LOCK_NAMED_SITE,		/* ... where it was first acquired */
	CW_LOCK_NAMED_ADDR,		/* nothing known but its address */
};

/*
 * A lock's name: the variable it is when a mapped object's symbol tables have it; else,
 * on a thread's stack (a stack copy of the process covers it), the local variable that
 * holds it when DWARF has the frame's variables, "mx1 in main"; else "heap lock
 * initialised at SITE" or "stack lock initialised at SITE", else "[stack ]lock first
 * acquired at SITE" (the engine's first acquisition, or site_ip when the engine saw
 * none). Returns CW_LOCK_NAMED_*.
 */
int cw_symbols__lock_name(struct cw_symbols *sym, __u32 pid, __u64 addr, __u64 site_ip,
			  char *buf, size_t len);

/*
 * The same for an object of the contention model of kind CW_LOCK_* (0: a lock the
 * uprobes saw): condition variables, semaphores, barriers, threads and futex words are
 * "cond first waited on at SITE". Where the site is in a module without symbols (a
 * stripped server), the name is the module's file name and the site's offset in it:
 * "memcached+0x1bca1".
 */
int cw_symbols__object_name(struct cw_symbols *sym, __u32 pid, __u64 addr, unsigned int kind,
			    __u64 site_ip, char *buf, size_t len);

/* A kernel lock's name: "mmap_lock" when the tracer recognised it, its symbol, or
 * "kernel lock 0xADDR". Returns CW_LOCK_NAMED_*. */
int cw_symbols__klock_name(struct cw_symbols *sym, __u64 addr, int mmap_lock, char *buf,
			   size_t len);

/* "memcached+0x1bca1": the basename of the module of pid that maps ip and ip's offset in
 * its file. 0, -ENOENT when no module maps ip, -ENOSPC when it does not fit in len. */
int cw_symbols__module_offset(struct cw_symbols *sym, __u32 pid, __u64 ip, char *buf, size_t len);

/* The model the names come from. */
const struct cw_engine *cw_symbols__engine(const struct cw_symbols *sym);

#endif /* __CW_SYMBOLS_H */
