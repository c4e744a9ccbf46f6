// SPDX-License-Identifier: GPL-2.0
/*
 * Heavy but correct nesting: four threads "wl-t1".."wl-t4" run at once, each for
 * ITERATIONS rounds (default 1000) taking a pseudo-random, non-empty subset of the
 * mutexes level0..level5, always in ascending level order, and releasing them in
 * reverse. Every thread agrees on the order: no inversion, however they interleave.
 * The subsets come from fixed seeds, so every run takes the same locks.
 *
 *   wl_nesting [-w] [ITERATIONS]
 *   ready pid=P tid1=T .. tid4=T level0=0x.. .. level5=0x.. iterations=N
 *   done acquisitions=N                  (pthread_mutex_lock calls, all threads)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "wl.h"

#define THREADS 4
#define LEVELS 6

pthread_mutex_t level0 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t level1 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t level2 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t level3 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t level4 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t level5 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t *const levels[LEVELS] = {
	&level0, &level1, &level2, &level3, &level4, &level5,
};
static pthread_barrier_t start;
static pthread_t threads[THREADS];
static pid_t tids[THREADS];
static long iterations, acquisitions[THREADS];

/* Take the levels in mask in ascending order, release them in descending order. */
WL_FRAME int take_levels(unsigned int mask)
{
	int taken = 0;

	for (int i = 0; i < LEVELS; i++) {
		if (mask & (1U << i)) {
			pthread_mutex_lock(levels[i]);
			taken++;
		}
	}
	for (int i = LEVELS - 1; i >= 0; i--) {
		if (mask & (1U << i))
			pthread_mutex_unlock(levels[i]);
	}
	return taken;
}

static void *worker_main(void *arg)
{
	int self = (intptr_t)arg;
	unsigned int seed = self + 1;
	char name[16];

	snprintf(name, sizeof(name), "wl-t%d", self + 1);
	tids[self] = wl_thread_init(name);
	pthread_barrier_wait(&start);	/* all tids known */
	pthread_barrier_wait(&start);	/* go */
	for (long n = 0; n < iterations; n++)
		acquisitions[self] += take_levels(1 + rand_r(&seed) % ((1U << LEVELS) - 1));
	return NULL;
}

int main(int argc, char **argv)
{
	long total = 0;

	wl_handshake(&argc, argv);
	iterations = wl_arg(argc, argv, 1, 1000);
	if (iterations < 1) {
		fprintf(stderr, "usage: wl_nesting [-w] [ITERATIONS]\n");
		return 2;
	}
	pthread_barrier_init(&start, NULL, THREADS + 1);
	for (intptr_t i = 0; i < THREADS; i++) {
		if (pthread_create(&threads[i], NULL, worker_main, (void *)i))
			return 1;
	}
	pthread_barrier_wait(&start);
	wl_ready("tid1=%d tid2=%d tid3=%d tid4=%d level0=%p level1=%p level2=%p level3=%p "
		 "level4=%p level5=%p iterations=%ld",
		 tids[0], tids[1], tids[2], tids[3], (void *)&level0, (void *)&level1,
		 (void *)&level2, (void *)&level3, (void *)&level4, (void *)&level5, iterations);
	pthread_barrier_wait(&start);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		total += acquisitions[i];
	}
	wl_done("acquisitions=%ld", total);
	return 0;
}
