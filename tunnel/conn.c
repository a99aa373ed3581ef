/* SPDX-License-Identifier: Apache-2.0 */
#include "conn.h"

#include <errno.h>
#include <string.h>

#include "ackranges.h"
#include "cc.h"
#include "frame.h"
#include "header.h"
#include "pacer.h"
#include "protect.h"
#include "recovery.h"

#define NEVER	       UINT64_MAX
#define MS	       UINT64_C(1000000)
#define TAG_LEN	       16
#define SHORT_HDR_MAX  (1 + CW_CID_LEN + 4)
#define STREAM_HDR_MAX (1 + 8 + 8 + 2) /* type, id, offset, 2-byte length */
#define CTRL_FRAME_MAX (1 + 8 + 8 + 8) /* RESET_STREAM at its largest */
#define SMALLEST_DATA  32	       /* less room than this is not worth a STREAM frame */
#define ACK_ONLY       UINT64_C(1)     /* cookie tag: no record, the ACK's largest in bits 1.. */

/* A stream frame as remembered for recovery; the data stays in sendbuf. */
struct frec {
	uint8_t type;
	bool fin;
	uint32_t len;
	uint64_t stream_id, a, b; /* STREAM: offset; RESET: code, final size;
				   * STOP: code; MAX_* / *_BLOCKED: value */
};

/* What one sent packet carried. */
struct prec {
	struct prec *next; /* free list */
	uint64_t ack_largest;
	uint8_t n;
	bool has_ack, hs_done;
	struct frec f[CW_CONN_PKT_FRAMES];
};

/* Ordered by size, so without holes: every established session holds
 * one, so its bytes count (perf/RESULTS.md, idle memory). What only a
 * closing session needs is allocated when it closes. */
struct cw_conn {
	struct cw_alloc a;
	struct cw_hs *hs;   /* NULL once released (gateway, after confirmation) */
	char *node_name;    /* gateway: the agent's, once established; else NULL */
	uint8_t *close_pkt; /* sealed when closing (§11.3), close_len bytes */
	struct prec *pool;
	struct cw_protect_short ps;
	struct cw_recovery rec;
	struct cw_pacer pacer;
	struct cw_streams st;
	struct cw_ackset acks; /* acknowledging (§10.1) */
	struct cw_conn_stats stats;
	uint64_t next_pn;
	uint64_t largest_rx, largest_rx_time;
	uint64_t ack_deadline;

	/* Timers. */
	uint64_t idle_local, idle_peer, idle_start;
	uint64_t last_ae_sent, keepalive_ivl, keepalive_max, rng;
	uint64_t auth_limit; /* §6.7; from the config, else set with the keys */
	uint64_t pace_wake;
	uint64_t close_end;

	/* Key update (§6.6). */
	uint64_t ku_pkts, ku_seen, phase_first_pn, phase_start, prev_discard_at;

	/* Closing (§11.3). */
	int64_t code_ours, code_peer;
	uint64_t close_rx, close_next_at; /* datagrams received while closing */
	uint32_t close_len;

	uint32_t pool_n;
	uint32_t ae_since_ack;
	uint32_t non_ae_run; /* consecutive non-ack-eliciting packets sent */
	int err;	     /* a failure inside a recovery callback */
	enum cw_conn_state state;
	enum cw_conn_end end;
	uint8_t local_cid[CW_CID_LEN], peer_cid[CW_CID_LEN];
	uint8_t in_order_run; /* ack-eliciting packets in order since a gap, up to
			       * CW_CONN_ACK_RUN + 1 (§10.1) */
	bool gateway;
	bool keys, confirmed, hs_done_pending;
	bool rx_largest; /* the last cw_conn_recv() authenticated a new largest */
	bool ack_pending, ack_now;
	bool ae_sent_since_rx;
	bool ping_pending;
	bool close_due;
};

