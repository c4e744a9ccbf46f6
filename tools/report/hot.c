// SPDX-License-Identifier: GPL-2.0
/*
 * What the reports share about contention: the model and the findings built with the
 * report's classifier and threshold, objects' names and kernel lock types.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/contention.h"
#include "engine/findings.h"
#include "report/classify.h"
#include "report/report.h"
#include "report/symbols.h"

int cw_report__model_new(const struct cw_engine *eng, struct cw_symbols *sym,
			 const struct cw_report_target *t, struct cw_report_model *m)
{
	int err;

	memset(m, 0, sizeof(*m));
	err = cw_classifier__new(sym, &m->cls);
	if (err)
		return err;
	m->opts.classify = cw_classifier__classify;
	m->opts.ctx = m->cls;
	m->opts.hotspot_pct = t && t->hotspot_pct ? t->hotspot_pct : CW_HOTSPOT_DEFAULT_PCT;
	err = cw_contention__new(eng, &m->opts, &m->c);
	if (!err)
		err = cw_findings__new_model(eng, m->c, &m->fs);
	if (err)
		cw_report__model_fini(m);
	return err;
}

void cw_report__model_fini(struct cw_report_model *m)
{
	cw_findings__free(m->fs);
	cw_contention__free(m->c);
	cw_classifier__free(m->cls);
	memset(m, 0, sizeof(*m));
}

void cw_report__set_coverage(struct cw_report_target *t, const struct cw_engine *eng,
			     int budgeted)
{
	const struct cw_engine_counts *c = cw_engine__counts(eng);

	t->governed = budgeted || (c->ticks_no_uprobes && c->ticks_no_uprobes < c->ticks) ||
		      c->ticks_no_sched;
	t->coverage_permille = t->sched_coverage_permille = 1000;
	if (!t->governed || !c->ticks)
		return;
	t->coverage_permille = (c->ticks - c->ticks_no_uprobes) * 1000 / c->ticks;
	t->sched_coverage_permille = (c->ticks - c->ticks_no_sched) * 1000 / c->ticks;
}

int cw_report__cost(const struct cw_engine *eng, const struct cw_contention *c,
		    struct cw_report_cost *out)
{
	const struct cw_ev_cost *now = cw_engine__cost(eng);

	memset(out, 0, sizeof(*out));
	out->share_pct = out->tp_share_pct = -1;
	if (!now || cw_cost__estimate(NULL, now, &out->e))
		return -ENOENT;
	for (size_t i = 0; i < cw_contention__nr_threads(c); i++) {
		const struct cw_thread_time *tt = cw_contention__thread(c, i);

		if (tt->measured)
			out->oncpu_ns += tt->oncpu_ns;
	}
	/* the threads' times leave out the time the scheduler was not traced: the kernel's */
	if (cw_engine__counts(eng)->ticks_no_sched && now->target_cpu_ns)
		out->oncpu_ns = now->target_cpu_ns;
	out->share_pct = cw_cost__share_of(&out->e, out->oncpu_ns);
	if (out->e.bpf_stats)
		out->tp_share_pct = cw_cost__part_of(out->e.tp_ns, out->oncpu_ns);
	out->budget_pct = now->budget_ppm / 1e4;
	return 0;
}

/* Whether ip of pid lies in the C library (by the module the stream sent for it). */
static int in_libc(const struct cw_engine *eng, __u32 pid, __u64 ip)
{
	int libc = 0;

	for (size_t i = 0; i < cw_engine__nr_modules(eng); i++) {
		const struct cw_module *m = cw_engine__module(eng, i);

		if (m->pid == pid && ip >= m->start && ip < m->end)
			libc = cw_classify__is_libc(m->path);
	}
	return libc;
}

__u64 cw_report__wait_site(struct cw_symbols *sym, __u32 pid, __u64 stack_id)
{
	const struct cw_stack *st;
	struct cw_ustack s;
	__u64 ip = 0;

	st = stack_id ? cw_engine__find_stack(cw_symbols__engine(sym), pid, CW_STACK_USER,
					      stack_id) :
			NULL;
	if (!st || cw_symbols__resolve(sym, st, &s)) {
		if (st)
			cw_ustack__fini(&s);
		return 0;
	}
	/* frames past the first are return addresses, as a site is */
	for (size_t i = 1; i < s.nr && !ip; i++)
		if (s.frames[i].module && !cw_classify__is_libc(s.frames[i].module) &&
		    !s.frames[i].inlined)
			ip = s.frames[i].addr;
	cw_ustack__fini(&s);
	return ip;
}

/*
 * Where an object was first used, for its name: its first site unless that is inside
 * libc (a futex wait's own instruction), else the first frame outside libc of its top
 * waiting call path: the program's call of pthread_cond_wait, not glibc's syscall.
 */
static __u64 object_site(struct cw_symbols *sym, const struct cw_hot_object *o)
{
	const struct cw_engine *eng = cw_symbols__engine(sym);
	__u64 ip = 0;

	if (o->first_ip && !in_libc(eng, o->pid, o->first_ip))
		return o->first_ip;
	for (size_t w = 0; w < o->nr_waiters && !ip; w++)
		ip = cw_report__wait_site(sym, o->pid, o->waiters[w].stack_id);
	return ip ? ip : o->first_ip;
}

