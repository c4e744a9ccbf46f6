// SPDX-License-Identifier: GPL-2.0
/*
 * Attaching the BPF source's uprobes to a process, at the places its own libc (or
 * executable) has the probed functions, found through /proc/PID/maps and reached through
 * /proc/PID/root so that processes in containers work; uprobe-multi links where the
 * kernel has them (links.h). Adding and removing a traced process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/array.h"
#include "concwatch.skel.h"
#include "source/bpf/internal.h"
#include "source/links.h"
#include "source/target.h"
#include "source/uprobes.h"

#define NR_PROBES CW_BPF_NR_PROBES
#define NR_SDT CW_BPF_NR_SDT

struct proc *cw_bpf__find_proc(const struct bpf_source *s, int pid)
{
	for (size_t i = 0; i < s->nr_procs; i++)
		if (s->procs[i]->pid == pid)
			return s->procs[i];
	return NULL;
}

/* Attach every probe to process p, at the places its own libc (or executable) has them. */
static int attach(struct bpf_source *s, struct proc *p)
{
	struct cw_uprobe_libs libs;
	int err;

	if (s->opts.no_uprobes)
		return 0; /* --no-uprobes: tracepoints only, no trap in the target */
	if (s->opts.lock_calls_elsewhere && !p->lock_calls)
		return 0; /* the in-process library has them */
	err = cw_uprobe_libs__open(&libs, p->pid, s->base.err, sizeof(s->base.err));
	if (err)
		return err;
	err = cw_bpf__attach_sdt(s, p, &libs);
	for (size_t i = 0; !err && i < NR_PROBES; i++) {
		const struct cw_bpf_probe *pr = &cw_bpf_probes[i];
		const struct cw_uprobe_lib *lib;
		const struct cw_object *obj;
		struct cw_elf_func f;
		__u64 off;
		int trap;

		if (pr->track_free && !s->opts.track_free)
			continue;
		if (cw_bpf__sdt_covered(p, pr->func))
			continue;
		err = cw_uprobe_libs__need(&libs, &s->base, pr->func, pr->required, &f, &lib);
		if (err || !lib)
			continue;
		obj = lib->obj;
		off = f.offset + cw_bpf__place(s->emulates_push, s->emulates_nopl, pr, &f, &trap);
		for (int ret = 0; ret <= pr->ret && !err; ret++) {
			LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret,
				    .bpf_cookie = CW_PROBE_COOKIE_WITH_TRAP(
					    CW_PROBE_COOKIE(pr->kind, pr->op, 0),
					    ret ? CW_TRAP_RETURN : trap));
			const char *name = ret ? CW_BPF_RET_PROG : pr->prog;
			struct bpf_program *prog;
			struct bpf_link **link = &p->links[2 * i + ret];
			int ok;

			prog = bpf_object__find_program_by_name(s->skel->obj, name);
			if (!prog) {
				err = -ENOENT;
				cw_bpf__set_err(s, "BPF object has no program %s (build mismatch)",
						name);
				break;
			}
			if (s->umulti_type >= 0) {
				int fd = cw_uprobe_multi_attach(bpf_program__fd(prog),
								s->umulti_type, obj->host_path,
								off, ret, p->pid,
								uo.bpf_cookie);

				p->mlinks[2 * i + ret] = fd;
				ok = fd >= 0;
				errno = -fd;
			} else {
				*link = bpf_program__attach_uprobe_opts(prog, p->pid,
									obj->host_path, off, &uo);
				ok = *link != NULL;
			}
			if (!ok && !pr->required) {
				/* e.g. a lock-prefixed first instruction: uprobes refuse those */
				char why[128];

				snprintf(why, sizeof(why), "cannot probe it: %s",
					 cw_uprobes__strerror(errno));
				cw_uprobes__not_probed(&s->base, pr->func, why);
				cw_links_destroy(&p->links[2 * i], 1, &p->mlinks[2 * i], 1);
				break;
			}
			if (!ok) {
				err = -errno;
				cw_bpf__set_err(s, "failed to attach %s to %s:%s: %s",
						ret ? "uretprobe" : "uprobe", obj->path, pr->func,
						strerror(-err));
			}
		}
	}
	cw_uprobe_libs__close(&libs);
	return err;
}

/* Load every uprobe program for uprobe-multi links: see links.h. */
void cw_bpf__set_umulti(struct bpf_source *s)
{
	for (size_t i = 0; i < NR_PROBES; i++) {
		for (int ret = 0; ret <= cw_bpf_probes[i].ret; ret++) {
			const char *name = ret ? CW_BPF_RET_PROG : cw_bpf_probes[i].prog;
			struct bpf_program *prog;

			prog = bpf_object__find_program_by_name(s->skel->obj, name);
			if (prog)
				bpf_program__set_expected_attach_type(prog, s->umulti_type);
		}
	}
}

void cw_bpf__proc_free(struct proc *p)
{
	if (!p)
		return;
	cw_links_destroy(p->links, 2 * NR_PROBES, p->mlinks, 2 * NR_PROBES);
	cw_links_destroy(p->sdt_links, NR_SDT, NULL, 0);
	cw_proc_maps__fini(&p->maps);
	free(p);
}

