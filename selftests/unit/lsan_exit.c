// SPDX-License-Identifier: GPL-2.0
/*
 * The kselftest harness ends every test's child with _exit(), so LeakSanitizer's
 * check at process exit never runs and leaks pass silently. Unit tests are linked
 * with -Wl,--wrap=_exit: the leak check runs first, and a leak fails the test with
 * LeakSanitizer's exit status and report.
 */
#include <sanitizer/lsan_interface.h>

void __real__exit(int status) __attribute__((noreturn));
void __wrap__exit(int status) __attribute__((noreturn));

void __wrap__exit(int status)
{
	__lsan_do_leak_check();
	__real__exit(status);
}
