// SPDX-License-Identifier: GPL-2.0
/*
 * concwatch: see how the threads of a live process coordinate, and where that goes wrong.
 * Command line entry: parses the subcommands (Documentation/usage.md) and dispatches.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <concwatch/kmod.h>

#include "engine/engine.h"
#include "engine/findings.h"
#include "engine/waitfor.h"
#include "report/classify.h"
#include "report/export.h"
#include "report/report.h"
#include "report/symbols.h"
#include "source/follow.h"
#include "source/launch.h"
#include "source/preload.h"
#include "source/recording.h"
#include "source/session.h"
#include "source/target.h"
#include "tui/tui.h"

/* Exit codes of the contract (Documentation/usage.md). */
#define EXIT_USAGE 2
#define EXIT_ENV 3
/* run and record -- CMD: the shell's codes for a command that could not start */
#define EXIT_CMD_CANNOT_RUN 126
#define EXIT_CMD_NOT_FOUND 127
/* ... and for one still running when concwatch was interrupted: 128 + SIGINT */
#define EXIT_INTERRUPTED 130

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum command { CMD_LIVE, CMD_RUN, CMD_RECORD, CMD_REPORT, CMD_DEADLOCK, CMD_EXPORT };

static struct env {
	enum command cmd;
	const char *prog;	/* "concwatch" or "concwatch run" ...: prefix of messages */
	int pid;
	int batch;
	long iterations;	/* 0: until interrupted */
	double interval_s;	/* --batch: between snapshots */
	double duration_s;	/* 0: until interrupted or the target exits */
	int json;
	const char *file;
	const char *output;	/* -o: record, export; the report of run, report, deadlock */
	const char *format;
	const char *fail_on;
	__u64 fail_on_kinds;	/* a bit per enum cw_finding_kind: what matches */
	__u64 fail_on_named;	/* ... the kinds named, not through all */
	int exit_code;
	const char *backend;
	int verbose;
	int track_free;
	int no_uprobes;		/* futex, scheduler and kernel-lock tracing only */
	int measure_cost;	/* the source sends what tracing costs (the dashboard's) */
	int timeline;		/* record --timeline */
	size_t ringbuf_bytes;
	long stack_bytes;	/* 0: default; -1: copy none */
	const char *debuginfo_path;
	unsigned int hotspot_pct;	/* --hotspot-threshold; 0: CW_HOTSPOT_DEFAULT_PCT */
	__u64 livelock_ns;	/* --livelock-threshold; 0: CW_LL_THRESHOLD_NS */
	double max_overhead_pct;	/* --max-overhead; 0: no governor */
	__u64 pi_threshold_ns;	/* --pi-threshold; 0: the default (1 ms) */
	__u64 stall_threshold_ns;	/* --stall-threshold; 0: the default (100 ms) */
	__u64 block_threshold_ns;	/* --block-threshold; 0: the default (10 ms) */
	char **cmd_argv;	/* run/record: the command to start */
} env = {
	.interval_s = 1,
	.exit_code = 66,
};

const char *argp_program_version = "concwatch " CW_VERSION;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static void __attribute__((format(printf, 1, 2), noreturn)) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", env.prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", env.prog);
	exit(EXIT_USAGE);
}

static int __attribute__((format(printf, 2, 3))) fail(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", env.prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* How -o names a file in messages. */
static const char *out_name(const char *path, FILE *dflt)
{
	if (path && strcmp(path, "-"))
		return path;
	return path || dflt == stdout ? "standard output" : "standard error";
}

/*
 * Before anything runs or any file is made: -o can be written, and is not the input
 * (a recording read by report or export). A file that does not exist yet is created and
 * removed again, so that a command that fails later leaves none behind.
 */
static int check_output(const char *path, const char *input, int dash_is_stdout)
{
	struct stat st, in;
	int fd;

	if (!path || (dash_is_stdout && !strcmp(path, "-")))
		return 0;
	if (!stat(path, &st)) {
		if (input && !stat(input, &in) && in.st_dev == st.st_dev && in.st_ino == st.st_ino)
			return fail(EXIT_USAGE, "-o %s is the input %s itself: writing it would "
						"destroy what is read", path, input);
		if (S_ISDIR(st.st_mode))
			return fail(EXIT_ENV, "cannot write %s: %s", path, strerror(EISDIR));
		/* a device or a FIFO is not opened here: that could block, or have effects */
		if (!S_ISREG(st.st_mode))
			return access(path, W_OK) ? fail(EXIT_ENV, "cannot write %s: %s", path,
							  strerror(errno)) : 0;
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		return 0;
	}
	if (errno != ENOENT)
		return fail(EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
	close(fd);
	unlink(path);
	return 0;
}

/*
 * Write len bytes of buf to -o's path: NULL for dflt, "-" for standard output. A report
 * is made in memory first (open_memstream) and written here with write(2), so that a
 * failure says its own cause (ENOSPC, not stdio's EIO) and names the file.
 */
static int write_output(const char *path, FILE *dflt, const char *buf, size_t len)
{
	int fd, err = 0;

	/* what stdio holds comes first */
	fflush(stdout);
	fflush(stderr);
	if (!path || !strcmp(path, "-")) {
		fd = path ? STDOUT_FILENO : fileno(dflt);
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail(EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
	}
	while (len && !err) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno != EINTR)
			err = errno;
		if (n > 0) {
			buf += n;
			len -= n;
		}
	}
	/* close(2) can be the first to hear of a failed write (NFS, quotas) */
	if (path && strcmp(path, "-") && close(fd) && !err)
		err = errno;
	if (err)
		return fail(EXIT_ENV, "failed to write %s: %s", out_name(path, dflt), strerror(err));
	return 0;
}

/* Whether s is a plain decimal number: digits, and a fraction when frac (1.5, not .5 or 1.). */
static size_t decimal_len(const char *s, int frac)
{
	size_t n = strspn(s, "0123456789"), f;

	if (!n || !frac || s[n] != '.')
		return n;
	f = strspn(s + n + 1, "0123456789");
	return f ? n + 1 + f : n;
}

/* Numbers are plain decimal: no sign, space, base prefix or exponent that strtol takes. */
static long parse_long(const char *what, const char *s, long min, long max)
{
	long v = 0;

	errno = 0;
	if (decimal_len(s, 0) == strlen(s))
		v = strtol(s, NULL, 10);
	if (!*s || decimal_len(s, 0) != strlen(s) || errno || v < min || v > max)
		usage_error("invalid %s '%s': expected a whole number from %ld to %ld", what, s, min,
			    max);
	return v;
}

#define MAX_SECONDS (31 * 24 * 3600)

static double parse_seconds(const char *what, const char *s)
{
	double v = -1;

	if (decimal_len(s, 1) == strlen(s))
		v = strtod(s, NULL);
	if (!(v > 0 && v <= MAX_SECONDS))
		usage_error("invalid %s '%s': expected seconds, more than 0 (e.g. 10 or 2.5)", what,
			    s);
	return v;
}

/*
 * A duration as top's -d takes it, in seconds, or with a unit: 1, 0.5, 500ms, 2s. Between
 * min_s and max_s.
 */
static double parse_duration(const char *what, const char *s, double min_s, double max_s)
{
	size_t n = decimal_len(s, 1);
	double v = -1;

	if (n && (!s[n] || !strcmp(s + n, "s")))
		v = strtod(s, NULL);
	else if (n && !strcmp(s + n, "ms"))
		v = strtod(s, NULL) / 1000;
	if (!(v >= min_s && v <= max_s))
		usage_error("invalid %s '%s': expected a duration from %gms to %gs, in seconds or "
			    "with a unit (1, 0.5, 500ms, 2s)", what, s, min_s * 1000, max_s);
	return v;
}

/* Options every command takes. */
enum {
	OPT_BACKEND = 0x100,
	OPT_BATCH,
	OPT_ITERATIONS,
	OPT_DURATION,
	OPT_JSON,
	OPT_FAIL_ON,
	OPT_EXIT_CODE,
	OPT_FORMAT,
	OPT_RINGBUF,
	OPT_STACK_BYTES,
	OPT_DEBUGINFO,
	OPT_TRACK_FREE,
	OPT_NO_UPROBES,
	OPT_HOTSPOT,
	OPT_PI_THRESHOLD,
	OPT_STALL_THRESHOLD,
	OPT_BLOCK_THRESHOLD,
	OPT_TIMELINE,
	OPT_LIVELOCK,
	OPT_MAX_OVERHEAD,
	OPT_MEASURE_COST,
};

/* Options of every command that traces. */
/* The event-loop thresholds, on every command that traces or reports. */
#define LOOP_OPTIONS                                                                          \
	{ "stall-threshold", OPT_STALL_THRESHOLD, "DURATION", 0,                               \
	  "An event loop's iteration (from a wait's return to its next wait) this long is an " \
	  "event_loop_stall, in seconds or with a unit (50ms, 1s) (default 100ms)" },         \
	{ "block-threshold", OPT_BLOCK_THRESHOLD, "DURATION", 0,                               \
	  "An event loop's thread blocked this long inside an iteration (on a lock, in a "     \
	  "read, a sleep) is blocking_in_event_loop, in seconds or with a unit (default 10ms)" }

static const struct argp_option trace_options[] = {
	{ "backend", OPT_BACKEND, "bpf|kmod|preload", 0,
	  "Event source: bpf (the default for -p); preload, the in-process library beside the "
	  "BPF programs, for run and record -- CMD (their default, unless --no-uprobes or "
	  "--max-overhead); kmod, the concwatch kernel module (/dev/concwatch), used without "
	  "this option where BPF is not available" },
	{ "ringbuf-size", OPT_RINGBUF, "BYTES", 0,
	  "BPF ring buffer size, a power of two (default 4194304)" },
	{ "no-uprobes", OPT_NO_UPROBES, NULL, 0,
	  "Futex, scheduler and kernel-lock tracing only: no uprobe, so no trap on the "
	  "uncontended path (no lock-order inversions in this mode)" },
	{ "track-free", OPT_TRACK_FREE, NULL, 0,
	  "Follow free() and delete: a lock in freed memory starts a new history (costly: a "
	  "probe on every free)" },
	{ "stack-bytes", OPT_STACK_BYTES, "BYTES", 0,
	  "User stack copied for DWARF unwinding, per new call path: a multiple of 8 up to "
	  "24576 (default 16384); 0 copies none" },
	{ "max-overhead", OPT_MAX_OVERHEAD, "PCT", 0,
	  "Keep what tracing costs the target under PCT % of its own CPU time: the lock probes "
	  "start off, are attached for windows the budget has paid for in advance and detached "
	  "when over (futex, scheduler and kernel-lock tracing stays on, and counts); the report "
	  "says the share of time lock calls were traced. The dashboard: 10 by default (100: "
	  "none)" },
	{ "measure-cost", OPT_MEASURE_COST, NULL, 0,
	  "Measure what tracing costs the target (a probe hit calibrated at start, the kernel's "
	  "BPF run-time statistics on) and give it in the JSON report's \"cost\"; "
	  "--max-overhead, --batch and the dashboard always do" },
	{},
};

/* Options of every command. */
static const struct argp_option verbose_options[] = {
	{ "verbose", 'v', NULL, 0, "Say what is happening on stderr; twice: libbpf's debug output too" },
	/* the contract's -h, beside argp's own -? and --help */
	{ NULL, 'h', NULL, OPTION_HIDDEN, NULL },
	{},
};

/*
 * --fail-on's words: the finding kinds of the engine's registry (engine/findings.h),
 * or all. A kind this version cannot detect yet is a valid word that never matches:
 * fail_on_matches() says so.
 */
static void check_fail_on(const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;

	if (!copy)
		usage_error("out of memory");
	env.fail_on_kinds = env.fail_on_named = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int k = cw_finding_kind__parse(tok);

		if (!strcmp(tok, "all"))
			env.fail_on_kinds |= (1ULL << CW_FINDING_KIND_MAX) - 1;
		else if (k >= 0)
			env.fail_on_named |= 1ULL << k;
		else
			usage_error("unknown finding kind '%s' in --fail-on", tok);
	}
	free(copy);
	env.fail_on_kinds |= env.fail_on_named;
	if (!env.fail_on_kinds)
		usage_error("invalid --fail-on '%s': expected finding kinds, comma separated, "
			    "or all", list);
}

