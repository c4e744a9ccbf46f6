/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where in a function to put a uprobe.
 *
 * A uprobe on an instruction the kernel emulates costs ~0.6 us a hit on the 2-vCPU test
 * VMs; on any other instruction the kernel single-steps a copy out of line, ~5.5 us.
 * glibc's lock functions often start with a few register moves and
 * then a jcc or jmp, which the kernel emulates: a probe there sees the same call, once,
 * with the registers the program reads unchanged, at a tenth of the cost.
 *
 * cw_placement__find() decodes the function (capstone) and returns the first emulated
 * instruction that runs exactly once on every path from the entry and before which
 * nothing changes what the program reads; otherwise the entry (offset 0). It only ever
 * sees the bytes it is given: a branch into the function from outside them (another
 * function, a .cold part) is not seen. Callers pass the symbol's whole st_size; none of
 * the glibc 2.36 lock functions has a .cold part.
 *
 * At a probe placed at offset N, PT_REGS_IP() is the function's address + N.
 */
#ifndef __CW_PLACEMENT_H
#define __CW_PLACEMENT_H

#include <stddef.h>
#include <linux/types.h>

/* Registers a probe's BPF program reads at the probe (bit per register). */
#define CW_REG_RDI	(1U << 0)
#define CW_REG_RSI	(1U << 1)
#define CW_REG_RDX	(1U << 2)
#define CW_REG_RCX	(1U << 3)
#define CW_REG_R8	(1U << 4)
#define CW_REG_R9	(1U << 5)
#define CW_REG_RAX	(1U << 6)
#define CW_REG_RBX	(1U << 7)
#define CW_REG_RBP	(1U << 8)	/* frame-pointer stack walks read it */
#define CW_REG_RSP	(1U << 9)	/* %rsp itself: treated like stack_top */
#define CW_REG_R10	(1U << 10)
#define CW_REG_R11	(1U << 11)
#define CW_REG_R12	(1U << 12)
#define CW_REG_R13	(1U << 13)
#define CW_REG_R14	(1U << 14)
#define CW_REG_R15	(1U << 15)
#define CW_REG_FLAGS	(1U << 16)
/* The six integer arguments of the x86-64 SysV calling convention. */
#define CW_REG_ARGS	(CW_REG_RDI | CW_REG_RSI | CW_REG_RDX | CW_REG_RCX | CW_REG_R8 | CW_REG_R9)

struct cw_placement_req {
	const __u8 *code;	/* the function's bytes, st_size of its symbol */
	size_t len;
	__u64 addr;		/* the function's address in the file (for branch targets) */
	__u32 regs_read;	/* CW_REG_*: the program reads these registers at the probe */
	int stack_top;		/* the program reads [%rsp] (the return address) or a return
				 * probe shares the probe: %rsp must still point at the return
				 * address */
	int kernel_push_emulated; /* the running kernel emulates push (4.16 and later) */
	int kernel_nopl_emulated; /* the running kernel emulates the multi-byte nops of its
				   * x86_nops[] table, 0f 1f ... (6.16 and later) */
};

struct cw_placement {
	__u64 offset;		/* where to put the uprobe, from the function's start */
	int emulated;		/* the instruction there is one the kernel emulates */
	int refused;		/* the kernel refuses any uprobe on the instruction there (a lock
				 * or segment prefix, a 66-prefixed branch...): attaching fails;
				 * only ever set at the entry */
	__u64 after_jcc;	/* offset of the instruction after the first conditional
				 * branch, its fall-through (0: none decoded) */
	char why[128];		/* one line: why there ("emulated jne at +0xe") or why the entry */
};

/*
 * Choose where to probe the function in req. 0 and *out filled (the entry, with the
 * reason, whenever no better place is provably right); -EINVAL for a NULL argument or
 * NULL code with a length; -ENOMEM; -EIO if capstone cannot be opened.
 */
int cw_placement__find(const struct cw_placement_req *req, struct cw_placement *out);

/* What a kernel release emulates beyond branches and 0x90 nops. */
#define CW_EMU_PUSH	(1U << 0)	/* push %reg: 50+r, 41 50+r */
#define CW_EMU_NOPL	(1U << 1)	/* x86_nops[3..8]: 0f 1f 00 ... 0f 1f 84 00 00 00 00 00 */

/* CW_EMU_* for a `uname -r` string ("6.12.117+deb12-amd64"), or -EINVAL. */
int cw_placement__release_emulates(const char *release);

/* Whether this kernel emulates push for uprobes: 1, 0, or -errno (uname failed). */
int cw_placement__kernel_emulates_push(void);

/* Whether this kernel emulates the 0f 1f multi-byte nops: 1, 0, or -errno. */
int cw_placement__kernel_emulates_nopl(void);

#endif /* __CW_PLACEMENT_H */
