// SPDX-License-Identifier: GPL-2.0
/*
 * bench/floor.c's programs: nothing at all, on concwatch's probes. What a lock operation
 * costs under them is the floor: the probes' own cost, which no program body can go under.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int uprobe_empty(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int uretprobe_empty(void *ctx)
{
	return 0;
}

/*
 * The tracepoints of `--no-uprobes` (floor -t), empty too: the floor of the contention-only
 * mode. The programs whose tracepoints fire per operation; the rare ones (thread creation,
 * exit, rename, mmap) cost nothing measurable and are left out.
 */
#define EMPTY(NAME, SECTION)		\
	SEC(SECTION)			\
	int NAME(void *ctx)		\
	{				\
		return 0;		\
	}

EMPTY(tp_enter_futex, "tracepoint/syscalls/sys_enter_futex")
EMPTY(tp_exit_futex, "tracepoint/syscalls/sys_exit_futex")
EMPTY(tp_sched_switch, "tp_btf/sched_switch")
EMPTY(tp_sched_waking, "tp_btf/sched_waking")
EMPTY(tp_sched_wakeup, "tp_btf/sched_wakeup")
EMPTY(tp_contention_begin, "tp_btf/contention_begin")
EMPTY(tp_contention_end, "tp_btf/contention_end")
