/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sequences of rules_seq.h through the lock rules compiled in userspace
 * (tools/lib/rules/): what every other implementation of the rules must agree with.
 */
#ifndef __RULES_DRIVE_H
#define __RULES_DRIVE_H

#include "rules_seq.h"
#include "rules/rules.h"

static inline __u8 rs_kind(char k)
{
	return k == 'W' || k == 'P' ? CW_LOCK_RWLOCK : CW_LOCK_MUTEX;
}

/* What the BPF programs read from the lock's memory (read_attr()). */
static inline __u16 rs_attr(char k)
{
	return CW_ATTR_KNOWN | (k == 'R' ? CW_ATTR_RECURSIVE : 0) |
	       (k == 'P' ? CW_ATTR_WRITER_PREF : 0);
}

static inline __u8 rs_op(char op)
{
	switch (op) {
	case 'L': return CW_OP_LOCK;
	case 'T': return CW_OP_TRYLOCK;
	case 'r': return CW_OP_RDLOCK;
	case 'w': return CW_OP_WRLOCK;
	case 't': return CW_OP_TRYRDLOCK;
	case 'y': return CW_OP_TRYWRLOCK;
	}
	return 0;
}

/* A CW_EV_LOCK_INIT or _DESTROY record, as the BPF programs send for pthread_*_init/destroy. */
static inline int rs_reset_record(cw_record_fn fn, void *ctx, __u32 pid, __u32 tid, int type,
				  __u64 addr, __u8 kind, __u64 ts)
{
	struct cw_ev_lock e = {};

	e.hdr = (struct cw_hdr){ .type = type, .size = sizeof(e), .cpu = 0xffff, .ts_ns = ts,
				 .pid = pid, .tid = tid };
	e.addr = addr;
	e.kind = kind;
	e.op = type == CW_EV_LOCK_INIT ? CW_OP_INIT : CW_OP_DESTROY;
	return fn ? fn(ctx, &e.hdr) : 0;
}

/*
 * Sequence seq by thread tid on r, its locks at base (rs_addr()): each lock initialised
 * first, then the operations, one every 1000 ns of *clock, each acquire having waited
 * 10 ns. Lifetimes also go to fn as records, when fn is not NULL. 0 or -errno.
 */
static inline int rs_drive(struct cw_rules *r, int seq, __u32 pid, __u32 tid,
			   unsigned long long base, __u64 *clock, cw_record_fn fn, void *ctx)
{
	const struct rs_seq *s = &rs_seqs[seq];
	struct rs_iter it = { .p = s->ops };
	int lock, err = 0;
	char op;

	for (int i = 0; s->locks[i] && !err; i++) {
		*clock += 1000;
		err = cw_rules__reset(r, rs_addr(base, seq, i));
		if (!err)
			err = rs_reset_record(fn, ctx, pid, tid, CW_EV_LOCK_INIT,
					      rs_addr(base, seq, i), rs_kind(s->locks[i]), *clock);
	}
	while (!err && rs_next(&it, &op, &lock)) {
		__u64 addr = rs_addr(base, seq, lock);
		char k = s->locks[lock];
		int ret = 0;

		*clock += 1000;
		switch (op) {
		case 'U':
			ret = cw_rules__released(r, tid, addr, *clock, NULL);
			break;
		case 'F':
			break; /* a failed acquire: no rule applies */
		case 'D':
		case 'I':
			err = cw_rules__reset(r, addr);
			if (!err)
				err = rs_reset_record(fn, ctx, pid, tid, op == 'I' ? CW_EV_LOCK_INIT :
						      CW_EV_LOCK_DESTROY, addr, rs_kind(k), *clock);
			break;
		default: {
			struct cw_rules_acq a = {
				.addr = addr,
				.begin_ns = *clock - 10,
				.attr = rs_attr(k),
				.kind = rs_kind(k),
				.op = rs_op(op),
			};

			ret = cw_rules__acquired(r, tid, &a, *clock);
			break;
		}
		}
		if (ret < 0)
			err = ret;
	}
	return err;
}

#endif /* __RULES_DRIVE_H */
