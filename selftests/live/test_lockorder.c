// SPDX-License-Identifier: GPL-2.0
/*
 * Lock-order inversions on real processes: each workload of selftests/workloads takes
 * its locks in known orders (never deadlocking: barriers put the halves one after the
 * other). The BPF source traces it in its default, aggregated mode; the lock graph must
 * hold exactly the cycles the workload makes, judged as they must be, between the locks
 * and threads its ready line names, with names and stacks a developer can act on.
 * After each test no probe of concwatch is left attached.
 *
 * The tests of fixture kmod run the same bodies through the kernel module
 * (--backend kmod; kmod/), loaded here where it can be (the QEMU guests), so that the
 * module's path of the lock rules is held to the same findings as the BPF programs'.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "engine/lockgraph.h"
#include "report/report.h"
#include "report/symbols.h"
#include "source/recording.h"
#include "source/session.h"

struct traced {
	struct cw_wl wl;
	struct cw_engine *eng;
	struct cw_session *sess;
	struct cw_symbols *sym;
	struct cw_findings *fs;
	int findings;			/* cycles that are findings */
};

/* Links and perf events among our own fds: what a detach that forgot one would leave. */
static int probe_fds(void)
{
	char path[PATH_MAX], target[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		n += !strcmp(target, "anon_inode:bpf_link") ||
		     !strcmp(target, "anon_inode:[perf_event]");
	}
	closedir(d);
	return n;
}

/* The backend the test traces with: NULL (BPF), "kmod" (fixture kmod) or "preload". */
static const char *backend;

