/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The BPF source's parts, private to tools/lib/source/bpf/:
 *   source.c       options, load, start/stop, the ops table
 *   probes.c       the libc functions probed, and where in each (placement)
 *   usdt.c         glibc's SDT notes used instead of uprobes where they cover a function
 *   attach.c       uprobe and uprobe-multi attach; adding and removing a process
 *   tracepoints.c  the system-wide tracepoints, and tracefs mounted privately if need be
 *   stream.c       draining the ring buffer, with the BPF side's lost counters
 *   stats.c        the per-tick statistics of lock_sites, read in batches, sent as what
 *                  grew; those of processes no longer traced dropped
 *   threads.c      the scheduler programs, and the per-thread figures of thread_stats
 *                  sent each tick
 *   prio.c         priority inversions still going on, from thread_stats
 *   cost.c         what tracing costs the target (opts.measure_cost): calibration,
 *                  probe hits, BPF run time, sent as CW_EV_COST
 * Thread names, module maps, ticks and lost records are no part of it: every backend
 * shares them (source/emit.h, source/procinfo.h).
 */
#ifndef __CW_BPF_INTERNAL_H
#define __CW_BPF_INTERNAL_H

#include <stdarg.h>

#include "cw_maps.h"
#include "engine/index.h"
#include "source/emit.h"
#include "source/procinfo.h"
#include "source/source.h"

struct bpf_link;
struct ring_buffer;
struct concwatch_bpf;
struct cw_elf_func;
struct cw_uprobe_libs;

/* Sizes of the tables of probes.c, usdt.c and tracepoints.c (asserted there). */
#define CW_BPF_NR_PROBES 25
#define CW_BPF_NR_SDT 13
#define CW_BPF_NR_SDT_GROUPS 9
#define CW_BPF_NR_TRACEPOINTS 32

/*
 * The functions probed: an entry program (uprobe_acquire, uprobe_release... one per
 * shape) and, for acquires, the return program uretprobe_acquire, each attached with the
 * function's kind and op as its cookie (CW_PROBE_COOKIE). Functions a libc lacks (older
 * glibc has no clocklock) are left out and said so; those marked required must be there.
 */
struct cw_bpf_probe {
	const char *func;
	int ret;		/* has a return probe */
	int required;
	__u32 regs;		/* registers its entry program reads besides %rdi, %rbp, [%rsp] */
	int at_success;		/* when the entry is refused, probe where it succeeded */
	int track_free;		/* only with --track-free (cw_source_opts.track_free) */
	const char *prog;	/* the entry program */
	__u8 kind, op;		/* CW_LOCK_*, CW_OP_*: its cookie */
};

/* The return program of every probe with ret set. */
#define CW_BPF_RET_PROG "uretprobe_acquire"

extern const struct cw_bpf_probe cw_bpf_probes[CW_BPF_NR_PROBES];

/* A traced process: its probes, and the module map sent for it. */
struct proc {
	int pid;
	struct bpf_link *links[2 * CW_BPF_NR_PROBES];	/* entry, return */
	int mlinks[2 * CW_BPF_NR_PROBES];	/* the same as uprobe-multi link fds, or -1 */
	struct bpf_link *sdt_links[CW_BPF_NR_SDT];	/* SDT notes used instead of uprobes */
	struct cw_proc_maps maps;
	int lock_calls;			/* its lock calls through uprobes (lock_calls_elsewhere) */
};

/* One batch of a hash map as bpf_map_lookup_batch() reads it, grown as buckets need. */
struct cw_bpf_batch {
	void *keys, *vals;
	size_t key_size, val_size;
	__u32 room;
	__u32 first_room;		/* entries of the first batch */
};

/*
 * lock_sites as last sent, to send the growth each tick (stats.c). An entry is known by
 * its whole key: the same lock at the same address, from the same call path (stack ids
 * hash instruction pointers only), is another entry in each process of a forked server,
 * for each thread (futex waits), and for each view (CW_SITE_*).
 */
struct cw_bpf_sites {
	struct cw_bpf_site {
		struct cw_site_key key;
		struct cw_site_stats v;
	} *prev;
	size_t nr, cap;
	struct cw_index path_ix;	/* (addr, stack_id) -> path number */
	__u32 nr_paths;
	struct cw_index ix;		/* (tgid << 32 | tid, path number << 32 | what) -> slot */
	struct cw_bpf_batch batch;	/* keys: struct cw_site_key, vals: cw_site_stats */
	/* entries of processes no longer traced, and of threads that exited (their own
	 * futex and wake entries): sent a last time, then deleted */
	struct cw_site_key *gone;
	size_t nr_gone, cap_gone;
	struct cw_index exited;		/* (tgid, tid) of threads that exited since the last read */
	size_t nr_exited;
	__u64 sent_ns;
};

