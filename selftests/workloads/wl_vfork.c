// SPDX-License-Identifier: GPL-2.0
/*
 * Starts a program the way posix_spawn does, through vfork: the child runs in the
 * parent's memory, on the parent's stack and thread, until it execs. Takes a lock of its
 * own before and after, so that the parent's lock calls are traced around it.
 *
 *   wl_vfork PROGRAM [ARGS...]
 * Exits with the program's status.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t parent_lock = PTHREAD_MUTEX_INITIALIZER;

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	if (argc < 2)
		return 2;
	pthread_mutex_lock(&parent_lock);
	pthread_mutex_unlock(&parent_lock);
	pid = vfork();
	if (pid < 0)
		return 1;
	if (!pid) {
		execv(argv[1], argv + 1);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	pthread_mutex_lock(&parent_lock);
	pthread_mutex_unlock(&parent_lock);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
