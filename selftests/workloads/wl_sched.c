// SPDX-License-Identifier: GPL-2.0
/*
 * Threads with known scheduling, for the scheduler tests (selftests/live/test_sched.c).
 * One scenario per run, named by the first argument; each prints the figures it measured
 * itself in its done line. Handshake (wl.h): "ready pid= ..." / go / ... / "done ...".
 *
 *   futex   "wl-waiter" waits in FUTEX_WAIT_PRIVATE on word (prints "blocked" just
 *           before); on "wake" from the test, "wl-waker" sleeps 20 ms (so the wait is
 *           long) and wakes it from wake_waiter(). done: wait_ns= (the waiter's own
 *           measure of its futex call, CLOCK_MONOTONIC).
 *   mutex   "wl-holder" holds mtx; "wl-locker" blocks in pthread_mutex_lock(&mtx)
 *           (prints "blocked" just before); on "release" the holder sleeps 20 ms and
 *           unlocks it from release_lock(). done: wait_ns= (the locker's measure of its
 *           pthread_mutex_lock call).
 *   cpu     "wl-spin" burns ARG2 ms (default 200) of its own CPU time and exits.
 *           done: cpu_ns= (CLOCK_THREAD_CPUTIME_ID).
 *   sleep   "wl-sleeper" calls nanosleep(20 ms) five times and exits. done: slept_ns=
 *           (the time asked for).
 *   pinned  "wl-pin-a" and "wl-pin-b", both pinned to one CPU, each burn ARG2 ms
 *           (default 200) of CPU time at once. done: cpu= a_ns= b_ns=.
 *   prio    "wl-fifo" makes itself SCHED_FIFO 10 (fifo=0 when not permitted) and
 *           "wl-nice" nice 5; each then sleeps 1 ms and exits. done: fifo= nice=.
 *   pingpong  "wl-ping" and "wl-pong" hand a turn back and forth ARG2 times (default
 *           100000) through two futex words, raw futex(2) calls, no pthread lock: a
 *           switch and a wakeup each way, for the cost of scheduler tracing.
 *           done: rounds= ns= (wall time of the rounds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "wl.h"

#define barrier() asm volatile("" ::: "memory")

static pthread_barrier_t start;
static long arg_ms;

static __u64 clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --- futex ------------------------------------------------------------------------ */

static int word;
static pthread_barrier_t wake_cmd;
static __u64 wait_ns;
static pid_t waiter_tid, waker_tid;

WL_FRAME void wake_waiter(void)
{
	__atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	barrier();
}

static void *waiter_main(void *arg)
{
	__u64 t0, t1;

	waiter_tid = wl_thread_init("wl-waiter");
	pthread_barrier_wait(&start); /* tids known */
	pthread_barrier_wait(&start); /* go */
	printf("blocked\n");
	t0 = clock_ns(CLOCK_MONOTONIC);
	while (!__atomic_load_n(&word, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	t1 = clock_ns(CLOCK_MONOTONIC);
	wait_ns = t1 - t0;
	return NULL;
}

static void *waker_main(void *arg)
{
	waker_tid = wl_thread_init("wl-waker");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&wake_cmd); /* the test saw the waiter blocked */
	sleep_ms(20);
	wake_waiter();
	barrier();
	return NULL;
}

static int futex_scenario(void)
{
	pthread_t w, k;
	char line[16];

	pthread_barrier_init(&start, NULL, 3);
	pthread_barrier_init(&wake_cmd, NULL, 2);
	pthread_create(&w, NULL, waiter_main, NULL);
	pthread_create(&k, NULL, waker_main, NULL);
	pthread_barrier_wait(&start);
	wl_ready("waiter=%d waker=%d word=%p", waiter_tid, waker_tid, (void *)&word);
	pthread_barrier_wait(&start);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "wake\n"))
		return 1;
	pthread_barrier_wait(&wake_cmd);
	pthread_join(k, NULL);
	pthread_join(w, NULL);
	wl_done("wait_ns=%llu", (unsigned long long)wait_ns);
	return 0;
}

