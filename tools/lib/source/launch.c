// SPDX-License-Identifier: GPL-2.0
/*
 * The launcher behind `concwatch run`. Choices, and why:
 *
 * - ptrace, PTRACE_SEIZE: the child waits on a pipe until it is seized, then execs, so
 *   the first stop is the exec event, before ld.so's (or a static binary's) first
 *   instruction. SEIZE rather than TRACEME gives PTRACE_EVENT_STOP, PTRACE_LISTEN and
 *   PTRACE_INTERRUPT: group-stops stay group-stops (^Z and SIGCONT behave as without us,
 *   the real parent sees WIFSTOPPED) and detach_all() can stop running tracees.
 * - PTRACE_O_TRACEFORK, _VFORK, _CLONE and _EXEC: new tasks are attached by the kernel
 *   before they run, so no process can escape between its creation and our attach.
 *   TRACECLONE also traces every thread. That is needed: a thread's fork is only followed
 *   when the thread is traced, and a clone() whose exit signal is not SIGCHLD is reported
 *   as PTRACE_EVENT_CLONE even when it makes a process. Threads are resumed at once and
 *   never reported (a process's uprobes cover all its threads); whether a new task is a
 *   process is read from /proc (Tgid == tid), not guessed from the event.
 * - A new process is reported at its own first stop, which may come before or after its
 *   creator's event stop (waitpid order is not creation order). Its ppid is the PPid
 *   /proc shows while the creator cannot have exited yet. The creator is resumed at its
 *   event right away: nothing waits for the caller except the new process itself.
 * - PTRACE_O_EXITKILL: if concwatch dies without detaching (SIGKILL, crash), the traced
 *   tree is killed rather than left running untraced after `run` promised tracing from
 *   the first instruction. A deliberate stop (SIGINT, --duration) calls
 *   cw_launch__detach_all(), which detaches every tracee and so lifts EXITKILL.
 * - Signals are never swallowed: a signal-delivery-stop is restarted with its signal; a
 *   group-stop with PTRACE_LISTEN. The command stays in the caller's process group, so
 *   terminal signals reach both.
 * - Poll-driven: SIGCHLD is blocked and read from a signalfd; waitpid(WNOHANG) collects
 *   the stops. The signalfd is drained before each waitpid sweep, so a stop that comes
 *   after the sweep always leaves it readable. __WNOTHREAD keeps children of the caller's
 *   other threads out of it. A SIGCHLD action that would hide stops or exits (SIG_IGN,
 *   SA_NOCLDSTOP, SA_NOCLDWAIT) is replaced while the launcher lives; the command starts
 *   with the caller's signal mask and SIGCHLD action.
 * - Released processes (cw_launch__release) are followed without ptrace: the kernel's
 *   process connector (netlink, root only) names their forks and execs, a pidfd each
 *   their end. Both come after the fact: an event from before the release (the exec the
 *   process was held at) is told apart by its time. The connector's messages are read
 *   before the pidfds found readable, so a child is known before its parent's exit is
 *   handled, and the last one's end is never taken for everyone's. A released process
 *   is not held at its exit: what it needs read then, it says itself.
 * - One epoll descriptor holds the signalfd, the connector and the pidfds: the caller
 *   polls one descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include "common/array.h"
#include "common/time.h"
#include "source/launch.h"

#define TRACE_OPTIONS                                                                   \
	(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |                \
	 PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL)

enum task_state {
	T_RUNNING,	/* restarted by us, or never stopped yet */
	T_LISTENING,	/* in a group-stop, restarted with PTRACE_LISTEN */
	T_EXPECTED,	/* named by its creator's event; its first stop is still to come */
	T_ORPHAN,	/* stopped at its first stop; /proc could not say what it is, its
			 * creator's event will */
	T_HELD,		/* stopped at a reported EXEC, FORK or EXITING until cw_launch__resume() */
};

/* One traced thread. */
struct task {
	pid_t tid;	/* 0: free slot */
	pid_t tgid;
	pid_t ppid;	/* of its process, when it was created */
	int state;	/* enum task_state */
	int stop;	/* waitpid status of the stop it is held in (T_HELD, T_ORPHAN) */
	int reported;	/* a leader whose process the caller has been told about */
	int root;	/* the command's leader */
};

/* Traced threads by tid: open addressing, linear probing, at most half full. */
struct tasks {
	struct task *v;
	size_t cap;	/* a power of two */
	size_t nr;
};

/* A process released from ptrace, followed through the process connector and a pidfd. */
struct released {
	pid_t pid, ppid;
	int pidfd;	/* -1: reaped before the connector's news of it was read */
	int exec_said;	/* released at its exec: the connector says that exec after */
	__u64 since_ns;	/* released then: the connector's events from before are old */
};

/* epoll data: which descriptor woke it (a pidfd's is its pid) */
#define EP_SIGNALFD	(1ULL << 32)
#define EP_CONNECTOR	(2ULL << 32)

