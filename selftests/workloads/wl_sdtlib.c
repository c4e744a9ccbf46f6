// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for a glibc built with --enable-systemtap, as Fedora's is: Debian's glibc
 * carries no SDT notes for its locks, so concwatch's SDT path is tested with this.
 * Built as sdt/libpthread.so.0 (the older glibc's library of these functions, which
 * concwatch looks at before libc), it defines pthread_mutex_lock and
 * pthread_mutex_unlock with the notes glibc puts in them, provider libc, names
 * mutex_entry, mutex_acquired and mutex_release, the mutex as their argument. The lock
 * itself is a plain spin on the mutex's first word: nothing here calls glibc's
 * functions, so only the notes can see these operations.
 *
 * wl_sdt (wl_abba.c linked with it, RUNPATH $ORIGIN/sdt) takes its locks through it.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/sdt.h>

int pthread_mutex_lock(pthread_mutex_t *m)
{
	int *word = (int *)m;

	STAP_PROBE1(libc, mutex_entry, m);
	while (__atomic_exchange_n(word, 1, __ATOMIC_ACQUIRE))
		sched_yield();
	STAP_PROBE1(libc, mutex_acquired, m);
	return 0;
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
	STAP_PROBE1(libc, mutex_release, m);
	__atomic_store_n((int *)m, 0, __ATOMIC_RELEASE);
	return 0;
}
