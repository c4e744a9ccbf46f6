// SPDX-License-Identifier: GPL-2.0
/*
 * Uprobe placement (tools/lib/source/placement.c): crafted byte sequences for every rule,
 * with exact offsets and reasons; then this machine's glibc, whose lock functions must
 * get a placement that is provably the entry's equal (checked here independently, with
 * capstone), and exactly the one binutils' objdump decoding gives, whatever the build.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <capstone/capstone.h>

#include "kselftest_harness.h"
#include "source/placement.h"
#include "source/target.h"

#define BYTES(...) \
	.code = (const __u8[]){ __VA_ARGS__ }, .len = sizeof((const __u8[]){ __VA_ARGS__ })

/* ------------------------------------------------------------------------------------ */
/* Crafted functions at address 0x1000: exact offset, emulated, refused and reason.      */

FIXTURE(crafted)
{
	int unused;
};

FIXTURE_VARIANT(crafted)
{
	const __u8 *code;
	size_t len;
	__u32 regs;
	int stack_top;
	int push;		/* kernel_push_emulated */
	int nopl;		/* kernel_nopl_emulated */
	__u64 offset;
	int emulated;
	int refused;
	const char *why;
};

FIXTURE_SETUP(crafted)
{
}

FIXTURE_TEARDOWN(crafted)
{
}

/* pthread_mutex_lock's shape: loads and masks that leave %rdi alone, then jne forward */
#define MUTEX_LOCK_LIKE \
	0x8b, 0x47, 0x10,			/* 0x0 mov 0x10(%rdi),%eax */ \
	0x89, 0xc2,				/* 0x3 mov %eax,%edx */ \
	0x81, 0xe2, 0x7f, 0x01, 0x00, 0x00,	/* 0x5 and $0x17f,%edx */ \
	0x83, 0xe0, 0x7c,			/* 0xb and $0x7c,%eax */ \
	0x75, 0x01,				/* 0xe jne 0x11 */ \
	0xc3,					/* 0x10 ret */ \
	0x31, 0xc0				/* 0x11 xor %eax,%eax */

