/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-loadgen: N edge agents on one DPDK lcore, speaking the real
 * tunnel protocol (the agent's session core, tunnel/agent/session.h: real
 * handshakes, keys, streams, messages) to causewayd over a DPDK port
 * (virtio_user against the DUT's vhost-user port, or memif).
 *
 *   causeway-loadgen EAL-ARGS -- --dut-ip A --src-ip A --ca FILE --ca-key FILE
 *       [--server-name NAME] [--port 10262] [--sessions N] [--connecting K]
 *       [--mode handshakes|idle|requests] [--seconds D] [--inflight K]
 *       [--rate R] [--request 'METHOD PATH'] [--body FILE [--dict FILE]]
 *       [--sport N] [--flows N] [--dut-mac MAC]
 *
 * Node certificates (CN=node:lg-I) are minted in memory with the CA key
 * and loaded before the clock starts. Then sessions are opened, at most
 * --connecting handshakes at a time, each from UDP source port sport +
 * I % flows; what arrives is matched to its session by destination CID.
 *
 *   handshakes  bring all N up: full handshakes per second
 *   idle        bring all N up, then hold them --seconds (heartbeats only)
 *   requests    bring all N up, then keep --inflight API requests open per
 *               session (closed loop) for --seconds: requests per second
 *               and latency percentiles (open to FIN of the answer); with
 *               --rate R, start R requests a second in all instead (open
 *               loop, each on the next of 16 sessions in turn with a free
 *               slot of its --inflight), latency counted from when each
 *               was due, and those none could take counted late;
 *               --body sends FILE with every request, compressed once
 *               with --dict (offered in Hello) as an agent would, for the
 *               gateway to decode
 *
 * A progress line every second while sessions come up, a testpmd-style
 * stats line every second after, and one JSON line at the end on stdout
 * (fields in summary(); sched_wait_pct: the share of the hold the
 * generator sat runnable without a CPU, which shows as latency). Exit
 * status 0, 1 when a session failed or nothing was measured, 2 for bad
 * arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "../tests/tools/cidmap.h"
#include "../tests/tools/mint.h"
#include "common.h"
#include "lg_port.h"
#include "tunnel/agent/session.h"
#include "tunnel/compress.h"
#include "tunnel/msg_body.h"
#include "tunnel/tls.h"

#define LGT_RING	 1024
#define LGT_POOL	 16383
#define LGT_BURST	 32
#define LGT_HDRS	 (RTE_ETHER_HDR_LEN + 20 + 8)
#define LGT_MAX_SESSIONS 200000
#define LGT_MAX_INFLIGHT 16
#define LGT_SCAN	 64	    /* sessions whose timers are checked per loop turn */
#define LGT_OPEN_TRIES	 16	    /* open loop: sessions tried for a free slot */
#define LGT_FILE_MAX	 (1u << 20) /* bytes read of --body and --dict */
#define LGT_UP_TIMEOUT	 (300 * SEC)
#define LGT_CLOSE_WAIT	 (5 * SEC)
#define LGT_HIST	 (64 * 8) /* log2 buckets of latency, 8 steps each */
#define SEC		 UINT64_C(1000000000)

enum lgt_mode { M_HANDSHAKES, M_IDLE, M_REQUESTS };

struct lreq {
	uint64_t id, t0;
	bool open, first;
};

struct lsess {
	struct cw_as *as;
	struct cw_tls_client_ctx *tls;
	uint8_t cid[CW_CID_LEN];
	uint16_t sport; /* network order */
	bool up, queued;
	struct lreq r[LGT_MAX_INFLIGHT];
};

struct lgt_opts {
	uint32_t dut_ip, src_ip;
	uint16_t port, sport;
	unsigned sessions, connecting, inflight, flows;
	double seconds;
	double rate; /* requests/s in all, open loop; 0: closed loop */
	enum lgt_mode mode;
	const char *ca, *ca_key, *server_name;
	const char *body, *dict; /* files: a request body, the dictionary */
	char verb[16], path[256];
	bool have_dut_mac;
	struct rte_ether_addr dut_mac;
};

static struct {
	struct lgt_opts o;
	struct cw_lgp p;
	struct cw_agent_config conf;
	struct lsess *s;
	struct cw_cidmap map; /* which session a datagram is for */
	uint32_t *dirty;      /* sessions to pump, a FIFO of indexes */
	size_t dirty_head, dirty_n;
	unsigned opened, up, failed, scan;
	struct rte_mbuf *tx[LGT_BURST];
	unsigned ntx;
	uint64_t hz, tsc0;
	uint64_t tx_pkts, rx_pkts, rx_other, tx_drops;
	uint64_t sent, answered, resets, bad, hist[LGT_HIST];
	uint64_t status_403, status_other, refused, errors_other;
	bool loading;
	uint64_t next_start; /* open loop: when the next request is due */
	unsigned next_sess;
	uint64_t late;		 /* open loop: requests not started, every slot busy */
	uint64_t waited;	 /* ns this thread sat runnable without a CPU while holding */
	uint32_t dict_id;	 /* offered in Hello; 0: none */
	Causeway__V1__Body body; /* every request's, packed once */
	bool have_body;
	uint8_t *body_src, *body_dst; /* what body refers to */
	size_t body_len;
} g;

static volatile bool lgt_quit;

static void on_signal(int sig)
{
	(void)sig;
	lgt_quit = true;
}

static uint64_t now_ns(void)
{
	return (uint64_t)((double)(rte_get_tsc_cycles() - g.tsc0) * 1e9 / (double)g.hz);
}

/* ---- latency histogram: 8 steps per power of two ---- */

static unsigned hist_bucket(uint64_t v)
{
	unsigned lg;

	if (v < 8)
		return (unsigned)v;
	lg = 63u - (unsigned)__builtin_clzll(v);
	return lg * 8 + (unsigned)((v >> (lg - 3)) & 7);
}

static uint64_t hist_upper(unsigned b)
{
	unsigned lg = b / 8;

	if (b < 8)
		return b;
	return ((UINT64_C(8) + b % 8 + 1) << (lg - 3)) - 1;
}

static double hist_pct(double pct)
{
	uint64_t total = 0, want, acc = 0;

	for (unsigned b = 0; b < LGT_HIST; b++)
		total += g.hist[b];
	if (!total)
		return 0;
	want = (uint64_t)((double)total * pct / 100.0);
	for (unsigned b = 0; b < LGT_HIST; b++) {
		acc += g.hist[b];
		if (acc > want)
			return (double)hist_upper(b) / 1000.0;
	}
	return 0;
}

/* ---- sessions to pump ---- */

static void mark(unsigned i)
{
	if (g.s[i].queued)
		return;
	g.s[i].queued = true;
	g.dirty[(g.dirty_head + g.dirty_n++) % g.o.sessions] = i;
}

/* ---- frames ---- */

static void tx_flush(void)
{
	uint16_t n;

	if (!g.ntx)
		return;
	n = rte_eth_tx_burst(g.p.port_id, 0, g.tx, (uint16_t)g.ntx);
	g.tx_pkts += n;
	if (n < g.ntx) {
		g.tx_drops += g.ntx - n;
		rte_pktmbuf_free_bulk(g.tx + n, g.ntx - n);
	}
	g.ntx = 0;
}

/* What session @s has to send, one frame per datagram. */
static void sess_send(struct lsess *s, uint64_t now)
{
	for (;;) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(g.p.pool);
		struct rte_ether_hdr *eth;
		struct rte_ipv4_hdr *ip;
		struct rte_udp_hdr *udp;
		int n;

		if (!m)
			return;
		eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		ip = (struct rte_ipv4_hdr *)(eth + 1);
		udp = (struct rte_udp_hdr *)(ip + 1);
		n = cw_as_send(s->as, now, (uint8_t *)(udp + 1),
			       rte_pktmbuf_tailroom(m) - LGT_HDRS);
		if (n <= 0) {
			rte_pktmbuf_free(m);
			return;
		}
		rte_ether_addr_copy(&g.p.dut_mac, &eth->dst_addr);
		rte_ether_addr_copy(&g.p.mac, &eth->src_addr);
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		*ip = (struct rte_ipv4_hdr){
		    .version_ihl = RTE_IPV4_VHL_DEF,
		    .total_length = rte_cpu_to_be_16((uint16_t)(20 + 8 + n)),
		    .time_to_live = 64,
		    .next_proto_id = IPPROTO_UDP,
		    .src_addr = g.o.src_ip,
		    .dst_addr = g.o.dut_ip,
		};
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		*udp = (struct rte_udp_hdr){.src_port = s->sport,
					    .dst_port = rte_cpu_to_be_16(g.o.port),
					    .dgram_len = rte_cpu_to_be_16((uint16_t)(8 + n))};
		m->data_len = m->pkt_len = (uint32_t)(LGT_HDRS + n);
		g.tx[g.ntx++] = m;
		if (g.ntx == LGT_BURST)
			tx_flush();
	}
}

