// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common/array.h"
#include "cw_maps.h"
#include "cwtest.h"
#include "source/preload.h"
#include "source/session.h"

static void *drain_thread(void *arg)
{
	struct cw_drain *d = arg;

	d->end = cw_session__run(d->sess, 0, &d->stop);
	return NULL;
}

int cw_drain__start(struct cw_drain *d, struct cw_session *sess)
{
	d->sess = sess;
	d->stop = 0;
	d->end = 0;
	return -pthread_create(&d->thread, NULL, drain_thread, d);
}

long cw_drain__stop(struct cw_drain *d)
{
	d->stop = 1;
	if (pthread_join(d->thread, NULL))
		return -ESRCH;
	return d->end;
}

static const char *exe_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n < 0)
		return ".";
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0';
	return dir;
}

const char *cw_bin_path(void)
{
	static char path[PATH_MAX + 32];
	const char *e = getenv("CW_BIN");

	if (e)
		return e;
	/* tests live in $(O)/selftests/<kind>/, the tool in $(O)/ */
	snprintf(path, sizeof(path), "%s/../../concwatch", exe_dir());
	return path;
}

const char *cw_workload_path(const char *name, char *buf, size_t len)
{
	const char *e = getenv("CW_WORKLOADS");

	if (e)
		snprintf(buf, len, "%s/%s", e, name);
	else
		snprintf(buf, len, "%s/../workloads/%s", exe_dir(), name);
	return buf;
}

long cw_scale(long n)
{
	const char *e = getenv("CW_TEST_SCALE");
	long s = e ? atol(e) : 1;

	if (s > 1)
		n /= s;
	return n > 0 ? n : 1;
}

const char *cw_live_skip_reason(void)
{
	if (geteuid() != 0)
		return "live tracing needs root";
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return "kernel has no BTF (/sys/kernel/btf/vmlinux)";
	return NULL;
}

const char *cw_kmod_skip_reason(int *loaded)
{
	static char buf[256];
	const char *why = cw_live_skip_reason();

	*loaded = 0;
	if (why)
		return why;
	*loaded = cw_kmod_load(buf, sizeof(buf));
	return *loaded < 0 ? buf : NULL;
}

int cw_kmod_load(char *why, size_t len)
{
	const char *ko = getenv("CW_KMOD") ?: "/cw/kmod/concwatch.ko";
	int fd, err;

	if (!access("/dev/concwatch", F_OK))
		return 0;
	if (geteuid()) {
		snprintf(why, len, "loading the module needs root");
		return -1;
	}
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "no module to load: %s: %s", ko, strerror(errno));
		return -1;
	}
	err = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	if (err) {
		snprintf(why, len, "cannot load %s here: %s", ko, strerror(errno));
		return -1;
	}
	return 1;
}

/*
 * rmmod concwatch. A reference still held (EAGAIN: a reader's last fput not finished, or
 * a process that inherited the device across a fork not yet gone) is waited out for up
 * to 2 s, polling; a module still in use then is the test's failure to see.
 */
int cw_kmod_unload(void)
{
	for (int tries = 0;; tries++) {
		if (!syscall(SYS_delete_module, "concwatch", O_NONBLOCK))
			return 0;
		if (errno != EAGAIN || tries == 200)
			return -errno;
		usleep(10000);
	}
}

long long cw_field(const char *line, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p += klen) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=')
			return strtoull(p + klen + 1, NULL, 0);
	}
	return -1;
}

static int read_line(FILE *f, char *buf, size_t len, const char *want)
{
	if (!fgets(buf, len, f))
		return -EPIPE;
	buf[strcspn(buf, "\n")] = '\0';
	return strncmp(buf, want, strlen(want)) ? -EPROTO : 0;
}

/*
 * Fork and exec argv with stdin, stdout, stderr taken from in, out, err where they are
 * not -1, after prep. The child's reasons for failing go to its stderr.
 */
