/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPv4 reassembly and RX classification through the real worker input path
 * (cw_worker_input + cw_worker_dispatch) on a real EAL started with
 * --no-huge. A capturing handler on UDP port HPORT copies what it is given
 * and frees it; the echo handler on EPORT and a bouncing one on BPORT (an
 * echo that does not declare itself reflecting) reply, and the tests take
 * their replies from the worker's TX queue, so nothing is ever transmitted.
 * Every test starts with a fresh worker and zeroed counters, and ends by
 * checking that every mbuf went back to the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/dp.h"
#include "dataplane/echo.h"
#include "dataplane/neigh.h"
#include "dataplane/parse.h"
#include "dataplane/worker.h"

#define OUR_IP	   0x0a000001u /* 10.0.0.1, host order */
#define PEER_IP	   0x0a000002u
#define SPORT	   40000
#define HPORT	   7000 /* the capturing handler */
#define NOPORT	   7001 /* nobody */
#define EPORT	   7	/* the echo handler */
#define BPORT	   7002 /* the bouncing handler */
#define POOL_N	   1023
#define TIMEOUT_MS 500
#define MAX_GOT	   8
#define BIG	   16384
#define T0	   (1ull << 40) /* any TSC value */

static const uint8_t our_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

/* Defined by dataplane/main.c in the daemon; worker.c polls it. */
volatile bool cw_quit;

static struct cw_config conf;
static struct cw_port_conf pconf;
static struct cw_dp dp;
static struct cw_counters ctr[1];
static struct rte_mempool *pool, *indirect;
static struct cw_worker *w;
static uint64_t max_cycles; /* the reassembly timeout in TSC cycles */

/* What the handler was given. */
static struct got {
	uint8_t data[BIG];
	uint32_t len;
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port, port;
	unsigned worker;
} got[MAX_GOT];
static unsigned n_got;

static uint16_t capture_rx(void *ctx, unsigned worker, struct cw_dgram *in, uint16_t n,
			   struct cw_dgram *out, uint16_t out_cap)
{
	(void)ctx;
	(void)out;
	(void)out_cap;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i].m;

		if (n_got < MAX_GOT && rte_pktmbuf_pkt_len(m) <= BIG) {
			struct got *g = &got[n_got++];
			const void *p;

			g->len = rte_pktmbuf_pkt_len(m);
			p = rte_pktmbuf_read(m, 0, g->len, g->data);
			if (p && p != g->data)
				memcpy(g->data, p, g->len);
			g->src_ip = in[i].src_ip;
			g->dst_ip = in[i].dst_ip;
			g->src_port = in[i].src_port;
			g->dst_port = in[i].dst_port;
			g->port = in[i].port;
			g->worker = worker;
		} else {
			n_got++; /* counted, so that a test notices */
		}
		rte_pktmbuf_free(m);
	}
	return 0;
}

/* Every datagram back to its sender, its checksum left to the dataplane. */
static uint16_t bounce_rx(void *ctx, unsigned worker, struct cw_dgram *in, uint16_t n,
			  struct cw_dgram *out, uint16_t out_cap)
{
	(void)ctx;
	(void)worker;
	assert_true(n <= out_cap);
	for (uint16_t i = 0; i < n; i++) {
		out[i] = in[i];
		out[i].src_ip = in[i].dst_ip;
		out[i].dst_ip = in[i].src_ip;
		out[i].src_port = in[i].dst_port;
		out[i].dst_port = in[i].src_port;
		out[i].udp_csum = 0;
	}
	return n;
}

/* ---- packet crafting ------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 8));
}

/*
 * A UDP datagram PEER:SPORT -> OUR:@dport, header and payload, into @d: @n
 * payload bytes (fill(.., n, @seed)), a valid checksum over it all.
 * Returns 8 + @n, the IPv4 payload length.
 */
static size_t mk_dgram(uint8_t *d, uint16_t dport, size_t n, uint8_t seed)
{
	uint16_t c;

	put16(d, SPORT);
	put16(d + 2, dport);
	put16(d + 4, (uint16_t)(8 + n));
	put16(d + 6, 0);
	fill(d + 8, n, seed);
	c = (uint16_t)~ref_sum(d, 8 + n,
			       (PEER_IP >> 16) + (PEER_IP & 0xffff) + (OUR_IP >> 16) +
				   (OUR_IP & 0xffff) + CW_IPPROTO_UDP + 8 + n);
	put16(d + 6, c ? c : 0xffff);
	return 8 + n;
}

static struct rte_mbuf *mbuf_of(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *p;

	assert_non_null(m);
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(p);
	memcpy(p, f, len);
	return m;
}

/* Ethernet + IPv4 header (20 bytes) for @ip_payload bytes; returns 34. */
static size_t mk_hdr(uint8_t *f, uint16_t id, uint16_t frag, size_t ip_payload)
{
	uint8_t *ip = f + 14;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, CW_ETHERTYPE_IP);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + ip_payload));
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = CW_IPPROTO_UDP;
	put32(ip + 12, PEER_IP);
	put32(ip + 16, OUR_IP);
	put16(ip + 10, (uint16_t)~ref_sum(ip, 20, 0));
	return 34;
}

/*
 * The fragment of IPv4 payload @d covering [@off, @off + @len), IP id @id,
 * with MF set when @mf, as a frame in a fresh mbuf.
 */
