/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User stacks: unwinding and symbolization (elfutils' libdwfl), and kernel symbols.
 *
 * A process is described by its executable mappings (struct cw_module_info: what
 * CW_EV_MODULE carries). A struct cw_unwinder holds one process's mappings and keeps
 * what libdwfl parsed of each file (CFI, symbol tables, DWARF) and every address it
 * resolved, so that unwinding the thousandth stack of a process costs no parsing.
 *
 * Two kinds of stacks:
 *  - a copy of the stack with the registers at the probe (CW_EV_USTACK_RAW):
 *    cw_unwinder__unwind() walks it with the modules' CFI (.eh_frame, .debug_frame), so
 *    code built without frame pointers unwinds, and needs no debug information;
 *  - return addresses a frame-pointer walk found (CW_EV_STACK): cw_unwinder__symbolize().
 * cw_unwind_process() unwinds every thread of a live process through ptrace, for
 * processes that hang before they were ever traced.
 *
 * Names: the symbol table for a frame's function (demangled), DWARF for source lines and
 * inlined functions; debug information is looked up by build-id and .gnu_debuglink.
 *
 * x86-64 only (the registers of struct cw_regs).
 */
#ifndef __CW_STACK_H
#define __CW_STACK_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

/* The path of the vDSO's mapping, which has no file: its image is this kernel's own. */
#define CW_VDSO_PATH "[vdso]"

/* One executable mapping of a process (what CW_EV_MODULE carries). */
struct cw_module_info {
	__u64 start, end, pgoff;	/* mapping range and file offset of start */
	__u64 inode;
	__u32 dev;			/* major << 20 | minor */
	__u8 build_id_len;		/* 0: none known (then no check is made) */
	__u8 build_id[20];
	int deleted;			/* file deleted/replaced since mapped */
	char path[PATH_MAX];		/* as the process sees it */
	/* where to open it from here: /proc/PID/root+path, /proc/PID/map_files/S-E for
	 * deleted files, or path (recordings) */
	char open_path[PATH_MAX + 64];
};

/*
 * Read pid's executable file mappings from /proc/PID/maps, with the build-ids of their
 * files. One entry per mapping range (a file mapped twice gives two), in address order.
 * A file that cannot be opened is listed with build_id_len 0. *mods is malloc'ed: free()
 * it. 0 or -errno (-ESRCH: no such process).
 */
int cw_modules__read(int pid, struct cw_module_info **mods, size_t *nr);
/* The same from f, pid's maps file opened already (-ESRCH: pid was reaped since). */
int cw_modules__parse(int pid, FILE *f, struct cw_module_info **mods, size_t *nr);

/*
 * Complete a mapping of pid known by its range, offset, inode, device and path (a
 * CW_EV_MMAP record, sent when it was mapped): where to open the file from here, whether
 * it is still the file mapped (same inode), and its build-id. The mapping itself may be
 * gone by now (a library unloaded again): the file is opened by path, through
 * /proc/PID/root while pid exists and as path itself after.
 */
void cw_module__complete(int pid, struct cw_module_info *m);

/* User registers at the probe (x86-64). */
struct cw_regs {
	__u64 ip, sp, bp;
};

struct cw_frame {
	__u64 addr;		/* the pc: for frames past the first, a return address */
	char *func;		/* demangled function name, NULL when unknown */
	__u64 func_offset;	/* addr - function start; 0 for inlined frames */
	const char *module;	/* path of the module (owned by the unwinder), NULL when the
				 * address is in none */
	char *file;		/* source file (as in DWARF), NULL without debug info */
	int line;		/* 0 when unknown */
	int inlined;		/* a function inlined at this pc into the next frame */
};

enum cw_stack_end {
	CW_STACK_END_COMPLETE,	/* reached the thread's start (CFI says it has no caller) */
	CW_STACK_END_TRUNCATED,	/* hit a limit: the captured copy ended, or max_frames */
	CW_STACK_END_LOST,	/* unwinding failed (no CFI for a pc, unmapped pc, bad memory) */
};

struct cw_ustack {
	struct cw_frame *frames;	/* innermost first; inlined frames before their caller */
	size_t nr;
	enum cw_stack_end end;
	char why[512];		/* for TRUNCATED/LOST: one line saying where and why */
};

/* Free what a stack owns and empty it. Accepts NULL and an emptied stack. */
void cw_ustack__fini(struct cw_ustack *s);

struct cw_unwinder_opts {
	/* NULL: elfutils' default (":.debug:/usr/lib/debug"), which covers Debian's -dbgsym
	 * /usr/lib/debug/.build-id layout and .gnu_debuglink */
	const char *debuginfo_path;
	int max_frames;		/* physical frames at most (inlined ones come on top); 0: 128 */
};

/*
 * One process's module map, with per-module caches reused across calls. One thread at a
 * time: libdwfl's state is not shared safely.
 */
struct cw_unwinder;

/* opts may be NULL. 0 or -errno. */
int cw_unwinder__new(const struct cw_unwinder_opts *opts, struct cw_unwinder **out);

/*
 * Add one mapping. A file that cannot be opened, is no ELF file, or whose build-id is not
 * m->build_id is remembered as missing: frames in it name the module and no function, and
 * unwinding stops there (LOST). A mapping overlapping earlier ones replaces them (the
 * process mapped something else there). 0, or -EINVAL (empty range), -ENOMEM.
 */
int cw_unwinder__add_module(struct cw_unwinder *u, const struct cw_module_info *m);

/* Why the mapping containing addr is missing (one line), or NULL when it is not. */
const char *cw_unwinder__missing(struct cw_unwinder *u, __u64 addr);

/*
 * Name JIT-compiled code from the runtime's perf map at path (/tmp/perf-PID.map, as perf
 * reads it: "START SIZE name" lines in hex; a later line wins over an earlier one at the
 * same code). A frame in such code gets its function from the map and path for its
 * module, and unwinding goes on past it by frame pointers. Load it before unwinding.
 * 0, or -errno (-ENOENT: no such map).
 */
int cw_unwinder__load_perf_map(struct cw_unwinder *u, const char *path);

/*
 * Unwind a captured stack: regs at the probe and the copy of [regs->sp, regs->sp + len)
 * with DWARF CFI, then symbolize every frame, inlined functions expanded. *out is
 * overwritten (cw_ustack__fini() it after use). Where the walk ended is a result, not
 * an error: 0 (see out->end), or -EINVAL, -ENOMEM.
 */
int cw_unwinder__unwind(struct cw_unwinder *u, const struct cw_regs *regs, const void *stack,
			size_t len, struct cw_ustack *out);

/*
 * Symbolize a frame-pointer stack (ips[0] = pc of the probe, the rest return addresses).
 * out->end is COMPLETE when the last address is in an outermost function (CFI says it
 * has no caller), else LOST: the walk that found them stopped early. A source that knows
 * the walk hit its depth limit (CW_STACK_TRUNCATED) says so itself. 0 or -errno.
 */
int cw_unwinder__symbolize(struct cw_unwinder *u, const __u64 *ips, size_t nr,
			   struct cw_ustack *out);

/*
 * The variable of a module that covers addr, from its symbol tables: "name", or
 * "name+0xOFF" inside an array or a structure; C++ names demangled. 0, -ENOENT when no
 * variable covers it (heap, stack, or no symbols), -ENOMEM.
 */
int cw_unwinder__data_symbol(struct cw_unwinder *u, __u64 addr, char *buf, size_t len);

/*
 * Whether addr lies on the stack a captured copy was taken from (in the copy, or in a
 * frame the walk of it found: between a frame's stack pointer and its CFA), and the local
 * variable of that frame's function that holds it, from DWARF (DW_OP_fbreg locations):
 * "mx1 in main", "w.lock in worker". 0 with the name in buf; -ENOENT: on this stack, but
 * no variable is known there; -ERANGE: not on this stack; -EINVAL, -ENOMEM, -ENOSPC.
 */
int cw_unwinder__stack_variable(struct cw_unwinder *u, const struct cw_regs *regs,
				const void *stack, size_t len, __u64 addr, char *buf, size_t blen);

/* Accepts NULL. Stacks it produced keep their strings but lose their module paths. */
void cw_unwinder__free(struct cw_unwinder *u);

/*
 * Threads that were never traced (a hung process): attach to each thread in turn with
 * ptrace (dwfl_linux_proc_attach), unwind it, detach it, then symbolize and call fn
 * with its tid and stack (valid during the call). A non-zero return of fn stops and is
 * returned. 0 or -errno: -EPERM when ptrace is not permitted, -ESRCH when pid is gone.
 */
int cw_unwind_process(int pid, const struct cw_unwinder_opts *opts,
		      int (*fn)(void *ctx, int tid, const struct cw_ustack *stack), void *ctx);

/* Kernel symbols from /proc/kallsyms, for kernel stacks (CW_STACK_KERNEL ips). */
struct cw_ksyms;

/* 0, or -errno: -EACCES when kallsyms hides the addresses (kptr_restrict, no privilege). */
int cw_ksyms__load(struct cw_ksyms **out);
/* Load from another file in kallsyms format (a recording's copy). */
int cw_ksyms__load_file(const char *path, struct cw_ksyms **out);
/*
 * Name of the function containing addr and the offset into it; -ENOENT when none (below
 * the first symbol, or in data). *module is the module's name, NULL for the kernel
 * image; module may be NULL.
 */
int cw_ksyms__resolve(const struct cw_ksyms *ks, __u64 addr, const char **name, __u64 *offset);
int cw_ksyms__resolve_module(const struct cw_ksyms *ks, __u64 addr, const char **name,
			     __u64 *offset, const char **module);
/* Accepts NULL. */
void cw_ksyms__free(struct cw_ksyms *ks);

/*
 * Format one frame for reports:
 *   leaf+0x12 (wl_stack.c:40) [/path/wl_stack]
 *   step inlined (stackfix.c:111) [/path/stackfix]
 *   0x7f0012345678 [/usr/lib/x86_64-linux-gnu/libc.so.6]
 *   0x10 [?]
 * The source file is shown by its last component. 0, or -ENOSPC when it was cut to fit
 * (buf is always terminated when len > 0).
 */
int cw_frame__format(const struct cw_frame *f, char *buf, size_t len);

#endif /* __CW_STACK_H */
