// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/concwatch against its contract (include/concwatch/kmod.h), in a QEMU guest
 * (modules cannot be loaded on the development machines): the fixture loads the module
 * (CW_KMOD, default /cw/kmod/concwatch.ko) unless it is loaded, and unloads what it
 * loaded. Traced processes are children forked here, each making a known number of
 * futex calls, so every count is exact:
 *
 *   info          the ABI version, the rings, the classes this kernel has
 *   bad_ioctl     bad arguments: EINVAL, ESRCH, ENOTTY, and the target set unchanged
 *   exclusive     a second open: EBUSY
 *   futex_calls   K wakes of the target: K BEGIN/END pairs with its word and op; a
 *                 second child, not a target, makes the same calls and sends nothing
 *   futex_wait    a wait: switch out on the word, the waker named, the end's wait
 *   children      a target's forked child is traced (CW_KMOD_T_CHILDREN), not without
 *   overrun       a reader that never reads: a loss record with the exact count
 *   nonblock      empty: EAGAIN and poll() quiet; a record: poll() readable
 *   klock         wl_klock's mmap_lock contention: kernel lock begin/end pairs
 *   probe_args    ADD_PROBE's bad arguments: EINVAL, EBADF, ENOSPC; CLEAR_PROBES
 *   lock_probes   uprobes at the BPF source's places in libc: an ABBA pair's two
 *                 dependencies, a contended acquire (CONTENDED, BLOCKED with its
 *                 holder, the switch on the lock), holds, call paths; a process added
 *                 while tracing is probed, one never added takes no trap (exact hits)
 *   inherited    a target's child forked while tracing and added then: traced through the
 *                breakpoints its memory inherited (the probes are not registered again)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <concwatch/events.h>
#include <concwatch/kmod.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "source/placement.h"
#include "source/probes.h"
#include "source/target.h"

#define BUF_BYTES (1 << 20)

/* Everything read from the device, records and losses. */
struct seen {
	char *buf;
	size_t len;
	__u64 lost;
};

FIXTURE(dev) {
	int fd;
	int loaded;	/* by us: unloaded at teardown */
};

