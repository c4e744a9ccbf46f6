// SPDX-License-Identifier: GPL-2.0
/*
 * The lock-order report on synthetic streams, against golden text (unit/data/report_*.txt):
 * an ABBA between two threads, three threads, a cycle seen in one thread, the longer cycles
 * a finding's dependency closes too and the cycles that are no finding (gate lock, read after
 * read), listed with -v.
 * No module map is sent, so locks are named by address of their first acquisition and
 * stacks say they were not received: the text is the same on every machine.
 *
 * To see what changed: the test prints the text it made when it differs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "report/report.h"
#include "report/symbols.h"
#include "cw_synth.h"
#include "alloc_fail.h"

#define PID 4000

struct edge {
	__u32 tid;
	__u64 from, to;
	__u16 flags;
	__u64 gate;
	__u8 kind;
	__u16 attr;
};

static void feed_edge(struct __test_metadata *_metadata, struct cw_engine *eng, __u64 ts,
		      struct edge s)
{
	struct cw_ev_edge e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_LOCK_EDGE, sizeof(e), ts, PID, s.tid);
	e.from_addr = s.from;
	e.to_addr = s.to;
	e.from_ip = 0x401000 + (s.from & 0xfff);
	e.to_ip = 0x402000 + (s.to & 0xfff);
	e.from_stack_id = 0x100 + s.from;
	e.to_stack_id = 0x200 + s.to;
	e.flags = s.flags;
	e.gate_addr = s.gate;
	e.from_kind = e.to_kind = s.kind ? s.kind : CW_LOCK_MUTEX;
	e.from_attr = e.to_attr = s.attr;
	ASSERT_EQ(0, cw_engine__feed(eng, &e.hdr));
}

static void feed_comm(struct __test_metadata *_metadata, struct cw_engine *eng, __u32 tid,
		      const char *name)
{
	struct cw_ev_comm c = synth_comm(1, PID, tid, name);

	ASSERT_EQ(0, cw_engine__feed(eng, &c.hdr));
}

/* The findings text of eng (with -v when verbose) in a malloc'ed string. */
static char *render(struct cw_engine *eng, int verbose, size_t *nr_findings)
{
	struct cw_render r = { .eng = eng, .verbose = verbose };
	struct cw_findings *fs;
	struct cw_symbols *sym;
	char *buf = NULL;
	size_t len = 0;

	if (cw_findings__new(eng, &fs))
		return NULL;
	*nr_findings = cw_findings__nr_reported(fs);
	r.out = open_memstream(&buf, &len);
	if (!r.out || cw_symbols__new(eng, NULL, &sym)) {
		if (r.out)
			fclose(r.out);
		free(buf);
		cw_findings__free(fs);
		return NULL;
	}
	r.sym = sym;
	r.fs = fs;
	cw_report__findings_text(&r);
	fclose(r.out);
	cw_symbols__free(sym);
	cw_findings__free(fs);
	return buf;
}

static char *golden(const char *name)
{
	char path[256];
	char *buf = NULL;
	size_t len = 0;
	FILE *f, *m;
	int c;

	/* beside the test's source, where the binary was built from */
	snprintf(path, sizeof(path), "%s/unit/data/%s", CW_SELFTESTS_DIR, name);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static void expect_golden(struct __test_metadata *_metadata, const char *text,
			  const char *name)
{
	char *want = golden(name);

	ASSERT_NE(NULL, want) TH_LOG("cannot read unit/data/%s", name);
	if (strcmp(want, text))
		TH_LOG("report differs from unit/data/%s; it is:\n%s", name, text);
	EXPECT_STREQ(want, text);
	free(want);
}


static void *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re"), *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &cap);
	while (m && (c = fgetc(f)) != EOF)
		fputc(c, m);
	if (m)
		fclose(m);
	fclose(f);
	*len = cap;
	return buf;
}

static void feed_module(struct __test_metadata *_metadata, struct cw_engine *eng, __u64 start,
			__u64 end, __u64 pgoff, const char *path)
{
	size_t plen = strlen(path) + 1, size = CW_RECORD_ALIGN(sizeof(struct cw_ev_module) + plen);
	struct cw_ev_module *m = calloc(1, size);

	ASSERT_NE(NULL, m);
	m->hdr = synth_hdr(CW_EV_MODULE, size, 1, PID, 0);
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->path_len = plen;
	memcpy(m->path, path, plen);
	ASSERT_EQ(0, cw_engine__feed(eng, &m->hdr));
	free(m);
}

#define STACKFIX_ID 0x51ac

/*
 * The unit tests' captured stack (unit/data/stackfix.*, see test_stack.c) as a stream
 * would send it: the executable's module record and the raw copy, under STACKFIX_ID.
 */