static struct rte_mbuf *mk_frag(const uint8_t *d, size_t off, size_t len, bool mf, uint16_t id)
{
	uint8_t f[BIG];
	size_t h;

	assert_int_equal(off % 8, 0);
	h = mk_hdr(f, id, (uint16_t)((mf ? 0x2000 : 0) | off / 8), len);
	memcpy(f + h, d + off, len);
	return mbuf_of(f, h + len);
}

/* An unfragmented frame carrying IPv4 payload @d of @len bytes. */
static struct rte_mbuf *mk_whole(const uint8_t *d, size_t len)
{
	return mk_frag(d, 0, len, false, 1);
}

/* Fragment boundaries: fragment i covers [cut[i], cut[i + 1]). */
struct split {
	unsigned n;
	size_t cut[16];
};

static struct rte_mbuf *split_frag(const uint8_t *d, const struct split *s, unsigned i, uint16_t id)
{
	return mk_frag(d, s->cut[i], s->cut[i + 1] - s->cut[i], i + 1 < s->n, id);
}

static void input(struct rte_mbuf *m, uint64_t now)
{
	cw_worker_input(w, 0, m, now);
}

static void dispatch(uint64_t now)
{
	cw_worker_dispatch(w, now);
}

/* Exactly one datagram was delivered, the payload of @d (UDP at offset 0). */
static void assert_delivered(const uint8_t *d, size_t dlen, uint16_t dport)
{
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].len, dlen - 8);
	assert_memory_equal(got[0].data, d + 8, dlen - 8);
	assert_int_equal(got[0].src_ip, htonl(PEER_IP));
	assert_int_equal(got[0].dst_ip, htonl(OUR_IP));
	assert_int_equal(got[0].src_port, htons(SPORT));
	assert_int_equal(got[0].dst_port, htons(dport));
	assert_int_equal(got[0].port, 0);
	assert_int_equal(got[0].worker, 0);
	assert_int_equal(ctr[0].udp_in, 1);
}

static uint64_t total_drops(void)
{
	return cw_counters_drops(&ctr[0]);
}

/* ---- fixtures -------------------------------------------------------- */

static int group_setup(void **state)
{
	/* --no-shconf: no runtime config file and no lock on it, so suites
	 * running at the same time on one machine (an ASan tree beside a
	 * plain one) cannot collide on the file prefix. */
	char *argv[] = {"test_frag", "--no-huge", "--no-pci",	   "--no-shconf",
			"-m",	     "128",	  "--file-prefix", "cwtfrag",
			"-l",	     "0",	  "--log-level",   "lib.eal:error"};
	struct cw_handler h = {
	    .name = "capture", .udp_port = HPORT, .rx = capture_rx, .answers = true};
	struct cw_handler b = {
	    .name = "bounce", .udp_port = BPORT, .rx = bounce_rx, .answers = true};
	struct cw_handler e;

	(void)state;
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])), argv) < 0)
		return -1;
	/* rte_ip_frag logs every table it creates at INFO. */
	rte_log_set_level(RTE_LOGTYPE_USER1, RTE_LOG_WARNING);
	pool = rte_pktmbuf_pool_create("tf_pool", POOL_N, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	indirect = rte_pktmbuf_pool_create("tf_indirect", 255, 0, 0, 0, (int)rte_socket_id());
	if (!pool || !indirect)
		return -1;
	conf.dp.frag_timeout_ms = TIMEOUT_MS;
	conf.dp.frag_max_entries = 64;
	conf.dp.burst = 32;
	conf.dp.n_workers = 1;
	pconf.mtu = 1500;
	pconf.addr = htonl(OUR_IP);
	pconf.prefix_len = 24;
	dp.conf = &conf;
	dp.n_ports = 1;
	dp.ports[0].conf = &pconf;
	memcpy(dp.ports[0].mac, our_mac, 6);
	dp.ports[0].addr = htonl(OUR_IP);
	dp.ports[0].netmask = htonl(0xffffff00u);
	dp.ports[0].vlan_tci = -1;
	dp.tsc_hz = rte_get_tsc_hz();
	dp.ports[0].neigh = cw_neigh_create(64, 60 * dp.tsc_hz);
	if (!dp.ports[0].neigh)
		return -1;
	dp.n_workers = 1;
	dp.lcores[0] = rte_lcore_id();
	dp.counters = ctr;
	dp.pool = pool;
	dp.indirect = indirect;
	max_cycles = dp.tsc_hz * TIMEOUT_MS / 1000;
	cw_echo_handler(&e, EPORT);
	return cw_handlers_add(&dp.handlers, &h) == 0 && cw_handlers_add(&dp.handlers, &e) == 1 &&
		       cw_handlers_add(&dp.handlers, &b) == 2
		   ? 0
		   : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	cw_neigh_free(dp.ports[0].neigh);
	rte_mempool_free(indirect);
	rte_mempool_free(pool);
	return rte_eal_cleanup();
}

static int setup(void **state)
{
	(void)state;
	memset(ctr, 0, sizeof(ctr));
	memset(got, 0, sizeof(got));
	n_got = 0;
	dp.ports[0].vlan_tci = -1; /* whatever a failed test left */
	w = cw_worker_create(&dp, 0, rte_lcore_id());
	dp.workers[0] = w;
	return w ? 0 : -1;
}

