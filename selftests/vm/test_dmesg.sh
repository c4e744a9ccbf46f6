#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs last in the guest: the kernel must not have oopsed, warned or reported a
# sanitizer or lockdep problem while the other suites traced and loaded modules.

# shellcheck disable=SC2317 # the test_* functions are called by name through ktap_run
# shellcheck source=selftests/vm/lib.sh
. "$(dirname "$0")/lib.sh"

BAD='BUG:|WARNING:|Oops|general protection fault|Kernel panic|UBSAN:|KASAN:|possible circular locking|INFO: task .* blocked'

test_clean()
{
	bad=$(dmesg | grep -E "$BAD")
	[ -z "$bad" ] && return 0
	echo "# the kernel complained:"
	echo "$bad" | sed 's/^/#   /'
	return 1
}

ktap_plan 1
ktap_run kernel_log_clean test_clean
ktap_finish
