// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/array.h"
#include "source/target.h"

int cw_target__check(int pid)
{
	char path[64];
	struct stat st;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &st))
		return errno == ENOENT ? -ESRCH : -errno;
	return 0;
}

/* PF_KTHREAD of include/linux/sched.h: the flags field of /proc/PID/stat shows it. */
#define CW_PF_KTHREAD 0x00200000

int cw_target__kind(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long flags;
	long threads;
	ssize_t n;
	char state;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n ? -errno : -ESRCH;
	buf[n] = '\0';
	/* the name in parentheses may hold anything, ")" too: the fields follow the last one */
	p = strrchr(buf, ')');
	/* state ppid pgrp session tty_nr tpgid flags ... num_threads (field 20) */
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %ld", &state, &flags, &threads) != 3)
		return -EINVAL;
	if (flags & CW_PF_KTHREAD)
		return CW_TARGET_KTHREAD;
	/* a leader that ended with pthread_exit() is a zombie too, while its threads run */
	if ((state == 'Z' || state == 'X') && threads <= 1)
		return CW_TARGET_ZOMBIE;
	return CW_TARGET_PROCESS;
}

static int read_exe(int pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int cw_target__objects(int pid, struct cw_object **objs, size_t *nr)
{
	char path[64], line[PATH_MAX + 128], exe[PATH_MAX] = "";
	struct cw_object *v = NULL, *o;
	size_t n = 0, cap = 0;
	int err = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	read_exe(pid, exe, sizeof(exe));

	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, inode;
		char perms[8], file[PATH_MAX];
		size_t i, len;
		int pos = 0, deleted;

		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %llu %n", &start, &end, perms, &pgoff,
			   &inode, &pos) < 5 || !pos)
			continue;
		if (perms[2] != 'x' || line[pos] != '/')
			continue;
		len = strcspn(line + pos, "\n");
		if (len >= sizeof(file))
			continue;
		memcpy(file, line + pos, len);
		file[len] = '\0';
		deleted = len > 10 && !strcmp(file + len - 10, " (deleted)");
		if (deleted)
			file[len -= 10] = '\0';

		for (i = 0; i < n; i++)
			if (v[i].inode == inode && !strcmp(v[i].path, file))
				break;
		if (i < n)
			continue;
		o = cw_grow(v, &cap, n + 1, sizeof(*v));
		if (!o) {
			err = -ENOMEM;
			goto cleanup;
		}
		v = o;
		o = &v[n++];
		memset(o, 0, sizeof(*o));
		memcpy(o->path, file, len + 1);
		if (deleted)
			snprintf(o->host_path, sizeof(o->host_path), "/proc/%d/map_files/%llx-%llx",
				 pid, start, end);
		else
			snprintf(o->host_path, sizeof(o->host_path), "/proc/%d/root%s", pid, file);
		o->deleted = deleted;
		o->start = start;
		o->inode = inode;
		o->is_main = !strcmp(file, exe);
	}
cleanup:
	fclose(f);
	if (err) {
		free(v);
		return err;
	}
	*objs = v;
	*nr = n;
	return 0;
}

int cw_target__tgid(int tid)
{
	char path[64], line[128];
	int tgid = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

int cw_target__threads(int pid, int **tids, size_t *nr)
{
	size_t n = 0, cap = 0;
	struct dirent *de;
	int *v = NULL, *p;
	char path[64];
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(d))) {
		int tid = atoi(de->d_name);

		if (tid <= 0)
			continue;
		p = cw_grow(v, &cap, n + 1, sizeof(*v));
		if (!p) {
			closedir(d);
			free(v);
			return -ENOMEM;
		}
		v = p;
		v[n++] = tid;
	}
	closedir(d);
	*tids = v;
	*nr = n;
	return 0;
}

int cw_target__comm(int pid, int tid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	/* the kernel ends the name with a newline; the name itself may hold one too */
	if (n && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return 0;
}

ssize_t cw_target__cmdline(int pid, char *buf, size_t len)
{
	char path[64];
	size_t got = 0;
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the kernel hands out a long command line a page at a time */
	while (got < len && (n = read(fd, buf + got, len - got)) > 0)
		got += n;
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? n : (ssize_t)got;
}

struct cw_elf {
	int fd;
	Elf *elf;
};

int cw_elf__open(const char *path, struct cw_elf **out)
{
	struct cw_elf *e;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0) {
		err = -errno;
		free(e);
		return err;
	}
	e->elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF) {
		cw_elf__close(e);
		return -ENOEXEC;
	}
	*out = e;
	return 0;
}

Elf *cw_elf__elf(struct cw_elf *e)
{
	return e->elf;
}

