/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/conn.c: an agent and a gateway session driven against each other
 * over the seeded simulated link (simlink.h) with a 10 ms one-way delay:
 * bulk transfer byte-exact, under loss, reordering and duplication, many
 * streams both ways, idle timeout and keepalive, CONNECTION_CLOSE, and
 * ACK decimation (§10.1) driven packet by packet.
 * Certificates are generated here as in test_handshake.c and checked at a
 * fixed wall-clock time.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "simlink.h"
#include "testutil.h"
#include "tunnel/conn.h"
#include "tunnel/frame.h"
#include "tunnel/protect.h"

#define T0	INT64_C(1800000000)
#define DAY	INT64_C(86400)
#define GW_NAME "gw.causeway.test"
#define MS	UINT64_C(1000000)
#define SEC	(1000 * MS)

static struct {
	struct tu_ca ca;
	struct tu_ident gw, node_a;
	uint8_t tkey[CW_TLS_TICKET_KEY_LEN];
} fx;
/* ---- PKI ---- */

static int setup_pki(void **state)
{
	(void)state;
	tu_ca_make(&fx.ca, "Causeway test CA", T0);
	fx.gw = tu_make_ident("gateway", "DNS:" GW_NAME, fx.ca.cert, fx.ca.key, T0 - DAY,
			      T0 + 365 * DAY);
	fx.node_a =
	    tu_make_ident("node:node-a", NULL, fx.ca.cert, fx.ca.key, T0 - DAY, T0 + 365 * DAY);
	for (size_t j = 0; j < CW_TLS_TICKET_KEY_LEN; j++)
		fx.tkey[j] = (uint8_t)(0x11 + j);
	return 0;
}

static int teardown_pki(void **state)
{
	(void)state;
	tu_ident_free(&fx.gw);
	tu_ident_free(&fx.node_a);
	tu_ca_free(&fx.ca);
	return 0;
}

/* ---- endpoints ---- */

#define MAX_XFER 16
#define CHUNK	 16384

/* One direction of one stream: what is sent, or what arrived. */
struct xfer {
	uint64_t id;
	size_t total, done; /* bytes to send and sent; or received */
	bool fin;	    /* FIN sent; or end of stream read */
	uint64_t sum;	    /* FNV-1a of the bytes */
	size_t bad;	    /* received bytes not matching the pattern */
	uint64_t reset;	    /* the peer's RESET_STREAM code, once read */
	bool was_reset;
};

struct world;

struct ep {
	struct world *w;
	bool gateway;
	int id, peer;
	struct cw_conn *c;
	struct tu_counter mem;
	struct cw_alloc a;
	bool started;
	uint64_t closed_at;
	uint64_t last_sent; /* when the last datagram left */
	size_t ntx, nrx, tx_len;
	size_t first_len; /* tx[0] sends this much instead, when not 0 */
	uint64_t stall;	  /* 1 + the ID of a stream never read; 0: none */
	struct xfer tx[MAX_XFER], rx[MAX_XFER];
};

struct world {
	struct sim *s;
	struct cw_tls_client_ctx *cc;
	struct cw_tls_server_ctx *sc;
	struct cw_token_keys tk;
	struct cw_aead retry;
	struct cw_conn_cfg cfg;
	struct ep ag, gw;
};

static uint8_t pat(uint64_t sid, uint64_t off)
{
	return (uint8_t)(off * 131 + sid * 17 + (off >> 10));
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * UINT64_C(0x100000001b3);
	return h;
}

#define FNV0 UINT64_C(0xcbf29ce484222325)

/* The checksum the receiver of @len bytes on stream @sid should reach. */
static uint64_t expected_sum(uint64_t sid, size_t len)
{
	uint64_t h = FNV0;

	for (size_t i = 0; i < len; i++) {
		uint8_t b = pat(sid, i);

		h = fnv(h, &b, 1);
	}
	return h;
}

static void flush(struct ep *e, uint64_t now)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	int n;

	while ((n = cw_conn_send(e->c, now, b, sizeof(b))) > 0) {
		assert_true(n <= CW_CONN_DGRAM_MAX);
		sim_send(e->w->s, e->id, e->peer, b, (size_t)n);
		e->last_sent = now;
	}
	assert_int_equal(n, 0);
}

static struct xfer *rx_of(struct ep *e, uint64_t id)
{
	for (size_t i = 0; i < e->nrx; i++)
		if (e->rx[i].id == id)
			return &e->rx[i];
	assert_true(e->nrx < MAX_XFER);
	e->rx[e->nrx] = (struct xfer){.id = id, .sum = FNV0};
	return &e->rx[e->nrx++];
}

static void read_stream(struct ep *e, uint64_t id)
{
	uint8_t b[CHUNK];
	struct xfer *x = rx_of(e, id);
	uint64_t code;
	size_t n;
	bool fin;
	int r;

	while (!x->fin && (r = cw_conn_stream_read(e->c, id, b, sizeof(b), &n, &fin, &code)) == 0) {
		for (size_t i = 0; i < n; i++)
			x->bad += b[i] != pat(id, x->done + i);
		x->sum = fnv(x->sum, b, n);
		x->done += n;
		x->fin = fin;
	}
	if (!x->fin && r == -ECONNRESET) {
		x->was_reset = true;
		x->reset = code;
	}
}

