// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/array.h"
#include "report/symbols.h"

struct proc_unwinder {
	__u32 pid;
	struct cw_unwinder *u;
};

struct cw_symbols {
	const struct cw_engine *eng;
	struct cw_symbols_opts opts;
	struct proc_unwinder *procs;	/* one unwinder per process, made on first use */
	size_t nr_procs, cap_procs;
	struct cw_ksyms *ksyms;
	int ksyms_failed;
};

int cw_symbols__new(const struct cw_engine *eng, const struct cw_symbols_opts *opts,
		    struct cw_symbols **out)
{
	struct cw_symbols *sym = calloc(1, sizeof(*sym));

	if (!sym)
		return -ENOMEM;
	sym->eng = eng;
	if (opts)
		sym->opts = *opts;
	*out = sym;
	return 0;
}

void cw_symbols__free(struct cw_symbols *sym)
{
	if (!sym)
		return;
	for (size_t i = 0; i < sym->nr_procs; i++)
		cw_unwinder__free(sym->procs[i].u);
	free(sym->procs);
	cw_ksyms__free(sym->ksyms);
	free(sym);
}

/*
 * The unwinder of pid, fed with the modules the stream sent for it. Kept only once every
 * module went in: after a failure the next call builds it again, never reusing one that
 * lacks modules (its stacks would lose their names silently).
 */
/*
 * Names for pid's JIT-compiled code, when its runtime wrote a perf map (node
 * --perf-basic-prof, a JVM perf map agent): /tmp/perf-PID.map in the process's mount
 * namespace while it lives, else here, as perf looks for it. None is no error: its
 * frames stay unnamed, and the stack's end says how to get names.
 */
static void load_perf_map(struct cw_unwinder *u, __u32 pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/root/tmp/perf-%u.map", pid, pid);
	if (!access(path, R_OK) && !cw_unwinder__load_perf_map(u, path))
		return;
	snprintf(path, sizeof(path), "/tmp/perf-%u.map", pid);
	if (!access(path, R_OK))
		cw_unwinder__load_perf_map(u, path);
}

static int proc_unwinder(struct cw_symbols *sym, __u32 pid, struct cw_unwinder **out)
{
	struct cw_unwinder_opts uo = { .debuginfo_path = sym->opts.debuginfo_path };
	struct cw_unwinder *u = NULL;
	struct cw_module_info *mi;
	struct proc_unwinder *p;
	int err;

	for (size_t i = 0; i < sym->nr_procs; i++) {
		if (sym->procs[i].pid == pid) {
			*out = sym->procs[i].u;
			return 0;
		}
	}
	mi = malloc(sizeof(*mi));
	if (!mi)
		return -ENOMEM;
	err = cw_unwinder__new(&uo, &u);
	for (size_t i = 0; !err && i < cw_engine__nr_modules(sym->eng); i++) {
		const struct cw_module *m = cw_engine__module(sym->eng, i);

		if (m->pid != pid)
			continue;
		memset(mi, 0, sizeof(*mi));
		mi->start = m->start;
		mi->end = m->end;
		mi->pgoff = m->pgoff;
		mi->inode = m->inode;
		mi->dev = m->dev;
		mi->build_id_len = m->build_id_len;
		memcpy(mi->build_id, m->build_id, sizeof(mi->build_id));
		mi->deleted = !!(m->flags & CW_MODULE_DELETED);
		snprintf(mi->path, sizeof(mi->path), "%s", m->path);
		/*
		 * While the process lives, map_files leads to the very file it mapped, even one
		 * deleted or replaced since; else its mount namespace's path; else the path.
		 */
		mi->open_path[0] = '\0';
		if (sym->opts.live_pid == (int)pid) {
			snprintf(mi->open_path, sizeof(mi->open_path), "/proc/%u/map_files/%llx-%llx",
				 pid, (unsigned long long)m->start, (unsigned long long)m->end);
			if (access(mi->open_path, R_OK))
				snprintf(mi->open_path, sizeof(mi->open_path), "/proc/%u/root%s", pid,
					 m->path);
		}
		if (!mi->open_path[0] || access(mi->open_path, R_OK))
			snprintf(mi->open_path, sizeof(mi->open_path), "%s", m->path);
		err = cw_unwinder__add_module(u, mi);
	}
	free(mi);
	if (!err)
		load_perf_map(u, pid);
	if (err)
		goto cleanup;
	p = cw_grow(sym->procs, &sym->cap_procs, sym->nr_procs + 1, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto cleanup;
	}
	sym->procs = p;
	sym->procs[sym->nr_procs++] = (struct proc_unwinder){ .pid = pid, .u = u };
	*out = u;
	return 0;
cleanup:
	cw_unwinder__free(u);
	return err;
}

