/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Map layouts userspace reads as well as the BPF programs: one definition for both.
 * (Records, which outlive a run, are the ABI of include/concwatch/events.h instead.)
 */
#ifndef __CW_MAPS_H
#define __CW_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "concwatch/lockrules.h"

/*
 * pending_locks: an acquire in progress on a thread, from the entry probe to the return
 * probe (userspace reads it when the lock probes are detached: a blocked acquire's wait
 * ends there, as far as the stream knows).
 */
struct pending_lock {
	struct cw_rules_acq a;	/* a.ip: the return address, read before the swap */
	__u64 addr2;		/* cond_wait: the condition variable */
	__u64 ret_slot;		/* where the return address is: the return probe swaps it */
	__u32 blocked;		/* it slept in a futex wait on the lock: CW_EV_BLOCKED went out */
	__u32 blocked_owner;	/* the holder that record named */
};

/* edges_seen, edges_pending: a dependency of a process, sent once. */
struct cw_edge_key {
	__u32 tgid;
	__u32 pad;
	struct cw_edge_id id;
};

/*
 * lock_sites: per (process, thread, object, call path, view) statistics, cumulative; the
 * figures of every view (CW_SITE_*): uprobe acquires, futex waits, kernel locks, and the
 * wakeups that ended waits. Userspace sends what grew as CW_EV_LOCK_STATS records.
 */
struct cw_site_key {
	__u32 tgid;
	__u32 tid;		/* CW_SITE_FUTEX, CW_SITE_WAKE, CW_SITE_TRY: the thread; else 0 */
	__u64 addr;		/* lock, futex word, kernel lock */
	__u64 stack_id;		/* the call path (kernel stack id for CW_SITE_KLOCK) */
	__u32 what;		/* CW_SITE_* */
	__u32 pad;
};

struct cw_site_stats {
	__u64 acquisitions;	/* as cw_ev_lock_stats, per what */
	__u64 contentions;
	__u64 failures;
	__u64 wait_ns_total;
	__u64 wait_ns_max;
	__u64 hold_ns_total;
	__u64 hold_ns_max;
	__u64 ip;		/* ACQUIRE: return address of the acquire */
	__u32 owner_tid;	/* FUTEX: holder read from the word at the latest wait */
	__u32 op;		/* FUTEX: op of the latest wait; KLOCK: LCB_F_* */
	__u32 outcomes[CW_FUTEX_OUTCOMES];
	__u32 kind;		/* CW_LOCK_* */
	__u32 attr;		/* CW_ATTR_* */
	__u32 flags;		/* CW_SITE_F_* */
	__u32 pad;
	__u32 wait_hist[CW_HIST_BUCKETS];
	__u64 stack_last;	/* TRY: the call path of the latest failure (the key has 0) */
};

/*
 * cw_hist_bucket() (events.h) without a loop, for the BPF programs: a loop whose bound
 * the verifier must follow costs instructions on every path, and 6.1 refuses a back-edge
 * right after a helper call. Binary search by shifts; the same buckets (selftests/unit
 * test_site_bucket checks every power of two and its neighbours).
 */
static inline __u32 cw_site_bucket(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xffffffffULL) << 5;
	v >>= s;
	r |= s;
	s = (v > 0xffff) << 4;
	v >>= s;
	r |= s;
	s = (v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (v > 0x3) << 1;
	v >>= s;
	r |= s;
	r |= (__u32)(v >> 1);
	return r < CW_HIST_BUCKETS ? r : CW_HIST_BUCKETS - 1;
}

/*
 * thread_stats: a traced thread's scheduling, kept by the sched_* programs
 * (bpf/cw_sched.bpf.h) and read by userspace every tick (CW_EV_THREAD_STATS). Keyed by
 * tid. Times are cumulative since since_ns; the state in progress (on CPU, or off CPU for
 * a reason since state_ts) is not in them yet: userspace adds it when it reads them.
 */
