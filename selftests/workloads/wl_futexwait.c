// SPDX-License-Identifier: GPL-2.0
/*
 * Futex waits with known outcomes, and locks with a known holder. The main thread holds
 * a plain mutex and a priority-inheritance mutex throughout. After "go":
 *  - "fw-waiter" calls futex(2) FUTEX_WAIT on a word three ways: with a value the word
 *    does not have (EAGAIN at once), with a 1 ms timeout (ETIMEDOUT), then until the
 *    main thread wakes it (woken); on kernels with futex_wait(2) (Linux 6.7) once more
 *    through that call, with a value the word does not have (EAGAIN; futex2=1 says so);
 *  - "fw-locker" tries the plain mutex (EBUSY: the main thread holds it), then locks it:
 *    one FUTEX_WAIT in glibc's __lll_lock_wait, until the main thread unlocks;
 *  - "fw-pilocker" locks the PI mutex: one FUTEX_LOCK_PI, until the main thread unlocks.
 * The main thread says "armed" once the waiter is past its timed wait; the test waits
 * until all three really sleep in futex(2), then says "release": the main thread wakes
 * the word and unlocks both mutexes.
 *
 * Handshake (wl.h): "ready pid= word= mutex= pimutex=" / go / "armed waiter= locker=
 * pilocker= futex2=" / release / "done eagain= timedout= woken=" / stdin EOF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

#include "wl.h"

#ifndef SYS_futex_wait
#define SYS_futex_wait 455	/* x86-64, Linux 6.7 */
#endif
#define FUTEX2_SIZE_U32 0x02
#define FUTEX2_PRIVATE 128

static int word;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pimutex;
static pthread_barrier_t start, past_timeout;
static pid_t tids[3];
static int results[4];	/* EAGAIN, ETIMEDOUT, woken, futex2 EAGAIN */

static long futex_wait(int *w, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, ts, NULL, 0);
}

static void *waiter(void *arg)
{
	struct timespec ms = { 0, 1000000 };

	tids[0] = wl_thread_init("fw-waiter");
	pthread_barrier_wait(&start);
	results[0] = futex_wait(&word, 1, NULL) == -1 && errno == EAGAIN;
	results[1] = futex_wait(&word, 0, &ms) == -1 && errno == ETIMEDOUT;
	results[3] = syscall(SYS_futex_wait, &word, 1UL, 0xffffffffUL, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
			     NULL, CLOCK_MONOTONIC) == -1 && errno == EAGAIN;
	pthread_barrier_wait(&past_timeout);
	while (!__atomic_load_n(&word, __ATOMIC_ACQUIRE))
		results[2] += futex_wait(&word, 0, NULL) == 0;
	return NULL;
}

static void *locker(void *arg)
{
	tids[1] = wl_thread_init("fw-locker");
	pthread_barrier_wait(&start);
	if (pthread_mutex_trylock(&mutex) != EBUSY)
		exit(3);
	pthread_mutex_lock(&mutex);
	pthread_mutex_unlock(&mutex);
	return NULL;
}

static void *pilocker(void *arg)
{
	tids[2] = wl_thread_init("fw-pilocker");
	pthread_barrier_wait(&start);
	pthread_mutex_lock(&pimutex);
	pthread_mutex_unlock(&pimutex);
	return NULL;
}

int main(int argc, char **argv)
{
	void *(*fn[3])(void *) = { waiter, locker, pilocker };
	pthread_mutexattr_t attr;
	pthread_t t[3];
	char line[16];

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&pimutex, &attr);
	pthread_mutex_lock(&mutex);
	pthread_mutex_lock(&pimutex);
	pthread_barrier_init(&start, NULL, 4);
	pthread_barrier_init(&past_timeout, NULL, 2);
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, fn[i], NULL))
			return 1;
	printf("ready pid=%d word=%p mutex=%p pimutex=%p\n", getpid(), (void *)&word,
	       (void *)&mutex, (void *)&pimutex);
	wl_wait_go();
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&past_timeout);
	printf("armed waiter=%d locker=%d pilocker=%d futex2=%d\n", tids[0], tids[1], tids[2],
	       results[3]);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "release\n"))
		return 1;
	__atomic_store_n(&word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_mutex_unlock(&mutex);
	pthread_mutex_unlock(&pimutex);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("done eagain=%d timedout=%d woken=%d\n", results[0], results[1], results[2]);
	wl_wait_eof();
	return 0;
}
