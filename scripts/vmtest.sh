#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the guest test suites in QEMU on every installed Debian kernel (6.1 and 6.12).
#
# Usage: scripts/vmtest.sh [BUILD_DIR]   (default: $O, else build/ at the top of the tree)
#
# Packs BUILD_DIR/concwatch, BUILD_DIR/selftests/{live,workloads}/, selftests/run.sh,
# selftests/vm/, selftests/kmod/ and busybox into an initramfs together with every shared library those
# binaries load, the host's libc and dynamic loader included: dynamic workloads must
# reach the tracer's libc uprobes exactly as they do on the host. Each kernel gets the
# module built for it (make -C kmod all-kernels) appended as a second cpio archive.
#
# The kernels boot one after the other (TCG is slow and the build machine has 2
# CPUs), each under a host-side timeout. The guest's results come out as one TAP
# stream, "ok N <kernelrelease>: <suite>.<test>", so selftests/run.sh counts every
# guest test; everything else the guests print becomes "# " comments. The plan comes
# last, once the number of guest tests is known.
#
# Exit status: 0 nothing failed, 1 something failed, 4 everything was skipped (no
# QEMU, no kernel).
#
# Under CI=true (.ci/run sets it) a skip of the bed or of a whole guest suite is a failure:
# CI installs everything, so what a developer's machine may lack must not pass unseen there.
# Single tests a guest suite skips by design stay skips.
#
# Environment:
#   CI              true: skipping the bed, a host step or a guest suite fails
#   CW_VM_KERNELS   vmlinuz files to boot (default /boot/vmlinuz-6.1.*-amd64 and
#                   /boot/vmlinuz-6.12.*-amd64)
#   CW_VM_TIMEOUT   seconds one guest may run, boot included (default 2300: two guests and
#                   the host suites stay within CI's 90 minutes)
#   CW_VM_APPEND    extra kernel command line
#   CW_TEST_SCALE   divisor for the live tests' iteration counts (default 20)
#   QEMU            the QEMU binary (default qemu-system-x86_64)

set -u -o pipefail
shopt -s nullglob lastpipe extglob

KSFT_SKIP=4
TOPDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${CW_VM_TIMEOUT:-2300}
BUSYBOX=/bin/busybox

if [ $# -gt 1 ]; then
	echo "usage: $0 [BUILD_DIR]" >&2
	exit 2
fi
BUILD=$(realpath -m "${1:-${O:-$TOPDIR/build}}")
VM=$BUILD/vm

n=0
npass=0
nfail=0
nskip=0

comment()
{
	sed -u 's/^/# /'
}

ci=0
[ "${CI:-}" = true ] && ci=1

# result ok|fail|skip NAME [REASON]
result()
{
	n=$((n + 1))
	if [ "$1" = skip ] && [ $ci -eq 1 ]; then
		set -- fail "$2" "CI=true: $3"
	fi
	case $1 in
	ok)
		npass=$((npass + 1))
		echo "ok $n $2"
		;;
	skip)
		nskip=$((nskip + 1))
		echo "ok $n $2 # SKIP $3"
		;;
	*)
		nfail=$((nfail + 1))
		echo "not ok $n $2${3:+ ($3)}"
		;;
	esac
}

skip_all()
{
	echo "TAP version 13"
	echo "1..1"
	if [ $ci -eq 1 ]; then
		echo "not ok 1 vmtest (CI=true: $1)"
		exit 1
	fi
	echo "ok 1 vmtest # SKIP $1"
	exit $KSFT_SKIP
}

command -v "$QEMU" >/dev/null || skip_all "$QEMU not installed (scripts/deps.sh installs it)"
[ -x "$BUSYBOX" ] || skip_all "no $BUSYBOX (busybox-static)"
command -v cpio >/dev/null || skip_all "cpio not installed"

if [ -n "${CW_VM_KERNELS:-}" ]; then
	read -r -a kernels <<<"$CW_VM_KERNELS"
else
	kernels=(/boot/vmlinuz-6.1.*-amd64 /boot/vmlinuz-6.12.*-amd64)
