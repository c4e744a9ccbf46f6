/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * concwatch event ABI: the records every source (BPF programs, the kernel module,
 * a recording being replayed) hands to the analysis engine.
 *
 * One header for bpf/, kmod/ and tools/. Rules (Documentation/abi.md explains them):
 *  - fixed-width fields only; addresses are __u64 in the traced process's address space;
 *  - every record starts with struct cw_hdr and its size is a multiple of 8 bytes;
 *  - variable-length records put their payload last and say its length in a field;
 *  - times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns() == ktime_get_ns());
 *  - a change that moves or resizes a field bumps CW_ABI_VERSION; new record types, new
 *    flag bits, new CW_LOST_* kinds and stack spaces do not (consumers skip records of
 *    types they do not know, count losses of kinds they do not know, and skip stacks of
 *    spaces they do not know), and neither does a field appended to a record whose
 *    minimum size stays the old size (consumers read it only from a record that long).
 */
#ifndef __CONCWATCH_EVENTS_H
#define __CONCWATCH_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CW_ABI_VERSION 3

/* Longest record any source may emit (cw_hdr.size is a __u16). */
#define CW_RECORD_MAX 65528
#define CW_COMM_LEN 16
#define CW_PATH_MAX 256
#define CW_STACK_MAX_DEPTH 127

/* cw_hdr.type */
enum cw_record_type {
	CW_EV_NONE = 0,

	/* user-space lock operations (struct cw_ev_lock) */
	CW_EV_LOCK_BEGIN = 1,	/* an acquire was called and may block */
	CW_EV_LOCK_ACQUIRED = 2, /* the acquire returned; result says whether it succeeded */
	CW_EV_LOCK_RELEASED = 3,
	CW_EV_LOCK_INIT = 4,
	CW_EV_LOCK_DESTROY = 5,

	/* futex(2) and futex_waitv(2), every op (struct cw_ev_futex) */
	CW_EV_FUTEX_BEGIN = 6,
	CW_EV_FUTEX_END = 7,

	/* scheduler */
	CW_EV_SCHED_SWITCH = 8,	 /* struct cw_ev_switch */
	CW_EV_SCHED_WAKEUP = 9,	 /* struct cw_ev_wakeup */
	CW_EV_PRIO_CHANGE = 10,	 /* struct cw_ev_prio */

	/* kernel lock contention, lock:contention_begin/end (struct cw_ev_klock) */
	CW_EV_KLOCK_BEGIN = 11,
	CW_EV_KLOCK_END = 12,

	/* task life cycle */
	CW_EV_FORK = 13,	/* struct cw_ev_fork: new thread or process */
	CW_EV_EXEC = 14,	/* struct cw_ev_exec */
	CW_EV_EXIT = 15,	/* struct cw_ev_exit: a thread exited */
	CW_EV_COMM = 16,	/* struct cw_ev_comm: a thread's name, at attach or when it changes */
	CW_EV_MMAP = 17,	/* struct cw_ev_mmap: an executable mapping appeared */

	/* records a source that aggregates in the kernel sends instead of raw ones */
	CW_EV_LOCK_EDGE = 18,	/* struct cw_ev_edge: a new lock-order dependency */
	CW_EV_LOCK_STATS = 19,	/* struct cw_ev_lock_stats: per (lock, call site) counters */
	CW_EV_STACK = 20,	/* struct cw_ev_stack: the frames behind a stack id */
	CW_EV_USTACK_RAW = 21,	/* struct cw_ev_ustack_raw: registers + copy of a user stack */

	/* stream bookkeeping, emitted by every source */
	CW_EV_TICK = 22,	/* struct cw_ev_tick: the clock advanced */
	CW_EV_LOST = 23,	/* struct cw_ev_lost: records were dropped */

	CW_EV_MODULE = 24,	/* struct cw_ev_module: a mapped file, with what resolves its addresses */
	CW_EV_THREAD_STATS = 25, /* struct cw_ev_thread_stats: a thread's scheduling, per tick */
	CW_EV_BLOCKED = 26,	/* struct cw_ev_blocked: a thread is blocked in a wait, and since when */
	CW_EV_PRIO_INVERSION = 27, /* struct cw_ev_pi: a real-time waiter's lock holder was kept
				    * off its CPU by another task */
	CW_EV_PRIO_STACKS = 28,	/* struct cw_ev_pi_stacks: the holder's and the preemptor's
				 * stacks of the cw_ev_pi before it */
	CW_EV_COST = 29,	/* struct cw_ev_cost: what tracing has cost the target so far */
	CW_EV_THREAD_STATE = 30, /* struct cw_ev_thread_state: what a thread is doing now,
				  * since when */
	CW_EV_LOOP_STALL = 31,	/* struct cw_ev_loop_stall: an event loop's thread long
				 * between two of its waits */
	CW_EV_LOOP_STATS = 32,	/* struct cw_ev_loop_stats: an event loop thread's
				 * iterations so far (aggregated) */
	CW_EV_LOOP_BLOCK = 33,	/* struct cw_ev_loop_block: an event loop's thread
				 * blocked outside its loop wait */
	CW_EV_LOOP_SAMPLE = 34,	/* struct cw_ev_loop_sample: where a long iteration of an
				 * event loop was, sampled */

	CW_EV_TYPE_MAX		/* first unused value */
};

/* cw_hdr.flags */
#define CW_F_AGGREGATED (1U << 0)	/* produced by in-kernel aggregation, not one operation */
#define CW_F_SYNTHETIC (1U << 1)	/* made up by userspace (e.g. state read at attach time) */
#define CW_F_NO_UPROBES (1U << 2)	/* CW_EV_TICK: the source traced without uprobes
					 * (--no-uprobes): waits only, no lock-order data */
#define CW_F_CONTENDED (1U << 3)	/* CW_EV_LOCK_ACQUIRED: the acquire slept on the lock
					 * (set by the kernel module; the BPF programs count
					 * contentions in their statistics instead) */
