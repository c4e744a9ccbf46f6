// SPDX-License-Identifier: GPL-2.0
/*
 * User-space lock calls: uprobes on the pthread functions, at the places userspace
 * computed for the BPF programs (tools/lib/source/bpf/probes.c), with handlers that do
 * what those programs do (bpf/cw_locks.bpf.h): the acquire in progress and the thread's
 * held set, the lock rules of include/concwatch/lockrules.h on them
 * (concwatch_rules.c), and the records of events.h.
 *
 * Each probe's consumer has a filter that admits only the target set's memory: a libc
 * is mapped by every process on the machine, and every one of them would take the trap
 * otherwise. The kernel asks the filter when the probe is registered and when a file is
 * mapped (exec, dlopen); uprobe_apply() is exported on neither 6.1 nor 6.12, so a change
 * of the target set registers the probes again. A forked child inherits its parent's
 * breakpoints with its memory; one that is not traced drops them at its first hit
 * (UPROBE_HANDLER_REMOVE).
 *
 * Handlers run in the task that hit the probe, preemptibly: what they change is the
 * current thread's own entry of the thread table (concwatch_trace.c), and user memory
 * is read with copy_from_user_nofault(), as the tracepoints read it. The statistics the
 * BPF programs keep in maps are left to userspace: every operation goes out as a record
 * (tools/lib/source/kmod.c sums them), the dependencies once per process.
 *
 * The uprobe API changed in 6.12: uprobe_register() returns the uprobe, unregistering
 * is uprobe_unregister_nosync() then one uprobe_unregister_sync() (CW_UPROBE_NOSYNC),
 * and the filter lost its context argument (CW_UPROBE_FILTER_CTX before). Kbuild finds
 * which from the headers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/mm_types.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/uprobes.h>
#include <linux/vmalloc.h>

#include <concwatch/events.h>
#include <concwatch/glibc.h>
#include <concwatch/kmod.h>

#include "concwatch.h"

#define CW_COND_BYTES 48	/* glibc's pthread_cond_t */

#define CW_FP_MAX 32		/* frames of a call path's id, pc and [sp] included */
#define CW_STACK_WINDOW (8 << 20) /* a frame pointer further above %rsp is garbage */
#define CW_TABLE_BITS 14	/* user stacks, dependencies sent; lifetimes */

struct cw_uprobe {
	struct uprobe_consumer uc;
	struct file *file;	/* holds the inode */
	loff_t offset;
	u64 cookie;
	u32 shape;
	u32 flags;
#ifdef CW_UPROBE_NOSYNC
	struct uprobe *up;
#endif
	bool registered;
};

static struct cw_uprobe cw_uprobes[CW_KMOD_MAX_PROBES];
static unsigned int cw_nr_uprobes;
static bool cw_uprobes_on;	/* the ULOCK class is on: probes are registered */

static u32 cw_stack_bytes;
static u32 cw_fp_depth = 16;
static bool cw_lock_begin;

/* Every trap counts one: per CPU, so that the traps of many threads share no line. */
static DEFINE_PER_CPU(u64, cw_probe_hits);
static atomic64_t cw_lost_held, cw_lost_stacks;

static u64 *cw_ustacks_seen;	/* (process, user stack) whose frames were sent */
static u64 *cw_edges_seen;	/* (process, dependency) sent */

/* A lock's lifetime: pthread_*_init and _destroy start a new one (lockrules.h). */
struct cw_gen {
	u64 key;		/* hash of (process, address); 0: free */
	u32 gen;
	u32 pad;
};

static struct cw_gen *cw_gens;

/* One copy of a user stack at a time per CPU, built with preemption off. */
struct cw_raw_rec {
	struct cw_ev_ustack_raw hdr;
	u8 data[CW_KMOD_STACK_BYTES_MAX];
};

static struct cw_raw_rec *cw_raw;	/* one per possible CPU: too big for alloc_percpu() */

/* ---- reading the target's memory ---- */