struct cw_launch {
	struct tasks tasks;
	struct released *rel;
	size_t nr_rel, cap_rel;
	unsigned long lost;		/* connector messages the kernel dropped */
	int epfd;
	int nl;				/* the process connector, opened at the first release */
	struct cw_launch_event *evq;	/* events not yet returned: a ring */
	size_t evq_head, evq_nr, evq_cap;
	pid_t pid;			/* the command */
	int status;			/* its shell-form status, -1 until known */
	int sfd;			/* signalfd for SIGCHLD */
	int detaching;
	int killing;			/* cw_launch__kill_all(): every new task dies too */
	int flags;			/* CW_LAUNCH_F_* */
	int unblock_sigchld;		/* SIGCHLD was not blocked before start */
	int restore_action;		/* we replaced the caller's SIGCHLD action */
	struct sigaction old_action;
	sigset_t old_mask;
};

static size_t task_home(const struct tasks *t, pid_t tid)
{
	return ((size_t)(unsigned int)tid * 2654435761u) & (t->cap - 1);
}

static struct task *tasks_find(struct tasks *t, pid_t tid)
{
	size_t i;

	if (!t->cap || tid <= 0)
		return NULL;
	for (i = task_home(t, tid); t->v[i].tid; i = (i + 1) & (t->cap - 1))
		if (t->v[i].tid == tid)
			return &t->v[i];
	return NULL;
}

static int tasks_grow(struct tasks *t)
{
	struct tasks n = { .cap = t->cap ? t->cap * 2 : 64 };
	size_t i, j;

	n.v = calloc(n.cap, sizeof(*n.v));
	if (!n.v)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if (!t->v[i].tid)
			continue;
		for (j = task_home(&n, t->v[i].tid); n.v[j].tid; j = (j + 1) & (n.cap - 1))
			;
		n.v[j] = t->v[i];
		n.nr++;
	}
	free(t->v);
	*t = n;
	return 0;
}

/* A new entry for tid (which must not have one), zeroed but for tid; NULL when out of
 * memory. Pointers to other entries do not survive this call. */
static struct task *tasks_add(struct tasks *t, pid_t tid)
{
	size_t i;

	if ((t->nr + 1) * 2 > t->cap && tasks_grow(t))
		return NULL;
	for (i = task_home(t, tid); t->v[i].tid; i = (i + 1) & (t->cap - 1))
		;
	memset(&t->v[i], 0, sizeof(t->v[i]));
	t->v[i].tid = tid;
	t->nr++;
	return &t->v[i];
}

/* Remove tid's entry, shifting back the ones its slot displaced (no tombstones).
 * Pointers to other entries do not survive this call. */
static void tasks_remove(struct tasks *t, pid_t tid)
{
	struct task *e = tasks_find(t, tid);
	size_t mask = t->cap - 1, i, j, k;

	if (!e)
		return;
	i = e - t->v;
	t->v[i].tid = 0;
	t->nr--;
	for (j = (i + 1) & mask; t->v[j].tid; j = (j + 1) & mask) {
		k = task_home(t, t->v[j].tid);
		/* entry j may move to the hole at i unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->v[i] = t->v[j];
		t->v[j].tid = 0;
		i = j;
	}
}

static int queue_push(struct cw_launch *l, enum cw_launch_event_kind kind, pid_t pid, pid_t ppid,
		      int status, int held, __u64 ts_ns)
{
	struct cw_launch_event *v;
	size_t i;

	if (l->evq_nr == l->evq_cap) {
		size_t cap = l->evq_cap ? l->evq_cap * 2 : 16;

		v = malloc(cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (i = 0; i < l->evq_nr; i++)
			v[i] = l->evq[(l->evq_head + i) % l->evq_cap];
		free(l->evq);
		l->evq = v;
		l->evq_cap = cap;
		l->evq_head = 0;
	}
	v = &l->evq[(l->evq_head + l->evq_nr++) % l->evq_cap];
	v->kind = kind;
	v->pid = pid;
	v->ppid = ppid;
	v->status = status;
	v->held = held;
	v->ts_ns = ts_ns;
	return 0;
}

static int queue_pop(struct cw_launch *l, struct cw_launch_event *ev)
{
	if (!l->evq_nr)
		return 0;
	*ev = l->evq[l->evq_head];
	l->evq_head = (l->evq_head + 1) % l->evq_cap;
	l->evq_nr--;
	return 1;
}

static int shell_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* What /proc/TID/status says of a task. */
struct proc_status {
	char state;
	pid_t tgid, ppid, tracer;
};

static int read_proc_status(pid_t tid, struct proc_status *ps)
{
	char path[64], line[256];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "State: %c", &ps->state) == 1 ||
		    sscanf(line, "Tgid: %d", &ps->tgid) == 1 ||
		    sscanf(line, "PPid: %d", &ps->ppid) == 1 ||
		    sscanf(line, "TracerPid: %d", &ps->tracer) == 1)
			found++;
	}
	fclose(f);
	return found == 4 ? 0 : -EINVAL;
}

static int event_of(int status)
{
	return (unsigned int)status >> 16;
}

static int is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/*
 * Restart tid from the stop waitpid reported as status: a signal-delivery-stop with its
 * signal, a group-stop with PTRACE_LISTEN (it stays stopped until SIGCONT, and notifies
 * its real parent as without us), anything else plainly. A tracee that is gone in the
 * meantime (SIGKILL ends ptrace-stops) reports its exit next: not an error.
 */
