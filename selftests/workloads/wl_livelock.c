// SPDX-License-Identifier: GPL-2.0
/*
 * Two threads that fight over two locks in lockstep and never win (a livelock), or take
 * turns on one lock and both win (a busy workload that progresses), for a number of
 * rounds, ordered by a barrier between every step:
 *
 *   livelock (mode 0): "wl-ll1" holds lock_a, "wl-ll2" holds lock_b; each
 *	pthread_mutex_trylock()s the other's lock, which fails (EBUSY), backs off
 *	(nanosleep backoff_us), and both let go of their own lock; then again.
 *   timed (mode 2): livelock with pthread_mutex_timedlock() timing out (ETIMEDOUT) after
 *	backoff_us instead of a trylock and a sleep.
 *   progress (mode 1): one lock, lock_a. In a round one thread holds it while the other's
 *	trylock fails; then it lets go and the other's trylock succeeds; the next round the
 *	other way round. Each thread fails once and succeeds once every two rounds.
 *
 *   wl_livelock [-w] [rounds=1500] [backoff_us=1000] [mode=0: livelock, 1: progress, 2: timed]
 *   ready pid=P tid1=T tid2=T a=0x.. b=0x..
 *   done failures1=N failures2=N acquired1=N acquired2=N
 * Without -w it runs at once (for `concwatch run`) and exits 0 when every trylock did as
 * said above, 1 when one did not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "wl.h"

pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t step, start;
static long rounds, backoff_us, mode;
static int bad;

struct side {
	const char *name;
	pthread_mutex_t *own, *other;
	pid_t tid;
	long failures, acquired;
	pthread_t thread;
};

static struct side sides[2] = {
	{ .name = "wl-ll1", .own = &lock_a, .other = &lock_b },
	{ .name = "wl-ll2", .own = &lock_b, .other = &lock_a },
};

static void backoff(void)
{
	struct timespec ts = { .tv_sec = backoff_us / 1000000,
			       .tv_nsec = (backoff_us % 1000000) * 1000 };

	if (backoff_us)
		nanosleep(&ts, NULL);
}

/* One attempt on m: counted; ok says whether it was meant to succeed. */
WL_FRAME void try_other(struct side *s, pthread_mutex_t *m, int ok)
{
	struct timespec until;
	int err;

	if (mode == 2) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += backoff_us * 1000;
		until.tv_sec += until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		err = pthread_mutex_timedlock(m, &until);
	} else {
		err = pthread_mutex_trylock(m);
	}

	if (!err) {
		s->acquired++;
		pthread_mutex_unlock(m);
	} else {
		s->failures++;
	}
	if ((err == 0) != ok || (err && err != (mode == 2 ? ETIMEDOUT : EBUSY)))
		bad = 1;
}

WL_FRAME void livelock_round(struct side *s)
{
	pthread_mutex_lock(s->own);
	pthread_barrier_wait(&step);	/* both hold their own */
	try_other(s, s->other, 0);
	if (mode != 2)
		backoff();
	pthread_barrier_wait(&step);	/* both failed */
	pthread_mutex_unlock(s->own);
	pthread_barrier_wait(&step);	/* both let go */
}

WL_FRAME void progress_round(struct side *s, int holder)
{
	if (holder)
		pthread_mutex_lock(&lock_a);
	pthread_barrier_wait(&step);	/* held by the holder */
	if (!holder)
		try_other(s, &lock_a, 0);
	pthread_barrier_wait(&step);
	if (holder)
		pthread_mutex_unlock(&lock_a);
	pthread_barrier_wait(&step);	/* free again */
	if (!holder)
		try_other(s, &lock_a, 1);
	backoff();
	pthread_barrier_wait(&step);
}

static void *run_side(void *arg)
{
	struct side *s = arg;
	int self = s == &sides[1];

	s->tid = wl_thread_init(s->name);
	pthread_barrier_wait(&start);	/* tids known */
	pthread_barrier_wait(&start);	/* go */
	for (long r = 0; r < rounds; r++) {
		if (mode == 1)
			progress_round(s, (r & 1) == self);
		else
			livelock_round(s);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	rounds = wl_arg(argc, argv, 1, 1500);
	backoff_us = wl_arg(argc, argv, 2, 1000);
	mode = wl_arg(argc, argv, 3, 0);
	pthread_barrier_init(&step, NULL, 2);
	pthread_barrier_init(&start, NULL, 3);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&sides[i].thread, NULL, run_side, &sides[i]))
			return 1;
	pthread_barrier_wait(&start);
	wl_ready("tid1=%d tid2=%d a=%p b=%p", sides[0].tid, sides[1].tid, (void *)&lock_a,
		 (void *)&lock_b);
	pthread_barrier_wait(&start);
	for (int i = 0; i < 2; i++)
		pthread_join(sides[i].thread, NULL);
	wl_done("failures1=%ld failures2=%ld acquired1=%ld acquired2=%ld", sides[0].failures,
		sides[1].failures, sides[0].acquired, sides[1].acquired);
	return bad;
}
