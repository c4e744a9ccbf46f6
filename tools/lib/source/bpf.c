// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF source: loads concwatch.bpf.o, attaches its uprobes to the target's libc
 * (found through /proc/PID/maps and reached through /proc/PID/root, so processes in
 * containers work), and streams the ring buffer's records.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "common/time.h"
#include "cw_maps.h"
#include "engine/index.h"
#include "source/links.h"
#include "source/placement.h"
#include "source/probes.h"
#include "source/source.h"
#include "source/target.h"
#include "stack/stack.h"

#define DEFAULT_RINGBUF_BYTES (4UL << 20)
#define DEFAULT_TICK_NS 100000000ULL
#define DEFAULT_MAX_THREADS 16384
#define DEFAULT_STACK_BYTES 16384
#define MAX_STACK_BYTES (24 * 1024)	/* CW_RAW_MAX of cw_stack.bpf.h */

/* Functions probed, and the program for each; a function may carry an entry and a return probe. */
/*
 * The functions probed: an entry program (uprobe_FUNC) and, for acquires, a return
 * program (uretprobe_FUNC). Functions a libc lacks (older glibc has no clocklock) are
 * left out and said so; those marked required must be there.
 */
static const struct probe {
	const char *func;
	int ret;		/* has a return probe */
	int required;
	__u32 regs;		/* registers its entry program reads besides %rdi, %rbp, [%rsp] */
	int at_success;		/* when the entry is refused, probe where it succeeded */
	int track_free;		/* only with --track-free (cw_bpf_opts.track_free) */
} probes[] = {
	{ "pthread_mutex_lock", 1, 1 },
	{ "pthread_mutex_trylock", 1, 0 },
	{ "pthread_mutex_timedlock", 1, 0 },
	{ "pthread_mutex_clocklock", 1, 0 },
	{ "pthread_mutex_unlock", 0, 1 },
	{ "pthread_mutex_init", 0, 0 },
	{ "pthread_mutex_destroy", 0, 0 },
	{ "pthread_rwlock_rdlock", 1, 0 },
	{ "pthread_rwlock_tryrdlock", 1, 0 },
	{ "pthread_rwlock_timedrdlock", 1, 0 },
	{ "pthread_rwlock_clockrdlock", 1, 0 },
	{ "pthread_rwlock_wrlock", 1, 0 },
	{ "pthread_rwlock_trywrlock", 1, 0 },
	{ "pthread_rwlock_timedwrlock", 1, 0 },
	{ "pthread_rwlock_clockwrlock", 1, 0 },
	{ "pthread_rwlock_unlock", 0, 0 },
	{ "pthread_rwlock_init", 0, 0 },
	{ "pthread_rwlock_destroy", 0, 0 },
	{ "pthread_spin_lock", 0, 0, 0, 1 },	/* no return probe: see SPIN_LOCK */
	{ "pthread_spin_trylock", 1, 0 },
	{ "pthread_spin_unlock", 0, 0 },
	{ "pthread_cond_wait", 1, 0, CW_REG_RSI },
	{ "pthread_cond_timedwait", 1, 0, CW_REG_RSI },
	{ "pthread_cond_clockwait", 1, 0, CW_REG_RSI },
	/* last: the probes of bench/floor.c are those before it (cw_bpf_probes__nr) */
	{ "free", 0, 0, .track_free = 1 },
};

#define NR_PROBES (sizeof(probes) / sizeof(probes[0]))

/*
 * glibc's SDT notes for its lock operations (provider "libc", when it was built with
 * --enable-systemtap), and the functions whose uprobes they replace when the file that
 * defines those functions carries all the notes of a group. A note is cheaper than any
 * uprobe placement: it sits on a nop.
 */
static const struct sdt_probe {
	const char *note;	/* libc:NOTE; its program is usdt_NOTE */
	int group;		/* notes of a group replace probes together */
} sdt_probes[] = {
	{ "mutex_entry", 0 }, { "mutex_acquired", 0 },
	{ "mutex_timedlock_entry", 1 }, { "mutex_timedlock_acquired", 1 },
	{ "mutex_release", 2 },
	{ "mutex_init", 3 },
	{ "mutex_destroy", 4 },
	{ "rdlock_entry", 5 }, { "rdlock_acquire_read", 5 },
	{ "wrlock_entry", 6 }, { "wrlock_acquire_write", 6 },
	{ "rwlock_unlock", 7 },
	{ "rwlock_destroy", 8 },
};

#define NR_SDT (sizeof(sdt_probes) / sizeof(sdt_probes[0]))
#define NR_SDT_GROUPS 9

/* The functions each group stands for: in glibc they share the code with the notes. */
static const char *const sdt_covers[NR_SDT_GROUPS][4] = {
	{ "pthread_mutex_lock" },
	{ "pthread_mutex_timedlock", "pthread_mutex_clocklock" },
	{ "pthread_mutex_unlock" },
	{ "pthread_mutex_init" },
	{ "pthread_mutex_destroy" },
	{ "pthread_rwlock_rdlock", "pthread_rwlock_timedrdlock", "pthread_rwlock_clockrdlock" },
	{ "pthread_rwlock_wrlock", "pthread_rwlock_timedwrlock", "pthread_rwlock_clockwrlock" },
	{ "pthread_rwlock_unlock" },
	{ "pthread_rwlock_destroy" },
};

/* Tracepoint programs: futex(2) of the target, kernel lock contention of its threads. */
static const char *const tracepoint_progs[] = {
	"tracepoint__syscalls__sys_enter_futex",
	"tracepoint__syscalls__sys_exit_futex",
	"tracepoint__syscalls__sys_enter_futex_waitv",
	"tracepoint__syscalls__sys_exit_futex_waitv",
	"tp_btf__contention_begin",
	"tp_btf__contention_end",
	"tp_btf__task_newtask",
	"tp_btf__task_rename",
	"tp_btf__sched_process_exit",
};

