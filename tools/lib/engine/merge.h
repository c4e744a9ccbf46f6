/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reorder window: records from per-CPU buffers (or a ring buffer whose producers take
 * timestamps before reserving) arrive slightly out of order. The merge holds records
 * until the newest timestamp seen is window_ns past them, then hands them on in
 * (ts_ns, arrival) order. Time is event time only, so a replay reorders exactly as the
 * live run did. Pure.
 */
#ifndef __CW_MERGE_H
#define __CW_MERGE_H

#include "engine/record.h"

struct cw_merge;

struct cw_merge_stats {
	__u64 pushed;
	__u64 popped;
	__u64 late;		/* arrived older than a record already handed on */
	__u64 max_pending;	/* most records held at once */
};

struct cw_merge *cw_merge__new(__u64 window_ns);
void cw_merge__free(struct cw_merge *m);

/* Copy rec (rec->size bytes) into the window. 0 or -ENOMEM. */
int cw_merge__push(struct cw_merge *m, const struct cw_hdr *rec);

/*
 * Hand on, oldest first, every record at least window_ns older than the newest pushed;
 * with flush, every record. A non-zero return of fn stops and is returned.
 */
int cw_merge__pop(struct cw_merge *m, int flush, cw_record_fn fn, void *ctx);

size_t cw_merge__pending(const struct cw_merge *m);
void cw_merge__stats(const struct cw_merge *m, struct cw_merge_stats *st);

#endif /* __CW_MERGE_H */
