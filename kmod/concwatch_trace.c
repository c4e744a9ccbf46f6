// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoint probes and the target set.
 *
 * Debian's kernels export few __tracepoint_* symbols (6.1 none of the scheduler's), so
 * the register_trace_*() helpers cannot link: the tracepoints are found by name with
 * for_each_kernel_tracepoint() at load and attached with tracepoint_probe_register().
 * Each probe's prototype is its tracepoint's TP_PROTO with the data pointer first; they
 * are the same on 6.1 and 6.12 (sched_process_exit gained an argument in 6.16).
 *
 * futex has no tracepoint of its own that a module can reach (the per-syscall events
 * are ftrace's, not tracepoint objects): the raw sys_enter/sys_exit tracepoints are, and
 * their probes return after comparing the syscall number for every other call.
 *
 * A probe records a traced task's events as the BPF programs do (bpf/concwatch.bpf.c),
 * per operation, with the same record layouts: the engine cannot tell the backends
 * apart. What a thread is in the middle of (a futex call, a kernel lock wait, its last
 * switch out) is kept in a table keyed by tid; only the thread itself adds, changes or
 * removes its entry, so a slot is claimed with a cmpxchg and needs no lock, and another
 * CPU (a waker) only reads it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/binfmts.h>
#include <linux/compat.h>
#include <linux/hash.h>
#include <linux/mm_types.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/stacktrace.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/syscall.h>
#include <asm/unistd.h>

#include <concwatch/events.h>
#include <concwatch/kmod.h>

#include "concwatch.h"

/* ---- the target set ---- */

struct cw_target {
	pid_t tgid;		/* 0: a free slot */
	u32 flags;		/* CW_KMOD_T_* */
};

/*
 * Probes scan the slots in use without a lock: a slot's flags are written before its
 * tgid, and a probe that reads a stale one traces one event more or less at a change.
 */
static struct cw_target cw_targets[CW_MAX_TARGETS];
static unsigned int cw_nr_targets;	/* slots ever used: the probes scan this many */
static DEFINE_SPINLOCK(cw_targets_lock);

bool cw_traced(pid_t tgid, u32 *flags)
{
	unsigned int i, n = READ_ONCE(cw_nr_targets);

	/* the idle tasks' tgid marks a free slot */
	if (!tgid)
		return false;
	for (i = 0; i < n; i++) {
		if (READ_ONCE(cw_targets[i].tgid) != tgid)
			continue;
		if (flags)
			*flags = READ_ONCE(cw_targets[i].flags);
		return true;
	}
	return false;
}

/* Under cw_targets_lock. */
static int __cw_targets_add(pid_t tgid, u32 flags)
{
	int i, free = -1;

	for (i = 0; i < cw_nr_targets; i++) {
		if (cw_targets[i].tgid == tgid) {
			WRITE_ONCE(cw_targets[i].flags, flags);
			return 0;
		}
		if (!cw_targets[i].tgid && free < 0)
			free = i;
	}
	if (free < 0) {
		if (cw_nr_targets == CW_MAX_TARGETS)
			return -ENOSPC;
		free = cw_nr_targets;
	}
	WRITE_ONCE(cw_targets[free].flags, flags);
	smp_wmb(); /* the flags before the tgid that makes the slot match */
	WRITE_ONCE(cw_targets[free].tgid, tgid);
	if (free == cw_nr_targets)
		WRITE_ONCE(cw_nr_targets, cw_nr_targets + 1);
	return 0;
}

static void __cw_targets_remove(pid_t tgid)
{
	int i;

	for (i = 0; i < cw_nr_targets; i++)
		if (cw_targets[i].tgid == tgid)
			WRITE_ONCE(cw_targets[i].tgid, 0);
}

int cw_targets_add(pid_t tgid, u32 flags)
{
	unsigned long irq;
	int err;

	spin_lock_irqsave(&cw_targets_lock, irq);
	err = __cw_targets_add(tgid, flags);
	spin_unlock_irqrestore(&cw_targets_lock, irq);
	return err;
}

int cw_targets_set(pid_t tgid, u32 flags)
{
	unsigned long irq;
	int i;

	spin_lock_irqsave(&cw_targets_lock, irq);
	for (i = 0; i < cw_nr_targets; i++)
		WRITE_ONCE(cw_targets[i].tgid, 0);
	if (tgid)
		__cw_targets_add(tgid, flags); /* the set is empty: it fits */
	spin_unlock_irqrestore(&cw_targets_lock, irq);
	return 0;
}

int cw_targets_remove(pid_t tgid)
{
	unsigned long irq;
	int err = -ESRCH;

	spin_lock_irqsave(&cw_targets_lock, irq);
	if (cw_traced(tgid, NULL)) {
		__cw_targets_remove(tgid);
		err = 0;
	}
	spin_unlock_irqrestore(&cw_targets_lock, irq);
	return err;
}

/* ---- what each traced thread is in the middle of ---- */

#define CW_TID_FREE 0U
#define CW_TID_GONE (~0U)	/* a thread exited here: look further, or take the slot */
#define CW_THREAD_PROBES 32	/* slots looked at from a tid's hash */

static struct cw_thread *cw_threads;
static unsigned int cw_threads_bits;
static atomic64_t cw_lost_threads;

struct cw_thread *cw_thread_find(u32 tid)
{
	u32 i, h = hash_32(tid, cw_threads_bits), mask = (1U << cw_threads_bits) - 1;

	for (i = 0; i < CW_THREAD_PROBES; i++) {
		struct cw_thread *t = &cw_threads[(h + i) & mask];
		u32 key = READ_ONCE(t->tid);

		if (key == tid)
			return t;
		if (key == CW_TID_FREE)
			break;
	}
	return NULL;
}

struct cw_thread *cw_thread_get(u32 tid)
{
	u32 i, h = hash_32(tid, cw_threads_bits), mask = (1U << cw_threads_bits) - 1;
	struct cw_thread *t = cw_thread_find(tid);

	if (t)
		return t;
	/* other threads claim slots meanwhile: take the first one still unclaimed */
	for (i = 0; i < CW_THREAD_PROBES; i++) {
		u32 key;

		t = &cw_threads[(h + i) & mask];
		key = READ_ONCE(t->tid);
		if ((key == CW_TID_FREE || key == CW_TID_GONE) && cmpxchg(&t->tid, key, tid) == key)
			return t;
	}
	atomic64_inc(&cw_lost_threads);
	return NULL;
}

/* An exiting thread leaves its slot zeroed for the next. */
static void cw_thread_put(u32 tid)
{
	struct cw_thread *t = cw_thread_find(tid);

	if (!t)
		return;
	cw_locks_free(t);
	memset((char *)t + sizeof(t->tid), 0, sizeof(*t) - sizeof(t->tid));
	/* the zeroed fields before the slot can be claimed again */
	smp_wmb();
	WRITE_ONCE(t->tid, CW_TID_GONE);
}

/* ---- records ---- */

void cw_hdr_init(struct cw_hdr *h, u16 type, u16 size, u64 ts, const struct task_struct *task)
{
	h->type = type;
	h->size = size;
	h->flags = 0;
	h->ts_ns = ts;
	h->pid = task->tgid;
	h->tid = task->pid;
}

static void cw_emit_comm(struct task_struct *task, const char *comm)
{
	struct cw_ev_comm c = {};

	cw_hdr_init(&c.hdr, CW_EV_COMM, sizeof(c), ktime_get_ns(), task);
	strscpy(c.comm, comm, sizeof(c.comm));
	cw_ring_write(&c.hdr);
}

/* ---- processes: fork, exec, exit, names ---- */

static void cw_probe_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	struct cw_ev_fork f = {};
	u32 flags;

	if (!cw_traced(parent->tgid, &flags))
		return;
	if (child->tgid == parent->tgid)
		f.flags = CW_FORK_THREAD;
	else if ((flags & CW_KMOD_T_CHILDREN) && cw_targets_add(child->tgid, flags))
		pr_warn_ratelimited("target set full: child %d of %d not traced\n", child->tgid,
				    parent->tgid);
	cw_hdr_init(&f.hdr, CW_EV_FORK, sizeof(f), ktime_get_ns(), parent);
	f.child_pid = child->tgid;
	f.child_tid = child->pid;
	cw_ring_write(&f.hdr);
	cw_emit_comm(child, child->comm);
}