/* ---- requests ---- */

/* Start a request on @q, due at @t0 (its latency counts from then). */
static void req_start(struct lsess *s, struct lreq *q, uint64_t t0)
{
	Causeway__V1__ApiRequest rq = CAUSEWAY__V1__API_REQUEST__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	rq.verb = g.o.verb;
	rq.path = g.o.path;
	rq.body = g.have_body ? &g.body : NULL;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	if (cw_as_api_open(s->as, &env, &q->id) < 0)
		return;
	q->open = q->first = true;
	q->t0 = t0;
	g.sent++;
}

static void req_read(struct lsess *s, struct lreq *q, uint64_t now)
{
	cw_envelope *env;
	uint64_t code;
	int r;

	while ((r = cw_as_api_read(s->as, q->id, &env, &code)) == 0) {
		if (q->first && env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE)
			*(env->api_response->status == 403 ? &g.status_403 : &g.status_other) += 1;
		else if (q->first && env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_ERROR)
			*(env->error->code == 7 ? &g.refused : &g.errors_other) += 1;
		q->first = false;
		cw_as_api_msg_free(s->as, q->id, env);
	}
	if (r == -EAGAIN)
		return;
	q->open = false;
	if (r == -EPIPE) {
		g.answered++;
		g.hist[hist_bucket(now - q->t0)]++;
	} else if (r == -ECONNRESET) {
		g.resets++;
	} else {
		g.bad++;
	}
}

