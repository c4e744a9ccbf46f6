// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

#include "engine/index.h"

struct cw_index_slot {
	__u64 a, b;
	__u32 val;
	__u32 used;
};

static __u64 mix(__u64 a, __u64 b)
{
	__u64 x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL + (a << 6) + (a >> 2));

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static struct cw_index_slot *find(const struct cw_index *ix, __u64 a, __u64 b)
{
	size_t mask = ix->cap - 1;

	for (size_t i = mix(a, b) & mask;; i = (i + 1) & mask) {
		struct cw_index_slot *s = &ix->slots[i];

		if (!s->used || (s->a == a && s->b == b))
			return s;
	}
}

int cw_index__get(const struct cw_index *ix, __u64 a, __u64 b, __u32 *val)
{
	struct cw_index_slot *s;

	if (!ix->cap)
		return -ENOENT;
	s = find(ix, a, b);
	if (!s->used)
		return -ENOENT;
	*val = s->val;
	return 0;
}

static int grow(struct cw_index *ix)
{
	struct cw_index old = *ix;

	ix->cap = old.cap ? old.cap * 2 : 64;
	ix->slots = calloc(ix->cap, sizeof(*ix->slots));
	if (!ix->slots) {
		*ix = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].used)
			*find(ix, old.slots[i].a, old.slots[i].b) = old.slots[i];
	free(old.slots);
	return 0;
}

int cw_index__put(struct cw_index *ix, __u64 a, __u64 b, __u32 val)
{
	struct cw_index_slot *s;

	/* keep the load under 3/4 so probing stays short and always ends */
	if ((ix->nr + 1) * 4 > ix->cap * 3 && grow(ix))
		return -ENOMEM;
	s = find(ix, a, b);
	if (!s->used) {
		s->used = 1;
		s->a = a;
		s->b = b;
		ix->nr++;
	}
	s->val = val;
	return 0;
}

int cw_index__number(struct cw_index *ix, __u64 a, __u64 b, __u32 *next, __u32 *num)
{
	if (!cw_index__get(ix, a, b, num))
		return 0;
	*num = *next;
	if (cw_index__put(ix, a, b, *num))
		return -ENOMEM;
	(*next)++;
	return 0;
}

void cw_index__fini(struct cw_index *ix)
{
	free(ix->slots);
	ix->slots = NULL;
	ix->cap = ix->nr = 0;
}
