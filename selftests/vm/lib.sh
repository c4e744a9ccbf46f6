# SPDX-License-Identifier: GPL-2.0
#
# TAP helpers for the guest's shell suites, in the format of kselftest.h: plan first,
# one result per test, totals last, exit 0 (pass), 1 (fail) or 4 (everything skipped).
# POSIX sh: sourced by busybox sh inside the QEMU guests.
#
#   ktap_plan N
#   ktap_run NAME FUNCTION [ARG...]   FUNCTION returns 0 pass, 4 skip, else fail; it may
#                                     print "# ..." lines, and sets KTAP_REASON for a skip
#   ktap_skip NAME REASON
#   ktap_finish                        prints the totals and exits

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

_ktap_n=0
_ktap_pass=0
_ktap_fail=0
_ktap_skip=0

ktap_plan()
{
	echo "TAP version 13"
	echo "1..$1"
}

ktap_skip()
{
	_ktap_n=$((_ktap_n + 1))
	_ktap_skip=$((_ktap_skip + 1))
	echo "ok $_ktap_n $1 # SKIP $2"
}

ktap_run()
{
	_name=$1
	shift
	KTAP_REASON=
	"$@"
	_rc=$?
	if [ "$_rc" -eq "$KSFT_SKIP" ]; then
		ktap_skip "$_name" "${KTAP_REASON:-no reason given}"
		return
	fi
	_ktap_n=$((_ktap_n + 1))
	if [ "$_rc" -eq 0 ]; then
		_ktap_pass=$((_ktap_pass + 1))
		echo "ok $_ktap_n $_name"
	else
		_ktap_fail=$((_ktap_fail + 1))
		echo "not ok $_ktap_n $_name"
	fi
}

ktap_finish()
{
	echo "# Totals: pass:$_ktap_pass fail:$_ktap_fail xfail:0 xpass:0 skip:$_ktap_skip error:0"
	if [ "$_ktap_fail" -gt 0 ]; then
		exit "$KSFT_FAIL"
	elif [ "$_ktap_pass" -eq 0 ] && [ "$_ktap_skip" -gt 0 ]; then
		exit "$KSFT_SKIP"
	fi
	exit "$KSFT_PASS"
}
