// SPDX-License-Identifier: GPL-2.0
/*
 * The in-process library's source: what tools/preload/ recorded in the shared memory of
 * each process of `concwatch run --backend preload` (include/concwatch/preload.h), read
 * and handed on as the BPF source hands on its own. The choices that are its own, and why:
 *
 * - Finding the processes. The source binds an abstract datagram socket (no file to
 *   clean up, no directory whose modes a daemon dropping privileges would need), named in
 *   the command's environment with the library and the options (cw_preload_source__setenv);
 *   each process the library starts in sends one hello with its region's memfd. The
 *   kernel, not the process, says who sent it (SO_PASSCRED). A region is read only for a
 *   process the session follows (add_process); a hello that comes first waits for it,
 *   and a process that never sends one is not traced by the library (it is said).
 * - Records. Each thread of a process writes its own ring, in time order; a drain takes
 *   every ring's head first, then hands the records on oldest first across all rings
 *   (drain_rings()). Every
 *   record's framing is checked against the ring, its content by cw_record__check(); the
 *   pid is the process's as the kernel named it. A record that breaks the framing leaves
 *   nothing after it in that ring to trust: the ring is skipped to its head and the loss
 *   counted (CW_LOST_MALFORMED).
 * - Modules. The library describes the process's code itself (CW_EV_MMAP, at its start
 *   and after each dlopen), turned into CW_EV_MODULE records here as the BPF source turns
 *   the kernel's: a process gone before its rings are read, or a plugin unloaded, has no
 *   /proc/PID/maps left to name them. /proc is read only for a stack in code not
 *   described (JIT code, libc's own dlopen).
 * - Statistics. Each thread keeps its own per (lock, call path), cumulative; each tick the
 *   growth since the last tick is sent as CW_EV_LOCK_STATS, one record per thread and
 *   entry (the engine adds records of the same key). A thread that ended has its slot
 *   read one last time and given back to the process.
 * - Losses: each thread's counters, kept after its slot is given back, and the threads
 *   that found no slot, as CW_LOST_MAP_FULL.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <elf.h>
#include <linux/kcmp.h>
#include <concwatch/preload.h>

#include "common/array.h"
#include "source/emit.h"
#include "source/preload.h"
#include "source/procinfo.h"

#define DEFAULT_TICK_NS 100000000ULL
#define LIB_NAME CW_PRELOAD_LIB_NAME

struct pl_proc {
	int pid;
	int added;			/* the session follows it */
	int removed;			/* ... no longer (gone, unless added again) */
	int closing;			/* removed: read to the end, then let go */
	struct cw_preload_region *r;
	size_t bytes;
	__u64 start_ns;			/* when its image made the region (the hello says) */
	struct cw_preload_site **sent;	/* per slot: the entries as last sent */
	struct pl_wait {
		__u32 seq;		/* the slot's wait_seq when its wait was said */
		__u64 addr;		/* the lock of the wait said; 0: none */
	} *waits;			/* per slot: the wait said (CW_EV_BLOCKED) */
	__u64 lost_gone[CW_LOST_MAX];	/* the losses of slots given back */
	__u64 stats_ns;			/* when the statistics were last sent */
	struct cw_proc_maps maps;
};

struct pl_cursor;

struct preload_source {
	struct cw_source base;
	struct cw_source_opts opts;
	struct cw_emit emit;
	int sk;
	char sock[64];			/* the environment's name for it: @ + abstract name */
	char lib[4096];
	char env_opts[128];
	struct pl_proc **procs;
	size_t nr_procs, cap_procs;
	__u8 *buf;			/* one record, copied out of a ring */
	struct pl_cursor *cur;		/* the rings of a drain */
	size_t cap_cur;
	__u64 lost_total[CW_LOST_MAX];
	__u64 malformed;
	__u64 hellos, hellos_refused;
	struct pl_seen {
		int pid;
		int hello;		/* a hello came from its latest image */
		int fallback;		/* the library cannot start in it: uprobes instead */
		int awaited;		/* exec'ed into an image that loads the library
					 * (loads_in): no hello is a miss. Not a forked
					 * child (its parent's image: one killed before its
					 * fork handler ran is no miss, strace's probe), nor
					 * one whose tracing failed before it was asked */
	} *seen;			/* every process image the session followed: an exec
					 * adds the process again, and that starts over */
	size_t nr_seen, cap_seen;
	int started;
	__u64 stopped_ns;
	int (*on_exec)(void *ctx, int pid, int tid);
	void *on_exec_ctx;
	void (*on_hello)(void *ctx, int pid, __s64 tls_slot);
	void *on_hello_ctx;
	char *asan_options;		/* ASAN_OPTIONS before setenv, if set */
};

static void set_err(struct preload_source *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(struct preload_source *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.err, sizeof(s->base.err), fmt, ap);
	va_end(ap);
}

static struct pl_proc *find_proc(struct preload_source *s, int pid, int closing)
{
	for (size_t i = 0; i < s->nr_procs; i++)
		if (s->procs[i]->pid == pid && s->procs[i]->closing == closing)
			return s->procs[i];
	return NULL;
}

static struct pl_proc *new_proc(struct preload_source *s, int pid)
{
	struct pl_proc **v, *p;

