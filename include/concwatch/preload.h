/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The in-process library's contract with concwatch (tools/preload/ writes, the preload
 * source tools/lib/source/preload.c reads): how a process under `concwatch run --backend
 * preload` finds concwatch, and the shared memory it records into.
 *
 * Finding concwatch. `run` starts the command with the library in LD_PRELOAD and two
 * variables: CW_PRELOAD_ENV_SOCK, the path of concwatch's datagram socket, and
 * CW_PRELOAD_ENV_OPTS, what to record. A path rather than an inherited descriptor: daemons
 * close what they inherit. When the library starts in a process (its constructor, or the
 * child side of a fork), it creates its region as a memfd, maps it, and sends one
 * struct cw_preload_hello with the memfd attached (SCM_RIGHTS) to that path; the kernel
 * adds the sender's credentials (SO_PASSCRED), so concwatch knows which process the region
 * is of from the kernel, not from the region. Nothing of it stays open in the process but
 * the mapping. No hello (a static binary, a cleared environment, a secure execution): the
 * library did not load, and concwatch says so.
 *
 * The region. A header, then the process-wide sets (stacks and dependencies already sent,
 * lock lifetimes), then one slot per thread. A thread claims a free slot at its first lock
 * call (a compare-and-swap on its state) and is then the only writer of it: its records
 * ring, its statistics per (lock, call path), its loss counters. The process-wide sets
 * are written with compare-and-swap by every thread. concwatch only reads, except a slot's
 * tail (what it consumed) and, once the thread is gone and everything it wrote was read,
 * the slot's state back to free.
 *
 * Records in a ring are the event records of events.h, whole, at free-running byte
 * positions (pos % ring_bytes; a record may wrap around the end). The writer stores the
 * record, then head (release); the reader reads head (acquire), the records, then stores
 * tail. A record that does not fit is not written and counted lost.
 *
 * The process describes its own code: CW_EV_MMAP records, one per executable mapping of
 * each loaded object with a file, as /proc/PID/maps would show it (path resolved, dev
 * major << 20 | minor), written when the library starts in a process (before any other
 * record of its region) and after each dlopen for the objects not described yet.
 * concwatch turns them into CW_EV_MODULE records rather than handing them on: the
 * process may be gone, or the object unloaded, before a stack in it is read.
 */
#ifndef __CONCWATCH_PRELOAD_H
#define __CONCWATCH_PRELOAD_H

#include "events.h"

#define CW_PRELOAD_LIB_NAME "libconcwatch-preload.so"	/* the library's file name */
#define CW_PRELOAD_ENV_SOCK "CONCWATCH_PRELOAD_SOCK"
#define CW_PRELOAD_ENV_OPTS "CONCWATCH_PRELOAD_OPTS"

#define CW_PRELOAD_MAGIC 0x52505743U	/* "CWPR" */
#define CW_PRELOAD_VERSION 4		/* 2: the rings carry CW_EV_MMAP; 3: hello's start_ns,
					 * exec requests, the slots' wait; 4: tls_slot */

/*
 * The hello datagram, sent with the region's memfd. Also, with CW_PRELOAD_HELLO_EXEC,
 * the request of a thread about to exec a program the library will not start in (a
 * static binary, an environment without the library, a set-user-ID program): concwatch
 * traces the process again from that exec (through ptrace, for uprobes from the new
 * image's first instruction), then writes one byte to the descriptor attached (a pipe's
 * write end), which the thread waits for before it calls execve. region_bytes is 0.
 */
struct cw_preload_hello {
	__u32 magic;		/* CW_PRELOAD_MAGIC */
	__u32 version;		/* CW_PRELOAD_VERSION */
	__u64 region_bytes;	/* the memfd's size */
	__u32 flags;		/* CW_PRELOAD_HELLO_* */
	__u32 parent;		/* CW_PRELOAD_HELLO_FORK: the process forked from */
	__u64 start_ns;		/* CLOCK_MONOTONIC when the region was made: a hello of
				 * the image before an exec is older than the exec */
	__u32 tid;		/* CW_PRELOAD_HELLO_EXEC: the thread about to exec */
	__u32 pad;
};

#define CW_PRELOAD_HELLO_FORK (1U << 0)	/* the child side of a fork */
#define CW_PRELOAD_HELLO_EXEC (1U << 1)	/* about to exec: trace me through ptrace */

/* cw_preload_thread.state */
#define CW_PRELOAD_SLOT_FREE 0
#define CW_PRELOAD_SLOT_LIVE 1		/* a thread owns it */
#define CW_PRELOAD_SLOT_GONE 2		/* its thread exited: concwatch frees it, drained */

/*
 * Statistics of one (lock, call path), or of one failing lock (CW_SITE_TRY, stack_id 0),
 * cumulative. An entry is made by writing its fields, then addr (release).
 */
