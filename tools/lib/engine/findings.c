// SPDX-License-Identifier: GPL-2.0
/*
 * The findings list (findings.h): the registry of kinds, and for each kind this version
 * detects, the rule that turns the engine's model into findings.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/contention.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "engine/evloop.h"
#include "engine/livelock.h"
#include "engine/lockgraph.h"
#include "engine/prio.h"
#include "engine/waitfor.h"

struct cw_findings {
	struct cw_finding *v;
	size_t nr, cap;
	size_t reported;
	unsigned char truncated[CW_FINDING_KIND_MAX];
};

/* What the kinds' rules look at: the engine, and the contention model or how to build it. */
struct find_in {
	const struct cw_engine *eng;
	const struct cw_contention_opts *opts;	/* NULL: the defaults */
	const struct cw_contention *model;	/* NULL: built from eng with opts when needed */
};

static int lock_order_find(const struct find_in *in, struct cw_findings *fs);
static int hotspot_find(const struct find_in *in, struct cw_findings *fs);
static int deadlock_find(const struct find_in *in, struct cw_findings *fs);
static int livelock_find(const struct find_in *in, struct cw_findings *fs);
static int prio_find(const struct find_in *in, struct cw_findings *fs);
static int loop_stall_find(const struct find_in *in, struct cw_findings *fs);
static int loop_block_find(const struct find_in *in, struct cw_findings *fs);

/*
 * The kinds of the contract, in the order the list gives them. A kind without a find
 * function is one this version does not detect yet: --fail-on accepts its word, says
 * so, and never matches it.
 */
static const struct kind_def {
	const char *name;
	int (*find)(const struct find_in *in, struct cw_findings *fs);
} kinds[CW_FINDING_KIND_MAX] = {
	[CW_FINDING_LOCK_ORDER_INVERSION] = { "lock_order_inversion", lock_order_find },
	[CW_FINDING_DEADLOCK] = { "deadlock", deadlock_find },
	[CW_FINDING_PRIORITY_INVERSION] = { "priority_inversion", prio_find },
	[CW_FINDING_LIVELOCK] = { "livelock", livelock_find },
	[CW_FINDING_CONTENTION_HOTSPOT] = { "contention_hotspot", hotspot_find },
	[CW_FINDING_EVENT_LOOP_STALL] = { "event_loop_stall", loop_stall_find },
	[CW_FINDING_BLOCKING_IN_EVENT_LOOP] = { "blocking_in_event_loop", loop_block_find },
};

const char *cw_finding_kind__name(unsigned int kind)
{
	return kind < CW_FINDING_KIND_MAX ? kinds[kind].name : NULL;
}

int cw_finding_kind__detected(unsigned int kind)
{
	return kind < CW_FINDING_KIND_MAX && kinds[kind].find;
}

int cw_finding_kind__parse(const char *name)
{
	for (unsigned int k = 0; k < CW_FINDING_KIND_MAX; k++)
		if (!strcmp(name, kinds[k].name))
			return k;
	return -ENOENT;
}

const char *cw_suppression__name(enum cw_suppression why)
{
	switch (why) {
	case CW_SUPPRESSED_GATE_LOCK:
		return "gate_lock";
	case CW_SUPPRESSED_READ_READ:
		return "read_read";
	default:
		return "none";
	}
}

/* A zeroed finding at the end of the list, or NULL without memory. */
static struct cw_finding *push(struct cw_findings *fs, enum cw_finding_kind kind)
{
	struct cw_finding *f = cw_grow(fs->v, &fs->cap, fs->nr + 1, sizeof(*f));

	if (!f)
		return NULL;
	fs->v = f;
	f = &fs->v[fs->nr++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	return f;
}

static void finding_fini(struct cw_finding *f)
{
	free(f->locks);
	free(f->threads);
	free(f->stacks);
	if (f->kind == CW_FINDING_LOCK_ORDER_INVERSION)
		free(f->lock_order.links);
	if (f->kind == CW_FINDING_CONTENTION_HOTSPOT)
		free(f->hotspot.thread_wait_ns);
	if (f->kind == CW_FINDING_DEADLOCK)
		free(f->deadlock.links);
	if (f->kind == CW_FINDING_LIVELOCK)
		free(f->livelock.links);
}

/* --- lock_order_inversion ------------------------------------------------------------ */

/*
 * The instance the judgement chose for edge i; a cycle closed by read after read had no
 * choice that blocks: then the first instance seen.
 */
static const struct cw_lg_inst *inst_of(const struct cw_lg *lg, const struct cw_cycle *c,
					size_t i)
{
	return c->insts[i] ?: &cw_lg__edge(lg, c->edges[i])->insts[0];
}

/* The link made last: lockdep's "trying to acquire" moment. */
static size_t closing_link(const struct cw_lock_order_link *links, size_t len)
{
	size_t last = 0;

	for (size_t i = 1; i < len; i++)
		if (links[i].ts > links[last].ts)
			last = i;
	return last;
}

static int cycle_to_finding(const struct cw_lg *lg, const struct cw_cycle *c,
			    struct cw_finding *f)
{
	struct cw_lock_order *lo = &f->lock_order;
	size_t len = c->len;

