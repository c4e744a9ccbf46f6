// SPDX-License-Identifier: GPL-2.0
/*
 * The one place that knows which backends exist: cw_source__open() makes a source of the
 * backend its options name. A new backend is an entry in the table below and an open
 * function that fills in a struct cw_source_ops (Documentation/design.md, "Adding a
 * backend").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "source/source.h"

static const struct backend {
	const char *name;
	int (*open)(const struct cw_source_opts *opts, struct cw_source **out, char *err,
		    size_t errlen);
	const char *why_not;	/* open is NULL: why the backend is not available */
} backends[] = {
	{ "bpf", cw_bpf_source__open },
	{ "procscan", cw_procscan_source__open },
	{ "kmod", NULL, "/dev/concwatch has no event source in this build" },
	{ "preload", NULL, "the in-process library is not part of this build" },
};

int cw_source__open(const struct cw_source_opts *opts, struct cw_source **out, char *err,
		    size_t errlen)
{
	const char *name = opts->backend ? opts->backend : "bpf";

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
