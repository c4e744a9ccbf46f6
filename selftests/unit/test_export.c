// SPDX-License-Identifier: GPL-2.0
/*
 * The exports of contention and timelines, on synthetic input: the protobuf encoder's
 * exact bytes; the folded stacks' exact lines; the pprof profile read back by Go's own
 * reader (go tool pprof -raw, skipped without Go) with its sample values, labels and
 * function names; the Perfetto JSON parsed by jq (skipped without jq): tracks, slices in
 * µs, hold spans and balanced flow ids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "engine/engine.h"
#include "report/export.h"
#include "report/protobuf.h"
#include "report/symbols.h"
#include "cw_synth.h"
#include "alloc_fail.h"

static int bytes_are(const struct cw_pb *pb, const char *hex)
{
	char got[1024] = "";

	for (size_t i = 0; i < pb->len && 2 * i + 2 < sizeof(got); i++)
		snprintf(got + 2 * i, 3, "%02x", pb->buf[i]);
	if (strcmp(got, hex))
		fprintf(stderr, "# got %s\n# not %s\n", got, hex);
	return !strcmp(got, hex);
}

TEST(protobuf_encoding)
{
	struct cw_pb pb = {};
	__u64 packed[] = { 3, 270, 86942 };
	char body[200];
	cw_pb_mark m;

	/* the protobuf documentation's examples: 150 in field 1, "testing" in field 2 */
	cw_pb__uint64(&pb, 1, 150);
	ASSERT_TRUE(bytes_are(&pb, "089601"));
	cw_pb__fini(&pb);
	cw_pb__string(&pb, 2, "testing");
	ASSERT_TRUE(bytes_are(&pb, "120774657374696e67"));
	cw_pb__fini(&pb);
	/* packed repeated: field 4, [3, 270, 86942] */
	cw_pb__packed_uint64(&pb, 4, packed, 3);
	ASSERT_TRUE(bytes_are(&pb, "2206038e029ea705"));
	cw_pb__fini(&pb);
	/* an empty packed field is omitted; zero is written; a negative int64 takes ten bytes */
	cw_pb__packed_uint64(&pb, 4, packed, 0);
	cw_pb__uint64(&pb, 1, 0);
	cw_pb__int64(&pb, 2, -1);
	ASSERT_TRUE(bytes_are(&pb, "080010ffffffffffffffffff01"));
	cw_pb__fini(&pb);
	/* nested: field 3 { field 1 = 150 }, then one whose body needs a two-byte length */
	m = cw_pb__begin(&pb, 3);
	cw_pb__uint64(&pb, 1, 150);
	cw_pb__end(&pb, m);
	ASSERT_TRUE(bytes_are(&pb, "1a03089601"));
	cw_pb__fini(&pb);
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	m = cw_pb__begin(&pb, 5);
	cw_pb__uint64(&pb, 1, 1);
	m = (cw_pb__string(&pb, 2, body), m);
	cw_pb__end(&pb, m);
	ASSERT_EQ(0, cw_pb__finish(&pb));
	/* 2a, length 2 + 3 + 199 = 204 = cc 01, 08 01, 12 c7 01 'x'... */
	ASSERT_EQ(1 + 2 + 2 + 3 + 199, pb.len);
	EXPECT_EQ(0x2a, pb.buf[0]);
	EXPECT_EQ(0xcc, pb.buf[1]);
	EXPECT_EQ(0x01, pb.buf[2]);
	EXPECT_EQ(0x08, pb.buf[3]);
	EXPECT_EQ(0x12, pb.buf[5]);
	EXPECT_EQ(0xc7, pb.buf[6]);
	EXPECT_EQ('x', pb.buf[pb.len - 1]);
	cw_pb__fini(&pb);
}

/*
 * A profile as profile.c makes them: a hot mutex waited on from two call paths (one
 * through an inlined function, one through a frame without a symbol), a condvar with no
 * known path, a kernel mmap_lock, and a path that only failed (no wait).
 */