struct cw_thread_sched {
	__u32 tgid;
	__u8 state;		/* CW_OFFCPU_* while off CPU; CW_OFFCPU_NONE while on CPU */
	__u8 library_blocked;	/* asleep in a wait the library records, said (CW_EV_BLOCKED) */
	__u8 loop_blocked;	/* an event loop's thread blocked in an iteration: its
				 * loop_threads entry has the block (cw_evloop.bpf.h) */
	__u8 pad;
	__u64 since_ns;		/* when its accounting began (first event seen) */
	__u64 state_ts;		/* when the current state began; 0: not known yet */
	__u64 wait_addr;	/* off CPU: what it waits on (lock, futex word, kernel lock) */
	__u64 waking_ts;	/* woken while still on a CPU (about to sleep): when; else 0 */
	__u64 blamed_ts;	/* start of the futex wait whose waker was last blamed */
	__u64 oncpu_ns;
	__u64 offcpu_ns[CW_OFFCPU_MAX];
	__u64 runq_ns_max;
	__u64 nr_voluntary;
	__u64 nr_involuntary;
	__u64 nr_wakeups;
	__u64 trylock_failures;
	__u64 cpus_allowed;	/* cpus_mask, CPUs 0..63 */
	__u32 nr_cpus_allowed;
	__u32 policy;		/* SCHED_* */
	__s32 prio;		/* kernel prio (0..139) */
	__s32 normal_prio;
	__u32 rt_priority;
	__s32 nice;		/* from static_prio */
	__u32 runq_hist[CW_HIST_BUCKETS];
	/*
	 * Priority inversion (bpf/cw_prio.bpf.h): a real-time thread of better prio waits on
	 * a lock this thread holds (pi_waiter 0: none); while it does, the most important
	 * task that had its CPU since it was last preempted (pre_tid 0: not known), and
	 * where it was kept.
	 */
	__u64 pi_lock;		/* the lock pi_waiter waits on */
	__u64 pi_since;		/* when pi_waiter began to wait (its switch-out) */
	__u32 pi_waiter;	/* tid */
	__s32 pi_waiter_prio;
	__u32 pi_waiter_policy;
	__u32 pre_tgid;
	__u32 pre_tid;
	__s32 pre_prio;
	__u32 pre_policy;
	__u32 cpu;		/* the CPU it left last */
	char pre_comm[16];
	__u64 pi_stack;		/* its user stack id where its latest preemption while noted
				 * took it off its CPU; 0: not taken (asleep, or back on CPU) */
};

/*
 * loop_threads: a thread's event loop, kept by the loop-wait programs
 * (bpf/cw_evloop.bpf.h) and read by userspace every tick (CW_EV_LOOP_STATS, and a stall
 * going on as CW_EV_LOOP_STALL). Keyed by tid; an entry is made at a thread's first loop
 * wait.
 */
struct cw_loop_thread {
	__u32 tgid;
	__u32 wait_nr;		/* the system call of its latest wait */
	__u8 in_wait;		/* in a loop wait now */
	__u8 pad[7];
	__u64 enter_ts;		/* the latest wait's entry */
	__u64 exit_ts;		/* the latest wait's return; 0: none yet */
	__u64 oncpu_at_exit;	/* its on-CPU time then (se.sum_exec_runtime) */
	__u64 waits;
	__u64 iterations;
	__u64 busy_ns_total;
	__u64 busy_ns_max;
	__u64 wait_ns_total;
	__u64 stalls;
	__u32 busy_hist[CW_HIST_BUCKETS];
	/* blocked off its CPU in the iteration going on (block_ts 0: not blocked) */
	__u64 block_ts;		/* switched out */
	__u64 block_addr;	/* what it waits on, 0: nothing known */
	__u64 block_stack;	/* its user stack id then */
	__u32 block_nr;		/* the system call it blocked in, ~0: none */
	__u32 block_owner;	/* the holder of the lock it waits on, 0: not known */
	__u8 block_reason;	/* CW_OFFCPU_* */
	__u8 pad2[3];
	__u32 samples;		/* samples taken of the iteration going on */
};

#endif /* __CW_MAPS_H */