/* Freeing the worker frees what its reassembly table holds: no mbuf leaks. */
static int teardown(void **state)
{
	unsigned avail;

	(void)state;
	cw_worker_free(w);
	w = NULL;
	dp.workers[0] = NULL;
	avail = rte_mempool_avail_count(pool);
	if (avail != POOL_N) {
		print_error("mbuf leak: %u of %u in the pool\n", avail, POOL_N);
		return -1;
	}
	return 0;
}

/* ---- reassembly ------------------------------------------------------ */

/* 1008 bytes of IPv4 payload in five fragments. */
static const struct split five = {5, {0, 208, 416, 624, 832, 1008}};

static void feed(const uint8_t *d, const struct split *s, const unsigned *order, uint16_t id,
		 uint64_t now)
{
	for (unsigned i = 0; i < s->n; i++)
		input(split_frag(d, s, order[i], id), now);
	dispatch(now);
}

static void test_unfragmented(void **state)
{
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 1);

	(void)state;
	input(mk_whole(d, dlen), T0);
	assert_int_equal(n_got, 0); /* batched until dispatch */
	dispatch(T0);
	assert_delivered(d, dlen, HPORT);
	assert_int_equal(ctr[0].rx_pkts, 1);
	assert_int_equal(ctr[0].rx_bytes, 34 + dlen);
	/* The only "drop": the handler kept nothing to send. */
	assert_int_equal(ctr[0].drops[CW_DROP_HANDLER], 1);
	assert_int_equal(total_drops(), 1);
}

/*
 * The NIC's "checksum good" flags count only on a port whose NIC checks
 * checksums: elsewhere (net_af_xdp recycles mbufs without resetting
 * ol_flags) a frame with a bad IP checksum is dropped whatever they say.
 */
static void test_csum_flags_trusted_per_port(void **state)
{
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 200, 3);
	struct rte_mbuf *m;

	(void)state;
	m = mk_whole(d, dlen);
	rte_pktmbuf_mtod(m, uint8_t *)[14 + 10] ^= 0x5a; /* IP header checksum */
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	input(m, T0);
	dispatch(T0);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].drops[CW_DROP_BAD_CSUM], 1);

	/* A port with checksum offload: the NIC's word is taken. */
	w->csum_flags[0] = RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK;
	m = mk_whole(d, dlen);
	rte_pktmbuf_mtod(m, uint8_t *)[14 + 10] ^= 0x5a;
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	input(m, T0);
	dispatch(T0);
	assert_delivered(d, dlen, HPORT);
	assert_int_equal(ctr[0].drops[CW_DROP_BAD_CSUM], 1);
}

static void test_in_order(void **state)
{
	static const unsigned order[] = {0, 1, 2, 3, 4};
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 2);

	(void)state;
	feed(d, &five, order, 0x1001, T0);
	assert_delivered(d, dlen, HPORT);
	assert_int_equal(ctr[0].rx_pkts, 5);
	assert_int_equal(total_drops() - ctr[0].drops[CW_DROP_HANDLER], 0);
}

static void test_reverse_order(void **state)
{
	static const unsigned order[] = {4, 3, 2, 1, 0};
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 3);

	(void)state;
	feed(d, &five, order, 0x1002, T0);
	assert_delivered(d, dlen, HPORT);
	assert_int_equal(total_drops() - ctr[0].drops[CW_DROP_HANDLER], 0);
}

static void test_shuffled(void **state)
{
	static const unsigned orders[][5] = {
	    {2, 0, 4, 1, 3}, {1, 3, 0, 4, 2}, {4, 0, 3, 1, 2}, {3, 4, 1, 2, 0}};

	(void)state;
	for (unsigned k = 0; k < 4; k++) {
		uint8_t d[BIG];
		size_t dlen = mk_dgram(d, HPORT, 1000, (uint8_t)(4 + k));

		n_got = 0;
		ctr[0].udp_in = 0;
		feed(d, &five, orders[k], (uint16_t)(0x1003 + k), T0 + k);
		assert_delivered(d, dlen, HPORT);
	}
	assert_int_equal(total_drops() - ctr[0].drops[CW_DROP_HANDLER], 0);
}

/* Two datagrams from the same peer, fragments interleaved, told apart by id. */
static void test_interleaved(void **state)
{
	static const struct split three = {3, {0, 400, 800, 1008}};
	uint8_t a[BIG], b[BIG];
	size_t alen = mk_dgram(a, HPORT, 1000, 10), blen = mk_dgram(b, HPORT, 1000, 11);

	(void)state;
	input(split_frag(a, &three, 2, 0x2001), T0);
	input(split_frag(b, &three, 0, 0x2002), T0);
	input(split_frag(a, &three, 0, 0x2001), T0);
	input(split_frag(b, &three, 2, 0x2002), T0);
	input(split_frag(b, &three, 1, 0x2002), T0);
	input(split_frag(a, &three, 1, 0x2001), T0);
	dispatch(T0);
	assert_int_equal(n_got, 2);
	assert_int_equal(got[0].len, blen - 8);
	assert_memory_equal(got[0].data, b + 8, blen - 8);
	assert_int_equal(got[1].len, alen - 8);
	assert_memory_equal(got[1].data, a + 8, alen - 8);
}

