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

/* edges_seen, edges_pending: a dependency of a process, sent once. */
struct cw_edge_key {
	__u32 tgid;
	__u32 pad;
	struct cw_edge_id id;
};

/* lock_sites: per (process, lock, call path) statistics, cumulative. */
struct cw_site_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
	__u64 stack_id;
};

struct cw_site_stats {
	__u64 acquisitions;
	__u64 contentions;	/* acquisitions during which the thread blocked in futex(2) */
	__u64 wait_ns_total;
	__u64 wait_ns_max;
	__u64 hold_ns_total;
	__u64 hold_ns_max;
	__u64 ip;		/* return address of the acquire */
	__u64 kind;		/* CW_LOCK_* */
};

#endif /* __CW_MAPS_H */
