// SPDX-License-Identifier: GPL-2.0
/*
 * concwatch BPF programs: user-space lock operations through uprobes on the target's
 * libc (cw_locks.bpf.h), futex(2) calls and kernel lock contention through
 * tracepoints, and the life of the target's threads. Every record carries the id of
 * its stack (cw_stack.bpf.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "cw_common.bpf.h"
#include "cw_locks.bpf.h"
#include "cw_stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * One wrapper per glibc function; the logic lives in cw_locks.bpf.h. Entry programs
 * read the arguments (and [sp]): userspace places them where those registers and %rsp
 * are still as at the call (tools/lib/source/placement.c).
 */
#define ACQUIRE(func, kind, op)                                        \
	SEC("uprobe")                                                  \
	int BPF_KPROBE(uprobe_##func, void *lock)                      \
	{                                                              \
		return acquire_enter(ctx, (__u64)lock, 0, kind, op);   \
	}                                                              \
	SEC("uretprobe")                                               \
	int BPF_KRETPROBE(uretprobe_##func)                            \
	{                                                              \
		return acquire_exit(ctx, -1);                          \
	}

#define RELEASE(func, kind)                                                  \
	SEC("uprobe")                                                        \
	int BPF_KPROBE(uprobe_##func, void *lock)                            \
	{                                                                    \
		return release(ctx, (__u64)lock, 0, kind, CW_OP_UNLOCK);     \
	}

#define RESET(func, kind, op)                                    \
	SEC("uprobe")                                            \
	int BPF_KPROBE(uprobe_##func, void *lock)                \
	{                                                        \
		return lock_reset(ctx, (__u64)lock, kind, op);   \
	}

/*
 * glibc releases the mutex inside cond_wait and takes it again before returning. Each
 * half in a frame of its own: the release's bpf_loop() callback stacked on the acquire's
 * frame passes the 512-byte stack limit.
 */
static __noinline int cond_wait_release(struct pt_regs *ctx, __u64 cond, __u64 mutex)
{
	return release(ctx, mutex, cond, CW_LOCK_MUTEX, CW_OP_COND_WAIT);
}

static __noinline int cond_wait_enter(struct pt_regs *ctx, __u64 cond, __u64 mutex)
{
	return acquire_enter(ctx, mutex, cond, CW_LOCK_MUTEX, CW_OP_COND_WAIT);
}

#define COND_WAIT(func)                                                                 \
	SEC("uprobe")                                                                   \
	int BPF_KPROBE(uprobe_##func, void *cond, void *mutex)                          \
	{                                                                               \
		cond_wait_release(ctx, (__u64)cond, (__u64)mutex);                      \
		return cond_wait_enter(ctx, (__u64)cond, (__u64)mutex);                 \
	}                                                                               \
	SEC("uretprobe")                                                                \
	int BPF_KRETPROBE(uretprobe_##func)                                             \
	{                                                                               \
		/* a timed-out wait takes the mutex again too: cw_rules_op_acquired() */ \
		return acquire_exit(ctx, -1);                                           \
	}

ACQUIRE(pthread_mutex_lock, CW_LOCK_MUTEX, CW_OP_LOCK)
ACQUIRE(pthread_mutex_trylock, CW_LOCK_MUTEX, CW_OP_TRYLOCK)
ACQUIRE(pthread_mutex_timedlock, CW_LOCK_MUTEX, CW_OP_TIMEDLOCK)
ACQUIRE(pthread_mutex_clocklock, CW_LOCK_MUTEX, CW_OP_TIMEDLOCK)
RELEASE(pthread_mutex_unlock, CW_LOCK_MUTEX)
RESET(pthread_mutex_init, CW_LOCK_MUTEX, CW_OP_INIT)
RESET(pthread_mutex_destroy, CW_LOCK_MUTEX, CW_OP_DESTROY)

/*
 * glibc built with --enable-systemtap (Fedora's) marks its lock operations with SDT
 * notes, provider "libc": userspace attaches these to them instead of uprobes on the
 * functions. A note sits inside the function: no return address at [sp] (its cookie
 * says where it is: tools/lib/source/sdt.c), no return probe; the "acquired" note is
 * the successful return.
 */
#define SDT_ENTER(note, kind, op)                                                  \
	SEC("usdt")                                                                \
	int BPF_USDT(usdt_##note, void *lock)                                      \
	{                                                                          \
		return acquire_enter_at(ctx, (__u64)lock, 0, kind, op, 0,          \
					bpf_usdt_cookie(ctx));                     \
	}

#define SDT_ACQUIRED(note)                               \
	SEC("usdt")                                      \
	int BPF_USDT(usdt_##note, void *lock)            \
	{                                                \
		return acquire_exit(ctx, 1);             \
	}

#define SDT_RELEASE(note, kind)                                                 \
	SEC("usdt")                                                             \
	int BPF_USDT(usdt_##note, void *lock)                                   \
	{                                                                       \
		return release(ctx, (__u64)lock, 0, kind, CW_OP_UNLOCK);        \
	}

#define SDT_RESET(note, kind, op)                                               \
	SEC("usdt")                                                             \
	int BPF_USDT(usdt_##note, void *lock)                                   \
	{                                                                       \
		return lock_reset_at(ctx, (__u64)lock, kind, op, 0,             \
				     bpf_usdt_cookie(ctx));                     \
	}

SDT_ENTER(mutex_entry, CW_LOCK_MUTEX, CW_OP_LOCK)
SDT_ACQUIRED(mutex_acquired)
SDT_ENTER(mutex_timedlock_entry, CW_LOCK_MUTEX, CW_OP_TIMEDLOCK)
SDT_ACQUIRED(mutex_timedlock_acquired)
SDT_RELEASE(mutex_release, CW_LOCK_MUTEX)
SDT_RESET(mutex_init, CW_LOCK_MUTEX, CW_OP_INIT)
SDT_RESET(mutex_destroy, CW_LOCK_MUTEX, CW_OP_DESTROY)
SDT_ENTER(rdlock_entry, CW_LOCK_RWLOCK, CW_OP_RDLOCK)
SDT_ACQUIRED(rdlock_acquire_read)
SDT_ENTER(wrlock_entry, CW_LOCK_RWLOCK, CW_OP_WRLOCK)
SDT_ACQUIRED(wrlock_acquire_write)
SDT_RELEASE(rwlock_unlock, CW_LOCK_RWLOCK)
SDT_RESET(rwlock_destroy, CW_LOCK_RWLOCK, CW_OP_DESTROY)

/* --track-free: free() (operator delete calls it) ends the history of locks inside. */
SEC("uprobe")
int BPF_KPROBE(uprobe_free, void *ptr)
{
	return lock_memory_freed(ctx, (__u64)ptr);
}

ACQUIRE(pthread_rwlock_rdlock, CW_LOCK_RWLOCK, CW_OP_RDLOCK)
ACQUIRE(pthread_rwlock_tryrdlock, CW_LOCK_RWLOCK, CW_OP_TRYRDLOCK)
ACQUIRE(pthread_rwlock_timedrdlock, CW_LOCK_RWLOCK, CW_OP_TIMEDRDLOCK)
ACQUIRE(pthread_rwlock_clockrdlock, CW_LOCK_RWLOCK, CW_OP_TIMEDRDLOCK)
ACQUIRE(pthread_rwlock_wrlock, CW_LOCK_RWLOCK, CW_OP_WRLOCK)
ACQUIRE(pthread_rwlock_trywrlock, CW_LOCK_RWLOCK, CW_OP_TRYWRLOCK)
ACQUIRE(pthread_rwlock_timedwrlock, CW_LOCK_RWLOCK, CW_OP_TIMEDWRLOCK)
ACQUIRE(pthread_rwlock_clockwrlock, CW_LOCK_RWLOCK, CW_OP_TIMEDWRLOCK)
RELEASE(pthread_rwlock_unlock, CW_LOCK_RWLOCK)
RESET(pthread_rwlock_init, CW_LOCK_RWLOCK, CW_OP_INIT)
RESET(pthread_rwlock_destroy, CW_LOCK_RWLOCK, CW_OP_DESTROY)

/*
 * pthread_spin_lock cannot be probed at its entry (lock decl): userspace places this
 * where it has just taken the lock (tools/lib/source/bpf.c, place()). The call is over
 * as far as the lock order goes; its wait is not seen.
 */
static __noinline int spin_lock_enter(struct pt_regs *ctx, __u64 lock)
{
	return acquire_enter(ctx, lock, 0, CW_LOCK_SPIN, CW_OP_LOCK);
}

/* Each half in a frame of its own: together they pass 6.1's 512-byte stack limit. */
static __noinline int spin_lock_taken(struct pt_regs *ctx)
{
	return acquire_exit(ctx, 1);
}

SEC("uprobe")
int BPF_KPROBE(uprobe_pthread_spin_lock, void *lock)
{
	spin_lock_enter(ctx, (__u64)lock);
	return spin_lock_taken(ctx);
}
ACQUIRE(pthread_spin_trylock, CW_LOCK_SPIN, CW_OP_TRYLOCK)
RELEASE(pthread_spin_unlock, CW_LOCK_SPIN)

COND_WAIT(pthread_cond_wait)
COND_WAIT(pthread_cond_timedwait)
COND_WAIT(pthread_cond_clockwait)

/* futex(2): every op, with the user stack of the call; waits also get a raw copy. */

#define FUTEX_CMD_MASK 0x7f

struct pending_futex {
	__u64 uaddr;
	__u64 uaddr2;
	__u64 ts_ns;
	__u64 timeout_ns;
	__u64 stack_id;
	__u32 op;
	__u32 val;
	__u32 val3;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct pending_futex);
} pending_futexes SEC(".maps");

static __always_inline int futex_blocks(__u32 op)
{
	switch (op & FUTEX_CMD_MASK) {
	case 0:		/* FUTEX_WAIT */
	case 6:		/* FUTEX_LOCK_PI */
	case 9:		/* FUTEX_WAIT_BITSET */
	case 11:	/* FUTEX_WAIT_REQUEUE_PI */
	case 13:	/* FUTEX_LOCK_PI2 */
		return 1;
	}
	return 0;
}

static __always_inline __u64 timespec_ns(__u64 uptr)
{
	struct __kernel_timespec ts;

	if (!uptr || bpf_probe_read_user(&ts, sizeof(ts), (void *)uptr))
		return 0;
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __always_inline int futex_enter(__u64 uaddr, __u32 op, __u32 val, __u64 utime,
				       __u64 uaddr2, __u32 val3, int blocks)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_futex p = {};
	struct pending_lock *lk;
	struct task_struct *task;
	struct cw_ev_futex *e;
	struct pt_regs *regs;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	/* the user registers at the syscall: the stack of the code that called futex() */
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	p.uaddr = uaddr;
	p.uaddr2 = uaddr2;
	p.op = op;
	p.val = val;
	p.val3 = val3;
	/*
	 * glibc's futex wrappers share one call site: tell the waits apart by their word.
	 * Inside a probed acquire (a contended mutex, cond_wait) its return address is the
	 * uretprobe trampoline now: the copy gets the real one back.
	 */
	lk = bpf_map_lookup_elem(&pending_locks, &tid);
	p.stack_id = user_stack_id(BPF_CORE_READ(regs, ip), BPF_CORE_READ(regs, sp),
				   BPF_CORE_READ(regs, bp), 0, uaddr, blocks, lk ? lk->ret_slot : 0,
				   lk ? lk->a.ip : 0);
	p.ts_ns = bpf_ktime_get_ns();
	p.timeout_ns = blocks ? timespec_ns(utime) : 0;
	if (bpf_map_update_elem(&pending_futexes, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);
	if (blocks)
		mark_contended(tid); /* a lock acquire in progress had to wait */

	/*
	 * futex_end says all of the call: a contended program makes hundreds of thousands
	 * a second, and the begin records would double what crosses the ring buffer.
	 */
	if (!raw_events)
		return 0;
	e = cw_reserve(sizeof(*e), CW_EV_FUTEX_BEGIN);
	if (!e)
		return 0;
	e->hdr.ts_ns = p.ts_ns;
	e->uaddr = uaddr;
	e->uaddr2 = uaddr2;
	e->timeout_ns = p.timeout_ns;
	e->wait_ns = 0;
	e->stack_id = p.stack_id;
	e->op = op;
	e->val = val;
	e->val3 = val3;
	e->result = 0;
	cw_submit(e);
	return 0;
}

static __always_inline int futex_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_futex *p;
	struct cw_ev_futex *e;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p = bpf_map_lookup_elem(&pending_futexes, &tid);
	if (!p)
		return 0;
	e = cw_reserve(sizeof(*e), CW_EV_FUTEX_END);
	if (e) {
		e->uaddr = p->uaddr;
		e->uaddr2 = p->uaddr2;
		e->timeout_ns = p->timeout_ns;
		e->wait_ns = e->hdr.ts_ns - p->ts_ns;
		e->stack_id = p->stack_id;
		e->op = p->op;
		e->val = p->val;
		e->val3 = p->val3;
		e->result = ret;
		cw_submit(e);
	}
	bpf_map_delete_elem(&pending_futexes, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_futex")
int tracepoint__syscalls__sys_enter_futex(struct trace_event_raw_sys_enter *ctx)
{
	__u32 op = ctx->args[1];

	return futex_enter(ctx->args[0], op, ctx->args[2], ctx->args[3], ctx->args[4],
			   ctx->args[5], futex_blocks(op));
}

SEC("tracepoint/syscalls/sys_exit_futex")
int tracepoint__syscalls__sys_exit_futex(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

/* futex_waitv(waiters, nr_futexes, flags, timeout, clockid): always a wait */
SEC("tracepoint/syscalls/sys_enter_futex_waitv")
int tracepoint__syscalls__sys_enter_futex_waitv(struct trace_event_raw_sys_enter *ctx)
{
	return futex_enter(ctx->args[0], CW_FUTEX_OP_WAITV, ctx->args[1], ctx->args[3], 0,
			   ctx->args[2], 1);
}

SEC("tracepoint/syscalls/sys_exit_futex_waitv")
int tracepoint__syscalls__sys_exit_futex_waitv(struct trace_event_raw_sys_exit *ctx)
{
	return futex_exit(ctx->ret);
}

/* Kernel lock contention of the traced threads, with kernel stacks. */

struct pending_klock {
	__u64 addr;
	__u64 ts_ns;
	__u64 kstack_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* threads; resized from userspace before load */
	__type(key, __u32);
	__type(value, struct pending_klock);
} pending_klocks SEC(".maps");

SEC("tp_btf/contention_begin")
int BPF_PROG(tp_btf__contention_begin, void *lock, unsigned int flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_klock p = {};
	struct cw_ev_klock *e;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p.addr = (__u64)lock;
	p.kstack_id = kernel_stack_id(ctx);
	p.ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&pending_klocks, &tid, &p, BPF_ANY))
		__sync_fetch_and_add(&lost_map_full, 1);
	e = cw_reserve(sizeof(*e), CW_EV_KLOCK_BEGIN);
	if (!e)
		return 0;
	e->hdr.ts_ns = p.ts_ns;
	e->addr = p.addr;
	e->kstack_id = p.kstack_id;
	e->wait_ns = 0;
	e->lock_flags = flags;
	e->result = 0;
	cw_submit(e);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(tp_btf__contention_end, void *lock, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_klock *p;
	struct cw_ev_klock *e;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	p = bpf_map_lookup_elem(&pending_klocks, &tid);
	e = cw_reserve(sizeof(*e), CW_EV_KLOCK_END);
	if (e) {
		e->addr = (__u64)lock;
		/* contention can nest (a spinlock inside a mutex's slow path): match the lock */
		e->kstack_id = p && p->addr == (__u64)lock ? p->kstack_id : 0;
		e->wait_ns = p && p->addr == (__u64)lock ? e->hdr.ts_ns - p->ts_ns : 0;
		e->lock_flags = 0;
		e->result = ret;
		cw_submit(e);
	}
	if (p && p->addr == (__u64)lock)
		bpf_map_delete_elem(&pending_klocks, &tid);
	return 0;
}

#include "cw_sched.bpf.h"

/* The life of the target's threads: new ones named at once, exits cleaned up. */

#define CLONE_THREAD 0x00010000	/* uapi/linux/sched.h: macros are not in BTF */

static __always_inline void emit_comm(struct task_struct *task)
{
	struct cw_ev_comm *c = cw_reserve(sizeof(*c), CW_EV_COMM);

	if (!c)
		return;
	c->hdr.pid = BPF_CORE_READ(task, tgid);
	c->hdr.tid = BPF_CORE_READ(task, pid);
	bpf_probe_read_kernel_str(c->comm, sizeof(c->comm), task->comm);
	cw_submit(c);
}

SEC("tp_btf/task_newtask")
int BPF_PROG(tp_btf__task_newtask, struct task_struct *task, u64 clone_flags)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct cw_ev_fork *f;

	if (!cw_traced(tgid))
		return 0;
	f = cw_reserve(sizeof(*f), CW_EV_FORK);
	if (f) {
		f->child_pid = tgid;
		f->child_tid = BPF_CORE_READ(task, pid);
		f->flags = (clone_flags & CLONE_THREAD) ? CW_FORK_THREAD : 0;
		f->pad = 0;
		cw_submit(f);
	}
	emit_comm(task);
	return 0;
}

SEC("tp_btf/task_rename")
int BPF_PROG(tp_btf__task_rename, struct task_struct *task, const char *comm)
{
	struct cw_ev_comm *c;

	if (!cw_traced(BPF_CORE_READ(task, tgid)))
		return 0;
	c = cw_reserve(sizeof(*c), CW_EV_COMM);
	if (!c)
		return 0;
	c->hdr.pid = BPF_CORE_READ(task, tgid);
	c->hdr.tid = BPF_CORE_READ(task, pid);
	bpf_probe_read_kernel_str(c->comm, sizeof(c->comm), comm);
	cw_submit(c);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tp_btf__sched_process_exit, struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cw_ev_exit *x;
	__u32 tid = id;

	if (!cw_traced(id >> 32))
		return 0;
	/* a thread that exits holding locks leaves them held: drop its state */
	bpf_map_delete_elem(&held_sets, &tid);
	bpf_map_delete_elem(&pending_locks, &tid);
	bpf_map_delete_elem(&pending_futexes, &tid);
	bpf_map_delete_elem(&pending_klocks, &tid);
	sched_thread_exit(tid);
	x = cw_reserve(sizeof(*x), CW_EV_EXIT);
	if (!x)
		return 0;
	x->exit_code = BPF_CORE_READ(task, exit_code);
	x->group_dead = BPF_CORE_READ(task, signal, live.counter) <= 1;
	cw_submit(x);
	return 0;
}

/*
 * Code the target maps after attach (dlopen): sent as CW_EV_MMAP when it is mapped, with
 * the file's path, because the library may be unloaded again before userspace reads the
 * first stack in it, and then /proc/PID/maps no longer names it. Userspace turns the
 * record into a CW_EV_MODULE (build-id read from the file). The path is built from the
 * dentries up to the process's root, crossing mounts: bpf_d_path() is not allowed here.
 * A path deeper than CW_MMAP_DEPTH or longer than CW_MMAP_PATH is sent empty: userspace
 * then reads /proc/PID/maps instead. ld.so maps a library's code with mmap(PROT_EXEC);
 * code made executable with mprotect() (JIT) is anonymous and has no file to name.
 */
#define CW_MMAP_DEPTH 16	/* path components; a power of two (masked index) */
#define CW_MMAP_NAME 256	/* NAME_MAX + 1 */
#define CW_MMAP_PATH 1024	/* the record's room for the path */
#define VM_EXEC 0x4		/* include/linux/mm.h: macros are not in BTF */

struct mmap_vma {
	__u64 start, end, pgoff, flags;
	struct file *file;
};

static long mmap_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct mmap_vma *v = data;

	v->start = vma->vm_start;
	v->end = vma->vm_end;
	v->pgoff = vma->vm_pgoff;
	v->flags = BPF_CORE_READ(vma, vm_flags);
	v->file = vma->vm_file;
	return 0;
}

/* A walk from a file's dentry up to the process's root (bpf_loop: checked once). */
struct mmap_walk {
	struct dentry *d;
	struct vfsmount *vm;
	struct dentry *root;
	struct vfsmount *root_mnt;
	__u64 mnt_off;		/* of struct mount's mnt: container_of(vm) */
	const unsigned char *names[CW_MMAP_DEPTH];	/* leaf first */
	__u32 n;
	__u32 top;		/* reached the root */
};

static long mmap_walk_step(__u32 i, void *arg)
{
	/* locals: CO-RE relocates the whole argument of BPF_CORE_READ, w-> included */
	struct mmap_walk *w = arg;
	struct vfsmount *vm = w->vm;
	struct dentry *d = w->d, *up;
	struct mount *m = (void *)vm - w->mnt_off;

	if (d == w->root && vm == w->root_mnt) {
		w->top = 1;
		return 1;
	}
	if (d == BPF_CORE_READ(vm, mnt_root)) {
		/* a mount's root: go on at its mount point in the parent mount */
		struct mount *parent = BPF_CORE_READ(m, mnt_parent);

		if (parent == m) {
			w->top = 1;
			return 1;
		}
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->vm = (void *)parent + w->mnt_off;
		return 0;
	}
	up = BPF_CORE_READ(d, d_parent);
	if (up == d) {
		w->top = 1;
		return 1;
	}
	if (w->n >= CW_MMAP_DEPTH)
		return 1;
	w->names[w->n & (CW_MMAP_DEPTH - 1)] = BPF_CORE_READ(d, d_name.name);
	w->n++;
	w->d = up;
	return 0;
}

/*
 * The path of f below the process's root into buf, NUL included: its length (less than
 * CW_MMAP_PATH - 7), or 0.
 */
static __always_inline __u32 mmap_path(struct task_struct *task, struct file *f, char *buf)
{
	struct mmap_walk w = {
		.d = BPF_CORE_READ(f, f_path.dentry),
		.vm = BPF_CORE_READ(f, f_path.mnt),
		.root = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.mnt_off = bpf_core_field_offset(struct mount, mnt),
	};
	/* 64 bits: a 32-bit offset is checked in one register and used from another copy */
	__u64 off = 0;
	__u32 n = 0, top = 0;

	/* components, and a step for each mount crossed */
	bpf_loop(CW_MMAP_DEPTH + 8, mmap_walk_step, &w, 0);
	/*
	 * Before 6.7 the verifier follows a bpf_loop callback once and takes what it left in
	 * w as known (n 0 or 1), then drops the code for deeper paths as dead: 6.1 sent only
	 * the file's own name. Read back through a helper, the values are unknown to it.
	 */
	bpf_probe_read_kernel(&n, sizeof(n), &w.n);
	bpf_probe_read_kernel(&top, sizeof(top), &w.top);
	if (!top || !n || n > CW_MMAP_DEPTH)
		return 0;
	/*
	 * root first; unrolled: Linux 6.1's verifier refuses a loop whose back-edge leaves a
	 * helper call ("back-edge from insn N to N+1"), which this one's would
	 */
#pragma clang loop unroll(full)
	for (int i = CW_MMAP_DEPTH - 1; i >= 0; i--) {
		long len;

		if (i >= n)
			continue;
		if (off > CW_MMAP_PATH - CW_MMAP_NAME - 8)
			return 0;	/* the path, its NUL and padding stay below CW_MMAP_PATH */
		buf[off] = '/';
		len = bpf_probe_read_kernel_str(buf + off + 1, CW_MMAP_NAME, w.names[i]);
		if (len <= 1)
			return 0;
		off += len;	/* the next '/' replaces the NUL */
	}
	return off + 1;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int tracepoint__syscalls__sys_exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task;
	struct mmap_vma v = {};
	__u64 zero = 0;
	struct cw_ev_mmap *e;
	struct inode *ino;
	struct file *f;
	__u32 len;

	if (ctx->ret < 0 && ctx->ret > -4096)
		return 0;
	if (!cw_traced(bpf_get_current_pid_tgid() >> 32))
		return 0;
	task = bpf_get_current_task_btf();
	if (bpf_find_vma(task, ctx->ret, mmap_vma_cb, &v, 0) || !v.file || !(v.flags & VM_EXEC))
		return 0;
	f = v.file;	/* a local: CO-RE relocates the whole argument of BPF_CORE_READ */
	e = cw_reserve(sizeof(*e) + CW_MMAP_PATH + 8, CW_EV_MMAP);
	if (!e)
		return 0;
	ino = BPF_CORE_READ(f, f_inode);
	e->start = v.start;
	e->len = v.end - v.start;
	e->pgoff = v.pgoff << 12;
	e->inode = BPF_CORE_READ(ino, i_ino);
	e->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	e->prot = v.flags & 7;	/* VM_READ, VM_WRITE, VM_EXEC: the bits of PROT_* */
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	len = mmap_path(task, f, e->filename);
	if (!len) {
		e->filename[0] = '\0';
		len = 1;
	}
	/* NULs up to the record's size, a multiple of 8 (the mask bounds it for the verifier) */
	__builtin_memcpy(e->filename + (len & (CW_MMAP_PATH - 1)), &zero, sizeof(zero));
	e->filename_len = len;
	e->hdr.size = sizeof(*e) + ((len + 7) & ~7U);
	cw_submit(e);
	return 0;
}
