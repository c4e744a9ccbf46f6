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
 * Also built with -static as wl_abba_static, and with AddressSanitizer as wl_abba_asan,
 * which leaks one block of 4096 bytes from leak_some() for LeakSanitizer to report.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static struct wl_turns turns;
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

#ifdef WL_LEAK
#include <stdlib.h>
#include <string.h>

static void *volatile kept;

/* A block nothing points to by the time the process exits. */
WL_FRAME void leak_some(void)
{
	kept = malloc(4096);
	memset(kept, 1, 4096);
	kept = NULL;
}
#endif

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_take_a_then_b, .turn = 0 },
	{ .name = "wl-t2", .work = t2_take_b_then_a, .turn = 1 },
};

int main(int argc, char **argv)
{
	long rounds;

	wl_handshake(&argc, argv);
	rounds = wl_arg(argc, argv, 1, 1);
	if (rounds < 1) {
		fprintf(stderr, "usage: wl_abba [-w] [ROUNDS]\n");
		return 2;
	}
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), rounds))
		return 1;
	wl_ready("tid1=%d tid2=%d a=%p b=%p rounds=%ld", workers[0].tid, workers[1].tid,
		 (void *)&lock_a, (void *)&lock_b, rounds);
	wl_turns_go_and_join(&turns);
#ifdef WL_LEAK
	leak_some();
#endif
	wl_done("rounds=%ld line_t1_b=%d line_t2_a=%d", rounds, line_t1_b, line_t2_a);
	return 0;
}
