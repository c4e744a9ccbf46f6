# SPDX-License-Identifier: GPL-2.0
#
# What the bench/run-*.sh scripts share; sourced by them (bash) before they read their
# options. The sourcing script sets BENCH (its name in messages) and top (the top of the
# tree) first, and tmp (its scratch directory) before it calls fail().

# The script's "# Usage:" line, on stderr; exit 2.
usage() {
	sed -n "s/^# Usage: ${0##*/}/usage: ${0##*/}/p" "$0" >&2
	exit 2
}

# Reads the command line: $1 names each option's letter and variable ("r=reps m=modes";
# every option takes a value), the rest is the command line; its one operand, the build
# directory, sets O (default build/ at the top of the tree). A wrong one ends in usage.
parse_options() { # "letter=variable ..." "$@"
	local spec=$1 letters= opt v
	shift
	for v in $spec; do
		letters+="${v%%=*}:"
	done
	OPTIND=1
	while getopts "$letters" opt; do
		[ "$opt" != "?" ] || usage
		for v in $spec; do
			[ "$opt" = "${v%%=*}" ] && printf -v "${v#*=}" '%s' "$OPTARG"
		done
	done
	shift $((OPTIND - 1))
	[ $# -le 1 ] || usage
	O=${1:-$top/build}
}

# Each argument a whole number from 1 up, or usage.
counts() { # value...
	local v
	for v; do
		[[ $v =~ ^[1-9][0-9]*$ ]] || usage
	done
}

# Sets the array modes from the comma separated list $1, each of the rest, or usage.
modes_of() { # list mode...
	local m a
	IFS=, read -r -a modes <<<"$1"
	shift
	for m in "${modes[@]}"; do
		for a; do
			[ "$m" = "$a" ] && continue 2
		done
		usage
	done
}

# Ends the script unless each file named is built (executable); $1 says how to build it.
need_built() { # how file...
	local how=$1 f
	shift
	for f; do
		if [ ! -x "$f" ]; then
			echo "$BENCH: $f is missing: $how" >&2
			exit 1
		fi
	done
}

# Ends the script, a skip and not a failure, unless it may load BPF programs.
need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "$BENCH: skipped: BPF programs need root"
		exit 0
	fi
}

# Whether `$CW report` takes option $1: what this build of concwatch can be asked for.
report_has() { # option
	"$CW" report --help 2>&1 | grep -q -- "$1"
}

# Say what failed, show the tails of the last run's outputs, and end the script.
fail() {
	echo "$BENCH: $*" >&2
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[ -s "$f" ] && sed "s|^|  ${f##*/}: |" "$f" | tail -n 20 >&2
	done
	exit 1
}

# Until file $1 has a line matching $2, while process $3 lives; at most $4 s.
wait_line() {
	local i
	for ((i = 0; i < $4 * 20; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || { grep -q -- "$2" "$1" 2>/dev/null; return; }
		sleep 0.05
	done
	return 1
}

# Until process $1 exits, at most $2 s; 1 when it still runs.
gone_within() { # pid s
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	! kill -0 "$1" 2>/dev/null
}

# Until process $1 (a child) exits, at most $2 s, then SIGINT and 10 s more; its status.
wait_exit() { # pid s
	gone_within "$1" "$2" || { kill -INT "$1"; gone_within "$1" 10; }
	wait "$1"
}

# The "Lost events: N" of concwatch's text report in file $1: N, or nothing.
lost_events() { # file
	sed -n 's/^Lost events: \([0-9]*\).*/\1/p' "$1"
}

# The median of the numbers on stdin (separated by spaces or lines), "-" when none.
median() {
	tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) { print "-"; exit }
		      print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The numbers of the list on stdin but 0 (and empty ones), space separated.
nonzero() {
	tr ' ' '\n' | grep -v '^0\?$' | paste -s -d ' '
}

# A scratch directory, $tmp, and the traps that remove it when the script exits, after
# killing what it still runs in the background (a tracer, a server, a paused workload)
# and reaping it; before_cleanup, when the script defines one, runs first.
scratch_dir() {
	tmp=$(mktemp -d) || exit 1
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317 # run by the EXIT trap
bench_cleanup() {
	if declare -F before_cleanup >/dev/null; then
		before_cleanup
	fi
	for p in $(jobs -p); do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}

# The cells every benchmark begins with: untraced, then CELLS... (those that trace with
# --no-uprobes) when this concwatch has that option, which sets no_uprobes; the caller
# adds its own after.
base_configs() { # cell...
	configs=(untraced)
	no_uprobes=
	if report_has --no-uprobes; then
		configs+=("$@")
		no_uprobes=1
	fi
}
