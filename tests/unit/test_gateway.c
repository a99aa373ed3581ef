/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/gateway.c: one gateway worker (cw_gw) against agents built from
 * the bare agent role of tunnel/conn.c, which speak the control and dial
 * messages written here with msg.h, over the seeded simulated link
 * (simlink.h) with a 10 ms one-way delay. Certificates come from pki.h and
 * are checked at a fixed wall-clock time.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pki.h"
#include "simlink.h"
#include "testutil.h"
#include "tunnel/compress.h"
#include "tunnel/gateway.h"
#include "tunnel/hsdesk.h"
#include "tunnel/msg.h"
#include "tunnel/msg_body.h"

#define T0	   INT64_C(1800000000)
#define DAY	   INT64_C(86400)
#define GW_NAME	   "gw.causeway.test"
#define MS	   UINT64_C(1000000)
#define SEC	   (1000 * MS)
#define WORKER	   3
#define MAX_AGENTS 4
#define MAX_DIALS  4
#define CHUNK	   16384
#define PORT_OK	   10250

static struct {
	struct tu_ca ca;
	struct tu_ident gw, node_a;
	struct tu_ident expired, foreign; /* out of date; from another CA */
	struct tu_ca other;		  /* signs fx.foreign */
	uint8_t tkey[CW_TLS_TICKET_KEY_LEN];
} fx;

static int setup_pki(void **state)
{
	(void)state;
	tu_ca_make(&fx.ca, "Causeway test CA", T0);
	fx.gw = tu_make_ident("gateway", "DNS:" GW_NAME, fx.ca.cert, fx.ca.key, T0 - DAY,
			      T0 + 365 * DAY);
	fx.node_a =
	    tu_make_ident("node:node-a", NULL, fx.ca.cert, fx.ca.key, T0 - DAY, T0 + 365 * DAY);
	fx.expired =
	    tu_make_ident("node:node-a", NULL, fx.ca.cert, fx.ca.key, T0 - 30 * DAY, T0 - DAY);
	tu_ca_make(&fx.other, "Another CA", T0);
	fx.foreign = tu_make_ident("node:node-a", NULL, fx.other.cert, fx.other.key, T0 - DAY,
				   T0 + 365 * DAY);
	for (size_t j = 0; j < CW_TLS_TICKET_KEY_LEN; j++)
		fx.tkey[j] = (uint8_t)(0x11 + j);
	return 0;
}

static int teardown_pki(void **state)
{
	(void)state;
	tu_ident_free(&fx.gw);
	tu_ident_free(&fx.node_a);
	tu_ident_free(&fx.expired);
	tu_ident_free(&fx.foreign);
	tu_ca_free(&fx.other);
	tu_ca_free(&fx.ca);
	return 0;
}

/* ---- raw bytes of a dial, both ends ---- */

/* One direction: bytes to send and sent, or received and checked. */
struct flow {
	size_t total, done, bad;
	bool fin;
};

static uint8_t pat(int dir, uint64_t off)
{
	return (uint8_t)(off * 131 + (uint64_t)dir * 17 + (off >> 10));
}

#define TO_AGENT 1
#define TO_GW	 2

static void flow_check(struct flow *f, int dir, const uint8_t *b, size_t n, bool fin)
{
	for (size_t i = 0; i < n; i++)
		f->bad += b[i] != pat(dir, f->done + i);
	f->done += n;
	f->fin |= fin;
}

static void flow_fill(const struct flow *f, int dir, uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = pat(dir, f->done + i);
}

/* ---- endpoints ---- */

struct world;

/* The caller's view of one dial (cw_gw_dial() and on_dial). */
struct gdial {
	uint64_t session_id, stream;
	int results, readable, writable, resets, gone;
	bool ok, aborted;
	uint32_t error;
	uint64_t reset_code;
	struct flow tx, rx;
};

/* The agent's end of a dial stream. */
struct adial {
	uint64_t id;
	struct cw_msg_decoder dec;
	bool got_dial, ok;
	struct flow tx, rx;
};

struct agent {
	struct world *w;
	int id;
	struct cw_conn *c;
	struct cw_gw_addr addr;
	struct tu_counter mem;
	struct cw_alloc a;
	const char *hello_name;
	bool no_hello, hello_sent, corrupt_next;
	struct cw_msg_decoder ctl, api;
	bool got_ack, api_fin;
	char ack_node[CW_MSG_NAME_MAX + 1], ack_version[CW_MSG_VERSION_MAX + 1];
	uint32_t ack_dict, ack_hb, ack_streams, close_msg, close_retry, api_err, api_status;
	char api_body[512];
	uint64_t reset_code; /* of the last stream the gateway reset */
	uint64_t ack_sid, ack_unix_ms;
	uint8_t ack_tok[CW_RESET_TOKEN_LEN];
	size_t ack_tok_len;
	struct adial dials[MAX_DIALS];
	size_t ndials, dial_len;
	uint64_t closed_at;
	int64_t peer_code;
	bool hold_next;	     /* keep the next 1-RTT datagram instead of sending it */
	int spoof_via;	     /* >= 0: ... and send it at once from this endpoint */
	uint64_t mute_until; /* what the agent sends before this is lost */
	size_t held_len;
	uint8_t held[CW_CONN_DGRAM_MAX];
	size_t first_len; /* the first datagram sent */
	uint8_t first[CW_CONN_DGRAM_MAX];
	/* Without a connection: what arrived. */
	size_t rx_count, rx_bytes, last_len;
	uint8_t last[SIM_MAX_DGRAM];
};

/* What the gateway passed on to the handshake desk (cfg.offload), queued as
 * a worker's ring to the handshake thread would hold it. */
struct hsq_item {
	bool start;
	struct cw_gw_hs_job job;
	uint64_t session_id;
	struct cw_gw_addr from;
	size_t len;
	uint8_t b[SIM_MAX_DGRAM];
};

#define HSQ 32

struct gwep {
	struct world *w;
	int id;
	struct cw_gw *gw;
	struct tu_counter mem;
	struct cw_alloc a;
	struct cw_hsd *hsd; /* offload: the handshake thread's desk */
	struct tu_counter hmem;
	struct cw_alloc ha;
	struct hsq_item q[HSQ];
	int qn;
	size_t bounced, adopted;
	int ups, downs, addrs;
	struct cw_gw_session_info up; /* strings copied below */
	char up_node[CW_MSG_NAME_MAX + 1], up_pool[CW_MSG_NAME_MAX + 1];
	char up_version[CW_MSG_VERSION_MAX + 1];
	uint64_t down_sid;
	enum cw_conn_end down_end;
	int64_t down_code;
	struct cw_gw_addr new_addr;
	struct gdial dials[MAX_DIALS];
	size_t ndials, dial_len;
	size_t unroutable;
};

struct world {
	struct sim *s;
	struct cw_tls_client_ctx *cc;
	struct cw_tls_server_ctx *sc;
	struct cw_token_keys tk;
	struct cw_conn_cfg ccfg;
	struct cw_gw_cfg cfg;
	struct gwep g;
	struct agent ag[MAX_AGENTS];
	int nag;
};

static const uint32_t GW_DICTS[2] = {42, 99};

/* Run every test's handshakes on a handshake desk (the second group). */
static bool offload;

/* ---- the agent: Hello, HelloAck, dial answers ---- */

static void agent_write_msg(struct agent *ag, uint64_t id, const cw_envelope *env)
{
	uint8_t b[2048];
	ptrdiff_t n = cw_msg_encode(env, CW_MSG_SIZE_FLOOR, b, sizeof(b));
	size_t w;

	assert_true(n > 0);
	assert_int_equal(cw_conn_stream_write(ag->c, id, b, (size_t)n, &w), 0);
	assert_int_equal(w, (size_t)n);
}

static void send_hello(struct agent *ag)
{
	static uint32_t dicts[2] = {7, 42}, ports[1] = {PORT_OK};
	Causeway__V1__TransportParams tp = CAUSEWAY__V1__TRANSPORT_PARAMS__INIT;
	Causeway__V1__Hello h = CAUSEWAY__V1__HELLO__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	uint64_t id;

	tp.initial_max_data = 8u << 20;
	tp.initial_max_stream_data = 1u << 20;
	tp.initial_max_streams = 256;
	h.node_name = (char *)ag->hello_name;
	h.pool = "edge-1";
	h.agent_version = "0.1.0";
	h.n_dictionary_ids = 2;
	h.dictionary_ids = dicts;
	h.transport = &tp;
	h.n_allowed_ports = 1;
	h.allowed_ports = ports;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	assert_int_equal(cw_conn_stream_open(ag->c, &id), 0);
	assert_int_equal(id, 0);
	agent_write_msg(ag, 0, &env);
	ag->hello_sent = true;
}

static void send_heartbeat(struct agent *ag, uint64_t seq)
{
	Causeway__V1__Heartbeat hb = CAUSEWAY__V1__HEARTBEAT__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	hb.seq = seq;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_HEARTBEAT;
	env.heartbeat = &hb;
	agent_write_msg(ag, 0, &env);
}

static void on_hello_ack(struct agent *ag, const Causeway__V1__HelloAck *a)
{
	const Causeway__V1__TransportParams *tp = a->transport;

	ag->got_ack = true;
	snprintf(ag->ack_node, sizeof(ag->ack_node), "%s", a->node_name);
	snprintf(ag->ack_version, sizeof(ag->ack_version), "%s", a->gateway_version);
	ag->ack_dict = a->dictionary_id;
	ag->ack_sid = a->session_id;
	ag->ack_hb = a->heartbeat_interval_s;
	ag->ack_unix_ms = a->gateway_unix_ms;
	ag->ack_tok_len = a->stateless_reset_token.len;
	if (ag->ack_tok_len == CW_RESET_TOKEN_LEN)
		memcpy(ag->ack_tok, a->stateless_reset_token.data, CW_RESET_TOKEN_LEN);
	assert_non_null(tp);
	ag->ack_streams = (uint32_t)tp->initial_max_streams;
	assert_int_equal(cw_conn_set_peer_params(ag->c, tp->initial_max_data,
						 tp->initial_max_stream_data,
						 tp->initial_max_streams, tp->idle_timeout_ms),
			 0);
}

/* Read whole messages from stream @id into @dec; @fn gets each. */
static void read_msgs(struct agent *ag, uint64_t id, struct cw_msg_decoder *dec, bool *fin_out,
		      void (*fn)(struct agent *, const cw_envelope *))
{
	uint8_t b[CHUNK];
	uint64_t code;
	cw_envelope *env;
	size_t n;
	bool fin = false;

	int rc;

	while (!fin &&
	       (rc = cw_conn_stream_read(ag->c, id, b, sizeof(b), &n, &fin, &code)) != -EAGAIN) {
		if (rc == -ECONNRESET)
			ag->reset_code = code;
		if (rc)
			break;
		for (size_t off = 0; off < n;) {
			ptrdiff_t k = cw_msg_decode(dec, b + off, n - off, &env);

			assert_true(k >= 0);
			off += (size_t)k;
			if (env) {
				fn(ag, env);
				cw_msg_free(dec, env);
			}
		}
		if (fin_out)
			*fin_out |= fin;
		if (!n)
			break;
	}
}

static void ctl_msg(struct agent *ag, const cw_envelope *env)
{
	if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_HELLO_ACK)
		on_hello_ack(ag, env->hello_ack);
	else if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_CLOSE) {
		ag->close_msg = env->close->code;
		ag->close_retry = env->close->retry_after_ms;
	}
}

