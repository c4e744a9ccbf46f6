// SPDX-License-Identifier: GPL-2.0
/*
 * concwatch's in-process library: loaded with LD_PRELOAD by `concwatch run --backend
 * preload`, it wraps the pthread lock functions and records what the uprobes would have,
 * into shared memory concwatch reads (include/concwatch/preload.h), without a trap.
 *
 * What makes it cheap. The uncontended acquire tries the lock first and takes no clock:
 * the wait of an acquire that found the lock free is 0, and only the slow path (the lock
 * was busy) is timed. Hold times are timed for the first few holds of each lock and call
 * path, then for one in hold_period, counted that many times. Everything a thread changes
 * is its own (thread-local state, its slot of the region): no lock, no atomic and no
 * allocation on the fast path;
 * the process-wide sets (stacks and dependencies sent) are touched only when something may
 * be new, with a compare-and-swap. The common case is inline, from the wrapper's entry to
 * the real function and back, the lock rules included; what is rare (a wait, a failure, a
 * new call path, entry or dependency, the records of --timeline) is out of line, costing
 * the fast path neither instructions nor registers.
 *
 * The lock rules are include/concwatch/lockrules.h, as in the BPF programs and the module:
 * held sets, trylocks, recursion, dependencies and statistics mean the same here.
 *
 * The pitfalls:
 * - the wrappers may run before the constructor (other libraries' constructors take
 *   locks) and in threads that existed before it: the real functions are found at the
 *   first call, and a thread's slot is claimed at its first lock call, whenever that is;
 * - dlsym() may allocate: nothing here wraps malloc;
 * - pthread_cond_wait exists in two versions (GLIBC_2.2.5, the old condvar, and
 *   GLIBC_2.3.2): the wrapper forwards to the one programs link against today
 *   (dlvsym), and a program still bound to the old one is served the new one, as when it
 *   runs against today's libc with its old binding gone (glibc keeps it for binaries only);
 * - fork: the child's region is its own (pthread_atfork), made before the child runs any
 *   code of its own; a child no fork handler ran in (a raw clone() without CLONE_VM,
 *   _Fork()) finds a byte of a wipe-on-fork page zeroed at its first lock call, and makes
 *   its own then (adopt()); vfork and exec need nothing (the child of vfork runs in the parent's
 *   memory, on the parent's thread, until it execs; exec starts the library again from
 *   the environment);
 * - a signal handler that takes a lock inside a wrapper: the nested call is passed
 *   through untraced (the thread's state is half-changed) and counted lost;
 * - the dynamic loader and libc take their own locks by direct calls, which no wrapper
 *   sees (the uprobes see those that go through the probed functions).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CW_RULES_IMPL
#include <concwatch/lockrules.h>
#include <concwatch/glibc.h>
#include <concwatch/preload.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define CW_EXPORT __attribute__((visibility("default")))
/*
 * The untimed lock calls, those a program makes most: everything they call is inlined
 * (the lock rules too, which other wrappers share out of line) but for what is noinline,
 * the slow paths.
 */
#define CW_FAST __attribute__((flatten))
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define CW_FP_DEPTH 16		/* frames of a frame-pointer walk, as the module's */
/*
 * Holds timed one by one per (lock, call path) and thread before sampling starts: a lock
 * taken a few times has exact hold times, a hot one costs a clock read in hold_period.
 */
#define CW_HOLD_EXACT 16
#define CW_STACK_BYTES_MAX 24576

/* ---- the real functions ---- */

struct cw_real {
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_trylock)(pthread_mutex_t *);
	int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
	int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
	int (*mutex_destroy)(pthread_mutex_t *);
	int (*rwlock_rdlock)(pthread_rwlock_t *);
	int (*rwlock_tryrdlock)(pthread_rwlock_t *);
	int (*rwlock_timedrdlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rwlock_clockrdlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rwlock_wrlock)(pthread_rwlock_t *);
	int (*rwlock_trywrlock)(pthread_rwlock_t *);
	int (*rwlock_timedwrlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rwlock_clockwrlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rwlock_unlock)(pthread_rwlock_t *);
	int (*rwlock_init)(pthread_rwlock_t *, const pthread_rwlockattr_t *);
	int (*rwlock_destroy)(pthread_rwlock_t *);
	int (*spin_lock)(pthread_spinlock_t *);
	int (*spin_trylock)(pthread_spinlock_t *);
	int (*spin_unlock)(pthread_spinlock_t *);
	int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	int (*cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
			      const struct timespec *);
};

static struct cw_real real;
static int real_ready;

static void *find(const char *name, const char *version)
{
	void *p = version ? dlvsym(RTLD_NEXT, name, version) : NULL;

	return p ?: dlsym(RTLD_NEXT, name);
}

#define FIND(field, name) (*(void **)&real.field = find(name, NULL))

static void __attribute__((noinline)) resolve(void)
{
	FIND(mutex_lock, "pthread_mutex_lock");
	FIND(mutex_trylock, "pthread_mutex_trylock");
	FIND(mutex_timedlock, "pthread_mutex_timedlock");
	FIND(mutex_clocklock, "pthread_mutex_clocklock");
	FIND(mutex_unlock, "pthread_mutex_unlock");
	FIND(mutex_init, "pthread_mutex_init");
	FIND(mutex_destroy, "pthread_mutex_destroy");
	FIND(rwlock_rdlock, "pthread_rwlock_rdlock");
	FIND(rwlock_tryrdlock, "pthread_rwlock_tryrdlock");
	FIND(rwlock_timedrdlock, "pthread_rwlock_timedrdlock");
	FIND(rwlock_clockrdlock, "pthread_rwlock_clockrdlock");
	FIND(rwlock_wrlock, "pthread_rwlock_wrlock");
	FIND(rwlock_trywrlock, "pthread_rwlock_trywrlock");
	FIND(rwlock_timedwrlock, "pthread_rwlock_timedwrlock");
	FIND(rwlock_clockwrlock, "pthread_rwlock_clockwrlock");
	FIND(rwlock_unlock, "pthread_rwlock_unlock");
	FIND(rwlock_init, "pthread_rwlock_init");
	FIND(rwlock_destroy, "pthread_rwlock_destroy");
	FIND(spin_lock, "pthread_spin_lock");
	FIND(spin_trylock, "pthread_spin_trylock");
	FIND(spin_unlock, "pthread_spin_unlock");
	*(void **)&real.cond_wait = find("pthread_cond_wait", "GLIBC_2.3.2");
	*(void **)&real.cond_timedwait = find("pthread_cond_timedwait", "GLIBC_2.3.2");
	FIND(cond_clockwait, "pthread_cond_clockwait");
	__atomic_store_n(&real_ready, 1, __ATOMIC_RELEASE);
}

static inline void need_real(void)
{
	if (unlikely(!__atomic_load_n(&real_ready, __ATOMIC_ACQUIRE)))
		resolve();
}

/* ---- the process: its region, options ---- */

static struct cw_preload_region *region;
static size_t region_bytes;
static __u32 region_gen;	/* a new region (a fork): threads claim a slot again */
static __u32 cw_pid;
/*
 * A byte in a page the kernel gives a child zeroed (MADV_WIPEONFORK): 1 where the region
 * is this process's own, 0 in a child that no fork handler ran in (a raw clone() without
 * CLONE_VM, _Fork()), which still maps its parent's region. It points at a plain 1 before
 * the constructor, and where the kernel has no MADV_WIPEONFORK (before 4.14).
 */
static __u8 own_static = 1, *own = &own_static;
static __u32 stack_bytes = 16384;
static __u32 hold_period = 16;
static int raw_events;		/* a record per operation (concwatch's --timeline, tests) */
static int track_free;		/* --track-free: free() ends the locks' history inside */
static pthread_key_t slot_key;

/* The executable mappings, for the frame-pointer walk's return addresses. */
struct cw_text {
	__u64 lo, hi;
};

struct cw_texts {
	__u32 nr;
	struct cw_text r[];
};

static struct cw_texts *texts;
static int texts_stale = 1;

/* ---- a thread ---- */

struct cw_thr {
	struct cw_preload_thread *slot;
	__u32 gen;		/* region_gen of slot, or of the failure to get one */
	int no_slot;
	int busy;		/* inside a wrapper: a nested call (a signal handler) passes */
	__u32 tid;
	__u32 nr_timed;		/* held locks with a timed hold */
	__u32 nr_try;		/* TRY entries in the thread's statistics */
	__u64 stack_lo, stack_hi; /* the thread's stack: the walk and the copy stay inside */
	__u64 now;		/* the operation's time, 0: not taken */
	struct cw_preload_site *last_site; /* the entry counted last: loops hit it again */
	__u64 last_edge;	/* the dependency met last (its hash): sent already */
	struct {		/* the call path met last, by where it was called from */
		__u64 ret, pc, bp, up, id;
	} last_path;
	struct cw_held_set hs;
};

static __thread struct cw_thr thr __attribute__((tls_model("initial-exec")));

static inline __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __u32 my_tid(void)
{
	return syscall(SYS_gettid);
}

/* ---- the ring ---- */

struct cw_part {
	const void *p;
	__u32 len;
};

static void ring_copy(__u8 *ring, __u32 mask, __u64 pos, const void *src, __u32 len)
{
	__u32 off = pos & mask, first = mask + 1 - off;

	if (first >= len) {
		memcpy(ring + off, src, len);
		return;
	}
	memcpy(ring + off, src, first);
	memcpy(ring, (const __u8 *)src + first, len - first);
}