#define CW_F_NO_SCHED (1U << 4)		/* CW_EV_TICK: the scheduler tracepoints were shed
					 * (the cost governor): no switches, wakeups or
					 * per-thread times since the previous tick */

struct cw_hdr {
	__u16 type;	/* enum cw_record_type */
	__u16 size;	/* whole record in bytes, header included, multiple of 8 */
	__u16 cpu;	/* CPU the record was produced on; 0xffff when not known */
	__u16 flags;	/* CW_F_* */
	__u64 ts_ns;	/* CLOCK_MONOTONIC, ns */
	__u32 pid;	/* process (thread group) id of the task concerned */
	__u32 tid;	/* thread id of the task concerned */
};

/* cw_ev_lock.kind: what sort of lock */
#define CW_LOCK_MUTEX 1
#define CW_LOCK_RWLOCK 2
#define CW_LOCK_SPIN 3
#define CW_LOCK_COND 4		/* a condition variable (futex waits classified as cond_wait) */
#define CW_LOCK_KERNEL 5	/* a kernel lock (lock:contention_*) */
#define CW_LOCK_FUTEX 6		/* a futex word no libc code could be matched to */
#define CW_LOCK_SEM 7		/* a POSIX semaphore */
#define CW_LOCK_BARRIER 8	/* a pthread barrier */
#define CW_LOCK_LIBC 9		/* one of libc's own internal locks (malloc arenas, stdio...) */
#define CW_LOCK_THREAD 10	/* a thread being joined (pthread_join waits on its tid word) */
#define CW_LOCK_KIND_MAX 11	/* first unused value */

/*
 * Kinds whose waits are waiting for work or for an event, not for a lock someone holds:
 * an idle thread pool is not contention (never a contention_hotspot).
 */
#define CW_LOCK_WAITS_FOR_WORK(kind)                                                   \
	((kind) == CW_LOCK_COND || (kind) == CW_LOCK_SEM || (kind) == CW_LOCK_BARRIER || \
	 (kind) == CW_LOCK_THREAD)

/* cw_ev_lock.op: which operation */
#define CW_OP_LOCK 1		/* blocking acquire (mutex lock, spin lock) */
#define CW_OP_TRYLOCK 2		/* non-blocking acquire */
#define CW_OP_TIMEDLOCK 3	/* acquire with a timeout (timed*, clock*) */
#define CW_OP_RDLOCK 4		/* rwlock read acquire, blocking */
#define CW_OP_TRYRDLOCK 5
#define CW_OP_TIMEDRDLOCK 6
#define CW_OP_WRLOCK 7		/* rwlock write acquire, blocking */
#define CW_OP_TRYWRLOCK 8
#define CW_OP_TIMEDWRLOCK 9
#define CW_OP_UNLOCK 10
#define CW_OP_INIT 11
#define CW_OP_DESTROY 12
#define CW_OP_COND_WAIT 13	/* cond_wait released the mutex (RELEASED) or re-took it (ACQUIRED) */

/*
 * The attach cookie of a lock operation's probe (the BPF source): the kind and op of the
 * function probed. One program serves every function of a shape (acquire, release,
 * reset), so the kernel verifies it once, not once per function. For an SDT note the
 * low 32 bits say where the note's return address is (tools/lib/source/sdt.c).
 */
#define CW_PROBE_COOKIE(kind, op, low) \
	((__u64)(kind) << 32 | (__u64)(op) << 40 | (__u64)(__u32)(low))
#define CW_PROBE_COOKIE_KIND(c) ((__u8)((c) >> 32))
#define CW_PROBE_COOKIE_OP(c) ((__u8)((c) >> 40))
#define CW_PROBE_COOKIE_LOW(c) ((__u32)(c))

/*
 * What a probe hit costs depends on the instruction under it: the kernel emulates some
 * (branches, nops, push) and single-steps a copy of any other out of line, about ten times
 * dearer; a return probe adds a trip through the return trampoline. Bits 48-49 of a probe's
 * cookie say which, and its program counts its hits under it (cw_ev_cost.hits).
 */
#define CW_TRAP_EMULATED 0
#define CW_TRAP_STEPPED 1
#define CW_TRAP_RETURN 2
#define CW_TRAP_MAX 4		/* room in cw_ev_cost; consumers ignore kinds they do not know */
#define CW_PROBE_COOKIE_WITH_TRAP(c, trap) ((c) | (__u64)((trap) & 3) << 48)
#define CW_PROBE_COOKIE_TRAP(c) ((__u32)((c) >> 48) & 3)

/* cw_ev_lock.attr: the lock's attributes when known (init, or read from the lock word) */
#define CW_ATTR_RECURSIVE (1U << 0)
#define CW_ATTR_ERRORCHECK (1U << 1)
#define CW_ATTR_PI (1U << 2)		/* PTHREAD_PRIO_INHERIT */
#define CW_ATTR_PROTECT (1U << 3)	/* PTHREAD_PRIO_PROTECT */
#define CW_ATTR_ROBUST (1U << 4)
#define CW_ATTR_PSHARED (1U << 5)
#define CW_ATTR_WRITER_PREF (1U << 6)	/* rwlock prefers writers: read-read cycles can deadlock */
#define CW_ATTR_KNOWN (1U << 15)	/* the attribute bits above were actually read */

struct cw_ev_lock {
	struct cw_hdr hdr;
	__u64 addr;	/* the lock's address */
	__u64 ip;	/* caller: return address of the lock function */
	__u64 stack_id; /* cheap stack id of the call (CW_EV_STACK), 0 = none */
	__u64 wait_ns;	/* ACQUIRED: ns from BEGIN to return; RELEASED: ns held, 0 when the
			 * source does not measure it; else 0 */
	__s32 result;	/* ACQUIRED: 0 or the positive errno returned (EBUSY, ETIMEDOUT...) */
	__u16 attr;	/* CW_ATTR_* */
	__u8 kind;	/* CW_LOCK_* */
	__u8 op;	/* CW_OP_* */
	__u64 addr2;	/* COND_WAIT: the condition variable; an ACQUIRED that failed with
			 * EBUSY or ETIMEDOUT, from the kernel module: the holder's tid as
			 * the lock's memory names it (0: not said); else 0 */
};

