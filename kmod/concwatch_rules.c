// SPDX-License-Identifier: GPL-2.0
/*
 * The lock rules of include/concwatch/lockrules.h, compiled into the module as into the
 * BPF programs and the in-process library: one definition for every backend. The
 * module has no lock probes yet; until it has, the hooks only count, and the module
 * checks at load, on one nesting of two locks, that the rules it was built with behave
 * as the other backends' do (selftests/unit/test_lockrules.c holds those to the full
 * table): a build whose rules went wrong refuses to load rather than report.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/types.h>

#define CW_RULES_IMPL
#include <concwatch/lockrules.h>

#include "concwatch_rules.h"

struct selfcheck {
	unsigned int edges;
	__u64 gate;
	unsigned int acquired;
	__u64 hold_ns;
};

/* FIXME(kmod probes): edges go to the record ring once the module has lock probes. */
static inline void cw_rules_emit_edge(void *ctx, const struct cw_edge_id *id,
				      const struct cw_held_lock *from,
				      const struct cw_rules_acq *to)
{
	struct selfcheck *c = ctx;

	c->edges++;
	c->gate = id->gate;
}

static inline void cw_rules_count(void *ctx, const struct cw_rules_stat *stat)
{
	struct selfcheck *c = ctx;

	if (stat->step == CW_RULES_ACQUIRED)
		c->acquired++;
	else
		c->hold_ns += stat->hold_ns;
}

int cw_rules_selfcheck(void)
{
	struct cw_rules_acq a = { .addr = 0x1000, .kind = CW_LOCK_MUTEX, .op = CW_OP_LOCK };
	struct cw_rules_acq b = { .addr = 0x2000, .kind = CW_LOCK_MUTEX, .op = CW_OP_LOCK };
	struct selfcheck c = {};
	struct cw_held_set *hs;
	__u64 hold;
	int err = 0;

	/* too big for a kernel stack frame */
	hs = kzalloc(sizeof(*hs), GFP_KERNEL);
	if (!hs)
		return -ENOMEM;
	if (cw_rules_acquired(hs, &a, 10, &c) != CW_RULES_HELD ||
	    cw_rules_acquired(hs, &a, 15, &c) != CW_RULES_AGAIN ||
	    cw_rules_acquired(hs, &b, 20, &c) != CW_RULES_HELD ||
	    cw_rules_released(hs, b.addr, 30, &hold, &c) != 2 || hold != 10 ||
	    cw_rules_released(hs, a.addr, 35, &hold, &c) != 1 ||
	    cw_rules_released(hs, a.addr, 40, &hold, &c) != 2 || hold != 30 ||
	    c.edges != 1 || c.gate || c.acquired != 3 || c.hold_ns != 40 || hs->nr)
		err = -EINVAL;
	kfree(hs);
	return err;
}
