#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Extract the few files concwatch uses from Debian's linux-source-6.1 tarball (the
# kselftest harness headers, checkpatch and its data, the kernel's .clang-format) into
# DEST, in one pass over the tarball (~10 s), once: a stamp file marks it done.
#
# Usage: scripts/ksrc.sh DEST [TARBALL]

set -eu
dest=$1
tarball=${2:-/usr/src/linux-source-6.1.tar.xz}
stamp=$dest/.extracted

[ -f "$stamp" ] && exit 0
if [ ! -r "$tarball" ]; then
	echo "ksrc.sh: $tarball missing: run scripts/deps.sh (Debian package linux-source-6.1)" >&2
	exit 1
fi
top=$(basename "$tarball" .tar.xz)
mkdir -p "$dest"
tar -xJf "$tarball" -C "$dest" --strip-components=1 \
	"$top/tools/testing/selftests/kselftest_harness.h" \
	"$top/tools/testing/selftests/kselftest.h" \
	"$top/scripts/checkpatch.pl" \
	"$top/scripts/spelling.txt" \
	"$top/scripts/const_structs.checkpatch" \
	"$top/.clang-format"
touch "$stamp"
