/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live dashboard (`concwatch -p PID`): the engine's model of a traced process drawn
 * with ncurses, refreshed every interval. It draws what the report layer computes for
 * the batch snapshots and the reports (report/report.h): it decides nothing itself.
 * The only place concwatch calls curses.
 */
#ifndef __CW_TUI_H
#define __CW_TUI_H

#include <signal.h>
#include <linux/types.h>

struct cw_session;
struct cw_engine;
struct cw_report_target;

struct cw_tui_opts {
	__u64 interval_ns;		/* between refreshes (-d) */
	const char *backend;		/* shown in the header */
	int no_uprobes;			/* --no-uprobes: the mode in the header */
	double max_overhead_pct;	/* the lock probes' budget the source governs them by
					 * (--max-overhead, or the dashboard's default): their
					 * state in the header; 0: none */
	volatile sig_atomic_t *stop;	/* set by SIGINT, SIGTERM, SIGHUP: quit */
};

/*
 * Run the dashboard on a started session whose sink is eng, until the user quits, a
 * signal sets *opts->stop, or an error. The session is finished (every probe detached)
 * before it returns, and the terminal restored. A target that exits stays on screen,
 * marked exited, until the user quits. 0, or -errno with one line in err.
 */
int cw_tui__run(struct cw_session *sess, struct cw_engine *eng, struct cw_report_target *t,
		const struct cw_tui_opts *opts, char *err, size_t errlen);

#endif /* __CW_TUI_H */