/* One record of n parts (the first starts with its struct cw_hdr, size filled in). */
static int emitv(struct cw_preload_thread *t, const struct cw_part *parts, int n)
{
	__u32 size = 0, mask = region->ring_bytes - 1;
	__u64 head = t->head, tail = __atomic_load_n(&t->tail, __ATOMIC_ACQUIRE);
	__u8 *ring = cw_preload_ring(region, t);
	static const __u8 zero[8];
	int i;

	for (i = 0; i < n; i++)
		size += parts[i].len;
	if (CW_RECORD_ALIGN(size) > 0xffff || head - tail + CW_RECORD_ALIGN(size) > mask + 1) {
		t->lost[CW_LOST_RINGBUF]++;
		return -ENOSPC;
	}
	((struct cw_hdr *)parts[0].p)->size = CW_RECORD_ALIGN(size);
	for (i = 0; i < n; i++) {
		ring_copy(ring, mask, head, parts[i].p, parts[i].len);
		head += parts[i].len;
	}
	if (CW_RECORD_ALIGN(size) != size) {
		ring_copy(ring, mask, head, zero, CW_RECORD_ALIGN(size) - size);
		head += CW_RECORD_ALIGN(size) - size;
	}
	__atomic_store_n(&t->head, head, __ATOMIC_RELEASE);
	return 0;
}

static int emit(struct cw_preload_thread *t, void *rec, __u32 len)
{
	struct cw_part p = { rec, len };

	return emitv(t, &p, 1);
}

static void hdr_init(struct cw_hdr *h, __u16 type, __u64 ts)
{
	h->type = type;
	h->size = 0;
	h->cpu = 0xffff;
	h->flags = 0;
	h->ts_ns = ts ?: now_ns();
	h->pid = cw_pid;
	h->tid = thr.tid;
}

/* ---- process-wide sets: a value seen once, compare-and-swap inserts ---- */

static __u64 *seen_set(__u64 off)
{
	return (__u64 *)((char *)region + off);
}

/* 1: v is in the set; 0: not; -1: not, and no room to note it. */
static int seen_find(__u64 *set, __u64 v)
{
	__u32 mask = region->nr_seen - 1, i = v & mask, n;

	for (n = 0; n < 64; n++, i = (i + 1) & mask) {
		__u64 cur = __atomic_load_n(&set[i], __ATOMIC_RELAXED);

		if (cur == v)
			return 1;
		if (!cur)
			return 0;
	}
	return -1;
}

static void seen_add(__u64 *set, __u64 v)
{
	__u32 mask = region->nr_seen - 1, i = v & mask, n;

	for (n = 0; n < 64; n++, i = (i + 1) & mask) {
		__u64 cur = 0;

		if (__atomic_compare_exchange_n(&set[i], &cur, v, 0, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED) || cur == v)
			return;
	}
}

static __u64 mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* ---- lifetimes ---- */

static struct cw_preload_gen *gen_slot(__u64 addr, int create)
{
	struct cw_preload_gen *g = (struct cw_preload_gen *)((char *)region + region->gens_off);
	__u32 mask = region->nr_seen - 1, i = mix(0, addr) & mask, n;

	for (n = 0; n < 64; n++, i = (i + 1) & mask) {
		__u64 cur = __atomic_load_n(&g[i].addr, __ATOMIC_ACQUIRE);

		if (cur == addr)
			return &g[i];
		if (cur)
			continue;
		if (!create)
			return NULL;
		if (__atomic_compare_exchange_n(&g[i].addr, &cur, addr, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&region->nr_gens, 1, __ATOMIC_RELAXED);
			return &g[i];
		}
		if (cur == addr)
			return &g[i];
	}
	return NULL;
}

static __u32 lock_gen(__u64 addr)
{
	struct cw_preload_gen *g;

	if (likely(!__atomic_load_n(&region->nr_gens, __ATOMIC_RELAXED)))
		return 0;
	g = gen_slot(addr, 0);
	return g ? __atomic_load_n(&g->gen, __ATOMIC_RELAXED) : 0;
}

/* ---- a thread's slot ---- */

static void slot_release(void *p)
{
	struct cw_preload_thread *t = p;

	/* a slot of the region it was claimed in: a forked child's thread is not its owner */
	if (t && t == thr.slot && thr.gen == region_gen)
		__atomic_store_n(&t->state, CW_PRELOAD_SLOT_GONE, __ATOMIC_RELEASE);
	thr.slot = NULL;
}

/*
 * The thread's stack. The main thread's top is where the kernel's arguments begin; its
 * bottom, as far as it may grow. A call on another stack (a signal's alternate stack, a
 * coroutine's) is outside: its frames are not walked nor copied.
 */
static void stack_bounds(void)
{
	extern void *__libc_stack_end;
	pthread_attr_t a;
	struct rlimit rl;
	void *lo;
	size_t size;

	thr.stack_lo = thr.stack_hi = 0;
	if (cw_pid == thr.tid) {
		thr.stack_hi = (__u64)__libc_stack_end;
		if (getrlimit(RLIMIT_STACK, &rl) || rl.rlim_cur == RLIM_INFINITY ||
		    rl.rlim_cur > thr.stack_hi)
			rl.rlim_cur = 8 << 20;
		thr.stack_lo = thr.stack_hi - rl.rlim_cur;
		return;
	}
	if (pthread_getattr_np(pthread_self(), &a))
		return;
	if (!pthread_attr_getstack(&a, &lo, &size)) {
		thr.stack_lo = (__u64)lo;
		thr.stack_hi = (__u64)lo + size;
	}
	pthread_attr_destroy(&a);
}

/* Thread tid is named name: said in t's ring (the process may be gone when it is read). */
static void comm_emit(struct cw_preload_thread *t, __u32 tid, const char *name)
{
	struct cw_ev_comm c = {};

	hdr_init(&c.hdr, CW_EV_COMM, 0);
	c.hdr.tid = tid;
	strncpy(c.comm, name, sizeof(c.comm) - 1);
	emit(t, &c, sizeof(c));
}

static struct cw_preload_thread *__attribute__((noinline)) slot_claim(void)
{
	__u32 i;