static struct cw_frame hot1[] = {
	{ .addr = 0x7f0000001000, .func = "pthread_mutex_lock", .module = "/lib/libc.so.6" },
	{ .addr = 0x401234, .func = "step", .module = "/bin/wl", .file = "/src/wl.c",
	  .line = 12, .inlined = 1 },
	{ .addr = 0x401234, .func = "worker", .module = "/bin/wl", .file = "/src/wl.c",
	  .line = 20 },
	{ .addr = 0x7f0000002000, .func = "start_thread", .module = "/lib/libc.so.6" },
};
static struct cw_frame hot2[] = {
	{ .addr = 0x7f0000001000, .func = "pthread_mutex_lock", .module = "/lib/libc.so.6" },
	{ .addr = 0x401999, .module = "/bin/wl" },
	{ .addr = 0x401500, .func = "odd;name\nhere", .module = "/bin/wl" },
};
static struct cw_frame kern[] = {
	{ .addr = 0xffffffff81001000, .func = "rwsem_down_write_slowpath", .module = "kernel" },
	{ .addr = 0xffffffff81002000, .func = "__vm_munmap", .module = "kernel" },
};
static struct cw_ustack st_hot1 = { .frames = hot1, .nr = 4 };
static struct cw_ustack st_hot2 = { .frames = hot2, .nr = 3 };
static struct cw_ustack st_kern = { .frames = kern, .nr = 2 };

static struct cw_xsample samples[] = {
	{ .pid = 7, .kind = CW_LOCK_MUTEX, .addr = 0x404040, .lock = "hot_lock",
	  .stack = &st_hot1, .count = 40, .wait_ns = 5000000 },
	{ .pid = 7, .kind = CW_LOCK_MUTEX, .addr = 0x404040, .lock = "hot_lock",
	  .stack = &st_hot2, .count = 2, .wait_ns = 300 },
	{ .pid = 7, .kind = CW_LOCK_COND, .addr = 0x404100, .lock = "cv", .count = 9,
	  .wait_ns = 70 },
	{ .pid = 7, .kind = CW_LOCK_KERNEL, .lock_type = "rwsem_write", .addr = 0xffff888000001000,
	  .lock = "mmap_lock", .stack = &st_kern, .count = 5, .wait_ns = 123456 },
	{ .pid = 7, .kind = CW_LOCK_MUTEX, .addr = 0x404200, .lock = "tried", .count = 3 },
};

static const struct cw_xprofile profile = {
	.samples = samples,
	.nr = 5,
	.time_ns = 1700000000000000000ULL,
	.duration_ns = 2000000000,
};

static char *to_string(int (*fn)(FILE *, const struct cw_xprofile *), int *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	*err = fn(f, &profile);
	fclose(f);
	return buf;
}

TEST(folded_lines)
{
	int err = -1;
	char *text = to_string(cw_export__folded, &err);

	ASSERT_NE(NULL, text);
	ASSERT_EQ(0, err);
	EXPECT_STREQ("start_thread;worker;step;pthread_mutex_lock;[mutex hot_lock] 5000000\n"
		     "odd:name?here;wl@0x401999;pthread_mutex_lock;[mutex hot_lock] 300\n"
		     "[unknown stack];[cond cv] 70\n"
		     "__vm_munmap;rwsem_down_write_slowpath;[kernel rwsem_write mmap_lock] 123456\n",
		     text);
	free(text);
}

TEST(klock_type_names)
{
	EXPECT_STREQ("mutex", cw_klock_type__name(32));
	EXPECT_STREQ("rwsem_write", cw_klock_type__name(4));
	EXPECT_STREQ("rwsem_read", cw_klock_type__name(2));
	EXPECT_STREQ("spinlock", cw_klock_type__name(1));
	EXPECT_STREQ("rwlock_write", cw_klock_type__name(1 | 4));
	EXPECT_STREQ("unknown", cw_klock_type__name(0));
}

/* How many times each top-level field of a protobuf message occurs (fields below 16). */
static int count_fields(const unsigned char *p, size_t len, size_t counts[16])
{
	size_t i = 0;

	memset(counts, 0, 16 * sizeof(*counts));
	while (i < len) {
		__u64 key = 0, v = 0;
		int shift = 0;

		do
			key |= (__u64)(p[i] & 0x7f) << shift, shift += 7;
		while (p[i++] & 0x80 && i < len);
		shift = 0;
		do
			v |= (__u64)(p[i] & 0x7f) << shift, shift += 7;
		while (p[i++] & 0x80 && i < len);
		if ((key & 7) == CW_PB_LEN)
			i += v;
		else if ((key & 7) != CW_PB_VARINT)
			return -1;
		if ((key >> 3) < 16)
			counts[key >> 3]++;
	}
	return i == len ? 0 : -1;
}