/* Ethernet padding after a short last fragment is not payload. */
static void test_padded_last_fragment(void **state)
{
	static const struct split two = {2, {0, 104, 108}};
	uint8_t d[BIG], f[64];
	size_t dlen = mk_dgram(d, HPORT, 100, 20);
	struct rte_mbuf *m;

	(void)state;
	/* The last fragment (4 bytes) padded to the 60-byte minimum. */
	mk_hdr(f, 0x3001, 104 / 8, 4);
	memcpy(f + 34, d + 104, 4);
	memset(f + 38, 0xee, 60 - 38);
	m = mbuf_of(f, 60);
	input(m, T0);
	input(split_frag(d, &two, 0, 0x3001), T0);
	dispatch(T0);
	assert_delivered(d, dlen, HPORT);
}

/* The largest datagram rte_ip_frag can rebuild: RTE_LIBRTE_IP_FRAG_MAX_FRAG pieces. */
static void test_max_fragments(void **state)
{
	struct split s = {0, {0}};
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 8 * 1480 - 8, 21);
	unsigned order[16];

	(void)state;
	for (unsigned i = 0; i <= RTE_LIBRTE_IP_FRAG_MAX_FRAG; i++)
		s.cut[i] = i * 1480;
	s.n = RTE_LIBRTE_IP_FRAG_MAX_FRAG;
	assert_int_equal(s.cut[s.n], dlen);
	for (unsigned i = 0; i < s.n; i++)
		order[i] = (i * 5) % s.n; /* 0 5 2 7 4 1 6 3 */
	feed(d, &s, order, 0x3002, T0);
	assert_delivered(d, dlen, HPORT);
	assert_int_equal(total_drops() - ctr[0].drops[CW_DROP_HANDLER], 0);
}

/*
 * One more fragment than that, in order: when the 9th piece needs a slot
 * the whole datagram is rejected (8 mbufs to frag_bad). The last fragment,
 * arriving after that, starts a new datagram that waits for its timeout.
 */
static void test_too_many_fragments(void **state)
{
	struct split s = {0, {0}};
	uint8_t d[BIG];
	unsigned n = RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1, order[16];

	(void)state;
	mk_dgram(d, HPORT, n * 1000 - 8, 22);
	for (unsigned i = 0; i <= n; i++)
		s.cut[i] = i * 1000;
	s.n = n;
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	feed(d, &s, order, 0x3003, T0);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_BAD], n - 1);
	assert_int_equal(total_drops(), n - 1);
	assert_int_equal(rte_mempool_avail_count(pool), POOL_N - 1);
}

/*
 * A duplicate fragment before the datagram is complete: rte_ip_frag adds up
 * fragment lengths, finds more bytes than the datagram holds and discards
 * the whole datagram (RFC 791 would keep one copy). Nothing is delivered,
 * every fragment is counted as frag_bad. A later retransmission of the
 * whole set is reassembled normally.
 */
static void test_duplicate_fragment(void **state)
{
	static const struct split three = {3, {0, 400, 800, 1008}};
	static const unsigned all[] = {0, 1, 2};
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 30);

	(void)state;
	input(split_frag(d, &three, 0, 0x4001), T0);
	input(split_frag(d, &three, 1, 0x4001), T0);
	input(split_frag(d, &three, 1, 0x4001), T0);
	input(split_frag(d, &three, 2, 0x4001), T0);
	dispatch(T0);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_BAD], 4);
	/* A duplicate first (or last) fragment: rejected as soon as it arrives. */
	input(split_frag(d, &three, 2, 0x4002), T0);
	input(split_frag(d, &three, 2, 0x4002), T0);
	dispatch(T0);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_BAD], 4 + 2);
	/* The sender retransmits: fine. */
	feed(d, &three, all, 0x4001, T0 + 1);
	assert_delivered(d, dlen, HPORT);
}

/* A duplicate after completion starts a new datagram: delivered only once. */
static void test_duplicate_after_completion(void **state)
{
	static const struct split three = {3, {0, 400, 800, 1008}};
	static const unsigned all[] = {0, 1, 2};
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 31);

	(void)state;
	feed(d, &three, all, 0x4003, T0);
	input(split_frag(d, &three, 1, 0x4003), T0);
	dispatch(T0);
	assert_delivered(d, dlen, HPORT);
	/* It waits in the table; teardown checks the table frees it. */
	assert_int_equal(rte_mempool_avail_count(pool), POOL_N - 1);
}

/*
 * Overlaps. rte_ip_frag never merges ranges: it accepts a set whose lengths
 * add up to the total and chain end-to-start exactly, and rejects anything
 * else as a whole, so a payload built from overlapping pieces (the classic
 * overwrite attack) can never come out. Each case: nothing delivered, every
 * fragment counted as frag_bad, no mbuf leaked.
 */