/* cw_ev_futex.op for the calls that have no op word of their own */
#define CW_FUTEX_OP_WAITV 0xffffffffU	/* futex_waitv(2): a wait */
#define CW_FUTEX_OP_WAIT2 0xfffffffeU	/* futex_wait(2) (Linux 6.7): a wait; val: the
					 * expected value, val3: the bitset */
#define CW_FUTEX_OP_WAKE2 0xfffffffdU	/* futex_wake(2): val: how many, val3: the bitset */
#define CW_FUTEX_OP_REQUEUE2 0xfffffffcU /* futex_requeue(2): uaddr, uaddr2: the two words;
					 * val: how many to wake, val3: to requeue */

struct cw_ev_futex {
	struct cw_hdr hdr;
	__u64 uaddr;	/* futex word; futex_waitv: address of the waiter array */
	__u64 uaddr2;	/* second futex (requeue, wake_op, PI requeue), else 0 */
	__u64 timeout_ns; /* BEGIN: the timeout argument in ns, 0 = none: relative for
			   * FUTEX_WAIT, an absolute clock time for the others; END: 0 */
	__u64 wait_ns;	/* END: ns spent in the syscall */
	__u64 stack_id;	/* user stack of the call (CW_EV_STACK, CW_EV_USTACK_RAW), 0 = none */
	__u32 op;	/* full op word, FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME included */
	__u32 val;	/* val argument (expected value, or count to wake) */
	__u32 val3;	/* val3 argument (bitset, compare value) */
	__s32 result;	/* END: syscall return value, -errno on failure */
};

/*
 * Why a thread is off CPU (cw_ev_switch.reason, cw_ev_wakeup.reason, cw_ev_blocked.reason),
 * decided when it switches out, from what it is doing then.
 */
#define CW_OFFCPU_NONE 0
#define CW_OFFCPU_PREEMPTED 1	/* still runnable: preempted or yielded */
#define CW_OFFCPU_LOCK 2	/* blocked in a user-space lock acquire the uprobes saw begin */
#define CW_OFFCPU_FUTEX 3	/* blocked in a futex wait outside a probed acquire */
#define CW_OFFCPU_KLOCK 4	/* blocked on a kernel lock (lock:contention_begin) */
#define CW_OFFCPU_IO 5		/* other uninterruptible sleep: disk, page fault, ... */
#define CW_OFFCPU_SLEEP 6	/* other interruptible sleep: poll, read, nanosleep, ... */
#define CW_OFFCPU_MAX 7

struct cw_ev_switch {
	struct cw_hdr hdr;	/* pid/tid: the task switched out */
	__u64 prev_state;	/* prev task's __state (TASK_RUNNING = 0 means preempted) */
	__u64 wait_addr;	/* what prev blocks on: lock, futex word, kernel lock; 0 */
	__u32 next_pid;		/* 0 and 0: the next task is not traced (idle, another process) */
	__u32 next_tid;
	__s32 prev_prio;	/* kernel prio (0..139, lower is more important) */
	__s32 next_prio;
	__u32 prev_policy;	/* SCHED_* of prev */
	__u8 reason;		/* CW_OFFCPU_* of prev */
	__u8 pad[3];
};

/*
 * A traced task was woken (sched_waking: the current task is the waker, so its stack is
 * the waking code's: an unlock, a futex wake, a signal).
 */
struct cw_ev_wakeup {
	struct cw_hdr hdr;	/* pid/tid: the task woken */
	__u32 waker_pid;	/* task that did the wakeup, 0 from interrupt context */
	__u32 waker_tid;
	__u64 wait_addr;	/* what the wakee was blocked on (futex word, lock), 0 */
	__u64 waker_stack_id;	/* user stack of the waker, 0 = none taken */
	__u64 blocked_ns;	/* how long the wakee had been off CPU */
	__s32 prio;		/* woken task's kernel prio */
	__s32 target_cpu;	/* CPU it will run on */
	__u8 reason;		/* CW_OFFCPU_* the wakee was in */
	__u8 pad[7];
};

/* cw_ev_prio.reason */
#define CW_PRIO_SETSCHED 1	/* sched_setscheduler/setattr/nice */
#define CW_PRIO_PI_BOOST 2	/* rt_mutex priority inheritance raised it */
#define CW_PRIO_PI_UNBOOST 3	/* ... and took it back */

struct cw_ev_prio {
	struct cw_hdr hdr;	/* pid/tid: the task whose priority changed */
	__s32 old_prio;		/* kernel prio before */
	__s32 new_prio;		/* kernel prio after */
	__u32 policy;		/* SCHED_* after the change */
	__u32 reason;		/* CW_PRIO_* */
	__u32 donor_tid;	/* PI_BOOST: the waiter whose priority was lent, else 0 */
	__u32 pad;
};

/* cw_ev_pi.flags */
#define CW_PI_F_PREEMPTED (1U << 0)	/* the preemptor took the holder's CPU (next at its
					 * switch-out); else it is the task that ran last
					 * before the holder got a CPU back (prev at its
					 * switch-in) */
#define CW_PI_F_ONGOING (1U << 1)	/* the stretch goes on: sent by userspace from the
					 * kernel's state, duration so far; the stretch's
					 * final record (same start, ts_ns - duration_ns)
					 * replaces it */

