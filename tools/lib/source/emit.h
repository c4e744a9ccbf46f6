/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every backend does the same way when it hands records on: count them, queue the
 * records it makes up between drains (thread names and module maps read at attach), and
 * add its own tick and lost records. A backend embeds a struct cw_emit and calls these
 * from its drain; nothing here knows where the records came from.
 */
#ifndef __CW_EMIT_H
#define __CW_EMIT_H

#include "source/source.h"

struct cw_emit {
	/* the drain in progress (cw_emit__begin) */
	cw_record_fn fn;
	void *ctx;
	int delivered;		/* records handed on during it */

	struct cw_source_stats st;

	/* records made up between drains, delivered first at the next one */
	struct {
		unsigned char *buf;
		size_t len, cap;
	} queue;

	__u64 lost_reported[CW_LOST_MAX];	/* totals already sent in lost records */
	__u64 tick_ns;		/* tick period */
	__u64 tick_seq;
	__u64 next_tick_ns;
	int final_tick_sent;
	__u16 tick_flags;	/* cw_hdr.flags of the ticks: CW_F_NO_UPROBES */
};

void cw_emit__init(struct cw_emit *e, __u64 tick_ns);
void cw_emit__fini(struct cw_emit *e);

/* A drain starts: records go to fn from now on; queued ones first. 0 or fn's return. */
int cw_emit__begin(struct cw_emit *e, cw_record_fn fn, void *ctx);

/* Hand rec on now, counting it. 0 or fn's non-zero return. */
int cw_emit__deliver(struct cw_emit *e, const struct cw_hdr *rec);

/* Keep a copy of rec, to be handed on before anything else at the next drain. */
int cw_emit__queue(struct cw_emit *e, const struct cw_hdr *rec);

/*
 * A lost record for what the backend counts as lost of kind what (CW_LOST_*), when its
 * running total grew past what was sent already.
 */
int cw_emit__lost(struct cw_emit *e, __u32 what, __u64 total, __u64 ts);

/*
 * A lost record the backend's kernel side wrote into the stream itself (the module's
 * ring overflow, with the CPU of the ring): handed on as it is and counted, apart from
 * the running totals cw_emit__lost() sends. 0 or fn's non-zero return.
 */
int cw_emit__deliver_lost(struct cw_emit *e, const struct cw_ev_lost *rec);

/*
 * A tick at now when a period has passed since the last, or the final one once the
 * source stopped (stopped: non-zero), which is sent once.
 */
int cw_emit__tick(struct cw_emit *e, __u64 now, int stopped);

#endif /* __CW_EMIT_H */
