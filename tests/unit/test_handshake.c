/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/handshake.c: an agent and a gateway driven against each other in
 * memory over a simulated link with a virtual clock: clean handshake,
 * retry, every datagram dropped once in turn, duplication and reordering,
 * refused certificates, resumption, and the amplification limit. The PKI
 * is generated here as in test_tls.c; certificates are checked at a fixed
 * wall-clock time.
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

#include "tunnel/frame.h"
#include "tunnel/handshake.h"
#include "tunnel/protect.h"

#define T0	INT64_C(1800000000)
#define DAY	INT64_C(86400)
#define GW_NAME "gw.causeway.test"
#define MS	UINT64_C(1000000)
#define NOW0	(UINT64_C(1000) * 1000000000u)

static struct {
	struct tu_ca ca, ca2; /* ca2: another CA */
	struct tu_ident gw, node_a, foreign;
	uint8_t tkey[CW_TLS_TICKET_KEY_LEN];
} fx;
/* ---- PKI ---- */

static int setup_pki(void **state)
{
	(void)state;
	tu_ca_make(&fx.ca, "Causeway test CA", T0);
	tu_ca_make(&fx.ca2, "Other CA", T0);
	fx.gw = tu_make_ident("gateway", "DNS:" GW_NAME, fx.ca.cert, fx.ca.key, T0 - DAY,
			      T0 + 365 * DAY);
	fx.node_a =
	    tu_make_ident("node:node-a", NULL, fx.ca.cert, fx.ca.key, T0 - DAY, T0 + 365 * DAY);
	fx.foreign =
	    tu_make_ident("node:node-a", NULL, fx.ca2.cert, fx.ca2.key, T0 - DAY, T0 + 365 * DAY);
	for (size_t j = 0; j < CW_TLS_TICKET_KEY_LEN; j++)
		fx.tkey[j] = (uint8_t)(0x11 + j);
	return 0;
}

static int teardown_pki(void **state)
{
	(void)state;
	tu_ident_free(&fx.gw);
	tu_ident_free(&fx.node_a);
	tu_ident_free(&fx.foreign);
	tu_ca_free(&fx.ca);
	tu_ca_free(&fx.ca2);
	return 0;
}

/* ---- allocator ---- */

struct counting {
	size_t live_bytes, live_blocks, allocs;
};

static void *c_alloc(void *ctx, size_t n)
{
	struct counting *c = ctx;

	c->allocs++;
	c->live_bytes += n;
	c->live_blocks++;
	return malloc(n);
}

static void c_free(void *ctx, void *p, size_t n)
{
	struct counting *c = ctx;

	assert_true(c->live_bytes >= n);
	c->live_bytes -= n;
	c->live_blocks--;
	free(p);
}

/* ---- the simulated link ---- */

#define QMAX 64

struct dgram {
	size_t len;
	uint8_t b[CW_HS_DGRAM_MAX];
};

struct queue {
	struct dgram d[QMAX];
	size_t n;
};

enum impair {
	CLEAN = 0,
	DUPLICATE = 1,
	REORDER = 2,
	CORRUPT = 3, /* the datagram of ordinal @drop gets one bit flipped */
};

struct sim {
	struct cw_tls_client_ctx *cc;
	struct cw_tls_server_ctx *sc;
	struct counting ca, ga;
	struct cw_alloc aa, gaa;
	struct cw_token_keys tk;
	struct cw_aead retry;
	enum cw_retry_policy policy;
	struct cw_hs *ag, *gw;
	struct queue a2g, g2a;
	uint64_t now;
	size_t sent; /* datagrams put on the link, both ways */
	long drop;   /* ordinal of the datagram to drop, -1: none */
	bool drop_a2g_after_first;
	enum impair imp;
	uint64_t gw_in, gw_out; /* UDP bytes at the gateway, screening included */
	bool gw_validated_by_token;
	size_t retries_sent, steps, first_rejected;
};

static const uint8_t ADDR[4] = {198, 51, 100, 7};

static void sim_init(struct sim *s, const struct tu_ident *node, const struct tu_pem *gw_ca,
		     enum cw_retry_policy policy)
{
	struct cw_tls_server_cfg scfg = {.cert_chain = tu_pem_ref(&fx.gw.cert),
					 .key = tu_pem_ref(&fx.gw.key),
					 .node_ca = tu_pem_ref(&fx.ca.pem)};
	struct cw_tls_client_cfg ccfg = {.cert = tu_pem_ref(&node->cert),
					 .key = tu_pem_ref(&node->key),
					 .gateway_ca = tu_pem_ref(gw_ca),
					 .gateway_name = GW_NAME};
	uint8_t key[CW_TOKEN_KEY_LEN];

