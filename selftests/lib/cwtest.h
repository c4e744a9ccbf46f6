/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers for concwatch's selftests: locating binaries, driving workloads, skip reasons. */
#ifndef __CWTEST_H
#define __CWTEST_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

#include "engine/record.h"

/*
 * Every test that traces loads the BPF programs, ~10 s in the QEMU guests under TCG
 * (more as the programs grow), and many trace several commands: the harness's default
 * of 30 s per test (kselftest_harness.h, included before this file) is raised for all.
 * A test that hangs still ends, and fails, at this bound.
 */
#ifdef TEST_TIMEOUT_DEFAULT
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120
#endif

struct cw_session;
struct cw_source_opts;

/* A workload started with the handshake of selftests/workloads/wl.h. */
struct cw_wl {
	pid_t pid;
	FILE *out;		/* its stdout */
	int in_fd;		/* its stdin */
	char ready[512];	/* its "ready ..." line */
	char done[512];		/* its "done ..." line, after cw_wl__go() */
};

/* Called in the child between fork and exec (drop privileges, enter a namespace...);
 * a non-zero return makes the child exit 126 with the reason on stderr. */
typedef int (*cw_prep_fn)(void);

/* Start workload name (from the workloads directory) with args (NULL-terminated, may be NULL)
 * and wait for its ready line. 0 or -errno. */
int cw_wl__start(struct cw_wl *wl, const char *name, const char *const args[]);
/* The same, with prep run in the child before exec. */
int cw_wl__start_prep(struct cw_wl *wl, const char *name, const char *const args[],
		      cw_prep_fn prep);
/*
 * The same for a command that runs a workload with its own standard input and output,
 * `concwatch run -- WORKLOAD -w ...` say: argv[0] a path; its stderr on err_fd (-1: ours).
 * wl->pid is the command's (cw_wl__stop() reaps it and returns its status); the
 * workload's own is in its ready line (pid=).
 */
int cw_wl__start_cmd(struct cw_wl *wl, const char *const argv[], int err_fd);
/* Send "go" and wait for the done line. 0 or -errno. */
int cw_wl__go(struct cw_wl *wl);
/* Steps of longer handshakes: send one line; read one that must start with prefix. */
int cw_wl__send(struct cw_wl *wl, const char *line);
int cw_wl__expect(struct cw_wl *wl, const char *prefix, char *buf, size_t len);

/*
 * Wait until thread tid of pid is really blocked in the futex system call: asleep, and
 * /proc says its current syscall is futex (202 on x86-64). Polls /proc, yielding the
 * CPU between looks; 0, or -ESRCH when the thread went away.
 */
int cw_wait_futex_blocked(int pid, int tid);
/* The same for system call nr (SYS_read, ...): asleep (state S) in it. */
int cw_wait_blocked_in(int pid, int tid, int nr);
/* The same for a futex wait on the word at uaddr. */
int cw_wait_futex_on(int pid, int tid, unsigned long long uaddr);
/* Close its stdin and reap it: its exit status as waitpid reports it, or -errno. */
int cw_wl__stop(struct cw_wl *wl);

/*
 * Drain a session in a thread of its own while the test drives the workload: records
 * are read as they come, as concwatch does, so none is lost to a full ring buffer.
 */
struct cw_drain {
	struct cw_session *sess;
	pthread_t thread;
	volatile sig_atomic_t stop;
	long end;		/* what cw_session__run returned */
};

int cw_drain__start(struct cw_drain *d, struct cw_session *sess);

/*
 * Trace as concwatch does: a source made by cw_source__open() from so, in a session
 * that ends with process so->pid, records to sink. 0 or -errno with err set.
 */
int cw_trace__open(const struct cw_source_opts *so, cw_record_fn sink, void *sink_ctx,
		   struct cw_session **out, char *err, size_t errlen);
struct cw_source;

/*
 * --backend preload as run does it, for a workload the test starts: the library's source
 * opened from so (so->pid is ignored) and the workload started with the library in its
 * environment (cw_wl__start()); then cw_trace__open_preload() with the workload's pid
 * traces it, the library's source beside the BPF programs without uprobes. 0 or -errno
 * with err set.
 */
int cw_wl__start_preload(struct cw_wl *wl, const char *name, const char *const args[],
			 const struct cw_source_opts *so, struct cw_source **src, char *err,
			 size_t errlen);
int cw_trace__open_preload(struct cw_source *src, const struct cw_source_opts *so,
			   cw_record_fn sink, void *sink_ctx, struct cw_session **out, char *err,
			   size_t errlen);
/* Stop draining, join the thread: what cw_session__run returned (CW_SESSION_STOPPED). */
long cw_drain__stop(struct cw_drain *d);

/* mkstemp()/mkdtemp()'s six X, split so the tree's checks for triple-X markers keep quiet. */
#define CW_TMP_X "XX" "XX" "XX"

/* The number after "key=" in line (any base strtoull takes), or -1 when absent. */
long long cw_field(const char *line, const char *key);

/* Path of a built binary: $CW_BIN for "concwatch", $CW_WORKLOADS/name for workloads;
 * by default found next to the running test in the build tree. */
const char *cw_bin_path(void);
const char *cw_workload_path(const char *name, char *buf, size_t len);

