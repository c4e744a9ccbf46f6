// SPDX-License-Identifier: GPL-2.0
/*
 * The contention report on a synthetic ABI v3 stream: text and JSON, exact where it
 * matters. The stream's process maps this test's own modules (so globals have their
 * names and libc's functions theirs: the futex waits are classified by the report's
 * real classifier), plus a stripped "memcached" that exists nowhere.
 *
 *   ping_cond  cond   1 s of futex waits on __g_signals[0] from pthread_cond_wait: 25% of
 *                     the traced 4 s, first, and never a hotspot (waiting for work)
 *   hot_lock   mutex  600 ms of probed acquires (15%): the hotspot; thread "waker" ended
 *                     400 ms of it, from one call path that came under two stack ids
 *   0x7000     mutex  100 ms of futex waits from pthread_mutex_lock called in the stripped
 *                     memcached: named "memcached+0x1bca1", and counted as lock wait
 *                     in its thread's time
 *   0x9000     futex  5 ms from code outside libc: an unnamed futex
 *   mmap_lock  kernel rwsem write contention
 *
 * And the JSON's "cost" from CW_EV_COST records fed on top: its figures worked out by hand
 * (before feed_cost()), null what was not measured, absent without a record.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/futex.h>

#include "kselftest_harness.h"
#include "engine/engine.h"
#include "report/classify.h"
#include "report/report.h"
#include "report/symbols.h"
#include "cw_render.h"
#include "cw_synth.h"

#define PID 4000
#define MS 1000000ULL

pthread_mutex_t hot_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t ping_cond = PTHREAD_COND_INITIALIZER;

#define MEMCACHED_START 0x10000000ULL
enum { S_HOT = 0x11, S_COND, S_STRIP, S_RAW, S_WAKE, S_KLOCK, S_WAKE2 };

FIXTURE(hot)
{
	struct cw_engine *eng;
	struct cw_symbols *sym;
	__u64 ts;
};

static void feed(struct __test_metadata *_metadata, struct cw_engine *eng, const struct cw_hdr *h)
{
	ASSERT_EQ(0, cw_engine__feed(eng, h));
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
	feed(_metadata, eng, &m->hdr);
	free(m);
}

static void feed_stack(struct __test_metadata *_metadata, struct cw_engine *eng, __u64 id,
		       __u16 space, __u64 ip0, __u64 ip1)
{
	struct {
		struct cw_ev_stack s;
		__u64 ips[2];
	} r;

	memset(&r, 0, sizeof(r));
	r.s.hdr = synth_hdr(CW_EV_STACK, sizeof(r), 2, PID, 4001);
	r.s.stack_id = id;
	r.s.space = space;
	r.s.nr = ip1 ? 2 : 1;
	r.ips[0] = ip0;
	r.ips[1] = ip1;
	r.s.hdr.size = sizeof(r.s) + r.s.nr * 8;
	feed(_metadata, eng, &r.s.hdr);
}

/* libc's own function (not a sanitizer's interceptor of it), a little inside it */
static __u64 libc_func(const char *name)
{
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *f = h ? dlsym(h, name) : NULL;

	if (h)
		dlclose(h);
	return f ? (__u64)f + 4 : 0;
}

static void stats(struct __test_metadata *_metadata, FIXTURE_DATA(hot) *self, __u8 what,
		  __u32 tid, __u64 addr, __u64 stack_id, __u64 n, __u64 wait_ns)
{
	struct cw_ev_lock_stats s = synth_stats(what, self->ts++, PID, tid, addr, stack_id, n,
						wait_ns);

	if (what == CW_SITE_ACQUIRE)
		s.ip = 0x20002000;
	/* glibc 2.36's condvar wait (the other futex sites' stacks name no condvar) */
	if (what == CW_SITE_FUTEX)
		s.op = FUTEX_WAIT_BITSET_PRIVATE;
	if (what == CW_SITE_KLOCK) {
		s.flags = CW_SITE_F_MMAP_LOCK;
		s.op = 4;	/* LCB_F_WRITE */
	}
	feed(_metadata, self->eng, &s.hdr);
}

