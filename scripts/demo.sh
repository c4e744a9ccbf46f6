#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo: trace the bundled example workload (selftests/workloads/wl_bank.c: three
# tellers move money between eight accounts, each behind its own mutex, an auditor
# locks them all, and a fee collector locks two of them in the wrong order) from its
# start with `concwatch run`, which reports the lock-order inversion at its exit.
#
# Usage: scripts/demo.sh BUILD_DIR

set -u
O=${1:-build}

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo: tracing needs root (CAP_SYS_ADMIN and CAP_SYS_PTRACE): run it as root" >&2
	exit 3
fi

echo "The example workload wl_bank: 3 tellers, an auditor and a fee collector, 8 accounts."
echo
echo "\$ concwatch run -- wl_bank 2"
"$O/concwatch" run -- "$O/selftests/workloads/wl_bank" 2
rc=$?
echo
echo "concwatch run exited with $rc: the workload's own status. With --fail-on"
echo "lock_order_inversion it would be 66, so a CI job fails on the finding."
echo
echo "Watch a process live in the dashboard (Documentation/dashboard.md; ? lists the keys,"
echo "q quits and detaches), here the workload for a minute:"
echo "  $O/selftests/workloads/wl_bank 60 & $O/concwatch -p \$!"
exit "$rc"