static struct lreq *req_of(struct lsess *s, uint64_t id)
{
	for (unsigned k = 0; k < g.o.inflight; k++)
		if (s->r[k].open && s->r[k].id == id)
			return &s->r[k];
	return NULL;
}

/* ---- one session ---- */

static void sess_pump(unsigned i, uint64_t now)
{
	struct lsess *s = &g.s[i];
	struct cw_as_event ev;

	if (!s->as)
		return;
	if (cw_as_next_timeout(s->as) <= now)
		cw_as_on_timeout(s->as, now);
	while (cw_as_next_event(s->as, &ev) == 0)
		if (ev.type == CW_AS_EV_API && req_of(s, ev.stream))
			req_read(s, req_of(s, ev.stream), now);
	if (!s->up && cw_as_state(s->as) == CW_AS_ESTABLISHED) {
		s->up = true;
		g.up++;
	}
	if (!s->up && cw_as_state(s->as) == CW_AS_ENDED) {
		g.failed++;
		cw_as_free(s->as);
		s->as = NULL;
		return;
	}
	if (s->up && g.loading && !g.o.rate)
		for (unsigned k = 0; k < g.o.inflight; k++)
			if (!s->r[k].open)
				req_start(s, &s->r[k], now);
	sess_send(s, now);
}

