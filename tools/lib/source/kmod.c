// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel-module source: the records of /dev/concwatch (kmod/; what the two agree on
 * besides the records is include/concwatch/kmod.h), handed on as the module wrote them
 * or summed as the BPF programs sum them.
 * What every backend does the same way (counting, ticks, lost records, thread names,
 * module maps) comes from emit.h and procinfo.h. The choices that are its own, and why:
 *
 * - Lock calls: unless --no-uprobes, the same uprobes as the BPF source's, at the same
 *   places (probes.h: the table and the placement; uprobes.h: the files, chosen as the
 *   dynamic linker would among what /proc/PID/maps lists, reached through /proc/PID/root),
 *   each with the shape of the BPF program it stands for (cw_kmod_probe_shape()). The
 *   module probes a file, not a process, and lets only its target set take the trap: a
 *   place is asked for once (the same inode and offset, whichever process maps it), each
 *   library opened once per process and closed after the ioctls, since the module holds
 *   its own reference. Functions missing or refused are said as the BPF source says
 *   them. No SDT notes: the module has no USDT handlers, and the uprobes cover the same
 *   functions. No free(): --track-free is refused at open. A process whose libc the
 *   module cannot probe is not traced (its error), as under BPF; the module lacking the
 *   class (a kernel without uprobes, or an older module) fails the open with a hint to
 *   use --no-uprobes, so that ticks without CW_F_NO_UPROBES always mean lock calls.
 * - Records per operation, summed here: the module runs the lock rules, sends each new
 *   dependency, each blocked acquire, init and destroy and each new call path, and every
 *   lock, futex and kernel-lock operation; it keeps no statistics. What the BPF programs
 *   count in lock_sites is counted here from those records, with the same keys and the
 *   same rules, and sent each tick as CW_EV_LOCK_STATS (site_sum(), hashed: one lookup
 *   a record); the per-operation records go on only when asked for (raw_events,
 *   timeline), and then, as under BPF, the lock operations are not summed: the engine
 *   counts them itself, and would count them twice. A failed attempt's record names
 *   the holder its lock word said (addr2), which CW_SITE_TRY's owner_tid carries on.
 * - The threads' scheduling figures (thread_stats under BPF) are made from the switch,
 *   wakeup and lock records by kmod_sched.c, in each thread's time order, and sent each
 *   tick as CW_EV_THREAD_STATS; the switches and wakeups go on as they are.
 * - read() returns whole records from per-CPU rings, each ring in time order, the rings
 *   not with each other. The session's reorder window merges them, and it lets records
 *   go only after every source was drained: the order within one drain does not matter
 *   (but to the scheduling figures, which kmod_sched.c orders itself).
 * - A drain reads for a quarter of a tick at most while tracing goes on, for the reason
 *   bpf/stream.c gives: a target keeping every CPU busy fills the rings as fast as one
 *   reader empties them, and the session's deadline and ticks would wait for the drain.
 *   What is left keeps the device readable, so the session's poll returns at once for
 *   it. After stop the module writes nothing more: the last drain reads everything.
 * - Each record's framing is checked (a whole header, a multiple of 8 bytes, within what
 *   the read returned), then its content (cw_record__check()). A record breaking the
 *   framing leaves nothing after it in that read to trust: the rest is dropped, counted
 *   as one CW_LOST_MALFORMED, and the next read starts at a record again, since the
 *   module returns whole ones. A well-framed record failing its checks is dropped alone.
 *   The module is our own code: a bug, but never fatal, and never silent.
 * - The module's losses: a full ring's come in the stream as a CW_EV_LOST carrying the
 *   ring's CPU, handed on as they are; the others only in CW_KMOD_STATS, read each tick
 *   and sent as the BPF source sends its own of the same kind: calls in progress its
 *   thread table had no room for as CW_LOST_MAP_FULL, locks a held set had no room for
 *   as CW_LOST_HELD_OVERFLOW, user stacks not read as CW_LOST_STACK.
 * - Targets: -p PID with the processes it forks from then on (CW_KMOD_T_CHILDREN): the
 *   module adds them as they are forked, before they run. run's processes one at a time
 *   without the flag: follow.c adds each child itself, held at its fork. Probes are
 *   placed for the processes added here: a child of -p PID that execs a program with
 *   another libc (a static one, another root) takes no trap in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <concwatch/kmod.h>
#include <concwatch/lockrules.h>

#include "common/array.h"
#include "engine/index.h"
#include "source/emit.h"
#include "source/kmod.h"
#include "source/kmod_sched.h"
#include "source/placement.h"
#include "source/probes.h"
#include "source/procinfo.h"
#include "source/source.h"
#include "source/target.h"
#include "source/uprobes.h"

#define DEFAULT_TICK_NS 100000000ULL
#define DEFAULT_STACK_BYTES 16384	/* the BPF source's */

_Static_assert(CW_KMOD_READ_BYTES >= CW_RECORD_MAX, "a read must hold the longest record");
_Static_assert(CW_KMOD_READ_BYTES % 8 == 0, "records are 8-byte aligned in the buffer");

/* A traced process: the module map sent for it. */
struct kproc {
	struct cw_proc_maps maps;	/* maps.pid: the process */
};