static void api_msg(struct agent *ag, const cw_envelope *env)
{
	const Causeway__V1__ApiResponse *r = env->api_response;

	if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_ERROR) {
		ag->api_err = env->error->code;
		return;
	}
	assert_int_equal(env->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE);
	ag->api_status = r->status;
	assert_int_equal(r->n_headers, 1);
	assert_string_equal(r->headers[0]->name, "content-type");
	assert_string_equal(r->headers[0]->value, "application/json");
	assert_non_null(r->body);
	assert_int_equal(r->body->encoding, CAUSEWAY__V1__ENCODING__IDENTITY);
	assert_true(r->body->data.len < sizeof(ag->api_body));
	memcpy(ag->api_body, r->body->data.data, r->body->data.len);
	ag->api_body[r->body->data.len] = '\0';
}

static struct adial *adial_of(struct agent *ag, uint64_t id)
{
	for (size_t i = 0; i < ag->ndials; i++)
		if (ag->dials[i].id == id)
			return &ag->dials[i];
	assert_true(ag->ndials < MAX_DIALS);
	ag->dials[ag->ndials] = (struct adial){.id = id};
	assert_int_equal(cw_msg_decoder_init(&ag->dials[ag->ndials].dec, &ag->a, 4096), 0);
	return &ag->dials[ag->ndials++];
}

/* Dial first, DialResult back (only PORT_OK is allowed), then raw bytes. */
static void agent_dial(struct agent *ag, uint64_t id)
{
	Causeway__V1__DialResult dr = CAUSEWAY__V1__DIAL_RESULT__INIT;
	cw_envelope out = CAUSEWAY__V1__ENVELOPE__INIT;
	struct adial *d = adial_of(ag, id);
	uint8_t b[CHUNK];
	cw_envelope *env;
	uint64_t code;
	size_t n, off;
	bool fin;

	while (!d->rx.fin && cw_conn_stream_read(ag->c, id, b, sizeof(b), &n, &fin, &code) == 0) {
		off = 0;
		if (!d->got_dial && n) {
			ptrdiff_t k = cw_msg_decode(&d->dec, b, n, &env);

			assert_true(k >= 0);
			off = (size_t)k;
			if (env) {
				assert_int_equal(env->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_DIAL);
				d->got_dial = true;
				d->ok = env->dial->port == PORT_OK;
				dr.request_id = env->dial->request_id;
				dr.ok = d->ok;
				dr.error = d->ok ? CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_NONE
						 : CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_NOT_ALLOWED;
				dr.reason = d->ok ? "" : "port not allowed";
				cw_msg_free(&d->dec, env);
				out.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_DIAL_RESULT;
				out.dial_result = &dr;
				agent_write_msg(ag, id, &out);
				d->tx.total = d->ok ? ag->dial_len : 0;
			}
		}
		if (d->got_dial)
			flow_check(&d->rx, TO_AGENT, b + off, n - off, fin);
		if (!n)
			break;
	}
}

static void agent_write_dials(struct agent *ag)
{
	uint8_t b[CHUNK];

	for (size_t i = 0; i < ag->ndials; i++) {
		struct adial *d = &ag->dials[i];

		while (d->got_dial && d->tx.done < d->tx.total) {
			size_t len =
			    d->tx.total - d->tx.done < CHUNK ? d->tx.total - d->tx.done : CHUNK;
			size_t n = 0;

			flow_fill(&d->tx, TO_GW, b, len);
			if (cw_conn_stream_write(ag->c, d->id, b, len, &n) < 0 || !n)
				break;
			d->tx.done += n;
		}
		if (d->got_dial && d->tx.done == d->tx.total && !d->tx.fin) {
			assert_int_equal(cw_conn_stream_finish(ag->c, d->id), 0);
			d->tx.fin = true;
		}
	}
}

static void agent_flush(struct agent *ag, uint64_t now)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	int n;

	while ((n = cw_conn_send(ag->c, now, b, sizeof(b))) > 0) {
		if (ag->corrupt_next && !(b[0] & 0x80)) {
			b[n - 1] ^= 0x5a; /* a byte of the AEAD tag */
			ag->corrupt_next = false;
		}
		if (ag->hold_next && !(b[0] & 0x80)) {
			memcpy(ag->held, b, (size_t)n);
			ag->held_len = (size_t)n;
			ag->hold_next = false;
			if (ag->spoof_via >= 0) {
				sim_send(ag->w->s, ag->spoof_via, ag->w->g.id, b, (size_t)n);
				ag->mute_until = now + 300 * MS;
			}
			continue;
		}
		if (now < ag->mute_until)
			continue;
		if (!ag->first_len) {
			memcpy(ag->first, b, (size_t)n);
			ag->first_len = (size_t)n;
		}
		sim_send(ag->w->s, ag->id, ag->w->g.id, b, (size_t)n);
	}
	assert_int_equal(n, 0);
}

static void agent_pump(struct agent *ag, uint64_t now)
{
	enum cw_conn_state st;
	unsigned ev;
	uint64_t id;

	if (!ag->c)
		return;
	st = cw_conn_state(ag->c);
	if (cw_conn_close_code(ag->c, false) >= 0)
		ag->peer_code = cw_conn_close_code(ag->c, false);
	if (!ag->closed_at && st == CW_CONN_CLOSED)
		ag->closed_at = now;
	if (st == CW_CONN_ESTABLISHED && !ag->hello_sent && !ag->no_hello)
		send_hello(ag);
	while (cw_conn_next_event(ag->c, &id, &ev) == 0) {
		if (id == 0)
			read_msgs(ag, 0, &ag->ctl, NULL, ctl_msg);
		else if ((id & 3) == 1)
			agent_dial(ag, id);
		else
			read_msgs(ag, id, &ag->api, &ag->api_fin, api_msg);
	}
	if (cw_conn_state(ag->c) == CW_CONN_ESTABLISHED)
		agent_write_dials(ag);
	agent_flush(ag, now);
}

static void agent_recv(void *ep, struct sim *s, int from, uint64_t now, const uint8_t *d,
		       size_t len)
{
	struct agent *ag = ep;
	uint8_t b[SIM_MAX_DGRAM];

	(void)s;
	(void)from;
	if (!ag->c) {
		ag->rx_count++;
		ag->rx_bytes += len;
		ag->last_len = len;
		memcpy(ag->last, d, len);
		return;
	}
	memcpy(b, d, len);
	assert_int_equal(cw_conn_recv(ag->c, now, b, len), 0);
	agent_pump(ag, now);
}

static uint64_t agent_next(void *ep)
{
	struct agent *ag = ep;

	return ag->c ? cw_conn_next_timeout(ag->c) : SIM_NEVER;
}

static void agent_timeout(void *ep, struct sim *s, uint64_t now)
{
	struct agent *ag = ep;

	(void)s;
	cw_conn_on_timeout(ag->c, now);
	agent_pump(ag, now);
}

static const struct sim_ep_ops AGENT_OPS = {agent_recv, agent_next, agent_timeout};

/* ---- the gateway's caller ---- */

static void on_up(void *ctx, const struct cw_gw_session_info *info)
{
	struct gwep *g = ctx;

	g->ups++;
	g->up = *info;
	snprintf(g->up_node, sizeof(g->up_node), "%s", info->node_name);
	snprintf(g->up_pool, sizeof(g->up_pool), "%s", info->pool);
	snprintf(g->up_version, sizeof(g->up_version), "%s", info->agent_version);
}

static void on_down(void *ctx, uint64_t sid, const char *node, enum cw_conn_end end, int64_t code)
{
	struct gwep *g = ctx;

	assert_string_equal(node, "node-a");
	g->downs++;
	g->down_sid = sid;
	g->down_end = end;
	g->down_code = code;
	/* Every dial of the session got GONE before this. */
	for (size_t i = 0; i < g->ndials; i++)
		if (g->dials[i].session_id == sid)
			assert_int_equal(g->dials[i].gone, 1);
}

static void on_addr(void *ctx, uint64_t sid, const char *node, const struct cw_gw_addr *addr)
{
	struct gwep *g = ctx;

	(void)sid;
	assert_string_equal(node, "node-a");
	g->addrs++;
	g->new_addr = *addr;
}

static void on_dial(void *ctx, void *user, enum cw_gw_dial_event ev,
		    const struct cw_gw_dial_status *st)
{
	struct gdial *d = user;

	(void)ctx;
	assert_int_equal(d->gone, 0); /* nothing after GONE */
	switch (ev) {
	case CW_GW_DIAL_RESULT:
		d->results++;
		d->ok = st->ok;
		d->error = st->error;
		break;
	case CW_GW_DIAL_READABLE:
		d->readable++;
		break;
	case CW_GW_DIAL_WRITABLE:
		d->writable++;
		break;
	case CW_GW_DIAL_RESET:
		d->resets++;
		d->reset_code = st->code;
		break;
	case CW_GW_DIAL_GONE:
		d->gone++;
		break;
	}
}

/* Move a dial's raw bytes, as a relay would between its socket and the
 * stream (outside the callbacks, which must not call back in). */
static void gw_dial_io(struct gwep *g)
{
	uint8_t b[CHUNK];

	for (size_t i = 0; i < g->ndials; i++) {
		struct gdial *d = &g->dials[i];
		size_t n;
		bool fin;

		if (d->aborted || d->resets)
			continue;
		while (d->ok && !d->gone && d->tx.done < d->tx.total) {
			size_t len =
			    d->tx.total - d->tx.done < CHUNK ? d->tx.total - d->tx.done : CHUNK;

			flow_fill(&d->tx, TO_AGENT, b, len);
			assert_int_equal(
			    cw_gw_dial_write(g->gw, d->session_id, d->stream, b, len, &n), 0);
			d->tx.done += n;
			if (n < len)
				break;
		}
		if (d->ok && !d->gone && d->tx.done == d->tx.total && !d->tx.fin) {
			assert_int_equal(cw_gw_dial_finish(g->gw, d->session_id, d->stream), 0);
			d->tx.fin = true;
		}
		while (d->ok && !d->gone && !d->rx.fin &&
		       cw_gw_dial_read(g->gw, d->session_id, d->stream, b, sizeof(b), &n, &fin) ==
			   0 &&
		       (n || fin))
			flow_check(&d->rx, TO_GW, b, n, fin);
	}
}

static struct agent *agent_at(struct world *w, const struct cw_gw_addr *a)
{
	for (int i = 0; i < w->nag; i++)
		if (w->ag[i].addr.port == a->port && !memcmp(w->ag[i].addr.addr, a->addr, 4))
			return &w->ag[i];
	return NULL;
}

/* ---- the handshake desk, run where the gateway's worker runs ---- */

static int hs_queue(struct gwep *g, bool start, uint64_t sid, const struct cw_gw_addr *from,
		    const uint8_t *d, size_t len)
{
	struct hsq_item *it;

	if (g->qn == HSQ)
		return -ENOBUFS;
	it = &g->q[g->qn++];
	it->start = start;
	it->session_id = sid;
	it->from = *from;
	it->len = len;
	memcpy(it->b, d, len);
	return 0;
}

static int hs_start(void *ctx, const struct cw_gw_hs_job *job, const uint8_t *d, size_t len)
{
	struct gwep *g = ctx;
	int r = hs_queue(g, true, job->session_id, &job->from, d, len);

	if (!r)
		g->q[g->qn - 1].job = *job;
	return r;
}

static int hs_input(void *ctx, uint64_t sid, const struct cw_gw_addr *from, const uint8_t *d,
		    size_t len)
{
	return hs_queue(ctx, false, sid, from, d, len);
}

static struct agent *agent_at(struct world *w, const struct cw_gw_addr *a);

