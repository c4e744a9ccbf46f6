// SPDX-License-Identifier: GPL-2.0
/*
 * The event ABI: sizes and field offsets are a contract with recordings and with the
 * kernel module; a change here must be a deliberate CW_ABI_VERSION bump.
 */
#include <stddef.h>

#include "kselftest_harness.h"
#include "engine/record.h"

TEST(version)
{
	ASSERT_EQ(3, CW_ABI_VERSION);
}

TEST(header_layout)
{
	ASSERT_EQ(24, sizeof(struct cw_hdr));
	ASSERT_EQ(0, offsetof(struct cw_hdr, type));
	ASSERT_EQ(2, offsetof(struct cw_hdr, size));
	ASSERT_EQ(4, offsetof(struct cw_hdr, cpu));
	ASSERT_EQ(6, offsetof(struct cw_hdr, flags));
	ASSERT_EQ(8, offsetof(struct cw_hdr, ts_ns));
	ASSERT_EQ(16, offsetof(struct cw_hdr, pid));
	ASSERT_EQ(20, offsetof(struct cw_hdr, tid));
}

TEST(lock_record_layout)
{
	ASSERT_EQ(72, sizeof(struct cw_ev_lock));
	ASSERT_EQ(24, offsetof(struct cw_ev_lock, addr));
	ASSERT_EQ(32, offsetof(struct cw_ev_lock, ip));
	ASSERT_EQ(40, offsetof(struct cw_ev_lock, stack_id));
	ASSERT_EQ(48, offsetof(struct cw_ev_lock, wait_ns));
	ASSERT_EQ(56, offsetof(struct cw_ev_lock, result));
	ASSERT_EQ(60, offsetof(struct cw_ev_lock, attr));
	ASSERT_EQ(62, offsetof(struct cw_ev_lock, kind));
	ASSERT_EQ(63, offsetof(struct cw_ev_lock, op));
	ASSERT_EQ(64, offsetof(struct cw_ev_lock, addr2));
}

/* Version 2 gave the futex record its stack_id: pin the layout it has since. */
TEST(futex_record_layout)
{
	ASSERT_EQ(80, sizeof(struct cw_ev_futex));
	ASSERT_EQ(24, offsetof(struct cw_ev_futex, uaddr));
	ASSERT_EQ(32, offsetof(struct cw_ev_futex, uaddr2));
	ASSERT_EQ(40, offsetof(struct cw_ev_futex, timeout_ns));
	ASSERT_EQ(48, offsetof(struct cw_ev_futex, wait_ns));
	ASSERT_EQ(56, offsetof(struct cw_ev_futex, stack_id));
	ASSERT_EQ(64, offsetof(struct cw_ev_futex, op));
	ASSERT_EQ(68, offsetof(struct cw_ev_futex, val));
	ASSERT_EQ(72, offsetof(struct cw_ev_futex, val3));
	ASSERT_EQ(76, offsetof(struct cw_ev_futex, result));
}

/* Version 3: statistics per (object, call path, view) with histograms, thread scheduling. */
TEST(stats_record_layout)
{
	ASSERT_EQ(272, sizeof(struct cw_ev_lock_stats));
	ASSERT_EQ(24, offsetof(struct cw_ev_lock_stats, addr));
	ASSERT_EQ(40, offsetof(struct cw_ev_lock_stats, stack_id));
	ASSERT_EQ(56, offsetof(struct cw_ev_lock_stats, acquisitions));
	ASSERT_EQ(72, offsetof(struct cw_ev_lock_stats, failures));
	ASSERT_EQ(112, offsetof(struct cw_ev_lock_stats, owner_tid));
	ASSERT_EQ(120, offsetof(struct cw_ev_lock_stats, outcomes));
	ASSERT_EQ(136, offsetof(struct cw_ev_lock_stats, what));
	ASSERT_EQ(137, offsetof(struct cw_ev_lock_stats, kind));
	ASSERT_EQ(140, offsetof(struct cw_ev_lock_stats, flags));
	ASSERT_EQ(144, offsetof(struct cw_ev_lock_stats, wait_hist));
	ASSERT_EQ(32, CW_HIST_BUCKETS);
}