static void write_streams(struct ep *e)
{
	uint8_t b[CHUNK];

	for (size_t k = 0; k < e->ntx; k++) {
		struct xfer *x = &e->tx[k];

		while (x->done < x->total) {
			size_t len = x->total - x->done < CHUNK ? x->total - x->done : CHUNK, n = 0;

			for (size_t i = 0; i < len; i++)
				b[i] = pat(x->id, x->done + i);
			if (cw_conn_stream_write(e->c, x->id, b, len, &n) < 0 || n == 0)
				break;
			x->done += n;
		}
		if (x->done == x->total && !x->fin) {
			assert_int_equal(cw_conn_stream_finish(e->c, x->id), 0);
			x->fin = true;
		}
	}
}

/* Once established: the transport parameters (as Hello / HelloAck would
 * carry them) and the streams this side sends on. */
static void start(struct ep *e)
{
	uint64_t id;

	assert_int_equal(cw_conn_set_peer_params(e->c, 8u << 20, 1u << 20, e->gateway ? 256 : 1024,
						 e->w->cfg.idle_timeout_ns / MS),
			 0);
	if (!e->gateway)
		assert_int_equal(cw_conn_stream_open(e->c, &id), 0), assert_int_equal(id, 0);
	for (size_t k = 0; k < e->ntx; k++) {
		assert_int_equal(cw_conn_stream_open(e->c, &id), 0);
		e->tx[k] = (struct xfer){.id = id,
					 .total = k == 0 && e->first_len ? e->first_len : e->tx_len,
					 .sum = FNV0};
	}
	e->started = true;
}

static void pump(struct ep *e, uint64_t now)
{
	unsigned ev;
	uint64_t id;

	if (!e->c)
		return;
	if (!e->closed_at && cw_conn_state(e->c) == CW_CONN_CLOSED)
		e->closed_at = now;
	if (!e->started && cw_conn_state(e->c) == CW_CONN_ESTABLISHED)
		start(e);
	while (cw_conn_next_event(e->c, &id, &ev) == 0)
		if ((ev & (CW_STREAM_EV_READABLE | CW_STREAM_EV_NEW)) && e->stall != id + 1)
			read_stream(e, id);
	if (e->started && cw_conn_state(e->c) == CW_CONN_ESTABLISHED)
		write_streams(e);
	flush(e, now);
}

static void gateway_first(struct ep *e, uint64_t now, uint8_t *d, size_t len)
{
	static const uint8_t ADDR[4] = {198, 51, 100, 7};
	struct cw_hs_gateway_cfg hc = {.tls = e->w->sc,
				       .wall_time = T0,
				       .cid = {0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97}};
	struct cw_hs_peer peer = {CW_TOKEN_IPV4, ADDR, 40000};
	struct cw_conn_cfg cfg = e->w->cfg;
	uint8_t out[CW_HS_DGRAM_MAX], scid[CW_CID_LEN] = {7};
	struct cw_hs_screen scr;

	if (cw_hs_screen(d, len, &peer, now, &e->w->tk, &e->w->retry, CW_RETRY_NEVER, scid, out,
			 sizeof(out), &scr) != CW_HS_V_ACCEPT)
		return;
	cfg.alloc = &e->a;
	cfg.seed = 2;
	assert_int_equal(cw_conn_gateway_new(&cfg, &hc, &scr, d, len, now, &e->c), 0);
}

static void ep_recv(void *ep, struct sim *s, int from, uint64_t now, const uint8_t *d, size_t len)
{
	struct ep *e = ep;
	uint8_t b[SIM_MAX_DGRAM];

	(void)s;
	(void)from;
	memcpy(b, d, len);
	if (!e->c && e->gateway)
		gateway_first(e, now, b, len);
	else if (e->c)
		assert_int_equal(cw_conn_recv(e->c, now, b, len), 0);
	pump(e, now);
}

static uint64_t ep_next(void *ep)
{
	struct ep *e = ep;

	return e->c ? cw_conn_next_timeout(e->c) : SIM_NEVER;
}

static void ep_timeout(void *ep, struct sim *s, uint64_t now)
{
	struct ep *e = ep;

	(void)s;
	cw_conn_on_timeout(e->c, now);
	pump(e, now);
}

static const struct sim_ep_ops OPS = {ep_recv, ep_next, ep_timeout};

/* ---- the world ---- */

static void world_init(struct world *w, uint64_t seed, uint64_t idle_ns)
{
	struct cw_tls_server_cfg scfg = {.cert_chain = tu_pem_ref(&fx.gw.cert),
					 .key = tu_pem_ref(&fx.gw.key),
					 .node_ca = tu_pem_ref(&fx.ca.pem)};
	struct cw_tls_client_cfg ccfg = {.cert = tu_pem_ref(&fx.node_a.cert),
					 .key = tu_pem_ref(&fx.node_a.key),
					 .gateway_ca = tu_pem_ref(&fx.ca.pem),
					 .gateway_name = GW_NAME};
	struct sim_impair imp = {.delay_ns = 10 * MS};
	uint8_t key[CW_TOKEN_KEY_LEN];

	memset(w, 0, sizeof(*w));
	memcpy(scfg.ticket_key, fx.tkey, sizeof(fx.tkey));
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &w->sc), 0);
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &w->cc), 0);
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(cw_token_init(&w->tk, key, 0, 0), 0);
	assert_int_equal(cw_retry_init(&w->retry), 0);
	w->cfg.idle_timeout_ns = idle_ns;
	w->s = sim_new(seed);
	assert_non_null(w->s);
	w->ag = (struct ep){.w = w, .gateway = false};
	w->gw = (struct ep){.w = w, .gateway = true};
	w->ag.a = (struct cw_alloc){tu_count_alloc, tu_count_free, &w->ag.mem};
	w->gw.a = (struct cw_alloc){tu_count_alloc, tu_count_free, &w->gw.mem};
	w->ag.id = sim_add_ep(w->s, &OPS, &w->ag);
	w->gw.id = sim_add_ep(w->s, &OPS, &w->gw);
	w->ag.peer = w->gw.id;
	w->gw.peer = w->ag.id;
	sim_set_impair(w->s, 0, 1, &imp);
	sim_set_impair(w->s, 1, 0, &imp);
}