static uint64_t min2(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

_Static_assert(CW_CONN_ACK_RUN < UINT8_MAX, "in_order_run counts to CW_CONN_ACK_RUN + 1");

/* ---- packet records ---- */

static struct prec *prec_get(struct cw_conn *c)
{
	struct prec *p = c->pool;

	if (p) {
		c->pool = p->next;
		c->pool_n--;
	} else {
		p = c->a.alloc(c->a.ctx, sizeof(*p));
		if (!p)
			return NULL;
	}
	memset(p, 0, sizeof(*p));
	return p;
}

static void prec_trim(struct cw_conn *c, uint32_t keep)
{
	struct prec *p;

	while (c->pool_n > keep) {
		p = c->pool;
		c->pool = p->next;
		c->pool_n--;
		c->a.free(c->a.ctx, p, sizeof(*p));
	}
}

/* Spare records are kept while the streams have more to send, or for the
 * packets still in flight, so an idle session holds none; a transfer whose
 * ACKs empty the flight for a moment keeps them. */
static void prec_put(struct cw_conn *c, struct prec *p)
{
	uint32_t keep = c->rec.sp[CW_PNS_APP].ack_eliciting_in_flight;

	if (keep > CW_CONN_POOL_CACHE || cw_streams_want_send(&c->st))
		keep = CW_CONN_POOL_CACHE;
	p->next = c->pool;
	c->pool = p;
	c->pool_n++;
	prec_trim(c, keep);
}

static void frec_from(struct frec *r, const struct cw_stream_frame *f)
{
	r->type = f->type;
	r->fin = f->fin;
	r->stream_id = f->stream_id;
	r->len = (uint32_t)f->len;
	r->a = f->type == CW_SFRAME_STREAM ? f->offset
	       : (f->type == CW_SFRAME_RESET_STREAM || f->type == CW_SFRAME_STOP_SENDING)
		   ? f->code
		   : f->value;
	r->b = f->final_size;
}

static void frec_to(const struct frec *r, struct cw_stream_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->type = r->type;
	f->fin = r->fin;
	f->stream_id = r->stream_id;
	f->len = r->len;
	f->final_size = r->b;
	if (r->type == CW_SFRAME_STREAM)
		f->offset = r->a;
	else if (r->type == CW_SFRAME_RESET_STREAM || r->type == CW_SFRAME_STOP_SENDING)
		f->code = r->a;
	else
		f->value = r->a;
}

/* ---- closing ---- */

static void set_closed(struct cw_conn *c, enum cw_conn_end why)
{
	c->state = CW_CONN_CLOSED;
	if (c->end == CW_CONN_END_NONE)
		c->end = why;
}

static uint64_t three_pto(const struct cw_conn *c)
{
	return 3 * cw_recovery_pto_period(&c->rec);
}

/* Seal the close packet once; closing resends these bytes (§11.3), kept
 * in a block of their size. */
static int build_close(struct cw_conn *c, uint64_t code, uint64_t ftype, const char *reason)
{
	uint8_t frames[CW_CONN_CLOSE_PKT_MAX], pkt[CW_CONN_CLOSE_PKT_MAX];
	size_t rlen = reason ? strnlen(reason, CW_CLOSE_REASON_MAX) : 0;
	int n, len;

	n = cw_frame_encode_connection_close(frames, sizeof(frames), code, ftype,
					     (const uint8_t *)reason, rlen);
	if (n < 0)
		return n;
	len = cw_protect_short_seal(&c->ps, pkt, sizeof(pkt), c->peer_cid, c->next_pn,
				    cw_recovery_largest_acked(&c->rec, CW_PNS_APP), frames,
				    (size_t)n);
	if (len < 0)
		return len;
	c->next_pn++;
	c->close_pkt = c->a.alloc(c->a.ctx, (size_t)len);
	if (!c->close_pkt)
		return -ENOMEM;
	memcpy(c->close_pkt, pkt, (size_t)len);
	c->close_len = (uint32_t)len;
	return 0;
}

static void close_with(struct cw_conn *c, uint64_t now, uint64_t code, uint64_t ftype,
		       const char *reason)
{
	if (c->state >= CW_CONN_CLOSING)
		return;
	c->code_ours = (int64_t)code;
	c->end = CW_CONN_END_LOCAL;
	if (!c->keys) {
		cw_hs_close(c->hs, code < CW_APP_ERROR_MIN ? code : CW_TE_CONNECTION_REFUSED, now);
		c->state = CW_CONN_CLOSING;
		return;
	}
	/* The peer may still lack 1-RTT keys: tell it in long headers too,
	 * unless a 1-RTT packet from it showed that it has them (the long
	 * header could only say CONNECTION_REFUSED for an application code). */
	if (c->hs && !c->confirmed && c->largest_rx == CW_PN_NONE)
		cw_hs_close(c->hs, code < CW_APP_ERROR_MIN ? code : CW_TE_CONNECTION_REFUSED, now);
	c->state = CW_CONN_CLOSING;
	c->close_end = now + three_pto(c);
	c->close_rx = 0;
	c->close_next_at = 1;
	c->close_due = build_close(c, code, ftype, reason) == 0;
}

void cw_conn_close(struct cw_conn *c, uint64_t now, uint64_t code, const char *reason)
{
	if (c)
		close_with(c, now, code, 0, reason);
}

/* ---- recovery callback ---- */

static void on_packet(void *ctx, enum cw_pn_space space, enum cw_recovery_event ev,
		      const struct cw_sent_pkt *pkt)
{
	struct cw_conn *c = ctx;
	struct prec *p = (struct prec *)(uintptr_t)pkt->cookie;
	struct cw_stream_frame f;
	int r = 0;

	(void)space;
	if (pkt->cookie & ACK_ONLY) {
		if (ev == CW_RECOVERY_ACKED)
			cw_ackset_forget_below(&c->acks, pkt->cookie >> 1);
		c->stats.lost += ev == CW_RECOVERY_LOST;
		return;
	}
	if (!p)
		return;
	for (uint8_t i = 0; i < p->n && ev != CW_RECOVERY_DISCARDED; i++) {
		frec_to(&p->f[i], &f);
		if (ev == CW_RECOVERY_ACKED) {
			r = cw_streams_on_acked(&c->st, &f);
		} else {
			if (f.type == CW_SFRAME_STREAM)
				c->stats.retransmits++;
			r = cw_streams_on_lost(&c->st, &f);
		}
		if (r < 0)
			c->err = r;
	}
	if (ev == CW_RECOVERY_ACKED && p->has_ack)
		cw_ackset_forget_below(&c->acks, p->ack_largest);
	if (ev == CW_RECOVERY_LOST) {
		c->stats.lost++;
		if (p->hs_done)
			c->hs_done_pending = true;
	}
	prec_put(c, p);
}

/* ---- handshake hand-off ---- */

static uint64_t idle_timeout(const struct cw_conn *c)
{
	uint64_t t = c->idle_local < c->idle_peer ? c->idle_local : c->idle_peer;
	uint64_t floor = three_pto(c);

	return t > floor ? t : floor;
}

static uint64_t rng_next(struct cw_conn *c)
{
	/* xorshift64*: per session, seeded by the caller, so runs repeat. */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * UINT64_C(2685821657736338717);
}

/* §11.1: K = min(25 s or as configured, idle / 3), drawn from [0.9 K, K]. */
static void draw_keepalive(struct cw_conn *c)
{
	uint64_t k = idle_timeout(c) / 3;

	if (k > c->keepalive_max)
		k = c->keepalive_max;
	c->keepalive_ivl = k - (k / 10 ? rng_next(c) % (k / 10 + 1) : 0);
}

static int start_app_space(struct cw_conn *c, uint64_t now)
{
	struct cw_hs_result r;
	const uint8_t *tx, *rx;
	int e;

	e = cw_hs_result(c->hs, &r);
	if (e < 0)
		return e;
	tx = c->gateway ? r.server_secret : r.client_secret;
	rx = c->gateway ? r.client_secret : r.server_secret;
	e = cw_protect_short_init(&c->ps, r.alg, tx, rx, &c->a);
	if (!c->auth_limit)
		c->auth_limit = r.alg == CW_AEAD_CHACHA20_POLY1305 ? CW_CONN_AUTH_LIMIT_CHACHA
								   : CW_CONN_AUTH_LIMIT_AES;
	memset(&r.client_secret, 0, sizeof(r.client_secret));
	memset(&r.server_secret, 0, sizeof(r.server_secret));
	if (e < 0)
		return e;
	memcpy(c->local_cid, r.local_cid, CW_CID_LEN);
	memcpy(c->peer_cid, r.peer_cid, CW_CID_LEN);
	if (c->gateway && r.node_name) {
		size_t n = strnlen(r.node_name, CW_TLS_NODE_NAME_MAX);

		c->node_name = c->a.alloc(c->a.ctx, n + 1);
		if (!c->node_name) {
			cw_protect_short_free(&c->ps);
			return -ENOMEM;
		}
		memcpy(c->node_name, r.node_name, n);
		c->node_name[n] = '\0';
	}
	c->rec.rtt = cw_hs_recovery(c->hs)->rtt;
	c->rec.first_sample_time = now;
	cw_recovery_set_handshake_complete(&c->rec, now);
	cw_pacer_init(&c->pacer, now);
	c->keys = true;
	c->state = CW_CONN_ESTABLISHED;
	c->phase_start = now;
	c->last_ae_sent = now;
	draw_keepalive(c);
	return 0;
}

static void confirm(struct cw_conn *c, uint64_t now)
{
	c->confirmed = true;
	cw_recovery_set_handshake_confirmed(&c->rec, now);
	if (c->gateway) {
		cw_hs_free(c->hs);
		c->hs = NULL;
	}
}

/* Follow the handshake: keys when complete, its close or failure. */
static void hs_sync(struct cw_conn *c, uint64_t now)
{
	enum cw_hs_state s;

	/* Once this object runs its own closing period, the handshake's
	 * state no longer decides the session's. */
	if (!c->hs || c->confirmed || c->close_end != NEVER)
		return;
	s = cw_hs_state(c->hs);
	if (s == CW_HS_COMPLETE || s == CW_HS_CONFIRMED) {
		if (!c->keys && start_app_space(c, now) < 0)
			close_with(c, now, CW_TE_INTERNAL_ERROR, 0, NULL);
		if (s == CW_HS_CONFIRMED && c->keys)
			confirm(c, now);
		return;
	}
	if (s == CW_HS_HANDSHAKING)
		return;
	if (cw_hs_close_code(c->hs, true) >= 0)
		c->code_ours = cw_hs_close_code(c->hs, true);
	if (cw_hs_close_code(c->hs, false) >= 0)
		c->code_peer = cw_hs_close_code(c->hs, false);
	if (c->end == CW_CONN_END_NONE)
		c->end = s == CW_HS_DRAINING ? CW_CONN_END_PEER : CW_CONN_END_HANDSHAKE;
	if (s == CW_HS_CLOSING)
		c->state = CW_CONN_CLOSING;
	else if (s == CW_HS_DRAINING)
		c->state = CW_CONN_DRAINING;
	else
		set_closed(c, CW_CONN_END_HANDSHAKE);
}

/* ---- construction ---- */

static int conn_new(const struct cw_conn_cfg *cfg, bool gateway, struct cw_conn **out)
{
	const struct cw_alloc *a = cfg->alloc ? cfg->alloc : cw_alloc_default();
	struct cw_streams_config sc;
	struct cw_recovery_cb cb;
	struct cw_conn *c;

	if (cfg->idle_timeout_ns && cfg->idle_timeout_ns < CW_CONN_IDLE_FLOOR)
		return -EINVAL;
	c = a->alloc(a->ctx, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->a = *a;
	c->gateway = gateway;
	if (cfg->streams)
		sc = *cfg->streams;
	else
		cw_streams_config_default(&sc, gateway);
	if (cw_streams_init(&c->st, &sc, gateway, &c->a) < 0) {
		a->free(a->ctx, c, sizeof(*c));
		return -EINVAL;
	}
	cb = (struct cw_recovery_cb){on_packet, c};
	/* The handshake runs the agent's anti-deadlock timer; this recovery
	 * sees only the Application space. */
	cw_recovery_init(&c->rec, false, 0, &c->a, &cb);
	cw_recovery_discard_space(&c->rec, CW_PNS_INITIAL, 0);
	cw_recovery_discard_space(&c->rec, CW_PNS_HANDSHAKE, 0);
	cw_ackset_init(&c->acks);
	c->largest_rx = CW_PN_NONE;
	c->ack_deadline = NEVER;
	c->idle_local = cfg->idle_timeout_ns ? cfg->idle_timeout_ns : CW_CONN_IDLE_DEFAULT;
	c->idle_peer = CW_CONN_IDLE_DEFAULT;
	c->rng = cfg->seed | 1;
	c->pace_wake = NEVER;
	c->close_end = NEVER;
	c->prev_discard_at = NEVER;
	c->ku_pkts = cfg->key_update_pkts ? cfg->key_update_pkts : CW_CONN_KEY_UPDATE_PKTS;
	c->auth_limit = cfg->auth_fail_limit;
	c->keepalive_max = cfg->keepalive_ns && cfg->keepalive_ns < CW_CONN_KEEPALIVE_MAX
			       ? cfg->keepalive_ns
			       : CW_CONN_KEEPALIVE_MAX;
	c->code_ours = c->code_peer = -1;
	*out = c;
	return 0;
}

int cw_conn_agent_new(const struct cw_conn_cfg *cfg, const struct cw_hs_agent_cfg *hs, uint64_t now,
		      struct cw_conn **out)
{
	struct cw_hs_agent_cfg h;
	struct cw_conn *c;
	int e;

	if (!cfg || !hs || !out)
		return -EINVAL;
	e = conn_new(cfg, false, &c);
	if (e < 0)
		return e;
	h = *hs;
	h.alloc = &c->a;
	e = cw_hs_agent_new(&h, now, &c->hs);
	if (e < 0) {
		cw_conn_free(c);
		return e;
	}
	c->idle_start = now;
	*out = c;
	return 0;
}

int cw_conn_gateway_new(const struct cw_conn_cfg *cfg, const struct cw_hs_gateway_cfg *hs,
			const struct cw_hs_screen *scr, uint8_t *dgram, size_t len, uint64_t now,
			struct cw_conn **out)
{
	struct cw_hs_gateway_cfg h;
	struct cw_conn *c;
	int e;

	if (!cfg || !hs || !scr || !dgram || !out)
		return -EINVAL;
	e = conn_new(cfg, true, &c);
	if (e < 0)
		return e;
	h = *hs;
	h.alloc = &c->a;
	e = cw_hs_gateway_new(&h, scr, dgram, len, now, &c->hs);
	if (e < 0) {
		cw_conn_free(c);
		return e;
	}
	c->idle_start = now;
	c->stats.dgrams_in++;
	hs_sync(c, now);
	*out = c;
	return 0;
}

void cw_conn_set_alloc(struct cw_conn *c, const struct cw_alloc *a)
{
	c->a = *a;
	cw_recovery_set_alloc(&c->rec, a);
	if (c->hs)
		cw_hs_set_alloc(c->hs, a);
}

void cw_conn_free(struct cw_conn *c)
{
	if (!c)
		return;
	/* Discarding hands every outstanding record back through on_packet. */
	cw_recovery_discard_space(&c->rec, CW_PNS_APP, 0);
	cw_recovery_free(&c->rec);
	prec_trim(c, 0);
	cw_streams_free(&c->st);
	cw_hs_free(c->hs);
	if (c->keys)
		cw_protect_short_free(&c->ps);
	if (c->node_name)
		c->a.free(c->a.ctx, c->node_name, strlen(c->node_name) + 1);
	if (c->close_pkt)
		c->a.free(c->a.ctx, c->close_pkt, c->close_len);
	c->a.free(c->a.ctx, c, sizeof(*c));
}

/* ---- receiving ---- */

static uint64_t stream_frame_of(const struct cw_frame *f, struct cw_stream_frame *s)
{
	memset(s, 0, sizeof(*s));
	s->type = (uint8_t)f->type;
	switch (f->type) {
	case CW_FRAME_STREAM:
		s->stream_id = f->stream.stream_id;
		s->offset = f->stream.offset;
		s->data = f->stream.data;
		s->len = f->stream.len;
		s->fin = f->stream.fin;
		break;
	case CW_FRAME_RESET_STREAM:
		s->stream_id = f->reset_stream.stream_id;
		s->code = f->reset_stream.error_code;
		s->final_size = f->reset_stream.final_size;
		break;
	case CW_FRAME_STOP_SENDING:
		s->stream_id = f->stop_sending.stream_id;
		s->code = f->stop_sending.error_code;
		break;
	case CW_FRAME_MAX_DATA:
	case CW_FRAME_MAX_STREAMS:
	case CW_FRAME_DATA_BLOCKED:
		s->value = f->max_data.max;
		break;
	case CW_FRAME_MAX_STREAM_DATA:
	case CW_FRAME_STREAM_DATA_BLOCKED:
		s->stream_id = f->max_stream_data.stream_id;
		s->value = f->max_stream_data.max;
		break;
	default:
		return 1;
	}
	return 0;
}

/* One frame; returns 0, or a transport error code (> 0) to close with,
 * or -1 when the packet ended the session (CONNECTION_CLOSE). */
static int64_t on_frame(struct cw_conn *c, uint64_t now, const struct cw_frame *f)
{
	struct cw_stream_frame s;
	int e;

	switch (f->type) {
	case CW_FRAME_PADDING:
	case CW_FRAME_PING:
		return 0;
	case CW_FRAME_ACK:
		e = cw_recovery_on_ack(&c->rec, CW_PNS_APP, now, &f->ack);
		return e == -EPROTO ? CW_TE_PROTOCOL_VIOLATION : e < 0 ? CW_TE_INTERNAL_ERROR : 0;
	case CW_FRAME_HANDSHAKE_DONE:
		if (c->gateway)
			return CW_TE_PROTOCOL_VIOLATION;
		if (c->confirmed)
			return 0;
		if (cw_hs_done_received(c->hs, now) < 0)
			return CW_TE_PROTOCOL_VIOLATION;
		confirm(c, now);
		return 0;
	case CW_FRAME_CONNECTION_CLOSE:
		c->code_peer = (int64_t)f->close.error_code;
		c->end = CW_CONN_END_PEER;
		c->state = CW_CONN_DRAINING;
		c->close_end = now + three_pto(c);
		return -1;
	default:
		if (stream_frame_of(f, &s))
			return CW_TE_PROTOCOL_VIOLATION;
		e = cw_streams_on_frame(&c->st, &s);
		if (e == -EPROTO)
			return (int64_t)cw_streams_error(&c->st);
		return e < 0 ? CW_TE_INTERNAL_ERROR : 0;
	}
}

/* A key phase began (ours or the peer's): count from here, and keep the
 * previous receive keys for 3 PTO (§6.6). */
static void new_phase(struct cw_conn *c, uint64_t now)
{
	c->ku_seen = c->ps.keys.updates;
	c->phase_first_pn = c->next_pn;
	c->phase_start = now;
	c->prev_discard_at = now + three_pto(c);
}

/* §6.6: update before 2^23 packets or 1 hour under the current keys, once
 * confirmed and once the peer acknowledged a packet of this phase. */
static int maybe_key_update(struct cw_conn *c, uint64_t now)
{
	uint64_t la = cw_recovery_largest_acked(&c->rec, CW_PNS_APP);
	int e;

	if (!c->confirmed || la == CW_PN_NONE || la < c->phase_first_pn ||
	    (c->next_pn - c->phase_first_pn < c->ku_pkts &&
	     now - c->phase_start < CW_CONN_KEY_UPDATE_NS))
		return 0;
	e = cw_protect_short_update(&c->ps);
	if (e < 0)
		return e;
	c->stats.key_updates++;
	new_phase(c, now);
	return 0;
}

/* An idle session keeps no sent-packet ring (512 bytes): it is freed once
 * nothing is outstanding and nothing waits to be sent, and allocated again
 * by the next packet. A transfer keeps it, as it sends before it empties. */
static void trim_if_idle(struct cw_conn *c)
{
	const struct cw_recovery_space *sp = &c->rec.sp[CW_PNS_APP];

	if (sp->ring && !sp->count && !cw_streams_want_send(&c->st))
		cw_recovery_trim(&c->rec);
}

/* No ack-eliciting packet outstanding, nothing due or waiting to be
 * sent, and no previous keys: how an idle session rests between
 * keepalives. ACK-only packets may stay outstanding: the peer
 * acknowledges them only with its next ACK, which a keepalive-only
 * session sends when the gateway's PING of §10.1 asks for one. */
static bool quiet(const struct cw_conn *c)
{
	return c->state == CW_CONN_ESTABLISHED && c->confirmed &&
	       !c->rec.sp[CW_PNS_APP].ack_eliciting_in_flight && !c->ack_pending &&
	       !c->hs_done_pending && !c->ping_pending && !c->ps.keys.has_prev &&
	       !cw_streams_want_send(&c->st);
}

/* A quiet session with no packet for CW_CONN_COLD_NS gives its cipher
 * contexts back (~2 KiB in OpenSSL); the next packet makes them again. */
static uint64_t cold_at(const struct cw_conn *c)
{
	if (!cw_keyset_awake(&c->ps.keys) || !quiet(c))
		return NEVER;
	return c->idle_start + CW_CONN_COLD_NS;
}

/* Give back what a quiet session can make again: the cipher contexts, the
 * receive chunks drained streams keep, spare packet records, and the ring
 * still held by ACK-only packets the peer has not acknowledged.
 * quiet() leaves only ACK-only packets outstanding, so the recovery cannot
 * refuse; if it did, the session would be broken: close it. */
static void go_cold(struct cw_conn *c, uint64_t now)
{
	int e;

	cw_keyset_sleep(&c->ps.keys);
	cw_streams_trim(&c->st);
	prec_trim(c, 0);
	e = cw_recovery_forget_ack_only(&c->rec, CW_PNS_APP, now);
	if (e < 0)
		c->err = e;
}

/* §10.1: once past CW_CONN_ACK_RUN in-order packets the ACK may wait for
 * CW_CONN_ACK_EVERY_BULK of them, but not longer than a quarter of the
 * RTT (no timer is finer than kGranularity), so that the sender's window
 * and loss detection still hear from us several times per round trip. */
static uint64_t ack_delay(const struct cw_conn *c, bool decimating)
{
	uint64_t q = c->rec.rtt.smoothed / 4;

	if (!decimating || q >= CW_RTT_MAX_ACK_DELAY)
		return CW_RTT_MAX_ACK_DELAY;
	return q > CW_RTT_GRANULARITY ? q : CW_RTT_GRANULARITY;
}

/* §10.1: what the arrival of packet @pn asks of our next ACK. */
static void note_received(struct cw_conn *c, uint64_t now, uint64_t pn, bool ae)
{
	bool reordered = c->largest_rx != CW_PN_NONE && pn != c->largest_rx + 1;
	bool decimating;

	cw_ackset_add(&c->acks, pn);
	if (c->largest_rx == CW_PN_NONE || pn > c->largest_rx) {
		c->largest_rx = pn;
		c->largest_rx_time = now;
	}
	if (reordered)
		c->in_order_run = 0;
	if (!ae)
		return;
	if (!reordered && c->in_order_run <= CW_CONN_ACK_RUN)
		c->in_order_run++;
	decimating = c->in_order_run > CW_CONN_ACK_RUN;
	c->ack_pending = true;
	if (++c->ae_since_ack >= (decimating ? CW_CONN_ACK_EVERY_BULK : CW_CONN_ACK_EVERY) ||
	    reordered)
		c->ack_now = true;
	else
		c->ack_deadline = min2(c->ack_deadline, now + ack_delay(c, decimating));
}

static void recv_short(struct cw_conn *c, uint64_t now, uint8_t *pkt, size_t len)
{
	struct cw_frame_iter it;
	struct cw_frame f;
	const uint8_t *frames;
	size_t flen;
	uint64_t pn;
	struct cw_hdr h;
	int64_t r = 0;
	int n;

	if (!c->keys || cw_hdr_decode(pkt, len, &h) < 0 || h.type != CW_PKT_SHORT ||
	    memcmp(pkt + h.dcid_off, c->local_cid, CW_CID_LEN) != 0) {
		c->stats.dropped++;
		return;
	}
	n = cw_protect_short_open(&c->ps, pkt, &h, &frames, &flen, &pn);
	if (n < 0) {
		c->stats.dropped++;
		/* §6.7: past the integrity limit forgeries could succeed. */
		if (n == -EBADMSG && ++c->stats.auth_failed > c->auth_limit)
			close_with(c, now, CW_TE_AEAD_LIMIT_REACHED, 0, NULL);
		return;
	}
	c->stats.pkts_in++;
	c->rx_largest = c->largest_rx == CW_PN_NONE || pn > c->largest_rx;
	if (c->ps.keys.updates != c->ku_seen) {
		c->stats.key_updates_peer++;
		new_phase(c, now);
	}
	c->idle_start = now;
	c->ae_sent_since_rx = false;
	cw_streams_set_clock(&c->st, now, c->rec.rtt.smoothed);
	cw_frame_iter_init(&it, frames, flen, CW_PKT_SHORT,
			   c->gateway ? CW_FROM_AGENT : CW_FROM_GATEWAY);
	while (r == 0 && (n = cw_frame_next(&it, &f)) == 1)
		r = on_frame(c, now, &f);
	if (r < 0)
		return;
	if (r == 0 && n < 0)
		r = (int64_t)cw_frame_error_code(n);
	if (r == 0 && c->err)
		r = CW_TE_INTERNAL_ERROR;
	if (r > 0) {
		close_with(c, now, (uint64_t)r, it.frame_type, NULL);
		return;
	}
	note_received(c, now, pn, it.ack_eliciting);
	trim_if_idle(c);
}

int cw_conn_recv(struct cw_conn *c, uint64_t now, uint8_t *dgram, size_t len)
{
	size_t off = 0;
	int r;

	if (!c || !dgram)
		return -EINVAL;
	c->stats.dgrams_in++;
	c->rx_largest = false;
	if (c->state == CW_CONN_CLOSING && c->keys) {
		if (c->hs && !c->confirmed)
			cw_hs_recv(c->hs, dgram, len, now);
		/* Answer with the close packet, ever more sparingly. */
		if (++c->close_rx >= c->close_next_at) {
			c->close_due = true;
			c->close_next_at *= 2;
		}
		return 0;
	}
	if (c->state >= CW_CONN_CLOSING && !(c->hs && !c->confirmed))
		return 0;
	if (c->hs && !c->confirmed) {
		r = cw_hs_recv(c->hs, dgram, len, now);
		if (r < 0)
			return r;
		off = (size_t)r;
		hs_sync(c, now);
		if (off < len && c->hs && !c->confirmed && cw_hs_state(c->hs) == CW_HS_HANDSHAKING)
			c->stats.dropped++;
	}
	if (off < len && c->state == CW_CONN_ESTABLISHED)
		recv_short(c, now, dgram + off, len - off);
	return 0;
}

/* ---- sending ---- */

static int put_ack(struct cw_conn *c, uint64_t now, uint8_t *b, size_t cap, struct prec *p)
{
	uint64_t delay = (now - c->largest_rx_time) / 1000 >> 3;
	int n;

	if (!c->acks.n)
		return 0;
	n = cw_frame_encode_ack(b, cap, c->acks.r, c->acks.n, delay);
	if (n < 0)
		return 0;
	p->has_ack = true;
	p->ack_largest = c->acks.r[0].hi;
	c->ack_pending = c->ack_now = false;
	c->ae_since_ack = 0;
	c->ack_deadline = NEVER;
	c->stats.acks_sent++;
	return n;
}

static int put_ctrl(struct cw_conn *c, uint8_t *b, size_t cap, struct prec *p)
{
	struct cw_stream_frame f;
	size_t used = 0;
	int n;

	while (p->n < CW_CONN_PKT_FRAMES && cap - used >= CTRL_FRAME_MAX &&
	       cw_streams_next_ctrl(&c->st, &f) == 0) {
		struct cw_frame fr = {.type = (enum cw_frame_type)f.type};

		switch (f.type) {
		case CW_SFRAME_RESET_STREAM:
			fr.reset_stream =
			    (struct cw_frame_reset_stream){f.stream_id, f.code, f.final_size};
			break;
		case CW_SFRAME_STOP_SENDING:
			fr.stop_sending = (struct cw_frame_stop_sending){f.stream_id, f.code};
			break;
		case CW_SFRAME_MAX_STREAM_DATA:
		case CW_SFRAME_STREAM_DATA_BLOCKED:
			fr.max_stream_data = (struct cw_frame_stream_limit){f.stream_id, f.value};
			break;
		default:
			fr.max_data.max = f.value;
			break;
		}
		n = cw_frame_encode(b + used, cap - used, &fr);
		if (n < 0) {
			cw_streams_on_lost(&c->st, &f); /* marked sent: take it back */
			break;
		}
		frec_from(&p->f[p->n++], &f);
		used += (size_t)n;
	}
	return (int)used;
}

static int put_data(struct cw_conn *c, uint8_t *b, size_t cap, struct prec *p)
{
	struct cw_stream_frame f;
	size_t used = 0;
	int n;

	while (p->n < CW_CONN_PKT_FRAMES && cap - used >= STREAM_HDR_MAX + 1 &&
	       cw_streams_next_data(&c->st, cap - used - STREAM_HDR_MAX, &f) == 0) {
		struct cw_frame_stream s = {f.stream_id, f.offset, f.data, f.len, f.fin};

		n = cw_frame_encode_stream(b + used, cap - used, &s, false);
		if (n < 0) {
			cw_streams_on_lost(&c->st, &f);
			break;
		}
		frec_from(&p->f[p->n++], &f);
		used += (size_t)n;
		if (cap - used < STREAM_HDR_MAX + SMALLEST_DATA)
			break;
	}
	return (int)used;
}

/* May an in-flight packet go now? Sets pace_wake when the pacer says no. */
static bool may_send_in_flight(struct cw_conn *c, uint64_t now, bool probe)
{
	uint64_t t;

	if (probe)
		return true;
	if (cw_cc_window_left(&c->rec.cc) < CW_CONN_DGRAM_MAX)
		return false;
	t = cw_pacer_next(&c->pacer, now, c->rec.cc.cwnd, c->rec.rtt.smoothed, CW_CONN_DGRAM_MAX);
	if (t > now) {
		c->pace_wake = t;
		return false;
	}
	return true;
}

static bool ack_due(const struct cw_conn *c, uint64_t now)
{
	return c->ack_pending && (c->ack_now || now >= c->ack_deadline);
}

static int seal_and_record(struct cw_conn *c, uint64_t now, uint8_t *out, size_t cap,
			   uint64_t largest_acked, const uint8_t *frames, size_t flen,
			   struct prec *p, bool ae)
{
	unsigned flags = ae ? CW_SENT_ACK_ELICITING | CW_SENT_IN_FLIGHT : 0;
	/* An ACK-only packet keeps no record: all its acknowledgement tells is
	 * which of our ACK ranges the peer has seen. */
	uint64_t cookie = ae ? (uint64_t)(uintptr_t)p : p->ack_largest << 1 | ACK_ONLY;
	int len, e;

	len = cw_protect_short_seal(&c->ps, out, cap, c->peer_cid, c->next_pn, largest_acked,
				    frames, flen);
	if (len < 0)
		return len;
	e = cw_recovery_on_sent(&c->rec, CW_PNS_APP, now, c->next_pn, (size_t)len, flags, cookie);
	if (e < 0)
		return e;
	c->next_pn++;
	c->stats.pkts_out++;
	c->stats.dgrams_out++;
	if (ae) {
		cw_pacer_on_sent(&c->pacer, now, c->rec.cc.cwnd, c->rec.rtt.smoothed, (size_t)len);
		c->last_ae_sent = now;
		c->non_ae_run = 0;
		if (!c->ae_sent_since_rx) {
			c->idle_start = now;
			c->ae_sent_since_rx = true;
		}
	} else {
		c->non_ae_run++;
		c->stats.ack_only_sent++;
	}
	return len;
}

/* Requeue the stream frames of a packet that never left. */
static void unsend(struct cw_conn *c, struct prec *p)
{
	struct cw_stream_frame f;

	for (uint8_t i = 0; i < p->n; i++) {
		frec_to(&p->f[i], &f);
		cw_streams_on_lost(&c->st, &f);
	}
	if (p->hs_done)
		c->hs_done_pending = true;
	prec_put(c, p);
}

/* Fill @b (@room bytes) with the frames of one packet in the order of
 * the file comment; *@ae tells whether it is ack-eliciting. @fly: an
 * in-flight packet may go, @probe: a PTO asked for one. */
static size_t fill(struct cw_conn *c, uint64_t now, uint8_t *b, size_t room, struct prec *p,
		   bool fly, bool probe, bool *ae)
{
	size_t used = 0;
	int n;

	if (c->ack_pending)
		used += (size_t)put_ack(c, now, b, room, p);
	*ae = false;
	if (!fly)
		return used;
	if (c->hs_done_pending) {
		b[used++] = CW_FRAME_HANDSHAKE_DONE;
		p->hs_done = true;
		c->hs_done_pending = false;
	}
	if ((n = put_ctrl(c, b + used, room - used, p)) > 0)
		used += (size_t)n;
	if ((n = put_data(c, b + used, room - used, p)) > 0)
		used += (size_t)n;
	*ae = p->hs_done || p->n > 0;
	if (!*ae && (c->ping_pending || probe || c->non_ae_run >= CW_CONN_PING_EVERY)) {
		b[used++] = CW_FRAME_PING; /* room always has a byte left here */
		c->stats.pings_sent++;
		*ae = true;
	}
	if (*ae) {
		c->stats.keepalives += c->ping_pending;
		c->ping_pending = false;
		c->stats.probes += probe;
	}
	return used;
}

static int send_short(struct cw_conn *c, uint64_t now, uint8_t *out, size_t cap)
{
	uint64_t la = cw_recovery_largest_acked(&c->rec, CW_PNS_APP);
	bool probe = cw_recovery_probes(&c->rec, CW_PNS_APP) > 0, ae;
	/* §10.1's PING after a run of ACK-only packets rides on the next ACK. */
	bool want = cw_streams_want_send(&c->st) || c->hs_done_pending || c->ping_pending ||
		    probe || (c->non_ae_run >= CW_CONN_PING_EVERY && ack_due(c, now));
	bool fly;
	/* An ACK-only packet is filled in a record on the stack: it keeps none. */
	struct prec ack_only, *p = &ack_only;
	uint8_t *frames;
	size_t used;
	int n;

	c->pace_wake = NEVER;
	fly = want && may_send_in_flight(c, now, probe);
	if (!fly && !ack_due(c, now))
		return 0;
	if (c->rec.sp[CW_PNS_APP].count >= CW_RECOVERY_DEFAULT_SENT)
		return 0;
	/* The frames are built where the payload goes and sealed there. */
	n = cw_protect_short_hdr_len(c->next_pn, la);
	if (n < 0)
		return n;
	frames = out + n;
	if (fly)
		p = prec_get(c);
	else
		memset(p, 0, sizeof(*p));
	if (!p)
		return -ENOMEM;
	used =
	    fill(c, now, frames, CW_CONN_DGRAM_MAX - SHORT_HDR_MAX - TAG_LEN, p, fly, probe, &ae);
	if (!used) {
		if (fly)
			prec_put(c, p);
		return 0;
	}
	n = seal_and_record(c, now, out, cap, la, frames, used, p, ae);
	if (n < 0) {
		if (fly)
			unsend(c, p);
		return n;
	}
	if (p->hs_done && c->hs && !c->confirmed) {
		cw_hs_done_sent(c->hs, now);
		confirm(c, now);
	}
	if (!ae && fly)
		prec_put(c, p);
	return n;
}

static void check_hs_done(struct cw_conn *c)
{
	if (c->gateway && c->keys && !c->confirmed && c->hs && cw_hs_done_due(c->hs) &&
	    !c->hs_done_pending)
		c->hs_done_pending = true;
}

int cw_conn_send(struct cw_conn *c, uint64_t now, uint8_t *out, size_t cap)
{
	int n;

	if (!c || !out || cap < CW_CONN_DGRAM_MAX)
		return -EINVAL;
	if (c->hs && !c->confirmed && !c->keys && c->state >= CW_CONN_CLOSING) {
		n = cw_hs_send(c->hs, out, cap, now);
		hs_sync(c, now);
		return n < 0 ? 0 : n;
	}
	if (c->state == CW_CONN_CLOSING && c->keys) {
		if (c->hs && !c->confirmed && c->largest_rx == CW_PN_NONE &&
		    (n = cw_hs_send(c->hs, out, cap, now)) > 0)
			return n;
		if (!c->close_due || !c->close_pkt)
			return 0;
		c->close_due = false;
		memcpy(out, c->close_pkt, c->close_len);
		c->stats.dgrams_out++;
		return (int)c->close_len;
	}
	if (c->state >= CW_CONN_CLOSING)
		return 0;
	if (c->hs && !c->confirmed) {
		n = cw_hs_send(c->hs, out, cap, now);
		hs_sync(c, now);
		if (n > 0)
			c->stats.dgrams_out++;
		if (n != 0)
			return n;
	}
	if (c->state != CW_CONN_ESTABLISHED)
		return 0;
	check_hs_done(c);
	cw_streams_set_clock(&c->st, now, c->rec.rtt.smoothed);
	n = maybe_key_update(c, now);
	if (n < 0) {
		close_with(c, now, CW_TE_INTERNAL_ERROR, 0, NULL);
		return 0;
	}
	n = send_short(c, now, out, cap);
	if (n == -ENOMEM || c->err) {
		close_with(c, now, CW_TE_INTERNAL_ERROR, 0, NULL);
		return 0;
	}
	return n < 0 ? 0 : n;
}

/* ---- timers ---- */

uint64_t cw_conn_next_timeout(const struct cw_conn *c)
{
	uint64_t t = NEVER;

	if (!c || c->state == CW_CONN_CLOSED)
		return NEVER;
	if (c->hs && !c->confirmed)
		t = min2(t, cw_hs_next_timeout(c->hs));
	if (c->state >= CW_CONN_CLOSING)
		return min2(t, c->close_end);
	t = min2(t, c->idle_start + idle_timeout(c));
	if (c->state != CW_CONN_ESTABLISHED)
		return t;
	t = min2(t, cw_recovery_next_timeout(&c->rec));
	if (c->ack_pending && !c->ack_now)
		t = min2(t, c->ack_deadline);
	t = min2(t, c->pace_wake);
	t = min2(t, c->prev_discard_at);
	t = min2(t, cold_at(c));
	if (!c->gateway && !c->ping_pending)
		t = min2(t, c->last_ae_sent + c->keepalive_ivl);
	return t;
}

void cw_conn_on_timeout(struct cw_conn *c, uint64_t now)
{
	enum cw_pn_space sp;

	if (!c || c->state == CW_CONN_CLOSED)
		return;
	if (c->hs && !c->confirmed) {
		cw_hs_on_timeout(c->hs, now);
		hs_sync(c, now);
	}
	if (c->state >= CW_CONN_CLOSING) {
		if (now >= c->close_end)
			set_closed(c, c->end);
		return;
	}
	if (now >= c->idle_start + idle_timeout(c)) {
		set_closed(c, CW_CONN_END_IDLE);
		return;
	}
	if (c->state != CW_CONN_ESTABLISHED)
		return;
	if (now >= c->pace_wake)
		c->pace_wake = NEVER;
	if (now >= c->prev_discard_at) {
		cw_protect_short_discard_prev(&c->ps);
		c->prev_discard_at = NEVER;
	}
	if (now >= cw_recovery_next_timeout(&c->rec) &&
	    cw_recovery_on_timeout(&c->rec, now, &sp) == CW_TIMEOUT_PTO)
		c->stats.pto++;
	trim_if_idle(c);
	if (now >= cold_at(c))
		go_cold(c, now);
	if (c->err)
		close_with(c, now, CW_TE_INTERNAL_ERROR, 0, NULL);
	if (!c->gateway && now >= c->last_ae_sent + c->keepalive_ivl && !c->ping_pending) {
		c->ping_pending = true;
		draw_keepalive(c);
	}
}

void cw_conn_path_changed(struct cw_conn *c, bool new_ip)
{
	c->ping_pending = true;
	if (!new_ip)
		return;
	cw_cc_reset(&c->rec.cc);
	cw_rtt_init(&c->rec.rtt);
}

/* ---- accessors and streams ---- */

enum cw_conn_state cw_conn_state(const struct cw_conn *c)
{
	return c->state;
}

enum cw_conn_end cw_conn_end(const struct cw_conn *c)
{
	return c->end;
}

int64_t cw_conn_close_code(const struct cw_conn *c, bool ours)
{
	return ours ? c->code_ours : c->code_peer;
}

int cw_conn_set_peer_params(struct cw_conn *c, uint64_t max_data, uint64_t max_stream_data,
			    uint64_t max_streams, uint64_t idle_timeout_ms)
{
	uint64_t idle = idle_timeout_ms ? idle_timeout_ms * MS : CW_CONN_IDLE_DEFAULT;

	if (idle < CW_CONN_IDLE_FLOOR)
		return -EPROTO;
	if (cw_streams_set_peer_params(&c->st, max_data, max_stream_data, max_streams) < 0)
		return -EPROTO;
	c->idle_peer = idle;
	draw_keepalive(c);
	return 0;
}

bool cw_conn_rx_largest(const struct cw_conn *c)
{
	return c->rx_largest;
}

uint64_t cw_conn_next_pn(const struct cw_conn *c)
{
	return c->next_pn;
}

uint64_t cw_conn_largest_acked(const struct cw_conn *c)
{
	return cw_recovery_largest_acked(&c->rec, CW_PNS_APP);
}

const char *cw_conn_node_name(const struct cw_conn *c)
{
	if (!c->keys || !c->gateway)
		return NULL;
	return c->node_name ? c->node_name : "";
}

const uint8_t *cw_conn_ticket(const struct cw_conn *c, size_t *len)
{
	*len = 0;
	return c->hs && !c->gateway ? cw_hs_ticket(c->hs, len) : NULL;
}

const struct cw_conn_stats *cw_conn_stats(const struct cw_conn *c)
{
	return &c->stats;
}

const struct cw_hs *cw_conn_hs(const struct cw_conn *c)
{
	return c->hs;
}

const struct cw_streams *cw_conn_streams(const struct cw_conn *c)
{
	return &c->st;
}

uint64_t cw_conn_srtt(const struct cw_conn *c)
{
	return c->rec.rtt.smoothed;
}

int cw_conn_stream_open(struct cw_conn *c, uint64_t *id)
{
	return cw_streams_open(&c->st, id);
}

int cw_conn_stream_write(struct cw_conn *c, uint64_t id, const uint8_t *data, size_t len, size_t *n)
{
	return cw_streams_write(&c->st, id, data, len, n);
}

int cw_conn_stream_finish(struct cw_conn *c, uint64_t id)
{
	return cw_streams_finish(&c->st, id);
}

int cw_conn_stream_read(struct cw_conn *c, uint64_t id, uint8_t *buf, size_t cap, size_t *n,
			bool *fin, uint64_t *code)
{
	return cw_streams_read(&c->st, id, buf, cap, n, fin, code);
}

int cw_conn_stream_reset(struct cw_conn *c, uint64_t id, uint64_t code)
{
	return cw_streams_reset(&c->st, id, code);
}

int cw_conn_stream_stop(struct cw_conn *c, uint64_t id, uint64_t code)
{
	return cw_streams_stop(&c->st, id, code);
}

int cw_conn_next_event(struct cw_conn *c, uint64_t *id, unsigned *events)
{
	return cw_streams_next_event(&c->st, id, events);
}
