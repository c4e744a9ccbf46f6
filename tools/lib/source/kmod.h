/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel-module source (kmod.c) without its device, for selftests/unit/
 * test_kmod_source.c: the same source reading its records from any descriptor that
 * reads like /dev/concwatch (a pipe written whole records at a time, non-blocking).
 * Everything the module is asked through ioctls is left out: such a source is never
 * started and places no probes; drain, stop, stats and free work as on the device.
 */
#ifndef __CW_SOURCE_KMOD_H
#define __CW_SOURCE_KMOD_H

#include <linux/types.h>

#include "source/source.h"

struct cw_probe_info;

/* Bytes asked of each read(): whole records, so at least the longest one. */
#define CW_KMOD_READ_BYTES (256U << 10)

/* A kmod source on fd, which it owns from now on (also when this fails). 0 or -errno. */
int cw_kmod_source__open_fd(const struct cw_source_opts *opts, int fd, struct cw_source **out,
			    char *err, size_t errlen);

/*
 * What the module's handler does at function p of the probe table (probes.h): the shape
 * of the BPF program p->prog into *shape (CW_KMOD_P_*), CW_KMOD_P_RET into *flags when p
 * has a return probe. 0, or -ENOENT for a function the module does not probe (free(),
 * of --track-free).
 */
int cw_kmod_probe_shape(const struct cw_probe_info *p, __u32 *shape, __u32 *flags);

#endif /* __CW_SOURCE_KMOD_H */
