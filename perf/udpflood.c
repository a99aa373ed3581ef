/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udpflood: the kernel-socket counterpart of loadgen, for causewayd's socket
 * backend. It floods HOST:PORT (an echo service, default 127.0.0.1:7) with
 * UDP datagrams over sendmmsg/recvmmsg and counts the echoes.
 *
 *   udpflood [--host A] [--port N] [--size N] [--seconds D] [--warmup S]
 *            [--window N] [--batch N] [--flows N]
 *
 * --size is the Ethernet frame the datagram would make, counting the 4-byte
 * FCS as loadgen does: the UDP payload is size - 46 bytes (64 -> 18,
 * 1400 -> 1354). Each of --flows connected sockets (distinct source ports,
 * so SO_REUSEPORT spreads them over causewayd's socket workers) keeps at
 * most --window / --flows datagrams in flight, so the kernel's socket
 * buffers never simply overflow; a socket that hears nothing for
 * CW_UF_LOSS_MS writes its in-flight datagrams off as lost. After --warmup
 * seconds it measures for --seconds and prints one line on stdout:
 *
 *   udpflood: size=64 tx_pps=... rx_pps=... tx=... rx=...
 *
 * Exit status: 0 measured, 1 runtime failure, 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define CW_UF_MAX_BATCH 256
#define CW_UF_MAX_FLOWS 64
#define CW_UF_HDRS	46 /* Ethernet 14 + IPv4 20 + UDP 8 + FCS 4 */
#define CW_UF_MIN_SIZE	64
#define CW_UF_MAX_SIZE	1518
#define CW_UF_SOCK_BUF	(4 << 20)
#define CW_UF_LOSS_MS	100
#define CW_UF_DRAIN_MS	200
#define CW_UF_BUF	2048

struct cw_uf_opts {
	struct sockaddr_in peer;
	unsigned size, window, batch, flows;
	double seconds, warmup;
};

struct cw_uf_flow {
	int fd;
	unsigned inflight;
	uint64_t last_rx; /* ns */
};

struct cw_uf {
	struct cw_uf_opts o;
	struct cw_uf_flow flow[CW_UF_MAX_FLOWS];
	unsigned window; /* per flow */
	uint64_t tx, rx, lost;
	uint8_t payload[CW_UF_BUF];
	uint8_t rxbuf[CW_UF_MAX_BATCH][CW_UF_BUF];
	struct mmsghdr txm[CW_UF_MAX_BATCH], rxm[CW_UF_MAX_BATCH];
	struct iovec txv[CW_UF_MAX_BATCH], rxv[CW_UF_MAX_BATCH];
};

static volatile sig_atomic_t cw_uf_quit;

static void cw_uf_on_signal(int sig)
{
	(void)sig;
	cw_uf_quit = 1;
}

static uint64_t cw_uf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cw_uf_usage(FILE *out)
{
	fprintf(out,
		"usage: udpflood [--host A] [--port N] [--size N] [--seconds D] [--warmup S]\n"
		"                [--window N] [--batch N] [--flows N]\n"
		"  --host     echo service address (default 127.0.0.1); --port (default 7)\n"
		"  --size     frame size incl. the 4-byte FCS, %u..%u: payload size - %u\n"
		"  --seconds  measurement time (default 5); --warmup before it (default 1)\n"
		"  --window   datagrams in flight, over all flows (default 256)\n"
		"  --batch    datagrams per sendmmsg/recvmmsg (default 32, max %u)\n"
		"  --flows    sockets, i.e. source ports (default 1, max %u)\n",
		CW_UF_MIN_SIZE, CW_UF_MAX_SIZE, CW_UF_HDRS, CW_UF_MAX_BATCH, CW_UF_MAX_FLOWS);
}

static int cw_uf_parse(int argc, char **argv, struct cw_uf_opts *o)
{
	static const struct option opts[] = {
	    {"host", required_argument, NULL, 'H'},   {"port", required_argument, NULL, 'p'},
	    {"size", required_argument, NULL, 'z'},   {"seconds", required_argument, NULL, 't'},
	    {"warmup", required_argument, NULL, 'w'}, {"window", required_argument, NULL, 'W'},
	    {"batch", required_argument, NULL, 'b'},  {"flows", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0}};
	unsigned long v;
	int c, rc = 0;

	*o = (struct cw_uf_opts){
	    .size = 64, .window = 256, .batch = 32, .flows = 1, .seconds = 5, .warmup = 1};
	o->peer.sin_family = AF_INET;
	o->peer.sin_port = htons(7);
	o->peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			rc = inet_pton(AF_INET, optarg, &o->peer.sin_addr) == 1 ? 0 : -EINVAL;
			break;
		case 'p':
			rc = cw_cli_num(optarg, 1, 65535, &v);
			o->peer.sin_port = htons((uint16_t)v);
			break;
		case 'z':
			rc = cw_cli_num(optarg, CW_UF_MIN_SIZE, CW_UF_MAX_SIZE, &v);
			o->size = (unsigned)v;
			break;
		case 't':
			rc = cw_cli_secs(optarg, 0.1, &o->seconds);
			break;
		case 'w':
			rc = cw_cli_secs(optarg, 0, &o->warmup);
			break;
		case 'W':
			rc = cw_cli_num(optarg, 1, 1 << 20, &v);
			o->window = (unsigned)v;
			break;
		case 'b':
			rc = cw_cli_num(optarg, 1, CW_UF_MAX_BATCH, &v);
			o->batch = (unsigned)v;
			break;
		case 'f':
			rc = cw_cli_num(optarg, 1, CW_UF_MAX_FLOWS, &v);
			o->flows = (unsigned)v;
			break;
		case 'h':
			cw_uf_usage(stdout);
			exit(0);
		default:
			rc = -EINVAL;
		}
	}
	if (rc) {
		fprintf(stderr, "udpflood: bad value for %s\n", argv[optind - 1]);
		return rc;
	}
	if (optind != argc || o->window < o->flows) {
		cw_uf_usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int cw_uf_open(const struct cw_uf_opts *o)
{
	int buf = CW_UF_SOCK_BUF;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)) < 0 ||
	    connect(fd, (const struct sockaddr *)&o->peer, sizeof(o->peer)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static void cw_uf_msgs(struct cw_uf *u)
{
	size_t len = u->o.size - CW_UF_HDRS;

	for (size_t i = 0; i < len; i++)
		u->payload[i] = (uint8_t)i;
	for (unsigned i = 0; i < CW_UF_MAX_BATCH; i++) {
		u->txv[i] = (struct iovec){.iov_base = u->payload, .iov_len = len};
		u->txm[i].msg_hdr = (struct msghdr){.msg_iov = &u->txv[i], .msg_iovlen = 1};
		u->rxv[i] = (struct iovec){.iov_base = u->rxbuf[i], .iov_len = CW_UF_BUF};
		u->rxm[i].msg_hdr = (struct msghdr){.msg_iov = &u->rxv[i], .msg_iovlen = 1};
	}
}

/* Receive what is there, then top the window up. Returns -errno on failure. */
static int cw_uf_step(struct cw_uf *u, struct cw_uf_flow *f, uint64_t now, bool send)
{
	int n = recvmmsg(f->fd, u->rxm, u->o.batch, MSG_DONTWAIT, NULL);

	if (n > 0) {
		u->rx += (unsigned)n;
		f->inflight = (unsigned)n > f->inflight ? 0 : f->inflight - (unsigned)n;
		f->last_rx = now;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* ECONNREFUSED: the echo port is closed (ICMP unreachable). */
		return -errno;
	} else if (f->inflight && now - f->last_rx > CW_UF_LOSS_MS * 1000000ull) {
		u->lost += f->inflight;
		f->inflight = 0;
		f->last_rx = now;
	}
	while (send && f->inflight < u->window) {
		unsigned k = u->window - f->inflight;
		int s;

		s = sendmmsg(f->fd, u->txm, k < u->o.batch ? k : u->o.batch, MSG_DONTWAIT);
		if (s <= 0) {
			if (s < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
				return -errno;
			break;
		}
		if (!f->inflight)
			f->last_rx = now; /* the loss timer runs from the first send */
		u->tx += (unsigned)s;
		f->inflight += (unsigned)s;
	}
	return 0;
}

static int cw_uf_run(struct cw_uf *u)
{
	uint64_t start = cw_uf_now(), now = start;
	uint64_t t0 = start + (uint64_t)(u->o.warmup * 1e9), t1 = UINT64_MAX, end, stop;
	uint64_t tx0 = 0, rx0 = 0, lost0 = 0, wait0 = 0, tx1, rx1, wait1;
	bool measuring = false;
	double secs;
	int rc = 0;

	while (!cw_uf_quit && !rc) {
		for (unsigned i = 0; i < u->o.flows && !rc; i++)
			rc = cw_uf_step(u, &u->flow[i], now, true);
		now = cw_uf_now();
		if (!measuring && now >= t0) {
			measuring = true;
			t0 = now;
			t1 = now + (uint64_t)(u->o.seconds * 1e9);
			tx0 = u->tx;
			rx0 = u->rx;
			lost0 = u->lost;
			wait0 = cw_sched_wait();
		} else if (measuring && now >= t1) {
			break;
		}
	}
	tx1 = u->tx;
	rx1 = u->rx;
	stop = now;
	wait1 = cw_sched_wait();
	end = now + CW_UF_DRAIN_MS * 1000000ull;
	while (!rc && (now = cw_uf_now()) < end)
		for (unsigned i = 0; i < u->o.flows && !rc; i++)
			rc = cw_uf_step(u, &u->flow[i], now, false);
	if (rc) {
		fprintf(stderr, "udpflood: %s\n", strerror(-rc));
		return rc;
	}
	if (!measuring || cw_uf_quit) {
		fprintf(stderr, "udpflood: interrupted\n");
		return -EINTR;
	}
	secs = (double)(stop - t0) / 1e9;
	printf("udpflood: size=%u tx_pps=%.0f rx_pps=%.0f tx=%" PRIu64 " rx=%" PRIu64 "\n",
	       u->o.size, (double)(tx1 - tx0) / secs, (double)(rx1 - rx0) / secs, tx1 - tx0,
	       rx1 - rx0);
	fflush(stdout);
	fprintf(stderr,
		"udpflood: %.3f s measured, sched_wait=%.2f%%; written off as lost %" PRIu64 "\n",
		secs, (double)(wait1 - wait0) / (secs * 1e7), u->lost - lost0);
	return 0;
}

int main(int argc, char **argv)
{
	static struct cw_uf u;
	int rc = 0;

	if (cw_uf_parse(argc, argv, &u.o) < 0)
		return 2;
	signal(SIGINT, cw_uf_on_signal);
	signal(SIGTERM, cw_uf_on_signal);
	u.window = u.o.window / u.o.flows;
	cw_uf_msgs(&u);
	for (unsigned i = 0; i < u.o.flows; i++) {
		u.flow[i].fd = cw_uf_open(&u.o);
		if (u.flow[i].fd < 0) {
			fprintf(stderr, "udpflood: socket: %s\n", strerror(-u.flow[i].fd));
			rc = u.flow[i].fd;
			u.o.flows = i;
			break;
		}
	}
	if (!rc)
		rc = cw_uf_run(&u);
	for (unsigned i = 0; i < u.o.flows; i++)
		close(u.flow[i].fd);
	return rc ? 1 : 0;
}
