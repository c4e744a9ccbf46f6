// SPDX-License-Identifier: GPL-2.0
/*
 * The contention benchmark's workload: a fixed amount of work, and the CPU time it took
 * (the process's task-clock, CLOCK_PROCESS_CPUTIME_ID: every thread's time on a CPU,
 * user and system, including what tracing programs run in its context cost). Wall time
 * would not do: tracing changes how often contending threads sleep, and so how long
 * they take, more than what it costs.
 *
 *   contended    THREADS threads (4), N iterations each: lock one shared mutex, work
 *                (CS_WORK units, ~1 ns each), sched_yield(), unlock, work outside
 *                (OUT_WORK). The holder yields its CPU inside the critical section, as
 *                one blocking on I/O under a lock would: another thread then runs and
 *                finds the lock taken, so nearly every iteration is a futex wait and a
 *                wake, whatever the number of CPUs and however busy they are
 *   uncontended  the same work, every thread with a mutex of its own and no yield: the
 *                uncontended fast path alone, never a system call
 *   futex        one thread, N calls of futex(FUTEX_WAKE) on a word nobody waits on:
 *                the cost of a futex system call, traced or not
 *   syscall      one thread, N calls of getppid(): what a tracer of futex calls adds to
 *                every other system call (a syscall tracepoint puts every task of the
 *                machine on the slow path of system call entry and exit)
 *   pipe         two threads passing a byte back and forth through two pipes, N rounds:
 *                every operation is one sleep and one wakeup of a thread outside any
 *                futex (a server's threads in epoll_wait or read): what the scheduler's
 *                programs cost a traced thread per sleep
 *
 * With --wait the work starts only when told, so that a tracer attaching to the running
 * process is in place before it: threads are made, "ready pid=PID" is printed, and it
 * waits for a line "go" on standard input. The clocks start when every thread has
 * passed a barrier, after a warm-up, and stop when the last one is done.
 *
 * Prints one line: "result mode=MODE ops=N cpu_ns=C wall_ns=W cpu_ns_per_op=X".
 *
 * Usage: cpu MODE N [THREADS] [--wait]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CS_WORK 1000
#define OUT_WORK 1000
#define MAX_THREADS 16

enum mode { CONTENDED, UNCONTENDED, FUTEX, SYSCALL, PIPE };

static const char *const mode_names[] = { "contended", "uncontended", "futex", "syscall",
					   "pipe" };

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static int futex_word;
static int ping[2], pong[2];	/* pipe: thread 0 writes ping, reads pong */

struct worker {
	pthread_t thread;
	enum mode mode;
	int idx;
	long iters;
	pthread_mutex_t own_lock;
	volatile unsigned long sink;
} __attribute__((aligned(64)));

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Work the compiler cannot drop: n rounds of a multiply-add into a volatile. */
static void spin(volatile unsigned long *sink, int n)
{
	unsigned long x = *sink;

	for (int i = 0; i < n; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	*sink = x;
}

static void iterations(struct worker *w, long n)
{
	pthread_mutex_t *m = w->mode == CONTENDED ? &shared_lock : &w->own_lock;

	if (w->mode == FUTEX) {
		for (long i = 0; i < n; i++)
			syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		return;
	}
	if (w->mode == SYSCALL) {
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		return;
	}
	if (w->mode == PIPE) {
		/* a byte back and forth: each thread sleeps and is woken once a round */
		int in = w->idx ? ping[0] : pong[0], out = w->idx ? pong[1] : ping[1];
		char c = 0;

		for (long i = 0; i < n; i++) {
			if (!w->idx && write(out, &c, 1) != 1)
				abort();
			if (read(in, &c, 1) != 1)
				abort();
			if (w->idx && write(out, &c, 1) != 1)
				abort();
		}
		return;
	}
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(m);
		spin(&w->sink, CS_WORK);
		if (w->mode == CONTENDED)
			sched_yield();
		pthread_mutex_unlock(m);
		spin(&w->sink, OUT_WORK);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;

	iterations(w, w->iters / 100 + 1);	/* warm-up */
	pthread_barrier_wait(&start);
	iterations(w, w->iters);
	return NULL;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s contended|uncontended|futex|syscall|pipe N [THREADS] [--wait]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_THREADS];
	uint64_t c0, c1, t0, t1;
	int nr = 4, wait = 0, err;
	char line[64], *end;
	enum mode mode;
	long n;

	if (argc > 1 && !strcmp(argv[argc - 1], "--wait")) {
		wait = 1;
		argc--;
	}
	if (argc < 3 || argc > 4)
		usage(argv[0]);
	for (mode = CONTENDED; mode <= PIPE; mode++)
		if (!strcmp(argv[1], mode_names[mode]))
			break;
	if (mode > PIPE)
		usage(argv[0]);
	errno = 0;
	n = strtol(argv[2], &end, 10);
	if (errno || *end || n < 1 || n > (1L << 40))
		usage(argv[0]);
	if (argc == 4)
		nr = atoi(argv[3]);
	if (mode == FUTEX || mode == SYSCALL)
		nr = 1;
	if (mode == PIPE) {
		nr = 2;
		if (pipe(ping) || pipe(pong)) {
			perror("cpu: pipe");
			return 1;
		}
	}
	if (nr < 1 || nr > MAX_THREADS)
		usage(argv[0]);

	pthread_barrier_init(&start, NULL, nr + 1);
	for (int i = 0; i < nr; i++) {
		w[i].mode = mode;
		w[i].idx = i;
		w[i].iters = n;
		pthread_mutex_init(&w[i].own_lock, NULL);
	}
	if (wait) {
		printf("ready pid=%d\n", (int)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n")) {
			fprintf(stderr, "cpu: expected 'go' on stdin\n");
			return 1;
		}
	}
	for (int i = 0; i < nr; i++) {
		err = pthread_create(&w[i].thread, NULL, work, &w[i]);
		if (err) {
			fprintf(stderr, "cpu: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	pthread_barrier_wait(&start);
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	t0 = clock_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < nr; i++)
		pthread_join(w[i].thread, NULL);
	c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	t1 = clock_ns(CLOCK_MONOTONIC);

	printf("result mode=%s ops=%ld cpu_ns=%llu wall_ns=%llu cpu_ns_per_op=%.1f\n",
	       mode_names[mode], n * nr, (unsigned long long)(c1 - c0),
	       (unsigned long long)(t1 - t0), (double)(c1 - c0) / (n * nr));
	return 0;
}