	if (!region || (thr.no_slot && thr.gen == region_gen))
		return NULL;
	thr.tid = my_tid();
	if (!thr.stack_hi || thr.gen != region_gen)
		stack_bounds();
	thr.gen = region_gen;
	for (i = 0; i < region->nr_threads; i++) {
		struct cw_preload_thread *t = cw_preload_slot(region, i);
		__u32 st = CW_PRELOAD_SLOT_FREE;

		if (__atomic_load_n(&t->state, __ATOMIC_RELAXED) != st ||
		    !__atomic_compare_exchange_n(&t->state, &st, CW_PRELOAD_SLOT_LIVE, 0,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		t->tid = thr.tid;
		thr.slot = t;
		thr.no_slot = 0;
		thr.last_site = NULL;
		thr.last_path.id = 0;
		thr.last_edge = 0;
		pthread_setspecific(slot_key, t);
		{
			char name[16] = "";

			if (!prctl(PR_GET_NAME, name, 0, 0, 0))
				comm_emit(t, thr.tid, name);
		}
		return t;
	}
	thr.no_slot = 1;
	__atomic_fetch_add(&region->threads_unslotted, 1, __ATOMIC_RELAXED);
	return NULL;
}

static inline struct cw_preload_thread *slot_get(void)
{
	if (likely(thr.slot && thr.gen == region_gen))
		return thr.slot;
	return slot_claim();
}

/* ---- statistics ---- */

static struct cw_preload_site *__attribute__((noinline))
site_find(struct cw_preload_thread *t, __u64 addr, __u64 stack_id, __u8 what, __u8 kind, __u64 ip,
	  int create)
{
	struct cw_preload_site *s = cw_preload_sites(t);
	__u32 mask, i, n;

	mask = region->nr_sites - 1;
	i = mix(mix(what, addr), stack_id) & mask;
	for (n = 0; n <= mask; n++, i = (i + 1) & mask) {
		struct cw_preload_site *e = &s[i];

		if (e->addr == addr && e->stack_id == stack_id && e->what == what)
			return thr.last_site = e;
		if (e->addr)
			continue;
		if (!create)
			return NULL;
		thr.last_site = e;
		e->stack_id = stack_id;
		e->ip = ip;
		e->kind = kind;
		e->what = what;
		e->attr = 0;
		__atomic_store_n(&e->addr, addr, __ATOMIC_RELEASE);
		if (i + 1 > t->nr_sites)
			__atomic_store_n(&t->nr_sites, i + 1, __ATOMIC_RELEASE);
		return e;
	}
	t->lost[CW_LOST_MAP_FULL]++;
	return NULL;
}

/* The entry of (addr, stack_id, what), made when create; NULL when there is no room. */
static __always_inline struct cw_preload_site *site_get(struct cw_preload_thread *t, __u64 addr,
							__u64 stack_id, __u8 what, __u8 kind,
							__u64 ip, int create)
{
	struct cw_preload_site *last = thr.last_site;

	if (likely(last && last->addr == addr && last->stack_id == stack_id && last->what == what))
		return last;
	return site_find(t, addr, stack_id, what, kind, ip, create);
}

static void site_wait(struct cw_preload_site *e, __u64 wait)
{
	e->wait_ns_total += wait;
	if (wait > e->wait_ns_max)
		e->wait_ns_max = wait;
	e->wait_hist[cw_hist_bucket(wait)]++;
}

/* The rules' hooks (lockrules.h): ctx is the thread's slot. */
static inline void cw_rules_count(void *ctx, const struct cw_rules_stat *st)
{
	struct cw_preload_thread *t = ctx;
	struct cw_preload_site *e;
	int timed = thr.now && thr.now != st->hold_ns;

	if (st->step == CW_RULES_RELEASED) {
		if (!timed)
			return;
		thr.nr_timed -= !!thr.nr_timed;
	}
	/* with every operation sent, concwatch counts from the records */
	if (!t || raw_events)
		return;
	e = site_get(t, st->addr, st->stack_id, CW_SITE_ACQUIRE, st->kind, st->ip, 1);
	if (!e)
		return;
	if (st->step == CW_RULES_ACQUIRED) {
		e->acquisitions++;
		e->contentions += st->contended;
		/*
		 * The histogram is of the waits, as the BPF programs keep it: an acquisition
		 * that found the lock free waited 0 ns, and with those in it the percentiles
		 * of a busy lock would say nothing of how long a thread waited when it had to.
		 */
		if (st->contended)
			site_wait(e, st->wait_ns);
		return;
	}
	/*
	 * A hold is timed when its acquisition was and the release took the clock; it
	 * stands for itself among the first CW_HOLD_EXACT of its entry, for hold_period
	 * holds after (acquire_done()). The hold released is the entry's latest.
	 */
	if (timed) {
		__u64 hold = st->hold_ns;

		e->hold_ns_total += hold * (e->acquisitions <= CW_HOLD_EXACT ? 1 :
					    region->hold_period);
		if (hold > e->hold_ns_max)
			e->hold_ns_max = hold;
	}
}

/* Out of line: the rules' loops over the held set stay small enough to inline. */
static void __attribute__((noinline)) edge_emit(struct cw_preload_thread *t,
						const struct cw_edge_id *id,
						const struct cw_held_lock *from,
						const struct cw_rules_acq *to)
{
	__u64 *set = seen_set(region->seen_edges_off);
	struct cw_ev_edge e;
	__u64 h = 0xcbf29ce484222325ULL;

	h = mix(h, id->from);
	h = mix(h, id->to);
	h = mix(h, id->to_stack_id);
	h = mix(h, id->gate);
	h = mix(h, (__u64)id->from_gen << 32 | id->to_gen);
	h = mix(h, id->flags) | 1;
	/* a nesting in a loop makes the same dependency each time */
	if (h == thr.last_edge || seen_find(set, h)) {
		thr.last_edge = h;
		return;
	}
	memset(&e, 0, sizeof(e));
	hdr_init(&e.hdr, CW_EV_LOCK_EDGE, 0);
	cw_rules_edge_record(&e, id, from, to);
	if (!emit(t, &e, sizeof(e))) {
		seen_add(set, h);
		thr.last_edge = h;
	}
}

static inline void cw_rules_emit_edge(void *ctx, const struct cw_edge_id *id,
				      const struct cw_held_lock *from,
				      const struct cw_rules_acq *to)
{
	if (ctx)
		edge_emit(ctx, id, from, to);
}

/* ---- call paths ---- */

static int __attribute__((noinline)) texts_load_one(struct dl_phdr_info *info, size_t size,
						    void *arg)
{
	struct cw_texts *tx = arg;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (tx->nr < 256) {
			tx->r[tx->nr].lo = info->dlpi_addr + ph->p_vaddr;
			tx->r[tx->nr].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
			tx->nr++;
		}
	}
	return 0;
}

/* The executable mappings of the loaded objects, again (after a dlopen). Slow path. */
static void __attribute__((noinline)) texts_load(void)
{
	size_t bytes = sizeof(struct cw_texts) + 256 * sizeof(struct cw_text);
	struct cw_texts *tx = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (tx == MAP_FAILED)
		return;
	tx->nr = 0;
	dl_iterate_phdr(texts_load_one, tx);
	/* the old table may still be read by another thread: it stays (a dlopen is rare) */
	__atomic_store_n(&texts, tx, __ATOMIC_RELEASE);
	__atomic_store_n(&texts_stale, 0, __ATOMIC_RELEASE);
}

static int in_text(__u64 a)
{
	struct cw_texts *tx = __atomic_load_n(&texts, __ATOMIC_ACQUIRE);

	if (!tx)
		return 0;
	for (__u32 i = 0; i < tx->nr; i++)
		if (a >= tx->r[i].lo && a < tx->r[i].hi)
			return 1;
	return 0;
}

/* ret can be a return address: in the text of a loaded object, after a call. */
static int plausible_return(__u64 ret)
{
	const __u8 *code = (const __u8 *)(ret - 8);

	if (!in_text(ret) || !in_text(ret - 8))
		return 0;
	if (code[3] == 0xe8)
		return 1;	/* call rel32 */
	for (int k = 2; k <= 7; k++)	/* call r/m64 (ff /2), REX prefixes included */
		if (k != 5 && code[8 - k] == 0xff && (code[9 - k] & 0x38) == 0x10)
			return 1;
	return 0;
}

/*
 * Where the wrapper was called from, as a uprobe at the real function's entry would see
 * it: pc the real function, sp at the return address, bp the caller's.
 */
struct cw_call {
	__u64 pc, sp, bp, ret;
};

#define CW_CALL(fn)                                                                  \
	({                                                                           \
		__u64 *_fp = __builtin_frame_address(0);                             \
		(struct cw_call){ .pc = (__u64)(fn), .sp = (__u64)(_fp + 1),         \
				  .bp = _fp[0], .ret = _fp[1] };                     \
	})

/* The top of the stack from c->sp, for DWARF unwinding in concwatch. Slow path. */
static void __attribute__((noinline)) emit_raw(struct cw_preload_thread *t, __u64 id,
					       const struct cw_call *c)
{
	struct cw_ev_ustack_raw r;
	struct cw_part p[2];
	__u64 len = stack_bytes;

	if (!len)
		return;
	if (c->sp < thr.stack_lo || c->sp >= thr.stack_hi)
		len = 0;
	else if (thr.stack_hi - c->sp < len)
		len = thr.stack_hi - c->sp;
	len &= ~7ULL;
	memset(&r, 0, sizeof(r));
	hdr_init(&r.hdr, CW_EV_USTACK_RAW, 0);
	r.stack_id = id;
	r.ip = c->pc;
	r.sp = c->sp;
	r.bp = c->bp;
	r.len = len;
	r.flags = !len ? CW_STACK_FAULTED : len < stack_bytes ? 0 : CW_STACK_TRUNCATED;
	p[0] = (struct cw_part){ &r, sizeof(r) };
	p[1] = (struct cw_part){ (const void *)c->sp, len };
	if (emitv(t, p, 2))
		t->lost[CW_LOST_STACK]++;
}

static void __attribute__((noinline)) emit_stack(struct cw_preload_thread *t, __u64 id,
						 const __u64 *ips, __u32 nr, __u16 flags,
						 const struct cw_call *c)
{
	__u64 *set = seen_set(region->seen_stacks_off);
	struct cw_ev_stack s;
	struct cw_part p[2];
	int seen = seen_find(set, id);

	if (seen) {
		if (seen < 0)
			t->lost[CW_LOST_STACK]++;
		return;
	}
	memset(&s, 0, sizeof(s));
	hdr_init(&s.hdr, CW_EV_STACK, 0);
	s.stack_id = id;
	s.space = CW_STACK_USER;
	s.nr = nr;
	s.flags = flags;
	p[0] = (struct cw_part){ &s, sizeof(s) };
	p[1] = (struct cw_part){ ips, nr * sizeof(__u64) };
	if (emitv(t, p, 2)) {
		t->lost[CW_LOST_STACK]++;
		return;
	}
	emit_raw(t, id, c);
	seen_add(set, id);
}

/*
 * The call path's id: the real function, the return address, then a frame-pointer walk
 * inside the thread's stack that stops at the first frame that cannot be one. Sent with
 * its frames and a raw copy the first time the process sees it. up: the return address
 * of the frame at c->bp, 0 when c->bp is no frame.
 */
static __u64 __attribute__((noinline)) stack_walk(struct cw_preload_thread *t,
						  const struct cw_call *c, __u64 up)
{
	__u64 ips[2 + CW_FP_DEPTH], fp = c->bp, lo = c->sp + 8, h;
	__u32 nr = 0, i;
	__u16 flags = 0;

	ips[nr++] = c->pc;
	ips[nr++] = c->ret;
	if (unlikely(__atomic_load_n(&texts_stale, __ATOMIC_ACQUIRE)))
		texts_load();
	if (c->sp < thr.stack_lo || c->sp >= thr.stack_hi)
		fp = 0;
	for (i = 0;; i++) {
		const __u64 *frame = (const __u64 *)fp;

		if (i >= CW_FP_DEPTH) {
			flags = CW_STACK_TRUNCATED;
			break;
		}
		if (fp < lo || fp + 16 > thr.stack_hi || (fp & 7))
			break;
		if (!plausible_return(frame[1]))
			break;
		ips[nr++] = frame[1];
		lo = fp + 16;
		fp = frame[0];
	}
	h = 0xcbf29ce484222325ULL;
	for (i = 0; i < nr; i++)
		h = mix(h, ips[i]);
	h |= 1;
	if (unlikely(!seen_find(seen_set(region->seen_stacks_off), h)))
		emit_stack(t, h, ips, nr, flags, c);
	thr.last_path.ret = c->ret;
	thr.last_path.pc = c->pc;
	thr.last_path.bp = up ? c->bp : 0;
	thr.last_path.up = up;
	thr.last_path.id = h;
	return h;
}

static __always_inline __u64 stack_id(struct cw_preload_thread *t, const struct cw_call *c)
{
	__u64 fp = c->bp, up = 0;

	/*
	 * Called from where it was last, with the same frame above: the same path (a loop).
	 * The return address of that frame keeps apart two callers at the same depth. A
	 * caller without frame pointers has a bp that is no frame (any register value, a
	 * loop counter even): then the path is the return address alone, whatever bp is.
	 */
	if (fp >= c->sp + 8 && fp + 16 <= thr.stack_hi && !(fp & 7) && c->sp >= thr.stack_lo)
		up = ((const __u64 *)fp)[1];
	else
		fp = 0;
	if (likely(c->ret == thr.last_path.ret && c->pc == thr.last_path.pc &&
		   fp == thr.last_path.bp && up == thr.last_path.up && thr.last_path.id))
		return thr.last_path.id;
	return stack_walk(t, c, up);
}

/* ---- the operations ---- */

static __always_inline __u16 read_attr(const void *lock, __u8 kind)
{
	if (kind == CW_LOCK_MUTEX) {
		__u32 word = *(const __u32 *)((const char *)lock + CW_GLIBC_MUTEX_KIND_OFF);

		/* a default mutex, the most taken, in a compare */
		return likely(!word) ? cw_glibc_mutex_attr(0) : cw_glibc_mutex_attr(word);
	}
	if (kind == CW_LOCK_RWLOCK)
		return cw_glibc_rwlock_attr(*(const __u32 *)((const char *)lock +
							     CW_GLIBC_RWLOCK_FLAGS_OFF));
	return 0;
}

static __u32 lock_owner(const void *lock, __u8 kind, __u16 attr)
{
	__u32 mask;
	int off = cw_glibc_owner_word(kind, attr, &mask);

	if (off < 0)
		return 0;
	return __atomic_load_n((const __u32 *)((const char *)lock + off), __ATOMIC_RELAXED) & mask;
}

static void emit_lock(struct cw_preload_thread *t, __u16 type, __u16 flags,
		      const struct cw_rules_acq *a, __u64 addr2, __u64 wait, __s32 result,
		      __u64 ts)
{
	struct cw_ev_lock e;

	memset(&e, 0, sizeof(e));
	hdr_init(&e.hdr, type, ts);
	e.hdr.flags = flags;
	e.addr = a->addr;
	e.ip = a->ip;
	e.stack_id = a->stack_id;
	e.wait_ns = wait;
	e.result = result;
	e.attr = a->attr;
	e.kind = a->kind;
	e.op = a->op;
	e.addr2 = addr2;
	emit(t, &e, sizeof(e));
}

static void emit_blocked(struct cw_preload_thread *t, const struct cw_rules_acq *a, __u8 reason,
			 __u32 owner, __u64 ts)
{
	struct cw_ev_blocked b;

	memset(&b, 0, sizeof(b));
	hdr_init(&b.hdr, CW_EV_BLOCKED, ts);
	b.addr = a->addr;
	b.since_ns = a->begin_ns;
	b.stack_id = a->stack_id;
	b.owner_tid = owner;
	b.reason = reason;
	b.kind = a->kind;
	b.op = a->op;
	emit(t, &b, sizeof(b));
}

/* An acquire about to wait: it found the lock busy. Its dependencies, its wait record. */
static void __attribute__((noinline)) acquire_waits(struct cw_preload_thread *t,
						    struct cw_rules_acq *a)
{
	a->begin_ns = now_ns();
	a->contended = 1;
	a->gen = lock_gen(a->addr);
	if (raw_events)
		emit_lock(t, CW_EV_LOCK_BEGIN, 0, a, 0, 0, 0, a->begin_ns);
	if (!cw_rules_op_try(a->op)) {
		__u32 owner = lock_owner((void *)a->addr, a->kind, a->attr);

		cw_rules_waits(&thr.hs, a, t);
		if (unlikely(raw_events))
			emit_blocked(t, a, CW_OFFCPU_LOCK, owner, a->begin_ns);
		/*
		 * the wait, where a drain finds it: no record (but with raw records); and the
		 * scheduler programs, when the thread sleeps (bpf/cw_locks.bpf.h library_wait())
		 */
		__atomic_store_n(&t->wait_seq, t->wait_seq + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		t->wait_owner = owner;
		t->wait_since = a->begin_ns;
		t->wait_stack = a->stack_id;
		t->wait_kind = a->kind;
		t->wait_op = a->op;
		__atomic_store_n(&t->wait_addr, a->addr, __ATOMIC_RELAXED);
		__atomic_store_n(&t->wait_seq, t->wait_seq + 1, __ATOMIC_RELEASE);
	}
}

/* The wait of the slot's thread ended at now. */
static void wait_ends(struct cw_preload_thread *t, __u64 now)
{
	__atomic_store_n(&t->wait_seq, t->wait_seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	t->wait_ended = now;
	__atomic_store_n(&t->wait_addr, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->wait_seq, t->wait_seq + 1, __ATOMIC_RELEASE);
}

static void try_failed(struct cw_preload_thread *t, const struct cw_rules_acq *a, int ret,
		       __u64 now)
{
	struct cw_preload_site *e;
	__u64 wait = a->begin_ns ? now - a->begin_ns : 0;

	if (raw_events)
		return;
	e = site_get(t, a->addr, a->stack_id, CW_SITE_ACQUIRE, a->kind, a->ip, 1);
	if (e) {
		e->failures++;
		/*
		 * A failed attempt's wait is time lost too, when there was one: a trylock's
		 * call is not timed, and a 0 ns in the histogram would make percentiles (2 ns)
		 * above the lock's longest wait (0)
		 */
		if (a->begin_ns)
			site_wait(e, wait);
	}
	if (ret != EBUSY && ret != ETIMEDOUT)
		return;
	e = site_get(t, a->addr, 0, CW_SITE_TRY, a->kind, a->ip, 1);
	if (!e)
		return;
	if (!e->failures)
		thr.nr_try++;
	e->failures++;
	e->ip = a->ip;
	e->op = a->op;
	e->owner_tid = lock_owner((void *)a->addr, a->kind, a->attr);
	e->stack_last = a->stack_id;
	if (ret == ETIMEDOUT)
		site_wait(e, wait);
}

/*
 * --track-free: the locks the process took, and the pages they are on, so that free()
 * finds those inside the block it frees. A lock taken again after the free is new.
 */
static void remember_lock(struct cw_preload_thread *t, __u64 addr)
{
	__u64 *locks = seen_set(region->locks_off);

	if (seen_find(locks, addr) > 0)
		return;
	seen_add(locks, addr);
	if (!seen_find(seen_set(region->pages_off), addr >> 12))
		seen_add(seen_set(region->pages_off), addr >> 12);
	if (seen_find(locks, addr) <= 0)
		t->lost[CW_LOST_MAP_FULL]++;
}

/* Take v out of a set: a tombstone (1, never a lock's address) keeps its chains whole. */
static int seen_del(__u64 *set, __u64 v)
{
	__u32 mask = region->nr_seen - 1, i = v & mask, n;

	for (n = 0; n < 64; n++, i = (i + 1) & mask) {
		__u64 cur = __atomic_load_n(&set[i], __ATOMIC_RELAXED);

		if (!cur)
			return 0;
		if (cur == v)
			return __atomic_compare_exchange_n(&set[i], &cur, 1, 0, __ATOMIC_RELAXED,
							   __ATOMIC_RELAXED);
	}
	return 0;
}

/* A hold that is not to be timed, though its acquisition was (its acquire waited). */
static void __attribute__((noinline)) untime(__u64 addr)
{
	for (__u32 i = 0; i < thr.hs.hi && i < CW_HELD_MAX; i++)
		if (thr.hs.locks[i].addr == addr)
			thr.hs.locks[i].acquired_ns = 0;
}

/* Whether the hold of the index-th acquisition of an entry (from 1) is timed. */
static __always_inline int hold_timed(__u64 index)
{
	__u32 period = region->hold_period;

	if (index <= CW_HOLD_EXACT)
		return 1;
	/* a power of two, as by default: no division on every acquisition */
	return likely(!(period & (period - 1))) ? !(index & (period - 1)) : !(index % period);
}

/*
 * The acquire a took the lock, at now (0: the clock was not read): which hold is timed,
 * the rules, the statistics.
 */
static __always_inline void hold_begins(struct cw_preload_thread *t, struct cw_rules_acq *a,
					__u64 now)
{
	struct cw_preload_site *e;
	int timed;

	if (unlikely(thr.nr_try)) {
		struct cw_preload_site *e = site_get(t, a->addr, 0, CW_SITE_TRY, 0, 0, 0);

		if (e)
			e->acquisitions++;
	}
	if (unlikely(track_free))
		remember_lock(t, a->addr);
	/*
	 * Which holds are timed, from their acquisition: the first CW_HOLD_EXACT of each
	 * (lock, call path) in the thread, then one in hold_period of them (counted that
	 * many times), every one with every operation sent. Per entry, not per thread: a
	 * loop taking two locks in turn would otherwise time one of them always and the
	 * other never. Not the ones timed because their acquire waited: the contended
	 * holds would count for the others.
	 */
	e = unlikely(raw_events) ? NULL : site_get(t, a->addr, a->stack_id, CW_SITE_ACQUIRE,
						   a->kind, a->ip, 1);
	timed = unlikely(raw_events) || (e && hold_timed(e->acquisitions + 1));
	if (timed) {
		if (!now)
			now = now_ns();
		thr.nr_timed++;
	}
	if (!a->contended)
		a->begin_ns = now;
	a->gen = lock_gen(a->addr);
	thr.now = now;
	switch (cw_rules_acquired(&thr.hs, a, now, t)) {
	case CW_RULES_OVERFLOW:
		t->lost[CW_LOST_HELD_OVERFLOW]++;
		break;
	case CW_RULES_HELD:
		if (unlikely(!timed && now))
			untime(a->addr);
		break;
	}
}

/* acquire_done() of an acquire that waited, failed, or with every operation sent. */
static void __attribute__((noinline)) acquire_done_slow(struct cw_preload_thread *t,
							 struct cw_rules_acq *a, int ret)
{
	int acquired = cw_rules_op_acquired(a->op, ret);
	__u64 now = a->begin_ns ? now_ns() : 0;

	if (a->contended && !cw_rules_op_try(a->op)) {
		if (unlikely(raw_events))
			emit_blocked(t, a, CW_OFFCPU_NONE, 0, now);
		wait_ends(t, now);
	}
	if (unlikely(raw_events)) {
		if (!now)
			now = now_ns();
		emit_lock(t, CW_EV_LOCK_ACQUIRED, a->contended ? CW_F_CONTENDED : 0, a, 0,
			  a->begin_ns ? now - a->begin_ns : 0, acquired ? 0 : (ret ?: -1), now);
	}
	if (!acquired) {
		try_failed(t, a, ret, now ?: now_ns());
		return;
	}
	hold_begins(t, a, now);
}

/*
 * The acquire a returned ret: the rules, the statistics, the records. Inline the common
 * case, a lock taken at once (begin_ns is set when the acquire waited).
 */
static __always_inline void acquire_done(struct cw_preload_thread *t, struct cw_rules_acq *a,
					 int ret)
{
	if (unlikely(ret || a->begin_ns || raw_events))
		acquire_done_slow(t, a, ret);
	else
		hold_begins(t, a, 0);
}

static __always_inline void release(struct cw_preload_thread *t, __u64 addr, __u8 kind, __u8 op,
				    __u64 addr2, __u64 ip)
{
	__u64 hold;

	thr.now = unlikely(thr.nr_timed || raw_events) ? now_ns() : 0;
	cw_rules_released(&thr.hs, addr, thr.now ?: 1, &hold, t);
	if (unlikely(raw_events)) {
		struct cw_rules_acq a = { .addr = addr, .ip = ip, .kind = kind, .op = op };

		emit_lock(t, CW_EV_LOCK_RELEASED, 0, &a, addr2, hold, 0, thr.now);
	}
}

static void reset(struct cw_preload_thread *t, const void *lock, __u8 kind, __u8 op, __u64 ip)
{
	struct cw_preload_gen *g = gen_slot((__u64)lock, 1);
	struct cw_rules_acq a = { .addr = (__u64)lock, .ip = ip, .kind = kind, .op = op };

	if (g)
		__atomic_store_n(&g->gen, cw_rules_next_gen(g->gen), __ATOMIC_RELAXED);
	else
		t->lost[CW_LOST_MAP_FULL]++;
	if (op == CW_OP_DESTROY)
		a.attr = read_attr(lock, kind);
	emit_lock(t, op == CW_OP_INIT ? CW_EV_LOCK_INIT : CW_EV_LOCK_DESTROY, 0, &a, 0, 0, 0, 0);
}

/* ---- the wrappers ---- */

static void at_fork_child(void);

/*
 * This process is a child no fork handler ran in, still mapping its parent's region: it
 * gets its own, as a forked child does. 1 when it did (the call that found out is traced).
 */
static int __attribute__((noinline)) adopt(void)
{
	at_fork_child();
	return region && *own;
}

/*
 * The traced thread's slot, or NULL: not traced (no region, no slot, or a nested call,
 * counted). Sets thr.busy; end with leave().
 */
static inline struct cw_preload_thread *enter(void)
{
	struct cw_preload_thread *t;

	need_real();
	if (unlikely(!region || !*own)) {
		/* none, or a child's copy of its parent's: then its own from now on */
		if (!region || !adopt())
			return NULL;
	}
	if (unlikely(thr.busy)) {
		if (thr.slot)
			thr.slot->lost[CW_LOST_MAP_FULL]++;
		return NULL;
	}
	t = slot_get();
	if (likely(t)) {
		thr.busy = 1;
		t->calls++;
	}
	return t;
}

static inline void leave(void)
{
	thr.busy = 0;
}

#define ACQ_INIT(lock, kind_, op_, c)                                                  \
	{ .addr = (__u64)(lock), .ip = (c).ret, .kind = (kind_), .op = (op_) }

/*
 * An acquire: try first, and only when the lock is busy, time and record the wait and
 * call the blocking function.
 */
#define ACQUIRE(lock, kind, op, realfn, trycall, slowcall)                            \
	do {                                                                          \
		struct cw_preload_thread *t = enter();                                \
		struct cw_call c;                                                     \
		int ret;                                                              \
                                                                                      \
		if (!t)                                                               \
			return slowcall;                                              \
		c = CW_CALL(realfn);                                                  \
		struct cw_rules_acq a = ACQ_INIT(lock, kind, op, c);                  \
		a.attr = read_attr((const void *)(lock), kind);                       \
		a.stack_id = stack_id(t, &c);                                         \
		ret = trycall;                                                        \
		if (ret == EBUSY) {                                                   \
			acquire_waits(t, &a);                                         \
			ret = slowcall;                                               \
		}                                                                     \
		acquire_done(t, &a, ret);                                             \
		leave();                                                              \
		return ret;                                                           \
	} while (0)

/* A trylock: one call; its failure is a statistic. */
#define TRY(lock, kind, op, realfn, call)                                             \
	do {                                                                          \
		struct cw_preload_thread *t = enter();                                \
		struct cw_call c;                                                     \
		int ret;                                                              \
                                                                                      \
		if (!t)                                                               \
			return call;                                                  \
		c = CW_CALL(realfn);                                                  \
		struct cw_rules_acq a = ACQ_INIT(lock, kind, op, c);                  \
		a.attr = read_attr((const void *)(lock), kind);                       \
		a.stack_id = stack_id(t, &c);                                         \
		ret = call;                                                           \
		acquire_done(t, &a, ret);                                             \
		leave();                                                              \
		return ret;                                                           \
	} while (0)

#define RELEASE(lock, kind, call)                                                     \
	do {                                                                          \
		struct cw_preload_thread *t = enter();                                \
		__u64 ip = (__u64)__builtin_return_address(0);                         \
		int ret;                                                              \
                                                                                      \
		if (!t)                                                               \
			return call;                                                  \
		release(t, (__u64)(lock), kind, CW_OP_UNLOCK, 0, ip);                 \
		ret = call;                                                           \
		leave();                                                              \
		return ret;                                                           \
	} while (0)

/*
 * An init (recorded after the call: the lock is new from then on) or a destroy
 * (before, while the lock's attributes are still there): its lifetime begins or ends.
 */
#define LIFETIME(lock, kind, op, call, before)                                        \
	do {                                                                          \
		struct cw_preload_thread *t = enter();                                \
		__u64 ip = (__u64)__builtin_return_address(0);                         \
		int ret;                                                              \
                                                                                      \
		if (!t)                                                               \
			return call;                                                  \
		if (before)                                                           \
			reset(t, lock, kind, op, ip);                                 \
		ret = call;                                                           \
		if (!(before))                                                        \
			reset(t, lock, kind, op, ip);                                 \
		leave();                                                              \
		return ret;                                                           \
	} while (0)

#define RESET(lock, kind, op, call) LIFETIME(lock, kind, op, call, 0)
#define DESTROY(lock, kind, call) LIFETIME(lock, kind, CW_OP_DESTROY, call, 1)

CW_EXPORT CW_FAST int pthread_mutex_lock(pthread_mutex_t *m)
{
	ACQUIRE(m, CW_LOCK_MUTEX, CW_OP_LOCK, real.mutex_lock, real.mutex_trylock(m),
		real.mutex_lock(m));
}

CW_EXPORT CW_FAST int pthread_mutex_trylock(pthread_mutex_t *m)
{
	TRY(m, CW_LOCK_MUTEX, CW_OP_TRYLOCK, real.mutex_trylock, real.mutex_trylock(m));
}

CW_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
	ACQUIRE(m, CW_LOCK_MUTEX, CW_OP_TIMEDLOCK, real.mutex_timedlock, real.mutex_trylock(m),
		real.mutex_timedlock(m, ts));
}

CW_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *ts)
{
	ACQUIRE(m, CW_LOCK_MUTEX, CW_OP_TIMEDLOCK, real.mutex_clocklock, real.mutex_trylock(m),
		real.mutex_clocklock(m, clk, ts));
}

CW_EXPORT CW_FAST int pthread_mutex_unlock(pthread_mutex_t *m)
{
	RELEASE(m, CW_LOCK_MUTEX, real.mutex_unlock(m));
}

CW_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	RESET(m, CW_LOCK_MUTEX, CW_OP_INIT, real.mutex_init(m, attr));
}

