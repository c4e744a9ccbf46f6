// SPDX-License-Identifier: GPL-2.0
/*
 * Futex waits classified by the libc code that made them (tools/report/classify.c).
 *
 * Synthetic frames: each rule, the word's offset in its object by its alignment, the
 * spellings glibc's symbol tables use, frames outside libc.
 *
 * This machine's glibc: a child process blocks one thread in each primitive (mutex, condvar,
 * rwlock read and write, semaphore, barrier, join, a bare futex); once each is really in
 * the futex syscall (/proc/PID/task/TID/syscall says 202 and gives the word), its stack
 * is unwound through ptrace and classified, with the host's debug information (libc6-dbg
 * names the internal paths) and without it (only .dynsym, as in the QEMU guests and on
 * most users' machines): a wait is classified right or not at all, never wrongly.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "report/classify.h"

#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"

static struct cw_frame fr(const char *func, const char *module)
{
	return (struct cw_frame){ .addr = 0x1000, .func = (char *)func, .module = module };
}

static int classify1(const char *func, __u64 uaddr, struct cw_futex_class *c)
{
	struct cw_frame f[3] = { fr(NULL, LIBC), fr(func, LIBC), fr("main", "/usr/bin/prog") };

	memset(c, 0, sizeof(*c));
	return cw_classify__frames(f, 3, uaddr, CW_FUTEX_OP_UNKNOWN, c);
}

TEST(rules_and_offsets)
{
	struct cw_futex_class c;

	ASSERT_EQ(0, classify1("pthread_mutex_lock", 0x5000, &c));
	EXPECT_EQ(CW_LOCK_MUTEX, c.kind);
	EXPECT_EQ(0x5000, c.object);
	/* __g_signals[0] at +40, [1] at +44 */
	ASSERT_EQ(0, classify1("pthread_cond_wait", 0x5028, &c));
	EXPECT_EQ(CW_LOCK_COND, c.kind);
	EXPECT_EQ(0x5000, c.object);
	ASSERT_EQ(0, classify1("pthread_cond_timedwait", 0x502c, &c));
	EXPECT_EQ(0x5000, c.object);
	ASSERT_EQ(0, classify1("pthread_cond_clockwait", 0x5028, &c));
	EXPECT_EQ(0x5000, c.object);
	/* signal and broadcast wait on __g_refs[g]: +16, +20 */
	ASSERT_EQ(0, classify1("pthread_cond_signal", 0x5010, &c));
	EXPECT_EQ(CW_LOCK_COND, c.kind);
	EXPECT_EQ(0x5000, c.object);
	ASSERT_EQ(0, classify1("pthread_cond_broadcast", 0x5014, &c));
	EXPECT_EQ(0x5000, c.object);
	/* rwlock: __wrphase_futex +8, __writers_futex +12 */
	ASSERT_EQ(0, classify1("pthread_rwlock_rdlock", 0x5008, &c));
	EXPECT_EQ(CW_LOCK_RWLOCK, c.kind);
	EXPECT_EQ(0x5000, c.object);
	ASSERT_EQ(0, classify1("pthread_rwlock_wrlock", 0x500c, &c));
	EXPECT_EQ(0x5000, c.object);
	ASSERT_EQ(0, classify1("pthread_rwlock_timedwrlock", 0x5008, &c));
	EXPECT_EQ(0x5000, c.object);
	ASSERT_EQ(0, classify1("sem_wait", 0x5000, &c));
	EXPECT_EQ(CW_LOCK_SEM, c.kind);
	EXPECT_EQ(0x5000, c.object);
	/* barrier: current_round +4, in +0 */
	ASSERT_EQ(0, classify1("pthread_barrier_wait", 0x5004, &c));
	EXPECT_EQ(CW_LOCK_BARRIER, c.kind);
	EXPECT_EQ(0x5000, c.object);
	ASSERT_EQ(0, classify1("pthread_barrier_wait", 0x5000, &c));
	EXPECT_EQ(0x5000, c.object);
	ASSERT_EQ(0, classify1("pthread_join", 0x7f00000002d0, &c));
	EXPECT_EQ(CW_LOCK_THREAD, c.kind);
	EXPECT_EQ(0x7f00000002d0, c.object);
	ASSERT_EQ(0, classify1("__lll_lock_wait_private", 0x5000, &c));
	EXPECT_EQ(CW_LOCK_LIBC, c.kind);
	EXPECT_EQ(0x5000, c.object);
	/* not a glibc entry point: a futex */
	EXPECT_EQ(-ENOENT, classify1("syscall", 0x5000, &c));
	EXPECT_EQ(-ENOENT, classify1("pthread_mutex_unlock", 0x5000, &c));
	EXPECT_EQ(-ENOENT, classify1(NULL, 0x5000, &c));
	/* a word below its offset is in no such object */
	EXPECT_EQ(-ENOENT, classify1("pthread_cond_wait", 0x20, &c));
}

