// SPDX-License-Identifier: GPL-2.0
/*
 * Where cw_placement__find() puts the uprobe of each libc lock function on this machine,
 * and why; how long finding takes; and what it saves: a pthread_mutex_lock/unlock pair
 * untraced, with uprobes on both entries, and with uprobes on the chosen instructions.
 * The uprobes are perf events without a BPF program (the kernel's own cost of a hit);
 * without root (or perf's uprobe PMU) that part is skipped.
 *
 * The placement asks what the live tracer asks: %rdi, the return address at [%rsp]
 * (caller ip, return probe on the same place), and what this kernel emulates.
 *
 * Last, the model of placement.c against the running kernel (root): a perf uprobe on
 * each instruction form below, in this program, hit 1000 times in a child process; the
 * kernel single-stepped it exactly when the child gained the [uprobes] XOL mapping.
 * Exit status 1 if the kernel and the model disagree.
 *
 * Usage: placement [N]   (N lock/unlock pairs per measure, default 100000)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/time.h"
#include "source/placement.h"
#include "source/target.h"

/* The kernel's ENOTSUPP, which userspace headers do not name: uprobe_init_insn() refused. */
#define ENOTSUPP_KERNEL 524

static const char *const funcs[] = {
	"pthread_mutex_lock", "pthread_mutex_unlock", "pthread_mutex_trylock",
	"pthread_mutex_timedlock", "pthread_mutex_clocklock",
	"pthread_rwlock_rdlock", "pthread_rwlock_wrlock", "pthread_rwlock_tryrdlock",
	"pthread_rwlock_trywrlock", "pthread_rwlock_timedrdlock", "pthread_rwlock_timedwrlock",
	"pthread_rwlock_clockrdlock", "pthread_rwlock_clockwrlock", "pthread_rwlock_unlock",
	"pthread_spin_lock", "pthread_spin_trylock", "pthread_spin_unlock",
	"pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_clockwait",
	"pthread_mutex_init", "pthread_mutex_destroy", "pthread_rwlock_init",
	"pthread_rwlock_destroy",
};

#define NR_FUNCS (sizeof(funcs) / sizeof(funcs[0]))

struct func {
	__u64 value, size;	/* st_value, st_size */
	__u64 file_off;		/* of st_value: what a uprobe attaches to */
	const __u8 *code;
	struct cw_placement pl;
};

/*
 * One function per instruction form: the form sits at form_NAME_at, between saving and
 * restoring the registers the forms touch.
 */
#define FORM(name, insn)                                                                  \
	asm(".pushsection .text\n"                                                       \
	    ".type form_" #name ",@function\n"                                           \
	    "form_" #name ":\n"                                                          \
	    "push %rbx\n push %r12\n push %rax\n"                                      \
	    "form_" #name "_at:\n" insn "\n"                                            \
	    "form_" #name "_end:\n"                                                      \
	    "pop %rax\n pop %r12\n pop %rbx\n ret\n"                                  \
	    ".popsection\n");                                                            \
	void form_##name(void);                                                           \
	extern const __u8 form_##name##_at[], form_##name##_end[]

FORM(nop, ".byte 0x90");
FORM(xchg_ax, ".byte 0x66, 0x90");
FORM(pause, ".byte 0xf3, 0x90");
FORM(nopl3, ".byte 0x0f, 0x1f, 0x00");
FORM(nopl4, ".byte 0x0f, 0x1f, 0x40, 0x00");
FORM(nopl4_sib, ".byte 0x0f, 0x1f, 0x04, 0x00");
FORM(nopl5, ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00");
FORM(nopw6, ".byte 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00");
FORM(nopl7, ".byte 0x0f, 0x1f, 0x80, 0, 0, 0, 0");
FORM(nopl8, ".byte 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0");
FORM(nopl8_disp, ".byte 0x0f, 0x1f, 0x84, 0, 1, 0, 0, 0");
FORM(push_rbx, "push %rbx\n pop %rbx");
FORM(push_r12, "push %r12\n pop %r12");
FORM(push_rex_w, ".byte 0x48, 0x53\n pop %rbx");
FORM(jmp8, ".byte 0xeb, 0x00");
FORM(jmp32, ".byte 0xe9, 0, 0, 0, 0");
FORM(bnd_jmp, ".byte 0xf2, 0xeb, 0x00");
FORM(jne8, ".byte 0x75, 0x00");
FORM(jne32, ".byte 0x0f, 0x85, 0, 0, 0, 0");
FORM(call32, "call 1f\n 1: pop %rax");
FORM(hinted_jne, ".byte 0x3e, 0x75, 0x00");
FORM(mov, "mov %rdi, %rax");
FORM(endbr64, "endbr64");
FORM(lock_inc, "lock incl (%rsp)");

static const struct form {
	const char *name;
	void (*fn)(void);
	const __u8 *at, *end;
} forms[] = {
#define F(name) { #name, form_##name, form_##name##_at, form_##name##_end }
	F(nop), F(xchg_ax), F(pause), F(nopl3), F(nopl4), F(nopl4_sib), F(nopl5), F(nopw6),
	F(nopl7), F(nopl8), F(nopl8_disp), F(push_rbx), F(push_r12), F(push_rex_w), F(jmp8),
	F(jmp32), F(bnd_jmp), F(jne8), F(jne32), F(call32), F(hinted_jne), F(mov), F(endbr64),
	F(lock_inc),
#undef F
};

#define NR_FORMS (sizeof(forms) / sizeof(forms[0]))

static double now(void)
{
	return cw_now_ns() / 1e9;
}

/* A function of the libc, as concwatch finds it (target.c): its bytes and file offset. */
static int lookup(struct cw_elf *elf, const char *name, struct func *f)
{
	struct cw_elf_func ef;
	int err = cw_elf__func(elf, name, &ef);

	if (err)
		return err;
	f->value = ef.addr;
	f->size = ef.len;
	f->file_off = ef.offset;
	f->code = ef.code;
	return f->code ? 0 : -ENOENT;
}

/* A perf uprobe (no program) on path at off, for this process; fd or -errno. */
static int uprobe_open(const char *path, __u64 off)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "re");
	int type, fd;

	if (!f)
		return -errno;
	if (fscanf(f, "%d", &type) != 1) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	attr.type = type;
	attr.config1 = (__u64)(unsigned long)path;
	attr.config2 = off;
	fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* File and offset of this program's address addr, from /proc/self/maps. 0 or -errno. */
