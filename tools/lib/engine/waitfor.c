// SPDX-License-Identifier: GPL-2.0
/*
 * The wait-for graph (waitfor.h). The graph is small: one wait per blocked thread, so
 * every question (a tick's latching, a report's findings) is answered by building the
 * graph of the waits there are now, sorted by (pid, tid) so that the same stream always
 * gives the same findings in the same order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/engine.h"
#include "engine/index.h"
#include "engine/waitfor.h"

struct wf_thread {
	__u32 pid;
	__u32 tid;
	int waiting;
	int exited;
	struct cw_wf_wait wait;
	__u64 *held;		/* locks it holds, as its traced acquisitions say; a lock
				 * taken twice (recursive) is in it twice */
	size_t nr_held, cap_held;
};

struct cw_wf {
	struct wf_thread *threads;	/* by first appearance; they move when it grows */
	size_t nr, cap;
	struct cw_index ix;		/* (pid, tid) -> slot in threads */
	__u32 *scanned;			/* processes a look found blocked threads in */
	size_t nr_scanned, cap_scanned;
	struct cw_wf_cond *latched;
	size_t nr_latched, cap_latched;
	__u64 window;
};

const char *cw_deadlock_rule__name(enum cw_deadlock_rule rule)
{
	switch (rule) {
	case CW_DEADLOCK_CYCLE:
		return "cycle";
	case CW_DEADLOCK_SELF:
		return "self";
	case CW_DEADLOCK_OWNER_EXITED:
		return "owner_exited";
	case CW_DEADLOCK_BLOCKED_OUTSIDE:
		return "blocked_outside";
	}
	return "unknown";
}

struct cw_wf *cw_wf__new(void)
{
	struct cw_wf *wf = calloc(1, sizeof(*wf));

	if (wf)
		wf->window = CW_WF_WINDOW_NS;
	return wf;
}

void cw_wf__conds_free(struct cw_wf_cond *v, size_t nr)
{
	for (size_t i = 0; v && i < nr; i++)
		free(v[i].links);
	free(v);
}

void cw_wf__free(struct cw_wf *wf)
{
	if (!wf)
		return;
	for (size_t i = 0; i < wf->nr; i++)
		free(wf->threads[i].held);
	free(wf->threads);
	cw_index__fini(&wf->ix);
	free(wf->scanned);
	cw_wf__conds_free(wf->latched, wf->nr_latched);
	free(wf);
}

void cw_wf__set_window(struct cw_wf *wf, __u64 ns)
{
	wf->window = ns;
}

__u64 cw_wf__window(const struct cw_wf *wf)
{
	return wf->window;
}

static const struct wf_thread *find_thread(const struct cw_wf *wf, __u32 pid, __u32 tid)
{
	__u32 slot;

	return cw_index__get(&wf->ix, pid, tid, &slot) ? NULL : &wf->threads[slot];
}

static struct wf_thread *get_thread(struct cw_wf *wf, __u32 pid, __u32 tid)
{
	struct wf_thread *t = (struct wf_thread *)find_thread(wf, pid, tid);