struct kmod_source {
	struct cw_source base;
	struct cw_source_opts opts;	/* defaults filled in */
	int fd;				/* /dev/concwatch, or what stands in for it */
	int device;			/* fd is the device: the ioctls apply */
	struct cw_kmod_info info;	/* what the module said at open */
	int started;			/* CW_KMOD_START went through */
	int quiet;			/* stopped, and the module writes nothing more */
	__u64 stopped_ns;		/* when tracing stopped; the stream ends there */
	unsigned char *buf;		/* CW_KMOD_READ_BYTES, for read() */

	struct kproc **procs;		/* opts.pid first (if any), then those added */
	size_t nr_procs, cap_procs;

	struct cw_emit emit;		/* records handed on, made up, counted */
	struct cw_thread_names names;
	__u64 malformed;		/* records that failed their checks */

	int emulates_push;		/* this kernel emulates push for uprobes */
	int emulates_nopl;		/* ... and multi-byte nops */
	struct kplace *placed;		/* the probes asked of the module */
	size_t nr_placed, cap_placed;

	struct site_sum *sums;		/* lock operations and waits summed (site_sum()) */
	size_t nr_sums, cap_sums;
	struct cw_index path_ix;	/* (addr, stack_id) -> path number */
	__u32 nr_paths;
	struct cw_index sum_ix;		/* (pid << 32 | tid, path << 32 | what) -> slot in sums */
	__u64 sums_sent_ns;		/* when they were last sent */

	struct cw_kmod_sched *sched;	/* the threads' scheduling figures */
};

/* A site's operations since the last tick, as the BPF programs key them in lock_sites. */
struct site_sum {
	struct cw_ev_lock_stats st;	/* the record it sends, counting from zero each tick */
	int grew;			/* something to send */
};

/* A probe the module has: a file's inode and an offset in it, with its handler. */
struct kplace {
	dev_t dev;
	ino_t ino;
	__u64 offset;
	__u32 shape;
};

static void __attribute__((format(printf, 2, 3))) set_err(struct kmod_source *s,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.err, sizeof(s->base.err), fmt, ap);
	va_end(ap);
}

/* Every operation asked for as a record: the engine counts them, nothing is summed here. */
static int raw(const struct kmod_source *s)
{
	return s->opts.raw_events || s->opts.timeline;
}