/* Start workload name with the handshake, trace its work, and find its cycles. */
static void trace_free(struct __test_metadata *_metadata, struct traced *t, const char *name,
		       const char *mode, int track_free)
{
	const char *args[] = { "-w", mode, NULL };
	struct cw_source_opts opts = {};
	struct cw_drain d;
	char err[256] = "";
	int ret;

	memset(t, 0, sizeof(*t));
	opts.track_free = track_free;
	opts.backend = backend;
	if (backend && !strcmp(backend, "preload")) {
		struct cw_source *src;

		ret = cw_wl__start_preload(&t->wl, name, args, &opts, &src, err, sizeof(err));
		ASSERT_EQ(0, ret) TH_LOG("%s", err);
		t->eng = cw_engine__new();
		ASSERT_NE(NULL, t->eng);
		opts.pid = t->wl.pid;
		ret = cw_trace__open_preload(src, &opts, cw_engine__feed, t->eng, &t->sess, err,
					     sizeof(err));
	} else {
		ASSERT_EQ(0, cw_wl__start(&t->wl, name, args));
		t->eng = cw_engine__new();
		ASSERT_NE(NULL, t->eng);
		opts.pid = t->wl.pid;
		ret = cw_trace__open(&opts, cw_engine__feed, t->eng, &t->sess, err, sizeof(err));
	}
	ASSERT_EQ(0, ret) TH_LOG("session: %s", err);
	ASSERT_EQ(0, cw_drain__start(&d, t->sess));
	ASSERT_EQ(0, cw_wl__go(&t->wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	ASSERT_EQ(0, cw_session__finish(t->sess));
	EXPECT_EQ(0, cw_engine__counts(t->eng)->lost_total);
	ASSERT_EQ(0, cw_findings__new(t->eng, &t->fs));
	EXPECT_EQ(0, cw_findings__truncated(t->fs, CW_FINDING_LOCK_ORDER_INVERSION));
	t->findings = cw_findings__nr_reported(t->fs);
	/* symbols while the process lives: its files through /proc/PID/map_files */
	ASSERT_EQ(0, cw_symbols__new(t->eng, &(struct cw_symbols_opts){ .live_pid = t->wl.pid },
				     &t->sym));
}

static void trace(struct __test_metadata *_metadata, struct traced *t, const char *name,
		  const char *mode)
{
	trace_free(_metadata, t, name, mode, 0);
}

static void untrace(struct __test_metadata *_metadata, struct traced *t)
{
	cw_symbols__free(t->sym);
	cw_findings__free(t->fs);
	cw_session__free(t->sess);
	cw_engine__free(t->eng);
	if (t->wl.pid > 0)
		EXPECT_EQ(0, cw_wl__stop(&t->wl));
	EXPECT_EQ(0, probe_fds());
}

/* Lock-order cycles the engine found: findings, and those it judged harmless. */
static size_t cycles(struct traced *t)
{
	size_t n = 0;

	for (size_t i = 0; i < cw_findings__nr(t->fs); i++)
		n += cw_findings__get(t->fs, i)->kind == CW_FINDING_LOCK_ORDER_INVERSION;
	return n;
}

/* The one cycle of the run that is a finding, or NULL. */
static const struct cw_finding *the_finding(struct traced *t)
{
	for (size_t i = 0; i < cw_findings__nr(t->fs); i++)
		if (cw_finding__reported(cw_findings__get(t->fs, i)))
			return cw_findings__get(t->fs, i);
	return NULL;
}

/* Threads can each hold one lock and wait for the next: a finding between threads. */
static int deadlocks(const struct cw_finding *f)
{
	return f->severity == CW_SEVERITY_WARNING && !f->lock_order.single_thread;
}

/* The stack where link i's thread acquired the next lock, or held its lock. */
static __u64 acquire_stack(const struct cw_finding *f, size_t i)
{
	return f->stacks[f->lock_order.links[i].acquire_stack].id;
}

static __u64 held_stack(const struct cw_finding *f, size_t i)
{
	return f->stacks[f->lock_order.links[i].held_stack].id;
}

/*
 * Cycle c goes through the locks at addrs[0..len) in that order (from any start), and
 * the link out of addrs[k] was made by tids[k].
 */
static void expect_cycle(struct __test_metadata *_metadata, struct traced *t,
			 const struct cw_finding *c, const __u64 *addrs, const __u32 *tids,
			 size_t len)
{
	size_t start = len;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(CW_FINDING_LOCK_ORDER_INVERSION, c->kind);
	ASSERT_EQ(len, c->nr_locks);
	for (size_t k = 0; k < len; k++)
		if (c->locks[0].addr == addrs[k])
			start = k;
	ASSERT_NE(len, start) TH_LOG("cycle starts at 0x%llx, not a lock of the workload",
				      (unsigned long long)c->locks[0].addr);
	for (size_t i = 0; i < len; i++) {
		size_t k = (start + i) % len;

		EXPECT_EQ(addrs[k], c->locks[i].addr) TH_LOG("lock %zu of the cycle", i);
		EXPECT_EQ(tids[k], c->lock_order.links[i].tid) TH_LOG("thread of link %zu", i);
	}
}

static void expect_name(struct __test_metadata *_metadata, struct traced *t, __u64 addr,
			const char *want)
{
	char name[256];

	EXPECT_EQ(CW_LOCK_NAMED_SYMBOL, cw_symbols__lock_name(t->sym, t->wl.pid, addr, 0, name,
							       sizeof(name)));
	EXPECT_STREQ(want, name);
}

/* Stack stack_id of the traced process names function func (at line, when not 0). */
static void expect_frame(struct __test_metadata *_metadata, struct traced *t, __u64 stack_id,
			 const char *func, int line)
{
	const struct cw_stack *st = cw_engine__find_stack(t->eng, t->wl.pid, CW_STACK_USER,
							  stack_id);
	struct cw_ustack s;
	int found = 0;

	ASSERT_NE(NULL, st) TH_LOG("stack 0x%llx never arrived", (unsigned long long)stack_id);
	ASSERT_EQ(0, cw_symbols__resolve(t->sym, st, &s));
	for (size_t i = 0; i < s.nr && !found; i++)
		found = s.frames[i].func && !strcmp(s.frames[i].func, func) &&
			(!line || s.frames[i].line == line);
	EXPECT_TRUE(found) TH_LOG("no frame %s (line %d) in the stack of 0x%llx (%zu frames)",
				  func, line, (unsigned long long)stack_id, s.nr);
	cw_ustack__fini(&s);
}

FIXTURE(lo) {
	struct traced t;
};

FIXTURE_SETUP(lo)
{
	const char *why = cw_live_skip_reason();

	memset(self, 0, sizeof(*self));
	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(lo)
{
	if (self->t.eng)
		untrace(_metadata, &self->t);
}

FIXTURE(kmod) {
	struct traced t;
	int loaded;		/* the module, by this test: unloaded after */
};

FIXTURE_SETUP(kmod)
{
	const char *why;

	memset(self, 0, sizeof(*self));
	why = cw_kmod_skip_reason(&self->loaded);
	if (why)
		SKIP(return, "%s", why);
	backend = "kmod";
}

FIXTURE_TEARDOWN(kmod)
{
	if (self->t.eng)
		untrace(_metadata, &self->t);
	if (self->loaded > 0)
		EXPECT_EQ(0, cw_kmod_unload());
}

FIXTURE(preload) {
	struct traced t;
};

FIXTURE_SETUP(preload)
{
	const char *why = cw_live_skip_reason();

	memset(self, 0, sizeof(*self));
	if (why)
		SKIP(return, "%s", why);
	backend = "preload";
}

FIXTURE_TEARDOWN(preload)
{
	if (self->t.eng)
		untrace(_metadata, &self->t);
}

/* A test of fixture lo and, with the same body, of fixtures kmod and preload. */
#define TEST_BOTH(name)                                                                   \
	static void name##_body(struct __test_metadata *_metadata, struct traced *t);     \
	TEST_F(lo, name)                                                                  \
	{                                                                                 \
		CW_SKIPPED_IN_SETUP();                                                    \
		name##_body(_metadata, &self->t);                                         \
	}                                                                                 \
	TEST_F(kmod, name)                                                                \
	{                                                                                 \
		CW_SKIPPED_IN_SETUP();                                                    \
		name##_body(_metadata, &self->t);                                         \
	}                                                                                 \
	TEST_F(preload, name)                                                             \
	{                                                                                 \
		CW_SKIPPED_IN_SETUP();                                                    \
		name##_body(_metadata, &self->t);                                         \
	}                                                                                 \
	static void name##_body(struct __test_metadata *_metadata, struct traced *t)

/* A test of fixture lo and, with the same body, of fixture preload (no module variant). */
#define TEST_LIB(name)                                                                    \
	static void name##_body(struct __test_metadata *_metadata, struct traced *t);     \
	TEST_F(lo, name)                                                                  \
	{                                                                                 \
		CW_SKIPPED_IN_SETUP();                                                    \
		name##_body(_metadata, &self->t);                                         \
	}                                                                                 \
	TEST_F(preload, name)                                                             \
	{                                                                                 \
		CW_SKIPPED_IN_SETUP();                                                    \
		name##_body(_metadata, &self->t);                                         \
	}                                                                                 \
	static void name##_body(struct __test_metadata *_metadata, struct traced *t)

static void abba(struct __test_metadata *_metadata, struct traced *t, const char *wl)
{
	const struct cw_finding *c;
	__u64 a, b;
	__u32 tid1, tid2;

	trace(_metadata, t, wl, NULL);
	a = cw_field(t->wl.ready, "a");
	b = cw_field(t->wl.ready, "b");
	tid1 = cw_field(t->wl.ready, "tid1");
	tid2 = cw_field(t->wl.ready, "tid2");
	ASSERT_EQ(1, cycles(t));
	ASSERT_EQ(1, t->findings);
	c = the_finding(t);
	EXPECT_TRUE(deadlocks(c));
	expect_cycle(_metadata, t, c, (__u64[]){ a, b }, (__u32[]){ tid1, tid2 }, 2);
	expect_name(_metadata, t, a, "lock_a");
	expect_name(_metadata, t, b, "lock_b");
	/* the link a -> b: b taken in t1_take_a_then_b at its line, a held from there */
	for (size_t i = 0; i < c->nr_locks; i++) {
		int t1 = c->lock_order.links[i].tid == tid1;

		expect_frame(_metadata, t, acquire_stack(c, i),
			     t1 ? "t1_take_a_then_b" : "t2_take_b_then_a",
			     cw_field(t->wl.done, t1 ? "line_t1_b" : "line_t2_a"));
		expect_frame(_metadata, t, held_stack(c, i),
			     t1 ? "t1_take_a_then_b" : "t2_take_b_then_a", 0);
	}
}

/* ABBA between two threads: one inversion, lock_a and lock_b, wl-t1 and wl-t2. */
TEST_BOTH(abba)
{
	abba(_metadata, t, "wl_abba");
}

/* The same, statically linked: the lock functions are probed in the executable. */
/*
 * Mutexes on threads' stacks, a local of main() and one of the worker's start routine:
 * named by their variables from DWARF, in the findings and the report; without DWARF,
 * as stack locks by where they were initialised.
 */
static char *text_report(struct cw_engine *eng, const struct cw_report_target *target);

static void stack_locks(struct __test_metadata *_metadata, struct traced *t, const char *wl)
{
	struct cw_report_target target = { .pid = 0 };
	const struct cw_finding *c;
	char name[256], *text;
	__u64 mx1, mx2;

	trace(_metadata, t, wl, NULL);
	mx1 = cw_field(t->wl.done, "mx1");
	mx2 = cw_field(t->wl.done, "mx2");
	ASSERT_EQ(1, cycles(t));
	ASSERT_EQ(1, t->findings);
	c = the_finding(t);
	expect_cycle(_metadata, t, c, (__u64[]){ mx1, mx2 },
		     (__u32[]){ cw_field(t->wl.ready, "tid_main"),
				cw_field(t->wl.ready, "tid_worker") }, 2);
	if (!strcmp(wl, "wl_stacklock")) {
		expect_name(_metadata, t, mx1, "mx1 in main");
		expect_name(_metadata, t, mx2, "mx2 in stack_worker");
		target.pid = t->wl.pid;
		text = text_report(t->eng, &target);
		ASSERT_NE(NULL, text);
		EXPECT_NE(NULL, strstr(text, "lock(mx1 in main);")) TH_LOG("%s", text);
		EXPECT_NE(NULL, strstr(text, "mx2 in stack_worker (mutex 0x")) TH_LOG("%s", text);
		EXPECT_EQ(NULL, strstr(text, "heap lock")) TH_LOG("%s", text);
		free(text);
		return;
	}
	/* no DWARF: the symbol table names the functions, but no frame has variables */
	EXPECT_EQ(CW_LOCK_NAMED_INIT, cw_symbols__lock_name(t->sym, t->wl.pid, mx1, 0, name,
							     sizeof(name)));
	EXPECT_EQ(0, strncmp(name, "stack lock initialised at main+0x", 33)) TH_LOG("%s", name);
	/* (a heap lock initialised in main would be named "heap lock initialised at main") */
	EXPECT_EQ(CW_LOCK_NAMED_INIT, cw_symbols__lock_name(t->sym, t->wl.pid, mx2, 0, name,
							     sizeof(name)));
	EXPECT_EQ(0, strncmp(name, "stack lock initialised at stack_worker+0x", 41))
		TH_LOG("%s", name);
}

TEST_LIB(locks_on_stacks)
{
	stack_locks(_metadata, t, "wl_stacklock");
}

TEST_LIB(locks_on_stacks_without_dwarf)
{
	stack_locks(_metadata, t, "wl_stacklock_nodwarf");
}

TEST_F(lo, abba_static)
{
	CW_SKIPPED_IN_SETUP();
	abba(_metadata, &self->t, "wl_abba_static");
}

/* ABBA with spin locks, whose lock function the kernel cannot probe at its entry. */
TEST_BOTH(spin_locks)
{
	const struct cw_finding *c;

	trace(_metadata, t, "wl_spin", NULL);
	ASSERT_EQ(1, cycles(t));
	ASSERT_EQ(1, t->findings);
	c = the_finding(t);
	expect_cycle(_metadata, t, c,
		     (__u64[]){ cw_field(t->wl.ready, "a"), cw_field(t->wl.ready, "b") },
		     (__u32[]){ cw_field(t->wl.ready, "tid1"), cw_field(t->wl.ready, "tid2") }, 2);
	EXPECT_EQ(CW_LOCK_SPIN, c->locks[0].type);
	expect_name(_metadata, t, cw_field(t->wl.ready, "a"), "spin_a");
	for (size_t i = 0; i < 2; i++)
		expect_frame(_metadata, t, acquire_stack(c, i),
			     c->lock_order.links[i].tid == cw_field(t->wl.ready, "tid1") ?
			     "t1_take_a_then_b" : "t2_take_b_then_a", 0);
}

/*
 * A libc with SDT notes for its locks (a stand-in: sdt/libpthread.so.0, whose mutex
 * functions only the notes can see): the notes are attached instead of uprobes, and
 * the same ABBA comes out, with the callers (read where the call frame information
 * says) and the stacks, unwound from inside the library.
 */
TEST_F(lo, sdt_notes_of_the_libc)
{
	struct traced *t = &self->t;
	const struct cw_finding *c;

	CW_SKIPPED_IN_SETUP();
	trace(_metadata, t, "wl_sdt", NULL);
	EXPECT_NE(NULL, strstr(cw_session__notes(t->sess), "at the SDT notes of "))
		TH_LOG("notes: %s", cw_session__notes(t->sess));
	EXPECT_NE(NULL, strstr(cw_session__notes(t->sess),
			       "/sdt/libpthread.so.0: libc:{mutex_entry, mutex_acquired, "
			       "mutex_release}"));
	ASSERT_EQ(1, cycles(t));
	ASSERT_EQ(1, t->findings);
	c = the_finding(t);
	expect_cycle(_metadata, t, c,
		     (__u64[]){ cw_field(t->wl.ready, "a"), cw_field(t->wl.ready, "b") },
		     (__u32[]){ cw_field(t->wl.ready, "tid1"), cw_field(t->wl.ready, "tid2") }, 2);
	for (size_t i = 0; i < 2; i++) {
		int t1 = c->lock_order.links[i].tid == cw_field(t->wl.ready, "tid1");
		char site[256], want[64];

		/* the caller, found through the library's call frame information */
		cw_symbols__site(t->sym, t->wl.pid, c->lock_order.links[i].to_ip, site,
				 sizeof(site));
		snprintf(want, sizeof(want), "%s (wl_abba.c:%lld)",
			 t1 ? "t1_take_a_then_b" : "t2_take_b_then_a",
			 cw_field(t->wl.done, t1 ? "line_t1_b" : "line_t2_a"));
		EXPECT_STREQ(want, site);
		expect_frame(_metadata, t, acquire_stack(c, i),
			     t1 ? "t1_take_a_then_b" : "t2_take_b_then_a",
			     cw_field(t->wl.done, t1 ? "line_t1_b" : "line_t2_a"));
	}
	expect_name(_metadata, t, cw_field(t->wl.ready, "a"), "lock_a");
}

/* a -> b, b -> c, c -> a across three threads: one cycle of three. */
TEST_BOTH(three_locks_three_threads)
{
	const struct cw_finding *c;

	trace(_metadata, t, "wl_cycle3", NULL);
	ASSERT_EQ(1, cycles(t));
	ASSERT_EQ(1, t->findings);
	c = the_finding(t);
	EXPECT_TRUE(deadlocks(c));
	expect_cycle(_metadata, t, c,
		     (__u64[]){ cw_field(t->wl.ready, "a"), cw_field(t->wl.ready, "b"),
				cw_field(t->wl.ready, "c") },
		     (__u32[]){ cw_field(t->wl.ready, "tid1"), cw_field(t->wl.ready, "tid2"),
				cw_field(t->wl.ready, "tid3") }, 3);
	expect_name(_metadata, t, cw_field(t->wl.ready, "c"), "lock_c");
}

/* Five philosophers, each taking fork i then fork i+1: one cycle through all five. */
TEST_LIB(dining_philosophers)
{
	__u64 forks[5];
	__u32 tids[5];
	char key[16];

	CW_SKIPPED_IN_SETUP();
	trace(_metadata, t, "wl_philo", NULL);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "fork%d", i);
		forks[i] = cw_field(t->wl.ready, key);
		snprintf(key, sizeof(key), "tid%d", i);
		tids[i] = cw_field(t->wl.ready, key);
	}
	ASSERT_EQ(1, cycles(t));
	ASSERT_EQ(1, t->findings);
	expect_cycle(_metadata, t, the_finding(t), forks, tids, 5);
	expect_name(_metadata, t, forks[0], "forks[0]");
	expect_name(_metadata, t, forks[3], "forks[3]");
}

/* Write-locked rwlock then a mutex, and the mutex then the rwlock for reading: a finding. */
TEST_LIB(rwlock_write_then_read)
{
	const struct cw_finding *c;
	__u64 rw, m;

	CW_SKIPPED_IN_SETUP();
	trace(_metadata, t, "wl_rwlock", "wr");
	rw = cw_field(t->wl.ready, "rw");
	m = cw_field(t->wl.ready, "m");
	ASSERT_EQ(1, cycles(t));
	ASSERT_EQ(1, t->findings);
	c = the_finding(t);
	expect_cycle(_metadata, t, c, (__u64[]){ rw, m },
		     (__u32[]){ cw_field(t->wl.ready, "tid1"), cw_field(t->wl.ready, "tid2") }, 2);
	for (size_t i = 0; i < 2; i++) {
		/* rw -> m holds rw for writing; m -> rw takes it for reading */
		__u16 want = c->locks[i].addr == rw ? 0 : CW_EDGE_READ_TO;

		EXPECT_EQ(want, c->lock_order.links[i].flags & (CW_EDGE_READ_FROM | CW_EDGE_READ_TO));
	}
	for (size_t i = 0; i < 2; i++)
		EXPECT_EQ(c->locks[i].addr == rw ? CW_LOCK_RWLOCK : CW_LOCK_MUTEX, c->locks[i].type);
}

/* Read after read on two default (reader-preferring) rwlocks: a cycle, not a finding. */
TEST_BOTH(rwlock_read_read_is_no_finding)
{
	trace(_metadata, t, "wl_rwlock", "rr");
	ASSERT_EQ(1, cycles(t));
	EXPECT_EQ(0, t->findings);
	EXPECT_EQ(CW_SEVERITY_SUPPRESSED, cw_findings__get(t->fs, 0)->severity);
	EXPECT_EQ(CW_SUPPRESSED_READ_READ, cw_findings__get(t->fs, 0)->suppressed);
}

/* The same on writer-preferring rwlocks: a waiting writer blocks new readers. A finding. */
TEST_LIB(rwlock_read_read_writer_preferring)
{

	CW_SKIPPED_IN_SETUP();
	trace(_metadata, t, "wl_rwlock", "rr-writer");
	ASSERT_EQ(1, cycles(t));
	ASSERT_EQ(1, t->findings);
	EXPECT_TRUE(deadlocks(cw_findings__get(t->fs, 0)));
}

/* The inversion closes only through a trylock, which cannot block: no edge, no cycle. */
TEST_BOTH(trylock_only)
{
	const struct cw_lg *lg;

	trace(_metadata, t, "wl_trylock", NULL);
	EXPECT_EQ(0, cycles(t));
	lg = cw_engine__lockgraph(t->eng);
	ASSERT_EQ(1, cw_lg__nr_edges(lg));
	EXPECT_EQ(cw_field(t->wl.ready, "a"), cw_lg__node(lg, cw_lg__edge(lg, 0)->from)->addr);
}

/* ABBA, but always under one gate mutex: a cycle that cannot deadlock, suppressed. */
TEST_BOTH(gate_lock_suppresses)
{

	trace(_metadata, t, "wl_gate", NULL);
	ASSERT_EQ(1, cycles(t));
	EXPECT_EQ(0, t->findings);
	EXPECT_EQ(CW_SUPPRESSED_GATE_LOCK, cw_findings__get(t->fs, 0)->suppressed);
	EXPECT_EQ(cw_field(t->wl.ready, "gate"), cw_findings__get(t->fs, 0)->lock_order.gate);
}

/* A recursive mutex taken twice, then another lock: depth, not an edge to itself. */
TEST_BOTH(recursive_mutex_no_self_edge)
{
	const struct cw_lg *lg;

	trace(_metadata, t, "wl_recursive", NULL);
	EXPECT_EQ(0, cycles(t));
	lg = cw_engine__lockgraph(t->eng);
	ASSERT_EQ(1, cw_lg__nr_edges(lg));
	EXPECT_EQ(cw_field(t->wl.ready, "rec"), cw_lg__node(lg, cw_lg__edge(lg, 0)->from)->addr);
	EXPECT_EQ(cw_field(t->wl.ready, "other"), cw_lg__node(lg, cw_lg__edge(lg, 0)->to)->addr);
	/* a lock inside a global structure is named by its path, from DWARF */
	expect_name(_metadata, t, cw_field(t->wl.ready, "other"), "stats.lock");
	expect_name(_metadata, t, cw_field(t->wl.ready, "rec"), "rec");
}

/* A mutex destroyed and initialised again at the same address, used in the other order. */
TEST_BOTH(destroyed_and_reused_address)
{
	const struct cw_lg *lg;
	__u64 reused;
	size_t lifetimes = 0;
	char name[256];

	trace(_metadata, t, "wl_reuse", NULL);
	EXPECT_EQ(0, cycles(t));
	lg = cw_engine__lockgraph(t->eng);
	reused = cw_field(t->wl.ready, "reused");
	for (size_t i = 0; i < cw_lg__nr_nodes(lg); i++)
		lifetimes += cw_lg__node(lg, i)->addr == reused;
	EXPECT_EQ(2, lifetimes);
	/* a heap lock: named by where it was last initialised, by wl-t1 in its turn */
	EXPECT_EQ(CW_LOCK_NAMED_INIT, cw_symbols__lock_name(t->sym, t->wl.pid, reused, 0, name,
							     sizeof(name)));
	EXPECT_EQ(0, strncmp(name, "heap lock initialised at t1_reinit_m (wl_reuse.c:", 49))
		TH_LOG("name: %s", name);
}

/*
 * A heap mutex freed and its block reused for another, never initialised nor destroyed
 * through pthread calls (std::mutex does this). Without --track-free the two are one
 * address with one history: an inversion, whose locks the report marks as possibly
 * reused. With it, free() ends the first one's history: no cycle, two lifetimes.
 */
static void freed_without_track_free(struct __test_metadata *_metadata, struct traced *t)
{
	const struct cw_lock *l;
	__u64 obj;

	trace(_metadata, t, "wl_free", NULL);
	obj = cw_field(t->wl.done, "first");
	ASSERT_EQ(obj, cw_field(t->wl.done, "second")) TH_LOG("the block was not reused");
	ASSERT_EQ(1, t->findings);
	l = cw_engine__find_lock(t->eng, t->wl.pid, obj);
	ASSERT_NE(NULL, l);
	EXPECT_EQ(0, l->init_ip);	/* nothing says it was a new lock: hence the mark */
}

static void freed_with_track_free(struct __test_metadata *_metadata, struct traced *t)
{
	const struct cw_lg *lg;
	size_t lifetimes = 0;
	__u64 obj;

	trace_free(_metadata, t, "wl_free", NULL, 1);
	obj = cw_field(t->wl.done, "first");
	ASSERT_EQ(obj, cw_field(t->wl.done, "second")) TH_LOG("the block was not reused");
	EXPECT_EQ(0, cycles(t));
	lg = cw_engine__lockgraph(t->eng);
	for (size_t i = 0; i < cw_lg__nr_nodes(lg); i++)
		lifetimes += cw_lg__node(lg, i)->addr == obj;
	EXPECT_EQ(2, lifetimes);
}

TEST_F(lo, freed_memory_without_track_free)
{
	CW_SKIPPED_IN_SETUP();
	freed_without_track_free(_metadata, &self->t);
}

TEST_F(lo, freed_memory_with_track_free)
{
	CW_SKIPPED_IN_SETUP();
	freed_with_track_free(_metadata, &self->t);
}

/* The same through the in-process library, whose free() wrapper does what the probe does. */
TEST_F(preload, freed_memory_without_track_free)
{
	CW_SKIPPED_IN_SETUP();
	freed_without_track_free(_metadata, &self->t);
}

TEST_F(preload, freed_memory_with_track_free)
{
	CW_SKIPPED_IN_SETUP();
	freed_with_track_free(_metadata, &self->t);
}

/*
 * pthread_cond_wait gives the mutex up and takes it back inside glibc: taken back while
 * outer is held, that is the edge outer -> cv_mutex too. With wl-t2's cv_mutex -> outer,
 * an inversion.
 */
TEST_BOTH(cond_wait_reacquire_makes_edge)
{
	const struct cw_lg *lg;
	const struct cw_lg_edge *e = NULL;
	__u64 outer, cv_mutex;
	__u32 waiter;
	int in_wait = 0;

	trace(_metadata, t, "wl_condwait", NULL);
	outer = cw_field(t->wl.ready, "outer");
	cv_mutex = cw_field(t->wl.ready, "cv_mutex");
	waiter = cw_field(t->wl.ready, "tid_waiter");
	/*
	 * One inversion. Where tracing is slow (uprobes under emulation), the waiter's
	 * taking cv_mutex back inside the wait sleeps on it for long enough to make it a
	 * contention hotspot too, which it then is: only the inversions are counted.
	 */
	ASSERT_EQ(1, cw_findings__matching(t->fs, 1ULL << CW_FINDING_LOCK_ORDER_INVERSION));
	lg = cw_engine__lockgraph(t->eng);
	for (size_t i = 0; i < cw_lg__nr_edges(lg); i++) {
		const struct cw_lg_edge *x = cw_lg__edge(lg, i);

		if (cw_lg__node(lg, x->from)->addr == outer &&
		    cw_lg__node(lg, x->to)->addr == cv_mutex)
			e = x;
	}
	ASSERT_NE(NULL, e);
	/* one instance from the waiter's own lock call, one from inside the wait */
	for (size_t i = 0; i < e->nr_insts; i++) {
		const struct cw_stack *st = cw_engine__find_stack(t->eng, t->wl.pid, CW_STACK_USER,
								  e->insts[i].to_stack_id);
		struct cw_ustack s;

		EXPECT_EQ(waiter, e->insts[i].tid);
		if (!st || cw_symbols__resolve(t->sym, st, &s))
			continue;
		for (size_t k = 0; k < s.nr; k++)
			in_wait |= s.frames[k].func &&
				   !strncmp(s.frames[k].func, "pthread_cond_wait", 17);
		cw_ustack__fini(&s);
	}
	EXPECT_TRUE(in_wait) TH_LOG("no outer -> cv_mutex link made inside pthread_cond_wait");
}

/* Heavy nesting, always in ascending order: many edges, all ascending, no cycle. */
TEST_LIB(clean_nesting_no_finding)
{
	const struct cw_lg *lg;
	__u64 level[6];
	char key[16];

	CW_SKIPPED_IN_SETUP();
	trace(_metadata, t, "wl_nesting", NULL);
	EXPECT_EQ(0, cycles(t));
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "level%d", i);
		level[i] = cw_field(t->wl.ready, key);
	}
	lg = cw_engine__lockgraph(t->eng);
	EXPECT_LT(5, cw_lg__nr_edges(lg));
	for (size_t i = 0; i < cw_lg__nr_edges(lg); i++) {
		__u64 from = cw_lg__node(lg, cw_lg__edge(lg, i)->from)->addr;
		__u64 to = cw_lg__node(lg, cw_lg__edge(lg, i)->to)->addr;
		int f = -1, k = -1;

		for (int j = 0; j < 6; j++) {
			if (level[j] == from)
				f = j;
			if (level[j] == to)
				k = j;
		}
		EXPECT_LT(f, k) TH_LOG("edge 0x%llx -> 0x%llx", (unsigned long long)from,
				       (unsigned long long)to);
		EXPECT_LE(0, f);
	}
}

