// SPDX-License-Identifier: GPL-2.0
/*
 * A heap mutex freed and its memory reused for another mutex, as std::mutex and locks in
 * objects are: never pthread_mutex_init'ed nor destroyed (PTHREAD_MUTEX_INITIALIZER is
 * assigned). "wl-t1" takes the first one, then lock_b; frees it; and allocates the
 * second in the same block (glibc's thread cache gives the last block freed of a size
 * back first). Then "wl-t2" takes lock_b, then the second. Two locks, one address: no
 * deadlock is possible, but without following free() the orders look inverted.
 *
 *   wl_free [-w]
 *   ready pid=P tid1=T tid2=T b=0x..
 *   done first=0x.. second=0x..        (the two mutexes' addresses: the same)
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

#define THREADS 2

struct object {
	pthread_mutex_t lock;
	long value;
};

pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start, turn;
static struct object *first, *second;

static struct object *object_new(void)
{
	struct object *o = malloc(sizeof(*o));

	if (!o)
		exit(1);
	o->lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	o->value = 0;
	return o;
}

WL_FRAME void t1_take_obj_then_b(void)
{
	first = object_new();
	pthread_mutex_lock(&first->lock);
	pthread_mutex_lock(&lock_b);
	first->value++;
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&first->lock);
	free(first);
	second = object_new();
}

WL_FRAME void t2_take_b_then_obj(void)
{
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&second->lock);
	second->value++;
	pthread_mutex_unlock(&second->lock);
	pthread_mutex_unlock(&lock_b);
}

static struct worker {
	const char *name;
	void (*work)(void);
	pthread_t thread;
	pid_t tid;
} workers[THREADS] = {
	{ .name = "wl-t1", .work = t1_take_obj_then_b },
	{ .name = "wl-t2", .work = t2_take_b_then_obj },
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
	wl_ready("tid1=%d tid2=%d b=%p", workers[0].tid, workers[1].tid, (void *)&lock_b);
	pthread_barrier_wait(&start);
	for (int i = 0; i < THREADS; i++)
		pthread_join(workers[i].thread, NULL);
	wl_done("first=%p second=%p", (void *)first, (void *)second);
	free(second);
	return 0;
}
