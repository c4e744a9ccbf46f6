// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel-module source's scheduling figures per thread: what bpf/cw_sched.bpf.h keeps
 * in thread_stats (on-CPU time, off-CPU time by reason, run-queue latency, switches,
 * wakeups, failed trylocks), made here from the records the module sends for each switch
 * and wakeup of a traced thread, with the same rules, and sent as bpf/threads.c sends
 * them: cumulative CW_EV_THREAD_STATS records at a tick for the threads whose figures
 * moved, each second for one whose state goes on, every one at the last drain, each after
 * a CW_EV_THREAD_STATE when what the thread does changed; a thread's last figures at its
 * exit. The switch and wakeup records go on to the engine as they are (kmod.c). What is
 * done otherwise than in the BPF programs, and why:
 *
 * - Order. The rings are read a CPU at a time: a thread's switch-out (on its CPU) and its
 *   wakeup or switch-in (on another) come in either order, in one read or two drains apart
 *   (a drain stops after a quarter of a tick; a ring is read while others are written).
 *   The figures come from a state machine over each thread's events in time order, which
 *   sorting a drain would not give: each record about a thread goes first into that
 *   thread's list of events, by time (mostly appended: each ring is in order), and events
 *   are applied only once no older record can come: up to a horizon, the start of the
 *   last read that found every ring empty less 10 ms, the time a probe may take from its
 *   clock reading to its ring write (microseconds; a vCPU can stall between them: the
 *   session's reorder window). A drain cut short still moves the horizon to a second ago,
 *   or a target that keeps the reader busy would get no figures; after stop, everything
 *   is applied. The figures at a tick count the state in progress up to the horizon and
 *   are stamped with it, a thread's exit with its time. An event older than the horizon
 *   (a stall longer than that) is applied at the horizon, not dropped: figures never go
 *   down. Runs of a thread's own records (below) on one CPU are one event.
 * - Switch-ins. The module sends every switch a traced thread is in, prev 0/0 when the
 *   task leaving the CPU is not traced, as the BPF programs send them. A module that
 *   sent only switch-outs (before this reader) showed a thread's switch-in only after
 *   another traced thread: so a thread that became runnable (woken, preempted, forked)
 *   and is next seen running (its switch-out, or a record only it makes: its futex
 *   calls, lock operations, kernel-lock waits, the wakeups it does) with no switch-in
 *   between is taken to have run since it became runnable, and until it is seen at all
 *   neither is counted. Once a switch from an untraced task comes (every switch-in is
 *   sent), runnable time counts in progress, and a thread seen running without its
 *   switch-in (records lost) was runnable until then.
 * - Woken while still on its CPU (sched_waking before the switch-out of the sleep it
 *   ends): the switch-out is runnable time, as in the BPF programs; they forget the
 *   waking at sched_wakeup, which the module does not trace, so here it counts only if
 *   the thread made no record between the waking and its switch-out.
 * - A wait whose wakeup was not seen ends when the thread is seen running.
 * - Threads end at their exit (CW_EV_EXIT, or a switch-out in TASK_DEAD) and at an exec
 *   of another thread than the leader (its tid becomes the leader's); what comes for the
 *   tid after is ignored until a fork or exec gives it out again, and it is forgotten a
 *   second later. A thread's fork starts its figures, runnable (sched_wakeup_new). A
 *   process no longer traced has its threads' figures sent a last time and forgotten;
 *   its records older than when it is traced again count no more.
 * - What the records do not say: the affinity (cpus_allowed, nr_cpus_allowed are 0;
 *   FIXME(kmod sched): cw_ev_switch has no room for it). The priorities are those of the
 *   thread's last switch or wakeup; the normal one, nice and rt_priority are made from
 *   the prio when not boosted (rt_mutex boosts: CW_EV_PRIO_CHANGE). Failed trylocks and
 *   timed-out acquires are counted from the lock records, as count_failure() counts them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <concwatch/events.h>
#include <concwatch/lockrules.h>

#include "common/array.h"
#include "engine/index.h"
#include "source/kmod_sched.h"

#define SLACK_NS 10000000ULL		/* a probe's clock reading to its ring write, at most */
#define LAG_NS 1000000000ULL		/* a drain cut short: events older are applied */
#define REFRESH_NS 1000000000ULL	/* a thread whose state goes on: a record a second */
#define DEAD_NS 1000000000ULL		/* an exited thread's tid is remembered this long */

/* include/linux/sched.h: the state of an exiting task's last switch */
#define CW_TASK_DEAD 0x80
#define CW_MAX_RT_PRIO 100
#define CW_NICE_0_PRIO 120
#define CW_MAX_PRIO 140

/* A switch-out for a reason the module did not say: off a CPU, not known why. */
#define KS_UNKNOWN CW_OFFCPU_MAX

/* struct ks_event.kind */
#define KS_RUN 1	/* records only the thread makes, on one CPU: it was on it then */
#define KS_OUT 2	/* switched out */
#define KS_IN 3		/* switched in */
#define KS_WAKE 4	/* woken */
#define KS_PRIO 5	/* its priority changed (rt_mutex priority inheritance) */
#define KS_EXIT 6	/* exited: its figures end */
#define KS_NEW 7	/* forked or exec'ed with this tid: a thread of its own from now on */

/* What one record says of a thread, in its list until it is applied. */
struct ks_event {
	__u64 ts;
	__u64 hi;		/* KS_RUN: the time of its last record (ts: of its first) */
	__u64 addr;		/* KS_OUT: what it waits on */
	__s32 prio;		/* KS_OUT, _IN, _WAKE: its kernel prio; KS_PRIO: the new one */
	__s32 old_prio;		/* KS_PRIO */
	__u32 policy;		/* KS_OUT, KS_PRIO: SCHED_* */
	__u32 arg;		/* KS_RUN: failed attempts on locks; KS_OUT: its last switch
				 * (TASK_DEAD); KS_PRIO: CW_PRIO_*; KS_NEW: figures begin (a
				 * thread's fork, an exec), else the old thread is forgotten */
	__u16 cpu;		/* KS_RUN: where its records were made */
	__u8 kind;		/* KS_* */
	__u8 reason;		/* KS_OUT: CW_OFFCPU_*; KS_NEW: its state from then on */
};

struct ks_thread {
	__u32 pid, tid;
	__u8 live;		/* its figures began: a switch, wakeup, failed trylock or fork */
	__u8 dead;		/* exited at dead_ns: its events are ignored until a KS_NEW */
	__u8 changed;		/* an event applied since its last record */
	__u8 state;		/* CW_OFFCPU_NONE on a CPU; off one, CW_OFFCPU_* or KS_UNKNOWN */
	__u8 boosted;		/* rt_mutex-boosted: prio is not normal_prio */
	__u32 policy;
	__s32 prio, normal_prio;
	__u64 state_ts;		/* when the state began; 0: not known */
	__u64 wait_addr;	/* off a CPU: what it waits on */
	__u64 waking_ts;	/* woken while still on a CPU: when; else 0 */
	__u64 run_ts;		/* the latest of its own records applied */
	__u64 dead_ns;
	__u64 sent_ns;		/* the time of its last record */
	struct cw_ev_thread_stats fig;		/* its figures but the state in progress */
	struct cw_ev_thread_stats sent;		/* the last record sent (hdr.type 0: none) */
	struct cw_ev_thread_state state_sent;	/* the last state sent (hdr.type 0: none) */
	struct ks_event *ev;	/* its events still to apply, by time */
	size_t nr_ev, cap_ev;
};

/* A process once no longer traced: its records before from_ns count no more. */
struct ks_untraced {
	__u32 pid;
	__u64 from_ns;
};

struct cw_kmod_sched {
	struct ks_thread *t;
	size_t nr, cap;
	struct cw_index ix;		/* (pid, tid) -> slot in t */
	struct ks_untraced *untraced;
	size_t nr_untraced, cap_untraced;
	struct cw_index untraced_ix;	/* (pid, 0) -> slot in untraced */
	__u64 horizon;			/* the events up to here are applied */
	int all_switch_ins;		/* a switch from an untraced task came: all come */
	struct cw_emit *e;		/* where records go now */
	int queue;			/* ... queued for the next drain */
};

int cw_kmod_sched__new(struct cw_kmod_sched **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void cw_kmod_sched__free(struct cw_kmod_sched *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->nr; i++)
		free(ks->t[i].ev);
	free(ks->t);
	cw_index__fini(&ks->ix);
	free(ks->untraced);
	cw_index__fini(&ks->untraced_ix);
	free(ks);
}

static int out(struct cw_kmod_sched *ks, const struct cw_hdr *h)
{
	return ks->queue ? cw_emit__queue(ks->e, h) : cw_emit__deliver(ks->e, h);
}

/* SCHED_OTHER, SCHED_BATCH, SCHED_IDLE: a nice value, prio 100..139 unless boosted. */
static int fair_policy(__u32 policy)
{
	return policy == 0 || policy == 3 || policy == 5;
}

/* SCHED_FIFO, SCHED_RR: an rt_priority. */
static int rt_policy(__u32 policy)
{
	return policy == 1 || policy == 2;
}

/* ---- the threads and their events ---- */

static __u64 from_ns(const struct cw_kmod_sched *ks, __u32 pid)
{
	__u32 slot;

	if (!ks->nr_untraced || cw_index__get(&ks->untraced_ix, pid, 0, &slot))
		return 0;
	return ks->untraced[slot].from_ns;
}

/* pid's records before from count no more; a pid never untraced gets a slot if make. */
static int set_from(struct cw_kmod_sched *ks, __u32 pid, __u64 from, int make)
{
	struct ks_untraced *u;
	__u32 slot;

	if (!cw_index__get(&ks->untraced_ix, pid, 0, &slot)) {
		ks->untraced[slot].from_ns = from;
		return 0;
	}
	if (!make)
		return 0;
	u = cw_grow(ks->untraced, &ks->cap_untraced, ks->nr_untraced + 1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	ks->untraced = u;
	if (cw_index__put(&ks->untraced_ix, pid, 0, ks->nr_untraced))
		return -ENOMEM;
	u[ks->nr_untraced++] = (struct ks_untraced){ pid, from };
	return 0;
}

/* The thread's slot, made when new if make; NULL: none (make: out of memory). */
static struct ks_thread *thread_of(struct cw_kmod_sched *ks, __u32 pid, __u32 tid, int make)
{
	struct ks_thread *t;
	__u32 slot;

	if (!cw_index__get(&ks->ix, pid, tid, &slot))
		return &ks->t[slot];
	if (!make || ks->nr >= UINT32_MAX)
		return NULL;
	t = cw_grow(ks->t, &ks->cap, ks->nr + 1, sizeof(*t));
	if (!t)
		return NULL;
	ks->t = t;
	if (cw_index__put(&ks->ix, pid, tid, ks->nr))
		return NULL;
	t = &ks->t[ks->nr++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->tid = tid;
	return t;
}

/* ev into the list of thread (pid, tid), by time. 0, or -ENOMEM. */
static int push(struct cw_kmod_sched *ks, __u32 pid, __u32 tid, struct ks_event ev)
{
	struct ks_thread *t;
	struct ks_event *v;
	size_t i;

	/* tid 0: an untraced task (the module says 0/0 for it) */
	if (!tid || ev.ts < from_ns(ks, pid))
		return 0;
	t = thread_of(ks, pid, tid, 1);
	if (!t)
		return -ENOMEM;
	/* later than it could be: applied at the earliest time still possible (see the top) */
	if (ev.ts < ks->horizon)
		ev.ts = ks->horizon;
	if (ev.hi < ev.ts)
		ev.hi = ev.ts;
	for (i = t->nr_ev; i && t->ev[i - 1].ts > ev.ts; i--)
		;
	v = i ? &t->ev[i - 1] : NULL;
	/*
	 * One CPU's records of it, nothing of it between: it was on that CPU all along. A
	 * failed attempt starts one (its figures may begin then).
	 */
	if (ev.kind == KS_RUN && !ev.arg && v && v->kind == KS_RUN && v->cpu == ev.cpu &&
	    v->hi <= ev.ts) {
		v->hi = ev.hi;
		return 0;
	}
	v = cw_grow(t->ev, &t->cap_ev, t->nr_ev + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->ev = v;
	memmove(&v[i + 1], &v[i], (t->nr_ev - i) * sizeof(*v));
	v[i] = ev;
	t->nr_ev++;
	return 0;
}

/* A record that only thread (pid, tid) makes, while on a CPU; tries: failed attempts. */
static int push_run(struct cw_kmod_sched *ks, const struct cw_hdr *h, __u32 pid, __u32 tid,
		    __u32 tries)
{
	return push(ks, pid, tid, (struct ks_event){ .ts = h->ts_ns, .kind = KS_RUN,
						     .cpu = h->cpu, .arg = tries });
}

/* A lock operation: a busy trylock or a timed-out acquire is a failure (count_failure()). */
static int push_lock(struct cw_kmod_sched *ks, const struct cw_ev_lock *l)
{
	int failed = l->hdr.type == CW_EV_LOCK_ACQUIRED &&
		     !cw_rules_op_acquired(l->op, l->result) &&
		     (l->result == EBUSY || l->result == ETIMEDOUT);

	return push_run(ks, &l->hdr, l->hdr.pid, l->hdr.tid, failed);
}

static int push_switch(struct cw_kmod_sched *ks, const struct cw_ev_switch *e)
{
	int err;

	err = push(ks, e->hdr.pid, e->hdr.tid,
		   (struct ks_event){ .ts = e->hdr.ts_ns, .kind = KS_OUT, .reason = e->reason,
				      .addr = e->wait_addr, .prio = e->prev_prio,
				      .policy = e->prev_policy,
				      .arg = !!(e->prev_state & CW_TASK_DEAD) });
	if (err || !e->next_tid)
		return err;
	if (!e->hdr.tid)
		ks->all_switch_ins = 1;
	return push(ks, e->next_pid, e->next_tid,
		    (struct ks_event){ .ts = e->hdr.ts_ns, .kind = KS_IN, .prio = e->next_prio });
}

static int push_wakeup(struct cw_kmod_sched *ks, const struct cw_ev_wakeup *w)
{
	int err = push(ks, w->hdr.pid, w->hdr.tid,
		       (struct ks_event){ .ts = w->hdr.ts_ns, .kind = KS_WAKE, .prio = w->prio });

	/* the waker runs the waking on its CPU (0: an interrupt did) */
	if (err || !w->waker_tid || w->waker_pid != w->hdr.pid || w->waker_tid == w->hdr.tid)
		return err;
	return push_run(ks, &w->hdr, w->hdr.pid, w->waker_tid, 0);
}

static int push_fork(struct cw_kmod_sched *ks, const struct cw_ev_fork *f)
{
	struct ks_event ev = { .ts = f->hdr.ts_ns, .kind = KS_NEW, .arg = 1,
			       .reason = CW_OFFCPU_PREEMPTED };
	int err = push_run(ks, &f->hdr, f->hdr.pid, f->hdr.tid, 0);

	if (err || !f->child_tid)
		return err;
	if (f->flags & CW_FORK_THREAD)
		return push(ks, f->child_pid, f->child_tid, ev);
	/*
	 * A process: traced if the module adds it (then its pid counts again), its figures
	 * begin at its first switch; a thread an exited one's tid is remembered for forgotten.
	 */
	err = set_from(ks, f->child_pid, f->hdr.ts_ns, 0);
	if (err || !thread_of(ks, f->child_pid, f->child_tid, 0))
		return err;
	ev.arg = 0;
	return push(ks, f->child_pid, f->child_tid, ev);
}

/* Another thread than the leader exec'ed: it ends, and goes on as the leader, running. */
static int push_exec(struct cw_kmod_sched *ks, const struct cw_ev_exec *x)
{
	int err;

	if (x->old_tid == x->hdr.tid)
		return push_run(ks, &x->hdr, x->hdr.pid, x->hdr.tid, 0);
	err = push(ks, x->hdr.pid, x->old_tid,
		   (struct ks_event){ .ts = x->hdr.ts_ns, .kind = KS_EXIT });
	if (err)
		return err;
	return push(ks, x->hdr.pid, x->hdr.tid,
		    (struct ks_event){ .ts = x->hdr.ts_ns, .kind = KS_NEW, .arg = 1,
				       .reason = CW_OFFCPU_NONE });
}

int cw_kmod_sched__record(struct cw_kmod_sched *ks, const struct cw_hdr *h)
{
	const struct cw_ev_prio *p;

	switch (h->type) {
	case CW_EV_SCHED_SWITCH:
		return push_switch(ks, (const struct cw_ev_switch *)h);
	case CW_EV_SCHED_WAKEUP:
		return push_wakeup(ks, (const struct cw_ev_wakeup *)h);
	case CW_EV_PRIO_CHANGE:
		p = (const struct cw_ev_prio *)h;
		return push(ks, h->pid, h->tid,
			    (struct ks_event){ .ts = h->ts_ns, .kind = KS_PRIO, .prio = p->new_prio,
					       .old_prio = p->old_prio, .policy = p->policy,
					       .arg = p->reason });
	case CW_EV_FORK:
		return push_fork(ks, (const struct cw_ev_fork *)h);
	case CW_EV_EXEC:
		return push_exec(ks, (const struct cw_ev_exec *)h);
	case CW_EV_EXIT:
		return push(ks, h->pid, h->tid,
			    (struct ks_event){ .ts = h->ts_ns, .kind = KS_EXIT });
	case CW_EV_LOCK_BEGIN:
	case CW_EV_LOCK_ACQUIRED:
	case CW_EV_LOCK_RELEASED:
	case CW_EV_LOCK_INIT:
	case CW_EV_LOCK_DESTROY:
		return push_lock(ks, (const struct cw_ev_lock *)h);
	/* the module makes these in the thread's own context (current) */
	case CW_EV_FUTEX_BEGIN:
	case CW_EV_FUTEX_END:
	case CW_EV_KLOCK_BEGIN:
	case CW_EV_KLOCK_END:
	case CW_EV_BLOCKED:
	case CW_EV_LOCK_EDGE:
		return push_run(ks, h, h->pid, h->tid, 0);
	}
	return 0;
}

/* ---- the rules: bpf/cw_sched.bpf.h's, on one thread's events in time order ---- */

static __u8 bucket(__u8 state)
{
	return state < CW_OFFCPU_MAX ? state : CW_OFFCPU_NONE;
}

/* Its figures begin at ts, unless they have: where the BPF programs make an entry. */
static void begin(struct ks_thread *t, __u64 ts)
{
	if (t->live)
		return;
	t->live = 1;
	t->changed = 1;
	memset(&t->fig, 0, sizeof(t->fig));
	t->fig.hdr = (struct cw_hdr){ .type = CW_EV_THREAD_STATS, .size = sizeof(t->fig),
				      .cpu = 0xffff, .flags = CW_F_AGGREGATED, .pid = t->pid,
				      .tid = t->tid };
	t->fig.since_ns = ts;
	t->state = CW_OFFCPU_NONE;
	t->state_ts = t->wait_addr = t->waking_ts = 0;
}

static void enter(struct ks_thread *t, __u8 state, __u64 ts, __u64 addr)
{
	t->state = state;
	t->state_ts = ts;
	t->wait_addr = addr;
	t->waking_ts = 0;
	t->changed = 1;
}

/* Off a CPU in its state until ts. */
static void add_off(struct ks_thread *t, __u64 ts)
{
	if (t->state_ts && ts > t->state_ts)
		t->fig.offcpu_ns[bucket(t->state)] += ts - t->state_ts;
}

/*
 * It was on a CPU at ts with no switch-in seen since its state began (see the top): a
 * runnable time ends, a wait whose wakeup was not seen too.
 */
static void ran(const struct cw_kmod_sched *ks, struct ks_thread *t, __u64 ts)
{
	if (t->state == CW_OFFCPU_NONE || ts < t->state_ts)
		return;
	if (t->state == CW_OFFCPU_PREEMPTED && !ks->all_switch_ins) {
		enter(t, CW_OFFCPU_NONE, t->state_ts, 0);
		return;
	}
	add_off(t, ts);
	enter(t, CW_OFFCPU_NONE, ts, 0);
}

/* Its own record at run_ts, nothing older of it still to come by x: it ran then. */
static void settle(const struct cw_kmod_sched *ks, struct ks_thread *t, __u64 x)
{
	if (t->live && t->state != CW_OFFCPU_NONE && t->run_ts > t->state_ts && t->run_ts <= x)
		ran(ks, t, t->run_ts);
}

static void set_prio(struct ks_thread *t, __s32 prio)
{
	t->prio = prio;
	/* a fair thread below 100 is boosted, since before it was traced */
	if (!t->boosted && (!fair_policy(t->policy) || prio >= CW_MAX_RT_PRIO))
		t->normal_prio = prio;
}

static void prio_change(struct ks_thread *t, const struct ks_event *ev)
{
	t->policy = ev->policy;
	if (ev->arg == CW_PRIO_PI_BOOST) {
		if (!t->boosted)
			t->normal_prio = ev->old_prio;
		t->boosted = 1;
		t->prio = ev->prio;
	} else if (ev->arg == CW_PRIO_PI_UNBOOST) {
		t->boosted = 0;
		t->prio = t->normal_prio = ev->prio;
	} else {
		set_prio(t, ev->prio);
	}
	t->changed = 1;
}

/* Its record for the figures at `at`: the state in progress counted up to then. */
static void figures(const struct cw_kmod_sched *ks, const struct ks_thread *t, __u64 at,
		    struct cw_ev_thread_stats *e)
{
	*e = t->fig;
	e->hdr.ts_ns = at;
	if (t->state_ts && at > t->state_ts) {
		if (t->state == CW_OFFCPU_NONE)
			e->oncpu_ns += at - t->state_ts;
		/* runnable, until when is not known yet (see the top) */
		else if (t->state != CW_OFFCPU_PREEMPTED || ks->all_switch_ins)
			e->offcpu_ns[bucket(t->state)] += at - t->state_ts;
	}
	e->policy = t->policy;
	e->prio = t->prio;
	e->normal_prio = t->normal_prio;
	if (rt_policy(t->policy) && t->normal_prio >= 0 && t->normal_prio < CW_MAX_RT_PRIO)
		e->rt_priority = CW_MAX_RT_PRIO - 1 - t->normal_prio;
	else if (fair_policy(t->policy) && t->normal_prio >= CW_MAX_RT_PRIO &&
		 t->normal_prio < CW_MAX_PRIO)
		e->nice = t->normal_prio - CW_NICE_0_PRIO;
}

/* It exited at ts: its last figures go out now (sched_thread_exit()). */
static int finish(struct cw_kmod_sched *ks, struct ks_thread *t, __u64 ts)
{
	struct cw_ev_thread_stats e;

	t->dead = 1;
	t->dead_ns = ts;
	if (!t->live)
		return 0;
	ran(ks, t, ts);
	figures(ks, t, ts, &e);
	t->sent = e;
	t->sent_ns = ts;
	return out(ks, &e.hdr);
}

static int switch_out(struct cw_kmod_sched *ks, struct ks_thread *t, const struct ks_event *ev)
{
	__u8 reason = ev->reason;

	/* an exiting thread's last switch begins nothing */
	if (!t->live && ev->arg)
		return 0;
	begin(t, ev->ts);
	t->policy = ev->policy;
	set_prio(t, ev->prio);
	ran(ks, t, ev->ts);
	if (t->state == CW_OFFCPU_NONE && t->state_ts && ev->ts > t->state_ts)
		t->fig.oncpu_ns += ev->ts - t->state_ts;
	if (ev->arg) {
		t->state_ts = ev->ts;
		return finish(ks, t, ev->ts);
	}
	if (reason == CW_OFFCPU_PREEMPTED) {
		t->fig.nr_involuntary++;
	} else {
		t->fig.nr_voluntary++;
		if (reason == CW_OFFCPU_NONE || reason >= CW_OFFCPU_MAX)
			reason = KS_UNKNOWN;
		/* its waker came first, and it made no record since: runnable already */
		if (t->waking_ts && t->run_ts <= t->waking_ts)
			reason = CW_OFFCPU_PREEMPTED;
	}
	enter(t, reason, ev->ts, reason == CW_OFFCPU_PREEMPTED ? 0 : ev->addr);
	return 0;
}

static void switch_in(struct ks_thread *t, const struct ks_event *ev)
{
	__u64 d;

	begin(t, ev->ts);
	set_prio(t, ev->prio);
	if (t->state != CW_OFFCPU_NONE && t->state_ts && ev->ts > t->state_ts) {
		d = ev->ts - t->state_ts;
		t->fig.offcpu_ns[bucket(t->state)] += d;
		if (t->state == CW_OFFCPU_PREEMPTED) {
			if (d > t->fig.runq_ns_max)
				t->fig.runq_ns_max = d;
			t->fig.runq_hist[cw_hist_bucket(d)]++;
		}
	}
	enter(t, CW_OFFCPU_NONE, ev->ts, 0);
}

static void wakeup(struct ks_thread *t, const struct ks_event *ev)
{
	begin(t, ev->ts);
	set_prio(t, ev->prio);
	t->fig.nr_wakeups++;
	t->changed = 1;
	if (t->state > CW_OFFCPU_PREEMPTED) {
		add_off(t, ev->ts);
		enter(t, CW_OFFCPU_PREEMPTED, ev->ts, 0);
	} else if (t->state == CW_OFFCPU_NONE && !t->state_ts) {
		/* first seen here: runnable from now on, or running (its switch-out says) */
		enter(t, CW_OFFCPU_PREEMPTED, ev->ts, 0);
	} else if (t->state == CW_OFFCPU_NONE) {
		t->waking_ts = ev->ts; /* still on its CPU: see switch_out() */
	}
}

static int apply(struct cw_kmod_sched *ks, struct ks_thread *t, const struct ks_event *ev)
{
	if (t->dead && ev->kind != KS_NEW)
		return 0;
	settle(ks, t, ev->ts);
	switch (ev->kind) {
	case KS_RUN:
		if (ev->arg) {
			begin(t, ev->ts);
			t->fig.trylock_failures += ev->arg;
			t->changed = 1;
		}
		if (t->live && t->state_ts && ev->ts > t->state_ts)
			ran(ks, t, ev->ts);
		if (ev->hi > t->run_ts)
			t->run_ts = ev->hi;
		return 0;
	case KS_OUT:
		return switch_out(ks, t, ev);
	case KS_IN:
		switch_in(t, ev);
		return 0;
	case KS_WAKE:
		wakeup(t, ev);
		return 0;
	case KS_PRIO:
		prio_change(t, ev);
		return 0;
	case KS_EXIT:
		return finish(ks, t, ev->ts);
	case KS_NEW:
		t->dead = t->live = t->boosted = 0;
		t->run_ts = 0;
		t->sent.hdr.type = t->state_sent.hdr.type = 0;
		if (!ev->arg)
			return 0;
		begin(t, ev->ts);
		enter(t, ev->reason, ev->ts, 0);
		return 0;
	}
	return 0;
}

/* Apply t's events up to the horizon (all of them: all). */
static int advance_thread(struct cw_kmod_sched *ks, struct ks_thread *t, int all)
{
	size_t n = 0;
	int err = 0;

	while (!err && n < t->nr_ev && (all || t->ev[n].ts <= ks->horizon))
		err = apply(ks, t, &t->ev[n++]);
	memmove(t->ev, t->ev + n, (t->nr_ev - n) * sizeof(*t->ev));
	t->nr_ev -= n;
	if (!t->dead)
		settle(ks, t, all ? UINT64_MAX : ks->horizon);
	return err;
}

/* Keep the threads keep() says yes to, and index them again (cw_index has no removal). */
static int keep_threads(struct cw_kmod_sched *ks,
			int (*keep)(const struct cw_kmod_sched *, const struct ks_thread *, __u32),
			__u32 arg)
{
	size_t kept = 0;
	int err = 0;

	for (size_t i = 0; i < ks->nr; i++) {
		if (keep(ks, &ks->t[i], arg))
			ks->t[kept++] = ks->t[i];
		else
			free(ks->t[i].ev);
	}
	if (kept == ks->nr)
		return 0;
	ks->nr = kept;
	cw_index__fini(&ks->ix);
	for (size_t i = 0; i < kept && !err; i++)
		err = cw_index__put(&ks->ix, ks->t[i].pid, ks->t[i].tid, i);
	return err;
}

static int not_forgotten(const struct cw_kmod_sched *ks, const struct ks_thread *t, __u32 unused)
{
	return !t->dead || t->nr_ev || t->dead_ns + DEAD_NS > ks->horizon;
}

int cw_kmod_sched__advance(struct cw_kmod_sched *ks, struct cw_emit *e, __u64 emptied_ns,
			   __u64 now, int last)
{
	__u64 h = emptied_ns > SLACK_NS ? emptied_ns - SLACK_NS : 0;
	size_t forget = 0;
	int err = 0;

	if (!emptied_ns && now > LAG_NS)
		h = now - LAG_NS;
	if (last && now > h)
		h = now;
	if (h > ks->horizon)
		ks->horizon = h;
	ks->e = e;
	ks->queue = 0;
	for (size_t i = 0; i < ks->nr && !err; i++) {
		err = advance_thread(ks, &ks->t[i], last);
		forget += !not_forgotten(ks, &ks->t[i], 0);
	}
	if (!err && forget)
		err = keep_threads(ks, not_forgotten, 0);
	return err;
}

/* ---- sending ---- */

/* What it does now and since when, when that changed since the last one sent. */
static int send_state(struct cw_kmod_sched *ks, struct ks_thread *t, __u64 at)
{
	struct cw_ev_thread_state *s = &t->state_sent;
	__u64 addr = t->state > CW_OFFCPU_PREEMPTED ? t->wait_addr : 0;

	/* a state whose start is not known, or off a CPU not known why: none */
	if (!t->state_ts || t->state >= CW_OFFCPU_MAX ||
	    (s->hdr.type && s->since_ns == t->state_ts && s->state == t->state &&
	     s->wait_addr == addr))
		return 0;
	memset(s, 0, sizeof(*s));
	s->hdr = (struct cw_hdr){ .type = CW_EV_THREAD_STATE, .size = sizeof(*s), .cpu = 0xffff,
				  .flags = CW_F_AGGREGATED, .ts_ns = at, .pid = t->pid,
				  .tid = t->tid };
	s->since_ns = t->state_ts;
	s->wait_addr = addr;
	s->state = t->state;
	return out(ks, &s->hdr);
}

static int same_figures(const struct cw_ev_thread_stats *a, const struct cw_ev_thread_stats *b)
{
	return !memcmp((const char *)a + sizeof(a->hdr), (const char *)b + sizeof(b->hdr),
		       sizeof(*a) - sizeof(a->hdr));
}

static int send_thread(struct cw_kmod_sched *ks, struct ks_thread *t, __u64 at)
{
	struct cw_ev_thread_stats e;
	int err;

	t->changed = 0;
	err = send_state(ks, t, at);
	if (err)
		return err;
	figures(ks, t, at, &e);
	if (t->sent.hdr.type && same_figures(&e, &t->sent))
		return 0;
	t->sent = e;
	t->sent_ns = at;
	return out(ks, &e.hdr);
}

int cw_kmod_sched__send(struct cw_kmod_sched *ks, struct cw_emit *e, int last)
{
	__u64 at = ks->horizon;
	int err = 0;

	ks->e = e;
	ks->queue = 0;
	for (size_t i = 0; i < ks->nr && !err; i++) {
		struct ks_thread *t = &ks->t[i];

		if (!t->live || t->dead)
			continue;
		if (last || t->changed || (t->state_ts && at >= t->sent_ns + REFRESH_NS))
			err = send_thread(ks, t, at);
	}
	return err;
}

/* ---- processes ---- */

void cw_kmod_sched__traced(struct cw_kmod_sched *ks, __u32 pid, __u64 now)
{
	/* no slot made: nothing to allocate, nothing to fail */
	set_from(ks, pid, now, 0);
}

static int other_process(const struct cw_kmod_sched *ks, const struct ks_thread *t, __u32 pid)
{
	return t->pid != pid;
}

int cw_kmod_sched__untraced(struct cw_kmod_sched *ks, struct cw_emit *e, __u32 pid, __u64 now)
{
	int err = 0;

	ks->e = e;
	ks->queue = 1;
	for (size_t i = 0; i < ks->nr && !err; i++) {
		struct ks_thread *t = &ks->t[i];

		if (t->pid != pid)
			continue;
		err = advance_thread(ks, t, 1);
		if (!err && t->live && !t->dead)
			err = send_thread(ks, t, now > ks->horizon ? now : ks->horizon);
	}
	if (!err)
		err = keep_threads(ks, other_process, pid);
	if (!err)
		err = set_from(ks, pid, UINT64_MAX, 1);
	return err;
}