static void feed_stackfix(struct __test_metadata *_metadata, struct cw_engine *eng)
{
	const char *dir = CW_SELFTESTS_DIR "/unit/data";
	char path[512], *maps, *line, *save;
	struct cw_ev_ustack_raw *rec;
	int modules = 0;
	size_t len;

	snprintf(path, sizeof(path), "%s/stackfix.stack", dir);
	rec = slurp(path, &len);
	ASSERT_NE(NULL, rec);
	ASSERT_LE(sizeof(*rec), len);
	rec->hdr.pid = PID;
	rec->stack_id = STACKFIX_ID;
	ASSERT_EQ(0, cw_engine__feed(eng, &rec->hdr));
	free(rec);
	snprintf(path, sizeof(path), "%s/stackfix.maps", dir);
	maps = slurp(path, &len);
	ASSERT_NE(NULL, maps);
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long start, end, pgoff;
		char perms[8];
		int pos = -1;

		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u %n", &start, &end, perms, &pgoff,
			   &pos) < 4 || pos < 0 || perms[2] != 'x' ||
		    !strstr(line + pos, "/stackfix"))
			continue;
		snprintf(path, sizeof(path), "%s/stackfix", dir);
		feed_module(_metadata, eng, start, end, pgoff, path);
		modules++;
	}
	free(maps);
	ASSERT_EQ(1, modules);
}

FIXTURE(report) {
	struct cw_engine *eng;
};

FIXTURE_SETUP(report)
{
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	feed_comm(_metadata, self->eng, 4001, "worker-1");
	feed_comm(_metadata, self->eng, 4002, "worker-2");
	feed_comm(_metadata, self->eng, 4003, "worker-3");
}

FIXTURE_TEARDOWN(report)
{
	cw_engine__free(self->eng);
}

/* A then B in one thread, B then A in another: one finding, the chain, the scenario. */
TEST_F(report, abba_two_threads)
{
	size_t n;
	char *text;

	feed_edge(_metadata, self->eng, 10, (struct edge){ 4001, 0x5000a0, 0x5000b0 });
	feed_edge(_metadata, self->eng, 20, (struct edge){ 4002, 0x5000b0, 0x5000a0 });
	text = render(self->eng, 0, &n);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(1, n);
	expect_golden(_metadata, text, "report_abba.txt");
	free(text);
}

/* Three locks, three threads, and the same cycle only in one thread: two findings. */
TEST_F(report, three_threads_and_one_thread)
{
	size_t n;
	char *text;

	feed_edge(_metadata, self->eng, 10, (struct edge){ 4001, 0x5000a0, 0x5000b0 });
	feed_edge(_metadata, self->eng, 20, (struct edge){ 4002, 0x5000b0, 0x5000c0 });
	feed_edge(_metadata, self->eng, 30, (struct edge){ 4003, 0x5000c0, 0x5000a0 });
	feed_edge(_metadata, self->eng, 40, (struct edge){ 4001, 0x5000d0, 0x5000e0 });
	feed_edge(_metadata, self->eng, 50, (struct edge){ 4001, 0x5000e0, 0x5000d0 });
	text = render(self->eng, 0, &n);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(2, n);
	expect_golden(_metadata, text, "report_three_and_single.txt");
	free(text);
}

/*
 * A dense graph: a -> b -> c and a -> c in one thread, then c -> a in another closes two
 * cycles (a c a, a b c a). One dependency, one finding: the shortest, the other counted.
 */
TEST_F(report, one_finding_per_closing_dependency)
{
	struct cw_findings *fs;
	size_t shown = 0;

	feed_edge(_metadata, self->eng, 10, (struct edge){ 4001, 0x5000a0, 0x5000b0 });
	feed_edge(_metadata, self->eng, 11, (struct edge){ 4001, 0x5000b0, 0x5000c0 });
	feed_edge(_metadata, self->eng, 12, (struct edge){ 4001, 0x5000a0, 0x5000c0 });
	feed_edge(_metadata, self->eng, 20, (struct edge){ 4002, 0x5000c0, 0x5000a0 });
	ASSERT_EQ(0, cw_findings__new(self->eng, &fs));
	ASSERT_EQ(2, cw_findings__nr(fs));
	EXPECT_EQ(1, cw_findings__nr_reported(fs));
	for (size_t i = 0; i < cw_findings__nr(fs); i++) {
		const struct cw_finding *f = cw_findings__get(fs, i);

		if (!cw_finding__reported(f))
			continue;
		shown++;
		EXPECT_EQ(2, f->nr_locks);
		EXPECT_EQ(1, f->lock_order.longer_cycles);
	}
	EXPECT_EQ(1, shown);
	cw_findings__free(fs);

	/* a second bad dependency, b -> a later: a finding of its own */
	feed_edge(_metadata, self->eng, 30, (struct edge){ 4003, 0x5000b0, 0x5000a0 });
	ASSERT_EQ(0, cw_findings__new(self->eng, &fs));
	EXPECT_EQ(2, cw_findings__nr_reported(fs));
	cw_findings__free(fs);
}

