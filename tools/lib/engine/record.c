// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/record.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *name;
	size_t size;
} record_types[CW_EV_TYPE_MAX] = {
	[CW_EV_LOCK_BEGIN] = { "lock_begin", sizeof(struct cw_ev_lock) },
	[CW_EV_LOCK_ACQUIRED] = { "lock_acquired", sizeof(struct cw_ev_lock) },
	[CW_EV_LOCK_RELEASED] = { "lock_released", sizeof(struct cw_ev_lock) },
	[CW_EV_LOCK_INIT] = { "lock_init", sizeof(struct cw_ev_lock) },
	[CW_EV_LOCK_DESTROY] = { "lock_destroy", sizeof(struct cw_ev_lock) },
	[CW_EV_FUTEX_BEGIN] = { "futex_begin", sizeof(struct cw_ev_futex) },
	[CW_EV_FUTEX_END] = { "futex_end", sizeof(struct cw_ev_futex) },
	[CW_EV_SCHED_SWITCH] = { "sched_switch", sizeof(struct cw_ev_switch) },
	[CW_EV_SCHED_WAKEUP] = { "sched_wakeup", sizeof(struct cw_ev_wakeup) },
	[CW_EV_PRIO_CHANGE] = { "prio_change", sizeof(struct cw_ev_prio) },
	[CW_EV_KLOCK_BEGIN] = { "klock_begin", sizeof(struct cw_ev_klock) },
	[CW_EV_KLOCK_END] = { "klock_end", sizeof(struct cw_ev_klock) },
	[CW_EV_FORK] = { "fork", sizeof(struct cw_ev_fork) },
	[CW_EV_EXEC] = { "exec", sizeof(struct cw_ev_exec) },
	[CW_EV_EXIT] = { "exit", sizeof(struct cw_ev_exit) },
	[CW_EV_COMM] = { "comm", sizeof(struct cw_ev_comm) },
	[CW_EV_MMAP] = { "mmap", sizeof(struct cw_ev_mmap) },
	[CW_EV_LOCK_EDGE] = { "lock_edge", sizeof(struct cw_ev_edge) },
	[CW_EV_LOCK_STATS] = { "lock_stats", sizeof(struct cw_ev_lock_stats) },
	[CW_EV_STACK] = { "stack", sizeof(struct cw_ev_stack) },
	[CW_EV_USTACK_RAW] = { "ustack_raw", sizeof(struct cw_ev_ustack_raw) },
	[CW_EV_TICK] = { "tick", sizeof(struct cw_ev_tick) },
	[CW_EV_LOST] = { "lost", sizeof(struct cw_ev_lost) },
	[CW_EV_MODULE] = { "module", sizeof(struct cw_ev_module) },
	[CW_EV_THREAD_STATS] = { "thread_stats", sizeof(struct cw_ev_thread_stats) },
	[CW_EV_BLOCKED] = { "blocked", sizeof(struct cw_ev_blocked) },
	[CW_EV_PRIO_INVERSION] = { "prio_inversion", sizeof(struct cw_ev_pi) },
	[CW_EV_PRIO_STACKS] = { "prio_stacks", sizeof(struct cw_ev_pi_stacks) },
	[CW_EV_COST] = { "cost", offsetof(struct cw_ev_cost, target_cpu_ns) },
	[CW_EV_THREAD_STATE] = { "thread_state", sizeof(struct cw_ev_thread_state) },
	[CW_EV_LOOP_STALL] = { "loop_stall", sizeof(struct cw_ev_loop_stall) },
	[CW_EV_LOOP_STATS] = { "loop_stats", offsetof(struct cw_ev_loop_stats, iter_start_ns) },
	[CW_EV_LOOP_BLOCK] = { "loop_block", sizeof(struct cw_ev_loop_block) },
	[CW_EV_LOOP_SAMPLE] = { "loop_sample", sizeof(struct cw_ev_loop_sample) },
};