	v = cw_grow(s->procs, &s->cap_procs, s->nr_procs + 1, sizeof(*v));
	if (!v)
		return NULL;
	s->procs = v;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	cw_proc_maps__init(&p->maps, pid);
	s->procs[s->nr_procs++] = p;
	return p;
}

static struct pl_seen *seen_pid(struct preload_source *s, int pid, int create)
{
	struct pl_seen *v;

	for (size_t i = s->nr_seen; i-- > 0;)
		if (s->seen[i].pid == pid)
			return &s->seen[i];
	if (!create)
		return NULL;
	v = cw_grow(s->seen, &s->cap_seen, s->nr_seen + 1, sizeof(*v));
	if (!v)
		return NULL;
	s->seen = v;
	s->seen[s->nr_seen] = (struct pl_seen){ .pid = pid };
	return &s->seen[s->nr_seen++];
}

static void free_proc(struct pl_proc *p)
{
	if (p->r) {
		for (__u32 i = 0; p->sent && i < p->r->nr_threads; i++)
			free(p->sent[i]);
		munmap(p->r, p->bytes);
	}
	free(p->sent);
	free(p->waits);
	cw_proc_maps__fini(&p->maps);
	free(p);
}

static void drop_proc(struct preload_source *s, size_t i)
{
	struct pl_proc *p = s->procs[i];

	/* what it lost stays counted */
	if (p->r)
		for (int k = 0; k < CW_LOST_MAX; k++) {
			__u64 n = p->lost_gone[k];

			for (__u32 j = 0; j < p->r->nr_threads; j++)
				n += cw_preload_slot(p->r, j)->lost[k];
			if (k == CW_LOST_MAP_FULL)
				n += p->r->threads_unslotted;
			s->lost_total[k] += n;
		}
	free_proc(p);
	s->procs[i] = s->procs[--s->nr_procs];
}

/* ---- hellos ---- */

/*
 * p's image is over (its process exec'ed): its region is read to its end and let go; the
 * new image's, followed as the process is, is returned (NULL: out of memory).
 */
static struct pl_proc *next_image(struct preload_source *s, struct pl_proc *p)
{
	int added = p->added, removed = p->removed;

	p->closing = 1;
	p = new_proc(s, p->pid);
	if (p) {
		p->added = added;
		p->removed = removed;
	}
	return p;
}

/* The region r of bytes is one the library made: every size within the mapping. */
static int region_ok(const struct cw_preload_region *r, size_t bytes)
{
	__u64 need;

	if (bytes < sizeof(*r) || r->magic != CW_PRELOAD_MAGIC || r->version != CW_PRELOAD_VERSION)
		return 0;
	if (!r->nr_threads || r->nr_threads > 65536 || !r->nr_sites || r->nr_sites > (1 << 20) ||
	    (r->nr_sites & (r->nr_sites - 1)) || r->ring_bytes < 4096 ||
	    (r->ring_bytes & (r->ring_bytes - 1)) || r->ring_bytes > (64 << 20) ||
	    !r->nr_seen || (r->nr_seen & (r->nr_seen - 1)) || !r->hold_period)
		return 0;
	if (r->slot_bytes < cw_preload_slot_bytes(r->nr_sites, r->ring_bytes) ||
	    r->slots_off < sizeof(*r) || r->slots_off > bytes)
		return 0;
	need = r->slots_off + (__u64)r->nr_threads * r->slot_bytes;
	return need <= bytes && need >= r->slots_off;
}

/* One hello: its memfd mapped, for the process the kernel says sent it. */
static void take_hello(struct preload_source *s, const struct cw_preload_hello *h, int fd,
		       int pid)
{
	struct cw_preload_region *r;
	struct pl_proc *p;
	struct stat st;

	s->hellos++;
	if (h->magic != CW_PRELOAD_MAGIC || h->version != CW_PRELOAD_VERSION ||
	    fstat(fd, &st) || (__u64)st.st_size != h->region_bytes || !st.st_size)
		goto refused;
	r = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		goto refused;
	if (!region_ok(r, st.st_size)) {
		munmap(r, st.st_size);
		goto refused;
	}
	p = find_proc(s, pid, 0);
	/* a new image of the same process (exec) */
	if (p && p->r)
		p = next_image(s, p);
	if (!p)
		p = new_proc(s, pid);
	if (!p)
		goto unmap;
	p->sent = calloc(r->nr_threads, sizeof(*p->sent));
	p->waits = calloc(r->nr_threads, sizeof(*p->waits));
	if (!p->sent || !p->waits)
		goto unmap;
	p->r = r;
	p->bytes = st.st_size;
	p->start_ns = h->start_ns;
	p->stats_ns = cw_now_ns();
	if (seen_pid(s, pid, 0))
		seen_pid(s, pid, 0)->hello = 1;
	if (s->on_hello)
		s->on_hello(s->on_hello_ctx, pid, r->tls_slot);
	return;
unmap:
	munmap(r, st.st_size);
refused:
	s->hellos_refused++;
}

/*
 * A thread about to exec a program the library will not start in: traced again from
 * that exec (s->on_exec), then told to go on (a byte on its pipe; closing the pipe
 * alone would say the same, later).
 */
