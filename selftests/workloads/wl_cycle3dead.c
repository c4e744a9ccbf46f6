// SPDX-License-Identifier: GPL-2.0
/*
 * A certain deadlock of three: thread "c3-K" (K = 1, 2, 3) takes lock_K, then, once all
 * three hold theirs (a barrier passed only while holding), lock_(K mod 3 + 1): each waits
 * for the next, a cycle of three threads and three locks. The mutexes are default ones,
 * or with argument "pi" priority-inheriting (the word holds the owner's tid, the wait is
 * FUTEX_LOCK_PI), or "robust" (the word holds the tid, the wait is FUTEX_WAIT). "ready"
 * comes once all three are about to block:
 *
 *   ready pid=P tid_1=T1 tid_2=T2 tid_3=T3 lock_1=0x.. lock_2=0x.. lock_3=0x..
 *         func=take_next_lock line_lock=N mode=normal|pi|robust
 *
 * line_lock is the line of the blocking pthread_mutex_lock() in take_next_lock(). The
 * process exits when stdin closes (or on SIGTERM).
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t lock_1 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_2 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_3 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t *const locks[3] = { &lock_1, &lock_2, &lock_3 };
static pthread_barrier_t holding;
static pid_t tids[3];
static int line_lock;

WL_FRAME static void take_next_lock(int k)
{
	line_lock = __LINE__ + 2;
	pthread_barrier_wait(&holding);
	pthread_mutex_lock(locks[(k + 1) % 3]);
	pthread_mutex_unlock(locks[(k + 1) % 3]);
}

WL_FRAME static void *thread_k(void *arg)
{
	int k = (int)(long)arg;
	char name[16];

	snprintf(name, sizeof(name), "c3-%d", k + 1);
	tids[k] = wl_thread_init(name);
	pthread_mutex_lock(locks[k]);
	take_next_lock(k);
	pthread_mutex_unlock(locks[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "normal";
	pthread_mutexattr_t attr;
	pthread_t t[3];

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_mutexattr_init(&attr);
	if (!strcmp(mode, "pi"))
		pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
	else if (!strcmp(mode, "robust"))
		pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	else if (strcmp(mode, "normal"))
		return 2;
	for (int k = 0; k < 3; k++)
		pthread_mutex_init(locks[k], &attr);
	pthread_barrier_init(&holding, NULL, 4);
	for (long k = 0; k < 3; k++)
		if (pthread_create(&t[k], NULL, thread_k, (void *)k))
			return 1;
	pthread_barrier_wait(&holding);
	printf("ready pid=%d tid_1=%d tid_2=%d tid_3=%d lock_1=%p lock_2=%p lock_3=%p "
	       "func=take_next_lock line_lock=%d mode=%s\n", getpid(), tids[0], tids[1], tids[2],
	       (void *)&lock_1, (void *)&lock_2, (void *)&lock_3, line_lock, mode);
	wl_wait_eof();
	/* the threads never return: leave without joining them */
	_exit(0);
}