TEST(sched_record_layout)
{
	ASSERT_EQ(296, sizeof(struct cw_ev_thread_stats));
	ASSERT_EQ(32, offsetof(struct cw_ev_thread_stats, oncpu_ns));
	ASSERT_EQ(40, offsetof(struct cw_ev_thread_stats, offcpu_ns));
	ASSERT_EQ(7, CW_OFFCPU_MAX);
	ASSERT_EQ(96, offsetof(struct cw_ev_thread_stats, runq_ns_max));
	ASSERT_EQ(144, offsetof(struct cw_ev_thread_stats, nr_cpus_allowed));
	ASSERT_EQ(168, offsetof(struct cw_ev_thread_stats, runq_hist));
	ASSERT_EQ(64, sizeof(struct cw_ev_switch));
	ASSERT_EQ(32, offsetof(struct cw_ev_switch, wait_addr));
	ASSERT_EQ(60, offsetof(struct cw_ev_switch, reason));
	ASSERT_EQ(72, sizeof(struct cw_ev_wakeup));
	ASSERT_EQ(32, offsetof(struct cw_ev_wakeup, wait_addr));
	ASSERT_EQ(40, offsetof(struct cw_ev_wakeup, waker_stack_id));
	ASSERT_EQ(64, offsetof(struct cw_ev_wakeup, reason));
	ASSERT_EQ(64, sizeof(struct cw_ev_blocked));
	ASSERT_EQ(48, offsetof(struct cw_ev_blocked, owner_tid));
	/* the spare word it was (pad2): a meaning given, nothing moved */
	ASSERT_EQ(60, offsetof(struct cw_ev_blocked, readers));
	ASSERT_EQ(104, sizeof(struct cw_ev_pi));
	ASSERT_EQ(40, offsetof(struct cw_ev_pi, duration_ns));
	ASSERT_EQ(48, offsetof(struct cw_ev_pi, high_tid));
	ASSERT_EQ(68, offsetof(struct cw_ev_pi, preemptor_pid));
	ASSERT_EQ(84, offsetof(struct cw_ev_pi, flags));
	ASSERT_EQ(88, offsetof(struct cw_ev_pi, preemptor_comm));
}

/* Within version 3, a new type (no bump): the stacks of a priority inversion's stretch. */
TEST(prio_stacks_record_layout)
{
	ASSERT_EQ(28, CW_EV_PRIO_STACKS);
	ASSERT_STREQ("prio_stacks", cw_record__type_name(CW_EV_PRIO_STACKS));
	ASSERT_EQ(64, sizeof(struct cw_ev_pi_stacks));
	ASSERT_EQ(64, cw_record__min_size(CW_EV_PRIO_STACKS));
	ASSERT_EQ(24, offsetof(struct cw_ev_pi_stacks, addr));
	ASSERT_EQ(32, offsetof(struct cw_ev_pi_stacks, wait_since_ns));
	ASSERT_EQ(40, offsetof(struct cw_ev_pi_stacks, low_stack_id));
	ASSERT_EQ(48, offsetof(struct cw_ev_pi_stacks, preemptor_stack_id));
	ASSERT_EQ(56, offsetof(struct cw_ev_pi_stacks, high_tid));
	ASSERT_EQ(60, offsetof(struct cw_ev_pi_stacks, flags));
	ASSERT_EQ(1, CW_PI_STACKS_F_UNTRACED);
}

/*
 * Within version 3, a new type (no bump): what tracing cost, as running totals, and
 * the trap kind a probe's cookie carries.
 */