/*
 * A thousand call paths through the same three frames, each with one of its own, on
 * the same lock: one location and one function per distinct frame, one leaf, one
 * mapping per module.
 */
TEST(pprof_dedup)
{
	enum { N = 1000 };
	struct cw_frame (*fr)[4] = calloc(N, sizeof(*fr));
	struct cw_ustack *st = calloc(N, sizeof(*st));
	struct cw_xsample *sm = calloc(N, sizeof(*sm));
	struct cw_xprofile p = { .samples = sm, .nr = N };
	char (*names)[16] = calloc(N, sizeof(*names));
	struct cw_pb pb = {};
	size_t counts[16];

	ASSERT_TRUE(fr && st && sm && names);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "leaf%d", i);
		fr[i][0] = (struct cw_frame){ .addr = 0x500000 + 16 * i, .func = names[i],
					      .module = "/bin/wl" };
		fr[i][1] = hot1[0];
		fr[i][2] = hot1[2];
		fr[i][3] = hot1[3];
		st[i] = (struct cw_ustack){ .frames = fr[i], .nr = 4 };
		sm[i] = (struct cw_xsample){ .pid = 7, .kind = CW_LOCK_MUTEX, .addr = 0x404040,
					     .lock = "hot_lock", .stack = &st[i], .count = 1,
					     .wait_ns = i + 1 };
	}
	ASSERT_EQ(0, cw_pprof__encode(&p, &pb));
	ASSERT_EQ(0, count_fields(pb.buf, pb.len, counts));
	EXPECT_EQ(2, counts[1]);		/* sample types */
	EXPECT_EQ(N, counts[2]);		/* samples */
	EXPECT_EQ(2, counts[3]);		/* mappings: /bin/wl, libc */
	EXPECT_EQ(N + 3 + 1, counts[4]);	/* locations: own, shared, the leaf */
	EXPECT_EQ(N + 3 + 1, counts[5]);	/* functions */
	cw_pb__fini(&pb);
	free(names);
	free(sm);
	free(st);
	free(fr);
}

/* Every allocation of the pprof encoder failing in turn: -ENOMEM, nothing leaked. */
TEST(pprof_allocation_failures)
{
	struct cw_pb pb = {};
	int err, n;

	for (n = 1;; n++) {
		fail_nth_allocation(n);
		err = cw_pprof__encode(&profile, &pb);
		fail_nth_allocation(0);
		cw_pb__fini(&pb);
		if (!alloc_failed)
			break;
		ASSERT_EQ(-ENOMEM, err) TH_LOG("allocation %d", n);
	}
	EXPECT_EQ(0, err);
	EXPECT_LT(10, n);
}

/* Run a shell command, its standard output in a malloc'ed string; NULL when it failed. */
static char *run(const char *cmd)
{
	char *buf = NULL, chunk[4096];
	size_t len = 0, n;
	FILE *p = popen(cmd, "r"), *m;
	int status;

	if (!p)
		return NULL;
	m = open_memstream(&buf, &len);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	status = pclose(p);
	if (status) {
		fprintf(stderr, "# %s: exit %d:\n%s\n", cmd, WEXITSTATUS(status), buf);
		free(buf);
		return NULL;
	}
	return buf;
}

/* go with every cache in dir, offline: never the network, never the user's files */
#define GO_ENV(dir) "HOME=" dir " GOCACHE=" dir "/cache GOPATH=" dir "/gopath " \
	"GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off "

/*
 * go tool pprof -raw's samples, each as "COUNT DELAY LEAF;...;ROOT LABELS": the location
 * ids of a sample resolved through its Locations table (inlined functions in order), so
 * the assertions do not depend on the ids it numbered them with.
 */
struct raw_loc {
	unsigned long id;
	char names[512];
};

