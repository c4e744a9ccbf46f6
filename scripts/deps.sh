#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install from Debian's archive exactly what building and testing concwatch needs.
# Idempotent: asks dpkg first and only calls apt when something is missing, so a
# second run costs a few dpkg queries.
#
# Usage: scripts/deps.sh [--check]   (--check: list what is missing, exit 1 if any)

set -eu

# build: BPF toolchain and userspace libraries
BUILD_PKGS="clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libdw-dev libcapstone-dev
libiberty-dev libncurses-dev pkg-config systemtap-sdt-dev make gcc"
# tests: harness header (linux-source), report tools, terminal driver for TUI tests, and
# glibc's debug symbols: the host's stacks name glibc's internals (start_thread...),
# the QEMU guests' do not, so the stack tests see both; strace, run under concwatch;
# redis-server and nodejs, real event loops (selftests/live/test_servers.c)
TEST_PKGS="linux-source-6.1 xz-utils tmux jq libc6-dbg golang-go graphviz memcached redis-server
nodejs libmemcached-tools strace"
# QEMU test bed and kernel module builds: Debian's 6.1 and 6.12 kernels with headers
VM_PKGS="linux-image-amd64 linux-headers-amd64 linux-image-6.12-amd64 linux-headers-6.12-amd64
qemu-system-x86 busybox-static cpio"

missing=""
for p in $BUILD_PKGS $TEST_PKGS $VM_PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "${1:-}" = "--check" ]; then
	echo "missing packages:$missing"
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: need root to install:$missing" >&2
	exit 3
fi

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# The kernel images pull in initramfs-tools and run its hooks; the guests boot our own
# initramfs, so the host's generated one is never used, but the hook is harmless.
apt-get update -qq || apt-get update
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
