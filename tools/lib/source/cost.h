/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a probe hit costs on this host, and what the BPF programs cost: the measuring
 * half of the tracer-cost estimate (engine/cost.h does the arithmetic).
 *
 * A uprobe hit is a trap whose cost depends on the host tenfold (0.5-5.6 us measured on
 * these machines) and on the instruction under it: the kernel emulates a branch or a nop
 * in the trap, and single-steps a copy of any other instruction out of line, with a
 * second trap. cw_cost_calib__run() measures each kind here, on probes of concwatch's
 * own: functions of this file whose first instruction is of that kind, called in a loop
 * with an empty BPF program attached and without, on the calling thread's CPU clock
 * (kernel time included, preemption not). A return probe is measured as what a uretprobe
 * adds to an entry probe at the same place.
 *
 * The BPF programs' run time is the kernel's own statistics (bpf_prog_info.run_time_ns),
 * kept only while someone holds the fd of bpf_enable_stats(): kernel.bpf_stats_enabled
 * is 0 by default, and the statistics cost two clock reads a run.
 */
#ifndef __CW_SOURCE_COST_H
#define __CW_SOURCE_COST_H

#include <stddef.h>
#include <linux/types.h>
#include <concwatch/events.h>

struct cw_cost_calib {
	__u32 hit_ns[CW_TRAP_MAX];	/* per hit, by CW_TRAP_* */
	__u32 hits;			/* calls timed of each kind, per round */
	__u64 took_ns;			/* the whole calibration, attach and detach included */
};

/*
 * Calibrate on this host. umulti_type: cw_uprobe_multi_type() (links.h), or -1 to use
 * perf uprobes. 0, or -errno with err saying why in one line (no permission, no uprobes).
 */
int cw_cost_calib__run(struct cw_cost_calib *c, int umulti_type, char *err, size_t errlen);

/* Keep the kernel's BPF run-time statistics on: the fd to close, or -errno. */
int cw_cost__bpf_stats_enable(void);

/*
 * The run time and runs so far of the programs prog_fds (entries < 0 skipped), added
 * up. 0 or -errno.
 */
int cw_cost__bpf_run_time(const int *prog_fds, size_t nr, __u64 *run_ns, __u64 *runs);

#endif /* __CW_SOURCE_COST_H */
