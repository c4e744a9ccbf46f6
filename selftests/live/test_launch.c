// SPDX-License-Identifier: GPL-2.0
/*
 * The launcher of `concwatch run` (tools/lib/source/launch.h) on real processes: which
 * events come, in which order, for which pids and parents; that each process is in a
 * tracing stop at its event, at the very first instruction of a new image; exit statuses
 * in shell form; threads, signals and job control passing through; detaching; and the
 * traced tree dying with its tracer.
 *
 * Small programs with exactly known behaviour are this binary itself, run again as
 * `test_launch --launch-helper NAME [ARGS]` (see helper_main()).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common/time.h"
#include "cwtest.h"
#include "source/launch.h"
#include "source/target.h"

#define HELPER_FLAG "--launch-helper"
/* No run here takes more than a fraction of a second; this only bounds a broken one. */
#define NEXT_TIMEOUT_MS 20000
#define MAX_EVENTS 32

/* ---- helpers: the programs under the launcher ---- */

static volatile sig_atomic_t got_usr1, got_cont;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static long counter;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

static void on_cont(int sig)
{
	got_cont = 1;
}

static void *locker(void *arg)
{
	int i;

	for (i = 0; i < 10000; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* A thread that is not the leader forks, and the child execs. */
static void *forker(void *arg)
{
	pid_t c = fork();
	int st;

	if (!c) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (c < 0 || waitpid(c, &st, 0) != c)
		return (void *)1L;
	return (void *)(long)!(WIFEXITED(st) && !WEXITSTATUS(st));
}

static int helper_threads(void)
{
	pthread_t t[5];
	void *ret;
	int i, bad = 0;

	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, locker, NULL);
	pthread_create(&t[4], NULL, forker, NULL);
	for (i = 0; i < 5; i++) {
		pthread_join(t[i], &ret);
		bad |= ret != NULL;
	}
	return bad || counter != 40000;
}

static void *exec_from_thread(void *arg)
{
	execl("/bin/sh", "sh", "-c", "exit 9", (char *)NULL);
	_exit(127);
}

static int helper_thread_exec(void)
{
	pthread_t t;

	pthread_create(&t, NULL, exec_from_thread, NULL);
	pthread_join(t, NULL);	/* the exec ends this thread */
	return 1;
}

static int clone_child(void *arg)
{
	return 5;
}

/* A process made by clone() with no exit signal: ptrace calls that PTRACE_EVENT_CLONE. */
static int helper_clone(void)
{
	size_t size = 256 * 1024;
	char *stack = malloc(size);
	int st;
	pid_t c;

	c = clone(clone_child, stack + size, 0, NULL);
	if (c < 0 || waitpid(c, &st, __WALL) != c || !WIFEXITED(st))
		return 1;
	return WEXITSTATUS(st);
}

static int helper_sigusr1(void)
{
	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	return got_usr1 ? 42 : 1;
}

static int helper_segv(void)
{
	struct rlimit no_core = { 0, 0 };
	volatile uintptr_t addr = 0;

	setrlimit(RLIMIT_CORE, &no_core);
	*(volatile int *)addr = 1;
	return 1;
}

static int helper_kill9(void)
{
	kill(getpid(), SIGKILL);
	pause();
	return 1;
}

/*
 * Job control as a shell does it: the child stops itself, the parent must see that
 * with WUNTRACED, continue it with SIGCONT, and the child must have been really stopped
 * until then (its SIGCONT handler ran after SIGSTOP returned).
 */
static int helper_jobctl(void)
{
	pid_t c = fork();
	int st;

	if (!c) {
		signal(SIGCONT, on_cont);
		raise(SIGSTOP);
		_exit(got_cont ? 43 : 1);
	}
	if (c < 0 || waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st) ||
	    WSTOPSIG(st) != SIGSTOP)
		return 2;
	kill(c, SIGCONT);
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return 3;
	return WEXITSTATUS(st);
}

/* 0 when the command starts with the caller's signal state: SIGUSR2 blocked, SIGCHLD
 * not blocked and ignored (as the test sets them up). */
static int helper_mask(void)
{
	struct sigaction sa;
	sigset_t s;

	sigprocmask(SIG_BLOCK, NULL, &s);
	sigaction(SIGCHLD, NULL, &sa);
	return (sigismember(&s, SIGCHLD) ? 1 : 0) | (sigismember(&s, SIGUSR2) ? 0 : 2) |
	       (sa.sa_handler == SIG_IGN ? 0 : 4);
}

static void *sleeper(void *arg)
{
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&never, &mu);
	return NULL;
}

/* Three sleeping threads; "r" on ready_fd; then read in_fd until EOF and exit 21. */
static int helper_wait(int in_fd, int ready_fd)
{
	pthread_t t;
	char buf[64];
	int i;

	for (i = 0; i < 3; i++)
		pthread_create(&t, NULL, sleeper, NULL);
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	while (read(in_fd, buf, sizeof(buf)) > 0)
		;
	return 21;
}

/* The helper "forkleaf": forks a child that exits 0 at once, reaps it, exits 3. */
static int helper_forkleaf(void)
{
	pid_t c = fork();
	int st;

	if (!c)
		_exit(0);
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	return 3;
}

