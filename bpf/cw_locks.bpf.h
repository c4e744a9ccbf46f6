/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User-space locks: what each thread holds, the lock-order dependencies it makes, and
 * per (lock, call path) statistics, all kept here so the hot path sends nothing when
 * nothing is new. The rules themselves are include/concwatch/lockrules.h, shared with the
 * kernel module and userspace; this file gives them storage (maps) and output (the ring
 * buffer). A new dependency (edge) goes out once per (edge, call path, gate); the
 * statistics are read by userspace every tick. With raw_events set, every operation
 * also goes out as a CW_EV_LOCK_* record (tests, debugging).
 *
 * State is per thread (the held set, the acquire in progress), keyed by tid: uprobe
 * programs are preemptible, and only the thread itself touches its own entries.
 *
 * An acquire that waits makes its dependencies when the wait begins, as lockdep makes
 * them at the attempt (cw_rules_waits()): when the thread first goes to sleep in a futex
 * wait on the lock's words (sched_switch, cw_sched.bpf.h; pthread_spin_lock's probe
 * sits after the lock is taken: a spin lock's wait is not seen). A thread that waits
 * forever (a deadlock) still makes the dependencies that close the cycle; an acquire
 * that does not wait makes them at its return as before, so the uncontended path does no
 * more than it did. The same switch sends one CW_EV_BLOCKED record (who waits for which
 * lock, held by whom, since when), and the acquire's return another with reason
 * CW_OFFCPU_NONE: the live wait-for graph, in every mode.
 */
#ifndef __CW_LOCKS_BPF_H
#define __CW_LOCKS_BPF_H

#include "cw_maps.h"
#include "cw_sites.bpf.h"
#include "cw_stack.bpf.h"

/*
 * The rules' loops over a held set as bpf_loop() callbacks: the verifier checks each
 * once, not once per slot. Everything inlined, as the rest of the programs.
 */
#define CW_RULES_IMPL
#define CW_RULES_LOOP(n, fn, arg) bpf_loop((n), (fn), (arg), 0)
#define CW_RULES_INLINE static __always_inline
#define CW_RULES_HOOK static __always_inline
#include "concwatch/lockrules.h"
#include "concwatch/glibc.h"
#include "concwatch/preload.h"

/* A glibc lock's futex words are within its first 16 bytes (rwlock: +0..+12). */
#define CW_LOCK_WORDS 16

const volatile bool raw_events = false;
const volatile bool track_free = false;	/* --track-free: free() ends the history of locks */
/* --no-uprobes: no program here runs; the tracepoints have nothing to look up here */
const volatile bool no_uprobes = false;

__u64 lost_held_overflow;

/* A thread's held set (lockrules.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct cw_held_set);
} held_sets SEC(".maps");

/* Scratch value for creating a thread's held set: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cw_held_set);
} empty_held_set SEC(".maps");


/* glibc's pthread_cond_t: its futex words (__g_signals, __g_refs, __wrefs) lie inside */
#define CW_COND_BYTES 48

/* A futex word of the condvar a cond_wait in progress waits on (not of its mutex). */
static __always_inline int cond_wait_word(const struct pending_lock *p, __u64 uaddr)
{
	return p->a.op == CW_OP_COND_WAIT && p->addr2 && uaddr - p->addr2 < CW_COND_BYTES;
}

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

