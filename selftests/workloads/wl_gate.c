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

pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static struct wl_turns turns;

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

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_gate_then_a_then_b, .turn = 0 },
	{ .name = "wl-t2", .work = t2_gate_then_b_then_a, .turn = 1 },
};

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_ready("tid1=%d tid2=%d gate=%p a=%p b=%p", workers[0].tid, workers[1].tid,
		 (void *)&gate, (void *)&lock_a, (void *)&lock_b);
	wl_turns_go_and_join(&turns);
	wl_done("turns=%d", turns.nr_turns);
	return 0;
}
