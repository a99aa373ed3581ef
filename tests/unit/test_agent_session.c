/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/agent/session.c: the agent's session core against a bare
 * gateway-role cw_conn over the simulated link (10 ms one way). The test
 * plays the gateway's message layer itself: it decodes what the agent
 * sends on stream 0 and on dial streams, and writes HelloAck, Dial and raw
 * bytes with msg.h. Covered: the Hello fields, the HelloAck wait and its
 * timeout, Heartbeats (first at once, then at the interval), an allowed
 * Dial reaching the shell and its raw bytes byte-exact both ways with FIN,
 * a Dial outside the allow-list answered NOT_ALLOWED on the wire, a Dial
 * ahead of HelloAck held back, raw bytes before DialResult and a gateway
 * reset in the raw phase, stateless resets (match, near misses, none
 * without a token), the orderly Close and the gateway's Close with
 * retry_after_ms.
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

#include "control/agent_config.h"
#include "simlink.h"
#include "testutil.h"
#include "tunnel/agent/session.h"
#include "tunnel/conn.h"
#include "tunnel/msg.h"
#include "tunnel/msg_body.h"
#include "tunnel/reset.h"

#define T0	INT64_C(1800000000)
#define DAY	INT64_C(86400)
#define GW_NAME "gw.causeway.test"
#define MS	UINT64_C(1000000)
#define SEC	(1000 * MS)
#define WALL0	UINT64_C(1800000000000)
#define RAW_MAX (512 * 1024)

static struct {
	struct tu_ca ca;
	struct tu_ident gw, node;
	uint8_t tkey[CW_TLS_TICKET_KEY_LEN];
} fx;

static const uint8_t TOKEN[CW_RESET_TOKEN_LEN] = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
						  0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};
static const uint8_t BOOT_ID[CW_AS_BOOT_ID_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
						   9, 10, 11, 12, 13, 14, 15, 16};
static const uint32_t DICTS[2] = {0x11223344, 0x55667788};

static int setup_pki(void **state)
{
	(void)state;
	tu_ca_make(&fx.ca, "Causeway test CA", T0);
	fx.gw = tu_make_ident("gateway", "DNS:" GW_NAME, fx.ca.cert, fx.ca.key, T0 - DAY,
			      T0 + 365 * DAY);
	fx.node =
	    tu_make_ident("node:edge-7", NULL, fx.ca.cert, fx.ca.key, T0 - DAY, T0 + 365 * DAY);
	memset(fx.tkey, 0x22, sizeof(fx.tkey));
	return 0;
}

static int teardown_pki(void **state)
{
	(void)state;
	tu_ident_free(&fx.gw);
	tu_ident_free(&fx.node);
	tu_ca_free(&fx.ca);
	return 0;
}

/* ---- the world: agent core <-> bare gateway conn ---- */

#define MAX_ENV	  64
#define MAX_DIALS 8

/* The gateway's view of one dial stream. */
struct gdial {
	uint64_t id;
	struct cw_msg_decoder dec;
	cw_envelope *result; /* DialResult or Error, once decoded */
	bool in_raw;	     /* after the result: raw bytes */
	uint8_t raw[RAW_MAX];
	size_t raw_len;
	bool fin;
	bool was_reset;
	uint64_t reset_code;
};

/* The agent shell's view of one dial stream. */
struct adial {
	uint64_t id;
	uint8_t in[RAW_MAX];
	size_t in_len;
	bool fin, aborted;
	const uint8_t *out; /* what the shell sends, then FIN */
	size_t out_len, out_done;
	bool out_fin;
};

/* The agent shell's view of one API request (cw_as_api_*). */
struct areq {
	uint64_t id;
	int msgs;
	uint32_t status;
	char body[256];
	size_t body_len;
	int end; /* what cw_as_api_read() ended with (0: not yet) */
	uint64_t code;
};

struct world {
	struct sim *s;
	struct cw_tls_client_ctx *cc;
	struct cw_tls_server_ctx *sc;
	struct cw_token_keys tk;
	struct cw_aead retry;
	struct cw_agent_config conf;
	int ag_id, gw_id;

	/* agent */
	struct cw_as *as;
	struct tu_counter amem;
	struct cw_alloc aa;
	struct cw_as_event dials[MAX_DIALS]; /* CW_AS_EV_DIAL events seen */
	size_t ndials;
	bool accept; /* answer Dial events ok at once */
	struct adial ad[MAX_DIALS];
	size_t nad;
	unsigned aborted_events;
	struct areq rq[MAX_DIALS];
	size_t nrq;

	/* gateway */
	struct cw_conn *gc;
	struct tu_counter gmem;
	struct cw_alloc ga;
	struct cw_msg_decoder ctl;
	cw_envelope *env[MAX_ENV]; /* stream 0 messages from the agent */
	size_t nenv;
	uint64_t env_at[MAX_ENV]; /* when each arrived */
	bool ctl_fin;
	struct gdial gd[MAX_DIALS];
	size_t ngd;
};

static struct adial *adial_of(struct world *w, uint64_t id)
{
	for (size_t i = 0; i < w->nad; i++)
		if (w->ad[i].id == id)
			return &w->ad[i];
	assert_true(w->nad < MAX_DIALS);
	w->ad[w->nad] = (struct adial){.id = id};
	return &w->ad[w->nad++];
}

static void agent_read(struct world *w, struct adial *d)
{
	uint64_t code;
	size_t n;
	bool fin;
	int r;

	while (!d->fin && !d->aborted) {
		r = cw_as_stream_read(w->as, d->id, d->in + d->in_len, RAW_MAX - d->in_len, &n,
				      &fin, &code);
		if (r == -EAGAIN)
			return;
		if (r == -ECONNRESET) {
			d->aborted = true;
			assert_int_equal(
			    cw_as_stream_abort(w->as, d->id, CW_AS_SERR_CONNECTION_RESET), 0);
			return;
		}
		assert_int_equal(r, 0);
		d->in_len += n;
		d->fin = fin;
	}
}