#define NR_TRACEPOINTS (sizeof(tracepoint_progs) / sizeof(tracepoint_progs[0]))

/* The stack copy buffers of cw_stack.bpf.h: 4 KiB << class, plus a page of slack. */
#define RAW_CLASSES 4
#define RAW_RECORD_BYTES(class) (sizeof(struct cw_ev_ustack_raw) + (4096U << (class)) + 4096)

static const struct cw_source_ops bpf_source_ops;

/* A traced process: its probes, and the module map sent for it. */
struct proc {
	int pid;
	struct bpf_link *links[2 * NR_PROBES];	/* entry, return */
	int mlinks[2 * NR_PROBES];		/* the same as uprobe-multi link fds, or -1 */
	struct bpf_link *sdt_links[NR_SDT];	/* SDT notes used instead of uprobes */
	/* executable mappings sent as CW_EV_MODULE: (start, end ^ inode) -> 1, and their ranges */
	struct cw_index modules_sent;
	struct range {
		__u64 start, end;
	} *ranges;
	size_t nr_ranges, cap_ranges;
	__u64 maps_read_ns;		/* when /proc/PID/maps was last read */
	int maps_read_at_attach;	/* ... and that was at attach: libraries may have come
					 * since (a process attached at its exec maps none) */
};

struct bpf_source {
	struct cw_source base;
	struct cw_bpf_opts opts;
	struct concwatch_bpf *skel;
	struct ring_buffer *rb;
	struct proc **procs;		/* opts.pid first, then those added */
	size_t nr_procs, cap_procs;
	int umulti_type;			/* BPF_TRACE_UPROBE_MULTI, or -1: see links.h */
	struct bpf_link *tp_links[NR_TRACEPOINTS];
	int no_klock;			/* the kernel has no lock:contention_* tracepoints */
	int emulates_push;		/* this kernel emulates push for uprobes */
	int emulates_nopl;		/* ... and multi-byte nops */
	int raw_class;			/* stack copy buffer: 4 KiB << raw_class */

	/* the drain in progress */
	cw_record_fn fn;
	void *ctx;
	int cb_err;
	int delivered;

	struct cw_index named;		/* (pid, tid) of threads already named */

	/* records made up here (thread names at attach), delivered at the next drain */
	struct {
		unsigned char *buf;
		size_t len, cap;
	} synth;
	__u64 tick_seq;
	__u64 next_tick_ns;
	__u64 stopped_ns;		/* when recording stopped; the stream ends there */
	int final_tick_sent;
	__u64 lost_reported[CW_LOST_MAX];
	__u64 malformed;		/* ring buffer records that failed their checks */

	/* lock_sites as last sent, to send the growth each tick */
	struct site_prev {
		struct cw_site_key key;
		struct cw_site_stats v;
	} *sites;
	size_t nr_sites, cap_sites;
	struct cw_index site_ix;	/* (addr, stack_id) -> slot in sites */
	__u64 stats_sent_ns;
	struct cw_source_stats st;
};

static int verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* without -v our own one-line error says what failed; libbpf's detail is noise */
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void set_err(struct bpf_source *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.err, sizeof(s->base.err), fmt, ap);
	va_end(ap);
}

/*
 * Where in the function to probe: on an instruction the kernel emulates, when one runs
 * exactly once per call before anything changes what the programs read (%rdi and the
 * other arguments, %rbp for the frame-pointer walk, %rsp: [%rsp] is the return address
 * both the entry program and the return probe need); else the entry, single-stepped at
 * ten times the cost (PERF-NOTES).
 */
static __u64 place(struct bpf_source *s, const struct probe *p, const struct cw_elf_func *f)
{
	struct cw_placement_req req = {
		.code = f->code,
		.len = f->code ? f->len : 0,
		.addr = f->addr,
		.regs_read = CW_REG_RDI | CW_REG_RBP | p->regs,
		.stack_top = 1,
		.kernel_push_emulated = s->emulates_push,
		.kernel_nopl_emulated = s->emulates_nopl,
	};
	struct cw_placement pl;

	if (!f->code || cw_placement__find(&req, &pl))
		return 0;
	/*
	 * glibc's pthread_spin_lock starts with lock decl, which the kernel refuses to
	 * probe, then jne to its spin loop, which jumps back to the entry. The fall-through
	 * of that jne runs once per call, when the lock is taken: its program records the
	 * acquisition there (SPIN_LOCK in concwatch.bpf.c), without a wait time.
	 */
	if (pl.refused && p->at_success && pl.after_jcc)
		return pl.after_jcc;
	return pl.offset;
}

/* probes.h: the table and place() above, for programs that must probe the same places. */
size_t cw_bpf_probes__nr(void)
{
	return NR_PROBES - 1; /* without free: --track-free is no part of the lock probes */
}

int cw_bpf_probes__get(size_t i, struct cw_probe_info *out)
{
	if (i >= NR_PROBES)
		return -ENOENT;
	*out = (struct cw_probe_info){ probes[i].func, probes[i].ret, probes[i].required };
	return 0;
}

__u64 cw_bpf_probes__offset(size_t i, const struct cw_elf_func *f, int emulates_push,
			    int emulates_nopl)
{
	struct bpf_source s = { .emulates_push = emulates_push, .emulates_nopl = emulates_nopl };

	return i < NR_PROBES ? place(&s, &probes[i], f) : 0;
}

/* A function not probed, for the user's -v: the libc of the target lacks it. */
static void note(struct bpf_source *s, const char *func)
{
	size_t len = strlen(s->base.notes);

	if (strstr(s->base.notes, func))
		return; /* another process of the same libc said it already */
	snprintf(s->base.notes + len, sizeof(s->base.notes) - len, "%s%s",
		 strstr(s->base.notes, "not probed: ") ? ", " :
		 len ? "; not probed: " : "not probed: ", func);
}

