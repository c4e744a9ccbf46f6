// SPDX-License-Identifier: GPL-2.0
/*
 * The live dashboard (tui.h), as top and htop: a header, then three panels (threads,
 * locks, findings), refreshed every interval; Tab moves between panels, Enter opens the
 * full report text of a finding, ? lists every key.
 *
 * Design choices, and why:
 * - One loop: cw_session__run() with the next refresh as its deadline and the terminal
 *   as its watched fd (cw_session__watch_fd()). A key wakes it at once; records keep
 *   flowing into the engine between keys; a refresh never waits for a drain to end (a
 *   drain is bounded by the source, design.md). So the UI neither stalls on events nor
 *   the events on the UI.
 * - Every figure comes from the report layer: the interval rows of the batch snapshots
 *   (cw_report__snapshot_view()), the wait-for graph's blocked threads, and the findings
 *   of cw_report__model_new() drawn by their kind's text renderer, the text `report`
 *   prints. The model (model.c, no curses) ranks and formats them; this file only draws.
 * - The terminal is given back on every way out: endwin() when the loop ends, from an
 *   atexit() handler, and from the handler of a fatal signal, which then re-raises it
 *   (as htop does: endwin() there is not async-signal-safe, but a terminal left in raw
 *   mode is worse). SIGINT, SIGTERM and SIGHUP set the caller's stop flag: they end the
 *   loop, which detaches the probes before the terminal is restored.
 * - SIGWINCH: a handler of ours, installed after ncurses' own, notes it and wakes the
 *   session's poll() (a signal alone does not end cw_session__run()); the loop then asks
 *   the terminal its size and resizes curses (resize_term()), and repaints it all.
 * - Narrow terminals: the tables drop columns by priority (layout.c); every line is cut
 *   to the width before it is drawn, so nothing wraps.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <curses.h>

#include "common/array.h"
#include "common/time.h"
#include "engine/engine.h"
#include "engine/findings.h"
#include "engine/record.h"
#include "engine/waitfor.h"
#include "report/report.h"
#include "source/session.h"
#include "tui/layout.h"
#include "tui/model.h"
#include "tui/tui.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CW_TUI_STR_(x) #x
#define CW_TUI_STR(x) CW_TUI_STR_(x)
#define LINE_MAX_BYTES 1024
#define MSG_NS 5000000000ULL	/* a footer message stays this long */

enum { VIEW_MAIN, VIEW_HELP, VIEW_TEXT };
enum { PAIR_TITLE = 1, PAIR_FOCUS, PAIR_ERROR, PAIR_WARNING, PAIR_LOST, PAIR_EXITED };

struct panel {
	size_t sel, top;	/* selected row, first row shown */
};

struct tui {
	struct cw_session *sess;
	struct cw_engine *eng;
	struct cw_report_target *t;
	const struct cw_tui_opts *o;
	struct cw_tui_model m;
	struct panel panel[CW_TUI_NR_PANELS];
	int focus;
	int view;
	char **text;		/* VIEW_TEXT: its lines */
	char text_title[32];	/* "Finding", "Lock", "Thread" */
	size_t nr_text, text_top;
	int paused, exited, color;
	int editing;		/* typing the filter after '/' */
	char msg[128];		/* a line for the footer, for MSG_NS */
	__u64 msg_until;	/* when it goes: set when it is first drawn */
};

/* ---- terminal state: restored on every way out ---- */

static volatile sig_atomic_t curses_on;
static volatile sig_atomic_t wake, resize_seen;
static volatile sig_atomic_t *stop_flag;	/* the caller's: SIGINT, SIGTERM */
static struct sigaction old_winch, old_int, old_term, old_hup;

static void restore_terminal(void)
{
	if (curses_on) {
		curses_on = 0;
		endwin();
	}
}

static void on_fatal(int sig)
{
	restore_terminal();
	/* SA_RESETHAND made the default action current again: die of the same signal */
	raise(sig);
}