/*
 * Two closing dependencies, each closing a longer cycle too: each finding says how many,
 * and -v lists the longer cycles after the findings.
 */
TEST_F(report, longer_cycles_listed_with_verbose)
{
	size_t n;
	char *text;

	feed_edge(_metadata, self->eng, 10, (struct edge){ 4001, 0x5000a0, 0x5000b0 });
	feed_edge(_metadata, self->eng, 11, (struct edge){ 4001, 0x5000b0, 0x5000c0 });
	feed_edge(_metadata, self->eng, 12, (struct edge){ 4001, 0x5000a0, 0x5000c0 });
	feed_edge(_metadata, self->eng, 20, (struct edge){ 4002, 0x5000c0, 0x5000a0 });
	feed_edge(_metadata, self->eng, 30, (struct edge){ 4003, 0x5000d0, 0x5000a0 });
	feed_edge(_metadata, self->eng, 31, (struct edge){ 4003, 0x5000c0, 0x5000d0 });
	text = render(self->eng, 1, &n);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(2, n);
	expect_golden(_metadata, text, "report_longer_verbose.txt");
	free(text);
}

/* Cycles that cannot deadlock: counted without -v, explained with it. */
TEST_F(report, suppressed_listed_with_verbose)
{
	size_t n;
	char *text;

	/* A <-> B, always holding G */
	feed_edge(_metadata, self->eng, 10, (struct edge){ 4001, 0x500090, 0x5000a0 });
	feed_edge(_metadata, self->eng, 11, (struct edge){ 4001, 0x5000a0, 0x5000b0,
		  .gate = 0x500090 });
	feed_edge(_metadata, self->eng, 20, (struct edge){ 4002, 0x500090, 0x5000b0 });
	feed_edge(_metadata, self->eng, 21, (struct edge){ 4002, 0x5000b0, 0x5000a0,
		  .gate = 0x500090 });
	/* C <-> D, read after read on reader-preferring rwlocks */
	feed_edge(_metadata, self->eng, 30, (struct edge){ 4001, 0x5000c0, 0x5000d0,
		  CW_EDGE_READ_FROM | CW_EDGE_READ_TO, .kind = CW_LOCK_RWLOCK,
		  .attr = CW_ATTR_KNOWN });
	feed_edge(_metadata, self->eng, 40, (struct edge){ 4002, 0x5000d0, 0x5000c0,
		  CW_EDGE_READ_FROM | CW_EDGE_READ_TO, .kind = CW_LOCK_RWLOCK,
		  .attr = CW_ATTR_KNOWN });

	text = render(self->eng, 0, &n);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, n);
	expect_golden(_metadata, text, "report_suppressed.txt");
	free(text);
	text = render(self->eng, 1, &n);
	ASSERT_NE(NULL, text);
	expect_golden(_metadata, text, "report_suppressed_verbose.txt");
	free(text);
}

/* A kind the engine detects without renderers would be counted and not shown. */
TEST(every_detected_kind_has_renderers)
{
	for (unsigned int k = 0; k < CW_FINDING_KIND_MAX; k++) {
		const struct cw_finding_renderer *fr = cw_report__renderer(k);

		if (!cw_finding_kind__detected(k))
			continue;
		ASSERT_NE(NULL, fr) TH_LOG("no renderer for %s", cw_finding_kind__name(k));
		EXPECT_NE(NULL, fr->text) TH_LOG("%s: no text", cw_finding_kind__name(k));
		EXPECT_NE(NULL, fr->json) TH_LOG("%s: no json", cw_finding_kind__name(k));
		EXPECT_NE(NULL, fr->dot) TH_LOG("%s: no dot", cw_finding_kind__name(k));
	}
}

/*
 * A symbol context whose first use failed (out of memory while it fed the process's
 * modules to its unwinder) does not keep that half-built unwinder: the next use names
 * the stack in full. Every allocation of the first use fails in turn.
 */