/* Something the user may want to know with -v, after what was noted already. */
static void __attribute__((format(printf, 2, 3))) note(struct kmod_source *s, const char *fmt,
						       ...)
{
	size_t len = strlen(s->base.notes);
	va_list ap;

	if (len && len + 2 < sizeof(s->base.notes)) {
		strcpy(s->base.notes + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(s->base.notes + len, sizeof(s->base.notes) - len, fmt, ap);
	va_end(ap);
}

/* kmod/Makefile builds into build/kmod/<the release of KDIR>/, the running one's first. */
static const char *release(struct utsname *u)
{
	return uname(u) ? "$(uname -r)" : u->release;
}

static void need_module(char *err, size_t errlen)
{
	struct utsname u;

	snprintf(err, errlen, "the kmod backend needs the concwatch module: build it with "
		 "'make kmod' (make -C kmod KDIR=/lib/modules/$(uname -r)/build) and load it "
		 "with 'insmod build/kmod/%s/concwatch.ko'", release(&u));
}

static struct kproc *find_proc(const struct kmod_source *s, int pid)
{
	for (size_t i = 0; i < s->nr_procs; i++)
		if (s->procs[i]->maps.pid == pid)
			return s->procs[i];
	return NULL;
}

static void proc_free(struct kproc *p)
{
	if (!p)
		return;
	cw_proc_maps__fini(&p->maps);
	free(p);
}

/* The BPF programs of the probe table (probes.h) and the module's handlers for them. */
static const struct {
	const char *prog;
	__u32 shape;
} shapes[] = {
	{ "uprobe_acquire", CW_KMOD_P_ACQUIRE },
	{ "uprobe_release", CW_KMOD_P_RELEASE },
	{ "uprobe_reset", CW_KMOD_P_RESET },
	{ "uprobe_cond_wait", CW_KMOD_P_COND_WAIT },
	{ "uprobe_pthread_spin_lock", CW_KMOD_P_SPIN_TAKEN },
};

int cw_kmod_probe_shape(const struct cw_probe_info *p, __u32 *shape, __u32 *flags)
{
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		if (strcmp(shapes[i].prog, p->prog))
			continue;
		*shape = shapes[i].shape;
		*flags = p->ret ? CW_KMOD_P_RET : 0;
		return 0;
	}
	return -ENOENT; /* uprobe_free: --track-free */
}

/* A library of a process being probed, opened for the module at its first probe. */
struct kfile {
	int fd;
	dev_t dev;
	ino_t ino;
};

/*
 * Ask the module for probe kp in lib (its file f, opened now if need be), unless it has
 * it already. 0, or -errno with the error said; an optional function the module refuses
 * is only noted, as the BPF source notes it.
 */
static int add_probe(struct kmod_source *s, const struct cw_uprobe_lib *lib, struct kfile *f,
		     const struct cw_probe_info *pi, struct cw_kmod_probe *kp)
{
	struct kplace *pl;
	struct stat st;
	char why[128];
	int err;

	if (f->fd < 0) {
		f->fd = open(lib->obj->host_path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0 || fstat(f->fd, &st)) {
			err = -errno;
			set_err(s, "failed to open %s: %s", lib->obj->host_path, strerror(-err));
			return err;
		}
		f->dev = st.st_dev;
		f->ino = st.st_ino;
	}
	for (size_t i = 0; i < s->nr_placed; i++) {
		pl = &s->placed[i];
		if (pl->dev == f->dev && pl->ino == f->ino && pl->offset == kp->offset &&
		    pl->shape == kp->shape)
			return 0;
	}
	pl = cw_grow(s->placed, &s->cap_placed, s->nr_placed + 1, sizeof(*pl));
	if (!pl)
		return -ENOMEM;
	s->placed = pl;
	kp->fd = f->fd;
	if (ioctl(s->fd, CW_KMOD_ADD_PROBE, kp)) {
		err = -errno;
		if (err == -ENOSPC) {
			set_err(s, "the concwatch module cannot probe %s:%s: its probe table is "
				"full (%d probes)", lib->obj->path, pi->func, CW_KMOD_MAX_PROBES);
			return err;
		}
		if (pi->required) {
			set_err(s, "failed to place the concwatch module's uprobe on %s:%s: %s",
				lib->obj->path, pi->func, cw_uprobes__strerror(-err));
			return err;
		}
		/* e.g. a lock-prefixed first instruction: uprobes refuse those */
		snprintf(why, sizeof(why), "cannot probe it: %s", cw_uprobes__strerror(-err));
		cw_uprobes__not_probed(&s->base, pi->func, why);
		return 0;
	}
	s->placed[s->nr_placed++] = (struct kplace){ f->dev, f->ino, kp->offset, kp->shape };
	return 0;
}

/*
 * The lock functions of process pid probed, at the places its own libc (or executable)
 * has them, the BPF source's (see the top). 0, or -errno with the error said.
 */
static int place_probes(struct kmod_source *s, int pid)
{
	struct kfile files[CW_UPROBE_MAX_LIBS];
	struct cw_uprobe_libs libs;
	struct cw_probe_info pi;
	int err;

	if (s->opts.no_uprobes || !s->device)
		return 0;
	err = cw_uprobe_libs__open(&libs, pid, s->base.err, sizeof(s->base.err));
	if (err)
		return err;
	for (size_t k = 0; k < CW_UPROBE_MAX_LIBS; k++)
		files[k].fd = -1;
	for (size_t i = 0; !err && !cw_bpf_probes__get(i, &pi); i++) {
		struct cw_kmod_probe kp = { .fd = -1 };
		const struct cw_uprobe_lib *lib;
		struct cw_elf_func f;

		if (cw_kmod_probe_shape(&pi, &kp.shape, &kp.flags))
			continue; /* free(): --track-free was refused at open */
		err = cw_uprobe_libs__need(&libs, &s->base, pi.func, pi.required, &f, &lib);
		if (err || !lib)
			continue;
		kp.offset = f.offset + cw_bpf_probes__offset(i, &f, s->emulates_push,
							     s->emulates_nopl);
		kp.cookie = CW_PROBE_COOKIE(pi.kind, pi.op, 0);
		err = add_probe(s, lib, &files[lib - libs.libs], &pi, &kp);
	}
	/* the module holds the files it probes: ours are no longer needed */
	for (size_t k = 0; k < CW_UPROBE_MAX_LIBS; k++)
		if (files[k].fd >= 0)
			close(files[k].fd);
	cw_uprobe_libs__close(&libs);
	return err;
}

/*
 * Trace one more process: its lock functions probed, its thread names and module map
 * queued, then the module told (cmd: CW_KMOD_SET_TARGET or _ADD_TARGET), so nothing it
 * records comes before them.
 */
static int track(struct kmod_source *s, int pid, __u32 flags, unsigned long cmd)
{
	struct cw_kmod_target t = { .pid = pid, .flags = flags };
	struct kproc *p, **v;
	int err;

	if (find_proc(s, pid))
		return 0;
	/* as the BPF source attaches: the probes first, the target set last */
	err = place_probes(s, pid);
	if (err)
		return err;
	v = cw_grow(s->procs, &s->cap_procs, s->nr_procs + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->procs = v;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	cw_proc_maps__init(&p->maps, pid);
	err = cw_thread_names__snapshot(&s->names, &s->emit, pid);
	if (!err)
		err = cw_proc_maps__send(&p->maps, &s->emit, cw_now_ns(), 1);
	p->maps.read_at_attach = 1;
	if (err) {
		set_err(s, "failed to read the threads and maps of %d: %s", pid, strerror(-err));
		proc_free(p);
		return err;
	}
	/* what it recorded before, if it was traced once, is not its figures' */
	cw_kmod_sched__traced(s->sched, pid, cw_now_ns());
	if (ioctl(s->fd, cmd, &t)) {
		err = -errno;
		if (err == -ESRCH)
			set_err(s, "no such process: %d", pid);
		else if (err == -EINVAL || err == -ENOSPC)
			/* the pid and flags are valid: the set is full (kmod.h says EINVAL) */
			set_err(s, "the concwatch module cannot trace process %d: its target set "
				"is full (%u processes)", pid, s->info.max_targets);
		else
			set_err(s, "failed to add process %d to the concwatch module's targets: %s",
				pid, strerror(-err));
		proc_free(p);
		return err;
	}
	s->procs[s->nr_procs++] = p;
	return 0;
}

/* The user stack copied per new call path: opts.stack_bytes as the module takes it. */
static __u32 start_stack_bytes(const struct cw_source_opts *o)
{
	__s64 n = o->stack_bytes ? o->stack_bytes : DEFAULT_STACK_BYTES;

	if (n < 0)
		return 0; /* -1: none, the frame-pointer call paths only */
	if (n > CW_KMOD_STACK_BYTES_MAX)
		n = CW_KMOD_STACK_BYTES_MAX;
	return n & ~7;
}

static int kmod_start(struct cw_source *src)
{
	struct kmod_source *s = (struct kmod_source *)src;
	/* the classes this build knows the records of; the module refuses others */
	struct cw_kmod_start st = { .classes = s->info.classes & CW_KMOD_C_ALL };
	int err;

	/* fp_depth 0: the module's 16 frames, the BPF programs' fp_depth */
	st.stack_bytes = start_stack_bytes(&s->opts);
	st.pi_threshold_ns = s->opts.pi_threshold_ns;
	if (s->opts.no_uprobes)
		st.classes &= ~CW_KMOD_C_ULOCK;
	else if (raw(s))
		st.flags |= CW_KMOD_S_LOCK_BEGIN;

	if (!s->device) {
		set_err(s, "no device to start tracing on");
		return -ENODEV;
	}
	if (s->opts.pid) {
		err = track(s, s->opts.pid, CW_KMOD_T_CHILDREN, CW_KMOD_SET_TARGET);
		if (err)
			return err;
	}
	if (ioctl(s->fd, CW_KMOD_START, &st)) {
		err = -errno;
		set_err(s, "the concwatch module failed to start tracing: %s", strerror(-err));
		return err;
	}
	s->started = 1;
	s->emit.next_tick_ns = cw_now_ns();
	return 0;
}

static int kmod_fd(struct cw_source *src)
{
	return ((struct kmod_source *)src)->fd;
}

/*
 * The module sends a record per lock operation, per futex call and per kernel-lock wait;
 * the BPF programs sum them in the kernel (lock_sites) and send the sums each tick as
 * CW_EV_LOCK_STATS: lock operations per (process, lock, call path), CW_SITE_ACQUIRE, and
 * a thread's failed attempts per lock, CW_SITE_TRY, from which the engine makes the
 * locks' figures and the livelock rule its pairs; futex waits per (thread, word, call
 * path), CW_SITE_FUTEX, from which the reports make the futex words' rows; kernel-lock
 * waits per (process, lock, kernel stack), CW_SITE_KLOCK, from which they make a row per
 * kind of contention (a page fault's wait for reading apart from an munmap's for
 * writing). The same sums are made here, from the same fields, so that a report cannot
 * tell the backends apart; the per-call records go on only when asked for (raw_events,
 * timeline), as the BPF source's do.
 *
 * The sum of a key, made when new if make is set; NULL when there is none (make: out of
 * memory). The key's five fields go through two indexes, as bpf/stats.c's do.
 */
static struct site_sum *site_sum(struct kmod_source *s, __u8 what, __u32 pid, __u32 tid,
				 __u64 addr, __u64 stack_id, int make)
{
	__u64 who = (__u64)pid << 32 | tid;
	struct site_sum *ss;
	__u32 path, slot;

	if (make ? cw_index__number(&s->path_ix, addr, stack_id, &s->nr_paths, &path) :
		   cw_index__get(&s->path_ix, addr, stack_id, &path))
		return NULL;
	if (!cw_index__get(&s->sum_ix, who, (__u64)path << 32 | what, &slot))
		return &s->sums[slot];
	if (!make || s->nr_sums >= UINT32_MAX)
		return NULL;
	ss = cw_grow(s->sums, &s->cap_sums, s->nr_sums + 1, sizeof(*ss));
	if (!ss)
		return NULL;
	s->sums = ss;
	if (cw_index__put(&s->sum_ix, who, (__u64)path << 32 | what, s->nr_sums))
		return NULL;
	ss = &s->sums[s->nr_sums++];
	memset(ss, 0, sizeof(*ss));
	ss->st.hdr = (struct cw_hdr){ .type = CW_EV_LOCK_STATS, .size = sizeof(ss->st),
				      .cpu = 0xffff, .flags = CW_F_AGGREGATED, .pid = pid,
				      .tid = tid };
	ss->st.what = what;
	ss->st.addr = addr;
	ss->st.stack_id = stack_id;
	/* a thread's failures have no call path in their key: the latest one is sent */
	if (!stack_id && what != CW_SITE_TRY)
		ss->st.flags |= CW_SITE_F_NO_STACK;
	return ss;
}

static void add_wait(struct cw_ev_lock_stats *st, __u64 wait_ns)
{
	st->wait_ns_total += wait_ns;
	if (wait_ns > st->wait_ns_max)
		st->wait_ns_max = wait_ns;
	st->wait_hist[cw_hist_bucket(wait_ns)]++;
}

/* A kernel-lock wait; an end without its begin (begun before tracing, nested) has none. */
static int sum_klock(struct kmod_source *s, const struct cw_ev_klock *k)
{
	struct site_sum *ss;

	if (k->hdr.type != CW_EV_KLOCK_END || !k->wait_ns)
		return 0;
	ss = site_sum(s, CW_SITE_KLOCK, k->hdr.pid, 0, k->addr, k->kstack_id, 1);
	if (!ss)
		return -ENOMEM;
	ss->st.kind = CW_LOCK_KERNEL;
	ss->st.acquisitions++;
	ss->st.contentions++;
	if (k->result)
		ss->st.failures++; /* interrupted, timed out */
	add_wait(&ss->st, k->wait_ns);
	ss->st.op = k->lock_flags & ~CW_KLOCK_F_MMAP_LOCK;
	if (k->lock_flags & CW_KLOCK_F_MMAP_LOCK)
		ss->st.flags |= CW_SITE_F_MMAP_LOCK;
	ss->grew = 1;
	return 0;
}

/* A futex call that could block, ended: a call; a wait unless it returned at once. */
static int sum_futex(struct kmod_source *s, const struct cw_ev_futex *f)
{
	struct site_sum *ss;
	__u32 outcome;

	if (f->hdr.type != CW_EV_FUTEX_END || !cw_futex_op_blocks(f->op))
		return 0;
	ss = site_sum(s, CW_SITE_FUTEX, f->hdr.pid, f->hdr.tid, f->uaddr, f->stack_id, 1);
	if (!ss)
		return -ENOMEM;
	ss->st.kind = CW_LOCK_FUTEX;
	ss->st.acquisitions++;
	if (f->result != -EAGAIN) {
		ss->st.contentions++;
		add_wait(&ss->st, f->wait_ns);
	}
	if (f->result == -ETIMEDOUT)
		ss->st.failures++;
	/* futex_waitv returns the index of the word that woke it */
	if (f->result >= 0)
		outcome = CW_FUTEX_WOKEN;
	else if (f->result == -ETIMEDOUT)
		outcome = CW_FUTEX_TIMEDOUT;
	else if (f->result == -EAGAIN)
		outcome = CW_FUTEX_EAGAIN;
	else
		outcome = CW_FUTEX_EINTR;
	ss->st.outcomes[outcome]++;
	ss->st.op = f->op;
	ss->grew = 1;
	return 0;
}

/*
 * A wakeup that ended a futex wait, from a release (the module names the waker's call
 * path then, once per wait): who made the thread wait, per (process, waker, word or
 * lock, waker's path), CW_SITE_WAKE, as cw_sched.bpf.h's sched_blame() counts it. The
 * record goes on too: the timeline draws it.
 */
static int sum_wake(struct kmod_source *s, const struct cw_ev_wakeup *w)
{
	struct site_sum *ss;

	if (!w->waker_stack_id || w->waker_pid != w->hdr.pid)
		return 0;
	ss = site_sum(s, CW_SITE_WAKE, w->hdr.pid, w->waker_tid, w->wait_addr,
		      w->waker_stack_id, 1);
	if (!ss)
		return -ENOMEM;
	/* the engine files it under the object at the address, whatever its kind */
	ss->st.kind = CW_LOCK_FUTEX;
	ss->st.acquisitions++;
	ss->st.contentions++;
	add_wait(&ss->st, w->blocked_ns);
	ss->grew = 1;
	return 0;
}

/*
 * A busy trylock or a timed-out acquire, in the thread's own CW_SITE_TRY entry of the
 * lock, with the call path, caller and op of the latest; an acquisition there only once
 * the thread failed on the lock (count_failure(), count_try_success()).
 */
static int sum_try(struct kmod_source *s, const struct cw_ev_lock *l, int took)
{
	struct site_sum *ss;

	if (!took && l->result != EBUSY && l->result != ETIMEDOUT)
		return 0;
	ss = site_sum(s, CW_SITE_TRY, l->hdr.pid, l->hdr.tid, l->addr, 0, !took);
	if (!ss)
		return took ? 0 : -ENOMEM;
	ss->grew = 1;
	if (took) {
		ss->st.acquisitions++;
		return 0;
	}
	ss->st.failures++;
	ss->st.kind = l->kind;
	ss->st.ip = l->ip;
	ss->st.stack_id = l->stack_id;
	ss->st.op = l->op;
	/* the holder the lock word named at the failure (events.h: addr2), as BPF's */
	ss->st.owner_tid = (__u32)l->addr2;
	if (l->result == ETIMEDOUT)
		add_wait(&ss->st, l->wait_ns);
	return 0;
}

/*
 * A lock operation (count_site(), count_failure()): an acquisition, a contention with its
 * wait when the acquire slept on the lock (CW_F_CONTENDED: an uncontended acquire's time
 * in the call is the probes' own cost), a failure with its wait; a hold at its last
 * release (an inner release of a recursive hold says 0), counted where the acquire was.
 */
static int sum_lock(struct kmod_source *s, const struct cw_ev_lock *l)
{
	struct site_sum *ss;
	int took;

	if (l->hdr.type == CW_EV_LOCK_RELEASED && !l->wait_ns)
		return 0;
	if (l->hdr.type != CW_EV_LOCK_RELEASED && l->hdr.type != CW_EV_LOCK_ACQUIRED)
		return 0; /* BEGIN: sent only with raw_events, which sums nothing */
	/* a release's stack_id is its acquire's call path, as the BPF held set keeps it */
	ss = site_sum(s, CW_SITE_ACQUIRE, l->hdr.pid, 0, l->addr, l->stack_id, 1);
	if (!ss)
		return -ENOMEM;
	ss->grew = 1;
	if (!ss->st.kind)
		ss->st.kind = l->kind;
	if (l->attr & CW_ATTR_KNOWN)
		ss->st.attr = l->attr;
	if (l->hdr.type == CW_EV_LOCK_RELEASED) {
		ss->st.hold_ns_total += l->wait_ns;
		if (l->wait_ns > ss->st.hold_ns_max)
			ss->st.hold_ns_max = l->wait_ns;
		return 0;
	}
	/* the caller of the acquire; a release's is the unlock's */
	if (!ss->st.ip)
		ss->st.ip = l->ip;
	took = cw_rules_op_acquired(l->op, l->result);
	if (took) {
		ss->st.acquisitions++;
		if (l->hdr.flags & CW_F_CONTENDED) {
			ss->st.contentions++;
			add_wait(&ss->st, l->wait_ns);
		}
	} else {
		ss->st.failures++;
		add_wait(&ss->st, l->wait_ns);
	}
	return sum_try(s, l, took);
}

/* What the sums grew by since the last tick: sent, and counted from zero. */
static int send_sums(struct kmod_source *s, __u64 now)
{
	for (size_t i = 0; i < s->nr_sums; i++) {
		struct site_sum *ss = &s->sums[i];
		struct cw_ev_lock_stats *st = &ss->st;
		int err;

		if (!ss->grew)
			continue;
		st->hdr.ts_ns = now;
		st->interval_ns = now - (s->sums_sent_ns ? s->sums_sent_ns : now);
		err = cw_emit__deliver(&s->emit, &st->hdr);
		if (err)
			return err;
		/* the maxima stay, as the BPF entries' do; the rest counts again */
		st->acquisitions = st->contentions = st->failures = st->wait_ns_total = 0;
		st->hold_ns_total = 0;
		memset(st->wait_hist, 0, sizeof(st->wait_hist));
		memset(st->outcomes, 0, sizeof(st->outcomes));
		ss->grew = 0;
	}
	s->sums_sent_ns = now;
	return 0;
}

/* What one read() returned: each record checked and handed on (see the top). */
static int hand_on(struct kmod_source *s, const unsigned char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const struct cw_hdr *h = (const void *)(buf + off);
		size_t left = len - off;
		int err;

		if (left < sizeof(*h) || h->size < sizeof(*h) || h->size % 8 || h->size > left) {
			s->malformed++;
			return 0;
		}
		off += h->size;
		err = cw_record__check(h, h->size);
		/* a type this build does not know: well framed, the engine skips it */
		if (err == -ENOENT)
			err = 0;
		if (err) {
			s->malformed++;
			continue;
		}
		err = cw_kmod_sched__record(s->sched, h);
		if (err)
			return err;
		if (h->type == CW_EV_LOST) {
			err = cw_emit__deliver_lost(&s->emit, (const struct cw_ev_lost *)h);
		} else if (!raw(s) && (h->type == CW_EV_LOCK_BEGIN ||
				       h->type == CW_EV_LOCK_ACQUIRED ||
				       h->type == CW_EV_LOCK_RELEASED)) {
			err = sum_lock(s, (const struct cw_ev_lock *)h);
		} else if (h->type == CW_EV_KLOCK_BEGIN || h->type == CW_EV_KLOCK_END ||
			   h->type == CW_EV_FUTEX_BEGIN || h->type == CW_EV_FUTEX_END) {
			err = h->type == CW_EV_KLOCK_BEGIN || h->type == CW_EV_KLOCK_END ?
				      sum_klock(s, (const struct cw_ev_klock *)h) :
				      sum_futex(s, (const struct cw_ev_futex *)h);
			if (!err && raw(s))
				err = cw_emit__deliver(&s->emit, h);
		} else {
			err = h->type == CW_EV_SCHED_WAKEUP ?
				      sum_wake(s, (const struct cw_ev_wakeup *)h) : 0;
			if (!err)
				err = cw_thread_names__on_record(&s->names, &s->emit, h);
			if (!err)
				err = cw_emit__deliver(&s->emit, h);
		}
		if (err)
			return err;
	}
	return 0;
}

/* The sums and the losses the module counts, once a tick and after stop. */
static int send_module_stats(struct kmod_source *s, __u64 now)
{
	struct cw_kmod_stats ks;
	int err;

	if (now < s->emit.next_tick_ns && !s->stopped_ns)
		return 0;
	err = send_sums(s, now);
	if (!err)
		err = cw_kmod_sched__send(s->sched, &s->emit, s->quiet);
	if (err || !s->started)
		return err;
	if (ioctl(s->fd, CW_KMOD_STATS, &ks)) {
		err = -errno;
		set_err(s, "failed to read the concwatch module's statistics: %s", strerror(-err));
		return err;
	}
	/*
	 * FIXME(kmod cost): ks.probe_hits could make the CW_EV_COST of --measure-cost, but
	 * the per-hit cost is calibrated with BPF programs (source/cost.h) and the module
	 * does not count its hits by trap kind.
	 */
	err = cw_emit__lost(&s->emit, CW_LOST_MAP_FULL, ks.lost_threads, now);
	if (!err)
		err = cw_emit__lost(&s->emit, CW_LOST_HELD_OVERFLOW, ks.lost_held, now);
	if (!err)
		err = cw_emit__lost(&s->emit, CW_LOST_STACK, ks.lost_stacks, now);
	return err;
}

static int kmod_drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	struct kmod_source *s = (struct kmod_source *)src;
	struct cw_emit *e = &s->emit;
	__u64 until, now, emptied_ns = 0;
	int err;

	until = s->quiet ? 0 : cw_now_ns() + s->opts.tick_ns / 4;
	err = cw_emit__begin(e, fn, ctx);
	if (err)
		return err;
	for (;;) {
		__u64 read_ns = cw_now_ns();
		ssize_t n = read(s->fd, s->buf, CW_KMOD_READ_BYTES);

		if (n < 0 && errno == EINTR)
			continue;
		/* every ring was empty: nothing recorded before read_ns is still to come */
		if (!n || (n < 0 && errno == EAGAIN))
			emptied_ns = read_ns;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			err = -errno;
			set_err(s, "failed to read %s: %s", CW_KMOD_DEVICE, strerror(-err));
			return err;
		}
		if (!n)
			break; /* the device never says end of file; what stands in for it may */
		err = hand_on(s, s->buf, n);
		if (err)
			return err;
		if (until && cw_now_ns() >= until)
			break;
	}

	/* after stop, nothing newer than the stop can have been recorded */
	now = s->stopped_ns ? s->stopped_ns : cw_now_ns();
	err = cw_kmod_sched__advance(s->sched, e, emptied_ns, now, s->quiet && emptied_ns);
	if (!err)
		err = send_module_stats(s, now);
	if (!err)
		err = cw_emit__lost(e, CW_LOST_MALFORMED, s->malformed, now);
	if (!err)
		err = cw_emit__tick(e, now, s->stopped_ns != 0);
	if (err)
		return err;
	return e->delivered;
}