CW_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	DESTROY(m, CW_LOCK_MUTEX, real.mutex_destroy(m));
}

CW_EXPORT CW_FAST int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	ACQUIRE(l, CW_LOCK_RWLOCK, CW_OP_RDLOCK, real.rwlock_rdlock, real.rwlock_tryrdlock(l),
		real.rwlock_rdlock(l));
}

CW_EXPORT CW_FAST int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	TRY(l, CW_LOCK_RWLOCK, CW_OP_TRYRDLOCK, real.rwlock_tryrdlock, real.rwlock_tryrdlock(l));
}

CW_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *ts)
{
	ACQUIRE(l, CW_LOCK_RWLOCK, CW_OP_TIMEDRDLOCK, real.rwlock_timedrdlock,
		real.rwlock_tryrdlock(l), real.rwlock_timedrdlock(l, ts));
}

CW_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clk,
					 const struct timespec *ts)
{
	ACQUIRE(l, CW_LOCK_RWLOCK, CW_OP_TIMEDRDLOCK, real.rwlock_clockrdlock,
		real.rwlock_tryrdlock(l), real.rwlock_clockrdlock(l, clk, ts));
}

CW_EXPORT CW_FAST int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	ACQUIRE(l, CW_LOCK_RWLOCK, CW_OP_WRLOCK, real.rwlock_wrlock, real.rwlock_trywrlock(l),
		real.rwlock_wrlock(l));
}

