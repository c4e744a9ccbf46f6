/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * concwatch lock rules: what each lock operation does to a thread's held set, which
 * lock-order dependencies (edges) it makes, and which statistics it counts. Plain C,
 * compiled into the BPF programs (bpf/cw_locks.bpf.h), the kernel module (kmod/) and
 * userspace (tools/lib/rules/, the in-process library): one definition of the rules,
 * so that no backend grows its own copy. Documentation/design.md, "Lock rules", says
 * why the rules run where the locks are taken rather than in the engine.
 *
 * The rules own no storage and no output. The includer keeps a struct cw_held_set per
 * thread and each lock's lifetime (cw_rules_next_gen()), defines CW_RULES_IMPL before
 * including this header (without it, only the types and the helpers come), and defines,
 * after including it, the two hooks it declares:
 *
 *   cw_rules_emit_edge(ctx, id, from, to)   a dependency: send it unless id went out
 *                                            before (cw_rules_edge_record() fills the
 *                                            CW_EV_LOCK_EDGE payload)
 *   cw_rules_count(ctx, stat)               a statistic of one step, for (addr, stack_id)
 *
 * Loops over the held set go through CW_RULES_LOOP(n, fn, arg): call long fn(i, arg)
 * for i from 0 while i < n and fn returned 0. The default is a plain for loop; BPF
 * defines it as bpf_loop(), whose callback the verifier checks once instead of once per
 * slot. CW_RULES_INLINE (default static inline) lets BPF force inlining, and
 * CW_RULES_HOOK (default static inline) the hooks' linkage.
 *
 * Slots never move (addr 0: free) and each is stamped with the order it was taken in,
 * which keeps every loop one the verifier bounds at a glance.
 */
#ifndef __CONCWATCH_LOCKRULES_H
#define __CONCWATCH_LOCKRULES_H

#include "events.h"

#define CW_HELD_MAX 32		/* locks a thread holds at once, before overflow; power of two */

/* A lock a thread holds. */
struct cw_held_lock {
	__u64 addr;		/* 0: a free slot */
	__u64 ip;		/* return address of the acquire */
	__u64 stack_id;
	__u64 acquired_ns;
	__u32 gen;		/* the lock's lifetime when it was taken */
	__u32 seq;		/* order of acquisition: the lowest held is the outermost */
	__u16 depth;		/* recursive re-acquisitions by this thread, 1 = once */
	__u16 attr;		/* CW_ATTR_* */
	__u8 kind;		/* CW_LOCK_* */
	__u8 read;		/* held for reading */
	__u8 pad[2];
};

/* What one thread holds. All zero is an empty set. */
struct cw_held_set {
	__u32 nr;		/* slots in use */
	__u32 seq;		/* next acquisition's number; restarts when the set empties */
	__u32 hi;		/* no slot from hi on is in use: loops stop there */
	__u32 pad;
	struct cw_held_lock locks[CW_HELD_MAX];
};

/* An acquire that returned with the lock taken, as the rules need it. */
struct cw_rules_acq {
	__u64 addr;
	__u64 ip;		/* return address of the acquire */
	__u64 stack_id;		/* its call path */
	__u64 begin_ns;		/* when the acquire was called: the wait starts there */
	__u32 gen;		/* the lock's lifetime now */
	__u16 attr;		/* CW_ATTR_* */
	__u8 kind;		/* CW_LOCK_* */
	__u8 op;		/* CW_OP_* */
	__u8 contended;		/* the thread blocked (futex) during the acquire */
	__u8 waited;		/* cw_rules_waits() made its dependencies already */
	__u8 pad[6];
};

/*
 * What makes a dependency one: the includer sends each once per process (the BPF
 * programs keep the ones sent in an LRU map: an evicted one is sent again, which the
 * engine merges).
 */
struct cw_edge_id {
	__u64 from;		/* the lock held */
	__u64 to;		/* the lock taken */
	__u64 to_stack_id;	/* the call path taking `to` */
	__u64 gate;		/* the outermost other lock held, 0 = none */
	__u32 from_gen;
	__u32 to_gen;
	__u16 flags;		/* CW_EDGE_* */
	__u16 pad[3];
};

/* cw_rules_stat.step */
#define CW_RULES_ACQUIRED 1	/* wait_ns and contended are set */
#define CW_RULES_RELEASED 2	/* the last release of a hold: hold_ns is set */