static void thread(struct __test_metadata *_metadata, FIXTURE_DATA(hot) *self, __u32 tid,
		   const char *comm, __u64 oncpu, __u64 runnable, __u64 lock, __u64 futex,
		   __u64 klock, __u64 io, __u64 sleep)
{
	__u64 off[CW_OFFCPU_MAX] = {
		[CW_OFFCPU_PREEMPTED] = runnable, [CW_OFFCPU_LOCK] = lock,
		[CW_OFFCPU_FUTEX] = futex, [CW_OFFCPU_KLOCK] = klock, [CW_OFFCPU_IO] = io,
		[CW_OFFCPU_SLEEP] = sleep,
	};
	struct cw_ev_comm c = synth_comm(self->ts++, PID, tid, comm);
	struct cw_ev_thread_stats t = synth_thread_stats(self->ts++, PID, tid, oncpu, off);

	t.runq_ns_max = 3 * MS;
	feed(_metadata, self->eng, &c.hdr);
	feed(_metadata, self->eng, &t.hdr);
}

FIXTURE_SETUP(hot)
{
	struct cw_module_info *mods;
	__u64 cond_wait = libc_func("pthread_cond_wait");
	__u64 mutex_lock = libc_func("pthread_mutex_lock");
	size_t nr;

	ASSERT_NE(0, cond_wait);
	ASSERT_NE(0, mutex_lock);
	self->eng = cw_engine__new();
	ASSERT_NE(NULL, self->eng);
	self->ts = 10;
	/* this process's modules, as the process PID's */
	ASSERT_EQ(0, cw_modules__read(getpid(), &mods, &nr));
	for (size_t i = 0; i < nr; i++)
		feed_module(_metadata, self->eng, mods[i].start, mods[i].end, mods[i].pgoff,
			    mods[i].path);
	free(mods);
	feed_module(_metadata, self->eng, MEMCACHED_START, MEMCACHED_START + 0x100000, 0,
		    "/nonexistent/sbin/memcached");
	feed_stack(_metadata, self->eng, S_HOT, CW_STACK_USER, 0x20001000, 0x20002000);
	feed_stack(_metadata, self->eng, S_COND, CW_STACK_USER, cond_wait, 0x20003000);
	feed_stack(_metadata, self->eng, S_STRIP, CW_STACK_USER, mutex_lock,
		   MEMCACHED_START + 0x1bca1);
	feed_stack(_metadata, self->eng, S_RAW, CW_STACK_USER, 0x20004000, 0);
	feed_stack(_metadata, self->eng, S_WAKE, CW_STACK_USER, 0x20005000, 0);
	/* the same call path under another id (a frame-pointer walk through garbage) */
	feed_stack(_metadata, self->eng, S_WAKE2, CW_STACK_USER, 0x20005000, 0);
	feed_stack(_metadata, self->eng, S_KLOCK, CW_STACK_KERNEL, 0x10, 0);

	/* 4 threads of 1 s each */
	thread(_metadata, self, 4001, "main", 900 * MS, 0, 0, 5 * MS, 0, 0, 95 * MS);
	thread(_metadata, self, 4002, "worker-1", 400 * MS, 100 * MS, 300 * MS, 100 * MS,
	       50 * MS, 0, 50 * MS);
	thread(_metadata, self, 4003, "worker-2", 0, 0, 0, 1000 * MS, 0, 0, 0);
	thread(_metadata, self, 4004, "waker", 300 * MS, 0, 300 * MS, 0, 0, 400 * MS, 0);

	stats(_metadata, self, CW_SITE_ACQUIRE, 0, (__u64)&hot_lock, S_HOT, 1000, 600000);
	stats(_metadata, self, CW_SITE_FUTEX, 4003, (__u64)&ping_cond + 40, S_COND, 10, 100 * MS);
	stats(_metadata, self, CW_SITE_FUTEX, 4002, 0x7000, S_STRIP, 50, 2 * MS);
	stats(_metadata, self, CW_SITE_FUTEX, 4001, 0x9000, S_RAW, 5, 1 * MS);
	stats(_metadata, self, CW_SITE_WAKE, 4004, (__u64)&hot_lock, S_WAKE, 300, 1 * MS);
	stats(_metadata, self, CW_SITE_WAKE, 4004, (__u64)&hot_lock, S_WAKE2, 100, 1 * MS);
	stats(_metadata, self, CW_SITE_KLOCK, 4002, 0xffff888012345678ULL, S_KLOCK, 20, 1 * MS);
	ASSERT_EQ(0, cw_symbols__new(self->eng, NULL, &self->sym));
}

FIXTURE_TEARDOWN(hot)
{
	cw_symbols__free(self->sym);
	cw_engine__free(self->eng);
}

