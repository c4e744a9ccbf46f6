/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event loops, from their waits: the syscall tracepoints of epoll_wait(2),
 * epoll_pwait(2), epoll_pwait2(2), poll(2), ppoll(2), select(2), pselect6(2) and
 * io_uring_enter(2) (a wait when it asks for completions: IORING_ENTER_GETEVENTS and
 * min_complete; no call with a zero timeout, which only looks), whatever the runtime
 * that calls them (libuv, libevent, asyncio, Tokio, a hand-written loop). Per thread, in
 * loop_threads (cw_maps.h): the wait in progress, and the iterations between a wait's
 * return and the next wait's entry, counted, timed
 * and put in a log2 histogram. An iteration of at least stall_threshold_ns is a stall:
 * a CW_EV_LOOP_STALL record at the next wait's entry, with the thread's time on a CPU
 * meanwhile (the scheduler's own accounting of the task). Userspace
 * reads the table every tick: the figures, and a stall still going on.
 *
 * Cost: these tracepoints fire only for these calls, of every task of the machine; a
 * task of no traced process returns at the target check. A traced loop pays a lookup
 * and a clock read at each entry and each return: a loop that runs 100,000 iterations a
 * second pays about 50 ms of program time a second on the test VM (a clock read is
 * ~170 ns there, ../shared/PERF-NOTES.md).
 */
#ifndef __CW_EVLOOP_BPF_H
#define __CW_EVLOOP_BPF_H

#include "cw_maps.h"

/* --stall-threshold: shorter iterations are not stalls (set from userspace before load) */
const volatile __u64 stall_threshold_ns = 100000000;
/* --block-threshold: shorter blocks inside an iteration are not sent */
const volatile __u64 block_threshold_ns = 10000000;

/*
 * Samples of an iteration past half the stall threshold: all of the first ones, then one in
 * CW_LOOP_SAMPLE_THIN, so that a loop stuck for minutes sends a few a second, not a copy of
 * its stack at every tick of the clock.
 */
#define CW_LOOP_SAMPLE_ALL 64
#define CW_LOOP_SAMPLE_THIN 16
/* the same call path blocked in different system calls is different stacks */
#define CW_LOOP_BLOCK_SEED 0x626c6f636bULL

/* x86-64 system call numbers of the loop waits */
#define CW_NR_POLL 7
#define CW_NR_SELECT 23
#define CW_NR_EPOLL_WAIT 232
#define CW_NR_PSELECT6 270
#define CW_NR_PPOLL 271
#define CW_NR_EPOLL_PWAIT 281
#define CW_NR_IO_URING_ENTER 426
#define CW_NR_EPOLL_PWAIT2 441
#define CW_IORING_ENTER_GETEVENTS 1U

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct cw_loop_thread);
} loop_threads SEC(".maps");

/* A zeroed loop_threads value to create entries from (never written). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cw_loop_thread);
} empty_loop SEC(".maps");

/*
 * The current thread's time on a CPU so far, as the scheduler accounts it
 * (se.sum_exec_runtime, what CLOCK_THREAD_CPUTIME_ID reads): brought up to date at every
 * switch and tick, so it lags by at most a tick; known whether or not concwatch traces the
 * scheduler.
 */
static __always_inline __u64 loop_oncpu(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return t->se.sum_exec_runtime;
}

static __always_inline struct cw_loop_thread *loop_entry(__u32 tid, __u32 tgid)
{
	struct cw_loop_thread *l = bpf_map_lookup_elem(&loop_threads, &tid), *z;
	__u32 zero = 0;

	if (l && l->tgid == tgid)
		return l;
	z = bpf_map_lookup_elem(&empty_loop, &zero);
	/* new, or a tid of a process no longer traced given to a thread of this one */
	if (!z || bpf_map_update_elem(&loop_threads, &tid, z, l ? BPF_ANY : BPF_NOEXIST)) {
		__sync_fetch_and_add(&lost_map_full, 1);
		return NULL;
	}
	l = bpf_map_lookup_elem(&loop_threads, &tid);
	if (l)
		l->tgid = tgid;
	return l;
}

static __always_inline void loop_emit_stall(const struct cw_loop_thread *l, __u64 now,
					    __u64 busy, __u64 oncpu)
{
	struct cw_ev_loop_stall *e = cw_reserve(sizeof(*e), CW_EV_LOOP_STALL);

	if (!e)
		return;
	e->hdr.ts_ns = now;
	e->start_ns = l->exit_ts;
	e->duration_ns = busy;
	e->oncpu_ns = 0;
	e->flags = 0;
	if (oncpu >= l->oncpu_at_exit) {
		e->oncpu_ns = oncpu - l->oncpu_at_exit;
		e->flags = CW_LOOP_F_ONCPU;
	}
	e->wait_nr = l->wait_nr;
	cw_submit(e);
}

