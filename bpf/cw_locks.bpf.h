/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User-space locks: what each thread holds, the lock-order dependencies it makes, and
 * per (lock, call path) statistics, all kept here so the hot path sends nothing when
 * nothing is new. A new dependency (edge) goes out once per (edge, call path, gate); the
 * statistics are read by userspace every tick. With raw_events set, every operation
 * also goes out as a CW_EV_LOCK_* record (tests, debugging).
 *
 * State is per thread (the held set, the acquire in progress), keyed by tid: uprobe
 * programs are preemptible, and only the thread itself touches its own entries.
 */
#ifndef __CW_LOCKS_BPF_H
#define __CW_LOCKS_BPF_H

#include "cw_maps.h"
#include "cw_stack.bpf.h"

#define CW_HELD_MAX 32		/* locks a thread holds at once, before overflow */

/* glibc 2.34+ (x86-64) layouts, checked by selftests/unit: the mutex's __kind, the rwlock's __flags */
#define GLIBC_MUTEX_KIND_OFF 16
#define GLIBC_MUTEX_KIND_MASK 3		/* PTHREAD_MUTEX_KIND_MASK_NP */
#define GLIBC_MUTEX_RECURSIVE 1
#define GLIBC_MUTEX_ERRORCHECK 2
#define GLIBC_MUTEX_ROBUST 0x10
#define GLIBC_MUTEX_PI 0x20
#define GLIBC_MUTEX_PP 0x40
#define GLIBC_MUTEX_PSHARED 0x80
#define GLIBC_RWLOCK_FLAGS_OFF 48
#define GLIBC_RWLOCK_WRITER_NONRECURSIVE 2	/* the only kind that makes readers wait for writers */

const volatile bool raw_events = false;
const volatile bool track_free = false;	/* --track-free: free() ends the history of locks */

__u64 lost_held_overflow;

/*
 * A thread's held locks in fixed slots (addr 0: free), each stamped with the order it
 * was taken in: no slot ever moves, which keeps every loop over the set one the
 * verifier bounds at a glance.
 */
struct held_lock {
	__u64 addr;
	__u64 ip;		/* return address of the acquire */
	__u64 stack_id;
	__u64 acquired_ns;
	__u32 gen;		/* the lock's lifetime when it was taken */
	__u32 seq;		/* order of acquisition: the lowest held is the outermost */
	__u16 depth;		/* recursive re-acquisitions by this thread, 1 = once */
	__u16 attr;
	__u8 kind;
	__u8 read;		/* held for reading */
	__u8 pad[2];
};

struct held_set {
	__u32 nr;		/* slots in use */
	__u32 seq;		/* next acquisition's number */
	__u32 hi;		/* no slot from hi on is in use: loops stop there */
	__u32 pad;
	struct held_lock locks[CW_HELD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct held_set);
} held_sets SEC(".maps");

/* Scratch value for creating a thread's held set: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct held_set);
} empty_held_set SEC(".maps");

/* An acquire in progress on a thread, from the entry probe to the return probe. */
struct pending_lock {
	__u64 addr;
	__u64 addr2;		/* cond_wait: the condition variable */
	__u64 ret_slot;		/* where the return address is: the return probe swaps it */
	__u64 ip;		/* the return address, read before the swap */
	__u64 ts_ns;
	__u64 stack_id;
	__u16 attr;
	__u8 kind;
	__u8 op;
	__u8 contended;		/* a blocking futex call happened during it */
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct pending_lock);
} pending_locks SEC(".maps");

struct lock_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

/* Lifetimes: pthread_*_init/destroy bump the address's generation. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lock_key);
	__type(value, __u32);
} lock_gens SEC(".maps");

struct edge_key {
	__u32 tgid;
	__u32 from_gen;
	__u64 from;
	__u64 to;
	__u64 to_stack_id;	/* the call path taking `to` */
	__u64 gate;
	__u32 to_gen;
	__u16 flags;
	__u16 pad;
};