static void cw_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
			  struct linux_binprm *bprm)
{
	struct {
		struct cw_ev_exec e;
		char name[CW_PATH_MAX];
	} x = {};
	ssize_t len;

	if (!cw_traced(p->tgid, NULL))
		return;
	/* NUL included; a name cut short still ends in one */
	len = strscpy(x.name, bprm->filename, sizeof(x.name));
	len = len < 0 ? sizeof(x.name) : len + 1;
	cw_hdr_init(&x.e.hdr, CW_EV_EXEC, sizeof(x.e) + round_up(len, 8), ktime_get_ns(), p);
	x.e.old_tid = old_pid;
	x.e.filename_len = len;
	cw_ring_write(&x.e.hdr);
	/* the new name comes through task_rename, which exec fires */
}

static void cw_probe_exit(void *data, struct task_struct *p)
{
	struct cw_ev_exit x = {};
	/* 6.1 to 6.15: the tracepoint comes after do_exit() counted the thread out */
	bool group_dead = !atomic_read(&p->signal->live);

	if (!cw_traced(p->tgid, NULL))
		return;
	cw_thread_put(p->pid);
	cw_hdr_init(&x.hdr, CW_EV_EXIT, sizeof(x), ktime_get_ns(), p);
	x.exit_code = p->exit_code;
	x.group_dead = group_dead;
	cw_ring_write(&x.hdr);
	/* its pid may name another process soon */
	if (group_dead)
		cw_targets_remove(p->tgid);
}

