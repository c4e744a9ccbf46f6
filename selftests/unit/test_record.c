// SPDX-License-Identifier: GPL-2.0
/* Decoding records: what is accepted, what is rejected and why, walking a byte stream. */
#include <errno.h>

#include "kselftest_harness.h"
#include "engine/record.h"
#include "cw_synth.h"

TEST(valid_lock_record)
{
	struct cw_ev_lock e = synth_lock(CW_EV_LOCK_ACQUIRED, 1000, 10, 11, 0x1234, 50, 0);

	ASSERT_EQ(0, cw_record__check(&e, sizeof(e)));
}

TEST(truncated_buffer)
{
	struct cw_ev_lock e = synth_lock(CW_EV_LOCK_BEGIN, 1000, 10, 11, 0x1234, 0, 0);

	ASSERT_EQ(-EMSGSIZE, cw_record__check(&e, sizeof(e) - 8));
	ASSERT_EQ(-EMSGSIZE, cw_record__check(&e, 10));
}

TEST(bad_sizes)
{
	struct cw_ev_lock e = synth_lock(CW_EV_LOCK_BEGIN, 1000, 10, 11, 0x1234, 0, 0);

	e.hdr.size = 71; /* not a multiple of 8 */
	ASSERT_EQ(-EINVAL, cw_record__check(&e, sizeof(e)));
	e.hdr.size = 16; /* smaller than a header */
	ASSERT_EQ(-EINVAL, cw_record__check(&e, sizeof(e)));
	e.hdr.size = 64; /* smaller than a lock record */
	ASSERT_EQ(-EINVAL, cw_record__check(&e, sizeof(e)));
}

TEST(unknown_type_is_skippable)
{
	struct cw_ev_tick t = synth_tick(5, 0);

	t.hdr.type = CW_EV_TYPE_MAX + 7;
	ASSERT_EQ(-ENOENT, cw_record__check(&t, sizeof(t)));
	ASSERT_STREQ("unknown", cw_record__type_name(t.hdr.type));
}

/* The stacks of a priority inversion: fixed size; a shorter one is refused. */
TEST(prio_stacks_record)
{
	struct cw_ev_pi_stacks e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_PRIO_STACKS, sizeof(e), 1, 2, 3);
	e.addr = 0xa000;
	e.low_stack_id = 0x6000;
	e.high_tid = 4;
	ASSERT_EQ(0, cw_record__check(&e, sizeof(e)));
	e.hdr.size = sizeof(e) - 8;
	ASSERT_EQ(-EINVAL, cw_record__check(&e, sizeof(e)));
	e.hdr.size = sizeof(e);
	ASSERT_EQ(-EMSGSIZE, cw_record__check(&e, sizeof(e) - 8));
}

TEST(exec_filename_must_be_terminated)
{
	struct {
		struct cw_ev_exec e;
		char name[16];
	} r;

	memset(&r, 0, sizeof(r));
	r.e.hdr = synth_hdr(CW_EV_EXEC, sizeof(r), 1, 2, 2);
	memcpy(r.e.filename, "/bin/true", 10);
	r.e.filename_len = 10;
	ASSERT_EQ(0, cw_record__check(&r, sizeof(r)));
	r.e.filename_len = 17; /* claims more than the record holds */
	ASSERT_EQ(-EINVAL, cw_record__check(&r, sizeof(r)));
	r.e.filename_len = 4; /* no NUL inside the claimed length */
	ASSERT_EQ(-EINVAL, cw_record__check(&r, sizeof(r)));
	r.e.filename_len = 0;
	ASSERT_EQ(-EINVAL, cw_record__check(&r, sizeof(r)));
}

TEST(stack_frames_fit)
{
	struct {
		struct cw_ev_stack s;
		__u64 ips[3];
	} r;

	memset(&r, 0, sizeof(r));
	r.s.hdr = synth_hdr(CW_EV_STACK, sizeof(r), 1, 2, 2);
	r.s.space = CW_STACK_USER;
	r.s.nr = 3;
	ASSERT_EQ(0, cw_record__check(&r, sizeof(r)));
	r.s.nr = 4;
	ASSERT_EQ(-EINVAL, cw_record__check(&r, sizeof(r)));
	r.s.nr = 3;
	r.s.space = 9; /* a space a newer source knows: well framed, skipped by consumers */
	ASSERT_EQ(0, cw_record__check(&r, sizeof(r)));
}

TEST(lost_kind_checked)
{
	struct cw_ev_lost l = synth_lost(1, CW_LOST_RINGBUF, 3);

	ASSERT_EQ(0, cw_record__check(&l, sizeof(l)));
	l.what = CW_LOST_MAX; /* a newer kind of loss is still a loss */
	ASSERT_EQ(0, cw_record__check(&l, sizeof(l)));
	l.what = 0;
	ASSERT_EQ(-EINVAL, cw_record__check(&l, sizeof(l)));
}

struct collected {
	int n;
	__u16 types[8];
	__u64 ts[8];
};

static int collect(void *ctx, const struct cw_hdr *h)
{
	struct collected *c = ctx;

	c->types[c->n] = h->type;
	c->ts[c->n++] = h->ts_ns;
	return 0;
}

TEST(walk_skips_unknown_stops_at_garbage)
{
	unsigned char buf[256];
	struct cw_ev_lock a = synth_lock(CW_EV_LOCK_BEGIN, 10, 1, 1, 0x10, 0, 0);
	struct cw_ev_tick t = synth_tick(20, 0), u = synth_tick(25, 1);
	struct cw_ev_lock b = synth_lock(CW_EV_LOCK_RELEASED, 30, 1, 1, 0x10, 0, 0);
	struct collected c = {};
	size_t off = 0, bad = 0;
	long used;

	u.hdr.type = 999; /* a future record type: skipped by size */
	memcpy(buf + off, &a, sizeof(a)), off += sizeof(a);
	memcpy(buf + off, &u, sizeof(u)), off += sizeof(u);
	memcpy(buf + off, &t, sizeof(t)), off += sizeof(t);
	memcpy(buf + off, &b, sizeof(b)), off += sizeof(b);
	used = cw_records__walk(buf, off, collect, &c, &bad);
	ASSERT_EQ((long)off, used);
	ASSERT_EQ(0, bad);
	ASSERT_EQ(3, c.n);
	ASSERT_EQ(CW_EV_LOCK_BEGIN, c.types[0]);
	ASSERT_EQ(CW_EV_TICK, c.types[1]);
	ASSERT_EQ(CW_EV_LOCK_RELEASED, c.types[2]);

	/* a zero-sized header must stop the walk, not spin on it */
	memset(buf + off, 0, 24);
	c.n = 0;
	used = cw_records__walk(buf, off + 24, collect, &c, &bad);
	ASSERT_EQ((long)off, used);
	ASSERT_EQ(1, bad);
	ASSERT_EQ(3, c.n);
}

TEST(format_lock_line)
{
	struct cw_ev_lock e = synth_lock(CW_EV_LOCK_ACQUIRED, 1500000001, 10, 11, 0xabc, 42, 16);
	char line[256];

	cw_record__format(&e.hdr, line, sizeof(line));
	ASSERT_STREQ("1.500000001 cpu0 10/11 lock_acquired mutex lock 0xabc ip=0x0 wait=42 result=16",
		     line);
}

TEST_HARNESS_MAIN