static void chain(const struct sigaction *old, int sig)
{
	if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL &&
	    old->sa_handler != SIG_IGN)
		old->sa_handler(sig);
}

static void on_wake(int sig)
{
	int saved = errno;

	if (sig == SIGWINCH) {
		resize_seen = 1;
	} else {
		/* the caller's handler too, and the stop even when it had none; a hangup
		 * (the terminal went away) ends the dashboard as a quit does */
		chain(sig == SIGINT ? &old_int : sig == SIGTERM ? &old_term : &old_hup, sig);
		*stop_flag = 1;
	}
	wake = 1;
	errno = saved;
}

static void install_handlers(void)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa = { .sa_handler = on_fatal, .sa_flags = SA_RESETHAND };
	static int once;

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		sigaction(fatal[i], &sa, NULL);
	if (!once++)
		atexit(restore_terminal);
	sa = (struct sigaction){ .sa_handler = on_wake };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, &old_winch);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
}

/* The terminal was resized: curses takes the new size, and the screen is drawn anew. */
static void resized(void)
{
	struct winsize ws;

	resize_seen = 0;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col)
		resize_term(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);
}

static void remove_handlers(void)
{
	sigaction(SIGWINCH, &old_winch, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
}

/* ---- drawing ---- */

static void put_line(int y, const char *s, attr_t attr)
{
	char buf[LINE_MAX_BYTES];
	size_t n;

	if (y < 0 || y >= LINES)
		return;
	n = cw_tui__fit(s, COLS);
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	move(y, 0);
	attron(attr);
	addstr(buf);
	/* the rest of the line in the same attribute: a selected row is a bar */
	for (int x = getcurx(stdscr); x < COLS && getcury(stdscr) == y; x++)
		addch(' ');
	attroff(attr);
}

static attr_t color(const struct tui *ui, int pair, attr_t fallback)
{
	return ui->color ? COLOR_PAIR(pair) : fallback;
}

static void fmt_uptime(char *buf, size_t len, __u64 ns)
{
	unsigned long s = ns / 1000000000ULL;

	snprintf(buf, len, "%02lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
}

static void draw_header(struct tui *ui)
{
	const struct cw_engine_counts *c = cw_engine__counts(ui->eng);
	char line[LINE_MAX_BYTES], up[32], comm[CW_SAFE_COMM_LEN], lost[48];
	int x;

	cw_report__text_safe(ui->t->comm, sizeof(ui->t->comm), comm, sizeof(comm));
	fmt_uptime(up, sizeof(up), ui->m.last_ns - ui->m.start_ns);
	snprintf(line, sizeof(line), "concwatch %s  pid %d (%s)%s  up %s%s", CW_VERSION, ui->t->pid,
		 comm, ui->exited ? "  [EXITED]" : "", up, ui->paused ? "  [PAUSED]" : "");
	put_line(0, line, A_BOLD);
	if (ui->exited && ui->color) {
		/* the mark in its own colour, where it is on the line */
		x = strstr(line, "[EXITED]") - line;
		if (x < COLS)
			mvchgat(0, x, 8, A_BOLD, PAIR_EXITED, NULL);
	}
	snprintf(lost, sizeof(lost), "lost %llu", (unsigned long long)c->lost_total);
	snprintf(line, sizeof(line), "events %.0f/s  %s  backend %s (%s)  threads %zu  locks %zu  "
		 "findings %zu", ui->m.events_s, lost, ui->o->backend ? ui->o->backend : "bpf",
		 ui->o->no_uprobes ? "--no-uprobes" : "full", ui->m.nr_threads, ui->m.nr_locks,
		 ui->m.nr_live);
	put_line(1, line, A_NORMAL);
	x = strstr(line, lost) - line;
	if (c->lost_total && x < COLS)
		mvchgat(1, x, strlen(lost), A_BOLD | A_REVERSE * !ui->color, PAIR_LOST * ui->color,
			NULL);
	/* what watching costs: the user must see it */
	put_line(2, ui->m.cost[0] ? ui->m.cost : "cost: not measured yet", A_NORMAL);
	/* the lock probes detached: the lock figures are of the time they were attached */
	if (ui->m.probes_off && ui->m.governor[0] && strstr(ui->m.cost, ui->m.governor)) {
		x = strstr(ui->m.cost, ui->m.governor) - ui->m.cost;
		if (x < COLS)
			mvchgat(2, x, strcspn(ui->m.governor, "(") - 1, A_BOLD,
				PAIR_WARNING * ui->color, NULL);
	}
}

static const struct cw_tui_col thread_cols[] = {
	{ "TID", 7, 0, 1 },
	{ "NAME", 15, 0, 0 },
	{ "POLICY", 9, 5, 0 },
	{ "CPU%", 4, 2, 1 },
	{ "LOCK%", 5, 1, 1 },
	{ "FUTEX%", 6, 3, 1 },
	{ "WAITED LONGEST ON", 22, 4, 0 },
	{ "STATE", 10, 0, 0, 1 },
};

static const struct cw_tui_col lock_cols[] = {
	{ "NAME", 12, 0, 0, 1, 40 },
	{ "TYPE", 7, 6, 0 },
	{ "ACQ/s", 8, 2, 1 },
	{ "CONT/s", 8, 3, 1 },
	{ "WAIT", 9, 1, 1 },
	{ "MAXWAIT", 9, 4, 1 },
	{ "MAXHOLD", 9, 5, 1 },
	{ "OWNER", 7, 7, 1 },
	{ "WAITERS", 7, 8, 1 },
};

static const struct cw_tui_col finding_cols[] = {
	{ "SEV", 7, 0, 0 },
	{ "KIND", 22, 1, 0 },
	{ "SEEN", 8, 3, 1 },
	{ "SUMMARY", 30, 0, 0, 1 },
};

static void row_cells(const struct tui *ui, int p, size_t i, const char **cells, char *seen,
		      size_t seen_len)
{
	if (p == CW_TUI_THREADS) {
		const struct cw_tui_thread *r = &ui->m.threads[i];
		static char tid[16];

		snprintf(tid, sizeof(tid), "%u", r->tid);
		cells[0] = tid;
		cells[1] = r->name;
		cells[2] = r->policy;
		cells[3] = r->cpu;
		cells[4] = r->lock;
		cells[5] = r->futex;
		cells[6] = r->waited;
		cells[7] = r->state;
	} else if (p == CW_TUI_LOCKS) {
		const struct cw_tui_lock *r = &ui->m.locks[i];

		cells[0] = r->name;
		cells[1] = r->type;
		cells[2] = r->acq;
		cells[3] = r->cont;
		cells[4] = r->wait;
		cells[5] = r->maxwait;
		cells[6] = r->maxhold;
		cells[7] = r->owner;
		cells[8] = r->nr_waiters;
	} else {
		const struct cw_tui_finding *r = cw_tui_model__finding(&ui->m, i);

		fmt_uptime(seen, seen_len, r->seen_ns);
		cells[0] = r->severity == CW_SEVERITY_ERROR ? "ERROR" : "WARNING";
		cells[1] = r->kind;
		cells[2] = seen;
		cells[3] = r->summary;
	}
}

static attr_t row_attr(const struct tui *ui, int p, size_t i)
{
	if (p == CW_TUI_FINDINGS) {
		const struct cw_tui_finding *r = cw_tui_model__finding(&ui->m, i);

		if (r->severity == CW_SEVERITY_ERROR)
			return color(ui, PAIR_ERROR, A_BOLD);
		return color(ui, PAIR_WARNING, A_NORMAL);
	}
	if (p == CW_TUI_LOCKS && ui->m.locks[i].hotspot)
		return color(ui, PAIR_WARNING, A_NORMAL);
	return A_NORMAL;
}

static void draw_panel(struct tui *ui, int p, int y, int h)
{
	static const char *const names[] = { "Threads", "Locks", "Findings" };
	const struct cw_tui_col *cols = p == CW_TUI_THREADS ? thread_cols :
					p == CW_TUI_LOCKS ? lock_cols : finding_cols;
	size_t nc = p == CW_TUI_THREADS ? ARRAY_SIZE(thread_cols) :
		    p == CW_TUI_LOCKS ? ARRAY_SIZE(lock_cols) : ARRAY_SIZE(finding_cols);
	struct panel *pn = &ui->panel[p];
	size_t nr = cw_tui_model__nr_rows(&ui->m, p), rows = h > 2 ? h - 2 : 0;
	int widths[10];
	char line[LINE_MAX_BYTES], title[96];

	if (h < 1)
		return;
	if (pn->sel >= nr)
		pn->sel = nr ? nr - 1 : 0;
	if (pn->sel < pn->top)
		pn->top = pn->sel;
	if (rows && pn->sel >= pn->top + rows)
		pn->top = pn->sel - rows + 1;
	snprintf(title, sizeof(title), "%s %s (%zu)  sort: %s%s%.32s", ui->focus == p ? ">" : " ",
		 names[p], nr, cw_tui_model__sort_name(p, ui->m.sort[p]),
		 ui->m.filter[0] ? "  filter: " : "", ui->m.filter);
	put_line(y, title, ui->focus == p ? color(ui, PAIR_FOCUS, A_REVERSE) | A_BOLD :
					     color(ui, PAIR_TITLE, A_BOLD));
	if (h < 2)
		return;
	cw_tui__layout(cols, nc, COLS, widths);
	cw_tui__format_row(cols, nc, widths, NULL, COLS, line, sizeof(line));
	put_line(y + 1, line, A_UNDERLINE);
	for (size_t r = 0; r < rows; r++) {
		size_t i = pn->top + r;
		const char *cells[10];
		char seen[32];
		attr_t a;

		if (i >= nr) {
			put_line(y + 2 + r, "", A_NORMAL);
			continue;
		}
		row_cells(ui, p, i, cells, seen, sizeof(seen));
		cw_tui__format_row(cols, nc, widths, cells, COLS, line, sizeof(line));
		a = row_attr(ui, p, i);
		if (ui->focus == p && i == pn->sel)
			a |= A_REVERSE;
		put_line(y + 2 + r, line, a);
	}
}

static const char *const help_lines[] = {
	"concwatch live dashboard: keys",
	"",
	"  Tab, Shift-Tab    next / previous panel (threads, locks, findings)",
	"  Up, Down          move the selection",
	"  PgUp, PgDn        a page up / down",
	"  Home, End         first / last row",
	"  s, F6             sort the panel by its next column",
	"  Enter             open the selected row: a finding's full report; a lock's",
	"                    waits, the call paths that waited and that woke them, its",
	"                    holder and waiters now, the lock order around it; a thread's",
	"                    wait now and its stack, where its time went",
	"  Esc, Left         back from an opened row or this help",
	"  /                 filter every panel by name (a thread's name or tid, a lock's",
	"                    name or type, a finding's kind or summary; any case): type,",
	"                    then Enter keeps the filter, Esc clears it",
	"  p                 pause / resume the display (tracing goes on)",
	"  w                 write the report (what `concwatch report` prints) to a new",
	"                    file, concwatch-PID-DATE-TIME.txt in the current directory",
	"  ?, h, F1          this help",
	"  q, F10            quit: detach every probe and restore the terminal",
	"",
	"Rates (ACQ/s, CONT/s, CPU%, LOCK%, FUTEX%) and WAIT are over the last interval;",
	"MAXWAIT and MAXHOLD since tracing began; an opened lock or thread is as it was when",
	"opened (Esc and Enter again for now). The header's third line is what watching",
	"costs: probe hits at their calibrated cost plus probe programs, as a share of a CPU",
	"and of the target's CPU time; the tracepoint programs' share (every task) apart.",
	"Under a budget (--max-overhead; " CW_TUI_STR(CW_TUI_MAX_OVERHEAD_PCT)
	"% by default, 100 for none) it says whether",
	"the lock probes are attached now, and for what share of the time they were.",
	"",
	"Press any key to go back.",
};

static void draw_text(struct tui *ui, const char *const *lines, size_t nr, size_t top,
		      const char *title)
{
	int h = LINES - 2;

	put_line(0, title, color(ui, PAIR_FOCUS, A_REVERSE) | A_BOLD);
	for (int r = 0; r < h; r++)
		put_line(1 + r, top + r < nr ? lines[top + r] : "", A_NORMAL);
}

static void draw_footer(struct tui *ui)
{
	const char *keys = "Tab panel  s sort  Enter open  / filter  p pause  w save  ? help  "
			   "q quit";
	char edit[128];

	if (ui->editing) {
		snprintf(edit, sizeof(edit), "filter: %s_   (Enter keeps it, Esc clears it)",
			 ui->m.filter);
		keys = edit;
	} else if (ui->view == VIEW_TEXT)
		keys = "Up/Down/PgUp/PgDn scroll  Esc back  q quit";
	else if (ui->view == VIEW_HELP)
		keys = "any key: back";

	put_line(LINES - 1, ui->msg[0] ? ui->msg : keys, A_REVERSE * !ui->color |
			     color(ui, PAIR_TITLE, A_NORMAL));
}

static void draw(struct tui *ui)
{
	erase();
	if (LINES < 5 || COLS < 20) {
		put_line(0, "concwatch: terminal too small", A_BOLD);
		refresh();
		return;
	}
	if (ui->view == VIEW_HELP) {
		draw_text(ui, help_lines, ARRAY_SIZE(help_lines), 0, "Help");
	} else if (ui->view == VIEW_TEXT) {
		char title[64];

		snprintf(title, sizeof(title), "%s  (line %zu of %zu)", ui->text_title,
			 ui->text_top + 1, ui->nr_text);
		draw_text(ui, (const char *const *)ui->text, ui->nr_text, ui->text_top, title);
	} else {
		int body = LINES - 4, y = 3;

		draw_header(ui);
		if (body < 9) {
			/* room for one panel: the focused one */
			draw_panel(ui, ui->focus, y, body);
		} else {
			int ht = body * 2 / 5, hl = body * 3 / 10;

			draw_panel(ui, CW_TUI_THREADS, y, ht);
			draw_panel(ui, CW_TUI_LOCKS, y + ht, hl);
			draw_panel(ui, CW_TUI_FINDINGS, y + ht + hl, body - ht - hl);
		}
	}
	draw_footer(ui);
	if (ui->msg[0] && !ui->msg_until)
		ui->msg_until = cw_now_ns() + MSG_NS;
	else if (ui->msg_until && cw_now_ns() >= ui->msg_until)
		ui->msg[0] = '\0';
	if (!ui->msg[0])
		ui->msg_until = 0;
	refresh();
}

/* ---- keys ---- */

static void free_text(struct tui *ui)
{
	for (size_t i = 0; i < ui->nr_text; i++)
		free(ui->text[i]);
	free(ui->text);
	ui->text = NULL;
	ui->nr_text = ui->text_top = 0;
}

/* Show text (escaped already) as lines to scroll. */
static void show_text(struct tui *ui, const char *title, const char *p)
{
	size_t cap = 0;

	free_text(ui);
	snprintf(ui->text_title, sizeof(ui->text_title), "%s", title);
	/* the report's text begins with a blank line before each finding */
	while (*p == '\n')
		p++;
	while (*p) {
		size_t n = strcspn(p, "\n");
		char **v = cw_grow(ui->text, &cap, ui->nr_text + 1, sizeof(*v));

		if (!v)
			break;
		ui->text = v;
		ui->text[ui->nr_text] = strndup(p, n);
		if (!ui->text[ui->nr_text])
			break;
		/* tabs are not cells: the report uses none, but a name might */
		for (char *c = ui->text[ui->nr_text]; *c; c++)
			if (*c == '\t')
				*c = ' ';
		ui->nr_text++;
		p += n;
		if (*p)
			p++;
	}
	ui->view = VIEW_TEXT;
}

/* Enter: the selected row of the focused panel, opened. */
static void open_row(struct tui *ui)
{
	size_t sel = ui->panel[ui->focus].sel;
	char *text = NULL;

	switch (ui->focus) {
	case CW_TUI_FINDINGS:
		if (sel < ui->m.nr_forder)
			show_text(ui, "Finding", cw_tui_model__finding(&ui->m, sel)->text);
		return;
	case CW_TUI_LOCKS:
		text = cw_tui_model__lock_text(&ui->m, ui->eng, ui->t, sel);
		if (text)
			show_text(ui, "Lock", text);
		break;
	case CW_TUI_THREADS:
		text = cw_tui_model__thread_text(&ui->m, ui->eng, ui->t, sel);
		if (text)
			show_text(ui, "Thread", text);
		break;
	}
	free(text);
}

/* Up, down, a page, the ends: on a panel's selection or the text's first line. */
static void move_sel(size_t *pos, size_t nr, int key, size_t page)
{
	if (!page)
		page = 1;
	switch (key) {
	case KEY_UP:
		if (*pos)
			(*pos)--;
		break;
	case KEY_DOWN:
		if (*pos + 1 < nr)
			(*pos)++;
		break;
	case KEY_PPAGE:
		*pos = *pos > page ? *pos - page : 0;
		break;
	case KEY_NPAGE:
		*pos = nr ? (*pos + page < nr ? *pos + page : nr - 1) : 0;
		break;
	case KEY_HOME:
		*pos = 0;
		break;
	case KEY_END:
		*pos = nr ? nr - 1 : 0;
		break;
	}
}

/*
 * w: the report, as `concwatch report` prints it, into a new file of the current
 * directory, named by the process and the time; never over an existing file.
 */
static void save_report(struct tui *ui)
{
	struct cw_symbols *sym = cw_report__snapshot_symbols(ui->m.snap);
	char dir[2048], path[2200];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = NULL;
	int err = 0;

	if (!getcwd(dir, sizeof(dir)))
		snprintf(dir, sizeof(dir), ".");
	localtime_r(&now, &tm);
	for (int n = 0; n < 100 && !f; n++) {
		int len = snprintf(path, sizeof(path), "%s/concwatch-%d-%04d%02d%02d-%02d%02d%02d",
				   dir, ui->t->pid, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
				   tm.tm_hour, tm.tm_min, tm.tm_sec);

		snprintf(path + len, sizeof(path) - len, n ? "-%d.txt" : ".txt", n);
		f = fopen(path, "wx");
		if (!f && errno != EEXIST)
			break;
	}
	if (!f) {
		snprintf(ui->msg, sizeof(ui->msg), "cannot write the report: %s", strerror(errno));
		return;
	}
	/* the report says what share of the time the lock calls were traced, as of now */
	cw_tui_model__coverage(&ui->m, ui->eng, ui->t);
	err = sym ? cw_report__text(f, ui->eng, sym, ui->t) : -ENOMEM;
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		snprintf(ui->msg, sizeof(ui->msg), "cannot write the report: %s", strerror(-err));
	else
		snprintf(ui->msg, sizeof(ui->msg), "report written to %.100s", path);
}

/* A key while the filter is typed: every row is filtered again at once. */
static void edit_filter(struct tui *ui, int key)
{
	size_t n = strlen(ui->m.filter);

	if (key == 27) {
		ui->m.filter[0] = '\0';
		ui->editing = 0;
	} else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
		ui->editing = 0;
	} else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
		if (n)
			ui->m.filter[n - 1] = '\0';
	} else if (key >= 0x20 && key < 0x7f && n + 1 < sizeof(ui->m.filter)) {
		ui->m.filter[n] = key;
		ui->m.filter[n + 1] = '\0';
	}
	cw_tui_model__sort(&ui->m);
}