static const char *const lost_names[CW_LOST_MAX] = {
	[CW_LOST_RINGBUF] = "ring buffer full",
	[CW_LOST_MAP_FULL] = "tracking map full",
	[CW_LOST_HELD_OVERFLOW] = "held-lock set overflow",
	[CW_LOST_READER_BEHIND] = "reader fell behind",
	[CW_LOST_STACK] = "stack not captured",
	[CW_LOST_MALFORMED] = "malformed record",
};

static const char *const kind_names[] = {
	[CW_LOCK_MUTEX] = "mutex",
	[CW_LOCK_RWLOCK] = "rwlock",
	[CW_LOCK_SPIN] = "spin",
	[CW_LOCK_COND] = "cond",
	[CW_LOCK_KERNEL] = "kernel",
	[CW_LOCK_FUTEX] = "futex",
	[CW_LOCK_SEM] = "sem",
	[CW_LOCK_BARRIER] = "barrier",
	[CW_LOCK_LIBC] = "libc",
	[CW_LOCK_THREAD] = "thread",
};

static const char *const op_names[] = {
	[CW_OP_LOCK] = "lock",		 [CW_OP_TRYLOCK] = "trylock",
	[CW_OP_TIMEDLOCK] = "timedlock", [CW_OP_RDLOCK] = "rdlock",
	[CW_OP_TRYRDLOCK] = "tryrdlock", [CW_OP_TIMEDRDLOCK] = "timedrdlock",
	[CW_OP_WRLOCK] = "wrlock",	 [CW_OP_TRYWRLOCK] = "trywrlock",
	[CW_OP_TIMEDWRLOCK] = "timedwrlock", [CW_OP_UNLOCK] = "unlock",
	[CW_OP_INIT] = "init",		 [CW_OP_DESTROY] = "destroy",
	[CW_OP_COND_WAIT] = "cond_wait",
};

#define NAME_OR(table, i, dflt) ((i) < ARRAY_SIZE(table) && (table)[i] ? (table)[i] : (dflt))

size_t cw_record__min_size(unsigned int type)
{
	return type < CW_EV_TYPE_MAX ? record_types[type].size : 0;
}

const char *cw_record__type_name(unsigned int type)
{
	return type < CW_EV_TYPE_MAX && record_types[type].name ? record_types[type].name : "unknown";
}

const char *cw_lost__name(unsigned int what)
{
	return NAME_OR(lost_names, what, "unknown loss");
}

const char *cw_lock_kind__name(unsigned int kind)
{
	return NAME_OR(kind_names, kind, "lock");
}

const char *cw_lock_op__name(unsigned int op)
{
	return NAME_OR(op_names, op, "op?");
}

/* A NUL-terminated string of len bytes (NUL included) must fit in the record. */
static int check_string(const struct cw_hdr *h, size_t fixed, unsigned int len)
{
	const char *s = (const char *)h + fixed;

	if (len == 0 || fixed + len > h->size || s[len - 1] != '\0')
		return -EINVAL;
	return 0;
}

int cw_record__check(const void *buf, size_t len)
{
	const struct cw_hdr *h = buf;
	size_t min;

	if (len < sizeof(*h))
		return -EMSGSIZE;
	if (h->size < sizeof(*h) || h->size % 8)
		return -EINVAL;
	if (h->size > len)
		return -EMSGSIZE;
	min = cw_record__min_size(h->type);
	if (!min)
		return -ENOENT;
	if (h->size < min)
		return -EINVAL;

	switch (h->type) {
	case CW_EV_EXEC:
		return check_string(h, min, ((const struct cw_ev_exec *)h)->filename_len);
	case CW_EV_MMAP:
		return check_string(h, min, ((const struct cw_ev_mmap *)h)->filename_len);
	case CW_EV_MODULE: {
		const struct cw_ev_module *m = buf;

		if (m->build_id_len > sizeof(m->build_id) || m->end <= m->start)
			return -EINVAL;
		return check_string(h, min, m->path_len);
	}
	case CW_EV_STACK:
		/* an unknown space is a newer source's: well framed, the consumer skips it */
		return min + (size_t)((const struct cw_ev_stack *)h)->nr * sizeof(__u64) <= h->size ?
			       0 : -EINVAL;
	case CW_EV_USTACK_RAW:
		return min + ((const struct cw_ev_ustack_raw *)h)->len <= h->size ? 0 : -EINVAL;
	case CW_EV_LOST:
		/* a loss of a kind this build does not know is still a loss: keep it */
		return ((const struct cw_ev_lost *)h)->what ? 0 : -EINVAL;
	}
	return 0;
}