/* A datagram of the gateway's to whichever agent is at @to. */
static void gw_send(struct gwep *g, const struct cw_gw_addr *to, const uint8_t *b, int n)
{
	struct agent *ag = agent_at(g->w, to);

	if (ag)
		sim_send(g->w->s, g->id, ag->id, b, (size_t)n);
	else
		g->unroutable++;
}

/* Hand finished handshakes to the gateway as tunnel_svc does: the
 * connection moves to the worker's allocator with what it holds. */
static void hs_take(struct gwep *g, uint64_t now)
{
	struct cw_hsd_done d;

	while (cw_hsd_take(g->hsd, &d) == 0) {
		cw_conn_set_alloc(d.conn, &g->a);
		g->mem.bytes += d.bytes;
		g->mem.blocks += d.blocks;
		g->hmem.bytes -= d.bytes;
		g->hmem.blocks -= d.blocks;
		assert_int_equal(cw_gw_adopt(g->gw, now, d.session_id, d.conn, d.sent), 0);
		g->adopted++;
	}
}

static void hs_pump(struct gwep *g, uint64_t now)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	struct cw_gw_addr to;
	uint64_t sid;
	int n;

	/* Items may be added while these run (a datagram given back). */
	for (int i = 0; i < g->qn; i++) {
		struct hsq_item *it = &g->q[i];

		if (it->start && cw_hsd_start(g->hsd, now, &it->job, it->b, it->len) < 0)
			assert_int_equal(cw_gw_adopt(g->gw, now, it->session_id, NULL, 0), 0);
		if (!it->start && cw_hsd_input(g->hsd, now, it->session_id, &it->from, it->b,
					       it->len) == -ENOENT) {
			g->bounced++;
			assert_int_equal(cw_gw_input(g->gw, now, &it->from, it->b, it->len), 0);
		}
		hs_take(g, now);
	}
	g->qn = 0;
	while ((n = cw_hsd_output(g->hsd, now, b, sizeof(b), &sid, &to)) > 0) {
		assert_int_equal(sid >> 56, WORKER);
		gw_send(g, &to, b, n);
	}
	assert_int_equal(n, 0);
	hs_take(g, now);
}

static void gw_pump(struct gwep *g, uint64_t now)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	struct cw_gw_addr to;
	int n;

	gw_dial_io(g);
	if (g->hsd)
		hs_pump(g, now);
	while ((n = cw_gw_output(g->gw, now, b, sizeof(b), &to)) > 0)
		gw_send(g, &to, b, n);
	assert_int_equal(n, 0);
}

static void gw_recv(void *ep, struct sim *s, int from, uint64_t now, const uint8_t *d, size_t len)
{
	struct gwep *g = ep;
	uint8_t b[SIM_MAX_DGRAM];

	(void)s;
	memcpy(b, d, len);
	for (int i = 0; i < g->w->nag; i++)
		if (g->w->ag[i].id == from)
			assert_int_equal(cw_gw_input(g->gw, now, &g->w->ag[i].addr, b, len), 0);
	gw_pump(g, now);
}

static uint64_t gw_next(void *ep)
{
	struct gwep *g = ep;
	uint64_t t = cw_gw_next_timeout(g->gw), h = cw_hsd_next_timeout(g->hsd);

	if (g->qn)
		return 0; /* the desk's thread would take them at once */
	return h < t ? h : t;
}

static void gw_timeout(void *ep, struct sim *s, uint64_t now)
{
	struct gwep *g = ep;

	(void)s;
	if (g->hsd) {
		cw_hsd_on_timeout(g->hsd, now);
		hs_take(g, now);
	}
	cw_gw_on_timeout(g->gw, now);
	gw_pump(g, now);
}

static const struct sim_ep_ops GW_OPS = {gw_recv, gw_next, gw_timeout};

/* ---- the world ---- */

static void world_init(struct world *w, uint64_t seed, enum cw_gw_retry retry, uint64_t idle_ns)
{
	struct cw_tls_server_cfg scfg = {.cert_chain = tu_pem_ref(&fx.gw.cert),
					 .key = tu_pem_ref(&fx.gw.key),
					 .node_ca = tu_pem_ref(&fx.ca.pem)};
	struct cw_tls_client_cfg ccfg = {.cert = tu_pem_ref(&fx.node_a.cert),
					 .key = tu_pem_ref(&fx.node_a.key),
					 .gateway_ca = tu_pem_ref(&fx.ca.pem),
					 .gateway_name = GW_NAME};
	uint8_t key[CW_TOKEN_KEY_LEN];

	memset(w, 0, sizeof(*w));
	memcpy(scfg.ticket_key, fx.tkey, sizeof(fx.tkey));
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &w->sc), 0);
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &w->cc), 0);
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(cw_token_init(&w->tk, key, 0, 0), 0);
	w->ccfg.idle_timeout_ns = idle_ns;
	w->s = sim_new(seed);
	assert_non_null(w->s);
	w->g = (struct gwep){.w = w, .down_code = -2};
	w->g.a = (struct cw_alloc){tu_count_alloc, tu_count_free, &w->g.mem};
	w->g.id = sim_add_ep(w->s, &GW_OPS, &w->g);
	w->cfg = (struct cw_gw_cfg){
	    .alloc = &w->g.a,
	    .worker = WORKER,
	    .max_sessions = 8,
	    .tls = w->sc,
	    .tokens = &w->tk,
	    .retry = retry,
	    .send_resets = true,
	    .conn = &w->ccfg,
	    .dict_ids = GW_DICTS,
	    .n_dict = 2,
	    .version = "gw-test 1.0",
	    .heartbeat_interval_s = 300,
	    .cb = {&w->g, on_up, on_down, on_addr, on_dial},
	};
	memset(w->cfg.cid_key, 0x3c, sizeof(w->cfg.cid_key));
	memset(w->cfg.reset_key, 0x7e, sizeof(w->cfg.reset_key));
	if (offload) {
		struct cw_hsd_cfg hc = {
		    .alloc = &w->g.ha, .tls = w->sc, .conn = &w->ccfg, .max_jobs = 8};

		w->cfg.offload = true;
		w->cfg.cb.hs_start = hs_start;
		w->cfg.cb.hs_input = hs_input;
		w->g.ha = (struct cw_alloc){tu_count_alloc, tu_count_free, &w->g.hmem};
		assert_int_equal(cw_hsd_new(&hc, &w->g.hsd), 0);
		cw_hsd_set_wall_time(w->g.hsd, T0);
	}
	assert_int_equal(cw_gw_new(&w->cfg, &w->g.gw), 0);
	cw_gw_set_wall_time(w->g.gw, T0);
}

/* A host on the link, without a connection yet. */
static struct agent *agent_add(struct world *w, const struct sim_impair *imp)
{
	struct sim_impair def = {.delay_ns = 10 * MS};
	struct agent *ag = &w->ag[w->nag];

	assert_true(w->nag < MAX_AGENTS);
	*ag = (struct agent){.w = w, .hello_name = "node-a", .peer_code = -1, .spoof_via = -1};
	ag->a = (struct cw_alloc){tu_count_alloc, tu_count_free, &ag->mem};
	ag->addr = (struct cw_gw_addr){.family = 4,
				       .addr = {198, 51, 100, (uint8_t)(10 + w->nag)},
				       .port = (uint16_t)(40000 + w->nag)};
	ag->id = sim_add_ep(w->s, &AGENT_OPS, ag);
	assert_true(ag->id >= 0);
	sim_set_impair(w->s, ag->id, w->g.id, imp ? imp : &def);
	sim_set_impair(w->s, w->g.id, ag->id, imp ? imp : &def);
	w->nag++;
	return ag;
}

static void agent_connect(struct agent *ag, const uint8_t *ticket, size_t ticket_len)
{
	struct world *w = ag->w;
	struct cw_hs_agent_cfg hc = {
	    .tls = w->cc, .wall_time = T0, .ticket = ticket, .ticket_len = ticket_len};
	struct cw_conn_cfg cfg = w->ccfg;
	uint64_t r1 = sim_rand(w->s), r2 = sim_rand(w->s);

	memcpy(hc.cid, &r1, sizeof(r1));
	memcpy(hc.odcid, &r2, sizeof(r2));
	cfg.alloc = &ag->a;
	cfg.seed = sim_rand(w->s);
	assert_int_equal(cw_msg_decoder_init(&ag->ctl, &ag->a, CW_MSG_SIZE_DEFAULT), 0);
	assert_int_equal(cw_msg_decoder_init(&ag->api, &ag->a, CW_MSG_SIZE_DEFAULT), 0);
	assert_int_equal(cw_conn_agent_new(&cfg, &hc, sim_now(w->s), &ag->c), 0);
	agent_pump(ag, sim_now(w->s));
}

static void agent_free(struct agent *ag)
{
	for (size_t i = 0; i < ag->ndials; i++)
		cw_msg_decoder_free(&ag->dials[i].dec);
	ag->ndials = 0;
	if (ag->c) {
		cw_msg_decoder_free(&ag->ctl);
		cw_msg_decoder_free(&ag->api);
	}
	cw_conn_free(ag->c);
	ag->c = NULL;
	assert_int_equal(ag->mem.blocks, 0);
	assert_int_equal(ag->mem.bytes, 0);
}

static void world_free(struct world *w)
{
	for (int i = 0; i < w->nag; i++)
		agent_free(&w->ag[i]);
	if (offload)
		assert_int_equal(w->g.adopted,
				 cw_gw_stats(w->g.gw)->hs_away - cw_gw_stats(w->g.gw)->hs_refused);
	cw_gw_free(w->g.gw);
	cw_hsd_free(w->g.hsd);
	/* Every session, stream, dial and table went back to the allocator;
	 * with a desk, what it allocated was moved to the gateway's. */
	assert_int_equal(w->g.mem.blocks, 0);
	assert_int_equal(w->g.mem.bytes, 0);
	assert_int_equal(w->g.hmem.blocks, 0);
	assert_int_equal(w->g.hmem.bytes, 0);
	sim_free(w->s);
	cw_tls_client_ctx_free(w->cc);
	cw_tls_server_ctx_free(w->sc);
	cw_token_free(&w->tk);
}

static const struct cw_gw_stats *stats(const struct world *w)
{
	return cw_gw_stats(w->g.gw);
}

/* Run in steps of 10 ms until @done(@arg) or @limit of virtual time. */
static bool run_until(struct world *w, bool (*done)(const void *), const void *arg, uint64_t limit)
{
	uint64_t end = sim_now(w->s) + limit;

	while (!done(arg) && sim_now(w->s) < end)
		sim_run(w->s, sim_now(w->s) + 10 * MS, 1000000);
	return done(arg);
}

static void run_for(struct world *w, uint64_t dt)
{
	sim_run(w->s, sim_now(w->s) + dt, 10000000);
}

static bool has_ack(const void *p)
{
	return ((const struct agent *)p)->got_ack;
}

static struct agent *connect_up(struct world *w, const struct sim_impair *imp)
{
	struct agent *ag = agent_add(w, imp);

	agent_connect(ag, NULL, 0);
	assert_true(run_until(w, has_ack, ag, 5 * SEC));
	assert_true(w->g.ups > 0);
	return ag;
}

static struct gdial *dial(struct world *w, uint16_t port, size_t len)
{
	struct gdial *d = &w->g.dials[w->g.ndials++];

	*d = (struct gdial){.session_id = w->g.up.session_id, .tx.total = len};
	assert_int_equal(cw_gw_dial(w->g.gw, sim_now(w->s), d->session_id, "", port, 5000,
				    "198.51.100.200:5000", d, &d->stream),
			 0);
	gw_pump(&w->g, sim_now(w->s));
	return d;
}

