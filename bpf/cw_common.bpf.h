/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by concwatch's BPF programs: record reservation and submission. */
#ifndef __CW_COMMON_BPF_H
#define __CW_COMMON_BPF_H

#include "concwatch/events.h"

/*
 * Wake the consumer only once this many bytes wait in the ring buffer; below that the
 * consumer's periodic poll picks records up. A wakeup costs ~0.7 us here against ~0.1 us
 * for the program body, measured on the test machines, so waking per record would dominate.
 * Set from userspace before load.
 */
const volatile __u64 wakeup_bytes = 1;

/* Drop counters, read by userspace through the mmaped .bss and turned into CW_EV_LOST. */
__u64 lost_ringbuf;
__u64 lost_map_full;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized from userspace before load */
} events SEC(".maps");

/*
 * Tasks we trace: 1 at index tgid. Uprobes are attached per process already; this keeps
 * every program honest when several processes share a probed library, and the scheduler's
 * programs, which run for every task of the machine, return at once for the others.
 * An array indexed by tgid (a byte per possible pid, sized to pid_max from userspace):
 * the verifier inlines its lookup into a bounds check and an add, where a hash map's
 * costs a hash and a bucket walk (~80 ns here), twice per context switch.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32768); /* pid_max; resized from userspace before load */
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

static __always_inline int cw_traced(__u32 tgid)
{
	__u8 *t = bpf_map_lookup_elem(&targets, &tgid);

	return t && *t;
}

static __always_inline void cw_hdr_fill(struct cw_hdr *hdr, __u32 size, __u16 type)
{
	__u64 id = bpf_get_current_pid_tgid();

	hdr->type = type;
	hdr->size = size;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->flags = 0;
	hdr->ts_ns = bpf_ktime_get_ns();
	hdr->pid = id >> 32;
	hdr->tid = (__u32)id;
}

static __always_inline void *cw_reserve(__u32 size, __u16 type)
{
	struct cw_hdr *hdr;

	hdr = bpf_ringbuf_reserve(&events, size, 0);
	if (!hdr) {
		__sync_fetch_and_add(&lost_ringbuf, 1);
		return NULL;
	}
	cw_hdr_fill(hdr, size, type);
	return hdr;
}

static __always_inline __u64 cw_wakeup_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void cw_submit(void *rec)
{
	bpf_ringbuf_submit(rec, cw_wakeup_flags());
}

#endif /* __CW_COMMON_BPF_H */