static int cw_peek(void *dst, u64 uaddr, size_t len)
{
	return copy_from_user_nofault(dst, (const void __user *)(unsigned long)uaddr, len) ?
		       -EFAULT : 0;
}

static u32 cw_peek_u32(u64 uaddr)
{
	u32 v = 0;

	cw_peek(&v, uaddr, sizeof(v));
	return v;
}

/* What the lock's own memory says about it: recursive? writer-preferring? (glibc.h) */
static u16 cw_read_attr(u64 addr, u8 kind)
{
	u32 word;

	if (kind == CW_LOCK_MUTEX)
		return cw_peek(&word, addr + CW_GLIBC_MUTEX_KIND_OFF, sizeof(word)) ? 0 :
			cw_glibc_mutex_attr(word);
	if (kind == CW_LOCK_RWLOCK)
		return cw_peek(&word, addr + CW_GLIBC_RWLOCK_FLAGS_OFF, sizeof(word)) ? 0 :
			cw_glibc_rwlock_attr(word);
	return CW_ATTR_KNOWN;
}

/* Who holds the lock, as its memory says; 0 when it does not say (glibc.h). */
static u32 cw_lock_owner(u64 addr, u8 kind, u16 attr)
{
	u32 mask;
	int off = cw_glibc_owner_word(kind, attr, &mask);

	return off < 0 ? 0 : cw_peek_u32(addr + off) & mask;
}

/* ---- user stacks: an id per call path, its frames and a raw copy sent once ---- */

/* ret can be a return address: user code that a call instruction precedes. */
static bool cw_plausible_return(u64 ret)
{
	u8 code[8];
	int k;

	if (ret < 4096 || ret >= TASK_SIZE_MAX || cw_peek(code, ret - sizeof(code), sizeof(code)))
		return false;
	if (code[3] == 0xe8)
		return true;	/* call rel32 */
	for (k = 2; k <= 7; k++)	/* call r/m64 (ff /2), REX prefixes included */
		if (k != 5 && code[8 - k] == 0xff && (code[9 - k] & 0x38) == 0x10)
			return true;
	return false;
}

