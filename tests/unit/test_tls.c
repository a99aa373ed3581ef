/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/tls.c: handshakes between an agent and a gateway conn in memory,
 * with a PKI generated here (a CA, a second CA, a gateway certificate and
 * node certificates, valid and not), and against plain OpenSSL peers that
 * break the profile (no ALPN, TLS 1.2). Certificates are checked at a fixed
 * wall-clock time, so the outcome never depends on the day the test runs.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tunnel/tls.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define T0	 INT64_C(1800000000) /* 2027-01-15: the test's "now" */
#define DAY	 INT64_C(86400)
#define GW_NAME	 "gw.causeway.test"
#define GW_IP	 "192.0.2.1"
#define REC_HS	 0x16
#define REC_APP	 0x17
#define REC_CCS	 0x14
#define MAX_KEYS 4

static struct {
	struct tu_ca ca, ca2; /* ca2: another CA */
	struct tu_ident gw, node_a, node_b, expired, foreign;
	uint8_t tkey[MAX_KEYS][CW_TLS_TICKET_KEY_LEN];
} fx;

/* ---- PKI ---- */

static struct tu_ident node_ident(const char *cn, const char *san)
{
	return tu_make_ident(cn, san, fx.ca.cert, fx.ca.key, T0 - DAY, T0 + 365 * DAY);
}

static int setup_pki(void **state)
{
	(void)state;
	tu_ca_make(&fx.ca, "Causeway test CA", T0);
	tu_ca_make(&fx.ca2, "Other CA", T0);
	fx.gw = tu_make_ident("gateway", "DNS:" GW_NAME ",IP:" GW_IP, fx.ca.cert, fx.ca.key,
			      T0 - DAY, T0 + 3000 * DAY);
	fx.node_a = node_ident("node:node-a", NULL);
	fx.node_b = node_ident("someone", "DNS:node-b.example,URI:causeway:node:node-b");
	fx.expired =
	    tu_make_ident("node:node-x", NULL, fx.ca.cert, fx.ca.key, T0 - 30 * DAY, T0 - DAY);
	fx.foreign =
	    tu_make_ident("node:node-a", NULL, fx.ca2.cert, fx.ca2.key, T0 - DAY, T0 + 365 * DAY);
	for (size_t i = 0; i < MAX_KEYS; i++)
		for (size_t j = 0; j < CW_TLS_TICKET_KEY_LEN; j++)
			fx.tkey[i][j] = (uint8_t)(0x11 * (i + 1) + j);
	return 0;
}

static int teardown_pki(void **state)
{
	(void)state;
	tu_ident_free(&fx.gw);
	tu_ident_free(&fx.node_a);
	tu_ident_free(&fx.node_b);
	tu_ident_free(&fx.expired);
	tu_ident_free(&fx.foreign);
	tu_ca_free(&fx.ca);
	tu_ca_free(&fx.ca2);
	return 0;
}

/* ---- contexts ---- */

/* An allocator that counts what is outstanding and can be made to fail. */
struct counting {
	size_t live_bytes, live_blocks, allocs;
	size_t fail_after; /* 0: never */
};

static void *c_alloc(void *ctx, size_t n)
{
	struct counting *c = ctx;

	if (c->fail_after && c->allocs + 1 >= c->fail_after)
		return NULL;
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

static struct cw_tls_server_cfg server_cfg(void)
{
	struct cw_tls_server_cfg cfg = {
	    .cert_chain = tu_pem_ref(&fx.gw.cert),
	    .key = tu_pem_ref(&fx.gw.key),
	    .node_ca = tu_pem_ref(&fx.ca.pem),
	};

	memcpy(cfg.ticket_key, fx.tkey[0], CW_TLS_TICKET_KEY_LEN);
	return cfg;
}

static struct cw_tls_client_cfg client_cfg(const struct tu_ident *id)
{
	return (struct cw_tls_client_cfg){
	    .cert = tu_pem_ref(&id->cert),
	    .key = tu_pem_ref(&id->key),
	    .gateway_ca = tu_pem_ref(&fx.ca.pem),
	    .gateway_name = GW_NAME,
	};
}

static struct cw_tls_server_ctx *server_ctx(const struct cw_tls_server_cfg *cfg)
{
	struct cw_tls_server_ctx *sc = NULL;

	assert_int_equal(cw_tls_server_ctx_new(cfg, NULL, &sc), 0);
	return sc;
}

static struct cw_tls_client_ctx *client_ctx(const struct cw_tls_client_cfg *cfg)
{
	struct cw_tls_client_ctx *cc = NULL;

	assert_int_equal(cw_tls_client_ctx_new(cfg, NULL, &cc), 0);
	return cc;
}

/* ---- pumping ---- */

struct flow {
	int rc_c, rc_s; /* last feed result on the agent / the gateway */
	size_t c_bytes[2], s_bytes;
	size_t records, ccs;
	uint8_t c_first[2][64], s_first[64];
};

/* Every chunk of output is whole TLS records; none is ChangeCipherSpec. */
static void scan_records(struct flow *f, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		size_t len;

		assert_true(off + 5 <= n);
		assert_true(p[off] == REC_HS || p[off] == REC_APP || p[off] == REC_CCS);
		assert_int_equal(p[off + 1], 0x03);
		len = (size_t)p[off + 3] << 8 | p[off + 4];
		assert_true(off + 5 + len <= n);
		f->records++;
		f->ccs += p[off] == REC_CCS;
		off += 5 + len;
	}
}

static void note(uint8_t *first, size_t sofar, const uint8_t *p, size_t n)
{
	if (sofar == 0)
		memcpy(first, p, n < 64 ? n : 64);
}

/*
 * Moves CRYPTO bytes both ways, level by level, until nothing moves or a
 * side fails. The gateway must never write Initial CRYPTO data.
 */
static void pump(struct cw_tls_conn *cl, struct cw_tls_conn *sv, struct flow *f)
{
	static uint8_t buf[CW_TLS_CRYPTO_MAX];

	memset(f, 0, sizeof(*f));
	for (int round = 0; round < 16; round++) {
		size_t moved = 0, n;

		for (int lvl = CW_PKT_INITIAL; lvl <= CW_PKT_HANDSHAKE; lvl++) {
			n = cw_tls_conn_take(cl, (enum cw_pkt_type)lvl, buf, sizeof(buf));
			if (!n)
				continue;
			scan_records(f, buf, n);
			note(f->c_first[lvl], f->c_bytes[lvl], buf, n);
			f->c_bytes[lvl] += n;
			moved += n;
			f->rc_s = cw_tls_conn_feed(sv, (enum cw_pkt_type)lvl, buf, n);
			if (f->rc_s)
				return;
		}
		assert_int_equal(cw_tls_conn_pending(sv, CW_PKT_INITIAL), 0);
		n = cw_tls_conn_take(sv, CW_PKT_HANDSHAKE, buf, sizeof(buf));
		if (n) {
			scan_records(f, buf, n);
			note(f->s_first, f->s_bytes, buf, n);
			f->s_bytes += n;
			moved += n;
			f->rc_c = cw_tls_conn_feed(cl, CW_PKT_HANDSHAKE, buf, n);
			if (f->rc_c)
				return;
		}
		if (!moved)
			return;
	}
	fail_msg("handshake did not settle");
}

