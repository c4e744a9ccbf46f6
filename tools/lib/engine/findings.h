/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Findings: what the engine concludes from its model, in one list. The text and JSON
 * reports, the dot export and `run --fail-on` all read this list and decide nothing
 * themselves: whether something is a finding, which one of several alike is shown, and
 * why a suspect one is harmless are the engine's rules, here.
 *
 * A finding names what it is about by the model's keys: locks by (pid, address,
 * lifetime), threads by (pid, tid), stacks by (pid, space, stack id). Presentation
 * resolves them (names, frames) only when it shows them, so building the list is pure
 * and cheap, and the same stream always gives the same list.
 *
 * Adding a kind: its enum value and registry entry (findings.c) with the function that
 * finds it, its kind-specific part in the union of struct cw_finding, and its renderers
 * in tools/report/ (Documentation/design.md, "Adding a finding kind").
 */
#ifndef __CW_FINDINGS_H
#define __CW_FINDINGS_H

#include <stddef.h>
#include <linux/types.h>
#include "engine/prio.h"

struct cw_engine;
struct cw_contention_opts;
struct cw_contention;

/* The kinds of the contract (Documentation/usage.md), detected by this version or not yet. */
enum cw_finding_kind {
	CW_FINDING_LOCK_ORDER_INVERSION,
	CW_FINDING_DEADLOCK,
	CW_FINDING_PRIORITY_INVERSION,
	CW_FINDING_LIVELOCK,
	CW_FINDING_CONTENTION_HOTSPOT,
	CW_FINDING_EVENT_LOOP_STALL,
	CW_FINDING_BLOCKING_IN_EVENT_LOOP,
	CW_FINDING_KIND_MAX,
};
/* sets of kinds are __u64 masks, a bit per kind (cw_findings__matching()) */
_Static_assert(CW_FINDING_KIND_MAX < 64, "a kind mask is a __u64");

/* The contract's word for a kind (JSON "kind", --fail-on); NULL beyond the last. */
const char *cw_finding_kind__name(unsigned int kind);
/* Whether this version looks for findings of the kind at all. */
int cw_finding_kind__detected(unsigned int kind);
/* The kind a word names, or -ENOENT. */
int cw_finding_kind__parse(const char *name);

/*
 * What a finding is worth, in increasing order. Only WARNING and above are findings:
 * counted, shown, matched by --fail-on. The others are kept so that -v and the JSON
 * "suppressed" array can say what was looked at and why it is not reported.
 */
enum cw_severity {
	CW_SEVERITY_SUPPRESSED,	/* judged harmless: see `suppressed` for why */
	CW_SEVERITY_SUBSUMED,	/* the same cause as finding `subsumed_by`, counted with it */
	CW_SEVERITY_WARNING,	/* can go wrong: an inversion that has not deadlocked (yet) */
	CW_SEVERITY_ERROR,	/* went wrong: a deadlock that happened */
};

/* Why a suspect finding cannot go wrong. */
enum cw_suppression {
	CW_SUPPRESSED_NONE,
	CW_SUPPRESSED_GATE_LOCK,	/* every link was made holding one other lock */
	CW_SUPPRESSED_READ_READ,	/* closed by read after read on a reader-preferring rwlock */
};

/* The JSON "reason" of a suppression: "gate_lock", "read_read". */
const char *cw_suppression__name(enum cw_suppression why);

/* A lock a finding is about: one lifetime of an address of one process. */
struct cw_finding_lock {
	__u32 pid;
	__u32 lifetime;		/* of the address: 0, 1, ... (pthread_*_init/destroy, free) */
	__u64 addr;
	__u8 type;		/* CW_LOCK_* */
	__u16 attr;		/* CW_ATTR_* when known */
	__u64 ip;		/* where the finding saw it acquired, 0 = not known: a lock
				 * without a symbol is named by it */
};

struct cw_finding_thread {
	__u32 pid;
	__u32 tid;
};

/* A stack of the model (cw_engine__find_stack()); id 0: none was sent. */
struct cw_stack_ref {
	__u32 pid;
	__u16 space;		/* CW_STACK_USER or CW_STACK_KERNEL */
	__u64 id;
};

/* Work bounds of the search for lock-order cycles: a pathological graph must not stall. */
#define CW_LOCK_ORDER_MAX_CYCLES 1000
#define CW_LOCK_ORDER_MAX_LEN 16