/* Trace one more process: probes, thread names, module map, then the targets map. */
int cw_bpf__add_process(struct bpf_source *s, int pid)
{
	__u32 tgid = pid;
	__u8 one = 1;
	struct proc *p, **v;
	int err;

	if (cw_bpf__find_proc(s, pid))
		return 0;
	v = cw_grow(s->procs, &s->cap_procs, s->nr_procs + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->procs = v;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	cw_proc_maps__init(&p->maps, pid);
	for (size_t i = 0; i < 2 * NR_PROBES; i++)
		p->mlinks[i] = -1;
	/* the governor has the lock probes off: it attaches them to all at once */
	err = s->gov_off ? 0 : attach(s, p);
	if (!err)
		err = cw_thread_names__snapshot(&s->names, &s->emit, pid);
	if (!err)
		err = cw_proc_maps__send(&p->maps, &s->emit, cw_now_ns(), 1);
	p->maps.read_at_attach = 1;
	if (err) {
		if (!s->base.err[0])
			cw_bpf__set_err(s, "failed to read the threads and maps of %d: %s", pid,
					strerror(-err));
		cw_bpf__proc_free(p);
		return err;
	}
	/*
	 * Attaching takes a while per probe. Tracing starts only now, for every probe at
	 * once, so no operation is seen by its entry probe but not its return probe.
	 */
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.targets), &tgid, &one, BPF_ANY)) {
		err = -errno;
		cw_bpf__set_err(s, "failed to add %d to the targets map: %s", pid, strerror(-err));
		cw_bpf__proc_free(p);
		return err;
	}
	s->procs[s->nr_procs++] = p;
	return 0;
}

int cw_bpf__op_add_process(struct cw_source *src, int pid)
{
	struct bpf_source *s = (struct bpf_source *)src;

	s->base.err[0] = '\0';
	if (!s->skel || s->stopped_ns) {
		cw_bpf__set_err(s, "cannot trace process %d: tracing has %s", pid,
				s->skel ? "stopped" : "not started");
		return -EINVAL;
	}
	return cw_bpf__add_process(s, pid);
}

/*
 * Where the library keeps its threads' slots in process tgid (tls_slot), or that it does
 * not record it (0): 0 or -errno.
 */
static int library_slots(struct bpf_source *s, __u32 tgid, __s64 tls_slot)
{
	int fd = bpf_map__fd(s->skel->maps.library_procs);

	if (tls_slot ? bpf_map_update_elem(fd, &tgid, &tls_slot, BPF_ANY) :
		       bpf_map_delete_elem(fd, &tgid) && errno != ENOENT)
		return -errno;
	return 0;
}

int cw_bpf_source__trace_lock_calls(struct cw_source *src, int pid)
{
	struct bpf_source *s = (struct bpf_source *)src;
	struct proc *p;
	int err;

	if (strcmp(src->ops->name, "bpf"))
		return -EINVAL;
	p = cw_bpf__find_proc(s, pid);
	if (!p) {
		cw_bpf__set_err(s, "process %d is not traced", pid);
		return -ENOENT;
	}
	if (p->lock_calls || s->opts.no_uprobes)
		return 0;
	s->base.err[0] = '\0';
	/* a new image the library is not in: its slots are not this image's */
	library_slots(s, pid, 0);
	p->lock_calls = 1;
	err = attach(s, p);
	if (err) {
		/* none or all: what attached before the failure goes */
		cw_links_destroy(p->links, 2 * NR_PROBES, p->mlinks, 2 * NR_PROBES);
		cw_links_destroy(p->sdt_links, NR_SDT, NULL, 0);
		p->lock_calls = 0;
	}
	return err;
}

int cw_bpf_source__library_waits(struct cw_source *src, int pid, __s64 tls_slot)
{
	struct bpf_source *s = (struct bpf_source *)src;
	int err;

	if (strcmp(src->ops->name, "bpf"))
		return -EOPNOTSUPP;
	/* the hello may come before the process is added: its removal clears it */
	err = library_slots(s, pid, tls_slot);
	if (err)
		cw_bpf__set_err(s, "process %d: the library's waits: %s", pid, strerror(-err));
	return err;
}

int cw_bpf__op_refresh_process(struct cw_source *src, int pid)
{
	struct bpf_source *s = (struct bpf_source *)src;
	struct proc *p;

	int err;

	p = cw_bpf__find_proc(s, pid);
	if (!p) {
		cw_bpf__set_err(s, "process %d is not traced", pid);
		return -ENOENT;
	}
	err = cw_proc_maps__send(&p->maps, &s->emit, cw_now_ns(), 1);
	if (err)
		cw_bpf__set_err(s, "failed to read the maps of %d: %s", pid, strerror(-err));
	return err;
}

/* Tracing of process tgid stops: 0, or -errno. */
int cw_bpf__untarget(struct bpf_source *s, __u32 tgid)
{
	__u8 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.targets), &tgid, &zero, BPF_ANY))
		return -errno;
	/* its image is gone, or the library no longer records it */
	library_slots(s, tgid, 0);
	return 0;
}

int cw_bpf__op_remove_process(struct cw_source *src, int pid)
{
	struct bpf_source *s = (struct bpf_source *)src;
	__u32 tgid = pid;
	int err = 0;

	for (size_t i = 0; i < s->nr_procs; i++) {
		if (s->procs[i]->pid != pid)
			continue;
		err = cw_bpf__untarget(s, tgid);
		if (err)
			cw_bpf__set_err(s, "failed to remove %d from the targets map: %s", pid,
					strerror(-err));
		cw_bpf__proc_free(s->procs[i]);
		memmove(&s->procs[i], &s->procs[i + 1], (s->nr_procs - i - 1) * sizeof(*s->procs));
		s->nr_procs--;
		return err;
	}
	cw_bpf__set_err(s, "process %d is not traced", pid);
	return -ENOENT;
}
