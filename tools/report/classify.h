/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a futex wait was, from the libc code that made it (engine/contention.h's
 * cw_futex_classify_fn, implemented with the stack library).
 */
#ifndef __CW_CLASSIFY_H
#define __CW_CLASSIFY_H

#include <stddef.h>
#include <linux/types.h>

#include "engine/contention.h"
#include "stack/stack.h"

struct cw_symbols;

/*
 * Classify a futex wait on uaddr from its named frames (innermost first): the innermost
 * frame of libc whose function is a known glibc entry point decides, with the layout of
 * glibc 2.25 and later (2.36 checked) for where the word lies in the object. Frames of
 * libc with other names (static helpers, inlined ones) are passed over; the first frame
 * outside libc after libc's ends the search. op: the wait's futex op word, or
 * CW_FUTEX_OP_UNKNOWN; it tells a condvar's wait from its mutex taken back. Pure: 0 with
 * *out filled, or -ENOENT.
 */
int cw_classify__frames(const struct cw_frame *frames, size_t nr, __u64 uaddr, __u32 op,
			struct cw_futex_class *out);

/* Whether a module path is the C library's (libc.so.6, libc-2.31.so, libpthread.so.0). */
int cw_classify__is_libc(const char *module);

/*
 * A classifier for cw_contention__new() and cw_findings__new_opts(): the wait's stack
 * resolved through sym, each (pid, stack) resolved once.
 */
struct cw_classifier;

int cw_classifier__new(struct cw_symbols *sym, struct cw_classifier **out);
void cw_classifier__free(struct cw_classifier *c);
/* cw_futex_classify_fn; ctx is a struct cw_classifier. */
int cw_classifier__classify(void *ctx, __u32 pid, __u64 uaddr, __u64 stack_id, __u32 op,
			    struct cw_futex_class *out);

#endif /* __CW_CLASSIFY_H */
