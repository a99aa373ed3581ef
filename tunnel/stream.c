/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "stream.h"
#include "varint.h"

#define CW_SERR_TRANSPORT_PARAMETER 0x08
#define NO_LIMIT		    UINT64_MAX

enum { L_SEND, L_CTRL, L_EVENT, L_COUNT };

struct cw_stream_link {
	struct cw_stream *prev, *next;
	bool on;
};

struct cw_stream {
	uint64_t id;
	struct cw_stream *hnext;
	struct cw_stream_link link[L_COUNT];
	unsigned events;
	uint8_t rx, tx;
	bool stopped;	    /* we sent (or queued) STOP_SENDING */
	bool want_writable; /* a write came up short */
	/* Control frames pending. */
	bool want_reset, want_stop, want_max_stream_data, want_blocked;

	uint64_t tx_limit;	/* the peer's limit on our sending */
	uint64_t tx_blocked_at; /* limit we sent STREAM_DATA_BLOCKED for */
	uint64_t rx_limit;	/* our limit, as sent */
	uint64_t rx_window;
	uint64_t rx_high;     /* highest offset counted against the connection */
	uint64_t rx_consumed; /* credit returned to the connection */
	uint64_t rx_last_update;
	uint64_t reset_out, stop_out; /* codes we send */
	uint64_t reset_in, stop_in;   /* codes the peer sent */

	struct cw_rob rob;
	struct cw_sendbuf sb;
};

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static int fail(struct cw_streams *t, uint64_t code)
{
	t->error = code;
	return -EPROTO;
}

/* -- intrusive lists -- */

static void list_push(struct cw_stream_list *l, struct cw_stream *s, int k)
{
	struct cw_stream_link *n = &s->link[k];

	if (n->on)
		return;
	n->on = true;
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail)
		l->tail->link[k].next = s;
	else
		l->head = s;
	l->tail = s;
}

static void list_del(struct cw_stream_list *l, struct cw_stream *s, int k)
{
	struct cw_stream_link *n = &s->link[k];

	if (!n->on)
		return;
	if (n->prev)
		n->prev->link[k].next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->link[k].prev = n->prev;
	else
		l->tail = n->prev;
	n->on = false;
	n->prev = n->next = NULL;
}

static void ev_push(struct cw_streams *t, struct cw_stream *s, unsigned ev)
{
	s->events |= ev;
	list_push(&t->events, s, L_EVENT);
}

/* -- hash of live streams -- */

static inline uint32_t bucket_of(const struct cw_streams *t, uint64_t id)
{
	return (uint32_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 40) & (t->nbuckets - 1);
}

static struct cw_stream *find(const struct cw_streams *t, uint64_t id)
{
	struct cw_stream *s = t->buckets[bucket_of(t, id)];

	while (s && s->id != id)
		s = s->hnext;
	return s;
}