static void world_impair(struct world *w, const struct sim_impair *imp)
{
	sim_set_impair(w->s, 0, 1, imp);
	sim_set_impair(w->s, 1, 0, imp);
}

static void world_connect(struct world *w)
{
	struct cw_hs_agent_cfg hc = {.tls = w->cc,
				     .wall_time = T0,
				     .cid = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8},
				     .odcid = {0x0d, 0x0c, 0x1d, 1, 2, 3, 4, 5}};
	struct cw_conn_cfg cfg = w->cfg;

	cfg.alloc = &w->ag.a;
	cfg.seed = 1;
	assert_int_equal(cw_conn_agent_new(&cfg, &hc, sim_now(w->s), &w->ag.c), 0);
	pump(&w->ag, sim_now(w->s));
}

static void world_free(struct world *w)
{
	cw_conn_free(w->ag.c);
	cw_conn_free(w->gw.c);
	assert_int_equal(w->ag.mem.blocks, 0);
	assert_int_equal(w->gw.mem.blocks, 0);
	assert_int_equal(w->ag.mem.bytes, 0);
	assert_int_equal(w->gw.mem.bytes, 0);
	sim_free(w->s);
	cw_tls_client_ctx_free(w->cc);
	cw_tls_server_ctx_free(w->sc);
	cw_token_free(&w->tk);
	cw_aead_free(&w->retry);
}

static bool side_done(const struct ep *e, const struct ep *peer)
{
	size_t fins = 0;

	size_t want = peer->ntx - (e->stall != 0);

	if (!e->c || e->nrx < want)
		return false;
	for (size_t i = 0; i < e->nrx; i++)
		fins += e->rx[i].fin;
	return fins == want;
}

static bool all_done(const struct world *w)
{
	return side_done(&w->gw, &w->ag) && side_done(&w->ag, &w->gw);
}

/* Run until every stream arrived or @limit of virtual time passed. */
static void run_transfer(struct world *w, uint64_t limit)
{
	uint64_t end = sim_now(w->s) + limit;

	while (!all_done(w) && sim_now(w->s) < end)
		sim_run(w->s, sim_now(w->s) + 100 * MS, 1000000);
	assert_true(all_done(w));
}

static void check_received(const struct ep *rcv, const struct ep *snd)
{
	for (size_t k = 0; k < snd->ntx; k++) {
		const struct xfer *t = &snd->tx[k];
		const struct xfer *r = NULL;

		for (size_t i = 0; i < rcv->nrx; i++)
			if (rcv->rx[i].id == t->id)
				r = &rcv->rx[i];
		assert_non_null(r);
		assert_true(r->fin);
		assert_int_equal(r->done, t->total);
		assert_int_equal(r->bad, 0);
		assert_int_equal(r->sum, expected_sum(t->id, t->total));
	}
}

static void bulk(uint64_t seed, const struct sim_impair *imp, struct world *w)
{
	world_init(w, seed, 0);
	w->ag.ntx = 1;
	w->ag.tx_len = 1u << 20;
	if (imp)
		world_impair(w, imp);
	world_connect(w);
	run_transfer(w, 120 * SEC);
	check_received(&w->gw, &w->ag);
	assert_int_equal(cw_conn_state(w->ag.c), CW_CONN_ESTABLISHED);
	assert_int_equal(cw_conn_state(w->gw.c), CW_CONN_ESTABLISHED);
	assert_string_equal(cw_conn_node_name(w->gw.c), "node-a");
	/* HANDSHAKE_DONE arrived: the agent confirmed, keeping its handshake for
	 * the ticket; the gateway confirmed and released its handshake. */
	assert_int_equal(cw_hs_state(cw_conn_hs(w->ag.c)), CW_HS_CONFIRMED);
	assert_null(cw_conn_hs(w->gw.c));
	assert_int_equal(w->ag.tx[0].id, 4);
}

/* ---- tests ---- */

