// SPDX-License-Identifier: GPL-2.0
/*
 * The pprof export: a gzipped profile.proto (github.com/google/pprof, proto/profile.proto)
 * shaped as Go's mutex and block profiles are, so that go tool pprof, Pyroscope and Parca
 * read it as they read those:
 *  - sample types contentions/count and delay/nanoseconds (delay is the default, the
 *    last one), period type contentions/count, period 1;
 *  - one sample per (object, waiting call path): values [waits, ns waited], locations
 *    leaf first, labels lock = the object's name, type = its kind (mutex, cond, kernel...),
 *    and lock_type for kernel locks;
 *  - the object itself as the leaf location, a function named "[mutex hot_lock]" as in
 *    the folded export, so a graph drawn from the profile meets at the lock;
 *  - one location per address of a process, its inlined functions as extra lines
 *    (callee first, as pprof wants); one mapping per module, kernel frames in
 *    "[kernel.kallsyms]" as perf names it; has_functions set: every frame is named
 *    already, pprof must not symbolize again.
 * Encoded by protobuf.c (why not protobuf-c: see protobuf.h), compressed with zlib.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/array.h"
#include "engine/index.h"
#include "report/export.h"
#include "report/protobuf.h"

/* profile.proto's field numbers */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	VALUETYPE_TYPE = 1, VALUETYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
	LABEL_KEY = 1, LABEL_STR = 2,
	MAPPING_ID = 1, MAPPING_MEMORY_START = 2, MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4, MAPPING_FILENAME = 5, MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7, MAPPING_HAS_FILENAMES = 8, MAPPING_HAS_LINE_NUMBERS = 9,
	MAPPING_HAS_INLINE_FRAMES = 10,
	LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1, LINE_LINE = 2,
	FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4,
};

#define KERNEL_SPACE 0xffff	/* the kernel's mapping and locations, in any process */
#define LEAF_SPACE 0xfffe	/* the objects' leaf locations */

struct str_table {
	char **v;
	size_t nr, cap;
	__u32 *slots;		/* open addressing: index + 1, 0 = free */
	size_t nr_slots;
};

struct mapping {
	__u32 pid;
	__u16 space;
	const char *path;	/* the frame's module (NULL: none) */
	__u64 start, limit, offset;
	__s64 filename, build_id;
	int has_files, has_lines, has_inline;
};

struct line {
	__u64 function;
	__s64 line;
};

struct location {
	__u32 pid;
	__u16 space;
	__u64 addr;		/* LEAF_SPACE: the object's address, written as 0 */
	__u64 mapping;		/* id, 0 = none */
	struct line *lines;
	size_t nr_lines;
};

struct function {
	__s64 name, file;
};

struct psample {
	__u64 *locs;
	size_t nr_locs;
	__u64 values[2];
	__s64 lock, type, lock_type;	/* string indexes; lock_type 0 = none */
};

struct builder {
	const struct cw_xprofile *p;
	struct str_table strs;
	struct mapping *maps;
	size_t nr_maps, cap_maps;
	struct location *locs;
	size_t nr_locs, cap_locs;
	struct function *funcs;
	size_t nr_funcs, cap_funcs;
	/* thousands of call paths of a busy server make hundreds of thousands of frames */
	struct cw_index loc_ix;		/* (space << 32 | pid, addr) -> row */
	struct cw_index func_ix;	/* (name, file) -> row */
	struct psample *samples;
	size_t nr_samples;
	int err;
};

