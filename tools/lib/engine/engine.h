/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The analysis engine: consumes event records in time order and keeps the model that
 * reports, the dashboard and exports read. Pure C: no libbpf, no curses, no system
 * calls; its clock is the newest record's ts_ns, so feeding the same stream always
 * yields the same model.
 */
#ifndef __CW_ENGINE_H
#define __CW_ENGINE_H

#include "engine/lockgraph.h"
#include "engine/record.h"

/* One thread's use of one lock. */
struct cw_lock_user {
	__u32 tid;
	__u64 begins;		/* acquire calls that could block */
	__u64 acquisitions;	/* acquires that returned success */
	__u64 failures;		/* acquires that returned an error (busy trylock, timeout) */
	__u64 releases;
	__u64 wait_ns_total;	/* over its successful acquisitions */
};

/*
 * One call path's use of one lock: by the stack id of its acquisitions (user space),
 * or of its contentions (kernel locks: kernel stacks).
 */
struct cw_lock_site {
	__u64 stack_id;
	__u64 ip;		/* the first acquire's return address from it, 0 = not known */
	__u64 begins;
	__u64 acquisitions;
	__u64 contentions;	/* acquisitions that waited (CW_LOCK_KNOWN_CONTENTIONS) */
	__u64 wait_ns_total;
	__u64 wait_ns_max;
};

/* cw_lock.known: figures only some streams carry */
#define CW_LOCK_KNOWN_CONTENTIONS (1U << 0)
#define CW_LOCK_KNOWN_HOLD (1U << 1)
#define CW_LOCK_KNOWN_OPS (1U << 2)	/* a record per operation: releases, failures, users */

/*
 * A lock of a process: a user-space lock by its address, or a kernel lock its threads
 * contended for (kind CW_LOCK_KERNEL, by its kernel address; only contended
 * acquisitions are seen: begins count contentions, acquisitions the ones that ended
 * with the lock taken).
 */
struct cw_lock {
	__u32 pid;
	__u8 kind;		/* CW_LOCK_* of the first record seen */
	__u8 known;		/* CW_LOCK_KNOWN_*: which optional figures are real */
	__u16 attr;		/* CW_ATTR_* when known */
	__u64 addr;
	__u64 begins;
	__u64 acquisitions;
	__u64 failures;
	__u64 releases;
	__u64 wait_ns_total;	/* over successful acquisitions */
	__u64 wait_ns_max;
	__u64 contentions;	/* acquisitions that waited: CW_LOCK_KNOWN_CONTENTIONS */
	__u64 hold_ns_total;	/* CW_LOCK_KNOWN_HOLD */
	__u64 hold_ns_max;
	__u64 first_ts, last_ts;
	__u64 init_ip;		/* where pthread_*_init was last called on it, 0 = not seen */
	__u64 first_ip;		/* where it was first acquired, 0 = not seen */
	__u32 site_flags;	/* CW_SITE_F_* of its statistics (kernel: CW_SITE_F_MMAP_LOCK) */
	__u32 klock_flags;	/* kernel locks: LCB_F_* of the latest contention */
	__u64 seq;		/* order of first appearance among locks and view sites */
	__u64 wait_hist[CW_HIST_BUCKETS];	/* its waits, log2 ns (cw_hist_bucket()) */
	struct cw_lock_user *users; /* in order of first use */
	size_t nr_users;
	size_t cap_users;
	struct cw_lock_site *sites; /* in order of first use; stack_id 0 = stack unknown */
	size_t nr_sites;
	size_t cap_sites;
};

/*
 * A stack the stream sent: frames (CW_EV_STACK: a frame-pointer walk, or a kernel
 * stack) and/or a raw copy for DWARF unwinding (CW_EV_USTACK_RAW), under one id.
 */
struct cw_stack {
	__u32 pid;
	__u32 tid;		/* the thread it was first seen in */
	__u16 space;		/* CW_STACK_USER or CW_STACK_KERNEL */
	__u16 flags;		/* CW_STACK_* of the frames */
	__u32 nr;
	__u64 id;
	__u64 *ips;		/* nr frames, innermost first; NULL when only a raw copy came */
	__u64 first_ts;
	int has_raw;
	__u64 ip, sp, bp;	/* the raw copy's registers */
	__u32 raw_len;
	__u16 raw_flags;	/* CW_STACK_* of the copy */
	__u8 *raw;		/* raw_len bytes from sp upwards */
};

/* A file a process maps executable (CW_EV_MODULE). */
struct cw_module {
	__u32 pid;
	__u8 build_id_len;
	__u8 flags;		/* CW_MODULE_* */
	__u32 dev;
	__u64 start, end, pgoff, inode;
	__u8 build_id[20];
	char *path;
};

