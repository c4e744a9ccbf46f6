#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kernel module inside a QEMU guest: rejects a bad parameter, loads, registers
# /dev/concwatch, logs its event ABI version, lets one reader in at a time, unloads.
# vmtest.sh packs the module built for the booted kernel as /cw/kmod/concwatch.ko.

# shellcheck disable=SC2317 # the test_* functions are called by name through ktap_run
# shellcheck source=selftests/vm/lib.sh
. "$(dirname "$0")/../vm/lib.sh"

KO=${CW_KMOD:-/cw/kmod/concwatch.ko}
DEV=/dev/concwatch

loaded()
{
	grep -q '^concwatch ' /proc/modules
}

# Probe the init error path first, while nothing is loaded: a ring that is not a
# power of two must fail the load and leave nothing behind.
test_bad_param()
{
	if insmod "$KO" ring_pages=3 2>/dev/null; then
		echo "# insmod ring_pages=3 succeeded"
		rmmod concwatch
		return 1
	fi
	! loaded && [ ! -e "$DEV" ]
}

test_insmod()
{
	insmod "$KO" && loaded
}

test_devnode()
{
	[ -c "$DEV" ] || { echo "# $DEV is not a character device"; return 1; }
	echo "# $(ls -l "$DEV")"
}

test_loaded_msg()
{
	if [ -z "$CW_ABI_VERSION" ]; then
		echo "# CW_ABI_VERSION not set (vmtest.sh writes it to /cw/vm.env)"
		return 1
	fi
	line=$(dmesg | grep 'concwatch: loaded')
	echo "# dmesg: $line"
	echo "$line" | grep -Eq "concwatch: loaded, ABI version $CW_ABI_VERSION([^0-9]|\$)"
}

# Records are consumed by reading, so a second reader would steal half of them.
test_exclusive_open()
{
	(
		exec 3<"$DEV"
		err=$( (: <"$DEV") 2>&1) && { echo "# a second open succeeded"; exit 1; }
		case $err in
		*"resource busy"*) ;;
		*) echo "# second open: $err (want EBUSY)"; exit 1 ;;
		esac
	) || return 1
	# The first reader has closed: the device must be free again.
	(: <"$DEV") || { echo "# reopen after close failed"; return 1; }
}

# The open device holds the module: rmmod must fail until it is closed.
test_rmmod_busy()
{
	(
		exec 3<"$DEV"
		if rmmod concwatch 2>/dev/null; then
			echo "# rmmod succeeded with $DEV open"
			exit 1
		fi
		loaded || { echo "# the module is gone"; exit 1; }
	) || return 1
	loaded
}

test_rmmod()
{
	rmmod concwatch || return 1
	! loaded && [ ! -e "$DEV" ] && dmesg | grep -q 'concwatch: unloaded'
}

# Load and unload 50 times: every init and exit path runs clean each time.
test_reload()
{
	i=0
	while [ $i -lt 50 ]; do
		insmod "$KO" || { echo "# insmod $i failed"; return 1; }
		[ -c "$DEV" ] || { echo "# no $DEV after insmod $i"; return 1; }
		rmmod concwatch || { echo "# rmmod $i failed"; return 1; }
		i=$((i + 1))
	done
	! loaded && [ ! -e "$DEV" ]
}

TESTS="bad_param insmod devnode loaded_msg exclusive_open rmmod_busy rmmod reload"

ktap_plan 8
if [ ! -f "$KO" ]; then
	for t in $TESTS; do
		ktap_skip "$t" "no concwatch.ko was built for $(uname -r)"
	done
	ktap_finish
fi
# busybox modinfo only knows modules under /lib/modules.
echo "# module: $KO, $(strings "$KO" | grep -m1 '^vermagic=')"
for t in $TESTS; do
	ktap_run "$t" "test_$t"
done
ktap_finish
