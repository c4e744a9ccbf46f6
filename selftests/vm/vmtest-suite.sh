#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The QEMU test bed as one suite of `make check`: run.sh runs suites without arguments,
# so the build directory comes from $O. vmtest.sh prints the TAP and skips (exit 4)
# where QEMU or the kernels are missing; under CI=true (.ci/run) such a skip fails.
top=$(cd "$(dirname "$0")/../.." && pwd)
exec "$top/scripts/vmtest.sh" "${O:-$top/build}"
