// SPDX-License-Identifier: GPL-2.0
/*
 * The contention model (contention.h), built from what the engine holds:
 *
 *  - the uprobes' view: cw_lock rows of every kind but CW_LOCK_KERNEL (per-operation
 *    records, or CW_SITE_ACQUIRE statistics);
 *  - the futex view: CW_SITE_FUTEX sites, each (pid, word, stack) classified once by the
 *    caller's classifier into an object (the mutex, the condvar the word is in...); a
 *    word no classifier explains stays a CW_LOCK_FUTEX object at the word;
 *  - the kernel view: cw_lock rows of kind CW_LOCK_KERNEL (raw records or CW_SITE_KLOCK);
 *  - the wakes: CW_SITE_WAKE sites, attached to the object their word belongs to.
 *
 * One object per (pid, address). Two views of one object measure the same waits from
 * two places (the acquire call around the futex call), so its wait total is the larger
 * of theirs, never their sum; its histogram, percentiles and waiters come from that same
 * view, so that they agree with the total.
 *
 * Ranking is by wait total, largest first; ties by first appearance in the stream
 * (cw_lock.seq, cw_view_site.seq), so the same stream and classifier give the same model.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/contention.h"
#include "engine/engine.h"
#include "engine/index.h"

struct obj {
	struct cw_hot_object o;
	int kind_classified;	/* o.kind came from the uprobes or a classifier: keep it */
	const struct cw_lock *lock;	/* the uprobes' (or kernel) row, NULL = none */
	/* the futex view, summed over the object's words, threads and call paths */
	__u64 f_calls, f_slept, f_timeouts, f_wait, f_max;
	__u64 f_hist[CW_HIST_BUCKETS];
	__u32 owner;		/* latest non-zero owner_tid of its futex sites */
	__u64 owner_ts, owner_seq;
	struct cw_hot_path *f_paths;	/* futex waiters by stack */
	size_t nr_f_paths, cap_f_paths;
	struct cw_hot_thread *f_threads;
	size_t nr_f_threads, cap_f_threads;
	size_t cap_holders, cap_threads, cap_waiters;
};

struct cw_contention {
	struct obj *objs;
	size_t nr_objs, cap_objs;
	struct cw_index obj_ix;		/* (pid, addr) -> slot in objs */
	struct cw_index word_ix;	/* (pid, futex word) -> slot in objs, first class wins */
	/* while building: (slot << 32, stack) -> futex waiter, (slot << 32 | 1, tid) -> thread */
	struct cw_index path_ix;
	struct cw_index holder_ix;	/* (slot << 32 | tid, stack) -> holder */
	struct cw_index klock_ix;	/* (LCB_F_* << 32 | pid, addr) -> kernel lock's slot */
	size_t *users;			/* user-space objects' slots, ranked */
	size_t nr_users;
	size_t *klocks;			/* kernel locks' slots, ranked */
	size_t nr_klocks;
	struct cw_thread_time *threads;
	size_t nr_threads;
	__u64 traced_ns;
	unsigned int pct;
};

__u64 cw_hist__percentile(const __u64 *hist, unsigned int pct)
{
	__u64 total = 0, want, seen = 0;

	if (pct > 100)
		pct = 100;
	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		total += hist[i];
	if (!total)
		return 0;
	/* the smallest bucket with at least pct% of the values at or below it: ceil, and
	 * no overflow (no 128-bit division either, a libgcc call the engine may not make) */
	want = total / 100 * pct + ((total % 100) * pct + 99) / 100;
	if (!want)
		want = 1;
	for (int i = 0; i < CW_HIST_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return 1ULL << (i + 1);
	}
	return 1ULL << CW_HIST_BUCKETS;
}

/*
 * Whether an object can be a contention hotspot at all: waiting for work (condition
 * variables, semaphores, barriers, joins) never is, nor an object nobody ever blocked on
 * (its wait is the probes' own cost), nor a futex word no libc code could be matched to
 * unless it was locked as a PI futex: such words are as often some runtime's or pool's
 * idle waits (Go parks its idle threads on futexes) as locks, and a finding must not
 * call an idle program contended.
 */
static int hotspot_candidate(const struct cw_hot_object *h)
{
	if (CW_LOCK_WAITS_FOR_WORK(h->kind) || !h->contentions)
		return 0;
	return h->kind != CW_LOCK_FUTEX || (h->flags & CW_HOT_F_PI);
}

