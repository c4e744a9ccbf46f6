/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a process has the lock functions, for every source that puts uprobes on them
 * (the BPF source's bpf/attach.c, the kernel module's kmod.c, bench/floor.c), so that
 * they choose the same files and say the same of what is missing.
 *
 * The candidates are the objects /proc/PID/maps lists, and the libc a process stopped at
 * its exec will map (cw_target__libs_to_come()), in the dynamic linker's lookup order:
 * the executable (a static build), libpthread (glibc < 2.34), libc; each reached through
 * /proc/PID/root (host_path), so that processes in containers work. A function is
 * probed in the first of them that defines it. Which functions, and where in each,
 * is probes.h's.
 */
#ifndef __CW_UPROBES_H
#define __CW_UPROBES_H

#include <stddef.h>

struct cw_elf;
struct cw_elf_func;
struct cw_object;
struct cw_source;

/* Candidates at most: one of each rank. */
#define CW_UPROBE_MAX_LIBS 3

/* A candidate, opened. */
struct cw_uprobe_lib {
	const struct cw_object *obj;	/* path as the process sees it, host_path from here */
	struct cw_elf *elf;
};

struct cw_uprobe_libs {
	int pid;
	struct cw_object *objs;		/* what pid maps, and the libc it will map */
	size_t nr_objs;
	struct cw_uprobe_lib libs[CW_UPROBE_MAX_LIBS];	/* best first */
	size_t nr;
};

/*
 * Read pid's maps and open its candidates. 0, or -errno with err said ("no such
 * process: PID" for -ESRCH); nothing to close then.
 */
int cw_uprobe_libs__open(struct cw_uprobe_libs *l, int pid, char *err, size_t errlen);
void cw_uprobe_libs__close(struct cw_uprobe_libs *l);

/* The first candidate that defines func, with its code into *f; NULL when none does. */
const struct cw_uprobe_lib *cw_uprobe_libs__func(const struct cw_uprobe_libs *l,
						 const char *func, struct cw_elf_func *f);

/*
 * Like cw_uprobe_libs__func(), for a probe of source src: into *lib (NULL when none
 * defines func). 0; when none does, -ENOENT with src's error said if the function is
 * required, else 0 with src's notes saying it is not probed.
 */
int cw_uprobe_libs__need(const struct cw_uprobe_libs *l, struct cw_source *src,
			 const char *func, int required, struct cw_elf_func *f,
			 const struct cw_uprobe_lib **lib);

/* Add "func (why)" to src's notes, once, in its "not probed: " list. */
void cw_uprobes__not_probed(struct cw_source *src, const char *func, const char *why);

/* Why the kernel would not put a uprobe there (a positive errno), in the user's words. */
const char *cw_uprobes__strerror(int err);

#endif /* __CW_UPROBES_H */