struct cw_thread {
	__u32 pid;
	__u32 tid;
	char comm[CW_COMM_LEN];	/* "" until a comm record names it */
	__u64 comm_ts;		/* the time of that record: the newest name wins */
	__u64 first_ts, last_ts;
	__u64 lock_acquisitions;
	__u64 lock_wait_ns;
	__u64 futex_waits;	/* futex calls that could block (waits, PI locks): from its
				 * CW_SITE_FUTEX statistics, or from raw futex records when
				 * its process sent no futex statistics (never both) */
	__u64 futex_wait_ns;	/* time spent in them */
	__u32 exited;
	int has_stats;		/* a CW_EV_THREAD_STATS came: stats is its latest */
	struct cw_ev_thread_stats stats;	/* cumulative, the newest by ts_ns */
	int has_state;		/* a CW_EV_THREAD_STATE came: state is its latest */
	struct cw_ev_thread_state state;	/* what it does now, since when */
};

/*
 * One key of the statistics views other than the uprobes' acquisitions (those make
 * cw_lock rows): CW_SITE_FUTEX, CW_SITE_KLOCK, CW_SITE_WAKE records summed per
 * (pid, tid, addr, stack_id, what). Deltas are summed, maxima kept, histograms and
 * outcomes summed; owner_tid and op are the latest record's. One entry per key, of a
 * fixed size: a long stream of the same keys does not grow the model.
 */
struct cw_view_site {
	__u32 pid;
	__u32 tid;		/* FUTEX, WAKE: the thread (waiting, waking); KLOCK: 0 */
	__u64 addr;		/* the futex word, the kernel lock, the word/lock woken */
	__u64 stack_id;		/* the call path (KLOCK: a kernel stack), 0 = none */
	__u8 what;		/* CW_SITE_FUTEX, CW_SITE_KLOCK, CW_SITE_WAKE */
	__u8 kind;		/* CW_LOCK_* the record said (FUTEX: CW_LOCK_FUTEX) */
	__u16 attr;
	__u32 flags;		/* CW_SITE_F_*, ored */
	__u32 owner_tid;	/* FUTEX: the latest record's, unchecked (0 = none) */
	__u32 op;		/* FUTEX: latest op word; KLOCK: latest LCB_F_* flags */
	__u64 acquisitions;	/* as cw_ev_lock_stats, summed */
	__u64 contentions;
	__u64 failures;
	__u64 wait_ns_total;
	__u64 wait_ns_max;
	__u64 hold_ns_total;
	__u64 hold_ns_max;
	__u64 outcomes[CW_FUTEX_OUTCOMES];
	__u64 hist[CW_HIST_BUCKETS];
	__u64 first_ts, last_ts;
	__u64 seq;		/* order of first appearance among locks and view sites */
	__u32 next;		/* engine-internal: the next site of the same hash */
};

struct cw_engine_counts {
	__u64 records;			/* records fed, all types */
	__u64 by_type[CW_EV_TYPE_MAX];
	__u64 synthetic;		/* records userspace made up (CW_F_SYNTHETIC), e.g. names at
				 * attach; not ticks, losses or stacks (counted as those) */
	__u64 unknown;			/* well-framed records of types this engine does not know */
	__u64 malformed;		/* records rejected by cw_record__check() */
	__u64 out_of_order;		/* records older than the engine's clock */
	__u64 lost[CW_LOST_MAX];	/* what sources reported dropping, by CW_LOST_* */
	__u64 lost_unknown_kind;	/* ... of CW_LOST_* kinds newer than this build */
	__u64 lost_total;
	__u64 ticks;
	__u64 ticks_no_uprobes;		/* ticks of a source tracing without uprobes (CW_F_NO_UPROBES) */
	__u64 ticks_no_sched;		/* ... with its scheduler tracepoints shed (CW_F_NO_SCHED) */
};

struct cw_engine;

struct cw_engine *cw_engine__new(void);
void cw_engine__free(struct cw_engine *eng);

/*
 * Feed one record. Always 0: a malformed record is counted (counts.malformed) and
 * ignored, one the model had no memory for is counted as lost. A stream never ends
 * because of one bad record. Usable directly as a cw_record_fn.
 */
int cw_engine__feed(void *eng, const struct cw_hdr *rec);

/* Operations the target did: records, less ticks, losses, stacks and synthetic ones. */
__u64 cw_engine__events(const struct cw_engine *eng);

/* What tracing has cost so far: the newest CW_EV_COST (engine/cost.h), NULL: none came. */
const struct cw_ev_cost *cw_engine__cost(const struct cw_engine *eng);

/*
 * The flags of the newest tick (CW_F_*), whichever source sent it; 0 before any. A source
 * tracing no lock call while it ticks says CW_F_NO_UPROBES: --no-uprobes throughout, the
 * cost governor while it has the lock probes detached (counts.ticks_no_uprobes adds them up).
 */
