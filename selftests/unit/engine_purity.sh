#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The engine must stay pure (Documentation/design.md): no libbpf, no curses, no system calls, no
# clocks. Check what its archive links against: only memory and string helpers.
# TAP, one test.

O=${O:-$(dirname "$0")/../../build}
lib=$O/tools/libcw_engine.a
allowed='^(calloc|malloc|realloc|free|memcpy|memmove|memset|memcmp|strcmp|strncmp|strlen|strncpy|snprintf|qsort|__stack_chk_fail|__assert_fail|__snprintf_chk|__memcpy_chk|__memset_chk|__strncpy_chk|_GLOBAL_OFFSET_TABLE_)$'

echo "TAP version 13"
echo "1..1"
if [ ! -f "$lib" ]; then
	echo "not ok 1 engine_purity # $lib not built"
	exit 1
fi
# undefined symbols that no object of the archive itself defines
defined=$(nm --defined-only "$lib" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u)
bad=$(nm -u "$lib" | awk 'NF == 2 { print $2 }' | sort -u | while read -r sym; do
	echo "$defined" | grep -qx "$sym" && continue
	echo "$sym" | grep -qE "$allowed" || echo "$sym"
done)
if [ -n "$bad" ]; then
	echo "# the engine calls outside its allowed set:"
	echo "$bad" | sed 's/^/#   /'
	echo "not ok 1 engine_purity"
	exit 1
fi
echo "ok 1 engine_purity"
