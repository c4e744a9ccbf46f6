/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Growing arrays, for every part of concwatch, its tests and its benchmarks: the doubling and
 * its overflow checks written once. Plain C calling nothing but realloc, so that the pure engine
 * can use it too (selftests/unit/engine_purity.sh): it does not set errno, its callers say
 * -ENOMEM.
 */
#ifndef __CW_COMMON_ARRAY_H
#define __CW_COMMON_ARRAY_H

#include <stdint.h>
#include <stdlib.h>

/*
 * Bytes of a first allocation at least, in whole elements (a cache line): fewer reallocations
 * for short arrays of small elements, no room wasted on arrays of large ones.
 */
#define CW_GROW_MIN_BYTES 64

/*
 * The number of elements of size bytes to grow an array holding cap to, so that it holds need:
 * the largest of need, twice cap (within PTRDIFF_MAX bytes) and CW_GROW_MIN_BYTES / size.
 * 0 when need elements exceed PTRDIFF_MAX bytes: no object can be that large (glibc refuses
 * them, and subtracting pointers into one would overflow). size >= 1.
 */
static inline size_t cw_grow_count(size_t cap, size_t need, size_t size)
{
	size_t limit = PTRDIFF_MAX / size, n;

	if (need > limit)
		return 0;
	n = cap > limit / 2 ? limit : 2 * cap;
	if (n < CW_GROW_MIN_BYTES / size)
		n = CW_GROW_MIN_BYTES / size;
	return n > need ? n : need;
}

/*
 * Room for at least need elements of size bytes in array v, which has room for *cap: v itself
 * when it has it already, else v reallocated to cw_grow_count() elements with *cap set to that,
 * so that adding one element at a time costs amortized O(1). NULL when the array cannot be that
 * large or realloc fails: v is untouched, still allocated and the caller's, and *cap unchanged.
 * need >= 1 (with need 0 and v NULL, a NULL return would mean no failure), size >= 1.
 *
 *	p = cw_grow(a->v, &a->cap, a->nr + 1, sizeof(*a->v));
 *	if (!p)
 *		return -ENOMEM;
 *	a->v = p;
 */
static inline void *cw_grow(void *v, size_t *cap, size_t need, size_t size)
{
	size_t n;
	void *p;

	if (need <= *cap)
		return v;
	n = cw_grow_count(*cap, need, size);
	if (!n)
		return NULL;
	p = realloc(v, n * size);
	if (p)
		*cap = n;
	return p;
}

#endif /* __CW_COMMON_ARRAY_H */