static void test_bulk_clean(void **state)
{
	const struct cw_conn_stats *sa, *sg;
	struct world w;
	size_t tlen;

	(void)state;
	bulk(1, NULL, &w);
	sa = cw_conn_stats(w.ag.c);
	sg = cw_conn_stats(w.gw.c);
	assert_int_equal(sa->lost + sg->lost, 0);
	assert_int_equal(sa->retransmits, 0);
	assert_int_equal(sa->dropped + sg->dropped, 0);
	assert_true(sa->pkts_out > (1u << 20) / CW_CONN_DGRAM_MAX);
	/* §10.1: an ACK for every second packet over the first
	 * CW_CONN_ACK_RUN, then for every CW_CONN_ACK_EVERY_BULK-th (a few
	 * more when the delay timer runs out first, and at the end); a PING
	 * after 32 ACK-only packets so that the gateway's own packets get
	 * acknowledged. */
	assert_true(sg->acks_sent >= CW_CONN_ACK_RUN / CW_CONN_ACK_EVERY +
					 (sa->pkts_out - CW_CONN_ACK_RUN) / CW_CONN_ACK_EVERY_BULK);
	assert_true(sg->acks_sent <= CW_CONN_ACK_RUN / CW_CONN_ACK_EVERY +
					 (sa->pkts_out - CW_CONN_ACK_RUN) / CW_CONN_ACK_EVERY_BULK +
					 10);
	assert_true(sg->pings_sent >= sg->ack_only_sent / 33);
	assert_true(sg->pings_sent > 0);
	/* Memory: the sender holds at most its 1 MiB send buffer and its
	 * records; the receiver, whose reader keeps up, little. */
	assert_true(w.ag.mem.peak < (3u << 19));
	assert_true(w.gw.mem.peak < (1u << 19));
	assert_int_equal(cw_conn_streams(w.ag.c)->stats.retx_bytes, 0);
	/* 10 ms each way: the estimate is near 20 ms. */
	assert_true(cw_conn_srtt(w.ag.c) >= 20 * MS && cw_conn_srtt(w.ag.c) < 60 * MS);
	assert_non_null(cw_conn_ticket(w.ag.c, &tlen));
	assert_true(tlen > 0);
	world_free(&w);
}

static void test_bulk_loss(void **state)
{
	struct sim_impair imp = {.delay_ns = 10 * MS, .loss = 0.05};
	const struct cw_conn_stats *sa;
	struct world w;

	(void)state;
	bulk(7, &imp, &w);
	sa = cw_conn_stats(w.ag.c);
	assert_true(sa->lost > 0);
	assert_true(sa->retransmits > 0);
	assert_true(cw_conn_streams(w.ag.c)->stats.retx_bytes > 0);
	assert_true(sim_stats(w.s, 0, 1)->lost > 0);
	assert_true(sim_stats(w.s, 1, 0)->lost > 0);
	world_free(&w);
}

static void test_bulk_reorder_dup(void **state)
{
	struct sim_impair imp = {.delay_ns = 10 * MS,
				 .reorder = 0.1,
				 .reorder_ns = 5 * MS,
				 .dup = 0.05,
				 .jitter_ns = 1 * MS};
	const struct cw_conn_stats *sg;
	struct world w;

	(void)state;
	bulk(11, &imp, &w);
	sg = cw_conn_stats(w.gw.c);
	/* Duplicates are dropped by the replay window, never delivered twice. */
	assert_true(sg->dropped > 0);
	assert_true(sim_stats(w.s, 0, 1)->duplicated > 0);
	assert_true(sim_stats(w.s, 0, 1)->reordered > 0);
	world_free(&w);
}

/* A 10 s blackout in mid-transfer: PTO backoff bridges it, then the data
 * completes. */
static void test_bulk_blackout(void **state)
{
	struct sim_impair imp = {
	    .delay_ns = 10 * MS, .blackout_from = 100 * MS, .blackout_to = 10100 * MS};
	const struct cw_conn_stats *sa;
	struct world w;

	(void)state;
	bulk(13, &imp, &w);
	sa = cw_conn_stats(w.ag.c);
	assert_true(sim_now(w.s) > 10100 * MS);
	assert_true(sa->pto >= 4);
	assert_true(sa->probes >= 4);
	assert_true(sa->lost > 0);
	assert_true(sim_stats(w.s, 0, 1)->blackholed > 0);
	world_free(&w);
}

static void test_many_streams(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 3, 0);
	w.ag.ntx = w.gw.ntx = 10;
	w.ag.tx_len = w.gw.tx_len = 100000;
	world_connect(&w);
	run_transfer(&w, 60 * SEC);
	check_received(&w.gw, &w.ag);
	check_received(&w.ag, &w.gw);
	assert_int_equal(w.gw.tx[0].id, 1);
	assert_int_equal(w.gw.tx[9].id, 37);
	world_free(&w);
}

/* One stream whose reader never reads: it stops at its window, and the
 * nine others complete (§9.5: a stalled reader stops only its stream). */
static void test_stalled_reader(void **state)
{
	struct cw_stream_info info;
	struct world w;

	(void)state;
	world_init(&w, 4, 0);
	w.ag.ntx = 10;
	w.ag.tx_len = 100000;
	w.ag.first_len = 3u << 20;
	w.gw.stall = 4 + 1; /* the agent's first data stream */
	world_connect(&w);
	run_transfer(&w, 60 * SEC);
	for (size_t k = 1; k < w.ag.ntx; k++) {
		const struct xfer *r = rx_of(&w.gw, w.ag.tx[k].id);

		assert_true(r->fin);
		assert_int_equal(r->done, w.ag.tx[k].total);
		assert_int_equal(r->sum, expected_sum(w.ag.tx[k].id, w.ag.tx[k].total));
	}
	sim_run(w.s, sim_now(w.s) + 2 * SEC, 1000000);
	assert_int_equal(cw_streams_info(cw_conn_streams(w.ag.c), 4, &info), 0);
	assert_int_equal(info.tx_sent, 1u << 20); /* the stream window, no more */
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_ESTABLISHED);
	world_free(&w);
}