	f->locks = calloc(len, sizeof(*f->locks));
	f->threads = calloc(len, sizeof(*f->threads));
	f->stacks = calloc(2 * len, sizeof(*f->stacks));
	lo->links = calloc(len, sizeof(*lo->links));
	if (!f->locks || !f->threads || !f->stacks || !lo->links)
		return -ENOMEM;
	f->nr_locks = len;
	f->nr_stacks = 2 * len;
	for (size_t i = 0; i < len; i++) {
		const struct cw_lg_node *n = cw_lg__node(lg, c->nodes[i]);
		const struct cw_lg_inst *in = inst_of(lg, c, i);
		struct cw_lock_order_link *l = &lo->links[i];
		size_t k;

		f->locks[i] = (struct cw_finding_lock){
			.pid = n->pid,
			.lifetime = n->gen,
			.addr = n->addr,
			.type = n->kind,
			.attr = n->attr,
			/* where the cycle saw it acquired: the edge into it */
			.ip = inst_of(lg, c, (i + len - 1) % len)->to_ip,
		};
		f->stacks[2 * i] = (struct cw_stack_ref){ n->pid, CW_STACK_USER, in->from_stack_id };
		f->stacks[2 * i + 1] = (struct cw_stack_ref){ n->pid, CW_STACK_USER, in->to_stack_id };
		*l = (struct cw_lock_order_link){
			.tid = in->tid,
			.flags = in->flags,
			.from_ip = in->from_ip,
			.to_ip = in->to_ip,
			.held_stack = 2 * i,
			.acquire_stack = 2 * i + 1,
			.ts = in->ts,
			.graph_edge = c->edges[i],
		};
		/* threads in the order their first link appears */
		for (k = 0; k < f->nr_threads && f->threads[k].tid != in->tid; k++)
			;
		if (k == f->nr_threads)
			f->threads[f->nr_threads++] = (struct cw_finding_thread){ n->pid, in->tid };
		if (c->verdict == CW_CYCLE_READ_READ && c->nodes[i] == c->read_node)
			lo->read_lock = i;
	}
	lo->closing = closing_link(lo->links, len);
	switch (c->verdict) {
	case CW_CYCLE_DEADLOCK:
		f->severity = CW_SEVERITY_WARNING;
		break;
	case CW_CYCLE_SINGLE_THREAD:
		f->severity = CW_SEVERITY_WARNING;
		lo->single_thread = 1;
		break;
	case CW_CYCLE_GATED:
		f->severity = CW_SEVERITY_SUPPRESSED;
		f->suppressed = CW_SUPPRESSED_GATE_LOCK;
		lo->gate = c->gate;
		break;
	case CW_CYCLE_READ_READ:
		f->severity = CW_SEVERITY_SUPPRESSED;
		f->suppressed = CW_SUPPRESSED_READ_READ;
		break;
	}
	return 0;
}

static size_t closing_edge(const struct cw_finding *f)
{
	return f->lock_order.links[f->lock_order.closing].graph_edge;
}

/*
 * One finding per dependency that closed cycles, as lockdep reports the one new
 * dependency: in a dense graph one bad acquisition closes many cycles (through every
 * path back); the shortest of them is reported (the first found of equal ones), the
 * others are subsumed by it and counted with it.
 */
static void one_per_closing_dependency(struct cw_findings *fs, size_t first)
{
	for (size_t i = first; i < fs->nr; i++) {
		struct cw_finding *f = &fs->v[i];
		size_t best = i;

		if (!cw_finding__reported(f))
			continue;
		for (size_t k = first; k < fs->nr; k++) {
			const struct cw_finding *o = &fs->v[k];

			if (k == i || o->severity < CW_SEVERITY_SUBSUMED ||
			    closing_edge(o) != closing_edge(f))
				continue;
			if (o->nr_locks < fs->v[best].nr_locks ||
			    (o->nr_locks == fs->v[best].nr_locks && k < best))
				best = k;
		}
		if (best == i)
			continue;
		f->severity = CW_SEVERITY_SUBSUMED;
		f->subsumed_by = best;
		fs->v[best].lock_order.longer_cycles++;
	}
}

static int lock_order_find(const struct find_in *in, struct cw_findings *fs)
{
	const struct cw_lg *lg = cw_engine__lockgraph(in->eng);
	size_t nr, first = fs->nr;
	struct cw_cycle *cycles;
	int truncated, err;

	err = cw_lg__cycles(lg, CW_LOCK_ORDER_MAX_CYCLES, CW_LOCK_ORDER_MAX_LEN, &cycles, &nr,
			    &truncated);
	if (err)
		return err;
	fs->truncated[CW_FINDING_LOCK_ORDER_INVERSION] = truncated;
	for (size_t i = 0; i < nr && !err; i++) {
		struct cw_finding *f = push(fs, CW_FINDING_LOCK_ORDER_INVERSION);

		err = f ? cycle_to_finding(lg, &cycles[i], f) : -ENOMEM;
	}
	cw_lg__cycles_free(cycles, nr);
	if (!err)
		one_per_closing_dependency(fs, first);
	return err;
}

/* --- contention_hotspot ------------------------------------------------------------- */

static int hotspot_to_finding(const struct cw_contention *c, const struct cw_hot_object *o,
			      struct cw_finding *f)
{
	size_t nr_w = o->nr_waiters < CW_HOTSPOT_MAX_STACKS ? o->nr_waiters : CW_HOTSPOT_MAX_STACKS;
	size_t nr_h = o->nr_holders < CW_HOTSPOT_MAX_STACKS ? o->nr_holders : CW_HOTSPOT_MAX_STACKS;
	size_t nr_t = o->nr_threads < CW_HOTSPOT_MAX_THREADS ? o->nr_threads :
							       CW_HOTSPOT_MAX_THREADS;
	struct cw_hotspot *h = &f->hotspot;

