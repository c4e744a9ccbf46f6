// SPDX-License-Identifier: GPL-2.0
/*
 * The statistics the programs aggregate per (process, thread, object, call path, view)
 * in lock_sites, sent each drain as CW_EV_LOCK_STATS records of what grew since the last
 * ones: the hot path sent nothing for them.
 *
 * The map is read in batches (bpf_map_lookup_batch(), Linux 5.6): a few system calls a
 * tick instead of a get-next-key and a lookup per entry, 131,073 at the map's 65,536
 * entries (bench/sites: 572-744 ms a read there against 35-47 ms in batches of 4,096).
 *
 * What was sent is kept per whole key (struct cw_bpf_sites). Once a process is no longer
 * traced (it exited, or exec'ed and was added again), the figures it gathered since the
 * last read are sent a last time and its entries leave the map and the table, so a
 * pre-fork server's children come and go without either growing. The same for a thread
 * that exited and its own entries (futex waits, wakes): a server that starts a thread per
 * connection would fill the map otherwise.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/array.h"
#include "concwatch.skel.h"
#include "source/bpf/internal.h"

#define BATCH_ROOM 4096		/* entries a lookup returns at most, to start with */

/*
 * The whole key in the table's two-word index: (addr, stack_id) get a path number first,
 * then (tgid, tid) and (path, what) find the slot. Every part counts: one thread's futex
 * waits and another's on the same word from the same call path are two entries, and so
 * are a mutex's uprobe acquires and its futex waits.
 */

/* The path number of (addr, stack_id), given out when new; 0 or -ENOMEM. */
static int path_of(struct cw_bpf_sites *t, const struct cw_site_key *k, __u32 *path)
{
	return cw_index__number(&t->path_ix, k->addr, k->stack_id, &t->nr_paths, path);
}

static __u64 ix_thread(const struct cw_site_key *k)
{
	return (__u64)k->tgid << 32 | k->tid;
}

static __u64 ix_path(const struct cw_site_key *k, __u32 path)
{
	return (__u64)path << 32 | k->what;
}

CW_INDEX_DEFINE_FIND_OR_APPEND(find_site, struct cw_bpf_site)

/* The entry for k, made (with nothing sent yet) when new; NULL when out of memory. */
static struct cw_bpf_site *site_prev(struct cw_bpf_sites *t, const struct cw_site_key *k)
{
	struct cw_bpf_site *p;
	__u32 path;
	int fresh;

	if (path_of(t, k, &path))
		return NULL;
	p = find_site(&t->ix, ix_thread(k), ix_path(k, path), &t->prev, &t->nr, &t->cap, &fresh);
	if (p && fresh)
		p->key = *k;
	return p;
}

/* Whether tgid is traced; *last caches the previous answer (entries come unordered). */
static int traced(const struct bpf_source *s, __u32 tgid, __s64 *last)
{
	int yes;

	if (*last >= 0 && (__u32)(*last >> 1) == tgid)
		return *last & 1;
	yes = cw_bpf__find_proc(s, tgid) != NULL;
	*last = (__s64)tgid << 1 | yes;
	return yes;
}

/*
 * Whether anything but the maxima moved since prev. Every view counts each operation in
 * acquisitions but a release (hold time only); the rest are compared too, so that no
 * view's figure can change unsent.
 */
static int grew(const struct cw_site_stats *v, const struct cw_site_stats *prev)
{
	return v->acquisitions != prev->acquisitions || v->contentions != prev->contentions ||
	       v->failures != prev->failures || v->wait_ns_total != prev->wait_ns_total ||
	       v->hold_ns_total != prev->hold_ns_total || v->stack_last != prev->stack_last ||
	       memcmp(v->outcomes, prev->outcomes, sizeof(v->outcomes)) ||
	       memcmp(v->wait_hist, prev->wait_hist, sizeof(v->wait_hist));
}

/* A thread exited (CW_EV_EXIT): its own entries go after the next read. 0 or -ENOMEM. */
int cw_bpf__thread_exited(struct bpf_source *s, __u32 tgid, __u32 tid)
{
	struct cw_bpf_sites *t = &s->sites;
	__u32 one;

	if (tgid == tid || !cw_index__get(&t->exited, tgid, tid, &one))
		return 0; /* the process's exit ends all of them: not traced any more */
	if (cw_index__put(&t->exited, tgid, tid, 1))
		return -ENOMEM;
	t->nr_exited++;
	return 0;
}

/* The entry's process is traced and, for an entry of one thread's, the thread lives on. */
static int live_key(const struct bpf_source *s, const struct cw_site_key *k, __s64 *last)
{
	__u32 one;

	if (!traced(s, k->tgid, last))
		return 0;
	return !k->tid || !s->sites.nr_exited || cw_index__get(&s->sites.exited, k->tgid, k->tid,
							       &one);
}

