/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every backend reads from /proc the same way: the names of the threads it traces
 * (CW_EV_COMM) and the executable mappings of its processes (CW_EV_MODULE), which the
 * stacks of their records need. Records go out through a struct cw_emit.
 */
#ifndef __CW_PROCINFO_H
#define __CW_PROCINFO_H

#include "engine/index.h"
#include "source/emit.h"

/* The threads a source has named (or found gone): one struct per source. */
struct cw_thread_names {
	struct cw_index named;		/* (pid, tid) -> 1 */
};

/* Name every thread pid has now, queued: they go out before anything traced after. */
int cw_thread_names__snapshot(struct cw_thread_names *tn, struct cw_emit *e, int pid);

/*
 * Name the thread of rec the first time one of its records appears, while /proc still
 * has it: delivered at once, ahead of rec.
 */
int cw_thread_names__on_record(struct cw_thread_names *tn, struct cw_emit *e,
			       const struct cw_hdr *rec);

void cw_thread_names__fini(struct cw_thread_names *tn);

/* The module map sent for one traced process. */
struct cw_proc_maps {
	int pid;
	/* executable mappings sent as CW_EV_MODULE: (start, end ^ inode) -> 1, and their ranges */
	struct cw_index sent;
	struct cw_proc_range {
		__u64 start, end;
	} *ranges;
	size_t nr_ranges, cap_ranges;
	__u64 read_ns;			/* when /proc/PID/maps was last read */
	int read_at_attach;		/* ... and that was at attach: libraries may have come
					 * since (a process attached at its exec maps none) */
};

void cw_proc_maps__init(struct cw_proc_maps *m, int pid);
void cw_proc_maps__fini(struct cw_proc_maps *m);

/*
 * Send every executable mapping of the process not sent yet, as CW_EV_MODULE records:
 * queued (at attach) or delivered at once (ahead of a stack that needs them). A process
 * gone already is no error: its stacks stay as they are.
 */
int cw_proc_maps__send(struct cw_proc_maps *m, struct cw_emit *e, __u64 ts, int queue);

/*
 * The process mapped a file (rec, sent by the kernel side when it happened): send it as a
 * CW_EV_MODULE at once when it is executable. The library may be unloaded again before
 * a stack in it is read, and /proc/PID/maps would no longer name it then. A record
 * without a path reads the maps instead.
 */
int cw_proc_maps__on_mmap(struct cw_proc_maps *m, struct cw_emit *e, const struct cw_ev_mmap *rec);

/*
 * rec is a user stack naming an address no module sent covers: the process mapped code
 * since (dlopen, exec). Read its maps again, at most once per min_interval_ns (an address
 * in anonymous memory, JIT code say, stays uncovered however often we look).
 */
int cw_proc_maps__for_stack(struct cw_proc_maps *m, struct cw_emit *e, const struct cw_hdr *rec,
			    __u64 min_interval_ns);

#endif /* __CW_PROCINFO_H */
