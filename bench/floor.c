// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of the lock benchmark: empty BPF programs (floor.bpf.c) on the probes
 * concwatch's BPF source makes, entry and return, at the same places and attached the
 * same way, for one process. The functions and places come from the source itself
 * (source/probes.h) and the libc is chosen as the source chooses it (source/uprobes.h), so
 * the two cannot drift apart. Tracepoints are not part of that floor: what concwatch's futex
 * and scheduler programs cost counts as concwatch's.
 *
 * -t: the floor of --no-uprobes instead: empty programs on the futex syscall, scheduler
 * and kernel lock tracepoints that mode traces (they fire for every process, as
 * concwatch's do; its programs return at once for the others).
 *
 * Prints "attached ..." once every probe is in place, then waits until the process exits
 * (or SIGINT / SIGTERM), and detaches. -v lists where each probe went.
 *
 * Usage: floor [-v] [-t] -p PID
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "floor.skel.h"
#include "source/links.h"
#include "source/placement.h"
#include "source/probes.h"
#include "source/target.h"
#include "source/uprobes.h"

/* The kernel's ENOTSUPP: uprobes refuse the instruction (a lock prefix, say). */
#define ENOTSUPP_KERNEL 524

struct floor {
	struct floor_bpf *skel;
	int umulti_type;		/* BPF_TRACE_UPROBE_MULTI, or -1: perf-event uprobes */
	struct bpf_link **links;	/* 2 per function: entry, return */
	int *fds;			/* the same as uprobe-multi link fds, or -1 */
	size_t nr;			/* 2 * functions */
	unsigned int entries, returns;	/* probes attached */
	struct bpf_link *tps[16];	/* -t: the tracepoint programs' links */
	unsigned int nr_tps;
};

static volatile sig_atomic_t stop;
static int verbose;

static void on_signal(int sig)
{
	stop = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG && verbose < 2 ? 0 : vfprintf(stderr, fmt, ap);
}

/* One probe: 0, or -errno. */
static int attach_one(struct floor *fl, size_t slot, int ret, const char *path, __u64 off,
		      int pid)
{
	struct bpf_program *prog = ret ? fl->skel->progs.uretprobe_empty :
					 fl->skel->progs.uprobe_empty;

	if (fl->umulti_type >= 0) {
		fl->fds[slot] = cw_uprobe_multi_attach(bpf_program__fd(prog), fl->umulti_type,
						       path, off, ret, pid, 0);
		return fl->fds[slot] < 0 ? fl->fds[slot] : 0;
	}
	fl->links[slot] = bpf_program__attach_uprobe(prog, ret, pid, path, off);
	return fl->links[slot] ? 0 : -errno;
}

static int attach(struct floor *fl, int pid)
{
	int push = cw_placement__kernel_emulates_push() > 0;
	int nopl = cw_placement__kernel_emulates_nopl() > 0;
	struct cw_uprobe_libs libs;
	char why[256];
	int err;

	err = cw_uprobe_libs__open(&libs, pid, why, sizeof(why));
	if (err) {
		fprintf(stderr, "floor: %s\n", why);
		return err;
	}
	for (size_t i = 0; i < fl->nr / 2 && !err; i++) {
		const struct cw_uprobe_lib *lib;
		struct cw_probe_info p;
		struct cw_elf_func f;
		__u64 at;

		cw_bpf_probes__get(i, &p);
		lib = cw_uprobe_libs__func(&libs, p.func, &f);
		if (!lib) {
			if (p.required) {
				fprintf(stderr, "floor: process %d maps nothing defining %s\n", pid,
					p.func);
				err = -ENOENT;
			} else if (verbose) {
				fprintf(stderr, "floor: %s: not in the target's libc\n", p.func);
			}
			continue;
		}
		at = cw_bpf_probes__offset(i, &f, push, nopl);
		for (int ret = 0; ret <= p.ret && !err; ret++) {
			err = attach_one(fl, 2 * i + ret, ret, lib->obj->host_path, f.offset + at,
					 pid);
			if (err && !p.required) {
				/* as the source does: a function it cannot probe is left out */
				if (verbose)
					fprintf(stderr, "floor: %s: cannot probe it: %s\n", p.func,
						err == -ENOTSUPP_KERNEL ? "instruction refused" :
									  strerror(-err));
				cw_links_destroy(&fl->links[2 * i], 2, &fl->fds[2 * i], 2);
				fl->entries -= ret;
				err = 0;
				break;
			}
			if (err) {
				fprintf(stderr, "floor: failed to attach %s to %s:%s+%#llx: %s\n",
					ret ? "uretprobe" : "uprobe", lib->obj->path, p.func,
					(unsigned long long)at, strerror(-err));
				break;
			}
			if (ret)
				fl->returns++;
			else
				fl->entries++;
			if (verbose && ret == p.ret)
				fprintf(stderr, "floor: %s+%#llx%s in %s\n", p.func,
					(unsigned long long)at, p.ret ? " (and return)" : "",
					lib->obj->path);
		}
	}
	cw_uprobe_libs__close(&libs);
	return err;
}

/* -t: every tracepoint program of the object. 0, or -errno. */
static int attach_tracepoints(struct floor *fl)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, fl->skel->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		if (fl->nr_tps == sizeof(fl->tps) / sizeof(fl->tps[0]))
			return -E2BIG;
		link = bpf_program__attach(prog);
		if (!link) {
			fprintf(stderr, "floor: failed to attach %s: %s\n",
				bpf_program__section_name(prog), strerror(errno));
			return -errno;
		}
		fl->tps[fl->nr_tps++] = link;
		if (verbose)
			fprintf(stderr, "floor: %s\n", bpf_program__section_name(prog));
	}
	return 0;
}