/* 1 to quit. */
static int on_key(struct tui *ui, int key)
{
	if (key == KEY_RESIZE) {
		clearok(curscr, TRUE);
		return 0;
	}
	if (ui->editing) {
		edit_filter(ui, key);
		return 0;
	}
	if (ui->view == VIEW_HELP) {
		if (key == 'q' || key == KEY_F(10))
			return 1;
		ui->view = VIEW_MAIN;
		return 0;
	}
	if (ui->view == VIEW_TEXT) {
		size_t page = LINES > 3 ? LINES - 3 : 1;
		size_t last = ui->nr_text > page ? ui->nr_text - page : 0;

		switch (key) {
		case 'q':
		case KEY_F(10):
			return 1;
		case 27:
		case KEY_LEFT:
		case KEY_BACKSPACE:
			ui->view = VIEW_MAIN;
			free_text(ui);
			return 0;
		}
		move_sel(&ui->text_top, last + 1, key, page);
		return 0;
	}
	switch (key) {
	case 'q':
	case KEY_F(10):
		return 1;
	case '\t':
		ui->focus = (ui->focus + 1) % CW_TUI_NR_PANELS;
		return 0;
	case KEY_BTAB:
		ui->focus = (ui->focus + CW_TUI_NR_PANELS - 1) % CW_TUI_NR_PANELS;
		return 0;
	case 's':
	case KEY_F(6):
		ui->m.sort[ui->focus] = (ui->m.sort[ui->focus] + 1) %
					cw_tui_model__nr_sorts(ui->focus);
		cw_tui_model__sort(&ui->m);
		return 0;
	case 'p':
		ui->paused = !ui->paused;
		return 0;
	case '/':
		ui->editing = 1;
		return 0;
	case 'w':
		save_report(ui);
		return 0;
	case '?':
	case 'h':
	case KEY_F(1):
		ui->view = VIEW_HELP;
		return 0;
	case '\n':
	case '\r':
	case KEY_ENTER:
		open_row(ui);
		return 0;
	}
	move_sel(&ui->panel[ui->focus].sel, cw_tui_model__nr_rows(&ui->m, ui->focus), key,
		 LINES > 12 ? (size_t)(LINES - 12) / 3 : 1);
	return 0;
}

