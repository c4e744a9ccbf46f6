// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF source reads the lock_sites map once a tick (bpf/cw_locks.bpf.h: per process,
 * lock and call path, statistics the programs aggregate). How long that read takes and
 * how many system calls it makes, at N entries, with the two ways of reading a hash map:
 *
 *   walk    bpf_map_get_next_key() and bpf_map_lookup_elem() per entry: 2 N + 1 calls
 *   batch   bpf_map_lookup_batch() with room for BATCH entries a call: N / BATCH + 1
 *           calls (what the source does, tools/lib/source/bpf/stats.c)
 *
 * The map is made here with lock_sites' key and value, filled with N entries: no
 * programs, no target. Root (or CAP_BPF).
 *
 * Usage: sites [N [BATCH]]   (default 65536, the map's size, and 4096)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "cw_maps.h"

#define READS 10

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One read of every entry; the sum of acquisitions (so nothing is optimised out), or -errno. */
static long long walk(int fd, long *calls)
{
	struct cw_site_key key, next;
	struct cw_site_stats v;
	long long sum = 0;
	int have = 0;

	for (;;) {
		++*calls;
		if (bpf_map_get_next_key(fd, have ? &key : NULL, &next))
			break;
		key = next;
		have = 1;
		++*calls;
		if (!bpf_map_lookup_elem(fd, &key, &v))
			sum += v.acquisitions;
	}
	return errno == ENOENT ? sum : -errno;
}

static long long batch(int fd, struct cw_site_key *keys, struct cw_site_stats *vals, __u32 room,
		       long *calls)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 in = 0, out = 0;	/* a hash map's position: a bucket */
	long long sum = 0;
	int done = 0, first = 1;

	while (!done) {
		__u32 n = room;
		int err;

		++*calls;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &opts);
		first = 0;
		if (err && errno != ENOENT)
			return -errno;
		done = err != 0;
		for (__u32 i = 0; i < n; i++)
			sum += vals[i].acquisitions;
		in = out;
	}
	return sum;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 0) : 65536;
	long room = argc > 2 ? strtol(argv[2], NULL, 0) : 4096;
	struct cw_site_stats *vals;
	struct cw_site_key *keys;
	double t0, t_walk, t_batch;
	long c_walk = 0, c_batch = 0;
	long long s1 = 0, s2 = 0;
	int fd;

	if (n < 1 || room < 1) {
		fprintf(stderr, "usage: sites [N [BATCH]]\n");
		return 2;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "lock_sites", sizeof(*keys), sizeof(*vals), n,
			    NULL);
	keys = calloc(room, sizeof(*keys));
	vals = calloc(room, sizeof(*vals));
	if (fd < 0 || !keys || !vals) {
		fprintf(stderr, "sites: cannot create a map of %ld entries: %s\n", n,
			strerror(errno));
		return 3;
	}
	for (long i = 0; i < n; i++) {
		struct cw_site_key k = { .tgid = 1000 + i % 7, .addr = 0x5000 + 64 * (i / 7),
					 .stack_id = i * 0x9e3779b97f4a7c15ULL };
		struct cw_site_stats v = { .acquisitions = 1 };

		if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST)) {
			fprintf(stderr, "sites: filling the map: %s\n", strerror(errno));
			return 3;
		}
	}
	t0 = now();
	for (int r = 0; r < READS; r++)
		s1 += walk(fd, &c_walk);
	t_walk = (now() - t0) / READS;
	t0 = now();
	for (int r = 0; r < READS; r++)
		s2 += batch(fd, keys, vals, room, &c_batch);
	t_batch = (now() - t0) / READS;
	if (s1 != (long long)n * READS || s2 != s1) {
		fprintf(stderr, "sites: read %lld and %lld entries, not %ld\n", s1 / READS,
			s2 / READS, n);
		return 1;
	}
	printf("%ld entries: walk %.2f ms, %ld syscalls a read; batch of %ld: %.2f ms, "
	       "%ld syscalls a read (%.1fx faster)\n",
	       n, t_walk * 1e3, c_walk / READS, room, t_batch * 1e3, c_batch / READS,
	       t_walk / t_batch);
	return 0;
}
