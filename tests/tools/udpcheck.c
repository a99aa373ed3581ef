/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udpcheck: send UDP datagrams of given sizes to an echo service and check
 * that every one comes back byte-for-byte identical, from HOST:PORT.
 *
 *   udpcheck [-t timeout_ms] [-n count] HOST PORT SIZE...
 *
 * Each datagram carries a pseudo-random payload derived from its sequence
 * number (big-endian in the first 4 bytes when the size allows), so a late
 * or duplicated echo of an earlier datagram is recognised and skipped
 * instead of being blamed on the current one. A datagram with no echo is
 * resent up to CW_RETRIES times, each attempt waiting timeout_ms.
 *
 * Exit status: 0 all echoed exactly, 1 some datagram was not, 2 usage or
 * setup error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CW_MAX_SIZE   65507
#define CW_BUF_SIZE   65536
#define CW_RETRIES    3
#define CW_SOCK_BUF   (8 * 1024 * 1024)
#define CW_STALE_SCAN 64

struct cw_check {
	int fd;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	const char *host, *port;
	int timeout_ms;
	unsigned long count;
	const unsigned long *sizes;
	unsigned n_sizes;
	uint64_t seed;
	uint32_t first_seq;
	unsigned long stale;
	uint8_t *tx, *rx, *scratch;
};

enum cw_result { CW_OK, CW_TIMEOUT, CW_BAD };

static void cw_usage(void)
{
	fprintf(stderr,
		"usage: udpcheck [-t timeout_ms] [-n count] HOST PORT SIZE...\n"
		"  SIZE is 1..%d bytes; count defaults to 1, timeout to 1000 ms\n",
		CW_MAX_SIZE);
	exit(2);
}