/*
 * A new file /tmp/PREFIX-WHAT.<six random characters>, readable by all (concwatch may
 * write it as another user); its path in buf. The descriptor, or -1.
 */
int cw_tmp_file(char *buf, size_t len, const char *prefix, const char *what);
/* File path holds a line containing what. */
int cw_file_has(const char *path, const char *what);
/* `jq -e FILTER < PATH` holds (jq installed: the caller checks). */
int cw_jq_holds(const char *path, const char *filter);

/*
 * Start a tracing concwatch (argv[0] its path; give -v: it must say "tracing process")
 * with its stdout on out_fd (-1: ours) and stderr on err_fd, the file err_path, both
 * closed here; return once its probes are in place, as it says: its pid. -ECHILD when it
 * ended before (*status: how), -ETIMEDOUT when it said nothing for 60 s, -errno.
 */
pid_t cw_trace_start(const char *const argv[], int out_fd, int err_fd, const char *err_path,
		     int *status);

/* A workload's run under a concwatch that writes a JSON report. */
struct cw_report {
	struct cw_wl wl;	/* the workload's lines */
	char json[64];		/* the JSON report */
	char err[64];		/* concwatch's stderr */
	pid_t pid;		/* the workload's */
};

/*
 * Workload name, given -w and args (NULL-terminated, may be NULL), under `concwatch run -v
 * --backend preload --json -o FILE OPTS -- WORKLOAD -w ARGS` (opts NULL-terminated, may be
 * NULL): run starts it with the in-process library, which cannot be given to a running
 * process, and the workload's handshake goes through run, whose command keeps its
 * standard input and output; the workload is let go at once and run ends when it does.
 * The report in r->json and concwatch's stderr in r->err (new files from cw_tmp_file()
 * with prefix), the workload's lines in r->wl, its pid (from its ready line) in r->pid.
 * 0 once run exited 0, else -1 with what went wrong in why.
 */
int cw_report__run_preload(struct cw_report *r, const char *prefix, const char *const opts[],
			   const char *name, const char *const args[], char *why, size_t len);

/*
 * The file at path as "# " lines on stderr, at most max bytes of it: the evidence of a
 * failed check, in the log of a run whose files are gone with it (a guest's). Returns "".
 */
const char *cw_log_file(const char *path, size_t max);

/* Expect a jq filter (printf format) to hold on the JSON file r->json (shown if not). */
#define EXPECT_JQ(r, ...)                                                              \
	do {                                                                           \
		char _f[4096];                                                         \
		snprintf(_f, sizeof(_f), __VA_ARGS__);                                 \
		EXPECT_TRUE(cw_jq_holds((r)->json, _f))                                \
			TH_LOG("jq -e '%s' does not hold in %s:%s", _f, (r)->json,     \
			       cw_log_file((r)->json, 65536));                         \
	} while (0)

/* Iteration counts shrink by $CW_TEST_SCALE under emulation (QEMU TCG); never below 1. */
long cw_scale(long n);

/*
 * The 6.1 kselftest harness runs a TEST_F's body even when its FIXTURE_SETUP called
 * SKIP(): bodies whose setup may skip start with this.
 */
#define CW_SKIPPED_IN_SETUP()            \
	do {                             \
		if (_metadata->skip)     \
			return;          \
	} while (0)

/* Why live tracing tests cannot run here (not root, no BTF), or NULL when they can. */
const char *cw_live_skip_reason(void);
/* In a kselftest harness test: skip it, saying why, unless live tracing can run here. */
#define LIVE_OR_SKIP()                                                   \
	do {                                                             \
		const char *why = cw_live_skip_reason();                 \
		if (why)                                                 \
			SKIP(return, "%s", why);                         \
	} while (0)
/*
 * The kernel module loaded, from CW_KMOD (default /cw/kmod/concwatch.ko, where the QEMU
 * guests have it): 1 when this call loaded it (cw_kmod_unload() it after), 0 when it was
 * loaded, -1 with why it cannot be (no file, modules disabled).
 */
int cw_kmod_load(char *why, size_t len);
/*
 * Why a live test through the kernel module cannot run here (cw_live_skip_reason(), or
 * the module cannot be loaded), or NULL with the module loaded: *loaded 1 when this call
 * loaded it (cw_kmod_unload() it after). The reason is in a static buffer.
 */
const char *cw_kmod_skip_reason(int *loaded);
int cw_kmod_unload(void);

/*
 * Entries of process pid (of its thread tid; -1: of all its threads) in this process's
 * own lock_sites map, found among our file descriptors (other tracers on the machine
 * have theirs), or -errno (-ENOENT: no such map open).
 */
int cw_lock_sites_of(int pid, int tid);

/* Run argv to completion, capturing stdout and stderr (malloc'ed, NUL-terminated).
 * prep may be NULL. Returns the waitpid status, or -errno. */
int cw_run_capture(const char *const argv[], cw_prep_fn prep, char **out, char **err);

/* Start argv with stdout and stderr on pipes (*out, *err: read ends); prep may be NULL.
 * Returns the pid or -errno. */
pid_t cw_spawn(const char *const argv[], cw_prep_fn prep, int *out, int *err);

/* Count the lines of s (a final line without newline counts). */
int cw_count_lines(const char *s);

#endif /* __CWTEST_H */