static int deliver(struct bpf_source *s, const struct cw_hdr *rec)
{
	int err = s->fn(s->ctx, rec);

	if (err)
		return err;
	s->st.records++;
	s->st.bytes += rec->size;
	s->delivered++;
	return 0;
}

/* Queue a record made up here, to be delivered before anything else at the next drain. */
static int queue_synth(struct bpf_source *s, const struct cw_hdr *rec)
{
	if (s->synth.len + rec->size > s->synth.cap) {
		size_t cap = (s->synth.cap ? s->synth.cap * 2 : 4096) + rec->size;
		unsigned char *p = realloc(s->synth.buf, cap);

		if (!p)
			return -ENOMEM;
		s->synth.buf = p;
		s->synth.cap = cap;
	}
	memcpy(s->synth.buf + s->synth.len, rec, rec->size);
	s->synth.len += rec->size;
	return 0;
}

static int deliver_synth(struct bpf_source *s)
{
	size_t off = 0;
	int err = 0;

	while (off < s->synth.len) {
		const struct cw_hdr *h = (const void *)(s->synth.buf + off);

		err = deliver(s, h);
		if (err)
			break;
		off += h->size;
	}
	/* what was not delivered stays for the next drain */
	memmove(s->synth.buf, s->synth.buf + off, s->synth.len - off);
	s->synth.len -= off;
	return err;
}

/*
 * A COMM record for a thread, from /proc. Marks it named either way: a thread that is
 * gone already stays unnamed rather than being looked up again and again.
 * 1 when *c was filled, 0 when not, -ENOMEM.
 */
static int read_comm(struct bpf_source *s, __u32 pid, __u32 tid, __u64 ts, struct cw_ev_comm *c)
{
	if (cw_index__put(&s->named, pid, tid, 1))
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	if (cw_target__comm(pid, tid, c->comm, sizeof(c->comm)))
		return 0;
	c->hdr = (struct cw_hdr){
		.type = CW_EV_COMM,
		.size = sizeof(*c),
		.cpu = 0xffff,
		.flags = CW_F_SYNTHETIC,
		.ts_ns = ts,
		.pid = pid,
		.tid = tid,
	};
	return 1;
}

/*
 * Name a thread that started after attach the first time it appears, while /proc still
 * has it. FIXME(thread names): a thread that exits before the next drain stays unnamed
 * until fork and task_rename tracepoints name threads as they appear.
 */
static int name_thread(struct bpf_source *s, const struct cw_hdr *h)
{
	struct cw_ev_comm c;
	__u32 dummy;
	int ret;

	if (!h->tid || !cw_index__get(&s->named, h->pid, h->tid, &dummy))
		return 0;
	ret = read_comm(s, h->pid, h->tid, h->ts_ns, &c);
	return ret > 0 ? deliver(s, &c.hdr) : ret;
}

/*
 * Send every executable mapping of the process not sent yet, as CW_EV_MODULE records:
 * queued (at attach) or delivered at once (ahead of a stack that needs them).
 */
static int send_modules(struct bpf_source *s, struct proc *p, __u64 ts, int queue)
{
	struct cw_module_info *mods = NULL;
	size_t nr = 0;
	int err;

	p->maps_read_ns = cw_now_ns();
	err = cw_modules__read(p->pid, &mods, &nr);
	if (err)
		return err == -ESRCH ? 0 : err; /* gone: its stacks stay as they are */
	for (size_t i = 0; i < nr && !err; i++) {
		const struct cw_module_info *m = &mods[i];
		size_t plen = strlen(m->path) + 1;
		struct cw_ev_module *e;
		struct range *r;
		__u32 dummy;

		if (!cw_index__get(&p->modules_sent, m->start, m->end ^ m->inode, &dummy))
			continue;
		if (cw_index__put(&p->modules_sent, m->start, m->end ^ m->inode, 1)) {
			err = -ENOMEM;
			break;
		}
		if (p->nr_ranges == p->cap_ranges) {
			size_t cap = p->cap_ranges ? p->cap_ranges * 2 : 64;

			r = realloc(p->ranges, cap * sizeof(*r));
			if (!r) {
				err = -ENOMEM;
				break;
			}
			p->ranges = r;
			p->cap_ranges = cap;
		}
		p->ranges[p->nr_ranges++] = (struct range){ m->start, m->end };

		e = calloc(1, sizeof(*e) + CW_RECORD_ALIGN(plen));
		if (!e) {
			err = -ENOMEM;
			break;
		}
		e->hdr = (struct cw_hdr){
			.type = CW_EV_MODULE,
			.size = sizeof(*e) + CW_RECORD_ALIGN(plen),
			.cpu = 0xffff,
			.flags = CW_F_SYNTHETIC,
			.ts_ns = ts,
			.pid = p->pid,
		};
		e->start = m->start;
		e->end = m->end;
		e->pgoff = m->pgoff;
		e->inode = m->inode;
		e->dev = m->dev;
		e->build_id_len = m->build_id_len;
		memcpy(e->build_id, m->build_id, sizeof(e->build_id));
		e->flags = m->deleted ? CW_MODULE_DELETED : 0;
		e->path_len = plen;
		memcpy(e->path, m->path, plen);
		err = queue ? queue_synth(s, &e->hdr) : deliver(s, &e->hdr);
		free(e);
	}
	free(mods);
	return err;
}

static int covered(const struct proc *p, __u64 addr)
{
	for (size_t i = 0; i < p->nr_ranges; i++)
		if (addr >= p->ranges[i].start && addr < p->ranges[i].end)
			return 1;
	return 0;
}

static struct proc *find_proc(const struct bpf_source *s, int pid)
{
	for (size_t i = 0; i < s->nr_procs; i++)
		if (s->procs[i]->pid == pid)
			return s->procs[i];
	return NULL;
}