/* --- mutex ------------------------------------------------------------------------ */

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pid_t holder_tid, locker_tid;

WL_FRAME void release_lock(void)
{
	pthread_mutex_unlock(&mtx);
	barrier();
}

static void *holder_main(void *arg)
{
	holder_tid = wl_thread_init("wl-holder");
	pthread_mutex_lock(&mtx);
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&wake_cmd); /* the test saw the locker blocked */
	sleep_ms(20);
	release_lock();
	barrier();
	return NULL;
}

static void *locker_main(void *arg)
{
	__u64 t0, t1;

	locker_tid = wl_thread_init("wl-locker");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	printf("blocked\n");
	t0 = clock_ns(CLOCK_MONOTONIC);
	pthread_mutex_lock(&mtx);
	t1 = clock_ns(CLOCK_MONOTONIC);
	pthread_mutex_unlock(&mtx);
	wait_ns = t1 - t0;
	return NULL;
}

static int mutex_scenario(void)
{
	pthread_t h, l;
	char line[16];

	pthread_barrier_init(&start, NULL, 3);
	pthread_barrier_init(&wake_cmd, NULL, 2);
	pthread_create(&h, NULL, holder_main, NULL);
	pthread_create(&l, NULL, locker_main, NULL);
	pthread_barrier_wait(&start);
	wl_ready("holder=%d locker=%d mutex=%p", holder_tid, locker_tid, (void *)&mtx);
	pthread_barrier_wait(&start);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "release\n"))
		return 1;
	pthread_barrier_wait(&wake_cmd);
	pthread_join(h, NULL);
	pthread_join(l, NULL);
	wl_done("wait_ns=%llu", (unsigned long long)wait_ns);
	return 0;
}

/* --- cpu, pinned ------------------------------------------------------------------- */

struct spinner {
	const char *name;
	int cpu;		/* pin to it, or -1 */
	pid_t tid;
	__u64 cpu_ns;
	pthread_t thread;
};

/* Burn arg_ms ms of this thread's CPU time; what it measured. */
WL_FRAME __u64 burn(void)
{
	__u64 c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), c1;
	volatile unsigned long x = 0;

	do {
		for (int i = 0; i < 10000; i++)
			x += i;
		c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	} while (c1 - c0 < (__u64)arg_ms * 1000000);
	return c1 - c0;
}

static void *spinner_main(void *arg)
{
	struct spinner *s = arg;

	s->tid = wl_thread_init(s->name);
	if (s->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(s->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			exit(2);
	}
	pthread_barrier_wait(&start); /* tids known, pinned */
	pthread_barrier_wait(&start); /* go */
	s->cpu_ns = burn();
	return NULL;
}

static int spin_scenario(int pinned)
{
	struct spinner sp[2] = { { .name = pinned ? "wl-pin-a" : "wl-spin", .cpu = -1 },
				 { .name = "wl-pin-b", .cpu = -1 } };
	int n = pinned ? 2 : 1, cpu = -1;
	cpu_set_t set;

	if (pinned) {
		/* the first CPU this process may use */
		if (sched_getaffinity(0, sizeof(set), &set))
			return 2;
		for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
			;
		sp[0].cpu = sp[1].cpu = cpu;
	}
	pthread_barrier_init(&start, NULL, n + 1);
	for (int i = 0; i < n; i++)
		pthread_create(&sp[i].thread, NULL, spinner_main, &sp[i]);
	pthread_barrier_wait(&start);
	if (pinned)
		wl_ready("a=%d b=%d cpu=%d", sp[0].tid, sp[1].tid, cpu);
	else
		wl_ready("tid=%d", sp[0].tid);
	pthread_barrier_wait(&start);
	for (int i = 0; i < n; i++)
		pthread_join(sp[i].thread, NULL);
	if (pinned)
		wl_done("cpu=%d a_ns=%llu b_ns=%llu", cpu, (unsigned long long)sp[0].cpu_ns,
			(unsigned long long)sp[1].cpu_ns);
	else
		wl_done("cpu_ns=%llu", (unsigned long long)sp[0].cpu_ns);
	return 0;
}

/* --- sleep ------------------------------------------------------------------------- */

static pid_t sleeper_tid;

static void *sleeper_main(void *arg)
{
	sleeper_tid = wl_thread_init("wl-sleeper");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	for (int i = 0; i < 5; i++)
		sleep_ms(20);
	return NULL;
}

static int sleep_scenario(void)
{
	pthread_t t;

	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&t, NULL, sleeper_main, NULL);
	pthread_barrier_wait(&start);
	wl_ready("tid=%d", sleeper_tid);
	pthread_barrier_wait(&start);
	pthread_join(t, NULL);
	wl_done("slept_ns=%llu", 5 * 20000000ULL);
	return 0;
}