FIXTURE_SETUP(dev)
{
	char why[512];

	self->fd = -1;
	self->loaded = cw_kmod_load(why, sizeof(why));
	if (self->loaded < 0)
		SKIP(return, "%s", why);
	self->fd = open(CW_KMOD_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", CW_KMOD_DEVICE, strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->loaded > 0)
		EXPECT_EQ(0, cw_kmod_unload()) TH_LOG("rmmod after close: %s", strerror(errno));
}

/* Read until the device has nothing more: the tracing is stopped or the target quiet. */
static int drain(int fd, struct seen *s)
{
	for (;;) {
		ssize_t n;

		if (!s->buf) {
			s->buf = malloc(BUF_BYTES * 8);
			if (!s->buf)
				return -ENOMEM;
		}
		if (s->len + CW_RECORD_MAX > BUF_BYTES * 8)
			return -ENOSPC;
		n = read(fd, s->buf + s->len, BUF_BYTES * 8 - s->len);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (size_t off = s->len; off < s->len + n;) {
			const struct cw_hdr *h = (const void *)(s->buf + off);

			if (h->size < sizeof(*h) || h->size % 8 || off + h->size > s->len + n)
				return -EBADMSG;
			if (h->type == CW_EV_LOST)
				s->lost += ((const struct cw_ev_lost *)h)->count;
			off += h->size;
		}
		s->len += n;
	}
}

#define for_each_record(h, s)                                                           \
	for (const struct cw_hdr *h = (const void *)(s)->buf;                             \
	     (const char *)h < (s)->buf + (s)->len; h = (const void *)((const char *)h + h->size))

static size_t count_of(const struct seen *s, __u16 type, pid_t pid)
{
	size_t n = 0;

	for_each_record(h, s)
		n += h->type == type && (!pid || h->pid == (__u32)pid);
	return n;
}

static size_t count_pid(const struct seen *s, pid_t pid)
{
	size_t n = 0;

	for_each_record(h, s)
		n += h->pid == (__u32)pid;
	return n;
}

/* Switches from an untraced task (0/0) to a thread of pid. */
static size_t count_switch_ins(const struct seen *s, pid_t pid)
{
	size_t n = 0;

	for_each_record(h, s)
		n += h->type == CW_EV_SCHED_SWITCH && !h->pid &&
		     ((const struct cw_ev_switch *)h)->next_pid == (__u32)pid;
	return n;
}

static long futex(unsigned int *uaddr, int op, unsigned int val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static unsigned int word;	/* the children's private futex word */

/*
 * A child that waits for a byte on go, makes k FUTEX_WAKE calls on word (nobody
 * waits: each returns 0 at once) and exits.
 */
static pid_t waker_child(int k, int *go)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		for (int i = 0; i < k; i++)
			futex(&word, FUTEX_WAKE_PRIVATE, 1);
		_exit(0);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

static int run_child(pid_t pid, int go)
{
	int status;

	if (write(go, "g", 1) != 1)
		return -1;
	close(go);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int target(int fd, unsigned long cmd, pid_t pid, __u32 flags)
{
	struct cw_kmod_target t = { .pid = pid, .flags = flags };

	return ioctl(fd, cmd, &t) ? -errno : 0;
}

static int start(int fd, __u64 classes)
{
	struct cw_kmod_start st = { .classes = classes };

	return ioctl(fd, CW_KMOD_START, &st) ? -errno : 0;
}

TEST_F(dev, info)
{
	struct cw_kmod_info info = {};

	CW_SKIPPED_IN_SETUP();

	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_INFO, &info));
	EXPECT_EQ(CW_ABI_VERSION, info.abi_version);
	EXPECT_EQ(sysconf(_SC_NPROCESSORS_CONF), info.nr_rings);
	EXPECT_EQ(256 * sysconf(_SC_PAGESIZE), info.ring_bytes);
	/* both guest kernels have every class (lock:contention_* since 5.19) */
	EXPECT_EQ(CW_KMOD_C_ALL, info.classes);
	EXPECT_EQ(64, info.max_targets);
	EXPECT_EQ(16384, info.max_threads);
}

TEST_F(dev, bad_ioctl)
{
	struct cw_kmod_start st = { .classes = CW_KMOD_C_FUTEX };
	struct seen s = {};
	pid_t a, b;
	int go_a, go_b;

	CW_SKIPPED_IN_SETUP();

	a = waker_child(5, &go_a);
	b = waker_child(5, &go_b);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	ASSERT_EQ(0, target(self->fd, CW_KMOD_SET_TARGET, a, 0));
	/* none of these may change the set */
	EXPECT_EQ(-EINVAL, target(self->fd, CW_KMOD_SET_TARGET, b, 1U << 5));
	EXPECT_EQ(-EINVAL, target(self->fd, CW_KMOD_ADD_TARGET, -1, 0));
	EXPECT_EQ(-EINVAL, target(self->fd, CW_KMOD_ADD_TARGET, 0, 0));
	EXPECT_EQ(-EINVAL, target(self->fd, CW_KMOD_REMOVE_TARGET, 0, 0));
	EXPECT_EQ(-ESRCH, target(self->fd, CW_KMOD_SET_TARGET, 0x3ffffff0, 0));
	EXPECT_EQ(-ESRCH, target(self->fd, CW_KMOD_REMOVE_TARGET, b, 0));
	EXPECT_EQ(-EINVAL, start(self->fd, 0));
	EXPECT_EQ(-EINVAL, start(self->fd, 1ULL << 40));
	st.flags = 1ULL << 5;
	EXPECT_EQ(-1, ioctl(self->fd, CW_KMOD_START, &st));
	EXPECT_EQ(EINVAL, errno);
	st.flags = 0;
	st.stack_bytes = 4100;	/* not a multiple of 8 */
	EXPECT_EQ(-1, ioctl(self->fd, CW_KMOD_START, &st));
	EXPECT_EQ(EINVAL, errno);
	st.stack_bytes = CW_KMOD_STACK_BYTES_MAX + 8;
	EXPECT_EQ(-1, ioctl(self->fd, CW_KMOD_START, &st));
	EXPECT_EQ(EINVAL, errno);
	st.stack_bytes = 0;
	st.fp_depth = 31;
	EXPECT_EQ(-1, ioctl(self->fd, CW_KMOD_START, &st));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO(CW_KMOD_IOC_MAGIC, 99)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, CW_KMOD_START, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* still only a, and still stopped: nothing came */
	ASSERT_EQ(0, drain(self->fd, &s));
	EXPECT_EQ(0, s.len);
	ASSERT_EQ(0, start(self->fd, CW_KMOD_C_FUTEX));
	EXPECT_EQ(-EBUSY, start(self->fd, CW_KMOD_C_FUTEX));
	ASSERT_EQ(0, run_child(a, go_a));
	ASSERT_EQ(0, run_child(b, go_b));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STOP));
	ASSERT_EQ(0, drain(self->fd, &s));
	EXPECT_EQ(5, count_of(&s, CW_EV_FUTEX_BEGIN, a));
	EXPECT_EQ(0, count_pid(&s, b));
	free(s.buf);
}

TEST_F(dev, exclusive)
{
	int fd2;

	CW_SKIPPED_IN_SETUP();
	fd2 = open(CW_KMOD_DEVICE, O_RDONLY | O_CLOEXEC);
	EXPECT_EQ(-1, fd2);
	EXPECT_EQ(EBUSY, errno);
	if (fd2 >= 0)
		close(fd2);
}

TEST_F(dev, futex_calls)
{
	const int k = 100;
	struct seen s = {};
	struct cw_kmod_stats st;
	pid_t a, b;
	int go_a, go_b, begins = 0, ends = 0;

	CW_SKIPPED_IN_SETUP();

	a = waker_child(k, &go_a);
	b = waker_child(k, &go_b);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	ASSERT_EQ(0, target(self->fd, CW_KMOD_SET_TARGET, a, 0));
	ASSERT_EQ(0, start(self->fd, CW_KMOD_C_ALL));
	ASSERT_EQ(0, run_child(a, go_a));
	ASSERT_EQ(0, run_child(b, go_b));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STOP));
	ASSERT_EQ(0, drain(self->fd, &s));
	EXPECT_EQ(0, s.lost);
	for_each_record(h, &s) {
		const struct cw_ev_futex *f = (const void *)h;

		if (h->type != CW_EV_FUTEX_BEGIN && h->type != CW_EV_FUTEX_END)
			continue;
		ASSERT_EQ(a, h->pid);
		EXPECT_EQ(a, h->tid);
		EXPECT_EQ(sizeof(*f), h->size);
		EXPECT_EQ((unsigned long)&word, f->uaddr);
		EXPECT_EQ(FUTEX_WAKE_PRIVATE, f->op);
		EXPECT_EQ(1, f->val);
		if (h->type == CW_EV_FUTEX_BEGIN) {
			begins++;
			continue;
		}
		ends++;
		EXPECT_EQ(0, f->result); /* nobody waited */
	}
	EXPECT_EQ(k, begins);
	EXPECT_EQ(k, ends);
	/* its exit, as its last thread's */
	EXPECT_EQ(1, count_of(&s, CW_EV_EXIT, a));
	for_each_record(h, &s)
		if (h->type == CW_EV_EXIT)
			EXPECT_EQ(1, ((const struct cw_ev_exit *)h)->group_dead);
	/* the other child never hit a probe */
	EXPECT_EQ(0, count_pid(&s, b));
	/*
	 * every record written was read, and all are the target's: its own, and its
	 * switch-ins from untraced tasks (prev 0/0)
	 */
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STATS, &st));
	EXPECT_EQ(0, st.lost);
	EXPECT_EQ(count_pid(&s, a) + count_switch_ins(&s, a), st.records);
	for_each_record(h, &s)
		if (h->pid != (__u32)a && !(h->type == CW_EV_SCHED_SWITCH && !h->pid &&
					    ((const struct cw_ev_switch *)h)->next_pid == (__u32)a))
			TH_LOG("not the target's: type %u pid %u tid %u", h->type, h->pid, h->tid);
	free(s.buf);
}