static int sess_open(unsigned i, uint64_t now)
{
	struct lsess *s = &g.s[i];
	struct cw_as_cfg ac = {.conf = &g.conf, .agent_version = "causeway-loadgen"};
	char name[32];

	snprintf(name, sizeof(name), "lg-%u", i);
	ac.node_name = name;
	ac.dict_ids = g.dict_id ? &g.dict_id : NULL;
	ac.n_dict_ids = g.dict_id ? 1 : 0;
	ac.hs.tls = s->tls;
	ac.hs.wall_time = (int64_t)time(NULL);
	ac.wall_ms = (uint64_t)time(NULL) * 1000;
	memcpy(ac.hs.cid, s->cid, sizeof(s->cid));
	g.opened++;
	if (RAND_bytes(ac.hs.odcid, sizeof(ac.hs.odcid)) != 1 ||
	    RAND_bytes((unsigned char *)&ac.seed, sizeof(ac.seed)) != 1)
		return -EIO;
	return cw_as_new(&ac, now, &s->as);
}

/* ---- the loop ---- */

static void rx(uint64_t now)
{
	struct rte_mbuf *ms[LGT_BURST];
	uint16_t n = rte_eth_rx_burst(g.p.port_id, 0, ms, LGT_BURST);

	for (uint16_t k = 0; k < n; k++) {
		struct rte_mbuf *m = ms[k];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(ip + 1);
		uint8_t *d = (uint8_t *)(udp + 1);
		int64_t i;

		if (cw_lgp_is_arp(m)) {
			cw_lgp_arp_input(&g.p, m);
		} else if (m->nb_segs == 1 &&
			   rte_pktmbuf_data_len(m) >= LGT_HDRS + 1 + CW_CID_LEN &&
			   eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
			   ip->next_proto_id == IPPROTO_UDP && ip->src_addr == g.o.dut_ip &&
			   udp->src_port == rte_cpu_to_be_16(g.o.port)) {
			size_t len = rte_pktmbuf_data_len(m) - LGT_HDRS;
			const uint8_t *cid = cw_cidmap_dcid(d, len);

			g.rx_pkts++;
			if (cid && (i = cw_cidmap_get(&g.map, cid)) >= 0 && g.s[i].as) {
				(void)cw_as_recv(g.s[i].as, now, d, len);
				mark((unsigned)i);
			}
		} else {
			g.rx_other++;
		}
		rte_pktmbuf_free(m);
	}
}

/*
 * Open loop: every request due by @now goes to the next session in turn
 * with a free slot, timed from when it was due; one no session can take is
 * counted late and dropped (the DUT is past its capacity).
 */
static void open_loop(uint64_t now)
{
	uint64_t gap = (uint64_t)(1e9 / g.o.rate);

	while (g.next_start <= now) {
		struct lsess *s = NULL;
		struct lreq *q = NULL;

		/* A few sessions, not all: past capacity, a scan of every
		 * session per due request would stall the generator itself. */
		for (unsigned tries = 0; tries < LGT_OPEN_TRIES && !q; tries++) {
			s = &g.s[g.next_sess++ % g.o.sessions];
			for (unsigned k = 0; s->up && k < g.o.inflight && !q; k++)
				if (!s->r[k].open)
					q = &s->r[k];
		}
		if (q)
			req_start(s, q, g.next_start);
		if (q && q->open)
			mark((unsigned)(s - g.s));
		else
			g.late++; /* no free slot, or no stream credit (-EAGAIN) */
		g.next_start += gap;
	}
}

static void turn(uint64_t now)
{
	rx(now);
	if (g.loading && g.o.rate)
		open_loop(now);
	while (g.dirty_n) {
		unsigned i = g.dirty[g.dirty_head];

		g.dirty_head = (g.dirty_head + 1) % g.o.sessions;
		g.dirty_n--;
		g.s[i].queued = false;
		sess_pump(i, now);
	}
	for (unsigned k = 0; k < LGT_SCAN && k < g.opened; k++) {
		unsigned i = g.scan++ % g.opened;

		if (g.s[i].as && cw_as_next_timeout(g.s[i].as) <= now)
			sess_pump(i, now);
	}
	tx_flush();
}

