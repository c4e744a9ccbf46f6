/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The scheduler, seen from the target's threads: per thread in the kernel (thread_stats,
 * read by userspace each tick), on-CPU time, off-CPU time by reason, run-queue latency,
 * switches and wakeups; and, at each wakeup that ends a blocking futex wait, who woke it
 * from which user stack (lock_sites, CW_SITE_WAKE: "who made them wait").
 *
 * A thread's state changes at four tracepoints:
 *  - sched_switch, switched out: on CPU until now; off CPU for a reason decided from what
 *    it does now (still runnable: PREEMPTED; in a kernel lock's slow path: KLOCK; in a
 *    futex wait on the word of a probed acquire: LOCK; in another blocking futex wait:
 *    FUTEX; else TASK_UNINTERRUPTIBLE: IO, or SLEEP);
 *  - sched_waking, the current task being the waker: the sleep ends, the thread is
 *    runnable (the PREEMPTED bucket) until it is switched in;
 *  - sched_switch, switched in: the runnable time ends (run-queue latency), on CPU;
 *  - sched_wakeup_new: a new thread is runnable.
 * A waking can come while the wakee is still on its CPU on the way to sleep (the waker
 * saw it queued on the futex before it called schedule()); it is then noted (waking_ts)
 * and the switch-out that follows is runnable time. sched_wakeup, which comes after that
 * switch-out, catches the waking the switch-out did not see yet (the two run on different
 * CPUs) and clears the note.
 *
 * These programs run for every switch and wakeup of the machine: everything starts with a
 * lookup of the task's process in targets, and they keep nothing for other processes.
 * With sched_events (record --timeline) each switch and wakeup of a traced thread also
 * goes out as a record; the per-thread figures are kept in both modes.
 *
 * Included by concwatch.bpf.c after the futex and kernel-lock programs: their per-thread
 * maps (pending_futexes, pending_klocks, and cw_locks.bpf.h's pending_locks) say why a
 * thread sleeps.
 */
#ifndef __CW_SCHED_BPF_H
#define __CW_SCHED_BPF_H

#include "cw_maps.h"
#include "cw_stack.bpf.h"

/* record --timeline: a CW_EV_SCHED_SWITCH/_WAKEUP record per switch and wakeup too */
const volatile bool sched_events = false;

/* include/linux/sched.h: macros are not in BTF */
#define CW_TASK_RUNNING 0x0
#define CW_TASK_UNINTERRUPTIBLE 0x2
#define CW_PF_EXITING 0x4
#define CW_PF_KTHREAD 0x00200000
#define CW_NICE_0_PRIO 120		/* static_prio of nice 0 */

/* x86-64 system calls that wake futex waiters (futex_wake(2) and futex_requeue(2): 6.7) */
#define CW_NR_FUTEX 202
#define CW_NR_FUTEX_WAKE 454
#define CW_NR_FUTEX_REQUEUE 456

/* Mixed into the waker's stack id, so that it is not the one its futex call already has
 * (sent without a stack copy: a wake does not block). */
#define CW_WAKE_SEED 0x77616b6572ULL

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct cw_thread_sched);
} thread_stats SEC(".maps");

/* A zeroed thread_stats value to create entries from (never written). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cw_thread_sched);
} empty_thread SEC(".maps");

/* One more value v in a log2 histogram; masked after a barrier, or clang drops the mask. */
static __always_inline void sched_hist_add(__u32 *hist, __u64 v)
{
	__u64 b = cw_site_bucket(v);

	asm volatile("" : "+r"(b));
	b &= CW_HIST_BUCKETS - 1;
	__sync_fetch_and_add(&hist[b], 1);
}

/* FUTEX_WAIT, _LOCK_PI, _WAIT_BITSET, _WAIT_REQUEUE_PI, _LOCK_PI2, futex_waitv, futex_wait */
static __always_inline int sched_futex_blocks(__u32 op)
{
	switch (op & 0x7f) {
	case 0:
	case 6:
	case 9:
	case 11:
	case 13:
		return 1;
	}
	return op == CW_FUTEX_OP_WAITV || op == CW_FUTEX_OP_WAIT2;
}

/* d more ns off CPU for reason state (checked here, where the index is used: 6.1). */
static __always_inline void sched_add_off(struct cw_thread_sched *st, __u8 state, __u64 d)
{
	__u64 i = state;

	asm volatile("" : "+r"(i));
	if (i < CW_OFFCPU_MAX)
		st->offcpu_ns[i] += d;
}