/* Edges already sent; LRU: an evicted one is sent again, which the engine merges. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cw_edge_key);
	__type(value, __u8);
} edges_seen SEC(".maps");

/*
 * Edges that found the ring buffer full, kept until userspace delivers them (at every
 * drain): a dependency made once would otherwise never be sent. edges_parked counts the
 * ones put here, so that userspace looks only when there are some.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct cw_edge_key);
	__type(value, struct cw_ev_edge);
} edges_pending SEC(".maps");

__u64 edges_parked;

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

/* What the lock's own memory says about it: recursive? writer-preferring? (glibc.h) */
static __always_inline __u16 read_attr(__u64 addr, __u8 kind)
{
	__u32 word = 0;

	if (kind == CW_LOCK_MUTEX)
		return bpf_probe_read_user(&word, sizeof(word),
					   (void *)(addr + CW_GLIBC_MUTEX_KIND_OFF)) ?
			       0 : cw_glibc_mutex_attr(word);
	if (kind == CW_LOCK_RWLOCK)
		return bpf_probe_read_user(&word, sizeof(word),
					   (void *)(addr + CW_GLIBC_RWLOCK_FLAGS_OFF)) ?
			       0 : cw_glibc_rwlock_attr(word);
	return CW_ATTR_KNOWN;
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

static __noinline void emit_blocked(const struct pending_lock *p, __u32 reason, __u32 owner,
				    __u64 ts);

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
	if (old && old->a.addr == addr && old->a.op == op)
		return 0;
	/*
	 * An acquire whose return was not seen (a USDT timed acquire that failed has no
	 * note) ended before this one began: so did its wait.
	 */
	if (old && old->blocked)
		emit_blocked(old, CW_OFFCPU_NONE, 0, 0);
	p.a.addr = addr;
	p.addr2 = addr2;
	p.a.kind = kind;
	p.a.op = op;
	p.a.ip = caller_at(ctx, at_entry, ra_off1);
	p.ret_slot = at_entry ? PT_REGS_SP(ctx) : 0;
	p.a.attr = read_attr(addr, kind);
	/* inside a function, the caller tells call paths apart where [sp] would */
	p.a.stack_id = user_stack_id(PT_REGS_IP(ctx), PT_REGS_SP(ctx), PT_REGS_FP(ctx), at_entry,
				     at_entry ? 0 : p.a.ip, 1, 0, 0);
	p.a.begin_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending_locks, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);
	if (raw_events && !cw_rules_op_try(op))
		emit_lock(CW_EV_LOCK_BEGIN, addr, addr2, kind, op, p.a.attr, p.a.ip, p.a.stack_id,
			  0, 0, p.a.begin_ns);
	return 0;
}

static __always_inline int acquire_enter(struct pt_regs *ctx, __u64 addr, __u64 addr2, __u8 kind,
					 __u8 op)
{
	return acquire_enter_at(ctx, addr, addr2, kind, op, 1, 0);
}

static __always_inline void count_site(__u32 tgid, __u64 addr, __u64 stack_id, __u64 ip,
				       __u8 kind, __u64 wait, int contended, __u64 hold, int acquired)
{
	struct cw_site_key k = { .tgid = tgid, .addr = addr, .stack_id = stack_id,
				 .what = CW_SITE_ACQUIRE };
	struct cw_site_stats *st = site_entry(&k, ip, kind);

	if (!st)
		return;
	if (acquired) {
		__sync_fetch_and_add(&st->acquisitions, 1);
		if (contended)
			__sync_fetch_and_add(&st->contentions, 1);
		/*
		 * Only a contended acquire waited: an uncontended one's time in the call is
		 * the probes' own trap cost (microseconds on some hosts) and preemption, which
		 * would make a busy uncontended lock look like a hotspot; and the histogram is
		 * of the waits, so that its percentiles say how long a thread waited when it
		 * had to.
		 */
		if (contended)
			site_wait_shared(st, wait);
	} else {
		__sync_fetch_and_add(&st->hold_ns_total, hold);
		atomic_max(&st->hold_ns_max, hold);
	}
}

static __always_inline struct cw_held_set *held_set_of(__u32 tid, int create)
{
	struct cw_held_set *hs = bpf_map_lookup_elem(&held_sets, &tid);
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

/*
 * lockrules.h: a dependency, sent unless this (edge, call path, gate) went out before.
 * When the ring buffer is full it waits in edges_pending; only when that is full too is
 * it lost (counted), and forgotten, so that it is sent the next time it is made.
 */
CW_RULES_HOOK void cw_rules_emit_edge(void *ctx, const struct cw_edge_id *id,
				      const struct cw_held_lock *from,
				      const struct cw_rules_acq *to)
{
	struct cw_edge_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .id = *id };
	struct cw_ev_edge e = {};
	__u8 one = 1;
	long err;

	if (bpf_map_lookup_elem(&edges_seen, &k))
		return;
	if (bpf_map_update_elem(&edges_seen, &k, &one, BPF_NOEXIST))
		return; /* another CPU sent it first */
	cw_hdr_fill(&e.hdr, sizeof(e), CW_EV_LOCK_EDGE);
	cw_rules_edge_record(&e, id, from, to);
	if (!bpf_ringbuf_output(&events, &e, sizeof(e), cw_wakeup_flags()))
		return;
	err = bpf_map_update_elem(&edges_pending, &k, &e, BPF_NOEXIST);
	if (!err)
		__sync_fetch_and_add(&edges_parked, 1);
	if (!err || err == -17 /* EEXIST: waiting already */)
		return;
	__sync_fetch_and_add(&lost_ringbuf, 1);
	bpf_map_delete_elem(&edges_seen, &k);
}

