// SPDX-License-Identifier: GPL-2.0
/*
 * The public unwinder (stack.h), on top of the library's layers: a module map
 * (modules.c), walks over it (unwind.c), and names for the walks (symbolize.c). It only
 * composes them: a stack is walked, then named.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"

struct cw_unwinder {
	struct cw_modmap mm;
	struct cw_walker walker;
	struct cw_symbolizer sym;
	struct cw_walk walk;	/* the last walk: its storage is reused */
};

int cw_unwinder__new(const struct cw_unwinder_opts *opts, struct cw_unwinder **out)
{
	struct cw_unwinder *u;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	err = cw_modmap__init(&u->mm, opts ? opts->debuginfo_path : NULL);
	if (!err)
		err = cw_walker__init(&u->walker, &u->mm, opts ? opts->max_frames : 0);
	if (err) {
		cw_unwinder__free(u);
		return err;
	}
	cw_symbolizer__init(&u->sym, &u->mm);
	*out = u;
	return 0;
}

void cw_unwinder__free(struct cw_unwinder *u)
{
	if (!u)
		return;
	cw_walk__fini(&u->walk);
	cw_symbolizer__fini(&u->sym);
	/* the Dwfl the walker attached to goes with the map */
	cw_modmap__fini(&u->mm);
	cw_walker__fini(&u->walker);
	free(u);
}

int cw_unwinder__add_module(struct cw_unwinder *u, const struct cw_module_info *m)
{
	if (!u)
		return -EINVAL;
	return cw_modmap__add(&u->mm, m);
}

const char *cw_unwinder__missing(struct cw_unwinder *u, __u64 addr)
{
	return u ? cw_modmap__missing(&u->mm, addr) : NULL;
}

int cw_unwinder__load_perf_map(struct cw_unwinder *u, const char *path)
{
	if (!u || !path)
		return -EINVAL;
	return cw_modmap__load_jit(&u->mm, path);
}

int cw_unwinder__unwind(struct cw_unwinder *u, const struct cw_regs *regs, const void *stack,
			size_t len, struct cw_ustack *out)
{
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!u || !regs || (!stack && len))
		return -EINVAL;
	err = cw_walker__unwind(&u->walker, regs, stack, len, &u->walk);
	return err ? err : cw_symbolizer__stack(&u->sym, &u->walk, out);
}

int cw_unwinder__symbolize(struct cw_unwinder *u, const __u64 *ips, size_t nr,
			   struct cw_ustack *out)
{
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!u || (!ips && nr))
		return -EINVAL;
	err = cw_walker__from_ips(&u->walker, ips, nr, &u->walk);
	return err ? err : cw_symbolizer__stack(&u->sym, &u->walk, out);
}

int cw_unwinder__data_symbol(struct cw_unwinder *u, __u64 addr, char *buf, size_t len)
{
	if (!u || !buf)
		return -EINVAL;
	return cw_symbolizer__data_symbol(&u->sym, addr, buf, len);
}

int cw_unwinder__stack_variable(struct cw_unwinder *u, const struct cw_regs *regs,
				const void *stack, size_t len, __u64 addr, char *buf, size_t blen)
{
	const struct cw_walk *w;
	__u64 top;
	int err;

	if (!u || !regs || (!stack && len) || !buf || !blen)
		return -EINVAL;
	w = &u->walk;
	buf[0] = '\0';
	if (addr < regs->sp)
		return -ERANGE;
	err = cw_walker__unwind(&u->walker, regs, stack, len, &u->walk);
	if (err)
		return err;
	/* the copy is this stack; so is every frame the walk found above it */
	top = regs->sp + len;
	for (size_t i = 0; i + 1 < w->nr; i++) {
		/* a frame lies between its stack pointer and its CFA, its caller's sp */
		__u64 sp = w->pcs[i].sp, cfa = w->pcs[i + 1].sp;

		if (!sp || cfa <= sp)
			break;
		if (cfa > top)
			top = cfa;
		if (addr >= sp && addr < cfa)
			return cw_symbolizer__frame_variable(&u->sym, cw_walkpc__lookup(&w->pcs[i]),
							     cfa, addr, buf, blen);
	}
	return addr < top ? -ENOENT : -ERANGE;
}