/*
 * A priority inversion measured in the kernel: a real-time thread (high) waited in a
 * probed acquire on a lock held by a traced thread of lower priority (low, the record's
 * thread), and low was runnable but not running for duration_ns while it did: another
 * task (the preemptor, of any process) had its CPU. Sent when low gets a CPU back, if
 * duration_ns reached the source's threshold (--pi-threshold); one record per such
 * stretch (a holder preempted twice in one wait makes two). A PI mutex boosts the holder
 * at once (CW_EV_PRIO_CHANGE): then none.
 */
struct cw_ev_pi {
	struct cw_hdr hdr;	/* pid/tid: low, the holder; ts_ns: when it got a CPU back */
	__u64 addr;		/* the lock high waits on */
	__u64 wait_since_ns;	/* when high's wait on low began (its sleep in the acquire) */
	__u64 duration_ns;	/* runnable, not running, while high waited: up to ts_ns */
	__u32 high_tid;		/* the waiter (same process as low) */
	__s32 high_prio;	/* kernel prio (0..139, lower is more important) */
	__u32 high_policy;	/* SCHED_* */
	__s32 low_prio;		/* low's kernel prio while it was kept off its CPU */
	__u32 low_policy;
	__u32 preemptor_pid;	/* the task that had the CPU: its process, any process */
	__u32 preemptor_tid;
	__s32 preemptor_prio;
	__u32 preemptor_policy;
	__u32 flags;		/* CW_PI_F_* */
	char preemptor_comm[CW_COMM_LEN];
};

/* cw_ev_pi_stacks.flags */
#define CW_PI_STACKS_F_UNTRACED (1U << 0)	/* the preemptor's process is not traced: its
						 * stack is not taken (its modules are not
						 * known) */

/*
 * The user stacks of a priority inversion's stretch, sent right after its cw_ev_pi (kernel
 * or CW_PI_F_ONGOING) when a stack was taken or a flag is set: which stretch it completes
 * is said by the same pid, tid, ts_ns, addr, wait_since_ns and high_tid. The preemptor's
 * stack is taken only when it is the task that ran last before low got its CPU back (the
 * current task then: its own memory), of a traced process.
 */
struct cw_ev_pi_stacks {
	struct cw_hdr hdr;	/* pid/tid, ts_ns: the cw_ev_pi's (low, when it got a CPU back) */
	__u64 addr;		/* the lock, as the cw_ev_pi's */
	__u64 wait_since_ns;	/* as the cw_ev_pi's */
	__u64 low_stack_id;	/* low's user stack where it was kept off its CPU (at the
				 * preemption, else as it got its CPU back), 0 = not taken */
	__u64 preemptor_stack_id; /* the preemptor's user stack as it gave the CPU back to
				 * low (its process's stack id), 0 = not taken */
	__u32 high_tid;		/* as the cw_ev_pi's */
	__u32 flags;		/* CW_PI_STACKS_F_* */
};

struct cw_ev_klock {
	struct cw_hdr hdr;
	__u64 addr;		/* kernel lock address */
	__u64 kstack_id;	/* CW_EV_STACK with kernel frames, 0 = none */
	__u64 wait_ns;		/* END: ns since the matching BEGIN, 0 when not seen */
	__u32 lock_flags;	/* LCB_F_* from lock:contention_begin, and CW_KLOCK_F_* */
	__s32 result;		/* END: ret of lock:contention_end */
};

/* cw_ev_klock.lock_flags beside the kernel's LCB_F_* (bits 0-5 in Linux 6.1 to 6.18) */
#define CW_KLOCK_F_MMAP_LOCK (1U << 31)	/* the lock is the task's own mm->mmap_lock (no
					 * symbol names it: as CW_SITE_F_MMAP_LOCK) */

/* cw_ev_fork.flags */
#define CW_FORK_THREAD (1U << 0)	/* child shares the parent's address space (a thread) */

struct cw_ev_fork {
	struct cw_hdr hdr;	/* pid/tid: the parent */
	__u32 child_pid;
	__u32 child_tid;
	__u32 flags;		/* CW_FORK_* */
	__u32 pad;
};

struct cw_ev_exec {
	struct cw_hdr hdr;	/* pid/tid: the task after exec */
	__u32 old_tid;		/* tid before exec (differs when a non-leader thread execs) */
	__u16 filename_len;	/* bytes in filename, the terminating NUL included */
	__u16 pad;
	char filename[];	/* padded with NULs to a multiple of 8 */
};

struct cw_ev_exit {
	struct cw_hdr hdr;	/* pid/tid: the thread that exited */
	__s32 exit_code;	/* wait(2) status word of the task */
	__u32 group_dead;	/* 1 when this was the last thread of its process */
};

struct cw_ev_comm {
	struct cw_hdr hdr;	/* pid/tid: the thread named */
	char comm[CW_COMM_LEN];
};

struct cw_ev_mmap {
	struct cw_hdr hdr;
	__u64 start;		/* mapping start address */
	__u64 len;		/* bytes */
	__u64 pgoff;		/* file offset of start, in bytes */
	__u64 inode;
	__u32 dev;		/* st_dev of the file, major << 20 | minor */
	__u32 prot;		/* PROT_* */
	__u16 filename_len;	/* bytes in filename, NUL included */
	__u16 pad[3];
	char filename[];	/* padded with NULs to a multiple of 8 */
};

/* cw_ev_module.flags */
#define CW_MODULE_DELETED (1U << 0)	/* the file was deleted or replaced after it was mapped */

/*
 * A file the process maps executable, as userspace read it from /proc/PID/maps at
 * attach and again when a stack refers to an address no module covers yet (mmap,
 * dlopen, exec). With the build-id a report can unwind and name addresses later, from
 * a recording, on this machine or another: the same file is found by path and checked
 * by build-id, or the report says that it is missing.
 */
