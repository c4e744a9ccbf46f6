// SPDX-License-Identifier: GPL-2.0
/*
 * The lock rules on ordinary memory. lockrules.h decides what each operation does; this
 * file only stores: held sets by thread, lifetimes by address, the dependencies sent
 * (by their struct cw_edge_id, exactly as the BPF programs' edges_seen, but never
 * evicted), and the statistics by (lock, call path), as the BPF programs' lock_sites.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "engine/index.h"

#define CW_RULES_IMPL
#include <concwatch/lockrules.h>

struct thread_set {
	__u32 tid;
	int live;
	struct cw_held_set hs;
};

struct sent_edge {
	struct cw_edge_id id;
	__u32 next;		/* the next one with the same (from, to), or UINT32_MAX */
};

struct cw_rules {
	__u32 pid;
	cw_record_fn fn;
	void *ctx;
	int err;		/* the first error a hook met */
	__u32 tid;		/* the thread of the operation in progress */
	__u64 now;

	struct thread_set *threads;
	size_t nr_threads, cap_threads;
	struct cw_index thread_ix;	/* (0, tid) -> slot */

	struct cw_index gen_ix;		/* (0, addr) -> lifetime */

	struct sent_edge *edges;
	size_t nr_edges, cap_edges;
	struct cw_index edge_ix;	/* (from, to) -> the first edge with them */

	struct cw_rules_site *sites;
	size_t nr_sites, cap_sites;
	struct cw_index site_ix;	/* (addr, stack_id) -> slot */

	struct cw_rules_counts counts;
};

/* Room for one more of size bytes in *arr (*cap of them so far). 0 or -ENOMEM. */
static int grow(void *arr, size_t *cap, size_t nr, size_t size)
{
	size_t n = *cap ? *cap * 2 : 16;
	void *p;

	if (nr < *cap)
		return 0;
	if (n > SIZE_MAX / size || n > UINT32_MAX)
		return -ENOMEM;
	p = realloc(*(void **)arr, n * size);
	if (!p)
		return -ENOMEM;
	*(void **)arr = p;
	*cap = n;
	return 0;
}

/* The hooks lockrules.h declares (static inline), on this file's storage. */
static inline void cw_rules_emit_edge(void *ctx, const struct cw_edge_id *id,
			       const struct cw_held_lock *from, const struct cw_rules_acq *to)
{
	struct cw_rules *r = ctx;
	struct cw_ev_edge e = {};
	__u32 slot, first = UINT32_MAX;
	int err;

	if (r->err)
		return;
	if (!cw_index__get(&r->edge_ix, id->from, id->to, &first)) {
		for (slot = first; slot != UINT32_MAX; slot = r->edges[slot].next)
			if (!memcmp(&r->edges[slot].id, id, sizeof(*id)))
				return; /* sent before */
	}
	err = grow(&r->edges, &r->cap_edges, r->nr_edges, sizeof(*r->edges));
	if (!err)
		err = cw_index__put(&r->edge_ix, id->from, id->to, r->nr_edges);
	if (err) {
		r->err = err;
		return;
	}
	r->edges[r->nr_edges] = (struct sent_edge){ .id = *id, .next = first };
	r->nr_edges++;

	e.hdr = (struct cw_hdr){ .type = CW_EV_LOCK_EDGE, .size = sizeof(e), .cpu = 0xffff,
				 .ts_ns = r->now, .pid = r->pid, .tid = r->tid };
	cw_rules_edge_record(&e, id, from, to);
	r->counts.edges++;
	err = r->fn(r->ctx, &e.hdr);
	if (err)
		r->err = err;
}

static inline void cw_rules_count(void *ctx, const struct cw_rules_stat *st)
{
	struct cw_rules *r = ctx;
	struct cw_site_stats *v;
	__u32 slot;
	int err;

	if (r->err)
		return;
	if (cw_index__get(&r->site_ix, st->addr, st->stack_id, &slot)) {
		err = grow(&r->sites, &r->cap_sites, r->nr_sites, sizeof(*r->sites));
		if (!err)
			err = cw_index__put(&r->site_ix, st->addr, st->stack_id, r->nr_sites);
		if (err) {
			r->err = err;
			return;
		}
		slot = r->nr_sites++;
		r->sites[slot] = (struct cw_rules_site){
			.key = { .tgid = r->pid, .addr = st->addr, .stack_id = st->stack_id },
			.v = { .ip = st->ip, .kind = st->kind },
		};
	}
	v = &r->sites[slot].v;
	if (st->step == CW_RULES_ACQUIRED) {
		v->acquisitions++;
		v->contentions += !!st->contended;
		v->wait_ns_total += st->wait_ns;
		if (st->wait_ns > v->wait_ns_max)
			v->wait_ns_max = st->wait_ns;
	} else {
		v->hold_ns_total += st->hold_ns;
		if (st->hold_ns > v->hold_ns_max)
			v->hold_ns_max = st->hold_ns;
	}
}