/* --- prio -------------------------------------------------------------------------- */

static pid_t fifo_tid, nice_tid;
static int fifo_ok, nice_ok;

static void *fifo_main(void *arg)
{
	struct sched_param sp = { .sched_priority = 10 };

	fifo_tid = wl_thread_init("wl-fifo");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	fifo_ok = !pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	sleep_ms(1);
	return NULL;
}

static void *nice_main(void *arg)
{
	nice_tid = wl_thread_init("wl-nice");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	/* on Linux, a thread's own nice value */
	nice_ok = !setpriority(PRIO_PROCESS, 0, 5);
	sleep_ms(1);
	return NULL;
}

static int prio_scenario(void)
{
	pthread_t f, n;

	pthread_barrier_init(&start, NULL, 3);
	pthread_create(&f, NULL, fifo_main, NULL);
	pthread_create(&n, NULL, nice_main, NULL);
	pthread_barrier_wait(&start);
	wl_ready("fifo_tid=%d nice_tid=%d", fifo_tid, nice_tid);
	pthread_barrier_wait(&start);
	pthread_join(f, NULL);
	pthread_join(n, NULL);
	wl_done("fifo=%d nice=%d", fifo_ok, nice_ok);
	return 0;
}

/* --- pingpong --------------------------------------------------------------------- */

static int ping, pong;

static void futex_wait0(int *w)
{
	while (!__atomic_exchange_n(w, 0, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

static void futex_post(int *w)
{
	__atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *pong_main(void *arg)
{
	wl_thread_init("wl-pong");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	for (long i = 0; i < arg_ms; i++) {
		futex_wait0(&ping);
		futex_post(&pong);
	}
	return NULL;
}

static int pingpong_scenario(void)
{
	pthread_t t;
	__u64 t0;

	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&t, NULL, pong_main, NULL);
	wl_thread_init("wl-ping");
	pthread_barrier_wait(&start);
	wl_ready("rounds=%ld", arg_ms);
	pthread_barrier_wait(&start);
	t0 = clock_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < arg_ms; i++) {
		futex_post(&ping);
		futex_wait0(&pong);
	}
	pthread_join(t, NULL);
	wl_done("rounds=%ld ns=%llu", arg_ms, (unsigned long long)(clock_ns(CLOCK_MONOTONIC) - t0));
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	*wl_handshake_mode() = 1;
	arg_ms = wl_arg(argc, argv, 2, strcmp(what, "pingpong") ? 200 : 100000);
	if (!strcmp(what, "futex"))
		return futex_scenario();
	if (!strcmp(what, "mutex"))
		return mutex_scenario();
	if (!strcmp(what, "cpu"))
		return spin_scenario(0);
	if (!strcmp(what, "pinned"))
		return spin_scenario(1);
	if (!strcmp(what, "sleep"))
		return sleep_scenario();
	if (!strcmp(what, "prio"))
		return prio_scenario();
	if (!strcmp(what, "pingpong"))
		return pingpong_scenario();
	fprintf(stderr, "usage: wl_sched futex|mutex|cpu|pinned|sleep|prio|pingpong [ARG]\n");
	return 2;
}
