/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen: a one-lcore DPDK UDP load generator for causewayd's echo handler
 * (and for dpdk-testpmd in io-forwarding mode, the ceiling of the setup).
 *
 *   loadgen EAL-ARGS -- --dut-ip A --src-ip A [--port N] [--size N]
 *                       [--seconds D] [--warmup S] [--flows N]
 *                       [--sport N] [--burst N] [--dut-mac MAC]
 *                       [--count-all] [--copy] [--udp-csum]
 *
 * On port 0 (a memif client or virtio_user vdev from the EAL arguments) it
 * resolves the DUT's MAC by ARP unless --dut-mac is given, answering ARP
 * requests for --src-ip all along. Then it transmits UDP/IPv4 frames of
 * --size bytes (counting the 4-byte FCS, as RFC 2544 frame sizes do: the
 * mbuf holds size - 4 bytes, the UDP payload is size - 46) to DUT_IP:PORT
 * as fast as the port takes them, the UDP source port cycling over --flows
 * values from --sport, and counts the echoes: UDP from DUT_IP:PORT to us,
 * or, with --count-all (testpmd io mode returns the frames unchanged), any
 * UDP/IPv4 frame. After --warmup seconds it measures for --seconds and
 * prints one line on stdout:
 *
 *   loadgen: size=64 tx_pps=... rx_pps=... tx=... rx=...
 *
 * Frames are prebuilt, one mbuf per flow, and sent by reference (refcnt
 * + 1 per transmission) so that no byte is copied per packet; --copy
 * allocates and copies each frame instead (rte_pktmbuf_alloc_bulk +
 * rte_memcpy), for PMDs that write into transmitted buffers. The UDP
 * checksum is 0 (none) unless --udp-csum asks for a real one.
 *
 * Exit status: 0 measured, 1 runtime failure (no link, no ARP answer),
 * 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_udp.h>

#include "common.h"
#include "lg_port.h"

#define CW_LG_POOL_SIZE	 8191
#define CW_LG_POOL_CACHE 256
#define CW_LG_RING	 1024
#define CW_LG_MAX_BURST	 256
#define CW_LG_MAX_FLOWS	 4096
#define CW_LG_FCS	 4
#define CW_LG_HDRS	 (RTE_ETHER_HDR_LEN + 20 + 8) /* Ethernet + IPv4 + UDP */
#define CW_LG_MIN_SIZE	 64
#define CW_LG_MAX_SIZE	 1518
#define CW_LG_DRAIN_MS	 200 /* keep receiving after the last transmission */
#define CW_LG_REF_MAX	 (UINT16_MAX - 2 * CW_LG_RING)

struct cw_lg_opts {
	uint32_t dut_ip, src_ip; /* network order */
	uint16_t port;		 /* host order */
	uint16_t sport;		 /* first source port, host order */
	unsigned size, flows, burst;
	double seconds, warmup;
	bool have_dut_mac, count_all, copy, udp_csum;
	struct rte_ether_addr dut_mac;
};

struct cw_lg {
	struct cw_lg_opts o;
	struct cw_lgp p; /* port 0, our MAC and the DUT's */
	struct rte_mbuf *tmpl[CW_LG_MAX_FLOWS];
	unsigned next_flow;
	uint64_t tx, rx, rx_other, tx_full;
};

static volatile bool cw_lg_quit;

static void cw_lg_on_signal(int sig)
{
	(void)sig;
	cw_lg_quit = true;
}

static void cw_lg_usage(FILE *out)
{
	fprintf(out,
		"usage: loadgen EAL-ARGS -- --dut-ip A --src-ip A [--port N] [--size N]\n"
		"         [--seconds D] [--warmup S] [--flows N] [--sport N] [--burst N]\n"
		"         [--dut-mac MAC] [--count-all] [--copy] [--udp-csum]\n"
		"  --size     frame size incl. the 4-byte FCS, %u..%u (default 64)\n"
		"  --port     the DUT's UDP port (default 7)\n"
		"  --seconds  measurement time (default 5); --warmup before it (default 1)\n"
		"  --flows    UDP source ports used, from --sport (default 64 from 10000)\n"
		"  --burst    frames per rte_eth_tx_burst (default 32, max %u)\n"
		"  --dut-mac  skip ARP and send to MAC (any MAC for testpmd io mode)\n"
		"  --count-all  count every UDP frame received (testpmd io mode)\n"
		"  --copy     allocate and copy each frame instead of sending by reference\n"
		"  --udp-csum fill in the UDP checksum (default 0: none)\n",
		CW_LG_MIN_SIZE, CW_LG_MAX_SIZE, CW_LG_MAX_BURST);
}

