// SPDX-License-Identifier: GPL-2.0
/*
 * Loads libwl_plugin.so (next to itself) only after "go", then calls plugin_work(),
 * which takes the plugin's own mutex: a stack in code mapped after attach. With
 * "close" it unloads the plugin again before "done": the code is gone from the process's
 * maps before any tracer could read them after the fact. With "contend" a thread
 * "wl-holder" holds the plugin's mutex when main calls plugin_work(), until main is
 * asleep on it: the acquire in the plugin is a contended wait, as a report shows them.
 * With both, the plugin is unloaded before wl-holder ends: a tracer that looks at the
 * maps when a thread exits does not see the plugin either.
 *
 *   wl_dlopen [close] [contend]
 * Handshake (wl.h): "ready pid=" / go / "done lock= line= call=" / stdin EOF.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>

#include "wl.h"

#define barrier() asm volatile("" ::: "memory")

struct holder {
	pthread_mutex_t *lock;
	pid_t waiter;			/* main's tid */
	pthread_barrier_t held;
	pthread_barrier_t end;		/* main is done with the plugin */
};

/* Hold the plugin's mutex until main sleeps on it. */
static void *hold_plugin_lock(void *arg)
{
	struct holder *h = arg;

	wl_thread_init("wl-holder");
	pthread_mutex_lock(h->lock);
	pthread_barrier_wait(&h->held);
	if (wl_wait_asleep_on(h->waiter, h->lock))
		fprintf(stderr, "wl_dlopen: main never slept on the plugin's mutex\n");
	pthread_mutex_unlock(h->lock);
	pthread_barrier_wait(&h->end);
	return NULL;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], *slash;
	int *line, call_line, plugin_line, unload = 0, contend = 0;
	struct holder holder;
	void (*work)(void);
	pthread_t thread;
	void *h, *lock;
	ssize_t n;

	for (int i = 1; i < argc; i++) {
		unload |= !strcmp(argv[i], "close");
		contend |= !strcmp(argv[i], "contend");
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n < 0)
		return 1;
	path[n] = '\0';
	slash = strrchr(path, '/');
	strcpy(slash + 1, "libwl_plugin.so");
	printf("ready pid=%d\n", getpid());
	wl_wait_go();
	h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "wl_dlopen: %s\n", dlerror());
		return 1;
	}
	work = (void (*)(void))dlsym(h, "plugin_work");
	lock = dlsym(h, "plugin_lock");
	line = dlsym(h, "plugin_line");
	if (!work || !lock || !line)
		return 1;
	if (contend) {
		holder.lock = lock;
		holder.waiter = syscall(SYS_gettid);
		pthread_barrier_init(&holder.held, NULL, 2);
		pthread_barrier_init(&holder.end, NULL, 2);
		if (pthread_create(&thread, NULL, hold_plugin_lock, &holder))
			return 1;
		pthread_barrier_wait(&holder.held);
	}
	call_line = __LINE__ + 1;
	work();
	barrier();
	plugin_line = *line;
	if (unload && dlclose(h))
		return 1;
	if (contend) {
		pthread_barrier_wait(&holder.end);
		if (pthread_join(thread, NULL))
			return 1;
	}
	printf("done lock=%p line=%d call=%d\n", lock, plugin_line, call_line);
	wl_wait_eof();
	return 0;
}
