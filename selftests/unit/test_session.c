// SPDX-License-Identifier: GPL-2.0
/*
 * The session driven by synthetic sources written only against struct cw_source_ops
 * (source.h), as a kernel-module or an in-process backend would be: records of two
 * sources merged by time, a tick, a lost record, the process operations, statistics
 * summed and kept per source. No BPF, no process traced.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "source/session.h"
#include "cw_synth.h"

#define MAX_RECS 8
#define MAX_PIDS 8

/* A source that hands on a script of records, a batch per drain. */
struct synth_src {
	struct cw_source base;
	union rec {
		struct cw_hdr hdr;
		struct cw_ev_lock lock;
		struct cw_ev_tick tick;
		struct cw_ev_lost lost;
	} recs[MAX_RECS];
	int batch[MAX_RECS];	/* records handed on by drain i; -1: those after stop */
	int nr_batches, next_batch, next_rec;
	int fd;			/* an eventfd that stays readable, or -1 */
	int started, stopped, *freed;
	int start_err;		/* start() fails with it */
	int add_err;		/* add_process() fails with it */
	int pids[MAX_PIDS];	/* traced processes */
	int nr_pids, refreshed;
	struct cw_source_stats st;
};

static int synth_start(struct cw_source *src)
{
	struct synth_src *s = (struct synth_src *)src;

	s->started++;
	if (s->start_err)
		snprintf(src->err, sizeof(src->err), "synthetic start failure");
	return s->start_err;
}

static int synth_fd(struct cw_source *src)
{
	return ((struct synth_src *)src)->fd;
}

static int synth_drain(struct cw_source *src, cw_record_fn fn, void *ctx)
{
	struct synth_src *s = (struct synth_src *)src;
	int n = 0, nr, err;

	if (s->next_batch >= s->nr_batches) {
		src->ended = 1;
		return 0;
	}
	nr = s->batch[s->next_batch];
	if (nr < 0 && !s->stopped)
		return 0;	/* the last batch comes only after stop, as a final tick does */
	s->next_batch++;
	for (nr = nr < 0 ? -nr : nr; n < nr; n++) {
		const struct cw_hdr *h = &s->recs[s->next_rec++].hdr;

		err = fn(ctx, h);
		if (err)
			return err;
		s->st.records++;
		s->st.bytes += h->size;
		if (h->type == CW_EV_TICK)
			s->st.ticks++;
		if (h->type == CW_EV_LOST)
			s->st.lost[((const struct cw_ev_lost *)h)->what] +=
				((const struct cw_ev_lost *)h)->count;
	}
	return n;
}

static int synth_stop(struct cw_source *src)
{
	((struct synth_src *)src)->stopped++;
	return 0;
}

static void synth_src_stats(struct cw_source *src, struct cw_source_stats *st)
{
	*st = ((struct synth_src *)src)->st;
}

static int synth_add(struct cw_source *src, int pid)
{
	struct synth_src *s = (struct synth_src *)src;

	if (s->add_err) {
		snprintf(src->err, sizeof(src->err), "cannot trace %d here", pid);
		return s->add_err;
	}
	s->pids[s->nr_pids++] = pid;
	return 0;
}

static int synth_remove(struct cw_source *src, int pid)
{
	struct synth_src *s = (struct synth_src *)src;

	for (int i = 0; i < s->nr_pids; i++) {
		if (s->pids[i] == pid) {
			s->pids[i] = s->pids[--s->nr_pids];
			return 0;
		}
	}
	snprintf(src->err, sizeof(src->err), "process %d is not traced", pid);
	return -ENOENT;
}

static int synth_refresh(struct cw_source *src, int pid)
{
	struct synth_src *s = (struct synth_src *)src;

	for (int i = 0; i < s->nr_pids; i++)
		if (s->pids[i] == pid)
			return s->refreshed++, 0;
	snprintf(src->err, sizeof(src->err), "process %d is not traced", pid);
	return -ENOENT;
}

static void synth_free(struct cw_source *src)
{
	struct synth_src *s = (struct synth_src *)src;

	(*s->freed)++;
	if (s->fd >= 0)
		close(s->fd);
}

/* A source that follows processes, and one that does not (a recording, say). */
static const struct cw_source_ops follows_ops = {
	.name = "follows",
	.start = synth_start,
	.fd = synth_fd,
	.drain = synth_drain,
	.stop = synth_stop,
	.stats = synth_src_stats,
	.add_process = synth_add,
	.remove_process = synth_remove,
	.refresh_process = synth_refresh,
	.free = synth_free,
};

static const struct cw_source_ops plain_ops = {
	.name = "plain",
	.start = synth_start,
	.fd = synth_fd,
	.drain = synth_drain,
	.stop = synth_stop,
	.stats = synth_src_stats,
	.free = synth_free,
};