/* Edges already sent; LRU: an evicted one is sent again, which the engine merges. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct edge_key);
	__type(value, __u8);
} edges_seen SEC(".maps");

/*
 * --track-free: the locks a process took, and the pages they are on, so that free()
 * finds the locks inside a block without looking at every word of it.
 */
struct page_key {
	__u32 tgid;
	__u32 pad;
	__u64 page;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lock_key);
	__type(value, __u8);
} lock_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct page_key);
	__type(value, __u8);
} lock_pages SEC(".maps");

/* Per (lock, call path) statistics, read by userspace (CW_EV_LOCK_STATS). Cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* resized from userspace before load */
	__type(key, struct cw_site_key);
	__type(value, struct cw_site_stats);
} lock_sites SEC(".maps");

/* At a probe on a function's first instruction the return address is at [sp]. */
static __always_inline __u64 caller_ip(struct pt_regs *ctx)
{
	__u64 ip = 0;

	bpf_probe_read_user(&ip, sizeof(ip), (void *)PT_REGS_SP(ctx));
	return ip;
}

static __always_inline __u32 lock_gen(__u32 tgid, __u64 addr)
{
	struct lock_key k = { .tgid = tgid, .addr = addr };
	__u32 *g = bpf_map_lookup_elem(&lock_gens, &k);

	return g ? *g : 0;
}

/* What the lock's own memory says about it: recursive? writer-preferring? */
static __always_inline __u16 read_attr(__u64 addr, __u8 kind)
{
	__u32 word = 0;
	__u16 attr = CW_ATTR_KNOWN;

	if (kind == CW_LOCK_MUTEX) {
		if (bpf_probe_read_user(&word, sizeof(word), (void *)(addr + GLIBC_MUTEX_KIND_OFF)))
			return 0;
		if ((word & GLIBC_MUTEX_KIND_MASK) == GLIBC_MUTEX_RECURSIVE)
			attr |= CW_ATTR_RECURSIVE;
		if ((word & GLIBC_MUTEX_KIND_MASK) == GLIBC_MUTEX_ERRORCHECK)
			attr |= CW_ATTR_ERRORCHECK;
		if (word & GLIBC_MUTEX_ROBUST)
			attr |= CW_ATTR_ROBUST;
		if (word & GLIBC_MUTEX_PI)
			attr |= CW_ATTR_PI;
		if (word & GLIBC_MUTEX_PP)
			attr |= CW_ATTR_PROTECT;
		if (word & GLIBC_MUTEX_PSHARED)
			attr |= CW_ATTR_PSHARED;
	} else if (kind == CW_LOCK_RWLOCK) {
		if (bpf_probe_read_user(&word, sizeof(word), (void *)(addr + GLIBC_RWLOCK_FLAGS_OFF)))
			return 0;
		if (word == GLIBC_RWLOCK_WRITER_NONRECURSIVE)
			attr |= CW_ATTR_WRITER_PREF;
	}
	return attr;
}

static __always_inline int op_is_read(__u8 op)
{
	return op == CW_OP_RDLOCK || op == CW_OP_TRYRDLOCK || op == CW_OP_TIMEDRDLOCK;
}

static __always_inline int op_is_try(__u8 op)
{
	return op == CW_OP_TRYLOCK || op == CW_OP_TRYRDLOCK || op == CW_OP_TRYWRLOCK;
}

static __always_inline void emit_lock(__u16 type, __u64 addr, __u64 addr2, __u8 kind, __u8 op,
				      __u16 attr, __u64 ip, __u64 stack_id, __u64 wait_ns,
				      __s32 result, __u64 ts)
{
	struct cw_ev_lock *e = cw_reserve(sizeof(*e), type);

	if (!e)
		return;
	if (ts)
		e->hdr.ts_ns = ts;
	e->addr = addr;
	e->ip = ip;
	e->stack_id = stack_id;
	e->wait_ns = wait_ns;
	e->result = result;
	e->attr = attr;
	e->kind = kind;
	e->op = op;
	e->addr2 = addr2;
	cw_submit(e);
}

/*
 * The caller of the probed function: at [sp] at an entry (at_entry), else where
 * userspace found it from the call frame information (ra_off1: its offset above sp,
 * plus one; 0 when not known).
 */
