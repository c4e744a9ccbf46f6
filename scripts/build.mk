# SPDX-License-Identifier: GPL-2.0
# Definitions shared by the top-level Makefile and the sub-makefiles.
# Every build output goes under $(O) (default: build/ at the top of the tree).

TOPDIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
.DEFAULT_GOAL := all
O ?= $(TOPDIR)/build
override O := $(abspath $(O))

# A relative O= given on the command line reaches sub-makes through MAKEFLAGS and would
# be resolved against their own directories: hand them the absolute one explicitly.
SUBMAKE = $(MAKE) O=$(O)

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(patsubst $(O)/%,%,$(2))";
MAKEFLAGS += --no-print-directory -s
endif

CC ?= gcc
CXX ?= g++
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

CW_VERSION := $(shell cat $(TOPDIR)/VERSION)

# Userspace: warnings are errors; the engine and tests are also built with sanitizers.
CW_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-D_GNU_SOURCE -DCW_VERSION='"$(CW_VERSION)"' \
	-I$(TOPDIR)/include -I$(TOPDIR)/tools/lib -I$(O)
SAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz
# Unwinding and symbolization: elfutils' libdw/libdwfl, libiberty's C++ demangler.
STACK_LIBS := $(shell $(PKG_CONFIG) --libs libdw 2>/dev/null || echo -ldw -lelf) -liberty
# The live dashboard (tools/tui/ only): ncurses with wide characters, for UTF-8 names.
NCURSES_CFLAGS := $(shell $(PKG_CONFIG) --cflags ncursesw 2>/dev/null)
NCURSES_LIBS := $(shell $(PKG_CONFIG) --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)
# Probe placement decodes instructions with capstone.
CAPSTONE_CFLAGS := $(shell $(PKG_CONFIG) --cflags capstone 2>/dev/null)
CAPSTONE_LIBS := $(shell $(PKG_CONFIG) --libs capstone 2>/dev/null || echo -lcapstone)

# The kselftest harness header comes from Debian's linux-source-6.1 tarball, extracted
# once into the build directory (never committed).
KSRC_TARBALL ?= /usr/src/linux-source-6.1.tar.xz
KSRC_DIR := $(O)/linux-source
HARNESS_H := $(KSRC_DIR)/tools/testing/selftests/kselftest_harness.h
CHECKPATCH := $(KSRC_DIR)/scripts/checkpatch.pl

$(HARNESS_H) $(CHECKPATCH):
	$(call msg,EXTRACT,$(KSRC_DIR) (from $(KSRC_TARBALL)))
	$(Q)$(TOPDIR)/scripts/ksrc.sh $(KSRC_DIR) $(KSRC_TARBALL)