static void cw_probe_rename(void *data, struct task_struct *task, const char *comm)
{
	if (cw_traced(task->tgid, NULL))
		cw_emit_comm(task, comm);
}

/* ---- the scheduler ---- */

static void cw_probe_switch(void *data, bool preempt, struct task_struct *prev,
			    struct task_struct *next, unsigned int prev_state)
{
	bool prev_traced = cw_traced(prev->tgid, NULL), next_traced = cw_traced(next->tgid, NULL);
	struct cw_thread *t = NULL, *tn = NULL;
	struct cw_ev_switch e = {};
	u64 now;

	if (!prev_traced && !next_traced)
		return;
	now = ktime_get_ns();
	if (next_traced)
		tn = cw_thread_find(next->pid);
	/* prev is still current: its own entry */
	if (prev_traced)
		t = cw_thread_get(prev->pid);
	if (!prev_traced) {
		/* a traced thread gets a CPU from another task: its switch-in, prev 0/0 */
	} else if (preempt || prev_state == TASK_RUNNING) {
		e.reason = CW_OFFCPU_PREEMPTED;
	} else if (t && t->futex_active && t->futex_blocks) {
		/* a probed acquire sleeps on its lock: what it waits for (concwatch_uprobe.c) */
		e.reason = cw_ulock_sleeps(t, t->futex_uaddr, &e.wait_addr) ? CW_OFFCPU_LOCK :
									       CW_OFFCPU_FUTEX;
	} else if (t && t->klock_active) {
		e.reason = CW_OFFCPU_KLOCK;
		e.wait_addr = t->klock_addr;
	} else {
		e.reason = prev_state & TASK_UNINTERRUPTIBLE ? CW_OFFCPU_IO : CW_OFFCPU_SLEEP;
	}
	if (t) {
		t->off_reason = e.reason;
		t->off_addr = e.wait_addr;
		t->off_ts = now;
	}
	/* an untraced task switched out is 0/0, as an untraced next is (cw_sched.bpf.h) */
	cw_hdr_init(&e.hdr, CW_EV_SCHED_SWITCH, sizeof(e), now, prev);
	if (!prev_traced) {
		e.hdr.pid = 0;
		e.hdr.tid = 0;
	} else {
		e.prev_state = prev_state;
	}
	if (next_traced) {
		e.next_pid = next->tgid;
		e.next_tid = next->pid;
	}
	e.prev_prio = prev->prio;
	e.next_prio = next->prio;
	e.prev_policy = prev->policy;
	cw_ring_write(&e.hdr);
	cw_prio_switch(prev, t, e.reason, e.wait_addr, next, tn, now);
}

#define CW_WAKE_SEED 0x77616b6572ULL	/* as cw_sched.bpf.h's */

static bool cw_futex_nr(long nr);

