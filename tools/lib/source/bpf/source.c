// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF source: loads concwatch.bpf.o with the options' sizes, attaches its
 * tracepoints and, per traced process, its uprobes (attach.c), and streams the ring
 * buffer's records (stream.c). Its parts: internal.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "source/bpf/internal.h"
#include "source/links.h"
#include "source/placement.h"
#include "source/target.h"

#define DEFAULT_RINGBUF_BYTES (4UL << 20)
#define DEFAULT_TICK_NS 100000000ULL
#define DEFAULT_MAX_THREADS 16384
#define DEFAULT_STACK_BYTES 16384
#define MAX_STACK_BYTES (24 * 1024)	/* CW_RAW_MAX of cw_stack.bpf.h */
#define READER_NICE -15
#define BTF_PATH "/sys/kernel/btf/vmlinux"

#define NR_PROBES CW_BPF_NR_PROBES
#define NR_SDT CW_BPF_NR_SDT

/* The stack copy buffers of cw_stack.bpf.h: 4 KiB << class, plus a page of slack. */
#define RAW_CLASSES 4
#define RAW_RECORD_BYTES(class) (sizeof(struct cw_ev_ustack_raw) + (4096U << (class)) + 4096)

static int verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* without -v our own one-line error says what failed; libbpf's detail is noise */
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* With the backend's debug output (-vv): how long a step of the start took. */
static void took(const char *what, __u64 since_ns)
{
	if (verbose)
		fprintf(stderr, "concwatch: %s in %.1f ms\n", what,
			(cw_now_ns() - since_ns) / 1e6);
}

void cw_bpf__set_err(struct bpf_source *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->base.err, sizeof(s->base.err), fmt, ap);
	va_end(ap);
}

/*
 * The thread that starts the source reads its ring buffer. A target that keeps every CPU
 * busy leaves it a share too small to keep up (on 2 CPUs, report -p --duration 2 lost
 * 119k-360k events; at nice -15 none): raise its priority, where permitted
 * (CAP_SYS_NICE: root), and never lower one the user raised already. On Linux this is
 * the calling thread's own nice value; threads it starts later inherit it.
 */
static void raise_priority(void)
{
	int cur;

	errno = 0;
	cur = getpriority(PRIO_PROCESS, 0);
	if (errno || cur <= READER_NICE)
		return;
	setpriority(PRIO_PROCESS, 0, READER_NICE); /* EPERM, EACCES: it stays as it was */
}

/*
 * --no-uprobes: no uprobe or USDT program is loaded (nor attached: attach.c), so the
 * target's uncontended lock calls run untouched; futex waits, kernel locks and the
 * scheduler still come from tracepoints.
 */
static void leave_out_uprobes(struct bpf_source *s)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->skel->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9) ||
		    !strncmp(sec, "usdt", 4))
			bpf_program__set_autoload(prog, false);
	}
}

/*
 * The syscall tracepoints this kernel lacks (futex_wait, futex_wake and futex_requeue came
 * in Linux 6.7, epoll_pwait2 in 5.11): their programs are left out, where no program can
 * make those calls anyway.
 */
static void leave_out_missing_syscalls(struct bpf_source *s)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		const char *name = strrchr(sec, '/');

		if (strncmp(sec, "tracepoint/syscalls/", 20) || !name)
			continue;
		if (!cw_bpf__syscall_tracepoint_available(name + 1))
			bpf_program__set_autoload(prog, false);
	}
}

/*
 * The number of pids the kernel can hand out (/proc/sys/kernel/pid_max): the size of the
 * targets array, indexed by tgid. PID_MAX_LIMIT of 64-bit kernels when unreadable.
 */
static __u32 pid_max(void)
{
	unsigned long v = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v && v <= 4194304 ? v : 4194304;
}

