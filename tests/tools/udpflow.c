/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udpflow: a paced stream of numbered UDP datagrams through an echo path,
 * and what came back, for testing a lossy relay.
 *
 *   udpflow echo [-p PORT_FILE] ADDR:PORT
 *   udpflow send [-n count] [-s SIZE|MIN-MAX] [-i interval_us] [-q quiet_ms]
 *                [-S seed] ADDR:PORT
 *
 * echo answers every datagram to its sender and prints "peer ADDR:PORT"
 * for each new sender (at most 64); with port 0 it writes the port it got
 * to PORT_FILE. It runs until killed.
 *
 * send sends count (default 1000) datagrams, datagram i at start + i *
 * interval_us (default 100), then waits until nothing has arrived for
 * quiet_ms (default 300). Datagram i carries i (big-endian, 4 bytes) and
 * bytes that are a pure function of (seed, i); its size is SIZE, or one
 * in MIN..MAX chosen by (seed, i); at least 4. Each reply is classified:
 * an exact copy of datagram i is "unique" the first time (and "late" if a
 * higher one came before it) and a "duplicate" after; anything else from
 * the peer is "corrupted", and "corrupted_1bit" too when it differs from
 * some datagram sent in exactly one bit; from another address, "foreign".
 * Prints key=value lines: sent received unique duplicates late corrupted
 * corrupted_1bit foreign missing loss_runs max_run first_missing
 * last_missing missing_digest rtt_min_us rtt_avg_us rtt_max_us
 * last_arrival_ms.
 *
 * Exit status: 0 after a run (whatever came back), 2 on usage or setup.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CW_UF_MAX_SIZE	65507
#define CW_UF_MAX_COUNT 1000000
#define CW_UF_MAX_PEERS 64
#define CW_UF_SOCK_BUF	(8 * 1024 * 1024)

struct cw_flow {
	int fd;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint32_t n, next;
	size_t min, max;
	uint64_t seed, interval_ns, quiet_ns, t0, last_ns;
	uint64_t *sent_ns;
	uint8_t *seen;
	int64_t max_seq;
	uint64_t received, unique, dups, late, corrupted, corrupted_1bit, foreign;
	uint64_t rtt_min, rtt_max, rtt_sum, last_arrival;
	uint8_t rx[CW_UF_MAX_SIZE + 1], tx[CW_UF_MAX_SIZE], ref[CW_UF_MAX_SIZE];
};

static void __attribute__((noreturn)) cw_uf_usage(void)
{
	fprintf(stderr, "usage: udpflow echo [-p PORT_FILE] ADDR:PORT\n"
			"       udpflow send [-n count] [-s SIZE|MIN-MAX] [-i interval_us]\n"
			"                    [-q quiet_ms] [-S seed] ADDR:PORT\n");
	exit(2);
}

static uint64_t cw_uf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t cw_uf_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned long cw_uf_number(const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "udpflow: bad number '%s' (want %lu..%lu)\n", s, min, max);
		exit(2);
	}
	return v;
}

static void cw_uf_addr(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
	const char *colon = strrchr(arg, ':');
	char host[256];
	size_t hl = colon ? (size_t)(colon - arg) : 0;
	struct addrinfo *ai;

	if (!colon || hl == 0 || hl >= sizeof(host))
		cw_uf_usage();
	memcpy(host, arg, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		fprintf(stderr, "udpflow: cannot resolve '%s'\n", arg);
		exit(2);
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
}

static int cw_uf_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), v = CW_UF_SOCK_BUF;

	if (fd < 0) {
		perror("udpflow: socket");
		exit(2);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	return fd;
}

static void cw_uf_addr_str(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t n)
{
	char h[64], p[8];

	if (getnameinfo((const struct sockaddr *)ss, len, h, sizeof(h), p, sizeof(p),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, n, "?");
	else
		snprintf(out, n, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
}

static int cw_uf_echo(int argc, char **argv)
{
	static uint8_t buf[CW_UF_MAX_SIZE + 1];
	struct sockaddr_storage me, peers[CW_UF_MAX_PEERS];
	socklen_t me_len;
	const char *port_file = NULL;
	unsigned n_peers = 0;
	int opt, fd;

	while ((opt = getopt(argc, argv, "p:")) != -1) {
		if (opt != 'p')
			cw_uf_usage();
		port_file = optarg;
	}
	if (argc - optind != 1)
		cw_uf_usage();
	cw_uf_addr(argv[optind], &me, &me_len);
	fd = cw_uf_socket(me.ss_family);
	if (bind(fd, (struct sockaddr *)&me, me_len) < 0) {
		perror("udpflow: bind");
		return 2;
	}
	if (port_file) {
		char tmp[4096];
		FILE *f;

		me_len = sizeof(me);
		getsockname(fd, (struct sockaddr *)&me, &me_len);
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f ||
		    fprintf(f, "%u\n",
			    ntohs(me.ss_family == AF_INET6
				      ? ((struct sockaddr_in6 *)&me)->sin6_port
				      : ((struct sockaddr_in *)&me)->sin_port)) < 0 ||
		    fclose(f) != 0 || rename(tmp, port_file) != 0) {
			perror("udpflow: port file");
			return 2;
		}
	}
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t got = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		unsigned i;

		if (got < 0)
			continue;
		sendto(fd, buf, (size_t)got, 0, (struct sockaddr *)&from, flen);
		for (i = 0; i < n_peers && memcmp(&peers[i], &from, flen) != 0; i++)
			;
		if (i == n_peers && n_peers < CW_UF_MAX_PEERS) {
			char s[80];

			memset(&peers[n_peers], 0, sizeof(peers[0]));
			memcpy(&peers[n_peers++], &from, flen);
			cw_uf_addr_str(&from, flen, s, sizeof(s));
			printf("peer %s\n", s);
			fflush(stdout);
		}
	}
}