/*
 * A user stack names an address no module sent covers: the process mapped code since
 * (dlopen, exec). Read its maps again, at most once a tick (an address in anonymous
 * memory, JIT code say, stays uncovered however often we look).
 */
static int modules_for_stack(struct bpf_source *s, const struct cw_hdr *h)
{
	const struct cw_ev_stack *st = (const void *)h;
	struct proc *p;
	int missing = 0;

	if (h->type != CW_EV_USTACK_RAW && h->type != CW_EV_STACK)
		return 0;
	p = find_proc(s, h->pid);
	if (!p)
		return 0; /* no longer traced: its map is what was sent */
	if (h->type == CW_EV_USTACK_RAW)
		missing = !covered(p, ((const struct cw_ev_ustack_raw *)h)->ip);
	else if (st->space == CW_STACK_USER)
		for (__u32 i = 0; i < st->nr && !missing; i++)
			missing = !covered(p, st->ips[i]);
	if (!missing || (!p->maps_read_at_attach && cw_now_ns() - p->maps_read_ns < s->opts.tick_ns))
		return 0;
	p->maps_read_at_attach = 0;
	return send_modules(s, p, h->ts_ns, 0);
}

/* Name every thread alive at attach, before tracing starts. */
static int snapshot_threads(struct bpf_source *s, int pid)
{
	__u64 ts = cw_now_ns();
	size_t nr = 0;
	int *tids, ret = 0;

	ret = cw_target__threads(pid, &tids, &nr);
	if (ret)
		return ret == -ESRCH ? 0 : ret;
	for (size_t i = 0; i < nr && ret >= 0; i++) {
		struct cw_ev_comm c;

		ret = read_comm(s, pid, tids[i], ts, &c);
		if (ret > 0)
			ret = queue_synth(s, &c.hdr);
	}
	free(tids);
	return ret < 0 ? ret : 0;
}

static int ringbuf_record(void *ctx, void *data, size_t size)
{
	const struct cw_hdr *h = data;
	struct bpf_source *s = ctx;
	int err;

	err = cw_record__check(h, size);
	if (err && err != -ENOENT) {
		/* our own programs wrote it: a bug, but never fatal, and never silent */
		s->malformed++;
		return 0;
	}
	err = name_thread(s, h);
	if (!err)
		err = modules_for_stack(s, h);
	if (!err)
		err = deliver(s, h);
	if (err) {
		s->cb_err = err;
		return -1; /* stops ring_buffer__consume() */
	}
	return 0;
}

static int emit_lost(struct bpf_source *s, __u32 what, __u64 total, __u64 ts)
{
	struct cw_ev_lost l = {};

	if (total <= s->lost_reported[what])
		return 0;
	l.hdr = (struct cw_hdr){ .type = CW_EV_LOST, .size = sizeof(l), .cpu = 0xffff, .ts_ns = ts };
	l.count = total - s->lost_reported[what];
	l.what = what;
	s->lost_reported[what] = total;
	s->st.lost[what] += l.count;
	return deliver(s, &l.hdr);
}

static struct site_prev *site_prev(struct bpf_source *s, const struct cw_site_key *k)
{
	struct site_prev *p;
	__u32 slot;

	if (!cw_index__get(&s->site_ix, k->addr, k->stack_id, &slot) &&
	    s->sites[slot].key.tgid == k->tgid)
		return &s->sites[slot];
	if (s->nr_sites == s->cap_sites) {
		size_t cap = s->cap_sites ? s->cap_sites * 2 : 256;

		p = realloc(s->sites, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->sites = p;
		s->cap_sites = cap;
	}
	p = &s->sites[s->nr_sites];
	memset(p, 0, sizeof(*p));
	p->key = *k;
	if (cw_index__put(&s->site_ix, k->addr, k->stack_id, s->nr_sites))
		return NULL;
	s->nr_sites++;
	return p;
}

/*
 * The statistics the programs aggregate per (lock, call path), as CW_EV_LOCK_STATS
 * records of what grew since the last ones: the hot path sent nothing for them.
 */
static int send_lock_stats(struct bpf_source *s, __u64 now)
{
	int fd = bpf_map__fd(s->skel->maps.lock_sites), have = 0, err = 0;
	struct cw_site_key key, next;
	struct cw_site_stats v;

	while (!err && !bpf_map_get_next_key(fd, have ? &key : NULL, &next)) {
		struct cw_ev_lock_stats e = {};
		struct site_prev *p;

		key = next;
		have = 1;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue; /* deleted meanwhile */
		p = site_prev(s, &key);
		if (!p)
			return -ENOMEM;
		if (v.acquisitions == p->v.acquisitions && v.hold_ns_total == p->v.hold_ns_total)
			continue;
		e.hdr = (struct cw_hdr){ .type = CW_EV_LOCK_STATS, .size = sizeof(e), .cpu = 0xffff,
					 .flags = CW_F_AGGREGATED, .ts_ns = now, .pid = key.tgid };
		e.addr = key.addr;
		e.ip = v.ip;
		e.interval_ns = now - (s->stats_sent_ns ? s->stats_sent_ns : now);
		e.acquisitions = v.acquisitions - p->v.acquisitions;
		e.contentions = v.contentions - p->v.contentions;
		e.wait_ns_total = v.wait_ns_total - p->v.wait_ns_total;
		e.wait_ns_max = v.wait_ns_max;
		e.hold_ns_total = v.hold_ns_total - p->v.hold_ns_total;
		e.hold_ns_max = v.hold_ns_max;
		e.stack_id = key.stack_id;
		e.kind = v.kind;
		p->v = v;
		err = deliver(s, &e.hdr);
	}
	s->stats_sent_ns = now;
	return err;
}

static int bpf_source_drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	struct bpf_source *s = (struct bpf_source *)src;
	__u64 now;
	int err;

