// SPDX-License-Identifier: GPL-2.0
/*
 * Symbolization, over the module map: names for the pcs of a walk (the function from the
 * symbol table, the source line and the functions inlined at the pc from DWARF), for
 * variables, and for the local variables of a frame. Each lookup address is resolved
 * once and kept until the module map changes: a process's stacks repeat the same few
 * return addresses. A walk is read as data: nothing here calls the unwinder.
 */
#include <dwarf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elfutils/libdw.h>
#include <libiberty/demangle.h>

#include "common/array.h"
#include "concwatch/preload.h"
#include "symbolize.h"

#define CACHE_MIN 256

/*
 * A copy of a symbol's name for display: without the @VERSION of versioned symbols, and
 * demangled when it is a C++ name. NULL for NULL.
 */
static char *display_name(const char *name)
{
	char *plain, *d;

	if (!name)
		return NULL;
	plain = strndup(name, strcspn(name, "@"));
	if (!plain || plain[0] != '_' || plain[1] != 'Z')
		return plain;
	d = cplus_demangle(plain, DMGL_PARAMS | DMGL_ANSI);
	if (!d)
		return plain;
	free(plain);
	return d;
}

/*
 * The name of a function's DIE, following abstract origins: a C++ linkage name demangled
 * (the qualified signature), else the plain name. A C linkage name is an assembler alias
 * (glibc's __GI_ names): the plain name is the one in the source.
 */
static char *die_func_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr)) {
		name = dwarf_formstring(&attr);
		if (name && name[0] == '_' && name[1] == 'Z')
			return display_name(name);
	}
	name = dwarf_attr_integrate(die, DW_AT_name, &attr) ? dwarf_formstring(&attr) : NULL;
	return name ? strdup(name) : NULL;
}

/* --- symbol tables ----------------------------------------------------------------------- */