static char *raw_samples(const char *raw)
{
	struct raw_loc locs[64];
	size_t nr_locs = 0;
	const char *p = strstr(raw, "\nLocations\n"), *s;
	char *out = NULL, line[1024];
	size_t len = 0, nr = 0;
	FILE *m;

	if (!p)
		return NULL;
	for (p += strlen("\nLocations\n"); *p && strncmp(p, "Mappings", 8);) {
		const char *eol = strchrnul(p, '\n');
		char *name, *end;
		unsigned long id;
		int pos = 0;

		snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
		p = *eol ? eol + 1 : eol;
		/* "  3: 0x401234 M=2 step /src/wl.c:12 s=0", then "    worker /src/wl.c:20 s=0" */
		if (sscanf(line, " %lu: %*s %n", &id, &pos) == 1 && pos && nr_locs < 64) {
			locs[nr_locs].id = id;
			locs[nr_locs++].names[0] = '\0';
			name = line + pos;
			if (!strncmp(name, "M=", 2))
				name = strchr(name, ' ') + 1;
		} else {
			name = line + strspn(line, " ");
		}
		end = strstr(name, " s=");
		if (end)
			*end = '\0';
		end = strrchr(name, ' ');	/* " file:line" */
		if (end)
			*end = '\0';
		if (nr_locs) {
			char *n = locs[nr_locs - 1].names;

			snprintf(n + strlen(n), sizeof(locs[0].names) - strlen(n), "%s%s",
				 n[0] ? ";" : "", name);
		}
	}
	s = strstr(raw, "\nSamples:\n");
	m = s ? open_memstream(&out, &len) : NULL;
	if (!m)
		return NULL;
	s = strchr(s + strlen("\nSamples:\n"), '\n') + 1;	/* the sample types' line */
	while (*s && strncmp(s, "Locations", 9)) {
		const char *eol = strchrnul(s, '\n');
		unsigned long long count, delay;
		int pos = 0;

		snprintf(line, sizeof(line), "%.*s", (int)(eol - s), s);
		s = *eol ? eol + 1 : eol;
		if (sscanf(line, " %llu %llu: %n", &count, &delay, &pos) == 2 && pos) {
			char *tok, *save;
			int first = 1;

			fprintf(m, "%s%llu %llu ", nr++ ? "\n" : "", count, delay);
			for (tok = strtok_r(line + pos, " ", &save); tok;
			     tok = strtok_r(NULL, " ", &save)) {
				unsigned long id = strtoul(tok, NULL, 10);

				for (size_t i = 0; i < nr_locs; i++)
					if (locs[i].id == id)
						fprintf(m, "%s%s", first ? "" : ";", locs[i].names);
				first = 0;
			}
		} else {
			fprintf(m, " %s", line + strspn(line, " "));
		}
	}
	fputc('\n', m);
	fclose(m);
	return out;
}

TEST(pprof_read_by_go)
{
	char dir[] = "/tmp/cw_pprof." "XX" "XX" "XX", path[64], cmd[512];
	char *raw = NULL, *got;
	FILE *f;
	int err;

	if (system("command -v go >/dev/null 2>&1"))
		SKIP(return, "go is not installed (Debian: golang-go)");
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/contention.pb.gz", dir);
	f = fopen(path, "we");
	ASSERT_NE(NULL, f);
	err = cw_export__pprof(f, &profile);
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, err);
	snprintf(cmd, sizeof(cmd), GO_ENV("%s") "go tool pprof -raw %s 2>&1", dir, dir, dir,
		 path);
	raw = run(cmd);
	ASSERT_NE(NULL, raw);
	/* the profile's shape: Go's mutex profiles' */
	EXPECT_NE(NULL, strstr(raw, "PeriodType: contentions count\n"));
	EXPECT_NE(NULL, strstr(raw, "\ncontentions/count delay/nanoseconds\n"));
	EXPECT_NE(NULL, strstr(raw, "Duration: 2s"));
	/* mappings by address, the kernel's last, named as perf names it */
	EXPECT_NE(NULL, strstr(raw, "Mappings\n1: 0x0/0x0/0x0 /lib/libc.so.6 "));
	EXPECT_NE(NULL, strstr(raw, "\n3: 0x0/0x0/0x0 [kernel.kallsyms] "));
	got = raw_samples(raw);
	ASSERT_NE(NULL, got);
	EXPECT_STREQ("40 5000000 [mutex hot_lock];pthread_mutex_lock;step;worker;start_thread"
		     " lock:[hot_lock] type:[mutex]\n"
		     "2 300 [mutex hot_lock];pthread_mutex_lock;wl@0x401999;odd;name?here"
		     " lock:[hot_lock] type:[mutex]\n"
		     "9 70 [cond cv] lock:[cv] type:[cond]\n"
		     "5 123456 [kernel rwsem_write mmap_lock];rwsem_down_write_slowpath;__vm_munmap"
		     " lock:[mmap_lock] lock_type:[rwsem_write] type:[kernel]\n"
		     "3 0 [mutex tried] lock:[tried] type:[mutex]\n", got);
	if (!_metadata->passed)
		TH_LOG("go tool pprof -raw:\n%s", raw);
	free(got);
	free(raw);
	/* drawn as the documentation draws it (needs Graphviz's dot) */
	if (!system("command -v dot >/dev/null 2>&1")) {
		unsigned char magic[8] = {};

		snprintf(cmd, sizeof(cmd), GO_ENV("%s") "go tool pprof -png -output %s/p.png %s "
			 ">/dev/null 2>&1 && echo ok", dir, dir, dir, dir, path);
		raw = run(cmd);
		EXPECT_STREQ("ok\n", raw ? raw : "");
		free(raw);
		snprintf(path, sizeof(path), "%s/p.png", dir);
		f = fopen(path, "re");
		ASSERT_NE(NULL, f);
		EXPECT_EQ(8, fread(magic, 1, 8, f));
		fclose(f);
		EXPECT_EQ(0, memcmp(magic, "\x89PNG\r\n\x1a\n", 8));
	}
	snprintf(cmd, sizeof(cmd), getenv("CW_KEEP") ? "cp %s/p.png /tmp/h-export/" : "rm -rf %s", dir);
	system(cmd);
}

