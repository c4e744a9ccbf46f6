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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#endif /* __WL_H */