static void test_idle_blackout(void **state)
{
	struct sim_impair imp = {.delay_ns = 10 * MS};
	struct world w;
	uint64_t t;

	(void)state;
	world_init(&w, 5, 10 * SEC);
	world_connect(&w);
	sim_run(w.s, 2 * SEC, 1000000);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_ESTABLISHED);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	t = sim_now(w.s);
	imp.blackout_from = t;
	imp.blackout_to = t + 100 * SEC;
	world_impair(&w, &imp);
	sim_run(w.s, 9500 * MS, 1000000);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_ESTABLISHED);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	sim_run(w.s, t + 15 * SEC, 1000000);
	/* The gateway last heard the agent at the end of the handshake; the
	 * agent restarted its timer with its first keepalive after that. */
	assert_true(w.gw.closed_at >= 10 * SEC && w.gw.closed_at < 10200 * MS);
	assert_true(w.ag.closed_at >= 12 * SEC && w.ag.closed_at < 13500 * MS);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_CLOSED);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_CLOSED);
	assert_int_equal(cw_conn_end(w.ag.c), CW_CONN_END_IDLE);
	assert_int_equal(cw_conn_end(w.gw.c), CW_CONN_END_IDLE);
	assert_int_equal(cw_conn_close_code(w.ag.c, true), -1);
	assert_int_equal(cw_conn_close_code(w.gw.c, false), -1);
	assert_true(sim_stats(w.s, 0, 1)->blackholed > 0); /* keepalives, probes */
	world_free(&w);
}

static void test_keepalive(void **state)
{
	const struct cw_conn_stats *sa, *sg;
	struct world w;

	(void)state;
	world_init(&w, 6, 10 * SEC);
	world_connect(&w);
	/* The first keepalive goes out between 0.9 K and K (3.0 to 3.33 s);
	 * the gateway acknowledges that lone PING after max_ack_delay. */
	sim_run(w.s, 5 * SEC, 1000000);
	assert_int_equal(cw_conn_stats(w.ag.c)->keepalives, 1);
	assert_true(w.ag.last_sent >= 3 * SEC && w.ag.last_sent <= 3334 * MS);
	assert_int_equal(w.gw.last_sent, w.ag.last_sent + 10 * MS + 25 * MS);
	sim_run(w.s, 120 * SEC, 1000000);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_ESTABLISHED);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	sa = cw_conn_stats(w.ag.c);
	sg = cw_conn_stats(w.gw.c);
	/* K = 10 s / 3, jittered down by at most 10 %: 36 to 40 in 120 s. */
	assert_true(sa->keepalives >= 34 && sa->keepalives <= 40);
	assert_int_equal(sg->keepalives, 0);
	assert_true(sg->acks_sent >= sa->keepalives);
	world_free(&w);
}

/* A configured keepalive interval below min(25 s, idle / 3) is the cap. */
static void test_keepalive_configured(void **state)
{
	struct world w;
	uint64_t n;

	(void)state;
	world_init(&w, 7, 90 * SEC);
	w.cfg.keepalive_ns = 2 * SEC;
	world_connect(&w);
	sim_run(w.s, sim_now(w.s) + 20 * SEC, 1000000);
	n = cw_conn_stats(w.ag.c)->keepalives;
	/* K = 2 s, jittered down by at most 10 %: 10 or 11 in 20 s. */
	assert_true(n >= 10 && n <= 11);
	world_free(&w);
}

/* A new stream from @e of @len bytes, sent by the next pumps. */
static void add_stream(struct ep *e, size_t len)
{
	uint64_t id;

	assert_true(e->ntx < MAX_XFER);
	assert_int_equal(cw_conn_stream_open(e->c, &id), 0);
	e->tx[e->ntx++] = (struct xfer){.id = id, .total = len, .sum = FNV0};
	pump(e, sim_now(e->w->s));
}

/*
 * A session quiet for CW_CONN_COLD_NS gives back its cipher contexts and
 * the sent-packet ring its unacknowledged ACK-only packets still held; the
 * next packets make them again and data flows both ways byte for byte,
 * under the same keys.
 */
static void test_quiet_then_resume(void **state)
{
	struct sim_impair imp = {.delay_ns = 10 * MS};
	struct world w;
	size_t busy;

	(void)state;
	world_init(&w, 31, 0);
	world_impair(&w, &imp);
	w.ag.ntx = w.gw.ntx = 1;
	w.ag.tx_len = w.gw.tx_len = 200000;
	world_connect(&w);
	run_transfer(&w, 60 * SEC);
	/* Last, data one way only: the gateway answers with ACK-only
	 * packets, which the agent does not acknowledge. */
	add_stream(&w.ag, 1000);
	run_transfer(&w, 60 * SEC);
	busy = w.gw.mem.bytes;
	sim_run(w.s, sim_now(w.s) + CW_CONN_COLD_NS / 2, 1000000);
	assert_int_equal(w.gw.mem.bytes, busy);
	sim_run(w.s, sim_now(w.s) + CW_CONN_COLD_NS, 1000000);
	assert_true(w.gw.mem.bytes < busy);

	add_stream(&w.ag, 50000);
	add_stream(&w.gw, 70000);
	run_transfer(&w, 60 * SEC);
	check_received(&w.gw, &w.ag);
	check_received(&w.ag, &w.gw);
	assert_int_equal(cw_conn_stats(w.ag.c)->key_updates, 0);
	assert_int_equal(cw_conn_stats(w.gw.c)->key_updates, 0);
	assert_int_equal(cw_conn_stats(w.ag.c)->dropped, 0);
	assert_int_equal(cw_conn_stats(w.gw.c)->dropped, 0);
	world_free(&w);
}

/* ---- ACK decimation (§10.1), driven by hand ---- */

/* The agent's next datagram (all carry stream data here), its clock
 * moved on to its next timer while the pacer holds it. */
