// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel lock contention on demand: THREADS threads (argv[1], default 4) map, fault in,
 * protect and unmap memory in a loop, so they contend for the process's mmap_lock (an
 * rwsem: page faults take it for reading, mmap, mprotect and munmap for writing). Runs
 * from "go" until stdin closes; or, given ROUNDS (argv[2]), each thread makes ROUNDS
 * rounds and "done" comes when all are finished: a fixed amount of contention, all of it
 * after "go".
 *
 * Handshake (wl.h): "ready pid=" / go / "done running=1" (or "done rounds=R") / stdin EOF.
 * Running, "stop" ends the churn and answers "stopped" once every thread is joined: the
 * process lives on with no lock traffic, so the figures read next are final.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "wl.h"

/*
 * Big enough that the write side holds the lock long: contention then happens even on
 * a machine whose CPUs take turns (QEMU's single-threaded TCG), not only in parallel.
 */
#define REGION (4UL << 20)

static volatile int stop;
static long rounds;
static pthread_barrier_t go;

static void *churn(void *arg)
{
	pthread_barrier_wait(&go);
	for (long r = 0; !stop && (!rounds || r < rounds); r++) {
		char *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED)
			continue;
		/* fault every page in: each fault takes the lock for reading */
		for (size_t off = 0; off < REGION; off += 4096)
			p[off] = 1;
		mprotect(p, REGION, PROT_READ); /* for writing, short */
		munmap(p, REGION); /* for writing, long: it frees every page */
	}
	return NULL;
}

/* Wait for "stop" (1) or the end of stdin (0). */
static int wait_stop(void)
{
	char line[16];

	while (fgets(line, sizeof(line), stdin))
		if (!strcmp(line, "stop\n"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t t[16];
	int asked;
	long n;

	wl_handshake(&argc, argv);	/* "-w" is accepted: the handshake is always on */
	n = wl_arg(argc, argv, 1, 4);
	rounds = wl_arg(argc, argv, 2, 0);
	if (n < 1 || n > 16 || rounds < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_barrier_init(&go, NULL, n + 1);
	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	printf("ready pid=%d threads=%ld\n", getpid(), n);
	wl_wait_go();
	pthread_barrier_wait(&go);
	if (rounds) {
		for (long i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		printf("done rounds=%ld\n", rounds);
		wl_wait_eof();
		return 0;
	}
	printf("done running=1\n");
	asked = wait_stop();
	stop = 1;
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	if (asked) {
		printf("stopped\n");
		wl_wait_eof();
	}
	return 0;
}