/* A child that waits on a shared word until woken, then exits. */
TEST_F(dev, futex_wait)
{
	unsigned int *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			       -1, 0);
	const struct cw_ev_futex *begin = NULL, *end = NULL;
	const struct cw_ev_switch *sw = NULL;
	const struct cw_ev_wakeup *wk = NULL;
	struct seen s = {};
	int status, p[2];
	pid_t pid;
	char c;

	CW_SKIPPED_IN_SETUP();
	ASSERT_NE(MAP_FAILED, w);
	*w = 0;
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		while (!__atomic_load_n(w, __ATOMIC_ACQUIRE))
			futex(w, FUTEX_WAIT, 0);
		_exit(0);
	}
	ASSERT_LT(0, pid);
	close(p[0]);
	ASSERT_EQ(0, target(self->fd, CW_KMOD_SET_TARGET, pid, 0));
	ASSERT_EQ(0, start(self->fd, CW_KMOD_C_ALL));
	/* the wait begins after the start: blocked in it */
	ASSERT_EQ(1, write(p[1], "g", 1));
	close(p[1]);
	ASSERT_EQ(0, cw_wait_futex_on(pid, pid, (unsigned long)w));
	__atomic_store_n(w, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(1, futex(w, FUTEX_WAKE, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STOP));
	ASSERT_EQ(0, drain(self->fd, &s));
	/* the rings are read one after the other: order by time */
	for_each_record(h, &s)
		if (h->pid == (__u32)pid && h->type == CW_EV_FUTEX_BEGIN &&
		    (!begin || h->ts_ns > begin->hdr.ts_ns))
			begin = (const void *)h;
	ASSERT_NE(NULL, begin);
	for_each_record(h, &s) {
		if (h->pid != (__u32)pid || h->ts_ns < begin->hdr.ts_ns)
			continue;
		if (h->type == CW_EV_FUTEX_END && (!end || h->ts_ns < end->hdr.ts_ns))
			end = (const void *)h;
	}
	ASSERT_NE(NULL, end);
	/* within the wait: the switch out that blocked it and the wakeup that ended it */
	for_each_record(h, &s) {
		if (h->pid != (__u32)pid || h->ts_ns < begin->hdr.ts_ns || h->ts_ns > end->hdr.ts_ns)
			continue;
		if (h->type == CW_EV_SCHED_SWITCH && (!sw || h->ts_ns > sw->hdr.ts_ns))
			sw = (const void *)h;
		if (h->type == CW_EV_SCHED_WAKEUP)
			wk = (const void *)h;
	}
	ASSERT_NE(NULL, begin);
	ASSERT_NE(NULL, end);
	EXPECT_EQ((unsigned long)w, begin->uaddr);
	EXPECT_EQ(FUTEX_WAIT, begin->op);
	EXPECT_EQ(0, end->result);
	ASSERT_NE(NULL, sw);
	EXPECT_EQ(CW_OFFCPU_FUTEX, sw->reason);
	EXPECT_EQ((unsigned long)w, sw->wait_addr);
	ASSERT_NE(NULL, wk);
	EXPECT_EQ(getpid(), wk->waker_pid);
	EXPECT_EQ(gettid(), wk->waker_tid);
	EXPECT_EQ(CW_OFFCPU_FUTEX, wk->reason);
	EXPECT_EQ((unsigned long)w, wk->wait_addr);
	EXPECT_LT(0, wk->blocked_ns);
	EXPECT_LE(wk->blocked_ns, end->wait_ns);
	EXPECT_LE(sw->hdr.ts_ns, wk->hdr.ts_ns);
	EXPECT_LE(wk->hdr.ts_ns, end->hdr.ts_ns);
	free(s.buf);
	munmap(w, 4096);
}