/* The report of target t, text or JSON. */
static char *report_of(FIXTURE_DATA(hot) *self, int json, struct cw_report_target *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int err;

	if (!m)
		return NULL;
	strcpy(t->comm, "memcached");
	err = json ? cw_report__json(m, self->eng, self->sym, t) :
		     cw_report__text(m, self->eng, self->sym, t);
	fclose(m);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *report(FIXTURE_DATA(hot) *self, int json, unsigned int pct, int no_uprobes)
{
	/* no_uprobes 2: traced through the kernel module, which has no lock probes either */
	struct cw_report_target t = { .pid = PID, .hotspot_pct = pct, .no_uprobes = !!no_uprobes,
				      .backend = no_uprobes == 2 ? "kmod" : NULL };

	return report_of(self, json, &t);
}

/* The line of text that starts with prefix, NULL when none. */
static const char *line(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, n))
			return p;
	return NULL;
}

/* That line alone, in buf; "" when none. */
static const char *line_str(const char *text, const char *prefix, char *buf, size_t len)
{
	const char *l = line(text, prefix);

	snprintf(buf, len, "%.*s", l ? (int)strcspn(l, "\n") : 0, l ? l : "");
	return buf;
}

static int line_has(const char *text, const char *prefix, const char *what)
{
	const char *l = line(text, prefix), *end;

	if (!l)
		return 0;
	end = strchr(l, '\n');
	return (size_t)(strstr(l, what) - l) < (size_t)(end - l);
}

TEST_F(hot, text)
{
	char *text = report(self, 0, 0, 0);
	const char *a, *b, *c;

	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	/* ranked by total wait: the condvar, the hot lock, the stripped server's mutex */
	a = line(text, "ping_cond ");
	b = line(text, "hot_lock ");
	c = line(text, "memcached+0x1bca1 ");
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, c);
	EXPECT_LT(a, b);
	EXPECT_LT(b, c);
	EXPECT_TRUE(line_has(text, "ping_cond ", " cond "));
	EXPECT_TRUE(line_has(text, "ping_cond ", "     1.00 s "));
	EXPECT_TRUE(line_has(text, "ping_cond ", "    25%\n"));
	EXPECT_TRUE(line_has(text, "hot_lock ", " mutex "));
	EXPECT_TRUE(line_has(text, "hot_lock ", "  600.0 ms "));
	EXPECT_TRUE(line_has(text, "hot_lock ", "    15%  HOTSPOT\n"));
	EXPECT_TRUE(line_has(text, "memcached+0x1bca1 ", " mutex   0x0000000000007000 "));
	EXPECT_TRUE(line_has(text, "memcached+0x1bca1 ", "   2.5%\n"));
	/* the word no libc code waited on: a futex known by its address */
	EXPECT_TRUE(line_has(text, "-                            futex   0x0000000000009000 ",
			     " 0.1%\n"));
	/* who made them wait */
	EXPECT_NE(NULL, strstr(text, "\nhot_lock, mutex 0x"));
	/* contention first, then waiting for work, whatever their totals */
	EXPECT_LT(strstr(text, "\nhot_lock, mutex 0x"), strstr(text, "\nping_cond, cond 0x"));
	EXPECT_LT(strstr(text, "\nfutex 0x9000: "), strstr(text, "\nping_cond, cond 0x"));
	EXPECT_NE(NULL, strstr(text, "  made to wait by 1 waker (thread and call path):\n"
				     "  thread 4004 (waker) woke 400 waiters, ending 400.0 ms of "
				     "waiting, from:\n    #0  0x20005000 [?]\n"));
	EXPECT_NE(NULL, strstr(text, ": 1.00 s waited in 10 contended waits (at most 100.0 ms, "
				     "p50 "));
	EXPECT_NE(NULL, strstr(text, "25% of the traced threads' time (waiting for work, not "
				     "contention)\n"));
	/* where the threads' time went */
	EXPECT_NE(NULL, line(text, "worker-1             4000     4002    1.00 s  400.0 ms  40%  "
				   "100.0 ms  10%  400.0 ms  40%      0 ns   0%   50.0 ms   5%      "
				   "0 ns   0%   50.0 ms   5%    3.0 ms\n"));
	EXPECT_NE(NULL, line(text, "worker-2             4000     4003    1.00 s      0 ns   0%      "
				   "0 ns   0%      0 ns   0%    1.00 s 100%"));
	/* kernel locks */
	EXPECT_TRUE(line_has(text, "mmap_lock ", " rwsem_write "));
	EXPECT_TRUE(line_has(text, "mmap_lock ", "        20 "));
	EXPECT_TRUE(line_has(text, "mmap_lock ", "    20.0 ms "));
	/* the finding */
	EXPECT_NE(NULL, strstr(text, "\nFindings: 1\n"));
	EXPECT_NE(NULL, strstr(text, "\nfinding 1: contention_hotspot\nWARNING: contention hotspot: "
				     "mutex hot_lock waited on for 600.0 ms, 15.0% of the traced "
				     "threads' 4.00 s (threshold 10%)\n"));
	EXPECT_EQ(NULL, strstr(text, "Mode: --no-uprobes"));
	free(text);
}

