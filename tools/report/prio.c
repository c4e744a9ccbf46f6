// SPDX-License-Identifier: GPL-2.0
/*
 * The renderers of priority_inversion findings (render.c's table): the real-time thread
 * that waited, the holder kept off its CPU, the task that had the CPU (of any process),
 * the lock and how long, with the three stacks (the preemptor's only when it is of the
 * traced process); and, after the findings, the priority-inheritance boosts the
 * stream showed (a PI mutex lending the waiter's priority: the inversions that did not
 * happen). The engine decided what is a finding (engine/findings.c); here it is drawn.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/findings.h"
#include "engine/prio.h"
#include "report/report.h"
#include "report/symbols.h"

#define NAME_LEN 256

/* "SCHED_FIFO 30", "SCHED_OTHER nice 0", "SCHED_DEADLINE": as chrt(1) and ps say them. */
static const char *sched_str(__u32 policy, __s32 prio, char *buf, size_t len)
{
	const char *name = cw_report__policy_name(policy);
	char pol[24];

	if (!name) {
		snprintf(pol, sizeof(pol), "policy %u", policy);
		name = pol;
	}
	if (cw_prio__rt_policy(policy) && policy != 6 && prio >= 0 && prio < 100)
		snprintf(buf, len, "%s %d", name, 99 - prio);
	else if (policy == 6)
		snprintf(buf, len, "%s", name);
	else if (prio >= 100)
		snprintf(buf, len, "%s nice %d", name, prio - 120);
	else
		snprintf(buf, len, "%s prio %d", name, prio);
	return buf;
}

static const char *comm_of(const struct cw_engine *eng, const struct cw_prio_task *t,
			   char buf[CW_SAFE_COMM_LEN])
{
	const char *c = t->comm[0] ? t->comm : cw_report__comm(eng, t->pid, t->tid);

	return cw_report__text_safe(c, CW_COMM_LEN, buf, CW_SAFE_COMM_LEN);
}

static const char *json_comm(const struct cw_engine *eng, const struct cw_prio_task *t)
{
	return t->comm[0] ? t->comm : cw_report__comm(eng, t->pid, t->tid);
}

static void text_stack(const struct cw_render *r, const struct cw_stack_ref *ref,
		       const char *indent)
{
	if (!ref->id) {
		fprintf(r->out, "%s(no stack)\n", indent);
		return;
	}
	cw_report__text_stack_of(r->out, r->sym,
				 cw_engine__find_stack(r->eng, ref->pid, ref->space, ref->id),
				 indent);
}

/*
 * A measured inversion's other two stacks: L's where it was kept off its CPU, M's as it
 * gave the CPU back. A stack not taken is said so, with why when known (M's process not
 * traced: its stack would need its modules).
 */
static void text_other_stacks(const struct cw_render *r, const struct cw_finding *f,
			      const char *lc, const char *mc)
{
	const struct cw_prio_finding *p = &f->prio;
	FILE *out = r->out;

	if (f->stacks[1].id) {
		fprintf(out, "  %s's stack while kept off its CPU:\n", lc);
		text_stack(r, &f->stacks[1], "      ");
	} else {
		fprintf(out, "  %s's stack: not taken\n", lc);
	}
	if (f->stacks[2].id) {
		fprintf(out, "  %s's stack as it gave the CPU back:\n", mc);
		text_stack(r, &f->stacks[2], "      ");
	} else if (p->preemptor_untraced) {
		fprintf(out, "  %s's stack: not taken (process %u is not traced)\n", mc,
			p->preemptor.pid);
	} else if (!p->bounded) {
		fprintf(out, "  %s's stack: not taken (it still had the CPU when tracing ended)\n",
			mc);
	} else {
		fprintf(out, "  %s's stack: not taken\n", mc);
	}
}