static void exec_request(struct preload_source *s, const struct cw_preload_hello *h, int fd,
			 int pid)
{
	if (h->magic != CW_PRELOAD_MAGIC || h->version != CW_PRELOAD_VERSION) {
		s->hellos_refused++;
		return;
	}
	if (s->on_exec)
		s->on_exec(s->on_exec_ctx, pid, h->tid);
	if (write(fd, "g", 1) < 0)
		s->hellos_refused++;
}

static int read_hellos(struct preload_source *s)
{
	for (;;) {
		struct cw_preload_hello h;
		char cbuf[CMSG_SPACE(sizeof(int) * 4) + CMSG_SPACE(sizeof(struct ucred))];
		struct iovec iov = { &h, sizeof(h) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		struct ucred cred = {};
		int fd = -1, have_cred = 0;
		ssize_t n = recvmsg(s->sk, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SCM_RIGHTS) {
				int nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				for (int i = 0; i < nfd; i++) {
					int f;

					memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
					if (fd < 0)
						fd = f;
					else
						close(f);
				}
			} else if (c->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
				have_cred = 1;
			}
		}
		if (fd >= 0 && have_cred && n == sizeof(h) && !(msg.msg_flags & MSG_CTRUNC) &&
		    cred.pid > 0 && (h.flags & CW_PRELOAD_HELLO_EXEC))
			exec_request(s, &h, fd, cred.pid);
		else if (fd >= 0 && have_cred && n == sizeof(h) && !(msg.msg_flags & MSG_CTRUNC) &&
			 cred.pid > 0)
			take_hello(s, &h, fd, cred.pid);
		else
			s->hellos_refused++;
		if (fd >= 0)
			close(fd);
	}
}

/* ---- rings ---- */

static void ring_read(const __u8 *ring, __u32 mask, __u64 pos, void *dst, __u32 len)
{
	__u32 off = pos & mask, first = mask + 1 - off;

	if (first >= len) {
		memcpy(dst, ring + off, len);
		return;
	}
	memcpy(dst, ring + off, first);
	memcpy((__u8 *)dst + first, ring, len - first);
}

/*
 * One thread's ring in a drain, read up to the head it had when the drain began: the
 * heads of every ring are taken first, then the records handed on oldest first across
 * the rings. A record one thread wrote before another thread did something (a lock
 * destroyed, then taken again elsewhere) is then never handed on after it, whatever
 * order the rings are in and wherever a drain stops; taken ring by ring, the other
 * thread's record could go first and leave the reorder window before the first one was
 * read.
 */
struct pl_cursor {
	struct pl_proc *p;
	struct cw_preload_thread *t;
	__u64 tail, head;
	__u64 ts;			/* of the record at tail */
	int live;			/* a record is at tail */
};

/* The record at c->tail: its framing checked, its time in c->ts. A ring whose framing
 * breaks leaves nothing after it to trust: skipped to its head, counted. */
static void cursor_peek(struct preload_source *s, struct pl_cursor *c)
{
	struct cw_preload_region *r = c->p->r;
	struct cw_hdr h;

	c->live = 0;
	if (c->tail >= c->head)
		return;
	if (c->head - c->tail < sizeof(h)) {
		s->malformed++;
		c->tail = c->head;
		return;
	}
	ring_read(cw_preload_ring(r, c->t), r->ring_bytes - 1, c->tail, &h, sizeof(h));
	if (h.size < sizeof(h) || (h.size & 7) || h.size > c->head - c->tail) {
		s->malformed++;
		c->tail = c->head;
		return;
	}
	c->ts = h.ts_ns;
	c->live = 1;
}

/* Hand on the record at c->tail and look at the next. 0 or -errno / fn's return. */
static int cursor_deliver(struct preload_source *s, struct pl_cursor *c)
{
	struct cw_preload_region *r = c->p->r;
	struct cw_hdr *h = (struct cw_hdr *)s->buf;
	int err = 0;

	ring_read(cw_preload_ring(r, c->t), r->ring_bytes - 1, c->tail, h, sizeof(*h));
	ring_read(cw_preload_ring(r, c->t), r->ring_bytes - 1, c->tail, s->buf, h->size);
	c->tail += h->size;
	h->pid = c->p->pid;
	if (cw_record__check(h, h->size)) {
		s->malformed++;
	} else if (h->type == CW_EV_MMAP) {
		/* the process's own code, described by itself: a module record says it */
		err = cw_proc_maps__on_mmap(&c->p->maps, &s->emit, (const struct cw_ev_mmap *)h);
	} else {
		/* the modules its addresses need, ahead of it */
		if (h->type == CW_EV_STACK || h->type == CW_EV_USTACK_RAW)
			err = cw_proc_maps__for_stack(&c->p->maps, &s->emit, h, 100000000ULL);
		if (!err)
			err = cw_emit__deliver(&s->emit, h);
	}
	cursor_peek(s, c);
	return err;
}

