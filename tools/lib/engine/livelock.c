// SPDX-License-Identifier: GPL-2.0
/*
 * Livelocks (livelock.h): failing (thread, lock) pairs, judged at every tick.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/index.h"
#include "engine/livelock.h"
#include "concwatch/lockrules.h"

/* A (thread, lock) pair: failing since first_ns (0: not failing, dropped at the next tick). */
struct pair {
	__u32 pid;
	struct cw_ll_link l;	/* l.first_ns == 0: not failing */
	int counts;		/* tick-local: it counts for the rule */
};

/* Tick-local: a thread of the failing pairs. */
struct thr {
	__u32 pid, tid;
	__u64 since;		/* earliest start of its counting pairs */
	int active;		/* it has counting pairs */
	size_t parent;		/* union-find */
};

struct cw_ll {
	__u64 threshold;
	struct pair *pairs;
	size_t nr, cap;
	struct cw_index ix;		/* (pid << 32 | tid, addr) -> slot in pairs */
	struct cw_index holders;	/* raw records: (pid, addr) -> holder tid, 0 = none */
	struct cw_ll_episode *eps;
	size_t nr_eps, cap_eps;
	struct thr *thr;		/* tick-local, kept for its memory */
	size_t cap_thr;
};

struct cw_ll *cw_ll__new(void)
{
	struct cw_ll *ll = calloc(1, sizeof(*ll));

	if (ll)
		ll->threshold = CW_LL_THRESHOLD_NS;
	return ll;
}

void cw_ll__free(struct cw_ll *ll)
{
	if (!ll)
		return;
	for (size_t i = 0; i < ll->nr_eps; i++) {
		free(ll->eps[i].tids);
		free(ll->eps[i].links);
	}
	free(ll->eps);
	free(ll->pairs);
	free(ll->thr);
	cw_index__fini(&ll->ix);
	cw_index__fini(&ll->holders);
	free(ll);
}

void cw_ll__set_threshold(struct cw_ll *ll, __u64 ns)
{
	ll->threshold = ns ? ns : CW_LL_THRESHOLD_NS;
}

__u64 cw_ll__threshold(const struct cw_ll *ll)
{
	return ll->threshold;
}

static __u64 gap_ns(const struct cw_ll *ll)
{
	return ll->threshold / 2 > CW_LL_GAP_MIN_NS ? ll->threshold / 2 : CW_LL_GAP_MIN_NS;
}

static struct pair *find_pair(struct cw_ll *ll, __u32 pid, __u32 tid, __u64 addr)
{
	__u32 slot;

	return cw_index__get(&ll->ix, (__u64)pid << 32 | tid, addr, &slot) ? NULL :
									       &ll->pairs[slot];
}

static struct pair *get_pair(struct cw_ll *ll, __u32 pid, __u32 tid, __u64 addr)
{
	struct pair *p = find_pair(ll, pid, tid, addr);

