// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduling of the traced threads (bpf/cw_sched.bpf.h): its programs, attached
 * system-wide once, and the per-thread figures they keep in thread_stats, sent each drain
 * as CW_EV_THREAD_STATS records, cumulative.
 *
 * The map is read in batches, as lock_sites is (stats.c). A thread's record goes out when
 * its entry changed since the last read (it switched, or was woken), when a second passed
 * since its last record while its state goes on (a thread asleep or spinning all along),
 * and at the last drain. Each record counts the state in progress up to the read (a
 * thread blocked on a futex since the start shows that wait, not nothing), and never
 * less than the record before it: the programs update an entry while it is read, field by
 * field.
 *
 * Exits: sched_process_exit deletes a thread's entry, so the programs send its final
 * figures themselves, from the exiting thread (bpf/cw_sched.bpf.h, sched_thread_exit()):
 * reading before the delete would need the entry to outlive the thread until the next
 * read, and its tid can be given to a new thread before then. An entry missing from a
 * read is dropped from the table here. The entries of processes no longer traced (exited,
 * or exec'ed and added again) are sent a last time and deleted from the map.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/array.h"
#include "concwatch.skel.h"
#include "source/bpf/internal.h"
#include "source/links.h"

#define BATCH_ROOM 1024		/* entries a lookup returns at most, to start with */
#define REFRESH_NS 1000000000ULL	/* a thread whose state goes on: a record a second */

static const char *const sched_progs[CW_BPF_NR_SCHED_PROGS] = {
	"tp_btf__sched_switch",
	"tp_btf__sched_waking",
	"tp_btf__sched_wakeup",
	"tp_btf__sched_wakeup_new",
	"tp_btf__sched_pi_setprio",
};

void cw_bpf__sched_configure(struct bpf_source *s)
{
	s->skel->rodata->sched_events = s->opts.timeline;
	if (s->opts.pi_threshold_ns)
		s->skel->rodata->pi_threshold_ns = s->opts.pi_threshold_ns;
	/* the tracer is never the task that kept a lock's holder off its CPU */
	s->skel->rodata->self_tgid = getpid();
	/* the timeline's lock, futex and kernel-lock slices are the per-operation records */
	if (s->opts.timeline)
		s->skel->rodata->raw_events = true;
	bpf_map__set_max_entries(s->skel->maps.thread_stats, s->opts.max_threads);
}

/* Attach the scheduler programs not attached now: all at start, the shed ones again. */
int cw_bpf__sched_attach(struct bpf_source *s)
{
	struct cw_bpf_threads *t = &s->threads;

	for (size_t i = 0; i < CW_BPF_NR_SCHED_PROGS; i++) {
		struct bpf_program *prog;
		int err;

		if (t->links[i])
			continue;
		prog = bpf_object__find_program_by_name(s->skel->obj, sched_progs[i]);
		if (!prog) {
			cw_bpf__set_err(s, "BPF object has no program %s (build mismatch)",
					sched_progs[i]);
			return -ENOENT;
		}
		t->links[i] = bpf_program__attach(prog);
		if (!t->links[i]) {
			err = -errno;
			cw_bpf__set_err(s, "failed to attach %s: %s",
					bpf_program__section_name(prog), strerror(-err));
			return err;
		}
	}
	return 0;
}

void cw_bpf__sched_detach(struct bpf_source *s)
{
	cw_links_destroy(s->threads.links, CW_BPF_NR_SCHED_PROGS, NULL, 0);
}

/* The programs the cost governor sheds: the first ones of sched_progs (not pi_setprio). */
#define NR_SHED 4

/*
 * What the shed programs kept going is stale once they stop: every entry's state becomes
 * "not known" (state_ts 0: nothing accrues, the next switch or wakeup says), a priority
 * inversion going on is sent as ended now, a wait the library records said to a real-time
 * thread's blocked record ends, and no holder is watched any more. The programs are
 * detached: only pi_setprio and the exit program write these entries meanwhile.
 */
static int sched_forget(struct bpf_source *s, __u64 now)
{
	int fd = bpf_map__fd(s->skel->maps.thread_stats), err = 0;
	__u32 key, next, *prev = NULL, zero = 0;
	struct cw_thread_sched v;
	int cpus_fd = bpf_map__fd(s->skel->maps.pi_watch);

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		if (!err)
			err = cw_bpf__prio_ongoing(s, key, &v, now, 1);
		if (v.library_blocked && !err) {
			struct cw_ev_blocked b = {
				.hdr = { .type = CW_EV_BLOCKED, .size = sizeof(b), .cpu = 0xffff,
					 .flags = CW_F_SYNTHETIC, .ts_ns = now, .pid = v.tgid,
					 .tid = key },
				.addr = v.wait_addr, .reason = CW_OFFCPU_NONE,
			};
			err = cw_emit__deliver(&s->emit, &b.hdr);
		}
		v.state = CW_OFFCPU_NONE;
		v.state_ts = 0;
		v.waking_ts = 0;
		v.wait_addr = 0;
		v.library_blocked = 0;
		v.loop_blocked = 0;
		v.pi_waiter = 0;
		v.pi_stack = 0;
		v.pre_tid = 0;
		bpf_map_update_elem(fd, &key, &v, BPF_EXIST);
	}
	for (__u32 cpu = 0; cpu < bpf_map__max_entries(s->skel->maps.pi_watch); cpu++)
		bpf_map_update_elem(cpus_fd, &cpu, &zero, BPF_ANY);
	return err;
}