/* Frames of the tracing machinery itself, at the top of a kernel stack. */
static int tracing_frame(const char *name)
{
	return !strncmp(name, "bpf_", 4) || !strncmp(name, "__bpf_", 6) ||
	       !strncmp(name, "bpf_trace_run", 13) || !strncmp(name, "trace_contention", 16) ||
	       strstr(name, "[bpf]");
}

static int resolve_kernel(struct cw_symbols *sym, const struct cw_stack *st, struct cw_ustack *out)
{
	size_t skip = 0;
	int err;

	if (!sym->ksyms && !sym->ksyms_failed) {
		err = cw_ksyms__load(&sym->ksyms);
		if (err)
			sym->ksyms_failed = 1;
	}
	out->frames = calloc(st->nr ? st->nr : 1, sizeof(*out->frames));
	if (!out->frames)
		return -ENOMEM;
	for (__u32 i = 0; i < st->nr; i++) {
		struct cw_frame *f = &out->frames[out->nr];
		const char *name = NULL, *mod = NULL;
		__u64 off = 0;

		if (sym->ksyms)
			cw_ksyms__resolve_module(sym->ksyms, st->ips[i], &name, &off, &mod);
		/*
		 * The first frames are the tracing code's own: the BPF program (no name, or
		 * module "bpf"), its trampoline. Without kallsyms nothing is named: keep all.
		 */
		if (sym->ksyms && out->nr == 0 && skip == i &&
		    (!name || tracing_frame(name) || (mod && !strcmp(mod, "bpf")))) {
			skip++;
			continue;
		}
		f->addr = st->ips[i];
		f->module = mod ? mod : "kernel";
		if (name) {
			f->func = strdup(name);
			if (!f->func)
				return -ENOMEM;
			f->func_offset = off;
		}
		out->nr++;
	}
	out->end = st->flags & CW_STACK_TRUNCATED ? CW_STACK_END_TRUNCATED : CW_STACK_END_COMPLETE;
	if (sym->ksyms_failed)
		snprintf(out->why, sizeof(out->why), "kernel symbols unreadable (/proc/kallsyms)");
	return 0;
}

int cw_symbols__resolve(struct cw_symbols *sym, const struct cw_stack *st, struct cw_ustack *out)
{
	struct cw_unwinder *u;
	int err;

	memset(out, 0, sizeof(*out));
	if (st->space == CW_STACK_KERNEL)
		return resolve_kernel(sym, st, out);
	err = proc_unwinder(sym, st->pid, &u);
	if (err)
		return err;
	if (st->has_raw) {
		struct cw_regs regs = { .ip = st->ip, .sp = st->sp, .bp = st->bp };

		return cw_unwinder__unwind(u, &regs, st->raw, st->raw_len, out);
	}
	err = cw_unwinder__symbolize(u, st->ips, st->nr, out);
	if (!err && (st->flags & CW_STACK_TRUNCATED)) {
		/* the probe's frame-pointer walk hit its depth: there is more than it saw */
		out->end = CW_STACK_END_TRUNCATED;
		snprintf(out->why, sizeof(out->why), "frame-pointer walk stopped at its depth limit");
	}
	if (!err && out->end != CW_STACK_END_COMPLETE) {
		static const char only[] = "frame-pointer stack only (no stack copy): ";
		size_t len = strnlen(out->why, sizeof(out->why) - sizeof(only));

		/* say why there was nothing better than a frame-pointer walk */
		memmove(out->why + sizeof(only) - 1, out->why, len);
		memcpy(out->why, only, sizeof(only) - 1);
		out->why[sizeof(only) - 1 + len] = '\0';
	}
	return err;
}

const struct cw_engine *cw_symbols__engine(const struct cw_symbols *sym)
{
	return sym->eng;
}

int cw_symbols__module_offset(struct cw_symbols *sym, __u32 pid, __u64 ip, char *buf, size_t len)
{
	const struct cw_module *found = NULL;
	const char *base;

	/* the latest mapping wins: the process may have mapped something else there since */
	for (size_t i = 0; i < cw_engine__nr_modules(sym->eng); i++) {
		const struct cw_module *m = cw_engine__module(sym->eng, i);

		if (m->pid == pid && ip >= m->start && ip < m->end && m->path)
			found = m;
	}
	if (!found)
		return -ENOENT;
	base = strrchr(found->path, '/');
	base = base && base[1] ? base + 1 : found->path;
	/* a name that does not fit is not cut: a path cut in the middle names nothing */
	if ((size_t)snprintf(buf, len, "%s+0x%llx", base,
			     (unsigned long long)(ip - found->start + found->pgoff)) >= len) {
		snprintf(buf, len, "0x%llx", (unsigned long long)ip);
		return -ENOSPC;
	}
	return 0;
}