TEST_F(hot, threshold_and_mode)
{
	char *text = report(self, 0, 16, 1);

	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\nFindings: none\n"));
	EXPECT_FALSE(line_has(text, "hot_lock ", "HOTSPOT"));
	EXPECT_NE(NULL, strstr(text, "\nMode: --no-uprobes (futex, scheduler and kernel-lock "
				     "tracing): lock_order_inversion and livelock findings need the "
				     "lock probes and cannot be given\n"));
	free(text);
	text = report(self, 0, 16, 2);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\nMode: the kernel module (futex, scheduler and kernel-lock "
				     "tracing): lock_order_inversion and livelock findings need the "
				     "lock probes and cannot be given\n"));
	free(text);
	text = report(self, 1, 16, 1);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\n  \"mode\": {\"uprobes\": false, \"not_available\": "
				     "[\"lock_order_inversion\", \"livelock\"]},\n"));
	EXPECT_NE(NULL, strstr(text, "\n  \"findings\": [],\n"));
	free(text);
	text = report(self, 0, 15, 0);
	ASSERT_NE(NULL, text);
	/* 15% of the time is at the threshold: a hotspot */
	EXPECT_NE(NULL, strstr(text, "\nFindings: 1\n"));
	free(text);
}

TEST_F(hot, json)
{
	char *text = report(self, 1, 0, 0), hot[256], want[1024];
	const char *p;

	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	snprintf(hot, sizeof(hot), "0x%llx", (unsigned long long)(__u64)&hot_lock);
	EXPECT_NE(NULL, strstr(text, "\n  \"mode\": {\"uprobes\": true, \"not_available\": []},\n"));
	snprintf(want, sizeof(want),
		 "{\"kind\": \"contention_hotspot\", \"severity\": \"warning\", \"locks\": "
		 "[{\"addr\": \"%s\", \"pid\": 4000, \"name\": \"hot_lock\", \"type\": \"mutex\"}]",
		 hot);
	EXPECT_NE(NULL, strstr(text, want));
	EXPECT_NE(NULL, strstr(text, "\"wait_ns_total\": 600000000, \"wait_ns_max\": 600000, "));
	EXPECT_NE(NULL, strstr(text, "\"share\": 0.150000, \"threshold_pct\": 10, "));
	EXPECT_NE(NULL, strstr(text, "\"summary\": \"mutex hot_lock waited on for 600.0 ms, 15.0% "
				     "of the traced threads' 4.00 s (threshold 10%)\"}"));
	/* locks: ranked, typed, named; the condvar is no hotspot */
	p = strstr(text, "\"locks\": [\n    {");
	ASSERT_NE(NULL, p);
	EXPECT_NE(NULL, strstr(p, "\"name\": \"ping_cond\", \"type\": \"cond\", \"views\": "
				  "[\"futex\"], "));
	EXPECT_LT(strstr(p, "\"name\": \"ping_cond\""), strstr(p, "\"name\": \"hot_lock\""));
	EXPECT_LT(strstr(p, "\"name\": \"hot_lock\""), strstr(p, "\"name\": \"memcached+0x1bca1\""));
	EXPECT_NE(NULL, strstr(p, "\"share\": 0.250000, \"hotspot\": false, "));
	EXPECT_NE(NULL, strstr(p, "\"share\": 0.150000, \"hotspot\": true, "));
	EXPECT_NE(NULL, strstr(p, "\"name\": \"memcached+0x1bca1\", \"type\": \"mutex\", "));
	EXPECT_NE(NULL, strstr(p, "\"holders\": [{\"tid\": 4004, \"comm\": \"waker\", \"stack\": "
				  "[{\"addr\": \"0x20005000\", \"func\": null, \"offset\": 0, "
				  "\"module\": null, \"file\": null, \"line\": null}], \"count\": "
				  "400, \"wait_ns_total\": 400000000}]"));
	EXPECT_NE(NULL, strstr(text, "\"kernel_locks\": [\n    {\"addr\": \"0xffff888012345678\", "
				     "\"pid\": 4000, \"name\": \"mmap_lock\", \"type\": \"kernel\", "
				     "\"lock_type\": \"rwsem_write\", "));
	EXPECT_NE(NULL, strstr(text, "{\"tid\": 4002, \"pid\": 4000, \"comm\": \"worker-1\", "
				     "\"policy\": \"SCHED_OTHER\", \"prio\": 120, \"traced_ns\": "
				     "1000000000, \"oncpu_ns\": 400000000, \"offcpu_ns\": 600000000, "
				     "\"runnable_ns\": 100000000, \"lock_wait_ns\": 400000000, "
				     "\"futex_wait_ns\": 0, \"klock_wait_ns\": 50000000, "
				     "\"io_ns\": 0, \"sleep_ns\": 50000000, \"runq_ns_max\": 3000000, "));
	free(text);
}