static size_t agent_dgram(struct world *w, uint64_t *now, uint8_t *b)
{
	int n;

	while ((n = cw_conn_send(w->ag.c, *now, b, CW_CONN_DGRAM_MAX)) == 0) {
		uint64_t t = cw_conn_next_timeout(w->ag.c);

		assert_true(t != SIM_NEVER);
		*now = t > *now ? t : *now + 1;
		cw_conn_on_timeout(w->ag.c, *now);
	}
	assert_true(n > 0);
	return (size_t)n;
}

/* What the gateway sends at @gnow, handed to the agent; returns the count. */
static int gateway_answers(struct world *w, uint64_t gnow, uint64_t anow)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	int n, k = 0;

	while ((n = cw_conn_send(w->gw.c, gnow, b, sizeof(b))) > 0) {
		assert_int_equal(cw_conn_recv(w->ag.c, anow, b, (size_t)n), 0);
		k++;
	}
	assert_int_equal(n, 0);
	return k;
}

/* Deliver the agent's next datagram to the gateway at @gnow; returns how
 * many datagrams the gateway answered with at once. */
static int deliver_one(struct world *w, uint64_t *anow, uint64_t gnow)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	size_t n = agent_dgram(w, anow, b);

	assert_int_equal(cw_conn_recv(w->gw.c, gnow, b, n), 0);
	return gateway_answers(w, gnow, *anow);
}

/*
 * The gateway acknowledges every second packet over the first
 * CW_CONN_ACK_RUN in order, then every CW_CONN_ACK_EVERY_BULK-th; a gap
 * brings an ACK at once and every second packet again; traffic that stops
 * short of the count is acknowledged by the timer, within a quarter of
 * the RTT. The gateway's clock stands still (1 us per datagram) so that
 * only the count can make an ACK due; the gateway does not read, so it
 * sends nothing but ACKs.
 */
static void test_ack_decimation(void **state)
{
	uint8_t b[CW_CONN_DGRAM_MAX], data[CHUNK];
	uint64_t id, anow, gnow, due, q;
	struct world w;
	size_t n;
	int acks;

	(void)state;
	world_init(&w, 37, 0);
	world_connect(&w);
	sim_run(w.s, sim_now(w.s) + 2 * SEC, 1000000);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	assert_null(cw_conn_hs(w.gw.c)); /* confirmed */
	assert_int_equal(cw_conn_stream_open(w.ag.c, &id), 0);
	memset(data, 0x5c, sizeof(data));
	for (size_t left = 512u << 10; left; left -= n) {
		n = 0;
		assert_int_equal(cw_conn_stream_write(w.ag.c, id, data,
						      left < sizeof(data) ? left : sizeof(data),
						      &n),
				 0);
		assert_true(n > 0);
	}
	anow = gnow = sim_now(w.s);

	/* Whatever the handshake left counted: past the start, surely. */
	for (int i = 0; i < 2 * CW_CONN_ACK_RUN; i++)
		(void)deliver_one(&w, &anow, gnow += 1000);
	acks = 0;
	for (int i = 0, last = -1; i < 20 * CW_CONN_ACK_EVERY_BULK; i++) {
		int k = deliver_one(&w, &anow, gnow += 1000);

		assert_true(k <= 1);
		if (k && last >= 0)
			assert_int_equal(i - last, CW_CONN_ACK_EVERY_BULK);
		if (k)
			last = i;
		acks += k;
	}
	assert_true(acks >= 19);

	/* A gap: the packet after the lost one is acknowledged at once; then
	 * every second packet for CW_CONN_ACK_RUN, then every tenth again. */
	(void)agent_dgram(&w, &anow, b);
	assert_int_equal(deliver_one(&w, &anow, gnow += 1000), 1);
	for (int i = 1; i <= CW_CONN_ACK_RUN; i++)
		assert_int_equal(deliver_one(&w, &anow, gnow += 1000), i % CW_CONN_ACK_EVERY == 0);
	for (int i = 1; i <= CW_CONN_ACK_EVERY_BULK; i++)
		assert_int_equal(deliver_one(&w, &anow, gnow += 1000), i == CW_CONN_ACK_EVERY_BULK);

	/* Traffic stops short of the count: the timer sends the ACK. */
	assert_int_equal(deliver_one(&w, &anow, gnow += 1000), 0);
	q = cw_conn_srtt(w.gw.c) / 4;
	assert_true(q > 1 * MS && q < 25 * MS); /* 10 ms each way */
	due = cw_conn_next_timeout(w.gw.c);
	assert_true(due > gnow && due <= gnow + q);
	assert_int_equal(gateway_answers(&w, due - 1, anow), 0);
	cw_conn_on_timeout(w.gw.c, due);
	assert_int_equal(gateway_answers(&w, due, anow), 1);
	assert_int_equal(cw_conn_stats(w.gw.c)->dropped, 0);
	world_free(&w);
}

static void test_close(void **state)
{
	struct world w;
	uint64_t t;

	(void)state;
	world_init(&w, 8, 0);
	world_connect(&w);
	sim_run(w.s, 1 * SEC, 1000000);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	t = sim_now(w.s);
	cw_conn_close(w.ag.c, t, 0x1001, "going away");
	pump(&w.ag, t);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_CLOSING);
	sim_run(w.s, t + 15 * MS, 1000000);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_DRAINING);
	assert_int_equal(cw_conn_close_code(w.gw.c, false), 0x1001);
	assert_int_equal(cw_conn_end(w.gw.c), CW_CONN_END_PEER);
	assert_int_equal(cw_conn_close_code(w.ag.c, true), 0x1001);
	sim_run(w.s, t + 5 * SEC, 1000000);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_CLOSED);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_CLOSED);
	assert_int_equal(cw_conn_end(w.ag.c), CW_CONN_END_LOCAL);
	world_free(&w);
}

