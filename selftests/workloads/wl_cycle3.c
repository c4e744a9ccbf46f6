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

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_c = PTHREAD_MUTEX_INITIALIZER;
static struct wl_turns turns;

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

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_take_a_then_b, .turn = 0 },
	{ .name = "wl-t2", .work = t2_take_b_then_c, .turn = 1 },
	{ .name = "wl-t3", .work = t3_take_c_then_a, .turn = 2 },
};

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_ready("tid1=%d tid2=%d tid3=%d a=%p b=%p c=%p", workers[0].tid, workers[1].tid,
		 workers[2].tid, (void *)&lock_a, (void *)&lock_b, (void *)&lock_c);
	wl_turns_go_and_join(&turns);
	wl_done("turns=%d", turns.nr_turns);
	return 0;
}