__u16 cw_engine__tick_flags(const struct cw_engine *eng);

/* Newest ts_ns seen, and the first: their difference is how long the stream covers. */
__u64 cw_engine__now(const struct cw_engine *eng);
__u64 cw_engine__first_ts(const struct cw_engine *eng);
const struct cw_engine_counts *cw_engine__counts(const struct cw_engine *eng);

/* Locks and threads in the order they first appeared. */
size_t cw_engine__nr_locks(const struct cw_engine *eng);
const struct cw_lock *cw_engine__lock(const struct cw_engine *eng, size_t i);
const struct cw_lock *cw_engine__find_lock(const struct cw_engine *eng, __u32 pid, __u64 addr);
const struct cw_lock_user *cw_lock__user(const struct cw_lock *lock, __u32 tid);
const struct cw_lock_site *cw_lock__site(const struct cw_lock *lock, __u64 stack_id);

/* Stacks by (pid, space, id); modules in the order they appeared. */
const struct cw_stack *cw_engine__find_stack(const struct cw_engine *eng, __u32 pid, __u16 space,
					     __u64 id);
size_t cw_engine__nr_stacks(const struct cw_engine *eng);
const struct cw_stack *cw_engine__stack(const struct cw_engine *eng, size_t i);
/* The lock-order graph of every traced process (CW_EV_LOCK_EDGE, init/destroy). */
const struct cw_lg *cw_engine__lockgraph(const struct cw_engine *eng);

/* The wait-for graph: who is blocked on what now (engine/waitfor.h). */
struct cw_wf;
const struct cw_wf *cw_engine__waitfor(const struct cw_engine *eng);
/* How long a hang must last to be a deadlock finding (default CW_WF_WINDOW_NS). */
void cw_engine__set_wait_window(struct cw_engine *eng, __u64 ns);

/* Livelocks: threads failing trylocks on each other's locks (engine/livelock.h). */
struct cw_ll;
const struct cw_ll *cw_engine__livelock(const struct cw_engine *eng);
/* How long threads must fail together to be a livelock (default CW_LL_THRESHOLD_NS). */
void cw_engine__set_livelock_threshold(struct cw_engine *eng, __u64 ns);
/* Priority inversions and PI boosts (engine/prio.h). */
struct cw_prio;
struct cw_evloop;
const struct cw_prio *cw_engine__prio(const struct cw_engine *eng);
/* Event loops (engine/evloop.h). */
const struct cw_evloop *cw_engine__evloop(const struct cw_engine *eng);
/* Loop iterations shorter than ns are no stalls (default 100 ms): set before feeding. */
void cw_engine__set_stall_threshold(struct cw_engine *eng, __u64 ns);
/* A loop's blocks inside an iteration shorter than ns are none (default 10 ms): set before
 * feeding. */
void cw_engine__set_block_threshold(struct cw_engine *eng, __u64 ns);
/* Inversions shorter than ns are no findings (default CW_PRIO_DEFAULT_THRESHOLD_NS, 1 ms):
 * set before feeding. */
void cw_engine__set_pi_threshold(struct cw_engine *eng, __u64 ns);

size_t cw_engine__nr_modules(const struct cw_engine *eng);
const struct cw_module *cw_engine__module(const struct cw_engine *eng, size_t i);

size_t cw_engine__nr_threads(const struct cw_engine *eng);
const struct cw_thread *cw_engine__thread(const struct cw_engine *eng, size_t i);
const struct cw_thread *cw_engine__find_thread(const struct cw_engine *eng, __u32 pid, __u32 tid);
/* Its latest CW_EV_THREAD_STATS, NULL when none came. */
const struct cw_ev_thread_stats *cw_thread__stats(const struct cw_thread *t);

/* The futex, kernel lock and wake statistics, in the order their keys first appeared. */
size_t cw_engine__nr_view_sites(const struct cw_engine *eng);
const struct cw_view_site *cw_engine__view_site(const struct cw_engine *eng, size_t i);
const struct cw_view_site *cw_engine__find_view_site(const struct cw_engine *eng, __u32 pid,
						     __u32 tid, __u64 addr, __u64 stack_id,
						     __u8 what);
/* Whether process pid sent CW_SITE_FUTEX statistics (its raw futex records then do not count). */
int cw_engine__has_futex_sites(const struct cw_engine *eng, __u32 pid);
/* Whether process pid sent CW_SITE_KLOCK statistics (its raw kernel-lock records then do not
 * count: the statistics make its CW_LOCK_KERNEL rows). */
int cw_engine__has_klock_sites(const struct cw_engine *eng, __u32 pid);

#endif /* __CW_ENGINE_H */
