// SPDX-License-Identifier: GPL-2.0
/*
 * THREADS threads (argv[1], default 3) named "contend-N" loop on two global mutexes,
 * outer_lock then inner_lock, from before the tracer attaches until stdin closes:
 * the tracer attaches to a process in full swing.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>

#include "wl.h"

pthread_mutex_t outer_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t inner_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;
static pthread_barrier_t started;
static volatile long rounds;

static void *worker(void *arg)
{
	pthread_barrier_wait(&started);
	while (!stop) {
		pthread_mutex_lock(&outer_lock);
		pthread_mutex_lock(&inner_lock);
		rounds++;
		pthread_mutex_unlock(&inner_lock);
		pthread_mutex_unlock(&outer_lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = wl_arg(argc, argv, 1, 3);
	pthread_t t[16];
	char name[16];

	if (n < 1 || n > 16)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&started, NULL, n + 1);
	for (long i = 0; i < n; i++) {
		pthread_create(&t[i], NULL, worker, NULL);
		snprintf(name, sizeof(name), "contend-%ld", i);
		pthread_setname_np(t[i], name);
	}
	pthread_barrier_wait(&started);
	printf("ready pid=%d threads=%ld outer=%p inner=%p\n", getpid(), n, (void *)&outer_lock,
	       (void *)&inner_lock);
	wl_wait_go();
	printf("done running=1\n");
	wl_wait_eof();
	stop = 1;
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
