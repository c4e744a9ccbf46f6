// SPDX-License-Identifier: GPL-2.0
/* What a probe hit and the BPF programs cost on this host: see cost.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>

#include "common/time.h"
#include "source/cost.h"
#include "source/links.h"

#define ROUNDS 5
#define MIN_CALLS 64
#define MAX_CALLS 4096
#define ROUND_NS 2000000ULL	/* time a round's single-stepped calls take, about */
#define WARM_CALLS 16

/*
 * The calibration's targets: the same two-instruction function, probed on an
 * instruction the kernel single-steps (mov) or emulates (jmp), or not at all. Hidden,
 * in concwatch's own text: the probes go on its file, for this process only.
 */
__asm__("	.pushsection .text\n"
	"	.p2align 4\n"
	"	.globl cw_cost_fn_plain\n"
	"	.hidden cw_cost_fn_plain\n"
	"	.type cw_cost_fn_plain, @function\n"
	"cw_cost_fn_plain:\n"
	"	mov %rdi, %rax\n"
	"	ret\n"
	"	.size cw_cost_fn_plain, .-cw_cost_fn_plain\n"
	"	.p2align 4\n"
	"	.globl cw_cost_fn_stepped\n"
	"	.hidden cw_cost_fn_stepped\n"
	"	.type cw_cost_fn_stepped, @function\n"
	"cw_cost_fn_stepped:\n"
	"	mov %rdi, %rax\n"
	"	ret\n"
	"	.size cw_cost_fn_stepped, .-cw_cost_fn_stepped\n"
	"	.p2align 4\n"
	"	.globl cw_cost_fn_emulated\n"
	"	.hidden cw_cost_fn_emulated\n"
	"	.type cw_cost_fn_emulated, @function\n"
	"cw_cost_fn_emulated:\n"
	"	jmp 1f\n"
	"1:	mov %rdi, %rax\n"
	"	ret\n"
	"	.size cw_cost_fn_emulated, .-cw_cost_fn_emulated\n"
	"	.p2align 4\n"
	"	.globl cw_cost_fn_return\n"
	"	.hidden cw_cost_fn_return\n"
	"	.type cw_cost_fn_return, @function\n"
	"cw_cost_fn_return:\n"
	"	jmp 1f\n"
	"1:	mov %rdi, %rax\n"
	"	ret\n"
	"	.size cw_cost_fn_return, .-cw_cost_fn_return\n"
	"	.popsection\n");

typedef long (*calib_fn)(long);
long cw_cost_fn_plain(long);
long cw_cost_fn_stepped(long);
long cw_cost_fn_emulated(long);
long cw_cost_fn_return(long);

enum { F_PLAIN, F_STEPPED, F_EMULATED, F_RETURN, NR_FNS };

static const calib_fn fns[NR_FNS] = {
	cw_cost_fn_plain, cw_cost_fn_stepped, cw_cost_fn_emulated, cw_cost_fn_return,
};

/* The probes: an entry probe on each probed function, and a return probe on F_RETURN. */
static const struct { int fn, ret; } probes[] = {
	{ F_STEPPED, 0 }, { F_EMULATED, 0 }, { F_RETURN, 0 }, { F_RETURN, 1 },
};

#define NR_PROBES (sizeof(probes) / sizeof(probes[0]))

static __u64 thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __u64 time_calls(calib_fn fn, unsigned int n)
{
	__u64 t0 = thread_ns();
	volatile long sink = 0;

	for (unsigned int i = 0; i < n; i++)
		sink += fn(i);
	(void)sink;
	return thread_ns() - t0;
}

/* The file offset of code address addr in this process's own mappings, or -errno. */
static int self_offset(unsigned long addr, __u64 *off)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, pgoff;

		if (sscanf(line, "%lx-%lx %*s %lx", &start, &end, &pgoff) != 3)
			continue;
		if (addr >= start && addr < end) {
			*off = addr - start + pgoff;
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

/* An empty program for uprobes: r0 = 0; exit. */
static int load_empty(int umulti_type)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o);

	if (umulti_type >= 0)
		o.expected_attach_type = umulti_type;
	return bpf_prog_load(BPF_PROG_TYPE_KPROBE, "cw_calibrate", "GPL", insns, 2, &o);
}

/* An integer from a sysfs file: 0, or -errno. */
static int read_int(const char *path, int *v)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", v) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

