// SPDX-License-Identifier: GPL-2.0
/*
 * Known call stacks for the stack tests. The worker thread "stack-worker" runs
 * worker_main -> outer -> middle -> leaf -> pthread_mutex_lock(&stack_lock), then
 * worker_main -> cond_outer -> cond_middle -> cond_leaf -> pthread_cond_wait, and waits
 * there until the test says "signal" (after seeing the thread really blocked).
 *
 * Built several ways (selftests/Makefile): -O2 without frame pointers (how most
 * distribution code is built), with frame pointers, and stripped with its debug
 * information in a separate file. Every call is followed by a compiler barrier: at -O2
 * a call in tail position becomes a jump and its caller's frame would vanish.
 *
 * With "contend", main holds stack_lock from before "go" until the worker is asleep on
 * it, so that leaf's acquire is a contended wait, as a report shows them.
 *
 *   wl_stack [contend]
 * Handshake (wl.h): "ready pid= tid= lock= cond=" / go / "blocked" once the worker is
 * about to wait / signal / "done" with the source line of every call, then stdin EOF.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>

#include "wl.h"

#define barrier() asm volatile("" ::: "memory")
/* The line of a call, for the tests' file:line checks: both on one line. */
#define CALL(line_var, call)                \
	do {                                \
		line_var = __LINE__; call;  \
	} while (0)

pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t stack_cond = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t started, go;
static int signalled;
static volatile long counter;
static pid_t worker_tid;
static int leaf_line, middle_line, outer_line, main_line;
static int cond_leaf_line, cond_middle_line, cond_outer_line, cond_main_line;

__attribute__((noinline)) void leaf(void)
{
	CALL(leaf_line, pthread_mutex_lock(&stack_lock));
	counter++;
	pthread_mutex_unlock(&stack_lock);
}

__attribute__((noinline)) void middle(void)
{
	CALL(middle_line, leaf());
	barrier();
}

__attribute__((noinline)) void outer(void)
{
	CALL(outer_line, middle());
	barrier();
}

__attribute__((noinline)) void cond_leaf(void)
{
	pthread_mutex_lock(&cond_lock);
	printf("blocked\n");
	while (!signalled)
		CALL(cond_leaf_line, pthread_cond_wait(&stack_cond, &cond_lock));
	pthread_mutex_unlock(&cond_lock);
}

__attribute__((noinline)) void cond_middle(void)
{
	CALL(cond_middle_line, cond_leaf());
	barrier();
}

__attribute__((noinline)) void cond_outer(void)
{
	CALL(cond_outer_line, cond_middle());
	barrier();
}

__attribute__((noinline)) void *worker_main(void *arg)
{
	worker_tid = syscall(SYS_gettid);
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&go);
	CALL(main_line, outer());
	barrier();
	CALL(cond_main_line, cond_outer());
	barrier();
	return NULL;
}

int main(int argc, char **argv)
{
	int contend = argc > 1 && !strcmp(argv[1], "contend");
	char line[32];
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&started, NULL, 2);
	pthread_barrier_init(&go, NULL, 2);
	if (pthread_create(&t, NULL, worker_main, NULL))
		return 1;
	pthread_setname_np(t, "stack-worker");
	pthread_barrier_wait(&started);
	printf("ready pid=%d tid=%d lock=%p cond=%p\n", getpid(), worker_tid, (void *)&stack_lock,
	       (void *)&stack_cond);
	if (contend)
		pthread_mutex_lock(&stack_lock);
	wl_wait_go();
	pthread_barrier_wait(&go);
	if (contend) {
		if (wl_wait_asleep_on(worker_tid, &stack_lock))
			fprintf(stderr, "wl_stack: the worker never slept on stack_lock\n");
		pthread_mutex_unlock(&stack_lock);
	}
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "signal\n"))
		return 1;
	pthread_mutex_lock(&cond_lock);
	signalled = 1;
	pthread_cond_signal(&stack_cond);
	pthread_mutex_unlock(&cond_lock);
	pthread_join(t, NULL);
	printf("done leaf=%d middle=%d outer=%d main=%d cond_leaf=%d cond_middle=%d "
	       "cond_outer=%d cond_main=%d\n", leaf_line, middle_line, outer_line, main_line,
	       cond_leaf_line, cond_middle_line, cond_outer_line, cond_main_line);
	wl_wait_eof();
	return 0;
}