int cw_bpf__sched_shed(struct bpf_source *s, __u64 now)
{
	cw_links_destroy(s->threads.links, NR_SHED, NULL, 0);
	return sched_forget(s, now);
}


CW_INDEX_DEFINE_FIND_OR_APPEND(find_thread, struct cw_bpf_thread)

/* The slot of (tid, tgid) in the table, made (nothing sent) when new; NULL: out of memory. */
static struct cw_bpf_thread *thread_prev(struct cw_bpf_threads *t, __u32 tid, __u32 tgid)
{
	int fresh;
	struct cw_bpf_thread *p = find_thread(&t->ix, tid, tgid, &t->prev, &t->nr, &t->cap,
					      &fresh);

	if (p && fresh) {
		p->tid = tid;
		p->tgid = tgid;
	}
	return p;
}

static void keep_max(__u64 *v, __u64 prev)
{
	if (*v < prev)
		*v = prev;
}

/* The record of entry v of thread tid read at now, the state in progress counted. */
static void thread_record(struct cw_ev_thread_stats *e, __u32 tid, const struct cw_thread_sched *v,
			  __u64 now)
{
	memset(e, 0, sizeof(*e));
	e->hdr = (struct cw_hdr){ .type = CW_EV_THREAD_STATS, .size = sizeof(*e), .cpu = 0xffff,
				  .flags = CW_F_AGGREGATED, .ts_ns = now, .pid = v->tgid,
				  .tid = tid };
	e->since_ns = v->since_ns;
	e->oncpu_ns = v->oncpu_ns;
	memcpy(e->offcpu_ns, v->offcpu_ns, sizeof(e->offcpu_ns));
	if (v->state_ts && now > v->state_ts) {
		if (v->state == CW_OFFCPU_NONE)
			e->oncpu_ns += now - v->state_ts;
		else if (v->state < CW_OFFCPU_MAX)
			e->offcpu_ns[v->state] += now - v->state_ts;
	}
	e->runq_ns_max = v->runq_ns_max;
	e->nr_voluntary = v->nr_voluntary;
	e->nr_involuntary = v->nr_involuntary;
	e->nr_wakeups = v->nr_wakeups;
	e->trylock_failures = v->trylock_failures;
	e->cpus_allowed = v->cpus_allowed;
	e->nr_cpus_allowed = v->nr_cpus_allowed;
	e->policy = v->policy;
	e->prio = v->prio;
	e->normal_prio = v->normal_prio;
	e->rt_priority = v->rt_priority;
	e->nice = v->nice;
	memcpy(e->runq_hist, v->runq_hist, sizeof(e->runq_hist));
}