static void text_finding(const struct cw_render *r, const struct cw_finding *f, size_t number)
{
	const struct cw_prio_finding *p = &f->prio;
	const struct cw_finding_lock *l = &f->locks[0];
	char hc[CW_SAFE_COMM_LEN], lc[CW_SAFE_COMM_LEN], mc[CW_SAFE_COMM_LEN];
	char hs[64], ls[64], ms[64], name[NAME_LEN], d[32], lg[32];
	FILE *out = r->out;

	fprintf(out, "\n======================================================\n");
	if (p->rule == CW_PI_RULE_LATENT)
		fprintf(out, "WARNING: latent priority inversion: a real-time thread blocks on a "
			     "lock held by a thread that is not real-time\n");
	else
		fprintf(out, "ERROR: priority inversion: a real-time thread waited while the "
			     "holder of its lock was kept off its CPU\n");
	fprintf(out, "finding %zu: priority_inversion (%s), process %u\n", number,
		cw_prio_rule__name(p->rule), p->high.pid);
	fprintf(out, "------------------------------------------------------\n");
	cw_symbols__lock_name(r->sym, l->pid, l->addr, l->ip, name, sizeof(name));
	fprintf(out, "  %s/%u (%s) waited on %s (%s 0x%llx)\n", comm_of(r->eng, &p->high, hc),
		p->high.tid, sched_str(p->high.policy, p->high.prio, hs, sizeof(hs)), name,
		cw_lock_kind__name(l->type), (unsigned long long)l->addr);
	fprintf(out, "  held by %s/%u (%s)", comm_of(r->eng, &p->low, lc), p->low.tid,
		sched_str(p->low.policy, p->low.prio, ls, sizeof(ls)));
	if (p->rule == CW_PI_RULE_LATENT) {
		fprintf(out, ", which any busy thread of the same or a higher priority can keep "
			     "off its CPU while %s waits\n", hc);
	} else {
		fprintf(out, ", runnable but not running for %s%s",
			cw_report__fmt_ns(d, sizeof(d), p->duration_ns),
			p->bounded ? "" : " (still so when tracing ended)");
		if (p->stretches > 1)
			fprintf(out, " in %u stretches (the longest %s)", p->stretches,
				cw_report__fmt_ns(lg, sizeof(lg), p->longest_ns));
		char where[48] = "of this process";

		if (p->preemptor.pid != p->high.pid)
			snprintf(where, sizeof(where), "of process %u", p->preemptor.pid);
		fprintf(out, ",\n  while %s/%u %s (%s) %s\n", comm_of(r->eng, &p->preemptor, mc),
			p->preemptor.tid, where,
			sched_str(p->preemptor.policy, p->preemptor.prio, ms, sizeof(ms)),
			p->preempted ? "had its CPU" : "ran on its CPU before it");
	}
	fprintf(out, "  %s's wait:\n", hc);
	text_stack(r, &f->stacks[0], "      ");
	if (p->rule == CW_PI_RULE_PREEMPTED)
		text_other_stacks(r, f, lc, mc);
	if (p->rule == CW_PI_RULE_LATENT)
		fprintf(out, "\nA mutex made with PTHREAD_PRIO_INHERIT would lend %s's priority to "
			     "its holder while it waits.\n", hc);
	else
		fprintf(out, "\n%s, less important than %s, ran instead of %s, which held what %s "
			     "waited for. A mutex made with PTHREAD_PRIO_INHERIT lends the waiter's "
			     "priority to the holder (or keep %s from running at that priority).\n",
			mc, hc, lc, hc, mc);
	fprintf(out, "\n *** PRIORITY INVERSION ***\n");
}

