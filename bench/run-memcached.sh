#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A real server under load: Debian's memcached (`memcached -t 4`, stripped, as a user
# runs it) answering memcslap's gets on loopback, in requests/s, under:
#
#   untraced     nothing
#   no-uprobes   `concwatch report -p PID --no-uprobes`: futex, scheduler and kernel-lock
#                tracepoints, no uprobe (the mode to leave attached to a busy server)
#   default      `concwatch report -p PID`: the same plus the lock uprobes
#
# Each run starts a fresh memcached on a free port, attaches concwatch (and waits until
# it says it is tracing), then memcslap sets its keys and gets them with CONCURRENCY
# threads (4), EXECUTE gets each (10000); requests/s are the gets over memcslap's own
# "Time to get" line. memcached's own CPU time per request (the sum of its threads'
# run time, /proc/PID/task/*/schedstat, over memcslap's sets and gets, tracing programs
# run in its context included) is shown too: on a busy machine requests/s wander with
# the neighbours' load, CPU time per request much less. The configurations run
# interleaved, REPS times each, and the medians are shown with the ratios to untraced.
#
# Exit status 1 when a run failed, 0 otherwise (also when memcached or memcslap is not
# installed: the script says so; scripts/deps.sh installs them).
#
# Usage: run-memcached.sh [-r REPS] [-c CONCURRENCY] [-e EXECUTE] [O]
#   O          the build directory (default build/ at the top of the tree)

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
reps=3
conc=4
execn=10000
usage() {
	sed -n 's/^# Usage: run-memcached.sh/usage: run-memcached.sh/p' "$0" >&2
	exit 2
}
while getopts "r:c:e:" opt; do
	case $opt in
	r) reps=$OPTARG ;;
	c) conc=$OPTARG ;;
	e) execn=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
for v in "$reps" "$conc" "$execn"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || usage
done
O=${1:-$top/build}
CW=$O/concwatch

if [ ! -x "$CW" ]; then
	echo "memcached: $CW is missing: make -C $top" >&2
	exit 1
fi
MEMCACHED=$(command -v memcached 2>/dev/null)
MEMCSLAP=$(command -v memcslap 2>/dev/null)
if [ -z "$MEMCACHED" ] || [ -z "$MEMCSLAP" ]; then
	echo "memcached: skipped: memcached and memcslap are needed" \
		"(apt install memcached libmemcached-tools; scripts/deps.sh does)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "memcached: skipped: BPF programs need root"
	exit 0
fi

configs=(untraced)
if "$CW" report --help 2>&1 | grep -q -- '--no-uprobes'; then
	configs+=(no-uprobes)
	no_uprobes=1
else
	no_uprobes=
fi
configs+=(default)

tmp=$(mktemp -d) || exit 1
mpid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	for p in $(jobs -p); do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH=memcached
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# lib.sh's, but SIGKILL at the end: until process $1 (a child) exits, at most $2 s.
wait_exit() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && kill -KILL "$1"
	wait "$1"
}