/* Load only the programs of the floor asked for: the uprobes', or the tracepoints'. */
static void choose_programs(struct floor *fl, int tracepoints)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, fl->skel->obj) {
		int is_uprobe = !strncmp(bpf_program__section_name(prog), "uprobe", 6) ||
				!strncmp(bpf_program__section_name(prog), "uretprobe", 9);

		bpf_program__set_autoload(prog, is_uprobe != tracepoints);
	}
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-v] [-t] -p PID\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct floor fl = { .umulti_type = -1 };
	int pid = 0, pidfd = -1, opt, err = 1, tracepoints = 0;
	char *end;

	while ((opt = getopt(argc, argv, "vtp:")) != -1) {
		switch (opt) {
		case 'v':
			verbose++;
			break;
		case 't':
			tracepoints = 1;
			break;
		case 'p':
			errno = 0;
			pid = strtol(optarg, &end, 10);
			if (errno || *end || pid <= 0)
				usage(argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!pid || optind != argc)
		usage(argv[0]);
	libbpf_set_print(libbpf_print);

	/* no SA_RESTART: the signal must end the poll() below */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "floor: process %d: %s\n", pid, strerror(errno));
		return 1;
	}

	fl.nr = 2 * cw_bpf_probes__nr();
	fl.links = calloc(fl.nr, sizeof(*fl.links));
	fl.fds = malloc(fl.nr * sizeof(*fl.fds));
	if (!fl.links || !fl.fds) {
		fprintf(stderr, "floor: out of memory\n");
		goto cleanup;
	}
	for (size_t i = 0; i < fl.nr; i++)
		fl.fds[i] = -1;

	fl.skel = floor_bpf__open();
	if (!fl.skel) {
		fprintf(stderr, "floor: failed to open the BPF object: %s\n", strerror(errno));
		goto cleanup;
	}
	choose_programs(&fl, tracepoints);
	/* uprobe-multi links when the kernel has them, as the source does: see links.h */
	fl.umulti_type = tracepoints ? -1 : cw_uprobe_multi_type();
	if (fl.umulti_type >= 0) {
		bpf_program__set_expected_attach_type(fl.skel->progs.uprobe_empty, fl.umulti_type);
		bpf_program__set_expected_attach_type(fl.skel->progs.uretprobe_empty,
						      fl.umulti_type);
	}
	err = floor_bpf__load(fl.skel);
	if (err) {
		fprintf(stderr, "floor: failed to load the BPF programs: %s\n", strerror(-err));
		err = 1;
		goto cleanup;
	}
	if (tracepoints ? attach_tracepoints(&fl) : attach(&fl, pid)) {
		err = 1;
		goto cleanup;
	}
	if (tracepoints)
		printf("attached %u tracepoint programs (for %d)\n", fl.nr_tps, pid);
	else
		printf("attached %u uprobes and %u uretprobes to %d (%s)\n", fl.entries,
		       fl.returns, pid,
		       fl.umulti_type >= 0 ? "uprobe-multi links" : "perf-event uprobes");
	fflush(stdout);

	while (!stop) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		if (poll(&pfd, 1, -1) > 0 && (pfd.revents & POLLIN))
			break;
	}
	err = 0;
cleanup:
	cw_links_destroy(fl.links, fl.links ? fl.nr : 0, fl.fds, fl.fds ? fl.nr : 0);
	for (unsigned int i = 0; i < fl.nr_tps; i++)
		bpf_link__destroy(fl.tps[i]);
	floor_bpf__destroy(fl.skel);
	free(fl.links);
	free(fl.fds);
	if (pidfd >= 0)
		close(pidfd);
	return err;
}