	s->fn = fn;
	s->ctx = ctx;
	s->cb_err = 0;
	s->delivered = 0;
	err = deliver_synth(s);
	if (err)
		return err;
	err = ring_buffer__consume(s->rb);
	if (s->cb_err)
		return s->cb_err;
	if (err < 0) {
		set_err(s, "failed to read the ring buffer: %s", strerror(-err));
		return err;
	}

	/* after stop, nothing newer than the stop can have been recorded */
	now = s->stopped_ns ? s->stopped_ns : cw_now_ns();
	err = emit_lost(s, CW_LOST_RINGBUF, s->skel->bss->lost_ringbuf, now);
	if (!err)
		err = emit_lost(s, CW_LOST_MAP_FULL, s->skel->bss->lost_map_full, now);
	if (!err)
		err = emit_lost(s, CW_LOST_STACK, s->skel->bss->lost_stack, now);
	if (!err)
		err = emit_lost(s, CW_LOST_HELD_OVERFLOW, s->skel->bss->lost_held_overflow, now);
	if (!err)
		err = send_lock_stats(s, now);
	if (!err)
		err = emit_lost(s, CW_LOST_MALFORMED, s->malformed, now);
	if (err)
		return err;

	if (now >= s->next_tick_ns || (s->stopped_ns && !s->final_tick_sent)) {
		struct cw_ev_tick t = {};

		t.hdr = (struct cw_hdr){ .type = CW_EV_TICK, .size = sizeof(t), .cpu = 0xffff, .ts_ns = now };
		t.seq = s->tick_seq++;
		t.interval_ns = s->opts.tick_ns;
		err = deliver(s, &t.hdr);
		if (err)
			return err;
		s->st.ticks++;
		s->next_tick_ns = now + s->opts.tick_ns;
		s->final_tick_sent = s->stopped_ns != 0;
	}
	return s->delivered;
}

/* Which mapped objects may define the probed functions, in the dynamic linker's lookup order. */
static int object_rank(const struct cw_object *o)
{
	const char *base = strrchr(o->path, '/') ? strrchr(o->path, '/') + 1 : o->path;

	if (o->is_main)
		return 0; /* a static build */
	if (!strncmp(base, "libpthread", 10))
		return 1; /* glibc < 2.34 */
	if (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5))
		return 2;
	return -1;
}

#define MAX_CANDIDATES 3

struct candidate {
	const struct cw_object *obj;
	struct cw_elf *elf;
};

/* Open the candidate objects once, best first; *nr of them. */
static int open_candidates(struct bpf_source *s, const struct cw_object *objs, size_t nr,
			   struct candidate *c, size_t *nc)
{
	*nc = 0;
	for (int rank = 0; rank <= 2; rank++) {
		for (size_t i = 0; i < nr && *nc < MAX_CANDIDATES; i++) {
			int err;

			if (object_rank(&objs[i]) != rank)
				continue;
			err = cw_elf__open(objs[i].host_path, &c[*nc].elf);
			if (err) {
				set_err(s, "failed to read %s: %s", objs[i].host_path, strerror(-err));
				return err;
			}
			c[(*nc)++].obj = &objs[i];
		}
	}
	return 0;
}

/* Whether function func of p is probed through SDT notes instead of uprobes. */
static int sdt_covered(const struct proc *p, const char *func)
{
	for (size_t g = 0; g < NR_SDT_GROUPS; g++) {
		int all = 1, any = 0;

		for (size_t i = 0; i < NR_SDT; i++) {
			if (sdt_probes[i].group != (int)g)
				continue;
			all &= p->sdt_links[i] != NULL;
			any = 1;
		}
		for (size_t k = 0; all && any && k < 4 && sdt_covers[g][k]; k++)
			if (!strcmp(sdt_covers[g][k], func))
				return 1;
	}
	return 0;
}

/*
 * Attach the SDT notes of the file that defines pthread_mutex_lock (libc, or
 * libpthread or the executable), by whole groups: a group half there is left to the
 * uprobes. Which were used is said with -v.
 */
static int attach_sdt(struct bpf_source *s, struct proc *p, const struct candidate *cands,
		      size_t nc)
{
	const struct candidate *c = NULL;
	struct cw_elf_func f;
	char used[256] = "";

	for (size_t k = 0; k < nc && !c; k++)
		if (!cw_elf__func(cands[k].elf, "pthread_mutex_lock", &f))
			c = &cands[k];
	if (!c)
		return 0;
	for (size_t g = 0; g < NR_SDT_GROUPS; g++) {
		int all = 1;

		for (size_t i = 0; i < NR_SDT && all; i++)
			if (sdt_probes[i].group == (int)g)
				all = cw_elf__has_sdt(c->elf, "libc", sdt_probes[i].note);
		for (size_t i = 0; i < NR_SDT && all; i++) {
			LIBBPF_OPTS(bpf_usdt_opts, uo);
			char name[64];
			struct bpf_program *prog;
			size_t len = strlen(used);
			int ra;

			if (sdt_probes[i].group != (int)g)
				continue;
			snprintf(name, sizeof(name), "usdt_%s", sdt_probes[i].note);
			prog = bpf_object__find_program_by_name(s->skel->obj, name);
			if (!prog) {
				set_err(s, "BPF object has no program %s (build mismatch)", name);
				return -ENOENT;
			}
			ra = cw_sdt__return_offset(c->obj->host_path, "libc", sdt_probes[i].note);
			uo.usdt_cookie = ra >= 0 ? ra + 1 : 0;
			p->sdt_links[i] = bpf_program__attach_usdt(prog, p->pid, c->obj->host_path,
								   "libc", sdt_probes[i].note, &uo);
			if (!p->sdt_links[i]) {
				/* the uprobes take over the group */
				for (size_t k = 0; k < NR_SDT; k++)
					if (sdt_probes[k].group == (int)g) {
						bpf_link__destroy(p->sdt_links[k]);
						p->sdt_links[k] = NULL;
					}
				all = 0;
				used[len] = '\0';
				break;
			}
			snprintf(used + len, sizeof(used) - len, "%s%s", len ? ", " : "",
				 sdt_probes[i].note);
		}
	}
	if (used[0] && !strstr(s->base.notes, "SDT notes")) {
		size_t len = strlen(s->base.notes);

		snprintf(s->base.notes + len, sizeof(s->base.notes) - len,
			 "%sat the SDT notes of %s: libc:{%s}", len ? "; " : "", c->obj->path, used);
	}
	return 0;
}