	memset(s, 0, sizeof(*s));
	memcpy(scfg.ticket_key, fx.tkey, sizeof(fx.tkey));
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &s->sc), 0);
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &s->cc), 0);
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(cw_token_init(&s->tk, key, 0, 0), 0);
	assert_int_equal(cw_retry_init(&s->retry), 0);
	s->aa = (struct cw_alloc){c_alloc, c_free, &s->ca};
	s->gaa = (struct cw_alloc){c_alloc, c_free, &s->ga};
	s->policy = policy;
	s->now = NOW0;
	s->drop = -1;
}

static void sim_free(struct sim *s)
{
	cw_hs_free(s->ag);
	cw_hs_free(s->gw);
	assert_int_equal(s->ca.live_blocks, 0);
	assert_int_equal(s->ga.live_blocks, 0);
	cw_tls_client_ctx_free(s->cc);
	cw_tls_server_ctx_free(s->sc);
	cw_token_free(&s->tk);
	cw_aead_free(&s->retry);
}

static void agent_start(struct sim *s, const uint8_t *ticket, size_t tlen)
{
	struct cw_hs_agent_cfg cfg = {.alloc = &s->aa,
				      .tls = s->cc,
				      .wall_time = T0,
				      .cid = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8},
				      .odcid = {0x0d, 0x0c, 0x1d, 1, 2, 3, 4, 5},
				      .ticket = ticket,
				      .ticket_len = tlen};

	assert_int_equal(cw_hs_agent_new(&cfg, s->now, &s->ag), 0);
}

/* Puts @d on @q unless the link loses it; duplicates it if asked. */
static void link_put(struct sim *s, struct queue *q, const uint8_t *b, size_t len, bool a2g)
{
	long ord = (long)s->sent++;
	int copies = s->imp == DUPLICATE ? 2 : 1;

	if (ord == s->drop && s->imp != CORRUPT)
		return;
	if (a2g && s->drop_a2g_after_first && s->gw)
		return;
	for (int c = 0; c < copies && q->n < QMAX; c++) {
		q->d[q->n].len = len;
		memcpy(q->d[q->n].b, b, len);
		if (ord == s->drop && s->imp == CORRUPT)
			q->d[q->n].b[len - 20] ^= 0x10; /* in the last tag or frames */
		q->n++;
	}
}

static void amp_check(struct sim *s)
{
	if (!s->gw || s->gw_validated_by_token || cw_hs_state(s->gw) != CW_HS_HANDSHAKING)
		return;
	assert_true(s->gw_out <= 3 * s->gw_in);
}

static size_t flush(struct sim *s)
{
	uint8_t b[CW_HS_DGRAM_MAX];
	size_t moved = 0;
	int n;

	while (s->ag && (n = cw_hs_send(s->ag, b, sizeof(b), s->now)) > 0) {
		assert_true(n <= CW_HS_DGRAM_MAX);
		link_put(s, &s->a2g, b, (size_t)n, true);
		moved++;
	}
	assert_true(n >= 0);
	while (s->gw && (n = cw_hs_send(s->gw, b, sizeof(b), s->now)) > 0) {
		s->gw_out += (size_t)n;
		amp_check(s);
		link_put(s, &s->g2a, b, (size_t)n, false);
		moved++;
	}
	assert_true(n >= 0);
	return moved;
}

