#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The BPF object is rebuilt when a header it includes changes (a map layout shared with
# userspace, cw_maps.h, or the event ABI, events.h, cannot change on one side only), and
# the skeleton and everything that includes it are rebuilt after the object.
# Asked of make itself, without touching a file: `make -n -W FILE` prints what would be
# rebuilt if FILE had just changed. Needs a finished build in $O. TAP.

top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-$top/build}
O=$(cd "$O" 2>/dev/null && pwd || echo "$O")
obj=$O/bpf/concwatch.bpf.o
# run.sh may be started by make: its flags (-j, the jobserver, -s) are not ours
unset MAKEFLAGS MFLAGS MAKELEVEL

# kmod.h is the module device's contract, preload.h the in-process library's: the BPF
# programs include neither
headers=$(cd "$top" && ls bpf/*.h include/concwatch/*.h |
	grep -vx -e include/concwatch/kmod.h -e include/concwatch/preload.h)
echo "TAP version 13"
echo "1..$(($(echo "$headers" | wc -l) + 2))"
if [ ! -f "$obj" ]; then
	echo "# $obj not built"
	exit 1
fi

n=0
fail=0
# check NAME PATTERN MAKE-ARGS...: make -n prints a line matching PATTERN
check()
{
	name=$1 pattern=$2
	shift 2
	n=$((n + 1))
	out=$(make -n V=1 O="$O" "$@" 2>&1)
	if echo "$out" | grep -qE -- "$pattern"; then
		echo "ok $n $name"
	else
		echo "$out" | tail -n 5 | sed 's/^/# /'
		echo "not ok $n $name"
		fail=1
	fi
}

for h in $headers; do
	# the dependency file names a header by the path clang found it by: give both
	check "build_deps.$h rebuilds the BPF object" "clang .* -c concwatch\.bpf\.c" \
		-C "$top/bpf" -W "$top/$h" -W "${h#bpf/}" "$obj"
done
check "build_deps.object rebuilds the skeleton" "bpf .*concwatch\.skel\.h" \
	-C "$top/tools" -W "$obj" "$O/concwatch.skel.h"
check "build_deps.object rebuilds the skeleton's users" " -c lib/source/bpf/source\.c " \
	-C "$top/tools" -W "$obj"
[ "$fail" -eq 0 ]
