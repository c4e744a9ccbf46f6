/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Priority inversion, measured where the scheduler decides it: a real-time thread H waits
 * in a probed acquire on a lock held by a traced thread L of worse priority, and L is
 * runnable but another task M has its CPU. The wait-for graph knows "H waits on X, held by
 * L" already (cw_locks.bpf.h, acquire_sleeps(); for a process the in-process library
 * records, the wait words of H's slot, read at H's switch: library_wait()); here:
 *
 *  - H goes to sleep in its acquire (sched_switch, H out, reason LOCK): if H is SCHED_FIFO,
 *    _RR or _DEADLINE and its prio is better than L's, the waiter is noted in L's
 *    thread_stats entry (the best waiter wins the one slot);
 *  - L is preempted while noted: who took its CPU (next) is noted with it. Any process's
 *    task: its identity comes from its task_struct, not from the traced set. L is the
 *    current task there: its user stack, inside its critical section, is taken too. At
 *    L's switch-in, the task that ran last (prev) is the preemptor instead when it is more
 *    important than that one and still less than H;
 *  - L gets a CPU back (sched_switch, L in) after d ns runnable while H waited (from the
 *    later of L's preemption or wakeup and H's sleep): if H still waits on that lock (its
 *    own entry says so) and d reached pi_threshold_ns, a CW_EV_PRIO_INVERSION record, then
 *    a CW_EV_PRIO_STACKS with L's stack and M's: prev is the current task there, so M's
 *    stack is taken when M is prev, as it gives the CPU back (of a traced process: an
 *    untraced one's modules are not known). A note whose waiter waits no more (acquired,
 *    gave up, exited) is dropped there: no hook in the acquire's return;
 *  - sched_pi_setprio: a PI mutex boosts L at once, before H sleeps. L's prio in its entry
 *    follows the boost (so no note is made, or a note is dropped), and the boost goes out
 *    as CW_EV_PRIO_CHANGE with its donor, for traced tasks.
 *
 * Changes of policy or priority by sched_setscheduler(2), sched_setattr(2),
 * sched_setparam(2) or setpriority(2) need no program of their own: the switch programs
 * read policy and prio from the task at each switch (sched_attrs()), and a thread's
 * priority matters here only at its switches.
 *
 * Cost: sched_switch runs for every switch of the machine. Everything here is behind the
 * traced-thread lookup it did already, then a branch on a field of the entry it holds;
 * only H's sleep in an acquire (rare) does more (a lookup of its pending acquire and of
 * L's entry), and the stacks are taken only at a noted holder's preemption and at the end
 * of a stretch that is sent (a stack walk, and a copy for a stack not seen before).
 */
#ifndef __CW_PRIO_BPF_H
#define __CW_PRIO_BPF_H

#include "cw_maps.h"

/* Mixed into the stack ids taken here: see prio_stack() */
#define CW_PI_STACK_SEED 0x7072696f737461ULL

/* --pi-threshold: shorter stretches are not sent (set from userspace before load) */
const volatile __u64 pi_threshold_ns = 1000000;

/*
 * concwatch's own process (set from userspace before load): never taken for the task that
 * kept L out. Its reading and analysing run beside the program, at a better nice level:
 * a stretch only the tracer explains would be its own doing, a finding no run without it
 * would give (the latent rule still warns of the risk).
 */
const volatile __u32 self_tgid = 0;

/* include/uapi/linux/sched.h: macros are not in BTF */
#define CW_SCHED_FIFO 1
#define CW_SCHED_RR 2
#define CW_SCHED_DEADLINE 6

static __always_inline int prio_rt_policy(__u32 policy)
{
	return policy == CW_SCHED_FIFO || policy == CW_SCHED_RR || policy == CW_SCHED_DEADLINE;
}

/*
 * By CPU number: a noted holder (tid) runnable on that CPU's run queue but not running,
 * 0 when none. Every switch of that CPU while it waits is looked at: the most important
 * task that ran there instead is who kept it out (prio_saw()), whoever took its CPU
 * first. Cheap where nothing waits: an array slot read per switch.
 */
#define CW_PI_CPUS 1024

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CW_PI_CPUS);
	__type(key, __u32);
	__type(value, __u32);
} pi_watch SEC(".maps");

static __always_inline void prio_watch(__u32 cpu, __u32 tid)
{
	__u32 *w = bpf_map_lookup_elem(&pi_watch, &cpu);

	if (w)
		*w = tid;
}