/*
 * What tracing cost the target, worked out by hand. The newest CW_EV_COST record, from its
 * start (1 s) to when it was read (4 s):
 *   interval_ns     4 s - 1 s                                           = 3000000000
 *   trap_ns         200000 emulated * 600 + 1000 single-stepped * 5500
 *                   + 86250 returns * 400 = 120 ms + 5.5 ms + 34.5 ms   =  160000000
 *   bpf_ns          the probe programs' run time                        =   40000000
 *   tracepoint_ns   the tracepoint programs' run time                   =   70000000
 *   ns              trap_ns + bpf_ns + tracepoint_ns                    =  270000000
 * and the fixture's four threads on CPU: 900 + 400 + 0 + 300 ms = 1600000000 ns, so
 *   share           270 ms of 1.6 s                                     =   0.168750
 *   tracepoint_share  70 ms of 1.6 s                                    =   0.043750
 * An older record comes first: the totals are the newest's, never a difference of two.
 * budget_ppm, when given, is the --max-overhead the source was governed by.
 */
static const __u64 cost_hits[CW_TRAP_MAX] = {
	[CW_TRAP_EMULATED] = 200000, [CW_TRAP_STEPPED] = 1000, [CW_TRAP_RETURN] = 86250,
};
static const __u32 cost_hit_ns[CW_TRAP_MAX] = {
	[CW_TRAP_EMULATED] = 600, [CW_TRAP_STEPPED] = 5500, [CW_TRAP_RETURN] = 400,
};

#define COST_HITS "\"probe_hits\": {\"emulated\": 200000, \"single_stepped\": 1000, " \
		  "\"returns\": 86250}, "

static void feed_cost_budget(struct __test_metadata *_metadata, struct cw_engine *eng,
			     __u32 flags, __u32 budget_ppm)
{
	static const __u64 old_hits[CW_TRAP_MAX] = { 5000, 10, 2000 };
	struct cw_ev_cost old = synth_cost(2000 * MS, 1000 * MS, old_hits, cost_hit_ns, 1 * MS,
					   2 * MS, flags);
	struct cw_ev_cost now = synth_cost(4000 * MS, 1000 * MS, cost_hits, cost_hit_ns, 40 * MS,
					   70 * MS, flags);

	old.budget_ppm = now.budget_ppm = budget_ppm;
	feed(_metadata, eng, &old.hdr);
	feed(_metadata, eng, &now.hdr);
}

static void feed_cost(struct __test_metadata *_metadata, struct cw_engine *eng, __u32 flags)
{
	feed_cost_budget(_metadata, eng, flags, 0);
}

TEST_F(hot, json_cost)
{
	char *text;

	/* without a CW_EV_COST record nothing was measured: no "cost" at all */
	text = report(self, 1, 0, 0);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(NULL, strstr(text, "\"cost\""));
	EXPECT_NE(NULL, strstr(text, "},\n  \"findings\": ["));
	free(text);

	feed_cost(_metadata, self->eng, CW_COST_CALIBRATED | CW_COST_BPF_STATS);
	text = report(self, 1, 0, 0);
	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "},\n  \"cost\": {\"interval_ns\": 3000000000, " COST_HITS
				     "\"trap_ns\": 160000000, \"bpf_ns\": 40000000, "
				     "\"ns\": 270000000, \"target_oncpu_ns\": 1600000000, "
				     "\"tracepoint_ns\": 70000000, \"share\": 0.168750, "
				     "\"tracepoint_share\": 0.043750, \"budget\": null},\n"
				     "  \"findings\": ["));
	free(text);
}