static uint64_t cw_rand_next(uint64_t *s)
{
	/* splitmix64: good enough to make every datagram distinct */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Payload of datagram @seq with @len bytes; a pure function of (seed, seq). */
static void cw_fill(const struct cw_check *c, uint32_t seq, uint8_t *buf, size_t len)
{
	uint64_t s = c->seed ^ ((uint64_t)seq * 0xd6e8feb86659fd93ULL);
	size_t i = 0;

	if (len >= 4) {
		uint32_t be = htonl(seq);

		memcpy(buf, &be, 4);
		i = 4;
	}
	while (i < len) {
		uint64_t r = cw_rand_next(&s);

		for (unsigned b = 0; b < 8 && i < len; b++, i++)
			buf[i] = (uint8_t)(r >> (8 * b));
	}
}

static size_t cw_seq_size(const struct cw_check *c, uint32_t seq)
{
	return c->sizes[(seq - c->first_seq) / c->count];
}

/* Is @buf an exact copy of a datagram sent before @cur (a late or duplicate echo)? */
static bool cw_is_stale(struct cw_check *c, uint32_t cur, const uint8_t *buf, size_t len)
{
	uint32_t lo = cur - c->first_seq > CW_STALE_SCAN ? cur - CW_STALE_SCAN : c->first_seq;

	if (len >= 4) {
		uint32_t be, seq;

		memcpy(&be, buf, 4);
		seq = ntohl(be);
		if (seq < c->first_seq || seq >= cur || cw_seq_size(c, seq) != len)
			return false;
		cw_fill(c, seq, c->scratch, len);
		return memcmp(c->scratch, buf, len) == 0;
	}
	for (uint32_t seq = lo; seq < cur; seq++) {
		if (cw_seq_size(c, seq) != len)
			continue;
		cw_fill(c, seq, c->scratch, len);
		if (memcmp(c->scratch, buf, len) == 0)
			return true;
	}
	return false;
}

static void cw_addr_str(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t n)
{
	char h[64], p[8];

	if (getnameinfo((const struct sockaddr *)ss, len, h, sizeof(h), p, sizeof(p),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, n, "(unknown address)");
	else if (ss->ss_family == AF_INET6)
		snprintf(out, n, "[%s]:%s", h, p);
	else
		snprintf(out, n, "%s:%s", h, p);
}

static bool cw_same_peer(const struct cw_check *c, const struct sockaddr_storage *ss)
{
	if (ss->ss_family != c->peer.ss_family)
		return false;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss, *b = (const void *)&c->peer;

		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss, *b = (const void *)&c->peer;

		return a->sin6_port == b->sin6_port &&
		       memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
	}
	return false;
}

static long cw_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static void cw_deadline(struct timespec *d, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += ms / 1000;
	d->tv_nsec += (long)(ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000;
	}
}

/* Compare a reply of @got bytes with the datagram sent; explain any difference. */
static enum cw_result cw_compare(const struct cw_check *c, size_t len, size_t got, char *why,
				 size_t n)
{
	size_t first = SIZE_MAX, diff = 0;

	if (got != len) {
		snprintf(why, n, "wrong length: got %zu bytes, expected %zu", got, len);
		return CW_BAD;
	}
	for (size_t i = 0; i < len; i++) {
		if (c->rx[i] == c->tx[i])
			continue;
		if (first == SIZE_MAX)
			first = i;
		diff++;
	}
	if (diff == 0)
		return CW_OK;
	snprintf(why, n,
		 "byte mismatch at offset %zu (got 0x%02x, expected 0x%02x; %zu bytes differ)",
		 first, c->rx[first], c->tx[first], diff);
	return CW_BAD;
}

/*
 * Wait until @deadline for the echo of datagram @seq; skip stale echoes.
 * Returns CW_OK, CW_TIMEOUT, or CW_BAD with the reason in @why.
 */
static enum cw_result cw_await(struct cw_check *c, uint32_t seq, size_t len,
			       const struct timespec *deadline, char *why, size_t n)
{
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		char addr[80];
		long left = cw_ms_left(deadline);
		ssize_t got;
		int r;

		if (left <= 0)
			return CW_TIMEOUT;
		r = poll(&pfd, 1, (int)(left > INT_MAX ? INT_MAX : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, n, "poll: %s", strerror(errno));
			return CW_BAD;
		}
		if (r == 0)
			return CW_TIMEOUT;
		got =
		    recvfrom(c->fd, c->rx, CW_BUF_SIZE, MSG_TRUNC, (struct sockaddr *)&from, &flen);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(why, n, "recvfrom: %s", strerror(errno));
			return CW_BAD;
		}
		if (!cw_same_peer(c, &from)) {
			cw_addr_str(&from, flen, addr, sizeof(addr));
			snprintf(why, n, "reply of %zd bytes came from %s, expected %s:%s", got,
				 addr, c->host, c->port);
			return CW_BAD;
		}
		if ((size_t)got == len && memcmp(c->rx, c->tx, len) == 0)
			return CW_OK;
		if ((size_t)got <= CW_BUF_SIZE && cw_is_stale(c, seq, c->rx, (size_t)got)) {
			c->stale++;
			continue;
		}
		return cw_compare(c, len, (size_t)got, why, n);
	}
}

/* Send datagram @seq of @len bytes and wait for its echo, resending on timeout. */
static enum cw_result cw_one(struct cw_check *c, uint32_t seq, size_t len, char *why, size_t n)
{
	cw_fill(c, seq, c->tx, len);
	for (int attempt = 0; attempt <= CW_RETRIES; attempt++) {
		struct timespec deadline;
		enum cw_result r;

		if (sendto(c->fd, c->tx, len, 0, (struct sockaddr *)&c->peer, c->peer_len) < 0) {
			snprintf(why, n, "sendto: %s", strerror(errno));
			return CW_BAD;
		}
		cw_deadline(&deadline, c->timeout_ms);
		r = cw_await(c, seq, len, &deadline, why, n);
		if (r != CW_TIMEOUT)
			return r;
	}
	snprintf(why, n, "timeout: no echo after %d attempts of %d ms", CW_RETRIES + 1,
		 c->timeout_ms);
	return CW_TIMEOUT;
}