	f->severity = CW_SEVERITY_WARNING;
	f->locks = calloc(1, sizeof(*f->locks));
	f->threads = calloc(nr_t ?: 1, sizeof(*f->threads));
	f->stacks = calloc(nr_w + nr_h ?: 1, sizeof(*f->stacks));
	h->thread_wait_ns = calloc(nr_t ?: 1, sizeof(*h->thread_wait_ns));
	if (!f->locks || !f->threads || !f->stacks || !h->thread_wait_ns)
		return -ENOMEM;
	f->nr_locks = 1;
	f->locks[0] = (struct cw_finding_lock){
		.pid = o->pid,
		.addr = o->addr,
		.type = o->kind,
		.attr = o->attr,
		.ip = o->first_ip,
	};
	for (size_t i = 0; i < nr_t; i++) {
		f->threads[i] = (struct cw_finding_thread){ o->pid, o->threads[i].tid };
		h->thread_wait_ns[i] = o->threads[i].wait_ns_total;
	}
	f->nr_threads = nr_t;
	for (size_t i = 0; i < nr_w; i++)
		f->stacks[i] = (struct cw_stack_ref){ o->pid, o->waiters[i].space,
						      o->waiters[i].stack_id };
	for (size_t i = 0; i < nr_h; i++)
		f->stacks[nr_w + i] = (struct cw_stack_ref){ o->pid, o->holders[i].space,
							     o->holders[i].stack_id };
	f->nr_stacks = nr_w + nr_h;
	h->nr_waiter_stacks = nr_w;
	h->wait_ns_total = o->wait_ns_total;
	h->wait_ns_max = o->wait_ns_max;
	h->wait_p50_ns = o->wait_p50_ns;
	h->wait_p99_ns = o->wait_p99_ns;
	h->contentions = o->contentions;
	h->traced_ns = cw_contention__traced_ns(c);
	h->share = o->share;
	h->threshold_pct = cw_contention__threshold_pct(c);
	h->owner_tid = o->owner_tid;
	h->views = o->views;
	h->flags = o->flags;
	return 0;
}

/*
 * One finding per hotspot of the contention model, in its ranking: the user-space
 * objects, then the kernel locks. Waiting for work (condvars, semaphores, barriers,
 * joins) is never one: the model does not mark them.
 */
static int hotspot_find(const struct find_in *in, struct cw_findings *fs)
{
	struct cw_contention *own = NULL;
	const struct cw_contention *c = in->model;
	int err = 0;

	if (!c) {
		err = cw_contention__new(in->eng, in->opts, &own);
		if (err)
			return err;
		c = own;
	}
	for (int pass = 0; pass < 2 && !err; pass++) {
		size_t n = pass ? cw_contention__nr_klocks(c) : cw_contention__nr_objects(c);

		for (size_t i = 0; i < n && !err; i++) {
			const struct cw_hot_object *o = pass ? cw_contention__klock(c, i) :
							       cw_contention__object(c, i);
			struct cw_finding *f;

			if (!o->hotspot || CW_LOCK_WAITS_FOR_WORK(o->kind))
				continue;
			f = push(fs, CW_FINDING_CONTENTION_HOTSPOT);
			err = f ? hotspot_to_finding(c, o, f) : -ENOMEM;
		}
	}
	cw_contention__free(own);
	return err;
}

/* --- deadlock ------------------------------------------------------------------------ */

/* The lock a wait is on, as the findings name locks; its kind from the model if unsaid. */
static struct cw_finding_lock wait_lock(const struct cw_engine *eng, const struct cw_wf_wait *w)
{
	const struct cw_lock *l = cw_engine__find_lock(eng, w->pid, w->addr);

