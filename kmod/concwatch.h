/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module's files share: the per-CPU record rings (concwatch_ring.c), the
 * target set and the tracepoint probes (concwatch_trace.c); concwatch_main.c has the
 * device that ties them to userspace (include/concwatch/kmod.h).
 */
#ifndef __CONCWATCH_KMOD_INTERNAL_H
#define __CONCWATCH_KMOD_INTERNAL_H

#include <linux/types.h>
#include <linux/wait.h>

struct cw_hdr;

/* concwatch_ring.c */
int cw_rings_init(unsigned int pages);
void cw_rings_free(void);
/* Every ring empty and its counters zero: before tracing starts. */
void cw_rings_reset(void);
/*
 * Any context, any CPU: copy the record (hdr->size bytes) into this CPU's ring. 0, or
 * -ENOSPC when the ring was full (counted).
 */
int cw_ring_write(struct cw_hdr *rec);
bool cw_rings_empty(void);
/* Whole records into buf, a loss record first when records were dropped; bytes or -errno. */
ssize_t cw_rings_read(char __user *buf, size_t count);
void cw_rings_stats(u64 *records, u64 *lost);
u64 cw_ring_bytes(void);
extern wait_queue_head_t cw_readers;

/* concwatch_trace.c */
int cw_trace_init(unsigned int max_threads);
void cw_trace_free(void);
/* The classes this kernel has the tracepoints for (CW_KMOD_C_*). */
u64 cw_trace_classes(void);
unsigned int cw_trace_max_threads(void);
/* Register the probes of classes and let records flow; 0 or -errno (nothing attached). */
int cw_trace_start(u64 classes);
/* Unregister every probe and wait until none runs any more. */
void cw_trace_stop(void);
u64 cw_trace_lost_threads(void);

#define CW_MAX_TARGETS 64
/* The target set, in the global pid namespace. 0 or -errno; nothing changed on error. */
int cw_targets_set(pid_t tgid, u32 flags);
int cw_targets_add(pid_t tgid, u32 flags);
int cw_targets_remove(pid_t tgid);

#endif /* __CONCWATCH_KMOD_INTERNAL_H */