CW_EXPORT CW_FAST int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	TRY(l, CW_LOCK_RWLOCK, CW_OP_TRYWRLOCK, real.rwlock_trywrlock, real.rwlock_trywrlock(l));
}

CW_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *ts)
{
	ACQUIRE(l, CW_LOCK_RWLOCK, CW_OP_TIMEDWRLOCK, real.rwlock_timedwrlock,
		real.rwlock_trywrlock(l), real.rwlock_timedwrlock(l, ts));
}

CW_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clk,
					 const struct timespec *ts)
{
	ACQUIRE(l, CW_LOCK_RWLOCK, CW_OP_TIMEDWRLOCK, real.rwlock_clockwrlock,
		real.rwlock_trywrlock(l), real.rwlock_clockwrlock(l, clk, ts));
}

CW_EXPORT CW_FAST int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	RELEASE(l, CW_LOCK_RWLOCK, real.rwlock_unlock(l));
}

CW_EXPORT int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *attr)
{
	RESET(l, CW_LOCK_RWLOCK, CW_OP_INIT, real.rwlock_init(l, attr));
}

CW_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	DESTROY(l, CW_LOCK_RWLOCK, real.rwlock_destroy(l));
}

CW_EXPORT CW_FAST int pthread_spin_lock(pthread_spinlock_t *l)
{
	ACQUIRE(l, CW_LOCK_SPIN, CW_OP_LOCK, real.spin_lock, real.spin_trylock(l),
		real.spin_lock(l));
}