/*
 * The waker (current) of p, which waits in a blocking futex call: its user stack, which
 * tells who made p wait (userspace counts CW_SITE_WAKE from it); *addr the lock when p's
 * wait is a probed acquire's. Only a release wakes so: the waker is in a futex call (a
 * timer's or a signal's wakeup runs in whatever task the interrupt found), or exiting
 * (a thread's exit wakes its joiners); once per wait.
 */
static u64 cw_waker_stack(struct task_struct *p, struct cw_thread *t, u64 *addr)
{
	const struct cw_pending_lock *lk, *wlk;
	struct pt_regs *regs;

	if (!in_task() || current->tgid != p->tgid || current == p ||
	    current->flags & PF_KTHREAD || !t || !READ_ONCE(t->futex_active) ||
	    !t->futex_blocks || READ_ONCE(t->blamed_ts) == READ_ONCE(t->futex_ts))
		return 0;
	regs = task_pt_regs(current);
	if (!(current->flags & PF_EXITING) && !cw_futex_nr(regs->orig_ax))
		return 0;
	WRITE_ONCE(t->blamed_ts, READ_ONCE(t->futex_ts));
	*addr = READ_ONCE(t->futex_uaddr);
	lk = cw_ulock_pending(t);
	if (lk && *addr - lk->a.addr < CW_LOCK_WORDS)
		*addr = lk->a.addr;
	/* inside a probed acquire its return address is the uretprobe trampoline's */
	wlk = cw_ulock_pending(cw_thread_find(current->pid));
	return cw_ustack_id(regs->ip, regs->sp, regs->bp, false,
			    *addr ^ CW_WAKE_SEED ^ (u64)current->pid << 40, true,
			    wlk ? wlk->ret_slot : 0, wlk ? wlk->a.ip : 0);
}

/* The current task is the waker, unless this is an interrupt. */
static void cw_probe_waking(void *data, struct task_struct *p)
{
	struct cw_ev_wakeup e = {};
	struct cw_thread *t;
	u64 now;

	if (!cw_traced(p->tgid, NULL))
		return;
	now = ktime_get_ns();
	t = cw_thread_find(p->pid);
	cw_hdr_init(&e.hdr, CW_EV_SCHED_WAKEUP, sizeof(e), now, p);
	if (in_task()) {
		e.waker_pid = current->tgid;
		e.waker_tid = current->pid;
	}
	if (t && READ_ONCE(t->off_ts)) {
		e.wait_addr = READ_ONCE(t->off_addr);
		e.blocked_ns = now - READ_ONCE(t->off_ts);
		e.reason = READ_ONCE(t->off_reason);
	}
	e.waker_stack_id = cw_waker_stack(p, t, &e.wait_addr);
	if (t)
		cw_prio_woken(t, now);
	e.prio = p->prio;
	e.target_cpu = task_cpu(p);
	cw_ring_write(&e.hdr);
}

/* rt_mutex priority inheritance: the task's prio becomes its top waiter's, or its own. */
static void cw_probe_pi_setprio(void *data, struct task_struct *tsk, struct task_struct *pi_task)
{
	int normal = tsk->normal_prio, prio = normal;
	struct cw_ev_prio e = {};
	struct cw_thread *t;

	if (!cw_traced(tsk->tgid, NULL))
		return;
	if (pi_task && pi_task->prio < prio)
		prio = pi_task->prio;
	t = cw_thread_find(tsk->pid);
	if (t)
		cw_prio_setprio(t, prio);
	cw_hdr_init(&e.hdr, CW_EV_PRIO_CHANGE, sizeof(e), ktime_get_ns(), tsk);
	e.old_prio = tsk->prio;
	e.new_prio = prio;
	e.policy = tsk->policy;
	e.reason = prio < normal ? CW_PRIO_PI_BOOST : CW_PRIO_PI_UNBOOST;
	e.donor_tid = prio < normal ? pi_task->pid : 0;
	cw_ring_write(&e.hdr);
}

/* ---- futex calls, from the raw syscall tracepoints ---- */

#define CW_FUTEX_CMD_MASK 0x7f	/* FUTEX_CMD_MASK without the private and clock bits */
#define CW_FUTEX_TID_MASK 0x3fffffff

static bool cw_futex_nr(long nr)
{
	switch (nr) {
	case __NR_futex:
	case __NR_futex_waitv:
#ifdef __NR_futex_requeue
	case __NR_futex_wake:
	case __NR_futex_wait:
	case __NR_futex_requeue:
#endif
		return true;
	}
	return false;
}

