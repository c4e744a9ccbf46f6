// SPDX-License-Identifier: GPL-2.0
/*
 * Lock-order inversions through rwlocks, one case per run; "wl-t1" has its turn, then
 * (barrier) "wl-t2":
 *
 *   wr         t1: wrlock(rw) then lock(m); t2: lock(m) then rdlock(rw). A real
 *              inversion: a reader can wait for a writer.
 *   rr         rw_a, rw_b default (reader-preferring) rwlocks. t1: rdlock(rw_a) then
 *              rdlock(rw_b); t2: rdlock(rw_b) then rdlock(rw_a). A read-read cycle:
 *              readers never wait for readers here, so no deadlock is possible.
 *   rr-writer  rr with both rwlocks PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP: a
 *              queued writer makes new readers wait, so the same cycle can deadlock.
 *
 *   wl_rwlock [-w] [wr|rr|rr-writer]      (default wr; -w before or after the case)
 *   ready pid=P mode=wr tid1=T tid2=T rw=0x.. m=0x..
 *   ready pid=P mode=rr|rr-writer tid1=T tid2=T rw_a=0x.. rw_b=0x..
 *   done mode=M
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "wl.h"

pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t rw_a = PTHREAD_RWLOCK_INITIALIZER;
pthread_rwlock_t rw_b = PTHREAD_RWLOCK_INITIALIZER;
static struct wl_turns turns;

WL_FRAME void t1_write_rw_then_m(void)
{
	pthread_rwlock_wrlock(&rw);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	pthread_rwlock_unlock(&rw);
}

WL_FRAME void t2_m_then_read_rw(void)
{
	pthread_mutex_lock(&m);
	pthread_rwlock_rdlock(&rw);
	pthread_rwlock_unlock(&rw);
	pthread_mutex_unlock(&m);
}

WL_FRAME void t1_read_a_then_b(void)
{
	pthread_rwlock_rdlock(&rw_a);
	pthread_rwlock_rdlock(&rw_b);
	pthread_rwlock_unlock(&rw_b);
	pthread_rwlock_unlock(&rw_a);
}

WL_FRAME void t2_read_b_then_a(void)
{
	pthread_rwlock_rdlock(&rw_b);
	pthread_rwlock_rdlock(&rw_a);
	pthread_rwlock_unlock(&rw_a);
	pthread_rwlock_unlock(&rw_b);
}

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .turn = 0 },
	{ .name = "wl-t2", .turn = 1 },
};

static int prefer_writers(void)
{
	pthread_rwlockattr_t attr;
	int err;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	err = pthread_rwlock_init(&rw_a, &attr) ?: pthread_rwlock_init(&rw_b, &attr);
	pthread_rwlockattr_destroy(&attr);
	return err;
}

int main(int argc, char **argv)
{
	const char *mode;

	wl_handshake(&argc, argv);
	mode = argc > 1 ? argv[1] : "wr";
	if (!strcmp(mode, "wr")) {
		workers[0].work = t1_write_rw_then_m;
		workers[1].work = t2_m_then_read_rw;
	} else if (!strcmp(mode, "rr") || !strcmp(mode, "rr-writer")) {
		workers[0].work = t1_read_a_then_b;
		workers[1].work = t2_read_b_then_a;
		if (!strcmp(mode, "rr-writer") && prefer_writers())
			return 1;
	} else {
		fprintf(stderr, "usage: wl_rwlock [-w] [wr|rr|rr-writer]\n");
		return 2;
	}
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	if (!strcmp(mode, "wr"))
		wl_ready("mode=%s tid1=%d tid2=%d rw=%p m=%p", mode, workers[0].tid, workers[1].tid,
			 (void *)&rw, (void *)&m);
	else
		wl_ready("mode=%s tid1=%d tid2=%d rw_a=%p rw_b=%p", mode, workers[0].tid,
			 workers[1].tid, (void *)&rw_a, (void *)&rw_b);
	wl_turns_go_and_join(&turns);
	wl_done("mode=%s", mode);
	return 0;
}
