// SPDX-License-Identifier: GPL-2.0
/*
 * A wait that began before a tracer attached and ends after it: what a look at attach
 * found must end with it. "ho-b" takes lock and waits on a semaphore; "ho-a" blocks on
 * lock ("ready" once it is about to: the test waits until /proc shows it asleep):
 *
 *   ready pid=P tid_a=A tid_b=B lock=0x..
 *
 * On "go" (the tracer is attached) ho-b releases lock and waits at a barrier; ho-a gets
 * lock, passes the barrier and keeps lock until stdin closes; ho-b, past the barrier,
 * blocks on lock again, a wait the tracer sees begin. Then ho-b waits on ho-a, and ho-a
 * on nothing that ho-b holds: no cycle, though the look found ho-a waiting on lock held
 * by ho-b. When stdin closes ho-a releases lock, ho-b takes it, and the process exits 0.
 */
#define _GNU_SOURCE
#include <semaphore.h>

#include "wl.h"

pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t about_to_block, handed;
static sem_t go, end;
static pid_t tid_a, tid_b;

WL_FRAME static void *thread_b(void *arg)
{
	tid_b = wl_thread_init("ho-b");
	pthread_mutex_lock(&lock);
	pthread_barrier_wait(&about_to_block);
	while (sem_wait(&go))
		;
	pthread_mutex_unlock(&lock);
	pthread_barrier_wait(&handed);
	pthread_mutex_lock(&lock);	/* ho-a holds it: traced from its start */
	pthread_mutex_unlock(&lock);
	return NULL;
}

WL_FRAME static void *thread_a(void *arg)
{
	tid_a = wl_thread_init("ho-a");
	pthread_barrier_wait(&about_to_block);
	pthread_mutex_lock(&lock);	/* ho-b holds it: blocked before the tracer came */
	pthread_barrier_wait(&handed);
	while (sem_wait(&end))
		;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&about_to_block, NULL, 3);
	pthread_barrier_init(&handed, NULL, 2);
	sem_init(&go, 0, 0);
	sem_init(&end, 0, 0);
	if (pthread_create(&b, NULL, thread_b, NULL) || pthread_create(&a, NULL, thread_a, NULL))
		return 1;
	pthread_barrier_wait(&about_to_block);
	printf("ready pid=%d tid_a=%d tid_b=%d lock=%p\n", getpid(), tid_a, tid_b, (void *)&lock);
	wl_wait_go();
	sem_post(&go);
	wl_wait_eof();
	sem_post(&end);
	/* no "done": stdout is closed with stdin */
	return pthread_join(a, NULL) || pthread_join(b, NULL);
}