/*
 * How much a task of prio that had the CPU of noted holder l explains the wait, lower is
 * more: below the waiter, the more important; one as important as the waiter or more
 * would have kept the waiter itself out, last.
 */
static __always_inline int prio_rank(const struct cw_thread_sched *l, int prio)
{
	return prio > l->pi_waiter_prio ? prio : 1000 - prio;
}

/* t has the CPU of noted holder l, runnable: who keeps it out, if it explains more. */
static __always_inline void prio_saw(struct cw_thread_sched *l, struct task_struct *t)
{
	if (!t->pid || t->tgid == self_tgid ||
	    (l->pre_tid && prio_rank(l, t->prio) >= prio_rank(l, l->pre_prio)))
		return;
	l->pre_tgid = t->tgid;
	l->pre_tid = t->pid;
	l->pre_prio = t->prio;
	l->pre_policy = t->policy;
	bpf_probe_read_kernel_str(l->pre_comm, sizeof(l->pre_comm), t->comm);
}

/* Whether the waiter noted in l still sleeps in its acquire on l's lock. */
static __always_inline int prio_waiter_waits(struct cw_thread_sched *l)
{
	__u32 tid = l->pi_waiter;
	struct cw_thread_sched *h = bpf_map_lookup_elem(&thread_stats, &tid);

	return h && h->tgid == l->tgid && h->state == CW_OFFCPU_LOCK && h->wait_addr == l->pi_lock;
}

/*
 * prev (thread tid of process tgid), real-time or not, sleeps in an acquire on addr held
 * by thread owner (a probed acquire, or one the in-process library records), and next
 * takes its CPU: note it in its holder's entry when it is real-time and of better prio.
 * A holder runnable already is watched from now on, next first when they share the CPU.
 */
static __always_inline void prio_waits(struct task_struct *prev, __u32 tid, __u32 tgid, __u64 addr,
				       __u32 owner, __u64 now, struct task_struct *next)
{
	__u32 policy = prev->policy;
	struct cw_thread_sched *l;
	int prio = prev->prio;

	if (!prio_rt_policy(policy) || !owner || owner == tid)
		return;
	l = bpf_map_lookup_elem(&thread_stats, &owner);
	/* a holder of another process, or not seen yet, or as important (boosted) */
	if (!l || l->tgid != tgid || prio >= l->prio)
		return;
	if (l->pi_waiter && l->pi_waiter != tid && l->pi_waiter_prio <= prio &&
	    prio_waiter_waits(l))
		return; /* a better waiter is noted */
	l->pi_lock = addr;
	l->pi_since = now;
	l->pi_waiter_prio = prio;
	l->pi_waiter_policy = policy;
	l->pi_waiter = tid;
	if (l->state != CW_OFFCPU_PREEMPTED)
		return;
	l->pre_tid = 0;
	prio_watch(l->cpu, owner);
	if (l->cpu == bpf_get_smp_processor_id() && next->pid != owner)
		prio_saw(l, next);
}

/* A switch on this CPU, next in: a holder watched here is kept out by next, or runs. */
static __always_inline void prio_watch_switch(struct task_struct *next)
{
	__u32 cpu = bpf_get_smp_processor_id(), *w = bpf_map_lookup_elem(&pi_watch, &cpu);
	struct cw_thread_sched *l;
	__u32 tid;

	if (!w || !*w)
		return;
	tid = *w;
	l = bpf_map_lookup_elem(&thread_stats, &tid);
	if (!l || !l->pi_waiter || l->state != CW_OFFCPU_PREEMPTED || l->cpu != cpu ||
	    next->pid == tid) {
		*w = 0;	/* it runs, or waits no more, or moved */
		return;
	}
	prio_saw(l, next);
}

/*
 * prio_stack()'s frames: sched_switch's call chain has no room for 256 more bytes of BPF
 * stack (512 in all). Per CPU is safe there, unlike in a uprobe program: sched_switch runs
 * with its run queue locked and interrupts off, one program at a time on a CPU.
 */
struct prio_frames {
	__u64 ips[CW_FP_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct prio_frames);
} prio_frames SEC(".maps");

