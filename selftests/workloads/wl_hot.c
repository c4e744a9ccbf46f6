// SPDX-License-Identifier: GPL-2.0
/*
 * One hot lock and one cold one, with a known critical section: THREADS threads (default
 * 4) named "hot-N" each take hot_lock ITERS times (default 2000) in hold_hot_lock(),
 * which keeps it for HOLD_US microseconds of busy work (default 20); every COLD_EVERY-th
 * iteration (default 100) a thread also takes cold_lock in take_cold_lock(), for a
 * microsecond. hot_lock is contended nearly every time, cold_lock seldom: the ranking
 * of a contention report must put hot_lock first.
 *
 * Every thread measures its own wait for hot_lock (CLOCK_MONOTONIC around
 * pthread_mutex_lock), and the workload prints the total: what a tracer's wait total
 * is compared with. Only the waits between "go" and "done" are counted, the traced span.
 *
 *   wl_hot [-w] [THREADS [ITERS [HOLD_US [COLD_EVERY]]]]
 *   ready pid=P threads=N hot_lock=0x.. cold_lock=0x.. tids=T,T,..
 *   done waited_ns=W hot_acquisitions=A cold_acquisitions=C
 * Without -w it runs at once and prints the done line without waiting (for `run`).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "wl.h"

#define MAX_THREADS 16

pthread_mutex_t hot_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t cold_lock = PTHREAD_MUTEX_INITIALIZER;

static long iters, hold_us, cold_every;
static pthread_barrier_t start;		/* passed twice: all tids known, then go */

struct worker {
	pthread_t thread;
	pid_t tid;
	int idx;
	long long waited_ns;
	long hot, cold;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Busy work for us microseconds: the critical section's known length. */
static void busy_us(long us)
{
	long long end = now_ns() + us * 1000LL;

	while (now_ns() < end)
		;
}

/* The holder's frame a report must name: it locks, works and unlocks. Returns the wait. */
WL_FRAME long long hold_hot_lock(void)
{
	long long t0 = now_ns(), waited;

	pthread_mutex_lock(&hot_lock);
	waited = now_ns() - t0;
	busy_us(hold_us);
	pthread_mutex_unlock(&hot_lock);
	return waited;
}

WL_FRAME void take_cold_lock(void)
{
	pthread_mutex_lock(&cold_lock);
	busy_us(1);
	pthread_mutex_unlock(&cold_lock);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "hot-%d", w->idx);
	w->tid = wl_thread_init(name);
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	for (long i = 0; i < iters; i++) {
		w->waited_ns += hold_hot_lock();
		w->hot++;
		if (i % cold_every == cold_every - 1) {
			take_cold_lock();
			w->cold++;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_THREADS];
	long long waited = 0;
	long n, hot = 0, cold = 0;
	char tids[MAX_THREADS * 12] = "";
	size_t len = 0;

	wl_handshake(&argc, argv);
	n = wl_arg(argc, argv, 1, 4);
	iters = wl_arg(argc, argv, 2, 2000);
	hold_us = wl_arg(argc, argv, 3, 20);
	cold_every = wl_arg(argc, argv, 4, 100);
	if (n < 1 || n > MAX_THREADS || iters < 1 || hold_us < 0 || cold_every < 1)
		return 2;
	pthread_barrier_init(&start, NULL, n + 1);
	for (long i = 0; i < n; i++) {
		w[i].idx = i;
		if (pthread_create(&w[i].thread, NULL, work, &w[i]))
			return 1;
	}
	pthread_barrier_wait(&start);
	for (long i = 0; i < n; i++)
		len += snprintf(tids + len, sizeof(tids) - len, "%s%d", i ? "," : "", w[i].tid);
	wl_ready("threads=%ld hot_lock=%p cold_lock=%p tids=%s", n, (void *)&hot_lock,
		 (void *)&cold_lock, tids);
	pthread_barrier_wait(&start);
	for (long i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		waited += w[i].waited_ns;
		hot += w[i].hot;
		cold += w[i].cold;
	}
	if (!*wl_handshake_mode())
		printf("done waited_ns=%lld hot_acquisitions=%ld cold_acquisitions=%ld\n", waited,
		       hot, cold);
	wl_done("waited_ns=%lld hot_acquisitions=%ld cold_acquisitions=%ld", waited, hot, cold);
	return 0;
}
