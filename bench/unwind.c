// SPDX-License-Identifier: GPL-2.0
/*
 * How fast the stack library turns captured stacks into frames, on the unit tests'
 * captured stack (selftests/unit/data/stackfix.stack: 7 frames, one inlined, 104 bytes
 * of stack; see stackfix.c there):
 *
 *   unwind      cw_unwinder__unwind(): CFI walk of the copy, then symbolization of every
 *               frame (resolved addresses are kept per unwinder: the steady state of a
 *               traced process)
 *   symbolize   cw_unwinder__symbolize() of the same return addresses (a frame-pointer
 *               stack), i.e. the unwind minus the CFI walk
 *   cold        a new unwinder per stack: open the ELF file, parse CFI, symbols and DWARF,
 *               unwind, free (the first stack of a process)
 *
 * Usage: unwind DATA_DIR [N]   (N stacks per measure, default 100000; cold runs N / 100)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <concwatch/events.h>

#include "common/time.h"
#include "stack/stack.h"

struct data {
	struct cw_ev_ustack_raw *rec;
	struct cw_module_info text;
	struct cw_regs regs;
	__u64 ips[CW_STACK_MAX_DEPTH];
	size_t nr_ips;
};

static double now(void)
{
	return cw_now_ns() / 1e9;
}

static int load(const char *dir, struct data *d)
{
	char path[4096], line[1024];
	unsigned long long start, end, pgoff, inode;
	struct cw_ev_ustack_raw hdr;
	char perms[8];
	int pos, err = -EINVAL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/stackfix.stack", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fread(&hdr, sizeof(hdr), 1, f) != 1 || hdr.hdr.type != CW_EV_USTACK_RAW)
		goto cleanup;
	d->rec = malloc(sizeof(hdr) + hdr.len);
	if (!d->rec) {
		err = -ENOMEM;
		goto cleanup;
	}
	*d->rec = hdr;
	if (fread(d->rec->data, 1, hdr.len, f) != hdr.len)
		goto cleanup;
	fclose(f);
	d->regs = (struct cw_regs){ .ip = hdr.ip, .sp = hdr.sp, .bp = hdr.bp };

	snprintf(path, sizeof(path), "%s/stackfix.maps", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		pos = -1;
		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %llu %n", &start, &end, perms, &pgoff,
			   &inode, &pos) < 5 || pos < 0 || perms[2] != 'x' || line[pos] != '/')
			continue;
		line[strcspn(line, "\n")] = '\0';
		d->text = (struct cw_module_info){ .start = start, .end = end, .pgoff = pgoff,
						   .inode = inode };
		snprintf(d->text.path, sizeof(d->text.path), "%s", line + pos);
		snprintf(d->text.open_path, sizeof(d->text.open_path), "%s/stackfix", dir);
		err = 0;
	}
cleanup:
	fclose(f);
	return err;
}

/* One stack the way the tool would: unwind (or symbolize), use, free. */
static int one(struct cw_unwinder *u, const struct data *d, bool symbolize_only, size_t *frames)
{
	struct cw_ustack s;
	int err;

	if (symbolize_only)
		err = cw_unwinder__symbolize(u, d->ips, d->nr_ips, &s);
	else
		err = cw_unwinder__unwind(u, &d->regs, d->rec->data, d->rec->len, &s);
	if (!err && s.end != CW_STACK_END_COMPLETE)
		err = -EPROTO;
	*frames = s.nr;
	cw_ustack__fini(&s);
	return err;
}

static int new_unwinder(const struct data *d, struct cw_unwinder **u)
{
	int err = cw_unwinder__new(NULL, u);

	if (!err)
		err = cw_unwinder__add_module(*u, &d->text);
	return err;
}

static void report(const char *what, long n, double secs, size_t frames)
{
	printf("%-10s %9.0f stacks/s  %8.0f ns/stack  %5.0f ns/frame  (%ld stacks of %zu frames)\n",
	       what, n / secs, secs * 1e9 / n, secs * 1e9 / n / frames, n, frames);
}

int main(int argc, char **argv)
{
	struct cw_unwinder *u = NULL;
	struct data d = {};
	struct cw_ustack s;
	size_t frames = 0;
	long n = 100000;
	double t;
	char *end;
	int err;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DATA_DIR [N]\n", argv[0]);
		return 2;
	}
	if (argc == 3) {
		errno = 0;
		n = strtol(argv[2], &end, 0);
		if (errno || *end || n < 100) {
			fprintf(stderr, "unwind: N must be a number >= 100: %s\n", argv[2]);
			return 2;
		}
	}
	err = load(argv[1], &d);
	if (err) {
		fprintf(stderr, "unwind: cannot read the captured stack in %s: %s\n", argv[1],
			strerror(-err));
		return 1;
	}
	err = new_unwinder(&d, &u);
	/* the first stack parses the module: not part of the steady state */
	if (!err)
		err = cw_unwinder__unwind(u, &d.regs, d.rec->data, d.rec->len, &s);
	if (err)
		goto cleanup;
	for (size_t i = 0; i < s.nr; i++)
		if (!s.frames[i].inlined && d.nr_ips < CW_STACK_MAX_DEPTH)
			d.ips[d.nr_ips++] = s.frames[i].addr;
	cw_ustack__fini(&s);

	t = now();
	for (long i = 0; !err && i < n; i++)
		err = one(u, &d, false, &frames);
	if (!err)
		report("unwind", n, now() - t, frames);

	t = now();
	for (long i = 0; !err && i < n; i++)
		err = one(u, &d, true, &frames);
	if (!err)
		report("symbolize", n, now() - t, frames);

	t = now();
	for (long i = 0; !err && i < n / 100; i++) {
		struct cw_unwinder *cold;

		err = new_unwinder(&d, &cold);
		if (!err)
			err = one(cold, &d, false, &frames);
		cw_unwinder__free(cold);
	}
	if (!err)
		report("cold", n / 100, now() - t, frames);
cleanup:
	if (err)
		fprintf(stderr, "unwind: unwinding the stack failed: %s\n", strerror(-err));
	cw_unwinder__free(u);
	free(d.rec);
	return err ? 1 : 0;
}
