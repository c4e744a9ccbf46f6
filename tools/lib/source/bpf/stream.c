// SPDX-License-Identifier: GPL-2.0
/*
 * Draining the BPF source: the ring buffer's records, each checked, its thread named and
 * its stack's modules sent first when they are new (and the code the target mapped,
 * CW_EV_MMAP, turned into module records); then what the programs counted as lost, the
 * statistics that grew, and the tick.
 *
 * A drain reads for a quarter of a tick at most while tracing goes on. A target that
 * keeps every CPU busy can fill the ring buffer as fast as one CPU empties it, and
 * ring_buffer__consume() reads until the buffer is empty: the drain never returned, and
 * the session's deadline, ticks and statistics waited for it (report -p PID --duration 2
 * traced 3.97 s, once 10.5 s). The callback ends the read instead (a negative return
 * stops libbpf after the record it was given, which is consumed); what is left is read
 * at the next drain, or lost and counted when the programs find no room. After stop the
 * programs write nothing more: the last drain reads everything.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "source/bpf/internal.h"

int cw_bpf__ringbuf_record(void *ctx, void *data, size_t size)
{
	const struct cw_hdr *h = data;
	struct bpf_source *s = ctx;
	int err;

	err = cw_record__check(h, size);
	if (err && err != -ENOENT) {
		/* our own programs wrote it: a bug, but never fatal, and never silent */
		s->malformed++;
		return 0;
	}
	if (h->type == CW_EV_MMAP && !err) {
		struct proc *p = cw_bpf__find_proc(s, h->pid);

		/* a module record says it, with what names the file: not handed on itself */
		err = p ? cw_proc_maps__on_mmap(&p->maps, &s->emit, data) : 0;
		if (err) {
			s->cb_err = err;
			return -1;
		}
		return 0;
	}
	err = cw_thread_names__on_record(&s->names, &s->emit, h);
	if (!err && h->type == CW_EV_EXIT)
		err = cw_bpf__thread_exited(s, h->pid, h->tid);
	if (!err && (h->type == CW_EV_USTACK_RAW || h->type == CW_EV_STACK)) {
		struct proc *p = cw_bpf__find_proc(s, h->pid);

		/* no longer traced: its map is what was sent */
		if (p)
			err = cw_proc_maps__for_stack(&p->maps, &s->emit, h, s->opts.tick_ns);
	}
	if (!err)
		err = h->type == CW_EV_THREAD_STATS ? cw_bpf__thread_final(s, h) :
						      cw_emit__deliver(&s->emit, h);
	if (err) {
		s->cb_err = err;
		return -1; /* stops ring_buffer__consume() */
	}
	/* the clock every 256 records: ~100 ns against the records' own cost */
	if (s->drain_until_ns && !(++s->drain_records & 255) &&
	    cw_now_ns() >= s->drain_until_ns) {
		s->drain_cut = 1;
		return -1;
	}
	return 0;
}

/*
 * Edges that found the ring buffer full wait in edges_pending (bpf/cw_locks.bpf.h) until
 * delivered here, late, as the ring buffer's own records (the reorder window takes late
 * records); a dependency made once would otherwise never arrive. The map is read only
 * when the programs parked some since the last look.
 */
static int send_pending_edges(struct bpf_source *s)
{
	int fd = bpf_map__fd(s->skel->maps.edges_pending);
	struct cw_edge_key key;
	struct cw_ev_edge e;

	if (s->skel->bss->edges_parked <= s->edges_unparked)
		return 0;
	/* each one is deleted as it is taken: the first key is always the next one */
	while (!bpf_map_get_next_key(fd, NULL, &key)) {
		if (bpf_map_lookup_and_delete_elem(fd, &key, &e))
			break;
		s->edges_unparked++;
		if (cw_bpf__ringbuf_record(s, &e, sizeof(e)))
			return s->cb_err;
	}
	return 0;
}

int cw_bpf__drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	struct bpf_source *s = (struct bpf_source *)src;
	struct cw_emit *e = &s->emit;
	__u64 now;
	int err;

	s->cb_err = 0;
	s->drain_cut = 0;
	s->drain_records = 0;
	s->drain_until_ns = s->stopped_ns ? 0 : cw_now_ns() + s->opts.tick_ns / 4;
	err = cw_emit__begin(e, fn, ctx);
	if (err)
		return err;
	err = ring_buffer__consume(s->rb);
	if (s->cb_err)
		return s->cb_err;
	if (s->drain_cut)
		err = 0;
	if (err < 0) {
		cw_bpf__set_err(s, "failed to read the ring buffer: %s", strerror(-err));
		return err;
	}

	err = send_pending_edges(s);
	if (err)
		return err;

	/* after stop, nothing newer than the stop can have been recorded */
	now = s->stopped_ns ? s->stopped_ns : cw_now_ns();
	err = cw_emit__lost(e, CW_LOST_RINGBUF, s->skel->bss->lost_ringbuf, now);
	if (!err)
		err = cw_emit__lost(e, CW_LOST_MAP_FULL, s->skel->bss->lost_map_full, now);
	if (!err)
		err = cw_emit__lost(e, CW_LOST_STACK, s->skel->bss->lost_stack, now);
	if (!err)
		err = cw_emit__lost(e, CW_LOST_HELD_OVERFLOW, s->skel->bss->lost_held_overflow,
				    now);
	if (!err)
		err = cw_bpf__send_lock_stats(s, now);
	if (!err)
		err = cw_bpf__send_thread_stats(s, now);
	if (!err)
		err = cw_bpf__send_loop_stats(s, now);
	if (!err)
		err = cw_emit__lost(e, CW_LOST_MALFORMED, s->malformed, now);
	if (!err)
		err = cw_bpf__send_cost(s, now);
	if (!err)
		err = cw_bpf__govern(s, now);
	if (!err)
		err = cw_emit__tick(e, now, s->stopped_ns != 0);
	if (err)
		return err;
	return e->delivered;
}
