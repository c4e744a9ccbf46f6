/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handshake every workload follows, so tests order themselves by the workload's own
 * word and never by sleeping:
 *   workload -> stdout: "ready <key>=<value> ...\n"  (all its threads exist)
 *   test     -> stdin:  "go\n"                      (the tracer is attached)
 *   workload -> stdout: "done <key>=<value> ...\n"   (the known work is finished)
 *   test     -> closes stdin                        (workload exits 0)
 */
#ifndef __WL_H
#define __WL_H

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Functions a test expects by name in a stack: kept out of line and uncloned at -O2. */
#define WL_FRAME __attribute__((noipa))

static inline void wl_wait_go(void)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n")) {
		fprintf(stderr, "workload: expected 'go' on stdin\n");
		exit(1);
	}
}

/* Block until the test closes our stdin: the test inspects us while we still exist. */
static inline void wl_wait_eof(void)
{
	char line[16];

	while (fgets(line, sizeof(line), stdin))
		;
}

static inline long wl_arg(int argc, char **argv, int i, long dflt)
{
	return argc > i ? strtol(argv[i], NULL, 0) : dflt;
}

/*
 * The workloads of the lock-order tests run two ways. With "-w" anywhere in argv they
 * follow the handshake above; without it they do their work at once and exit 0, for
 * `concwatch run -- ./wl_x`, which traces from the first instruction.
 */
static inline int *wl_handshake_mode(void)
{
	static int on;

	return &on;
}

/*
 * Note whether "-w" was given and take it out of argv, so the other arguments keep their
 * positions for wl_arg() whichever order they came in. 1 when "-w" was given.
 */
static inline int wl_handshake(int *argc, char **argv)
{
	int n = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "-w"))
			*wl_handshake_mode() = 1;
		else
			argv[n++] = argv[i];
	}
	*argc = n;
	argv[n] = NULL;
	return *wl_handshake_mode();
}

/* Print head and fmt as one line, which line-buffered stdout writes at once. */
__attribute__((format(printf, 2, 0))) static inline void wl_vline(const char *head,
								   const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	printf("%s%s\n", head, line);
}

/* In handshake mode only: print "ready pid=<pid> " and fmt, then wait for "go". */
__attribute__((format(printf, 1, 2))) static inline void wl_ready(const char *fmt, ...)
{
	char head[32];
	va_list ap;

	if (!*wl_handshake_mode())
		return;
	snprintf(head, sizeof(head), "ready pid=%d ", getpid());
	va_start(ap, fmt);
	wl_vline(head, fmt, ap);
	va_end(ap);
	wl_wait_go();
}

/* In handshake mode only: print "done " and fmt, then wait until stdin closes. */
__attribute__((format(printf, 1, 2))) static inline void wl_done(const char *fmt, ...)
{
	va_list ap;

	if (!*wl_handshake_mode())
		return;
	va_start(ap, fmt);
	wl_vline("done ", fmt, ap);
	va_end(ap);
	wl_wait_eof();
}

/* Name the calling thread, as tests will see it in comm, and return its tid. */
static inline pid_t wl_thread_init(const char *name)
{
	pthread_setname_np(pthread_self(), name);
	return syscall(SYS_gettid);
}

/* The first line of /proc/self/task/TID/what in buf (NUL-terminated), or 0 when unread. */
static inline int wl_task_file(pid_t tid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return 1;
}

/*
 * Wait until thread tid of this process is asleep in futex() on word, as its syscall
 * file ("202 0xWORD ..." on x86-64) and its state (S) say: the lock it takes there is
 * really contended once this returns 0. Without stdio, whose locks would be traced too.
 * -1 after about 10 s without, so that the workload still ends.
 */
static inline int wl_wait_asleep_on(pid_t tid, const void *word)
{
	const struct timespec ms = { 0, 1000000 };
	char buf[256], *p;

	for (int i = 0; i < 10000; i++, nanosleep(&ms, NULL)) {
		if (!wl_task_file(tid, "syscall", buf, sizeof(buf)) ||
		    strtol(buf, &p, 10) != SYS_futex || strtoull(p, NULL, 16) != (uintptr_t)word)
			continue;
		if (wl_task_file(tid, "stat", buf, sizeof(buf)) && (p = strrchr(buf, ')')) &&
		    p[1] == ' ' && p[2] == 'S')
			return 0;
	}
	return -1;
}