int cw_contention__is_hotspot(__u64 wait_ns_total, __u64 traced_ns, unsigned int pct)
{
	if (!traced_ns || !wait_ns_total)
		return 0;
	return (unsigned __int128)wait_ns_total * 100 >= (unsigned __int128)traced_ns * pct;
}

static int lock_kind(__u8 kind)
{
	return kind == CW_LOCK_MUTEX || kind == CW_LOCK_RWLOCK || kind == CW_LOCK_SPIN ||
	       kind == CW_LOCK_LIBC;
}

CW_INDEX_DEFINE_FIND_OR_APPEND(find_obj, struct obj)
CW_INDEX_DEFINE_FIND_OR_APPEND(find_path, struct cw_hot_path)
CW_INDEX_DEFINE_FIND_OR_APPEND(find_hthread, struct cw_hot_thread)

/* The object of (pid, addr), a new one of kind with first appearance seq when none. */
static struct obj *get_obj(struct cw_contention *c, __u32 pid, __u64 addr, __u8 kind, __u64 seq)
{
	int fresh;
	struct obj *o = find_obj(&c->obj_ix, pid, addr, &c->objs, &c->nr_objs, &c->cap_objs,
				 &fresh);

	if (!o)
		return NULL;
	if (!fresh) {
		if (seq < o->o.seq)
			o->o.seq = seq;
		return o;
	}
	o->o.pid = pid;
	o->o.addr = addr;
	o->o.kind = kind;
	o->o.seq = seq;
	return o;
}

/*
 * The path of (tid, stack_id) in v, appended zeroed when new. ix: where the paths of
 * this list are found by (key, stack_id), key naming the list and the tid; NULL: the
 * caller knows the path is new.
 */
static struct cw_hot_path *get_path(struct cw_index *ix, __u64 key, struct cw_hot_path **v,
				    size_t *nr, size_t *cap, __u32 tid, __u16 space,
				    __u64 stack_id)
{
	int fresh;
	struct cw_hot_path *p = find_path(ix, key, stack_id, v, nr, cap, &fresh);

	if (p && fresh) {
		p->tid = tid;
		p->space = space;
		p->stack_id = stack_id;
	}
	return p;
}

/* The thread tid in v, appended zeroed when new; found through ix by (key, tid) as above. */
static struct cw_hot_thread *get_hthread(struct cw_index *ix, __u64 key, struct cw_hot_thread **v,
					 size_t *nr, size_t *cap, __u32 tid)
{
	int fresh;
	struct cw_hot_thread *t = find_hthread(ix, key, tid, v, nr, cap, &fresh);

	if (t && fresh)
		t->tid = tid;
	return t;
}

static void path_add(struct cw_hot_path *p, __u64 count, __u64 total, __u64 max)
{
	p->count += count;
	p->wait_ns_total += total;
	if (max > p->wait_ns_max)
		p->wait_ns_max = max;
}

/* --- the uprobes' and the kernel's lock rows ---------------------------------------- */

static int add_lock_row(struct cw_contention *c, const struct cw_lock *l)
{
	struct obj *o = get_obj(c, l->pid, l->addr, l->kind, l->seq);

	if (!o)
		return -ENOMEM;
	o->lock = l;
	o->kind_classified = 1;
	o->o.kind = l->kind;
	o->o.attr = l->attr;
	o->o.views |= l->kind == CW_LOCK_KERNEL ? CW_VIEW_KLOCK : CW_VIEW_ACQUIRE;
	o->o.flags |= l->site_flags;
	o->o.klock_flags = l->klock_flags;
	o->o.first_ip = l->first_ip;
	o->o.acquire_wait_ns = l->wait_ns_total;
	return 0;
}

/* --- the futex view ----------------------------------------------------------------- */

