/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a glibc lock's own memory says (glibc 2.34 and later, x86-64), for every backend
 * that reads it where the lock is taken: the BPF programs (bpf/cw_locks.bpf.h,
 * bpf/cw_futex.bpf.h) and the kernel module (kmod/concwatch_uprobe.c). Where the words
 * are, and what their values mean as CW_ATTR_* (events.h); the backend reads the words
 * its own way. selftests/unit/test_glibc.c holds the offsets to glibc's own structures
 * and the decoding to locks made with each attribute.
 */
#ifndef __CONCWATCH_GLIBC_H
#define __CONCWATCH_GLIBC_H

#include "events.h"

#define CW_GLIBC_MUTEX_OWNER_OFF 8	/* pthread_mutex_t.__data.__owner: the holder's tid */
#define CW_GLIBC_MUTEX_KIND_OFF 16	/* pthread_mutex_t.__data.__kind */
#define CW_GLIBC_RWLOCK_CUR_WRITER_OFF 24 /* pthread_rwlock_t.__data.__cur_writer, 0: none */
#define CW_GLIBC_RWLOCK_FLAGS_OFF 48	/* pthread_rwlock_t.__data.__flags */
#define CW_GLIBC_PI_TID_MASK 0x3fffffff	/* FUTEX_TID_MASK: a PI mutex's word holds its owner */

/* The attributes a mutex's __kind word says (PTHREAD_MUTEX_KIND_MASK_NP and the flags). */
static inline __u16 cw_glibc_mutex_attr(__u32 kind)
{
	__u16 attr = CW_ATTR_KNOWN;

	if ((kind & 3) == 1)
		attr |= CW_ATTR_RECURSIVE;
	if ((kind & 3) == 2)
		attr |= CW_ATTR_ERRORCHECK;
	if (kind & 0x10)
		attr |= CW_ATTR_ROBUST;
	if (kind & 0x20)
		attr |= CW_ATTR_PI;
	if (kind & 0x40)
		attr |= CW_ATTR_PROTECT;
	if (kind & 0x80)
		attr |= CW_ATTR_PSHARED;
	return attr;
}

/* The attributes an rwlock's __flags word says: only the writer-preferring kind makes
 * readers wait for writers (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP). */
static inline __u16 cw_glibc_rwlock_attr(__u32 flags)
{
	return CW_ATTR_KNOWN | (flags == 2 ? CW_ATTR_WRITER_PREF : 0);
}

/*
 * Where a lock of kind with attr names its holder: the offset of the word (*mask: the
 * bits of it that are the tid), or -1 when it does not (an rwlock's readers, a spin lock).
 */
static inline int cw_glibc_owner_word(__u8 kind, __u16 attr, __u32 *mask)
{
	*mask = ~0U;
	if (kind == CW_LOCK_MUTEX && (attr & CW_ATTR_PI)) {
		*mask = CW_GLIBC_PI_TID_MASK;
		return 0;
	}
	if (kind == CW_LOCK_MUTEX)
		return CW_GLIBC_MUTEX_OWNER_OFF;
	if (kind == CW_LOCK_RWLOCK)
		return CW_GLIBC_RWLOCK_CUR_WRITER_OFF;
	return -1;
}

#endif /* __CONCWATCH_GLIBC_H */