/* cw_sched.bpf.h: one more failed attempt in the thread's scheduling figures */
static __always_inline void sched_count_try_failure(__u32 tid, __u32 tgid, __u64 now);

static __always_inline __u32 lock_owner(__u64 addr, __u8 kind, __u16 attr);

/*
 * An acquire that returned without the lock (a trylock that found it busy, a timed
 * acquire that timed out): a failure of its site, and its wait, which was time lost too
 * (the histogram counts every call). A frame of its own: the return program's stack
 * holds the rules' bpf_loop frames already.
 *
 * A busy or timed-out attempt (ret EBUSY, ETIMEDOUT) also counts in the thread's own
 * CW_SITE_TRY entry of the lock, with the holder the lock word names: the livelock rule
 * (engine/livelock.c) needs who failed, not only where; and in its thread_stats.
 */
static __noinline void count_failure(const struct pending_lock *p, __s32 ret, __u64 now)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cw_site_key k = { .tgid = id >> 32, .addr = p->a.addr, .stack_id = p->a.stack_id,
				 .what = CW_SITE_ACQUIRE };
	struct cw_site_stats *st;
	__u64 wait = now - p->a.begin_ns;
	int busy = ret == 16 /* EBUSY */ || ret == 110 /* ETIMEDOUT */;

	if (busy)
		sched_count_try_failure((__u32)id, id >> 32, now);
	/* with every operation sent (raw_events), the engine counts from the records */
	if (raw_events)
		return;
	st = site_entry(&k, p->a.ip, p->a.kind);
	if (st) {
		__sync_fetch_and_add(&st->failures, 1);
		site_wait_shared(st, wait);
	}
	if (!busy)
		return;
	k.tid = (__u32)id;
	k.stack_id = 0;
	k.what = CW_SITE_TRY;
	st = site_entry(&k, p->a.ip, p->a.kind);
	if (!st)
		return;
	/* the thread's own entry: only it writes there */
	st->failures++;
	st->ip = p->a.ip;
	st->stack_last = p->a.stack_id;
	st->op = p->a.op;
	st->owner_tid = lock_owner(p->a.addr, p->a.kind, p->a.attr);
	if (ret == 110)
		site_wait_own(st, wait);
}

/*
 * A lock taken by a thread that failed on it before: its progress. One lookup per
 * successful acquire, which misses unless the thread ever failed on the lock.
 */
static __always_inline void count_try_success(__u32 tgid, __u32 tid, __u64 addr)
{
	struct cw_site_key k = { .tgid = tgid, .tid = tid, .addr = addr, .what = CW_SITE_TRY };
	struct cw_site_stats *st = bpf_map_lookup_elem(&lock_sites, &k);

	if (st)
		st->acquisitions++;
}

