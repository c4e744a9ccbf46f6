// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "engine/merge.h"

struct slot {
	__u64 ts;
	__u64 seq;
	struct cw_hdr *rec;
};

struct cw_merge {
	__u64 window_ns;
	__u64 newest_ts;
	__u64 last_popped_ts;
	__u64 seq;
	struct slot *heap;
	size_t nr, cap;
	struct cw_merge_stats st;
};

struct cw_merge *cw_merge__new(__u64 window_ns)
{
	struct cw_merge *m = calloc(1, sizeof(*m));

	if (m)
		m->window_ns = window_ns;
	return m;
}

void cw_merge__free(struct cw_merge *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nr; i++)
		free(m->heap[i].rec);
	free(m->heap);
	free(m);
}

static int before(const struct slot *a, const struct slot *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static void swap(struct slot *a, struct slot *b)
{
	struct slot t = *a;

	*a = *b;
	*b = t;
}

int cw_merge__push(struct cw_merge *m, const struct cw_hdr *rec)
{
	struct slot *h = cw_grow(m->heap, &m->cap, m->nr + 1, sizeof(*h));
	struct cw_hdr *copy;
	size_t i;

	if (!h)
		return -ENOMEM;
	m->heap = h;
	copy = malloc(rec->size);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, rec, rec->size);

	if (m->st.popped && rec->ts_ns < m->last_popped_ts)
		m->st.late++;
	if (rec->ts_ns > m->newest_ts)
		m->newest_ts = rec->ts_ns;

	i = m->nr++;
	m->heap[i] = (struct slot){ .ts = rec->ts_ns, .seq = m->seq++, .rec = copy };
	while (i && before(&m->heap[i], &m->heap[(i - 1) / 2])) {
		swap(&m->heap[i], &m->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	m->st.pushed++;
	if (m->nr > m->st.max_pending)
		m->st.max_pending = m->nr;
	return 0;
}

static struct cw_hdr *pop_min(struct cw_merge *m)
{
	struct cw_hdr *rec = m->heap[0].rec;
	size_t i = 0;

	m->heap[0] = m->heap[--m->nr];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < m->nr && before(&m->heap[l], &m->heap[min]))
			min = l;
		if (r < m->nr && before(&m->heap[r], &m->heap[min]))
			min = r;
		if (min == i)
			break;
		swap(&m->heap[i], &m->heap[min]);
		i = min;
	}
	return rec;
}

int cw_merge__pop(struct cw_merge *m, int flush, cw_record_fn fn, void *ctx)
{
	while (m->nr) {
		struct cw_hdr *rec;
		int err;

		if (!flush && m->heap[0].ts + m->window_ns > m->newest_ts)
			break;
		rec = pop_min(m);
		if (rec->ts_ns > m->last_popped_ts)
			m->last_popped_ts = rec->ts_ns;
		m->st.popped++;
		err = fn(ctx, rec);
		free(rec);
		if (err)
			return err;
	}
	return 0;
}

size_t cw_merge__pending(const struct cw_merge *m)
{
	return m->nr;
}

void cw_merge__stats(const struct cw_merge *m, struct cw_merge_stats *st)
{
	*st = m->st;
}