static void agent_write(struct world *w, struct adial *d)
{
	size_t n;

	while (d->out && d->out_done < d->out_len) {
		if (cw_as_stream_write(w->as, d->id, d->out + d->out_done, d->out_len - d->out_done,
				       &n) < 0 ||
		    n == 0)
			return;
		d->out_done += n;
	}
	if (d->out && !d->out_fin) {
		assert_int_equal(cw_as_stream_finish(w->as, d->id), 0);
		d->out_fin = true;
	}
}

static struct areq *areq_of(struct world *w, uint64_t id)
{
	for (size_t i = 0; i < w->nrq; i++)
		if (w->rq[i].id == id)
			return &w->rq[i];
	return NULL;
}

/* Every message of the answer so far: status, body parts, the end. */
static void agent_api_read(struct world *w, struct areq *q)
{
	cw_envelope *env;
	int r;

	while (!q->end && (r = cw_as_api_read(w->as, q->id, &env, &q->code)) == 0) {
		const Causeway__V1__ApiResponse *resp = env->api_response;

		q->msgs++;
		if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE) {
			if (q->msgs == 1)
				q->status = resp->status;
			if (resp->body) {
				assert_true(q->body_len + resp->body->data.len < sizeof(q->body));
				memcpy(q->body + q->body_len, resp->body->data.data,
				       resp->body->data.len);
				q->body_len += resp->body->data.len;
			}
		}
		cw_as_api_msg_free(w->as, q->id, env);
	}
	if (!q->end && r != -EAGAIN)
		q->end = r;
}

static void agent_pump(struct world *w, uint64_t now)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	struct cw_as_event ev;
	int n;

	while (cw_as_next_event(w->as, &ev) == 0) {
		if (ev.type == CW_AS_EV_DIAL) {
			assert_true(w->ndials < MAX_DIALS);
			w->dials[w->ndials++] = ev;
			if (w->accept) {
				assert_int_equal(cw_as_dial_result(w->as, ev.stream, true, 0, NULL),
						 0);
				adial_of(w, ev.stream);
			}
			continue;
		}
		if (ev.type == CW_AS_EV_API) {
			assert_int_equal(ev.flags, CW_AS_F_READABLE);
			assert_non_null(areq_of(w, ev.stream));
			agent_api_read(w, areq_of(w, ev.stream));
			continue;
		}
		if (ev.flags & CW_AS_F_ABORTED) {
			w->aborted_events++;
			continue;
		}
		if (ev.flags & CW_AS_F_READABLE)
			agent_read(w, adial_of(w, ev.stream));
	}
	for (size_t i = 0; i < w->nad; i++)
		if (!w->ad[i].aborted)
			agent_write(w, &w->ad[i]);
	while ((n = cw_as_send(w->as, now, b, sizeof(b))) > 0)
		sim_send(w->s, w->ag_id, w->gw_id, b, (size_t)n);
	assert_int_equal(n, 0);
}

static struct gdial *gdial_of(struct world *w, uint64_t id)
{
	for (size_t i = 0; i < w->ngd; i++)
		if (w->gd[i].id == id)
			return &w->gd[i];
	return NULL;
}

static void gw_read_ctl(struct world *w, uint64_t now)
{
	uint8_t b[4096];
	uint64_t code;
	size_t n;
	bool fin;

	while (cw_conn_stream_read(w->gc, 0, b, sizeof(b), &n, &fin, &code) == 0) {
		size_t off = 0;

		while (off < n) {
			cw_envelope *env = NULL;
			ptrdiff_t used = cw_msg_decode(&w->ctl, b + off, n - off, &env);

			assert_true(used >= 0);
			off += (size_t)used;
			if (env) {
				assert_true(w->nenv < MAX_ENV);
				w->env_at[w->nenv] = now;
				w->env[w->nenv++] = env;
			}
		}
		w->ctl_fin |= fin;
	}
}

static void gw_read_dial(struct world *w, struct gdial *d)
{
	uint8_t b[4096];
	uint64_t code;
	size_t n;
	bool fin;
	int r;

	while ((r = cw_conn_stream_read(w->gc, d->id, b, sizeof(b), &n, &fin, &code)) == 0) {
		size_t off = 0;

		if (!d->in_raw && n) {
			ptrdiff_t used = cw_msg_decode(&d->dec, b, n, &d->result);

			assert_true(used >= 0);
			off = (size_t)used;
			d->in_raw = d->result != NULL;
		}
		assert_true(d->raw_len + n - off <= RAW_MAX);
		memcpy(d->raw + d->raw_len, b + off, n - off);
		d->raw_len += n - off;
		d->fin |= fin;
		if (fin)
			break;
	}
	if (r == -ECONNRESET) {
		d->was_reset = true;
		d->reset_code = code;
	}
}

static void gw_pump(struct world *w, uint64_t now)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	unsigned ev;
	uint64_t id;
	int n;

	while (cw_conn_next_event(w->gc, &id, &ev) == 0) {
		struct gdial *d = gdial_of(w, id);

		if (!d && id && !(id & 1) && (ev & CW_STREAM_EV_NEW)) {
			/* An agent's API request: kept like a dial, the request
			 * decoded as its first message. */
			assert_true(w->ngd < MAX_DIALS);
			d = &w->gd[w->ngd++];
			memset(d, 0, sizeof(*d));
			d->id = id;
			assert_int_equal(cw_msg_decoder_init(&d->dec, &w->ga, CW_MSG_SIZE_DEFAULT),
					 0);
		}
		if (id == 0)
			gw_read_ctl(w, now);
		else if (d && (ev & CW_STREAM_EV_READABLE))
			gw_read_dial(w, d);
	}
	while ((n = cw_conn_send(w->gc, now, b, sizeof(b))) > 0)
		sim_send(w->s, w->gw_id, w->ag_id, b, (size_t)n);
	assert_int_equal(n, 0);
}