/* Tracepoints run with preemption off: user memory is read without faulting it in. */
static u64 cw_user_u64(unsigned long uaddr)
{
	u64 v = 0;

	if (uaddr && copy_from_user_nofault(&v, (const void __user *)uaddr, sizeof(v)))
		v = 0;
	return v;
}

static u64 cw_user_timespec_ns(unsigned long uaddr)
{
	struct __kernel_timespec ts;

	if (!uaddr || copy_from_user_nofault(&ts, (const void __user *)uaddr, sizeof(ts)))
		return 0;
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void cw_emit_futex(u16 type, const struct cw_thread *t, u64 ts, u64 wait_ns,
			  s32 result)
{
	struct cw_ev_futex e = {};

	cw_hdr_init(&e.hdr, type, sizeof(e), ts, current);
	/* futex_waitv's records name its waiter array (events.h) */
	e.uaddr = t->futex_op == CW_FUTEX_OP_WAITV ? t->futex_uaddr2 : t->futex_uaddr;
	e.uaddr2 = t->futex_op == CW_FUTEX_OP_WAITV ? 0 : t->futex_uaddr2;
	e.timeout_ns = type == CW_EV_FUTEX_BEGIN ? t->futex_timeout : 0;
	e.wait_ns = wait_ns;
	e.stack_id = t->futex_stack;
	e.op = t->futex_op;
	e.val = t->futex_val;
	e.val3 = t->futex_val3;
	e.result = result;
	cw_ring_write(&e.hdr);
}

static void cw_probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	const struct cw_pending_lock *lk;
	unsigned long a[6];
	struct cw_thread *t;
	u64 uaddr, uaddr2 = 0, utime = 0;
	u32 op, val, val3;
	bool blocks;

	if (!cw_futex_nr(id) || in_compat_syscall() || !cw_traced(current->tgid, NULL))
		return;
	syscall_get_arguments(current, regs, a);
	switch (id) {
	case __NR_futex:
		uaddr = a[0];
		op = a[1];
		val = a[2];
		blocks = cw_futex_op_blocks(op);
		/* the timeout argument is a pointer only for the ops that wait */
		utime = blocks ? a[3] : 0;
		uaddr2 = a[4];
		val3 = a[5];
		break;
	case __NR_futex_waitv:
		/* struct futex_waitv: val, uaddr, flags, __reserved; its first word names it */
		uaddr = cw_user_u64(a[0] + 8);
		uaddr2 = a[0];
		op = CW_FUTEX_OP_WAITV;
		val = a[1];
		val3 = a[2];
		utime = a[3];
		blocks = true;
		break;
#ifdef __NR_futex_requeue
	case __NR_futex_wait:
		uaddr = a[0];
		op = CW_FUTEX_OP_WAIT2;
		val = a[1];
		val3 = a[2];
		utime = a[4];
		blocks = true;
		break;
	case __NR_futex_wake:
		uaddr = a[0];
		op = CW_FUTEX_OP_WAKE2;
		val = a[2];
		val3 = a[1];
		blocks = false;
		break;
	case __NR_futex_requeue:
		/* two struct futex_waitv of 24 bytes: the words at +8 and +32 */
		uaddr = cw_user_u64(a[0] + 8);
		uaddr2 = cw_user_u64(a[0] + 32);
		op = CW_FUTEX_OP_REQUEUE2;
		val = a[2];
		val3 = a[3];
		blocks = false;
		break;
#endif
	default:
		return;
	}
	t = cw_thread_get(current->pid);
	if (!t)
		return;
	t->futex_active = 0;
	t->futex_uaddr = uaddr;
	t->futex_uaddr2 = uaddr2;
	t->futex_op = op;
	t->futex_val = val;
	t->futex_val3 = val3;
	t->futex_blocks = blocks;
	t->futex_timeout = cw_user_timespec_ns(utime);
	/*
	 * Without frame pointers the cheap stack of a wait is glibc's futex call alone:
	 * inside a probed acquire its caller tells call paths apart, and the copy gets
	 * the return address the uretprobe swapped back (cw_futex.bpf.h does the same).
	 */
	lk = cw_ulock_pending(t);
	t->futex_stack = cw_ustack_id(regs->ip, regs->sp, regs->bp, false,
				      uaddr ^ (lk ? lk->a.ip : 0), blocks, lk ? lk->ret_slot : 0,
				      lk ? lk->a.ip : 0);
	t->futex_ts = ktime_get_ns();
	t->futex_active = 1;
	if (blocks)
		cw_ulock_futex_wait(t, uaddr);
	cw_emit_futex(CW_EV_FUTEX_BEGIN, t, t->futex_ts, 0, 0);
}

