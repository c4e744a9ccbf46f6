// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel-module source: the records of /dev/concwatch (kmod/; what the two agree on
 * besides the records is include/concwatch/kmod.h), handed on as the module wrote them.
 * What every backend does the same way (counting, ticks, lost records, thread names,
 * module maps) comes from emit.h and procinfo.h. The choices that are its own, and why:
 *
 * - No lock calls: the module has no probes in user space yet, only its tracepoints'
 *   futex, scheduler, process and kernel-lock events, so no lock-order data can come
 *   from it. Its ticks say so with CW_F_NO_UPROBES, as the BPF source's do under
 *   --no-uprobes, and the report says which findings could not be looked for.
 * - Raw records only, one per operation: nothing is aggregated in the kernel, so there
 *   are no per-tick statistics to read (the BPF source's lock_sites, thread_stats); the
 *   engine aggregates. raw_events and timeline ask for what it does anyway.
 * - read() returns whole records from per-CPU rings, each ring in time order, the rings
 *   not with each other. The session's reorder window merges them, and it lets records
 *   go only after every source was drained: the order within one drain does not matter.
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
 *   ring's CPU, handed on as they are; calls in progress its thread table had no room
 *   for only in CW_KMOD_STATS, read each tick and sent as CW_LOST_MAP_FULL, which is what
 *   the BPF source says of its full maps of calls in progress.
 * - Targets: -p PID with the processes it forks from then on (CW_KMOD_T_CHILDREN): the
 *   module adds them as they are forked, before they run. run's processes one at a time
 *   without the flag: follow.c adds each child itself, held at its fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <concwatch/kmod.h>

#include "common/array.h"
#include "source/emit.h"
#include "source/kmod.h"
#include "source/procinfo.h"
#include "source/source.h"

#define DEFAULT_TICK_NS 100000000ULL

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

	struct site_sum *sums;		/* futex and kernel-lock waits summed (site_sum()) */
	size_t nr_sums, cap_sums;
	__u64 sums_sent_ns;		/* when they were last sent */
};

/* A futex or kernel-lock site's calls since the last tick, as the BPF programs key them. */
struct site_sum {
	struct cw_ev_lock_stats st;	/* the record it sends, counting from zero each tick */
	int grew;			/* something to send */
};

static void __attribute__((format(printf, 2, 3))) set_err(struct kmod_source *s,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.err, sizeof(s->base.err), fmt, ap);
	va_end(ap);
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

/*
 * Trace one more process: its thread names and module map queued, then the module told
 * (cmd: CW_KMOD_SET_TARGET or _ADD_TARGET), so nothing it records comes before them.
 */
