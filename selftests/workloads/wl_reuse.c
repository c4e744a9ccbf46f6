// SPDX-License-Identifier: GPL-2.0
/*
 * Two locks' lifetimes at one address are two locks: a heap mutex m (a malloc()ed
 * block) is taken by "wl-t1" before the global lock_b; t1 then destroys m and
 * initialises it again in the same block. Only then (barrier) does "wl-t2" take lock_b
 * before m. The orders m -> lock_b and lock_b -> m belong to different mutexes that
 * happen to share an address: no inversion.
 *
 *   wl_reuse [-w]
 *   ready pid=P tid1=T tid2=T reused=0x.. b=0x..
 *   done reused=0x..                     (the same block, re-initialised once)
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t *m;
static struct wl_turns turns;

WL_FRAME void t1_take_m_then_b(void)
{
	pthread_mutex_lock(m);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(m);
}

/*
 * The first mutex's life ends here; a new one starts in the same block. The init is no
 * tail call, so the site a report names the heap lock by is in this function, whatever
 * calls it.
 */
WL_FRAME void t1_reinit_m(void)
{
	pthread_mutex_destroy(m);
	if (pthread_mutex_init(m, NULL))
		exit(1);
}

WL_FRAME void t2_take_b_then_m(void)
{
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(m);
	pthread_mutex_unlock(m);
	pthread_mutex_unlock(&lock_b);
}

static void t1_work(void)
{
	t1_take_m_then_b();
	t1_reinit_m();
}

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_work, .turn = 0 },
	{ .name = "wl-t2", .work = t2_take_b_then_m, .turn = 1 },
};

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	m = malloc(sizeof(*m));
	if (!m || pthread_mutex_init(m, NULL))
		return 1;
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_ready("tid1=%d tid2=%d reused=%p b=%p", workers[0].tid, workers[1].tid, (void *)m,
		 (void *)&lock_b);
	wl_turns_go_and_join(&turns);
	wl_done("reused=%p", (void *)m);
	pthread_mutex_destroy(m);
	free(m);
	return 0;
}