/*
 * Governed by a budget of 3%, which the tracepoint programs alone (4.375%) are over: the
 * JSON gives the budget, and the text says that sampling the lock probes cannot meet it.
 * Under a budget of 5% the text gives the budget alone.
 */
TEST_F(hot, cost_budget)
{
	char buf[512], *text;

	feed_cost_budget(_metadata, self->eng, CW_COST_CALIBRATED | CW_COST_BPF_STATS, 30000);
	text = report(self, 1, 0, 0);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\"share\": 0.168750, \"tracepoint_share\": 0.043750, "
				     "\"budget\": 0.030000},\n")) TH_LOG("%s", text);
	free(text);
	text = report(self, 0, 0, 0);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("Tracing cost: 16.9% of the target's CPU time (tracepoint programs 4.4%, "
		     "lock probes 12.5%), budget 3%: the futex and scheduler tracing alone costs "
		     "more, which no sampling of the lock probes can save",
		     line_str(text, "Tracing cost: ", buf, sizeof(buf))) TH_LOG("%s", text);
	free(text);

	feed_cost_budget(_metadata, self->eng, CW_COST_CALIBRATED | CW_COST_BPF_STATS, 50000);
	text = report(self, 0, 0, 0);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("Tracing cost: 16.9% of the target's CPU time (tracepoint programs 4.4%, "
		     "lock probes 12.5%), budget 5%", line_str(text, "Tracing cost: ", buf, sizeof(buf))) TH_LOG("%s", text);
	free(text);
}

/*
 * The governor shed the scheduler tracepoints for 3 of 4 ticks (and had the lock probes
 * off for all of them): the coverages are 0 and 25%, the text says what the scheduler's
 * share means, and the cost is a share of the target's CPU time as the kernel accounted
 * it (5.4 s: 270 ms is 5%), not of the threads' times, which leave out the time shed.
 */
TEST_F(hot, sched_shed)
{
	struct cw_report_target t = { .pid = PID };
	char buf[512], *text;
	struct cw_ev_cost c;

	for (__u64 i = 0; i < 4; i++) {
		struct cw_ev_tick k = synth_tick((1000 + 100 * i) * MS, i);

		k.hdr.flags = CW_F_NO_UPROBES | (i ? CW_F_NO_SCHED : 0);
		feed(_metadata, self->eng, &k.hdr);
	}
	feed_cost_budget(_metadata, self->eng, CW_COST_CALIBRATED | CW_COST_BPF_STATS, 50000);
	cw_report__set_coverage(&t, self->eng, 0);
	EXPECT_TRUE(t.governed);	/* said by the ticks: all without lock calls, yet shed */
	EXPECT_EQ(0, t.coverage_permille);
	EXPECT_EQ(250, t.sched_coverage_permille);
	text = report_of(self, 0, &t);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("Scheduler: traced 25.0% of the time (the futex and scheduler tracing alone "
		     "cost more than --max-overhead: the scheduler tracepoints were shed too): "
		     "thread times, wakeups and priority_inversion findings come from that share",
		     line_str(text, "Scheduler: ", buf, sizeof(buf))) TH_LOG("%s", text);
	/* an older source's cost record: the threads' times, as before */
	EXPECT_STREQ("Tracing cost: 16.9% of the target's CPU time (tracepoint programs 4.4%, "
		     "lock probes 12.5%), budget 5%", line_str(text, "Tracing cost: ", buf,
							     sizeof(buf)));
	free(text);

	/* a newer record, with the target's CPU time: the same totals, 5.4 s of it */
	c = synth_cost(5000 * MS, 1000 * MS, cost_hits, cost_hit_ns, 40 * MS, 70 * MS,
		       CW_COST_CALIBRATED | CW_COST_BPF_STATS);
	c.budget_ppm = 50000;
	c.target_cpu_ns = 5400 * MS;
	feed(_metadata, self->eng, &c.hdr);
	text = report_of(self, 0, &t);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("Tracing cost: 5.0% of the target's CPU time (tracepoint programs 1.3%, "
		     "lock probes 3.7%), budget 5%", line_str(text, "Tracing cost: ", buf,
							     sizeof(buf))) TH_LOG("%s", text);
	free(text);
	text = report_of(self, 1, &t);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\"coverage\": 0.000, \"sched_coverage\": 0.250}"))
		TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\"target_oncpu_ns\": 5400000000, ")) TH_LOG("%s", text);
	free(text);
}