/* Those of kinds this version detects (detected) or not, as "a, b and c"; malloc'ed. */
static char *kind_list(__u64 kinds, int detected, size_t *nr)
{
	size_t n = 0, len = 0;
	char *s = NULL;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	for (unsigned int k = 0; k < CW_FINDING_KIND_MAX; k++)
		n += ((kinds >> k) & 1) && cw_finding_kind__detected(k) == detected;
	for (unsigned int k = 0, i = 0; k < CW_FINDING_KIND_MAX; k++) {
		if (!((kinds >> k) & 1) || cw_finding_kind__detected(k) != detected)
			continue;
		i++;
		fprintf(f, "%s%s", i == 1 ? "" : i == n ? " and " : ", ", cw_finding_kind__name(k));
	}
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	if (nr)
		*nr = n;
	return s;
}

/* --help: which finding kinds this version detects, from the engine's registry. */
static char *help_filter(int key, const char *text, void *input)
{
	const __u64 every = (1ULL << CW_FINDING_KIND_MAX) - 1;
	char *yes, *no, *s = NULL;
	size_t nr_no = 0;
	int n = -1;

	if (key != OPT_FAIL_ON && !(key == ARGP_KEY_HELP_POST_DOC && text))
		return (char *)text;
	yes = kind_list(every, 1, NULL);
	no = kind_list(every, 0, &nr_no);
	if (yes && no && !nr_no && key == OPT_FAIL_ON)
		n = asprintf(&s, "%s. This version detects every kind: %s", text, yes);
	else if (yes && no && !nr_no)
		n = asprintf(&s, "%s\n\nFindings this version detects: %s.", text, yes);
	else if (yes && no && key == OPT_FAIL_ON)
		n = asprintf(&s, "%s. This version detects %s; %s %s accepted and never match%s yet",
			     text, yes, no, nr_no == 1 ? "is" : "are", nr_no == 1 ? "es" : "");
	else if (yes && no)
		n = asprintf(&s, "%s\n\nFindings this version detects: %s (not yet: %s).", text, yes,
			     no);
	free(yes);
	free(no);
	return n < 0 ? (char *)text : s;
}

static FILE *argp_errors;

