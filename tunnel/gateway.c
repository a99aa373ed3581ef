/* SPDX-License-Identifier: Apache-2.0 */
#include "gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cid.h"
#include "frame.h"
#include "msg.h"
#include "msg_body.h"

#define NEVER	       UINT64_MAX
#define MS	       UINT64_C(1000000)
#define SEC	       UINT64_C(1000000000)
#define CHUNK_SLOTS    256		       /* sessions allocated together */
#define ANSWERS	       16		       /* queued answers to datagrams for no session */
#define READ_CHUNK     4096		       /* bytes read from a stream at a time */
#define MSG_BUF	       1024		       /* our HelloAck, Dial, Close and Error messages */
#define DIAL_MSG_LIMIT 4096		       /* a DialResult is far smaller */
#define HELLO_LIMIT    (CW_MSG_HELLO_MAX + 16) /* the Envelope around a Hello */
#define OD_BUCKETS_MAX 65536		       /* buckets of the handshake map */
#define HEAP_MIN       64
#define HB_DEFAULT     600	   /* heartbeat_interval_s */
#define BODY_BUF       (64 * 1024) /* request bodies decoded without an allocation */

/* An API stream (§13.4) until its request is read and answered. */
struct api {
	struct api *next;
	uint64_t id;
	struct cw_msg_decoder dec;
};

/* A dial stream (§13.5) from cw_gw_dial() until GONE. */
struct dial {
	struct dial *next;
	uint64_t id;
	void *user;
	struct cw_msg_decoder dec; /* until DialResult */
	bool result, ok;
	bool over; /* no more READABLE / WRITABLE: failed, reset or aborted */
};

struct sess {
	struct cw_conn *c; /* NULL: the slot is free */
	uint32_t slot, heap_i;
	uint8_t cid[CW_CID_LEN];
	uint8_t od[CW_CID_LEN]; /* the DCID of the agent's first INITIALs */
	struct sess *od_next, *free_next, *dprev, *dnext;
	bool in_od, dirty;
	bool away; /* cfg.offload: its handshake runs elsewhere (c is NULL) */
	bool handshaking, established, hello, up, resumed;
	bool close_pending;
	bool unvalidated; /* the address came with a rebinding, not yet acknowledged */
	uint64_t amp_rx, amp_tx, val_pn;
	uint64_t deadline, hello_deadline, since;
	uint64_t session_id;
	struct cw_gw_addr addr;
	uint64_t bytes_in, bytes_out, heartbeats, hb_seq;
	uint64_t retx_seen; /* the connection's retransmits already in st */
	uint64_t close_code;
	char *close_reason; /* for the pending CONNECTION_CLOSE, allocated */
	size_t close_rlen;
	uint32_t dict_id, peer_msg_max;
	struct cw_msg_decoder ctl;
	struct dial *dials;
	struct api *apis;
	uint64_t freed_seen; /* streams freed when the dials were last checked */
	char node[CW_TLS_NODE_NAME_MAX + 1];
};

struct answer {
	struct cw_gw_addr to;
	size_t len;
	uint8_t b[CW_CONN_DGRAM_MAX];
};

struct cw_gw {
	struct cw_alloc a;
	const struct cw_alloc *ua; /* the caller's, for what may outlive @gw */
	uint8_t *body_buf;	   /* BODY_BUF bytes once a request body came, else NULL */
	struct cw_gw_cfg cfg;
	uint32_t dict[CW_GW_DICT_MAX];
	char version[CW_MSG_VERSION_MAX + 1];
	struct cw_conn_cfg conn_cfg;
	struct cw_streams_config sc;
	uint64_t idle_ms;
	struct cw_cid_codec cids;
	struct cw_aead retry;
	int64_t wall;

	struct sess **chunks;
	uint32_t nchunks, hwm;
	struct sess *free;

	struct sess **heap; /* min-heap of session deadlines */
	uint32_t heap_n, heap_cap;

	struct sess *dirty_head, *dirty_tail; /* may have datagrams to send */

	struct sess **od; /* handshaking sessions by the DCID of their INITIALs */
	uint32_t od_mask;
	uint64_t od_k0, od_k1;

	uint32_t hs_live;	/* sessions handshaking */
	uint32_t stop_retry_ms; /* Close.retry_after_ms of SHUTDOWN (cw_gw_shutdown) */
	uint32_t seq;
	uint64_t dial_seq;
	uint64_t reset_level, reset_last; /* token bucket, in 1e-9 resets */

	struct answer ans[ANSWERS];
	uint32_t ans_head, ans_n;
	uint8_t scratch[CW_HS_DGRAM_MAX];

	struct cw_gw_stats st;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static bool addr_eq(const struct cw_gw_addr *x, const struct cw_gw_addr *y)
{
	return x->family == y->family && x->port == y->port &&
	       !memcmp(x->addr, y->addr, x->family == 4 ? 4 : 16);
}

/* ---- slots ---- */

static uint32_t chunk_len(const struct cw_gw *gw, uint32_t k)
{
	uint32_t left = gw->cfg.max_sessions - k * CHUNK_SLOTS;

	return left < CHUNK_SLOTS ? left : CHUNK_SLOTS;
}

static struct sess *slot_get(const struct cw_gw *gw, uint32_t slot)
{
	return &gw->chunks[slot / CHUNK_SLOTS][slot % CHUNK_SLOTS];
}

/* A free slot, zeroed but for its index; NULL when all are taken. Slots go
 * back to the free list only when their session is freed (§11.3). */
static struct sess *slot_alloc(struct cw_gw *gw)
{
	struct sess *s = gw->free;
	uint32_t slot, k;

	if (s) {
		gw->free = s->free_next;
		slot = s->slot;
	} else {
		if (gw->hwm >= gw->cfg.max_sessions)
			return NULL;
		k = gw->hwm / CHUNK_SLOTS;
		if (!gw->chunks[k]) {
			size_t sz = sizeof(struct sess) * chunk_len(gw, k);

			gw->chunks[k] = gw->a.alloc(gw->a.ctx, sz);
			if (!gw->chunks[k])
				return NULL;
			memset(gw->chunks[k], 0, sz);
		}
		slot = gw->hwm++;
		s = slot_get(gw, slot);
	}
	memset(s, 0, sizeof(*s));
	s->slot = slot;
	return s;
}

static void slot_free(struct cw_gw *gw, struct sess *s)
{
	s->c = NULL;
	s->free_next = gw->free;
	gw->free = s;
}

/*
 * The last session is gone: give back the slot chunks and the deadline
 * heap, so that a gateway every agent left holds what a new one does. A
 * CID of a slot used before still decodes, finds slot >= hwm or a new
 * session with another nonce, and so matches nothing.
 */
static void slots_release(struct cw_gw *gw)
{
	for (uint32_t k = 0; k < gw->nchunks; k++)
		if (gw->chunks[k]) {
			gw->a.free(gw->a.ctx, gw->chunks[k],
				   sizeof(struct sess) * chunk_len(gw, k));
			gw->chunks[k] = NULL;
		}
	gw->hwm = 0;
	gw->free = NULL;
	if (gw->heap)
		gw->a.free(gw->a.ctx, gw->heap, sizeof(*gw->heap) * gw->heap_cap);
	gw->heap = NULL;
	gw->heap_cap = 0;
}

/* The live session whose gateway CID is @cid, or NULL (§4.2). A CID that
 * names another worker of this gateway sets *@owner to it (else -1): the
 * datagram is that worker's. */
static struct sess *by_cid(const struct cw_gw *gw, const uint8_t *cid, int *owner)
{
	struct sess *s;
	uint32_t slot;
	uint8_t worker;

	*owner = -1;
	if (cw_cid_decode(&gw->cids, cid, &worker, &slot, NULL) < 0)
		return NULL;
	if (worker != gw->cfg.worker) {
		if (worker < gw->cfg.n_workers)
			*owner = worker;
		return NULL;
	}
	if (slot >= gw->hwm)
		return NULL;
	s = slot_get(gw, slot);
	return (s->c || s->away) && !memcmp(s->cid, cid, CW_CID_LEN) ? s : NULL;
}

/* The slot session id @id names if it holds that session, else NULL. */
static struct sess *slot_of_id(const struct cw_gw *gw, uint64_t id)
{
	uint32_t slot = (uint32_t)(id & CW_CID_SLOT_MAX);
	struct sess *s;

	if (id >> 56 != gw->cfg.worker || slot >= gw->hwm)
		return NULL;
	s = slot_get(gw, slot);
	return s->session_id == id ? s : NULL;
}

/* The live session @id, its handshake here and its connection held. */
static struct sess *by_id(const struct cw_gw *gw, uint64_t id)
{
	struct sess *s = slot_of_id(gw, id);

	return s && s->c ? s : NULL;
}

/* Session @id while its handshake is away (cfg.offload). */
static struct sess *away_by_id(const struct cw_gw *gw, uint64_t id)
{
	struct sess *s = slot_of_id(gw, id);

	return s && s->away ? s : NULL;
}

/* ---- the handshake map: ODCID -> session ---- */

/* Keyed so that an agent cannot aim its DCIDs at one bucket. */
static uint32_t od_hash(const struct cw_gw *gw, const uint8_t *dcid)
{
	uint64_t x;

	memcpy(&x, dcid, sizeof(x));
	x = (x ^ gw->od_k0) * gw->od_k1;
	x ^= x >> 31;
	x *= UINT64_C(0x94d049bb133111eb);
	return (uint32_t)(x >> 32) & gw->od_mask;
}

static void od_add(struct cw_gw *gw, struct sess *s, const uint8_t *dcid)
{
	uint32_t h = od_hash(gw, dcid);

	memcpy(s->od, dcid, CW_CID_LEN);
	s->od_next = gw->od[h];
	gw->od[h] = s;
	s->in_od = true;
}

static void od_del(struct cw_gw *gw, struct sess *s)
{
	struct sess **p;

	if (!s->in_od)
		return;
	for (p = &gw->od[od_hash(gw, s->od)]; *p != s; p = &(*p)->od_next)
		;
	*p = s->od_next;
	s->in_od = false;
}

static struct sess *od_find(const struct cw_gw *gw, const uint8_t *dcid)
{
	struct sess *s;