static int leading_underscores(const char *s)
{
	int n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

/*
 * Of two symbols for one address, the name a reader expects: a global before a weak before
 * a local one, then the one with fewer leading underscores, then the shorter one:
 * pthread_mutex_lock, not __pthread_mutex_lock or ___pthread_mutex_lock; __lll_lock_wait,
 * not __GI___lll_lock_wait. Ties go to the name sorting first, so the choice is stable.
 */
static bool better_alias(const struct cw_sym *a, const struct cw_sym *b)
{
	size_t la = strcspn(a->name, "@"), lb = strcspn(b->name, "@");
	int ua = leading_underscores(a->name), ub = leading_underscores(b->name);

	if (a->rank != b->rank)
		return a->rank < b->rank;
	if (ua != ub)
		return ua < ub;
	if (la != lb)
		return la < lb;
	return strcmp(a->name, b->name) < 0;
}

static int cmp_sym(const void *a, const void *b)
{
	const struct cw_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int bind_rank(int bind)
{
	switch (bind) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

/* The function symbols of dm, sorted once: libdwfl searches its table linearly. */
static int symidx_build(Dwfl_Module *dm, struct cw_symidx *x)
{
	int n = dwfl_module_getsymtab(dm);
	struct cw_sym *p;
	size_t cap = 0;

	x->dm = dm;
	for (int i = 1; i < n; i++) {
		GElf_Word shndx;
		const char *name;
		GElf_Addr addr;
		GElf_Sym sym;
		int type;

		name = dwfl_module_getsym_info(dm, i, &sym, &addr, &shndx, NULL, NULL);
		type = GELF_ST_TYPE(sym.st_info);
		if (!name || !name[0] || shndx == SHN_UNDEF || !sym.st_size ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		p = cw_grow(x->syms, &cap, x->nr + 1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		x->syms = p;
		x->syms[x->nr++] = (struct cw_sym){ addr, sym.st_size, name,
						    bind_rank(GELF_ST_BIND(sym.st_info)) };
	}
	/* a module may have no function symbol at all: no array to sort (qsort wants one) */
	if (x->nr)
		qsort(x->syms, x->nr, sizeof(*x->syms), cmp_sym);
	return 0;
}

static int symidx_get(struct cw_symbolizer *sz, Dwfl_Module *dm, struct cw_symidx **out)
{
	struct cw_symidx *p;
	int err;

	for (size_t i = 0; i < sz->nr_idx; i++) {
		if (sz->idx[i].dm == dm) {
			*out = &sz->idx[i];
			return 0;
		}
	}
	p = cw_grow(sz->idx, &sz->cap_idx, sz->nr_idx + 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	sz->idx = p;
	p = &sz->idx[sz->nr_idx];
	memset(p, 0, sizeof(*p));
	err = symidx_build(dm, p);
	if (err) {
		free(p->syms);
		return err;
	}
	sz->nr_idx++;
	*out = p;
	return 0;
}


/*
 * The function containing key: its best-named alias from the index, else what libdwfl
 * finds (symbols without size, functions nested in others). *name is libdwfl's string.
 */
static int find_function(struct cw_symbolizer *sz, Dwfl_Module *dm, __u64 key, const char **name,
			 __u64 *start)
{
	const struct cw_sym *best = NULL;
	struct cw_symidx *x;
	size_t lo = 0, hi;
	GElf_Off off;
	GElf_Sym sym;
	int err;

	err = symidx_get(sz, dm, &x);
	if (err)
		return err;
	hi = x->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->syms[mid].addr <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0 && x->syms[i].addr == x->syms[lo - 1].addr;) {
		const struct cw_sym *s = &x->syms[i];

		if (key - s->addr < s->size && (!best || better_alias(s, best)))
			best = s;
	}
	if (best) {
		*name = best->name;
		*start = best->addr;
		return 0;
	}
	*name = dwfl_module_addrinfo(dm, key, &off, &sym, NULL, NULL, NULL);
	*start = key - off;
	return 0;
}

static void free_lines(struct cw_symline *lines, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(lines[i].func);
		free(lines[i].file);
	}
	free(lines);
}

static int add_line(struct cw_syment *e, size_t *cap, char *func, __u64 func_start,
		    const char *file, int line, int inlined)
{
	struct cw_symline *l;

	l = cw_grow(e->lines, cap, e->nr + 1, sizeof(*l));
	if (!l)
		goto nomem;
	e->lines = l;
	l = &e->lines[e->nr];
	l->func = func;
	l->func_start = func_start;
	l->file = file ? strdup(file) : NULL;
	l->line = line;
	l->inlined = inlined;
	if (file && !l->file)
		goto nomem;
	e->nr++;
	return 0;
nomem:
	free(func);
	return -ENOMEM;
}

/*
 * The functions inlined at lookup, innermost first, each with the source position in it;
 * on return *file and *line are the position in the function they were inlined into.
 * Nested DIEs of the concrete tree give the chain: inlined_subroutine inside (lexical
 * blocks inside) ... the subprogram. *subprogram gets that subprogram's name and
 * *sub_start its entry (DWARF addresses).
 */
static int add_inlined(struct cw_syment *e, size_t *cap, Dwarf_Die *cu, Dwarf_Addr addr,
		       const char **file, int *line, char **subprogram, __u64 *sub_start)
{
	Dwarf_Die *scopes = NULL, *chain = NULL;
	Dwarf_Files *files = NULL;
	int n, m, err = 0;
	size_t nfiles = 0;

	n = dwarf_getscopes(cu, addr, &scopes);
	if (n <= 0)
		goto cleanup;
	m = dwarf_getscopes_die(&scopes[0], &chain);
	for (int i = 0; i < m; i++) {
		Dwarf_Attribute attr;
		Dwarf_Word v;

		if (dwarf_tag(&chain[i]) == DW_TAG_subprogram) {
			Dwarf_Addr entry;

			*subprogram = die_func_name(&chain[i]);
			if (!dwarf_entrypc(&chain[i], &entry))
				*sub_start = entry;
			break;
		}
		if (dwarf_tag(&chain[i]) != DW_TAG_inlined_subroutine)
			continue;
		err = add_line(e, cap, die_func_name(&chain[i]), 0, *file, *line, 1);
		if (err)
			goto cleanup;
		/* where it was inlined: a position in the caller */
		*file = NULL;
		*line = 0;
		if (!files)
			dwarf_getsrcfiles(cu, &files, &nfiles);
		if (files && !dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_file, &attr), &v) &&
		    v < nfiles)
			*file = dwarf_filesrc(files, v, NULL, NULL);
		if (!dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_line, &attr), &v))
			*line = v;
	}
cleanup:
	free(chain);
	free(scopes);
	return err;
}

