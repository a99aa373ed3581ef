/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "frame.h"
#include "handshake.h"
#include "protect.h"
#include "rob.h"
#include "varint.h"

#define NSP	       2 /* Initial, Handshake */
#define TX_MIN	       2048
#define COOKIE_CRYPTO  (UINT64_C(1) << 63)
#define LONG_FIXED_LEN (1 + 4 + 1 + CW_CID_LEN + 1 + CW_CID_LEN)

struct crange {
	uint32_t off, len;
};

struct inflight {
	uint64_t pn;
	struct crange r;
};

struct space {
	struct cw_protect_long prot;
	bool live;
	uint64_t next_pn;
	struct cw_ackset acks;
	bool ack_pending;
	uint8_t *tx; /* CRYPTO bytes we sent or will send, from offset 0 */
	size_t tx_len, tx_cap, tx_sent;
	struct crange resend[CW_HS_MAX_RESEND];
	size_t nresend;
	struct inflight infl[CW_HS_MAX_INFLIGHT];
	size_t ninfl;
	uint32_t crypto_inflight; /* packets carrying CRYPTO not acked or lost */
	struct cw_rob rx;
	bool close_pending;
};

struct cw_hs {
	struct cw_alloc a;
	enum cw_hs_role role;
	enum cw_hs_state state;
	struct cw_tls_conn *tls;
	struct space sp[NSP];
	struct cw_recovery rec;
	struct cw_hs_counters cnt;
	uint8_t cid[CW_CID_LEN], dcid[CW_CID_LEN];
	uint8_t odcid[CW_CID_LEN];
	uint8_t alt_dcid[CW_CID_LEN]; /* gateway: the DCID the agent started with */
	uint8_t token[CW_TOKEN_MAX_LEN];
	size_t token_len;
	bool peer_cid_known; /* agent: adopted the gateway's CID */
	bool got_packet;     /* agent: authenticated something from the gateway */
	bool retried;
	bool validated;	  /* gateway: §7.4 */
	bool hs_sent;	  /* sent a HANDSHAKE packet */
	bool hs_received; /* authenticated a HANDSHAKE packet */
	uint64_t rx_bytes, tx_bytes;
	uint64_t start, deadline, close_end;
	int64_t close_ours, close_peer;
	uint64_t close_rx, close_next; /* datagrams while closing; next echo */
	bool close_echo;
	struct cw_hs_result res;
	bool have_res;
	uint8_t fr[NSP][CW_HS_DGRAM_MAX];
};

static const enum cw_pn_space pns[NSP] = {CW_PNS_INITIAL, CW_PNS_HANDSHAKE};
static const enum cw_pkt_type ptype[NSP] = {CW_PKT_INITIAL, CW_PKT_HANDSHAKE};

/* ---- CRYPTO send bookkeeping ---- */

static void resend_add(struct space *s, uint32_t off, uint32_t len)
{
	if (!len)
		return;
	if (s->nresend == CW_HS_MAX_RESEND) {
		/* Full: widen the last range to cover both; resending a few
		 * acknowledged bytes again costs bandwidth, never correctness. */
		struct crange *l = &s->resend[s->nresend - 1];
		uint32_t lo = off < l->off ? off : l->off;
		uint32_t hi = off + len > l->off + l->len ? off + len : l->off + l->len;

		l->off = lo;
		l->len = hi - lo;
		return;
	}
	s->resend[s->nresend++] = (struct crange){off, len};
}

static void infl_remove(struct space *s, uint64_t pn)
{
	for (size_t i = 0; i < s->ninfl; i++)
		if (s->infl[i].pn == pn) {
			s->infl[i] = s->infl[--s->ninfl];
			return;
		}
}

static void on_packet(void *ctx, enum cw_pn_space space, enum cw_recovery_event ev,
		      const struct cw_sent_pkt *pkt)
{
	struct cw_hs *hs = ctx;
	struct space *s;

	if (space >= NSP || !(pkt->cookie & COOKIE_CRYPTO))
		return;
	s = &hs->sp[space];
	if (s->crypto_inflight)
		s->crypto_inflight--;
	infl_remove(s, pkt->pn);
	if (ev == CW_RECOVERY_LOST)
		resend_add(s, (uint32_t)(pkt->cookie >> 20) & 0x1ffff,
			   (uint32_t)pkt->cookie & 0xfffff);
}

/* A PTO: the ranges still in flight go out again in the probes. */
static void requeue_inflight(struct space *s)
{
	for (size_t i = 0; i < s->ninfl; i++)
		resend_add(s, s->infl[i].r.off, s->infl[i].r.len);
}

static int tx_grow(struct cw_hs *hs, struct space *s, size_t need)
{
	size_t cap = s->tx_cap ? s->tx_cap : TX_MIN;
	uint8_t *n;

	if (need > CW_TLS_CRYPTO_MAX)
		return -EMSGSIZE;
	while (cap < need)
		cap *= 2;
	if (cap > CW_TLS_CRYPTO_MAX)
		cap = CW_TLS_CRYPTO_MAX;
	n = hs->a.alloc(hs->a.ctx, cap);
	if (!n)
		return -ENOMEM;
	if (s->tx) {
		memcpy(n, s->tx, s->tx_len);
		hs->a.free(hs->a.ctx, s->tx, s->tx_cap);
	}
	s->tx = n;
	s->tx_cap = cap;
	return 0;
}