/* How a site was named (site_name()'s return). */
enum { SITE_ADDR, SITE_MODULE, SITE_FUNC };

/*
 * The site's name: SITE_FUNC with its function, SITE_MODULE with only its module and
 * offset ("memcached+0x1bca1", a stripped module), SITE_ADDR with its address; *err is
 * what failed on the way (0 when nothing did).
 */
static int site_name(struct cw_symbols *sym, __u32 pid, __u64 ip, char *buf, size_t len,
		     int *err)
{
	struct cw_ustack s = {};
	const struct cw_frame *f;
	struct cw_unwinder *u;
	__u64 pc = ip - 1;	/* a return address: the call is the instruction before */
	int how = SITE_FUNC;

	buf[0] = '\0';
	*err = proc_unwinder(sym, pid, &u);
	if (!*err)
		*err = cw_unwinder__symbolize(u, &pc, 1, &s);
	if (*err || !s.nr) {
		cw_ustack__fini(&s);
		if (!cw_symbols__module_offset(sym, pid, ip, buf, len))
			return SITE_MODULE;
		snprintf(buf, len, "0x%llx", (unsigned long long)ip);
		return SITE_ADDR;
	}
	/*
	 * The innermost inlined function when it has a line (the code was inlined there),
	 * else the outermost frame at pc: the function the call is written in.
	 */
	f = &s.frames[0];
	if (!(f->inlined && f->func && f->file))
		for (size_t i = 0; i < s.nr && f->inlined; i++)
			f = &s.frames[i];
	if (f->func && f->file)
		snprintf(buf, len, "%s (%s:%d)", f->func,
			 strrchr(f->file, '/') ? strrchr(f->file, '/') + 1 : f->file, f->line);
	else if (f->func)
		snprintf(buf, len, "%s+0x%llx", f->func, (unsigned long long)f->func_offset);
	else if (!cw_symbols__module_offset(sym, pid, ip, buf, len))
		how = SITE_MODULE;
	else {
		snprintf(buf, len, "0x%llx [%s]", (unsigned long long)ip, f->module ? f->module : "?");
		how = SITE_ADDR;
	}
	cw_ustack__fini(&s);
	return how;
}

int cw_symbols__site(struct cw_symbols *sym, __u32 pid, __u64 ip, char *buf, size_t len)
{
	int err;

	site_name(sym, pid, ip, buf, len, &err);
	return err;
}

/*
 * Whether addr lies on a stack the stream copied for pid (2 when a frame's local variable
 * holds it: its name in buf), 1 when on a stack without a known variable, 0 when on none.
 * The lock's own call paths first, walked when their stack pointer lies at most
 * STACK_SPAN below it (the frame that declared it is often above the copy's top, which a
 * walk finds); then any other copy of the process that holds the address itself. A lock
 * elsewhere costs no walk, and a heap lock at most one per call path of its own.
 */
#define STACK_SPAN (8ULL << 20)

static int stack_variable(struct cw_symbols *sym, struct cw_unwinder *u, const struct cw_lock *l,
			  __u32 pid, __u64 addr, char *buf, size_t len)
{
	size_t nr_sites = l ? l->nr_sites : 0, nr = cw_engine__nr_stacks(sym->eng);
	int on_stack = 0;

	for (size_t i = 0; i < nr_sites + nr; i++) {
		const struct cw_stack *st;
		struct cw_regs regs;
		int err;

		if (i < nr_sites) {
			st = l->sites[i].stack_id ?
				     cw_engine__find_stack(sym->eng, pid, CW_STACK_USER,
							   l->sites[i].stack_id) : NULL;
		} else {
			st = cw_engine__stack(sym->eng, i - nr_sites);
			/* a site's, seen already */
			for (size_t k = 0; st && k < nr_sites; k++)
				if (l->sites[k].stack_id == st->id)
					st = NULL;
		}
		if (!st || st->pid != pid || st->space != CW_STACK_USER || !st->has_raw ||
		    addr < st->sp || addr - st->sp >= (i < nr_sites ? STACK_SPAN : st->raw_len))
			continue;
		regs = (struct cw_regs){ .ip = st->ip, .sp = st->sp, .bp = st->bp };
		err = cw_unwinder__stack_variable(u, &regs, st->raw, st->raw_len, addr, buf, len);
		if (!err)
			return 2;
		if (err == -ENOENT)
			on_stack = 1;
	}
	buf[0] = '\0';
	return on_stack;
}