	return (struct cw_finding_lock){
		.pid = w->pid,
		.addr = w->addr,
		.type = w->kind ?: l ? l->kind : CW_LOCK_FUTEX,
		.attr = l ? l->attr : 0,
		.ip = l ? l->first_ip : 0,
	};
}

static void add_thread(struct cw_finding *f, __u32 pid, __u32 tid)
{
	for (size_t k = 0; k < f->nr_threads; k++)
		if (f->threads[k].tid == tid)
			return;
	f->threads[f->nr_threads++] = (struct cw_finding_thread){ pid, tid };
}

static int cond_to_finding(const struct cw_engine *eng, const struct cw_wf_cond *c,
			   struct cw_finding *f)
{
	struct cw_deadlock *d = &f->deadlock;
	size_t n = c->nr_links;

	f->locks = calloc(n ?: 1, sizeof(*f->locks));
	f->threads = calloc(2 * n ?: 1, sizeof(*f->threads));
	f->stacks = calloc(n ?: 1, sizeof(*f->stacks));
	d->links = calloc(n ?: 1, sizeof(*d->links));
	if (!f->locks || !f->threads || !f->stacks || !d->links)
		return -ENOMEM;
	/* a hang that may end (its holder is in a system call) is worth less than one
	 * that cannot */
	f->severity = c->rule == CW_DEADLOCK_BLOCKED_OUTSIDE ? CW_SEVERITY_WARNING :
							       CW_SEVERITY_ERROR;
	d->rule = c->rule;
	d->formed_ns = c->formed_ns;
	d->confirmed_ns = c->confirmed_ns;
	d->nr_links = n;
	f->nr_stacks = n;
	for (size_t i = 0; i < n; i++) {
		const struct cw_wf_wait *w = &c->links[i];
		struct cw_deadlock_link *l = &d->links[i];
		size_t k;

		*l = (struct cw_deadlock_link){
			.tid = w->tid,
			.holder_tid = w->holder_tid,
			.lock = SIZE_MAX,
			.stack = i,
			.since_ns = w->since_ns,
			.syscall = w->syscall,
			.futex_op = w->futex_op,
			.reason = w->reason,
			.holder_exited = w->holder_exited,
			.holder_from = w->holder_from,
			.upstream = w->upstream,
		};
		f->stacks[i] = (struct cw_stack_ref){ w->pid, CW_STACK_USER, w->stack_id };
		add_thread(f, w->pid, w->tid);
		if (!w->addr)
			continue;
		for (k = 0; k < f->nr_locks && f->locks[k].addr != w->addr; k++)
			;
		if (k == f->nr_locks)
			f->locks[f->nr_locks++] = wait_lock(eng, w);
		l->lock = k;
	}
	/* the holders that wait on nothing the finding shows: an exited owner */
	for (size_t i = 0; i < n; i++)
		if (c->links[i].holder_tid)
			add_thread(f, c->pid, c->links[i].holder_tid);
	return 0;
}

/* The hangs of the wait-for graph (engine/waitfor.h), as its rules ordered them. */
static int deadlock_find(const struct find_in *in, struct cw_findings *fs)
{
	struct cw_wf_cond *conds;
	size_t nr;
	int truncated, err;

	err = cw_wf__deadlocks(cw_engine__waitfor(in->eng), in->eng, cw_engine__now(in->eng),
			       &conds, &nr, &truncated);
	if (err)
		return err;
	fs->truncated[CW_FINDING_DEADLOCK] = truncated;
	for (size_t i = 0; i < nr && !err; i++) {
		struct cw_finding *f = push(fs, CW_FINDING_DEADLOCK);

		err = f ? cond_to_finding(in->eng, &conds[i], f) : -ENOMEM;
	}
	cw_wf__conds_free(conds, nr);
	return err;
}

/* --- livelock ------------------------------------------------------------------------ */

static int episode_to_finding(const struct cw_engine *eng, const struct cw_ll_episode *e,
			      struct cw_finding *f)
{
	struct cw_livelock *ll = &f->livelock;
	size_t n = e->nr_links;