/* Moves what TLS queued for each level into our send buffers. */
static int take_tls(struct cw_hs *hs)
{
	for (int i = 0; i < NSP; i++) {
		struct space *s = &hs->sp[i];
		size_t n = cw_tls_conn_pending(hs->tls, ptype[i]);
		int rc;

		if (!n)
			continue;
		if (!s->live)
			return -EPROTO;
		if (s->tx_len + n > s->tx_cap && (rc = tx_grow(hs, s, s->tx_len + n)) < 0)
			return rc;
		s->tx_len +=
		    cw_tls_conn_take(hs->tls, ptype[i], s->tx + s->tx_len, s->tx_cap - s->tx_len);
	}
	return 0;
}

/* ---- spaces ---- */

static void space_discard(struct cw_hs *hs, int i, uint64_t now)
{
	struct space *s = &hs->sp[i];

	if (!s->live)
		return;
	cw_recovery_discard_space(&hs->rec, pns[i], now);
	cw_protect_long_free(&s->prot);
	cw_rob_free(&s->rx);
	if (s->tx) {
		OPENSSL_cleanse(s->tx, s->tx_cap);
		hs->a.free(hs->a.ctx, s->tx, s->tx_cap);
	}
	s->tx = NULL;
	s->tx_cap = s->tx_len = s->tx_sent = 0;
	s->nresend = s->ninfl = 0;
	s->crypto_inflight = 0;
	s->ack_pending = s->close_pending = false;
	s->live = false;
}

static int spaces_init(struct cw_hs *hs)
{
	uint8_t c[2][CW_SECRET_LEN], sv[2][CW_SECRET_LEN];
	bool agent = hs->role == CW_HS_AGENT;
	int rc;

	rc = cw_keys_initial(hs->odcid, CW_CID_LEN, c[0], sv[0]);
	if (!rc)
		rc = cw_keys_handshake(hs->odcid, CW_CID_LEN, c[1], sv[1]);
	for (int i = 0; !rc && i < NSP; i++) {
		struct space *s = &hs->sp[i];

		rc = cw_protect_long_init(&s->prot, agent ? c[i] : sv[i], agent ? sv[i] : c[i]);
		if (rc)
			break;
		cw_ackset_init(&s->acks);
		cw_rob_init(&s->rx, &hs->a, CW_TLS_CRYPTO_MAX);
		s->live = true;
	}
	OPENSSL_cleanse(c, sizeof(c));
	OPENSSL_cleanse(sv, sizeof(sv));
	return rc;
}

static struct cw_hs *hs_alloc(const struct cw_alloc *a, enum cw_hs_role role, uint64_t now)
{
	struct cw_recovery_cb cb;
	struct cw_hs *hs;

	if (!a)
		a = cw_alloc_default();
	hs = a->alloc(a->ctx, sizeof(*hs));
	if (!hs)
		return NULL;
	memset(hs, 0, sizeof(*hs));
	hs->a = *a;
	hs->role = role;
	hs->start = now;
	hs->deadline = now + CW_HS_TIMEOUT_NS;
	hs->close_ours = hs->close_peer = -1;
	cb = (struct cw_recovery_cb){on_packet, hs};
	cw_recovery_init(&hs->rec, role == CW_HS_AGENT, 0, &hs->a, &cb);
	return hs;
}

void cw_hs_free(struct cw_hs *hs)
{
	struct cw_alloc a;

	if (!hs)
		return;
	for (int i = 0; i < NSP; i++)
		space_discard(hs, i, hs->start);
	cw_recovery_free(&hs->rec);
	cw_tls_conn_free(hs->tls);
	a = hs->a;
	OPENSSL_cleanse(hs, sizeof(*hs));
	a.free(a.ctx, hs, sizeof(*hs));
}

void cw_hs_set_alloc(struct cw_hs *hs, const struct cw_alloc *a)
{
	hs->a = *a;
	cw_recovery_set_alloc(&hs->rec, a);
}

/* ---- closing ---- */

static bool over(const struct cw_hs *hs)
{
	return hs->state >= CW_HS_CLOSING;
}

static uint64_t close_period(const struct cw_hs *hs)
{
	return 3 * cw_recovery_pto_period(&hs->rec);
}

static void enter_closing(struct cw_hs *hs, uint64_t code, uint64_t now)
{
	if (over(hs))
		return;
	hs->state = CW_HS_CLOSING;
	hs->close_ours = (int64_t)code;
	hs->close_end = now + close_period(hs);
	hs->close_next = 1;
	for (int i = 0; i < NSP; i++) {
		struct space *s = &hs->sp[i];

		/* §11.3: every long-header type the peer may be reading. */
		s->close_pending = s->live && (i == 0 || hs->hs_sent || hs->hs_received);
	}
}

void cw_hs_close(struct cw_hs *hs, uint64_t code, uint64_t now)
{
	if (hs && code < CW_APP_ERROR_MIN)
		enter_closing(hs, code, now);
}