static void gateway_first(struct sim *s, struct dgram *d)
{
	static const uint8_t gcid[CW_CID_LEN] = {0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97};
	static const uint8_t rscid[CW_CID_LEN] = {0x77, 1, 2, 3, 4, 5, 6, 7};
	struct cw_hs_gateway_cfg cfg = {.alloc = &s->gaa, .tls = s->sc, .wall_time = T0};
	struct cw_hs_peer peer = {CW_TOKEN_IPV4, ADDR, 40000};
	uint8_t out[CW_HS_DGRAM_MAX];
	struct cw_hs_screen scr;
	size_t allocs = s->ga.allocs;
	int v;

	memcpy(cfg.cid, gcid, CW_CID_LEN);
	v = cw_hs_screen(d->b, d->len, &peer, s->now, &s->tk, &s->retry, s->policy, rscid, out,
			 sizeof(out), &scr);
	assert_int_equal(s->ga.allocs, allocs); /* stateless */
	if (v == CW_HS_V_SEND_RETRY) {
		s->retries_sent++;
		link_put(s, &s->g2a, out, scr.out_len, false);
		return;
	}
	if (v != CW_HS_V_ACCEPT)
		return;
	s->gw_in = d->len;
	s->gw_validated_by_token = scr.validated;
	v = cw_hs_gateway_new(&cfg, &scr, d->b, d->len, s->now, &s->gw);
	if (v == -EBADMSG) {
		s->first_rejected++;
		assert_null(s->gw);
		assert_int_equal(s->ga.live_blocks, 0);
		return;
	}
	assert_int_equal(v, 0);
}

static void deliver(struct sim *s, struct queue *q, bool to_gw)
{
	struct queue cur = *q;

	q->n = 0;
	for (size_t k = 0; k < cur.n; k++) {
		struct dgram *d = &cur.d[s->imp == REORDER ? cur.n - 1 - k : k];

		if (to_gw && !s->gw) {
			gateway_first(s, d);
		} else if (to_gw) {
			s->gw_in += d->len;
			assert_int_equal(cw_hs_recv(s->gw, d->b, d->len, s->now), (int)d->len);
		} else {
			assert_int_equal(cw_hs_recv(s->ag, d->b, d->len, s->now), (int)d->len);
		}
	}
}

static bool settled(const struct sim *s)
{
	enum cw_hs_state a = cw_hs_state(s->ag), g = s->gw ? cw_hs_state(s->gw) : CW_HS_HANDSHAKING;

	return (a == CW_HS_CONFIRMED || a >= CW_HS_CLOSED) &&
	       (g == CW_HS_CONFIRMED || g >= CW_HS_CLOSED);
}

/* Runs the exchange with a 10 ms one-way delay until both sides settle. */
static void run(struct sim *s)
{
	for (s->steps = 0; s->steps < 2000 && !settled(s); s->steps++) {
		uint64_t t, tg;

		if (s->gw && cw_hs_done_due(s->gw)) {
			/* The 1-RTT HANDSHAKE_DONE, sent and received. */
			assert_int_equal(cw_hs_done_sent(s->gw, s->now), 0);
			assert_int_equal(cw_hs_done_received(s->ag, s->now + 10 * MS), 0);
		}
		if (flush(s) || s->a2g.n || s->g2a.n) {
			s->now += 10 * MS;
			deliver(s, &s->a2g, true);
			deliver(s, &s->g2a, false);
			continue;
		}
		t = cw_hs_next_timeout(s->ag);
		tg = s->gw ? cw_hs_next_timeout(s->gw) : CW_RECOVERY_NEVER;
		if (tg < t)
			t = tg;
		if (t == CW_RECOVERY_NEVER)
			break;
		if (t > s->now)
			s->now = t;
		cw_hs_on_timeout(s->ag, s->now);
		if (s->gw)
			cw_hs_on_timeout(s->gw, s->now);
	}
}

static void assert_same_secrets(const struct sim *s, struct cw_hs_result *ra,
				struct cw_hs_result *rg)
{
	assert_int_equal(cw_hs_result(s->ag, ra), 0);
	assert_int_equal(cw_hs_result(s->gw, rg), 0);
	assert_memory_equal(ra->client_secret, rg->client_secret, CW_SECRET_LEN);
	assert_memory_equal(ra->server_secret, rg->server_secret, CW_SECRET_LEN);
	assert_memory_not_equal(ra->client_secret, ra->server_secret, CW_SECRET_LEN);
	assert_int_equal(ra->alg, CW_AEAD_AES_128_GCM);
	assert_int_equal(rg->alg, CW_AEAD_AES_128_GCM);
	assert_memory_equal(ra->local_cid, rg->peer_cid, CW_CID_LEN);
	assert_memory_equal(ra->peer_cid, rg->local_cid, CW_CID_LEN);
	assert_null(ra->node_name);
	assert_non_null(rg->node_name);
	assert_string_equal(rg->node_name, "node-a");
}

static void assert_confirmed(const struct sim *s)
{
	assert_int_equal(cw_hs_state(s->ag), CW_HS_CONFIRMED);
	assert_int_equal(cw_hs_state(s->gw), CW_HS_CONFIRMED);
	assert_int_equal(cw_hs_close_code(s->ag, true), -1);
	assert_int_equal(cw_hs_close_code(s->gw, true), -1);
}