	f->locks = calloc(n ?: 1, sizeof(*f->locks));
	f->threads = calloc(e->nr_tids ?: 1, sizeof(*f->threads));
	f->stacks = calloc(n ?: 1, sizeof(*f->stacks));
	ll->links = calloc(n ?: 1, sizeof(*ll->links));
	if (!f->locks || !f->threads || !f->stacks || !ll->links)
		return -ENOMEM;
	/* it went wrong, but for a while: the threads may get out of it by themselves */
	f->severity = CW_SEVERITY_WARNING;
	ll->first_ns = e->first_ns;
	ll->formed_ns = e->formed_ns;
	ll->confirmed_ns = e->confirmed_ns;
	ll->last_ns = e->last_ns;
	ll->threshold_ns = cw_ll__threshold(cw_engine__livelock(eng));
	ll->ended = e->ended;
	ll->nr_links = n;
	f->nr_stacks = n;
	for (size_t i = 0; i < e->nr_tids; i++)
		add_thread(f, e->pid, e->tids[i]);
	for (size_t i = 0; i < n; i++) {
		const struct cw_ll_link *l = &e->links[i];
		size_t k;

		for (k = 0; k < f->nr_locks && f->locks[k].addr != l->addr; k++)
			;
		if (k == f->nr_locks) {
			const struct cw_lock *lk = cw_engine__find_lock(eng, e->pid, l->addr);

			f->locks[f->nr_locks++] = (struct cw_finding_lock){
				.pid = e->pid,
				.addr = l->addr,
				.type = l->kind ?: lk ? lk->kind : CW_LOCK_MUTEX,
				.attr = lk ? lk->attr : 0,
				.ip = lk && lk->first_ip ? lk->first_ip : l->ip,
			};
		}
		f->stacks[i] = (struct cw_stack_ref){ e->pid, CW_STACK_USER, l->stack_id };
		ll->links[i] = (struct cw_livelock_link){
			.tid = l->tid,
			.owner_tid = l->owner_tid,
			.lock = k,
			.stack = i,
			.failures = l->failures,
			.first_ns = l->first_ns,
			.last_ns = l->last_ns,
			.ip = l->ip,
			.wait_ns = l->wait_ns,
			.op = l->op,
		};
		ll->failures += l->failures;
	}
	return 0;
}

/* The livelocks the engine confirmed, in the order it did. */
static int livelock_find(const struct find_in *in, struct cw_findings *fs)
{
	const struct cw_ll *ll = cw_engine__livelock(in->eng);
	int err = 0;

	for (size_t i = 0; i < cw_ll__nr(ll) && !err; i++) {
		struct cw_finding *f = push(fs, CW_FINDING_LIVELOCK);

		err = f ? episode_to_finding(in->eng, cw_ll__get(ll, i), f) : -ENOMEM;
	}
	return err;
}

/* --- event_loop_stall ---------------------------------------------------------------- */

/*
 * The iteration a loop thread that exited was in when it exited: its loop's end
 * (shutdown), whose time is no stall and whose blocks (joining its workers, flushing)
 * are none of its loop's work. 0: none.
 */
static __u64 exit_iteration(const struct cw_engine *eng, const struct cw_evloop_thread *t)
{
	const struct cw_thread *th = cw_engine__find_thread(eng, t->pid, t->tid);

	return th && th->exited ? cw_evloop__exit_iteration(t) : 0;
}

/*
 * The samples of t's stalls into f's stacks, but those of the iteration that began at
 * not_start (a thread's last, at its exit: no stall), 0: none.
 */
static int stall_samples(const struct cw_evloop_thread *t, __u64 not_start, struct cw_finding *f)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nr_samples; i++)
		n += t->samples[i].iter_start_ns != not_start &&
		     cw_evloop__is_stall(t, t->samples[i].iter_start_ns);
	if (!n)
		return 0;
	f->stacks = calloc(n, sizeof(*f->stacks));
	if (!f->stacks)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr_samples; i++) {
		const struct cw_evloop_sample *sm = &t->samples[i];

		if (sm->iter_start_ns == not_start || !cw_evloop__is_stall(t, sm->iter_start_ns))
			continue;
		f->stacks[f->nr_stacks++] = (struct cw_stack_ref){ .pid = t->pid,
								   .space = CW_STACK_USER,
								   .id = sm->stack_id };
		f->loop.kernel_samples += !!(sm->flags & CW_LOOP_SAMPLE_F_KERNEL);
	}
	return 0;
}

