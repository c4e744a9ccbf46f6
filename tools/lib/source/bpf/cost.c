// SPDX-License-Identifier: GPL-2.0
/*
 * What tracing costs the target (cw_source_opts.measure_cost): the per-hit cost of each
 * trap kind calibrated at start (source/cost.h), the hits the probe programs count by
 * kind in trap_hits, the run time of every loaded program from the kernel's BPF
 * statistics, and the targets' own CPU time (/proc/PID/stat: what the cost is a share of,
 * the scheduler tracepoints may be shed), sent each tick as running totals (CW_EV_COST).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "source/bpf/internal.h"
#include "source/cost.h"

/* Add a line to the notes -v shows. */
static void note(struct bpf_source *s, const char *fmt, const char *why)
{
	size_t len = strlen(s->base.notes);

	snprintf(s->base.notes + len, sizeof(s->base.notes) - len, "%s", len ? "; " : "");
	len = strlen(s->base.notes);
	snprintf(s->base.notes + len, sizeof(s->base.notes) - len, fmt, why);
}

/* A uprobe, uretprobe or USDT program: it runs in the traced process only. */
static int is_probe(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return !strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9) ||
	       !strncmp(sec, "usdt", 4);
}

int cw_bpf__cost_start(struct bpf_source *s)
{
	struct cw_cost_calib c;
	struct bpf_program *prog;
	char why[200];
	size_t n = 0;

	s->stats_fd = -1;
	if (!s->opts.measure_cost)
		return 0;
	s->cost.hdr.type = CW_EV_COST;
	s->cost.hdr.size = sizeof(s->cost);
	s->cost.hdr.cpu = 0xffff;
	if (s->opts.max_overhead_pct > 0)
		s->cost.budget_ppm = (__u32)(s->opts.max_overhead_pct * 1e4 + 0.5);
	if (!cw_cost_calib__run(&c, s->umulti_type, why, sizeof(why))) {
		memcpy(s->cost.hit_ns, c.hit_ns, sizeof(c.hit_ns));
		s->cost.flags |= CW_COST_CALIBRATED;
		if (s->opts.verbose)
			fprintf(stderr, "concwatch: a probe hit costs %.2f us emulated, %.2f us "
				"single-stepped, %.2f us more with a return probe here (%u calls "
				"a round, calibrated in %.1f ms)\n",
				c.hit_ns[CW_TRAP_EMULATED] / 1e3, c.hit_ns[CW_TRAP_STEPPED] / 1e3,
				c.hit_ns[CW_TRAP_RETURN] / 1e3, c.hits, c.took_ns / 1e6);
	} else {
		note(s, "tracing cost not calibrated: %s", why);
	}
	s->stats_fd = cw_cost__bpf_stats_enable();
	if (s->stats_fd >= 0) {
		s->cost.flags |= CW_COST_BPF_STATS;
	} else {
		snprintf(why, sizeof(why), "%s", strerror(-s->stats_fd));
		note(s, "BPF run time not measured: %s", why);
	}
	bpf_object__for_each_program(prog, s->skel->obj)
		n++;
	s->prog_fds = calloc(n ? n : 1, sizeof(*s->prog_fds));
	if (!s->prog_fds)
		return -ENOMEM;
	/* the probe programs first: they run in the target; the others for every task */
	for (int probes = 1; probes >= 0; probes--) {
		bpf_object__for_each_program(prog, s->skel->obj) {
			if (is_probe(prog) == probes)
				s->prog_fds[s->nr_prog_fds++] = bpf_program__fd(prog);
		}
		if (probes)
			s->nr_probe_fds = s->nr_prog_fds;
	}
	s->cost.start_ns = cw_now_ns();
	return 0;
}

/* utime + stime of process pid, ns; 0 when it cannot be read (gone). */
static __u64 proc_cpu_ns(int pid)
{
	static long hz;
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	ssize_t n;
	int fd;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* after the name, which may hold spaces and parentheses: the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return 0;
	return (ut + st) * (1000000000ULL / hz);
}

/* The traced processes' CPU time now, ns (an exited one's is gone from it). */
static __u64 targets_cpu_ns(struct bpf_source *s)
{
	__u64 sum = 0;

	for (size_t i = 0; i < s->nr_procs; i++)
		sum += proc_cpu_ns(s->procs[i]->pid);
	return sum;
}

/*
 * The targets' CPU time so far: what it grew by since the last read, added up, so that a
 * process that exits takes nothing back.
 */
static void count_cpu(struct bpf_source *s)
{
	__u64 cpu = targets_cpu_ns(s);

	if (s->cost_cpu_read && cpu > s->cost_cpu_last)
		s->cost.target_cpu_ns += cpu - s->cost_cpu_last;
	s->cost_cpu_last = cpu;
	s->cost_cpu_read = 1;
}

/* Every CPU's count of trap kind k, added up. */
static __u64 hits_of(struct bpf_source *s, __u32 k, __u64 *vals)
{
	int cpus = libbpf_num_possible_cpus();
	__u64 sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.trap_hits), &k, vals))
		return s->cost.hits[k]; /* cannot happen on an array: keep the last */
	for (int c = 0; c < cpus; c++)
		sum += vals[c];
	return sum;
}

int cw_bpf__send_cost(struct bpf_source *s, __u64 now)
{
	int cpus = libbpf_num_possible_cpus();
	__u64 *vals;

	if (!s->opts.measure_cost || !s->cost.start_ns)
		return 0;
	/* one a tick, and once more with the totals at the stop */
	if (s->stopped_ns ? s->cost.hdr.ts_ns >= s->stopped_ns : now < s->cost_next_ns)
		return 0;
	if (cpus <= 0)
		return 0;
	vals = calloc(cpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 k = 0; k < CW_TRAP_MAX; k++)
		s->cost.hits[k] = hits_of(s, k, vals);
	free(vals);
	if (s->cost.flags & CW_COST_BPF_STATS) {
		cw_cost__bpf_run_time(s->prog_fds, s->nr_probe_fds, &s->cost.bpf_run_ns,
				      &s->cost.bpf_runs);
		cw_cost__bpf_run_time(s->prog_fds + s->nr_probe_fds,
				      s->nr_prog_fds - s->nr_probe_fds, &s->cost.tp_run_ns,
				      &s->cost.tp_runs);
	}
	count_cpu(s);
	s->cost.hdr.ts_ns = now;
	s->cost_next_ns = now + s->opts.tick_ns;
	return cw_emit__deliver(&s->emit, &s->cost.hdr);
}

void cw_bpf__cost_fini(struct bpf_source *s)
{
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	s->stats_fd = -1;
	free(s->prog_fds);
	s->prog_fds = NULL;
}
