#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run test suites and total their TAP results.
#
# Usage: run.sh SUITE...
#   A suite is an executable printing TAP (a kselftest-harness binary, or a script
#   such as vmtest.sh that prints TAP in the same form). Each suite's output is shown
#   indented under "# suite: NAME"; its top-level "ok"/"not ok" lines are counted.
#   A suite that exits non-zero without reporting a failure, or reports fewer results
#   than its plan, counts one failure more: nothing is lost silently.
#
# The last line printed is "N passed, N failed"; skips are on the line before it.
# Exit status: 0 when nothing failed, 1 otherwise.
#
# POSIX sh only: this also runs under busybox inside the QEMU guests.

# Tests never reach the network: elfutils would ask debuginfod servers for debug files.
unset DEBUGINFOD_URLS

pass=0
fail=0
skip=0
n=0

echo "TAP version 13"
echo "1..$#"
for suite in "$@"; do
	n=$((n + 1))
	name=${suite##*/}
	out=$(mktemp "${TMPDIR:-/tmp}/cw-suite.XXXXXX")
	echo "# suite: $name"
	started=$(date +%s)
	"$suite" >"$out" 2>&1
	rc=$?
	took=$(($(date +%s) - started))
	sed 's/^/  /' "$out"
	p=$(grep -E '^ok [0-9]+' "$out" | grep -vc '# SKIP')
	s=$(grep -E '^ok [0-9]+' "$out" | grep -c '# SKIP')
	f=$(grep -cE '^not ok [0-9]+' "$out")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
	got=$((p + s + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$rc" -ne 4 ]; then
		echo "  # $name exited with status $rc but reported no failure"
		f=$((f + 1))
	elif [ -n "$plan" ] && [ "$got" -lt "$plan" ]; then
		echo "  # $name planned $plan results but reported $got"
		f=$((f + plan - got))
	elif [ -z "$plan" ] && [ "$got" -eq 0 ]; then
		echo "  # $name printed no TAP results (status $rc)"
		f=$((f + 1))
	fi
	rm -f "$out"
	pass=$((pass + p))
	fail=$((fail + f))
	skip=$((skip + s))
	echo "  # $name took ${took} s"
	if [ "$f" -gt 0 ]; then
		echo "not ok $n $name"
	elif [ "$p" -eq 0 ] && [ "$s" -gt 0 ]; then
		echo "ok $n $name # SKIP"
	else
		echo "ok $n $name"
	fi
done

echo "# $skip skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
