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

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

/* In handshake mode only: print "ready pid=<pid> " and fmt, then wait for "go". */
__attribute__((format(printf, 1, 2))) static inline void wl_ready(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!*wl_handshake_mode())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("ready pid=%d %s\n", getpid(), line);
	wl_wait_go();
}

/* In handshake mode only: print "done " and fmt, then wait until stdin closes. */
__attribute__((format(printf, 1, 2))) static inline void wl_done(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!*wl_handshake_mode())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("done %s\n", line);
	wl_wait_eof();
}

/* Name the calling thread, as tests will see it in comm, and return its tid. */
static inline pid_t wl_thread_init(const char *name)
{
	pthread_setname_np(pthread_self(), name);
	return syscall(SYS_gettid);
}

#endif /* __WL_H */