struct cw_ev_module {
	struct cw_hdr hdr;	/* pid: the process; tid: 0; flags: CW_F_SYNTHETIC */
	__u64 start;		/* first address of the executable mapping */
	__u64 end;		/* one past its last address */
	__u64 pgoff;		/* file offset mapped at start, in bytes */
	__u64 inode;
	__u32 dev;		/* st_dev of the file, major << 20 | minor */
	__u8 build_id_len;	/* bytes of build_id used; 0 when the file has none */
	__u8 flags;		/* CW_MODULE_* */
	__u16 path_len;		/* bytes in path, the terminating NUL included */
	__u8 build_id[20];	/* the GNU build-id note's bytes */
	__u32 pad;
	char path[];		/* as the process sees it; padded with NULs to a multiple of 8 */
};

/* cw_ev_edge.flags */
#define CW_EDGE_READ_FROM (1U << 0)	/* the held lock is held for reading */
#define CW_EDGE_READ_TO (1U << 1)	/* the new lock is taken for reading */
#define CW_EDGE_TRY (1U << 2)		/* the new lock was taken with a trylock */
#define CW_EDGE_ATTEMPT (1U << 3)	/* made as the acquire began to wait (as lockdep makes
					 * them), not once it returned: it may never have */

struct cw_ev_edge {
	struct cw_hdr hdr;	/* pid/tid: the thread that made the dependency */
	__u64 from_addr;	/* lock already held */
	__u64 to_addr;		/* lock being acquired while from_addr is held */
	__u64 from_ip;		/* where from_addr was acquired */
	__u64 to_ip;		/* where to_addr is being acquired */
	__u64 from_stack_id;	/* stack of the held acquisition, 0 = none */
	__u64 to_stack_id;	/* stack of this acquisition, 0 = none */
	__u64 gate_addr;	/* a lock held across both, outermost first; 0 = none */
	__u8 from_kind;		/* CW_LOCK_* */
	__u8 to_kind;
	__u16 from_attr;	/* CW_ATTR_* */
	__u16 to_attr;
	__u16 flags;		/* CW_EDGE_* */
};

/* Log2 histograms of nanoseconds: bucket i counts values in [2^i, 2^(i+1)), bucket 0 also
 * 0, the last one everything from 2^(CW_HIST_BUCKETS - 1) (2.1 s) up. */
#define CW_HIST_BUCKETS 32

/* cw_ev_lock_stats.what: whose figures, keyed how */
#define CW_SITE_ACQUIRE 1	/* acquisitions of a user-space lock (uprobes) from a call path */
#define CW_SITE_FUTEX 2		/* one thread's blocking futex calls on a word, from a call path */
#define CW_SITE_KLOCK 3		/* contentions on a kernel lock, from a kernel call path */
#define CW_SITE_WAKE 4		/* one thread waking waiters of addr, from a call path: whose
				 * release (unlock, futex wake) ended their waits */
#define CW_SITE_TRY 5		/* one thread's failed attempts on a user-space lock (trylock:
				 * EBUSY, timed acquire: ETIMEDOUT), keyed per (thread, lock):
				 * failures; acquisitions: the lock taken by that thread since
				 * its first failure on it (any acquire, any call path);
				 * stack_id, ip, op, owner_tid: of the latest failure (owner:
				 * the holder the lock word said then, 0 = not said);
				 * wait_*: the timed-out acquires' waits. Livelocks */

/* cw_ev_lock_stats.flags */
#define CW_SITE_F_MMAP_LOCK (1U << 0)	/* KLOCK: the lock is the task's own mm->mmap_lock */
#define CW_SITE_F_NO_STACK (1U << 1)	/* the call path's stack could not be taken */

/* FUTEX waits by how they ended (cw_ev_lock_stats.outcomes[]) */
#define CW_FUTEX_WOKEN 0	/* returned 0: woken, or the PI lock taken */
#define CW_FUTEX_TIMEDOUT 1	/* -ETIMEDOUT */
#define CW_FUTEX_EAGAIN 2	/* -EAGAIN: the word had changed, no sleep */
#define CW_FUTEX_EINTR 3	/* -EINTR or another error */
#define CW_FUTEX_OUTCOMES 4

/*
 * Figures a source aggregated over an interval per (process, [thread,] object, call
 * path, what): deltas since the previous record of the same key, except the maxima,
 * which are since the start. The hot path sends nothing; userspace reads the sums.
 */
struct cw_ev_lock_stats {
	struct cw_hdr hdr;	/* ts_ns: end of the interval; pid: process; tid: the thread
				 * for CW_SITE_FUTEX, CW_SITE_WAKE and CW_SITE_TRY, else 0 */
	__u64 addr;		/* the lock, the futex word, the kernel lock */
	__u64 ip;		/* ACQUIRE: return address of the acquire; else 0 */
	__u64 stack_id;		/* the call path (kernel stack for KLOCK), 0 = none */
	__u64 interval_ns;	/* length of the interval the counts cover */
	__u64 acquisitions;	/* ACQUIRE: successful acquisitions; FUTEX: blocking calls;
				 * KLOCK: contentions; WAKE: waiting threads woken */
	__u64 contentions;	/* ACQUIRE: acquisitions that blocked; FUTEX: calls that slept
				 * (not EAGAIN); KLOCK: as acquisitions; WAKE: as acquisitions */
	__u64 failures;		/* ACQUIRE: trylocks that found it busy, timed-out acquires;
				 * FUTEX: timed-out waits */
	__u64 wait_ns_total;	/* WAKE: the waiting the woken threads had done */
	__u64 wait_ns_max;
	__u64 hold_ns_total;	/* ACQUIRE: time held */
	__u64 hold_ns_max;
	__u32 owner_tid;	/* FUTEX: the holder the word said at the latest wait (a glibc
				 * mutex's __owner, a PI futex's TID bits), 0 = none; userspace
				 * trusts it only for a live thread of the process */
	__u32 op;		/* FUTEX: the op word of the latest wait; KLOCK: LCB_F_* flags */
	__u32 outcomes[CW_FUTEX_OUTCOMES];	/* FUTEX: calls by CW_FUTEX_* */
	__u8 what;		/* CW_SITE_* */
	__u8 kind;		/* CW_LOCK_* (FUTEX: CW_LOCK_FUTEX, userspace classifies) */
	__u16 attr;		/* CW_ATTR_* when known */
	__u32 flags;		/* CW_SITE_F_* */
	__u32 wait_hist[CW_HIST_BUCKETS];	/* the waits of this interval, log2 ns */
};

