// SPDX-License-Identifier: GPL-2.0
/*
 * Rounds of known work for snapshots: a thread named "wl-rounds" takes and releases the
 * global mutex wl_round_lock exactly N times (argv[1], default 1000) for every "go" line
 * on stdin, then prints "done round=K". Nothing else touches wl_round_lock, and nothing
 * happens between rounds: whatever a snapshot counts of it falls in one round.
 *   workload -> "ready pid=P tid=T lock=ADDR"
 *   test     -> "go"      workload -> "done round=1"   (as many rounds as the test likes)
 *   test     -> closes stdin: the workload exits 0
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>

#include "wl.h"

pthread_mutex_t wl_round_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start, end;
static long iterations;
static volatile int quit;
static pid_t worker_tid;
static volatile long counter;

static void *worker(void *arg)
{
	worker_tid = wl_thread_init("wl-rounds");
	pthread_barrier_wait(&start);	/* named, tid known */
	for (;;) {
		pthread_barrier_wait(&start);	/* a round, or the end */
		if (quit)
			return NULL;
		for (long i = 0; i < iterations; i++) {
			pthread_mutex_lock(&wl_round_lock);
			counter++;
			pthread_mutex_unlock(&wl_round_lock);
		}
		pthread_barrier_wait(&end);
	}
}

int main(int argc, char **argv)
{
	char line[16];
	pthread_t t;
	int round = 0;

	iterations = wl_arg(argc, argv, 1, 1000);
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&start, NULL, 2);
	pthread_barrier_init(&end, NULL, 2);
	if (pthread_create(&t, NULL, worker, NULL))
		return 1;
	pthread_barrier_wait(&start);
	printf("ready pid=%d tid=%d lock=%p iterations=%ld\n", getpid(), worker_tid,
	       (void *)&wl_round_lock, iterations);
	while (fgets(line, sizeof(line), stdin) && !strcmp(line, "go\n")) {
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&end);
		printf("done round=%d counter=%ld\n", ++round, counter);
	}
	quit = 1;
	pthread_barrier_wait(&start);
	pthread_join(t, NULL);
	return 0;
}