/* One step's statistic, for the lock at addr taken from call path stack_id. */
struct cw_rules_stat {
	__u64 addr;
	__u64 stack_id;
	__u64 ip;
	__u64 wait_ns;		/* ACQUIRED: from the call to the return */
	__u64 hold_ns;		/* RELEASED: from the acquisition to the last release */
	__u8 step;		/* CW_RULES_* */
	__u8 kind;		/* CW_LOCK_* */
	__u8 contended;		/* ACQUIRED: the acquire blocked */
	__u8 pad[5];
};

/* cw_rules_acquired() */
#define CW_RULES_HELD 0		/* the lock is in the set now */
#define CW_RULES_AGAIN 1	/* the thread held it already: one depth more, no edge */
/* the set was full: not held as far as the rules know; the includer counts it */
#define CW_RULES_OVERFLOW 2
#define CW_RULES_NO_SET 3	/* hs was NULL: only the statistic was counted */

static inline int cw_rules_op_read(__u8 op)
{
	return op == CW_OP_RDLOCK || op == CW_OP_TRYRDLOCK || op == CW_OP_TIMEDRDLOCK;
}

/* A trylock cannot block: taking it makes no dependency on what is held. */
static inline int cw_rules_op_try(__u8 op)
{
	return op == CW_OP_TRYLOCK || op == CW_OP_TRYRDLOCK || op == CW_OP_TRYWRLOCK;
}

/*
 * Whether an acquire that returned ret (0 or a positive errno) holds the lock:
 * EOWNERDEAD is a robust mutex taken from a dead owner; cond_wait takes the mutex
 * again when it times out too.
 */
static inline int cw_rules_op_acquired(__u8 op, int ret)
{
	if (op == CW_OP_COND_WAIT)
		return ret == 0 || ret == 110 /* ETIMEDOUT */;
	return ret == 0 || ret == 130 /* EOWNERDEAD */;
}

/* pthread_*_init and _destroy, and freeing its memory: the address starts a lifetime. */
static inline __u32 cw_rules_next_gen(__u32 gen)
{
	return gen + 1;
}

/*
 * The CW_EV_LOCK_EDGE record of a dependency: its payload, and CW_F_AGGREGATED in the
 * header (the rules made it of several operations). The includer fills the rest of the
 * header before.
 */
static inline void cw_rules_edge_record(struct cw_ev_edge *e, const struct cw_edge_id *id,
					const struct cw_held_lock *from,
					const struct cw_rules_acq *to)
{
	e->hdr.flags |= CW_F_AGGREGATED;
	e->from_addr = from->addr;
	e->to_addr = to->addr;
	e->from_ip = from->ip;
	e->to_ip = to->ip;
	e->from_stack_id = from->stack_id;
	e->to_stack_id = to->stack_id;
	e->gate_addr = id->gate;
	e->from_kind = from->kind;
	e->to_kind = to->kind;
	e->from_attr = from->attr;
	e->to_attr = to->attr;
	/* not in the id: the first of an edge's records says how it was made */
	e->flags = id->flags | (to->waited ? CW_EDGE_ATTEMPT : 0);
}

#endif /* __CONCWATCH_LOCKRULES_H */

/*
 * The rules themselves, for the includer that runs them: it defines CW_RULES_IMPL (and
 * what it overrides of the below) before including this header, and the hooks after.
 */
#if defined(CW_RULES_IMPL) && !defined(__CONCWATCH_LOCKRULES_IMPL)
#define __CONCWATCH_LOCKRULES_IMPL

#ifndef CW_RULES_INLINE
#define CW_RULES_INLINE static inline
#endif
#ifndef CW_RULES_HOOK
#define CW_RULES_HOOK static inline
#endif
#ifndef CW_RULES_LOOP
#define CW_RULES_LOOP(n, fn, arg)                            \
	do {                                                 \
		for (__u32 _i = 0; _i < (__u32)(n); _i++)    \
			if ((fn)(_i, (arg)))                 \
				break;                       \
	} while (0)
#endif

CW_RULES_HOOK void cw_rules_emit_edge(void *ctx, const struct cw_edge_id *id,
				      const struct cw_held_lock *from,
				      const struct cw_rules_acq *to);
CW_RULES_HOOK void cw_rules_count(void *ctx, const struct cw_rules_stat *stat);

