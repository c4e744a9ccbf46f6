// SPDX-License-Identifier: GPL-2.0
/*
 * Growing arrays (tools/lib/common/array.h): exact capacities for growth from empty, doubling
 * and a larger need; sizes past PTRDIFF_MAX refused before realloc is asked; and on every
 * failure the array untouched, still the caller's (LeakSanitizer checks it is freed once) and
 * its capacity unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "common/array.h"

/* A realloc too large to succeed returns NULL here, as in glibc, instead of aborting. */
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

/* Elements in a first allocation of v: as many as fit in CW_GROW_MIN_BYTES. */
#define MIN_OF(v) (CW_GROW_MIN_BYTES / sizeof(*(v)))

TEST(from_empty)
{
	size_t cap = 0;
	int *v = cw_grow(NULL, &cap, 1, sizeof(*v));

	ASSERT_NE(NULL, v);
	ASSERT_EQ(16, cap);
	/* all of it is usable: ASan would catch a write past the allocation */
	for (size_t i = 0; i < cap; i++)
		v[i] = i;
	free(v);
}

/* Elements larger than the minimum: exactly the one asked for. */
TEST(from_empty_large)
{
	struct { char b[100]; } *v;
	size_t cap = 0;

	v = cw_grow(NULL, &cap, 1, sizeof(*v));
	ASSERT_NE(NULL, v);
	ASSERT_EQ(1, cap);
	memset(v, 0, sizeof(*v));
	free(v);
}

TEST(room_already)
{
	size_t cap = 0;
	int *v = cw_grow(NULL, &cap, 5, sizeof(*v));
	/* an address, not a pointer: GCC would take comparing it for a use after realloc */
	uintptr_t at = (uintptr_t)v;

	ASSERT_NE(NULL, v);
	ASSERT_EQ(MIN_OF(v), cap);
	EXPECT_EQ(at, (uintptr_t)cw_grow(v, &cap, MIN_OF(v), sizeof(*v)));
	EXPECT_EQ(MIN_OF(v), cap);
	EXPECT_EQ(at, (uintptr_t)cw_grow(v, &cap, 1, sizeof(*v)));
	EXPECT_EQ(MIN_OF(v), cap);
	free(v);
}

/* One more element than there is room for: twice the room, the elements kept. */
TEST(doubles)
{
	size_t cap = 0, nr = 0;
	long *v = NULL;

	for (size_t want = MIN_OF(v); want <= 8 * MIN_OF(v); want *= 2) {
		while (nr < want) {
			long *p = cw_grow(v, &cap, nr + 1, sizeof(*v));

			ASSERT_NE(NULL, p);
			v = p;
			v[nr] = nr;
			nr++;
		}
		ASSERT_EQ(want, cap);
	}
	for (size_t i = 0; i < nr; i++)
		ASSERT_EQ(i, v[i]);
	free(v);
}

TEST(need_more_than_double)
{
	size_t cap = 0;
	char *v = cw_grow(NULL, &cap, 3, 1), *p;

	ASSERT_NE(NULL, v);
	ASSERT_EQ(64, cap);
	memset(v, 'x', cap);
	p = cw_grow(v, &cap, 5 * 64 + 3, 1);
	ASSERT_NE(NULL, p);
	v = p;
	ASSERT_EQ(5 * 64 + 3, cap);
	for (size_t i = 0; i < 64; i++)
		ASSERT_EQ('x', v[i]);
	memset(v, 'y', cap);
	free(v);
}

/* need * size past PTRDIFF_MAX (and past SIZE_MAX): refused, v and cap as they were. */
TEST(need_overflows)
{
	size_t cap = 0, size = 24;
	char *v = cw_grow(NULL, &cap, 1, size);

	ASSERT_NE(NULL, v);
	ASSERT_EQ(2, cap);
	memset(v, 'a', cap * size);
	/* need * size wraps around to a small number: a naive realloc would succeed */
	ASSERT_EQ(NULL, cw_grow(v, &cap, SIZE_MAX / size + 2, size));
	EXPECT_EQ(2, cap);
	EXPECT_EQ(0, cw_grow_count(cap, SIZE_MAX / size + 2, size));
	ASSERT_EQ(NULL, cw_grow(v, &cap, PTRDIFF_MAX / size + 1, size));
	EXPECT_EQ(2, cap);
	ASSERT_EQ(NULL, cw_grow(v, &cap, SIZE_MAX, 1));
	EXPECT_EQ(2, cap);
	/* v is still the caller's, unchanged */
	for (size_t i = 0; i < cap * size; i++)
		ASSERT_EQ('a', v[i]);
	free(v);
}

/*
 * 2 * cap past SIZE_MAX: refused, not wrapped around to a small allocation. cap is as large as
 * it can be with a real allocation behind it of only one element: cw_grow() must not touch it.
 */
TEST(double_overflows)
{
	size_t cap = SIZE_MAX / 2 + 1;
	char *v = malloc(1);

	ASSERT_NE(NULL, v);
	v[0] = 'z';
	ASSERT_EQ(NULL, cw_grow(v, &cap, cap + 1, 1));
	EXPECT_EQ(SIZE_MAX / 2 + 1, cap);
	EXPECT_EQ('z', v[0]);
	free(v);
}

/* The doubling gives way to PTRDIFF_MAX: only need makes cw_grow() fail. */
TEST(count_capped)
{
	size_t size = 16, limit = PTRDIFF_MAX / size;

	EXPECT_EQ(4, cw_grow_count(0, 1, size));
	EXPECT_EQ(4, cw_grow_count(0, 4, size));
	EXPECT_EQ(5, cw_grow_count(0, 5, size));
	EXPECT_EQ(200, cw_grow_count(100, 101, size));
	EXPECT_EQ(300, cw_grow_count(100, 300, size));
	EXPECT_EQ(limit - 1, cw_grow_count(limit / 2, limit / 2 + 1, size));
	EXPECT_EQ(limit, cw_grow_count(limit / 2 + 1, limit / 2 + 2, size));
	EXPECT_EQ(limit, cw_grow_count(limit - 1, limit, size));
	EXPECT_EQ(0, cw_grow_count(limit, limit + 1, size));
	EXPECT_EQ(64, cw_grow_count(0, 1, 1));
	EXPECT_EQ(1, cw_grow_count(0, 1, 65));
	EXPECT_EQ(1, cw_grow_count(0, 1, PTRDIFF_MAX));
	EXPECT_EQ(0, cw_grow_count(0, 1, SIZE_MAX));
}

/* A size realloc cannot give (within PTRDIFF_MAX, more than memory): v stays valid. */
TEST(realloc_fails)
{
	size_t cap = 0;
	char *v = cw_grow(NULL, &cap, 16, 1), *p;

	ASSERT_NE(NULL, v);
	ASSERT_EQ(64, cap);
	memcpy(v, "still here", 11);
	p = cw_grow(v, &cap, PTRDIFF_MAX / 2, 1);
	ASSERT_EQ(NULL, p);
	EXPECT_EQ(64, cap);
	EXPECT_STREQ("still here", v);
	/* and it can still grow */
	p = cw_grow(v, &cap, 65, 1);
	ASSERT_NE(NULL, p);
	v = p;
	EXPECT_EQ(128, cap);
	EXPECT_STREQ("still here", v);
	free(v);
}

TEST_HARNESS_MAIN
