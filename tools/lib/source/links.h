/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Attaching uprobes in a way that detaches fast, and detaching many links at once.
 *
 * A uprobe attached through perf_event_open is torn down under the kernel's event_mutex
 * with a synchronous RCU wait (tracepoint_synchronize_unregister): ~0.11 s each here,
 * one after another, so forty probes took 4.5 s to detach. A uprobe-multi link
 * (BPF_TRACE_UPROBE_MULTI, Linux 6.6) waits outside any global mutex, so links
 * destroyed from several threads share their grace periods.
 */
#ifndef __CW_LINKS_H
#define __CW_LINKS_H

#include <linux/types.h>

struct bpf_link;

/*
 * The kernel's value of BPF_TRACE_UPROBE_MULTI, read from its BTF (the installed UAPI
 * header may predate it), or -1 when the kernel has no uprobe-multi links.
 */
int cw_uprobe_multi_type(void);

/*
 * Attach prog_fd (loaded with expected attach type cw_uprobe_multi_type()) to the
 * instruction at file offset off of path, for process pid only; ret: a return probe;
 * cookie: what bpf_get_attach_cookie() gives the program there. The link's fd, or -errno.
 */
int cw_uprobe_multi_attach(int prog_fd, int attach_type, const char *path, __u64 off,
			   int ret, int pid, __u64 cookie);

/*
 * Destroy links and close link fds, from several threads at once; entries are reset
 * (NULL, -1). Either array may be NULL.
 */
void cw_links_destroy(struct bpf_link **links, size_t nr_links, int *fds, size_t nr_fds);

#endif /* __CW_LINKS_H */
