// SPDX-License-Identifier: GPL-2.0
/*
 * The example workload of `make demo`: tellers move money between accounts, each
 * guarded by its own mutex, and an auditor sums all balances under a global lock.
 * Runs for argv[1] seconds (default 3), or until stdin closes when started with "-".
 *
 *   wl_bank [SECONDS] [TELLERS]
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

static void transfer(struct account *from, struct account *to, long amount)
{
	/* lock in address order: tellers never wait on each other in a cycle */
	struct account *first = from < to ? from : to, *second = from < to ? to : from;

	pthread_mutex_lock(&audit_lock);
	pthread_mutex_unlock(&audit_lock);
	pthread_mutex_lock(&first->lock);
	pthread_mutex_lock(&second->lock);
	from->balance -= amount;
	to->balance += amount;
	pthread_mutex_unlock(&second->lock);
	pthread_mutex_unlock(&first->lock);
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
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long seconds = wl_arg(argc, argv, 1, 3), tellers = wl_arg(argc, argv, 2, 3);
	pthread_t t[16], a;
	char name[16];

	if (tellers < 1 || tellers > 16)
		tellers = 3;
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
	if (argc > 1 && !strcmp(argv[1], "-")) {
		wl_wait_eof();
	} else {
		struct timespec d = { seconds, 0 };

		nanosleep(&d, NULL);
	}
	stop = 1;
	for (long i = 0; i < tellers; i++)
		pthread_join(t[i], NULL);
	pthread_join(a, NULL);
	return 0;
}