/* One for each loop thread that stalled, in the order the loops were first seen. */
static int loop_stall_find(const struct find_in *in, struct cw_findings *fs)
{
	const struct cw_evloop *ev = cw_engine__evloop(in->eng);

	for (size_t i = 0; i < cw_evloop__nr(ev); i++) {
		const struct cw_evloop_thread *t = cw_evloop__get(ev, i);
		const struct cw_thread *th = cw_engine__find_thread(in->eng, t->pid, t->tid);
		struct cw_evloop_stall longest = t->longest, ongoing = t->ongoing;
		struct cw_loop_finding *l;
		struct cw_finding *f;

		/*
		 * A thread that left its loop for good and exited: the time from its last
		 * wait to its exit was its loop's end (shutdown), not a stall.
		 */
		if (th && th->exited && ongoing.duration_ns) {
			if (longest.ongoing)
				longest = t->longest_ended;
			memset(&ongoing, 0, sizeof(ongoing));
		}
		if (!longest.duration_ns)
			continue;
		f = push(fs, CW_FINDING_EVENT_LOOP_STALL);
		if (!f)
			return -ENOMEM;
		f->threads = calloc(1, sizeof(*f->threads));
		if (!f->threads)
			return -ENOMEM;
		add_thread(f, t->pid, t->tid);
		/* the loop went on, or may: its other tasks waited, none was lost */
		f->severity = CW_SEVERITY_WARNING;
		l = &f->loop;
		l->threshold_ns = cw_evloop__threshold(ev);
		l->stalls = t->stalls + (ongoing.duration_ns != 0);
		l->stall_ns_total = t->stall_ns_total + ongoing.duration_ns;
		l->start_ns = longest.start_ns;
		l->duration_ns = longest.duration_ns;
		l->oncpu_ns = longest.oncpu_ns;
		l->oncpu_known = longest.oncpu_known;
		l->ongoing = longest.ongoing;
		l->wait_nr = longest.wait_nr;
		if (stall_samples(t, ongoing.duration_ns ? 0 : exit_iteration(in->eng, t) ?:
								 t->ongoing.start_ns, f))
			return -ENOMEM;
		if (t->has_stats) {
			l->iterations = t->stats.iterations;
			l->waits = t->stats.waits;
			l->busy_p50_ns = cw_evloop__percentile(t, 50);
			l->busy_p99_ns = cw_evloop__percentile(t, 99);
			l->busy_max_ns = t->stats.busy_ns_max;
		}
	}
	return 0;
}

/* --- blocking_in_event_loop ---------------------------------------------------------- */

/* One per loop thread and cause, by loop in the order first seen, then by blocked time. */
static int by_block_total(const void *a, const void *b)
{
	const struct cw_evloop_block *x = *(const struct cw_evloop_block *const *)a;
	const struct cw_evloop_block *y = *(const struct cw_evloop_block *const *)b;

	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	return x->longest_start_ns < y->longest_start_ns ? -1 : 1;
}

static int block_to_finding(const struct cw_engine *eng, const struct cw_evloop *ev,
			    const struct cw_evloop_thread *t, const struct cw_evloop_block *b,
			    struct cw_finding *f)
{
	struct cw_loop_block_finding *lb = &f->block;
	const struct cw_lock *l = NULL;

	f->threads = calloc(2, sizeof(*f->threads));
	f->stacks = calloc(1, sizeof(*f->stacks));
	if (!f->threads || !f->stacks)
		return -ENOMEM;
	add_thread(f, t->pid, t->tid);
	/* the loop went on once it got its lock or call back */
	f->severity = CW_SEVERITY_WARNING;
	lb->threshold_ns = cw_evloop__block_threshold(ev);
	lb->reason = b->reason;
	lb->nr = b->nr;
	lb->addr = b->addr;
	lb->owner_tid = b->owner_tid;
	lb->count = b->count;
	lb->total_ns = b->total_ns;
	lb->max_ns = b->max_ns;
	lb->longest_start_ns = b->longest_start_ns;
	lb->in_stall = cw_evloop__is_stall(t, b->longest_iter_ns);
	f->stacks[0] = (struct cw_stack_ref){ .pid = t->pid, .space = CW_STACK_USER,
					      .id = b->stack_id };
	f->nr_stacks = 1;
	if (b->owner_tid && b->owner_tid != t->tid)
		add_thread(f, t->pid, b->owner_tid);
	/* a futex word that is a lock the stream knows (its calls were seen) is that lock */
	if (b->reason == CW_OFFCPU_LOCK || b->reason == CW_OFFCPU_FUTEX)
		l = cw_engine__find_lock(eng, t->pid, b->addr);
	if (b->reason == CW_OFFCPU_LOCK || (l && l->kind != CW_LOCK_FUTEX)) {
		f->locks = calloc(1, sizeof(*f->locks));
		if (!f->locks)
			return -ENOMEM;
		f->locks[0] = (struct cw_finding_lock){
			.pid = t->pid,
			.addr = b->addr,
			.type = l ? l->kind : CW_LOCK_MUTEX,
			.attr = l ? l->attr : 0,
			.ip = l ? l->first_ip : 0,
		};
		f->nr_locks = 1;
	}
	return 0;
}

