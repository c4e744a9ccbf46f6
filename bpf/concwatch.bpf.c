// SPDX-License-Identifier: GPL-2.0
/*
 * concwatch BPF programs: user-space lock operations through uprobes on the target's
 * libc. Each operation becomes a raw cw_ev_lock record in the ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "cw_common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* An acquire in progress on a thread, from the entry probe to the return probe. */
struct pending_lock {
	__u64 addr;
	__u64 ip;
	__u64 ts_ns;
	__u8 kind;
	__u8 op;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct pending_lock);
} pending_locks SEC(".maps");

/* At a probe on a function's first instruction the return address is at [sp]. */
static __always_inline __u64 caller_ip(struct pt_regs *ctx)
{
	__u64 ip = 0;

	bpf_probe_read_user(&ip, sizeof(ip), (void *)PT_REGS_SP(ctx));
	return ip;
}

static __always_inline struct cw_ev_lock *lock_record(__u16 type, __u64 addr, __u8 kind, __u8 op)
{
	struct cw_ev_lock *e;

	e = cw_reserve(sizeof(*e), type);
	if (!e)
		return NULL;
	e->addr = addr;
	e->ip = 0;
	e->stack_id = 0;
	e->wait_ns = 0;
	e->result = 0;
	e->attr = 0;
	e->kind = kind;
	e->op = op;
	e->addr2 = 0;
	return e;
}

static __always_inline int acquire_begin(struct pt_regs *ctx, __u64 addr, __u8 kind, __u8 op)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_lock p = {};
	struct cw_ev_lock *e;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p.addr = addr;
	p.ip = caller_ip(ctx);
	p.kind = kind;
	p.op = op;
	p.ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending_locks, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);

	e = lock_record(CW_EV_LOCK_BEGIN, addr, kind, op);
	if (!e)
		return 0;
	e->ip = p.ip;
	e->hdr.ts_ns = p.ts_ns;
	cw_submit(e);
	return 0;
}

static __always_inline int acquire_end(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_lock *p;
	struct cw_ev_lock *e;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p = bpf_map_lookup_elem(&pending_locks, &tid);
	if (!p)
		return 0; /* the entry was not seen (attached mid-call) or its map update failed */
	e = lock_record(CW_EV_LOCK_ACQUIRED, p->addr, p->kind, p->op);
	if (e) {
		e->ip = p->ip;
		e->wait_ns = e->hdr.ts_ns - p->ts_ns;
		e->result = (__s32)PT_REGS_RC(ctx);
		cw_submit(e);
	}
	bpf_map_delete_elem(&pending_locks, &tid);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(uprobe_pthread_mutex_lock, void *mutex)
{
	return acquire_begin(ctx, (__u64)mutex, CW_LOCK_MUTEX, CW_OP_LOCK);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pthread_mutex_lock)
{
	return acquire_end(ctx);
}

SEC("uprobe")
int BPF_KPROBE(uprobe_pthread_mutex_unlock, void *mutex)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cw_ev_lock *e;

	if (!cw_traced(id >> 32))
		return 0;
	e = lock_record(CW_EV_LOCK_RELEASED, (__u64)mutex, CW_LOCK_MUTEX, CW_OP_UNLOCK);
	if (!e)
		return 0;
	e->ip = caller_ip(ctx);
	cw_submit(e);
	return 0;
}