/* The rings of every process read, up to their heads now, oldest record first. */
static int drain_rings(struct preload_source *s, __u64 deadline)
{
	size_t n = 0, nr = 0;
	int err = 0;

	for (size_t i = 0; i < s->nr_procs; i++) {
		struct pl_proc *p = s->procs[i];

		if (!p->r || !(p->added || p->closing))
			continue;
		for (__u32 k = 0; k < p->r->nr_threads; k++) {
			struct cw_preload_thread *t = cw_preload_slot(p->r, k);
			struct pl_cursor *v, *c;

			if (__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == CW_PRELOAD_SLOT_FREE)
				continue;
			v = cw_grow(s->cur, &s->cap_cur, n + 1, sizeof(*v));
			if (!v)
				return -ENOMEM;
			s->cur = v;
			c = &s->cur[n++];
			*c = (struct pl_cursor){ .p = p, .t = t, .tail = t->tail,
						 .head = __atomic_load_n(&t->head, __ATOMIC_ACQUIRE) };
			if (c->head - c->tail > p->r->ring_bytes) {
				/* the writer is not ours to trust beyond its framing */
				s->malformed++;
				c->tail = c->head;
			}
			cursor_peek(s, c);
		}
	}
	while (!err) {
		struct pl_cursor *best = NULL;

		for (size_t k = 0; k < n; k++)
			if (s->cur[k].live && (!best || s->cur[k].ts < best->ts))
				best = &s->cur[k];
		if (!best)
			break;
		err = cursor_deliver(s, best);
		/* writers as fast as this reader would keep the drain going */
		if (!(++nr & 255) && deadline && cw_now_ns() > deadline)
			break;
	}
	for (size_t k = 0; k < n; k++)
		__atomic_store_n(&s->cur[k].t->tail, s->cur[k].tail, __ATOMIC_RELEASE);
	return err;
}

static int send_site(struct preload_source *s, struct pl_proc *p, struct cw_preload_thread *t,
		     const struct cw_preload_site *e, struct cw_preload_site *last, __u64 now)
{
	struct cw_ev_lock_stats rec;
	int changed = 0;

	memset(&rec, 0, sizeof(rec));
	rec.hdr.type = CW_EV_LOCK_STATS;
	rec.hdr.size = sizeof(rec);
	rec.hdr.cpu = 0xffff;
	rec.hdr.flags = CW_F_AGGREGATED;
	rec.hdr.ts_ns = now;
	rec.hdr.pid = p->pid;
	rec.hdr.tid = e->what == CW_SITE_TRY ? t->tid : 0;
	rec.addr = e->addr;
	rec.ip = e->ip;
	rec.stack_id = e->what == CW_SITE_TRY ? e->stack_last : e->stack_id;
	rec.interval_ns = now - p->stats_ns;
#define DELTA(f)                                      \
	do {                                          \
		rec.f = e->f - last->f;               \
		changed |= rec.f != 0;                \
		last->f = e->f;                       \
	} while (0)
	DELTA(acquisitions);
	DELTA(contentions);
	DELTA(failures);
	DELTA(wait_ns_total);
	DELTA(hold_ns_total);
	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		DELTA(wait_hist[i]);
#undef DELTA
	if (!changed)
		return 0;
	rec.wait_ns_max = e->wait_ns_max;
	rec.hold_ns_max = e->hold_ns_max;
	rec.owner_tid = e->owner_tid;
	rec.op = e->op;
	rec.what = e->what;
	rec.kind = e->kind;
	rec.attr = e->attr;
	return cw_emit__deliver(&s->emit, &rec.hdr);
}

/* The statistics of slot i that grew since they were last sent. */
static int send_stats(struct preload_source *s, struct pl_proc *p, __u32 i, __u64 now)
{
	struct cw_preload_thread *t = cw_preload_slot(p->r, i);
	struct cw_preload_site *sites = cw_preload_sites(t);
	__u32 n = __atomic_load_n(&t->nr_sites, __ATOMIC_ACQUIRE);
	int err;

	if (n > p->r->nr_sites)
		n = p->r->nr_sites;
	if (!n)
		return 0;
	if (!p->sent[i]) {
		p->sent[i] = calloc(p->r->nr_sites, sizeof(*p->sent[i]));
		if (!p->sent[i])
			return -ENOMEM;
	}
	for (__u32 k = 0; k < n; k++) {
		const struct cw_preload_site *e = &sites[k];
		struct cw_preload_site *last = &p->sent[i][k];

		if (!__atomic_load_n(&e->addr, __ATOMIC_ACQUIRE))
			continue;
		if (e->what != CW_SITE_ACQUIRE && e->what != CW_SITE_TRY)
			continue;
		err = send_site(s, p, t, e, last, now);
		if (err)
			return err;
	}
	return 0;
}

/* A thread gone, all read: its slot back to the process, what it lost kept. */
/*
 * The wait of slot i's thread as a drain finds it (the slot's wait words, written by
 * the thread under wait_seq): a wait not said yet is said (CW_EV_BLOCKED, when it
 * began), a wait said and over is said ended. A wait that began and ended between two
 * drains is not said: it was a contention, counted in the statistics, not a thread
 * blocked. gone: the thread is (its slot is given back, or the process image).
 */
