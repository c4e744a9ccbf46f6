// SPDX-License-Identifier: GPL-2.0
/*
 * The renderers of deadlock findings (render.c's table), in the spirit of the kernel's
 * hung-task and lockdep reports: each thread of the hang, what it waits on (the lock
 * named as the rest of the report names locks, and its address), who holds that, and
 * the thread's stack. The engine's wait-for graph (engine/waitfor.h) decided what is a
 * hang; here it is only drawn. Also the list of every blocked thread, for `concwatch
 * deadlock` when there is no hang, and the "blocked" member of the JSON report: there a
 * futex word is named by what it belongs to (classify.c: a condition variable, which
 * nobody holds, is not a lock whose holder is unknown), and threads in the same wait
 * with the same frames (a pool of idle workers) are one entry with one stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/findings.h"
#include "engine/waitfor.h"
#include "report/classify.h"
#include "report/report.h"
#include "report/symbols.h"

#define NAME_LEN 256

/* x86-64 system calls a thread is commonly found waiting in. */
const char *cw_report__syscall_name(__u32 nr)
{
	static const struct {
		__u32 nr;
		const char *name;
	} names[] = {
		{ 0, "read" }, { 1, "write" }, { 2, "open" }, { 7, "poll" }, { 17, "pread64" },
		{ 18, "pwrite64" }, { 19, "readv" }, { 20, "writev" }, { 23, "select" },
		{ 34, "pause" }, { 35, "nanosleep" }, { 42, "connect" }, { 43, "accept" },
		{ 44, "sendto" }, { 45, "recvfrom" }, { 46, "sendmsg" }, { 47, "recvmsg" },
		{ 61, "wait4" }, { 74, "fsync" }, { 75, "fdatasync" }, { 128, "rt_sigtimedwait" },
		{ 130, "rt_sigsuspend" }, { 202, "futex" }, { 230, "clock_nanosleep" },
		{ 232, "epoll_wait" }, { 247, "waitid" }, { 257, "openat" }, { 270, "pselect6" },
		{ 271, "ppoll" }, { 277, "sync_file_range" }, { 281, "epoll_pwait" },
		{ 288, "accept4" }, { 426, "io_uring_enter" }, { 441, "epoll_pwait2" },
		{ 449, "futex_waitv" }, { 455, "futex_wait" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == nr)
			return names[i].name;
	return NULL;
}

const char *cw_report__offcpu_name(__u8 reason)
{
	switch (reason) {
	case CW_OFFCPU_LOCK:
		return "lock";
	case CW_OFFCPU_FUTEX:
		return "futex";
	case CW_OFFCPU_KLOCK:
		return "kernel_lock";
	case CW_OFFCPU_IO:
		return "io";
	case CW_OFFCPU_SLEEP:
		return "sleep";
	default:
		return "unknown";
	}
}

static const char *lock_type(__u8 type)
{
	return cw_lock_kind__name(type == CW_LOCK_COND ? CW_LOCK_MUTEX : type);
}

static const char *text_comm(const struct cw_engine *eng, __u32 pid, __u32 tid,
			     char buf[CW_SAFE_COMM_LEN])
{
	return cw_report__text_safe(cw_report__comm(eng, pid, tid), CW_COMM_LEN, buf,
				    CW_SAFE_COMM_LEN);
}

static const struct cw_stack *find_stack(const struct cw_engine *eng, __u32 pid, __u64 id)
{
	return id ? cw_engine__find_stack(eng, pid, CW_STACK_USER, id) : NULL;
}

static void text_stack(const struct cw_render *r, __u32 pid, __u64 id, const char *indent)
{
	if (!id) {
		fprintf(r->out, "%s(no stack)\n", indent);
		return;
	}
	cw_report__text_stack_of(r->out, r->sym, find_stack(r->eng, pid, id), indent);
}

static void json_stack(const struct cw_render *r, __u32 pid, __u64 id)
{
	const struct cw_stack *st = find_stack(r->eng, pid, id);
	struct cw_ustack s = {};

	if (st && !cw_symbols__resolve(r->sym, st, &s))
		cw_report__json_frames(r->out, &s);
	else
		fputs("[]", r->out);
	cw_ustack__fini(&s);
}

/* A lock as the report names it: a variable, or its init or first acquisition site. */
static void lock_name(const struct cw_render *r, __u32 pid, __u64 addr, __u64 ip, char *buf,
		      size_t len)
{
	cw_symbols__lock_name(r->sym, pid, addr, ip, buf, len);
}

/* The ip naming a lock the finding does not carry (the blocked list): its first acquisition. */
static __u64 lock_ip(const struct cw_engine *eng, __u32 pid, __u64 addr)
{
	const struct cw_lock *l = cw_engine__find_lock(eng, pid, addr);

	return l ? l->first_ip : 0;
}

/* "in read()", or "in system call 999" or "in a system call". */
const char *cw_report__syscall_in(char *buf, size_t len, __u32 nr)
{
	const char *name = cw_report__syscall_name(nr);

	if (name)
		snprintf(buf, len, "in %s()", name);
	else if (nr != ~0U)
		snprintf(buf, len, "in system call %u", nr);
	else
		snprintf(buf, len, "in a system call");
	return buf;
}

/*
 * What a blocked thread waits on, as the rest of the report names objects: the futex word
 * of a wait found by looking is classified by the libc entry point in its stack (as the
 * contention report's objects are: classify.c), so a thread in pthread_cond_wait waits on
 * the condition variable, which nobody holds, not on a "lock" whose holder is unknown.
 */
struct wait_obj {
	__u8 kind;		/* CW_LOCK_*; CW_LOCK_FUTEX when not known */
	__u64 object;		/* the object (the futex word less its offset in it) */
	int named;		/* CW_LOCK_NAMED_* */
	char name[NAME_LEN];
};

/* Kinds nobody holds: a wait on them is for an event, so no holder is looked for. */
static int no_holder(__u8 kind)
{
	return CW_LOCK_WAITS_FOR_WORK(kind);
}

static void wait_object(const struct cw_render *r, struct cw_classifier *cls, __u32 pid,
			__u64 addr, __u8 kind, __u8 reason, __u32 futex_op, __u64 stack_id,
			struct wait_obj *o)
{
	struct cw_futex_class fc;
	__u64 site;

	o->kind = kind ?: CW_LOCK_FUTEX;
	o->object = addr;
	o->named = 0;
	o->name[0] = '\0';
	if (!addr)
		return;
	if (reason == CW_OFFCPU_FUTEX && cls &&
	    !cw_classifier__classify(cls, pid, addr, stack_id, futex_op, &fc)) {
		o->kind = fc.kind;
		o->object = fc.object;
	} else if (reason == CW_OFFCPU_FUTEX && o->kind == CW_LOCK_RWLOCK) {
		/* the word its memory showed: __wrphase_futex (+8) or __writers_futex (+12) */
		o->object = addr - (addr & 4 ? 12 : 8);
	}
	site = lock_ip(r->eng, pid, o->object);
	if (no_holder(o->kind)) {
		/* named by the program's call of the wait when no variable names it */
		if (!site)
			site = cw_report__wait_site(r->sym, pid, stack_id);
		o->named = cw_symbols__object_name(r->sym, pid, o->object, o->kind, site,
						   o->name, sizeof(o->name));
	} else {
		o->named = cw_symbols__lock_name(r->sym, pid, o->object, site, o->name,
						 sizeof(o->name));
	}
}

static const char *kind_noun(__u8 kind)
{
	switch (kind) {
	case CW_LOCK_COND:
		return "condition variable";
	case CW_LOCK_SEM:
		return "semaphore";
	case CW_LOCK_BARRIER:
		return "barrier";
	default:
		return cw_lock_kind__name(kind);
	}
}

/*
 * The wait itself, after the thread's name ("waits on ..."); plural: for several threads
 * ("wait on ...").
 */
static void text_what(const struct cw_render *r, __u32 pid, __u32 tid, const struct wait_obj *o,
		      __u8 reason, __u32 syscall, __u32 holder, int holder_exited,
		      __u32 readers, int plural)
{
	char comm[CW_SAFE_COMM_LEN], name[NAME_LEN * 4], buf[64];
	const char *s = plural ? "" : "s";
	FILE *out = r->out;

	if (!o->object) {
		fprintf(out, "%s blocked %s, outside any lock (%s)\n", plural ? "are" : "is",
			cw_report__syscall_in(buf, sizeof(buf), syscall),
			reason == CW_OFFCPU_IO ? "uninterruptible" : "interruptible");
		return;
	}
	cw_report__text_safe(o->name, sizeof(o->name), name, sizeof(name));
	if (o->kind == CW_LOCK_THREAD) {
		fprintf(out, "wait%s for a thread to exit, %s (0x%llx)\n", s, name,
			(unsigned long long)o->object);
		return;
	}
	if (no_holder(o->kind)) {
		/* nobody holds these: the thread waits for a signal, a post, the others */
		if (o->named == CW_LOCK_NAMED_ADDR)
			fprintf(out, "wait%s %s %s 0x%llx\n", s,
				o->kind == CW_LOCK_BARRIER ? "at" : "on",
				kind_noun(o->kind), (unsigned long long)o->object);
		else
			fprintf(out, "wait%s %s %s %s (0x%llx)\n", s,
				o->kind == CW_LOCK_BARRIER ? "at" : "on", kind_noun(o->kind), name,
				(unsigned long long)o->object);
		return;
	}
	fprintf(out, "wait%s on %s (%s 0x%llx)", s, name, lock_type(o->kind),
		(unsigned long long)o->object);
	if (holder == tid && !plural)
		fprintf(out, ", which it holds itself\n");
	else if (holder && holder_exited)
		fprintf(out, ", held by thread %u, which has exited\n", holder);
	else if (holder)
		fprintf(out, ", held by %s/%u\n", text_comm(r->eng, pid, holder, comm), holder);
	else if (o->kind == CW_LOCK_RWLOCK && readers)
		fprintf(out, ", held by %u reader%s, which one%s not known\n", readers,
			readers == 1 ? "" : "s", readers == 1 ? " is" : "s are");
	else
		fprintf(out, ", holder not known\n");
}

/*
 * One thread's wait in a deadlock, on one line, then its stack: the lock as the finding
 * has it (its waits are on locks, which have holders; a traced cond_wait's is its mutex).
 */
static void text_wait(const struct cw_render *r, __u32 pid, __u32 tid, __u64 addr, __u8 kind,
		      __u64 ip, __u8 reason, __u32 syscall, __u32 holder, int holder_exited,
		      __u64 stack_id, const char *indent)
{
	struct wait_obj o = { .kind = kind == CW_LOCK_COND ? CW_LOCK_MUTEX : kind, .object = addr };
	char comm[CW_SAFE_COMM_LEN];

	if (no_holder(o.kind))
		o.kind = CW_LOCK_FUTEX;
	if (addr)
		o.named = cw_symbols__lock_name(r->sym, pid, addr, ip, o.name, sizeof(o.name));
	fprintf(r->out, "%s%s/%u ", indent, text_comm(r->eng, pid, tid, comm), tid);
	text_what(r, pid, tid, &o, reason, syscall, holder, holder_exited, 0, 0);
	text_stack(r, pid, stack_id, "      ");
}

static const char *headline(const struct cw_finding *f)
{
	switch (f->deadlock.rule) {
	case CW_DEADLOCK_CYCLE:
		return "ERROR: deadlock: threads wait on each other in a cycle";
	case CW_DEADLOCK_SELF:
		return "ERROR: deadlock: a thread waits on a lock it holds itself";
	case CW_DEADLOCK_OWNER_EXITED:
		return "ERROR: deadlock: threads wait on a lock whose holder has exited";
	default:
		return "WARNING: blocked, maybe forever: the holder of a lock waits in a system "
		       "call";
	}
}

/* When it formed: on the trace's clock, or before concwatch looked. */
static void text_formed(const struct cw_render *r, const struct cw_deadlock *d)
{
	__u64 first = cw_engine__first_ts(r->eng);
	char buf[32], win[32];

	if (!d->formed_ns)
		fprintf(r->out, "It was there when concwatch looked: when it formed is not known.\n");
	else if (d->formed_ns >= first)
		fprintf(r->out, "Formed %s after tracing began, and lasted past the %s window.\n",
			cw_report__fmt_ns(buf, sizeof(buf), d->formed_ns - first),
			cw_report__fmt_ns(win, sizeof(win), cw_wf__window(cw_engine__waitfor(r->eng))));
	else
		fprintf(r->out, "Formed %s before tracing began.\n",
			cw_report__fmt_ns(buf, sizeof(buf), first - d->formed_ns));
}

static void text_finding(const struct cw_render *r, const struct cw_finding *f, size_t number)
{
	const struct cw_deadlock *d = &f->deadlock;
	__u32 pid = f->threads[0].pid;
	FILE *out = r->out;

	fprintf(out, "\n======================================================\n");
	fprintf(out, "%s\n", headline(f));
	fprintf(out, "finding %zu: deadlock (%s), process %u, %zu thread%s\n", number,
		cw_deadlock_rule__name(d->rule), pid, d->nr_links, d->nr_links == 1 ? "" : "s");
	fprintf(out, "------------------------------------------------------\n");
	text_formed(r, d);
	fputc('\n', out);
	for (size_t i = 0; i < d->nr_links; i++) {
		const struct cw_deadlock_link *l = &d->links[i];
		const struct cw_finding_lock *fl = l->lock < f->nr_locks ? &f->locks[l->lock] : NULL;

		text_wait(r, pid, l->tid, fl ? fl->addr : 0, fl ? fl->type : 0, fl ? fl->ip : 0,
			  l->reason, l->syscall, l->holder_tid, l->holder_exited,
			  f->stacks[l->stack].id, "  ");
	}
	switch (d->rule) {
	case CW_DEADLOCK_CYCLE:
		fprintf(out, "\nEach waits on a lock the next one holds: none of them can go on.\n");
		break;
	case CW_DEADLOCK_SELF:
		fprintf(out, "\nA mutex that is not recursive, locked again by its holder: it waits "
			     "for itself.\n");
		break;
	case CW_DEADLOCK_OWNER_EXITED:
		fprintf(out, "\nThe holder ended without unlocking it: nobody can (a robust mutex "
			     "would say EOWNERDEAD).\n");
		break;
	default:
		fprintf(out, "\nThe holder waits outside the process: when what it waits for "
			     "comes, they go on; if it never comes, they wait forever.\n");
		break;
	}
	for (size_t i = 0; i < d->nr_links; i++)
		if (d->links[i].upstream) {
			fprintf(out, "Threads waiting on locks the waiters hold are stuck as long "
				     "as they are.\n");
			break;
		}
	fprintf(out, "\n *** %s ***\n", d->rule == CW_DEADLOCK_BLOCKED_OUTSIDE ? "BLOCKED" :
										  "DEADLOCK");
}

/* After every finding: with -v, the threads blocked now. */
static void text_rest(const struct cw_render *r)
{
	if (r->verbose)
		cw_report__blocked_text(r, 0);
	if (cw_findings__truncated(r->fs, CW_FINDING_DEADLOCK))
		fprintf(r->out, "\nThe search for cycles of waits stopped at its bounds: there may "
				"be more.\n");
}

/* Whether thread (pid, tid) is in a reported deadlock finding of r->fs. */
static int in_finding(const struct cw_render *r, __u32 pid, __u32 tid)
{
	for (size_t i = 0; r->fs && i < cw_findings__nr(r->fs); i++) {
		const struct cw_finding *f = cw_findings__get(r->fs, i);

		if (f->kind != CW_FINDING_DEADLOCK || !cw_finding__reported(f))
			continue;
		for (size_t k = 0; k < f->deadlock.nr_links; k++)
			if (f->threads[0].pid == pid && f->deadlock.links[k].tid == tid)
				return 1;
	}
	return 0;
}

/*
 * Which threads the blocked list shows as one: the same wait (object, holder, system
 * call) and the same frames once unwound (a pool of workers idle in one place); a stack
 * not unwound is only its own.
 */
struct blocked_key {
	struct wait_obj o;
	__u64 frames_hash;
	size_t nr_frames;	/* (size_t)-1: not unwound, the hash is the stack id */
	size_t group;		/* the index of the first thread of its group */
};

static void frames_key(const struct cw_render *r, const struct cw_wf_wait *w,
		       struct blocked_key *k)
{
	const struct cw_stack *st = find_stack(r->eng, w->pid, w->stack_id);
	struct cw_ustack s;

	k->frames_hash = 1469598103934665603ULL;
	k->nr_frames = (size_t)-1;
	if (!st || cw_symbols__resolve(r->sym, st, &s)) {
		if (st)
			cw_ustack__fini(&s);
		k->frames_hash = w->stack_id ? w->stack_id ^ ((__u64)w->tid << 32) : 0;
		return;
	}
	for (size_t i = 0; i < s.nr; i++) {
		k->frames_hash ^= s.frames[i].addr;
		k->frames_hash *= 1099511628211ULL;
	}
	k->frames_hash ^= s.end;
	k->nr_frames = s.nr;
	cw_ustack__fini(&s);
}

static int same_wait(const struct cw_wf_wait *a, const struct blocked_key *ka,
		     const struct cw_wf_wait *b, const struct blocked_key *kb)
{
	return a->pid == b->pid && ka->o.object == kb->o.object && ka->o.kind == kb->o.kind &&
	       a->reason == b->reason && a->syscall == b->syscall &&
	       a->holder_tid == b->holder_tid && a->holder_exited == b->holder_exited &&
	       a->readers == b->readers && a->holder_tid != a->tid &&
	       b->holder_tid != b->tid && ka->nr_frames != (size_t)-1 &&
	       ka->nr_frames == kb->nr_frames && ka->frames_hash == kb->frames_hash &&
	       !strcmp(ka->o.name, kb->o.name);
}

/* The threads blocked now; with others, only those no finding showed. */
static void blocked_text(const struct cw_render *r, int say_none, int others)
{
	struct cw_classifier *cls = NULL;
	struct blocked_key *keys = NULL;
	struct cw_wf_wait *v;
	size_t n, shown = 0;

	if (cw_wf__blocked(cw_engine__waitfor(r->eng), r->eng, &v, &n)) {
		fprintf(r->out, "\n(blocked threads: out of memory)\n");
		return;
	}
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys || cw_classifier__new(r->sym, &cls)) {
		fprintf(r->out, "\n(blocked threads: out of memory)\n");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		keys[i].group = i;
		if (others && in_finding(r, v[i].pid, v[i].tid)) {
			keys[i].group = (size_t)-1;
			continue;
		}
		wait_object(r, cls, v[i].pid, v[i].addr, v[i].kind, v[i].reason, v[i].futex_op,
			    v[i].stack_id, &keys[i].o);
		frames_key(r, &v[i], &keys[i]);
		for (size_t j = 0; j < i; j++)
			if (keys[j].group == j && same_wait(&v[j], &keys[j], &v[i], &keys[i])) {
				keys[i].group = j;
				break;
			}
	}
	for (size_t i = 0; i < n; i++) {
		char comm[CW_SAFE_COMM_LEN];
		size_t members = 0;

		if (keys[i].group != i)
			continue;
		if (!shown++)
			fprintf(r->out, "\n%s:\n", others ? "Other threads blocked now" :
							    "Threads blocked now");
		fputs("  ", r->out);
		for (size_t j = i; j < n; j++) {
			if (keys[j].group != i)
				continue;
			fprintf(r->out, "%s%s/%u", members++ ? ", " : "",
				text_comm(r->eng, v[j].pid, v[j].tid, comm), v[j].tid);
		}
		fputc(' ', r->out);
		text_what(r, v[i].pid, v[i].tid, &keys[i].o, v[i].reason, v[i].syscall,
			  v[i].holder_tid, v[i].holder_exited, v[i].readers, members > 1);
		text_stack(r, v[i].pid, v[i].stack_id, "      ");
	}
	if (!shown && say_none)
		fprintf(r->out, "\nNo thread is blocked%s.\n", others ? " but those" : "");
cleanup:
	cw_classifier__free(cls);
	free(keys);
	free(v);
}