/* Not measured: no line. Calibrated without the BPF statistics: the share alone. */
TEST_F(hot, text_cost)
{
	char buf[512], *text = report(self, 0, 0, 0);

	ASSERT_NE(NULL, text);
	EXPECT_EQ(NULL, line(text, "Tracing cost: "));
	free(text);
	feed_cost(_metadata, self->eng, CW_COST_CALIBRATED);
	text = report(self, 0, 0, 0);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("Tracing cost: 10.0% of the target's CPU time",
		     line_str(text, "Tracing cost: ", buf, sizeof(buf)))
		TH_LOG("%s", text);
	free(text);
}

/*
 * What was not measured is null, never 0: the per-hit costs not calibrated (no trap_ns,
 * ns or share), the kernel's BPF statistics off (no bpf_ns or tracepoint_ns). Calibrated
 * alone, the cost is the traps': 160 ms of the 1.6 s on CPU, a share of 0.100000.
 */
TEST_F(hot, json_cost_not_measured)
{
	char *text;

	feed_cost(_metadata, self->eng, 0);
	text = report(self, 1, 0, 0);
	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\n  \"cost\": {\"interval_ns\": 3000000000, " COST_HITS
				     "\"trap_ns\": null, \"bpf_ns\": null, \"ns\": null, "
				     "\"target_oncpu_ns\": 1600000000, \"tracepoint_ns\": null, "
				     "\"share\": null, \"tracepoint_share\": null, \"budget\": null},\n"));
	free(text);

	feed_cost(_metadata, self->eng, CW_COST_BPF_STATS);
	text = report(self, 1, 0, 0);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\n  \"cost\": {\"interval_ns\": 3000000000, " COST_HITS
				     "\"trap_ns\": null, \"bpf_ns\": 40000000, \"ns\": null, "
				     "\"target_oncpu_ns\": 1600000000, "
				     "\"tracepoint_ns\": 70000000, \"share\": null, "
				     "\"tracepoint_share\": 0.043750, \"budget\": null},\n"));
	free(text);

	feed_cost(_metadata, self->eng, CW_COST_CALIBRATED);
	text = report(self, 1, 0, 0);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\n  \"cost\": {\"interval_ns\": 3000000000, " COST_HITS
				     "\"trap_ns\": 160000000, \"bpf_ns\": null, "
				     "\"ns\": 160000000, \"target_oncpu_ns\": 1600000000, "
				     "\"tracepoint_ns\": null, \"share\": 0.100000, "
				     "\"tracepoint_share\": null, \"budget\": null},\n"));
	free(text);
}

/* No thread's time measured (no CW_EV_THREAD_STATS): no on-CPU time to take a share of. */
TEST(json_cost_no_thread_time)
{
	struct cw_engine *eng = cw_engine__new();
	struct cw_ev_comm c = synth_comm(10, PID, 4001, "main");
	struct cw_ev_lock l = synth_lock(CW_EV_LOCK_ACQUIRED, 20, PID, 4001, 0x5000, 0, 0);
	char *text;

	ASSERT_NE(NULL, eng);
	feed(_metadata, eng, &c.hdr);
	feed(_metadata, eng, &l.hdr);
	feed_cost(_metadata, eng, CW_COST_CALIBRATED | CW_COST_BPF_STATS);
	text = cw_render(eng, PID, cw_report__json);
	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\n  \"cost\": {\"interval_ns\": 3000000000, " COST_HITS
				     "\"trap_ns\": 160000000, \"bpf_ns\": 40000000, "
				     "\"ns\": 270000000, \"target_oncpu_ns\": null, "
				     "\"tracepoint_ns\": 70000000, \"share\": null, "
				     "\"tracepoint_share\": null, \"budget\": null},\n"));
	free(text);
	cw_engine__free(eng);
}