/* Double the buckets when the chains average more than one stream. */
static void maybe_grow(struct cw_streams *t)
{
	uint32_t n = t->nbuckets * 2;
	struct cw_stream **b;
	struct cw_stream **old = t->buckets;
	uint32_t old_n = t->nbuckets;

	if (t->count <= t->nbuckets || n > (UINT32_C(1) << 20))
		return;
	b = t->a->alloc(t->a->ctx, n * sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	memset(b, 0, n * sizeof(*b));
	t->buckets = b;
	t->nbuckets = n;
	for (uint32_t i = 0; i < old_n; i++) {
		while (old[i]) {
			struct cw_stream *s = old[i];
			uint32_t k = bucket_of(t, s->id);

			old[i] = s->hnext;
			s->hnext = b[k];
			b[k] = s;
		}
	}
	t->a->free(t->a->ctx, old, old_n * sizeof(*old));
}

static void unhash(struct cw_streams *t, struct cw_stream *s)
{
	struct cw_stream **p = &t->buckets[bucket_of(t, s->id)];

	while (*p != s)
		p = &(*p)->hnext;
	*p = s->hnext;
}

static inline bool is_local(const struct cw_streams *t, uint64_t id)
{
	return (id & 1) == (uint64_t)t->gateway;
}

static struct cw_stream *stream_new(struct cw_streams *t, uint64_t id)
{
	struct cw_stream *s = t->a->alloc(t->a->ctx, sizeof(*s));
	uint32_t k;

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->rx = CW_STREAM_RX_RECV;
	s->tx = CW_STREAM_TX_READY;
	s->tx_limit = t->peer_stream_window;
	s->tx_blocked_at = NO_LIMIT;
	s->rx_limit = t->cfg.max_stream_data;
	s->rx_window = t->cfg.max_stream_data;
	/* Both cannot fail: the config was checked at init. */
	(void)cw_rob_init(&s->rob, t->a, s->rx_limit);
	(void)cw_sendbuf_init(&s->sb, t->a, t->cfg.send_buffer);
	k = bucket_of(t, id);
	s->hnext = t->buckets[k];
	t->buckets[k] = s;
	t->count++;
	maybe_grow(t);
	return s;
}

static void want_max_streams(struct cw_streams *t)
{
	t->rx_max_streams_next = t->peer_freed + t->cfg.max_streams;
	if (t->rx_max_streams_next - t->rx_max_streams >= t->cfg.max_streams / 2)
		t->want_max_streams = true;
}

static void stream_free(struct cw_streams *t, struct cw_stream *s)
{
	for (int k = 0; k < L_COUNT; k++)
		list_del(k == L_SEND ? &t->send : k == L_CTRL ? &t->ctrl : &t->events, s, k);
	cw_rob_free(&s->rob);
	cw_sendbuf_free(&s->sb);
	unhash(t, s);
	t->count--;
	t->stats.freed++;
	if (is_local(t, s->id)) {
		t->local_count--;
	} else {
		t->peer_freed++;
		want_max_streams(t);
	}
	t->a->free(t->a->ctx, s, sizeof(*s));
}

static bool rx_terminal(const struct cw_stream *s)
{
	return s->rx == CW_STREAM_RX_DATA_READ || s->rx == CW_STREAM_RX_RESET_READ;
}

static bool tx_terminal(const struct cw_stream *s)
{
	return s->tx == CW_STREAM_TX_DATA_RECVD || s->tx == CW_STREAM_TX_RESET_RECVD;
}

/* Free @s if both sides are done; returns whether it was freed. */
static bool maybe_free(struct cw_streams *t, struct cw_stream *s)
{
	if (!rx_terminal(s) || !tx_terminal(s))
		return false;
	stream_free(t, s);
	return true;
}

/* -- init -- */

void cw_streams_config_default(struct cw_streams_config *cfg, bool gateway)
{
	cfg->max_data = UINT64_C(8) << 20;
	cfg->max_stream_data = UINT64_C(1) << 20;
	cfg->max_streams = gateway ? 1024 : 256;
	cfg->max_data_cap = CW_STREAMS_MAX_CONN_WINDOW;
	cfg->max_stream_data_cap = CW_STREAMS_MAX_STREAM_WINDOW;
	cfg->send_buffer = UINT64_C(1) << 20;
	cfg->max_local_streams = 1024;
}

static bool config_ok(const struct cw_streams_config *c)
{
	return c->max_data >= CW_STREAMS_MIN_MAX_DATA &&
	       c->max_stream_data >= CW_STREAMS_MIN_MAX_STREAM_DATA &&
	       c->max_streams >= CW_STREAMS_MIN_MAX_STREAMS &&
	       c->max_streams <= (UINT64_C(1) << 20) && c->max_data_cap >= c->max_data &&
	       c->max_data_cap <= CW_STREAMS_MAX_CONN_WINDOW &&
	       c->max_stream_data_cap >= c->max_stream_data &&
	       c->max_stream_data_cap <= CW_STREAMS_MAX_STREAM_WINDOW && c->send_buffer &&
	       c->send_buffer <= CW_SENDBUF_MAX_CAP && c->max_local_streams;
}

int cw_streams_init(struct cw_streams *t, const struct cw_streams_config *cfg, bool gateway,
		    const struct cw_alloc *a)
{
	if (!config_ok(cfg))
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->a = a;
	t->cfg = *cfg;
	t->gateway = gateway;
	t->nbuckets = 8;
	t->buckets = a->alloc(a->ctx, t->nbuckets * sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	memset(t->buckets, 0, t->nbuckets * sizeof(*t->buckets));
	/* Until the peer's parameters arrive, its limits are the floors. */
	t->tx_max_streams = CW_STREAMS_MIN_MAX_STREAMS;
	t->tx_max_data = CW_STREAMS_MIN_MAX_DATA;
	t->peer_stream_window = CW_STREAMS_MIN_MAX_STREAM_DATA;
	t->tx_blocked_at = NO_LIMIT;
	t->rx_max_streams = t->rx_max_streams_next = cfg->max_streams;
	t->rx_max_data = t->rx_window = cfg->max_data;
	return 0;
}

void cw_streams_free(struct cw_streams *t)
{
	for (uint32_t i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct cw_stream *s = t->buckets[i];

			t->buckets[i] = s->hnext;
			cw_rob_free(&s->rob);
			cw_sendbuf_free(&s->sb);
			t->a->free(t->a->ctx, s, sizeof(*s));
		}
	}
	t->a->free(t->a->ctx, t->buckets, t->nbuckets * sizeof(*t->buckets));
	t->buckets = NULL;
	t->nbuckets = t->count = t->local_count = 0;
	t->send = t->ctrl = t->events = (struct cw_stream_list){NULL, NULL};
}

void cw_streams_trim(struct cw_streams *t)
{
	for (uint32_t i = 0; i < t->nbuckets; i++)
		for (struct cw_stream *s = t->buckets[i]; s; s = s->hnext)
			cw_rob_trim(&s->rob);
}

static inline uint64_t conn_credit(const struct cw_streams *t)
{
	return t->tx_max_data > t->tx_data ? t->tx_max_data - t->tx_data : 0;
}

static bool sendable(const struct cw_stream *s)
{
	return cw_sendbuf_has_data(&s->sb, s->tx_limit);
}

int cw_streams_set_peer_params(struct cw_streams *t, uint64_t max_data, uint64_t max_stream_data,
			       uint64_t max_streams)
{
	if ((max_data && max_data < CW_STREAMS_MIN_MAX_DATA) ||
	    (max_stream_data && max_stream_data < CW_STREAMS_MIN_MAX_STREAM_DATA) ||
	    (max_streams && max_streams < CW_STREAMS_MIN_MAX_STREAMS) ||
	    max_streams > CW_STREAMS_MAX_MAX_STREAMS)
		return fail(t, CW_SERR_TRANSPORT_PARAMETER);
	t->tx_max_data = max_u64(t->tx_max_data, max_data);
	t->tx_max_streams = max_u64(t->tx_max_streams, max_streams);
	if (max_stream_data <= t->peer_stream_window)
		return 0;
	t->peer_stream_window = max_stream_data;
	for (uint32_t i = 0; i < t->nbuckets; i++) {
		for (struct cw_stream *s = t->buckets[i]; s; s = s->hnext) {
			s->tx_limit = max_u64(s->tx_limit, max_stream_data);
			if (sendable(s))
				list_push(&t->send, s, L_SEND);
		}
	}
	return 0;
}

void cw_streams_set_clock(struct cw_streams *t, uint64_t now, uint64_t srtt)
{
	t->now = now;
	t->srtt = srtt;
}

/* -- receive-side credit -- */

/*
 * §9.5 auto-tuning: updates more often than once per 2 x srtt mean the
 * window, not the reader, limits the peer.
 */
static uint64_t tune(const struct cw_streams *t, uint64_t window, uint64_t cap, uint64_t *last)
{
	if (t->srtt && *last && t->now - *last < 2 * t->srtt)
		window = min_u64(window * 2, cap);
	*last = t->now ? t->now : 1;
	return window;
}

static bool half_freed(uint64_t consumed, uint64_t window, uint64_t limit)
{
	return consumed + window > limit && consumed + window - limit >= window / 2;
}

static void check_conn_update(struct cw_streams *t)
{
	if (t->want_max_data || !half_freed(t->rx_consumed, t->rx_window, t->rx_max_data))
		return;
	t->rx_window = tune(t, t->rx_window, t->cfg.max_data_cap, &t->rx_last_update);
	t->want_max_data = true;
}

static void check_stream_update(struct cw_streams *t, struct cw_stream *s)
{
	/* Once the final size is known the peer needs no more credit. */
	if (s->rx != CW_STREAM_RX_RECV || s->stopped || s->want_max_stream_data)
		return;
	if (!half_freed(s->rx_consumed, s->rx_window, s->rx_limit))
		return;
	s->rx_window = tune(t, s->rx_window, t->cfg.max_stream_data_cap, &s->rx_last_update);
	s->want_max_stream_data = true;
	list_push(&t->ctrl, s, L_CTRL);
}

/* Return the credit of bytes up to @upto (read or discarded) to the connection. */
static void rx_release(struct cw_streams *t, struct cw_stream *s, uint64_t upto)
{
	if (upto <= s->rx_consumed)
		return;
	t->rx_consumed += upto - s->rx_consumed;
	s->rx_consumed = upto;
	check_conn_update(t);
}

/* -- application side -- */

int cw_streams_open(struct cw_streams *t, uint64_t *id)
{
	struct cw_stream *s;

	if (t->next_local >= t->tx_max_streams)
		return -EAGAIN;
	if (t->local_count >= t->cfg.max_local_streams)
		return -ENOSPC;
	s = stream_new(t, t->next_local * 4 + t->gateway);
	if (!s)
		return -ENOMEM;
	t->next_local++;
	t->local_count++;
	t->stats.opened_local++;
	*id = s->id;
	return 0;
}

int cw_streams_write(struct cw_streams *t, uint64_t id, const uint8_t *data, size_t len, size_t *n)
{
	struct cw_stream *s = find(t, id);
	int rc;

	*n = 0;
	if (!s)
		return -ENOENT;
	rc = cw_sendbuf_write(&s->sb, data, len, n);
	if (*n < len && rc != -EPIPE)
		s->want_writable = true;
	if (*n && sendable(s))
		list_push(&t->send, s, L_SEND);
	return rc;
}

int cw_streams_finish(struct cw_streams *t, uint64_t id)
{
	struct cw_stream *s = find(t, id);
	int rc;

	if (id == CW_STREAMS_CONTROL_ID)
		return -EINVAL;
	if (!s)
		return -ENOENT;
	rc = cw_sendbuf_finish(&s->sb);
	if (!rc && sendable(s))
		list_push(&t->send, s, L_SEND);
	return rc;
}

int cw_streams_read(struct cw_streams *t, uint64_t id, uint8_t *buf, size_t cap, size_t *n,
		    bool *fin, uint64_t *code)
{
	struct cw_stream *s = find(t, id);

	*n = 0;
	*fin = false;
	if (!s)
		return -ENOENT;
	switch (s->rx) {
	case CW_STREAM_RX_RESET_RECVD:
		s->rx = CW_STREAM_RX_RESET_READ;
		*code = s->reset_in;
		maybe_free(t, s);
		return -ECONNRESET;
	case CW_STREAM_RX_RESET_READ:
		*code = s->reset_in;
		return -ECONNRESET;
	case CW_STREAM_RX_DATA_READ:
		*fin = true;
		return 0;
	}
	if (s->stopped)
		return -EPIPE;
	*n = cw_rob_read(&s->rob, buf, cap);
	t->stats.rx_bytes += *n;
	rx_release(t, s, s->rob.read_off);
	if (cw_rob_finished(&s->rob)) {
		*fin = true;
		s->rx = CW_STREAM_RX_DATA_READ;
		maybe_free(t, s);
		return 0;
	}
	if (!*n)
		return -EAGAIN;
	check_stream_update(t, s);
	return 0;
}

static void local_reset(struct cw_streams *t, struct cw_stream *s, uint64_t code)
{
	cw_sendbuf_reset(&s->sb);
	s->tx = CW_STREAM_TX_RESET_SENT;
	s->reset_out = code;
	s->want_reset = true;
	s->want_blocked = false;
	list_del(&t->send, s, L_SEND);
	list_push(&t->ctrl, s, L_CTRL);
}

int cw_streams_reset(struct cw_streams *t, uint64_t id, uint64_t code)
{
	struct cw_stream *s = find(t, id);

	if (id == CW_STREAMS_CONTROL_ID)
		return -EINVAL;
	if (!s)
		return -ENOENT;
	if (s->tx == CW_STREAM_TX_DATA_RECVD || s->tx >= CW_STREAM_TX_RESET_SENT)
		return 0;
	local_reset(t, s, code);
	return 0;
}

int cw_streams_stop(struct cw_streams *t, uint64_t id, uint64_t code)
{
	struct cw_stream *s = find(t, id);

	if (id == CW_STREAMS_CONTROL_ID)
		return -EINVAL;
	if (!s)
		return -ENOENT;
	if (rx_terminal(s) || s->stopped)
		return 0;
	s->stopped = true;
	s->want_max_stream_data = false;
	cw_rob_discard(&s->rob);
	rx_release(t, s, s->rx_high);
	if (s->rx == CW_STREAM_RX_RESET_RECVD || s->rx == CW_STREAM_RX_DATA_RECVD) {
		/* The peer is done sending already: nothing to stop. */
		s->rx = s->rx == CW_STREAM_RX_RESET_RECVD ? CW_STREAM_RX_RESET_READ
							  : CW_STREAM_RX_DATA_READ;
		maybe_free(t, s);
		return 0;
	}
	s->stop_out = code;
	s->want_stop = true;
	list_push(&t->ctrl, s, L_CTRL);
	return 0;
}

int cw_streams_abort(struct cw_streams *t, uint64_t id, uint64_t code)
{
	int rc = cw_streams_reset(t, id, code);

	if (rc)
		return rc;
	/* The reset may have freed nothing: stop needs the stream still there. */
	return find(t, id) ? cw_streams_stop(t, id, code) : 0;
}

int cw_streams_next_event(struct cw_streams *t, uint64_t *id, unsigned *events)
{
	struct cw_stream *s = t->events.head;

	if (!s)
		return -ENOENT;
	list_del(&t->events, s, L_EVENT);
	*id = s->id;
	*events = s->events;
	s->events = 0;
	return 0;
}

int cw_streams_info(const struct cw_streams *t, uint64_t id, struct cw_stream_info *info)
{
	const struct cw_stream *s = find(t, id);

	if (!s)
		return -ENOENT;
	info->rx = s->rx;
	info->tx = s->tx;
	info->rx_limit = s->rx_limit;
	info->tx_limit = s->tx_limit;
	info->rx_readable = cw_rob_readable(&s->rob);
	info->tx_space = cw_sendbuf_space(&s->sb);
	info->rx_highest = s->rx_high;
	info->tx_sent = s->sb.sent;
	info->reset_code = s->reset_in;
	info->stop_code = s->stop_in;
	return 0;
}

/* -- frames from the peer -- */

/*
 * The stream a frame names (§9.1, §9.2): *@out is NULL for a stream closed
 * and forgotten, whose frames are ignored. With @open, peer-initiated
 * streams up to @id are opened.
 */
static int stream_for(struct cw_streams *t, uint64_t id, bool open, struct cw_stream **out)
{
	uint64_t n = id >> 2;

	*out = NULL;
	if ((id & 2) || id > CW_VARINT_MAX)
		return fail(t, CW_SERR_STREAM_STATE);
	if (is_local(t, id)) {
		if (n >= t->next_local)
			return fail(t, CW_SERR_STREAM_STATE);
		*out = find(t, id);
		return 0;
	}
	if (n >= t->rx_max_streams)
		return fail(t, CW_SERR_STREAM_LIMIT);
	if (n < t->next_peer) {
		*out = find(t, id);
		return 0;
	}
	if (!open)
		return 0;
	for (; t->next_peer <= n; t->next_peer++) {
		struct cw_stream *s = stream_new(t, t->next_peer * 4 + !t->gateway);

		if (!s)
			return -ENOMEM;
		t->stats.opened_peer++;
		ev_push(t, s, CW_STREAM_EV_NEW);
		*out = s;
	}
	return 0;
}

/* Map a reorder-buffer error to the connection error (rob.h). */
static int rob_fail(struct cw_streams *t, int rc)
{
	switch (rc) {
	case -ERANGE:
		return fail(t, CW_SERR_FRAME_ENCODING);
	case -EDQUOT:
		return fail(t, CW_SERR_FLOW_CONTROL);
	case -EPROTO:
		return fail(t, CW_SERR_FINAL_SIZE);
	default:
		return rc;
	}
}

/* Count @high as the stream's highest offset against the connection limit. */
static int count_high(struct cw_streams *t, struct cw_stream *s, uint64_t high)
{
	if (high <= s->rx_high)
		return 0;
	if (high - s->rx_high > t->rx_max_data - t->rx_data)
		return fail(t, CW_SERR_FLOW_CONTROL);
	t->rx_data += high - s->rx_high;
	s->rx_high = high;
	return 0;
}

static void after_data(struct cw_streams *t, struct cw_stream *s, uint64_t ready_before)
{
	if (s->rx == CW_STREAM_RX_RECV && s->rob.final != CW_ROB_NO_FINAL)
		s->rx = CW_STREAM_RX_SIZE_KNOWN;
	if (s->stopped) {
		rx_release(t, s, s->rx_high);
		if (cw_rob_complete(&s->rob)) {
			s->rx = CW_STREAM_RX_DATA_READ;
			s->want_stop = false;
			maybe_free(t, s);
		}
		return;
	}
	if (s->rx == CW_STREAM_RX_SIZE_KNOWN && cw_rob_complete(&s->rob)) {
		s->rx = CW_STREAM_RX_DATA_RECVD;
		s->want_max_stream_data = false;
		ev_push(t, s, CW_STREAM_EV_READABLE);
	} else if (s->rob.ready > ready_before) {
		ev_push(t, s, CW_STREAM_EV_READABLE);
	}
}

static int on_stream(struct cw_streams *t, const struct cw_stream_frame *f)
{
	struct cw_stream *s;
	uint64_t ready;
	int rc;

	/* An empty frame without FIN is ignored (§8.8), but its ID still checked. */
	rc = stream_for(t, f->stream_id, f->len || f->fin, &s);
	if (rc || !s)
		return rc;
	if (f->fin && f->stream_id == CW_STREAMS_CONTROL_ID)
		return fail(t, CW_SERR_CONTROL_STREAM);
	rc = cw_rob_check(&s->rob, f->offset, f->len, f->fin);
	if (rc)
		return rob_fail(t, rc);
	rc = count_high(t, s, f->offset + f->len);
	if (rc)
		return rc;
	ready = s->rob.ready;
	rc = cw_rob_insert(&s->rob, f->offset, f->data, f->len, f->fin);
	if (rc)
		return rob_fail(t, rc);
	if (s->rx == CW_STREAM_RX_RECV || s->rx == CW_STREAM_RX_SIZE_KNOWN)
		after_data(t, s, ready);
	return 0;
}

static int on_reset(struct cw_streams *t, const struct cw_stream_frame *f)
{
	struct cw_stream *s;
	int rc = stream_for(t, f->stream_id, true, &s);

	if (rc || !s)
		return rc;
	if (f->stream_id == CW_STREAMS_CONTROL_ID)
		return fail(t, CW_SERR_CONTROL_STREAM);
	rc = cw_rob_check(&s->rob, f->final_size, 0, true);
	if (rc)
		return rob_fail(t, rc);
	rc = count_high(t, s, f->final_size);
	if (rc)
		return rc;
	(void)cw_rob_set_final(&s->rob, f->final_size);
	/* With all data in, or a reset already taken, there is nothing to change. */
	if (s->rx != CW_STREAM_RX_RECV && s->rx != CW_STREAM_RX_SIZE_KNOWN)
		return 0;
	s->reset_in = f->code;
	s->want_stop = s->want_max_stream_data = false;
	cw_rob_discard(&s->rob);
	rx_release(t, s, f->final_size);
	if (s->stopped) {
		s->rx = CW_STREAM_RX_RESET_READ;
		maybe_free(t, s);
		return 0;
	}
	s->rx = CW_STREAM_RX_RESET_RECVD;
	ev_push(t, s, CW_STREAM_EV_READABLE);
	return 0;
}

static int on_stop_sending(struct cw_streams *t, const struct cw_stream_frame *f)
{
	struct cw_stream *s;
	int rc = stream_for(t, f->stream_id, true, &s);

	if (rc || !s)
		return rc;
	if (f->stream_id == CW_STREAMS_CONTROL_ID)
		return fail(t, CW_SERR_CONTROL_STREAM);
	if (s->tx == CW_STREAM_TX_DATA_RECVD || s->tx >= CW_STREAM_TX_RESET_SENT)
		return 0;
	s->stop_in = f->code;
	local_reset(t, s, f->code);
	ev_push(t, s, CW_STREAM_EV_STOPPED);
	return 0;
}

static int on_max_stream_data(struct cw_streams *t, const struct cw_stream_frame *f)
{
	struct cw_stream *s;
	int rc = stream_for(t, f->stream_id, true, &s);

	if (rc || !s)
		return rc;
	if (f->value <= s->tx_limit)
		return 0;
	s->tx_limit = f->value;
	if (sendable(s))
		list_push(&t->send, s, L_SEND);
	return 0;
}

static int on_stream_data_blocked(struct cw_streams *t, const struct cw_stream_frame *f)
{
	struct cw_stream *s;
	int rc = stream_for(t, f->stream_id, true, &s);

	if (!rc)
		t->stats.blocked_rx++;
	return rc;
}

int cw_streams_on_frame(struct cw_streams *t, const struct cw_stream_frame *f)
{
	switch (f->type) {
	case CW_SFRAME_STREAM:
		return on_stream(t, f);
	case CW_SFRAME_RESET_STREAM:
		return on_reset(t, f);
	case CW_SFRAME_STOP_SENDING:
		return on_stop_sending(t, f);
	case CW_SFRAME_MAX_STREAM_DATA:
		return on_max_stream_data(t, f);
	case CW_SFRAME_STREAM_DATA_BLOCKED:
		return on_stream_data_blocked(t, f);
	case CW_SFRAME_MAX_DATA:
		t->tx_max_data = max_u64(t->tx_max_data, f->value);
		return 0;
	case CW_SFRAME_MAX_STREAMS:
		if (f->value > CW_STREAMS_MAX_MAX_STREAMS)
			return fail(t, CW_SERR_FRAME_ENCODING);
		t->tx_max_streams = max_u64(t->tx_max_streams, f->value);
		return 0;
	case CW_SFRAME_DATA_BLOCKED:
		t->stats.blocked_rx++;
		return 0;
	default:
		return -EINVAL;
	}
}

/* -- frames to send -- */

static bool conn_ctrl(struct cw_streams *t, struct cw_stream_frame *f)
{
	if (t->want_max_data) {
		t->want_max_data = false;
		t->rx_max_data = t->rx_consumed + t->rx_window;
		*f = (struct cw_stream_frame){.type = CW_SFRAME_MAX_DATA, .value = t->rx_max_data};
		return true;
	}
	if (t->want_max_streams) {
		t->want_max_streams = false;
		t->rx_max_streams = t->rx_max_streams_next;
		*f = (struct cw_stream_frame){.type = CW_SFRAME_MAX_STREAMS,
					      .value = t->rx_max_streams};
		return true;
	}
	if (t->want_data_blocked) {
		t->want_data_blocked = false;
		*f = (struct cw_stream_frame){.type = CW_SFRAME_DATA_BLOCKED,
					      .value = t->tx_max_data};
		return true;
	}
	return false;
}

/* One pending control frame of @s; false when none is left. */
static bool stream_ctrl(struct cw_stream *s, struct cw_stream_frame *f)
{
	*f = (struct cw_stream_frame){.stream_id = s->id};
	if (s->want_reset) {
		s->want_reset = false;
		f->type = CW_SFRAME_RESET_STREAM;
		f->code = s->reset_out;
		f->final_size = s->sb.sent;
	} else if (s->want_stop) {
		s->want_stop = false;
		f->type = CW_SFRAME_STOP_SENDING;
		f->code = s->stop_out;
	} else if (s->want_max_stream_data) {
		s->want_max_stream_data = false;
		s->rx_limit = s->rx_consumed + s->rx_window;
		/* Within CW_ROB_MAX_SPAN: the window is capped below it. */
		(void)cw_rob_set_limit(&s->rob, s->rx_limit);
		f->type = CW_SFRAME_MAX_STREAM_DATA;
		f->value = s->rx_limit;
	} else if (s->want_blocked) {
		s->want_blocked = false;
		f->type = CW_SFRAME_STREAM_DATA_BLOCKED;
		f->value = s->tx_limit;
	} else {
		return false;
	}
	return true;
}

int cw_streams_next_ctrl(struct cw_streams *t, struct cw_stream_frame *f)
{
	if (conn_ctrl(t, f))
		return 0;
	while (t->ctrl.head) {
		struct cw_stream *s = t->ctrl.head;

		if (stream_ctrl(s, f)) {
			if (!(s->want_reset || s->want_stop || s->want_max_stream_data ||
			      s->want_blocked))
				list_del(&t->ctrl, s, L_CTRL);
			return 0;
		}
		list_del(&t->ctrl, s, L_CTRL);
	}
	return -ENOENT;
}

/*
 * @s has nothing it may send now. If its own limit holds it back, it
 * leaves the round robin until MAX_STREAM_DATA (and says so, once per
 * limit); if only the connection limit does, it keeps its place.
 * Returns whether it stays on the list.
 */
static bool park(struct cw_streams *t, struct cw_stream *s)
{
	if (cw_sendbuf_blocked(&s->sb, s->tx_limit)) {
		if (s->tx_blocked_at != s->tx_limit) {
			s->tx_blocked_at = s->tx_limit;
			s->want_blocked = true;
			list_push(&t->ctrl, s, L_CTRL);
		}
	} else if (s->sb.sent < s->sb.written && !s->sb.reset) {
		if (t->tx_blocked_at != t->tx_max_data) {
			t->tx_blocked_at = t->tx_max_data;
			t->want_data_blocked = true;
		}
		return true;
	}
	list_del(&t->send, s, L_SEND);
	return false;
}

static void fill_data(struct cw_streams *t, struct cw_stream *s, const struct cw_sendbuf_span *sp,
		      uint64_t sent_before, struct cw_stream_frame *f)
{
	*f = (struct cw_stream_frame){.type = CW_SFRAME_STREAM,
				      .stream_id = s->id,
				      .offset = sp->offset,
				      .data = sp->data,
				      .len = sp->len,
				      .fin = sp->fin};
	t->tx_data += s->sb.sent - sent_before;
	t->stats.tx_bytes += s->sb.sent - sent_before;
	t->stats.retx_bytes += sp->len - (s->sb.sent - sent_before);
	if (s->tx == CW_STREAM_TX_READY)
		s->tx = CW_STREAM_TX_SEND;
	if (sp->fin && s->tx == CW_STREAM_TX_SEND)
		s->tx = CW_STREAM_TX_DATA_SENT;
}

int cw_streams_next_data(struct cw_streams *t, size_t max_len, struct cw_stream_frame *f)
{
	struct cw_stream *s = t->send.head;

	while (s) {
		struct cw_stream *next = s->link[L_SEND].next;
		uint64_t limit = min_u64(s->tx_limit, s->sb.sent + conn_credit(t));
		uint64_t sent = s->sb.sent;
		struct cw_sendbuf_span sp;

		if (!cw_sendbuf_has_data(&s->sb, limit)) {
			park(t, s);
			s = next;
			continue;
		}
		if (cw_sendbuf_next(&s->sb, max_len, limit, &sp)) {
			s = next; /* nothing that fits @max_len */
			continue;
		}
		fill_data(t, s, &sp, sent, f);
		/* To the back of the line: one frame per stream per turn. */
		list_del(&t->send, s, L_SEND);
		list_push(&t->send, s, L_SEND);
		if (!cw_sendbuf_has_data(&s->sb, min_u64(s->tx_limit, s->sb.sent + conn_credit(t))))
			park(t, s);
		return 0;
	}
	return -ENOENT;
}

bool cw_streams_want_send(const struct cw_streams *t)
{
	if (t->want_max_data || t->want_max_streams || t->want_data_blocked || t->ctrl.head)
		return true;
	if (conn_credit(t))
		return t->send.head != NULL;
	for (const struct cw_stream *s = t->send.head; s; s = s->link[L_SEND].next)
		if (cw_sendbuf_has_retx(&s->sb))
			return true;
	return false;
}

int cw_streams_on_acked(struct cw_streams *t, const struct cw_stream_frame *f)
{
	struct cw_stream *s;
	int rc;

	if (f->type != CW_SFRAME_STREAM && f->type != CW_SFRAME_RESET_STREAM)
		return 0;
	s = find(t, f->stream_id);
	if (!s)
		return 0;
	if (f->type == CW_SFRAME_RESET_STREAM) {
		if (s->tx == CW_STREAM_TX_RESET_SENT) {
			s->tx = CW_STREAM_TX_RESET_RECVD;
			maybe_free(t, s);
		}
		return 0;
	}
	rc = cw_sendbuf_on_acked(&s->sb, f->offset, f->len, f->fin);
	if (rc)
		return rc;
	if (s->tx == CW_STREAM_TX_DATA_SENT && cw_sendbuf_done(&s->sb)) {
		s->tx = CW_STREAM_TX_DATA_RECVD;
		if (maybe_free(t, s))
			return 0;
	}
	if (s->want_writable && cw_sendbuf_space(&s->sb)) {
		s->want_writable = false;
		ev_push(t, s, CW_STREAM_EV_WRITABLE);
	}
	return 0;
}

static void lost_stream_ctrl(struct cw_streams *t, struct cw_stream *s,
			     const struct cw_stream_frame *f)
{
	bool rx_open = s->rx == CW_STREAM_RX_RECV || s->rx == CW_STREAM_RX_SIZE_KNOWN;

	switch (f->type) {
	case CW_SFRAME_RESET_STREAM:
		s->want_reset |= s->tx == CW_STREAM_TX_RESET_SENT;
		break;
	case CW_SFRAME_STOP_SENDING:
		s->want_stop |= s->stopped && rx_open;
		break;
	case CW_SFRAME_MAX_STREAM_DATA:
		/* A later update, still in flight, carries a newer value. */
		s->want_max_stream_data |=
		    s->rx == CW_STREAM_RX_RECV && !s->stopped && f->value == s->rx_limit;
		break;
	case CW_SFRAME_STREAM_DATA_BLOCKED:
		s->want_blocked |=
		    f->value == s->tx_limit && cw_sendbuf_blocked(&s->sb, s->tx_limit);
		break;
	}
	if (s->want_reset || s->want_stop || s->want_max_stream_data || s->want_blocked)
		list_push(&t->ctrl, s, L_CTRL);
}

int cw_streams_on_lost(struct cw_streams *t, const struct cw_stream_frame *f)
{
	struct cw_stream *s;
	int rc;

	/*
	 * Limits are resent with the current value (§9.5), and only if the
	 * lost frame was the latest: a later one in flight covers it.
	 */
	switch (f->type) {
	case CW_SFRAME_MAX_DATA:
		t->want_max_data |= f->value == t->rx_max_data;
		return 0;
	case CW_SFRAME_MAX_STREAMS:
		t->want_max_streams |= f->value == t->rx_max_streams;
		return 0;
	case CW_SFRAME_DATA_BLOCKED:
		t->want_data_blocked |= f->value == t->tx_max_data && t->tx_blocked_at == f->value;
		return 0;
	}
	s = find(t, f->stream_id);
	if (!s)
		return 0;
	if (f->type != CW_SFRAME_STREAM) {
		lost_stream_ctrl(t, s, f);
		return 0;
	}
	rc = cw_sendbuf_on_lost(&s->sb, f->offset, f->len, f->fin);
	if (sendable(s))
		list_push(&t->send, s, L_SEND);
	return rc;
}
