/* SPDX-License-Identifier: GPL-2.0 */
/* Checking, naming and printing event records (include/concwatch/events.h). Pure. */
#ifndef __CW_RECORD_H
#define __CW_RECORD_H

#include <stddef.h>
#include <concwatch/events.h>

/* Called once per record; a non-zero return stops the walk and is passed back. */
typedef int (*cw_record_fn)(void *ctx, const struct cw_hdr *rec);

/*
 * Check that buf starts with one well-formed record that fits in len bytes.
 * Returns 0 for a known, well-formed record; -ENOENT for a well-framed record of a
 * type this build does not know (skip it: hdr.size is trustworthy); -EMSGSIZE when
 * the record claims more than len bytes; -EINVAL when it is malformed.
 */
int cw_record__check(const void *buf, size_t len);

/* Fixed part of a record type in bytes, 0 for unknown types. */
size_t cw_record__min_size(unsigned int type);

const char *cw_record__type_name(unsigned int type);
const char *cw_lost__name(unsigned int what);
const char *cw_lock_kind__name(unsigned int kind);
const char *cw_lock_op__name(unsigned int op);

/* One line describing rec, without newline; returns snprintf's count. */
int cw_record__format(const struct cw_hdr *rec, char *buf, size_t len);

/*
 * Walk concatenated records in buf (a read from /dev/concwatch, a recording's body).
 * Unknown types are skipped; *bad counts malformed data, after which the walk stops
 * because the framing can no longer be trusted. Returns bytes consumed, or the
 * callback's non-zero return.
 */
long cw_records__walk(const void *buf, size_t len, cw_record_fn fn, void *ctx, size_t *bad);

#endif /* __CW_RECORD_H */
