// SPDX-License-Identifier: GPL-2.0
/*
 * A worker thread named "wl-worker" takes and releases the global mutex wl_lock
 * exactly N times (argv[1], default 1000). Nothing else touches wl_lock.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>

#include "wl.h"

pthread_mutex_t wl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t started, go;
static long iterations;
static pid_t worker_tid;
static volatile long counter;

static void *worker(void *arg)
{
	worker_tid = syscall(SYS_gettid);
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&go);
	for (long i = 0; i < iterations; i++) {
		pthread_mutex_lock(&wl_lock);
		counter++;
		pthread_mutex_unlock(&wl_lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	iterations = wl_arg(argc, argv, 1, 1000);
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&started, NULL, 2);
	pthread_barrier_init(&go, NULL, 2);
	if (pthread_create(&t, NULL, worker, NULL))
		return 1;
	pthread_setname_np(t, "wl-worker");
	pthread_barrier_wait(&started);
	printf("ready pid=%d tid=%d lock=%p iterations=%ld\n", getpid(), worker_tid,
	       (void *)&wl_lock, iterations);
	wl_wait_go();
	pthread_barrier_wait(&go);
	pthread_join(t, NULL);
	printf("done counter=%ld\n", counter);
	wl_wait_eof();
	return 0;
}
