/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lock rules (include/concwatch/lockrules.h) in userspace: held sets per thread,
 * lifetimes, the dependencies already sent and the statistics per (lock, call path),
 * kept in ordinary memory. For a backend that sees the lock operations in the process
 * (the in-process library) and for tests that check every implementation of the rules
 * against the others. Pure: no system calls, no clock; one object per traced process,
 * not thread-safe (the caller serializes).
 */
#ifndef __CW_RULES_H
#define __CW_RULES_H

#include <stddef.h>
#include <concwatch/lockrules.h>
#include "cw_maps.h"
#include "engine/record.h"

struct cw_rules;

/* A lock at one call path: key.tgid is the process, v the figures (cumulative). */
struct cw_rules_site {
	struct cw_site_key key;
	struct cw_site_stats v;
};

struct cw_rules_counts {
	__u64 edges;		/* CW_EV_LOCK_EDGE records sent */
	__u64 held_overflow;	/* acquisitions a full held set could not hold */
};

/*
 * Rules for process pid; every new dependency goes to fn(ctx, rec) as a
 * CW_EV_LOCK_EDGE record, stamped with the time of the acquisition. 0 or -ENOMEM.
 */
int cw_rules__new(__u32 pid, cw_record_fn fn, void *ctx, struct cw_rules **out);
void cw_rules__free(struct cw_rules *r);

/*
 * Thread tid's acquire returned at now with the lock taken (a->gen is ignored: the
 * lock's lifetime is the one cw_rules__reset() counted). CW_RULES_*, or -errno
 * (-ENOMEM, or fn's error).
 */
int cw_rules__acquired(struct cw_rules *r, __u32 tid, const struct cw_rules_acq *a, __u64 now);
/*
 * Thread tid's acquire a began to wait at now (it blocked): its dependencies, once
 * (a->waited is set, and a->gen); the same a given to cw_rules__acquired() later makes
 * none again. 0 or -errno.
 */
int cw_rules__waits(struct cw_rules *r, __u32 tid, struct cw_rules_acq *a, __u64 now);
/* Thread tid released addr at now: 0, 1 or 2 as cw_rules_released(); *hold_ns may be NULL. */
int cw_rules__released(struct cw_rules *r, __u32 tid, __u64 addr, __u64 now, __u64 *hold_ns);
/* pthread_*_init or _destroy on addr, or its memory freed: a new lifetime. 0 or -ENOMEM. */
int cw_rules__reset(struct cw_rules *r, __u64 addr);
/* Thread tid is gone: what it held is forgotten. */
void cw_rules__thread_exit(struct cw_rules *r, __u32 tid);

size_t cw_rules__nr_sites(const struct cw_rules *r);
/* In the order of first use. */
const struct cw_rules_site *cw_rules__site(const struct cw_rules *r, size_t i);
const struct cw_rules_counts *cw_rules__counts(const struct cw_rules *r);

#endif /* __CW_RULES_H */
