// SPDX-License-Identifier: GPL-2.0
/*
 * Reading a whole hash map in batches (bpf_map_lookup_batch(), Linux 5.6): a few system
 * calls a read instead of a get-next-key and a lookup per entry. The statistics
 * (stats.c) and the threads' scheduling (threads.c) are read this way every drain.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "common/array.h"
#include "source/bpf/internal.h"

/* Twice the room (first_room to begin with). 0 or -ENOMEM. */
static int more_room(struct cw_bpf_batch *b)
{
	/* keys and vals share room: each is grown from it to n exactly (n >= 2 * room) */
	size_t n = b->room ? 2 * (size_t)b->room : b->first_room, kcap = b->room,
	       vcap = b->room;
	void *k, *v;

	if (n > UINT32_MAX)
		return -ENOMEM;
	k = cw_grow(b->keys, &kcap, n, b->key_size);
	if (!k)
		return -ENOMEM;
	b->keys = k;
	v = cw_grow(b->vals, &vcap, n, b->val_size);
	if (!v)
		return -ENOMEM;
	b->vals = v;
	b->room = n;
	return 0;
}

int cw_bpf__map_each(struct bpf_source *s, int fd, struct cw_bpf_batch *b, const char *what,
		     cw_bpf_entry_fn fn, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int end = 0, first = 1, err = 0;
	__u32 in = 0, out = 0;

	if (!b->room && more_room(b))
		return -ENOMEM;
	while (!end && !err) {
		__u32 n = b->room;

		/* a hash map's batch position is a bucket: the first call starts at none */
		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &out, b->keys, b->vals, &n,
					 &opts)) {
			err = -errno;
			if (err == -ENOENT) {
				end = 1; /* the last batch, perhaps with entries */
				err = 0;
			} else if (err == -ENOSPC && !n) {
				/* a bucket holds more entries than room: read it again, with more */
				err = more_room(b);
				continue;
			} else {
				cw_bpf__set_err(s, "failed to read the %s: %s", what, strerror(-err));
				return err;
			}
		}
		first = 0;
		for (__u32 i = 0; i < n && !err; i++)
			err = fn(s, (char *)b->keys + i * b->key_size,
				 (char *)b->vals + i * b->val_size, ctx);
		in = out;
	}
	return err;
}

void cw_bpf__batch_fini(struct cw_bpf_batch *b)
{
	free(b->keys);
	free(b->vals);
	b->keys = b->vals = NULL;
	b->room = 0;
}
