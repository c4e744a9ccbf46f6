// SPDX-License-Identifier: GPL-2.0
/*
 * ABBA with spin locks: "wl-t1" takes spin_a then spin_b; then (barrier) "wl-t2" takes
 * spin_b then spin_a. glibc's pthread_spin_lock begins with an instruction uprobes
 * refuse (lock decl): concwatch probes it where it has taken the lock.
 *
 *   wl_spin [-w]
 *   ready pid=P tid1=T tid2=T a=0x.. b=0x..
 *   done turns=2
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

#define THREADS 2

pthread_spinlock_t spin_a, spin_b;
static pthread_barrier_t start, turn;
static int turns;

WL_FRAME void t1_take_a_then_b(void)
{
	pthread_spin_lock(&spin_a);
	pthread_spin_lock(&spin_b);
	turns++;
	pthread_spin_unlock(&spin_b);
	pthread_spin_unlock(&spin_a);
}

WL_FRAME void t2_take_b_then_a(void)
{
	pthread_spin_lock(&spin_b);
	pthread_spin_lock(&spin_a);
	turns++;
	pthread_spin_unlock(&spin_a);
	pthread_spin_unlock(&spin_b);
}

static struct worker {
	const char *name;
	void (*work)(void);
	pthread_t thread;
	pid_t tid;
} workers[THREADS] = {
	{ .name = "wl-t1", .work = t1_take_a_then_b },
	{ .name = "wl-t2", .work = t2_take_b_then_a },
};

/* Turn i belongs to workers[i]; everyone passes the barrier after every turn. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->tid = wl_thread_init(w->name);
	pthread_barrier_wait(&start);	/* all tids known */
	pthread_barrier_wait(&start);	/* go */
	for (int i = 0; i < THREADS; i++) {
		if (&workers[i] == w)
			w->work();
		pthread_barrier_wait(&turn);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	pthread_spin_init(&spin_a, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_init(&spin_b, PTHREAD_PROCESS_PRIVATE);
	pthread_barrier_init(&start, NULL, THREADS + 1);
	pthread_barrier_init(&turn, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			return 1;
	}
	pthread_barrier_wait(&start);
	wl_ready("tid1=%d tid2=%d a=%p b=%p", workers[0].tid, workers[1].tid, (void *)&spin_a,
		 (void *)&spin_b);
	pthread_barrier_wait(&start);
	for (int i = 0; i < THREADS; i++)
		pthread_join(workers[i].thread, NULL);
	wl_done("turns=%d", turns);
	return turns == 2 ? 0 : 1;
}