static __u64 hash_str(const char *s)
{
	__u64 h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int str_rehash(struct str_table *t, size_t nr_slots)
{
	__u32 *slots = calloc(nr_slots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr; i++) {
		size_t k = hash_str(t->v[i]) & (nr_slots - 1);

		while (slots[k])
			k = (k + 1) & (nr_slots - 1);
		slots[k] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nr_slots = nr_slots;
	return 0;
}

/* The index of s in the string table, added when new; -1 without memory. */
static __s64 str_index(struct builder *b, const char *s)
{
	struct str_table *t = &b->strs;
	size_t k;
	char **v;

	if (b->err)
		return 0;
	if ((t->nr + 1) * 2 > t->nr_slots && str_rehash(t, t->nr_slots ? t->nr_slots * 2 : 256))
		goto nomem;
	for (k = hash_str(s) & (t->nr_slots - 1); t->slots[k]; k = (k + 1) & (t->nr_slots - 1))
		if (!strcmp(t->v[t->slots[k] - 1], s))
			return t->slots[k] - 1;
	v = cw_grow(t->v, &t->cap, t->nr + 1, sizeof(*v));
	if (!v)
		goto nomem;
	t->v = v;
	v[t->nr] = strdup(s);
	if (!v[t->nr])
		goto nomem;
	t->slots[k] = ++t->nr;
	return t->nr - 1;
nomem:
	b->err = -ENOMEM;
	return 0;
}

/* The engine's module of pid covering addr, NULL when none. */
static const struct cw_module *find_module(const struct cw_engine *eng, __u32 pid, __u64 addr)
{
	for (size_t i = 0; eng && i < cw_engine__nr_modules(eng); i++) {
		const struct cw_module *m = cw_engine__module(eng, i);

		if (m->pid == pid && addr >= m->start && addr < m->end)
			return m;
	}
	return NULL;
}

/* The mapping of a physical frame (with the lines inlined into it), its id; 0 = none. */
static __u64 mapping_id(struct builder *b, __u32 pid, __u16 space, const struct cw_frame *f,
			size_t nr_lines)
{
	const struct cw_module *m = space == CW_STACK_USER ? find_module(b->p->eng, pid, f->addr) :
							     NULL;
	const char *path = m ? m->path : f->module;
	struct mapping *mp;
	char name[300];

	if (!path)
		return 0;
	for (size_t i = 0; i < b->nr_maps; i++) {
		mp = &b->maps[i];
		if (mp->space == space && (space == KERNEL_SPACE || mp->pid == pid) &&
		    !strcmp(mp->path, path) && (!m || mp->start == m->start))
			goto found;
	}
	mp = cw_grow(b->maps, &b->cap_maps, b->nr_maps + 1, sizeof(*mp));
	if (!mp) {
		b->err = -ENOMEM;
		return 0;
	}
	b->maps = mp;
	mp = &b->maps[b->nr_maps++];
	memset(mp, 0, sizeof(*mp));
	mp->pid = pid;
	mp->space = space;
	mp->path = path;
	if (space == KERNEL_SPACE) {
		/* as perf names them: the image, and modules by their name in brackets */
		if (strcmp(path, "kernel"))
			snprintf(name, sizeof(name), "[%s]", path);
		else
			snprintf(name, sizeof(name), "[kernel.kallsyms]");
		mp->filename = str_index(b, name);
	} else {
		mp->filename = str_index(b, path);
	}
	if (m) {
		char hex[41];

		mp->start = m->start;
		mp->limit = m->end;
		mp->offset = m->pgoff;
		for (int i = 0; i < m->build_id_len && i < 20; i++)
			snprintf(hex + 2 * i, 3, "%02x", m->build_id[i]);
		if (m->build_id_len)
			mp->build_id = str_index(b, hex);
	}
found:
	mp->has_files |= !!f->file;
	mp->has_lines |= f->line > 0;
	mp->has_inline |= nr_lines > 1;
	return mp - b->maps + 1;
}

static __u64 function_id(struct builder *b, const char *name, const char *file)
{
	char safe[1024];
	__s64 n, fl = file ? str_index(b, file) : 0;
	struct function *v;
	size_t i;
	__u32 row;

	/* a name with a line break would break pprof's text outputs (-raw, -traces) */
	for (i = 0; name[i] && i < sizeof(safe) - 1; i++)
		safe[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	safe[i] = '\0';
	n = str_index(b, safe);

	if (!cw_index__get(&b->func_ix, n, fl, &row))
		return row + 1;
	v = cw_grow(b->funcs, &b->cap_funcs, b->nr_funcs + 1, sizeof(*v));
	if (v)
		b->funcs = v;
	if (!v || cw_index__put(&b->func_ix, n, fl, b->nr_funcs)) {
		b->err = -ENOMEM;
		return 0;
	}
	b->funcs[b->nr_funcs++] = (struct function){ .name = n, .file = fl };
	return b->nr_funcs;
}

/* The key of a location: the kernel's are shared by every process. */
static __u64 loc_key(__u32 pid, __u16 space)
{
	return (__u64)space << 32 | (space == KERNEL_SPACE ? 0 : pid);
}

/* The location of (pid, space, addr), its id; 0 when there is none yet. */
static __u64 find_location(struct builder *b, __u32 pid, __u16 space, __u64 addr)
{
	__u32 row;

	return cw_index__get(&b->loc_ix, loc_key(pid, space), addr, &row) ? 0 : row + 1;
}

static struct location *new_location(struct builder *b, __u32 pid, __u16 space, __u64 addr,
				     size_t nr_lines)
{
	struct location *v = cw_grow(b->locs, &b->cap_locs, b->nr_locs + 1, sizeof(*v));

	if (v)
		b->locs = v;
	if (!v || cw_index__put(&b->loc_ix, loc_key(pid, space), addr, b->nr_locs))
		goto nomem;
	v = &b->locs[b->nr_locs];
	memset(v, 0, sizeof(*v));
	v->pid = pid;
	v->space = space;
	v->addr = addr;
	v->lines = calloc(nr_lines, sizeof(*v->lines));
	if (!v->lines)
		goto nomem;
	v->nr_lines = nr_lines;
	b->nr_locs++;
	return v;
nomem:
	b->err = -ENOMEM;
	return NULL;
}

/*
 * The location of frames[0..n): inlined functions, then the function they were inlined
 * into, all at one address. Its id, 0 without memory.
 */
static __u64 location_id(struct builder *b, __u32 pid, __u16 space, const struct cw_frame *fr,
			 size_t n)
{
	const struct cw_frame *phys = &fr[n - 1];
	__u64 id = find_location(b, pid, space, phys->addr);
	struct location *l;
	char buf[320];

	if (id)
		return id;
	l = new_location(b, pid, space, phys->addr, n);
	if (!l)
		return 0;
	l->mapping = mapping_id(b, pid, space, phys, n);
	for (size_t i = 0; i < n; i++) {
		l->lines[i].function = function_id(b, cw_xframe__name(&fr[i], buf, sizeof(buf)),
						   fr[i].file);
		l->lines[i].line = fr[i].line;
	}
	return l - b->locs + 1;
}

static __u64 leaf_location_id(struct builder *b, const struct cw_xsample *s)
{
	__u64 id = find_location(b, s->pid, LEAF_SPACE, s->addr);
	struct location *l;
	char leaf[1024];

	if (id)
		return id;
	l = new_location(b, s->pid, LEAF_SPACE, s->addr, 1);
	if (!l)
		return 0;
	cw_xsample__leaf(s, leaf, sizeof(leaf));
	l->lines[0].function = function_id(b, leaf, NULL);
	return l - b->locs + 1;
}

static int add_sample(struct builder *b, const struct cw_xsample *s, struct psample *ps)
{
	const struct cw_ustack *st = s->stack;
	size_t nr = st ? st->nr : 0;
	__u16 space = s->kind == CW_LOCK_KERNEL ? KERNEL_SPACE : CW_STACK_USER;

	ps->locs = calloc(nr + 1, sizeof(*ps->locs));
	if (!ps->locs)
		return b->err = -ENOMEM;
	ps->locs[ps->nr_locs++] = leaf_location_id(b, s);
	for (size_t i = 0; i < nr;) {
		size_t n = 1;

		/* an inlined function's frame, and the ones it was inlined into, share a pc */
		while (i + n < nr && st->frames[i + n - 1].inlined)
			n++;
		ps->locs[ps->nr_locs++] = location_id(b, s->pid, space, &st->frames[i], n);
		i += n;
	}
	ps->values[0] = s->count;
	ps->values[1] = s->wait_ns;
	ps->lock = str_index(b, s->lock);
	ps->type = str_index(b, cw_lock_kind__name(s->kind));
	ps->lock_type = s->lock_type ? str_index(b, s->lock_type) : 0;
	return b->err;
}

static void value_type(struct cw_pb *pb, unsigned int field, __s64 type, __s64 unit)
{
	cw_pb_mark m = cw_pb__begin(pb, field);

	cw_pb__int64(pb, VALUETYPE_TYPE, type);
	cw_pb__int64(pb, VALUETYPE_UNIT, unit);
	cw_pb__end(pb, m);
}

static void label(struct cw_pb *pb, __s64 key, __s64 str)
{
	cw_pb_mark m = cw_pb__begin(pb, SAMPLE_LABEL);

	cw_pb__int64(pb, LABEL_KEY, key);
	cw_pb__int64(pb, LABEL_STR, str);
	cw_pb__end(pb, m);
}

/*
 * pprof takes the first mapping for the main binary (the graph's "File:"): mappings in
 * address order, the executable's lowest in most processes, the kernel's last. Their
 * ids are their places in that order (ids[i] for b->maps[i]).
 */
static __u64 *mapping_order(struct builder *b)
{
	__u64 *ids = calloc(b->nr_maps ? b->nr_maps : 1, sizeof(*ids));

	if (!ids) {
		b->err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < b->nr_maps; i++) {
		const struct mapping *x = &b->maps[i];

		ids[i] = 1;
		for (size_t k = 0; k < b->nr_maps; k++) {
			const struct mapping *y = &b->maps[k];
			int xk = x->space == KERNEL_SPACE, yk = y->space == KERNEL_SPACE;

			/* y before x: user before kernel, a known start before none, lower
			 * start, then first made */
			if (k != i && (yk != xk ? !yk :
				       (!y->start) != (!x->start) ? !!y->start :
				       y->start != x->start ? y->start < x->start : k < i))
				ids[i]++;
		}
	}
	return ids;
}

static void encode(struct builder *b, struct cw_pb *pb)
{
	__s64 contentions = str_index(b, "contentions"), count = str_index(b, "count");
	__s64 delay = str_index(b, "delay"), ns = str_index(b, "nanoseconds");
	__s64 k_lock = str_index(b, "lock"), k_type = str_index(b, "type");
	__s64 k_lock_type = str_index(b, "lock_type");
	__s64 comment = str_index(b, "concwatch " CW_VERSION ": lock contention");
	__u64 *map_ids = mapping_order(b);

	if (b->err)
		goto cleanup;
	value_type(pb, PROFILE_SAMPLE_TYPE, contentions, count);
	value_type(pb, PROFILE_SAMPLE_TYPE, delay, ns);
	for (size_t i = 0; i < b->nr_samples; i++) {
		const struct psample *s = &b->samples[i];
		cw_pb_mark m = cw_pb__begin(pb, PROFILE_SAMPLE);

		cw_pb__packed_uint64(pb, SAMPLE_LOCATION_ID, s->locs, s->nr_locs);
		cw_pb__packed_uint64(pb, SAMPLE_VALUE, s->values, 2);
		label(pb, k_lock, s->lock);
		label(pb, k_type, s->type);
		if (s->lock_type)
			label(pb, k_lock_type, s->lock_type);
		cw_pb__end(pb, m);
	}
	/* in the order of their ids: pprof numbers them by place, whatever ids they have */
	for (size_t id = 1; id <= b->nr_maps; id++) {
		const struct mapping *mp = b->maps;
		size_t i = 0;
		cw_pb_mark m;

		while (map_ids[i] != id)
			i++;
		mp = &b->maps[i];
		m = cw_pb__begin(pb, PROFILE_MAPPING);

		cw_pb__uint64(pb, MAPPING_ID, map_ids[i]);
		cw_pb__uint64(pb, MAPPING_MEMORY_START, mp->start);
		cw_pb__uint64(pb, MAPPING_MEMORY_LIMIT, mp->limit);
		cw_pb__uint64(pb, MAPPING_FILE_OFFSET, mp->offset);
		cw_pb__int64(pb, MAPPING_FILENAME, mp->filename);
		cw_pb__int64(pb, MAPPING_BUILD_ID, mp->build_id);
		cw_pb__bool(pb, MAPPING_HAS_FUNCTIONS, 1);
		cw_pb__bool(pb, MAPPING_HAS_FILENAMES, mp->has_files);
		cw_pb__bool(pb, MAPPING_HAS_LINE_NUMBERS, mp->has_lines);
		cw_pb__bool(pb, MAPPING_HAS_INLINE_FRAMES, mp->has_inline);
		cw_pb__end(pb, m);
	}
	for (size_t i = 0; i < b->nr_locs; i++) {
		const struct location *l = &b->locs[i];
		cw_pb_mark m = cw_pb__begin(pb, PROFILE_LOCATION);

		cw_pb__uint64(pb, LOCATION_ID, i + 1);
		if (l->mapping)
			cw_pb__uint64(pb, LOCATION_MAPPING_ID, map_ids[l->mapping - 1]);
		if (l->space != LEAF_SPACE)
			cw_pb__uint64(pb, LOCATION_ADDRESS, l->addr);
		for (size_t k = 0; k < l->nr_lines; k++) {
			cw_pb_mark ml = cw_pb__begin(pb, LOCATION_LINE);

			cw_pb__uint64(pb, LINE_FUNCTION_ID, l->lines[k].function);
			if (l->lines[k].line)
				cw_pb__int64(pb, LINE_LINE, l->lines[k].line);
			cw_pb__end(pb, ml);
		}
		cw_pb__end(pb, m);
	}
	for (size_t i = 0; i < b->nr_funcs; i++) {
		const struct function *f = &b->funcs[i];
		cw_pb_mark m = cw_pb__begin(pb, PROFILE_FUNCTION);

		cw_pb__uint64(pb, FUNCTION_ID, i + 1);
		cw_pb__int64(pb, FUNCTION_NAME, f->name);
		cw_pb__int64(pb, FUNCTION_SYSTEM_NAME, f->name);
		if (f->file)
			cw_pb__int64(pb, FUNCTION_FILENAME, f->file);
		cw_pb__end(pb, m);
	}
	/* the table is complete: every index above was taken before this point */
	for (size_t i = 0; i < b->strs.nr; i++)
		cw_pb__string(pb, PROFILE_STRING_TABLE, b->strs.v[i]);
	if (b->p->time_ns)
		cw_pb__int64(pb, PROFILE_TIME_NANOS, b->p->time_ns);
	cw_pb__int64(pb, PROFILE_DURATION_NANOS, b->p->duration_ns);
	value_type(pb, PROFILE_PERIOD_TYPE, contentions, count);
	cw_pb__int64(pb, PROFILE_PERIOD, 1);
	cw_pb__int64(pb, PROFILE_COMMENT, comment);
cleanup:
	free(map_ids);
}

static void builder_fini(struct builder *b)
{
	for (size_t i = 0; i < b->strs.nr; i++)
		free(b->strs.v[i]);
	free(b->strs.v);
	free(b->strs.slots);
	for (size_t i = 0; i < b->nr_locs; i++)
		free(b->locs[i].lines);
	free(b->locs);
	free(b->maps);
	free(b->funcs);
	cw_index__fini(&b->loc_ix);
	cw_index__fini(&b->func_ix);
	for (size_t i = 0; i < b->nr_samples; i++)
		free(b->samples[i].locs);
	free(b->samples);
}

int cw_pprof__encode(const struct cw_xprofile *p, struct cw_pb *pb)
{
	struct builder b = { .p = p };

	str_index(&b, "");	/* string 0 is the empty string */
	b.samples = calloc(p->nr ? p->nr : 1, sizeof(*b.samples));
	if (!b.samples)
		b.err = -ENOMEM;
	for (size_t i = 0; !b.err && i < p->nr; i++)
		if (p->samples[i].count || p->samples[i].wait_ns)
			add_sample(&b, &p->samples[i], &b.samples[b.nr_samples++]);
	encode(&b, pb);
	builder_fini(&b);
	return b.err ? b.err : cw_pb__finish(pb);
}

/* data gzipped to out, as a .pb.gz file is. */
static int gzip_to(FILE *out, const unsigned char *data, size_t len)
{
	unsigned char chunk[16384];
	z_stream z = {};
	int ret, err = 0;

	/* 15 + 16: a gzip header and trailer around the deflate stream */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY))
		return -ENOMEM;
	z.next_in = (unsigned char *)data;
	z.avail_in = len;	/* a profile is far below 4 GiB: the length fits z's uInt */
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		ret = deflate(&z, Z_FINISH);
		if (ret == Z_STREAM_ERROR) {
			err = -EINVAL;
			break;
		}
		if (fwrite(chunk, 1, sizeof(chunk) - z.avail_out, out) != sizeof(chunk) - z.avail_out) {
			err = -EIO;
			break;
		}
	} while (ret != Z_STREAM_END);
	deflateEnd(&z);
	return err;
}

int cw_export__pprof(FILE *out, const struct cw_xprofile *p)
{
	struct cw_pb pb = {};
	int err;

	err = cw_pprof__encode(p, &pb);
	if (!err && pb.len > UINT32_MAX)
		err = -EFBIG;
	if (!err)
		err = gzip_to(out, pb.buf, pb.len);
	cw_pb__fini(&pb);
	return err;
}
