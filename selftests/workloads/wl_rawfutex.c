// SPDX-License-Identifier: GPL-2.0
/*
 * A futex used directly, through syscall(SYS_futex), with no libc primitive around it:
 * WAITERS threads (default 2) named "fx-waiter-N" wait on the global futex_word, a
 * generation number, and "fx-waker" wakes them ROUNDS times (default 200). Before each
 * wake the waker checks in /proc that every waiter is really asleep in futex() on
 * futex_word, so each round is one blocking wait per waiter, ended by the wake: exactly
 * ROUNDS * WAITERS sleeping waits, all woken, none EAGAIN or timed out.
 *
 *   wl_rawfutex [-w] [WAITERS [ROUNDS]]
 *   ready pid=P waiters=N futex_word=0x.. tid_waker=T tids=T,T,..
 *   done waits=N                              (sleeping waits: ROUNDS * WAITERS)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "wl.h"

#define MAX_WAITERS 8

_Atomic int futex_word;

static long rounds;
static long nwaiters;
static pid_t tids[MAX_WAITERS], tid_waker;
static _Atomic long waits;
static pthread_barrier_t start;	/* passed twice: tids known, then go */

static long futex(_Atomic int *uaddr, int op, int val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

/* Thread tid is asleep in futex() on futex_word: its syscall and its state say so. */
static int asleep_on_word(pid_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "202 0xUADDR ..." on x86-64, "98 0x.." on arm64: the number is SYS_futex */
	if (strtol(buf, &p, 10) != SYS_futex || strtoull(p, NULL, 16) != (uintptr_t)&futex_word)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

WL_FRAME void wait_for_generation(int gen)
{
	while (atomic_load(&futex_word) == gen) {
		if (!futex(&futex_word, FUTEX_WAIT_PRIVATE, gen))
			waits++;
	}
}

static void *waiter(void *arg)
{
	long idx = (long)arg;
	char name[16];

	snprintf(name, sizeof(name), "fx-waiter-%ld", idx);
	tids[idx] = wl_thread_init(name);
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	for (int gen = 0; gen < rounds; gen++)
		wait_for_generation(gen);
	return NULL;
}

WL_FRAME void wake_waiters(void)
{
	atomic_fetch_add(&futex_word, 1);
	futex(&futex_word, FUTEX_WAKE_PRIVATE, INT_MAX);
}

static void *waker(void *arg)
{
	tid_waker = wl_thread_init("fx-waker");
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&start);
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < nwaiters; i++)
			while (!asleep_on_word(tids[i]))
				sched_yield();
		wake_waiters();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[MAX_WAITERS + 1];
	char list[MAX_WAITERS * 12] = "";
	size_t len = 0;

	wl_handshake(&argc, argv);
	nwaiters = wl_arg(argc, argv, 1, 2);
	rounds = wl_arg(argc, argv, 2, 200);
	if (nwaiters < 1 || nwaiters > MAX_WAITERS || rounds < 1)
		return 2;
	pthread_barrier_init(&start, NULL, nwaiters + 2);
	for (long i = 0; i < nwaiters; i++)
		if (pthread_create(&t[i], NULL, waiter, (void *)i))
			return 1;
	if (pthread_create(&t[nwaiters], NULL, waker, NULL))
		return 1;
	pthread_barrier_wait(&start);
	for (long i = 0; i < nwaiters; i++)
		len += snprintf(list + len, sizeof(list) - len, "%s%d", i ? "," : "", tids[i]);
	wl_ready("waiters=%ld futex_word=%p tid_waker=%d tids=%s", nwaiters, (void *)&futex_word,
		 tid_waker, list);
	pthread_barrier_wait(&start);
	for (long i = 0; i <= nwaiters; i++)
		pthread_join(t[i], NULL);
	wl_done("waits=%ld", (long)waits);
	return 0;
}
