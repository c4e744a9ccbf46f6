// SPDX-License-Identifier: GPL-2.0
/*
 * Event loops (bpf/cw_evloop.bpf.h): the per-thread table of the loop-wait programs, read
 * each drain. A thread's CW_EV_LOOP_STATS goes out when its figures changed since the
 * last it was sent, and at the last drain; a stall still going on (the thread returned
 * from its wait at least the threshold ago and has not waited since) goes out as a
 * CW_EV_LOOP_STALL with CW_LOOP_F_ONGOING and its duration so far, so that a loop stuck
 * for good is reported too: the record the programs send when it ends has the same
 * start. Entries of processes no longer traced are deleted. A thread's final figures,
 * when it exits, are the programs' own record (bpf/cw_evloop.bpf.h, loop_thread_exit()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/array.h"
#include "concwatch.skel.h"
#include "engine/index.h"
#include "source/bpf/internal.h"

#define DEFAULT_STALL_NS 100000000ULL
#define BATCH_ROOM 256

CW_INDEX_DEFINE_FIND_OR_APPEND(find_loop, struct cw_bpf_loop)

struct loops_read {
	__u64 now;
	int last;
};

static void stats_record(struct cw_ev_loop_stats *e, __u32 tid, const struct cw_loop_thread *v,
			 __u64 now)
{
	memset(e, 0, sizeof(*e));
	e->hdr = (struct cw_hdr){ .type = CW_EV_LOOP_STATS, .size = sizeof(*e), .cpu = 0xffff,
				  .flags = CW_F_AGGREGATED, .ts_ns = now, .pid = v->tgid,
				  .tid = tid };
	e->waits = v->waits;
	e->iterations = v->iterations;
	e->busy_ns_total = v->busy_ns_total;
	e->busy_ns_max = v->busy_ns_max;
	e->wait_ns_total = v->wait_ns_total;
	e->stalls = v->stalls;
	e->wait_nr = v->wait_nr;
	e->in_wait = v->in_wait;
	memcpy(e->busy_hist, v->busy_hist, sizeof(e->busy_hist));
	e->iter_start_ns = v->in_wait ? 0 : v->exit_ts;
}

static int loop_read(struct bpf_source *s, const void *key, const void *val, void *ctx)
{
	const struct cw_loop_thread *v = val;
	__u64 threshold = s->opts.stall_threshold_ns ?: DEFAULT_STALL_NS;
	struct cw_bpf_loops *t = &s->loops;
	struct loops_read *r = ctx;
	__u32 tid = *(const __u32 *)key;
	struct cw_bpf_loop *p;
	int fresh, err = 0;

	if (!cw_bpf__find_proc(s, v->tgid)) {
		__u32 *g = cw_grow(t->gone, &t->cap_gone, t->nr_gone + 1, sizeof(*g));

		if (!g)
			return -ENOMEM;
		t->gone = g;
		t->gone[t->nr_gone++] = tid;
		return 0;
	}
	p = find_loop(&t->ix, tid, v->tgid, &t->prev, &t->nr, &t->cap, &fresh);
	if (!p)
		return -ENOMEM;
	if (fresh || r->last || p->waits != v->waits || p->in_wait != v->in_wait) {
		struct cw_ev_loop_stats e;

		stats_record(&e, tid, v, r->now);
		err = cw_emit__deliver(&s->emit, &e.hdr);
		p->waits = v->waits;
		p->in_wait = v->in_wait;
	}
	/* a stall going on: the loop returned from its wait long ago and has not waited since */
	if (!err && !v->in_wait && v->exit_ts && r->now > v->exit_ts &&
	    r->now - v->exit_ts >= threshold) {
		struct cw_ev_loop_stall e = {
			.hdr = { .type = CW_EV_LOOP_STALL, .size = sizeof(e), .cpu = 0xffff,
				 .flags = CW_F_AGGREGATED, .ts_ns = r->now, .pid = v->tgid,
				 .tid = tid },
			.start_ns = v->exit_ts, .duration_ns = r->now - v->exit_ts,
			.wait_nr = v->wait_nr, .flags = CW_LOOP_F_ONGOING,
		};

		err = cw_emit__deliver(&s->emit, &e.hdr);
	}
	return err;
}