/*
 * Whether an address outside every module could be code at all: above the lowest a
 * process may map (mmap_min_addr, 64 KiB by default) and in the user half. A corrupt
 * return address (0x10) is not.
 */
static bool maybe_code(__u64 addr)
{
	return addr >= 0x10000 && addr < 0x800000000000ULL;
}

/* Resolve one lookup address (a pc, or a return address - 1) into e. */
static int resolve(struct cw_symbolizer *sz, __u64 key, struct cw_syment *e)
{
	struct cw_umod *um = cw_modmap__find(sz->mm, key);
	char *func = NULL, *subprogram = NULL;
	const char *name = NULL, *file = NULL;
	__u64 func_start = 0, sub_start = 0;
	Dwarf_Addr bias;
	size_t cap = 0;
	Dwarf_Die *cu;
	int line = 0, err;

	e->key = key;
	e->module = um ? um->path : NULL;
	if (!um) {
		const struct cw_jitsym *j = cw_modmap__find_jit(sz->mm, key);

		if (!j)
			return add_line(e, &cap, NULL, 0, NULL, 0, 0);
		/* JIT-compiled: the runtime's name for it, the perf map for its module */
		e->module = sz->mm->jit_path;
		func = strdup(j->name);
		return func ? add_line(e, &cap, func, j->start, NULL, 0, 0) : -ENOMEM;
	}
	if (!um->dm)
		return add_line(e, &cap, NULL, 0, NULL, 0, 0);
	err = find_function(sz, um->dm, key, &name, &func_start);
	if (err)
		return err;
	if (name) {
		func = display_name(name);
		if (!func)
			return -ENOMEM;
	}
	cu = dwfl_module_addrdie(um->dm, key, &bias);
	if (cu) {
		Dwarf_Line *l = dwarf_getsrc_die(cu, key - bias);

		if (l) {
			file = dwarf_linesrc(l, NULL, NULL);
			dwarf_lineno(l, &line);
		}
		err = add_inlined(e, &cap, cu, key - bias, &file, &line, &subprogram, &sub_start);
		if (err) {
			free(func);
			free(subprogram);
			return err;
		}
	}
	/* a function the symbol tables lack (stripped of .symtab, static): DWARF's name */
	if (!func && subprogram) {
		func = subprogram;
		func_start = sub_start ? sub_start + bias : key;
		subprogram = NULL;
	}
	free(subprogram);
	return add_line(e, &cap, func, func_start, file, line, 0);
}

static size_t slot_of(__u64 key, size_t cap)
{
	return (key * 0x9e3779b97f4a7c15ULL) >> 7 & (cap - 1);
}

static void cache_clear(struct cw_symbolizer *sz)
{
	if (!sz->cache_used)
		return;
	for (size_t i = 0; i < sz->cache_cap; i++) {
		if (sz->cache[i].nr)
			free_lines(sz->cache[i].lines, sz->cache[i].nr);
		memset(&sz->cache[i], 0, sizeof(sz->cache[i]));
	}
	sz->cache_used = 0;
}

static int cache_grow(struct cw_symbolizer *sz)
{
	size_t cap = sz->cache_cap ? sz->cache_cap * 2 : CACHE_MIN;
	struct cw_syment *c = calloc(cap, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < sz->cache_cap; i++) {
		size_t s;

		if (!sz->cache[i].nr)
			continue;
		for (s = slot_of(sz->cache[i].key, cap); c[s].nr; s = (s + 1) & (cap - 1))
			;
		c[s] = sz->cache[i];
	}
	free(sz->cache);
	sz->cache = c;
	sz->cache_cap = cap;
	return 0;
}

/*
 * The entry for key, resolved now if it was not before. Pointers last until the next
 * lookup that resolves something.
 */
