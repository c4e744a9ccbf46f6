// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF source's tracepoints: the futex calls of the targets, kernel lock contention of their
 * threads, the task events that follow their threads, and the code they map (mmap(2)).
 * System-wide, attached once; their programs look for targets.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "source/bpf/internal.h"

static const char *const tracepoint_progs[] = {
	"tracepoint__syscalls__sys_enter_futex",
	"tracepoint__syscalls__sys_exit_futex",
	"tracepoint__syscalls__sys_enter_futex_waitv",
	"tracepoint__syscalls__sys_exit_futex_waitv",
	"tracepoint__syscalls__sys_enter_futex_wait",
	"tracepoint__syscalls__sys_exit_futex_wait",
	"tracepoint__syscalls__sys_enter_futex_wake",
	"tracepoint__syscalls__sys_exit_futex_wake",
	"tracepoint__syscalls__sys_enter_futex_requeue",
	"tracepoint__syscalls__sys_exit_futex_requeue",
	"tp_btf__contention_begin",
	"tp_btf__contention_end",
	"tp_btf__task_newtask",
	"tp_btf__task_rename",
	"tp_btf__sched_process_exit",
	"tracepoint__syscalls__sys_exit_mmap",
	/* event loops' waits (bpf/cw_evloop.bpf.h) */
	"tracepoint__syscalls__sys_enter_epoll_wait",
	"tracepoint__syscalls__sys_exit_epoll_wait",
	"tracepoint__syscalls__sys_enter_epoll_pwait",
	"tracepoint__syscalls__sys_exit_epoll_pwait",
	"tracepoint__syscalls__sys_enter_epoll_pwait2",
	"tracepoint__syscalls__sys_exit_epoll_pwait2",
	"tracepoint__syscalls__sys_enter_poll",
	"tracepoint__syscalls__sys_exit_poll",
	"tracepoint__syscalls__sys_enter_ppoll",
	"tracepoint__syscalls__sys_exit_ppoll",
	"tracepoint__syscalls__sys_enter_select",
	"tracepoint__syscalls__sys_exit_select",
	"tracepoint__syscalls__sys_enter_pselect6",
	"tracepoint__syscalls__sys_exit_pselect6",
	"tracepoint__syscalls__sys_enter_io_uring_enter",
	"tracepoint__syscalls__sys_exit_io_uring_enter",
};

#define NR_TRACEPOINTS CW_BPF_NR_TRACEPOINTS
_Static_assert(sizeof(tracepoint_progs) / sizeof(tracepoint_progs[0]) == NR_TRACEPOINTS,
	       "CW_BPF_NR_TRACEPOINTS counts the table");

int cw_bpf__attach_tracepoints(struct bpf_source *s)
{
	int err = 0;

	for (size_t i = 0; !err && i < NR_TRACEPOINTS; i++) {
		struct bpf_program *prog;

		prog = bpf_object__find_program_by_name(s->skel->obj, tracepoint_progs[i]);
		if (!prog) {
			err = -ENOENT;
			cw_bpf__set_err(s, "BPF object has no program %s (build mismatch)",
					tracepoint_progs[i]);
			break;
		}
		if (!bpf_program__autoload(prog))
			continue; /* left out at load: cw_bpf__klock_available(), ... */
		s->tp_links[i] = bpf_program__attach(prog);
		if (!s->tp_links[i]) {
			err = -errno;
			cw_bpf__set_err(s, "failed to attach %s: %s",
					bpf_program__section_name(prog), strerror(-err));
		}
	}
	return err;
}

/*
 * The mmap program finds the new mapping with bpf_find_vma() (Linux 5.17). Without it,
 * code mapped after attach is found when a stack first needs it, as long as it is still
 * mapped then: the program is left out rather than failing the load.
 */
int cw_bpf__find_vma_available(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_find_vma, NULL) != 0;
}

/*
 * lock:contention_begin/end arrived in Linux 5.19. Without them concwatch still traces
 * everything else: their programs are left out rather than failing the load.
 */
int cw_bpf__klock_available(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int found;

	if (!btf)
		return 1; /* cannot tell: let the load say */
	found = btf__find_by_name_kind(btf, "btf_trace_contention_begin", BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return found;
}

/*
 * A syscall tracepoint of this kernel (futex_wait, futex_wake and futex_requeue came in
 * Linux 6.7): its directory in tracefs, which cw_bpf__ensure_tracefs() made reachable.
 */
int cw_bpf__syscall_tracepoint_available(const char *name)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[128];

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/syscalls/%s", roots[i], name);
		if (!access(path, F_OK))
			return 1;
	}
	return 0;
}

/*
 * libbpf attaches syscall tracepoints through tracefs. A fresh system may have it
 * unmounted: then mount it in a mount namespace of our own, changing nothing for
 * anyone else. (A process with threads cannot unshare its mount namespace: concwatch
 * opens its source before it starts any.)
 */
int cw_bpf__ensure_tracefs(struct bpf_source *s)
{
	if (!access("/sys/kernel/tracing/events/syscalls", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events/syscalls", F_OK))
		return 0;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL)) {
		int err = -errno;

		cw_bpf__set_err(s, "tracefs is not mounted at /sys/kernel/tracing and mounting it "
				"failed: %s", strerror(-err));
		return err;
	}
	return 0;
}
