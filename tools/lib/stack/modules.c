// SPDX-License-Identifier: GPL-2.0
/*
 * The module map, the bottom layer of the stack library (see modmap.h): a process's
 * executable mappings, each file opened once, checked against the recorded build-id and
 * reported to libdwfl with the bias its mapping implies, so that one Dwfl (and everything
 * libdwfl caches per module: CFI, symbol tables, DWARF) serves every stack of the
 * process. And the mappings of a live process, read from /proc/PID/maps.
 *
 * Paths come from recordings, which are untrusted input read as root: a file is opened
 * only when it is a regular file, and never in a way that blocks (a FIFO) or has side
 * effects (a device, a terminal).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>
#include <libelf.h>

#include "common/array.h"
#include "modmap.h"

#define DELETED_SUFFIX " (deleted)"

int cw_open_regular(const char *path)
{
	struct stat st;
	int fd, err;

	/* a device is not even opened: opening one can have effects of its own */
	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/*
	 * The file may be another by now: O_NONBLOCK, as opening a FIFO for reading would
	 * wait for a writer, O_NOCTTY, and the check again on what was opened.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	/* reads of a regular file do not block anyway; libelf may expect plain reads */
	if (fcntl(fd, F_SETFL, 0)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The GNU build-id note of elf (may be NULL) into id, and elf ended; 0 when none. */
static __u8 elf_build_id(Elf *elf, __u8 *id, size_t size)
{
	const void *note;
	ssize_t n = 0;

	if (elf && elf_kind(elf) == ELF_K_ELF)
		n = dwelf_elf_gnu_build_id(elf, &note);
	if (n > 0 && (size_t)n <= size)
		memcpy(id, note, n);
	else
		n = 0;
	elf_end(elf);
	return n;
}

/* The GNU build-id note of the file at path; 0 when it has none or cannot be read. */
static __u8 read_build_id(const char *path, __u8 *id, size_t size)
{
	__u8 n;
	int fd;

	fd = cw_open_regular(path);
	if (fd < 0)
		return 0;
	n = elf_build_id(elf_begin(fd, ELF_C_READ_MMAP, NULL), id, size);
	close(fd);
	return n;
}

/*
 * The vDSO, the kernel's code in every process ([vdso] in maps: clock_gettime and its
 * friends, which fall back to a system call where the clock needs one), has no file:
 * its image is the same in every process of a kernel, so ours stands for the target's.
 * Its build-id tells another kernel's apart (a recording's). A copy of our image, made
 * once; NULL when it could not be had.
 */
static const void *vdso_image(size_t *len)
{
	static void *copy;
	static size_t size;
	static int tried;
	unsigned long long start = 0, end = 0;
	char line[256];
	FILE *maps;

	*len = size;
	if (tried)
		return copy;
	tried = 1;
	maps = fopen("/proc/self/maps", "re");
	if (!maps)
		return NULL;
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, "[vdso]") && sscanf(line, "%llx-%llx", &start, &end) == 2)
			break;
	fclose(maps);
	if (!start || end <= start || getauxval(AT_SYSINFO_EHDR) != start)
		return NULL;
	copy = malloc(end - start);
	if (!copy)
		return NULL;
	memcpy(copy, (const void *)(uintptr_t)start, end - start);
	*len = size = end - start;
	return copy;
}

