// SPDX-License-Identifier: GPL-2.0
/*
 * Futex waits classified by the libc code they come from.
 *
 * A futex word says nothing of what it belongs to; the code that waited on it does. The
 * innermost frame of libc whose function is one of glibc's entry points (or one of its
 * internal slow paths, named when debug information is installed) says which primitive
 * waited, and the layout of that primitive says where the word lies in it:
 *
 *   pthread_mutex_t  __lock at +0 (every mutex type, PI too: the object is the word)
 *   pthread_cond_t   __g_refs[2] at +16/+20 (signal and broadcast wait for the old group's
 *                    waiters to leave), __g1_orig_size at +32 (its internal lock),
 *                    __wrefs at +36 (destroy), __g_signals[2] at +40/+44 (the waiters)
 *   pthread_rwlock_t __readers +0, __writers +4, __wrphase_futex +8, __writers_futex +12
 *   sem_t            the 64-bit value word at +0 (value in its low half, little-endian)
 *   pthread_barrier_t in +0, current_round +4
 *   pthread_join     the joined thread's tid word: the object is the word
 *
 * Every one of these objects is 8-aligned (a long in its union), so where two words of an
 * object are possible, the word's alignment within 8 bytes picks one: +40 or +44 is the
 * group of __g_signals, +8 or +12 the phase or the writers' word. A reader of an rwlock
 * waits on __wrphase_futex (+8) except in the writer-preferring mode, where it waits on
 * __readers (+0) too: both are 8-aligned, and the default mode's word is taken.
 *
 * The futex op tells apart what the names cannot. pthread_cond_wait takes its mutex back
 * through an internal function (__pthread_mutex_cond_lock, then __lll_lock_wait) that has
 * no name without debug information: the innermost named frame is pthread_cond_wait
 * itself, though the word is the mutex's. glibc 2.36 (checked) waits on __g_signals with
 * FUTEX_WAIT_BITSET and takes a mutex with FUTEX_WAIT (FUTEX_LOCK_PI for a PI one): a
 * condvar wait's frame with a FUTEX_WAIT or a PI op is its mutex. Where the op is not
 * known the frame decides alone. (glibc before the 64-bit time rework waited on
 * __g_signals with FUTEX_WAIT too: there such a wait reads as a mutex at the word.)
 *
 * Names: Debian's libc.so.6 has no .symtab, only .dynsym, and its internal functions
 * (__lll_lock_wait, __pthread_cond_wait_common, __new_sem_wait_slow64) have no name there;
 * the exported caller still does where the path is a call (pthread_mutex_lock,
 * pthread_cond_wait, pthread_rwlock_*, pthread_barrier_wait). Where the exported function
 * is a tail call (sem_wait, pthread_join, pthread_mutex_timedlock in glibc 2.36) nothing in
 * the stack names it without debug information: the wait stays a futex, named by its
 * site. With libc6-dbg, inlined frames name the internal paths and are matched too.
 * Versioned and internal spellings (___pthread_rwlock_clockrdlock64) are matched by the
 * name without leading underscores and a trailing "64".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>

#include "engine/engine.h"
#include "report/classify.h"
#include "report/symbols.h"

enum rule {
	R_NONE,
	R_MUTEX,	/* the word is the mutex */
	R_LIBC,		/* libc's own lock (lll_lock on a private word) */
	R_COND_WAIT,	/* __g_signals[g] */
	R_COND_REFS,	/* __g_refs[g], from signal/broadcast */
	R_COND_LOCK,	/* __g1_orig_size: the condvar's internal lock */
	R_COND_DESTROY,	/* __wrefs */
	R_RW,		/* __wrphase_futex, or __writers_futex */
	R_SEM,
	R_BARRIER,
	R_THREAD,
};

