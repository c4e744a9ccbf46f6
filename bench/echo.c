// SPDX-License-Identifier: GPL-2.0
/*
 * The event-loop benchmark's workload (issue 14): an epoll echo server and the client
 * that loads it, in two processes, so that a tracer attached to the server traces the
 * loop and nothing of the load.
 *
 *   server   one thread, one loop: a level-triggered epoll_wait over a nonblocking
 *            listening socket on 127.0.0.1 (its port chosen by the kernel: bind to port
 *            0), its nonblocking connections and a signalfd. Every read is written back
 *            at once; what the socket does not take is kept and sent when it is writable
 *            (EPOLLOUT), the connection not read meanwhile, as a real server's back
 *            pressure. Level-triggered, one read per connection and wakeup: no
 *            connection starves the others, and each iteration is the wait, the reads
 *            and the writes of a loop like libuv's or libevent's. Prints "ready pid=PID
 *            port=N" once listening; on SIGTERM or SIGINT it stops and prints "stopped
 *            connections=N echoed_bytes=B"
 *   client   CONNS connections (8), each sending a SIZE-byte message (64) and waiting
 *            for all of its echo before the next: ping-pong, one message in flight per
 *            connection, so requests/s measures the server's turnaround, not a queue.
 *            One thread in an epoll loop of its own (a thread per connection would take
 *            the CPUs from the server on a small machine). Runs SECONDS seconds from the
 *            moment every connection is made, checks every echo, and prints "result
 *            conns=N size=S requests=R seconds=T requests_per_s=X"
 *
 * The client's sockets are blocking: it reads one only when epoll says it is readable
 * (so the read does not block) and writes one only when its previous message came back
 * whole (so the socket's send buffer is empty and the write completes).
 *
 * Usage: echo server
 *        echo client PORT [CONNS] [SECONDS] [SIZE]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVER_BUF 4096
#define MAX_EVENTS 64
#define MAX_CONNS 1024
#define MAX_SIZE 65536

/* A server connection: what the socket did not take yet, buf[off, off + len). */
struct conn {
	int fd;
	size_t off, len;
	char buf[SERVER_BUF];
};

/* A client connection: how much of the current echo came back. */
struct peer {
	int fd;
	size_t got;
};

/* epoll data of the server's two other descriptors */
static char listener_tag, signal_tag;

static void die(const char *what)
{
	fprintf(stderr, "echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void die_msg(const char *msg)
{
	fprintf(stderr, "echo: %s\n", msg);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("setsockopt TCP_NODELAY");
}

static void watch(int ep, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	if (epoll_ctl(ep, op, fd, &ev))
		die("epoll_ctl");
}

static void drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Accepts every pending connection; the number accepted. */
static long accept_all(int ep, int lfd)
{
	long n = 0;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return n;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept4");
		}
		nodelay(fd);
		c = malloc(sizeof(*c));
		if (!c)
			die_msg("out of memory for a connection");
		c->fd = fd;
		c->off = c->len = 0;
		watch(ep, EPOLL_CTL_ADD, fd, EPOLLIN, c);
		n++;
	}
}

/*
 * Sends what is pending: 1 when all went (back to reading), 0 when the socket is full
 * (wait for EPOLLOUT), -1 when the peer is gone.
 */
static int flush(struct conn *c, long long *echoed)
{
	while (c->len) {
		ssize_t w = write(c->fd, c->buf + c->off, c->len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EPIPE || errno == ECONNRESET)
				return -1;
			die("write");
		}
		c->off += w;
		c->len -= w;
		*echoed += w;
	}
	return 1;
}

static int serve(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event got[MAX_EVENTS];
	socklen_t alen = sizeof(a);
	long long echoed = 0;
	long conns = 0;
	int lfd, sfd, ep, stop = 0;
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL))
		die("sigprocmask");
	/* a write to a connection the client closed: EPIPE, not the end of the server */
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd");
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)))
		die("bind 127.0.0.1:0");
	if (listen(lfd, SOMAXCONN))
		die("listen");
	if (getsockname(lfd, (struct sockaddr *)&a, &alen))
		die("getsockname");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	watch(ep, EPOLL_CTL_ADD, lfd, EPOLLIN, &listener_tag);
	watch(ep, EPOLL_CTL_ADD, sfd, EPOLLIN, &signal_tag);

	printf("ready pid=%d port=%d\n", (int)getpid(), ntohs(a.sin_port));
	fflush(stdout);

	while (!stop) {
		int n = epoll_wait(ep, got, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = got[i].data.ptr;
			ssize_t r;
			int done;

			if (got[i].data.ptr == &listener_tag) {
				conns += accept_all(ep, lfd);
				continue;
			}
			if (got[i].data.ptr == &signal_tag) {
				stop = 1;
				continue;
			}
			if (c->len) {
				/* writable again (or gone: the write says) */
				done = flush(c, &echoed);
				if (done < 0)
					drop(ep, c);
				else if (done)
					watch(ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
				continue;
			}
			r = read(c->fd, c->buf, sizeof(c->buf));
			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					continue;
				if (errno != ECONNRESET)
					die("read");
			}
			if (r <= 0) {
				drop(ep, c);
				continue;
			}
			c->off = 0;
			c->len = r;
			done = flush(c, &echoed);
			if (done < 0)
				drop(ep, c);
			else if (!done)
				watch(ep, EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
		}
	}
	printf("stopped connections=%ld echoed_bytes=%lld\n", conns, echoed);
	return 0;
}

