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

struct object {
	pthread_mutex_t lock;
	long value;
};

pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static struct wl_turns turns;
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

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_take_obj_then_b, .turn = 0 },
	{ .name = "wl-t2", .work = t2_take_b_then_obj, .turn = 1 },
};

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_ready("tid1=%d tid2=%d b=%p", workers[0].tid, workers[1].tid, (void *)&lock_b);
	wl_turns_go_and_join(&turns);
	wl_done("first=%p second=%p", (void *)first, (void *)second);
	free(second);
	return 0;
}