struct cw_rules_walk {
	struct cw_held_set *hs;
	const struct cw_rules_acq *a;
	void *ctx;
	__u64 addr;		/* release: the lock */
	__u64 now;
	__u64 gate;		/* acquire: the outermost lock held */
	__u64 hold_ns;		/* release: how long it was held */
	__u32 outer_seq;
	__s32 again;		/* 1 + the slot of the lock when the thread holds it already */
	__s32 free_slot;
	__u8 read;		/* acquire: taken for reading */
	__u8 released;		/* release: 1 one depth less, 2 released */
	__u8 pad[2];
};

/* The held set as the new lock finds it: held already? a free slot? the outermost? */
static long cw_rules_scan_slot(__u32 i, void *arg)
{
	struct cw_rules_walk *w = (struct cw_rules_walk *)arg;
	struct cw_held_lock *h = &w->hs->locks[i & (CW_HELD_MAX - 1)];

	if (h->addr == w->a->addr) {
		w->again = i + 1;
		return 1;
	}
	if (!h->addr && w->free_slot < 0)
		w->free_slot = i;
	if (h->addr && h->seq < w->outer_seq) {
		w->outer_seq = h->seq;
		w->gate = h->addr;
	}
	return 0;
}

/*
 * A dependency from a held lock into the new one, with the read flags lockdep's
 * recursive-read rule needs and the gate: the outermost lock held, which serializes
 * every cycle all of whose edges were made under it. The edge from the gate itself
 * carries none.
 */
static long cw_rules_edge_slot(__u32 i, void *arg)
{
	struct cw_rules_walk *w = (struct cw_rules_walk *)arg;
	struct cw_held_lock *h = &w->hs->locks[i & (CW_HELD_MAX - 1)];
	struct cw_edge_id id = {};

	if (!h->addr)
		return 0;
	id.from = h->addr;
	id.to = w->a->addr;
	id.to_stack_id = w->a->stack_id;
	id.gate = h->addr == w->gate ? 0 : w->gate;
	id.from_gen = h->gen;
	id.to_gen = w->a->gen;
	id.flags = (h->read ? CW_EDGE_READ_FROM : 0) | (w->read ? CW_EDGE_READ_TO : 0);
	cw_rules_emit_edge(w->ctx, &id, h, w->a);
	return 0;
}

/*
 * An acquire began to wait (it blocked, or spins): its dependencies now, as lockdep
 * makes them at the attempt, from every lock held into the one requested, unless the
 * thread holds it already (no dependency on itself) or the operation is a trylock (it
 * cannot wait). A thread that waits forever, as in a deadlock, still makes the
 * dependencies that close the cycle. Once per acquire (a->waited): a->gen must be the
 * lock's lifetime now. The set is not changed; cw_rules_acquired() makes no dependency
 * again when the lock is taken. hs may be NULL (nothing held).
 */
CW_RULES_INLINE void cw_rules_waits(struct cw_held_set *hs, struct cw_rules_acq *a, void *ctx)
{
	struct cw_rules_walk w = {};

	if (a->waited)
		return;
	a->waited = 1;
	if (!hs || !hs->nr || cw_rules_op_try(a->op))
		return;
	w.hs = hs;
	w.a = a;
	w.ctx = ctx;
	w.outer_seq = ~0U;
	w.free_slot = -1;
	w.read = cw_rules_op_read(a->op);
	CW_RULES_LOOP(hs->hi < CW_HELD_MAX ? hs->hi : CW_HELD_MAX, cw_rules_scan_slot, &w);
	if (!w.again)
		CW_RULES_LOOP(hs->hi < CW_HELD_MAX ? hs->hi : CW_HELD_MAX, cw_rules_edge_slot, &w);
}

/* a, taken at now, into the free slot of hs */
CW_RULES_INLINE void cw_rules_hold(struct cw_held_set *hs, const struct cw_rules_acq *a,
				   __u32 slot, __u64 now)
{
	slot &= CW_HELD_MAX - 1;
	hs->locks[slot].addr = a->addr;
	hs->locks[slot].ip = a->ip;
	hs->locks[slot].stack_id = a->stack_id;
	hs->locks[slot].acquired_ns = now;
	hs->locks[slot].gen = a->gen;
	hs->locks[slot].seq = hs->seq++;
	hs->locks[slot].depth = 1;
	hs->locks[slot].attr = a->attr;
	hs->locks[slot].kind = a->kind;
	hs->locks[slot].read = cw_rules_op_read(a->op);
	hs->nr++;
	if (slot >= hs->hi)
		hs->hi = slot + 1;
}