/* Figures below what was sent are a read that raced an update: keep the sent ones. */
static void not_below(struct cw_ev_thread_stats *e, const struct cw_ev_thread_stats *sent)
{
	keep_max(&e->oncpu_ns, sent->oncpu_ns);
	for (int i = 0; i < CW_OFFCPU_MAX; i++)
		keep_max(&e->offcpu_ns[i], sent->offcpu_ns[i]);
	keep_max(&e->runq_ns_max, sent->runq_ns_max);
	keep_max(&e->nr_voluntary, sent->nr_voluntary);
	keep_max(&e->nr_involuntary, sent->nr_involuntary);
	keep_max(&e->nr_wakeups, sent->nr_wakeups);
	keep_max(&e->trylock_failures, sent->trylock_failures);
	for (int i = 0; i < CW_HIST_BUCKETS; i++)
		if (e->runq_hist[i] < sent->runq_hist[i])
			e->runq_hist[i] = sent->runq_hist[i];
}

/*
 * A thread's final record, sent by the programs at its exit, handed on: never below what
 * was sent of it from the map (a read that raced an update may have counted a state's
 * time twice). 0, or -errno.
 */
int cw_bpf__thread_final(struct bpf_source *s, const struct cw_hdr *h)
{
	const struct cw_ev_thread_stats *e = (const struct cw_ev_thread_stats *)h;
	struct cw_ev_thread_stats fixed;
	__u32 slot;

	if (h->size < sizeof(*e) || cw_index__get(&s->threads.ix, h->tid, h->pid, &slot) ||
	    s->threads.prev[slot].sent.since_ns != e->since_ns)
		return cw_emit__deliver(&s->emit, h);
	fixed = *e; /* the ring buffer is mapped read-only */
	not_below(&fixed, &s->threads.prev[slot].sent);
	return cw_emit__deliver(&s->emit, &fixed.hdr);
}

/*
 * What thread tid does now and since when, sent when that changed since the last one
 * (a new thread with an exited one's tid: its own first). A state whose start is not
 * known yet (no switch of it seen) is not sent.
 */
static int send_state(struct bpf_source *s, struct cw_bpf_thread *p, __u32 tid,
		      const struct cw_thread_sched *v, __u64 now)
{
	struct cw_ev_thread_state *e = &p->state;
	__u8 state = v->state < CW_OFFCPU_MAX ? v->state : CW_OFFCPU_NONE;
	__u64 addr = state == CW_OFFCPU_NONE ? 0 : v->wait_addr;

	if (!v->state_ts || (e->hdr.type && e->since_ns == v->state_ts && e->state == state &&
			     e->wait_addr == addr))
		return 0;
	memset(e, 0, sizeof(*e));
	e->hdr = (struct cw_hdr){ .type = CW_EV_THREAD_STATE, .size = sizeof(*e), .cpu = 0xffff,
				  .flags = CW_F_AGGREGATED, .ts_ns = now, .pid = v->tgid,
				  .tid = tid };
	e->since_ns = v->state_ts;
	e->wait_addr = addr;
	e->state = state;
	return cw_emit__deliver(&s->emit, &e->hdr);
}

/* Whether two records of a thread say the same, their times of reading aside. */
static int same_figures(const struct cw_ev_thread_stats *a, const struct cw_ev_thread_stats *b)
{
	return !memcmp((const char *)a + sizeof(a->hdr), (const char *)b + sizeof(b->hdr),
		       sizeof(*a) - sizeof(a->hdr));
}