/* The samples profile.c makes of a contention model, as folded lines. */
#define MPID 7000

static void feed(struct __test_metadata *_metadata, struct cw_engine *eng, const void *rec)
{
	ASSERT_EQ(0, cw_engine__feed(eng, rec));
}

static void feed_ustack(struct __test_metadata *_metadata, struct cw_engine *eng, __u64 id,
			__u64 ip0, __u64 ip1)
{
	struct {
		struct cw_ev_stack s;
		__u64 ips[2];
	} r;

	memset(&r, 0, sizeof(r));
	r.s.hdr = synth_hdr(CW_EV_STACK, sizeof(r), 1, MPID, MPID + 1);
	r.s.stack_id = id;
	r.s.space = CW_STACK_USER;
	r.s.nr = 2;
	r.ips[0] = ip0;
	r.ips[1] = ip1;
	feed(_metadata, eng, &r);
}

TEST(profile_from_model)
{
	static const char path[] = "/nonexistent/wl";
	size_t size = CW_RECORD_ALIGN(sizeof(struct cw_ev_module) + sizeof(path));
	struct cw_ev_module *m = calloc(1, size);
	struct cw_engine *eng = cw_engine__new();
	struct cw_ev_lock_stats st;
	struct cw_xprofile *p = NULL;
	struct cw_symbols *sym = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ASSERT_NE(NULL, eng);
	ASSERT_NE(NULL, m);
	/* a module whose file is gone: its frames are named by file offset */
	m->hdr = synth_hdr(CW_EV_MODULE, size, 1, MPID, 0);
	m->start = 0x400000;
	m->end = 0x500000;
	m->pgoff = 0x1000;
	m->path_len = sizeof(path);
	memcpy(m->path, path, sizeof(path));
	feed(_metadata, eng, m);
	free(m);
	feed_ustack(_metadata, eng, 0x11, 0x401000, 0x402000);
	feed_ustack(_metadata, eng, 0x12, 0x403000, 0x402000);
	/* a mutex waited on from two paths, a futex word, the mmap_lock */
	st = synth_site_stats(CW_SITE_ACQUIRE, 10, MPID, 0, 0x404040, 0x11, 4, 1000);
	feed(_metadata, eng, &st);
	st = synth_site_stats(CW_SITE_ACQUIRE, 10, MPID, 0, 0x404040, 0x12, 1, 500);
	feed(_metadata, eng, &st);
	st = synth_site_stats(CW_SITE_FUTEX, 20, MPID, MPID + 2, 0x505000, 0x12, 3, 200);
	feed(_metadata, eng, &st);
	st = synth_site_stats(CW_SITE_KLOCK, 30, MPID, 0, 0xffff888000001000ULL, 0, 2, 10000);
	st.flags = CW_SITE_F_MMAP_LOCK;
	st.op = 4;	/* LCB_F_WRITE: an rwsem taken for writing */
	feed(_metadata, eng, &st);
	/* the same waits once more in a later interval: deltas add up */
	st = synth_site_stats(CW_SITE_ACQUIRE, 2000000010, MPID, 0, 0x404040, 0x11, 4, 1000);
	feed(_metadata, eng, &st);

	ASSERT_EQ(0, cw_symbols__new(eng, NULL, &sym));
	ASSERT_EQ(0, cw_xprofile__new(eng, sym, NULL, &p));
	EXPECT_EQ(2000000010 - 1, p->duration_ns);	/* first record to last */
	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(0, cw_export__folded(f, p));
	fclose(f);
	EXPECT_STREQ("wl+0x3000;wl+0x2000;[mutex lock 0x404040] 8000\n"
		     "wl+0x3000;wl+0x4000;[mutex lock 0x404040] 500\n"
		     "wl+0x3000;wl+0x4000;[futex lock 0x505000] 600\n"
		     "[unknown stack];[kernel rwsem_write mmap_lock] 20000\n", buf);
	/* the waits' counts, which the folded lines do not show */
	ASSERT_EQ(4, p->nr);
	EXPECT_EQ(8, p->samples[0].count);
	EXPECT_EQ(1, p->samples[1].count);
	EXPECT_EQ(3, p->samples[2].count);
	EXPECT_EQ(2, p->samples[3].count);
	free(buf);
	cw_xprofile__free(p);

	/* every allocation failing in turn: -ENOMEM and nothing leaked, or the same samples */
	for (int n = 1;; n++) {
		int err;

		p = NULL;
		fail_nth_allocation(n);
		err = cw_xprofile__new(eng, sym, NULL, &p);
		fail_nth_allocation(0);
		if (!alloc_failed) {
			ASSERT_EQ(0, err);
			EXPECT_EQ(4, p->nr);
			cw_xprofile__free(p);
			break;
		}
		if (err) {
			ASSERT_EQ(-ENOMEM, err) TH_LOG("allocation %d", n);
			ASSERT_EQ(NULL, p);
		} else {
			cw_xprofile__free(p);	/* a failure the names absorbed */
		}
	}
	cw_symbols__free(sym);
	cw_engine__free(eng);
}