struct pair {
	struct cw_tls_conn *cl, *sv;
	struct flow f;
};

/* One handshake: agent at @wall_c, gateway at @wall_s. */
static void run(struct pair *p, struct cw_tls_client_ctx *cc, struct cw_tls_server_ctx *sc,
		const uint8_t *ticket, size_t ticket_len, int64_t wall_c, int64_t wall_s)
{
	assert_int_equal(cw_tls_client_conn_new(cc, wall_c, ticket, ticket_len, &p->cl), 0);
	assert_int_equal(cw_tls_server_conn_new(sc, wall_s, &p->sv), 0);
	pump(p->cl, p->sv, &p->f);
}

static void pair_free(struct pair *p)
{
	cw_tls_conn_free(p->cl);
	cw_tls_conn_free(p->sv);
	p->cl = p->sv = NULL;
}

static void assert_same_secrets(const struct pair *p, enum cw_aead_alg want)
{
	uint8_t cc[CW_SECRET_LEN], cs[CW_SECRET_LEN], sc[CW_SECRET_LEN], ss[CW_SECRET_LEN];
	static const uint8_t zero[CW_SECRET_LEN];
	enum cw_aead_alg ac = 99, as = 98;

	assert_int_equal(cw_tls_conn_secrets(p->cl, cc, cs, &ac), 0);
	assert_int_equal(cw_tls_conn_secrets(p->sv, sc, ss, &as), 0);
	assert_memory_equal(cc, sc, CW_SECRET_LEN);
	assert_memory_equal(cs, ss, CW_SECRET_LEN);
	assert_memory_not_equal(cc, cs, CW_SECRET_LEN);
	assert_memory_not_equal(cc, zero, CW_SECRET_LEN);
	assert_memory_not_equal(cs, zero, CW_SECRET_LEN);
	assert_int_equal(ac, want);
	assert_int_equal(as, want);
}

static void assert_complete(const struct pair *p)
{
	assert_int_equal(p->f.rc_c, 0);
	assert_int_equal(p->f.rc_s, 0);
	assert_int_equal(cw_tls_conn_state(p->cl), CW_TLS_COMPLETE);
	assert_int_equal(cw_tls_conn_state(p->sv), CW_TLS_COMPLETE);
	assert_int_equal(cw_tls_conn_alert(p->cl), 0);
	assert_int_equal(cw_tls_conn_alert(p->sv), 0);
	assert_int_equal(p->f.ccs, 0);
}

/* The gateway refused (or the agent, with @agent_side): code and alert. */
static void assert_refused(const struct pair *p, bool agent_side, int rc, uint8_t alert)
{
	struct cw_tls_conn *who = agent_side ? p->cl : p->sv;
	uint8_t s[CW_SECRET_LEN];
	enum cw_aead_alg a;

	assert_int_equal(agent_side ? p->f.rc_c : p->f.rc_s, rc);
	assert_int_equal(cw_tls_conn_state(who), CW_TLS_FAILED);
	assert_int_equal(cw_tls_conn_alert(who), alert);
	assert_false(cw_tls_conn_has_tls(who));
	assert_int_equal(cw_tls_conn_pending(who, CW_PKT_INITIAL), 0);
	assert_int_equal(cw_tls_conn_pending(who, CW_PKT_HANDSHAKE), 0);
	assert_int_equal(cw_tls_conn_secrets(who, s, s, &a), -EAGAIN);
	assert_null(cw_tls_conn_node_name(who));
	/* The failure is sticky. */
	assert_int_equal(cw_tls_conn_feed(who, CW_PKT_HANDSHAKE, s, 1), rc);
	assert_int_equal(CW_TLS_CRYPTO_ERROR(alert), 0x100u + alert);
}

/* ---- tests ---- */

static void test_full_handshake(void **state)
{
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);
	struct cw_tls_client_ctx *cc = client_ctx(&ccfg);
	struct cw_tls_counters k;
	struct pair p;
	const uint8_t *t;
	size_t tlen, chlen;

	(void)state;
	run(&p, cc, sc, NULL, 0, T0, T0);
	assert_complete(&p);
	assert_same_secrets(&p, CW_AEAD_AES_128_GCM);
	assert_string_equal(cw_tls_conn_node_name(p.sv), "node-a");
	assert_null(cw_tls_conn_node_name(p.cl));
	assert_false(cw_tls_conn_resumed(p.cl));
	assert_false(cw_tls_conn_resumed(p.sv));

	/* Agent Initial: exactly one ClientHello record, legacy version 0x0301,
	 * empty legacy_session_id (no middlebox compatibility mode). */
	chlen = (size_t)p.f.c_first[0][3] << 8 | p.f.c_first[0][4];
	assert_int_equal(p.f.c_bytes[CW_PKT_INITIAL], 5 + chlen);
	assert_in_range(chlen, 200, 600);
	assert_int_equal(p.f.c_first[0][0], REC_HS);
	assert_int_equal(p.f.c_first[0][1], 0x03);
	assert_int_equal(p.f.c_first[0][2], 0x01);
	assert_int_equal(p.f.c_first[0][5], 0x01);	     /* client_hello */
	assert_int_equal(p.f.c_first[0][5 + 4 + 2 + 32], 0); /* session id */
	{
		/* Exactly the two suites of §7.1, AES-128-GCM first, and the
		 * renegotiation SCSV (RFC 5746) OpenSSL 3.0 always appends. */
		static const uint8_t suites[] = {0x00, 0x06, 0x13, 0x01, 0x13, 0x03, 0x00, 0xff};

		assert_memory_equal(p.f.c_first[0] + 44, suites, sizeof(suites));
	}
	/* Gateway: ServerHello record first, then encrypted records only. */
	assert_int_equal(p.f.s_first[0], REC_HS);
	assert_int_equal(p.f.s_first[5], 0x02); /* server_hello */
	/* ECDSA P-256 chain: a full flight plus ticket, within the 3x limit. */
	assert_in_range(p.f.s_bytes, 900, 3600);
	/* Agent Handshake: Certificate, CertificateVerify, Finished, encrypted. */
	assert_int_equal(p.f.c_first[1][0], REC_APP);
	assert_in_range(p.f.c_bytes[CW_PKT_HANDSHAKE], 400, 1500);

	/* One signature each way, each checked; chains of two verified. */
	cw_tls_conn_counters(p.sv, &k);
	assert_int_equal(k.cert_verify_sent, 1);
	assert_int_equal(k.cert_verify_received, 1);
	assert_int_equal(k.certs_verified, 2);
	cw_tls_conn_counters(p.cl, &k);
	assert_int_equal(k.cert_verify_sent, 1);
	assert_int_equal(k.cert_verify_received, 1);
	assert_int_equal(k.certs_verified, 2);

	/* The gateway freed TLS on completion; the agent holds it and a
	 * ticket until it releases TLS on confirmation. */
	assert_false(cw_tls_conn_has_tls(p.sv));
	assert_true(cw_tls_conn_has_tls(p.cl));
	t = cw_tls_conn_ticket(p.cl, &tlen);
	assert_non_null(t);
	assert_in_range(tlen, 300, CW_TLS_TICKET_MAX);
	{
		const unsigned char *q = t;
		SSL_SESSION *s = d2i_SSL_SESSION(NULL, &q, (long)tlen);

		assert_non_null(s);
		assert_int_equal(SSL_SESSION_get_ticket_lifetime_hint(s), 7200);
		assert_int_equal(SSL_SESSION_get_protocol_version(s), TLS1_3_VERSION);
		SSL_SESSION_free(s);
	}
	cw_tls_conn_release_tls(p.cl);
	cw_tls_conn_release_tls(p.cl);
	assert_false(cw_tls_conn_has_tls(p.cl));
	/* Late TLS bytes are ignored; results stay. */
	assert_int_equal(cw_tls_conn_feed(p.cl, CW_PKT_HANDSHAKE, (const uint8_t *)"xx", 2), 0);
	assert_int_equal(cw_tls_conn_feed(p.sv, CW_PKT_HANDSHAKE, (const uint8_t *)"xx", 2), 0);
	assert_same_secrets(&p, CW_AEAD_AES_128_GCM);
	assert_non_null(cw_tls_conn_ticket(p.cl, &tlen));
	pair_free(&p);
	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);
}