static int site_key_cmp(const void *a, const void *b)
{
	const struct cw_view_site *x = *(const struct cw_view_site *const *)a;
	const struct cw_view_site *y = *(const struct cw_view_site *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The class of every futex site, by its index among the engine's view sites: the
 * classifier is asked once per (pid, word, stack), in order of the key.
 */
static int classify_sites(const struct cw_engine *eng, const struct cw_contention_opts *opts,
			  struct cw_futex_class *cls)
{
	size_t n = cw_engine__nr_view_sites(eng), nr = 0;
	const struct cw_view_site **v;
	const struct cw_view_site *base = cw_engine__view_site(eng, 0);

	for (size_t i = 0; i < n; i++) {
		const struct cw_view_site *s = cw_engine__view_site(eng, i);

		cls[i] = (struct cw_futex_class){ .kind = CW_LOCK_FUTEX, .object = s->addr };
	}
	if (!opts || !opts->classify || !n)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (base[i].what == CW_SITE_FUTEX)
			v[nr++] = &base[i];
	qsort(v, nr, sizeof(*v), site_key_cmp);
	for (size_t i = 0; i < nr;) {
		struct cw_futex_class k = { .kind = CW_LOCK_FUTEX, .object = v[i]->addr };
		size_t j;

		if (opts->classify(opts->ctx, v[i]->pid, v[i]->addr, v[i]->stack_id, v[i]->op,
				   &k) ||
		    !k.kind || k.kind >= CW_LOCK_KIND_MAX || k.kind == CW_LOCK_KERNEL)
			k = (struct cw_futex_class){ .kind = CW_LOCK_FUTEX, .object = v[i]->addr };
		for (j = i; j < nr && v[j]->pid == v[i]->pid && v[j]->addr == v[i]->addr &&
			    v[j]->stack_id == v[i]->stack_id;
		     j++)
			cls[v[j] - base] = k;
		i = j;
	}
	free(v);
	return 0;
}

/* Per thread (engine order): futex wait time classified as a lock, and the rest. */
struct thread_futex {
	__u64 lock_ns, other_ns;
};

/* FUTEX_LOCK_PI, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2: the word is a lock's own */
static int pi_op(__u32 op)
{
	switch (op & 0x7f) {
	case 6:
	case 11:
	case 13:
		return 1;
	}
	return 0;
}

static int add_futex_site(struct cw_contention *c, const struct cw_view_site *s,
			  const struct cw_futex_class *kc, struct thread_futex *tf,
			  const struct cw_index *thread_ix)
{
	/*
	 * A PI futex is a lock whose word is the lock (a PTHREAD_PRIO_INHERIT mutex's
	 * __lock): a mutex at the word, even where no libc frame named it (glibc's PI path
	 * is a static function, without a name where its debug symbols are missing).
	 */
	struct cw_futex_class pi = { .kind = CW_LOCK_MUTEX, .object = s->addr };
	const struct cw_futex_class *k = kc->kind == CW_LOCK_FUTEX && pi_op(s->op) ? &pi : kc;
	struct obj *o = get_obj(c, s->pid, k->object, k->kind, s->seq);
	struct cw_hot_thread *ht;
	struct cw_hot_path *p;
	__u32 slot;

	if (!o)
		return -ENOMEM;
	if (cw_index__get(&c->word_ix, s->pid, s->addr, &slot) &&
	    cw_index__put(&c->word_ix, s->pid, s->addr, o - c->objs))
		return -ENOMEM;
	if (!o->kind_classified && k->kind != CW_LOCK_FUTEX) {
		o->o.kind = k->kind;
		o->kind_classified = 1;
	}
	if (s->attr & CW_ATTR_KNOWN && !o->o.attr)
		o->o.attr = s->attr;
	o->o.views |= CW_VIEW_FUTEX;
	o->o.flags |= s->flags;
	if (pi_op(s->op))
		o->o.flags |= CW_HOT_F_PI;
	o->f_calls += s->acquisitions;
	o->f_slept += s->contentions;
	o->f_timeouts += s->failures;
	o->f_wait += s->wait_ns_total;
	if (s->wait_ns_max > o->f_max)
		o->f_max = s->wait_ns_max;
	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		o->f_hist[i] += s->hist[i];
	for (int i = 0; i < CW_FUTEX_OUTCOMES; i++)
		o->o.outcomes[i] += s->outcomes[i];
	if (s->owner_tid && (s->last_ts > o->owner_ts ||
			     (s->last_ts == o->owner_ts && s->seq >= o->owner_seq))) {
		o->owner = s->owner_tid;
		o->owner_ts = s->last_ts;
		o->owner_seq = s->seq;
	}
	p = get_path(&c->path_ix, (__u64)(o - c->objs) << 32, &o->f_paths, &o->nr_f_paths,
		     &o->cap_f_paths, 0, CW_STACK_USER, s->stack_id);
	ht = get_hthread(&c->path_ix, (__u64)(o - c->objs) << 32 | 1, &o->f_threads,
			 &o->nr_f_threads, &o->cap_f_threads, s->tid);
	if (!p || !ht)
		return -ENOMEM;
	path_add(p, s->contentions, s->wait_ns_total, s->wait_ns_max);
	ht->count += s->acquisitions;
	ht->wait_ns_total += s->wait_ns_total;
	if (s->wait_ns_max > ht->wait_ns_max)
		ht->wait_ns_max = s->wait_ns_max;
	if (!cw_index__get(thread_ix, s->pid, s->tid, &slot)) {
		if (lock_kind(k->kind))
			tf[slot].lock_ns += s->wait_ns_total;
		else
			tf[slot].other_ns += s->wait_ns_total;
	}
	return 0;
}

/* --- kernel locks from their statistics ------------------------------------------- */

/*
 * A kernel lock is one object per kind of contention (its LCB_F_* flags): an rwsem
 * contended for reading by page faults and for writing by mmap() is two rows, as the
 * tracepoint tells them apart (rwsem_read, rwsem_write). cw_contention__find() names the
 * first of them.
 */
static int add_klock_site(struct cw_contention *c, const struct cw_view_site *s)
{
	struct cw_hot_object *h;
	struct cw_hot_path *p;
	struct obj *o;
	__u32 slot;

	if (cw_index__get(&c->klock_ix, (__u64)s->op << 32 | s->pid, s->addr, &slot)) {
		if (c->nr_objs >= UINT32_MAX)
			return -ENOMEM;
		o = cw_grow(c->objs, &c->cap_objs, c->nr_objs + 1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		c->objs = o;
		slot = c->nr_objs;
		if (cw_index__put(&c->klock_ix, (__u64)s->op << 32 | s->pid, s->addr, slot))
			return -ENOMEM;
		if (cw_index__get(&c->obj_ix, s->pid, s->addr, &(__u32){ 0 }) &&
		    cw_index__put(&c->obj_ix, s->pid, s->addr, slot))
			return -ENOMEM;
		o = &c->objs[c->nr_objs++];
		memset(o, 0, sizeof(*o));
		o->o.pid = s->pid;
		o->o.addr = s->addr;
		o->o.kind = CW_LOCK_KERNEL;
		o->o.views = CW_VIEW_KLOCK;
		o->o.klock_flags = s->op;
		o->o.seq = s->seq;
		o->kind_classified = 1;
	}
	o = &c->objs[slot];
	h = &o->o;
	h->flags |= s->flags;
	h->acquisitions += s->acquisitions > s->failures ? s->acquisitions - s->failures : 0;
	h->contentions += s->contentions;
	h->failures += s->failures;
	h->wait_ns_total += s->wait_ns_total;
	if (s->wait_ns_max > h->wait_ns_max)
		h->wait_ns_max = s->wait_ns_max;
	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		h->hist[i] += s->hist[i];
	p = get_path(&c->path_ix, (__u64)slot << 32 | 2, &h->waiters, &h->nr_waiters,
		     &o->cap_waiters, 0, CW_STACK_KERNEL, s->stack_id);
	if (!p)
		return -ENOMEM;
	path_add(p, s->contentions, s->wait_ns_total, s->wait_ns_max);
	return 0;
}

/* --- wakes -------------------------------------------------------------------------- */

static int add_wake_site(struct cw_contention *c, const struct cw_view_site *s)
{
	struct cw_hot_path *p;
	struct obj *o;
	__u32 slot;

	/* the word's object as its waits classified it, else an object at the address */
	if (cw_index__get(&c->word_ix, s->pid, s->addr, &slot) &&
	    cw_index__get(&c->obj_ix, s->pid, s->addr, &slot))
		return 0;	/* nobody was seen waiting there: nothing to blame */
	o = &c->objs[slot];
	if (o->o.kind == CW_LOCK_KERNEL)
		return 0;
	p = get_path(&c->holder_ix, (__u64)slot << 32 | s->tid, &o->o.holders, &o->o.nr_holders,
		     &o->cap_holders, s->tid, CW_STACK_USER, s->stack_id);
	if (!p)
		return -ENOMEM;
	path_add(p, s->acquisitions, s->wait_ns_total, s->wait_ns_max);
	return 0;
}

/* --- finishing an object ------------------------------------------------------------ */

/* Sort keys: wait total, then count, both largest first; then first appearance. */
struct order {
	__u64 wait, count;
	size_t idx;
};

static int order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->wait != y->wait)
		return x->wait > y->wait ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Sort nr elements of size bytes at *v by the keys of ord (filled by the caller, idx
 * unset): a stable order whatever qsort does with equal elements. 0 or -ENOMEM (*v as
 * it was).
 */
static int sort_by(void **v, size_t nr, size_t size, struct order *ord)
{
	unsigned char *out;

	if (nr < 2)
		return 0;
	out = malloc(nr * size);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		ord[i].idx = i;
	qsort(ord, nr, sizeof(*ord), order_cmp);
	for (size_t i = 0; i < nr; i++)
		memcpy(out + i * size, (unsigned char *)*v + ord[i].idx * size, size);
	free(*v);
	*v = out;
	return 0;
}

static int sort_paths(struct cw_hot_path **v, size_t nr)
{
	struct order *ord = malloc((nr ?: 1) * sizeof(*ord));
	int err;

	if (!ord)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		ord[i] = (struct order){ (*v)[i].wait_ns_total, (*v)[i].count };
	err = sort_by((void **)v, nr, sizeof(**v), ord);
	free(ord);
	return err;
}

static int sort_threads(struct cw_hot_thread **v, size_t nr)
{
	struct order *ord = malloc((nr ?: 1) * sizeof(*ord));
	int err;

	if (!ord)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		ord[i] = (struct order){ (*v)[i].wait_ns_total, (*v)[i].count };
	err = sort_by((void **)v, nr, sizeof(**v), ord);
	free(ord);
	return err;
}

/* The waiters of the uprobes' view: the lock's call paths that waited. */
static int acquire_waiters(struct obj *o)
{
	const struct cw_lock *l = o->lock;
	int counted = l->known & CW_LOCK_KNOWN_CONTENTIONS;
	size_t cap = 0;

	for (size_t i = 0; i < l->nr_sites; i++) {
		const struct cw_lock_site *s = &l->sites[i];
		__u64 count = counted ? s->contentions : s->acquisitions;
		struct cw_hot_path *p;

		if (!s->wait_ns_total && !(counted && s->contentions))
			continue;
		/* one site per stack: each a new path */
		p = get_path(NULL, 0, &o->o.waiters, &o->o.nr_waiters, &cap, 0,
			     l->kind == CW_LOCK_KERNEL ? CW_STACK_KERNEL : CW_STACK_USER,
			     s->stack_id);
		if (!p)
			return -ENOMEM;
		p->ip = s->ip;
		path_add(p, count, s->wait_ns_total, s->wait_ns_max);
	}
	return 0;
}

static int acquire_threads(struct obj *o)
{
	const struct cw_lock *l = o->lock;

	for (size_t i = 0; i < l->nr_users; i++) {
		const struct cw_lock_user *u = &l->users[i];
		struct cw_hot_thread *t;

		if (!u->wait_ns_total)
			continue;
		t = get_hthread(NULL, 0, &o->o.threads, &o->o.nr_threads, &o->cap_threads, u->tid);
		if (!t)
			return -ENOMEM;
		t->count += u->acquisitions;
		t->wait_ns_total += u->wait_ns_total;
	}
	return 0;
}

static int finish_obj(struct obj *o, const struct cw_engine *eng)
{
	const struct cw_lock *l = o->lock;
	struct cw_hot_object *h = &o->o;
	int from_futex = (h->views & CW_VIEW_FUTEX) && (!l || o->f_wait > l->wait_ns_total);
	int err = 0;

	h->futex_wait_ns = o->f_wait;
	if (l) {
		h->acquisitions = l->acquisitions;
		h->contentions = l->known & CW_LOCK_KNOWN_CONTENTIONS ? l->contentions :
									 l->acquisitions;
		h->failures = l->failures;
		h->wait_ns_total = l->wait_ns_total;
		h->wait_ns_max = l->wait_ns_max;
		h->hold_ns_total = l->hold_ns_total;
		h->hold_ns_max = l->hold_ns_max;
		memcpy(h->hist, l->wait_hist, sizeof(h->hist));
	}
	if (h->views & CW_VIEW_FUTEX) {
		if (!l) {
			h->acquisitions = o->f_calls;
			h->contentions = o->f_slept;
		}
		if (o->f_timeouts > h->failures)
			h->failures = o->f_timeouts;
		if (o->f_max > h->wait_ns_max)
			h->wait_ns_max = o->f_max;
	}
	if (from_futex) {
		/*
		 * Waits the acquire's view did not see (a condvar wait taking its mutex back
		 * inside libc, where no wrapper is): what made the wait total was contended
		 */
		if (o->f_slept > h->contentions)
			h->contentions = o->f_slept;
		h->wait_ns_total = o->f_wait;
		memcpy(h->hist, o->f_hist, sizeof(h->hist));
		h->waiters = o->f_paths;
		h->nr_waiters = o->nr_f_paths;
		o->f_paths = NULL;
		o->nr_f_paths = 0;
	} else if (l) {
		err = acquire_waiters(o);
	}
	/* per-thread waits: the futex view has them per thread, the uprobes' statistics not */
	if (!err && o->nr_f_threads) {
		h->threads = o->f_threads;
		h->nr_threads = o->nr_f_threads;
		o->f_threads = NULL;
		o->nr_f_threads = 0;
	} else if (!err && l) {
		err = acquire_threads(o);
	}
	if (err)
		return err;
	h->wait_p50_ns = cw_hist__percentile(h->hist, 50);
	h->wait_p99_ns = cw_hist__percentile(h->hist, 99);
	if (h->wait_ns_max && h->wait_p50_ns > h->wait_ns_max)
		h->wait_p50_ns = h->wait_ns_max;
	if (h->wait_ns_max && h->wait_p99_ns > h->wait_ns_max)
		h->wait_p99_ns = h->wait_ns_max;
	if (o->owner) {
		const struct cw_thread *t = cw_engine__find_thread(eng, h->pid, o->owner);

		h->owner_tid = t && !t->exited ? o->owner : 0;
	}
	if (sort_paths(&h->waiters, h->nr_waiters) || sort_paths(&h->holders, h->nr_holders) ||
	    sort_threads(&h->threads, h->nr_threads))
		return -ENOMEM;
	return 0;
}

/* --- threads ------------------------------------------------------------------------ */

static void thread_time(struct cw_thread_time *tt, const struct cw_thread *t,
			const struct thread_futex *tf)
{
	const struct cw_ev_thread_stats *st = cw_thread__stats(t);
	__u64 lockf, futex, lock_part;

	tt->pid = t->pid;
	tt->tid = t->tid;
	if (!st) {
		/* the per-operation figures: probed acquires, futex calls */
		__u64 lockf = tf->lock_ns < t->futex_wait_ns ? tf->lock_ns : t->futex_wait_ns;

		tt->lock_wait_ns = t->lock_wait_ns + lockf;
		tt->futex_wait_ns = t->futex_wait_ns - lockf;
		tt->waits_known = t->lock_acquisitions || t->futex_waits;
		return;
	}
	tt->measured = 1;
	tt->waits_known = 1;
	tt->oncpu_ns = st->oncpu_ns;
	tt->total_ns = st->oncpu_ns;
	for (int i = 0; i < CW_OFFCPU_MAX; i++)
		tt->total_ns += st->offcpu_ns[i];
	tt->runnable_ns = st->offcpu_ns[CW_OFFCPU_PREEMPTED];
	tt->klock_wait_ns = st->offcpu_ns[CW_OFFCPU_KLOCK];
	tt->io_ns = st->offcpu_ns[CW_OFFCPU_IO];
	tt->sleep_ns = st->offcpu_ns[CW_OFFCPU_SLEEP] + st->offcpu_ns[CW_OFFCPU_NONE];
	/*
	 * Off CPU in a futex wait outside a probed acquire (those are CW_OFFCPU_LOCK): split
	 * between lock waits and the rest (condvars, semaphores, unknown words) in the
	 * proportion of the thread's futex statistics. Those count waits inside probed
	 * acquires too, for about CW_OFFCPU_LOCK's time: what lock-classified waiting is left
	 * beyond it happened outside a probe (libc's internal locks; every lock under
	 * --no-uprobes). The statistics measure whole system calls (runnable time after the
	 * wakeup included), so only their proportion is used, never their sum.
	 */
	lockf = tf->lock_ns > st->offcpu_ns[CW_OFFCPU_LOCK] ?
			tf->lock_ns - st->offcpu_ns[CW_OFFCPU_LOCK] :
			0;
	/* its only futex waits were on locks, all within probed time: they still say lock */
	if (!lockf && !tf->other_ns)
		lockf = tf->lock_ns;
	futex = st->offcpu_ns[CW_OFFCPU_FUTEX];
	/* in double: the product overflows 64 bits, and 128-bit division is a libgcc call */
	lock_part = lockf + tf->other_ns ?
			    (__u64)((double)futex * lockf / ((double)lockf + tf->other_ns)) :
			    0;
	if (lock_part > futex)
		lock_part = futex;
	tt->futex_wait_ns = futex - lock_part;
	tt->lock_wait_ns = st->offcpu_ns[CW_OFFCPU_LOCK] + lock_part;
	tt->runq_ns_max = st->runq_ns_max;
	tt->policy = st->policy;
	tt->prio = st->prio;
}

/* --- ranking ------------------------------------------------------------------------ */

struct rank {
	__u64 wait, seq;
	size_t slot;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->wait != y->wait)
		return x->wait > y->wait ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Rank slots v[0..nr) of c->objs; qsort with a total order (seq is unique): deterministic. */
static int rank(const struct cw_contention *c, size_t *v, size_t nr)
{
	struct rank *r = calloc(nr ?: 1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		r[i] = (struct rank){ c->objs[v[i]].o.wait_ns_total, c->objs[v[i]].o.seq, v[i] };
	qsort(r, nr, sizeof(*r), rank_cmp);
	for (size_t i = 0; i < nr; i++)
		v[i] = r[i].slot;
	free(r);
	return 0;
}

static int build(struct cw_contention *c, const struct cw_engine *eng,
		 const struct cw_contention_opts *opts)
{
	size_t nr_sites = cw_engine__nr_view_sites(eng), nr_t = cw_engine__nr_threads(eng);
	struct cw_futex_class *cls = NULL;
	struct thread_futex *tf = NULL;
	struct cw_index thread_ix = {};
	__u64 measured_ns = 0;
	size_t nr_measured = 0;
	int err = -ENOMEM;

	c->pct = opts && opts->hotspot_pct ? opts->hotspot_pct : CW_HOTSPOT_DEFAULT_PCT;
	cls = calloc(nr_sites ?: 1, sizeof(*cls));
	tf = calloc(nr_t ?: 1, sizeof(*tf));
	c->threads = calloc(nr_t ?: 1, sizeof(*c->threads));
	if (!cls || !tf || !c->threads)
		goto cleanup;
	for (size_t i = 0; i < nr_t; i++) {
		const struct cw_thread *t = cw_engine__thread(eng, i);

		if (cw_index__put(&thread_ix, t->pid, t->tid, i))
			goto cleanup;
	}
	for (size_t i = 0; i < cw_engine__nr_locks(eng); i++) {
		const struct cw_lock *l = cw_engine__lock(eng, i);

		/* kernel locks with statistics: from them, by kind of contention (below) */
		if (l->kind == CW_LOCK_KERNEL && cw_engine__has_klock_sites(eng, l->pid))
			continue;
		if (add_lock_row(c, l))
			goto cleanup;
	}
	err = classify_sites(eng, opts, cls);
	if (err)
		goto cleanup;
	err = -ENOMEM;
	for (size_t i = 0; i < nr_sites; i++) {
		const struct cw_view_site *s = cw_engine__view_site(eng, i);

		if (s->what == CW_SITE_FUTEX && add_futex_site(c, s, &cls[i], tf, &thread_ix))
			goto cleanup;
		if (s->what == CW_SITE_KLOCK && add_klock_site(c, s))
			goto cleanup;
	}
	for (size_t i = 0; i < nr_sites; i++) {
		const struct cw_view_site *s = cw_engine__view_site(eng, i);

		if (s->what == CW_SITE_WAKE && add_wake_site(c, s))
			goto cleanup;
	}
	for (size_t i = 0; i < c->nr_objs; i++)
		if (finish_obj(&c->objs[i], eng))
			goto cleanup;

	for (size_t i = 0; i < nr_t; i++) {
		thread_time(&c->threads[i], cw_engine__thread(eng, i), &tf[i]);
		if (c->threads[i].measured) {
			measured_ns += c->threads[i].total_ns;
			nr_measured++;
		}
	}
	c->nr_threads = nr_t;
	c->traced_ns = nr_measured ? measured_ns :
				     (cw_engine__now(eng) - cw_engine__first_ts(eng)) * nr_t;

	c->users = calloc(c->nr_objs ?: 1, sizeof(*c->users));
	c->klocks = calloc(c->nr_objs ?: 1, sizeof(*c->klocks));
	if (!c->users || !c->klocks)
		goto cleanup;
	for (size_t i = 0; i < c->nr_objs; i++) {
		struct cw_hot_object *h = &c->objs[i].o;

		h->share = c->traced_ns ? (double)h->wait_ns_total / c->traced_ns : 0;
		h->hotspot = hotspot_candidate(h) &&
			     cw_contention__is_hotspot(h->wait_ns_total, c->traced_ns, c->pct);
		if (h->kind == CW_LOCK_KERNEL)
			c->klocks[c->nr_klocks++] = i;
		else
			c->users[c->nr_users++] = i;
	}
	if (rank(c, c->users, c->nr_users) || rank(c, c->klocks, c->nr_klocks))
		goto cleanup;
	err = 0;
cleanup:
	cw_index__fini(&c->path_ix);
	cw_index__fini(&c->holder_ix);
	cw_index__fini(&c->klock_ix);
	cw_index__fini(&thread_ix);
	free(cls);
	free(tf);
	return err;
}

int cw_contention__new(const struct cw_engine *eng, const struct cw_contention_opts *opts,
		       struct cw_contention **out)
{
	struct cw_contention *c = calloc(1, sizeof(*c));
	int err;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	err = build(c, eng, opts);
	if (err) {
		cw_contention__free(c);
		return err;
	}
	*out = c;
	return 0;
}

void cw_contention__free(struct cw_contention *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nr_objs; i++) {
		struct obj *o = &c->objs[i];

		free(o->f_paths);
		free(o->f_threads);
		free(o->o.waiters);
		free(o->o.holders);
		free(o->o.threads);
	}
	free(c->objs);
	free(c->users);
	free(c->klocks);
	free(c->threads);
	cw_index__fini(&c->obj_ix);
	cw_index__fini(&c->word_ix);
	free(c);
}

size_t cw_contention__nr_objects(const struct cw_contention *c)
{
	return c->nr_users;
}

const struct cw_hot_object *cw_contention__object(const struct cw_contention *c, size_t i)
{
	return i < c->nr_users ? &c->objs[c->users[i]].o : NULL;
}

size_t cw_contention__nr_klocks(const struct cw_contention *c)
{
	return c->nr_klocks;
}

const struct cw_hot_object *cw_contention__klock(const struct cw_contention *c, size_t i)
{
	return i < c->nr_klocks ? &c->objs[c->klocks[i]].o : NULL;
}

const struct cw_hot_object *cw_contention__find(const struct cw_contention *c, __u32 pid,
						__u64 addr)
{
	__u32 slot;

	return cw_index__get(&c->obj_ix, pid, addr, &slot) ? NULL : &c->objs[slot].o;
}

const struct cw_hot_object *cw_contention__find_word(const struct cw_contention *c, __u32 pid,
						     __u64 addr)
{
	__u32 slot;

	if (!cw_index__get(&c->word_ix, pid, addr, &slot))
		return &c->objs[slot].o;
	return cw_contention__find(c, pid, addr);
}

size_t cw_contention__nr_threads(const struct cw_contention *c)
{
	return c->nr_threads;
}

const struct cw_thread_time *cw_contention__thread(const struct cw_contention *c, size_t i)
{
	return i < c->nr_threads ? &c->threads[i] : NULL;
}

__u64 cw_contention__traced_ns(const struct cw_contention *c)
{
	return c->traced_ns;
}

unsigned int cw_contention__threshold_pct(const struct cw_contention *c)
{
	return c->pct;
}