/* One dependency of a lock-order cycle: locks[i] held while locks[i + 1] was acquired. */
struct cw_lock_order_link {
	__u32 tid;		/* the thread that made it */
	__u16 flags;		/* CW_EDGE_*: CW_EDGE_READ_FROM, CW_EDGE_READ_TO, CW_EDGE_ATTEMPT */
	__u64 from_ip, to_ip;	/* where the held lock was acquired, where the next one was */
	size_t held_stack;	/* index in stacks[]: the held lock's acquisition */
	size_t acquire_stack;	/* index in stacks[]: the next lock's acquisition */
	__u64 ts;		/* when the dependency was first seen this way */
	size_t graph_edge;	/* the lock graph's edge (cw_lg__edge()) it is an instance of */
};

/*
 * lock_order_inversion: a cycle in the lock-order graph, locks[0] -> locks[1] -> ...
 * -> locks[0], from its first-seen lock. For a cycle closed by read after read no
 * choice of instances blocks; its links are each edge's first instance.
 */
struct cw_lock_order {
	struct cw_lock_order_link *links;	/* nr_locks of them */
	size_t closing;		/* the link made last: the dependency that closed the cycle */
	int single_thread;	/* every link was made by one thread */
	size_t longer_cycles;	/* reported: longer cycles the same closing dependency closes
				 * (SUBSUMED findings of the list) */
	__u64 gate;		/* CW_SUPPRESSED_GATE_LOCK: the lock held across every link */
	size_t read_lock;	/* CW_SUPPRESSED_READ_READ: index in locks[] of the lock read
				 * after read */
};

/* Stacks of a contention_hotspot finding: the top waiting, then the top holding ones. */
#define CW_HOTSPOT_MAX_STACKS 3
#define CW_HOTSPOT_MAX_THREADS 8

/*
 * contention_hotspot: a lock (one object of the contention model, engine/contention.h)
 * whose waits took at least threshold_pct % of the traced threads' time. locks[0] is the
 * object (ip: its first acquisition or wait site); threads: its top waiting threads, by
 * wait time; stacks[0 .. nr_waiter_stacks): its top waiting call paths, the rest: its
 * top holders' (whose wakeups ended the waits), by wait time.
 */
struct cw_hotspot {
	__u64 wait_ns_total;
	__u64 wait_ns_max;
	__u64 wait_p50_ns;
	__u64 wait_p99_ns;
	__u64 contentions;
	__u64 traced_ns;
	double share;			/* wait_ns_total / traced_ns */
	unsigned int threshold_pct;
	__u32 owner_tid;		/* a live holder the futex word named, 0 = unknown */
	__u8 views;			/* CW_VIEW_* */
	__u32 flags;			/* CW_SITE_F_* (kernel locks: CW_SITE_F_MMAP_LOCK) */
	size_t nr_waiter_stacks;
	__u64 *thread_wait_ns;		/* nr_threads: each thread's wait on it */
};

/* One thread of a deadlock: what it waits on, who holds that. */
struct cw_deadlock_link {
	__u32 tid;
	__u32 holder_tid;	/* 0: not known, or none (blocked outside any lock) */
	size_t lock;		/* index in locks[] of what it waits on; SIZE_MAX: none (a
				 * holder blocked in a system call) */
	size_t stack;		/* index in stacks[]: its wait's stack (id 0: none) */
	__u64 since_ns;		/* when its wait began, 0 = not known (found by looking) */
	__u32 syscall;		/* CW_OFFCPU_SLEEP, _IO: the system call's number, ~0 = none */
	__u32 futex_op;		/* CW_OFFCPU_FUTEX: the wait's op word, ~0 = not known */
	__u8 reason;		/* CW_OFFCPU_* of its wait */
	__u8 holder_exited;	/* the holder is no live thread of the process */
	__u8 holder_from;	/* CW_WF_HOLDER_* (engine/waitfor.h) */
	__u8 upstream;		/* owner exited, blocked outside: waits on a thread of the
				 * hang (stuck as long as it is), not on its lock */
};

/*
 * deadlock: threads blocked for good, by rule (enum cw_deadlock_rule, engine/waitfor.h):
 * a cycle of waits (links in cycle order, each held by the next), a thread relocking a
 * lock it holds, waiters on a lock whose holder exited, or waiters on a lock whose holder
 * waits in a system call (then the holder's own link last; a WARNING: it may come back);
 * for those two, the threads waiting on the waiters follow them (upstream).
 */