static void test_chacha_preference_and_ip_name(void **state)
{
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_b);
	struct cw_tls_server_ctx *sc;
	struct cw_tls_client_ctx *cc;
	struct pair p;

	(void)state;
	scfg.prefer_chacha20 = true;
	ccfg.gateway_name = GW_IP;
	sc = server_ctx(&scfg);
	cc = client_ctx(&ccfg);
	run(&p, cc, sc, NULL, 0, T0, T0);
	assert_complete(&p);
	assert_same_secrets(&p, CW_AEAD_CHACHA20_POLY1305);
	/* node-b's name is in its SAN URI; its CN says something else. */
	assert_string_equal(cw_tls_conn_node_name(p.sv), "node-b");
	pair_free(&p);
	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);
}

struct refusal {
	const char *what;
	const struct tu_ident *agent;
	const struct tu_pem *gw_ca; /* the agent's CA bundle; NULL: the right one */
	const char *gw_name;	    /* NULL: GW_NAME */
	int64_t wall_c;		    /* 0: T0 */
	bool agent_side;	    /* who refuses */
	uint8_t alert;
};

static void test_certificate_refusals(void **state)
{
	const struct refusal rows[] = {
	    {"gateway signed by an unknown CA", &fx.node_a, &fx.ca2.pem, NULL, 0, true,
	     CW_TLS_ALERT_UNKNOWN_CA},
	    {"agent signed by an unknown CA", &fx.foreign, NULL, NULL, 0, false,
	     CW_TLS_ALERT_UNKNOWN_CA},
	    {"expired agent certificate", &fx.expired, NULL, NULL, 0, false,
	     CW_TLS_ALERT_CERTIFICATE_EXPIRED},
	    {"gateway certificate expired at the agent's time", &fx.node_a, NULL, NULL,
	     T0 + 3001 * DAY, true, CW_TLS_ALERT_CERTIFICATE_EXPIRED},
	    {"gateway DNS name mismatch", &fx.node_a, NULL, "other.causeway.test", 0, true,
	     CW_TLS_ALERT_BAD_CERTIFICATE},
	    {"gateway IP mismatch", &fx.node_a, NULL, "192.0.2.2", 0, true,
	     CW_TLS_ALERT_BAD_CERTIFICATE},
	};
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);

	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		const struct refusal *r = &rows[i];
		struct cw_tls_client_cfg ccfg = client_cfg(r->agent);
		struct cw_tls_client_ctx *cc;
		struct pair p;

		print_message("%s\n", r->what);
		if (r->gw_ca)
			ccfg.gateway_ca = tu_pem_ref(r->gw_ca);
		if (r->gw_name)
			ccfg.gateway_name = r->gw_name;
		cc = client_ctx(&ccfg);
		run(&p, cc, sc, NULL, 0, r->wall_c ? r->wall_c : T0, T0);
		assert_refused(&p, r->agent_side, -EACCES, r->alert);
		if (r->agent_side) {
			/* The agent refused the gateway's first flight. */
			assert_int_equal(p.f.c_bytes[CW_PKT_HANDSHAKE], 0);
			assert_true(p.f.s_bytes > 0);
		} else {
			assert_int_equal(cw_tls_conn_state(p.cl), CW_TLS_COMPLETE);
			assert_true(p.f.c_bytes[CW_PKT_HANDSHAKE] > 0);
		}
		pair_free(&p);
		cw_tls_client_ctx_free(cc);
	}
	cw_tls_server_ctx_free(sc);
}

struct name_row {
	const char *cn, *san, *want; /* want NULL: refused */
};

static void test_node_names_from_certificates(void **state)
{
	static char long_ok[300], long_bad[300];
	const struct name_row rows[] = {
	    {"node:node-a", NULL, "node-a"},
	    {"node:a", "DNS:x.example", "a"},
	    {"node:web-1.zone-b.example", NULL, "web-1.zone-b.example"},
	    {"x", "URI:causeway:node:edge-7", "edge-7"},
	    {NULL, "URI:https://example.com/,URI:causeway:node:n1", "n1"},
	    {"node:cn-loses", "URI:causeway:node:san-wins", "san-wins"},
	    {NULL, long_ok, long_ok + strlen("URI:causeway:node:")},
	    {"node:Node-A", NULL, NULL},
	    {"node:-a", NULL, NULL},
	    {"node:a-", NULL, NULL},
	    {"node:a..b", NULL, NULL},
	    {"node:.a", NULL, NULL},
	    {"node:a.", NULL, NULL},
	    {"node:a_b", NULL, NULL},
	    {"node:a b", NULL, NULL},
	    {"node:", NULL, NULL},
	    {"node-a", NULL, NULL},
	    {"Node:node-a", NULL, NULL},
	    {NULL, "DNS:node-a", NULL},
	    {NULL, long_bad, NULL},
	    {"node:good", "URI:causeway:node:BAD", NULL},
	    {"node:good", "URI:causeway:node:", NULL},
	    {NULL, "URI:causeway:node:a,URI:causeway:node:b", NULL},
	    {"node:good", "URI:causeway:nodes:x", "good"},
	};
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);

	(void)state;
	strcpy(long_ok, "URI:causeway:node:");
	strcpy(long_bad, long_ok);
	memset(long_ok + strlen(long_ok), 'a', 253);
	memset(long_bad + strlen(long_bad), 'a', 254);
	for (size_t i = 0; i < N(rows); i++) {
		struct tu_ident id = node_ident(rows[i].cn, rows[i].san);
		struct cw_tls_client_cfg ccfg = client_cfg(&id);
		struct cw_tls_client_ctx *cc = client_ctx(&ccfg);
		struct cw_tls_pem cert = tu_pem_ref(&id.cert);
		char own[CW_TLS_NODE_NAME_MAX + 1];
		struct cw_tls_counters k;
		struct pair p;

		print_message("row %zu: CN %s SAN %.40s\n", i, rows[i].cn ? rows[i].cn : "-",
			      rows[i].san ? rows[i].san : "-");
		run(&p, cc, sc, NULL, 0, T0, T0);
		/* The agent reads its own name as the gateway does. */
		assert_int_equal(cw_tls_cert_node_name(&cert, own), rows[i].want ? 0 : -EACCES);
		if (rows[i].want) {
			assert_string_equal(own, rows[i].want);
			assert_complete(&p);
			assert_string_equal(cw_tls_conn_node_name(p.sv), rows[i].want);
		} else {
			assert_refused(&p, false, -EACCES, CW_TLS_ALERT_ACCESS_DENIED);
			cw_tls_conn_counters(p.sv, &k);
			assert_int_equal(k.certs_verified, 2);
		}
		pair_free(&p);
		cw_tls_client_ctx_free(cc);
		tu_ident_free(&id);
	}
	cw_tls_server_ctx_free(sc);
}

