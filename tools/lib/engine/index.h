/* SPDX-License-Identifier: GPL-2.0 */
/* Open-addressing hash index from a two-word key to a 32-bit value (an array slot). Pure. */
#ifndef __CW_INDEX_H
#define __CW_INDEX_H

#include <stddef.h>
#include <linux/types.h>

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

#endif /* __CW_INDEX_H */