static uint64_t tls_error_code(struct cw_hs *hs, int rc)
{
	uint8_t alert = cw_tls_conn_alert(hs->tls);

	if (rc == -EMSGSIZE)
		return CW_TE_CRYPTO_BUFFER_EXCEEDED;
	if (alert)
		return CW_TLS_CRYPTO_ERROR(alert);
	if (rc == -EPROTO)
		return CW_TE_PROTOCOL_VIOLATION;
	return CW_TE_INTERNAL_ERROR;
}

/* ---- completion ---- */

static void complete(struct cw_hs *hs, uint64_t now)
{
	struct cw_hs_result *r = &hs->res;

	if (cw_tls_conn_secrets(hs->tls, r->client_secret, r->server_secret, &r->alg))
		return;
	r->resumed = cw_tls_conn_resumed(hs->tls);
	memcpy(r->local_cid, hs->cid, CW_CID_LEN);
	memcpy(r->peer_cid, hs->dcid, CW_CID_LEN);
	r->node_name = cw_tls_conn_node_name(hs->tls);
	hs->have_res = true;
	hs->state = CW_HS_COMPLETE;
	cw_recovery_set_handshake_complete(&hs->rec, now);
	if (hs->role == CW_HS_GATEWAY) {
		/* §7.4: the agent's Finished proves its address; §7.5: the
		 * gateway's handshake is confirmed on completion. */
		hs->validated = true;
		cw_recovery_set_amplification_blocked(&hs->rec, now, false);
		cw_recovery_set_handshake_confirmed(&hs->rec, now);
	}
}

/* Feeds the contiguous CRYPTO bytes of each level to TLS, in TLS order. */
static int feed_tls(struct cw_hs *hs, uint64_t now)
{
	for (int i = 0; i < NSP; i++) {
		struct space *s = &hs->sp[i];
		const uint8_t *p;
		size_t n;
		int rc;

		while (s->live && (p = cw_rob_peek(&s->rx, &n)) && n) {
			rc = cw_tls_conn_feed(hs->tls, ptype[i], p, n);
			if (rc == -EAGAIN)
				break;
			if (rc < 0)
				return rc;
			cw_rob_consume(&s->rx, n);
		}
	}
	if (take_tls(hs) < 0)
		return -EPROTO;
	if (hs->state == CW_HS_HANDSHAKING && cw_tls_conn_state(hs->tls) == CW_TLS_COMPLETE)
		complete(hs, now);
	return 0;
}

/* ---- receiving ---- */

static int frames(struct cw_hs *hs, int i, const uint8_t *p, size_t len, uint64_t now)
{
	enum cw_frame_sender from = hs->role == CW_HS_AGENT ? CW_FROM_GATEWAY : CW_FROM_AGENT;
	struct space *s = &hs->sp[i];
	struct cw_frame_iter it;
	struct cw_frame f;
	int rc;

	cw_frame_iter_init(&it, p, len, ptype[i], from);
	while ((rc = cw_frame_next(&it, &f)) == 1) {
		switch (f.type) {
		case CW_FRAME_ACK:
			if (cw_recovery_on_ack(&hs->rec, pns[i], now, &f.ack) == -EPROTO) {
				enter_closing(hs, CW_TE_PROTOCOL_VIOLATION, now);
				return -EPROTO;
			}
			break;
		case CW_FRAME_CRYPTO:
			rc = cw_rob_insert(&s->rx, f.crypto.offset, f.crypto.data, f.crypto.len,
					   false);
			if (rc) {
				enter_closing(hs,
					      rc == -EDQUOT ? CW_TE_CRYPTO_BUFFER_EXCEEDED
							    : CW_TE_INTERNAL_ERROR,
					      now);
				return rc;
			}
			break;
		case CW_FRAME_CONNECTION_CLOSE:
			hs->close_peer = (int64_t)f.close.error_code;
			hs->state = CW_HS_DRAINING;
			hs->close_end = now + close_period(hs);
			return -ECONNRESET;
		default:
			break;
		}
	}
	if (rc < 0) {
		enter_closing(hs, cw_frame_error_code(rc), now);
		return rc;
	}
	if (it.ack_eliciting)
		s->ack_pending = true; /* §10.1: long-header packets at once */
	return 0;
}

static void agent_retry(struct cw_hs *hs, const uint8_t *pkt, const struct cw_hdr *h, size_t len)
{
	struct cw_aead ra;
	int rc;

	if (hs->retried || hs->got_packet || memcmp(pkt + h->dcid_off, hs->cid, CW_CID_LEN) ||
	    h->token_len == 0 || h->token_len > CW_TOKEN_MAX_LEN || cw_retry_init(&ra)) {
		hs->cnt.dropped[CW_HS_DROP_RETRY]++;
		return;
	}
	rc = cw_retry_verify(&ra, hs->odcid, CW_CID_LEN, pkt, len);
	cw_aead_free(&ra);
	if (rc) {
		hs->cnt.dropped[CW_HS_DROP_RETRY]++;
		return;
	}
	hs->retried = true;
	hs->cnt.retries++;
	memcpy(hs->dcid, pkt + h->scid_off, CW_CID_LEN);
	memcpy(hs->token, pkt + h->token_off, h->token_len);
	hs->token_len = h->token_len;
	/* §7.3: the same ClientHello again from offset 0, continuing pns. */
	resend_add(&hs->sp[0], 0, (uint32_t)hs->sp[0].tx_len);
}