void cw_elf__close(struct cw_elf *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

/* Translate a symbol's virtual address to the file offset the kernel's uprobe wants. */
static int vaddr_to_offset(Elf *elf, __u64 vaddr, __u64 *offset)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz) {
			*offset = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

static int name_matches(const char *sym, const char *name)
{
	size_t len = strlen(name);

	return !strncmp(sym, name, len) && (sym[len] == '\0' || sym[len] == '@');
}

/* The bytes at virtual address vaddr, len of them, from the section holding them. */
static const __u8 *code_at(Elf *elf, __u64 vaddr, size_t len)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || vaddr < sh.sh_addr ||
		    vaddr + len > sh.sh_addr + sh.sh_size)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || vaddr - sh.sh_addr + len > data->d_size)
			return NULL;
		return (const __u8 *)data->d_buf + (vaddr - sh.sh_addr);
	}
	return NULL;
}

/* The .gnu.version entries of the dynamic symbols (index by symbol), or NULL. */
static Elf_Data *versyms(Elf *elf)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym)
			return elf_getdata(scn, NULL);
	}
	return NULL;
}

/*
 * Whether symbol i (named sname) is an old version of its name, which only binaries
 * linked against that old version call: pthread_cond_timedwait@GLIBC_2.2.5 beside the
 * default pthread_cond_timedwait@@GLIBC_2.3.2, listed first in glibc 2.36's .dynsym.
 * The hidden bit of its .gnu.version entry says so, or a single '@' in a .symtab name.
 */
static int old_version(Elf_Data *vs, size_t i, const char *sname, const char *name)
{
	GElf_Versym v;

	if (sname[strlen(name)] == '@')
		return sname[strlen(name) + 1] != '@';
	return vs && gelf_getversym(vs, i, &v) && (v & 0x8000);
}

static int find_in(struct cw_elf *e, Elf64_Word type, const char *name, struct cw_elf_func *f)
{
	Elf_Data *vs = type == SHT_DYNSYM ? versyms(e->elf) : NULL;
	Elf_Scn *scn = NULL;
	GElf_Sym found = {};
	int have = 0;

	while ((scn = elf_nextscn(e->elf, scn)) && have != 2) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && have != 2; i++) {
			const char *sname;
			GElf_Sym sym;

			/* not STT_GNU_IFUNC: its address is the resolver's, not the function's */
			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			sname = elf_strptr(e->elf, sh.sh_link, sym.st_name);
			if (!sname || !name_matches(sname, name))
				continue;
			/* the default version, or else the first old one */
			if (!old_version(vs, i, sname, name)) {
				found = sym;
				have = 2;
			} else if (!have) {
				found = sym;
				have = 1;
			}
		}
	}
	if (!have)
		return -ENOENT;
	f->addr = found.st_value;
	f->len = found.st_size;
	f->code = found.st_size ? code_at(e->elf, found.st_value, found.st_size) : NULL;
	return vaddr_to_offset(e->elf, found.st_value, &f->offset);
}

int cw_elf__func(struct cw_elf *e, const char *name, struct cw_elf_func *f)
{
	int err;

	memset(f, 0, sizeof(*f));
	err = find_in(e, SHT_SYMTAB, name, f);
	return err == -ENOENT ? find_in(e, SHT_DYNSYM, name, f) : err;
}

int cw_elf__func_offset(struct cw_elf *e, const char *name, __u64 *offset)
{
	struct cw_elf_func f;
	int err = cw_elf__func(e, name, &f);

	if (!err)
		*offset = f.offset;
	return err;
}

/* The directories of LD_LIBRARY_PATH in pid's environment, colon separated, or "". */
static void ld_library_path(int pid, char *buf, size_t len)
{
	char path[64], *env = NULL;
	size_t size = 0;
	ssize_t n;
	FILE *f, *m;
	int c;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	m = open_memstream(&env, &size);
	if (m) {
		while ((c = fgetc(f)) != EOF)
			fputc(c, m);
		fclose(m);
	}
	fclose(f);
	for (n = 0; env && (size_t)n < size; n += strlen(env + n) + 1)
		if (!strncmp(env + n, "LD_LIBRARY_PATH=", 16))
			snprintf(buf, len, "%s", env + n + 16);
	free(env);
}

static int has_base(const struct cw_object *objs, size_t nr, const char *prefix)
{
	for (size_t i = 0; i < nr; i++) {
		const char *base = strrchr(objs[i].path, '/');

		if (!strncmp(base ? base + 1 : objs[i].path, prefix, strlen(prefix)))
			return 1;
	}
	return 0;
}

/*
 * The executable's DT_RUNPATH (or DT_RPATH), $ORIGIN made its directory as the process
 * sees it: where ld.so looks for its libraries before the default directories.
 */