/*
 * One thread's scheduling since it was first traced, cumulative: the figures a source
 * keeps per thread in the kernel, sent each tick for the threads that ran. The off-CPU
 * time is split by CW_OFFCPU_* reason.
 */
struct cw_ev_thread_stats {
	struct cw_hdr hdr;	/* pid/tid: the thread; ts_ns: when read */
	__u64 since_ns;		/* when its accounting began (first switch seen) */
	__u64 oncpu_ns;
	__u64 offcpu_ns[CW_OFFCPU_MAX];	/* [CW_OFFCPU_PREEMPTED]: runnable, waiting for a CPU
					 * (preempted, or woken and not yet running);
					 * [CW_OFFCPU_NONE]: not known why */
	__u64 runq_ns_max;	/* longest wait for a CPU */
	__u64 nr_voluntary;	/* switches out while blocking */
	__u64 nr_involuntary;	/* switches out while runnable */
	__u64 nr_wakeups;	/* times woken */
	__u64 trylock_failures;	/* trylocks that found the lock busy and timed acquires that
				 * timed out (uprobes) */
	__u64 cpus_allowed;	/* affinity mask of CPUs 0..63 */
	__u32 nr_cpus_allowed;
	__u32 policy;		/* SCHED_* */
	__s32 prio;		/* kernel prio now (0..139; a PI boost shows here) */
	__s32 normal_prio;	/* prio without boosting */
	__u32 rt_priority;	/* 1..99 for SCHED_FIFO/RR */
	__s32 nice;
	__u32 runq_hist[CW_HIST_BUCKETS];	/* run-queue latency, log2 ns */
};

/*
 * What a thread is doing now and since when, as the scheduler's tracepoints saw it: on a
 * CPU, or off one and why. Sent by a tracing source with the thread_stats record it goes
 * with, when the state or its start changed: the time a thread has been in any state,
 * not only in a traced wait.
 */
struct cw_ev_thread_state {
	struct cw_hdr hdr;	/* pid/tid: the thread; ts_ns: when read */
	__u64 since_ns;		/* when it entered the state */
	__u64 wait_addr;	/* off a CPU: what it waits on (lock, futex word, kernel lock),
				 * 0: nothing known */
	__u8 state;		/* CW_OFFCPU_NONE: on a CPU; else the CW_OFFCPU_* it is off
				 * one for (CW_OFFCPU_PREEMPTED: runnable) */
	__u8 pad[7];
};

/*
 * Event loops. A thread that waits for events in epoll_wait(2), epoll_pwait(2),
 * epoll_pwait2(2), poll(2), ppoll(2), select(2), pselect6(2) or io_uring_enter(2) with
 * IORING_ENTER_GETEVENTS (its loop wait) runs its loop's work between two of them: one
 * iteration, from the return of a wait to the next wait's entry. An iteration at least
 * the stall threshold long (--stall-threshold) is a stall, sent when it ends (the next
 * wait), and while it goes on by userspace, each tick, with CW_LOOP_F_ONGOING and the
 * duration so far (the record that ends it has the same start).
 */
#define CW_LOOP_F_ONGOING (1U << 0)	/* the stall goes on: sent by userspace */
#define CW_LOOP_F_ONCPU (1U << 1)	/* oncpu_ns is known (the scheduler was traced) */

struct cw_ev_loop_stall {
	struct cw_hdr hdr;	/* pid/tid: the loop's thread; ts_ns: the stall's end (the
				 * next wait's entry), or when it was read going on */
	__u64 start_ns;		/* the return of the wait before it */
	__u64 duration_ns;
	__u64 oncpu_ns;		/* of it, on a CPU (CW_LOOP_F_ONCPU) */
	__u32 wait_nr;		/* the system call of the wait it came from (x86-64 number) */
	__u32 flags;		/* CW_LOOP_F_* */
};

/*
 * An event loop thread's figures so far, cumulative (read by userspace from the
 * programs' per-thread table): waits, iterations measured (a return followed by the next
 * entry), their time, the longest, and a log2 histogram of their lengths (bucket i:
 * [2^i, 2^(i+1)) ns, as cw_hist_bucket()).
 */
struct cw_ev_loop_stats {
	struct cw_hdr hdr;	/* pid/tid: the thread; ts_ns: when read */
	__u64 waits;		/* loop waits entered */
	__u64 iterations;
	__u64 busy_ns_total;	/* the iterations' time */
	__u64 busy_ns_max;
	__u64 wait_ns_total;	/* time in the waits */
	__u64 stalls;		/* iterations at least the stall threshold long */
	__u32 wait_nr;		/* the system call of its latest wait */
	__u8 in_wait;		/* in a wait now */
	__u8 pad[3];
	__u32 busy_hist[CW_HIST_BUCKETS];
	/* appended (2026-12-07; the minimum size stays 208, an older source's record reads
	 * 0 here): the iteration going on, its wait's return; 0 in a wait */
	__u64 iter_start_ns;
};

/*
 * An event loop's thread went off its CPU in the middle of an iteration (not in its loop
 * wait) and stayed off at least the block threshold (--block-threshold): sent when it
 * got a CPU back. What it blocked in is what the scheduler saw at the switch-out: the
 * reason (a lock, a futex word, a kernel lock, I/O, a sleep), the system call in progress
 * and the user stack there.
 */
