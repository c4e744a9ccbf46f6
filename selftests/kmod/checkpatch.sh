#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel module's sources pass the kernel's checkpatch.pl, as the house style asks. TAP, one test.
top=$(cd "$(dirname "$0")/../.." && pwd)
echo "TAP version 13"
echo "1..1"
if out=$(make -C "$top/kmod" O="${O:-$top/build}" checkpatch 2>&1); then
	echo "$out" | sed 's/^/# /'
	echo "ok 1 kmod.checkpatch"
else
	echo "$out" | sed 's/^/# /'
	echo "not ok 1 kmod.checkpatch"
	exit 1
fi
