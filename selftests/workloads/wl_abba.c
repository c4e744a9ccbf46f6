// SPDX-License-Identifier: GPL-2.0
/*
 * The textbook lock-order inversion, without the deadlock: thread "wl-t1" takes lock_a
 * then lock_b and releases both; only then does thread "wl-t2" take lock_b then lock_a.
 * A barrier orders the two halves, ROUNDS times (default 1).
 *
 *   wl_abba [-w] [ROUNDS]
 *   ready pid=P tid1=T tid2=T a=0x.. b=0x.. rounds=N
 *   done rounds=N line_t1_b=L line_t2_a=L
 *
 * line_t1_b is the line of the pthread_mutex_lock(&lock_b) in t1_take_a_then_b() that
 * makes the a -> b edge; line_t2_a the one in t2_take_b_then_a() that makes b -> a.
 * They are noted as the work runs, hence reported in "done".
 * Also built with -static as wl_abba_static.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start, turn;
static long rounds;
static pid_t tid1, tid2;
static int line_t1_b, line_t2_a;

WL_FRAME void t1_take_a_then_b(void)
{
	pthread_mutex_lock(&lock_a);
	line_t1_b = __LINE__ + 1;
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
}

WL_FRAME void t2_take_b_then_a(void)
{
	pthread_mutex_lock(&lock_b);
	line_t2_a = __LINE__ + 1;
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
}

static void *t1_main(void *arg)
{
	tid1 = wl_thread_init("wl-t1");
	pthread_barrier_wait(&start);	/* both tids known */
	pthread_barrier_wait(&start);	/* go */
	for (long r = 0; r < rounds; r++) {
		t1_take_a_then_b();
		pthread_barrier_wait(&turn);	/* t2's turn */
		pthread_barrier_wait(&turn);	/* t2 is done */
	}
	return NULL;
}

static void *t2_main(void *arg)
{
	tid2 = wl_thread_init("wl-t2");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	for (long r = 0; r < rounds; r++) {
		pthread_barrier_wait(&turn);
		t2_take_b_then_a();
		pthread_barrier_wait(&turn);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t1, t2;

	wl_handshake(&argc, argv);
	rounds = wl_arg(argc, argv, 1, 1);
	if (rounds < 1) {
		fprintf(stderr, "usage: wl_abba [-w] [ROUNDS]\n");
		return 2;
	}
	pthread_barrier_init(&start, NULL, 3);
	pthread_barrier_init(&turn, NULL, 2);
	if (pthread_create(&t1, NULL, t1_main, NULL) || pthread_create(&t2, NULL, t2_main, NULL))
		return 1;
	pthread_barrier_wait(&start);
	wl_ready("tid1=%d tid2=%d a=%p b=%p rounds=%ld", tid1, tid2, (void *)&lock_a,
		 (void *)&lock_b, rounds);
	pthread_barrier_wait(&start);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	wl_done("rounds=%ld line_t1_b=%d line_t2_a=%d", rounds, line_t1_b, line_t2_a);
	return 0;
}