/*
 * The thread_stats entry of tid, made when new and create is set (never for an exiting
 * task: sched_process_exit took its entry out for good). NULL when there is none.
 */
static __always_inline struct cw_thread_sched *sched_entry(__u32 tid, __u32 tgid, __u64 now,
							  int create)
{
	struct cw_thread_sched *st = bpf_map_lookup_elem(&thread_stats, &tid), *z;
	__u32 zero = 0;

	if (st && st->tgid == tgid)
		return st;
	if (!create)
		return NULL;
	/* new, or a tid of a process no longer traced given to a thread of this one */
	z = bpf_map_lookup_elem(&empty_thread, &zero);
	if (!z || bpf_map_update_elem(&thread_stats, &tid, z, st ? BPF_ANY : BPF_NOEXIST)) {
		/* another CPU made it first (EEXIST) is fine: the lookup finds it */
		st = bpf_map_lookup_elem(&thread_stats, &tid);
		if (!st)
			__sync_fetch_and_add(&lost_map_full, 1);
		return st;
	}
	st = bpf_map_lookup_elem(&thread_stats, &tid);
	if (st) {
		st->tgid = tgid;
		st->since_ns = now;
	}
	return st;
}

/* A failed trylock or timed acquire of thread tid (cw_locks.bpf.h, count_failure()). */
static __always_inline void sched_count_try_failure(__u32 tid, __u32 tgid, __u64 now)
{
	struct cw_thread_sched *st = sched_entry(tid, tgid, now, 1);

	if (st)
		__sync_fetch_and_add(&st->trylock_failures, 1);
}
#include "cw_prio.bpf.h"

/* Event loops' blocks inside an iteration (cw_evloop.bpf.h, included after this file). */
static __always_inline void loop_switch_out(struct task_struct *prev, __u32 tid, __u32 tgid,
					    struct cw_thread_sched *st, __u8 reason, __u64 addr,
					    __u32 owner, __u64 now);
static __always_inline void loop_switch_in(__u32 tid, __u32 tgid, struct cw_thread_sched *st,
					   __u64 now);

/* Policy, priorities and affinity, as the task has them now. */
static __always_inline void sched_attrs(struct cw_thread_sched *st, struct task_struct *t)
{
	st->policy = t->policy;
	st->prio = t->prio;
	st->normal_prio = t->normal_prio;
	st->rt_priority = t->rt_priority;
	st->nice = t->static_prio - CW_NICE_0_PRIO;
	st->nr_cpus_allowed = t->nr_cpus_allowed;
	st->cpus_allowed = t->cpus_mask.bits[0];
}

/*
 * Why thread tid (task t, the current task) of process tgid, going to sleep in state, is
 * off CPU; *addr: what it waits on; *lwp: the wait of an acquire the in-process library
 * records, looked at only for a futex wait outside a probed acquire (NULL, or ->addr 0:
 * none; a probed acquire's is acquire_sleeps()'s).
 */
static __always_inline __u8 sched_why_blocked(struct task_struct *t, __u32 tid, __u32 tgid,
					      unsigned int state, __u64 *addr,
					      struct library_wait **lwp)
{
	struct pending_klock *kl = bpf_map_lookup_elem(&pending_klocks, &tid);
	struct library_wait *lw;
	struct pending_futex *pf;
	struct pending_lock *lk;
	__u32 zero = 0;

	if (kl) {
		*addr = kl->addr;
		return CW_OFFCPU_KLOCK;
	}
	pf = bpf_map_lookup_elem(&pending_futexes, &tid);
	if (pf && pf->active && sched_futex_blocks(pf->op)) {
		/* a probed acquire waits on its own word; cond_wait's mutex is not the futex */
		lk = no_uprobes ? NULL : bpf_map_lookup_elem(&pending_locks, &tid);
		if (lk && pf->uaddr - lk->a.addr < CW_LOCK_WORDS) {
			*addr = lk->a.addr;
			return CW_OFFCPU_LOCK;
		}
		/* ... and so does one the library records, by its words */
		*addr = 0;
		if (!lk) {
			lw = bpf_map_lookup_elem(&library_wait_buf, &zero);
			if (lw) {
				lw->addr = 0;
				*addr = library_wait(t, tgid, tid, pf->uaddr, lw);
				*lwp = lw;
			}
		}
		if (*addr)
			return CW_OFFCPU_LOCK;
		*addr = pf->uaddr;
		return CW_OFFCPU_FUTEX;
	}
	*addr = 0;
	return state & CW_TASK_UNINTERRUPTIBLE ? CW_OFFCPU_IO : CW_OFFCPU_SLEEP;
}