CW_EXPORT CW_FAST int pthread_spin_trylock(pthread_spinlock_t *l)
{
	TRY(l, CW_LOCK_SPIN, CW_OP_TRYLOCK, real.spin_trylock, real.spin_trylock(l));
}

CW_EXPORT CW_FAST int pthread_spin_unlock(pthread_spinlock_t *l)
{
	RELEASE(l, CW_LOCK_SPIN, real.spin_unlock(l));
}

/*
 * cond_wait releases the mutex inside and takes it again before returning: a release,
 * then an acquire of op CW_OP_COND_WAIT, with no wait and no contention. The condition's
 * wait is not the lock's (no wait record); and libc takes the mutex back by a direct call
 * no wrapper sees: when that sleeps on the mutex's word, the futex view of the BPF
 * programs beside the library sees the sleep, but this acquire is not counted contended
 * (the uprobes, which see the sleep inside the call, count it so).
 */
#define COND_WAIT(cond, m, realfn, call)                                              \
	do {                                                                          \
		struct cw_preload_thread *t = enter();                                \
		struct cw_call c;                                                     \
		int ret;                                                              \
                                                                                      \
		if (!t)                                                               \
			return call;                                                  \
		c = CW_CALL(realfn);                                                  \
		struct cw_rules_acq a = ACQ_INIT(m, CW_LOCK_MUTEX, CW_OP_COND_WAIT, c); \
		a.attr = read_attr(m, CW_LOCK_MUTEX);                                 \
		a.stack_id = stack_id(t, &c);                                         \
		release(t, (__u64)(m), CW_LOCK_MUTEX, CW_OP_COND_WAIT, (__u64)(cond), \
			c.ret);                                                       \
		leave();                                                              \
		ret = call;                                                           \
		thr.busy = 1;                                                         \
		acquire_done(t, &a, ret);                                             \
		leave();                                                              \
		return ret;                                                           \
	} while (0)

CW_EXPORT int pthread_cond_wait(pthread_cond_t *cond, pthread_mutex_t *m)
{
	COND_WAIT(cond, m, real.cond_wait, real.cond_wait(cond, m));
}

CW_EXPORT int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *m,
				     const struct timespec *ts)
{
	COND_WAIT(cond, m, real.cond_timedwait, real.cond_timedwait(cond, m, ts));
}

CW_EXPORT int pthread_cond_clockwait(pthread_cond_t *cond, pthread_mutex_t *m, clockid_t clk,
				     const struct timespec *ts)
{
	COND_WAIT(cond, m, real.cond_clockwait, real.cond_clockwait(cond, m, clk, ts));
}

#define CW_FREE_PAGES_MAX 256		/* a freed block's pages looked at: 1 MiB, as BPF */

/* The locks inside [start, end), freed: each ends its lifetime, as if destroyed. */
static void __attribute__((noinline)) locks_freed(__u64 start, __u64 end, __u64 ip)
{
	__u64 *locks = seen_set(region->locks_off), *pages = seen_set(region->pages_off);
	struct cw_preload_thread *t = NULL;

	for (__u64 pg = start >> 12, n = 0; pg <= (end - 1) >> 12 && n < CW_FREE_PAGES_MAX;
	     pg++, n++) {
		__u64 lo = pg << 12 > start ? pg << 12 : start, hi = (pg + 1) << 12;

		if (seen_find(pages, pg) <= 0)
			continue;
		if (hi > end)
			hi = end;
		for (__u64 a = (lo + 7) & ~7ULL; a < hi; a += 8) {
			struct cw_preload_gen *g;
			struct cw_rules_acq acq = { .addr = a, .ip = ip, .kind = 0,
						    .op = CW_OP_DESTROY };

			if (seen_find(locks, a) <= 0 || !seen_del(locks, a))
				continue;
			g = gen_slot(a, 1);
			if (g)
				__atomic_store_n(&g->gen, cw_rules_next_gen(g->gen),
						 __ATOMIC_RELAXED);
			if (!t)
				t = enter();
			if (!t)
				continue;	/* counted by enter() when nested */
			/* addr2: the freed block, which says this end of a lifetime was free() */
			emit_lock(t, CW_EV_LOCK_DESTROY, 0, &acq, start, 0, 0, 0);
		}
	}
	if (t)
		leave();
}

/*
 * free() forwards to the next definition (libc's, or an allocator's the program brings);
 * with --track-free it first ends the lifetime of the locks in the block. The next
 * definition is found at the first call: a free() made by dlsym() itself while finding it
 * is not forwarded (a block leaked, once), rather than freed by the wrong allocator.
 */
static void (*real_free)(void *);
static size_t (*real_usable_size)(void *);

CW_EXPORT void free(void *p)
{
	/* volatile: its only reader is this function, reached again through dlsym */
	static __thread volatile int resolving __attribute__((tls_model("initial-exec")));
	void (*fn)(void *) = __atomic_load_n(&real_free, __ATOMIC_ACQUIRE);

	if (unlikely(!fn)) {
		if (resolving)
			return;
		resolving = 1;
		*(void **)&real_usable_size = dlsym(RTLD_NEXT, "malloc_usable_size");
		fn = (void (*)(void *))dlsym(RTLD_NEXT, "free");
		resolving = 0;
		if (!fn)
			return;
		__atomic_store_n(&real_free, fn, __ATOMIC_RELEASE);
	}
	if (unlikely(track_free) && p && region && real_usable_size && !thr.busy) {
		size_t size = real_usable_size(p);

		if (size)
			locks_freed((__u64)p, (__u64)p + size, (__u64)__builtin_return_address(0));
	}
	fn(p);
}

/* ---- the code loaded, described to concwatch ---- */

/*
 * The executable mappings of the loaded objects, sent as CW_EV_MMAP records as the BPF
 * programs send what mmap(2) maps: concwatch names the addresses of stacks with them
 * when /proc/PID/maps no longer can (the process exited before its rings were read, a
 * plugin was unloaded). Sent when the library starts in a process (the constructor, the
 * child of a fork: everything, to the new region) and after each dlopen (what is new);
 * a dlclose forgets what it unloaded, so that an object loaded again where it was (a
 * plugin reloaded) is described anew. Never on a lock path.
 *
 * Each object described is remembered with its records, made once: a fork's child sends
 * them again without a system call, and a dlopen looks at the files of new objects only.
 * The table is private memory under a mutex of its own (the real one: these are not
 * lock calls of the program), taken only here.
 */
struct cw_code {
	__u64 key;		/* the object: its name and load address, hashed */
	__u32 scan;		/* the latest scan that found it loaded */
	__u32 gen;		/* region_gen it was sent to (another: not sent to this region) */
	__u32 bytes;		/* of rec, file name and padding included */
	__u32 pad;
	struct cw_ev_mmap rec;	/* the file name follows */
};

static struct {
	pthread_mutex_t lock;
	__u8 *buf;		/* struct cw_code entries, one after the other */
	size_t used, cap;
	size_t cursor;		/* after the entry found last: a scan meets them in order */
	__u32 scan;
	char exe[PATH_MAX];	/* the main program's file: dl_iterate_phdr names it "" */
	char path[PATH_MAX];	/* an object's file, resolved */
} code = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct code_scan {
	struct cw_preload_thread *t;	/* to count what found no room, or NULL */
	int forget;			/* a dlclose: only drop what is gone */
	__u64 page;
};

static inline struct cw_code *code_at(size_t off)
{
	return (struct cw_code *)(code.buf + off);
}

static inline size_t code_bytes(const struct cw_code *e)
{
	return offsetof(struct cw_code, rec) + e->bytes;
}

static struct cw_code *code_find(__u64 key, __u64 start, __u64 len, __u64 pgoff)
{
	size_t off = code.cursor, n = 0;

	/* from the entry after the one found last, once around */
	while (code.used && n < code.used) {
		struct cw_code *e;

		if (off >= code.used)
			off = 0;
		e = code_at(off);
		off += code_bytes(e);
		n += code_bytes(e);
		if (e->key == key && e->rec.start == start && e->rec.len == len &&
		    e->rec.pgoff == pgoff) {
			code.cursor = off;
			return e;
		}
	}
	return NULL;
}

static struct cw_code *code_add(size_t flen)
{
	size_t bytes = offsetof(struct cw_code, rec) + sizeof(struct cw_ev_mmap) +
		       CW_RECORD_ALIGN(flen);
	struct cw_code *e;

	if (code.used + bytes > code.cap) {
		size_t cap = code.cap ? code.cap * 2 : 64 << 10;
		void *p;

		while (cap < code.used + bytes)
			cap *= 2;
		p = code.buf ? mremap(code.buf, code.cap, cap, MREMAP_MAYMOVE) :
			       mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				    -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		code.buf = p;
		code.cap = cap;
	}
	e = code_at(code.used);
	memset(e, 0, bytes);
	e->bytes = bytes - offsetof(struct cw_code, rec);
	code.used += bytes;
	return e;
}

/*
 * The file of a loaded object, one of whose mappings is [start, end): its path as
 * /proc/PID/maps shows it, in code.path, and its stat; 0, or -1 for an object with no
 * file (the vDSO) or none that can be found any more (deleted since). The mapping's link
 * in map_files names it in one system call, where resolving the loader's name takes one
 * per directory; without it (no /proc), the name the loader went by.
 */
