// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel lock contention on demand: THREADS threads (argv[1], default 4) map and unmap
 * memory in a loop, so they contend for the process's mmap_lock (an rwsem, taken for
 * writing by both calls). Runs from "go" until stdin closes.
 *
 * Handshake (wl.h): "ready pid=" / go / "done running=1" / stdin EOF.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "wl.h"

static volatile int stop;
static pthread_barrier_t go;

static void *churn(void *arg)
{
	pthread_barrier_wait(&go);
	while (!stop) {
		void *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED)
			continue;
		*(volatile char *)p = 1; /* fault it in: the page fault takes the lock too */
		munmap(p, 1 << 16);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = wl_arg(argc, argv, 1, 4);
	pthread_t t[16];

	if (n < 1 || n > 16)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&go, NULL, n + 1);
	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	printf("ready pid=%d threads=%ld\n", getpid(), n);
	wl_wait_go();
	pthread_barrier_wait(&go);
	printf("done running=1\n");
	wl_wait_eof();
	stop = 1;
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