static bool dial_done(const void *p)
{
	const struct gdial *d = p;

	return d->gone > 0;
}

static int count_session(const struct cw_gw_session_stats *st, void *ctx)
{
	struct cw_gw_session_stats *out = ctx;

	*out = *st;
	return 0;
}

/* ---- tests ---- */

static void test_hello(void **state)
{
	struct cw_gw_session_stats ss = {0};
	Causeway__V1__ApiRequest api = CAUSEWAY__V1__API_REQUEST__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	uint8_t tok[CW_RESET_TOKEN_LEN];
	struct cw_hs_result r;
	struct world w;
	struct agent *ag;
	uint64_t id;

	(void)state;
	world_init(&w, 1, CW_GW_RETRY_NEVER, 0);
	ag = connect_up(&w, NULL);
	/* HelloAck as §13.3 describes it. */
	assert_string_equal(ag->ack_node, "node-a");
	assert_string_equal(ag->ack_version, "gw-test 1.0");
	assert_int_equal(ag->ack_dict, 42); /* the agent's first choice the gateway holds */
	assert_int_equal(ag->ack_sid, w.g.up.session_id);
	assert_int_equal(ag->ack_sid >> 56, WORKER);
	assert_int_equal(ag->ack_hb, 300);
	assert_int_equal(ag->ack_unix_ms, (uint64_t)T0 * 1000);
	assert_int_equal(ag->ack_streams, 1024);
	assert_int_equal(cw_hs_result(cw_conn_hs(ag->c), &r), 0);
	assert_int_equal(cw_reset_token(w.cfg.reset_key, r.peer_cid, tok), 0);
	assert_int_equal(ag->ack_tok_len, CW_RESET_TOKEN_LEN);
	assert_memory_equal(ag->ack_tok, tok, CW_RESET_TOKEN_LEN);
	/* on_session_up, with the node name of the certificate. */
	assert_int_equal(w.g.ups, 1);
	assert_string_equal(w.g.up_node, "node-a");
	assert_string_equal(w.g.up_pool, "edge-1");
	assert_string_equal(w.g.up_version, "0.1.0");
	assert_int_equal(w.g.up.worker, WORKER);
	assert_int_equal(w.g.up.n_allowed, 1);
	assert_int_equal(w.g.up.allowed_ports[0], PORT_OK);
	assert_false(w.g.up.resumed);
	assert_int_equal(w.g.up.dictionary_id, 42);
	assert_memory_equal(&w.g.up.addr, &ag->addr, sizeof(ag->addr));
	assert_int_equal(stats(&w)->hs_started, 1);
	assert_int_equal(stats(&w)->hs_full, 1);
	assert_int_equal(stats(&w)->hs_resumed, 0);
	assert_int_equal(stats(&w)->sessions, 1);
	/* On a desk: the INITIAL and the agent's handshake flight went there,
	 * and the connection came back once. */
	assert_int_equal(stats(&w)->hs_away, offload ? 1 : 0);
	assert_true(offload ? stats(&w)->hs_forwarded >= 1 : stats(&w)->hs_forwarded == 0);
	assert_int_equal(w.g.adopted, offload ? 1 : 0);
	assert_int_equal(cw_hsd_jobs(w.g.hsd), 0);
	/* A Heartbeat is counted; an API request is refused, not left hanging. */
	send_heartbeat(ag, 1);
	assert_int_equal(cw_conn_stream_open(ag->c, &id), 0);
	assert_int_equal(id, 4);
	api.verb = "GET";
	api.path = "/api/v1/nodes";
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &api;
	agent_write_msg(ag, id, &env);
	assert_int_equal(cw_conn_stream_finish(ag->c, id), 0);
	agent_pump(ag, sim_now(w.s));
	run_for(&w, 1 * SEC);
	assert_true(ag->api_fin);
	assert_int_equal(ag->api_err, CW_SE_REFUSED);
	assert_int_equal(stats(&w)->api_refused, 1);
	assert_int_equal(stats(&w)->heartbeats, 1);
	cw_gw_foreach_session(w.g.gw, count_session, &ss);
	assert_int_equal(ss.session_id, w.g.up.session_id);
	assert_string_equal(ss.node_name, "node-a");
	assert_int_equal(ss.heartbeats, 1);
	assert_int_equal(ss.heartbeat_seq, 1);
	assert_int_equal(ss.streams, 1); /* stream 0; the API stream is over */
	assert_true(ss.bytes_in > 1200 && ss.bytes_out > 1200);
	assert_true(ss.srtt_ns >= 20 * MS && ss.srtt_ns < 60 * MS);
	assert_int_equal(stats(&w)->decrypt_failed, 0);
	world_free(&w);
}

/* A copy of the first INITIAL reaches the session it created, not a new
 * one; from another address it is dropped (§11.5). */
/* ---- API streams: routing (§13.4) ---- */

struct route_log {
	int calls;
	char verb[16], path[64];
};

static struct route_log route_log;

/* secrets: deny; pods: hub; BREW: an error; the rest: upstream. */
static int route_by_path(void *ctx, const char *verb, size_t vlen, const char *path, size_t plen)
{
	(void)ctx;
	route_log.calls++;
	snprintf(route_log.verb, sizeof(route_log.verb), "%.*s", (int)vlen, verb);
	snprintf(route_log.path, sizeof(route_log.path), "%.*s", (int)plen, path);
	if (vlen == 4 && !memcmp(verb, "BREW", 4))
		return -EIO;
	if (plen >= 15 && !memcmp(path, "/api/v1/secrets", 15))
		return CW_GW_ROUTE_DENY;
	if (plen >= 12 && !memcmp(path, "/api/v1/pods", 12))
		return CW_GW_ROUTE_HUB;
	return CW_GW_ROUTE_UPSTREAM;
}

/* Open an API stream, write @env (in two parts, pumping between, when
 * @split), FIN, and run until the gateway has answered. */
static uint64_t api_call(struct world *w, struct agent *ag, const cw_envelope *env, bool split)
{
	uint8_t b[2048];
	ptrdiff_t n = cw_msg_encode(env, CW_MSG_SIZE_FLOOR, b, sizeof(b));
	size_t half = split ? (size_t)n / 2 : (size_t)n, wr;
	uint64_t id;

	assert_true(n > 0);
	ag->api_fin = false;
	ag->api_err = ag->api_status = 0;
	ag->reset_code = UINT64_MAX;
	assert_int_equal(cw_conn_stream_open(ag->c, &id), 0);
	assert_int_equal(cw_conn_stream_write(ag->c, id, b, half, &wr), 0);
	assert_int_equal(wr, half);
	if (split) {
		agent_pump(ag, sim_now(w->s));
		run_for(w, 200 * MS);
		assert_int_equal(route_log.calls, 0); /* not routed before it is whole */
		assert_int_equal(cw_conn_stream_write(ag->c, id, b + half, (size_t)n - half, &wr),
				 0);
		assert_int_equal(wr, (size_t)n - half);
	}
	assert_int_equal(cw_conn_stream_finish(ag->c, id), 0);
	agent_pump(ag, sim_now(w->s));
	run_for(w, 1 * SEC);
	return id;
}

static void api_request_env(cw_envelope *env, Causeway__V1__ApiRequest *rq, const char *verb,
			    const char *path)
{
	cw_envelope e = CAUSEWAY__V1__ENVELOPE__INIT;
	Causeway__V1__ApiRequest r = CAUSEWAY__V1__API_REQUEST__INIT;

	*rq = r;
	rq->verb = (char *)verb;
	rq->path = (char *)path;
	*env = e;
	env->msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env->api_request = rq;
}

/*
 * Every API request is read whole and routed by method and path: deny
 * answers 403 with a Kubernetes Status; hub, upstream and a failing route
 * are refused (not served here yet); a stream that carries something else
 * is aborted. Each decision is counted, and nothing is left behind.
 */
static void test_api_routes(void **state)
{
	Causeway__V1__Heartbeat hb = CAUSEWAY__V1__HEARTBEAT__INIT;
	Causeway__V1__ApiRequest rq;
	cw_envelope env;
	struct cw_gw_session_stats ss = {0};
	struct world w;
	struct agent *ag;

	struct cw_compress *cz;
	Causeway__V1__Body body = CAUSEWAY__V1__BODY__INIT;
	static const uint8_t junk[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x11, 0x22};

	(void)state;
	world_init(&w, 1, CW_GW_RETRY_NEVER, 0);
	cw_gw_free(w.g.gw);
	w.cfg.cb.route = route_by_path;
	assert_int_equal(cw_compress_init(&cz, NULL, 0), 0);
	w.cfg.compress = cz; /* no dictionary: IDENTITY and plain ZSTD bodies */
	assert_int_equal(cw_gw_new(&w.cfg, &w.g.gw), 0);
	cw_gw_set_wall_time(w.g.gw, T0);
	ag = connect_up(&w, NULL);
	memset(&route_log, 0, sizeof(route_log));

	api_request_env(&env, &rq, "GET", "/api/v1/secrets/kube-system/token");
	api_call(&w, ag, &env, true);
	assert_int_equal(route_log.calls, 1);
	assert_string_equal(route_log.verb, "GET");
	assert_string_equal(route_log.path, "/api/v1/secrets/kube-system/token");
	assert_true(ag->api_fin);
	assert_int_equal(ag->api_status, 403);
	assert_int_equal(ag->api_err, 0);
	assert_non_null(strstr(ag->api_body, "\"reason\":\"Forbidden\""));
	assert_non_null(strstr(ag->api_body, "\"code\":403"));

	api_request_env(&env, &rq, "GET", "/api/v1/pods");
	api_call(&w, ag, &env, false);
	assert_true(ag->api_fin);
	assert_int_equal(ag->api_err, CW_SE_REFUSED);
	api_request_env(&env, &rq, "PATCH", "/api/v1/nodes/n/status");
	api_call(&w, ag, &env, false);
	assert_int_equal(ag->api_err, CW_SE_REFUSED);
	api_request_env(&env, &rq, "BREW", "/coffee");
	api_call(&w, ag, &env, false);
	assert_int_equal(ag->api_err, CW_SE_REFUSED);
	assert_int_equal(route_log.calls, 4);

	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_HEARTBEAT;
	env.heartbeat = &hb;
	api_call(&w, ag, &env, false);
	assert_int_equal(route_log.calls, 4);
	assert_int_equal(ag->reset_code, CW_SE_UNEXPECTED_MESSAGE);

	/* Bodies are decoded before routing: a good one is routed ... */
	api_request_env(&env, &rq, "POST", "/api/v1/namespaces/a/events");
	cw_msg_body_identity(&body, "{\"kind\":\"Event\"}", 16);
	rq.body = &body;
	api_call(&w, ag, &env, false);
	assert_int_equal(ag->api_err, CW_SE_REFUSED);
	assert_int_equal(stats(&w)->body_bytes, 16);
	/* ... one that does not decode aborts the stream: looked up (the route
	 * says where the body goes), not counted as routed. */
	body.encoding = CAUSEWAY__V1__ENCODING__ZSTD;
	body.uncompressed_len = 100;
	body.data.data = (uint8_t *)junk;
	body.data.len = sizeof(junk);
	api_call(&w, ag, &env, false);
	assert_int_equal(ag->reset_code, CW_SE_DECOMPRESSION_FAILED);
	assert_int_equal(route_log.calls, 6);
	assert_int_equal(stats(&w)->body_failed, 1);

	assert_int_equal(stats(&w)->routed[CW_GW_ROUTE_DENY], 1);
	assert_int_equal(stats(&w)->routed[CW_GW_ROUTE_HUB], 1);
	assert_int_equal(stats(&w)->routed[CW_GW_ROUTE_UPSTREAM], 2);
	assert_int_equal(stats(&w)->api_refused, 4);
	assert_int_equal(stats(&w)->api_bad, 1);
	run_for(&w, 1 * SEC);
	cw_gw_foreach_session(w.g.gw, count_session, &ss);
	assert_int_equal(ss.streams, 1); /* stream 0: every API stream is over */
	world_free(&w);
	cw_compress_free(cz);
}