static int code_file(const char *name, __u64 start, __u64 end, struct stat *st)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/map_files/%llx-%llx", (unsigned long long)start,
		 (unsigned long long)end);
	n = readlink(link, code.path, sizeof(code.path) - 1);
	if (n > 0) {
		code.path[n] = '\0';
		return stat(code.path, st) || !S_ISREG(st->st_mode) ? -1 : 0;
	}
	if (!*name) {
		if (!code.exe[0]) {
			n = readlink("/proc/self/exe", code.exe, sizeof(code.exe) - 1);
			if (n <= 0)
				return -1;
			code.exe[n] = '\0';
		}
		name = code.exe;
	}
	/* a relative name (dlopen("./x.so")) was found from the current directory just now */
	if (!strchr(name, '/') || !realpath(name, code.path))
		return -1;
	return stat(code.path, st) || !S_ISREG(st->st_mode) ? -1 : 0;
}

static int code_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct code_scan *cs = arg;
	const char *name = info->dlpi_name ?: "";
	__u64 key = 0xcbf29ce484222325ULL;
	struct stat st;
	int file = 0;

	(void)size;
	for (const char *c = name; *c; c++)
		key = mix(key, (__u8)*c);
	key = mix(key, info->dlpi_addr);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		__u64 start, end, pgoff;
		struct cw_code *e;
		size_t flen;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || !ph->p_filesz)
			continue;
		/* as the loader maps it: whole pages of the file (the rest is anonymous) */
		start = (info->dlpi_addr + ph->p_vaddr) & ~(cs->page - 1);
		end = (info->dlpi_addr + ph->p_vaddr + ph->p_filesz + cs->page - 1) &
		      ~(cs->page - 1);
		pgoff = ph->p_offset & ~(cs->page - 1);
		e = code_find(key, start, end - start, pgoff);
		if (e) {
			e->scan = code.scan;
			continue;
		}
		if (cs->forget)
			continue;
		if (!file)
			file = code_file(name, start, end, &st) ? -1 : 1;
		if (file < 0)
			return 0;
		flen = strlen(code.path) + 1;
		e = code_add(flen);
		if (!e) {
			if (cs->t)
				cs->t->lost[CW_LOST_MAP_FULL]++;
			return 0;
		}
		e->key = key;
		e->scan = code.scan;
		e->rec.start = start;
		e->rec.len = end - start;
		e->rec.pgoff = pgoff;
		e->rec.inode = st.st_ino;
		/* the kernel's encoding, as the BPF programs and /proc/PID/maps give it */
		e->rec.dev = major(st.st_dev) << 20 | minor(st.st_dev);
		e->rec.prot = PROT_EXEC | (ph->p_flags & PF_R ? PROT_READ : 0) |
			      (ph->p_flags & PF_W ? PROT_WRITE : 0);
		e->rec.filename_len = flen;
		memcpy(e->rec.filename, code.path, flen);
	}
	return 0;
}

/*
 * Describe the code loaded: what is not in the region yet is sent, from the calling
 * thread's ring, at ts (0: now). forget: a dlclose, only what is gone is dropped.
 */
static void __attribute__((noinline)) code_scan(__u64 ts, int forget)
{
	struct code_scan cs = { .forget = forget, .page = sysconf(_SC_PAGESIZE) };
	size_t kept = 0;

	/* a child that still maps its parent's region sends it all once it has its own */
	if (!__atomic_load_n(&region, __ATOMIC_ACQUIRE) || !*own || thr.busy)
		return;
	need_real();
	cs.t = forget ? NULL : slot_get();
	real.mutex_lock(&code.lock);
	code.scan++;
	dl_iterate_phdr(code_one, &cs);
	/* the objects no longer loaded */
	for (size_t off = 0, n; off < code.used; off += n) {
		struct cw_code *e = code_at(off);

		n = code_bytes(e);
		if (e->scan != code.scan)
			continue;
		if (kept != off)
			memmove(code_at(kept), e, n);
		kept += n;
	}
	code.used = kept;
	code.cursor = 0;
	if (cs.t) {
		thr.busy = 1;
		for (size_t off = 0; off < code.used; off += code_bytes(code_at(off))) {
			struct cw_code *e = code_at(off);

			if (e->gen == region_gen)
				continue;
			hdr_init(&e->rec.hdr, CW_EV_MMAP, ts);
			/* a full ring: counted lost, and sent again at the next dlopen */
			if (!emit(cs.t, &e->rec, e->bytes))
				e->gen = region_gen;
		}
		thr.busy = 0;
	}
	real.mutex_unlock(&code.lock);
}

/* A thread naming itself after its first lock call: the new name said too. */
CW_EXPORT int pthread_setname_np(pthread_t th, const char *name)
{
	static int (*real_setname)(pthread_t, const char *);
	struct cw_preload_thread *t;
	int ret;

	if (!real_setname)
		*(void **)&real_setname = dlsym(RTLD_NEXT, "pthread_setname_np");
	ret = real_setname(th, name);
	if (!ret && pthread_equal(th, pthread_self()) && !thr.busy && (t = slot_get())) {
		thr.busy = 1;
		comm_emit(t, thr.tid, name);
		thr.busy = 0;
	}
	return ret;
}

CW_EXPORT void *dlopen(const char *file, int mode)
{
	static void *(*real_dlopen)(const char *, int);
	void *h;

	if (!real_dlopen)
		*(void **)&real_dlopen = dlsym(RTLD_NEXT, "dlopen");
	h = real_dlopen(file, mode);
	/* new text: return addresses in it are plausible from now on */
	if (h) {
		__atomic_store_n(&texts_stale, 1, __ATOMIC_RELEASE);
		code_scan(0, 0);
	}
	return h;
}

CW_EXPORT int dlclose(void *h)
{
	static int (*real_dlclose)(void *);
	int ret;

	if (!real_dlclose)
		*(void **)&real_dlclose = dlsym(RTLD_NEXT, "dlclose");
	ret = real_dlclose(h);
	/* text gone: no longer where a return address may point (nor be read) */
	if (!ret) {
		__atomic_store_n(&texts_stale, 1, __ATOMIC_RELEASE);
		code_scan(0, 1);
	}
	return ret;
}

/* ---- exec: a program the library will not start in is handed to concwatch first ---- */

extern char **environ;

/* concwatch's socket, as the environment named it at the start */
static struct sockaddr_un cw_sa;
static socklen_t cw_sa_len;
static char cw_sock_env[sizeof(cw_sa.sun_path) + 1];
/* this library's file, as the loader named it from LD_PRELOAD (found at the start) */
static char self_path[PATH_MAX];

/* Whether name=... in envp has a value (list: one of its words, split as the loader
 * splits LD_PRELOAD) equal to want. */
static int env_names(char *const envp[], const char *name, const char *want, int list)
{
	size_t n = strlen(name), w = strlen(want);

	for (char *const *e = envp; e && *e; e++) {
		const char *v = *e;

		if (strncmp(v, name, n) || v[n] != '=')
			continue;
		v += n + 1;
		if (!list)
			return !strcmp(v, want);
		while (*v) {
			size_t len = strcspn(v, " :");

			if (len == w && !memcmp(v, want, w))
				return 1;
			v += len;
			v += strspn(v, " :");
		}
		return 0;
	}
	return 0;
}

/*
 * Whether the loader will start this library in path run with envp: 0 when it will not
 * (an environment without it, a static or 32-bit program, a set-user-ID or capability
 * program), 1 when it will or when nothing can be said (the exec itself will fail, or a
 * format the kernel hands to a helper). A script is judged by its interpreter.
 */
static int starts_in(const char *path, char *const envp[], int depth)
{
	unsigned char buf[256];
	struct stat st;
	Elf64_Ehdr eh;
	ssize_t n;
	int fd, interp = 0;

	if (!self_path[0] || !env_names(envp, "LD_PRELOAD", self_path, 1) ||
	    !env_names(envp, CW_PRELOAD_ENV_SOCK, cw_sock_env, 0))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	if (fstat(fd, &st) || ((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
	    ((st.st_mode & S_ISGID) && st.st_gid != getegid()) ||
	    fgetxattr(fd, "security.capability", NULL, 0) >= 0) {
		close(fd);
		return 0;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n >= 2 && buf[0] == '#' && buf[1] == '!' && !depth) {
		char *p = (char *)buf + 2, *end;

		close(fd);
		buf[n] = '\0';
		p += strspn(p, " \t");
		end = p + strcspn(p, " \t\n");
		*end = '\0';
		return *p ? starts_in(p, envp, 1) : 1;
	}
	if (n < (ssize_t)sizeof(eh) || memcmp(buf, ELFMAG, SELFMAG)) {
		close(fd);
		return 1;
	}
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
		close(fd);
		return 0;
	}
	for (int i = 0; i < eh.e_phnum && !interp; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (off_t)i * sizeof(ph)) != sizeof(ph))
			break;
		interp = ph.p_type == PT_INTERP;
	}
	close(fd);
	return interp;
}

/*
 * Ask concwatch to trace this process again from its exec (CW_PRELOAD_HELLO_EXEC), and
 * wait until it says it does (a byte on the pipe), it gives up (the pipe closes) or 5 s
 * pass. Only system calls: a vfork child runs this on its parent's memory.
 */