/* A loop wait (system call nr) begins: the iteration since the last one's return ends. */
static __always_inline int loop_enter(__u32 nr)
{
	__u64 id = bpf_get_current_pid_tgid(), now, busy, oncpu;
	__u32 tid = id, tgid = id >> 32;
	struct cw_loop_thread *l;

	if (!cw_traced(tgid))
		return 0;
	l = loop_entry(tid, tgid);
	if (!l)
		return 0;
	now = bpf_ktime_get_ns();
	if (l->exit_ts && !l->in_wait && now > l->exit_ts) {
		busy = now - l->exit_ts;
		l->iterations++;
		l->busy_ns_total += busy;
		if (busy > l->busy_ns_max)
			l->busy_ns_max = busy;
		sched_hist_add(l->busy_hist, busy);
		if (busy >= stall_threshold_ns) {
			l->stalls++;
			oncpu = loop_oncpu();
			loop_emit_stall(l, now, busy, oncpu);
		}
	}
	l->waits++;
	l->wait_nr = nr;
	l->enter_ts = now;
	l->in_wait = 1;
	l->block_ts = 0;
	l->samples = 0;
	return 0;
}

/* A loop wait returns: an iteration begins. */
static __always_inline int loop_exit(void)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	__u32 tid = id, tgid = id >> 32;
	struct cw_loop_thread *l;

	if (!cw_traced(tgid))
		return 0;
	l = bpf_map_lookup_elem(&loop_threads, &tid);
	if (!l || l->tgid != tgid || !l->in_wait)
		return 0;
	now = bpf_ktime_get_ns();
	if (now > l->enter_ts)
		l->wait_ns_total += now - l->enter_ts;
	l->oncpu_at_exit = loop_oncpu();
	l->exit_ts = now;
	l->in_wait = 0;
	return 0;
}

/*
 * The user stack of the current task, a loop's thread going to sleep in system call nr,
 * from the registers it entered the kernel with. Seeded with the call, the thread and
 * %rsp, as prio_stack_regs() is: without frame pointers the cheap id is the pc of libc's
 * system call alone, and one copy must not stand for another call path's. A global
 * function with its frames in prio_frames (sched_switch runs one program at a time on a
 * CPU): sched_switch's own stack has no room for them.
 */
__noinline __u64 loop_block_stack(__u64 ip, __u64 sp, __u64 bp, __u32 tid, __u64 nr)
{
	struct prio_frames *f;
	__u32 zero = 0;

	f = bpf_map_lookup_elem(&prio_frames, &zero);
	if (!f)
		return 0;
	return user_stack_id_in(f->ips, ip, sp, bp, 0,
				CW_LOOP_BLOCK_SEED ^ nr ^ (__u64)tid << 40 ^ sp, 1, 0, 0);
}

/*
 * Blocks inside an iteration, from sched_switch (cw_sched.bpf.h): the loop's thread prev
 * (the current task) goes to sleep for reason, waiting on addr held by owner. Noted in
 * its loop_threads entry, with its system call and user stack now, when it is in an
 * iteration (not in its loop wait, which is the loop's idle time); st->loop_blocked tells
 * the switch-in to look. A voluntary switch-out of a thread of no loop costs one lookup.
 */
static __always_inline void loop_switch_out(struct task_struct *prev, __u32 tid, __u32 tgid,
					    struct cw_thread_sched *st, __u8 reason, __u64 addr,
					    __u32 owner, __u64 now)
{
	struct cw_loop_thread *l = bpf_map_lookup_elem(&loop_threads, &tid);
	struct pending_futex *pf;
	struct pt_regs *regs;
	__u64 nr, stack = 0;

	/* a thread on its way out sleeps in its exit: no work of its loop */
	if (!l || l->tgid != tgid || l->in_wait || !l->exit_ts || (prev->flags & CW_PF_EXITING))
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(prev);
	nr = BPF_CORE_READ(regs, orig_ax);
	/* a futex wait's stack was taken at its entry (with a probed acquire's fix) */
	if (reason == CW_OFFCPU_LOCK || reason == CW_OFFCPU_FUTEX) {
		pf = bpf_map_lookup_elem(&pending_futexes, &tid);
		if (pf && pf->active) {
			stack = pf->stack_id;
			/* the holder the lock word named at the wait's entry */
			if (!owner)
				owner = pf->owner_tid;
		}
	}
	if (!stack)
		stack = loop_block_stack(BPF_CORE_READ(regs, ip), BPF_CORE_READ(regs, sp),
					 BPF_CORE_READ(regs, bp), tid, nr);
	l->block_ts = now;
	l->block_addr = addr;
	l->block_stack = stack;
	l->block_nr = nr;
	l->block_owner = owner;
	l->block_reason = reason;
	st->loop_blocked = 1;
}

