// SPDX-License-Identifier: GPL-2.0
/*
 * The unwinder: a process's executable mappings reported to libdwfl, and the walk of a
 * captured stack with the modules' CFI.
 *
 * libdwfl unwinds a "thread" of an attached "process": for captured stacks the process
 * is this unwinder, with one thread whose registers are the probe's and whose memory is
 * the copy. Modules are reported with the bias their mapping implies, so one Dwfl (and
 * everything libdwfl caches per module: CFI, symbol tables, DWARF) serves every stack of
 * the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>

#include "internal.h"

/* The captured stack's process and thread, as libdwfl calls them. Any positive number. */
#define CAPTURE_TID 1

/* DWARF register numbers of x86-64 (System V psABI, figure 3.36). */
#define DWARF_RBP 6
#define DWARF_RSP 7

#define DEFAULT_MAX_FRAMES 128

const char *cw_unwinder__intern(struct cw_unwinder *u, const char *s)
{
	char **p;

	for (size_t i = 0; i < u->nr_strs; i++)
		if (!strcmp(u->strs[i], s))
			return u->strs[i];
	if (u->nr_strs == u->cap_strs) {
		size_t cap = u->cap_strs ? u->cap_strs * 2 : 16;

		p = realloc(u->strs, cap * sizeof(*p));
		if (!p)
			return NULL;
		u->strs = p;
		u->cap_strs = cap;
	}
	u->strs[u->nr_strs] = strdup(s);
	if (!u->strs[u->nr_strs])
		return NULL;
	return u->strs[u->nr_strs++];
}

/* Modules are always reported with their ELF already open: never look for one. */
static int find_no_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		       char **file_name, Elf **elfp)
{
	return -1;
}

/*
 * An ELF header alone, for dwfl_attach_state(): it picks the machine's unwinding backend
 * from it. Taking it from a module instead would fail when no module could be opened.
 */
static Elf *arch_elf(Elf64_Ehdr *ehdr)
{
	memset(ehdr, 0, sizeof(*ehdr));
	memcpy(ehdr->e_ident, ELFMAG, SELFMAG);
	ehdr->e_ident[EI_CLASS] = ELFCLASS64;
	ehdr->e_ident[EI_DATA] = ELFDATA2LSB;
	ehdr->e_ident[EI_VERSION] = EV_CURRENT;
	ehdr->e_type = ET_CORE;
	ehdr->e_machine = EM_X86_64;
	ehdr->e_version = EV_CURRENT;
	ehdr->e_ehsize = sizeof(*ehdr);
	return elf_memory((char *)ehdr, sizeof(*ehdr));
}

int cw_unwinder__new(const struct cw_unwinder_opts *opts, struct cw_unwinder **out)
{
	struct cw_unwinder *u;
	int err = -ENOMEM;

	if (!out)
		return -EINVAL;
	*out = NULL;
	elf_version(EV_CURRENT);
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->max_frames = opts && opts->max_frames > 0 ? opts->max_frames : DEFAULT_MAX_FRAMES;
	if (opts && opts->debuginfo_path) {
		u->debuginfo_path = strdup(opts->debuginfo_path);
		if (!u->debuginfo_path)
			goto cleanup;
	}
	u->callbacks.find_elf = find_no_elf;
	u->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	u->callbacks.debuginfo_path = &u->debuginfo_path;
	u->dwfl = dwfl_begin(&u->callbacks);
	u->arch_elf = arch_elf(&u->arch_ehdr);
	if (!u->dwfl || !u->arch_elf)
		goto cleanup;
	*out = u;
	return 0;
cleanup:
	cw_unwinder__free(u);
	return err;
}

void cw_unwinder__free(struct cw_unwinder *u)
{
	if (!u)
		return;
	cw_symcache__clear(u);
	free(u->cache);
	for (size_t i = 0; i < u->nr_idx; i++)
		free(u->idx[i].syms);
	free(u->idx);
	/* detaches from a live process first (cw_unwind_process) */
	if (u->dwfl)
		dwfl_end(u->dwfl);
	elf_end(u->arch_elf);
	for (size_t i = 0; i < u->nr_mods; i++)
		free(u->mods[i].open_path);
	free(u->mods);
	for (size_t i = 0; i < u->nr_strs; i++)
		free(u->strs[i]);
	free(u->strs);
	free(u->pcs);
	free(u->debuginfo_path);
	free(u);
}

struct cw_umod *cw_unwinder__find(struct cw_unwinder *u, __u64 addr)
{
	size_t lo = 0, hi = u->nr_mods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < u->mods[mid].start)
			hi = mid;
		else if (addr >= u->mods[mid].end)
			lo = mid + 1;
		else
			return &u->mods[mid];
	}
	return NULL;
}