static const struct {
	const char *name;	/* without leading underscores and trailing "64" */
	enum rule rule;
} entries[] = {
	{ "lll_lock_wait", R_MUTEX },
	{ "lll_lock_wait_private", R_LIBC },
	{ "lll_robust_lock_wait", R_MUTEX },	/* glibc before 2.26 */
	{ "lll_timedlock_wait", R_MUTEX },
	{ "lll_robust_timedlock_wait", R_MUTEX },
	{ "pthread_mutex_lock", R_MUTEX },
	{ "pthread_mutex_lock_full", R_MUTEX },
	{ "pthread_mutex_timedlock", R_MUTEX },
	{ "pthread_mutex_clocklock", R_MUTEX },
	{ "pthread_mutex_clocklock_common", R_MUTEX },
	{ "pthread_mutex_cond_lock", R_MUTEX },	/* cond_wait taking its mutex back */
	{ "pthread_mutex_cond_lock_full", R_MUTEX },
	{ "mtx_lock", R_MUTEX },
	{ "mtx_timedlock", R_MUTEX },
	{ "pthread_cond_wait", R_COND_WAIT },
	{ "pthread_cond_timedwait", R_COND_WAIT },
	{ "pthread_cond_clockwait", R_COND_WAIT },
	{ "pthread_cond_wait_common", R_COND_WAIT },
	{ "cnd_wait", R_COND_WAIT },
	{ "cnd_timedwait", R_COND_WAIT },
	{ "condvar_quiesce_and_switch_g1", R_COND_REFS },
	{ "pthread_cond_signal", R_COND_REFS },
	{ "pthread_cond_broadcast", R_COND_REFS },
	{ "condvar_acquire_lock", R_COND_LOCK },
	{ "pthread_cond_destroy", R_COND_DESTROY },
	{ "pthread_rwlock_rdlock", R_RW },
	{ "pthread_rwlock_timedrdlock", R_RW },
	{ "pthread_rwlock_clockrdlock", R_RW },
	{ "pthread_rwlock_rdlock_full", R_RW },
	{ "pthread_rwlock_wrlock", R_RW },
	{ "pthread_rwlock_timedwrlock", R_RW },
	{ "pthread_rwlock_clockwrlock", R_RW },
	{ "pthread_rwlock_wrlock_full", R_RW },
	{ "sem_wait", R_SEM },
	{ "sem_timedwait", R_SEM },
	{ "sem_clockwait", R_SEM },
	{ "new_sem_wait_slow", R_SEM },
	{ "new_sem_wait", R_SEM },
	{ "pthread_barrier_wait", R_BARRIER },
	{ "pthread_join", R_THREAD },
	{ "pthread_timedjoin_np", R_THREAD },
	{ "pthread_clockjoin_np", R_THREAD },
	{ "pthread_clockjoin_ex", R_THREAD },
	{ "lll_timedwait_tid", R_THREAD },	/* glibc before 2.34 */
	{ "thrd_join", R_THREAD },
};

int cw_classify__is_libc(const char *module)
{
	const char *base;

	if (!module)
		return 0;
	base = strrchr(module, '/');
	base = base ? base + 1 : module;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-2.", 7) ||
	       !strncmp(base, "libpthread.so", 13) || !strncmp(base, "libpthread-2.", 13);
}

static enum rule name_rule(const char *func)
{
	size_t len;

	while (*func == '_')
		func++;
	/* a version (@@GLIBC_2.3.2), a compiler's clone (.constprop.0, .isra.0, .part.0) */
	len = strcspn(func, "@.");
	if (len > 2 && !strncmp(func + len - 2, "64", 2))
		len -= 2;
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		if (strlen(entries[i].name) == len && !strncmp(entries[i].name, func, len))
			return entries[i].rule;
	return R_NONE;
}

static enum rule frames_rule(const struct cw_frame *frames, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		const struct cw_frame *f = &frames[i];
		enum rule r;

		/*
		 * The wait's own path is libc's innermost frames: a program's own futex call
		 * (not in libc), a lock taken in a callback further out (qsort's comparator)
		 * are not libc's primitives.
		 */
		if (!cw_classify__is_libc(f->module))
			break;
		r = f->func ? name_rule(f->func) : R_NONE;
		if (r != R_NONE)
			return r;
	}
	return R_NONE;
}

/* A condvar wait's frame whose op takes a lock: the mutex, taken back (see the top). */
static enum rule refine(enum rule r, __u32 op)
{
	__u32 cmd = op & FUTEX_CMD_MASK;

	if (r != R_COND_WAIT || op == CW_FUTEX_OP_UNKNOWN)
		return r;
	if (cmd == FUTEX_WAIT || cmd == FUTEX_LOCK_PI || cmd == FUTEX_LOCK_PI2)
		return R_MUTEX;
	return r;
}

