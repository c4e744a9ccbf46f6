// SPDX-License-Identifier: GPL-2.0
/*
 * Loads libwl_plugin.so (next to itself) only after "go", then calls plugin_work(),
 * which takes the plugin's own mutex: a stack in code mapped after attach. With
 * "close" (argv[1]) it unloads the plugin again before "done": the code is gone from
 * the process's maps before any tracer could read them after the fact.
 *
 * Handshake (wl.h): "ready pid=" / go / "done lock= line= call=" / stdin EOF.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>

#include "wl.h"

#define barrier() asm volatile("" ::: "memory")

int main(int argc, char **argv)
{
	char path[PATH_MAX], *slash;
	void (*work)(void);
	int *line, call_line, plugin_line;
	void *h, *lock;
	ssize_t n;

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
	call_line = __LINE__ + 1;
	work();
	barrier();
	plugin_line = *line;
	if (argc > 1 && !strcmp(argv[1], "close") && dlclose(h))
		return 1;
	printf("done lock=%p line=%d call=%d\n", lock, plugin_line, call_line);
	wl_wait_eof();
	return 0;
}