static void gw_first(struct world *w, uint64_t now, uint8_t *d, size_t len)
{
	static const uint8_t ADDR[4] = {198, 51, 100, 7};
	struct cw_hs_gateway_cfg hc = {
	    .tls = w->sc, .wall_time = T0, .cid = {0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97}};
	struct cw_hs_peer peer = {CW_TOKEN_IPV4, ADDR, 40000};
	struct cw_conn_cfg cfg = {.alloc = &w->ga, .seed = 2};
	uint8_t out[CW_HS_DGRAM_MAX], scid[CW_CID_LEN] = {7};
	struct cw_hs_screen scr;

	if (cw_hs_screen(d, len, &peer, now, &w->tk, &w->retry, CW_RETRY_NEVER, scid, out,
			 sizeof(out), &scr) != CW_HS_V_ACCEPT)
		return;
	assert_int_equal(cw_conn_gateway_new(&cfg, &hc, &scr, d, len, now, &w->gc), 0);
}

static void ep_recv(void *ep, struct sim *s, int from, uint64_t now, const uint8_t *d, size_t len)
{
	struct world *w = ep;
	uint8_t b[SIM_MAX_DGRAM];

	(void)s;
	memcpy(b, d, len);
	if (from == w->gw_id) {
		assert_int_equal(cw_as_recv(w->as, now, b, len), 0);
		agent_pump(w, now);
		return;
	}
	if (!w->gc)
		gw_first(w, now, b, len);
	else
		assert_int_equal(cw_conn_recv(w->gc, now, b, len), 0);
	if (w->gc)
		gw_pump(w, now);
}

/* One world object is both endpoints; which one is asked is told by the
 * two ops tables. */
static uint64_t ag_next(void *ep)
{
	return cw_as_next_timeout(((struct world *)ep)->as);
}

static void ag_timeout(void *ep, struct sim *s, uint64_t now)
{
	struct world *w = ep;

	(void)s;
	cw_as_on_timeout(w->as, now);
	agent_pump(w, now);
}

static uint64_t gw_next(void *ep)
{
	struct world *w = ep;

	return w->gc ? cw_conn_next_timeout(w->gc) : SIM_NEVER;
}

static void gw_timeout(void *ep, struct sim *s, uint64_t now)
{
	struct world *w = ep;

	(void)s;
	cw_conn_on_timeout(w->gc, now);
	gw_pump(w, now);
}

static const struct sim_ep_ops AG_OPS = {ep_recv, ag_next, ag_timeout};
static const struct sim_ep_ops GW_OPS = {ep_recv, gw_next, gw_timeout};

static const char AGENT_CONF[] =
    "[agent]\n"
    "pool = room-a\n"
    "labels = topology.kubernetes.io/zone=room-a, causeway.io/rack=r12\n"
    "[gateway]\n"
    "address = " GW_NAME "\n"
    "[dial]\n"
    "allow = 10250, 127.0.0.1:9100, 10.0.0.5:10250\n"
    "connect_timeout_ms = 4000\n"
    "[keepalive]\n"
    "idle_timeout_ms = 30000\n"
    "heartbeat_interval_s = 600\n";

static void world_init(struct world *w, uint64_t seed)
{
	struct cw_tls_server_cfg scfg = {.cert_chain = tu_pem_ref(&fx.gw.cert),
					 .key = tu_pem_ref(&fx.gw.key),
					 .node_ca = tu_pem_ref(&fx.ca.pem)};
	struct cw_tls_client_cfg ccfg = {.cert = tu_pem_ref(&fx.node.cert),
					 .key = tu_pem_ref(&fx.node.key),
					 .gateway_ca = tu_pem_ref(&fx.ca.pem),
					 .gateway_name = GW_NAME};
	struct sim_impair imp = {.delay_ns = 10 * MS};
	uint8_t key[CW_TOKEN_KEY_LEN];
	char err[CW_AGENT_CONF_ERR_LEN];

	memset(w, 0, sizeof(*w));
	assert_int_equal(cw_agent_config_parse(&w->conf, "t.conf", AGENT_CONF, err, sizeof(err)),
			 0);
	memcpy(scfg.ticket_key, fx.tkey, sizeof(fx.tkey));
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &w->sc), 0);
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &w->cc), 0);
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(cw_token_init(&w->tk, key, 0, 0), 0);
	assert_int_equal(cw_retry_init(&w->retry), 0);
	w->s = sim_new(seed);
	assert_non_null(w->s);
	w->aa = (struct cw_alloc){tu_count_alloc, tu_count_free, &w->amem};
	w->ga = (struct cw_alloc){tu_count_alloc, tu_count_free, &w->gmem};
	w->ag_id = sim_add_ep(w->s, &AG_OPS, w);
	w->gw_id = sim_add_ep(w->s, &GW_OPS, w);
	sim_set_impair(w->s, w->ag_id, w->gw_id, &imp);
	sim_set_impair(w->s, w->gw_id, w->ag_id, &imp);
	assert_int_equal(cw_msg_decoder_init(&w->ctl, &w->ga, CW_MSG_SIZE_DEFAULT), 0);
	w->accept = true;

	struct cw_as_cfg ac = {
	    .alloc = &w->aa,
	    .conf = &w->conf,
	    .node_name = "edge-7",
	    .agent_version = "0.1.0-test",
	    .dict_ids = DICTS,
	    .n_dict_ids = 2,
	    .capacity = {.cpu_millis = 4000, .memory_bytes = UINT64_C(8) << 30, .pods = 110},
	    .hs = {.tls = w->cc,
		   .wall_time = T0,
		   .cid = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8},
		   .odcid = {0x0d, 0x0c, 0x1d, 1, 2, 3, 4, 5}},
	    .seed = 1,
	    .wall_ms = WALL0,
	};
	memcpy(ac.boot_id, BOOT_ID, sizeof(BOOT_ID));
	assert_int_equal(cw_as_new(&ac, sim_now(w->s), &w->as), 0);
	agent_pump(w, sim_now(w->s));
}