/* A target that forks a child making k wakes: traced with CW_KMOD_T_CHILDREN only. */
static void children(struct __test_metadata *_metadata, int fd, __u32 flags)
{
	const int k = 20;
	pid_t pid, grandchild = 0;
	struct seen s = {};
	int go, p[2];

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	if (pid == 0) {
		char c;
		pid_t g;

		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		g = fork();
		if (g == 0) {
			for (int i = 0; i < k; i++)
				futex(&word, FUTEX_WAKE_PRIVATE, 1);
			_exit(0);
		}
		_exit(waitpid(g, NULL, 0) == g ? 0 : 1);
	}
	close(p[0]);
	go = p[1];
	ASSERT_EQ(0, target(fd, CW_KMOD_SET_TARGET, pid, flags));
	ASSERT_EQ(0, start(fd, CW_KMOD_C_ALL));
	ASSERT_EQ(0, run_child(pid, go));
	ASSERT_EQ(0, ioctl(fd, CW_KMOD_STOP));
	ASSERT_EQ(0, drain(fd, &s));
	for_each_record(h, &s) {
		const struct cw_ev_fork *f = (const void *)h;

		if (h->type != CW_EV_FORK || h->pid != (__u32)pid)
			continue;
		EXPECT_EQ(0, f->flags);
		EXPECT_EQ(f->child_pid, f->child_tid);
		grandchild = f->child_pid;
	}
	ASSERT_NE(0, grandchild) TH_LOG("no fork record of %d", pid);
	EXPECT_EQ(flags ? k : 0, count_of(&s, CW_EV_FUTEX_BEGIN, grandchild));
	EXPECT_EQ(flags ? 1 : 0, count_of(&s, CW_EV_EXIT, grandchild));
	free(s.buf);
}

TEST_F(dev, children)
{
	CW_SKIPPED_IN_SETUP();
	children(_metadata, self->fd, CW_KMOD_T_CHILDREN);
}

TEST_F(dev, no_children)
{
	CW_SKIPPED_IN_SETUP();
	children(_metadata, self->fd, 0);
}

/*
 * A reader that reads nothing while the target, on one CPU, makes more records than
 * the ring holds: what was read and what was lost add up to what was made, exactly.
 */
TEST_F(dev, overrun)
{
	struct cw_kmod_info info = {};
	struct cw_kmod_stats st = {};
	struct seen s = {};
	cpu_set_t cpu;
	int go, k;
	pid_t pid;

	CW_SKIPPED_IN_SETUP();

	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_INFO, &info));
	/* twice what a ring holds, in BEGIN/END pairs */
	k = info.ring_bytes / sizeof(struct cw_ev_futex);
	pid = waker_child(k, &go);
	ASSERT_LT(0, pid);
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(pid, sizeof(cpu), &cpu));
	ASSERT_EQ(0, target(self->fd, CW_KMOD_SET_TARGET, pid, 0));
	ASSERT_EQ(0, start(self->fd, CW_KMOD_C_FUTEX));
	ASSERT_EQ(0, run_child(pid, go));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STOP));
	ASSERT_EQ(0, drain(self->fd, &s));
	/*
	 * k pairs and the exit (the process class is always on), and the one call path's
	 * frames, sent at the first call into the empty ring
	 */
	EXPECT_LT(0, s.lost);
	EXPECT_EQ(1, count_of(&s, CW_EV_STACK, pid));
	EXPECT_EQ(2 * k + 1, count_pid(&s, pid) - 1 + s.lost);
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STATS, &st));
	EXPECT_EQ(s.lost, st.lost);
	EXPECT_EQ(count_pid(&s, pid), st.records);
	/* the loss came first, before the records that followed it */
	EXPECT_EQ(CW_EV_LOST, ((const struct cw_hdr *)s.buf)->type);
	free(s.buf);
}

TEST_F(dev, nonblock)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	char buf[CW_RECORD_MAX];
	struct seen seen = {};
	ssize_t n;
	pid_t pid;
	int go;

	CW_SKIPPED_IN_SETUP();

	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, poll(&p, 1, 0));
	pid = waker_child(1, &go);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, target(self->fd, CW_KMOD_SET_TARGET, pid, 0));
	ASSERT_EQ(0, start(self->fd, CW_KMOD_C_FUTEX));
	ASSERT_EQ(0, run_child(pid, go));
	/* the wakeup comes from an irq_work: poll() waits for it */
	EXPECT_EQ(1, poll(&p, 1, 10000));
	EXPECT_EQ(POLLIN, p.revents);
	/* too small a buffer for the first record */
	EXPECT_EQ(-1, read(self->fd, buf, 8));
	EXPECT_EQ(EINVAL, errno);
	/* the child has exited: its wake's BEGIN and END, its call path, its exit, all there */
	n = read(self->fd, buf, sizeof(buf));
	ASSERT_LT(0, n);
	seen.buf = buf;
	seen.len = n;
	EXPECT_EQ(1, count_of(&seen, CW_EV_FUTEX_BEGIN, pid));
	EXPECT_EQ(1, count_of(&seen, CW_EV_FUTEX_END, pid));
	EXPECT_EQ(1, count_of(&seen, CW_EV_STACK, pid));
	EXPECT_EQ(1, count_of(&seen, CW_EV_EXIT, pid));
	EXPECT_EQ(4, count_pid(&seen, pid));
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, poll(&p, 1, 0));
}

/* A CW_EV_STACK of kernel frames with this id, of this process, came. */
static int kstack_sent(const struct seen *s, __u32 pid, __u64 id)
{
	for_each_record(h, s) {
		const struct cw_ev_stack *st = (const void *)h;

		if (h->type == CW_EV_STACK && h->pid == pid && st->stack_id == id &&
		    st->space == CW_STACK_KERNEL && st->nr > 0 &&
		    h->size == sizeof(*st) + st->nr * sizeof(__u64))
			return 1;
	}
	return 0;
}

/*
 * wl_klock's threads contend for their mmap_lock: kernel lock waits, begin and end, with
 * the flag that names the lock and the kernel stacks of the waits.
 */
