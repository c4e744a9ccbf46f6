// SPDX-License-Identifier: GPL-2.0
/*
 * Many lock-order inversions at once, each on a pair of locks of its own: thread
 * "wl-t1" takes a then b, then (barrier) "wl-t2" takes b then a. Before its inversion
 * each process floods the ring buffer with FLOOD futex(2) calls (a record each when
 * the tracer sends every operation, raw_events), so that the dependencies meet a full
 * ring buffer.
 *
 *   wl_children [-w] N [FLOOD]    N processes, forked and held at one barrier, so
 *                                 that their dependencies come at once
 *   wl_children [-w] -t N [FLOOD] one process, N pairs of locks
 *   ready pid=P
 *   done pairs=N
 * Exits 0 when every child did.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "wl.h"

#define PAIRS_MAX 256

static pthread_mutex_t locks[PAIRS_MAX][2];
static int npairs;
static long flood;
static struct wl_turns turns;

static void flood_ring(void)
{
	static int word;

	for (long i = 0; i < flood; i++)
		syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

WL_FRAME void t1_a_then_b(void)
{
	flood_ring();
	for (int i = 0; i < npairs; i++) {
		pthread_mutex_lock(&locks[i][0]);
		pthread_mutex_lock(&locks[i][1]);
		pthread_mutex_unlock(&locks[i][1]);
		pthread_mutex_unlock(&locks[i][0]);
	}
}

WL_FRAME void t2_b_then_a(void)
{
	for (int i = 0; i < npairs; i++) {
		pthread_mutex_lock(&locks[i][1]);
		pthread_mutex_lock(&locks[i][0]);
		pthread_mutex_unlock(&locks[i][0]);
		pthread_mutex_unlock(&locks[i][1]);
	}
}

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_a_then_b, .turn = 0 },
	{ .name = "wl-t2", .work = t2_b_then_a, .turn = 1 },
};

static int inversions(void)
{
	for (int i = 0; i < npairs; i++)
		for (int k = 0; k < 2; k++)
			pthread_mutex_init(&locks[i][k], NULL);
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_turns_go_and_join(&turns);
	return 0;
}

int main(int argc, char **argv)
{
	int threads = 0, n, failed = 0;
	pthread_barrierattr_t ba;
	pthread_barrier_t *bar;

	wl_handshake(&argc, argv);
	if (argc > 1 && !strcmp(argv[1], "-t")) {
		threads = 1;
		argv++;
		argc--;
	}
	n = wl_arg(argc, argv, 1, 50);
	flood = wl_arg(argc, argv, 2, 0);
	if (n < 1 || n > PAIRS_MAX)
		return 2;
	wl_ready("n=%d", n);
	if (threads) {
		npairs = n;
		if (inversions())
			return 1;
		wl_done("pairs=%d", n);
		return 0;
	}

	npairs = 1;
	bar = mmap(NULL, sizeof(*bar), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bar == MAP_FAILED)
		return 1;
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(bar, &ba, n);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (!pid) {
			pthread_barrier_wait(bar);	/* all at once */
			_exit(inversions());
		}
	}
	for (int i = 0; i < n; i++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	wl_done("pairs=%d", n);
	return failed ? 1 : 0;
}