static int restart(struct cw_launch *l, pid_t tid, int status)
{
	struct task *t = tasks_find(&l->tasks, tid);
	int sig = WSTOPSIG(status), event = event_of(status);
	long r;

	if (event == PTRACE_EVENT_STOP && is_stop_signal(sig)) {
		r = ptrace(PTRACE_LISTEN, tid, NULL, NULL);
		if (t)
			t->state = T_LISTENING;
	} else {
		r = ptrace(PTRACE_CONT, tid, NULL, (void *)(long)(event ? 0 : sig));
		if (t)
			t->state = T_RUNNING;
	}
	if (r < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

/* Let a task go for good; a dying one keeps its entry until its exit is collected. */
static int detach(struct cw_launch *l, pid_t tid, int status)
{
	int sig = event_of(status) ? 0 : WSTOPSIG(status);

	if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig) < 0) {
		if (errno != ESRCH)
			return -errno;
		return 0;
	}
	tasks_remove(&l->tasks, tid);
	return 0;
}

/* tid stopped for the first time, and what it is is known: hold a process, resume a thread. */
static int first_stop(struct cw_launch *l, pid_t tid, int status)
{
	struct task *t = tasks_find(&l->tasks, tid);

	if (l->detaching)
		return detach(l, tid, status);
	if (t->tgid != tid)
		return restart(l, tid, status);
	t->state = T_HELD;
	t->stop = status;
	t->reported = 1;
	return queue_push(l, CW_LAUNCH_FORK, tid, t->ppid, 0, 1, 0);
}

/* A stop of a tid we do not know: a task auto-attached at its creation, whose creator's
 * event stop has not been collected yet. */
static int new_task(struct cw_launch *l, pid_t tid, int status)
{
	struct proc_status ps;
	struct task *t;

	if (l->detaching)
		return detach(l, tid, status);
	t = tasks_add(&l->tasks, tid);
	if (!t)
		return -ENOMEM;
	if (read_proc_status(tid, &ps)) {
		t->state = T_ORPHAN;
		t->stop = status;
		return 0;
	}
	t->tgid = ps.tgid;
	t->ppid = ps.ppid;
	t->state = T_EXPECTED;
	return first_stop(l, tid, status);
}

/* creator's event (PTRACE_EVENT_FORK, _VFORK or _CLONE) named child. */
static int child_created(struct cw_launch *l, pid_t creator, int event, pid_t child)
{
	struct task *c = tasks_find(&l->tasks, child);
	struct proc_status ps;
	int err;

	if (c) {
		if (c->state != T_ORPHAN)
			return 0;	/* resolved at its first stop already */
		/* /proc failed us: the event says thread for CLONE (wrong only for clone()
		 * processes with an exit signal other than SIGCHLD) */
		c->tgid = event == PTRACE_EVENT_CLONE ? creator : child;
		c->ppid = creator;
		c->state = T_EXPECTED;
		return first_stop(l, child, c->stop);
	}
	err = read_proc_status(child, &ps);
	if (err == -ESRCH)
		return 0;	/* gone and reaped already */
	/* a zombie's exit is collected, or was, as that of an unknown tid; one we detached
	 * already is no longer ours */
	if (!err && (ps.state == 'Z' || ps.state == 'X' ||
		     (l->detaching && ps.tracer != getpid())))
		return 0;
	c = tasks_add(&l->tasks, child);
	if (!c)
		return -ENOMEM;
	c->state = T_EXPECTED;
	if (err) {
		c->tgid = event == PTRACE_EVENT_CLONE ? creator : child;
		c->ppid = creator;
	} else {
		c->tgid = ps.tgid;
		c->ppid = ps.ppid;
	}
	return 0;
}

static int task_exited(struct cw_launch *l, pid_t tid, int status)
{
	struct task *t = tasks_find(&l->tasks, tid);
	int err = 0;

	/* the command, released from ptrace, is still our child */
	if (tid == l->pid && (!t || t->root))
		l->status = shell_status(status);
	if (!t)
		return 0;	/* not ours, or a new task killed before its first stop */
	/* A leader's exit is only reported once its other threads are gone, and not at
	 * all when another thread execs: it stands for its process. */
	if (t->tid == t->tgid) {
		if (t->reported)
			err = queue_push(l, CW_LAUNCH_EXIT, t->tid, t->ppid, shell_status(status),
					 0, 0);
	}
	tasks_remove(&l->tasks, tid);
	return err;
}

static int exec_stop(struct cw_launch *l, pid_t tid, int status)
{
	unsigned long former = tid;
	struct task *t;

	/* An exec by another thread than the leader took over the leader's tid: the
	 * former one reports no exit. */
	if (!ptrace(PTRACE_GETEVENTMSG, tid, NULL, &former) && (pid_t)former != tid) {
		struct task *f = tasks_find(&l->tasks, former);
		pid_t ppid = f ? f->ppid : 0;

		tasks_remove(&l->tasks, former);
		/* a thread seized alone (cw_launch__seize) took over its leader's tid */
		if (!tasks_find(&l->tasks, tid)) {
			t = tasks_add(&l->tasks, tid);
			if (!t)
				return -ENOMEM;
			t->ppid = ppid;
			t->root = tid == l->pid;
		}
	}
	t = tasks_find(&l->tasks, tid);
	if (l->detaching)
		return detach(l, tid, status);
	t->tgid = tid;
	t->state = T_HELD;
	t->stop = status;
	t->reported = 1;
	return queue_push(l, CW_LAUNCH_EXEC, tid, t->ppid, 0, 1, 0);
}