TEST(cost_record_layout)
{
	ASSERT_EQ(29, CW_EV_COST);
	ASSERT_STREQ("cost", cw_record__type_name(CW_EV_COST));
	ASSERT_EQ(128, sizeof(struct cw_ev_cost));
	/* grown at its end: a 120-byte record of an older source is still one */
	ASSERT_EQ(120, offsetof(struct cw_ev_cost, target_cpu_ns));
	ASSERT_EQ(120, cw_record__min_size(CW_EV_COST));
	ASSERT_EQ(24, offsetof(struct cw_ev_cost, start_ns));
	ASSERT_EQ(32, offsetof(struct cw_ev_cost, hits));
	ASSERT_EQ(64, offsetof(struct cw_ev_cost, bpf_run_ns));
	ASSERT_EQ(72, offsetof(struct cw_ev_cost, bpf_runs));
	ASSERT_EQ(80, offsetof(struct cw_ev_cost, tp_run_ns));
	ASSERT_EQ(88, offsetof(struct cw_ev_cost, tp_runs));
	ASSERT_EQ(96, offsetof(struct cw_ev_cost, hit_ns));
	ASSERT_EQ(112, offsetof(struct cw_ev_cost, flags));
	ASSERT_EQ(0, CW_TRAP_EMULATED);
	ASSERT_EQ(1, CW_TRAP_STEPPED);
	ASSERT_EQ(2, CW_TRAP_RETURN);
	ASSERT_EQ(4, CW_TRAP_MAX);
	ASSERT_EQ(0x0002010700000000ULL,
		  CW_PROBE_COOKIE_WITH_TRAP(CW_PROBE_COOKIE(7, 1, 0), CW_TRAP_RETURN));
	ASSERT_EQ(CW_TRAP_STEPPED,
		  CW_PROBE_COOKIE_TRAP(CW_PROBE_COOKIE_WITH_TRAP(CW_PROBE_COOKIE(7, 1, 9),
								 CW_TRAP_STEPPED)));
	ASSERT_EQ(9, CW_PROBE_COOKIE_LOW(CW_PROBE_COOKIE_WITH_TRAP(CW_PROBE_COOKIE(7, 1, 9), 1)));
	ASSERT_EQ(1, CW_COST_CALIBRATED);
	ASSERT_EQ(2, CW_COST_BPF_STATS);
}

/* Within version 3, a new type (no bump): what a thread does now, and since when. */
TEST(thread_state_record_layout)
{
	ASSERT_EQ(30, CW_EV_THREAD_STATE);
	ASSERT_STREQ("thread_state", cw_record__type_name(CW_EV_THREAD_STATE));
	ASSERT_EQ(48, sizeof(struct cw_ev_thread_state));
	ASSERT_EQ(48, cw_record__min_size(CW_EV_THREAD_STATE));
	ASSERT_EQ(24, offsetof(struct cw_ev_thread_state, since_ns));
	ASSERT_EQ(32, offsetof(struct cw_ev_thread_state, wait_addr));
	ASSERT_EQ(40, offsetof(struct cw_ev_thread_state, state));
}

/* The event-loop records (version 3: new types, no bump). */
TEST(loop_record_layout)
{
	ASSERT_EQ(31, CW_EV_LOOP_STALL);
	ASSERT_EQ(32, CW_EV_LOOP_STATS);
	ASSERT_EQ(33, CW_EV_LOOP_BLOCK);
	ASSERT_EQ(34, CW_EV_LOOP_SAMPLE);
	ASSERT_EQ(35, CW_EV_TYPE_MAX);
	ASSERT_STREQ("loop_stall", cw_record__type_name(CW_EV_LOOP_STALL));
	ASSERT_STREQ("loop_stats", cw_record__type_name(CW_EV_LOOP_STATS));
	ASSERT_EQ(56, sizeof(struct cw_ev_loop_stall));
	ASSERT_EQ(56, cw_record__min_size(CW_EV_LOOP_STALL));
	ASSERT_EQ(24, offsetof(struct cw_ev_loop_stall, start_ns));
	ASSERT_EQ(32, offsetof(struct cw_ev_loop_stall, duration_ns));
	ASSERT_EQ(40, offsetof(struct cw_ev_loop_stall, oncpu_ns));
	ASSERT_EQ(48, offsetof(struct cw_ev_loop_stall, wait_nr));
	ASSERT_EQ(52, offsetof(struct cw_ev_loop_stall, flags));
	ASSERT_EQ(216, sizeof(struct cw_ev_loop_stats));
	/* iter_start_ns appended: an older source's 208 bytes are still a record */
	ASSERT_EQ(208, cw_record__min_size(CW_EV_LOOP_STATS));
	ASSERT_EQ(208, offsetof(struct cw_ev_loop_stats, iter_start_ns));
	ASSERT_EQ(24, offsetof(struct cw_ev_loop_stats, waits));
	ASSERT_EQ(64, offsetof(struct cw_ev_loop_stats, stalls));
	ASSERT_EQ(72, offsetof(struct cw_ev_loop_stats, wait_nr));
	ASSERT_EQ(76, offsetof(struct cw_ev_loop_stats, in_wait));
	ASSERT_EQ(80, offsetof(struct cw_ev_loop_stats, busy_hist));
	ASSERT_STREQ("loop_block", cw_record__type_name(CW_EV_LOOP_BLOCK));
	ASSERT_STREQ("loop_sample", cw_record__type_name(CW_EV_LOOP_SAMPLE));
	ASSERT_EQ(80, sizeof(struct cw_ev_loop_block));
	ASSERT_EQ(80, cw_record__min_size(CW_EV_LOOP_BLOCK));
	ASSERT_EQ(24, offsetof(struct cw_ev_loop_block, start_ns));
	ASSERT_EQ(32, offsetof(struct cw_ev_loop_block, duration_ns));
	ASSERT_EQ(40, offsetof(struct cw_ev_loop_block, iter_start_ns));
	ASSERT_EQ(48, offsetof(struct cw_ev_loop_block, addr));
	ASSERT_EQ(56, offsetof(struct cw_ev_loop_block, stack_id));
	ASSERT_EQ(64, offsetof(struct cw_ev_loop_block, nr));
	ASSERT_EQ(68, offsetof(struct cw_ev_loop_block, owner_tid));
	ASSERT_EQ(72, offsetof(struct cw_ev_loop_block, reason));
	ASSERT_EQ(48, sizeof(struct cw_ev_loop_sample));
	ASSERT_EQ(48, cw_record__min_size(CW_EV_LOOP_SAMPLE));
	ASSERT_EQ(24, offsetof(struct cw_ev_loop_sample, iter_start_ns));
	ASSERT_EQ(32, offsetof(struct cw_ev_loop_sample, stack_id));
	ASSERT_EQ(40, offsetof(struct cw_ev_loop_sample, flags));
}