/* The spellings of glibc's symbol tables and DWARF: versions, underscores, 64-bit time. */
TEST(spellings)
{
	static const struct {
		const char *func;
		__u8 kind;
	} v[] = {
		{ "___pthread_mutex_lock", CW_LOCK_MUTEX },
		{ "__pthread_mutex_lock_full", CW_LOCK_MUTEX },
		{ "__lll_lock_wait", CW_LOCK_MUTEX },
		{ "__pthread_mutex_clocklock64", CW_LOCK_MUTEX },
		{ "__pthread_cond_wait_common", CW_LOCK_COND },
		{ "__pthread_cond_timedwait64", CW_LOCK_COND },
		{ "pthread_cond_wait@@GLIBC_2.3.2", CW_LOCK_COND },
		{ "___pthread_rwlock_clockrdlock64", CW_LOCK_RWLOCK },
		{ "__pthread_rwlock_wrlock_full64", CW_LOCK_RWLOCK },
		{ "__new_sem_wait_slow64", CW_LOCK_SEM },
		{ "__sem_clockwait64", CW_LOCK_SEM },
		{ "__pthread_clockjoin_ex", CW_LOCK_THREAD },
		{ "__new_sem_wait_slow64.constprop.0", CW_LOCK_SEM },
		{ "__pthread_timedjoin_np64", CW_LOCK_THREAD },
	};
	struct cw_futex_class c;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ASSERT_EQ(0, classify1(v[i].func, 0x6008, &c)) TH_LOG("%s", v[i].func);
		EXPECT_EQ(v[i].kind, c.kind) TH_LOG("%s", v[i].func);
	}
	EXPECT_EQ(-ENOENT, classify1("pthread_mutex_lockx", 0x6000, &c));
	EXPECT_EQ(-ENOENT, classify1("my_pthread_mutex_lock", 0x6000, &c));
}

/* Which frames decide: libc's innermost; nothing outside libc, nothing past its frames. */
TEST(frames)
{
	struct cw_futex_class c = {};
	/* cond_wait taking its mutex back: the mutex slow path is the wait */
	struct cw_frame back[] = { fr(NULL, LIBC), fr("__lll_lock_wait", LIBC),
				   fr("__pthread_mutex_cond_lock", LIBC),
				   fr("pthread_cond_wait", LIBC), fr("worker", "/bin/w") };
	/* a wrapper of the program's own called pthread_mutex_lock: not libc's */
	struct cw_frame own[] = { fr("syscall", LIBC), fr("pthread_mutex_lock", "/bin/w"),
				  fr("main", "/bin/w") };
	/* a lock taken in a callback libc called: the wait is the callback's futex */
	struct cw_frame cb[] = { fr("syscall", LIBC), fr("cmp", "/bin/w"),
				 fr("msort_with_tmp", LIBC), fr("pthread_mutex_lock", LIBC) };
	/* the program's own futex code */
	struct cw_frame raw[] = { fr("futex_wait", "/bin/w"), fr("pthread_cond_wait", LIBC) };
	/* an interposer (the preload library) before libc's frames */
	struct cw_frame pre[] = { fr(NULL, "/usr/lib/x86_64-linux-gnu/libc.so.6"),
				  fr("pthread_rwlock_wrlock", "/lib/libpthread.so.0"),
				  fr("pthread_rwlock_wrlock", "/usr/lib/libconcwatch-preload.so") };

	ASSERT_EQ(0, cw_classify__frames(back, 5, 0x7000, CW_FUTEX_OP_UNKNOWN, &c));
	EXPECT_EQ(CW_LOCK_MUTEX, c.kind);
	EXPECT_EQ(0x7000, c.object);
	EXPECT_EQ(-ENOENT, cw_classify__frames(own, 3, 0x7000, CW_FUTEX_OP_UNKNOWN, &c));
	EXPECT_EQ(-ENOENT, cw_classify__frames(cb, 4, 0x7000, CW_FUTEX_OP_UNKNOWN, &c));
	EXPECT_EQ(-ENOENT, cw_classify__frames(raw, 2, 0x7028, CW_FUTEX_OP_UNKNOWN, &c));
	ASSERT_EQ(0, cw_classify__frames(pre, 3, 0x700c, CW_FUTEX_OP_UNKNOWN, &c));
	EXPECT_EQ(CW_LOCK_RWLOCK, c.kind);
	EXPECT_EQ(0x7000, c.object);
	EXPECT_EQ(-ENOENT, cw_classify__frames(NULL, 0, 0x7000, CW_FUTEX_OP_UNKNOWN, &c));
	EXPECT_EQ(1, cw_classify__is_libc("/lib/x86_64-linux-gnu/libc-2.31.so"));
	EXPECT_EQ(0, cw_classify__is_libc("/opt/libcx.so"));
	EXPECT_EQ(0, cw_classify__is_libc(NULL));
}