/* Why a uprobe could not be attached, in the user's words. */
static const char *probe_error(int err)
{
	/* ENOTSUPP, which strerror() does not know: the kernel refused the instruction */
	if (err == 524)
		return "the kernel cannot place a uprobe on its instruction";
	return strerror(err);
}

/* Attach every probe to process p, at the places its own libc (or executable) has them. */
static int attach(struct bpf_source *s, struct proc *p)
{
	struct candidate cands[MAX_CANDIDATES];
	struct cw_object *objs = NULL;
	size_t nr = 0, nc = 0;
	int err;

	err = cw_target__objects(p->pid, &objs, &nr);
	if (err == -ESRCH) {
		set_err(s, "no such process: %d", p->pid);
		return err;
	}
	if (!err)
		err = cw_target__libs_to_come(p->pid, &objs, &nr);
	if (err) {
		free(objs);
		set_err(s, "failed to read the maps of %d: %s", p->pid, strerror(-err));
		return err;
	}
	err = open_candidates(s, objs, nr, cands, &nc);
	if (!err)
		err = attach_sdt(s, p, cands, nc);
	for (size_t i = 0; !err && i < NR_PROBES; i++) {
		const struct probe *pr = &probes[i];
		const struct cw_object *obj = NULL;
		struct cw_elf_func f;
		__u64 off;

		if (pr->track_free && !s->opts.track_free)
			continue;
		if (sdt_covered(p, pr->func))
			continue;
		for (size_t k = 0; k < nc && !obj; k++)
			if (!cw_elf__func(cands[k].elf, pr->func, &f))
				obj = cands[k].obj;
		if (!obj && pr->required) {
			err = -ENOENT;
			set_err(s, "process %d maps no libc, libpthread or executable defining %s",
				p->pid, pr->func);
			break;
		}
		if (!obj) {
			char why[128];

			snprintf(why, sizeof(why), "%s (not in the target's libc)", pr->func);
			note(s, why);
			continue;
		}
		off = f.offset + place(s, pr, &f);
		for (int ret = 0; ret <= pr->ret && !err; ret++) {
			char name[64];
			struct bpf_program *prog;
			struct bpf_link **link = &p->links[2 * i + ret];
			int ok;

			snprintf(name, sizeof(name), "%s_%s", ret ? "uretprobe" : "uprobe", pr->func);
			prog = bpf_object__find_program_by_name(s->skel->obj, name);
			if (!prog) {
				err = -ENOENT;
				set_err(s, "BPF object has no program %s (build mismatch)", name);
				break;
			}
			if (s->umulti_type >= 0) {
				int fd = cw_uprobe_multi_attach(bpf_program__fd(prog), s->umulti_type,
								obj->host_path, off, ret, p->pid);

				p->mlinks[2 * i + ret] = fd;
				ok = fd >= 0;
				errno = -fd;
			} else {
				*link = bpf_program__attach_uprobe(prog, ret, p->pid,
								   obj->host_path, off);
				ok = *link != NULL;
			}
			if (!ok && !pr->required) {
				/* e.g. a lock-prefixed first instruction: uprobes refuse those */
				char why[128];

				snprintf(why, sizeof(why), "%s (cannot probe it: %s)", pr->func,
					 probe_error(errno));
				note(s, why);
				cw_links_destroy(&p->links[2 * i], 1, &p->mlinks[2 * i], 1);
				break;
			}
			if (!ok) {
				err = -errno;
				set_err(s, "failed to attach %s to %s:%s: %s",
					ret ? "uretprobe" : "uprobe", obj->path, pr->func, strerror(-err));
			}
		}
	}
	for (size_t k = 0; k < nc; k++)
		cw_elf__close(cands[k].elf);
	free(objs);
	return err;
}

/* The tracepoints: system-wide, attached once; their programs look for targets. */
static int attach_tracepoints(struct bpf_source *s)
{
	int err = 0;

	for (size_t i = 0; !err && i < NR_TRACEPOINTS; i++) {
		struct bpf_program *prog;

		prog = bpf_object__find_program_by_name(s->skel->obj, tracepoint_progs[i]);
		if (!prog) {
			err = -ENOENT;
			set_err(s, "BPF object has no program %s (build mismatch)", tracepoint_progs[i]);
			break;
		}
		if (!bpf_program__autoload(prog))
			continue; /* left out at load: see klock_available() */
		s->tp_links[i] = bpf_program__attach(prog);
		if (!s->tp_links[i]) {
			err = -errno;
			set_err(s, "failed to attach %s: %s", bpf_program__section_name(prog),
				strerror(-err));
		}
	}
	return err;
}

/*
 * lock:contention_begin/end arrived in Linux 5.19. Without them concwatch still traces
 * everything else: their programs are left out rather than failing the load.
 */