static void test_cert_node_name_errors(void **state)
{
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64\n";
	struct cw_tls_pem garbled = {NULL, junk, sizeof(junk) - 1};
	struct cw_tls_pem file = {.path = "/nonexistent/x.crt"};
	char out[CW_TLS_NODE_NAME_MAX + 1];

	(void)state;
	assert_int_equal(cw_tls_cert_node_name(&garbled, out), -EBADMSG);
	assert_int_equal(cw_tls_cert_node_name(&file, out), -EBADMSG);
	assert_int_equal(cw_tls_cert_node_name(NULL, out), -EINVAL);
}

static void test_node_name_valid(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} rows[] = {
	    {"a", true},	 {"0", true},	       {"node-a", true}, {"a.b.c", true},
	    {"a-b-c.d-e", true}, {"1-2", true},	       {"", false},	 {"A", false},
	    {"-a", false},	 {"a-", false},	       {"a.-b", false},	 {"a-.b", false},
	    {".a", false},	 {"a.", false},	       {"a..b", false},	 {"a_b", false},
	    {"a b", false},	 {"a\xc3\xa9", false}, {"a/b", false},	 {"a:b", false},
	};
	char buf[260];

	(void)state;
	for (size_t i = 0; i < N(rows); i++)
		assert_int_equal(cw_tls_node_name_valid(rows[i].s, strlen(rows[i].s)), rows[i].ok);
	memset(buf, 'z', sizeof(buf));
	assert_true(cw_tls_node_name_valid(buf, 253));
	assert_false(cw_tls_node_name_valid(buf, 254));
	assert_false(cw_tls_node_name_valid("a\0b", 3));
	assert_false(cw_tls_node_name_valid(NULL, 1));
	/* 63+ character labels are fine in a subdomain; only the total counts. */
	assert_true(cw_tls_node_name_valid(buf, 100));
}

/* ---- plain OpenSSL peers that break the profile ---- */

static int raw_alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
			   const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x0a" CW_TLS_ALPN;

	(void)s;
	(void)arg;
	return SSL_select_next_proto((unsigned char **)out, outlen, ours, sizeof(ours) - 1, in,
				     inlen) == OPENSSL_NPN_NEGOTIATED
		   ? SSL_TLSEXT_ERR_OK
		   : SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* A plain OpenSSL peer; a server with @alpn selects causeway/1. */
static SSL *raw_ssl(bool server, int max_version, const char *alpn)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	SSL *s;

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
	if (server) {
		BIO *cb = BIO_new_mem_buf(fx.gw.cert.data, (int)fx.gw.cert.len);
		BIO *kb = BIO_new_mem_buf(fx.gw.key.data, (int)fx.gw.key.len);
		X509 *x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
		EVP_PKEY *k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);

		assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, k), 1);
		X509_free(x);
		EVP_PKEY_free(k);
		BIO_free(cb);
		BIO_free(kb);
	}
	if (alpn && server) {
		SSL_CTX_set_alpn_select_cb(ctx, raw_alpn_select, NULL);
	} else if (alpn) {
		unsigned char wire[32];

		wire[0] = (unsigned char)strlen(alpn);
		memcpy(wire + 1, alpn, wire[0]);
		assert_int_equal(SSL_CTX_set_alpn_protos(ctx, wire, wire[0] + 1u), 0);
	}
	s = SSL_new(ctx);
	SSL_CTX_free(ctx);
	SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	if (server)
		SSL_set_accept_state(s);
	else
		SSL_set_connect_state(s);
	return s;
}

/* Pumps between @c and @raw; returns @c's first failing feed. */
static int pump_raw(struct cw_tls_conn *c, SSL *raw, bool c_is_server)
{
	static uint8_t buf[CW_TLS_CRYPTO_MAX];
	bool c_spoke = false;

	for (int round = 0; round < 8; round++) {
		int n, rc;

		(void)SSL_do_handshake(raw);
		while ((n = BIO_read(SSL_get_wbio(raw), buf, sizeof(buf))) > 0) {
			enum cw_pkt_type lvl =
			    c_is_server && !c_spoke ? CW_PKT_INITIAL : CW_PKT_HANDSHAKE;

			rc = cw_tls_conn_feed(c, lvl, buf, (size_t)n);
			if (rc)
				return rc;
		}
		for (int lvl = CW_PKT_INITIAL; lvl <= CW_PKT_HANDSHAKE; lvl++) {
			size_t m = cw_tls_conn_take(c, (enum cw_pkt_type)lvl, buf, sizeof(buf));

			if (m) {
				c_spoke = true;
				assert_int_equal(BIO_write(SSL_get_rbio(raw), buf, (int)m), (int)m);
			}
		}
	}
	return 0;
}