/* Send what grew at entry k (value v) since the last time. */
static int send_growth(struct bpf_source *s, const struct cw_site_key *k,
		       const struct cw_site_stats *v, __u64 now)
{
	struct cw_ev_lock_stats e = {};
	struct cw_bpf_site *p = site_prev(&s->sites, k);

	if (!p)
		return -ENOMEM;
	if (!grew(v, &p->v))
		return 0;
	e.hdr = (struct cw_hdr){ .type = CW_EV_LOCK_STATS, .size = sizeof(e), .cpu = 0xffff,
				 .flags = CW_F_AGGREGATED, .ts_ns = now, .pid = k->tgid };
	e.addr = k->addr;
	e.ip = v->ip;
	e.interval_ns = now - (s->sites.sent_ns ? s->sites.sent_ns : now);
	e.acquisitions = v->acquisitions - p->v.acquisitions;
	e.contentions = v->contentions - p->v.contentions;
	e.wait_ns_total = v->wait_ns_total - p->v.wait_ns_total;
	e.wait_ns_max = v->wait_ns_max;
	e.hold_ns_total = v->hold_ns_total - p->v.hold_ns_total;
	e.hold_ns_max = v->hold_ns_max;
	/* a thread's failed attempts on a lock: the key has no call path, the latest one */
	e.stack_id = k->what == CW_SITE_TRY ? v->stack_last : k->stack_id;
	e.hdr.tid = k->tid;
	e.what = k->what;
	e.kind = v->kind;
	e.attr = v->attr;
	e.flags = v->flags;
	e.failures = v->failures - p->v.failures;
	e.owner_tid = v->owner_tid;
	e.op = v->op;
	for (int i = 0; i < CW_FUTEX_OUTCOMES; i++)
		e.outcomes[i] = v->outcomes[i] - p->v.outcomes[i];
	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		e.wait_hist[i] = v->wait_hist[i] - p->v.wait_hist[i];
	p->v = *v;
	return cw_emit__deliver(&s->emit, &e.hdr);
}

/*
 * Delete the entries of processes no longer traced from the map, and from the table:
 * what stays is indexed again (cw_index has no removal; this runs when processes end).
 */
static int drop_gone(struct bpf_source *s, int fd)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct cw_bpf_sites *t = &s->sites;
	__u32 count = t->nr_gone;
	size_t kept = 0;
	__s64 last = -1;
	int err = 0;

	/* one call; entry by entry when it stopped early (an entry gone meanwhile) */
	if (bpf_map_delete_batch(fd, t->gone, &count, &opts) || count < t->nr_gone)
		for (size_t i = count; i < t->nr_gone; i++)
			bpf_map_delete_elem(fd, &t->gone[i]);
	t->nr_gone = 0;

	cw_index__fini(&t->path_ix);
	cw_index__fini(&t->ix);
	t->nr_paths = 0;
	for (size_t i = 0; i < t->nr; i++)
		if (live_key(s, &t->prev[i].key, &last))
			t->prev[kept++] = t->prev[i];
	t->nr = kept;
	for (size_t i = 0; i < kept && !err; i++) {
		const struct cw_site_key *k = &t->prev[i].key;
		__u32 path;

		err = path_of(t, k, &path);
		if (!err)
			err = cw_index__put(&t->ix, ix_thread(k), ix_path(k, path), i);
	}
	return err;
}

struct sites_read {
	__u64 now;
	__s64 last;		/* live_key()'s cache */
};

/* One entry of a read: what grew goes out; an entry no longer live is deleted after. */
static int site_read(struct bpf_source *s, const void *key, const void *val, void *ctx)
{
	const struct cw_site_key *k = key;
	struct cw_bpf_sites *t = &s->sites;
	struct sites_read *r = ctx;
	struct cw_site_key *g;
	int err = send_growth(s, k, val, r->now);

	if (err || live_key(s, k, &r->last))
		return err;
	g = cw_grow(t->gone, &t->cap_gone, t->nr_gone + 1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	t->gone = g;
	t->gone[t->nr_gone++] = *k;
	return 0;
}

int cw_bpf__send_lock_stats(struct bpf_source *s, __u64 now)
{
	int fd = bpf_map__fd(s->skel->maps.lock_sites), err;
	struct cw_bpf_sites *t = &s->sites;
	struct sites_read r = { .now = now, .last = -1 };

	t->batch.key_size = sizeof(struct cw_site_key);
	t->batch.val_size = sizeof(struct cw_site_stats);
	t->batch.first_room = BATCH_ROOM;
	err = cw_bpf__map_each(s, fd, &t->batch, "lock statistics", site_read, &r);
	if (!err && t->nr_gone)
		err = drop_gone(s, fd);
	/* their entries were all in this read (they exited before it began) */
	cw_index__fini(&t->exited);
	t->nr_exited = 0;
	t->sent_ns = now;
	return err;
}

void cw_bpf__stats_fini(struct bpf_source *s)
{
	struct cw_bpf_sites *t = &s->sites;

	free(t->prev);
	cw_bpf__batch_fini(&t->batch);
	free(t->gone);
	cw_index__fini(&t->path_ix);
	cw_index__fini(&t->ix);
	cw_index__fini(&t->exited);
	memset(t, 0, sizeof(*t));
}
