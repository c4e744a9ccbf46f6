// SPDX-License-Identifier: GPL-2.0
/* Uprobe-multi links, and detaching many links at once: see links.h. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "source/links.h"

#define DETACH_THREADS 16

/* BPF_LINK_CREATE for a uprobe-multi link, as Linux 6.6's UAPI lays it out. */
struct link_create_umulti {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__aligned_u64 path;
	__aligned_u64 offsets;
	__aligned_u64 ref_ctr_offsets;
	__aligned_u64 cookies;
	__u32 cnt;
	__u32 umulti_flags;
	__u32 pid;
};

#define UPROBE_MULTI_RETURN 1U	/* BPF_F_UPROBE_MULTI_RETURN */

int cw_uprobe_multi_type(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	int id, value = -1;

	if (!btf)
		return -1;
	id = btf__find_by_name_kind(btf, "bpf_attach_type", BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (int i = 0; t && i < btf_vlen(t); i++) {
		const struct btf_enum *e = btf_enum(t) + i;

		if (!strcmp(btf__name_by_offset(btf, e->name_off), "BPF_TRACE_UPROBE_MULTI"))
			value = e->val;
	}
	btf__free(btf);
	return value;
}

int cw_uprobe_multi_attach(int prog_fd, int attach_type, const char *path, __u64 off,
			   int ret, int pid, __u64 cookie)
{
	union {
		union bpf_attr attr;
		struct link_create_umulti lc;
	} u;
	int fd;

	memset(&u, 0, sizeof(u));
	u.lc.prog_fd = prog_fd;
	u.lc.attach_type = attach_type;
	u.lc.path = (__u64)(unsigned long)path;
	u.lc.offsets = (__u64)(unsigned long)&off;
	u.lc.cookies = (__u64)(unsigned long)&cookie;
	u.lc.cnt = 1;
	u.lc.umulti_flags = ret ? UPROBE_MULTI_RETURN : 0;
	u.lc.pid = pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &u, sizeof(u));
	return fd < 0 ? -errno : fd;
}

struct detacher {
	pthread_t thread;
	int started;
	size_t first;
	struct bpf_link **links;
	size_t nr_links;
	int *fds;
	size_t nr_fds;
};

static void *detach_share(void *arg)
{
	struct detacher *d = arg;

	for (size_t i = d->first; i < d->nr_links; i += DETACH_THREADS) {
		bpf_link__destroy(d->links[i]);
		d->links[i] = NULL;
	}
	for (size_t i = d->first; i < d->nr_fds; i += DETACH_THREADS) {
		if (d->fds[i] >= 0)
			close(d->fds[i]);
		d->fds[i] = -1;
	}
	return NULL;
}

void cw_links_destroy(struct bpf_link **links, size_t nr_links, int *fds, size_t nr_fds)
{
	struct detacher d[DETACH_THREADS];

	if (!links)
		nr_links = 0;
	if (!fds)
		nr_fds = 0;
	for (size_t k = 0; k < DETACH_THREADS; k++) {
		d[k] = (struct detacher){ .first = k, .links = links, .nr_links = nr_links,
					  .fds = fds, .nr_fds = nr_fds };
		/* the first share is this thread's; a thread not started is done here too */
		d[k].started = k && (k < nr_links || k < nr_fds) &&
			       !pthread_create(&d[k].thread, NULL, detach_share, &d[k]);
	}
	for (size_t k = 0; k < DETACH_THREADS; k++) {
		if (d[k].started)
			pthread_join(d[k].thread, NULL);
		else
			detach_share(&d[k]);
	}
}
