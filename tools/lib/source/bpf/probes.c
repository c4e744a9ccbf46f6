// SPDX-License-Identifier: GPL-2.0
/* The libc functions the BPF source probes, and where in each (see probes.h). */
#include <errno.h>

#include "source/bpf/internal.h"
#include "source/placement.h"
#include "source/probes.h"
#include "source/target.h"

#define ACQ "uprobe_acquire"
#define REL "uprobe_release"
#define RST "uprobe_reset"
#define MX CW_LOCK_MUTEX
#define RW CW_LOCK_RWLOCK

const struct cw_bpf_probe cw_bpf_probes[CW_BPF_NR_PROBES] = {
	{ "pthread_mutex_lock", 1, 1, .prog = ACQ, .kind = MX, .op = CW_OP_LOCK },
	{ "pthread_mutex_trylock", 1, 0, .prog = ACQ, .kind = MX, .op = CW_OP_TRYLOCK },
	{ "pthread_mutex_timedlock", 1, 0, .prog = ACQ, .kind = MX, .op = CW_OP_TIMEDLOCK },
	{ "pthread_mutex_clocklock", 1, 0, .prog = ACQ, .kind = MX, .op = CW_OP_TIMEDLOCK },
	{ "pthread_mutex_unlock", 0, 1, .prog = REL, .kind = MX },
	{ "pthread_mutex_init", 0, 0, .prog = RST, .kind = MX, .op = CW_OP_INIT },
	{ "pthread_mutex_destroy", 0, 0, .prog = RST, .kind = MX, .op = CW_OP_DESTROY },
	{ "pthread_rwlock_rdlock", 1, 0, .prog = ACQ, .kind = RW, .op = CW_OP_RDLOCK },
	{ "pthread_rwlock_tryrdlock", 1, 0, .prog = ACQ, .kind = RW, .op = CW_OP_TRYRDLOCK },
	{ "pthread_rwlock_timedrdlock", 1, 0, .prog = ACQ, .kind = RW, .op = CW_OP_TIMEDRDLOCK },
	{ "pthread_rwlock_clockrdlock", 1, 0, .prog = ACQ, .kind = RW, .op = CW_OP_TIMEDRDLOCK },
	{ "pthread_rwlock_wrlock", 1, 0, .prog = ACQ, .kind = RW, .op = CW_OP_WRLOCK },
	{ "pthread_rwlock_trywrlock", 1, 0, .prog = ACQ, .kind = RW, .op = CW_OP_TRYWRLOCK },
	{ "pthread_rwlock_timedwrlock", 1, 0, .prog = ACQ, .kind = RW, .op = CW_OP_TIMEDWRLOCK },
	{ "pthread_rwlock_clockwrlock", 1, 0, .prog = ACQ, .kind = RW, .op = CW_OP_TIMEDWRLOCK },
	{ "pthread_rwlock_unlock", 0, 0, .prog = REL, .kind = RW },
	{ "pthread_rwlock_init", 0, 0, .prog = RST, .kind = RW, .op = CW_OP_INIT },
	{ "pthread_rwlock_destroy", 0, 0, .prog = RST, .kind = RW, .op = CW_OP_DESTROY },
	/* no return probe: see uprobe_pthread_spin_lock */
	{ "pthread_spin_lock", 0, 0, 0, 1, .prog = "uprobe_pthread_spin_lock" },
	{ "pthread_spin_trylock", 1, 0, .prog = ACQ, .kind = CW_LOCK_SPIN, .op = CW_OP_TRYLOCK },
	{ "pthread_spin_unlock", 0, 0, .prog = REL, .kind = CW_LOCK_SPIN },
	{ "pthread_cond_wait", 1, 0, CW_REG_RSI, .prog = "uprobe_cond_wait" },
	{ "pthread_cond_timedwait", 1, 0, CW_REG_RSI, .prog = "uprobe_cond_wait" },
	{ "pthread_cond_clockwait", 1, 0, CW_REG_RSI, .prog = "uprobe_cond_wait" },
	/* last: the probes of bench/floor.c are those before it (cw_bpf_probes__nr) */
	{ "free", 0, 0, .track_free = 1, .prog = "uprobe_free" },
};

_Static_assert(sizeof(cw_bpf_probes) / sizeof(cw_bpf_probes[0]) == CW_BPF_NR_PROBES,
	       "CW_BPF_NR_PROBES counts the table");

/*
 * Where in the function to probe: on an instruction the kernel emulates, when one runs
 * exactly once per call before anything changes what the programs read (%rdi and the
 * other arguments, %rbp for the frame-pointer walk, %rsp: [%rsp] is the return address
 * both the entry program and the return probe need); else the entry, single-stepped at
 * ten times the cost (PERF-NOTES).
 */
__u64 cw_bpf__place(int emulates_push, int emulates_nopl, const struct cw_bpf_probe *p,
		    const struct cw_elf_func *f, int *trap)
{
	struct cw_placement_req req = {
		.code = f->code,
		.len = f->code ? f->len : 0,
		.addr = f->addr,
		.regs_read = CW_REG_RDI | CW_REG_RBP | p->regs,
		.stack_top = 1,
		.kernel_push_emulated = emulates_push,
		.kernel_nopl_emulated = emulates_nopl,
	};
	struct cw_placement pl;

	if (trap)
		*trap = CW_TRAP_STEPPED; /* the entry, not decoded: the dearer kind */
	if (!f->code || cw_placement__find(&req, &pl))
		return 0;
	/*
	 * glibc's pthread_spin_lock starts with lock decl, which the kernel refuses to
	 * probe, then jne to its spin loop, which jumps back to the entry. The fall-through
	 * of that jne runs once per call, when the lock is taken: its program records the
	 * acquisition there (SPIN_LOCK in concwatch.bpf.c), without a wait time.
	 */
	if (pl.refused && p->at_success && pl.after_jcc)
		return pl.after_jcc; /* not decoded: counted single-stepped (glibc 2.36: xor) */
	if (trap && pl.emulated)
		*trap = CW_TRAP_EMULATED;
	return pl.offset;
}

/* probes.h: the table and the placement above, for programs that must probe the same places. */
size_t cw_bpf_probes__nr(void)
{
	return CW_BPF_NR_PROBES - 1; /* without free: --track-free is no part of the lock probes */
}

int cw_bpf_probes__get(size_t i, struct cw_probe_info *out)
{
	if (i >= CW_BPF_NR_PROBES)
		return -ENOENT;
	*out = (struct cw_probe_info){ cw_bpf_probes[i].func, cw_bpf_probes[i].ret,
				       cw_bpf_probes[i].required, cw_bpf_probes[i].prog,
				       cw_bpf_probes[i].kind, cw_bpf_probes[i].op,
				       cw_bpf_probes[i].track_free };
	return 0;
}

__u64 cw_bpf_probes__offset(size_t i, const struct cw_elf_func *f, int emulates_push,
			    int emulates_nopl)
{
	if (i >= CW_BPF_NR_PROBES)
		return 0;
	return cw_bpf__place(emulates_push, emulates_nopl, &cw_bpf_probes[i], f, NULL);
}