/*
 * An acquire returned with the lock taken, at now: count it; then, unless the thread
 * holds the lock already (a recursive mutex, a recursive read: one depth more and no
 * dependency), a dependency from every lock held (none for a trylock, which cannot
 * wait, nor when cw_rules_waits() made them as the acquire began to wait), and the lock
 * into the set. hs may be NULL (no set could be had). CW_RULES_*.
 */
CW_RULES_INLINE int cw_rules_acquired(struct cw_held_set *hs, const struct cw_rules_acq *a,
				      __u64 now, void *ctx)
{
	struct cw_rules_walk w;

	{
		struct cw_rules_stat st = {};

		st.addr = a->addr;
		st.stack_id = a->stack_id;
		st.ip = a->ip;
		st.wait_ns = now - a->begin_ns;
		st.step = CW_RULES_ACQUIRED;
		st.kind = a->kind;
		st.contended = a->contended;
		cw_rules_count(ctx, &st);
	}
	if (!hs)
		return CW_RULES_NO_SET;
	/*
	 * Nothing held, as at most acquisitions: not held already, no dependency, and every
	 * slot free (the set empties its slots and hi together): the scan would find slot 0.
	 */
	if (!hs->nr) {
		cw_rules_hold(hs, a, 0, now);
		return CW_RULES_HELD;
	}
	/* set here, not where declared: the empty set above needs none of it */
	w = (struct cw_rules_walk){ .hs = hs, .a = a, .ctx = ctx, .outer_seq = ~0U,
				    .free_slot = -1, .read = cw_rules_op_read(a->op) };
	/* the slots in use, and the one after them: a free one for the new lock */
	CW_RULES_LOOP(hs->hi < CW_HELD_MAX ? hs->hi + 1 : CW_HELD_MAX, cw_rules_scan_slot, &w);
	if (w.again) {
		hs->locks[(w.again - 1) & (CW_HELD_MAX - 1)].depth++;
		return CW_RULES_AGAIN;
	}
	if (!cw_rules_op_try(a->op) && !a->waited)
		CW_RULES_LOOP(hs->hi < CW_HELD_MAX ? hs->hi : CW_HELD_MAX, cw_rules_edge_slot, &w);
	if (w.free_slot < 0)
		return CW_RULES_OVERFLOW;
	cw_rules_hold(hs, a, w.free_slot, now);
	return CW_RULES_HELD;
}

static long cw_rules_release_slot(__u32 i, void *arg)
{
	struct cw_rules_walk *w = (struct cw_rules_walk *)arg;
	struct cw_held_lock *h = &w->hs->locks[i & (CW_HELD_MAX - 1)];
	struct cw_rules_stat st = {};

	if (h->addr != w->addr)
		return 0;
	if (h->depth > 1) {
		h->depth--;
		w->released = 1;
		return 1;
	}
	st.addr = h->addr;
	st.stack_id = h->stack_id;
	st.ip = h->ip;
	st.hold_ns = w->now - h->acquired_ns;
	st.step = CW_RULES_RELEASED;
	st.kind = h->kind;
	cw_rules_count(w->ctx, &st);
	w->hold_ns = st.hold_ns;
	h->addr = 0;
	w->hs->nr--;
	/* locks are mostly released in the reverse order: the bound follows them down */
	if (!w->hs->nr) {
		w->hs->hi = 0;
		w->hs->seq = 0;	/* nothing held: the numbering can start again, never wrap */
	} else if (i + 1 == w->hs->hi) {
		w->hs->hi = i;
	}
	w->released = 2;
	return 1;
}

/*
 * A release at now: one depth less, or out of the set with its hold time counted (the
 * hold of a recursive lock ends at its last release). 0 when the thread did not hold
 * addr as far as the rules know (taken before tracing began, or an overflow), 1 one
 * depth less, 2 released; *hold_ns the hold time then, else 0. hs may be NULL.
 */
CW_RULES_INLINE int cw_rules_released(struct cw_held_set *hs, __u64 addr, __u64 now,
				      __u64 *hold_ns, void *ctx)
{
	struct cw_rules_walk w = {};

	*hold_ns = 0;
	if (!hs)
		return 0;
	w.hs = hs;
	w.ctx = ctx;
	w.addr = addr;
	w.now = now;
	CW_RULES_LOOP(hs->hi < CW_HELD_MAX ? hs->hi : CW_HELD_MAX, cw_rules_release_slot, &w);
	if (w.released == 2)
		*hold_ns = w.hold_ns;
	return w.released;
}

#endif /* CW_RULES_IMPL */