	if (t)
		return t;
	t = cw_grow(wf->threads, &wf->cap, wf->nr + 1, sizeof(*t));
	if (!t)
		return NULL;
	wf->threads = t;
	if (cw_index__put(&wf->ix, pid, tid, wf->nr))
		return NULL;
	t = &wf->threads[wf->nr++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->tid = tid;
	return t;
}

static int scanned(const struct cw_wf *wf, __u32 pid)
{
	for (size_t i = 0; i < wf->nr_scanned; i++)
		if (wf->scanned[i] == pid)
			return 1;
	return 0;
}

static int mark_scanned(struct cw_wf *wf, __u32 pid)
{
	__u32 *v;

	if (scanned(wf, pid))
		return 0;
	v = cw_grow(wf->scanned, &wf->cap_scanned, wf->nr_scanned + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	wf->scanned = v;
	wf->scanned[wf->nr_scanned++] = pid;
	return 0;
}

static int feed_blocked(struct cw_wf *wf, const struct cw_ev_blocked *e)
{
	const struct cw_hdr *h = &e->hdr;
	int synthetic = !!(h->flags & CW_F_SYNTHETIC);
	struct wf_thread *t = get_thread(wf, h->pid, h->tid);
	struct cw_wf_wait *w;

	if (!t)
		return -ENOMEM;
	/*
	 * What a look says ends or replaces only what a look said: a traced wait is
	 * newer knowledge than one a look found before the tracer saw it (the records of
	 * a look beside a tracer are as old as the look, not as the drain).
	 */
	if (synthetic && t->waiting && !t->wait.synthetic)
		return e->reason == CW_OFFCPU_NONE ? 0 : mark_scanned(wf, h->pid);
	if (e->reason == CW_OFFCPU_NONE) {
		t->waiting = 0;
		return 0;
	}
	/* a look found the process's threads: one it did not find is gone */
	if (synthetic && mark_scanned(wf, h->pid))
		return -ENOMEM;
	t->waiting = 1;
	w = &t->wait;
	memset(w, 0, sizeof(*w));
	w->pid = h->pid;
	w->tid = h->tid;
	w->addr = e->reason == CW_OFFCPU_SLEEP || e->reason == CW_OFFCPU_IO ? 0 : e->addr;
	/* a traced wait without its start began about when it was said */
	w->since_ns = e->since_ns ?: synthetic ? 0 : h->ts_ns;
	w->ts = h->ts_ns;
	w->stack_id = e->stack_id;
	w->owner_tid = e->owner_tid;
	w->readers = e->readers;
	w->syscall = e->reason == CW_OFFCPU_SLEEP || e->reason == CW_OFFCPU_IO ? e->futex_op : ~0U;
	w->futex_op = e->reason == CW_OFFCPU_FUTEX ? e->futex_op : ~0U;
	w->reason = e->reason;
	w->kind = e->kind;
	w->synthetic = synthetic;
	return 0;
}

static void held_remove(struct wf_thread *t, __u64 addr)
{
	for (size_t i = t->nr_held; i-- > 0;) {
		if (t->held[i] != addr)
			continue;
		memmove(&t->held[i], &t->held[i + 1], (t->nr_held - i - 1) * sizeof(*t->held));
		t->nr_held--;
		return;
	}
}

static int feed_lock(struct cw_wf *wf, const struct cw_ev_lock *e)
{
	const struct cw_hdr *h = &e->hdr;
	struct wf_thread *t = get_thread(wf, h->pid, h->tid);
	__u64 *v;

	if (!t)
		return -ENOMEM;
	/*
	 * A thread that operates runs: the acquire it was blocked in returned (acquired or
	 * failed), or it is past it. A begin or release at the very time of the wait may
	 * be the one that led to it: only a later one ends it.
	 */
	if (t->waiting && !(h->flags & CW_F_SYNTHETIC) &&
	    (h->ts_ns > t->wait.ts || (h->type == CW_EV_LOCK_ACQUIRED && h->ts_ns >= t->wait.ts)))
		t->waiting = 0;
	switch (h->type) {
	case CW_EV_LOCK_ACQUIRED:
		if (e->result && e->result != EOWNERDEAD)
			break;
		v = cw_grow(t->held, &t->cap_held, t->nr_held + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->held = v;
		t->held[t->nr_held++] = e->addr;
		break;
	case CW_EV_LOCK_RELEASED:
		held_remove(t, e->addr);
		break;
	case CW_EV_LOCK_INIT:
	case CW_EV_LOCK_DESTROY:
		/* a new lifetime of the address: nobody holds it */
		for (size_t i = 0; i < wf->nr; i++) {
			struct wf_thread *o = &wf->threads[i];
			size_t k = 0;

			if (o->pid != h->pid)
				continue;
			for (size_t j = 0; j < o->nr_held; j++)
				if (o->held[j] != e->addr)
					o->held[k++] = o->held[j];
			o->nr_held = k;
		}
		break;
	}
	return 0;
}

int cw_wf__feed(struct cw_wf *wf, const struct cw_hdr *h)
{
	struct wf_thread *t;

	switch (h->type) {
	case CW_EV_BLOCKED:
		return feed_blocked(wf, (const struct cw_ev_blocked *)h);
	case CW_EV_LOCK_BEGIN:
	case CW_EV_LOCK_ACQUIRED:
	case CW_EV_LOCK_RELEASED:
	case CW_EV_LOCK_INIT:
	case CW_EV_LOCK_DESTROY:
		return feed_lock(wf, (const struct cw_ev_lock *)h);
	case CW_EV_EXIT:
		t = get_thread(wf, h->pid, h->tid);
		if (!t)
			return -ENOMEM;
		t->waiting = 0;
		t->exited = 1;
		return 0;
	}
	return 0;
}

/* --- the graph now ------------------------------------------------------------------- */

/* Whether tid is no live thread of process pid (see waitfor.h, "owner exited"). */
static int is_gone(const struct cw_wf *wf, const struct cw_engine *eng, __u32 pid, __u32 tid)
{
	const struct wf_thread *t = find_thread(wf, pid, tid);
	const struct cw_thread *et = cw_engine__find_thread(eng, pid, tid);

	if ((t && t->exited) || (et && et->exited))
		return 1;
	return scanned(wf, pid) && !et;
}

/*
 * The holders of what w waits on, by tid, into *out (at most max); how many there are.
 * The lock's memory names one; else every thread holding it as traced (readers).
 */
static size_t holders(const struct cw_wf *wf, const struct cw_wf_wait *w, __u32 *out, size_t max)
{
	size_t n = 0;

	if (!w->addr)
		return 0;
	if (w->owner_tid) {
		if (max)
			out[0] = w->owner_tid;
		return 1;
	}
	for (size_t i = 0; i < wf->nr; i++) {
		const struct wf_thread *t = &wf->threads[i];
		size_t k;

		if (t->pid != w->pid)
			continue;
		for (k = 0; k < t->nr_held && t->held[k] != w->addr; k++)
			;
		if (k == t->nr_held)
			continue;
		if (n < max)
			out[n] = t->tid;
		n++;
	}
	/* by tid: a deterministic first holder, whatever the order they came in */
	for (size_t i = 1; i < n && i < max; i++)
		for (size_t k = i; k > 0 && out[k - 1] > out[k]; k--) {
			__u32 x = out[k];

			out[k] = out[k - 1];
			out[k - 1] = x;
		}
	return n;
}

/* A blocked thread of the graph, and the blocked threads holding what it waits on. */
struct node {
	struct cw_wf_wait w;	/* holder_tid: the first holder */
	__u32 *holders;		/* nr_holders tids */
	size_t nr_holders;
	size_t *next;		/* the holders that are nodes: their indexes */
	size_t nr_next;
};

struct graph {
	struct node *v;
	size_t nr;
};

static void graph_fini(struct graph *g)
{
	for (size_t i = 0; i < g->nr; i++) {
		free(g->v[i].holders);
		free(g->v[i].next);
	}
	free(g->v);
}

static int node_cmp(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	if (x->w.pid != y->w.pid)
		return x->w.pid < y->w.pid ? -1 : 1;
	return x->w.tid < y->w.tid ? -1 : x->w.tid > y->w.tid;
}

static long node_of(const struct graph *g, __u32 pid, __u32 tid)
{
	size_t lo = 0, hi = g->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct cw_wf_wait *w = &g->v[mid].w;

		if (w->pid == pid && w->tid == tid)
			return mid;
		if (w->pid < pid || (w->pid == pid && w->tid < tid))
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int graph_build(const struct cw_wf *wf, const struct cw_engine *eng, struct graph *g)
{
	size_t n = 0;

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < wf->nr; i++)
		n += wf->threads[i].waiting;
	g->v = calloc(n ?: 1, sizeof(*g->v));
	if (!g->v)
		return -ENOMEM;
	for (size_t i = 0; i < wf->nr; i++)
		if (wf->threads[i].waiting)
			g->v[g->nr++].w = wf->threads[i].wait;
	qsort(g->v, g->nr, sizeof(*g->v), node_cmp);
	for (size_t i = 0; i < g->nr; i++) {
		struct node *nd = &g->v[i];
		size_t nh = holders(wf, &nd->w, NULL, 0);

		nd->holders = calloc(nh ?: 1, sizeof(*nd->holders));
		nd->next = calloc(nh ?: 1, sizeof(*nd->next));
		if (!nd->holders || !nd->next)
			return -ENOMEM;
		nd->nr_holders = holders(wf, &nd->w, nd->holders, nh);
		if (nh) {
			nd->w.holder_tid = nd->holders[0];
			nd->w.holder_from = nd->w.owner_tid ? CW_WF_HOLDER_OWNER :
							      CW_WF_HOLDER_TRACED;
			nd->w.holder_exited = is_gone(wf, eng, nd->w.pid, nd->holders[0]);
		}
		for (size_t k = 0; k < nh; k++) {
			long j = node_of(g, nd->w.pid, nd->holders[k]);

			if (j >= 0)
				nd->next[nd->nr_next++] = j;
		}
	}
	return 0;
}

/* --- the hangs in it ----------------------------------------------------------------- */

struct conds {
	struct cw_wf_cond *v;
	size_t nr, cap;
};

static struct cw_wf_cond *conds_push(struct conds *cs, enum cw_deadlock_rule rule, __u32 pid,
				     size_t max_links)
{
	struct cw_wf_cond *c = cw_grow(cs->v, &cs->cap, cs->nr + 1, sizeof(*c));

	if (!c)
		return NULL;
	cs->v = c;
	c = &cs->v[cs->nr];
	memset(c, 0, sizeof(*c));
	c->links = calloc(max_links ?: 1, sizeof(*c->links));
	if (!c->links)
		return NULL;
	cs->nr++;
	c->rule = rule;
	c->pid = pid;
	return c;
}

/* The cycle path[0..len) (path[0] its lowest node), each link held by the next. */
static int add_cycle(const struct graph *g, const size_t *path, size_t len, struct conds *cs)
{
	struct cw_wf_cond *c = conds_push(cs, len == 1 ? CW_DEADLOCK_SELF : CW_DEADLOCK_CYCLE,
					  g->v[path[0]].w.pid, len);

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		c->links[i] = g->v[path[i]].w;
		/* of several holders (readers), the one the cycle goes through */
		c->links[i].holder_tid = g->v[path[(i + 1) % len]].w.tid;
	}
	c->nr_links = len;
	return 0;
}

/*
 * Every elementary cycle once, from its lowest node: from each node s, the paths
 * through nodes above s that come back to s. Bounded in cycles, length and steps.
 */
static int find_cycles(const struct graph *g, struct conds *cs, int *truncated)
{
	size_t *path = calloc(g->nr ?: 1, sizeof(*path));
	size_t *edge = calloc(g->nr ?: 1, sizeof(*edge));
	unsigned char *on = calloc(g->nr ?: 1, 1);
	size_t found = 0, steps = 0, max_steps = 100000;
	int err = 0;

	if (!path || !edge || !on) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t s = 0; s < g->nr && !err; s++) {
		size_t len = 1;

		path[0] = s;
		edge[0] = 0;
		on[s] = 1;
		while (len && !err) {
			size_t u = path[len - 1], v;

			if (edge[len - 1] == g->v[u].nr_next) {
				on[u] = 0;
				len--;
				continue;
			}
			v = g->v[u].next[edge[len - 1]++];
			if (++steps > max_steps || found >= CW_WF_MAX_CYCLES) {
				*truncated = 1;
				break;
			}
			if (v == s) {
				err = add_cycle(g, path, len, cs);
				found++;
			} else if (v > s && !on[v] && len < CW_WF_MAX_LEN) {
				path[len] = v;
				edge[len] = 0;
				on[v] = 1;
				len++;
			}
		}
		while (len)
			on[path[--len]] = 0;
	}
cleanup:
	free(path);
	free(edge);
	free(on);
	return err;
}

/* The condition of rule in cs[first..] whose terminal is (pid, addr, tid), or NULL. */
static struct cw_wf_cond *find_group(struct conds *cs, size_t first, enum cw_deadlock_rule rule,
				     __u32 pid, __u64 addr, __u32 tid)
{
	for (size_t i = first; i < cs->nr; i++) {
		struct cw_wf_cond *c = &cs->v[i];

		if (c->rule == rule && c->pid == pid && c->links[0].holder_tid == tid &&
		    (rule != CW_DEADLOCK_OWNER_EXITED || c->links[0].addr == addr))
			return c;
	}
	return NULL;
}

/*
 * The threads whose waits lead to c's waiters, through locks they hold: stuck as long as
 * they are. Appended in passes over the graph's (pid, tid) order, each once, marked
 * upstream (they say nothing of when the hang formed).
 */
static int add_upstream(const struct graph *g, struct cw_wf_cond *c)
{
	unsigned char *in = calloc(g->nr ?: 1, 1);
	int more = 1;

	if (!in)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_links; i++) {
		long j = node_of(g, c->pid, c->links[i].tid);

		if (j >= 0)
			in[j] = 1;
	}
	while (more) {
		more = 0;
		for (size_t k = 0; k < g->nr; k++) {
			const struct node *nd = &g->v[k];

			for (size_t e = 0; !in[k] && e < nd->nr_next; e++) {
				if (!in[nd->next[e]])
					continue;
				c->links[c->nr_links] = nd->w;
				c->links[c->nr_links].holder_tid = g->v[nd->next[e]].w.tid;
				c->links[c->nr_links++].upstream = 1;
				in[k] = 1;
				more = 1;
			}
		}
	}
	free(in);
	return 0;
}