static int cw_lg_parse(int argc, char **argv, struct cw_lg_opts *o)
{
	static const struct option opts[] = {{"dut-ip", required_argument, NULL, 'd'},
					     {"src-ip", required_argument, NULL, 's'},
					     {"port", required_argument, NULL, 'p'},
					     {"size", required_argument, NULL, 'z'},
					     {"seconds", required_argument, NULL, 't'},
					     {"warmup", required_argument, NULL, 'w'},
					     {"flows", required_argument, NULL, 'f'},
					     {"sport", required_argument, NULL, 'S'},
					     {"burst", required_argument, NULL, 'b'},
					     {"dut-mac", required_argument, NULL, 'm'},
					     {"count-all", no_argument, NULL, 'a'},
					     {"copy", no_argument, NULL, 'c'},
					     {"udp-csum", no_argument, NULL, 'u'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct in_addr a;
	unsigned long v;
	int c, rc = 0;

	*o = (struct cw_lg_opts){.port = 7,
				 .sport = 10000,
				 .size = 64,
				 .flows = 64,
				 .burst = 32,
				 .seconds = 5,
				 .warmup = 1};
	optind = 1;
	while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
		case 's':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				rc = -EINVAL;
			else if (c == 'd')
				o->dut_ip = a.s_addr;
			else
				o->src_ip = a.s_addr;
			break;
		case 'p':
			rc = cw_cli_num(optarg, 1, 65535, &v);
			o->port = (uint16_t)v;
			break;
		case 'z':
			rc = cw_cli_num(optarg, CW_LG_MIN_SIZE, CW_LG_MAX_SIZE, &v);
			o->size = (unsigned)v;
			break;
		case 't':
			rc = cw_cli_secs(optarg, 0.1, &o->seconds);
			break;
		case 'w':
			rc = cw_cli_secs(optarg, 0, &o->warmup);
			break;
		case 'f':
			rc = cw_cli_num(optarg, 1, CW_LG_MAX_FLOWS, &v);
			o->flows = (unsigned)v;
			break;
		case 'S':
			rc = cw_cli_num(optarg, 1, 65535, &v);
			o->sport = (uint16_t)v;
			break;
		case 'b':
			rc = cw_cli_num(optarg, 1, CW_LG_MAX_BURST, &v);
			o->burst = (unsigned)v;
			break;
		case 'm':
			rc = rte_ether_unformat_addr(optarg, &o->dut_mac) < 0 ? -EINVAL : 0;
			o->have_dut_mac = true;
			break;
		case 'a':
			o->count_all = true;
			break;
		case 'c':
			o->copy = true;
			break;
		case 'u':
			o->udp_csum = true;
			break;
		case 'h':
			cw_lg_usage(stdout);
			exit(0);
		default:
			rc = -EINVAL;
		}
	}
	if (rc) {
		fprintf(stderr, "loadgen: bad value for %s\n", argv[optind - 1]);
		return rc;
	}
	if (optind != argc || !o->dut_ip || !o->src_ip) {
		cw_lg_usage(stderr);
		return -EINVAL;
	}
	if ((unsigned long)o->sport + o->flows - 1 > 65535) {
		fprintf(stderr, "loadgen: --sport + --flows exceeds port 65535\n");
		return -EINVAL;
	}
	return 0;
}

/* Is @m an echo we count? Anything else but ARP is counted as other. */
static inline bool cw_lg_is_echo(const struct cw_lg *g, struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	const struct rte_udp_hdr *udp;

	if (rte_pktmbuf_data_len(m) < CW_LG_HDRS ||
	    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    ip->next_proto_id != IPPROTO_UDP || (ip->version_ihl & 0xf) != 5)
		return false;
	if (g->o.count_all)
		return true;
	udp = (const struct rte_udp_hdr *)(ip + 1);
	return ip->src_addr == g->o.dut_ip && ip->dst_addr == g->o.src_ip &&
	       udp->src_port == rte_cpu_to_be_16(g->o.port);
}