void cw_report__blocked_text(const struct cw_render *r, int say_none)
{
	blocked_text(r, say_none, 0);
}

/* --- JSON --------------------------------------------------------------------------- */

static void json_u64_or_null(FILE *out, __u64 v, int known)
{
	if (known)
		fprintf(out, "%llu", (unsigned long long)v);
	else
		fputs("null", out);
}

/*
 * One wait as an object: {tid, comm, waits_on, held_by, ...}; what waits_on (a futex word)
 * belongs to as object, object_kind, object_name; readers of an rwlock its memory counted.
 */
static void json_wait(const struct cw_render *r, struct cw_classifier *cls, __u32 pid,
		      __u32 tid, __u64 addr, __u8 kind, __u32 holder, int holder_exited,
		      __u8 reason, __u32 syscall, __u32 futex_op, __u32 readers, __u64 since_ns,
		      __u64 stack_id)
{
	struct wait_obj o;
	FILE *out = r->out;

	wait_object(r, cls, pid, addr, kind, reason, futex_op, stack_id, &o);

	fprintf(out, "{\"tid\": %u, \"comm\": ", tid);
	cw_report__json_string(out, cw_report__comm(r->eng, pid, tid), CW_COMM_LEN);
	fputs(", \"waits_on\": ", out);
	if (addr)
		fprintf(out, "\"0x%llx\"", (unsigned long long)addr);
	else
		fputs("null", out);
	fputs(", \"held_by\": ", out);
	json_u64_or_null(out, holder, holder != 0);
	fprintf(out, ", \"holder_exited\": %s, \"reason\": \"%s\", \"syscall\": ",
		holder_exited ? "true" : "false", cw_report__offcpu_name(reason));
	json_u64_or_null(out, syscall, !addr && syscall != ~0U);
	fputs(", \"syscall_name\": ", out);
	cw_report__json_string(out, addr ? NULL : cw_report__syscall_name(syscall), 32);
	fputs(", \"since_ns\": ", out);
	json_u64_or_null(out, since_ns, since_ns != 0);
	fputs(", \"object\": ", out);
	if (addr)
		fprintf(out, "\"0x%llx\"", (unsigned long long)o.object);
	else
		fputs("null", out);
	fputs(", \"object_kind\": ", out);
	cw_report__json_string(out, addr ? cw_lock_kind__name(o.kind) : NULL, 32);
	fputs(", \"object_name\": ", out);
	cw_report__json_string(out, addr ? o.name : NULL, sizeof(o.name));
	fputs(", \"readers\": ", out);
	json_u64_or_null(out, readers, readers != 0);
	fputs(", \"stack\": ", out);
	json_stack(r, pid, stack_id);
	fputc('}', out);
}

