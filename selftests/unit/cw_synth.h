/* SPDX-License-Identifier: GPL-2.0 */
/* Building synthetic event records for unit tests. */
#ifndef __CW_SYNTH_H
#define __CW_SYNTH_H

#include <string.h>
#include <concwatch/events.h>

static inline struct cw_hdr synth_hdr(__u16 type, __u16 size, __u64 ts, __u32 pid, __u32 tid)
{
	return (struct cw_hdr){ .type = type, .size = size, .ts_ns = ts, .pid = pid, .tid = tid };
}

static inline struct cw_ev_lock synth_lock(__u16 type, __u64 ts, __u32 pid, __u32 tid,
					   __u64 addr, __u64 wait_ns, __s32 result)
{
	struct cw_ev_lock e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(type, sizeof(e), ts, pid, tid);
	e.addr = addr;
	e.wait_ns = wait_ns;
	e.result = result;
	e.kind = CW_LOCK_MUTEX;
	e.op = type == CW_EV_LOCK_RELEASED ? CW_OP_UNLOCK : CW_OP_LOCK;
	return e;
}

/*
 * A lock-order dependency: tid acquired `to` while holding `from`, both mutexes unless
 * the caller changes kinds. Call sites and stack ids are made from the addresses.
 */
static inline struct cw_ev_edge synth_edge(__u64 ts, __u32 pid, __u32 tid, __u64 from, __u64 to)
{
	struct cw_ev_edge e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_LOCK_EDGE, sizeof(e), ts, pid, tid);
	e.from_addr = from;
	e.to_addr = to;
	e.from_ip = 0x401000 + (from & 0xfff);
	e.to_ip = 0x402000 + (to & 0xfff);
	e.from_stack_id = 0x100 + from;
	e.to_stack_id = 0x200 + to;
	e.from_kind = e.to_kind = CW_LOCK_MUTEX;
	return e;
}

static inline struct cw_ev_tick synth_tick(__u64 ts, __u64 seq)
{
	struct cw_ev_tick t;

	memset(&t, 0, sizeof(t));
	t.hdr = synth_hdr(CW_EV_TICK, sizeof(t), ts, 0, 0);
	t.seq = seq;
	t.interval_ns = 100000000;
	return t;
}

static inline struct cw_ev_comm synth_comm(__u64 ts, __u32 pid, __u32 tid, const char *name)
{
	struct cw_ev_comm c;

	memset(&c, 0, sizeof(c));
	c.hdr = synth_hdr(CW_EV_COMM, sizeof(c), ts, pid, tid);
	strncpy(c.comm, name, sizeof(c.comm) - 1);
	return c;
}

static inline struct cw_ev_lost synth_lost(__u64 ts, __u32 what, __u64 count)
{
	struct cw_ev_lost l;

	memset(&l, 0, sizeof(l));
	l.hdr = synth_hdr(CW_EV_LOST, sizeof(l), ts, 0, 0);
	l.what = what;
	l.count = count;
	return l;
}

#endif /* __CW_SYNTH_H */