static pid_t fork_exec(const char *const argv[], cw_prep_fn prep, int in, int out, int err)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid)
		return pid;
	if ((in >= 0 && dup2(in, 0) < 0) || (out >= 0 && dup2(out, 1) < 0) ||
	    (err >= 0 && dup2(err, 2) < 0))
		_exit(126);
	if (prep && prep()) {
		fprintf(stderr, "test: preparing %s failed: %s\n", argv[0], strerror(errno));
		_exit(126);
	}
	execv(argv[0], (char *const *)argv);
	fprintf(stderr, "test: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/*
 * Start argv (argv[0] a path) with stdin and stdout on pipes to wl, stderr on err_fd
 * (-1: ours), after prep, and wait for its ready line.
 */
static int wl_start(struct cw_wl *wl, const char *const argv[], cw_prep_fn prep, int err_fd)
{
	int in[2], out[2];

	memset(wl, 0, sizeof(*wl));
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -errno;
	wl->pid = fork_exec(argv, prep, in[0], out[1], err_fd);
	if (wl->pid < 0)
		return wl->pid;
	close(in[0]);
	close(out[1]);
	wl->in_fd = in[1];
	wl->out = fdopen(out[0], "r");
	if (!wl->out)
		return -errno;
	return read_line(wl->out, wl->ready, sizeof(wl->ready), "ready");
}

int cw_wl__start(struct cw_wl *wl, const char *name, const char *const args[])
{
	return cw_wl__start_prep(wl, name, args, NULL);
}

int cw_wl__start_prep(struct cw_wl *wl, const char *name, const char *const args[],
		      cw_prep_fn prep)
{
	char path[PATH_MAX + 64];
	const char *argv[16];
	int n = 0;

	argv[n++] = cw_workload_path(name, path, sizeof(path));
	for (; args && *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return wl_start(wl, argv, prep, -1);
}

int cw_wl__start_cmd(struct cw_wl *wl, const char *const argv[], int err_fd)
{
	return wl_start(wl, argv, NULL, err_fd);
}

int cw_wl__send(struct cw_wl *wl, const char *line)
{
	size_t len = strlen(line);

	if (write(wl->in_fd, line, len) != (ssize_t)len || write(wl->in_fd, "\n", 1) != 1)
		return -errno;
	return 0;
}

int cw_wl__expect(struct cw_wl *wl, const char *prefix, char *buf, size_t len)
{
	return read_line(wl->out, buf, len, prefix);
}

int cw_wl__go(struct cw_wl *wl)
{
	int err = cw_wl__send(wl, "go");

	return err ?: cw_wl__expect(wl, "done", wl->done, sizeof(wl->done));
}

/* Wait until thread tid of pid sleeps (state S) with a syscall line starting with want. */
static int wait_syscall(int pid, int tid, const char *want)
{
	char path[64], buf[256];
	size_t wlen = strlen(want);

	for (;;) {
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -ESRCH;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		/* "202 0x..." while in futex(2); "running" while on a CPU */
		if (n > (ssize_t)wlen && !strncmp(buf, want, wlen)) {
			snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return -ESRCH;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n > 0) {
				char *state;

				buf[n] = '\0';
				state = strrchr(buf, ')');
				if (state && state[1] == ' ' && state[2] == 'S')
					return 0;
			}
		}
		sched_yield();
	}
}

int cw_wait_blocked_in(int pid, int tid, int nr)
{
	char want[16];

	snprintf(want, sizeof(want), "%d ", nr);
	return wait_syscall(pid, tid, want);
}

int cw_wait_futex_blocked(int pid, int tid)
{
	return cw_wait_blocked_in(pid, tid, SYS_futex);
}

int cw_wait_futex_on(int pid, int tid, unsigned long long uaddr)
{
	char want[48];

	snprintf(want, sizeof(want), "%d 0x%llx ", SYS_futex, uaddr);
	return wait_syscall(pid, tid, want);
}

int cw_wl__stop(struct cw_wl *wl)
{
	int status;

	if (wl->in_fd > 0)
		close(wl->in_fd);
	wl->in_fd = -1;
	if (wl->out)
		fclose(wl->out);
	wl->out = NULL;
	if (wl->pid <= 0)
		return -ECHILD;
	if (waitpid(wl->pid, &status, 0) < 0)
		return -errno;
	wl->pid = 0;
	return status;
}

struct sink {
	char *buf;
	size_t len, cap;
};

/* Append what fd has now; 0 at EOF, 1 when more may come. */
static int sink_read(struct sink *sk, int fd)
{
	/* 4 KiB free at least: a read of 4095 bytes and the NUL cw_run_capture() ends with */
	char *p = cw_grow(sk->buf, &sk->cap, sk->len + 4096, 1);
	ssize_t n;

	if (!p)
		return 0;
	sk->buf = p;
	n = read(fd, sk->buf + sk->len, sk->cap - sk->len - 1);
	if (n <= 0)
		return n < 0 && errno == EINTR;
	sk->len += n;
	return 1;
}

int cw_run_capture(const char *const argv[], cw_prep_fn prep, char **out, char **err)
{
	struct sink sinks[2] = {};
	struct pollfd pfd[2];
	int o, e, status;
	pid_t pid;

	pid = cw_spawn(argv, prep, &o, &e);
	if (pid < 0)
		return pid;
	/* read both pipes as they fill: the child must never block on a full one */
	pfd[0] = (struct pollfd){ .fd = o, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = e, .events = POLLIN };
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (!sink_read(&sinks[i], pfd[i].fd)) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
	}
	if (waitpid(pid, &status, 0) < 0)
		status = -errno;
	for (int i = 0; i < 2; i++) {
		char **dst = i ? err : out;

		if (sinks[i].buf)
			sinks[i].buf[sinks[i].len] = '\0';
		else
			sinks[i].buf = strdup("");
		if (dst)
			*dst = sinks[i].buf;
		else
			free(sinks[i].buf);
	}
	return status;
}