/* A file of the vDSO's image for libdwfl, which owns what it is given: a fd, or -errno. */
static int vdso_fd(void)
{
	size_t len;
	const void *img = vdso_image(&len);
	int fd;

	if (!img)
		return -ENOENT;
	fd = memfd_create("concwatch-vdso", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, img, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* The vDSO image's build-id into id: its length, 0 when none. */
static __u8 vdso_build_id(__u8 *id, size_t size)
{
	size_t len;
	const void *img = vdso_image(&len);

	return img ? elf_build_id(elf_memory((char *)img, len), id, size) : 0;
}

static int is_vdso(const char *path)
{
	return !strcmp(path, CW_VDSO_PATH);
}

/*
 * Parse one maps line into m when it is an executable mapping of a file, or the vDSO.
 * 1 when it is, 0 when the line is something else.
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
	/* anonymous memory, [heap]...: not a file this library can open */
	if (strlen(perms) < 3 || perms[2] != 'x' || (path[0] != '/' && !is_vdso(path)))
		return 0;
	if (is_vdso(path)) {
		memset(m, 0, sizeof(*m));
		m->start = start;
		m->end = end;
		snprintf(m->path, sizeof(m->path), "%s", CW_VDSO_PATH);
		snprintf(m->open_path, sizeof(m->open_path), "%s", CW_VDSO_PATH);
		m->build_id_len = vdso_build_id(m->build_id, sizeof(m->build_id));
		return 1;
	}

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
	if (is_vdso(m->path)) {
		snprintf(m->open_path, sizeof(m->open_path), "%s", CW_VDSO_PATH);
		return;
	}
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

int cw_modules__parse(int pid, FILE *f, struct cw_module_info **mods, size_t *nr)
{
	struct cw_module_info *v = NULL, *p;
	size_t n = 0, cap = 0, linecap = 0;
	char *line = NULL;
	int err = 0;

	elf_version(EV_CURRENT);
	while (getline(&line, &linecap, f) > 0) {
		p = cw_grow(v, &cap, n + 1, sizeof(*v));
		if (!p) {
			err = -ENOMEM;
			goto cleanup;
		}
		v = p;
		n += parse_line(pid, line, &v[n]);
	}
	/* reaped after the open (the file stays open, the task is gone): ESRCH, as at open */
	if (ferror(f))
		err = errno == ESRCH || errno == ENOENT ? -ESRCH : -(errno ?: EIO);
cleanup:
	free(line);
	if (err) {
		free(v);
		return err;
	}
	*mods = v;
	*nr = n;
	return 0;
}

int cw_modules__read(int pid, struct cw_module_info **mods, size_t *nr)
{
	char maps[64];
	FILE *f;
	int err;

	if (pid <= 0 || !mods || !nr)
		return -EINVAL;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	err = cw_modules__parse(pid, f, mods, nr);
	fclose(f);
	return err;
}

/* --- the module map ---------------------------------------------------------------------- */

const char *cw_modmap__intern(struct cw_modmap *mm, const char *s)
{
	char **p;

	for (size_t i = 0; i < mm->nr_strs; i++)
		if (!strcmp(mm->strs[i], s))
			return mm->strs[i];
	p = cw_grow(mm->strs, &mm->cap_strs, mm->nr_strs + 1, sizeof(*p));
	if (!p)
		return NULL;
	mm->strs = p;
	mm->strs[mm->nr_strs] = strdup(s);
	if (!mm->strs[mm->nr_strs])
		return NULL;
	return mm->strs[mm->nr_strs++];
}

/* Modules are always reported with their ELF already open: never look for one. */
static int find_no_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		       char **file_name, Elf **elfp)
{
	return -1;
}

int cw_modmap__init(struct cw_modmap *mm, const char *debuginfo_path)
{
	memset(mm, 0, sizeof(*mm));
	elf_version(EV_CURRENT);
	if (debuginfo_path) {
		mm->debuginfo_path = strdup(debuginfo_path);
		if (!mm->debuginfo_path)
			return -ENOMEM;
	}
	mm->callbacks.find_elf = find_no_elf;
	mm->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	mm->callbacks.debuginfo_path = &mm->debuginfo_path;
	mm->dwfl = dwfl_begin(&mm->callbacks);
	return mm->dwfl ? 0 : -ENOMEM;
}

void cw_modmap__fini(struct cw_modmap *mm)
{
	/* detaches from a live process first (cw_unwind_process) */
	if (mm->dwfl)
		dwfl_end(mm->dwfl);
	for (size_t i = 0; i < mm->nr_mods; i++)
		free(mm->mods[i].open_path);
	free(mm->mods);
	for (size_t i = 0; i < mm->nr_strs; i++)
		free(mm->strs[i]);
	free(mm->strs);
	free(mm->debuginfo_path);
	for (size_t i = 0; i < mm->nr_jit; i++)
		free(mm->jit[i].name);
	free(mm->jit);
	memset(mm, 0, sizeof(*mm));
}

static int by_jit_start(const void *a, const void *b)
{
	const struct cw_jitsym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Lines longer than this are no perf map's (a name is a function and its script). */
#define JIT_LINE_MAX 4096

int cw_modmap__load_jit(struct cw_modmap *mm, const char *path)
{
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	FILE *f;
	int fd, err = 0;

	fd = cw_open_regular(path);
	if (fd < 0)
		return fd;
	f = fdopen(fd, "r");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		unsigned long long start, size;
		struct cw_jitsym *v;
		int name_at = 0;

		n++;
		if (len > JIT_LINE_MAX || sscanf(line, "%llx %llx %n", &start, &size, &name_at) < 2 ||
		    !name_at || !size || start + size < start)
			continue;	/* not a function line: skipped, as perf does */
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		v = cw_grow(mm->jit, &mm->cap_jit, mm->nr_jit + 1, sizeof(*v));
		if (!v) {
			err = -ENOMEM;
			break;
		}
		mm->jit = v;
		v[mm->nr_jit] = (struct cw_jitsym){ .start = start, .end = start + size,
						    .name = strdup(line + name_at), .line = n };
		if (!v[mm->nr_jit].name) {
			err = -ENOMEM;
			break;
		}
		mm->nr_jit++;
	}
	free(line);
	fclose(f);
	if (err)
		return err;
	qsort(mm->jit, mm->nr_jit, sizeof(*mm->jit), by_jit_start);
	mm->jit_path = cw_modmap__intern(mm, path);
	mm->gen++;
	return mm->jit_path ? 0 : -ENOMEM;
}

/* Functions looked at before addr's: code replaced since overlaps a little, not more. */
#define JIT_BACK 64

const struct cw_jitsym *cw_modmap__find_jit(const struct cw_modmap *mm, __u64 addr)
{
	const struct cw_jitsym *best = NULL;
	size_t lo = 0, hi = mm->nr_jit;

	/* the first function starting past addr; those before it may contain it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mm->jit[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo, k = 0; i-- > 0 && k < JIT_BACK; k++) {
		const struct cw_jitsym *j = &mm->jit[i];

		if (addr < j->end && (!best || j->line > best->line))
			best = j;
	}
	return best;
}

struct cw_umod *cw_modmap__find(const struct cw_modmap *mm, __u64 addr)
{
	size_t lo = 0, hi = mm->nr_mods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < mm->mods[mid].start)
			hi = mid;
		else if (addr >= mm->mods[mid].end)
			lo = mid + 1;
		else
			return &mm->mods[mid];
	}
	return NULL;
}

const char *cw_modmap__missing(const struct cw_modmap *mm, __u64 addr)
{
	struct cw_umod *um = cw_modmap__find(mm, addr);

	return um && !um->dm ? um->missing : NULL;
}

/*
 * The bias of a mapping: the address the file offset pgoff has at run time, minus the one
 * the ELF file gives it. pgoff lies in a PT_LOAD rounded down to pages (the kernel maps
 * whole pages), so the mapping's start is that segment's p_vaddr + (pgoff - p_offset)
 * moved by the bias. The same for PIE executables and shared libraries; 0 for ET_EXEC.
 */
static int mapping_bias(Elf *elf, const struct cw_module_info *m, __u64 *bias)
{
	long page = sysconf(_SC_PAGESIZE);
	GElf_Phdr ph, best = {};
	bool found = false;
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (m->pgoff < (ph.p_offset & ~(GElf_Off)(page - 1)) ||
		    m->pgoff >= ph.p_offset + ph.p_filesz)
			continue;
		/* pages shared by two segments: the executable one is what this mapping runs */
		if (!found || (!(best.p_flags & PF_X) && (ph.p_flags & PF_X)))
			best = ph;
		found = true;
	}
	if (!found)
		return -ENOEXEC;
	*bias = m->start - (best.p_vaddr + (m->pgoff - best.p_offset));
	return 0;
}

/*
 * Open m's file, check it, and report it to libdwfl (once per file and bias: a file
 * mapped in two pieces is one module). On failure um->missing says why; only -ENOMEM is
 * an error.
 */
static int load_module(struct cw_modmap *mm, struct cw_umod *um, const struct cw_module_info *m)
{
	char why[2 * PATH_MAX + 160], file[PATH_MAX + 80];
	const void *id;
	GElf_Ehdr ehdr;
	Elf *elf = NULL;
	ssize_t idlen;
	int fd;

	why[0] = '\0';
	/* the file as the process knew it, and where it was looked for when elsewhere */
	if (strcmp(um->path, um->open_path))
		snprintf(file, sizeof(file), "%s (as %s)", um->path, um->open_path);
	else
		snprintf(file, sizeof(file), "%s", um->path);
	/* the vDSO: this kernel's image (a recording's build-id is checked below) */
	fd = is_vdso(um->path) ? vdso_fd() : cw_open_regular(um->open_path);
	if (fd == -EINVAL) {
		snprintf(why, sizeof(why), "%s is not a regular file", file);
		goto cleanup;
	}
	if (fd < 0) {
		snprintf(why, sizeof(why), "%s is missing: %s", file, strerror(-fd));
		goto cleanup;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		snprintf(why, sizeof(why), "%s is no ELF file", file);
		goto cleanup;
	}
	idlen = dwelf_elf_gnu_build_id(elf, &id);
	if (m->build_id_len &&
	    (idlen != m->build_id_len || memcmp(id, m->build_id, m->build_id_len))) {
		snprintf(why, sizeof(why), "%s has another build-id: not the file that was mapped",
			 file);
		goto cleanup;
	}
	if (mapping_bias(elf, m, &um->bias)) {
		snprintf(why, sizeof(why), "no segment of %s maps file offset 0x%llx", file,
			 (unsigned long long)m->pgoff);
		goto cleanup;
	}
	if (ehdr.e_type == ET_EXEC && um->bias) {
		snprintf(why, sizeof(why), "executable %s is mapped 0x%llx from its address", file,
			 (unsigned long long)um->bias);
		goto cleanup;
	}
	elf_end(elf);
	elf = NULL;

	for (size_t i = 0; i < mm->nr_mods; i++) {
		struct cw_umod *o = &mm->mods[i];

		if (o->dm && o->path == um->path && o->bias == um->bias && o->inode == um->inode) {
			um->dm = o->dm;
			goto cleanup;
		}
	}
	if (!mm->reporting) {
		dwfl_report_begin_add(mm->dwfl);
		mm->reporting = true;
	}
	/* on success libdwfl owns fd */
	um->dm = dwfl_report_elf(mm->dwfl, um->path, um->open_path, fd, um->bias, true);
	if (um->dm)
		fd = -1;
	else
		snprintf(why, sizeof(why), "%s: %s", um->path, dwfl_errmsg(-1));
cleanup:
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	if (!um->dm) {
		um->missing = cw_modmap__intern(mm, why);
		if (!um->missing)
			return -ENOMEM;
	}
	return 0;
}

int cw_modmap__add(struct cw_modmap *mm, const struct cw_module_info *m)
{
	struct cw_umod um = {}, *p;
	size_t lo, hi;
	int err;

	if (!m || m->start >= m->end)
		return -EINVAL;
	um.start = m->start;
	um.end = m->end;
	um.pgoff = m->pgoff;
	um.inode = m->inode;
	um.path = cw_modmap__intern(mm, m->path);
	/* the vDSO has no file: load_module() takes this kernel's image */
	um.open_path = strdup(m->open_path[0] && !is_vdso(m->path) ? m->open_path : m->path);
	if (!um.path || !um.open_path) {
		err = -ENOMEM;
		goto cleanup;
	}
	p = cw_grow(mm->mods, &mm->cap_mods, mm->nr_mods + 1, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto cleanup;
	}
	mm->mods = p;
	/*
	 * The process mapped something else where these were: they are gone. libdwfl drops
	 * them before the new file is reported, which may have the same name and range.
	 */
	lo = 0;
	while (lo < mm->nr_mods && mm->mods[lo].end <= um.start)
		lo++;
	hi = lo;
	while (hi < mm->nr_mods && mm->mods[hi].start < um.end)
		hi++;
	for (size_t i = lo; i < hi; i++) {
		if (mm->mods[i].dm)
			mm->rebuild = true;
		free(mm->mods[i].open_path);
	}
	memmove(&mm->mods[lo], &mm->mods[hi], (mm->nr_mods - hi) * sizeof(*p));
	mm->nr_mods -= hi - lo;
	/* from here on what was derived from the map is stale, whatever happens next */
	mm->gen++;
	err = mm->rebuild ? cw_modmap__sync(mm) : 0;
	if (!err)
		err = load_module(mm, &um, m);
	if (err)
		goto cleanup;
	memmove(&mm->mods[lo + 1], &mm->mods[lo], (mm->nr_mods - lo) * sizeof(*p));
	mm->mods[lo] = um;
	mm->nr_mods++;
	um.open_path = NULL;
cleanup:
	free(um.open_path);
	return err;
}

/*
 * After a replacement, report again every module still mapped: libdwfl drops the others
 * (and the Dwfl_Module pointers of those become invalid).
 */
int cw_modmap__sync(struct cw_modmap *mm)
{
	if (mm->rebuild) {
		dwfl_report_begin(mm->dwfl);
		mm->reporting = true;
		for (size_t i = 0; i < mm->nr_mods; i++) {
			Dwarf_Addr start, end;
			Dwfl_Module *dm = mm->mods[i].dm;
			const char *name;
			bool seen = false;

			for (size_t j = 0; j < i && !seen; j++)
				seen = mm->mods[j].dm == dm;
			if (!dm || seen)
				continue;
			name = dwfl_module_info(dm, NULL, &start, &end, NULL, NULL, NULL, NULL);
			if (dwfl_report_module(mm->dwfl, name, start, end) != dm)
				return -ENOMEM;
		}
		mm->rebuild = false;
	}
	if (mm->reporting) {
		if (dwfl_report_end(mm->dwfl, NULL, NULL))
			return -ENOMEM;
		mm->reporting = false;
		mm->gen++;
	}
	return 0;
}
