// SPDX-License-Identifier: GPL-2.0
/*
 * Recursion on a recursive mutex is not a self-deadlock: "wl-t1" takes rec, rec again
 * (nested), then other, and releases all three. Nothing is inconsistent.
 *
 *   wl_recursive [-w]
 *   ready pid=P tid1=T rec=0x.. other=0x..
 *   done depth=2                         (how deep rec was held)
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t rec;		/* PTHREAD_MUTEX_RECURSIVE, initialised in main() */
pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static pid_t tid1;
static int depth;

WL_FRAME void t1_rec_twice_then_other(void)
{
	pthread_mutex_lock(&rec);
	pthread_mutex_lock(&rec);
	depth = 2;
	pthread_mutex_lock(&other);
	pthread_mutex_unlock(&other);
	pthread_mutex_unlock(&rec);
	pthread_mutex_unlock(&rec);
}

static void *t1_main(void *arg)
{
	tid1 = wl_thread_init("wl-t1");
	pthread_barrier_wait(&start);	/* tid known */
	pthread_barrier_wait(&start);	/* go */
	t1_rec_twice_then_other();
	return NULL;
}

static int init_rec(void)
{
	pthread_mutexattr_t attr;
	int err;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	err = pthread_mutex_init(&rec, &attr);
	pthread_mutexattr_destroy(&attr);
	return err;
}

int main(int argc, char **argv)
{
	pthread_t t1;

	wl_handshake(&argc, argv);
	if (init_rec())
		return 1;
	pthread_barrier_init(&start, NULL, 2);
	if (pthread_create(&t1, NULL, t1_main, NULL))
		return 1;
	pthread_barrier_wait(&start);
	wl_ready("tid1=%d rec=%p other=%p", tid1, (void *)&rec, (void *)&other);
	pthread_barrier_wait(&start);
	pthread_join(t1, NULL);
	wl_done("depth=%d", depth);
	return 0;
}