const char *cw_unwinder__missing(struct cw_unwinder *u, __u64 addr)
{
	struct cw_umod *um = u ? cw_unwinder__find(u, addr) : NULL;

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
static int load_module(struct cw_unwinder *u, struct cw_umod *um, const struct cw_module_info *m)
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
	fd = open(um->open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, sizeof(why), "%s is missing: %s", file, strerror(errno));
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

	for (size_t i = 0; i < u->nr_mods; i++) {
		struct cw_umod *o = &u->mods[i];

		if (o->dm && o->path == um->path && o->bias == um->bias && o->inode == um->inode) {
			um->dm = o->dm;
			goto cleanup;
		}
	}
	if (!u->reporting) {
		dwfl_report_begin_add(u->dwfl);
		u->reporting = true;
	}
	/* on success libdwfl owns fd */
	um->dm = dwfl_report_elf(u->dwfl, um->path, um->open_path, fd, um->bias, true);
	if (um->dm)
		fd = -1;
	else
		snprintf(why, sizeof(why), "%s: %s", um->path, dwfl_errmsg(-1));
cleanup:
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	if (!um->dm) {
		um->missing = cw_unwinder__intern(u, why);
		if (!um->missing)
			return -ENOMEM;
	}
	return 0;
}

int cw_unwinder__add_module(struct cw_unwinder *u, const struct cw_module_info *m)
{
	struct cw_umod um = {}, *p;
	size_t lo, hi;
	int err;

	if (!u || !m || m->start >= m->end)
		return -EINVAL;
	um.start = m->start;
	um.end = m->end;
	um.pgoff = m->pgoff;
	um.inode = m->inode;
	um.path = cw_unwinder__intern(u, m->path);
	um.open_path = strdup(m->open_path[0] ? m->open_path : m->path);
	if (!um.path || !um.open_path) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (u->nr_mods == u->cap_mods) {
		size_t cap = u->cap_mods ? u->cap_mods * 2 : 16;

		p = realloc(u->mods, cap * sizeof(*p));
		if (!p) {
			err = -ENOMEM;
			goto cleanup;
		}
		u->mods = p;
		u->cap_mods = cap;
	}
	/*
	 * The process mapped something else where these were: they are gone. libdwfl drops
	 * them before the new file is reported, which may have the same name and range.
	 */
	lo = 0;
	while (lo < u->nr_mods && u->mods[lo].end <= um.start)
		lo++;
	hi = lo;
	while (hi < u->nr_mods && u->mods[hi].start < um.end)
		hi++;
	for (size_t i = lo; i < hi; i++) {
		if (u->mods[i].dm)
			u->rebuild = true;
		free(u->mods[i].open_path);
	}
	memmove(&u->mods[lo], &u->mods[hi], (u->nr_mods - hi) * sizeof(*p));
	u->nr_mods -= hi - lo;
	err = u->rebuild ? cw_unwinder__sync(u) : 0;
	if (!err)
		err = load_module(u, &um, m);
	if (err)
		goto cleanup;
	memmove(&u->mods[lo + 1], &u->mods[lo], (u->nr_mods - lo) * sizeof(*p));
	u->mods[lo] = um;
	u->nr_mods++;
	um.open_path = NULL;
	/* addresses resolved before may belong to this module now */
	cw_symcache__clear(u);
cleanup:
	free(um.open_path);
	return err;
}

/*
 * Finish what add_module reported, before libdwfl is asked about addresses. After a
 * replacement, report again every module still mapped: libdwfl drops the others.
 */
int cw_unwinder__sync(struct cw_unwinder *u)
{
	if (u->rebuild) {
		dwfl_report_begin(u->dwfl);
		u->reporting = true;
		for (size_t i = 0; i < u->nr_mods; i++) {
			Dwarf_Addr start, end;
			Dwfl_Module *dm = u->mods[i].dm;
			const char *name;
			bool seen = false;

			for (size_t j = 0; j < i && !seen; j++)
				seen = u->mods[j].dm == dm;
			if (!dm || seen)
				continue;
			name = dwfl_module_info(dm, NULL, &start, &end, NULL, NULL, NULL, NULL);
			if (dwfl_report_module(u->dwfl, name, start, end) != dm)
				return -ENOMEM;
		}
		u->rebuild = false;
	}
	if (u->reporting) {
		if (dwfl_report_end(u->dwfl, NULL, NULL))
			return -ENOMEM;
		u->reporting = false;
		cw_symidx__drop_stale(u);
	}
	return 0;
}

/* --- walking: shared with cw_unwind_process() ------------------------------------------ */

