// SPDX-License-Identifier: GPL-2.0
/* Recording files: the writer (a sink) and the replay source. Format: Documentation/abi.md. */
#include <byteswap.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "source/recording.h"

#ifndef CW_VERSION
#define CW_VERSION "unknown"
#endif

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Holds the largest record, or the largest header, whole; and keeps system calls few. */
#define WRITE_BUF 65536
_Static_assert(WRITE_BUF >= CW_RECORD_MAX, "a record must fit the buffer");
_Static_assert(WRITE_BUF >= sizeof(struct cw_rec_file_header) + CW_REC_CMDLINE_MAX,
	       "the header must fit the buffer");
#define READ_BUF (256 * 1024)
#define DRAIN_BATCH 4096

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Copy a string field into a fixed one, always NUL-terminated, the rest zeroed. */
static void copy_str(char *dst, size_t dlen, const char *src, size_t slen)
{
	size_t n = strnlen(src, MIN(slen, dlen - 1));

	memcpy(dst, src, n);
	memset(dst + n, 0, dlen - n);
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Bytes read: len unless the file ended first; or -errno. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			break;
		got += n;
	}
	return got;
}

/* ---- writing ---- */

struct cw_recorder {
	int fd;
	int err;		/* first write error, returned from then on */
	__s32 pid;
	size_t len;		/* bytes waiting in buf */
	__u64 records;
	__u64 bytes;
	unsigned char buf[WRITE_BUF];
};

int cw_recorder__flush(struct cw_recorder *r)
{
	int err;

	if (r->err)
		return r->err;
	err = write_full(r->fd, r->buf, r->len);
	if (err) {
		r->err = err;
		return err;
	}
	r->len = 0;
	return 0;
}

static int append(struct cw_recorder *r, const void *data, size_t len)
{
	if (r->len + len > sizeof(r->buf) && cw_recorder__flush(r))
		return r->err;
	memcpy(r->buf + r->len, data, len);
	r->len += len;
	return 0;
}

static int write_header(struct cw_recorder *r, const struct cw_rec_meta *m)
{
	struct cw_rec_file_header fh;
	size_t cmdline_len = MIN(m->cmdline_len, sizeof(m->cmdline));
	size_t size = sizeof(fh) + CW_RECORD_ALIGN(cmdline_len);
	static const __u8 zero[8];
	struct utsname uts;
	int err;

	memset(&fh, 0, sizeof(fh));
	memcpy(fh.magic, CW_REC_MAGIC, sizeof(fh.magic));
	fh.byte_order = CW_REC_BYTE_ORDER;
	fh.major = CW_REC_MAJOR;
	fh.minor = CW_REC_MINOR;
	fh.header_size = size;
	fh.fixed_size = sizeof(fh);
	fh.abi_version = CW_ABI_VERSION;
	fh.cmdline_len = cmdline_len;
	fh.realtime_ns = m->realtime_ns;
	fh.monotonic_ns = m->monotonic_ns;
	if (!fh.realtime_ns) {
		fh.realtime_ns = clock_ns(CLOCK_REALTIME);
		fh.monotonic_ns = clock_ns(CLOCK_MONOTONIC);
	}
	fh.pid = m->pid;
	copy_str(fh.comm, sizeof(fh.comm), m->comm, sizeof(m->comm));
	copy_str(fh.version, sizeof(fh.version), m->version[0] ? m->version : CW_VERSION,
		 sizeof(m->version));
	if (uname(&uts))
		memset(&uts, 0, sizeof(uts));
	copy_str(fh.release, sizeof(fh.release), m->release[0] ? m->release : uts.release,
		 sizeof(m->release));
	copy_str(fh.machine, sizeof(fh.machine), m->machine[0] ? m->machine : uts.machine,
		 sizeof(m->machine));

	err = append(r, &fh, sizeof(fh));
	if (!err)
		err = append(r, m->cmdline, cmdline_len);
	if (!err)
		err = append(r, zero, size - sizeof(fh) - cmdline_len);
	return err;
}

