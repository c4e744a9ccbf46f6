// SPDX-License-Identifier: GPL-2.0
/*
 * Threads blocked on what nobody holds, and on rwlocks, with no deadlock among them: what
 * `concwatch deadlock -p` must say each one waits on.
 *
 *   wk-pool  x3   idle in pthread_cond_wait(&work_cond) at one call site, as a server's
 *                 worker pool waits for work: the same wait, the same frames;
 *   wk-reader     holds table_lock for reading, then waits on release_sem;
 *   wk-writer     waits in pthread_rwlock_wrlock(&table_lock) behind that reader;
 *   wk-owner      holds conf_lock for writing, then waits on release_sem;
 *   wk-rd         waits in pthread_rwlock_rdlock(&conf_lock) behind that writer.
 *
 * "ready" comes once each thread is about to block (a barrier); the test waits until /proc
 * shows each asleep in its futex wait:
 *
 *   ready pid=P pool_1=T pool_2=T pool_3=T reader=T writer=T owner=T rd=T
 *         work_cond=0x.. table_lock=0x.. conf_lock=0x.. release_sem=0x..
 *         line_pool=N line_wrlock=N line_rdlock=N
 *
 * The process exits when stdin closes (or on SIGTERM): the blocked threads never return.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>

#include "wl.h"

#define NR_POOL 3

pthread_cond_t work_cond = PTHREAD_COND_INITIALIZER;
pthread_mutex_t work_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
pthread_rwlock_t conf_lock = PTHREAD_RWLOCK_INITIALIZER;
sem_t release_sem;
static pthread_barrier_t about_to_block;
static volatile int work;
static pid_t pool[NR_POOL], reader, writer, owner, rd;
static int line_pool, line_wrlock, line_rdlock;

/* Each sets its line before the barrier: "ready" is printed as soon as all passed it. */
WL_FRAME static void wait_for_work(void)
{
	line_pool = __LINE__ + 4;
	pthread_barrier_wait(&about_to_block);
	pthread_mutex_lock(&work_mutex);
	while (!work)
		pthread_cond_wait(&work_cond, &work_mutex);
	pthread_mutex_unlock(&work_mutex);
}

WL_FRAME static void *pool_thread(void *arg)
{
	long i = (long)arg;

	pool[i] = wl_thread_init("wk-pool");
	wait_for_work();
	return NULL;
}

WL_FRAME static void *reader_thread(void *arg)
{
	reader = wl_thread_init("wk-reader");
	pthread_rwlock_rdlock(&table_lock);
	pthread_barrier_wait(&about_to_block);
	sem_wait(&release_sem);
	pthread_rwlock_unlock(&table_lock);
	return NULL;
}

WL_FRAME static void take_table(void)
{
	line_wrlock = __LINE__ + 2;
	pthread_barrier_wait(&about_to_block);
	pthread_rwlock_wrlock(&table_lock);
	pthread_rwlock_unlock(&table_lock);
}

WL_FRAME static void *writer_thread(void *arg)
{
	writer = wl_thread_init("wk-writer");
	take_table();
	return NULL;
}

WL_FRAME static void *owner_thread(void *arg)
{
	owner = wl_thread_init("wk-owner");
	pthread_rwlock_wrlock(&conf_lock);
	pthread_barrier_wait(&about_to_block);
	sem_wait(&release_sem);
	pthread_rwlock_unlock(&conf_lock);
	return NULL;
}

WL_FRAME static void read_conf(void)
{
	line_rdlock = __LINE__ + 2;
	pthread_barrier_wait(&about_to_block);
	pthread_rwlock_rdlock(&conf_lock);
	pthread_rwlock_unlock(&conf_lock);
}

WL_FRAME static void *rd_thread(void *arg)
{
	rd = wl_thread_init("wk-rd");
	read_conf();
	return NULL;
}

int main(void)
{
	void *(*fns[])(void *) = { reader_thread, writer_thread, owner_thread, rd_thread };
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sem_init(&release_sem, 0, 0);
	/* every thread passes it holding what it holds: reader and owner take theirs before */
	pthread_barrier_init(&about_to_block, NULL, NR_POOL + 4 + 1);
	for (long i = 0; i < NR_POOL; i++)
		if (pthread_create(&t, NULL, pool_thread, (void *)i))
			return 1;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (pthread_create(&t, NULL, fns[i], NULL))
			return 1;
	pthread_barrier_wait(&about_to_block);
	printf("ready pid=%d pool_1=%d pool_2=%d pool_3=%d reader=%d writer=%d owner=%d rd=%d "
	       "work_cond=%p table_lock=%p conf_lock=%p release_sem=%p line_pool=%d "
	       "line_wrlock=%d line_rdlock=%d\n", getpid(), pool[0], pool[1], pool[2], reader,
	       writer, owner, rd, (void *)&work_cond, (void *)&table_lock, (void *)&conf_lock,
	       (void *)&release_sem, line_pool, line_wrlock, line_rdlock);
	wl_wait_eof();
	/* the waiters never return: leave without joining */
	_exit(0);
}