static int cache_get(struct cw_symbolizer *sz, __u64 key, struct cw_syment **out)
{
	size_t s, mask = sz->cache_cap - 1;
	int err;

	if (sz->cache_cap) {
		for (s = slot_of(key, sz->cache_cap); sz->cache[s].nr; s = (s + 1) & mask) {
			if (sz->cache[s].key == key) {
				*out = &sz->cache[s];
				return 0;
			}
		}
	}
	/* at most half full: probes stay short */
	if ((sz->cache_used + 1) * 2 > sz->cache_cap) {
		err = cache_grow(sz);
		if (err)
			return err;
	}
	for (s = slot_of(key, sz->cache_cap); sz->cache[s].nr; s = (s + 1) & (sz->cache_cap - 1))
		;
	err = resolve(sz, key, &sz->cache[s]);
	if (err) {
		free_lines(sz->cache[s].lines, sz->cache[s].nr);
		memset(&sz->cache[s], 0, sizeof(sz->cache[s]));
		return err;
	}
	sz->cache_used++;
	*out = &sz->cache[s];
	return 0;
}

static const char *label(const struct cw_ustack *s, size_t i, char *buf, size_t len)
{
	if (i < s->nr && s->frames[i].func)
		return s->frames[i].func;
	snprintf(buf, len, "0x%llx", i < s->nr ? (unsigned long long)s->frames[i].addr : 0ULL);
	return buf;
}

/* One line for out->why, naming the frames involved. */
static void explain(struct cw_symbolizer *sz, const struct cw_walk *w, struct cw_ustack *out)
{
	size_t last = out->nr ? out->nr - 1 : 0;
	unsigned long long addr = w->reason_addr;
	const char *missing, *func;
	char a[24];

	switch (w->reason) {
	case CW_WALK_OUTERMOST:
		out->end = CW_STACK_END_COMPLETE;
		return;
	case CW_WALK_MAX_FRAMES:
		out->end = CW_STACK_END_TRUNCATED;
		snprintf(out->why, sizeof(out->why),
			 "stopped at %d frames (max_frames): %s has a caller", w->max_frames,
			 label(out, last, a, sizeof(a)));
		return;
	case CW_WALK_COPY_ENDS:
		out->end = CW_STACK_END_TRUNCATED;
		snprintf(out->why, sizeof(out->why),
			 "the stack copy (%zu bytes) ends before the return address of %s",
			 w->copy_len, label(out, last, a, sizeof(a)));
		return;
	default:
		break;
	}
	out->end = CW_STACK_END_LOST;
	switch (w->reason) {
	case CW_WALK_UNMAPPED:
		snprintf(out->why, sizeof(out->why), "0x%llx is in no executable mapping%s%s%s",
			 addr, last ? ", caller of " : "", last ? label(out, last - 1, a, sizeof(a)) : "",
			 sz->mm->jit_path || !maybe_code(addr) ? "" :
			 " (JIT-compiled code? a runtime that writes /tmp/perf-PID.map, as node "
			 "--perf-basic-prof or a JVM perf map agent does, gets it named)");
		break;
	case CW_WALK_MISSING:
		missing = cw_modmap__missing(sz->mm, last ? addr - 1 : addr);
		snprintf(out->why, sizeof(out->why), "cannot unwind through 0x%llx: %s", addr,
			 missing ? missing : "its file is missing");
		break;
	case CW_WALK_NO_CFI:
		func = out->nr ? out->frames[last].func : NULL;
		snprintf(out->why, sizeof(out->why), "no CFI for %s%s0x%llx: its caller is unknown",
			 func ? func : "", func ? " at " : "", addr);
		break;
	case CW_WALK_BAD_READ:
		snprintf(out->why, sizeof(out->why), "CFI of %s reads 0x%llx, below the stack",
			 label(out, last, a, sizeof(a)), addr);
		break;
	case CW_WALK_NO_CALLER:
		if (w->reason_msg[0])
			snprintf(out->why, sizeof(out->why), "the %s stops at %s", w->reason_msg,
				 label(out, last, a, sizeof(a)));
		else
			snprintf(out->why, sizeof(out->why),
				 "no return address for %s, and CFI does not end the stack there",
				 label(out, last, a, sizeof(a)));
		break;
	case CW_WALK_ERROR:
		snprintf(out->why, sizeof(out->why), "unwinding %s failed: %s",
			 label(out, last, a, sizeof(a)), w->reason_msg);
		break;
	default:
		snprintf(out->why, sizeof(out->why), "no frame: %s",
			 w->reason_msg[0] ? w->reason_msg : "unknown error");
		break;
	}
}

