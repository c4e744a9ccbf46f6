// SPDX-License-Identifier: GPL-2.0
//
// A Node.js event loop whose one callback blocks it: the loop serves a timer every 10 ms
// (each tick an iteration of libuv's loop, in epoll_wait), and after "go" one callback
// calls blockTheLoop(), synchronous work in JavaScript that keeps the loop from its wait
// for MS milliseconds (default 300). Run with --perf-basic-prof so that V8 writes
// /tmp/perf-PID.map and the JIT-compiled blockTheLoop() has a name.
//
// The handshake of selftests/workloads/wl.h:
//   -> "ready pid=P loop=TID"      the loop runs (its thread is the process's main one)
//   <- "go"
//   -> "done slow_ns=N"            the callback is over; N: its own measure
//   <- end of input: exit 0
'use strict';

const ms = Number(process.argv[2] || 300);
let ticks = 0;

// Pure arithmetic, checked against the clock only now and then: the samples of the stall
// land in this function's JIT-compiled code, not in the clock's system call.
function blockTheLoop(untilNs) {
	let x = 1;

	for (;;) {
		for (let i = 0; i < 100000; i++)
			x = (x * 1103515245 + 12345) % 2147483648;
		if (process.hrtime.bigint() >= untilNs)
			return x;
	}
}

const timer = setInterval(() => { ticks++; }, 10);

process.stdin.setEncoding('utf8');
let input = '';
process.stdin.on('data', (chunk) => {
	input += chunk;
	if (!input.includes('go\n'))
		return;
	input = '';
	// on the loop, as a callback of its own: a timer
	setTimeout(() => {
		const start = process.hrtime.bigint();

		blockTheLoop(start + BigInt(ms) * 1000000n);
		const slow = process.hrtime.bigint() - start;
		// one more tick after it, so that the loop is seen back in its wait
		setTimeout(() => process.stdout.write(`done slow_ns=${slow} ticks=${ticks}\n`), 20);
	}, 20);
});
process.stdin.on('end', () => {
	clearInterval(timer);
	process.exit(0);
});
process.stdout.write(`ready pid=${process.pid} loop=${process.pid}\n`);