static void cw_probe_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	struct cw_thread *t;
	u64 now;

	if (!cw_futex_nr(syscall_get_nr(current, regs)) || in_compat_syscall() ||
	    !cw_traced(current->tgid, NULL))
		return;
	t = cw_thread_find(current->pid);
	if (!t || !t->futex_active)
		return;
	now = ktime_get_ns();
	if (t->futex_blocks)
		cw_ulock_futex_done(t, t->futex_uaddr, now);
	cw_emit_futex(CW_EV_FUTEX_END, t, now, now - t->futex_ts, ret);
	t->futex_active = 0;
}

/* ---- kernel stacks: an id per call path, its frames sent the first time ---- */

#define CW_KSTACK_MAX 64	/* frames, as the BPF programs take */
#define CW_SEEN_BITS 13		/* (process, stack) pairs whose frames were sent */
#define CW_SEEN_PROBES 32
#define CW_SEEN_FORGOTTEN (~0ULL)	/* sent, but the ring had no room: send it again */

struct cw_kstack_rec {
	struct cw_ev_stack s;
	u64 ips[CW_KSTACK_MAX];
};

/* Only contention_begin uses it, in task context with preemption off: one per CPU. */
static DEFINE_PER_CPU(struct cw_kstack_rec, cw_kstack_scratch);
static u64 *cw_stacks_seen;

/* concwatch.h. 0 and CW_SEEN_FORGOTTEN mark slots; a full table sends it again. */
bool cw_first_sight(u64 *table, unsigned int bits, u32 tgid, u64 id, u64 **slot)
{
	u64 key = id ^ hash_64(tgid, 64);
	u32 i, h, mask = (1U << bits) - 1;

	if (!key || key == CW_SEEN_FORGOTTEN)
		key = 1;
	h = hash_64(key, bits);
	*slot = NULL;
	for (i = 0; i < CW_SEEN_PROBES; i++) {
		u64 *p = &table[(h + i) & mask], v = READ_ONCE(*p);

		if (v == key)
			return false;
		if (v)
			continue;
		v = cmpxchg(p, 0, key);
		if (!v) {
			*slot = p;
			return true;
		}
		if (v == key)
			return false;
	}
	return true;
}

void cw_forget_sight(u64 *slot)
{
	if (slot)
		cmpxchg(slot, READ_ONCE(*slot), CW_SEEN_FORGOTTEN);
}

static u64 cw_hash_ips(const u64 *ips, unsigned int nr)
{
	u64 h = 0xcbf29ce484222325ULL;
	unsigned int i;

	for (i = 0; i < nr; i++)
		h = (h ^ ips[i]) * 0x100000001b3ULL;
	return h ?: 1;
}

/*
 * The current task's kernel stack as an id, its frames sent the first time this process
 * shows it; 0 when none was taken. The probe's own frames (this module's) are left out:
 * the stack starts where the kernel called the tracepoint.
 */
static u64 cw_kstack_id(void)
{
	struct cw_kstack_rec *r = this_cpu_ptr(&cw_kstack_scratch);
	unsigned int n, skip = 0;
	u64 id, *slot;

	BUILD_BUG_ON(sizeof(unsigned long) != sizeof(u64));
	n = stack_trace_save((unsigned long *)r->ips, CW_KSTACK_MAX, 0);
	while (skip < n && within_module(r->ips[skip], THIS_MODULE))
		skip++;
	if (skip == n)
		return 0;
	memmove(r->ips, r->ips + skip, (n - skip) * sizeof(u64));
	n -= skip;
	id = cw_hash_ips(r->ips, n);
	if (!cw_first_sight(cw_stacks_seen, CW_SEEN_BITS, current->tgid, id, &slot))
		return id;
	cw_hdr_init(&r->s.hdr, CW_EV_STACK, sizeof(r->s) + n * sizeof(u64), ktime_get_ns(),
		    current);
	r->s.stack_id = id;
	r->s.space = CW_STACK_KERNEL;
	r->s.nr = n;
	r->s.flags = n + skip == CW_KSTACK_MAX ? CW_STACK_TRUNCATED : 0;
	r->s.pad = 0;
	/* no room: the next sighting sends it */
	if (cw_ring_write(&r->s.hdr))
		cw_forget_sight(slot);
	return id;
}