static void world_free(struct world *w)
{
	for (size_t i = 0; i < w->nenv; i++)
		cw_msg_free(&w->ctl, w->env[i]);
	for (size_t i = 0; i < w->ngd; i++) {
		cw_msg_free(&w->gd[i].dec, w->gd[i].result);
		cw_msg_decoder_free(&w->gd[i].dec);
	}
	cw_msg_decoder_free(&w->ctl);
	cw_as_free(w->as);
	cw_conn_free(w->gc);
	assert_int_equal(w->amem.blocks, 0);
	assert_int_equal(w->amem.bytes, 0);
	assert_int_equal(w->gmem.blocks, 0);
	sim_free(w->s);
	cw_tls_client_ctx_free(w->cc);
	cw_tls_server_ctx_free(w->sc);
	cw_token_free(&w->tk);
	cw_aead_free(&w->retry);
}

static void run_for(struct world *w, uint64_t d)
{
	sim_run(w->s, sim_now(w->s) + d, 10000000);
}

/* Write a whole message on a gateway stream. */
static void gw_put(struct world *w, uint64_t id, const cw_envelope *env)
{
	uint8_t b[1024];
	ptrdiff_t len = cw_msg_encode(env, CW_MSG_SIZE_DEFAULT, b, sizeof(b));
	size_t n;

	assert_true(len > 0);
	assert_int_equal(cw_conn_stream_write(w->gc, id, b, (size_t)len, &n), 0);
	assert_int_equal(n, (size_t)len);
}

static void gw_hello_ack(struct world *w, uint32_t hb_s, bool token)
{
	Causeway__V1__TransportParams tp = CAUSEWAY__V1__TRANSPORT_PARAMS__INIT;
	Causeway__V1__HelloAck ack = CAUSEWAY__V1__HELLO_ACK__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	tp.initial_max_data = 8u << 20;
	tp.initial_max_stream_data = 1u << 20;
	tp.initial_max_streams = 1024;
	ack.node_name = (char *)"edge-7";
	ack.dictionary_id = DICTS[1];
	ack.transport = &tp;
	ack.gateway_version = (char *)"gw-test";
	ack.session_id = 77;
	ack.heartbeat_interval_s = hb_s;
	if (token) {
		ack.stateless_reset_token.data = (uint8_t *)TOKEN;
		ack.stateless_reset_token.len = sizeof(TOKEN);
	}
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_HELLO_ACK;
	env.hello_ack = &ack;
	gw_put(w, 0, &env);
	gw_pump(w, sim_now(w->s));
}

/* Handshake, Hello, and (when @hb_s is not 0) HelloAck. */
static void world_up(struct world *w, uint32_t hb_s)
{
	const Causeway__V1__TransportParams *t;

	run_for(w, 1 * SEC);
	assert_non_null(w->gc);
	assert_int_equal(cw_conn_state(w->gc), CW_CONN_ESTABLISHED);
	assert_int_equal(cw_as_state(w->as), CW_AS_HELLO_SENT);
	assert_int_equal(w->nenv, 1);
	assert_int_equal(w->env[0]->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_HELLO);
	t = w->env[0]->hello->transport;
	assert_int_equal(cw_conn_set_peer_params(w->gc, t->initial_max_data,
						 t->initial_max_stream_data, t->initial_max_streams,
						 t->idle_timeout_ms),
			 0);
	if (!hb_s)
		return;
	gw_hello_ack(w, hb_s, true);
	run_for(w, 100 * MS);
	assert_int_equal(cw_as_state(w->as), CW_AS_ESTABLISHED);
}

static struct gdial *gw_dial(struct world *w, uint32_t port, const char *host)
{
	Causeway__V1__Dial dial = CAUSEWAY__V1__DIAL__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	struct gdial *d;
	uint64_t id;

	assert_int_equal(cw_conn_stream_open(w->gc, &id), 0);
	assert_true(w->ngd < MAX_DIALS);
	d = &w->gd[w->ngd++];
	memset(d, 0, sizeof(*d));
	d->id = id;
	assert_int_equal(cw_msg_decoder_init(&d->dec, &w->ga, CW_MSG_SIZE_DEFAULT), 0);
	dial.request_id = 1000 + id;
	dial.host = (char *)host;
	dial.port = port;
	dial.origin = (char *)"203.0.113.9:51000";
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_DIAL;
	env.dial = &dial;
	gw_put(w, id, &env);
	gw_pump(w, sim_now(w->s));
	return d;
}

static void pattern(uint8_t *p, size_t n, uint8_t salt)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + salt + (i >> 9));
}

/* ---- tests ---- */

static void test_hello(void **state)
{
	const Causeway__V1__Hello *h;
	struct cw_as_info info;
	static struct world w;

	(void)state;
	world_init(&w, 1);
	world_up(&w, 0);
	h = w.env[0]->hello;
	assert_string_equal(h->node_name, "edge-7");
	assert_string_equal(h->pool, "room-a");
	assert_int_equal(h->n_labels, 2);
	assert_string_equal(h->labels[0]->key, "topology.kubernetes.io/zone");
	assert_string_equal(h->labels[0]->value, "room-a");
	assert_string_equal(h->labels[1]->key, "causeway.io/rack");
	assert_string_equal(h->labels[1]->value, "r12");
	assert_int_equal(h->capacity->cpu_millis, 4000);
	assert_int_equal(h->capacity->memory_bytes, UINT64_C(8) << 30);
	assert_int_equal(h->capacity->pods, 110);
	assert_string_equal(h->agent_version, "0.1.0-test");
	assert_int_equal(h->n_dictionary_ids, 2);
	assert_int_equal(h->dictionary_ids[0], DICTS[0]);
	assert_int_equal(h->dictionary_ids[1], DICTS[1]);
	/* 10250 twice in the allow-list, once here. */
	assert_int_equal(h->n_allowed_ports, 2);
	assert_int_equal(h->allowed_ports[0], 10250);
	assert_int_equal(h->allowed_ports[1], 9100);
	assert_int_equal(h->boot_id.len, 16);
	assert_memory_equal(h->boot_id.data, BOOT_ID, 16);
	assert_int_equal(h->transport->idle_timeout_ms, 30000);
	assert_int_equal(h->transport->initial_max_streams, 256);
	assert_int_equal(h->transport->initial_max_stream_data, 1u << 20);
	assert_int_equal(h->transport->max_udp_payload, CW_CONN_DGRAM_MAX);
	assert_int_equal(h->transport->max_message_size, CW_MSG_SIZE_DEFAULT);
	/* Nothing else before HelloAck (§13.3). */
	run_for(&w, 5 * SEC);
	assert_int_equal(w.nenv, 1);
	cw_as_info(w.as, &info);
	assert_int_equal(info.heartbeats, 0);
	world_free(&w);
}

