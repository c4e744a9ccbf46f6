// SPDX-License-Identifier: GPL-2.0
/* Priority inversions and PI boosts from the stream (prio.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/prio.h"

/* Waits kept for the latent rule, at most: one per (thread, lock, holder). */
#define MAX_WAITS 4096

struct cw_prio {
	__u64 threshold_ns;
	struct cw_prio_inv *inv;
	size_t nr_inv, cap_inv;
	struct cw_prio_boost *boosts;
	size_t nr_boosts, cap_boosts;
	struct cw_prio_wait *waits;
	size_t nr_waits, cap_waits;
	/* the latest wait stack of each thread (for H's stack), by (pid, tid) */
	struct last_stack {
		__u32 pid, tid;
		__u64 addr, stack_id;
	} *stacks;
	size_t nr_stacks, cap_stacks;
};

struct cw_prio *cw_prio__new(void)
{
	struct cw_prio *p = calloc(1, sizeof(*p));

	if (p)
		p->threshold_ns = CW_PRIO_DEFAULT_THRESHOLD_NS;
	return p;
}

void cw_prio__free(struct cw_prio *p)
{
	if (!p)
		return;
	free(p->inv);
	free(p->boosts);
	free(p->waits);
	free(p->stacks);
	free(p);
}

void cw_prio__set_threshold(struct cw_prio *p, __u64 ns)
{
	p->threshold_ns = ns;
}

__u64 cw_prio__threshold(const struct cw_prio *p)
{
	return p->threshold_ns;
}

static void *push(void *vp, size_t *nr, size_t *cap, size_t size)
{
	void **v = vp;
	unsigned char *n = cw_grow(*v, cap, *nr + 1, size);

	if (!n)
		return NULL;
	*v = n;
	n += (*nr)++ * size;
	memset(n, 0, size);
	return n;
}

static struct last_stack *last_stack(struct cw_prio *p, __u32 pid, __u32 tid)
{
	for (size_t i = 0; i < p->nr_stacks; i++)
		if (p->stacks[i].pid == pid && p->stacks[i].tid == tid)
			return &p->stacks[i];
	return NULL;
}