/* A clean handshake; returns the ticket (malloc'ed) when @ticket. */
static uint8_t *clean(struct sim *s, size_t *tlen, const uint8_t *ticket, size_t in_len)
{
	struct cw_hs_result ra, rg;
	const uint8_t *t;
	uint8_t *copy = NULL;

	sim_init(s, &fx.node_a, &fx.ca.pem, CW_RETRY_NEVER);
	agent_start(s, ticket, in_len);
	run(s);
	assert_confirmed(s);
	assert_same_secrets(s, &ra, &rg);
	assert_int_equal(ra.resumed, ticket != NULL);
	assert_int_equal(rg.resumed, ticket != NULL);
	if (tlen) {
		t = cw_hs_ticket(s->ag, tlen);
		assert_non_null(t);
		copy = malloc(*tlen);
		memcpy(copy, t, *tlen);
	}
	return copy;
}

static void test_clean(void **state)
{
	const struct cw_hs_counters *ca, *cg;
	struct sim s;
	size_t tlen;
	uint8_t *t;

	(void)state;
	t = clean(&s, &tlen, NULL, 0);
	ca = cw_hs_counters(s.ag);
	cg = cw_hs_counters(s.gw);
	/* Nothing lost, nothing resent, nothing dropped. */
	assert_int_equal(ca->crypto_retransmits + cg->crypto_retransmits, 0);
	for (int r = 0; r < CW_HS_DROP_COUNT; r++)
		assert_int_equal(ca->dropped[r] + cg->dropped[r], 0);
	assert_int_equal(ca->dgrams_out, cg->dgrams_in);
	assert_int_equal(cg->dgrams_out, ca->dgrams_in);
	assert_int_equal(ca->bytes_out, cg->bytes_in);
	/* Agent: INITIAL; HANDSHAKE with Finished; HANDSHAKE acking the
	 * ticket. Gateway: INITIAL (ACK) + HANDSHAKE flight in one datagram;
	 * HANDSHAKE with ACK and NewSessionTicket. */
	assert_int_equal(ca->dgrams_out, 3);
	assert_int_equal(cg->dgrams_out, 2);
	assert_int_equal(ca->pkts_out, 3);
	assert_int_equal(cg->pkts_out, 3);
	assert_int_equal(ca->pkts_in, cg->pkts_out);
	assert_int_equal(cg->pkts_in, ca->pkts_out);
	assert_int_equal(ca->pto + cg->pto, 0);
	assert_int_equal(ca->retries, 0);
	assert_true(tlen > 0);
	free(t);
	sim_free(&s);
}

/* The agent's first datagram: one padded INITIAL with the ClientHello. */
static void test_first_datagram(void **state)
{
	uint8_t b[CW_HS_DGRAM_MAX];
	struct cw_hdr h;
	struct sim s;
	int n;

	(void)state;
	sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_NEVER);
	agent_start(&s, NULL, 0);
	n = cw_hs_send(s.ag, b, sizeof(b), s.now);
	assert_true(n >= CW_HS_INITIAL_MIN && n <= CW_HS_DGRAM_MAX);
	assert_int_equal(cw_hdr_decode(b, (size_t)n, &h), 0);
	assert_int_equal(h.type, CW_PKT_INITIAL);
	assert_int_equal(h.pkt_len, (size_t)n);
	assert_int_equal(h.pn_trunc, 0);
	assert_int_equal(h.token_len, 0);
	assert_memory_equal(b + h.dcid_off, ((uint8_t[]){0x0d, 0x0c, 0x1d, 1, 2, 3, 4, 5}), 8);
	assert_int_equal(cw_hs_send(s.ag, b, sizeof(b), s.now), 0);
	/* Too small an INITIAL datagram is dropped statelessly. */
	{
		struct cw_hs_peer peer = {CW_TOKEN_IPV4, ADDR, 1};
		struct cw_hs_screen scr;
		uint8_t out[CW_HS_DGRAM_MAX];

		assert_int_equal(cw_hs_screen(b, 1199, &peer, s.now, &s.tk, &s.retry,
					      CW_RETRY_NEVER, b, out, sizeof(out), &scr),
				 CW_HS_V_DROP);
	}
	sim_free(&s);
}