static void hand_over(void)
{
	struct cw_preload_hello h = { .magic = CW_PRELOAD_MAGIC, .version = CW_PRELOAD_VERSION,
				      .flags = CW_PRELOAD_HELLO_EXEC, .start_ns = now_ns(),
				      .tid = syscall(SYS_gettid) };
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr msg = { .msg_name = &cw_sa, .msg_namelen = cw_sa_len, .msg_iov = &iov,
			      .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	__u64 deadline = now_ns() + 5000000000ULL;
	int p[2], sk, sent;
	char c;

	if (!cw_sa_len || pipe2(p, O_CLOEXEC))
		return;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sent = sk >= 0 && sendmsg(sk, &msg, 0) == sizeof(h);
	if (sk >= 0)
		close(sk);
	close(p[1]);
	while (sent) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		__u64 now = now_ns();

		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (deadline - now) / 1000000 + 1) > 0) {
			if (read(p[0], &c, 1) < 0 && errno == EINTR)
				continue;
			break;
		}
	}
	close(p[0]);
}

/* Before an exec of path with envp: handed over when the library will not start in it. */
static void before_exec(const char *path, char *const envp[])
{
	int e = errno;

	if (__atomic_load_n(&region, __ATOMIC_ACQUIRE) && path && !starts_in(path, envp, 0))
		hand_over();
	errno = e;
}

/* file as execvp finds it in PATH (the caller's), in buf; file itself when it has a '/'. */
static const char *search_path(const char *file, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p;

	if (!file || !*file || strchr(file, '/'))
		return file;
	for (p = path && *path ? path : "/bin:/usr/bin"; ; p++) {
		size_t dl = strcspn(p, ":");

		if ((size_t)snprintf(buf, len, "%.*s%s%s", (int)dl, p, dl ? "/" : "", file) < len &&
		    !access(buf, X_OK))
			return buf;
		p += dl;
		if (!*p)
			return file;
	}
}

#define REAL(name) ({									\
	static __typeof__(name) *real_##name;						\
	if (!real_##name)								\
		*(void **)&real_##name = dlsym(RTLD_NEXT, #name);			\
	real_##name; })

CW_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	before_exec(path, envp);
	return REAL(execve)(path, argv, envp);
}

CW_EXPORT int execv(const char *path, char *const argv[])
{
	before_exec(path, environ);
	return REAL(execv)(path, argv);
}

CW_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	char buf[PATH_MAX];

	before_exec(search_path(file, buf, sizeof(buf)), envp);
	return REAL(execvpe)(file, argv, envp);
}

CW_EXPORT int execvp(const char *file, char *const argv[])
{
	char buf[PATH_MAX];

	before_exec(search_path(file, buf, sizeof(buf)), environ);
	return REAL(execvp)(file, argv);
}

/* The arguments of an execl* call after arg0, up to the NULL, into argv (and envp). */
#define EXECL_ARGS(arg0, with_envp, envp_out)							\
	size_t n_ = 1;									\
	va_list ap_;									\
	va_start(ap_, arg0);								\
	while (va_arg(ap_, const char *))						\
		n_++;									\
	va_end(ap_);									\
	char *argv_[n_ + 1];								\
	argv_[0] = (char *)(arg0);							\
	va_start(ap_, arg0);								\
	for (size_t i_ = 1; i_ <= n_; i_++)						\
		argv_[i_] = va_arg(ap_, char *);					\
	envp_out = (with_envp) ? va_arg(ap_, char **) : NULL;				\
	va_end(ap_)

CW_EXPORT int execl(const char *path, const char *arg, ...)
{
	char **unused;

	EXECL_ARGS(arg, 0, unused);
	(void)unused;
	return execv(path, argv_);
}

CW_EXPORT int execlp(const char *file, const char *arg, ...)
{
	char **unused;

	EXECL_ARGS(arg, 0, unused);
	(void)unused;
	return execvp(file, argv_);
}

CW_EXPORT int execle(const char *path, const char *arg, ...)
{
	char **envp;

	EXECL_ARGS(arg, 1, envp);
	return execve(path, argv_, envp);
}

/* ---- start: the region, the hello ---- */


static __u32 opt_u32(const char *opts, const char *key, __u32 def)
{
	size_t n = strlen(key);

	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == '=')
			return strtoul(p + n + 1, NULL, 0);
	return def;
}

static __u32 pow2(__u32 v, __u32 lo, __u32 hi)
{
	__u32 p = lo;

	while (p < v && p < hi)
		p <<= 1;
	return p;
}

/*
 * Where v, a variable of the library's static TLS, is from the thread pointer: the same in
 * every thread (cw_preload_region.tls_slot). 0 where that is not known.
 */
static __s64 tls_offset(const void *v)
{
#if defined(__x86_64__)
	__u64 tp;

	asm("mov %%fs:0, %0" : "=r"(tp));
	return (__s64)((__u64)v - tp);
#else
	(void)v;
	return 0;
#endif
}

/* Make the region and say hello. 0, or -errno: nothing is traced in this process. */
static int start(int forked, __u32 parent)
{
	const char *path = getenv(CW_PRELOAD_ENV_SOCK), *opts = getenv(CW_PRELOAD_ENV_OPTS);
	struct cw_preload_hello hello = { .magic = CW_PRELOAD_MAGIC,
					  .version = CW_PRELOAD_VERSION };
	__u32 threads, sites, ring, seen;
	struct cw_preload_region *r;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { &hello, sizeof(hello) };
	struct msghdr msg = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov,
			      .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	size_t bytes, plen;
	int fd, sk, err = 0;

	/* "@name": an abstract socket, which is what concwatch binds */
	if (!path || !(plen = strlen(path)) || plen >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	msg.msg_namelen = offsetof(struct sockaddr_un, sun_path) + plen;
	cw_sa = sa;
	cw_sa_len = msg.msg_namelen;
	snprintf(cw_sock_env, sizeof(cw_sock_env), "%s", path);
	{
		Dl_info self;

		/* not in an exec wrapper: a vfork child runs those on its parent's memory */
		if (!self_path[0] && dladdr((void *)start, &self) && self.dli_fname)
			snprintf(self_path, sizeof(self_path), "%s", self.dli_fname);
	}
	threads = pow2(opt_u32(opts, "threads", 256), 16, 65536);
	sites = pow2(opt_u32(opts, "sites", 512), 64, 1 << 20);
	ring = pow2(opt_u32(opts, "ring", 256 << 10), 64 << 10, 64 << 20);
	seen = pow2(opt_u32(opts, "seen", 16384), 1024, 1 << 24);
	stack_bytes = opt_u32(opts, "stack", 16384) & ~7U;
	if (stack_bytes > CW_STACK_BYTES_MAX)
		stack_bytes = CW_STACK_BYTES_MAX;
	hold_period = opt_u32(opts, "hold", 16) ?: 1;
	raw_events = opt_u32(opts, "raw", 0);
	track_free = opt_u32(opts, "free", 0);

	bytes = sizeof(*r);
	bytes = (bytes + 4095) & ~4095UL;
	__u64 stacks_off = bytes, edges_off = stacks_off + seen * 8ULL,
	      gens_off = edges_off + seen * 8ULL,
	      locks_off = gens_off + seen * sizeof(struct cw_preload_gen),
	      pages_off = locks_off + seen * 8ULL,
	      slots_off = (pages_off + seen * 8ULL + 4095) & ~4095ULL,
	      slot_bytes = (cw_preload_slot_bytes(sites, ring) + 4095) & ~4095ULL;
	bytes = slots_off + threads * slot_bytes;

	fd = memfd_create("concwatch-preload", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, bytes)) {
		err = -errno;
		close(fd);
		return err;
	}
	r = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	r->magic = CW_PRELOAD_MAGIC;
	r->version = CW_PRELOAD_VERSION;
	r->pid = getpid();
	r->nr_threads = threads;
	r->nr_sites = sites;
	r->ring_bytes = ring;
	r->nr_seen = seen;
	r->hold_period = hold_period;
	r->slot_bytes = slot_bytes;
	r->slots_off = slots_off;
	r->seen_stacks_off = stacks_off;
	r->seen_edges_off = edges_off;
	r->gens_off = gens_off;
	r->locks_off = locks_off;
	r->pages_off = pages_off;
	r->tls_slot = tls_offset(&thr.slot);

	hello.region_bytes = bytes;
	hello.flags = forked ? CW_PRELOAD_HELLO_FORK : 0;
	hello.parent = parent;
	hello.start_ns = now_ns();
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || sendmsg(sk, &msg, 0) != sizeof(hello))
		err = -errno;
	if (sk >= 0)
		close(sk);
	close(fd);
	if (err) {
		munmap(r, bytes);
		return err;
	}
	cw_pid = r->pid;
	*own = 1;
	region_bytes = bytes;
	__atomic_store_n(&region, r, __ATOMIC_RELEASE);
	region_gen++;
	return 0;
}

/*
 * The child of a fork: its own region; the held set it inherited stays (it holds them).
 * The code described goes to the new region, before the child runs a line of its own.
 */
static void at_fork_child(void)
{
	struct cw_preload_region *old = region;
	size_t old_bytes = region_bytes;
	__u32 parent = cw_pid;
	__u64 ts = now_ns();

	region = NULL;
	thr.slot = NULL;
	thr.no_slot = 0;
	thr.busy = 0;
	thr.tid = 0;
	/* a thread of the parent, gone here, held it: its table may be half changed */
	if (real.mutex_trylock(&code.lock)) {
		code.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
		code.used = code.cursor = 0;
	} else {
		real.mutex_unlock(&code.lock);
	}
	if (old)
		munmap(old, old_bytes);
	if (old && !start(1, parent))
		code_scan(ts, 0);
}

__attribute__((constructor)) static void cw_preload_init(void)
{
	/* before the region exists: no record of the process can come before these */
	__u64 ts = now_ns();

	need_real();
	pthread_key_create(&slot_key, slot_release);
	pthread_atfork(NULL, NULL, at_fork_child);
	{
		__u8 *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p != MAP_FAILED && !madvise(p, 4096, MADV_WIPEONFORK))
			own = p;
		else if (p != MAP_FAILED)
			munmap(p, 4096);
	}
	if (!start(0, 0))
		code_scan(ts, 0);
}