/*
 * The helper "forktree": a child that execs "forkleaf", reaped; then "r" on ready_fd,
 * and in_fd read until EOF; exits 22.
 */
static int helper_forktree(const char *exe, int in_fd, int ready_fd)
{
	char buf[64];
	pid_t c = fork();
	int st;

	if (!c) {
		execl(exe, exe, HELPER_FLAG, "forkleaf", (char *)NULL);
		_exit(127);
	}
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
		return 1;
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	while (read(in_fd, buf, sizeof(buf)) > 0)
		;
	return 22;
}

static void __attribute__((constructor)) helper_main(int argc, char **argv)
{
	const char *name;

	if (argc < 3 || strcmp(argv[1], HELPER_FLAG))
		return;
	name = argv[2];
	if (!strcmp(name, "threads"))
		exit(helper_threads());
	if (!strcmp(name, "thread-exec"))
		exit(helper_thread_exec());
	if (!strcmp(name, "clone"))
		exit(helper_clone());
	if (!strcmp(name, "sigusr1"))
		exit(helper_sigusr1());
	if (!strcmp(name, "segv"))
		exit(helper_segv());
	if (!strcmp(name, "kill9"))
		exit(helper_kill9());
	if (!strcmp(name, "jobctl"))
		exit(helper_jobctl());
	if (!strcmp(name, "mask"))
		exit(helper_mask());
	if (!strcmp(name, "exit4"))
		exit(4);
	if (!strcmp(name, "wait") && argc == 5)
		exit(helper_wait(atoi(argv[3]), atoi(argv[4])));
	if (!strcmp(name, "forkleaf"))
		exit(helper_forkleaf());
	if (!strcmp(name, "forktree") && argc == 5)
		exit(helper_forktree(argv[0], atoi(argv[3]), atoi(argv[4])));
	fprintf(stderr, "unknown helper %s\n", name);
	exit(126);
}

/* ---- the test side ---- */

static const char *self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	path[n > 0 ? n : 0] = '\0';
	return path;
}

/* State letter of pid in /proc/PID/stat ('t': tracing stop), 0 when unreadable. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return 0;
	return p[1] == ' ' ? p[2] : 0;
}

static void proc_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

static unsigned long auxv_get(pid_t pid, unsigned long type)
{
	unsigned long v[2], val = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fread(v, sizeof(v), 1, f) == 1 && v[0] != AT_NULL)
		if (v[0] == type)
			val = v[1];
	fclose(f);
	return val;
}

/* e_entry of the file pid maps at base with file offset 0 (the dynamic loader). */
static unsigned long entry_of_mapping(pid_t pid, unsigned long base)
{
	char path[64], line[PATH_MAX + 128], *file;
	unsigned long start, off, entry = 0;
	Elf64_Ehdr eh;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%*x %*s %lx", &start, &off) != 2 || start != base || off)
			continue;
		file = strchr(line, '/');
		if (!file)
			break;
		file[strcspn(file, "\n")] = '\0';
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && pread(fd, &eh, sizeof(eh), 0) == sizeof(eh))
			entry = eh.e_entry;
		if (fd >= 0)
			close(fd);
		break;
	}
	fclose(f);
	return entry;
}

/*
 * Whether pid, stopped at its exec event, is at the first instruction of its new image:
 * the entry of ld.so (AT_BASE + its e_entry) or, with no interpreter, AT_ENTRY.
 * -1 when this architecture is not checked here.
 */
static int at_first_instruction(pid_t pid)
{
#ifdef __x86_64__
	struct user_regs_struct regs;
	unsigned long base = auxv_get(pid, AT_BASE), want;

	if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
		return 0;
	want = base ? base + entry_of_mapping(pid, base) : auxv_get(pid, AT_ENTRY);
	return want && regs.rip == want;
#else
	return -1;
#endif
}

/* What a run showed: its events, and for EXEC and FORK what /proc said before resume. */
struct seen {
	int n;
	struct cw_launch_event ev[MAX_EVENTS];
	char state[MAX_EVENTS];
	int at_entry[MAX_EVENTS];
	char exe[MAX_EVENTS][PATH_MAX];
};

/* Take every event until the launcher is done, resuming each held process. */
static void follow(struct __test_metadata *_metadata, struct cw_launch *l, struct seen *s)
{
	struct cw_launch_event ev;
	int r;

	memset(s, 0, sizeof(*s));
	for (;;) {
		r = cw_launch__next(l, &ev, NEXT_TIMEOUT_MS);
		if (r == -ECHILD)
			break;
		ASSERT_EQ(1, r) TH_LOG("cw_launch__next: %s", r ? strerror(-r) : "timed out");
		ASSERT_LT(s->n, MAX_EVENTS);
		s->ev[s->n] = ev;
		if (ev.kind != CW_LAUNCH_EXIT) {
			s->state[s->n] = proc_state(ev.pid);
			proc_exe(ev.pid, s->exe[s->n], PATH_MAX);
			if (ev.kind == CW_LAUNCH_EXEC)
				s->at_entry[s->n] = at_first_instruction(ev.pid);
			ASSERT_EQ(0, cw_launch__resume(l, ev.pid));
		}
		s->n++;
	}
	/* done stays done */
	ASSERT_EQ(-ECHILD, cw_launch__next(l, &ev, 0));
}

