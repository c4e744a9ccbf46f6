// SPDX-License-Identifier: GPL-2.0
/*
 * A thread that deadlocks on itself: "sd-a" takes a default (non-recursive) mutex, then
 * calls relock(), which takes it again. glibc does not check the owner of such a mutex:
 * the second pthread_mutex_lock() waits in futex(2) for ever, on a lock whose __owner is
 * the waiter. "ready" comes once the thread holds the lock and is about to relock it:
 *
 *   ready pid=P tid=T lock=0x.. func=relock line_lock=N
 *
 * line_lock is the line of the blocking pthread_mutex_lock() in relock(). The process
 * exits when stdin closes (or on SIGTERM).
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding;
static pid_t tid;
static int line_lock;

WL_FRAME static void relock(void)
{
	line_lock = __LINE__ + 2;
	pthread_barrier_wait(&holding);
	pthread_mutex_lock(&lock);
	pthread_mutex_unlock(&lock);
}

WL_FRAME static void *thread_a(void *arg)
{
	tid = wl_thread_init("sd-a");
	pthread_mutex_lock(&lock);
	relock();
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t a;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&holding, NULL, 2);
	if (pthread_create(&a, NULL, thread_a, NULL))
		return 1;
	pthread_barrier_wait(&holding);
	printf("ready pid=%d tid=%d lock=%p func=relock line_lock=%d\n", getpid(), tid,
	       (void *)&lock, line_lock);
	wl_wait_eof();
	/* the thread never returns: leave without joining it */
	_exit(0);
}
