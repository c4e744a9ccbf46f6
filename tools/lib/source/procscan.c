// SPDX-License-Identifier: GPL-2.0
/*
 * The "procscan" source: one look at a process, which may have hung long before concwatch
 * started, without tracing it (`concwatch deadlock -p PID`). It produces the records a
 * tracing source would have left about the same state, so the engine's wait-for graph is
 * built the same way from either. Choices, and why:
 *
 * - No ptrace. Stopping a hung production process, even briefly, is a change its owner
 *   did not ask for, and a process already traced (gdb, strace) cannot be attached at all.
 *   /proc/PID/task/TID/syscall gives what a blocked thread waits in (the system call, its
 *   arguments, its user %rsp and %rip) and process_vm_readv() the memory behind it; both
 *   need the same permission as ptrace, nothing more. The cost: %rbp is not known (0),
 *   which only matters for code whose CFI computes the frame from %rbp.
 * - start() looks, once, and queues every record; drain() hands them on with a tick and
 *   ends the source. So a pid that does not exist or may not be read fails at start with
 *   one line for the user, and a drain never blocks.
 * - The records, in this order (what the engine may rely on):
 *     CW_EV_COMM    one per live thread found (its name read): the threads alive at the
 *                   look (not a zombie leader);
 *     CW_EV_MODULE  the process's executable mappings (procinfo.c, as the bpf source's);
 *     per thread found blocked, in /proc's order:
 *       CW_EV_STACK       stack id, the pc as its one frame (CW_STACK_TRUNCATED),
 *       CW_EV_USTACK_RAW  the same id, ip/sp (bp 0), a copy of the top of the stack,
 *       CW_EV_BLOCKED     CW_F_SYNTHETIC, since_ns 0, stack_id set (0 if unread);
 *     CW_EV_MODULE  again if a pc lies outside every mapping sent (mapped meanwhile);
 *     then at drain: CW_EV_LOST (CW_LOST_STACK) for stacks not read, CW_EV_TICK.
 *   Every record has CW_F_SYNTHETIC and the time of the look (ticks: of the drain).
 * - Which threads are blocked: state S or D with a system call (nr >= 0, or -1 for a
 *   thread asleep outside one: a page fault, futex_op ~0). A futex wait (futex(2) ops
 *   WAIT, WAIT_BITSET, LOCK_PI, LOCK_PI2, WAIT_REQUEUE_PI; futex_waitv(2) by its first
 *   word; futex_wait(2)) is CW_OFFCPU_FUTEX on the word; anything else SLEEP (S) or IO
 *   (D) with the call's number. A running thread is not blocked. A stopped one (T, t:
 *   SIGSTOP, or a debugger attached to the hung process) inside a system call is taken
 *   as waiting in it, as it will once continued (SLEEP when not a futex wait), and
 *   counted in the notes; stopped outside one, it is not blocked.
 * - The holder: from the lock's memory, never guessed. A PI word holds its owner's tid.
 *   A glibc mutex (events.h: __lock +0 holding 1 or 2, __owner +8, __kind +16) names it
 *   in __owner; also a robust mutex, whose word holds the tid like a PI one. The tid is
 *   taken only when it is a thread found here, or one that no longer exists anywhere
 *   (checked by /proc/TID, with a plausible value and a valid mutex kind): the engine
 *   reads "owner exited" from a holder without a COMM. Anything else (a live task of
 *   another process, garbage) is 0, unknown. WAIT_REQUEUE_PI waits on a condition
 *   variable's word, which names no holder. A glibc rwlock names its writer, or counts
 *   its readers (read_rwlock()).
 * - A leader that ended while its threads run (pthread_exit()) is a zombie in task/ with
 *   no memory: its maps read empty and process_vm_readv() on it fails. It is not named
 *   (it exited: a lock it still holds names an exited holder), and maps and memory are
 *   read through a live thread instead.
 * - A process in a pid namespace of its own stores tids as it sees them: they are
 *   translated with each thread's NSpid, and one that names no thread found is 0 (from
 *   here we cannot tell whether it exited).
 * - Every read may fail: the thread exited meanwhile, its memory went away. That thread's
 *   part is skipped and counted (notes), and a stack that could not be copied is a lost
 *   record. Only a process that cannot be looked at at all is an error.
 * - Beside a tracing source (opts->follow_blocked: `report -p`, `record -p`), the look
 *   tells what the tracer cannot: the waits that began before it attached, whose end
 *   no probe sees either (the uretprobe of an acquire is set at its entry). So the
 *   threads found blocked are looked at again every tick, /proc/PID/task/TID/syscall
 *   alone, and a thread whose line changed (it returned, or waits elsewhere now: the
 *   tracer saw that) or that is gone gets a CW_OFFCPU_NONE record, CW_F_SYNTHETIC, at
 *   the time of that look; the source ends when none is left. It sends no ticks: the
 *   tracing source's move the clock, and a tick of its own would not carry their flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/array.h"
#include "source/emit.h"
#include "source/procinfo.h"
#include "source/source.h"
#include "source/target.h"

#define DEFAULT_STACK_BYTES 16384
#define MAX_STACK_BYTES (24 * 1024)	/* as the bpf source's: a record's size is 16 bits */
#define DEFAULT_TICK_NS 100000000ULL