	for (s = gw->od[od_hash(gw, dcid)]; s; s = s->od_next)
		if (!memcmp(s->od, dcid, CW_CID_LEN))
			return s;
	return NULL;
}

/* ---- deadlines: a binary min-heap ---- */

static void heap_set(struct cw_gw *gw, uint32_t i, struct sess *s)
{
	gw->heap[i] = s;
	s->heap_i = i;
}

static void heap_up(struct cw_gw *gw, uint32_t i)
{
	struct sess *s = gw->heap[i];

	while (i > 0 && gw->heap[(i - 1) / 2]->deadline > s->deadline) {
		heap_set(gw, i, gw->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(gw, i, s);
}

static void heap_down(struct cw_gw *gw, uint32_t i)
{
	struct sess *s = gw->heap[i];

	for (;;) {
		uint32_t k = 2 * i + 1;

		if (k >= gw->heap_n)
			break;
		if (k + 1 < gw->heap_n && gw->heap[k + 1]->deadline < gw->heap[k]->deadline)
			k++;
		if (gw->heap[k]->deadline >= s->deadline)
			break;
		heap_set(gw, i, gw->heap[k]);
		i = k;
	}
	heap_set(gw, i, s);
}

static int heap_add(struct cw_gw *gw, struct sess *s)
{
	if (gw->heap_n == gw->heap_cap) {
		uint32_t cap = gw->heap_cap ? gw->heap_cap * 2 : HEAP_MIN;
		struct sess **h = gw->a.alloc(gw->a.ctx, sizeof(*h) * cap);

		if (!h)
			return -ENOMEM;
		if (gw->heap_n)
			memcpy(h, gw->heap, sizeof(*h) * gw->heap_n);
		if (gw->heap)
			gw->a.free(gw->a.ctx, gw->heap, sizeof(*h) * gw->heap_cap);
		gw->heap = h;
		gw->heap_cap = cap;
	}
	s->deadline = NEVER;
	heap_set(gw, gw->heap_n++, s);
	return 0;
}

static void heap_del(struct cw_gw *gw, struct sess *s)
{
	uint32_t i = s->heap_i;
	struct sess *last = gw->heap[--gw->heap_n];

	if (last == s)
		return;
	heap_set(gw, i, last);
	heap_up(gw, i);
	heap_down(gw, last->heap_i);
}

static void heap_update(struct cw_gw *gw, struct sess *s, uint64_t t)
{
	uint64_t old = s->deadline;

	s->deadline = t;
	if (t < old)
		heap_up(gw, s->heap_i);
	else if (t > old)
		heap_down(gw, s->heap_i);
}

/* ---- the list of sessions that may have something to send ---- */

static void dirty_add(struct cw_gw *gw, struct sess *s)
{
	if (s->dirty)
		return;
	s->dirty = true;
	s->dnext = NULL;
	s->dprev = gw->dirty_tail;
	if (gw->dirty_tail)
		gw->dirty_tail->dnext = s;
	else
		gw->dirty_head = s;
	gw->dirty_tail = s;
}

static void dirty_del(struct cw_gw *gw, struct sess *s)
{
	if (!s->dirty)
		return;
	if (s->dprev)
		s->dprev->dnext = s->dnext;
	else
		gw->dirty_head = s->dnext;
	if (s->dnext)
		s->dnext->dprev = s->dprev;
	else
		gw->dirty_tail = s->dprev;
	s->dirty = false;
}

/* ---- answers to datagrams for no session ---- */

static struct answer *answer_room(struct cw_gw *gw)
{
	if (gw->ans_n == ANSWERS)
		return NULL;
	return &gw->ans[(gw->ans_head + gw->ans_n) % ANSWERS];
}

static void answer_commit(struct cw_gw *gw, struct answer *a, const struct cw_gw_addr *to,
			  size_t len)
{
	a->to = *to;
	a->len = len;
	gw->ans_n++;
}

/* The per-worker token bucket of stateless resets (§11.4). */
static bool reset_take(struct cw_gw *gw, uint64_t now)
{
	const uint64_t cap = CW_GW_RESET_PER_SEC * SEC;

	if (now > gw->reset_last) {
		uint64_t dt = now - gw->reset_last;

		gw->reset_level =
		    dt >= SEC ? cap : min_u64(cap, gw->reset_level + dt * CW_GW_RESET_PER_SEC);
		gw->reset_last = now;
	}
	if (gw->reset_level < SEC)
		return false;
	gw->reset_level -= SEC;
	return true;
}

static void answer_reset(struct cw_gw *gw, uint64_t now, const struct cw_gw_addr *from,
			 const uint8_t *d, size_t len)
{
	uint8_t tok[CW_RESET_TOKEN_LEN], rnd[CW_RESET_MAX_LEN];
	struct answer *a;
	int n;

	if (!gw->cfg.send_resets || len < CW_RESET_TRIGGER_MIN) {
		gw->st.screen_dropped++;
		return;
	}
	a = answer_room(gw);
	if (!a || !reset_take(gw, now)) {
		gw->st.resets_limited++;
		return;
	}
	if (cw_reset_token(gw->cfg.reset_key, d + 1, tok) < 0 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    (n = cw_reset_build(a->b, sizeof(a->b), len, tok, rnd, sizeof(rnd))) < 0) {
		gw->st.screen_dropped++;
		return;
	}
	answer_commit(gw, a, from, (size_t)n);
	gw->st.resets_sent++;
}

/*
 * §15.2: a long header of a version we do not speak, in a datagram that
 * could be a first flight (>= 1200 bytes), gets the list of ours. Never for
 * version 0, which is itself negotiation; rate-limited with the resets, as
 * both answer unauthenticated input. Returns true when @d was such a packet.
 */
static bool answer_version(struct cw_gw *gw, uint64_t now, const struct cw_gw_addr *from,
			   const uint8_t *d, size_t len)
{
	struct cw_hdr h;
	struct answer *a;
	size_t n = 0;

	if (cw_hdr_decode(d, len, &h) != -EPROTONOSUPPORT)
		return false;
	if (!h.version || len < CW_HS_INITIAL_MIN || !(a = answer_room(gw)) ||
	    !reset_take(gw, now)) {
		gw->st.screen_dropped++;
		return true;
	}
	a->b[n++] = 0xc0;
	memset(a->b + n, 0, 4);
	n += 4;
	a->b[n++] = (uint8_t)h.scid_len;
	memcpy(a->b + n, d + h.scid_off, h.scid_len);
	n += h.scid_len;
	a->b[n++] = (uint8_t)h.dcid_len;
	memcpy(a->b + n, d + h.dcid_off, h.dcid_len);
	n += h.dcid_len;
	a->b[n++] = (uint8_t)(CW_VERSION_1 >> 24);
	a->b[n++] = (uint8_t)(CW_VERSION_1 >> 16);
	a->b[n++] = (uint8_t)(CW_VERSION_1 >> 8);
	a->b[n++] = (uint8_t)CW_VERSION_1;
	answer_commit(gw, a, from, n);
	gw->st.vn_sent++;
	return true;
}

/* ---- sessions: state ---- */

static const struct cw_streams *streams_of(const struct sess *s)
{
	return cw_conn_streams(s->c);
}

static bool stream_exists(const struct sess *s, uint64_t id)
{
	struct cw_stream_info info;

	return cw_streams_info(streams_of(s), id, &info) == 0;
}

/* A stream error (§1): RESET_STREAM and STOP_SENDING with @code. Both
 * only fail for a stream that is gone already, which needs no abort. */
static void abort_stream(struct sess *s, uint64_t id, uint64_t code)
{
	(void)cw_conn_stream_reset(s->c, id, code);
	(void)cw_conn_stream_stop(s->c, id, code);
}

static void emit(struct cw_gw *gw, struct dial *d, enum cw_gw_dial_event ev, bool ok,
		 uint32_t error, const char *reason, uint64_t code)
{
	struct cw_gw_dial_status st = {ok, error, reason ? reason : "", code};

	if (gw->cfg.cb.on_dial)
		gw->cfg.cb.on_dial(gw->cfg.cb.ctx, d->user, ev, &st);
}

static void dial_free(struct cw_gw *gw, struct dial *d)
{
	cw_msg_decoder_free(&d->dec);
	gw->a.free(gw->a.ctx, d, sizeof(*d));
}

/* GONE for every dial whose stream the connection freed (§13.5: both
 * directions over). Cheap when no stream was freed since the last look. */
static void dials_gone(struct cw_gw *gw, struct sess *s)
{
	const struct cw_streams *t = streams_of(s);
	struct dial **p = &s->dials, *d, *gone = NULL;

	if (t->stats.freed == s->freed_seen)
		return;
	s->freed_seen = t->stats.freed;
	while ((d = *p)) {
		if (stream_exists(s, d->id)) {
			p = &d->next;
			continue;
		}
		*p = d->next;
		d->next = gone;
		gone = d;
	}
	/* Unlinked first: a callback may close the session, which walks the
	 * list. */
	while ((d = gone)) {
		gone = d->next;
		emit(gw, d, CW_GW_DIAL_GONE, d->ok, 0, "stream closed", 0);
		dial_free(gw, d);
	}
}

static void reheap(struct cw_gw *gw, struct sess *s)
{
	enum cw_conn_state st = cw_conn_state(s->c);
	uint64_t t = 0;

	if (st != CW_CONN_CLOSED) {
		t = cw_conn_next_timeout(s->c);
		if (s->established && !s->hello && !s->close_pending && st == CW_CONN_ESTABLISHED)
			t = min_u64(t, s->hello_deadline);
	}
	heap_update(gw, s, t);
}

/* Something changed that may let @s send: queue it for cw_gw_output(). */
static void touch(struct cw_gw *gw, struct sess *s)
{
	dials_gone(gw, s);
	dirty_add(gw, s);
	reheap(gw, s);
}

static void hs_end(struct cw_gw *gw, struct sess *s, uint64_t now)
{
	const struct cw_hs *hs = cw_conn_hs(s->c);
	const char *name = cw_conn_node_name(s->c);
	struct cw_hs_result r;

	s->handshaking = false;
	gw->hs_live--;
	od_del(gw, s);
	if (!name) {
		gw->st.hs_failed++;
		return;
	}
	s->established = true;
	strncpy(s->node, name, sizeof(s->node) - 1);
	if (hs && cw_hs_result(hs, &r) == 0) {
		s->resumed = r.resumed;
		OPENSSL_cleanse(&r, sizeof(r));
	}
	if (s->resumed)
		gw->st.hs_resumed++;
	else
		gw->st.hs_full++;
	s->hello_deadline = now + CW_GW_HELLO_TIMEOUT;
}

static ptrdiff_t encode(const cw_envelope *env, const struct sess *s, uint8_t *out)
{
	return cw_msg_encode(env, s->peer_msg_max ? s->peer_msg_max : CW_MSG_SIZE_FLOOR, out,
			     MSG_BUF);
}

/* Write a whole message on stream @id; 0, or a negative errno. */
static int write_msg(struct sess *s, uint64_t id, const cw_envelope *env)
{
	uint8_t b[MSG_BUF];
	ptrdiff_t n = encode(env, s, b);
	size_t w;
	int r;

	if (n < 0)
		return (int)n;
	r = cw_conn_stream_write(s->c, id, b, (size_t)n, &w);
	if (r < 0)
		return r;
	return w == (size_t)n ? 0 : -ENOBUFS;
}

/*
 * Close @s with @code. An application code after the handshake first goes
 * as a Close message on stream 0 (§11.3), which must leave before the
 * CONNECTION_CLOSE: cw_gw_output() sends what is queued, then closes. The
 * dial streams are reset so that the Close is not queued behind their
 * data.
 */
static void sess_close(struct cw_gw *gw, struct sess *s, uint64_t now, uint64_t code,
		       const char *reason)
{
	Causeway__V1__Close cl = CAUSEWAY__V1__CLOSE__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	char rbuf[CW_MSG_REASON_MAX + 1];
	size_t rlen = reason ? strnlen(reason, CW_MSG_REASON_MAX) : 0;

	if (s->close_pending || cw_conn_state(s->c) >= CW_CONN_CLOSING)
		return;
	if (code < CW_APP_ERROR_MIN || !s->established || !stream_exists(s, 0)) {
		cw_conn_close(s->c, now, code, reason);
		touch(gw, s);
		return;
	}
	memcpy(rbuf, reason ? reason : "", rlen);
	rbuf[rlen] = 0;
	cl.code = (uint32_t)code;
	cl.reason = rbuf;
	cl.retry_after_ms = code == CW_AE_SHUTDOWN ? gw->stop_retry_ms : 0;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_CLOSE;
	env.close = &cl;
	/* Best effort (SHOULD): the CONNECTION_CLOSE carries the code anyway. */
	(void)write_msg(s, 0, &env);
	for (struct dial *d = s->dials; d; d = d->next) {
		abort_stream(s, d->id, CW_SE_CANCELLED);
		d->over = true;
	}
	s->close_pending = true;
	s->close_code = code;
	s->close_reason = rlen ? gw->a.alloc(gw->a.ctx, rlen) : NULL;
	s->close_rlen = s->close_reason ? rlen : 0;
	if (s->close_reason)
		memcpy(s->close_reason, rbuf, rlen);
	touch(gw, s);
}

static void close_now(struct cw_gw *gw, struct sess *s, uint64_t now)
{
	char rbuf[CW_MSG_REASON_MAX + 1];

	memcpy(rbuf, s->close_reason ? s->close_reason : "", s->close_rlen);
	rbuf[s->close_rlen] = 0;
	if (s->close_reason)
		gw->a.free(gw->a.ctx, s->close_reason, s->close_rlen);
	s->close_reason = NULL;
	s->close_rlen = 0;
	s->close_pending = false;
	cw_conn_close(s->c, now, s->close_code, rbuf);
}

/* ---- the control stream (§13.3) ---- */

static uint32_t choose_dict(const struct cw_gw *gw, const Causeway__V1__Hello *h)
{
	for (size_t i = 0; i < h->n_dictionary_ids; i++)
		for (uint32_t k = 0; k < gw->cfg.n_dict; k++)
			if (h->dictionary_ids[i] == gw->dict[k])
				return gw->dict[k];
	return 0;
}

/* §9.6: the agent's limits; false when one is below its floor. */
static bool peer_params(struct sess *s, const Causeway__V1__TransportParams *tp)
{
	static const Causeway__V1__TransportParams none = CAUSEWAY__V1__TRANSPORT_PARAMS__INIT;

	if (!tp)
		tp = &none;
	if ((tp->max_udp_payload && tp->max_udp_payload < CW_CONN_DGRAM_MAX) ||
	    (tp->max_message_size &&
	     (tp->max_message_size < CW_MSG_SIZE_FLOOR || tp->max_message_size > CW_MSG_SIZE_MAX)))
		return false;
	if (cw_conn_set_peer_params(s->c, tp->initial_max_data, tp->initial_max_stream_data,
				    tp->initial_max_streams, tp->idle_timeout_ms) < 0)
		return false;
	s->peer_msg_max = tp->max_message_size ? tp->max_message_size : CW_MSG_SIZE_DEFAULT;
	return true;
}

static int send_hello_ack(struct cw_gw *gw, struct sess *s)
{
	Causeway__V1__TransportParams tp = CAUSEWAY__V1__TRANSPORT_PARAMS__INIT;
	Causeway__V1__HelloAck ack = CAUSEWAY__V1__HELLO_ACK__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	uint8_t tok[CW_RESET_TOKEN_LEN];

	tp.initial_max_data = gw->sc.max_data;
	tp.initial_max_stream_data = gw->sc.max_stream_data;
	tp.initial_max_streams = gw->sc.max_streams;
	tp.idle_timeout_ms = (uint32_t)gw->idle_ms;
	tp.max_udp_payload = CW_CONN_DGRAM_MAX;
	tp.max_message_size = CW_MSG_SIZE_DEFAULT;
	ack.node_name = s->node;
	ack.dictionary_id = s->dict_id;
	ack.transport = &tp;
	ack.gateway_version = gw->version;
	ack.session_id = s->session_id;
	if (gw->cfg.send_resets) {
		if (cw_reset_token(gw->cfg.reset_key, s->cid, tok) < 0)
			return -EIO;
		ack.stateless_reset_token = (ProtobufCBinaryData){sizeof(tok), tok};
	}
	ack.heartbeat_interval_s =
	    gw->cfg.heartbeat_interval_s ? gw->cfg.heartbeat_interval_s : HB_DEFAULT;
	ack.gateway_unix_ms = gw->wall > 0 ? (uint64_t)gw->wall * 1000 : 0;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_HELLO_ACK;
	env.hello_ack = &ack;
	return write_msg(s, 0, &env);
}

static void report_up(struct cw_gw *gw, struct sess *s, const Causeway__V1__Hello *h)
{
	struct cw_gw_session_info info = {
	    .session_id = s->session_id,
	    .slot = s->slot,
	    .worker = gw->cfg.worker,
	    .node_name = s->node,
	    .pool = h->pool ? h->pool : "",
	    .agent_version = h->agent_version ? h->agent_version : "",
	    .addr = s->addr,
	    .resumed = s->resumed,
	    .dictionary_id = s->dict_id,
	};

	for (size_t i = 0; i < h->n_allowed_ports && info.n_allowed < CW_GW_ALLOWED_MAX; i++)
		if (h->allowed_ports[i] && h->allowed_ports[i] <= UINT16_MAX)
			info.allowed_ports[info.n_allowed++] = (uint16_t)h->allowed_ports[i];
	s->up = true;
	if (gw->cfg.cb.on_session_up)
		gw->cfg.cb.on_session_up(gw->cfg.cb.ctx, &info);
}

static void on_hello(struct cw_gw *gw, struct sess *s, uint64_t now, const Causeway__V1__Hello *h)
{
	if (strcmp(h->node_name ? h->node_name : "", s->node) != 0) {
		gw->st.name_mismatch++;
		sess_close(gw, s, now, CW_AE_NODE_NAME_MISMATCH,
			   "Hello.node_name differs from the certificate");
		return;
	}
	if (!peer_params(s, h->transport)) {
		cw_conn_close(s->c, now, CW_TE_TRANSPORT_PARAMETER_ERROR, NULL);
		return;
	}
	s->hello = true;
	s->since = now;
	s->dict_id = choose_dict(gw, h);
	/* Hello is behind us: from here the limit we announce in HelloAck. */
	s->ctl.limit = CW_MSG_SIZE_DEFAULT;
	if (send_hello_ack(gw, s) < 0) {
		sess_close(gw, s, now, CW_AE_APPLICATION_INTERNAL, "HelloAck");
		return;
	}
	report_up(gw, s, h);
}

/* One message on stream 0 (§13.2); false when the session closes. */
static bool ctl_msg(struct cw_gw *gw, struct sess *s, uint64_t now, const cw_envelope *env)
{
	switch (env->msg_case) {
	case CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET:
		return true; /* a later version's message: ignored on stream 0 */
	case CAUSEWAY__V1__ENVELOPE__MSG_HELLO:
		if (s->hello)
			break;
		/* A Hello in the agent's last packets has no one to answer. */
		if (cw_conn_state(s->c) != CW_CONN_ESTABLISHED)
			return false;
		on_hello(gw, s, now, env->hello);
		return s->hello;
	case CAUSEWAY__V1__ENVELOPE__MSG_HEARTBEAT:
		if (!s->hello)
			break;
		s->heartbeats++;
		s->hb_seq = env->heartbeat->seq;
		gw->st.heartbeats++;
		return true;
	case CAUSEWAY__V1__ENVELOPE__MSG_CLOSE:
		if (!s->hello)
			break;
		/* The CONNECTION_CLOSE with the same code follows (§11.3), and
		 * ends the session. */
		gw->st.agent_closes++;
		return true;
	case CAUSEWAY__V1__ENVELOPE__MSG_PEER_PROBE:
		/* Results for the eviction guard, which does not ask for any yet. */
		if (!s->hello)
			break;
		return true;
	default:
		break;
	}
	sess_close(gw, s, now, CW_AE_CONTROL_STREAM_ERROR, "unexpected message on stream 0");
	return false;
}

/* Stream 0 is read while the session is open and while it drains: the
 * agent's Close may share a packet with its CONNECTION_CLOSE (§11.3). */
static bool ctl_open(const struct sess *s)
{
	enum cw_conn_state st = cw_conn_state(s->c);

	return !s->close_pending && (st == CW_CONN_ESTABLISHED || st == CW_CONN_DRAINING);
}

static void ctl_read(struct cw_gw *gw, struct sess *s, uint64_t now)
{
	uint8_t b[READ_CHUNK];
	uint64_t code;
	cw_envelope *env;
	size_t n, off;
	bool fin;

	while (ctl_open(s) && cw_conn_stream_read(s->c, 0, b, sizeof(b), &n, &fin, &code) == 0 &&
	       n) {
		for (off = 0; off < n;) {
			ptrdiff_t k = cw_msg_decode(&s->ctl, b + off, n - off, &env);
			bool go;

			if (k < 0) {
				sess_close(gw, s, now, CW_AE_CONTROL_STREAM_ERROR,
					   "malformed message on stream 0");
				return;
			}
			off += (size_t)k;
			if (!env)
				continue;
			go = ctl_msg(gw, s, now, env);
			cw_msg_free(&s->ctl, env);
			if (!go)
				return;
		}
	}
}

/* ---- streams the agent opened: API requests (§13.4) ---- */

/* Read and drop what arrives on @id until its end. */
static void drain(struct sess *s, uint64_t id)
{
	uint8_t b[READ_CHUNK];
	uint64_t code;
	size_t n;
	bool fin = false;

	while (!fin && cw_conn_stream_read(s->c, id, b, sizeof(b), &n, &fin, &code) == 0 && n)
		;
}

static struct api *api_find(const struct sess *s, uint64_t id)
{
	struct api *a;

	for (a = s->apis; a && a->id != id; a = a->next)
		;
	return a;
}

static void api_free(struct cw_gw *gw, struct sess *s, struct api *a)
{
	struct api **pp;

	for (pp = &s->apis; *pp != a; pp = &(*pp)->next)
		;
	*pp = a->next;
	cw_msg_decoder_free(&a->dec);
	gw->a.free(gw->a.ctx, a, sizeof(*a));
}

static struct api *api_new(struct cw_gw *gw, struct sess *s, uint64_t id)
{
	struct api *a = gw->a.alloc(gw->a.ctx, sizeof(*a));

	if (!a)
		return NULL;
	memset(a, 0, sizeof(*a));
	a->id = id;
	/* The caller's allocator, not our copy: a request handed over keeps
	 * this decoder and may outlive the gateway. */
	(void)cw_msg_decoder_init(&a->dec, gw->ua, CW_MSG_SIZE_DEFAULT); /* valid: cannot fail */
	a->next = s->apis;
	s->apis = a;
	return a;
}

/* Error{@code} then FIN; a stream that cannot take them is aborted. */
static void api_error(struct cw_gw *gw, struct sess *s, uint64_t id, uint64_t code,
		      const char *reason)
{
	Causeway__V1__Error er = CAUSEWAY__V1__ERROR__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	er.code = code;
	er.reason = (char *)reason;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_ERROR;
	env.error = &er;
	if (write_msg(s, id, &env) == 0 && cw_conn_stream_finish(s->c, id) == 0)
		gw->st.api_refused += code == CW_SE_REFUSED;
	else
		abort_stream(s, id, CW_SE_INTERNAL_ERROR);
}

/* 403 with a Kubernetes Status body, as kube-apiserver words a refusal. */
static void api_deny(struct sess *s, uint64_t id)
{
	static const char status[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	    "\"status\":\"Failure\",\"message\":\"denied by the gateway's route table\","
	    "\"reason\":\"Forbidden\",\"code\":403}";
	Causeway__V1__ApiResponse r = CAUSEWAY__V1__API_RESPONSE__INIT;
	Causeway__V1__Header h = CAUSEWAY__V1__HEADER__INIT, *hs[1] = {&h};
	Causeway__V1__Body body;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	h.name = "content-type";
	h.value = "application/json";
	cw_msg_body_identity(&body, status, sizeof(status) - 1);
	r.status = 403;
	r.n_headers = 1;
	r.headers = hs;
	r.body = &body;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
	env.api_response = &r;
	if (write_msg(s, id, &env) || cw_conn_stream_finish(s->c, id))
		abort_stream(s, id, CW_SE_INTERNAL_ERROR);
}

/*
 * Decode a request's body with the session's dictionary (§14). Nothing
 * here needs its bytes yet (the hub and the upstream will), so they are
 * checked, counted and freed. Returns 0 or the errors of
 * cw_msg_body_unpack_alloc().
 */
static int api_body(struct cw_gw *gw, const struct sess *s, const Causeway__V1__Body *body)
{
	ptrdiff_t len = cw_msg_body_len(body, CW_MSG_SIZE_DEFAULT), n;
	uint8_t *out;
	size_t big;
	int r;

	if (len < 0)
		return (int)len;
	/* Most bodies fit the worker's buffer: no allocation per request. */
	if ((size_t)len <= BODY_BUF) {
		if (!gw->body_buf && !(gw->body_buf = gw->a.alloc(gw->a.ctx, BODY_BUF)))
			return -ENOMEM;
		n = cw_msg_body_unpack(gw->cfg.compress, s->dict_id, body, gw->body_buf, BODY_BUF);
		if (n < 0)
			return (int)n;
		gw->st.body_bytes += (uint64_t)n;
		return 0;
	}
	r = cw_msg_body_unpack_alloc(gw->cfg.compress, s->dict_id, body, CW_MSG_SIZE_DEFAULT,
				     &gw->a, &out, &big);
	if (r < 0)
		return r;
	gw->st.body_bytes += big;
	gw->a.free(gw->a.ctx, out, big);
	return 0;
}

void cw_gw_api_req_free(struct cw_gw_api_req *r)
{
	if (!r)
		return;
	cw_msg_free(&r->dec, r->env);
	cw_msg_decoder_free(&r->dec);
	if (r->body_buf)
		r->a->free(r->a->ctx, r->body_buf, r->body_len);
	r->a->free(r->a->ctx, r, sizeof(*r));
}

/* The request of @a, its decoder and @env moved into a cw_gw_api_req;
 * @a keeps a fresh decoder. NULL when out of memory. */
static struct cw_gw_api_req *api_req_new(struct cw_gw *gw, const struct sess *s, struct api *a,
					 cw_envelope *env)
{
	struct cw_gw_api_req *r = gw->ua->alloc(gw->ua->ctx, sizeof(*r));

	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->a = gw->ua;
	r->session_id = s->session_id;
	r->stream = a->id;
	r->dict_id = s->dict_id;
	r->peer_msg_max = s->peer_msg_max ? s->peer_msg_max : CW_MSG_SIZE_FLOOR;
	memcpy(r->node_buf, s->node, sizeof(r->node_buf));
	r->node = r->node_buf;
	r->rq = env->api_request;
	r->env = env;
	r->dec = a->dec;
	(void)cw_msg_decoder_init(&a->dec, gw->ua, CW_MSG_SIZE_DEFAULT);
	return r;
}

/* The body of a request handed over: decoded into an allocation of its own. */
static int api_req_body(struct cw_gw *gw, const struct sess *s, struct cw_gw_api_req *r)
{
	size_t len;
	int rc = cw_msg_body_unpack_alloc(gw->cfg.compress, s->dict_id, r->rq->body,
					  CW_MSG_SIZE_DEFAULT, gw->ua, &r->body_buf, &len);

	if (rc < 0)
		return rc;
	r->body = r->body_buf;
	r->body_len = len;
	gw->st.body_bytes += len;
	return 0;
}

/*
 * Hand request @r to the caller; its stream goes on as a channel (a dial
 * record already past its result). Returns 0, or -ENOMEM / the caller's
 * refusal (@r is still ours).
 */
static int api_forward(struct cw_gw *gw, struct sess *s, struct cw_gw_api_req *r)
{
	struct dial *d = gw->a.alloc(gw->a.ctx, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	d->id = r->stream;
	d->result = d->ok = true;
	rc = gw->cfg.cb.api_open(gw->cfg.cb.ctx, r, &d->user);
	if (rc < 0) {
		gw->a.free(gw->a.ctx, d, sizeof(*d));
		return rc;
	}
	d->next = s->dials;
	s->dials = d;
	gw->st.api_forwarded++;
	return 0;
}

static int route_of(struct cw_gw *gw, const Causeway__V1__ApiRequest *rq)
{
	return gw->cfg.cb.route ? gw->cfg.cb.route(gw->cfg.cb.ctx, rq->verb, strlen(rq->verb),
						   rq->path, strlen(rq->path))
				: -ENOENT;
}

/*
 * The request is whole: route it by method and path. Denied requests get
 * their 403 here; hub and upstream requests go to the caller, request and
 * body handed over (api_open); without a taker they get Error{REFUSED} and
 * the agent serves from its cache. Returns true when @env is no longer
 * @a's to free.
 */
static bool api_request(struct cw_gw *gw, struct sess *s, struct api *a, cw_envelope *env)
{
	const Causeway__V1__ApiRequest *rq = env->api_request;
	struct cw_gw_api_req *req = NULL;
	uint64_t id = a->id;
	int r;

	if (env->msg_case != CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST) {
		gw->st.api_bad++;
		abort_stream(s, id,
			     env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET
				 ? CW_SE_UNSUPPORTED
				 : CW_SE_UNEXPECTED_MESSAGE);
		return false;
	}
	r = route_of(gw, rq);
	if ((r == CW_GW_ROUTE_HUB || r == CW_GW_ROUTE_UPSTREAM) && gw->cfg.cb.api_open &&
	    (req = api_req_new(gw, s, a, env)))
		req->route = (enum cw_gw_route)r;
	if (rq->body && gw->cfg.compress &&
	    (req ? api_req_body(gw, s, req) : api_body(gw, s, rq->body)) < 0) {
		gw->st.body_failed++;
		abort_stream(s, id, CW_SE_DECOMPRESSION_FAILED);
		goto refused;
	}
	if (r >= 0 && r < CW_GW_N_ROUTES)
		gw->st.routed[r]++;
	if (r == CW_GW_ROUTE_DENY)
		api_deny(s, id);
	else if (req && api_forward(gw, s, req) == 0)
		return true;
	else
		api_error(gw, s, id, CW_SE_REFUSED, "the gateway does not take this request now");
refused:
	cw_gw_api_req_free(req);
	return req != NULL;
}

/* Read the request of @a; once it is whole, answer and forget @a. */
static void api_read(struct cw_gw *gw, struct sess *s, struct api *a)
{
	uint8_t b[READ_CHUNK];
	uint64_t id = a->id, code;
	cw_envelope *env = NULL;
	size_t n, off = 0;
	ptrdiff_t k = 0;
	bool fin = false;
	int rc = 0;

	while (!env && !fin &&
	       (rc = cw_conn_stream_read(s->c, id, b, sizeof(b), &n, &fin, &code)) == 0) {
		for (off = 0; off < n && !env; off += (size_t)k)
			if ((k = cw_msg_decode(&a->dec, b + off, n - off, &env)) < 0)
				break;
		if (k < 0)
			break;
	}
	if (rc == -EAGAIN)
		return; /* more to come */
	if (rc < 0) {
		api_free(gw, s, a); /* reset or stopped: nobody waits for an answer */
		return;
	}
	if (k < 0 || (fin && !env)) {
		gw->st.api_bad++;
		abort_stream(s, id,
			     k == -EMSGSIZE ? CW_SE_MESSAGE_TOO_LARGE : CW_SE_MESSAGE_DECODE_ERROR);
	} else if (env) {
		if (!api_request(gw, s, a, env))
			cw_msg_free(&a->dec, env);
	} else {
		return; /* the rest of the request is still to come */
	}
	api_free(gw, s, a);
	drain(s, id);
}

static void api_stream(struct cw_gw *gw, struct sess *s, uint64_t id, unsigned ev)
{
	struct api *a = api_find(s, id);

	if (!a && (ev & CW_STREAM_EV_NEW) && !(a = api_new(gw, s, id)))
		abort_stream(s, id, CW_SE_INTERNAL_ERROR);
	if (a)
		api_read(gw, s, a);
	else
		drain(s, id);
}

/* ---- dial streams (§13.5) ---- */

static struct dial *dial_find(const struct sess *s, uint64_t id)
{
	struct dial *d;

	for (d = s->dials; d && d->id != id; d = d->next)
		;
	return d;
}

/* The dial failed before its raw phase: RESULT !ok, then abort with @code. */
static void dial_fail(struct cw_gw *gw, struct sess *s, struct dial *d, uint64_t code,
		      const char *reason)
{
	d->result = true;
	d->over = true;
	gw->st.dials_failed++;
	abort_stream(s, d->id, code);
	emit(gw, d, CW_GW_DIAL_RESULT, false, CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_INTERNAL, reason,
	     0);
}

/* The agent's bytes are ready for the caller: after DialResult{ok} they
 * may already be buffered, with no further event to come. */
static void maybe_readable(struct cw_gw *gw, struct sess *s, struct dial *d)
{
	struct cw_stream_info info;

	if (cw_streams_info(streams_of(s), d->id, &info) == 0 &&
	    (info.rx_readable || info.rx == CW_STREAM_RX_DATA_RECVD))
		emit(gw, d, CW_GW_DIAL_READABLE, true, 0, NULL, 0);
}

static void dial_answer(struct cw_gw *gw, struct sess *s, struct dial *d, const cw_envelope *env)
{
	const Causeway__V1__DialResult *r = env->dial_result;

	if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET) {
		dial_fail(gw, s, d, CW_SE_UNSUPPORTED, "unknown message instead of DialResult");
		return;
	}
	if (env->msg_case != CAUSEWAY__V1__ENVELOPE__MSG_DIAL_RESULT &&
	    env->msg_case != CAUSEWAY__V1__ENVELOPE__MSG_ERROR) {
		dial_fail(gw, s, d, CW_SE_UNEXPECTED_MESSAGE,
			  "unexpected message instead of DialResult");
		return;
	}
	d->result = true;
	if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_DIAL_RESULT && r->ok) {
		d->ok = true;
		emit(gw, d, CW_GW_DIAL_RESULT, true, 0, r->reason, 0);
		maybe_readable(gw, s, d);
		return;
	}
	/* Refused: the agent finishes its side; so do we (§13.5). A stream
	 * the agent stopped cannot be finished, and needs no FIN. */
	d->over = true;
	gw->st.dials_failed++;
	(void)cw_conn_stream_finish(s->c, d->id);
	drain(s, d->id);
	if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_ERROR)
		emit(gw, d, CW_GW_DIAL_RESULT, false, CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_INTERNAL,
		     env->error->reason, 0);
	else
		emit(gw, d, CW_GW_DIAL_RESULT, false,
		     r->error ? (uint32_t)r->error : CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_INTERNAL,
		     r->reason, 0);
}

/* Read DialResult, never a byte past it: what follows is the raw phase. */
static void dial_read_result(struct cw_gw *gw, struct sess *s, struct dial *d)
{
	uint8_t b[READ_CHUNK];
	cw_envelope *env;
	uint64_t code;
	size_t want, n;
	ptrdiff_t k;
	bool fin;

	while (!d->result) {
		want = d->dec.len ? d->dec.len - d->dec.have : 1;
		if (cw_conn_stream_read(s->c, d->id, b, min_u64(want, sizeof(b)), &n, &fin, &code))
			return;
		k = cw_msg_decode(&d->dec, b, n, &env);
		if (k < 0) {
			dial_fail(gw, s, d,
				  k == -EMSGSIZE ? CW_SE_MESSAGE_TOO_LARGE
				  : k == -ENOMEM ? CW_SE_INTERNAL_ERROR
						 : CW_SE_MESSAGE_DECODE_ERROR,
				  "malformed DialResult");
			return;
		}
		if (env) {
			dial_answer(gw, s, d, env);
			cw_msg_free(&d->dec, env);
			cw_msg_decoder_free(&d->dec);
			return;
		}
		if (fin) {
			dial_fail(gw, s, d, CW_SE_MESSAGE_DECODE_ERROR,
				  "stream ended before DialResult");
			return;
		}
	}
}

static void dial_event(struct cw_gw *gw, struct sess *s, uint64_t id, unsigned ev)
{
	struct dial *d = dial_find(s, id);
	struct cw_stream_info info;

	if (!d || d->over) {
		drain(s, id);
		return;
	}
	if (cw_streams_info(streams_of(s), id, &info) < 0)
		return;
	if (info.rx == CW_STREAM_RX_RESET_RECVD || (ev & CW_STREAM_EV_STOPPED)) {
		uint64_t code =
		    info.rx == CW_STREAM_RX_RESET_RECVD ? info.reset_code : info.stop_code;

		/* The relayed connection is gone (§13.5 abort): end both ways. */
		d->over = true;
		if (!d->result)
			gw->st.dials_failed++;
		abort_stream(s, id, code);
		emit(gw, d, CW_GW_DIAL_RESET, d->ok, 0, "reset by the agent", code);
		return;
	}
	if (!d->result) {
		if (ev & CW_STREAM_EV_READABLE)
			dial_read_result(gw, s, d);
		return;
	}
	if (ev & CW_STREAM_EV_READABLE)
		emit(gw, d, CW_GW_DIAL_READABLE, true, 0, NULL, 0);
	if ((ev & CW_STREAM_EV_WRITABLE) && !d->over)
		emit(gw, d, CW_GW_DIAL_WRITABLE, true, 0, NULL, 0);
}

static void sess_events(struct cw_gw *gw, struct sess *s, uint64_t now)
{
	unsigned ev;
	uint64_t id;

	while (cw_conn_next_event(s->c, &id, &ev) == 0) {
		if (id == CW_STREAMS_CONTROL_ID)
			ctl_read(gw, s, now);
		else if ((id & 3) == 1 || dial_find(s, id)) /* dial or forwarded API stream */
			dial_event(gw, s, id, ev);
		else
			api_stream(gw, s, id, ev);
	}
}

/* After the connection moved (input, timers): follow its state. */
static void sess_sync(struct cw_gw *gw, struct sess *s, uint64_t now)
{
	enum cw_conn_state st = cw_conn_state(s->c);

	if (s->handshaking && st != CW_CONN_HANDSHAKING)
		hs_end(gw, s, now);
	if (s->established)
		sess_events(gw, s, now);
	if (s->established && !s->hello && !s->close_pending &&
	    cw_conn_state(s->c) == CW_CONN_ESTABLISHED && now >= s->hello_deadline) {
		gw->st.hello_timeout++;
		sess_close(gw, s, now, CW_AE_HELLO_TIMEOUT, "no Hello within 10 s");
	}
	touch(gw, s);
}

/* ---- sessions: birth and death ---- */

static void sess_free(struct cw_gw *gw, struct sess *s, bool report)
{
	struct dial *d;

	while (s->apis)
		api_free(gw, s, s->apis);
	while ((d = s->dials)) {
		s->dials = d->next;
		if (report)
			emit(gw, d, CW_GW_DIAL_GONE, d->ok, 0, "session ended", 0);
		dial_free(gw, d);
	}
	if (report && s->up && gw->cfg.cb.on_session_down) {
		enum cw_conn_end end = cw_conn_end(s->c);

		gw->cfg.cb.on_session_down(gw->cfg.cb.ctx, s->session_id, s->node, end,
					   cw_conn_close_code(s->c, end != CW_CONN_END_PEER));
	}
	if (s->handshaking)
		gw->hs_live--;
	od_del(gw, s);
	heap_del(gw, s);
	dirty_del(gw, s);
	cw_conn_free(s->c);
	cw_msg_decoder_free(&s->ctl);
	if (s->close_reason)
		gw->a.free(gw->a.ctx, s->close_reason, s->close_rlen);
	gw->st.sessions--;
	slot_free(gw, s);
	if (!gw->st.sessions)
		slots_release(gw);
}

/* A session the handshake of an accepted INITIAL created is now counted. */
static void sess_born(struct cw_gw *gw, struct sess *s, const struct cw_gw_addr *from,
		      const struct cw_hs_screen *scr, size_t len)
{
	s->addr = *from;
	s->bytes_in = len;
	s->handshaking = true;
	gw->hs_live++;
	gw->st.hs_started++;
	gw->st.sessions++;
	od_add(gw, s, scr->dcid);
}

/* The slot of a session away that will not come back, or never left. */
static void away_free(struct cw_gw *gw, struct sess *s)
{
	s->away = false;
	s->handshaking = false;
	gw->hs_live--;
	gw->st.sessions--;
	od_del(gw, s);
	slot_free(gw, s);
	if (!gw->st.sessions)
		slots_release(gw);
}

/* cfg.offload: the caller runs the handshake; this worker keeps the slot. */
static void sess_send_away(struct cw_gw *gw, struct sess *s, const struct cw_gw_addr *from,
			   const struct cw_hs_screen *scr, uint64_t seed, const uint8_t *d,
			   size_t len)
{
	struct cw_gw_hs_job job = {
	    .session_id = s->session_id, .from = *from, .scr = *scr, .seed = seed};

	memcpy(job.cid, s->cid, CW_CID_LEN);
	if (gw->cfg.cb.hs_start(gw->cfg.cb.ctx, &job, d, len) < 0) {
		gw->st.hs_refused++;
		slot_free(gw, s);
		return;
	}
	s->away = true;
	gw->st.hs_away++;
	sess_born(gw, s, from, scr, len);
}

static void sess_new(struct cw_gw *gw, uint64_t now, const struct cw_gw_addr *from,
		     const struct cw_hs_screen *scr, uint8_t *d, size_t len)
{
	struct cw_hs_gateway_cfg hc = {.alloc = &gw->a, .tls = gw->cfg.tls, .wall_time = gw->wall};
	struct cw_conn_cfg cc = gw->conn_cfg;
	struct sess *s = slot_alloc(gw);
	uint32_t nonce;

	if (!s) {
		gw->st.slots_full++;
		return;
	}
	if (RAND_bytes((uint8_t *)&nonce, sizeof(nonce)) != 1 ||
	    RAND_bytes((uint8_t *)&cc.seed, sizeof(cc.seed)) != 1 ||
	    cw_cid_encode(&gw->cids, gw->cfg.worker, s->slot, nonce, s->cid) < 0) {
		gw->st.screen_dropped++;
		slot_free(gw, s);
		return;
	}
	s->session_id = (uint64_t)gw->cfg.worker << 56 | (uint64_t)++gw->seq << 24 | s->slot;
	if (gw->cfg.offload) {
		sess_send_away(gw, s, from, scr, cc.seed, d, len);
		return;
	}
	if (heap_add(gw, s) < 0) {
		gw->st.screen_dropped++;
		slot_free(gw, s);
		return;
	}
	memcpy(hc.cid, s->cid, CW_CID_LEN);
	if (cw_conn_gateway_new(&cc, &hc, scr, d, len, now, &s->c) < 0) {
		/* -EBADMSG: nothing authenticated; else out of memory. */
		gw->st.screen_dropped++;
		heap_del(gw, s);
		slot_free(gw, s);
		return;
	}
	(void)cw_msg_decoder_init(&s->ctl, &gw->a, HELLO_LIMIT); /* a valid limit: cannot fail */
	sess_born(gw, s, from, scr, len);
	sess_sync(gw, s, now);
}

/* ---- input ---- */

static void screen(struct cw_gw *gw, uint64_t now, const struct cw_gw_addr *from, uint8_t *d,
		   size_t len)
{
	bool retry = gw->cfg.retry == CW_GW_RETRY_ALWAYS ||
		     (gw->cfg.retry == CW_GW_RETRY_UNDER_LOAD && gw->hs_live > gw->cfg.retry_load);
	struct cw_hs_peer peer = {from->family == 4 ? CW_TOKEN_IPV4 : CW_TOKEN_IPV6, from->addr,
				  from->port};
	struct answer *a = answer_room(gw);
	uint8_t *out = a ? a->b : gw->scratch, scid[CW_CID_LEN];
	struct cw_hs_screen scr;
	int v;

	if (RAND_bytes(scid, sizeof(scid)) != 1) {
		gw->st.screen_dropped++;
		return;
	}
	v = cw_hs_screen(d, len, &peer, now, gw->cfg.tokens, &gw->retry,
			 retry ? CW_RETRY_ALWAYS : CW_RETRY_NEVER, scid, out, CW_HS_DGRAM_MAX,
			 &scr);
	switch (v) {
	case CW_HS_V_ACCEPT:
		sess_new(gw, now, from, &scr, d, len);
		return;
	case CW_HS_V_SEND_RETRY:
	case CW_HS_V_SEND_CLOSE:
		if (!a)
			break;
		answer_commit(gw, a, from, scr.out_len);
		if (v == CW_HS_V_SEND_RETRY)
			gw->st.retries_sent++;
		else
			gw->st.invalid_token++;
		return;
	default:
		break;
	}
	gw->st.screen_dropped++;
}

/*
 * §11.5: the newest authenticated packet came from @to: send there from
 * now on. The address is unvalidated, held to 3 times the bytes received
 * from it, until a packet from it acknowledges one sent to it, so that an
 * on-path attacker rewriting source addresses cannot aim the session's
 * traffic at a third party.
 */
static void move(struct cw_gw *gw, struct sess *s, const struct cw_gw_addr *to, size_t len)
{
	cw_conn_path_changed(s->c, to->family != s->addr.family ||
				       memcmp(to->addr, s->addr.addr, sizeof(to->addr)) != 0);
	s->addr = *to;
	s->unvalidated = true;
	s->amp_rx = len;
	s->amp_tx = 0;
	s->val_pn = cw_conn_next_pn(s->c);
	gw->st.addr_changes++;
	if (s->up && gw->cfg.cb.on_session_addr)
		gw->cfg.cb.on_session_addr(gw->cfg.cb.ctx, s->session_id, s->node, to);
}

/* A datagram of session @s from @from. */
static void sess_input(struct cw_gw *gw, struct sess *s, uint64_t now,
		       const struct cw_gw_addr *from, uint8_t *d, size_t len, bool is_short)
{
	const struct cw_conn_stats *cs;
	uint64_t dropped, failed;
	bool here = addr_eq(from, &s->addr);

	if (s->away) {
		s->bytes_in += len;
		if (gw->cfg.cb.hs_input(gw->cfg.cb.ctx, s->session_id, from, d, len) < 0)
			gw->st.hs_forward_failed++;
		else
			gw->st.hs_forwarded++;
		return;
	}
	if (cw_conn_state(s->c) == CW_CONN_CLOSED)
		return;
	cs = cw_conn_stats(s->c);
	dropped = cs->dropped;
	failed = cs->auth_failed;
	s->bytes_in += len;
	if (here)
		s->amp_rx += len;
	(void)cw_conn_recv(s->c, now, d, len); /* only -EINVAL, for arguments we checked */
	gw->st.decrypt_failed += cs->auth_failed - failed;
	gw->st.pkts_dropped += cs->dropped - dropped;
	if (is_short && !here && cw_conn_rx_largest(s->c))
		move(gw, s, from, len);
	else if (here && s->unvalidated && cw_conn_largest_acked(s->c) != CW_PN_NONE &&
		 cw_conn_largest_acked(s->c) >= s->val_pn)
		s->unvalidated = false;
	sess_sync(gw, s, now);
}

int cw_gw_input(struct cw_gw *gw, uint64_t now, const struct cw_gw_addr *from, uint8_t *dgram,
		size_t len)
{
	struct sess *s;
	int owner;

	if (!gw || !from || !dgram || (from->family != 4 && from->family != 6))
		return -EINVAL;
	if (len < 1 + CW_CID_LEN) {
		gw->st.screen_dropped++;
		return 0;
	}
	if (!(dgram[0] & 0x80)) {
		s = by_cid(gw, dgram + 1, &owner);
		if (s)
			sess_input(gw, s, now, from, dgram, len, true);
		else if (owner >= 0)
			return 1 + owner;
		else
			answer_reset(gw, now, from, dgram, len);
		return 0;
	}
	/* Long header: first byte, version, DCID length, DCID (§5.2). */
	if (len >= 5 && ((uint32_t)dgram[1] << 24 | (uint32_t)dgram[2] << 16 |
			 (uint32_t)dgram[3] << 8 | dgram[4]) != CW_VERSION_1) {
		if (!answer_version(gw, now, from, dgram, len))
			gw->st.screen_dropped++;
		return 0;
	}
	if (len < 6 + CW_CID_LEN || dgram[5] != CW_CID_LEN) {
		gw->st.screen_dropped++;
		return 0;
	}
	s = by_cid(gw, dgram + 6, &owner);
	if (!s && owner >= 0)
		return 1 + owner;
	if (!s)
		s = od_find(gw, dgram + 6);
	if (!s) {
		screen(gw, now, from, dgram, len);
		return 0;
	}
	if (!addr_eq(from, &s->addr)) {
		gw->st.wrong_addr++;
		return 0;
	}
	sess_input(gw, s, now, from, dgram, len, false);
	return 0;
}

int cw_gw_adopt(struct cw_gw *gw, uint64_t now, uint64_t session_id, struct cw_conn *c,
		uint64_t sent)
{
	struct sess *s;

	if (!gw)
		return -EINVAL;
	s = away_by_id(gw, session_id);
	if (!s)
		return -ENOENT;
	if (!c) {
		gw->st.hs_refused++;
		away_free(gw, s);
		return 0;
	}
	if (heap_add(gw, s) < 0) {
		cw_conn_free(c);
		away_free(gw, s);
		return -ENOMEM;
	}
	s->away = false;
	s->c = c;
	s->bytes_out += sent;
	(void)cw_msg_decoder_init(&s->ctl, &gw->a, HELLO_LIMIT); /* a valid limit: cannot fail */
	sess_sync(gw, s, now);
	return 0;
}

/* ---- output and timers ---- */

static int sess_send(struct cw_gw *gw, struct sess *s, uint64_t now, uint8_t *out, size_t cap)
{
	uint64_t retx;
	int n;

	/* The limit may be passed by one datagram: one that fits nothing
	 * would leave the address unable to ever validate. */
	if (s->unvalidated && s->amp_tx >= CW_HS_AMP_FACTOR * s->amp_rx) {
		gw->st.amp_limited++;
		return 0;
	}
	for (;;) {
		n = cw_conn_send(s->c, now, out, cap);
		if (n < 0)
			n = 0; /* a handshake failure: its state says the rest */
		if (s->handshaking && cw_conn_state(s->c) != CW_CONN_HANDSHAKING)
			hs_end(gw, s, now);
		if (n || !s->close_pending)
			break;
		/* The Close message went as far as it could: now the frame. */
		close_now(gw, s, now);
	}
	s->bytes_out += (uint64_t)n;
	s->amp_tx += (uint64_t)n;
	retx = cw_conn_stats(s->c)->retransmits;
	gw->st.retransmits += retx - s->retx_seen;
	s->retx_seen = retx;
	reheap(gw, s);
	return n;
}

int cw_gw_output(struct cw_gw *gw, uint64_t now, uint8_t *out, size_t cap, struct cw_gw_addr *to)
{
	struct sess *s;
	int n;

	if (!gw || !out || !to || cap < CW_CONN_DGRAM_MAX)
		return -EINVAL;
	if (gw->ans_n) {
		struct answer *a = &gw->ans[gw->ans_head];

		gw->ans_head = (gw->ans_head + 1) % ANSWERS;
		gw->ans_n--;
		memcpy(out, a->b, a->len);
		*to = a->to;
		return (int)a->len;
	}
	while ((s = gw->dirty_head)) {
		n = sess_send(gw, s, now, out, cap);
		dirty_del(gw, s);
		if (n > 0) {
			/* To the back: sessions take turns datagram by datagram. */
			dirty_add(gw, s);
			*to = s->addr;
			return n;
		}
	}
	return 0;
}

uint64_t cw_gw_next_timeout(const struct cw_gw *gw)
{
	return gw && gw->heap_n ? gw->heap[0]->deadline : NEVER;
}

void cw_gw_on_timeout(struct cw_gw *gw, uint64_t now)
{
	struct sess *s;

	if (!gw)
		return;
	while (gw->heap_n && (s = gw->heap[0])->deadline <= now) {
		if (cw_conn_state(s->c) != CW_CONN_CLOSED) {
			cw_conn_on_timeout(s->c, now);
			sess_sync(gw, s, now);
		}
		if (cw_conn_state(s->c) == CW_CONN_CLOSED) {
			sess_free(gw, s, true);
			continue;
		}
		/* Still due (an ACK or a pacing slot only cw_gw_output() can use):
		 * come back after the caller's next output round. */
		if (s->deadline <= now)
			heap_update(gw, s, now + 1);
	}
}

/* ---- the caller's calls ---- */

int cw_gw_close_session(struct cw_gw *gw, uint64_t now, uint64_t session_id, uint64_t code,
			const char *reason)
{
	struct sess *s = gw ? by_id(gw, session_id) : NULL;

	if (!s)
		return -ENOENT;
	if (code == CW_AE_SESSION_REPLACED && !s->close_pending &&
	    cw_conn_state(s->c) < CW_CONN_CLOSING)
		gw->st.replaced++;
	sess_close(gw, s, now, code, reason);
	return 0;
}

unsigned cw_gw_shutdown(struct cw_gw *gw, uint64_t now, uint32_t retry_after_ms)
{
	unsigned n = 0;

	if (!gw)
		return 0;
	gw->stop_retry_ms = retry_after_ms;
	for (uint32_t i = 0; i < gw->hwm; i++) {
		struct sess *s = slot_get(gw, i);

		if (!s->c || s->close_pending || cw_conn_state(s->c) >= CW_CONN_CLOSING)
			continue;
		sess_close(gw, s, now, CW_AE_SHUTDOWN, "gateway stopping");
		n++;
	}
	return n;
}

static struct sess *live_up(const struct cw_gw *gw, uint64_t session_id)
{
	struct sess *s = by_id(gw, session_id);

	return s && s->up && !s->close_pending && cw_conn_state(s->c) == CW_CONN_ESTABLISHED ? s
											     : NULL;
}

int cw_gw_dial(struct cw_gw *gw, uint64_t now, uint64_t session_id, const char *host, uint16_t port,
	       uint32_t timeout_ms, const char *origin, void *user, uint64_t *stream)
{
	Causeway__V1__Dial dm = CAUSEWAY__V1__DIAL__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	uint8_t b[MSG_BUF];
	struct dial *d;
	struct sess *s;
	ptrdiff_t n;
	size_t w;
	int r;

	(void)now;
	if (!gw || !stream || !port)
		return -EINVAL;
	s = live_up(gw, session_id);
	if (!s)
		return -ENOENT;
	dm.request_id = ++gw->dial_seq;
	dm.host = (char *)(host ? host : "");
	dm.port = port;
	dm.timeout_ms = timeout_ms;
	dm.origin = (char *)(origin ? origin : "");
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_DIAL;
	env.dial = &dm;
	n = encode(&env, s, b);
	if (n < 0)
		return -EINVAL;
	d = gw->a.alloc(gw->a.ctx, sizeof(*d));
	if (!d)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	(void)cw_msg_decoder_init(&d->dec, &gw->a, DIAL_MSG_LIMIT); /* a valid limit: cannot fail */
	r = cw_conn_stream_open(s->c, &d->id);
	if (r < 0) {
		dial_free(gw, d);
		return r == -ENOSPC ? -EAGAIN : r;
	}
	r = cw_conn_stream_write(s->c, d->id, b, (size_t)n, &w);
	if (r < 0 || w != (size_t)n) {
		/* A fresh stream takes a small message whole: out of memory. */
		abort_stream(s, d->id, CW_SE_INTERNAL_ERROR);
		dial_free(gw, d);
		touch(gw, s);
		return -ENOMEM;
	}
	d->user = user;
	d->next = s->dials;
	s->dials = d;
	gw->st.dials++;
	*stream = d->id;
	touch(gw, s);
	return 0;
}

/* The session and dial of a dial call, or -ENOENT. */
static int dial_of(struct cw_gw *gw, uint64_t session_id, uint64_t stream, struct sess **s,
		   struct dial **d)
{
	*s = gw ? by_id(gw, session_id) : NULL;
	*d = *s && (*s)->established ? dial_find(*s, stream) : NULL;
	return *d ? 0 : -ENOENT;
}

/* A dial whose raw bytes may move: -ENOENT, -EPIPE (over), -EAGAIN (no
 * DialResult ok yet), else 0. */
static int dial_io(struct cw_gw *gw, uint64_t session_id, uint64_t stream, struct sess **s,
		   struct dial **d)
{
	if (dial_of(gw, session_id, stream, s, d))
		return -ENOENT;
	if ((*d)->over)
		return -EPIPE;
	return (*d)->ok ? 0 : -EAGAIN;
}

int cw_gw_dial_write(struct cw_gw *gw, uint64_t session_id, uint64_t stream, const uint8_t *data,
		     size_t len, size_t *n)
{
	struct sess *s;
	struct dial *d;
	int r;

	if (!n || (!data && len))
		return -EINVAL;
	*n = 0;
	r = dial_io(gw, session_id, stream, &s, &d);
	if (r < 0)
		return r;
	r = cw_conn_stream_write(s->c, stream, data, len, n);
	touch(gw, s);
	return r == -EAGAIN ? 0 : r == -ENOENT ? -EPIPE : r;
}

int cw_gw_dial_read(struct cw_gw *gw, uint64_t session_id, uint64_t stream, uint8_t *buf,
		    size_t cap, size_t *n, bool *fin)
{
	struct sess *s;
	struct dial *d;
	uint64_t code;
	int r;

	if (!n || !fin || (!buf && cap))
		return -EINVAL;
	*n = 0;
	*fin = false;
	r = dial_io(gw, session_id, stream, &s, &d);
	if (r < 0)
		return r;
	r = cw_conn_stream_read(s->c, stream, buf, cap, n, fin, &code);
	if (r == -ENOENT) {
		/* Freed: both directions over, so the end was read. */
		*fin = true;
		r = 0;
	}
	touch(gw, s);
	return r == -EAGAIN ? 0 : r == -ECONNRESET ? -EPIPE : r;
}

int cw_gw_dial_finish(struct cw_gw *gw, uint64_t session_id, uint64_t stream)
{
	struct sess *s;
	struct dial *d;
	int r;

	if (dial_of(gw, session_id, stream, &s, &d))
		return -ENOENT;
	if (d->over)
		return -EPIPE;
	if (!d->ok)
		return -EAGAIN;
	r = cw_conn_stream_finish(s->c, stream);
	touch(gw, s);
	return r == -ENOENT ? -EPIPE : r;
}

int cw_gw_dial_reset(struct cw_gw *gw, uint64_t session_id, uint64_t stream, uint64_t code)
{
	struct sess *s;
	struct dial *d;

	if (dial_of(gw, session_id, stream, &s, &d))
		return -ENOENT;
	d->over = true;
	abort_stream(s, stream, code);
	touch(gw, s);
	return 0;
}

void cw_gw_foreach_session(const struct cw_gw *gw,
			   int (*fn)(const struct cw_gw_session_stats *, void *), void *ctx)
{
	if (!gw || !fn)
		return;
	for (uint32_t i = 0; i < gw->hwm; i++) {
		const struct sess *s = slot_get(gw, i);
		struct cw_gw_session_stats st;

		if (!s->c || !s->up)
			continue;
		st = (struct cw_gw_session_stats){
		    .session_id = s->session_id,
		    .node_name = s->node,
		    .addr = s->addr,
		    .srtt_ns = cw_conn_srtt(s->c),
		    .bytes_in = s->bytes_in,
		    .bytes_out = s->bytes_out,
		    .streams = streams_of(s)->count,
		    .since = s->since,
		    .heartbeats = s->heartbeats,
		    .heartbeat_seq = s->hb_seq,
		};
		if (fn(&st, ctx))
			return;
	}
}

const struct cw_gw_stats *cw_gw_stats(const struct cw_gw *gw)
{
	return &gw->st;
}

void cw_gw_set_wall_time(struct cw_gw *gw, int64_t unix_s)
{
	if (gw)
		gw->wall = unix_s;
}

/* ---- construction ---- */

static bool cfg_ok(const struct cw_gw_cfg *cfg)
{
	return cfg && cfg->tls && cfg->tokens && cfg->max_sessions >= 1 &&
	       (!cfg->offload || (cfg->cb.hs_start && cfg->cb.hs_input)) &&
	       cfg->max_sessions <= CW_GW_SLOTS_MAX && cfg->n_dict <= CW_GW_DICT_MAX &&
	       (cfg->dict_ids || !cfg->n_dict) && cfg->retry <= CW_GW_RETRY_UNDER_LOAD &&
	       (!cfg->version || strlen(cfg->version) <= CW_MSG_VERSION_MAX);
}

static uint32_t od_buckets(uint32_t max_sessions)
{
	uint32_t n = 16;

	while (n < max_sessions / 4 && n < OD_BUCKETS_MAX)
		n *= 2;
	return n;
}

const char *cw_gw_addr_str(const struct cw_gw_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->addr, ip, sizeof(ip));
	snprintf(buf, cap, a->family == 6 ? "[%s]:%u" : "%s:%u", ip, a->port);
	return buf;
}

int cw_gw_new(const struct cw_gw_cfg *cfg, struct cw_gw **out)
{
	const struct cw_alloc *a;
	struct cw_gw *gw;
	uint32_t nb;
	int e;

	if (!out || !cfg_ok(cfg))
		return -EINVAL;
	for (uint32_t i = 0; i < cfg->n_dict; i++)
		if (!cfg->dict_ids[i])
			return -EINVAL;
	a = cfg->alloc ? cfg->alloc : cw_alloc_default();
	gw = a->alloc(a->ctx, sizeof(*gw));
	if (!gw)
		return -ENOMEM;
	memset(gw, 0, sizeof(*gw));
	gw->a = *a;
	gw->ua = a;
	gw->cfg = *cfg;
	gw->cfg.alloc = &gw->a;
	if (cfg->n_dict)
		memcpy(gw->dict, cfg->dict_ids, sizeof(uint32_t) * cfg->n_dict);
	gw->cfg.dict_ids = gw->dict;
	if (cfg->version)
		strcpy(gw->version, cfg->version);
	if (cfg->conn)
		gw->conn_cfg = *cfg->conn;
	if (gw->conn_cfg.streams)
		gw->sc = *gw->conn_cfg.streams;
	else
		cw_streams_config_default(&gw->sc, true);
	gw->conn_cfg.streams = &gw->sc;
	gw->conn_cfg.alloc = &gw->a;
	gw->idle_ms =
	    (gw->conn_cfg.idle_timeout_ns ? gw->conn_cfg.idle_timeout_ns : CW_CONN_IDLE_DEFAULT) /
	    MS;
	gw->reset_level = CW_GW_RESET_PER_SEC * SEC;
	gw->nchunks = (cfg->max_sessions + CHUNK_SLOTS - 1) / CHUNK_SLOTS;
	nb = od_buckets(cfg->max_sessions);
	gw->od_mask = nb - 1;
	gw->chunks = a->alloc(a->ctx, sizeof(*gw->chunks) * gw->nchunks);
	gw->od = a->alloc(a->ctx, sizeof(*gw->od) * nb);
	if (!gw->chunks || !gw->od) {
		e = -ENOMEM;
		goto fail;
	}
	memset(gw->chunks, 0, sizeof(*gw->chunks) * gw->nchunks);
	memset(gw->od, 0, sizeof(*gw->od) * nb);
	if (RAND_bytes((uint8_t *)&gw->od_k0, sizeof(gw->od_k0)) != 1 ||
	    RAND_bytes((uint8_t *)&gw->od_k1, sizeof(gw->od_k1)) != 1) {
		e = -EIO;
		goto fail;
	}
	gw->od_k1 |= 1;
	e = cw_cid_codec_init(&gw->cids, cfg->cid_key);
	if (!e)
		e = cw_retry_init(&gw->retry);
	if (e)
		goto fail;
	*out = gw;
	return 0;
fail:
	cw_gw_free(gw);
	return e;
}

void cw_gw_free(struct cw_gw *gw)
{
	if (!gw)
		return;
	for (uint32_t i = 0; i < gw->hwm; i++) {
		struct sess *s = slot_get(gw, i);

		if (s->c)
			sess_free(gw, s, false);
	}
	for (uint32_t k = 0; gw->chunks && k < gw->nchunks; k++)
		if (gw->chunks[k])
			gw->a.free(gw->a.ctx, gw->chunks[k],
				   sizeof(struct sess) * chunk_len(gw, k));
	if (gw->chunks)
		gw->a.free(gw->a.ctx, gw->chunks, sizeof(*gw->chunks) * gw->nchunks);
	if (gw->od)
		gw->a.free(gw->a.ctx, gw->od, sizeof(*gw->od) * (gw->od_mask + 1));
	if (gw->heap)
		gw->a.free(gw->a.ctx, gw->heap, sizeof(*gw->heap) * gw->heap_cap);
	cw_cid_codec_free(&gw->cids);
	cw_aead_free(&gw->retry);
	if (gw->body_buf)
		gw->a.free(gw->a.ctx, gw->body_buf, BODY_BUF);
	gw->a.free(gw->a.ctx, gw, sizeof(*gw));
}