static int apply(enum rule r, __u64 uaddr, __u32 op, struct cw_futex_class *out)
{
	int odd = (uaddr & 7) == 4;	/* the second 32-bit word of an 8-byte pair */
	__u64 off = 0;

	switch (refine(r, op)) {
	case R_NONE:
		return -ENOENT;
	case R_MUTEX:
		out->kind = CW_LOCK_MUTEX;
		break;
	case R_LIBC:
		out->kind = CW_LOCK_LIBC;
		break;
	case R_COND_WAIT:
		out->kind = CW_LOCK_COND;
		off = odd ? 44 : 40;
		break;
	case R_COND_REFS:
		out->kind = CW_LOCK_COND;
		off = odd ? 20 : 16;
		break;
	case R_COND_LOCK:
		out->kind = CW_LOCK_COND;
		off = 32;
		break;
	case R_COND_DESTROY:
		out->kind = CW_LOCK_COND;
		off = 36;
		break;
	case R_RW:
		out->kind = CW_LOCK_RWLOCK;
		off = odd ? 12 : 8;
		break;
	case R_SEM:
		out->kind = CW_LOCK_SEM;
		break;
	case R_BARRIER:
		out->kind = CW_LOCK_BARRIER;
		off = odd ? 4 : 0;
		break;
	case R_THREAD:
		out->kind = CW_LOCK_THREAD;
		break;
	}
	/* a word below its offset cannot be inside such an object */
	if (uaddr < off)
		return -ENOENT;
	out->object = uaddr - off;
	return 0;
}

int cw_classify__frames(const struct cw_frame *frames, size_t nr, __u64 uaddr, __u32 op,
			struct cw_futex_class *out)
{
	return apply(frames_rule(frames, nr), uaddr, op, out);
}

/* What one (pid, stack) was found to be: resolving a stack costs, classifying it not. */
struct cached {
	__u32 pid;
	__u64 stack_id;		/* 0: a free slot (stack id 0 is never looked up) */
	enum rule rule;
};

/* An open-addressing table of them: a busy server has thousands of call paths. */
struct cw_classifier {
	struct cw_symbols *sym;
	struct cached *slots;
	size_t nr, cap;		/* cap: a power of two, or 0 */
};

int cw_classifier__new(struct cw_symbols *sym, struct cw_classifier **out)
{
	struct cw_classifier *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->sym = sym;
	*out = c;
	return 0;
}

void cw_classifier__free(struct cw_classifier *c)
{
	if (!c)
		return;
	free(c->slots);
	free(c);
}

static size_t slot_of(const struct cw_classifier *c, __u32 pid, __u64 stack_id)
{
	__u64 h = (stack_id ^ ((__u64)pid << 32)) * 0x9e3779b97f4a7c15ULL;
	size_t i = (size_t)(h >> 32) & (c->cap - 1);

	while (c->slots[i].stack_id &&
	       !(c->slots[i].pid == pid && c->slots[i].stack_id == stack_id))
		i = (i + 1) & (c->cap - 1);
	return i;
}

/* Remember rule for (pid, stack_id); without memory it is only resolved again. */
static void remember(struct cw_classifier *c, __u32 pid, __u64 stack_id, enum rule r)
{
	struct cached *old = c->slots, *v;
	size_t old_cap = c->cap;

	if ((c->nr + 1) * 2 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;

		v = calloc(cap, sizeof(*v));
		if (!v)
			return;
		c->slots = v;
		c->cap = cap;
		c->nr = 0;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].stack_id) {
				c->slots[slot_of(c, old[i].pid, old[i].stack_id)] = old[i];
				c->nr++;
			}
		free(old);
	}
	c->slots[slot_of(c, pid, stack_id)] =
		(struct cached){ .pid = pid, .stack_id = stack_id, .rule = r };
	c->nr++;
}

int cw_classifier__classify(void *ctx, __u32 pid, __u64 uaddr, __u64 stack_id, __u32 op,
			    struct cw_futex_class *out)
{
	struct cw_classifier *c = ctx;
	const struct cw_stack *st;
	struct cw_ustack s;
	enum rule r = R_NONE;

	if (!stack_id)
		return -ENOENT;
	if (c->cap) {
		const struct cached *k = &c->slots[slot_of(c, pid, stack_id)];

		if (k->stack_id)
			return apply(k->rule, uaddr, op, out);
	}
	st = cw_engine__find_stack(cw_symbols__engine(c->sym), pid, CW_STACK_USER, stack_id);
	if (!st)
		return -ENOENT;	/* not received (yet): asked again next time */
	if (!cw_symbols__resolve(c->sym, st, &s))
		r = frames_rule(s.frames, s.nr);
	cw_ustack__fini(&s);
	remember(c, pid, stack_id, r);
	return apply(r, uaddr, op, out);
}