/* x86-64 system call numbers, as /proc/PID/task/TID/syscall shows them */
#define NR_FUTEX 202
#define NR_FUTEX_WAITV 449
#define NR_FUTEX_WAIT 455

/* futex(2) ops (linux/futex.h), op & FUTEX_CMD_MASK */
#define FUTEX_CMD_MASK 0x7f
#define OP_WAIT 0
#define OP_LOCK_PI 6
#define OP_WAIT_BITSET 9
#define OP_WAIT_REQUEUE_PI 11
#define OP_LOCK_PI2 13
#define TID_MASK 0x3fffffffU		/* FUTEX_TID_MASK */

/* glibc's pthread_mutex_t (x86-64, events.h) */
#define MUTEX_OWNER_OFF 8
#define MUTEX_KIND_OFF 16
#define MUTEX_KIND_TYPE_MASK 3		/* PTHREAD_MUTEX_KIND_MASK_NP: normal..adaptive */
#define MUTEX_ROBUST 16
#define MUTEX_PI 32
#define MUTEX_PP 64
#define MUTEX_PSHARED 128
#define MUTEX_ELISION 256
#define MUTEX_NO_ELISION 512
#define MUTEX_KNOWN_FLAGS (MUTEX_ROBUST | MUTEX_PI | MUTEX_PP | MUTEX_PSHARED | MUTEX_ELISION | \
			   MUTEX_NO_ELISION)

/* glibc's pthread_rwlock_t: __readers' phase bit and the readers' count in it */
#define RW_WRPHASE 1
#define RW_READERS_SHIFT 3

struct thread {
	__u32 tid;
	__u32 ns_tid;		/* the tid as the process sees it (its pid namespace) */
	int exited;		/* a leader that ended (pthread_exit()): a zombie, no COMM */
};

struct range {
	__u64 start, end;
};

/* A thread found blocked, looked at again while following (opts.follow_blocked). */
struct followed {
	__u32 tid;
	char line[200];		/* its /proc/PID/task/TID/syscall at the first look: 9
				 * numbers, at most 19 characters each */
};

struct procscan_source {
	struct cw_source base;
	struct cw_source_opts opts;
	struct cw_emit emit;
	struct cw_proc_maps maps;
	int pid;
	int mm_tid;		/* whose /proc files and memory show the process's: the leader,
				 * or a live thread once the leader ended (its maps are empty) */
	int started;
	int looked;		/* start() ran to its end */
	int nested;		/* in a pid namespace below ours: its tids are not ours */
	__u64 ts;		/* when we looked: every record's time */
	__u64 pid_max;

	struct thread *threads;	/* found and named */
	size_t nr_threads, cap_threads;
	struct range *mem;	/* every mapping, to know where a stack ends */
	size_t nr_mem, cap_mem;
	__u64 *pcs;		/* pcs of the stacks sent, to check the modules cover them */
	size_t nr_pcs, cap_pcs;
	struct followed *followed;	/* opts.follow_blocked: still in their first wait */
	size_t nr_followed, cap_followed;
	int sent;		/* the look's records were handed on */
	__u64 last_look;	/* when the followed threads were looked at last */

	/* what could not be read, for the notes and the lost records */
	__u64 gone;		/* threads that ended (or became unreadable) while looked at */
	__u64 stacks_unread;	/* blocked threads whose stack could not be copied */
	__u64 blocked;		/* blocked records made */
	__u64 stopped;		/* threads stopped (SIGSTOP, a debugger) in a system call */
	int no_read_err;	/* why the last stack copy failed (errno) */
};