static int handle(struct cw_launch *l, pid_t tid, int status)
{
	int event = event_of(status), err;
	unsigned long child;
	struct task *t;

	if (WIFEXITED(status) || WIFSIGNALED(status))
		return task_exited(l, tid, status);
	if (!WIFSTOPPED(status))
		return 0;
	t = tasks_find(&l->tasks, tid);
	if (l->killing) {
		/* a process made meanwhile dies too; older kernels stop a killed task at
		 * PTRACE_EVENT_EXIT all the same, and it goes on when restarted */
		if (!t && tasks_add(&l->tasks, tid))
			tasks_find(&l->tasks, tid)->tgid = tid;
		kill(tid, SIGKILL);
		ptrace(PTRACE_CONT, tid, NULL, NULL);
		return 0;
	}
	/* the exec of a thread seized alone, reported under its leader's tid */
	if (!t && event == PTRACE_EVENT_EXEC)
		return exec_stop(l, tid, status);
	if (!t)
		return new_task(l, tid, status);
	if (t->state == T_EXPECTED)
		return first_stop(l, tid, status);
	switch (event) {
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		if (!ptrace(PTRACE_GETEVENTMSG, tid, NULL, &child)) {
			err = child_created(l, t->tgid, event, child);
			if (err)
				return err;
		}
		break;
	case PTRACE_EVENT_EXEC:
		return exec_stop(l, tid, status);
	case PTRACE_EVENT_EXIT:
		/* a reported process's leader on its way out, its memory still there */
		if (t->tid == t->tgid && t->reported && !l->detaching) {
			t->state = T_HELD;
			t->stop = status;
			return queue_push(l, CW_LAUNCH_EXITING, tid, t->ppid, 0, 1, 0);
		}
		break;
	}
	if (l->detaching)
		return detach(l, tid, status);
	return restart(l, tid, status);
}

/* waitpid failed with ECHILD: nothing we track can report any more (someone else reaped
 * it). Say so for the processes the caller knows. */
static int forget_all(struct cw_launch *l)
{
	size_t i;
	int err = 0;

	for (i = 0; i < l->tasks.cap; i++) {
		struct task *t = &l->tasks.v[i];

		if (t->tid && t->tid == t->tgid && t->reported && !err)
			err = queue_push(l, CW_LAUNCH_EXIT, t->tid, t->ppid, -1, 0, 0);
		t->tid = 0;
	}
	l->tasks.nr = 0;
	return err;
}

/* Collect every stop and exit waiting now (flags 0: wait for one first). */
static int collect(struct cw_launch *l, int flags)
{
	int status, err;
	pid_t tid;

	for (;;) {
		tid = waitpid(-1, &status, __WALL | __WNOTHREAD | flags);
		if (tid == 0)
			return 0;
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return forget_all(l);
			return -errno;
		}
		err = handle(l, tid, status);
		if (err)
			return err;
		flags = WNOHANG;
	}
}

/* ---- processes released from ptrace ---- */

static struct released *rel_find(struct cw_launch *l, pid_t pid)
{
	for (size_t i = 0; i < l->nr_rel; i++)
		if (l->rel[i].pid == pid)
			return &l->rel[i];
	return NULL;
}

/*
 * Follow pid without ptrace from now on. 0; -ESRCH when it is gone already, unless
 * gone_ok: then it is followed with no pidfd, through the connector's news still waiting
 * (its exec, its own children), and ended at the end of the drain (connector_drain).
 */
static int rel_add(struct cw_launch *l, pid_t pid, pid_t ppid, __u64 since_ns, int gone_ok)
{
	struct epoll_event ee = { .events = EPOLLIN, .data.u64 = (__u32)pid };
	struct released *v;
	int fd;

	v = cw_grow(l->rel, &l->cap_rel, l->nr_rel + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->rel = v;
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && (errno != ESRCH || !gone_ok))
		return -errno;
	if (fd >= 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee)) {
		int err = -errno;

		close(fd);
		return err;
	}
	l->rel[l->nr_rel++] = (struct released){ .pid = pid, .ppid = ppid, .pidfd = fd,
						 .since_ns = since_ns };
	return 0;
}

static void rel_remove(struct cw_launch *l, struct released *r)
{
	if (r->pidfd >= 0)
		close(r->pidfd);	/* leaves the epoll set with it */
	*r = l->rel[--l->nr_rel];
}

/*
 * One request to the process connector: listen (1) or stop listening (0). The kernel
 * acknowledges it with ack + 1 (it numbers the seq of its messages itself).
 */
