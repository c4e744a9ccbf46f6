// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/engine.h"
#include "engine/index.h"
#include "engine/evloop.h"
#include "engine/livelock.h"
#include "engine/prio.h"
#include "engine/waitfor.h"

/* A growable array of pointers: entries never move once created, so callers may keep them. */
struct ptr_vec {
	void **v;
	size_t nr, cap;
};

struct cw_engine {
	__u64 now_ns;
	__u64 first_ts;
	struct cw_engine_counts counts;
	struct ptr_vec locks;
	struct cw_index lock_ix;	/* (pid, addr) -> slot in locks */
	struct ptr_vec threads;
	struct cw_index thread_ix;	/* (pid, tid) -> slot in threads */
	struct ptr_vec stacks;
	struct cw_index stack_ix;	/* (pid << 16 | space, id) -> slot in stacks */
	struct ptr_vec modules;
	struct cw_index module_ix;	/* (pid, start) -> slot in modules */
	struct cw_view_site *sites;	/* by first appearance; they move when it grows */
	size_t nr_sites, cap_sites;
	struct cw_index site_ix;	/* (pid << 32 | tid, hash of the rest) -> first slot of a
					 * chain through cw_view_site.next */
	struct cw_index futex_pid_ix;	/* (pid, 0): pid sent CW_SITE_FUTEX statistics;
					 * (pid, 1): CW_SITE_KLOCK statistics */
	__u64 seq;			/* next cw_lock / cw_view_site seq */
	struct cw_lg *lg;
	struct cw_wf *wf;		/* who is blocked on what now */
	struct cw_ll *ll;		/* threads failing trylocks on each other's locks */
	struct cw_prio *prio;		/* priority inversions, PI boosts */
	struct cw_evloop *evloop;	/* event loops: iterations, stalls */
	struct cw_ev_cost cost;		/* the latest CW_EV_COST (hdr.type 0: none yet) */
	__u64 tick_ts;			/* the newest CW_EV_TICK's time, and its flags */
	__u16 tick_flags;
};

#define SITE_NONE UINT32_MAX

