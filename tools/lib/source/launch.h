/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The process launcher of `concwatch run -- CMD`: start CMD under ptrace and follow every
 * process it and its descendants create or exec, each one stopped where the caller can
 * attach per-process uprobes before it runs a single instruction of its own.
 *
 * Typical use, from a poll loop that also polls the BPF ring buffer:
 *
 *	cw_launch__start(argv, &l, err, sizeof(err));
 *	for (;;) {
 *		while ((n = cw_launch__next(l, &ev, 0)) == 1) {
 *			if (ev.kind != CW_LAUNCH_EXIT) {
 *				attach probes to ev.pid;
 *				cw_launch__resume(l, ev.pid);
 *			} else {
 *				drop ev.pid's probes;
 *			}
 *		}
 *		if (n == -ECHILD)
 *			break;			   every process is gone
 *		poll cw_launch__fd(l) and the ring buffer;
 *	}
 *	exit(cw_launch__status(l));
 *
 * Ask for events before the first poll: the command's EXEC is waiting already.
 *
 * At the EXEC of a dynamically linked program only the executable and ld.so are mapped:
 * probes on libc must name its file (the kernel arms a uprobe when the file is mapped),
 * not an address read from /proc/PID/maps.
 *
 * Every call must come from the thread that called cw_launch__start(): ptrace requests
 * are only accepted from the tracing thread. That thread reaps its own children
 * (waitpid(-1, __WNOTHREAD)): it should start no other child it means to wait for.
 * SIGCHLD must stay blocked in every thread of the caller for the descriptor to work:
 * cw_launch__start() blocks it in the calling thread; threads created afterwards inherit
 * that; threads created before must block it themselves.
 */
#ifndef __CW_LAUNCH_H
#define __CW_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

enum cw_launch_event_kind {
	/*
	 * pid replaced its image (execve). It is stopped before the first instruction of
	 * the new image (ld.so's entry, or the entry of a static binary) until
	 * cw_launch__resume(). The command itself is first reported this way.
	 */
	CW_LAUNCH_EXEC = 1,
	/*
	 * pid is a new process (fork, vfork, or clone without CLONE_THREAD). It is stopped
	 * before its first instruction until cw_launch__resume(); it runs its parent's
	 * image in a new address space that the parent's per-process probes do not cover.
	 * Its parent has been resumed already.
	 */
	CW_LAUNCH_FORK,
	/* pid is gone, all its threads with it. */
	CW_LAUNCH_EXIT,
	/*
	 * With CW_LAUNCH_F_EXITING only: the leader of pid is exiting (exit_group, or it
	 * alone), stopped before it lets go of its memory: /proc/PID/maps still reads.
	 * Held until cw_launch__resume().
	 */
	CW_LAUNCH_EXITING,
};

/* cw_launch__start_flags() */
#define CW_LAUNCH_F_EXITING (1 << 0)	/* report CW_LAUNCH_EXITING */

struct cw_launch_event {
	enum cw_launch_event_kind kind;
	pid_t pid;	/* the process concerned: its thread group id */
	pid_t ppid;	/* its parent when it was created (for the command: the caller's pid) */
	int status;	/* CW_LAUNCH_EXIT: exit code, or 128+N when killed by signal N; -1 when
			 * unknown (someone else reaped it); 0 for the other kinds */
	int held;	/* EXEC, FORK: stopped until cw_launch__resume() or _release(); 0: a
			 * process followed without ptrace (below), running already */
	__u64 ts_ns;	/* held 0: when it happened (CLOCK_MONOTONIC), as the kernel said */
};

struct cw_launch;

/*
 * Start argv (argv[0] looked up in PATH) in a new child that stays in the caller's
 * process group and session, traced from before its execve. Returns once the command is
 * stopped at the first instruction of its new image; its CW_LAUNCH_EXEC event is the
 * first cw_launch__next() returns. On failure err holds one line for the user and -errno
 * is returned (-ENOENT, -EACCES... when argv[0] cannot be executed).
 */
int cw_launch__start(char *const argv[], struct cw_launch **out, char *err, size_t errlen);
/* The same, with CW_LAUNCH_F_* flags. */
int cw_launch__start_flags(char *const argv[], int flags, struct cw_launch **out, char *err,
			   size_t errlen);

/* The command's pid. */
pid_t cw_launch__pid(const struct cw_launch *l);

/*
 * A descriptor that polls readable when cw_launch__next() may have something to say.
 * After it does, call cw_launch__next(l, &ev, 0) until it returns 0 or -ECHILD: it only
 * becomes readable again for what happens afterwards.
 */
int cw_launch__fd(const struct cw_launch *l);

/*
 * The next event, waiting up to timeout_ms for it (0: do not wait; -1: no limit).
 * Returns 1 with *ev filled, 0 when none came in time, -ECHILD once every traced process
 * has exited and its events have been returned, -EINTR when a signal handler ran while
 * waiting, or -errno. Processes reported by EXEC, FORK and EXITING stay stopped until
 * cw_launch__resume(); waiting without a limit while the last ones are held never ends.
 */
int cw_launch__next(struct cw_launch *l, struct cw_launch_event *ev, int timeout_ms);

/* Let a process held at its EXEC, FORK or EXITING event run. 0, or -ESRCH when not held. */
int cw_launch__resume(struct cw_launch *l, pid_t pid);

/*
 * Let a process held at its EXEC or FORK event run untraced by ptrace, and follow it
 * from then on through the kernel's process events (the netlink process connector):
 * its forks and execs, and theirs, are reported after the fact with held 0, its exit
 * through a pidfd (status -1 unless it is the command). For a process that records
 * itself (the in-process library) and needs no stop to be traced: ptrace is then free
 * for the program's own use (a debugger, strace, LeakSanitizer). 0; -ESRCH when pid is
 * not held at an EXEC or FORK; -errno (the process connector is not available: the
 * process stays held, resume it).
 */
int cw_launch__release(struct cw_launch *l, pid_t pid);

/*
 * Trace again, from its next exec, a released process about to exec a program that will
 * not record itself: thread tid of process pid (the one calling execve) is attached, and
 * its exec is reported held (CW_LAUNCH_EXEC, held 1), as a process never released
 * would be. 0; -ESRCH when pid is not released (or is gone); -errno.
 */
int cw_launch__seize(struct cw_launch *l, pid_t pid, pid_t tid);

/*
 * How many times the kernel dropped messages of the process connector (its queue
 * overflowed): children of released processes may have gone unseen then.
 */
unsigned long cw_launch__lost(const struct cw_launch *l);

/* The command's exit status in shell form (code, or 128+N for signal N); -1 until known. */
int cw_launch__status(const struct cw_launch *l);

/*
 * Stop tracing: every traced thread is stopped and detached, with the signal it was
 * about to receive; a process in a group-stop (SIGSTOP, ^Z) stays stopped, held ones
 * start running; released ones are no longer followed. Blocks until all have been
 * detached; their exits are not seen afterwards, so cw_launch__status() stays -1 if the
 * command had not exited.
 * 0 or -errno.
 */
int cw_launch__detach_all(struct cw_launch *l);

/*
 * Kill every traced and released process (SIGKILL) and collect its end: for a command
 * whose tracing failed, which must not run on untraced. One held at its EXEC or FORK
 * event dies before its first instruction. Processes created meanwhile die too. Returns
 * the number of processes killed, or -errno.
 */
int cw_launch__kill_all(struct cw_launch *l);

/* Detach what is still traced, restore the caller's SIGCHLD mask and action; NULL is fine. */
void cw_launch__free(struct cw_launch *l);

#endif /* __CW_LAUNCH_H */
