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
# The last line printed is "N passed, N failed, N skipped". When something was skipped,
# the line before it says in one line what was not tested and why, grouped by the reasons
# the suites gave ("# not tested: 9 tests of test_lockorder: live tracing needs root; ...").
# Exit status: 0 when nothing failed, 1 otherwise.
#
# POSIX sh only: this also runs under busybox inside the QEMU guests.

# Tests never reach the network: elfutils would ask debuginfod servers for debug files.
unset DEBUGINFOD_URLS

pass=0
fail=0
skip=0
n=0
# one line per skipped result: "REASON<tab>SUITE"
skips=$(mktemp "${TMPDIR:-/tmp}/cw-skips.XXXXXX")
trap 'rm -f "$skips"' EXIT
tab=$(printf '\t')

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
	grep -E '^ok [0-9]+.*# SKIP' "$out" | sed -e 's/^.*# SKIP *//' -e 's/^$/no reason given/' \
		-e "s/$tab/ /g" -e "s/\$/$tab$name/" >>"$skips"
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

# "N tests of A, B: REASON; ...", the reasons in the order first met
if [ "$skip" -gt 0 ]; then
	awk -F "$tab" '
	!($1 in count) { order[++nr] = $1 }
	{ count[$1]++ }
	!(($1, $2) in seen) { seen[$1, $2] = 1; suites[$1] = suites[$1] (suites[$1] == "" ? "" : ", ") $2 }
	END {
		line = "# not tested:"
		for (i = 1; i <= nr; i++) {
			r = order[i]
			line = line (i > 1 ? ";" : "") " " count[r] (count[r] == 1 ? " test" : " tests") \
				" of " suites[r] ": " r
		}
		print line
	}' "$skips"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
