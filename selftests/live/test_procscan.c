// SPDX-License-Identifier: GPL-2.0
/*
 * The procscan source on processes that hung before anything looked at them: each
 * workload blocks its threads for ever in a known way and names them, their locks and
 * the lines they block at. Once /proc shows every one of them asleep in its system call,
 * one look must give exactly: a COMM per live thread, a blocked record per thread with
 * the lock the workload named and the holder the lock's memory names (the waiter itself,
 * a thread that exited, the next thread of a cycle), the system call of a thread blocked
 * outside any lock, and a stack that unwinds to the workload's function at its line. The
 * records come in the order the source promises (COMMs, modules, then per thread its
 * stack and its blocked record, a tick last), and the process is never stopped or traced.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "report/symbols.h"
#include "source/session.h"
#include "source/source.h"

#define MAX_THREADS 16

struct scan {
	struct cw_wl wl;
	struct cw_engine *eng;
	struct cw_symbols *sym;

	struct cw_ev_blocked blocked[MAX_THREADS];
	size_t nr_blocked;
	struct cw_ev_comm comm[MAX_THREADS];
	size_t nr_comm;
	size_t records, modules, stacks, raws, ticks, lost, unknown;
	/* the promised order, checked as records come */
	int phase;		/* 0: COMMs, 1: modules, 2: stacks and blocked records, 3: tick */
	int out_of_order;	/* the first record out of that order, by type; 0 when none */
	int tick_not_last;
	__u64 stack_ids[MAX_THREADS], raw_ids[MAX_THREADS];
	size_t nr_stack_ids, nr_raw_ids;
	int blocked_before_stack;	/* a blocked record naming a stack not sent before it */
	int not_synthetic;
};