int cw_recorder__open(const char *path, const struct cw_rec_meta *meta, struct cw_recorder **out)
{
	static const struct cw_rec_meta none;
	struct cw_recorder *r;
	int err;

	if (!meta)
		meta = &none;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->err = 0;
	r->len = 0;
	r->records = 0;
	r->bytes = 0;
	r->pid = meta->pid;
	r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (r->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	/* out at once: a full disk or a read-only file shows now, not at the first flush */
	err = write_header(r, meta);
	if (!err)
		err = cw_recorder__flush(r);
	if (err)
		goto cleanup;
	*out = r;
	return 0;
cleanup:
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	return err;
}

int cw_recorder__write(void *ctx, const struct cw_hdr *rec)
{
	struct cw_recorder *r = ctx;
	int err;

	if (r->err)
		return r->err;
	/* type 0 frames the trailer; anything unframed would hide every record after it */
	if (rec->size < sizeof(*rec) || rec->size % 8 || rec->type == CW_EV_NONE)
		return -EINVAL;
	err = append(r, rec, rec->size);
	if (err)
		return err;
	r->records++;
	r->bytes += rec->size;
	return 0;
}

void cw_recorder__count(const struct cw_recorder *r, __u64 *records, __u64 *bytes)
{
	if (records)
		*records = r->records;
	if (bytes)
		*bytes = r->bytes;
}

static int write_trailer(struct cw_recorder *r, const struct cw_rec_totals *t)
{
	static const struct cw_rec_totals none;
	union {
		struct cw_rec_trailer t;
		__u8 bytes[sizeof(struct cw_rec_trailer) + sizeof(t->lost)];
	} tr;

	if (!t)
		t = &none;
	memset(&tr, 0, sizeof(tr));
	tr.t.hdr.type = CW_EV_NONE;
	tr.t.hdr.size = sizeof(tr);
	tr.t.hdr.cpu = 0xffff;
	tr.t.hdr.pid = r->pid;
	tr.t.hdr.ts_ns = t->end_monotonic_ns;
	tr.t.end_realtime_ns = t->end_realtime_ns;
	if (!t->end_realtime_ns) {
		tr.t.end_realtime_ns = clock_ns(CLOCK_REALTIME);
		tr.t.hdr.ts_ns = clock_ns(CLOCK_MONOTONIC);
	}
	memcpy(tr.t.magic, CW_REC_END_MAGIC, sizeof(tr.t.magic));
	tr.t.records = r->records;
	tr.t.bytes = r->bytes;
	tr.t.late = t->late;
	tr.t.nr_lost = CW_LOST_MAX;
	memcpy(tr.t.lost, t->lost, sizeof(t->lost));
	return append(r, &tr, sizeof(tr));
}

int cw_recorder__close(struct cw_recorder *r, const struct cw_rec_totals *t)
{
	int err;

	if (!r)
		return 0;
	err = r->err;
	if (!err)
		err = write_trailer(r, t);
	if (!err)
		err = cw_recorder__flush(r);
	/* close(2) can be the first to hear of a failed write (NFS, quotas) */
	if (close(r->fd) && !err)
		err = -errno;
	free(r);
	return err;
}

/* ---- reading ---- */

struct replay {
	struct cw_source base;
	int fd;
	struct cw_rec_meta meta;
	unsigned char *buf;	/* READ_BUF bytes; unread ones are buf[off, len) */
	size_t off;
	size_t len;
	__u64 pos;		/* file offset of buf[off] */
	int eof;		/* read(2) returned 0 */
	int done;		/* the end or the damage was reached: no record follows */
	int lost_due;		/* a synthetic lost record for the damage is still to be sent */
	int err;		/* a read error, returned from then on */
	__u64 max_ts;
	struct cw_source_stats st;
	struct cw_replay_status status;
};

static int replay_start(struct cw_source *src)
{
	return 0;
}

static int replay_fd(struct cw_source *src)
{
	return -1;
}

static int replay_stop(struct cw_source *src)
{
	return 0;
}

/* Make at least need bytes readable at buf[off]: 1 when they are, 0 at the end, or -errno. */
static int fill(struct replay *r, size_t need)
{
	if (r->len - r->off >= need)
		return 1;
	memmove(r->buf, r->buf + r->off, r->len - r->off);
	r->len -= r->off;
	r->off = 0;
	while (r->len < need && !r->eof) {
		ssize_t n = read(r->fd, r->buf + r->len, READ_BUF - r->len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			r->eof = 1;
		r->len += n;
	}
	return r->len >= need;
}

/* Bytes from buf[off] to the end of the file. */
static __u64 rest_of_file(struct replay *r)
{
	__u64 rest = r->len - r->off;
	struct stat sb;

	if (r->eof)
		return rest;
	if (!fstat(r->fd, &sb) && S_ISREG(sb.st_mode))
		return (__u64)sb.st_size > r->pos ? sb.st_size - r->pos : rest;
	/* not a regular file: count by reading */
	for (;;) {
		ssize_t n = read(r->fd, r->buf, READ_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rest += n;
	}
	r->off = r->len = 0;
	r->eof = 1;
	return rest;
}

static void finish(struct replay *r, int complete)
{
	r->done = 1;
	r->status.complete = complete;
}

/* The stream ends at offset pos with damage: what follows is not handed on. */
static void damage(struct replay *r, const char *what, int lost)
{
	struct cw_replay_status *s = &r->status;

	s->damage_offset = r->pos;
	s->dropped_bytes = rest_of_file(r);
	snprintf(s->problem, sizeof(s->problem),
		 "%s at offset %llu: %llu records read, %llu bytes dropped", what,
		 (unsigned long long)r->pos, (unsigned long long)s->records,
		 (unsigned long long)s->dropped_bytes);
	r->lost_due = lost;
	finish(r, 0);
}

static void take_totals(struct replay *r, const struct cw_rec_trailer *t)
{
	struct cw_rec_totals *tot = &r->status.totals;

	memset(tot, 0, sizeof(*tot));
	tot->records = t->records;
	tot->bytes = t->bytes;
	tot->late = t->late;
	tot->end_realtime_ns = t->end_realtime_ns;
	tot->end_monotonic_ns = t->hdr.ts_ns;
	for (__u32 i = 0; i < t->nr_lost; i++) {
		if (i < CW_LOST_MAX)
			tot->lost[i] = t->lost[i];
		else
			tot->lost_other += t->lost[i];
	}
	r->status.has_totals = 1;
}

/* buf[off] holds a header of type CW_EV_NONE: the trailer, or damage. */
static int read_trailer(struct replay *r)
{
	const struct cw_rec_trailer *t = (const void *)(r->buf + r->off);
	struct cw_replay_status *s = &r->status;
	size_t size = t->hdr.size;
	int ret;

	if (size < sizeof(*t)) {
		damage(r, "damaged: malformed record", 1);
		return 0;
	}
	ret = fill(r, size);
	if (ret < 0)
		return ret;
	t = (const void *)(r->buf + r->off);
	if (!ret) {
		/* zeroes or garbage at the cut, unless the magic says otherwise */
		if (r->len - r->off >= offsetof(struct cw_rec_trailer, records) &&
		    !memcmp(t->magic, CW_REC_END_MAGIC, sizeof(t->magic)))
			/* the records were all written before it: only the totals are missing */
			damage(r, "truncated: the file ends inside the trailer", 0);
		else
			damage(r, "truncated: the file ends inside a record", 1);
		return 0;
	}
	if (memcmp(t->magic, CW_REC_END_MAGIC, sizeof(t->magic)) ||
	    sizeof(*t) + (__u64)t->nr_lost * sizeof(__u64) > size) {
		damage(r, "damaged: malformed record", 1);
		return 0;
	}
	take_totals(r, t);
	r->off += size;
	r->pos += size;
	ret = fill(r, 1);
	if (ret < 0)
		return ret;
	if (ret) {
		damage(r, "damaged: data after the trailer", 0);
		return 0;
	}
	/* t is gone with the read above: compare the copy */
	if (s->totals.records != s->records || s->totals.bytes != s->bytes) {
		snprintf(s->problem, sizeof(s->problem),
			 "damaged: the trailer counts %llu records in %llu bytes, the file holds "
			 "%llu in %llu", (unsigned long long)s->totals.records,
			 (unsigned long long)s->totals.bytes,
			 (unsigned long long)s->records, (unsigned long long)s->bytes);
		finish(r, 0);
		return 0;
	}
	finish(r, 1);
	return 0;
}

/* The next record: 1 with *rec set (valid until the next call), 0 at the end, or -errno. */
static int next_record(struct replay *r, const struct cw_hdr **rec)
{
	const struct cw_hdr *h;
	int ret;

	ret = fill(r, sizeof(*h));
	if (ret < 0)
		return ret;
	if (!ret) {
		if (r->len > r->off) {
			damage(r, "truncated: the file ends inside a record", 1);
			return 0;
		}
		snprintf(r->status.problem, sizeof(r->status.problem),
			 "truncated: the recording has no trailer (the recorder did not finish): "
			 "%llu records read, 0 bytes dropped",
			 (unsigned long long)r->status.records);
		r->status.damage_offset = r->pos;
		finish(r, 0);
		return 0;
	}
	h = (const void *)(r->buf + r->off);
	if (h->size < sizeof(*h) || h->size % 8) {
		damage(r, "damaged: malformed record", 1);
		return 0;
	}
	if (h->type == CW_EV_NONE)
		return read_trailer(r);
	ret = fill(r, h->size);
	if (ret < 0)
		return ret;
	if (!ret) {
		damage(r, "truncated: the file ends inside a record", 1);
		return 0;
	}
	h = (const void *)(r->buf + r->off);
	ret = cw_record__check(h, h->size);
	if (ret && ret != -ENOENT) {
		damage(r, "damaged: malformed record", 1);
		return 0;
	}
	if (ret == -ENOENT)
		r->status.unknown++;
	r->status.records++;
	r->status.bytes += h->size;
	r->off += h->size;
	r->pos += h->size;
	*rec = h;
	return 1;
}

static void count(struct replay *r, const struct cw_hdr *h)
{
	r->st.records++;
	r->st.bytes += h->size;
	if (h->ts_ns > r->max_ts)
		r->max_ts = h->ts_ns;
	if (h->type == CW_EV_TICK) {
		r->st.ticks++;
	} else if (h->type == CW_EV_LOST) {
		const struct cw_ev_lost *l = (const void *)h;

		if (l->what < CW_LOST_MAX)
			r->st.lost[l->what] += l->count;
	}
}

static int replay_drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	struct replay *r = (struct replay *)src;
	const struct cw_hdr *h;
	int n = 0, ret;

	if (r->err)
		return r->err;
	while (n < DRAIN_BATCH) {
		struct cw_ev_lost lost;

		if (r->lost_due) {
			r->lost_due = 0;
			memset(&lost, 0, sizeof(lost));
			lost.hdr.type = CW_EV_LOST;
			lost.hdr.size = sizeof(lost);
			lost.hdr.cpu = 0xffff;
			lost.hdr.flags = CW_F_SYNTHETIC;
			lost.hdr.ts_ns = r->max_ts;
			lost.what = CW_LOST_MALFORMED;
			lost.count = 1;
			h = &lost.hdr;
		} else {
			if (r->done)
				break;
			ret = next_record(r, &h);
			if (ret < 0) {
				r->err = ret;
				snprintf(src->err, sizeof(src->err),
					 "failed to read the recording: %s", strerror(-ret));
				return ret;
			}
			if (!ret)
				continue;
		}
		count(r, h);
		n++;
		ret = fn(ctx, h);
		if (ret)
			return ret;
	}
	/* a session stops asking once the last record, and the lost one for damage, went */
	src->ended = r->done && !r->lost_due;
	return n;
}

static void replay_stats(struct cw_source *src, struct cw_source_stats *st)
{
	*st = ((struct replay *)src)->st;
}

static void replay_free(struct cw_source *src)
{
	struct replay *r = (struct replay *)src;

	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r);
}

static const struct cw_source_ops replay_ops = {
	.name = "replay",
	.start = replay_start,
	.fd = replay_fd,
	.drain = replay_drain,
	.stop = replay_stop,
	.stats = replay_stats,
	.free = replay_free,
};

const struct cw_rec_meta *cw_replay__meta(struct cw_source *src)
{
	return &((struct replay *)src)->meta;
}

void cw_replay__status(struct cw_source *src, struct cw_replay_status *st)
{
	struct replay *r = (struct replay *)src;

	*st = r->status;
	/* not before the lost record that marks the damage has gone out too */
	st->ended = r->done && !r->lost_due;
}

/* Read and check the header; leaves the file at the first record. */
static int read_header(struct replay *r, char *err, size_t errlen)
{
	struct cw_rec_file_header fh;
	struct cw_rec_meta *m = &r->meta;
	ssize_t n;
	char *rest = NULL;
	size_t rest_len;
	int ret;

	n = read_full(r->fd, &fh, sizeof(fh));
	if (n < 0) {
		snprintf(err, errlen, "failed to read: %s", strerror(-n));
		return n;
	}
	if (memcmp(fh.magic, CW_REC_MAGIC, MIN((size_t)n, sizeof(fh.magic)))) {
		snprintf(err, errlen, "not a concwatch recording");
		return -EINVAL;
	}
	if ((size_t)n < offsetof(struct cw_rec_file_header, header_size))
		goto truncated;
	if (fh.byte_order == bswap_32(CW_REC_BYTE_ORDER)) {
		snprintf(err, errlen, "recorded on a machine of the other byte order: concwatch "
			 "does not convert records");
		return -EPROTONOSUPPORT;
	}
	if (fh.byte_order != CW_REC_BYTE_ORDER) {
		snprintf(err, errlen, "damaged header: bad byte order mark 0x%08x", fh.byte_order);
		return -EBADMSG;
	}
	if (fh.major > CW_REC_MAJOR) {
		snprintf(err, errlen, "recording format version %u.%u is newer than this concwatch "
			 "(%u.%u)", fh.major, fh.minor, CW_REC_MAJOR, CW_REC_MINOR);
		return -EPROTONOSUPPORT;
	}
	if (fh.major < 1) {
		snprintf(err, errlen, "damaged header: format version %u.%u", fh.major, fh.minor);
		return -EBADMSG;
	}
	if ((size_t)n < sizeof(fh))
		goto truncated;
	if (fh.fixed_size < sizeof(fh) || fh.header_size % 8 ||
	    fh.header_size > CW_REC_HEADER_MAX || fh.fixed_size > fh.header_size ||
	    fh.cmdline_len > fh.header_size - fh.fixed_size) {
		snprintf(err, errlen, "damaged header: sizes do not add up (header %u, fixed part "
			 "%u, command line %u bytes)", fh.header_size, fh.fixed_size,
			 fh.cmdline_len);
		return -EBADMSG;
	}
	if (fh.abi_version != CW_ABI_VERSION) {
		snprintf(err, errlen, "the recording holds records of event ABI version %u, this "
			 "concwatch reads version %u", fh.abi_version, CW_ABI_VERSION);
		return -EPROTONOSUPPORT;
	}

	/* the fields a newer minor version added, and the command line */
	rest_len = fh.header_size - sizeof(fh);
	rest = malloc(rest_len ? rest_len : 1);
	if (!rest) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n = read_full(r->fd, rest, rest_len);
	if (n < 0) {
		snprintf(err, errlen, "failed to read: %s", strerror(-n));
		ret = n;
		goto cleanup;
	}
	if ((size_t)n < rest_len) {
		n += sizeof(fh);
		goto truncated;
	}

	m->major = fh.major;
	m->minor = fh.minor;
	m->abi_version = fh.abi_version;
	m->realtime_ns = fh.realtime_ns;
	m->monotonic_ns = fh.monotonic_ns;
	m->pid = fh.pid;
	copy_str(m->comm, sizeof(m->comm), fh.comm, sizeof(fh.comm));
	copy_str(m->version, sizeof(m->version), fh.version, sizeof(fh.version));
	copy_str(m->release, sizeof(m->release), fh.release, sizeof(fh.release));
	copy_str(m->machine, sizeof(m->machine), fh.machine, sizeof(fh.machine));
	m->cmdline_len = MIN(fh.cmdline_len, sizeof(m->cmdline));
	memcpy(m->cmdline, rest + (fh.fixed_size - sizeof(fh)), m->cmdline_len);
	r->pos = fh.header_size;
	ret = 0;
cleanup:
	free(rest);
	return ret;
truncated:
	free(rest);
	snprintf(err, errlen, "truncated: header incomplete (%zd of %u bytes)", n,
		 (size_t)n >= sizeof(fh) ? fh.header_size : (unsigned int)sizeof(fh));
	return -EBADMSG;
}

int cw_replay__open(const char *path, struct cw_source **out, char *err, size_t errlen)
{
	struct replay *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->base.ops = &replay_ops;
	r->base.ordered = 1; /* the recorder wrote what the reorder window handed on */
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "failed to open: %s", strerror(errno));
		goto cleanup;
	}
	r->buf = malloc(READ_BUF);
	if (!r->buf) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	ret = read_header(r, err, errlen);
	if (ret)
		goto cleanup;
	*out = &r->base;
	return 0;
cleanup:
	replay_free(&r->base);
	return ret;
}
