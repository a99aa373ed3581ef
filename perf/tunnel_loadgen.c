/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-loadgen: N edge agents on one DPDK lcore, speaking the real
 * tunnel protocol (the agent's session core, tunnel/agent/session.h: real
 * handshakes, keys, streams, messages) to causewayd over a DPDK port
 * (virtio_user against the DUT's vhost-user port, or memif).
 *
 *   causeway-loadgen EAL-ARGS -- --dut-ip A --src-ip A --ca FILE --ca-key FILE
 *       [--server-name NAME] [--port 10262] [--sessions N] [--connecting K]
 *       [--mode handshakes|idle|requests|bulk|storm|watch] [--seconds D]
 *       [--inflight K] [--rate R] [--request 'METHOD PATH']
 *       [--body FILE [--dict FILE]] [--bulk-size BYTES] [--storm K]
 *       [--storm-resume] [--watch LIST] [--listing K] [--marker PATH
 *       --upstream A:PORT [--marker-at S] [--markers N] [--marker-gap S]]
 *       [--cdf FILE] [--sport N] [--flows N] [--dut-mac MAC]
 *
 * Node certificates (CN=node:lg-I) are minted in memory with the CA key
 * and loaded before the clock starts. Then sessions are opened, at most
 * --connecting handshakes at a time, each from UDP source port sport +
 * I % flows; what arrives is matched to its session by destination CID.
 * Bring-up gives up when no session came up for a minute.
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
 *   bulk        requests mode where every request carries --bulk-size bytes
 *               (default 65536, at most 1000000: a request must fit a
 *               stream's send buffer) of random body, IDENTITY-encoded
 *               (nothing to decompress), POST to the secrets collection
 *               unless --request: the agent->gateway payload rate, in bytes
 *               of the bodies of answered requests per second
 *   storm       the last --storm K (< N) sessions close (Close, then
 *               CONNECTION_CLOSE; once that is sent the session is freed,
 *               as an agent that restarts would be, without its closing
 *               period) and reconnect with a new full handshake
 *               (--storm-resume: with the session ticket of the previous
 *               one), at most --connecting at a time, while the others run
 *               closed-loop requests; the first half of --seconds has the
 *               requests only (the idle baseline), the second the storm
 *               too; latency is reported per phase (of the request's start)
 *   watch       each session, once up, does what a kubelet does through
 *               the hub route (perf/lg_watch.h): for every resource of
 *               --watch (default pods,nodes,services) a list, then a watch
 *               from its resourceVersion (at most --listing K sessions
 *               listing at a time, default all: a fleet that does not
 *               start at once); once every session is watching
 *               (watch_settle_s after all are up; given up after a minute
 *               without progress) the watches are held for --seconds;
 *               events counted per session. With --marker PATH,
 *               --marker-at seconds into the hold (default a third) the
 *               generator PATCHes
 *               PATH (an object every session watches unfiltered, e.g. a
 *               Service) on the API server at --upstream (plain HTTP) with
 *               an annotation value unique to the run, and times the event
 *               carrying it to each session from just before the PATCH
 *               was sent (the generator's clock for both); --markers N
 *               makes up to N such changes, each --marker-gap seconds
 *               (default 2) after the previous one's answer, as many as
 *               the hold has time for
 *
 * The requests modes count the decoded body bytes of every answered
 * request (answer_bytes, and the least and most of one answer), so that
 * two routes answering the same request can be compared.
 *
 * --cdf FILE writes the latency histogram as a CDF for gnuplot: a line per
 * histogram step, "latency_us cumulative_fraction", and in storm mode a
 * second fraction column, the storm phase's.
 *
 * A progress line every second while sessions come up, a testpmd-style
 * stats line every second after (bulk: payload Gbit/s; storm: reconnects
 * per second), and one JSON line at the end on stdout (fields in
 * summary(); payload_gbit_s: bodies answered during the hold;
 * bodies_sent_bytes / bodies_answered_bytes: for the gateway's count;
 * storm: "storm" {closes, reconnects, handshakes_per_s during the storm
 * phase, ...} and "phases" {idle, storm: requests/s and latency
 * percentiles each}; sched_wait_pct: the share of the hold the
 * generator sat runnable without a CPU, which shows as latency; stalled:
 * requests open for more than a second when the hold ended; unclosed:
 * sessions not ended when the generator gave up waiting; tx_full: how
 * often a session's datagrams waited in it because 4096 frames already
 * waited for room in the port's TX ring; watch: "watch" {lists, watches,
 * events, events_per_session, marker {sessions, delay_ms p50/p99/max} of
 * the first marker, markers [the same of each]}).
 * Lines "causeway-loadgen: all watching" (every session holds its
 * watches), "causeway-loadgen: hold:" (it begins), "causeway-loadgen:
 * marker sent" and "causeway-loadgen: hold over" mark the hold for a
 * script reading the upstream's counters. Exit
 * status 0, 1 when a session failed or nothing was measured (storm: also
 * when a reconnect failed or none happened; watch: when a session was not
 * watching every resource, or a marker's PATCH failed or did not reach
 * every session), 2 for bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
#include "dataplane/heap.h"
#include "common.h"
#include "lg_patch.h"
#include "lg_port.h"
#include "lg_watch.h"
#include "tunnel/agent/session.h"
#include "tunnel/compress.h"
#include "tunnel/msg_body.h"
#include "tunnel/pool.h"
#include "tunnel/tls.h"

#define LGT_RING	 1024
#define LGT_POOL	 16383
#define LGT_BURST	 32
#define LGT_TXQ		 4096 /* frames waiting for room in the port's TX ring */
#define LGT_HDRS	 (RTE_ETHER_HDR_LEN + 20 + 8)
#define LGT_MAX_SESSIONS 200000
#define LGT_MAX_INFLIGHT 16
#define LGT_SCAN	 64	    /* sessions whose timers are checked per loop turn */
#define LGT_OPEN_TRIES	 16	    /* open loop: sessions tried for a free slot */
#define LGT_FILE_MAX	 (1u << 20) /* bytes read of --body and --dict */
#define LGT_UP_STALL	 (60 * SEC) /* bring-up gives up after this long without progress */
#define LGT_CLOSE_WAIT	 (5 * SEC)
#define LGT_CLOSE_PER	 UINT64_C(50000) /* ns more per session */
#define LGT_CLOSE_SWEEP	 (10 * MSEC)
#define MSEC		 UINT64_C(1000000)
#define LGT_HIST	 (64 * 8) /* log2 buckets of latency, 8 steps each */
#define LGT_BULK_DEFAULT (64 * 1024)
#define LGT_BULK_MAX	 (1000 * 1000) /* the request fits a stream's 1 MiB send buffer */
#define LGT_STALL	 SEC	       /* an open request older than this at the end is stalled */
#define LGT_WARM_PER	 (16 * 1024)   /* heap grown after bring-up, pool cap, per session */
#define SEC		 UINT64_C(1000000000)

enum lgt_mode { M_HANDSHAKES, M_IDLE, M_REQUESTS, M_BULK, M_STORM, M_WATCH };
enum lgt_phase { P_IDLE, P_STORM, P_N }; /* storm mode's phases; other modes: P_IDLE */

struct lreq {
	uint64_t id, t0;
	uint64_t bytes; /* of the answer's body so far */
	bool open, first;
};

struct lsess {
	struct cw_as *as;
	struct cw_tls_client_ctx *tls;
	uint8_t cid[CW_CID_LEN];
	uint16_t sport; /* network order */
	bool up, queued;
	bool closing;	 /* storm: shut down, to reconnect once ended */
	uint8_t *ticket; /* storm with resumption: the last session's ticket */
	size_t ticket_len;
	struct lreq r[LGT_MAX_INFLIGHT];
	struct cw_lgw_sess w; /* watch mode */
};

struct lgt_opts {
	uint32_t dut_ip, src_ip;
	uint16_t port, sport;
	unsigned sessions, connecting, inflight, flows;
	unsigned bulk_size, storm; /* bulk: body bytes; storm: sessions that reconnect */
	bool storm_resume, have_request;
	const char *cdf; /* file for the latency CDF */
	double seconds;
	double rate; /* requests/s in all, open loop; 0: closed loop */
	enum lgt_mode mode;
	const char *ca, *ca_key, *server_name;
	const char *body, *dict; /* files: a request body, the dictionary */
	char verb[16], path[256];
	const char *watch, *marker, *upstream; /* watch mode */
	unsigned listing;		       /* sessions listing at once; 0: any */
	double marker_at;		       /* s into the hold; < 0: a third */
	unsigned markers;		       /* changes made, marker_gap s apart */
	double marker_gap;		       /* s from a marker's answer to the next */
	bool have_dut_mac;
	struct rte_ether_addr dut_mac;
};

static struct {
	struct lgt_opts o;
	struct cw_lgp p;
	struct cw_pool mem; /* the emulated agents' allocator */
	struct cw_agent_config conf;
	struct lsess *s;
	struct cw_cidmap map; /* which session a datagram is for */
	uint32_t *dirty;      /* sessions to pump, a FIFO of indexes */
	size_t dirty_head, dirty_n;
	unsigned opened, up, failed, scan;
	struct rte_mbuf *tx[LGT_TXQ]; /* a FIFO: tx_head, ntx */
	unsigned tx_head, ntx;
	uint64_t hz, tsc0;
	uint64_t tx_pkts, rx_pkts, rx_other, tx_full;
	uint64_t sent, answered, resets, bad, hist[P_N][LGT_HIST];
	uint64_t hold_answered, stalled;
	unsigned unclosed; /* sessions not ended when close_all() gave up */
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
	/* storm: */
	bool storm_live;   /* storm sessions reconnect when they end */
	bool storming;	   /* ... and are shut down once up */
	uint64_t storm_at; /* when the storm phase began, UINT64_MAX: not yet */
	double phase_s[P_N];
	uint32_t *swait; /* storm sessions waiting to reconnect, a FIFO */
	size_t swait_head, swait_n;
	unsigned storm_connecting, storm_scan;
	uint64_t storm_closes, reconnects, storm_failed, storm_tickets;
	uint64_t answer_bytes, answer_min, answer_max; /* decoded bodies of answers */
	/* watch: */
	struct cw_lgw w;
	struct cw_lg_patch patch;
	bool closing;	     /* sessions are being shut down: no more watches */
	unsigned marks_sent; /* PATCHes sent */
	uint64_t mark_due;   /* when the next may go */
	double settle_s;     /* from all up to all watching */
	int marker_rc;	     /* its answer: 1 and patch.status, or -errno */
	unsigned all_watch;  /* sessions watching when "all watching" was said */
	uint32_t *wq;	     /* sessions up, waiting to list: a FIFO */
	size_t wq_head, wq_n;
	unsigned w_started; /* sessions that started listing */
} g;

static volatile bool lgt_quit;
static const char *const mode_names[] = {"handshakes", "idle",	"requests",
					 "bulk",       "storm", "watch"};

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

static uint64_t hist_total(const uint64_t *h)
{
	uint64_t total = 0;

	for (unsigned b = 0; b < LGT_HIST; b++)
		total += h[b];
	return total;
}

/* The @pct percentile of histogram @h, in us (0: empty). */
static double hist_pct(const uint64_t *h, double pct)
{
	uint64_t total = hist_total(h), want, acc = 0;

	if (!total)
		return 0;
	want = (uint64_t)((double)total * pct / 100.0);
	for (unsigned b = 0; b < LGT_HIST; b++) {
		acc += h[b];
		if (acc > want)
			return (double)hist_upper(b) / 1000.0;
	}
	return 0;
}

/* Both phases in one (for the overall percentiles). */
static void hist_all(uint64_t *out)
{
	for (unsigned b = 0; b < LGT_HIST; b++)
		out[b] = g.hist[P_IDLE][b] + g.hist[P_STORM][b];
}

/*
 * The CDF of each phase's histogram, one line per step between the first
 * and the last step anything fell in: the step's upper bound in us, then
 * the fraction at or below it per phase. Returns 0 or -errno.
 */
static int cdf_write(const char *path)
{
	unsigned phases = g.o.mode == M_STORM ? P_N : 1, lo = LGT_HIST, hi = 0;
	uint64_t tot[P_N], acc[P_N] = {0};
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	for (unsigned p = 0; p < P_N; p++)
		tot[p] = hist_total(g.hist[p]);
	for (unsigned b = 0; b < LGT_HIST; b++)
		if (g.hist[P_IDLE][b] || g.hist[P_STORM][b]) {
			lo = lo < b ? lo : b;
			hi = b;
		}
	fprintf(f, "# latency_us cumulative_fraction%s\n",
		phases > 1 ? "(idle phase) cumulative_fraction(storm phase)" : "");
	for (unsigned b = lo; b <= hi && lo < LGT_HIST; b++) {
		fprintf(f, "%.3f", (double)hist_upper(b) / 1000.0);
		for (unsigned p = 0; p < phases; p++) {
			acc[p] += g.hist[p][b];
			fprintf(f, " %.6f", tot[p] ? (double)acc[p] / (double)tot[p] : 0.0);
		}
		fputc('\n', f);
	}
	return fclose(f) ? -errno : 0;
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

/*
 * Hand the waiting frames to the port, as many as its TX ring takes; the
 * rest wait for the next call. Frames are never dropped here: a drop would
 * be a loss the generator made (a retransmission, a smaller congestion
 * window), not the DUT's.
 */
static void tx_flush(void)
{
	while (g.ntx) {
		unsigned seg = g.ntx < LGT_TXQ - g.tx_head ? g.ntx : LGT_TXQ - g.tx_head;
		uint16_t n = rte_eth_tx_burst(g.p.port_id, 0, g.tx + g.tx_head, (uint16_t)seg);

		g.tx_pkts += n;
		g.tx_head = (g.tx_head + n) % LGT_TXQ;
		g.ntx -= n;
		if (n < seg)
			return;
	}
}

/*
 * What session @s has to send, one frame per datagram. While LGT_TXQ
 * frames wait for the port, what is left stays in the session, which is
 * pumped again on the next turn (counted in tx_full).
 */
static void sess_send(struct lsess *s, uint64_t now)
{
	for (;;) {
		struct rte_mbuf *m;
		struct rte_ether_hdr *eth;
		struct rte_ipv4_hdr *ip;
		struct rte_udp_hdr *udp;
		int n;

		if (g.ntx == LGT_TXQ)
			tx_flush();
		if (g.ntx == LGT_TXQ) {
			g.tx_full++;
			mark((unsigned)(s - g.s));
			return;
		}
		if (!(m = rte_pktmbuf_alloc(g.p.pool)))
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
		g.tx[(g.tx_head + g.ntx++) % LGT_TXQ] = m;
		if (g.ntx >= LGT_BURST)
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
	q->bytes = 0;
	g.sent++;
}

static void req_read(struct lsess *s, struct lreq *q, uint64_t now)
{
	cw_envelope *env;
	uint64_t code;
	int r;

	while ((r = cw_as_api_read(s->as, q->id, &env, &code)) == 0) {
		if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE &&
		    env->api_response->body) {
			ptrdiff_t n = cw_msg_body_len(env->api_response->body, SIZE_MAX);

			q->bytes += n > 0 ? (uint64_t)n : 0;
		}
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
		g.answer_min = g.answered && g.answer_min < q->bytes ? g.answer_min : q->bytes;
		g.answer_max = g.answer_max > q->bytes ? g.answer_max : q->bytes;
		g.answer_bytes += q->bytes;
		g.answered++;
		g.hist[q->t0 >= g.storm_at ? P_STORM : P_IDLE][hist_bucket(now - q->t0)]++;
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

/* Storm mode's reconnecting sessions: the last --storm of them. */
static bool is_storm(unsigned i)
{
	return g.o.mode == M_STORM && i >= g.o.sessions - g.o.storm;
}

/* Keep the ticket of @s's session for its next handshake. */
static void ticket_keep(struct lsess *s)
{
	size_t len;
	const uint8_t *t = cw_as_ticket(s->as, &len);
	uint8_t *copy;

	if (!t || !len || !(copy = malloc(len)))
		return;
	memcpy(copy, t, len);
	free(s->ticket);
	s->ticket = copy;
	s->ticket_len = len;
}

/*
 * A storm session is over: a clean end is ours, its Close then
 * CONNECTION_CLOSE sent (anything else, or a reconnect that never came up,
 * counts as failed); it queues to reconnect.
 */
static void storm_ended(unsigned i)
{
	struct lsess *s = &g.s[i];
	struct cw_as_info in;

	cw_as_info(s->as, &in);
	if (s->up)
		g.up--;
	else
		g.storm_connecting--;
	if (!s->up || !s->closing || in.end != CW_AS_END_LOCAL)
		g.storm_failed++;
	if (g.o.storm_resume)
		ticket_keep(s);
	cw_as_free(s->as);
	s->as = NULL;
	s->up = s->closing = false;
	g.swait[(g.swait_head + g.swait_n++) % g.o.storm] = i;
}

/* ---- watch mode ---- */

static void node_name(unsigned i, char *buf, size_t cap)
{
	snprintf(buf, cap, "lg-%u", i);
}

/* Sessions up start their lists, then watches (lg_watch.h), at most
 * --listing of them listing at a time. */
static void watch_start(uint64_t now)
{
	char name[32];

	while (g.wq_n && (!g.o.listing || g.w_started - g.w.watching < g.o.listing)) {
		unsigned i = g.wq[g.wq_head];

		g.wq_head = (g.wq_head + 1) % g.o.sessions;
		g.wq_n--;
		g.w_started++;
		node_name(i, name, sizeof(name));
		/* failures are counted */
		(void)cw_lgw_start(&g.w, &g.s[i].w, g.s[i].as, name, now);
		mark(i);
	}
}

static void watch_read(unsigned i, uint64_t id, uint64_t now)
{
	char name[32];

	node_name(i, name, sizeof(name));
	(void)cw_lgw_read(&g.w, &g.s[i].w, g.s[i].as, name, id, now, g.closing);
}

static void sess_pump(unsigned i, uint64_t now)
{
	struct lsess *s = &g.s[i];
	struct cw_as_event ev;
	bool storm = g.storm_live && is_storm(i);

	if (!s->as)
		return;
	if (cw_as_next_timeout(s->as) <= now)
		cw_as_on_timeout(s->as, now);
	while (cw_as_next_event(s->as, &ev) == 0) {
		if (ev.type != CW_AS_EV_API)
			continue;
		if (g.o.mode == M_WATCH)
			watch_read(i, ev.stream, now);
		else if (req_of(s, ev.stream))
			req_read(s, req_of(s, ev.stream), now);
	}
	if (!s->up && cw_as_state(s->as) == CW_AS_ESTABLISHED) {
		s->up = true;
		g.up++;
		if (storm) {
			g.storm_connecting--;
			g.reconnects++;
		}
		if (g.o.mode == M_WATCH)
			g.wq[(g.wq_head + g.wq_n++) % g.o.sessions] = i;
	}
	if (storm && cw_as_state(s->as) == CW_AS_ENDED) {
		storm_ended(i);
		return;
	}
	if (!s->up && cw_as_state(s->as) == CW_AS_ENDED) {
		g.failed++;
		cw_as_free(s->as);
		s->as = NULL;
		return;
	}
	if (storm && g.storming && s->up && !s->closing) {
		s->closing = true;
		g.storm_closes++;
		cw_as_shutdown(s->as, now, CW_AS_SHUTDOWN, "storm");
	}
	if (s->up && g.loading && !g.o.rate && !is_storm(i))
		for (unsigned k = 0; k < g.o.inflight; k++)
			if (!s->r[k].open)
				req_start(s, &s->r[k], now);
	sess_send(s, now);
	/* Its CONNECTION_CLOSE is out: the agent is gone, as one that
	 * restarts would be, without waiting out its closing period. */
	if (storm && s->closing && cw_as_state(s->as) >= CW_AS_CLOSING)
		storm_ended(i);
}

/* Start session @i's handshake (with its kept ticket in storm mode with
 * --storm-resume). Returns 0 or the errors of cw_as_new(), -EIO. */
static int sess_open(unsigned i, uint64_t now)
{
	struct lsess *s = &g.s[i];
	struct cw_as_cfg ac = {
	    .alloc = cw_pool_alloc(&g.mem), .conf = &g.conf, .agent_version = "causeway-loadgen"};
	char name[32];

	node_name(i, name, sizeof(name));
	ac.node_name = name;
	ac.dict_ids = g.dict_id ? &g.dict_id : NULL;
	ac.n_dict_ids = g.dict_id ? 1 : 0;
	ac.hs.tls = s->tls;
	ac.hs.wall_time = (int64_t)time(NULL);
	ac.hs.ticket = s->ticket;
	ac.hs.ticket_len = s->ticket_len;
	ac.wall_ms = (uint64_t)time(NULL) * 1000;
	memcpy(ac.hs.cid, s->cid, sizeof(s->cid));
	if (RAND_bytes(ac.hs.odcid, sizeof(ac.hs.odcid)) != 1 ||
	    RAND_bytes((unsigned char *)&ac.seed, sizeof(ac.seed)) != 1)
		return -EIO;
	return cw_as_new(&ac, now, &s->as);
}

/*
 * Storm: reconnect the sessions waiting for it, at most --connecting
 * handshakes at a time; check the timers of a few storm sessions (a
 * handshake's retransmissions): a sweep of all sessions would find them
 * late when there are many.
 */
static void storm_turn(uint64_t now)
{
	unsigned base = g.o.sessions - g.o.storm;

	while (g.swait_n && g.storm_connecting < g.o.connecting) {
		unsigned i = g.swait[g.swait_head];

		g.swait_head = (g.swait_head + 1) % g.o.storm;
		g.swait_n--;
		g.storm_tickets += g.s[i].ticket != NULL;
		if (sess_open(i, now) < 0) {
			g.storm_failed++;
			g.swait[(g.swait_head + g.swait_n++) % g.o.storm] = i;
			return;
		}
		g.storm_connecting++;
		mark(i);
	}
	for (unsigned k = 0; k < LGT_SCAN && k < g.o.storm; k++) {
		unsigned i = base + g.storm_scan++ % g.o.storm;

		if (g.s[i].as && cw_as_next_timeout(g.s[i].as) <= now)
			sess_pump(i, now);
	}
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
	/* Those queued by now: one waiting for the port is pumped next turn. */
	for (size_t left = g.dirty_n; left; left--) {
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
	if (g.storm_live)
		storm_turn(now);
	if (g.wq_n)
		watch_start(now);
	tx_flush();
}

/* Where the last stats line left the counters. */
struct lgt_mark {
	uint64_t ns, answered, reconnects;
};

static void stats_line(const char *phase, uint64_t now, struct lgt_mark *last)
{
	double dt = (double)(now - last->ns) / 1e9;
	double req_s = (double)(g.answered - last->answered) / dt;

	printf("causeway-loadgen: %-9s t=%6.1fs up %u/%u failed %u | req/s %.0f", phase,
	       (double)now / 1e9, g.up, g.o.sessions, g.failed, req_s);
	if (g.o.mode == M_BULK)
		printf(" | payload %.2f Gbit/s", req_s * (double)g.body_len * 8 / 1e9);
	if (g.o.mode == M_STORM)
		printf(" | reconnects/s %.0f (failed %" PRIu64 ")",
		       (double)(g.reconnects - last->reconnects) / dt, g.storm_failed);
	if (g.o.mode == M_WATCH)
		printf(" | watching %u marked %u events %" PRIu64 " bad %" PRIu64, g.w.watching,
		       g.w.marked, g.w.events, g.w.bad);
	printf(" | rx %" PRIu64 " tx %" PRIu64 " pkts (tx full %" PRIu64 ")\n", g.rx_pkts,
	       g.tx_pkts, g.tx_full);
	fflush(stdout);
	*last = (struct lgt_mark){now, g.answered, g.reconnects};
}

/*
 * Open sessions (at most --connecting handshaking) until all are up, or
 * none came up or failed for LGT_UP_STALL: no overall limit, as 100,000
 * take minutes on a busy machine.
 */
static double connect_all(void)
{
	uint64_t t0 = now_ns(), now, moved = t0;
	unsigned done = 0;
	struct lgt_mark last = {.ns = t0};

	while (g.up + g.failed < g.o.sessions && !lgt_quit) {
		now = now_ns();
		while (g.opened < g.o.sessions && g.opened - g.up - g.failed < g.o.connecting) {
			unsigned i = g.opened++;

			if (sess_open(i, now) < 0) {
				g.failed++;
				continue;
			}
			mark(i);
		}
		turn(now);
		if (now - last.ns >= SEC)
			stats_line("connect", now, &last);
		if (g.up + g.failed != done) {
			done = g.up + g.failed;
			moved = now;
		}
		if (now - moved > LGT_UP_STALL)
			break;
	}
	return (double)(now_ns() - t0) / 1e9;
}

/* Storm mode: from now on the storm sessions close and reconnect. */
static void storm_begin(uint64_t now)
{
	g.storm_at = now;
	g.storm_live = g.storming = true;
	for (unsigned i = g.o.sessions - g.o.storm; i < g.o.sessions; i++)
		mark(i);
}

/* Requests still open that started more than LGT_STALL before @now. */
static uint64_t count_stalled(uint64_t now)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < g.o.sessions; i++)
		for (unsigned k = 0; k < g.o.inflight; k++)
			n += g.s[i].r[k].open && now - g.s[i].r[k].t0 > LGT_STALL;
	return n;
}

/*
 * After the storm: let every storm session come back up (they are no
 * longer shut down), for at most LGT_CLOSE_WAIT.
 */
static void storm_settle(void)
{
	uint64_t end = now_ns() + LGT_CLOSE_WAIT, now;

	g.storming = false;
	while (g.up + g.failed < g.o.sessions && (now = now_ns()) < end && !lgt_quit)
		turn(now);
	g.storm_live = false;
}

/*
 * Watch mode, every turn of the hold: say when every session holds its
 * watches; once they do and @due has come, make the marker's change
 * upstream (timed from just before its PATCH is sent); read its answer;
 * --marker-gap after a good answer, the next marker (--markers). The
 * sending time is printed on CLOCK_MONOTONIC too, the clock of
 * `perf record -k CLOCK_MONOTONIC`, so that a profile can be cut to it.
 */
static void watch_turn(uint64_t now, uint64_t due)
{
	struct timespec mono;
	char value[64];
	int rc;

	if (!g.all_watch && g.w.watching == g.o.sessions) {
		g.all_watch = g.w.watching;
		printf("causeway-loadgen: all watching: %u sessions, %u resources each, t=%.3fs\n",
		       g.w.watching, g.w.n_res, (double)now / 1e9);
		fflush(stdout);
		/* The first change fanned out wakes every emulated agent at
		 * once, a peak of memory the staggered bring-up never reached:
		 * without this the generator's one lcore would map and zero tens
		 * of megabytes of fresh pages while the change is timed, counted
		 * against the gateway. A real agent's memory is its own
		 * machine's. */
		if (g.o.marker && cw_heap_warm((size_t)g.o.sessions * LGT_WARM_PER) < 0)
			fprintf(stderr, "causeway-loadgen: heap warm-up: out of memory\n");
	}
	if (!g.o.marker || (g.marks_sent && g.marker_rc < 0))
		return;
	if (g.marks_sent && !g.marker_rc) {
		g.marker_rc = cw_lg_patch_poll(&g.patch);
		if (g.marker_rc) {
			printf("causeway-loadgen: marker answered: %d\n",
			       g.marker_rc > 0 ? g.patch.status : g.marker_rc);
			fflush(stdout);
			g.mark_due = now + (uint64_t)(g.o.marker_gap * 1e9);
		}
		return;
	}
	if (g.marks_sent == g.o.markers || (g.marks_sent && g.patch.status != 200) ||
	    now < (g.marks_sent ? g.mark_due : due))
		return;
	g.marks_sent++;
	rc = cw_lg_patch_connect(&g.patch, g.o.upstream);
	if (!rc)
		rc = cw_lgw_arm(&g.w, now_ns(), value, sizeof(value));
	if (!rc)
		rc = cw_lg_patch_send(&g.patch, g.o.marker, value);
	g.marker_rc = rc;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	printf("causeway-loadgen: marker sent: PATCH %s: %s (CLOCK_MONOTONIC %lld.%06ld s)\n",
	       g.o.marker, rc ? strerror(-rc) : "ok", (long long)mono.tv_sec, mono.tv_nsec / 1000);
	fflush(stdout);
}

/*
 * Watch mode, between bring-up and the hold: until every session holds
 * its watches, or none more did for LGT_UP_STALL. Returns the seconds it
 * took.
 */
static double watch_settle(void)
{
	uint64_t t0 = now_ns(), now = t0, moved = t0;
	unsigned seen = g.w.watching;
	struct lgt_mark last = {.ns = t0};

	while (g.w.watching < g.o.sessions && !lgt_quit && now - moved < LGT_UP_STALL) {
		turn(now);
		watch_turn(now, UINT64_MAX);
		if (now - last.ns >= SEC)
			stats_line("listing", now, &last);
		if (g.w.watching != seen) {
			seen = g.w.watching;
			moved = now;
		}
		now = now_ns();
	}
	return (double)(now - t0) / 1e9;
}

/* The stats line's name for what the hold is doing. */
static const char *hold_phase(void)
{
	if (g.o.mode != M_STORM)
		return mode_names[g.o.mode];
	return g.storming ? "storm" : "baseline";
}

static double hold(bool load)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(g.o.seconds * 1e9), now;
	uint64_t mid = g.o.mode == M_STORM ? t0 + (end - t0) / 2 : end, wait0 = cw_sched_wait();
	uint64_t due =
	    t0 + (uint64_t)((g.o.marker_at >= 0 ? g.o.marker_at : g.o.seconds / 3) * 1e9);
	struct lgt_mark last = {t0, g.answered, 0};

	g.loading = load;
	g.next_start = t0;
	if (g.o.mode == M_WATCH) {
		printf("causeway-loadgen: hold: %u of %u sessions watching\n", g.w.watching,
		       g.o.sessions);
		fflush(stdout);
	}
	if (load)
		for (unsigned i = 0; i < g.o.sessions; i++)
			mark(i);
	while ((now = now_ns()) < end && !lgt_quit) {
		if (now >= mid && !g.storm_live)
			storm_begin(now);
		turn(now);
		if (g.o.mode == M_WATCH)
			watch_turn(now, due);
		if (now - last.ns >= SEC)
			stats_line(hold_phase(), now, &last);
	}
	printf("causeway-loadgen: hold over\n");
	fflush(stdout);
	g.loading = false;
	g.waited = cw_sched_wait() - wait0;
	g.hold_answered = g.answered;
	g.stalled = count_stalled(now);
	g.phase_s[P_IDLE] = (double)((now < mid ? now : mid) - t0) / 1e9;
	g.phase_s[P_STORM] = now > mid ? (double)(now - mid) / 1e9 : 0;
	if (g.storm_live)
		storm_settle();
	return (double)(now - t0) / 1e9;
}

/* Sessions not ended yet; those whose timer is due (the end of their
 * closing period) are run first. */
static unsigned close_sweep(uint64_t now)
{
	unsigned live = 0;

	for (unsigned i = 0; i < g.o.sessions; i++) {
		struct cw_as *as = g.s[i].as;

		if (!as || cw_as_state(as) == CW_AS_ENDED)
			continue;
		if (cw_as_next_timeout(as) <= now)
			sess_pump(i, now);
		live += cw_as_state(as) != CW_AS_ENDED;
	}
	return live;
}

/*
 * Close every session (Close, CONNECTION_CLOSE, closing period) and wait
 * until all ended: LGT_CLOSE_WAIT plus LGT_CLOSE_PER per session (the
 * closes queue for the port). A sweep of all sessions every
 * LGT_CLOSE_SWEEP, not every turn: with 100,000 it takes milliseconds.
 */
static void close_all(void)
{
	uint64_t now = now_ns(), end = now + LGT_CLOSE_WAIT + g.o.sessions * LGT_CLOSE_PER;
	uint64_t sweep = now + LGT_CLOSE_SWEEP;
	unsigned live = 1;

	g.closing = true;
	for (unsigned i = 0; i < g.o.sessions; i++)
		if (g.s[i].as) {
			cw_as_shutdown(g.s[i].as, now, CW_AS_SHUTDOWN, "done");
			mark(i);
		}
	while (live && now < end && !lgt_quit) {
		turn(now);
		now = now_ns();
		if (now >= sweep) {
			live = close_sweep(now);
			sweep = now + LGT_CLOSE_SWEEP;
		}
	}
	g.unclosed = live;
}

/* ---- set-up ---- */

static int prepare(void)
{
	struct cw_mint_ca ca;
	struct cw_tls_client_cfg tc = {.gateway_ca = {.path = g.o.ca},
				       .gateway_name = g.o.server_name};
	char name[32];
	int rc = 0;

	if (cw_mint_ca_load(&ca, g.o.ca, g.o.ca_key) < 0) {
		fprintf(stderr, "causeway-loadgen: cannot read the CA %s / %s\n", g.o.ca,
			g.o.ca_key);
		return -EINVAL;
	}
	for (unsigned i = 0; i < g.o.sessions && !lgt_quit; i++) {
		struct cw_mint_pem cp, kp;

		node_name(i, name, sizeof(name));
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

/* Bulk mode: --bulk-size random bytes, sent as they are (IDENTITY). */
static int bulk_prepare(void)
{
	g.body_len = g.o.bulk_size;
	g.body_src = malloc(g.body_len);
	if (!g.body_src)
		return -ENOMEM;
	if (RAND_bytes(g.body_src, (int)g.body_len) != 1)
		return -EIO;
	cw_msg_body_identity(&g.body, g.body_src, g.body_len);
	g.have_body = true;
	if (!g.o.have_request) {
		snprintf(g.o.verb, sizeof(g.o.verb), "POST");
		snprintf(g.o.path, sizeof(g.o.path), "/api/v1/namespaces/default/secrets");
	}
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
		else if (!strcmp(arg, "bulk"))
			o->mode = M_BULK;
		else if (!strcmp(arg, "storm"))
			o->mode = M_STORM;
		else if (!strcmp(arg, "watch"))
			o->mode = M_WATCH;
		else
			return -EINVAL;
		return 0;
	case 'b':
		rc = cw_cli_num(arg, 1, LGT_BULK_MAX, &v);
		o->bulk_size = (unsigned)v;
		return rc;
	case 'T':
		rc = cw_cli_num(arg, 1, LGT_MAX_SESSIONS, &v);
		o->storm = (unsigned)v;
		return rc;
	case 'E':
		o->storm_resume = true;
		return 0;
	case 'C':
		o->cdf = arg;
		return 0;
	case 'w':
		o->watch = arg;
		return 0;
	case 'L':
		rc = cw_cli_num(arg, 1, LGT_MAX_SESSIONS, &v);
		o->listing = (unsigned)v;
		return rc;
	case 'X':
		o->marker = arg;
		return 0;
	case 'U':
		o->upstream = arg;
		return 0;
	case 'A':
		return cw_cli_secs(arg, 0, &o->marker_at);
	case 'g':
		return cw_cli_secs(arg, 0, &o->marker_gap);
	case 'G':
		rc = cw_cli_num(arg, 1, CW_LGW_MAX_MARKS, &v);
		o->markers = (unsigned)v;
		return rc;
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
		o->have_request = true;
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
					     {"bulk-size", required_argument, NULL, 'b'},
					     {"storm", required_argument, NULL, 'T'},
					     {"storm-resume", no_argument, NULL, 'E'},
					     {"cdf", required_argument, NULL, 'C'},
					     {"watch", required_argument, NULL, 'w'},
					     {"listing", required_argument, NULL, 'L'},
					     {"marker", required_argument, NULL, 'X'},
					     {"upstream", required_argument, NULL, 'U'},
					     {"marker-at", required_argument, NULL, 'A'},
					     {"markers", required_argument, NULL, 'G'},
					     {"marker-gap", required_argument, NULL, 'g'},
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
				.bulk_size = LGT_BULK_DEFAULT,
				.mode = M_HANDSHAKES,
				.watch = "pods,nodes,services",
				.marker_at = -1,
				.marker_gap = 2,
				.markers = 1,
				.verb = "GET",
				.path = "/api/v1/namespaces/default/secrets/x"};
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (parse_opt(c, optarg) < 0) {
			fprintf(stderr, "causeway-loadgen: bad value for %s\n", argv[optind - 1]);
			return -EINVAL;
		}
	if (optind != argc || !g.o.dut_ip || !g.o.src_ip || !g.o.ca || !g.o.ca_key ||
	    (unsigned long)g.o.sport + g.o.flows - 1 > 65535 ||
	    /* storm: at least one session left to carry requests, closed loop */
	    (g.o.mode == M_STORM && (g.o.storm >= g.o.sessions || !g.o.storm || g.o.rate)) ||
	    (g.o.mode == M_BULK && g.o.body) ||
	    (g.o.mode == M_WATCH && (g.o.body || g.o.rate || (g.o.marker && !g.o.upstream)))) {
		fprintf(stderr,
			"usage: causeway-loadgen EAL-ARGS -- --dut-ip A --src-ip A --ca FILE "
			"--ca-key FILE [--server-name NAME] [--port 10262] [--sessions N] "
			"[--connecting K] [--mode handshakes|idle|requests|bulk|storm|watch] "
			"[--seconds D] [--inflight K] [--rate R] [--request 'METHOD PATH'] "
			"[--body FILE] [--dict FILE] [--bulk-size BYTES] [--storm K (< N)] "
			"[--storm-resume] [--watch LIST] [--listing K] [--marker PATH "
			"--upstream A:PORT [--marker-at S] [--markers N] [--marker-gap S]] [--cdf "
			"FILE] [--sport N] "
			"[--flows N] "
			"[--dut-mac MAC]\n");
		return -EINVAL;
	}
	if (g.o.mode != M_STORM)
		g.o.storm = 0;
	if (!g.o.server_name)
		g.o.server_name = inet_ntop(AF_INET, &g.o.dut_ip, dut, sizeof(dut));
	return g.o.server_name ? 0 : -EINVAL;
}

/* ---- main ---- */

/* Until the DUT's MAC is known: ARP only. */
static void resolve_rx(void *ctx, struct rte_mbuf *m)
{
	(void)ctx;
	if (cw_lgp_is_arp(m))
		cw_lgp_arp_input(&g.p, m);
	rte_pktmbuf_free(m);
}

/* Storm mode's part of the summary: the storm and each phase's requests. */
static void summary_storm(void)
{
	static const char *const names[P_N] = {"idle", "storm"};

	printf(",\"storm\":{\"sessions\":%u,\"resume\":%s,\"closes\":%" PRIu64
	       ",\"reconnects\":%" PRIu64 ",\"with_ticket\":%" PRIu64 ",\"failed\":%" PRIu64
	       ",\"storm_s\":%.3f,\"handshakes_per_s\":%.0f},\"phases\":{",
	       g.o.storm, g.o.storm_resume ? "true" : "false", g.storm_closes, g.reconnects,
	       g.storm_tickets, g.storm_failed, g.phase_s[P_STORM],
	       g.phase_s[P_STORM] > 0 ? (double)g.reconnects / g.phase_s[P_STORM] : 0);
	for (unsigned p = 0; p < P_N; p++) {
		uint64_t n = hist_total(g.hist[p]);

		printf("%s\"%s\":{\"seconds\":%.3f,\"answered\":%" PRIu64
		       ",\"requests_per_s\":%.0f,\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,"
		       "\"p99_9\":%.1f}}",
		       p ? "," : "", names[p], g.phase_s[p], n,
		       g.phase_s[p] > 0 ? (double)n / g.phase_s[p] : 0, hist_pct(g.hist[p], 50),
		       hist_pct(g.hist[p], 99), hist_pct(g.hist[p], 99.9));
	}
	printf("}");
}

/* Watch mode's part: lg_watch.c's, with the marker's PATCH answer. */
static void summary_watch(void)
{
	uint32_t lo = UINT32_MAX, hi = 0;

	for (unsigned i = 0; i < g.o.sessions; i++) {
		lo = g.s[i].w.events < lo ? g.s[i].w.events : lo;
		hi = g.s[i].w.events > hi ? g.s[i].w.events : hi;
	}
	cw_lgw_summary(&g.w, g.o.sessions ? lo : 0, hi);
	printf(",\"marker_status\":%d,\"watch_settle_s\":%.3f",
	       g.marker_rc > 0 ? g.patch.status : g.marker_rc, g.settle_s);
}

/* One JSON line: the run's figures (in the usage comment at the top). */
static void summary(double up_s, double run_s)
{
	uint64_t all[LGT_HIST];
	double body = g.have_body ? (double)g.body_len : 0;

	hist_all(all);
	printf(
	    "{\"mode\":\"%s\",\"sessions\":%u,\"up\":%u,\"failed\":%u,\"connect_s\":%.3f,"
	    "\"handshakes_per_s\":%.0f,\"run_s\":%.3f,\"requests\":%" PRIu64
	    ",\"answered\":%" PRIu64 ",\"requests_per_s\":%.0f,\"latency_us\":{\"p50\":%.1f,"
	    "\"p99\":%.1f,\"p99_9\":%.1f},\"answers\":{\"403\":%" PRIu64
	    ",\"other_status\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"other_error\":%" PRIu64
	    "},\"resets\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"stalled\":%" PRIu64
	    ",\"unclosed\":%u,\"body_bytes\":%zu,\"body_wire_bytes\":%zu,\"bodies_sent_bytes\":%.0f"
	    ",\"bodies_answered_bytes\":%.0f,\"payload_gbit_s\":%.3f,\"rate\":%.0f,"
	    "\"late\":%" PRIu64 ",\"sched_wait_pct\":%.2f,\"answer_bytes\":%" PRIu64
	    ",\"answer_bytes_min\":%" PRIu64 ",\"answer_bytes_max\":%" PRIu64
	    ",\"rx_pkts\":%" PRIu64 ",\"tx_pkts\":%" PRIu64 ",\"tx_full\":%" PRIu64,
	    mode_names[g.o.mode], g.o.sessions, g.up, g.failed, up_s,
	    up_s > 0 ? (double)g.up / up_s : 0, run_s, g.sent, g.answered,
	    run_s > 0 ? (double)g.answered / run_s : 0, hist_pct(all, 50), hist_pct(all, 99),
	    hist_pct(all, 99.9), g.status_403, g.status_other, g.refused, g.errors_other, g.resets,
	    g.bad, g.stalled, g.unclosed, g.have_body ? g.body_len : 0,
	    g.have_body ? g.body.data.len : 0, body * (double)g.sent, body * (double)g.answered,
	    run_s > 0 ? body * (double)g.hold_answered * 8 / run_s / 1e9 : 0, g.o.rate, g.late,
	    run_s > 0 ? (double)g.waited / (run_s * 1e7) : 0, g.answer_bytes, g.answer_min,
	    g.answer_max, g.rx_pkts, g.tx_pkts, g.tx_full);
	if (g.o.mode == M_STORM)
		summary_storm();
	if (g.o.mode == M_WATCH)
		summary_watch();
	printf("}\n");
	fflush(stdout);
}

/* Whether a marker was made, and every one made (as many as the hold
 * had time for) was answered 200 and reached every session. */
static bool all_marked(void)
{
	if (!g.w.n_marks || g.marker_rc != 1 || g.patch.status != 200)
		return false;
	for (unsigned k = 0; k < g.w.n_marks; k++)
		if (g.w.marks[k].sessions != g.o.sessions)
			return false;
	return true;
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
	g.swait = calloc(g.o.storm ? g.o.storm : 1, sizeof(*g.swait));
	g.wq = calloc(g.o.sessions, sizeof(*g.wq));
	g.storm_at = UINT64_MAX;
	if (!g.s || !g.dirty || !g.swait || !g.wq || cw_cidmap_init(&g.map, g.o.sessions) < 0)
		return -ENOMEM;
	if (g.o.mode == M_WATCH && (rc = cw_lgw_init(&g.w, g.o.watch, g.o.sessions)) < 0) {
		fprintf(stderr, "causeway-loadgen: --watch %s: %s\n", g.o.watch, strerror(-rc));
		return rc;
	}
	rc = g.o.mode == M_BULK ? bulk_prepare() : body_prepare();
	if (rc < 0 || (rc = prepare()) < 0)
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
	if (g.o.mode == M_WATCH)
		g.settle_s = watch_settle();
	if (g.o.mode != M_HANDSHAKES)
		run_s = hold(g.o.mode != M_IDLE && g.o.mode != M_WATCH);
	close_all();
	summary(up_s, run_s);
	if (g.o.cdf && (rc = cdf_write(g.o.cdf)) < 0) {
		fprintf(stderr, "causeway-loadgen: cannot write %s: %s\n", g.o.cdf, strerror(-rc));
		return 1;
	}
	if (g.o.mode == M_STORM && (g.storm_failed || !g.reconnects))
		return 1;
	if (g.o.mode == M_WATCH && (g.w.watching != g.o.sessions || (g.o.marker && !all_marked())))
		return 1;
	return g.failed || g.up != g.o.sessions ||
		       (g.o.mode != M_IDLE && g.o.mode != M_HANDSHAKES && g.o.mode != M_WATCH &&
			!g.answered)
		   ? 1
		   : 0;
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
	/* The emulated agents' freed memory stays with the generator, as a
	 * real agent's stays with it: glibc would give the top of the heap
	 * back to the kernel, and every change fanned out to all the agents
	 * would then cost the generator fresh pages, zeroed, for each. */
	if (!mallopt(M_TRIM_THRESHOLD, INT_MAX))
		fprintf(stderr, "causeway-loadgen: mallopt(M_TRIM_THRESHOLD) failed\n");
	/* Timing a change's fan-out: pages present as soon as they are
	 * mapped, so that no free chunk of the heap hides pages never
	 * touched (see watch_turn()). */
	if (g.o.marker && mlockall(MCL_CURRENT | MCL_FUTURE))
		fprintf(stderr, "causeway-loadgen: mlockall: %s\n", strerror(errno));
	/* Blocks an agent's session frees when it goes quiet stay cached for
	 * the next wake, up to 16 KiB a session: what a real agent's own
	 * malloc would find at once, here without sorting through the bins
	 * of 10,000 agents' heap while a change's fan-out is timed. */
	cw_pool_init(&g.mem, NULL, (size_t)g.o.sessions * LGT_WARM_PER);
	g.hz = rte_get_tsc_hz();
	g.p.pool = rte_pktmbuf_pool_create("cw_lgt", LGT_POOL, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   (int)rte_socket_id());
	rc = g.p.pool ? run() : -ENOMEM;
	if (rc < 0)
		fprintf(stderr, "causeway-loadgen: %s\n", strerror(-rc));
	for (unsigned i = 0; g.s && i < g.o.sessions; i++) {
		cw_as_free(g.s[i].as);
		cw_tls_client_ctx_free(g.s[i].tls);
		free(g.s[i].ticket);
		cw_lgw_sess_free(&g.s[i].w);
	}
	cw_pool_trim(&g.mem);
	cw_lgw_free(&g.w);
	if (g.marks_sent)
		cw_lg_patch_close(&g.patch);
	free(g.s);
	free(g.swait);
	free(g.wq);
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
