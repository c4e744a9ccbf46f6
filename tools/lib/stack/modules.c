// SPDX-License-Identifier: GPL-2.0
/* A process's executable file mappings, read from /proc/PID/maps, with their build-ids. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>
#include <libelf.h>

#include "stack.h"

#define DELETED_SUFFIX " (deleted)"

/* The GNU build-id note of the file at path; 0 when it has none or cannot be read. */
static __u8 read_build_id(const char *path, __u8 *id, size_t size)
{
	const void *note;
	ssize_t n = 0;
	Elf *elf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF)
		n = dwelf_elf_gnu_build_id(elf, &note);
	if (n > 0 && (size_t)n <= size)
		memcpy(id, note, n);
	else
		n = 0;
	elf_end(elf);
	close(fd);
	return n;
}

/*
 * Parse one maps line into m when it is an executable mapping of a file. 1 when it is,
 * 0 when the line is something else.
 */
static int parse_line(int pid, char *line, struct cw_module_info *m)
{
	unsigned long long start, end, pgoff, inode;
	unsigned int major, minor;
	char perms[8], *path;
	size_t plen, slen = strlen(DELETED_SUFFIX);
	struct stat st;
	int pos = -1;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &pgoff, &major,
		   &minor, &inode, &pos) < 7 || pos < 0)
		return 0;
	path = line + pos;
	path[strcspn(path, "\n")] = '\0';
	/* anonymous memory, [vdso], [heap]...: not a file this library can open */
	if (strlen(perms) < 3 || perms[2] != 'x' || path[0] != '/')
		return 0;

	memset(m, 0, sizeof(*m));
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->inode = inode;
	m->dev = major << 20 | minor;
	plen = strlen(path);
	if (plen > slen && !strcmp(path + plen - slen, DELETED_SUFFIX)) {
		path[plen - slen] = '\0';
		m->deleted = 1;
	}
	snprintf(m->path, sizeof(m->path), "%s", path);
	snprintf(m->open_path, sizeof(m->open_path), "/proc/%d/root%s", pid, path);
	/*
	 * The path may name another file by now (an upgrade replaced it). Compare the inode
	 * only: overlayfs shows the underlying device in maps and its own in stat().
	 */
	if (!m->deleted && strlen(path) < sizeof(m->path) &&
	    (stat(m->open_path, &st) || st.st_ino != inode))
		m->deleted = 1;
	/* a path longer than PATH_MAX (the kernel prints one) is shown cut: open it by range */
	if (m->deleted || strlen(path) >= sizeof(m->path))
		snprintf(m->open_path, sizeof(m->open_path), "/proc/%d/map_files/%llx-%llx", pid,
			 start, end);
	m->build_id_len = read_build_id(m->open_path, m->build_id, sizeof(m->build_id));
	return 1;
}

void cw_module__complete(int pid, struct cw_module_info *m)
{
	struct stat st;

	elf_version(EV_CURRENT);
	snprintf(m->open_path, sizeof(m->open_path), "/proc/%d/root%s", pid, m->path);
	if (stat(m->open_path, &st) && kill(pid, 0) && errno == ESRCH)
		snprintf(m->open_path, sizeof(m->open_path), "%s", m->path);
	/* the inode only: overlayfs shows the underlying device in maps and its own in stat() */
	if (stat(m->open_path, &st) || st.st_ino != m->inode) {
		m->deleted = 1;
		m->build_id_len = 0;
		return;
	}
	m->build_id_len = read_build_id(m->open_path, m->build_id, sizeof(m->build_id));
}

int cw_modules__read(int pid, struct cw_module_info **mods, size_t *nr)
{
	struct cw_module_info *v = NULL, *p;
	size_t n = 0, cap = 0, linecap = 0;
	char *line = NULL, maps[64];
	int err = 0;
	FILE *f;

	if (pid <= 0 || !mods || !nr)
		return -EINVAL;
	elf_version(EV_CURRENT);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (getline(&line, &linecap, f) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			p = realloc(v, cap * sizeof(*v));
			if (!p) {
				err = -ENOMEM;
				goto cleanup;
			}
			v = p;
		}
		n += parse_line(pid, line, &v[n]);
	}
	if (ferror(f))
		err = -EIO;
cleanup:
	free(line);
	fclose(f);
	if (err) {
		free(v);
		return err;
	}
	*mods = v;
	*nr = n;
	return 0;
}