/* prev leaves its CPU: the reason it is off CPU, and what it waits on (*addr). */
static __always_inline __u8 sched_switch_out(struct task_struct *prev, __u32 tgid,
					     unsigned int prev_state, bool preempt, __u64 now,
					     __u64 *addr, struct task_struct *next)
{
	__u32 tid = prev->pid;
	struct cw_thread_sched *st = sched_entry(tid, tgid, now, !(prev->flags & CW_PF_EXITING));
	struct library_wait *lw = NULL;
	__u32 owner = 0;
	__u8 reason;

	*addr = 0;
	if (!st)
		return CW_OFFCPU_NONE;
	if (st->state == CW_OFFCPU_NONE && st->state_ts && now > st->state_ts)
		st->oncpu_ns += now - st->state_ts;
	/* preempted on its way to sleep: still on the run queue, runnable */
	if (preempt || prev_state == CW_TASK_RUNNING) {
		reason = CW_OFFCPU_PREEMPTED;
		st->nr_involuntary++;
	} else {
		reason = sched_why_blocked(prev, tid, tgid, prev_state, addr, &lw);
		/* a probed acquire sleeps: what it waits for, once (cw_locks.bpf.h) */
		if (lw && lw->addr)
			owner = lw->owner;
		else if (reason == CW_OFFCPU_LOCK)
			owner = acquire_sleeps(tid);
		/* a real-time thread's wait the library records: said now, and at its wake */
		if (lw && lw->addr && prio_rt_policy(prev->policy)) {
			emit_library_blocked(tgid, tid, CW_OFFCPU_LOCK, lw->addr, lw->since,
					     lw->stack, owner, lw->kind, lw->op);
			st->library_blocked = 1;
		}
		/* an event loop's thread blocks in its work, not in its loop wait */
		loop_switch_out(prev, tid, tgid, st, reason, *addr, owner, now);
		st->nr_voluntary++;
		/* its waker came first: runnable already */
		if (st->waking_ts)
			reason = CW_OFFCPU_PREEMPTED;
		/* a real-time thread waits on a lock: its holder's inversion watch */
		if (reason == CW_OFFCPU_LOCK)
			prio_waits(prev, tid, tgid, *addr, owner, now, next);
	}
	/* it holds a lock a real-time thread waits on */
	if (st->pi_waiter)
		prio_switch_out(st, prev, tid, next, reason);
	st->state = reason;
	st->state_ts = now;
	st->wait_addr = *addr;
	st->waking_ts = 0;
	st->cpu = bpf_get_smp_processor_id();
	sched_attrs(st, prev);
	return reason;
}

/* next gets a CPU: the time off CPU ends, the run-queue latency with it. */
static __always_inline void sched_switch_in(struct task_struct *next, __u32 tgid, __u64 now,
					    struct task_struct *prev)
{
	struct cw_thread_sched *st = sched_entry(next->pid, tgid, now,
						 !(next->flags & CW_PF_EXITING));
	__u8 state;

	if (!st)
		return;
	state = st->state;
	/* a real-time thread waits on a lock it holds: was it kept off its CPU? */
	if (st->pi_waiter)
		prio_switch_in(st, state, next, prev, now);
	if (st->library_blocked) {
		emit_library_blocked(tgid, next->pid, CW_OFFCPU_NONE, st->wait_addr, 0, 0, 0, 0, 0);
		st->library_blocked = 0;
	}
	if (st->loop_blocked)
		loop_switch_in(next->pid, tgid, st, now);
	if (state != CW_OFFCPU_NONE && state < CW_OFFCPU_MAX && st->state_ts &&
	    now > st->state_ts) {
		__u64 d = now - st->state_ts;

		sched_add_off(st, state, d);
		if (state == CW_OFFCPU_PREEMPTED) {
			atomic_max(&st->runq_ns_max, d);
			sched_hist_add(st->runq_hist, d);
		}
	}
	st->state = CW_OFFCPU_NONE;
	st->state_ts = now;
	st->wait_addr = 0;
	st->waking_ts = 0;
	sched_attrs(st, next);
}