/*
 * Without debug information pthread_cond_wait is the innermost named frame both of its
 * condvar wait and of taking its mutex back: the op tells them apart.
 */
TEST(cond_wait_or_its_mutex)
{
	struct cw_futex_class c = {};
	struct cw_frame f[] = { fr(NULL, LIBC), fr(NULL, LIBC), fr("pthread_cond_wait", LIBC),
				fr("worker", "/bin/w") };

	ASSERT_EQ(0, cw_classify__frames(f, 4, 0x7028, FUTEX_WAIT_BITSET_PRIVATE, &c));
	EXPECT_EQ(CW_LOCK_COND, c.kind);
	EXPECT_EQ(0x7000, c.object);
	ASSERT_EQ(0, cw_classify__frames(f, 4, 0x7040,
					 FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, &c));
	EXPECT_EQ(CW_LOCK_COND, c.kind);
	EXPECT_EQ(0x7018, c.object);
	/* the mutex word itself: __lll_lock_wait's FUTEX_WAIT, a PI mutex's FUTEX_LOCK_PI */
	ASSERT_EQ(0, cw_classify__frames(f, 4, 0x7040, FUTEX_WAIT_PRIVATE, &c));
	EXPECT_EQ(CW_LOCK_MUTEX, c.kind);
	EXPECT_EQ(0x7040, c.object);
	ASSERT_EQ(0, cw_classify__frames(f, 4, 0x7040, FUTEX_LOCK_PI, &c));
	EXPECT_EQ(CW_LOCK_MUTEX, c.kind);
	EXPECT_EQ(0x7040, c.object);
	/* the op not known: the frame decides */
	ASSERT_EQ(0, cw_classify__frames(f, 4, 0x7028, CW_FUTEX_OP_UNKNOWN, &c));
	EXPECT_EQ(CW_LOCK_COND, c.kind);
	EXPECT_EQ(0x7000, c.object);
	/* other rules keep their frame's meaning whatever the op */
	f[2] = fr("pthread_cond_signal", LIBC);
	ASSERT_EQ(0, cw_classify__frames(f, 4, 0x7010, FUTEX_WAIT_PRIVATE, &c));
	EXPECT_EQ(CW_LOCK_COND, c.kind);
	EXPECT_EQ(0x7000, c.object);
}

/* ---- this machine's glibc ---- */

enum { W_MUTEX, W_COND, W_RELOCK, W_RDLOCK, W_WRLOCK, W_SEM, W_BARRIER, W_JOIN, W_FUTEX,
       NR_W };
static const char *const w_names[NR_W] = { "mutex", "cond", "cond_relock", "rdlock", "wrlock",
					    "sem", "barrier", "join", "futex" };

/* What the child tells the parent of one blocked thread. */
struct blocked {
	int what;
	pid_t tid;
	__u64 object;	/* the object the wait must be classified to */
};

