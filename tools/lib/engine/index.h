/* SPDX-License-Identifier: GPL-2.0 */
/* Open-addressing hash index from a two-word key to a 32-bit value (an array slot). Pure. */
#ifndef __CW_INDEX_H
#define __CW_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>

#include "common/array.h"

struct cw_index {
	struct cw_index_slot *slots;
	size_t cap;	/* power of two, or 0 */
	size_t nr;
};

/* 0 when found (value in *val), -ENOENT otherwise. */
int cw_index__get(const struct cw_index *ix, __u64 a, __u64 b, __u32 *val);
/* Insert or overwrite. 0 or -ENOMEM. */
int cw_index__put(struct cw_index *ix, __u64 a, __u64 b, __u32 val);
/*
 * Number the pairs put: *num is the number (a, b) was given, or *next when it is new
 * (then *next counts on). A key of more than two words goes through two indexes: two of
 * its words numbered here, the number in the other's key with the rest. 0 or -ENOMEM.
 */
int cw_index__number(struct cw_index *ix, __u64 a, __u64 b, __u32 *next, __u32 *num);
void cw_index__fini(struct cw_index *ix);

/*
 * Find-or-append over an index, defined for each element type (a static function):
 * name(ix, a, b, &v, &nr, &cap, &fresh) is the element of key (a, b) in array v of nr
 * elements (room for cap), found through ix; when there is none, a zeroed one appended
 * to v and put in ix as slot nr, and *fresh set. ix NULL: the caller knows the key is
 * new. NULL when out of memory, or when slots (32 bits in the index) would run out.
 */
#define CW_INDEX_DEFINE_FIND_OR_APPEND(name, type)                                         \
	static type *name(struct cw_index *ix, __u64 a, __u64 b, type **v, size_t *nr,     \
			  size_t *cap, int *fresh)                                         \
	{                                                                                  \
		type *e;                                                                   \
		__u32 i;                                                                   \
                                                                                           \
		*fresh = 0;                                                                \
		if (ix && !cw_index__get(ix, a, b, &i))                                    \
			return &(*v)[i];                                                   \
		if (*nr >= UINT32_MAX)                                                     \
			return NULL;                                                       \
		e = cw_grow(*v, cap, *nr + 1, sizeof(*e));                                 \
		if (!e)                                                                    \
			return NULL;                                                       \
		*v = e;                                                                    \
		if (ix && cw_index__put(ix, a, b, *nr))                                    \
			return NULL;                                                       \
		e = &e[(*nr)++];                                                           \
		memset(e, 0, sizeof(*e));                                                  \
		*fresh = 1;                                                                \
		return e;                                                                  \
	}

#endif /* __CW_INDEX_H */