static int send_wait(struct preload_source *s, struct pl_proc *p, __u32 i, __u64 now, int gone)
{
	struct cw_preload_thread *t = cw_preload_slot(p->r, i);
	struct pl_wait *w = &p->waits[i];
	struct cw_ev_blocked b;
	__u32 seq = 0, owner = 0;
	__u64 addr = 0, since = 0, stack = 0;
	__u8 kind = 0, op = 0;
	int err;

	if (!gone) {
		seq = __atomic_load_n(&t->wait_seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			return 0;	/* being written: the next drain */
		addr = __atomic_load_n(&t->wait_addr, __ATOMIC_RELAXED);
		since = __atomic_load_n(&t->wait_since, __ATOMIC_RELAXED);
		stack = __atomic_load_n(&t->wait_stack, __ATOMIC_RELAXED);
		owner = __atomic_load_n(&t->wait_owner, __ATOMIC_RELAXED);
		kind = __atomic_load_n(&t->wait_kind, __ATOMIC_RELAXED);
		op = __atomic_load_n(&t->wait_op, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&t->wait_seq, __ATOMIC_RELAXED) != seq)
			return 0;
	}
	memset(&b, 0, sizeof(b));
	b.hdr = (struct cw_hdr){ .type = CW_EV_BLOCKED, .size = sizeof(b), .cpu = 0xffff,
				 .ts_ns = now, .pid = p->pid, .tid = t->tid };
	if (w->addr && (!addr || seq != w->seq)) {
		b.addr = w->addr;
		b.reason = CW_OFFCPU_NONE;
		err = cw_emit__deliver(&s->emit, &b.hdr);
		if (err)
			return err;
		w->addr = 0;
	}
	if (!addr || w->addr)
		return 0;
	b.addr = addr;
	b.since_ns = since;
	b.stack_id = stack;
	b.owner_tid = owner;
	b.reason = CW_OFFCPU_LOCK;
	b.kind = kind;
	b.op = op;
	err = cw_emit__deliver(&s->emit, &b.hdr);
	if (!err)
		*w = (struct pl_wait){ seq, addr };
	return err;
}

static void give_back(struct pl_proc *p, __u32 i)
{
	struct cw_preload_thread *t = cw_preload_slot(p->r, i);

	for (int k = 0; k < CW_LOST_MAX; k++)
		p->lost_gone[k] += t->lost[k];
	memset(cw_preload_sites(t), 0, (size_t)p->r->nr_sites * sizeof(struct cw_preload_site));
	if (p->sent[i])
		memset(p->sent[i], 0, (size_t)p->r->nr_sites * sizeof(*p->sent[i]));
	memset(t->lost, 0, sizeof(t->lost));
	t->wait_addr = 0;
	t->nr_sites = 0;
	t->tid = 0;
	t->head = t->tail = 0;
	t->calls = 0;
	__atomic_store_n(&t->state, CW_PRELOAD_SLOT_FREE, __ATOMIC_RELEASE);
}

/* After the rings: the statistics that grew, and the slots of threads gone given back. */
static int drain_proc(struct preload_source *s, struct pl_proc *p, int stats, __u64 now)
{
	int err = 0;

	for (__u32 i = 0; i < p->r->nr_threads && !err; i++) {
		struct cw_preload_thread *t = cw_preload_slot(p->r, i);
		__u32 state = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);

		if (state == CW_PRELOAD_SLOT_FREE)
			continue;
		/* with raw records, each wait is one already */
		if (!s->opts.raw_events && !s->opts.timeline)
			err = send_wait(s, p, i, now,
					state == CW_PRELOAD_SLOT_GONE || p->closing);
		if (!err && (stats || state == CW_PRELOAD_SLOT_GONE || p->closing))
			err = send_stats(s, p, i, now);
		if (!err && state == CW_PRELOAD_SLOT_GONE && t->tail == t->head)
			give_back(p, i);
	}
	if (stats)
		p->stats_ns = now;
	return err;
}

static int send_lost(struct preload_source *s, __u64 now)
{
	__u64 total[CW_LOST_MAX];
	int err = 0;

	memcpy(total, s->lost_total, sizeof(total));
	for (size_t i = 0; i < s->nr_procs; i++) {
		struct pl_proc *p = s->procs[i];

		if (!p->r)
			continue;
		for (int k = 0; k < CW_LOST_MAX; k++) {
			total[k] += p->lost_gone[k];
			for (__u32 j = 0; j < p->r->nr_threads; j++)
				total[k] += cw_preload_slot(p->r, j)->lost[k];
		}
		total[CW_LOST_MAP_FULL] += p->r->threads_unslotted;
	}
	total[CW_LOST_MALFORMED] += s->malformed;
	for (int k = 1; k < CW_LOST_MAX && !err; k++)
		err = cw_emit__lost(&s->emit, k, total[k], now);
	return err;
}