static bool dcid_ok(const struct cw_hs *hs, const uint8_t *dcid)
{
	if (!memcmp(dcid, hs->cid, CW_CID_LEN))
		return true;
	return hs->role == CW_HS_GATEWAY && !memcmp(dcid, hs->alt_dcid, CW_CID_LEN);
}

/* One INITIAL or HANDSHAKE packet; returns <0 to stop the datagram. */
static int recv_long(struct cw_hs *hs, uint8_t *pkt, const struct cw_hdr *h, uint64_t now)
{
	int i = h->type == CW_PKT_INITIAL ? 0 : 1;
	struct space *s = &hs->sp[i];
	const uint8_t *scid = pkt + h->scid_off;
	const uint8_t *p;
	size_t len;
	uint64_t pn;
	int rc;

	if (!s->live) {
		hs->cnt.dropped[CW_HS_DROP_NO_KEYS]++;
		return 0;
	}
	if (hs->role == CW_HS_AGENT && hs->peer_cid_known && memcmp(scid, hs->dcid, CW_CID_LEN)) {
		hs->cnt.dropped[CW_HS_DROP_SCID]++;
		return 0;
	}
	rc = cw_protect_long_open(&s->prot, pkt, h, &p, &len, &pn);
	if (rc) {
		hs->cnt.dropped[rc == -EBADMSG ? CW_HS_DROP_DECRYPT : CW_HS_DROP_REPLAY]++;
		return 0;
	}
	hs->cnt.pkts_in++;
	if (hs->role == CW_HS_AGENT) {
		hs->got_packet = true;
		if (!hs->peer_cid_known) {
			memcpy(hs->dcid, scid, CW_CID_LEN);
			hs->peer_cid_known = true;
		}
		if (i == 1)
			cw_recovery_set_peer_validated(&hs->rec);
	}
	if (i == 1)
		hs->hs_received = true;
	cw_ackset_add(&s->acks, pn);
	rc = frames(hs, i, p, len, now);
	if (rc)
		return rc;
	/* §7.5: the gateway drops Initial once the agent speaks Handshake. */
	if (i == 1 && hs->role == CW_HS_GATEWAY)
		space_discard(hs, 0, now);
	return 0;
}

static void closing_echo(struct cw_hs *hs)
{
	/* §11.3: at most one copy per datagram, at growing spacing. */
	if (hs->state != CW_HS_CLOSING)
		return;
	if (++hs->close_rx < hs->close_next)
		return;
	hs->close_next *= 2;
	for (int i = 0; i < NSP; i++)
		if (hs->sp[i].live && (i == 0 || hs->hs_sent || hs->hs_received))
			hs->sp[i].close_pending = true;
}

int cw_hs_recv(struct cw_hs *hs, uint8_t *dgram, size_t len, uint64_t now)
{
	const uint8_t *first = NULL;
	size_t off = 0;
	struct cw_hdr h;

	if (!hs || !dgram || !len)
		return -EINVAL;
	hs->cnt.dgrams_in++;
	hs->cnt.bytes_in += len;
	hs->rx_bytes += len;
	if (hs->role == CW_HS_GATEWAY && !hs->validated)
		cw_recovery_set_amplification_blocked(&hs->rec, now, false);
	if (over(hs)) {
		hs->cnt.dropped[CW_HS_DROP_OVER]++;
		closing_echo(hs);
		return (int)len;
	}
	while (off < len) {
		if (cw_hdr_decode(dgram + off, len - off, &h)) {
			hs->cnt.dropped[CW_HS_DROP_PARSE]++;
			break;
		}
		if (first && memcmp(first, dgram + off + h.dcid_off, CW_CID_LEN)) {
			hs->cnt.dropped[CW_HS_DROP_DCID]++;
			off += h.pkt_len;
			continue;
		}
		if (!dcid_ok(hs, dgram + off + h.dcid_off)) {
			hs->cnt.dropped[CW_HS_DROP_DCID]++;
			break;
		}
		first = dgram + off + h.dcid_off;
		if (h.type == CW_PKT_SHORT)
			return (int)off;
		if (h.type == CW_PKT_RETRY) {
			if (hs->role == CW_HS_AGENT && off == 0)
				agent_retry(hs, dgram, &h, len);
			else
				hs->cnt.dropped[CW_HS_DROP_RETRY]++;
			break;
		}
		if (h.type == CW_PKT_INITIAL && hs->role == CW_HS_GATEWAY &&
		    len < CW_HS_INITIAL_MIN) {
			hs->cnt.dropped[CW_HS_DROP_SMALL]++;
			break;
		}
		if (recv_long(hs, dgram + off, &h, now) < 0)
			return (int)len;
		off += h.pkt_len;
	}
	if (!over(hs) && hs->tls) {
		int rc = feed_tls(hs, now);

		if (rc < 0)
			enter_closing(hs, tls_error_code(hs, rc), now);
	}
	return (int)len;
}

/* ---- sending ---- */