static void test_profile_violations(void **state)
{
	static const struct {
		const char *what;
		bool raw_server;
		int max_version;
		const char *alpn;
		uint8_t alert;
	} rows[] = {
	    {"agent offers no ALPN", false, TLS1_3_VERSION, NULL,
	     CW_TLS_ALERT_NO_APPLICATION_PROTOCOL},
	    {"agent offers another ALPN", false, TLS1_3_VERSION, "h2",
	     CW_TLS_ALERT_NO_APPLICATION_PROTOCOL},
	    {"agent offers a near miss", false, TLS1_3_VERSION, "causeway/2",
	     CW_TLS_ALERT_NO_APPLICATION_PROTOCOL},
	    {"agent speaks TLS 1.2 only", false, TLS1_2_VERSION, CW_TLS_ALPN,
	     CW_TLS_ALERT_PROTOCOL_VERSION},
	    {"gateway selects no ALPN", true, TLS1_3_VERSION, NULL,
	     CW_TLS_ALERT_NO_APPLICATION_PROTOCOL},
	    {"gateway speaks TLS 1.2 only", true, TLS1_2_VERSION, NULL,
	     CW_TLS_ALERT_PROTOCOL_VERSION},
	};
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);
	struct cw_tls_client_ctx *cc = client_ctx(&ccfg);

	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		SSL *raw = raw_ssl(rows[i].raw_server, rows[i].max_version, rows[i].alpn);
		struct cw_tls_conn *c;
		uint8_t s[CW_SECRET_LEN];
		enum cw_aead_alg a;

		print_message("%s\n", rows[i].what);
		if (rows[i].raw_server)
			assert_int_equal(cw_tls_client_conn_new(cc, T0, NULL, 0, &c), 0);
		else
			assert_int_equal(cw_tls_server_conn_new(sc, T0, &c), 0);
		assert_int_equal(pump_raw(c, raw, !rows[i].raw_server), -EPROTO);
		assert_int_equal(cw_tls_conn_state(c), CW_TLS_FAILED);
		assert_int_equal(cw_tls_conn_alert(c), rows[i].alert);
		assert_int_equal(cw_tls_conn_secrets(c, s, s, &a), -EAGAIN);
		assert_false(cw_tls_conn_has_tls(c));
		cw_tls_conn_free(c);
		SSL_free(raw);
	}
	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);
}

/* §7.1: after the handshake only NewSessionTicket may arrive. */
static void test_post_handshake_messages(void **state)
{
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_client_ctx *cc = client_ctx(&ccfg);

	(void)state;
	for (int i = 0; i < 3; i++) {
		SSL *raw = raw_ssl(true, TLS1_3_VERSION, CW_TLS_ALPN);
		struct cw_tls_conn *c;
		int rc;

		SSL_set_num_tickets(raw, 0);
		assert_int_equal(cw_tls_client_conn_new(cc, T0, NULL, 0, &c), 0);
		assert_int_equal(pump_raw(c, raw, false), 0);
		assert_int_equal(cw_tls_conn_state(c), CW_TLS_COMPLETE);
		assert_int_equal(SSL_is_init_finished(raw), 1);
		if (i == 0) {
			assert_int_equal(SSL_write(raw, "x", 1), 1);
		} else if (i == 1) {
			assert_int_equal(SSL_key_update(raw, SSL_KEY_UPDATE_REQUESTED), 1);
			assert_int_equal(SSL_do_handshake(raw), 1);
		} else {
			/* A ticket is fine and is kept. */
			assert_int_equal(SSL_new_session_ticket(raw), 1);
			assert_int_equal(SSL_do_handshake(raw), 1);
		}
		rc = pump_raw(c, raw, false);
		if (i < 2) {
			assert_int_equal(rc, -EPROTO);
			assert_int_equal(cw_tls_conn_alert(c), CW_TLS_ALERT_UNEXPECTED_MESSAGE);
		} else {
			size_t len;

			assert_int_equal(rc, 0);
			assert_int_equal(cw_tls_conn_state(c), CW_TLS_COMPLETE);
			assert_non_null(cw_tls_conn_ticket(c, &len));
			assert_true(len > 100);
		}
		cw_tls_conn_free(c);
		SSL_free(raw);
	}
	cw_tls_client_ctx_free(cc);
}

/* ---- resumption ---- */

/* A full handshake of node-a; returns its ticket (malloc'ed). */
static uint8_t *full_for_ticket(struct cw_tls_client_ctx *cc, struct cw_tls_server_ctx *sc,
				size_t *len, size_t *s_bytes)
{
	struct pair p;
	const uint8_t *t;
	uint8_t *copy;

	run(&p, cc, sc, NULL, 0, T0, T0);
	assert_complete(&p);
	assert_false(cw_tls_conn_resumed(p.sv));
	t = cw_tls_conn_ticket(p.cl, len);
	assert_non_null(t);
	copy = malloc(*len);
	memcpy(copy, t, *len);
	*s_bytes = p.f.s_bytes;
	pair_free(&p);
	return copy;
}

static void assert_resumed(const struct pair *p, size_t full_s_bytes)
{
	struct cw_tls_counters k;

	assert_complete(p);
	assert_true(cw_tls_conn_resumed(p->cl));
	assert_true(cw_tls_conn_resumed(p->sv));
	assert_same_secrets(p, CW_AEAD_AES_128_GCM);
	assert_string_equal(cw_tls_conn_node_name(p->sv), "node-a");
	/* The point of the ticket: no certificate signed, sent or checked. */
	cw_tls_conn_counters(p->sv, &k);
	assert_int_equal(k.certs_verified, 0);
	assert_int_equal(k.cert_verify_sent, 0);
	assert_int_equal(k.cert_verify_received, 0);
	cw_tls_conn_counters(p->cl, &k);
	assert_int_equal(k.certs_verified, 0);
	assert_int_equal(k.cert_verify_sent, 0);
	assert_int_equal(k.cert_verify_received, 0);
	/* Without the certificate the gateway's flight shrinks by hundreds of
	 * bytes; the agent's Handshake data is a lone Finished record. */
	assert_true(p->f.s_bytes + 400 < full_s_bytes);
	assert_int_equal(p->f.c_bytes[CW_PKT_HANDSHAKE], 5 + 4 + 32 + 1 + 16);
}

static void assert_full(const struct pair *p)
{
	struct cw_tls_counters k;

	assert_complete(p);
	assert_false(cw_tls_conn_resumed(p->cl));
	assert_false(cw_tls_conn_resumed(p->sv));
	cw_tls_conn_counters(p->sv, &k);
	assert_int_equal(k.certs_verified, 2);
	assert_int_equal(k.cert_verify_sent, 1);
	assert_int_equal(k.cert_verify_received, 1);
}

static void test_resumption(void **state)
{
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);
	struct cw_tls_client_ctx *cc = client_ctx(&ccfg);
	size_t tlen, full_bytes, n2;
	uint8_t *ticket = full_for_ticket(cc, sc, &tlen, &full_bytes);
	const uint8_t *t2;
	struct pair p;

	(void)state;
	run(&p, cc, sc, ticket, tlen, T0, T0);
	assert_resumed(&p, full_bytes);
	/* A resumed session gets a fresh ticket, itself resumable. */
	t2 = cw_tls_conn_ticket(p.cl, &n2);
	assert_non_null(t2);
	assert_memory_not_equal(t2, ticket, n2 < tlen ? n2 : tlen);
	pair_free(&p);

	/* A garbage or truncated ticket is ignored: full handshake. */
	run(&p, cc, sc, ticket, tlen / 2, T0, T0);
	assert_full(&p);
	pair_free(&p);
	ticket[tlen / 2] ^= 0xff;
	run(&p, cc, sc, ticket, tlen, T0, T0);
	assert_full(&p);
	pair_free(&p);
	free(ticket);
	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);
}