static __always_inline void sched_emit_switch(struct task_struct *prev, int prev_traced,
					      struct task_struct *next, int next_traced,
					      unsigned int prev_state, __u8 reason, __u64 addr,
					      __u64 now)
{
	struct cw_ev_switch *e = cw_reserve(sizeof(*e), CW_EV_SCHED_SWITCH);

	if (!e)
		return;
	/* an untraced task switched out is 0/0, as an untraced next is */
	e->hdr.ts_ns = now;
	e->hdr.pid = prev_traced ? prev->tgid : 0;
	e->hdr.tid = prev_traced ? prev->pid : 0;
	e->prev_state = prev_traced ? prev_state : 0;
	e->wait_addr = addr;
	e->next_pid = next_traced ? next->tgid : 0;
	e->next_tid = next_traced ? next->pid : 0;
	e->prev_prio = prev->prio;
	e->next_prio = next->prio;
	e->prev_policy = prev->policy;
	e->reason = reason;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	cw_submit(e);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf__sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u32 prev_tgid = prev->tgid, next_tgid = next->tgid;
	int prev_traced = prev->pid && cw_traced(prev_tgid);
	int next_traced = next->pid && cw_traced(next_tgid);
	__u8 reason = CW_OFFCPU_NONE;
	__u64 now, addr = 0;

	/* a holder a real-time thread waits for is runnable here: who runs instead */
	prio_watch_switch(next);
	if (!prev_traced && !next_traced)
		return 0;
	now = bpf_ktime_get_ns();
	if (prev_traced)
		reason = sched_switch_out(prev, prev_tgid, prev_state, preempt, now, &addr, next);
	if (next_traced)
		sched_switch_in(next, next_tgid, now, prev);
	if (sched_events)
		sched_emit_switch(prev, prev_traced, next, next_traced, prev_state, reason, addr,
				  now);
	return 0;
}

/* What a wakeup ended, for blame and the wakeup record. */
struct sched_woken {
	__u64 addr;		/* the lock or futex word waited on */
	__u64 blocked_ns;
	__u64 stack_id;		/* the waker's */
	__u8 reason;
};

/*
 * The waker (current) of thread tid, which waits in a blocking futex call: counted in
 * lock_sites as CW_SITE_WAKE of (wakee's process, waker's tid, word or lock, waker's user
 * stack). Only a release wakes so: the waker is in a futex system call on that word (a
 * timer's or a signal's wakeup runs in whatever task the interrupt found), or exiting (a
 * thread's exit wakes its joiners).
 */