/* After every finding: the PI boosts seen (the inversions a PI mutex prevented). */
static void text_rest(const struct cw_render *r)
{
	const struct cw_prio *pr = cw_engine__prio(r->eng);
	char tc[CW_SAFE_COMM_LEN], dc[CW_SAFE_COMM_LEN], a[64], b[64];

	for (size_t i = 0; i < cw_prio__nr_boosts(pr); i++) {
		const struct cw_prio_boost *bo = cw_prio__boost(pr, i);
		struct cw_prio_task t = { .pid = bo->pid, .tid = bo->tid };
		struct cw_prio_task d = { .pid = bo->pid, .tid = bo->donor_tid };

		if (!i)
			fprintf(r->out, "\nPriority inheritance boosts (a PI mutex lent a waiter's "
					"priority to its holder):\n");
		fprintf(r->out, "  %s/%u raised from %s to %s, lent by %s/%u", comm_of(r->eng, &t, tc),
			bo->tid, sched_str(bo->policy, bo->old_prio, a, sizeof(a)),
			sched_str(bo->policy, bo->new_prio, b, sizeof(b)), comm_of(r->eng, &d, dc),
			bo->donor_tid);
		if (bo->count > 1)
			fprintf(r->out, ", %llu times", (unsigned long long)bo->count);
		fputc('\n', r->out);
	}
}

/* --- JSON --------------------------------------------------------------------------- */

static void json_task(const struct cw_render *r, const struct cw_prio_task *t, int with_pid)
{
	const char *pol = cw_report__policy_name(t->policy);
	FILE *out = r->out;

	fputc('{', out);
	if (with_pid)
		fprintf(out, "\"pid\": %u, ", t->pid);
	fprintf(out, "\"tid\": %u, \"comm\": ", t->tid);
	cw_report__json_string(out, json_comm(r->eng, t), CW_COMM_LEN);
	if (pol)
		fprintf(out, ", \"policy\": \"%s\"", pol);
	else
		fprintf(out, ", \"policy\": \"%u\"", t->policy);
	fprintf(out, ", \"prio\": %d, \"rt_priority\": ", t->prio);
	if (cw_prio__rt_policy(t->policy) && t->prio >= 0 && t->prio < 100)
		fprintf(out, "%d", 99 - t->prio);
	else
		fputs("null", out);
}

static void json_stack(const struct cw_render *r, const struct cw_stack_ref *ref)
{
	const struct cw_stack *st = ref->id ? cw_engine__find_stack(r->eng, ref->pid, ref->space,
								     ref->id) : NULL;
	struct cw_ustack s = {};

	if (st && !cw_symbols__resolve(r->sym, st, &s))
		cw_report__json_frames(r->out, &s);
	else
		fputs("[]", r->out);
	cw_ustack__fini(&s);
}

/* null: not taken (the latent rule measures none; a preemptor of another process). */
static void json_stack_or_null(const struct cw_render *r, const struct cw_stack_ref *ref)
{
	if (ref->id)
		json_stack(r, ref);
	else
		fputs("null", r->out);
}