fi
[ ${#kernels[@]} -gt 0 ] || skip_all "no /boot/vmlinuz-6.1.*-amd64 or 6.12.*-amd64 installed"

echo "TAP version 13"

# --- the kernel module, one per installed headers directory -------------------------

if ls -d /usr/src/linux-headers-*-amd64 >/dev/null 2>&1; then
	if make -C "$TOPDIR/kmod" O="$BUILD" all-kernels 2>&1 | comment; then
		result ok "host: kmod.build"
	else
		result fail "host: kmod.build" "make -C kmod all-kernels failed"
	fi
else
	result skip "host: kmod.build" "no /usr/src/linux-headers-*-amd64 installed"
fi

# --- the initramfs shared by all kernels ----------------------------------------------

ROOT=$VM/root
pack_errors=()

# Copy a host file to the same path in the guest, recreating each symlink on the way
# so the guest sees the host's names (ld.so looks libraries up by them, and uprobes
# are attached by path).
stage()
{
	local p=$1 t dst hops

	for ((hops = 0; hops < 16; hops++)); do
		dst=$ROOT$p
		# Never write through what is already there: a staged symlink may point at
		# an absolute path, i.e. out of $ROOT into the host.
		if [ -e "$dst" ] || [ -L "$dst" ]; then
			return 0
		fi
		mkdir -p "${dst%/*}"
		if [ ! -L "$p" ]; then
			cp "$p" "$dst" || pack_errors+=("cannot copy $p")
			return 0
		fi
		t=$(readlink "$p")
		ln -s "$t" "$dst"
		case $t in
		/*) p=$t ;;
		*) p=$(realpath -ms "${p%/*}/$t") ;;
		esac
	done
	pack_errors+=("symlink loop at $1")
}

is_elf()
{
	[ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]
}

# Every library the ELF files load (ldd follows the dependencies of dependencies).
stage_libs()
{
	local f line lib

	for f in "$@"; do
		is_elf "$f" || continue
		ldd "$f" 2>/dev/null | while read -r line; do
			case $line in
			*"=> not found"*)
				pack_errors+=("$f needs ${line%% *}, which the host does not have")
				;;
			*"=> /"*)
				lib=${line#*=> }
				stage "${lib%% (*}"
				;;
			/*)
				stage "${line%% (*}"
				;;
			esac
		done
	done
}

# pack DIR OUT: a gzip'ed newc cpio of DIR with root ownership.
pack()
{
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -n >"$2"
}

rm -rf "$VM"
mkdir -p "$ROOT"/{proc,sys,dev,tmp,root,etc,cw/bin,cw/kmod,cw/selftests/vm,cw/selftests/kmod}
# getpwuid(0) and friends answer "root" as on the host.
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOT/etc/passwd"
echo 'root:x:0:' >"$ROOT/etc/group"

# Debian's merged /usr: /lib, /lib64, /bin and /sbin are symlinks into /usr. The same
# layout in the guest keeps library paths and their realpaths identical to the host's.
# Relative links, so that staging through them stays inside $ROOT.
for d in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$d" ]; then
		t=$(readlink "/$d")
		ln -s "${t#/}" "$ROOT/$d"
		mkdir -p "$ROOT/${t#/}"
	fi
done
mkdir -p "$ROOT/bin" "$ROOT/sbin" "$ROOT/usr/bin" "$ROOT/usr/sbin"
cp "$BUSYBOX" "$ROOT/bin/busybox"

install -m 0755 "$TOPDIR/selftests/vm/init" "$ROOT/init"
install -m 0755 "$TOPDIR/selftests/run.sh" "$ROOT/cw/run.sh"
install -m 0644 "$TOPDIR/selftests/vm/lib.sh" "$ROOT/cw/selftests/vm/lib.sh"
install -m 0755 "$TOPDIR"/selftests/vm/test_*.sh "$ROOT/cw/selftests/vm/"
install -m 0755 "$TOPDIR"/selftests/kmod/test_*.sh "$ROOT/cw/selftests/kmod/"

abi=$(sed -n 's/^#define CW_ABI_VERSION[[:space:]]*\([0-9]*\).*/\1/p' \
	"$TOPDIR/include/concwatch/events.h")
{
	echo "CW_ABI_VERSION=$abi"
	echo "CW_TEST_SCALE=${CW_TEST_SCALE:-20}"
} >"$ROOT/cw/vm.env"

elves=()
if [ -x "$BUILD/concwatch" ]; then
	install -m 0755 "$BUILD/concwatch" "$ROOT/cw/concwatch"
	elves+=("$BUILD/concwatch")
	# the in-process library, beside it as in the build tree
	if [ -f "$BUILD/libconcwatch-preload.so" ]; then
		install -m 0755 "$BUILD/libconcwatch-preload.so" "$ROOT/cw/"
		elves+=("$BUILD/libconcwatch-preload.so")
	fi
else
	echo "# no $BUILD/concwatch: the guest has no tracer"
fi

# Live suites that stay on the host: test_tui drives the dashboard through tmux, which
# the guest does not have (nor a pty, nor terminfo), and it tests userspace drawing on
# the engine every guest suite already exercises; test_servers runs Debian's redis-server
# and node, which the initramfs does not carry (their BPF side is test_evloop's, which
# the guests run). Under CI=true a suite the guest skips whole is a failure, so they are
# not packed at all (the host runs them in make check).
host_only=" test_tui test_servers "

# The module's device suites (selftests/kmod/test_*.c), next to test_kmod.sh.
while IFS= read -r -d '' f; do
	install -m 0755 "$f" "$ROOT/cw/selftests/kmod/"
	elves+=("$f")
done < <(find "$BUILD/selftests/kmod" -maxdepth 1 -type f -perm -u+x -name 'test_*' -print0 \
	2>/dev/null)

nlive=0
for sub in live workloads; do
	[ -d "$BUILD/selftests/$sub" ] || continue
	while IFS= read -r -d '' f; do
		[ "$sub" = live ] && [[ $host_only == *" ${f##*/} "* ]] && continue
		rel=${f#"$BUILD"/}
		install -D -m 0755 "$f" "$ROOT/cw/$rel"
		elves+=("$f")
		[ "$sub" = live ] && nlive=$((nlive + 1))
	done < <(find "$BUILD/selftests/$sub" -type f -perm -u+x -print0)
done

# Host tools the guest tests run from PATH (/cw/bin): bpftool lets test_env.sh check
# that bpf(2) really loads programs; jq reads concwatch's JSON reports in test_cli.
for tool in bpftool jq; do
	if path=$(command -v "$tool"); then
		cp "$(realpath "$path")" "$ROOT/cw/bin/$tool"
		elves+=("$ROOT/cw/bin/$tool")
	fi
done

# strace runs under concwatch run in test_run_ptrace, from where the host has it.
if [ -x /usr/bin/strace ]; then
	install -D -m 0755 /usr/bin/strace "$ROOT/usr/bin/strace"
	elves+=("$ROOT/usr/bin/strace")
fi

stage_libs "${elves[@]}"
# glibc dlopen()s libgcc_s to unwind for pthread_cancel() and pthread_exit().
gcc_s=$(ldconfig -p | sed -n 's/^[[:space:]]*libgcc_s\.so\.1 (libc6,x86-64) => //p' | head -n 1)
[ -n "$gcc_s" ] && stage "$gcc_s"

if [ ${#pack_errors[@]} -eq 0 ] && pack "$ROOT" "$VM/base.cpio.gz"; then
	echo "# initramfs: $(du -sh "$ROOT" | cut -f1) unpacked," \
		"$(du -h "$VM/base.cpio.gz" | cut -f1) packed; ${#elves[@]} ELF files," \
		"$(find "$ROOT" -name '*.so*' | wc -l) libraries"
	result ok "host: vm.initramfs"
else
	printf '%s\n' "${pack_errors[@]}" | comment
	result fail "host: vm.initramfs" "cannot pack the guest's files"
	echo "1..$n"
	exit 1
fi
[ "$nlive" -gt 0 ] || result skip "host: vm.live" "no tests in $BUILD/selftests/live"

# --- the guests -----------------------------------------------------------------------

# Cut one guest's console output into results. Sets: began, ended, end_rc, t_begin,
# guest_boot, guest_end, suite_fail, and running (the suite without a verdict yet).
parse_console()
{
	local rel=$1 line suite="" why="" failed_in_suite=0 m

	began=0
	ended=0
	end_rc=""
	guest_boot=""
	guest_end=""
	suite_fail=0
	running=""
	while IFS= read -r line; do
		line=${line%$'\r'}
		# SeaBIOS and the kernel reset the terminal with escape sequences.
		line=${line//$'\e'[\[?0-9;]*([\[?0-9;])[a-zA-Z]/}
		line=${line//$'\e'c/}
		if [ $began -eq 0 ]; then
			if [[ $line =~ CW-VMTEST-BEGIN\ ([^ ]*)\ uptime=([0-9.]*) ]]; then
				began=1
				t_begin=$EPOCHREALTIME
				guest_boot=${BASH_REMATCH[2]}
				[ "${BASH_REMATCH[1]}" = "$rel" ] ||
					echo "# guest says it runs ${BASH_REMATCH[1]}, not $rel"
				result ok "$rel: vm.boot"
			else
				echo "# $line"
			fi
			continue
		fi
		if [ $ended -eq 1 ]; then
			echo "# $line"
			continue
		fi
		if [[ $line =~ CW-VMTEST-END\ rc=([0-9]*)\ uptime=([0-9.]*) ]]; then
			ended=1
			end_rc=${BASH_REMATCH[1]}
			guest_end=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ suite:\ (.*)$ ]]; then
			suite=${BASH_REMATCH[1]%.sh}
			running=$suite
			why=""
			failed_in_suite=0
			echo "# $line"
		elif [[ $line =~ ^\ \ (not\ )?ok\ [0-9]+\ (.*)$ ]]; then
			# One result of a suite: run.sh indents a suite's output by two spaces.
			m=${BASH_REMATCH[2]}
			case $m in
			"# "*) m="$suite $m" ;;
			*) m="$suite.$m" ;;
			esac
			if [ -n "${BASH_REMATCH[1]}" ]; then
				n=$((n + 1))
				nfail=$((nfail + 1))
				suite_fail=$((suite_fail + 1))
				failed_in_suite=1
				echo "not ok $n $rel: $m"
			else
				n=$((n + 1))
				case $m in
				*"# SKIP"*) nskip=$((nskip + 1)) ;;
				*) npass=$((npass + 1)) ;;
				esac
				echo "ok $n $rel: $m"
			fi
		elif [[ $line =~ ^(not\ )?ok\ [0-9]+\ (.*)$ ]]; then
			# run.sh's verdict on a whole suite. It also fails a suite that crashed,
			# or reported fewer results than it planned: count that once.
			running=""
			if [ -n "${BASH_REMATCH[1]}" ] && [ $failed_in_suite -eq 0 ]; then
				suite_fail=$((suite_fail + 1))
				result fail "$rel: ${suite:-${BASH_REMATCH[2]}}" "${why:-run.sh failed it}"
			elif [ $ci -eq 1 ] && [[ ${BASH_REMATCH[2]} == *"# SKIP"* ]]; then
				# its tests were counted as skips above: the suite fails once more
				suite_fail=$((suite_fail + 1))
				result fail "$rel: ${suite:-${BASH_REMATCH[2]%% *}}" \
					"CI=true: the whole suite skipped"
			fi
		else
			if [[ $line =~ ^\ \ #\ [^\ ]+\ (exited\ with|planned|printed\ no)\ (.*)$ ]]; then
				why="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
			fi
			echo "# $line"
		fi
	done
}

# seconds FROM TO: elapsed time between two $EPOCHREALTIME values, one decimal.
seconds()
{
	local us=$((10#${2/./} - 10#${1/./}))

	printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

declare -A times
order=()
for k in "${kernels[@]}"; do
	rel=${k##*/vmlinuz-}
	if [ ! -r "$k" ]; then
		result skip "$rel: vm.boot" "cannot read $k (Debian makes it root-only)"
		continue
	fi

	initrd=$VM/initrd-$rel.img
	cp "$VM/base.cpio.gz" "$initrd"
	ko=$BUILD/kmod/$rel/concwatch.ko
	if [ -f "$ko" ]; then
		mkdir -p "$VM/kmod-$rel/cw/kmod"
		cp "$ko" "$VM/kmod-$rel/cw/kmod/concwatch.ko"
		# The kernel unpacks concatenated archives in order: this one adds the module.
		pack "$VM/kmod-$rel" "$VM/kmod-$rel.cpio.gz" &&
			cat "$VM/kmod-$rel.cpio.gz" >>"$initrd" ||
			echo "# cannot add $ko to the initramfs: test_kmod will skip"
	fi

	# One host thread for both guest CPUs. Multi-threaded TCG raced with the kernel
	# patching its own text while uprobes attach: a 6.12 guest oopsed on an int3 in
	# syscall_exit_to_user_mode_prepare, a 6.1 guest once locked up both CPUs (soft
	# lockups in concwatch and its test). See testing-vm.md.
	accel=tcg,thread=single

	log=$VM/console-$rel.log
	echo "# booting $rel (timeout ${TIMEOUT} s, console log in $log)"
	t_start=$EPOCHREALTIME
	t_begin=""
	# --foreground: Ctrl-C reaches QEMU too, instead of leaving it running alone.
	timeout --foreground -k 10 "$TIMEOUT" \
		"$QEMU" -accel "$accel" -cpu max -smp 2 -m 1024 -nographic -no-reboot -nic none \
		-kernel "$k" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 softlockup_panic=1 quiet ${CW_VM_APPEND:-}" \
		</dev/null 2>&1 | tee "$log" | parse_console "$rel"
	qrc=${PIPESTATUS[0]}
	t_stop=$EPOCHREALTIME

	if [ -n "$t_begin" ]; then
		times[$rel]="boot $(seconds "$t_start" "$t_begin") s (guest uptime $guest_boot s)"
	else
		times[$rel]="did not boot"
	fi
	times[$rel]+=", total $(seconds "$t_start" "$t_stop") s"
	[ -n "$guest_end" ] && times[$rel]+=" (guest uptime at the end $guest_end s)"
	order+=("$rel")
	echo "# $rel: ${times[$rel]}"

	if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
		why="timed out after $TIMEOUT s"
	elif grep -q 'Kernel panic' "$log"; then
		why=$(grep -m1 -o 'Kernel panic.*' "$log" | tr -d '\r')
	elif [ "$qrc" -ne 0 ]; then
		why="$QEMU exited with status $qrc"
	else
		why="guest powered off early"
	fi
	if [ "$began" -eq 0 ]; then
		result fail "$rel: vm.boot" "never reached /init: $why"
	elif [ "$ended" -eq 0 ]; then
		result fail "$rel: vm.finish" "stopped ${running:+in $running }before the end: $why"
	elif [ "$end_rc" -ne 0 ] && [ "$suite_fail" -eq 0 ]; then
		result fail "$rel: vm.finish" "guest run.sh exited with $end_rc but no test failed"
	elif [ "$qrc" -ne 0 ]; then
		result fail "$rel: vm.finish" "did not power off: $why"
	else
		result ok "$rel: vm.finish"
	fi
done

echo "1..$n"
for rel in "${order[@]}"; do
	echo "# $rel: ${times[$rel]}"
done
echo "# $npass passed, $nfail failed, $nskip skipped"
if [ "$nfail" -gt 0 ]; then
	exit 1
elif [ "$npass" -eq 0 ]; then
	exit $KSFT_SKIP
fi
exit 0
