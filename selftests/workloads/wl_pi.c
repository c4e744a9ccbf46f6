// SPDX-License-Identifier: GPL-2.0
/*
 * A contended priority-inheritance mutex: THREADS threads (default 3) named "pi-N" take
 * pi_lock (PTHREAD_PRIO_INHERIT) ITERS times each (default 1000) in hold_pi_lock(),
 * holding it for HOLD_US microseconds of busy work (default 20). A PI mutex keeps its
 * owner's tid in the futex word and blocks in the kernel through FUTEX_LOCK_PI, not
 * FUTEX_WAIT: the path a tracer of futex waits must see too.
 *
 *   wl_pi [-w] [THREADS [ITERS [HOLD_US]]]
 *   ready pid=P threads=N pi_lock=0x.. tids=T,T,..
 *   done waited_ns=W acquisitions=A
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "wl.h"

#define MAX_THREADS 16

pthread_mutex_t pi_lock;

static long iters, hold_us;
static pthread_barrier_t start;	/* passed twice: all tids known, then go */

struct worker {
	pthread_t thread;
	pid_t tid;
	int idx;
	long long waited_ns;
	long acquired;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

WL_FRAME long long hold_pi_lock(void)
{
	long long t0 = now_ns(), waited, end;

	pthread_mutex_lock(&pi_lock);
	waited = now_ns() - t0;
	end = now_ns() + hold_us * 1000LL;
	while (now_ns() < end)
		;
	pthread_mutex_unlock(&pi_lock);
	return waited;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "pi-%d", w->idx);
	w->tid = wl_thread_init(name);
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	for (long i = 0; i < iters; i++) {
		w->waited_ns += hold_pi_lock();
		w->acquired++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_THREADS];
	pthread_mutexattr_t attr;
	char tids[MAX_THREADS * 12] = "";
	long long waited = 0;
	long n, acquired = 0;
	size_t len = 0;

	wl_handshake(&argc, argv);
	n = wl_arg(argc, argv, 1, 3);
	iters = wl_arg(argc, argv, 2, 1000);
	hold_us = wl_arg(argc, argv, 3, 20);
	if (n < 1 || n > MAX_THREADS || iters < 1 || hold_us < 0)
		return 2;
	pthread_mutexattr_init(&attr);
	if (pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT) ||
	    pthread_mutex_init(&pi_lock, &attr))
		return 1;
	pthread_barrier_init(&start, NULL, n + 1);
	for (long i = 0; i < n; i++) {
		w[i].idx = i;
		if (pthread_create(&w[i].thread, NULL, work, &w[i]))
			return 1;
	}
	pthread_barrier_wait(&start);
	for (long i = 0; i < n; i++)
		len += snprintf(tids + len, sizeof(tids) - len, "%s%d", i ? "," : "", w[i].tid);
	wl_ready("threads=%ld pi_lock=%p tids=%s", n, (void *)&pi_lock, tids);
	pthread_barrier_wait(&start);
	for (long i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		waited += w[i].waited_ns;
		acquired += w[i].acquired;
	}
	if (!*wl_handshake_mode())
		printf("done waited_ns=%lld acquisitions=%ld\n", waited, acquired);
	wl_done("waited_ns=%lld acquisitions=%ld", waited, acquired);
	return 0;
}