/* Send entry v of thread tid if it is due (see the top of the file). */
static int send_thread(struct bpf_source *s, __u32 tid, const struct cw_thread_sched *v,
		       __u64 now, int last)
{
	struct cw_bpf_thread *p = thread_prev(&s->threads, tid, v->tgid);
	struct cw_ev_thread_stats e;
	int err;

	if (!p)
		return -ENOMEM;
	if (p->sent.since_ns != v->since_ns) {
		/* a new thread with the tid of one that exited (its final record sent) */
		memset(&p->sent, 0, sizeof(p->sent));
		memset(&p->raw, 0, sizeof(p->raw));
		memset(&p->state, 0, sizeof(p->state));
		p->sent_ns = 0;
	}
	p->seen = s->threads.gen;
	if (!last && !memcmp(&p->raw, v, sizeof(*v)) &&
	    !(v->state_ts && now - p->sent_ns >= REFRESH_NS))
		return 0;
	p->raw = *v;
	err = send_state(s, p, tid, v, now);
	if (err)
		return err;
	thread_record(&e, tid, v, now);
	if (p->sent.since_ns == v->since_ns)
		not_below(&e, &p->sent);
	if (p->sent.since_ns == v->since_ns && same_figures(&e, &p->sent))
		return 0;
	p->sent = e;
	p->sent_ns = now;
	return cw_emit__deliver(&s->emit, &e.hdr);
}

/*
 * Drop from the table the threads this read did not see (exited: their final record came
 * from the programs) or whose process is no longer traced, and index what stays again
 * (cw_index has no removal; this runs when threads end).
 */
static int drop_unseen(struct bpf_source *s)
{
	struct cw_bpf_threads *t = &s->threads;
	size_t kept = 0;
	int err = 0;

	for (size_t i = 0; i < t->nr; i++)
		if (t->prev[i].seen == t->gen && cw_bpf__find_proc(s, t->prev[i].tgid))
			t->prev[kept++] = t->prev[i];
	if (kept == t->nr)
		return 0;
	t->nr = kept;
	cw_index__fini(&t->ix);
	for (size_t i = 0; i < kept && !err; i++)
		err = cw_index__put(&t->ix, t->prev[i].tid, t->prev[i].tgid, i);
	return err;
}

struct threads_read {
	__u64 now;
	int last;		/* the last drain: every thread's figures go out */
};

/* One entry of a read: sent when due; a thread of a process no longer traced goes after. */
static int thread_read(struct bpf_source *s, const void *key, const void *val, void *ctx)
{
	const struct cw_thread_sched *v = val;
	struct cw_bpf_threads *t = &s->threads;
	struct threads_read *r = ctx;
	int traced = cw_bpf__find_proc(s, v->tgid) != NULL, err;
	__u32 *g;

	err = cw_bpf__prio_ongoing(s, *(const __u32 *)key, v, r->now, 0) ?:
	      send_thread(s, *(const __u32 *)key, v, r->now, r->last || !traced);
	if (err || traced)
		return err;
	g = cw_grow(t->gone, &t->cap_gone, t->nr_gone + 1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	t->gone = g;
	t->gone[t->nr_gone++] = *(const __u32 *)key;
	return 0;
}

int cw_bpf__send_thread_stats(struct bpf_source *s, __u64 now)
{
	int fd = bpf_map__fd(s->skel->maps.thread_stats), err;
	struct cw_bpf_threads *t = &s->threads;
	struct threads_read r = { .now = now, .last = s->stopped_ns != 0 };

	t->batch.key_size = sizeof(__u32);
	t->batch.val_size = sizeof(struct cw_thread_sched);
	t->batch.first_room = BATCH_ROOM;
	t->gen++;
	t->nr_gone = 0;
	err = cw_bpf__map_each(s, fd, &t->batch, "thread statistics", thread_read, &r);
	/* a thread of a process no longer traced is not traced: its entry goes */
	for (size_t i = 0; !err && i < t->nr_gone; i++)
		bpf_map_delete_elem(fd, &t->gone[i]);
	if (!err)
		err = drop_unseen(s);
	return err;
}

void cw_bpf__threads_fini(struct bpf_source *s)
{
	struct cw_bpf_threads *t = &s->threads;

	cw_links_destroy(t->links, CW_BPF_NR_SCHED_PROGS, NULL, 0);
	free(t->prev);
	cw_bpf__batch_fini(&t->batch);
	free(t->gone);
	cw_index__fini(&t->ix);
	memset(t, 0, sizeof(*t));
}
