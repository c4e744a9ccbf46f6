/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module's files share: the per-CPU record rings (concwatch_ring.c), the
 * target set and the tracepoint probes (concwatch_trace.c); concwatch_main.c has the
 * device that ties them to userspace (include/concwatch/kmod.h).
 */
#ifndef __CONCWATCH_KMOD_INTERNAL_H
#define __CONCWATCH_KMOD_INTERNAL_H

#include <linux/types.h>
#include <linux/wait.h>

#include <concwatch/lockrules.h>

struct cw_hdr;
struct cw_kmod_probe;
struct pt_regs;
struct task_struct;

/* concwatch_ring.c */
int cw_rings_init(unsigned int pages);
void cw_rings_free(void);
/* Every ring empty and its counters zero: before tracing starts. */
void cw_rings_reset(void);
/*
 * Any context, any CPU: copy the record (hdr->size bytes) into this CPU's ring. 0, or
 * -ENOSPC when the ring was full (counted).
 */
int cw_ring_write(struct cw_hdr *rec);
bool cw_rings_empty(void);
/* Whole records into buf, a loss record first when records were dropped; bytes or -errno. */
ssize_t cw_rings_read(char __user *buf, size_t count);
void cw_rings_stats(u64 *records, u64 *lost);
u64 cw_ring_bytes(void);
extern wait_queue_head_t cw_readers;

/* concwatch_trace.c */
int cw_trace_init(unsigned int max_threads);
void cw_trace_free(void);
/* The classes this kernel has the tracepoints for (CW_KMOD_C_*). */
u64 cw_trace_classes(void);
unsigned int cw_trace_max_threads(void);
struct cw_kmod_start;
/* Register the probes of st's classes and let records flow; 0 or -errno (nothing attached). */
int cw_trace_start(const struct cw_kmod_start *st);
/* Unregister every probe and wait until none runs any more. */
void cw_trace_stop(void);
u64 cw_trace_lost_threads(void);

/* What a thread is in the middle of; only the thread itself changes its own. */
struct cw_thread {
	u32 tid;		/* CW_TID_FREE, CW_TID_GONE or the thread's */
	u8 futex_active;	/* a futex call is in progress: the futex_* fields are its */
	u8 futex_blocks;	/* ... and it can block (a wait) */
	u8 klock_active;	/* contention_begin without its end yet */
	u8 off_reason;		/* CW_OFFCPU_* at the last switch out */
	u32 futex_op;		/* the op word, or CW_FUTEX_OP_* */
	u32 futex_val;
	u32 futex_val3;
	u32 klock_flags;	/* LCB_F_* */
	u64 futex_ts;		/* ns, when the call began */
	u64 futex_uaddr;	/* the word; futex_waitv: its first waiter's */
	u64 futex_uaddr2;	/* futex_waitv: the waiter array */
	u64 futex_timeout;	/* ns, 0 = none */
	u64 klock_ts;		/* ns, contention_begin */
	u64 klock_addr;
	u64 klock_kstack;	/* the id of its kernel stack, 0 = none */
	u64 off_ts;		/* ns, the last switch out; 0 = none seen */
	u64 off_addr;		/* what it blocked on then */
	u64 futex_stack;	/* the id of the futex call's user stack, 0 = none */
	/* futex_ts of the wait a waker was blamed for: the one field a waker writes */
	u64 blamed_ts;
	struct cw_locks *locks;	/* user-space locks (concwatch_uprobe.c), NULL = none yet */
	/*
	 * Scheduling state and priority inversion (concwatch_prio.c): written at the
	 * thread's switches and wakeups, and, for the pi_* note, by a real-time waiter
	 * going to sleep on a lock this thread holds.
	 */
	u8 state;		/* CW_OFFCPU_* since state_ts; CW_OFFCPU_NONE: on CPU */
	u8 pad[3];
	s32 prio;		/* kernel prio, a PI boost included */
	u64 state_ts;		/* 0: not seen yet */
	u32 pi_waiter;		/* the real-time thread waiting on pi_lock, 0 = none */
	s32 pi_waiter_prio;
	u32 pi_waiter_policy;
	u32 policy;
	u64 pi_lock;
	u64 pi_since;		/* when that waiter went to sleep on it */
	u64 pi_stack;		/* this thread's user stack at its preemption, 0 = none */
	u32 pre_tgid, pre_tid;	/* who took its CPU, any process; pre_tid 0 = none */
	s32 pre_prio;
	u32 pre_policy;
	char pre_comm[16];
};

#define CW_LOCK_WORDS 16	/* a glibc lock's futex words are in its first 16 bytes */

