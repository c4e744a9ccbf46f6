// SPDX-License-Identifier: GPL-2.0
/*
 * Stacks that are right on real binaries. wl_stack takes a mutex in leaf() called from
 * middle() from outer() from the thread's start function, then waits on a condition
 * variable through cond_leaf/cond_middle/cond_outer. Built the way distributions build
 * (-O2, no frame pointers), with frame pointers, and stripped with a separate debug
 * file, its stacks must come out in that exact order, with file:line for every frame of
 * the workload, and end where the thread started.
 */
#include <errno.h>
#include <pthread.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "report/symbols.h"
#include "source/session.h"

/*
 * Start tracing the workload wl started; *eng receives the records. The records are
 * drained in a thread of their own until cw_drain__stop(d).
 */
static int trace(struct __test_metadata *_metadata, const struct cw_wl *wl, struct cw_engine **eng,
		 struct cw_session **sess, struct cw_drain *d)
{
	struct cw_source_opts opts = { .pid = wl->pid };
	char err[256] = "";
	int ret;

	*eng = cw_engine__new();
	if (!*eng)
		return -ENOMEM;
	ret = cw_trace__open(&opts, cw_engine__feed, *eng, sess, err, sizeof(err));
	if (ret) {
		TH_LOG("%s", err);
		return ret;
	}
	return d ? cw_drain__start(d, *sess) : 0;
}

/* Index of the first frame at or after from named exactly name, or -1. */
static int find_frame(const struct cw_ustack *s, size_t from, const char *name)
{
	for (size_t i = from; i < s->nr; i++)
		if (s->frames[i].func && !strcmp(s->frames[i].func, name))
			return i;
	return -1;
}

static void dump(struct __test_metadata *_metadata, const char *what, const struct cw_ustack *s)
{
	char line[512];

	TH_LOG("%s: %zu frames, end %d %s", what, s->nr, s->end, s->why);
	for (size_t i = 0; i < s->nr; i++) {
		cw_frame__format(&s->frames[i], line, sizeof(line));
		TH_LOG("  #%zu %s", i, line);
	}
}

/*
 * The frames named in want[] follow each other in s, exactly, from the first one on.
 * lines[] are their expected source lines in file, 0 where not checked. Below the last
 * one there are only frames of the runtime's thread start (libc's start_thread and
 * clone3, libstdc++'s thread trampoline; named when their debug information is
 * installed, addresses otherwise), and the stack is complete: it reached the thread's
 * beginning.
 */
static void expect_sequence(struct __test_metadata *_metadata, const struct cw_ustack *s,
			    const char *const want[], const int lines[], const char *file)
{
	int at = find_frame(s, 0, want[0]);

	ASSERT_LE(0, at) {
		dump(_metadata, "stack", s);
	}
	for (int k = 1; want[k]; k++) {
		const struct cw_frame *f;

		at++;
		ASSERT_GT((int)s->nr, at) {
			dump(_metadata, "stack", s);
		}
		f = &s->frames[at];
		ASSERT_NE(NULL, f->func) {
			dump(_metadata, "stack", s);
		}
		ASSERT_STREQ(want[k], f->func) {
			TH_LOG("frame %d", at);
			dump(_metadata, "stack", s);
		}
		if (lines[k]) {
			ASSERT_NE(NULL, f->file) {
				dump(_metadata, "stack", s);
			}
			ASSERT_NE(NULL, strstr(f->file, file)) {
				dump(_metadata, "stack", s);
			}
			ASSERT_EQ(lines[k], f->line) {
				TH_LOG("%s at line %d, want %d", f->func, f->line, lines[k]);
				dump(_metadata, "stack", s);
			}
		}
	}
	ASSERT_LT(at + 1, (int)s->nr) {
		dump(_metadata, "stack", s);
	}
	for (size_t i = at + 1; i < s->nr; i++) {
		const char *m = s->frames[i].module;

		ASSERT_TRUE(m && (strstr(m, "/libc.so") || strstr(m, "/libstdc++.so"))) {
			TH_LOG("frame %zu is not the runtime's thread start", i);
			dump(_metadata, "stack", s);
		}
	}
	if (find_frame(s, 0, "clone3") >= 0) /* libc's symbols are there: name the start */
		ASSERT_LE(0, find_frame(s, at, "start_thread"));
	ASSERT_EQ(CW_STACK_END_COMPLETE, s->end) {
		dump(_metadata, "stack", s);
	}
}