int cw_bpf__send_loop_stats(struct bpf_source *s, __u64 now)
{
	int fd = bpf_map__fd(s->skel->maps.loop_threads), err;
	struct cw_bpf_loops *t = &s->loops;
	struct loops_read r = { .now = now, .last = s->stopped_ns != 0 };

	t->batch.key_size = sizeof(__u32);
	t->batch.val_size = sizeof(struct cw_loop_thread);
	t->batch.first_room = BATCH_ROOM;
	t->nr_gone = 0;
	err = cw_bpf__map_each(s, fd, &t->batch, "event loop statistics", loop_read, &r);
	for (size_t i = 0; !err && i < t->nr_gone; i++)
		bpf_map_delete_elem(fd, &t->gone[i]);
	return err;
}

void cw_bpf__loops_configure(struct bpf_source *s)
{
	if (s->opts.stall_threshold_ns)
		s->skel->rodata->stall_threshold_ns = s->opts.stall_threshold_ns;
	if (s->opts.block_threshold_ns)
		s->skel->rodata->block_threshold_ns = s->opts.block_threshold_ns;
	bpf_map__set_max_entries(s->skel->maps.loop_threads, s->opts.max_threads);
}

/*
 * A software clock per CPU, sampling at SAMPLE_HZ: perf's own way to sample without a
 * hardware PMU (none here). The program returns at once for every task but a loop's
 * thread deep into an iteration; at 49 Hz on each CPU that is well under a millisecond of
 * program time a second.
 */
#define SAMPLE_HZ 49

int cw_bpf__loops_attach(struct bpf_source *s)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1,
		.sample_freq = SAMPLE_HZ,
	};
	struct cw_bpf_loops *t = &s->loops;
	int n = libbpf_num_possible_cpus(), attached = 0, err = 0;

	if (n <= 0)
		return n ?: -EINVAL;
	t->clock_fds = malloc(n * sizeof(*t->clock_fds));
	t->clock_links = calloc(n, sizeof(*t->clock_links));
	if (!t->clock_fds || !t->clock_links)
		return -ENOMEM;
	t->nr_clocks = n;
	for (int cpu = 0; cpu < n; cpu++) {
		t->clock_fds[cpu] = syscall(__NR_perf_event_open, &attr, -1, cpu, -1,
					    PERF_FLAG_FD_CLOEXEC);
		if (t->clock_fds[cpu] < 0) {
			/* a possible CPU not online has no clock; anything else is said */
			if (errno != ENODEV)
				err = -errno;
			continue;
		}
		t->clock_links[cpu] = bpf_program__attach_perf_event(
			s->skel->progs.perf_event__loop_sample, t->clock_fds[cpu]);
		if (!t->clock_links[cpu]) {
			err = -errno;
			continue;
		}
		attached++;
	}
	if (err && s->opts.verbose)
		fprintf(stderr, "concwatch: the event-loop stall sampler is on %d CPU(s) of %d: "
			"%s; stalls are found, not where they were\n", attached, n,
			strerror(-err));
	return 0;
}

void cw_bpf__loops_fini(struct bpf_source *s)
{
	struct cw_bpf_loops *t = &s->loops;

	for (int i = 0; i < t->nr_clocks; i++) {
		bpf_link__destroy(t->clock_links[i]);
		if (t->clock_fds[i] >= 0)
			close(t->clock_fds[i]);
	}
	free(t->clock_links);
	free(t->clock_fds);

	free(t->prev);
	cw_bpf__batch_fini(&t->batch);
	free(t->gone);
	cw_index__fini(&t->ix);
	memset(t, 0, sizeof(*t));
}
