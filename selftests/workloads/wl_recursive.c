// SPDX-License-Identifier: GPL-2.0
/*
 * Recursion on a recursive mutex is not a self-deadlock: "wl-t1" takes rec, rec again
 * (nested), then other (the lock in the global structure stats), and releases all
 * three. Nothing is inconsistent.
 *
 *   wl_recursive [-w]
 *   ready pid=P tid1=T rec=0x.. other=0x..
 *   done depth=2                         (how deep rec was held)
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t rec;		/* PTHREAD_MUTEX_RECURSIVE, initialised in main() */
/* other is inside a structure: its name is the path to it, stats.lock */
struct stats {
	long count;
	pthread_mutex_t lock;
} stats = { .lock = PTHREAD_MUTEX_INITIALIZER };
#define other (stats.lock)
static struct wl_turns turns;
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

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_rec_twice_then_other, .turn = 0 },
};

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
	wl_handshake(&argc, argv);
	if (init_rec())
		return 1;
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_ready("tid1=%d rec=%p other=%p", workers[0].tid, (void *)&rec, (void *)&other);
	wl_turns_go_and_join(&turns);
	wl_done("depth=%d", depth);
	return 0;
}