/* The caches are of the module map as it was: forget them when it changed. */
static int check_gen(struct cw_symbolizer *sz)
{
	int err = cw_modmap__sync(sz->mm);

	if (err || sz->gen == sz->mm->gen)
		return err;
	cache_clear(sz);
	/* libdwfl may have dropped modules, and their names with them */
	for (size_t i = 0; i < sz->nr_idx; i++)
		free(sz->idx[i].syms);
	sz->nr_idx = 0;
	sz->gen = sz->mm->gen;
	return 0;
}

void cw_symbolizer__init(struct cw_symbolizer *sz, struct cw_modmap *mm)
{
	memset(sz, 0, sizeof(*sz));
	sz->mm = mm;
	sz->gen = mm->gen;
}

void cw_symbolizer__fini(struct cw_symbolizer *sz)
{
	cache_clear(sz);
	free(sz->cache);
	for (size_t i = 0; i < sz->nr_idx; i++)
		free(sz->idx[i].syms);
	free(sz->idx);
	memset(sz, 0, sizeof(*sz));
}

/*
 * Whether module is concwatch's in-process library: its wrappers are not the program's
 * code. A stack the kernel walks through one (a release's wake, a preempted holder) shows
 * the program's call of the lock function as the uprobes' stacks do, without them.
 */
static bool own_library(const char *module)
{
	const char *base = module ? strrchr(module, '/') : NULL;

	return base && !strcmp(base + 1, CW_PRELOAD_LIB_NAME);
}

int cw_symbolizer__stack(struct cw_symbolizer *sz, const struct cw_walk *w, struct cw_ustack *out)
{
	struct cw_syment *e;
	size_t total = 0, k = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = check_gen(sz);
	if (err)
		return err;
	/* resolve first: entries move while the cache grows */
	for (size_t i = 0; i < w->nr; i++) {
		err = cache_get(sz, cw_walkpc__lookup(&w->pcs[i]), &e);
		if (err)
			return err;
		total += e->nr;
	}
	out->frames = total ? calloc(total, sizeof(*out->frames)) : NULL;
	if (total && !out->frames)
		return -ENOMEM;
	for (size_t i = 0; i < w->nr; i++) {
		__u64 pc = w->pcs[i].pc;

		err = cache_get(sz, cw_walkpc__lookup(&w->pcs[i]), &e);
		if (err || k + e->nr > total) {
			cw_ustack__fini(out);
			return err ? err : -EAGAIN;
		}
		/* the outermost stays: why the walk ended names it */
		if (i + 1 < w->nr && own_library(e->module))
			continue;
		for (size_t j = 0; j < e->nr; j++, k++) {
			struct cw_frame *f = &out->frames[k];
			const struct cw_symline *l = &e->lines[j];

			f->addr = pc;
			f->module = e->module;
			f->line = l->line;
			f->inlined = l->inlined;
			if (l->func && !l->inlined)
				f->func_offset = pc - l->func_start;
			f->func = l->func ? strdup(l->func) : NULL;
			f->file = l->file ? strdup(l->file) : NULL;
			out->nr = k + 1;
			if ((l->func && !f->func) || (l->file && !f->file)) {
				cw_ustack__fini(out);
				return -ENOMEM;
			}
		}
	}
	explain(sz, w, out);
	return 0;
}

void cw_ustack__fini(struct cw_ustack *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr; i++) {
		free(s->frames[i].func);
		free(s->frames[i].file);
	}
	free(s->frames);
	memset(s, 0, sizeof(*s));
}

/* snprintf at *n; -ENOSPC once it no longer fits. */
static int append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= len - *n)
		return -ENOSPC;
	*n += r;
	return 0;
}

