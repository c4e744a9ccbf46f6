// SPDX-License-Identifier: GPL-2.0
/*
 * glibc's SDT notes for its lock operations (provider "libc", when it was built with
 * --enable-systemtap), and the functions whose uprobes they replace when the file that
 * defines those functions carries all the notes of a group. A note is cheaper than any
 * uprobe placement: it sits on a nop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "source/bpf/internal.h"
#include "source/target.h"
#include "source/uprobes.h"

#define MX CW_LOCK_MUTEX
#define RW CW_LOCK_RWLOCK

static const struct sdt_probe {
	const char *note;	/* libc:NOTE */
	int group;		/* notes of a group replace probes together */
	const char *prog;	/* its program, one per shape as for the uprobes */
	__u8 kind, op;		/* its cookie's (CW_PROBE_COOKIE) */
} sdt_probes[] = {
	{ "mutex_entry", 0, "usdt_acquire", MX, CW_OP_LOCK },
	{ "mutex_acquired", 0, "usdt_acquired" },
	{ "mutex_timedlock_entry", 1, "usdt_acquire", MX, CW_OP_TIMEDLOCK },
	{ "mutex_timedlock_acquired", 1, "usdt_acquired" },
	{ "mutex_release", 2, "usdt_release", MX },
	{ "mutex_init", 3, "usdt_reset", MX, CW_OP_INIT },
	{ "mutex_destroy", 4, "usdt_reset", MX, CW_OP_DESTROY },
	{ "rdlock_entry", 5, "usdt_acquire", RW, CW_OP_RDLOCK },
	{ "rdlock_acquire_read", 5, "usdt_acquired" },
	{ "wrlock_entry", 6, "usdt_acquire", RW, CW_OP_WRLOCK },
	{ "wrlock_acquire_write", 6, "usdt_acquired" },
	{ "rwlock_unlock", 7, "usdt_release", RW },
	{ "rwlock_destroy", 8, "usdt_reset", RW, CW_OP_DESTROY },
};

#define NR_SDT CW_BPF_NR_SDT
#define NR_SDT_GROUPS CW_BPF_NR_SDT_GROUPS
_Static_assert(sizeof(sdt_probes) / sizeof(sdt_probes[0]) == NR_SDT,
	       "CW_BPF_NR_SDT counts the table");

/* The functions each group stands for: in glibc they share the code with the notes. */
static const char *const sdt_covers[NR_SDT_GROUPS][4] = {
	{ "pthread_mutex_lock" },
	{ "pthread_mutex_timedlock", "pthread_mutex_clocklock" },
	{ "pthread_mutex_unlock" },
	{ "pthread_mutex_init" },
	{ "pthread_mutex_destroy" },
	{ "pthread_rwlock_rdlock", "pthread_rwlock_timedrdlock", "pthread_rwlock_clockrdlock" },
	{ "pthread_rwlock_wrlock", "pthread_rwlock_timedwrlock", "pthread_rwlock_clockwrlock" },
	{ "pthread_rwlock_unlock" },
	{ "pthread_rwlock_destroy" },
};

/* Whether function func of p is probed through SDT notes instead of uprobes. */
int cw_bpf__sdt_covered(const struct proc *p, const char *func)
{
	for (size_t g = 0; g < NR_SDT_GROUPS; g++) {
		int all = 1, any = 0;

		for (size_t i = 0; i < NR_SDT; i++) {
			if (sdt_probes[i].group != (int)g)
				continue;
			all &= p->sdt_links[i] != NULL;
			any = 1;
		}
		for (size_t k = 0; all && any && k < 4 && sdt_covers[g][k]; k++)
			if (!strcmp(sdt_covers[g][k], func))
				return 1;
	}
	return 0;
}

/*
 * Attach the SDT notes of the file that defines pthread_mutex_lock (libc, or
 * libpthread or the executable), by whole groups: a group half there is left to the
 * uprobes. Which were used is said with -v.
 */
int cw_bpf__attach_sdt(struct bpf_source *s, struct proc *p, const struct cw_uprobe_libs *libs)
{
	const struct cw_uprobe_lib *c;
	struct cw_elf_func f;
	char used[256] = "";

	c = cw_uprobe_libs__func(libs, "pthread_mutex_lock", &f);
	if (!c)
		return 0;
	for (size_t g = 0; g < NR_SDT_GROUPS; g++) {
		int all = 1;

		for (size_t i = 0; i < NR_SDT && all; i++)
			if (sdt_probes[i].group == (int)g)
				all = cw_elf__has_sdt(c->elf, "libc", sdt_probes[i].note);
		for (size_t i = 0; i < NR_SDT && all; i++) {
			LIBBPF_OPTS(bpf_usdt_opts, uo);
			const char *name = sdt_probes[i].prog;
			struct bpf_program *prog;
			size_t len = strlen(used);
			int ra;

			if (sdt_probes[i].group != (int)g)
				continue;
			prog = bpf_object__find_program_by_name(s->skel->obj, name);
			if (!prog) {
				cw_bpf__set_err(s, "BPF object has no program %s (build mismatch)",
						name);
				return -ENOENT;
			}
			ra = cw_sdt__return_offset(c->obj->host_path, "libc", sdt_probes[i].note);
			uo.usdt_cookie = CW_PROBE_COOKIE(sdt_probes[i].kind, sdt_probes[i].op,
							 ra >= 0 ? ra + 1 : 0);
			p->sdt_links[i] = bpf_program__attach_usdt(prog, p->pid, c->obj->host_path,
								   "libc", sdt_probes[i].note, &uo);
			if (!p->sdt_links[i]) {
				/* the uprobes take over the group */
				for (size_t k = 0; k < NR_SDT; k++)
					if (sdt_probes[k].group == (int)g) {
						bpf_link__destroy(p->sdt_links[k]);
						p->sdt_links[k] = NULL;
					}
				all = 0;
				used[len] = '\0';
				break;
			}
			snprintf(used + len, sizeof(used) - len, "%s%s", len ? ", " : "",
				 sdt_probes[i].note);
		}
	}
	if (used[0] && !strstr(s->base.notes, "SDT notes")) {
		size_t len = strlen(s->base.notes);

		snprintf(s->base.notes + len, sizeof(s->base.notes) - len,
			 "%sat the SDT notes of %s: libc:{%s}", len ? "; " : "", c->obj->path,
			 used);
	}
	return 0;
}