static __always_inline __u64 caller_at(struct pt_regs *ctx, int at_entry, __u64 ra_off1)
{
	__u64 ip = 0;

	if (at_entry)
		return caller_ip(ctx);
	if (ra_off1)
		bpf_probe_read_user(&ip, sizeof(ip), (void *)(PT_REGS_SP(ctx) + ra_off1 - 1));
	return ip;
}

/*
 * Entry of an acquire (or of cond_wait's re-acquire, then addr2 is the condvar).
 * at_entry: the probe sits where the return address is at [sp] (a uprobe placed by
 * placement.c); a USDT note inside the function has no such thing (ra_off1 says where
 * it is), and no return probe.
 */
static __always_inline int acquire_enter_at(struct pt_regs *ctx, __u64 addr, __u64 addr2,
					    __u8 kind, __u8 op, int at_entry, __u64 ra_off1)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_lock p = {}, *old;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	/*
	 * Hit again before returning: a retry loop that jumps back to the probed
	 * instruction (pthread_spin_lock). The acquire began the first time.
	 */
	old = bpf_map_lookup_elem(&pending_locks, &tid);
	if (old && old->addr == addr && old->op == op)
		return 0;
	p.addr = addr;
	p.addr2 = addr2;
	p.kind = kind;
	p.op = op;
	p.ip = caller_at(ctx, at_entry, ra_off1);
	p.ret_slot = at_entry ? PT_REGS_SP(ctx) : 0;
	p.attr = read_attr(addr, kind);
	/* inside a function, the caller tells call paths apart where [sp] would */
	p.stack_id = user_stack_id(PT_REGS_IP(ctx), PT_REGS_SP(ctx), PT_REGS_FP(ctx), at_entry,
				   at_entry ? 0 : p.ip, 1, 0, 0);
	p.ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending_locks, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);
	if (raw_events && !op_is_try(op))
		emit_lock(CW_EV_LOCK_BEGIN, addr, addr2, kind, op, p.attr, p.ip, p.stack_id, 0, 0,
			  p.ts_ns);
	return 0;
}

static __always_inline int acquire_enter(struct pt_regs *ctx, __u64 addr, __u64 addr2, __u8 kind,
					 __u8 op)
{
	return acquire_enter_at(ctx, addr, addr2, kind, op, 1, 0);
}

static __always_inline void atomic_max(__u64 *v, __u64 x)
{
	__u64 old = *v;

	for (int i = 0; i < 4 && x > old; i++) {
		__u64 seen = __sync_val_compare_and_swap(v, old, x);

		if (seen == old)
			break;
		old = seen;
	}
}

static __always_inline void count_site(__u32 tgid, __u64 addr, __u64 stack_id, __u64 ip,
				       __u8 kind, __u64 wait, int contended, __u64 hold, int acquired)
{
	struct cw_site_key k = { .tgid = tgid, .addr = addr, .stack_id = stack_id };
	struct cw_site_stats *st = bpf_map_lookup_elem(&lock_sites, &k);

	if (!st) {
		struct cw_site_stats zero = { .ip = ip, .kind = kind };

		/* BPF_NOEXIST: another thread may be first; then use its entry */
		bpf_map_update_elem(&lock_sites, &k, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&lock_sites, &k);
		if (!st) {
			__sync_fetch_and_add(&lost_map_full, 1);
			return;
		}
	}
	if (acquired) {
		__sync_fetch_and_add(&st->acquisitions, 1);
		if (contended)
			__sync_fetch_and_add(&st->contentions, 1);
		__sync_fetch_and_add(&st->wait_ns_total, wait);
		atomic_max(&st->wait_ns_max, wait);
	} else {
		__sync_fetch_and_add(&st->hold_ns_total, hold);
		atomic_max(&st->hold_ns_max, hold);
	}
}

