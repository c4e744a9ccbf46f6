/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sequences of lock operations for the conformance tests of the lock rules
 * (include/concwatch/lockrules.h): selftests/unit/test_lockrules.c feeds them to the
 * rules compiled in userspace and expects the edges written here;
 * selftests/workloads/wl_rules.c performs them on real locks, one thread per sequence,
 * and selftests/live/test_rules.c checks that the BPF programs derive from them what the
 * userspace compile does.
 *
 * Each sequence has locks of its own, initialised before it starts (a lifetime each:
 * gen 1). Kinds, one letter per lock: M mutex, R recursive mutex, W rwlock, P rwlock
 * preferring writers. Operations, separated by spaces, each a letter and a lock:
 *   L lock   T trylock (succeeds)   F trylock that fails (the thread holds it)
 *   r rdlock w wrlock  t tryrdlock  y trywrlock   U unlock   D destroy   I init
 * and "L0-33" for a range (either way). Expected edges, separated by spaces:
 * FROM>TO[/GATE], each end a lock with "r" when held or taken for reading and "@GEN"
 * when not in its first lifetime; "*" when the test computes them.
 */
#ifndef __RULES_SEQ_H
#define __RULES_SEQ_H

#include <pthread.h>
#include <stdlib.h>

#define RS_LOCKS_MAX 40

struct rs_seq {
	const char *name;
	const char *locks;
	const char *ops;
	const char *edges;
	int overflows;		/* acquisitions a full held set could not hold */
};

static const struct rs_seq rs_seqs[] = {
	{ "nesting", "MMM", "L0 L1 L2 U2 U1 U0", "0>1 0>2 1>2/0", 0 },
	{ "abba", "MM", "L0 L1 U1 U0 L1 L0 U0 U1", "0>1 1>0", 0 },
	{ "trylock", "MMM", "L0 T1 L2 F0 U2 U1 U0 T2 L1 U1 U2", "0>2 1>2/0 2>1", 0 },
	{ "recursion", "RM", "L0 L0 U0 L1 U1 U0 L1 U1", "0>1", 0 },
	{ "read", "WW", "r0 r1 U1 U0 w1 r0 U0 U1 r0 r0 U0 U0 r0 y1 U1 U0", "0r>1r 1>0r", 0 },
	{ "writer-pref", "PP", "r0 r1 U1 U0 w0 t1 U1 U0 r1 w0 U0 U1", "0r>1r 1r>0", 0 },
	{ "gate", "MMM", "L0 L1 L2 U2 U1 U0 L0 L2 L1 U1 U2 U0", "0>1 0>2 1>2/0 2>1/0", 0 },
	{ "reuse", "MM", "L0 L1 U1 U0 D1 I1 L0 L1 U1 U0 D0 I0 L1 L0 U0 U1",
	  "0>1 0>1@3 1@3>0@3", 0 },
	{ "overflow", "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM", "L0-33 U33-0", "*", 2 },
};

#define RS_NR_SEQS ((int)(sizeof(rs_seqs) / sizeof(rs_seqs[0])))

/* The locks of every sequence, in one array: a lock's address is known from the base. */
union rs_lock {
	pthread_mutex_t m;
	pthread_rwlock_t rw;
};

static inline unsigned long long rs_addr(unsigned long long base, int seq, int lock)
{
	return base + ((unsigned long long)seq * RS_LOCKS_MAX + lock) * sizeof(union rs_lock);
}

/* Walking a sequence's operations. */
struct rs_iter {
	const char *p;
	char op;
	int cur, end;
};

/* The next operation: 1 with *op and *lock set, 0 at the end. */
static inline int rs_next(struct rs_iter *it, char *op, int *lock)
{
	char *e;

	if (it->op && it->cur != it->end) {
		it->cur += it->cur < it->end ? 1 : -1;
		*op = it->op;
		*lock = it->cur;
		return 1;
	}
	while (*it->p == ' ')
		it->p++;
	if (!*it->p)
		return 0;
	it->op = *it->p++;
	it->cur = strtol(it->p, &e, 10);
	it->end = *e == '-' ? strtol(e + 1, &e, 10) : it->cur;
	it->p = e;
	*op = it->op;
	*lock = it->cur;
	return 1;
}

#endif /* __RULES_SEQ_H */