static void test_key_update(void **state)
{
	struct sim_impair imp = {
	    .delay_ns = 10 * MS, .loss = 0.02, .reorder = 0.05, .reorder_ns = 3 * MS};
	const struct cw_conn_stats *sa, *sg;
	struct world w;

	(void)state;
	world_init(&w, 21, 0);
	w.cfg.key_update_pkts = 100;
	w.ag.ntx = w.gw.ntx = 1;
	w.ag.tx_len = w.gw.tx_len = 1u << 19;
	world_impair(&w, &imp);
	world_connect(&w);
	run_transfer(&w, 120 * SEC);
	check_received(&w.gw, &w.ag);
	check_received(&w.ag, &w.gw);
	sa = cw_conn_stats(w.ag.c);
	sg = cw_conn_stats(w.gw.c);
	/* Each side starts updates and follows the other's. */
	assert_true(sa->key_updates >= 1 && sg->key_updates >= 1);
	assert_true(sa->key_updates + sg->key_updates >= 4);
	/* Both went through the same phases, whoever started each. */
	assert_int_equal(sa->key_updates_peer, sg->key_updates);
	assert_int_equal(sg->key_updates_peer, sa->key_updates);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_ESTABLISHED);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	world_free(&w);
}

static void test_close_in_handshake(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, 9, 0);
	world_connect(&w); /* the ClientHello is on its way */
	cw_conn_close(w.ag.c, 0, 0x1001, "no");
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_CLOSING);
	pump(&w.ag, 0);
	sim_run(w.s, 15 * MS, 1000000);
	assert_non_null(w.gw.c);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_DRAINING);
	assert_int_equal(cw_conn_end(w.gw.c), CW_CONN_END_PEER);
	/* An application code before 1-RTT keys goes out as CONNECTION_REFUSED. */
	assert_int_equal(cw_conn_close_code(w.gw.c, false), CW_TE_CONNECTION_REFUSED);
	assert_int_equal(cw_conn_close_code(w.ag.c, true), CW_TE_CONNECTION_REFUSED);
	sim_run(w.s, 5 * SEC, 1000000);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_CLOSED);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_CLOSED);
	assert_int_equal(cw_conn_end(w.ag.c), CW_CONN_END_LOCAL);
	world_free(&w);
}

static void test_stream_reset(void **state)
{
	static const uint8_t hello[5] = "hello";
	struct world w;
	struct xfer *x;
	uint64_t id;
	size_t n;

	(void)state;
	world_init(&w, 10, 0);
	world_connect(&w);
	sim_run(w.s, 1 * SEC, 1000000);
	assert_int_equal(cw_conn_stream_open(w.ag.c, &id), 0);
	assert_int_equal(id, 4);
	assert_int_equal(cw_conn_stream_write(w.ag.c, id, hello, sizeof(hello), &n), 0);
	assert_int_equal(n, sizeof(hello));
	assert_int_equal(cw_conn_stream_reset(w.ag.c, id, 0x2a), 0);
	assert_int_equal(cw_conn_stream_write(w.ag.c, id, hello, 1, &n), -EPIPE);
	assert_int_equal(cw_conn_stream_reset(w.ag.c, 0, 1), -EINVAL);
	assert_int_equal(cw_conn_stream_stop(w.ag.c, 0, 1), -EINVAL);
	assert_int_equal(cw_conn_stream_finish(w.ag.c, 0), -EINVAL);
	pump(&w.ag, sim_now(w.s));
	sim_run(w.s, sim_now(w.s) + 1 * SEC, 1000000);
	x = rx_of(&w.gw, id);
	assert_true(x->was_reset);
	assert_int_equal(x->reset, 0x2a);
	/* And the other way: the gateway asks the agent to stop. */
	assert_int_equal(cw_conn_stream_open(w.gw.c, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(cw_conn_stream_write(w.gw.c, id, hello, sizeof(hello), &n), 0);
	assert_int_equal(cw_conn_stream_stop(w.gw.c, id, 0x2b), 0);
	pump(&w.gw, sim_now(w.s));
	sim_run(w.s, sim_now(w.s) + 1 * SEC, 1000000);
	assert_int_equal(cw_conn_stream_write(w.ag.c, id, hello, 1, &n), -EPIPE);
	assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_ESTABLISHED);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	world_free(&w);
}

/* A 1-RTT packet from the agent's keys with frames the test chose. */
static void forge(struct world *w, const uint8_t *frames, size_t len)
{
	struct cw_protect_short ps;
	struct cw_hs_result r;
	uint8_t pkt[CW_CONN_DGRAM_MAX];
	int n;

	assert_int_equal(cw_hs_result(cw_conn_hs(w->ag.c), &r), 0);
	assert_int_equal(cw_protect_short_init(&ps, r.alg, r.client_secret, r.server_secret, NULL),
			 0);
	n = cw_protect_short_seal(&ps, pkt, sizeof(pkt), r.peer_cid, 1000000, CW_PN_NONE, frames,
				  len);
	assert_true(n > 0);
	sim_send(w->s, w->ag.id, w->gw.id, pkt, (size_t)n);
	cw_protect_short_free(&ps);
}

static void test_peer_errors(void **state)
{
	static const struct {
		uint8_t f[12];
		size_t len;
		uint64_t code;
	} cases[] = {
	    {{0x1f}, 1, CW_TE_FRAME_ENCODING_ERROR},
	    {{0x1e}, 1, CW_TE_PROTOCOL_VIOLATION},		    /* HANDSHAKE_DONE */
	    {{0x0a, 0x05, 0x01, 'x'}, 4, CW_TE_STREAM_STATE_ERROR}, /* our stream 5 */
	    {{0x0a, 0x02, 0x01, 'x'}, 4, CW_TE_STREAM_STATE_ERROR}, /* bit 1 set */
	    {{0x0e, 0x04, 0x80, 0x10, 0x00, 0x00, 0x01, 'x'}, 8, CW_TE_FLOW_CONTROL_ERROR},
	    {{0x02, 0x80, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00}, 8, CW_TE_PROTOCOL_VIOLATION},
	    {{0x0a, 0x04, 0x05, 'x'}, 4, CW_TE_FRAME_ENCODING_ERROR}, /* truncated */
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct world w;
		uint64_t t;

		world_init(&w, 30 + k, 0);
		world_connect(&w);
		sim_run(w.s, 1 * SEC, 1000000);
		assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
		t = sim_now(w.s);
		forge(&w, cases[k].f, cases[k].len);
		sim_run(w.s, t + 15 * MS, 1000000);
		assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_CLOSING);
		assert_int_equal(cw_conn_close_code(w.gw.c, true), (int64_t)cases[k].code);
		sim_run(w.s, t + 25 * MS, 1000000);
		assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_DRAINING);
		assert_int_equal(cw_conn_close_code(w.ag.c, false), (int64_t)cases[k].code);
		sim_run(w.s, t + 5 * SEC, 1000000);
		assert_int_equal(cw_conn_state(w.ag.c), CW_CONN_CLOSED);
		assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_CLOSED);
		world_free(&w);
	}
}