static void test_ticket_key_rotation(void **state)
{
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);
	struct cw_tls_client_ctx *cc = client_ctx(&ccfg);
	size_t len0, len1, full_bytes;
	uint8_t *t0 = full_for_ticket(cc, sc, &len0, &full_bytes); /* under key 0 */
	uint8_t *t1;
	struct pair p;

	(void)state;
	/* The current key's name again is refused; nothing changes. */
	assert_int_equal(cw_tls_server_ctx_rotate_ticket_key(sc, fx.tkey[0]), -EINVAL);
	assert_int_equal(cw_tls_server_ctx_rotate_ticket_key(NULL, fx.tkey[1]), -EINVAL);

	/* One rotation: key 0 is the previous key, still accepted. */
	assert_int_equal(cw_tls_server_ctx_rotate_ticket_key(sc, fx.tkey[1]), 0);
	run(&p, cc, sc, t0, len0, T0, T0);
	assert_resumed(&p, full_bytes);
	pair_free(&p);
	t1 = full_for_ticket(cc, sc, &len1, &full_bytes); /* under key 1 */

	/* Two rotations: key 0 is gone, its ticket falls back to a full
	 * handshake; key 1's ticket still resumes. */
	assert_int_equal(cw_tls_server_ctx_rotate_ticket_key(sc, fx.tkey[2]), 0);
	run(&p, cc, sc, t0, len0, T0, T0);
	assert_full(&p);
	assert_string_equal(cw_tls_conn_node_name(p.sv), "node-a");
	pair_free(&p);
	run(&p, cc, sc, t1, len1, T0, T0);
	assert_resumed(&p, full_bytes);
	pair_free(&p);

	/* A gateway restarted with other keys cannot read either ticket. */
	{
		struct cw_tls_server_cfg other = server_cfg();
		struct cw_tls_server_ctx *sc2;

		memcpy(other.ticket_key, fx.tkey[3], CW_TLS_TICKET_KEY_LEN);
		sc2 = server_ctx(&other);
		run(&p, cc, sc2, t1, len1, T0, T0);
		assert_full(&p);
		pair_free(&p);
		cw_tls_server_ctx_free(sc2);
	}
	free(t0);
	free(t1);
	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);
}

/* §7.1: a ticket whose stored certificate has expired is refused. */
static void test_ticket_with_expired_certificate(void **state)
{
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);
	struct cw_tls_client_ctx *cc = client_ctx(&ccfg);
	size_t len, full_bytes;
	uint8_t *t = full_for_ticket(cc, sc, &len, &full_bytes);
	const int64_t later = T0 + 400 * DAY; /* node-a expired, gateway not */
	struct cw_tls_counters k;
	struct pair p;

	(void)state;
	run(&p, cc, sc, t, len, later, later);
	/* The gateway did a full handshake, which then refused the cert. */
	assert_refused(&p, false, -EACCES, CW_TLS_ALERT_CERTIFICATE_EXPIRED);
	cw_tls_conn_counters(p.sv, &k);
	assert_int_equal(k.cert_verify_sent, 1);
	assert_true(k.certs_verified >= 1);
	pair_free(&p);
	free(t);
	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);
}

/*
 * §7.1: on resumption the node name is the one of the full handshake's
 * certificate, kept by the ticket, and the ticket dies with that
 * certificate even when the agent has a valid one by then.
 */
static void test_ticket_keeps_certificate_name_and_expiry(void **state)
{
	struct tu_ident short_lived = tu_make_ident("someone", "URI:causeway:node:node-s",
						    fx.ca.cert, fx.ca.key, T0 - DAY, T0 + 10 * DAY);
	struct tu_ident renewed =
	    tu_make_ident("node:node-r", NULL, fx.ca.cert, fx.ca.key, T0, T0 + 400 * DAY);
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg c1 = client_cfg(&short_lived), c2 = client_cfg(&renewed);
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);
	struct cw_tls_client_ctx *cc1 = client_ctx(&c1), *cc2 = client_ctx(&c2);
	struct cw_tls_counters k;
	const uint8_t *t;
	uint8_t *ticket;
	size_t len;
	struct pair p;

	(void)state;
	run(&p, cc1, sc, NULL, 0, T0, T0);
	assert_complete(&p);
	assert_string_equal(cw_tls_conn_node_name(p.sv), "node-s");
	t = cw_tls_conn_ticket(p.cl, &len);
	assert_non_null(t);
	ticket = malloc(len);
	memcpy(ticket, t, len);
	pair_free(&p);

	/* Within its certificate's validity the ticket resumes, and the name
	 * is the ticket's: the agent's current certificate is never sent. */
	run(&p, cc2, sc, ticket, len, T0 + 9 * DAY, T0 + 9 * DAY);
	assert_complete(&p);
	assert_true(cw_tls_conn_resumed(p.sv));
	assert_string_equal(cw_tls_conn_node_name(p.sv), "node-s");
	cw_tls_conn_counters(p.sv, &k);
	assert_int_equal(k.certs_verified, 0);
	pair_free(&p);

	/* After it expired (at the gateway's time) the ticket is refused and
	 * the full handshake names the certificate presented now. */
	run(&p, cc2, sc, ticket, len, T0 + 9 * DAY, T0 + 10 * DAY);
	assert_complete(&p);
	assert_false(cw_tls_conn_resumed(p.sv));
	assert_false(cw_tls_conn_resumed(p.cl));
	assert_string_equal(cw_tls_conn_node_name(p.sv), "node-r");
	cw_tls_conn_counters(p.sv, &k);
	assert_int_equal(k.cert_verify_sent, 1);
	assert_int_equal(k.cert_verify_received, 1);
	pair_free(&p);

	free(ticket);
	cw_tls_client_ctx_free(cc1);
	cw_tls_client_ctx_free(cc2);
	cw_tls_server_ctx_free(sc);
	tu_ident_free(&short_lived);
	tu_ident_free(&renewed);
}

/* @a's PEM followed by @b's, as one chain source. */
static struct tu_pem pem_cat(const struct tu_pem *a, const struct tu_pem *b)
{
	struct tu_pem out = {malloc(a->len + b->len), a->len + b->len};

	assert_non_null(out.data);
	memcpy(out.data, a->data, a->len);
	memcpy(out.data + a->len, b->data, b->len);
	return out;
}

/* The gateway's answer to a ClientHello: ServerHello to Finished. */
static size_t gateway_flight(struct cw_tls_client_ctx *cc, struct cw_tls_server_ctx *sc)
{
	struct cw_tls_conn *cl, *sv;
	uint8_t ch[1024];
	size_t n;

	assert_int_equal(cw_tls_client_conn_new(cc, T0, NULL, 0, &cl), 0);
	assert_int_equal(cw_tls_server_conn_new(sc, T0, &sv), 0);
	n = cw_tls_conn_take(cl, CW_PKT_INITIAL, ch, sizeof(ch));
	assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_INITIAL, ch, n), 0);
	n = cw_tls_conn_pending(sv, CW_PKT_HANDSHAKE);
	cw_tls_conn_free(cl);
	cw_tls_conn_free(sv);
	return n;
}

