/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Recording files: what "concwatch record -o FILE" writes and "concwatch report FILE"
 * and "concwatch export FILE" read. A header that says what was traced, where and when;
 * the records exactly as the sink received them (time order, after the reorder window);
 * a trailer with the totals. Documentation/abi.md, "Recording files", is the format.
 *
 * Writing: cw_recorder__open(), then cw_recorder__write() as the session's sink (or from
 * a sink that also feeds the engine), then cw_recorder__close() with the totals.
 * Reading: cw_replay__open() gives a source (source.h) that drains the records in file
 * order; cw_replay__meta() the header, cw_replay__status() what the end of the file said.
 */
#ifndef __CW_RECORDING_H
#define __CW_RECORDING_H

#include <stddef.h>
#include "source/source.h"

/* The on-disk layout. Fields are in the byte order of the machine that recorded. */

/* 8 bytes: NUL says binary, CR LF catches copies that converted line ends */
#define CW_REC_MAGIC "CWREC\0\r\n"
#define CW_REC_END_MAGIC "CWRECEND"	/* 8 bytes, in the trailer */
#define CW_REC_BYTE_ORDER 0x01020304U	/* as the writer's CPU stores it */
#define CW_REC_MAJOR 1			/* bumped when older readers cannot read the files */
#define CW_REC_MINOR 0			/* bumped when fields are added that old readers skip */
#define CW_REC_CMDLINE_MAX 4096		/* bytes of the target's command line kept */
#define CW_REC_HEADER_MAX (1U << 20)	/* a header_size above this is damage, not a header */

/* At offset 0. The first 16 bytes keep this layout in every format version. */
struct cw_rec_file_header {
	__u8 magic[8];		/* CW_REC_MAGIC */
	__u32 byte_order;	/* CW_REC_BYTE_ORDER */
	__u16 major;		/* format version */
	__u16 minor;
	__u32 header_size;	/* bytes from the start of the file to the first record; a
				 * multiple of 8 */
	__u32 fixed_size;	/* bytes of this structure as the writer knew it: the command line
				 * starts there */
	__u32 abi_version;	/* CW_ABI_VERSION of the records */
	__u32 cmdline_len;	/* bytes of command line after the fixed part */
	__u64 realtime_ns;	/* CLOCK_REALTIME when recording started, ns since the epoch */
	__u64 monotonic_ns;	/* CLOCK_MONOTONIC at the same moment: the clock of every ts_ns */
	__s32 pid;		/* the target process */
	__u32 pad;
	char comm[CW_COMM_LEN];	/* its name, NUL-terminated */
	char version[32];	/* concwatch version that recorded, NUL-terminated */
	char release[65];	/* uname -r of the recording host, NUL-terminated */
	char machine[65];	/* uname -m */
	__u8 pad2[6];
	/* minor versions add fields here; then cmdline_len bytes, then zeroes to header_size */
};

/*
 * After the last record. Framed like a record of type CW_EV_NONE (0, which no record
 * ever has), so a walk over the body skips it as an unknown type.
 */
struct cw_rec_trailer {
	struct cw_hdr hdr;	/* type CW_EV_NONE; size: the whole trailer; cpu 0xffff;
				 * ts_ns: CLOCK_MONOTONIC when recording stopped; pid: the target */
	__u8 magic[8];		/* CW_REC_END_MAGIC */
	__u64 records;		/* records between the header and the trailer */
	__u64 bytes;		/* their bytes: the trailer starts at header_size + bytes */
	__u64 end_realtime_ns;	/* CLOCK_REALTIME when recording stopped */
	__u64 late;		/* records that reached the reorder window after it had passed
				 * them (cw_merge_stats.late) */
	__u32 nr_lost;		/* entries in lost[] */
	__u32 pad;
	__u64 lost[];		/* records lost before the recorder, by CW_LOST_* kind ([0] unused);
				 * minor versions add fields after the last entry */
};

_Static_assert(sizeof(struct cw_rec_file_header) == 240, "recording header changed: bump the "
	       "format");
_Static_assert(sizeof(struct cw_rec_trailer) == 72, "recording trailer changed: bump the format");

/* What a recording's header says. */
struct cw_rec_meta {
	__u16 major;		/* reader: the file's format version; the writer ignores it */
	__u16 minor;
	__u32 abi_version;	/* reader: the records' event ABI version; the writer ignores it */
	__u64 realtime_ns;	/* CLOCK_REALTIME when recording started; writer: 0 = now */
	__u64 monotonic_ns;	/* CLOCK_MONOTONIC at the same moment (wall time of a record:
				 * realtime_ns + ts_ns - monotonic_ns); writer: taken with
				 * realtime_ns when that is 0 */
	__s32 pid;		/* the target process */
	__u32 cmdline_len;	/* bytes used in cmdline */
	char comm[CW_COMM_LEN];
	char cmdline[CW_REC_CMDLINE_MAX]; /* as /proc/PID/cmdline reads: each argument
					   * followed by a NUL; the writer keeps the first
					   * CW_REC_CMDLINE_MAX bytes */
	char version[32];	/* concwatch version that recorded; writer: "" = this one's */
	char release[65];	/* uname -r of the recording host; writer: "" = this host's */
	char machine[65];	/* uname -m; writer: "" = this host's */
};