static int connector_send(struct cw_launch *l, int listen, __u32 ack)
{
	struct {
		struct nlmsghdr nh;
		struct cn_msg cn;
		__u32 op;	/* enum proc_cn_mcast_op */
	} __attribute__((packed)) m = {
		.nh = { .nlmsg_len = sizeof(m), .nlmsg_type = NLMSG_DONE },
		.cn = { .id = { CN_IDX_PROC, CN_VAL_PROC }, .ack = ack, .len = sizeof(__u32) },
		.op = listen ? PROC_CN_MCAST_LISTEN : PROC_CN_MCAST_IGNORE,
	};

	return send(l->nl, &m, sizeof(m), 0) == sizeof(m) ? 0 : -errno;
}

/*
 * One batch of connector messages into fn, per process event; -EAGAIN when none is
 * waiting. A queue that overflowed (ENOBUFS) is counted and read on.
 */
static int connector_read(struct cw_launch *l,
			  void (*fn)(struct cw_launch *l, const struct cn_msg *cn,
				     const struct proc_event *pe, void *ctx), void *ctx)
{
	__u64 buf[1024];
	ssize_t n = recv(l->nl, buf, sizeof(buf), 0);

	if (n < 0) {
		if (errno == ENOBUFS) {
			l->lost++;
			return 0;
		}
		return -errno;
	}
	for (struct nlmsghdr *nh = (void *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
		const struct cn_msg *cn = NLMSG_DATA(nh);

		if (nh->nlmsg_type == NLMSG_ERROR || nh->nlmsg_type == NLMSG_NOOP ||
		    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + sizeof(struct proc_event)) ||
		    cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
			continue;
		fn(l, cn, (const struct proc_event *)cn->data, ctx);
	}
	return 0;
}

static void on_ack(struct cw_launch *l, const struct cn_msg *cn, const struct proc_event *pe,
		   void *ctx)
{
	int *ack = ctx;

	(void)l;
	if (pe->what == PROC_EVENT_NONE && cn->ack == (__u32)getpid() + 1)
		*ack = pe->event_data.ack.err ? -(int)pe->event_data.ack.err : 1;
}

/*
 * The process connector, at the first release: listening, acknowledged by the kernel
 * (a kernel without it, or a process without CAP_NET_ADMIN, says so or stays silent).
 */
static int connector_open(struct cw_launch *l)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	struct epoll_event ee = { .events = EPOLLIN, .data.u64 = EP_CONNECTOR };
	__u64 deadline = cw_now_ns() + 1000000000ULL;
	int size = 4 << 20, ack = 0, err;

	if (l->nl >= 0)
		return 0;
	l->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (l->nl < 0)
		return -errno;
	/* a machine busy forking sends much: room for it (root only; else the default) */
	if (setsockopt(l->nl, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(l->nl, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(l->nl, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto fail;
	}
	err = connector_send(l, 1, getpid());
	while (!err && !ack) {
		struct pollfd pfd = { .fd = l->nl, .events = POLLIN };
		__u64 now = cw_now_ns();

		if (now >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, (deadline - now) / 1000000 + 1) < 0 && errno != EINTR)
			err = -errno;
		else if (pfd.revents)
			err = connector_read(l, on_ack, &ack);
	}
	if (!err && ack < 0)
		err = ack;
	if (!err) {
		fcntl(l->nl, F_SETFL, fcntl(l->nl, F_GETFL) | O_NONBLOCK);
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->nl, &ee))
			err = -errno;
	}
	if (!err)
		return 0;
fail:
	close(l->nl);
	l->nl = -1;
	return err;
}

/* A fork or exec by a released process, since it was released: followed, and said. */
static void on_proc_event(struct cw_launch *l, const struct cn_msg *cn,
			  const struct proc_event *pe, void *ctx)
{
	int *err = ctx;
	struct released *r;

	(void)cn;
	if (*err)
		return;
	if (pe->what == PROC_EVENT_FORK) {
		const struct fork_proc_event *f = &pe->event_data.fork;

		/* a thread of a process, or a child of a process not released */
		if (f->child_pid != f->child_tgid)
			return;
		r = rel_find(l, f->parent_tgid);
		if (!r || pe->timestamp_ns < r->since_ns)
			return;
		if (l->killing)
			kill(f->child_tgid, SIGKILL);
		/*
		 * Reaped already (the whole tree may have run while the caller was busy): it
		 * was, all the same, and what it did is still in the connector's queue
		 */
		*err = rel_add(l, f->child_tgid, f->parent_tgid, pe->timestamp_ns, 1);
		if (!*err)
			*err = queue_push(l, CW_LAUNCH_FORK, f->child_tgid, f->parent_tgid, 0, 0,
					  pe->timestamp_ns);
	} else if (pe->what == PROC_EVENT_EXEC) {
		const struct exec_proc_event *x = &pe->event_data.exec;

		r = rel_find(l, x->process_tgid);
		if (!r || pe->timestamp_ns < r->since_ns)
			return;
		/* the kernel tells the connector of an exec after its ptrace stop */
		if (r->exec_said) {
			r->exec_said = 0;
			return;
		}
		*err = queue_push(l, CW_LAUNCH_EXEC, r->pid, r->ppid, 0, 0, pe->timestamp_ns);
	}
}