static int kmod_stop(struct cw_source *src)
{
	struct kmod_source *s = (struct kmod_source *)src;
	int err = 0;

	if (s->stopped_ns)
		return 0;
	if (s->started && ioctl(s->fd, CW_KMOD_STOP)) {
		err = -errno;
		set_err(s, "the concwatch module failed to stop tracing: %s", strerror(-err));
	}
	/* still writing: the last drains stay bounded, or one might never end */
	s->quiet = !err;
	s->stopped_ns = cw_now_ns();
	return err;
}

static void kmod_stats(struct cw_source *src, struct cw_source_stats *st)
{
	*st = ((struct kmod_source *)src)->emit.st;
}

static int kmod_add_process(struct cw_source *src, int pid)
{
	struct kmod_source *s = (struct kmod_source *)src;

	s->base.err[0] = '\0';
	if (!s->started || s->stopped_ns) {
		set_err(s, "cannot trace process %d: tracing has %s", pid,
			s->started ? "stopped" : "not started");
		return -EINVAL;
	}
	return track(s, pid, 0, CW_KMOD_ADD_TARGET);
}

static int kmod_remove_process(struct cw_source *src, int pid)
{
	struct kmod_source *s = (struct kmod_source *)src;
	struct cw_kmod_target t = { .pid = pid };
	int err = 0;

	for (size_t i = 0; i < s->nr_procs; i++) {
		if (s->procs[i]->maps.pid != pid)
			continue;
		/* ESRCH: it has exited (follow.c removes processes then), nothing is left */
		if (s->device && ioctl(s->fd, CW_KMOD_REMOVE_TARGET, &t) && errno != ESRCH) {
			err = -errno;
			set_err(s, "failed to remove process %d from the concwatch module's "
				"targets: %s", pid, strerror(-err));
		}
		/* its threads' figures a last time; what it recorded is forgotten after */
		if (cw_kmod_sched__untraced(s->sched, &s->emit, pid, cw_now_ns()) && !err) {
			err = -ENOMEM;
			set_err(s, "out of memory");
		}
		proc_free(s->procs[i]);
		memmove(&s->procs[i], &s->procs[i + 1], (s->nr_procs - i - 1) * sizeof(*s->procs));
		s->nr_procs--;
		return err;
	}
	set_err(s, "process %d is not traced", pid);
	return -ENOENT;
}

