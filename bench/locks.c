// SPDX-License-Identifier: GPL-2.0
/*
 * The lock benchmark's workload: pthread mutex lock/unlock pairs, timed around the loop
 * alone, in ns per pair.
 *
 *   uncontended  one thread, N pairs on one mutex
 *   contended    two threads, N / 2 pairs each on one mutex
 *   nested       one thread: lock A, lock B, unlock B, unlock A; N / 2 times (2 pairs each)
 *
 * Every thread first runs a warm-up of its own (N / 100 pairs: the first probe hits of a
 * process map the kernel's uprobe area), then all meet at a barrier and the clock starts;
 * it stops when the last thread is done.
 *
 * With --wait the loop starts only when told, so that a tracer attaching to the running
 * process (bench/floor, bpftrace -p, concwatch report -p) is in place before it: threads
 * are made, "ready pid=PID" is printed, and it waits for a line "go" on standard input or
 * for SIGUSR1. A tracer that attaches before the first instruction (concwatch run) needs
 * none of it.
 *
 * Prints one line: "result mode=MODE pairs=N ns=TOTAL ns_per_pair=X".
 *
 * Usage: locks MODE N [--wait]
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/time.h"

enum mode { UNCONTENDED, CONTENDED, NESTED };

static const char *const mode_names[] = { "uncontended", "contended", "nested" };

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t go, start;	/* warm-up starts, timed loop starts */

struct worker {
	pthread_t thread;
	enum mode mode;
	long pairs;		/* this thread's pairs, warm-up not counted */
};

static void pairs(enum mode mode, long n)
{
	if (mode == NESTED) {
		for (long i = 0; i < n / 2; i++) {
			pthread_mutex_lock(&lock_a);
			pthread_mutex_lock(&lock_b);
			pthread_mutex_unlock(&lock_b);
			pthread_mutex_unlock(&lock_a);
		}
		return;
	}
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&lock_a);
		pthread_mutex_unlock(&lock_a);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(&go);
	pairs(w->mode, w->pairs / 100 + 2);
	pthread_barrier_wait(&start);
	pairs(w->mode, w->pairs);
	return NULL;
}

/*
 * Until "go" on stdin or SIGUSR1 (blocked by the caller, so none is lost before this).
 * 0, or -errno.
 */
static int wait_go(int sigfd)
{
	struct pollfd pfd[2] = {
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	char line[64];
	size_t len = 0;
	int nfds = 2;

	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		ssize_t n;

		if (poll(pfd, nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents & POLLIN)
			return 0;
		if (nfds < 2 || !(pfd[1].revents & (POLLIN | POLLHUP)))
			continue;
		n = read(STDIN_FILENO, line + len, sizeof(line) - 1 - len);
		if (n <= 0) {
			nfds = 1; /* stdin closed (or /dev/null): the signal alone starts it */
			continue;
		}
		len += n;
		line[len] = '\0';
		if (strstr(line, "go\n") || !strcmp(line, "go"))
			return 0;
		if (strchr(line, '\n') || len == sizeof(line) - 1)
			len = 0; /* some other line: forget it */
	}
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s uncontended|contended|nested N [--wait]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct worker w[2] = {};
	int nr_workers, sigfd = -1, err;
	enum mode mode;
	sigset_t usr1;
	uint64_t t0, t1;
	char *end;
	long n;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--wait")))
		usage(argv[0]);
	for (mode = UNCONTENDED; mode <= NESTED; mode++)
		if (!strcmp(argv[1], mode_names[mode]))
			break;
	if (mode > NESTED)
		usage(argv[0]);
	errno = 0;
	n = strtol(argv[2], &end, 10);
	if (errno || *end || n < 2 || n > (1L << 40))
		usage(argv[0]);
	n &= ~1L; /* contended and nested split it in two */

	if (argc == 4) {
		/* before any thread exists, so every thread inherits the mask */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		if (sigprocmask(SIG_BLOCK, &usr1, NULL)) {
			perror("locks: sigprocmask");
			return 1;
		}
		sigfd = signalfd(-1, &usr1, SFD_CLOEXEC);
		if (sigfd < 0) {
			perror("locks: signalfd");
			return 1;
		}
	}

	nr_workers = mode == CONTENDED ? 2 : 1;
	pthread_barrier_init(&go, NULL, nr_workers + 1);
	pthread_barrier_init(&start, NULL, nr_workers + 1);
	for (int i = 0; i < nr_workers; i++) {
		w[i].mode = mode;
		w[i].pairs = n / nr_workers;
		err = pthread_create(&w[i].thread, NULL, work, &w[i]);
		if (err) {
			fprintf(stderr, "locks: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	if (sigfd >= 0) {
		err = wait_go(sigfd);
		if (err) {
			fprintf(stderr, "locks: waiting for go: %s\n", strerror(-err));
			return 1;
		}
	}

	pthread_barrier_wait(&go);
	pthread_barrier_wait(&start);
	t0 = cw_now_ns();
	for (int i = 0; i < nr_workers; i++)
		pthread_join(w[i].thread, NULL);
	t1 = cw_now_ns();

	printf("result mode=%s pairs=%ld ns=%llu ns_per_pair=%.1f\n", mode_names[mode], n,
	       (unsigned long long)(t1 - t0), (double)(t1 - t0) / n);
	return 0;
}