listening() { # port
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# A fresh memcached on a free port: sets mpid, port.
start_memcached() {
	local i
	for ((i = 0; i < 50; i++)); do
		port=$((20000 + (RANDOM % 20000)))
		listening "$port" || break
	done
	"$MEMCACHED" -t 4 -p "$port" -U 0 -l 127.0.0.1 -u nobody >"$tmp/mc.out" 2>"$tmp/mc.err" &
	mpid=$!
	for ((i = 0; i < 200; i++)); do
		listening "$port" && return 0
		kill -0 "$mpid" 2>/dev/null || fail "memcached did not start"
		sleep 0.05
	done
	fail "memcached does not listen on port $port"
}

stop_memcached() {
	kill -TERM "$mpid" 2>/dev/null
	wait_exit "$mpid" 20 >/dev/null 2>&1
	mpid=
}

# The run time of memcached's threads so far, ns.
memcached_cpu() {
	cat /proc/"$mpid"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# Sets rps: gets per second, from memcslap's "Time to get N keys by T threads: S seconds";
# cpu_us: memcached's CPU time per request (sets and gets), us.
slap() { # what
	local c0 c1 nreq
	c0=$(memcached_cpu)
	"$MEMCSLAP" --servers="127.0.0.1:$port" --concurrency="$conc" \
		--execute-number="$execn" --test=get >"$tmp/slap.out" 2>"$tmp/slap.err" ||
		fail "$1: memcslap failed"
	rps=$(awk '/^Time to get/ { for (i = 1; i <= NF; i++) if ($i == "keys") n = $(i - 1);
		s = $(NF - 1) } END { if (n && s > 0) printf "%.0f", n / s }' "$tmp/slap.out")
	[ -n "$rps" ] || fail "$1: no \"Time to get\" line from memcslap"
	c1=$(memcached_cpu)
	nreq=$(awk '/^Time to (get|set)/ { for (i = 1; i <= NF; i++) if ($i == "keys") n += $(i - 1) }
		END { print n + 0 }' "$tmp/slap.out")
	cpu_us=$(awk -v a="$c0" -v b="$c1" -v n="$nreq" 'BEGIN { printf "%.2f", (b - a) / 1000 / n }')
}

run_one() { # config
	local cpid opt=()
	rm -f "$tmp"/*.out "$tmp"/*.err
	start_memcached
	cw_lost=
	if [ "$1" != untraced ]; then
		[ "$1" = no-uprobes ] && opt=(--no-uprobes)
		"$CW" report -v "${opt[@]}" -p "$mpid" >"$tmp/cw.out" 2>"$tmp/cw.err" &
		cpid=$!
		wait_line "$tmp/cw.err" 'tracing process' "$cpid" 60 ||
			fail "$1: concwatch did not attach"
	fi
	slap "$1"
	stop_memcached
	if [ "$1" != untraced ]; then
		# it stops by itself when memcached exits, and prints its report
		wait_exit "$cpid" 60 || fail "$1: concwatch failed"
		cw_lost=$(sed -n 's/^Lost events: \([0-9]*\).*/\1/p' "$tmp/cw.out")
	fi
}

median() {
	tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) { print "-"; exit }
		      print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "memcached benchmark: $("$MEMCACHED" -V), -t 4, memcslap get, concurrency $conc," \
	"$execn gets each, loopback; kernel $(uname -r), $(nproc) CPUs; median of $reps runs in turn"
[ -n "$no_uprobes" ] ||
	echo "no-uprobes: not available in this build (concwatch report has no --no-uprobes)"

declare -A res lost cpu
for ((r = 1; r <= reps; r++)); do
	for c in "${configs[@]}"; do
		run_one "$c"
		res[$c]="${res[$c]:-} $rps"
		cpu[$c]="${cpu[$c]:-} $cpu_us"
		lost[$c]="${lost[$c]:-} ${cw_lost:-}"
		printf '  run %d/%d %-10s %9d requests/s %8.2f us CPU/request%s\n' "$r" "$reps" \
			"$c" "$rps" "$cpu_us" "${cw_lost:+, lost events $cw_lost}" >&2
	done
done

u=$(echo "${res[untraced]}" | median)
nu=$(echo "${res[no-uprobes]:-}" | median)
d=$(echo "${res[default]}" | median)
cu=$(echo "${cpu[untraced]}" | median)
cnu=$(echo "${cpu[no-uprobes]:-}" | median)
cd=$(echo "${cpu[default]}" | median)
echo
printf '%-16s %12s %12s %12s %10s %10s\n' "" untraced no-uprobes default nu/untr def/untr
awk -v u="$u" -v nu="$nu" -v d="$d" -v cu="$cu" -v cnu="$cnu" -v cd="$cd" 'BEGIN {
	printf "%-16s %12.0f %12s %12.0f %10s %9.2fx\n", "requests/s", u,
	       nu == "-" ? "-" : sprintf("%.0f", nu), d,
	       nu == "-" ? "-" : sprintf("%.3fx", nu / u), d / u
	printf "%-16s %12.2f %12s %12.2f %10s %9.2fx\n", "CPU us/request", cu,
	       cnu == "-" ? "-" : sprintf("%.2f", cnu), cd,
	       cnu == "-" ? "-" : sprintf("%.3fx", cnu / cu), cd / cu
}'
for c in no-uprobes default; do
	l=$(echo "${lost[$c]:-}" | tr ' ' '\n' | grep -v '^0\?$' | paste -s -d ' ')
	[ -z "$l" ] || echo "  lost events, $c: $l"
done
exit 0