static int bpf_source_start(struct cw_source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;
	__u64 t0 = cw_now_ns(), t;
	int err;

	if (s->opts.pid) {
		err = cw_target__check(s->opts.pid);
		if (err) {
			cw_bpf__set_err(s, "no such process: %d", s->opts.pid);
			return err;
		}
	}
	err = cw_bpf__ensure_tracefs(s);
	if (err)
		return err;
	raise_priority();

	s->skel = concwatch_bpf__open();
	if (!s->skel) {
		err = -errno;
		cw_bpf__set_err(s, "failed to open the BPF object: %s", strerror(-err));
		return err;
	}
	s->skel->rodata->wakeup_bytes = s->opts.ringbuf_bytes / 4;
	s->skel->rodata->stack_bytes = s->opts.stack_bytes;
	s->skel->rodata->raw_class = s->raw_class;
	s->skel->rodata->raw_events = s->opts.raw_events;
	s->skel->rodata->track_free = s->opts.track_free;
	s->skel->rodata->no_uprobes = s->opts.no_uprobes;
	cw_bpf__sched_configure(s);
	cw_bpf__loops_configure(s);
	/* loaded only when asked for: nothing of it to verify otherwise */
	if (!s->opts.track_free)
		bpf_program__set_autoload(s->skel->progs.uprobe_free, false);
	if (s->opts.no_uprobes)
		leave_out_uprobes(s);
	bpf_map__set_max_entries(s->skel->maps.held_sets,
				 s->opts.no_uprobes ? 1 : s->opts.max_threads);
	if (!cw_bpf__klock_available()) {
		s->no_klock = 1;
		bpf_program__set_autoload(s->skel->progs.tp_btf__contention_begin, false);
		bpf_program__set_autoload(s->skel->progs.tp_btf__contention_end, false);
	}
	leave_out_missing_syscalls(s);
	if (!cw_bpf__find_vma_available())
		bpf_program__set_autoload(s->skel->progs.tracepoint__syscalls__sys_exit_mmap,
					  false);
	bpf_map__set_max_entries(s->skel->maps.events, s->opts.ringbuf_bytes);
	bpf_map__set_max_entries(s->skel->maps.pending_locks,
				 s->opts.no_uprobes ? 1 : s->opts.max_threads);
	bpf_map__set_max_entries(s->skel->maps.pending_futexes, s->opts.max_threads);
	bpf_map__set_max_entries(s->skel->maps.pending_klocks, s->opts.max_threads);
	bpf_map__set_max_entries(s->skel->maps.targets, pid_max());

	s->umulti_type = cw_uprobe_multi_type();
	if (s->umulti_type >= 0)
		cw_bpf__set_umulti(s);
	if (verbose) {
		struct bpf_program *prog;

		/* libbpf prints each program's verification: time, instructions, states */
		bpf_object__for_each_program(prog, s->skel->obj)
			bpf_program__set_log_level(prog, 4);	/* BPF_LOG_STATS */
	}
	took("BPF object opened", t0);
	t = cw_now_ns();
	err = concwatch_bpf__load(s->skel);
	took("BPF maps made and programs verified", t);
	if (err) {
		/* the verifier's rejections come back as EACCES too: only EPERM is privilege */
		if (err == -EPERM)
			cw_bpf__set_err(s, "not permitted to load BPF programs: run as root");
		else
			cw_bpf__set_err(s, "failed to load the BPF programs: %s "
					"(-vv shows libbpf's log)", strerror(-err));
		return err;
	}
	t = cw_now_ns();
	err = cw_bpf__cost_start(s);
	if (err) {
		cw_bpf__set_err(s, "out of memory");
		return err;
	}
	err = cw_bpf__govern_start(s);
	if (err)
		return err;
	if (s->opts.measure_cost)
		took("tracing cost calibrated", t);
	t = cw_now_ns();
	s->emulates_push = cw_placement__kernel_emulates_push() > 0;
	s->emulates_nopl = cw_placement__kernel_emulates_nopl() > 0;
	err = cw_bpf__attach_tracepoints(s);
	if (!err)
		err = cw_bpf__sched_attach(s);
	if (!err)
		err = cw_bpf__loops_attach(s);
	took("tracepoints attached", t);
	t = cw_now_ns();
	if (!err && s->opts.pid)
		err = cw_bpf__add_process(s, s->opts.pid);
	if (s->opts.pid)
		took("process attached", t);
	if (err)
		return err;

	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), cw_bpf__ringbuf_record,
				 s, NULL);
	if (!s->rb) {
		err = -errno;
		cw_bpf__set_err(s, "failed to open the ring buffer: %s", strerror(-err));
		return err;
	}
	s->emit.next_tick_ns = cw_now_ns();
	return 0;
}

