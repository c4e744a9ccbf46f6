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
};

CW_INDEX_DEFINE_FIND_OR_APPEND(find_thread, struct cw_evloop_thread)

struct cw_evloop *cw_evloop__new(void)
{
	struct cw_evloop *ev = calloc(1, sizeof(*ev));

	if (ev)
		ev->threshold_ns = CW_EVLOOP_DEFAULT_STALL_NS;
	return ev;
}

void cw_evloop__free(struct cw_evloop *ev)
{
	if (!ev)
		return;
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

	if (h->type != CW_EV_LOOP_STATS && h->type != CW_EV_LOOP_STALL)
		return 0;
	t = find_thread(&ev->ix, h->pid, h->tid, &ev->v, &ev->nr, &ev->cap, &fresh);
	if (!t)
		return -ENOMEM;
	t->pid = h->pid;
	t->tid = h->tid;
	if (h->type == CW_EV_LOOP_STATS) {
		/* cumulative: the newest says everything */
		if (!t->has_stats || h->ts_ns >= t->stats.hdr.ts_ns) {
			memcpy(&t->stats, h, sizeof(t->stats));
			t->has_stats = 1;
		}
		return 0;
	}
	if (((const struct cw_ev_loop_stall *)h)->duration_ns >= ev->threshold_ns)
		stall_fed(t, (const struct cw_ev_loop_stall *)h);
	return 0;
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
	__u64 hist[CW_HIST_BUCKETS];

	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		hist[i] = t->stats.busy_hist[i];
	return cw_hist__percentile(hist, pct);
}