/* thread_stats as last sent (threads.c), and the scheduler programs' links. */
#define CW_BPF_NR_SCHED_PROGS 5

struct cw_bpf_threads {
	struct cw_bpf_thread {
		__u32 tid, tgid;
		__u32 seen;			/* gen of the last read that found it */
		__u32 pad;
		__u64 sent_ns;			/* when its last record was sent */
		struct cw_thread_sched raw;	/* the entry as last read */
		struct cw_ev_thread_stats sent;	/* the last record sent */
		struct cw_ev_thread_state state;	/* the last state sent (type 0: none) */
	} *prev;
	size_t nr, cap;
	struct cw_index ix;		/* (tid, tgid) -> slot in prev */
	__u32 gen;			/* reads so far */
	struct cw_bpf_batch batch;	/* keys: __u32 tids, vals: struct cw_thread_sched */
	/* tids of processes no longer traced, deleted from the map after the read */
	__u32 *gone;
	size_t nr_gone, cap_gone;
	struct bpf_link *links[CW_BPF_NR_SCHED_PROGS];
};

/* loop_threads as last sent (evloop.c): a thread's figures go out when they changed. */
struct cw_bpf_loops {
	struct cw_bpf_loop {
		__u64 waits;			/* as last sent */
		__u8 in_wait;
		__u8 pad[7];
	} *prev;
	size_t nr, cap;
	struct cw_index ix;		/* (tid, tgid) -> slot in prev */
	struct cw_bpf_batch batch;	/* keys: __u32 tids, vals: struct cw_loop_thread */
	__u32 *gone;			/* tids of processes no longer traced */
	size_t nr_gone, cap_gone;
	/* the stall sampler: a software clock per CPU (-1: none), the program on each */
	int *clock_fds;
	struct bpf_link **clock_links;
	int nr_clocks;
};

struct bpf_source {
	struct cw_source base;
	struct cw_source_opts opts;	/* defaults filled in */
	struct concwatch_bpf *skel;
	struct ring_buffer *rb;
	struct proc **procs;		/* opts.pid first (if any), then those added */
	size_t nr_procs, cap_procs;
	int umulti_type;			/* BPF_TRACE_UPROBE_MULTI, or -1: see links.h */
	struct bpf_link *tp_links[CW_BPF_NR_TRACEPOINTS];
	int no_klock;			/* the kernel has no lock:contention_* tracepoints */
	int emulates_push;		/* this kernel emulates push for uprobes */
	int emulates_nopl;		/* ... and multi-byte nops */
	int raw_class;			/* stack copy buffer: 4 KiB << raw_class */

	int cb_err;			/* the ring buffer callback's error in the drain */
	__u64 drain_until_ns;		/* the drain in progress reads until then (0: all) */
	__u32 drain_records;		/* records it read */
	int drain_cut;			/* it stopped there, records still waiting */

	struct cw_emit emit;		/* records handed on, made up, counted */
	struct cw_thread_names names;

	__u64 stopped_ns;		/* when recording stopped; the stream ends there */
	__u64 malformed;		/* ring buffer records that failed their checks */
	__u64 edges_unparked;		/* edges taken out of edges_pending */

	struct cw_bpf_sites sites;	/* stats.c */
	struct cw_bpf_threads threads;	/* threads.c */
	struct cw_bpf_loops loops;		/* evloop.c */

	/* cost.c, with opts.measure_cost */
	struct cw_ev_cost cost;		/* the calibration, and the totals last sent */
	int stats_fd;			/* bpf_enable_stats()'s, or -1 */
	int *prog_fds;			/* the loaded programs, whose run time counts: */
	size_t nr_probe_fds;		/* ... the probe programs first, */
	size_t nr_prog_fds;		/* ... then the tracepoint programs */
	__u64 cost_next_ns;		/* when to send the next totals */

	/* governor.c, with opts.max_overhead_pct */
	struct cw_governor *gov;
	int gov_off;			/* the lock uprobes are detached */
	int gov_shed;			/* the scheduler tracepoints too */
	__u64 cost_cpu_last;		/* the targets' CPU time at the last cost record */
	int cost_cpu_read;		/* ... read once at least */
	struct cw_ev_cost gov_prev;	/* the cost totals at the last tick */
	__u64 gov_cpu_ns;		/* the targets' CPU time then */
	__u64 gov_last_ns;		/* when that was (0: no tick yet) */
	__u64 gov_attach_ns, gov_detach_ns; /* what the last attach and detach took */
};