static int loop_block_find(const struct find_in *in, struct cw_findings *fs)
{
	const struct cw_evloop *ev = cw_engine__evloop(in->eng);

	for (size_t i = 0; i < cw_evloop__nr(ev); i++) {
		const struct cw_evloop_thread *t = cw_evloop__get(ev, i);
		const struct cw_evloop_block **v;
		struct cw_evloop_block *c;
		size_t n;
		int err;

		if (!t->nr_blocks)
			continue;
		err = cw_evloop__causes(t, exit_iteration(in->eng, t), &c, &n);
		if (err)
			return err;
		v = malloc((n ?: 1) * sizeof(*v));
		if (!v) {
			free(c);
			return -ENOMEM;
		}
		for (size_t j = 0; j < n; j++)
			v[j] = &c[j];
		qsort(v, n, sizeof(*v), by_block_total);
		for (size_t j = 0; !err && j < n; j++) {
			struct cw_finding *f = push(fs, CW_FINDING_BLOCKING_IN_EVENT_LOOP);

			err = f ? block_to_finding(in->eng, ev, t, v[j], f) : -ENOMEM;
		}
		free(v);
		free(c);
		if (err)
			return err;
	}
	return 0;
}

/* --- priority_inversion ------------------------------------------------------------ */

const char *cw_prio_rule__name(enum cw_prio_rule rule)
{
	return rule == CW_PI_RULE_LATENT ? "latent" : "preempted";
}

/*
 * locks[0], threads high and low (and the preemptor when of the process), stacks[0..2]:
 * high's wait, low's and the preemptor's (of its own process; ids 0: none).
 */
static int prio_parts(const struct cw_engine *eng, struct cw_finding *f, __u32 pid, __u64 addr,
		      __u8 kind, const __u64 stack_ids[3])
{
	const struct cw_lock *l = cw_engine__find_lock(eng, pid, addr);
	const struct cw_prio_finding *p = &f->prio;

	f->locks = calloc(1, sizeof(*f->locks));
	f->threads = calloc(3, sizeof(*f->threads));
	f->stacks = calloc(3, sizeof(*f->stacks));
	if (!f->locks || !f->threads || !f->stacks)
		return -ENOMEM;
	f->locks[0] = (struct cw_finding_lock){
		.pid = pid,
		.addr = addr,
		.type = kind ?: l ? l->kind : CW_LOCK_MUTEX,
		.attr = l ? l->attr : 0,
		.ip = l ? l->first_ip : 0,
	};
	f->nr_locks = 1;
	add_thread(f, pid, p->high.tid);
	add_thread(f, pid, p->low.tid);
	if (p->preemptor.tid && p->preemptor.pid == pid)
		add_thread(f, pid, p->preemptor.tid);
	for (int i = 0; i < 3; i++)
		f->stacks[i] = (struct cw_stack_ref){ i == 2 ? p->preemptor.pid : pid,
						      CW_STACK_USER, stack_ids[i] };
	f->nr_stacks = 3;
	return 0;
}

/* The measured inversions whose preemptor is of a priority between H's and L's. */
static int prio_measured(const struct find_in *in, const struct cw_prio *pr,
			 struct cw_findings *fs)
{
	int err = 0;

	for (size_t i = 0; i < cw_prio__nr_inversions(pr) && !err; i++) {
		const struct cw_prio_inv *v = cw_prio__inversion(pr, i);
		struct cw_finding *f;

		/* M as important as H would have run before H anyway; M not above L: L's turn
		 * among its equals, not an inversion */
		if (v->preemptor.prio <= v->high.prio || v->preemptor.prio >= v->low.prio)
			continue;
		f = push(fs, CW_FINDING_PRIORITY_INVERSION);
		if (!f)
			return -ENOMEM;
		f->severity = CW_SEVERITY_ERROR;
		f->prio = (struct cw_prio_finding){
			.rule = CW_PI_RULE_PREEMPTED,
			.high = v->high,
			.low = v->low,
			.preemptor = v->preemptor,
			.duration_ns = v->duration_ns + v->ongoing_ns,
			.longest_ns = v->longest_ns,
			.wait_since_ns = v->wait_since_ns,
			.end_ns = v->end_ns,
			.stretches = v->stretches + !!v->ongoing_ns,
			.bounded = !v->ongoing_ns,
			.preempted = v->preempted,
			.preemptor_untraced = v->preemptor_untraced,
		};
		err = prio_parts(in->eng, f, v->pid, v->addr, 0,
				 (__u64[3]){ v->high_stack_id, v->low_stack_id,
					     v->preemptor_stack_id });
	}
	return err;
}

static int measured_already(const struct cw_findings *fs, __u32 pid, __u32 high, __u32 low,
			    __u64 addr)
{
	for (size_t i = 0; i < fs->nr; i++) {
		const struct cw_finding *f = &fs->v[i];

		if (f->kind == CW_FINDING_PRIORITY_INVERSION && f->prio.rule == CW_PI_RULE_PREEMPTED &&
		    f->prio.high.pid == pid && f->prio.high.tid == high && f->prio.low.tid == low &&
		    f->locks[0].addr == addr)
			return 1;
	}
	return 0;
}

/* A thread's scheduling attributes as its latest statistics said; 0: none came. */
static const struct cw_ev_thread_stats *sched_of(const struct cw_engine *eng, __u32 pid, __u32 tid)
{
	const struct cw_thread *t = cw_engine__find_thread(eng, pid, tid);

	return t ? cw_thread__stats(t) : NULL;
}