pid_t cw_spawn(const char *const argv[], cw_prep_fn prep, int *out, int *err)
{
	int o[2], e[2];
	pid_t pid;

	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return -errno;
	pid = fork_exec(argv, prep, -1, o[1], e[1]);
	if (pid < 0)
		return pid;
	close(o[1]);
	close(e[1]);
	*out = o[0];
	*err = e[0];
	return pid;
}

int cw_count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (*s == '\n' || !s[1])
			n++;
	return n;
}

int cw_trace__open(const struct cw_source_opts *so, cw_record_fn sink, void *sink_ctx,
		   struct cw_session **out, char *err, size_t errlen)
{
	struct cw_session_opts opts = { .pid = so->pid };
	struct cw_source *src;
	int ret;

	ret = cw_source__open(so, &src, err, errlen);
	if (ret)
		return ret;
	return cw_session__open(&opts, src, sink, sink_ctx, out, err, errlen);
}

int cw_wl__start_preload(struct cw_wl *wl, const char *name, const char *const args[],
			 const struct cw_source_opts *so, struct cw_source **src, char *err,
			 size_t errlen)
{
	struct cw_source_opts opts = *so;
	char *old = getenv("LD_PRELOAD") ? strdup(getenv("LD_PRELOAD")) : NULL;
	int ret;

	opts.backend = "preload";
	opts.pid = 0;
	/* tests live in $(O)/selftests/<kind>/, the library in $(O)/, as concwatch */
	if (!getenv("CONCWATCH_PRELOAD_LIB")) {
		char lib[PATH_MAX + 64];

		snprintf(lib, sizeof(lib), "%s/../../libconcwatch-preload.so", exe_dir());
		setenv("CONCWATCH_PRELOAD_LIB", lib, 1);
	}
	ret = cw_source__open(&opts, src, err, errlen);
	if (ret)
		goto out;
	ret = cw_preload_source__setenv(*src);
	if (!ret)
		ret = cw_wl__start(wl, name, args);
	cw_preload_source__unsetenv(*src, old);
	if (ret) {
		snprintf(err, errlen, "starting %s: %s", name, strerror(-ret));
		cw_source__free(*src);
		*src = NULL;
	}
out:
	free(old);
	return ret;
}

int cw_trace__open_preload(struct cw_source *src, const struct cw_source_opts *so,
			   cw_record_fn sink, void *sink_ctx, struct cw_session **out, char *err,
			   size_t errlen)
{
	struct cw_session_opts opts = { .pid = so->pid };
	struct cw_source_opts bo = *so;
	struct cw_source *beside = NULL;
	int ret;

	bo.backend = NULL;
	bo.lock_calls_elsewhere = 1;
	ret = cw_source__open(&bo, &beside, err, errlen);
	if (!ret)
		ret = cw_source__add_process(src, so->pid);
	if (!ret)
		ret = cw_session__new(&opts, sink, sink_ctx, out);
	if (ret) {
		cw_source__free(src);
		cw_source__free(beside);
		return ret;
	}
	ret = cw_session__add_source(*out, src);
	if (ret) {
		cw_source__free(beside);
		return ret;
	}
	ret = cw_session__add_source(*out, beside) ?: cw_session__start(*out);
	if (ret)
		snprintf(err, errlen, "%s", cw_session__error(*out));
	return ret;
}