/*
 * Waits on a lock whose holder is gone, one condition per (lock, holder) with its
 * waiters; waits on a lock whose holder waits in a system call, one condition per
 * holder with its waiters, then the holder's own wait.
 */
static int find_dead_ends(const struct graph *g, struct conds *cs)
{
	size_t first = cs->nr;

	for (size_t i = 0; i < g->nr; i++) {
		const struct node *nd = &g->v[i];
		__u32 h = nd->w.holder_tid;
		struct cw_wf_cond *c;
		long j;

		if (!h || h == nd->w.tid)
			continue;
		if (nd->w.holder_exited) {
			c = find_group(cs, first, CW_DEADLOCK_OWNER_EXITED, nd->w.pid, nd->w.addr, h);
			if (!c)
				c = conds_push(cs, CW_DEADLOCK_OWNER_EXITED, nd->w.pid, g->nr);
			if (!c)
				return -ENOMEM;
			c->links[c->nr_links++] = nd->w;
			continue;
		}
		j = node_of(g, nd->w.pid, h);
		if (j < 0 || g->v[j].w.addr ||
		    (g->v[j].w.reason != CW_OFFCPU_SLEEP && g->v[j].w.reason != CW_OFFCPU_IO))
			continue;
		c = find_group(cs, first, CW_DEADLOCK_BLOCKED_OUTSIDE, nd->w.pid, 0, h);
		if (!c)
			c = conds_push(cs, CW_DEADLOCK_BLOCKED_OUTSIDE, nd->w.pid, g->nr + 1);
		if (!c)
			return -ENOMEM;
		c->links[c->nr_links++] = nd->w;
	}
	for (size_t i = first; i < cs->nr; i++) {
		struct cw_wf_cond *c = &cs->v[i];

		if (add_upstream(g, c))
			return -ENOMEM;
		/* the holder's own wait last */
		if (c->rule == CW_DEADLOCK_BLOCKED_OUTSIDE)
			c->links[c->nr_links++] = g->v[node_of(g, c->pid, c->links[0].holder_tid)].w;
	}
	return 0;
}

