// SPDX-License-Identifier: GPL-2.0
/*
 * The module map of code a traced process maps after attach. wl_dlopen loads a plugin
 * after "go", takes the plugin's mutex in plugin_work(), and with "close" unloads the
 * plugin again before it says "done": nothing reads the ring buffer meanwhile, so by the
 * time the source reads the plugin's stack the plugin is no longer in /proc/PID/maps.
 * What names it must have been kept when it was mapped.
 */
#include <errno.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "report/symbols.h"
#include "source/session.h"

static int find_frame(const struct cw_ustack *s, const char *name)
{
	for (size_t i = 0; i < s->nr; i++)
		if (s->frames[i].func && !strcmp(s->frames[i].func, name))
			return i;
	return -1;
}

static void dump(struct __test_metadata *_metadata, const struct cw_ustack *s)
{
	char line[512];

	TH_LOG("%zu frames, end %d %s", s->nr, s->end, s->why);
	for (size_t i = 0; i < s->nr; i++) {
		cw_frame__format(&s->frames[i], line, sizeof(line));
		TH_LOG("  #%zu %s", i, line);
	}
}

TEST(plugin_unloaded_before_its_stack_is_read)
{
	const char *args[] = { "close", NULL };
	struct cw_source_opts opts = { 0 };
	struct cw_symbols *sym = NULL;
	struct cw_session *sess = NULL;
	struct cw_engine *eng = NULL;
	const struct cw_stack *st;
	const struct cw_lock *l;
	struct cw_ustack s = { 0 };
	char err[256] = "";
	struct cw_wl wl;
	int plugin = 0, at;

	if (cw_live_skip_reason())
		SKIP(return, "%s", cw_live_skip_reason());
	ASSERT_EQ(0, cw_wl__start(&wl, "wl_dlopen", args));
	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = wl.pid;
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	/* load, lock, unload: all before the source reads anything */
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
	at = find_frame(&s, "plugin_work");
	ASSERT_LE(0, at) {
		dump(_metadata, &s);
	}
	ASSERT_NE(NULL, strstr(s.frames[at].module, "libwl_plugin.so"));
	ASSERT_NE(NULL, s.frames[at].file);
	ASSERT_NE(NULL, strstr(s.frames[at].file, "wl_plugin.c"));
	EXPECT_EQ(cw_field(wl.done, "line"), s.frames[at].line);
	at = find_frame(&s, "main");
	ASSERT_LE(0, at) {
		dump(_metadata, &s);
	}
	EXPECT_EQ(cw_field(wl.done, "call"), s.frames[at].line);
	cw_ustack__fini(&s);
	cw_symbols__free(sym);
	cw_session__free(sess);
	cw_engine__free(eng);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
