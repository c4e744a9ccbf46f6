// SPDX-License-Identifier: GPL-2.0
/*
 * A C++ call stack for the stack tests: a std::thread runs worker_main ->
 * bank::Teller::serve(bank::Account&) -> bank::Account::deposit(int), which takes a
 * std::mutex through std::lock_guard: std::mutex::lock and the lock_guard constructor
 * are inlined into deposit, and DWARF says so. Names must come out demangled.
 *
 * With "contend", main holds account.mu from before "go" until the worker is asleep on
 * it, so that deposit's acquire is a contended wait, as a report shows them.
 *
 *   wl_stack_cxx [contend]
 * Handshake (wl.h): "ready pid= tid= lock=" / go / "done deposit= serve= main=" with the
 * source line of each call / stdin EOF.
 */
#include <mutex>
#include <thread>

#include <sys/syscall.h>
#include <unistd.h>

#include "wl.h"

#define barrier() asm volatile("" ::: "memory")
#define CALL(line_var, call)                \
	do {                                \
		line_var = __LINE__; call;  \
	} while (0)

static int deposit_line, serve_line, main_line;

namespace bank
{
struct Account {
	std::mutex mu;
	long balance = 0;
	void deposit(int amount);
};

__attribute__((noinline)) void Account::deposit(int amount)
{
	int line = __LINE__ + 1;
	std::lock_guard<std::mutex> guard(mu);

	deposit_line = line;
	balance += amount;
}

struct Teller {
	int served = 0;
	void serve(Account &account);
};

__attribute__((noinline)) void Teller::serve(Account &account)
{
	CALL(serve_line, account.deposit(10));
	served++;
	barrier();
}
} // namespace bank

static bank::Account account;
static pid_t worker_tid;
static std::mutex started_mu, go_mu;

__attribute__((noinline)) static void worker_main()
{
	bank::Teller teller;

	worker_tid = syscall(SYS_gettid);
	started_mu.unlock();
	go_mu.lock(); /* held by main until "go" */
	CALL(main_line, teller.serve(account));
	barrier();
	go_mu.unlock();
}

int main(int argc, char **argv)
{
	bool contend = argc > 1 && !strcmp(argv[1], "contend");

	setvbuf(stdout, NULL, _IOLBF, 0);
	started_mu.lock();
	go_mu.lock();
	std::thread t(worker_main);
	pthread_setname_np(t.native_handle(), "cxx-worker");
	started_mu.lock(); /* unlocked by the worker once its tid is known */
	printf("ready pid=%d tid=%d lock=%p\n", getpid(), worker_tid, (void *)&account.mu);
	if (contend)
		account.mu.lock();
	wl_wait_go();
	go_mu.unlock();
	if (contend) {
		if (wl_wait_asleep_on(worker_tid, &account.mu))
			fprintf(stderr, "wl_stack_cxx: the worker never slept on account.mu\n");
		account.mu.unlock();
	}
	t.join();
	printf("done deposit=%d serve=%d main=%d\n", deposit_line, serve_line, main_line);
	wl_wait_eof();
	return 0;
}