FIXTURE_VARIANT_ADD(crafted, jcc_after_movs)
{
	BYTES(MUTEX_LOCK_LIKE, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 0xe, .emulated = 1, .why = "emulated jne at +0xe",
};

/* %rsi is written (mov $1,%esi): fine while the program reads %rdi only */
FIXTURE_VARIANT_ADD(crafted, jmp_after_unrelated_write)
{
	BYTES(0xbe, 0x01, 0x00, 0x00, 0x00,	/* mov $1,%esi */
	      0xe9, 0x00, 0x01, 0x00, 0x00),	/* jmp (out of the function) */
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 5, .emulated = 1, .why = "emulated jmp at +0x5",
};

FIXTURE_VARIANT_ADD(crafted, jmp_after_write_of_read_register)
{
	BYTES(0xbe, 0x01, 0x00, 0x00, 0x00,	/* mov $1,%esi */
	      0xe9, 0x00, 0x01, 0x00, 0x00),
	.regs = CW_REG_RDI | CW_REG_RSI, .stack_top = 1, .push = 1,
	.offset = 0, .why = "entry: mov at +0 writes %esi, which the program reads",
};

FIXTURE_VARIANT_ADD(crafted, mov_to_rdi_before_jcc)
{
	BYTES(0x48, 0x89, 0xf7,			/* mov %rsi,%rdi */
	      0x85, 0xc0,			/* test %eax,%eax */
	      0x75, 0x00,			/* jne */
	      0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 0, .why = "entry: mov at +0 writes %rdi, which the program reads",
};

/* a byte register is part of its register */
FIXTURE_VARIANT_ADD(crafted, mov_to_dil_before_jcc)
{
	BYTES(0x40, 0x88, 0xc7,			/* mov %al,%dil */
	      0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: mov at +0 writes %dil, which the program reads",
};

FIXTURE_VARIANT_ADD(crafted, flags_read)
{
	BYTES(0x85, 0xc0, 0x75, 0x00, 0xc3),	/* test; jne */
	.regs = CW_REG_RDI | CW_REG_FLAGS,
	.offset = 0, .why = "entry: test at +0 writes %rflags, which the program reads",
};

#define PUSH_THEN_JNE \
	0x53,					/* 0x0 push %rbx */ \
	0x85, 0xff,				/* 0x1 test %edi,%edi */ \
	0x75, 0x01,				/* 0x3 jne 0x6 */ \
	0x5b,					/* 0x5 pop %rbx */ \
	0xc3					/* 0x6 ret */

FIXTURE_VARIANT_ADD(crafted, push_before_jne_stack_top)
{
	BYTES(PUSH_THEN_JNE),
	.regs = CW_REG_RDI, .stack_top = 1, .push = 0,
	.offset = 0, .why = "entry: push at +0 moves %rsp",
};

FIXTURE_VARIANT_ADD(crafted, push_before_jne_rsp_read)
{
	BYTES(PUSH_THEN_JNE),
	.regs = CW_REG_RDI | CW_REG_RSP, .stack_top = 0, .push = 0,
	.offset = 0, .why = "entry: push at +0 moves %rsp",
};

FIXTURE_VARIANT_ADD(crafted, push_before_jne_no_stack_top)
{
	BYTES(PUSH_THEN_JNE),
	.regs = CW_REG_RDI, .stack_top = 0, .push = 0,
	.offset = 3, .emulated = 1, .why = "emulated jne at +0x3",
};

FIXTURE_VARIANT_ADD(crafted, push_at_entry_emulated)
{
	BYTES(0x41, 0x56,			/* push %r14 */
	      0x53, 0x48, 0x89, 0xfb, 0x85, 0xf6, 0x74, 0x00, 0x5b, 0x41, 0x5e, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 0, .emulated = 1, .why = "emulated push at the entry",
};

FIXTURE_VARIANT_ADD(crafted, push_at_entry_not_emulated)
{
	BYTES(0x41, 0x56, 0x53, 0x48, 0x89, 0xfb, 0x85, 0xf6, 0x74, 0x00, 0x5b, 0x41, 0x5e, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .push = 0,
	.offset = 0, .why = "entry: push at +0 moves %rsp",
};

/* without stack_top the pushes and the copy of %rdi to %rbx stay out of the way */
FIXTURE_VARIANT_ADD(crafted, pushes_then_je_no_stack_top)
{
	BYTES(0x41, 0x56,			/* 0x0 push %r14 */
	      0x53,				/* 0x2 push %rbx */
	      0x48, 0x89, 0xfb,			/* 0x3 mov %rdi,%rbx */
	      0x85, 0xf6,			/* 0x6 test %esi,%esi */
	      0x74, 0x00,			/* 0x8 je */
	      0x5b, 0x41, 0x5e, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 0, .push = 0,
	.offset = 8, .emulated = 1, .why = "emulated je at +0x8",
};

/* only 50+r and 41 50+r are emulated: REX.W push is single-stepped */
FIXTURE_VARIANT_ADD(crafted, rex_w_push_not_emulated)
{
	BYTES(0x48, 0x53,			/* rex.W push %rbx */
	      0x75, 0x00, 0x5b, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 0, .push = 1,
	.offset = 2, .emulated = 1, .why = "emulated jne at +0x2",
};

/* a later jmp back to +2 would run the jne at +4 twice in one call */
FIXTURE_VARIANT_ADD(crafted, backward_branch_into_prefix)
{
	BYTES(0x8b, 0x07,			/* 0x0 mov (%rdi),%eax */
	      0x85, 0xc0,			/* 0x2 test %eax,%eax */
	      0x75, 0x03,			/* 0x4 jne 0x9 */
	      0x31, 0xc0,			/* 0x6 xor %eax,%eax */
	      0xc3,				/* 0x8 ret */
	      0xf3, 0x90,			/* 0x9 pause */
	      0xeb, 0xf5),			/* 0xb jmp 0x2 */
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 0, .why = "entry: jmp at +0xb jumps to +0x2, at or before jne at +0x4",
};

FIXTURE_VARIANT_ADD(crafted, backward_branch_onto_the_jcc)
{
	BYTES(0x8b, 0x07, 0x85, 0xc0,
	      0x75, 0x03,			/* 0x4 jne 0x9 */
	      0x31, 0xc0, 0xc3,
	      0xf3, 0x90,			/* 0x9 pause */
	      0x7f, 0xf7),			/* 0xb jg 0x4 */
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 0, .why = "entry: jg at +0xb jumps to +0x4, at or before jne at +0x4",
};

/* pthread_spin_lock's retry loop jumps back to the entry: the span runs once per retry */
FIXTURE_VARIANT_ADD(crafted, backward_branch_to_entry)
{
	BYTES(0x8b, 0x07,			/* 0x0 mov (%rdi),%eax */
	      0x85, 0xc0,			/* 0x2 test */
	      0x75, 0x01,			/* 0x4 jne 0x7 */
	      0xc3,				/* 0x6 ret */
	      0xf3, 0x90,			/* 0x7 pause */
	      0xeb, 0xf5),			/* 0x9 jmp 0x0 */
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 0, .why = "entry: jmp at +0x9 jumps to +0, at or before jne at +0x4",
};

/* a branch into the middle of the candidate's bytes counts as one into the span */
FIXTURE_VARIANT_ADD(crafted, branch_into_the_jcc_bytes)
{
	BYTES(0x8b, 0x07,
	      0x0f, 0x85, 0x01, 0x00, 0x00, 0x00, /* 0x2 jne 0x9 */
	      0xc3,				/* 0x8 ret */
	      0xeb, 0xf9),			/* 0x9 jmp 0x4 */
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: jmp at +0x9 jumps to +0x4, at or before jne at +0x2",
};

/* a recursive call of the entry is another call: it does not count */
FIXTURE_VARIANT_ADD(crafted, recursive_call_of_entry)
{
	BYTES(0x85, 0xff,			/* 0x0 test %edi,%edi */
	      0x74, 0x06,			/* 0x2 je 0xa */
	      0xff, 0xcf,			/* 0x4 dec %edi */
	      0xe8, 0xf5, 0xff, 0xff, 0xff,	/* 0x6 call 0x0 */
	      0xc3),				/* 0xb ret */
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 2, .emulated = 1, .why = "emulated je at +0x2",
};

FIXTURE_VARIANT_ADD(crafted, indirect_jmp_anywhere)
{
	BYTES(MUTEX_LOCK_LIKE, 0xff, 0xe0),	/* 0x13 jmp *%rax */
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 0, .why = "entry: indirect jmp at +0x13",
};

FIXTURE_VARIANT_ADD(crafted, notrack_indirect_jmp_anywhere)
{
	BYTES(MUTEX_LOCK_LIKE, 0x3e, 0xff, 0xe0), /* 0x13 notrack jmp *%rax */
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: indirect jmp at +0x13",
};

FIXTURE_VARIANT_ADD(crafted, indirect_call_anywhere)
{
	BYTES(MUTEX_LOCK_LIKE, 0xff, 0xd0, 0xc3), /* 0x13 call *%rax */
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: indirect call at +0x13",
};

FIXTURE_VARIANT_ADD(crafted, indirect_call_before)
{
	BYTES(0xff, 0x15, 0x00, 0x00, 0x00, 0x00, /* call *0x0(%rip) */
	      0x85, 0xc0, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: indirect call at +0",
};

/* a call rel32 is emulated itself: the probe fires before it, once */
FIXTURE_VARIANT_ADD(crafted, call_rel32_first)
{
	BYTES(0x48, 0x89, 0xfb,			/* mov %rdi,%rbx */
	      0xe8, 0x00, 0x01, 0x00, 0x00,	/* call (elsewhere) */
	      0x85, 0xc0, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1,
	.offset = 3, .emulated = 1, .why = "emulated call at +0x3",
};

FIXTURE_VARIANT_ADD(crafted, syscall_before)
{
	BYTES(0x31, 0xc0, 0x0f, 0x05, 0x85, 0xc0, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: syscall at +0x2 comes before any emulated instruction",
};

FIXTURE_VARIANT_ADD(crafted, ret_before)
{
	BYTES(0x31, 0xc0, 0xc3, 0x75, 0x00),	/* pthread_rwlock_destroy, then dead code */
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: ret at +0x2 comes before any emulated instruction",
};

FIXTURE_VARIANT_ADD(crafted, store_before)
{
	BYTES(0xc7, 0x07, 0x01, 0x00, 0x00, 0x00, /* movl $1,(%rdi) */
	      0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: mov at +0 writes memory",
};

/* pthread_spin_lock: lock decl at the entry, which no kernel lets a uprobe sit on */
FIXTURE_VARIANT_ADD(crafted, lock_prefix_at_entry)
{
	BYTES(0xf0, 0xff, 0x0f,			/* 0x0 lock decl (%rdi) */
	      0x75, 0x0b,			/* 0x3 jne 0x10 */
	      0x31, 0xc0, 0xc3,
	      0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00,
	      0xf3, 0x90,			/* 0x10 pause */
	      0x83, 0x3f, 0x00,			/* 0x12 cmpl $0,(%rdi) */
	      0x7f, 0xe9,			/* 0x15 jg 0x0 */
	      0xeb, 0xf7),			/* 0x17 jmp 0x10 */
	.regs = CW_REG_RDI, .stack_top = 1, .push = 1, .nopl = 1,
	.offset = 0, .refused = 1, .why = "entry: lock dec at +0 writes memory",
};

FIXTURE_VARIANT_ADD(crafted, nop_after_load)
{
	BYTES(0x8b, 0x47, 0x10, 0x90, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1,
	.offset = 3, .emulated = 1, .why = "emulated nop at +0x3",
};

FIXTURE_VARIANT_ADD(crafted, nop_at_entry)
{
	BYTES(0x66, 0x90, 0x8b, 0x47, 0x10, 0xc3),	/* xchg %ax,%ax */
	.regs = CW_REG_RDI, .stack_top = 1,
	.offset = 0, .emulated = 1, .why = "emulated nop at the entry",
};

FIXTURE_VARIANT_ADD(crafted, pause_is_a_nop)
{
	BYTES(0x8b, 0x47, 0x10, 0xf3, 0x90, 0xc3),
	.regs = CW_REG_RDI,
	.offset = 3, .emulated = 1, .why = "emulated pause at +0x3",
};

/* 41 90 is xchg %eax,%r8d, though the kernel emulates it as a nop: never chosen */
FIXTURE_VARIANT_ADD(crafted, rex_b_90_is_no_nop)
{
	BYTES(0x41, 0x90, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI,
	.offset = 2, .emulated = 1, .why = "emulated jne at +0x2",
};

FIXTURE_VARIANT_ADD(crafted, nopl_emulated_6_16)
{
	BYTES(0x8b, 0x47, 0x10,
	      0x0f, 0x1f, 0x44, 0x00, 0x00,	/* 0x3 nopl 0x0(%rax,%rax,1) */
	      0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .nopl = 1,
	.offset = 3, .emulated = 1, .why = "emulated nop at +0x3",
};

FIXTURE_VARIANT_ADD(crafted, nopw_emulated_6_16)
{
	BYTES(0x8b, 0x47, 0x10,
	      0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00, /* 0x3 nopw 0x0(%rax,%rax,1) */
	      0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .nopl = 1,
	.offset = 3, .emulated = 1, .why = "emulated nop at +0x3",
};

FIXTURE_VARIANT_ADD(crafted, nopl_single_stepped_before_6_16)
{
	BYTES(0x8b, 0x47, 0x10, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .nopl = 0,
	.offset = 8, .emulated = 1, .why = "emulated jne at +0x8",
};

/* same length as x86_nops[4], other bytes: 6.16-6.18 compare bytes, not meaning */
FIXTURE_VARIANT_ADD(crafted, nopl_other_form_single_stepped)
{
	BYTES(0x8b, 0x47, 0x10, 0x0f, 0x1f, 0x04, 0x00, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .nopl = 1,
	.offset = 7, .emulated = 1, .why = "emulated jne at +0x7",
};

/* cs-prefixed nops (x86_nops[9..11] among them) are refused by every kernel */
FIXTURE_VARIANT_ADD(crafted, cs_nopw_refused)
{
	BYTES(0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI, .stack_top = 1, .nopl = 1,
	.offset = 0xa, .emulated = 1, .why = "emulated jne at +0xa",
};

FIXTURE_VARIANT_ADD(crafted, bnd_jmp)
{
	BYTES(0xbe, 0x01, 0x00, 0x00, 0x00,
	      0xf2, 0xe9, 0x00, 0x01, 0x00, 0x00), /* bnd jmp */
	.regs = CW_REG_RDI,
	.offset = 5, .emulated = 1, .why = "emulated bnd jmp at +0x5",
};

/* a ds (branch hint) prefix makes the kernel refuse the jcc */
FIXTURE_VARIANT_ADD(crafted, hinted_jcc_refused)
{
	BYTES(0x8b, 0x07, 0x3e, 0x75, 0x00, 0xc3),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: jne at +0x2 comes before any emulated instruction",
};

/* Intel and AMD disagree on 66 jmp: its length and target are not known */
FIXTURE_VARIANT_ADD(crafted, jmp16_anywhere)
{
	BYTES(0x8b, 0x07, 0x75, 0x00, 0x66, 0xe9, 0x00, 0x00),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: 66-prefixed jmp at +0x4",
};

FIXTURE_VARIANT_ADD(crafted, jmp16_at_entry_refused)
{
	BYTES(0x66, 0xe9, 0x00, 0x00),
	.regs = CW_REG_RDI,
	.offset = 0, .refused = 1, .why = "entry: 66-prefixed jmp at +0",
};

FIXTURE_VARIANT_ADD(crafted, jcc_at_entry)
{
	BYTES(0x75, 0x02, 0xeb, 0xfc, 0xc3),	/* jne; a later jmp back to it */
	.regs = CW_REG_RDI, .stack_top = 1,
	.offset = 0, .emulated = 1, .why = "emulated jne at the entry",
};

FIXTURE_VARIANT_ADD(crafted, undecodable_byte_before)
{
	BYTES(0x8b, 0x47, 0x10, 0x06, 0x75, 0x00, 0xc3),	/* 06: push %es, gone in 64-bit */
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: cannot decode the bytes at +0x3",
};

FIXTURE_VARIANT_ADD(crafted, undecodable_byte_after)
{
	BYTES(0x8b, 0x47, 0x10, 0x75, 0x00, 0xc3, 0x06),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: cannot decode the bytes at +0x6",
};

FIXTURE_VARIANT_ADD(crafted, cannot_analyse)
{
	BYTES(0x0f, 0xa2, 0x75, 0x00, 0xc3),	/* cpuid */
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: cannot analyse cpuid at +0",
};

FIXTURE_VARIANT_ADD(crafted, one_operand_imul_cannot_be_analysed)
{
	BYTES(0xf7, 0xe9, 0x75, 0x00, 0xc3),	/* imul %ecx: writes %edx:%eax */
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: cannot analyse imul at +0",
};

FIXTURE_VARIANT_ADD(crafted, shorter_than_an_instruction)
{
	BYTES(0x8b, 0x47),			/* the first two bytes of mov 0x10(%rdi),%eax */
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: cannot decode the bytes at +0",
};

FIXTURE_VARIANT_ADD(crafted, truncated_jcc)
{
	BYTES(0x75),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: cannot decode the bytes at +0",
};

FIXTURE_VARIANT_ADD(crafted, no_emulated_instruction)
{
	BYTES(0x8b, 0x47, 0x10, 0x89, 0xc2),
	.regs = CW_REG_RDI,
	.offset = 0, .why = "entry: no emulated instruction in the function",
};

TEST_F(crafted, place)
{
	struct cw_placement_req req = {
		.code = variant->code,
		.len = variant->len,
		.addr = 0x1000,
		.regs_read = variant->regs,
		.stack_top = variant->stack_top,
		.kernel_push_emulated = variant->push,
		.kernel_nopl_emulated = variant->nopl,
	};
	struct cw_placement out;

	ASSERT_EQ(0, cw_placement__find(&req, &out));
	EXPECT_STREQ(variant->why, out.why);
	EXPECT_EQ(variant->offset, out.offset);
	EXPECT_EQ(variant->emulated, out.emulated);
	EXPECT_EQ(variant->refused, out.refused);
}

/*
 * Where a function refused at its entry has taken its lock: the fall-through of its
 * first conditional branch (pthread_spin_lock: lock decl; jne spin; here).
 */
TEST(after_first_conditional_branch)
{
	static const __u8 spin[] = { 0xf0, 0xff, 0x0f, 0x75, 0x0b, 0x31, 0xc0, 0xc3 };
	static const __u8 jmp_only[] = { 0xeb, 0x00, 0x31, 0xc0, 0xc3 };
	struct cw_placement_req req = { .code = spin, .len = sizeof(spin), .addr = 0x1000,
					 .regs_read = CW_REG_RDI, .stack_top = 1 };
	struct cw_placement out;

	ASSERT_EQ(0, cw_placement__find(&req, &out));
	EXPECT_EQ(1, out.refused);
	EXPECT_EQ(5, out.after_jcc);
	req.code = jmp_only;
	req.len = sizeof(jmp_only);
	ASSERT_EQ(0, cw_placement__find(&req, &out));
	EXPECT_EQ(0, out.after_jcc);	/* an unconditional jump is no such branch */
}

/* The address only moves branch targets: the same bytes anywhere place the same. */
TEST(crafted_address_independent)
{
	const __u8 code[] = { MUTEX_LOCK_LIKE, 0xc3 };
	struct cw_placement_req req = {
		.code = code, .len = sizeof(code), .regs_read = CW_REG_RDI, .stack_top = 1,
	};
	const __u64 addrs[] = { 0, 0x8c370, 0x7fffffffe000ULL, 0xffffffffffffff00ULL };
	struct cw_placement out;

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		req.addr = addrs[i];
		ASSERT_EQ(0, cw_placement__find(&req, &out));
		EXPECT_EQ(0xe, out.offset);
	}
}

TEST(empty_and_invalid)
{
	const __u8 code[] = { 0xc3 };
	struct cw_placement_req req = { .code = NULL, .len = 0 };
	struct cw_placement out;

	ASSERT_EQ(0, cw_placement__find(&req, &out));
	EXPECT_EQ(0, out.offset);
	EXPECT_EQ(0, out.emulated);
	EXPECT_STREQ("entry: the function is empty", out.why);

	req.len = 4;
	EXPECT_EQ(-EINVAL, cw_placement__find(&req, &out));
	req.code = code;
	req.len = sizeof(code);
	EXPECT_EQ(-EINVAL, cw_placement__find(NULL, &out));
	EXPECT_EQ(-EINVAL, cw_placement__find(&req, NULL));
}

TEST(release_emulates)
{
	EXPECT_EQ(0, cw_placement__release_emulates("4.15.0-213-generic"));
	EXPECT_EQ(CW_EMU_PUSH, cw_placement__release_emulates("4.16.0"));
	EXPECT_EQ(CW_EMU_PUSH, cw_placement__release_emulates("5.15.0-105-generic"));
	EXPECT_EQ(CW_EMU_PUSH, cw_placement__release_emulates("6.1.0-56-amd64"));
	EXPECT_EQ(CW_EMU_PUSH, cw_placement__release_emulates("6.12.117+deb12-amd64"));
	EXPECT_EQ(CW_EMU_PUSH, cw_placement__release_emulates("6.15.11"));
	EXPECT_EQ(CW_EMU_PUSH | CW_EMU_NOPL, cw_placement__release_emulates("6.16.0-rc1"));
	EXPECT_EQ(CW_EMU_PUSH | CW_EMU_NOPL, cw_placement__release_emulates("6.18.44-fc-v669"));
	EXPECT_EQ(CW_EMU_PUSH | CW_EMU_NOPL, cw_placement__release_emulates("7.0.0"));
	EXPECT_EQ(-EINVAL, cw_placement__release_emulates("linux"));
	EXPECT_EQ(-EINVAL, cw_placement__release_emulates("6"));
	EXPECT_EQ(-EINVAL, cw_placement__release_emulates(NULL));
	/* every kernel concwatch supports (6.1 and later) emulates push */
	EXPECT_EQ(1, cw_placement__kernel_emulates_push());
}

/* The running kernel's nops: 6.16 and later emulate them, read here from uname(2) alone. */
TEST(running_kernel_emulates_nopl)
{
	unsigned int major, minor;
	struct utsname u;

	ASSERT_EQ(0, uname(&u));
	ASSERT_EQ(2, sscanf(u.release, "%u.%u", &major, &minor)) TH_LOG("%s", u.release);
	EXPECT_EQ(major > 6 || (major == 6 && minor >= 16), cw_placement__kernel_emulates_nopl())
		TH_LOG("%s", u.release);
}

/* ------------------------------------------------------------------------------------ */
/* This machine's glibc.                                                                 */

#define LIBC_PATH "/lib/x86_64-linux-gnu/libc.so.6"
struct libc_func {
	const char *name;
};

/*
 * The functions concwatch probes. Where each gets its probe is checked against objdump's
 * decoding (libc_objdump), for whichever glibc build is installed: in Debian 12's 2.36
 * (libc6 2.36-9+deb12u14) pthread_mutex_lock's is the jne at +0xe, the rwlock trylocks'
 * cmpxchg retry loops jump back into the prefix and keep them at the entry, and
 * pthread_spin_lock's lock decl at the entry is refused by every kernel.
 */
static const struct libc_func libc_funcs[] = {
	{ "pthread_mutex_lock" },
	{ "pthread_mutex_unlock" },
	{ "pthread_mutex_trylock" },
	{ "pthread_mutex_timedlock" },
	{ "pthread_mutex_clocklock" },
	{ "pthread_rwlock_rdlock" },
	{ "pthread_rwlock_wrlock" },
	{ "pthread_rwlock_tryrdlock" },
	{ "pthread_rwlock_trywrlock" },
	{ "pthread_rwlock_timedrdlock" },
	{ "pthread_rwlock_timedwrlock" },
	{ "pthread_rwlock_clockrdlock" },
	{ "pthread_rwlock_clockwrlock" },
	{ "pthread_rwlock_unlock" },
	{ "pthread_spin_lock" },
	{ "pthread_spin_trylock" },
	{ "pthread_spin_unlock" },
	{ "pthread_cond_wait" },
	{ "pthread_cond_timedwait" },
	{ "pthread_cond_clockwait" },
	{ "pthread_mutex_init" },
	{ "pthread_mutex_destroy" },
	{ "pthread_rwlock_destroy" },
};

#define NR_LIBC_FUNCS (sizeof(libc_funcs) / sizeof(libc_funcs[0]))

/* The bytes at vaddr, len of them, from the executable section holding them; NULL if none. */
static const __u8 *elf_code(Elf *elf, __u64 vaddr, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		if (vaddr < sh.sh_addr || vaddr + len > sh.sh_addr + sh.sh_size)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < sh.sh_size)
			return NULL;
		return (const __u8 *)d->d_buf + (vaddr - sh.sh_addr);
	}
	return NULL;
}

/* A function of libc as concwatch finds it (target.c): its address and size. */
static int libc_func(struct cw_elf *f, const char *name, __u64 *value, __u64 *size)
{
	struct cw_elf_func ef;
	int err = cw_elf__func(f, name, &ef);

	if (!err) {
		*value = ef.addr;
		*size = ef.len;
	}
	return err;
}

static void build_id(Elf *elf, char *hex, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	snprintf(hex, len, "(none)");
	while ((scn = elf_nextscn(elf, scn))) {
		size_t off = 0, name_off, desc_off;
		Elf_Data *d;
		GElf_Nhdr nh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			const __u8 *desc = (const __u8 *)d->d_buf + desc_off;

			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((const char *)d->d_buf + name_off, "GNU", 4))
				continue;
			for (size_t i = 0; i < nh.n_descsz && 2 * i + 2 < len; i++)
				snprintf(hex + 2 * i, 3, "%02x", desc[i]);
			return;
		}
	}
}

static struct cw_placement_req probe_req(void)
{
	struct cw_placement_req req = {
		.regs_read = CW_REG_RDI,
		.stack_top = 1,
		.kernel_push_emulated = 1,
		.kernel_nopl_emulated = 1,
	};

	return req;
}

/*
 * The request for code at addr on one of eight kernel flavours: push emulation (bit 0)
 * and nopl emulation (bit 1) on or off, and (bit 2) a program that also reads %rsi and
 * not the top of the stack.
 */
static struct cw_placement_req flavour_req(const __u8 *code, __u64 len, __u64 addr, int flavour)
{
	struct cw_placement_req req = probe_req();

	req.code = code;
	req.len = len;
	req.addr = addr;
	req.kernel_push_emulated = flavour & 1;
	req.kernel_nopl_emulated = !!(flavour & 2);
	if (flavour & 4) {
		req.regs_read = CW_REG_RDI | CW_REG_RSI;
		req.stack_top = 0;
	}
	return req;
}

/* Whether reg is family (X86_REG_RDI, _RSI or _RSP) or one of its parts. */
static int reg_in_family(unsigned int reg, unsigned int family)
{
	static const unsigned int rdi[] = { X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL };
	static const unsigned int rsi[] = { X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL };
	static const unsigned int rsp[] = { X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL };
	const unsigned int *set = family == X86_REG_RDI ? rdi : family == X86_REG_RSI ? rsi : rsp;

	for (int i = 0; i < 4; i++)
		if (reg == set[i])
			return 1;
	return 0;
}

static int has_target(csh cs, const cs_insn *in)
{
	return cs_insn_group(cs, in, X86_GRP_JUMP) || cs_insn_group(cs, in, X86_GRP_CALL) ||
	       cs_insn_group(cs, in, X86_GRP_BRANCH_RELATIVE);
}

static int cs_writes(csh cs, const cs_insn *in, unsigned int reg_family)
{
	cs_regs rd, wr;
	uint8_t nrd, nwr;

	if (cs_regs_access(cs, in, rd, &nrd, wr, &nwr) != CS_ERR_OK)
		return 1;
	for (int i = 0; i < nwr; i++)
		if (reg_in_family(wr[i], reg_family))
			return 1;
	return 0;
}

/*
 * The properties the placement must have, checked with capstone independently of
 * placement.c: what it returns is the entry or an instruction the kernel emulates (by
 * its bytes); nothing before it is a control-flow instruction, writes what the program
 * reads, moves %rsp (stack_top) or stores; no branch of the function lands on or before
 * it. Returns NULL or what failed.
 */
static const char *check_properties(const __u8 *code, size_t len, __u64 addr,
				    const struct cw_placement_req *req,
				    const struct cw_placement *out, char *msg, size_t msglen)
{
	const __u8 *p = code;
	uint64_t a = addr;
	size_t n = len;
	cs_insn *in;
	csh cs;
	const char *bad = NULL;

	if (out->offset >= len)
		return "offset past the function";
	if (out->offset == 0)
		return NULL;
	if (!out->emulated)
		return "moved from the entry to an instruction that is not emulated";
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return "capstone";
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(cs);
	while (n && !bad) {
		__u64 off = a - addr;
		const cs_x86 *x86;
		int branch;

		if (!cs_disasm_iter(cs, &p, &n, &a, in)) {
			bad = "undecodable";
			break;
		}
		x86 = &in->detail->x86;
		branch = has_target(cs, in);
		if (branch) {
			__u64 t;

			if (x86->op_count != 1 || x86->operands[0].type != X86_OP_IMM) {
				bad = "indirect branch in the function";
				break;
			}
			t = x86->operands[0].imm - addr;
			if (t <= out->offset && !(t == 0 && cs_insn_group(cs, in, X86_GRP_CALL))) {
				snprintf(msg, msglen, "%s at +%#llx lands at +%#llx",
					 in->mnemonic, (unsigned long long)off,
					 (unsigned long long)t);
				bad = msg;
			}
		}
		if (off == out->offset) {
			size_t k = 0;
			__u8 op, op2;

			/* f2, f3, 66 and REX prefixes */
			while (k + 1 < in->size && (in->bytes[k] == 0xf2 || in->bytes[k] == 0xf3 ||
						    in->bytes[k] == 0x66 ||
						    (in->bytes[k] & 0xf0) == 0x40))
				k++;
			op = in->bytes[k];
			op2 = k + 1 < in->size ? in->bytes[k + 1] : 0;
			if (!(op == 0x90 || op == 0xeb || op == 0xe9 || op == 0xe8 ||
			      (op >= 0x70 && op <= 0x7f) || (op >= 0x50 && op <= 0x57) ||
			      (op == 0x0f && ((op2 & 0xf0) == 0x80 || op2 == 0x1f))))
				bad = "the chosen instruction is not one the kernel emulates";
		}
		if (off >= out->offset)
			continue;
		if (branch || cs_insn_group(cs, in, X86_GRP_RET) ||
		    cs_insn_group(cs, in, X86_GRP_INT))
			bad = "control flow before the probe";
		else if ((req->regs_read & CW_REG_RDI) && cs_writes(cs, in, X86_REG_RDI))
			bad = "writes %rdi before the probe";
		else if ((req->regs_read & CW_REG_RSI) && cs_writes(cs, in, X86_REG_RSI))
			bad = "writes %rsi before the probe";
		else if (req->stack_top && cs_writes(cs, in, X86_REG_RSP))
			bad = "moves %rsp before the probe";
		for (int i = 0; i < x86->op_count && !bad; i++)
			if (x86->operands[i].type == X86_OP_MEM &&
			    (x86->operands[i].access & CS_AC_WRITE))
				bad = "stores before the probe";
	}
	cs_free(in, 1);
	cs_close(&cs);
	return bad;
}

/*
 * Each function is found at the version programs call: the default one, as the dynamic
 * linker binds it (dlsym() in this very libc), not an old version of the same name that
 * only binaries linked against it call (glibc 2.36 lists pthread_cond_timedwait@GLIBC_2.2.5
 * first in its .dynsym, before the default @@GLIBC_2.3.2: a probe there saw no call).
 */
TEST(libc_default_versions)
{
	void *libc = dlopen(LIBC_PATH, RTLD_NOW | RTLD_NOLOAD);
	struct cw_elf *f = NULL;

	if (!libc || cw_elf__open(LIBC_PATH, &f))
		SKIP(return, "no %s", LIBC_PATH);
	for (size_t i = 0; i < NR_LIBC_FUNCS; i++) {
		void *sym = dlsym(libc, libc_funcs[i].name);
		__u64 value, size;
		Dl_info info;

		ASSERT_NE(NULL, sym) TH_LOG("%s", libc_funcs[i].name);
		ASSERT_NE(0, dladdr(sym, &info));
		ASSERT_EQ(0, libc_func(f, libc_funcs[i].name, &value, &size));
		EXPECT_EQ((__u64)((char *)sym - (char *)info.dli_fbase), value)
			TH_LOG("%s", libc_funcs[i].name);
	}
	cw_elf__close(f);
	dlclose(libc);
}

/*
 * Every function, with the live program's request and with a stricter one (%rsi read too,
 * no stack_top, no push emulation), has the properties; and the same on every kernel
 * flavour (push and nopl emulation on and off).
 */
TEST(libc_properties)
{
	struct cw_elf *f = NULL;
	char msg[128];

	if (cw_elf__open(LIBC_PATH, &f))
		SKIP(return, "no %s", LIBC_PATH);
	for (size_t i = 0; i < NR_LIBC_FUNCS; i++) {
		__u64 value, size;
		const __u8 *code;

		ASSERT_EQ(0, libc_func(f, libc_funcs[i].name, &value, &size))
			TH_LOG("%s not in %s", libc_funcs[i].name, LIBC_PATH);
		code = elf_code(cw_elf__elf(f), value, size);
		ASSERT_NE(NULL, code);
		for (int flavour = 0; flavour < 8; flavour++) {
			struct cw_placement_req req = flavour_req(code, size, value, flavour);
			struct cw_placement out;
			const char *bad;

			ASSERT_EQ(0, cw_placement__find(&req, &out));
			bad = check_properties(code, size, value, &req, &out, msg, sizeof(msg));
			EXPECT_EQ(NULL, bad)
				TH_LOG("%s (flavour %d): +%#llx (%s): %s", libc_funcs[i].name,
				       flavour, (unsigned long long)out.offset, out.why, bad);
		}
	}
	cw_elf__close(f);
}

/* ------------------------------------------------------------------------------------ */
/* An independent decoding: binutils' objdump, on the same bytes of whatever glibc is here. */

struct od_insn {
	__u64 off;		/* from the function's entry */
	__u8 bytes[16];
	int len;
	char text[160];		/* AT&T, as objdump prints it, without its comment */
};

/* objdump -d of [addr, addr + size) of path: the instructions, offsets from addr; or -errno. */
static int od_decode(const char *path, __u64 addr, __u64 size, struct od_insn **out, size_t *nr)
{
	char cmd[512], line[512];
	struct od_insn *v = NULL;
	size_t n = 0, cap = 0;
	__u64 covered = 0;
	FILE *f;

	/* binutils is a build dependency (objcopy): its absence is a failure, not a skip */
	snprintf(cmd, sizeof(cmd), "objdump -d -z --insn-width=16 --start-address=%#llx "
		 "--stop-address=%#llx %s 2>&1", (unsigned long long)addr,
		 (unsigned long long)(addr + size), path);
	f = popen(cmd, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct od_insn in = {};
		char *p = line, *end;
		__u64 a = strtoull(p, &end, 16);

		/* "   8c370:\t8b 47 10   \tmov    0x10(%rdi),%eax" */
		if (end == p || end[0] != ':' || end[1] != '\t' || a < addr || a >= addr + size)
			continue;
		p = end + 2;
		while (*p && *p != '\t') {
			unsigned int b;

			if (*p == ' ') {
				p++;
				continue;
			}
			if (sscanf(p, "%2x", &b) != 1 || in.len == (int)sizeof(in.bytes))
				break;
			in.bytes[in.len++] = b;
			p += 2;
		}
		if (*p != '\t' || !in.len)
			continue;
		p++;
		snprintf(in.text, sizeof(in.text), "%s", p);
		in.text[strcspn(in.text, "#\n")] = 0;
		for (size_t k = strlen(in.text); k && in.text[k - 1] == ' '; k--)
			in.text[k - 1] = 0;
		in.off = a - addr;
		if (n == cap) {
			struct od_insn *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));

			if (!nv) {
				free(v);
				pclose(f);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = in;
		covered += in.len;
	}
	if (pclose(f) || !n) {
		free(v);
		return -EIO;
	}
	(void)covered;
	*out = v;
	*nr = n;
	return 0;
}

/*
 * The instructions of [off, off + size) of all (from od_decode()), offsets made relative
 * to off, into *out; -EIO unless they cover it exactly, from its first byte.
 */
static int od_slice(const struct od_insn *all, size_t n, __u64 off, __u64 size,
		    struct od_insn **out, size_t *nr)
{
	struct od_insn *v = calloc(n, sizeof(*v));
	__u64 next = off;
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (all[i].off < off || all[i].off >= off + size)
			continue;
		if (all[i].off != next)
			break;
		v[k] = all[i];
		v[k++].off -= off;
		next += all[i].len;
	}
	if (next != off + size) {
		free(v);
		return -EIO;
	}
	*out = v;
	*nr = k;
	return 0;
}

/* The mnemonic and the operands of in, prefixes ("lock", "bnd", "cs", "rex.W"...) skipped. */
static const char *od_split(const struct od_insn *in, char *mn, size_t mnlen)
{
	static const char *const prefixes[] = { "lock", "bnd", "notrack", "rep", "repz", "repnz",
						"repe", "repne", "cs", "ds", "ss", "es", "fs",
						"gs", "data16", "addr32" };
	const char *p = in->text;

	for (;;) {
		size_t w;
		int prefix = 0;

		p += strspn(p, " ");
		w = strcspn(p, " ");
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
			if (strlen(prefixes[i]) == w && !strncmp(p, prefixes[i], w))
				prefix = 1;
		if (!strncmp(p, "rex", 3))
			prefix = 1;
		if (!prefix || !p[w]) {
			snprintf(mn, mnlen, "%.*s", (int)w, p);
			p += w;
			return p + strspn(p, " ");
		}
		p += w;
	}
}

enum od_kind { OD_OTHER, OD_JCC, OD_JMP, OD_CALL, OD_NOP, OD_PUSH };

struct od_raw {
	int bad_prefix;		/* es, cs, ss, ds or lock: the kernel refuses the instruction */
	int has66;
	int rexb;
	int op;			/* the opcode byte; 0x0f00 | second byte for 0f xx */
};

static int od_branch_op(const struct od_raw *r)
{
	return r->op == 0xe8 || r->op == 0xe9 || r->op == 0xeb || (r->op >= 0x70 && r->op <= 0x7f) ||
	       (r->op >= 0x0f80 && r->op <= 0x0f8f);
}

static void od_raw(const struct od_insn *in, struct od_raw *r)
{
	int i = 0;

	memset(r, 0, sizeof(*r));
	for (; i < in->len; i++) {
		__u8 b = in->bytes[i];

		if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0xf0)
			r->bad_prefix = 1;
		else if (b == 0x66)
			r->has66 = 1;
		else if (b != 0x64 && b != 0x65 && b != 0x67 && b != 0xf2 && b != 0xf3)
			break;
	}
	if (i < in->len && (in->bytes[i] & 0xf0) == 0x40)
		r->rexb = in->bytes[i++] & 1;
	if (i < in->len)
		r->op = in->bytes[i] == 0x0f && i + 1 < in->len ? 0x0f00 | in->bytes[i + 1] :
								   in->bytes[i];
}

/*
 * What the kernel emulates (arch/x86/kernel/uprobes.c, stated here on its own): nops
 * (90, any but REX.B's), from 6.16 the multi-byte nops of x86_nops[] byte for byte,
 * jcc, jmp and call rel without a 66 prefix, and with push emulation (4.16) push
 * %reg in one byte or two (41 5x). OD_OTHER if none of those.
 */
static enum od_kind od_emulated(const struct od_insn *in, const struct cw_placement_req *req)
{
	static const __u8 nops[9][8] = {
		[3] = { 0x0f, 0x1f, 0x00 },
		[4] = { 0x0f, 0x1f, 0x40, 0x00 },
		[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
		[6] = { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
		[7] = { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
		[8] = { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
	};
	struct od_raw r;

	od_raw(in, &r);
	if (r.bad_prefix)
		return OD_OTHER;
	if (req->kernel_nopl_emulated && in->len >= 3 && in->len <= 8 &&
	    !memcmp(in->bytes, nops[in->len], in->len))
		return OD_NOP;
	if (r.op == 0x90)
		return r.rexb ? OD_OTHER : OD_NOP;
	if (od_branch_op(&r))
		return r.has66 ? OD_OTHER : r.op == 0xe8 ? OD_CALL :
		       r.op == 0xe9 || r.op == 0xeb ? OD_JMP : OD_JCC;
	if (req->kernel_push_emulated && r.op >= 0x50 && r.op <= 0x57 &&
	    (in->len == 1 || (in->len == 2 && in->bytes[0] == 0x41)))
		return OD_PUSH;
	return OD_OTHER;
}

/* Whether the register operand reg ("%edi") is rdi, rsi or rsp, or a part of it. */
static int od_reg_is(const char *reg, const char *family)
{
	static const char *const names[][4] = {
		{ "%rdi", "%edi", "%di", "%dil" },
		{ "%rsi", "%esi", "%si", "%sil" },
		{ "%rsp", "%esp", "%sp", "%spl" },
	};
	int f = !strcmp(family, "rdi") ? 0 : !strcmp(family, "rsi") ? 1 : 2;

	for (int i = 0; i < 4; i++)
		if (!strcmp(reg, names[f][i]))
			return 1;
	return 0;
}

/*
 * Whether in may run before the probe: an instruction from a short list of plain
 * arithmetic and moves, whose destination (AT&T: the last operand) is no memory, no
 * register the program reads and, with stack_top, not %rsp; push and pop only without
 * stack_top. Anything else is taken as a stop: an instruction this list does not know
 * makes the test fail, rather than pass unchecked.
 */
/* mn is word, word with an operand size suffix (b, w, l, q), or any word* when it ends in '*'. */
static int od_is(const char *mn, const char *word)
{
	size_t n = strlen(word);

	if (word[n - 1] == '*')
		return !strncmp(mn, word, n - 1);
	return !strncmp(mn, word, n) && (!mn[n] || (strchr("bwlq", mn[n]) && !mn[n + 1]));
}

static int od_transparent(const struct od_insn *in, const struct cw_placement_req *req)
{
	static const char *const plain[] = {
		"mov", "movabs", "movz*", "movs*", "lea", "and", "or", "xor", "add", "sub", "adc",
		"sbb", "shl", "shr", "sar", "rol", "ror", "not", "neg", "inc", "dec", "cmov*",
		"set*", "pxor", "movd", "movq", "movups", "movaps", "movdqu", "movdqa", "nop*",
		"xchg", "endbr64",
	};
	static const char *const no_dest[] = { "test", "cmp", "bt" };
	char mn[32], dest[64];
	const char *ops = od_split(in, mn, sizeof(mn));
	const char *last = strrchr(ops, ',');
	int known = 0;

	snprintf(dest, sizeof(dest), "%s", last ? last + 1 : ops);
	for (size_t i = 0; i < sizeof(no_dest) / sizeof(no_dest[0]); i++)
		if (od_is(mn, no_dest[i]))
			return 1;
	if (od_is(mn, "push"))
		return !req->stack_top;
	if (od_is(mn, "pop"))
		known = !req->stack_top;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]) && !known; i++)
		if (od_is(mn, plain[i]))
			known = 1;
	/* xchg writes both operands: only the nop forms (xchg %ax,%ax) are plain */
	if (!strcmp(mn, "xchg") && strcmp(ops, "%ax,%ax"))
		known = 0;
	if (!known || strchr(dest, '('))
		return 0;
	if (!strncmp(mn, "nop", 3) || !strcmp(mn, "endbr64") || !strcmp(mn, "xchg"))
		return 1;
	if ((req->regs_read & CW_REG_RDI) && od_reg_is(dest, "rdi"))
		return 0;
	if ((req->regs_read & CW_REG_RSI) && od_reg_is(dest, "rsi"))
		return 0;
	return !(req->stack_top && od_reg_is(dest, "rsp"));
}

struct od_place {
	__u64 offset;
	int emulated;
	int refused;
	enum od_kind kind;	/* of the chosen instruction */
	__u64 why_off;		/* the instruction the reason names */
	int why_none;		/* no emulated instruction in the function */
	__u64 target;		/* a branch back: where to */
};

/*
 * Where the probe belongs, from objdump's instructions alone: the entry when the kernel
 * emulates the instruction there; else the first emulated instruction if everything before
 * it may run before the probe, the function has no indirect or 66-prefixed branch (its
 * targets are not known) and no branch (a call of the entry aside) lands at or before
 * the instruction's end; else the entry, naming the instruction that decided it.
 */
static void od_place(const struct od_insn *v, size_t n, const struct cw_placement_req *req,
		     struct od_place *p)
{
	const struct od_insn *cand = NULL, *stop = NULL, *gave_up = NULL, *from = NULL;
	__u64 min_t = ~0ULL;
	struct od_raw r;

	memset(p, 0, sizeof(*p));
	od_raw(&v[0], &r);
	/* the kernel refuses these prefixes, and a branch whose length depends on the CPU */
	p->refused = r.bad_prefix || (r.has66 && od_branch_op(&r));
	p->kind = od_emulated(&v[0], req);
	if (p->kind != OD_OTHER) {
		p->emulated = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct od_insn *in = &v[i];
		enum od_kind k = od_emulated(in, req);
		char mn[32];
		const char *ops = od_split(in, mn, sizeof(mn));

		od_raw(in, &r);
		if (strstr(in->text, "(bad)") || (r.has66 && od_branch_op(&r)) ||
		    ((!strcmp(mn, "jmp") || !strcmp(mn, "call")) && ops[0] == '*')) {
			gave_up = in;
			break;
		}
		if ((mn[0] == 'j' || !strncmp(mn, "call", 4) || !strncmp(mn, "loop", 4)) &&
		    isxdigit((unsigned char)ops[0])) {
			/* "8c430 <sym+0xc0>": absolute; before the entry is out of the span */
			__u64 t = strtoull(ops, NULL, 16);

			t = t >= req->addr ? t - req->addr : ~0ULL;
			if (!(t == 0 && !strncmp(mn, "call", 4)) && t < min_t) {
				min_t = t;
				from = in;
			}
		}
		if (cand || stop)
			continue;
		if (in->off > 0 && k != OD_OTHER)
			cand = in;
		else if (!od_transparent(in, req))
			stop = in;
	}
	if (!cand) {
		p->why_off = stop ? stop->off : gave_up ? gave_up->off : 0;
		p->why_none = !stop && !gave_up;
		return;
	}
	if (gave_up) {
		p->why_off = gave_up->off;
		return;
	}
	if (min_t < cand->off + cand->len) {
		p->why_off = from->off;
		p->target = min_t;
		return;
	}
	p->offset = cand->off;
	p->emulated = 1;
	p->kind = od_emulated(cand, req);
}

/* The kind of the instruction capstone's mnemonic in placement.c's reason names. */
static enum od_kind why_kind(const char *why)
{
	char mn[32] = "";

	if (sscanf(why, "emulated %31s", mn) != 1)
		return OD_OTHER;
	if (!strcmp(mn, "bnd") || !strcmp(mn, "notrack"))
		sscanf(why, "emulated %*s %31s", mn);
	if (!strcmp(mn, "jmp"))
		return OD_JMP;
	if (!strcmp(mn, "call"))
		return OD_CALL;
	if (mn[0] == 'j')
		return OD_JCC;
	if (!strcmp(mn, "push"))
		return OD_PUSH;
	if (!strncmp(mn, "nop", 3) || !strcmp(mn, "pause"))
		return OD_NOP;
	return OD_OTHER;
}

/*
 * Every lock function of this machine's glibc, whatever its build, with the live program's
 * request on every kernel flavour and with a stricter one: the placement is exactly the one
 * objdump's decoding gives (offset, emulated, refused, the kind of instruction chosen, the
 * instruction the reason names, the target of a branch back).
 */
TEST(libc_objdump)
{
	struct od_insn *all = NULL;
	struct cw_elf *f = NULL;
	__u64 lo = ~0ULL, hi = 0;
	size_t nall = 0;

	if (cw_elf__open(LIBC_PATH, &f))
		SKIP(return, "no %s", LIBC_PATH);
	/* one objdump for the span holding them all, which also decodes what lies between */
	for (size_t i = 0; i < NR_LIBC_FUNCS; i++) {
		__u64 value, size;

		ASSERT_EQ(0, libc_func(f, libc_funcs[i].name, &value, &size));
		lo = MIN(lo, value);
		hi = MAX(hi, value + size);
	}
	ASSERT_EQ(0, od_decode(LIBC_PATH, lo, hi - lo, &all, &nall))
		TH_LOG("objdump -d of %#llx-%#llx of %s (binutils)", (unsigned long long)lo,
		       (unsigned long long)hi, LIBC_PATH);
	for (size_t i = 0; i < NR_LIBC_FUNCS; i++) {
		struct od_insn *v = NULL;
		__u64 value, size;
		size_t n = 0;

		ASSERT_EQ(0, libc_func(f, libc_funcs[i].name, &value, &size));
		ASSERT_EQ(0, od_slice(all, nall, value - lo, size, &v, &n))
			TH_LOG("objdump's instructions do not cover %s", libc_funcs[i].name);
		for (int flavour = 0; flavour < 8; flavour++) {
			struct cw_placement_req req =
				flavour_req(elf_code(cw_elf__elf(f), value, size), size, value,
					    flavour);
			struct cw_placement out;
			struct od_place want;
			const char *at;

			ASSERT_EQ(0, cw_placement__find(&req, &out));
			od_place(v, n, &req, &want);
			EXPECT_EQ(want.offset, out.offset)
				TH_LOG("%s (flavour %d): %s", libc_funcs[i].name, flavour, out.why);
			EXPECT_EQ(want.emulated, out.emulated)
				TH_LOG("%s (flavour %d): %s", libc_funcs[i].name, flavour, out.why);
			EXPECT_EQ(want.refused, out.refused)
				TH_LOG("%s (flavour %d): %s", libc_funcs[i].name, flavour, out.why);
			if (out.emulated) {
				EXPECT_EQ(want.kind, why_kind(out.why))
					TH_LOG("%s (flavour %d): %s", libc_funcs[i].name, flavour,
					       out.why);
				continue;
			}
			if (want.why_none) {
				EXPECT_STREQ("entry: no emulated instruction in the function", out.why);
				continue;
			}
			/* "entry: MN at +OFF ...": the instruction objdump says stops the move */
			at = strstr(out.why, " at +");
			ASSERT_NE(NULL, at) TH_LOG("%s: %s", libc_funcs[i].name, out.why);
			EXPECT_EQ(want.why_off, strtoull(at + 5, NULL, 16))
				TH_LOG("%s (flavour %d): %s", libc_funcs[i].name, flavour, out.why);
			if (want.target) {
				at = strstr(out.why, "jumps to +");
				ASSERT_NE(NULL, at) TH_LOG("%s: %s", libc_funcs[i].name, out.why);
				EXPECT_EQ(want.target, strtoull(at + 10, NULL, 16));
			}
		}
		free(v);
	}
	free(all);
	cw_elf__close(f);
}

/*
 * placement.c sees one function's bytes: no other function of libc may jump into a
 * chosen span (the entry up to the probe) either. Every function named in the debug
 * file's .symtab is decoded and its direct branches checked.
 */
TEST(libc_no_branch_from_elsewhere)
{
	struct { __u64 start, end, size; } spans[NR_LIBC_FUNCS];
	char id[64], path[256];
	struct cw_elf *f = NULL, *dbg = NULL;
	Elf_Data *syms = NULL;
	size_t nspans = 0, nfuncs = 0;
	Elf_Scn *scn = NULL;
	cs_insn *in;
	GElf_Shdr sh;
	csh cs;

	if (cw_elf__open(LIBC_PATH, &f))
		SKIP(return, "no %s", LIBC_PATH);
	build_id(cw_elf__elf(f), id, sizeof(id));
	snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	if (cw_elf__open(path, &dbg)) {
		cw_elf__close(f);
		SKIP(return, "no %s (libc6-dbg): libc's local functions are unknown", path);
	}
	for (size_t i = 0; i < NR_LIBC_FUNCS; i++) {
		struct cw_placement_req req = probe_req();
		struct cw_placement out;
		__u64 value, size;

		ASSERT_EQ(0, libc_func(f, libc_funcs[i].name, &value, &size));
		req.code = elf_code(cw_elf__elf(f), value, size);
		req.len = size;
		req.addr = value;
		ASSERT_EQ(0, cw_placement__find(&req, &out));
		if (!out.offset)
			continue;
		spans[nspans].start = value;
		spans[nspans].end = value + out.offset;
		spans[nspans].size = size;
		nspans++;
	}
	ASSERT_LT(0, nspans);

	while ((scn = elf_nextscn(cw_elf__elf(dbg), scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			syms = elf_getdata(scn, NULL);
	if (!syms) {
		cw_elf__close(dbg);
		cw_elf__close(f);
		SKIP(return, "%s has no .symtab", path);
	}
	ASSERT_EQ(CS_ERR_OK, cs_open(CS_ARCH_X86, CS_MODE_64, &cs));
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(cs);
	for (int i = 0;; i++) {
		const __u8 *code;
		uint64_t a;
		size_t n;
		GElf_Sym sym;

		if (!gelf_getsym(syms, i, &sym))
			break;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size || !sym.st_value)
			continue;
		code = elf_code(cw_elf__elf(f), sym.st_value, sym.st_size);
		if (!code)
			continue;
		nfuncs++;
		a = sym.st_value;
		n = sym.st_size;
		while (n && cs_disasm_iter(cs, &code, &n, &a, in)) {
			const cs_x86 *x86 = &in->detail->x86;
			__u64 t;

			if (!has_target(cs, in) || x86->op_count != 1 ||
			    x86->operands[0].type != X86_OP_IMM)
				continue;
			t = x86->operands[0].imm;
			for (size_t k = 0; k < nspans; k++) {
				__u64 from = in->address;

				/* the function itself was checked by placement.c */
				if (from - spans[k].start < spans[k].size)
					continue;
				/* calls and tail calls (jmp) of the entry are new calls */
				EXPECT_FALSE(t > spans[k].start && t <= spans[k].end)
					TH_LOG("%s at %#llx jumps to %#llx, in %#llx-%#llx",
					       in->mnemonic, (unsigned long long)from,
					       (unsigned long long)t,
					       (unsigned long long)spans[k].start,
					       (unsigned long long)spans[k].end);
			}
		}
	}
	cs_free(in, 1);
	cs_close(&cs);
	EXPECT_LT(1000, nfuncs);
	cw_elf__close(dbg);
	cw_elf__close(f);
}

TEST_HARNESS_MAIN