static void stats_line(const char *phase, uint64_t now, uint64_t *last_ns, uint64_t *last_req)
{
	double dt = (double)(now - *last_ns) / 1e9;

	printf("causeway-loadgen: %-9s t=%6.1fs up %u/%u failed %u | req/s %.0f | rx %" PRIu64
	       " tx %" PRIu64 " pkts (tx drops %" PRIu64 ")\n",
	       phase, (double)now / 1e9, g.up, g.o.sessions, g.failed,
	       (double)(g.answered - *last_req) / dt, g.rx_pkts, g.tx_pkts, g.tx_drops);
	fflush(stdout);
	*last_ns = now;
	*last_req = g.answered;
}

/* Open sessions (at most --connecting handshaking) until all are up. */
static double connect_all(void)
{
	uint64_t t0 = now_ns(), last = t0, last_req = 0, now;

	while (g.up + g.failed < g.o.sessions && !lgt_quit) {
		now = now_ns();
		while (g.opened < g.o.sessions && g.opened - g.up - g.failed < g.o.connecting) {
			unsigned i = g.opened;

			if (sess_open(i, now) < 0) {
				g.failed++;
				continue;
			}
			mark(i);
		}
		turn(now);
		if (now - last >= SEC)
			stats_line("connect", now, &last, &last_req);
		if (now - t0 > LGT_UP_TIMEOUT)
			break;
	}
	return (double)(now_ns() - t0) / 1e9;
}

static double hold(bool load)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(g.o.seconds * 1e9), last = t0, now;
	uint64_t last_req = g.answered, wait0 = cw_sched_wait();

	g.loading = load;
	g.next_start = t0;
	if (load)
		for (unsigned i = 0; i < g.o.sessions; i++)
			mark(i);
	while ((now = now_ns()) < end && !lgt_quit) {
		turn(now);
		if (now - last >= SEC)
			stats_line(load ? "requests" : "idle", now, &last, &last_req);
	}
	g.loading = false;
	g.waited = cw_sched_wait() - wait0;
	return (double)(now - t0) / 1e9;
}

static void close_all(void)
{
	uint64_t end = now_ns() + LGT_CLOSE_WAIT, now;
	unsigned live;

	for (unsigned i = 0; i < g.o.sessions; i++)
		if (g.s[i].as) {
			cw_as_shutdown(g.s[i].as, now_ns(), CW_AS_SHUTDOWN, "done");
			mark(i);
		}
	do {
		now = now_ns();
		turn(now);
		live = 0;
		for (unsigned i = 0; i < g.o.sessions; i++)
			live += g.s[i].as && cw_as_state(g.s[i].as) != CW_AS_ENDED;
	} while (live && now < end && !lgt_quit);
}

/* ---- set-up ---- */

static int prepare(void)
{
	struct cw_mint_ca ca;
	struct cw_tls_client_cfg tc = {.gateway_ca = {.path = g.o.ca},
				       .gateway_name = g.o.server_name};
	char name[32];
	int rc;

	if (cw_mint_ca_load(&ca, g.o.ca, g.o.ca_key) < 0) {
		fprintf(stderr, "causeway-loadgen: cannot read the CA %s / %s\n", g.o.ca,
			g.o.ca_key);
		return -EINVAL;
	}
	for (unsigned i = 0; i < g.o.sessions && !lgt_quit; i++) {
		struct cw_mint_pem cp, kp;

		snprintf(name, sizeof(name), "lg-%u", i);
		if ((rc = cw_mint_node(&ca, name, (long)i + 1, &cp, &kp)) < 0)
			break;
		tc.cert = (struct cw_tls_pem){NULL, cp.data, cp.len};
		tc.key = (struct cw_tls_pem){NULL, kp.data, kp.len};
		rc = cw_tls_client_ctx_new(&tc, NULL, &g.s[i].tls);
		cw_mint_pem_free(&cp);
		cw_mint_pem_free(&kp);
		if (rc < 0)
			break;
		if (RAND_bytes(g.s[i].cid, CW_CID_LEN) != 1) {
			rc = -EIO;
			break;
		}
		g.s[i].sport = rte_cpu_to_be_16((uint16_t)(g.o.sport + i % g.o.flows));
		cw_cidmap_put(&g.map, g.s[i].cid, i);
		if ((i + 1) % 1000 == 0)
			fprintf(stderr, "causeway-loadgen: %u certificates\n", i + 1);
	}
	cw_mint_ca_free(&ca);
	return lgt_quit ? -EINTR : rc;
}

