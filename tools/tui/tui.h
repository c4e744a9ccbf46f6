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

/*
 * The dashboard's budget for the lock probes when --max-overhead is not given: 10% of
 * the target's CPU time. The dashboard is what one points at a live process, perhaps a
 * production one, without a thought for the cost, and a lock/unlock pair under the
 * probes costs 1.1 to 13 us depending on the host (../shared/PERF-NOTES.md; memcached
 * ran 6-7 times slower traced on the slow one). Under 10% the probes stay attached
 * throughout for up to about 70,000 pairs per second of the target's CPU time where a
 * pair costs 1.4 us, 8,000 where it costs 13 us; a process that locks more is sampled
 * (engine/governor.h) instead of slowed down several times. Twice the 5% the memcached
 * benchmark (bench/run-memcached.sh) holds `report -p` to: someone watching wants more
 * of the lock calls, and sees the cost and the probes' state in the header. Only the
 * dashboard: --batch, report, record and run trace as asked. --max-overhead 100 turns
 * it off: a window's cost counts as at most the target's CPU time, so a budget of all
 * of it is always met and the probes are never detached. Not with --no-uprobes, which
 * has no lock probes, nor with the kernel module: the governor is the BPF source's.
 */
#define CW_TUI_MAX_OVERHEAD_PCT 10

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
