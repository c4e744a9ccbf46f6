/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel lock contention of the traced threads (lock:contention_begin/end, Linux 5.19),
 * with kernel stacks, counted in lock_sites per (process, lock, kernel call path), what
 * = CW_SITE_KLOCK: contentions, their wait total, maximum and histogram, the LCB_F_*
 * flags of the lock's type, and whether the lock is the task's own mm->mmap_lock (which
 * has no symbol: recognised by its address, as perf does). With raw_events set, every
 * contention also goes out as CW_EV_KLOCK_BEGIN/END.
 *
 * Contention nests: a mutex's slow path takes its wait_lock, a spinlock that may be
 * contended in turn, and it says contention_begin twice for the mutex (spinning, then
 * sleeping). pending_klocks keeps the outermost lock a thread waits for (the scheduler's
 * programs read it: what a thread blocked on a kernel lock waits on); a nested one is
 * not counted, as perf's lock contention does not.
 */
#ifndef __CW_KLOCK_BPF_H
#define __CW_KLOCK_BPF_H

#include "cw_locks.bpf.h"
#include "cw_sites.bpf.h"
#include "cw_stack.bpf.h"

struct pending_klock {
	__u64 addr;		/* the lock */
	__u64 ts_ns;		/* when its contention began */
	__u64 kstack_id;	/* kernel stack of the first contention_begin, 0 = none */
	__u32 flags;		/* LCB_F_* of the latest contention_begin on it */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct pending_klock);
} pending_klocks SEC(".maps");

/* lock is the current task's mm->mmap_lock (CO-RE: the member's offset in this kernel). */
static __always_inline int is_mmap_lock(__u64 lock)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);

	return mm && lock == (__u64)mm + bpf_core_field_offset(struct mm_struct, mmap_lock);
}

static __always_inline void emit_klock(__u16 type, __u64 addr, __u64 kstack_id, __u64 wait_ns,
				       __u32 flags, __s32 result, __u64 ts)
{
	struct cw_ev_klock *e = cw_reserve(sizeof(*e), type);

	if (!e)
		return;
	e->hdr.ts_ns = ts;
	e->addr = addr;
	e->kstack_id = kstack_id;
	e->wait_ns = wait_ns;
	e->lock_flags = flags | (is_mmap_lock(addr) ? CW_KLOCK_F_MMAP_LOCK : 0);
	e->result = result;
	cw_submit(e);
}

SEC("tp_btf/contention_begin")
int BPF_PROG(tp_btf__contention_begin, void *lock, unsigned int flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_klock p = {}, *old;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	old = bpf_map_lookup_elem(&pending_klocks, &tid);
	if (old) {
		/* the same lock again (a mutex stops spinning to sleep): its latest type */
		if (old->addr == (__u64)lock)
			old->flags = flags;
		if (raw_events)
			emit_klock(CW_EV_KLOCK_BEGIN, (__u64)lock, 0, 0, flags, 0,
				   bpf_ktime_get_ns());
		return 0;
	}
	p.addr = (__u64)lock;
	p.kstack_id = kernel_stack_id(ctx);
	p.flags = flags;
	p.ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending_klocks, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);
	if (raw_events)
		emit_klock(CW_EV_KLOCK_BEGIN, p.addr, p.kstack_id, 0, flags, 0, p.ts_ns);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(tp_btf__contention_end, void *lock, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns(), wait;
	struct cw_site_key k = { .tgid = id >> 32, .addr = (__u64)lock, .what = CW_SITE_KLOCK };
	struct cw_site_stats *st;
	struct pending_klock *p;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p = bpf_map_lookup_elem(&pending_klocks, &tid);
	if (!p || p->addr != (__u64)lock) {
		/* nested, or begun before tracing: nothing to measure it from */
		if (raw_events)
			emit_klock(CW_EV_KLOCK_END, (__u64)lock, 0, 0, 0, ret, now);
		return 0;
	}
	wait = now - p->ts_ns;
	k.stack_id = p->kstack_id;
	st = site_entry(&k, 0, CW_LOCK_KERNEL);
	if (st) {
		__sync_fetch_and_add(&st->acquisitions, 1);
		__sync_fetch_and_add(&st->contentions, 1);
		if (ret)
			__sync_fetch_and_add(&st->failures, 1); /* interrupted, timed out */
		site_wait_shared(st, wait);
		st->op = p->flags;
		/* the same for every thread of the key's process: plain writes race harmlessly */
		if (!(st->flags & CW_SITE_F_MMAP_LOCK) && is_mmap_lock((__u64)lock))
			st->flags |= CW_SITE_F_MMAP_LOCK;
		if (!p->kstack_id)
			st->flags |= CW_SITE_F_NO_STACK;
	}
	if (raw_events)
		emit_klock(CW_EV_KLOCK_END, (__u64)lock, p->kstack_id, wait, 0, ret, now);
	bpf_map_delete_elem(&pending_klocks, &tid);
	return 0;
}

#endif /* __CW_KLOCK_BPF_H */
