// SPDX-License-Identifier: GPL-2.0
/*
 * A target that keeps the tracer's reader busy: THREADS threads (argv[1], default 4)
 * named "storm-N" call futex(FUTEX_WAKE) on a word nobody waits on, as fast as they
 * can, from before the tracer attaches until stdin closes. Every call is a futex record
 * in the ring buffer (hundreds of thousands a second), more than one CPU can read while
 * the threads take the others: a tracer must end on time and count what it lost.
 *
 * Handshake (wl.h): "ready pid= threads=" / go / "done running=1" / stdin EOF.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "wl.h"

#define MAX_THREADS 16

static volatile int stop;
static int word;
static pthread_barrier_t started;

static void *storm(void *arg)
{
	pthread_barrier_wait(&started);
	while (!stop)
		syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	long n = wl_arg(argc, argv, 1, 4);
	pthread_t t[MAX_THREADS];
	char name[16];

	if (n < 1 || n > MAX_THREADS)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&started, NULL, n + 1);
	for (long i = 0; i < n; i++) {
		if (pthread_create(&t[i], NULL, storm, NULL))
			return 1;
		snprintf(name, sizeof(name), "storm-%ld", i);
		pthread_setname_np(t[i], name);
	}
	pthread_barrier_wait(&started);
	printf("ready pid=%d threads=%ld\n", getpid(), n);
	wl_wait_go();
	printf("done running=1\n");
	wl_wait_eof();
	stop = 1;
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