__attribute__((format(printf, 2, 3))) static void set_err(struct procscan_source *s,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.err, sizeof(s->base.err), fmt, ap);
	va_end(ap);
}

/* Read a small /proc file into buf (NUL-terminated): bytes read, or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static int exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int exists(const char *fmt, ...)
{
	char path[96];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return !stat(path, &st) || errno != ENOENT;
}

/* Copy len bytes at addr of the process: bytes copied (fewer at a fault), or -errno. */
static ssize_t read_mem(int pid, __u64 addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	return n < 0 ? -errno : n;
}

/* /proc/sys/kernel/pid_max: no tid is above it. */
static __u64 read_pid_max(void)
{
	char buf[32];

	if (read_small("/proc/sys/kernel/pid_max", buf, sizeof(buf)) <= 0)
		return 4194304; /* PID_MAX_LIMIT on 64-bit */
	return strtoull(buf, NULL, 10);
}

/* The last NSpid of a thread: its tid inside its own pid namespace; tid when not known. */
static __u32 ns_tid(int pid, __u32 tid)
{
	char path[64], line[256];
	__u32 last = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%u/status", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return tid;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;

		if (strncmp(line, "NSpid:", 6))
			continue;
		for (;;) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			last = v;
			p = end;
		}
		break;
	}
	fclose(f);
	return last;
}

/* Every mapping of the process, to know where the stack a pointer is in ends. */
static int read_mappings(struct procscan_source *s)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/maps", s->pid, s->mm_tid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end;
		struct range *r;
		char perms[8];

		/* a line longer than the buffer continues in the next read: not a new mapping */
		if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) != 3 || perms[0] != 'r') {
			while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
				;
			continue;
		}
		r = cw_grow(s->mem, &s->cap_mem, s->nr_mem + 1, sizeof(*r));
		if (!r) {
			fclose(f);
			return -ENOMEM;
		}
		s->mem = r;
		s->mem[s->nr_mem++] = (struct range){ start, end };
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	fclose(f);
	return 0;
}

/*
 * End of the readable mapping holding addr, or 0. Not joined with a mapping right above:
 * a thread's stack ends where its mapping does (glibc's thread descriptor at the top),
 * and what follows belongs to something else.
 */
static __u64 mapping_end(const struct procscan_source *s, __u64 addr)
{
	for (size_t i = 0; i < s->nr_mem; i++)
		if (addr >= s->mem[i].start && addr < s->mem[i].end)
			return s->mem[i].end;
	return 0;
}

static const struct thread *find_thread(const struct procscan_source *s, __u32 ns_tid)
{
	for (size_t i = 0; i < s->nr_threads; i++)
		if (s->threads[i].ns_tid == ns_tid)
			return &s->threads[i];
	return NULL;
}

static void fill_hdr(struct procscan_source *s, struct cw_hdr *h, __u16 type, size_t size,
		     __u32 tid)
{
	*h = (struct cw_hdr){
		.type = type,
		.size = size,
		.cpu = 0xffff,
		.flags = CW_F_SYNTHETIC,
		.ts_ns = s->ts,
		.pid = s->pid,
		.tid = tid,
	};
}

/* The state letter of a thread (R, S, D, T...), or -errno. */
static int thread_state(int pid, __u32 tid)
{
	char path[64], buf[1024], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%u/stat", pid, tid);
	n = read_small(path, buf, sizeof(buf));
	if (n <= 0)
		return n ? n : -ESRCH;
	/* the name in parentheses may hold anything, ")" too: the state follows the last one */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : -EINVAL;
}

/*
 * Find the threads and queue their names: the threads alive when we looked. A leader
 * that ended while its threads run (pthread_exit()) stays a zombie in task/: it is noted,
 * not named, so a lock it still holds names a holder that exited.
 */
static int name_threads(struct procscan_source *s)
{
	size_t nr = 0;
	int *tids, err;

	err = cw_target__threads(s->pid, &tids, &nr);
	if (err)
		return err;
	for (size_t i = 0; i < nr && !err; i++) {
		int state = thread_state(s->pid, tids[i]), exited = state == 'Z' || state == 'X';
		struct cw_ev_comm c = {};
		struct thread *t;

		if (state < 0 || cw_target__comm(s->pid, tids[i], c.comm, sizeof(c.comm))) {
			s->gone++; /* ended since the directory was read */
			continue;
		}
		t = cw_grow(s->threads, &s->cap_threads, s->nr_threads + 1, sizeof(*t));
		if (!t) {
			err = -ENOMEM;
			break;
		}
		s->threads = t;
		s->threads[s->nr_threads++] = (struct thread){ tids[i], ns_tid(s->pid, tids[i]),
							       exited };
		if (exited)
			continue;
		if (!s->mm_tid || tids[i] == s->pid)
			s->mm_tid = tids[i];
		fill_hdr(s, &c.hdr, CW_EV_COMM, sizeof(c), tids[i]);
		err = cw_emit__queue(&s->emit, &c.hdr);
	}
	free(tids);
	return err;
}