int cw_bpf__untarget(struct bpf_source *s, __u32 tgid);
void cw_bpf__set_err(struct bpf_source *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * probes.c: where in function f to put probe p (an offset from its start), and the kind
 * of trap a hit there costs into *trap (CW_TRAP_*; trap may be NULL).
 */
__u64 cw_bpf__place(int emulates_push, int emulates_nopl, const struct cw_bpf_probe *p,
		    const struct cw_elf_func *f, int *trap);

/* attach.c */
struct proc *cw_bpf__find_proc(const struct bpf_source *s, int pid);
int cw_bpf__add_process(struct bpf_source *s, int pid);
int cw_bpf__op_add_process(struct cw_source *src, int pid);
int cw_bpf__op_remove_process(struct cw_source *src, int pid);
int cw_bpf__op_refresh_process(struct cw_source *src, int pid);
void cw_bpf__set_umulti(struct bpf_source *s);
void cw_bpf__proc_free(struct proc *p);

/* usdt.c */
int cw_bpf__sdt_covered(const struct proc *p, const char *func);
int cw_bpf__attach_sdt(struct bpf_source *s, struct proc *p, const struct cw_uprobe_libs *libs);

/* tracepoints.c */
int cw_bpf__attach_tracepoints(struct bpf_source *s);
int cw_bpf__klock_available(void);
int cw_bpf__syscall_tracepoint_available(const char *name);
int cw_bpf__find_vma_available(void);
int cw_bpf__ensure_tracefs(struct bpf_source *s);

/* governor.c */
int cw_bpf__govern_start(struct bpf_source *s);
int cw_bpf__govern(struct bpf_source *s, __u64 now);
void cw_bpf__govern_fini(struct bpf_source *s);

/* stream.c */
int cw_bpf__ringbuf_record(void *ctx, void *data, size_t size);
int cw_bpf__drain(struct cw_source *src, cw_record_fn fn, void *ctx);

/* stats.c */
int cw_bpf__send_lock_stats(struct bpf_source *s, __u64 now);
int cw_bpf__thread_exited(struct bpf_source *s, __u32 tgid, __u32 tid);
void cw_bpf__stats_fini(struct bpf_source *s);

/* threads.c: before load; after load; at stop; the drain's records; at free */
void cw_bpf__sched_configure(struct bpf_source *s);
int cw_bpf__sched_attach(struct bpf_source *s);
void cw_bpf__sched_detach(struct bpf_source *s);
int cw_bpf__sched_shed(struct bpf_source *s, __u64 now);
int cw_bpf__send_thread_stats(struct bpf_source *s, __u64 now);
/* prio.c: an inversion still going on, from a thread_stats entry read at now. */
int cw_bpf__prio_ongoing(struct bpf_source *s, __u32 tid, const struct cw_thread_sched *v,
			 __u64 now, int final);
int cw_bpf__thread_final(struct bpf_source *s, const struct cw_hdr *h);
void cw_bpf__threads_fini(struct bpf_source *s);

/* evloop.c */
void cw_bpf__loops_configure(struct bpf_source *s);
/* The stall sampler on every CPU; where it cannot be had, said (-v) and done without. */
int cw_bpf__loops_attach(struct bpf_source *s);
int cw_bpf__send_loop_stats(struct bpf_source *s, __u64 now);
void cw_bpf__loops_fini(struct bpf_source *s);

/* cost.c: after load (calibrates, turns the statistics on); each drain; at free */
int cw_bpf__cost_start(struct bpf_source *s);
int cw_bpf__send_cost(struct bpf_source *s, __u64 now);
void cw_bpf__cost_fini(struct bpf_source *s);

/*
 * Call fn for every entry of the hash map fd (batch.c), in batches of b; the first error
 * fn returns ends the read and is returned. what names the map in errors.
 */
typedef int (*cw_bpf_entry_fn)(struct bpf_source *s, const void *key, const void *val,
			       void *ctx);
int cw_bpf__map_each(struct bpf_source *s, int fd, struct cw_bpf_batch *b, const char *what,
		     cw_bpf_entry_fn fn, void *ctx);
void cw_bpf__batch_fini(struct cw_bpf_batch *b);

#endif /* __CW_BPF_INTERNAL_H */
