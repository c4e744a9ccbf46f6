// SPDX-License-Identifier: GPL-2.0
/*
 * concwatch kernel module: the event source for kernels where BPF is not available.
 *
 * /dev/concwatch (include/concwatch/kmod.h) lets one reader at a time set the processes
 * to trace and the event classes, start and stop tracing, and read the records the
 * probes (concwatch_trace.c) write into per-CPU rings (concwatch_ring.c). The reader
 * holds a reference on the module while the device is open, so rmmod fails until it
 * closes; closing stops tracing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/uaccess.h>

#include <concwatch/events.h>
#include <concwatch/kmod.h>

#include "concwatch.h"
#include "concwatch_rules.h"

/* At least two records of the largest size fit; at most 256 MiB with 4 KiB pages. */
#define CW_RING_PAGES_MIN 32U
#define CW_RING_PAGES_MAX 65536U
#define CW_THREADS_MIN 64U
#define CW_THREADS_MAX ((unsigned int)BIT(22))

static unsigned int ring_pages = 256;
module_param(ring_pages, uint, 0444);
MODULE_PARM_DESC(ring_pages,
		 "Size of each CPU's record ring in pages, a power of two (default 256)");

static unsigned int max_threads = 16384;
module_param(max_threads, uint, 0444);
MODULE_PARM_DESC(max_threads,
		 "Threads whose calls in progress are tracked at once, a power of two (default 16384)");

static struct {
	/* One reader at a time: records are consumed, two readers would each see half. */
	unsigned long busy;
	struct mutex ctl;	/* the target set and the probes: one ioctl at a time */
	struct mutex read;	/* one read() at a time: the rings have one consumer */
	bool started;
} cw_dev;

static int cw_open(struct inode *inode, struct file *file)
{
	if (test_and_set_bit_lock(0, &cw_dev.busy))
		return -EBUSY;
	/* nothing writes: what the last reader left is dropped */
	cw_rings_reset();
	return nonseekable_open(inode, file);
}

static void cw_stop(void)
{
	if (!cw_dev.started)
		return;
	cw_trace_stop();
	cw_dev.started = false;
}

static int cw_release(struct inode *inode, struct file *file)
{
	mutex_lock(&cw_dev.ctl);
	cw_stop();
	cw_targets_set(0, 0);
	/* the next reader places its own */
	cw_uprobes_clear();
	mutex_unlock(&cw_dev.ctl);
	clear_bit_unlock(0, &cw_dev.busy);
	return 0;
}

static ssize_t cw_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	ssize_t n;

	for (;;) {
		if (mutex_lock_interruptible(&cw_dev.read))
			return -ERESTARTSYS;
		n = cw_rings_read(buf, count);
		mutex_unlock(&cw_dev.read);
		if (n)
			return n;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(cw_readers, !cw_rings_empty()))
			return -ERESTARTSYS;
	}
}

static __poll_t cw_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &cw_readers, wait);
	return cw_rings_empty() ? 0 : EPOLLIN | EPOLLRDNORM;
}

/*
 * The process a pid of the caller's namespace names, as a tgid of the global one (the
 * probes compare task->tgid); -ESRCH when it names none.
 */
static pid_t cw_global_tgid(pid_t pid)
{
	struct task_struct *task;
	pid_t tgid = -ESRCH;

	rcu_read_lock();
	task = pid_task(find_vpid(pid), PIDTYPE_TGID);
	if (task)
		tgid = task->tgid;
	rcu_read_unlock();
	return tgid;
}

