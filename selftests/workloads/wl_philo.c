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

#include "wl.h"

#define PHILOSOPHERS 5

pthread_mutex_t forks[PHILOSOPHERS] = { [0 ... PHILOSOPHERS - 1] = PTHREAD_MUTEX_INITIALIZER };
static struct wl_turns turns;
static int meals;

WL_FRAME void philosopher_eat(int i)
{
	pthread_mutex_lock(&forks[i]);
	pthread_mutex_lock(&forks[(i + 1) % PHILOSOPHERS]);
	meals++;
	pthread_mutex_unlock(&forks[(i + 1) % PHILOSOPHERS]);
	pthread_mutex_unlock(&forks[i]);
}

/* Philosopher i eats in turn i; philosopher_eat() is given i, the index in the table. */
static struct wl_worker philosophers[PHILOSOPHERS] = {
	{ .name = "wl-phil0", .work_self = philosopher_eat, .turn = 0 },
	{ .name = "wl-phil1", .work_self = philosopher_eat, .turn = 1 },
	{ .name = "wl-phil2", .work_self = philosopher_eat, .turn = 2 },
	{ .name = "wl-phil3", .work_self = philosopher_eat, .turn = 3 },
	{ .name = "wl-phil4", .work_self = philosopher_eat, .turn = 4 },
};

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	if (wl_turns_start(&turns, philosophers, PHILOSOPHERS, 1))
		return 1;
	wl_ready("tid0=%d tid1=%d tid2=%d tid3=%d tid4=%d forks=%p fork0=%p fork1=%p fork2=%p "
		 "fork3=%p fork4=%p",
		 philosophers[0].tid, philosophers[1].tid, philosophers[2].tid, philosophers[3].tid,
		 philosophers[4].tid, (void *)forks, (void *)&forks[0], (void *)&forks[1],
		 (void *)&forks[2], (void *)&forks[3], (void *)&forks[4]);
	wl_turns_go_and_join(&turns);
	wl_done("meals=%d", meals);
	return 0;
}