static u64 cw_hash_user(const u64 *ips, unsigned int nr, u64 seed)
{
	u64 h = 0xcbf29ce484222325ULL ^ seed;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		h ^= ips[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h | 1;
}

/* The top of the user stack, a page at a time (a fault stops the copy, not all of it). */
static int cw_emit_raw(u64 id, u64 ip, u64 sp, u64 bp, u64 fix_slot, u64 fix_val)
{
	u32 len = 0, want = cw_stack_bytes;
	u16 flags = CW_STACK_TRUNCATED;
	struct cw_raw_rec *r;
	int err;

	preempt_disable();
	r = &cw_raw[smp_processor_id()];
	while (len < want) {
		u32 chunk = PAGE_SIZE - ((sp + len) & (PAGE_SIZE - 1));

		chunk = min(chunk, want - len);
		if (cw_peek(r->data + len, sp + len, chunk)) {
			/* the end of the stack mapping: the copy is the whole stack */
			flags = len ? 0 : CW_STACK_FAULTED;
			if (!len)
				atomic64_inc(&cw_lost_stacks);
			break;
		}
		len += chunk;
	}
	len &= ~7U;
	/* a return address the kernel swapped for its uretprobe trampoline: the real one */
	if (fix_slot >= sp && fix_slot + 8 <= sp + len)
		memcpy(r->data + (fix_slot - sp), &fix_val, sizeof(fix_val));
	cw_hdr_init(&r->hdr.hdr, CW_EV_USTACK_RAW, sizeof(r->hdr) + len, ktime_get_ns(),
		    current);
	r->hdr.stack_id = id;
	r->hdr.ip = ip;
	r->hdr.sp = sp;
	r->hdr.bp = bp;
	r->hdr.len = len;
	r->hdr.flags = len < want ? flags : CW_STACK_TRUNCATED;
	r->hdr.pad = 0;
	err = cw_ring_write(&r->hdr.hdr);
	preempt_enable();
	return err;
}

/*
 * concwatch.h. The pc, the return address at [sp] when the probe is at a function's
 * entry, then a frame-pointer walk that stops at the first frame that cannot be one. A
 * new id is sent with its frames and, with raw and stack_bytes, a copy of the stack for
 * DWARF unwinding in userspace (cw_stack.bpf.h does the same).
 */
u64 cw_ustack_id(u64 ip, u64 sp, u64 bp, bool at_entry, u64 seed, bool raw, u64 fix_slot,
		 u64 fix_val)
{
	struct {
		struct cw_ev_stack s;
		u64 ips[CW_FP_MAX];
	} r;
	u64 lo = sp, fp = bp, id, *slot;
	unsigned int nr = 0, i;
	u16 flags = 0;

	r.ips[nr++] = ip;
	if (at_entry && !cw_peek(&r.ips[1], sp, sizeof(u64)))
		nr++;
	for (i = 0;; i++) {
		u64 frame[2];

		if (i >= cw_fp_depth || nr >= CW_FP_MAX) {
			flags = CW_STACK_TRUNCATED;
			break;
		}
		if (fp < lo || fp >= sp + CW_STACK_WINDOW || (fp & 7))
			break;
		if (cw_peek(frame, fp, sizeof(frame)) || !cw_plausible_return(frame[1]))
			break;
		r.ips[nr++] = frame[1];
		lo = fp + sizeof(frame);
		fp = frame[0];
	}
	id = cw_hash_user(r.ips, nr, seed);
	if (!cw_first_sight(cw_ustacks_seen, CW_TABLE_BITS, current->tgid, id, &slot))
		return id;
	cw_hdr_init(&r.s.hdr, CW_EV_STACK, sizeof(r.s) + nr * sizeof(u64), ktime_get_ns(),
		    current);
	r.s.stack_id = id;
	r.s.space = CW_STACK_USER;
	r.s.nr = nr;
	r.s.flags = flags;
	r.s.pad = 0;
	/* no room: the next sighting sends it */
	if (cw_ring_write(&r.s.hdr) ||
	    (raw && cw_stack_bytes && cw_emit_raw(id, ip, sp, bp, fix_slot, fix_val)))
		cw_forget_sight(slot);
	return id;
}

/* ---- lifetimes and dependencies ---- */

static u64 cw_gen_key(u32 tgid, u64 addr)
{
	return (addr ^ hash_64(tgid, 64)) ?: 1;
}

static struct cw_gen *cw_gen_slot(u32 tgid, u64 addr, bool create)
{
	u64 key = cw_gen_key(tgid, addr);
	u32 i, h = hash_64(key, CW_TABLE_BITS), mask = (1U << CW_TABLE_BITS) - 1;

	for (i = 0; i < 32; i++) {
		struct cw_gen *g = &cw_gens[(h + i) & mask];
		u64 v = READ_ONCE(g->key);

		if (v == key)
			return g;
		if (v || !create)
			continue;
		v = cmpxchg(&g->key, 0, key);
		if (!v || v == key)
			return g;
	}
	return NULL;
}

static u32 cw_lock_gen(u32 tgid, u64 addr)
{
	struct cw_gen *g = cw_gen_slot(tgid, addr, false);

	return g ? READ_ONCE(g->gen) : 0;
}

/* concwatch.h: a dependency, sent unless this process sent it before. */
void cw_ulock_emit_edge(const struct cw_edge_id *id, const struct cw_held_lock *from,
			const struct cw_rules_acq *to)
{
	struct cw_ev_edge e = {};
	u64 *slot;

	if (!cw_first_sight(cw_edges_seen, CW_TABLE_BITS, current->tgid,
			    cw_hash_user((const u64 *)id, sizeof(*id) / sizeof(u64), 0), &slot))
		return;
	cw_hdr_init(&e.hdr, CW_EV_LOCK_EDGE, sizeof(e), ktime_get_ns(), current);
	cw_rules_edge_record(&e, id, from, to);
	if (cw_ring_write(&e.hdr))
		cw_forget_sight(slot);
}

/* ---- records ---- */

static void cw_emit_lock(u16 type, u16 flags, u64 addr, u64 addr2, u8 kind, u8 op, u16 attr,
			 u64 ip, u64 stack_id, u64 wait_ns, s32 result, u64 ts)
{
	struct cw_ev_lock e = {};

	cw_hdr_init(&e.hdr, type, sizeof(e), ts, current);
	e.hdr.flags = flags;
	e.addr = addr;
	e.ip = ip;
	e.stack_id = stack_id;
	e.wait_ns = wait_ns;
	e.result = result;
	e.attr = attr;
	e.kind = kind;
	e.op = op;
	e.addr2 = addr2;
	cw_ring_write(&e.hdr);
}

/* The blocked-acquire record: CW_OFFCPU_LOCK as the wait begins, _NONE when it ended. */
static void cw_emit_blocked(const struct cw_pending_lock *p, u8 reason, u32 owner, u64 ts)
{
	struct cw_ev_blocked e = {};

	cw_hdr_init(&e.hdr, CW_EV_BLOCKED, sizeof(e), ts, current);
	e.addr = p->a.addr;
	e.since_ns = p->a.begin_ns;
	e.stack_id = p->a.stack_id;
	e.owner_tid = owner;
	e.reason = reason;
	e.kind = p->a.kind;
	e.op = p->a.op;
	cw_ring_write(&e.hdr);
}

/* ---- the handlers ---- */

static struct cw_locks *cw_locks_of(struct cw_thread *t)
{
	if (!t->locks) {
		/* in the thread's own trap, which must not sleep on 6.12 */
		t->locks = kzalloc(sizeof(*t->locks), GFP_NOWAIT | __GFP_NOWARN);
		if (!t->locks)
			atomic64_inc(&cw_lost_held);
	}
	return t->locks;
}

void cw_locks_free(struct cw_thread *t)
{
	kfree(t->locks);
	t->locks = NULL;
}

/* The caller, at [sp]: every probe sits where the return address is there. */
static u64 cw_caller(struct pt_regs *regs)
{
	u64 ip = 0;

	cw_peek(&ip, regs->sp, sizeof(ip));
	return ip;
}

static void cw_acquire_enter(struct pt_regs *regs, u64 addr, u64 addr2, u8 kind, u8 op)
{
	struct cw_thread *t = cw_thread_get(current->pid);
	struct cw_pending_lock *p;
	struct cw_locks *lk;

	lk = t ? cw_locks_of(t) : NULL;
	if (!lk)
		return;
	p = &lk->p;
	/* a retry loop that jumps back to the probed instruction: begun the first time */
	if (p->active && p->a.addr == addr && p->a.op == op)
		return;
	/* an acquire whose return was not seen ended before this one began */
	if (p->active && p->blocked)
		cw_emit_blocked(p, CW_OFFCPU_NONE, 0, ktime_get_ns());
	WRITE_ONCE(p->active, 0);
	barrier();
	memset(p, 0, sizeof(*p));
	p->a.addr = addr;
	p->addr2 = addr2;
	p->a.kind = kind;
	p->a.op = op;
	p->a.ip = cw_caller(regs);
	p->ret_slot = regs->sp;
	p->a.attr = cw_read_attr(addr, kind);
	p->a.stack_id = cw_ustack_id(regs->ip, regs->sp, regs->bp, true, 0, true, 0, 0);
	p->a.begin_ns = ktime_get_ns();
	/* the sched_switch probe reads it: whole before it counts */
	barrier();
	WRITE_ONCE(p->active, 1);
	if (cw_lock_begin && !cw_rules_op_try(op))
		cw_emit_lock(CW_EV_LOCK_BEGIN, 0, addr, addr2, kind, op, p->a.attr, p->a.ip,
			     p->a.stack_id, 0, 0, p->a.begin_ns);
}

/* The acquire returned: acquired < 0, the return value says whether it took the lock. */
static void cw_acquire_exit(struct pt_regs *regs, int acquired)
{
	struct cw_thread *t = cw_thread_find(current->pid);
	struct cw_pending_lock *p;
	u64 now = ktime_get_ns();
	s32 ret;

	if (!t || !t->locks || !t->locks->p.active)
		return; /* the entry was not seen (attached mid-call) */
	p = &t->locks->p;
	ret = (s32)regs->ax;
	if (acquired < 0)
		acquired = cw_rules_op_acquired(p->a.op, ret);
	if (p->blocked)
		cw_emit_blocked(p, CW_OFFCPU_NONE, 0, now);
	/*
	 * A busy or timed-out attempt names the holder its lock's memory says, in addr2
	 * (events.h): the livelock rule needs who made it fail (the BPF programs put it
	 * in the thread's CW_SITE_TRY entry; userspace does it here from the record)
	 */
	if (!acquired && (ret == EBUSY || ret == ETIMEDOUT))
		p->addr2 = cw_lock_owner(p->a.addr, p->a.kind, p->a.attr);
	cw_emit_lock(CW_EV_LOCK_ACQUIRED, p->a.contended ? CW_F_CONTENDED : 0, p->a.addr,
		     p->addr2, p->a.kind, p->a.op, p->a.attr, p->a.ip, p->a.stack_id,
		     now - p->a.begin_ns, acquired ? 0 : (ret ?: -1), now);
	if (acquired) {
		p->a.gen = cw_lock_gen(current->tgid, p->a.addr);
		if (cw_rules_acquired_k(&t->locks->held, &p->a, now) == CW_RULES_OVERFLOW)
			atomic64_inc(&cw_lost_held);
	}
	WRITE_ONCE(p->active, 0);
}

static void cw_release(struct pt_regs *regs, u64 addr, u64 addr2, u8 kind, u8 op)
{
	struct cw_thread *t = cw_thread_find(current->pid);
	u64 now = ktime_get_ns(), hold = 0, stack_id = 0;

	if (t && t->locks)
		cw_rules_released_k(&t->locks->held, addr, now, &hold, &stack_id);
	/* the hold is the acquire's call path's: its stack id, as the statistics key it */
	cw_emit_lock(CW_EV_LOCK_RELEASED, 0, addr, addr2, kind, op, 0, cw_caller(regs), stack_id,
		     hold, 0, now);
}

static void cw_reset(struct pt_regs *regs, u64 addr, u8 kind, u8 op)
{
	struct cw_gen *g = cw_gen_slot(current->tgid, addr, true);

	if (g)
		WRITE_ONCE(g->gen, cw_rules_next_gen(READ_ONCE(g->gen)));
	cw_emit_lock(op == CW_OP_INIT ? CW_EV_LOCK_INIT : CW_EV_LOCK_DESTROY, 0, addr, 0, kind, op,
		     op == CW_OP_INIT ? 0 : cw_read_attr(addr, kind), cw_caller(regs), 0, 0, 0,
		     ktime_get_ns());
}

static int cw_uprobe_handler(struct uprobe_consumer *uc, struct pt_regs *regs)
{
	struct cw_uprobe *u = container_of(uc, struct cw_uprobe, uc);
	u8 kind = CW_PROBE_COOKIE_KIND(u->cookie), op = CW_PROBE_COOKIE_OP(u->cookie);

	/* a process that is not traced (a child that inherited the breakpoint) drops it */
	if (!cw_traced(current->tgid, NULL))
		return UPROBE_HANDLER_REMOVE;
	this_cpu_inc(cw_probe_hits);
	switch (u->shape) {
	case CW_KMOD_P_ACQUIRE:
		cw_acquire_enter(regs, regs->di, 0, kind, op);
		break;
	case CW_KMOD_P_RELEASE:
		cw_release(regs, regs->di, 0, kind, CW_OP_UNLOCK);
		break;
	case CW_KMOD_P_RESET:
		cw_reset(regs, regs->di, kind, op);
		break;
	case CW_KMOD_P_COND_WAIT:
		/* glibc releases the mutex inside, and takes it again before returning */
		cw_release(regs, regs->si, regs->di, CW_LOCK_MUTEX, CW_OP_COND_WAIT);
		cw_acquire_enter(regs, regs->si, regs->di, CW_LOCK_MUTEX, CW_OP_COND_WAIT);
		break;
	case CW_KMOD_P_SPIN_TAKEN:
		/* after pthread_spin_lock took the lock: the acquire is over, its wait not seen */
		cw_acquire_enter(regs, regs->di, 0, CW_LOCK_SPIN, CW_OP_LOCK);
		cw_acquire_exit(regs, 1);
		break;
	}
	return 0;
}

static int cw_uprobe_ret_handler(struct uprobe_consumer *uc, unsigned long func,
				 struct pt_regs *regs)
{
	if (!cw_traced(current->tgid, NULL))
		return 0;
	this_cpu_inc(cw_probe_hits);
	cw_acquire_exit(regs, -1);
	return 0;
}

/* ---- from the tracepoints (concwatch_trace.c), in the current thread t ---- */

static bool cw_cond_wait_word(const struct cw_pending_lock *p, u64 uaddr)
{
	return p->a.op == CW_OP_COND_WAIT && p->addr2 && uaddr - p->addr2 < CW_COND_BYTES;
}

/* A blocking futex call begins: inside an acquire, on its lock's words, it contends. */
bool cw_ulock_futex_wait(struct cw_thread *t, u64 uaddr)
{
	struct cw_pending_lock *p = t->locks ? &t->locks->p : NULL;

	if (!p || !READ_ONCE(p->active) || cw_cond_wait_word(p, uaddr))
		return false;
	p->a.contended = 1;
	return true;
}

/* cond_wait's wait for the condition is over: its mutex's acquire begins now. */
void cw_ulock_futex_done(struct cw_thread *t, u64 uaddr, u64 now)
{
	struct cw_pending_lock *p = t->locks ? &t->locks->p : NULL;

	if (p && READ_ONCE(p->active) && cw_cond_wait_word(p, uaddr))
		p->a.begin_ns = now;
}

/*
 * It goes to sleep in a futex wait on uaddr: when that is its acquire's lock, the first
 * time in this acquire its dependencies (the rules) and its blocked record; a new
 * holder after a wakeup is said again, or the wait-for graph would keep the old one.
 */
bool cw_ulock_sleeps(struct cw_thread *t, u64 uaddr, u64 *addr)
{
	struct cw_pending_lock *p = t->locks ? &t->locks->p : NULL;
	u32 owner;

	*addr = uaddr;
	if (!p || !READ_ONCE(p->active) || uaddr - p->a.addr >= CW_LOCK_WORDS)
		return false;
	*addr = p->a.addr;
	owner = cw_lock_owner(p->a.addr, p->a.kind, p->a.attr);
	if (p->blocked) {
		if (owner != p->blocked_owner) {
			p->blocked_owner = owner;
			cw_emit_blocked(p, CW_OFFCPU_LOCK, owner, ktime_get_ns());
		}
		return true;
	}
	p->blocked = 1;
	p->blocked_owner = owner;
	p->a.gen = cw_lock_gen(current->tgid, p->a.addr);
	cw_rules_waits_k(&t->locks->held, &p->a);
	cw_emit_blocked(p, CW_OFFCPU_LOCK, owner, ktime_get_ns());
	return true;
}

/* The current thread's acquire in progress, or NULL: a futex call inside it. */
const struct cw_pending_lock *cw_ulock_pending(const struct cw_thread *t)
{
	const struct cw_pending_lock *p = t && t->locks ? &t->locks->p : NULL;

	return p && READ_ONCE(p->active) ? p : NULL;
}

/* ---- registration ---- */

/* Whether mm is a traced process's: its owner's tgid (CONFIG_MEMCG), or current's. */
static bool cw_mm_traced(struct mm_struct *mm)
{
	bool traced = true;

	if (current->mm == mm)
		return cw_traced(current->tgid, NULL);
#ifdef CONFIG_MEMCG
	{
		struct task_struct *owner;

		rcu_read_lock();
		owner = rcu_dereference(mm->owner);
		traced = owner && cw_traced(owner->tgid, NULL);
		rcu_read_unlock();
	}
#endif
	/* without an owner to ask: every process, and the handlers tell them apart */
	return traced;
}

#ifdef CW_UPROBE_FILTER_CTX
static bool cw_uprobe_filter(struct uprobe_consumer *uc, enum uprobe_filter_ctx ctx,
			     struct mm_struct *mm)
{
	return cw_mm_traced(mm);
}
#else
static bool cw_uprobe_filter(struct uprobe_consumer *uc, struct mm_struct *mm)
{
	return cw_mm_traced(mm);
}
#endif

static int cw_uprobe_register(struct cw_uprobe *u)
{
	struct inode *inode = file_inode(u->file);

#ifdef CW_UPROBE_NOSYNC
	struct uprobe *up = uprobe_register(inode, u->offset, 0, &u->uc);

	if (IS_ERR(up))
		return PTR_ERR(up);
	u->up = up;
#else
	int err = uprobe_register(inode, u->offset, &u->uc);

	if (err)
		return err;
#endif
	u->registered = true;
	return 0;
}

/* Every probe unregistered; no handler runs any more when this returns. */
static void cw_uprobes_unregister(void)
{
	unsigned int i, any = 0;

	for (i = 0; i < cw_nr_uprobes; i++) {
		struct cw_uprobe *u = &cw_uprobes[i];

		if (!u->registered)
			continue;
#ifdef CW_UPROBE_NOSYNC
		uprobe_unregister_nosync(u->up, &u->uc);
		u->up = NULL;
#else
		/* waits for the handlers running on it */
		uprobe_unregister(file_inode(u->file), u->offset, &u->uc);
#endif
		u->registered = false;
		any++;
	}
#ifdef CW_UPROBE_NOSYNC
	if (any)
		uprobe_unregister_sync();
#endif
	pr_debug("%u uprobes unregistered\n", any);
}

static int cw_uprobes_register(void)
{
	unsigned int i;
	int err;

	for (i = 0; i < cw_nr_uprobes; i++) {
		err = cw_uprobe_register(&cw_uprobes[i]);
		if (err) {
			pr_err("failed to register a uprobe at %pD+%#llx: %d\n",
			       cw_uprobes[i].file, (u64)cw_uprobes[i].offset, err);
			cw_uprobes_unregister();
			return err;
		}
	}
	return 0;
}

int cw_uprobes_add(const struct cw_kmod_probe *p)
{
	struct cw_uprobe *u;
	struct file *file;
	int err;

	if (p->shape < CW_KMOD_P_ACQUIRE || p->shape > CW_KMOD_P_SPIN_TAKEN ||
	    p->flags & ~CW_KMOD_P_RET || p->pad ||
	    (p->flags & CW_KMOD_P_RET && p->shape != CW_KMOD_P_ACQUIRE &&
	     p->shape != CW_KMOD_P_COND_WAIT))
		return -EINVAL;
	if (cw_nr_uprobes == CW_KMOD_MAX_PROBES)
		return -ENOSPC;
	file = fget(p->fd);
	if (!file)
		return -EBADF;
	if (!S_ISREG(file_inode(file)->i_mode) || p->offset >= i_size_read(file_inode(file))) {
		fput(file);
		return -EINVAL;
	}
	u = &cw_uprobes[cw_nr_uprobes];
	memset(u, 0, sizeof(*u));
	u->file = file;
	u->offset = p->offset;
	u->cookie = p->cookie;
	u->shape = p->shape;
	u->flags = p->flags;
	u->uc.handler = cw_uprobe_handler;
	if (p->flags & CW_KMOD_P_RET)
		u->uc.ret_handler = cw_uprobe_ret_handler;
	u->uc.filter = cw_uprobe_filter;
	if (cw_uprobes_on) {
		err = cw_uprobe_register(u);
		if (err) {
			fput(file);
			u->file = NULL;
			return err;
		}
	}
	cw_nr_uprobes++;
	return 0;
}

int cw_uprobes_clear(void)
{
	unsigned int i;

	if (cw_uprobes_on)
		return -EBUSY;
	for (i = 0; i < cw_nr_uprobes; i++) {
		fput(cw_uprobes[i].file);
		cw_uprobes[i].file = NULL;
	}
	cw_nr_uprobes = 0;
	return 0;
}

int cw_uprobes_start(u32 stack_bytes, u32 fp_depth, bool begin)
{
	int err, cpu;

	cw_stack_bytes = stack_bytes;
	cw_fp_depth = fp_depth ?: 16;
	cw_lock_begin = begin;
	for_each_possible_cpu(cpu)
		per_cpu(cw_probe_hits, cpu) = 0;
	atomic64_set(&cw_lost_held, 0);
	atomic64_set(&cw_lost_stacks, 0);
	/* a new reader has seen nothing: every stack, dependency and lifetime is new */
	memset(cw_ustacks_seen, 0, sizeof(u64) << CW_TABLE_BITS);
	memset(cw_edges_seen, 0, sizeof(u64) << CW_TABLE_BITS);
	memset(cw_gens, 0, sizeof(*cw_gens) << CW_TABLE_BITS);
	err = cw_uprobes_register();
	if (!err)
		cw_uprobes_on = true;
	return err;
}

void cw_uprobes_stop(void)
{
	if (!cw_uprobes_on)
		return;
	cw_uprobes_unregister();
	cw_uprobes_on = false;
}

int cw_uprobes_retarget(void)
{
	if (!cw_uprobes_on || !cw_nr_uprobes)
		return 0;
	/* the filters are asked at registration: the new set's memory gets the breakpoints */
	cw_uprobes_unregister();
	return cw_uprobes_register();
}

void cw_uprobes_stats(u64 *hits, u64 *lost_held, u64 *lost_stacks)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu(cw_probe_hits, cpu));
	*hits = sum;
	*lost_held = atomic64_read(&cw_lost_held);
	*lost_stacks = atomic64_read(&cw_lost_stacks);
}

int cw_uprobes_init(void)
{
	BUILD_BUG_ON(sizeof(struct cw_raw_rec) > CW_RECORD_MAX);
	BUILD_BUG_ON(sizeof(struct cw_edge_id) % sizeof(u64));
	cw_ustacks_seen = vzalloc(sizeof(u64) << CW_TABLE_BITS);
	cw_edges_seen = vzalloc(sizeof(u64) << CW_TABLE_BITS);
	cw_gens = vzalloc(sizeof(*cw_gens) << CW_TABLE_BITS);
	cw_raw = vmalloc_array(nr_cpu_ids, sizeof(*cw_raw));
	if (!cw_ustacks_seen || !cw_edges_seen || !cw_gens || !cw_raw) {
		cw_uprobes_free();
		return -ENOMEM;
	}
	return 0;
}

void cw_uprobes_free(void)
{
	cw_uprobes_clear();
	vfree(cw_raw);
	cw_raw = NULL;
	vfree(cw_gens);
	cw_gens = NULL;
	vfree(cw_edges_seen);
	cw_edges_seen = NULL;
	vfree(cw_ustacks_seen);
	cw_ustacks_seen = NULL;
}
