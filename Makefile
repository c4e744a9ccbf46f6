# SPDX-License-Identifier: GPL-2.0
#
# concwatch top-level Makefile.
#
#   make            build the BPF programs, the concwatch tool and the selftests
#   make check      install missing Debian packages, build, run every test (QEMU ones included)
#   make demo       build and run concwatch on the bundled example workload
#   make vmtest     run the live selftests inside QEMU on Debian's 6.1 and 6.12 kernels
#   make kmod       build the kernel module against KDIR
#   make install    install concwatch under $(DESTDIR)$(PREFIX)
#   make bench      build and run the benchmarks (bench/)
#   make clean      remove $(O)
#
# O=dir puts every output under dir (default build/); V=1 shows the commands.

include scripts/build.mk

PREFIX ?= /usr/local
DESTDIR ?=
export O V

.PHONY: all bpf tools selftests kmod check demo vmtest install bench clean deps

all: tools selftests

deps:
	$(Q)$(TOPDIR)/scripts/deps.sh

bpf:
	$(Q)$(SUBMAKE) -C bpf

tools: bpf
	$(Q)$(SUBMAKE) -C tools

selftests: tools
	$(Q)$(SUBMAKE) -C selftests

kmod:
	$(Q)$(SUBMAKE) -C kmod

check: deps
	$(Q)$(SUBMAKE) all
	$(Q)$(SUBMAKE) -C selftests run

vmtest: all
	$(Q)$(SUBMAKE) -C selftests vmtest

demo: deps
	$(Q)$(SUBMAKE) all
	$(Q)$(TOPDIR)/scripts/demo.sh $(O)

install: tools
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX)/sbin/concwatch)
	$(Q)install -D -m 0755 $(O)/concwatch $(DESTDIR)$(PREFIX)/sbin/concwatch
	$(Q)install -D -m 0755 $(O)/libconcwatch-preload.so \
		$(DESTDIR)$(PREFIX)/lib/concwatch/libconcwatch-preload.so
	$(Q)install -D -m 0644 Documentation/concwatch.8 $(DESTDIR)$(PREFIX)/share/man/man8/concwatch.8

bench:
	$(Q)if [ ! -f bench/Makefile ]; then \
		echo "make bench: bench/Makefile is missing" >&2; \
		exit 2; fi
	$(Q)$(SUBMAKE) -C bench

clean:
	$(call msg,CLEAN,$(O))
	$(Q)rm -rf $(O)