static error_t parse_common(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		/*
		 * getopt prints "unrecognized option" on stderr itself; argp then adds a
		 * "Try --help" line on err_stream. The contract wants one line: drop argp's.
		 */
		if (!argp_errors)
			argp_errors = fopen("/dev/null", "we");
		if (argp_errors)
			state->err_stream = argp_errors;
		return 0;
	case OPT_BACKEND:
		if (strcmp(arg, "bpf") && strcmp(arg, "kmod") && strcmp(arg, "preload"))
			usage_error("invalid --backend '%s': expected bpf, kmod or preload", arg);
		env.backend = arg;
		return 0;
	case OPT_RINGBUF: {
		long v = parse_long("--ringbuf-size", arg, 4096, 1L << 30);

		if (v & (v - 1))
			usage_error("invalid --ringbuf-size '%s': expected a power of two", arg);
		env.ringbuf_bytes = v;
		return 0;
	}
	case OPT_STACK_BYTES: {
		long v = parse_long("--stack-bytes", arg, 0, 24576);

		if (v % 8)
			usage_error("invalid --stack-bytes '%s': expected a multiple of 8", arg);
		env.stack_bytes = v ? v : -1;
		return 0;
	}
	case OPT_TRACK_FREE:
		env.track_free = 1;
		return 0;
	case OPT_MAX_OVERHEAD: {
		char *end;

		errno = 0;
		env.max_overhead_pct = strtod(arg, &end);
		if (errno || end == arg || *end || !(env.max_overhead_pct > 0) ||
		    env.max_overhead_pct > 100)
			usage_error("invalid --max-overhead '%s': a percentage in (0, 100]", arg);
		return 0;
	}
	case OPT_NO_UPROBES:
		env.no_uprobes = 1;
		return 0;
	case OPT_MEASURE_COST:
		env.measure_cost = 1;
		return 0;
	case 'v':
		env.verbose++;
		return 0;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp verbose_argp = { verbose_options, parse_common };
static const struct argp_child verbose_child[] = { { &verbose_argp }, {} };
static const struct argp trace_argp = { trace_options, parse_common, NULL, NULL, verbose_child };
/* Tracing commands take all the common options; export, which traces nothing, only -v. */
static const struct argp_child common_children[] = { { &trace_argp, 0, "Common options:", 1 }, {} };
static const struct argp_child verbose_children[] = { { &verbose_argp, 0, "Common options:", 1 }, {} };

/* Options of the commands, one parser for all: each command lists the ones it takes. */
static error_t parse_command(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'p':
		env.pid = parse_long("PID", arg, 1, INT_MAX);
		return 0;
	case OPT_BATCH:
		env.batch = 1;
		return 0;
	case OPT_ITERATIONS:
		env.iterations = parse_long("--iterations", arg, 1, LONG_MAX);
		return 0;
	case 'd':
		env.interval_s = parse_duration("--interval", arg, 0.01, 3600);
		return 0;
	case OPT_DURATION:
		env.duration_s = parse_seconds("--duration", arg);
		return 0;
	case OPT_JSON:
		env.json = 1;
		return 0;
	case 'o':
		env.output = arg;
		return 0;
	case OPT_FORMAT:
		if (strcmp(arg, "perfetto") && strcmp(arg, "folded") && strcmp(arg, "pprof") &&
		    strcmp(arg, "dot") && strcmp(arg, "json"))
			usage_error("invalid --format '%s': expected pprof, perfetto, folded, dot "
				    "or json", arg);
		env.format = arg;
		return 0;
	case OPT_DEBUGINFO:
		env.debuginfo_path = arg;
		return 0;
	case OPT_FAIL_ON:
		/* strtok_r would skip an empty kind: "--fail-on=" must not mean "never" */
		if (!*arg || *arg == ',' || arg[strlen(arg) - 1] == ',' || strstr(arg, ",,"))
			usage_error("invalid --fail-on '%s': expected finding kinds, comma separated, "
				    "or all", arg);
		check_fail_on(arg);
		env.fail_on = arg;
		return 0;
	case OPT_EXIT_CODE:
		env.exit_code = parse_long("--exit-code", arg, 1, 255);
		return 0;
	case OPT_HOTSPOT:
		env.hotspot_pct = parse_long("--hotspot-threshold", arg, 1, 100);
		return 0;
	case OPT_PI_THRESHOLD:
		env.pi_threshold_ns = parse_duration("--pi-threshold", arg, 0.00001, 60) * 1e9 + 0.5;
		return 0;
	case OPT_STALL_THRESHOLD:
		env.stall_threshold_ns = parse_duration("--stall-threshold", arg, 0.001, 3600) * 1e9 +
					 0.5;
		return 0;
	case OPT_BLOCK_THRESHOLD:
		env.block_threshold_ns = parse_duration("--block-threshold", arg, 0.0001, 3600) * 1e9 +
					 0.5;
		return 0;
	case OPT_TIMELINE:
		env.timeline = 1;
		return 0;
	case OPT_LIVELOCK:
		env.livelock_ns = parse_duration("--livelock-threshold", arg, 0.1, 3600) * 1e9 + 0.5;
		return 0;
	case ARGP_KEY_ARG:
		if (env.cmd == CMD_RUN || env.cmd == CMD_RECORD) {
			/* the command and its own arguments: nothing after it is ours */
			env.cmd_argv = &state->argv[state->next - 1];
			state->next = state->argc;
			return 0;
		}
		if ((env.cmd == CMD_REPORT || env.cmd == CMD_EXPORT) && !env.file) {
			env.file = arg;
			return 0;
		}
		usage_error("unexpected argument '%s'", arg);
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_option live_options[] = {
	{ "pid", 'p', "PID", 0, "Process to watch (all its threads)" },
	{ "batch", OPT_BATCH, NULL, 0, "Plain text snapshots instead of the dashboard (like top -b)" },
	{ "iterations", OPT_ITERATIONS, "N", 0, "With --batch: stop after N snapshots" },
	{ "interval", 'd', "DURATION", 0,
	  "Time between refreshes of the dashboard, or between --batch snapshots, in seconds as "
	  "top's -d, or with a unit: 500ms, 2s (default 1)" },
	{ "hotspot-threshold", OPT_HOTSPOT, "PCT", 0,
	  "A lock is a contention_hotspot when its waiting exceeds PCT% of the traced threads' "
	  "time, 1 to 100 (default 10)" },
	{ "livelock-threshold", OPT_LIVELOCK, "TIME", 0,
	  "Threads that fail trylocks on each other's locks for longer than TIME, without "
	  "taking one, are a livelock: seconds, or with a unit: 500ms, 2s (default 500ms)" },
	LOOP_OPTIONS,
	{ "pi-threshold", OPT_PI_THRESHOLD, "DURATION", 0,
	  "A priority_inversion is a real-time thread kept waiting this long by a preempted "
	  "lower-priority lock holder, in seconds or with a unit (0.5ms, 2ms, 0.01) "
	  "(default 1ms)" },
	{},
};

static const struct argp_option run_options[] = {
	{ "fail-on", OPT_FAIL_ON, "KINDS", 0,
	  "Exit with --exit-code when findings of these kinds (comma separated, or all) appear" },
	{ "exit-code", OPT_EXIT_CODE, "N", 0, "Exit status for --fail-on matches (66)" },
	{ "hotspot-threshold", OPT_HOTSPOT, "PCT", 0,
	  "A lock is a contention_hotspot when its waiting exceeds PCT% of the traced threads' "
	  "time, 1 to 100 (default 10)" },
	{ "livelock-threshold", OPT_LIVELOCK, "TIME", 0,
	  "Threads that fail trylocks on each other's locks for longer than TIME, without "
	  "taking one, are a livelock: seconds, or with a unit: 500ms, 2s (default 500ms)" },
	LOOP_OPTIONS,
	{ "pi-threshold", OPT_PI_THRESHOLD, "DURATION", 0,
	  "A priority_inversion is a real-time thread kept waiting this long by a preempted "
	  "lower-priority lock holder, in seconds or with a unit (0.5ms, 2ms, 0.01) "
	  "(default 1ms)" },
	{ "json", OPT_JSON, NULL, 0, "Print the report as JSON (best with -o)" },
	{ "output", 'o', "FILE", 0,
	  "Write the report to FILE ('-': standard output) instead of standard error, which "
	  "keeps it apart from the command's own output" },
	{},
};

static const struct argp_option record_options[] = {
	{ "pid", 'p', "PID", 0, "Process to record" },
	{ "output", 'o', "FILE", 0, "Recording to write (required)" },
	{ "duration", OPT_DURATION, "SEC", 0, "Stop after SEC seconds" },
	LOOP_OPTIONS,
	{ "pi-threshold", OPT_PI_THRESHOLD, "DURATION", 0,
	  "A priority_inversion is a real-time thread kept waiting this long by a preempted "
	  "lower-priority lock holder, in seconds or with a unit (0.5ms, 2ms, 0.01) "
	  "(default 1ms)" },
	{ "timeline", OPT_TIMELINE, NULL, 0,
	  "Also record every context switch and wakeup of the target's threads and every lock, "
	  "futex and kernel-lock operation, for a timeline (export --format perfetto); costs "
	  "more than the default, which aggregates in the kernel" },
	{},
};

static const struct argp_option report_options[] = {
	{ "pid", 'p', "PID", 0, "Trace this live process instead of reading FILE" },
	{ "duration", OPT_DURATION, "SEC", 0,
	  "With -p: trace for SEC seconds (default: until Ctrl-C or the process exits)" },
	{ "json", OPT_JSON, NULL, 0, "Print the report as JSON" },
	{ "output", 'o', "FILE", 0, "Write the report to FILE instead of standard output" },
	{ "hotspot-threshold", OPT_HOTSPOT, "PCT", 0,
	  "A lock is a contention_hotspot when its waiting exceeds PCT% of the traced threads' "
	  "time, 1 to 100 (default 10)" },
	{ "livelock-threshold", OPT_LIVELOCK, "TIME", 0,
	  "Threads that fail trylocks on each other's locks for longer than TIME, without "
	  "taking one, are a livelock: seconds, or with a unit: 500ms, 2s (default 500ms)" },
	LOOP_OPTIONS,
	{ "pi-threshold", OPT_PI_THRESHOLD, "DURATION", 0,
	  "A priority_inversion is a real-time thread kept waiting this long by a preempted "
	  "lower-priority lock holder, in seconds or with a unit (0.5ms, 2ms, 0.01) "
	  "(default 1ms)" },
	{ "debuginfo-path", OPT_DEBUGINFO, "PATHS", 0,
	  "Where to look for separate debug files, colon separated (default "
	  "\":.debug:/usr/lib/debug\")" },
	{},
};

static const struct argp_option deadlock_options[] = {
	{ "pid", 'p', "PID", 0, "Process to examine" },
	{ "json", OPT_JSON, NULL, 0, "Print the result as JSON" },
	{ "output", 'o', "FILE", 0, "Write the result to FILE instead of standard output" },
	{},
};

static const struct argp_option export_options[] = {
	{ "format", OPT_FORMAT, "FMT", 0,
	  "pprof (gzipped profile.proto of the lock waits, for go tool pprof), folded (stacks "
	  "weighted by wait time, for flame graphs), perfetto (timeline for ui.perfetto.dev, "
	  "needs a recording made with --timeline), dot (lock-order graph) or json (the JSON "
	  "report with the lock graph)" },
	{ "output", 'o', "OUT", 0, "File to write, '-' for standard output (required)" },
	{},
};

static const struct command_def {
	const char *name;
	enum command cmd;
	struct argp argp;
	int flags;
} commands[] = {
	{ NULL, CMD_LIVE, { live_options, parse_command, NULL,
		"Watch how the threads of a live process coordinate, and where that goes wrong.\v"
		"Commands:\n"
		"  concwatch -p PID             live dashboard of one process\n"
		"  concwatch -p PID --batch     the same data as text snapshots\n"
		"  concwatch run -- CMD [ARGS]  trace CMD from its start, report at its exit\n"
		"  concwatch record             save the event stream to a file\n"
		"  concwatch report             findings and contention summary\n"
		"  concwatch deadlock -p PID    is this process deadlocked right now?\n"
		"  concwatch export             pprof, folded stacks, perfetto, dot or json\n"
		"Run 'concwatch COMMAND --help' for a command's options.\n\n"
		"Examples:\n"
		"  concwatch -p $(pidof myserver) --batch --iterations 5 -d 0.5\n"
		"  concwatch report -p 1234 --duration 10 --json\n\n"
		"Exit status: 0 ok, 2 usage error, 3 environment error (not\n"
		"permitted, no BTF, no such process).", common_children, help_filter }, 0 },
	{ "run", CMD_RUN, { run_options, parse_command, "[--] CMD [ARGS...]",
		"Start CMD under tracing, follow its threads and children, report when it exits.\n"
		"The report goes to standard error, or to the file -o names: never into CMD's\n"
		"own standard output.\v"
		"Exit status: CMD's own (128+N when killed by signal N), or --exit-code (66)\n"
		"when findings matched --fail-on; 127 when CMD is not found, 126 when it cannot\n"
		"be run, 130 when concwatch was interrupted before CMD ended.\n\n"
		"Examples:\n  concwatch run --fail-on lock_order_inversion -- ./server --selftest\n"
		"  concwatch run --json -o report.json -- ./server --selftest",
		common_children, help_filter }, ARGP_IN_ORDER },
	{ "record", CMD_RECORD, { record_options, parse_command, "(-p PID | -- CMD [ARGS...]) -o FILE",
		"Save the event stream of a process or command to FILE.\v"
		"Examples:\n  concwatch record -p 1234 --duration 30 -o trace.cw\n"
		"  concwatch record --timeline -o trace.cw -- ./server --selftest",
		common_children }, ARGP_IN_ORDER },
	{ "report", CMD_REPORT, { report_options, parse_command, "FILE | -p PID [--duration SEC]",
		"Findings and contention summary of a recording or a live process.\v"
		"Examples:\n  concwatch report -p 1234 --duration 5\n"
		"  concwatch report trace.cw --json", common_children }, 0 },
	{ "deadlock", CMD_DEADLOCK, { deadlock_options, parse_command, NULL,
		"Is this process deadlocked right now? Works on a process that hung before\n"
		"concwatch started: one look at its threads, without stopping or tracing it.\v"
		"Reports threads waiting on each other in a cycle, a thread relocking a mutex\n"
		"it holds, waits on a lock whose owner exited, and locks held by a thread\n"
		"blocked in a system call (maybe forever); each thread with what it waits on,\n"
		"who holds it and its stack. Without a deadlock, which threads are blocked on\n"
		"what.\n\n"
		"Exit status: 1 when a deadlock exists, 0 when not.\n\n"
		"Example:\n  concwatch deadlock -p $(pidof stuck)", common_children }, 0 },
	{ "export", CMD_EXPORT, { export_options, parse_command, "FILE",
		"Convert a recording to another format.\v"
		"Examples:\n  concwatch export trace.cw --format pprof -o locks.pb.gz\n"
		"  go tool pprof -png locks.pb.gz > locks.png\n"
		"  concwatch export trace.cw --format folded -o - | flamegraph.pl > locks.svg\n"
		"  concwatch export timeline.cw --format perfetto -o timeline.json\n"
		"  concwatch export trace.cw --format dot -o graph.dot",
		verbose_children }, 0 },
};

/*
 * Whether the effective capabilities allow tracing: the kernel's uprobe PMU wants
 * CAP_SYS_ADMIN (CAP_BPF and CAP_PERFMON are not enough to attach), and reading another
 * user's process through /proc/PID/root wants CAP_SYS_PTRACE.
 */
static int privileged(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
#define CAP(n) (1ULL << (n))
	/* CAP_SYS_PTRACE 19, CAP_SYS_ADMIN 21 */
	return (caps & CAP(19)) && (caps & CAP(21));
#undef CAP
}

/* The environment checks every tracing command makes, with the contract's exit code. */
static int check_tracing_env(int pid)
{
	int err;

	if (pid) {
		err = cw_target__kind(pid);
		if (err == -ESRCH)
			return fail(EXIT_ENV, "no such process: %d", pid);
		if (err < 0)
			return fail(EXIT_ENV, "cannot inspect process %d: %s", pid, strerror(-err));
		if (err == CW_TARGET_KTHREAD)
			return fail(EXIT_ENV, "process %d is a kernel thread: it has no user space "
					      "to trace", pid);
		if (err == CW_TARGET_ZOMBIE)
			return fail(EXIT_ENV, "process %d is a zombie (exited, not reaped): it has "
					      "nothing left to trace", pid);
		err = cw_target__tgid(pid);
		if (err > 0 && err != pid)
			return fail(EXIT_USAGE, "%d is a thread of process %d: give the process "
						"(-p %d)", pid, err, err);
	}
	if (!privileged())
		return fail(EXIT_ENV, "not permitted: tracing needs root (CAP_SYS_ADMIN and "
				      "CAP_SYS_PTRACE)");
	return 0;
}

/*
 * A process's name for a message on stderr: the process chose it, escape sequences
 * included (cw_report__text_safe). One buffer: one name per message.
 */
static const char *safe_comm(const char *comm)
{
	static char buf[CW_SAFE_COMM_LEN];

	return cw_report__text_safe(comm, CW_COMM_LEN, buf, sizeof(buf));
}

/*
 * The source --backend names, for process pid (0: the processes are added as they
 * come), not started: the backend checks its options and the system now, before
 * anything runs.
 */
static int open_source(int pid, struct cw_source **out)
{
	struct cw_source_opts opts = {
		.backend = env.backend,
		.pid = pid,
		.ringbuf_bytes = env.ringbuf_bytes,
		.stack_bytes = env.stack_bytes,
		.verbose = env.verbose >= 2,
		.track_free = env.track_free,
		.no_uprobes = env.no_uprobes,
		.timeline = env.timeline,
		.pi_threshold_ns = env.pi_threshold_ns,
		.stall_threshold_ns = env.stall_threshold_ns,
		.block_threshold_ns = env.block_threshold_ns,
		.measure_cost = env.measure_cost,
		.max_overhead_pct = env.max_overhead_pct,
	};
	char err[512];

	if (cw_source__open(&opts, out, err, sizeof(err)))
		return fail(EXIT_ENV, "%s", err);
	if (strcmp(cw_source__name(*out), "kmod"))
		return 0;
	/* said whichever way it was chosen (on stderr: reports on stdout stay as they are) */
	if ((*out)->fallback[0])
		fprintf(stderr, "%s: %s\n", env.prog, (*out)->fallback);
	else
		fprintf(stderr, "%s: using the kernel module (%s)%s\n", env.prog, CW_KMOD_DEVICE,
			env.no_uprobes ? ": futex, scheduler and kernel-lock events, no lock calls" :
					 "");
	/* what the report, the dashboard and the look beside the tracer go by */
	env.backend = "kmod";
	return 0;
}

/*
 * Beside the in-process library, what it cannot see: futex calls, the scheduler and
 * kernel locks, from the BPF programs, which place no uprobe but in the processes the
 * library cannot start in (or the module's without uprobes, where BPF cannot run).
 * Neither available: the library alone, said on stderr.
 */
static int open_beside(struct cw_source **out)
{
	struct cw_source_opts opts = {
		.pid = 0,
		.ringbuf_bytes = env.ringbuf_bytes,
		.stack_bytes = env.stack_bytes,
		.verbose = env.verbose >= 2,
		.lock_calls_elsewhere = 1,
		.timeline = env.timeline,
		.pi_threshold_ns = env.pi_threshold_ns,
		.stall_threshold_ns = env.stall_threshold_ns,
		.block_threshold_ns = env.block_threshold_ns,
		.measure_cost = env.measure_cost,
	};
	char err[512];

	*out = NULL;
	if (cw_source__open(&opts, out, err, sizeof(err)) && !cw_bpf_source__available(NULL, 0))
		return fail(EXIT_ENV, "%s", err);
	if (!*out) {
		/* no BPF here: the module, without uprobes (it has no per-process choice) */
		opts.backend = "kmod";
		opts.no_uprobes = 1;
		opts.lock_calls_elsewhere = 0;
		if (!cw_source__open(&opts, out, err, sizeof(err)))
			return 0;
		fprintf(stderr, "%s: lock calls only, from the in-process library: no futex, "
			"scheduler or kernel-lock events (%s)\n", env.prog, err);
		*out = NULL;
	}
	return 0;
}

/*
 * A command line as /proc/PID/cmdline and recordings hold it (each argument followed by a
 * NUL, len bytes) as the report shows it: arguments separated by spaces, cut to fit.
 */
static void show_args(char *dst, size_t size, const char *args, size_t len)
{
	size_t n = len < size - 1 ? len : size - 1;

	memcpy(dst, args, n);
	dst[n] = '\0';
	/* the NUL of the last argument ends the string; the others become spaces */
	for (size_t i = 0; n && i < n - 1; i++)
		if (!dst[i])
			dst[i] = ' ';
}


/*
 * Installed before anything starts: an interruption at any moment, the BPF programs
 * still loading too, means detach, report and let the command go on, never the default
 * action (which would end concwatch, and with it, through PTRACE_O_EXITKILL, the
 * command). No SA_RESTART: the signal must interrupt poll() so we stop promptly.
 */
static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

struct live {
	struct cw_engine *eng;
	struct cw_session *sess;
	struct cw_launch *launch;	/* run, record -- CMD: the command and its children */
	struct cw_follow *follow;	/* ... followed into the session */
	struct cw_source *preload;	/* --backend preload: the library's source */
	struct cw_source *beside;	/* ... and the BPF source beside it, or NULL */
	struct cw_report_target target;
	char args[CW_REC_CMDLINE_MAX];	/* its command line, NUL-separated, for a recording */
	size_t args_len;
	cw_record_fn sink;		/* the engine's feed, or a recorder's write */
	void *sink_ctx;
	/* called once the target is known, before it is traced (record: open the file) */
	int (*target_known)(struct live *lv);
	void *ctx;
	int started;			/* the command itself has been traced, or not */
	int library;			/* the process just traced records itself (preload) */
	/* called every WATCH_NS while tracing (run: a deadlock is reported at once); a
	 * non-zero return ends the tracing */
	int (*watch)(struct live *lv);
	int deadlock_reported;		/* run: the report was printed when a deadlock formed */
	int killed;			/* run: ... and the command was ended (--fail-on) */
};

/* How often `run` looks whether a deadlock formed: it is reported at once. */
#define WATCH_NS 100000000ULL

/* The target as the report and a recording's header say it: name and command line. */
static void read_target(int pid, struct live *lv)
{
	struct cw_report_target *t = &lv->target;
	ssize_t n;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	cw_target__comm(pid, pid, t->comm, sizeof(t->comm));
	n = cw_target__cmdline(pid, lv->args, sizeof(lv->args));
	lv->args_len = n > 0 ? n : 0;
	show_args(t->cmdline, sizeof(t->cmdline), lv->args, lv->args_len);
}

static void say_notes(struct live *lv)
{
	if (env.verbose && cw_session__notes(lv->sess)[0])
		fprintf(stderr, "%s: %s\n", env.prog, cw_session__notes(lv->sess));
}

/* Records go to the engine, unless the command set another sink (record). */
static int default_sink(struct live *lv)
{
	if (lv->sink)
		return 0;
	lv->eng = cw_engine__new();
	if (!lv->eng)
		return fail(EXIT_ENV, "out of memory");
	cw_engine__set_livelock_threshold(lv->eng, env.livelock_ns);
	if (env.pi_threshold_ns)
		cw_engine__set_pi_threshold(lv->eng, env.pi_threshold_ns);
	if (env.stall_threshold_ns)
		cw_engine__set_stall_threshold(lv->eng, env.stall_threshold_ns);
	if (env.block_threshold_ns)
		cw_engine__set_block_threshold(lv->eng, env.block_threshold_ns);
	lv->sink = cw_engine__feed;
	lv->sink_ctx = lv->eng;
	return 0;
}

/*
 * Beside a tracing source, a look at what env.pid's threads wait on already (a hang that
 * began before we attached: no probe sees those waits begin or end), following them until
 * they end. Started after the tracer, so a wait that begins in between is traced. NULL
 * with --backend procscan (that is the look) or when it cannot be opened.
 */
static struct cw_source *open_look(void)
{
	struct cw_source_opts opts = {
		.backend = "procscan",
		.pid = env.pid,
		.stack_bytes = env.stack_bytes,
		.follow_blocked = 1,
	};
	struct cw_source *src = NULL;
	char err[256];

	if (env.backend && strcmp(env.backend, "bpf") && strcmp(env.backend, "kmod"))
		return NULL;
	if (cw_source__open(&opts, &src, err, sizeof(err)) && env.verbose)
		fprintf(stderr, "%s: no look at the waits before tracing: %s\n", env.prog, err);
	return src;
}

/* Trace the running process env.pid. */
static int live_open(struct live *lv)
{
	struct cw_session_opts opts = { .pid = env.pid };
	struct cw_source *src, *look;
	int ret;

	ret = check_tracing_env(env.pid);
	if (!ret)
		ret = open_source(env.pid, &src);
	if (ret)
		return ret;
	read_target(env.pid, lv);
	ret = default_sink(lv);
	if (!ret && lv->target_known)
		ret = lv->target_known(lv);
	if (ret) {
		cw_source__free(src);
		return ret;
	}
	look = open_look();
	ret = cw_session__new(&opts, lv->sink, lv->sink_ctx, &lv->sess);
	if (ret) {
		cw_source__free(src);
		cw_source__free(look);
		return fail(EXIT_ENV, "out of memory");
	}
	ret = cw_session__add_source(lv->sess, src);
	if (!ret && look)
		ret = cw_session__add_source(lv->sess, look);
	else
		cw_source__free(look);
	if (!ret)
		ret = cw_session__start(lv->sess);
	if (ret) {
		ret = fail(EXIT_ENV, "%s", cw_session__error(lv->sess));
		cw_session__free(lv->sess);
		lv->sess = NULL;
		return ret;
	}
	say_notes(lv);
	if (env.verbose)
		fprintf(stderr, "%s: tracing process %d (%s)\n", env.prog, env.pid,
			safe_comm(lv->target.comm));
	return 0;
}

/*
 * The library started in process pid: the scheduler programs read its threads' lock waits
 * (their wait-for edges, priority inversions) where it keeps them.
 */
static void preload_hello(void *ctx, int pid, __s64 tls_slot)
{
	struct live *lv = ctx;

	if (cw_bpf_source__library_waits(lv->beside, pid, tls_slot) && env.verbose)
		fprintf(stderr, "%s: %s\n", env.prog, cw_source__error(lv->beside));
}

/*
 * run --backend preload: a process the library cannot start in (a static binary, a
 * cleared environment, a secure execution) has its lock calls traced through uprobes
 * instead, and the user is told once per program. Held at its exec or fork, from its
 * first instruction; a process seen after the fact (the child of a process followed
 * without ptrace), from then on. Returns 1 when the library records the process.
 */
static int preload_or_uprobes(struct live *lv, const struct cw_launch_event *ev)
{
	char why[160], comm[CW_COMM_LEN] = "";
	int loads, err;

	loads = cw_preload_source__loads_in(lv->preload, ev->pid,
					    ev->kind == CW_LAUNCH_FORK ? ev->ppid : 0,
					    ev->held ? 0 : ev->ts_ns, why, sizeof(why));
	if (loads)
		return loads > 0;
	cw_target__comm(ev->pid, ev->pid, comm, sizeof(comm));
	err = lv->beside ? cw_bpf_source__trace_lock_calls(lv->beside, ev->pid) : -ENODEV;
	if (err)
		fprintf(stderr, "%s: process %d (%s) %s: its lock calls are not traced%s%s\n",
			env.prog, ev->pid, safe_comm(comm), why, err == -ENODEV ? "" : ": ",
			err == -ENODEV ? "" : cw_source__error(lv->beside));
	else if (ev->kind != CW_LAUNCH_FORK || env.verbose)
		fprintf(stderr, "%s: process %d (%s) %s: its lock calls are traced through "
			"uprobes%s\n", env.prog, ev->pid, safe_comm(comm), why,
			ev->held ? "" : ", from when concwatch saw it start (its first ones may "
			"be missed)");
	return 0;
}

/* A process of the command is traced from its first instruction, or could not be. */
static void follow_traced(void *ctx, const struct cw_launch_event *ev, int err, const char *why)
{
	struct live *lv = ctx;
	char comm[CW_COMM_LEN] = "";
	int first = !lv->started;

	lv->started = 1;
	lv->library = !err && lv->preload && preload_or_uprobes(lv, ev);
	if (!err && !env.verbose)
		return;
	if (first)
		snprintf(comm, sizeof(comm), "%s", lv->target.comm);
	else
		cw_target__comm(ev->pid, ev->pid, comm, sizeof(comm));
	if (err)
		fprintf(stderr, "%s: process %d (%s) is not traced: %s\n", env.prog, ev->pid, comm,
			why);
	else if (first)
		fprintf(stderr, "%s: tracing %d (%s) from its first instruction\n", env.prog,
			ev->pid, comm);
	else
		fprintf(stderr, "%s: tracing %d (%s), %s, child of %d\n", env.prog, ev->pid, comm,
			ev->kind == CW_LAUNCH_EXEC ? "a new program" : "a new process", ev->ppid);
}

/* Tracing goes on, but something about process ev->pid is missing: say it. */
static void follow_failed(void *ctx, const struct cw_launch_event *ev, int err, const char *why)
{
	if (why[0])
		fprintf(stderr, "%s: %s\n", env.prog, why);
	else
		fprintf(stderr, "%s: process %d: %s\n", env.prog, ev->pid, strerror(-err));
}

/*
 * A process the library records needs no ptrace: let go, it and its descendants are
 * followed through the kernel's process events, and ptrace is free for the program's
 * own use (a debugger, strace, LeakSanitizer).
 */
static int follow_release(void *ctx, const struct cw_launch_event *ev)
{
	struct live *lv = ctx;

	(void)ev;
	return lv->library;
}

/*
 * A process the library records is about to exec a program it will not start in: traced
 * through ptrace again from that exec, so uprobes cover the program from its first
 * instruction (preload_or_uprobes, at the exec).
 */
static int preload_exec(void *ctx, int pid, int tid)
{
	struct live *lv = ctx;

	return lv->launch ? cw_launch__seize(lv->launch, pid, tid) : -ESRCH;
}

static const struct cw_follow_cb follow_cb = {
	.traced = follow_traced,
	.failed = follow_failed,
	.release = follow_release,
};

/*
 * Start env.cmd_argv under the launcher and trace it from its first instruction. The
 * command's exit status becomes ours (EXIT_CMD_* when it could not start).
 */
static int live_launch(struct live *lv)
{
	struct cw_session_opts opts = {};
	struct cw_source *src = NULL, *beside = NULL;
	struct cw_launch_event ev;
	char err[256], *ld_preload = NULL;
	int ret, pid;

	ret = check_tracing_env(0) ?: open_source(0, &src) ?: default_sink(lv);
	if (!ret && !strcmp(cw_source__name(src), "preload")) {
		lv->preload = src;
		ret = open_beside(&beside);
		lv->beside = beside;
		if (beside)
			cw_preload_source__on_hello(src, preload_hello, lv);
		/* the command inherits the library; concwatch's own environment stays as it was */
		if (!ret && getenv("LD_PRELOAD"))
			ld_preload = strdup(getenv("LD_PRELOAD"));
		if (!ret && cw_preload_source__setenv(src))
			ret = fail(EXIT_ENV, "out of memory");
	}
	if (!ret) {
		ret = cw_launch__start_flags(env.cmd_argv, CW_LAUNCH_F_EXITING, &lv->launch, err,
					     sizeof(err));
		if (ret)
			ret = fail(ret == -ENOENT ? EXIT_CMD_NOT_FOUND : EXIT_CMD_CANNOT_RUN, "%s",
				   err);
	}
	if (lv->preload)
		cw_preload_source__unsetenv(src, ld_preload);
	free(ld_preload);
	if (ret) {
		cw_source__free(src);
		cw_source__free(beside);
		lv->preload = lv->beside = NULL;
		return ret;
	}
	pid = cw_launch__pid(lv->launch);
	/* the command's own exec comes first: it waits there for its probes */
	do
		ret = cw_launch__next(lv->launch, &ev, -1);
	while (ret == -EINTR);
	if (ret != 1 || ev.kind != CW_LAUNCH_EXEC || ev.pid != pid) {
		cw_source__free(src);
		cw_source__free(beside);
		lv->preload = lv->beside = NULL;
		return fail(EXIT_ENV, "the command did not start as traced (%s)",
			    ret < 0 ? strerror(-ret) : "unexpected event");
	}
	read_target(pid, lv);
	if (lv->target_known) {
		ret = lv->target_known(lv);
		if (ret) {
			cw_source__free(src);
			cw_source__free(beside);
			lv->preload = NULL;
			return ret;
		}
	}
	/* interrupted already: nothing to trace, the command goes its way (live_finish) */
	if (stop_requested) {
		cw_source__free(src);
		cw_source__free(beside);
		lv->preload = lv->beside = NULL;
		return 0;
	}
	ret = cw_session__new(&opts, lv->sink, lv->sink_ctx, &lv->sess);
	if (ret) {
		cw_source__free(src);
		cw_source__free(beside);
		lv->preload = lv->beside = NULL;
		return fail(EXIT_ENV, "out of memory");
	}
	ret = cw_session__add_source(lv->sess, src);
	if (!ret && beside) {
		ret = cw_session__add_source(lv->sess, beside);
	} else {
		cw_source__free(beside);
		lv->beside = NULL;
	}
	if (!ret)
		ret = cw_session__start(lv->sess);
	if (ret)
		return fail(EXIT_ENV, "%s", cw_session__error(lv->sess));
	if (cw_follow__new(lv->sess, lv->launch, &follow_cb, lv, &lv->follow))
		return fail(EXIT_ENV, "out of memory");
	if (lv->preload)
		cw_preload_source__on_exec(lv->preload, preload_exec, lv);
	/* the command itself, as every process it starts: one not traceable is said */
	ret = cw_follow__process(lv->follow, &ev);
	say_notes(lv);
	if (ret)
		return fail(EXIT_ENV, "the command vanished before it started");
	return 0;
}

/*
 * Trace until until_ns (0: no limit), a signal, or the end of the target (env.pid) or of
 * the command and every process it started. Returns an enum cw_session_end, or < 0 after
 * saying why.
 */
static int live_run(struct live *lv, __u64 until_ns)
{
	int end;

	if (lv->follow) {
		end = cw_follow__run(lv->follow, until_ns, &stop_requested);
		if (end < 0)
			return fail(EXIT_ENV, "%s", cw_follow__error(lv->follow)), -1;
		return end;
	}
	end = cw_session__run(lv->sess, until_ns, &stop_requested);
	if (end < 0)
		return fail(EXIT_ENV, "%s", cw_session__error(lv->sess)), -1;
	return end;
}

/*
 * What is still traced here is a command whose tracing failed (live_finish detaches a
 * deliberate stop): it is killed, never left running untraced after `run` promised
 * tracing; held at its exec, it dies before its first instruction.
 */
static void live_close(struct live *lv)
{
	if (lv->launch)
		cw_launch__kill_all(lv->launch);
	cw_follow__free(lv->follow);
	cw_session__free(lv->sess);
	cw_launch__free(lv->launch);
	cw_engine__free(lv->eng);
}

/*
 * Processes of the command in which the in-process library never started, though their
 * exec said it would (preload_or_uprobes): their lock calls were not traced.
 */
static void say_silent(struct cw_source *src)
{
	int pids[8];
	size_t n = cw_preload_source__silent(src, pids, 8);

	for (size_t i = 0; i < n && i < 8; i++)
		fprintf(stderr, "%s: process %d did not load the in-process library (a static "
			"binary, a cleared environment or a secure execution): its lock calls "
			"were not traced\n", env.prog, pids[i]);
	if (n > 8)
		fprintf(stderr, "%s: ... and %zu more processes\n", env.prog, n - 8);
}

static int live_finish(struct live *lv)
{
	/* interrupted, or --duration: the command goes on untraced, as if concwatch had
	 * never been there */
	if (lv->launch && cw_launch__lost(lv->launch))
		fprintf(stderr, "%s: the kernel's process connector dropped messages %lu times: "
			"processes started then may have gone untraced\n", env.prog,
			cw_launch__lost(lv->launch));
	if (lv->launch)
		cw_launch__detach_all(lv->launch);
	if (lv->sess && cw_session__finish(lv->sess) < 0)
		return fail(EXIT_ENV, "%s", cw_session__error(lv->sess));
	if (lv->preload)
		say_silent(lv->preload);
	return 0;
}

/* The one symbol context of a report: every module opened and parsed once for it. */
static int report_symbols(const struct cw_engine *eng, const struct cw_report_target *t,
			  struct cw_symbols **sym)
{
	struct cw_symbols_opts so = { .debuginfo_path = t->debuginfo_path,
				      .live_pid = t->alive ? t->pid : 0 };
	int err = cw_symbols__new(eng, &so, sym);

	if (err)
		return fail(EXIT_ENV, "failed to prepare the report: %s", strerror(-err));
	return 0;
}

/* The report of what the engine holds, text or JSON, to -o or else dflt. */
static int print_report(struct live *lv, FILE *dflt)
{
	struct cw_symbols *sym = NULL;
	size_t len = 0;
	char *buf = NULL;
	FILE *m;
	int ret;

	lv->target.debuginfo_path = env.debuginfo_path;
	lv->target.verbose = env.verbose;
	lv->target.track_free = env.track_free;
	lv->target.hotspot_pct = env.hotspot_pct;
	lv->target.no_uprobes = env.no_uprobes;
	cw_report__set_coverage(&lv->target, lv->eng, env.max_overhead_pct > 0);
	lv->target.backend = env.backend;
	ret = report_symbols(lv->eng, &lv->target, &sym);
	if (ret)
		return ret;
	m = open_memstream(&buf, &len);
	if (!m) {
		cw_symbols__free(sym);
		return fail(EXIT_ENV, "failed to make the report: %s", strerror(errno));
	}
	if (env.json)
		ret = cw_report__json(m, lv->eng, sym, &lv->target);
	else
		ret = cw_report__text(m, lv->eng, sym, &lv->target);
	cw_symbols__free(sym);
	if (fclose(m) && !ret)
		ret = -errno;
	if (ret)
		ret = fail(EXIT_ENV, "failed to make the report: %s", strerror(-ret));
	else
		ret = write_output(env.output, dflt, buf, len);
	free(buf);
	return ret;
}

/* Trace env.pid, or start env.cmd_argv, until the end or --duration; then detach. */
static int live_trace(struct live *lv)
{
	__u64 until = 0;
	int ret = env.pid ? live_open(lv) : live_launch(lv);

	if (ret)
		return ret;
	if (!lv->sess)
		return live_finish(lv);	/* interrupted before tracing began */
	if (env.duration_s)
		until = cw_now_ns() + (__u64)(env.duration_s * 1e9);
	if (!lv->watch) {
		if (live_run(lv, until) < 0)
			return EXIT_ENV;
		return live_finish(lv);
	}
	for (;;) {
		__u64 next = cw_now_ns() + WATCH_NS;
		int end;

		if (until && next > until)
			next = until;
		end = live_run(lv, next);
		if (end < 0)
			return EXIT_ENV;
		if (end != CW_SESSION_DEADLINE || (until && cw_now_ns() >= until))
			break;
		if (lv->watch(lv))
			break;
	}
	return live_finish(lv);
}

static int cmd_report_live(void)
{
	struct live lv = {};
	int ret;

	ret = live_trace(&lv);
	if (!ret) {
		lv.target.alive = !cw_target__check(env.pid);
		ret = print_report(&lv, stdout);
	}
	live_close(&lv);
	return ret;
}

/*
 * Whether findings the engine holds match --fail-on: 1 or 0, or -errno when they could
 * not be found. Kinds this version does not detect are said once: they never match.
 */
static int fail_on_matches(const struct cw_engine *eng, const struct cw_report_target *t)
{
	struct cw_report_model m;
	struct cw_symbols *sym;
	struct cw_symbols_opts so = { .debuginfo_path = t->debuginfo_path,
				      .live_pid = t->alive ? t->pid : 0 };
	char *undetected;
	size_t n = 0;
	int err, match;

	if (!env.fail_on)
		return 0;
	/* all asks for whatever there is: only kinds named are worth a word */
	undetected = kind_list(env.fail_on_named, 0, &n);
	if (undetected && n)
		fprintf(stderr, "%s: --fail-on %s: this version does not detect %s findings yet; "
			"%s\n", env.prog, env.fail_on, undetected,
			n == 1 ? "it never matches" : "they never match");
	free(undetected);
	/* the report's own findings: futex waits classified, the same threshold */
	err = cw_symbols__new(eng, &so, &sym);
	if (err)
		return err;
	err = cw_report__model_new(eng, sym, t, &m);
	if (!err) {
		match = cw_findings__matching(m.fs, env.fail_on_kinds) > 0;
		cw_report__model_fini(&m);
	}
	cw_symbols__free(sym);
	return err ? err : match;
}

/*
 * run, while the command runs: a deadlock (the engine latched one: it lasted the
 * confirmation window) is reported at once, since a hung command may never exit; with
 * --fail-on deadlock the command is then killed, the report written first. 1 to stop.
 */
static int run_watch(struct live *lv)
{
	int fail_on = env.fail_on && ((env.fail_on_kinds >> CW_FINDING_DEADLOCK) & 1);

	if (lv->deadlock_reported || !cw_wf__nr_latched(cw_engine__waitfor(lv->eng)))
		return 0;
	lv->deadlock_reported = 1;
	fprintf(stderr, "%s: a deadlock formed: reporting it now%s\n", env.prog,
		fail_on ? "; the command is killed (--fail-on deadlock)" : "");
	if (print_report(lv, stderr) || !fail_on)
		return 0;
	if (lv->launch && cw_launch__kill_all(lv->launch) >= 0)
		lv->killed = 1;
	return lv->killed;
}

static int cmd_run(void)
{
	struct live lv = { .watch = run_watch };
	int ret, status;

	ret = live_trace(&lv);
	if (ret)
		goto cleanup;
	status = cw_launch__status(lv.launch);
	/* stderr, as perf stat, strace and ThreadSanitizer: stdout is the command's; the
	 * report of a command killed for its deadlock was written before the kill */
	if (!lv.killed)
		ret = print_report(&lv, stderr);
	if (ret)
		goto cleanup;
	if (status < 0 && !lv.killed)
		fprintf(stderr, "%s: interrupted before the command ended: it runs on untraced\n",
			env.prog);
	ret = fail_on_matches(lv.eng, &lv.target);
	if (ret < 0) {
		/* failing closed: a CI job must not pass because memory ran out */
		ret = fail(EXIT_ENV, "cannot check --fail-on %s: %s", env.fail_on, strerror(-ret));
	} else if (ret) {
		fprintf(stderr, "%s: findings matched --fail-on %s: exit status %d\n", env.prog,
			env.fail_on, env.exit_code);
		ret = env.exit_code;
	} else {
		ret = status < 0 ? EXIT_INTERRUPTED : status;
	}
cleanup:
	live_close(&lv);
	return ret;
}

/* Take a recording's totals from the session when the recording ends. */
static void record_totals(struct live *lv, struct cw_rec_totals *t)
{
	struct cw_source_stats st;
	struct cw_merge_stats ms;

	memset(t, 0, sizeof(*t));
	if (!lv->sess)
		return;	/* interrupted before tracing began */
	cw_session__stats(lv->sess, &st, &ms);
	memcpy(t->lost, st.lost, sizeof(t->lost));
	t->late = ms.late;
}

/*
 * The recording's sink. The file is created once the target is known (a command's pid
 * and name only exist once it has started, held at its exec), before it is traced: a
 * file that cannot be written stops everything there, the command killed before its
 * first instruction.
 */
struct rec_sink {
	struct live *lv;
	struct cw_recorder *rec;
	int err;
	int created;	/* the file did not exist before */
};

static int rec_open(struct rec_sink *rs)
{
	struct cw_rec_meta meta = {};
	const struct cw_report_target *t = &rs->lv->target;

	meta.pid = t->pid;
	snprintf(meta.comm, sizeof(meta.comm), "%s", t->comm);
	/* the arguments as the process has them, NUL-separated (abi.md, "Recording files") */
	meta.cmdline_len = rs->lv->args_len;
	memcpy(meta.cmdline, rs->lv->args, meta.cmdline_len);
	rs->err = cw_recorder__open(env.output, &meta, &rs->rec);
	return rs->err;
}

static int rec_write(void *ctx, const struct cw_hdr *h)
{
	struct rec_sink *rs = ctx;

	if (!rs->rec && rec_open(rs))
		return rs->err;
	return cw_recorder__write(rs->rec, h);
}

static int rec_target_known(struct live *lv)
{
	struct rec_sink *rs = lv->ctx;

	rs->created = access(env.output, F_OK) && errno == ENOENT;
	if (rec_open(rs))
		return fail(EXIT_ENV, "failed to write %s: %s", env.output, strerror(-rs->err));
	return 0;
}

static int cmd_record(void)
{
	struct cw_rec_totals totals;
	struct live lv = {};
	struct rec_sink rs = { .lv = &lv };
	__u64 records = 0, bytes = 0, lost = 0;
	int ret, err, status = 0;

	lv.sink = rec_write;
	lv.sink_ctx = &rs;
	lv.target_known = rec_target_known;
	lv.ctx = &rs;
	ret = live_trace(&lv);
	if (ret)
		goto cleanup;
	if (lv.launch)
		status = cw_launch__status(lv.launch);
	record_totals(&lv, &totals);
	for (int i = 0; i < CW_LOST_MAX; i++)
		lost += totals.lost[i];
	if (!rs.rec)
		rec_open(&rs);
	if (rs.rec)
		cw_recorder__count(rs.rec, &records, &bytes);
	err = rs.rec ? cw_recorder__close(rs.rec, &totals) : rs.err;
	rs.rec = NULL;
	if (err) {
		ret = fail(EXIT_ENV, "failed to write %s: %s", env.output, strerror(-err));
		goto cleanup;
	}
	fprintf(stderr, "%s: %llu records (%llu bytes) written to %s; lost events: %llu\n",
		env.prog, (unsigned long long)records, (unsigned long long)bytes, env.output,
		(unsigned long long)lost);
	ret = lv.launch ? (status < 0 ? EXIT_INTERRUPTED : status) : 0;
cleanup:
	/* a file made for a recording that never began is not left behind */
	if (ret && rs.rec && rs.created) {
		cw_recorder__count(rs.rec, &records, NULL);
		if (!records)
			unlink(env.output);
	}
	cw_recorder__close(rs.rec, NULL);
	live_close(&lv);
	return ret;
}

/* The records of a recording to the engine and to one more consumer (an export's). */
struct tee {
	struct cw_engine *eng;
	cw_record_fn also;
	void *also_ctx;
};

static int tee_feed(void *ctx, const struct cw_hdr *rec)
{
	struct tee *tee = ctx;
	int err = tee->also(tee->also_ctx, rec);

	cw_engine__feed(tee->eng, rec);
	return err;
}

/*
 * Feed a recording to a new engine, through a session as live tracing does: the
 * recording is a source. The target as its header says. also (may be NULL) is fed every
 * record too; *meta (may be NULL) gets the recording's header.
 */
static int load_recording_to(const char *path, struct cw_engine **out, struct cw_report_target *t,
			     cw_record_fn also, void *also_ctx, struct cw_rec_meta *meta_out)
{
	struct tee tee = { .also = also, .also_ctx = also_ctx };
	struct cw_session_opts opts = {};
	const struct cw_rec_meta *meta;
	struct cw_replay_status st;
	struct cw_session *sess;
	struct cw_source *src;
	struct cw_engine *eng;
	char err[256];
	int n;

	n = cw_replay__open(path, &src, err, sizeof(err));
	if (n)
		return fail(EXIT_ENV, "%s: %s", path, err);
	eng = cw_engine__new();
	if (!eng) {
		cw_source__free(src);
		return fail(EXIT_ENV, "out of memory");
	}
	cw_engine__set_livelock_threshold(eng, env.livelock_ns);
	if (env.pi_threshold_ns)
		cw_engine__set_pi_threshold(eng, env.pi_threshold_ns);
	if (env.stall_threshold_ns)
		cw_engine__set_stall_threshold(eng, env.stall_threshold_ns);
	if (env.block_threshold_ns)
		cw_engine__set_block_threshold(eng, env.block_threshold_ns);
	tee.eng = eng;
	n = cw_session__open(&opts, src, also ? tee_feed : cw_engine__feed,
			     also ? (void *)&tee : (void *)eng,
			     &sess, err, sizeof(err));
	if (n) {
		cw_engine__free(eng);
		return fail(EXIT_ENV, "%s: %s", path, err);
	}
	n = cw_session__run(sess, 0, NULL);
	if (n == CW_SESSION_ENDED)
		n = cw_session__finish(sess);
	if (n < 0) {
		cw_session__free(sess);
		cw_engine__free(eng);
		return fail(EXIT_ENV, "%s: %s", path, strerror(-n));
	}
	meta = cw_replay__meta(src);
	if (meta_out)
		*meta_out = *meta;
	memset(t, 0, sizeof(*t));
	t->pid = meta->pid;
	snprintf(t->comm, sizeof(t->comm), "%s", meta->comm);
	show_args(t->cmdline, sizeof(t->cmdline), meta->cmdline, meta->cmdline_len);
	/* recorded with --no-uprobes: its ticks say so; governed: some of them */
	t->no_uprobes = cw_engine__counts(eng)->ticks_no_uprobes > 0 &&
			cw_engine__counts(eng)->ticks_no_uprobes == cw_engine__counts(eng)->ticks;
	cw_report__set_coverage(t, eng, env.max_overhead_pct > 0);
	cw_replay__status(src, &st);
	if (!st.complete && st.problem[0])
		fprintf(stderr, "%s: %s: %s\n", env.prog, path, st.problem);
	cw_session__free(sess);
	*out = eng;
	return 0;
}

static int load_recording(const char *path, struct cw_engine **out, struct cw_report_target *t)
{
	return load_recording_to(path, out, t, NULL, NULL, NULL);
}

static int cmd_report_file(void)
{
	struct live lv = {};
	int ret;

	ret = load_recording(env.file, &lv.eng, &lv.target);
	if (!ret)
		ret = print_report(&lv, stdout);
	cw_engine__free(lv.eng);
	return ret;
}

/* The folded and pprof exports: the contention model's waits, futexes classified. */
static int export_profile(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			  const struct cw_rec_meta *meta)
{
	struct cw_contention_opts opts = { .classify = cw_classifier__classify };
	struct cw_classifier *cl = NULL;
	struct cw_xprofile *p = NULL;
	int err;

	err = cw_classifier__new(sym, &cl);
	opts.ctx = cl;
	if (!err)
		err = cw_xprofile__new(eng, sym, &opts, &p);
	if (!err) {
		/* the wall clock of the first record: the header pairs the two clocks */
		if (meta->realtime_ns && cw_engine__first_ts(eng))
			p->time_ns = meta->realtime_ns +
				     (__s64)(cw_engine__first_ts(eng) - meta->monotonic_ns);
		if (!strcmp(env.format, "pprof"))
			err = cw_export__pprof(out, p);
		else
			err = cw_export__folded(out, p);
	}
	cw_xprofile__free(p);
	cw_classifier__free(cl);
	return err;
}

static int cmd_export(void)
{
	struct cw_report_target t;
	struct cw_symbols *sym = NULL;
	struct cw_timeline *tl = NULL;
	struct cw_engine *eng = NULL;
	struct cw_rec_meta meta;
	size_t len = 0;
	char *buf = NULL;
	FILE *out;
	int ret, err;

	if (!strcmp(env.format, "perfetto")) {
		if (cw_timeline__new(&tl))
			return fail(EXIT_ENV, "out of memory");
		ret = load_recording_to(env.file, &eng, &t, cw_timeline__feed, tl, &meta);
	} else {
		ret = load_recording_to(env.file, &eng, &t, NULL, NULL, &meta);
	}
	if (ret)
		goto cleanup;
	/*
	 * A usage error, not the environment's: the file is fine, the request does not fit
	 * it, and the way out is to record differently.
	 */
	if (tl && !cw_timeline__has_sched(tl)) {
		ret = fail(EXIT_USAGE, "%s has no timeline: --format perfetto needs the "
				       "per-operation records of `concwatch record --timeline`",
			   env.file);
		goto cleanup;
	}
	/* made in memory, then written: see write_output() */
	out = open_memstream(&buf, &len);
	if (!out) {
		ret = fail(EXIT_ENV, "failed to make the export: %s", strerror(errno));
		goto cleanup;
	}
	t.debuginfo_path = env.debuginfo_path;
	ret = report_symbols(eng, &t, &sym);
	if (ret) {
		fclose(out);
		goto cleanup;
	}
	if (!strcmp(env.format, "dot")) {
		err = cw_export__dot(out, eng, sym);
	} else if (!strcmp(env.format, "perfetto")) {
		err = cw_export__perfetto(out, tl, eng, sym);
	} else if (!strcmp(env.format, "pprof") || !strcmp(env.format, "folded")) {
		err = export_profile(out, eng, sym, &meta);
	} else {
		t.lock_graph = 1;
		t.verbose = env.verbose;
		t.hotspot_pct = env.hotspot_pct;
		err = cw_report__json(out, eng, sym, &t);
	}
	if (fclose(out) && !err)
		err = -errno;
	if (err)
		ret = fail(EXIT_ENV, "failed to make the export: %s", strerror(-err));
	else
		ret = write_output(env.output, stdout, buf, len);
cleanup:
	free(buf);
	cw_symbols__free(sym);
	cw_timeline__free(tl);
	cw_engine__free(eng);
	return ret;
}

/* Snapshots as top -b prints them: what happened in each interval. */
static int cmd_batch(void)
{
	struct cw_report_snapshot *snap = NULL;
	__u64 interval_ns = env.interval_s * 1e9, next;
	struct live lv = {};
	int ret;

	env.measure_cost = 1;	/* the header's tracing cost */
	ret = live_open(&lv);
	if (ret)
		goto cleanup;
	snap = cw_report__snapshot_new();
	if (!snap) {
		ret = fail(EXIT_ENV, "out of memory");
		goto cleanup;
	}
	lv.target.debuginfo_path = env.debuginfo_path;
	lv.target.hotspot_pct = env.hotspot_pct;
	lv.target.no_uprobes = env.no_uprobes;
	lv.target.backend = env.backend;
	lv.target.alive = 1;
	next = cw_now_ns() + interval_ns;
	for (long i = 0; !env.iterations || i < env.iterations; i++, next += interval_ns) {
		const struct cw_engine_counts *c;
		char stamp[16];
		time_t now;
		int end;

		/* on a fixed cadence: the time a snapshot takes is not added to the next */
		if (next < cw_now_ns())
			next = cw_now_ns();
		end = cw_session__run(lv.sess, next, &stop_requested);
		if (end < 0) {
			ret = fail(EXIT_ENV, "%s", cw_session__error(lv.sess));
			goto cleanup;
		}
		if (end != CW_SESSION_DEADLINE) {
			ret = live_finish(&lv);
			if (ret)
				goto cleanup;
		}
		now = time(NULL);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
		c = cw_engine__counts(lv.eng);
		printf("concwatch - %s  process %d (%s)  events %llu  lost %llu%s\n", stamp,
		       env.pid, safe_comm(lv.target.comm),
		       (unsigned long long)cw_engine__events(lv.eng),
		       (unsigned long long)c->lost_total,
		       end == CW_SESSION_TARGET_EXITED ? "  (process exited)" : "");
		lv.target.alive = end != CW_SESSION_TARGET_EXITED;
		if (cw_report__snapshot(stdout, lv.eng, &lv.target, snap) ||
		    cw_report__snapshot_findings(stdout, lv.eng, &lv.target, snap)) {
			ret = fail(EXIT_ENV, "failed to print a snapshot: %s", strerror(ENOMEM));
			goto cleanup;
		}
		printf("\n");
		if (fflush(stdout)) {
			ret = fail(EXIT_ENV, "failed to write standard output: %s",
				   strerror(errno));
			goto cleanup;
		}
		if (end != CW_SESSION_DEADLINE)
			break;
	}
cleanup:
	cw_report__snapshot_free(snap);
	live_close(&lv);
	return ret;
}

/*
 * The live dashboard (tools/tui/) on the session --batch uses: the same engine, the same
 * snapshots. It detaches before it returns; the terminal is restored on every way out.
 */
static int cmd_dashboard(void)
{
	struct cw_tui_opts o = {
		.interval_ns = env.interval_s * 1e9,
		.backend = env.backend,
		.no_uprobes = env.no_uprobes,
		.stop = &stop_requested,
	};
	struct live lv = {};
	char err[256];
	int ret;

	env.measure_cost = 1;	/* the header's tracing cost */
	/*
	 * A budget for the lock probes unless one was given (tui.h says why this one), here
	 * only: after check_usage(), which judges what the user typed, and where there are
	 * lock probes the BPF programs place to govern
	 */
	if (!env.max_overhead_pct && !env.no_uprobes &&
	    (!env.backend || !strcmp(env.backend, "bpf")))
		env.max_overhead_pct = CW_TUI_MAX_OVERHEAD_PCT;
	ret = live_open(&lv);
	if (ret)
		goto cleanup;
	/* the backend opened may not be the one asked for (kmod where BPF is not available) */
	o.backend = env.backend;
	o.no_uprobes = env.no_uprobes;
	/* the module ignores a budget: the governor is the BPF source's (open_source()) */
	if (!env.backend || strcmp(env.backend, "kmod"))
		o.max_overhead_pct = env.max_overhead_pct;
	lv.target.debuginfo_path = env.debuginfo_path;
	lv.target.hotspot_pct = env.hotspot_pct;
	lv.target.no_uprobes = env.no_uprobes;
	lv.target.backend = env.backend;
	lv.target.track_free = env.track_free;
	lv.target.alive = 1;
	ret = cw_tui__run(lv.sess, lv.eng, &lv.target, &o, err, sizeof(err));
	if (ret)
		ret = fail(EXIT_ENV, "%s", err);
cleanup:
	live_close(&lv);
	return ret;
}

/*
 * One look at process env.pid without tracing it (the procscan source: it may have hung
 * before concwatch started), fed to the engine as any source's records: its deadlock
 * findings, or which threads are blocked on what. 1 when a thread is blocked for good
 * (a deadlock finding of any rule), 0 when none is.
 */
static int cmd_deadlock(void)
{
	struct cw_symbols *sym = NULL;
	struct cw_findings *fs = NULL;
	const char *backend = env.backend;
	struct live lv = {};
	size_t len = 0, hung = 0;
	char *buf = NULL;
	FILE *m;
	int ret;

	env.backend = "procscan";
	ret = live_trace(&lv);
	env.backend = backend;
	if (ret)
		goto cleanup;
	lv.target.alive = !cw_target__check(env.pid);
	lv.target.debuginfo_path = env.debuginfo_path;
	lv.target.verbose = env.verbose;
	ret = cw_findings__new(lv.eng, &fs);
	if (ret) {
		ret = fail(EXIT_ENV, "failed to look for deadlocks: %s", strerror(-ret));
		goto cleanup;
	}
	for (size_t i = 0; i < cw_findings__nr(fs); i++) {
		const struct cw_finding *f = cw_findings__get(fs, i);

		hung += f->kind == CW_FINDING_DEADLOCK && cw_finding__reported(f);
	}
	ret = report_symbols(lv.eng, &lv.target, &sym);
	if (ret)
		goto cleanup;
	m = open_memstream(&buf, &len);
	if (!m) {
		ret = fail(EXIT_ENV, "failed to make the report: %s", strerror(errno));
		goto cleanup;
	}
	if (env.json)
		ret = cw_report__json(m, lv.eng, sym, &lv.target);
	else
		ret = cw_report__deadlock_text(m, lv.eng, sym, &lv.target);
	if (fclose(m) && !ret)
		ret = -errno;
	if (ret)
		ret = fail(EXIT_ENV, "failed to make the report: %s", strerror(-ret));
	else
		ret = write_output(env.output, stdout, buf, len);
	if (!ret)
		ret = hung ? 1 : 0;
cleanup:
	free(buf);
	cw_symbols__free(sym);
	cw_findings__free(fs);
	live_close(&lv);
	return ret;
}

/* The usage errors of each command, before anything else is looked at. */
static void check_usage(void)
{
	if (env.no_uprobes && env.track_free)
		usage_error("--track-free probes free() with a uprobe: it cannot go with "
			    "--no-uprobes");
	if (env.backend && !strcmp(env.backend, "kmod") && env.track_free)
		usage_error("--track-free probes free() with a uprobe: the kmod backend does "
			    "not probe it");
	if (env.max_overhead_pct > 0 && env.no_uprobes)
		usage_error("--max-overhead governs the lock probes: --no-uprobes has none");
	if (env.max_overhead_pct > 0 && env.backend && strcmp(env.backend, "bpf"))
		usage_error("--max-overhead governs the BPF programs' lock probes: not with "
			    "--backend %s", env.backend);
	if (env.backend && !strcmp(env.backend, "preload")) {
		if (env.pid)
			usage_error("--backend preload is for a command concwatch starts (run, "
				    "record -- CMD): a running process cannot be given the library");
		if (env.no_uprobes)
			usage_error("--no-uprobes traces no lock call: --backend preload would "
				    "have nothing to do");
	}
	switch (env.cmd) {
	case CMD_LIVE:
		if (!env.pid)
			usage_error("no process given: use -p PID, or a command such as 'run'");
		break;
	case CMD_REPORT:
		if (env.file && env.pid)
			usage_error("give either FILE or -p PID, not both");
		if (!env.file && !env.pid)
			usage_error("give a recording FILE or -p PID");
		break;
	case CMD_RUN:
		if (!env.cmd_argv)
			usage_error("no command given: concwatch run [options] -- CMD [ARGS...]");
		break;
	case CMD_RECORD:
		if (!env.output)
			usage_error("no output file: use -o FILE");
		if (!env.pid == !env.cmd_argv)
			usage_error("give either -p PID or -- CMD, exactly one");
		break;
	case CMD_DEADLOCK:
		if (!env.pid)
			usage_error("no process given: use -p PID");
		break;
	case CMD_EXPORT:
		if (!env.file || !env.format || !env.output)
			usage_error("export needs FILE, --format and -o OUT");
		break;
	}
}

static int dispatch(void)
{
	int ret;

	check_usage();
	/*
	 * A command concwatch starts: the in-process library records its lock calls without a
	 * trap (Documentation/preload.md), beside the BPF programs. Not for what only the
	 * uprobes do: a budget for them, or none of them.
	 */
	if (!env.backend && env.cmd_argv && !env.no_uprobes && env.max_overhead_pct <= 0 &&
	    cw_preload_source__available() && !cw_bpf_source__available(NULL, 0))
		env.backend = "preload";
	if (env.cmd != CMD_EXPORT && !(env.cmd == CMD_REPORT && env.file))
		install_signals();
	/* -o is written last, but checked first: nothing runs when it cannot be written */
	ret = check_output(env.output, env.file, env.cmd != CMD_RECORD);
	if (ret)
		return ret;
	switch (env.cmd) {
	case CMD_LIVE:
		/* as top: text snapshots when asked, or when stdout is no terminal */
		if (env.batch || !isatty(STDOUT_FILENO))
			return cmd_batch();
		if (!isatty(STDIN_FILENO))
			usage_error("the dashboard reads keys from a terminal: standard input is "
				    "none (use --batch for text snapshots)");
		return cmd_dashboard();
	case CMD_REPORT:
		return env.file ? cmd_report_file() : cmd_report_live();
	case CMD_RUN:
		return cmd_run();
	case CMD_RECORD:
		return cmd_record();
	case CMD_DEADLOCK:
		return cmd_deadlock();
	case CMD_EXPORT:
		return cmd_export();
	}
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const struct command_def *def = &commands[0];
	char prog[64] = "concwatch";
	int err;

	argp_err_exit_status = EXIT_USAGE;
	if (argc > 1 && argv[1][0] != '-') {
		size_t i;

		for (i = 1; i < ARRAY_SIZE(commands); i++)
			if (!strcmp(argv[1], commands[i].name))
				break;
		env.prog = prog;
		if (i == ARRAY_SIZE(commands))
			usage_error("unknown command '%s'", argv[1]);
		def = &commands[i];
		snprintf(prog, sizeof(prog), "concwatch %s", def->name);
		/* argv[0] names the command in argp's messages and usage lines */
		argv[1] = prog;
		argv++;
		argc--;
	}
	env.prog = prog;
	argv[0] = prog;
	env.cmd = def->cmd;
	err = argp_parse(&def->argp, argc, argv, def->flags, NULL, NULL);
	if (err)
		return EXIT_USAGE;
	return dispatch();
}