	if (p)
		return p;
	if (ll->nr >= UINT32_MAX)
		return NULL;
	p = cw_grow(ll->pairs, &ll->cap, ll->nr + 1, sizeof(*p));
	if (!p)
		return NULL;
	ll->pairs = p;
	if (cw_index__put(&ll->ix, (__u64)pid << 32 | tid, addr, ll->nr))
		return NULL;
	p = &ll->pairs[ll->nr++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->l.tid = tid;
	p->l.addr = addr;
	return p;
}

/* The link of the pair in the running episodes, kept current between ticks. */
static void update_episode(struct cw_ll *ll, const struct pair *p)
{
	for (size_t i = 0; i < ll->nr_eps; i++) {
		struct cw_ll_episode *e = &ll->eps[i];

		if (e->ended || e->pid != p->pid)
			continue;
		for (size_t k = 0; k < e->nr_links; k++) {
			if (e->links[k].tid != p->l.tid || e->links[k].addr != p->l.addr)
				continue;
			if (p->l.first_ns == e->links[k].first_ns)
				e->links[k] = p->l;
			if (p->l.last_ns > e->last_ns)
				e->last_ns = p->l.last_ns;
		}
	}
}

/* n failures (latest at ts) of tid on addr; acquired: the lock was taken in the same span. */
static int failed(struct cw_ll *ll, __u32 pid, const struct cw_ll_link *f, __u64 n, __u64 ts,
		  int acquired)
{
	struct pair *p = get_pair(ll, pid, f->tid, f->addr);

	if (!p)
		return -ENOMEM;
	if (acquired || !p->l.first_ns) {
		/* progress, or a new pair: the failures of this span are not counted in
		 * order with the acquisition, so the pair starts at its end */
		p->l.first_ns = ts;
		p->l.failures = acquired ? 0 : n;
		p->l.wait_ns = 0;
	} else {
		p->l.failures += n;
	}
	p->l.last_ns = ts;
	if (f->owner_tid)
		p->l.owner_tid = f->owner_tid;
	if (f->stack_id)
		p->l.stack_id = f->stack_id;
	if (f->ip)
		p->l.ip = f->ip;
	p->l.op = f->op;
	p->l.kind = f->kind;
	p->l.wait_ns += f->wait_ns;
	update_episode(ll, p);
	return 0;
}

static void acquired(struct cw_ll *ll, __u32 pid, __u32 tid, __u64 addr)
{
	struct pair *p = find_pair(ll, pid, tid, addr);

	if (p)
		p->l.first_ns = 0;
}

int cw_ll__feed_stats(struct cw_ll *ll, const struct cw_ev_lock_stats *s)
{
	struct cw_ll_link f = {
		.tid = s->hdr.tid, .addr = s->addr, .owner_tid = s->owner_tid,
		.stack_id = s->stack_id, .ip = s->ip, .op = s->op, .kind = s->kind,
		.wait_ns = s->wait_ns_total,
	};

	if (s->what != CW_SITE_TRY || !s->hdr.tid)
		return 0;
	if (s->failures)
		return failed(ll, s->hdr.pid, &f, s->failures, s->hdr.ts_ns, s->acquisitions != 0);
	if (s->acquisitions)
		acquired(ll, s->hdr.pid, s->hdr.tid, s->addr);
	return 0;
}

int cw_ll__feed_lock(struct cw_ll *ll, const struct cw_ev_lock *e)
{
	const struct cw_hdr *h = &e->hdr;
	__u32 holder = 0;

	if (h->type == CW_EV_LOCK_RELEASED) {
		if (!cw_index__get(&ll->holders, h->pid, e->addr, &holder) && holder == h->tid)
			return cw_index__put(&ll->holders, h->pid, e->addr, 0);
		return 0;
	}
	if (h->type != CW_EV_LOCK_ACQUIRED)
		return 0;
	if (cw_rules_op_acquired(e->op, e->result)) {
		acquired(ll, h->pid, h->tid, e->addr);
		return cw_index__put(&ll->holders, h->pid, e->addr, h->tid);
	}
	if (e->result != EBUSY && e->result != ETIMEDOUT)
		return 0;
	cw_index__get(&ll->holders, h->pid, e->addr, &holder);
	return failed(ll, h->pid,
		      &(struct cw_ll_link){ .tid = h->tid, .addr = e->addr, .owner_tid = holder,
					    .stack_id = e->stack_id, .ip = e->ip, .op = e->op,
					    .kind = e->kind,
					    .wait_ns = e->result == ETIMEDOUT ? e->wait_ns : 0 },
		      1, h->ts_ns, 0);
}

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->l.tid != y->l.tid)
		return x->l.tid < y->l.tid ? -1 : 1;
	if (x->l.addr != y->l.addr)
		return x->l.addr < y->l.addr ? -1 : 1;
	return 0;
}

/* Drop the pairs that stopped failing, sorted by (pid, tid, addr), indexed again. */
static int compact(struct cw_ll *ll, __u64 now)
{
	size_t kept = 0;
	int err = 0;

	for (size_t i = 0; i < ll->nr; i++) {
		struct pair *p = &ll->pairs[i];

		if (p->l.first_ns && now - p->l.last_ns <= gap_ns(ll))
			ll->pairs[kept++] = *p;
	}
	ll->nr = kept;
	if (ll->nr)
		qsort(ll->pairs, ll->nr, sizeof(*ll->pairs), pair_cmp);
	cw_index__fini(&ll->ix);
	for (size_t i = 0; i < ll->nr && !err; i++)
		err = cw_index__put(&ll->ix, (__u64)ll->pairs[i].pid << 32 | ll->pairs[i].l.tid,
				    ll->pairs[i].l.addr, i);
	return err;
}