static int has_id(const __u64 *ids, size_t nr, __u64 id)
{
	for (size_t i = 0; i < nr; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

static void step(struct scan *s, int phase, int type)
{
	if (phase < s->phase && !s->out_of_order)
		s->out_of_order = type;
	if (phase > s->phase)
		s->phase = phase;
}

static int collect(void *ctx, const struct cw_hdr *h)
{
	struct scan *s = ctx;

	s->records++;
	if (s->ticks)
		s->tick_not_last = 1;
	if (h->type != CW_EV_TICK && h->type != CW_EV_LOST && !(h->flags & CW_F_SYNTHETIC))
		s->not_synthetic = 1;
	switch (h->type) {
	case CW_EV_COMM:
		step(s, 0, h->type);
		if (s->nr_comm < MAX_THREADS)
			memcpy(&s->comm[s->nr_comm++], h, sizeof(s->comm[0]));
		break;
	case CW_EV_MODULE:
		/* a second batch may follow the stacks, for code mapped meanwhile */
		step(s, s->phase == 2 ? 2 : 1, h->type);
		s->modules++;
		break;
	case CW_EV_STACK:
		step(s, 2, h->type);
		s->stacks++;
		if (s->nr_stack_ids < MAX_THREADS)
			s->stack_ids[s->nr_stack_ids++] = ((const struct cw_ev_stack *)h)->stack_id;
		break;
	case CW_EV_USTACK_RAW: {
		const struct cw_ev_ustack_raw *r = (const void *)h;

		step(s, 2, h->type);
		s->raws++;
		if (s->nr_raw_ids < MAX_THREADS)
			s->raw_ids[s->nr_raw_ids++] = r->stack_id;
		break;
	}
	case CW_EV_BLOCKED: {
		const struct cw_ev_blocked *b = (const void *)h;

		step(s, 2, h->type);
		if (b->stack_id && (!has_id(s->stack_ids, s->nr_stack_ids, b->stack_id) ||
				    !has_id(s->raw_ids, s->nr_raw_ids, b->stack_id)))
			s->blocked_before_stack = 1;
		if (s->nr_blocked < MAX_THREADS)
			s->blocked[s->nr_blocked++] = *b;
		break;
	}
	case CW_EV_TICK:
		step(s, 3, h->type);
		s->ticks++;
		break;
	case CW_EV_LOST:
		s->lost++;
		break;
	default:
		s->unknown++;
		break;
	}
	return cw_engine__feed(s->eng, h);
}

/* Our open file descriptors. */
static int nr_fds(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Look at the workload once with the procscan source: every record into s. The source's
 * notes must be notes.
 */
static void look_notes(struct __test_metadata *_metadata, struct scan *s, const char *notes)
{
	struct cw_source_opts opts = { .backend = "procscan", .pid = s->wl.pid };
	struct cw_source_stats st;
	struct cw_source *src;
	int ret, fds = nr_fds();
	char err[256] = "";

	s->eng = cw_engine__new();
	ASSERT_NE(NULL, s->eng);
	ASSERT_EQ(0, cw_source__open(&opts, &src, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_STREQ("procscan", cw_source__name(src));
	ASSERT_EQ(-1, cw_source__fd(src));
	ret = cw_source__start(src);
	ASSERT_EQ(0, ret) TH_LOG("start: %s", cw_source__error(src));
	EXPECT_STREQ(notes, cw_source__notes(src));
	EXPECT_EQ(0, src->ended);
	ret = cw_source__drain(src, collect, s);
	EXPECT_EQ((int)s->records, ret);
	EXPECT_EQ(1, src->ended);
	/* ended: a second drain has nothing */
	EXPECT_EQ(0, cw_source__drain(src, collect, s));
	cw_source__stats(src, &st);
	EXPECT_EQ(s->records, st.records);
	EXPECT_EQ(1, st.ticks);
	EXPECT_EQ(0, cw_source__stop(src));
	cw_source__free(src);
	EXPECT_EQ(fds, nr_fds());

	EXPECT_EQ(1, s->ticks);
	EXPECT_EQ(0, s->tick_not_last);
	EXPECT_EQ(0, s->out_of_order) TH_LOG("record type %d out of order", s->out_of_order);
	EXPECT_EQ(0, s->blocked_before_stack);
	EXPECT_EQ(0, s->not_synthetic);
	EXPECT_EQ(0, s->lost);
	EXPECT_EQ(0, s->unknown);
	EXPECT_LT(0, s->modules);
	/* one stack per blocked thread, each sent once with its copy */
	EXPECT_EQ(s->nr_blocked, s->stacks);
	EXPECT_EQ(s->nr_blocked, s->raws);
	EXPECT_EQ(0, cw_engine__counts(s->eng)->lost_total);
	ASSERT_EQ(0, cw_symbols__new(s->eng, &(struct cw_symbols_opts){ .live_pid = s->wl.pid },
				     &s->sym));
}

static void look(struct __test_metadata *_metadata, struct scan *s)
{
	look_notes(_metadata, s, "");
}

static void finish(struct __test_metadata *_metadata, struct scan *s)
{
	cw_symbols__free(s->sym);
	cw_engine__free(s->eng);
	if (s->wl.pid > 0) {
		/* the workload only ends when told: it was not disturbed by the look */
		EXPECT_EQ(0, kill(s->wl.pid, 0));
		/* a test that stopped it and failed before continuing it: it must read EOF */
		kill(s->wl.pid, SIGCONT);
		EXPECT_EQ(0, cw_wl__stop(&s->wl));
	}
}

static const struct cw_ev_blocked *blocked_of(const struct scan *s, __u32 tid)
{
	for (size_t i = 0; i < s->nr_blocked; i++)
		if (s->blocked[i].hdr.tid == tid)
			return &s->blocked[i];
	return NULL;
}

static const char *comm_of(const struct scan *s, __u32 tid)
{
	for (size_t i = 0; i < s->nr_comm; i++)
		if (s->comm[i].hdr.tid == tid)
			return s->comm[i].comm;
	return NULL;
}

/*
 * tid waits on the glibc mutex at lock, which holder holds, as the lock's memory says,
 * in a futex(2) call of command cmd (FUTEX_WAIT, FUTEX_LOCK_PI).
 */
static void expect_waits_cmd(struct __test_metadata *_metadata, const struct scan *s, __u32 tid,
			     __u64 lock, __u32 holder, __u32 cmd)
{
	const struct cw_ev_blocked *b = blocked_of(s, tid);

	ASSERT_NE(NULL, b) TH_LOG("no blocked record for thread %u", tid);
	EXPECT_EQ(CW_EV_BLOCKED, b->hdr.type);
	EXPECT_EQ(CW_F_SYNTHETIC, b->hdr.flags);
	EXPECT_EQ(s->wl.pid, b->hdr.pid);
	EXPECT_EQ(lock, b->addr) TH_LOG("thread %u", tid);
	EXPECT_EQ(holder, b->owner_tid) TH_LOG("thread %u", tid);
	EXPECT_EQ(CW_OFFCPU_FUTEX, b->reason);
	EXPECT_EQ(CW_LOCK_MUTEX, b->kind);
	EXPECT_EQ(cmd, b->futex_op & 0x7f) TH_LOG("op 0x%x", b->futex_op);
	EXPECT_EQ(0, b->since_ns);
	EXPECT_NE(0, b->stack_id);
}

static void expect_waits(struct __test_metadata *_metadata, const struct scan *s, __u32 tid,
			 __u64 lock, __u32 holder)
{
	const struct cw_ev_blocked *b = blocked_of(s, tid);

	expect_waits_cmd(_metadata, s, tid, lock, holder, 0 /* FUTEX_WAIT */);
	/* glibc's lll_lock_wait on a process-private mutex: FUTEX_PRIVATE_FLAG too */
	if (b)
		EXPECT_EQ(0 | 128, b->futex_op);
}

/* tid sleeps in system call nr, outside any lock. */
static void expect_sleeps(struct __test_metadata *_metadata, const struct scan *s, __u32 tid,
			  __u32 nr)
{
	const struct cw_ev_blocked *b = blocked_of(s, tid);

	ASSERT_NE(NULL, b) TH_LOG("no blocked record for thread %u", tid);
	EXPECT_EQ(CW_OFFCPU_SLEEP, b->reason);
	EXPECT_EQ(nr, b->futex_op);
	EXPECT_EQ(0, b->addr);
	EXPECT_EQ(0, b->owner_tid);
	EXPECT_NE(0, b->stack_id);
}

static void dump(struct __test_metadata *_metadata, const struct cw_ustack *u)
{
	char line[512];

	TH_LOG("%zu frames, end %d %s", u->nr, u->end, u->why);
	for (size_t i = 0; i < u->nr; i++) {
		cw_frame__format(&u->frames[i], line, sizeof(line));
		TH_LOG("  #%zu %s", i, line);
	}
}

/* The stack of tid's blocked record, unwound, names func at line. */
static void expect_frame(struct __test_metadata *_metadata, const struct scan *s, __u32 tid,
			 const char *func, int line)
{
	const struct cw_ev_blocked *b = blocked_of(s, tid);
	const struct cw_stack *st;
	struct cw_ustack u;
	int found = 0;

	ASSERT_NE(NULL, b);
	st = cw_engine__find_stack(s->eng, s->wl.pid, CW_STACK_USER, b->stack_id);
	ASSERT_NE(NULL, st) TH_LOG("stack 0x%llx never arrived", (unsigned long long)b->stack_id);
	ASSERT_TRUE(st->has_raw);
	ASSERT_EQ(0, cw_symbols__resolve(s->sym, st, &u));
	for (size_t i = 0; i < u.nr && !found; i++)
		found = u.frames[i].func && !strcmp(u.frames[i].func, func) &&
			u.frames[i].line == line;
	EXPECT_TRUE(found) {
		TH_LOG("no frame %s at line %d in the stack of thread %u", func, line, tid);
		dump(_metadata, &u);
	}
	cw_ustack__fini(&u);
}

/* Start workload name, whose ready line names the threads, and wait until they block. */
static void start(struct __test_metadata *_metadata, struct scan *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	ASSERT_EQ(0, cw_wl__start(&s->wl, name, NULL));
	/* its main thread reads stdin until it closes */
	ASSERT_EQ(0, cw_wait_blocked_in(s->wl.pid, s->wl.pid, SYS_read));
}

FIXTURE(ps) {
	struct scan s;
};

/*
 * Neither BPF nor root is needed: the workloads are our children, whose /proc files and
 * memory their parent's user may read (Yama allows a descendant).
 */
FIXTURE_SETUP(ps)
{
}

FIXTURE_TEARDOWN(ps)
{
	finish(_metadata, &self->s);
}

/* ABBA: each thread waits for the lock the other holds. */
TEST_F(ps, abba)
{
	struct scan *s = &self->s;
	__u32 a, b;
	__u64 l1, l2;

	CW_SKIPPED_IN_SETUP();
	start(_metadata, s, "wl_deadlock");
	a = cw_field(s->wl.ready, "tid_a");
	b = cw_field(s->wl.ready, "tid_b");
	l1 = cw_field(s->wl.ready, "lock_1");
	l2 = cw_field(s->wl.ready, "lock_2");
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, a));
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, b));
	look(_metadata, s);

	ASSERT_EQ(3, s->nr_comm);
	EXPECT_STREQ("wl_deadlock", comm_of(s, s->wl.pid));
	EXPECT_STREQ("dl-a", comm_of(s, a));
	EXPECT_STREQ("dl-b", comm_of(s, b));
	ASSERT_EQ(3, s->nr_blocked);
	expect_waits(_metadata, s, a, l2, b);
	expect_waits(_metadata, s, b, l1, a);
	expect_sleeps(_metadata, s, s->wl.pid, SYS_read);
	expect_frame(_metadata, s, a, "take_second_lock_a", cw_field(s->wl.ready, "line_lock_a"));
	expect_frame(_metadata, s, a, "thread_a", cw_field(s->wl.ready, "line_call_a"));
	expect_frame(_metadata, s, b, "take_second_lock_b", cw_field(s->wl.ready, "line_lock_b"));
}

/* A thread relocks the non-recursive mutex it holds: it waits for itself. */
TEST_F(ps, self_deadlock)
{
	struct scan *s = &self->s;
	__u32 t;

	CW_SKIPPED_IN_SETUP();
	start(_metadata, s, "wl_selfdead");
	t = cw_field(s->wl.ready, "tid");
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, t));
	look(_metadata, s);

	ASSERT_EQ(2, s->nr_comm);
	EXPECT_STREQ("sd-a", comm_of(s, t));
	ASSERT_EQ(2, s->nr_blocked);
	expect_waits(_metadata, s, t, cw_field(s->wl.ready, "lock"), t);
	expect_frame(_metadata, s, t, "relock", cw_field(s->wl.ready, "line_lock"));
}

