// SPDX-License-Identifier: GPL-2.0
/*
 * Unwinding: the walk of a captured stack with the modules' CFI, over the module map.
 *
 * libdwfl unwinds a "thread" of an attached "process": for captured stacks the process
 * is the module map's Dwfl, with one thread whose registers are the probe's and whose
 * memory is the copy. The walk keeps pcs and stack pointers only, and decides why it
 * ended; names come from the layer above (symbolize.c), which reads the walk as data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "walk.h"

/* The captured stack's process and thread, as libdwfl calls them. Any positive number. */
#define CAPTURE_TID 1

/* DWARF register numbers of x86-64 (System V psABI, figure 3.36). */
#define DWARF_RBP 6
#define DWARF_RSP 7

#define DEFAULT_MAX_FRAMES 128

void cw_walk__fini(struct cw_walk *w)
{
	if (!w)
		return;
	free(w->pcs);
	memset(w, 0, sizeof(*w));
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

int cw_walker__init(struct cw_walker *w, struct cw_modmap *mm, int max_frames)
{
	memset(w, 0, sizeof(*w));
	w->mm = mm;
	w->max_frames = max_frames > 0 ? max_frames : DEFAULT_MAX_FRAMES;
	w->arch_elf = arch_elf(&w->arch_ehdr);
	return w->arch_elf ? 0 : -ENOMEM;
}

void cw_walker__fini(struct cw_walker *w)
{
	elf_end(w->arch_elf);
	memset(w, 0, sizeof(*w));
}

static void walk_begin(struct cw_walker *w, struct cw_walk *out, size_t copy_len)
{
	out->nr = 0;
	out->reason = CW_WALK_NOTHING;
	out->reason_addr = 0;
	out->reason_msg[0] = '\0';
	out->max_frames = w->max_frames;
	out->copy_len = copy_len;
	w->walk = out;
	w->read_past_end = false;
	w->read_below = false;
}

static int push_pc(struct cw_walk *wk, __u64 pc, __u64 sp, bool activation)
{
	struct cw_walkpc *p = cw_grow(wk->pcs, &wk->cap, wk->nr + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	wk->pcs = p;
	wk->pcs[wk->nr++] = (struct cw_walkpc){ .pc = pc, .sp = sp, .activation = activation };
	return 0;
}

static int walk_stop(struct cw_walk *wk, enum cw_walk_reason reason, __u64 addr,
		     const char *msg)
{
	wk->reason = reason;
	wk->reason_addr = addr;
	snprintf(wk->reason_msg, sizeof(wk->reason_msg), "%s", msg ? msg : "");
	return DWARF_CB_ABORT;
}

/*
 * One frame of libdwfl's walk: note its pc and stack pointer, and stop where libdwfl
 * cannot go on by CFI. A live thread stays stopped until the walk ends: nothing slow here.
 */
static int walk_frame(Dwfl_Frame *state, void *arg)
{
	struct cw_walker *w = arg;
	struct cw_walk *wk = w->walk;
	bool first = wk->nr == 0, activation;
	Dwarf_Word sp = 0;
	struct cw_umod *um;
	Dwarf_Addr pc;

	if (!dwfl_frame_pc(state, &pc, NULL))
		return walk_stop(wk, CW_WALK_ERROR, 0, dwfl_errmsg(-1));
	if (wk->nr == (size_t)w->max_frames)
		return walk_stop(wk, CW_WALK_MAX_FRAMES, pc, NULL);
	/* the caller's rsp is the callee's CFA (x86-64's ABI CFI): frames' areas follow */
	if (dwfl_frame_reg(state, DWARF_RSP, &sp))
		sp = 0;
	/*
	 * Past a pc outside the modules libdwfl would guess with frame pointers, which code
	 * without them does not keep: say where the trail ends instead.
	 */
	um = cw_modmap__find(w->mm, first ? pc : pc - 1);
	/*
	 * JIT-compiled code the runtime's perf map names: libdwfl finds no CFI for it and
	 * goes on by its frame pointer (its x86-64 backend's fallback), which V8 keeps.
	 */
	if (!um && cw_modmap__find_jit(w->mm, first ? pc : pc - 1)) {
		if (push_pc(wk, pc, sp, first))
			return walk_stop(wk, CW_WALK_ERROR, pc, strerror(ENOMEM));
		return DWARF_CB_OK;
	}
	if (!um || !um->dm) {
		if (push_pc(wk, pc, sp, first))
			return walk_stop(wk, CW_WALK_ERROR, pc, strerror(ENOMEM));
		return walk_stop(wk, um ? CW_WALK_MISSING : CW_WALK_UNMAPPED, pc, NULL);
	}
	/* asking whether it is an activation unwinds this frame: its reads count from here */
	w->read_past_end = false;
	w->read_below = false;
	if (!dwfl_frame_pc(state, &pc, &activation))
		activation = first;
	if (push_pc(wk, pc, sp, activation))
		return walk_stop(wk, CW_WALK_ERROR, pc, strerror(ENOMEM));
	return DWARF_CB_OK;
}

/*
 * What the CFI says about the frame at lookup (a pc, or a return address - 1): 1 when it
 * has no caller (its return address is undefined: glibc's _start and clone3 say so), 0
 * when it has one, -ENOENT when neither .eh_frame nor .debug_frame covers it.
 */
static int cfi_outermost(const struct cw_umod *um, __u64 lookup)
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
static void walk_end(struct cw_walker *w, int rc, const char *errmsg)
{
	struct cw_walk *wk = w->walk;
	struct cw_walkpc *last;
	__u64 lookup;
	int outermost;

	w->walk = NULL;
	if (rc == DWARF_CB_ABORT && wk->reason != CW_WALK_NOTHING)
		return;
	if (!wk->nr) {
		walk_stop(wk, CW_WALK_NOTHING, 0, errmsg);
		return;
	}
	last = &wk->pcs[wk->nr - 1];
	lookup = cw_walkpc__lookup(last);
	outermost = cfi_outermost(cw_modmap__find(w->mm, lookup), lookup);
	if (rc == 0 && outermost == 1)
		walk_stop(wk, CW_WALK_OUTERMOST, last->pc, NULL);
	else if (outermost < 0)
		walk_stop(wk, CW_WALK_NO_CFI, last->pc, NULL);
	else if (w->read_past_end)
		walk_stop(wk, CW_WALK_COPY_ENDS, last->pc, NULL);
	else if (w->read_below)
		walk_stop(wk, CW_WALK_BAD_READ, w->bad_read, NULL);
	else if (rc == 0)
		walk_stop(wk, CW_WALK_NO_CALLER, last->pc, NULL);
	else
		walk_stop(wk, CW_WALK_ERROR, last->pc, errmsg);
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
	struct cw_walker *w = arg;
	__u64 off = addr - w->regs->sp;

	if (addr < w->regs->sp) {
		w->read_below = true;
		w->bad_read = addr;
		return false;
	}
	if (off > w->len || w->len - off < sizeof(*result)) {
		w->read_past_end = true;
		return false;
	}
	memcpy(result, w->stack + off, sizeof(*result));
	return true;
}

static bool capture_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct cw_walker *w = arg;
	Dwarf_Word regs[2] = { w->regs->bp, w->regs->sp };

	if (!dwfl_thread_state_registers(thread, DWARF_RBP, 2, regs))
		return false;
	dwfl_thread_state_register_pc(thread, w->regs->ip);
	return true;
}

static const Dwfl_Thread_Callbacks capture_callbacks = {
	.next_thread = capture_next_thread,
	.get_thread = capture_get_thread,
	.memory_read = capture_memory_read,
	.set_initial_registers = capture_set_initial_registers,
};

int cw_walker__unwind(struct cw_walker *w, const struct cw_regs *regs, const void *stack,
		      size_t len, struct cw_walk *out)
{
	int err, rc;

	err = cw_modmap__sync(w->mm);
	if (err)
		return err;
	if (!w->attached) {
		if (!dwfl_attach_state(w->mm->dwfl, w->arch_elf, CAPTURE_TID, &capture_callbacks,
				       w))
			return -EINVAL;
		w->attached = true;
	}
	w->regs = regs;
	w->stack = stack;
	w->len = len;
	walk_begin(w, out, len);
	rc = dwfl_getthread_frames(w->mm->dwfl, CAPTURE_TID, walk_frame, w);
	walk_end(w, rc, rc == -1 ? dwfl_errmsg(-1) : NULL);
	w->regs = NULL;
	w->stack = NULL;
	return 0;
}

int cw_walker__from_ips(struct cw_walker *w, const __u64 *ips, size_t nr, struct cw_walk *out)
{
	struct cw_walkpc *last;
	struct cw_umod *um;
	__u64 lookup;
	int err;

	err = cw_modmap__sync(w->mm);
	if (err)
		return err;
	walk_begin(w, out, 0);
	w->walk = NULL;
	for (size_t i = 0; i < nr; i++)
		if (push_pc(out, ips[i], 0, i == 0))
			return -ENOMEM;
	if (!nr) {
		walk_stop(out, CW_WALK_NOTHING, 0, "no addresses");
		return 0;
	}
	last = &out->pcs[nr - 1];
	lookup = cw_walkpc__lookup(last);
	um = cw_modmap__find(w->mm, lookup);
	if (!um)
		walk_stop(out, CW_WALK_UNMAPPED, last->pc, NULL);
	else if (!um->dm)
		walk_stop(out, CW_WALK_MISSING, last->pc, NULL);
	else if (cfi_outermost(um, lookup) == 1)
		walk_stop(out, CW_WALK_OUTERMOST, last->pc, NULL);
	else
		walk_stop(out, CW_WALK_NO_CALLER, last->pc, "frame-pointer walk");
	return 0;
}

int cw_walker__thread(struct cw_walker *w, Dwfl_Thread *thread, struct cw_walk *out,
		      int *attach_errno)
{
	int rc, saved_errno;

	*attach_errno = 0;
	walk_begin(w, out, 0);
	errno = 0;
	rc = dwfl_thread_getframes(thread, walk_frame, w);
	saved_errno = errno;
	if (rc == -1 && !out->nr && (saved_errno == EPERM || saved_errno == ESRCH)) {
		/* attaching failed: ptrace refused, or the thread is gone already */
		w->walk = NULL;
		*attach_errno = saved_errno;
		return 0;
	}
	walk_end(w, rc, rc == -1 ? dwfl_errmsg(-1) : NULL);
	return 0;
}
