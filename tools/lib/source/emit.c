// SPDX-License-Identifier: GPL-2.0
/* Handing records on from any backend: see emit.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "source/emit.h"

void cw_emit__init(struct cw_emit *e, __u64 tick_ns)
{
	memset(e, 0, sizeof(*e));
	e->tick_ns = tick_ns;
}

void cw_emit__fini(struct cw_emit *e)
{
	free(e->queue.buf);
	e->queue.buf = NULL;
	e->queue.len = e->queue.cap = 0;
}

int cw_emit__deliver(struct cw_emit *e, const struct cw_hdr *rec)
{
	int err = e->fn(e->ctx, rec);

	if (err)
		return err;
	e->st.records++;
	e->st.bytes += rec->size;
	e->delivered++;
	return 0;
}

int cw_emit__queue(struct cw_emit *e, const struct cw_hdr *rec)
{
	unsigned char *p = cw_grow(e->queue.buf, &e->queue.cap, e->queue.len + rec->size, 1);

	if (!p)
		return -ENOMEM;
	e->queue.buf = p;
	memcpy(e->queue.buf + e->queue.len, rec, rec->size);
	e->queue.len += rec->size;
	return 0;
}

int cw_emit__begin(struct cw_emit *e, cw_record_fn fn, void *ctx)
{
	size_t off = 0;
	int err = 0;

	e->fn = fn;
	e->ctx = ctx;
	e->delivered = 0;
	while (off < e->queue.len) {
		const struct cw_hdr *h = (const void *)(e->queue.buf + off);

		err = cw_emit__deliver(e, h);
		if (err)
			break;
		off += h->size;
	}
	/* what was not delivered stays for the next drain (none queued yet: no buffer) */
	if (off) {
		memmove(e->queue.buf, e->queue.buf + off, e->queue.len - off);
		e->queue.len -= off;
	}
	return err;
}

int cw_emit__lost(struct cw_emit *e, __u32 what, __u64 total, __u64 ts)
{
	struct cw_ev_lost l = {};

	if (total <= e->lost_reported[what])
		return 0;
	l.hdr = (struct cw_hdr){ .type = CW_EV_LOST, .size = sizeof(l), .cpu = 0xffff,
				 .ts_ns = ts };
	l.count = total - e->lost_reported[what];
	l.what = what;
	e->lost_reported[what] = total;
	e->st.lost[what] += l.count;
	return cw_emit__deliver(e, &l.hdr);
}

int cw_emit__deliver_lost(struct cw_emit *e, const struct cw_ev_lost *rec)
{
	int err = cw_emit__deliver(e, &rec->hdr);

	/* a kind this build does not know is still a loss: the engine counts it */
	if (!err && rec->what < CW_LOST_MAX)
		e->st.lost[rec->what] += rec->count;
	return err;
}

int cw_emit__tick(struct cw_emit *e, __u64 now, int stopped)
{
	struct cw_ev_tick t = {};
	int err;

	if (now < e->next_tick_ns && !(stopped && !e->final_tick_sent))
		return 0;
	t.hdr = (struct cw_hdr){ .type = CW_EV_TICK, .size = sizeof(t), .cpu = 0xffff,
				 .flags = e->tick_flags, .ts_ns = now };
	t.seq = e->tick_seq++;
	t.interval_ns = e->tick_ns;
	err = cw_emit__deliver(e, &t.hdr);
	if (err)
		return err;
	e->st.ticks++;
	e->next_tick_ns = now + e->tick_ns;
	e->final_tick_sent = stopped != 0;
	return 0;
}