int cw_frame__format(const struct cw_frame *f, char *buf, size_t len)
{
	const char *file;
	size_t n = 0;
	int err;

	if (!f || !buf || !len)
		return -EINVAL;
	if (f->func && f->inlined)
		err = append(buf, len, &n, "%s inlined", f->func);
	else if (f->func)
		err = append(buf, len, &n, "%s+0x%llx", f->func,
			     (unsigned long long)f->func_offset);
	else
		err = append(buf, len, &n, "0x%llx", (unsigned long long)f->addr);
	if (!err && f->file) {
		file = strrchr(f->file, '/');
		file = file ? file + 1 : f->file;
		if (f->line)
			err = append(buf, len, &n, " (%s:%d)", file, f->line);
		else
			err = append(buf, len, &n, " (%s)", file);
	}
	if (!err)
		/* [vdso] says what it is already */
		err = append(buf, len, &n, f->module && f->module[0] == '[' ? " %s" : " [%s]",
			     f->module ? f->module : "?");
	return err;
}

/* --- names of variables and of what is inside them ----------------------------------- */

/* Whether die is a variable (a definition) whose location is the file address addr. */
static bool variable_at(Dwarf_Die *die, Dwarf_Addr addr)
{
	Dwarf_Attribute attr;
	Dwarf_Op *ops;
	size_t nops;

	if (dwarf_tag(die) != DW_TAG_variable || !dwarf_attr(die, DW_AT_location, &attr) ||
	    dwarf_getlocation(&attr, &ops, &nops) || nops != 1)
		return false;
	return (ops[0].atom == DW_OP_addr || ops[0].atom == DW_OP_addrx) &&
	       ops[0].number == addr;
}

/* The variable at file address addr among die's children, namespaces included. */
static bool find_variable(Dwarf_Die *parent, Dwarf_Addr addr, Dwarf_Die *out, int depth)
{
	Dwarf_Die child;

	if (depth > 8 || dwarf_child(parent, &child))
		return false;
	do {
		int tag = dwarf_tag(&child);

		if (variable_at(&child, addr)) {
			*out = child;
			return true;
		}
		if ((tag == DW_TAG_namespace || tag == DW_TAG_module) &&
		    find_variable(&child, addr, out, depth + 1))
			return true;
	} while (!dwarf_siblingof(&child, &child));
	return false;
}

/* die's type, through typedefs and qualifiers; *named: the first name met on the way. */
static bool type_of(Dwarf_Die *die, Dwarf_Die *type, const char **named)
{
	Dwarf_Attribute attr;
	Dwarf_Die cur = *die;

	for (int i = 0; i < 16; i++) {
		int tag;

		if (!dwarf_attr_integrate(&cur, DW_AT_type, &attr) || !dwarf_formref_die(&attr, type))
			return false;
		tag = dwarf_tag(type);
		if (!*named && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type)
			*named = dwarf_diename(type);
		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type && tag != DW_TAG_atomic_type)
			return true;
		cur = *type;
	}
	return false;
}

/* A lock type: where naming stops going inside (pthread's unions, C++'s classes). */
static bool lock_type_name(const char *name)
{
	return name && (strstr(name, "mutex") || strstr(name, "rwlock") ||
			strstr(name, "spinlock") || strstr(name, "_lock"));
}

/*
 * Append to buf (of len, *n used) the path from a variable of type of `die` down to
 * offset off inside it: [3].lock, .accounts[2]; what is left over as +0x...
 */