static pthread_mutex_t mx = PTHREAD_MUTEX_INITIALIZER, cmx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
/* W_RELOCK: signalled in pthread_cond_wait while the child's main thread holds rmx */
static pthread_mutex_t rmx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rcv = PTHREAD_COND_INITIALIZER;
static int relock_waiting;	/* under rmx */
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t sem;
static pthread_barrier_t bar;
static unsigned int fword;
static pthread_t sleeper;
static int report_fd;

static void tell(int what, __u64 object)
{
	struct blocked b = { .what = what, .tid = gettid(), .object = object };

	if (write(report_fd, &b, sizeof(b)) != sizeof(b))
		_exit(1);
}

static void *sleeper_fn(void *arg)
{
	pause();
	return NULL;
}

static void *waiter(void *arg)
{
	int what = (int)(long)arg;

	switch (what) {
	case W_MUTEX:
		tell(what, (__u64)&mx);
		pthread_mutex_lock(&mx);
		break;
	case W_COND:
		tell(what, (__u64)&cv);
		pthread_mutex_lock(&cmx);
		pthread_cond_wait(&cv, &cmx);
		break;
	case W_RELOCK:
		/* the wait to classify is the mutex taken back, not the condvar */
		tell(what, (__u64)&rmx);
		pthread_mutex_lock(&rmx);
		relock_waiting = 1;
		pthread_cond_wait(&rcv, &rmx);
		break;
	case W_RDLOCK:
	case W_WRLOCK:
		tell(what, (__u64)&rw);
		if (what == W_RDLOCK)
			pthread_rwlock_rdlock(&rw);
		else
			pthread_rwlock_wrlock(&rw);
		break;
	case W_SEM:
		tell(what, (__u64)&sem);
		sem_wait(&sem);
		break;
	case W_BARRIER:
		tell(what, (__u64)&bar);
		pthread_barrier_wait(&bar);
		break;
	case W_JOIN:
		/* the joined thread's tid word, wherever glibc keeps it: the object is the word */
		tell(what, 0);
		pthread_join(sleeper, NULL);
		break;
	case W_FUTEX:
		tell(what, 0);
		syscall(SYS_futex, &fword, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		break;
	}
	return NULL;
}

static void child(int fd)
{
	pthread_t t;

	report_fd = fd;
	sem_init(&sem, 0, 0);
	pthread_barrier_init(&bar, NULL, 2);
	pthread_mutex_lock(&mx);
	pthread_rwlock_wrlock(&rw);
	pthread_create(&sleeper, NULL, sleeper_fn, NULL);
	for (long w = 0; w < NR_W; w++)
		pthread_create(&t, NULL, waiter, (void *)w);
	/* rmx free with relock_waiting set: W_RELOCK is a waiter of rcv; wake it, keep rmx */
	for (;;) {
		pthread_mutex_lock(&rmx);
		if (relock_waiting)
			break;
		pthread_mutex_unlock(&rmx);
	}
	pthread_cond_signal(&rcv);
	pause();
	_exit(0);
}

/*
 * The futex word tid is blocked on, and the op, once it is in the futex syscall; 0 when
 * it is not.
 */
static __u64 futex_word(pid_t pid, pid_t tid, __u32 *op)
{
	char path[64], buf[256];
	unsigned long long nr, uaddr, o = 0;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	ok = fgets(buf, sizeof(buf), f) &&
	     sscanf(buf, "%llu %llx %llx", &nr, &uaddr, &o) == 3 && nr == SYS_futex;
	fclose(f);
	*op = (__u32)o;
	return ok ? uaddr : 0;
}

struct unwound {
	struct blocked *b;
	__u64 *words;
	__u32 *ops;
	int with_debuginfo;
	int seen[NR_W];
	struct __test_metadata *_metadata;
};

static int check_thread(void *ctx, int tid, const struct cw_ustack *s)
{
	struct unwound *u = ctx;
	struct __test_metadata *_metadata = u->_metadata;
	struct cw_futex_class c = {};
	int err;

	for (int i = 0; i < NR_W; i++) {
		const struct blocked *b = &u->b[i];

		if (b->tid != tid)
			continue;
		u->seen[b->what] = 1;
		err = cw_classify__frames(s->frames, s->nr, u->words[i], u->ops[i], &c);
		for (size_t k = 0; k < s->nr; k++)
			TH_LOG("%s #%zu %s [%s]%s", w_names[b->what], k,
			       s->frames[k].func ? s->frames[k].func : "?",
			       s->frames[k].module ? s->frames[k].module : "?",
			       s->frames[k].inlined ? " inlined" : "");
		if (b->what == W_FUTEX) {
			EXPECT_EQ(-ENOENT, err);
			return 0;
		}
		/*
		 * Without debug information a tail call hides the entry point (sem_wait and
		 * pthread_join jump to internal functions in glibc 2.36): not classified is
		 * right then, a wrong class never is.
		 */
		if (err == -ENOENT && !u->with_debuginfo &&
		    (b->what == W_SEM || b->what == W_JOIN))
			return 0;
		EXPECT_EQ(0, err) TH_LOG("%s not classified", w_names[b->what]);
		if (err)
			return 0;
		EXPECT_EQ(b->what == W_MUTEX || b->what == W_RELOCK ? CW_LOCK_MUTEX :
			  b->what == W_COND ? CW_LOCK_COND :
			  b->what == W_SEM ? CW_LOCK_SEM :
			  b->what == W_BARRIER ? CW_LOCK_BARRIER :
			  b->what == W_JOIN ? CW_LOCK_THREAD : CW_LOCK_RWLOCK, c.kind)
			TH_LOG("%s", w_names[b->what]);
		EXPECT_EQ(b->object ? b->object : u->words[i], c.object)
			TH_LOG("%s: word 0x%llx", w_names[b->what], (unsigned long long)u->words[i]);
	}
	return 0;
}

FIXTURE(glibc) {
	pid_t pid;
	struct blocked b[NR_W];
	__u64 words[NR_W];
	__u32 ops[NR_W];
};

FIXTURE_VARIANT(glibc) {
	const char *debuginfo_path;	/* NULL: the default, libc6-dbg's too */
};

FIXTURE_VARIANT_ADD(glibc, debuginfo) {
	.debuginfo_path = NULL,
};

/* a path with no debug information: .dynsym is all there is */
FIXTURE_VARIANT_ADD(glibc, dynsym_only) {
	.debuginfo_path = "/nonexistent-concwatch-debuginfo",
};

FIXTURE_SETUP(glibc)
{
	int fds[2];

	ASSERT_EQ(0, pipe(fds));
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		close(fds[0]);
		child(fds[1]);
	}
	close(fds[1]);
	for (int i = 0; i < NR_W; i++)
		ASSERT_EQ(sizeof(self->b[i]), read(fds[0], &self->b[i], sizeof(self->b[i])));
	close(fds[0]);
	/*
	 * every thread really blocked in the futex syscall, not about to be; W_RELOCK's on the
	 * mutex, not still on the condvar
	 */
	for (int i = 0; i < NR_W; i++) {
		for (int tries = 0;
		     !(self->words[i] = futex_word(self->pid, self->b[i].tid, &self->ops[i])) ||
		     (self->b[i].what == W_RELOCK && self->words[i] != self->b[i].object);
		     tries++) {
			ASSERT_LT(tries, 10000) TH_LOG("%s never blocked", w_names[self->b[i].what]);
			usleep(1000);
		}
	}
}

FIXTURE_TEARDOWN(glibc)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
}

TEST_F(glibc, classified)
{
	struct cw_unwinder_opts uo = { .debuginfo_path = variant->debuginfo_path };
	struct unwound u = { .b = self->b, .words = self->words, .ops = self->ops,
			     ._metadata = _metadata,
			     .with_debuginfo = !variant->debuginfo_path };
	int err;

	err = cw_unwind_process(self->pid, &uo, check_thread, &u);
	if (err == -EPERM)
		SKIP(return, "ptrace not permitted");
	ASSERT_EQ(0, err);
	for (int w = 0; w < NR_W; w++) {
		EXPECT_TRUE(u.seen[w]) TH_LOG("%s's thread not unwound", w_names[w]);
	}
}

TEST_HARNESS_MAIN