/*
 * A datagram of a session owned by another worker (§4.2): that worker's
 * gateway hands it back (1 + the owner's index) untouched and counts
 * nothing; the owner then processes it. A gateway told of fewer workers
 * treats the same CID as no session.
 */
static void test_other_worker(void **state)
{
	struct cw_gw_addr from;
	struct cw_gw_stats before;
	struct cw_gw_cfg cfg;
	struct cw_gw *other;
	struct world w;
	struct agent *ag;
	uint8_t copy[CW_CONN_DGRAM_MAX];
	uint64_t hs_before;

	(void)state;
	world_init(&w, 1, CW_GW_RETRY_NEVER, 0);
	ag = connect_up(&w, NULL);
	send_heartbeat(ag, 1);
	ag->hold_next = true;
	agent_pump(ag, sim_now(w.s));
	run_for(&w, 20 * MS);
	assert_true(ag->held_len > 0);
	from = ag->addr;

	cfg = w.cfg;
	cfg.worker = WORKER + 1;
	cfg.n_workers = WORKER + 2;
	assert_int_equal(cw_gw_new(&cfg, &other), 0);
	memcpy(copy, ag->held, ag->held_len);
	assert_int_equal(cw_gw_input(other, sim_now(w.s), &from, copy, ag->held_len), 1 + WORKER);
	assert_memory_equal(copy, ag->held, ag->held_len); /* untouched */
	before = *cw_gw_stats(other);
	assert_int_equal(before.screen_dropped + before.resets_sent + before.pkts_dropped, 0);
	assert_int_equal(cw_gw_output(other, sim_now(w.s), copy, sizeof(copy), &from), 0);
	cw_gw_free(other);

	/* Fewer workers than the CID names: no session, no hand-back. */
	cfg.n_workers = WORKER;
	assert_int_equal(cw_gw_new(&cfg, &other), 0);
	memcpy(copy, ag->held, ag->held_len);
	assert_int_equal(cw_gw_input(other, sim_now(w.s), &from, copy, ag->held_len), 0);
	cw_gw_free(other);

	/* The owner takes it: the heartbeat it carries is counted. */
	hs_before = stats(&w)->heartbeats;
	memcpy(copy, ag->held, ag->held_len);
	assert_int_equal(cw_gw_input(w.g.gw, sim_now(w.s), &from, copy, ag->held_len), 0);
	assert_int_equal(stats(&w)->heartbeats, hs_before + 1);
	world_free(&w);
}

static void test_initial_again(void **state)
{
	struct agent *ag, *other;
	struct world w;

	(void)state;
	world_init(&w, 12, CW_GW_RETRY_NEVER, 0);
	ag = agent_add(&w, NULL);
	other = agent_add(&w, NULL);
	agent_connect(ag, NULL, 0);
	sim_run(w.s, 15 * MS, 1000000);
	assert_int_equal(stats(&w)->hs_started, 1);
	sim_send(w.s, ag->id, w.g.id, ag->first, ag->first_len);
	sim_send(w.s, other->id, w.g.id, ag->first, ag->first_len);
	assert_true(run_until(&w, has_ack, ag, 5 * SEC));
	assert_int_equal(stats(&w)->hs_started, 1);
	assert_int_equal(stats(&w)->wrong_addr, 1);
	assert_int_equal(stats(&w)->sessions, 1);
	assert_int_equal(stats(&w)->screen_dropped, 0);
	assert_int_equal(other->rx_count, 0);
	world_free(&w);
}

/* ---- API requests handed over (api_open) ---- */

static struct {
	struct cw_gw_api_req *req;
	struct gdial d;
	int opened;
	bool refuse;
} fwd;

static int api_take(void *ctx, struct cw_gw_api_req *req, void **user)
{
	(void)ctx;
	if (fwd.refuse)
		return -EBUSY;
	assert_null(fwd.req);
	fwd.req = req;
	fwd.opened++;
	fwd.d = (struct gdial){.session_id = req->session_id, .stream = req->stream, .ok = true};
	*user = &fwd.d;
	return 0;
}