static void test_retry(void **state)
{
	struct cw_hs_peer spoof = {CW_TOKEN_IPV4, (const uint8_t[]){203, 0, 113, 9}, 5555};
	uint8_t b[CW_HS_DGRAM_MAX], out[CW_HS_DGRAM_MAX];
	struct cw_hs_result ra, rg;
	struct cw_hs_screen scr;
	struct sim s;
	int n;

	(void)state;
	sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_ALWAYS);
	/* A spoofed INITIAL without a token: a RETRY, no allocation at all. */
	agent_start(&s, NULL, 0);
	n = cw_hs_send(s.ag, b, sizeof(b), s.now);
	assert_true(n >= CW_HS_INITIAL_MIN);
	s.ga.allocs = 0;
	for (int k = 0; k < 100; k++)
		assert_int_equal(cw_hs_screen(b, (size_t)n, &spoof, s.now, &s.tk, &s.retry,
					      CW_RETRY_ALWAYS, b, out, sizeof(out), &scr),
				 CW_HS_V_SEND_RETRY);
	assert_int_equal(s.ga.allocs, 0);
	assert_int_equal(s.ga.live_blocks, 0);
	assert_true(scr.out_len < (size_t)n); /* no amplification */
	assert_int_equal(out[0], 0xe0);
	cw_hs_free(s.ag);
	s.ag = NULL;

	agent_start(&s, NULL, 0);
	run(&s);
	assert_int_equal(s.retries_sent, 1);
	assert_int_equal(cw_hs_counters(s.ag)->retries, 1);
	assert_true(s.gw_validated_by_token);
	assert_confirmed(&s);
	assert_same_secrets(&s, &ra, &rg);
	sim_free(&s);
}

static void test_invalid_token(void **state)
{
	struct cw_hs_peer other = {CW_TOKEN_IPV4, (const uint8_t[]){203, 0, 113, 9}, 5555};
	struct cw_hs_peer peer = {CW_TOKEN_IPV4, ADDR, 40000};
	uint8_t b[CW_HS_DGRAM_MAX], out[CW_HS_DGRAM_MAX], tokpkt[CW_HS_DGRAM_MAX];
	static const uint8_t rscid[CW_CID_LEN] = {0x77, 1, 2, 3, 4, 5, 6, 7};
	struct cw_hs_screen scr;
	struct sim s;
	int n;

	(void)state;
	sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_ALWAYS);
	agent_start(&s, NULL, 0);
	n = cw_hs_send(s.ag, b, sizeof(b), s.now);
	assert_int_equal(cw_hs_screen(b, (size_t)n, &peer, s.now, &s.tk, &s.retry, CW_RETRY_ALWAYS,
				      rscid, out, sizeof(out), &scr),
			 CW_HS_V_SEND_RETRY);
	assert_int_equal(cw_hs_recv(s.ag, out, scr.out_len, s.now), (int)scr.out_len);
	assert_int_equal(cw_hs_counters(s.ag)->retries, 1);
	/* A second RETRY of the attempt is ignored (§7.3). */
	memcpy(b, out, scr.out_len);
	assert_int_equal(cw_hs_recv(s.ag, b, scr.out_len, s.now), (int)scr.out_len);
	assert_int_equal(cw_hs_counters(s.ag)->retries, 1);
	assert_int_equal(cw_hs_counters(s.ag)->dropped[CW_HS_DROP_RETRY], 1);
	n = cw_hs_send(s.ag, tokpkt, sizeof(tokpkt), s.now);
	assert_true(n >= CW_HS_INITIAL_MIN);
	/* The same INITIAL from another address: the token's MAC fails. */
	s.ga.allocs = 0;
	assert_int_equal(cw_hs_screen(tokpkt, (size_t)n, &other, s.now, &s.tk, &s.retry,
				      CW_RETRY_ALWAYS, rscid, out, sizeof(out), &scr),
			 CW_HS_V_SEND_CLOSE);
	assert_int_equal(s.ga.allocs, 0);
	assert_true(scr.out_len < CW_HS_INITIAL_MIN);
	assert_int_equal(cw_hs_recv(s.ag, out, scr.out_len, s.now), (int)scr.out_len);
	assert_int_equal(cw_hs_state(s.ag), CW_HS_DRAINING);
	assert_int_equal(cw_hs_close_code(s.ag, false), CW_TE_INVALID_TOKEN);
	/* From the right address but expired. */
	assert_int_equal(cw_hs_screen(tokpkt, (size_t)n, &peer, s.now + 12000 * MS, &s.tk, &s.retry,
				      CW_RETRY_ALWAYS, rscid, out, sizeof(out), &scr),
			 CW_HS_V_SEND_CLOSE);
	/* And valid. */
	assert_int_equal(cw_hs_screen(tokpkt, (size_t)n, &peer, s.now, &s.tk, &s.retry,
				      CW_RETRY_ALWAYS, rscid, out, sizeof(out), &scr),
			 CW_HS_V_ACCEPT);
	assert_true(scr.validated);
	assert_memory_equal(scr.odcid, ((uint8_t[]){0x0d, 0x0c, 0x1d, 1, 2, 3, 4, 5}), 8);
	assert_memory_equal(scr.dcid, rscid, 8);
	sim_free(&s);
}