static void synth_init(struct synth_src *s, const struct cw_source_ops *ops, int pollable,
		       int *freed)
{
	memset(s, 0, sizeof(*s));
	s->base.ops = ops;
	s->fd = pollable ? eventfd(1, EFD_CLOEXEC) : -1;
	s->freed = freed;
}

static void add_lock(struct synth_src *s, int *nr, __u64 ts, __u32 pid, __u32 tid)
{
	s->recs[(*nr)++].lock = synth_lock(CW_EV_LOCK_ACQUIRED, ts, pid, tid, 0x1000 + tid, 0, 0);
}

/* What the sink received, in order. */
struct seen {
	int n;
	__u16 type[16];
	__u64 ts[16];
	__u32 pid[16];
};

static int sink(void *ctx, const struct cw_hdr *h)
{
	struct seen *o = ctx;

	if (o->n == 16)
		return -E2BIG;
	o->type[o->n] = h->type;
	o->ts[o->n] = h->ts_ns;
	o->pid[o->n++] = h->pid;
	return 0;
}

FIXTURE(two)
{
	struct synth_src a, b;	/* a: pollable, follows processes; b: drained on a timer */
	int freed;
	struct cw_session *s;
	struct seen seen;
};

/*
 * a: locks of process 1 at 1000 and 3000, then 5000; its tick at 6000 only after stop.
 * b: locks of process 2 at 2000, then 4000 and 3500 ns' worth of records lost at 4500.
 * Each drain hands on one batch: the two interleave in time across drains.
 */
FIXTURE_SETUP(two)
{
	int n = 0;

	memset(&self->seen, 0, sizeof(self->seen));
	self->freed = 0;
	synth_init(&self->a, &follows_ops, 1, &self->freed);
	ASSERT_LE(0, self->a.fd);
	add_lock(&self->a, &n, 1000, 1, 11);
	add_lock(&self->a, &n, 3000, 1, 11);
	add_lock(&self->a, &n, 5000, 1, 12);
	self->a.recs[n++].tick = synth_tick(6000, 0);
	self->a.batch[0] = 2;
	self->a.batch[1] = 1;
	self->a.batch[2] = -1;
	self->a.nr_batches = 3;

	n = 0;
	synth_init(&self->b, &plain_ops, 0, &self->freed);
	add_lock(&self->b, &n, 2000, 2, 21);
	add_lock(&self->b, &n, 4000, 2, 21);
	self->b.recs[n++].lost = synth_lost(4500, CW_LOST_RINGBUF, 7);
	self->b.batch[0] = 1;
	self->b.batch[1] = 2;
	self->b.nr_batches = 2;

	ASSERT_EQ(0, cw_session__new(&(struct cw_session_opts){ .window_ns = 1000 }, sink,
				     &self->seen, &self->s));
	ASSERT_EQ(0, cw_session__add_source(self->s, &self->a.base));
	ASSERT_EQ(0, cw_session__add_source(self->s, &self->b.base));
}

FIXTURE_TEARDOWN(two)
{
	cw_session__free(self->s);
}

