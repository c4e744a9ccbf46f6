// SPDX-License-Identifier: GPL-2.0
/*
 * Conformance of the BPF programs to the lock rules: selftests/workloads/wl_rules.c
 * performs the sequences of selftests/lib/rules_seq.h on real locks, traced by the real
 * BPF source; the same table goes through the rules compiled in userspace
 * (tools/lib/rules/, which selftests/unit/test_lockrules.c holds to the table's exact
 * edges). Both kinds of output go into an engine each, and the engines must agree on
 * every dependency between the table's locks (ends, lifetimes, read flags, gate, kinds
 * and attributes), on the acquisitions of every lock, and on the held-set overflows.
 * The kernel module's path (kmod/concwatch_rules.c) is held to the same table, where it
 * can be loaded (the QEMU guests).
 */
#include <stdlib.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/findings.h"
#include "rules_drive.h"
#include "engine/engine.h"
#include "report/report.h"
#include "source/session.h"

/* One dependency as the engine keeps it, instance by instance. */
struct dep {
	__u64 from, to, gate;
	__u32 from_gen, to_gen;
	__u16 flags, from_attr, to_attr;
	__u8 from_kind, to_kind;
};

struct deps {
	struct dep d[2048];
	size_t nr;
};

static int in_table(__u64 base, __u64 addr)
{
	return addr >= base && addr < rs_addr(base, RS_NR_SEQS, 0);
}

/* The distinct dependencies between the table's locks in eng's lock graph. */
static int collect(const struct cw_engine *eng, __u64 base, struct deps *out)
{
	const struct cw_lg *lg = cw_engine__lockgraph(eng);

	out->nr = 0;
	for (size_t i = 0; i < cw_lg__nr_edges(lg); i++) {
		const struct cw_lg_edge *e = cw_lg__edge(lg, i);
		const struct cw_lg_node *f = cw_lg__node(lg, e->from), *t = cw_lg__node(lg, e->to);

		if (!in_table(base, f->addr) && !in_table(base, t->addr))
			continue;
		for (size_t k = 0; k < e->nr_insts; k++) {
			struct dep d = {
				.from = f->addr, .to = t->addr, .gate = e->insts[k].gate,
				.from_gen = f->gen, .to_gen = t->gen, .flags = e->insts[k].flags,
				.from_attr = f->attr, .to_attr = t->attr,
				.from_kind = f->kind, .to_kind = t->kind,
			};
			size_t j;

			for (j = 0; j < out->nr; j++)
				if (!memcmp(&out->d[j], &d, sizeof(d)))
					break;
			if (j < out->nr)
				continue; /* another call path or thread: the same dependency */
			if (out->nr == 2048)
				return -ENOSPC;
			out->d[out->nr++] = d;
		}
	}
	return 0;
}

static int has(const struct deps *ds, const struct dep *d)
{
	for (size_t j = 0; j < ds->nr; j++)
		if (!memcmp(&ds->d[j], d, sizeof(*d)))
			return 1;
	return 0;
}

static const char *name_of(__u64 base, __u64 addr, char *buf, size_t len)
{
	__u64 i = (addr - base) / sizeof(union rs_lock);

	if (!in_table(base, addr))
		snprintf(buf, len, "0x%llx", (unsigned long long)addr);
	else
		snprintf(buf, len, "%s:%llu", rs_seqs[i / RS_LOCKS_MAX].name,
			 (unsigned long long)(i % RS_LOCKS_MAX));
	return buf;
}

static void log_dep(struct __test_metadata *_metadata, const char *what, __u64 base,
		    const struct dep *d)
{
	char f[64], t[64], g[64];

	TH_LOG("%s: %s@%u -> %s@%u flags %#x gate %s", what, name_of(base, d->from, f, sizeof(f)),
	       d->from_gen, name_of(base, d->to, t, sizeof(t)), d->to_gen, d->flags,
	       d->gate ? name_of(base, d->gate, g, sizeof(g)) : "-");
}