/* The control thread's part: ApiResponse 200 with @body, then FIN. */
static void api_answer(struct world *w, const char *body)
{
	Causeway__V1__ApiResponse r = CAUSEWAY__V1__API_RESPONSE__INIT;
	Causeway__V1__Header h = CAUSEWAY__V1__HEADER__INIT, *hs[1] = {&h};
	Causeway__V1__Body b = CAUSEWAY__V1__BODY__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	uint8_t buf[1024];
	ptrdiff_t n;
	size_t wr;

	h.name = "content-type";
	h.value = "application/json";
	cw_msg_body_identity(&b, body, strlen(body));
	r.status = 200;
	r.n_headers = 1;
	r.headers = hs;
	r.body = &b;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
	env.api_response = &r;
	n = cw_msg_encode(&env, fwd.req->peer_msg_max, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(
	    cw_gw_dial_write(w->g.gw, fwd.d.session_id, fwd.d.stream, buf, (size_t)n, &wr), 0);
	assert_int_equal(wr, (size_t)n);
	assert_int_equal(cw_gw_dial_finish(w->g.gw, fwd.d.session_id, fwd.d.stream), 0);
	gw_pump(&w->g, sim_now(w->s));
}

/*
 * Hub and upstream requests are handed over whole: the decoded message and
 * body by pointer, the session's figures with them; the taker answers on
 * the stream as on a dial stream, and learns when the agent cancels. A
 * refusal, or a deny route, does not reach it.
 */
static void test_api_forward(void **state)
{
	Causeway__V1__Body body = CAUSEWAY__V1__BODY__INIT;
	Causeway__V1__ApiRequest rq;
	cw_envelope env;
	struct world w;
	struct agent *ag;
	struct cw_compress *cz;
	uint64_t id;

	(void)state;
	memset(&fwd, 0, sizeof(fwd));
	world_init(&w, 5, CW_GW_RETRY_NEVER, 0);
	cw_gw_free(w.g.gw);
	w.cfg.cb.route = route_by_path;
	w.cfg.cb.api_open = api_take;
	assert_int_equal(cw_compress_init(&cz, NULL, 0), 0);
	w.cfg.compress = cz;
	assert_int_equal(cw_gw_new(&w.cfg, &w.g.gw), 0);
	cw_gw_set_wall_time(w.g.gw, T0);
	ag = connect_up(&w, NULL);
	memset(&route_log, 0, sizeof(route_log));

	api_request_env(&env, &rq, "POST", "/api/v1/namespaces/a/events");
	cw_msg_body_identity(&body, "{\"kind\":\"Event\"}", 16);
	rq.body = &body;
	id = api_call(&w, ag, &env, true);
	assert_int_equal(fwd.opened, 1);
	assert_int_equal(fwd.req->stream, id);
	assert_int_equal(fwd.req->session_id, w.g.up.session_id);
	assert_int_equal(fwd.req->route, CW_GW_ROUTE_UPSTREAM);
	assert_string_equal(fwd.req->node, "node-a");
	assert_string_equal(fwd.req->rq->verb, "POST");
	assert_string_equal(fwd.req->rq->path, "/api/v1/namespaces/a/events");
	assert_int_equal(fwd.req->body_len, 16);
	assert_memory_equal(fwd.req->body, "{\"kind\":\"Event\"}", 16);
	assert_false(ag->api_fin); /* waiting for the taker */
	assert_int_equal(stats(&w)->api_forwarded, 1);
	assert_int_equal(stats(&w)->api_refused, 0);
	api_answer(&w, "{\"kind\":\"Event\",\"metadata\":{\"name\":\"e1\"}}");
	run_for(&w, 1 * SEC);
	assert_true(ag->api_fin);
	assert_int_equal(ag->api_status, 200);
	assert_string_equal(ag->api_body, "{\"kind\":\"Event\",\"metadata\":{\"name\":\"e1\"}}");
	assert_int_equal(fwd.d.gone, 1); /* both ways over */
	assert_int_equal(fwd.d.resets, 0);
	cw_gw_api_req_free(fwd.req);
	fwd.req = NULL;

	/* The agent gives up on a request: the taker hears RESET, then GONE. */
	api_request_env(&env, &rq, "GET", "/api/v1/pods");
	id = api_call(&w, ag, &env, false);
	assert_int_equal(fwd.opened, 2);
	assert_int_equal(fwd.req->route, CW_GW_ROUTE_HUB);
	assert_null(fwd.req->body);
	assert_int_equal(cw_conn_stream_stop(ag->c, id, CW_SE_CANCELLED), 0);
	assert_int_equal(cw_conn_stream_reset(ag->c, id, CW_SE_CANCELLED), 0);
	agent_pump(ag, sim_now(w.s));
	run_for(&w, 1 * SEC);
	assert_int_equal(fwd.d.resets, 1);
	assert_int_equal(fwd.d.reset_code, CW_SE_CANCELLED);
	assert_int_equal(fwd.d.gone, 1);
	cw_gw_api_req_free(fwd.req);
	fwd.req = NULL;

	/* A taker that refuses: Error{REFUSED}, as without one. */
	fwd.refuse = true;
	api_call(&w, ag, &env, false);
	assert_int_equal(ag->api_err, CW_SE_REFUSED);
	assert_int_equal(fwd.opened, 2);
	assert_int_equal(stats(&w)->api_forwarded, 2);
	assert_int_equal(stats(&w)->api_refused, 1);
	world_free(&w);
	cw_compress_free(cz);
}

static bool both_acked(const void *p)
{
	const struct agent *ag = p;

	return ag[0].got_ack && ag[1].got_ack;
}

/* A desk with room for one handshake: the second INITIAL is refused there,
 * its slot comes back, and the agent's next INITIAL gets in. */
static void test_desk_full(void **state)
{
	struct cw_hsd_cfg hc = {.max_jobs = 1};
	struct world w;

	(void)state;
	if (!offload)
		skip();
	world_init(&w, 31, CW_GW_RETRY_NEVER, 0);
	cw_hsd_free(w.g.hsd);
	hc.alloc = &w.g.ha;
	hc.tls = w.sc;
	hc.conn = &w.ccfg;
	assert_int_equal(cw_hsd_new(&hc, &w.g.hsd), 0);
	cw_hsd_set_wall_time(w.g.hsd, T0);
	agent_add(&w, NULL);
	agent_add(&w, NULL);
	agent_connect(&w.ag[0], NULL, 0);
	agent_connect(&w.ag[1], NULL, 0);
	run_for(&w, 15 * MS); /* both INITIALs in, no answer back yet */
	assert_int_equal(stats(&w)->hs_away, 2);
	assert_int_equal(stats(&w)->hs_refused, 1);
	assert_int_equal(stats(&w)->sessions, 1);
	assert_int_equal(cw_hsd_jobs(w.g.hsd), 1);
	assert_true(run_until(&w, both_acked, w.ag, 10 * SEC));
	assert_int_equal(stats(&w)->hs_full, 2);
	assert_int_equal(stats(&w)->sessions, 2);
	assert_int_equal(stats(&w)->hs_away, 3);
	assert_int_equal(w.g.adopted, 2);
	world_free(&w);
}

static void test_resumed(void **state)
{
	uint8_t ticket[4096];
	const uint8_t *t;
	struct agent *a1, *a2;
	struct world w;
	uint64_t sid1;
	uint32_t slot;
	size_t tlen;

	(void)state;
	world_init(&w, 2, CW_GW_RETRY_NEVER, 0);
	a1 = connect_up(&w, NULL);
	sid1 = w.g.up.session_id;
	run_for(&w, 500 * MS); /* HANDSHAKE_DONE: every ticket is in */
	t = cw_conn_ticket(a1->c, &tlen);
	assert_non_null(t);
	assert_true(tlen > 0 && tlen <= sizeof(ticket));
	memcpy(ticket, t, tlen);
	slot = w.g.up.slot;
	a2 = agent_add(&w, NULL);
	agent_connect(a2, ticket, tlen);
	assert_true(run_until(&w, has_ack, a2, 5 * SEC));
	assert_int_equal(w.g.ups, 2);
	assert_true(w.g.up.resumed);
	assert_true(w.g.up.slot != slot);
	assert_int_equal(stats(&w)->hs_full, 1);
	assert_int_equal(stats(&w)->hs_resumed, 1);
	assert_int_equal(stats(&w)->sessions, 2);
	/* §11.2: the caller displaces the older session of the node. */
	assert_int_equal(
	    cw_gw_close_session(w.g.gw, sim_now(w.s), sid1, CW_AE_SESSION_REPLACED, "replaced"), 0);
	gw_pump(&w.g, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_int_equal(a1->close_msg, CW_AE_SESSION_REPLACED); /* Close, then the frame */
	assert_int_equal(a1->peer_code, CW_AE_SESSION_REPLACED);
	assert_int_equal(stats(&w)->replaced, 1);
	run_for(&w, 3 * SEC);
	assert_int_equal(w.g.downs, 1);
	assert_int_equal(w.g.down_sid, sid1);
	assert_int_equal(w.g.down_end, CW_CONN_END_LOCAL);
	assert_int_equal(w.g.down_code, CW_AE_SESSION_REPLACED);
	assert_int_equal(stats(&w)->sessions, 1);
	assert_int_equal(cw_conn_state(a2->c), CW_CONN_ESTABLISHED);
	world_free(&w);
}

/* A stopping gateway tells every agent, Close then the frame, at once. */
static void test_shutdown(void **state)
{
	struct agent *a1, *a2;
	struct world w;

	(void)state;
	world_init(&w, 2, CW_GW_RETRY_NEVER, 0);
	a1 = connect_up(&w, NULL);
	a2 = connect_up(&w, NULL);
	assert_int_equal(stats(&w)->sessions, 2);
	assert_int_equal(cw_gw_shutdown(w.g.gw, sim_now(w.s), 1500), 2);
	assert_int_equal(cw_gw_shutdown(w.g.gw, sim_now(w.s), 1500), 0); /* already closing */
	gw_pump(&w.g, sim_now(w.s));
	run_for(&w, 100 * MS);
	for (int i = 0; i < 2; i++) {
		struct agent *a = i ? a2 : a1;

		assert_int_equal(a->close_msg, CW_AE_SHUTDOWN);
		assert_int_equal(a->close_retry, 1500);
		assert_int_equal(a->peer_code, CW_AE_SHUTDOWN);
	}
	run_for(&w, 3 * SEC);
	assert_int_equal(w.g.downs, 2);
	assert_int_equal(w.g.down_code, CW_AE_SHUTDOWN);
	assert_int_equal(stats(&w)->sessions, 0);
	assert_int_equal(cw_gw_shutdown(NULL, 0, 0), 0);
	world_free(&w);
}

/* Re-create the gateway of @w with @max_sessions slots and @retry_load. */
static void gw_renew(struct world *w, uint32_t max_sessions, enum cw_gw_retry retry,
		     uint32_t retry_load)
{
	cw_gw_free(w->g.gw);
	w->cfg.max_sessions = max_sessions;
	w->cfg.retry = retry;
	w->cfg.retry_load = retry_load;
	assert_int_equal(cw_gw_new(&w->cfg, &w->g.gw), 0);
	cw_gw_set_wall_time(w->g.gw, T0);
}

static void test_under_load(void **state)
{
	struct agent *a1, *a2, *a3;
	struct world w;

	(void)state;
	world_init(&w, 13, CW_GW_RETRY_NEVER, 0);
	gw_renew(&w, 2, CW_GW_RETRY_UNDER_LOAD, 0);
	/* The first handshake goes straight in; the second, arriving while
	 * it is in progress, gets a RETRY. */
	a1 = agent_add(&w, NULL);
	a2 = agent_add(&w, NULL);
	agent_connect(a1, NULL, 0);
	agent_connect(a2, NULL, 0);
	assert_true(run_until(&w, has_ack, a1, 5 * SEC));
	assert_true(run_until(&w, has_ack, a2, 5 * SEC));
	assert_int_equal(stats(&w)->retries_sent, 1);
	assert_int_equal(stats(&w)->hs_full, 2);
	/* Both slots taken: a third agent's INITIALs are dropped. */
	a3 = agent_add(&w, NULL);
	agent_connect(a3, NULL, 0);
	run_for(&w, 1 * SEC);
	assert_false(a3->got_ack);
	assert_true(stats(&w)->slots_full >= 1);
	assert_int_equal(stats(&w)->sessions, 2);
	assert_int_equal(stats(&w)->hs_started, 2);
	world_free(&w);
}

static void test_name_mismatch(void **state)
{
	struct agent *ag;
	struct world w;

	(void)state;
	world_init(&w, 3, CW_GW_RETRY_NEVER, 0);
	ag = agent_add(&w, NULL);
	ag->hello_name = "node-b";
	agent_connect(ag, NULL, 0);
	run_for(&w, 1 * SEC);
	assert_false(ag->got_ack);
	assert_int_equal(ag->close_msg, CW_AE_NODE_NAME_MISMATCH); /* the Close message first */
	assert_int_equal(ag->peer_code, CW_AE_NODE_NAME_MISMATCH);
	assert_true(cw_conn_state(ag->c) >= CW_CONN_DRAINING);
	assert_int_equal(stats(&w)->name_mismatch, 1);
	assert_int_equal(w.g.ups, 0);
	run_for(&w, 3 * SEC);
	assert_int_equal(stats(&w)->sessions, 0);
	assert_int_equal(w.g.downs, 0); /* never reported up */
	world_free(&w);
}

/* §13.2: a message that does not belong on stream 0 closes the session. */
static void test_control_stream_error(void **state)
{
	Causeway__V1__Dial dm = CAUSEWAY__V1__DIAL__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	struct agent *ag;
	struct world w;

	(void)state;
	world_init(&w, 15, CW_GW_RETRY_NEVER, 0);
	ag = connect_up(&w, NULL);
	dm.port = PORT_OK;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_DIAL;
	env.dial = &dm;
	agent_write_msg(ag, 0, &env);
	agent_pump(ag, sim_now(w.s));
	run_for(&w, 100 * MS);
	assert_int_equal(ag->close_msg, CW_AE_CONTROL_STREAM_ERROR);
	assert_int_equal(ag->peer_code, CW_AE_CONTROL_STREAM_ERROR);
	run_for(&w, 3 * SEC);
	assert_int_equal(w.g.downs, 1);
	assert_int_equal(w.g.down_end, CW_CONN_END_LOCAL);
	assert_int_equal(w.g.down_code, CW_AE_CONTROL_STREAM_ERROR);
	assert_int_equal(stats(&w)->sessions, 0);
	world_free(&w);
}

static void test_hello_timeout(void **state)
{
	struct agent *ag;
	struct world w;

	(void)state;
	world_init(&w, 4, CW_GW_RETRY_NEVER, 0);
	ag = agent_add(&w, NULL);
	ag->no_hello = true;
	agent_connect(ag, NULL, 0);
	sim_run(w.s, 9900 * MS, 10000000);
	assert_int_equal(cw_conn_state(ag->c), CW_CONN_ESTABLISHED);
	assert_int_equal(stats(&w)->hello_timeout, 0);
	sim_run(w.s, 10200 * MS, 10000000);
	assert_int_equal(stats(&w)->hello_timeout, 1);
	assert_int_equal(ag->peer_code, CW_AE_HELLO_TIMEOUT);
	assert_int_equal(w.g.ups, 0);
	world_free(&w);
}

static void test_dial(void **state)
{
	struct sim_impair imp = {.delay_ns = 10 * MS, .loss = 0.05};
	struct gdial *d;
	struct agent *ag;
	struct world w;

	(void)state;
	world_init(&w, 5, CW_GW_RETRY_NEVER, 0);
	ag = connect_up(&w, &imp);
	ag->dial_len = 1u << 20;
	d = dial(&w, PORT_OK, 1u << 20);
	assert_int_equal(d->stream, 1); /* the gateway's first stream (§9.1) */
	assert_true(run_until(&w, dial_done, d, 120 * SEC));
	/* 1 MiB each way, byte-exact, FIN both ways, GONE once. */
	assert_int_equal(d->results, 1);
	assert_true(d->ok);
	assert_int_equal(d->rx.done, 1u << 20);
	assert_int_equal(d->rx.bad, 0);
	assert_true(d->rx.fin);
	assert_int_equal(ag->dials[0].rx.done, 1u << 20);
	assert_int_equal(ag->dials[0].rx.bad, 0);
	assert_true(ag->dials[0].rx.fin);
	assert_int_equal(d->gone, 1);
	assert_int_equal(d->resets, 0);
	assert_true(d->readable > 0);
	assert_true(sim_stats(w.s, ag->id, w.g.id)->lost > 0);
	assert_true(sim_stats(w.s, w.g.id, ag->id)->lost > 0);
	assert_true(sim_stats(w.s, ag->id, w.g.id)->bytes_delivered > (1u << 20));
	assert_true(sim_stats(w.s, w.g.id, ag->id)->bytes_delivered > (1u << 20));
	/* What the link lost of the gateway's MiB went again, and was counted. */
	assert_true(stats(&w)->retransmits > 0);
	/* A port the agent does not allow. */
	d = dial(&w, 9999, 100);
	assert_int_equal(d->stream, 5);
	assert_true(run_until(&w, dial_done, d, 30 * SEC));
	assert_int_equal(d->results, 1);
	assert_false(d->ok);
	assert_int_equal(d->error, CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_NOT_ALLOWED);
	assert_int_equal(d->gone, 1);
	assert_int_equal(stats(&w)->dials, 2);
	assert_int_equal(stats(&w)->dials_failed, 1);
	/* Writing to a dial that is over. */
	assert_int_equal(cw_gw_dial_write(w.g.gw, d->session_id, d->stream, (const uint8_t *)"x", 1,
					  &(size_t){0}),
			 -ENOENT);
	assert_int_equal(
	    cw_gw_dial(w.g.gw, sim_now(w.s), d->session_id + 1, "", 1, 0, "", d, &(uint64_t){0}),
	    -ENOENT);
	assert_int_equal(stats(&w)->sessions, 1);
	world_free(&w);
}

static bool has_result(const void *p)
{
	return ((const struct gdial *)p)->results > 0;
}

static void test_dial_reset(void **state)
{
	struct gdial *d;
	struct agent *ag;
	struct world w;
	size_t n;

	(void)state;
	world_init(&w, 11, CW_GW_RETRY_NEVER, 0);
	ag = connect_up(&w, NULL);
	/* The agent aborts after DialResult{ok} (its local connection was
	 * reset, §13.5): RESET with its code, then GONE. */
	d = dial(&w, PORT_OK, 0);
	assert_true(run_until(&w, has_result, d, 5 * SEC));
	assert_true(d->ok);
	assert_int_equal(cw_conn_stream_reset(ag->c, d->stream, CW_SE_CONNECTION_RESET), 0);
	assert_int_equal(cw_conn_stream_stop(ag->c, d->stream, CW_SE_CONNECTION_RESET), 0);
	ag->dials[0].tx.fin = true;
	agent_pump(ag, sim_now(w.s));
	assert_true(run_until(&w, dial_done, d, 5 * SEC));
	assert_int_equal(d->results, 1);
	assert_int_equal(d->resets, 1);
	assert_int_equal(d->reset_code, CW_SE_CONNECTION_RESET);
	assert_int_equal(d->gone, 1);
	/* The gateway's caller aborts in the middle of a transfer. */
	ag->dial_len = 4u << 20;
	d = dial(&w, PORT_OK, 4u << 20);
	assert_true(run_until(&w, has_result, d, 5 * SEC));
	run_for(&w, 50 * MS);
	assert_true(d->ok);
	assert_false(d->rx.fin);
	assert_int_equal(cw_gw_dial_reset(w.g.gw, d->session_id, d->stream, CW_SE_CANCELLED), 0);
	d->aborted = true;
	assert_int_equal(
	    cw_gw_dial_write(w.g.gw, d->session_id, d->stream, (const uint8_t *)"x", 1, &n),
	    -EPIPE);
	gw_pump(&w.g, sim_now(w.s));
	assert_true(run_until(&w, dial_done, d, 5 * SEC));
	assert_int_equal(d->gone, 1);
	assert_int_equal(d->resets, 0);
	assert_false(ag->dials[1].rx.fin);
	assert_int_equal(stats(&w)->dials, 2);
	assert_int_equal(stats(&w)->dials_failed, 0);
	assert_int_equal(stats(&w)->sessions, 1);
	assert_int_equal(cw_conn_state(ag->c), CW_CONN_ESTABLISHED);
	world_free(&w);
}

/* An INITIAL with @token, padded to 1200 bytes; its payload is never
 * decrypted (the token is checked first). */
static size_t forge_initial(uint8_t *b, const uint8_t *token, size_t token_len)
{
	static const uint8_t dcid[CW_CID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t scid[CW_CID_LEN] = {9, 9, 9, 9, 9, 9, 9, 9};
	struct cw_long_hdr h = {.type = CW_PKT_INITIAL,
				.version = CW_VERSION_1,
				.dcid = dcid,
				.scid = scid,
				.token = token,
				.token_len = token_len,
				.pn = 2,
				.pn_len = 1,
				.payload_len = 1200};
	int n = cw_hdr_encode_long(b, CW_CONN_DGRAM_MAX, &h);

	assert_true(n > 0);
	memset(b + n, 0, 1200);
	return (size_t)n + 1200;
}

static void test_retry(void **state)
{
	static const uint8_t odcid[CW_CID_LEN] = {0xaa, 1, 2, 3, 4, 5, 6, 7};
	uint8_t b[CW_CONN_DGRAM_MAX], token[CW_TOKEN_LEN_MAX];
	struct agent *ag, *raw;
	struct world w;
	int tl;

	(void)state;
	world_init(&w, 6, CW_GW_RETRY_ALWAYS, 0);
	ag = connect_up(&w, NULL);
	assert_int_equal(stats(&w)->retries_sent, 1);
	assert_int_equal(cw_hs_counters(cw_conn_hs(ag->c))->retries, 1);
	assert_int_equal(stats(&w)->hs_full, 1);
	assert_int_equal(stats(&w)->hs_started, 1);
	/* A short datagram for no session: dropped, unanswered. */
	raw = agent_add(&w, NULL);
	memset(b, 0, sizeof(b));
	b[0] = 0xc0;
	sim_send(w.s, raw->id, w.g.id, b, 100);
	run_for(&w, 50 * MS);
	assert_int_equal(stats(&w)->screen_dropped, 1);
	assert_int_equal(raw->rx_count, 0);
	/* An expired token: INVALID_TOKEN in an INITIAL, smaller than the trigger. */
	run_for(&w, 15 * SEC);
	tl = cw_token_mint(&w.tk, 0, CW_TOKEN_IPV4, raw->addr.addr, raw->addr.port, odcid,
			   sizeof(odcid), token, sizeof(token));
	assert_true(tl > 0);
	sim_send(w.s, raw->id, w.g.id, b, forge_initial(b, token, (size_t)tl));
	run_for(&w, 50 * MS);
	assert_int_equal(stats(&w)->invalid_token, 1);
	assert_int_equal(raw->rx_count, 1);
	assert_int_equal(raw->last[0] & 0xf0, 0xc0); /* INITIAL */
	assert_true(raw->last_len < 1200);
	assert_int_equal(stats(&w)->hs_started, 1);
	assert_int_equal(stats(&w)->sessions, 1);
	world_free(&w);
}

static void test_stateless_reset(void **state)
{
	uint8_t b[64], tok[CW_RESET_TOKEN_LEN];
	const struct cw_gw_stats *st;
	struct agent *raw;
	struct world w;

	(void)state;
	world_init(&w, 7, CW_GW_RETRY_NEVER, 0);
	raw = agent_add(&w, NULL);
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)sim_rand(w.s);
	b[0] = 0x41;
	sim_send(w.s, raw->id, w.g.id, b, 60);
	run_for(&w, 50 * MS);
	st = stats(&w);
	assert_int_equal(st->resets_sent, 1);
	assert_int_equal(raw->rx_count, 1);
	assert_int_equal(raw->last_len, 42); /* max(26, min(60 - 1, 42)) */
	assert_int_equal(raw->last[0] & 0xf8, 0x40);
	assert_int_equal(cw_reset_token(w.cfg.reset_key, b + 1, tok), 0);
	assert_memory_equal(raw->last + raw->last_len - CW_RESET_TOKEN_LEN, tok,
			    CW_RESET_TOKEN_LEN);
	/* Too short to be answered by something shorter still. */
	sim_send(w.s, raw->id, w.g.id, b, CW_RESET_TRIGGER_MIN - 1);
	run_for(&w, 50 * MS);
	assert_int_equal(st->resets_sent, 1);
	assert_int_equal(st->screen_dropped, 1);
	/* A burst: the token bucket lets CW_GW_RESET_PER_SEC through. */
	for (int i = 0; i < 150; i++)
		sim_send(w.s, raw->id, w.g.id, b, 60);
	run_for(&w, 50 * MS);
	assert_int_equal(st->resets_sent + st->resets_limited, 151);
	assert_true(st->resets_sent >= CW_GW_RESET_PER_SEC &&
		    st->resets_sent <= CW_GW_RESET_PER_SEC + 2);
	assert_int_equal(raw->rx_count, st->resets_sent);
	/* The bucket refills. */
	run_for(&w, 2 * SEC);
	sim_send(w.s, raw->id, w.g.id, b, 60);
	run_for(&w, 50 * MS);
	assert_int_equal(raw->rx_count, st->resets_sent);
	assert_true(st->resets_sent >= CW_GW_RESET_PER_SEC + 1);
	assert_int_equal(st->sessions, 0);
	world_free(&w);
}

static void test_rebinding(void **state)
{
	static const struct cw_gw_addr moved = {
	    .family = 4, .addr = {203, 0, 113, 9}, .port = 61000};
	struct agent *ag, *old;
	struct gdial *d;
	struct world w;

	(void)state;
	world_init(&w, 8, CW_GW_RETRY_NEVER, 0);
	ag = connect_up(&w, NULL);
	ag->dial_len = 256u << 10;
	d = dial(&w, PORT_OK, 256u << 10);
	run_for(&w, 100 * MS);
	assert_true(d->ok);
	assert_false(d->rx.fin);
	assert_true(ag->dials[0].rx.done < (256u << 10));
	/* A packet from the old path is held back, to arrive late. */
	ag->hold_next = true;
	run_for(&w, 20 * MS);
	assert_true(ag->held_len > 0);
	/* The agent's NAT picks a new address and port; what the gateway
	 * still sends to the old one reaches a bystander there. */
	old = agent_add(&w, NULL);
	old->addr = ag->addr;
	ag->addr = moved;
	assert_true(run_until(&w, dial_done, d, 30 * SEC));
	assert_int_equal(w.g.unroutable, 0);
	/* The late packet authenticates but is not the largest: nothing moves. */
	sim_send(w.s, old->id, w.g.id, ag->held, ag->held_len);
	run_for(&w, 100 * MS);
	assert_int_equal(stats(&w)->decrypt_failed, 0);
	assert_int_equal(d->rx.done, 256u << 10);
	assert_int_equal(d->rx.bad, 0);
	assert_int_equal(ag->dials[0].rx.done, 256u << 10);
	assert_int_equal(ag->dials[0].rx.bad, 0);
	assert_int_equal(stats(&w)->addr_changes, 1);
	assert_int_equal(w.g.addrs, 1);
	assert_memory_equal(&w.g.new_addr, &moved, sizeof(moved));
	assert_int_equal(cw_conn_state(ag->c), CW_CONN_ESTABLISHED);
	assert_int_equal(stats(&w)->sessions, 1);
	world_free(&w);
}

/* §11.5, §17: an on-path attacker rewrites the source of the agent's
 * newest packet to a victim's address, and drops what the agent sends for
 * the next 300 ms. The gateway moves to the victim, but sends it no more
 * than 3 times what it got "from" it (plus the one datagram that may pass
 * the limit), and moves back with the agent's next packet; the transfer is
 * unharmed. */
static void test_rebinding_spoofed(void **state)
{
	struct agent *ag, *victim;
	struct gdial *d;
	struct world w;

	(void)state;
	world_init(&w, 14, CW_GW_RETRY_NEVER, 0);
	ag = connect_up(&w, NULL);
	d = dial(&w, PORT_OK, 4u << 20);
	run_for(&w, 60 * MS); /* in slow start: the gateway has plenty to send */
	assert_true(d->ok);
	victim = agent_add(&w, NULL);
	ag->spoof_via = victim->id;
	ag->hold_next = true;
	assert_true(run_until(&w, dial_done, d, 30 * SEC));
	assert_true(ag->held_len > 0);
	assert_int_equal(ag->dials[0].rx.done, 4u << 20);
	assert_int_equal(ag->dials[0].rx.bad, 0);
	assert_int_equal(stats(&w)->addr_changes, 2); /* to the victim and back */
	assert_memory_equal(&w.g.new_addr, &ag->addr, sizeof(ag->addr));
	assert_true(victim->rx_bytes > 0);
	assert_true(victim->rx_bytes <= 3 * ag->held_len + CW_CONN_DGRAM_MAX);
	assert_true(stats(&w)->amp_limited > 0);
	world_free(&w);
}

static bool downs2(const void *p)
{
	return ((const struct gwep *)p)->downs >= 2;
}

static void test_session_down(void **state)
{
	Causeway__V1__Close cl = CAUSEWAY__V1__CLOSE__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	struct agent *a1, *a2;
	struct world w;
	uint64_t sid1;
	uint32_t slot;

	size_t mem0;

	(void)state;
	world_init(&w, 9, CW_GW_RETRY_NEVER, 10 * SEC);
	mem0 = w.g.mem.bytes;
	a1 = connect_up(&w, NULL);
	sid1 = w.g.up.session_id;
	slot = w.g.up.slot;
	assert_true(w.g.mem.bytes > mem0);
	/* The agent closes (Close, then CONNECTION_CLOSE): draining, then the
	 * session is freed and reported. */
	cl.code = CW_AE_SHUTDOWN;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_CLOSE;
	env.close = &cl;
	agent_write_msg(a1, 0, &env);
	agent_pump(a1, sim_now(w.s));
	cw_conn_close(a1->c, sim_now(w.s), CW_AE_SHUTDOWN, "bye");
	agent_pump(a1, sim_now(w.s));
	run_for(&w, 3 * SEC);
	assert_int_equal(w.g.downs, 1);
	assert_int_equal(w.g.down_sid, sid1);
	assert_int_equal(w.g.down_end, CW_CONN_END_PEER);
	assert_int_equal(w.g.down_code, CW_AE_SHUTDOWN);
	assert_int_equal(stats(&w)->agent_closes, 1);
	assert_int_equal(stats(&w)->sessions, 0);
	assert_int_equal(w.g.mem.bytes, mem0); /* no session: as new, slots given back */
	assert_int_equal(cw_gw_close_session(w.g.gw, sim_now(w.s), sid1, CW_AE_SHUTDOWN, ""),
			 -ENOENT);
	/* The slot is free again; the new session is another one. */
	a2 = connect_up(&w, NULL);
	assert_int_equal(w.g.up.slot, slot);
	assert_true(w.g.up.session_id != sid1);
	/* The agent goes silent: idle timeout (10 s). */
	agent_free(a2);
	assert_true(run_until(&w, downs2, &w.g, 12 * SEC));
	assert_int_equal(w.g.down_end, CW_CONN_END_IDLE);
	assert_int_equal(w.g.down_code, -1);
	assert_int_equal(stats(&w)->sessions, 0);
	assert_int_equal(cw_gw_next_timeout(w.g.gw), UINT64_MAX);
	/* A live session is freed with the gateway (world_free checks memory). */
	connect_up(&w, NULL);
	assert_int_equal(stats(&w)->sessions, 1);
	world_free(&w);
}

static bool heartbeat_in(const void *p)
{
	return cw_gw_stats(p)->heartbeats > 0;
}

static void test_corrupt(void **state)
{
	struct agent *ag;
	struct world w;

	(void)state;
	world_init(&w, 10, CW_GW_RETRY_NEVER, 0);
	ag = connect_up(&w, NULL);
	run_for(&w, 200 * MS);
	assert_int_equal(stats(&w)->decrypt_failed, 0);
	ag->corrupt_next = true;
	send_heartbeat(ag, 1);
	agent_pump(ag, sim_now(w.s));
	assert_false(ag->corrupt_next);
	assert_true(run_until(&w, heartbeat_in, w.g.gw, 5 * SEC));
	assert_int_equal(stats(&w)->decrypt_failed, 1);
	assert_int_equal(stats(&w)->sessions, 1);
	assert_int_equal(w.g.downs, 0);
	assert_int_equal(cw_conn_state(ag->c), CW_CONN_ESTABLISHED);
	world_free(&w);
}

/* §15.2: another version gets our list; version 0 and short datagrams get
 * nothing. */
static void test_version_negotiation(void **state)
{
	static const uint8_t want[] = {0xc0, 0, 0,   0,	  0,   5,    's',  'c',	 'i', 'd',
				       '!',  3, 'd', 'c', 'i', 0x43, 0x57, 0x00, 0x01};
	uint8_t b[1300];
	struct agent *raw;
	struct world w;

	(void)state;
	world_init(&w, 24, CW_GW_RETRY_NEVER, 0);
	raw = agent_add(&w, NULL);
	memset(b, 0, sizeof(b));
	memcpy(b,
	       "\xc0\x1a\x2a\x3a\x4a\x03"
	       "dci"
	       "\x05"
	       "scid!",
	       15);
	sim_send(w.s, raw->id, w.g.id, b, 1200);
	run_for(&w, 50 * MS);
	assert_int_equal(stats(&w)->vn_sent, 1);
	assert_int_equal(raw->rx_count, 1);
	assert_int_equal(raw->last_len, sizeof(want));
	assert_memory_equal(raw->last, want, sizeof(want));
	/* Too small to be a first flight, or version 0: no answer. */
	sim_send(w.s, raw->id, w.g.id, b, 1199);
	memset(b + 1, 0, 4);
	sim_send(w.s, raw->id, w.g.id, b, 1200);
	run_for(&w, 50 * MS);
	assert_int_equal(stats(&w)->vn_sent, 1);
	assert_int_equal(raw->rx_count, 1);
	assert_int_equal(stats(&w)->sessions, 0);
	world_free(&w);
}

/* ---- security: each attack rejected and counted ---- */

static bool closed_by_peer(const void *p)
{
	return ((const struct agent *)p)->c &&
	       cw_conn_state(((const struct agent *)p)->c) >= CW_CONN_DRAINING;
}

/* An agent certificate from another CA, and an expired one: the handshake
 * fails with the TLS alert, hs_failed counts it, no session comes up and
 * the gateway keeps nothing. */
static void test_bad_certificates(void **state)
{
	const struct tu_ident *bad[] = {&fx.foreign, &fx.expired};
	const uint8_t alerts[] = {CW_TLS_ALERT_UNKNOWN_CA, CW_TLS_ALERT_CERTIFICATE_EXPIRED};
	struct world w;

	(void)state;
	world_init(&w, 21, CW_GW_RETRY_NEVER, 0);
	for (size_t i = 0; i < 2; i++) {
		struct cw_tls_client_cfg ccfg = {.cert = tu_pem_ref(&bad[i]->cert),
						 .key = tu_pem_ref(&bad[i]->key),
						 .gateway_ca = tu_pem_ref(&fx.ca.pem),
						 .gateway_name = GW_NAME};
		struct cw_tls_client_ctx *good = w.cc;
		struct agent *ag;

		assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &w.cc), 0);
		ag = agent_add(&w, NULL);
		agent_connect(ag, NULL, 0);
		assert_true(run_until(&w, closed_by_peer, ag, 5 * SEC));
		assert_int_equal(cw_conn_close_code(ag->c, false), CW_TLS_CRYPTO_ERROR(alerts[i]));
		cw_tls_client_ctx_free(w.cc);
		w.cc = good;
		assert_int_equal(stats(&w)->hs_failed, i + 1);
	}
	run_for(&w, 5 * SEC);
	assert_int_equal(w.g.ups, 0);
	assert_int_equal(stats(&w)->hs_full + stats(&w)->hs_resumed, 0);
	assert_int_equal(stats(&w)->sessions, 0);
	world_free(&w);
}