static void test_heartbeat(void **state)
{
	struct cw_as_status st = {.kubelet_healthy = true, .load_milli = 1500, .uptime_s = 86400};
	const Causeway__V1__Heartbeat *hb;
	struct cw_as_info info;
	uint64_t up;
	static struct world w;

	(void)state;
	world_init(&w, 2);
	world_up(&w, 30);
	cw_as_info(w.as, &info);
	assert_int_equal(info.session_id, 77);
	assert_int_equal(info.dictionary_id, DICTS[1]);
	up = info.up_at;
	assert_true(up > 0);
	/* The first at once, then every 30 s: seq 1, 2, 3. */
	run_for(&w, 65 * SEC);
	assert_int_equal(w.nenv, 4);
	for (size_t i = 1; i < 4; i++) {
		hb = w.env[i]->heartbeat;
		assert_int_equal(w.env[i]->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_HEARTBEAT);
		assert_int_equal(hb->seq, i);
		assert_int_equal(hb->unix_ms, WALL0 + (up + (i - 1) * 30 * SEC) / MS);
		assert_int_equal(w.env_at[i], up + (i - 1) * 30 * SEC + 10 * MS);
	}
	/* A status change goes out 10 s after the last Heartbeat at the earliest. */
	cw_as_set_status(w.as, sim_now(w.s), &st);
	agent_pump(&w, sim_now(w.s));
	run_for(&w, 10 * SEC);
	assert_int_equal(w.nenv, 5);
	hb = w.env[4]->heartbeat;
	assert_int_equal(hb->seq, 4);
	assert_true(hb->kubelet_healthy);
	assert_int_equal(hb->load_milli, 1500);
	assert_int_equal(hb->uptime_s, 86400);
	assert_int_equal(w.env_at[4], up + 70 * SEC + 10 * MS);
	cw_as_info(w.as, &info);
	assert_int_equal(info.heartbeats, 4);
	assert_int_equal(cw_conn_state(w.gc), CW_CONN_ESTABLISHED);
	world_free(&w);
}

static void test_hello_timeout(void **state)
{
	struct cw_as_info info;
	static struct world w;
	uint64_t sent;

	(void)state;
	world_init(&w, 3);
	world_up(&w, 0);
	sent = w.env_at[0] - 10 * MS;
	sim_run(w.s, sent + CW_AS_HELLO_TIMEOUT_NS - 1, 10000000);
	assert_int_equal(cw_as_state(w.as), CW_AS_HELLO_SENT);
	sim_run(w.s, sent + CW_AS_HELLO_TIMEOUT_NS + 50 * MS, 10000000);
	assert_int_equal(cw_conn_state(w.gc), CW_CONN_DRAINING);
	assert_int_equal(cw_conn_close_code(w.gc, false), CW_AS_HELLO_TIMEOUT);
	run_for(&w, 5 * SEC);
	assert_int_equal(cw_as_state(w.as), CW_AS_ENDED);
	cw_as_info(w.as, &info);
	assert_int_equal(info.end, CW_AS_END_LOCAL);
	assert_int_equal(info.close_code, CW_AS_HELLO_TIMEOUT);
	assert_int_equal(cw_as_next_timeout(w.as), UINT64_MAX);
	world_free(&w);
}

static void test_dial_raw(void **state)
{
	static uint8_t down[300000], up[200000];
	const Causeway__V1__DialResult *dr;
	struct cw_as_info info;
	struct gdial *g;
	struct adial *a;
	size_t n, off = 0;
	static struct world w;

	(void)state;
	pattern(down, sizeof(down), 3);
	pattern(up, sizeof(up), 77);
	world_init(&w, 4);
	world_up(&w, 600);
	g = gw_dial(&w, 10250, "");
	run_for(&w, 100 * MS);
	assert_int_equal(w.ndials, 1);
	assert_int_equal(w.dials[0].stream, g->id);
	assert_int_equal(w.dials[0].request_id, 1000 + g->id);
	assert_string_equal(w.dials[0].host, "127.0.0.1");
	assert_int_equal(w.dials[0].port, 10250);
	assert_int_equal(w.dials[0].timeout_ms, 4000);
	assert_non_null(g->result);
	dr = g->result->dial_result;
	assert_int_equal(g->result->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_DIAL_RESULT);
	assert_true(dr->ok);
	assert_int_equal(dr->request_id, 1000 + g->id);
	/* Both ways at once, more than a stream window each. */
	a = adial_of(&w, g->id);
	a->out = up;
	a->out_len = sizeof(up);
	agent_pump(&w, sim_now(w.s));
	while (off < sizeof(down) || !g->fin || !a->fin) {
		if (off < sizeof(down) &&
		    cw_conn_stream_write(w.gc, g->id, down + off, sizeof(down) - off, &n) == 0) {
			off += n;
			if (off == sizeof(down))
				assert_int_equal(cw_conn_stream_finish(w.gc, g->id), 0);
		}
		gw_pump(&w, sim_now(w.s));
		run_for(&w, 50 * MS);
		assert_true(sim_now(w.s) < 120 * SEC);
	}
	assert_int_equal(a->in_len, sizeof(down));
	assert_memory_equal(a->in, down, sizeof(down));
	assert_int_equal(g->raw_len, sizeof(up));
	assert_memory_equal(g->raw, up, sizeof(up));
	cw_as_info(w.as, &info);
	assert_int_equal(info.dials_total, 1);
	assert_int_equal(info.dials_active, 0);
	assert_int_equal(info.raw_in, sizeof(down));
	assert_int_equal(info.raw_out, sizeof(up));
	world_free(&w);
}