static void test_overlap(void **state)
{
	static const struct {
		size_t off[3], len[3];
	} cases[] = {
	    /* The second fragment starts 8 bytes inside the first. */
	    {{0, 392, 792}, {400, 400, 216}},
	    /* The same, compensated by an 8-byte hole before the last. */
	    {{0, 392, 800}, {400, 400, 208}},
	    /* The last fragment starts inside the first: it defines the end. */
	    {{0, 400, 392}, {400, 400, 616}},
	    /* A middle fragment entirely inside the first. */
	    {{0, 8, 400}, {400, 16, 608}},
	};
	static const struct split three = {3, {0, 400, 800, 1008}};
	static const unsigned all[] = {0, 1, 2};
	uint8_t d[BIG], evil[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 40);

	(void)state;
	/* The overlapping fragments carry different bytes than the original. */
	memcpy(evil, d, dlen);
	memset(evil + 300, 0x66, 600);
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint16_t id = (uint16_t)(0x5000 + k);
		uint64_t before = ctr[0].drops[CW_DROP_FRAG_BAD];

		/* The third fragment is the last one (MF clear) in every case. */
		for (unsigned i = 0; i < 3; i++)
			input(mk_frag(i ? evil : d, cases[k].off[i], cases[k].len[i], i < 2, id),
			      T0);
		dispatch(T0);
		assert_int_equal(n_got, 0);
		assert_int_equal(ctr[0].drops[CW_DROP_FRAG_BAD] - before, 3);
		assert_int_equal(rte_mempool_avail_count(pool), POOL_N);
	}
	assert_int_equal(ctr[0].udp_in, 0);
	/* The genuine set under a rejected id still reassembles. */
	feed(d, &three, all, 0x5000, T0 + 1);
	assert_delivered(d, dlen, HPORT);
}

/* ---- timeouts -------------------------------------------------------- */

/* A fragment exactly at the timeout still completes the datagram. */
static void test_timeout_boundary(void **state)
{
	static const struct split three = {3, {0, 400, 800, 1008}};
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 50);

	(void)state;
	input(split_frag(d, &three, 0, 0x6001), T0);
	input(split_frag(d, &three, 2, 0x6001), T0 + max_cycles / 2);
	input(split_frag(d, &three, 1, 0x6001), T0 + max_cycles);
	dispatch(T0 + max_cycles);
	assert_delivered(d, dlen, HPORT);
}

/*
 * A fragment after the timeout never completes the old datagram: its
 * fragments are freed and the late one starts a new datagram.
 */
static void test_timeout_late_fragment(void **state)
{
	static const struct split three = {3, {0, 400, 800, 1008}};
	static const unsigned first_last[] = {0, 2};
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 51);
	uint64_t late = T0 + max_cycles + 1;

	(void)state;
	input(split_frag(d, &three, 0, 0x6002), T0);
	input(split_frag(d, &three, 2, 0x6002), T0);
	dispatch(T0);
	assert_int_equal(rte_mempool_avail_count(pool), POOL_N - 2);
	input(split_frag(d, &three, 1, 0x6002), late);
	dispatch(late);
	assert_int_equal(n_got, 0);
	/* The two old fragments are gone, the late one is held. */
	assert_int_equal(rte_mempool_avail_count(pool), POOL_N - 1);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_BAD] + ctr[0].drops[CW_DROP_FRAG_TIMEOUT], 2);
	/* The sender retransmits the rest: a complete, correct datagram. */
	for (unsigned i = 0; i < 2; i++)
		input(split_frag(d, &three, first_last[i], 0x6002), late + 1);
	dispatch(late + 1);
	assert_delivered(d, dlen, HPORT);
}

/*
 * A later fragment that finds its datagram expired: the old fragments are
 * timeouts, not rejected fragments.
 */
static void test_timeout_counted(void **state)
{
	static const struct split three = {3, {0, 400, 800, 1008}};
	uint8_t d[BIG];
	uint64_t late = T0 + max_cycles + 1;

	(void)state;
	mk_dgram(d, HPORT, 1000, 52);
	input(split_frag(d, &three, 0, 0x6003), T0);
	input(split_frag(d, &three, 2, 0x6003), T0);
	input(split_frag(d, &three, 1, 0x6003), late);
	dispatch(late);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_BAD], 0);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_TIMEOUT], 2);
}

/* The periodic sweep expires an incomplete datagram with no later fragment. */
static void test_timeout_sweep(void **state)
{
	static const struct split three = {3, {0, 400, 800, 1008}};
	uint8_t d[BIG];

	(void)state;
	mk_dgram(d, HPORT, 1000, 53);
	input(split_frag(d, &three, 0, 0x6004), T0);
	input(split_frag(d, &three, 2, 0x6004), T0);
	cw_worker_housekeep(w, T0 + max_cycles / 2);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_TIMEOUT], 0);
	cw_worker_housekeep(w, T0 + 2 * max_cycles);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_TIMEOUT], 2);
	assert_int_equal(ctr[0].drops[CW_DROP_FRAG_BAD], 0);
	/* The last fragment alone now starts a datagram of its own. */
	input(split_frag(d, &three, 1, 0x6004), T0 + 2 * max_cycles);
	dispatch(T0 + 2 * max_cycles);
	assert_int_equal(n_got, 0);
}

/* ---- the reassembled datagram ---------------------------------------- */

static void test_reassembled_bad_csum(void **state)
{
	static const unsigned order[] = {2, 1, 0};
	static const struct split three = {3, {0, 400, 800, 1008}};
	uint8_t d[BIG];

	(void)state;
	mk_dgram(d, HPORT, 1000, 60);
	d[900] ^= 0x01; /* in the last fragment; its IP header stays valid */
	feed(d, &three, order, 0x7001, T0);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].drops[CW_DROP_BAD_L4_CSUM], 1);
	assert_int_equal(total_drops(), 1);
	assert_int_equal(ctr[0].udp_in, 0);
}