/* std::mutex under lock_guard in opposite orders: names and frames demangled. */
TEST_LIB(cxx_std_mutex)
{
	const struct cw_finding *c;

	CW_SKIPPED_IN_SETUP();
	trace(_metadata, t, "wl_cxx_abba", NULL);
	ASSERT_EQ(1, t->findings);
	c = the_finding(t);
	expect_cycle(_metadata, t, c,
		     (__u64[]){ cw_field(t->wl.ready, "accounts"), cw_field(t->wl.ready, "audit") },
		     (__u32[]){ cw_field(t->wl.ready, "tid1"), cw_field(t->wl.ready, "tid2") }, 2);
	expect_name(_metadata, t, cw_field(t->wl.ready, "accounts"), "bank::accounts_mutex");
	expect_name(_metadata, t, cw_field(t->wl.ready, "audit"), "bank::audit_mutex");
	for (size_t i = 0; i < 2; i++)
		expect_frame(_metadata, t, acquire_stack(c, i),
			     c->lock_order.links[i].tid == cw_field(t->wl.ready, "tid1") ?
			     "bank::Ledger::transfer(long)" : "bank::Ledger::audit()", 0);
}

struct tee {
	struct cw_engine *eng;
	struct cw_recorder *rec;
};

static int tee_feed(void *ctx, const struct cw_hdr *h)
{
	struct tee *t = ctx;

	return cw_engine__feed(t->eng, h) ?: cw_recorder__write(t->rec, h);
}

