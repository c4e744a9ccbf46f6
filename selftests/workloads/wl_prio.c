// SPDX-License-Identifier: GPL-2.0
/*
 * A priority inversion, made certain by its order, not by luck: three SCHED_FIFO threads
 * pinned to one CPU (the last one allowed), the main thread (SCHED_OTHER) on another.
 *
 *   "prio-l" (FIFO 10) takes prio_lock and spins until the main thread says release;
 *   "prio-h" (FIFO 30) wakes, preempts L and blocks in pthread_mutex_lock(&prio_lock)
 *            (the main thread waits until /proc shows it asleep in futex);
 *   "prio-m" (FIFO 20) wakes and spins SPIN_MS (default 300, below RT throttling's
 *            950 ms a second): with a plain mutex it preempts L, which cannot unlock, so H
 *            waits for M; with -pi (PTHREAD_PRIO_INHERIT) L runs at H's priority, M
 *            waits, L unlocks, then H runs, then M. M then sleeps in spin_m() until the
 *            main thread lets it end: it gives the CPU back from the function that spun.
 * The main thread sets release once M has started spinning (plain mutex: M has L's CPU
 * then) or once M is runnable (-pi: it cannot run before L unlocks). With -fork, M is a
 * process of its own, forked first and named "prio-m" (no thread of ours). With -other,
 * L stays SCHED_OTHER. SPIN_MS -1: M is not woken before L unlocks (with -other, only a
 * latent inversion: an RT thread blocked on a plain mutex of a thread that is not RT).
 *
 *   wl_prio [-w] [-pi] [-fork] [-other] [SPIN_MS]
 *   ready pid=P cpu=C tid_h=H tid_l=L tid_m=M pid_m=PM lock=0x.. pi=0|1
 *         (or: ready pid=P skip=1 reason=EPERM|one-cpu|..., exit 4)
 *   <- go                                       (with -w)
 *   done h_wait_ns=W m_spin_ns=S line_l=N line_m=N
 * and, with -w, exits when stdin closes; without, at once (`concwatch run`). line_l: the
 * line where L spins holding the lock; line_m: where M sleeps after its spin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "wl.h"

#define PRIO_L 10
#define PRIO_M 20
#define PRIO_H 30

pthread_mutex_t prio_lock;

/* What the threads (and the forked M) share: in a MAP_SHARED page. */
struct shared {
	sem_t go_l, go_h, go_m, m_end;	/* process-shared */
	atomic_int l_locked, h_trying, m_started, m_done, release, setup_err;
	atomic_int tid_m;
	long long h_wait_ns, m_spin_ns;
	int line_l, line_m;
};

static struct shared *sh;
static long spin_ms = 300;
static int rt_cpu, l_other;	/* -other: L stays SCHED_OTHER (a latent inversion) */
static atomic_int tid_h, tid_l;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Pin the calling thread to cpu and make it SCHED_FIFO prio (0: leave it as it is): 0 or
 * the errno. */
static int become_rt(int cpu, int prio)
{
	struct sched_param sp = { .sched_priority = prio };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return errno;
	if (prio && sched_setscheduler(0, SCHED_FIFO, &sp))
		return errno;
	return 0;
}

static void wait_sem(sem_t *s)
{
	while (sem_wait(s) && errno == EINTR)
		;
}

WL_FRAME static void hold_prio_lock(void)
{
	pthread_mutex_lock(&prio_lock);
	atomic_store(&sh->l_locked, 1);
	sh->line_l = __LINE__ + 1;
	while (!atomic_load(&sh->release))
		;
	pthread_mutex_unlock(&prio_lock);
}

static void *thread_l(void *arg)
{
	int err;

	tid_l = syscall(SYS_gettid);
	err = become_rt(rt_cpu, l_other ? 0 : PRIO_L);
	if (err)
		atomic_store(&sh->setup_err, err);
	wait_sem(&sh->go_l);
	if (!err)
		hold_prio_lock();
	return NULL;
}

WL_FRAME static void wait_prio_lock(void)
{
	long long t0 = now_ns();

	atomic_store(&sh->h_trying, 1);
	pthread_mutex_lock(&prio_lock);
	sh->h_wait_ns = now_ns() - t0;
	pthread_mutex_unlock(&prio_lock);
}

static void *thread_h(void *arg)
{
	int err;

	tid_h = syscall(SYS_gettid);
	err = become_rt(rt_cpu, PRIO_H);
	if (err)
		atomic_store(&sh->setup_err, err);
	wait_sem(&sh->go_h);
	if (!err)
		wait_prio_lock();
	return NULL;
}

WL_FRAME static void spin_m(void)
{
	long long t0 = now_ns(), end = t0 + spin_ms * 1000000LL;

	atomic_store(&sh->m_started, 1);
	while (now_ns() < end)
		;
	sh->m_spin_ns = now_ns() - t0;
	atomic_store(&sh->m_done, 1);
	sh->line_m = __LINE__ + 1;
	wait_sem(&sh->m_end);
}

static void run_m(void)
{
	int err;

	atomic_store(&sh->tid_m, syscall(SYS_gettid));
	err = become_rt(rt_cpu, PRIO_M);
	if (err)
		atomic_store(&sh->setup_err, err);
	wait_sem(&sh->go_m);
	if (!err)
		spin_m();
	else
		atomic_store(&sh->m_done, 1);
}

