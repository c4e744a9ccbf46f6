// SPDX-License-Identifier: GPL-2.0
/*
 * Priority inversion, measured where the scheduler decides it, as bpf/cw_prio.bpf.h
 * measures it: a real-time thread H sleeps in a probed acquire on a lock held by a traced
 * thread L of worse priority, and L is runnable while another task M has its CPU.
 *
 *  - H goes to sleep on the lock (sched_switch, reason LOCK, the holder its mutex names):
 *    when H is SCHED_FIFO, _RR or _DEADLINE and more important than L, H is noted in L's
 *    entry (the most important waiter keeps the note);
 *  - L is preempted while noted: who took its CPU is noted, and L's user stack (L is the
 *    current task there);
 *  - L gets a CPU back after d ns runnable while H waited: when H still sleeps on that
 *    lock and d reached the threshold, a CW_EV_PRIO_INVERSION record, then a
 *    CW_EV_PRIO_STACKS with L's stack and, when M is the task giving the CPU back and is
 *    of L's process, M's. Of two witnesses (who took L's CPU, who ran last before L got
 *    it back) the more important one below H is the one that kept L out;
 *  - a PI boost (sched_pi_setprio) to H's prio drops the note: no inversion while it
 *    lasts.
 *
 * The note lives in L's thread entry; H's switch-out writes it there (the one place a
 * thread writes another's entry besides a waker's blame), under the runqueue lock of H's
 * CPU, which is not L's: a race costs one stretch measured from a stale note at worst,
 * as in the BPF programs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include <linux/string.h>

#include <concwatch/events.h>

#include "concwatch.h"

#define CW_PI_STACK_SEED 0x7072696f737461ULL	/* as cw_prio.bpf.h's */

static u64 cw_pi_threshold_ns = 1000000;
/* the reader's process, as cw_prio.bpf.h's self_tgid: never the task that kept L out */
static pid_t cw_pi_self_tgid;

/* From the reader's start request: the reader is the current task. */
void cw_prio_start(u64 threshold_ns)
{
	cw_pi_threshold_ns = threshold_ns ?: 1000000;
	cw_pi_self_tgid = current->tgid;
}

static bool cw_rt_policy(unsigned int policy)
{
	return policy == SCHED_FIFO || policy == SCHED_RR || policy == SCHED_DEADLINE;
}

/* The waiter noted in l still sleeps on l's lock. */
static bool cw_waiter_waits(const struct cw_thread *l)
{
	const struct cw_thread *h = cw_thread_find(READ_ONCE(l->pi_waiter));

	return h && READ_ONCE(h->state) == CW_OFFCPU_LOCK &&
	       READ_ONCE(h->off_addr) == READ_ONCE(l->pi_lock);
}

/*
 * The user stack of thread tid, task t, of the current task's process (its memory is
 * mapped): from the registers it entered the kernel with. Seeded with the thread and its
 * %rsp: without frame pointers the cheap id is the pc alone.
 */
static u64 cw_prio_stack(struct task_struct *t, struct cw_thread *e)
{
	const struct cw_pending_lock *lk = cw_ulock_pending(e);
	struct pt_regs *regs = task_pt_regs(t);

	return cw_ustack_id(regs->ip, regs->sp, regs->bp, false,
			    CW_PI_STACK_SEED ^ (u64)t->pid << 40 ^ regs->sp, true,
			    lk ? lk->ret_slot : 0, lk ? lk->a.ip : 0);
}

/* H (task h, entry th) sleeps on lock addr: noted in its holder's entry. */
static void cw_prio_waits(struct task_struct *h, struct cw_thread *th, u64 addr, u64 now)
{
	const struct cw_pending_lock *p = cw_ulock_pending(th);
	struct cw_thread *l;

	if (!cw_rt_policy(h->policy) || !p || !p->blocked_owner || p->blocked_owner == h->pid)
		return;
	l = cw_thread_find(p->blocked_owner);
	/* not seen yet, or as important already (boosted) */
	if (!l || !READ_ONCE(l->state_ts) || h->prio >= READ_ONCE(l->prio))
		return;
	if (l->pi_waiter && l->pi_waiter != h->pid && l->pi_waiter_prio <= h->prio &&
	    cw_waiter_waits(l))
		return; /* a more important waiter is noted */
	l->pi_lock = addr;
	l->pi_since = now;
	l->pi_waiter_prio = h->prio;
	l->pi_waiter_policy = h->policy;
	WRITE_ONCE(l->pi_waiter, h->pid);
}

/* Noted L (task prev, the current one) leaves its CPU for next. */
static void cw_prio_out(struct cw_thread *l, struct task_struct *prev, struct task_struct *next,
			u8 reason)
{
	l->pi_stack = 0;
	l->pre_tid = 0;
	if (reason != CW_OFFCPU_PREEMPTED || !next->pid)
		return; /* asleep: nobody keeps it off its CPU */
	if (next->tgid != cw_pi_self_tgid) {
		l->pre_tgid = next->tgid;
		l->pre_tid = next->pid;
		l->pre_prio = next->prio;
		l->pre_policy = next->policy;
		strscpy(l->pre_comm, next->comm, sizeof(l->pre_comm));
	}
	if (cw_waiter_waits(l))
		l->pi_stack = cw_prio_stack(prev, l);
}