/* Timelines: pid 100, worker-a (101) holds L while worker-b (102) waits on it. */
#define TL_PID 100
#define TL_A 101
#define TL_B 102
#define TL_L 0x5000

static void feed_switch(struct __test_metadata *_metadata, struct cw_timeline *tl, __u64 ts,
			__u32 prev, __u8 reason, __u64 wait_addr, __u32 next)
{
	struct cw_ev_switch e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_SCHED_SWITCH, sizeof(e), ts, TL_PID, prev);
	e.reason = reason;
	e.wait_addr = wait_addr;
	e.next_pid = next ? TL_PID : 0;
	e.next_tid = next;
	ASSERT_EQ(0, cw_timeline__feed(tl, &e.hdr));
}

static void feed_wakeup(struct __test_metadata *_metadata, struct cw_timeline *tl, __u64 ts,
			__u32 wakee, __u32 waker, __u8 reason, __u64 wait_addr)
{
	struct cw_ev_wakeup e;

	memset(&e, 0, sizeof(e));
	e.hdr = synth_hdr(CW_EV_SCHED_WAKEUP, sizeof(e), ts, TL_PID, wakee);
	e.waker_pid = waker ? TL_PID : 0;
	e.waker_tid = waker;
	e.reason = reason;
	e.wait_addr = wait_addr;
	ASSERT_EQ(0, cw_timeline__feed(tl, &e.hdr));
}

static void feed_tl_lock(struct __test_metadata *_metadata, struct cw_timeline *tl, __u16 type,
			 __u64 ts, __u32 tid)
{
	struct cw_ev_lock e = synth_lock(type, ts, TL_PID, tid, TL_L, 0, 0);

	ASSERT_EQ(0, cw_timeline__feed(tl, &e.hdr));
}

/* What jq says of json (a filter printing raw strings); NULL when jq failed. */
static char *jq(const char *json_path, const char *filter)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "jq -r '%s' %s 2>&1", filter, json_path);
	return run(cmd);
}

#define EXPECT_JQ(want, path, filter) do {			\
	char *_got = jq(path, filter);				\
	EXPECT_STREQ(want, _got ? _got : "(jq failed)");	\
	free(_got);						\
} while (0)