static void test_reassembled_zero_csum(void **state)
{
	static const unsigned order[] = {1, 0, 2};
	static const struct split three = {3, {0, 400, 800, 1008}};
	uint8_t d[BIG];
	size_t dlen = mk_dgram(d, HPORT, 1000, 61);

	(void)state;
	put16(d + 6, 0);
	d[900] ^= 0x01; /* not checked */
	feed(d, &three, order, 0x7002, T0);
	assert_delivered(d, dlen, HPORT);
}

static void test_reassembled_no_handler(void **state)
{
	static const unsigned order[] = {0, 2, 1};
	static const struct split three = {3, {0, 400, 800, 1008}};
	uint8_t d[BIG];

	(void)state;
	mk_dgram(d, NOPORT, 1000, 62);
	feed(d, &three, order, 0x7003, T0);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].drops[CW_DROP_NO_HANDLER], 1);
	assert_int_equal(total_drops(), 1);
	/* The same unfragmented. */
	input(mk_whole(d, 1008), T0);
	dispatch(T0);
	assert_int_equal(ctr[0].drops[CW_DROP_NO_HANDLER], 2);
}

/* A UDP length field larger than the reassembled IPv4 payload. */
static void test_reassembled_udp_too_long(void **state)
{
	static const unsigned order[] = {0, 1};
	static const struct split two = {2, {0, 24, 48}};
	uint8_t d[BIG];

	(void)state;
	mk_dgram(d, HPORT, 40, 63);
	put16(d + 4, 49);
	put16(d + 6, 0);
	feed(d, &two, order, 0x7004, T0);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].drops[CW_DROP_BAD_UDP], 1);
}

/*
 * A UDP length shorter than the IP payload: only the UDP length is the
 * datagram, reassembled or not. UDP length 16, 48 bytes of IP payload in
 * two 24-byte fragments, checksum 0 -> 8 bytes delivered.
 */
static void test_reassembled_udp_short(void **state)
{
	static const unsigned order[] = {1, 0};
	static const struct split two = {2, {0, 24, 48}};
	uint8_t d[BIG];

	(void)state;
	mk_dgram(d, HPORT, 40, 64);
	put16(d + 4, 16);
	put16(d + 6, 0);
	input(mk_whole(d, 48), T0);
	dispatch(T0);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].len, 8);
	assert_memory_equal(got[0].data, d + 8, 8);
	n_got = 0;
	feed(d, &two, order, 0x7005, T0);
	assert_int_equal(n_got, 1);
	assert_int_equal(got[0].len, 8);
	assert_memory_equal(got[0].data, d + 8, 8);
}

/* ---- classification counters ----------------------------------------- */

static void test_classify_counters(void **state)
{
	uint8_t d[BIG], f[BIG];
	size_t dlen = mk_dgram(d, HPORT, 100, 70), len;
	struct rte_mbuf *m, *m2;

	(void)state;
	/* Bad IPv4 header checksum. */
	len = mk_hdr(f, 1, 0, dlen);
	memcpy(f + len, d, dlen);
	f[14 + 10] ^= 0xff;
	input(mbuf_of(f, len + dlen), T0);
	assert_int_equal(ctr[0].drops[CW_DROP_BAD_CSUM], 1);
	/* Not our MAC. */
	f[14 + 10] ^= 0xff;
	f[0] = 0x06;
	input(mbuf_of(f, len + dlen), T0);
	assert_int_equal(ctr[0].drops[CW_DROP_NOT_FOR_US], 1);
	/* TTL 0, with a valid checksum. */
	f[0] = our_mac[0];
	f[14 + 8] = 0;
	put16(f + 14 + 10, 0);
	put16(f + 14 + 10, (uint16_t)~ref_sum(f + 14, 20, 0));
	input(mbuf_of(f, len + dlen), T0);
	assert_int_equal(ctr[0].drops[CW_DROP_TTL], 1);
	/* A fragment with a bad header checksum never reaches reassembly. */
	m = mk_frag(d, 0, 64, true, 2);
	rte_pktmbuf_mtod(m, uint8_t *)[14 + 10] ^= 0xff;
	input(m, T0);
	assert_int_equal(ctr[0].drops[CW_DROP_BAD_CSUM], 2);
	/* A runt. */
	input(mbuf_of(f, 10), T0);
	assert_int_equal(ctr[0].drops[CW_DROP_BAD_ETH], 1);
	/* A frame in two segments (the PMDs here never scatter). */
	m = mk_whole(d, dlen);
	m2 = rte_pktmbuf_alloc(pool);
	assert_non_null(m2);
	assert_non_null(rte_pktmbuf_append(m2, 4));
	assert_int_equal(rte_pktmbuf_chain(m, m2), 0);
	input(m, T0);
	assert_int_equal(ctr[0].drops[CW_DROP_TOO_BIG], 1);
	dispatch(T0);
	assert_int_equal(n_got, 0);
	assert_int_equal(ctr[0].rx_pkts, 6);
	assert_int_equal(total_drops(), 6);
	assert_int_equal(rte_mempool_avail_count(pool), POOL_N);
	/* And the frame with everything right is delivered. */
	input(mk_whole(d, dlen), T0);
	dispatch(T0);
	assert_delivered(d, dlen, HPORT);
}

/* ---- the burst path and in-place echo ------------------------------- */