TEST_F(two, merged_by_time)
{
	static const __u64 want_ts[] = { 1000, 2000, 3000, 4000, 4500, 5000, 6000 };
	static const __u16 want_type[] = {
		CW_EV_LOCK_ACQUIRED, CW_EV_LOCK_ACQUIRED, CW_EV_LOCK_ACQUIRED,
		CW_EV_LOCK_ACQUIRED, CW_EV_LOST, CW_EV_LOCK_ACQUIRED, CW_EV_TICK,
	};
	static const __u32 want_pid[] = { 1, 2, 1, 2, 0, 1, 0 };
	struct cw_source_stats st, sa, sb;
	struct cw_merge_stats ms;

	ASSERT_EQ(0, cw_session__start(self->s)) TH_LOG("%s", cw_session__error(self->s));
	ASSERT_EQ(1, self->a.started);
	ASSERT_EQ(1, self->b.started);

	/*
	 * a waits for its stop to send its tick: the deadline ends each run. Run until b
	 * has ended (on a loaded machine a deadline may pass before every drain is made).
	 */
	for (int i = 0; i < 100 && !self->b.base.ended; i++)
		ASSERT_EQ(CW_SESSION_DEADLINE,
			  cw_session__run(self->s, cw_now_ns() + 10000000ULL, NULL))
			TH_LOG("%s", cw_session__error(self->s));
	ASSERT_EQ(1, self->b.base.ended);
	ASSERT_EQ(2, self->a.next_batch);
	ASSERT_EQ(0, self->a.base.ended);
	/* the window holds what is less than 1000 ns older than the newest: 4500, 5000 */
	ASSERT_EQ(4, self->seen.n);
	EXPECT_EQ(4000, self->seen.ts[3]);
	ASSERT_EQ(0, self->a.stopped);

	ASSERT_EQ(0, cw_session__finish(self->s));
	ASSERT_EQ(1, self->a.stopped);
	ASSERT_EQ(1, self->b.stopped);
	ASSERT_EQ(7, self->seen.n);
	for (int i = 0; i < 7; i++) {
		EXPECT_EQ(want_ts[i], self->seen.ts[i]) TH_LOG("record %d", i);
		EXPECT_EQ(want_type[i], self->seen.type[i]) TH_LOG("record %d", i);
		EXPECT_EQ(want_pid[i], self->seen.pid[i]) TH_LOG("record %d", i);
	}

	/* summed, and each source's own */
	cw_session__stats(self->s, &st, &ms);
	EXPECT_EQ(7, st.records);
	EXPECT_EQ(5 * sizeof(struct cw_ev_lock) + sizeof(struct cw_ev_tick) +
		  sizeof(struct cw_ev_lost), st.bytes);
	EXPECT_EQ(1, st.ticks);
	EXPECT_EQ(7, st.lost[CW_LOST_RINGBUF]);
	EXPECT_EQ(7, ms.pushed);
	EXPECT_EQ(7, ms.popped);
	EXPECT_EQ(0, ms.late);
	ASSERT_EQ(2, cw_session__nr_sources(self->s));
	ASSERT_EQ(&self->a.base, cw_session__source(self->s, 0));
	cw_source__stats(cw_session__source(self->s, 0), &sa);
	cw_source__stats(cw_session__source(self->s, 1), &sb);
	EXPECT_EQ(4, sa.records);
	EXPECT_EQ(0, sa.lost[CW_LOST_RINGBUF]);
	EXPECT_EQ(3, sb.records);
	EXPECT_EQ(7, sb.lost[CW_LOST_RINGBUF]);
	EXPECT_EQ(NULL, cw_session__source(self->s, 2));

	cw_session__free(self->s);
	self->s = NULL;
	EXPECT_EQ(2, self->freed);
}

/* Every source ended: the session says so rather than waiting for a deadline. */
TEST_F(two, ends_with_its_sources)
{
	self->a.batch[2] = 1;	/* a's tick without waiting for stop */
	ASSERT_EQ(0, cw_session__start(self->s));
	ASSERT_EQ(CW_SESSION_ENDED, cw_session__run(self->s, 0, NULL))
		TH_LOG("%s", cw_session__error(self->s));
	ASSERT_EQ(6, self->seen.n);	/* 6000 is still in the window */
	ASSERT_EQ(0, cw_session__finish(self->s));
	ASSERT_EQ(7, self->seen.n);
	EXPECT_EQ(6000, self->seen.ts[6]);
}

/* Process operations go to every source that has them, and say why they failed. */
TEST_F(two, process_ops)
{
	ASSERT_EQ(0, cw_session__start(self->s));
	ASSERT_EQ(0, cw_session__add_process(self->s, 42));
	ASSERT_EQ(1, self->a.nr_pids);
	ASSERT_EQ(42, self->a.pids[0]);
	ASSERT_EQ(0, cw_session__refresh_process(self->s, 42));
	ASSERT_EQ(1, self->a.refreshed);

	ASSERT_EQ(-ENOENT, cw_session__refresh_process(self->s, 43));
	ASSERT_STREQ("process 43 is not traced", cw_session__error(self->s));
	ASSERT_EQ(-ENOENT, cw_session__remove_process(self->s, 43));
	ASSERT_STREQ("process 43 is not traced", cw_session__error(self->s));

	ASSERT_EQ(0, cw_session__remove_process(self->s, 42));
	ASSERT_EQ(0, self->a.nr_pids);

	self->a.add_err = -EPERM;
	ASSERT_EQ(-EPERM, cw_session__add_process(self->s, 44));
	ASSERT_STREQ("cannot trace 44 here", cw_session__error(self->s));
}

/* A process is traced by all the sources that follow processes, or by none. */
TEST(add_process_all_or_none)
{
	struct synth_src a, c;
	struct cw_session *s;
	int freed = 0;

	synth_init(&a, &follows_ops, 0, &freed);
	synth_init(&c, &follows_ops, 0, &freed);
	c.add_err = -ENOMEM;
	ASSERT_EQ(0, cw_session__new(&(struct cw_session_opts){}, sink, NULL, &s));
	ASSERT_EQ(0, cw_session__add_source(s, &a.base));
	ASSERT_EQ(0, cw_session__add_source(s, &c.base));
	ASSERT_EQ(0, cw_session__start(s));
	ASSERT_EQ(-ENOMEM, cw_session__add_process(s, 7));
	ASSERT_STREQ("cannot trace 7 here", cw_session__error(s));
	EXPECT_EQ(0, a.nr_pids);
	cw_session__free(s);
	EXPECT_EQ(2, freed);
}