static struct cw_launch *start(struct __test_metadata *_metadata, char *const argv[])
{
	struct cw_launch *l = NULL;
	char err[256] = "";
	int r;

	r = cw_launch__start(argv, &l, err, sizeof(err));
	if (r)
		TH_LOG("cw_launch__start: %s", err);
	return r ? NULL : l;
}

/* Run a helper of this binary to its end. */
static struct cw_launch *run_helper(struct __test_metadata *_metadata, const char *name,
				    struct seen *s)
{
	char *argv[] = { (char *)self_exe(), HELPER_FLAG, (char *)name, NULL };
	struct cw_launch *l = start(_metadata, argv);

	if (l)
		follow(_metadata, l, s);
	return l;
}

static const char *real(const char *path)
{
	static char buf[4][PATH_MAX];
	static int i;
	char *b = buf[i++ % 4];

	if (!realpath(path, b))
		snprintf(b, PATH_MAX, "%s", path);
	return b;
}

#define ASSERT_EVENT(s, i, k, p, pp)                                                 \
	do {                                                                         \
		ASSERT_LT(i, (s).n);                                                 \
		ASSERT_EQ(k, (s).ev[i].kind) TH_LOG("event %d", i);                 \
		ASSERT_EQ(p, (s).ev[i].pid) TH_LOG("event %d", i);                  \
		ASSERT_EQ(pp, (s).ev[i].ppid) TH_LOG("event %d", i);                \
	} while (0)

/* An EXEC or FORK event: the process was in a tracing stop when the caller saw it. */
#define ASSERT_HELD(s, i)                                                            \
	ASSERT_EQ('t', (s).state[i]) TH_LOG("event %d: state '%c'", i, (s).state[i])

/* An EXEC event: stopped at the first instruction of the image it shows. */
#define ASSERT_EXEC(s, i, p, pp, path)                                               \
	do {                                                                         \
		ASSERT_EVENT(s, i, CW_LAUNCH_EXEC, p, pp);                           \
		ASSERT_HELD(s, i);                                                   \
		ASSERT_STREQ(real(path), (s).exe[i]);                                \
		ASSERT_NE(0, (s).at_entry[i]) TH_LOG("event %d: not at the entry", i); \
	} while (0)

#define ASSERT_EXIT_EVENT(s, i, p, pp, st)                                           \
	do {                                                                         \
		ASSERT_EVENT(s, i, CW_LAUNCH_EXIT, p, pp);                           \
		ASSERT_EQ(st, (s).ev[i].status) TH_LOG("event %d", i);              \
	} while (0)

TEST(true_is_one_exec_then_exit_0)
{
	char *argv[] = { "true", NULL };
	struct cw_launch *l = start(_metadata, argv);
	struct seen s;
	pid_t pid;

	ASSERT_NE(NULL, l);
	pid = cw_launch__pid(l);
	ASSERT_EQ(-1, cw_launch__status(l));
	follow(_metadata, l, &s);
	ASSERT_EQ(2, s.n);
	ASSERT_EXEC(s, 0, pid, getpid(), "/bin/true");
	ASSERT_EXIT_EVENT(s, 1, pid, getpid(), 0);
	ASSERT_EQ(0, cw_launch__status(l));
	ASSERT_EQ(-ESRCH, cw_launch__resume(l, pid));
	cw_launch__free(l);
	/* nothing left behind: the command was reaped */
	ASSERT_EQ(-1, waitpid(-1, NULL, WNOHANG | __WALL));
	ASSERT_EQ(ECHILD, errno);
}

/*
 * With CW_LAUNCH_F_EXITING, a process is held once more on its way out, its memory still
 * mapped: a dynamically linked command maps libc by then. Then its exit.
 */
TEST(exiting_is_held_with_memory)
{
	/* this test, dynamically linked (a guest's /bin/sh may be a static busybox) */
	char *argv[] = { (char *)self_exe(), HELPER_FLAG, "exit4", NULL };
	struct cw_launch_event ev;
	struct cw_launch *l = NULL;
	char err[256] = "", path[64], line[512];
	int saw_libc = 0;
	FILE *f;
	pid_t pid;

	ASSERT_EQ(0, cw_launch__start_flags(argv, CW_LAUNCH_F_EXITING, &l, err, sizeof(err)))
		TH_LOG("%s", err);
	pid = cw_launch__pid(l);
	ASSERT_EQ(1, cw_launch__next(l, &ev, NEXT_TIMEOUT_MS));
	ASSERT_EQ(CW_LAUNCH_EXEC, ev.kind);
	ASSERT_EQ(0, cw_launch__resume(l, pid));
	ASSERT_EQ(1, cw_launch__next(l, &ev, NEXT_TIMEOUT_MS));
	ASSERT_EQ(CW_LAUNCH_EXITING, ev.kind);
	ASSERT_EQ(pid, ev.pid);
	ASSERT_EQ('t', proc_state(pid));
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		saw_libc |= strstr(line, "/libc.so.6") != NULL;
	fclose(f);
	EXPECT_TRUE(saw_libc);
	ASSERT_EQ(0, cw_launch__resume(l, pid));
	ASSERT_EQ(1, cw_launch__next(l, &ev, NEXT_TIMEOUT_MS));
	ASSERT_EQ(CW_LAUNCH_EXIT, ev.kind);
	ASSERT_EQ(4, ev.status);
	ASSERT_EQ(-ECHILD, cw_launch__next(l, &ev, NEXT_TIMEOUT_MS));
	ASSERT_EQ(4, cw_launch__status(l));
	cw_launch__free(l);
}