/* Each datagram of the exchange lost once in turn. */
static void run_dropping(struct sim *s, enum cw_retry_policy policy, long drop)
{
	struct cw_hs_result ra, rg;

	sim_init(s, &fx.node_a, &fx.ca.pem, policy);
	s->drop = drop;
	agent_start(s, NULL, 0);
	run(s);
	assert_confirmed(s);
	assert_same_secrets(s, &ra, &rg);
}

/* Each datagram of the exchange lost once in turn, with and without a
 * RETRY: loss recovery completes it, the same way every time. */
static void test_drop_each(void **state)
{
	static const enum cw_retry_policy pol[] = {CW_RETRY_NEVER, CW_RETRY_ALWAYS};
	struct sim s;

	(void)state;
	for (size_t p = 0; p < 2; p++) {
		uint64_t clean_time, elapsed[2];
		size_t total;

		run_dropping(&s, pol[p], -1);
		total = s.sent;
		clean_time = s.now - NOW0;
		assert_int_equal(total, pol[p] == CW_RETRY_NEVER ? 5 : 7);
		sim_free(&s);
		for (size_t k = 0; k < total; k++) {
			for (int rep = 0; rep < 2; rep++) {
				const struct cw_hs_counters *ca, *cg;

				run_dropping(&s, pol[p], (long)k);
				ca = cw_hs_counters(s.ag);
				cg = cw_hs_counters(s.gw);
				assert_true(ca->pto + cg->pto > 0);
				elapsed[rep] = s.now - NOW0;
				sim_free(&s);
			}
			/* One loss costs at most one PTO (300 ms before an RTT
			 * sample) and the two round trips (20 ms) of its probe
			 * and the answer it triggers. */
			assert_true(elapsed[0] > clean_time);
			assert_true(elapsed[0] <= clean_time + 340 * MS);
			assert_int_equal(elapsed[0], elapsed[1]); /* deterministic */
		}
	}
}

static void test_duplicate_and_reorder(void **state)
{
	struct cw_hs_result ra, rg;
	enum impair modes[] = {DUPLICATE, REORDER};
	struct sim s;

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_NEVER);
		s.imp = modes[m];
		agent_start(&s, NULL, 0);
		run(&s);
		assert_confirmed(&s);
		assert_same_secrets(&s, &ra, &rg);
		if (modes[m] == DUPLICATE)
			assert_true(cw_hs_counters(s.ag)->dropped[CW_HS_DROP_REPLAY] +
					cw_hs_counters(s.gw)->dropped[CW_HS_DROP_REPLAY] +
					cw_hs_counters(s.gw)->dropped[CW_HS_DROP_NO_KEYS] +
					cw_hs_counters(s.ag)->dropped[CW_HS_DROP_NO_KEYS] >
				    0);
		sim_free(&s);
	}
}

/* Each datagram corrupted once in turn: dropped on its tag, resent. */
static void test_corrupt_each(void **state)
{
	struct cw_hs_result ra, rg;
	struct sim s;

	(void)state;
	for (long k = 0; k < 5; k++) {
		uint64_t bad;

		sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_NEVER);
		s.imp = CORRUPT;
		s.drop = k;
		agent_start(&s, NULL, 0);
		run(&s);
		assert_confirmed(&s);
		assert_same_secrets(&s, &ra, &rg);
		bad = cw_hs_counters(s.ag)->dropped[CW_HS_DROP_DECRYPT] +
		      cw_hs_counters(s.gw)->dropped[CW_HS_DROP_DECRYPT];
		/* A corrupted first datagram creates no gateway state. */
		assert_int_equal(bad, k == 0 ? 0 : 1);
		assert_int_equal(s.first_rejected, k == 0 ? 1 : 0);
		sim_free(&s);
	}
}

