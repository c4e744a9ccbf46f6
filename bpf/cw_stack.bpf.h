/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stacks, captured two ways:
 *  - every event gets a cheap stack id: the pc, the return address at [sp] (valid at a
 *    probe on a function's first instruction, before the function moves %rsp: so the
 *    immediate caller is never missing, which a plain frame-pointer walk from there
 *    would skip), then a frame-pointer walk checked to stay on the stack. Each new id
 *    is sent once as a CW_EV_STACK record;
 *  - the first time an id is seen, the user registers and a copy of the top of the user
 *    stack go out as CW_EV_USTACK_RAW, for DWARF unwinding in userspace: glibc and most
 *    distribution code have no frame pointers, and their stacks only unwind with CFI.
 * Kernel stacks (kernel lock contention) come from bpf_get_stack().
 */
#ifndef __CW_STACK_BPF_H
#define __CW_STACK_BPF_H

#include "cw_common.bpf.h"

#define CW_FP_MAX 32			/* frames of a cheap user stack, pc and [sp] included */
#define CW_KSTACK_MAX 64		/* frames of a kernel stack */
#define CW_RAW_MAX (24 * 1024)		/* largest user stack copy (--stack-bytes) */
#define CW_RAW_CHUNK 4096		/* copied a page at a time: see capture_raw() */
#define CW_STACK_WINDOW (8 << 20)	/* a frame pointer more than this above %rsp is garbage */

/* Set from userspace before load. */
const volatile __u32 stack_bytes = 16384;	/* user stack bytes to copy, multiple of 8 */
const volatile __u32 raw_class = 2;		/* copy buffer: 4 KiB << raw_class, >= stack_bytes */
const volatile __u32 fp_depth = 16;		/* frame-pointer frames to walk */

__u64 lost_stack;

struct stack_key {
	__u32 tgid;
	__u32 space;
	__u64 id;
};

/* Ids already sent; LRU, so a long run re-sends an evicted stack rather than failing. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stack_key);
	__type(value, __u8);
} stacks_seen SEC(".maps");

/*
 * In front of stacks_seen, a direct-mapped cache per CPU of ids sent recently: the hot
 * path is one array lookup instead of a hash map's. A slot overwritten, or two threads
 * racing on it (programs are preemptible), costs at most a duplicate check of the map.
 */
#define CW_SEEN_CACHE 1024

struct seen_cache {
	__u64 ids[CW_SEEN_CACHE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct seen_cache);
} seen_cache SEC(".maps");

/*
 * Records are built in their own ring buffer reservations, never in per-CPU scratch
 * buffers: uprobe programs run preemptibly (migrate_disable() only), so two threads on
 * one CPU may be inside the same program at once.
 */
struct kstack_rec {
	struct cw_ev_stack hdr;
	__u64 ips[CW_KSTACK_MAX];
};

static __always_inline __u64 hash_ips(const __u64 *ips, __u32 nr, __u64 seed)
{
	__u64 h = 0xcbf29ce484222325ULL ^ seed;

	for (__u32 i = 0; i < CW_KSTACK_MAX; i++) {
		if (i >= nr)
			break;
		h ^= ips[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h | 1; /* 0 means "no stack" */
}

static __always_inline void fill_hdr(struct cw_hdr *h, __u16 type, __u16 size)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
}

static __always_inline __u64 ringbuf_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP :
									       BPF_RB_NO_WAKEUP;
}

static __always_inline void stack_hdr(struct cw_ev_stack *s, __u64 id, __u16 space, __u32 nr,
				      __u16 flags)
{
	fill_hdr(&s->hdr, CW_EV_STACK, sizeof(*s) + nr * sizeof(__u64));
	s->stack_id = id;
	s->space = space;
	s->nr = nr;
	s->flags = flags;
	s->pad = 0;
}

/* Send nr user ips as a CW_EV_STACK record. 0, or -1 when there was no room. */
static __always_inline int emit_user_ips(const __u64 *ips, __u32 nr, __u64 id, __u16 flags)
{
	struct {
		struct cw_ev_stack hdr;
		__u64 ips[CW_FP_MAX];
	} *r;

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&lost_stack, 1);
		return -1;
	}
	for (int i = 0; i < CW_FP_MAX; i++)
		r->ips[i] = i < nr ? ips[i] : 0;
	stack_hdr(&r->hdr, id, CW_STACK_USER, nr > CW_FP_MAX ? CW_FP_MAX : nr, flags);
	bpf_ringbuf_submit(r, ringbuf_flags());
	return 0;
}

static __always_inline __u64 *cache_slot(__u32 tgid, __u32 space, __u64 id, __u64 *tagged)
{
	struct seen_cache *c;
	__u32 zero = 0;

	*tagged = id ^ ((__u64)tgid << 32) ^ space;
	c = bpf_map_lookup_elem(&seen_cache, &zero);
	return c ? &c->ids[*tagged & (CW_SEEN_CACHE - 1)] : NULL;
}