static __always_inline void sched_blame(__u32 tid, __u32 tgid, struct cw_thread_sched *st,
					__u64 now, struct sched_woken *w)
{
	struct pending_futex *pf = bpf_map_lookup_elem(&pending_futexes, &tid), *wpf;
	struct task_struct *waker = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid(), wait, nr, fix_slot = 0, fix_val = 0;
	__u32 waker_tid = id, waker_tgid = id >> 32, zero = 0, kind = CW_LOCK_FUTEX;
	struct cw_site_stats *site, *z;
	struct pending_lock *lk;
	struct cw_site_key k = {};
	struct pt_regs *regs;
	unsigned int flags;

	if (!pf || !pf->active || !sched_futex_blocks(pf->op) || !waker_tid || waker_tid == tid)
		return;
	if (st && st->blamed_ts == pf->ts_ns)
		return; /* woken again in the same wait (a spurious wakeup before) */
	flags = waker->flags;
	if (flags & CW_PF_KTHREAD)
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(waker);
	nr = BPF_CORE_READ(regs, orig_ax);
	if (!(flags & CW_PF_EXITING) && nr != CW_NR_FUTEX && nr != CW_NR_FUTEX_WAKE &&
	    nr != CW_NR_FUTEX_REQUEUE)
		return;
	wpf = bpf_map_lookup_elem(&pending_futexes, &waker_tid);
	if (wpf && wpf->active && wpf->uaddr != pf->uaddr && wpf->uaddr2 != pf->uaddr)
		return;
	if (st)
		st->blamed_ts = pf->ts_ns;

	k.tgid = tgid;
	k.tid = waker_tid;
	k.what = CW_SITE_WAKE;
	k.addr = pf->uaddr;
	lk = no_uprobes ? NULL : bpf_map_lookup_elem(&pending_locks, &tid);
	if (lk && pf->uaddr - lk->a.addr < CW_LOCK_WORDS) {
		/* a probed acquire: the lock, of its kind (a glibc mutex: the same word) */
		k.addr = lk->a.addr;
		kind = lk->a.kind;
	}
	w->addr = k.addr;
	if (waker_tgid == tgid) {
		/* inside a probed acquire its return address is the uretprobe trampoline's */
		lk = no_uprobes ? NULL : bpf_map_lookup_elem(&pending_locks, &waker_tid);
		if (lk) {
			fix_slot = lk->ret_slot;
			fix_val = lk->a.ip;
		}
		/*
		 * Without frame pointers every wake of a word has glibc's futex call for its
		 * cheap stack: the waker's tid in the seed keeps one thread's copy from
		 * standing for another's (an auditor shown waking from a teller's code).
		 */
		k.stack_id = user_stack_id(BPF_CORE_READ(regs, ip), BPF_CORE_READ(regs, sp),
					   BPF_CORE_READ(regs, bp), 0,
					   k.addr ^ CW_WAKE_SEED ^ (__u64)waker_tid << 40, 1,
					   fix_slot, fix_val);
	}
	w->stack_id = k.stack_id;

	site = bpf_map_lookup_elem(&lock_sites, &k);
	if (!site) {
		z = bpf_map_lookup_elem(&empty_site, &zero);
		/* BPF_NOEXIST: another CPU may be first; then use its entry */
		if (z)
			bpf_map_update_elem(&lock_sites, &k, z, BPF_NOEXIST);
		site = bpf_map_lookup_elem(&lock_sites, &k);
		if (!site) {
			__sync_fetch_and_add(&lost_map_full, 1);
			return;
		}
		site->kind = kind;
		site->flags = k.stack_id ? 0 : CW_SITE_F_NO_STACK;
	}
	wait = now > pf->ts_ns ? now - pf->ts_ns : 0;
	__sync_fetch_and_add(&site->acquisitions, 1);
	__sync_fetch_and_add(&site->contentions, 1);
	__sync_fetch_and_add(&site->wait_ns_total, wait);
	atomic_max(&site->wait_ns_max, wait);
	sched_hist_add(site->wait_hist, wait);
}

