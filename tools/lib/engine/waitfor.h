/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The wait-for graph: who is blocked on what now, who holds it, and the hangs it shows
 * (the `deadlock` finding). Pure, like the rest of the engine, and fed by it
 * (engine.c) with the records that say something about waits and holders:
 *
 * - CW_EV_BLOCKED sets a thread's wait (reason CW_OFFCPU_NONE ends it). A tracing source
 *   sends one when a probed acquire blocks; a looking source (procscan, `deadlock -p`)
 *   one per thread it found blocked, CW_F_SYNTHETIC, since_ns 0;
 * - raw lock records (CW_EV_LOCK_*): an acquire that returned ends the thread's wait (and
 *   any operation of a thread says it runs); ACQUIRED and RELEASED keep each thread's held
 *   set, which names the holder of a lock when the blocked record did not;
 * - CW_EV_EXIT ends a thread's waits; it stays known as exited (what it held stays held).
 *
 * A lock's holder is the owner_tid of a blocked record on it (read from the lock's
 * memory), else a thread whose held set has it. The hangs, each a `deadlock` finding:
 *
 * - cycle: T1 waits on a lock T2 holds, T2 on one T3 holds, ... back to T1;
 * - self: a thread waits on a lock it holds itself (a non-recursive mutex relocked);
 * - owner exited: the holder is no live thread of the process: it exited (CW_EV_EXIT),
 *   or a look at the process (a CW_F_SYNTHETIC blocked record) did not find it among
 *   the process's threads (the engine's threads: COMM records name them);
 * - blocked outside: the holder itself waits in another system call (CW_OFFCPU_SLEEP,
 *   _IO: found by looking). It may come back; a lower severity than the others.
 *
 * A condition is a finding once it has lasted the confirmation window on the engine's
 * clock (ticks move it while a hung target sends nothing): then it is latched, and stays
 * a finding if it breaks later (it lasted the window: a hang, say a timed wait that gave
 * up). A condition of waits found by looking alone (their start unknown) is confirmed
 * at once: the look is one instant, and the process was already that way; one that also
 * has a traced wait, once that has lasted the window.
 *
 * A look beside a tracer (procscan following what it found, `report -p`) sends its waits
 * and, when a thread left one, CW_OFFCPU_NONE, both CW_F_SYNTHETIC: those end or replace
 * only a wait a look found, never a traced one (the tracer knows better, and later).
 */
#ifndef __CW_WAITFOR_H
#define __CW_WAITFOR_H

#include <stddef.h>
#include <linux/types.h>
#include <concwatch/events.h>

struct cw_engine;

/* How long a condition must last to be a finding, by default. */
#define CW_WF_WINDOW_NS 500000000ULL
/* Work bounds of the search for cycles: a pathological graph must not stall a tick. */
#define CW_WF_MAX_CYCLES 1000
#define CW_WF_MAX_LEN 64

enum cw_deadlock_rule {
	CW_DEADLOCK_CYCLE,		/* threads waiting on each other in a cycle */
	CW_DEADLOCK_SELF,		/* a thread waiting on a lock it holds */
	CW_DEADLOCK_OWNER_EXITED,	/* waiting on a lock held by a thread that is gone */
	CW_DEADLOCK_BLOCKED_OUTSIDE,	/* waiting on a lock whose holder waits in a system call */
};

/* The JSON "rule": "cycle", "self", "owner_exited", "blocked_outside". */
const char *cw_deadlock_rule__name(enum cw_deadlock_rule rule);

/* cw_wf_wait.holder_from: how the holder is known */
#define CW_WF_HOLDER_NONE 0	/* not known */
#define CW_WF_HOLDER_OWNER 1	/* the lock's memory said (the blocked record's owner_tid) */
#define CW_WF_HOLDER_TRACED 2	/* the thread's traced acquisitions and releases */