/* Every connector message waiting: the forks and execs of released processes. */
static int connector_drain(struct cw_launch *l)
{
	int err = 0, ret;

	if (l->nl < 0)
		return 0;
	while (!err && !(ret = connector_read(l, on_proc_event, &err)))
		;
	if (err)
		return err;
	if (ret != -EAGAIN && ret != -EINTR)
		return ret;
	/*
	 * Those reaped before they were named: their news was all in the queue read now
	 * (the kernel says an exec or a fork before the exit and the reap). Their ends come
	 * after it, their children's first.
	 */
	for (size_t i = l->nr_rel; i-- > 0;) {
		struct released *r = &l->rel[i];

		if (r->pidfd >= 0)
			continue;
		err = queue_push(l, CW_LAUNCH_EXIT, r->pid, r->ppid, -1, 0, 0);
		if (err)
			return err;
		rel_remove(l, r);
	}
	return 0;
}

/* Released processes whose pidfds epoll found readable: gone, all their threads. */
static int rel_exits(struct cw_launch *l, const struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		struct pollfd pfd;
		struct released *r;
		pid_t pid;
		int err;

		if (ev[i].data.u64 >> 32)
			continue;
		pid = (pid_t)ev[i].data.u64;
		r = rel_find(l, pid);
		if (!r)
			continue;
		/* readable for good: check it, it was found readable before the connector's read */
		pfd = (struct pollfd){ .fd = r->pidfd, .events = POLLIN };
		if (poll(&pfd, 1, 0) != 1)
			continue;
		err = queue_push(l, CW_LAUNCH_EXIT, r->pid, r->ppid, r->pid == l->pid ? l->status : -1,
				 0, 0);
		if (err)
			return err;
		rel_remove(l, r);
	}
	return 0;
}

static void drain_signalfd(struct cw_launch *l)
{
	struct signalfd_siginfo si[8];

	while (read(l->sfd, si, sizeof(si)) > 0)
		;
}

/*
 * Everything that can be known without waiting: drain the signalfd first, so a stop
 * that comes after the sweep leaves it readable. The released processes found gone are
 * taken first, their forks read after: a child forked before its parent ended is known
 * before that end is handled. The command's status is collected before its end is said.
 */
static int sweep(struct cw_launch *l)
{
	struct epoll_event ev[64];
	int n = 0, err;

	drain_signalfd(l);
	if (l->nr_rel) {
		n = epoll_wait(l->epfd, ev, 64, 0);
		if (n < 0)
			n = 0;
	}
	err = connector_drain(l) ?: collect(l, WNOHANG);
	if (!err && n)
		err = rel_exits(l, ev, n);
	return err;
}

static long long now_ms(void)
{
	return cw_now_ns() / 1000000;
}

int cw_launch__next(struct cw_launch *l, struct cw_launch_event *ev, int timeout_ms)
{
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	struct pollfd pfd = { .fd = l->epfd, .events = POLLIN };
	int err, wait;

	for (;;) {
		if (queue_pop(l, ev))
			return 1;
		if (!l->tasks.nr && !l->nr_rel)
			return -ECHILD;
		err = sweep(l);
		if (err)
			return err;
		if (queue_pop(l, ev))
			return 1;
		if (!l->tasks.nr && !l->nr_rel)
			return -ECHILD;
		if (!timeout_ms)
			return 0;
		wait = -1;
		if (timeout_ms > 0) {
			long long left = deadline - now_ms();

			if (left <= 0)
				return 0;
			wait = left;
		}
		err = poll(&pfd, 1, wait);
		if (err < 0)
			return -errno;
		if (!err)
			return 0;
	}
}

int cw_launch__resume(struct cw_launch *l, pid_t pid)
{
	struct task *t = tasks_find(&l->tasks, pid);

	if (!t || t->state != T_HELD)
		return -ESRCH;
	return restart(l, pid, t->stop);
}

pid_t cw_launch__pid(const struct cw_launch *l)
{
	return l->pid;
}

int cw_launch__fd(const struct cw_launch *l)
{
	return l->epfd;
}

int cw_launch__release(struct cw_launch *l, pid_t pid)
{
	struct task *t = tasks_find(&l->tasks, pid);
	__u64 since = cw_now_ns();
	int err;

	/* at its EXEC or FORK: not on its way out */
	if (!t || t->state != T_HELD || t->tgid != pid || event_of(t->stop) == PTRACE_EVENT_EXIT)
		return -ESRCH;
	err = connector_open(l);
	if (err)
		return err;
	err = rel_add(l, pid, t->ppid, since, 0);
	if (err)
		return err;
	l->rel[l->nr_rel - 1].exec_said = event_of(t->stop) == PTRACE_EVENT_EXEC;
	err = detach(l, pid, t->stop);
	if (err)
		rel_remove(l, rel_find(l, pid));
	return err;
}