static int track(struct kmod_source *s, int pid, __u32 flags, unsigned long cmd)
{
	struct cw_kmod_target t = { .pid = pid, .flags = flags };
	struct kproc *p, **v;
	int err;

	if (find_proc(s, pid))
		return 0;
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

static int kmod_start(struct cw_source *src)
{
	struct kmod_source *s = (struct kmod_source *)src;
	/* the classes this build knows the records of; the module refuses others */
	struct cw_kmod_start st = { .classes = s->info.classes & CW_KMOD_C_ALL };
	int err;

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
 * The module sends a record per futex call and per kernel-lock wait; the BPF programs
 * sum them in the kernel (lock_sites) and send the sums each tick as CW_EV_LOCK_STATS:
 * futex waits per (thread, word, call path), CW_SITE_FUTEX, from which the reports make
 * the futex words' rows; kernel-lock waits per (process, lock, kernel stack),
 * CW_SITE_KLOCK, from which they make a row per kind of contention (a page fault's
 * wait for reading apart from an munmap's for writing). The same sums are made here,
 * from the same fields, so that a report cannot tell the backends apart; the per-call
 * records go on only when asked for (raw_events, timeline), as the BPF source's do.
 */
static struct site_sum *site_sum(struct kmod_source *s, __u8 what, __u32 pid, __u32 tid,
				 __u64 addr, __u64 stack_id)
{
	struct site_sum *ss;

	for (size_t i = 0; i < s->nr_sums; i++) {
		const struct cw_ev_lock_stats *c = &s->sums[i].st;

		if (c->what == what && c->hdr.pid == pid && c->hdr.tid == tid && c->addr == addr &&
		    c->stack_id == stack_id)
			return &s->sums[i];
	}
	ss = cw_grow(s->sums, &s->cap_sums, s->nr_sums + 1, sizeof(*ss));
	if (!ss)
		return NULL;
	s->sums = ss;
	ss = &s->sums[s->nr_sums++];
	memset(ss, 0, sizeof(*ss));
	ss->st.hdr = (struct cw_hdr){ .type = CW_EV_LOCK_STATS, .size = sizeof(ss->st),
				      .cpu = 0xffff, .flags = CW_F_AGGREGATED, .pid = pid,
				      .tid = tid };
	ss->st.what = what;
	ss->st.addr = addr;
	ss->st.stack_id = stack_id;
	if (!stack_id)
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
	ss = site_sum(s, CW_SITE_KLOCK, k->hdr.pid, 0, k->addr, k->kstack_id);
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
	ss = site_sum(s, CW_SITE_FUTEX, f->hdr.pid, f->hdr.tid, f->uaddr, f->stack_id);
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
		/* the maximum stays, as the BPF entries' does; the rest counts again */
		st->acquisitions = st->contentions = st->failures = st->wait_ns_total = 0;
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
		if (h->type == CW_EV_LOST) {
			err = cw_emit__deliver_lost(&s->emit, (const struct cw_ev_lost *)h);
		} else if (h->type == CW_EV_KLOCK_BEGIN || h->type == CW_EV_KLOCK_END ||
			   h->type == CW_EV_FUTEX_BEGIN || h->type == CW_EV_FUTEX_END) {
			err = h->type == CW_EV_KLOCK_BEGIN || h->type == CW_EV_KLOCK_END ?
				      sum_klock(s, (const struct cw_ev_klock *)h) :
				      sum_futex(s, (const struct cw_ev_futex *)h);
			if (!err && (s->opts.raw_events || s->opts.timeline))
				err = cw_emit__deliver(&s->emit, h);
		} else {
			err = cw_thread_names__on_record(&s->names, &s->emit, h);
			if (!err)
				err = cw_emit__deliver(&s->emit, h);
		}
		if (err)
			return err;
	}
	return 0;
}

/* The sums and the module's thread table's losses, once a tick and after stop. */
static int send_module_stats(struct kmod_source *s, __u64 now)
{
	struct cw_kmod_stats ks;
	int err;

	if (now < s->emit.next_tick_ns && !s->stopped_ns)
		return 0;
	err = send_sums(s, now);
	if (err || !s->started)
		return err;
	if (ioctl(s->fd, CW_KMOD_STATS, &ks)) {
		err = -errno;
		set_err(s, "failed to read the concwatch module's statistics: %s", strerror(-err));
		return err;
	}
	return cw_emit__lost(&s->emit, CW_LOST_MAP_FULL, ks.lost_threads, now);
}

static int kmod_drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	struct kmod_source *s = (struct kmod_source *)src;
	struct cw_emit *e = &s->emit;
	__u64 until, now;
	int err;

	until = s->quiet ? 0 : cw_now_ns() + s->opts.tick_ns / 4;
	err = cw_emit__begin(e, fn, ctx);
	if (err)
		return err;
	for (;;) {
		ssize_t n = read(s->fd, s->buf, CW_KMOD_READ_BYTES);

		if (n < 0 && errno == EINTR)
			continue;
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
	cw_thread_names__fini(&s->names);
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
			 "module has none");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->buf = malloc(CW_KMOD_READ_BYTES);
	if (!s || !s->buf) {
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
	note(s, "backend kmod: %u rings of %llu KiB, futex, scheduler and kernel-lock events, "
	     "no lock calls and no user stacks", s->info.nr_rings,
	     (unsigned long long)s->info.ring_bytes >> 10);
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
	if (ret) {
		kmod_free(&s->base);
		return ret;
	}
	s->device = 1;
	note_limits(s);
	*out = &s->base;
	return 0;
}