static __always_inline void sched_emit_wakeup(struct task_struct *p, const struct sched_woken *w,
					      __u64 now)
{
	struct cw_ev_wakeup *e = cw_reserve(sizeof(*e), CW_EV_SCHED_WAKEUP);
	__u64 id = bpf_get_current_pid_tgid();

	if (!e)
		return;
	e->hdr.ts_ns = now;
	e->hdr.pid = p->tgid;
	e->hdr.tid = p->pid;
	/* the idle task: an interrupt woke it, no task did */
	e->waker_pid = (__u32)id ? id >> 32 : 0;
	e->waker_tid = id;
	e->wait_addr = w->addr;
	e->waker_stack_id = w->stack_id;
	e->blocked_ns = w->blocked_ns;
	e->prio = p->prio;
	/* the CPU it last ran on: the wakeup's target is chosen after sched_waking */
	e->target_cpu = p->thread_info.cpu;
	e->reason = w->reason;
	for (int i = 0; i < 7; i++)
		e->pad[i] = 0;
	cw_submit(e);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(tp_btf__sched_waking, struct task_struct *p)
{
	__u32 tgid = p->tgid, tid = p->pid;
	struct sched_woken w = {};
	struct cw_thread_sched *st;
	__u64 now;

	if (!cw_traced(tgid))
		return 0;
	now = bpf_ktime_get_ns();
	st = sched_entry(tid, tgid, now, !(p->flags & CW_PF_EXITING));
	if (st) {
		__u8 state = st->state;

		__sync_fetch_and_add(&st->nr_wakeups, 1);
		w.reason = state;
		if (state > CW_OFFCPU_PREEMPTED && state < CW_OFFCPU_MAX) {
			if (st->state_ts && now > st->state_ts) {
				w.blocked_ns = now - st->state_ts;
				sched_add_off(st, state, w.blocked_ns);
			}
			w.addr = st->wait_addr;
			st->state = CW_OFFCPU_PREEMPTED;
			st->state_ts = now;
		} else if (state == CW_OFFCPU_NONE && !st->state_ts) {
			/*
			 * First seen here: runnable from now on, or running already (woken on
			 * its way to sleep: its switch-out, if any, comes next).
			 */
			if (!p->on_cpu)
				st->state = CW_OFFCPU_PREEMPTED;
			st->state_ts = now;
		} else if (state == CW_OFFCPU_NONE) {
			st->waking_ts = now; /* still on its CPU: see sched_switch_out() */
		}
	}
	sched_blame(tid, tgid, st, now, &w);
	if (sched_events)
		sched_emit_wakeup(p, &w, now);
	return 0;
}

/*
 * After sched_waking, once the task is on a run queue: a sleep that its switch-out began
 * after the waking had looked (on another CPU) ended at the waking.
 */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(tp_btf__sched_wakeup, struct task_struct *p)
{
	__u32 tgid = p->tgid, tid = p->pid;
	struct cw_thread_sched *st;
	__u64 now, t;
	__u8 state;

	if (!cw_traced(tgid))
		return 0;
	st = sched_entry(tid, tgid, 0, 0);
	if (!st)
		return 0;
	state = st->state;
	if (state > CW_OFFCPU_PREEMPTED && state < CW_OFFCPU_MAX) {
		now = bpf_ktime_get_ns();
		t = st->waking_ts ? st->waking_ts : now;
		if (t < st->state_ts)
			t = st->state_ts;
		if (st->state_ts)
			sched_add_off(st, state, t - st->state_ts);
		st->state = CW_OFFCPU_PREEMPTED;
		st->state_ts = t;
	}
	st->waking_ts = 0;
	return 0;
}

/* A new thread or process of a traced one: runnable from now on. */
SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(tp_btf__sched_wakeup_new, struct task_struct *p)
{
	__u32 tgid = p->tgid, tid = p->pid;
	struct sched_woken w = {};
	struct cw_thread_sched *st;
	__u64 now;

	if (!cw_traced(tgid))
		return 0;
	now = bpf_ktime_get_ns();
	st = sched_entry(tid, tgid, now, 1);
	if (st) {
		st->state = CW_OFFCPU_PREEMPTED;
		st->state_ts = now;
		sched_attrs(st, p);
	}
	if (sched_events)
		sched_emit_wakeup(p, &w, now);
	return 0;
}

/*
 * Thread tid (the current task) exits: its final figures go out now, from here, since its
 * entry goes with it (a tid can come back for another thread at once; userspace reads
 * the map only each tick).
 */
static __always_inline void sched_thread_exit(__u32 tid)
{
	struct cw_thread_sched *st = bpf_map_lookup_elem(&thread_stats, &tid);
	struct cw_ev_thread_stats *e;
	__u64 now;

	if (!st)
		return;
	e = cw_reserve(sizeof(*e), CW_EV_THREAD_STATS);
	if (e) {
		now = e->hdr.ts_ns;
		e->hdr.flags = CW_F_AGGREGATED;
		e->hdr.pid = st->tgid;
		e->since_ns = st->since_ns;
		e->oncpu_ns = st->oncpu_ns;
		if (st->state == CW_OFFCPU_NONE && st->state_ts && now > st->state_ts)
			e->oncpu_ns += now - st->state_ts;
		for (int i = 0; i < CW_OFFCPU_MAX; i++)
			e->offcpu_ns[i] = st->offcpu_ns[i];
		e->runq_ns_max = st->runq_ns_max;
		e->nr_voluntary = st->nr_voluntary;
		e->nr_involuntary = st->nr_involuntary;
		e->nr_wakeups = st->nr_wakeups;
		e->trylock_failures = st->trylock_failures;
		e->cpus_allowed = st->cpus_allowed;
		e->nr_cpus_allowed = st->nr_cpus_allowed;
		e->policy = st->policy;
		e->prio = st->prio;
		e->normal_prio = st->normal_prio;
		e->rt_priority = st->rt_priority;
		e->nice = st->nice;
		for (int i = 0; i < CW_HIST_BUCKETS; i++)
			e->runq_hist[i] = st->runq_hist[i];
		cw_submit(e);
	}
	bpf_map_delete_elem(&thread_stats, &tid);
}

#endif /* __CW_SCHED_BPF_H */