TEST_F(dev, klock)
{
	const struct cw_ev_klock *e;
	struct seen s = {};
	size_t ends = 0, mmap_lock = 0;
	char line[64];
	struct cw_wl wl;

	CW_SKIPPED_IN_SETUP();

	ASSERT_EQ(0, cw_wl__start(&wl, "wl_klock", NULL));
	ASSERT_EQ(0, target(self->fd, CW_KMOD_SET_TARGET, wl.pid, 0));
	ASSERT_EQ(0, start(self->fd, CW_KMOD_C_KLOCK));
	ASSERT_EQ(0, cw_wl__go(&wl));
	for (int tries = 0; !ends && tries < 600; tries++) {
		struct pollfd p = { .fd = self->fd, .events = POLLIN };

		poll(&p, 1, 50);
		ASSERT_EQ(0, drain(self->fd, &s));
		ends = 0;
		for_each_record(h, &s) {
			e = (const void *)h;
			ends += h->type == CW_EV_KLOCK_END && e->wait_ns;
		}
	}
	ASSERT_LT(0, ends) TH_LOG("no kernel lock contention in 30 s");
	/* its threads joined: it answers before its output is closed (no SIGPIPE) */
	ASSERT_EQ(0, cw_wl__send(&wl, "stop"));
	ASSERT_EQ(0, cw_wl__expect(&wl, "stopped", line, sizeof(line)));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STOP));
	ASSERT_EQ(0, drain(self->fd, &s));
	for_each_record(h, &s) {
		if (h->type != CW_EV_KLOCK_BEGIN && h->type != CW_EV_KLOCK_END)
			continue;
		e = (const void *)h;
		ASSERT_EQ(wl.pid, h->pid);
		EXPECT_NE(0, e->addr);
		if (h->type != CW_EV_KLOCK_END || !e->wait_ns)
			continue;
		/* an rwsem or a spinning lock: the flags of contention_begin */
		EXPECT_NE(0, e->lock_flags & ~CW_KLOCK_F_MMAP_LOCK);
		mmap_lock += !!(e->lock_flags & CW_KLOCK_F_MMAP_LOCK);
		/* the kernel stack of the wait, its frames sent */
		EXPECT_NE(0, e->kstack_id);
		EXPECT_TRUE(kstack_sent(&s, h->pid, e->kstack_id))
			TH_LOG("kernel stack %llx not sent", (unsigned long long)e->kstack_id);
	}
	/* the threads map and unmap: their process's mmap_lock */
	EXPECT_LT(0, mmap_lock);
	free(s.buf);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

static int add_probe(int fd, int lib, __u32 shape, __u64 offset, __u64 cookie, __u32 flags)
{
	struct cw_kmod_probe p = { .fd = lib, .shape = shape, .offset = offset,
				   .cookie = cookie, .flags = flags };

	return ioctl(fd, CW_KMOD_ADD_PROBE, &p) ? -errno : 0;
}

TEST_F(dev, probe_args)
{
	const __u64 c = CW_PROBE_COOKIE(CW_LOCK_MUTEX, CW_OP_LOCK, 0);
	struct cw_kmod_probe p = {};
	int lib, null;
	Dl_info di;

	CW_SKIPPED_IN_SETUP();
	ASSERT_NE(0, dladdr((void *)pthread_mutex_lock, &di));
	lib = open(di.dli_fname, O_RDONLY | O_CLOEXEC);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, lib);
	ASSERT_LE(0, null);
	EXPECT_EQ(-EINVAL, add_probe(self->fd, lib, 0, 64, c, 0));
	EXPECT_EQ(-EINVAL, add_probe(self->fd, lib, CW_KMOD_P_SPIN_TAKEN + 1, 64, c, 0));
	EXPECT_EQ(-EINVAL, add_probe(self->fd, lib, CW_KMOD_P_ACQUIRE, 64, c, 1U << 7));
	/* a return probe only where an acquire returns */
	EXPECT_EQ(-EINVAL, add_probe(self->fd, lib, CW_KMOD_P_RELEASE, 64, c, CW_KMOD_P_RET));
	EXPECT_EQ(-EINVAL, add_probe(self->fd, lib, CW_KMOD_P_ACQUIRE, 1ULL << 40, c, 0));
	EXPECT_EQ(-EINVAL, add_probe(self->fd, null, CW_KMOD_P_ACQUIRE, 0, c, 0));
	EXPECT_EQ(-EBADF, add_probe(self->fd, 1000, CW_KMOD_P_ACQUIRE, 64, c, 0));
	p.fd = lib;
	p.shape = CW_KMOD_P_ACQUIRE;
	p.offset = 64;
	p.pad = 1;
	EXPECT_EQ(-1, ioctl(self->fd, CW_KMOD_ADD_PROBE, &p));
	EXPECT_EQ(EINVAL, errno);
	/* the table holds CW_KMOD_MAX_PROBES, then ENOSPC; cleared, it takes them again */
	for (int i = 0; i < CW_KMOD_MAX_PROBES; i++)
		ASSERT_EQ(0, add_probe(self->fd, lib, CW_KMOD_P_RELEASE, 64 + i, c, 0));
	EXPECT_EQ(-ENOSPC, add_probe(self->fd, lib, CW_KMOD_P_RELEASE, 32, c, 0));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_CLEAR_PROBES));
	EXPECT_EQ(0, add_probe(self->fd, lib, CW_KMOD_P_RELEASE, 32, c, 0));
	/* not while tracing: the handlers use them */
	ASSERT_EQ(0, start(self->fd, CW_KMOD_C_ULOCK));
	EXPECT_EQ(-1, ioctl(self->fd, CW_KMOD_CLEAR_PROBES));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STOP));
	EXPECT_EQ(0, ioctl(self->fd, CW_KMOD_CLEAR_PROBES));
	close(lib);
	close(null);
}