/*
 * When the condition was complete, and whether it lasted the window by now. Waits whose
 * start is not known (found by looking) were there before anything traced: a condition
 * of those alone is confirmed at once, one with a traced wait from when that began.
 */
static int confirm(struct cw_wf_cond *c, __u64 now, __u64 window)
{
	c->formed_ns = 0;
	for (size_t i = 0; i < c->nr_links; i++) {
		if (c->links[i].upstream)
			continue;
		if (c->links[i].since_ns > c->formed_ns)
			c->formed_ns = c->links[i].since_ns;
	}
	return !c->formed_ns || (now >= c->formed_ns && now - c->formed_ns >= window);
}

/* The conditions of the graph now that are confirmed at now, in the order found. */
static int current(const struct cw_wf *wf, const struct cw_engine *eng, __u64 now,
		   struct conds *out, int *truncated)
{
	struct conds cs = {};
	struct graph g;
	int err;

	memset(out, 0, sizeof(*out));
	err = graph_build(wf, eng, &g);
	if (!err)
		err = find_cycles(&g, &cs, truncated);
	if (!err)
		err = find_dead_ends(&g, &cs);
	graph_fini(&g);
	if (err) {
		cw_wf__conds_free(cs.v, cs.nr);
		return err;
	}
	/* keep the confirmed ones, in place */
	for (size_t i = 0; i < cs.nr; i++) {
		if (confirm(&cs.v[i], now, wf->window)) {
			cs.v[i].confirmed_ns = now;
			cs.v[out->nr++] = cs.v[i];
		} else {
			free(cs.v[i].links);
		}
	}
	out->v = cs.v;
	out->cap = cs.cap;
	return 0;
}

