// SPDX-License-Identifier: GPL-2.0
/*
 * Naive dining philosophers, deadlocked for certain: philosopher i (thread "wl-phil<i>")
 * takes forks[i], waits at a barrier until every philosopher holds its first fork, then
 * takes forks[(i + 1) % 5], which its neighbour holds: the five block for good, a
 * wait-for cycle of five threads, and the lock order has the 5-cycle
 * forks[0] -> forks[1] -> ... -> forks[4] -> forks[0] though no second acquisition ever
 * succeeds. "ready" comes once all have passed the barrier (each is then about to block):
 *
 *   wl_philodead
 *   ready pid=P tid0=T .. tid4=T fork0=0x.. .. fork4=0x.. mono_ns=N
 *
 * mono_ns: CLOCK_MONOTONIC when the last philosopher passed the barrier, the clock of
 * concwatch's records: when the cycle formed, within the time each takes to block.
 * The process never finishes: it exits when stdin closes, or is killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

#include "wl.h"

#define PHILOSOPHERS 5

pthread_mutex_t forks[PHILOSOPHERS] = { [0 ... PHILOSOPHERS - 1] = PTHREAD_MUTEX_INITIALIZER };
static pthread_barrier_t holding;
static pid_t tids[PHILOSOPHERS];

WL_FRAME static void take_right_fork(int i)
{
	pthread_mutex_lock(&forks[(i + 1) % PHILOSOPHERS]);
	pthread_mutex_unlock(&forks[(i + 1) % PHILOSOPHERS]);
}

WL_FRAME static void *philosopher(void *arg)
{
	int i = (int)(long)arg;
	char name[16];

	snprintf(name, sizeof(name), "wl-phil%d", i);
	tids[i] = wl_thread_init(name);
	pthread_mutex_lock(&forks[i]);
	pthread_barrier_wait(&holding);
	take_right_fork(i);
	pthread_mutex_unlock(&forks[i]);
	return NULL;
}

int main(void)
{
	struct timespec ts;
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&holding, NULL, PHILOSOPHERS + 1);
	for (long i = 0; i < PHILOSOPHERS; i++)
		if (pthread_create(&t, NULL, philosopher, (void *)i))
			return 1;
	pthread_barrier_wait(&holding);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("ready pid=%d tid0=%d tid1=%d tid2=%d tid3=%d tid4=%d fork0=%p fork1=%p fork2=%p "
	       "fork3=%p fork4=%p mono_ns=%lld\n",
	       getpid(), tids[0], tids[1], tids[2], tids[3], tids[4], (void *)&forks[0],
	       (void *)&forks[1], (void *)&forks[2], (void *)&forks[3], (void *)&forks[4],
	       ts.tv_sec * 1000000000LL + ts.tv_nsec);
	wl_wait_eof();
	/* the philosophers never return: leave without joining them */
	_exit(0);
}