/* Exact: the length field is always 2 bytes, so padding lands on 1200. */
static size_t long_overhead(const struct cw_hs *hs, int i)
{
	int pl = cw_pn_len(hs->sp[i].next_pn, cw_recovery_largest_acked(&hs->rec, pns[i]));
	size_t n = LONG_FIXED_LEN + 2 + (pl > 0 ? (size_t)pl : 4) + CW_AEAD_TAG_LEN;

	if (i == 0 && hs->role == CW_HS_AGENT)
		n += cw_varint_len(hs->token_len) + hs->token_len;
	return n;
}

/* Next CRYPTO range to send in @s, at most @max bytes; *@resent if old. */
static bool next_crypto(struct space *s, size_t max, struct crange *r, bool *resent)
{
	while (s->nresend) {
		struct crange *q = &s->resend[0];

		if (q->off + q->len > s->tx_len) /* never beyond what exists */
			q->len = q->off < s->tx_len ? (uint32_t)(s->tx_len - q->off) : 0;
		if (!q->len) {
			memmove(q, q + 1, --s->nresend * sizeof(*q));
			continue;
		}
		r->off = q->off;
		r->len = q->len < max ? q->len : (uint32_t)max;
		q->off += r->len;
		q->len -= r->len;
		if (!q->len)
			memmove(q, q + 1, --s->nresend * sizeof(*q));
		*resent = true;
		return true;
	}
	if (s->tx_sent < s->tx_len) {
		size_t n = s->tx_len - s->tx_sent;

		r->off = (uint32_t)s->tx_sent;
		r->len = (uint32_t)(n < max ? n : max);
		s->tx_sent += r->len;
		*resent = false;
		return true;
	}
	return false;
}

struct built {
	int sp;
	size_t len;
	unsigned flags;
	uint64_t cookie;
};

static bool crypto_ready(const struct space *s)
{
	return s->nresend || s->tx_sent < s->tx_len;
}

/* Frames for one packet of space @i in @room bytes; 0 if nothing to say. */
static size_t build_frames(struct cw_hs *hs, int i, size_t room, struct built *b)
{
	struct space *s = &hs->sp[i];
	uint8_t *f = hs->fr[i];
	size_t n = 0;
	int rc;

	b->flags = 0;
	b->cookie = 0;
	if (hs->state == CW_HS_CLOSING) {
		if (!s->close_pending)
			return 0;
		rc =
		    cw_frame_encode_connection_close(f, room, (uint64_t)hs->close_ours, 0, NULL, 0);
		if (rc < 0)
			return 0;
		s->close_pending = false;
		return (size_t)rc;
	}
	if (s->ack_pending && s->acks.n) {
		rc = cw_frame_encode_ack(f, room, s->acks.r, s->acks.n, 0);
		if (rc > 0) {
			n += (size_t)rc;
			s->ack_pending = false;
		}
	}
	if (crypto_ready(s) && room - n > 8) {
		size_t fit = cw_frame_crypto_fit(s->tx_sent, room - n);
		struct crange r;
		bool resent;

		/* Resends may sit at lower offsets: their fit is never smaller. */
		if (fit && next_crypto(s, fit, &r, &resent)) {
			rc = cw_frame_encode_crypto(f + n, room - n, r.off, s->tx + r.off, r.len);
			if (rc > 0) {
				n += (size_t)rc;
				b->cookie = COOKIE_CRYPTO | (uint64_t)r.off << 20 | r.len;
				b->flags = CW_SENT_ACK_ELICITING | CW_SENT_IN_FLIGHT;
				hs->cnt.crypto_retransmits += resent;
			}
		}
	}
	if (!b->flags && cw_recovery_probes(&hs->rec, pns[i]) && room - n >= 1) {
		f[n++] = CW_FRAME_PING;
		b->flags = CW_SENT_ACK_ELICITING | CW_SENT_IN_FLIGHT;
	}
	return n;
}

static int seal(struct cw_hs *hs, const struct built *b, uint8_t *out, size_t cap)
{
	struct space *s = &hs->sp[b->sp];
	struct cw_long_hdr h = {
	    .type = ptype[b->sp],
	    .version = CW_VERSION_1,
	    .dcid = hs->dcid,
	    .scid = hs->cid,
	    .token = b->sp == 0 && hs->role == CW_HS_AGENT ? hs->token : NULL,
	    .token_len = b->sp == 0 && hs->role == CW_HS_AGENT ? hs->token_len : 0,
	    .pn = s->next_pn,
	    .length_len = 2,
	};

	return cw_protect_long_seal(&s->prot, out, cap, &h,
				    cw_recovery_largest_acked(&hs->rec, pns[b->sp]), hs->fr[b->sp],
				    b->len);
}

static void requeue_built(struct space *s, const struct built *b)
{
	if (b->cookie & COOKIE_CRYPTO)
		resend_add(s, (uint32_t)(b->cookie >> 20) & 0x1ffff, (uint32_t)b->cookie & 0xfffff);
}

