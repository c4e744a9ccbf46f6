// SPDX-License-Identifier: GPL-2.0
/*
 * A lock taken again inside pthread_cond_wait(): "wl-waiter" locks outer, then
 * cv_mutex, and waits on cv; when "wl-signaller" wakes it, glibc re-acquires cv_mutex
 * while outer is still held, so the edge outer -> cv_mutex is made twice, by
 * pthread_mutex_lock and again by the wait's re-acquisition. Afterwards (barrier)
 * "wl-t2" takes cv_mutex then outer: an inversion of that edge.
 *
 * The waiter sets waiting under cv_mutex before its first wait, and releases cv_mutex
 * only by waiting; so once the signaller holds cv_mutex and sees waiting, the waiter is
 * inside pthread_cond_wait(). The signaller waits for that on a second condvar
 * (waiting_cv) and never sleeps or spins.
 *
 *   wl_condwait [-w]
 *   ready pid=P tid_waiter=T tid_signaller=T tid2=T cv_mutex=0x.. outer=0x.. cv=0x..
 *   done waits=N                         (the waiter's pthread_cond_wait calls, >= 1)
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t cv_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t waiting_cv = PTHREAD_COND_INITIALIZER;
static int waiting, woken, waits;	/* under cv_mutex */
static struct wl_turns turns;

WL_FRAME void waiter_wait_under_outer(void)
{
	pthread_mutex_lock(&outer);
	pthread_mutex_lock(&cv_mutex);
	waiting = 1;
	pthread_cond_signal(&waiting_cv);
	while (!woken) {
		waits++;
		pthread_cond_wait(&cv, &cv_mutex);
	}
	pthread_mutex_unlock(&cv_mutex);
	pthread_mutex_unlock(&outer);
}

WL_FRAME void signaller_wake_waiter(void)
{
	pthread_mutex_lock(&cv_mutex);
	while (!waiting)
		pthread_cond_wait(&waiting_cv, &cv_mutex);
	woken = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&cv_mutex);
}

WL_FRAME void t2_take_cv_mutex_then_outer(void)
{
	pthread_mutex_lock(&cv_mutex);
	pthread_mutex_lock(&outer);
	pthread_mutex_unlock(&outer);
	pthread_mutex_unlock(&cv_mutex);
}

/* The waiter and the signaller share the first turn, wl-t2 has the second. */
static struct wl_worker workers[] = {
	{ .name = "wl-waiter", .work = waiter_wait_under_outer, .turn = 0 },
	{ .name = "wl-signaller", .work = signaller_wake_waiter, .turn = 0 },
	{ .name = "wl-t2", .work = t2_take_cv_mutex_then_outer, .turn = 1 },
};

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_ready("tid_waiter=%d tid_signaller=%d tid2=%d cv_mutex=%p outer=%p cv=%p",
		 workers[0].tid, workers[1].tid, workers[2].tid, (void *)&cv_mutex,
		 (void *)&outer, (void *)&cv);
	wl_turns_go_and_join(&turns);
	wl_done("waits=%d", waits);
	return 0;
}
