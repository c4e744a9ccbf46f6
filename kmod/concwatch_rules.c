// SPDX-License-Identifier: GPL-2.0
/*
 * The lock rules of include/concwatch/lockrules.h, compiled into the module as into the
 * BPF programs and the in-process library: one definition for every backend. Here are
 * the module's hooks: a dependency goes to the probes' edge path (concwatch_uprobe.c,
 * once per process), and a statistic tells the release which call path took the lock
 * (the records carry the rest: userspace counts from them). With a self-check context
 * the hooks only count: the module checks at load, on one nesting of two locks, that the
 * rules it was built with behave as the other backends' do
 * (selftests/unit/test_lockrules.c holds those to the full table), and a build whose
 * rules went wrong refuses to load rather than report.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/types.h>

#define CW_RULES_IMPL
#include <concwatch/lockrules.h>

#include "concwatch.h"
#include "concwatch_rules.h"

/* What the hooks are given as ctx: a self-check's counts, or a release's output. */
struct cw_rules_ctx {
	bool selfcheck;
	unsigned int edges;
	u64 gate;
	unsigned int acquired;
	u64 hold_ns;
	u64 stack_id;		/* RELEASED: the acquire's call path */
};

static inline void cw_rules_emit_edge(void *ctx, const struct cw_edge_id *id,
				      const struct cw_held_lock *from,
				      const struct cw_rules_acq *to)
{
	struct cw_rules_ctx *c = ctx;

	if (!c || !c->selfcheck) {
		cw_ulock_emit_edge(id, from, to);
		return;
	}
	c->edges++;
	c->gate = id->gate;
}

static inline void cw_rules_count(void *ctx, const struct cw_rules_stat *stat)
{
	struct cw_rules_ctx *c = ctx;

	if (!c)
		return;
	if (stat->step == CW_RULES_RELEASED)
		c->stack_id = stat->stack_id;
	if (!c->selfcheck)
		return;
	if (stat->step == CW_RULES_ACQUIRED)
		c->acquired++;
	else
		c->hold_ns += stat->hold_ns;
}

int cw_rules_acquired_k(struct cw_held_set *hs, const struct cw_rules_acq *a, u64 now)
{
	return cw_rules_acquired(hs, a, now, NULL);
}

int cw_rules_released_k(struct cw_held_set *hs, u64 addr, u64 now, u64 *hold_ns,
			u64 *stack_id)
{
	struct cw_rules_ctx c = {};
	int ret = cw_rules_released(hs, addr, now, hold_ns, &c);

	*stack_id = c.stack_id;
	return ret;
}

void cw_rules_waits_k(struct cw_held_set *hs, struct cw_rules_acq *a)
{
	cw_rules_waits(hs, a, NULL);
}

int cw_rules_selfcheck(void)
{
	struct cw_rules_acq a = { .addr = 0x1000, .kind = CW_LOCK_MUTEX, .op = CW_OP_LOCK };
	struct cw_rules_acq b = { .addr = 0x2000, .kind = CW_LOCK_MUTEX, .op = CW_OP_LOCK };
	struct cw_rules_ctx c = { .selfcheck = true };
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