FIXTURE(stacks)
{
	struct cw_wl wl;
	struct cw_engine *eng;
	struct cw_session *sess;
	struct cw_symbols *sym;
	int pid, tid;
	unsigned long long lock;
};

FIXTURE_VARIANT(stacks)
{
	const char *workload;
	int frame_pointers;
};

FIXTURE_VARIANT_ADD(stacks, no_frame_pointers)
{
	.workload = "wl_stack",
};

FIXTURE_VARIANT_ADD(stacks, frame_pointers)
{
	.workload = "wl_stack_fp",
	.frame_pointers = 1,
};

FIXTURE_VARIANT_ADD(stacks, stripped_with_debug_file)
{
	.workload = "wl_stack_stripped",
};

FIXTURE_SETUP(stacks)
{
	struct cw_drain d;
	char line[64];

	memset(self, 0, sizeof(*self));
	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
	ASSERT_EQ(0, cw_wl__start(&self->wl, variant->workload, NULL));
	self->pid = cw_field(self->wl.ready, "pid");
	self->tid = cw_field(self->wl.ready, "tid");
	self->lock = cw_field(self->wl.ready, "lock");
	ASSERT_EQ(0, trace(_metadata, &self->wl, &self->eng, &self->sess, &d));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "blocked", line, sizeof(line)));
	/* the worker printed "blocked" just before waiting: wait until it really waits */
	ASSERT_EQ(0, cw_wait_futex_blocked(self->pid, self->tid));
	ASSERT_EQ(0, cw_wl__send(&self->wl, "signal"));
	ASSERT_EQ(0, cw_wl__expect(&self->wl, "done", self->wl.done, sizeof(self->wl.done)));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	ASSERT_EQ(0, cw_session__finish(self->sess));
	ASSERT_EQ(0, cw_engine__counts(self->eng)->lost_total);
	ASSERT_EQ(0, cw_symbols__new(self->eng, NULL, &self->sym));
}

FIXTURE_TEARDOWN(stacks)
{
	cw_symbols__free(self->sym);
	cw_session__free(self->sess);
	cw_engine__free(self->eng);
	if (self->wl.pid > 0)
		cw_wl__stop(&self->wl);
}

/* The stack id of the (only) call path that took the lock. */
static const struct cw_stack *lock_stack(struct __test_metadata *_metadata,
					 FIXTURE_DATA(stacks) *self)
{
	const struct cw_lock *l = cw_engine__find_lock(self->eng, self->pid, self->lock);

	if (!l || l->nr_sites != 1 || !l->sites[0].stack_id) {
		TH_LOG("stack_lock: %s, %zu call paths", l ? "seen" : "not seen", l ? l->nr_sites : 0);
		return NULL;
	}
	return cw_engine__find_stack(self->eng, self->pid, CW_STACK_USER, l->sites[0].stack_id);
}

TEST_F(stacks, lock_in_leaf_middle_outer)
{
	const char *const want[] = { "pthread_mutex_lock", "leaf", "middle", "outer", "worker_main",
				     NULL };
	int lines[] = { 0, cw_field(self->wl.done, "leaf"), cw_field(self->wl.done, "middle"),
			cw_field(self->wl.done, "outer"), cw_field(self->wl.done, "main") };
	const struct cw_stack *st;
	struct cw_ustack s;

	CW_SKIPPED_IN_SETUP();
	st = lock_stack(_metadata, self);
	ASSERT_NE(NULL, st);
	ASSERT_TRUE(st->has_raw);
	ASSERT_EQ(self->tid, st->tid);
	/* from the stream alone: the process is gone before its stack is resolved */
	ASSERT_EQ(0, cw_wl__stop(&self->wl));
	ASSERT_EQ(0, cw_symbols__resolve(self->sym, st, &s));
	expect_sequence(_metadata, &s, want, lines, "wl_stack.c");
	cw_ustack__fini(&s);
}

