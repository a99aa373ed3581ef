/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dataplane/sockio.c's receive path with real loopback sockets on a real
 * EAL (--no-huge): runs of equal datagrams sent as one UDP GSO message
 * reach the handler as exactly the datagrams sent, byte for byte, in order,
 * each with its sender's address, whether the worker's socket has UDP GRO
 * (the run arrives as one message and is cut apart) or not (the kernel
 * splits it). A capturing handler copies what it is given and stops the
 * worker once it has everything; its poll stops it at a deadline so that a
 * lost datagram fails the test instead of hanging it. Every test ends by
 * checking that every mbuf went back to the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/dp.h"
#include "dataplane/sockio.h"

#define POOL_N	  1023
#define MAX_GOT	  200
#define BIG	  4000 /* over one mbuf's data room: a chain */
#define DEADLINE  (2 * 1000000000ull)
#define N_SENDERS 2

/* Defined by dataplane/main.c in the daemon; the worker loop polls it. */
volatile bool cw_quit;

static struct cw_config conf;
static struct cw_dp dp;
static struct cw_counters ctr[1];
static struct rte_mempool *pool;

/* What the handler was given. */
static struct got {
	uint8_t data[BIG];
	uint32_t len;
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint16_t segs;
} got[MAX_GOT];
static unsigned n_got, want_got;
static uint64_t deadline;

static uint16_t capture_rx(void *ctx, unsigned worker, struct cw_dgram *in, uint16_t n,
			   struct cw_dgram *out, uint16_t out_cap)
{
	(void)ctx;
	(void)worker;
	(void)out;
	(void)out_cap;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i].m;

		if (n_got < MAX_GOT && rte_pktmbuf_pkt_len(m) <= BIG) {
			struct got *g = &got[n_got++];

			g->len = rte_pktmbuf_pkt_len(m);
			const void *p = rte_pktmbuf_read(m, 0, g->len, g->data);

			/* A single segment is not copied: read returns it. */
			if (p != g->data)
				memcpy(g->data, p, g->len);
			g->src_ip = in[i].src_ip;
			g->dst_ip = in[i].dst_ip;
			g->src_port = in[i].src_port;
			g->dst_port = in[i].dst_port;
			g->segs = m->nb_segs;
		}
		rte_pktmbuf_free(m);
	}
	if (n_got >= want_got)
		cw_quit = true;
	return 0;
}

static uint16_t capture_poll(void *ctx, unsigned worker, struct cw_dgram *out, uint16_t out_cap,
			     uint64_t *next_ns)
{
	(void)ctx;
	(void)worker;
	(void)out;
	(void)out_cap;
	if (cw_mono_ns() >= deadline)
		cw_quit = true;
	*next_ns = deadline;
	return 0;
}

/* A UDP port free on 127.0.0.1 right now. */
static uint16_t free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int group_setup(void **state)
{
	/* --no-shconf: no runtime config file and no lock on it, so suites
	 * running at the same time on one machine cannot collide. */
	char *argv[] = {"test_sockio", "--no-huge", "--no-pci",	     "--no-shconf",
			"-m",	       "128",	    "--file-prefix", "cwtsockio",
			"-l",	       "0",	    "--log-level",   "lib.eal:error"};
	(void)state;
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])), argv) < 0)
		return -1;
	pool = rte_pktmbuf_pool_create("ts_pool", POOL_N, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (!pool)
		return -1;
	conf.dp.burst = 32;
	conf.dp.n_workers = 1;
	conf.dp.socket_addr = htonl(INADDR_LOOPBACK);
	dp.conf = &conf;
	dp.n_workers = 1;
	dp.lcores[0] = rte_lcore_id();
	dp.counters = ctr;
	dp.pool = pool;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rte_mempool_free(pool);
	return rte_eal_cleanup();
}

/* What one test opened: closed even when it fails half-way. */
struct fixture {
	struct cw_sock_worker *w;
	int fd[N_SENDERS];
};

/* A fresh worker on a fresh port, so that nothing of an earlier test (a
 * socket sharing the port through SO_REUSEPORT) can reach this one. */
static int setup(void **state)
{
	static struct fixture f;
	struct cw_handler h = {.name = "capture", .rx = capture_rx, .poll = capture_poll};

	memset(ctr, 0, sizeof(ctr));
	n_got = 0;
	dp.handlers.n = 0;
	h.udp_port = free_port();
	if (cw_handlers_add(&dp.handlers, &h) != 0)
		return -1;
	f.w = cw_sock_worker_create(&dp, 0, rte_lcore_id());
	for (unsigned s = 0; s < N_SENDERS; s++)
		f.fd[s] = -1;
	*state = &f;
	return f.w ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (unsigned s = 0; s < N_SENDERS; s++)
		if (f->fd[s] >= 0)
			close(f->fd[s]);
	cw_sock_worker_free(f->w);
	cw_quit = false;
	return 0;
}

/* ---- senders ---------------------------------------------------------- */

static int sender(struct sockaddr_in *self)
{
	socklen_t len = sizeof(*self);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	*self =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)self, sizeof(*self)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)self, &len), 0);
	return fd;
}

/* Datagram @seq of @len bytes: its number first, then a pattern. */
static void fill(uint8_t *p, size_t len, unsigned seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = i < 2 ? (uint8_t)(seq >> (8 * i)) : (uint8_t)(seq * 37 + i);
}