/*
 * The way a command runs a source: in a session, which ends by itself once the look is
 * handed on (the source has no fd: the session drains it on its timer).
 */
TEST_F(ps, in_a_session)
{
	struct cw_source_opts opts = { .backend = "procscan" };
	struct scan *s = &self->s;
	struct cw_session *sess;
	char err[256] = "";
	__u32 t;

	CW_SKIPPED_IN_SETUP();
	start(_metadata, s, "wl_selfdead");
	t = cw_field(s->wl.ready, "tid");
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, t));
	s->eng = cw_engine__new();
	ASSERT_NE(NULL, s->eng);
	opts.pid = s->wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, collect, s, &sess, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(CW_SESSION_ENDED, cw_session__run(sess, 0, NULL));
	EXPECT_EQ(0, cw_session__finish(sess));
	cw_session__free(sess);

	EXPECT_EQ(1, s->ticks);
	EXPECT_EQ(0, s->out_of_order);
	ASSERT_EQ(2, s->nr_comm);
	ASSERT_EQ(2, s->nr_blocked);
	expect_waits(_metadata, s, t, cw_field(s->wl.ready, "lock"), t);
}

/* The state letter of thread tid of pid, or 0. */
static char thread_state(int pid, int tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * A hung process stopped (SIGSTOP here; a debugger attached to it alike): its threads
 * are still inside their system calls, where they go on waiting once continued. The
 * look finds the same waits, and says the threads were stopped.
 */
TEST_F(ps, stopped)
{
	struct scan *s = &self->s;
	__u32 t;

	CW_SKIPPED_IN_SETUP();
	start(_metadata, s, "wl_selfdead");
	t = cw_field(s->wl.ready, "tid");
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, t));
	ASSERT_EQ(0, kill(s->wl.pid, SIGSTOP));
	while (thread_state(s->wl.pid, s->wl.pid) != 'T' || thread_state(s->wl.pid, t) != 'T')
		sched_yield();
	look_notes(_metadata, s, "2 thread(s) stopped (a signal or a debugger) in a system call, "
		   "taken as waiting in it");
	EXPECT_EQ(0, kill(s->wl.pid, SIGCONT));

	ASSERT_EQ(2, s->nr_blocked);
	expect_waits(_metadata, s, t, cw_field(s->wl.ready, "lock"), t);
	expect_sleeps(_metadata, s, s->wl.pid, SYS_read);
	expect_frame(_metadata, s, t, "relock", cw_field(s->wl.ready, "line_lock"));
}

