// SPDX-License-Identifier: GPL-2.0
/* A plugin wl_dlopen loads after the tracer attached: its code is not in the first module map. */
#include <pthread.h>

#define barrier() asm volatile("" ::: "memory")

pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;
int plugin_line;
static volatile long work;

__attribute__((noinline)) void plugin_work(void)
{
	plugin_line = __LINE__ + 1;
	pthread_mutex_lock(&plugin_lock);
	work++;
	pthread_mutex_unlock(&plugin_lock);
	barrier();
}
