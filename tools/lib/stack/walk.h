/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The unwinding layer of the stack library (unwind.c), over the module map: the pcs of a
 * stack, found by walking a captured copy with the modules' CFI, or given by a
 * frame-pointer walk, and why the walk ended. The result, struct cw_walk, is plain data:
 * symbolization reads it without calling back into this layer.
 */
#ifndef __CW_STACK_WALK_H
#define __CW_STACK_WALK_H

#include "modmap.h"

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
	__u64 sp;		/* the frame's stack pointer; 0 when unknown (frame pointers) */
	bool activation;	/* the pc is where execution is, not a return address */
};

/* One walk: its pcs, innermost first, and how it ended. */
struct cw_walk {
	struct cw_walkpc *pcs;
	size_t nr, cap;
	enum cw_walk_reason reason;
	__u64 reason_addr;
	char reason_msg[80];
	int max_frames;		/* the limit it was walked with */
	size_t copy_len;	/* bytes of the copy it walked, 0 without one */
};

/* The lookup address of a walk's pc: a return address is past its call, pc - 1 in it. */
static inline __u64 cw_walkpc__lookup(const struct cw_walkpc *p)
{
	return p->activation ? p->pc : p->pc - 1;
}

void cw_walk__fini(struct cw_walk *w);

/* Walks of one module map's process: captured copies, or the threads of a live one. */
struct cw_walker {
	struct cw_modmap *mm;
	int max_frames;
	bool attached;		/* dwfl_attach_state() done, with the capture callbacks */
	Elf *arch_elf;		/* tells libdwfl the machine even before any module */
	Elf64_Ehdr arch_ehdr;	/* what arch_elf reads */

	/* the walk in progress */
	struct cw_walk *walk;
	const struct cw_regs *regs;
	const unsigned char *stack;
	size_t len;
	bool read_past_end, read_below;
	__u64 bad_read;
};

/* max_frames 0: 128. 0 or -ENOMEM. */
int cw_walker__init(struct cw_walker *w, struct cw_modmap *mm, int max_frames);
void cw_walker__fini(struct cw_walker *w);

/* Walk the copy of [regs->sp, regs->sp + len) into out (emptied first). 0 or -errno. */
int cw_walker__unwind(struct cw_walker *w, const struct cw_regs *regs, const void *stack,
		      size_t len, struct cw_walk *out);

/*
 * The walk of a frame-pointer stack (ips[0] the pc, the rest return addresses): ends
 * OUTERMOST when CFI says the last has no caller, else where the walk that found them
 * stopped. 0 or -ENOMEM.
 */
int cw_walker__from_ips(struct cw_walker *w, const __u64 *ips, size_t nr, struct cw_walk *out);

/*
 * The walk of one thread of a process libdwfl attached to (dwfl_linux_proc_attach on
 * w->mm->dwfl). *attach_errno: errno when attaching to the thread failed before any
 * frame (the walk is then empty). 0 or -ENOMEM.
 */
int cw_walker__thread(struct cw_walker *w, Dwfl_Thread *thread, struct cw_walk *out,
		      int *attach_errno);

#endif /* __CW_STACK_WALK_H */