TEST(perfetto_timeline)
{
	char path[] = "/tmp/cw_perfetto." "XX" "XX" "XX";
	struct cw_timeline *tl;
	struct cw_ev_comm c;
	FILE *f;
	int fd;

	if (system("command -v jq >/dev/null 2>&1"))
		SKIP(return, "jq is not installed");
	ASSERT_EQ(0, cw_timeline__new(&tl));
	ASSERT_FALSE(cw_timeline__has_sched(tl));
	c = synth_comm(1, TL_PID, TL_A, "worker-a");
	ASSERT_EQ(0, cw_timeline__feed(tl, &c.hdr));
	c = synth_comm(1, TL_PID, TL_B, "worker-b");
	ASSERT_EQ(0, cw_timeline__feed(tl, &c.hdr));
	/* a holds L from 0.9 ms; b blocks on it at 1 ms and a runs */
	feed_tl_lock(_metadata, tl, CW_EV_LOCK_ACQUIRED, 900000, TL_A);
	feed_switch(_metadata, tl, 1000000, TL_B, CW_OFFCPU_LOCK, TL_L, TL_A);
	ASSERT_TRUE(cw_timeline__has_sched(tl));
	/* a releases L and wakes b, which runs once a is preempted */
	feed_tl_lock(_metadata, tl, CW_EV_LOCK_RELEASED, 1500000, TL_A);
	feed_wakeup(_metadata, tl, 1500500, TL_B, TL_A, CW_OFFCPU_LOCK, TL_L);
	feed_switch(_metadata, tl, 2000000, TL_A, CW_OFFCPU_PREEMPTED, 0, TL_B);
	feed_tl_lock(_metadata, tl, CW_EV_LOCK_ACQUIRED, 2100000, TL_B);
	feed_tl_lock(_metadata, tl, CW_EV_LOCK_RELEASED, 2300250, TL_B);
	/* a timer wakes nobody's waiter: no waker, no arrow; nor from an untraced process */
	feed_wakeup(_metadata, tl, 2500000, TL_A, 0, CW_OFFCPU_PREEMPTED, 0);
	{
		struct cw_ev_wakeup w;

		memset(&w, 0, sizeof(w));
		w.hdr = synth_hdr(CW_EV_SCHED_WAKEUP, sizeof(w), 2600000, TL_PID, TL_A);
		w.waker_pid = w.waker_tid = 999;
		w.reason = CW_OFFCPU_FUTEX;
		ASSERT_EQ(0, cw_timeline__feed(tl, &w.hdr));
	}
	/* an untraced task (0/0) leaves the CPU to a */
	feed_switch(_metadata, tl, 2700000, 0, CW_OFFCPU_SLEEP, 0, TL_A);
	c = synth_comm(3000000, TL_PID, TL_A, "worker-a");	/* the stream's end */
	ASSERT_EQ(0, cw_timeline__feed(tl, &c.hdr));

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	f = fdopen(fd, "w");
	ASSERT_NE(NULL, f);
	EXPECT_EQ(0, cw_export__perfetto(f, tl, NULL, NULL));
	ASSERT_EQ(0, fclose(f));
	cw_timeline__free(tl);

	EXPECT_JQ("ns\n", path, ".displayTimeUnit");
	/* a track per traced thread, named, in its process; none for 999 or 0 */
	EXPECT_JQ("100 101 worker-a\n100 102 worker-b\n", path,
		  ".traceEvents[] | select(.ph == \"M\" and .name == \"thread_name\") | "
		  "\"\\(.pid) \\(.tid) \\(.args.name)\"");
	EXPECT_JQ("100 worker-a\n", path,
		  ".traceEvents[] | select(.ph == \"M\" and .name == \"process_name\") | "
		  "\"\\(.pid) \\(.args.name)\"");
	/*
	 * each thread's slices in µs, one after the other; b waited on L by name, and ran
	 * from the start of the stream (its first record) until it blocked
	 */
	EXPECT_JQ("101 1000 1000 running\n"
		  "101 2000 700 runnable\n"
		  "101 2700 300 running\n", path,
		  "[.traceEvents[] | select(.ph == \"X\" and .tid == 101)] | sort_by(.ts)[] | "
		  "\"\\(.tid) \\(.ts) \\(.dur) \\(.name)\"");
	EXPECT_JQ("102 0.001 999.999 running null null\n"
		  "102 1000 500.5 waiting on lock 0x5000 lock 0x5000\n"
		  "102 1500.5 499.5 runnable null null\n"
		  "102 2000 1000 running null null\n", path,
		  "[.traceEvents[] | select(.ph == \"X\" and .tid == 102)] | sort_by(.ts)[] | "
		  "\"\\(.tid) \\(.ts) \\(.dur) \\(.name) \\(.args.reason) \\(.args.addr)\"");
	/* ts written exactly, three decimals */
	{
		char *json = NULL;
		size_t len = 0;
		FILE *r = fopen(path, "re");

		ASSERT_NE(NULL, r);
		ASSERT_LE(0, getdelim(&json, &len, '\0', r));
		fclose(r);
		EXPECT_NE(NULL, strstr(json, "\"ts\": 1500.500, \"dur\": 499.500"));
		free(json);
	}
	/* hold spans: async begin/end pairs, a's then b's */
	EXPECT_JQ("b 1 101 900 holds lock 0x5000\ne 1 101 1500 holds lock 0x5000\n"
		  "b 2 102 2100 holds lock 0x5000\ne 2 102 2300.25 holds lock 0x5000\n", path,
		  ".traceEvents[] | select(.cat == \"lock\") | "
		  "\"\\(.ph) \\(.id) \\(.tid) \\(.ts) \\(.name)\"");
	/* one arrow, a to b at the wakeup; every flow id once as s and once as f */
	EXPECT_JQ("s 1 101 1500.5 null wakeup: waiting on lock 0x5000\n"
		  "f 1 102 1500.5 e wakeup: waiting on lock 0x5000\n", path,
		  ".traceEvents[] | select(.ph == \"s\" or .ph == \"f\") | "
		  "\"\\(.ph) \\(.id) \\(.tid) \\(.ts) \\(.bp) \\(.name)\"");
	EXPECT_JQ("true\n", path,
		  "[.traceEvents[] | select(.ph == \"s\" or .ph == \"f\")] | group_by(.id) | "
		  "all(length == 2 and (map(.ph) | sort) == [\"f\", \"s\"])");
	unlink(path);
}