/*
 * The module records queued from off on, read through thread mm_tid (the leader's maps
 * are empty once it ended), made the process's.
 */
static void own_records(struct procscan_source *s, size_t off)
{
	while (off < s->emit.queue.len) {
		struct cw_hdr *h = (struct cw_hdr *)(s->emit.queue.buf + off);

		h->pid = s->pid;
		off += h->size;
	}
}

/* Send the modules not sent yet, queued. */
static int send_modules(struct procscan_source *s)
{
	size_t off = s->emit.queue.len;
	int err = cw_proc_maps__send(&s->maps, &s->emit, s->ts, 1);

	own_records(s, off);
	return err;
}

/*
 * The tid a lock word or __owner holds (as the process sees it), made ours when it may
 * be named as the holder: a thread found here, or, when check_gone, one that exists no
 * more. 0 otherwise.
 */
static __u32 holder(const struct procscan_source *s, __u32 value, int check_gone)
{
	const struct thread *t;

	if (!value || value > s->pid_max)
		return 0;
	t = find_thread(s, value);
	if (t)
		return t->tid;
	/* in a namespace of its own we cannot look its tids up: not known */
	if (!check_gone || s->nested)
		return 0;
	/* a live task: a thread created since we looked, or another process's */
	if (exists("/proc/%d/task/%u", s->pid, value) || exists("/proc/%u", value))
		return 0;
	return value;
}

static int valid_mutex_kind(__s32 kind)
{
	return kind >= 0 && !(kind & ~(MUTEX_KIND_TYPE_MASK | MUTEX_KNOWN_FLAGS));
}

/*
 * What the futex word at addr, waited on with op, says of its holder: b->owner_tid and
 * b->kind. Reads that fail leave them unknown.
 */
static void read_holder(struct procscan_source *s, struct cw_ev_blocked *b, __u32 op)
{
	__u32 cmd = op & FUTEX_CMD_MASK, word, owner;
	__s32 kind;
	__u8 mem[20];
	int is_mutex;

	b->kind = CW_LOCK_FUTEX;
	if (b->addr & 3 || read_mem(s->mm_tid, b->addr, mem, 4) != 4)
		return;
	memcpy(&word, mem, 4);
	/* the rest of a mutex's layout, when there is one */
	is_mutex = read_mem(s->mm_tid, b->addr + 4, mem + 4, 16) == 16;
	memcpy(&owner, mem + MUTEX_OWNER_OFF, 4);
	memcpy(&kind, mem + MUTEX_KIND_OFF, 4);
	is_mutex = is_mutex && valid_mutex_kind(kind);

	if (op < CW_FUTEX_OP_WAIT2 && (cmd == OP_LOCK_PI || cmd == OP_LOCK_PI2)) {
		/* the word holds the owner's tid, FUTEX_WAITERS and OWNER_DIED besides */
		b->owner_tid = holder(s, word & TID_MASK, is_mutex);
		if (is_mutex && (kind & MUTEX_PI))
			b->kind = CW_LOCK_MUTEX;
		return;
	}
	if (op < CW_FUTEX_OP_WAIT2 && cmd == OP_WAIT_REQUEUE_PI)
		return; /* a condition variable's word: no holder */
	if (!is_mutex)
		return;
	if (word == 1 || word == 2) {
		/* plain glibc mutex: locked (1), with waiters (2); the holder in __owner */
		b->owner_tid = holder(s, owner, 1);
	} else if ((kind & MUTEX_ROBUST) && !(kind & (MUTEX_PI | MUTEX_PP)) &&
		   (word & TID_MASK) == owner) {
		/* a robust mutex's word holds the owner's tid, as __owner does */
		b->owner_tid = holder(s, owner, 1);
	}
	if (b->owner_tid)
		b->kind = CW_LOCK_MUTEX;
}

