// SPDX-License-Identifier: GPL-2.0
/*
 * concwatch kernel module: the event source next to the BPF programs.
 *
 * For now it only owns the resources a reader will need: the record ring and the
 * /dev/concwatch misc device. The device has no read method yet (the VFS answers
 * -EINVAL), so nothing pretends to deliver events before the probes exist.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/vmalloc.h>

#include <concwatch/events.h>

#include "concwatch_rules.h"

/* At least two records of the largest size fit; at most 256 MiB with 4 KiB pages. */
#define CW_RING_PAGES_MIN 32U
#define CW_RING_PAGES_MAX 65536U

static unsigned int ring_pages = 256;
module_param(ring_pages, uint, 0444);
MODULE_PARM_DESC(ring_pages,
		 "Size of the record ring in pages, a power of two (default 256)");

static struct {
	void *ring;
	size_t ring_size;
	/* One reader at a time: records are consumed, two readers would each see half. */
	unsigned long busy;
} cw_dev;

static int cw_open(struct inode *inode, struct file *file)
{
	if (test_and_set_bit_lock(0, &cw_dev.busy))
		return -EBUSY;
	return nonseekable_open(inode, file);
}

static int cw_release(struct inode *inode, struct file *file)
{
	clear_bit_unlock(0, &cw_dev.busy);
	return 0;
}

static const struct file_operations cw_fops = {
	.owner = THIS_MODULE,
	.open = cw_open,
	.release = cw_release,
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

	cw_dev.ring_size = (size_t)ring_pages << PAGE_SHIFT;
	cw_dev.ring = vzalloc(cw_dev.ring_size);
	if (!cw_dev.ring)
		return -ENOMEM;

	err = misc_register(&cw_miscdev);
	if (err) {
		pr_err("failed to register /dev/%s: %d\n", cw_miscdev.name, err);
		goto err_free_ring;
	}

	pr_info("loaded, ABI version %d, ring %u pages\n", CW_ABI_VERSION, ring_pages);
	return 0;

err_free_ring:
	vfree(cw_dev.ring);
	return err;
}

static void __exit cw_exit(void)
{
	misc_deregister(&cw_miscdev);
	vfree(cw_dev.ring);
	pr_info("unloaded\n");
}

module_init(cw_init);
module_exit(cw_exit);

MODULE_DESCRIPTION("concwatch: trace locks, futexes and scheduling of live processes");
MODULE_LICENSE("GPL");