TEST(exit_code_of_the_command)
{
	char *argv[] = { "sh", "-c", "exit 7", NULL };
	struct cw_launch *l = start(_metadata, argv);
	struct seen s;

	ASSERT_NE(NULL, l);
	follow(_metadata, l, &s);
	ASSERT_EQ(2, s.n);
	ASSERT_EXEC(s, 0, cw_launch__pid(l), getpid(), "/bin/sh");
	ASSERT_EXIT_EVENT(s, 1, cw_launch__pid(l), getpid(), 7);
	ASSERT_EQ(7, cw_launch__status(l));
	cw_launch__free(l);
}

TEST(killed_by_sigkill_is_137)
{
	struct seen s;
	struct cw_launch *l = run_helper(_metadata, "kill9", &s);

	ASSERT_NE(NULL, l);
	ASSERT_EQ(2, s.n);
	ASSERT_EXIT_EVENT(s, 1, cw_launch__pid(l), getpid(), 128 + SIGKILL);
	ASSERT_EQ(128 + SIGKILL, cw_launch__status(l));
	cw_launch__free(l);
}

TEST(killed_by_a_fault_is_139)
{
	struct seen s;
	struct cw_launch *l = run_helper(_metadata, "segv", &s);

	ASSERT_NE(NULL, l);
	ASSERT_EQ(2, s.n);
	ASSERT_EXIT_EVENT(s, 1, cw_launch__pid(l), getpid(), 128 + SIGSEGV);
	ASSERT_EQ(128 + SIGSEGV, cw_launch__status(l));
	cw_launch__free(l);
}

/*
 * sh forks /bin/true, then a second sh that forks /bin/true in turn: every process is
 * reported at its fork and at its exec, with its parent, in the order it happened.
 */
TEST(exec_chain_with_grandchildren)
{
	char *argv[] = { "sh", "-c", "/bin/true; sh -c '/bin/true; exit 4'; exit $?", NULL };
	struct cw_launch *l = start(_metadata, argv);
	pid_t me = getpid(), r, a, b, c;
	struct seen s;

	ASSERT_NE(NULL, l);
	r = cw_launch__pid(l);
	follow(_metadata, l, &s);
	ASSERT_EQ(11, s.n);
	ASSERT_EXEC(s, 0, r, me, "/bin/sh");
	a = s.ev[1].pid;
	ASSERT_EVENT(s, 1, CW_LAUNCH_FORK, a, r);
	ASSERT_HELD(s, 1);
	ASSERT_EXEC(s, 2, a, r, "/bin/true");
	ASSERT_EXIT_EVENT(s, 3, a, r, 0);
	b = s.ev[4].pid;
	ASSERT_EVENT(s, 4, CW_LAUNCH_FORK, b, r);
	ASSERT_HELD(s, 4);
	ASSERT_EXEC(s, 5, b, r, "/bin/sh");
	c = s.ev[6].pid;
	ASSERT_EVENT(s, 6, CW_LAUNCH_FORK, c, b);
	ASSERT_HELD(s, 6);
	ASSERT_EXEC(s, 7, c, b, "/bin/true");
	ASSERT_EXIT_EVENT(s, 8, c, b, 0);
	ASSERT_EXIT_EVENT(s, 9, b, r, 4);
	ASSERT_EXIT_EVENT(s, 10, r, me, 4);
	ASSERT_NE(a, b);
	ASSERT_NE(b, c);
	ASSERT_EQ(4, cw_launch__status(l));
	cw_launch__free(l);
}

/*
 * A command whose tracing failed: killed where it is held, at its exec, before its first
 * instruction (it would have made a file), and reaped; status 128+SIGKILL.
 */
TEST(kill_all_at_exec_runs_nothing)
{
	char marker[] = "/tmp/cw-kill." CW_TMP_X, script[64];
	char *argv[] = { "sh", "-c", script, NULL };
	struct cw_launch *l;
	struct cw_launch_event ev;
	int fd;

	fd = mkstemp(marker);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, unlink(marker));
	snprintf(script, sizeof(script), "echo ran > %s", marker);
	l = start(_metadata, argv);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(1, cw_launch__next(l, &ev, NEXT_TIMEOUT_MS));
	ASSERT_EQ(CW_LAUNCH_EXEC, ev.kind);
	ASSERT_EQ(1, cw_launch__kill_all(l));
	ASSERT_EQ(128 + SIGKILL, cw_launch__status(l));
	ASSERT_EQ(1, cw_launch__next(l, &ev, 0));
	ASSERT_EQ(CW_LAUNCH_EXIT, ev.kind);
	ASSERT_EQ(128 + SIGKILL, ev.status);
	ASSERT_EQ(-ECHILD, cw_launch__next(l, &ev, 0));
	ASSERT_EQ(0, cw_launch__kill_all(l));
	cw_launch__free(l);
	ASSERT_EQ(-1, access(marker, F_OK));
	ASSERT_EQ(-1, waitpid(-1, NULL, WNOHANG | __WALL));
	ASSERT_EQ(ECHILD, errno);
}