/* A whole file in a malloc'd buffer; NULL when it cannot be read. */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(LGT_FILE_MAX);

	*len = f && b ? fread(b, 1, LGT_FILE_MAX, f) : 0;
	if (f)
		fclose(f);
	if (!*len) {
		free(b);
		return NULL;
	}
	return b;
}

/*
 * The request body, compressed once with the dictionary as an agent would
 * (msg_body.h: IDENTITY when that is not smaller) and sent with every
 * request; the gateway decodes it each time.
 */
static int body_prepare(void)
{
	struct cw_compress *cz = NULL;
	uint8_t *dict = NULL;
	size_t dict_len = 0;
	int rc;

	if (!g.o.body)
		return 0;
	g.body_src = read_file(g.o.body, &g.body_len);
	if (g.o.dict && !(dict = read_file(g.o.dict, &dict_len)))
		return -EINVAL;
	g.body_dst = malloc(g.body_len);
	rc = !g.body_src || !g.body_dst ? -EINVAL : cw_compress_init(&cz, NULL, 0);
	if (!rc && dict)
		rc = cw_compress_add_dict(cz, dict, dict_len, &g.dict_id);
	if (!rc)
		rc = cw_msg_body_pack(cz, g.dict_id, g.body_src, g.body_len, g.body_dst, g.body_len,
				      &g.body);
	cw_compress_free(cz);
	free(dict);
	if (rc < 0)
		return rc;
	g.have_body = true;
	fprintf(stderr, "causeway-loadgen: body %zu bytes, %zu on the wire\n", g.body_len,
		g.body.data.len);
	return 0;
}

/* ---- arguments ---- */

static int parse_request(const char *arg)
{
	const char *sp = strchr(arg, ' ');

	if (!sp || (size_t)(sp - arg) >= sizeof(g.o.verb) || strlen(sp + 1) >= sizeof(g.o.path))
		return -EINVAL;
	snprintf(g.o.verb, sizeof(g.o.verb), "%.*s", (int)(sp - arg), arg);
	snprintf(g.o.path, sizeof(g.o.path), "%s", sp + 1);
	return 0;
}

