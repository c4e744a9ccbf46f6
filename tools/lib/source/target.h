/* SPDX-License-Identifier: GPL-2.0 */
/* The traced process as /proc shows it, and the ELF files it maps. */
#ifndef __CW_TARGET_H
#define __CW_TARGET_H

#include <limits.h>
#include <stddef.h>
#include <linux/types.h>

/* A file the process maps executable, in the order /proc/PID/maps lists it. */
struct cw_object {
	char path[PATH_MAX];	/* as the process sees it (inside its mount namespace) */
	char host_path[PATH_MAX + 32]; /* reachable from here: /proc/PID/root + path, or
					 * /proc/PID/map_files/START-END for a deleted file */
	__u64 start;		/* lowest address of its executable mapping */
	__u64 inode;
	int is_main;		/* the process's executable */
	int deleted;		/* replaced or removed since it was mapped (an upgraded libc) */
};

/* 0 if pid names a live process, -ESRCH if not, -errno when /proc says otherwise. */
int cw_target__check(int pid);

/* What a pid is, for the user: only CW_TARGET_PROCESS has anything to trace. */
enum cw_target_kind {
	CW_TARGET_PROCESS = 1,
	CW_TARGET_KTHREAD,	/* a kernel thread: no user space */
	CW_TARGET_ZOMBIE,	/* exited, not reaped by its parent yet */
};

/* The cw_target_kind of pid, -ESRCH when there is none, or -errno. */
int cw_target__kind(int pid);

/*
 * Read the executable file mappings of pid. *objs is malloc'ed (free it); 0 or -errno.
 * A file deleted since it was mapped (an in-place upgrade) is reached through
 * /proc/PID/map_files, which leads to the mapped inode itself.
 */
int cw_target__objects(int pid, struct cw_object **objs, size_t *nr);

/*
 * A process stopped at its exec maps the executable and ld.so only: the libraries come
 * later. Append to *objs the libc (and libpthread, older glibc) the dynamic linker will
 * load, found as it finds them (LD_LIBRARY_PATH, then the default directories, inside
 * the process's root), so probes can wait on those files: the kernel arms a uprobe when
 * its file is mapped. Nothing is added when libc is mapped already or the executable is
 * static. 0 or -ENOMEM.
 */
int cw_target__libs_to_come(int pid, struct cw_object **objs, size_t *nr);

/* The process (thread group) a task id belongs to, or -errno. */
int cw_target__tgid(int tid);

/* Thread ids of pid; *tids is malloc'ed. 0 or -errno. */
int cw_target__threads(int pid, int **tids, size_t *nr);

/* Name of thread tid of pid, from /proc; 0 or -errno. */
int cw_target__comm(int pid, int tid, char *buf, size_t len);

/* An ELF file opened to look symbols up. */
struct cw_elf;

int cw_elf__open(const char *path, struct cw_elf **out);
void cw_elf__close(struct cw_elf *elf);

/*
 * File offset of function name (what a uprobe attaches to), looked up in .symtab then
 * .dynsym; versioned names (name@@GLIBC_2.2.5) match name. 0, -ENOENT, or -errno.
 */
int cw_elf__func_offset(struct cw_elf *elf, const char *name, __u64 *offset);

/* A function's code, as the file holds it: what probe placement decodes. */
struct cw_elf_func {
	__u64 offset;		/* file offset of its first byte (what a uprobe takes) */
	__u64 addr;		/* its address in the file (st_value) */
	const __u8 *code;	/* its bytes, valid while the cw_elf is open */
	size_t len;		/* st_size */
};

/* Whether the file carries a SystemTap SDT note provider:name (.note.stapsdt). */
int cw_elf__has_sdt(struct cw_elf *elf, const char *provider, const char *name);

/* The libelf handle of an open file. */
struct Elf;
struct Elf *cw_elf__elf(struct cw_elf *elf);

/*
 * sdt.c: how far above %rsp the return address is at every location of the SDT note
 * provider:name of the file at path, from its call frame information; -ENOENT when
 * that is not known, or not the same at all of them.
 */
int cw_sdt__return_offset(const char *path, const char *provider, const char *name);

/* Like cw_elf__func_offset(), with the function's bytes. 0, -ENOENT, or -errno. */
int cw_elf__func(struct cw_elf *elf, const char *name, struct cw_elf_func *f);

#endif /* __CW_TARGET_H */