static size_t find_thr(const struct thr *t, size_t n, __u32 pid, __u32 tid)
{
	/* t is sorted by (pid, tid): the pairs were */
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t[mid].pid < pid || (t[mid].pid == pid && t[mid].tid < tid))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && t[lo].pid == pid && t[lo].tid == tid ? lo : SIZE_MAX;
}

static size_t root(struct thr *t, size_t i)
{
	while (t[i].parent != i) {
		t[i].parent = t[t[i].parent].parent;
		i = t[i].parent;
	}
	return i;
}

static void join(struct thr *t, size_t a, size_t b)
{
	a = root(t, a);
	b = root(t, b);
	/* the smaller index is the root: the same stream always gives the same sets */
	if (a < b)
		t[b].parent = a;
	else if (b < a)
		t[a].parent = b;
}

/* Which pairs count and which threads are active: until nothing changes. */
static void settle(struct cw_ll *ll, struct thr *t, size_t nt)
{
	size_t pi = 0, a;
	int changed = 1;

	for (size_t i = 0; i < ll->nr; i++)
		ll->pairs[i].counts = ll->pairs[i].l.owner_tid != ll->pairs[i].l.tid;
	while (changed) {
		changed = 0;
		for (size_t i = 0; i < nt; i++)
			t[i].active = 0;
		for (size_t i = 0; i < ll->nr; i++) {
			size_t a = find_thr(t, nt, ll->pairs[i].pid, ll->pairs[i].l.tid);

			/* past the work bound: not judged at this tick */
			if (a == SIZE_MAX)
				ll->pairs[i].counts = 0;
			else if (ll->pairs[i].counts)
				t[a].active = 1;
		}
		for (size_t i = 0; i < ll->nr; i++) {
			struct pair *p = &ll->pairs[i];
			size_t o;

			if (!p->counts || !p->l.owner_tid)
				continue;
			o = find_thr(t, nt, p->pid, p->l.owner_tid);
			if (o == SIZE_MAX || !t[o].active) {
				p->counts = 0;
				changed = 1;
			}
		}
	}
	for (size_t i = 0; i < nt; i++)
		t[i].since = 0;
	for (pi = 0; pi < ll->nr; pi++) {
		struct pair *p = &ll->pairs[pi];
		struct thr *th;

		if (!p->counts || (a = find_thr(t, nt, p->pid, p->l.tid)) == SIZE_MAX)
			continue;
		th = &t[a];
		if (!th->since || p->l.first_ns < th->since)
			th->since = p->l.first_ns;
	}
}

static int same_tids(const struct cw_ll_episode *e, __u32 pid, const __u32 *tids, size_t n)
{
	return e->pid == pid && e->nr_tids == n && !memcmp(e->tids, tids, n * sizeof(*tids));
}