/* A short-header packet is left to the 1-RTT connection. */
static void test_short_header_left(void **state)
{
	static const uint8_t acid[CW_CID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
	uint8_t b[64] = {0};
	struct sim s;
	int n;

	(void)state;
	sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_NEVER);
	agent_start(&s, NULL, 0);
	n = cw_hdr_encode_short(b, sizeof(b), acid, 0, 0, 1);
	assert_int_equal(n, 10);
	assert_int_equal(cw_hs_recv(s.ag, b, 40, s.now), 0);
	assert_int_equal(cw_hs_counters(s.ag)->pkts_in, 0);
	/* Another DCID is not ours at all. */
	b[1] ^= 1;
	assert_int_equal(cw_hs_recv(s.ag, b, 40, s.now), 40);
	assert_int_equal(cw_hs_counters(s.ag)->dropped[CW_HS_DROP_DCID], 1);
	sim_free(&s);
}

/* A close before completion reaches the peer in a long-header packet. */
static void test_close_refused(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_NEVER);
	agent_start(&s, NULL, 0);
	flush(&s);
	s.now += 10 * MS;
	deliver(&s, &s.a2g, true);
	assert_non_null(s.gw);
	cw_hs_close(s.gw, CW_TE_CONNECTION_REFUSED, s.now);
	assert_true(cw_hs_over(s.gw));
	assert_int_equal(cw_hs_state(s.gw), CW_HS_CLOSING);
	run(&s);
	assert_int_equal(cw_hs_close_code(s.gw, true), CW_TE_CONNECTION_REFUSED);
	assert_int_equal(cw_hs_close_code(s.ag, false), CW_TE_CONNECTION_REFUSED);
	assert_int_equal(cw_hs_close_code(s.ag, true), -1);
	assert_int_equal(cw_hs_state(s.ag), CW_HS_CLOSED);
	assert_int_equal(cw_hs_state(s.gw), CW_HS_CLOSED);
	sim_free(&s);
}

/* CRYPTO data beyond 64 KiB in a space closes with CRYPTO_BUFFER_EXCEEDED. */
static void test_crypto_limit(void **state)
{
	static const uint8_t odcid[CW_CID_LEN] = {0x0d, 0x0c, 0x1d, 1, 2, 3, 4, 5};
	static const uint8_t acid[CW_CID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
	static const uint8_t gcid[CW_CID_LEN] = {0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97};
	uint8_t c[CW_SECRET_LEN], sv[CW_SECRET_LEN], fr[32] = {0}, pkt[256];
	/* CRYPTO at offset 65531 (4-byte varint) with 10 bytes: ends at 65541. */
	static const uint8_t hdr[] = {0x06, 0x80, 0x00, 0xff, 0xfb, 0x0a};
	struct cw_long_hdr h = {
	    .type = CW_PKT_HANDSHAKE, .version = CW_VERSION_1, .dcid = acid, .scid = gcid, .pn = 0};
	struct cw_protect_long p;
	struct sim s;
	int n;

	(void)state;
	sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_NEVER);
	agent_start(&s, NULL, 0);
	assert_int_equal(cw_keys_handshake(odcid, CW_CID_LEN, c, sv), 0);
	assert_int_equal(cw_protect_long_init(&p, sv, c), 0);
	memcpy(fr, hdr, sizeof(hdr));
	n = cw_protect_long_seal(&p, pkt, sizeof(pkt), &h, CW_PN_NONE, fr, sizeof(hdr) + 10);
	assert_true(n > 0);
	cw_protect_long_free(&p);
	assert_int_equal(cw_hs_recv(s.ag, pkt, (size_t)n, s.now), n);
	assert_int_equal(cw_hs_state(s.ag), CW_HS_CLOSING);
	assert_int_equal(cw_hs_close_code(s.ag, true), CW_TE_CRYPTO_BUFFER_EXCEEDED);
	assert_int_equal(cw_hs_counters(s.ag)->pkts_in, 1);
	/* The close goes out in INITIAL and HANDSHAKE packets, padded. */
	assert_int_equal(cw_hs_send(s.ag, pkt, sizeof(pkt), s.now), -EINVAL);
	{
		uint8_t b[CW_HS_DGRAM_MAX];
		struct cw_hdr d;

		n = cw_hs_send(s.ag, b, sizeof(b), s.now);
		assert_int_equal(n, CW_HS_INITIAL_MIN);
		assert_int_equal(cw_hdr_decode(b, (size_t)n, &d), 0);
		assert_int_equal(d.type, CW_PKT_INITIAL);
		assert_int_equal(cw_hdr_decode(b + d.pkt_len, (size_t)n - d.pkt_len, &d), 0);
		assert_int_equal(d.type, CW_PKT_HANDSHAKE);
		assert_int_equal(cw_hs_send(s.ag, b, sizeof(b), s.now), 0);
	}
	sim_free(&s);
}

