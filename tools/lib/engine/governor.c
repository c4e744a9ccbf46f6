// SPDX-License-Identifier: GPL-2.0
/*
 * The cost governor's decisions (governor.h has the policy and its reasons).
 *
 * Amounts of time are doubles in ns: a rate times an interval overflows 64 bits in
 * ns^2/s for a target on many CPUs over a long tick, and a double holds every integer
 * ns below 2^53 (104 days) exactly, so that synthetic figures give exact results. The
 * budget stays in percent and is compared as cost * 100 <= pct * CPU for the same reason.
 */
#include <errno.h>
#include <stdlib.h>

#include "engine/governor.h"

#define NS_PER_S 1e9

struct cw_governor {
	double pct;		/* B, in % */
	__u64 window_ns, first_ns;
	int started;
	int on;			/* as the last tick said */
	int sched_off;		/* as the last tick said */
	int sampled;		/* a window was judged: the next ones are full windows */
	__u64 last_ns;
	__u64 attach_ns, detach_ns;	/* the last measured */
	__u64 elapsed_ns, covered_ns, sched_covered_ns;
	__u32 attaches, detaches, sheds;

	/*
	 * The ledger, in ns of CPU time times %: pct * CPU time - 100 * cost, since the
	 * start, at most cap(). Positive: what the budget has left; negative: owed.
	 */
	double credit;
	double cpu_peak;	/* the highest CPU rate a tick gave, ns/s */
	double pred_pct;	/* the share the next window is expected at: 100 before any
				 * window was judged, then the last judged */

	/* on: the window being added up */
	__u64 win_len_ns;	/* its length: first_ns, window_ns, longer after an attach */
	__u64 win_on_ns;
	double win_cost, win_cpu;
	int detach_asked;	/* judged over budget: asked until carried out */
	double last_rate;	/* the last on interval's cost, ns/s, at most its CPU rate */
	double share_pct;

	/* off, the scheduler tracepoints on: the trap-free tracing's window (first_ns) */
	__u64 rest_on_ns;
	double rest_cost, rest_cpu;
	int shed_asked;		/* judged over budget: asked until carried out */
	double rest_share_pct;
};

int cw_governor__new(const struct cw_governor_opts *opts, struct cw_governor **out)
{
	struct cw_governor *g;

	*out = NULL;
	/* written so that a NaN fails too */
	if (!opts || !(opts->max_overhead_pct > 0 && opts->max_overhead_pct <= 100))
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->pct = opts->max_overhead_pct;
	g->window_ns = opts->window_ns ? opts->window_ns : CW_GOVERNOR_WINDOW_NS;
	g->first_ns = opts->first_window_ns ? opts->first_window_ns : CW_GOVERNOR_FIRST_WINDOW_NS;
	if (g->first_ns > g->window_ns)
		g->first_ns = g->window_ns;
	g->win_len_ns = g->first_ns;
	g->pred_pct = 100;
	g->share_pct = -1;
	g->rest_share_pct = -1;
	*out = g;
	return 0;
}

void cw_governor__free(struct cw_governor *g)
{
	free(g);
}

static int within_budget(const struct cw_governor *g, double cost, double cpu)
{
	return cost * 100 <= g->pct * cpu;
}

static void window_start(struct cw_governor *g, __u64 len_ns)
{
	g->win_len_ns = len_ns;
	g->win_on_ns = 0;
	g->win_cost = 0;
	g->win_cpu = 0;
	g->detach_asked = 0;
}

/*
 * The next window's length: the first is a sample, first_ns; the others long enough for
 * the transitions to be a tenth of them.
 */
static __u64 next_window(const struct cw_governor *g)
{
	__u64 t = (g->attach_ns + g->detach_ns) * CW_GOVERNOR_TRANSITION_FACTOR;

	if (!g->sampled)
		return g->first_ns;
	return t > g->window_ns ? t : g->window_ns;
}

/*
 * The most credit kept: the next window and its transitions at a share of 1 and the
 * highest CPU rate seen, net of what they earn themselves; never less than need().
 */
static double cap(const struct cw_governor *g)
{
	double len = next_window(g) + g->attach_ns + g->detach_ns;

	return (100 - g->pct) * g->cpu_peak * len / NS_PER_S;
}

/* An interval's cost and CPU time into the ledger. */
static void book(struct cw_governor *g, double rate, double cpu_rate, __u64 dt)
{
	g->credit += (g->pct * cpu_rate - 100 * rate) * dt / NS_PER_S;
	if (cpu_rate > g->cpu_peak)
		g->cpu_peak = cpu_rate;
	if (g->credit > cap(g))
		g->credit = cap(g);
}

/*
 * What the next window will cost beyond what it earns, in the ledger's units: at the
 * expected share, over the window and the attach and detach around it, at the highest
 * CPU rate seen (a server under a fixed load runs faster off than on, its traps gone; an
 * idle target is not cheap to trace once it wakes).
 */
static double need(const struct cw_governor *g)
{
	double len = next_window(g) + g->attach_ns + g->detach_ns;

	return (g->pred_pct - g->pct) * g->cpu_peak * len / NS_PER_S;
}