static int self_offset(const void *addr, char *path, size_t len, __u64 *off)
{
	unsigned long long start, end, pgoff, a = (unsigned long)addr;
	char line[4352], file[4096];
	FILE *f = fopen("/proc/self/maps", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %4095s", &start, &end, &pgoff,
			   file) == 4 && a >= start && a < end) {
			snprintf(path, len, "%s", file);
			*off = a - start + pgoff;
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static int has_xol_area(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4352];
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[uprobes]"))
			found = 1;
	fclose(f);
	return found;
}

/*
 * In a child (the XOL area, once mapped, stays for the life of the mm): probe the form,
 * run it, and exit 0 emulated, 1 single-stepped, 2 refused, 3 the check itself failed.
 */
static int kernel_verdict(const struct form *fm)
{
	char path[4096];
	int status, fd;
	__u64 off;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return 3;
	if (!pid) {
		if (self_offset(fm->at, path, sizeof(path), &off))
			_exit(3);
		fd = uprobe_open(path, off);
		if (fd == -ENOTSUPP_KERNEL)
			_exit(2);
		if (fd < 0)
			_exit(3);
		for (int i = 0; i < 1000; i++)
			fm->fn();
		_exit(has_xol_area() ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 3;
	return WEXITSTATUS(status);
}

/* The kernel against the model; the number of disagreements, or -errno if no uprobes. */
static int check_model(int push, int nopl)
{
	static const char *const verdicts[] = { "emulated", "single-stepped", "refused", "?" };
	char path[4096];
	int probe, bad = 0;
	__u64 off;

	/* can this process make uprobes at all? (root, perf's uprobe PMU) */
	if (self_offset(forms[0].at, path, sizeof(path), &off))
		return -ENOENT;
	probe = uprobe_open(path, off);
	if (probe < 0)
		return probe;
	close(probe);
	printf("\n%-12s %-16s %-16s\n", "form", "kernel", "placement.c");
	for (size_t i = 0; i < NR_FORMS; i++) {
		const struct form *fm = &forms[i];
		struct cw_placement_req req = {
			.code = fm->at,
			.len = fm->end - fm->at,
			.addr = (unsigned long)fm->at,
			.kernel_push_emulated = push,
			.kernel_nopl_emulated = nopl,
		};
		struct cw_placement pl;
		int kernel, model;

		if (cw_placement__find(&req, &pl))
			return -EIO;
		/* the verdict on the form's first instruction, the entry */
		model = pl.refused ? 2 : pl.emulated && !pl.offset ? 0 : 1;
		kernel = kernel_verdict(fm);
		printf("%-12s %-16s %-16s%s\n", fm->name, verdicts[kernel], verdicts[model],
		       kernel == model ? "" : "  MISMATCH");
		bad += kernel != model;
	}
	return bad;
}

static double pairs_ns(pthread_mutex_t *m, long n)
{
	double t0 = now();

	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(m);
		pthread_mutex_unlock(m);
	}
	return (now() - t0) * 1e9 / n;
}

/* ns per lock/unlock pair with uprobes at lock+lock_off and unlock+unlock_off; < 0: -errno */
static double traced_ns(const char *path, const struct func *lock, __u64 lock_off,
			const struct func *unlock, __u64 unlock_off, pthread_mutex_t *m, long n)
{
	int a, b;
	double ns;

	a = uprobe_open(path, lock->file_off + lock_off);
	if (a < 0)
		return a;
	b = uprobe_open(path, unlock->file_off + unlock_off);
	if (b < 0) {
		close(a);
		return b;
	}
	pairs_ns(m, n / 10);
	ns = pairs_ns(m, n);
	close(a);
	close(b);
	return ns;
}

int main(int argc, char **argv)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	int push, nopl, fd, err = 1;
	struct func f[NR_FUNCS];
	double t0, per_find;
	long n = 100000;
	struct utsname u;
	Dl_info info;
	struct cw_elf *elf = NULL;

	if (argc > 1) {
		char *end;

		n = strtol(argv[1], &end, 10);
		if (*end || n < 10) {
			fprintf(stderr, "usage: %s [N >= 10]\n", argv[0]);
			return 2;
		}
	}
	/* the libc this process runs, as a tracer attached to it would see it */
	if (!dladdr((void *)pthread_mutex_lock, &info) || !info.dli_fname) {
		fprintf(stderr, "placement: cannot tell which libc is loaded\n");
		return 1;
	}
	push = cw_placement__kernel_emulates_push() > 0;
	nopl = cw_placement__kernel_emulates_nopl() > 0;
	uname(&u);
	printf("libc %s, kernel %s: push %semulated, 0f 1f nops %semulated\n", info.dli_fname,
	       u.release, push ? "" : "not ", nopl ? "" : "not ");

	fd = cw_elf__open(info.dli_fname, &elf);
	if (fd) {
		fprintf(stderr, "placement: cannot read %s: %s\n", info.dli_fname, strerror(-fd));
		return 1;
	}

	printf("\n%-28s %9s %5s %7s  %s\n", "function", "address", "size", "probe", "why");
	for (size_t i = 0; i < NR_FUNCS; i++) {
		struct cw_placement_req req = {
			.regs_read = CW_REG_RDI,
			.stack_top = 1,
			.kernel_push_emulated = push,
			.kernel_nopl_emulated = nopl,
		};
		int r;

		memset(&f[i], 0, sizeof(f[i]));
		r = lookup(elf, funcs[i], &f[i]);
		if (r) {
			printf("%-28s not found: %s\n", funcs[i], strerror(-r));
			continue;
		}
		req.code = f[i].code;
		req.len = f[i].size;
		req.addr = f[i].value;
		r = cw_placement__find(&req, &f[i].pl);
		if (r) {
			fprintf(stderr, "placement: %s: %s\n", funcs[i], strerror(-r));
			goto cleanup;
		}
		printf("%-28s %#9llx %5llu %3s+%#-3llx  %s%s\n", funcs[i],
		       (unsigned long long)f[i].value, (unsigned long long)f[i].size,
		       f[i].pl.emulated ? "emu" : "ss", (unsigned long long)f[i].pl.offset,
		       f[i].pl.why, f[i].pl.refused ? " [the kernel refuses a uprobe there]" : "");
	}

	/* cost of finding: every function, 100 rounds */
	t0 = now();
	for (int k = 0; k < 100; k++)
		for (size_t i = 0; i < NR_FUNCS; i++) {
			struct cw_placement_req req = {
				.code = f[i].code, .len = f[i].size, .addr = f[i].value,
				.regs_read = CW_REG_RDI, .stack_top = 1,
				.kernel_push_emulated = push, .kernel_nopl_emulated = nopl,
			};
			struct cw_placement pl;

			if (f[i].code)
				cw_placement__find(&req, &pl);
		}
	per_find = (now() - t0) * 1e6 / (100 * NR_FUNCS);
	printf("\ncw_placement__find: %.1f us a function (mean over %zu functions)\n", per_find,
	       NR_FUNCS);

	/* funcs[0] and funcs[1] are pthread_mutex_lock and pthread_mutex_unlock */
	{
		double base, entry, placed;

		pairs_ns(&m, n / 10);
		base = pairs_ns(&m, n);
		entry = traced_ns(info.dli_fname, &f[0], 0, &f[1], 0, &m, n);
		if (entry < 0) {
			printf("mutex lock/unlock pair: untraced %.0f ns; uprobes skipped: %s\n",
			       base, strerror((int)-entry));
		} else {
			placed = traced_ns(info.dli_fname, &f[0], f[0].pl.offset, &f[1],
					   f[1].pl.offset, &m, n);
			printf("mutex lock/unlock pair (%ld pairs): untraced %.0f ns, "
			       "uprobes at the entries %.0f ns, at +%#llx/+%#llx %.0f ns "
			       "(%.1fx less)\n",
			       n, base, entry, (unsigned long long)f[0].pl.offset,
			       (unsigned long long)f[1].pl.offset, placed,
			       placed > 0 ? (entry - base) / (placed - base) : 0.0);
		}
	}
	err = check_model(push, nopl);
	if (err < 0) {
		printf("\nkernel against placement.c: skipped: %s\n", strerror(-err));
		err = 0;
	} else if (err) {
		printf("\nkernel against placement.c: %d disagreements\n", err);
		err = 1;
	}
cleanup:
	cw_elf__close(elf);
	return err;
}
