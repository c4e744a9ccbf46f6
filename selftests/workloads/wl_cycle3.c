// SPDX-License-Identifier: GPL-2.0
/*
 * A lock-order cycle through three locks and three threads, none of which could
 * deadlock on its own pair: "wl-t1" takes lock_a then lock_b, then "wl-t2" lock_b then
 * lock_c, then "wl-t3" lock_c then lock_a. Each turn starts after the previous thread
 * released both its locks (a barrier between turns), so the cycle never closes.
 *
 *   wl_cycle3 [-w]
 *   ready pid=P tid1=T tid2=T tid3=T a=0x.. b=0x.. c=0x..
 *   done turns=3
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

#define THREADS 3

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_c = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start, turn;

WL_FRAME void t1_take_a_then_b(void)
{
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
}

WL_FRAME void t2_take_b_then_c(void)
{
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&lock_c);
	pthread_mutex_unlock(&lock_c);
	pthread_mutex_unlock(&lock_b);
}

WL_FRAME void t3_take_c_then_a(void)
{
	pthread_mutex_lock(&lock_c);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_c);
}

static struct worker {
	const char *name;
	void (*work)(void);
	pthread_t thread;
	pid_t tid;
} workers[THREADS] = {
	{ .name = "wl-t1", .work = t1_take_a_then_b },
	{ .name = "wl-t2", .work = t2_take_b_then_c },
	{ .name = "wl-t3", .work = t3_take_c_then_a },
};

/* Turn i belongs to workers[i]; everyone passes the barrier after every turn. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->tid = wl_thread_init(w->name);
	pthread_barrier_wait(&start);	/* all tids known */
	pthread_barrier_wait(&start);	/* go */
	for (int i = 0; i < THREADS; i++) {
		if (&workers[i] == w)
			w->work();
		pthread_barrier_wait(&turn);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	pthread_barrier_init(&start, NULL, THREADS + 1);
	pthread_barrier_init(&turn, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			return 1;
	}
	pthread_barrier_wait(&start);
	wl_ready("tid1=%d tid2=%d tid3=%d a=%p b=%p c=%p", workers[0].tid, workers[1].tid,
		 workers[2].tid, (void *)&lock_a, (void *)&lock_b, (void *)&lock_c);
	pthread_barrier_wait(&start);
	for (int i = 0; i < THREADS; i++)
		pthread_join(workers[i].thread, NULL);
	wl_done("turns=%d", THREADS);
	return 0;
}
