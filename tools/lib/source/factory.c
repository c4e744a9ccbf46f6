// SPDX-License-Identifier: GPL-2.0
/*
 * The one place that knows which backends exist: cw_source__open() makes a source of the
 * backend its options name. A new backend is an entry in the table below and an open
 * function that fills in a struct cw_source_ops (Documentation/design.md, "Adding a
 * backend").
 *
 * No backend named is bpf, or kmod where BPF cannot run at all (no BTF, bpf() refused by
 * a seccomp filter or not built in) and the module is loaded: the module needs neither,
 * and traces the same futex, scheduler and kernel-lock events. Only those reasons, which
 * cw_bpf_source__available() tells apart from a BPF source merely misconfigured: a bad
 * option is the user's to fix, not a reason to trace differently than asked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <concwatch/kmod.h>

#include "source/source.h"

static const struct backend {
	const char *name;
	int (*open)(const struct cw_source_opts *opts, struct cw_source **out, char *err,
		    size_t errlen);
	const char *why_not;	/* open is NULL: why the backend is not available */
} backends[] = {
	{ "bpf", cw_bpf_source__open },
	{ "procscan", cw_procscan_source__open },
	{ "kmod", cw_kmod_source__open },
	{ "preload", cw_preload_source__open },
};

/* No backend named: bpf, else kmod (see above). */
static int open_default(const struct cw_source_opts *opts, struct cw_source **out, char *err,
			size_t errlen)
{
	char why[128], kerr[256];
	int ret;

	ret = cw_bpf_source__open(opts, out, err, errlen);
	if (ret != -EOPNOTSUPP || access(CW_KMOD_DEVICE, F_OK) ||
	    !cw_bpf_source__available(why, sizeof(why)))
		return ret;
	ret = cw_kmod_source__open(opts, out, kerr, sizeof(kerr));
	if (ret) {
		snprintf(err, errlen, "BPF is not available here (%s), and the kernel module "
			 "cannot be used: %s", why, kerr);
		return ret;
	}
	snprintf((*out)->fallback, sizeof((*out)->fallback), "BPF is not available here (%s): "
		 "using the kernel module (%s)", why, CW_KMOD_DEVICE);
	return 0;
}

int cw_source__open(const struct cw_source_opts *opts, struct cw_source **out, char *err,
		    size_t errlen)
{
	const char *name = opts->backend;

	if (!name)
		return open_default(opts, out, err, errlen);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct backend *b = &backends[i];

		if (strcmp(b->name, name))
			continue;
		if (!b->open) {
			snprintf(err, errlen, "the %s backend is not available yet: %s (use "
				 "--backend bpf)", name, b->why_not);
			return -EOPNOTSUPP;
		}
		return b->open(opts, out, err, errlen);
	}
	snprintf(err, errlen, "unknown backend '%s': expected bpf, procscan, kmod or preload", name);
	return -EINVAL;
}