/* One blocked thread: what it waits on, and who holds that. */
struct cw_wf_wait {
	__u32 pid;
	__u32 tid;
	__u64 addr;		/* the lock or futex word; 0: blocked outside any lock */
	__u64 since_ns;		/* when the wait began; 0 = not known (found by looking) */
	__u64 ts;		/* the record that said it */
	__u64 stack_id;		/* its user stack, 0 = none */
	__u32 owner_tid;	/* as the record said, 0 = not known */
	__u32 holder_tid;	/* the holder as the graph knows it (see holder_from), 0 = none */
	__u32 syscall;		/* CW_OFFCPU_SLEEP, _IO: the system call's number, ~0 = none */
	__u32 futex_op;		/* CW_OFFCPU_FUTEX: the wait's op word, ~0 = not known */
	__u32 readers;		/* an rwlock held for reading: by how many, as the record
				 * said (its memory), 0 = none or not known */
	__u8 reason;		/* CW_OFFCPU_LOCK, _FUTEX, _KLOCK, _SLEEP, _IO */
	__u8 kind;		/* CW_LOCK_*, 0 = not known */
	__u8 holder_from;	/* CW_WF_HOLDER_* */
	__u8 synthetic;		/* found by looking (CW_F_SYNTHETIC) */
	__u8 holder_exited;	/* the holder is no live thread of the process */
	__u8 upstream;		/* in a hang: waits on a thread of it, not on its lock */
};

/* One thread of a hang: its wait (for the last of blocked_outside: the holder's own). */
struct cw_wf_cond {
	enum cw_deadlock_rule rule;
	__u32 pid;
	__u64 formed_ns;	/* when the last of its waits began: it was complete from
				 * then; 0 = not known (only waits found by looking) */
	__u64 confirmed_ns;	/* the engine's clock when it became a finding */
	struct cw_wf_wait *links;	/* cycle: in cycle order from its lowest tid, each
					 * holder the next's tid; the others: the waiters by
					 * tid, then the threads waiting on those (upstream),
					 * blocked_outside: then the holder */
	size_t nr_links;
};

struct cw_wf;

struct cw_wf *cw_wf__new(void);
void cw_wf__free(struct cw_wf *wf);
/* The window (default CW_WF_WINDOW_NS). */
void cw_wf__set_window(struct cw_wf *wf, __u64 ns);
__u64 cw_wf__window(const struct cw_wf *wf);

/* A record of the kinds the header comment lists (others are ignored). 0 or -ENOMEM. */
int cw_wf__feed(struct cw_wf *wf, const struct cw_hdr *h);

/*
 * The engine's clock moved to now (a tick): latch the conditions confirmed by then.
 * eng: thread liveness (cw_engine__find_thread()). 0 or -ENOMEM.
 */
int cw_wf__tick(struct cw_wf *wf, const struct cw_engine *eng, __u64 now);

/* How many hangs were latched (confirmed at a tick): a cheap "is there a deadlock yet". */
size_t cw_wf__nr_latched(const struct cw_wf *wf);

/*
 * The hangs found: those latched, then those confirmed now but not latched yet (no tick
 * since), each once, in a deterministic order. *out is malloc'ed (free with
 * cw_wf__conds_free()); *truncated: the cycle search stopped at its bounds. 0 or -ENOMEM.
 */
int cw_wf__deadlocks(const struct cw_wf *wf, const struct cw_engine *eng, __u64 now,
		     struct cw_wf_cond **out, size_t *nr, int *truncated);
void cw_wf__conds_free(struct cw_wf_cond *v, size_t nr);

/*
 * Every thread blocked now, by (pid, tid), holders resolved. *out is malloc'ed (free()).
 * 0 or -ENOMEM.
 */
int cw_wf__blocked(const struct cw_wf *wf, const struct cw_engine *eng, struct cw_wf_wait **out,
		   size_t *nr);

#endif /* __CW_WAITFOR_H */
