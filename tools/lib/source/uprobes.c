// SPDX-License-Identifier: GPL-2.0
/* Where a process has the lock functions: see uprobes.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"
#include "source/target.h"
#include "source/uprobes.h"

/* Which mapped objects may define the probed functions, in the dynamic linker's lookup order. */
static int object_rank(const struct cw_object *o)
{
	const char *base = strrchr(o->path, '/') ? strrchr(o->path, '/') + 1 : o->path;

	if (o->is_main)
		return 0; /* a static build */
	if (!strncmp(base, "libpthread", 10))
		return 1; /* glibc < 2.34 */
	if (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5))
		return 2;
	return -1;
}

int cw_uprobe_libs__open(struct cw_uprobe_libs *l, int pid, char *err, size_t errlen)
{
	int ret;

	memset(l, 0, sizeof(*l));
	l->pid = pid;
	ret = cw_target__objects(pid, &l->objs, &l->nr_objs);
	if (ret == -ESRCH) {
		snprintf(err, errlen, "no such process: %d", pid);
		return ret;
	}
	if (!ret)
		ret = cw_target__libs_to_come(pid, &l->objs, &l->nr_objs);
	if (ret) {
		snprintf(err, errlen, "failed to read the maps of %d: %s", pid, strerror(-ret));
		cw_uprobe_libs__close(l);
		return ret;
	}
	for (int rank = 0; rank <= 2; rank++) {
		for (size_t i = 0; i < l->nr_objs && l->nr < CW_UPROBE_MAX_LIBS; i++) {
			struct cw_uprobe_lib *c = &l->libs[l->nr];

			if (object_rank(&l->objs[i]) != rank)
				continue;
			ret = cw_elf__open(l->objs[i].host_path, &c->elf);
			if (ret) {
				snprintf(err, errlen, "failed to read %s: %s", l->objs[i].host_path,
					 strerror(-ret));
				cw_uprobe_libs__close(l);
				return ret;
			}
			c->obj = &l->objs[i];
			l->nr++;
		}
	}
	return 0;
}

void cw_uprobe_libs__close(struct cw_uprobe_libs *l)
{
	for (size_t k = 0; k < l->nr; k++)
		cw_elf__close(l->libs[k].elf);
	free(l->objs);
	l->objs = NULL;
	l->nr_objs = l->nr = 0;
}

const struct cw_uprobe_lib *cw_uprobe_libs__func(const struct cw_uprobe_libs *l,
						 const char *func, struct cw_elf_func *f)
{
	for (size_t k = 0; k < l->nr; k++)
		if (!cw_elf__func(l->libs[k].elf, func, f))
			return &l->libs[k];
	return NULL;
}

int cw_uprobe_libs__need(const struct cw_uprobe_libs *l, struct cw_source *src,
			 const char *func, int required, struct cw_elf_func *f,
			 const struct cw_uprobe_lib **lib)
{
	*lib = cw_uprobe_libs__func(l, func, f);
	if (*lib)
		return 0;
	if (required) {
		snprintf(src->err, sizeof(src->err), "process %d maps no libc, libpthread or "
			 "executable defining %s", l->pid, func);
		return -ENOENT;
	}
	cw_uprobes__not_probed(src, func, "not in the target's libc");
	return 0;
}

void cw_uprobes__not_probed(struct cw_source *src, const char *func, const char *why)
{
	size_t len = strlen(src->notes);
	char item[192];

	snprintf(item, sizeof(item), "%s (%s)", func, why);
	if (strstr(src->notes, item))
		return; /* another process of the same libc said it already */
	snprintf(src->notes + len, sizeof(src->notes) - len, "%s%s",
		 strstr(src->notes, "not probed: ") ? ", " :
		 len ? "; not probed: " : "not probed: ", item);
}

const char *cw_uprobes__strerror(int err)
{
	/* ENOTSUPP, which strerror() does not know: the kernel refused the instruction */
	if (err == 524)
		return "the kernel cannot place a uprobe on its instruction";
	return strerror(err);
}