/* An agent's first datagram: a genuine INITIAL with a fresh DCID. */
static size_t real_initial(struct world *w, uint8_t *b)
{
	struct cw_hs_agent_cfg hc = {.tls = w->cc, .wall_time = T0};
	struct cw_conn *c;
	uint64_t r1 = sim_rand(w->s), r2 = sim_rand(w->s);
	int n;

	memcpy(hc.cid, &r1, sizeof(r1));
	memcpy(hc.odcid, &r2, sizeof(r2));
	assert_int_equal(cw_conn_agent_new(&w->ccfg, &hc, sim_now(w->s), &c), 0);
	n = cw_conn_send(c, sim_now(w->s), b, CW_CONN_DGRAM_MAX);
	assert_true(n >= 1200);
	cw_conn_free(c);
	return (size_t)n;
}

/* @n INITIALs (@real: genuine ones, else forged) from as many spoofed
 * sources, straight into the gateway; its answers are taken and counted. */
static unsigned flood(struct world *w, unsigned n, bool real)
{
	uint8_t b[CW_CONN_DGRAM_MAX], out[CW_CONN_DGRAM_MAX];
	struct cw_gw_addr from = {.family = 4, .addr = {203, 0, 113, 0}}, to;
	unsigned answers = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t len = real ? real_initial(w, b) : forge_initial(b, NULL, 0);

		from.addr[2] = (uint8_t)(i >> 8);
		from.addr[3] = (uint8_t)i;
		from.port = (uint16_t)(1024 + i);
		assert_int_equal(cw_gw_input(w->g.gw, sim_now(w->s), &from, b, len), 0);
		while (cw_gw_output(w->g.gw, sim_now(w->s), out, sizeof(out), &to) > 0)
			answers++;
	}
	return answers;
}