/* The agent's Handshake data of a full handshake: Certificate to Finished. */
static size_t agent_flight(struct cw_tls_client_ctx *cc, struct cw_tls_server_ctx *sc)
{
	struct pair p;
	size_t n;

	run(&p, cc, sc, NULL, 0, T0, T0);
	assert_complete(&p);
	assert_string_equal(cw_tls_conn_node_name(p.sv), "node-a");
	n = p.f.c_bytes[CW_PKT_HANDSHAKE];
	pair_free(&p);
	return n;
}

/*
 * Each side sends the chain its certificate source holds, nothing built
 * from its CA store: naming the CA in the source adds exactly that
 * certificate (its DER and a 5-byte entry header) to the Certificate
 * message, where OpenSSL's automatic chain would have sent it anyway.
 */
static void test_chain_as_configured(void **state)
{
	struct tu_pem gw_chain = pem_cat(&fx.gw.cert, &fx.ca.pem);
	struct tu_pem node_chain = pem_cat(&fx.node_a.cert, &fx.ca.pem);
	struct tu_ident node_id = {node_chain, fx.node_a.key};
	struct cw_tls_server_cfg s1 = server_cfg(), s2 = server_cfg();
	struct cw_tls_client_cfg c1 = client_cfg(&fx.node_a), c2 = client_cfg(&node_id);
	struct cw_tls_server_ctx *sc1, *sc2;
	struct cw_tls_client_ctx *cc1, *cc2;
	size_t s_leaf, c_leaf, extra = (size_t)i2d_X509(fx.ca.cert, NULL) + 5;

	(void)state;
	s2.cert_chain = tu_pem_ref(&gw_chain);
	sc1 = server_ctx(&s1);
	sc2 = server_ctx(&s2);
	cc1 = client_ctx(&c1);
	cc2 = client_ctx(&c2);
	s_leaf = gateway_flight(cc1, sc1);
	c_leaf = agent_flight(cc1, sc1);
	/* Only the CertificateVerify signatures (DER, ~70 bytes) vary. */
	assert_in_range(gateway_flight(cc2, sc2), s_leaf + extra - 8, s_leaf + extra + 8);
	assert_in_range(agent_flight(cc2, sc2), c_leaf + extra - 8, c_leaf + extra + 8);
	cw_tls_client_ctx_free(cc1);
	cw_tls_client_ctx_free(cc2);
	cw_tls_server_ctx_free(sc1);
	cw_tls_server_ctx_free(sc2);
	tu_pem_free(&gw_chain);
	tu_pem_free(&node_chain);
}

/* ---- CRYPTO levels (§7.2) and limits ---- */

static void test_levels(void **state)
{
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_server_ctx *sc = server_ctx(&scfg);
	struct cw_tls_client_ctx *cc = client_ctx(&ccfg);
	struct cw_tls_conn *cl, *sv;
	uint8_t ch[1024], buf[8192];
	size_t chlen, n;
	struct pair p;

	(void)state;
	assert_int_equal(cw_tls_client_conn_new(cc, T0, NULL, 0, &cl), 0);
	assert_int_equal(cw_tls_server_conn_new(sc, T0, &sv), 0);
	assert_int_equal(cw_tls_conn_pending(cl, CW_PKT_HANDSHAKE), 0);
	chlen = cw_tls_conn_pending(cl, CW_PKT_INITIAL);
	assert_true(chlen > 0 && chlen <= sizeof(ch));
	/* Partial takes hand out the stream in order. */
	assert_int_equal(cw_tls_conn_take(cl, CW_PKT_INITIAL, ch, 10), 10);
	assert_int_equal(cw_tls_conn_pending(cl, CW_PKT_INITIAL), chlen - 10);
	assert_int_equal(cw_tls_conn_take(cl, CW_PKT_INITIAL, ch + 10, sizeof(ch)), chlen - 10);
	assert_int_equal(cw_tls_conn_take(cl, CW_PKT_INITIAL, ch, sizeof(ch)), 0);
	assert_int_equal(cw_tls_conn_take(cl, CW_PKT_SHORT, ch, sizeof(ch)), 0);
	assert_int_equal(cw_tls_conn_feed(cl, CW_PKT_SHORT, ch, 1), -EINVAL);
	assert_int_equal(cw_tls_conn_feed(cl, CW_PKT_HANDSHAKE, NULL, 1), -EINVAL);

	/* Gateway: Handshake data before the ClientHello is complete waits. */
	assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_HANDSHAKE, ch, 5), -EAGAIN);
	/* The ClientHello byte by byte: no answer until its last byte. */
	for (size_t i = 0; i + 1 < chlen; i++) {
		assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_INITIAL, ch + i, 1), 0);
		assert_int_equal(cw_tls_conn_pending(sv, CW_PKT_HANDSHAKE), 0);
	}
	assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_INITIAL, ch + chlen - 1, 1), 0);
	n = cw_tls_conn_pending(sv, CW_PKT_HANDSHAKE);
	/* The whole flight, ServerHello to Finished, with one certificate. */
	assert_true(n > 700);
	assert_int_equal(cw_tls_conn_pending(sv, CW_PKT_INITIAL), 0);
	/* More Initial data after the ClientHello is a violation. */
	assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_INITIAL, ch, 1), -EPROTO);
	assert_int_equal(cw_tls_conn_state(sv), CW_TLS_FAILED);
	assert_int_equal(cw_tls_conn_alert(sv), 0);
	assert_int_equal(cw_tls_conn_pending(sv, CW_PKT_HANDSHAKE), 0);
	/* Agent: Initial CRYPTO data from the gateway is a violation. */
	assert_int_equal(cw_tls_conn_feed(cl, CW_PKT_INITIAL, ch, 1), -EPROTO);
	assert_int_equal(cw_tls_conn_alert(cl), 0);
	cw_tls_conn_free(cl);
	cw_tls_conn_free(sv);

	/* A ClientHello with trailing Initial bytes is a violation too. */
	assert_int_equal(cw_tls_client_conn_new(cc, T0, NULL, 0, &cl), 0);
	assert_int_equal(cw_tls_server_conn_new(sc, T0, &sv), 0);
	chlen = cw_tls_conn_take(cl, CW_PKT_INITIAL, buf, sizeof(buf));
	buf[chlen] = REC_HS;
	assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_INITIAL, buf, chlen + 1), -EPROTO);
	cw_tls_conn_free(cl);
	cw_tls_conn_free(sv);

	/* CRYPTO data beyond 65536 bytes per level. */
	assert_int_equal(cw_tls_server_conn_new(sc, T0, &sv), 0);
	{
		uint8_t *big = calloc(1, CW_TLS_CRYPTO_MAX + 1);

		assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_INITIAL, big, CW_TLS_CRYPTO_MAX + 1),
				 -EMSGSIZE);
		assert_int_equal(cw_tls_conn_alert(sv), 0);
		assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_INITIAL, big, 1), -EMSGSIZE);
		free(big);
	}
	cw_tls_conn_free(sv);

	/* Garbage where a ClientHello belongs: TLS fails with an alert. */
	assert_int_equal(cw_tls_server_conn_new(sc, T0, &sv), 0);
	memset(buf, 0x16, 64);
	assert_int_equal(cw_tls_conn_feed(sv, CW_PKT_INITIAL, buf, 64), -EPROTO);
	assert_int_not_equal(cw_tls_conn_alert(sv), 0);
	cw_tls_conn_free(sv);

	/* After all that the contexts still work. */
	run(&p, cc, sc, NULL, 0, T0, T0);
	assert_complete(&p);
	pair_free(&p);
	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);
}