static void test_dial_not_allowed(void **state)
{
	const Causeway__V1__DialResult *dr;
	struct cw_as_info info;
	struct gdial *g[3];
	static struct world w;

	(void)state;
	world_init(&w, 5);
	world_up(&w, 600);
	g[0] = gw_dial(&w, 22, "");		/* port not listed */
	g[1] = gw_dial(&w, 9100, "10.0.0.5");	/* port listed for another host */
	g[2] = gw_dial(&w, 70000, "127.0.0.1"); /* not a port */
	run_for(&w, 200 * MS);
	assert_int_equal(w.ndials, 0);
	for (size_t i = 0; i < 3; i++) {
		assert_non_null(g[i]->result);
		assert_int_equal(g[i]->result->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_DIAL_RESULT);
		dr = g[i]->result->dial_result;
		assert_false(dr->ok);
		assert_int_equal(dr->error, CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_NOT_ALLOWED);
		assert_int_equal(dr->request_id, 1000 + g[i]->id);
		assert_true(g[i]->fin);
		assert_int_equal(g[i]->raw_len, 0);
		assert_false(g[i]->was_reset);
	}
	/* The gateway ends its side too; the agent forgets the streams. */
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(cw_conn_stream_finish(w.gc, g[i]->id), 0);
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 200 * MS);
	cw_as_info(w.as, &info);
	assert_int_equal(info.dials_total, 3);
	assert_int_equal(info.dials_refused, 3);
	assert_int_equal(info.dials_active, 0);
	world_free(&w);
}

/* A Dial that overtakes HelloAck is answered only after HelloAck (§13.3). */
static void test_dial_before_hello_ack(void **state)
{
	static struct world w;
	struct gdial *g;

	(void)state;
	world_init(&w, 12);
	world_up(&w, 0);
	g = gw_dial(&w, 22, "");
	run_for(&w, 500 * MS);
	assert_null(g->result);
	gw_hello_ack(&w, 600, true);
	run_for(&w, 100 * MS);
	assert_int_equal(cw_as_state(w.as), CW_AS_ESTABLISHED);
	assert_non_null(g->result);
	assert_int_equal(g->result->dial_result->error,
			 CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_NOT_ALLOWED);
	world_free(&w);
}

/* Raw bytes before DialResult: UNEXPECTED_MESSAGE, and the shell is told. */
static void test_dial_early_bytes(void **state)
{
	static const uint8_t junk[5] = "early";
	struct gdial *g;
	static struct world w;
	size_t n;

	(void)state;
	world_init(&w, 6);
	world_up(&w, 600);
	w.accept = false;
	g = gw_dial(&w, 10250, "127.0.0.1");
	run_for(&w, 100 * MS);
	assert_int_equal(w.ndials, 1);
	assert_int_equal(cw_conn_stream_write(w.gc, g->id, junk, sizeof(junk), &n), 0);
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_int_equal(w.aborted_events, 1);
	assert_true(g->was_reset);
	assert_int_equal(g->reset_code, CW_AS_SERR_UNEXPECTED_MESSAGE);
	assert_int_equal(cw_as_dial_result(w.as, g->id, true, 0, NULL), -ENOENT);
	world_free(&w);
}

/* A gateway reset in the raw phase reaches the shell as -ECONNRESET. */
static void test_dial_reset(void **state)
{
	static const uint8_t hi[2] = "hi";
	struct adial *a;
	struct gdial *g;
	static struct world w;
	size_t n;

	(void)state;
	world_init(&w, 7);
	world_up(&w, 600);
	g = gw_dial(&w, 10250, "");
	run_for(&w, 100 * MS);
	assert_int_equal(cw_conn_stream_write(w.gc, g->id, hi, sizeof(hi), &n), 0);
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 100 * MS);
	a = adial_of(&w, g->id);
	assert_int_equal(a->in_len, 2);
	assert_int_equal(cw_conn_stream_reset(w.gc, g->id, CW_AS_SERR_CANCELLED), 0);
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_true(a->aborted);
	assert_true(g->was_reset);
	assert_int_equal(g->reset_code, CW_AS_SERR_CONNECTION_RESET);
	world_free(&w);
}

static void send_to_agent(struct world *w, const uint8_t *d, size_t len)
{
	sim_send(w->s, w->gw_id, w->ag_id, d, len);
	run_for(w, 50 * MS);
}

/* Open an API request from the shell. */
static struct areq *api_open(struct world *w, const char *verb, const char *path)
{
	Causeway__V1__ApiRequest rq = CAUSEWAY__V1__API_REQUEST__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	struct areq *q;

	rq.verb = (char *)verb;
	rq.path = (char *)path;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	assert_true(w->nrq < MAX_DIALS);
	q = &w->rq[w->nrq];
	memset(q, 0, sizeof(*q));
	assert_int_equal(cw_as_api_open(w->as, &env, &q->id), 0);
	w->nrq++;
	agent_pump(w, sim_now(w->s));
	run_for(w, 100 * MS);
	return q;
}

static void gw_answer(struct world *w, uint64_t id, uint32_t status, const char *body, bool more)
{
	Causeway__V1__ApiResponse r = CAUSEWAY__V1__API_RESPONSE__INIT;
	Causeway__V1__Body b;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	r.status = status;
	r.more = more;
	if (body) {
		cw_msg_body_identity(&b, body, strlen(body));
		r.body = &b;
	}
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
	env.api_response = &r;
	gw_put(w, id, &env);
}