static void send_msg(int fd, const char *msg, size_t size)
{
	ssize_t w = write(fd, msg, size);

	if (w < 0)
		die("client write");
	/* one message in flight: the send buffer was empty, so it all went */
	if ((size_t)w != size)
		die_msg("client write: short write on an empty send buffer");
}

static int client(int port, int nconns, double secs, size_t size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event got[MAX_EVENTS];
	struct peer *peers;
	char *msg, *buf;
	uint64_t t0, t, end;
	long long requests = 0;
	int ep;

	peers = calloc(nconns, sizeof(*peers));
	msg = malloc(size);
	buf = malloc(size);
	if (!peers || !msg || !buf)
		die_msg("out of memory for the client's connections");
	for (size_t i = 0; i < size; i++)
		msg[i] = 'a' + i % 26;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	for (int i = 0; i < nconns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &peers[i] };

		peers[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (peers[i].fd < 0)
			die("socket");
		if (connect(peers[i].fd, (struct sockaddr *)&a, sizeof(a))) {
			fprintf(stderr, "echo: connect to 127.0.0.1:%d: %s\n", port, strerror(errno));
			exit(1);
		}
		nodelay(peers[i].fd);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, peers[i].fd, &ev))
			die("epoll_ctl");
	}

	t0 = now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	for (int i = 0; i < nconns; i++)
		send_msg(peers[i].fd, msg, size);
	for (t = t0; t < end;) {
		int timeout = (end - t + 999999) / 1000000;
		int n = epoll_wait(ep, got, MAX_EVENTS, timeout);

		if (n < 0 && errno != EINTR)
			die("client epoll_wait");
		for (int i = 0; i < n; i++) {
			struct peer *p = got[i].data.ptr;
			ssize_t r = read(p->fd, buf + p->got, size - p->got);

			if (r < 0)
				die("client read");
			if (r == 0)
				die_msg("client read: the server closed a connection");
			if (memcmp(buf + p->got, msg + p->got, r))
				die_msg("client read: the echo differs from the request");
			p->got += r;
			if (p->got < size)
				continue;
			p->got = 0;
			requests++;
			send_msg(p->fd, msg, size);
		}
		/* the requests counted are those answered by t */
		t = now_ns();
	}
	for (int i = 0; i < nconns; i++)
		close(peers[i].fd);
	close(ep);
	printf("result conns=%d size=%zu requests=%lld seconds=%.3f requests_per_s=%.0f\n",
	       nconns, size, requests, (t - t0) / 1e9, requests / ((t - t0) / 1e9));
	free(peers);
	free(msg);
	free(buf);
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s server\n       %s client PORT [CONNS] [SECONDS] [SIZE]\n",
		prog, prog);
	exit(2);
}

/* argv[i] as a whole number in [lo, hi], def when absent; usage otherwise */
static long num(int argc, char **argv, int i, long def, long lo, long hi)
{
	char *end;
	long v;

	if (i >= argc)
		return def;
	errno = 0;
	v = strtol(argv[i], &end, 10);
	if (errno || end == argv[i] || *end || v < lo || v > hi) {
		fprintf(stderr, "echo: %s: not a number from %ld to %ld\n", argv[i], lo, hi);
		usage(argv[0]);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "server"))
		return serve();
	if (argc >= 3 && argc <= 6 && !strcmp(argv[1], "client"))
		return client(num(argc, argv, 2, 0, 1, 65535), num(argc, argv, 3, 8, 1, MAX_CONNS),
			      num(argc, argv, 4, 2, 1, 3600), num(argc, argv, 5, 64, 1, MAX_SIZE));
	usage(argv[0]);
	return 2;
}
