// SPDX-License-Identifier: GPL-2.0
/*
 * Uprobe placement: the first instruction of a function that the kernel emulates, where
 * probing it is provably the same as probing the entry.
 *
 * What x86-64 kernels emulate (arch/x86/kernel/uprobes.c, arch_uprobe_analyze_insn()):
 *
 *   branch_setup_xol_ops()  jmp rel8/rel32 (eb, e9), call rel32 (e8), jcc rel8 (70-7f) and
 *                           rel32 (0f 80-8f), whatever other prefixes they carry (f2 "bnd"
 *                           included), except 66: a 66-prefixed branch is -ENOTSUPP, the
 *                           probe fails. Opcode 90 with any prefixes is a nop ("goto
 *                           setup"): nop, 66 90, f3 90 (pause), 48 90. Identical in 6.1,
 *                           6.12 and 6.18.
 *                           6.16 and later ("uprobes/x86: Add support to emulate NOP
 *                           instructions") first compare the bytes with x86_nops[length]
 *                           (length <= ASM_NOP_MAX): the 0f 1f nops of 3 to 8 bytes below;
 *                           those of 9 to 11 bytes start with 2e, which uprobe_init_insn()
 *                           refuses. Any other 0f 1f form is single-stepped.
 *   push_setup_xol_ops()    push %reg: 50-57 alone, or after the single REX prefix 41 (r8-r15);
 *                           any other prefix (48, 66, 40) is single-stepped. Commit
 *                           e7ed9d9bd037 ("uprobes/x86: Emulate push insns for uprobe on
 *                           x86") came after 4.14; 4.16 is assumed, which errs on the
 *                           slow side if it was 4.15. In 6.1.
 *   uprobe_init_insn()      refuses (the probe fails) any instruction with an es/cs/ss/ds
 *                           or lock prefix, mov to %ss, and the opcodes good_insns_64[] does
 *                           not list. 0f is listed there, so good_2byte_insns[] is never
 *                           consulted for 64-bit code.
 *
 * Checked on 6.18.44 (the development machines) and on Debian's 6.1.0-56 and 6.12.117
 * under QEMU: a perf uprobe on each form, hit 20000 times; a form is single-stepped
 * exactly when the process gained its [uprobes] XOL mapping (bench/placement repeats the
 * check). 6.1 and 6.12 single-step every 0f 1f nop; 6.18 emulates exactly the x86_nops[]
 * ones. The kernel also treats 41 90 (xchg %eax,%r8d) as a nop: it is never chosen here.
 * Kernels after 6.18 ("x86/insn,uprobes,alternative: Unify insn_is_nop()") recognise
 * more nop forms; they are not counted: a probe there is still right, only slower.
 *
 * Everything before the chosen instruction must run straight into it and leave what the
 * program reads untouched, so only instructions capstone describes well enough are
 * allowed there (a fixed list); capstone 4 misses implicit effects elsewhere (lock
 * cmpxchg shows no write at all).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <capstone/capstone.h>

#include "source/placement.h"

/* The kernel's x86_nops[] for 64-bit, 3 to 8 bytes (1 and 2 are 90 and 66 90). */
static const __u8 x86_nops[9][8] = {
	[3] = { 0x0f, 0x1f, 0x00 },
	[4] = { 0x0f, 0x1f, 0x40, 0x00 },
	[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[6] = { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[7] = { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	[8] = { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

/* One-byte opcodes good_insns_64[] leaves out: a uprobe on them fails. */
static int bad_opcode(__u8 op)
{
	switch (op) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
	case 0x27: case 0x2f: case 0x37: case 0x3f:
	case 0x60: case 0x61: case 0x62: case 0x6c: case 0x6d: case 0x6e: case 0x6f:
	case 0x82: case 0x9a:
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
	case 0xd4: case 0xd5: case 0xd6:
	case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xea:
	case 0xec: case 0xed: case 0xee: case 0xef:
	case 0xf1: case 0xf4: case 0xfa: case 0xfb:
		return 1;
	}
	return 0;
}

/* The legacy prefixes and REX of an instruction, read from its bytes as the kernel does. */
struct raw {
	int bad_prefix;		/* 26 2e 36 3e f0: uprobe_init_insn() refuses the instruction */
	int lock;
	int has66;
	__u8 rex;		/* 0 if none */
	__u8 op;		/* first opcode byte */
	__u8 op2;		/* the next byte (second opcode byte after 0f, or modrm) */
};

static void raw_parse(const __u8 *b, size_t n, struct raw *r)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < n; i++) {
		if (b[i] == 0xf0)
			r->lock = 1;
		if (b[i] == 0x26 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e || b[i] == 0xf0)
			r->bad_prefix = 1;
		else if (b[i] == 0x66)
			r->has66 = 1;
		else if (b[i] != 0x64 && b[i] != 0x65 && b[i] != 0x67 && b[i] != 0xf2 &&
			 b[i] != 0xf3)
			break;
	}
	if (i < n && (b[i] & 0xf0) == 0x40)
		r->rex = b[i++];
	if (i < n)
		r->op = b[i];
	if (i + 1 < n)
		r->op2 = b[i + 1];
}

static int is_branch_opcode(const struct raw *r)
{
	return r->op == 0xeb || r->op == 0xe9 || r->op == 0xe8 ||
	       (r->op >= 0x70 && r->op <= 0x7f) ||
	       (r->op == 0x0f && r->op2 >= 0x80 && r->op2 <= 0x8f);
}

static int kernel_emulates(const cs_insn *in, const struct cw_placement_req *req)
{
	struct raw r;

	raw_parse(in->bytes, in->size, &r);
	if (r.bad_prefix)
		return 0;
	if (req->kernel_nopl_emulated && in->size >= 3 && in->size <= 8 &&
	    !memcmp(in->bytes, x86_nops[in->size], in->size))
		return 1;
	if (r.op == 0x90)
		return !(r.rex & 1); /* REX.B: xchg %eax,%r8d, which is no nop */
	if (is_branch_opcode(&r))
		return !r.has66;
	if (req->kernel_push_emulated && r.op >= 0x50 && r.op <= 0x57)
		return in->size == 1 || (in->size == 2 && in->bytes[0] == 0x41);
	return 0;
}

static int kernel_refuses(const cs_insn *in)
{
	struct raw r;

	raw_parse(in->bytes, in->size, &r);
	if (r.bad_prefix || bad_opcode(r.op))
		return 1;
	if (r.has66 && is_branch_opcode(&r))
		return 1;
	/* mov to %ss masks the next instruction's exceptions (insn_masking_exception()) */
	return r.op == 0x8e && ((r.op2 >> 3) & 7) == 2;
}

static int has_group(const cs_insn *in, unsigned int grp)
{
	for (int i = 0; i < in->detail->groups_count; i++)
		if (in->detail->groups[i] == grp)
			return 1;
	return 0;
}

/* Transfers control, or may not fall through to the next instruction. */
static int is_control(const cs_insn *in)
{
	switch (in->id) {
	case X86_INS_UD0: case X86_INS_UD2: case X86_INS_UD2B: case X86_INS_HLT:
	case X86_INS_SYSCALL: case X86_INS_SYSENTER: case X86_INS_SYSEXIT: case X86_INS_SYSRET:
	case X86_INS_INT: case X86_INS_INT1: case X86_INS_INT3: case X86_INS_INTO:
	case X86_INS_XBEGIN: case X86_INS_XABORT: case X86_INS_LOOP: case X86_INS_LOOPE:
	case X86_INS_LOOPNE: case X86_INS_JRCXZ: case X86_INS_JECXZ: case X86_INS_JCXZ:
		return 1;
	}
	return has_group(in, X86_GRP_JUMP) || has_group(in, X86_GRP_CALL) ||
	       has_group(in, X86_GRP_RET) || has_group(in, X86_GRP_INT) ||
	       has_group(in, X86_GRP_IRET) || has_group(in, X86_GRP_PRIVILEGE) ||
	       has_group(in, X86_GRP_BRANCH_RELATIVE);
}

/* Has a target (jmp, jcc, call, loop, jrcxz, xbegin), direct or not. */
static int is_branch(const cs_insn *in)
{
	switch (in->id) {
	case X86_INS_XBEGIN: case X86_INS_LOOP: case X86_INS_LOOPE: case X86_INS_LOOPNE:
	case X86_INS_JRCXZ: case X86_INS_JECXZ: case X86_INS_JCXZ:
		return 1;
	}
	return has_group(in, X86_GRP_JUMP) || has_group(in, X86_GRP_CALL) ||
	       has_group(in, X86_GRP_BRANCH_RELATIVE);
}

/*
 * Instructions allowed before the probe: they fall through, and capstone's register and
 * operand access information for them is complete (checked one by one against the SDM).
 */
static int understood(const cs_insn *in)
{
	switch (in->id) {
	case X86_INS_MOV: case X86_INS_MOVABS: case X86_INS_MOVZX: case X86_INS_MOVSX:
	case X86_INS_MOVSXD: case X86_INS_LEA:
	case X86_INS_ADD: case X86_INS_SUB: case X86_INS_AND: case X86_INS_OR: case X86_INS_XOR:
	case X86_INS_CMP: case X86_INS_TEST: case X86_INS_INC: case X86_INS_DEC: case X86_INS_NEG:
	case X86_INS_NOT: case X86_INS_ADC: case X86_INS_SBB: case X86_INS_BT:
	case X86_INS_SHL: case X86_INS_SAL: case X86_INS_SHR: case X86_INS_SAR:
	case X86_INS_ROL: case X86_INS_ROR:
	case X86_INS_CDQE: case X86_INS_CDQ: case X86_INS_CQO: case X86_INS_CWDE:
	case X86_INS_BSWAP: case X86_INS_BSF: case X86_INS_BSR: case X86_INS_TZCNT:
	case X86_INS_LZCNT: case X86_INS_POPCNT:
	case X86_INS_SETA: case X86_INS_SETAE: case X86_INS_SETB: case X86_INS_SETBE:
	case X86_INS_SETE: case X86_INS_SETNE: case X86_INS_SETG: case X86_INS_SETGE:
	case X86_INS_SETL: case X86_INS_SETLE: case X86_INS_SETO: case X86_INS_SETNO:
	case X86_INS_SETP: case X86_INS_SETNP: case X86_INS_SETS: case X86_INS_SETNS:
	case X86_INS_NOP: case X86_INS_PAUSE: case X86_INS_ENDBR64: case X86_INS_ENDBR32:
	case X86_INS_PUSH: case X86_INS_POP: case X86_INS_XCHG:
		return 1;
	case X86_INS_IMUL:
		/* the one-operand form writes %rdx:%rax */
		return in->detail->x86.op_count >= 2;
	}
	return has_group(in, X86_GRP_CMOV);
}

static __u32 reg_bit(unsigned int reg)
{
	switch (reg) {
	case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL:
		return CW_REG_RDI;
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL:
		return CW_REG_RSI;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DH: case X86_REG_DL:
		return CW_REG_RDX;
	case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CH: case X86_REG_CL:
		return CW_REG_RCX;
	case X86_REG_RAX: case X86_REG_EAX: case X86_REG_AX: case X86_REG_AH: case X86_REG_AL:
		return CW_REG_RAX;
	case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BH: case X86_REG_BL:
		return CW_REG_RBX;
	case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL:
		return CW_REG_RBP;
	case X86_REG_RSP: case X86_REG_ESP: case X86_REG_SP: case X86_REG_SPL:
		return CW_REG_RSP;
	case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B:
		return CW_REG_R8;
	case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B:
		return CW_REG_R9;
	case X86_REG_R10: case X86_REG_R10D: case X86_REG_R10W: case X86_REG_R10B:
		return CW_REG_R10;
	case X86_REG_R11: case X86_REG_R11D: case X86_REG_R11W: case X86_REG_R11B:
		return CW_REG_R11;
	case X86_REG_R12: case X86_REG_R12D: case X86_REG_R12W: case X86_REG_R12B:
		return CW_REG_R12;
	case X86_REG_R13: case X86_REG_R13D: case X86_REG_R13W: case X86_REG_R13B:
		return CW_REG_R13;
	case X86_REG_R14: case X86_REG_R14D: case X86_REG_R14W: case X86_REG_R14B:
		return CW_REG_R14;
	case X86_REG_R15: case X86_REG_R15D: case X86_REG_R15W: case X86_REG_R15B:
		return CW_REG_R15;
	case X86_REG_EFLAGS:
		return CW_REG_FLAGS;
	}
	return 0;
}

static void set_why(struct cw_placement *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

/*
 * Whether the program would still see what it sees at the entry if in ran first; if not,
 * why not into out->why. in is neither emulated nor the chosen instruction.
 */
static int transparent(csh cs, const cs_insn *in, __u64 off, const struct cw_placement_req *req,
		       struct cw_placement *out)
{
	int stack = req->stack_top || (req->regs_read & CW_REG_RSP);
	const cs_x86 *x86 = &in->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd, nwr;
	struct raw r;

	if (is_control(in)) {
		set_why(out, "entry: %s at +%#llx comes before any emulated instruction",
			in->mnemonic, (unsigned long long)off);
		return 0;
	}
	if (!understood(in) || cs_regs_access(cs, in, rd, &nrd, wr, &nwr) != CS_ERR_OK) {
		set_why(out, "entry: cannot analyse %s at +%#llx", in->mnemonic,
			(unsigned long long)off);
		return 0;
	}
	/*
	 * The program may read memory (the lock word, a stack copy): nothing may store first.
	 * A push stores below the entry's %rsp, where nothing of the caller's lives.
	 */
	raw_parse(in->bytes, in->size, &r);
	for (int i = 0; i < x86->op_count && !r.lock; i++)
		if (x86->operands[i].type == X86_OP_MEM && (x86->operands[i].access & CS_AC_WRITE))
			r.lock = 1;
	if (r.lock) {
		set_why(out, "entry: %s at +%#llx writes memory", in->mnemonic,
			(unsigned long long)off);
		return 0;
	}
	for (int i = 0; i < nwr; i++) {
		__u32 bit = reg_bit(wr[i]);

		if (bit == CW_REG_RSP && stack) {
			set_why(out, "entry: %s at +%#llx moves %%rsp", in->mnemonic,
				(unsigned long long)off);
			return 0;
		}
		if (bit & req->regs_read) {
			set_why(out, "entry: %s at +%#llx writes %%%s, which the program reads",
				in->mnemonic, (unsigned long long)off, cs_reg_name(cs, wr[i]));
			return 0;
		}
	}
	/* belt and braces: capstone lists %rsp for these, but they must never slip through */
	if (stack && (in->id == X86_INS_PUSH || in->id == X86_INS_POP)) {
		set_why(out, "entry: %s at +%#llx moves %%rsp", in->mnemonic,
			(unsigned long long)off);
		return 0;
	}
	return 1;
}

int cw_placement__find(const struct cw_placement_req *req, struct cw_placement *out)
{
	__u64 cand_off = 0, cand_end = 0, min_target = ~0ULL, target_from = 0;
	char cand_mn[CS_MNEMONIC_SIZE] = "", target_mn[CS_MNEMONIC_SIZE] = "";
	int searching = 1, found = 0, gave_up = 0, err = 0;
	struct cw_placement stop = {};
	const uint8_t *code;
	cs_insn *in = NULL;
	uint64_t address;
	size_t size;
	csh cs;

	if (!req || !out || (!req->code && req->len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!req->len) {
		set_why(out, "entry: the function is empty");
		return 0;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -EIO;
	if (cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK) {
		err = -EIO;
		goto cleanup;
	}
	in = cs_malloc(cs);
	if (!in) {
		err = -ENOMEM;
		goto cleanup;
	}

	code = req->code;
	size = req->len;
	address = req->addr;
	while (size) {
		__u64 off = address - req->addr;

		if (!cs_disasm_iter(cs, &code, &size, &address, in)) {
			/* the rest may hide a branch back into the span: no proof, no move */
			set_why(out, "entry: cannot decode the bytes at +%#llx",
				(unsigned long long)off);
			gave_up = 1;
			break;
		}
		if (off == 0) {
			out->refused = kernel_refuses(in);
			if (kernel_emulates(in, req)) {
				out->emulated = 1;
				set_why(out, "emulated %s at the entry", in->mnemonic);
				goto cleanup;
			}
		}
		/* the way on past the first conditional branch, for cw_placement.after_jcc */
		if (!out->after_jcc && in->id != X86_INS_JMP && has_group(in, X86_GRP_JUMP))
			out->after_jcc = off + in->size;
		if (is_branch(in)) {
			const cs_x86 *x86 = &in->detail->x86;
			struct raw r;
			__u64 t;

			raw_parse(in->bytes, in->size, &r);
			if (r.has66) {
				/*
				 * Intel ignores 66 on a near branch, AMD truncates: the
				 * length and the target depend on the CPU
				 */
				set_why(out, "entry: 66-prefixed %s at +%#llx", in->mnemonic,
					(unsigned long long)off);
				gave_up = 1;
				break;
			}
			if (x86->op_count != 1 || x86->operands[0].type != X86_OP_IMM) {
				set_why(out, "entry: indirect %s at +%#llx", in->mnemonic,
					(unsigned long long)off);
				gave_up = 1;
				break;
			}
			t = (__u64)x86->operands[0].imm - req->addr;
			/*
			 * a call of the entry is a new call: it runs the span once more,
			 * but for that call
			 */
			if (t < req->len && t < min_target &&
			    !(t == 0 && has_group(in, X86_GRP_CALL))) {
				min_target = t;
				target_from = off;
				snprintf(target_mn, sizeof(target_mn), "%s", in->mnemonic);
			}
		}
		if (!searching)
			continue;
		if (off > 0 && kernel_emulates(in, req)) {
			found = 1;
			searching = 0;
			cand_off = off;
			cand_end = off + in->size;
			snprintf(cand_mn, sizeof(cand_mn), "%s", in->mnemonic);
		} else if (!transparent(cs, in, off, req, &stop)) {
			searching = 0;
		}
	}

	if (!found) {
		if (!searching)		/* stopped before any emulated instruction */
			memcpy(out->why, stop.why, sizeof(out->why));
		else if (!gave_up)
			set_why(out, "entry: no emulated instruction in the function");
		goto cleanup;
	}
	if (gave_up)
		goto cleanup;	/* out->why says why */
	if (min_target < cand_end) {
		set_why(out, "entry: %s at +%#llx jumps to +%#llx, at or before %s at +%#llx",
			target_mn, (unsigned long long)target_from, (unsigned long long)min_target,
			cand_mn, (unsigned long long)cand_off);
		goto cleanup;
	}
	out->offset = cand_off;
	out->emulated = 1;
	out->refused = 0;
	set_why(out, "emulated %s at +%#llx", cand_mn, (unsigned long long)cand_off);

cleanup:
	if (in)
		cs_free(in, 1);
	cs_close(&cs);
	return err;
}

int cw_placement__release_emulates(const char *release)
{
	unsigned int major, minor;
	int what = 0;

	if (!release || sscanf(release, "%u.%u", &major, &minor) != 2)
		return -EINVAL;
	if (major > 4 || (major == 4 && minor >= 16))
		what |= CW_EMU_PUSH;
	if (major > 6 || (major == 6 && minor >= 16))
		what |= CW_EMU_NOPL;
	return what;
}

static int kernel_emulates_what(unsigned int bit)
{
	struct utsname u;
	int what;

	if (uname(&u))
		return -errno;
	what = cw_placement__release_emulates(u.release);
	if (what < 0)
		return what;
	return !!(what & bit);
}

int cw_placement__kernel_emulates_push(void)
{
	return kernel_emulates_what(CW_EMU_PUSH);
}

int cw_placement__kernel_emulates_nopl(void)
{
	return kernel_emulates_what(CW_EMU_NOPL);
}
