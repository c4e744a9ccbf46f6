/* SPDX-License-Identifier: GPL-2.0 */
/* Reports drawn from the engine's model: plain text for people, JSON for scripts. */
#ifndef __CW_REPORT_H
#define __CW_REPORT_H

#include <stdio.h>
#include "engine/engine.h"
#include "stack/stack.h"

/* What the report says about the traced process (read by the caller at attach time). */
struct cw_report_target {
	int pid;
	char comm[CW_COMM_LEN];
	char cmdline[512];
	int alive;			/* still running: its files are reached through /proc */
	const char *debuginfo_path;	/* NULL: elfutils' default */
};

/* Full text report: header, losses, locks, threads, findings. 0 or -errno. */
int cw_report__text(FILE *out, const struct cw_engine *eng, const struct cw_report_target *t);

/* The lock and thread tables only (batch snapshots). */
void cw_report__tables(FILE *out, const struct cw_engine *eng);

/* The JSON report (Documentation/usage.md). 0 or -errno. */
int cw_report__json(FILE *out, const struct cw_engine *eng, const struct cw_report_target *t);

/* Stacks in reports (stacks.c). */
const char *cw_report__stack_end(int end);
/* Where a lock's call paths live: user stacks, or kernel stacks for kernel locks. */
static inline __u16 cw_report__lock_stack_space(const struct cw_lock *l)
{
	return l->kind == CW_LOCK_KERNEL ? CW_STACK_KERNEL : CW_STACK_USER;
}
struct cw_lock_site *cw_report__sites_by_wait(const struct cw_lock *l, size_t *nr);
void cw_report__text_stack(FILE *out, const struct cw_ustack *s, const char *indent);
void cw_report__json_frames(FILE *out, const struct cw_ustack *s);

#endif /* __CW_REPORT_H */