static void exe_runpath(const struct cw_object *exe, char *buf, size_t len)
{
	struct cw_elf *e;
	Elf_Scn *scn = NULL;
	char dir[PATH_MAX];

	buf[0] = '\0';
	snprintf(dir, sizeof(dir), "%s", exe->path);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	if (cw_elf__open(exe->host_path, &e))
		return;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && gelf_getdyn(d, i, &dyn); i++) {
			const char *rp, *o;
			size_t n = 0;

			if (dyn.d_tag != DT_RUNPATH && dyn.d_tag != DT_RPATH)
				continue;
			rp = elf_strptr(e->elf, sh.sh_link, dyn.d_un.d_val);
			for (; rp && *rp && n + 1 < len; rp++) {
				o = !strncmp(rp, "$ORIGIN", 7) ? "$ORIGIN" :
				    !strncmp(rp, "${ORIGIN}", 9) ? "${ORIGIN}" : NULL;
				if (o) {
					n += snprintf(buf + n, len - n, "%s", dir);
					rp += strlen(o) - 1;
				} else {
					buf[n++] = *rp;
				}
			}
			buf[n < len ? n : len - 1] = '\0';
		}
	}
	cw_elf__close(e);
}

int cw_target__libs_to_come(int pid, struct cw_object **objs, size_t *nr)
{
	static const char *const libs[] = { "libc.so.6", "libpthread.so.0" };
	static const char *const dirs[] = {
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
		"/lib", "/usr/lib",
	};
	char llp[PATH_MAX], runpath[PATH_MAX], host[sizeof(((struct cw_object *)0)->host_path)];
	size_t cap = *nr;	/* at least: the caller's array may have more room, unknown here */

	/* only a process the dynamic linker is loading: ld.so mapped, libc not yet */
	if (!has_base(*objs, *nr, "ld-linux") || has_base(*objs, *nr, "libc.so") ||
	    has_base(*objs, *nr, "libc-"))
		return 0;
	ld_library_path(pid, llp, sizeof(llp));
	for (size_t i = 0; i < *nr; i++)
		if ((*objs)[i].is_main)
			exe_runpath(&(*objs)[i], runpath, sizeof(runpath));
	for (size_t k = 0; k < sizeof(libs) / sizeof(libs[0]); k++) {
		char *save = NULL, *dir, search[PATH_MAX * 3];
		struct stat st;

		/* LD_LIBRARY_PATH, the executable's RUNPATH, the default directories: ld.so's order */
		snprintf(search, sizeof(search), "%s%s%s", llp, llp[0] && runpath[0] ? ":" : "",
			 runpath);
		for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
			size_t len = strlen(search);

			snprintf(search + len, sizeof(search) - len, "%s%s", len ? ":" : "", dirs[d]);
		}
		for (dir = strtok_r(search, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
			struct cw_object *o, *v;

			if (dir[0] != '/')
				continue;
			snprintf(host, sizeof(host), "/proc/%d/root%s/%s", pid, dir, libs[k]);
			if (stat(host, &st) || !S_ISREG(st.st_mode))
				continue;
			v = cw_grow(*objs, &cap, *nr + 1, sizeof(*v));
			if (!v)
				return -ENOMEM;
			*objs = v;
			o = &v[(*nr)++];
			memset(o, 0, sizeof(*o));
			snprintf(o->path, sizeof(o->path), "%s/%s", dir, libs[k]);
			snprintf(o->host_path, sizeof(o->host_path), "%s", host);
			o->inode = st.st_ino;
			break;
		}
	}
	return 0;
}

int cw_elf__has_sdt(struct cw_elf *e, const char *provider, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(e->elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(e->elf, scn))) {
		size_t off = 0, name_off, desc_off;
		GElf_Shdr sh;
		GElf_Nhdr nh;
		Elf_Data *d;
		const char *sname;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		sname = elf_strptr(e->elf, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".note.stapsdt"))
			continue;
		d = elf_getdata(scn, NULL);
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			/* desc: pc, base, semaphore (three addresses), provider, name, args */
			const char *desc = (const char *)d->d_buf + desc_off;
			size_t addrs = 3 * (gelf_getclass(e->elf) == ELFCLASS64 ? 8 : 4), plen;

			if (nh.n_type != 3 || nh.n_namesz != 8 ||
			    memcmp((const char *)d->d_buf + name_off, "stapsdt", 8) ||
			    nh.n_descsz <= addrs)
				continue;
			plen = strnlen(desc + addrs, nh.n_descsz - addrs);
			if (addrs + plen + 1 >= nh.n_descsz)
				continue;
			if (!strcmp(desc + addrs, provider) &&
			    !strncmp(desc + addrs + plen + 1, name, nh.n_descsz - addrs - plen - 1))
				return 1;
		}
	}
	return 0;
}