static __always_inline struct held_set *held_set_of(__u32 tid, int create)
{
	struct held_set *hs = bpf_map_lookup_elem(&held_sets, &tid);
	__u32 zero = 0;

	if (hs || !create)
		return hs;
	hs = bpf_map_lookup_elem(&empty_held_set, &zero);
	if (!hs || bpf_map_update_elem(&held_sets, &tid, hs, BPF_NOEXIST)) {
		__sync_fetch_and_add(&lost_map_full, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&held_sets, &tid);
}

/* Send from -> the lock being taken, unless this (edge, call path, gate) went out before. */
static __always_inline void new_edge(__u32 tgid, const struct held_lock *from,
				     const struct pending_lock *p, __u32 to_gen, __u64 gate,
				     int read)
{
	struct edge_key k = {
		.tgid = tgid,
		.from = from->addr,
		.from_gen = from->gen,
		.to = p->addr,
		.to_gen = to_gen,
		.to_stack_id = p->stack_id,
		.gate = gate,
		.flags = (from->read ? CW_EDGE_READ_FROM : 0) | (read ? CW_EDGE_READ_TO : 0),
	};
	struct cw_ev_edge *e;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&edges_seen, &k))
		return;
	if (bpf_map_update_elem(&edges_seen, &k, &one, BPF_NOEXIST))
		return; /* another CPU sent it first */
	e = cw_reserve(sizeof(*e), CW_EV_LOCK_EDGE);
	if (!e) {
		bpf_map_delete_elem(&edges_seen, &k); /* send it again next time */
		return;
	}
	e->from_addr = from->addr;
	e->to_addr = p->addr;
	e->from_ip = from->ip;
	e->to_ip = p->ip;
	e->from_stack_id = from->stack_id;
	e->to_stack_id = p->stack_id;
	e->gate_addr = gate;
	e->from_kind = from->kind;
	e->to_kind = p->kind;
	e->from_attr = from->attr;
	e->to_attr = p->attr;
	e->flags = k.flags;
	cw_submit(e);
}

struct edge_walk {
	struct held_set *hs;
	struct pending_lock *p;
	__u64 gate;		/* the outermost lock held */
	__u32 tgid;
	__u32 gen;
	int read;
	int again;		/* 1 + the slot of p's lock when the thread holds it already */
	int free_slot;
	__u32 outer_seq;
};

/* bpf_loop() callback: the held set as the new lock finds it. */
static long scan_slot(__u32 i, void *arg)
{
	struct edge_walk *w = arg;
	struct held_lock *h = &w->hs->locks[i & (CW_HELD_MAX - 1)];

	if (h->addr == w->p->addr) {
		w->again = i + 1;
		return 1; /* stop */
	}
	if (!h->addr && w->free_slot < 0)
		w->free_slot = i;
	if (h->addr && h->seq < w->outer_seq) {
		w->outer_seq = h->seq;
		w->gate = h->addr;
	}
	return 0;
}

/* bpf_loop() callback: the verifier checks it once, not once per held lock. */
static long edge_from_slot(__u32 i, void *arg)
{
	struct edge_walk *w = arg;
	struct held_lock *h = &w->hs->locks[i & (CW_HELD_MAX - 1)];

	if (h->addr)
		new_edge(w->tgid, h, w->p, w->gen, h->addr == w->gate ? 0 : w->gate, w->read);
	return 0;
}

/* --track-free: a lock taken; known ones cost a lookup each. */
static __always_inline void remember_lock(__u32 tgid, __u64 addr)
{
	struct lock_key k = { .tgid = tgid, .addr = addr };
	struct page_key pk = { .tgid = tgid, .page = addr >> 12 };
	__u8 one = 1;

	if (!bpf_map_lookup_elem(&lock_addrs, &k))
		bpf_map_update_elem(&lock_addrs, &k, &one, BPF_ANY);
	if (!bpf_map_lookup_elem(&lock_pages, &pk))
		bpf_map_update_elem(&lock_pages, &pk, &one, BPF_ANY);
}

#define CW_FREE_PAGES_MAX 256		/* a freed block's pages looked at: 1 MiB */

struct free_walk {
	__u32 tgid;
	__u64 start, end;		/* the freed block */
	__u64 page;			/* the page being looked at (bpf_loop over words) */
	__u64 ip;
};

