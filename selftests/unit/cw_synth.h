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

/*
 * Statistics of one view for one key (ABI v3): one interval's deltas, n waits of wait_ns
 * each (total, max and histogram made from them). For CW_SITE_FUTEX every wait blocked
 * and was woken; for CW_SITE_WAKE they are the waiters woken.
 */
static inline struct cw_ev_lock_stats synth_stats(__u8 what, __u64 ts, __u32 pid, __u32 tid,
						  __u64 addr, __u64 stack_id, __u64 n,
						  __u64 wait_ns)
{
	struct cw_ev_lock_stats s;

	memset(&s, 0, sizeof(s));
	s.hdr = synth_hdr(CW_EV_LOCK_STATS, sizeof(s), ts, pid, tid);
	s.hdr.flags = CW_F_AGGREGATED;
	s.what = what;
	s.kind = what == CW_SITE_KLOCK ? CW_LOCK_KERNEL :
		 what == CW_SITE_ACQUIRE ? CW_LOCK_MUTEX : CW_LOCK_FUTEX;
	s.addr = addr;
	s.stack_id = stack_id;
	s.interval_ns = 100000000;
	s.acquisitions = n;
	s.contentions = n;
	s.wait_ns_total = n * wait_ns;
	s.wait_ns_max = n ? wait_ns : 0;
	if (n)
		s.wait_hist[cw_hist_bucket(wait_ns)] = n;
	if (what == CW_SITE_FUTEX)
		s.outcomes[CW_FUTEX_WOKEN] = n;
	return s;
}

/* The same, under the name it had for a while (tests on other branches use both). */
static inline struct cw_ev_lock_stats synth_site_stats(__u8 what, __u64 ts, __u32 pid, __u32 tid,
						       __u64 addr, __u64 stack_id, __u64 n,
						       __u64 wait_ns)
{
	return synth_stats(what, ts, pid, tid, addr, stack_id, n, wait_ns);
}

/* A thread's cumulative scheduling: on CPU, and off CPU by CW_OFFCPU_* (offcpu[]). */
static inline struct cw_ev_thread_stats synth_thread_stats(__u64 ts, __u32 pid, __u32 tid,
							   __u64 oncpu_ns,
							   const __u64 offcpu[CW_OFFCPU_MAX])
{
	struct cw_ev_thread_stats t;

	memset(&t, 0, sizeof(t));
	t.hdr = synth_hdr(CW_EV_THREAD_STATS, sizeof(t), ts, pid, tid);
	t.hdr.flags = CW_F_AGGREGATED;
	t.oncpu_ns = oncpu_ns;
	memcpy(t.offcpu_ns, offcpu, sizeof(t.offcpu_ns));
	t.prio = 120;
	return t;
}

/*
 * What tracing has cost the target since start_ns, as running totals: probe hits by
 * CW_TRAP_* at hit_ns[] each, the probe and tracepoint programs' run time, and the
 * CW_COST_* flags saying which of them were measured.
 */
static inline struct cw_ev_cost synth_cost(__u64 ts, __u64 start_ns,
					   const __u64 hits[CW_TRAP_MAX],
					   const __u32 hit_ns[CW_TRAP_MAX], __u64 bpf_run_ns,
					   __u64 tp_run_ns, __u32 flags)
{
	struct cw_ev_cost c;

	memset(&c, 0, sizeof(c));
	c.hdr = synth_hdr(CW_EV_COST, sizeof(c), ts, 0, 0);
	c.start_ns = start_ns;
	memcpy(c.hits, hits, sizeof(c.hits));
	memcpy(c.hit_ns, hit_ns, sizeof(c.hit_ns));
	c.bpf_run_ns = bpf_run_ns;
	for (int k = 0; k < CW_TRAP_MAX; k++)
		c.bpf_runs += hits[k];
	c.tp_run_ns = tp_run_ns;
	c.tp_runs = c.bpf_runs;
	c.flags = flags;
	return c;
}

static inline struct cw_ev_exit synth_exit(__u64 ts, __u32 pid, __u32 tid)
{
	struct cw_ev_exit x;

	memset(&x, 0, sizeof(x));
	x.hdr = synth_hdr(CW_EV_EXIT, sizeof(x), ts, pid, tid);
	return x;
}

/* A raw futex record: FUTEX_WAIT_PRIVATE on uaddr; END with wait_ns spent in it. */
static inline struct cw_ev_futex synth_futex(__u16 type, __u64 ts, __u32 pid, __u32 tid,
					     __u64 uaddr, __u64 wait_ns)
{
	struct cw_ev_futex f;

	memset(&f, 0, sizeof(f));
	f.hdr = synth_hdr(type, sizeof(f), ts, pid, tid);
	f.uaddr = uaddr;
	f.op = 128;	/* FUTEX_WAIT | FUTEX_PRIVATE_FLAG */
	f.wait_ns = type == CW_EV_FUTEX_END ? wait_ns : 0;
	return f;
}

#endif /* __CW_SYNTH_H */