/* A timeline whose every allocation fails in turn: the feed says so, the writer too. */
TEST(perfetto_allocation_failures)
{
	for (int n = 1;; n++) {
		struct cw_timeline *tl = NULL;
		int err, failed;
		char *buf = NULL;
		size_t len = 0;
		FILE *f;

		fail_nth_allocation(n);
		err = cw_timeline__new(&tl);
		if (!err) {
			struct cw_ev_comm c = synth_comm(1, TL_PID, TL_A, "worker-a");
			struct cw_ev_lock l = synth_lock(CW_EV_LOCK_ACQUIRED, 2, TL_PID, TL_A, TL_L,
							 0, 0);
			struct cw_ev_switch sw;
			struct cw_ev_wakeup w;

			memset(&sw, 0, sizeof(sw));
			sw.hdr = synth_hdr(CW_EV_SCHED_SWITCH, sizeof(sw), 3, TL_PID, TL_B);
			sw.reason = CW_OFFCPU_LOCK;
			sw.next_pid = TL_PID;
			sw.next_tid = TL_A;
			memset(&w, 0, sizeof(w));
			w.hdr = synth_hdr(CW_EV_SCHED_WAKEUP, sizeof(w), 4, TL_PID, TL_B);
			w.waker_pid = TL_PID;
			w.waker_tid = TL_A;
			err = cw_timeline__feed(tl, &c.hdr);
			err = err ? err : cw_timeline__feed(tl, &l.hdr);
			err = err ? err : cw_timeline__feed(tl, &sw.hdr);
			err = err ? err : cw_timeline__feed(tl, &w.hdr);
		}
		failed = alloc_failed;
		fail_nth_allocation(0);
		if (tl) {
			f = open_memstream(&buf, &len);
			ASSERT_NE(NULL, f);
			if (!err)
				err = cw_export__perfetto(f, tl, NULL, NULL);
			fclose(f);
			free(buf);
		}
		cw_timeline__free(tl);
		if (!failed) {
			ASSERT_EQ(0, err);
			break;
		}
		ASSERT_EQ(-ENOMEM, err) TH_LOG("allocation %d", n);
	}
}

TEST(perfetto_without_sched_records)
{
	struct cw_timeline *tl;
	struct cw_ev_comm c = synth_comm(1, TL_PID, TL_A, "worker-a");

	ASSERT_EQ(0, cw_timeline__new(&tl));
	ASSERT_EQ(0, cw_timeline__feed(tl, &c.hdr));
	feed_tl_lock(_metadata, tl, CW_EV_LOCK_ACQUIRED, 900000, TL_A);
	EXPECT_FALSE(cw_timeline__has_sched(tl));
	cw_timeline__free(tl);
}

TEST_HARNESS_MAIN
