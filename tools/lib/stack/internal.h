/* SPDX-License-Identifier: GPL-2.0 */
/* Inside the stack library: the unwinder's state, shared by its source files. */
#ifndef __CW_STACK_INTERNAL_H
#define __CW_STACK_INTERNAL_H

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

/* Why a walk ended: the reason behind cw_ustack.end, worded once the frames have names. */
enum cw_walk_reason {
	CW_WALK_OUTERMOST,	/* CFI says the last frame has no caller */
	CW_WALK_MAX_FRAMES,
	CW_WALK_COPY_ENDS,	/* a return address lies past the captured copy */
	CW_WALK_UNMAPPED,	/* a pc in no executable mapping */
	CW_WALK_MISSING,	/* a pc in a module whose file is missing */
	CW_WALK_NO_CFI,		/* a pc its module has no CFI for */
	CW_WALK_BAD_READ,	/* a read below the copy (no stack there) */
	CW_WALK_NO_CALLER,	/* no caller and CFI does not say the stack ends */
	CW_WALK_ERROR,		/* libdwfl failed: msg */
	CW_WALK_NOTHING,	/* no frame at all */
};

struct cw_walkpc {
	__u64 pc;
	bool activation;	/* the pc is where execution is, not a return address */
};

struct cw_unwinder {
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;	/* libdwfl reads it through callbacks.debuginfo_path */
	int max_frames;

	struct cw_umod *mods;
	size_t nr_mods, cap_mods;
	char **strs;		/* interned strings: module paths, reasons */
	size_t nr_strs, cap_strs;
	bool reporting;		/* inside dwfl_report_begin_add() .. dwfl_report_end() */
	bool rebuild;		/* a module was replaced: libdwfl must drop what is gone */

	/* unwinding captured stacks: dwfl_attach_state() with our callbacks */
	bool attached;
	Elf *arch_elf;		/* tells libdwfl the machine even before any module */
	Elf64_Ehdr arch_ehdr;	/* what arch_elf reads */
	const struct cw_regs *regs;
	const unsigned char *stack;
	size_t len;
	bool read_past_end, read_below;
	__u64 bad_read;

	/* the pcs of the current walk */
	struct cw_walkpc *pcs;
	size_t nr_pcs, cap_pcs;
	enum cw_walk_reason reason;
	__u64 reason_addr;
	char reason_msg[80];

	/* per libdwfl module, built on first use */
	struct cw_symidx *idx;
	size_t nr_idx, cap_idx;

	/* resolved lookup addresses, open addressing */
	struct cw_syment *cache;
	size_t cache_cap, cache_used;
};

/* unwinder.c */
struct cw_umod *cw_unwinder__find(struct cw_unwinder *u, __u64 addr);
int cw_unwinder__sync(struct cw_unwinder *u);
const char *cw_unwinder__intern(struct cw_unwinder *u, const char *s);
void cw_walk__begin(struct cw_unwinder *u);
int cw_walk__frame(Dwfl_Frame *state, void *arg);
void cw_walk__end(struct cw_unwinder *u, int rc, const char *errmsg);

/* symbolize.c */
int cw_symbolize__walk(struct cw_unwinder *u, struct cw_ustack *out);
void cw_symcache__clear(struct cw_unwinder *u);
void cw_symidx__drop_stale(struct cw_unwinder *u);

#endif /* __CW_STACK_INTERNAL_H */
