// SPDX-License-Identifier: GPL-2.0
/*
 * Stacks of a live process that was never traced (it hangs already): libdwfl attaches to
 * one thread at a time with ptrace, reads its registers and stack, and detaches it once
 * the walk is over. The threads are stopped only while their pcs are collected; names
 * come after, with the thread running again. On top of the library's layers, like
 * unwinder.c: a module map, a walk per thread, names for the walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"

struct proc_walk {
	struct cw_walker walker;
	struct cw_symbolizer sym;
	struct cw_walk walk;
	int (*fn)(void *ctx, int tid, const struct cw_ustack *stack);
	void *ctx;
	int err;	/* why the iteration stopped: -errno, or fn's return */
};

static int unwind_thread(Dwfl_Thread *thread, void *arg)
{
	struct proc_walk *w = arg;
	struct cw_ustack stack;
	int attach_errno;

	w->err = cw_walker__thread(&w->walker, thread, &w->walk, &attach_errno);
	if (w->err)
		return DWARF_CB_ABORT;
	if (attach_errno == EPERM) {
		w->err = -EPERM;
		return DWARF_CB_ABORT;
	}
	if (attach_errno == ESRCH)
		return DWARF_CB_OK;
	w->err = cw_symbolizer__stack(&w->sym, &w->walk, &stack);
	if (w->err)
		return DWARF_CB_ABORT;
	w->err = w->fn(w->ctx, dwfl_thread_tid(thread), &stack);
	cw_ustack__fini(&stack);
	return w->err ? DWARF_CB_ABORT : DWARF_CB_OK;
}

int cw_unwind_process(int pid, const struct cw_unwinder_opts *opts,
		      int (*fn)(void *ctx, int tid, const struct cw_ustack *stack), void *ctx)
{
	struct proc_walk w = { .fn = fn, .ctx = ctx };
	struct cw_module_info *mods = NULL;
	struct cw_modmap mm = {};
	size_t nr = 0;
	int err, rc;

	if (pid <= 0 || !fn)
		return -EINVAL;
	err = cw_modules__read(pid, &mods, &nr);
	if (err)
		goto cleanup;
	err = cw_modmap__init(&mm, opts ? opts->debuginfo_path : NULL);
	if (!err)
		err = cw_walker__init(&w.walker, &mm, opts ? opts->max_frames : 0);
	if (err)
		goto cleanup;
	cw_symbolizer__init(&w.sym, &mm);
	for (size_t i = 0; !err && i < nr; i++)
		err = cw_modmap__add(&mm, &mods[i]);
	if (!err)
		err = cw_modmap__sync(&mm);
	if (err)
		goto cleanup;
	rc = dwfl_linux_proc_attach(mm.dwfl, pid, false);
	if (rc) {
		/* an errno, or -1 when no module told libdwfl the machine */
		err = rc == ENOENT ? -ESRCH : rc > 0 ? -rc : -ENOEXEC;
		goto cleanup;
	}
	rc = dwfl_getthreads(mm.dwfl, unwind_thread, &w);
	if (w.err)
		err = w.err;
	else if (rc == -1)
		err = errno ? -errno : -EIO;
cleanup:
	cw_walk__fini(&w.walk);
	cw_symbolizer__fini(&w.sym);
	/* dwfl_end() in here detaches from the last thread, if a walk was cut short */
	cw_modmap__fini(&mm);
	cw_walker__fini(&w.walker);
	free(mods);
	return err;
}
