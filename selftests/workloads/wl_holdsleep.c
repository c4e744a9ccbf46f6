// SPDX-License-Identifier: GPL-2.0
/*
 * A lock holder that waits outside the process's locks: "hs-a" takes a mutex, then
 * reads a pipe nobody writes to; "hs-b" waits for the mutex. Not a cycle: B waits for
 * A, and A for something no thread of the process holds. "ready" comes once both are
 * about to block:
 *
 *   ready pid=P tid_a=A tid_b=B lock=0x.. func_a=hold_and_read line_read=N
 *         func_b=take_lock_b line_lock=N
 *
 * line_read is the line of hs-a's read(), line_lock that of hs-b's blocking
 * pthread_mutex_lock(). The process exits when stdin closes (or on SIGTERM).
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t about_to_block;
static int fds[2];
static pid_t tid_a, tid_b;
static int line_read, line_lock;

WL_FRAME static void hold_and_read(void)
{
	char c;

	line_read = __LINE__ + 2;
	pthread_barrier_wait(&about_to_block);
	if (read(fds[0], &c, 1) < 0)
		perror("read");
}

WL_FRAME static void *thread_a(void *arg)
{
	tid_a = wl_thread_init("hs-a");
	pthread_mutex_lock(&lock);
	hold_and_read();
	pthread_mutex_unlock(&lock);
	return NULL;
}

WL_FRAME static void take_lock_b(void)
{
	line_lock = __LINE__ + 2;
	pthread_barrier_wait(&about_to_block);
	pthread_mutex_lock(&lock);
	pthread_mutex_unlock(&lock);
}

WL_FRAME static void *thread_b(void *arg)
{
	tid_b = wl_thread_init("hs-b");
	take_lock_b();
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(fds))
		return 1;
	/* both pass it only when hs-a holds the lock: hs-a takes it before */
	pthread_barrier_init(&about_to_block, NULL, 3);
	if (pthread_create(&a, NULL, thread_a, NULL) || pthread_create(&b, NULL, thread_b, NULL))
		return 1;
	pthread_barrier_wait(&about_to_block);
	printf("ready pid=%d tid_a=%d tid_b=%d lock=%p func_a=hold_and_read line_read=%d "
	       "func_b=take_lock_b line_lock=%d\n", getpid(), tid_a, tid_b, (void *)&lock,
	       line_read, line_lock);
	wl_wait_eof();
	/* hs-a never returns from its read: leave without joining */
	_exit(0);
}