struct cw_deadlock {
	unsigned int rule;		/* enum cw_deadlock_rule */
	__u64 formed_ns;		/* when it was complete, 0 = not known (found by looking) */
	__u64 confirmed_ns;		/* the engine's clock when it became a finding */
	struct cw_deadlock_link *links;
	size_t nr_links;
};

/* One thread's failures on one lock in a livelock. */
struct cw_livelock_link {
	__u32 tid;
	__u32 owner_tid;	/* the holder at its latest failure, 0 = not known */
	size_t lock;		/* index in locks[] */
	size_t stack;		/* index in stacks[]: its latest failure's call path (id 0: none) */
	__u64 failures;
	__u64 first_ns, last_ns;	/* its first and latest failure */
	__u64 ip;		/* return address of its latest failing call */
	__u64 wait_ns;		/* timed acquires: time waited before they timed out */
	__u8 op;		/* CW_OP_* of its latest failure */
};

/*
 * livelock (engine/livelock.h): threads failing trylocks and timed acquires on locks the
 * others hold, none getting one it failed on, for longer than the threshold.
 */
struct cw_livelock {
	__u64 first_ns;		/* the earliest failure of its links */
	__u64 formed_ns;	/* when the last of its threads began failing */
	__u64 confirmed_ns;	/* the engine's clock when it became a finding */
	__u64 last_ns;		/* the latest failure */
	__u64 threshold_ns;
	int ended;		/* the threads stopped or made progress before the stream ended */
	__u64 failures;		/* all links */
	struct cw_livelock_link *links;	/* by thread, then lock */
	size_t nr_links;
};

/* cw_prio_finding.rule */
enum cw_prio_rule {
	CW_PI_RULE_PREEMPTED,	/* measured: L runnable, M had its CPU, while H waited */
	CW_PI_RULE_LATENT,	/* H real-time blocked on a non-PI lock of a non-real-time L */
};

/* "preempted", "latent" */
const char *cw_prio_rule__name(enum cw_prio_rule rule);

/*
 * priority_inversion: real-time thread high waited on locks[0], held by low (threads[0],
 * threads[1]); with rule PREEMPTED, low was runnable while preemptor (a task of any
 * process, priority between theirs) had its CPU, for duration_ns in stretches (an ERROR);
 * with rule LATENT, low is not real-time and the lock does not inherit priority: any busy
 * thread can do that (a WARNING; nothing measured). stacks[0]: high's wait; stacks[1]:
 * low's where it was kept off its CPU, stacks[2]: the preemptor's as it gave the CPU back
 * (PREEMPTED, of the preemptor's process; id 0: not taken).
 */
struct cw_prio_finding {
	enum cw_prio_rule rule;
	struct cw_prio_task high, low, preemptor;	/* preemptor: LATENT: none (tid 0) */
	__u64 duration_ns;	/* PREEMPTED: the stretches summed; LATENT: 0, not measured */
	__u64 longest_ns;
	__u64 wait_since_ns;	/* when high's wait began */
	__u64 end_ns;		/* PREEMPTED: when low got its CPU back the last time (not
				 * bounded: the last word of it) */
	__u32 stretches;
	int bounded;		/* PREEMPTED: it ended while traced (the duration is whole);
				 * 0: still going on at the end (the duration so far) */
	int preempted;		/* the preemptor took low's CPU (else: it ran last before low) */
	int preemptor_untraced;	/* its process was not traced: no stack (stacks[2] id 0) */
};

/*
 * event_loop_stall: threads[0], an event loop's thread, ran at least threshold_ns between
 * two of its waits (epoll_wait, poll, select, io_uring_enter): every other task of its
 * loop waited meanwhile. The longest stall, how many there were and their time, and the
 * loop's iterations (a WARNING: the loop went on; a stall still going on at the end is
 * the loop stuck now). The samples of its stalls' time on a CPU are stacks[], one each:
 * taken at any pc, they group only once unwound (presentation merges them).
 */
