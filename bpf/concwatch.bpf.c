// SPDX-License-Identifier: GPL-2.0
/*
 * concwatch BPF programs: user-space lock operations through uprobes on the target's
 * libc (cw_locks.bpf.h), futex waits (cw_futex.bpf.h) and kernel lock contention
 * (cw_klock.bpf.h) through tracepoints, and the life of the target's threads. Every
 * record carries the id of its stack (cw_stack.bpf.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "cw_common.bpf.h"
#include "cw_futex.bpf.h"
#include "cw_klock.bpf.h"
#include "cw_locks.bpf.h"
#include "cw_stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Probe hits by the kind of trap under the probe (CW_TRAP_*, bits 48-49 of the cookie):
 * userspace multiplies them by each kind's calibrated cost (tools/lib/source/cost.h).
 * Counted before anything else: the trap was paid whatever the program does next.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CW_TRAP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} trap_hits SEC(".maps");

static __always_inline void count_trap(__u64 cookie)
{
	__u32 k = CW_PROBE_COOKIE_TRAP(cookie);
	__u64 *n = bpf_map_lookup_elem(&trap_hits, &k);

	if (n)
		(*n)++;
}

/*
 * One program per shape of lock function: acquire, release, reset, cond_wait. The kind
 * and op of the function a probe is on come from its attach cookie (CW_PROBE_COOKIE;
 * tools/lib/source/bpf/probes.c): the kernel verifies each shape once, not once per
 * function, which is most of concwatch's start-up on older kernels. The logic lives in
 * cw_locks.bpf.h. Entry programs read the arguments (and [sp]): userspace places them
 * where those registers and %rsp are still as at the call
 * (tools/lib/source/placement.c).
 */
SEC("uprobe")
int BPF_KPROBE(uprobe_acquire, void *lock)
{
	__u64 c = bpf_get_attach_cookie(ctx);

	count_trap(c);
	return acquire_enter(ctx, (__u64)lock, 0, CW_PROBE_COOKIE_KIND(c), CW_PROBE_COOKIE_OP(c));
}

/* The return of every acquire, cond_wait's included: the op is the entry's. */
SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_acquire)
{
	count_trap(bpf_get_attach_cookie(ctx));
	/* a timed-out cond_wait takes the mutex again too: cw_rules_op_acquired() */
	return acquire_exit(ctx, -1);
}

SEC("uprobe")
int BPF_KPROBE(uprobe_release, void *lock)
{
	__u64 c = bpf_get_attach_cookie(ctx);

	count_trap(c);
	return release(ctx, (__u64)lock, 0, CW_PROBE_COOKIE_KIND(c), CW_OP_UNLOCK);
}

SEC("uprobe")
int BPF_KPROBE(uprobe_reset, void *lock)
{
	__u64 c = bpf_get_attach_cookie(ctx);

	count_trap(c);
	return lock_reset(ctx, (__u64)lock, CW_PROBE_COOKIE_KIND(c), CW_PROBE_COOKIE_OP(c));
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

SEC("uprobe")
int BPF_KPROBE(uprobe_cond_wait, void *cond, void *mutex)
{
	count_trap(bpf_get_attach_cookie(ctx));
	cond_wait_release(ctx, (__u64)cond, (__u64)mutex);
	return cond_wait_enter(ctx, (__u64)cond, (__u64)mutex);
}

/*
 * glibc built with --enable-systemtap (Fedora's) marks its lock operations with SDT
 * notes, provider "libc": userspace attaches these to them instead of uprobes on the
 * functions. A note sits inside the function: no return address at [sp] (the low half
 * of its cookie says where it is: tools/lib/source/sdt.c), no return probe; the
 * "acquired" note is the successful return. Kind and op as for the uprobes.
 */
SEC("usdt")
int BPF_USDT(usdt_acquire, void *lock)
{
	__u64 c = bpf_usdt_cookie(ctx);

	count_trap(c);
	return acquire_enter_at(ctx, (__u64)lock, 0, CW_PROBE_COOKIE_KIND(c),
				CW_PROBE_COOKIE_OP(c), 0, CW_PROBE_COOKIE_LOW(c));
}

SEC("usdt")
int BPF_USDT(usdt_acquired, void *lock)
{
	count_trap(bpf_usdt_cookie(ctx));
	return acquire_exit(ctx, 1);
}

SEC("usdt")
int BPF_USDT(usdt_release, void *lock)
{
	__u64 c = bpf_usdt_cookie(ctx);

	count_trap(c);
	return release(ctx, (__u64)lock, 0, CW_PROBE_COOKIE_KIND(c), CW_OP_UNLOCK);
}

SEC("usdt")
int BPF_USDT(usdt_reset, void *lock)
{
	__u64 c = bpf_usdt_cookie(ctx);

	count_trap(c);
	return lock_reset_at(ctx, (__u64)lock, CW_PROBE_COOKIE_KIND(c), CW_PROBE_COOKIE_OP(c), 0,
			     CW_PROBE_COOKIE_LOW(c));
}

/* --track-free: free() (operator delete calls it) ends the history of locks inside. */
SEC("uprobe")
int BPF_KPROBE(uprobe_free, void *ptr)
{
	count_trap(bpf_get_attach_cookie(ctx));
	return lock_memory_freed(ctx, (__u64)ptr);
}

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
	count_trap(bpf_get_attach_cookie(ctx));
	spin_lock_enter(ctx, (__u64)lock);
	return spin_lock_taken(ctx);
}

#include "cw_sched.bpf.h"
#include "cw_evloop.bpf.h"

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
	loop_thread_exit(tid);
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