static int klock_available(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int found;

	if (!btf)
		return 1; /* cannot tell: let the load say */
	found = btf__find_by_name_kind(btf, "btf_trace_contention_begin", BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return found;
}

/*
 * libbpf attaches syscall tracepoints through tracefs. A fresh system may have it
 * unmounted: then mount it in a mount namespace of our own, changing nothing for
 * anyone else. (A process with threads cannot unshare its mount namespace: concwatch
 * opens its source before it starts any.)
 */
static int ensure_tracefs(struct bpf_source *s)
{
	if (!access("/sys/kernel/tracing/events/syscalls", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events/syscalls", F_OK))
		return 0;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL)) {
		int err = -errno;

		set_err(s, "tracefs is not mounted at /sys/kernel/tracing and mounting it failed: %s",
			strerror(-err));
		return err;
	}
	return 0;
}

/* Load every uprobe program for uprobe-multi links: see links.h. */
static void set_umulti(struct bpf_source *s)
{
	for (size_t i = 0; i < NR_PROBES; i++) {
		for (int ret = 0; ret <= probes[i].ret; ret++) {
			char name[64];
			struct bpf_program *prog;

			snprintf(name, sizeof(name), "%s_%s", ret ? "uretprobe" : "uprobe",
				 probes[i].func);
			prog = bpf_object__find_program_by_name(s->skel->obj, name);
			if (prog)
				bpf_program__set_expected_attach_type(prog, s->umulti_type);
		}
	}
}

static void proc_free(struct proc *p)
{
	if (!p)
		return;
	cw_links_destroy(p->links, 2 * NR_PROBES, p->mlinks, 2 * NR_PROBES);
	cw_links_destroy(p->sdt_links, NR_SDT, NULL, 0);
	cw_index__fini(&p->modules_sent);
	free(p->ranges);
	free(p);
}

/* Trace one more process: probes, thread names, module map, then the targets map. */
static int add_process(struct bpf_source *s, int pid)
{
	__u32 tgid = pid;
	__u8 one = 1;
	struct proc *p, **v;
	int err;

	if (find_proc(s, pid))
		return 0;
	if (s->nr_procs == s->cap_procs) {
		size_t cap = s->cap_procs ? s->cap_procs * 2 : 4;

		v = realloc(s->procs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->procs = v;
		s->cap_procs = cap;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	for (size_t i = 0; i < 2 * NR_PROBES; i++)
		p->mlinks[i] = -1;
	err = attach(s, p);
	if (!err)
		err = snapshot_threads(s, pid);
	if (!err)
		err = send_modules(s, p, cw_now_ns(), 1);
	p->maps_read_at_attach = 1;
	if (err) {
		if (!s->base.err[0])
			set_err(s, "failed to read the threads and maps of %d: %s", pid,
				strerror(-err));
		proc_free(p);
		return err;
	}
	/*
	 * Attaching takes a while per probe. Tracing starts only now, for every probe at
	 * once, so no operation is seen by its entry probe but not its return probe.
	 */
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.targets), &tgid, &one, BPF_ANY)) {
		err = -errno;
		set_err(s, "failed to add %d to the targets map: %s", pid, strerror(-err));
		proc_free(p);
		return err;
	}
	s->procs[s->nr_procs++] = p;
	return 0;
}

int cw_bpf_source__add_process(struct cw_source *src, int pid)
{
	struct bpf_source *s = (struct bpf_source *)src;

	if (src->ops != &bpf_source_ops || !s->skel || s->stopped_ns)
		return -EINVAL;
	s->base.err[0] = '\0';
	return add_process(s, pid);
}

int cw_bpf_source__refresh_modules(struct cw_source *src, int pid)
{
	struct bpf_source *s = (struct bpf_source *)src;
	struct proc *p;

	if (src->ops != &bpf_source_ops)
		return -EINVAL;
	p = find_proc(s, pid);
	return p ? send_modules(s, p, cw_now_ns(), 1) : -ENOENT;
}

int cw_bpf_source__remove_process(struct cw_source *src, int pid)
{
	struct bpf_source *s = (struct bpf_source *)src;
	__u32 tgid = pid;

	if (src->ops != &bpf_source_ops)
		return -EINVAL;
	for (size_t i = 0; i < s->nr_procs; i++) {
		if (s->procs[i]->pid != pid)
			continue;
		bpf_map_delete_elem(bpf_map__fd(s->skel->maps.targets), &tgid);
		proc_free(s->procs[i]);
		memmove(&s->procs[i], &s->procs[i + 1], (s->nr_procs - i - 1) * sizeof(*s->procs));
		s->nr_procs--;
		return 0;
	}
	return -ENOENT;
}

static int bpf_source_start(struct cw_source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;
	int err;

	err = cw_target__check(s->opts.pid);
	if (err) {
		set_err(s, "no such process: %d", s->opts.pid);
		return err;
	}
	err = ensure_tracefs(s);
	if (err)
		return err;

	s->skel = concwatch_bpf__open();
	if (!s->skel) {
		err = -errno;
		set_err(s, "failed to open the BPF object: %s", strerror(-err));
		return err;
	}
	s->skel->rodata->wakeup_bytes = s->opts.ringbuf_bytes / 4;
	s->skel->rodata->stack_bytes = s->opts.stack_bytes;
	s->skel->rodata->raw_class = s->raw_class;
	s->skel->rodata->raw_events = s->opts.raw_events;
	s->skel->rodata->track_free = s->opts.track_free;
	/* loaded only when asked for: nothing of it to verify otherwise */
	if (!s->opts.track_free)
		bpf_program__set_autoload(s->skel->progs.uprobe_free, false);
	bpf_map__set_max_entries(s->skel->maps.held_sets, s->opts.max_threads);
	if (!klock_available()) {
		s->no_klock = 1;
		bpf_program__set_autoload(s->skel->progs.tp_btf__contention_begin, false);
		bpf_program__set_autoload(s->skel->progs.tp_btf__contention_end, false);
	}
	bpf_map__set_max_entries(s->skel->maps.events, s->opts.ringbuf_bytes);
	bpf_map__set_max_entries(s->skel->maps.pending_locks, s->opts.max_threads);
	bpf_map__set_max_entries(s->skel->maps.pending_futexes, s->opts.max_threads);
	bpf_map__set_max_entries(s->skel->maps.pending_klocks, s->opts.max_threads);

	s->umulti_type = cw_uprobe_multi_type();
	if (s->umulti_type >= 0)
		set_umulti(s);
	err = concwatch_bpf__load(s->skel);
	if (err) {
		/* the verifier's rejections come back as EACCES too: only EPERM is privilege */
		if (err == -EPERM)
			set_err(s, "not permitted to load BPF programs: run as root");
		else
			set_err(s, "failed to load the BPF programs: %s (-vv shows libbpf's log)",
				strerror(-err));
		return err;
	}
	s->emulates_push = cw_placement__kernel_emulates_push() > 0;
	s->emulates_nopl = cw_placement__kernel_emulates_nopl() > 0;
	err = attach_tracepoints(s);
	if (!err && !s->opts.defer_pid)
		err = add_process(s, s->opts.pid);
	if (err)
		return err;

	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), ringbuf_record, s, NULL);
	if (!s->rb) {
		err = -errno;
		set_err(s, "failed to open the ring buffer: %s", strerror(-err));
		return err;
	}
	s->next_tick_ns = cw_now_ns();
	return 0;
}

