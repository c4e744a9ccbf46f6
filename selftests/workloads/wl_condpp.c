// SPDX-License-Identifier: GPL-2.0
/*
 * Condition-variable ping-pong: "pp-ping" and "pp-pong" hand a turn back and forth
 * ROUNDS times (default 2000) under pp_mutex, each waiting for its turn on its own
 * condition variable, ping_cond and pong_cond, and signalling the other's. The threads
 * spend nearly all their time waiting on the condvars: waiting for work, which a report
 * must show on the condvars by name and never call a contention hotspot.
 *
 *   wl_condpp [-w] [ROUNDS]
 *   ready pid=P tid_ping=T tid_pong=T ping_cond=0x.. pong_cond=0x.. pp_mutex=0x..
 *   done rounds=R ping_waits=N pong_waits=N   (pthread_cond_wait calls of each thread)
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t pp_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t ping_cond = PTHREAD_COND_INITIALIZER;
pthread_cond_t pong_cond = PTHREAD_COND_INITIALIZER;

static long rounds;
static int turn;			/* under pp_mutex: 0 ping's, 1 pong's */
static long waits[2];			/* each thread's own */
static pid_t tids[2];
static pthread_barrier_t start;	/* passed twice: tids known, then go */

WL_FRAME void ping_pong(int me)
{
	pthread_cond_t *mine = me ? &pong_cond : &ping_cond;
	pthread_cond_t *other = me ? &ping_cond : &pong_cond;

	for (long r = 0; r < rounds; r++) {
		pthread_mutex_lock(&pp_mutex);
		while (turn != me) {
			waits[me]++;
			pthread_cond_wait(mine, &pp_mutex);
		}
		turn = !me;
		pthread_cond_signal(other);
		pthread_mutex_unlock(&pp_mutex);
	}
}

static void *player(void *arg)
{
	int me = (int)(long)arg;

	tids[me] = wl_thread_init(me ? "pp-pong" : "pp-ping");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	ping_pong(me);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];

	wl_handshake(&argc, argv);
	rounds = wl_arg(argc, argv, 1, 2000);
	if (rounds < 1)
		return 2;
	pthread_barrier_init(&start, NULL, 3);
	for (long i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, player, (void *)i))
			return 1;
	pthread_barrier_wait(&start);
	wl_ready("tid_ping=%d tid_pong=%d ping_cond=%p pong_cond=%p pp_mutex=%p", tids[0],
		 tids[1], (void *)&ping_cond, (void *)&pong_cond, (void *)&pp_mutex);
	pthread_barrier_wait(&start);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	wl_done("rounds=%ld ping_waits=%ld pong_waits=%ld", rounds, waits[0], waits[1]);
	return 0;
}
