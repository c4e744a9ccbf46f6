/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel-module source (kmod.c) without its device, for selftests/unit/
 * test_kmod_source.c: the same source reading its records from any descriptor that
 * reads like /dev/concwatch (a pipe written whole records at a time, non-blocking).
 * Everything the module is asked through ioctls is left out: such a source is never
 * started; drain, stop, stats and free work as on the device.
 */
#ifndef __CW_SOURCE_KMOD_H
#define __CW_SOURCE_KMOD_H

#include "source/source.h"

/* Bytes asked of each read(): whole records, so at least the longest one. */
#define CW_KMOD_READ_BYTES (256U << 10)

/* A kmod source on fd, which it owns from now on (also when this fails). 0 or -errno. */
int cw_kmod_source__open_fd(const struct cw_source_opts *opts, int fd, struct cw_source **out,
			    char *err, size_t errlen);

#endif /* __CW_SOURCE_KMOD_H */