static void json_finding(const struct cw_render *r, const struct cw_finding *f)
{
	const struct cw_prio_finding *p = &f->prio;
	const struct cw_finding_lock *l = &f->locks[0];
	char name[NAME_LEN], summary[512], d[32], hc[CW_SAFE_COMM_LEN], lc[CW_SAFE_COMM_LEN],
		mc[CW_SAFE_COMM_LEN];
	FILE *out = r->out;

	cw_symbols__lock_name(r->sym, l->pid, l->addr, l->ip, name, sizeof(name));
	fprintf(out, "{\"kind\": \"priority_inversion\", \"rule\": \"%s\", \"severity\": \"%s\", "
		     "\"locks\": [{\"addr\": \"0x%llx\", \"pid\": %u, \"name\": ",
		cw_prio_rule__name(p->rule), f->severity == CW_SEVERITY_ERROR ? "error" : "warning",
		(unsigned long long)l->addr, l->pid);
	cw_report__json_string(out, name, sizeof(name));
	fprintf(out, ", \"type\": \"%s\", \"pi\": %s}], \"threads\": [",
		cw_lock_kind__name(l->type),
		!(l->attr & CW_ATTR_KNOWN) ? "null" : (l->attr & CW_ATTR_PI) ? "true" : "false");
	cw_report__json_threads(out, r->eng, f);
	fputs("], \"high\": ", out);
	json_task(r, &p->high, 0);
	fputs(", \"stack\": ", out);
	json_stack(r, &f->stacks[0]);
	fputs("}, \"low\": ", out);
	json_task(r, &p->low, 0);
	fputs(", \"stack\": ", out);
	json_stack_or_null(r, &f->stacks[1]);
	fputs("}, \"preemptor\": ", out);
	if (p->rule == CW_PI_RULE_PREEMPTED) {
		json_task(r, &p->preemptor, 1);
		fprintf(out, ", \"same_process\": %s, \"took_cpu\": %s, \"stack\": ",
			p->preemptor.pid == p->high.pid ? "true" : "false",
			p->preempted ? "true" : "false");
		json_stack_or_null(r, &f->stacks[2]);
		fputc('}', out);
		fprintf(out, ", \"duration_ns\": %llu, \"longest_ns\": %llu, \"stretches\": %u, "
			     "\"bounded\": %s, \"ended_at_ns\": %llu",
			(unsigned long long)p->duration_ns, (unsigned long long)p->longest_ns,
			p->stretches, p->bounded ? "true" : "false",
			(unsigned long long)p->end_ns);
	} else {
		fputs("null, \"duration_ns\": null, \"longest_ns\": null, \"stretches\": 0, "
		      "\"bounded\": null, \"ended_at_ns\": null", out);
	}
	fprintf(out, ", \"wait_since_ns\": %llu, \"summary\": ", (unsigned long long)p->wait_since_ns);
	comm_of(r->eng, &p->high, hc);
	comm_of(r->eng, &p->low, lc);
	if (p->rule == CW_PI_RULE_LATENT)
		snprintf(summary, sizeof(summary),
			 "real-time %s/%u blocks on %s, not priority-inheriting, held by %s/%u, "
			 "which is not real-time", hc, p->high.tid, name, lc, p->low.tid);
	else
		snprintf(summary, sizeof(summary),
			 "%s/%u waited %s on %s held by %s/%u while %s/%u (pid %u) had its CPU", hc,
			 p->high.tid, cw_report__fmt_ns(d, sizeof(d), p->duration_ns), name, lc,
			 p->low.tid, comm_of(r->eng, &p->preemptor, mc), p->preemptor.tid,
			 p->preemptor.pid);
	cw_report__json_string(out, summary, sizeof(summary));
	fputc('}', out);
}

/* "pi_boosts": every PI boost seen, with its donor. */
static void json_fields(const struct cw_render *r)
{
	const struct cw_prio *pr = cw_engine__prio(r->eng);
	FILE *out = r->out;
	size_t n = cw_prio__nr_boosts(pr);

	fputs(",\n  \"pi_boosts\": [", out);
	for (size_t i = 0; i < n; i++) {
		const struct cw_prio_boost *b = cw_prio__boost(pr, i);
		const char *pol = cw_report__policy_name(b->policy);

		fprintf(out, "%s{\"pid\": %u, \"tid\": %u, \"comm\": ", i ? ",\n    " : "\n    ",
			b->pid, b->tid);
		cw_report__json_string(out, cw_report__comm(r->eng, b->pid, b->tid), CW_COMM_LEN);
		fprintf(out, ", \"donor_tid\": %u, \"donor_comm\": ", b->donor_tid);
		cw_report__json_string(out, cw_report__comm(r->eng, b->pid, b->donor_tid),
				       CW_COMM_LEN);
		fprintf(out, ", \"policy\": \"%s\", \"old_prio\": %d, \"new_prio\": %d, "
			     "\"count\": %llu, \"first_ts_ns\": %llu}",
			pol ? pol : "?", b->old_prio, b->new_prio, (unsigned long long)b->count,
			(unsigned long long)b->first_ts);
	}
	if (n)
		fputs("\n  ", out);
	fputc(']', out);
}

/* An inversion is about scheduling, not about the order of locks: no lock graph edge. */
static void dot_marks(const struct cw_finding *f, unsigned char *edge_mark)
{
}

const struct cw_finding_renderer cw_prio_renderer = {
	.text = text_finding,
	.dot = dot_marks,
	.text_rest = text_rest,
	.json = json_finding,
	.json_fields = json_fields,
};
