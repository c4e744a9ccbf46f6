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
static struct wl_turns turns;
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

static void take_random_levels(int self)
{
	unsigned int seed = self + 1;

	for (long n = 0; n < iterations; n++)
		acquisitions[self] += take_levels(1 + rand_r(&seed) % ((1U << LEVELS) - 1));
}

/* One turn, which all of them share: they run at once. */
static struct wl_worker workers[THREADS] = {
	{ .name = "wl-t1", .work_self = take_random_levels, .turn = 0 },
	{ .name = "wl-t2", .work_self = take_random_levels, .turn = 0 },
	{ .name = "wl-t3", .work_self = take_random_levels, .turn = 0 },
	{ .name = "wl-t4", .work_self = take_random_levels, .turn = 0 },
};

int main(int argc, char **argv)
{
	long total = 0;

	wl_handshake(&argc, argv);
	iterations = wl_arg(argc, argv, 1, 1000);
	if (iterations < 1) {
		fprintf(stderr, "usage: wl_nesting [-w] [ITERATIONS]\n");
		return 2;
	}
	if (wl_turns_start(&turns, workers, THREADS, 1))
		return 1;
	wl_ready("tid1=%d tid2=%d tid3=%d tid4=%d level0=%p level1=%p level2=%p level3=%p "
		 "level4=%p level5=%p iterations=%ld",
		 workers[0].tid, workers[1].tid, workers[2].tid, workers[3].tid, (void *)&level0,
		 (void *)&level1, (void *)&level2, (void *)&level3, (void *)&level4,
		 (void *)&level5, iterations);
	wl_turns_go_and_join(&turns);
	for (int i = 0; i < THREADS; i++)
		total += acquisitions[i];
	wl_done("acquisitions=%ld", total);
	return 0;
}
