#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Rebuild the stack unwinder's test data from stackfix.c (see there). The outputs are
# committed: run this only after changing stackfix.c, and commit what it writes.
#
#   stackfix            static PIE (ET_DYN, loaded at a random address)
#   stackfix-nopie      static non-PIE (ET_EXEC at 0x400000)
#   NAME.stack          the CW_EV_USTACK_RAW record NAME captured in leaf()
#   NAME.maps           NAME's /proc/self/maps at that moment
#
# Neither binary uses libc, so every frame of the captured stacks is in the binary itself.
#
# Usage: make-stackfix.sh [CC]   (default: $CC, else gcc)

set -eu

cd "$(dirname "$0")"
top=$(cd ../../.. && pwd)
cc=${1:-${CC:-gcc}}

# -fdebug-prefix-map: the DWARF names "./stackfix.c", not the path of this checkout.
flags="-O2 -g -gdwarf-5 -fomit-frame-pointer -fasynchronous-unwind-tables -ffreestanding
	-fno-builtin -fno-stack-protector -fcf-protection=none -nostdlib -Wl,--build-id=sha1
	-fdebug-prefix-map=$PWD=. -I$top/include -Wall -Wextra -Werror -Wno-unused-parameter"

# shellcheck disable=SC2086 # flags are words
$cc $flags -static-pie -o stackfix stackfix.c
# shellcheck disable=SC2086
$cc $flags -static -no-pie -o stackfix-nopie stackfix.c

for bin in stackfix stackfix-nopie; do
	"./$bin" "$bin.stack" "$bin.maps"
	echo "$bin: $(wc -c <"$bin") bytes, stack record $(wc -c <"$bin.stack") bytes"
done