/* Run all datagrams of size index @si; returns how many were echoed exactly. */
static unsigned long cw_size(struct cw_check *c, unsigned si)
{
	size_t len = c->sizes[si];
	unsigned long ok = 0;
	char why[512];

	for (unsigned long k = 0; k < c->count; k++) {
		uint32_t seq = c->first_seq + (uint32_t)(si * c->count + k);

		if (cw_one(c, seq, len, why, sizeof(why)) == CW_OK) {
			ok++;
			continue;
		}
		fprintf(stderr, "udpcheck: size %zu datagram %lu/%lu (seq %" PRIu32 "): %s\n", len,
			k + 1, c->count, seq, why);
	}
	printf("size %zu: %lu/%lu echoed exactly\n", len, ok, c->count);
	fflush(stdout);
	return ok;
}

static unsigned long cw_number(const char *s, unsigned long min, unsigned long max,
			       const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "udpcheck: bad %s '%s' (want %lu..%lu)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static void cw_bufsize(int fd, int opt_force, int opt, const char *name)
{
	int v = CW_SOCK_BUF;

	/* FORCE ignores rmem_max/wmem_max but needs CAP_NET_ADMIN */
	if (setsockopt(fd, SOL_SOCKET, opt_force, &v, sizeof(v)) == 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)) < 0)
		fprintf(stderr, "udpcheck: warning: %s: %s\n", name, strerror(errno));
}

static void cw_open(struct cw_check *c)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
	struct addrinfo *ai;
	int r = getaddrinfo(c->host, c->port, &hints, &ai);

	if (r != 0) {
		fprintf(stderr, "udpcheck: %s:%s: %s\n", c->host, c->port, gai_strerror(r));
		exit(2);
	}
	c->fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (c->fd < 0) {
		fprintf(stderr, "udpcheck: socket: %s\n", strerror(errno));
		exit(2);
	}
	memcpy(&c->peer, ai->ai_addr, ai->ai_addrlen);
	c->peer_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	cw_bufsize(c->fd, SO_RCVBUFFORCE, SO_RCVBUF, "SO_RCVBUF");
	cw_bufsize(c->fd, SO_SNDBUFFORCE, SO_SNDBUF, "SO_SNDBUF");
}

static void cw_parse(struct cw_check *c, int argc, char **argv)
{
	static unsigned long sizes[1024];
	int opt;

	c->timeout_ms = 1000;
	c->count = 1;
	while ((opt = getopt(argc, argv, "t:n:h")) != -1) {
		if (opt == 't')
			c->timeout_ms = (int)cw_number(optarg, 1, 3600000, "timeout");
		else if (opt == 'n')
			c->count = cw_number(optarg, 1, 1000000, "count");
		else
			cw_usage();
	}
	if (argc - optind < 3)
		cw_usage();
	c->host = argv[optind];
	c->port = argv[optind + 1];
	cw_number(c->port, 1, 65535, "port");
	c->n_sizes = (unsigned)(argc - optind - 2);
	if (c->n_sizes > sizeof(sizes) / sizeof(sizes[0])) {
		fprintf(stderr, "udpcheck: too many sizes\n");
		exit(2);
	}
	for (unsigned i = 0; i < c->n_sizes; i++)
		sizes[i] = cw_number(argv[optind + 2 + i], 1, CW_MAX_SIZE, "size");
	c->sizes = sizes;
}

int main(int argc, char **argv)
{
	static uint8_t tx[CW_BUF_SIZE], rx[CW_BUF_SIZE], scratch[CW_BUF_SIZE];
	struct cw_check c = {.tx = tx, .rx = rx, .scratch = scratch};
	unsigned long total, ok = 0;
	struct timespec now;

	cw_parse(&c, argc, argv);
	cw_open(&c);
	clock_gettime(CLOCK_REALTIME, &now);
	c.seed = ((uint64_t)now.tv_sec << 32) ^ (uint64_t)now.tv_nsec ^ (uint64_t)getpid() << 16;
	c.first_seq = 1;
	for (unsigned i = 0; i < c.n_sizes; i++)
		ok += cw_size(&c, i);
	total = c.count * c.n_sizes;
	if (c.stale)
		printf("note: %lu late or duplicate echoes ignored\n", c.stale);
	if (ok != total) {
		fprintf(stderr,
			"udpcheck: FAIL: %lu of %lu datagrams to %s:%s not echoed exactly\n",
			total - ok, total, c.host, c.port);
		return 1;
	}
	printf("udpcheck: OK: %lu datagrams echoed exactly\n", total);
	return 0;
}