/* Every key waiting; 1 to quit. */
static int read_keys(struct tui *ui)
{
	int key, any = 0;

	while ((key = getch()) != ERR) {
		any = 1;
		if (on_key(ui, key))
			return 1;
	}
	if (any)
		draw(ui);
	return 0;
}

/* ---- setup and the loop ---- */

static int start_curses(struct tui *ui, char *err, size_t errlen)
{
	const char *no_color = getenv("NO_COLOR");

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		snprintf(err, errlen, "the dashboard needs a terminal (use --batch for text)");
		return -ENOTTY;
	}
	setlocale(LC_ALL, "");
	/* Esc goes back at once: no escape sequence here is typed slower than 25 ms */
	if (!getenv("ESCDELAY"))
		set_escdelay(25);
	if (!newterm(NULL, stdout, stdin)) {
		snprintf(err, errlen, "cannot use the terminal (TERM=%s)",
			 getenv("TERM") ? getenv("TERM") : "");
		return -ENOTTY;
	}
	curses_on = 1;
	/* after newterm(): ours replace what it installed (SIGWINCH) */
	install_handlers();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	/* NO_COLOR (no-color.org): set and not empty means no colour */
	ui->color = has_colors() && !(no_color && no_color[0]);
	if (ui->color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
		init_pair(PAIR_FOCUS, COLOR_BLACK, COLOR_GREEN);
		init_pair(PAIR_ERROR, COLOR_RED, -1);
		init_pair(PAIR_WARNING, COLOR_YELLOW, -1);
		init_pair(PAIR_LOST, COLOR_WHITE, COLOR_RED);
		init_pair(PAIR_EXITED, COLOR_WHITE, COLOR_RED);
	}
	return 0;
}

