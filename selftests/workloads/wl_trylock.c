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

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static struct wl_turns turns;
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

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_take_a_then_b, .turn = 0 },
	{ .name = "wl-t2", .work = t2_take_b_then_try_a, .turn = 1 },
};

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_ready("tid1=%d tid2=%d a=%p b=%p", workers[0].tid, workers[1].tid, (void *)&lock_a,
		 (void *)&lock_b);
	wl_turns_go_and_join(&turns);
	wl_done("trylock=%d", trylock_ret);
	/* t1 released lock_a before t2's turn: the trylock cannot fail */
	return trylock_ret ? 1 : 0;
}
