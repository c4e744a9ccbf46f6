/* SPDX-License-Identifier: GPL-2.0 */
/*
 * futex(2), futex_waitv(2) and, where the kernel has them (Linux 6.7), futex_wait(2),
 * futex_wake(2) and futex_requeue(2), from the syscall tracepoints.
 *
 * Every call that can block (FUTEX_WAIT, WAIT_BITSET, LOCK_PI, LOCK_PI2,
 * WAIT_REQUEUE_PI, futex_waitv, futex_wait) is counted in the kernel in lock_sites
 * (cw_sites.bpf.h) per (thread, word, call path), what = CW_SITE_FUTEX: calls, calls
 * that slept, timeouts, the time spent, its histogram, how the calls ended, and the
 * owner the word named at the latest wait. Nothing crosses the ring buffer per call,
 * except the stack of a call path seen for the first time (cw_stack.bpf.h). With
 * raw_events set, every call also goes out as CW_EV_FUTEX_BEGIN/END (tests,
 * record --timeline).
 *
 * pending_futexes holds a thread's call in progress, keyed by tid: the scheduler's
 * programs read it to know why a thread sleeps and what it waits on. A thread's entry is
 * made at its first blocking call and kept until it exits (sched_process_exit), marked
 * active while a call is in progress: a map update and a delete per call would cost more
 * than the rest of the program (~180 ns here).
 */
#ifndef __CW_FUTEX_BPF_H
#define __CW_FUTEX_BPF_H

#include "cw_locks.bpf.h"
#include "cw_sites.bpf.h"
#include "cw_stack.bpf.h"
#include "concwatch/glibc.h"

#define FUTEX_CMD_MASK 0x7f
#define FUTEX_TID_MASK 0x3fffffff	/* uapi/linux/futex.h: macros are not in BTF */
#define CW_EAGAIN 11
#define CW_ETIMEDOUT 110

/* The op words of the calls without one (futex_waitv, the Linux 6.7 calls): events.h. */

struct pending_futex {
	__u64 uaddr;		/* the word; futex_waitv: its first waiter's word */
	__u64 uaddr2;		/* the second word (requeue, wake_op, PI requeue); futex_waitv:
				 * the waiter array (what CW_EV_FUTEX records name) */
	__u64 ts_ns;		/* when the call began */
	__u64 timeout_ns;	/* the timeout argument, 0 = none (blocking calls) */
	__u64 stack_id;		/* user stack of the call; 0 for a call that cannot block
				 * outside raw_events (nothing would use it) */
	__u32 op;		/* the op word, or CW_FUTEX_OP_* */
	__u32 val;
	__u32 val3;
	__u32 owner_tid;	/* blocking calls: the holder the word named (see futex_owner) */
	__u32 blocks;		/* the call can block: a wait */
	__u32 active;		/* a call is in progress: the fields above are its */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct pending_futex);
} pending_futexes SEC(".maps");

/* Thread tid's entry, made when it has none; NULL when the map is full. */
static __always_inline struct pending_futex *futex_pending(__u32 tid)
{
	struct pending_futex *p = bpf_map_lookup_elem(&pending_futexes, &tid), zero = {};

	if (p)
		return p;
	bpf_map_update_elem(&pending_futexes, &tid, &zero, BPF_NOEXIST);
	p = bpf_map_lookup_elem(&pending_futexes, &tid);
	if (!p)
		__sync_fetch_and_add(&lost_map_full, 1);
	return p;
}

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

static __always_inline __u32 read_u32(__u64 uaddr)
{
	__u32 w = 0;

	bpf_probe_read_user(&w, sizeof(w), (void *)uaddr);
	return w;
}

/*
 * Who holds the lock behind the word, as the memory says at the wait, 0 when it does not
 * say: a PI futex keeps the owner's tid in the word itself (WAIT_REQUEUE_PI waits to be
 * moved to the PI futex at uaddr2); a plain wait may be on a glibc mutex, whose __owner
 * follows its word. Userspace decides whether the word is a mutex, and trusts the tid
 * only when it is a live thread of the process.
 */
static __always_inline __u32 futex_owner(__u32 op, __u64 uaddr, __u64 uaddr2)
{
	if (op == CW_FUTEX_OP_WAITV)
		return 0;
	if (op == CW_FUTEX_OP_WAIT2)
		return read_u32(uaddr + CW_GLIBC_MUTEX_OWNER_OFF);
	switch (op & FUTEX_CMD_MASK) {
	case 0:		/* FUTEX_WAIT */
	case 9:		/* FUTEX_WAIT_BITSET */
		return read_u32(uaddr + CW_GLIBC_MUTEX_OWNER_OFF);
	case 6:		/* FUTEX_LOCK_PI */
	case 13:	/* FUTEX_LOCK_PI2 */
		return read_u32(uaddr) & FUTEX_TID_MASK;
	case 11:	/* FUTEX_WAIT_REQUEUE_PI */
		return read_u32(uaddr2) & FUTEX_TID_MASK;
	}
	return 0;
}