static int same_link(const struct cw_wf_wait *a, const struct cw_wf_wait *b)
{
	return a->tid == b->tid && a->addr == b->addr && a->holder_tid == b->holder_tid;
}

/*
 * Whether two conditions are one hang: a cycle by its waits; a dead end by its terminal
 * (more threads may come to wait on it later).
 */
static int same_hang(const struct cw_wf_cond *a, const struct cw_wf_cond *b)
{
	if (a->rule != b->rule || a->pid != b->pid)
		return 0;
	switch (a->rule) {
	case CW_DEADLOCK_CYCLE:
	case CW_DEADLOCK_SELF:
		if (a->nr_links != b->nr_links)
			return 0;
		for (size_t i = 0; i < a->nr_links; i++)
			if (!same_link(&a->links[i], &b->links[i]))
				return 0;
		return 1;
	case CW_DEADLOCK_OWNER_EXITED:
		return a->links[0].addr == b->links[0].addr &&
		       a->links[0].holder_tid == b->links[0].holder_tid;
	case CW_DEADLOCK_BLOCKED_OUTSIDE:
		return a->links[a->nr_links - 1].tid == b->links[b->nr_links - 1].tid;
	}
	return 0;
}

static int cond_copy(struct cw_wf_cond *dst, const struct cw_wf_cond *src)
{
	*dst = *src;
	dst->links = calloc(src->nr_links ?: 1, sizeof(*dst->links));
	if (!dst->links)
		return -ENOMEM;
	memcpy(dst->links, src->links, src->nr_links * sizeof(*src->links));
	return 0;
}