static unsigned cw_lg_poll(struct cw_lg *g)
{
	struct rte_mbuf *pkts[CW_LG_MAX_BURST];
	uint16_t n = rte_eth_rx_burst(g->p.port_id, 0, pkts, CW_LG_MAX_BURST);

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (likely(cw_lg_is_echo(g, m)))
			g->rx++;
		else if (cw_lgp_is_arp(m))
			cw_lgp_arp_input(&g->p, m);
		else
			g->rx_other++;
	}
	if (n)
		rte_pktmbuf_free_bulk(pkts, n);
	return n;
}

/* Until the DUT's MAC is known: ARP only. */
static void cw_lg_resolve_rx(void *ctx, struct rte_mbuf *m)
{
	struct cw_lg *g = ctx;

	if (cw_lgp_is_arp(m))
		cw_lgp_arp_input(&g->p, m);
	rte_pktmbuf_free(m);
}

static void cw_lg_frame_build(const struct cw_lg *g, uint8_t *f, uint16_t sport)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint16_t len = (uint16_t)(g->o.size - CW_LG_FCS);
	uint8_t *payload = (uint8_t *)(udp + 1);

	rte_ether_addr_copy(&g->p.dut_mac, &eth->dst_addr);
	rte_ether_addr_copy(&g->p.mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	*ip = (struct rte_ipv4_hdr){
	    .version_ihl = RTE_IPV4_VHL_DEF,
	    .total_length = rte_cpu_to_be_16((uint16_t)(len - RTE_ETHER_HDR_LEN)),
	    .time_to_live = 64,
	    .next_proto_id = IPPROTO_UDP,
	    .src_addr = g->o.src_ip,
	    .dst_addr = g->o.dut_ip,
	};
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(g->o.port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(len - RTE_ETHER_HDR_LEN - sizeof(*ip)));
	udp->dgram_cksum = 0;
	for (unsigned i = 0; i < (unsigned)(len - CW_LG_HDRS); i++)
		payload[i] = (uint8_t)i;
	if (g->o.udp_csum)
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

static int cw_lg_templates(struct cw_lg *g)
{
	uint16_t len = (uint16_t)(g->o.size - CW_LG_FCS);

	for (unsigned i = 0; i < g->o.flows; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(g->p.pool);
		uint8_t *f;

		if (!m)
			return -ENOMEM;
		f = (uint8_t *)rte_pktmbuf_append(m, len);
		if (!f) {
			rte_pktmbuf_free(m);
			return -ENOSPC;
		}
		cw_lg_frame_build(g, f, (uint16_t)(g->o.sport + i));
		g->tmpl[i] = m;
	}
	return 0;
}

/* One TX burst: the next flows' templates, by reference or by copy. */
static void cw_lg_tx(struct cw_lg *g)
{
	struct rte_mbuf *pkts[CW_LG_MAX_BURST];
	unsigned n = g->o.burst, f = g->next_flow;
	uint16_t sent;

	if (g->o.copy) {
		uint32_t len = rte_pktmbuf_data_len(g->tmpl[0]);

		if (rte_pktmbuf_alloc_bulk(g->p.pool, pkts, n) < 0)
			return;
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *t = g->tmpl[f];

			rte_memcpy(rte_pktmbuf_mtod(pkts[i], void *), rte_pktmbuf_mtod(t, void *),
				   len);
			pkts[i]->data_len = (uint16_t)len;
			pkts[i]->pkt_len = len;
			f = f + 1 == g->o.flows ? 0 : f + 1;
		}
	} else {
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *t = g->tmpl[f];

			/* Far below the limit: at most the rings' worth is in flight. */
			if (unlikely(rte_mbuf_refcnt_read(t) > CW_LG_REF_MAX)) {
				n = i;
				break;
			}
			rte_mbuf_refcnt_update(t, 1);
			pkts[i] = t;
			f = f + 1 == g->o.flows ? 0 : f + 1;
		}
	}
	sent = rte_eth_tx_burst(g->p.port_id, 0, pkts, (uint16_t)n);
	g->next_flow = (g->next_flow + sent) % g->o.flows;
	g->tx += sent;
	if (sent < n) {
		g->tx_full++;
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
}

