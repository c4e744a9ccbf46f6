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

pthread_spinlock_t spin_a, spin_b;
static struct wl_turns turns;
static int turns_done;

WL_FRAME void t1_take_a_then_b(void)
{
	pthread_spin_lock(&spin_a);
	pthread_spin_lock(&spin_b);
	turns_done++;
	pthread_spin_unlock(&spin_b);
	pthread_spin_unlock(&spin_a);
}

WL_FRAME void t2_take_b_then_a(void)
{
	pthread_spin_lock(&spin_b);
	pthread_spin_lock(&spin_a);
	turns_done++;
	pthread_spin_unlock(&spin_a);
	pthread_spin_unlock(&spin_b);
}

static struct wl_worker workers[] = {
	{ .name = "wl-t1", .work = t1_take_a_then_b, .turn = 0 },
	{ .name = "wl-t2", .work = t2_take_b_then_a, .turn = 1 },
};

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	pthread_spin_init(&spin_a, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_init(&spin_b, PTHREAD_PROCESS_PRIVATE);
	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
		return 1;
	wl_ready("tid1=%d tid2=%d a=%p b=%p", workers[0].tid, workers[1].tid, (void *)&spin_a,
		 (void *)&spin_b);
	wl_turns_go_and_join(&turns);
	wl_done("turns=%d", turns_done);
	return turns_done == 2 ? 0 : 1;
}
