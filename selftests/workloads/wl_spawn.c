// SPDX-License-Identifier: GPL-2.0
/*
 * Start a program with posix_spawn() (glibc execs it from a clone of its own, through no
 * exec function a preloaded library could wrap), wait for it, and exit with its status.
 *
 *   wl_spawn PROGRAM [ARGS...]
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: wl_spawn PROGRAM [ARGS...]\n");
		return 2;
	}
	if (posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ)) {
		perror("posix_spawn");
		return 127;
	}
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