static void cw_lg_drain(struct cw_lg *g, unsigned ms)
{
	uint64_t end = rte_get_tsc_cycles() + rte_get_tsc_hz() * ms / 1000;

	while (rte_get_tsc_cycles() < end)
		cw_lg_poll(g);
}

static int cw_lg_run(struct cw_lg *g)
{
	uint64_t hz = rte_get_tsc_hz(), start = rte_get_tsc_cycles();
	uint64_t t0 = start + (uint64_t)(g->o.warmup * (double)hz);
	uint64_t t1 = UINT64_MAX, now = start;
	uint64_t tx0 = 0, rx0 = 0, tx1, rx1, other0 = 0, wait0 = 0, wait1;
	bool measuring = false;
	double secs;

	while (!cw_lg_quit) {
		cw_lg_poll(g);
		cw_lg_tx(g);
		now = rte_get_tsc_cycles();
		if (!measuring && now >= t0) {
			measuring = true;
			t0 = now;
			t1 = now + (uint64_t)(g->o.seconds * (double)hz);
			tx0 = g->tx;
			rx0 = g->rx;
			other0 = g->rx_other;
			wait0 = cw_sched_wait();
		} else if (measuring && now >= t1) {
			break;
		}
	}
	tx1 = g->tx;
	rx1 = g->rx;
	wait1 = cw_sched_wait();
	cw_lg_drain(g, CW_LG_DRAIN_MS);
	if (!measuring || cw_lg_quit) {
		fprintf(stderr, "loadgen: interrupted\n");
		return -EINTR;
	}
	secs = (double)(now - t0) / (double)hz;
	printf("loadgen: size=%u tx_pps=%.0f rx_pps=%.0f tx=%" PRIu64 " rx=%" PRIu64 "\n",
	       g->o.size, (double)(tx1 - tx0) / secs, (double)(rx1 - rx0) / secs, tx1 - tx0,
	       rx1 - rx0);
	fflush(stdout);
	fprintf(stderr,
		"loadgen: %.3f s measured, sched_wait=%.2f%%; other frames received %" PRIu64
		", TX bursts cut short %" PRIu64 "\n",
		secs, (double)(wait1 - wait0) / (secs * 1e7), g->rx_other - other0, g->tx_full);
	return 0;
}

int main(int argc, char **argv)
{
	static struct cw_lg g;
	int n, rc;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "loadgen: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (cw_lg_parse(argc - n, argv + n, &g.o) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, cw_lg_on_signal);
	signal(SIGTERM, cw_lg_on_signal);
	g.p.pool = rte_pktmbuf_pool_create("cw_lg", CW_LG_POOL_SIZE, CW_LG_POOL_CACHE, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!g.p.pool) {
		fprintf(stderr, "loadgen: mbuf pool: %s\n", rte_strerror(rte_errno));
		rte_eal_cleanup();
		return 1;
	}
	g.p.src_ip = g.o.src_ip;
	g.p.dut_ip = g.o.dut_ip;
	g.p.dut_mac = g.o.dut_mac;
	g.p.fixed_mac = g.o.have_dut_mac;
	rc = cw_lgp_start(&g.p, CW_LG_RING, &cw_lg_quit);
	rc = rc ? rc : cw_lgp_resolve(&g.p, cw_lg_resolve_rx, &g, &cw_lg_quit);
	rc = rc ? rc : cw_lg_templates(&g);
	rc = rc ? rc : cw_lg_run(&g);
	for (unsigned i = 0; i < g.o.flows; i++)
		rte_pktmbuf_free(g.tmpl[i]);
	rte_eth_dev_stop(g.p.port_id);
	rte_eth_dev_close(g.p.port_id);
	rte_mempool_free(g.p.pool);
	rte_eal_cleanup();
	return rc ? 1 : 0;
}