static int feed_blocked(struct cw_prio *p, const struct cw_ev_blocked *b)
{
	const struct cw_hdr *h = &b->hdr;
	struct last_stack *s;
	struct cw_prio_wait *w;

	if (b->reason != CW_OFFCPU_LOCK || !b->addr)
		return 0;
	s = last_stack(p, h->pid, h->tid);
	if (!s) {
		s = push(&p->stacks, &p->nr_stacks, &p->cap_stacks, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->pid = h->pid;
		s->tid = h->tid;
	}
	s->addr = b->addr;
	s->stack_id = b->stack_id;
	if (!b->owner_tid || b->owner_tid == h->tid)
		return 0;
	for (size_t i = 0; i < p->nr_waits; i++) {
		w = &p->waits[i];
		if (w->pid == h->pid && w->tid == h->tid && w->addr == b->addr &&
		    w->owner_tid == b->owner_tid)
			return 0;
	}
	if (p->nr_waits >= MAX_WAITS)
		return 0;
	w = push(&p->waits, &p->nr_waits, &p->cap_waits, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct cw_prio_wait){ .pid = h->pid, .tid = h->tid, .owner_tid = b->owner_tid,
				    .kind = b->kind, .addr = b->addr, .ts = h->ts_ns,
				    .stack_id = b->stack_id };
	return 0;
}

static int feed_change(struct cw_prio *p, const struct cw_ev_prio *e)
{
	const struct cw_hdr *h = &e->hdr;
	struct cw_prio_boost *b;

	if (e->reason != CW_PRIO_PI_BOOST)
		return 0;
	for (size_t i = 0; i < p->nr_boosts; i++) {
		b = &p->boosts[i];
		if (b->pid == h->pid && b->tid == h->tid && b->donor_tid == e->donor_tid &&
		    b->new_prio == e->new_prio) {
			b->count++;
			return 0;
		}
	}
	b = push(&p->boosts, &p->nr_boosts, &p->cap_boosts, sizeof(*b));
	if (!b)
		return -ENOMEM;
	*b = (struct cw_prio_boost){ .pid = h->pid, .tid = h->tid, .donor_tid = e->donor_tid,
				     .old_prio = e->old_prio, .new_prio = e->new_prio,
				     .policy = e->policy, .first_ts = h->ts_ns, .count = 1 };
	return 0;
}

/* The inversion of H high_tid waiting since wait_since on addr held by L (pid, tid). */
static struct cw_prio_inv *find_inv(struct cw_prio *p, const struct cw_hdr *h, __u32 high_tid,
				    __u64 addr, __u64 wait_since)
{
	for (size_t i = 0; i < p->nr_inv; i++)
		if (p->inv[i].pid == h->pid && p->inv[i].low.tid == h->tid &&
		    p->inv[i].high.tid == high_tid && p->inv[i].addr == addr &&
		    p->inv[i].wait_since_ns == wait_since)
			return &p->inv[i];
	return NULL;
}

static int feed_inversion(struct cw_prio *p, const struct cw_ev_pi *e)
{
	const struct cw_hdr *h = &e->hdr;
	struct cw_prio_inv *v;
	struct last_stack *s;

	if (e->duration_ns < p->threshold_ns)
		return 0;
	v = find_inv(p, h, e->high_tid, e->addr, e->wait_since_ns);
	if (!v) {
		v = push(&p->inv, &p->nr_inv, &p->cap_inv, sizeof(*v));
		if (!v)
			return -ENOMEM;
		v->pid = h->pid;
		v->addr = e->addr;
		v->wait_since_ns = e->wait_since_ns;
		v->high = (struct cw_prio_task){ .pid = h->pid, .tid = e->high_tid,
						 .prio = e->high_prio, .policy = e->high_policy };
		v->low = (struct cw_prio_task){ .pid = h->pid, .tid = h->tid, .prio = e->low_prio,
						.policy = e->low_policy };
		s = last_stack(p, h->pid, e->high_tid);
		if (s && s->addr == e->addr)
			v->high_stack_id = s->stack_id;
	}
	if (e->flags & CW_PI_F_ONGOING) {
		/* a word read before the stretch's end, delivered after its final record */
		if (v->stretches && v->ended_start == h->ts_ns - e->duration_ns)
			return 0;
		/* the same stretch as before, longer now: its latest word counts */
		v->ongoing_start = h->ts_ns - e->duration_ns;
		v->ongoing_ns = e->duration_ns;
	} else {
		if (v->ongoing_ns && v->ongoing_start == h->ts_ns - e->duration_ns)
			v->ongoing_ns = 0; /* ended: this record is its whole */
		v->ended_start = h->ts_ns - e->duration_ns;
		v->stretches++;
		v->duration_ns += e->duration_ns;
	}
	if (h->ts_ns > v->end_ns)
		v->end_ns = h->ts_ns;
	/* an ongoing word without its preemptor (the holder was woken, not preempted:
	 * only its switch-in says who ran) names none */
	if (e->duration_ns > v->longest_ns && e->preemptor_tid) {
		v->longest_ns = e->duration_ns;
		v->longest_ts = h->ts_ns;
		v->preemptor = (struct cw_prio_task){ .pid = e->preemptor_pid,
						      .tid = e->preemptor_tid,
						      .prio = e->preemptor_prio,
						      .policy = e->preemptor_policy };
		memcpy(v->preemptor.comm, e->preemptor_comm, CW_COMM_LEN - 1);
		v->preempted = !!(e->flags & CW_PI_F_PREEMPTED);
	}
	return 0;
}

/*
 * The stacks of the stretch whose record came just before (same thread and time): the
 * longest stretch's are the inversion's, as its preemptor is; L's from another stretch
 * only while none came. A stretch under the threshold made no inversion: nothing to add.
 */
static int feed_stacks(struct cw_prio *p, const struct cw_ev_pi_stacks *e)
{
	struct cw_prio_inv *v = find_inv(p, &e->hdr, e->high_tid, e->addr, e->wait_since_ns);

	if (!v)
		return 0;
	if (e->hdr.ts_ns == v->longest_ts) {
		if (e->low_stack_id)
			v->low_stack_id = e->low_stack_id;
		v->preemptor_stack_id = e->preemptor_stack_id;
		v->preemptor_untraced = !!(e->flags & CW_PI_STACKS_F_UNTRACED);
	} else if (!v->low_stack_id) {
		v->low_stack_id = e->low_stack_id;
	}
	return 0;
}

int cw_prio__feed(struct cw_prio *p, const struct cw_hdr *h)
{
	switch (h->type) {
	case CW_EV_PRIO_INVERSION:
		return feed_inversion(p, (const struct cw_ev_pi *)h);
	case CW_EV_PRIO_STACKS:
		return feed_stacks(p, (const struct cw_ev_pi_stacks *)h);
	case CW_EV_PRIO_CHANGE:
		return feed_change(p, (const struct cw_ev_prio *)h);
	case CW_EV_BLOCKED:
		return feed_blocked(p, (const struct cw_ev_blocked *)h);
	}
	return 0;
}

size_t cw_prio__nr_inversions(const struct cw_prio *p)
{
	return p->nr_inv;
}

const struct cw_prio_inv *cw_prio__inversion(const struct cw_prio *p, size_t i)
{
	return i < p->nr_inv ? &p->inv[i] : NULL;
}

size_t cw_prio__nr_boosts(const struct cw_prio *p)
{
	return p->nr_boosts;
}

const struct cw_prio_boost *cw_prio__boost(const struct cw_prio *p, size_t i)
{
	return i < p->nr_boosts ? &p->boosts[i] : NULL;
}

int cw_prio__boosted(const struct cw_prio *p, __u32 pid, __u32 tid, __u32 donor)
{
	for (size_t i = 0; i < p->nr_boosts; i++)
		if (p->boosts[i].pid == pid && p->boosts[i].tid == tid &&
		    (!donor || p->boosts[i].donor_tid == donor))
			return 1;
	return 0;
}

size_t cw_prio__nr_waits(const struct cw_prio *p)
{
	return p->nr_waits;
}

const struct cw_prio_wait *cw_prio__wait(const struct cw_prio *p, size_t i)
{
	return i < p->nr_waits ? &p->waits[i] : NULL;
}