/* Killed while running, a fork held at its event included: the whole tree goes. */
TEST(kill_all_kills_the_tree)
{
	char *argv[] = { "sh", "-c", "sleep 1000 & wait", NULL };
	struct cw_launch_event ev;
	struct cw_launch *l;
	int held = 0, n;

	l = start(_metadata, argv);
	ASSERT_NE(NULL, l);
	/* until the shell's child is held at its first stop (its fork) */
	while (!held) {
		n = cw_launch__next(l, &ev, NEXT_TIMEOUT_MS);
		ASSERT_EQ(1, n);
		if (ev.kind == CW_LAUNCH_FORK)
			held = 1;
		else
			ASSERT_EQ(0, cw_launch__resume(l, ev.pid));
	}
	ASSERT_EQ(2, cw_launch__kill_all(l));
	ASSERT_EQ(128 + SIGKILL, cw_launch__status(l));
	cw_launch__free(l);
	ASSERT_EQ(-1, waitpid(-1, NULL, WNOHANG | __WALL));
	ASSERT_EQ(ECHILD, errno);
}

/* A subshell is a fork without exec: held before it runs, in the parent's image. */
TEST(fork_without_exec_is_held_before_it_runs)
{
	char *argv[] = { "sh", "-c", "(exit 3); exit $?", NULL };
	struct cw_launch *l = start(_metadata, argv);
	struct seen s;
	pid_t r;

	ASSERT_NE(NULL, l);
	r = cw_launch__pid(l);
	follow(_metadata, l, &s);
	ASSERT_EQ(4, s.n);
	ASSERT_EXEC(s, 0, r, getpid(), "/bin/sh");
	ASSERT_EVENT(s, 1, CW_LAUNCH_FORK, s.ev[1].pid, r);
	ASSERT_HELD(s, 1);
	ASSERT_STREQ(real("/bin/sh"), s.exe[1]);
	ASSERT_EXIT_EVENT(s, 2, s.ev[1].pid, r, 3);
	ASSERT_EXIT_EVENT(s, 3, r, getpid(), 3);
	ASSERT_EQ(3, cw_launch__status(l));
	cw_launch__free(l);
}

/* Four threads contend on a mutex and a fifth forks and execs: only processes are reported. */
TEST(threads_are_not_processes)
{
	struct seen s;
	struct cw_launch *l = run_helper(_metadata, "threads", &s);
	pid_t r, c;

	ASSERT_NE(NULL, l);
	r = cw_launch__pid(l);
	ASSERT_EQ(5, s.n);
	ASSERT_EXEC(s, 0, r, getpid(), self_exe());
	c = s.ev[1].pid;
	ASSERT_EVENT(s, 1, CW_LAUNCH_FORK, c, r);
	ASSERT_HELD(s, 1);
	ASSERT_EXEC(s, 2, c, r, "/bin/true");
	ASSERT_EXIT_EVENT(s, 3, c, r, 0);
	ASSERT_EXIT_EVENT(s, 4, r, getpid(), 0);
	cw_launch__free(l);
}

/* An exec by a thread that is not the leader: the process keeps its pid, the thread
 * takes it over; a second EXEC, and nothing left of the old thread. */
TEST(exec_from_a_thread)
{
	struct seen s;
	struct cw_launch *l = run_helper(_metadata, "thread-exec", &s);
	pid_t r;

	ASSERT_NE(NULL, l);
	r = cw_launch__pid(l);
	ASSERT_EQ(3, s.n);
	ASSERT_EXEC(s, 0, r, getpid(), self_exe());
	ASSERT_EXEC(s, 1, r, getpid(), "/bin/sh");
	ASSERT_EXIT_EVENT(s, 2, r, getpid(), 9);
	ASSERT_EQ(9, cw_launch__status(l));
	cw_launch__free(l);
}

/* clone() without CLONE_THREAD and without SIGCHLD: a process, though ptrace says CLONE. */
TEST(clone_made_process)
{
	struct seen s;
	struct cw_launch *l = run_helper(_metadata, "clone", &s);
	pid_t r;

	ASSERT_NE(NULL, l);
	r = cw_launch__pid(l);
	ASSERT_EQ(4, s.n);
	ASSERT_EXEC(s, 0, r, getpid(), self_exe());
	ASSERT_EVENT(s, 1, CW_LAUNCH_FORK, s.ev[1].pid, r);
	ASSERT_HELD(s, 1);
	ASSERT_EXIT_EVENT(s, 2, s.ev[1].pid, r, 5);
	ASSERT_EXIT_EVENT(s, 3, r, getpid(), 5);
	cw_launch__free(l);
}

TEST(signal_reaches_the_command)
{
	struct seen s;
	struct cw_launch *l = run_helper(_metadata, "sigusr1", &s);

	ASSERT_NE(NULL, l);
	ASSERT_EQ(2, s.n);
	ASSERT_EXIT_EVENT(s, 1, cw_launch__pid(l), getpid(), 42);
	cw_launch__free(l);
}