void cw_walk__begin(struct cw_unwinder *u)
{
	u->nr_pcs = 0;
	u->reason = CW_WALK_NOTHING;
	u->reason_addr = 0;
	u->reason_msg[0] = '\0';
	u->read_past_end = false;
	u->read_below = false;
}

static int push_pc(struct cw_unwinder *u, __u64 pc, bool activation)
{
	if (u->nr_pcs == u->cap_pcs) {
		size_t cap = u->cap_pcs ? u->cap_pcs * 2 : 64;
		struct cw_walkpc *p = realloc(u->pcs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		u->pcs = p;
		u->cap_pcs = cap;
	}
	u->pcs[u->nr_pcs].pc = pc;
	u->pcs[u->nr_pcs].activation = activation;
	u->nr_pcs++;
	return 0;
}

static int walk_stop(struct cw_unwinder *u, enum cw_walk_reason reason, __u64 addr,
		     const char *msg)
{
	u->reason = reason;
	u->reason_addr = addr;
	snprintf(u->reason_msg, sizeof(u->reason_msg), "%s", msg ? msg : "");
	return DWARF_CB_ABORT;
}

/*
 * One frame of libdwfl's walk: note its pc, and stop where libdwfl cannot go on by CFI.
 * The walk keeps only pcs: a live thread stays stopped until it ends.
 */
int cw_walk__frame(Dwfl_Frame *state, void *arg)
{
	struct cw_unwinder *u = arg;
	bool first = u->nr_pcs == 0, activation;
	struct cw_umod *um;
	Dwarf_Addr pc;

	if (!dwfl_frame_pc(state, &pc, NULL))
		return walk_stop(u, CW_WALK_ERROR, 0, dwfl_errmsg(-1));
	if (u->nr_pcs == (size_t)u->max_frames)
		return walk_stop(u, CW_WALK_MAX_FRAMES, pc, NULL);
	/*
	 * Past a pc outside the modules libdwfl would guess with frame pointers, which code
	 * without them does not keep: say where the trail ends instead.
	 */
	um = cw_unwinder__find(u, first ? pc : pc - 1);
	if (!um || !um->dm) {
		if (push_pc(u, pc, first))
			return walk_stop(u, CW_WALK_ERROR, pc, strerror(ENOMEM));
		return walk_stop(u, um ? CW_WALK_MISSING : CW_WALK_UNMAPPED, pc, NULL);
	}
	/* asking whether it is an activation unwinds this frame: its reads count from here */
	u->read_past_end = false;
	u->read_below = false;
	if (!dwfl_frame_pc(state, &pc, &activation))
		activation = first;
	if (push_pc(u, pc, activation))
		return walk_stop(u, CW_WALK_ERROR, pc, strerror(ENOMEM));
	return DWARF_CB_OK;
}

/*
 * What the CFI says about the frame at lookup (a pc, or a return address - 1): 1 when it
 * has no caller (its return address is undefined: glibc's _start and clone3 say so), 0
 * when it has one, -ENOENT when neither .eh_frame nor .debug_frame covers it.
 */
static int cfi_outermost(struct cw_umod *um, __u64 lookup)
{
	if (!um || !um->dm)
		return -ENOENT;
	for (int i = 0; i < 2; i++) {
		Dwarf_Op ops_mem[3], *ops;
		Dwarf_Frame *frame;
		Dwarf_Addr bias;
		Dwarf_CFI *cfi;
		bool undefined;
		size_t nops;
		int ra;

		cfi = i ? dwfl_module_dwarf_cfi(um->dm, &bias) : dwfl_module_eh_cfi(um->dm, &bias);
		if (!cfi || dwarf_cfi_addrframe(cfi, lookup - bias, &frame))
			continue;
		ra = dwarf_frame_info(frame, NULL, NULL, NULL);
		undefined = ra >= 0 && !dwarf_frame_register(frame, ra, ops_mem, &ops, &nops) &&
			    nops == 0 && ops == ops_mem;
		free(frame);
		return undefined;
	}
	return -ENOENT;
}

/*
 * Decide why the walk ended. libdwfl ends without error both when CFI says the last
 * frame has no caller and when it could not read the return address: the CFI decides
 * which, the reads past the copy say whether the copy was too short. Where a module has
 * no CFI libdwfl tries frame pointers, which code built without them does not keep: a
 * failure there is the missing CFI's, whatever it read.
 */
void cw_walk__end(struct cw_unwinder *u, int rc, const char *errmsg)
{
	struct cw_walkpc *last;
	__u64 lookup;
	int outermost;

	if (rc == DWARF_CB_ABORT && u->reason != CW_WALK_NOTHING)
		return;
	if (!u->nr_pcs) {
		walk_stop(u, CW_WALK_NOTHING, 0, errmsg);
		return;
	}
	last = &u->pcs[u->nr_pcs - 1];
	lookup = last->activation ? last->pc : last->pc - 1;
	outermost = cfi_outermost(cw_unwinder__find(u, lookup), lookup);
	if (rc == 0 && outermost == 1)
		walk_stop(u, CW_WALK_OUTERMOST, last->pc, NULL);
	else if (outermost < 0)
		walk_stop(u, CW_WALK_NO_CFI, last->pc, NULL);
	else if (u->read_past_end)
		walk_stop(u, CW_WALK_COPY_ENDS, last->pc, NULL);
	else if (u->read_below)
		walk_stop(u, CW_WALK_BAD_READ, u->bad_read, NULL);
	else if (rc == 0)
		walk_stop(u, CW_WALK_NO_CALLER, last->pc, NULL);
	else
		walk_stop(u, CW_WALK_ERROR, last->pc, errmsg);
}

/* --- captured stacks ------------------------------------------------------------------- */

static pid_t capture_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	if (*thread_argp)
		return 0;
	*thread_argp = arg;
	return CAPTURE_TID;
}