static void json_finding(const struct cw_render *r, const struct cw_finding *f)
{
	const struct cw_deadlock *d = &f->deadlock;
	__u32 pid = f->threads[0].pid;
	char name[NAME_LEN], summary[NAME_LEN + 128], more[64] = "";
	struct cw_classifier *cls = NULL;
	size_t upstream = 0, n;
	FILE *out = r->out;

	/* without memory the waits are only not classified */
	if (cw_classifier__new(r->sym, &cls))
		cls = NULL;
	fprintf(out, "{\"kind\": \"deadlock\", \"rule\": \"%s\", \"severity\": \"%s\", "
		     "\"formed_at_ns\": ", cw_deadlock_rule__name(d->rule),
		f->severity == CW_SEVERITY_ERROR ? "error" : "warning");
	json_u64_or_null(out, d->formed_ns, d->formed_ns != 0);
	fprintf(out, ", \"confirmed_at_ns\": %llu, \"locks\": [",
		(unsigned long long)d->confirmed_ns);
	for (size_t i = 0; i < f->nr_locks; i++) {
		const struct cw_finding_lock *l = &f->locks[i];

		lock_name(r, l->pid, l->addr, l->ip, name, sizeof(name));
		fprintf(out, "%s{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ", i ? ", " : "",
			(unsigned long long)l->addr, l->pid);
		cw_report__json_string(out, name, sizeof(name));
		fprintf(out, ", \"type\": \"%s\"}", lock_type(l->type));
	}
	fputs("], \"threads\": [", out);
	cw_report__json_threads(out, r->eng, f);
	fputs("], \"cycle\": [", out);
	for (size_t i = 0; i < d->nr_links; i++) {
		const struct cw_deadlock_link *l = &d->links[i];

		fputs(i ? ", " : "", out);
		json_wait(r, cls, pid, l->tid,
			  l->lock < f->nr_locks ? f->locks[l->lock].addr : 0,
			  l->lock < f->nr_locks ? f->locks[l->lock].type : 0, l->holder_tid,
			  l->holder_exited, l->reason, l->syscall, l->futex_op, 0, l->since_ns,
			  f->stacks[l->stack].id);
	}
	cw_classifier__free(cls);
	fputs("], \"summary\": ", out);
	for (size_t i = 0; i < d->nr_links; i++)
		upstream += d->links[i].upstream;
	if (upstream)
		snprintf(more, sizeof(more), ", and %zu more on %s", upstream,
			 upstream == 1 ? "one of them" : "them");
	switch (d->rule) {
	case CW_DEADLOCK_CYCLE:
		snprintf(summary, sizeof(summary), "%zu threads wait on each other in a cycle",
			 d->nr_links);
		break;
	case CW_DEADLOCK_SELF:
		snprintf(summary, sizeof(summary), "thread %u waits on a lock it holds itself",
			 d->links[0].tid);
		break;
	case CW_DEADLOCK_OWNER_EXITED:
		n = d->nr_links - upstream;
		snprintf(summary, sizeof(summary),
			 "%zu thread%s wait%s on a lock held by thread %u, which has exited%s", n,
			 n == 1 ? "" : "s", n == 1 ? "s" : "", d->links[0].holder_tid, more);
		break;
	default:
		n = d->nr_links - 1 - upstream;
		snprintf(summary, sizeof(summary),
			 "blocked, maybe forever: %zu thread%s wait%s on a lock held by thread "
			 "%u, which waits in a system call%s", n, n == 1 ? "" : "s",
			 n == 1 ? "s" : "", d->links[d->nr_links - 1].tid, more);
		break;
	}
	cw_report__json_string(out, summary, sizeof(summary));
	fputc('}', out);
}