static size_t cw_uf_size(const struct cw_flow *f, uint32_t seq)
{
	if (f->max == f->min)
		return f->min;
	return f->min +
	       (size_t)(cw_uf_mix(f->seed ^ ((uint64_t)seq << 20)) % (f->max - f->min + 1));
}

static void cw_uf_fill(const struct cw_flow *f, uint32_t seq, uint8_t *buf, size_t len)
{
	uint64_t s = f->seed ^ ((uint64_t)seq * 0xd6e8feb86659fd93ULL);
	uint32_t be = htonl(seq);

	memcpy(buf, &be, 4);
	for (size_t i = 4; i < len; i += 8) {
		uint64_t r = cw_uf_mix(s++);

		for (size_t b = 0; b < 8 && i + b < len; b++)
			buf[i + b] = (uint8_t)(r >> (8 * b));
	}
}

static bool cw_uf_same_peer(const struct cw_flow *f, const struct sockaddr_storage *ss,
			    socklen_t len)
{
	return len == f->peer_len && memcmp(ss, &f->peer, len) == 0;
}

/* Does @got bytes in f->rx differ from some datagram sent in one bit? */
static bool cw_uf_one_bit(struct cw_flow *f, size_t got)
{
	uint32_t be, seq;

	memcpy(&be, f->rx, 4);
	seq = ntohl(be);
	for (int b = -1; b < 32; b++) {
		uint32_t cand = b < 0 ? seq : seq ^ (1u << b);
		unsigned bits = 0;

		if (cand >= f->next || cw_uf_size(f, cand) != got)
			continue;
		cw_uf_fill(f, cand, f->ref, got);
		for (size_t i = 0; i < got && bits < 2; i++)
			bits += (unsigned)__builtin_popcount(f->ref[i] ^ f->rx[i]);
		if (bits == 1)
			return true;
	}
	return false;
}

static void cw_uf_intact(struct cw_flow *f, uint32_t seq, uint64_t now)
{
	uint64_t rtt = now - f->sent_ns[seq];

	if (f->seen[seq]) {
		f->dups++;
		return;
	}
	f->seen[seq] = 1;
	f->unique++;
	if ((int64_t)seq < f->max_seq)
		f->late++;
	else
		f->max_seq = seq;
	if (f->unique == 1 || rtt < f->rtt_min)
		f->rtt_min = rtt;
	if (rtt > f->rtt_max)
		f->rtt_max = rtt;
	f->rtt_sum += rtt;
}

static void cw_uf_classify(struct cw_flow *f, size_t got, const struct sockaddr_storage *from,
			   socklen_t flen, uint64_t now)
{
	uint32_t be, seq;

	f->received++;
	f->last_arrival = now;
	if (!cw_uf_same_peer(f, from, flen)) {
		f->foreign++;
		return;
	}
	if (got >= 4 && got <= CW_UF_MAX_SIZE) {
		memcpy(&be, f->rx, 4);
		seq = ntohl(be);
		if (seq < f->next && cw_uf_size(f, seq) == got) {
			cw_uf_fill(f, seq, f->ref, got);
			if (memcmp(f->ref, f->rx, got) == 0) {
				cw_uf_intact(f, seq, now);
				return;
			}
		}
		f->corrupted_1bit += cw_uf_one_bit(f, got);
	}
	f->corrupted++;
}

static void cw_uf_drain(struct cw_flow *f)
{
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t got = recvfrom(f->fd, f->rx, sizeof(f->rx), MSG_DONTWAIT,
				       (struct sockaddr *)&from, &flen);

		if (got < 0)
			return;
		f->last_ns = cw_uf_now();
		cw_uf_classify(f, (size_t)got, &from, flen, f->last_ns);
	}
}

static void cw_uf_send_one(struct cw_flow *f, uint64_t now)
{
	uint32_t seq = f->next++;
	size_t len = cw_uf_size(f, seq);

	cw_uf_fill(f, seq, f->tx, len);
	f->sent_ns[seq] = now;
	f->last_ns = now;
	if (sendto(f->fd, f->tx, len, 0, (struct sockaddr *)&f->peer, f->peer_len) < 0)
		fprintf(stderr, "udpflow: sendto: %s\n", strerror(errno));
}