static void tui_fini(struct tui *ui)
{
	free_text(ui);
	cw_tui_model__fini(&ui->m);
}

static int update(struct tui *ui, char *err, size_t errlen)
{
	int ret = cw_tui_model__refresh(&ui->m, ui->eng, ui->t, ui->exited, cw_now_ns());

	if (ret)
		snprintf(err, errlen, "failed to take a snapshot: %s", strerror(-ret));
	return ret;
}

/* The target exited: its last state stays, and only keys (and signals) are waited for. */
static int exited_loop(struct tui *ui)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

	for (;;) {
		if (*ui->o->stop)
			return 0;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
		wake = 0;
		if (resize_seen) {
			resized();
			draw(ui);
		}
		if (read_keys(ui))
			return 0;
	}
}

int cw_tui__run(struct cw_session *sess, struct cw_engine *eng, struct cw_report_target *t,
		const struct cw_tui_opts *opts, char *err, size_t errlen)
{
	struct tui ui = { .sess = sess, .eng = eng, .t = t, .o = opts };
	__u64 next;
	int ret;

	err[0] = '\0';
	if (cw_tui_model__init(&ui.m, cw_now_ns())) {
		cw_tui_model__fini(&ui.m);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ui.m.budget_pct = opts->max_overhead_pct;
	stop_flag = opts->stop;
	ret = start_curses(&ui, err, errlen);
	if (ret) {
		tui_fini(&ui);
		return ret;
	}
	cw_session__watch_fd(sess, STDIN_FILENO);
	draw(&ui);
	next = ui.m.start_ns + opts->interval_ns;
	for (;;) {
		int end;

		end = cw_session__run(sess, next, &wake);
		if (end < 0) {
			snprintf(err, errlen, "%s", cw_session__error(sess));
			ret = end;
			break;
		}
		if (*opts->stop)
			break;
		wake = 0;
		if (resize_seen) {
			resized();
			draw(&ui);
		}
		if (end == CW_SESSION_TARGET_EXITED || end == CW_SESSION_ENDED) {
			/* every record the target made, then its last picture */
			snprintf(ui.msg, sizeof(ui.msg), "process %d exited: its last state stays; "
				 "w saves the report, q quits", t->pid);
			ret = cw_session__finish(sess);
			ui.exited = 1;
			if (!ret)
				ret = update(&ui, err, errlen);
			if (ret) {
				if (!err[0])
					snprintf(err, errlen, "%s", cw_session__error(sess));
				break;
			}
			draw(&ui);
			ret = exited_loop(&ui);
			break;
		}
		if (read_keys(&ui))
			break;
		if (cw_now_ns() >= next) {
			/* a fixed cadence, as --batch: a slow refresh is not added to the next */
			next += opts->interval_ns;
			if (next < cw_now_ns())
				next = cw_now_ns() + opts->interval_ns;
			if (!ui.paused) {
				ret = update(&ui, err, errlen);
				if (ret)
					break;
			}
			draw(&ui);
		}
	}
	cw_session__watch_fd(sess, -1);
	if (!ui.exited) {
		snprintf(ui.msg, sizeof(ui.msg), "detaching...");
		draw(&ui);
		if (cw_session__finish(sess) < 0 && !ret) {
			snprintf(err, errlen, "%s", cw_session__error(sess));
			ret = -EIO;
		}
	}
	restore_terminal();
	remove_handlers();
	tui_fini(&ui);
	return ret;
}