/* "blocked": every thread blocked now, as the cycle's entries. */
static void json_fields(const struct cw_render *r)
{
	struct cw_classifier *cls = NULL;
	struct cw_wf_wait *v;
	size_t n;
	FILE *out = r->out;

	fputs(",\n  \"blocked\": [", out);
	if (cw_classifier__new(r->sym, &cls))
		cls = NULL;
	if (!cw_wf__blocked(cw_engine__waitfor(r->eng), r->eng, &v, &n)) {
		for (size_t i = 0; i < n; i++) {
			fputs(i ? ",\n    " : "\n    ", out);
			json_wait(r, cls, v[i].pid, v[i].tid, v[i].addr, v[i].kind,
				  v[i].holder_tid, v[i].holder_exited, v[i].reason, v[i].syscall,
				  v[i].futex_op, v[i].readers, v[i].since_ns, v[i].stack_id);
		}
		if (n)
			fputs("\n  ", out);
		free(v);
	}
	cw_classifier__free(cls);
	fputc(']', out);
}

/*
 * The waits are no lock graph edges; the dependencies a tracer records at the attempt
 * are, and the lock_order_inversion finding of the same cycle marks them.
 */
static void dot_marks(const struct cw_finding *f, unsigned char *edge_mark)
{
}

const struct cw_finding_renderer cw_deadlock_renderer = {
	.text = text_finding,
	.dot = dot_marks,
	.text_rest = text_rest,
	.json = json_finding,
	.json_fields = json_fields,
};