/* ---- kernel lock contention (lock:contention_begin/end, Linux 5.19) ---- */

static void cw_emit_klock(u16 type, u64 addr, u64 kstack_id, u64 ts, u64 wait_ns, u32 flags,
			  s32 ret)
{
	struct cw_ev_klock e = {};
	struct mm_struct *mm = current->mm;

	cw_hdr_init(&e.hdr, type, sizeof(e), ts, current);
	e.addr = addr;
	e.kstack_id = kstack_id;
	e.wait_ns = wait_ns;
	e.lock_flags = flags;
	if (mm && addr == (unsigned long)&mm->mmap_lock)
		e.lock_flags |= CW_KLOCK_F_MMAP_LOCK;
	e.result = ret;
	cw_ring_write(&e.hdr);
}

/*
 * In an interrupt, current is whoever was interrupted, not the contender: only task
 * context is the traced thread's own.
 */
static void cw_probe_contention_begin(void *data, void *lock, unsigned int flags)
{
	u64 addr = (unsigned long)lock;
	struct cw_thread *t;

	if (!in_task() || !cw_traced(current->tgid, NULL))
		return;
	t = cw_thread_get(current->pid);
	if (!t)
		return;
	if (t->klock_active) {
		/* the same lock again (a mutex stops spinning to sleep): its latest type */
		if (t->klock_addr == addr)
			t->klock_flags = flags;
		cw_emit_klock(CW_EV_KLOCK_BEGIN, addr, 0, ktime_get_ns(), 0, flags, 0);
		return;
	}
	t->klock_addr = addr;
	t->klock_flags = flags;
	t->klock_kstack = cw_kstack_id();
	t->klock_ts = ktime_get_ns();
	t->klock_active = 1;
	cw_emit_klock(CW_EV_KLOCK_BEGIN, addr, t->klock_kstack, t->klock_ts, 0, flags, 0);
}

static void cw_probe_contention_end(void *data, void *lock, int ret)
{
	u64 now, addr = (unsigned long)lock;
	struct cw_thread *t;

	if (!in_task() || !cw_traced(current->tgid, NULL))
		return;
	now = ktime_get_ns();
	t = cw_thread_find(current->pid);
	/* nested, or begun before tracing: nothing to measure it from */
	if (!t || !t->klock_active || t->klock_addr != addr) {
		cw_emit_klock(CW_EV_KLOCK_END, addr, 0, now, 0, 0, ret);
		return;
	}
	cw_emit_klock(CW_EV_KLOCK_END, addr, t->klock_kstack, now, now - t->klock_ts,
		      t->klock_flags, ret);
	t->klock_active = 0;
}

/* ---- registration ---- */

struct cw_tp {
	const char *name;
	void *probe;
	u64 class;
	struct tracepoint *tp;	/* found at load; NULL: this kernel has none */
	bool registered;
};

static struct cw_tp cw_tps[] = {
	{ "sched_process_fork", cw_probe_fork, CW_KMOD_C_PROC },
	{ "sched_process_exec", cw_probe_exec, CW_KMOD_C_PROC },
	{ "sched_process_exit", cw_probe_exit, CW_KMOD_C_PROC },
	{ "task_rename", cw_probe_rename, CW_KMOD_C_PROC },
	{ "sched_switch", cw_probe_switch, CW_KMOD_C_SCHED },
	{ "sched_waking", cw_probe_waking, CW_KMOD_C_SCHED },
	{ "sched_pi_setprio", cw_probe_pi_setprio, CW_KMOD_C_SCHED },
	{ "sys_enter", cw_probe_sys_enter, CW_KMOD_C_FUTEX },
	{ "sys_exit", cw_probe_sys_exit, CW_KMOD_C_FUTEX },
	{ "contention_begin", cw_probe_contention_begin, CW_KMOD_C_KLOCK },
	{ "contention_end", cw_probe_contention_end, CW_KMOD_C_KLOCK },
};

