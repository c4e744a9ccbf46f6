// SPDX-License-Identifier: GPL-2.0
/*
 * The live dashboard (`concwatch -p PID`) under a real terminal: tmux runs a shell, the
 * test types the command into it (send-keys), and reads the screen (capture-pane -p).
 * Every wait for the screen polls capture-pane until the expected text is there or a
 * bound passes; nothing waits a fixed time.
 *
 * - wl_hot (4 threads on hot_lock, a cold_lock now and then): hot_lock is the first row
 *   of the locks panel; p pauses; '?' shows the help with every key; sorting the locks
 *   panel by name puts cold_lock first; colour, and none with NO_COLOR; at 60x20 the
 *   header and a table with its column titles are still there, no line wider than the
 *   terminal; 'q' and SIGTERM give the shell back, working (echo and line mode),
 *   concwatch exits 0, and none of the BPF programs it had loaded is loaded any more; so
 *   does a crash (SIGSEGV), concwatch dying of it;
 * - wl_deadlock (dl-a and dl-b hung ABBA): each thread's state names the lock it waits
 *   on and the thread that holds it, the deadlock finding appears as an ERROR, and Enter
 *   shows its report text;
 * - a target that exits while watched: the last state stays, marked exited;
 * - the default budget of the lock probes: wl_sampled's are detached and attached again,
 *   the header says so and for what share of the time they were on; none with
 *   --no-uprobes; --max-overhead 100 keeps them on (and the tests on wl_hot and wl_bank,
 *   whose lock calls cost more than the default, give it: they assert what the probes
 *   see);
 * - no terminal: stdout a pipe gives the batch snapshots, stdin none a usage error.
 *
 * Skips (exit 4) without tmux, or without root and BTF.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/wait.h>
#include <bpf/bpf.h>

#include "kselftest_harness.h"
#include "cwtest.h"

#define COLS 120
#define ROWS 40
/* bounds of the waits for the screen: attaching takes seconds, more on a busy machine */
#define ATTACH_MS 60000
#define SCREEN_MS 15000
#define PROMPT "cwtest$ "
/* capture-pane leaves out the spaces that end a line */
#define PROMPT_SHOWN "cwtest$"

static char sock[64];
static char tmux_path[256];

