// SPDX-License-Identifier: GPL-2.0
/*
 * Two locks' lifetimes at one address are two locks: a heap mutex m (a malloc()ed
 * block) is taken by "wl-t1" before the global lock_b; t1 then destroys m and
 * initialises it again in the same block. Only then (barrier) does "wl-t2" take lock_b
 * before m. The orders m -> lock_b and lock_b -> m belong to different mutexes that
 * happen to share an address: no inversion.
 *
 *   wl_reuse [-w]
 *   ready pid=P tid1=T tid2=T reused=0x.. b=0x..
 *   done reused=0x..                     (the same block, re-initialised once)
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

#define THREADS 2

pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t *m;
static pthread_barrier_t start, turn;

WL_FRAME void t1_take_m_then_b(void)
{
	pthread_mutex_lock(m);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(m);
}

/* The first mutex's life ends here; a new one starts in the same block. */
WL_FRAME void t1_reinit_m(void)
{
	pthread_mutex_destroy(m);
	pthread_mutex_init(m, NULL);
}

WL_FRAME void t2_take_b_then_m(void)
{
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(m);
	pthread_mutex_unlock(m);
	pthread_mutex_unlock(&lock_b);
}

static void t1_work(void)
{
	t1_take_m_then_b();
	t1_reinit_m();
}

static struct worker {
	const char *name;
	void (*work)(void);
	pthread_t thread;
	pid_t tid;
} workers[THREADS] = {
	{ .name = "wl-t1", .work = t1_work },
	{ .name = "wl-t2", .work = t2_take_b_then_m },
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
	m = malloc(sizeof(*m));
	if (!m || pthread_mutex_init(m, NULL))
		return 1;
	pthread_barrier_init(&start, NULL, THREADS + 1);
	pthread_barrier_init(&turn, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			return 1;
	}
	pthread_barrier_wait(&start);
	wl_ready("tid1=%d tid2=%d reused=%p b=%p", workers[0].tid, workers[1].tid, (void *)m,
		 (void *)&lock_b);
	pthread_barrier_wait(&start);
	for (int i = 0; i < THREADS; i++)
		pthread_join(workers[i].thread, NULL);
	wl_done("reused=%p", (void *)m);
	pthread_mutex_destroy(m);
	free(m);
	return 0;
}