/* 1 when (tgid, space, id) had not been seen, and is marked seen: the caller sends it. */
static __always_inline int first_sight(__u32 tgid, __u32 space, __u64 id)
{
	struct stack_key key = { .tgid = tgid, .space = space, .id = id };
	__u64 tagged, *slot = cache_slot(tgid, space, id, &tagged);
	__u8 one = 1;

	if (slot && *slot == tagged)
		return 0;
	if (!bpf_map_lookup_elem(&stacks_seen, &key) &&
	    !bpf_map_update_elem(&stacks_seen, &key, &one, BPF_NOEXIST)) {
		if (slot)
			*slot = tagged;
		return 1;
	}
	/* seen before, or another CPU got there first: either way, not ours */
	if (slot)
		*slot = tagged;
	return 0;
}

/* Its records could not be sent: unmark the stack so its next sighting sends it. */
static __always_inline void forget(__u32 tgid, __u32 space, __u64 id)
{
	struct stack_key key = { .tgid = tgid, .space = space, .id = id };
	__u64 tagged, *slot = cache_slot(tgid, space, id, &tagged);

	if (slot && *slot == tagged)
		*slot = 0;
	bpf_map_delete_elem(&stacks_seen, &key);
}

/*
 * Copy the top of the user stack a page at a time: a read that faults copies nothing,
 * so one big read near the top of the stack (a short stack) would lose all of it.
 * The first chunk runs to the page boundary, then whole pages.
 *
 * A ring buffer reservation has a size fixed when the program is verified, so copies
 * come in four buffer sizes, the one used picked by --stack-bytes at load (raw_class).
 * Each buffer has a chunk of slack beyond its power-of-two offset range, so every
 * kernel's verifier (6.1's tracks less than 6.12's) sees each chunk's bound at once.
 * 0, or -1 when there was no room.
 */
#define DEFINE_CAPTURE(SIZE)                                                                  \
	struct raw_rec_##SIZE {                                                               \
		struct cw_ev_ustack_raw hdr;                                                  \
		__u8 data[SIZE + CW_RAW_CHUNK];                                               \
	};                                                                                    \
	static __always_inline int capture_raw_##SIZE(__u64 id, __u64 ip, __u64 sp, __u64 bp,  \
						      __u64 fix_slot, __u64 fix_val)          \
	{                                                                                     \
		__u32 len = 0, want = stack_bytes < SIZE ? stack_bytes : SIZE;                \
		__u16 flags = CW_STACK_TRUNCATED;                                             \
		struct raw_rec_##SIZE *r;                                                     \
                                                                                              \
		r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);                              \
		if (!r) {                                                                     \
			__sync_fetch_and_add(&lost_stack, 1);                                 \
			return -1;                                                            \
		}                                                                             \
		for (int i = 0; i < SIZE / CW_RAW_CHUNK + 1; i++) {                           \
			__u32 off = len & (SIZE - 1), chunk;                                  \
                                                                                              \
			if (off >= want)                                                      \
				break;                                                        \
			chunk = CW_RAW_CHUNK - ((sp + off) & (CW_RAW_CHUNK - 1));             \
			if (chunk > want - off)                                               \
				chunk = want - off;                                           \
			/* holds already; without the barrier clang drops the mask */         \
			asm volatile("" : "+r"(chunk));                                       \
			chunk &= 2 * CW_RAW_CHUNK - 1;                                        \
			if (!chunk || chunk > CW_RAW_CHUNK)                                   \
				break;                                                        \
			if (bpf_probe_read_user(&r->data[off], chunk, (void *)(sp + off))) {  \
				/* the end of the stack mapping: the copy is the whole stack */ \
				flags = off ? 0 : CW_STACK_FAULTED;                           \
				break;                                                        \
			}                                                                     \
			len = off + chunk;                                                    \
		}                                                                             \
		len &= ~7U;                                                                   \
		/* a return address the kernel swapped for its uretprobe trampoline */       \
		if (fix_slot >= sp && fix_slot + 8 <= sp + len)                                \
			*(__u64 *)&r->data[(fix_slot - sp) & (SIZE - 1)] = fix_val;            \
		fill_hdr(&r->hdr.hdr, CW_EV_USTACK_RAW, sizeof(r->hdr) + len);                \
		r->hdr.stack_id = id;                                                         \
		r->hdr.ip = ip;                                                               \
		r->hdr.sp = sp;                                                               \
		r->hdr.bp = bp;                                                               \
		r->hdr.len = len;                                                             \
		r->hdr.flags = len < want ? flags : CW_STACK_TRUNCATED;                       \
		r->hdr.pad = 0;                                                               \
		bpf_ringbuf_submit(r, ringbuf_flags());                                       \
		return 0;                                                                     \
	}

DEFINE_CAPTURE(4096)
DEFINE_CAPTURE(8192)
DEFINE_CAPTURE(16384)
DEFINE_CAPTURE(32768)

/*
 * fix_slot, fix_val: the stack slot of a return address the kernel replaced with its
 * uretprobe trampoline (a probed function still running below the capture), and the
 * address it held: written back into the copy, so the unwinder finds the caller.
 */