struct cw_loop_finding {
	__u64 threshold_ns;
	__u64 stalls;		/* ended, and one going on at the end */
	__u64 stall_ns_total;
	__u64 start_ns, duration_ns;	/* the longest */
	__u64 oncpu_ns;		/* of it on a CPU (oncpu_known) */
	int oncpu_known;
	int ongoing;		/* the longest had not ended at the end of the trace */
	__u32 wait_nr;		/* the system call of the wait before it */
	__u64 iterations, waits;
	__u64 busy_p50_ns, busy_p99_ns, busy_max_ns;
	/* stacks[0 .. nr_stacks): where its stalls were, a user stack per sample taken on a
	 * CPU (CW_EV_LOOP_SAMPLE), in the order taken; kernel_samples of them in the kernel */
	__u64 kernel_samples;
};

/*
 * blocking_in_event_loop: threads[0], an event loop's thread, blocked inside its
 * iterations (outside its loop wait) at least threshold_ns at a time, for one cause: a
 * lock (locks[0], threads[1] its holder when known), a futex word or kernel lock (addr),
 * or a system call (nr: a read, fsync, connect, a sleep). How often, the longest and the
 * total; stacks[0]: the longest block's user stack. A WARNING: the loop waited for it.
 */
struct cw_loop_block_finding {
	__u64 threshold_ns;
	__u8 reason;		/* CW_OFFCPU_* */
	__u32 nr;		/* the system call (of the longest), ~0: none */
	__u64 addr;		/* the lock, futex word or kernel lock; 0: none */
	__u32 owner_tid;	/* the lock's holder (threads[1]), 0: not known */
	__u64 count, total_ns, max_ns;
	__u64 longest_start_ns;
	int in_stall;		/* the longest was inside an event_loop_stall */
};

struct cw_finding {
	enum cw_finding_kind kind;
	enum cw_severity severity;
	enum cw_suppression suppressed;	/* CW_SEVERITY_SUPPRESSED: why */
	size_t subsumed_by;		/* CW_SEVERITY_SUBSUMED: index of the reported one */
	struct cw_finding_lock *locks;
	size_t nr_locks;
	struct cw_finding_thread *threads;	/* in the order the finding met them */
	size_t nr_threads;
	struct cw_stack_ref *stacks;
	size_t nr_stacks;
	union {
		struct cw_lock_order lock_order;	/* CW_FINDING_LOCK_ORDER_INVERSION */
		struct cw_hotspot hotspot;		/* CW_FINDING_CONTENTION_HOTSPOT */
		struct cw_deadlock deadlock;		/* CW_FINDING_DEADLOCK */
		struct cw_livelock livelock;		/* CW_FINDING_LIVELOCK */
		struct cw_prio_finding prio;		/* CW_FINDING_PRIORITY_INVERSION */
		struct cw_loop_finding loop;		/* CW_FINDING_EVENT_LOOP_STALL */
		struct cw_loop_block_finding block;	/* CW_FINDING_BLOCKING_IN_EVENT_LOOP */
	};
};

static inline int cw_finding__reported(const struct cw_finding *f)
{
	return f->severity >= CW_SEVERITY_WARNING;
}

/*
 * The findings of everything the engine holds, every kind this version detects, in one
 * list: by kind, then as each kind orders them (lock-order cycles: those that can
 * deadlock first, then in the order of their first lock; contention hotspots: by wait
 * time, user-space objects first, then kernel locks). 0 or -ENOMEM.
 *
 * opts (engine/contention.h): the futex classifier and the hotspot threshold; NULL (as
 * cw_findings__new) = no classifier, the default threshold.
 */
struct cw_findings;

int cw_findings__new_opts(const struct cw_engine *eng, const struct cw_contention_opts *opts,
			  struct cw_findings **out);
int cw_findings__new(const struct cw_engine *eng, struct cw_findings **out);
/*
 * The same from a contention model the caller built already from eng (its classifier
 * and threshold): a report that shows the model and the findings classifies once.
 */
int cw_findings__new_model(const struct cw_engine *eng, const struct cw_contention *model,
			   struct cw_findings **out);
void cw_findings__free(struct cw_findings *fs);

size_t cw_findings__nr(const struct cw_findings *fs);
const struct cw_finding *cw_findings__get(const struct cw_findings *fs, size_t i);
/* How many are reported (cw_finding__reported()). */
size_t cw_findings__nr_reported(const struct cw_findings *fs);
/* The search for this kind stopped at its work bounds: there may be more. */
int cw_findings__truncated(const struct cw_findings *fs, unsigned int kind);
/* How many reported findings are of the kinds in mask (bit 1 << kind): --fail-on. */
size_t cw_findings__matching(const struct cw_findings *fs, __u64 kinds);

#endif /* __CW_FINDINGS_H */