static int bpf_source_fd(struct cw_source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;

	return s->rb ? ring_buffer__epoll_fd(s->rb) : -1;
}

static int bpf_source_stop(struct cw_source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;
	size_t n = s->nr_procs * 2 * NR_PROBES;
	struct bpf_link **links;
	int *fds;

	/*
	 * Stop every probe at once before detaching: each detach waits for a grace period
	 * (~0.1 s here), and probes still attached would record halves of operations.
	 */
	if (s->skel && !s->stopped_ns) {
		for (size_t i = 0; i < s->nr_procs; i++) {
			__u32 tgid = s->procs[i]->pid;

			bpf_map_delete_elem(bpf_map__fd(s->skel->maps.targets), &tgid);
		}
		s->stopped_ns = cw_now_ns();
	}
	/* every process's links in one go, so their waits overlap */
	links = calloc(n ? n : 1, sizeof(*links));
	fds = calloc(n ? n : 1, sizeof(*fds));
	if (links && fds) {
		for (size_t i = 0; i < s->nr_procs; i++) {
			memcpy(&links[i * 2 * NR_PROBES], s->procs[i]->links,
			       sizeof(s->procs[i]->links));
			memcpy(&fds[i * 2 * NR_PROBES], s->procs[i]->mlinks,
			       sizeof(s->procs[i]->mlinks));
			memset(s->procs[i]->links, 0, sizeof(s->procs[i]->links));
			memset(s->procs[i]->mlinks, -1, sizeof(s->procs[i]->mlinks));
		}
		cw_links_destroy(links, n, fds, n);
	}
	free(links);
	free(fds);
	/* out of memory above: one process after another */
	for (size_t i = 0; i < s->nr_procs; i++) {
		cw_links_destroy(s->procs[i]->links, 2 * NR_PROBES, s->procs[i]->mlinks,
				 2 * NR_PROBES);
		cw_links_destroy(s->procs[i]->sdt_links, NR_SDT, NULL, 0);
	}
	cw_links_destroy(s->tp_links, NR_TRACEPOINTS, NULL, 0);
	return 0;
}

static void bpf_source_stats(struct cw_source *src, struct cw_source_stats *st)
{
	*st = ((struct bpf_source *)src)->st;
}

static void bpf_source_free(struct cw_source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;

	bpf_source_stop(src);
	ring_buffer__free(s->rb);
	concwatch_bpf__destroy(s->skel);
	cw_index__fini(&s->named);
	free(s->synth.buf);
	for (size_t i = 0; i < s->nr_procs; i++)
		proc_free(s->procs[i]);
	free(s->procs);
	free(s->sites);
	cw_index__fini(&s->site_ix);
	free(s);
}

static const struct cw_source_ops bpf_source_ops = {
	.name = "bpf",
	.start = bpf_source_start,
	.fd = bpf_source_fd,
	.drain = bpf_source_drain,
	.stop = bpf_source_stop,
	.stats = bpf_source_stats,
	.free = bpf_source_free,
};

int cw_bpf_source__new(const struct cw_bpf_opts *opts, struct cw_source **out)
{
	struct bpf_source *s;
	size_t rb;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &bpf_source_ops;
	s->opts = *opts;
	s->umulti_type = -1;
	rb = opts->ringbuf_bytes ? opts->ringbuf_bytes : DEFAULT_RINGBUF_BYTES;
	if (rb < (size_t)getpagesize() || (rb & (rb - 1))) {
		free(s);
		return -EINVAL;
	}
	s->opts.ringbuf_bytes = rb;
	if (!s->opts.tick_ns)
		s->opts.tick_ns = DEFAULT_TICK_NS;
	if (!s->opts.max_threads)
		s->opts.max_threads = DEFAULT_MAX_THREADS;
	if (!s->opts.stack_bytes)
		s->opts.stack_bytes = DEFAULT_STACK_BYTES;
	if (s->opts.stack_bytes < 0)
		s->opts.stack_bytes = 0; /* no raw copies: the frame-pointer stacks only */
	if (s->opts.stack_bytes > MAX_STACK_BYTES || s->opts.stack_bytes % 8) {
		free(s);
		return -EINVAL;
	}
	while (s->raw_class < RAW_CLASSES - 1 && (4096 << s->raw_class) < s->opts.stack_bytes)
		s->raw_class++;
	/* room for a few stack copies at once, or every first sighting would be lost */
	if (s->opts.stack_bytes && rb < 8 * RAW_RECORD_BYTES(s->raw_class)) {
		free(s);
		return -ENOSPC;
	}
	verbose = opts->verbose;
	libbpf_set_print(libbpf_print);
	*out = &s->base;
	return 0;
}