/* lockrules.h: a statistic, into lock_sites (unless every operation goes out: raw_events). */
CW_RULES_HOOK void cw_rules_count(void *ctx, const struct cw_rules_stat *st)
{
	if (raw_events)
		return;
	count_site(bpf_get_current_pid_tgid() >> 32, st->addr, st->stack_id, st->ip, st->kind,
		   st->wait_ns, st->contended, st->hold_ns, st->step == CW_RULES_ACQUIRED);
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
	gen = cw_rules_next_gen(lock_gen(w->tgid, addr));
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
 * Who holds the lock, as its memory says while a thread waits for it; 0 when it does not
 * say: a mutex's __owner, a PI mutex's word; an rwlock names only its writer (readers
 * leave no trace); a spin lock nobody.
 */
static __always_inline __u32 lock_owner(__u64 addr, __u8 kind, __u16 attr)
{
	__u32 w = 0, mask;
	int off = cw_glibc_owner_word(kind, attr, &mask);

	if (off < 0)
		return 0;
	bpf_probe_read_user(&w, sizeof(w), (void *)(addr + off));
	return w & mask;
}

/*
 * Processes the in-process library records (run --backend preload, no uprobe on their
 * lock calls): where each of their threads keeps the address of its slot, from its thread
 * pointer (cw_preload_region.tls_slot). Set from userspace at the library's hello.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __s64);
} library_procs SEC(".maps");

/* A slot's wait words (struct cw_preload_thread, from wait_seq). */
struct library_wait {
	__u32 seq;
	__u32 owner;
	__u64 addr;
	__u64 since;
	__u64 stack;
	__u64 ended;
	__u8 kind;
	__u8 op;
	__u8 pad[6];
};

/*
 * library_wait()'s copy, per CPU: sched_switch's call chain has no room for it on the BPF
 * stack, and it runs with its run queue locked, one program at a time on a CPU.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct library_wait);
} library_wait_buf SEC(".maps");

_Static_assert(__builtin_offsetof(struct cw_preload_thread, wait_kind) -
		       __builtin_offsetof(struct cw_preload_thread, wait_seq) ==
	       __builtin_offsetof(struct library_wait, kind), "library wait words moved");

/*
 * The wait thread tid (task t, the current task: its memory is mapped) of process tgid is
 * in, by the library's own words, into *w, when the futex word uaddr it goes to sleep on is
 * that lock's (not a condvar's: cond_wait takes its mutex back in the lock call): its
 * lock, or 0. Its holder is the lock's owner word now (woken and asleep again, another
 * thread may have taken it first, as in acquire_sleeps()), else the one the library saw
 * at the start of the wait. The words cannot change under the read: only their thread
 * writes them, and it is here, in the kernel. A slot that is not the thread's (a forked
 * child's copy of its parent's TLS, before its first lock call) is told by its tid.
 */
static __always_inline __u64 library_wait(struct task_struct *t, __u32 tgid, __u32 tid,
					  __u64 uaddr, struct library_wait *w)
{
	__s64 *off = bpf_map_lookup_elem(&library_procs, &tgid);
	__u64 slot = 0, fsbase;
	__u32 slot_tid = 0, now;

	if (!w || !off || !*off)
		return 0;
	fsbase = BPF_CORE_READ(t, thread.fsbase);
	if (bpf_probe_read_user(&slot, sizeof(slot), (void *)(fsbase + *off)) || !slot)
		return 0;
	if (bpf_probe_read_user(&slot_tid, sizeof(slot_tid),
				(void *)(slot + __builtin_offsetof(struct cw_preload_thread, tid))) ||
	    slot_tid != tid)
		return 0;
	if (bpf_probe_read_user(w, sizeof(*w),
				(void *)(slot + __builtin_offsetof(struct cw_preload_thread,
								   wait_seq))) ||
	    (w->seq & 1) || !w->addr || uaddr - w->addr >= CW_LOCK_WORDS) {
		w->addr = 0;
		return 0;
	}
	now = lock_owner(w->addr, w->kind, 0);
	if (now)
		w->owner = now;
	return w->addr;
}

/*
 * A real-time thread (tid of tgid) the library records sleeps in its wait w (reason
 * CW_OFFCPU_LOCK), or is woken from it (CW_OFFCPU_NONE): the blocked-acquire record the
 * library would send only for a wait a drain finds, for the priority rules (a latent
 * inversion lasts a millisecond). Real-time threads only: they are few, and a contended
 * lock of others can sleep a million times a second.
 */
static __always_inline void emit_library_blocked(__u32 tgid, __u32 tid, __u32 reason,
						 __u64 addr, __u64 since, __u64 stack,
						 __u32 owner, __u8 kind, __u8 op)
{
	struct cw_ev_blocked *e = cw_reserve(sizeof(*e), CW_EV_BLOCKED);

	if (!e)
		return;
	e->hdr.pid = tgid;
	e->hdr.tid = tid;
	e->addr = addr;
	e->since_ns = since;
	e->stack_id = stack;
	e->owner_tid = owner;
	e->reason = reason;
	e->kind = kind;
	e->op = op;
	e->pad = 0;
	e->futex_op = 0;
	e->readers = 0;
	cw_submit(e);
}

/*
 * The blocked-acquire record of p (events.h): reason CW_OFFCPU_LOCK as its wait begins,
 * CW_OFFCPU_NONE when the acquire returned. Rare (acquires that blocked): always sent.
 */
static __noinline void emit_blocked(const struct pending_lock *p, __u32 reason, __u32 owner,
				    __u64 ts)
{
	struct cw_ev_blocked *e;

	if (!p)
		return;
	e = cw_reserve(sizeof(*e), CW_EV_BLOCKED);
	if (!e)
		return;
	if (ts)
		e->hdr.ts_ns = ts;
	e->addr = p->a.addr;
	e->since_ns = p->a.begin_ns;
	e->stack_id = p->a.stack_id;
	e->owner_tid = owner;
	e->reason = reason;
	e->kind = p->a.kind;
	e->op = p->a.op;
	e->pad = 0;
	e->futex_op = 0;
	e->readers = 0;
	cw_submit(e);
}

/*
 * The acquire returned (acquired < 0: the return value says whether it took the lock).
 * On success, the rules (lockrules.h) on the thread's held set.
 */
static __always_inline int acquire_exit(struct pt_regs *ctx, int acquired)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = id, tgid = id >> 32;
	struct pending_lock *p;
	__s32 ret;

	if (!cw_traced(tgid))
		return 0;
	p = bpf_map_lookup_elem(&pending_locks, &tid);
	if (!p)
		return 0; /* the entry was not seen (attached mid-call) or its map update failed */
	ret = (__s32)PT_REGS_RC(ctx);
	if (acquired < 0)
		acquired = cw_rules_op_acquired(p->a.op, ret);
	if (raw_events)
		emit_lock(CW_EV_LOCK_ACQUIRED, p->a.addr, p->addr2, p->a.kind, p->a.op, p->a.attr,
			  p->a.ip, p->a.stack_id, now - p->a.begin_ns,
			  acquired ? 0 : (ret ? ret : -1), now);
	/* the thread waits no more, whether it got the lock or not */
	if (p->blocked)
		emit_blocked(p, CW_OFFCPU_NONE, 0, now);
	if (!acquired) {
		count_failure(p, ret, now);
		goto out;
	}
	if (!raw_events)
		count_try_success(tgid, tid, p->a.addr);
	if (track_free)
		remember_lock(tgid, p->a.addr);
	p->a.gen = lock_gen(tgid, p->a.addr);
	if (cw_rules_acquired(held_set_of(tid, 1), &p->a, now, NULL) == CW_RULES_OVERFLOW)
		__sync_fetch_and_add(&lost_held_overflow, 1);
out:
	bpf_map_delete_elem(&pending_locks, &tid);
	return 0;
}

