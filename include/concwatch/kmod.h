/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The kernel module's device, /dev/concwatch: what userspace (tools/lib/source/kmod.c)
 * and the module (kmod/) agree on besides the records of events.h.
 *
 * The module traces the processes in its target set: one ioctl sets the set (a process,
 * and its children as they are forked), one adds a process, one removes one; START turns
 * the event classes on, STOP off. read() returns whole records, as many as fit, from
 * per-CPU rings, each ring in time order (the reader merges the rings by ts_ns); a record
 * that does not fit the buffer stays for the next read (a buffer smaller than one record:
 * -EINVAL). Records a full ring could not take are counted per CPU and come to the
 * reader, before the next records, as one CW_EV_LOST (CW_LOST_RINGBUF) with the exact
 * count. poll() says readable when a ring holds a record; an O_NONBLOCK read of empty
 * rings returns -EAGAIN, a blocking one waits. One open at a time (-EBUSY).
 *
 * The process class is always on: the target set follows forks (CW_KMOD_T_CHILDREN) and
 * exits through it, and a process leaves the set when its last thread exits.
 *
 * User-space lock calls come from uprobes that userspace places (ADD_PROBE): a library
 * as an open fd, the file offset of the probed instruction, and what the probe's handler
 * does there (CW_KMOD_P_*), the same places and the same handlers as the BPF programs'
 * (tools/lib/source/bpf/probes.c, bpf/concwatch.bpf.c). A probe is registered while the
 * CW_KMOD_C_ULOCK class is on (at once when it is on already), with a filter that lets
 * only the target set's memory take the trap; a change of the target set while they are
 * registered registers them again. CLEAR_PROBES removes every probe (not while tracing).
 * The lock rules (include/concwatch/lockrules.h) run in the module: it sends each new
 * dependency (CW_EV_LOCK_EDGE) once per process, CW_EV_BLOCKED as an acquire sleeps and
 * returns, and every lock operation as a CW_EV_LOCK_* record (an ACQUIRED one carries
 * CW_F_CONTENDED when the acquire slept on the lock), from which userspace counts the
 * statistics the BPF programs keep in maps. New call paths come as CW_EV_STACK and, with
 * start.stack_bytes, CW_EV_USTACK_RAW records.
 *
 * Errors: -EINVAL for an unknown flag, class or shape, a pid < 0 (0 only to empty the set
 * with SET), a probe fd that is not a regular file, an offset past its end; -EBADF for a
 * probe fd that is not open; -ESRCH for a pid that names no process (REMOVE: none in the
 * set); -ENOSPC when the set or the probe table is full; -EOPNOTSUPP to START a class
 * this kernel lacks; -EBUSY to START twice, or to CLEAR_PROBES while tracing; -ENOTTY for
 * an unknown command. Nothing changes when an ioctl fails.
 */
#ifndef __CONCWATCH_KMOD_H
#define __CONCWATCH_KMOD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CW_KMOD_DEVICE "/dev/concwatch"
#define CW_KMOD_IOC_MAGIC 0xC7	/* unused in Documentation/userspace-api/ioctl/ioctl-number.rst */

/* Event classes (cw_kmod_info.classes, cw_kmod_start.classes) */
#define CW_KMOD_C_PROC (1ULL << 0)	/* CW_EV_FORK, _EXEC, _EXIT, _COMM */
#define CW_KMOD_C_SCHED (1ULL << 1)	/* CW_EV_SCHED_SWITCH, _WAKEUP, CW_EV_PRIO_CHANGE,
					 * CW_EV_PRIO_INVERSION (with ULOCK) */
#define CW_KMOD_C_FUTEX (1ULL << 2)	/* CW_EV_FUTEX_BEGIN, _END */
#define CW_KMOD_C_KLOCK (1ULL << 3)	/* CW_EV_KLOCK_BEGIN, _END (Linux 5.19) */
#define CW_KMOD_C_ULOCK (1ULL << 4)	/* CW_EV_LOCK_*, _EDGE, CW_EV_BLOCKED (the probes) */
#define CW_KMOD_C_ALL (CW_KMOD_C_PROC | CW_KMOD_C_SCHED | CW_KMOD_C_FUTEX | CW_KMOD_C_KLOCK | \
		       CW_KMOD_C_ULOCK)

struct cw_kmod_info {
	__u32 abi_version;	/* CW_ABI_VERSION of the records */
	__u32 nr_rings;		/* one per possible CPU */
	__u64 ring_bytes;	/* the size of each */
	__u64 classes;		/* CW_KMOD_C_* this kernel lets the module trace */
	__u32 max_targets;	/* processes in the target set at most */
	__u32 max_threads;	/* threads with a call in progress tracked at once */
};