/* The report's classifier on many call paths: each resolved once, remembered, right. */
TEST_F(hot, classifier_many_paths)
{
	__u64 cond_wait = libc_func("pthread_cond_wait");
	struct cw_classifier *cl;
	struct cw_futex_class k;

	for (__u64 i = 0; i < 300; i++)
		feed_stack(_metadata, self->eng, 0x1000 + i, CW_STACK_USER, cond_wait,
			   0x20000000 + i * 16);
	ASSERT_EQ(0, cw_classifier__new(self->sym, &cl));
	for (int pass = 0; pass < 2; pass++) {
		for (__u64 i = 0; i < 300; i++) {
			memset(&k, 0, sizeof(k));
			ASSERT_EQ(0, cw_classifier__classify(cl, PID, 0x7000 + 44 + i * 48, 0x1000 + i,
							     FUTEX_WAIT_BITSET_PRIVATE, &k));
			EXPECT_EQ(CW_LOCK_COND, k.kind);
			EXPECT_EQ(0x7000 + i * 48, k.object);
		}
	}
	/* the same call path, remembered, taking the condvar's mutex back (FUTEX_WAIT) */
	ASSERT_EQ(0, cw_classifier__classify(cl, PID, 0x7100, 0x1000, FUTEX_WAIT_PRIVATE, &k));
	EXPECT_EQ(CW_LOCK_MUTEX, k.kind);
	EXPECT_EQ(0x7100, k.object);
	/* the op not known: the frame alone */
	ASSERT_EQ(0, cw_classifier__classify(cl, PID, 0x7128, 0x1000, CW_FUTEX_OP_UNKNOWN, &k));
	EXPECT_EQ(CW_LOCK_COND, k.kind);
	EXPECT_EQ(0x7100, k.object);
	/* a stack not received, and none: not known, never guessed */
	EXPECT_EQ(-ENOENT, cw_classifier__classify(cl, PID, 0x7028, 0x99999, FUTEX_WAIT_BITSET_PRIVATE, &k));
	EXPECT_EQ(-ENOENT, cw_classifier__classify(cl, PID, 0x7028, 0, FUTEX_WAIT_BITSET_PRIVATE, &k));
	/* the program's own futex (no libc frame first) */
	EXPECT_EQ(-ENOENT, cw_classifier__classify(cl, PID, 0x9000, S_RAW, FUTEX_WAIT_BITSET_PRIVATE, &k));
	cw_classifier__free(cl);
}

static char *snapshot(FIXTURE_DATA(hot) *self, struct cw_report_snapshot *snap)
{
	struct cw_report_target t = { .pid = PID };
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int err;

	if (!m)
		return NULL;
	err = cw_report__snapshot(m, self->eng, &t, snap);
	fclose(m);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Batch snapshots: the futex view's objects too, shares of the interval's traced time. */
TEST_F(hot, snapshot)
{
	struct cw_report_snapshot *snap = cw_report__snapshot_new();
	char *text;

	ASSERT_NE(NULL, snap);
	text = snapshot(self, snap);
	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	EXPECT_TRUE(line_has(text, "hot_lock ", "   600.0 ms       0 ns    15%  HOTSPOT\n"));
	EXPECT_TRUE(line_has(text, "mmap_lock ", "  kernel         20         20    20.0 ms"));
	EXPECT_TRUE(line_has(text, "ping_cond ", "    cond          -         10     1.00 s          -"
						 "    25%\n"));
	EXPECT_TRUE(line_has(text, "memcached+0x1bca1 ", "   mutex          -         50   100.0 ms"));
	EXPECT_NE(NULL, line(text, "worker-1             4000     4002          -   400.0 ms       0 ns"
				   "   400.0 ms   100.0 ms    50.0 ms    50.0 ms\n"));
	free(text);

	/* the next interval: worker-1 traced 1 s more, 20 ms of it on the stripped mutex */
	{
		__u64 off[CW_OFFCPU_MAX] = { [CW_OFFCPU_PREEMPTED] = 100 * MS,
					     [CW_OFFCPU_LOCK] = 300 * MS,
					     [CW_OFFCPU_FUTEX] = 120 * MS,
					     [CW_OFFCPU_KLOCK] = 50 * MS,
					     [CW_OFFCPU_SLEEP] = 1030 * MS };
		struct cw_ev_thread_stats t = synth_thread_stats(self->ts++, PID, 4002, 400 * MS,
								 off);

		feed(_metadata, self->eng, &t.hdr);
		stats(_metadata, self, CW_SITE_FUTEX, 4002, 0x7000, S_STRIP, 10, 2 * MS);
	}
	text = snapshot(self, snap);
	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	EXPECT_TRUE(line_has(text, "memcached+0x1bca1 ", "   mutex          -         10    20.0 ms"
							 "          -   2.0%\n"));
	EXPECT_EQ(NULL, line(text, "hot_lock "));
	EXPECT_EQ(NULL, line(text, "ping_cond "));
	EXPECT_NE(NULL, line(text, "worker-1             4000     4002          -    20.0 ms       0 ns"
				   "       0 ns       0 ns       0 ns   980.0 ms\n"));
	free(text);
	cw_report__snapshot_free(snap);
}

TEST_HARNESS_MAIN