/* What the recording saw besides its records: the trailer's figures. */
struct cw_rec_totals {
	__u64 records;		/* reader: records the trailer counts; the writer counts its own */
	__u64 bytes;		/* reader: their bytes; the writer counts its own */
	__u64 lost[CW_LOST_MAX]; /* records lost before the recorder, by CW_LOST_* (the source's
				  * cw_source_stats.lost) */
	__u64 lost_other;	/* reader: losses of kinds this build does not know */
	__u64 late;		/* cw_merge_stats.late of the session */
	__u64 end_realtime_ns;	/* when recording stopped; writer: 0 = now (both clocks) */
	__u64 end_monotonic_ns;
};

struct cw_recorder;

/*
 * Create (or truncate) path, mode 0644, and write the header from meta. 0 or -errno;
 * the file may exist, incomplete, after a failure.
 */
int cw_recorder__open(const char *path, const struct cw_rec_meta *meta, struct cw_recorder **out);

/*
 * Append one record (rec->size bytes) as it is: a cw_record_fn, so it can be the
 * session's sink. Buffered. 0; -EINVAL for a record that is not framed (size not a
 * multiple of 8 or below a header, or type CW_EV_NONE), which is not written; or the
 * first write error, which every later call returns too.
 */
int cw_recorder__write(void *ctx, const struct cw_hdr *rec);

/* Write out what is buffered. 0 or the first write error. */
int cw_recorder__flush(struct cw_recorder *r);

/* Records and bytes written so far, header and trailer not included. */
void cw_recorder__count(const struct cw_recorder *r, __u64 *records, __u64 *bytes);

/*
 * Write the trailer with t (NULL: nothing lost, stopped now), close the file and free r.
 * 0, or -errno of the first failure of any write since open (ENOSPC among them) or of
 * close(2). After a write error no trailer is written: the file reads as truncated.
 * Accepts NULL.
 */
int cw_recorder__close(struct cw_recorder *r, const struct cw_rec_totals *t);

/*
 * A source that hands on a recording's records in file order, each checked with
 * cw_record__check(): up to 4096 per drain; records of types this build does not know
 * are handed on too. fd() is -1 and start() and stop() do nothing; drain returns 0 at
 * the end of the file.
 *
 * Damage (a record cut off or malformed) ends the stream there: the records before it
 * are delivered, then one synthetic CW_EV_LOST record (CW_LOST_MALFORMED, count 1: at
 * least one record is gone), and cw_replay__status() says where and how many bytes
 * were dropped. A file that ends without its trailer is reported as truncated.
 *
 * On failure err holds one line without the file name (the caller prefixes it), e.g.
 * "not a concwatch recording", "truncated: header incomplete (12 of 240 bytes)",
 * "recording format version 2.0 is newer than this concwatch (1.0)"; and -errno is
 * returned: -EINVAL (not a recording), -EBADMSG (damaged or cut header),
 * -EPROTONOSUPPORT (a version, byte order or machine this build cannot read, e.g.
 * "recorded on aarch64: this build reads x86_64 recordings only"), or open(2)'s.
 */
int cw_replay__open(const char *path, struct cw_source **out, char *err, size_t errlen);

/* The header of the recording src (a source from cw_replay__open()) reads. */
const struct cw_rec_meta *cw_replay__meta(struct cw_source *src);

struct cw_replay_status {
	int ended;		/* the end of the file or the damage was reached, and everything
				 * before it handed on: drain returns 0 from now on */
	int complete;		/* ended at a trailer that agrees with what was read, with
				 * nothing dropped */
	int has_totals;		/* a trailer was read: totals holds its figures */
	__u64 records;		/* records handed on, the synthetic lost record not counted */
	__u64 unknown;		/* of them, of types this build does not know */
	__u64 bytes;		/* their bytes */
	__u64 dropped_bytes;	/* bytes of the file not handed on (damage, a cut record, data
				 * after the trailer) */
	int dropped_more;	/* more than dropped_bytes followed: a pipe or device is read
				 * only so far past the damage */
	__u64 damage_offset;	/* file offset of the first of them */
	struct cw_rec_totals totals;
	char problem[256];	/* ended and not complete: one line for the user, else "" */
};

void cw_replay__status(struct cw_source *src, struct cw_replay_status *st);

#endif /* __CW_RECORDING_H */
