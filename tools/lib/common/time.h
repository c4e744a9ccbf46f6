/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Clocks in nanoseconds, for every part of concwatch, its tests and its benchmarks:
 * plain C with no dependency, so that one definition serves them all.
 */
#ifndef __CW_COMMON_TIME_H
#define __CW_COMMON_TIME_H

#include <time.h>
#include <linux/types.h>

/* clk in ns; CLOCK_REALTIME for wall-clock stamps (a recording's header and trailer). */
static inline __u64 cw_clock_ns(clockid_t clk)
{
	struct timespec ts;

	/* cannot fail for the clocks used here: a valid clock id and pointer */
	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * CLOCK_MONOTONIC in ns: the clock of every record's ts_ns (bpf_ktime_get_ns() and the
 * module's ktime_get_ns() read it), of deadlines and of durations.
 */
static inline __u64 cw_now_ns(void)
{
	return cw_clock_ns(CLOCK_MONOTONIC);
}

#endif /* __CW_COMMON_TIME_H */
