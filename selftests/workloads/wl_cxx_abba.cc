// SPDX-License-Identifier: GPL-2.0
/*
 * ABBA through C++ member functions: std::thread "wl-t1" runs
 * bank::Ledger::transfer(long), which takes bank::accounts_mutex then
 * bank::audit_mutex with nested std::lock_guard; then (std::barrier) std::thread "wl-t2"
 * runs bank::Ledger::audit(), which takes them the other way round with nested
 * std::unique_lock. The inlined std::mutex::lock calls pthread_mutex_lock directly.
 * Names must come out demangled.
 *
 *   wl_cxx_abba [-w]
 *   ready pid=P tid1=T tid2=T accounts=0x.. audit=0x..
 *   done line_transfer=L line_audit=L    (the lines taking the second mutex)
 *
 * Built with -std=gnu++20 for std::barrier, whose waits are futexes, not mutexes.
 */
#include <barrier>
#include <mutex>
#include <thread>

#include "wl.h"

static int line_transfer, line_audit;

namespace bank
{
std::mutex accounts_mutex;
std::mutex audit_mutex;

class Ledger {
public:
	void transfer(long amount);
	void audit();

private:
	long balance = 0;
	long audited = 0;
};

WL_FRAME void Ledger::transfer(long amount)
{
	std::lock_guard<std::mutex> accounts(accounts_mutex);
	line_transfer = __LINE__ + 1;
	std::lock_guard<std::mutex> audit(audit_mutex);

	balance += amount;
}

WL_FRAME void Ledger::audit()
{
	std::unique_lock<std::mutex> audit(audit_mutex);
	line_audit = __LINE__ + 1;
	std::unique_lock<std::mutex> accounts(accounts_mutex);

	audited = balance;
}
} // namespace bank

static bank::Ledger ledger;
static std::barrier<> start(3), turn(2);
static pid_t tid1, tid2;

static void teller_main()
{
	tid1 = wl_thread_init("wl-t1");
	start.arrive_and_wait();	/* both tids known */
	start.arrive_and_wait();	/* go */
	ledger.transfer(100);
	turn.arrive_and_wait();		/* the auditor's turn */
}

static void auditor_main()
{
	tid2 = wl_thread_init("wl-t2");
	start.arrive_and_wait();
	start.arrive_and_wait();
	turn.arrive_and_wait();
	ledger.audit();
}

int main(int argc, char **argv)
{
	wl_handshake(&argc, argv);
	std::thread t1(teller_main), t2(auditor_main);

	start.arrive_and_wait();
	wl_ready("tid1=%d tid2=%d accounts=%p audit=%p", tid1, tid2,
		 (void *)&bank::accounts_mutex, (void *)&bank::audit_mutex);
	start.arrive_and_wait();
	t1.join();
	t2.join();
	wl_done("line_transfer=%d line_audit=%d", line_transfer, line_audit);
	return 0;
}