static int ptr_vec__push(struct ptr_vec *pv, void *p)
{
	void **v = cw_grow(pv->v, &pv->cap, pv->nr + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	pv->v = v;
	pv->v[pv->nr++] = p;
	return 0;
}

/*
 * Find the entry for key (a, b) or make a zeroed one of size bytes. NULL when memory
 * ran out. *created says which.
 */
static void *lookup_or_add(struct ptr_vec *pv, struct cw_index *ix, __u64 a, __u64 b, size_t size,
			   int *created)
{
	__u32 slot;
	void *p;

	*created = 0;
	if (!cw_index__get(ix, a, b, &slot))
		return pv->v[slot];
	if (pv->nr >= UINT32_MAX)
		return NULL;
	p = calloc(1, size);
	if (!p)
		return NULL;
	if (ptr_vec__push(pv, p)) {
		free(p);
		return NULL;
	}
	if (cw_index__put(ix, a, b, pv->nr - 1)) {
		pv->nr--;
		free(p);
		return NULL;
	}
	*created = 1;
	return p;
}

static void *find_entry(const struct ptr_vec *pv, const struct cw_index *ix, __u64 a, __u64 b)
{
	__u32 slot;

	return cw_index__get(ix, a, b, &slot) ? NULL : pv->v[slot];
}

struct cw_engine *cw_engine__new(void)
{
	struct cw_engine *eng = calloc(1, sizeof(*eng));

	if (eng) {
		eng->lg = cw_lg__new();
		eng->wf = cw_wf__new();
		eng->ll = cw_ll__new();
		eng->prio = cw_prio__new();
		eng->evloop = cw_evloop__new();
	}
	if (eng && (!eng->lg || !eng->wf || !eng->ll || !eng->prio || !eng->evloop)) {
		cw_lg__free(eng->lg);
		cw_wf__free(eng->wf);
		cw_ll__free(eng->ll);
		cw_prio__free(eng->prio);
		cw_evloop__free(eng->evloop);
		free(eng);
		return NULL;
	}
	return eng;
}

void cw_engine__free(struct cw_engine *eng)
{
	if (!eng)
		return;
	for (size_t i = 0; i < eng->locks.nr; i++) {
		struct cw_lock *l = eng->locks.v[i];

		free(l->users);
		free(l->sites);
		free(l);
	}
	for (size_t i = 0; i < eng->threads.nr; i++)
		free(eng->threads.v[i]);
	for (size_t i = 0; i < eng->stacks.nr; i++) {
		struct cw_stack *s = eng->stacks.v[i];

		free(s->ips);
		free(s->raw);
		free(s);
	}
	for (size_t i = 0; i < eng->modules.nr; i++) {
		struct cw_module *m = eng->modules.v[i];

		free(m->path);
		free(m);
	}
	free(eng->locks.v);
	free(eng->threads.v);
	free(eng->stacks.v);
	free(eng->modules.v);
	free(eng->sites);
	cw_index__fini(&eng->site_ix);
	cw_index__fini(&eng->futex_pid_ix);
	cw_index__fini(&eng->lock_ix);
	cw_index__fini(&eng->thread_ix);
	cw_index__fini(&eng->stack_ix);
	cw_index__fini(&eng->module_ix);
	cw_lg__free(eng->lg);
	cw_wf__free(eng->wf);
	cw_ll__free(eng->ll);
	cw_prio__free(eng->prio);
	cw_evloop__free(eng->evloop);
	free(eng);
}

static struct cw_thread *get_thread(struct cw_engine *eng, __u32 pid, __u32 tid, __u64 ts)
{
	struct cw_thread *t;
	int created;

	t = lookup_or_add(&eng->threads, &eng->thread_ix, pid, tid, sizeof(*t), &created);
	if (!t)
		return NULL;
	if (created) {
		t->pid = pid;
		t->tid = tid;
		t->first_ts = ts;
	}
	t->last_ts = ts;
	return t;
}

static void *grow_array(void **v, size_t *nr, size_t *cap, size_t size);

static struct cw_lock_user *cw_lock__user_mut(struct cw_lock *l, __u32 tid)
{
	return (struct cw_lock_user *)cw_lock__user(l, tid);
}

static struct cw_lock_user *get_user(struct cw_lock *l, __u32 tid)
{
	struct cw_lock_user *u = (struct cw_lock_user *)cw_lock__user(l, tid);

	if (u)
		return u;
	u = grow_array((void **)&l->users, &l->nr_users, &l->cap_users, sizeof(*u));
	if (u)
		u->tid = tid;
	return u;
}

static struct cw_lock *get_lock(struct cw_engine *eng, __u32 pid, __u64 addr, __u8 kind, __u64 ts)
{
	struct cw_lock *l;
	int created;

	l = lookup_or_add(&eng->locks, &eng->lock_ix, pid, addr, sizeof(*l), &created);
	if (!l)
		return NULL;
	if (created) {
		l->pid = pid;
		l->addr = addr;
		l->kind = kind;
		l->first_ts = ts;
		l->seq = eng->seq++;
	}
	l->last_ts = ts;
	return l;
}

static void add_wait(struct cw_lock *l, __u64 total, __u64 max)
{
	l->wait_ns_total += total;
	if (max > l->wait_ns_max)
		l->wait_ns_max = max;
}

/* One measured wait, for the raw records: its total, its max, its histogram bucket. */
static void add_one_wait(struct cw_lock *l, __u64 ns)
{
	add_wait(l, ns, ns);
	l->wait_hist[cw_hist_bucket(ns)]++;
}

static void add_hist(__u64 *dst, const __u32 *src)
{
	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		dst[i] += src[i];
}

static void site_add_wait(struct cw_lock_site *site, __u64 total, __u64 max)
{
	site->wait_ns_total += total;
	if (max > site->wait_ns_max)
		site->wait_ns_max = max;
}

static struct cw_lock_site *get_site(struct cw_lock *l, __u64 stack_id);

static __u64 site_hash(__u64 addr, __u64 stack_id, __u8 what)
{
	return addr ^ (stack_id << 17 | stack_id >> 47) ^ ((__u64)what << 58);
}

static int site_is(const struct cw_view_site *v, __u32 pid, __u32 tid, __u64 addr,
		   __u64 stack_id, __u8 what)
{
	return v->pid == pid && v->tid == tid && v->addr == addr && v->stack_id == stack_id &&
	       v->what == what;
}

static struct cw_view_site *find_view_site(const struct cw_engine *eng, __u32 pid, __u32 tid,
					   __u64 addr, __u64 stack_id, __u8 what)
{
	__u32 slot;

	if (cw_index__get(&eng->site_ix, (__u64)pid << 32 | tid, site_hash(addr, stack_id, what),
			  &slot))
		return NULL;
	for (; slot != SITE_NONE; slot = eng->sites[slot].next)
		if (site_is(&eng->sites[slot], pid, tid, addr, stack_id, what))
			return &eng->sites[slot];
	return NULL;
}

/* The entry of the record's key, a zeroed one when new; NULL without memory. */
static struct cw_view_site *get_view_site(struct cw_engine *eng, const struct cw_ev_lock_stats *s)
{
	__u64 a = (__u64)s->hdr.pid << 32 | s->hdr.tid, b = site_hash(s->addr, s->stack_id, s->what);
	struct cw_view_site *v = find_view_site(eng, s->hdr.pid, s->hdr.tid, s->addr, s->stack_id,
						s->what);
	__u32 head;

	if (v)
		return v;
	if (eng->nr_sites >= SITE_NONE)
		return NULL;
	v = cw_grow(eng->sites, &eng->cap_sites, eng->nr_sites + 1, sizeof(*v));
	if (!v)
		return NULL;
	eng->sites = v;
	if (cw_index__get(&eng->site_ix, a, b, &head))
		head = SITE_NONE;
	/* a hash shared with other keys: the new entry heads the chain */
	if (cw_index__put(&eng->site_ix, a, b, eng->nr_sites))
		return NULL;
	v = &eng->sites[eng->nr_sites++];
	memset(v, 0, sizeof(*v));
	v->pid = s->hdr.pid;
	v->tid = s->hdr.tid;
	v->addr = s->addr;
	v->stack_id = s->stack_id;
	v->what = s->what;
	v->kind = s->kind;
	v->first_ts = s->hdr.ts_ns;
	v->seq = eng->seq++;
	v->next = head;
	return v;
}

/*
 * The first futex statistics of a process: from now on they are its futex figures, and
 * what its raw futex records added to its threads is dropped (a stream may carry both,
 * and the statistics cover every wait).
 */
static int futex_sites_begin(struct cw_engine *eng, __u32 pid)
{
	__u32 v;

	if (!cw_index__get(&eng->futex_pid_ix, pid, 0, &v))
		return 0;
	if (cw_index__put(&eng->futex_pid_ix, pid, 0, 1))
		return -ENOMEM;
	for (size_t i = 0; i < eng->threads.nr; i++) {
		struct cw_thread *t = eng->threads.v[i];

		if (t->pid == pid)
			t->futex_waits = t->futex_wait_ns = 0;
	}
	return 0;
}

/*
 * The first kernel-lock statistics of a process: from now on they make its kernel locks'
 * rows, and what its raw records (record --timeline sends both) added is dropped.
 */
static int klock_sites_begin(struct cw_engine *eng, __u32 pid)
{
	__u32 v;

	if (!cw_index__get(&eng->futex_pid_ix, pid, 1, &v))
		return 0;
	if (cw_index__put(&eng->futex_pid_ix, pid, 1, 1))
		return -ENOMEM;
	for (size_t i = 0; i < eng->locks.nr; i++) {
		struct cw_lock *l = eng->locks.v[i];

		if (l->pid != pid || l->kind != CW_LOCK_KERNEL)
			continue;
		l->begins = l->acquisitions = l->failures = l->contentions = 0;
		l->wait_ns_total = l->wait_ns_max = 0;
		memset(l->wait_hist, 0, sizeof(l->wait_hist));
		l->nr_users = 0;
		l->nr_sites = 0;
	}
	return 0;
}

int cw_engine__has_klock_sites(const struct cw_engine *eng, __u32 pid)
{
	__u32 v;

	return !cw_index__get(&eng->futex_pid_ix, pid, 1, &v);
}

/* Kernel lock statistics make and feed the same cw_lock rows as the raw records. */
static int klock_stats_to_lock(struct cw_engine *eng, const struct cw_ev_lock_stats *s)
{
	struct cw_lock_site *site;
	struct cw_lock *l;

	l = get_lock(eng, s->hdr.pid, s->addr, CW_LOCK_KERNEL, s->hdr.ts_ns);
	if (!l)
		return -ENOMEM;
	site = get_site(l, s->stack_id);
	if (!site)
		return -ENOMEM;
	l->known |= CW_LOCK_KNOWN_CONTENTIONS;
	l->site_flags |= s->flags;
	l->klock_flags = s->op;
	/* as the raw records count: acquisitions are the contentions that took the lock */
	l->begins += s->contentions;
	l->contentions += s->contentions;
	l->acquisitions += s->acquisitions > s->failures ? s->acquisitions - s->failures : 0;
	l->failures += s->failures;
	add_wait(l, s->wait_ns_total, s->wait_ns_max);
	add_hist(l->wait_hist, s->wait_hist);
	site->begins += s->contentions;
	site->acquisitions += s->acquisitions > s->failures ? s->acquisitions - s->failures : 0;
	site->contentions += s->contentions;
	site_add_wait(site, s->wait_ns_total, s->wait_ns_max);
	return 0;
}

static int feed_view_stats(struct cw_engine *eng, const struct cw_ev_lock_stats *s)
{
	struct cw_view_site *v;
	struct cw_thread *t = NULL;
	int err;

	if (s->what == CW_SITE_FUTEX) {
		t = get_thread(eng, s->hdr.pid, s->hdr.tid, s->hdr.ts_ns);
		if (!t)
			return -ENOMEM;
		err = futex_sites_begin(eng, s->hdr.pid);
		if (err)
			return err;
	}
	v = get_view_site(eng, s);
	if (!v)
		return -ENOMEM;
	if (s->what == CW_SITE_KLOCK) {
		err = klock_sites_begin(eng, s->hdr.pid);
		if (!err)
			err = klock_stats_to_lock(eng, s);
		if (err)
			return err;
	}
	if (s->attr & CW_ATTR_KNOWN)
		v->attr = s->attr;
	v->flags |= s->flags;
	v->acquisitions += s->acquisitions;
	v->contentions += s->contentions;
	v->failures += s->failures;
	v->wait_ns_total += s->wait_ns_total;
	if (s->wait_ns_max > v->wait_ns_max)
		v->wait_ns_max = s->wait_ns_max;
	v->hold_ns_total += s->hold_ns_total;
	if (s->hold_ns_max > v->hold_ns_max)
		v->hold_ns_max = s->hold_ns_max;
	for (int i = 0; i < CW_FUTEX_OUTCOMES; i++)
		v->outcomes[i] += s->outcomes[i];
	add_hist(v->hist, s->wait_hist);
	if (s->hdr.ts_ns >= v->last_ts) {
		v->last_ts = s->hdr.ts_ns;
		if (s->owner_tid || s->what != CW_SITE_FUTEX)
			v->owner_tid = s->owner_tid;
		v->op = s->op;
	}
	if (t) {
		t->futex_waits += s->acquisitions;
		t->futex_wait_ns += s->wait_ns_total;
	}
	return 0;
}

/*
 * What an aggregating source sends instead of raw records: counts for an interval, per
 * (lock, call path) when stack_id is set. The uprobes' acquisitions make cw_lock rows;
 * the other views are kept per key as they came (cw_view_site), for the contention
 * model (contention.c).
 */
static int feed_stats(struct cw_engine *eng, const struct cw_ev_lock_stats *s)
{
	struct cw_lock *l;
	struct cw_lock_site *site;

	if (s->what == CW_SITE_FUTEX || s->what == CW_SITE_KLOCK || s->what == CW_SITE_WAKE)
		return feed_view_stats(eng, s);
	if (s->what == CW_SITE_TRY)
		return cw_ll__feed_stats(eng->ll, s);
	if (s->what != CW_SITE_ACQUIRE)
		return 0;	/* a view newer than this engine: nothing reads it */
	l = get_lock(eng, s->hdr.pid, s->addr, s->kind, s->hdr.ts_ns);
	if (!l)
		return -ENOMEM;
	site = get_site(l, s->stack_id);
	if (!site)
		return -ENOMEM;
	if (s->attr & CW_ATTR_KNOWN)
		l->attr = s->attr;
	if (!l->first_ip && s->acquisitions)
		l->first_ip = s->ip;
	if (!site->ip && s->acquisitions)
		site->ip = s->ip;
	l->site_flags |= s->flags;
	site->acquisitions += s->acquisitions;
	site->contentions += s->contentions;
	site_add_wait(site, s->wait_ns_total, s->wait_ns_max);
	l->acquisitions += s->acquisitions;
	l->contentions += s->contentions;
	l->failures += s->failures;
	add_wait(l, s->wait_ns_total, s->wait_ns_max);
	add_hist(l->wait_hist, s->wait_hist);
	l->hold_ns_total += s->hold_ns_total;
	if (s->hold_ns_max > l->hold_ns_max)
		l->hold_ns_max = s->hold_ns_max;
	l->known |= CW_LOCK_KNOWN_CONTENTIONS | CW_LOCK_KNOWN_HOLD;
	return 0;
}

static int feed_thread_stats(struct cw_engine *eng, const struct cw_ev_thread_stats *e)
{
	struct cw_thread *t = get_thread(eng, e->hdr.pid, e->hdr.tid, e->hdr.ts_ns);

	if (!t)
		return -ENOMEM;
	/* cumulative figures: the newest record says everything the older ones did */
	if (!t->has_stats || e->hdr.ts_ns >= t->stats.hdr.ts_ns) {
		t->stats = *e;
		t->has_stats = 1;
	}
	return 0;
}

static int feed_thread_state(struct cw_engine *eng, const struct cw_ev_thread_state *e)
{
	struct cw_thread *t = get_thread(eng, e->hdr.pid, e->hdr.tid, e->hdr.ts_ns);

	if (!t)
		return -ENOMEM;
	if (!t->has_state || e->hdr.ts_ns >= t->state.hdr.ts_ns) {
		t->state = *e;
		t->has_state = 1;
	}
	return 0;
}

/* Append a zeroed element to a growable array of elements of size bytes. */
static void *grow_array(void **v, size_t *nr, size_t *cap, size_t size)
{
	unsigned char *p = cw_grow(*v, cap, *nr + 1, size);

	if (!p)
		return NULL;
	*v = p;
	p += (*nr)++ * size;
	memset(p, 0, size);
	return p;
}

static struct cw_lock_site *get_site(struct cw_lock *l, __u64 stack_id)
{
	struct cw_lock_site *s = (struct cw_lock_site *)cw_lock__site(l, stack_id);

	if (s)
		return s;
	s = grow_array((void **)&l->sites, &l->nr_sites, &l->cap_sites, sizeof(*s));
	if (s)
		s->stack_id = stack_id;
	return s;
}

static struct cw_stack *get_stack(struct cw_engine *eng, const struct cw_hdr *h, __u16 space,
				  __u64 id)
{
	struct cw_stack *s;
	int created;

	s = lookup_or_add(&eng->stacks, &eng->stack_ix, (__u64)h->pid << 16 | space, id, sizeof(*s),
			  &created);
	if (s && created) {
		s->pid = h->pid;
		s->tid = h->tid;
		s->space = space;
		s->id = id;
		s->first_ts = h->ts_ns;
	}
	return s;
}

static int feed_stack(struct cw_engine *eng, const struct cw_ev_stack *e)
{
	struct cw_stack *s = get_stack(eng, &e->hdr, e->space, e->stack_id);

	if (!s)
		return -ENOMEM;
	if (s->ips)
		return 0; /* sent again after the source forgot it: nothing new */
	s->ips = malloc((e->nr ? e->nr : 1) * sizeof(__u64));
	if (!s->ips)
		return -ENOMEM;
	memcpy(s->ips, e->ips, e->nr * sizeof(__u64));
	s->nr = e->nr;
	s->flags = e->flags;
	return 0;
}

static int feed_raw(struct cw_engine *eng, const struct cw_ev_ustack_raw *e)
{
	struct cw_stack *s = get_stack(eng, &e->hdr, CW_STACK_USER, e->stack_id);

	if (!s)
		return -ENOMEM;
	if (s->has_raw)
		return 0;
	s->raw = malloc(e->len ? e->len : 1);
	if (!s->raw)
		return -ENOMEM;
	memcpy(s->raw, e->data, e->len);
	s->raw_len = e->len;
	s->raw_flags = e->flags;
	s->ip = e->ip;
	s->sp = e->sp;
	s->bp = e->bp;
	s->has_raw = 1;
	return 0;
}

static int feed_module(struct cw_engine *eng, const struct cw_ev_module *e)
{
	struct cw_module *m;
	int created;

	m = lookup_or_add(&eng->modules, &eng->module_ix, e->hdr.pid, e->start, sizeof(*m), &created);
	if (!m)
		return -ENOMEM;
	if (!created && m->end == e->end && m->inode == e->inode && m->pgoff == e->pgoff)
		return 0; /* sent again: the same mapping */
	free(m->path);
	m->path = malloc(e->path_len);
	if (!m->path)
		return -ENOMEM;
	memcpy(m->path, e->path, e->path_len);
	m->pid = e->hdr.pid;
	m->start = e->start;
	m->end = e->end;
	m->pgoff = e->pgoff;
	m->inode = e->inode;
	m->dev = e->dev;
	m->flags = e->flags;
	m->build_id_len = e->build_id_len;
	memcpy(m->build_id, e->build_id, sizeof(m->build_id));
	return 0;
}

static int feed_futex(struct cw_engine *eng, const struct cw_ev_futex *e)
{
	struct cw_thread *t = get_thread(eng, e->hdr.pid, e->hdr.tid, e->hdr.ts_ns);

	if (!t)
		return -ENOMEM;
	if (cw_engine__has_futex_sites(eng, e->hdr.pid))
		return 0;	/* its futex statistics count these waits already */
	if (e->hdr.type == CW_EV_FUTEX_END && cw_futex_op_blocks(e->op)) {
		t->futex_waits++;
		t->futex_wait_ns += e->wait_ns;
	}
	return 0;
}

/* Kernel lock contention: the threads waited; their kernel stacks are the call paths. */
static int feed_klock(struct cw_engine *eng, const struct cw_ev_klock *e)
{
	const struct cw_hdr *h = &e->hdr;
	struct cw_lock_site *site;
	struct cw_thread *t;
	struct cw_lock *l;

	t = get_thread(eng, h->pid, h->tid, h->ts_ns);
	if (!t)
		return -ENOMEM;
	if (cw_engine__has_klock_sites(eng, h->pid))
		return 0;	/* its statistics count these contentions already */
	l = get_lock(eng, h->pid, e->addr, CW_LOCK_KERNEL, h->ts_ns);
	if (!l)
		return -ENOMEM;
	l->known |= CW_LOCK_KNOWN_CONTENTIONS;
	site = get_site(l, e->kstack_id);
	if (!site || !get_user(l, h->tid))
		return -ENOMEM;
	l->klock_flags = e->lock_flags & ~CW_KLOCK_F_MMAP_LOCK;
	if (e->lock_flags & CW_KLOCK_F_MMAP_LOCK)
		l->site_flags |= CW_SITE_F_MMAP_LOCK;
	if (h->type == CW_EV_KLOCK_BEGIN) {
		l->begins++;
		l->contentions++;
		cw_lock__user_mut(l, h->tid)->begins++;
		site->begins++;
		return 0;
	}
	if (e->result) {
		l->failures++; /* interrupted, or timed out: the lock was not taken */
		cw_lock__user_mut(l, h->tid)->failures++;
		return 0;
	}
	l->acquisitions++;
	cw_lock__user_mut(l, h->tid)->acquisitions++;
	cw_lock__user_mut(l, h->tid)->wait_ns_total += e->wait_ns;
	add_one_wait(l, e->wait_ns);
	site->acquisitions++;
	site->contentions++;
	site_add_wait(site, e->wait_ns, e->wait_ns);
	return 0;
}

static int feed_lock(struct cw_engine *eng, const struct cw_ev_lock *e)
{
	const struct cw_hdr *h = &e->hdr;
	struct cw_lock_site *site = NULL;
	struct cw_lock_user *u;
	struct cw_thread *t;
	struct cw_lock *l;

	t = get_thread(eng, h->pid, h->tid, h->ts_ns);
	l = get_lock(eng, h->pid, e->addr, e->kind, h->ts_ns);
	if (!t || !l)
		return -ENOMEM;
	if (e->attr & CW_ATTR_KNOWN)
		l->attr = e->attr;
	if (h->type == CW_EV_LOCK_INIT || h->type == CW_EV_LOCK_DESTROY) {
		/* a new lifetime: what the address did before says nothing of the lock now */
		if (h->type == CW_EV_LOCK_INIT)
			l->init_ip = e->ip;
		return cw_lg__lock_reset(eng->lg, h->pid, e->addr);
	}
	u = get_user(l, h->tid);
	if (!u)
		return -ENOMEM;
	l->known |= CW_LOCK_KNOWN_OPS;
	if (h->type == CW_EV_LOCK_BEGIN || h->type == CW_EV_LOCK_ACQUIRED) {
		site = get_site(l, e->stack_id);
		if (!site)
			return -ENOMEM;
	}

	switch (h->type) {
	case CW_EV_LOCK_BEGIN:
		l->begins++;
		u->begins++;
		site->begins++;
		break;
	case CW_EV_LOCK_ACQUIRED:
		/* EOWNERDEAD: a robust mutex whose owner died, acquired all the same */
		if (e->result && e->result != EOWNERDEAD) {
			l->failures++;
			u->failures++;
			break;
		}
		if (!l->first_ip)
			l->first_ip = e->ip;
		if (!site->ip)
			site->ip = e->ip;
		l->acquisitions++;
		u->acquisitions++;
		u->wait_ns_total += e->wait_ns;
		add_one_wait(l, e->wait_ns);
		site->acquisitions++;
		site_add_wait(site, e->wait_ns, e->wait_ns);
		t->lock_acquisitions++;
		t->lock_wait_ns += e->wait_ns;
		break;
	case CW_EV_LOCK_RELEASED:
		l->releases++;
		u->releases++;
		break;
	}
	return 0;
}

int cw_engine__feed(void *ctx, const struct cw_hdr *h)
{
	struct cw_engine *eng = ctx;
	struct cw_engine_counts *c = &eng->counts;
	struct cw_thread *t;
	int err;

	err = cw_record__check(h, h->size);
	if (err == -ENOENT) {
		c->unknown++;
		return 0;
	}
	if (err) {
		c->malformed++;
		return 0;
	}

	if (!c->records)
		eng->first_ts = h->ts_ns;
	c->records++;
	c->by_type[h->type]++;
	/* made-up stacks, ticks and losses are counted as such (a look sends all three) */
	if ((h->flags & CW_F_SYNTHETIC) && h->type != CW_EV_TICK && h->type != CW_EV_LOST &&
	    h->type != CW_EV_STACK && h->type != CW_EV_USTACK_RAW)
		c->synthetic++;
	if (h->ts_ns < eng->now_ns)
		c->out_of_order++;
	else
		eng->now_ns = h->ts_ns;

	switch (h->type) {
	case CW_EV_LOCK_BEGIN:
	case CW_EV_LOCK_ACQUIRED:
	case CW_EV_LOCK_RELEASED:
	case CW_EV_LOCK_INIT:
	case CW_EV_LOCK_DESTROY:
		err = feed_lock(eng, (const struct cw_ev_lock *)h) ?: cw_wf__feed(eng->wf, h) ?:
		      cw_ll__feed_lock(eng->ll, (const struct cw_ev_lock *)h);
		break;
	case CW_EV_BLOCKED:
		/* the blocked thread is alive: a look at a process names its threads so */
		t = get_thread(eng, h->pid, h->tid, h->ts_ns);
		err = t ? cw_wf__feed(eng->wf, h) : -ENOMEM;
		if (!err)
			err = cw_prio__feed(eng->prio, h);
		break;
	case CW_EV_PRIO_INVERSION:
	case CW_EV_PRIO_STACKS:
	case CW_EV_PRIO_CHANGE:
		/* the holder is a thread of the process (the preemptor need not be) */
		t = get_thread(eng, h->pid, h->tid, h->ts_ns);
		err = t ? cw_prio__feed(eng->prio, h) : -ENOMEM;
		break;
	case CW_EV_LOCK_STATS:
		err = feed_stats(eng, (const struct cw_ev_lock_stats *)h);
		break;
	case CW_EV_THREAD_STATS:
		err = feed_thread_stats(eng, (const struct cw_ev_thread_stats *)h);
		break;
	case CW_EV_THREAD_STATE:
		err = feed_thread_state(eng, (const struct cw_ev_thread_state *)h);
		break;
	case CW_EV_LOOP_STALL:
	case CW_EV_LOOP_STATS:
	case CW_EV_LOOP_BLOCK:
	case CW_EV_LOOP_SAMPLE:
		t = get_thread(eng, h->pid, h->tid, h->ts_ns);
		err = t ? cw_evloop__feed(eng->evloop, h) : -ENOMEM;
		break;
	case CW_EV_STACK:
		err = feed_stack(eng, (const struct cw_ev_stack *)h);
		break;
	case CW_EV_USTACK_RAW:
		err = feed_raw(eng, (const struct cw_ev_ustack_raw *)h);
		break;
	case CW_EV_MODULE:
		err = feed_module(eng, (const struct cw_ev_module *)h);
		break;
	case CW_EV_FUTEX_BEGIN:
	case CW_EV_FUTEX_END:
		err = feed_futex(eng, (const struct cw_ev_futex *)h);
		break;
	case CW_EV_KLOCK_BEGIN:
	case CW_EV_KLOCK_END:
		err = feed_klock(eng, (const struct cw_ev_klock *)h);
		break;
	case CW_EV_LOCK_EDGE:
		err = cw_lg__add_edge(eng->lg, (const struct cw_ev_edge *)h);
		break;
	case CW_EV_COMM:
		/*
		 * sources deliver out of time order: the library's name, read when the thread
		 * took its slot, can come after the scheduler's record of a later rename
		 */
		t = get_thread(eng, h->pid, h->tid, h->ts_ns);
		if (!t) {
			err = -ENOMEM;
		} else if (!t->comm[0] || h->ts_ns >= t->comm_ts) {
			memcpy(t->comm, ((const struct cw_ev_comm *)h)->comm, CW_COMM_LEN - 1);
			t->comm_ts = h->ts_ns;
		}
		break;
	case CW_EV_EXIT:
		t = get_thread(eng, h->pid, h->tid, h->ts_ns);
		if (!t)
			err = -ENOMEM;
		else
			t->exited = 1;
		if (!err)
			err = cw_wf__feed(eng->wf, h);
		break;
	case CW_EV_TICK:
		c->ticks++;
		if (h->flags & CW_F_NO_UPROBES)
			c->ticks_no_uprobes++;
		if (h->flags & CW_F_NO_SCHED)
			c->ticks_no_sched++;
		/* what the source does now: the newest tick says it, an older one came late */
		if (h->ts_ns >= eng->tick_ts) {
			eng->tick_ts = h->ts_ns;
			eng->tick_flags = h->flags;
		}
		/* the clock moved while the target may send nothing: hangs are confirmed here */
		err = cw_wf__tick(eng->wf, eng, eng->now_ns) ?: cw_ll__tick(eng->ll, eng->now_ns);
		break;
	case CW_EV_COST:
		/* running totals: the newest says everything */
		if (h->ts_ns >= eng->cost.hdr.ts_ns) {
			/* an older source's is shorter: what it lacks is 0, not known */
			memset(&eng->cost, 0, sizeof(eng->cost));
			memcpy(&eng->cost, h, h->size < sizeof(eng->cost) ? h->size :
					       sizeof(eng->cost));
		}
		break;
	case CW_EV_LOST: {
		const struct cw_ev_lost *l = (const void *)h;

		if (l->what < CW_LOST_MAX)
			c->lost[l->what] += l->count;
		else
			c->lost_unknown_kind += l->count;
		c->lost_total += l->count;
		break;
	}
	}
	if (err) {
		/* the model could not take it: as good as a dropped record, so say so */
		c->lost[CW_LOST_MAP_FULL]++;
		c->lost_total++;
	}
	return 0;
}

__u64 cw_engine__events(const struct cw_engine *eng)
{
	const struct cw_engine_counts *c = &eng->counts;

	/* stacks and the module map describe operations; they are none themselves */
	return c->records - c->ticks - c->by_type[CW_EV_LOST] - c->synthetic -
	       c->by_type[CW_EV_STACK] - c->by_type[CW_EV_USTACK_RAW] - c->by_type[CW_EV_COST];
}

const struct cw_ev_cost *cw_engine__cost(const struct cw_engine *eng)
{
	return eng->cost.hdr.type ? &eng->cost : NULL;
}

__u16 cw_engine__tick_flags(const struct cw_engine *eng)
{
	return eng->tick_flags;
}

__u64 cw_engine__now(const struct cw_engine *eng)
{
	return eng->now_ns;
}

__u64 cw_engine__first_ts(const struct cw_engine *eng)
{
	return eng->first_ts;
}

const struct cw_engine_counts *cw_engine__counts(const struct cw_engine *eng)
{
	return &eng->counts;
}

size_t cw_engine__nr_locks(const struct cw_engine *eng)
{
	return eng->locks.nr;
}

const struct cw_lock *cw_engine__lock(const struct cw_engine *eng, size_t i)
{
	return i < eng->locks.nr ? eng->locks.v[i] : NULL;
}

const struct cw_lock *cw_engine__find_lock(const struct cw_engine *eng, __u32 pid, __u64 addr)
{
	return find_entry(&eng->locks, &eng->lock_ix, pid, addr);
}

const struct cw_lock_site *cw_lock__site(const struct cw_lock *l, __u64 stack_id)
{
	for (size_t i = 0; i < l->nr_sites; i++)
		if (l->sites[i].stack_id == stack_id)
			return &l->sites[i];
	return NULL;
}

const struct cw_stack *cw_engine__find_stack(const struct cw_engine *eng, __u32 pid, __u16 space,
					     __u64 id)
{
	return find_entry(&eng->stacks, &eng->stack_ix, (__u64)pid << 16 | space, id);
}

size_t cw_engine__nr_stacks(const struct cw_engine *eng)
{
	return eng->stacks.nr;
}

const struct cw_stack *cw_engine__stack(const struct cw_engine *eng, size_t i)
{
	return i < eng->stacks.nr ? eng->stacks.v[i] : NULL;
}

const struct cw_lg *cw_engine__lockgraph(const struct cw_engine *eng)
{
	return eng->lg;
}

size_t cw_engine__nr_modules(const struct cw_engine *eng)
{
	return eng->modules.nr;
}

const struct cw_module *cw_engine__module(const struct cw_engine *eng, size_t i)
{
	return i < eng->modules.nr ? eng->modules.v[i] : NULL;
}

const struct cw_lock_user *cw_lock__user(const struct cw_lock *l, __u32 tid)
{
	for (size_t i = 0; i < l->nr_users; i++)
		if (l->users[i].tid == tid)
			return &l->users[i];
	return NULL;
}

size_t cw_engine__nr_threads(const struct cw_engine *eng)
{
	return eng->threads.nr;
}

const struct cw_thread *cw_engine__thread(const struct cw_engine *eng, size_t i)
{
	return i < eng->threads.nr ? eng->threads.v[i] : NULL;
}

const struct cw_thread *cw_engine__find_thread(const struct cw_engine *eng, __u32 pid, __u32 tid)
{
	return find_entry(&eng->threads, &eng->thread_ix, pid, tid);
}

const struct cw_ev_thread_stats *cw_thread__stats(const struct cw_thread *t)
{
	return t->has_stats ? &t->stats : NULL;
}

size_t cw_engine__nr_view_sites(const struct cw_engine *eng)
{
	return eng->nr_sites;
}

const struct cw_view_site *cw_engine__view_site(const struct cw_engine *eng, size_t i)
{
	return i < eng->nr_sites ? &eng->sites[i] : NULL;
}

const struct cw_view_site *cw_engine__find_view_site(const struct cw_engine *eng, __u32 pid,
						     __u32 tid, __u64 addr, __u64 stack_id,
						     __u8 what)
{
	return find_view_site(eng, pid, tid, addr, stack_id, what);
}

int cw_engine__has_futex_sites(const struct cw_engine *eng, __u32 pid)
{
	__u32 v;

	return !cw_index__get(&eng->futex_pid_ix, pid, 0, &v);
}

const struct cw_wf *cw_engine__waitfor(const struct cw_engine *eng)
{
	return eng->wf;
}

const struct cw_ll *cw_engine__livelock(const struct cw_engine *eng)
{
	return eng->ll;
}

void cw_engine__set_livelock_threshold(struct cw_engine *eng, __u64 ns)
{
	cw_ll__set_threshold(eng->ll, ns);
}

void cw_engine__set_wait_window(struct cw_engine *eng, __u64 ns)
{
	cw_wf__set_window(eng->wf, ns);
}

const struct cw_prio *cw_engine__prio(const struct cw_engine *eng)
{
	return eng->prio;
}

const struct cw_evloop *cw_engine__evloop(const struct cw_engine *eng)
{
	return eng->evloop;
}

void cw_engine__set_stall_threshold(struct cw_engine *eng, __u64 ns)
{
	cw_evloop__set_threshold(eng->evloop, ns);
}

void cw_engine__set_block_threshold(struct cw_engine *eng, __u64 ns)
{
	cw_evloop__set_block_threshold(eng->evloop, ns);
}

void cw_engine__set_pi_threshold(struct cw_engine *eng, __u64 ns)
{
	cw_prio__set_threshold(eng->prio, ns);
}