/* The owner returned without unlocking: the holder named is a thread that is gone. */
TEST_F(ps, owner_exited)
{
	struct scan *s = &self->s;
	__u32 a, b;

	CW_SKIPPED_IN_SETUP();
	start(_metadata, s, "wl_ownerexit");
	a = cw_field(s->wl.ready, "tid_a");
	b = cw_field(s->wl.ready, "tid_b");
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, b));
	look(_metadata, s);

	/* the owner has no COMM: that is how the engine knows it exited */
	ASSERT_EQ(2, s->nr_comm);
	EXPECT_EQ(NULL, comm_of(s, a));
	EXPECT_STREQ("oe-b", comm_of(s, b));
	ASSERT_EQ(2, s->nr_blocked);
	expect_waits(_metadata, s, b, cw_field(s->wl.ready, "lock"), a);
	expect_frame(_metadata, s, b, "take_lock_b", cw_field(s->wl.ready, "line_lock"));
}

/*
 * The owner is the main thread, ended with pthread_exit(): a zombie leader, whose maps
 * are empty. It gets no COMM, the lock names it as the holder, and the other threads'
 * stacks still unwind (read through a live thread).
 */
TEST_F(ps, owner_exited_leader)
{
	const char *args[] = { "leader", NULL };
	struct scan *s = &self->s;
	__u32 b, eof = 0;

	CW_SKIPPED_IN_SETUP();
	memset(s, 0, sizeof(*s));
	ASSERT_EQ(0, cw_wl__start(&s->wl, "wl_ownerexit", args));
	ASSERT_EQ(s->wl.pid, cw_field(s->wl.ready, "tid_a"));
	b = cw_field(s->wl.ready, "tid_b");
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, b));
	look(_metadata, s);

	ASSERT_EQ(2, s->nr_comm);
	EXPECT_EQ(NULL, comm_of(s, s->wl.pid));
	EXPECT_STREQ("oe-b", comm_of(s, b));
	for (size_t i = 0; i < s->nr_comm; i++)
		if (s->comm[i].hdr.tid != b)
			eof = s->comm[i].hdr.tid;
	EXPECT_STREQ("oe-eof", comm_of(s, eof));
	ASSERT_EQ(2, s->nr_blocked);
	expect_waits(_metadata, s, b, cw_field(s->wl.ready, "lock"), s->wl.pid);
	expect_frame(_metadata, s, b, "thread_b_after_leader", cw_field(s->wl.ready, "line_lock"));
	expect_sleeps(_metadata, s, eof, SYS_read);
}