int cw_report__run_preload(struct cw_report *r, const char *prefix, const char *const opts[],
			   const char *name, const char *const args[], char *why, size_t len)
{
	char path[PATH_MAX + 64];
	const char *argv[32];
	int n = 0, out, err, status, ret;

	memset(r, 0, sizeof(*r));
	out = cw_tmp_file(r->json, sizeof(r->json), prefix, "json");
	if (out < 0) {
		snprintf(why, len, "cannot create %s: %s", r->json, strerror(errno));
		return -1;
	}
	close(out);
	err = cw_tmp_file(r->err, sizeof(r->err), prefix, "err");
	if (err < 0) {
		snprintf(why, len, "cannot create %s: %s", r->err, strerror(errno));
		return -1;
	}
	argv[n++] = cw_bin_path();
	argv[n++] = "run";
	argv[n++] = "-v";
	argv[n++] = "--backend";
	argv[n++] = "preload";
	argv[n++] = "--json";
	argv[n++] = "-o";
	argv[n++] = r->json;
	for (; opts && *opts && n < 16; opts++)
		argv[n++] = *opts;
	argv[n++] = "--";
	argv[n++] = cw_workload_path(name, path, sizeof(path));
	argv[n++] = "-w";
	for (; args && *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ret = cw_wl__start_cmd(&r->wl, argv, err);
	close(err);
	if (ret) {
		snprintf(why, len, "no ready line under run, stderr in %s", r->err);
		return -1;
	}
	r->pid = cw_field(r->wl.ready, "pid");
	if (r->pid <= 0) {
		snprintf(why, len, "no pid in the ready line: %s", r->wl.ready);
		return -1;
	}
	if (cw_wl__go(&r->wl)) {
		snprintf(why, len, "no done line under run, stderr in %s", r->err);
		return -1;
	}
	status = cw_wl__stop(&r->wl);
	if (!WIFEXITED(status)) {
		snprintf(why, len, "concwatch run: status 0x%x", status);
		return -1;
	}
	if (WEXITSTATUS(status)) {
		snprintf(why, len, "concwatch run failed, stderr in %s", r->err);
		return -1;
	}
	return 0;
}

int cw_tmp_file(char *buf, size_t len, const char *prefix, const char *what)
{
	int fd;

	snprintf(buf, len, "/tmp/%s-%s." CW_TMP_X, prefix, what);
	fd = mkstemp(buf);
	if (fd >= 0)
		fchmod(fd, 0644);
	return fd;
}

int cw_file_has(const char *path, const char *what)
{
	char line[1024];
	int found = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

pid_t cw_trace_start(const char *const argv[], int out_fd, int err_fd, const char *err_path,
		     int *status)
{
	const struct timespec nap = { 0, 5000000 };
	pid_t cw = fork();

	if (cw < 0)
		return -errno;
	if (!cw) {
		if ((out_fd >= 0 && dup2(out_fd, 1) < 0) || dup2(err_fd, 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (out_fd >= 0)
		close(out_fd);
	close(err_fd);
	for (int i = 0; !cw_file_has(err_path, "tracing process"); i++) {
		if (waitpid(cw, status, WNOHANG))
			return -ECHILD;
		if (i == 12000) {
			kill(cw, SIGKILL);
			waitpid(cw, status, 0);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
	return cw;
}

const char *cw_log_file(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	size_t n = 0;

	if (!f)
		return " (not readable)";
	fputc('\n', stderr);
	while (n < max && fgets(line, sizeof(line), f)) {
		n += strlen(line);
		fprintf(stderr, "# %s%s", line, strchr(line, '\n') ? "" : "\n");
	}
	if (!feof(f))
		fprintf(stderr, "# ... (cut at %zu bytes)\n", n);
	fclose(f);
	return "";
}

int cw_jq_holds(const char *path, const char *filter)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "jq -e '%s' < '%s' >/dev/null", filter, path);
	return system(cmd) == 0;
}

int cw_lock_sites_of(int pid, int tid)
{
	struct cw_site_key key, next;
	int found = -ENOENT, have = 0, n = 0;
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return -errno;
	while ((de = readdir(d)) && found == -ENOENT) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		if (info.type != BPF_MAP_TYPE_HASH || strcmp(info.name, "lock_sites"))
			continue;
		found = 0;
		while (!bpf_map_get_next_key(fd, have ? &key : NULL, &next)) {
			key = next;
			have = 1;
			n += key.tgid == (__u32)pid && (tid < 0 || key.tid == (__u32)tid);
		}
	}
	closedir(d);
	return found ? found : n;
}
