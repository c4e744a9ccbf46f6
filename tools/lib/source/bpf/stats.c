// SPDX-License-Identifier: GPL-2.0
/*
 * The statistics the programs aggregate per (lock, call path) in lock_sites, sent each
 * drain as CW_EV_LOCK_STATS records of what grew since the last ones: the hot path sent
 * nothing for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "concwatch.skel.h"
#include "source/bpf/internal.h"

static struct site_prev *site_prev(struct bpf_source *s, const struct cw_site_key *k)
{
	struct site_prev *p;
	__u32 slot;

	if (!cw_index__get(&s->site_ix, k->addr, k->stack_id, &slot) &&
	    s->sites[slot].key.tgid == k->tgid)
		return &s->sites[slot];
	if (s->nr_sites == s->cap_sites) {
		size_t cap = s->cap_sites ? s->cap_sites * 2 : 256;

		p = realloc(s->sites, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->sites = p;
		s->cap_sites = cap;
	}
	p = &s->sites[s->nr_sites];
	memset(p, 0, sizeof(*p));
	p->key = *k;
	if (cw_index__put(&s->site_ix, k->addr, k->stack_id, s->nr_sites))
		return NULL;
	s->nr_sites++;
	return p;
}

int cw_bpf__send_lock_stats(struct bpf_source *s, __u64 now)
{
	int fd = bpf_map__fd(s->skel->maps.lock_sites), have = 0, err = 0;
	struct cw_site_key key, next;
	struct cw_site_stats v;

	while (!err && !bpf_map_get_next_key(fd, have ? &key : NULL, &next)) {
		struct cw_ev_lock_stats e = {};
		struct site_prev *p;

		key = next;
		have = 1;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue; /* deleted meanwhile */
		p = site_prev(s, &key);
		if (!p)
			return -ENOMEM;
		if (v.acquisitions == p->v.acquisitions && v.hold_ns_total == p->v.hold_ns_total)
			continue;
		e.hdr = (struct cw_hdr){ .type = CW_EV_LOCK_STATS, .size = sizeof(e), .cpu = 0xffff,
					 .flags = CW_F_AGGREGATED, .ts_ns = now, .pid = key.tgid };
		e.addr = key.addr;
		e.ip = v.ip;
		e.interval_ns = now - (s->stats_sent_ns ? s->stats_sent_ns : now);
		e.acquisitions = v.acquisitions - p->v.acquisitions;
		e.contentions = v.contentions - p->v.contentions;
		e.wait_ns_total = v.wait_ns_total - p->v.wait_ns_total;
		e.wait_ns_max = v.wait_ns_max;
		e.hold_ns_total = v.hold_ns_total - p->v.hold_ns_total;
		e.hold_ns_max = v.hold_ns_max;
		e.stack_id = key.stack_id;
		e.kind = v.kind;
		p->v = v;
		err = cw_emit__deliver(&s->emit, &e.hdr);
	}
	s->stats_sent_ns = now;
	return err;
}

void cw_bpf__stats_fini(struct bpf_source *s)
{
	free(s->sites);
	s->sites = NULL;
	s->nr_sites = s->cap_sites = 0;
	cw_index__fini(&s->site_ix);
}
