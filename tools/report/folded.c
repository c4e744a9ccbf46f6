// SPDX-License-Identifier: GPL-2.0
/*
 * Folded stacks (Brendan Gregg's flamegraph.pl input, read by speedscope and inferno too):
 * one line per sample, its frames root first and separated by ';', the object waited on
 * as the leaf frame, then a space and the nanoseconds waited:
 *
 *   start_thread;worker;pthread_mutex_lock;[mutex hot_lock] 1200345
 *
 * Inlined functions are frames of their own, as perf script shows them. A name may not
 * hold the separators: ';' becomes ':' and control characters '?', so that a line
 * always splits into the frames and the value it was written with (a space is fine:
 * the readers take the value after the last one).
 */
#include <errno.h>
#include <string.h>

#include "report/export.h"

/* perf's names of the kernel lock types (tools/perf/util/lock-contention.c), with '_'. */
const char *cw_klock_type__name(__u32 f)
{
	enum { SPIN = 1, READ = 2, WRITE = 4, RT = 8, PERCPU = 16, MUTEX = 32 };

	if (f & MUTEX)
		return f & SPIN ? "mutex_spin" : "mutex";
	if (f & RT)
		return f & READ ? "rwlock_rt_read" : f & WRITE ? "rwlock_rt_write" : "rtmutex";
	if (f & PERCPU)
		return f & READ ? "percpu_rwsem_read" : "percpu_rwsem_write";
	if (f & SPIN)
		return f & READ ? "rwlock_read" : f & WRITE ? "rwlock_write" : "spinlock";
	if (f & READ)
		return "rwsem_read";
	if (f & WRITE)
		return "rwsem_write";
	return "unknown";
}

void cw_xsample__leaf(const struct cw_xsample *s, char *buf, size_t len)
{
	if (s->kind == CW_LOCK_KERNEL)
		snprintf(buf, len, "[kernel %s %s]", s->lock_type ? s->lock_type : "lock", s->lock);
	else
		snprintf(buf, len, "[%s %s]", cw_lock_kind__name(s->kind), s->lock);
}

const char *cw_xframe__name(const struct cw_frame *f, char *buf, size_t len)
{
	const char *base;

	if (f->func)
		return f->func;
	base = f->module ? strrchr(f->module, '/') : NULL;
	base = base ? base + 1 : f->module;
	if (base && *base)
		snprintf(buf, len, "%s@0x%llx", base, (unsigned long long)f->addr);
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)f->addr);
	return buf;
}

/* A name as a folded frame: no separator, no line break. */
static void put_frame(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = *s;

		fputc(c == ';' ? ':' : c < 0x20 || c == 0x7f ? '?' : c, out);
	}
}

int cw_export__folded(FILE *out, const struct cw_xprofile *p)
{
	char leaf[1024], buf[320];

	for (size_t i = 0; i < p->nr; i++) {
		const struct cw_xsample *s = &p->samples[i];
		const struct cw_ustack *st = s->stack;

		if (!s->wait_ns)
			continue;
		if (!st || !st->nr) {
			put_frame(out, "[unknown stack]");
			fputc(';', out);
		}
		for (size_t k = st ? st->nr : 0; k-- > 0;) {
			put_frame(out, cw_xframe__name(&st->frames[k], buf, sizeof(buf)));
			fputc(';', out);
		}
		cw_xsample__leaf(s, leaf, sizeof(leaf));
		put_frame(out, leaf);
		fprintf(out, " %llu\n", (unsigned long long)s->wait_ns);
	}
	return ferror(out) ? -EIO : 0;
}