static char *text_report(struct cw_engine *eng, const struct cw_report_target *target)
{
	struct cw_symbols_opts so = { .debuginfo_path = target->debuginfo_path,
				      .live_pid = target->alive ? target->pid : 0 };
	struct cw_symbols *sym = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (cw_symbols__new(eng, &so, &sym))
		return NULL;
	f = open_memstream(&buf, &len);
	if (f) {
		cw_report__text(f, eng, sym, target);
		fclose(f);
	}
	cw_symbols__free(sym);
	return buf;
}

/*
 * What a live run reports and what the recording of the same run reports, read back
 * through the replay source in a session as `report FILE` does, are the same text, to
 * the byte.
 */
TEST(record_then_report_equals_live)
{
	const char *why = cw_live_skip_reason();
	const char *args[] = { "-w", NULL };
	struct cw_report_target target = { .verbose = 1 };
	struct cw_source_opts opts = {};
	char file[] = "/tmp/cw-lo." CW_TMP_X, err[256] = "";
	struct cw_engine *replayed;
	struct cw_session *sess;
	struct cw_source *src;
	struct tee tee = {};
	struct cw_drain d;
	struct cw_wl wl;
	char *live, *again;
	int fd;

	if (why)
		SKIP(return, "%s", why);
	fd = mkstemp(file);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_abba", args));
	tee.eng = cw_engine__new();
	ASSERT_NE(NULL, tee.eng);
	ASSERT_EQ(0, cw_recorder__open(file, &(struct cw_rec_meta){ .pid = wl.pid }, &tee.rec));
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, tee_feed, &tee, &sess, err, sizeof(err)))
		TH_LOG("session: %s", err);
	ASSERT_EQ(0, cw_drain__start(&d, sess));
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	ASSERT_EQ(0, cw_session__finish(sess));
	cw_session__free(sess);
	ASSERT_EQ(0, cw_recorder__close(tee.rec, NULL));

	ASSERT_EQ(0, cw_replay__open(file, &src, err, sizeof(err))) TH_LOG("replay: %s", err);
	replayed = cw_engine__new();
	ASSERT_NE(NULL, replayed);
	ASSERT_EQ(0, cw_session__open(&(struct cw_session_opts){}, src, cw_engine__feed, replayed,
				      &sess, err, sizeof(err))) TH_LOG("replay: %s", err);
	ASSERT_EQ(CW_SESSION_ENDED, cw_session__run(sess, 0, NULL)) TH_LOG("%s",
									   cw_session__error(sess));
	ASSERT_EQ(0, cw_session__finish(sess));
	cw_session__free(sess);

	target.pid = wl.pid;
	live = text_report(tee.eng, &target);
	again = text_report(replayed, &target);
	ASSERT_NE(NULL, live);
	ASSERT_NE(NULL, again);
	EXPECT_NE(NULL, strstr(live, "\nFindings: 1\n"));
	EXPECT_NE(NULL, strstr(live, "t2_take_b_then_a+0x"));
	EXPECT_STREQ(live, again);
	free(live);
	free(again);
	cw_engine__free(replayed);
	cw_engine__free(tee.eng);
	EXPECT_EQ(0, cw_wl__stop(&wl));
	unlink(file);
}

TEST_HARNESS_MAIN
