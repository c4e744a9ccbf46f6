// SPDX-License-Identifier: GPL-2.0
/*
 * A single-threaded epoll echo server on loopback and a client, for the event-loop
 * tests (issue 14). "wl-loop" runs the loop: it accepts connections and echoes every
 * byte it reads. "wl-client" connects and sends REQUESTS one-byte requests, one at a
 * time, each after the echo of the one before (a healthy loop under load). Request
 * number REQUESTS / 2 carries the control byte of MODE, which the loop handles in a
 * function of its own:
 *
 *   healthy  none: every request is echoed at once
 *   burn     burn_request(): 300 ms of the loop thread's own CPU time
 *   lock     locked_request(): pthread_mutex_lock(&shared_lock), which "wl-worker"
 *            holds; the worker waits until the loop thread really sleeps on the lock's
 *            word, holds it 200 ms more, and lets it go
 *   sleep    sleepy_request(): usleep(50 ms)
 *   peek     peeking_request(): 300 ms of CPU as burn does, looking at the loop's epoll
 *            set with a zero timeout between slices (as libuv does with callbacks
 *            pending): calls that never wait, inside one iteration
 *
 * With -w it follows the handshake of wl.h:
 *
 *   ready pid=P loop=TID client=TID worker=TID lock=0xADDR port=N
 *   go
 *   done requests=N slow_ns=NS
 *
 * slow_ns: how long the loop's handling of the control request took, by the loop's own
 * CLOCK_MONOTONIC (0 for healthy). The client says done; the loop goes on waiting (a
 * wait of 100 ms at a time) until the test closes its standard input. Without -w it does
 * its work at once and exits.
 *
 * Usage: wl_evloop [-w] healthy|burn|lock|sleep|peek [REQUESTS]   (REQUESTS: 2000)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "wl.h"

#define BURN_NS 300000000ULL
#define HOLD_NS 200000000ULL
#define NAP_US 50000

pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t started;
static int listen_fd, port;
static long requests;
static char control = 'h';
static pid_t loop_tid, client_tid, worker_tid;
static atomic_int quit;
static unsigned long long slow_ns;
static int loop_ep = -1;

static unsigned long long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

WL_FRAME static void burn_request(void)
{
	unsigned long long t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	volatile unsigned long x = 0;

	while (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0 < BURN_NS)
		for (int i = 0; i < 10000; i++)
			x += i;
}

WL_FRAME static void peeking_request(void)
{
	unsigned long long t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	volatile unsigned long x = 0;
	struct epoll_event got[16];

	while (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0 < BURN_NS) {
		for (int i = 0; i < 10000; i++)
			x += i;
		if (epoll_wait(loop_ep, got, 16, 0) < 0)
			die("epoll_wait");
	}
}

WL_FRAME static void locked_request(void)
{
	pthread_mutex_lock(&shared_lock);
	pthread_mutex_unlock(&shared_lock);
}

WL_FRAME static void sleepy_request(void)
{
	usleep(NAP_US);
}

/* One request byte c: its work, then its echo. */
static void handle(int fd, char c)
{
	unsigned long long t0 = now_ns(CLOCK_MONOTONIC);

	switch (c) {
	case 'b':
		burn_request();
		break;
	case 'l':
		locked_request();
		break;
	case 's':
		sleepy_request();
		break;
	case 'p':
		peeking_request();
		break;
	}
	if (c != 'h')
		slow_ns = now_ns(CLOCK_MONOTONIC) - t0;
	if (write(fd, &c, 1) != 1)
		die("write");
}

static void loop(void)
{
	struct epoll_event ev = { .events = EPOLLIN }, got[16];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		die("epoll_create1");
	loop_ep = ep;
	ev.data.fd = listen_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev))
		die("epoll_ctl");
	while (!atomic_load(&quit)) {
		int n = epoll_wait(ep, got, 16, 100);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = got[i].data.fd;
			char c;

			if (fd == listen_fd) {
				int one = 1, cfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

				if (cfd < 0)
					die("accept4");
				setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev.data.fd = cfd;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev))
					die("epoll_ctl");
			} else if (read(fd, &c, 1) == 1) {
				handle(fd, c);
			} else {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
	close(ep);
}

static void *client_main(void *arg)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd;

	client_tid = wl_thread_init("wl-client");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&started);	/* after "go" */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (long i = 0; i < requests; i++) {
		char c = i == requests / 2 ? control : 'h', r;

		if (write(fd, &c, 1) != 1 || read(fd, &r, 1) != 1 || r != c)
			die("echo");
	}
	close(fd);
	/* the loop's handling of the request is over: its echo came */
	wl_done("requests=%ld slow_ns=%llu", requests, slow_ns);
	atomic_store(&quit, 1);
	return NULL;
}

/* Holds shared_lock from the start; once the loop sleeps on it, 200 ms more. */
static void *worker_main(void *arg)
{
	struct timespec hold = { .tv_sec = HOLD_NS / 1000000000ULL,
				 .tv_nsec = HOLD_NS % 1000000000ULL };

	worker_tid = wl_thread_init("wl-worker");
	if (control == 'l')
		pthread_mutex_lock(&shared_lock);
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&started);	/* after "go" */
	if (control != 'l')
		return NULL;
	if (wl_wait_asleep_on(loop_tid, &shared_lock))
		fprintf(stderr, "wl_evloop: the loop never slept on the lock\n");
	nanosleep(&hold, NULL);
	pthread_mutex_unlock(&shared_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	const char *mode;
	pthread_t client, worker;

	wl_handshake(&argc, argv);
	mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "burn") || !strcmp(mode, "lock") || !strcmp(mode, "sleep") ||
	    !strcmp(mode, "peek"))
		control = mode[0];
	else if (strcmp(mode, "healthy")) {
		fprintf(stderr, "usage: wl_evloop [-w] healthy|burn|lock|sleep|peek [REQUESTS]\n");
		return 2;
	}
	requests = wl_arg(argc, argv, 2, 2000);
	loop_tid = wl_thread_init("wl-loop");
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(listen_fd, 8) || getsockname(listen_fd, (struct sockaddr *)&a, &alen))
		die("listen");
	port = ntohs(a.sin_port);
	pthread_barrier_init(&started, NULL, 3);
	if (pthread_create(&client, NULL, client_main, NULL) ||
	    pthread_create(&worker, NULL, worker_main, NULL))
		die("pthread_create");
	pthread_barrier_wait(&started);
	wl_ready("loop=%d client=%d worker=%d lock=%p port=%d", loop_tid, client_tid,
		 worker_tid, (void *)&shared_lock, port);
	/* the client starts; the worker, holding the lock, waits for the loop to sleep */
	pthread_barrier_wait(&started);
	loop();
	pthread_join(client, NULL);
	pthread_join(worker, NULL);
	return 0;
}