/*
 * The cheap stack every event carries: [sp] names the immediate caller even without
 * frame pointers; with them, the walk reaches the thread's start function.
 */
TEST_F(stacks, cheap_stack_names_the_caller)
{
	const struct cw_stack *st;
	struct cw_stack ips_only;
	struct cw_ustack s;
	const char *const fp_want[] = { "pthread_mutex_lock", "leaf", "middle", "outer",
					"worker_main" };

	CW_SKIPPED_IN_SETUP();
	st = lock_stack(_metadata, self);
	ASSERT_NE(NULL, st);
	ASSERT_LE(2, st->nr);
	ips_only = *st;
	ips_only.has_raw = 0; /* resolve from the frames alone */
	ASSERT_EQ(0, cw_symbols__resolve(self->sym, &ips_only, &s));
	if (!variant->frame_pointers) {
		/* no frame pointers: the probe's pc and the return address at [sp] */
		ASSERT_EQ(2, s.nr) {
			dump(_metadata, "cheap", &s);
		}
		ASSERT_STREQ("pthread_mutex_lock", s.frames[0].func) {
			dump(_metadata, "cheap", &s);
		}
		ASSERT_STREQ("leaf", s.frames[1].func) {
			dump(_metadata, "cheap", &s);
		}
	} else {
		ASSERT_LE(5, s.nr) {
			dump(_metadata, "cheap", &s);
		}
		for (int i = 0; i < 5; i++) {
			ASSERT_STREQ(fp_want[i], s.frames[i].func) {
				dump(_metadata, "cheap", &s);
			}
		}
	}
	cw_ustack__fini(&s);
}

/* The futex wait inside pthread_cond_wait: glibc's own frames, then the workload's. */
TEST_F(stacks, futex_wait_in_cond_wait)
{
	const char *const want[] = { "pthread_cond_wait", "cond_leaf", "cond_middle", "cond_outer",
				     "worker_main", NULL };
	int lines[] = { 0, cw_field(self->wl.done, "cond_leaf"),
			cw_field(self->wl.done, "cond_middle"), cw_field(self->wl.done, "cond_outer"),
			cw_field(self->wl.done, "cond_main") };
	int found = 0;

	CW_SKIPPED_IN_SETUP();
	for (size_t i = 0; i < cw_engine__nr_stacks(self->eng) && !found; i++) {
		const struct cw_stack *st = cw_engine__stack(self->eng, i);
		struct cw_ustack s;

		if (st->pid != self->pid || st->tid != self->tid || !st->has_raw)
			continue;
		ASSERT_EQ(0, cw_symbols__resolve(self->sym, st, &s));
		/*
		 * The futex wait is inside pthread_cond_wait: glibc's futex frames come first.
		 * (The stack of the probe on pthread_cond_wait itself starts with it.)
		 */
		if (find_frame(&s, 0, "pthread_cond_wait") > 0) {
			expect_sequence(_metadata, &s, want, lines, "wl_stack.c");
			found = 1;
		}
		cw_ustack__fini(&s);
	}
	ASSERT_TRUE(found) TH_LOG("no futex wait stack of the worker runs through pthread_cond_wait");
}

