// SPDX-License-Identifier: GPL-2.0
/* Thread names and module maps from /proc, for any backend: see procinfo.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/array.h"
#include "source/procinfo.h"
#include "source/target.h"
#include "stack/stack.h"

/*
 * A COMM record for a thread, from /proc. Marks it named either way: a thread that is
 * gone already stays unnamed rather than being looked up again and again.
 * 1 when *c was filled, 0 when not, -ENOMEM.
 */
static int read_comm(struct cw_thread_names *tn, __u32 pid, __u32 tid, __u64 ts,
		     struct cw_ev_comm *c)
{
	if (cw_index__put(&tn->named, pid, tid, 1))
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	if (cw_target__comm(pid, tid, c->comm, sizeof(c->comm)))
		return 0;
	c->hdr = (struct cw_hdr){
		.type = CW_EV_COMM,
		.size = sizeof(*c),
		.cpu = 0xffff,
		.flags = CW_F_SYNTHETIC,
		.ts_ns = ts,
		.pid = pid,
		.tid = tid,
	};
	return 1;
}

/*
 * The BPF programs name a thread as it is created (task_newtask) and when it renames
 * itself (task_rename); a thread seen without a name (one whose comm record was lost)
 * is named from /proc the first time one of its records passes here.
 */
int cw_thread_names__on_record(struct cw_thread_names *tn, struct cw_emit *e,
			       const struct cw_hdr *h)
{
	struct cw_ev_comm c;
	__u32 dummy;
	int ret;

	if (!h->tid || !cw_index__get(&tn->named, h->pid, h->tid, &dummy))
		return 0;
	ret = read_comm(tn, h->pid, h->tid, h->ts_ns, &c);
	return ret > 0 ? cw_emit__deliver(e, &c.hdr) : ret;
}

int cw_thread_names__snapshot(struct cw_thread_names *tn, struct cw_emit *e, int pid)
{
	__u64 ts = cw_now_ns();
	size_t nr = 0;
	int *tids, ret = 0;

	ret = cw_target__threads(pid, &tids, &nr);
	if (ret)
		return ret == -ESRCH ? 0 : ret;
	for (size_t i = 0; i < nr && ret >= 0; i++) {
		struct cw_ev_comm c;

		ret = read_comm(tn, pid, tids[i], ts, &c);
		if (ret > 0)
			ret = cw_emit__queue(e, &c.hdr);
	}
	free(tids);
	return ret < 0 ? ret : 0;
}

void cw_thread_names__fini(struct cw_thread_names *tn)
{
	cw_index__fini(&tn->named);
}

void cw_proc_maps__init(struct cw_proc_maps *m, int pid)
{
	memset(m, 0, sizeof(*m));
	m->pid = pid;
}

void cw_proc_maps__fini(struct cw_proc_maps *m)
{
	cw_index__fini(&m->sent);
	free(m->ranges);
	m->ranges = NULL;
	m->nr_ranges = m->cap_ranges = 0;
}

/* Send mapping m unless sent already: queued, or delivered at once. */
static int send_module(struct cw_proc_maps *p, struct cw_emit *em, const struct cw_module_info *m,
		       __u64 ts, int queue)
{
	size_t plen = strlen(m->path) + 1;
	struct cw_proc_range *r;
	struct cw_ev_module *e;
	__u32 dummy;
	int err;

	if (!cw_index__get(&p->sent, m->start, m->end ^ m->inode, &dummy))
		return 0;
	if (cw_index__put(&p->sent, m->start, m->end ^ m->inode, 1))
		return -ENOMEM;
	r = cw_grow(p->ranges, &p->cap_ranges, p->nr_ranges + 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	p->ranges = r;
	p->ranges[p->nr_ranges++] = (struct cw_proc_range){ m->start, m->end };

	e = calloc(1, sizeof(*e) + CW_RECORD_ALIGN(plen));
	if (!e)
		return -ENOMEM;
	e->hdr = (struct cw_hdr){
		.type = CW_EV_MODULE,
		.size = sizeof(*e) + CW_RECORD_ALIGN(plen),
		.cpu = 0xffff,
		.flags = CW_F_SYNTHETIC,
		.ts_ns = ts,
		.pid = p->pid,
	};
	e->start = m->start;
	e->end = m->end;
	e->pgoff = m->pgoff;
	e->inode = m->inode;
	e->dev = m->dev;
	e->build_id_len = m->build_id_len;
	memcpy(e->build_id, m->build_id, sizeof(e->build_id));
	e->flags = m->deleted ? CW_MODULE_DELETED : 0;
	e->path_len = plen;
	memcpy(e->path, m->path, plen);
	err = queue ? cw_emit__queue(em, &e->hdr) : cw_emit__deliver(em, &e->hdr);
	free(e);
	return err;
}

int cw_proc_maps__send(struct cw_proc_maps *p, struct cw_emit *em, __u64 ts, int queue)
{
	struct cw_module_info *mods = NULL;
	size_t nr = 0;
	int err;

	p->read_ns = cw_now_ns();
	err = cw_modules__read(p->pid, &mods, &nr);
	if (err)
		return err == -ESRCH ? 0 : err; /* gone: its stacks stay as they are */
	for (size_t i = 0; i < nr && !err; i++)
		err = send_module(p, em, &mods[i], ts, queue);
	free(mods);
	return err;
}

int cw_proc_maps__on_mmap(struct cw_proc_maps *p, struct cw_emit *em, const struct cw_ev_mmap *rec)
{
	struct cw_module_info *m;
	__u32 dummy;
	int err;

	if (!(rec->prot & PROT_EXEC))
		return 0;
	/* sent already (read from /proc/PID/maps first): the file is not opened again */
	if (rec->filename[0] &&
	    !cw_index__get(&p->sent, rec->start, (rec->start + rec->len) ^ rec->inode, &dummy))
		return 0;
	/* no path (too deep or too long for the programs): what the maps say now, if anything */
	if (!rec->filename[0])
		return cw_proc_maps__send(p, em, rec->hdr.ts_ns, 0);
	m = calloc(1, sizeof(*m)); /* two paths of PATH_MAX: not on the stack */
	if (!m)
		return -ENOMEM;
	m->start = rec->start;
	m->end = rec->start + rec->len;
	m->pgoff = rec->pgoff;
	m->inode = rec->inode;
	m->dev = rec->dev;
	snprintf(m->path, sizeof(m->path), "%s", rec->filename);
	cw_module__complete(p->pid, m);
	err = send_module(p, em, m, rec->hdr.ts_ns, 0);
	free(m);
	return err;
}

static int covered(const struct cw_proc_maps *p, __u64 addr)
{
	for (size_t i = 0; i < p->nr_ranges; i++)
		if (addr >= p->ranges[i].start && addr < p->ranges[i].end)
			return 1;
	return 0;
}

int cw_proc_maps__for_stack(struct cw_proc_maps *p, struct cw_emit *e, const struct cw_hdr *h,
			    __u64 min_interval_ns)
{
	const struct cw_ev_stack *st = (const void *)h;
	int missing = 0;

	if (h->type == CW_EV_USTACK_RAW)
		missing = !covered(p, ((const struct cw_ev_ustack_raw *)h)->ip);
	else if (h->type == CW_EV_STACK && st->space == CW_STACK_USER)
		for (__u32 i = 0; i < st->nr && !missing; i++)
			missing = !covered(p, st->ips[i]);
	if (!missing || (!p->read_at_attach && cw_now_ns() - p->read_ns < min_interval_ns))
		return 0;
	p->read_at_attach = 0;
	return cw_proc_maps__send(p, e, h->ts_ns, 0);
}
