// SPDX-License-Identifier: GPL-2.0
/*
 * concwatch BPF programs: user-space lock operations through uprobes on the target's
 * libc, futex(2) calls and kernel lock contention through tracepoints. Each operation
 * becomes a raw record in the ring buffer, with the id of its stack (cw_stack.bpf.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "cw_common.bpf.h"
#include "cw_stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* An acquire in progress on a thread, from the entry probe to the return probe. */
struct pending_lock {
	__u64 addr;
	__u64 ip;
	__u64 ts_ns;
	__u64 stack_id;
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
	p.stack_id = user_stack_id(PT_REGS_IP(ctx), PT_REGS_SP(ctx), PT_REGS_FP(ctx), 1, 0, 1);
	p.ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending_locks, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);

	e = lock_record(CW_EV_LOCK_BEGIN, addr, kind, op);
	if (!e)
		return 0;
	e->ip = p.ip;
	e->stack_id = p.stack_id;
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
		e->stack_id = p->stack_id;
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

/* futex(2): every op, with the user stack of the call; waits also get a raw copy. */

#define FUTEX_CMD_MASK 0x7f

struct pending_futex {
	__u64 uaddr;
	__u64 uaddr2;
	__u64 ts_ns;
	__u64 stack_id;
	__u32 op;
	__u32 val;
	__u32 val3;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct pending_futex);
} pending_futexes SEC(".maps");

static __always_inline int futex_blocks(__u32 op)
{
	switch (op & FUTEX_CMD_MASK) {
	case 0:		/* FUTEX_WAIT */
	case 6:		/* FUTEX_LOCK_PI */
	case 9:		/* FUTEX_WAIT_BITSET */
	case 11:	/* FUTEX_WAIT_REQUEUE_PI */
	case 13:	/* FUTEX_LOCK_PI2 */
		return 1;
	}
	return 0;
}

static __always_inline __u64 timespec_ns(__u64 uptr)
{
	struct __kernel_timespec ts;

	if (!uptr || bpf_probe_read_user(&ts, sizeof(ts), (void *)uptr))
		return 0;
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __always_inline int futex_enter(__u64 uaddr, __u32 op, __u32 val, __u64 utime,
				       __u64 uaddr2, __u32 val3, int blocks)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_futex p = {};
	struct task_struct *task;
	struct cw_ev_futex *e;
	struct pt_regs *regs;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	/* the user registers at the syscall: the stack of the code that called futex() */
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	p.uaddr = uaddr;
	p.uaddr2 = uaddr2;
	p.op = op;
	p.val = val;
	p.val3 = val3;
	/* glibc's futex wrappers share one call site: tell the waits apart by their word */
	p.stack_id = user_stack_id(BPF_CORE_READ(regs, ip), BPF_CORE_READ(regs, sp),
				   BPF_CORE_READ(regs, bp), 0, uaddr, blocks);
	p.ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending_futexes, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);

	e = cw_reserve(sizeof(*e), CW_EV_FUTEX_BEGIN);
	if (!e)
		return 0;
	e->hdr.ts_ns = p.ts_ns;
	e->uaddr = uaddr;
	e->uaddr2 = uaddr2;
	e->timeout_ns = blocks ? timespec_ns(utime) : 0;
	e->wait_ns = 0;
	e->stack_id = p.stack_id;
	e->op = op;
	e->val = val;
	e->val3 = val3;
	e->result = 0;
	cw_submit(e);
	return 0;
}

static __always_inline int futex_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_futex *p;
	struct cw_ev_futex *e;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p = bpf_map_lookup_elem(&pending_futexes, &tid);
	if (!p)
		return 0;
	e = cw_reserve(sizeof(*e), CW_EV_FUTEX_END);
	if (e) {
		e->uaddr = p->uaddr;
		e->uaddr2 = p->uaddr2;
		e->timeout_ns = 0;
		e->wait_ns = e->hdr.ts_ns - p->ts_ns;
		e->stack_id = p->stack_id;
		e->op = p->op;
		e->val = p->val;
		e->val3 = p->val3;
		e->result = ret;
		cw_submit(e);
	}
	bpf_map_delete_elem(&pending_futexes, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_futex")
int tracepoint__syscalls__sys_enter_futex(struct trace_event_raw_sys_enter *ctx)
{
	__u32 op = ctx->args[1];

	return futex_enter(ctx->args[0], op, ctx->args[2], ctx->args[3], ctx->args[4],
			   ctx->args[5], futex_blocks(op));
}

SEC("tracepoint/syscalls/sys_exit_futex")
int tracepoint__syscalls__sys_exit_futex(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

/* futex_waitv(waiters, nr_futexes, flags, timeout, clockid): always a wait */
SEC("tracepoint/syscalls/sys_enter_futex_waitv")
int tracepoint__syscalls__sys_enter_futex_waitv(struct trace_event_raw_sys_enter *ctx)
{
	return futex_enter(ctx->args[0], CW_FUTEX_OP_WAITV, ctx->args[1], ctx->args[3], 0,
			   ctx->args[2], 1);
}

SEC("tracepoint/syscalls/sys_exit_futex_waitv")
int tracepoint__syscalls__sys_exit_futex_waitv(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

/* Kernel lock contention of the traced threads, with kernel stacks. */

struct pending_klock {
	__u64 addr;
	__u64 ts_ns;
	__u64 kstack_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct pending_klock);
} pending_klocks SEC(".maps");

SEC("tp_btf/contention_begin")
int BPF_PROG(tp_btf__contention_begin, void *lock, unsigned int flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_klock p = {};
	struct cw_ev_klock *e;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p.addr = (__u64)lock;
	p.kstack_id = kernel_stack_id(ctx);
	p.ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending_klocks, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);
	e = cw_reserve(sizeof(*e), CW_EV_KLOCK_BEGIN);
	if (!e)
		return 0;
	e->hdr.ts_ns = p.ts_ns;
	e->addr = p.addr;
	e->kstack_id = p.kstack_id;
	e->wait_ns = 0;
	e->lock_flags = flags;
	e->result = 0;
	cw_submit(e);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(tp_btf__contention_end, void *lock, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_klock *p;
	struct cw_ev_klock *e;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p = bpf_map_lookup_elem(&pending_klocks, &tid);
	e = cw_reserve(sizeof(*e), CW_EV_KLOCK_END);
	if (e) {
		e->addr = (__u64)lock;
		/* contention can nest (a spinlock inside a mutex's slow path): match the lock */
		e->kstack_id = p && p->addr == (__u64)lock ? p->kstack_id : 0;
		e->wait_ns = p && p->addr == (__u64)lock ? e->hdr.ts_ns - p->ts_ns : 0;
		e->lock_flags = 0;
		e->result = ret;
		cw_submit(e);
	}
	if (p && p->addr == (__u64)lock)
		bpf_map_delete_elem(&pending_klocks, &tid);
	return 0;
}