/*
 * The user stack of thread tid of the current task's process, from the user registers
 * (ip, sp, bp) it entered the kernel with: the current task, or one that is off its CPU
 * (its memory is the current task's). Seeded with the thread and %rsp: code without frame
 * pointers gives a cheap id of the pc alone, and one copy must not stand for another
 * thread's stack, or another depth's (a copy goes out only for a new id). Inside a probed
 * acquire, its return address is the uretprobe trampoline's: put back in the copy.
 * A global function (not static, scalars only): the verifier checks the walk once, on its
 * own, not again at each of its three calls in sched_switch; its 256-byte frame only
 * where it runs.
 */
__noinline __u64 prio_stack_regs(__u64 ip, __u64 sp, __u64 bp, __u32 tid)
{
	struct pending_lock *lk = no_uprobes ? NULL : bpf_map_lookup_elem(&pending_locks, &tid);
	struct prio_frames *f;
	__u32 zero = 0;

	f = bpf_map_lookup_elem(&prio_frames, &zero);
	if (!f)
		return 0;
	return user_stack_id_in(f->ips, ip, sp, bp, 0, CW_PI_STACK_SEED ^ (__u64)tid << 40 ^ sp,
				1, lk ? lk->ret_slot : 0, lk ? lk->a.ip : 0);
}

/* The same, of task t: its saved user registers. */
static __always_inline __u64 prio_stack(struct task_struct *t, __u32 tid)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);

	return prio_stack_regs(BPF_CORE_READ(regs, ip), BPF_CORE_READ(regs, sp),
			       BPF_CORE_READ(regs, bp), tid);
}

/*
 * Noted holder st (thread tid, task prev) leaves its CPU: still runnable, who took it is
 * the preemptor, and where it is kept is its stack now (it is the current task: its own
 * memory). Only while the waiter still waits: a stale note costs no stack.
 */
static __always_inline void prio_switch_out(struct cw_thread_sched *st, struct task_struct *prev,
					    __u32 tid, struct task_struct *next, __u8 reason)
{
	st->pi_stack = 0;
	if (reason != CW_OFFCPU_PREEMPTED || !next->pid) {
		st->pre_tid = 0; /* asleep: nobody keeps it off its CPU */
		return;
	}
	st->pre_tid = 0;
	prio_saw(st, next);
	prio_watch(bpf_get_smp_processor_id(), tid);
	if (prio_waiter_waits(st))
		st->pi_stack = prio_stack(prev, tid);
}

/*
 * The stacks of a stretch, after its record: L's taken at its preemption, else now from
 * its saved registers when prev is of its process (its memory is mapped then); M's when
 * M is prev (the current task, as it gives the CPU back) of a traced process (any: the
 * stack goes out as its process's). An exiting task (its memory is gone) gives none.
 */
static __always_inline void prio_emit_stacks(struct cw_thread_sched *st, __u32 tid,
					     struct task_struct *next, struct task_struct *prev,
					     int prev_is_m, __u64 now)
{
	int prev_live = prev->pid && !(prev->flags & CW_PF_EXITING);
	__u32 m_tgid = st->pre_tgid, prev_tgid = prev->tgid, flags = 0;
	__u64 low = st->pi_stack, m = 0;
	struct cw_ev_pi_stacks *e;

	/* two loads: else clang selects the pointer and loads once (a task or a map value),
	 * which the verifier refuses */
	asm volatile("" : "+r"(prev_tgid));
	if (prev_is_m)
		m_tgid = prev_tgid;
	if (!low && prev_live && prev_tgid == st->tgid)
		low = prio_stack(next, tid);
	if (m_tgid && m_tgid != st->tgid && !cw_traced(m_tgid))
		flags = CW_PI_STACKS_F_UNTRACED;
	else if (prev_is_m && prev_live)
		m = prio_stack(prev, prev->pid);
	if (!low && !m && !flags)
		return;
	e = cw_reserve(sizeof(*e), CW_EV_PRIO_STACKS);
	if (!e)
		return;
	e->hdr.ts_ns = now;
	e->hdr.pid = st->tgid;
	e->hdr.tid = tid;
	e->addr = st->pi_lock;
	e->wait_since_ns = st->pi_since;
	e->low_stack_id = low;
	e->preemptor_stack_id = m;
	e->high_tid = st->pi_waiter;
	e->flags = flags;
	cw_submit(e);
}

/*
 * Noted holder st (task next) gets a CPU back from prev at now, after state (its off-CPU
 * reason) since st->state_ts: an inversion record when it was kept runnable long enough.
 */
static __noinline void prio_switch_in(struct cw_thread_sched *st, __u8 state,
				      struct task_struct *next, struct task_struct *prev, __u64 now)
{
	__u64 start = st->state_ts;
	__u32 tid = next->pid;
	struct cw_ev_pi *e;
	int prev_is_m;