static void test_wrong_ca(void **state)
{
	struct cw_hs_result r;
	struct sim s;

	(void)state;
	/* The agent's certificate is from a CA the gateway does not trust. */
	sim_init(&s, &fx.foreign, &fx.ca.pem, CW_RETRY_NEVER);
	agent_start(&s, NULL, 0);
	run(&s);
	assert_int_equal(cw_hs_close_code(s.gw, true),
			 CW_TLS_CRYPTO_ERROR(CW_TLS_ALERT_UNKNOWN_CA));
	assert_int_equal(cw_hs_close_code(s.ag, false),
			 CW_TLS_CRYPTO_ERROR(CW_TLS_ALERT_UNKNOWN_CA));
	assert_int_equal(cw_hs_state(s.gw), CW_HS_CLOSED);
	assert_int_equal(cw_hs_state(s.ag), CW_HS_CLOSED);
	assert_int_equal(cw_hs_result(s.gw, &r), -EAGAIN);
	sim_free(&s);

	/* The agent does not trust the gateway's CA. */
	sim_init(&s, &fx.node_a, &fx.ca2.pem, CW_RETRY_NEVER);
	agent_start(&s, NULL, 0);
	run(&s);
	assert_int_equal(cw_hs_close_code(s.ag, true),
			 CW_TLS_CRYPTO_ERROR(CW_TLS_ALERT_UNKNOWN_CA));
	assert_int_equal(cw_hs_close_code(s.gw, false),
			 CW_TLS_CRYPTO_ERROR(CW_TLS_ALERT_UNKNOWN_CA));
	assert_int_equal(cw_hs_state(s.gw), CW_HS_CLOSED);
	assert_int_equal(cw_hs_state(s.ag), CW_HS_CLOSED);
	assert_int_equal(cw_hs_result(s.ag, &r), -EAGAIN);
	sim_free(&s);
}

static void test_resumption(void **state)
{
	struct sim s;
	size_t tlen, t2len;
	uint8_t *t, *t2;

	(void)state;
	t = clean(&s, &tlen, NULL, 0);
	sim_free(&s);
	t2 = clean(&s, &t2len, t, tlen); /* asserts resumed on both sides */
	sim_free(&s);
	free(t);
	free(t2);
}

/* The gateway hears only the first datagram: it never sends over 3x it. */
static void test_amplification(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, &fx.node_a, &fx.ca.pem, CW_RETRY_NEVER);
	s.drop_a2g_after_first = true;
	agent_start(&s, NULL, 0);
	run(&s);
	assert_int_equal(cw_hs_state(s.gw), CW_HS_ABANDONED);
	assert_int_equal(cw_hs_counters(s.gw)->bytes_in, s.gw_in);
	assert_true(s.gw_in >= CW_HS_INITIAL_MIN && s.gw_in <= CW_HS_DGRAM_MAX);
	assert_true(s.gw_out <= 3 * s.gw_in);
	/* Retransmissions filled the budget up to the last packet that fit. */
	assert_true(s.gw_out > 3 * s.gw_in - 100);
	assert_true(cw_hs_counters(s.gw)->pto > 0);
	assert_int_equal(cw_hs_counters(s.gw)->bytes_out, s.gw_out);
	sim_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_datagram), cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_retry),	   cmocka_unit_test(test_invalid_token),
	    cmocka_unit_test(test_drop_each),	   cmocka_unit_test(test_duplicate_and_reorder),
	    cmocka_unit_test(test_corrupt_each),   cmocka_unit_test(test_short_header_left),
	    cmocka_unit_test(test_close_refused),  cmocka_unit_test(test_crypto_limit),
	    cmocka_unit_test(test_wrong_ca),	   cmocka_unit_test(test_resumption),
	    cmocka_unit_test(test_amplification),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
