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
 * Errors: -EINVAL for an unknown flag or class, a pid < 0 (0 only to empty the set with
 * SET); -ESRCH for a pid that names no process (REMOVE: none in the set); -ENOSPC when
 * the set is full; -EOPNOTSUPP to START a class this kernel lacks; -EBUSY to START
 * twice; -ENOTTY for an unknown command. Nothing changes when an ioctl fails.
 */
#ifndef __CONCWATCH_KMOD_H
#define __CONCWATCH_KMOD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CW_KMOD_DEVICE "/dev/concwatch"
#define CW_KMOD_IOC_MAGIC 0xC7	/* unused in Documentation/userspace-api/ioctl/ioctl-number.rst */

/* Event classes (cw_kmod_info.classes, cw_kmod_start.classes) */
#define CW_KMOD_C_PROC (1ULL << 0)	/* CW_EV_FORK, _EXEC, _EXIT, _COMM */
#define CW_KMOD_C_SCHED (1ULL << 1)	/* CW_EV_SCHED_SWITCH, _WAKEUP, CW_EV_PRIO_CHANGE */
#define CW_KMOD_C_FUTEX (1ULL << 2)	/* CW_EV_FUTEX_BEGIN, _END */
#define CW_KMOD_C_KLOCK (1ULL << 3)	/* CW_EV_KLOCK_BEGIN, _END (Linux 5.19) */
#define CW_KMOD_C_ALL (CW_KMOD_C_PROC | CW_KMOD_C_SCHED | CW_KMOD_C_FUTEX | CW_KMOD_C_KLOCK)

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

struct cw_kmod_start {
	__u64 classes;		/* CW_KMOD_C_*: what to trace, a subset of the info's */
	__u64 flags;		/* none yet: 0 */
};

/* What went through the module since it was opened, for the source's statistics. */
struct cw_kmod_stats {
	__u64 records;		/* written to the rings */
	__u64 lost;		/* not written: a ring was full */
	__u64 lost_threads;	/* a call in progress not tracked: the thread table was full */
};

#define CW_KMOD_INFO _IOR(CW_KMOD_IOC_MAGIC, 1, struct cw_kmod_info)
#define CW_KMOD_SET_TARGET _IOW(CW_KMOD_IOC_MAGIC, 2, struct cw_kmod_target)
#define CW_KMOD_ADD_TARGET _IOW(CW_KMOD_IOC_MAGIC, 3, struct cw_kmod_target)
#define CW_KMOD_REMOVE_TARGET _IOW(CW_KMOD_IOC_MAGIC, 4, struct cw_kmod_target)
#define CW_KMOD_START _IOW(CW_KMOD_IOC_MAGIC, 5, struct cw_kmod_start)
#define CW_KMOD_STOP _IO(CW_KMOD_IOC_MAGIC, 6)
#define CW_KMOD_STATS _IOR(CW_KMOD_IOC_MAGIC, 7, struct cw_kmod_stats)

#endif /* __CONCWATCH_KMOD_H */