/*
 * Three threads, three locks: each waits for the lock the next one holds. Mutexes of
 * mode (wl_cycle3dead's argument), waited for with futex(2) command cmd.
 */
static void cycle_of_three(struct __test_metadata *_metadata, struct scan *s, const char *mode,
			   __u32 cmd)
{
	const char *args[] = { mode, NULL };
	char key[16];
	__u32 t[3];
	__u64 l[3];

	memset(s, 0, sizeof(*s));
	ASSERT_EQ(0, cw_wl__start(&s->wl, "wl_cycle3dead", args));
	ASSERT_EQ(0, cw_wait_blocked_in(s->wl.pid, s->wl.pid, SYS_read));
	for (int k = 0; k < 3; k++) {
		snprintf(key, sizeof(key), "tid_%d", k + 1);
		t[k] = cw_field(s->wl.ready, key);
		snprintf(key, sizeof(key), "lock_%d", k + 1);
		l[k] = cw_field(s->wl.ready, key);
		ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, t[k]));
	}
	look(_metadata, s);

	ASSERT_EQ(4, s->nr_comm);
	ASSERT_EQ(4, s->nr_blocked);
	for (int k = 0; k < 3; k++) {
		snprintf(key, sizeof(key), "c3-%d", k + 1);
		EXPECT_STREQ(key, comm_of(s, t[k]));
		expect_waits_cmd(_metadata, s, t[k], l[(k + 1) % 3], t[(k + 1) % 3], cmd);
		expect_frame(_metadata, s, t[k], "take_next_lock",
			     cw_field(s->wl.ready, "line_lock"));
	}
}

TEST_F(ps, cycle_of_three)
{
	CW_SKIPPED_IN_SETUP();
	cycle_of_three(_metadata, &self->s, "normal", 0 /* FUTEX_WAIT */);
	/* process-private: glibc's lll_lock_wait adds FUTEX_PRIVATE_FLAG */
	for (size_t i = 0; i < self->s.nr_blocked; i++)
		if (self->s.blocked[i].hdr.tid != self->s.wl.pid)
			EXPECT_EQ(0 | 128, self->s.blocked[i].futex_op);
}

