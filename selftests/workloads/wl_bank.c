// SPDX-License-Identifier: GPL-2.0
/*
 * The example workload of `make demo`: tellers move money between accounts, each
 * guarded by its own mutex, and an auditor sums all balances under a global lock. Runs
 * for argv[1] seconds (default 3), or until stdin closes when started with "-"; "-w":
 * the handshake of wl.h ("ready pid=P tellers=N", then "go"). It has a bug concwatch
 * finds: after the fifth audit, and then once a second (a live attach sees it too), a fee
 * collector charges the premium account (the last one) and credits the bank's own (the
 * first one), locking them in the order it names them. Everyone else locks accounts in
 * address order, the bank's first: a teller holding the bank's account and waiting for
 * the premium one, while the collector holds that and waits, would hang. Here it never
 * does: the collector works while the others wait at the desk (a counter under a mutex
 * that no one holds while taking an account), so the inversion is only possible.
 *
 *   wl_bank [-w] [SECONDS|-] [TELLERS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "wl.h"

#define ACCOUNTS 8

struct account {
	pthread_mutex_t lock;
	long balance;
};

static struct account accounts[ACCOUNTS];
pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;

/*
 * The desk: tellers and the auditor check in for each piece of work, and wait while
 * the fee collector works alone. Its mutex is never held with an account's.
 */
static pthread_mutex_t desk = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t desk_cv = PTHREAD_COND_INITIALIZER;
static int audits, paused, busy;

static void desk_enter(void)
{
	pthread_mutex_lock(&desk);
	while (paused && !stop)
		pthread_cond_wait(&desk_cv, &desk);
	busy++;
	pthread_mutex_unlock(&desk);
}

static void desk_leave(void)
{
	pthread_mutex_lock(&desk);
	if (!--busy)
		pthread_cond_broadcast(&desk_cv);
	pthread_mutex_unlock(&desk);
}

static void transfer(struct account *from, struct account *to, long amount)
{
	/* lock in address order: tellers never wait on each other in a cycle */
	struct account *first = from < to ? from : to, *second = from < to ? to : from;

	desk_enter();
	pthread_mutex_lock(&audit_lock);
	pthread_mutex_unlock(&audit_lock);
	pthread_mutex_lock(&first->lock);
	pthread_mutex_lock(&second->lock);
	from->balance -= amount;
	to->balance += amount;
	pthread_mutex_unlock(&second->lock);
	pthread_mutex_unlock(&first->lock);
	desk_leave();
}

/* The bug: from, then to, whatever their addresses. */
static void charge_fee(struct account *from, struct account *to, long fee)
{
	pthread_mutex_lock(&from->lock);
	pthread_mutex_lock(&to->lock);
	from->balance -= fee;
	to->balance += fee;
	pthread_mutex_unlock(&to->lock);
	pthread_mutex_unlock(&from->lock);
}

static void *fee_collector(void *arg)
{
	for (int fees = 0; !stop; fees++) {	/* after the fifth audit, then once a second */
		for (int i = 0; fees && i < 100 && !stop; i++)
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
		pthread_mutex_lock(&desk);
		while (audits < 5 && !stop)
			pthread_cond_wait(&desk_cv, &desk);
		for (paused = 1; busy && !stop;)	/* alone: the others wait at the desk */
			pthread_cond_wait(&desk_cv, &desk);
		pthread_mutex_unlock(&desk);
		charge_fee(&accounts[ACCOUNTS - 1], &accounts[0], 5);
		pthread_mutex_lock(&desk);
		paused = 0;
		pthread_cond_broadcast(&desk_cv);
		pthread_mutex_unlock(&desk);
	}
	return NULL;
}

static void *teller(void *arg)
{
	unsigned int seed = (uintptr_t)arg;

	while (!stop) {
		int a = rand_r(&seed) % ACCOUNTS, b = rand_r(&seed) % ACCOUNTS;
		if (a != b)
			transfer(&accounts[a], &accounts[b], rand_r(&seed) % 100);
	}
	return NULL;
}

static void *auditor(void *arg)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 };

	while (!stop) {
		long sum = 0;

		desk_enter();
		pthread_mutex_lock(&audit_lock);
		for (int i = 0; i < ACCOUNTS; i++)
			pthread_mutex_lock(&accounts[i].lock);
		for (int i = 0; i < ACCOUNTS; i++)
			sum += accounts[i].balance;
		for (int i = ACCOUNTS - 1; i >= 0; i--)
			pthread_mutex_unlock(&accounts[i].lock);
		pthread_mutex_unlock(&audit_lock);
		if (sum != ACCOUNTS * 1000)
			fprintf(stderr, "wl_bank: audit found %ld\n", sum);
		pthread_mutex_lock(&desk);
		if (++audits == 5)
			pthread_cond_broadcast(&desk_cv);
		pthread_mutex_unlock(&desk);
		desk_leave();
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long seconds, tellers;
	pthread_t t[16], a, f;
	char name[16];

	wl_handshake(&argc, argv);
	seconds = wl_arg(argc, argv, 1, 3);
	tellers = wl_arg(argc, argv, 2, 3);
	if (tellers < 1 || tellers > 16)
		tellers = 3;
	wl_ready("tellers=%ld", tellers);
	for (int i = 0; i < ACCOUNTS; i++) {
		pthread_mutex_init(&accounts[i].lock, NULL);
		accounts[i].balance = 1000;
	}
	for (long i = 0; i < tellers; i++) {
		pthread_create(&t[i], NULL, teller, (void *)(uintptr_t)(i + 1));
		snprintf(name, sizeof(name), "teller-%ld", i);
		pthread_setname_np(t[i], name);
	}
	pthread_create(&a, NULL, auditor, NULL);
	pthread_setname_np(a, "auditor");
	pthread_create(&f, NULL, fee_collector, NULL);
	pthread_setname_np(f, "fees");
	if (argc > 1 && !strcmp(argv[1], "-")) {
		wl_wait_eof();
	} else {
		struct timespec d = { seconds, 0 };

		nanosleep(&d, NULL);
	}
	pthread_mutex_lock(&desk);
	stop = 1;
	pthread_cond_broadcast(&desk_cv);
	pthread_mutex_unlock(&desk);
	for (long i = 0; i < tellers; i++)
		pthread_join(t[i], NULL);
	pthread_join(a, NULL);
	pthread_join(f, NULL);
	return 0;
}