/* The component of root r (threads t[], nt of them, n of them in it) at now. */
static int record_set(struct cw_ll *ll, struct thr *t, size_t nt, size_t r, size_t n, __u64 now,
		      unsigned char *seen)
{
	struct cw_ll_episode *e = NULL;
	__u32 *tids = calloc(n, sizeof(*tids));
	struct cw_ll_link *links = NULL;
	size_t k = 0, nl = 0;
	__u64 formed = 0, first = UINT64_MAX, last = 0;
	int held_inside = 0;

	if (!tids)
		return -ENOMEM;
	for (size_t i = 0; i < nt; i++) {
		if (!t[i].active || root(t, i) != r)
			continue;
		tids[k++] = t[i].tid;
		if (t[i].since > formed)
			formed = t[i].since;
	}
	for (size_t i = 0; i < ll->nr; i++) {
		const struct pair *p = &ll->pairs[i];

		if (!p->counts || root(t, find_thr(t, nt, p->pid, p->l.tid)) != r)
			continue;
		nl++;
		held_inside |= p->l.owner_tid != 0;
	}
	/*
	 * Threads that only fail on the same locks, no holder known (spin locks, rwlocks
	 * held by readers), may be waiting behind holders that work: not said to be a
	 * livelock. Some lock must be known held by one of them.
	 */
	if (now - formed < ll->threshold || !held_inside) {
		free(tids);
		return 0;
	}
	links = calloc(nl, sizeof(*links));
	if (!links) {
		free(tids);
		return -ENOMEM;
	}
	nl = 0;
	for (size_t i = 0; i < ll->nr; i++) {
		const struct pair *p = &ll->pairs[i];

		if (!p->counts || root(t, find_thr(t, nt, p->pid, p->l.tid)) != r)
			continue;
		links[nl++] = p->l;
		if (p->l.first_ns < first)
			first = p->l.first_ns;
		if (p->l.last_ns > last)
			last = p->l.last_ns;
	}
	for (size_t i = 0; i < ll->nr_eps; i++)
		if (!ll->eps[i].ended && same_tids(&ll->eps[i], t[r].pid, tids, n)) {
			e = &ll->eps[i];
			seen[i] = 1;
			break;
		}
	if (!e) {
		e = cw_grow(ll->eps, &ll->cap_eps, ll->nr_eps + 1, sizeof(*e));
		if (!e) {
			free(tids);
			free(links);
			return -ENOMEM;
		}
		ll->eps = e;
		e = &ll->eps[ll->nr_eps++];
		memset(e, 0, sizeof(*e));
		e->pid = t[r].pid;
		e->confirmed_ns = now;
		e->first_ns = first;
		e->formed_ns = formed;
		seen[ll->nr_eps - 1] = 1;
	}
	free(e->tids);
	free(e->links);
	e->tids = tids;
	e->nr_tids = n;
	e->links = links;
	e->nr_links = nl;
	if (last > e->last_ns)
		e->last_ns = last;
	return 0;
}

int cw_ll__tick(struct cw_ll *ll, __u64 now)
{
	struct cw_index by_lock = {};	/* (pid, addr) -> the first thread failing on it */
	unsigned char *seen = NULL;
	size_t nt = 0, *size = NULL;
	__u32 first;
	struct thr *t;
	int err = compact(ll, now);

	if (err)
		return err;
	/* the threads of the pairs, sorted as the pairs are */
	t = cw_grow(ll->thr, &ll->cap_thr, ll->nr + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	ll->thr = t;
	for (size_t i = 0; i < ll->nr && nt < CW_LL_MAX_THREADS; i++) {
		const struct pair *p = &ll->pairs[i];

		if (nt && t[nt - 1].pid == p->pid && t[nt - 1].tid == p->l.tid)
			continue;
		t[nt] = (struct thr){ .pid = p->pid, .tid = p->l.tid, .parent = nt };
		nt++;
	}
	seen = calloc(ll->nr_eps + nt + 1, 1);
	size = calloc(nt + 1, sizeof(*size));
	if (!seen || !size) {
		err = -ENOMEM;
		goto cleanup;
	}
	settle(ll, t, nt);
	/* links: failed on a lock the other held; failed on the same lock */
	for (size_t i = 0; i < ll->nr; i++) {
		const struct pair *p = &ll->pairs[i];
		size_t a, o;

		if (!p->counts || (a = find_thr(t, nt, p->pid, p->l.tid)) == SIZE_MAX)
			continue;
		if (p->l.owner_tid && (o = find_thr(t, nt, p->pid, p->l.owner_tid)) != SIZE_MAX)
			join(t, a, o);
		if (cw_index__get(&by_lock, p->pid, p->l.addr, &first)) {
			err = cw_index__put(&by_lock, p->pid, p->l.addr, a);
			if (err)
				goto cleanup;
		} else {
			join(t, a, first);
		}
	}
	for (size_t i = 0; i < nt; i++)
		if (t[i].active)
			size[root(t, i)]++;
	for (size_t i = 0; i < nt && !err; i++)
		if (root(t, i) == i && size[i] >= 2)
			err = record_set(ll, t, nt, i, size[i], now, seen);
	/* the episodes whose threads did not go on together: over */
	for (size_t i = 0; i < ll->nr_eps && !err; i++)
		if (!seen[i])
			ll->eps[i].ended = 1;
cleanup:
	cw_index__fini(&by_lock);
	free(seen);
	free(size);
	return err;
}

size_t cw_ll__nr(const struct cw_ll *ll)
{
	return ll->nr_eps;
}

const struct cw_ll_episode *cw_ll__get(const struct cw_ll *ll, size_t i)
{
	return i < ll->nr_eps ? &ll->eps[i] : NULL;
}