/* §11.5: a new address gets a PING at once; a new IP address also starts
 * the RTT estimate over, a new port alone does not. */
static void test_path_changed(void **state)
{
	struct world w;
	uint64_t pings, srtt;

	(void)state;
	world_init(&w, 9, 30 * SEC);
	world_connect(&w);
	sim_run(w.s, sim_now(w.s) + 1 * SEC, 1000000);
	assert_non_null(w.gw.c);
	srtt = cw_conn_srtt(w.gw.c);
	assert_true(srtt >= 20 * MS && srtt < 40 * MS);
	pings = cw_conn_stats(w.gw.c)->pings_sent;
	cw_conn_path_changed(w.gw.c, false);
	pump(&w.gw, sim_now(w.s));
	assert_int_equal(cw_conn_stats(w.gw.c)->pings_sent, pings + 1);
	assert_int_equal(cw_conn_srtt(w.gw.c), srtt);
	cw_conn_path_changed(w.gw.c, true);
	assert_int_equal(cw_conn_srtt(w.gw.c), CW_RTT_INITIAL);
	pump(&w.gw, sim_now(w.s));
	assert_int_equal(cw_conn_stats(w.gw.c)->pings_sent, pings + 2);
	/* The PING is acknowledged: a fresh sample replaces the initial RTT. */
	sim_run(w.s, sim_now(w.s) + 1 * SEC, 1000000);
	assert_true(cw_conn_srtt(w.gw.c) < 40 * MS);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	world_free(&w);
}

/* §6.7: more packets failing authentication than the integrity limit (3
 * here, 2^52 for AES-GCM by default) close with AEAD_LIMIT_REACHED. */
static void test_auth_fail_limit(void **state)
{
	struct sim_impair bad = {.delay_ns = 10 * MS, .corrupt = 1.0};
	struct world w;

	(void)state;
	world_init(&w, 8, 30 * SEC);
	w.cfg.auth_fail_limit = 3;
	world_connect(&w);
	sim_run(w.s, sim_now(w.s) + 1 * SEC, 1000000);
	assert_non_null(w.gw.c);
	assert_int_equal(cw_conn_state(w.gw.c), CW_CONN_ESTABLISHED);
	sim_set_impair(w.s, w.ag.id, w.gw.id, &bad);
	add_stream(&w.ag, 50000);
	sim_run(w.s, sim_now(w.s) + 2 * SEC, 1000000);
	assert_int_equal(cw_conn_stats(w.gw.c)->auth_failed, 4);
	assert_true(cw_conn_state(w.gw.c) >= CW_CONN_CLOSING);
	assert_int_equal(cw_conn_close_code(w.gw.c, true), CW_TE_AEAD_LIMIT_REACHED);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bulk_clean),		 cmocka_unit_test(test_bulk_loss),
	    cmocka_unit_test(test_bulk_reorder_dup),	 cmocka_unit_test(test_bulk_blackout),
	    cmocka_unit_test(test_many_streams),	 cmocka_unit_test(test_stalled_reader),
	    cmocka_unit_test(test_idle_blackout),	 cmocka_unit_test(test_keepalive),
	    cmocka_unit_test(test_keepalive_configured), cmocka_unit_test(test_auth_fail_limit),
	    cmocka_unit_test(test_path_changed),	 cmocka_unit_test(test_close),
	    cmocka_unit_test(test_key_update),		 cmocka_unit_test(test_close_in_handshake),
	    cmocka_unit_test(test_stream_reset),	 cmocka_unit_test(test_peer_errors),
	    cmocka_unit_test(test_quiet_then_resume),	 cmocka_unit_test(test_ack_decimation),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