TEST_F(report, symbols_after_a_failure)
{
	const struct cw_stack *st;
	struct cw_symbols *sym;
	struct cw_ustack s;
	long n;

	feed_stackfix(_metadata, self->eng);
	st = cw_engine__find_stack(self->eng, PID, CW_STACK_USER, STACKFIX_ID);
	ASSERT_NE(NULL, st);
	for (n = 1; n < 1000; n++) {
		int err;

		ASSERT_EQ(0, cw_symbols__new(self->eng, NULL, &sym));
		fail_nth_allocation(n);
		err = cw_symbols__resolve(sym, st, &s);
		fail_nth_allocation(0);
		cw_ustack__fini(&s);
		if (!alloc_failed) {
			EXPECT_EQ(0, err);
			cw_symbols__free(sym);
			break;
		}
		ASSERT_EQ(0, cw_symbols__resolve(sym, st, &s)) TH_LOG("allocation %ld failed", n);
		EXPECT_EQ(CW_STACK_END_COMPLETE, s.end) TH_LOG("allocation %ld failed: %s", n,
							      s.why);
		ASSERT_EQ(7, s.nr) TH_LOG("allocation %ld failed", n);
		ASSERT_NE(NULL, s.frames[0].func) TH_LOG("allocation %ld failed", n);
		EXPECT_STREQ("leaf", s.frames[0].func);
		ASSERT_NE(NULL, s.frames[6].func);
		EXPECT_STREQ("_start", s.frames[6].func);
		cw_ustack__fini(&s);
		cw_symbols__free(sym);
	}
	EXPECT_LT(1, n);
	EXPECT_GT(1000, n);
}

/*
 * The JSON report when an allocation fails: -ENOMEM before a byte is written, or the
 * whole report; nothing leaks either way (LeakSanitizer checks at exit). Without a
 * symbol context it refuses, rather than print stacks empty.
 */
TEST_F(report, json_failures)
{
	struct cw_report_target t = { .pid = PID };
	struct cw_symbols *sym;
	char *buf = NULL;
	size_t len = 0;
	long n;
	FILE *f;

	feed_edge(_metadata, self->eng, 10, (struct edge){ 4001, 0x5000a0, 0x5000b0 });
	feed_edge(_metadata, self->eng, 20, (struct edge){ 4002, 0x5000b0, 0x5000a0 });
	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(-EINVAL, cw_report__json(f, self->eng, NULL, &t));
	fflush(f);
	EXPECT_EQ(0, len);
	for (n = 1; n < 1000; n++) {
		int err;

		ASSERT_EQ(0, cw_symbols__new(self->eng, NULL, &sym));
		rewind(f);
		fail_nth_allocation(n);
		err = cw_report__json(f, self->eng, sym, &t);
		fail_nth_allocation(0);
		fflush(f);
		cw_symbols__free(sym);
		if (!alloc_failed) {
			EXPECT_EQ(0, err);
			break;
		}
		/* a failure in the cycle search: nothing written; later ones are degraded */
		if (err) {
			EXPECT_EQ(-ENOMEM, err);
			EXPECT_EQ(0, ftell(f)) TH_LOG("allocation %ld failed", n);
		}
	}
	EXPECT_LT(1, n);
	EXPECT_GT(1000, n);
	fclose(f);
	free(buf);
}

/*
 * Module paths of a recording naming a FIFO and a device: the report goes on (opening a
 * FIFO for reading would wait for a writer forever) and names them as not usable.
 */
TEST_F(report, modules_not_regular_files)
{
	char dir[] = "/tmp/cw-report." "XX" "XX" "XX", fifo[64];
	const char *const paths[] = { fifo, "/dev/zero" };
	struct cw_symbols *sym;
	struct cw_ev_stack *e;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/libfifo.so", dir);
	ASSERT_EQ(0, mkfifo(fifo, 0600));
	e = calloc(1, sizeof(*e) + 8);
	ASSERT_NE(NULL, e);
	for (int i = 0; i < 2; i++) {
		__u64 start = 0x7f0000000000ULL + i * 0x100000;

		feed_module(_metadata, self->eng, start, start + 0x1000, 0, paths[i]);
		e->hdr = synth_hdr(CW_EV_STACK, sizeof(*e) + 8, 2, PID, 4001);
		e->stack_id = 0x700 + i;
		e->space = CW_STACK_USER;
		e->nr = 1;
		e->ips[0] = start + 0x10;
		ASSERT_EQ(0, cw_engine__feed(self->eng, &e->hdr));
	}
	free(e);
	ASSERT_EQ(0, cw_symbols__new(self->eng, NULL, &sym));
	for (int i = 0; i < 2; i++) {
		const struct cw_stack *st = cw_engine__find_stack(self->eng, PID, CW_STACK_USER,
								  0x700 + i);
		struct cw_ustack s;

		ASSERT_NE(NULL, st);
		ASSERT_EQ(0, cw_symbols__resolve(sym, st, &s));
		ASSERT_EQ(1, s.nr);
		EXPECT_STREQ(paths[i], s.frames[0].module);
		EXPECT_EQ(NULL, s.frames[0].func);
		EXPECT_EQ(CW_STACK_END_LOST, s.end);
		EXPECT_NE(NULL, strstr(s.why, " is not a regular file")) TH_LOG("%s", s.why);
		EXPECT_NE(NULL, strstr(s.why, paths[i])) TH_LOG("%s", s.why);
		cw_ustack__fini(&s);
	}
	cw_symbols__free(sym);
	unlink(fifo);
	rmdir(dir);
}

TEST_HARNESS_MAIN