struct cw_ev_loop_block {
	struct cw_hdr hdr;	/* pid/tid: the loop's thread; ts_ns: back on a CPU */
	__u64 start_ns;		/* switched out */
	__u64 duration_ns;	/* off its CPU, run-queue time after the wakeup included */
	__u64 iter_start_ns;	/* the iteration it blocked in: its wait's return (a
				 * stall's start_ns when the iteration became one) */
	__u64 addr;		/* the lock, futex word or kernel lock waited on; 0: none */
	__u64 stack_id;		/* user stack at the switch-out; 0: none */
	__u32 nr;		/* the system call in progress (x86-64 number), ~0: none
				 * (a page fault) */
	__u32 owner_tid;	/* the lock's holder when known, else 0 */
	__u8 reason;		/* CW_OFFCPU_* (never _NONE or _PREEMPTED) */
	__u8 pad[7];
};

/*
 * A sample of an event loop's thread on a CPU in a long iteration (at least half the
 * stall threshold so far), from a software clock: its user stack then. A sample taken
 * while the thread ran in the kernel has the user registers it entered the kernel with.
 * The samples of an iteration that became a stall say where the stall was.
 */
#define CW_LOOP_SAMPLE_F_KERNEL (1U << 0)	/* the thread ran in the kernel */

struct cw_ev_loop_sample {
	struct cw_hdr hdr;	/* pid/tid: the loop's thread; ts_ns: the sample */
	__u64 iter_start_ns;	/* the iteration: its wait's return */
	__u64 stack_id;		/* user stack; 0: none could be read */
	__u32 flags;		/* CW_LOOP_SAMPLE_F_* */
	__u32 pad;
};

/*
 * A thread blocked in a wait (an acquire, a futex wait, a kernel lock): what the wait-for
 * graph is built from. Sent by a tracing source when a probed acquire blocks (its futex
 * wait begins), and again with reason CW_OFFCPU_NONE when that wait ended (the acquire
 * returned: acquired, or failed); by a source that looks at a process without tracing it
 * (`concwatch deadlock -p`, or threads found blocked at attach) with CW_F_SYNTHETIC, one
 * per thread it found blocked, since_ns 0. Such a source also sends reason
 * CW_OFFCPU_SLEEP or _IO for a thread blocked in another system call (addr 0, futex_op
 * the system call's number, ~0 when none): a lock holder that waits outside the process.
 */
struct cw_ev_blocked {
	struct cw_hdr hdr;	/* pid/tid: the blocked thread */
	__u64 addr;		/* the lock or futex word waited on; 0: none (SLEEP, IO);
				 * NONE: the lock whose wait ended (0: not said) */
	__u64 since_ns;		/* when the wait began, 0 = not known (found by looking) */
	__u64 stack_id;		/* user stack of the wait, 0 = none */
	__u32 owner_tid;	/* the holder as the lock word says, 0 = not known */
	__u8 reason;		/* CW_OFFCPU_LOCK, _FUTEX, _KLOCK; _SLEEP, _IO (found by
				 * looking); CW_OFFCPU_NONE: the thread's wait ended */
	__u8 kind;		/* CW_LOCK_* when known */
	__u8 op;		/* CW_OP_* of an acquire, else 0 */
	__u8 pad;
	__u32 futex_op;		/* CW_OFFCPU_FUTEX: the op word; SLEEP, IO: the system call
				 * number (~0: none) */
	__u32 readers;		/* kind CW_LOCK_RWLOCK: the readers holding it as its memory
				 * says (they leave no tid), 0 = none or not known */
};

/* cw_ev_stack.space */
#define CW_STACK_USER 1
#define CW_STACK_KERNEL 2

/* cw_ev_stack.flags and cw_ev_ustack_raw.flags */
#define CW_STACK_TRUNCATED (1U << 0)	/* the walk or copy hit its limit */
#define CW_STACK_FAULTED (1U << 1)	/* reading memory failed part way */

struct cw_ev_stack {
	struct cw_hdr hdr;	/* pid/tid: the thread whose stack this is */
	__u64 stack_id;		/* the id events refer to; unique per (pid, space) */
	__u16 space;		/* CW_STACK_* */
	__u16 nr;		/* entries in ips */
	__u16 flags;		/* CW_STACK_TRUNCATED, CW_STACK_FAULTED */
	__u16 pad;
	__u64 ips[];		/* innermost first; return addresses except ips[0] */
};

struct cw_ev_ustack_raw {
	struct cw_hdr hdr;	/* pid/tid: the thread whose stack this is */
	__u64 stack_id;		/* the stack id of the events it belongs to (as CW_EV_STACK's) */
	__u64 ip;		/* user registers at the probe */
	__u64 sp;
	__u64 bp;
	__u32 len;		/* bytes copied from sp upwards */
	__u16 flags;		/* CW_STACK_TRUNCATED, CW_STACK_FAULTED */
	__u16 pad;
	__u8 data[];		/* padded with zeroes to a multiple of 8 */
};

struct cw_ev_tick {
	struct cw_hdr hdr;	/* pid/tid: 0 */
	__u64 seq;		/* increments by one per tick of this source */
	__u64 interval_ns;	/* nominal time between ticks */
};

/* cw_ev_cost.flags */
#define CW_COST_CALIBRATED (1U << 0)	/* hit_ns[] holds this host's calibrated costs */
#define CW_COST_BPF_STATS (1U << 1)	/* bpf_run_* and tp_run_* are measured (kernel BPF
					 * statistics on) */

/*
 * What tracing has cost the target so far, sent by a source that measures it
 * (the dashboard asks for it), each tick: running totals, so that a lost record costs
 * nothing but resolution. Probe hits by CW_TRAP_* times each kind's per-hit cost, as
 * calibrated at start on probes of concwatch's own (tools/lib/source/cost.h), plus the
 * run time of its probe programs, are the cost to the target; its tracepoint programs'
 * run time is a cost to the whole machine. engine/cost.h turns two of them into rates.
 */