static void cw_uf_run(struct cw_flow *f)
{
	f->t0 = cw_uf_now();
	for (;;) {
		uint64_t now = cw_uf_now(), until;
		struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
		struct timespec ts;

		if (f->next < f->n && now >= f->t0 + f->next * f->interval_ns) {
			cw_uf_send_one(f, now);
			/* behind schedule, it would never poll: read what came back */
			if ((f->next & 63) == 0)
				cw_uf_drain(f);
			continue;
		}
		until =
		    f->next < f->n ? f->t0 + f->next * f->interval_ns : f->last_ns + f->quiet_ns;
		if (f->next == f->n && now >= until)
			break;
		ts.tv_sec = (time_t)((until - now) / 1000000000ULL);
		ts.tv_nsec = (long)((until - now) % 1000000000ULL);
		if (ppoll(&pfd, 1, &ts, NULL) > 0)
			cw_uf_drain(f);
	}
}

static void cw_uf_report(const struct cw_flow *f)
{
	uint64_t runs = 0, max_run = 0, run = 0, digest = 0xcbf29ce484222325ULL;
	int64_t first = -1, last = -1;

	for (uint32_t i = 0; i < f->n; i++) {
		if (f->seen[i]) {
			run = 0;
			continue;
		}
		if (first < 0)
			first = i;
		last = i;
		runs += run == 0;
		if (++run > max_run)
			max_run = run;
		for (int b = 0; b < 4; b++)
			digest = (digest ^ ((i >> (8 * b)) & 0xff)) * 0x100000001b3ULL;
	}
	printf("sent=%" PRIu32 "\nreceived=%" PRIu64 "\nunique=%" PRIu64 "\nduplicates=%" PRIu64
	       "\nlate=%" PRIu64 "\ncorrupted=%" PRIu64 "\ncorrupted_1bit=%" PRIu64
	       "\nforeign=%" PRIu64 "\nmissing=%" PRIu64 "\nloss_runs=%" PRIu64 "\nmax_run=%" PRIu64
	       "\nfirst_missing=%" PRId64 "\nlast_missing=%" PRId64 "\nmissing_digest=%016" PRIx64
	       "\n",
	       f->n, f->received, f->unique, f->dups, f->late, f->corrupted, f->corrupted_1bit,
	       f->foreign, f->n - f->unique, runs, max_run, first, last, digest);
	printf("rtt_min_us=%" PRIu64 "\nrtt_avg_us=%" PRIu64 "\nrtt_max_us=%" PRIu64
	       "\nlast_arrival_ms=%" PRIu64 "\n",
	       f->rtt_min / 1000, f->unique ? f->rtt_sum / f->unique / 1000 : 0, f->rtt_max / 1000,
	       f->received ? (f->last_arrival - f->t0) / 1000000 : 0);
}

static void cw_uf_sizes(struct cw_flow *f, const char *arg)
{
	char buf[32], *dash;

	if (strlen(arg) >= sizeof(buf))
		cw_uf_usage();
	strcpy(buf, arg);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	f->min = cw_uf_number(buf, 4, CW_UF_MAX_SIZE);
	f->max = dash ? cw_uf_number(dash + 1, f->min, CW_UF_MAX_SIZE) : f->min;
}

static int cw_uf_send(int argc, char **argv)
{
	static struct cw_flow f;
	int opt;

	f.n = 1000;
	f.min = f.max = 200;
	f.interval_ns = 100000;
	f.quiet_ns = 300000000;
	f.seed = 1;
	f.max_seq = -1;
	while ((opt = getopt(argc, argv, "n:s:i:q:S:")) != -1) {
		if (opt == 'n')
			f.n = (uint32_t)cw_uf_number(optarg, 1, CW_UF_MAX_COUNT);
		else if (opt == 's')
			cw_uf_sizes(&f, optarg);
		else if (opt == 'i')
			f.interval_ns = cw_uf_number(optarg, 0, 10000000) * 1000;
		else if (opt == 'q')
			f.quiet_ns = cw_uf_number(optarg, 1, 600000) * 1000000;
		else if (opt == 'S')
			f.seed = cw_uf_number(optarg, 0, ~0UL);
		else
			cw_uf_usage();
	}
	if (argc - optind != 1)
		cw_uf_usage();
	cw_uf_addr(argv[optind], &f.peer, &f.peer_len);
	f.fd = cw_uf_socket(f.peer.ss_family);
	f.sent_ns = calloc(f.n, sizeof(*f.sent_ns));
	f.seen = calloc(f.n, 1);
	if (!f.sent_ns || !f.seen) {
		fprintf(stderr, "udpflow: out of memory\n");
		return 2;
	}
	cw_uf_run(&f);
	cw_uf_report(&f);
	free(f.sent_ns);
	free(f.seen);
	close(f.fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		cw_uf_usage();
	if (strcmp(argv[1], "echo") == 0)
		return cw_uf_echo(argc - 1, argv + 1);
	if (strcmp(argv[1], "send") == 0)
		return cw_uf_send(argc - 1, argv + 1);
	cw_uf_usage();
}