/*
 * A futex(2) wait with value val on a glibc rwlock's word (glibc 2.25 and later, 2.36
 * checked; pthread_rwlock_common.c): a reader waits on __wrphase_futex (+8) for the write
 * phase to end, with 1|FUTEX_USED; a writer there for the readers to leave, with
 * FUTEX_USED; a writer on __writers_futex (+12) behind the primary writer, with
 * 1|FUTEX_USED. The value waited with and the layout (padding zero, a known mode) must
 * agree, as a mutex's kind must: a condition variable's, a semaphore's or a barrier's
 * word is waited on with other values, or has other fields beside it. Then __readers
 * says the phase: a write phase is held by __cur_writer (owner_tid), a read phase by
 * __readers >> 3 readers (b->readers), who leave no trace of who they are.
 */
static void read_rwlock(struct procscan_source *s, struct cw_ev_blocked *b, __u32 val)
{
	__u32 w[14], word_off = b->addr & 4 ? 12 : 8;

	if (b->addr & 3 || b->addr < word_off ||
	    read_mem(s->mm_tid, b->addr - word_off, w, sizeof(w)) != sizeof(w))
		return;
	/* __pad3, __pad4, __rwelision with __pad1, __pad2; __flags: 0..2 */
	if (w[4] || w[5] || w[8] || w[9] || w[10] || w[11] || w[12] > 2 || w[2] > 3 || w[3] > 3)
		return;
	if (word_off == 8 ? val != 3 && val != 2 : val != 3)
		return;
	b->kind = CW_LOCK_RWLOCK;
	if (w[0] & RW_WRPHASE)
		b->owner_tid = holder(s, w[6], 1);
	else
		b->readers = w[0] >> RW_READERS_SHIFT;
}

