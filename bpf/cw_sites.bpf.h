/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lock_sites: the statistics of every view (CW_SITE_*: uprobe acquires, futex waits,
 * kernel locks, wakeups), aggregated here per struct cw_site_key and read by userspace
 * every tick (tools/lib/source/bpf/stats.c sends what grew). Nothing crosses the ring
 * buffer per operation for them.
 *
 * Entries keyed by a thread (CW_SITE_FUTEX, CW_SITE_WAKE) are written by that thread
 * only: plain additions. The others are shared between threads: atomic ones.
 */
#ifndef __CW_SITES_BPF_H
#define __CW_SITES_BPF_H

#include "cw_common.bpf.h"
#include "cw_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* fixed size: a (process, thread, object, call path) that finds it full is counted
	 * lost_map_full */
	__uint(max_entries, 65536);
	__type(key, struct cw_site_key);
	__type(value, struct cw_site_stats);
} lock_sites SEC(".maps");

/*
 * A zeroed lock_sites value to create entries from (never written): 272 bytes do not fit
 * on the BPF stack beside a held set's bpf_loop frames (6.1 counts those frames in its
 * 512 bytes).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cw_site_stats);
} empty_site SEC(".maps");

static __always_inline void atomic_max(__u64 *v, __u64 x)
{
	__u64 old = *v;

	for (int i = 0; i < 4 && x > old; i++) {
		__u64 seen = __sync_val_compare_and_swap(v, old, x);

		if (seen == old)
			break;
		old = seen;
	}
}

/* The lock_sites entry of k, made when new; NULL (counted lost) when the map is full. */
static __always_inline struct cw_site_stats *site_entry(const struct cw_site_key *k, __u64 ip,
							__u32 kind)
{
	struct cw_site_stats *st = bpf_map_lookup_elem(&lock_sites, k);
	__u32 zero = 0;

	if (!st) {
		struct cw_site_stats *z = bpf_map_lookup_elem(&empty_site, &zero);

		/* BPF_NOEXIST: another thread may be first; then use its entry */
		if (z)
			bpf_map_update_elem(&lock_sites, k, z, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&lock_sites, k);
		if (!st) {
			__sync_fetch_and_add(&lost_map_full, 1);
			return NULL;
		}
	}
	if (!st->kind) {
		st->ip = ip;
		st->kind = kind;
	}
	return st;
}

/* One wait of wait ns into an entry shared between threads: total, maximum, histogram. */
static __always_inline void site_wait_shared(struct cw_site_stats *st, __u64 wait)
{
	__sync_fetch_and_add(&st->wait_ns_total, wait);
	atomic_max(&st->wait_ns_max, wait);
	__sync_fetch_and_add(&st->wait_hist[cw_site_bucket(wait) & (CW_HIST_BUCKETS - 1)], 1);
}

/* The same into an entry of one thread's, written by that thread only. */
static __always_inline void site_wait_own(struct cw_site_stats *st, __u64 wait)
{
	st->wait_ns_total += wait;
	if (wait > st->wait_ns_max)
		st->wait_ns_max = wait;
	st->wait_hist[cw_site_bucket(wait) & (CW_HIST_BUCKETS - 1)]++;
}

#endif /* __CW_SITES_BPF_H */