static void cw_prio_emit_stacks(struct cw_thread *l, struct task_struct *next,
				struct task_struct *prev, bool prev_is_m, u64 now)
{
	bool prev_live = prev->pid && !(prev->flags & PF_EXITING);
	u32 m_tgid = prev_is_m ? prev->tgid : l->pre_tgid;
	struct cw_ev_pi_stacks e = {};

	e.low_stack_id = l->pi_stack;
	/* its memory is the current task's when prev is of its process */
	if (!e.low_stack_id && prev_live && prev->tgid == next->tgid)
		e.low_stack_id = cw_prio_stack(next, l);
	if (m_tgid && m_tgid != next->tgid && !cw_traced(m_tgid, NULL))
		e.flags = CW_PI_STACKS_F_UNTRACED;
	else if (prev_is_m && prev_live && prev->tgid == next->tgid)
		e.preemptor_stack_id = cw_prio_stack(prev, cw_thread_find(prev->pid));
	if (!e.low_stack_id && !e.preemptor_stack_id && !e.flags)
		return;
	cw_hdr_init(&e.hdr, CW_EV_PRIO_STACKS, sizeof(e), now, next);
	e.addr = l->pi_lock;
	e.wait_since_ns = l->pi_since;
	e.high_tid = l->pi_waiter;
	cw_ring_write(&e.hdr);
}

/* Noted L (task next) gets a CPU back from prev at now, after its state since state_ts. */
static void cw_prio_in(struct cw_thread *l, struct task_struct *next, struct task_struct *prev,
		       u64 now)
{
	u64 start = max(l->state_ts, l->pi_since);
	struct cw_ev_pi e = {};
	bool prev_is_m;

	if (!cw_waiter_waits(l)) {
		WRITE_ONCE(l->pi_waiter, 0);
		goto out;
	}
	if (l->state != CW_OFFCPU_PREEMPTED || !l->state_ts || now <= start ||
	    now - start < cw_pi_threshold_ns)
		goto out;
	if (l->pre_tid && prev->pid && prev->tgid != cw_pi_self_tgid && prev->prio < l->pre_prio &&
	    prev->prio > l->pi_waiter_prio)
		l->pre_tid = 0;
	/* nobody but the tracer had L's CPU: not the program's inversion */
	if (!l->pre_tid && prev->pid && prev->tgid == cw_pi_self_tgid)
		goto out;
	prev_is_m = !l->pre_tid || l->pre_tid == prev->pid;
	cw_hdr_init(&e.hdr, CW_EV_PRIO_INVERSION, sizeof(e), now, next);
	e.addr = l->pi_lock;
	e.wait_since_ns = l->pi_since;
	e.duration_ns = now - start;
	e.high_tid = l->pi_waiter;
	e.high_prio = l->pi_waiter_prio;
	e.high_policy = l->pi_waiter_policy;
	e.low_prio = l->prio;
	e.low_policy = l->policy;
	if (l->pre_tid) {
		e.preemptor_pid = l->pre_tgid;
		e.preemptor_tid = l->pre_tid;
		e.preemptor_prio = l->pre_prio;
		e.preemptor_policy = l->pre_policy;
		e.flags = CW_PI_F_PREEMPTED;
		memcpy(e.preemptor_comm, l->pre_comm, sizeof(e.preemptor_comm));
	} else {
		e.preemptor_pid = prev->pid ? prev->tgid : 0;
		e.preemptor_tid = prev->pid;
		e.preemptor_prio = prev->prio;
		e.preemptor_policy = prev->policy;
		strscpy(e.preemptor_comm, prev->comm, sizeof(e.preemptor_comm));
	}
	cw_ring_write(&e.hdr);
	cw_prio_emit_stacks(l, next, prev, prev_is_m, now);
out:
	l->pre_tid = 0;
	l->pi_stack = 0;
}

void cw_prio_switch(struct task_struct *prev, struct cw_thread *tp, u8 reason, u64 wait_addr,
		    struct task_struct *next, struct cw_thread *tn, u64 now)
{
	if (tp) {
		tp->prio = prev->prio;
		tp->policy = prev->policy;
		/* a real-time thread sleeps on a lock: its holder's inversion watch */
		if (reason == CW_OFFCPU_LOCK)
			cw_prio_waits(prev, tp, wait_addr, now);
		if (READ_ONCE(tp->pi_waiter))
			cw_prio_out(tp, prev, next, reason);
		WRITE_ONCE(tp->state, reason);
		tp->state_ts = now;
	}
	if (tn) {
		tn->prio = next->prio;
		tn->policy = next->policy;
		if (READ_ONCE(tn->pi_waiter))
			cw_prio_in(tn, next, prev, now);
		WRITE_ONCE(tn->state, CW_OFFCPU_NONE);
		tn->state_ts = now;
	}
}

void cw_prio_woken(struct cw_thread *t, u64 now)
{
	u8 state = READ_ONCE(t->state);

	/* the sleep ends: runnable until it is switched in */
	if (state != CW_OFFCPU_NONE && state != CW_OFFCPU_PREEMPTED) {
		WRITE_ONCE(t->state, CW_OFFCPU_PREEMPTED);
		t->state_ts = now;
	}
}

void cw_prio_setprio(struct cw_thread *t, int prio)
{
	t->prio = prio;
	/* boosted to its waiter's prio: no inversion while it lasts */
	if (READ_ONCE(t->pi_waiter) && prio <= t->pi_waiter_prio)
		WRITE_ONCE(t->pi_waiter, 0);
}