/* --- concwatch deadlock ------------------------------------------------------------- */

static int deadlock_text(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			 const struct cw_report_target *t, size_t *nr)
{
	char comm[CW_SAFE_COMM_LEN];
	struct cw_render r = { .out = out, .eng = eng, .sym = sym, .verbose = t->verbose };
	struct cw_report_model m;
	size_t number = 0;
	int err;

	err = cw_report__model_new(eng, sym, t, &m);
	if (err)
		return err;
	r.fs = m.fs;
	r.contention = m.c;
	fprintf(out, "concwatch %s: process %d (%s), %zu thread%s\n", CW_VERSION, t->pid,
		t->comm[0] ? cw_report__text_safe(t->comm, sizeof(t->comm), comm, sizeof(comm)) :
			     "?",
		cw_engine__nr_threads(eng), cw_engine__nr_threads(eng) == 1 ? "" : "s");
	for (size_t i = 0; i < cw_findings__nr(m.fs); i++) {
		const struct cw_finding *f = cw_findings__get(m.fs, i);

		if (f->kind == CW_FINDING_DEADLOCK && cw_finding__reported(f))
			text_finding(&r, f, ++number);
	}
	*nr = number;
	if (!number)
		fprintf(out, "\nNo deadlock.\n");
	/* with a deadlock, the threads it showed are not listed again */
	blocked_text(&r, !number, number > 0);
	cw_report__model_fini(&m);
	return ferror(out) ? -EIO : 0;
}

int cw_report__deadlock_text(FILE *out, const struct cw_engine *eng, struct cw_symbols *sym,
			     const struct cw_report_target *t)
{
	size_t len = 0, nr = 0;
	char *buf = NULL;
	FILE *m;
	int err;

	if (!sym)
		return -EINVAL;
	m = open_memstream(&buf, &len);
	if (!m)
		return -errno;
	err = deadlock_text(m, eng, sym, t, &nr);
	if (fclose(m) && !err)
		err = -errno;
	if (!err)
		err = cw_report__write_safe(out, buf, len);
	free(buf);
	return err;
}
