// SPDX-License-Identifier: GPL-2.0
/*
 * An ABBA made harmless by a gate lock: "wl-t1" takes gate, lock_a, lock_b; then
 * (barrier) "wl-t2" takes gate, lock_b, lock_a. Each releases all three. Since both
 * orders are taken only under gate, they can never overlap.
 *
 *   wl_gate [-w]
 *   ready pid=P tid1=T tid2=T gate=0x.. a=0x.. b=0x..
 *   done turns=2
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

#define THREADS 2

pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start, turn;

WL_FRAME void t1_gate_then_a_then_b(void)
{
	pthread_mutex_lock(&gate);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&gate);
}

WL_FRAME void t2_gate_then_b_then_a(void)
{
	pthread_mutex_lock(&gate);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&gate);
}

static struct worker {
	const char *name;
	void (*work)(void);
	pthread_t thread;
	pid_t tid;
} workers[THREADS] = {
	{ .name = "wl-t1", .work = t1_gate_then_a_then_b },
	{ .name = "wl-t2", .work = t2_gate_then_b_then_a },
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
	wl_ready("tid1=%d tid2=%d gate=%p a=%p b=%p", workers[0].tid, workers[1].tid,
		 (void *)&gate, (void *)&lock_a, (void *)&lock_b);
	pthread_barrier_wait(&start);
	for (int i = 0; i < THREADS; i++)
		pthread_join(workers[i].thread, NULL);
	wl_done("turns=%d", THREADS);
	return 0;
}