static int tick_on(struct cw_governor *g, const struct cw_governor_tick *t, __u64 dt)
{
	double cpu_rate = t->cpu_ns_per_s;
	double rate = t->cost_ns_per_s;

	if (rate > cpu_rate)
		rate = cpu_rate;	/* the traps' time is part of the target's */
	if (!g->on) {
		/* attached since the last tick: tracing was incomplete while it went on */
		__u64 lost = g->attach_ns < dt ? g->attach_ns : dt;

		g->attaches++;
		g->covered_ns += dt - lost;
		/* the scheduler tracepoints came back with the probes, before them */
		g->sched_covered_ns += g->sched_off ? dt - lost : dt;
		window_start(g, next_window(g));
	} else {
		g->covered_ns += dt;
		g->sched_covered_ns += dt;
	}
	book(g, rate, cpu_rate, dt);
	g->win_on_ns += dt;
	g->win_cost += rate * dt / NS_PER_S;
	g->win_cpu += cpu_rate * dt / NS_PER_S;
	g->last_rate = rate;
	if (g->detach_asked)
		return CW_GOVERNOR_DETACH;
	if (g->win_on_ns < g->win_len_ns)
		return CW_GOVERNOR_KEEP;
	g->share_pct = g->win_cpu > 0 ? 100 * g->win_cost / g->win_cpu : 0;
	g->sampled = 1;
	if (!within_budget(g, g->win_cost, g->win_cpu)) {
		g->pred_pct = g->share_pct;
		g->detach_asked = 1;
		return CW_GOVERNOR_DETACH;
	}
	window_start(g, g->window_ns);
	return CW_GOVERNOR_KEEP;
}

static void rest_window_start(struct cw_governor *g)
{
	g->rest_on_ns = 0;
	g->rest_cost = 0;
	g->rest_cpu = 0;
	g->shed_asked = 0;
}

/*
 * Off with the scheduler tracepoints on: the trap-free tracing alone, judged over windows
 * of first_ns. Over budget, it is shed too (CW_GOVERNOR_SHED) until the next attach.
 */
static int judge_rest(struct cw_governor *g, double rate, double cpu_rate, __u64 dt)
{
	g->sched_covered_ns += dt;
	g->rest_on_ns += dt;
	g->rest_cost += rate * dt / NS_PER_S;
	g->rest_cpu += cpu_rate * dt / NS_PER_S;
	if (g->shed_asked)
		return CW_GOVERNOR_SHED;
	if (g->rest_on_ns < g->first_ns)
		return CW_GOVERNOR_KEEP;
	g->rest_share_pct = g->rest_cpu > 0 ? 100 * g->rest_cost / g->rest_cpu : 0;
	if (!within_budget(g, g->rest_cost, g->rest_cpu)) {
		g->shed_asked = 1;
		return CW_GOVERNOR_SHED;
	}
	rest_window_start(g);
	return CW_GOVERNOR_KEEP;
}

static int tick_off(struct cw_governor *g, const struct cw_governor_tick *t, __u64 dt)
{
	double cpu_rate = t->cpu_ns_per_s;
	double rate = t->cost_ns_per_s;
	int d = CW_GOVERNOR_KEEP;

	if (rate > cpu_rate)
		rate = cpu_rate;
	if (g->on) {
		/* detached since the last tick: the probes still in place trapped meanwhile */
		g->detaches++;
		g->credit -= 100 * g->last_rate * g->detach_ns / NS_PER_S;
		window_start(g, g->window_ns);
		rest_window_start(g);
	}
	if (t->sched_off && !g->sched_off) {
		g->sheds++;
		rest_window_start(g);
	}
	book(g, rate, cpu_rate, dt);
	if (!t->sched_off)
		d = judge_rest(g, rate, cpu_rate, dt);
	/* a target that never ran has paid for nothing, and its need is not known */
	if (g->cpu_peak > 0 && g->credit >= need(g)) {
		rest_window_start(g);
		return CW_GOVERNOR_ATTACH;
	}
	return d;
}

int cw_governor__tick(struct cw_governor *g, const struct cw_governor_tick *t)
{
	__u64 dt;
	int d;

	if (!t || (g->started && t->now_ns < g->last_ns))
		return -EINVAL;
	if (t->attach_ns)
		g->attach_ns = t->attach_ns;
	if (t->detach_ns)
		g->detach_ns = t->detach_ns;
	if (!g->started) {
		/* the clock starts; tracing started on has its first window unpaid */
		g->started = 1;
		g->on = !!t->on;
		g->sched_off = !t->on && t->sched_off;
		g->last_ns = t->now_ns;
		return CW_GOVERNOR_KEEP;
	}
	dt = t->now_ns - g->last_ns;
	g->elapsed_ns += dt;
	d = t->on ? tick_on(g, t, dt) : tick_off(g, t, dt);
	g->on = !!t->on;
	g->sched_off = !t->on && t->sched_off;
	g->last_ns = t->now_ns;
	return d;
}

/* part of whole, in permille, rounded down; 1000 before any time passed */
static unsigned int permille(__u64 part, __u64 whole)
{
	/* in double: part * 1000 overflows after 213 days */
	if (!whole)
		return 1000;
	return (unsigned int)((double)part * 1000 / whole);
}

void cw_governor__stats(const struct cw_governor *g, struct cw_governor_stats *st)
{
	double owed = (need(g) - g->credit) / g->pct;

	st->elapsed_ns = g->elapsed_ns;
	st->covered_ns = g->covered_ns;
	st->coverage_permille = cw_governor__coverage_permille(g);
	st->sched_covered_ns = g->sched_covered_ns;
	st->sched_coverage_permille = permille(g->sched_covered_ns, g->elapsed_ns);
	st->attaches = g->attaches;
	st->detaches = g->detaches;
	st->sheds = g->sheds;
	st->on = g->on;
	st->sched_on = !g->sched_off;
	st->share_pct = g->share_pct;
	st->rest_share_pct = g->rest_share_pct;
	st->owed_cpu_ns = !g->on && g->started && owed > 0 ? (__u64)(owed + 0.5) : 0;
	st->credit_ns = (__s64)(g->credit / g->pct);
}

unsigned int cw_governor__coverage_permille(const struct cw_governor *g)
{
	return permille(g->covered_ns, g->elapsed_ns);
}
