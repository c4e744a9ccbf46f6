// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture of selftests/unit/test_stack.c, built and run by make-stackfix.sh, which
 * commits the binaries and what they captured: the unwinder is tested on data that no
 * longer depends on the compiler or libc of the machine running the tests. Static,
 * without libc, -O2 -g, no frame pointers; the call chain is
 *
 *   _start -> stackfix_main -> ns::Klass::method(int) -> outer -> middle -> step -> leaf
 *
 * with step() inlined into middle(). leaf() takes its own ip, sp and bp, copies the stack
 * from sp up to the stack pointer _start was entered with, and writes both as one
 * CW_EV_USTACK_RAW record to argv[1], then its /proc/self/maps to argv[2].
 *
 * "@frame NAME" marks the line the test expects for frame NAME: keep one marker a line.
 */
#include <concwatch/events.h>

/* Out of line and unchanged: each of these must be a frame of its own, named as written. */
#define FRAME __attribute__((noipa))
/* Keeps a call out of tail position, so that its caller stays on the stack. */
#define barrier() asm volatile("" ::: "memory")

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_getpid 39
#define SYS_gettid 186
#define O_RDONLY 0
#define O_WRONLY_CREAT_TRUNC 01101

static unsigned long stack_top;
static char **args;
static struct {
	struct cw_ev_ustack_raw rec;
	__u8 data[8192];
} dump;
static char maps[65536];

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "a"(nr), "D"(a), "S"(b), "d"(c)
		     : "rcx", "r11", "memory");
	return ret;
}

static int write_file(const char *path, const void *buf, unsigned long len)
{
	long fd = sys3(SYS_open, (long)path, O_WRONLY_CREAT_TRUNC, 0644), n;
	const char *p = buf;

	if (fd < 0)
		return -1;
	for (; len; p += n, len -= n) {
		n = sys3(SYS_write, fd, (long)p, len);
		if (n <= 0)
			break;
	}
	sys3(SYS_close, fd, 0, 0);
	return len ? -1 : 0;
}

static long read_maps(void)
{
	long fd = sys3(SYS_open, (long)"/proc/self/maps", O_RDONLY, 0), n, len = 0;

	if (fd < 0)
		return -1;
	while ((n = sys3(SYS_read, fd, (long)maps + len, sizeof(maps) - len)) > 0)
		len += n;
	sys3(SYS_close, fd, 0, 0);
	return n < 0 || len == sizeof(maps) ? -1 : len;
}

FRAME int leaf(int x)
{
	unsigned long ip, sp, bp, len, size;
	long maps_len;

	/* rbp first: the compiler may give rbp to an output, as leaf() saved it */
	asm volatile("mov %%rbp, %2\n\t" /* @frame leaf */
		     "lea 0(%%rip), %0\n\t"
		     "mov %%rsp, %1"
		     : "=r"(ip), "=r"(sp), "=r"(bp));
	len = stack_top - sp;
	if (len > sizeof(dump.data))
		return -1;
	/* volatile: a plain loop would become a call to memcpy, which there is none of */
	for (unsigned long i = 0; i < len; i++)
		dump.data[i] = ((volatile const __u8 *)sp)[i];
	size = CW_RECORD_ALIGN(sizeof(dump.rec) + len);
	dump.rec.hdr.type = CW_EV_USTACK_RAW;
	dump.rec.hdr.size = size;
	dump.rec.hdr.cpu = 0xffff;
	dump.rec.hdr.flags = CW_F_SYNTHETIC;
	dump.rec.hdr.pid = sys3(SYS_getpid, 0, 0, 0);
	dump.rec.hdr.tid = sys3(SYS_gettid, 0, 0, 0);
	dump.rec.ip = ip;
	dump.rec.sp = sp;
	dump.rec.bp = bp;
	dump.rec.len = len;
	maps_len = read_maps();
	if (maps_len < 0 || write_file(args[1], &dump, size) || write_file(args[2], maps, maps_len))
		return -1;
	return x + 1;
}

static inline __attribute__((always_inline)) int step(int x)
{
	int r = leaf(x + 1); /* @frame step */

	barrier();
	return r < 0 ? r : r * 3;
}

FRAME int middle(int x)
{
	int r = step(x); /* @frame middle */

	barrier();
	return r < 0 ? r : r + 2;
}

FRAME int outer(int x)
{
	int r = middle(x * 2); /* @frame outer */

	barrier();
	return r < 0 ? r : r - 1;
}

/* A C++ compiler's name for ns::Klass::method(int): the symbol the demangler is tested on. */
FRAME int klass_method(int x) __asm__("_ZN2ns5Klass6methodEi");
FRAME int klass_method(int x)
{
	int r = outer(x + 4); /* @frame ns::Klass::method(int) */

	barrier();
	return r;
}

FRAME int stackfix_main(unsigned long *sp)
{
	int r;

	stack_top = (unsigned long)sp;
	args = (char **)(sp + 1);
	if (sp[0] != 3)
		return 2;
	r = klass_method(sp[0]); /* @frame stackfix_main */
	barrier();
	return r < 0;
}

/*
 * The outermost frame: rip is undefined in its CFI, as in glibc's _start and clone3, so
 * an unwinder knows the stack ends here. Its own section keeps it outside the compilation
 * unit's address range: it has no line information.
 */
asm(".pushsection .text.stackfix_start, \"ax\", @progbits\n"
	".globl _start\n"
	".type _start, @function\n"
	"_start:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined rip\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call stackfix_main\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n"
	"	syscall\n"
	"	hlt\n"
	"	.cfi_endproc\n"
	".size _start, . - _start\n"
	".popsection\n");