static void conforms(struct __test_metadata *_metadata, const char *backend)
{
	const char *args[] = { "-w", NULL };
	struct cw_source_opts opts = {};
	struct cw_engine *live, *ref;
	static struct deps got, want;
	struct cw_session *sess;
	struct cw_rules *r;
	struct cw_drain d;
	struct cw_wl wl;
	char err[256] = "";
	__u64 base, clock = 0;

	ASSERT_EQ(0, cw_wl__start(&wl, "wl_rules", args));
	base = cw_field(wl.ready, "base");
	ASSERT_NE(-1, (long long)base);
	live = cw_engine__new();
	ref = cw_engine__new();
	ASSERT_NE(NULL, live);
	ASSERT_NE(NULL, ref);
	opts.pid = wl.pid;
	opts.backend = backend;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, live, &sess, err, sizeof(err)))
		TH_LOG("session: %s", err);
	ASSERT_EQ(0, cw_drain__start(&d, sess));
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	ASSERT_EQ(0, cw_session__finish(sess));

	/* the same table through the rules compiled in userspace */
	ASSERT_EQ(0, cw_rules__new(wl.pid, cw_engine__feed, ref, &r));
	for (int s = 0; s < RS_NR_SEQS; s++)
		ASSERT_EQ(0, rs_drive(r, s, wl.pid, wl.pid + 1 + s, base, &clock, cw_engine__feed,
				      ref));

	ASSERT_EQ(0, collect(live, base, &got));
	ASSERT_EQ(0, collect(ref, base, &want));
	EXPECT_EQ(want.nr, got.nr);
	for (size_t i = 0; i < want.nr; i++)
		if (!has(&got, &want.d[i])) {
			log_dep(_metadata, "missing", base, &want.d[i]);
			EXPECT_TRUE(0);
		}
	for (size_t i = 0; i < got.nr; i++)
		if (!has(&want, &got.d[i])) {
			log_dep(_metadata, "unexpected", base, &got.d[i]);
			EXPECT_TRUE(0);
		}

	/* acquisitions, lock by lock; nothing waited */
	for (int s = 0; s < RS_NR_SEQS; s++)
		for (int i = 0; rs_seqs[s].locks[i]; i++) {
			__u64 addr = rs_addr(base, s, i), acq = 0;
			const struct cw_lock *l = cw_engine__find_lock(live, wl.pid, addr);

			for (size_t j = 0; j < cw_rules__nr_sites(r); j++)
				if (cw_rules__site(r, j)->key.addr == addr)
					acq += cw_rules__site(r, j)->v.acquisitions;
			ASSERT_NE(NULL, l) TH_LOG("%s: lock %d never seen", rs_seqs[s].name, i);
			EXPECT_EQ(acq, l->acquisitions) TH_LOG("%s: lock %d", rs_seqs[s].name, i);
			EXPECT_EQ(0, l->contentions) TH_LOG("%s: lock %d", rs_seqs[s].name, i);
		}
	EXPECT_EQ(cw_rules__counts(r)->held_overflow,
		  cw_engine__counts(live)->lost[CW_LOST_HELD_OVERFLOW]);
	EXPECT_EQ(2, cw_rules__counts(r)->held_overflow);
	EXPECT_EQ(0, cw_engine__counts(live)->lost[CW_LOST_RINGBUF]);
	EXPECT_EQ(0, cw_engine__counts(live)->lost[CW_LOST_MAP_FULL]);

	cw_rules__free(r);
	cw_session__free(sess);
	cw_engine__free(ref);
	cw_engine__free(live);
	EXPECT_EQ(0, cw_wl__stop(&wl));
}

TEST(bpf_conforms_to_userspace_rules)
{
	const char *why = cw_live_skip_reason();

	if (why)
		SKIP(return, "%s", why);
	conforms(_metadata, NULL);
}

TEST(kmod_conforms_to_userspace_rules)
{
	int loaded;
	const char *why = cw_kmod_skip_reason(&loaded);

	if (why)
		SKIP(return, "%s", why);
	conforms(_metadata, "kmod");
	if (loaded > 0)
		EXPECT_EQ(0, cw_kmod_unload());
}

/*
 * A dependency that meets a full ring buffer waits in the kernel until delivered: 50
 * inversions made after the workload filled a small ring buffer with futex records,
 * and nothing read until the end (no drain while it runs, so every reservation from
 * the flood on fails, deterministically). Every inversion must be reported all the same;
 * what was lost (the flood's records, stacks) is reported as lost, and no dependency
 * is among it.
 */
TEST(edges_wait_out_a_full_ringbuf)
{
	const char *why = cw_live_skip_reason();
	const char *args[] = { "-w", "-t", "50", "20000", NULL };
	/* raw_events: futex calls cross the ring buffer (a record each) only then */
	struct cw_source_opts opts = { .ringbuf_bytes = 1 << 18, .raw_events = 1 };
	const struct cw_engine_counts *c;
	struct cw_findings *fs = NULL;
	struct cw_session *sess;
	struct cw_engine *eng;
	struct cw_wl wl;
	char err[256] = "";

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_children", args));
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("session: %s", err);
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(0, cw_session__finish(sess));

	c = cw_engine__counts(eng);
	EXPECT_LT(0, c->lost[CW_LOST_RINGBUF]) TH_LOG("the ring buffer never filled");
	EXPECT_EQ(0, c->lost[CW_LOST_MAP_FULL]);
	EXPECT_EQ(100, c->by_type[CW_EV_LOCK_EDGE]);
	ASSERT_EQ(0, cw_findings__new(eng, &fs));
	/* 50 cycles, each a reported inversion two threads can deadlock on */
	EXPECT_EQ(50, cw_findings__nr(fs));
	EXPECT_EQ(50, cw_findings__nr_reported(fs));
	for (size_t i = 0; i < cw_findings__nr(fs); i++) {
		const struct cw_finding *f = cw_findings__get(fs, i);

		EXPECT_EQ(CW_FINDING_LOCK_ORDER_INVERSION, f->kind);
		EXPECT_TRUE(cw_finding__reported(f));
		EXPECT_FALSE(f->lock_order.single_thread);
		EXPECT_EQ(2, f->nr_threads);
	}

	cw_findings__free(fs);
	cw_session__free(sess);
	cw_engine__free(eng);
	EXPECT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