int cw_rules__new(__u32 pid, cw_record_fn fn, void *ctx, struct cw_rules **out)
{
	struct cw_rules *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->pid = pid;
	r->fn = fn;
	r->ctx = ctx;
	*out = r;
	return 0;
}

void cw_rules__free(struct cw_rules *r)
{
	if (!r)
		return;
	cw_index__fini(&r->thread_ix);
	cw_index__fini(&r->gen_ix);
	cw_index__fini(&r->edge_ix);
	cw_index__fini(&r->site_ix);
	free(r->threads);
	free(r->edges);
	free(r->sites);
	free(r);
}

/* Thread tid's held set, made when create is set; NULL when none (or no memory: r->err). */
static struct cw_held_set *held_set(struct cw_rules *r, __u32 tid, int create)
{
	__u32 slot;
	int err;

	if (!cw_index__get(&r->thread_ix, 0, tid, &slot)) {
		if (!r->threads[slot].live && !create)
			return NULL;
		r->threads[slot].live = 1;
		return &r->threads[slot].hs;
	}
	if (!create)
		return NULL;
	err = grow(&r->threads, &r->cap_threads, r->nr_threads, sizeof(*r->threads));
	if (!err)
		err = cw_index__put(&r->thread_ix, 0, tid, r->nr_threads);
	if (err) {
		r->err = err;
		return NULL;
	}
	slot = r->nr_threads++;
	memset(&r->threads[slot], 0, sizeof(r->threads[slot]));
	r->threads[slot].tid = tid;
	r->threads[slot].live = 1;
	return &r->threads[slot].hs;
}

static __u32 lifetime(const struct cw_rules *r, __u64 addr)
{
	__u32 gen;

	return cw_index__get(&r->gen_ix, 0, addr, &gen) ? 0 : gen;
}

int cw_rules__acquired(struct cw_rules *r, __u32 tid, const struct cw_rules_acq *a, __u64 now)
{
	struct cw_rules_acq acq = *a;
	struct cw_held_set *hs;
	int ret;

	r->err = 0;
	r->tid = tid;
	r->now = now;
	acq.gen = lifetime(r, a->addr);
	hs = held_set(r, tid, 1);
	ret = cw_rules_acquired(hs, &acq, now, r);
	if (r->err)
		return r->err;
	if (ret == CW_RULES_OVERFLOW)
		r->counts.held_overflow++;
	return ret;
}

int cw_rules__waits(struct cw_rules *r, __u32 tid, struct cw_rules_acq *a, __u64 now)
{
	r->err = 0;
	r->tid = tid;
	r->now = now;
	a->gen = lifetime(r, a->addr);
	cw_rules_waits(held_set(r, tid, 0), a, r);
	return r->err;
}

int cw_rules__released(struct cw_rules *r, __u32 tid, __u64 addr, __u64 now, __u64 *hold_ns)
{
	__u64 hold;
	int ret;

	r->err = 0;
	r->tid = tid;
	r->now = now;
	ret = cw_rules_released(held_set(r, tid, 0), addr, now, &hold, r);
	if (hold_ns)
		*hold_ns = hold;
	return r->err ? r->err : ret;
}

int cw_rules__reset(struct cw_rules *r, __u64 addr)
{
	return cw_index__put(&r->gen_ix, 0, addr, cw_rules_next_gen(lifetime(r, addr)));
}

void cw_rules__thread_exit(struct cw_rules *r, __u32 tid)
{
	__u32 slot;

	if (cw_index__get(&r->thread_ix, 0, tid, &slot))
		return;
	r->threads[slot].live = 0;
	memset(&r->threads[slot].hs, 0, sizeof(r->threads[slot].hs));
}

size_t cw_rules__nr_sites(const struct cw_rules *r)
{
	return r->nr_sites;
}

const struct cw_rules_site *cw_rules__site(const struct cw_rules *r, size_t i)
{
	return i < r->nr_sites ? &r->sites[i] : NULL;
}

const struct cw_rules_counts *cw_rules__counts(const struct cw_rules *r)
{
	return &r->counts;
}