static int kmod_refresh_process(struct cw_source *src, int pid)
{
	struct kmod_source *s = (struct kmod_source *)src;
	struct kproc *p = find_proc(s, pid);
	int err;

	if (!p) {
		set_err(s, "process %d is not traced", pid);
		return -ENOENT;
	}
	err = cw_proc_maps__send(&p->maps, &s->emit, cw_now_ns(), 1);
	if (err)
		set_err(s, "failed to read the maps of %d: %s", pid, strerror(-err));
	return err;
}

static void kmod_free(struct cw_source *src)
{
	struct kmod_source *s = (struct kmod_source *)src;

	kmod_stop(src);
	if (s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; i < s->nr_procs; i++)
		proc_free(s->procs[i]);
	free(s->procs);
	free(s->sums);
	cw_index__fini(&s->path_ix);
	cw_index__fini(&s->sum_ix);
	free(s->placed);
	cw_thread_names__fini(&s->names);
	cw_kmod_sched__free(s->sched);
	cw_emit__fini(&s->emit);
	free(s->buf);
	free(s);
}

static const struct cw_source_ops kmod_source_ops = {
	.name = "kmod",
	.start = kmod_start,
	.fd = kmod_fd,
	.drain = kmod_drain,
	.stop = kmod_stop,
	.stats = kmod_stats,
	.add_process = kmod_add_process,
	.remove_process = kmod_remove_process,
	.refresh_process = kmod_refresh_process,
	.free = kmod_free,
};