struct run {
	unsigned n; /* datagrams of @seg bytes */
	uint16_t seg;
	uint16_t last;	 /* then one of this many (0: none) */
	unsigned sender; /* which socket sends it */
	unsigned first;	 /* number of its first datagram */
};

/* Send @r as one UDP GSO message (the kernel cuts it at r->seg bytes). */
static void send_run(int fd, const struct run *r)
{
	static uint8_t buf[65000];
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(dp.handlers.h[0].udp_port)};
	uint8_t cbuf[CMSG_SPACE(sizeof(uint16_t))] = {0};
	unsigned total = r->n + (r->last ? 1 : 0);
	size_t len = 0;
	struct iovec iov;
	struct msghdr h = {
	    .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	for (unsigned i = 0; i < total; i++) {
		size_t l = i < r->n ? r->seg : r->last;

		assert_true(len + l <= sizeof(buf));
		fill(buf + len, l, r->first + i);
		len += l;
	}
	iov = (struct iovec){buf, len};
	if (total > 1) {
		h.msg_control = cbuf;
		h.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&h);
		c->cmsg_level = IPPROTO_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &r->seg, sizeof(uint16_t));
	}
	assert_int_equal(sendmsg(fd, &h, 0), (ssize_t)len);
}

/*
 * Send @runs, run the worker (GRO on or off) until the handler has every
 * datagram or the deadline passed, and check what it got: every datagram
 * once, in each sender's order, byte-exact, with its sender's address.
 */
static void check_runs(struct fixture *f, const struct run *runs, unsigned n_runs, bool gro)
{
	struct sockaddr_in self[N_SENDERS];
	unsigned next[N_SENDERS] = {0}, expected = 0;
	uint8_t want[BIG];

	assert_int_equal(cw_sock_worker_set_gro(f->w, gro), 0);
	for (unsigned s = 0; s < N_SENDERS; s++)
		f->fd[s] = sender(&self[s]);
	for (unsigned i = 0; i < n_runs; i++) {
		send_run(f->fd[runs[i].sender], &runs[i]);
		expected += runs[i].n + (runs[i].last ? 1 : 0);
	}
	want_got = expected;
	deadline = cw_mono_ns() + DEADLINE;
	cw_quit = false;
	assert_int_equal(cw_sock_worker_main(f->w), 0);
	cw_quit = false;

	assert_int_equal(n_got, expected);
	for (unsigned i = 0; i < n_got; i++) {
		const struct got *g = &got[i];
		unsigned s = g->src_port == self[1].sin_port, r = 0, seq, k;

		assert_int_equal(g->src_ip, htonl(INADDR_LOOPBACK));
		assert_int_equal(g->src_port, self[s].sin_port);
		assert_int_equal(g->dst_ip, htonl(INADDR_LOOPBACK));
		assert_int_equal(ntohs(g->dst_port), dp.handlers.h[0].udp_port);
		/* The next datagram of sender s: find its run and place. */
		for (k = next[s]++; r < n_runs; r++) {
			unsigned cnt = runs[r].n + (runs[r].last ? 1 : 0);

			if (runs[r].sender != s)
				continue;
			if (k < cnt)
				break;
			k -= cnt;
		}
		assert_true(r < n_runs);
		seq = runs[r].first + k;
		assert_int_equal(g->len, k < runs[r].n ? runs[r].seg : runs[r].last);
		fill(want, g->len, seq);
		assert_memory_equal(g->data, want, g->len);
		assert_int_equal(g->segs, (g->len + RTE_MBUF_DEFAULT_DATAROOM - 1) /
					      RTE_MBUF_DEFAULT_DATAROOM);
	}
	assert_int_equal(ctr[0].udp_in, expected);
	assert_int_equal(ctr[0].rx_pkts, expected);
	assert_int_equal(cw_counters_drops(&ctr[0]), 0);
	cw_sock_worker_free(f->w);
	f->w = NULL;
	assert_int_equal(rte_mempool_avail_count(pool), POOL_N);
}

/* ---- tests ------------------------------------------------------------ */

/* N equal datagrams and a shorter last one, from one sender. */
static const struct run one_run[] = {{.n = 30, .seg = 1350, .last = 200}};

/* Two senders interleaved; runs of several sizes, a run without a shorter
 * last one, a single datagram, and datagrams longer than an mbuf. */
static const struct run mixed[] = {
    {.n = 20, .seg = 1200, .last = 1199, .sender = 0, .first = 0},
    {.n = 10, .seg = 1000, .sender = 1, .first = 100},
    {.n = 1, .seg = 77, .sender = 0, .first = 21},
    {.n = 8, .seg = 3000, .last = 2500, .sender = 1, .first = 110},
    {.n = 40, .seg = 100, .last = 1, .sender = 0, .first = 22},
};

static void test_gro_one_run(void **state)
{
	check_runs(*state, one_run, 1, true);
}

static void test_no_gro_one_run(void **state)
{
	check_runs(*state, one_run, 1, false);
}

static void test_gro_mixed(void **state)
{
	check_runs(*state, mixed, sizeof(mixed) / sizeof(mixed[0]), true);
}

static void test_no_gro_mixed(void **state)
{
	check_runs(*state, mixed, sizeof(mixed) / sizeof(mixed[0]), false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_gro_one_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_gro_one_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gro_mixed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_gro_mixed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