/*
 * The latent ones: a real-time thread blocked on a lock that does not inherit priority,
 * held by a thread that is not real-time. The lock's attributes when they were read; a
 * PI boost of the holder by the waiter says PI too.
 */
static int prio_latent(const struct find_in *in, const struct cw_prio *pr, struct cw_findings *fs)
{
	int err = 0;

	for (size_t i = 0; i < cw_prio__nr_waits(pr) && !err; i++) {
		const struct cw_prio_wait *w = cw_prio__wait(pr, i);
		const struct cw_ev_thread_stats *hs = sched_of(in->eng, w->pid, w->tid);
		const struct cw_ev_thread_stats *ls = sched_of(in->eng, w->pid, w->owner_tid);
		const struct cw_lock *l = cw_engine__find_lock(in->eng, w->pid, w->addr);
		struct cw_finding *f;

		if (!hs || !ls || !cw_prio__rt_policy(hs->policy) || cw_prio__rt_policy(ls->policy))
			continue;
		if (l && (l->attr & CW_ATTR_KNOWN) && (l->attr & (CW_ATTR_PI | CW_ATTR_PROTECT)))
			continue;
		if (cw_prio__boosted(pr, w->pid, w->owner_tid, w->tid))
			continue;
		if (measured_already(fs, w->pid, w->tid, w->owner_tid, w->addr))
			continue;
		f = push(fs, CW_FINDING_PRIORITY_INVERSION);
		if (!f)
			return -ENOMEM;
		f->severity = CW_SEVERITY_WARNING;
		f->prio = (struct cw_prio_finding){
			.rule = CW_PI_RULE_LATENT,
			.high = { .pid = w->pid, .tid = w->tid, .prio = hs->normal_prio,
				  .policy = hs->policy },
			.low = { .pid = w->pid, .tid = w->owner_tid, .prio = ls->normal_prio,
				 .policy = ls->policy },
			.wait_since_ns = w->ts,
		};
		err = prio_parts(in->eng, f, w->pid, w->addr, w->kind, (__u64[3]){ w->stack_id });
	}
	return err;
}

static int prio_find(const struct find_in *in, struct cw_findings *fs)
{
	const struct cw_prio *pr = cw_engine__prio(in->eng);

	return prio_measured(in, pr, fs) ?: prio_latent(in, pr, fs);
}

/* --- the list ------------------------------------------------------------------------- */

int cw_findings__new(const struct cw_engine *eng, struct cw_findings **out)
{
	return cw_findings__new_opts(eng, NULL, out);
}

static int findings_new(const struct find_in *in, struct cw_findings **out)
{
	struct cw_findings *fs = calloc(1, sizeof(*fs));
	int err = 0;

	*out = NULL;
	if (!fs)
		return -ENOMEM;
	for (unsigned int k = 0; k < CW_FINDING_KIND_MAX && !err; k++)
		if (kinds[k].find)
			err = kinds[k].find(in, fs);
	if (err) {
		cw_findings__free(fs);
		return err;
	}
	for (size_t i = 0; i < fs->nr; i++)
		fs->reported += cw_finding__reported(&fs->v[i]);
	*out = fs;
	return 0;
}

int cw_findings__new_opts(const struct cw_engine *eng, const struct cw_contention_opts *opts,
			  struct cw_findings **out)
{
	struct find_in in = { .eng = eng, .opts = opts };

	return findings_new(&in, out);
}

int cw_findings__new_model(const struct cw_engine *eng, const struct cw_contention *model,
			   struct cw_findings **out)
{
	struct find_in in = { .eng = eng, .model = model };

	return findings_new(&in, out);
}

void cw_findings__free(struct cw_findings *fs)
{
	if (!fs)
		return;
	for (size_t i = 0; i < fs->nr; i++)
		finding_fini(&fs->v[i]);
	free(fs->v);
	free(fs);
}

size_t cw_findings__nr(const struct cw_findings *fs)
{
	return fs->nr;
}

const struct cw_finding *cw_findings__get(const struct cw_findings *fs, size_t i)
{
	return i < fs->nr ? &fs->v[i] : NULL;
}

size_t cw_findings__nr_reported(const struct cw_findings *fs)
{
	return fs->reported;
}

int cw_findings__truncated(const struct cw_findings *fs, unsigned int kind)
{
	return kind < CW_FINDING_KIND_MAX && fs->truncated[kind];
}

size_t cw_findings__matching(const struct cw_findings *fs, __u64 kinds_mask)
{
	size_t n = 0;

	for (size_t i = 0; i < fs->nr; i++)
		n += cw_finding__reported(&fs->v[i]) && ((kinds_mask >> fs->v[i].kind) & 1);
	return n;
}