struct cw_ev_cost {
	struct cw_hdr hdr;		/* pid/tid: 0; ts_ns: when the totals were read */
	__u64 start_ns;			/* when counting began */
	__u64 hits[CW_TRAP_MAX];	/* probe hits so far, by CW_TRAP_* */
	__u64 bpf_run_ns;		/* the run time so far of the source's probe programs,
					 * which run in the target's threads */
	__u64 bpf_runs;			/* ... and their runs */
	__u64 tp_run_ns;		/* the same of its tracepoint programs, which run for
					 * every task of the machine (most return at once) */
	__u64 tp_runs;
	__u32 hit_ns[CW_TRAP_MAX];	/* cost of one hit of each kind here, ns */
	__u32 flags;			/* CW_COST_* */
	__u32 budget_ppm;		/* the budget tracing was governed by (--max-overhead),
					 * in millionths of the target's CPU time; 0: none */
	__u64 target_cpu_ns;		/* the targets' CPU time so far (their user and system
					 * time, as the kernel accounts it), the traps' and
					 * programs' time in it included; 0: not known. Not in
					 * the records of older sources (120 bytes): read it
					 * only from a longer one */
};

/* cw_ev_lost.what */
#define CW_LOST_RINGBUF 1	/* ring buffer full: records not reserved */
#define CW_LOST_MAP_FULL 2	/* a tracking map had no room: state for some operations missing */
#define CW_LOST_HELD_OVERFLOW 3 /* a thread held more locks than the held set holds */
#define CW_LOST_READER_BEHIND 4 /* kmod: the reader fell behind and records were overwritten */
#define CW_LOST_STACK 5		/* a stack could not be captured or stored */
#define CW_LOST_MALFORMED 6	/* a record failed its checks and was dropped */
#define CW_LOST_MAX 7		/* first unused value; consumers count unknown kinds as losses too */

struct cw_ev_lost {
	struct cw_hdr hdr;	/* ts_ns: when the loss was noticed; pid/tid: 0 */
	__u64 count;		/* records (or operations) lost since the previous CW_EV_LOST of this kind */
	__u32 what;		/* CW_LOST_* */
	__u16 lost_type;	/* record type lost when known, else CW_EV_NONE */
	__u16 pad;
};

#define CW_SIZE_ASSERT(type, bytes)                                                     \
	_Static_assert(sizeof(struct type) == (bytes), #type " size changed: bump the ABI"); \
	_Static_assert(sizeof(struct type) % 8 == 0, #type " is not a multiple of 8 bytes")

CW_SIZE_ASSERT(cw_hdr, 24);
CW_SIZE_ASSERT(cw_ev_lock, 72);
CW_SIZE_ASSERT(cw_ev_futex, 80);
CW_SIZE_ASSERT(cw_ev_switch, 64);
CW_SIZE_ASSERT(cw_ev_wakeup, 72);
CW_SIZE_ASSERT(cw_ev_prio, 48);
CW_SIZE_ASSERT(cw_ev_klock, 56);
CW_SIZE_ASSERT(cw_ev_fork, 40);
CW_SIZE_ASSERT(cw_ev_exec, 32);
CW_SIZE_ASSERT(cw_ev_exit, 32);
CW_SIZE_ASSERT(cw_ev_comm, 40);
CW_SIZE_ASSERT(cw_ev_mmap, 72);
CW_SIZE_ASSERT(cw_ev_edge, 88);
CW_SIZE_ASSERT(cw_ev_lock_stats, 272);
CW_SIZE_ASSERT(cw_ev_thread_stats, 296);
CW_SIZE_ASSERT(cw_ev_blocked, 64);
CW_SIZE_ASSERT(cw_ev_pi, 104);
CW_SIZE_ASSERT(cw_ev_pi_stacks, 64);
CW_SIZE_ASSERT(cw_ev_stack, 40);
CW_SIZE_ASSERT(cw_ev_ustack_raw, 64);
CW_SIZE_ASSERT(cw_ev_tick, 40);
CW_SIZE_ASSERT(cw_ev_lost, 40);
CW_SIZE_ASSERT(cw_ev_module, 88);
CW_SIZE_ASSERT(cw_ev_cost, 128);
CW_SIZE_ASSERT(cw_ev_thread_state, 48);
CW_SIZE_ASSERT(cw_ev_loop_stall, 56);
CW_SIZE_ASSERT(cw_ev_loop_stats, 216);
CW_SIZE_ASSERT(cw_ev_loop_block, 80);
CW_SIZE_ASSERT(cw_ev_loop_sample, 48);

/* The CW_HIST_BUCKETS bucket of a value in ns. */
static inline __u32 cw_hist_bucket(__u64 ns)
{
	__u32 b = 0;

	while (ns > 1 && b < CW_HIST_BUCKETS - 1) {
		ns >>= 1;
		b++;
	}
	return b;
}

/*
 * Whether a cw_ev_futex op can block: the futex(2) ops that wait (FUTEX_WAIT, LOCK_PI,
 * WAIT_BITSET, WAIT_REQUEUE_PI, LOCK_PI2, private or not), futex_waitv(2) and
 * futex_wait(2); not the wakes and requeues.
 */
static inline int cw_futex_op_blocks(__u32 op)
{
	__u32 cmd = op & 0x7f;

	if (op == CW_FUTEX_OP_WAITV || op == CW_FUTEX_OP_WAIT2)
		return 1;
	if (op >= 0xfffffff0U)
		return 0;	/* the other made-up op words: wake, requeue */
	return cmd == 0 || cmd == 6 || cmd == 9 || cmd == 11 || cmd == 13;
}

/* Round a variable record's size up to the ABI's 8-byte multiple. */
#define CW_RECORD_ALIGN(n) (((n) + 7) & ~7U)

#endif /* __CONCWATCH_EVENTS_H */
