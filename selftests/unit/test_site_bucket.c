// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF programs' loop-free histogram bucket (cw_site_bucket(), bpf/cw_maps.h) puts
 * every value where the ABI's cw_hist_bucket() does: both sides of every power of two,
 * and the ends.
 */
#include "kselftest_harness.h"
#include "engine/record.h"
#include "cw_maps.h"

TEST(same_buckets_as_the_abi)
{
	const __u64 ends[] = { 0, 1, 2, 3, ~0ULL, ~0ULL - 1, 1ULL << 63 };

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		ASSERT_EQ(cw_hist_bucket(ends[i]), cw_site_bucket(ends[i]))
			TH_LOG("value %llu", (unsigned long long)ends[i]);
	}
	for (int b = 1; b < 64; b++) {
		__u64 p = 1ULL << b;

		for (__u64 v = p - 1; v <= p + 1; v++) {
			ASSERT_EQ(cw_hist_bucket(v), cw_site_bucket(v))
				TH_LOG("value %llu", (unsigned long long)v);
		}
	}
}

TEST(known_buckets)
{
	ASSERT_EQ(0, cw_site_bucket(0));
	ASSERT_EQ(0, cw_site_bucket(1));
	ASSERT_EQ(1, cw_site_bucket(2));
	ASSERT_EQ(1, cw_site_bucket(3));
	ASSERT_EQ(10, cw_site_bucket(1024));
	ASSERT_EQ(19, cw_site_bucket(1000000));	/* 1 ms: [524288, 1048576) */
	ASSERT_EQ(CW_HIST_BUCKETS - 1, cw_site_bucket(1ULL << 40));
}

TEST_HARNESS_MAIN