int cw_symbols__klock_name(struct cw_symbols *sym, __u64 addr, int mmap_lock, char *buf,
			   size_t len)
{
	const char *name;
	__u64 off;

	/* mmap_lock lives in each mm_struct: no symbol, recognised by the tracer */
	if (mmap_lock) {
		snprintf(buf, len, "mmap_lock");
		return CW_LOCK_NAMED_SYMBOL;
	}
	if (!sym->ksyms && !sym->ksyms_failed && cw_ksyms__load(&sym->ksyms))
		sym->ksyms_failed = 1;
	/* a static kernel lock (cgroup_mutex) has a symbol; one in a structure not */
	if (sym->ksyms && !cw_ksyms__resolve(sym->ksyms, addr, &name, &off) && !off) {
		snprintf(buf, len, "%s", name);
		return CW_LOCK_NAMED_SYMBOL;
	}
	snprintf(buf, len, "kernel lock 0x%llx", (unsigned long long)addr);
	return CW_LOCK_NAMED_ADDR;
}

int cw_symbols__object_name(struct cw_symbols *sym, __u32 pid, __u64 addr, unsigned int kind,
			    __u64 site_ip, char *buf, size_t len)
{
	const struct cw_lock *l = cw_engine__find_lock(sym->eng, pid, addr);
	struct cw_unwinder *u;
	char where[256];
	int err, on_stack;

	if (kind == CW_LOCK_KERNEL || (l && l->kind == CW_LOCK_KERNEL))
		return cw_symbols__klock_name(sym, addr,
					      l && (l->site_flags & CW_SITE_F_MMAP_LOCK), buf, len);
	err = proc_unwinder(sym, pid, &u);
	if (!err && !cw_unwinder__data_symbol(u, addr, buf, len)) {
		/*
		 * The object is the variable, not glibc's insides of it: "ping_cond", not
		 * "ping_cond.__data.__wseq.__value64" (its first member's path).
		 */
		static const char *const insides[] = { ".__data", ".__size", ".__align" };

		for (size_t i = 0; i < sizeof(insides) / sizeof(insides[0]); i++) {
			char *in = strstr(buf, insides[i]);

			if (in && in > buf)
				*in = '\0';
		}
		return CW_LOCK_NAMED_SYMBOL;
	}
	/* a joined thread's tid word lives in its descriptor: no variable names it */
	on_stack = err || kind == CW_LOCK_THREAD ? 0 :
						   stack_variable(sym, u, l, pid, addr, buf, len);
	if (on_stack == 2)
		return CW_LOCK_NAMED_SYMBOL;
	if (l && l->init_ip) {
		cw_symbols__site(sym, pid, l->init_ip, where, sizeof(where));
		snprintf(buf, len, "%s lock initialised at %s", on_stack ? "stack" : "heap", where);
		return CW_LOCK_NAMED_INIT;
	}
	if (l && l->first_ip)
		site_ip = l->first_ip;
	if (site_ip) {
		/* a stripped module: its name and the site's offset are the name */
		if (site_name(sym, pid, site_ip, where, sizeof(where), &err) == SITE_MODULE) {
			snprintf(buf, len, "%s", where);
			return CW_LOCK_NAMED_SITE;
		}
		if (kind == CW_LOCK_THREAD)
			snprintf(buf, len, "thread joined at %s", where);
		else if (kind && kind != CW_LOCK_MUTEX && kind != CW_LOCK_RWLOCK &&
			 kind != CW_LOCK_SPIN && kind != CW_LOCK_LIBC)
			snprintf(buf, len, "%s%s first waited on at %s", on_stack ? "stack " : "",
				 cw_lock_kind__name(kind), where);
		else
			snprintf(buf, len, "%slock first acquired at %s", on_stack ? "stack " : "",
				 where);
		return CW_LOCK_NAMED_SITE;
	}
	snprintf(buf, len, "lock 0x%llx", (unsigned long long)addr);
	return CW_LOCK_NAMED_ADDR;
}

int cw_symbols__lock_name(struct cw_symbols *sym, __u32 pid, __u64 addr, __u64 site_ip,
			  char *buf, size_t len)
{
	return cw_symbols__object_name(sym, pid, addr, 0, site_ip, buf, len);
}