/* The locks of the lock children (each its own copy after fork, at the same address). */
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

struct lock_child {
	pid_t pid;
	int to, from;		/* commands to it, answers from it */
	pid_t waiter;		/* its second thread */
};

struct waiter {
	int ready, cmd, done;	/* pipe ends, in the child */
};

static void *waiter_main(void *arg)
{
	const struct waiter *w = arg;
	pid_t tid = gettid();
	char c;

	if (write(w->ready, &tid, sizeof(tid)) != sizeof(tid) || read(w->cmd, &c, 1) != 1)
		return NULL;
	pthread_mutex_lock(&lock_a);	/* blocks: the main thread holds it */
	pthread_mutex_unlock(&lock_a);
	if (write(w->done, "w", 1) != 1)
		return NULL;
	return NULL;
}

/* A to B, then B to A: two dependencies. */
static void __attribute__((noinline)) abba(void)
{
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
}

/* Hold A until the waiter sleeps on it, then let it have it. */
static void __attribute__((noinline)) contend(int cmd, int done, pid_t waiter)
{
	char c;

	pthread_mutex_lock(&lock_a);
	if (write(cmd, "g", 1) != 1 || cw_wait_futex_blocked(getpid(), waiter))
		_exit(3);
	pthread_mutex_unlock(&lock_a);
	if (read(done, &c, 1) != 1)
		_exit(4);
}

/*
 * A child with a second thread (made before any tracing: thread creation takes glibc's
 * own locks), which on a byte runs abba() and contend(), answers, and exits on the
 * next byte. Its lock calls: 8 + 2 x 2 acquires (entry and return) and 6 releases.
 */
#define LOCK_CHILD_HITS (6 * 2 + 6)