static int record_sent(struct cw_hs *hs, struct built *b, size_t size, uint64_t now)
{
	struct space *s = &hs->sp[b->sp];
	int rc;

	if (b->flags == 0 && hs->fr[b->sp][b->len - 1] == CW_FRAME_PADDING)
		b->flags = CW_SENT_IN_FLIGHT;
	rc = cw_recovery_on_sent(&hs->rec, pns[b->sp], now, s->next_pn, size, b->flags, b->cookie);
	if (rc) {
		/* The number is spent (its nonce was used) and the packet not
		 * tracked: its CRYPTO bytes go out again in a later one. */
		s->next_pn++;
		requeue_built(s, b);
		return rc;
	}
	if (b->cookie & COOKIE_CRYPTO) {
		s->crypto_inflight++;
		if (s->ninfl < CW_HS_MAX_INFLIGHT)
			s->infl[s->ninfl++] = (struct inflight){
			    s->next_pn,
			    {(uint32_t)(b->cookie >> 20) & 0x1ffff, (uint32_t)b->cookie & 0xfffff}};
	}
	s->next_pn++;
	hs->cnt.pkts_out++;
	return 0;
}

static size_t send_limit(struct cw_hs *hs, size_t cap)
{
	size_t lim = cap < CW_HS_DGRAM_MAX ? cap : CW_HS_DGRAM_MAX;
	uint64_t budget;

	if (hs->role != CW_HS_GATEWAY || hs->validated)
		return lim;
	budget = CW_HS_AMP_FACTOR * hs->rx_bytes;
	budget = budget > hs->tx_bytes ? budget - hs->tx_bytes : 0;
	return budget < lim ? (size_t)budget : lim;
}

/* Agent datagrams with an INITIAL reach 1200 bytes in the last packet. */
static void pad(struct cw_hs *hs, struct built *b, size_t nb, size_t est)
{
	struct built *last = &b[nb - 1];
	bool initial = false;
	size_t add;

	for (size_t k = 0; k < nb; k++)
		initial |= b[k].sp == 0;
	if (hs->role != CW_HS_AGENT || !initial || est >= CW_HS_INITIAL_MIN)
		return;
	add = CW_HS_INITIAL_MIN - est;
	memset(hs->fr[last->sp] + last->len, 0, add);
	last->len += add;
}

int cw_hs_send(struct cw_hs *hs, uint8_t *out, size_t cap, uint64_t now)
{
	struct built b[NSP];
	size_t nb = 0, est = 0, lim, used = 0;

	if (!hs || !out || cap < CW_HS_DGRAM_MAX)
		return -EINVAL;
	if (hs->state == CW_HS_CLOSED || hs->state == CW_HS_ABANDONED ||
	    hs->state == CW_HS_DRAINING)
		return 0;
	lim = send_limit(hs, cap);
	for (int i = 0; i < NSP; i++) {
		size_t ov = long_overhead(hs, i), n;

		if (!hs->sp[i].live || est + ov + 8 > lim)
			continue;
		b[nb].sp = i;
		n = build_frames(hs, i, lim - est - ov, &b[nb]);
		if (!n)
			continue;
		b[nb].len = n;
		est += ov + n;
		nb++;
	}
	if (!nb) {
		if (hs->role == CW_HS_GATEWAY && !hs->validated && lim < CW_HS_DGRAM_MAX &&
		    (crypto_ready(&hs->sp[1]) || hs->sp[0].ack_pending))
			cw_recovery_set_amplification_blocked(&hs->rec, now, true);
		return 0;
	}
	pad(hs, b, nb, est);
	for (size_t k = 0; k < nb; k++) {
		int rc = seal(hs, &b[k], out + used, cap - used);

		if (rc < 0) {
			for (size_t m = k; m < nb; m++)
				requeue_built(&hs->sp[b[m].sp], &b[m]);
			return rc;
		}
		used += (size_t)rc;
		rc = record_sent(hs, &b[k], (size_t)rc, now);
		if (rc < 0) {
			for (size_t m = k + 1; m < nb; m++)
				requeue_built(&hs->sp[b[m].sp], &b[m]);
			return rc;
		}
		if (b[k].sp == 1)
			hs->hs_sent = true;
	}
	hs->cnt.dgrams_out++;
	hs->cnt.bytes_out += used;
	hs->tx_bytes += used;
	/* §7.5: the agent drops Initial once it speaks Handshake. */
	if (hs->role == CW_HS_AGENT && hs->hs_sent && hs->sp[0].live) {
		space_discard(hs, 0, now);
		cw_recovery_set_handshake_keys(&hs->rec);
	}
	return (int)used;
}

/* ---- timers ---- */

uint64_t cw_hs_next_timeout(const struct cw_hs *hs)
{
	uint64_t t = CW_RECOVERY_NEVER;

	if (!hs || hs->state == CW_HS_CLOSED || hs->state == CW_HS_ABANDONED)
		return t;
	if (hs->state == CW_HS_CLOSING || hs->state == CW_HS_DRAINING)
		return hs->close_end;
	if (hs->state == CW_HS_HANDSHAKING)
		t = hs->deadline;
	if (hs->state != CW_HS_CONFIRMED) {
		uint64_t r = cw_recovery_next_timeout(&hs->rec);

		if (r < t)
			t = r;
	}
	return t;
}