/* The loop's thread tid, blocked in an iteration, gets a CPU back (sched_switch's next). */
static __always_inline void loop_switch_in(__u32 tid, __u32 tgid, struct cw_thread_sched *st,
					   __u64 now)
{
	struct cw_loop_thread *l = bpf_map_lookup_elem(&loop_threads, &tid);
	struct cw_ev_loop_block *e;
	__u64 d;

	st->loop_blocked = 0;
	if (!l || l->tgid != tgid || !l->block_ts || now <= l->block_ts)
		return;
	d = now - l->block_ts;
	if (d >= block_threshold_ns) {
		e = cw_reserve(sizeof(*e), CW_EV_LOOP_BLOCK);
		if (e) {
			e->hdr.ts_ns = now;
			e->hdr.pid = tgid;
			e->hdr.tid = tid;
			e->start_ns = l->block_ts;
			e->duration_ns = d;
			e->iter_start_ns = l->exit_ts;
			e->addr = l->block_addr;
			e->stack_id = l->block_stack;
			e->nr = l->block_nr;
			e->owner_tid = l->block_owner;
			e->reason = l->block_reason;
			for (int i = 0; i < 7; i++)
				e->pad[i] = 0;
			cw_submit(e);
		}
	}
	l->block_ts = 0;
}

/*
 * Where a long iteration is: a software clock (PERF_COUNT_SW_CPU_CLOCK) on every CPU, at a
 * few tens of hertz, runs this on whatever task it interrupts. Anything but a loop's
 * thread at least half the stall threshold into an iteration returns at once (a lookup in
 * targets; for a traced process, one in loop_threads). The user stack goes out as usual
 * (an id, and a copy when new): a sample's pc is anywhere, so its id is nearly always new,
 * and samples group only once unwound (the report merges them by their frames).
 */
SEC("perf_event")
int perf_event__loop_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now, ip, sp, bp;
	__u32 tid = id, tgid = id >> 32, flags = 0, n;
	struct cw_ev_loop_sample *e;
	struct cw_loop_thread *l;
	struct pt_regs *regs;

	if (!tid || !cw_traced(tgid))
		return 0;
	l = bpf_map_lookup_elem(&loop_threads, &tid);
	if (!l || l->tgid != tgid || l->in_wait || !l->exit_ts)
		return 0;
	now = bpf_ktime_get_ns();
	if (now < l->exit_ts + stall_threshold_ns / 2)
		return 0;
	n = l->samples++;
	if (n >= CW_LOOP_SAMPLE_ALL && n % CW_LOOP_SAMPLE_THIN)
		return 0;
	/* user mode: a user address (x86-64's kernel half has the top bit set) */
	if (!(ctx->regs.ip >> 63)) {
		ip = ctx->regs.ip;
		sp = ctx->regs.sp;
		bp = ctx->regs.bp;
	} else {
		/* in the kernel: the user registers it entered with */
		regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
		ip = BPF_CORE_READ(regs, ip);
		sp = BPF_CORE_READ(regs, sp);
		bp = BPF_CORE_READ(regs, bp);
		flags = CW_LOOP_SAMPLE_F_KERNEL;
	}
	e = cw_reserve(sizeof(*e), CW_EV_LOOP_SAMPLE);
	if (!e)
		return 0;
	e->iter_start_ns = l->exit_ts;
	/* seeded as loop_block_stack() is: in the kernel, the pc is libc's system call */
	e->stack_id = user_stack_id(ip, sp, bp, 0, (__u64)tid << 40 ^ sp, 1, 0, 0);
	e->flags = flags;
	e->pad = 0;
	cw_submit(e);
	return 0;
}

/*
 * Thread tid (the current task) exits: its final figures go out from here, since its
 * entry goes with it (userspace sends them only when it reads the table).
 */