static int preload_drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	struct preload_source *s = (struct preload_source *)src;
	struct cw_emit *e = &s->emit;
	__u64 now = cw_now_ns(), deadline;
	int stats, err;

	err = cw_emit__begin(e, fn, ctx);
	if (err)
		return err;
	err = read_hellos(s);
	if (err) {
		set_err(s, "reading the in-process library's messages: %s", strerror(-err));
		return err;
	}
	/* a process removed and not added again is gone: its region is read to its end */
	for (size_t i = 0; i < s->nr_procs; i++)
		if (s->procs[i]->r && s->procs[i]->removed && !s->procs[i]->added)
			s->procs[i]->closing = 1;
	/* the statistics go with the tick, as the BPF source's */
	stats = s->stopped_ns || now >= e->next_tick_ns;
	deadline = s->stopped_ns ? 0 : now + s->opts.tick_ns / 4;
	err = drain_rings(s, deadline);
	for (size_t i = 0; i < s->nr_procs && !err; i++) {
		struct pl_proc *p = s->procs[i];

		if (p->r && (p->added || p->closing))
			err = drain_proc(s, p, stats, now);
	}
	/* regions of processes let go, read to their end */
	for (size_t i = s->nr_procs; i-- > 0 && !err;)
		if (s->procs[i]->closing)
			drop_proc(s, i);
	/* the losses with the tick (every slot of every process is read for them) */
	if (!err && stats)
		err = send_lost(s, now);
	if (!err)
		err = cw_emit__tick(e, s->stopped_ns ?: now, s->stopped_ns != 0);
	if (err)
		return err;
	return e->delivered;
}

/* ---- the source ---- */

static int preload_start(struct cw_source *src)
{
	struct preload_source *s = (struct preload_source *)src;

	s->started = 1;
	return 0;
}

static int preload_fd(struct cw_source *src)
{
	/* the rings are read on the session's timer: the socket wakes it for the hellos */
	return ((struct preload_source *)src)->sk;
}

static int preload_stop(struct cw_source *src)
{
	struct preload_source *s = (struct preload_source *)src;

	if (!s->stopped_ns)
		s->stopped_ns = cw_now_ns();
	return 0;
}

static void preload_stats(struct cw_source *src, struct cw_source_stats *st)
{
	*st = ((struct preload_source *)src)->emit.st;
}

static int preload_add_process(struct cw_source *src, int pid)
{
	struct preload_source *s = (struct preload_source *)src;
	struct pl_proc *p = find_proc(s, pid, 0);

	if (!p)
		p = new_proc(s, pid);
	if (!p) {
		set_err(s, "out of memory");
		return -ENOMEM;
	}
	p->added = 1;
	p->removed = 0;
	if (!seen_pid(s, pid, 1)) {
		set_err(s, "out of memory");
		return -ENOMEM;
	}
	/* a new image (the child of vfork execs before it runs a thing of its own) */
	seen_pid(s, pid, 0)->hello = p->r != NULL;
	seen_pid(s, pid, 0)->fallback = 0;
	seen_pid(s, pid, 0)->awaited = 0;
	return 0;
}

static int preload_remove_process(struct cw_source *src, int pid)
{
	struct preload_source *s = (struct preload_source *)src;
	struct pl_proc *p;

	/* a hello it sent before it went is taken first: its records are read */
	read_hellos(s);
	p = find_proc(s, pid, 0);
	if (!p)
		return 0;
	/*
	 * Gone, or exec'ing (added again at once): a region is read to its end at the next
	 * drain unless the process is added again; cw_preload_source__loads_in() lets the
	 * regions of the images before an exec go.
	 */
	p->added = 0;
	p->removed = 1;
	if (!p->r)
		for (size_t i = 0; i < s->nr_procs; i++)
			if (s->procs[i] == p)
				drop_proc(s, i);
	return 0;
}

static int preload_refresh_process(struct cw_source *src, int pid)
{
	struct preload_source *s = (struct preload_source *)src;
	struct pl_proc *p = find_proc(s, pid, 0);

	if (!p)
		return 0;
	return cw_proc_maps__send(&p->maps, &s->emit, cw_now_ns(), 1);
}

static void preload_free(struct cw_source *src)
{
	struct preload_source *s = (struct preload_source *)src;

	for (size_t i = 0; i < s->nr_procs; i++)
		free_proc(s->procs[i]);
	free(s->procs);
	free(s->seen);
	free(s->cur);
	free(s->asan_options);
	if (s->sk >= 0)
		close(s->sk);
	cw_emit__fini(&s->emit);
	free(s->buf);
	free(s);
}

static const struct cw_source_ops preload_source_ops = {
	.name = "preload",
	.start = preload_start,
	.fd = preload_fd,
	.drain = preload_drain,
	.stop = preload_stop,
	.stats = preload_stats,
	.add_process = preload_add_process,
	.remove_process = preload_remove_process,
	.refresh_process = preload_refresh_process,
	.free = preload_free,
};

/* The library: beside the concwatch binary (the build tree), or installed under lib/. */
static int find_lib(char *dst, size_t size)
{
	const char *env = getenv("CONCWATCH_PRELOAD_LIB");
	static const char *const rel[] = { LIB_NAME, "../lib/concwatch/" LIB_NAME };
	char exe[2048], *slash;
	ssize_t n;

	if (env && *env) {
		snprintf(dst, size, "%s", env);
		return access(dst, R_OK) ? -errno : 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	slash[1] = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(dst, size, "%s%s", exe, rel[i]);
		if (!access(dst, R_OK))
			return 0;
	}
	snprintf(dst, size, "%s%s", exe, LIB_NAME);
	return -ENOENT;
}

