// SPDX-License-Identifier: GPL-2.0
/*
 * Names a report must not print raw: the main thread and a second one are named with a
 * newline, an escape sequence (ESC [ 2 J clears a terminal) and a byte that is not UTF-8
 * (0xff); the test passes arguments with such bytes, so the command line has them too.
 * Then a lock-order inversion, made safely (the second thread runs after the first
 * order is done), so that the names appear in a finding as well. Runs at once and
 * exits 0: for `concwatch run -- wl_names ARGS`.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/prctl.h>

#include "wl.h"

/* at most 15 bytes: the kernel's TASK_COMM_LEN */
#define MAIN_NAME "m\n\x1b[2J\xff" "1"
#define THREAD_NAME "t\n\x1b[2J\xff" "2"

pthread_mutex_t names_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t names_b = PTHREAD_MUTEX_INITIALIZER;

static WL_FRAME void take(pthread_mutex_t *first, pthread_mutex_t *second)
{
	pthread_mutex_lock(first);
	pthread_mutex_lock(second);
	pthread_mutex_unlock(second);
	pthread_mutex_unlock(first);
}

static void *thread(void *arg)
{
	pthread_setname_np(pthread_self(), THREAD_NAME);
	take(&names_b, &names_a);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	prctl(PR_SET_NAME, MAIN_NAME);
	take(&names_a, &names_b);
	if (pthread_create(&t, NULL, thread, NULL))
		return 1;
	pthread_join(t, NULL);
	return 0;
}