TEST(job_control_stop_and_continue)
{
	struct seen s;
	struct cw_launch *l = run_helper(_metadata, "jobctl", &s);
	pid_t r;

	ASSERT_NE(NULL, l);
	r = cw_launch__pid(l);
	ASSERT_EQ(4, s.n);
	ASSERT_EVENT(s, 1, CW_LAUNCH_FORK, s.ev[1].pid, r);
	ASSERT_EXIT_EVENT(s, 2, s.ev[1].pid, r, 43);
	ASSERT_EXIT_EVENT(s, 3, r, getpid(), 43);
	cw_launch__free(l);
}

static void run_quietly(struct __test_metadata *_metadata, char *const argv[], struct seen *s,
			int *status)
{
	int out = dup(1), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct cw_launch *l;

	ASSERT_LE(0, out);
	ASSERT_LE(0, null);
	dup2(null, 1);
	l = start(_metadata, argv);
	dup2(out, 1);
	close(out);
	close(null);
	ASSERT_NE(NULL, l);
	follow(_metadata, l, s);
	*status = cw_launch__status(l);
	cw_launch__free(l);
}

/* Static binaries have no ld.so: held at AT_ENTRY itself, non-PIE and PIE alike. */
TEST(static_binaries)
{
	char *busybox[] = { "/bin/busybox", "true", NULL };
	char *ldconfig[] = { "/sbin/ldconfig", "--version", NULL };
	struct seen s;
	int status;

	if (access(busybox[0], X_OK) || access(ldconfig[0], X_OK))
		SKIP(return, "needs /bin/busybox and /sbin/ldconfig (static binaries)");
	run_quietly(_metadata, busybox, &s, &status);
	ASSERT_EQ(2, s.n);
	ASSERT_EXEC(s, 0, s.ev[0].pid, getpid(), busybox[0]);
	ASSERT_EQ(0, status);

	run_quietly(_metadata, ldconfig, &s, &status);
	ASSERT_EQ(2, s.n);
	ASSERT_EXEC(s, 0, s.ev[0].pid, getpid(), ldconfig[0]);
	ASSERT_EQ(0, status);
}

TEST(exec_failure)
{
	char *argv[] = { "/nonexistent/command", NULL };
	struct cw_launch *l = (struct cw_launch *)1;
	char err[256] = "";

	ASSERT_EQ(-ENOENT, cw_launch__start(argv, &l, err, sizeof(err)));
	ASSERT_EQ(NULL, l);
	ASSERT_STREQ("failed to execute /nonexistent/command: No such file or directory", err);
	ASSERT_EQ(-1, waitpid(-1, NULL, WNOHANG | __WALL));
	ASSERT_EQ(ECHILD, errno);
}

/* With SIGCHLD ignored by the caller (which would hide stops and exits) and SIGUSR2
 * blocked: the launcher works, the command gets the caller's state, the caller gets it
 * back. */
TEST(callers_signal_state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, sa;
	sigset_t usr2, now;
	struct seen s;
	struct cw_launch *l;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &usr2, NULL));
	ASSERT_EQ(0, sigaction(SIGCHLD, &ign, NULL));
	l = run_helper(_metadata, "mask", &s);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(2, s.n);
	ASSERT_EXIT_EVENT(s, 1, cw_launch__pid(l), getpid(), 0);
	cw_launch__free(l);
	ASSERT_EQ(0, sigaction(SIGCHLD, NULL, &sa));
	ASSERT_EQ(SIG_IGN, sa.sa_handler);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, NULL, &now));
	ASSERT_FALSE(sigismember(&now, SIGCHLD));
	ASSERT_TRUE(sigismember(&now, SIGUSR2));
}

/* TracerPid of every thread of pid; 0 when all are untraced, -1 when unreadable. */
static int any_tracer(pid_t pid)
{
	int *tids = NULL, tracer = 0;
	char path[96], line[128];
	size_t n = 0, i;
	FILE *f;

	if (cw_target__threads(pid, &tids, &n))
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tids[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "TracerPid: %d", &tracer) == 1 && tracer)
				break;
		fclose(f);
		if (tracer)
			break;
	}
	free(tids);
	return tracer;
}

/* Serve the launcher from a poll loop, as concwatch does, until ready_fd has a byte. */
static int serve_until_ready(struct cw_launch *l, int ready_fd)
{
	struct pollfd p[2] = { { .fd = cw_launch__fd(l), .events = POLLIN },
			       { .fd = ready_fd, .events = POLLIN } };
	struct cw_launch_event ev;
	char c;
	int r;

	for (;;) {
		while ((r = cw_launch__next(l, &ev, 0)) == 1)
			if (ev.kind == CW_LAUNCH_EXIT || cw_launch__resume(l, ev.pid))
				return -1;
		if (r)
			return -1;
		if (poll(p, 2, NEXT_TIMEOUT_MS) <= 0)
			return -1;
		if (p[1].revents)
			return read(ready_fd, &c, 1) == 1 ? 0 : -1;
	}
}

/* The helper "wait" (or another of its two arguments): in_fd and ready_fd are inherited;
 * the test's ends are not. */
struct wait_helper {
	int in[2], ready[2];
	char a[16], b[16];
	char *argv[6];
};