static __always_inline void loop_thread_exit(__u32 tid)
{
	struct cw_loop_thread *l = bpf_map_lookup_elem(&loop_threads, &tid);
	struct cw_ev_loop_stats *e;

	if (!l)
		return;
	e = cw_reserve(sizeof(*e), CW_EV_LOOP_STATS);
	if (e) {
		e->hdr.flags = CW_F_AGGREGATED;
		e->waits = l->waits;
		e->iterations = l->iterations;
		e->busy_ns_total = l->busy_ns_total;
		e->busy_ns_max = l->busy_ns_max;
		e->wait_ns_total = l->wait_ns_total;
		e->stalls = l->stalls;
		e->wait_nr = l->wait_nr;
		e->in_wait = l->in_wait;
		e->pad[0] = e->pad[1] = e->pad[2] = 0;
		__builtin_memcpy(e->busy_hist, l->busy_hist, sizeof(e->busy_hist));
		/* the iteration it exits in: its loop's end, no work of the loop */
		e->iter_start_ns = l->in_wait ? 0 : l->exit_ts;
		cw_submit(e);
	}
	bpf_map_delete_elem(&loop_threads, &tid);
}

/*
 * A call with a zero timeout only looks: it never waits, and a loop makes such calls in
 * the middle of its work (libuv with callbacks pending, Go's scheduler between
 * goroutines). It neither ends an iteration nor begins one. The timeout is an int of
 * milliseconds (poll, epoll_wait, epoll_pwait), or a pointer to two longs, seconds and
 * nano- or microseconds (ppoll, epoll_pwait2, pselect6, select), NULL for no limit.
 */
static __always_inline int loop_looks_only_ms(long timeout_ms)
{
	return (int)timeout_ms == 0;
}

static __always_inline int loop_looks_only_ts(const void *ts)
{
	long v[2];

	if (!ts || bpf_probe_read_user(v, sizeof(v), ts))
		return 0;
	return !v[0] && !v[1];
}

#define CW_LOOP_WAIT(name, nr, looks_only)                                              \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                    \
	int tracepoint__syscalls__sys_enter_##name(struct trace_event_raw_sys_enter *ctx) \
	{                                                                               \
		if (looks_only)                                                         \
			return 0;                                                       \
		return loop_enter(nr);                                                  \
	}                                                                               \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                     \
	int tracepoint__syscalls__sys_exit_##name(struct trace_event_raw_sys_exit *ctx) \
	{                                                                               \
		return loop_exit();                                                     \
	}

/* epoll_wait(epfd, events, maxevents, timeout), epoll_pwait(..., timeout, sigmask, size) */
CW_LOOP_WAIT(epoll_wait, CW_NR_EPOLL_WAIT, loop_looks_only_ms(ctx->args[3]))
CW_LOOP_WAIT(epoll_pwait, CW_NR_EPOLL_PWAIT, loop_looks_only_ms(ctx->args[3]))
/* epoll_pwait2(epfd, events, maxevents, const struct __kernel_timespec *timeout, ...) */
CW_LOOP_WAIT(epoll_pwait2, CW_NR_EPOLL_PWAIT2, loop_looks_only_ts((void *)ctx->args[3]))
/* poll(fds, nfds, timeout), ppoll(fds, nfds, tsp, sigmask, size) */
CW_LOOP_WAIT(poll, CW_NR_POLL, loop_looks_only_ms(ctx->args[2]))
CW_LOOP_WAIT(ppoll, CW_NR_PPOLL, loop_looks_only_ts((void *)ctx->args[2]))
/* select(n, in, out, ex, struct timeval *tvp), pselect6(n, in, out, ex, tsp, sig) */
CW_LOOP_WAIT(select, CW_NR_SELECT, loop_looks_only_ts((void *)ctx->args[4]))
CW_LOOP_WAIT(pselect6, CW_NR_PSELECT6, loop_looks_only_ts((void *)ctx->args[4]))

/* io_uring_enter(fd, to_submit, min_complete, flags, argp, argsz): a wait when it asks for
 * completions; a submission alone is the loop's work */
SEC("tracepoint/syscalls/sys_enter_io_uring_enter")
int tracepoint__syscalls__sys_enter_io_uring_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[3] & CW_IORING_ENTER_GETEVENTS) || !(__u32)ctx->args[2])
		return 0;
	return loop_enter(CW_NR_IO_URING_ENTER);
}

SEC("tracepoint/syscalls/sys_exit_io_uring_enter")
int tracepoint__syscalls__sys_exit_io_uring_enter(struct trace_event_raw_sys_exit *ctx)
{
	return loop_exit();
}

#endif /* __CW_EVLOOP_BPF_H */
