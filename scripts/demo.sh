#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo: start the bundled example workload (selftests/workloads/wl_bank.c: three
# tellers move money between eight accounts, each behind its own mutex, while an
# auditor locks them all to check the total) and let concwatch report on it live.
#
# Usage: scripts/demo.sh BUILD_DIR

set -u
O=${1:-build}

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo: tracing needs root (CAP_SYS_ADMIN and CAP_SYS_PTRACE): run it as root" >&2
	exit 3
fi

"$O/selftests/workloads/wl_bank" 4 &
pid=$!
echo "Started the example workload wl_bank (pid $pid): 3 tellers, an auditor, 8 accounts."
echo
echo "\$ concwatch report -p $pid --duration 2"
"$O/concwatch" report -p "$pid" --duration 2
rc=$?
wait "$pid"
exit "$rc"