void cw_hs_on_timeout(struct cw_hs *hs, uint64_t now)
{
	enum cw_pn_space sp = CW_PNS_INITIAL;

	if (!hs || hs->state == CW_HS_CLOSED || hs->state == CW_HS_ABANDONED)
		return;
	if (hs->state == CW_HS_CLOSING || hs->state == CW_HS_DRAINING) {
		if (now >= hs->close_end)
			hs->state = CW_HS_CLOSED;
		return;
	}
	if (hs->state == CW_HS_HANDSHAKING && now >= hs->deadline) {
		hs->state = CW_HS_ABANDONED; /* §7.6: silently */
		return;
	}
	if (hs->state == CW_HS_CONFIRMED)
		return;
	if (cw_recovery_on_timeout(&hs->rec, now, &sp) == CW_TIMEOUT_PTO && sp < NSP) {
		hs->cnt.pto++;
		requeue_inflight(&hs->sp[sp]);
		if (sp == CW_PNS_INITIAL && hs->role == CW_HS_AGENT && !hs->sp[0].ninfl)
			resend_add(&hs->sp[0], 0, (uint32_t)hs->sp[0].tx_len);
	}
}

/* ---- constructors ---- */

int cw_hs_agent_new(const struct cw_hs_agent_cfg *cfg, uint64_t now, struct cw_hs **out)
{
	struct cw_hs *hs;
	int rc;

	if (!cfg || !cfg->tls || !out)
		return -EINVAL;
	hs = hs_alloc(cfg->alloc, CW_HS_AGENT, now);
	if (!hs)
		return -ENOMEM;
	memcpy(hs->cid, cfg->cid, CW_CID_LEN);
	memcpy(hs->odcid, cfg->odcid, CW_CID_LEN);
	memcpy(hs->dcid, cfg->odcid, CW_CID_LEN);
	rc = spaces_init(hs);
	if (!rc)
		rc = cw_tls_client_conn_new(cfg->tls, cfg->wall_time, cfg->ticket, cfg->ticket_len,
					    &hs->tls);
	if (!rc)
		rc = take_tls(hs);
	if (rc) {
		cw_hs_free(hs);
		return rc;
	}
	*out = hs;
	return 0;
}

int cw_hs_gateway_new(const struct cw_hs_gateway_cfg *cfg, const struct cw_hs_screen *scr,
		      uint8_t *dgram, size_t len, uint64_t now, struct cw_hs **out)
{
	struct cw_hs *hs;
	int rc;

	if (!cfg || !cfg->tls || !scr || !dgram || !len || !out)
		return -EINVAL;
	hs = hs_alloc(cfg->alloc, CW_HS_GATEWAY, now);
	if (!hs)
		return -ENOMEM;
	memcpy(hs->cid, cfg->cid, CW_CID_LEN);
	memcpy(hs->odcid, scr->odcid, CW_CID_LEN);
	memcpy(hs->alt_dcid, scr->dcid, CW_CID_LEN);
	memcpy(hs->dcid, scr->agent_cid, CW_CID_LEN);
	hs->validated = scr->validated;
	rc = spaces_init(hs);
	if (!rc)
		rc = cw_tls_server_conn_new(cfg->tls, cfg->wall_time, &hs->tls);
	if (rc) {
		cw_hs_free(hs);
		return rc;
	}
	cw_hs_recv(hs, dgram, len, now);
	if (!hs->cnt.pkts_in) {
		/* §7.6: no state for a datagram that is dropped. */
		cw_hs_free(hs);
		return -EBADMSG;
	}
	*out = hs;
	return 0;
}

/* ---- stateless screening ---- */

static int invalid_token_close(const uint8_t *odcid, const uint8_t *dcid, const uint8_t *scid,
			       uint8_t *out, size_t cap)
{
	uint8_t c[CW_SECRET_LEN], s[CW_SECRET_LEN], f[16];
	struct cw_protect_long p;
	struct cw_long_hdr h = {
	    .type = CW_PKT_INITIAL, .version = CW_VERSION_1, .dcid = dcid, .scid = scid, .pn = 0};
	int rc, n;

	n = cw_frame_encode_connection_close(f, sizeof(f), CW_TE_INVALID_TOKEN, 0, NULL, 0);
	if (n < 0)
		return n;
	rc = cw_keys_initial(odcid, CW_CID_LEN, c, s);
	if (!rc)
		rc = cw_protect_long_init(&p, s, c);
	OPENSSL_cleanse(c, sizeof(c));
	OPENSSL_cleanse(s, sizeof(s));
	if (rc)
		return rc;
	rc = cw_protect_long_seal(&p, out, cap, &h, CW_PN_NONE, f, (size_t)n);
	cw_protect_long_free(&p);
	return rc;
}

static int screen_token(const uint8_t *pkt, const struct cw_hdr *h, const struct cw_hs_peer *peer,
			uint64_t now, struct cw_token_keys *tk, uint8_t *out, size_t cap,
			struct cw_hs_screen *res)
{
	const uint8_t *tok = pkt + h->token_off;
	uint8_t odcid[CW_TOKEN_ODCID_MAX];
	size_t olen = 0;
	int rc;

	/* A token that cannot even state an ODCID of ours is dropped. */
	if (h->token_len < CW_TOKEN_LEN_MIN + CW_CID_LEN || tok[5] != CW_CID_LEN)
		return CW_HS_V_DROP;
	rc = cw_token_validate(tk, now, peer->family, peer->addr, peer->port, tok, h->token_len,
			       odcid, &olen);
	if (rc == -EBADMSG || rc == -ETIMEDOUT) {
		/* The close goes to the agent's CID, as its packets would. */
		rc = invalid_token_close(tok + 6, pkt + h->scid_off, pkt + h->dcid_off, out, cap);
		if (rc < 0)
			return CW_HS_V_DROP;
		res->out_len = (size_t)rc;
		return CW_HS_V_SEND_CLOSE;
	}
	if (rc || olen != CW_CID_LEN)
		return CW_HS_V_DROP;
	memcpy(res->odcid, odcid, CW_CID_LEN);
	res->validated = true;
	return CW_HS_V_ACCEPT;
}