static void member_path(Dwarf_Die *die, Dwarf_Word off, char *buf, size_t len, size_t *n)
{
	Dwarf_Die cur = *die;

	for (int depth = 0; depth < 8; depth++) {
		const char *named = NULL;
		Dwarf_Die type, child;
		Dwarf_Word size;
		bool found = false;

		if (!type_of(&cur, &type, &named))
			break;
		if (off == 0 && lock_type_name(named))
			break;
		if (dwarf_tag(&type) == DW_TAG_array_type) {
			Dwarf_Die elem;
			const char *elem_named = NULL;

			if (!type_of(&type, &elem, &elem_named) || dwarf_aggregate_size(&elem, &size) ||
			    !size)
				break;
			*n += snprintf(buf + *n, *n < len ? len - *n : 0, "[%llu]",
				       (unsigned long long)(off / size));
			off %= size;
			/* the element, as a pseudo-DIE: its type is elem */
			cur = type;
			if (off == 0 && lock_type_name(elem_named))
				return;
			/* go on inside the element: a member lookup on its struct */
			type = elem;
			if (dwarf_tag(&type) != DW_TAG_structure_type &&
			    dwarf_tag(&type) != DW_TAG_class_type && dwarf_tag(&type) != DW_TAG_union_type)
				break;
		} else if (dwarf_tag(&type) != DW_TAG_structure_type &&
			   dwarf_tag(&type) != DW_TAG_class_type &&
			   dwarf_tag(&type) != DW_TAG_union_type) {
			break;
		}
		if (dwarf_child(&type, &child))
			break;
		do {
			Dwarf_Attribute attr;
			Dwarf_Word at = 0, msize;
			Dwarf_Die mtype;
			const char *ignored = NULL;

			if (dwarf_tag(&child) != DW_TAG_member || !dwarf_diename(&child))
				continue;
			if (dwarf_attr(&child, DW_AT_data_member_location, &attr) &&
			    dwarf_formudata(&attr, &at))
				continue;
			if (!type_of(&child, &mtype, &ignored) || dwarf_aggregate_size(&mtype, &msize))
				continue;
			if (off >= at && off < at + msize) {
				*n += snprintf(buf + *n, *n < len ? len - *n : 0, ".%s",
					       dwarf_diename(&child));
				off -= at;
				cur = child;
				found = true;
				break;
			}
		} while (!dwarf_siblingof(&child, &child));
		if (!found)
			break;
		if (off == 0) {
			const char *mname = NULL;
			Dwarf_Die t;

			if (type_of(&cur, &t, &mname) && lock_type_name(mname))
				return;
		}
	}
	if (off)
		*n += snprintf(buf + *n, *n < len ? len - *n : 0, "+0x%llx", (unsigned long long)off);
}

/*
 * "name[3].lock" for what is at off inside the variable that starts at start (a process
 * address) in module dm, from its DWARF; false when the module has none for it.
 */
static bool dwarf_member_name(Dwfl_Module *dm, Dwarf_Addr start, const char *shown,
			      GElf_Off off, char *buf, size_t len)
{
	Dwarf_Die *cu = NULL, var;
	Dwarf_Addr bias;
	size_t n = 0;

	/* the variable's address as the module's DWARF knows it */
	if (!dwfl_module_getdwarf(dm, &bias))
		return false;
	while ((cu = dwfl_module_nextcu(dm, cu, &bias)))
		if (find_variable(cu, start - bias, &var, 0))
			break;
	if (!cu)
		return false;
	n = snprintf(buf, len, "%s", shown);
	member_path(&var, off, buf, len, &n);
	return n < len;
}

int cw_symbolizer__data_symbol(struct cw_symbolizer *sz, __u64 addr, char *buf, size_t len)
{
	Dwfl_Module *dm;
	const char *name;
	GElf_Off off;
	GElf_Sym sym;
	char *shown;
	int err;

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	err = check_gen(sz);
	if (err)
		return err;
	dm = dwfl_addrmodule(sz->mm->dwfl, addr);
	name = dm ? dwfl_module_addrinfo(dm, addr, &off, &sym, NULL, NULL, NULL) : NULL;
	/* a variable (not code, not a section) that really covers addr */
	if (!name || (GELF_ST_TYPE(sym.st_info) != STT_OBJECT &&
		      GELF_ST_TYPE(sym.st_info) != STT_COMMON) ||
	    (sym.st_size ? off >= sym.st_size : off != 0))
		return -ENOENT;
	shown = display_name(name);
	if (!shown)
		return -ENOMEM;
	/* inside an array or a structure: its path, when the module has DWARF for it */
	if (!dwarf_member_name(dm, addr - off, shown, off, buf, len)) {
		if (off)
			snprintf(buf, len, "%s+0x%llx", shown, (unsigned long long)off);
		else
			snprintf(buf, len, "%s", shown);
	}
	free(shown);
	return 0;
}