/* The source, its options checked, without its descriptor (fd -1). */
static int new_source(const struct cw_source_opts *opts, struct kmod_source **out, char *err,
		      size_t errlen)
{
	struct kmod_source *s;

	if (opts->track_free) {
		snprintf(err, errlen, "--track-free probes free() with a uprobe: the kernel "
			 "module does not probe it");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->buf = malloc(CW_KMOD_READ_BYTES);
	if (s && s->buf && cw_kmod_sched__new(&s->sched))
		s->sched = NULL;
	if (!s || !s->buf || !s->sched) {
		if (s)
			free(s->buf);
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &kmod_source_ops;
	s->fd = -1;
	s->opts = *opts;
	if (!s->opts.tick_ns)
		s->opts.tick_ns = DEFAULT_TICK_NS;
	cw_emit__init(&s->emit, s->opts.tick_ns);
	/* no lock calls traced: the stream says so, a recording's report knows it too */
	if (s->opts.no_uprobes)
		s->emit.tick_flags = CW_F_NO_UPROBES;
	*out = s;
	return 0;
}

int cw_kmod_source__open_fd(const struct cw_source_opts *opts, int fd, struct cw_source **out,
			    char *err, size_t errlen)
{
	struct kmod_source *s;
	int ret;

	ret = new_source(opts, &s, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	s->fd = fd;
	*out = &s->base;
	return 0;
}

/* The module's answer to CW_KMOD_INFO, checked: 0 or -errno with err said. */
static int ask_module(int fd, struct cw_kmod_info *info, char *err, size_t errlen)
{
	struct utsname u;
	int e;

	if (ioctl(fd, CW_KMOD_INFO, info)) {
		e = errno;
		if (e == ENOTTY)
			snprintf(err, errlen, "the concwatch module loaded does not answer "
				 "CW_KMOD_INFO: it is older than this concwatch; load the one "
				 "built with it (rmmod concwatch; insmod "
				 "build/kmod/%s/concwatch.ko)", release(&u));
		else
			snprintf(err, errlen, "failed to ask the concwatch module what it "
				 "traces: %s", strerror(e));
		return e == ENOTTY ? -EPROTO : -e;
	}
	if (info->abi_version != CW_ABI_VERSION) {
		snprintf(err, errlen, "the concwatch module loaded writes event ABI version %u, "
			 "this concwatch reads version %u: load the module built with it (rmmod "
			 "concwatch; insmod build/kmod/%s/concwatch.ko)", info->abi_version,
			 CW_ABI_VERSION, release(&u));
		return -EPROTO;
	}
	return 0;
}

/* What the module will not do of what was asked, for -v. */
static void note_limits(struct kmod_source *s)
{
	note(s, "backend kmod: %u rings of %llu KiB, futex, scheduler and kernel-lock events%s",
	     s->info.nr_rings, (unsigned long long)s->info.ring_bytes >> 10,
	     s->opts.no_uprobes ? ", no lock calls" : " and the lock calls");
	if (!(s->info.classes & CW_KMOD_C_KLOCK))
		note(s, "no kernel-lock events: this kernel has no lock:contention tracepoints "
		     "(Linux 5.19)");
	if (s->opts.measure_cost)
		note(s, "no tracing cost: the kernel module does not measure it");
	if (s->opts.ringbuf_bytes)
		note(s, "--ringbuf-size does not apply: the module's rings are sized when it is "
		     "loaded (ring_pages)");
}

int cw_kmod_source__open(const struct cw_source_opts *opts, struct cw_source **out, char *err,
			 size_t errlen)
{
	struct kmod_source *s;
	int ret;

	ret = new_source(opts, &s, err, errlen);
	if (ret)
		return ret;
	s->fd = open(CW_KMOD_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO) {
			/* no node, or one left without its module */
			need_module(err, errlen);
			ret = -ENODEV;
		} else if (ret == -EBUSY) {
			snprintf(err, errlen, "another concwatch is reading %s", CW_KMOD_DEVICE);
		} else if (ret == -EACCES || ret == -EPERM) {
			snprintf(err, errlen, "not permitted to open %s: tracing needs root",
				 CW_KMOD_DEVICE);
		} else {
			snprintf(err, errlen, "failed to open %s: %s", CW_KMOD_DEVICE,
				 strerror(-ret));
		}
		kmod_free(&s->base);
		return ret;
	}
	ret = ask_module(s->fd, &s->info, err, errlen);
	if (!ret && !s->opts.no_uprobes && !(s->info.classes & CW_KMOD_C_ULOCK)) {
		snprintf(err, errlen, "the concwatch module loaded cannot probe lock calls "
			 "here (a kernel without uprobes, or a module older than this "
			 "concwatch): use --no-uprobes, or load the module built with it");
		ret = -EOPNOTSUPP;
	}
	if (ret) {
		kmod_free(&s->base);
		return ret;
	}
	s->device = 1;
	s->emulates_push = cw_placement__kernel_emulates_push() > 0;
	s->emulates_nopl = cw_placement__kernel_emulates_nopl() > 0;
	note_limits(s);
	*out = &s->base;
	return 0;
}