/* An acquire in progress on a thread, from its entry probe to its return probe. */
struct cw_pending_lock {
	struct cw_rules_acq a;	/* a.ip: the return address, read before the swap */
	u64 addr2;		/* cond_wait: the condition variable */
	u64 ret_slot;		/* where the return address is: the return probe swaps it */
	u8 active;		/* the fields above are an acquire's */
	u8 blocked;		/* it slept on the lock: CW_EV_BLOCKED went out */
	u8 pad[2];
	u32 blocked_owner;	/* the holder that record named */
};

/* A thread's user-space locks: the acquire in progress and the held set (lockrules.h). */
struct cw_locks {
	struct cw_pending_lock p;
	struct cw_held_set held;
};

struct cw_thread *cw_thread_find(u32 tid);
/* The current thread's entry, made when it has none; NULL (counted) when none is free. */
struct cw_thread *cw_thread_get(u32 tid);
void cw_hdr_init(struct cw_hdr *h, u16 type, u16 size, u64 ts, const struct task_struct *task);
/* (tgid, key) seen for the first time in table (CW_SEEN_*): marked now, *slot says where. */
bool cw_first_sight(u64 *table, unsigned int bits, u32 tgid, u64 key, u64 **slot);
/* Its record found no room: the next sighting sends it again. */
void cw_forget_sight(u64 *slot);
bool cw_traced(pid_t tgid, u32 *flags);

#define CW_MAX_TARGETS 64
/* The target set, in the global pid namespace. 0 or -errno; nothing changed on error. */
int cw_targets_set(pid_t tgid, u32 flags);
int cw_targets_add(pid_t tgid, u32 flags);
int cw_targets_remove(pid_t tgid);

/* concwatch_uprobe.c: the probes on user-space lock calls */
int cw_uprobes_init(void);
void cw_uprobes_free(void);
/* Under the device's mutex. 0 or -errno; nothing changed on error. */
int cw_uprobes_add(const struct cw_kmod_probe *p);
int cw_uprobes_clear(void);
/* Register every probe (stack_bytes, fp_depth, begin: cw_kmod_start's), or unregister them. */
int cw_uprobes_start(u32 stack_bytes, u32 fp_depth, bool begin);
void cw_uprobes_stop(void);
/* The target set changed: the filters decide again (registered again). */
int cw_uprobes_retarget(void);
void cw_uprobes_stats(u64 *hits, u64 *lost_held, u64 *lost_stacks);
/* A thread's lock state is freed (it exited, or tracing stopped). */
void cw_locks_free(struct cw_thread *t);
/* Hooks from the tracepoints, for the current task t (concwatch_trace.c). */
bool cw_ulock_futex_wait(struct cw_thread *t, u64 uaddr);
void cw_ulock_futex_done(struct cw_thread *t, u64 uaddr, u64 now);
/* Its acquire in progress, NULL when none. Any CPU may look at another thread's. */
const struct cw_pending_lock *cw_ulock_pending(const struct cw_thread *t);
/*
 * The current user stack's id (registers ip, sp, bp; at_entry: the return address is at
 * [sp]); seed mixes in what else tells call paths apart. Sent the first time this process
 * shows it, with a raw copy when raw (fix_slot: a stack slot to write fix_val into, the
 * return address a uretprobe swapped). 0 when nothing could be read.
 */
u64 cw_ustack_id(u64 ip, u64 sp, u64 bp, bool at_entry, u64 seed, bool raw, u64 fix_slot,
		 u64 fix_val);
/* It goes to sleep in a futex wait: on its acquire's lock? Then *addr is the lock. */
bool cw_ulock_sleeps(struct cw_thread *t, u64 uaddr, u64 *addr);

/* concwatch_prio.c: priority inversions, from sched_switch and sched_pi_setprio */
void cw_prio_start(u64 threshold_ns);
/* prev (entry tp, may be NULL) leaves its CPU for next (tn) at now, for reason. */
void cw_prio_switch(struct task_struct *prev, struct cw_thread *tp, u8 reason, u64 wait_addr,
		    struct task_struct *next, struct cw_thread *tn, u64 now);
/* t (task p) is woken: runnable from now. */
void cw_prio_woken(struct cw_thread *t, u64 now);
/* t's prio becomes prio through priority inheritance. */
void cw_prio_setprio(struct cw_thread *t, int prio);

/* concwatch_rules.c: the lock rules, with the module's hooks */
int cw_rules_acquired_k(struct cw_held_set *hs, const struct cw_rules_acq *a, u64 now);
int cw_rules_released_k(struct cw_held_set *hs, u64 addr, u64 now, u64 *hold_ns,
			u64 *stack_id);
void cw_rules_waits_k(struct cw_held_set *hs, struct cw_rules_acq *a);
/* A new dependency, sent once per (process, edge); concwatch_uprobe.c */
void cw_ulock_emit_edge(const struct cw_edge_id *id, const struct cw_held_lock *from,
			const struct cw_rules_acq *to);

#endif /* __CONCWATCH_KMOD_INTERNAL_H */