/* Take the only frame queued for TX on port 0 into @f; returns its length. */
static size_t take_tx(uint8_t *f)
{
	struct rte_mbuf *m;
	size_t len;

	assert_int_equal(w->txq[0].n, 1);
	m = w->txq[0].m[0];
	w->txq[0].n = 0;
	assert_int_equal(m->nb_segs, 1);
	len = rte_pktmbuf_data_len(m);
	assert_int_equal(rte_pktmbuf_pkt_len(m), len);
	memcpy(f, rte_pktmbuf_mtod(m, const uint8_t *), len);
	rte_pktmbuf_free(m);
	return len;
}

/* @f, @len as a frame in a fresh mbuf, through the burst path. */
static void input_burst(const uint8_t *f, size_t len, uint64_t now)
{
	struct rte_mbuf *m = mbuf_of(f, len);

	cw_worker_input_burst(w, 0, &m, 1, now);
}

/*
 * The reply from UDP port @from to untagged request @req with @n payload
 * bytes, checked field by field; tagged with @vlan unless it is -1. With a
 * UDP checksum that verifies, unless @csum_none.
 */
static void assert_reply(const uint8_t *f, size_t len, size_t n, const uint8_t *req, int vlan,
			 uint16_t from, bool csum_none)
{
	size_t l2 = vlan < 0 ? 14 : 18;
	const uint8_t *ip = f + l2, *udp = ip + 20;
	uint32_t pseudo = (PEER_IP >> 16) + (PEER_IP & 0xffff) + (OUR_IP >> 16) +
			  (OUR_IP & 0xffff) + CW_IPPROTO_UDP + 8 + (uint32_t)n;

	assert_int_equal(len, l2 + 28 + n);
	assert_memory_equal(f, peer_mac, 6);
	assert_memory_equal(f + 6, our_mac, 6);
	if (vlan >= 0) {
		assert_int_equal(get16(f + 12), CW_ETHERTYPE_VLAN);
		assert_int_equal(get16(f + 14), vlan);
	}
	assert_int_equal(get16(f + l2 - 2), CW_ETHERTYPE_IP);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get16(ip + 2), 28 + n);
	assert_int_equal(get16(ip + 6), 0); /* DF of the request not copied */
	assert_int_equal(ip[8], 64);
	assert_int_equal(ref_sum(ip, 20, 0), 0xffff);
	assert_int_equal(get16(ip + 12), OUR_IP >> 16);
	assert_int_equal(get16(ip + 14), OUR_IP & 0xffff);
	assert_int_equal(get16(ip + 16), PEER_IP >> 16);
	assert_int_equal(get16(ip + 18), PEER_IP & 0xffff);
	assert_int_equal(get16(udp), from);
	assert_int_equal(get16(udp + 2), SPORT);
	if (csum_none) {
		assert_int_equal(get16(udp + 6), 0);
	} else {
		assert_int_not_equal(get16(udp + 6), 0);
		assert_int_equal(ref_sum(udp, 8 + n, pseudo), 0xffff);
	}
	assert_memory_equal(udp + 8, req + 42, n);
}

/*
 * A datagram to the reflecting echo handler, answered in its own frame by
 * the burst path, gets byte for byte the reply that the handler's batch
 * gets through cw_output_dgrams: with and without a UDP checksum, with
 * Ethernet padding, DF, a TOS and a TTL that the reply must not copy, and
 * from a port that tags what it sends.
 */
static void test_echo_reflect(void **state)
{
	static const int vlans[2] = {-1, 5};
	uint8_t req[256], batch[256], reflect[256];
	size_t n = 18, len, blen, rlen;
	uint64_t k = 0;

	(void)state;
	assert_int_equal(cw_neigh_update(dp.ports[0].neigh, htonl(PEER_IP), peer_mac, T0), 0);
	for (int i = 0; i < 4; i++) {
		int csum = i & 1, vlan = vlans[i >> 1];

		/* The port's Ethernet header lives in the next-hop cache. */
		dp.ports[0].vlan_tci = vlan;
		w->nh_cache.until = 0;
		len = mk_hdr(req, 1, 0x4000, 8 + n);
		mk_dgram(req + len, EPORT, n, 5);
		if (!csum)
			put16(req + len + 6, 0);
		req[14 + 1] = 0x10; /* TOS */
		req[14 + 8] = 3;    /* TTL */
		put16(req + 14 + 10, 0);
		put16(req + 14 + 10, (uint16_t)~ref_sum(req + 14, 20, 0));
		len += 8 + n;
		memset(req + len, 0xee, 6); /* Ethernet padding */
		len += 6;

		/* The general path resolves the next hop and fills the cache. */
		w->ip_id = 0x1234;
		input(mbuf_of(req, len), T0);
		dispatch(T0);
		blen = take_tx(batch);
		/* A request without a checksum is echoed without one. */
		assert_reply(batch, blen, n, req, vlan, EPORT, !csum);

		w->ip_id = 0x1234;
		input_burst(req, len, T0);
		assert_int_equal(w->n_in[1], 0); /* not batched: answered */
		rlen = take_tx(reflect);
		assert_int_equal(rlen, blen);
		assert_memory_equal(reflect, batch, blen);
		k += 2;
		assert_int_equal(ctr[0].udp_in, k);
		assert_int_equal(ctr[0].udp_out, k);
	}
	assert_int_equal(total_drops(), 0);
	assert_int_equal(ctr[0].rx_pkts, k);
}

/* Without a fresh next hop, or for a handler that does not reflect, the
 * burst path batches: the same datagram as cw_worker_input delivers. */
