// SPDX-License-Identifier: GPL-2.0
/*
 * Uprobes attach to a file, not to a path: concwatch must reach the libc a process
 * really maps, or it probes another file and sees nothing.
 *  - In a mount namespace of its own, as in a container, the process's libc is another
 *    file than the host's at the same path (here a copy bind-mounted over it): it is
 *    reached through /proc/PID/root.
 *  - A libc deleted since it was mapped (upgraded in place under a long-running
 *    server) has no path at all: it is reached through /proc/PID/map_files.
 * Either way all N lock/unlock pairs of the workload must arrive.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "cwtest.h"
#include "engine/engine.h"
#include "source/session.h"

static char libc_path[PATH_MAX];
static char copy_path[] = "/tmp/cw-test-libc." CW_TMP_X;

static int find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
	if (strstr(info->dlpi_name, "/libc.so.6")) {
		snprintf(libc_path, sizeof(libc_path), "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}

static int copy_file(const char *from, int to)
{
	char buf[65536];
	ssize_t n;
	int fd = open(from, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(to, buf, n) != n)
			break;
	close(fd);
	return n ? -EIO : 0;
}

/* In the workload's child: its own mount namespace, with the copy over libc's path. */
static int enter_container(void)
{
	return unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	       mount(copy_path, libc_path, NULL, MS_BIND, NULL);
}

/* Trace the started workload through its N pairs; check every one arrived. */
static void trace_workload(struct __test_metadata *_metadata, struct cw_wl *wl, long n)
{
	struct cw_source_opts opts = {};
	struct cw_session *sess = NULL;
	const struct cw_lock *l;
	struct cw_engine *eng;
	struct cw_drain d;
	char err[256] = "";

	eng = cw_engine__new();
	ASSERT_NE(NULL, eng);
	opts.pid = wl->pid;
	opts.raw_events = 1; /* a record per operation: releases are counted */
	ASSERT_EQ(0, cw_trace__open(&opts, cw_engine__feed, eng, &sess, err, sizeof(err)))
		TH_LOG("%s", err);
	/* drain while the workload runs: its records outnumber the ring buffer */
	ASSERT_EQ(0, cw_drain__start(&d, sess));
	ASSERT_EQ(0, cw_wl__go(wl));
	ASSERT_EQ(CW_SESSION_STOPPED, cw_drain__stop(&d));
	ASSERT_EQ(0, cw_session__finish(sess));

	l = cw_engine__find_lock(eng, wl->pid, cw_field(wl->ready, "lock"));
	ASSERT_NE(NULL, l) TH_LOG("no records: the probes went to another libc");
	EXPECT_EQ(n, l->acquisitions);
	EXPECT_EQ(n, l->releases);
	EXPECT_NE(NULL, cw_lock__user(l, cw_field(wl->ready, "tid")));
	EXPECT_EQ(0, cw_engine__counts(eng)->lost_total);
	cw_session__free(sess);
	cw_engine__free(eng);
}

/* The inode behind the first mapping of path in pid's maps (" (deleted)" allowed), or 0. */
static unsigned long long mapped_inode(int pid, const char *path)
{
	unsigned long long inode = 0;
	char maps[64], line[512];
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return 0;
	while (!inode && fgets(line, sizeof(line), f))
		if (strstr(line, path))
			sscanf(line, "%*s %*s %*s %*s %llu", &inode);
	fclose(f);
	return inode;
}

TEST(libc_of_another_mount_namespace)
{
	const char *why = cw_live_skip_reason();
	long n = cw_scale(5000);
	char arg[32];
	const char *args[] = { arg, NULL };
	struct stat host, copy;
	struct cw_wl wl;
	int fd;

	if (why)
		SKIP(return, "%s", why);
	dl_iterate_phdr(find_libc, NULL);
	ASSERT_NE(0, libc_path[0]);
	fd = mkstemp(copy_path);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, copy_file(libc_path, fd));
	close(fd);
	ASSERT_EQ(0, chmod(copy_path, 0755));
	ASSERT_EQ(0, stat(libc_path, &host));
	ASSERT_EQ(0, stat(copy_path, &copy));

	snprintf(arg, sizeof(arg), "%ld", n);
	ASSERT_EQ(0, cw_wl__start_prep(&wl, "wl_mutex", args, enter_container));
	/* the workload maps the copy under the host libc's path */
	EXPECT_EQ(copy.st_ino, mapped_inode(wl.pid, libc_path));
	EXPECT_NE(host.st_ino, mapped_inode(wl.pid, libc_path));
	trace_workload(_metadata, &wl, n);
	ASSERT_EQ(0, cw_wl__stop(&wl));
	unlink(copy_path);
}

static char lib_dir[] = "/tmp/cw-test-libdir." CW_TMP_X;

/* The workload loads its libc from lib_dir first. */
static int use_lib_dir(void)
{
	return setenv("LD_LIBRARY_PATH", lib_dir, 1);
}

TEST(deleted_libc)
{
	const char *why = cw_live_skip_reason();
	long n = cw_scale(5000);
	char arg[32], copy[PATH_MAX + 32], deleted[PATH_MAX + 64];
	const char *args[] = { arg, NULL };
	unsigned long long inode;
	struct cw_wl wl;
	int fd;

	if (why)
		SKIP(return, "%s", why);
	dl_iterate_phdr(find_libc, NULL);
	ASSERT_NE(NULL, mkdtemp(lib_dir));
	snprintf(copy, sizeof(copy), "%s/libc.so.6", lib_dir);
	fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, copy_file(libc_path, fd));
	close(fd);

	snprintf(arg, sizeof(arg), "%ld", n);
	ASSERT_EQ(0, cw_wl__start_prep(&wl, "wl_mutex", args, use_lib_dir));
	inode = mapped_inode(wl.pid, copy);
	ASSERT_NE(0, inode) TH_LOG("the workload did not load %s", copy);
	/* upgrade in place: the file the process maps is gone from every directory */
	ASSERT_EQ(0, unlink(copy));
	ASSERT_EQ(0, rmdir(lib_dir));
	snprintf(deleted, sizeof(deleted), "%s (deleted)", copy);
	ASSERT_EQ(inode, mapped_inode(wl.pid, deleted));
	trace_workload(_metadata, &wl, n);
	ASSERT_EQ(0, cw_wl__stop(&wl));
}

TEST_HARNESS_MAIN