static int wait_helper_init(struct wait_helper *w, const char *name)
{
	if (pipe2(w->in, O_CLOEXEC) || pipe2(w->ready, O_CLOEXEC) ||
	    fcntl(w->in[0], F_SETFD, 0) || fcntl(w->ready[1], F_SETFD, 0))
		return -errno;
	snprintf(w->a, sizeof(w->a), "%d", w->in[0]);
	snprintf(w->b, sizeof(w->b), "%d", w->ready[1]);
	w->argv[0] = (char *)self_exe();
	w->argv[1] = HELPER_FLAG;
	w->argv[2] = (char *)name;
	w->argv[3] = w->a;
	w->argv[4] = w->b;
	w->argv[5] = NULL;
	return 0;
}

/*
 * Detach while the command runs, its threads asleep: nothing of it stays traced, it
 * goes on untraced and ends as it would have; the launcher is done, status unknown.
 */
TEST(detach_all_leaves_the_command_running)
{
	struct cw_launch_event ev;
	struct wait_helper w;
	struct cw_launch *l;
	int st, *tids = NULL;
	size_t n = 0;
	pid_t pid;

	ASSERT_EQ(0, wait_helper_init(&w, "wait"));
	l = start(_metadata, w.argv);
	ASSERT_NE(NULL, l);
	pid = cw_launch__pid(l);
	ASSERT_EQ(0, serve_until_ready(l, w.ready[0]));
	ASSERT_EQ(0, cw_target__threads(pid, &tids, &n));
	free(tids);
	ASSERT_EQ(4, n);

	ASSERT_EQ(0, cw_launch__detach_all(l));
	ASSERT_EQ(0, any_tracer(pid));
	ASSERT_EQ(-ECHILD, cw_launch__next(l, &ev, 0));
	ASSERT_EQ(-1, cw_launch__status(l));
	cw_launch__free(l);

	close(w.in[1]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("status 0x%x", st);
	ASSERT_EQ(21, WEXITSTATUS(st));
}

/*
 * A released process's child that execs, forks a child of its own, and is reaped, all
 * before the caller reads a thing (a short command under a busy tracer): each is
 * reported all the same from the connector's news, in order: the child's fork and exec,
 * the grandchild's fork from it, then their ends (the grandchild's first), then the
 * command's. Before, the child was said forked and ended only, and its exec and its own
 * children were lost (pidfd_open() failed on it): so were their lock calls under run.
 */
TEST(released_tree_over_before_it_is_read)
{
	struct pollfd pfd = { .events = POLLIN };
	struct cw_launch_event ev[8];
	struct wait_helper w;
	struct cw_launch *l;
	pid_t root, a, b;
	int n = 0, r;
	char c;

	ASSERT_EQ(0, wait_helper_init(&w, "forktree"));
	l = start(_metadata, w.argv);
	ASSERT_NE(NULL, l);
	close(w.in[0]);
	close(w.ready[1]);
	root = cw_launch__pid(l);
	ASSERT_EQ(1, cw_launch__next(l, &ev[0], NEXT_TIMEOUT_MS));
	ASSERT_EQ(CW_LAUNCH_EXEC, ev[0].kind);
	ASSERT_EQ(root, ev[0].pid);
	r = cw_launch__release(l, root);
	if (r) {
		cw_launch__kill_all(l);
		cw_launch__free(l);
		SKIP(return, "no process connector: %s", strerror(-r));
	}

	/* the child and the grandchild are reaped now, nothing read yet */
	pfd.fd = w.ready[0];
	ASSERT_EQ(1, poll(&pfd, 1, NEXT_TIMEOUT_MS));
	ASSERT_EQ(1, read(w.ready[0], &c, 1));
	while (n < 8 && (r = cw_launch__next(l, &ev[n], 0)) == 1)
		n++;
	ASSERT_EQ(0, r) TH_LOG("%s", strerror(-r));
	ASSERT_EQ(5, n);
	a = ev[0].pid;
	b = ev[2].pid;
	ASSERT_EQ(CW_LAUNCH_FORK, ev[0].kind);
	EXPECT_EQ(root, ev[0].ppid);
	EXPECT_EQ(0, ev[0].held);
	ASSERT_EQ(CW_LAUNCH_EXEC, ev[1].kind);
	EXPECT_EQ(a, ev[1].pid);
	EXPECT_EQ(root, ev[1].ppid);
	EXPECT_EQ(0, ev[1].held);
	EXPECT_LE(ev[0].ts_ns, ev[1].ts_ns);
	ASSERT_EQ(CW_LAUNCH_FORK, ev[2].kind);
	EXPECT_EQ(a, ev[2].ppid);
	EXPECT_LE(ev[1].ts_ns, ev[2].ts_ns);
	ASSERT_EQ(CW_LAUNCH_EXIT, ev[3].kind);
	EXPECT_EQ(b, ev[3].pid);
	EXPECT_EQ(a, ev[3].ppid);
	ASSERT_EQ(CW_LAUNCH_EXIT, ev[4].kind);
	EXPECT_EQ(a, ev[4].pid);
	EXPECT_EQ(root, ev[4].ppid);
	EXPECT_NE(root, a);
	EXPECT_NE(a, b);

	/* the command itself is followed still, to its end */
	close(w.in[1]);
	ASSERT_EQ(1, cw_launch__next(l, &ev[0], NEXT_TIMEOUT_MS));
	ASSERT_EQ(CW_LAUNCH_EXIT, ev[0].kind);
	EXPECT_EQ(root, ev[0].pid);
	EXPECT_EQ(22, ev[0].status);
	ASSERT_EQ(-ECHILD, cw_launch__next(l, &ev[0], NEXT_TIMEOUT_MS));
	close(w.ready[0]);
	cw_launch__free(l);
}

/* Whether every thread of pid is in state want (from /proc/PID/task/TID/stat). */
static int all_threads_in(pid_t pid, char want)
{
	char path[96], buf[512], *p;
	int *tids = NULL, ok = 1;
	size_t n = 0, i;
	FILE *f;

	if (cw_target__threads(pid, &tids, &n) || !n)
		return 0;
	for (i = 0; i < n && ok; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tids[i]);
		f = fopen(path, "re");
		p = f ? fgets(buf, sizeof(buf), f) : NULL;
		if (f)
			fclose(f);
		ok = p && (p = strrchr(buf, ')')) && p[1] == ' ' && p[2] == want;
	}
	free(tids);
	return ok;
}

