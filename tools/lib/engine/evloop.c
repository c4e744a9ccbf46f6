// SPDX-License-Identifier: GPL-2.0
/* Event loops' iterations and stalls (evloop.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/contention.h"
#include "engine/evloop.h"
#include "engine/index.h"

struct cw_evloop {
	struct cw_evloop_thread *v;
	size_t nr, cap;
	struct cw_index ix;	/* (pid, tid) -> slot */
	__u64 threshold_ns;
	__u64 block_threshold_ns;
};

CW_INDEX_DEFINE_FIND_OR_APPEND(find_thread, struct cw_evloop_thread)

struct cw_evloop *cw_evloop__new(void)
{
	struct cw_evloop *ev = calloc(1, sizeof(*ev));

	if (ev) {
		ev->threshold_ns = CW_EVLOOP_DEFAULT_STALL_NS;
		ev->block_threshold_ns = CW_EVLOOP_DEFAULT_BLOCK_NS;
	}
	return ev;
}

void cw_evloop__free(struct cw_evloop *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->nr; i++) {
		free(ev->v[i].stall_starts);
		free(ev->v[i].blocks);
		free(ev->v[i].samples);
	}
	free(ev->v);
	cw_index__fini(&ev->ix);
	free(ev);
}

void cw_evloop__set_threshold(struct cw_evloop *ev, __u64 ns)
{
	ev->threshold_ns = ns ?: CW_EVLOOP_DEFAULT_STALL_NS;
}

__u64 cw_evloop__threshold(const struct cw_evloop *ev)
{
	return ev->threshold_ns;
}

void cw_evloop__set_block_threshold(struct cw_evloop *ev, __u64 ns)
{
	ev->block_threshold_ns = ns ?: CW_EVLOOP_DEFAULT_BLOCK_NS;
}

__u64 cw_evloop__block_threshold(const struct cw_evloop *ev)
{
	return ev->block_threshold_ns;
}

