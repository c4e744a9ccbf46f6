// SPDX-License-Identifier: GPL-2.0
/*
 * An inversion closed only by a trylock, which cannot deadlock: "wl-t1" takes lock_a
 * then lock_b (both blocking); then (barrier) "wl-t2" takes lock_b and
 * pthread_mutex_trylock()s lock_a, which succeeds since t1 is done, and releases both.
 *
 *   wl_trylock [-w]
 *   ready pid=P tid1=T tid2=T a=0x.. b=0x..
 *   done trylock=0                       (what the trylock returned)
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

#define THREADS 2

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start, turn;
static int trylock_ret = -1;

WL_FRAME void t1_take_a_then_b(void)
{
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
}

WL_FRAME void t2_take_b_then_try_a(void)
{
	pthread_mutex_lock(&lock_b);
	trylock_ret = pthread_mutex_trylock(&lock_a);
	if (!trylock_ret)
		pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
}

static struct worker {
	const char *name;
	void (*work)(void);
	pthread_t thread;
	pid_t tid;
} workers[THREADS] = {
	{ .name = "wl-t1", .work = t1_take_a_then_b },
	{ .name = "wl-t2", .work = t2_take_b_then_try_a },
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
	wl_ready("tid1=%d tid2=%d a=%p b=%p", workers[0].tid, workers[1].tid, (void *)&lock_a,
		 (void *)&lock_b);
	pthread_barrier_wait(&start);
	for (int i = 0; i < THREADS; i++)
		pthread_join(workers[i].thread, NULL);
	wl_done("trylock=%d", trylock_ret);
	/* t1 released lock_a before t2's turn: the trylock cannot fail */
	return trylock_ret ? 1 : 0;
}