static bool capture_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	*thread_argp = arg;
	return tid == CAPTURE_TID;
}

/* Memory is the copy of [sp, sp + len): anything else was not captured. */
static bool capture_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct cw_unwinder *u = arg;
	__u64 off = addr - u->regs->sp;

	if (addr < u->regs->sp) {
		u->read_below = true;
		u->bad_read = addr;
		return false;
	}
	if (off > u->len || u->len - off < sizeof(*result)) {
		u->read_past_end = true;
		return false;
	}
	memcpy(result, u->stack + off, sizeof(*result));
	return true;
}

static bool capture_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct cw_unwinder *u = arg;
	Dwarf_Word regs[2] = { u->regs->bp, u->regs->sp };

	if (!dwfl_thread_state_registers(thread, DWARF_RBP, 2, regs))
		return false;
	dwfl_thread_state_register_pc(thread, u->regs->ip);
	return true;
}

static const Dwfl_Thread_Callbacks capture_callbacks = {
	.next_thread = capture_next_thread,
	.get_thread = capture_get_thread,
	.memory_read = capture_memory_read,
	.set_initial_registers = capture_set_initial_registers,
};

int cw_unwinder__unwind(struct cw_unwinder *u, const struct cw_regs *regs, const void *stack,
			size_t len, struct cw_ustack *out)
{
	int err, rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!u || !regs || (!stack && len))
		return -EINVAL;
	err = cw_unwinder__sync(u);
	if (err)
		return err;
	if (!u->attached) {
		if (!dwfl_attach_state(u->dwfl, u->arch_elf, CAPTURE_TID, &capture_callbacks, u))
			return -EINVAL;
		u->attached = true;
	}
	u->regs = regs;
	u->stack = stack;
	u->len = len;
	cw_walk__begin(u);
	rc = dwfl_getthread_frames(u->dwfl, CAPTURE_TID, cw_walk__frame, u);
	cw_walk__end(u, rc, rc == -1 ? dwfl_errmsg(-1) : NULL);
	u->regs = NULL;
	u->stack = NULL;
	return cw_symbolize__walk(u, out);
}

int cw_unwinder__symbolize(struct cw_unwinder *u, const __u64 *ips, size_t nr,
			   struct cw_ustack *out)
{
	struct cw_walkpc *last;
	struct cw_umod *um;
	__u64 lookup;
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!u || (!ips && nr))
		return -EINVAL;
	err = cw_unwinder__sync(u);
	if (err)
		return err;
	cw_walk__begin(u);
	for (size_t i = 0; i < nr; i++)
		if (push_pc(u, ips[i], i == 0))
			return -ENOMEM;
	if (!nr) {
		walk_stop(u, CW_WALK_NOTHING, 0, "no addresses");
	} else {
		last = &u->pcs[nr - 1];
		lookup = last->activation ? last->pc : last->pc - 1;
		um = cw_unwinder__find(u, lookup);
		if (!um)
			walk_stop(u, CW_WALK_UNMAPPED, last->pc, NULL);
		else if (!um->dm)
			walk_stop(u, CW_WALK_MISSING, last->pc, NULL);
		else if (cfi_outermost(um, lookup) == 1)
			walk_stop(u, CW_WALK_OUTERMOST, last->pc, NULL);
		else
			walk_stop(u, CW_WALK_NO_CALLER, last->pc, "frame-pointer walk");
	}
	return cw_symbolize__walk(u, out);
}