/* One word of a page with locks on it: a lock there loses its history. */
static long free_word(__u32 i, void *arg)
{
	struct free_walk *w = arg;
	__u64 addr = (w->page << 12) + (__u64)i * 8;
	struct lock_key k = { .tgid = w->tgid, .addr = addr };
	__u32 gen;

	if (addr < w->start || addr >= w->end)
		return 0;
	if (!bpf_map_lookup_elem(&lock_addrs, &k))
		return 0;
	bpf_map_delete_elem(&lock_addrs, &k);
	gen = lock_gen(w->tgid, addr) + 1;
	if (bpf_map_update_elem(&lock_gens, &k, &gen, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);
	/* addr2: the freed block, which says this end of a lifetime was free() */
	emit_lock(CW_EV_LOCK_DESTROY, addr, w->start, 0, CW_OP_DESTROY, 0, w->ip, 0, 0, 0, 0);
	return 0;
}

static long free_page(__u32 i, void *arg)
{
	struct free_walk *w = arg;
	struct page_key pk = { .tgid = w->tgid, .page = (w->start >> 12) + i };

	if ((pk.page << 12) >= w->end)
		return 1;
	if (!bpf_map_lookup_elem(&lock_pages, &pk))
		return 0;
	w->page = pk.page;
	bpf_loop(4096 / 8, free_word, w, 0);
	return 0;
}

/*
 * free(ptr) with --track-free: the locks inside the block end their lifetime, as if
 * destroyed (std::mutex and locks in structures are freed without pthread_*_destroy).
 * The block's size is glibc's chunk header, the word before ptr.
 */
static __always_inline int lock_memory_freed(struct pt_regs *ctx, __u64 ptr)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct free_walk w = { .tgid = tgid, .start = ptr };
	__u64 chunk = 0;

	if (!track_free || !ptr || !cw_traced(tgid))
		return 0;
	if (bpf_probe_read_user(&chunk, sizeof(chunk), (void *)(ptr - 8)))
		return 0;
	/* size with the flag bits off; the header's 8 bytes are not the user's */
	chunk &= ~7ULL;
	if (chunk < 16)
		return 0;
	w.end = ptr + chunk - 8;
	w.ip = caller_ip(ctx);
	bpf_loop(CW_FREE_PAGES_MAX, free_page, &w, 0);
	return 0;
}

/*
 * The acquire returned. On success the lock is held: a dependency from every lock the
 * thread holds (unless the acquire could not block: a trylock), then into the set.
 * A re-acquire of a lock the thread holds (recursive mutex, recursive read) adds depth.
 */
static __always_inline int acquire_exit(struct pt_regs *ctx, int acquired)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = id, tgid = id >> 32;
	struct edge_walk w = {};
	struct pending_lock *p;
	struct held_set *hs;
	int free_slot;
	__s32 ret;

	if (!cw_traced(tgid))
		return 0;
	p = bpf_map_lookup_elem(&pending_locks, &tid);
	if (!p)
		return 0; /* the entry was not seen (attached mid-call) or its map update failed */
	ret = (__s32)PT_REGS_RC(ctx);
	if (acquired < 0) /* the caller decides from the return value */
		acquired = ret == 0 || ret == 130 /* EOWNERDEAD: robust, acquired */;
	if (raw_events)
		emit_lock(CW_EV_LOCK_ACQUIRED, p->addr, p->addr2, p->kind, p->op, p->attr, p->ip,
			  p->stack_id, now - p->ts_ns, acquired ? 0 : (ret ? ret : -1), now);
	if (!acquired)
		goto out;
	if (!raw_events)
		count_site(tgid, p->addr, p->stack_id, p->ip, p->kind, now - p->ts_ns, p->contended,
			   0, 1);
	if (track_free)
		remember_lock(tgid, p->addr);

	hs = held_set_of(tid, 1);
	if (!hs)
		goto out;
	w.hs = hs;
	w.p = p;
	w.tgid = tgid;
	w.gen = lock_gen(tgid, p->addr);
	w.read = op_is_read(p->op);
	w.free_slot = -1;
	w.outer_seq = ~0U;
	/* the slots in use, and the one after them: a free one for the new lock */
	bpf_loop(hs->hi < CW_HELD_MAX ? hs->hi + 1 : CW_HELD_MAX, scan_slot, &w, 0);
	if (w.again) {
		hs->locks[(w.again - 1) & (CW_HELD_MAX - 1)].depth++; /* recursive: no edge */
		goto out;
	}
	/*
	 * gate: the outermost lock held. If every edge of a cycle was made under one such
	 * lock, it serializes them. (The edge from that lock itself carries no gate.)
	 */
	if (!op_is_try(p->op))
		bpf_loop(hs->hi < CW_HELD_MAX ? hs->hi : CW_HELD_MAX, edge_from_slot, &w, 0);
	free_slot = w.free_slot;
	if (free_slot < 0) {
		__sync_fetch_and_add(&lost_held_overflow, 1);
		goto out;
	}
	hs->locks[free_slot & (CW_HELD_MAX - 1)] = (struct held_lock){
		.addr = p->addr,
		.ip = p->ip,
		.stack_id = p->stack_id,
		.acquired_ns = now,
		.gen = w.gen,
		.seq = hs->seq++,
		.depth = 1,
		.attr = p->attr,
		.kind = p->kind,
		.read = w.read,
	};
	hs->nr++;
	if ((__u32)free_slot >= hs->hi)
		hs->hi = free_slot + 1;