/* C++: std::mutex through std::lock_guard, inlined, names demangled. */
TEST(cxx_names_and_inlined_frames)
{
	/* libstdc++'s gthread wrapper, std::mutex::lock and lock_guard are inlined into deposit */
	const char *const want[] = { "pthread_mutex_lock", "__gthread_mutex_lock",
				     "std::mutex::lock()",
				     "std::lock_guard<std::mutex>::lock_guard(std::mutex&)",
				     "bank::Account::deposit(int)",
				     "bank::Teller::serve(bank::Account&)", "worker_main()", NULL };
	struct cw_symbols *sym = NULL;
	struct cw_session *sess = NULL;
	struct cw_engine *eng = NULL;
	const struct cw_stack *st;
	const struct cw_lock *l;
	struct cw_ustack s;
	struct cw_drain d;
	struct cw_wl wl;
	int lines[8] = {};

	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_stack_cxx", NULL));
	ASSERT_EQ(0, trace(_metadata, &wl, &eng, &sess, &d));
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	ASSERT_EQ(0, cw_session__finish(sess));

	l = cw_engine__find_lock(eng, wl.pid, cw_field(wl.ready, "lock"));
	ASSERT_NE(NULL, l);
	ASSERT_EQ(1, l->nr_sites);
	st = cw_engine__find_stack(eng, wl.pid, CW_STACK_USER, l->sites[0].stack_id);
	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, cw_symbols__new(eng, NULL, &sym));
	ASSERT_EQ(0, cw_symbols__resolve(sym, st, &s));
	lines[4] = cw_field(wl.done, "deposit");
	lines[5] = cw_field(wl.done, "serve");
	lines[6] = cw_field(wl.done, "main");
	expect_sequence(_metadata, &s, want, lines, "wl_stack_cxx.cc");
	for (int k = 1; k <= 3; k++)
		ASSERT_TRUE(s.frames[find_frame(&s, 0, want[k])].inlined);
	ASSERT_FALSE(s.frames[find_frame(&s, 0, "bank::Account::deposit(int)")].inlined);
	cw_ustack__fini(&s);
	cw_symbols__free(sym);
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

/*
 * Code mapped after attach (dlopen): its stacks name addresses the first module map
 * does not cover, so the source reads the maps again and sends the new module; the
 * plugin's frames resolve like any other.
 */
TEST(module_map_refreshed_after_dlopen)
{
	const char *const want[] = { "pthread_mutex_lock", "plugin_work", "main", NULL };
	struct cw_symbols *sym = NULL;
	struct cw_session *sess = NULL;
	struct cw_engine *eng = NULL;
	const struct cw_stack *st;
	const struct cw_lock *l;
	struct cw_ustack s;
	struct cw_wl wl;
	int plugin = 0, at, lines[4] = {};

	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_dlopen", NULL));
	ASSERT_EQ(0, trace(_metadata, &wl, &eng, &sess, NULL));
	/* the first module map, before the plugin exists */
	ASSERT_EQ(CW_SESSION_DEADLINE, cw_session__run(sess, cw_now_ns() + 1000000ULL, NULL));
	for (size_t i = 0; i < cw_engine__nr_modules(eng); i++)
		ASSERT_EQ(NULL, strstr(cw_engine__module(eng, i)->path, "libwl_plugin.so"));
	ASSERT_EQ(0, cw_wl__go(&wl));
	ASSERT_EQ(0, cw_session__finish(sess));

	for (size_t i = 0; i < cw_engine__nr_modules(eng); i++)
		if (strstr(cw_engine__module(eng, i)->path, "libwl_plugin.so"))
			plugin = 1;
	ASSERT_TRUE(plugin) TH_LOG("the plugin's mapping was never sent");
	l = cw_engine__find_lock(eng, wl.pid, cw_field(wl.done, "lock"));
	ASSERT_NE(NULL, l);
	ASSERT_EQ(1, l->nr_sites);
	st = cw_engine__find_stack(eng, wl.pid, CW_STACK_USER, l->sites[0].stack_id);
	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, cw_symbols__new(eng, NULL, &sym));
	ASSERT_EQ(0, cw_symbols__resolve(sym, st, &s));
	at = find_frame(&s, 0, "plugin_work");
	ASSERT_LE(0, at) {
		dump(_metadata, "plugin", &s);
	}
	ASSERT_NE(NULL, strstr(s.frames[at].module, "libwl_plugin.so"));
	ASSERT_NE(NULL, s.frames[at].file);
	ASSERT_NE(NULL, strstr(s.frames[at].file, "wl_plugin.c"));
	ASSERT_EQ(cw_field(wl.done, "line"), s.frames[at].line);
	lines[2] = cw_field(wl.done, "call");
	/* main's caller is libc's start code: the same runtime frames as a thread's start */
	at = find_frame(&s, 0, want[0]);
	ASSERT_LE(0, at);
	ASSERT_STREQ(want[1], s.frames[at + 1].func);
	ASSERT_STREQ(want[2], s.frames[at + 2].func) {
		dump(_metadata, "plugin", &s);
	}
	ASSERT_EQ(lines[2], s.frames[at + 2].line);
	ASSERT_EQ(CW_STACK_END_COMPLETE, s.end) {
		dump(_metadata, "plugin", &s);
	}
	cw_ustack__fini(&s);
	cw_symbols__free(sym);
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

