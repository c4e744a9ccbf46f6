// SPDX-License-Identifier: GPL-2.0
/*
 * A condvar waited on with a timeout that always expires, as a worker that polls for
 * work does: "wl-timed" takes tw_mutex, waits on tw_cond N times for MS milliseconds each
 * (no one signals), and unlocks. No other thread ever takes tw_mutex: it is never
 * contended, however long the waits for the condition.
 *
 *   wl_condtimed [-w] [N] [MS]          (default 3 waits of 100 ms)
 *   ready pid=P tid=T mutex=0x.. cond=0x..
 *   done timeouts=N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "wl.h"

pthread_mutex_t tw_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t tw_cond = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t named, go;
static long waits, ms;
static int timeouts;
static pid_t tid;

WL_FRAME void wait_for_work(void)
{
	pthread_mutex_lock(&tw_mutex);
	for (long i = 0; i < waits; i++) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += ms % 1000 * 1000000;
		until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		while (pthread_cond_timedwait(&tw_cond, &tw_mutex, &until) != ETIMEDOUT)
			;
		timeouts++;
	}
	pthread_mutex_unlock(&tw_mutex);
}

static void *worker(void *arg)
{
	tid = wl_thread_init("wl-timed");
	pthread_barrier_wait(&named);
	pthread_barrier_wait(&go);
	wait_for_work();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	wl_handshake(&argc, argv);
	waits = wl_arg(argc, argv, 1, 3);
	ms = wl_arg(argc, argv, 2, 100);
	pthread_barrier_init(&named, NULL, 2);
	pthread_barrier_init(&go, NULL, 2);
	if (pthread_create(&t, NULL, worker, NULL))
		return 1;
	pthread_barrier_wait(&named);
	wl_ready("tid=%d mutex=%p cond=%p", tid, (void *)&tw_mutex, (void *)&tw_cond);
	pthread_barrier_wait(&go);
	pthread_join(t, NULL);
	wl_done("timeouts=%d", timeouts);
	return 0;
}