int cw_report__object_name(struct cw_symbols *sym, const struct cw_hot_object *o, char *buf,
			   size_t len)
{
	if (o->kind == CW_LOCK_KERNEL)
		return cw_symbols__klock_name(sym, o->addr, !!(o->flags & CW_SITE_F_MMAP_LOCK), buf,
					      len);
	return cw_symbols__object_name(sym, o->pid, o->addr,
				       o->views & CW_VIEW_ACQUIRE ? 0 : o->kind,
				       object_site(sym, o), buf, len);
}

/* The LCB_F_* flags of lock:contention_begin (include/trace/events/lock.h). */
#define LCB_F_SPIN (1U << 0)
#define LCB_F_READ (1U << 1)
#define LCB_F_WRITE (1U << 2)
#define LCB_F_RT (1U << 3)
#define LCB_F_PERCPU (1U << 4)
#define LCB_F_MUTEX (1U << 5)

const char *cw_report__klock_type(__u32 flags)
{
	static const struct {
		__u32 flags;
		const char *name;
	} types[] = {
		{ 0, "semaphore" },	/* down() passes no flag */
		{ LCB_F_SPIN, "spinlock" },
		{ LCB_F_SPIN | LCB_F_READ, "rwlock_read" },
		{ LCB_F_SPIN | LCB_F_WRITE, "rwlock_write" },
		{ LCB_F_READ, "rwsem_read" },
		{ LCB_F_WRITE, "rwsem_write" },
		{ LCB_F_RT, "rtmutex" },
		{ LCB_F_RT | LCB_F_READ, "rwlock_rt_read" },
		{ LCB_F_RT | LCB_F_WRITE, "rwlock_rt_write" },
		{ LCB_F_PERCPU | LCB_F_READ, "percpu_rwsem_read" },
		{ LCB_F_PERCPU | LCB_F_WRITE, "percpu_rwsem_write" },
		{ LCB_F_MUTEX, "mutex" },
		{ LCB_F_MUTEX | LCB_F_SPIN, "mutex" },	/* spinning on the owner first */
	};

	flags &= 0x3f;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].flags == flags)
			return types[i].name;
	return "unknown";
}

/* The views' names, for JSON "views". */
const char *const cw_report__view_names[3] = { "uprobes", "futex", "klock" };

/*
 * One key per call path as people see it: its frames once unwound. The kernel's stack id
 * of a call path is made from a frame-pointer walk, which in code built without frame
 * pointers can follow garbage that differs from call to call: one call path then comes
 * under many ids, each with one wait. Merged here, a call path's waits add up again.
 */
struct path_key {
	__u64 hash;
	size_t nr;
	__u32 tid;
};

static struct path_key path_key(struct cw_symbols *sym, __u32 pid, const struct cw_hot_path *p,
				int by_tid)
{
	const struct cw_stack *st;
	struct path_key k = { .hash = 1469598103934665603ULL, .tid = by_tid ? p->tid : 0 };
	struct cw_ustack s;

	st = p->stack_id ? cw_engine__find_stack(cw_symbols__engine(sym), pid, p->space,
						 p->stack_id) :
			   NULL;
	if (!st || cw_symbols__resolve(sym, st, &s)) {
		if (st)
			cw_ustack__fini(&s);
		/* not resolved: only the same id (or site) is the same path */
		k.hash ^= p->stack_id ? p->stack_id : p->ip;
		k.hash *= 1099511628211ULL;
		k.nr = (size_t)-1;
		return k;
	}
	for (size_t i = 0; i < s.nr; i++) {
		k.hash ^= s.frames[i].addr;
		k.hash *= 1099511628211ULL;
	}
	k.nr = s.nr;
	cw_ustack__fini(&s);
	return k;
}

static int by_path_wait(const void *a, const void *b)
{
	const struct cw_hot_path *x = a, *y = b;

	if (x->wait_ns_total != y->wait_ns_total)
		return x->wait_ns_total < y->wait_ns_total ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* Paths merged at most: past them, the rest are listed as they came (bounded work). */
#define MERGE_MAX 4096

int cw_report__merge_paths(struct cw_symbols *sym, __u32 pid, const struct cw_hot_path *v,
			   size_t nr, int by_tid, struct cw_hot_path **out, size_t *nr_out)
{
	struct cw_hot_path *m = malloc((nr ? nr : 1) * sizeof(*m));
	struct path_key *keys = malloc((nr ? nr : 1) * sizeof(*keys));
	size_t n = 0;

	*out = NULL;
	*nr_out = 0;
	if (!m || !keys) {
		free(m);
		free(keys);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		struct path_key k;
		size_t j;

		if (i >= MERGE_MAX) {
			m[n++] = v[i];
			continue;
		}
		k = path_key(sym, pid, &v[i], by_tid);
		for (j = 0; j < n; j++)
			if (keys[j].hash == k.hash && keys[j].nr == k.nr && keys[j].tid == k.tid)
				break;
		if (j == n) {
			keys[n] = k;
			m[n++] = v[i];
			continue;
		}
		m[j].count += v[i].count;
		m[j].wait_ns_total += v[i].wait_ns_total;
		if (v[i].wait_ns_max > m[j].wait_ns_max)
			m[j].wait_ns_max = v[i].wait_ns_max;
	}
	free(keys);
	qsort(m, n, sizeof(*m), by_path_wait);
	*out = m;
	*nr_out = n;
	return 0;
}