/* No source follows processes: said, not silently done. */
TEST(no_source_follows)
{
	struct cw_session *s;
	struct synth_src b;
	char err[256] = "";
	int freed = 0;

	synth_init(&b, &plain_ops, 0, &freed);
	ASSERT_EQ(0, cw_session__open(&(struct cw_session_opts){}, &b.base, sink, NULL, &s, err,
				      sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(-EOPNOTSUPP, cw_session__add_process(s, 1));
	ASSERT_STREQ("no source of this session follows processes", cw_session__error(s));
	ASSERT_EQ(-EOPNOTSUPP, cw_session__remove_process(s, 1));
	cw_session__free(s);
	EXPECT_EQ(1, freed);
}

/* A source that cannot start: the session says its words, and owns it all the same. */
TEST(start_fails)
{
	struct synth_src b;
	struct cw_session *s = NULL;
	char err[256] = "";
	int freed = 0;

	synth_init(&b, &plain_ops, 0, &freed);
	b.start_err = -EIO;
	ASSERT_EQ(-EIO, cw_session__open(&(struct cw_session_opts){}, &b.base, sink, NULL, &s, err,
					 sizeof(err)));
	ASSERT_STREQ("synthetic start failure", err);
	ASSERT_EQ(NULL, s);
	EXPECT_EQ(1, freed);
}

/*
 * A lone source whose records come in order already (a recording) reaches the sink as
 * it came, even a record older than one before it: the window would move it.
 */
TEST(ordered_source_passes_through)
{
	struct synth_src r;
	struct cw_session *s;
	struct seen seen = {};
	char err[256] = "";
	int freed = 0, n = 0;

	synth_init(&r, &plain_ops, 0, &freed);
	r.base.ordered = 1;
	add_lock(&r, &n, 3000, 1, 1);
	add_lock(&r, &n, 1000, 1, 2);	/* came late in the live run */
	add_lock(&r, &n, 5000, 1, 3);
	r.batch[0] = 2;
	r.batch[1] = 1;
	r.nr_batches = 2;
	ASSERT_EQ(0, cw_session__open(&(struct cw_session_opts){}, &r.base, sink, &seen, &s, err,
				      sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(CW_SESSION_ENDED, cw_session__run(s, 0, NULL));
	ASSERT_EQ(0, cw_session__finish(s));
	ASSERT_EQ(3, seen.n);
	EXPECT_EQ(3000, seen.ts[0]);
	EXPECT_EQ(1000, seen.ts[1]);
	EXPECT_EQ(5000, seen.ts[2]);
	cw_session__free(s);
}

/* A sink that fails stops the run, with its error. */
TEST(sink_error_stops)
{
	struct synth_src r;
	struct cw_session *s;
	struct seen seen = { .n = 16 };	/* full: the sink refuses */
	char err[256] = "";
	int freed = 0, n = 0;

	synth_init(&r, &plain_ops, 0, &freed);
	add_lock(&r, &n, 1000, 1, 1);
	add_lock(&r, &n, 2000, 1, 1);
	r.batch[0] = 2;
	r.nr_batches = 1;
	ASSERT_EQ(0, cw_session__open(&(struct cw_session_opts){ .window_ns = 1 }, &r.base, sink,
				      &seen, &s, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(-E2BIG, cw_session__run(s, 0, NULL));
	EXPECT_NE(NULL, strstr(cw_session__error(s), "failed to process records"));
	cw_session__free(s);
}

/* The notes of several sources, each named by its source. */
TEST(notes_of_several)
{
	struct synth_src a, b;
	struct cw_session *s;
	int freed = 0;

	synth_init(&a, &follows_ops, 0, &freed);
	synth_init(&b, &plain_ops, 0, &freed);
	snprintf(a.base.notes, sizeof(a.base.notes), "not probed: x");
	snprintf(b.base.notes, sizeof(b.base.notes), "at the SDT notes");
	ASSERT_EQ(0, cw_session__new(&(struct cw_session_opts){}, sink, NULL, &s));
	ASSERT_EQ(0, cw_session__add_source(s, &a.base));
	ASSERT_EQ(0, cw_session__add_source(s, &b.base));
	ASSERT_STREQ("follows: not probed: x; plain: at the SDT notes", cw_session__notes(s));
	cw_session__free(s);
}

TEST_HARNESS_MAIN
