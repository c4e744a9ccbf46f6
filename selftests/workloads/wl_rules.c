// SPDX-License-Identifier: GPL-2.0
/*
 * The sequences of selftests/lib/rules_seq.h on real locks: one thread per sequence
 * ("wl-rs-N"), one sequence after the other, each initialising its own locks first
 * (the table's kinds: normal and recursive mutexes, rwlocks preferring readers or
 * writers). Every operation must do what the table says (a trylock marked to fail
 * returns EBUSY), or the workload exits 1.
 *
 *   wl_rules [-w]
 *   ready pid=P base=0x.. (the locks: rs_addr())
 *   done seqs=N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "wl.h"
#include "../lib/rules_seq.h"

static union rs_lock locks[RS_NR_SEQS][RS_LOCKS_MAX];

static void check(int ok, int seq, char op, int lock)
{
	if (ok)
		return;
	fprintf(stderr, "wl_rules: %s: %c%d failed\n", rs_seqs[seq].name, op, lock);
	exit(1);
}

static void init_lock(int seq, int i)
{
	char k = rs_seqs[seq].locks[i];
	union rs_lock *l = &locks[seq][i];

	if (k == 'M' || k == 'R') {
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, k == 'R' ? PTHREAD_MUTEX_RECURSIVE :
					  PTHREAD_MUTEX_NORMAL);
		check(!pthread_mutex_init(&l->m, &a), seq, 'I', i);
		pthread_mutexattr_destroy(&a);
	} else {
		pthread_rwlockattr_t a;

		pthread_rwlockattr_init(&a);
		if (k == 'P')
			pthread_rwlockattr_setkind_np(&a,
				PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		check(!pthread_rwlock_init(&l->rw, &a), seq, 'I', i);
		pthread_rwlockattr_destroy(&a);
	}
}

static void op_on(int seq, char op, int i)
{
	int mutex = rs_seqs[seq].locks[i] == 'M' || rs_seqs[seq].locks[i] == 'R';
	union rs_lock *l = &locks[seq][i];

	switch (op) {
	case 'L': check(!pthread_mutex_lock(&l->m), seq, op, i); break;
	case 'T': check(!pthread_mutex_trylock(&l->m), seq, op, i); break;
	case 'F': check(pthread_mutex_trylock(&l->m) == EBUSY, seq, op, i); break;
	case 'r': check(!pthread_rwlock_rdlock(&l->rw), seq, op, i); break;
	case 'w': check(!pthread_rwlock_wrlock(&l->rw), seq, op, i); break;
	case 't': check(!pthread_rwlock_tryrdlock(&l->rw), seq, op, i); break;
	case 'y': check(!pthread_rwlock_trywrlock(&l->rw), seq, op, i); break;
	case 'U':
		check(!(mutex ? pthread_mutex_unlock(&l->m) : pthread_rwlock_unlock(&l->rw)),
		      seq, op, i);
		break;
	case 'D':
		check(!(mutex ? pthread_mutex_destroy(&l->m) : pthread_rwlock_destroy(&l->rw)),
		      seq, op, i);
		break;
	case 'I': init_lock(seq, i); break;
	default: check(0, seq, op, i);
	}
}

static void *run_seq(void *arg)
{
	int seq = (long)arg, lock;
	struct rs_iter it = { .p = rs_seqs[seq].ops };
	char name[16], op;

	snprintf(name, sizeof(name), "wl-rs-%d", seq);
	wl_thread_init(name);
	for (int i = 0; rs_seqs[seq].locks[i]; i++)
		init_lock(seq, i);
	while (rs_next(&it, &op, &lock))
		op_on(seq, op, lock);
	return NULL;
}

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	wl_ready("base=%p", (void *)locks);
	for (long seq = 0; seq < RS_NR_SEQS; seq++) {
		pthread_t t;

		if (pthread_create(&t, NULL, run_seq, (void *)seq))
			return 1;
		pthread_join(t, NULL);
	}
	wl_done("seqs=%d", RS_NR_SEQS);
	return 0;
}
