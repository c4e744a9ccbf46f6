// SPDX-License-Identifier: GPL-2.0
/*
 * A lock whose owner is gone: "oe-a" takes a default mutex and returns without
 * unlocking it. Once it has been joined and its task is gone from /proc, "oe-b" tries to
 * take the mutex and waits for ever: __owner names a thread that no longer exists.
 * "ready" comes once oe-b is about to block:
 *
 *   ready pid=P tid_a=A tid_b=B lock=0x.. func=take_lock_b line_lock=N
 *
 * tid_a is the exited owner; line_lock the line of oe-b's blocking pthread_mutex_lock()
 * in take_lock_b(). The process exits when stdin closes (or on SIGTERM).
 *
 * With argument "leader", the owner is the main thread: it takes the mutex, starts
 * "oe-eof" (which waits for stdin to close) and oe-b, and ends with pthread_exit(). The
 * process lives on, its leader a zombie (tid_a = pid); oe-b prints "ready" once it sees
 * that (func=thread_b_after_leader), then blocks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/stat.h>

#include "wl.h"

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t about_to_block;
static pid_t tid_a, tid_b;
static int line_lock;

WL_FRAME static void *thread_a(void *arg)
{
	tid_a = wl_thread_init("oe-a");
	pthread_mutex_lock(&lock);
	return NULL; /* still holding it */
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
	tid_b = wl_thread_init("oe-b");
	take_lock_b();
	return NULL;
}

/* The state letter of thread tid of this process, or 0. */
static char state_of(pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[1] == ' ' ? p[2] : 0;
}

/* leader mode: oe-b, once the leader is a zombie */
WL_FRAME static void *thread_b_after_leader(void *arg)
{
	tid_b = wl_thread_init("oe-b");
	while (state_of(tid_a) != 'Z')
		sched_yield();
	printf("ready pid=%d tid_a=%d tid_b=%d lock=%p func=thread_b_after_leader "
	       "line_lock=%d\n", getpid(), tid_a, tid_b, (void *)&lock, __LINE__ + 1);
	pthread_mutex_lock(&lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *thread_eof(void *arg)
{
	wl_thread_init("oe-eof");
	wl_wait_eof();
	_exit(0);
}

/* The main thread is the owner, and ends with pthread_exit(). */
static int leader_exits(void)
{
	pthread_t b, e;

	tid_a = getpid();
	pthread_mutex_lock(&lock);
	if (pthread_create(&e, NULL, thread_eof, NULL) ||
	    pthread_create(&b, NULL, thread_b_after_leader, NULL))
		return 1;
	pthread_exit(NULL);
}

int main(int argc, char **argv)
{
	char path[64];
	pthread_t a, b;
	struct stat st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "leader"))
		return leader_exits();
	pthread_barrier_init(&about_to_block, NULL, 2);
	if (pthread_create(&a, NULL, thread_a, NULL) || pthread_join(a, NULL))
		return 1;
	/* pthread_join() returns when the tid is cleared, a little before the task is reaped */
	snprintf(path, sizeof(path), "/proc/self/task/%d", tid_a);
	while (!stat(path, &st))
		sched_yield();
	if (errno != ENOENT)
		return 1;
	if (pthread_create(&b, NULL, thread_b, NULL))
		return 1;
	pthread_barrier_wait(&about_to_block);
	printf("ready pid=%d tid_a=%d tid_b=%d lock=%p func=take_lock_b line_lock=%d\n", getpid(),
	       tid_a, tid_b, (void *)&lock, line_lock);
	wl_wait_eof();
	_exit(0);
}
