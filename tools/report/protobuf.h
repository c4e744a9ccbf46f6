/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A write-only protocol buffers encoder, just enough for the pprof export's profile.proto
 * (pprof.c): varints, length-delimited strings and nested messages, packed repeated
 * integers. Written as Go's runtime writes its profiles (runtime/pprof/protobuf.go)
 * rather than with protobuf-c: a profile is written, never read, so there is no
 * generated code to keep in step with a .proto file Debian does not ship, no library to
 * depend on at build or run time, and the whole encoder is this file and protobuf.c.
 *
 * Errors stick: after a failed allocation every call does nothing and
 * cw_pb__finish() says -ENOMEM, so writers need not check each field.
 */
#ifndef __CW_PROTOBUF_H
#define __CW_PROTOBUF_H

#include <stddef.h>
#include <linux/types.h>

struct cw_pb {
	unsigned char *buf;
	size_t len, cap;
	int err;		/* 0 or the first -errno */
};

/* Where a nested message's body began (cw_pb__begin's return). */
typedef size_t cw_pb_mark;

/* Wire types. */
#define CW_PB_VARINT 0
#define CW_PB_LEN 2

/* A varint field; zero is written too (callers skip defaults when they mean to). */
void cw_pb__uint64(struct cw_pb *pb, unsigned int field, __u64 v);
/* int64 as protobuf encodes it: two's complement, ten bytes for a negative number. */
void cw_pb__int64(struct cw_pb *pb, unsigned int field, __s64 v);
void cw_pb__bool(struct cw_pb *pb, unsigned int field, int v);
/* A length-delimited field of len bytes. */
void cw_pb__bytes(struct cw_pb *pb, unsigned int field, const void *data, size_t len);
void cw_pb__string(struct cw_pb *pb, unsigned int field, const char *s);
/* A packed repeated uint64 field (nothing for n == 0: an empty packed field is omitted). */
void cw_pb__packed_uint64(struct cw_pb *pb, unsigned int field, const __u64 *v, size_t n);
/* A packed repeated int64 field. */
void cw_pb__packed_int64(struct cw_pb *pb, unsigned int field, const __s64 *v, size_t n);
/*
 * A nested message: begin, write its fields, end. The length goes in front of the body
 * at the end, when it is known (the body moves up by the length's bytes).
 */
cw_pb_mark cw_pb__begin(struct cw_pb *pb, unsigned int field);
void cw_pb__end(struct cw_pb *pb, cw_pb_mark m);

/* 0 or the first error; the encoding is pb->buf[0 .. pb->len). */
int cw_pb__finish(const struct cw_pb *pb);
/* Free the buffer; the encoder can be used again. Accepts an unused one. */
void cw_pb__fini(struct cw_pb *pb);

#endif /* __CW_PROTOBUF_H */