out:
	bpf_map_delete_elem(&pending_locks, &tid);
	return 0;
}

/* A release: out of the held set (or one depth less), with its hold time. */
static __always_inline int release(struct pt_regs *ctx, __u64 addr, __u64 addr2, __u8 kind, __u8 op)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns(), hold = 0;
	__u32 tid = id, tgid = id >> 32;
	struct held_set *hs;

	if (!cw_traced(tgid))
		return 0;
	hs = held_set_of(tid, 0);
	for (__u32 i = 0; hs && i < CW_HELD_MAX && i < hs->hi; i++) {
		struct held_lock *h = &hs->locks[i];

		if (h->addr != addr)
			continue;
		if (h->depth > 1) {
			h->depth--;
			break;
		}
		hold = now - h->acquired_ns;
		if (!raw_events)
			count_site(tgid, addr, h->stack_id, h->ip, h->kind, 0, 0, hold, 0);
		h->addr = 0;
		hs->nr--;
		/* locks are mostly released in the reverse order: the bound follows them down */
		if (!hs->nr)
			hs->hi = 0;
		else if (i + 1 == hs->hi)
			hs->hi = i;
		break;
	}
	if (raw_events)
		emit_lock(CW_EV_LOCK_RELEASED, addr, addr2, kind, op, 0, caller_ip(ctx), 0, hold, 0, now);
	return 0;
}

/* pthread_*_init/destroy: the address starts a new lifetime. Rare: always sent. */
static __always_inline int lock_reset_at(struct pt_regs *ctx, __u64 addr, __u8 kind, __u8 op,
					 int at_entry, __u64 ra_off1)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct lock_key k = { .tgid = id >> 32, .addr = addr };
	__u32 gen;

	if (!cw_traced(id >> 32))
		return 0;
	gen = lock_gen(k.tgid, addr) + 1;
	if (bpf_map_update_elem(&lock_gens, &k, &gen, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);
	emit_lock(op == CW_OP_INIT ? CW_EV_LOCK_INIT : CW_EV_LOCK_DESTROY, addr, 0, kind, op,
		  op == CW_OP_INIT ? 0 : read_attr(addr, kind), caller_at(ctx, at_entry, ra_off1), 0,
		  0, 0, 0);
	return 0;
}

static __always_inline int lock_reset(struct pt_regs *ctx, __u64 addr, __u8 kind, __u8 op)
{
	return lock_reset_at(ctx, addr, kind, op, 1, 0);
}

/* A blocking futex call during an acquire: the acquire is contended. */
static __always_inline void mark_contended(__u32 tid)
{
	struct pending_lock *p = bpf_map_lookup_elem(&pending_locks, &tid);

	if (p)
		p->contended = 1;
}

#endif /* __CW_LOCKS_BPF_H */