long cw_records__walk(const void *buf, size_t len, cw_record_fn fn, void *ctx, size_t *bad)
{
	const unsigned char *p = buf;
	size_t off = 0;
	int err;

	while (off < len) {
		const struct cw_hdr *h = (const void *)(p + off);

		err = cw_record__check(h, len - off);
		if (err == -ENOENT) {
			off += h->size;
			continue;
		}
		if (err) {
			if (bad)
				(*bad)++;
			break;
		}
		err = fn(ctx, h);
		if (err)
			return err;
		off += h->size;
	}
	return off;
}

int cw_record__format(const struct cw_hdr *h, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%llu.%09llu cpu%u %u/%u %s", (unsigned long long)(h->ts_ns / 1000000000),
		     (unsigned long long)(h->ts_ns % 1000000000), h->cpu, h->pid, h->tid,
		     cw_record__type_name(h->type));
	if (n < 0 || (size_t)n >= len)
		return n;
	buf += n;
	len -= n;

	switch (h->type) {
	case CW_EV_LOCK_BEGIN:
	case CW_EV_LOCK_ACQUIRED:
	case CW_EV_LOCK_RELEASED:
	case CW_EV_LOCK_INIT:
	case CW_EV_LOCK_DESTROY: {
		const struct cw_ev_lock *e = (const void *)h;

		return n + snprintf(buf, len, " %s %s 0x%llx ip=0x%llx wait=%llu result=%d",
				    cw_lock_kind__name(e->kind), cw_lock_op__name(e->op),
				    (unsigned long long)e->addr, (unsigned long long)e->ip,
				    (unsigned long long)e->wait_ns, e->result);
	}
	case CW_EV_FUTEX_BEGIN:
	case CW_EV_FUTEX_END: {
		const struct cw_ev_futex *e = (const void *)h;

		return n + snprintf(buf, len, " op=0x%x uaddr=0x%llx val=%u wait=%llu result=%d", e->op,
				    (unsigned long long)e->uaddr, e->val,
				    (unsigned long long)e->wait_ns, e->result);
	}
	case CW_EV_COMM:
		return n + snprintf(buf, len, " comm=%.*s", CW_COMM_LEN,
				    ((const struct cw_ev_comm *)h)->comm);
	case CW_EV_TICK:
		return n + snprintf(buf, len, " seq=%llu",
				    (unsigned long long)((const struct cw_ev_tick *)h)->seq);
	case CW_EV_COST: {
		const struct cw_ev_cost *e = (const void *)h;

		return n + snprintf(buf, len, " hits=%llu/%llu/%llu hit_ns=%u/%u/%u bpf=%llu tp=%llu "
				    "flags=0x%x",
				    (unsigned long long)e->hits[CW_TRAP_EMULATED],
				    (unsigned long long)e->hits[CW_TRAP_STEPPED],
				    (unsigned long long)e->hits[CW_TRAP_RETURN],
				    e->hit_ns[CW_TRAP_EMULATED], e->hit_ns[CW_TRAP_STEPPED],
				    e->hit_ns[CW_TRAP_RETURN], (unsigned long long)e->bpf_run_ns,
				    (unsigned long long)e->tp_run_ns, e->flags);
	}
	case CW_EV_LOST: {
		const struct cw_ev_lost *e = (const void *)h;

		return n + snprintf(buf, len, " %llu (%s)", (unsigned long long)e->count,
				    cw_lost__name(e->what));
	}
	}
	return n;
}
