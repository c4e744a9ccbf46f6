#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# What every live test takes for granted in the guest: kernel BTF for CO-RE, bpffs,
# tracefs with the tracepoints and uprobes concwatch attaches to, and a bpf(2) that
# loads the program and map types it uses. A failure here explains a wall of live test
# failures with one line.

# shellcheck disable=SC2317 # the test_* functions are called by name through ktap_run
# shellcheck source=selftests/vm/lib.sh
. "$(dirname "$0")/lib.sh"

TRACING=/sys/kernel/tracing
BPFTOOL=${CW_BPFTOOL:-/cw/bin/bpftool}
PROBE=/tmp/cw-bpf-features

test_btf_vmlinux()
{
	[ -s /sys/kernel/btf/vmlinux ] || { echo "# no /sys/kernel/btf/vmlinux"; return 1; }
	echo "# $(ls -l /sys/kernel/btf/vmlinux)"
}

test_bpffs()
{
	grep -q '^bpf /sys/fs/bpf bpf ' /proc/mounts
}

# sched_switch/sched_wakeup for the scheduler view, lock:contention_begin (5.19+)
# for kernel lock contention.
test_tracepoints()
{
	for e in sched/sched_switch sched/sched_wakeup lock/contention_begin lock/contention_end; do
		[ -d "$TRACING/events/$e" ] || { echo "# missing tracepoint $e"; return 1; }
	done
}

test_uprobes()
{
	[ -w "$TRACING/uprobe_events" ] || { echo "# no $TRACING/uprobe_events"; return 1; }
}

# bpftool loads a tiny program or creates a map per feature: that exercises the
# verifier and the map code for real instead of reading the kernel config. Probed once,
# the three tests below read the same report.
bpf_features()
{
	if [ ! -x "$BPFTOOL" ]; then
		KTAP_REASON="no bpftool packed (install it on the host)"
		return "$KSFT_SKIP"
	fi
	[ -s "$PROBE" ] && return 0
	"$BPFTOOL" feature probe kernel >"$PROBE" 2>&1 && return 0
	echo "# bpftool feature probe failed:"
	sed 's/^/#   /' "$PROBE"
	rm -f "$PROBE"
	return 1
}

# have_features KIND NAME...: "eBPF KIND NAME is available" for each NAME.
have_features()
{
	kind=$1
	shift
	bpf_features || return
	rc=0
	for f in "$@"; do
		grep -qx "eBPF $kind $f is available" "$PROBE" || {
			echo "# $kind $f is not available"
			rc=1
		}
	done
	return "$rc"
}

test_bpf_prog_types()
{
	have_features program_type kprobe tracepoint raw_tracepoint tracing perf_event
}

test_bpf_map_types()
{
	have_features map_type ringbuf hash lru_hash percpu_array stack_trace
}

# What the tracer calls from its kprobe and uprobe programs.
test_bpf_helpers()
{
	bpf_features || return
	sed -n '/^eBPF helpers supported for program type kprobe:$/,/^$/p' "$PROBE" >"$PROBE.kprobe"
	rc=0
	for h in bpf_ringbuf_reserve bpf_get_stack bpf_probe_read_user bpf_get_current_task_btf; do
		grep -q "^[[:space:]]*- $h\$" "$PROBE.kprobe" || {
			echo "# kprobe programs cannot call $h"
			rc=1
		}
	done
	return "$rc"
}

ktap_plan 7
echo "# kernel $(uname -r)"
for t in btf_vmlinux bpffs tracepoints uprobes bpf_prog_types bpf_map_types bpf_helpers; do
	ktap_run "$t" "test_$t"
done
ktap_finish