/* --- local variables of a frame ---------------------------------------------------------- */

/* Whether die's frame base is the CFA (DW_OP_call_frame_cfa): what GCC and clang emit. */
static bool frame_base_is_cfa(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	Dwarf_Op *ops;
	size_t nops;

	if (!dwarf_attr_integrate(die, DW_AT_frame_base, &attr) ||
	    dwarf_getlocation(&attr, &ops, &nops) || nops != 1)
		return false;
	return ops[0].atom == DW_OP_call_frame_cfa;
}

/*
 * The variable among scope's children whose storage, at file address pc in a frame whose
 * frame base is cfa, covers addr: *out and *start (where it begins).
 */
static bool local_at(Dwarf_Die *scope, Dwarf_Addr pc, __u64 cfa, __u64 addr, Dwarf_Die *out,
		     __u64 *start)
{
	Dwarf_Die child;

	if (dwarf_child(scope, &child))
		return false;
	do {
		const char *ignored = NULL;
		Dwarf_Attribute attr;
		Dwarf_Word size;
		Dwarf_Op *ops;
		Dwarf_Die type;
		size_t nops;
		__u64 at;

		if (dwarf_tag(&child) != DW_TAG_variable ||
		    !dwarf_attr_integrate(&child, DW_AT_name, &attr) ||
		    !dwarf_attr(&child, DW_AT_location, &attr) ||
		    dwarf_getlocation_addr(&attr, pc, &ops, &nops, 1) != 1 || nops != 1 ||
		    ops[0].atom != DW_OP_fbreg)
			continue;
		if (!type_of(&child, &type, &ignored) || dwarf_aggregate_size(&type, &size))
			continue;
		at = cfa + (__s64)ops[0].number;
		if (addr >= at && addr - at < size) {
			*out = child;
			*start = at;
			return true;
		}
	} while (!dwarf_siblingof(&child, &child));
	return false;
}

int cw_symbolizer__frame_variable(struct cw_symbolizer *sz, __u64 lookup, __u64 cfa, __u64 addr,
				  char *buf, size_t len)
{
	Dwarf_Die *scopes = NULL, *cu, var;
	struct cw_umod *um;
	Dwarf_Addr bias;
	int n, sub, err;
	__u64 start;

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	err = check_gen(sz);
	if (err)
		return err;
	err = -ENOENT;
	um = cw_modmap__find(sz->mm, lookup);
	if (!um || !um->dm)
		return err;
	cu = dwfl_module_addrdie(um->dm, lookup, &bias);
	n = cu ? dwarf_getscopes(cu, lookup - bias, &scopes) : 0;
	/* the physical function: its frame base must be the CFA for fbreg to mean cfa + N */
	for (sub = 0; sub < n && dwarf_tag(&scopes[sub]) != DW_TAG_subprogram; sub++)
		;
	if (sub == n || !frame_base_is_cfa(&scopes[sub]))
		goto cleanup;
	/*
	 * Innermost scope first: blocks and the functions inlined here share the physical
	 * function's frame.
	 */
	for (int i = 0; i <= sub; i++) {
		Dwarf_Attribute attr;
		const char *name;
		char *func = NULL;
		size_t k;

		if (!local_at(&scopes[i], lookup - bias, cfa, addr, &var, &start))
			continue;
		/* the function the variable belongs to: this scope's, or an enclosing one's */
		for (int j = i; j <= sub && !func; j++)
			if (dwarf_tag(&scopes[j]) == DW_TAG_subprogram ||
			    dwarf_tag(&scopes[j]) == DW_TAG_inlined_subroutine)
				func = die_func_name(&scopes[j]);
		name = dwarf_formstring(dwarf_attr_integrate(&var, DW_AT_name, &attr));
		k = snprintf(buf, len, "%s", name ?: "?");
		if (k < len)
			member_path(&var, addr - start, buf, len, &k);
		if (k < len)
			k += snprintf(buf + k, len - k, " in %s", func ?: "?");
		free(func);
		err = k < len ? 0 : -ENOSPC;
		break;
	}
cleanup:
	free(scopes);
	if (err)
		buf[0] = '\0';
	return err;
}