int cw_launch__seize(struct cw_launch *l, pid_t pid, pid_t tid)
{
	struct released *r = rel_find(l, pid);
	struct task *t;
	long opts = TRACE_OPTIONS | (l->flags & CW_LAUNCH_F_EXITING ? PTRACE_O_TRACEEXIT : 0);

	/* a child the connector named and nobody read yet (a vfork child execs at once) */
	if (!r && !connector_drain(l))
		r = rel_find(l, pid);
	if (!r || tid <= 0 || tasks_find(&l->tasks, tid))
		return -ESRCH;
	t = tasks_add(&l->tasks, tid);
	if (!t)
		return -ENOMEM;
	t->tgid = pid;
	t->ppid = r->ppid;
	t->state = T_RUNNING;
	t->root = pid == l->pid && tid == pid;
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)opts) < 0) {
		int err = errno == EPERM || errno == ESRCH ? -ESRCH : -errno;

		tasks_remove(&l->tasks, tid);
		return err;
	}
	/* its end is ptrace's to tell now */
	rel_remove(l, r);
	return 0;
}

unsigned long cw_launch__lost(const struct cw_launch *l)
{
	return l->lost;
}

int cw_launch__status(const struct cw_launch *l)
{
	return l->status;
}

int cw_launch__detach_all(struct cw_launch *l)
{
	pid_t *tids;
	size_t i, n = 0;
	int err = 0;

	/* released ones go their way: no longer followed */
	while (l->nr_rel)
		rel_remove(l, &l->rel[0]);
	if (!l->tasks.nr)
		return 0;
	tids = malloc(l->tasks.nr * sizeof(*tids));
	if (!tids)
		return -ENOMEM;
	for (i = 0; i < l->tasks.cap; i++)
		if (l->tasks.v[i].tid)
			tids[n++] = l->tasks.v[i].tid;

	/* Stopped ones go now; running and listening ones are made to stop (a listening
	 * one re-traps and, detached, goes back to its group-stop); expected ones stop by
	 * themselves. Events met on the way (a fork) only add tasks to detach. */
	l->detaching = 1;
	for (i = 0; i < n && !err; i++) {
		struct task *t = tasks_find(&l->tasks, tids[i]);

		if (!t)
			continue;
		switch (t->state) {
		case T_HELD:
		case T_ORPHAN:
			err = detach(l, tids[i], t->stop);
			break;
		case T_RUNNING:
		case T_LISTENING:
			if (ptrace(PTRACE_INTERRUPT, tids[i], NULL, NULL) < 0 && errno != ESRCH)
				err = -errno;
			break;
		}
	}
	free(tids);
	while (!err && l->tasks.nr)
		err = collect(l, 0);
	l->detaching = 0;
	return err;
}

static int kill_released(struct cw_launch *l);

int cw_launch__kill_all(struct cw_launch *l)
{
	int err = 0, killed = 0;

	if (l->nr_rel)
		killed = kill_released(l);
	if (killed < 0)
		return killed;
	if (!l->tasks.nr)
		return killed;
	/*
	 * SIGKILL ends a task in any stop, ptrace ones included, before it runs another
	 * instruction: a process held at its exec or fork dies before its first. The
	 * processes are named, their threads go with them; a new task met on the way is
	 * killed at its first stop (killing, handled below, like detaching).
	 */
	for (size_t i = 0; i < l->tasks.cap; i++) {
		const struct task *t = &l->tasks.v[i];

		if (t->tid && t->tid == t->tgid && !kill(t->tid, SIGKILL))
			killed++;
	}
	l->killing = 1;
	while (!err && l->tasks.nr)
		err = collect(l, 0);
	l->killing = 0;
	return err ? err : killed;
}

/*
 * Kill every released process, and those they create meanwhile (the connector names
 * them), and wait for their ends: the number killed, or -errno.
 */
static int kill_released(struct cw_launch *l)
{
	int killed = 0, err = 0;

	l->killing = 1;
	for (size_t i = 0; i < l->nr_rel; i++)
		if (!syscall(SYS_pidfd_send_signal, l->rel[i].pidfd, SIGKILL, NULL, 0))
			killed++;
	while (!err && l->nr_rel) {
		struct pollfd pfd = { .fd = l->rel[0].pidfd, .events = POLLIN };

		/* one reaped before it was named ends with the drain that named it */
		if (pfd.fd < 0) {
			err = connector_drain(l);
			continue;
		}
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		/* children forked before the kill: killed as they are named */
		err = connector_drain(l);
		if (!err && pfd.revents)
			rel_remove(l, &l->rel[0]);
	}
	l->killing = 0;
	/* the command is our child: its end collected */
	if (!err)
		err = collect(l, WNOHANG);
	return err ? err : killed;
}

/* Replace a SIGCHLD action that would hide ptrace stops or exits from us. */
static int take_sigchld(struct cw_launch *l)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	if (sigaction(SIGCHLD, NULL, &l->old_action))
		return -errno;
	if (l->old_action.sa_handler != SIG_IGN &&
	    !(l->old_action.sa_flags & (SA_NOCLDSTOP | SA_NOCLDWAIT)))
		return 0;
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, NULL))
		return -errno;
	l->restore_action = 1;
	return 0;
}