static void *thread_m(void *arg)
{
	run_m();
	return NULL;
}

/* /proc state letter of thread tid of process pid, '?' when unreadable. */
static char task_state(int pid, int tid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Whether thread tid of process pid sleeps in futex(2): state S and syscall 202. */
static int futex_blocked(int pid, int tid)
{
	char path[64], buf[64] = "";
	FILE *f;

	if (task_state(pid, tid) != 'S')
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !strncmp(buf, "202 ", 4);
}

static void pause_a_little(void)
{
	struct timespec ts = { 0, 100 * 1000 };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	int use_pi = 0, use_fork = 0, hs = 0, n = 1, main_cpu = -1, pid_m;
	pthread_t l, h, m;
	pthread_mutexattr_t ma;
	cpu_set_t set;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-pi"))
			use_pi = 1;
		else if (!strcmp(argv[i], "-fork"))
			use_fork = 1;
		else if (!strcmp(argv[i], "-other"))
			l_other = 1;
		else if (!strcmp(argv[i], "-w"))
			hs = 1;
		else
			argv[n++] = argv[i];
	}
	spin_ms = wl_arg(n, argv, 1, 300);

	/* the RT threads on the last CPU allowed, the main thread on another */
	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	rt_cpu = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			if (main_cpu < 0)
				main_cpu = c;
			rt_cpu = c;
		}
	if (rt_cpu == main_cpu) {
		printf("ready pid=%d skip=1 reason=one-cpu\n", getpid());
		if (hs)
			wl_wait_eof();
		return 4;
	}
	CPU_ZERO(&set);
	CPU_SET(main_cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	sem_init(&sh->go_l, 1, 0);
	sem_init(&sh->go_h, 1, 0);
	sem_init(&sh->go_m, 1, 0);
	sem_init(&sh->m_end, 1, 0);

	pthread_mutexattr_init(&ma);
	if (use_pi)
		pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&prio_lock, &ma);

	if (use_fork) {
		pid_m = fork();
		if (pid_m < 0)
			return 1;
		if (!pid_m) {
			prctl(PR_SET_NAME, "prio-m");
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			run_m();
			_exit(0);
		}
	} else {
		if (pthread_create(&m, NULL, thread_m, NULL))
			return 1;
		pthread_setname_np(m, "prio-m");
		pid_m = getpid();
	}
	if (pthread_create(&l, NULL, thread_l, NULL) || pthread_create(&h, NULL, thread_h, NULL))
		return 1;
	pthread_setname_np(l, "prio-l");
	pthread_setname_np(h, "prio-h");
	/* every thread set up, asleep on its semaphore */
	while (!atomic_load(&tid_h) || !atomic_load(&tid_l) || !atomic_load(&sh->tid_m) ||
	       !futex_blocked(getpid(), tid_h) || !futex_blocked(getpid(), tid_l) ||
	       !futex_blocked(pid_m, atomic_load(&sh->tid_m)))
		pause_a_little();
	if (atomic_load(&sh->setup_err)) {
		printf("ready pid=%d skip=1 reason=%s\n", getpid(),
		       atomic_load(&sh->setup_err) == EPERM ? "EPERM" :
							      strerror(atomic_load(&sh->setup_err)));
		if (hs)
			wl_wait_eof();
		sem_post(&sh->go_l);
		sem_post(&sh->go_h);
		sem_post(&sh->go_m);
		_exit(4);
	}
	printf("ready pid=%d cpu=%d tid_h=%d tid_l=%d tid_m=%d pid_m=%d lock=%p pi=%d\n", getpid(),
	       rt_cpu, tid_h, tid_l, atomic_load(&sh->tid_m), pid_m, (void *)&prio_lock, use_pi);
	if (hs)
		wl_wait_go();

	sem_post(&sh->go_l);
	while (!atomic_load(&sh->l_locked))
		pause_a_little();
	sem_post(&sh->go_h);
	while (!atomic_load(&sh->h_trying) || !futex_blocked(getpid(), tid_h))
		pause_a_little();
	if (spin_ms < 0) {
		/* no M: L alone with H waiting (a latent inversion); M runs at the end */
		atomic_store(&sh->release, 1);
		pthread_join(l, NULL);
		pthread_join(h, NULL);
		sem_post(&sh->go_m);
		goto end;
	}
	sem_post(&sh->go_m);
	if (use_pi) {
		/* M runnable, held back by L at H's priority */
		while (task_state(pid_m, atomic_load(&sh->tid_m)) != 'R' &&
		       !atomic_load(&sh->m_started))
			pause_a_little();
	} else {
		while (!atomic_load(&sh->m_started))
			pause_a_little();
	}
	atomic_store(&sh->release, 1);
	pthread_join(l, NULL);
	pthread_join(h, NULL);
end:
	while (!atomic_load(&sh->m_done))
		pause_a_little();
	sem_post(&sh->m_end);
	if (use_fork)
		waitpid(pid_m, NULL, 0);
	else
		pthread_join(m, NULL);
	printf("done h_wait_ns=%lld m_spin_ns=%lld line_l=%d line_m=%d\n", sh->h_wait_ns,
	       sh->m_spin_ns, sh->line_l, sh->line_m);
	if (hs)
		wl_wait_eof();
	return 0;
}
