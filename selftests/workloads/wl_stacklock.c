// SPDX-License-Identifier: GPL-2.0
/*
 * A lock-order inversion between two mutexes on threads' stacks: mx1, a local of main(),
 * and mx2, a local of the worker's start routine, stack_worker(), each initialised after
 * "go" (traced) where it is declared. main takes mx1 then mx2 and releases both; only
 * then (a barrier) does the worker, "wl-worker", take mx2 then mx1. A report names them
 * by their variables, "mx1 in main" and "mx2 in stack_worker"; built without DWARF
 * (wl_stacklock_nodwarf), as stack locks initialised in those functions.
 *
 *   wl_stacklock [-w]
 *   ready pid=P tid_main=T tid_worker=T
 *   done mx1=0x.. mx2=0x..
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

struct shared {
	pthread_mutex_t *mx1, *mx2;
	pthread_barrier_t step;		/* tid known; go; mx2 initialised; main is done */
	pid_t tid;
};

static WL_FRAME void *stack_worker(void *arg)
{
	struct shared *sh = arg;
	pthread_mutex_t mx2;

	sh->tid = wl_thread_init("wl-worker");
	pthread_barrier_wait(&sh->step);	/* tid known */
	pthread_barrier_wait(&sh->step);	/* go */
	pthread_mutex_init(&mx2, NULL);
	sh->mx2 = &mx2;
	pthread_barrier_wait(&sh->step);	/* mx2 initialised */
	pthread_barrier_wait(&sh->step);	/* main took mx1 then mx2 */
	pthread_mutex_lock(&mx2);
	pthread_mutex_lock(sh->mx1);
	pthread_mutex_unlock(sh->mx1);
	pthread_mutex_unlock(&mx2);
	pthread_mutex_destroy(&mx2);
	return NULL;
}

int main(int argc, char **argv)
{
	struct shared sh = {};
	pthread_mutex_t mx1;
	pthread_t worker;

	wl_handshake(&argc, argv);
	pthread_barrier_init(&sh.step, NULL, 2);
	if (pthread_create(&worker, NULL, stack_worker, &sh))
		return 1;
	pthread_barrier_wait(&sh.step);
	wl_ready("tid_main=%d tid_worker=%d", (int)getpid(), sh.tid);
	pthread_barrier_wait(&sh.step);
	pthread_mutex_init(&mx1, NULL);
	sh.mx1 = &mx1;
	pthread_barrier_wait(&sh.step);
	pthread_mutex_lock(&mx1);
	pthread_mutex_lock(sh.mx2);
	pthread_mutex_unlock(sh.mx2);
	pthread_mutex_unlock(&mx1);
	pthread_barrier_wait(&sh.step);
	pthread_join(worker, NULL);
	pthread_mutex_destroy(&mx1);
	wl_done("mx1=%p mx2=%p", (void *)&mx1, (void *)sh.mx2);
	return 0;
}