static void cw_find_tp(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(cw_tps); i++)
		if (!strcmp(tp->name, cw_tps[i].name))
			cw_tps[i].tp = tp;
}

u64 cw_trace_classes(void)
{
	/* the lock probes work wherever the kernel has uprobes (CONFIG_UPROBES) */
	u64 classes = IS_ENABLED(CONFIG_UPROBES) ? CW_KMOD_C_ALL : CW_KMOD_C_ALL & ~CW_KMOD_C_ULOCK;
	int i;

	for (i = 0; i < ARRAY_SIZE(cw_tps); i++)
		if (!cw_tps[i].tp)
			classes &= ~cw_tps[i].class;
	return classes;
}

unsigned int cw_trace_max_threads(void)
{
	return 1U << cw_threads_bits;
}

u64 cw_trace_lost_threads(void)
{
	return atomic64_read(&cw_lost_threads);
}

int cw_trace_init(unsigned int max_threads)
{
	int i;

	for_each_kernel_tracepoint(cw_find_tp, NULL);
	for (i = 0; i < ARRAY_SIZE(cw_tps); i++)
		if (!cw_tps[i].tp)
			pr_info("no tracepoint %s in this kernel\n", cw_tps[i].name);
	if (!(cw_trace_classes() & CW_KMOD_C_PROC)) {
		pr_err("the process tracepoints are missing: cannot follow a target\n");
		return -ENOENT;
	}
	cw_threads_bits = ilog2(max_threads);
	cw_threads = vzalloc(array_size(max_threads, sizeof(*cw_threads)));
	cw_stacks_seen = vzalloc(sizeof(u64) << CW_SEEN_BITS);
	if (!cw_threads || !cw_stacks_seen) {
		cw_trace_free();
		return -ENOMEM;
	}
	return 0;
}

void cw_trace_free(void)
{
	vfree(cw_threads);
	cw_threads = NULL;
	vfree(cw_stacks_seen);
	cw_stacks_seen = NULL;
}

void cw_trace_stop(void)
{
	bool any = false;
	int i;

	/* first the lock probes, whose handlers use the thread table too */
	cw_uprobes_stop();

	for (i = 0; i < ARRAY_SIZE(cw_tps); i++) {
		if (!cw_tps[i].registered)
			continue;
		WARN_ON_ONCE(tracepoint_probe_unregister(cw_tps[i].tp, cw_tps[i].probe, NULL));
		cw_tps[i].registered = false;
		any = true;
	}
	/* no probe runs past here: the table and the rings may be reset or freed */
	if (any)
		tracepoint_synchronize_unregister();
	for (i = 0; i < cw_trace_max_threads(); i++)
		cw_locks_free(&cw_threads[i]);
}

int cw_trace_start(const struct cw_kmod_start *st)
{
	u64 classes = st->classes;
	int i, err;

	/* the process class follows the target set through forks and exits: always on */
	classes |= CW_KMOD_C_PROC;
	memset(cw_threads, 0, array_size(cw_trace_max_threads(), sizeof(*cw_threads)));
	/* a new reader has seen no stack */
	memset(cw_stacks_seen, 0, sizeof(u64) << CW_SEEN_BITS);
	atomic64_set(&cw_lost_threads, 0);
	/* before the programs run: they read its threshold and the reader's process */
	cw_prio_start(st->pi_threshold_ns);
	for (i = 0; i < ARRAY_SIZE(cw_tps); i++) {
		if (!(cw_tps[i].class & classes))
			continue;
		err = tracepoint_probe_register(cw_tps[i].tp, cw_tps[i].probe, NULL);
		if (err) {
			pr_err("failed to attach to tracepoint %s: %d\n", cw_tps[i].name, err);
			cw_trace_stop();
			return err;
		}
		cw_tps[i].registered = true;
	}
	if (classes & CW_KMOD_C_ULOCK) {
		err = cw_uprobes_start(st->stack_bytes, st->fp_depth,
				       st->flags & CW_KMOD_S_LOCK_BEGIN);
		if (err) {
			cw_trace_stop();
			return err;
		}
	}
	return 0;
}
