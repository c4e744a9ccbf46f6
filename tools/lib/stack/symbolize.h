/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The symbolization layer of the stack library (symbolize.c), over the module map: names
 * for the pcs of a walk (struct cw_walk, read as data), for variables, and for the local
 * variables of a frame. Each lookup address is resolved once and kept until the module
 * map changes.
 */
#ifndef __CW_STACK_SYMBOLIZE_H
#define __CW_STACK_SYMBOLIZE_H

#include "walk.h"

/* A function symbol of a module's symbol table, for lookups and choosing among aliases. */
struct cw_sym {
	__u64 addr, size;	/* run-time address */
	const char *name;	/* libdwfl's string, with any @VERSION */
	int rank;		/* GLOBAL 0, WEAK 1, LOCAL 2 */
};

/* The function symbols of one libdwfl module, sorted by address. */
struct cw_symidx {
	Dwfl_Module *dm;
	struct cw_sym *syms;
	size_t nr;
};

/* What one lookup address resolves to: one line per function, inlined ones first. */
struct cw_symline {
	char *func;
	__u64 func_start;	/* of the physical function; 0 when func is NULL */
	char *file;
	int line;
	int inlined;
};

struct cw_syment {
	__u64 key;		/* the lookup address; 0: free slot */
	const char *module;
	size_t nr;
	struct cw_symline *lines;
};

struct cw_symbolizer {
	struct cw_modmap *mm;
	unsigned long gen;	/* the module map's generation the caches below are of */

	/* per libdwfl module, built on first use */
	struct cw_symidx *idx;
	size_t nr_idx, cap_idx;

	/* resolved lookup addresses, open addressing */
	struct cw_syment *cache;
	size_t cache_cap, cache_used;
};

void cw_symbolizer__init(struct cw_symbolizer *s, struct cw_modmap *mm);
void cw_symbolizer__fini(struct cw_symbolizer *s);

/* Named frames of walk into out (overwritten). 0 or -ENOMEM. */
int cw_symbolizer__stack(struct cw_symbolizer *s, const struct cw_walk *walk,
			 struct cw_ustack *out);

/* See cw_unwinder__data_symbol(). */
int cw_symbolizer__data_symbol(struct cw_symbolizer *s, __u64 addr, char *buf, size_t len);

/*
 * The local variable of the function running at lookup (a walk pc's lookup address) that
 * covers addr, in the frame whose CFA is cfa: "mx1 in main", "s.lock in worker" (DWARF's
 * DW_OP_fbreg locations, the frame base being the CFA). 0, -ENOENT when none does (or no
 * DWARF), -ENOMEM.
 */
int cw_symbolizer__frame_variable(struct cw_symbolizer *s, __u64 lookup, __u64 cfa, __u64 addr,
				  char *buf, size_t len);

#endif /* __CW_STACK_SYMBOLIZE_H */