/*
 * API requests from the agent (§13.4): the request reaches the gateway
 * whole with its FIN; an answer in two parts arrives in order and ends at
 * the FIN; a gateway reset reaches the shell with its code; a malformed
 * answer ends the request with -EBADMSG. Nothing is left behind.
 */
static void test_api_requests(void **state)
{
	Causeway__V1__Heartbeat hb = CAUSEWAY__V1__HEARTBEAT__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	static struct world w;
	struct areq *ok, *reset, *bad;
	struct gdial *g;
	uint64_t id;
	size_t mem;

	(void)state;
	world_init(&w, 11);
	world_up(&w, 0);
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	assert_int_equal(cw_as_api_open(w.as, &env, &id), -ENOTCONN); /* before HelloAck */
	gw_hello_ack(&w, 600, true);
	run_for(&w, 100 * MS);
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_HEARTBEAT;
	env.heartbeat = &hb;
	assert_int_equal(cw_as_api_open(w.as, &env, &id), -EINVAL);
	run_for(&w, 2 * SEC); /* quiet: the connection trims what it kept */
	mem = w.amem.bytes;

	ok = api_open(&w, "GET", "/api/v1/namespaces/default/pods");
	assert_int_equal(ok->id, 4);
	g = gdial_of(&w, ok->id);
	assert_non_null(g);
	assert_non_null(g->result);
	assert_int_equal(g->result->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST);
	assert_string_equal(g->result->api_request->verb, "GET");
	assert_string_equal(g->result->api_request->path, "/api/v1/namespaces/default/pods");
	assert_true(g->fin);
	gw_answer(&w, ok->id, 200, "{\"kind\":\"PodList\",", true);
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_int_equal(ok->msgs, 1);
	assert_int_equal(ok->end, 0);
	gw_answer(&w, ok->id, 0, "\"items\":[]}", false);
	assert_int_equal(cw_conn_stream_finish(w.gc, ok->id), 0);
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_int_equal(ok->msgs, 2);
	assert_int_equal(ok->status, 200);
	assert_int_equal(ok->body_len, strlen("{\"kind\":\"PodList\",\"items\":[]}"));
	assert_memory_equal(ok->body, "{\"kind\":\"PodList\",\"items\":[]}", ok->body_len);
	assert_int_equal(ok->end, -EPIPE);

	reset = api_open(&w, "PATCH", "/api/v1/nodes/edge-7/status");
	assert_int_equal(cw_conn_stream_reset(w.gc, reset->id, 0x07), 0);
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_int_equal(reset->end, -ECONNRESET);
	assert_int_equal(reset->code, 0x07);

	bad = api_open(&w, "GET", "/api/v1/nodes");
	{
		static const uint8_t zero_len = 0; /* a zero length prefix: -EBADMSG */
		size_t n;

		assert_int_equal(cw_conn_stream_write(w.gc, bad->id, &zero_len, 1, &n), 0);
	}
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_int_equal(bad->end, -EBADMSG);
	{
		size_t n;
		int r = cw_conn_stream_write(w.gc, bad->id, (const uint8_t *)"x", 1, &n);

		/* the agent's STOP_SENDING: the gateway's side is stopped or gone */
		assert_true(r == -EPIPE || r == -ENOENT);
	}

	{
		cw_envelope *e;
		uint64_t code;

		assert_int_equal(cw_as_api_read(w.as, ok->id, &e, &code), -ENOENT); /* over */
	}
	run_for(&w, 2 * SEC);
	assert_int_equal(w.amem.bytes, mem); /* every request forgotten */
	world_free(&w);
}

static void test_stateless_reset(void **state)
{
	uint8_t rnd[CW_RESET_MAX_LEN], d[64], bad[CW_RESET_TOKEN_LEN];
	struct cw_as_info info;
	static struct world w;
	int n;

	(void)state;
	world_init(&w, 8);
	world_up(&w, 600);
	memset(rnd, 0x3c, sizeof(rnd));
	/* One bit off the token: dropped, the session lives. */
	memcpy(bad, TOKEN, sizeof(bad));
	bad[15] ^= 1;
	n = cw_reset_build(d, sizeof(d), 60, bad, rnd, sizeof(rnd));
	assert_true(n > 0);
	send_to_agent(&w, d, (size_t)n);
	assert_int_equal(cw_as_state(w.as), CW_AS_ESTABLISHED);
	/* 25 bytes ending in the token: too short to be a reset (§11.4). */
	memset(d, 0x41, 9);
	memcpy(d + 9, TOKEN, sizeof(TOKEN));
	send_to_agent(&w, d, 25);
	assert_int_equal(cw_as_state(w.as), CW_AS_ESTABLISHED);
	n = cw_reset_build(d, sizeof(d), 60, TOKEN, rnd, sizeof(rnd));
	assert_int_equal(n, 42);
	send_to_agent(&w, d, (size_t)n);
	assert_int_equal(cw_as_state(w.as), CW_AS_ENDED);
	cw_as_info(w.as, &info);
	assert_int_equal(info.end, CW_AS_END_RESET);
	assert_int_equal(cw_as_next_timeout(w.as), UINT64_MAX);
	/* Silently: nothing goes out after a reset. */
	assert_int_equal(cw_as_send(w.as, sim_now(w.s), d, CW_CONN_DGRAM_MAX), 0);
	world_free(&w);
}