static __always_inline void emit_futex(__u16 type, const struct pending_futex *p, __u64 ts,
				       __u64 wait_ns, __s32 result)
{
	struct cw_ev_futex *e = cw_reserve(sizeof(*e), type);

	if (!e)
		return;
	e->hdr.ts_ns = ts;
	/* futex_waitv's records name its waiter array (events.h) */
	e->uaddr = p->op == CW_FUTEX_OP_WAITV ? p->uaddr2 : p->uaddr;
	e->uaddr2 = p->op == CW_FUTEX_OP_WAITV ? 0 : p->uaddr2;
	e->timeout_ns = type == CW_EV_FUTEX_BEGIN ? p->timeout_ns : 0;
	e->wait_ns = wait_ns;
	e->stack_id = p->stack_id;
	e->op = p->op;
	e->val = p->val;
	e->val3 = p->val3;
	e->result = result;
	cw_submit(e);
}

static __always_inline int futex_enter(__u64 uaddr, __u32 op, __u32 val, __u64 utime,
				       __u64 uaddr2, __u32 val3, int blocks)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_lock *lk = NULL;
	struct task_struct *task;
	struct pending_futex *p;
	struct pt_regs *regs;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	/*
	 * A wake, requeue or wake_op leaves nothing to count when it returns: without
	 * per-operation records it costs the lookup above alone (sched_waking names its
	 * waker from the registers), not a map update and a delete per call.
	 */
	if (!blocks && !raw_events)
		return 0;
	p = futex_pending(tid);
	if (!p)
		return 0;
	/* readers on other CPUs (a waking) skip an entry being filled */
	p->active = 0;
	barrier();
	p->uaddr = uaddr;
	p->uaddr2 = uaddr2;
	p->op = op;
	p->val = val;
	p->val3 = val3;
	p->blocks = blocks;
	p->stack_id = 0;
	p->timeout_ns = 0;
	p->owner_tid = 0;
	/* the user registers at the syscall: the stack of the code that called futex() */
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	/*
	 * glibc's futex wrappers share one call site: tell the waits apart by their word.
	 * Inside a probed acquire (a contended mutex, cond_wait) its return address is the
	 * uretprobe trampoline now: the copy gets the real one back. A known stack costs
	 * the frame-pointer walk and a per-CPU cache lookup; only a new one is sent, and
	 * only a new one of a wait is copied raw.
	 */
	if (!no_uprobes)
		lk = bpf_map_lookup_elem(&pending_locks, &tid);
	/*
	 * Without frame pointers the cheap stack of a wait is glibc's futex call alone:
	 * inside a probed acquire its caller (the acquire's return address) tells call
	 * paths apart, and keeps a copy taken without the fix (an acquire whose entry was
	 * not seen, its return already swapped) from standing for the good ones.
	 */
	p->stack_id = user_stack_id(BPF_CORE_READ(regs, ip), BPF_CORE_READ(regs, sp),
				    BPF_CORE_READ(regs, bp), 0, uaddr ^ (lk ? lk->a.ip : 0), blocks,
				    lk ? lk->ret_slot : 0, lk ? lk->a.ip : 0);
	if (blocks) {
		p->timeout_ns = timespec_ns(utime);
		p->owner_tid = futex_owner(op, uaddr, uaddr2);
	}
	p->ts_ns = bpf_ktime_get_ns();
	barrier();
	p->active = 1;
	/*
	 * A lock acquire in progress had to wait, on its lock's word: not cond_wait's wait
	 * for the condition, on the condvar's words, after which it takes the mutex back
	 * (futex_exit restarts its clock there).
	 */
	if (blocks && lk && !cond_wait_word(lk, uaddr))
		lk->a.contended = 1;
	if (raw_events)
		emit_futex(CW_EV_FUTEX_BEGIN, p, p->ts_ns, 0, 0);
	return 0;
}

/* A blocking call ended with ret after wait ns: into its thread's site. */
static __always_inline void futex_count(const struct pending_futex *p, __u64 id, long ret,
					__u64 wait)
{
	struct cw_site_key k = { .tgid = id >> 32, .tid = (__u32)id, .addr = p->uaddr,
				 .stack_id = p->stack_id, .what = CW_SITE_FUTEX };
	struct cw_site_stats *st = site_entry(&k, 0, CW_LOCK_FUTEX);
	__u32 outcome;

	if (!st)
		return;
	st->acquisitions++;
	if (ret != -CW_EAGAIN)
		st->contentions++;
	if (ret == -CW_ETIMEDOUT)
		st->failures++;
	/* the waits are the calls that slept: an EAGAIN returned at once */
	if (ret != -CW_EAGAIN)
		site_wait_own(st, wait);
	/* futex_waitv returns the index of the word that woke it */
	if (ret >= 0)
		outcome = CW_FUTEX_WOKEN;
	else if (ret == -CW_ETIMEDOUT)
		outcome = CW_FUTEX_TIMEDOUT;
	else if (ret == -CW_EAGAIN)
		outcome = CW_FUTEX_EAGAIN;
	else
		outcome = CW_FUTEX_EINTR;
	st->outcomes[outcome & (CW_FUTEX_OUTCOMES - 1)]++;
	st->op = p->op;
	st->owner_tid = p->owner_tid;
	if (!p->stack_id)
		st->flags |= CW_SITE_F_NO_STACK;
}

