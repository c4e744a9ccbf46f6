# SPDX-License-Identifier: GPL-2.0
#
# What the bench/run-*.sh scripts share; sourced by them (bash). The sourcing script
# sets BENCH (its name in messages) and tmp (its scratch directory) first.

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

# Until process $1 (a child) exits, at most $2 s, then SIGINT and 10 s more; its status.
wait_exit() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -INT "$1"
		for ((i = 0; i < 200; i++)); do
			kill -0 "$1" 2>/dev/null || break
			sleep 0.05
		done
	fi
	wait "$1"
}