/* The target ioctls; *added: the process now in the set (ADD, SET), else 0. */
static long cw_ioctl_target(unsigned int cmd, void __user *arg, pid_t *added)
{
	struct cw_kmod_target t;
	pid_t tgid;
	long err;

	*added = 0;
	if (copy_from_user(&t, arg, sizeof(t)))
		return -EFAULT;
	if (t.flags & ~CW_KMOD_T_CHILDREN || t.pid < 0 || (!t.pid && cmd != CW_KMOD_SET_TARGET))
		return -EINVAL;
	if (!t.pid)
		return cw_targets_set(0, 0);
	tgid = cw_global_tgid(t.pid);
	if (cmd == CW_KMOD_REMOVE_TARGET)
		/* a process gone already: its pid as it was, in the namespace we share */
		return cw_targets_remove(tgid > 0 ? tgid : t.pid);
	if (tgid < 0)
		return tgid;
	err = cmd == CW_KMOD_ADD_TARGET ? cw_targets_add(tgid, t.flags) :
					  cw_targets_set(tgid, t.flags);
	if (!err)
		*added = tgid;
	return err;
}

/*
 * Process tgid (global) was forked from a traced process and has not exec'd since: its
 * memory is a copy of its parent's, breakpoints included (uprobe_dup_mmap() marks it
 * MMF_HAS_UPROBES; an exec's new memory has none until a uprobe is installed there).
 */
static bool cw_inherits_probes(pid_t tgid)
{
	struct task_struct *task;
	struct mm_struct *mm;
	bool inherits = false;

	rcu_read_lock();
	task = pid_task(find_pid_ns(tgid, &init_pid_ns), PIDTYPE_TGID);
	if (task && cw_traced(rcu_dereference(task->real_parent)->tgid, NULL))
		get_task_struct(task);
	else
		task = NULL;
	rcu_read_unlock();
	if (!task)
		return false;
	mm = get_task_mm(task);
	if (mm) {
		inherits = test_bit(MMF_HAS_UPROBES, &mm->flags);
		mmput(mm);
	}
	put_task_struct(task);
	return inherits;
}

static long cw_ioctl_target_retarget(unsigned int cmd, void __user *arg)
{
	pid_t added;
	long err = cw_ioctl_target(cmd, arg, &added);

	/*
	 * The uprobes' filters were asked when they were registered: a process added
	 * since has no breakpoints in the libraries it mapped already, unless it has its
	 * traced parent's (run adds each child held at its fork: registering every probe
	 * again for each would walk every process that maps libc).
	 */
	if (!err && added && !cw_inherits_probes(added))
		err = cw_uprobes_retarget();
	return err;
}

static long cw_ioctl_probe(void __user *arg)
{
	struct cw_kmod_probe p;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	return cw_uprobes_add(&p);
}

static long cw_ioctl_start(void __user *arg)
{
	struct cw_kmod_start st;
	int err;

	if (copy_from_user(&st, arg, sizeof(st)))
		return -EFAULT;
	if (!st.classes || st.classes & ~CW_KMOD_C_ALL || st.flags & ~CW_KMOD_S_LOCK_BEGIN ||
	    st.stack_bytes > CW_KMOD_STACK_BYTES_MAX || st.stack_bytes % 8 || st.fp_depth > 30)
		return -EINVAL;
	if (st.classes & ~cw_trace_classes())
		return -EOPNOTSUPP;
	if (cw_dev.started)
		return -EBUSY;
	err = cw_trace_start(&st);
	if (!err)
		cw_dev.started = true;
	return err;
}

