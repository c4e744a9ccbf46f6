// SPDX-License-Identifier: GPL-2.0
/*
 * include/concwatch/glibc.h against the glibc it runs on: the offsets of the words the
 * BPF programs and the kernel module read are glibc's own fields, and the attributes
 * decoded from locks made with each attribute are those attributes; the holder's word
 * names the thread that holds the lock.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <concwatch/glibc.h>

#include "kselftest_harness.h"

static __u32 word_at(const void *lock, int off)
{
	__u32 w;

	memcpy(&w, (const char *)lock + off, sizeof(w));
	return w;
}

TEST(offsets_are_glibcs)
{
	EXPECT_EQ(offsetof(pthread_mutex_t, __data.__owner), CW_GLIBC_MUTEX_OWNER_OFF);
	EXPECT_EQ(offsetof(pthread_mutex_t, __data.__kind), CW_GLIBC_MUTEX_KIND_OFF);
	EXPECT_EQ(offsetof(pthread_rwlock_t, __data.__cur_writer),
		  CW_GLIBC_RWLOCK_CUR_WRITER_OFF);
	EXPECT_EQ(offsetof(pthread_rwlock_t, __data.__flags), CW_GLIBC_RWLOCK_FLAGS_OFF);
}

/* A mutex made with type, robustness, protocol and sharing: the attributes decoded. */
static __u16 mutex_attr(int type, int robust, int protocol, int pshared)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;
	__u16 attr;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	pthread_mutexattr_setrobust(&a, robust);
	pthread_mutexattr_setprotocol(&a, protocol);
	pthread_mutexattr_setpshared(&a, pshared);
	if (pthread_mutex_init(&m, &a))
		return 0xffff;
	attr = cw_glibc_mutex_attr(word_at(&m, CW_GLIBC_MUTEX_KIND_OFF));
	pthread_mutex_destroy(&m);
	pthread_mutexattr_destroy(&a);
	return attr;
}

TEST(mutex_attributes)
{
	const int N = PTHREAD_MUTEX_NORMAL, S = PTHREAD_MUTEX_STALLED,
		  P = PTHREAD_PROCESS_PRIVATE, NONE = PTHREAD_PRIO_NONE;

	EXPECT_EQ(CW_ATTR_KNOWN, mutex_attr(N, S, NONE, P));
	EXPECT_EQ(CW_ATTR_KNOWN | CW_ATTR_RECURSIVE,
		  mutex_attr(PTHREAD_MUTEX_RECURSIVE, S, NONE, P));
	EXPECT_EQ(CW_ATTR_KNOWN | CW_ATTR_ERRORCHECK,
		  mutex_attr(PTHREAD_MUTEX_ERRORCHECK, S, NONE, P));
	/* glibc marks a robust mutex shared too: its futex is never a private one */
	EXPECT_EQ(CW_ATTR_KNOWN | CW_ATTR_ROBUST | CW_ATTR_PSHARED,
		  mutex_attr(N, PTHREAD_MUTEX_ROBUST, NONE, P));
	EXPECT_EQ(CW_ATTR_KNOWN | CW_ATTR_PI, mutex_attr(N, S, PTHREAD_PRIO_INHERIT, P));
	EXPECT_EQ(CW_ATTR_KNOWN | CW_ATTR_PROTECT, mutex_attr(N, S, PTHREAD_PRIO_PROTECT, P));
	EXPECT_EQ(CW_ATTR_KNOWN | CW_ATTR_PSHARED, mutex_attr(N, S, NONE, PTHREAD_PROCESS_SHARED));
	EXPECT_EQ(CW_ATTR_KNOWN | CW_ATTR_RECURSIVE | CW_ATTR_ROBUST | CW_ATTR_PSHARED | CW_ATTR_PI,
		  mutex_attr(PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_INHERIT,
			     P));
}

TEST(rwlock_attributes)
{
	static const int kinds[] = { PTHREAD_RWLOCK_PREFER_READER_NP,
				     PTHREAD_RWLOCK_PREFER_WRITER_NP,
				     PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		pthread_rwlockattr_t a;
		pthread_rwlock_t rw;

		pthread_rwlockattr_init(&a);
		ASSERT_EQ(0, pthread_rwlockattr_setkind_np(&a, kinds[i]));
		ASSERT_EQ(0, pthread_rwlock_init(&rw, &a));
		/* only the non-recursive writer preference makes readers wait for writers */
		EXPECT_EQ(CW_ATTR_KNOWN | (kinds[i] == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP ?
					   CW_ATTR_WRITER_PREF : 0),
			  cw_glibc_rwlock_attr(word_at(&rw, CW_GLIBC_RWLOCK_FLAGS_OFF)));
		pthread_rwlock_destroy(&rw);
		pthread_rwlockattr_destroy(&a);
	}
}

/* The word glibc.h names holds the tid of the holder, for every kind that has one. */
TEST(owner_word_names_the_holder)
{
	pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER, pi;
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	pthread_mutexattr_t a;
	__u32 mask;
	int off;

	ASSERT_EQ(0, pthread_mutex_lock(&plain));
	off = cw_glibc_owner_word(CW_LOCK_MUTEX, CW_ATTR_KNOWN, &mask);
	EXPECT_EQ(gettid(), word_at(&plain, off) & mask);
	pthread_mutex_unlock(&plain);

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	ASSERT_EQ(0, pthread_mutex_init(&pi, &a));
	ASSERT_EQ(0, pthread_mutex_lock(&pi));
	off = cw_glibc_owner_word(CW_LOCK_MUTEX,
				  cw_glibc_mutex_attr(word_at(&pi, CW_GLIBC_MUTEX_KIND_OFF)), &mask);
	EXPECT_EQ(0, off);
	EXPECT_EQ(gettid(), word_at(&pi, off) & mask);
	pthread_mutex_unlock(&pi);
	pthread_mutex_destroy(&pi);

	ASSERT_EQ(0, pthread_rwlock_wrlock(&rw));
	off = cw_glibc_owner_word(CW_LOCK_RWLOCK, CW_ATTR_KNOWN, &mask);
	EXPECT_EQ(gettid(), word_at(&rw, off) & mask);
	pthread_rwlock_unlock(&rw);
	/* a spin lock names nobody */
	EXPECT_EQ(-1, cw_glibc_owner_word(CW_LOCK_SPIN, CW_ATTR_KNOWN, &mask));
}

TEST_HARNESS_MAIN