/*
 * The same with PI mutexes: the holder is the tid in the lock word itself. The kernel
 * sees the cycle the last of the three would close and fails its FUTEX_LOCK_PI with
 * EDEADLK; glibc then parks that thread for ever on a word of its own stack. So two
 * threads wait in FUTEX_LOCK_PI on the next lock, and one (whichever came last) on a
 * futex no lock names.
 */
TEST_F(ps, cycle_of_three_pi)
{
	struct scan *s = &self->s;
	const char *args[] = { "pi", NULL };
	int parked = -1, nr_pi = 0;
	const struct cw_stack *st;
	char key[16];
	__u32 t[3];
	__u64 l[3];

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, cw_wl__start(&s->wl, "wl_cycle3dead", args));
	ASSERT_EQ(0, cw_wait_blocked_in(s->wl.pid, s->wl.pid, SYS_read));
	for (int k = 0; k < 3; k++) {
		snprintf(key, sizeof(key), "tid_%d", k + 1);
		t[k] = cw_field(s->wl.ready, key);
		snprintf(key, sizeof(key), "lock_%d", k + 1);
		l[k] = cw_field(s->wl.ready, key);
		ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, t[k]));
	}
	look(_metadata, s);

	ASSERT_EQ(4, s->nr_blocked);
	for (int k = 0; k < 3; k++) {
		const struct cw_ev_blocked *b = blocked_of(s, t[k]);

		ASSERT_NE(NULL, b);
		if ((b->futex_op & 0x7f) == 6 /* FUTEX_LOCK_PI */) {
			nr_pi++;
			expect_waits_cmd(_metadata, s, t[k], l[(k + 1) % 3], t[(k + 1) % 3], 6);
			expect_frame(_metadata, s, t[k], "take_next_lock",
				     cw_field(s->wl.ready, "line_lock"));
			continue;
		}
		EXPECT_EQ(-1, parked);
		parked = k;
		/* glibc's wait for ever: a word of 0 on its stack, just above where it waits */
		EXPECT_EQ(CW_OFFCPU_FUTEX, b->reason);
		EXPECT_EQ(0, b->owner_tid);
		EXPECT_EQ(CW_LOCK_FUTEX, b->kind);
		EXPECT_EQ(9 /* FUTEX_WAIT_BITSET */, b->futex_op & 0x7f) TH_LOG("0x%x", b->futex_op);
		st = cw_engine__find_stack(s->eng, s->wl.pid, CW_STACK_USER, b->stack_id);
		ASSERT_NE(NULL, st);
		EXPECT_TRUE(b->addr >= st->sp && b->addr < st->sp + st->raw_len)
			TH_LOG("0x%llx, stack from 0x%llx", (unsigned long long)b->addr,
			       (unsigned long long)st->sp);
		expect_frame(_metadata, s, t[k], "take_next_lock",
			     cw_field(s->wl.ready, "line_lock"));
	}
	EXPECT_EQ(2, nr_pi);
	EXPECT_NE(-1, parked);
}

/* Robust mutexes: the word holds the holder's tid, and __owner agrees. */
TEST_F(ps, cycle_of_three_robust)
{
	CW_SKIPPED_IN_SETUP();
	cycle_of_three(_metadata, &self->s, "robust", 0 /* FUTEX_WAIT */);
}

/* The holder sleeps in read(): its waiter names it, and it is blocked outside any lock. */
TEST_F(ps, holder_sleeps)
{
	struct scan *s = &self->s;
	__u32 a, b;

	CW_SKIPPED_IN_SETUP();
	start(_metadata, s, "wl_holdsleep");
	a = cw_field(s->wl.ready, "tid_a");
	b = cw_field(s->wl.ready, "tid_b");
	ASSERT_EQ(0, cw_wait_blocked_in(s->wl.pid, a, SYS_read));
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, b));
	look(_metadata, s);

	ASSERT_EQ(3, s->nr_comm);
	EXPECT_STREQ("hs-a", comm_of(s, a));
	EXPECT_STREQ("hs-b", comm_of(s, b));
	ASSERT_EQ(3, s->nr_blocked);
	expect_sleeps(_metadata, s, a, SYS_read);
	expect_waits(_metadata, s, b, cw_field(s->wl.ready, "lock"), a);
	expect_frame(_metadata, s, a, "hold_and_read", cw_field(s->wl.ready, "line_read"));
	expect_frame(_metadata, s, b, "take_lock_b", cw_field(s->wl.ready, "line_lock"));
}

