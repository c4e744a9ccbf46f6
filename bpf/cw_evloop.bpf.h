/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event loops, from their waits: the syscall tracepoints of epoll_wait(2),
 * epoll_pwait(2), epoll_pwait2(2), poll(2), ppoll(2), select(2), pselect6(2) and
 * io_uring_enter(2) (a wait when it asks for completions: IORING_ENTER_GETEVENTS and
 * min_complete), whatever the runtime that calls them (libuv, libevent, asyncio, Tokio,
 * a hand-written loop). Per thread, in loop_threads (cw_maps.h): the wait in progress,
 * and the iterations between a wait's return and the next wait's entry, counted, timed
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
		e->in_wait = 0;
		e->pad[0] = e->pad[1] = e->pad[2] = 0;
		__builtin_memcpy(e->busy_hist, l->busy_hist, sizeof(e->busy_hist));
		cw_submit(e);
	}
	bpf_map_delete_elem(&loop_threads, &tid);
}

#define CW_LOOP_WAIT(name, nr)                                                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                    \
	int tracepoint__syscalls__sys_enter_##name(struct trace_event_raw_sys_enter *ctx) \
	{                                                                               \
		return loop_enter(nr);                                                  \
	}                                                                               \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                     \
	int tracepoint__syscalls__sys_exit_##name(struct trace_event_raw_sys_exit *ctx) \
	{                                                                               \
		return loop_exit();                                                     \
	}

CW_LOOP_WAIT(epoll_wait, CW_NR_EPOLL_WAIT)
CW_LOOP_WAIT(epoll_pwait, CW_NR_EPOLL_PWAIT)
CW_LOOP_WAIT(epoll_pwait2, CW_NR_EPOLL_PWAIT2)
CW_LOOP_WAIT(poll, CW_NR_POLL)
CW_LOOP_WAIT(ppoll, CW_NR_PPOLL)
CW_LOOP_WAIT(select, CW_NR_SELECT)
CW_LOOP_WAIT(pselect6, CW_NR_PSELECT6)

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