/* A Version Negotiation packet echoing @dcid and @scid, listing @version. */
static size_t vn_build(uint8_t *d, const uint8_t *dcid, const uint8_t *scid, uint32_t version)
{
	size_t n = 0;

	d[n++] = 0xc0;
	memset(d + n, 0, 4);
	n += 4;
	d[n++] = CW_CID_LEN;
	memcpy(d + n, dcid, CW_CID_LEN);
	n += CW_CID_LEN;
	d[n++] = CW_CID_LEN;
	memcpy(d + n, scid, CW_CID_LEN);
	n += CW_CID_LEN;
	d[n++] = (uint8_t)(version >> 24);
	d[n++] = (uint8_t)(version >> 16);
	d[n++] = (uint8_t)(version >> 8);
	d[n++] = (uint8_t)version;
	return n;
}

/*
 * §15.2: before anything else of the attempt arrived, a Version Negotiation
 * that echoes both CIDs and lacks our version ends the attempt; one that
 * lists our version, or names other CIDs, is ignored; after the gateway
 * answered, none counts.
 */
static void test_version_negotiation(void **state)
{
	static const uint8_t cid[CW_CID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
	static const uint8_t odcid[CW_CID_LEN] = {0x0d, 0x0c, 0x1d, 1, 2, 3, 4, 5};
	static struct world w;
	struct cw_as_info info;
	uint8_t d[64], wrong[CW_CID_LEN] = {0};

	(void)state;
	world_init(&w, 10);
	/* Sent at once, they arrive before the gateway's first answer. */
	sim_send(w.s, w.gw_id, w.ag_id, d, vn_build(d, cid, odcid, CW_VERSION_1));
	sim_send(w.s, w.gw_id, w.ag_id, d, vn_build(d, wrong, odcid, 0x43570002));
	sim_send(w.s, w.gw_id, w.ag_id, d, vn_build(d, cid, wrong, 0x43570002));
	run_for(&w, 12 * MS);
	assert_int_not_equal(cw_as_state(w.as), CW_AS_ENDED);
	world_free(&w);

	world_init(&w, 10);
	sim_send(w.s, w.gw_id, w.ag_id, d, vn_build(d, cid, odcid, 0x43570002));
	run_for(&w, 12 * MS);
	assert_int_equal(cw_as_state(w.as), CW_AS_ENDED);
	cw_as_info(w.as, &info);
	assert_int_equal(info.end, CW_AS_END_VERSION);
	world_free(&w);

	world_init(&w, 10);
	world_up(&w, 600);
	send_to_agent(&w, d, vn_build(d, cid, odcid, 0x43570002));
	assert_int_equal(cw_as_state(w.as), CW_AS_ESTABLISHED);
	world_free(&w);
}

/* Without a token in HelloAck nothing is a reset. */
static void test_no_token(void **state)
{
	uint8_t rnd[CW_RESET_MAX_LEN], d[64];
	static struct world w;
	int n;

	(void)state;
	world_init(&w, 9);
	world_up(&w, 0);
	gw_hello_ack(&w, 600, false);
	run_for(&w, 100 * MS);
	assert_int_equal(cw_as_state(w.as), CW_AS_ESTABLISHED);
	memset(rnd, 0x3c, sizeof(rnd));
	n = cw_reset_build(d, sizeof(d), 60, TOKEN, rnd, sizeof(rnd));
	send_to_agent(&w, d, (size_t)n);
	assert_int_equal(cw_as_state(w.as), CW_AS_ESTABLISHED);
	world_free(&w);
}

/* Close message first, then CONNECTION_CLOSE with the same code (§11.3). */
static void test_shutdown(void **state)
{
	static struct world w;

	(void)state;
	world_init(&w, 10);
	world_up(&w, 600);
	cw_as_shutdown(w.as, sim_now(w.s), CW_AS_SHUTDOWN, "agent stopping");
	agent_pump(&w, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_int_equal(w.env[w.nenv - 1]->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_CLOSE);
	assert_int_equal(w.env[w.nenv - 1]->close->code, CW_AS_SHUTDOWN);
	assert_string_equal(w.env[w.nenv - 1]->close->reason, "agent stopping");
	assert_int_equal(cw_conn_state(w.gc), CW_CONN_DRAINING);
	assert_int_equal(cw_conn_close_code(w.gc, false), CW_AS_SHUTDOWN);
	run_for(&w, 5 * SEC);
	assert_int_equal(cw_as_state(w.as), CW_AS_ENDED);
	world_free(&w);
}

/* The gateway's Close carries retry_after_ms for the reconnect delay. */
static void test_peer_close(void **state)
{
	Causeway__V1__Close cl = CAUSEWAY__V1__CLOSE__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	struct cw_as_info info;
	static struct world w;

	(void)state;
	world_init(&w, 11);
	world_up(&w, 600);
	cl.code = CW_AS_SHUTDOWN;
	cl.reason = (char *)"gateway restart";
	cl.retry_after_ms = 2500;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_CLOSE;
	env.close = &cl;
	gw_put(&w, 0, &env);
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 30 * MS);
	cw_conn_close(w.gc, sim_now(w.s), CW_AS_SHUTDOWN, "gateway restart");
	gw_pump(&w, sim_now(w.s));
	run_for(&w, 5 * SEC);
	assert_int_equal(cw_as_state(w.as), CW_AS_ENDED);
	cw_as_info(w.as, &info);
	assert_int_equal(info.end, CW_AS_END_PEER);
	assert_int_equal(info.close_code, CW_AS_SHUTDOWN);
	assert_int_equal(info.retry_after_ms, 2500);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_heartbeat),
	    cmocka_unit_test(test_hello_timeout),
	    cmocka_unit_test(test_dial_raw),
	    cmocka_unit_test(test_dial_not_allowed),
	    cmocka_unit_test(test_dial_before_hello_ack),
	    cmocka_unit_test(test_dial_early_bytes),
	    cmocka_unit_test(test_dial_reset),
	    cmocka_unit_test(test_api_requests),
	    cmocka_unit_test(test_stateless_reset),
	    cmocka_unit_test(test_no_token),
	    cmocka_unit_test(test_version_negotiation),
	    cmocka_unit_test(test_shutdown),
	    cmocka_unit_test(test_peer_close),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