/* ---- contexts, files, allocator ---- */

static char *write_temp(const struct tu_pem *p)
{
	char *path = strdup("/tmp/cw_tls_XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p->data, p->len), (ssize_t)p->len);
	close(fd);
	return path;
}

static void test_context_loading(void **state)
{
	char *gw_cert = write_temp(&fx.gw.cert), *gw_key = write_temp(&fx.gw.key);
	char *ca = write_temp(&fx.ca.pem), *a_cert = write_temp(&fx.node_a.cert);
	char *a_key = write_temp(&fx.node_a.key);
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_server_ctx *sc = NULL;
	struct cw_tls_client_ctx *cc = NULL;
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n";
	struct pair p;

	(void)state;
	scfg.cert_chain = (struct cw_tls_pem){gw_cert, NULL, 0};
	scfg.key = (struct cw_tls_pem){gw_key, NULL, 0};
	scfg.node_ca = (struct cw_tls_pem){ca, NULL, 0};
	ccfg.cert = (struct cw_tls_pem){a_cert, NULL, 0};
	ccfg.key = (struct cw_tls_pem){a_key, NULL, 0};
	ccfg.gateway_ca = (struct cw_tls_pem){ca, NULL, 0};
	sc = server_ctx(&scfg);
	cc = client_ctx(&ccfg);
	run(&p, cc, sc, NULL, 0, T0, T0);
	assert_complete(&p);
	assert_string_equal(cw_tls_conn_node_name(p.sv), "node-a");
	pair_free(&p);
	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);

	/* Argument and content errors. */
	scfg = server_cfg();
	scfg.key.path = gw_key; /* both a path and data */
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &sc), -EINVAL);
	scfg = server_cfg();
	scfg.ticket_lifetime_s = CW_TLS_TICKET_LIFETIME_MAX + 1;
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &sc), -EINVAL);
	scfg = server_cfg();
	scfg.node_ca = (struct cw_tls_pem){NULL, NULL, 0};
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &sc), -EINVAL);
	scfg = server_cfg();
	scfg.key = tu_pem_ref(&fx.node_a.key); /* not the certificate's key */
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &sc), -EBADMSG);
	scfg = server_cfg();
	scfg.node_ca = (struct cw_tls_pem){NULL, junk, sizeof(junk) - 1};
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &sc), -EBADMSG);
	scfg = server_cfg();
	scfg.cert_chain = (struct cw_tls_pem){"/nonexistent/cw.pem", NULL, 0};
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &sc), -EBADMSG);
	ccfg = client_cfg(&fx.node_a);
	ccfg.gateway_name = "";
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &cc), -EINVAL);
	ccfg.gateway_name = NULL;
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &cc), -EINVAL);
	ccfg = client_cfg(&fx.node_a);
	ccfg.cert = tu_pem_ref(&fx.ca2.pem);
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &cc), -EBADMSG);
	assert_int_equal(cw_tls_server_conn_new(NULL, T0, &p.sv), -EINVAL);
	assert_int_equal(cw_tls_client_conn_new(NULL, T0, NULL, 0, &p.cl), -EINVAL);
	cw_tls_server_ctx_free(NULL);
	cw_tls_client_ctx_free(NULL);
	cw_tls_conn_free(NULL);

	unlink(gw_cert);
	unlink(gw_key);
	unlink(ca);
	unlink(a_cert);
	unlink(a_key);
	free(gw_cert);
	free(gw_key);
	free(ca);
	free(a_cert);
	free(a_key);
}

static void test_allocator(void **state)
{
	struct counting ca = {0}, sa = {0};
	const struct cw_alloc calloc_ = {c_alloc, c_free, &ca}, salloc = {c_alloc, c_free, &sa};
	struct cw_tls_server_cfg scfg = server_cfg();
	struct cw_tls_client_cfg ccfg = client_cfg(&fx.node_a);
	struct cw_tls_server_ctx *sc = NULL;
	struct cw_tls_client_ctx *cc = NULL;
	size_t base_c, base_s, tlen;
	struct pair p;

	(void)state;
	assert_int_equal(cw_tls_server_ctx_new(&scfg, &salloc, &sc), 0);
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, &calloc_, &cc), 0);
	base_c = ca.live_bytes;
	base_s = sa.live_bytes;
	run(&p, cc, sc, NULL, 0, T0, T0);
	assert_complete(&p);
	/* Output taken: the gateway holds only its conn struct; the agent its
	 * struct and the ticket. */
	assert_int_equal(sa.live_blocks, 2);
	assert_int_equal(ca.live_blocks, 3);
	cw_tls_conn_ticket(p.cl, &tlen);
	assert_true(ca.live_bytes - base_c > tlen);
	assert_true(sa.live_bytes - base_s < 1024);
	pair_free(&p);
	assert_int_equal(ca.live_bytes, base_c);
	assert_int_equal(sa.live_bytes, base_s);

	/* Allocation failure is reported, and nothing leaks. */
	sa.fail_after = sa.allocs + 1;
	assert_int_equal(cw_tls_server_conn_new(sc, T0, &p.sv), -ENOMEM);
	ca.fail_after = ca.allocs + 2; /* the conn, then its out-queue */
	assert_int_equal(cw_tls_client_conn_new(cc, T0, NULL, 0, &p.cl), -ENOMEM);
	sa.fail_after = ca.fail_after = 0;
	assert_int_equal(ca.live_bytes, base_c);
	assert_int_equal(sa.live_bytes, base_s);

	cw_tls_client_ctx_free(cc);
	cw_tls_server_ctx_free(sc);
	assert_int_equal(ca.live_bytes, 0);
	assert_int_equal(sa.live_bytes, 0);
	assert_int_equal(ca.live_blocks, 0);
	assert_int_equal(sa.live_blocks, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_handshake),
	    cmocka_unit_test(test_chacha_preference_and_ip_name),
	    cmocka_unit_test(test_certificate_refusals),
	    cmocka_unit_test(test_node_names_from_certificates),
	    cmocka_unit_test(test_cert_node_name_errors),
	    cmocka_unit_test(test_node_name_valid),
	    cmocka_unit_test(test_profile_violations),
	    cmocka_unit_test(test_post_handshake_messages),
	    cmocka_unit_test(test_resumption),
	    cmocka_unit_test(test_ticket_key_rotation),
	    cmocka_unit_test(test_ticket_with_expired_certificate),
	    cmocka_unit_test(test_ticket_keeps_certificate_name_and_expiry),
	    cmocka_unit_test(test_chain_as_configured),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_context_loading),
	    cmocka_unit_test(test_allocator),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