int cw_preload_source__available(void)
{
	char path[4096];

	return !find_lib(path, sizeof(path));
}

int cw_preload_source__open(const struct cw_source_opts *opts, struct cw_source **out,
			    char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct preload_source *s;
	int one = 1, ret;
	socklen_t len;

	if (opts->no_uprobes) {
		snprintf(err, errlen, "--no-uprobes traces no lock call: the in-process library "
			 "would have nothing to do; use --backend bpf");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->buf = malloc(CW_RECORD_MAX + 8))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &preload_source_ops;
	s->sk = -1;
	s->opts = *opts;
	if (!s->opts.tick_ns)
		s->opts.tick_ns = DEFAULT_TICK_NS;
	cw_emit__init(&s->emit, s->opts.tick_ns);
	ret = find_lib(s->lib, sizeof(s->lib));
	if (ret) {
		snprintf(err, errlen, "the in-process library %s: %s (build it with make)", s->lib,
			 strerror(-ret));
		preload_free(&s->base);
		return -EOPNOTSUPP;
	}
	snprintf(s->env_opts, sizeof(s->env_opts), "stack=%d,raw=%d,free=%d",
		 opts->stack_bytes < 0 ? 0 : opts->stack_bytes ?: 16384,
		 opts->raw_events || opts->timeline, !!opts->track_free);
	s->sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->sk < 0 || setsockopt(s->sk, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
		ret = -errno;
		goto fail;
	}
	/* autobind: the kernel picks a free abstract name (five hex digits) */
	if (bind(s->sk, (struct sockaddr *)&sa, sizeof(sa_family_t))) {
		ret = -errno;
		goto fail;
	}
	len = sizeof(sa);
	if (getsockname(s->sk, (struct sockaddr *)&sa, &len) || len <= sizeof(sa_family_t) + 1) {
		ret = -EINVAL;
		goto fail;
	}
	len -= sizeof(sa_family_t);
	snprintf(s->sock, sizeof(s->sock), "@%.*s", (int)len - 1, sa.sun_path + 1);
	*out = &s->base;
	return 0;
fail:
	snprintf(err, errlen, "the in-process library's socket: %s", strerror(-ret));
	preload_free(&s->base);
	return ret;
}

int cw_preload_source__setenv(struct cw_source *src)
{
	struct preload_source *s = (struct preload_source *)src;
	const char *old = getenv("LD_PRELOAD");
	char *v = NULL;
	int ret;

	if (src->ops != &preload_source_ops)
		return -EINVAL;
	/* after what the user preloads: a sanitizer's runtime must come first */
	if (old && *old)
		ret = asprintf(&v, "%s:%s", old, s->lib);
	else
		ret = asprintf(&v, "%s", s->lib);
	if (ret < 0)
		return -ENOMEM;
	ret = setenv("LD_PRELOAD", v, 1) || setenv(CW_PRELOAD_ENV_SOCK, s->sock, 1) ||
	      setenv(CW_PRELOAD_ENV_OPTS, s->env_opts, 1) ? -errno : 0;
	free(v);
	if (ret)
		return ret;
	/*
	 * AddressSanitizer wants its runtime first of the libraries loaded and ends the
	 * program otherwise; it runs well after the library: told not to check (its options
	 * are separated by ':').
	 */
	old = getenv("ASAN_OPTIONS");
	free(s->asan_options);
	s->asan_options = old ? strdup(old) : NULL;
	if (old && *old)
		ret = asprintf(&v, "%s:verify_asan_link_order=0", old);
	else
		ret = asprintf(&v, "verify_asan_link_order=0");
	if (ret < 0)
		return -ENOMEM;
	ret = setenv("ASAN_OPTIONS", v, 1) ? -errno : 0;
	free(v);
	return ret;
}

int cw_preload_source__unsetenv(struct cw_source *src, const char *ld_preload)
{
	if (ld_preload)
		setenv("LD_PRELOAD", ld_preload, 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv(CW_PRELOAD_ENV_SOCK);
	unsetenv(CW_PRELOAD_ENV_OPTS);
	if (src->ops == &preload_source_ops) {
		struct preload_source *s = (struct preload_source *)src;

		if (s->asan_options)
			setenv("ASAN_OPTIONS", s->asan_options, 1);
		else
			unsetenv("ASAN_OPTIONS");
	}
	return 0;
}

void cw_preload_source__on_exec(struct cw_source *src, int (*fn)(void *ctx, int pid, int tid),
				void *ctx)
{
	struct preload_source *s = (struct preload_source *)src;

	if (src->ops != &preload_source_ops)
		return;
	s->on_exec = fn;
	s->on_exec_ctx = ctx;
}

void cw_preload_source__on_hello(struct cw_source *src,
				 void (*fn)(void *ctx, int pid, __s64 tls_slot), void *ctx)
{
	struct preload_source *s = (struct preload_source *)src;

	if (src->ops != &preload_source_ops)
		return;
	s->on_hello = fn;
	s->on_hello_ctx = ctx;
}

/* Whether ELF file path names a program interpreter (a dynamic loader): 1, 0, -errno. */
static int has_interp(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph)) {
		close(fd);
		return -ENOEXEC;
	}
	for (int i = 0; i < eh.e_phnum && !ret; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (off_t)i * sizeof(ph)) != sizeof(ph))
			break;
		ret = ph.p_type == PT_INTERP;
	}
	close(fd);
	return ret;
}

