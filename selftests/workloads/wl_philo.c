// SPDX-License-Identifier: GPL-2.0
/*
 * Dining philosophers who never starve: philosopher i (thread "wl-phil<i>") takes
 * forks[i] then forks[(i + 1) % 5], so the lock order has the 5-cycle
 * forks[0] -> forks[1] -> ... -> forks[4] -> forks[0]. They eat one at a time, in turn,
 * a barrier between turns (no lock is held across turns: that would be a gate lock).
 * The locks are elements of one array: their names are forks+offset.
 *
 *   wl_philo [-w]
 *   ready pid=P tid0=T .. tid4=T forks=0x.. fork0=0x.. .. fork4=0x..
 *   done meals=5
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "wl.h"

#define PHILOSOPHERS 5

pthread_mutex_t forks[PHILOSOPHERS] = { [0 ... PHILOSOPHERS - 1] = PTHREAD_MUTEX_INITIALIZER };
static pthread_barrier_t start, turn;
static pthread_t threads[PHILOSOPHERS];
static pid_t tids[PHILOSOPHERS];
static int meals;

WL_FRAME void philosopher_eat(int i)
{
	pthread_mutex_lock(&forks[i]);
	pthread_mutex_lock(&forks[(i + 1) % PHILOSOPHERS]);
	meals++;
	pthread_mutex_unlock(&forks[(i + 1) % PHILOSOPHERS]);
	pthread_mutex_unlock(&forks[i]);
}

static void *philosopher_main(void *arg)
{
	int self = (intptr_t)arg;
	char name[16];

	snprintf(name, sizeof(name), "wl-phil%d", self);
	tids[self] = wl_thread_init(name);
	pthread_barrier_wait(&start);	/* all tids known */
	pthread_barrier_wait(&start);	/* go */
	for (int i = 0; i < PHILOSOPHERS; i++) {
		if (i == self)
			philosopher_eat(self);
		pthread_barrier_wait(&turn);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	pthread_barrier_init(&start, NULL, PHILOSOPHERS + 1);
	pthread_barrier_init(&turn, NULL, PHILOSOPHERS);
	for (intptr_t i = 0; i < PHILOSOPHERS; i++) {
		if (pthread_create(&threads[i], NULL, philosopher_main, (void *)i))
			return 1;
	}
	pthread_barrier_wait(&start);
	wl_ready("tid0=%d tid1=%d tid2=%d tid3=%d tid4=%d forks=%p fork0=%p fork1=%p fork2=%p "
		 "fork3=%p fork4=%p",
		 tids[0], tids[1], tids[2], tids[3], tids[4], (void *)forks, (void *)&forks[0],
		 (void *)&forks[1], (void *)&forks[2], (void *)&forks[3], (void *)&forks[4]);
	pthread_barrier_wait(&start);
	for (int i = 0; i < PHILOSOPHERS; i++)
		pthread_join(threads[i], NULL);
	wl_done("meals=%d", meals);
	return 0;
}
