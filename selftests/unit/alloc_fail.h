/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocation failures on demand, for unit tests under ASan: only for the concwatch code
 * compiled into the test (the executable's text); libdw and libc handle theirs
 * otherwise (libdw exits). ASan's allocator does the allocating. Include once, in the
 * test's one source file: it defines malloc, calloc and realloc.
 *
 *	fail_nth_allocation(n);		the nth allocation from now on fails
 *	... the code under test ...
 *	fail_nth_allocation(0);
 *	if (!alloc_failed) ...		fewer than n allocations: the code ran through
 */
#ifndef __CW_ALLOC_FAIL_H
#define __CW_ALLOC_FAIL_H

#include <stddef.h>

extern void *__interceptor_malloc(size_t n);
extern void *__interceptor_calloc(size_t n, size_t size);
extern void *__interceptor_realloc(void *p, size_t n);
extern char __executable_start[], etext[];
/* volatile: the compiler knows what malloc does, and that it changes no variable */
static volatile long fail_countdown;	/* n > 0: the nth allocation from here on fails */
static volatile int alloc_failed;	/* the allocation asked for did fail */

static int fail_now(const void *caller)
{
	if (!fail_countdown || (const char *)caller < __executable_start ||
	    (const char *)caller >= etext || --fail_countdown)
		return 0;
	alloc_failed = 1;
	return 1;
}

void *malloc(size_t n)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __interceptor_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __interceptor_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __interceptor_realloc(p, n);
}

/* n > 0: fail the nth allocation from now on (and clear alloc_failed); 0: none, kept. */
static void fail_nth_allocation(long n)
{
	if (n)
		alloc_failed = 0;
	fail_countdown = n;
}

#endif /* __CW_ALLOC_FAIL_H */