	if (!prio_waiter_waits(st)) {
		st->pi_waiter = 0;
		st->pre_tid = 0;
		st->pi_stack = 0;
		return;
	}
	if (state != CW_OFFCPU_PREEMPTED || !start)
		goto out;
	if (start < st->pi_since)
		start = st->pi_since;
	if (now <= start || now - start < pi_threshold_ns)
		goto out;
	/*
	 * Two witnesses: who took L's CPU, and who ran last before L got it back. The more
	 * important one below H is the one that kept L out (a nice -20 kworker can preempt a
	 * SCHED_OTHER holder just before a real-time spinner wakes up and runs for long).
	 */
	if (st->pre_tid && prev->pid && prev->tgid != self_tgid && prev->prio < st->pre_prio &&
	    prev->prio > st->pi_waiter_prio)
		st->pre_tid = 0;
	/* nobody but the tracer had L's CPU: not the program's inversion */
	if (!st->pre_tid && prev->pid && prev->tgid == self_tgid)
		goto out;
	prev_is_m = !st->pre_tid || st->pre_tid == prev->pid;
	e = cw_reserve(sizeof(*e), CW_EV_PRIO_INVERSION);
	if (!e)
		goto out;
	e->hdr.ts_ns = now;
	e->hdr.pid = st->tgid;
	e->hdr.tid = tid;
	e->addr = st->pi_lock;
	e->wait_since_ns = st->pi_since;
	e->duration_ns = now - start;
	e->high_tid = st->pi_waiter;
	e->high_prio = st->pi_waiter_prio;
	e->high_policy = st->pi_waiter_policy;
	e->low_prio = st->prio;
	e->low_policy = st->policy;
	if (st->pre_tid) {
		e->preemptor_pid = st->pre_tgid;
		e->preemptor_tid = st->pre_tid;
		e->preemptor_prio = st->pre_prio;
		e->preemptor_policy = st->pre_policy;
		e->flags = CW_PI_F_PREEMPTED;
		__builtin_memcpy(e->preemptor_comm, st->pre_comm, sizeof(e->preemptor_comm));
	} else {
		e->preemptor_pid = prev->pid ? prev->tgid : 0;
		e->preemptor_tid = prev->pid;
		e->preemptor_prio = prev->prio;
		e->preemptor_policy = prev->policy;
		e->flags = 0;
		bpf_probe_read_kernel_str(e->preemptor_comm, sizeof(e->preemptor_comm), prev->comm);
	}
	cw_submit(e);
	prio_emit_stacks(st, tid, next, prev, prev_is_m, now);
out:
	st->pre_tid = 0;
	st->pi_stack = 0;
}

/*
 * rt_mutex priority inheritance changes tsk's prio: to pi_task's (boost), or back to its
 * own (pi_task NULL). Called before the change: tsk->prio is the old one.
 */
SEC("tp_btf/sched_pi_setprio")
int BPF_PROG(tp_btf__sched_pi_setprio, struct task_struct *tsk, struct task_struct *pi_task)
{
	__u32 tgid = tsk->tgid, tid = tsk->pid;
	int old = tsk->prio, normal = tsk->normal_prio, prio = normal, donor = 0;
	struct cw_thread_sched *st;
	struct cw_ev_prio *e;

	if (!cw_traced(tgid))
		return 0;
	if (pi_task) {
		donor = pi_task->pid;
		if (pi_task->prio < prio)
			prio = pi_task->prio;
	}
	st = sched_entry(tid, tgid, 0, 0);
	if (st) {
		st->prio = prio;
		/* boosted to its waiter's prio: no inversion while it lasts */
		if (st->pi_waiter && prio <= st->pi_waiter_prio)
			st->pi_waiter = 0;
	}
	e = cw_reserve(sizeof(*e), CW_EV_PRIO_CHANGE);
	if (!e)
		return 0;
	e->hdr.pid = tgid;
	e->hdr.tid = tid;
	e->old_prio = old;
	e->new_prio = prio;
	e->policy = tsk->policy;
	e->reason = prio < normal ? CW_PRIO_PI_BOOST : CW_PRIO_PI_UNBOOST;
	e->donor_tid = prio < normal ? donor : 0;
	e->pad = 0;
	cw_submit(e);
	return 0;
}

#endif /* __CW_PRIO_BPF_H */
