// SPDX-License-Identifier: GPL-2.0
/* The write-only protocol buffers encoder of the pprof export: see protobuf.h for why. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/protobuf.h"

#define VARINT_MAX 10

static int reserve(struct cw_pb *pb, size_t more)
{
	unsigned char *b;
	size_t cap;

	if (pb->err)
		return pb->err;
	if (pb->len + more <= pb->cap)
		return 0;
	cap = pb->cap ? pb->cap : 256;
	while (cap < pb->len + more)
		cap *= 2;
	b = realloc(pb->buf, cap);
	if (!b)
		return pb->err = -ENOMEM;
	pb->buf = b;
	pb->cap = cap;
	return 0;
}

static size_t put_varint(unsigned char *p, __u64 v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static void varint(struct cw_pb *pb, __u64 v)
{
	if (!reserve(pb, VARINT_MAX))
		pb->len += put_varint(pb->buf + pb->len, v);
}

static void key(struct cw_pb *pb, unsigned int field, unsigned int wire)
{
	varint(pb, (__u64)field << 3 | wire);
}

void cw_pb__uint64(struct cw_pb *pb, unsigned int field, __u64 v)
{
	key(pb, field, CW_PB_VARINT);
	varint(pb, v);
}

void cw_pb__int64(struct cw_pb *pb, unsigned int field, __s64 v)
{
	cw_pb__uint64(pb, field, (__u64)v);
}

void cw_pb__bool(struct cw_pb *pb, unsigned int field, int v)
{
	cw_pb__uint64(pb, field, !!v);
}

void cw_pb__bytes(struct cw_pb *pb, unsigned int field, const void *data, size_t len)
{
	key(pb, field, CW_PB_LEN);
	varint(pb, len);
	if (!reserve(pb, len) && len) {
		memcpy(pb->buf + pb->len, data, len);
		pb->len += len;
	}
}

void cw_pb__string(struct cw_pb *pb, unsigned int field, const char *s)
{
	cw_pb__bytes(pb, field, s, strlen(s));
}

void cw_pb__packed_uint64(struct cw_pb *pb, unsigned int field, const __u64 *v, size_t n)
{
	cw_pb_mark m;

	if (!n)
		return;
	m = cw_pb__begin(pb, field);
	for (size_t i = 0; i < n; i++)
		varint(pb, v[i]);
	cw_pb__end(pb, m);
}

void cw_pb__packed_int64(struct cw_pb *pb, unsigned int field, const __s64 *v, size_t n)
{
	cw_pb_mark m;

	if (!n)
		return;
	m = cw_pb__begin(pb, field);
	for (size_t i = 0; i < n; i++)
		varint(pb, (__u64)v[i]);
	cw_pb__end(pb, m);
}

cw_pb_mark cw_pb__begin(struct cw_pb *pb, unsigned int field)
{
	key(pb, field, CW_PB_LEN);
	return pb->len;
}

void cw_pb__end(struct cw_pb *pb, cw_pb_mark m)
{
	unsigned char len[VARINT_MAX];
	size_t body, n;

	if (pb->err)
		return;
	body = pb->len - m;
	n = put_varint(len, body);
	if (reserve(pb, n))
		return;
	memmove(pb->buf + m + n, pb->buf + m, body);
	memcpy(pb->buf + m, len, n);
	pb->len += n;
}

int cw_pb__finish(const struct cw_pb *pb)
{
	return pb->err;
}

void cw_pb__fini(struct cw_pb *pb)
{
	free(pb->buf);
	memset(pb, 0, sizeof(*pb));
}