/* The child: wait to be seized, restore what the caller had, exec. */
static void __attribute__((noreturn))
child_exec(struct cw_launch *l, char *const argv[], const int go[2], const int report[2])
{
	char c = 0;
	int e;

	/* our copy of the write end would hide the parent's giving up */
	close(go[1]);
	close(report[0]);
	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
	if (c != 'g')
		_exit(127);	/* the parent gave up */
	if (l->restore_action)
		sigaction(SIGCHLD, &l->old_action, NULL);
	sigprocmask(SIG_SETMASK, &l->old_mask, NULL);
	execvp(argv[0], argv);
	e = errno;
	while (write(report[1], &e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(127);
}

int cw_launch__start(char *const argv[], struct cw_launch **out, char *err, size_t errlen)
{
	return cw_launch__start_flags(argv, 0, out, err, errlen);
}

int cw_launch__start_flags(char *const argv[], int flags, struct cw_launch **out, char *err,
			   size_t errlen)
{
	int go[2] = { -1, -1 }, report[2] = { -1, -1 }, ret, e = 0;
	struct cw_launch *l;
	sigset_t chld;
	ssize_t n;

	*out = NULL;
	if (!argv || !argv[0]) {
		snprintf(err, errlen, "no command to run");
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "failed to start %s: %s", argv[0], strerror(ENOMEM));
		return -ENOMEM;
	}
	l->status = -1;
	l->sfd = -1;
	l->epfd = -1;
	l->nl = -1;
	l->flags = flags;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	ret = -pthread_sigmask(SIG_BLOCK, &chld, &l->old_mask);
	if (ret) {
		free(l);
		snprintf(err, errlen, "failed to block SIGCHLD: %s", strerror(-ret));
		return ret;
	}
	l->unblock_sigchld = !sigismember(&l->old_mask, SIGCHLD);
	ret = take_sigchld(l);
	if (ret) {
		snprintf(err, errlen, "failed to set the SIGCHLD action: %s", strerror(-ret));
		goto cleanup;
	}
	l->sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->sfd < 0 || l->epfd < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sfd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.u64 = EP_SIGNALFD }) ||
	    pipe2(go, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
		ret = -errno;
		snprintf(err, errlen, "failed to start %s: %s", argv[0], strerror(errno));
		goto cleanup;
	}

	l->pid = fork();
	if (l->pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "failed to start %s: fork: %s", argv[0], strerror(errno));
		goto cleanup;
	}
	if (!l->pid)
		child_exec(l, argv, go, report);
	close(go[0]);
	close(report[1]);
	go[0] = report[1] = -1;

	if (ptrace(PTRACE_SEIZE, l->pid, NULL,
		   (void *)(long)(TRACE_OPTIONS |
				  (flags & CW_LAUNCH_F_EXITING ? PTRACE_O_TRACEEXIT : 0))) < 0) {
		ret = -errno;
		snprintf(err, errlen, "failed to trace %s: ptrace: %s", argv[0], strerror(errno));
		close(go[1]);	/* the child exits */
		go[1] = -1;
		while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto cleanup;
	}
	{
		struct task *t = tasks_add(&l->tasks, l->pid);

		if (!t) {
			ret = -ENOMEM;
			snprintf(err, errlen, "failed to start %s: %s", argv[0], strerror(ENOMEM));
			kill(l->pid, SIGKILL);
			goto reap;
		}
		t->tgid = l->pid;
		t->ppid = getpid();
		t->state = T_RUNNING;
		t->root = 1;
	}
	if (write(go[1], "g", 1) != 1) {
		ret = -errno;
		snprintf(err, errlen, "failed to start %s: %s", argv[0], strerror(errno));
		kill(l->pid, SIGKILL);
		goto reap;
	}

	/* Until the exec event (the only event it can have first) or its exit. */
	for (;;) {
		struct pollfd pfd = { .fd = l->sfd, .events = POLLIN };

		ret = sweep(l);
		if (ret) {
			snprintf(err, errlen, "failed to follow %s: %s", argv[0], strerror(-ret));
			kill(l->pid, SIGKILL);
			goto reap;
		}
		if (l->evq_nr) {
			*out = l;
			ret = 0;
			goto cleanup;
		}
		if (!l->tasks.nr)
			break;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			ret = -errno;
			snprintf(err, errlen, "failed to follow %s: %s", argv[0], strerror(errno));
			kill(l->pid, SIGKILL);
			goto reap;
		}
	}
	n = read(report[0], &e, sizeof(e));
	if (n == sizeof(e) && e > 0) {
		ret = -e;
		snprintf(err, errlen, "failed to execute %s: %s", argv[0], strerror(e));
	} else {
		ret = -ECHILD;
		snprintf(err, errlen, "%s ended before it started (status %d)", argv[0],
			 l->status);
	}
	goto cleanup;
reap:
	/* It was killed: collect it so that nothing stays behind. */
	while (l->tasks.nr && !collect(l, 0))
		;
cleanup:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	if (report[0] >= 0)
		close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	if (ret)
		cw_launch__free(l);
	return ret;
}

void cw_launch__free(struct cw_launch *l)
{
	sigset_t chld;

	if (!l)
		return;
	cw_launch__detach_all(l);
	if (l->nl >= 0) {
		connector_send(l, 0, 0);
		close(l->nl);
	}
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->sfd >= 0)
		close(l->sfd);
	if (l->restore_action)
		sigaction(SIGCHLD, &l->old_action, NULL);
	if (l->unblock_sigchld) {
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
	}
	free(l->tasks.v);
	free(l->rel);
	free(l->evq);
	free(l);
}