static int parse_opt(int c, const char *arg)
{
	struct lgt_opts *o = &g.o;
	struct in_addr a;
	unsigned long v;
	int rc = 0;

	switch (c) {
	case 'd':
	case 's':
		if (inet_pton(AF_INET, arg, &a) != 1)
			return -EINVAL;
		*(c == 'd' ? &o->dut_ip : &o->src_ip) = a.s_addr;
		return 0;
	case 'p':
		rc = cw_cli_num(arg, 1, 65535, &v);
		o->port = (uint16_t)v;
		return rc;
	case 'S':
		rc = cw_cli_num(arg, 1, 65535, &v);
		o->sport = (uint16_t)v;
		return rc;
	case 'n':
		rc = cw_cli_num(arg, 1, LGT_MAX_SESSIONS, &v);
		o->sessions = (unsigned)v;
		return rc;
	case 'k':
		rc = cw_cli_num(arg, 1, LGT_MAX_SESSIONS, &v);
		o->connecting = (unsigned)v;
		return rc;
	case 'i':
		rc = cw_cli_num(arg, 1, LGT_MAX_INFLIGHT, &v);
		o->inflight = (unsigned)v;
		return rc;
	case 'f':
		rc = cw_cli_num(arg, 1, 16384, &v);
		o->flows = (unsigned)v;
		return rc;
	case 't':
		return cw_cli_secs(arg, 0.1, &o->seconds);
	case 'R':
		rc = cw_cli_num(arg, 1, 100000000, &v);
		o->rate = (double)v;
		return rc;
	case 'm':
		if (!strcmp(arg, "handshakes"))
			o->mode = M_HANDSHAKES;
		else if (!strcmp(arg, "idle"))
			o->mode = M_IDLE;
		else if (!strcmp(arg, "requests"))
			o->mode = M_REQUESTS;
		else
			return -EINVAL;
		return 0;
	case 'a':
		o->ca = arg;
		return 0;
	case 'K':
		o->ca_key = arg;
		return 0;
	case 'N':
		o->server_name = arg;
		return 0;
	case 'B':
		o->body = arg;
		return 0;
	case 'D':
		o->dict = arg;
		return 0;
	case 'r':
		return parse_request(arg);
	case 'M':
		o->have_dut_mac = true;
		return rte_ether_unformat_addr(arg, &o->dut_mac) < 0 ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {{"dut-ip", required_argument, NULL, 'd'},
					     {"src-ip", required_argument, NULL, 's'},
					     {"port", required_argument, NULL, 'p'},
					     {"sport", required_argument, NULL, 'S'},
					     {"sessions", required_argument, NULL, 'n'},
					     {"connecting", required_argument, NULL, 'k'},
					     {"inflight", required_argument, NULL, 'i'},
					     {"flows", required_argument, NULL, 'f'},
					     {"seconds", required_argument, NULL, 't'},
					     {"mode", required_argument, NULL, 'm'},
					     {"ca", required_argument, NULL, 'a'},
					     {"ca-key", required_argument, NULL, 'K'},
					     {"server-name", required_argument, NULL, 'N'},
					     {"request", required_argument, NULL, 'r'},
					     {"dut-mac", required_argument, NULL, 'M'},
					     {"rate", required_argument, NULL, 'R'},
					     {"body", required_argument, NULL, 'B'},
					     {"dict", required_argument, NULL, 'D'},
					     {NULL, 0, NULL, 0}};
	static char dut[INET_ADDRSTRLEN];
	int c;

	g.o = (struct lgt_opts){.port = 10262,
				.sport = 20000,
				.sessions = 1000,
				.connecting = 64,
				.inflight = 1,
				.flows = 1024,
				.seconds = 5,
				.mode = M_HANDSHAKES,
				.verb = "GET",
				.path = "/api/v1/namespaces/default/secrets/x"};
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (parse_opt(c, optarg) < 0) {
			fprintf(stderr, "causeway-loadgen: bad value for %s\n", argv[optind - 1]);
			return -EINVAL;
		}
	if (optind != argc || !g.o.dut_ip || !g.o.src_ip || !g.o.ca || !g.o.ca_key ||
	    (unsigned long)g.o.sport + g.o.flows - 1 > 65535) {
		fprintf(stderr,
			"usage: causeway-loadgen EAL-ARGS -- --dut-ip A --src-ip A --ca FILE "
			"--ca-key FILE [--server-name NAME] [--port 10262] [--sessions N] "
			"[--connecting K] [--mode handshakes|idle|requests] [--seconds D] "
			"[--inflight K] [--rate R] [--request 'METHOD PATH'] [--body FILE] "
			"[--dict FILE] [--sport N] [--flows N] [--dut-mac MAC]\n");
		return -EINVAL;
	}
	if (!g.o.server_name)
		g.o.server_name = inet_ntop(AF_INET, &g.o.dut_ip, dut, sizeof(dut));
	return g.o.server_name ? 0 : -EINVAL;
}

/* ---- main ---- */

static const char *const mode_names[] = {"handshakes", "idle", "requests"};

/* Until the DUT's MAC is known: ARP only. */
static void resolve_rx(void *ctx, struct rte_mbuf *m)
{
	(void)ctx;
	if (cw_lgp_is_arp(m))
		cw_lgp_arp_input(&g.p, m);
	rte_pktmbuf_free(m);
}

static void summary(double up_s, double run_s)
{
	printf("{\"mode\":\"%s\",\"sessions\":%u,\"up\":%u,\"failed\":%u,\"connect_s\":%.3f,"
	       "\"handshakes_per_s\":%.0f,\"run_s\":%.3f,\"requests\":%" PRIu64
	       ",\"answered\":%" PRIu64 ",\"requests_per_s\":%.0f,\"latency_us\":{\"p50\":%.1f,"
	       "\"p99\":%.1f,\"p99_9\":%.1f},\"answers\":{\"403\":%" PRIu64
	       ",\"other_status\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"other_error\":%" PRIu64
	       "},\"resets\":%" PRIu64 ",\"malformed\":%" PRIu64
	       ",\"body_bytes\":%zu,\"body_wire_bytes\":%zu,\"rate\":%.0f,\"late\":%" PRIu64
	       ",\"sched_wait_pct\":%.2f"
	       ",\"rx_pkts\":%" PRIu64 ",\"tx_pkts\":%" PRIu64 ",\"tx_drops\":%" PRIu64 "}\n",
	       mode_names[g.o.mode], g.o.sessions, g.up, g.failed, up_s,
	       up_s > 0 ? (double)g.up / up_s : 0, run_s, g.sent, g.answered,
	       run_s > 0 ? (double)g.answered / run_s : 0, hist_pct(50), hist_pct(99),
	       hist_pct(99.9), g.status_403, g.status_other, g.refused, g.errors_other, g.resets,
	       g.bad, g.have_body ? g.body_len : 0, g.have_body ? g.body.data.len : 0, g.o.rate,
	       g.late, run_s > 0 ? (double)g.waited / (run_s * 1e7) : 0, g.rx_pkts, g.tx_pkts,
	       g.tx_drops);
	fflush(stdout);
}

static int run(void)
{
	double up_s, run_s = 0;
	char err[128];
	int rc;

	if (cw_agent_config_parse(&g.conf, "causeway-loadgen", "[gateway]\naddress = 192.0.2.1\n",
				  err, sizeof(err)) < 0)
		return -EINVAL;
	g.s = calloc(g.o.sessions, sizeof(*g.s));
	g.dirty = calloc(g.o.sessions, sizeof(*g.dirty));
	if (!g.s || !g.dirty || cw_cidmap_init(&g.map, g.o.sessions) < 0)
		return -ENOMEM;
	if ((rc = body_prepare()) < 0 || (rc = prepare()) < 0)
		return rc;
	g.p.src_ip = g.o.src_ip;
	g.p.dut_ip = g.o.dut_ip;
	g.p.dut_mac = g.o.dut_mac;
	g.p.fixed_mac = g.o.have_dut_mac;
	if ((rc = cw_lgp_start(&g.p, LGT_RING, &lgt_quit)) < 0)
		return rc;
	g.tsc0 = rte_get_tsc_cycles();
	if ((rc = cw_lgp_resolve(&g.p, resolve_rx, NULL, &lgt_quit)) < 0)
		return rc;
	up_s = connect_all();
	printf("causeway-loadgen: all up: %u of %u in %.3f s\n", g.up, g.o.sessions, up_s);
	fflush(stdout);
	if (g.o.mode != M_HANDSHAKES)
		run_s = hold(g.o.mode == M_REQUESTS);
	close_all();
	summary(up_s, run_s);
	return g.failed || g.up != g.o.sessions || (g.o.mode == M_REQUESTS && !g.answered) ? 1 : 0;
}

int main(int argc, char **argv)
{
	int n, rc;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "causeway-loadgen: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (parse_args(argc - n, argv + n) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	g.hz = rte_get_tsc_hz();
	g.p.pool = rte_pktmbuf_pool_create("cw_lgt", LGT_POOL, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   (int)rte_socket_id());
	rc = g.p.pool ? run() : -ENOMEM;
	if (rc < 0)
		fprintf(stderr, "causeway-loadgen: %s\n", strerror(-rc));
	for (unsigned i = 0; g.s && i < g.o.sessions; i++) {
		cw_as_free(g.s[i].as);
		cw_tls_client_ctx_free(g.s[i].tls);
	}
	free(g.s);
	cw_cidmap_free(&g.map);
	free(g.dirty);
	free(g.body_src);
	free(g.body_dst);
	if (g.p.pool) {
		rte_eth_dev_stop(g.p.port_id);
		rte_eth_dev_close(g.p.port_id);
	}
	rte_eal_cleanup();
	return rc < 0 ? 1 : rc;
}