static int lock_child(struct lock_child *lc, int dev)
{
	int to[2], from[2];

	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		return -1;
	lc->pid = fork();
	if (lc->pid < 0)
		return -1;
	if (lc->pid == 0) {
		int ready[2], cmd[2], done[2];
		struct waiter w;
		pthread_t t;
		pid_t tid;
		char c;

		/* the device closes with the test, not with its children */
		close(dev);
		if (pipe(ready) || pipe(cmd) || pipe(done))
			_exit(1);
		w = (struct waiter){ ready[1], cmd[0], done[1] };
		if (pthread_create(&t, NULL, waiter_main, &w) ||
		    read(ready[0], &tid, sizeof(tid)) != sizeof(tid) ||
		    write(from[1], &tid, sizeof(tid)) != sizeof(tid) || read(to[0], &c, 1) != 1)
			_exit(2);
		abba();
		contend(cmd[1], done[0], tid);
		if (write(from[1], "d", 1) != 1 || read(to[0], &c, 1) != 1)
			_exit(5);
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	lc->to = to[1];
	lc->from = from[0];
	return read(lc->from, &lc->waiter, sizeof(lc->waiter)) == sizeof(lc->waiter) ? 0 : -1;
}

static int lock_child_run(const struct lock_child *lc)
{
	char c;

	return write(lc->to, "g", 1) == 1 && read(lc->from, &c, 1) == 1 && c == 'd' ? 0 : -1;
}

static int lock_child_end(struct lock_child *lc)
{
	int status;

	if (write(lc->to, "x", 1) != 1 || waitpid(lc->pid, &status, 0) != lc->pid)
		return -1;
	close(lc->to);
	close(lc->from);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The probes of pthread_mutex_lock and _unlock, where the BPF source puts them. */
static int add_mutex_probes(int fd)
{
	static const struct {
		const char *func;
		__u32 shape, flags;
		__u8 op;
	} want[] = {
		{ "pthread_mutex_lock", CW_KMOD_P_ACQUIRE, CW_KMOD_P_RET, CW_OP_LOCK },
		{ "pthread_mutex_unlock", CW_KMOD_P_RELEASE, 0, CW_OP_UNLOCK },
	};
	int push = cw_placement__kernel_emulates_push();
	int nopl = cw_placement__kernel_emulates_nopl();
	struct cw_elf *elf;
	int lib, err = 0;
	Dl_info di;

	if (!dladdr((void *)pthread_mutex_lock, &di))
		return -ENOENT;
	lib = open(di.dli_fname, O_RDONLY | O_CLOEXEC);
	if (lib < 0)
		return -errno;
	err = cw_elf__open(di.dli_fname, &elf);
	for (size_t k = 0; !err && k < sizeof(want) / sizeof(want[0]); k++) {
		struct cw_probe_info pi;
		struct cw_elf_func f;
		size_t i;

		for (i = 0; !cw_bpf_probes__get(i, &pi); i++)
			if (!strcmp(pi.func, want[k].func))
				break;
		err = cw_elf__func(elf, want[k].func, &f);
		if (!err)
			err = add_probe(fd, lib, want[k].shape,
					f.offset + cw_bpf_probes__offset(i, &f, push, nopl),
					CW_PROBE_COOKIE(CW_LOCK_MUTEX, want[k].op, 0), want[k].flags);
	}
	if (elf)
		cw_elf__close(elf);
	close(lib);
	return err;
}

static const struct cw_ev_stack *stack_of(const struct seen *s, pid_t pid, __u64 id)
{
	for_each_record(h, s)
		if (h->type == CW_EV_STACK && h->pid == (__u32)pid &&
		    ((const struct cw_ev_stack *)h)->stack_id == id)
			return (const void *)h;
	return NULL;
}

static const struct cw_ev_ustack_raw *raw_of(const struct seen *s, pid_t pid, __u64 id)
{
	for_each_record(h, s)
		if (h->type == CW_EV_USTACK_RAW && h->pid == (__u32)pid &&
		    ((const struct cw_ev_ustack_raw *)h)->stack_id == id)
			return (const void *)h;
	return NULL;
}

/* What one traced lock child must have sent. */
static void check_lock_child(struct __test_metadata *_metadata, const struct seen *s,
			     const struct lock_child *lc)
{
	const __u64 a = (unsigned long)&lock_a, b = (unsigned long)&lock_b;
	const struct cw_ev_lock *waited = NULL;
	int edges_ab = 0, edges_ba = 0, acquired = 0, released = 0, contended = 0;
	int blocked = 0, unblocked = 0, switched = 0, blamed = 0, futex_stacks = 0;
	__u64 blocked_ts = 0, unblocked_ts = 0;
	const struct cw_ev_ustack_raw *raw;
	const struct cw_ev_stack *st;

	for_each_record(h, s) {
		const struct cw_ev_lock *l = (const void *)h;

		if (h->pid != (__u32)lc->pid)
			continue;
		if (h->type == CW_EV_LOCK_EDGE) {
			const struct cw_ev_edge *e = (const void *)h;

			edges_ab += e->from_addr == a && e->to_addr == b;
			edges_ba += e->from_addr == b && e->to_addr == a;
			EXPECT_NE(0, e->to_stack_id);
		} else if (h->type == CW_EV_LOCK_ACQUIRED) {
			acquired++;
			EXPECT_EQ(0, l->result);
			EXPECT_NE(0, l->stack_id);
			if (h->flags & CW_F_CONTENDED) {
				contended++;
				waited = l;
			}
		} else if (h->type == CW_EV_LOCK_RELEASED) {
			released++;
			/* every release here ends a hold: its time, and the acquire's path */
			EXPECT_LT(0, l->wait_ns);
			EXPECT_NE(0, l->stack_id);
		} else if (h->type == CW_EV_BLOCKED) {
			const struct cw_ev_blocked *bl = (const void *)h;

			EXPECT_EQ(lc->waiter, h->tid);
			EXPECT_EQ(a, bl->addr);
			if (bl->reason == CW_OFFCPU_LOCK) {
				blocked++;
				if (!blocked_ts || h->ts_ns < blocked_ts)
					blocked_ts = h->ts_ns;
				/* the holder, as the mutex's __owner says */
				EXPECT_EQ(lc->pid, bl->owner_tid);
			} else {
				EXPECT_EQ(CW_OFFCPU_NONE, bl->reason);
				unblocked++;
				unblocked_ts = h->ts_ns;
			}
		} else if (h->type == CW_EV_SCHED_WAKEUP && h->tid == (__u32)lc->waiter &&
			   ((const struct cw_ev_wakeup *)h)->waker_stack_id) {
			const struct cw_ev_wakeup *w = (const void *)h;

			/* the holder's unlock woke it: who made it wait, from where */
			blamed++;
			EXPECT_EQ(lc->pid, w->waker_tid);
			EXPECT_EQ(a, w->wait_addr);
			EXPECT_NE(NULL, stack_of(s, lc->pid, w->waker_stack_id));
		} else if (h->type == CW_EV_FUTEX_BEGIN && h->tid == (__u32)lc->waiter) {
			const struct cw_ev_futex *f = (const void *)h;

			futex_stacks += f->stack_id && stack_of(s, lc->pid, f->stack_id);
		} else if (h->type == CW_EV_SCHED_SWITCH && h->tid == (__u32)lc->waiter) {
			const struct cw_ev_switch *sw = (const void *)h;

			if (sw->reason == CW_OFFCPU_LOCK) {
				switched++;
				EXPECT_EQ(a, sw->wait_addr);
			}
		}
	}
	EXPECT_EQ(1, edges_ab);
	EXPECT_EQ(1, edges_ba);
	EXPECT_EQ(6, acquired);
	EXPECT_EQ(6, released);
	EXPECT_EQ(1, contended);
	EXPECT_LE(1, blocked);
	EXPECT_EQ(1, unblocked);
	/* the rings are read a CPU at a time: the order is the clock's */
	EXPECT_LT(blocked_ts, unblocked_ts);
	EXPECT_LE(1, switched);
	EXPECT_EQ(1, blamed);
	EXPECT_LE(1, futex_stacks);
	ASSERT_NE(NULL, waited);
	EXPECT_EQ(lc->waiter, waited->hdr.tid);
	EXPECT_EQ(a, waited->addr);
	EXPECT_LT(0, waited->wait_ns);
	/* its call path: pthread_mutex_lock, called from waiter_main */
	st = stack_of(s, lc->pid, waited->stack_id);
	ASSERT_NE(NULL, st);
	ASSERT_LE(2, st->nr);
	EXPECT_EQ(CW_STACK_USER, st->space);
	EXPECT_GT(256, st->ips[1] - (unsigned long)waiter_main)
		TH_LOG("return address %#llx, waiter_main at %p", (unsigned long long)st->ips[1],
		       (void *)waiter_main);
	raw = raw_of(s, lc->pid, waited->stack_id);
	ASSERT_NE(NULL, raw);
	EXPECT_LT(0, raw->len);
	EXPECT_GE(4096, raw->len);
	EXPECT_NE(0, raw->sp);
}

TEST_F(dev, lock_probes)
{
	struct cw_kmod_start st = { .classes = CW_KMOD_C_ALL, .stack_bytes = 4096 };
	struct lock_child traced, added, other;
	struct cw_kmod_stats ks = {};
	struct seen s = {};

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, lock_child(&traced, self->fd));
	ASSERT_EQ(0, lock_child(&added, self->fd));
	ASSERT_EQ(0, lock_child(&other, self->fd));
	ASSERT_EQ(0, add_mutex_probes(self->fd));
	ASSERT_EQ(0, target(self->fd, CW_KMOD_SET_TARGET, traced.pid, 0));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_START, &st));
	/* its libc was mapped before: the probes are registered again for it */
	ASSERT_EQ(0, target(self->fd, CW_KMOD_ADD_TARGET, added.pid, 0));
	ASSERT_EQ(0, lock_child_run(&traced));
	ASSERT_EQ(0, lock_child_run(&added));
	ASSERT_EQ(0, lock_child_run(&other));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STATS, &ks));
	/* the traps the targets took, and none of the other child's */
	EXPECT_EQ(2 * LOCK_CHILD_HITS, ks.probe_hits);
	EXPECT_EQ(0, ks.lost_held);
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STOP));
	ASSERT_EQ(0, drain(self->fd, &s));
	EXPECT_EQ(0, s.lost);
	check_lock_child(_metadata, &s, &traced);
	check_lock_child(_metadata, &s, &added);
	EXPECT_EQ(0, count_pid(&s, other.pid));
	EXPECT_EQ(0, lock_child_end(&traced));
	EXPECT_EQ(0, lock_child_end(&added));
	EXPECT_EQ(0, lock_child_end(&other));
	free(s.buf);
}

