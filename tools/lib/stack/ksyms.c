// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel symbols from /proc/kallsyms. kallsyms has no sizes: a function is taken to end
 * where the next symbol of any kind starts, so data symbols are kept too and an address
 * that lands in one resolves to nothing rather than to the function before it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "stack.h"

struct ksym {
	__u64 addr;
	__u32 name;	/* offset in names */
	__u32 module;	/* offset in names of "mod", 0 for the kernel image */
	__u32 order;	/* position in the file: ties keep it */
	char type;
};

struct cw_ksyms {
	struct ksym *syms;
	size_t nr, cap;
	char *names;	/* NUL-separated; offset 0 is the empty string */
	size_t names_len, names_cap;
	__u32 last_module;	/* modules come in runs: reuse the previous one */
};

static int add_name(struct cw_ksyms *ks, const char *s, size_t len, __u32 *off)
{
	char *p = cw_grow(ks->names, &ks->names_cap, ks->names_len + len + 1, 1);

	if (!p)
		return -ENOMEM;
	ks->names = p;
	if (ks->names_len + len + 1 > UINT32_MAX)
		return -EOVERFLOW;
	memcpy(ks->names + ks->names_len, s, len);
	ks->names[ks->names_len + len] = '\0';
	*off = ks->names_len;
	ks->names_len += len + 1;
	return 0;
}

/* "ffffffff81000000 T _text" or "ffffffffc0a01000 t fn\t[mod]" */
static int parse_line(struct cw_ksyms *ks, char *line)
{
	char *p, *name, *mod;
	struct ksym *s;
	size_t nlen;
	int err;

	s = &ks->syms[ks->nr];
	s->addr = strtoull(line, &p, 16);
	if (p == line || *p != ' ' || !p[1] || p[2] != ' ')
		return 0;
	s->type = p[1];
	name = p + 3;
	nlen = strcspn(name, " \t\n");
	if (!nlen)
		return 0;
	mod = name + nlen;
	while (*mod == ' ' || *mod == '\t')
		mod++;
	err = add_name(ks, name, nlen, &s->name);
	if (err)
		return err;
	s->module = 0;
	if (*mod == '[') {
		size_t mlen = strcspn(mod + 1, "]");

		if (!ks->last_module || strncmp(ks->names + ks->last_module, mod + 1, mlen) ||
		    ks->names[ks->last_module + mlen]) {
			err = add_name(ks, mod + 1, mlen, &ks->last_module);
			if (err)
				return err;
		}
		s->module = ks->last_module;
	}
	s->order = ks->nr;
	ks->nr++;
	return 0;
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

int cw_ksyms__load_file(const char *path, struct cw_ksyms **out)
{
	struct cw_ksyms *ks = NULL;
	size_t linecap = 0;
	bool any_addr = false;
	char *line = NULL;
	__u32 empty;
	int err = 0;
	FILE *f;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ks = calloc(1, sizeof(*ks));
	if (!ks || add_name(ks, "", 0, &empty)) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (getline(&line, &linecap, f) > 0) {
		struct ksym *p = cw_grow(ks->syms, &ks->cap, ks->nr + 1, sizeof(*p));

		if (!p) {
			err = -ENOMEM;
			goto cleanup;
		}
		ks->syms = p;
		err = parse_line(ks, line);
		if (err)
			goto cleanup;
		if (ks->nr && ks->syms[ks->nr - 1].addr)
			any_addr = true;
	}
	if (ferror(f)) {
		err = -EIO;
		goto cleanup;
	}
	/* kptr_restrict shows every address as 0 to whoever may not see them */
	if (!any_addr) {
		err = ks->nr ? -EACCES : -ENOENT;
		goto cleanup;
	}
	qsort(ks->syms, ks->nr, sizeof(*ks->syms), cmp_ksym);
	*out = ks;
	ks = NULL;
cleanup:
	free(line);
	fclose(f);
	cw_ksyms__free(ks);
	return err;
}

int cw_ksyms__load(struct cw_ksyms **out)
{
	return cw_ksyms__load_file("/proc/kallsyms", out);
}

static bool is_text(char type)
{
	type = tolower((unsigned char)type);
	return type == 't' || type == 'w';
}

int cw_ksyms__resolve_module(const struct cw_ksyms *ks, __u64 addr, const char **name,
			     __u64 *offset, const char **module)
{
	size_t lo = 0, hi, first, best;

	if (!ks || !name || !offset)
		return -EINVAL;
	hi = ks->nr;
	/* the last symbol at or below addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	/* aliases share an address: the first global function, else the first function */
	first = lo - 1;
	while (first && ks->syms[first - 1].addr == ks->syms[lo - 1].addr)
		first--;
	best = SIZE_MAX;
	for (size_t i = first; i < lo; i++) {
		if (ks->syms[i].type == 'T') {
			best = i;
			break;
		}
		if (best == SIZE_MAX && is_text(ks->syms[i].type))
			best = i;
	}
	if (best == SIZE_MAX)
		return -ENOENT;
	*name = ks->names + ks->syms[best].name;
	*offset = addr - ks->syms[best].addr;
	if (module)
		*module = ks->syms[best].module ? ks->names + ks->syms[best].module : NULL;
	return 0;
}

int cw_ksyms__resolve(const struct cw_ksyms *ks, __u64 addr, const char **name, __u64 *offset)
{
	return cw_ksyms__resolve_module(ks, addr, name, offset, NULL);
}

void cw_ksyms__free(struct cw_ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->names);
	free(ks);
}