/* The frame of the system call or fault that took the mmap_lock, or -1. */
static int mmap_path_frame(const struct cw_ustack *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		const char *f = s->frames[i].func;

		if (f && (strstr(f, "sys_mmap") || strstr(f, "sys_munmap") ||
			  strstr(f, "exc_page_fault")))
			return i;
	}
	return -1;
}

/*
 * Kernel lock contention of the traced threads comes with kernel stacks: wl_klock's
 * threads map and unmap memory until they contend for the mmap_lock. Its stack names
 * the kernel's functions, starts below the tracing code, and reaches the system call
 * (or page fault) that took the lock. Other kernel locks may be contended first (a
 * futex hash bucket): wait, by the records, for one on the mmap path.
 */
TEST(kernel_stack_of_kernel_lock_contention)
{
	size_t seen = 0, kernel_stacks = 0;
	struct cw_symbols *sym = NULL;
	struct cw_session *sess = NULL;
	struct cw_engine *eng = NULL;
	struct cw_ustack s = {};
	struct cw_wl wl;
	int found = 0;

	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_klock", NULL));
	ASSERT_EQ(0, trace(_metadata, &wl, &eng, &sess, NULL));
	ASSERT_EQ(0, cw_symbols__new(eng, NULL, &sym));
	ASSERT_EQ(0, cw_wl__go(&wl));
	for (int tries = 0; !found && tries < 600; tries++) {
		ASSERT_EQ(CW_SESSION_DEADLINE, cw_session__run(sess, cw_now_ns() + 50000000ULL, NULL));
		for (; seen < cw_engine__nr_stacks(eng) && !found; seen++) {
			const struct cw_stack *st = cw_engine__stack(eng, seen);

			if (st->pid != (__u32)wl.pid || st->space != CW_STACK_KERNEL)
				continue;
			kernel_stacks++;
			cw_ustack__fini(&s);
			ASSERT_EQ(0, cw_symbols__resolve(sym, st, &s));
			found = mmap_path_frame(&s) >= 0;
		}
	}
	ASSERT_TRUE(found) TH_LOG("%zu kernel stacks in 30 s, none on the mmap path", kernel_stacks);
	/* counted in the kernel: figures, not a record per contention (test_bpf_futex) */
	ASSERT_LT(0, cw_engine__counts(eng)->by_type[CW_EV_LOCK_STATS]);
	ASSERT_EQ(0, cw_engine__counts(eng)->by_type[CW_EV_KLOCK_BEGIN]);
	for (size_t i = 0; i < s.nr; i++) {
		ASSERT_NE(NULL, s.frames[i].func) {
			dump(_metadata, "kernel", &s);
		}
		/* the tracing code's own frames were left out */
		ASSERT_NE(0, strncmp(s.frames[i].func, "bpf_", 4)) {
			dump(_metadata, "kernel", &s);
		}
	}
	/* the lock's slow path comes before the system call that took it */
	ASSERT_LT(0, mmap_path_frame(&s)) {
		dump(_metadata, "kernel", &s);
	}
	cw_ustack__fini(&s);
	cw_symbols__free(sym);
	cw_session__finish(sess);
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