TEST(histogram_buckets)
{
	ASSERT_EQ(0, cw_hist_bucket(0));
	ASSERT_EQ(0, cw_hist_bucket(1));
	ASSERT_EQ(1, cw_hist_bucket(2));
	ASSERT_EQ(1, cw_hist_bucket(3));
	ASSERT_EQ(10, cw_hist_bucket(1024));
	ASSERT_EQ(19, cw_hist_bucket(1000000));
	ASSERT_EQ(CW_HIST_BUCKETS - 1, cw_hist_bucket(~0ULL));
}

TEST(variable_records_payload_last)
{
	ASSERT_EQ(sizeof(struct cw_ev_exec), offsetof(struct cw_ev_exec, filename));
	ASSERT_EQ(sizeof(struct cw_ev_mmap), offsetof(struct cw_ev_mmap, filename));
	ASSERT_EQ(sizeof(struct cw_ev_stack), offsetof(struct cw_ev_stack, ips));
	ASSERT_EQ(sizeof(struct cw_ev_ustack_raw), offsetof(struct cw_ev_ustack_raw, data));
	ASSERT_EQ(sizeof(struct cw_ev_module), offsetof(struct cw_ev_module, path));
	ASSERT_EQ(64, offsetof(struct cw_ev_module, build_id));
}

/* Every type has a name and a fixed size that is a multiple of 8 and fits the header's size field. */
TEST(every_type_known)
{
	for (unsigned int t = 1; t < CW_EV_TYPE_MAX; t++) {
		size_t sz = cw_record__min_size(t);

		EXPECT_STRNE("unknown", cw_record__type_name(t)) TH_LOG("type %u", t);
		EXPECT_NE(0, sz) TH_LOG("type %u", t);
		EXPECT_EQ(0, sz % 8) TH_LOG("type %u", t);
		EXPECT_LE(sz, CW_RECORD_MAX);
	}
	ASSERT_EQ(0, cw_record__min_size(CW_EV_TYPE_MAX));
	ASSERT_EQ(0, cw_record__min_size(CW_EV_NONE));
	ASSERT_EQ(0, CW_RECORD_MAX % 8);
}

TEST(record_align)
{
	ASSERT_EQ(0, CW_RECORD_ALIGN(0));
	ASSERT_EQ(8, CW_RECORD_ALIGN(1));
	ASSERT_EQ(8, CW_RECORD_ALIGN(8));
	ASSERT_EQ(40, CW_RECORD_ALIGN(33));
}

TEST_HARNESS_MAIN