/* cw_kmod_target.flags */
#define CW_KMOD_T_CHILDREN (1U << 0)	/* the processes it forks from now on join the set */

struct cw_kmod_target {
	__s32 pid;		/* a process (thread group) id; SET: 0 empties the set */
	__u32 flags;		/* CW_KMOD_T_* */
};

/* cw_kmod_start.flags */
#define CW_KMOD_S_LOCK_BEGIN (1ULL << 0)	/* a CW_EV_LOCK_BEGIN record per blocking acquire
						 * too (--raw-events) */

struct cw_kmod_start {
	__u64 classes;		/* CW_KMOD_C_*: what to trace, a subset of the info's */
	__u64 flags;		/* CW_KMOD_S_* */
	__u32 stack_bytes;	/* user stack copied per new call path (CW_EV_USTACK_RAW),
				 * a multiple of 8 up to CW_KMOD_STACK_BYTES_MAX; 0: none */
	__u32 fp_depth;		/* frame-pointer frames walked for a call path's id, up to
				 * 30; 0: 16 */
	__u64 pi_threshold_ns;	/* priority inversions shorter than this are not sent
				 * (CW_EV_PRIO_INVERSION); 0: 1 ms */
};

#define CW_KMOD_STACK_BYTES_MAX 32768

/* cw_kmod_probe.shape: what the handler does, as the BPF program of the same name */
#define CW_KMOD_P_ACQUIRE 1	/* uprobe_acquire: %rdi the lock; cookie: kind, op */
#define CW_KMOD_P_RELEASE 2	/* uprobe_release: %rdi the lock; cookie: kind */
#define CW_KMOD_P_RESET 3	/* uprobe_reset: init or destroy of %rdi; cookie: kind, op */
#define CW_KMOD_P_COND_WAIT 4	/* uprobe_cond_wait: %rdi the condvar, %rsi its mutex */
#define CW_KMOD_P_SPIN_TAKEN 5	/* uprobe_pthread_spin_lock: %rdi just taken, no wait */

/* cw_kmod_probe.flags */
#define CW_KMOD_P_RET (1U << 0)	/* a return probe at the same place: the acquire's end
				 * (ACQUIRE, COND_WAIT; the place must have the return
				 * address at [%rsp]) */

struct cw_kmod_probe {
	__s32 fd;		/* the library (or executable), open for reading */
	__u32 shape;		/* CW_KMOD_P_* */
	__u64 offset;		/* file offset of the probed instruction */
	__u64 cookie;		/* CW_PROBE_COOKIE(kind, op, 0) (events.h) */
	__u32 flags;		/* CW_KMOD_P_* flags */
	__u32 pad;		/* 0 */
};

#define CW_KMOD_MAX_PROBES 64

/* What went through the module since it was opened, for the source's statistics. */
struct cw_kmod_stats {
	__u64 records;		/* written to the rings */
	__u64 lost;		/* not written: a ring was full */
	__u64 lost_threads;	/* a call in progress not tracked: the thread table was full */
	__u64 probe_hits;	/* uprobe handler runs in target processes (each a trap) */
	__u64 lost_held;	/* locks not added to a thread's held set: it was full */
	__u64 lost_stacks;	/* user stacks not read (a fault) */
};

#define CW_KMOD_INFO _IOR(CW_KMOD_IOC_MAGIC, 1, struct cw_kmod_info)
#define CW_KMOD_SET_TARGET _IOW(CW_KMOD_IOC_MAGIC, 2, struct cw_kmod_target)
#define CW_KMOD_ADD_TARGET _IOW(CW_KMOD_IOC_MAGIC, 3, struct cw_kmod_target)
#define CW_KMOD_REMOVE_TARGET _IOW(CW_KMOD_IOC_MAGIC, 4, struct cw_kmod_target)
#define CW_KMOD_START _IOW(CW_KMOD_IOC_MAGIC, 5, struct cw_kmod_start)
#define CW_KMOD_STOP _IO(CW_KMOD_IOC_MAGIC, 6)
#define CW_KMOD_STATS _IOR(CW_KMOD_IOC_MAGIC, 7, struct cw_kmod_stats)
#define CW_KMOD_ADD_PROBE _IOW(CW_KMOD_IOC_MAGIC, 8, struct cw_kmod_probe)
#define CW_KMOD_CLEAR_PROBES _IO(CW_KMOD_IOC_MAGIC, 9)

#endif /* __CONCWATCH_KMOD_H */