/* A release: out of the held set (or one depth less), with its hold time. */
static __always_inline int release(struct pt_regs *ctx, __u64 addr, __u64 addr2, __u8 kind, __u8 op)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns(), hold;
	__u32 tid = id, tgid = id >> 32;

	if (!cw_traced(tgid))
		return 0;
	cw_rules_released(held_set_of(tid, 0), addr, now, &hold, NULL);
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
	gen = cw_rules_next_gen(lock_gen(k.tgid, addr));
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

/*
 * Thread tid, the current task, goes to sleep in its acquire's futex wait on the lock
 * (sched_switch, cw_sched.bpf.h): the first time in this acquire, its dependencies
 * (lockrules.h) and its blocked record. At the switch rather than at the futex call: the
 * futex program's stack walk leaves too little of the 512 bytes for the rules' frames
 * (an edge record is built on the stack), a program of its own would run for every futex
 * call of the machine, and only a wait that sleeps is a block. Returns the lock's holder
 * (0: none known, or no probed acquire).
 */
__noinline __u32 acquire_sleeps(__u32 tid)
{
	struct pending_lock *p = bpf_map_lookup_elem(&pending_locks, &tid);

	__u32 owner;

	if (!p)
		return 0;
	owner = lock_owner(p->a.addr, p->a.kind, p->a.attr);
	if (p->blocked) {
		/*
		 * Woken, and asleep again in the same acquire: another thread took the lock
		 * first. A new holder is said again, or the wait-for graph would keep the one
		 * that released it (and could close a cycle that is not there).
		 */
		if (owner != p->blocked_owner) {
			p->blocked_owner = owner;
			emit_blocked(p, CW_OFFCPU_LOCK, owner, 0);
		}
		return owner;
	}
	p->blocked = 1;
	p->blocked_owner = owner;
	p->a.gen = lock_gen(bpf_get_current_pid_tgid() >> 32, p->a.addr);
	cw_rules_waits(held_set_of(tid, 0), &p->a, NULL);
	emit_blocked(p, CW_OFFCPU_LOCK, owner, 0);
	return owner;
}

#endif /* __CW_LOCKS_BPF_H */