/* tmux from $PATH (the test's helpers exec a path). */
static int have_tmux(void)
{
	const char *path = getenv("PATH") ?: "/usr/bin:/bin";

	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(tmux_path, sizeof(tmux_path), "%.*s/tmux", (int)n, path);
		if (n && !access(tmux_path, X_OK))
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* Run tmux on our own server with the arguments given; its stdout (malloc'ed) or NULL. */
static char *tmux(const char *a0, const char *a1, const char *a2, const char *a3,
		  const char *a4, const char *a5, const char *a6, const char *a7)
{
	const char *argv[] = { tmux_path, "-L", sock, a0, a1, a2, a3, a4, a5, a6, a7, NULL };
	char *out = NULL;
	int st = cw_run_capture(argv, NULL, &out, NULL);

	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		free(out);
		return NULL;
	}
	return out;
}

#define TMUX(...) tmux_run(__VA_ARGS__, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
#define tmux_run(a0, a1, a2, a3, a4, a5, a6, a7, ...) tmux(a0, a1, a2, a3, a4, a5, a6, a7)

static int keys(const char *k)
{
	char *out = TMUX("send-keys", "-t", "tui", k);

	free(out);
	return out ? 0 : -1;
}

static char *screen(void)
{
	return TMUX("capture-pane", "-p", "-t", "tui");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A pause between two looks at the screen: polling, not ordering anything. */
static void poll_pause(void)
{
	struct timespec ts = { 0, 50 * 1000000 };

	nanosleep(&ts, NULL);
}

/* Line n (0-based) of s, in buf. */
static const char *line_of(const char *s, int n, char *buf, size_t len)
{
	for (; n > 0 && s; n--) {
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	buf[0] = '\0';
	if (s)
		snprintf(buf, len, "%.*s", (int)strcspn(s, "\n"), s);
	return buf;
}

/* The line of s after the one that starts with title. */
static const char *line_after(const char *s, const char *title, int skip, char *buf, size_t len)
{
	const char *p = s;

	buf[0] = '\0';
	while (p && *p) {
		if (!strncmp(p, title, strlen(title))) {
			for (int i = 0; i <= skip && p; i++) {
				p = strchr(p, '\n');
				if (p)
					p++;
			}
			if (p)
				snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
			return buf;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return buf;
}

typedef int (*screen_pred)(const char *s, const void *arg);

static int has_text(const char *s, const void *arg)
{
	return strstr(s, arg) != NULL;
}

/* Poll the screen until pred holds (the screen in *last, malloc'ed), or ms pass. */
static int wait_screen(screen_pred pred, const void *arg, int ms, char **last)
{
	long long end = now_ms() + ms;
	char *s = NULL;

	for (;;) {
		free(s);
		s = screen();
		if (s && pred(s, arg))
			break;
		if (now_ms() > end) {
			if (last)
				*last = s;
			else
				free(s);
			return -ETIMEDOUT;
		}
		poll_pause();
	}
	if (last)
		*last = s;
	else
		free(s);
	return 0;
}

static int lacks_text(const char *s, const void *arg)
{
	return strstr(s, arg) == NULL;
}

static int wait_text(const char *text, int ms, char **last)
{
	return wait_screen(has_text, text, ms, last);
}

/* The first row of the locks panel names hot_lock. */
static int locks_first(const char *s, const void *name)
{
	char row[512];
	const char *title = strstr(s, "  Locks (");

	if (!title)
		title = strstr(s, "> Locks (");
	if (!title)
		return 0;
	line_after(title, title[0] == '>' ? "> Locks (" : "  Locks (", 1, row, sizeof(row));
	return !strncmp(row, name, strlen(name)) && row[strlen(name)] == ' ';
}

/*
 * Whether the locks panel's first row of a user-space lock is name's: kernel locks the
 * workload's threads happened to contend on (a busy machine) sort by their addresses,
 * and come before any name.
 */
static int user_locks_first(const char *s, const void *name)
{
	const char *title = strstr(s, "> Locks (");
	char row[512];

	if (!title)
		return 0;
	for (int i = 1; i < 40; i++) {
		line_after(title, "> Locks (", i, row, sizeof(row));
		if (!row[0])
			return 0;
		if (strstr(row, " kernel "))
			continue;
		return !strncmp(row, name, strlen(name)) && row[strlen(name)] == ' ';
	}
	return 0;
}

/* The pid of the shell's child: the concwatch the test typed. */
static pid_t child_of(pid_t shell)
{
	char path[64], buf[64];
	FILE *f;
	int pid = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", shell, shell);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		pid = atoi(buf);
	fclose(f);
	return pid > 0 ? pid : -1;
}

/* The BPF programs process pid holds (its fds' prog_id): how many, ids in v. */
static int prog_ids(pid_t pid, unsigned int *v, int max)
{
	char path[320], line[256];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned int id;
			int seen = 0;

			if (sscanf(line, "prog_id: %u", &id) != 1)
				continue;
			for (int i = 0; i < n; i++)
				seen |= v[i] == id;
			if (!seen && n < max)
				v[n++] = id;
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* A BPF program of that id is loaded. */
static int prog_loaded(unsigned int id)
{
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

FIXTURE(tui)
{
	struct cw_wl wl;
	pid_t shell;
	int started;
};

/* -w: wl_hot runs once the dashboard is attached, longer than any test here */
static const char *const hot_args[] = { "-w", "4", "1000000", "20", "20", NULL };

/* Start a shell in tmux (our own server), and the workload. */
static void start(struct __test_metadata *_metadata, FIXTURE_DATA(tui) *self,
		  const char *workload, const char *const args[])
{
	const char *why = cw_live_skip_reason();
	char cols[16], rows[16], *out;

	if (!why && !have_tmux())
		why = "tmux is not installed";
	if (why)
		SKIP(return, "%s", why);
	snprintf(sock, sizeof(sock), "cwtest-tui-%d", getpid());
	snprintf(cols, sizeof(cols), "%d", COLS);
	snprintf(rows, sizeof(rows), "%d", ROWS);
	/* a plain shell with a prompt the test knows, in a terminal ncurses knows */
	out = tmux("new-session", "-d", "-s", "tui", "-x", cols, "-y", rows);
	ASSERT_NE(NULL, out);
	free(out);
	out = TMUX("display-message", "-p", "-t", "tui", "#{pane_pid}");
	ASSERT_NE(NULL, out);
	self->shell = atoi(out);
	free(out);
	ASSERT_GT(self->shell, 0);
	ASSERT_EQ(0, keys("exec env PS1='" PROMPT "' TERM=screen sh"));
	ASSERT_EQ(0, keys("Enter"));
	/* at the start of a line: the command typed holds it too */
	ASSERT_EQ(0, wait_text("\n" PROMPT_SHOWN, SCREEN_MS, NULL));
	ASSERT_EQ(0, cw_wl__start(&self->wl, workload, args));
	self->started = 1;
}

/* Type `concwatch -p PID OPTS` (ENV: variables before it), then its exit status. */
static int type_dashboard(FIXTURE_DATA(tui) *self, const char *env, const char *opts)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "clear; %s %s -p %d %s; echo exit=$?", env, cw_bin_path(),
		 self->wl.pid, opts);
	return keys(cmd) ?: keys("Enter");
}

/* ... and wait for its first picture. */
static void dashboard_env(struct __test_metadata *_metadata, FIXTURE_DATA(tui) *self,
			  const char *env, const char *opts)
{
	char header[128];
	char *s = NULL;

	ASSERT_EQ(0, type_dashboard(self, env, opts));
	snprintf(header, sizeof(header), "pid %d (", self->wl.pid);
	EXPECT_EQ(0, wait_text(header, ATTACH_MS, &s)) TH_LOG("screen:\n%s", s);
	free(s);
}

static void dashboard(struct __test_metadata *_metadata, FIXTURE_DATA(tui) *self,
		      const char *opts)
{
	dashboard_env(_metadata, self, "", opts);
}

static void stop(FIXTURE_DATA(tui) *self)
{
	free(TMUX("kill-server"));
	if (self->started) {
		kill(self->wl.pid, SIGKILL);
		cw_wl__stop(&self->wl);
		self->started = 0;
	}
}

FIXTURE_SETUP(tui)
{
	start(_metadata, self, "wl_hot", hot_args);
}

FIXTURE_TEARDOWN(tui)
{
	stop(self);
}

/*
 * No budget for the lock probes (--max-overhead 100): wl_hot's four threads do nothing
 * but take a lock, and the probes cost them about 40% of their CPU time, so that under
 * the dashboard's default budget they would be detached most of the time, and a panel
 * of locks taken while nothing watched would not say what these tests assert (hot_lock
 * on top, its call path, cold_lock a row). governed_target tests the default.
 */
#define NO_BUDGET "--max-overhead 100"

/* Attach, start the workload, and wait until hot_lock tops the locks panel. */
static void hot_on_top(struct __test_metadata *_metadata, FIXTURE_DATA(tui) *self)
{
	char *s = NULL;

	dashboard(_metadata, self, NO_BUDGET);
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	EXPECT_EQ(0, wait_screen(locks_first, "hot_lock", SCREEN_MS, &s))
		TH_LOG("no hot_lock on top:\n%s", s);
	free(s);
}

/* A duration as fmt_ns() writes it ("97.9 ms", "1.41 s", "0 ns") in ns; -1: none. */
static double dur_ns(const char *s)
{
	char unit[8];
	double v;

	if (sscanf(s, "%lf %7s", &v, unit) != 2)
		return -1;
	return !strcmp(unit, "s") ? v * 1e9 : !strcmp(unit, "ms") ? v * 1e6 :
	       !strcmp(unit, "us") ? v * 1e3 : !strcmp(unit, "ns") ? v : -1;
}

/* The bundled example's findings panel lists its lock-order inversion. */
static int inversion_listed(const char *s, const void *arg)
{
	const char *f = strstr(s, "Findings (");

	return f && strstr(f, "lock_order_inversion ");
}

/*
 * The bundled example (make demo's wl_bank), with no key pressed: the first screen that
 * lists the inversion also has the hottest lock first in the locks panel (its WAIT the
 * largest), and the thread that waited longest on one lock names a lock of that panel.
 */
TEST_F(tui, bundled_example_first_screen)
{
	const char *args[] = { "-w", "-", NULL };
	char row[512], head[512], lname[128], best[128] = "";
	double top = -1, most = -1;
	const char *p, *col;
	char *s = NULL;
	size_t at;

	CW_SKIPPED_IN_SETUP();
	kill(self->wl.pid, SIGKILL);
	cw_wl__stop(&self->wl);
	self->started = 0;
	ASSERT_EQ(0, cw_wl__start(&self->wl, "wl_bank", args));
	self->started = 1;
	/* its tellers' lock calls cost more than the default budget, like wl_hot's */
	dashboard(_metadata, self, NO_BUDGET);
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	ASSERT_EQ(0, wait_screen(inversion_listed, NULL, SCREEN_MS, &s))
		TH_LOG("no inversion:\n%s", s);

	/* locks: the first row waited most */
	p = strstr(s, "Locks (");
	ASSERT_NE(NULL, p) TH_LOG("%s", s);
	for (int i = 2; ; i++) {
		char type[16], acq[16], cont[16], w[32], unit[8];
		double ns;

		line_of(p, i, row, sizeof(row));
		if (sscanf(row, "%127s %15s %15s %15s %31s %7s", lname, type, acq, cont, w,
			   unit) != 6 || strcmp(type, "mutex"))
			break;
		snprintf(w + strlen(w), sizeof(w) - strlen(w), " %s", unit);
		ns = dur_ns(w);
		ASSERT_LE(0, ns) TH_LOG("%s", row);
		if (top < 0)
			top = ns;
		EXPECT_GE(top, ns) TH_LOG("a row waited more than the first:\n%s", s);
	}
	EXPECT_LT(0, top) TH_LOG("%s", s);

	/* threads: the longest wait on one lock names a lock of the panel */
	p = strstr(s, "Threads (");
	ASSERT_NE(NULL, p);
	line_of(p, 1, head, sizeof(head));
	col = strstr(head, "WAITED LONGEST ON");
	ASSERT_NE(NULL, col) TH_LOG("%s", head);
	at = col - head;
	for (int i = 2; ; i++) {
		char name[128], v[32], unit[8];
		double ns;

		line_of(p, i, row, sizeof(row));
		if (strlen(row) <= at || !strncmp(row, "  Locks (", 9))
			break;
		if (sscanf(row + at, "%127s %31s %7s", name, v, unit) != 3)
			continue;
		snprintf(row, sizeof(row), "%s %s", v, unit);
		ns = dur_ns(row);
		if (ns > most) {
			most = ns;
			snprintf(best, sizeof(best), "%s", name);
		}
	}
	ASSERT_LT(0, most) TH_LOG("no thread waited:\n%s", s);
	snprintf(row, sizeof(row), "\n%s ", best);
	EXPECT_NE(NULL, strstr(strstr(s, "Locks ("), row))
		TH_LOG("%s is no lock of the panel:\n%s", best, s);
	free(s);
}

TEST_F(tui, hot_lock_on_top)
{
	char line[512], *s = NULL, *cost;
	double cpu, share;

	CW_SKIPPED_IN_SETUP();
	hot_on_top(_metadata, self);
	ASSERT_EQ(0, wait_text("hot-3", SCREEN_MS, &s));
	/* the header names the process and the mode */
	line_of(s, 0, line, sizeof(line));
	EXPECT_EQ(0, strncmp(line, "concwatch ", 10)) TH_LOG("header: %s", line);
	EXPECT_NE(NULL, strstr(line, "(wl_hot)"));
	line_of(s, 1, line, sizeof(line));
	EXPECT_NE(NULL, strstr(line, "backend bpf (full)")) TH_LOG("header: %s", line);
	/* and what watching costs: the workers' lock calls hit probes, at a measured price */
	line_of(s, 2, line, sizeof(line));
	cost = line;
	ASSERT_EQ(2, sscanf(cost, "cost %lf%% CPU, %lf%% of target", &cpu, &share))
		TH_LOG("header: %s", line);
	EXPECT_NE(NULL, strstr(line, "; tracepoints ")) TH_LOG("header: %s", line);
	EXPECT_NE(NULL, strstr(line, "; probe hits ")) TH_LOG("header: %s", line);
	/* a budget of all the target's CPU time is always met: the probes stay attached */
	EXPECT_NE(NULL, strstr(line, " of target; lock probes: on (budget 100%), on 100% of the "
				     "time; tracepoints ")) TH_LOG("header: %s", line);
	EXPECT_LT(0, cpu) TH_LOG("header: %s", line);
	EXPECT_LT(0, share) TH_LOG("header: %s", line);
	EXPECT_GE(100, share) TH_LOG("header: %s", line);
	/* the four workers are threads of the panel, by name */
	for (int i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), " hot-%d ", i);
		EXPECT_NE(NULL, strstr(s, name)) TH_LOG("no%s:\n%s", name, s);
	}
	free(s);
	/* p pauses the display, and p again resumes it */
	ASSERT_EQ(0, keys("p"));
	EXPECT_EQ(0, wait_text("  [PAUSED]\n", SCREEN_MS, NULL));
	ASSERT_EQ(0, keys("p"));
	EXPECT_EQ(0, wait_screen(lacks_text, "[PAUSED]", SCREEN_MS, NULL));
}

/*
 * Enter on hot_lock, the first row of the locks panel: its waits from hold_hot_lock(),
 * the threads that woke them, who holds it and waits on it now, the lock order around
 * it (none: wl_hot takes one lock at a time); Esc back.
 */
TEST_F(tui, lock_drill_down)
{
	char want[128], *s = NULL;

	CW_SKIPPED_IN_SETUP();
	hot_on_top(_metadata, self);
	ASSERT_EQ(0, keys("Tab"));
	ASSERT_EQ(0, wait_text("> Locks (", SCREEN_MS, NULL));
	ASSERT_EQ(0, keys("Enter"));
	snprintf(want, sizeof(want), "\nhot_lock, mutex 0x%llx of process %d\n",
		 (unsigned long long)cw_field(self->wl.ready, "hot_lock"), self->wl.pid);
	EXPECT_EQ(0, wait_text(want, SCREEN_MS, &s)) TH_LOG("no lock text:\n%s", s);
	EXPECT_EQ(0, strncmp(s, "Lock  (line 1 of ", 17)) TH_LOG("%s", s);
	EXPECT_NE(NULL, strstr(s, "  waited from 1 call path:\n")) TH_LOG("%s", s);
	EXPECT_NE(NULL, strstr(s, " hold_hot_lock+")) TH_LOG("%s", s);
	EXPECT_NE(NULL, strstr(s, "  made to wait by ")) TH_LOG("%s", s);
	EXPECT_NE(NULL, strstr(s, "\nNow: ")) TH_LOG("%s", s);
	EXPECT_NE(NULL, strstr(s, "\nLock order around it: no lock taken while holding it"))
		TH_LOG("%s", s);
	free(s);
	ASSERT_EQ(0, keys("Escape"));
	EXPECT_EQ(0, wait_text("> Locks (", SCREEN_MS, NULL));
}

/* "/" and a name: every panel shows its rows that match; Esc while typing clears it. */
TEST_F(tui, filter)
{
	char *s = NULL;

	CW_SKIPPED_IN_SETUP();
	hot_on_top(_metadata, self);
	ASSERT_EQ(0, keys("/"));
	EXPECT_EQ(0, wait_text("filter: _", SCREEN_MS, &s)) TH_LOG("%s", s);
	free(s);
	ASSERT_EQ(0, keys("HOT-1"));
	ASSERT_EQ(0, keys("Enter"));
	EXPECT_EQ(0, wait_text("> Threads (1)  sort: LOCK%  filter: HOT-1\n", SCREEN_MS, &s))
		TH_LOG("%s", s);
	EXPECT_NE(NULL, strstr(s, " hot-1 ")) TH_LOG("%s", s);
	EXPECT_EQ(NULL, strstr(s, " hot-2 ")) TH_LOG("%s", s);
	EXPECT_NE(NULL, strstr(s, "  Locks (0)  sort: WAIT  filter: HOT-1\n")) TH_LOG("%s", s);
	free(s);
	ASSERT_EQ(0, keys("/"));
	ASSERT_EQ(0, keys("Escape"));
	EXPECT_EQ(0, wait_text("> Threads (5)  sort: LOCK%\n", SCREEN_MS, &s)) TH_LOG("%s", s);
	free(s);
}

TEST_F(tui, help_lists_every_key)
{
	static const char *const every[] = { "Tab", "Up, Down", "PgUp, PgDn", "Home, End",
					      "s, F6", "Enter", "Esc", "p ", "?", "q, F10" };
	char *s = NULL;

	CW_SKIPPED_IN_SETUP();
	dashboard(_metadata, self, "");
	ASSERT_EQ(0, keys("?"));
	ASSERT_EQ(0, wait_text("concwatch live dashboard: keys", SCREEN_MS, &s))
		TH_LOG("no help:\n%s", s);
	for (size_t i = 0; i < sizeof(every) / sizeof(every[0]); i++) {
		char want[32];

		snprintf(want, sizeof(want), "\n  %s", every[i]);
		EXPECT_NE(NULL, strstr(s, want)) TH_LOG("the help has no '%s':\n%s", every[i], s);
	}
	free(s);
	/* any key goes back */
	ASSERT_EQ(0, keys("Escape"));
	EXPECT_EQ(0, wait_text("Locks (", SCREEN_MS, NULL));
}

/* The locks panel's title, focused, in buf; "" when not there. */
static const char *locks_title(const char *s, char *buf, size_t len)
{
	const char *t = s ? strstr(s, "> Locks (") : NULL;

	buf[0] = '\0';
	if (t)
		snprintf(buf, len, "%.*s", (int)strcspn(t, "\n"), t);
	return buf;
}

static int title_is_not(const char *s, const void *old)
{
	char title[128];

	return strcmp(locks_title(s, title, sizeof(title)), old) != 0;
}

TEST_F(tui, sort_changes_order)
{
	char title[128], *s = NULL;
	int presses = 0;

	CW_SKIPPED_IN_SETUP();
	hot_on_top(_metadata, self);
	/* the cold lock is taken once every 20 iterations: it is a row too */
	ASSERT_EQ(0, wait_text("\ncold_lock ", SCREEN_MS, &s)) TH_LOG("no cold_lock:\n%s", s);
	free(s);
	ASSERT_EQ(0, keys("Tab"));
	ASSERT_EQ(0, wait_text("> Locks (", SCREEN_MS, &s));
	EXPECT_NE(NULL, strstr(s, "sort: WAIT\n")) TH_LOG("the default sort is by wait:\n%s", s);
	/* s cycles the focused panel's sort columns, NAME among them: each press shows */
	while (!strstr(locks_title(s, title, sizeof(title)), "sort: NAME") && presses++ < 10) {
		free(s);
		ASSERT_EQ(0, keys("s"));
		ASSERT_EQ(0, wait_screen(title_is_not, title, SCREEN_MS, &s))
			TH_LOG("'s' did not change the sort: %s", title);
	}
	free(s);
	ASSERT_LE(presses, 10);
	EXPECT_EQ(0, wait_screen(user_locks_first, "cold_lock", SCREEN_MS, &s))
		TH_LOG("sorted by name, cold_lock is not the first user-space lock:\n%s", s);
	free(s);
}

/*
 * Whether the screen with its attributes (capture-pane -e) sets a colour: an SGR
 * sequence with a foreground or background colour parameter.
 */
static int has_colour(const char *s)
{
	for (const char *p = s; (p = strstr(p, "\033[")); ) {
		const char *q = p + 2;
		size_t n = strspn(q, "0123456789;");

		if (q[n] == 'm') {
			for (const char *t = q; t < q + n; t += strcspn(t, ";") + 1) {
				int v = atoi(t);

				/* 38 and 48 begin 256 and RGB colours: their numbers follow */
				if ((v >= 30 && v <= 38) || (v >= 40 && v <= 48) ||
				    (v >= 90 && v <= 97) || (v >= 100 && v <= 107))
					return 1;
				if (v == 38 || v == 48)
					break;
			}
		}
		p = q + n;
	}
	return 0;
}

/* The screen shows the locks panel with hot_lock on top, and whether it has colours. */
static int colour_screen(struct __test_metadata *_metadata, FIXTURE_DATA(tui) *self,
			 const char *env)
{
	char *s = NULL;
	long long end = now_ms() + SCREEN_MS;
	int colour = -1;

	dashboard_env(_metadata, self, env, NO_BUDGET);
	cw_wl__send(&self->wl, "go");
	EXPECT_EQ(0, wait_screen(locks_first, "hot_lock", SCREEN_MS, &s));
	free(s);
	/* the same screen with its attributes */
	while (colour < 0 && now_ms() < end) {
		s = TMUX("capture-pane", "-p", "-e", "-t", "tui");
		if (s && strstr(s, "Locks ("))
			colour = has_colour(s);
		free(s);
	}
	return colour;
}

TEST_F(tui, colour)
{
	CW_SKIPPED_IN_SETUP();
	EXPECT_EQ(1, colour_screen(_metadata, self, ""));
}

/* NO_COLOR set and not empty (no-color.org): bold and reverse video only. */
TEST_F(tui, no_color)
{
	CW_SKIPPED_IN_SETUP();
	EXPECT_EQ(0, colour_screen(_metadata, self, "NO_COLOR=1"));
}

/* At 60x20: the header, a panel's title and column titles, nothing wider than 60. */
static int readable_60(const char *s, const void *arg)
{
	char line[512];
	int n = 0;

	if (strncmp(line_of(s, 0, line, sizeof(line)), "concwatch ", 10))
		return 0;
	if (!strstr(s, "\nNAME ") || !strstr(s, "ACQ/s") || !strstr(s, "\nhot_lock "))
		return 0;
	for (const char *p = s; *p; n++) {
		size_t len = strcspn(p, "\n");

		if (len > 60)
			return 0;
		p += len;
		if (*p)
			p++;
	}
	return n <= 20;
}

TEST_F(tui, resize_60x20)
{
	char *s = NULL;

	CW_SKIPPED_IN_SETUP();
	hot_on_top(_metadata, self);
	free(TMUX("resize-window", "-t", "tui", "-x", "60", "-y", "20"));
	EXPECT_EQ(0, wait_screen(readable_60, NULL, SCREEN_MS, &s))
		TH_LOG("not readable at 60x20:\n%s", s);
	free(s);
}

/*
 * The shell works as before the dashboard: a command typed echoes (echo is on again) and
 * runs at Enter (canonical mode), and its output shows.
 */
static void shell_works(struct __test_metadata *_metadata)
{
	char *s = NULL;

	ASSERT_EQ(0, keys("echo ok-$((20+22))"));
	ASSERT_EQ(0, keys("Enter"));
	/* the line typed, as echoed, then what it printed, then the prompt again */
	EXPECT_EQ(0, wait_text(PROMPT "echo ok-$((20+22))\nok-42\n" PROMPT_SHOWN, SCREEN_MS, &s))
		TH_LOG("screen:\n%s", s);
	free(s);
}

/*
 * End the dashboard with how (a key, or a signal sent to concwatch): the shell's screen
 * comes back with the status want and its prompt last, the shell works, and none of
 * the BPF programs concwatch held is still loaded.
 */
static void end_dashboard(struct __test_metadata *_metadata, FIXTURE_DATA(tui) *self,
			  const char *key, int sig, const char *want)
{
	unsigned int ids[256];
	char *s = NULL, line[512];
	pid_t cw;
	int n, last = -1;

	hot_on_top(_metadata, self);
	cw = child_of(self->shell);
	ASSERT_GT(cw, 0);
	n = prog_ids(cw, ids, 256);
	ASSERT_GT(n, 0) TH_LOG("concwatch %d holds no BPF program", cw);
	if (key) {
		ASSERT_EQ(0, keys(key));
	} else {
		ASSERT_EQ(0, kill(cw, sig));
	}
	EXPECT_EQ(0, wait_text(want, ATTACH_MS, &s)) TH_LOG("no %s:\n%s", want, s);
	/* the dashboard is gone: the shell's screen is back, with its prompt last */
	EXPECT_EQ(NULL, strstr(s, "Locks (")) TH_LOG("screen:\n%s", s);
	for (int i = 0; s && line_of(s, i, line, sizeof(line)) && i < ROWS; i++)
		if (line[0])
			last = i;
	ASSERT_GE(last, 0);
	EXPECT_STREQ(PROMPT_SHOWN, line_of(s, last, line, sizeof(line)));
	free(s);
	shell_works(_metadata);
	for (int i = 0; i < n; i++) {
		unsigned int id = ids[i];

		EXPECT_FALSE(prog_loaded(id)) TH_LOG("BPF program %u still loaded", id);
	}
}

TEST_F(tui, quit_restores_and_detaches)
{
	CW_SKIPPED_IN_SETUP();
	end_dashboard(_metadata, self, "q", 0, "exit=0\n" PROMPT_SHOWN);
}

/* SIGTERM (and SIGINT, the same handler) ends it as q does: detached, exit 0. */
TEST_F(tui, sigterm_restores_and_detaches)
{
	CW_SKIPPED_IN_SETUP();
	end_dashboard(_metadata, self, NULL, SIGTERM, "exit=0\n" PROMPT_SHOWN);
}

/*
 * A crash: the terminal is restored by the fatal signal's handler, concwatch dies of
 * the signal (the shell says 128 + 11), and the kernel unloads its programs.
 */
TEST_F(tui, crash_restores_terminal)
{
	CW_SKIPPED_IN_SETUP();
	end_dashboard(_metadata, self, NULL, SIGSEGV, "exit=139\n" PROMPT_SHOWN);
}

TEST_F(tui, target_exit_marked)
{
	char want[64], *s = NULL;

	CW_SKIPPED_IN_SETUP();
	hot_on_top(_metadata, self);
	/* the workload ends: killed, its last state stays on screen */
	kill(self->wl.pid, SIGKILL);
	snprintf(want, sizeof(want), "pid %d (wl_hot)  [EXITED]", self->wl.pid);
	EXPECT_EQ(0, wait_text(want, SCREEN_MS, &s)) TH_LOG("screen:\n%s", s);
	EXPECT_TRUE(locks_first(s, "hot_lock")) TH_LOG("screen:\n%s", s);
	free(s);
	ASSERT_EQ(0, keys("q"));
	EXPECT_EQ(0, wait_text("exit=0\n" PROMPT_SHOWN, ATTACH_MS, NULL));
}

/*
 * After the exit, w writes the report (as `concwatch report` prints it) to a new file
 * of the dashboard's directory, and says where.
 */
TEST_F(tui, save_report_after_exit)
{
	char dir[64] = "/tmp/cw-tui-save." CW_TMP_X, cmd[128], want[128], path[512];
	char *s = NULL, *text = NULL;
	struct dirent *de;
	DIR *d;
	size_t n = 0;
	FILE *f;

	CW_SKIPPED_IN_SETUP();
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cd %s", dir);
	ASSERT_EQ(0, keys(cmd));
	ASSERT_EQ(0, keys("Enter"));
	hot_on_top(_metadata, self);
	kill(self->wl.pid, SIGKILL);
	snprintf(want, sizeof(want), "pid %d (wl_hot)  [EXITED]", self->wl.pid);
	ASSERT_EQ(0, wait_text(want, SCREEN_MS, &s)) TH_LOG("screen:\n%s", s);
	free(s);
	ASSERT_EQ(0, keys("w"));
	snprintf(want, sizeof(want), "report written to %s/concwatch-%d-", dir, self->wl.pid);
	EXPECT_EQ(0, wait_text(want, SCREEN_MS, &s)) TH_LOG("screen:\n%s", s);
	free(s);
	ASSERT_EQ(0, keys("q"));
	EXPECT_EQ(0, wait_text("exit=0\n" PROMPT_SHOWN, ATTACH_MS, NULL));
	/* one file, the report of the whole trace */
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	path[0] = '\0';
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			n++;
		}
	closedir(d);
	EXPECT_EQ(1, n);
	f = fopen(path, "re");
	ASSERT_NE(NULL, f) TH_LOG("%s", path);
	text = calloc(1, 1 << 20);
	ASSERT_NE(NULL, text);
	EXPECT_LT(0, fread(text, 1, (1 << 20) - 1, f));
	fclose(f);
	snprintf(want, sizeof(want), "concwatch %s: process %d (wl_hot), ", CW_VERSION,
		 self->wl.pid);
	EXPECT_EQ(0, strncmp(text, want, strlen(want))) TH_LOG("%.300s", text);
	EXPECT_NE(NULL, strstr(text, "\nhot_lock ")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "\nFindings:")) TH_LOG("%s", text);
	free(text);
	if (_metadata->passed) {
		unlink(path);
		rmdir(dir);
	}
}

/* The state of thread tid in the threads panel holds want. */
struct state_want {
	long long tid;
	char want[128];
};

static int thread_state(const char *s, const void *arg)
{
	const struct state_want *w = arg;
	char key[32], line[512];
	const char *p;

	snprintf(key, sizeof(key), "\n%7lld ", w->tid);
	p = strstr(s, key);
	if (!p)
		return 0;
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
	return strstr(line, w->want) != NULL;
}

/*
 * wl_deadlock hangs before concwatch comes: dl-a holds lock_1 and waits on lock_2, dl-b
 * the other way round. Each one's state names what it waits on and who holds it, and
 * the deadlock is a finding, an ERROR.
 */
TEST(deadlock_states)
{
	FIXTURE_DATA(tui) self = {};
	struct state_want a = {}, b = {};
	char *s = NULL, want[256];

	start(_metadata, &self, "wl_deadlock", NULL);
	if (_metadata->skip)
		return;
	a.tid = cw_field(self.wl.ready, "tid_a");
	b.tid = cw_field(self.wl.ready, "tid_b");
	ASSERT_GT(a.tid, 0);
	ASSERT_GT(b.tid, 0);
	snprintf(a.want, sizeof(a.want), "lock_2 held by %lld", b.tid);
	snprintf(b.want, sizeof(b.want), "lock_1 held by %lld", a.tid);
	dashboard(_metadata, &self, "");
	EXPECT_EQ(0, wait_screen(thread_state, &a, SCREEN_MS, &s))
		TH_LOG("dl-a (%lld) is not shown waiting on %s:\n%s", a.tid, a.want, s);
	free(s);
	EXPECT_EQ(0, wait_screen(thread_state, &b, SCREEN_MS, &s))
		TH_LOG("dl-b (%lld) is not shown waiting on %s:\n%s", b.tid, b.want, s);
	free(s);
	EXPECT_EQ(0, wait_text("\nERROR   deadlock ", SCREEN_MS, &s)) TH_LOG("no finding:\n%s", s);
	/* hung before the attach: the locks are rows from the waits, each with its holder */
	EXPECT_NE(NULL, strstr(s, "  Locks (2)  sort: WAIT\n")) TH_LOG("%s", s);
	snprintf(want, sizeof(want), "\nlock_2 ");
	EXPECT_NE(NULL, strstr(s, want)) TH_LOG("%s", s);
	snprintf(want, sizeof(want), "\nlock_1 ");
	EXPECT_NE(NULL, strstr(s, want)) TH_LOG("%s", s);
	free(s);
	/* Enter on it: the report's text of the finding, each thread's wait and holder */
	ASSERT_EQ(0, keys("Tab"));
	ASSERT_EQ(0, keys("Tab"));
	ASSERT_EQ(0, wait_text("> Findings (1)", SCREEN_MS, NULL));
	ASSERT_EQ(0, keys("Enter"));
	snprintf(want, sizeof(want), "\nfinding 1: deadlock (cycle), process %d, 2 threads\n",
		 self.wl.pid);
	EXPECT_EQ(0, wait_text(want, SCREEN_MS, &s)) TH_LOG("no finding text:\n%s", s);
	snprintf(want, sizeof(want),
		 "  dl-a/%lld waits on lock_2 (mutex 0x%llx), held by dl-b/%lld",
		 a.tid, (unsigned long long)cw_field(self.wl.ready, "lock_2"), b.tid);
	EXPECT_NE(NULL, strstr(s, want)) TH_LOG("no '%s':\n%s", want, s);
	EXPECT_NE(NULL, strstr(s, "\nERROR: deadlock: threads wait on each other in a cycle\n"));
	free(s);
	/* Esc goes back */
	ASSERT_EQ(0, keys("Escape"));
	EXPECT_EQ(0, wait_text("> Findings (1)", SCREEN_MS, NULL));
	/* Enter on dl-a in the threads panel: its wait now, and where it waits from */
	ASSERT_EQ(0, keys("Tab"));
	ASSERT_EQ(0, wait_text("> Threads (3)", SCREEN_MS, NULL));
	ASSERT_EQ(0, keys("Home"));
	snprintf(want, sizeof(want), "\nThread %lld (dl-a) of process %d, ", a.tid, self.wl.pid);
	for (int row = 0; row < 3; row++) {
		ASSERT_EQ(0, keys("Enter"));
		ASSERT_EQ(0, wait_text("Thread  (line 1 of ", SCREEN_MS, &s)) TH_LOG("%s", s);
		if (strstr(s, want))
			break;
		free(s);
		s = NULL;
		ASSERT_EQ(0, keys("Escape"));
		ASSERT_EQ(0, wait_text("> Threads (3)", SCREEN_MS, NULL));
		ASSERT_EQ(0, keys("Down"));
	}
	ASSERT_NE(NULL, s);
	EXPECT_NE(NULL, strstr(s, want)) TH_LOG("no '%s':\n%s", want, s);
	snprintf(want, sizeof(want), "\nNow: blocked on lock_2 held by %lld", b.tid);
	EXPECT_NE(NULL, strstr(s, want)) TH_LOG("no '%s':\n%s", want, s);
	snprintf(want, sizeof(want), " take_second_lock_a+0x");
	EXPECT_NE(NULL, strstr(s, want)) TH_LOG("no '%s':\n%s", want, s);
	snprintf(want, sizeof(want), "(wl_deadlock.c:%lld)",
		 cw_field(self.wl.ready, "line_lock_a"));
	EXPECT_NE(NULL, strstr(s, want)) TH_LOG("no '%s':\n%s", want, s);
	free(s);
	ASSERT_EQ(0, keys("Escape"));
	ASSERT_EQ(0, keys("q"));
	EXPECT_EQ(0, wait_text("exit=0\n" PROMPT_SHOWN, ATTACH_MS, NULL));
	stop(&self);
}

/* The header's cost line (its third) holds the lock probes' state arg says. */
static int governor_says(const char *s, const void *arg)
{
	char line[512];

	return strstr(line_of(s, 2, line, sizeof(line)), arg) != NULL;
}

/* The share of time the cost line says the lock probes were on; -1: none said. */
static int on_share(const char *s)
{
	char line[512];
	const char *p = strstr(line_of(s, 2, line, sizeof(line)), "), on ");
	int pct;

	return p && sscanf(p, "), on %d%% of the time", &pct) == 1 ? pct : -1;
}

/*
 * The lock probes are off after having been on: the governor starts with them off, until
 * the budget has paid for a first window, so off at 0% is the start, not a detach.
 */
static int detached_after_on(const char *s, const void *arg)
{
	return governor_says(s, arg) && on_share(s) > 0;
}

/*
 * The dashboard's default budget, 10%, on wl_sampled (a million uncontended locks a
 * second: the probes cost it far more): the header says the lock probes were detached
 * after a window on, and, once attached again, that they were on for part of the time
 * only; the inversion
 * the workload repeats is a finding. The mode is still full: it is sampled, not
 * --no-uprobes.
 */
TEST(governed_target)
{
	const char *args[] = { "-w", "120", NULL };
	FIXTURE_DATA(tui) self = {};
	char line[512], *s = NULL;
	int off, on;

	start(_metadata, &self, "wl_sampled", args);
	if (_metadata->skip)
		return;
	dashboard(_metadata, &self, "");
	ASSERT_EQ(0, cw_wl__send(&self.wl, "go"));
	EXPECT_EQ(0, wait_screen(detached_after_on, "lock probes: off (budget 10%), on ",
				 ATTACH_MS, &s)) TH_LOG("never detached:\n%s", s);
	off = on_share(s);
	EXPECT_LT(0, off) TH_LOG("%s", line_of(s, 2, line, sizeof(line)));
	EXPECT_GT(100, off) TH_LOG("%s", line_of(s, 2, line, sizeof(line)));
	EXPECT_NE(NULL, strstr(line_of(s, 1, line, sizeof(line)), "backend bpf (full)"))
		TH_LOG("%s", line);
	free(s);
	/* attached again, for windows within the budget: on for part of the time */
	EXPECT_EQ(0, wait_screen(governor_says, "lock probes: on (budget 10%), on ", ATTACH_MS,
				 &s)) TH_LOG("never attached again:\n%s", s);
	on = on_share(s);
	EXPECT_LT(0, on) TH_LOG("%s", line_of(s, 2, line, sizeof(line)));
	EXPECT_GT(100, on) TH_LOG("%s", line_of(s, 2, line, sizeof(line)));
	free(s);
	EXPECT_EQ(0, wait_text("\nWARNING lock_order_inversion ", SCREEN_MS, &s))
		TH_LOG("no inversion:\n%s", s);
	free(s);
	ASSERT_EQ(0, keys("q"));
	EXPECT_EQ(0, wait_text("exit=0\n" PROMPT_SHOWN, ATTACH_MS, NULL));
	stop(&self);
}

/*
 * --no-uprobes: no lock probe, so no budget and no usage error for one not given; the
 * header says the mode, and nothing of lock probes.
 */
TEST_F(tui, no_uprobes_no_budget)
{
	char line[512], *s = NULL;

	CW_SKIPPED_IN_SETUP();
	dashboard(_metadata, self, "--no-uprobes");
	ASSERT_EQ(0, cw_wl__send(&self->wl, "go"));
	EXPECT_EQ(0, wait_text("\ncost ", SCREEN_MS, &s)) TH_LOG("%s", s);
	EXPECT_NE(NULL, strstr(line_of(s, 1, line, sizeof(line)), "backend bpf (--no-uprobes)"))
		TH_LOG("%s", line);
	EXPECT_EQ(0, strncmp(line_of(s, 2, line, sizeof(line)), "cost ", 5)) TH_LOG("%s", line);
	EXPECT_EQ(NULL, strstr(line, "lock probes")) TH_LOG("%s", line);
	free(s);
	ASSERT_EQ(0, keys("q"));
	EXPECT_EQ(0, wait_text("exit=0\n" PROMPT_SHOWN, ATTACH_MS, NULL));
}

/*
 * Standard output not a terminal: text snapshots, as --batch (and top) print them. Its
 * standard input not a terminal, on a terminal: a usage error in one line, nothing traced.
 */
TEST_F(tui, not_a_terminal)
{
	char pid[16], *out = NULL, *err = NULL, *s = NULL;
	const char *argv[] = { cw_bin_path(), "-p", pid, "--iterations", "1", "-d", "200ms",
			       NULL };
	int st;

	CW_SKIPPED_IN_SETUP();
	snprintf(pid, sizeof(pid), "%d", self->wl.pid);
	st = cw_run_capture(argv, NULL, &out, &err);
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("stderr: %s", err);
	EXPECT_EQ(0, strncmp(out, "concwatch - ", 12)) TH_LOG("stdout: %s", out);
	EXPECT_NE(NULL, strstr(out, "\nTHREAD ")) TH_LOG("stdout: %s", out);
	EXPECT_STREQ("", err);
	free(out);
	free(err);
	ASSERT_EQ(0, type_dashboard(self, "", "< /dev/null"));
	ASSERT_EQ(0, wait_text("exit=2\n" PROMPT_SHOWN, SCREEN_MS, NULL));
	/* the message is wider than the terminal: its wrapped lines joined (-J) */
	s = TMUX("capture-pane", "-p", "-J", "-t", "tui");
	ASSERT_NE(NULL, s);
	EXPECT_NE(NULL, strstr(s, "concwatch: the dashboard reads keys from a terminal: "
			       "standard input is none (use --batch for text snapshots) (see "
			       "concwatch --help)\nexit=2")) TH_LOG("screen:\n%s", s);
	free(s);
}

TEST_HARNESS_MAIN
