// SPDX-License-Identifier: GPL-2.0
/*
 * A certain ABBA deadlock: thread "dl-a" takes lock_1 then lock_2, thread "dl-b" takes
 * lock_2 then lock_1. A barrier that both pass only while holding their first lock makes
 * the deadlock certain, not likely. "ready" comes once both threads have passed it:
 *
 *   ready pid=P tid_a=A tid_b=B lock_1=0x.. lock_2=0x.. line_lock_a=N line_call_a=N
 *         line_lock_b=N line_call_b=N
 *
 * line_lock_x is the line of thread x's blocking pthread_mutex_lock() in
 * take_second_lock_x(), line_call_x the line in thread_x() that calls
 * take_second_lock_x(): the frames a stack of the hung thread must show. The process
 * never finishes its work; it exits when stdin closes (or when it is killed).
 *
 * With -w (a tracer attaches first, and sees every lock taken), it says
 * "ready pid=P lock_1=0x.. lock_2=0x..", waits for "go", and only then starts the
 * threads; the line above then begins with "armed" instead of "ready".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>

#include "wl.h"

/* The functions a test expects by name: kept out of line and uncloned at -O2. */
#define WL_FRAME __attribute__((noipa))

pthread_mutex_t lock_1 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding;
static pid_t tid_a, tid_b;

/* Source lines of the calls the hung threads sit in, noted before the barrier. */
static int line_lock_a, line_call_a, line_lock_b, line_call_b;

WL_FRAME static void take_second_lock_a(void)
{
	line_lock_a = __LINE__ + 2;
	pthread_barrier_wait(&holding);
	pthread_mutex_lock(&lock_2);
	pthread_mutex_unlock(&lock_2);
}

WL_FRAME static void *thread_a(void *arg)
{
	tid_a = syscall(SYS_gettid);
	pthread_mutex_lock(&lock_1);
	line_call_a = __LINE__ + 1;
	take_second_lock_a();
	pthread_mutex_unlock(&lock_1);
	return NULL;
}

WL_FRAME static void take_second_lock_b(void)
{
	line_lock_b = __LINE__ + 2;
	pthread_barrier_wait(&holding);
	pthread_mutex_lock(&lock_1);
	pthread_mutex_unlock(&lock_1);
}

WL_FRAME static void *thread_b(void *arg)
{
	tid_b = syscall(SYS_gettid);
	pthread_mutex_lock(&lock_2);
	line_call_b = __LINE__ + 1;
	take_second_lock_b();
	pthread_mutex_unlock(&lock_2);
	return NULL;
}

int main(int argc, char **argv)
{
	int wait_go = wl_handshake(&argc, argv);
	pthread_t a, b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&holding, NULL, 3);
	if (wait_go) {
		printf("ready pid=%d lock_1=%p lock_2=%p\n", getpid(), (void *)&lock_1,
		       (void *)&lock_2);
		wl_wait_go();
	}
	if (pthread_create(&a, NULL, thread_a, NULL) || pthread_create(&b, NULL, thread_b, NULL))
		return 1;
	pthread_setname_np(a, "dl-a");
	pthread_setname_np(b, "dl-b");
	pthread_barrier_wait(&holding);
	printf("%s pid=%d tid_a=%d tid_b=%d lock_1=%p lock_2=%p line_lock_a=%d line_call_a=%d "
	       "line_lock_b=%d line_call_b=%d\n",
	       wait_go ? "armed" : "ready", getpid(), tid_a, tid_b, (void *)&lock_1, (void *)&lock_2, line_lock_a, line_call_a,
	       line_lock_b, line_call_b);
	wl_wait_eof();
	/* the threads never return: leave without joining them */
	_exit(0);
}