/* A spoofed-source handshake flood: with retry always, every INITIAL gets
 * a RETRY and the gateway allocates nothing at all; under load, at most
 * retry_load sessions are ever held, whatever the flood's size, and they
 * go away on their own. */
static void test_flood(void **state)
{
	struct world w;
	size_t blocks, bytes;

	(void)state;
	world_init(&w, 22, CW_GW_RETRY_ALWAYS, 0);
	blocks = w.g.mem.blocks;
	bytes = w.g.mem.bytes;
	assert_int_equal(flood(&w, 5000, false), 5000);
	assert_int_equal(flood(&w, 100, true), 100);
	assert_int_equal(stats(&w)->retries_sent, 5100);
	assert_int_equal(stats(&w)->hs_started, 0);
	assert_int_equal(stats(&w)->sessions, 0);
	assert_int_equal(w.g.mem.blocks, blocks);
	assert_int_equal(w.g.mem.bytes, bytes);
	world_free(&w);

	world_init(&w, 23, CW_GW_RETRY_UNDER_LOAD, 0);
	cw_gw_free(w.g.gw);
	w.cfg.retry_load = 2;
	w.cfg.max_sessions = 64;
	assert_int_equal(cw_gw_new(&w.cfg, &w.g.gw), 0);
	cw_gw_set_wall_time(w.g.gw, T0);
	flood(&w, 200, true);
	/* RETRY once more than retry_load are in progress: the third is the last. */
	assert_int_equal(stats(&w)->hs_started, 3);
	assert_int_equal(stats(&w)->retries_sent, 197);
	assert_int_equal(stats(&w)->sessions, 3);
	/* The half-open sessions end on their own (§7.6), memory returns. */
	run_for(&w, 12 * SEC);
	cw_gw_on_timeout(w.g.gw, sim_now(w.s));
	assert_int_equal(stats(&w)->sessions, 0);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_api_routes),
	    cmocka_unit_test(test_api_forward),
	    cmocka_unit_test(test_other_worker),
	    cmocka_unit_test(test_initial_again),
	    cmocka_unit_test(test_under_load),
	    cmocka_unit_test(test_resumed),
	    cmocka_unit_test(test_shutdown),
	    cmocka_unit_test(test_desk_full),
	    cmocka_unit_test(test_name_mismatch),
	    cmocka_unit_test(test_hello_timeout),
	    cmocka_unit_test(test_control_stream_error),
	    cmocka_unit_test(test_dial),
	    cmocka_unit_test(test_dial_reset),
	    cmocka_unit_test(test_retry),
	    cmocka_unit_test(test_stateless_reset),
	    cmocka_unit_test(test_rebinding),
	    cmocka_unit_test(test_rebinding_spoofed),
	    cmocka_unit_test(test_session_down),
	    cmocka_unit_test(test_corrupt),
	    cmocka_unit_test(test_version_negotiation),
	    cmocka_unit_test(test_bad_certificates),
	    cmocka_unit_test(test_flood),
	};

	int rc = cmocka_run_group_tests_name("local handshakes", tests, setup_pki, teardown_pki);

	offload = true;
	return rc |
	       cmocka_run_group_tests_name("handshakes on a desk", tests, setup_pki, teardown_pki);
}