/*
 * Merge the conditions of cur into list (latched first): one that is a hang already
 * there takes its place when it has more threads (keeping when it was first confirmed),
 * a new one is appended (copied). 0 or -ENOMEM.
 */
static int merge(struct conds *list, const struct conds *cur)
{
	for (size_t i = 0; i < cur->nr; i++) {
		const struct cw_wf_cond *c = &cur->v[i];
		struct cw_wf_cond *d;
		size_t k;

		for (k = 0; k < list->nr && !same_hang(&list->v[k], c); k++)
			;
		if (k < list->nr) {
			struct cw_wf_cond n;

			if (c->nr_links <= list->v[k].nr_links)
				continue;
			if (cond_copy(&n, c))
				return -ENOMEM;
			n.confirmed_ns = list->v[k].confirmed_ns;
			if (list->v[k].formed_ns && list->v[k].formed_ns < n.formed_ns)
				n.formed_ns = list->v[k].formed_ns;
			free(list->v[k].links);
			list->v[k] = n;
			continue;
		}
		d = cw_grow(list->v, &list->cap, list->nr + 1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		list->v = d;
		if (cond_copy(&list->v[list->nr], c))
			return -ENOMEM;
		list->nr++;
	}
	return 0;
}

int cw_wf__tick(struct cw_wf *wf, const struct cw_engine *eng, __u64 now)
{
	struct conds cur, list = { wf->latched, wf->nr_latched, wf->cap_latched };
	int truncated = 0, err;

	/* nothing blocked: nothing to look at (the usual tick) */
	for (size_t i = 0;; i++) {
		if (i == wf->nr)
			return 0;
		if (wf->threads[i].waiting)
			break;
	}
	err = current(wf, eng, now, &cur, &truncated);
	if (err)
		return err;
	err = merge(&list, &cur);
	wf->latched = list.v;
	wf->nr_latched = list.nr;
	wf->cap_latched = list.cap;
	cw_wf__conds_free(cur.v, cur.nr);
	return err;
}

size_t cw_wf__nr_latched(const struct cw_wf *wf)
{
	return wf->nr_latched;
}

int cw_wf__deadlocks(const struct cw_wf *wf, const struct cw_engine *eng, __u64 now,
		     struct cw_wf_cond **out, size_t *nr, int *truncated)
{
	struct conds list = {}, cur = {}, latched = { wf->latched, wf->nr_latched };
	int err;

	*out = NULL;
	*nr = 0;
	*truncated = 0;
	err = merge(&list, &latched);
	if (!err)
		err = current(wf, eng, now, &cur, truncated);
	if (!err)
		err = merge(&list, &cur);
	cw_wf__conds_free(cur.v, cur.nr);
	if (err) {
		cw_wf__conds_free(list.v, list.nr);
		return err;
	}
	*out = list.v;
	*nr = list.nr;
	return 0;
}

int cw_wf__blocked(const struct cw_wf *wf, const struct cw_engine *eng, struct cw_wf_wait **out,
		   size_t *nr)
{
	struct graph g;
	int err = graph_build(wf, eng, &g);

	*out = NULL;
	*nr = 0;
	if (!err) {
		*out = calloc(g.nr ?: 1, sizeof(**out));
		if (!*out)
			err = -ENOMEM;
	}
	for (size_t i = 0; !err && i < g.nr; i++)
		(*out)[i] = g.v[i].w;
	if (!err)
		*nr = g.nr;
	graph_fini(&g);
	return err;
}
