// SPDX-License-Identifier: GPL-2.0
/*
 * A pre-fork server in miniature: the parent forks CHILDREN (argv[1], default 3)
 * processes, then it and every child take the same global mutex, wl_lock, exactly
 * COUNT (argv[2], default 5000) times from the same function, take_lock(). After fork
 * the lock has the same address in every process and the same call path: only the
 * process tells the statistics apart.
 *
 * The processes meet at barriers in shared memory, never by sleeping: all exist before
 * "ready"; all start after "go"; all have finished before "done". The children stay
 * until the parent ends (the test reads their statistics while they exist).
 *
 * With "raw" (argv[3]) the children are made by a clone system call of the program's
 * own, as fork() makes them but without running the pthread_atfork handlers.
 *
 * Handshake (wl.h): "ready pid= child0= child1= ... lock=" / go /
 * "done counter=" (the parent's count) / stdin EOF.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "wl.h"

#define MAX_CHILDREN 16

pthread_mutex_t wl_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;

struct shared {
	pthread_barrier_t forked;	/* every process exists */
	pthread_barrier_t go;		/* the tracer is attached */
	pthread_barrier_t done;		/* every process took the lock COUNT times */
};

static WL_FRAME void take_lock(long count)
{
	for (long i = 0; i < count; i++) {
		pthread_mutex_lock(&wl_lock);
		counter++;
		pthread_mutex_unlock(&wl_lock);
	}
}

int main(int argc, char **argv)
{
	long nr = wl_arg(argc, argv, 1, 3), count = wl_arg(argc, argv, 2, 5000);
	int raw = argc > 3 && !strcmp(argv[3], "raw");
	pid_t children[MAX_CHILDREN];
	pthread_barrierattr_t attr;
	char line[400];
	struct shared *sh;
	int len, alive[2];

	if (nr < 1 || nr > MAX_CHILDREN || count < 1)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(alive))
		return 1;
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->forked, &attr, nr + 1);
	pthread_barrier_init(&sh->go, &attr, nr + 1);
	pthread_barrier_init(&sh->done, &attr, nr + 1);
	for (long i = 0; i < nr; i++) {
		/* raw: a copy of this process, its stack included, and no fork handler */
		children[i] = raw ? syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL) : fork();
		if (children[i] < 0)
			return 1;
		if (!children[i]) {
			char c;

			close(alive[1]);
			pthread_barrier_wait(&sh->forked);
			pthread_barrier_wait(&sh->go);
			take_lock(count);
			pthread_barrier_wait(&sh->done);
			/* until the parent is gone: read() ends when its end of the pipe closes */
			while (read(alive[0], &c, 1) > 0)
				;
			_exit(counter == count ? 0 : 1);
		}
	}
	close(alive[0]);
	pthread_barrier_wait(&sh->forked);
	len = snprintf(line, sizeof(line), "ready pid=%d lock=%p", getpid(), (void *)&wl_lock);
	for (long i = 0; i < nr; i++)
		len += snprintf(line + len, sizeof(line) - len, " child%ld=%d", i, children[i]);
	puts(line);
	wl_wait_go();
	pthread_barrier_wait(&sh->go);
	take_lock(count);
	pthread_barrier_wait(&sh->done);
	printf("done counter=%ld\n", counter);
	wl_wait_eof();
	close(alive[1]);
	for (long i = 0; i < nr; i++) {
		int status;

		if (waitpid(children[i], &status, 0) != children[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			return 1;
	}
	return 0;
}