#define WL_ARRAY_SIZE(a) ((int)(sizeof(a) / sizeof((a)[0])))

/*
 * Workers taking turns, so that orders which could deadlock if they overlapped never do.
 * wl_turns_start() starts a thread for each entry of a table, named as the entry says;
 * the threads wait until wl_turns_go_and_join() (after wl_ready(): after "go" with -w),
 * then go through the rounds. Every round has a turn for each turn number of the table,
 * from 0 up, and a barrier after every turn, which all workers pass. A worker does its
 * work in its own turn (workers with the same turn work at once), then waits out the
 * others' turns.
 *
 *	static struct wl_worker workers[] = {
 *		{ .name = "wl-t1", .work = t1_take_a_then_b, .turn = 0 },
 *		{ .name = "wl-t2", .work = t2_take_b_then_a, .turn = 1 },
 *	};
 *	static struct wl_turns turns;
 *
 *	if (wl_turns_start(&turns, workers, WL_ARRAY_SIZE(workers), 1))
 *		return 1;
 *	wl_ready("tid1=%d tid2=%d", workers[0].tid, workers[1].tid);
 *	wl_turns_go_and_join(&turns);
 *	wl_done(...);
 *
 * The work functions are called from wl_turns_worker(), the threads' start routine. A
 * work function whose last act is a call into libc may compile to a tail call: a probe
 * there then sees wl_turns_worker (wl.h) as its caller, not the work function.
 */
struct wl_turns;

struct wl_worker {
	const char *name;		/* the thread's name, as tests see it in comm */
	void (*work)(void);		/* what it does in its turn, */
	void (*work_self)(int self);	/* or this, given its index in the table */
	int turn;			/* its turn in every round, from 0 */
	pid_t tid;			/* set when wl_turns_start() returns */
	pthread_t thread;
	struct wl_turns *turns;
};

/* Filled in by wl_turns_start(). */
struct wl_turns {
	struct wl_worker *workers;
	int nr;				/* workers */
	int nr_turns;			/* turns a round: the highest turn of a worker, + 1 */
	long rounds;
	pthread_barrier_t start;	/* passed twice: all tids known, then go */
	pthread_barrier_t turn;		/* after every turn */
};

static inline void *wl_turns_worker(void *arg)
{
	struct wl_worker *w = (struct wl_worker *)arg;
	struct wl_turns *t = w->turns;

	w->tid = wl_thread_init(w->name);
	pthread_barrier_wait(&t->start);	/* all tids known */
	pthread_barrier_wait(&t->start);	/* go */
	for (long r = 0; r < t->rounds; r++) {
		for (int i = 0; i < t->nr_turns; i++) {
			if (w->turn == i) {
				if (w->work_self)
					w->work_self(w - t->workers);
				else
					w->work();
			}
			pthread_barrier_wait(&t->turn);
		}
	}
	return NULL;
}

/*
 * Start a thread for each of the nr workers, to go through rounds rounds of turns, and
 * return once all are named and their tids known: 0, or -errno when a thread could not
 * be created.
 */
static inline int wl_turns_start(struct wl_turns *t, struct wl_worker *workers, int nr,
				 long rounds)
{
	t->workers = workers;
	t->nr = nr;
	t->nr_turns = 0;
	t->rounds = rounds;
	for (int i = 0; i < nr; i++) {
		workers[i].turns = t;
		if (workers[i].turn >= t->nr_turns)
			t->nr_turns = workers[i].turn + 1;
	}
	pthread_barrier_init(&t->start, NULL, nr + 1);
	pthread_barrier_init(&t->turn, NULL, nr);
	for (int i = 0; i < nr; i++) {
		int err = pthread_create(&workers[i].thread, NULL, wl_turns_worker, &workers[i]);

		if (err)
			return -err;
	}
	pthread_barrier_wait(&t->start);
	return 0;
}

/* Let the workers take their turns, and wait until all threads have ended. */
static inline void wl_turns_go_and_join(struct wl_turns *t)
{
	pthread_barrier_wait(&t->start);
	for (int i = 0; i < t->nr; i++)
		pthread_join(t->workers[i].thread, NULL);
}

#endif /* __WL_H */