/* The value of AT_SECURE in pid's auxiliary vector (a set-user-ID program): 1, 0, -errno. */
static int secure_exec(int pid)
{
	char path[64];
	Elf64_auxv_t av;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (read(fd, &av, sizeof(av)) == sizeof(av) && av.a_type != AT_NULL)
		if (av.a_type == AT_SECURE)
			ret = av.a_un.a_val != 0;
	close(fd);
	return ret;
}

/* Whether pid's environment names the library in LD_PRELOAD and this source's socket. */
static int env_has_library(struct preload_source *s, int pid)
{
	char path[64], *buf = NULL, *e;
	size_t len = 0, cap = 0;
	int fd, lib = 0, sock = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		char *v = cw_grow(buf, &cap, len + 4096 + 1, 1);

		if (!v)
			break;
		buf = v;
		n = read(fd, buf + len, 4096);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	buf[len] = '\0';
	for (e = buf; e < buf + len; e += strlen(e) + 1) {
		if (!strncmp(e, CW_PRELOAD_ENV_SOCK "=", strlen(CW_PRELOAD_ENV_SOCK) + 1))
			sock = !strcmp(e + strlen(CW_PRELOAD_ENV_SOCK) + 1, s->sock);
		if (!strncmp(e, "LD_PRELOAD=", 11)) {
			/* the loader splits it at spaces and colons */
			char *save = NULL;

			for (char *w = strtok_r(e + 11, " :", &save); w && !lib;
			     w = strtok_r(NULL, " :", &save))
				lib = !strcmp(w, s->lib);
		}
	}
	free(buf);
	return lib && sock;
}

/*
 * Process pid exec'ed at since_ns (0: held at that exec, nothing of the new image ran):
 * the regions of the images before are read to their end and let go; whether the new
 * image said hello already.
 */
static int exec_images(struct preload_source *s, int pid, __u64 since_ns)
{
	struct pl_proc *p;

	read_hellos(s);
	p = find_proc(s, pid, 0);
	if (!p || !p->r)
		return 0;
	if (since_ns && p->start_ns >= since_ns)
		return 1;
	return next_image(s, p) ? 0 : -ENOMEM;
}

/* Whether process pid shares its memory with parent (vfork, a clone with CLONE_VM). */
static int shares_memory(int pid, int parent)
{
	return syscall(SYS_kcmp, parent, pid, KCMP_VM, 0, 0) == 0;
}

int cw_preload_source__loads_in(struct cw_source *src, int pid, int parent, __u64 since_ns,
				char *why, size_t len)
{
	struct preload_source *s = (struct preload_source *)src;
	struct pl_seen *e, *pe;
	char exe[64];
	int ret;

	if (src->ops != &preload_source_ops)
		return -EINVAL;
	e = seen_pid(s, pid, 1);
	if (!e)
		return -ENOMEM;
	*why = '\0';
	if (parent) {
		struct pl_proc *p;

		/* a forked child runs its parent's image: the library is in it, or not */
		pe = seen_pid(s, parent, 0);
		e->awaited = 0;
		read_hellos(s);
		p = find_proc(s, pid, 0);
		e->hello = p && p->r;
		/* on its parent's memory, it has no region of its own: no hello to wait for */
		if (!e->hello && shares_memory(pid, parent))
			e->hello = 1;
		if (!pe || !pe->fallback)
			return 1;
		snprintf(why, len, "is a child of process %d", parent);
		e->fallback = 1;
		return 0;
	}
	e->awaited = 0;
	ret = exec_images(s, pid, since_ns);
	if (ret < 0)
		return ret;
	e->hello = ret;
	/* the library said so itself (the process may be gone already, its exe unreadable) */
	if (e->hello)
		return 1;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	ret = has_interp(exe);
	if (ret == 0)
		snprintf(why, len, "is a static binary");
	if (ret > 0) {
		ret = secure_exec(pid);
		if (ret > 0)
			snprintf(why, len, "runs as a secure execution (set-user-ID or "
				 "capabilities), where the loader ignores LD_PRELOAD");
		ret = ret < 0 ? ret : !ret;
	}
	if (ret > 0) {
		ret = env_has_library(s, pid);
		if (ret == 0)
			snprintf(why, len, "has an environment without the library (cleared or "
				 "changed)");
	}
	if (ret < 0)
		return ret;
	e->fallback = !ret;
	e->awaited = ret > 0;
	return ret;
}

size_t cw_preload_source__silent(struct cw_source *src, int *pids, size_t max)
{
	struct preload_source *s = (struct preload_source *)src;
	size_t n = 0;

	if (src->ops != &preload_source_ops)
		return 0;
	/* a hello may be waiting still */
	read_hellos(s);
	for (size_t i = 0; i < s->nr_seen; i++)
		if (s->seen[i].awaited && !s->seen[i].hello) {
			if (n < max)
				pids[n] = s->seen[i].pid;
			n++;
		}
	return n;
}
