/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The bottom layer of the stack library: one process's executable mappings, their files
 * opened, checked and reported to libdwfl. Unwinding (walk.h) and symbolization
 * (symbolize.h) both call down into it, never into each other; the public unwinder
 * (unwinder.c) and the ptrace walk (proc.c) sit on top of all three.
 *
 *   unwinder.c, proc.c      public API: a walk, then names for it
 *      |            \
 *   unwind.c      symbolize.c   (symbolize.c reads a walk's result, struct cw_walk,
 *      |            /            as data: it never calls the unwinder)
 *   modules.c               the module map, and /proc/PID/maps
 */
#ifndef __CW_STACK_MODMAP_H
#define __CW_STACK_MODMAP_H

#include <stdbool.h>
#include <elfutils/libdwfl.h>

#include "stack.h"

/* One executable mapping, in a table sorted by start without overlaps. */
struct cw_umod {
	__u64 start, end, pgoff;
	__u64 inode;
	__u64 bias;		/* runtime address - link-time address */
	const char *path;	/* interned: frames point at it */
	char *open_path;
	Dwfl_Module *dm;	/* NULL: the file is missing */
	const char *missing;	/* why, when dm is NULL (interned) */
};

/*
 * A function of JIT-compiled code, from the runtime's perf map (perf's convention:
 * /tmp/perf-PID.map, a line "START SIZE name" per function, in hex, written by Node.js
 * with --perf-basic-prof or a JVM perf map agent). Code in anonymous memory, which no
 * module covers: named from here, and unwound by its frame pointers (V8 keeps them).
 */
struct cw_jitsym {
	__u64 start, end;
	char *name;
	size_t line;		/* its line in the map: a later one wins (code moved) */
};

struct cw_modmap {
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;	/* libdwfl reads it through callbacks.debuginfo_path */

	struct cw_umod *mods;
	size_t nr_mods, cap_mods;
	char **strs;		/* interned strings: module paths, reasons */
	size_t nr_strs, cap_strs;
	bool reporting;		/* inside dwfl_report_begin_add() .. dwfl_report_end() */
	bool rebuild;		/* a module was replaced: libdwfl must drop what is gone */
	/*
	 * Changes with every mapping added: what an upper layer derived from the map (names
	 * of addresses, symbol indexes) is stale when the generation it was made at differs.
	 */
	unsigned long gen;
	struct cw_jitsym *jit;	/* the perf map's functions, by start */
	size_t nr_jit, cap_jit;
	const char *jit_path;	/* the perf map loaded (interned), NULL: none */
};

/* 0 or -ENOMEM. debuginfo_path NULL: elfutils' default. */
int cw_modmap__init(struct cw_modmap *mm, const char *debuginfo_path);
/* Accepts a zeroed map. */
void cw_modmap__fini(struct cw_modmap *mm);
/* See cw_unwinder__add_module(). */
int cw_modmap__add(struct cw_modmap *mm, const struct cw_module_info *m);
/* Finish what add reported, before libdwfl is asked about addresses. 0 or -ENOMEM. */
int cw_modmap__sync(struct cw_modmap *mm);
/* The mapping containing addr, NULL when none. */
struct cw_umod *cw_modmap__find(const struct cw_modmap *mm, __u64 addr);
/* See cw_unwinder__load_perf_map(). */
int cw_modmap__load_jit(struct cw_modmap *mm, const char *path);
/* The JIT-compiled function containing addr, NULL when none (or no map). */
const struct cw_jitsym *cw_modmap__find_jit(const struct cw_modmap *mm, __u64 addr);
/* Why the mapping containing addr cannot be used (one line), NULL when it can or none. */
const char *cw_modmap__missing(const struct cw_modmap *mm, __u64 addr);
/* s kept for the map's lifetime, one copy per distinct string; NULL: no memory. */
const char *cw_modmap__intern(struct cw_modmap *mm, const char *s);

/*
 * Open a file named by a recording or a process for reading, as root may: only a regular
 * file, never blocking on a FIFO or opening a device. A fd, or -errno: -EINVAL (with
 * *what "is not a regular file"), or open(2)'s.
 */
int cw_open_regular(const char *path);

#endif /* __CW_STACK_MODMAP_H */