/*
 * rwlocks, as their memory says: a writer waiting behind a reader (the read phase: one
 * reader counted, no holder named), a reader behind a writer (__cur_writer names it);
 * the condition variable's and the semaphore's words name no holder and no kind.
 */
TEST_F(ps, rwlocks)
{
	struct scan *s = &self->s;
	const struct cw_ev_blocked *b;
	__u32 writer, rd, owner, pool;
	__u64 table, conf, cond;

	CW_SKIPPED_IN_SETUP();
	start(_metadata, s, "wl_waitkinds");
	writer = cw_field(s->wl.ready, "writer");
	rd = cw_field(s->wl.ready, "rd");
	owner = cw_field(s->wl.ready, "owner");
	pool = cw_field(s->wl.ready, "pool_1");
	table = cw_field(s->wl.ready, "table_lock");
	conf = cw_field(s->wl.ready, "conf_lock");
	cond = cw_field(s->wl.ready, "work_cond");
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, writer));
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, rd));
	ASSERT_EQ(0, cw_wait_futex_blocked(s->wl.pid, pool));
	look(_metadata, s);

	/* __wrphase_futex (+8) both: the writer for the readers to leave, the reader for
	 * the writer */
	b = blocked_of(s, writer);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(table + 8, b->addr);
	EXPECT_EQ(CW_LOCK_RWLOCK, b->kind);
	EXPECT_EQ(0, b->owner_tid);
	EXPECT_EQ(1, b->readers);
	b = blocked_of(s, rd);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(conf + 8, b->addr);
	EXPECT_EQ(CW_LOCK_RWLOCK, b->kind);
	EXPECT_EQ(owner, b->owner_tid);
	EXPECT_EQ(0, b->readers);
	b = blocked_of(s, pool);
	ASSERT_NE(NULL, b);
	EXPECT_TRUE(b->addr == cond + 40 || b->addr == cond + 44)
		TH_LOG("0x%llx", (unsigned long long)b->addr);
	EXPECT_EQ(CW_LOCK_FUTEX, b->kind);
	EXPECT_EQ(0, b->owner_tid);
	EXPECT_EQ(0, b->readers);
	expect_frame(_metadata, s, writer, "take_table", cw_field(s->wl.ready, "line_wrlock"));
	expect_frame(_metadata, s, rd, "read_conf", cw_field(s->wl.ready, "line_rdlock"));
}

/* A pid that names no process: start fails with one clear line. */
TEST(no_such_process)
{
	struct cw_source_opts opts = { .backend = "procscan" };
	struct cw_source *src;
	char err[256] = "", want[64];
	pid_t pid;
	int status;

	/* a child reaped: its pid names nothing until pids wrap around */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	opts.pid = pid;
	ASSERT_EQ(0, cw_source__open(&opts, &src, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(-ESRCH, cw_source__start(src));
	snprintf(want, sizeof(want), "no process %d", pid);
	EXPECT_STREQ(want, cw_source__error(src));
	cw_source__free(src);

	/* no pid at all, and a stack size it cannot honour: refused at open */
	opts.pid = 0;
	EXPECT_EQ(-EINVAL, cw_source__open(&opts, &src, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "give its pid")) TH_LOG("%s", err);
	opts.pid = getpid();
	opts.stack_bytes = 12;
	EXPECT_EQ(-EINVAL, cw_source__open(&opts, &src, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "bad stack size 12")) TH_LOG("%s", err);
}

/* Another user's process: start fails saying it is not permitted, and why. */
TEST(not_permitted)
{
	char err[256] = "", buf[320] = "";
	struct cw_wl wl = {};
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root to look at a process as another user");
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_selfdead", NULL));
	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct cw_source_opts opts = { .backend = "procscan", .pid = wl.pid };
		struct cw_source *src;
		int ret;

		close(fds[0]);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		if (cw_source__open(&opts, &src, err, sizeof(err)))
			_exit(101);
		ret = cw_source__start(src);
		n = write(fds[1], cw_source__error(src), strlen(cw_source__error(src)));
		_exit(n < 0 ? 102 : -ret);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(EPERM, WEXITSTATUS(status)) TH_LOG("%s", buf);
	snprintf(err, sizeof(err), "not permitted to look at process %d", wl.pid);
	EXPECT_EQ(0, strncmp(buf, err, strlen(err))) TH_LOG("%s", buf);
	EXPECT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