/*
 * A process that forks, on a byte, a child that sends its pid, runs abba() on the next
 * byte sent to it, answers, and exits on the one after; the process exits on its second
 * byte. Pipes: to[0] the process's, gto[0]/gfrom[1] its child's (all made here, so that
 * the test holds the other ends).
 */
struct forker {
	pid_t pid, child;
	int to, gto, gfrom;
};

static int forker_start(struct forker *f, int dev)
{
	int to[2], gto[2], gfrom[2];
	char c;

	if (pipe2(to, O_CLOEXEC) || pipe2(gto, O_CLOEXEC) || pipe2(gfrom, O_CLOEXEC))
		return -1;
	f->pid = fork();
	if (f->pid < 0)
		return -1;
	if (!f->pid) {
		pid_t g;

		close(dev);
		if (read(to[0], &c, 1) != 1)
			_exit(1);
		g = fork();
		if (!g) {
			pid_t me = getpid();

			if (write(gfrom[1], &me, sizeof(me)) != sizeof(me) ||
			    read(gto[0], &c, 1) != 1)
				_exit(1);
			abba();
			if (write(gfrom[1], "d", 1) != 1 || read(gto[0], &c, 1) != 1)
				_exit(1);
			_exit(0);
		}
		if (g < 0 || read(to[0], &c, 1) != 1 || waitpid(g, NULL, 0) != g)
			_exit(2);
		_exit(0);
	}
	f->to = to[1];
	f->gto = gto[1];
	f->gfrom = gfrom[0];
	close(to[0]);
	close(gto[0]);
	close(gfrom[1]);
	return 0;
}

TEST_F(dev, inherited)
{
	struct cw_kmod_start st = { .classes = CW_KMOD_C_ALL };
	struct cw_kmod_stats ks = {};
	struct seen s = {};
	struct forker f;
	int edges = 0, status;
	char c;

	CW_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, forker_start(&f, self->fd));
	ASSERT_EQ(0, add_mutex_probes(self->fd));
	ASSERT_EQ(0, target(self->fd, CW_KMOD_SET_TARGET, f.pid, 0));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_START, &st));
	/* its child, forked now, without CW_KMOD_T_CHILDREN: added by hand */
	ASSERT_EQ(1, write(f.to, "f", 1));
	ASSERT_EQ(sizeof(f.child), read(f.gfrom, &f.child, sizeof(f.child)));
	ASSERT_EQ(0, target(self->fd, CW_KMOD_ADD_TARGET, f.child, 0));
	ASSERT_EQ(1, write(f.gto, "g", 1));
	ASSERT_EQ(1, read(f.gfrom, &c, 1));
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STATS, &ks));
	/* abba()'s four acquires (entry and return) and four releases, all the child's */
	EXPECT_EQ(12, ks.probe_hits);
	ASSERT_EQ(0, ioctl(self->fd, CW_KMOD_STOP));
	ASSERT_EQ(0, drain(self->fd, &s));
	for_each_record(h, &s)
		edges += h->type == CW_EV_LOCK_EDGE && h->pid == (__u32)f.child;
	EXPECT_EQ(2, edges);
	EXPECT_EQ(1, write(f.gto, "x", 1));
	EXPECT_EQ(1, write(f.to, "x", 1));
	EXPECT_EQ(f.pid, waitpid(f.pid, &status, 0));
	EXPECT_EQ(0, status);
	close(f.to);
	close(f.gto);
	close(f.gfrom);
	free(s.buf);
}

TEST_HARNESS_MAIN