static __u64 stack_id(__u32 tid, __u64 pc, __u64 sp)
{
	__u64 v[3] = { tid, pc, sp }, h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < 3; i++) {
		h ^= v[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h | 1; /* 0 means "no stack" */
}

/*
 * Queue the user stack of thread tid, blocked with registers pc/sp: a CW_EV_STACK of the pc
 * and a CW_EV_USTACK_RAW with the top of its stack, up to stack_bytes or the end of the
 * stack's mapping. Its id, or 0 when the stack could not be read.
 */
static __u64 queue_stack(struct procscan_source *s, __u32 tid, __u64 pc, __u64 sp)
{
	struct {
		struct cw_ev_stack hdr;
		__u64 ip;
	} st = {};
	size_t want = s->opts.stack_bytes;
	struct cw_ev_ustack_raw *r;
	__u64 id, end, *pcs;
	ssize_t got;
	int err;

	if (!want || !sp || !pc)
		return 0;
	end = mapping_end(s, sp);
	if (!end) {
		s->stacks_unread++;
		s->no_read_err = EFAULT;
		return 0;
	}
	if (end - sp < want)
		want = end - sp;
	r = calloc(1, sizeof(*r) + want);
	if (!r)
		return 0;
	got = read_mem(s->mm_tid, sp, r->data, want);
	if (got <= 0) {
		s->stacks_unread++;
		s->no_read_err = got ? -got : EFAULT;
		free(r);
		return 0;
	}
	id = stack_id(tid, pc, sp);
	fill_hdr(s, &st.hdr.hdr, CW_EV_STACK, sizeof(st), tid);
	st.hdr.stack_id = id;
	st.hdr.space = CW_STACK_USER;
	st.hdr.nr = 1;
	st.hdr.flags = CW_STACK_TRUNCATED; /* the pc only: the frames are in the copy */
	st.ip = pc;

	r->stack_id = id;
	r->ip = pc;
	r->sp = sp;
	r->bp = 0; /* not in /proc: CFI that needs it ends the unwinding there */
	r->len = (size_t)got & ~7UL;
	if ((size_t)got < want)
		r->flags = CW_STACK_FAULTED;
	else if (want == (size_t)s->opts.stack_bytes && sp + want < end)
		r->flags = CW_STACK_TRUNCATED;
	fill_hdr(s, &r->hdr, CW_EV_USTACK_RAW, sizeof(*r) + r->len, tid);
	err = cw_emit__queue(&s->emit, &st.hdr.hdr);
	if (!err)
		err = cw_emit__queue(&s->emit, &r->hdr);
	free(r);
	pcs = err ? NULL : cw_grow(s->pcs, &s->cap_pcs, s->nr_pcs + 1, sizeof(*pcs));
	if (!pcs)
		return 0;
	s->pcs = pcs;
	s->pcs[s->nr_pcs++] = pc;
	return id;
}

/* Keep looking at thread tid, found blocked with syscall line line. 0 or -ENOMEM. */
static int follow(struct procscan_source *s, __u32 tid, const char *line)
{
	struct followed *v;
	size_t n;

	v = cw_grow(s->followed, &s->cap_followed, s->nr_followed + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->followed = v;
	v = &s->followed[s->nr_followed++];
	v->tid = tid;
	n = strnlen(line, sizeof(v->line) - 1);
	memcpy(v->line, line, n);
	v->line[n] = '\0';
	return 0;
}

/*
 * Whether followed thread f still waits where the first look found it: the same line,
 * system call, arguments, stack pointer and pc (a thread woken that waits again at the
 * same place, say a mutex's lost race, never stopped waiting on the same thing).
 */
static int still_waiting(const struct procscan_source *s, const struct followed *f)
{
	char path[64], buf[512];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%u/syscall", s->pid, f->tid);
	len = read_small(path, buf, sizeof(buf));
	return len > 0 && !strncmp(buf, f->line, sizeof(f->line) - 1);
}

/* Look at the followed threads again: a CW_OFFCPU_NONE for each that left its wait. */
static int look_again(struct procscan_source *s, __u64 now)
{
	size_t k = 0;
	int err = 0;

	for (size_t i = 0; i < s->nr_followed; i++) {
		struct cw_ev_blocked b = {};

		if (err || still_waiting(s, &s->followed[i])) {
			s->followed[k++] = s->followed[i];
			continue;
		}
		fill_hdr(s, &b.hdr, CW_EV_BLOCKED, sizeof(b), s->followed[i].tid);
		b.hdr.ts_ns = now;
		b.reason = CW_OFFCPU_NONE;
		err = cw_emit__deliver(&s->emit, &b.hdr);
	}
	s->nr_followed = k;
	return err;
}

/*
 * Look at one thread: queue its stack and a blocked record when it waits. 1 when /proc
 * showed what it does, 0 when not (gone; *perm set to the errno when not permitted), or
 * -errno for what makes the whole look fail.
 */
static int look_at(struct procscan_source *s, __u32 tid, int *perm)
{
	unsigned long long a[6] = {}, sp = 0, pc = 0;
	struct cw_ev_blocked b = {};
	char path[64], buf[512];
	int state, nr, n, err, stopped;
	ssize_t len;

	state = thread_state(s->pid, tid);
	snprintf(path, sizeof(path), "/proc/%d/task/%u/syscall", s->pid, tid);
	len = read_small(path, buf, sizeof(buf));
	if (len == -EACCES || len == -EPERM)
		*perm = -len;
	if (state < 0 || len <= 0) {
		s->gone++;
		return 0;
	}
	stopped = state == 'T' || state == 't';
	if (state != 'S' && state != 'D' && !stopped)
		return 1; /* running, exiting: not blocked */
	if (!strncmp(buf, "running", 7))
		return 1;
	n = sscanf(buf, "%d %llx %llx %llx %llx %llx %llx %llx %llx", &nr, &a[0], &a[1], &a[2],
		   &a[3], &a[4], &a[5], &sp, &pc);
	if (n == 3 && nr == -1 && !stopped) {
		/* "-1 sp pc": asleep outside a system call */
		sp = a[0];
		pc = a[1];
	} else if (n != 9) {
		return 1; /* stopped where it ran, or a format this build does not know */
	}
	/* stopped inside a system call: it goes on waiting there once continued */
	s->stopped += stopped;

	fill_hdr(s, &b.hdr, CW_EV_BLOCKED, sizeof(b), tid);
	b.reason = state == 'D' ? CW_OFFCPU_IO : CW_OFFCPU_SLEEP;
	b.futex_op = nr < 0 ? ~0U : (__u32)nr;
	if (nr == NR_FUTEX) {
		__u32 cmd = a[1] & FUTEX_CMD_MASK;

		if (cmd == OP_WAIT || cmd == OP_WAIT_BITSET || cmd == OP_LOCK_PI ||
		    cmd == OP_LOCK_PI2 || cmd == OP_WAIT_REQUEUE_PI) {
			b.addr = a[0];
			b.futex_op = a[1];
		}
	} else if (nr == NR_FUTEX_WAITV) {
		__u64 w[2]; /* struct futex_waitv: val, uaddr, flags, __reserved */

		if (read_mem(s->mm_tid, a[0], w, sizeof(w)) == sizeof(w)) {
			b.addr = w[1];
			b.futex_op = CW_FUTEX_OP_WAITV;
		}
	} else if (nr == NR_FUTEX_WAIT) {
		b.addr = a[0];
		b.futex_op = CW_FUTEX_OP_WAIT2;
	}
	if (b.addr) {
		b.reason = CW_OFFCPU_FUTEX;
		read_holder(s, &b, b.futex_op);
		if (nr == NR_FUTEX && b.kind == CW_LOCK_FUTEX)
			read_rwlock(s, &b, a[2]);
	}
	b.stack_id = queue_stack(s, tid, pc, sp);
	s->blocked++;
	err = cw_emit__queue(&s->emit, &b.hdr);
	if (!err && s->opts.follow_blocked)
		err = follow(s, tid, buf);
	return err ? err : 1;
}

/* The pcs of the stacks sent that no module sent covers (code mapped since we read the maps). */
static int uncovered(const struct procscan_source *s)
{
	for (size_t i = 0; i < s->nr_pcs; i++) {
		const struct cw_proc_range *r = s->maps.ranges;
		size_t k;

		for (k = 0; k < s->maps.nr_ranges; k++)
			if (s->pcs[i] >= r[k].start && s->pcs[i] < r[k].end)
				break;
		if (k == s->maps.nr_ranges)
			return 1;
	}
	return 0;
}

static void write_notes(struct procscan_source *s)
{
	size_t n = 0;

	if (s->gone)
		n += snprintf(s->base.notes + n, sizeof(s->base.notes) - n,
			      "%llu thread(s) of %d ended or could not be read while looked at; ",
			      (unsigned long long)s->gone, s->pid);
	if (s->stacks_unread && n < sizeof(s->base.notes))
		n += snprintf(s->base.notes + n, sizeof(s->base.notes) - n,
			      "%llu blocked thread(s) without a stack (reading it: %s); ",
			      (unsigned long long)s->stacks_unread, strerror(s->no_read_err));
	if (s->stopped && n < sizeof(s->base.notes))
		n += snprintf(s->base.notes + n, sizeof(s->base.notes) - n,
			      "%llu thread(s) stopped (a signal or a debugger) in a system call, "
			      "taken as waiting in it; ", (unsigned long long)s->stopped);
	if (n >= 2 && n < sizeof(s->base.notes))
		s->base.notes[n - 2] = '\0';
}

static int procscan_start(struct cw_source *src)
{
	struct procscan_source *s = (struct procscan_source *)src;
	int err, kind, perm = 0, readable = 0;

	s->base.err[0] = '\0';
	if (s->started) {
		set_err(s, "process %d was looked at already", s->pid);
		return -EALREADY;
	}
	s->started = 1;
	kind = cw_target__kind(s->pid);
	if (kind == -ESRCH) {
		set_err(s, "no process %d", s->pid);
		return -ESRCH;
	}
	if (kind < 0) {
		set_err(s, "failed to read /proc/%d/stat: %s", s->pid, strerror(-kind));
		return kind;
	}
	if (kind == CW_TARGET_KTHREAD) {
		set_err(s, "%d is a kernel thread: it has no user space to look at", s->pid);
		return -EINVAL;
	}
	if (kind == CW_TARGET_ZOMBIE) {
		set_err(s, "process %d has exited (a zombie its parent has not reaped)", s->pid);
		return -ESRCH;
	}
	s->ts = cw_now_ns();
	s->pid_max = read_pid_max();

	/* a leader ended with pthread_exit() stays in task/ as a zombie: its status is read */
	s->nested = ns_tid(s->pid, s->pid) != (__u32)s->pid;
	err = name_threads(s);
	if (!err && !s->mm_tid)
		err = -ESRCH;
	if (!err) {
		cw_proc_maps__init(&s->maps, s->mm_tid);
		err = read_mappings(s);
	}
	if (!err)
		err = send_modules(s);
	if (err == -EACCES || err == -EPERM) {
		set_err(s, "not permitted to look at process %d (/proc/%d/maps: %s): run as root, "
			"or as its user where kernel.yama.ptrace_scope allows it", s->pid, s->pid,
			strerror(-err));
		return -EPERM;
	}
	if (err == -ESRCH) {
		set_err(s, "no process %d", s->pid);
		return err;
	}
	if (err) {
		set_err(s, "failed to read the threads and maps of %d: %s", s->pid, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < s->nr_threads && !err; i++) {
		if (s->threads[i].exited)
			continue;
		err = look_at(s, s->threads[i].tid, &perm);
		readable += err > 0;
		err = err < 0 ? err : 0;
	}
	if (!err && !readable && perm) {
		set_err(s, "not permitted to look at process %d (/proc/%d/task/TID/syscall: %s): "
			"run as root, or as its user where kernel.yama.ptrace_scope allows it",
			s->pid, s->pid, strerror(perm));
		return -EPERM;
	}
	if (!err && s->blocked && s->stacks_unread == s->blocked && s->no_read_err == EPERM) {
		set_err(s, "not permitted to read the memory of process %d: %s", s->pid,
			strerror(EPERM));
		return -EPERM;
	}
	if (!err && uncovered(s))
		err = send_modules(s);
	if (err) {
		set_err(s, "failed to look at process %d: %s", s->pid, strerror(-err));
		return err;
	}
	write_notes(s);
	s->looked = 1;
	return 0;
}

static int procscan_fd(struct cw_source *src)
{
	return -1;
}

static int procscan_drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	struct procscan_source *s = (struct procscan_source *)src;
	struct cw_emit *e = &s->emit;
	__u64 now = cw_now_ns();
	int err;

	if (!s->looked || s->base.ended)
		return 0;
	if (s->sent && now - s->last_look < s->opts.tick_ns)
		return 0;
	err = cw_emit__begin(e, fn, ctx);
	if (!err && !s->sent)
		err = cw_emit__lost(e, CW_LOST_STACK, s->stacks_unread, now);
	if (!err && !s->sent && !s->opts.follow_blocked)
		err = cw_emit__tick(e, now, 1);
	if (!err && s->sent)
		err = look_again(s, now);
	if (err)
		return err;
	s->sent = 1;
	s->last_look = now;
	if (!s->opts.follow_blocked || !s->nr_followed)
		s->base.ended = 1;
	return e->delivered;
}

static int procscan_stop(struct cw_source *src)
{
	return 0;
}

static void procscan_stats(struct cw_source *src, struct cw_source_stats *st)
{
	*st = ((struct procscan_source *)src)->emit.st;
}

static void procscan_free(struct cw_source *src)
{
	struct procscan_source *s = (struct procscan_source *)src;

	cw_emit__fini(&s->emit);
	cw_proc_maps__fini(&s->maps);
	free(s->threads);
	free(s->mem);
	free(s->pcs);
	free(s->followed);
	free(s);
}

static const struct cw_source_ops procscan_ops = {
	.name = "procscan",
	.start = procscan_start,
	.fd = procscan_fd,
	.drain = procscan_drain,
	.stop = procscan_stop,
	.stats = procscan_stats,
	.free = procscan_free,
};

int cw_procscan_source__open(const struct cw_source_opts *opts, struct cw_source **out,
			     char *err, size_t errlen)
{
	struct procscan_source *s;

	if (opts->pid <= 0) {
		snprintf(err, errlen, "the procscan source looks at one process: give its pid");
		return -EINVAL;
	}
	if (opts->stack_bytes > MAX_STACK_BYTES || opts->stack_bytes < -1 ||
	    (opts->stack_bytes > 0 && opts->stack_bytes % 8)) {
		snprintf(err, errlen, "bad stack size %d: a multiple of 8 up to %d, 0 (default) "
			 "or -1 (none)", opts->stack_bytes, MAX_STACK_BYTES);
		return -EINVAL;
	}
	if (opts->raw_events || opts->timeline || opts->track_free) {
		snprintf(err, errlen, "the procscan source looks once and traces nothing: no %s",
			 opts->raw_events ? "raw events" : opts->timeline ? "timeline" :
			 "tracking of free()");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &procscan_ops;
	s->base.ordered = 1; /* one look, in the order to hand on */
	s->opts = *opts;
	s->pid = opts->pid;
	if (!s->opts.stack_bytes)
		s->opts.stack_bytes = DEFAULT_STACK_BYTES;
	if (s->opts.stack_bytes < 0)
		s->opts.stack_bytes = 0;
	if (!s->opts.tick_ns)
		s->opts.tick_ns = DEFAULT_TICK_NS;
	cw_emit__init(&s->emit, s->opts.tick_ns);
	cw_proc_maps__init(&s->maps, s->pid); /* made again at start, with the task to read */
	*out = &s->base;
	return 0;
}
