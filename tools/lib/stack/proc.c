// SPDX-License-Identifier: GPL-2.0
/*
 * Stacks of a live process that was never traced (it hangs already): libdwfl attaches to
 * one thread at a time with ptrace, reads its registers and stack, and detaches it once
 * the walk is over. The threads are stopped only while their pcs are collected; names
 * come after, with the thread running again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct proc_walk {
	struct cw_unwinder *u;
	int (*fn)(void *ctx, int tid, const struct cw_ustack *stack);
	void *ctx;
	int err;	/* why the iteration stopped: -errno, or fn's return */
};

static int unwind_thread(Dwfl_Thread *thread, void *arg)
{
	struct proc_walk *w = arg;
	struct cw_unwinder *u = w->u;
	struct cw_ustack stack;
	int rc, saved_errno;

	cw_walk__begin(u);
	errno = 0;
	rc = dwfl_thread_getframes(thread, cw_walk__frame, u);
	saved_errno = errno;
	if (rc == -1 && !u->nr_pcs) {
		/* attaching failed: ptrace refused, or the thread is gone already */
		if (saved_errno == EPERM) {
			w->err = -EPERM;
			return DWARF_CB_ABORT;
		}
		if (saved_errno == ESRCH)
			return DWARF_CB_OK;
	}
	cw_walk__end(u, rc, rc == -1 ? dwfl_errmsg(-1) : NULL);
	w->err = cw_symbolize__walk(u, &stack);
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
	size_t nr = 0;
	int err, rc;

	if (pid <= 0 || !fn)
		return -EINVAL;
	err = cw_modules__read(pid, &mods, &nr);
	if (err)
		goto cleanup;
	err = cw_unwinder__new(opts, &w.u);
	for (size_t i = 0; !err && i < nr; i++)
		err = cw_unwinder__add_module(w.u, &mods[i]);
	if (!err)
		err = cw_unwinder__sync(w.u);
	if (err)
		goto cleanup;
	rc = dwfl_linux_proc_attach(w.u->dwfl, pid, false);
	if (rc) {
		/* an errno, or -1 when no module told libdwfl the machine */
		err = rc == ENOENT ? -ESRCH : rc > 0 ? -rc : -ENOEXEC;
		goto cleanup;
	}
	rc = dwfl_getthreads(w.u->dwfl, unwind_thread, &w);
	if (w.err)
		err = w.err;
	else if (rc == -1)
		err = errno ? -errno : -EIO;
cleanup:
	/* dwfl_end() in here detaches from the last thread, if a walk was cut short */
	cw_unwinder__free(w.u);
	free(mods);
	return err;
}