/* A perf uprobe (the kernel's uprobe PMU) on this thread, running prog: its fd or -errno. */
static int perf_uprobe(int prog_fd, const char *path, __u64 off, int ret)
{
	struct perf_event_attr a;
	int type, bit = 0, fd;

	if (read_int("/sys/bus/event_source/devices/uprobe/type", &type))
		return -EOPNOTSUPP;
	if (ret) {
		FILE *f = fopen("/sys/bus/event_source/devices/uprobe/format/retprobe", "re");

		if (!f || fscanf(f, "config:%d", &bit) != 1)
			bit = 0;
		if (f)
			fclose(f);
	}
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = type;
	a.config = ret ? 1ULL << bit : 0;
	a.config1 = (__u64)(unsigned long)path;
	a.config2 = off;
	fd = syscall(__NR_perf_event_open, &a, 0 /* this thread */, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd) || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int cmp_s64(const void *a, const void *b)
{
	__s64 x = *(const __s64 *)a, y = *(const __s64 *)b;

	return x < y ? -1 : x > y;
}

/* The median of ROUNDS differences, per call, never below 0. */
static __u32 median_per_call(__s64 *d, unsigned int n)
{
	qsort(d, ROUNDS, sizeof(*d), cmp_s64);
	return d[ROUNDS / 2] > 0 ? (__u32)(d[ROUNDS / 2] / n) : 0;
}

int cw_cost_calib__run(struct cw_cost_calib *c, int umulti_type, char *err, size_t errlen)
{
	int fds[NR_PROBES], prog, ret = 0;
	__s64 d[CW_TRAP_MAX][ROUNDS];
	__u64 t0 = cw_now_ns(), per;
	unsigned int n;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NR_PROBES; i++)
		fds[i] = -1;
	prog = load_empty(umulti_type);
	if (prog < 0) {
		snprintf(err, errlen, "cannot load the calibration's BPF program: %s",
			 strerror(-prog));
		return prog;
	}
	for (size_t i = 0; i < NR_PROBES && !ret; i++) {
		__u64 off;

		ret = self_offset((unsigned long)fns[probes[i].fn], &off);
		if (ret) {
			snprintf(err, errlen, "cannot find concwatch's own code in /proc/self/maps: %s",
				 strerror(-ret));
			break;
		}
		if (umulti_type >= 0)
			fds[i] = cw_uprobe_multi_attach(prog, umulti_type, "/proc/self/exe", off,
							probes[i].ret, getpid(), 0);
		else
			fds[i] = perf_uprobe(prog, "/proc/self/exe", off, probes[i].ret);
		if (fds[i] < 0) {
			ret = fds[i];
			snprintf(err, errlen, "cannot put a %s on concwatch's own code: %s",
				 probes[i].ret ? "uretprobe" : "uprobe", strerror(-ret));
		}
	}
	if (!ret) {
		/* first hits set up the out-of-line area; then size a round by its dearest kind */
		for (int f = 0; f < NR_FNS; f++)
			time_calls(fns[f], WARM_CALLS);
		per = time_calls(fns[F_STEPPED], WARM_CALLS) / WARM_CALLS;
		n = per ? ROUND_NS / per : MAX_CALLS;
		n = n < MIN_CALLS ? MIN_CALLS : n > MAX_CALLS ? MAX_CALLS : n;
		for (int r = 0; r < ROUNDS; r++) {
			__u64 t[NR_FNS];

			/* each round in another order: nothing gains from coming first */
			for (int k = 0; k < NR_FNS; k++) {
				int f = (k + r) % NR_FNS;

				t[f] = time_calls(fns[f], n);
			}
			d[CW_TRAP_EMULATED][r] = (__s64)(t[F_EMULATED] - t[F_PLAIN]);
			d[CW_TRAP_STEPPED][r] = (__s64)(t[F_STEPPED] - t[F_PLAIN]);
			d[CW_TRAP_RETURN][r] = (__s64)(t[F_RETURN] - t[F_EMULATED]);
		}
		for (int k = 0; k <= CW_TRAP_RETURN; k++)
			c->hit_ns[k] = median_per_call(d[k], n);
		c->hits = n;
	}
	cw_links_destroy(NULL, 0, fds, NR_PROBES);
	close(prog);
	c->took_ns = cw_now_ns() - t0;
	return ret;
}

int cw_cost__bpf_stats_enable(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	return fd < 0 ? (errno ? -errno : fd) : fd;
}

int cw_cost__bpf_run_time(const int *prog_fds, size_t nr, __u64 *run_ns, __u64 *runs)
{
	*run_ns = *runs = 0;
	for (size_t i = 0; i < nr; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		if (prog_fds[i] < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(prog_fds[i], &info, &len))
			return -errno;
		*run_ns += info.run_time_ns;
		*runs += info.run_cnt;
	}
	return 0;
}