static void test_burst_batches(void **state)
{
	uint8_t d[BIG], f[BIG], r[BIG];
	size_t dlen = mk_dgram(d, HPORT, 100, 1), len = mk_hdr(f, 1, 0, dlen), rlen;

	(void)state;
	memcpy(f + len, d, dlen);
	len += dlen;
	input_burst(f, len, T0);
	assert_int_equal(n_got, 0); /* batched until dispatch */
	dispatch(T0);
	assert_delivered(d, dlen, HPORT);
	assert_int_equal(ctr[0].rx_pkts, 1);
	assert_int_equal(ctr[0].rx_bytes, len);

	/* Echo with an empty next-hop cache: batched, then resolved. */
	dlen = mk_dgram(d, EPORT, 100, 1);
	memcpy(f + 34, d, dlen);
	assert_int_equal(cw_neigh_update(dp.ports[0].neigh, htonl(PEER_IP), peer_mac, T0), 0);
	input_burst(f, len, T0);
	assert_int_equal(w->n_in[1], 1);
	assert_int_equal(w->txq[0].n, 0);
	dispatch(T0);
	rlen = take_tx(r);
	assert_reply(r, rlen, 100, f, -1, EPORT, false);
	assert_int_equal(ctr[0].udp_out, 1);
	/* The capturing handler replies to nothing. */
	assert_int_equal(total_drops(), 1);
	assert_int_equal(ctr[0].drops[CW_DROP_HANDLER], 1);
}

/* Once a burst has batched a datagram for the echo (here one sent to the
 * broadcast MAC, which only the full parser takes), the burst's later ones
 * for it are batched too, though they could be answered in place: the
 * replies leave in the order the requests came. */
static void test_burst_keeps_order(void **state)
{
	uint8_t f[2][256], r[256];
	struct rte_mbuf *m[2];
	size_t len = 0;

	(void)state;
	assert_int_equal(cw_neigh_update(dp.ports[0].neigh, htonl(PEER_IP), peer_mac, T0), 0);
	for (int i = 0; i < 2; i++) {
		len = mk_hdr(f[i], 1, 0, 8 + 20);
		mk_dgram(f[i] + len, EPORT, 20, (uint8_t)(10 * i));
		len += 8 + 20;
	}
	/* The cache filled, the same request is answered in place. */
	input(mbuf_of(f[1], len), T0);
	dispatch(T0);
	take_tx(r);
	input_burst(f[1], len, T0);
	assert_int_equal(w->n_in[1], 0);
	take_tx(r);

	memset(f[0], 0xff, 6);
	m[0] = mbuf_of(f[0], len);
	m[1] = mbuf_of(f[1], len);
	cw_worker_input_burst(w, 0, m, 2, T0);
	assert_int_equal(w->n_in[1], 2);
	assert_int_equal(w->txq[0].n, 0);
	dispatch(T0);
	assert_int_equal(w->txq[0].n, 2);
	for (int i = 0; i < 2; i++) {
		assert_memory_equal(rte_pktmbuf_mtod_offset(w->txq[0].m[i], uint8_t *, 42),
				    f[i] + 42, 20);
		rte_pktmbuf_free(w->txq[0].m[i]);
	}
	w->txq[0].n = 0;
	assert_int_equal(ctr[0].udp_out, 4);
	assert_int_equal(total_drops(), 0);
}

/*
 * A handler that does not reflect and leaves the checksum to the dataplane
 * gets one computed for a request that had none: through the general
 * transmit path (next hop not cached yet) and the fast one (cached).
 */
static void test_output_computes_csum(void **state)
{
	uint8_t req[256], r[256];
	size_t n = 30, len, rlen;

	(void)state;
	assert_int_equal(cw_neigh_update(dp.ports[0].neigh, htonl(PEER_IP), peer_mac, T0), 0);
	len = mk_hdr(req, 1, 0, 8 + n);
	mk_dgram(req + len, BPORT, n, 9);
	put16(req + len + 6, 0);
	len += 8 + n;
	for (int i = 0; i < 2; i++) {
		input_burst(req, len, T0);
		assert_int_equal(w->n_in[2], 1);
		dispatch(T0);
		rlen = take_tx(r);
		assert_reply(r, rlen, n, req, -1, BPORT, false);
		assert_int_equal(ctr[0].udp_out, i + 1);
	}
	assert_int_equal(total_drops(), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_unfragmented),
	    T(test_csum_flags_trusted_per_port),
	    T(test_in_order),
	    T(test_reverse_order),
	    T(test_shuffled),
	    T(test_interleaved),
	    T(test_padded_last_fragment),
	    T(test_max_fragments),
	    T(test_too_many_fragments),
	    T(test_duplicate_fragment),
	    T(test_duplicate_after_completion),
	    T(test_overlap),
	    T(test_timeout_boundary),
	    T(test_timeout_late_fragment),
	    T(test_timeout_sweep),
	    T(test_timeout_counted),
	    T(test_reassembled_bad_csum),
	    T(test_reassembled_zero_csum),
	    T(test_reassembled_no_handler),
	    T(test_reassembled_udp_too_long),
	    T(test_reassembled_udp_short),
	    T(test_classify_counters),
	    T(test_echo_reflect),
	    T(test_burst_batches),
	    T(test_burst_keeps_order),
	    T(test_output_computes_csum),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