/* Wait until every thread of pid is in state want, polling /proc and yielding the CPU
 * between looks; 0 when that has not happened within NEXT_TIMEOUT_MS. */
static int wait_all_threads_in(pid_t pid, char want)
{
	__u64 t0 = cw_now_ns();

	while (!all_threads_in(pid, want)) {
		if (cw_now_ns() - t0 > NEXT_TIMEOUT_MS * 1000000ULL)
			return 0;
		sched_yield();
	}
	return 1;
}

/*
 * A command stopped by SIGSTOP is in a group-stop the launcher keeps with PTRACE_LISTEN;
 * detached, it must still be stopped (T, not running, not gone), and SIGCONT must
 * continue it as if it had never been traced.
 */
TEST(detach_keeps_a_stopped_command_stopped)
{
	struct pollfd pfd = { .events = POLLIN };
	struct cw_launch_event ev;
	struct wait_helper w;
	struct cw_launch *l;
	pid_t pid;
	int st, r;

	ASSERT_EQ(0, wait_helper_init(&w, "wait"));
	l = start(_metadata, w.argv);
	ASSERT_NE(NULL, l);
	pid = cw_launch__pid(l);
	pfd.fd = cw_launch__fd(l);
	ASSERT_EQ(0, serve_until_ready(l, w.ready[0]));
	ASSERT_EQ(0, kill(pid, SIGSTOP));
	/*
	 * Every stop the launcher collects it restarts (re-injecting SIGSTOP, listening in
	 * the group-stop), and every new stop makes its descriptor readable: all threads in
	 * a tracing stop with nothing new to collect means all of them are listening.
	 */
	for (;;) {
		while ((r = cw_launch__next(l, &ev, 0)) == 1)
			ASSERT_NE(CW_LAUNCH_EXIT, ev.kind);
		ASSERT_EQ(0, r);
		if (all_threads_in(pid, 't') && !poll(&pfd, 1, 0))
			break;
		ASSERT_EQ(1, poll(&pfd, 1, NEXT_TIMEOUT_MS));
	}

	ASSERT_EQ(0, cw_launch__detach_all(l));
	ASSERT_EQ(0, any_tracer(pid));
	/* a detached thread goes back to its group-stop by itself, a moment later */
	ASSERT_TRUE(wait_all_threads_in(pid, 'T'));
	cw_launch__free(l);

	close(w.in[1]);
	ASSERT_EQ(0, waitpid(pid, &st, WNOHANG));
	ASSERT_EQ(0, kill(pid, SIGCONT));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("status 0x%x", st);
	ASSERT_EQ(21, WEXITSTATUS(st));
}

/*
 * PTRACE_O_EXITKILL: a tracer that dies without detaching takes the traced command with
 * it. The test is the subreaper that inherits the orphan, to see how it ended.
 */
TEST(the_command_dies_with_its_tracer)
{
	struct wait_helper w;
	int rep[2], st;
	pid_t tracer, pid = 0;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, wait_helper_init(&w, "wait"));
	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	tracer = fork();
	ASSERT_LE(0, tracer);
	if (!tracer) {
		struct cw_launch *l;
		char err[256];

		if (cw_launch__start(w.argv, &l, err, sizeof(err)))
			_exit(1);
		pid = cw_launch__pid(l);
		if (write(rep[1], &pid, sizeof(pid)) != sizeof(pid) ||
		    serve_until_ready(l, w.ready[0]))
			_exit(2);
		_exit(0);	/* without cw_launch__free() */
	}
	close(rep[1]);
	ASSERT_EQ(sizeof(pid), read(rep[0], &pid, sizeof(pid)));
	ASSERT_EQ(tracer, waitpid(tracer, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st));
	/* had it survived, EOF would now end it with 21 */
	close(w.in[1]);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFSIGNALED(st)) TH_LOG("status 0x%x", st);
	ASSERT_EQ(SIGKILL, WTERMSIG(st));
}

TEST_HARNESS_MAIN