static __always_inline int capture_raw(__u64 id, __u64 ip, __u64 sp, __u64 bp, __u64 fix_slot,
				       __u64 fix_val)
{
	switch (raw_class) { /* a constant at load: the verifier keeps one branch */
	case 0:
		return capture_raw_4096(id, ip, sp, bp, fix_slot, fix_val);
	case 1:
		return capture_raw_8192(id, ip, sp, bp, fix_slot, fix_val);
	case 2:
		return capture_raw_16384(id, ip, sp, bp, fix_slot, fix_val);
	default:
		return capture_raw_32768(id, ip, sp, bp, fix_slot, fix_val);
	}
}

/*
 * Whether ret can be a return address: user code that a call instruction precedes.
 * Code built without frame pointers (Debian's glibc, most -O2 programs) keeps anything
 * in %rbp, often the address of a local: a walk from there reads locals (a timestamp, a
 * counter) as frames, and every call would get a new id and send a new stack copy. A
 * value that fails this check ends the walk. Checked: call rel32 (e8, 5 bytes before
 * ret), and call r/m64 (ff /2) in its 2- to 7-byte forms, REX prefixes included.
 * A global function: the verifier checks it once, not once per frame of every walk.
 */
__noinline int cw_plausible_return(__u64 ret)
{
	__u8 code[8];

	if (ret < 4096 || ret >= (1ULL << 47))
		return 0;
	if (bpf_probe_read_user(code, sizeof(code), (void *)(ret - sizeof(code))))
		return 0;
	if (code[3] == 0xe8)
		return 1;
#pragma clang loop unroll(full)
	for (int k = 2; k <= 7; k++) {
		if (k == 5)
			continue;
		if (code[8 - k] == 0xff && (code[9 - k] & 0x38) == 0x10)
			return 1;
	}
	return 0;
}

/*
 * The cheap id of the user stack with registers ip/sp/bp, walked into ips (CW_FP_MAX
 * entries). at_entry: the probe sits on a function's first instruction, so [sp] holds
 * the return address. seed mixes in what else should tell stacks apart (a futex word).
 * New ids are sent, with a raw copy when raw is set. Returns the id, 0 when nothing
 * could be read.
 */
static __always_inline __u64 user_stack_id_in(__u64 *ips, __u64 ip, __u64 sp, __u64 bp,
					      int at_entry, __u64 seed, int raw, __u64 fix_slot,
					      __u64 fix_val)
{
	__u32 nr = 0, tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 lo = sp, fp = bp, id;
	__u16 flags = 0;

	ips[nr++] = ip;
	if (at_entry && !bpf_probe_read_user(&ips[1], sizeof(__u64), (void *)sp))
		nr++;
	for (int i = 0; i < CW_FP_MAX - 2; i++) {
		__u64 frame[2];

		if (i >= fp_depth || nr >= CW_FP_MAX) {
			flags = CW_STACK_TRUNCATED; /* the chain may go on: we stopped looking */
			break;
		}
		if (fp < lo || fp >= sp + CW_STACK_WINDOW || (fp & 7))
			break;
		if (bpf_probe_read_user(frame, sizeof(frame), (void *)fp) ||
		    !cw_plausible_return(frame[1]))
			break;
		ips[nr++] = frame[1];
		lo = fp + sizeof(frame);
		fp = frame[0];
	}
	id = hash_ips(ips, nr, seed);
	if (first_sight(tgid, CW_STACK_USER, id) &&
	    (emit_user_ips(ips, nr, id, flags) ||
	     (raw && stack_bytes && capture_raw(id, ip, sp, bp, fix_slot, fix_val))))
		forget(tgid, CW_STACK_USER, id); /* no room: send it again next time */
	return id;
}

/* user_stack_id_in() with the frames on the BPF stack (256 bytes of its 512). */
static __always_inline __u64 user_stack_id(__u64 ip, __u64 sp, __u64 bp, int at_entry, __u64 seed,
					   int raw, __u64 fix_slot, __u64 fix_val)
{
	__u64 ips[CW_FP_MAX];

	return user_stack_id_in(ips, ip, sp, bp, at_entry, seed, raw, fix_slot, fix_val);
}

/* The kernel stack of the current task, as an id; sent the first time it is seen. */
static __always_inline __u64 kernel_stack_id(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct kstack_rec *r;
	__u64 id;
	long n;

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&lost_stack, 1);
		return 0;
	}
	n = bpf_get_stack(ctx, r->ips, sizeof(r->ips), 0);
	if (n <= 0) {
		bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
		__sync_fetch_and_add(&lost_stack, 1);
		return 0;
	}
	n /= sizeof(__u64);
	id = hash_ips(r->ips, n, 0);
	if (!first_sight(tgid, CW_STACK_KERNEL, id)) {
		bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
		return id;
	}
	stack_hdr(&r->hdr, id, CW_STACK_KERNEL, n, n == CW_KSTACK_MAX ? CW_STACK_TRUNCATED : 0);
	bpf_ringbuf_submit(r, ringbuf_flags());
	return id;
}

#endif /* __CW_STACK_BPF_H */
