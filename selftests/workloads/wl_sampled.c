// SPDX-License-Identifier: GPL-2.0
/*
 * A target too busy to trace every lock call of, for the cost governor (--max-overhead):
 * thread "hot" takes hot_lock about a million times a second, uncontended, with a little
 * work between; threads "inv-1" and "inv-2" take lock_a and lock_b nested, in opposite
 * orders, taking turns (a semaphore, not a lock: no gate) every TURN_MS milliseconds
 * (default 20), so the inversion recurs all along; thread "ordered" takes lock_c then
 * lock_d every millisecond, always in that order: no inversion. All run SECONDS seconds
 * (default 4) from go.
 *
 *   wl_sampled [-w] [SECONDS [TURN_MS]]
 *   ready pid=P a=0x.. b=0x.. c=0x.. d=0x.. hot=0x.. tids=HOT,INV1,INV2,ORDERED
 *   done hot_acquisitions=N inversions=M
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "wl.h"

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_c = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_d = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t hot_lock = PTHREAD_MUTEX_INITIALIZER;

static long long end_ns;
static long turn_ms;
static sem_t turn[2];
static pthread_barrier_t start;		/* passed twice: all tids known, then go */
static volatile long sink;
static long hot_count, inversions;

struct worker {
	pthread_t thread;
	pid_t tid;
	const char *name;
	void *(*fn)(void *);
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

WL_FRAME void take_hot(void)
{
	pthread_mutex_lock(&hot_lock);
	sink++;
	pthread_mutex_unlock(&hot_lock);
}

static void *hot(void *arg)
{
	while (now_ns() < end_ns) {
		for (int i = 0; i < 1000; i++) {
			take_hot();
			/* about a microsecond of work between two locks */
			for (int k = 0; k < 3000; k++)
				sink += k;
			hot_count++;
		}
	}
	return NULL;
}

WL_FRAME void take_a_then_b(void)
{
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
}

WL_FRAME void take_b_then_a(void)
{
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
}

/* inv-1 and inv-2 take turns: never both inside, so never a deadlock */
static void *inv(int me)
{
	while (now_ns() < end_ns) {
		sem_wait(&turn[me]);
		if (me)
			take_b_then_a();
		else
			take_a_then_b();
		inversions += me;
		sem_post(&turn[!me]);
		nap_ms(turn_ms);
	}
	/* the other may wait for its turn still */
	sem_post(&turn[!me]);
	return NULL;
}

static void *inv1(void *arg)
{
	return inv(0);
}

static void *inv2(void *arg)
{
	return inv(1);
}

WL_FRAME void take_c_then_d(void)
{
	pthread_mutex_lock(&lock_c);
	pthread_mutex_lock(&lock_d);
	pthread_mutex_unlock(&lock_d);
	pthread_mutex_unlock(&lock_c);
}

static void *ordered(void *arg)
{
	while (now_ns() < end_ns) {
		take_c_then_d();
		nap_ms(1);
	}
	return NULL;
}

static void *run(void *arg)
{
	struct worker *w = arg;

	w->tid = wl_thread_init(w->name);
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	return w->fn(arg);
}

int main(int argc, char **argv)
{
	static struct worker w[] = {
		{ .name = "hot", .fn = hot },
		{ .name = "inv-1", .fn = inv1 },
		{ .name = "inv-2", .fn = inv2 },
		{ .name = "ordered", .fn = ordered },
	};
	long seconds;

	wl_handshake(&argc, argv);
	seconds = wl_arg(argc, argv, 1, 4);
	turn_ms = wl_arg(argc, argv, 2, 20);
	if (seconds < 1 || turn_ms < 1)
		return 2;
	sem_init(&turn[0], 0, 1);
	sem_init(&turn[1], 0, 0);
	pthread_barrier_init(&start, NULL, WL_ARRAY_SIZE(w) + 1);
	for (int i = 0; i < WL_ARRAY_SIZE(w); i++)
		if (pthread_create(&w[i].thread, NULL, run, &w[i]))
			return 1;
	pthread_barrier_wait(&start);
	wl_ready("a=%p b=%p c=%p d=%p hot=%p tids=%d,%d,%d,%d", (void *)&lock_a, (void *)&lock_b,
		 (void *)&lock_c, (void *)&lock_d, (void *)&hot_lock, w[0].tid, w[1].tid,
		 w[2].tid, w[3].tid);
	end_ns = now_ns() + seconds * 1000000000LL;
	pthread_barrier_wait(&start);
	for (int i = 0; i < WL_ARRAY_SIZE(w); i++)
		pthread_join(w[i].thread, NULL);
	if (!*wl_handshake_mode())
		printf("done hot_acquisitions=%ld inversions=%ld\n", hot_count, inversions);
	wl_done("hot_acquisitions=%ld inversions=%ld", hot_count, inversions);
	return 0;
}