/* The first index of t's stall starts not below ns. */
static size_t stall_lower(const struct cw_evloop_thread *t, __u64 ns)
{
	size_t lo = 0, hi = t->nr_stall_starts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->stall_starts[mid] < ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int cw_evloop__is_stall(const struct cw_evloop_thread *t, __u64 iter_start_ns)
{
	size_t i = stall_lower(t, iter_start_ns);

	return i < t->nr_stall_starts && t->stall_starts[i] == iter_start_ns;
}

/* start is a stall's: kept, in order (its words and final record repeat it). */
static int stall_start_add(struct cw_evloop_thread *t, __u64 start)
{
	size_t i = stall_lower(t, start);
	__u64 *v;

	if (i < t->nr_stall_starts && t->stall_starts[i] == start)
		return 0;
	if (t->nr_stall_starts >= CW_EVLOOP_MAX_STALLS) {
		t->dropped++;
		return 0;
	}
	v = cw_grow(t->stall_starts, &t->cap_stall_starts, t->nr_stall_starts + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->stall_starts = v;
	memmove(&v[i + 1], &v[i], (t->nr_stall_starts - i) * sizeof(*v));
	v[i] = start;
	t->nr_stall_starts++;
	return 0;
}

/* Blocks on a lock, futex word or kernel lock are told apart by it, others by their call. */
static int block_by_addr(__u8 reason)
{
	return reason == CW_OFFCPU_LOCK || reason == CW_OFFCPU_FUTEX || reason == CW_OFFCPU_KLOCK;
}

static int block_fed(struct cw_evloop_thread *t, const struct cw_ev_loop_block *e)
{
	struct cw_evloop_block_rec *v;

	if (t->nr_blocks >= CW_EVLOOP_MAX_BLOCKS) {
		t->dropped++;
		return 0;
	}
	v = cw_grow(t->blocks, &t->cap_blocks, t->nr_blocks + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->blocks = v;
	v[t->nr_blocks++] = (struct cw_evloop_block_rec){
		.start_ns = e->start_ns, .duration_ns = e->duration_ns,
		.iter_start_ns = e->iter_start_ns, .addr = e->addr, .stack_id = e->stack_id,
		.nr = e->nr, .owner_tid = e->owner_tid, .reason = e->reason,
	};
	return 0;
}

int cw_evloop__causes(const struct cw_evloop_thread *t, __u64 not_iter,
		      struct cw_evloop_block **out, size_t *nr)
{
	struct cw_evloop_block *v = NULL, *b;
	size_t n = 0, cap = 0;

	*out = NULL;
	*nr = 0;
	for (size_t i = 0; i < t->nr_blocks; i++) {
		const struct cw_evloop_block_rec *e = &t->blocks[i];
		size_t j;

		if (not_iter && e->iter_start_ns == not_iter)
			continue;
		for (j = 0; j < n; j++)
			if (v[j].reason == e->reason &&
			    (block_by_addr(e->reason) ? v[j].addr == e->addr : v[j].nr == e->nr))
				break;
		if (j == n) {
			b = cw_grow(v, &cap, n + 1, sizeof(*v));
			if (!b) {
				free(v);
				return -ENOMEM;
			}
			v = b;
			memset(&v[n], 0, sizeof(v[n]));
			v[n].reason = e->reason;
			v[n].addr = block_by_addr(e->reason) ? e->addr : 0;
			v[n].nr = e->nr;
			n++;
		}
		b = &v[j];
		b->count++;
		b->total_ns += e->duration_ns;
		if (e->duration_ns > b->max_ns) {
			b->max_ns = e->duration_ns;
			b->longest_start_ns = e->start_ns;
			b->longest_iter_ns = e->iter_start_ns;
			b->stack_id = e->stack_id;
			b->owner_tid = e->owner_tid;
			b->nr = e->nr;
		}
	}
	*out = v;
	*nr = n;
	return 0;
}

__u64 cw_evloop__exit_iteration(const struct cw_evloop_thread *t)
{
	return t->has_stats && !t->stats.in_wait ? t->stats.iter_start_ns : 0;
}

static int sample_fed(struct cw_evloop_thread *t, const struct cw_ev_loop_sample *e)
{
	struct cw_evloop_sample *v;

	if (t->nr_samples >= CW_EVLOOP_MAX_SAMPLES) {
		t->dropped++;
		return 0;
	}
	v = cw_grow(t->samples, &t->cap_samples, t->nr_samples + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->samples = v;
	v[t->nr_samples++] = (struct cw_evloop_sample){ .iter_start_ns = e->iter_start_ns,
							.stack_id = e->stack_id,
							.flags = e->flags };
	return 0;
}

static void stall_fed(struct cw_evloop_thread *t, const struct cw_ev_loop_stall *e)
{
	struct cw_evloop_stall s = {
		.start_ns = e->start_ns, .duration_ns = e->duration_ns, .oncpu_ns = e->oncpu_ns,
		.wait_nr = e->wait_nr, .oncpu_known = !!(e->flags & CW_LOOP_F_ONCPU),
		.ongoing = !!(e->flags & CW_LOOP_F_ONGOING),
	};

	if (s.ongoing) {
		/* a word read before the stall's end, delivered after its final record */
		if (t->stalls && t->ended_start == s.start_ns)
			return;
		if (t->ongoing.duration_ns && t->ongoing.start_ns == s.start_ns &&
		    t->ongoing.duration_ns > s.duration_ns)
			return;	/* an older word of it */
		t->ongoing = s;
	} else {
		if (t->ongoing.duration_ns && t->ongoing.start_ns == s.start_ns)
			memset(&t->ongoing, 0, sizeof(t->ongoing));
		t->ended_start = s.start_ns;
		t->stalls++;
		t->stall_ns_total += s.duration_ns;
		if (s.duration_ns > t->longest_ended.duration_ns)
			t->longest_ended = s;
	}
	/* the longest; its own final record replaces its words whatever their length */
	if (s.duration_ns > t->longest.duration_ns ||
	    (!s.ongoing && t->longest.ongoing && t->longest.start_ns == s.start_ns))
		t->longest = s;
}

int cw_evloop__feed(struct cw_evloop *ev, const struct cw_hdr *h)
{
	struct cw_evloop_thread *t;
	int fresh;

	if (h->type != CW_EV_LOOP_STATS && h->type != CW_EV_LOOP_STALL &&
	    h->type != CW_EV_LOOP_BLOCK && h->type != CW_EV_LOOP_SAMPLE)
		return 0;
	t = find_thread(&ev->ix, h->pid, h->tid, &ev->v, &ev->nr, &ev->cap, &fresh);
	if (!t)
		return -ENOMEM;
	t->pid = h->pid;
	t->tid = h->tid;
	if (h->type == CW_EV_LOOP_STATS) {
		/* cumulative: the newest says everything */
		if (!t->has_stats || h->ts_ns >= t->stats.hdr.ts_ns) {
			/* an older source's record ends before the appended fields: 0 */
			memset(&t->stats, 0, sizeof(t->stats));
			memcpy(&t->stats, h, h->size < sizeof(t->stats) ? h->size : sizeof(t->stats));
			t->has_stats = 1;
		}
		return 0;
	}
	if (h->type == CW_EV_LOOP_BLOCK)
		return ((const struct cw_ev_loop_block *)h)->duration_ns >= ev->block_threshold_ns ?
			       block_fed(t, (const struct cw_ev_loop_block *)h) : 0;
	if (h->type == CW_EV_LOOP_SAMPLE)
		return sample_fed(t, (const struct cw_ev_loop_sample *)h);
	if (((const struct cw_ev_loop_stall *)h)->duration_ns < ev->threshold_ns)
		return 0;
	stall_fed(t, (const struct cw_ev_loop_stall *)h);
	return stall_start_add(t, ((const struct cw_ev_loop_stall *)h)->start_ns);
}

size_t cw_evloop__nr(const struct cw_evloop *ev)
{
	return ev->nr;
}

const struct cw_evloop_thread *cw_evloop__get(const struct cw_evloop *ev, size_t i)
{
	return i < ev->nr ? &ev->v[i] : NULL;
}

const struct cw_evloop_thread *cw_evloop__find(const struct cw_evloop *ev, __u32 pid, __u32 tid)
{
	__u32 i;

	return cw_index__get(&ev->ix, pid, tid, &i) ? NULL : &ev->v[i];
}

__u64 cw_evloop__percentile(const struct cw_evloop_thread *t, unsigned int pct)
{
	__u64 hist[CW_HIST_BUCKETS], v;

	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		hist[i] = t->stats.busy_hist[i];
	v = cw_hist__percentile(hist, pct);
	/* a bucket's upper bound: never past the longest iteration measured */
	return t->stats.busy_ns_max && v > t->stats.busy_ns_max ? t->stats.busy_ns_max : v;
}