static int bpf_source_fd(struct cw_source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;

	return s->rb ? ring_buffer__epoll_fd(s->rb) : -1;
}

static int bpf_source_stop(struct cw_source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;
	size_t n = s->nr_procs * 2 * NR_PROBES;
	struct bpf_link **links;
	int *fds;

	/*
	 * Stop every probe at once before detaching: each detach waits for a grace period
	 * (~0.1 s here), and probes still attached would record halves of operations.
	 */
	if (s->skel && !s->stopped_ns) {
		for (size_t i = 0; i < s->nr_procs; i++) {
			__u32 tgid = s->procs[i]->pid;

			cw_bpf__untarget(s, tgid);
		}
		s->stopped_ns = cw_now_ns();
	}
	/* every process's links in one go, so their waits overlap */
	links = calloc(n ? n : 1, sizeof(*links));
	fds = calloc(n ? n : 1, sizeof(*fds));
	if (links && fds) {
		for (size_t i = 0; i < s->nr_procs; i++) {
			memcpy(&links[i * 2 * NR_PROBES], s->procs[i]->links,
			       sizeof(s->procs[i]->links));
			memcpy(&fds[i * 2 * NR_PROBES], s->procs[i]->mlinks,
			       sizeof(s->procs[i]->mlinks));
			memset(s->procs[i]->links, 0, sizeof(s->procs[i]->links));
			memset(s->procs[i]->mlinks, -1, sizeof(s->procs[i]->mlinks));
		}
		cw_links_destroy(links, n, fds, n);
	}
	free(links);
	free(fds);
	/* out of memory above: one process after another */
	for (size_t i = 0; i < s->nr_procs; i++) {
		cw_links_destroy(s->procs[i]->links, 2 * NR_PROBES, s->procs[i]->mlinks,
				 2 * NR_PROBES);
		cw_links_destroy(s->procs[i]->sdt_links, NR_SDT, NULL, 0);
	}
	cw_links_destroy(s->tp_links, CW_BPF_NR_TRACEPOINTS, NULL, 0);
	cw_bpf__sched_detach(s);
	return 0;
}

static void bpf_source_stats(struct cw_source *src, struct cw_source_stats *st)
{
	*st = ((struct bpf_source *)src)->emit.st;
}

static void bpf_source_free(struct cw_source *src)
{
	struct bpf_source *s = (struct bpf_source *)src;

	bpf_source_stop(src);
	ring_buffer__free(s->rb);
	concwatch_bpf__destroy(s->skel);
	cw_thread_names__fini(&s->names);
	cw_emit__fini(&s->emit);
	for (size_t i = 0; i < s->nr_procs; i++)
		cw_bpf__proc_free(s->procs[i]);
	free(s->procs);
	cw_bpf__stats_fini(s);
	cw_bpf__threads_fini(s);
	cw_bpf__loops_fini(s);
	cw_bpf__cost_fini(s);
	cw_bpf__govern_fini(s);
	free(s);
}

static const struct cw_source_ops bpf_source_ops = {
	.name = "bpf",
	.start = bpf_source_start,
	.fd = bpf_source_fd,
	.drain = cw_bpf__drain,
	.stop = bpf_source_stop,
	.stats = bpf_source_stats,
	.add_process = cw_bpf__op_add_process,
	.remove_process = cw_bpf__op_remove_process,
	.refresh_process = cw_bpf__op_refresh_process,
	.free = bpf_source_free,
};