static int screen_retry(const uint8_t *pkt, const struct cw_hdr *h, const struct cw_hs_peer *peer,
			uint64_t now, struct cw_token_keys *tk, struct cw_aead *retry,
			const uint8_t *scid, uint8_t *out, size_t cap, struct cw_hs_screen *res)
{
	uint8_t tok[CW_TOKEN_LEN_MAX];
	int tl, n;

	tl = cw_token_mint(tk, now, peer->family, peer->addr, peer->port, pkt + h->dcid_off,
			   CW_CID_LEN, tok, sizeof(tok));
	if (tl < 0)
		return CW_HS_V_DROP;
	n = cw_hdr_encode_retry(out, cap, CW_VERSION_1, pkt + h->scid_off, scid, tok, (size_t)tl);
	if (n < 0 || cw_retry_tag(retry, pkt + h->dcid_off, CW_CID_LEN, out, (size_t)n, out + n))
		return CW_HS_V_DROP;
	res->out_len = (size_t)n + CW_RETRY_TAG_LEN;
	return CW_HS_V_SEND_RETRY;
}

int cw_hs_screen(const uint8_t *dgram, size_t len, const struct cw_hs_peer *peer, uint64_t now,
		 struct cw_token_keys *tk, struct cw_aead *retry, enum cw_retry_policy policy,
		 const uint8_t new_scid[CW_CID_LEN], uint8_t *out, size_t cap,
		 struct cw_hs_screen *res)
{
	struct cw_hdr h;

	if (!dgram || !peer || !res || !out || !tk || (policy == CW_RETRY_ALWAYS && !retry) ||
	    !new_scid || cap < CW_HS_DGRAM_MAX)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (len < CW_HS_INITIAL_MIN || cw_hdr_decode(dgram, len, &h) || h.type != CW_PKT_INITIAL)
		return CW_HS_V_DROP;
	memcpy(res->dcid, dgram + h.dcid_off, CW_CID_LEN);
	memcpy(res->agent_cid, dgram + h.scid_off, CW_CID_LEN);
	memcpy(res->odcid, res->dcid, CW_CID_LEN);
	if (h.token_len)
		return screen_token(dgram, &h, peer, now, tk, out, cap, res);
	if (policy == CW_RETRY_ALWAYS)
		return screen_retry(dgram, &h, peer, now, tk, retry, new_scid, out, cap, res);
	return CW_HS_V_ACCEPT;
}

/* ---- results and confirmation ---- */

enum cw_hs_state cw_hs_state(const struct cw_hs *hs)
{
	return hs->state;
}

bool cw_hs_over(const struct cw_hs *hs)
{
	return over(hs);
}

int64_t cw_hs_close_code(const struct cw_hs *hs, bool ours)
{
	return ours ? hs->close_ours : hs->close_peer;
}

int cw_hs_result(const struct cw_hs *hs, struct cw_hs_result *out)
{
	if (!hs || !out)
		return -EINVAL;
	if (!hs->have_res)
		return -EAGAIN;
	*out = hs->res;
	return 0;
}

const uint8_t *cw_hs_ticket(const struct cw_hs *hs, size_t *len)
{
	*len = 0;
	return hs->tls ? cw_tls_conn_ticket(hs->tls, len) : NULL;
}

bool cw_hs_done_due(const struct cw_hs *hs)
{
	const struct space *s = &hs->sp[1];

	return hs->role == CW_HS_GATEWAY && hs->state == CW_HS_COMPLETE && s->live &&
	       s->tx_sent == s->tx_len && !s->nresend && !s->crypto_inflight;
}

static void confirm(struct cw_hs *hs, uint64_t now)
{
	space_discard(hs, 0, now);
	space_discard(hs, 1, now);
	cw_recovery_set_handshake_confirmed(&hs->rec, now);
	hs->state = CW_HS_CONFIRMED;
}

int cw_hs_done_sent(struct cw_hs *hs, uint64_t now)
{
	if (!hs || hs->role != CW_HS_GATEWAY || hs->state != CW_HS_COMPLETE)
		return -EINVAL;
	confirm(hs, now);
	return 0;
}

int cw_hs_done_received(struct cw_hs *hs, uint64_t now)
{
	if (!hs || hs->role != CW_HS_AGENT)
		return -EINVAL;
	if (hs->state == CW_HS_CONFIRMED)
		return 0;
	if (hs->state != CW_HS_COMPLETE)
		return -EPROTO;
	confirm(hs, now);
	cw_tls_conn_release_tls(hs->tls);
	return 0;
}

const struct cw_recovery *cw_hs_recovery(const struct cw_hs *hs)
{
	return &hs->rec;
}

const struct cw_hs_counters *cw_hs_counters(const struct cw_hs *hs)
{
	return &hs->cnt;
}
