/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The libc functions the BPF source probes, and where in each: its own table and its own
 * placement, for programs that must probe exactly the same places (the kernel module's
 * source, kmod.c, asks the module for the same probes; bench/floor.c puts empty programs
 * there to measure what the probes cost without concwatch's work).
 */
#ifndef __CW_PROBES_H
#define __CW_PROBES_H

#include <stddef.h>
#include <linux/types.h>

struct cw_elf_func;

struct cw_probe_info {
	const char *func;	/* the libc function's name */
	int ret;		/* a return probe too, at the same place as the entry one */
	int required;		/* the source fails when the target's libc lacks it */
	const char *prog;	/* the BPF source's entry program: what the probe does */
	__u8 kind, op;		/* CW_LOCK_*, CW_OP_*: its cookie (CW_PROBE_COOKIE) */
	int track_free;		/* only with --track-free (cw_source_opts.track_free) */
};

/* The number of functions the BPF source probes. */
size_t cw_bpf_probes__nr(void);

/*
 * Function i of them: 0, or -ENOENT past the last. free(), probed for --track-free only,
 * comes after the last of them (i == cw_bpf_probes__nr()).
 */
int cw_bpf_probes__get(size_t i, struct cw_probe_info *out);

/*
 * Where the BPF source puts function i's probes, from its start (f as cw_elf__func()
 * fills it), on a kernel that emulates push and the 0f 1f nops as said
 * (cw_placement__kernel_emulates_push(), cw_placement__kernel_emulates_nopl()).
 */
__u64 cw_bpf_probes__offset(size_t i, const struct cw_elf_func *f, int emulates_push,
			    int emulates_nopl);

#endif /* __CW_PROBES_H */