static long cw_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct cw_kmod_stats stats = {};
	struct cw_kmod_info info = {
		.abi_version = CW_ABI_VERSION,
		.nr_rings = num_possible_cpus(),
		.ring_bytes = cw_ring_bytes(),
		.classes = cw_trace_classes(),
		.max_targets = CW_MAX_TARGETS,
		.max_threads = cw_trace_max_threads(),
	};
	long err;

	switch (cmd) {
	case CW_KMOD_INFO:
		return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
	case CW_KMOD_STATS:
		cw_rings_stats(&stats.records, &stats.lost);
		stats.lost_threads = cw_trace_lost_threads();
		cw_uprobes_stats(&stats.probe_hits, &stats.lost_held, &stats.lost_stacks);
		return copy_to_user(uarg, &stats, sizeof(stats)) ? -EFAULT : 0;
	case CW_KMOD_SET_TARGET:
	case CW_KMOD_ADD_TARGET:
	case CW_KMOD_REMOVE_TARGET:
	case CW_KMOD_START:
	case CW_KMOD_STOP:
	case CW_KMOD_ADD_PROBE:
	case CW_KMOD_CLEAR_PROBES:
		break;
	default:
		return -ENOTTY;
	}

	mutex_lock(&cw_dev.ctl);
	if (cmd == CW_KMOD_START)
		err = cw_ioctl_start(uarg);
	else if (cmd == CW_KMOD_STOP)
		err = 0, cw_stop();
	else if (cmd == CW_KMOD_ADD_PROBE)
		err = cw_ioctl_probe(uarg);
	else if (cmd == CW_KMOD_CLEAR_PROBES)
		err = cw_uprobes_clear();
	else
		err = cw_ioctl_target_retarget(cmd, uarg);
	mutex_unlock(&cw_dev.ctl);
	return err;
}

static const struct file_operations cw_fops = {
	.owner = THIS_MODULE,
	.open = cw_open,
	.release = cw_release,
	.read = cw_read,
	.poll = cw_poll,
	.unlocked_ioctl = cw_ioctl,
};

static struct miscdevice cw_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "concwatch",
	.fops = &cw_fops,
	/* Traces every process on the system: root only. */
	.mode = 0600,
};

static int __init cw_init(void)
{
	int err;

	BUILD_BUG_ON(CW_RING_PAGES_MIN * PAGE_SIZE < 2 * CW_RECORD_MAX);

	err = cw_rules_selfcheck();
	if (err) {
		pr_err("the lock rules failed their self-check: %d\n", err);
		return err;
	}

	if (ring_pages < CW_RING_PAGES_MIN || ring_pages > CW_RING_PAGES_MAX ||
	    !is_power_of_2(ring_pages)) {
		pr_err("ring_pages=%u: need a power of two in [%u, %u]\n", ring_pages,
		       CW_RING_PAGES_MIN, CW_RING_PAGES_MAX);
		return -EINVAL;
	}
	if (max_threads < CW_THREADS_MIN || max_threads > CW_THREADS_MAX ||
	    !is_power_of_2(max_threads)) {
		pr_err("max_threads=%u: need a power of two in [%u, %u]\n", max_threads,
		       CW_THREADS_MIN, CW_THREADS_MAX);
		return -EINVAL;
	}
	mutex_init(&cw_dev.ctl);
	mutex_init(&cw_dev.read);

	err = cw_rings_init(ring_pages);
	if (err)
		return err;
	err = cw_trace_init(max_threads);
	if (err)
		goto err_free_rings;
	err = cw_uprobes_init();
	if (err)
		goto err_free_trace;

	err = misc_register(&cw_miscdev);
	if (err) {
		pr_err("failed to register /dev/%s: %d\n", cw_miscdev.name, err);
		goto err_free_uprobes;
	}

	pr_info("loaded, ABI version %d, ring %u pages per CPU, classes %#llx\n", CW_ABI_VERSION,
		ring_pages, cw_trace_classes());
	return 0;

err_free_uprobes:
	cw_uprobes_free();
err_free_trace:
	cw_trace_free();
err_free_rings:
	cw_rings_free();
	return err;
}

static void __exit cw_exit(void)
{
	/* the device is closed (it holds the module): no probe is registered */
	misc_deregister(&cw_miscdev);
	cw_uprobes_free();
	cw_trace_free();
	cw_rings_free();
	pr_info("unloaded\n");
}

module_init(cw_init);
module_exit(cw_exit);

MODULE_DESCRIPTION("concwatch: trace locks, futexes and scheduling of live processes");
MODULE_LICENSE("GPL");