static __always_inline int futex_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	struct pending_lock *lk;
	struct pending_futex *p;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p = bpf_map_lookup_elem(&pending_futexes, &tid);
	if (!p || !p->active)
		return 0;
	now = bpf_ktime_get_ns();
	/* cond_wait's wait for the condition is over: its mutex's acquire begins now */
	lk = no_uprobes || !p->blocks ? NULL : bpf_map_lookup_elem(&pending_locks, &tid);
	if (lk && cond_wait_word(lk, p->uaddr))
		lk->a.begin_ns = now;
	if (p->blocks)
		futex_count(p, id, ret, now - p->ts_ns);
	if (raw_events)
		emit_futex(CW_EV_FUTEX_END, p, now, now - p->ts_ns, ret);
	p->active = 0;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_futex")
int tracepoint__syscalls__sys_enter_futex(struct trace_event_raw_sys_enter *ctx)
{
	__u32 op = ctx->args[1];

	/* the timeout argument is a pointer only for the ops that wait */
	return futex_enter(ctx->args[0], op, ctx->args[2], ctx->args[3], ctx->args[4],
			   ctx->args[5], futex_blocks(op));
}

SEC("tracepoint/syscalls/sys_exit_futex")
int tracepoint__syscalls__sys_exit_futex(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

/*
 * futex_waitv(waiters, nr_futexes, flags, timeout, clockid): always a wait. Its site is
 * its first word's (struct futex_waitv: val, uaddr, flags, __reserved).
 */
SEC("tracepoint/syscalls/sys_enter_futex_waitv")
int tracepoint__syscalls__sys_enter_futex_waitv(struct trace_event_raw_sys_enter *ctx)
{
	__u64 first = 0;

	bpf_probe_read_user(&first, sizeof(first), (void *)(ctx->args[0] + 8));
	return futex_enter(first, CW_FUTEX_OP_WAITV, ctx->args[1], ctx->args[3], ctx->args[0],
			   ctx->args[2], 1);
}

SEC("tracepoint/syscalls/sys_exit_futex_waitv")
int tracepoint__syscalls__sys_exit_futex_waitv(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

/*
 * The calls of Linux 6.7; left out (autoload off) where their tracepoints do not exist.
 * futex_wait(uaddr, val, mask, flags, timeout, clockid): val and mask as val and val3.
 */
SEC("tracepoint/syscalls/sys_enter_futex_wait")
int tracepoint__syscalls__sys_enter_futex_wait(struct trace_event_raw_sys_enter *ctx)
{
	return futex_enter(ctx->args[0], CW_FUTEX_OP_WAIT2, ctx->args[1], ctx->args[4], 0,
			   ctx->args[2], 1);
}

SEC("tracepoint/syscalls/sys_exit_futex_wait")
int tracepoint__syscalls__sys_exit_futex_wait(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

/* futex_wake(uaddr, mask, nr, flags): nr as val, mask as val3. */
SEC("tracepoint/syscalls/sys_enter_futex_wake")
int tracepoint__syscalls__sys_enter_futex_wake(struct trace_event_raw_sys_enter *ctx)
{
	return futex_enter(ctx->args[0], CW_FUTEX_OP_WAKE2, ctx->args[2], 0, 0, ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_futex_wake")
int tracepoint__syscalls__sys_exit_futex_wake(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

/*
 * futex_requeue(waiters[2], flags, nr_wake, nr_requeue): the two words from the array,
 * nr_wake as val, nr_requeue as val3.
 */
SEC("tracepoint/syscalls/sys_enter_futex_requeue")
int tracepoint__syscalls__sys_enter_futex_requeue(struct trace_event_raw_sys_enter *ctx)
{
	__u64 w[4] = {};

	/* futex_waitv[0].uaddr at +8, [1].uaddr at +32 (each 24 bytes) */
	bpf_probe_read_user(w, sizeof(w), (void *)(ctx->args[0] + 8));
	return futex_enter(w[0], CW_FUTEX_OP_REQUEUE2, ctx->args[2], 0, w[3], ctx->args[3], 0);
}

SEC("tracepoint/syscalls/sys_exit_futex_requeue")
int tracepoint__syscalls__sys_exit_futex_requeue(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

#endif /* __CW_FUTEX_BPF_H */
