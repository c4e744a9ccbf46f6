// SPDX-License-Identifier: GPL-2.0
/*
 * The samples of the folded and pprof exports, from the engine's contention model: one
 * per (object, waiting call path), frames and objects named as the text report names
 * them. A stack is resolved once however many objects it waited on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "report/export.h"
#include "report/symbols.h"

#define NAME_LEN 256

struct resolved {
	__u32 pid;
	__u16 space;
	__u64 id;
	struct cw_ustack *stack;	/* NULL: the stream never sent it */
};

/* What the samples point to. */
struct cw_xstore {
	struct resolved *stacks;
	size_t nr_stacks, cap_stacks;
	char **names;
	size_t nr_names, cap_names;
};

static const char *keep_name(struct cw_xstore *st, const char *name)
{
	char **v = cw_grow(st->names, &st->cap_names, st->nr_names + 1, sizeof(*v));

	if (!v)
		return NULL;
	st->names = v;
	v[st->nr_names] = strdup(name);
	return v[st->nr_names] ? v[st->nr_names++] : NULL;
}

/* Frames with no function get "module+0xOFFSET", the offset in the file, as reports do. */
static int name_unknown_frames(struct cw_symbols *sym, __u32 pid, struct cw_ustack *s)
{
	char buf[NAME_LEN];

	for (size_t i = 0; i < s->nr; i++) {
		struct cw_frame *f = &s->frames[i];

		/* no module mapped there: cw_xframe__name() says 0xADDR */
		if (f->func || cw_symbols__module_offset(sym, pid, f->addr, buf, sizeof(buf)))
			continue;
		f->func = strdup(buf);
		if (!f->func)
			return -ENOMEM;
	}
	return 0;
}

static int resolve(const struct cw_engine *eng, struct cw_symbols *sym, struct cw_xstore *st,
		   __u32 pid, __u16 space, __u64 id, const struct cw_ustack **out)
{
	const struct cw_stack *cs;
	struct resolved *r;
	int err;

	*out = NULL;
	if (!id)
		return 0;
	for (size_t i = 0; i < st->nr_stacks; i++) {
		r = &st->stacks[i];
		if (r->pid == pid && r->space == space && r->id == id) {
			*out = r->stack;
			return 0;
		}
	}
	r = cw_grow(st->stacks, &st->cap_stacks, st->nr_stacks + 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	st->stacks = r;
	r = &st->stacks[st->nr_stacks++];
	*r = (struct resolved){ .pid = pid, .space = space, .id = id };
	cs = cw_engine__find_stack(eng, pid, space, id);
	if (!cs)
		return 0;
	r->stack = calloc(1, sizeof(*r->stack));
	if (!r->stack)
		return -ENOMEM;
	err = cw_symbols__resolve(sym, cs, r->stack);
	if (!err && space == CW_STACK_USER)
		err = name_unknown_frames(sym, pid, r->stack);
	/* a stack that cannot be named at all is left out, as unknown; memory is an error */
	if (err == -ENOMEM)
		return err;
	*out = r->stack;
	return 0;
}

static int add_object(const struct cw_engine *eng, struct cw_symbols *sym, struct cw_xprofile *p,
		      const struct cw_hot_object *o)
{
	struct cw_xstore *st = p->store;
	size_t nr = o->nr_waiters ? o->nr_waiters : 1;
	char name[NAME_LEN];
	const char *lock;
	int err;

	if (!o->wait_ns_total && !o->contentions)
		return 0;
	if (o->kind == CW_LOCK_KERNEL)
		cw_symbols__klock_name(sym, o->addr, !!(o->flags & CW_SITE_F_MMAP_LOCK), name,
				       sizeof(name));
	else
		cw_symbols__object_name(sym, o->pid, o->addr, o->kind, o->first_ip, name,
					sizeof(name));
	lock = keep_name(st, name);
	if (!lock)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		struct cw_xsample *s = cw_grow(p->samples, &p->cap, p->nr + 1, sizeof(*s));
		const struct cw_hot_path *w = o->nr_waiters ? &o->waiters[i] : NULL;

		if (!s)
			return -ENOMEM;
		p->samples = s;
		s = &p->samples[p->nr];
		*s = (struct cw_xsample){
			.pid = o->pid,
			.kind = o->kind,
			.lock_type = o->kind == CW_LOCK_KERNEL ? cw_klock_type__name(o->klock_flags) :
								 NULL,
			.addr = o->addr,
			.lock = lock,
			/* no call path known: the object's own figures, on no stack */
			.count = w ? w->count : o->contentions,
			.wait_ns = w ? w->wait_ns_total : o->wait_ns_total,
		};
		if (w) {
			err = resolve(eng, sym, st, o->pid, w->space, w->stack_id, &s->stack);
			if (err)
				return err;
		}
		if (s->count || s->wait_ns)
			p->nr++;
	}
	return 0;
}

int cw_xprofile__new(const struct cw_engine *eng, struct cw_symbols *sym,
		     const struct cw_contention_opts *opts, struct cw_xprofile **out)
{
	struct cw_contention *c = NULL;
	struct cw_xprofile *p;
	int err;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->store = calloc(1, sizeof(*p->store)))) {
		free(p);
		return -ENOMEM;
	}
	p->eng = eng;
	p->duration_ns = cw_engine__now(eng) - cw_engine__first_ts(eng);
	err = cw_contention__new(eng, opts, &c);
	for (size_t i = 0; !err && i < cw_contention__nr_objects(c); i++)
		err = add_object(eng, sym, p, cw_contention__object(c, i));
	for (size_t i = 0; !err && i < cw_contention__nr_klocks(c); i++)
		err = add_object(eng, sym, p, cw_contention__klock(c, i));
	cw_contention__free(c);
	if (err) {
		cw_xprofile__free(p);
		return err;
	}
	*out = p;
	return 0;
}

void cw_xprofile__free(struct cw_xprofile *p)
{
	struct cw_xstore *st;

	if (!p)
		return;
	st = p->store;
	if (st) {
		for (size_t i = 0; i < st->nr_stacks; i++) {
			cw_ustack__fini(st->stacks[i].stack);
			free(st->stacks[i].stack);
		}
		free(st->stacks);
		for (size_t i = 0; i < st->nr_names; i++)
			free(st->names[i]);
		free(st->names);
		free(st);
	}
	free(p->samples);
	free(p);
}
