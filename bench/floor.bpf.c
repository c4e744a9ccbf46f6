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