/* The options checked and their defaults filled in: 0, -EINVAL or -ENOSPC. */
static int set_opts(struct bpf_source *s, const struct cw_source_opts *opts)
{
	size_t rb;

	s->opts = *opts;
	rb = opts->ringbuf_bytes ? opts->ringbuf_bytes : DEFAULT_RINGBUF_BYTES;
	if (rb < (size_t)getpagesize() || (rb & (rb - 1)))
		return -EINVAL;
	s->opts.ringbuf_bytes = rb;
	if (!s->opts.tick_ns)
		s->opts.tick_ns = DEFAULT_TICK_NS;
	if (!s->opts.max_threads)
		s->opts.max_threads = DEFAULT_MAX_THREADS;
	if (!s->opts.stack_bytes)
		s->opts.stack_bytes = DEFAULT_STACK_BYTES;
	if (s->opts.stack_bytes < 0)
		s->opts.stack_bytes = 0; /* no raw copies: the frame-pointer stacks only */
	/* the governor decides from the measured cost */
	if (s->opts.max_overhead_pct > 0)
		s->opts.measure_cost = 1;
	if (s->opts.stack_bytes > MAX_STACK_BYTES || s->opts.stack_bytes % 8)
		return -EINVAL;
	while (s->raw_class < RAW_CLASSES - 1 && (4096 << s->raw_class) < s->opts.stack_bytes)
		s->raw_class++;
	/* room for a few stack copies at once, or every first sighting would be lost */
	if (s->opts.stack_bytes && rb < 8 * RAW_RECORD_BYTES(s->raw_class))
		return -ENOSPC;
	return 0;
}

/*
 * Whether BPF can run here, before anything is made: the kernel's BTF, and the bpf()
 * system call. The call is made with a command no kernel has: where bpf() exists and
 * this process may make it, the kernel answers EINVAL and nothing is allocated (a map
 * would count against RLIMIT_MEMLOCK before 5.11, which answers EPERM too). EPERM is a
 * seccomp filter (a container's, even for root) or, on kernels that check it first (before
 * 6.5), unprivileged BPF turned off for a process without the capability; ENOSYS a kernel
 * without CONFIG_BPF_SYSCALL, or a filter saying so. Nothing else
 * counts as unavailable: a narrower refusal is the load's to report, with its reason.
 * 0, or -EOPNOTSUPP with why (a few words) and err (the user's line) when err is given.
 */
static int check_available(char *why, size_t whylen, char *err, size_t errlen)
{
	union bpf_attr attr;
	int e;

	if (access(BTF_PATH, R_OK)) {
		e = errno;
		if (err)
			snprintf(err, errlen, "this kernel has no BTF (%s: %s): concwatch's BPF "
				 "programs need CONFIG_DEBUG_INFO_BTF=y", BTF_PATH, strerror(e));
		snprintf(why, whylen, "no BTF: %s: %s", BTF_PATH, strerror(e));
		return -EOPNOTSUPP;
	}
	memset(&attr, 0, sizeof(attr));
	if (syscall(__NR_bpf, INT_MAX, &attr, sizeof(attr)) >= 0 ||
	    (errno != EPERM && errno != ENOSYS))
		return 0;
	e = errno;
	if (e == ENOSYS) {
		if (err)
			snprintf(err, errlen, "this kernel has no bpf() system call (%s): "
				 "concwatch's BPF programs need CONFIG_BPF_SYSCALL=y", strerror(e));
		snprintf(why, whylen, "no bpf() system call: %s", strerror(e));
	} else {
		if (err)
			snprintf(err, errlen, "not permitted to use the bpf() system call (%s): "
				 "run as root, without a seccomp filter that forbids it",
				 strerror(e));
		snprintf(why, whylen, "bpf() not permitted: %s", strerror(e));
	}
	return -EOPNOTSUPP;
}

int cw_bpf_source__available(char *why, size_t len)
{
	return check_available(why, len, NULL, 0);
}

int cw_bpf_source__open(const struct cw_source_opts *opts, struct cw_source **out, char *err,
			size_t errlen)
{
	struct bpf_source *s;
	char why[128];
	int ret;

	ret = check_available(why, sizeof(why), err, errlen);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &bpf_source_ops;
	s->umulti_type = -1;
	s->stats_fd = -1;
	ret = set_opts(s, opts);
	if (ret) {
		if (ret == -ENOSPC)
			snprintf(err, errlen, "the ring buffer is too small for stack copies: give "
				 "a larger --ringbuf-size or a smaller --stack-bytes");
		else
			snprintf(err, errlen, "bad BPF source options: %s", strerror(-ret));
		free(s);
		return ret;
	}
	cw_emit__init(&s->emit, s->opts.tick_ns);
	/* the stream says how it was traced: a recording's report knows it too */
	if (s->opts.no_uprobes)
		s->emit.tick_flags = CW_F_NO_UPROBES;
	verbose = opts->verbose;
	libbpf_set_print(libbpf_print);
	*out = &s->base;
	return 0;
}