struct cw_preload_site {
	__u64 addr;		/* the lock; 0: a free entry */
	__u64 stack_id;		/* ACQUIRE: the call path; TRY: of the latest failure */
	__u64 ip;
	__u64 acquisitions;	/* cumulative, as cw_ev_lock_stats counts them */
	__u64 contentions;
	__u64 failures;
	__u64 wait_ns_total;
	__u64 wait_ns_max;
	__u64 hold_ns_total;	/* sampled holds, each counted hold_period times */
	__u64 hold_ns_max;
	__u32 owner_tid;	/* TRY: the holder the lock word named at the latest failure */
	__u16 attr;
	__u8 kind;
	__u8 what;		/* CW_SITE_ACQUIRE or CW_SITE_TRY */
	__u32 op;		/* TRY: the op of the latest failure */
	__u32 pad;
	__u64 stack_last;	/* TRY: the call path of the latest failure */
	__u32 wait_hist[CW_HIST_BUCKETS];
};

struct cw_preload_thread {
	__u32 state;		/* CW_PRELOAD_SLOT_* */
	__u32 tid;
	__u32 nr_sites;		/* entries in use (for concwatch: where to look) */
	__u32 pad;
	__u64 lost[CW_LOST_MAX]; /* by CW_LOST_*, cumulative, this thread's */
	__u64 head;		/* bytes written to the ring, ever (the writer's) */
	__u64 calls;		/* lock calls through the wrappers (what tracing cost) */
	__u64 pad2[5];
	__u64 tail;		/* bytes read from it (concwatch's), a cache line of its own */
	__u64 pad3[7];
	/*
	 * The lock wait the thread is in now (the writer's), read by concwatch at its
	 * drains rather than recorded: a wait a drain finds becomes a CW_EV_BLOCKED, its
	 * end another, and a wait no drain saw costs no ring space (a lock contended a
	 * million times a second). Written between two increments of wait_seq, odd while
	 * it is written. With raw records (--timeline) each wait is recorded instead.
	 */
	__u32 wait_seq;
	__u32 wait_owner;	/* the holder the lock word named when the wait began */
	__u64 wait_addr;	/* the lock; 0: no wait */
	__u64 wait_since;
	__u64 wait_stack;
	__u64 wait_ended;	/* when the latest wait ended */
	__u8 wait_kind;		/* CW_LOCK_* */
	__u8 wait_op;		/* CW_OP_* */
	__u8 wait_pad[6];
	__u64 pad4[2];
	/* then: struct cw_preload_site sites[nr_sites_max]; __u8 ring[ring_bytes] */
};

struct cw_preload_region {
	__u32 magic;		/* CW_PRELOAD_MAGIC */
	__u32 version;
	__u32 pid;		/* the process, as it saw itself */
	__u32 nr_threads;	/* slots */
	__u32 nr_sites;		/* statistics entries per slot */
	__u32 ring_bytes;	/* per slot, a power of two */
	__u32 nr_seen;		/* entries of each process-wide set, a power of two */
	__u32 hold_period;	/* one acquisition in hold_period has its hold timed */
	__u64 slot_bytes;	/* size of a slot, header, sites and ring */
	__u64 slots_off;	/* where slot 0 starts */
	__u64 seen_stacks_off;	/* __u64[nr_seen]: stack ids sent (0: free) */
	__u64 seen_edges_off;	/* __u64[nr_seen]: hashes of the dependencies sent */
	__u64 gens_off;		/* struct cw_preload_gen[nr_seen]: lock lifetimes */
	__u64 nr_gens;		/* entries of gens in use: 0, the lookups are skipped */
	__u64 locks_off;	/* __u64[nr_seen]: --track-free, the locks taken (1: gone) */
	__u64 pages_off;	/* __u64[nr_seen]: ... and the pages they are on */
	__u64 threads_unslotted; /* threads that found no free slot: not traced */
	/*
	 * Where each thread keeps the address of its slot (0 before it has one): at this
	 * offset from its thread pointer (x86-64: the %fs base, the TCB's own address).
	 * The library's TLS is in the static block (initial-exec), at one offset in every
	 * thread. The scheduler programs read a sleeping thread's wait through it
	 * (bpf/cw_prio.bpf.h): the wait of the current task, which writes it only itself.
	 */
	__s64 tls_slot;
};

struct cw_preload_gen {
	__u64 addr;		/* 0: free */
	__u32 gen;
	__u32 pad;
};

/* The region's layout for given sizes: the library makes it, concwatch checks it. */
static inline __u64 cw_preload_slot_bytes(__u32 nr_sites, __u32 ring_bytes)
{
	return sizeof(struct cw_preload_thread) + (__u64)nr_sites * sizeof(struct cw_preload_site) +
	       ring_bytes;
}

static inline struct cw_preload_thread *cw_preload_slot(struct cw_preload_region *r, __u32 i)
{
	return (struct cw_preload_thread *)((char *)r + r->slots_off + (__u64)i * r->slot_bytes);
}

static inline struct cw_preload_site *cw_preload_sites(struct cw_preload_thread *t)
{
	return (struct cw_preload_site *)(t + 1);
}

static inline __u8 *cw_preload_ring(struct cw_preload_region *r, struct cw_preload_thread *t)
{
	return (__u8 *)(cw_preload_sites(t) + r->nr_sites);
}

_Static_assert(sizeof(struct cw_preload_site) == 232, "cw_preload_site size changed");
_Static_assert(sizeof(struct cw_preload_thread) % 64 == 0, "slot header not cache aligned");

#endif /* __CONCWATCH_PRELOAD_H */
