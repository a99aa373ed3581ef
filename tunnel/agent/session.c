/* SPDX-License-Identifier: Apache-2.0 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tunnel/frame.h"
#include "tunnel/reset.h"

#define NEVER	      UINT64_MAX
#define MS	      UINT64_C(1000000)
#define SEC	      UINT64_C(1000000000)
#define READ_CHUNK    4096
#define SMALL_MSG_MAX 512 /* DialResult, Error, Close, Heartbeat: a few hundred bytes */
#define CTL_OUT_MAX   (CW_MSG_HELLO_MAX + 16 * SMALL_MSG_MAX)
#define LOOPBACK      "127.0.0.1"
#define F_DIAL	      0x100 /* internal: a CW_AS_EV_DIAL is due */

enum dial_phase {
	D_WAIT_DIAL = 0, /* decoding Dial */
	D_WAIT_RESULT,	 /* the shell is connecting */
	D_RAW,		 /* raw bytes both ways */
	D_DONE,		 /* refused: discarding the gateway's rest */
	D_GONE,		 /* aborted: freed once the shell saw CW_AS_F_ABORTED */
};

struct dial {
	struct dial *next, *evnext;
	uint64_t id;
	enum dial_phase phase;
	unsigned flags; /* CW_AS_F_* and F_DIAL not yet taken */
	bool queued, rx_done, tx_done;
	bool early_fin; /* the gateway's FIN came with its Dial: read at the raw phase */
	struct cw_msg_decoder dec;
	uint64_t request_id;
	char host[CW_MSG_NAME_MAX + 1];
	uint16_t port;
	uint32_t timeout_ms;
};

/* An API stream this agent opened (§13.4), until its answer is over. */
struct api {
	struct api *next, *evnext;
	uint64_t id;
	unsigned flags; /* CW_AS_F_* not yet taken */
	bool queued, fin;
	struct cw_msg_decoder dec;
	size_t in_off, in_len; /* undecoded bytes read from the stream */
	uint8_t in[READ_CHUNK];
};

struct cw_as {
	const struct cw_alloc *a;
	const struct cw_agent_config *conf;
	char node_name[CW_MSG_NAME_MAX + 1];
	char version[CW_MSG_VERSION_MAX + 1];
	uint32_t dict_ids[CW_AS_DICT_IDS_MAX];
	size_t n_dict_ids;
	struct cw_as_capacity capacity;
	uint8_t boot_id[CW_AS_BOOT_ID_LEN];
	struct cw_streams_config sc;
	struct cw_conn *c;
	uint8_t cid[CW_CID_LEN], odcid[CW_CID_LEN]; /* the attempt's (§15.2) */

	enum cw_as_state state;
	enum cw_as_end end;
	uint64_t now0, wall0;

	/* Control stream. */
	struct cw_msg_decoder ctl;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	uint64_t ctl_written; /* bytes handed to stream 0 */
	size_t peer_msg_limit;
	uint64_t hello_deadline;
	bool close_pending;
	uint32_t close_code;
	char close_reason[CW_MSG_REASON_MAX + 1];

	/* HelloAck. */
	bool has_token;
	uint8_t token[CW_RESET_TOKEN_LEN];
	uint64_t hb_interval, hb_due, hb_last, hb_seq;
	struct cw_as_status status, status_sent;

	struct dial *dials, *evhead, *evtail;
	struct api *apis, *api_evhead, *api_evtail;
	uint64_t next_peer_id; /* gateway streams below this were seen */
	bool deferred;	       /* a Dial stream waits for HelloAck */
	struct cw_as_info info;
};

/* ---- helpers ---- */

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- control stream output ---- */

static int out_reserve(struct cw_as *s, size_t need)
{
	size_t cap = s->out_cap ? s->out_cap : 1024;
	uint8_t *nb;

	if (s->out_off) {
		memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
		s->out_len -= s->out_off;
		s->out_off = 0;
	}
	if (s->out_len + need <= s->out_cap)
		return 0;
	if (s->out_len + need > CTL_OUT_MAX)
		return -ENOBUFS;
	while (cap < s->out_len + need)
		cap *= 2;
	nb = s->a->alloc(s->a->ctx, cap);
	if (!nb)
		return -ENOMEM;
	if (s->out_len)
		memcpy(nb, s->out, s->out_len);
	if (s->out)
		s->a->free(s->a->ctx, s->out, s->out_cap);
	s->out = nb;
	s->out_cap = cap;
	return 0;
}

static int ctl_queue(struct cw_as *s, const cw_envelope *env)
{
	size_t need = cw_msg_encoded_len(env);
	ptrdiff_t n;
	int r = out_reserve(s, need);

	if (r)
		return r;
	n = cw_msg_encode(env, s->peer_msg_limit, s->out + s->out_len, s->out_cap - s->out_len);
	if (n < 0)
		return (int)n;
	s->out_len += (size_t)n;
	return 0;
}

static void ctl_flush(struct cw_as *s)
{
	size_t n = 0;

	if (s->out_off == s->out_len || s->state >= CW_AS_CLOSING)
		return;
	if (cw_conn_stream_write(s->c, CW_STREAMS_CONTROL_ID, s->out + s->out_off,
				 s->out_len - s->out_off, &n) < 0)
		return; /* -EAGAIN: CW_STREAM_EV_WRITABLE on stream 0 brings us back */
	s->out_off += n;
	s->ctl_written += n;
	if (s->out_off == s->out_len)
		s->out_off = s->out_len = 0;
}

/* ---- Hello ---- */

static size_t allowed_ports(const struct cw_agent_dial_conf *d, uint32_t *ports)
{
	size_t n = 0;

	for (uint32_t i = 0; i < d->n_allow && i < CW_AGENT_MAX_ALLOW; i++) {
		size_t j = 0;

		while (j < n && ports[j] != d->allow[i].port)
			j++;
		if (j == n)
			ports[n++] = d->allow[i].port;
	}
	return n;
}

static int send_hello(struct cw_as *s, uint64_t now)
{
	const struct cw_agent_node_conf *nc = &s->conf->agent;
	Causeway__V1__Hello__LabelsEntry le[CW_AGENT_MAX_LABELS], *lp[CW_AGENT_MAX_LABELS];
	Causeway__V1__TransportParams tp = CAUSEWAY__V1__TRANSPORT_PARAMS__INIT;
	Causeway__V1__Capacity cap = CAUSEWAY__V1__CAPACITY__INIT;
	Causeway__V1__Hello h = CAUSEWAY__V1__HELLO__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	uint32_t ports[CW_AGENT_MAX_ALLOW];
	uint64_t id;
	int r;

	for (uint32_t i = 0; i < nc->n_labels && i < CW_AGENT_MAX_LABELS; i++) {
		le[i] = (Causeway__V1__Hello__LabelsEntry)CAUSEWAY__V1__HELLO__LABELS_ENTRY__INIT;
		le[i].key = (char *)nc->labels[i].key;
		le[i].value = (char *)nc->labels[i].value;
		lp[i] = &le[i];
	}
	tp.initial_max_data = s->sc.max_data;
	tp.initial_max_stream_data = s->sc.max_stream_data;
	tp.initial_max_streams = s->sc.max_streams;
	tp.idle_timeout_ms = s->conf->keepalive.idle_timeout_ms;
	tp.max_udp_payload = CW_CONN_DGRAM_MAX;
	tp.max_message_size = CW_MSG_SIZE_DEFAULT;
	cap.cpu_millis = s->capacity.cpu_millis;
	cap.memory_bytes = s->capacity.memory_bytes;
	cap.pods = s->capacity.pods;
	cap.ephemeral_storage_bytes = s->capacity.ephemeral_storage_bytes;
	h.node_name = s->node_name;
	h.pool = (char *)nc->pool;
	h.n_labels = nc->n_labels;
	h.labels = lp;
	h.capacity = &cap;
	h.agent_version = s->version;
	h.n_dictionary_ids = s->n_dict_ids;
	h.dictionary_ids = s->dict_ids;
	h.transport = &tp;
	h.n_allowed_ports = allowed_ports(&s->conf->dial, ports);
	h.allowed_ports = ports;
	h.boot_id.data = s->boot_id;
	h.boot_id.len = sizeof(s->boot_id);
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_HELLO;
	env.hello = &h;

	r = cw_conn_stream_open(s->c, &id);
	if (r == 0 && id != CW_STREAMS_CONTROL_ID)
		r = -EPROTO;
	if (r == 0)
		r = ctl_queue(s, &env);
	if (r)
		return r;
	ctl_flush(s);
	s->state = CW_AS_HELLO_SENT;
	s->hello_deadline = now + CW_AS_HELLO_TIMEOUT_NS;
	return 0;
}

/* ---- Heartbeat ---- */

static void send_heartbeat(struct cw_as *s, uint64_t now)
{
	Causeway__V1__Heartbeat hb = CAUSEWAY__V1__HEARTBEAT__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	hb.seq = s->hb_seq + 1;
	hb.unix_ms = s->wall0 + (now - s->now0) / MS;
	hb.kubelet_healthy = s->status.kubelet_healthy;
	hb.offline_queue_depth = s->status.offline_queue_depth;
	hb.load_milli = s->status.load_milli;
	hb.uptime_s = s->status.uptime_s;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_HEARTBEAT;
	env.heartbeat = &hb;
	/* A control stream so backed up that even a Heartbeat does not fit
	 * skips this one; the next is due one interval later anyway. */
	if (ctl_queue(s, &env) == 0) {
		s->hb_seq++;
		s->info.heartbeats++;
		s->status_sent = s->status;
		ctl_flush(s);
	}
	s->hb_last = now;
	s->hb_due = now + s->hb_interval;
}

/* Load and uptime move all the time and ride along; only these count as a
 * change worth a Heartbeat before the interval. */
static bool status_changed(const struct cw_as_status *a, const struct cw_as_status *b)
{
	return a->kubelet_healthy != b->kubelet_healthy ||
	       a->offline_queue_depth != b->offline_queue_depth;
}

void cw_as_set_status(struct cw_as *s, uint64_t now, const struct cw_as_status *st)
{
	uint64_t at;

	if (!s || !st)
		return;
	s->status = *st;
	if (s->state != CW_AS_ESTABLISHED || !status_changed(&s->status, &s->status_sent))
		return;
	at = s->hb_last + CW_AS_HEARTBEAT_GAP_NS;
	if (at < now)
		at = now;
	if (at < s->hb_due)
		s->hb_due = at;
}

/* ---- control stream input ---- */

static int transport_ok(const Causeway__V1__TransportParams *t)
{
	if (!t)
		return 0;
	if (t->max_udp_payload && t->max_udp_payload < CW_CONN_DGRAM_MAX)
		return -EPROTO;
	if (t->max_message_size &&
	    (t->max_message_size < CW_MSG_SIZE_FLOOR || t->max_message_size > CW_MSG_SIZE_MAX))
		return -EPROTO;
	return 0;
}

static bool dict_offered(const struct cw_as *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_dict_ids; i++)
		if (s->dict_ids[i] == id)
			return true;
	return false;
}

/* HelloAck: returns 0 or the connection error code to close with. */
static uint64_t on_hello_ack(struct cw_as *s, uint64_t now, const Causeway__V1__HelloAck *ack)
{
	const Causeway__V1__TransportParams *t = ack->transport;
	uint32_t iv;

	if (s->state != CW_AS_HELLO_SENT)
		return CW_AS_CONTROL_STREAM_ERROR;
	if (transport_ok(t) < 0 ||
	    cw_conn_set_peer_params(s->c, t ? t->initial_max_data : 0,
				    t ? t->initial_max_stream_data : 0,
				    t ? t->initial_max_streams : 0, t ? t->idle_timeout_ms : 0) < 0)
		return CW_TE_TRANSPORT_PARAMETER_ERROR;
	if (ack->dictionary_id && !dict_offered(s, ack->dictionary_id))
		return CW_AS_CONTROL_STREAM_ERROR;
	if (t && t->max_message_size)
		s->peer_msg_limit = t->max_message_size;
	else
		s->peer_msg_limit = CW_MSG_SIZE_DEFAULT;
	s->has_token = ack->stateless_reset_token.len == CW_RESET_TOKEN_LEN;
	if (s->has_token)
		memcpy(s->token, ack->stateless_reset_token.data, CW_RESET_TOKEN_LEN);
	iv = ack->heartbeat_interval_s ? ack->heartbeat_interval_s : CW_AS_HEARTBEAT_DEFAULT_S;
	s->hb_interval = (uint64_t)min_u32(iv, s->conf->keepalive.heartbeat_interval_s) * SEC;
	s->info.session_id = ack->session_id;
	s->info.dictionary_id = ack->dictionary_id;
	s->info.up_at = now;
	s->hello_deadline = NEVER;
	s->hb_due = now;
	s->state = CW_AS_ESTABLISHED;
	return 0;
}

static uint64_t on_ctl_msg(struct cw_as *s, uint64_t now, const cw_envelope *env)
{
	switch (env->msg_case) {
	case CAUSEWAY__V1__ENVELOPE__MSG_HELLO_ACK:
		return on_hello_ack(s, now, env->hello_ack);
	case CAUSEWAY__V1__ENVELOPE__MSG_CLOSE:
		s->info.retry_after_ms = env->close->retry_after_ms;
		return 0;
	case CAUSEWAY__V1__ENVELOPE__MSG_ASSIGNMENT:
	case CAUSEWAY__V1__ENVELOPE__MSG_PEER_PROBE:
		if (s->state != CW_AS_ESTABLISHED)
			return CW_AS_CONTROL_STREAM_ERROR;
		s->info.ignored++;
		return 0;
	case CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET:
		s->info.ignored++; /* a member of a later version (§13.1) */
		return 0;
	default:
		return CW_AS_CONTROL_STREAM_ERROR;
	}
}

/* Feed stream 0 bytes to the decoder; 0 or the code to close with. */
static uint64_t ctl_feed(struct cw_as *s, uint64_t now, const uint8_t *p, size_t n)
{
	while (n) {
		cw_envelope *env = NULL;
		ptrdiff_t used = cw_msg_decode(&s->ctl, p, n, &env);
		uint64_t code;

		if (used < 0)
			return used == -ENOMEM ? CW_AS_APPLICATION_INTERNAL
					       : CW_AS_CONTROL_STREAM_ERROR;
		p += used;
		n -= (size_t)used;
		if (!env)
			continue;
		code = on_ctl_msg(s, now, env);
		cw_msg_free(&s->ctl, env);
		if (code)
			return code;
	}
	return 0;
}

static void ctl_read(struct cw_as *s, uint64_t now)
{
	uint8_t buf[READ_CHUNK];
	uint64_t code = 0, rc;
	size_t n;
	bool fin;
	int r;

	while (!code && (r = cw_conn_stream_read(s->c, CW_STREAMS_CONTROL_ID, buf, sizeof(buf), &n,
						 &fin, &rc)) == 0) {
		code = ctl_feed(s, now, buf, n);
		if (!code && fin)
			code = CW_AS_CONTROL_STREAM_ERROR;
	}
	if (!code && r != -EAGAIN)
		code = CW_AS_CONTROL_STREAM_ERROR;
	if (code)
		cw_conn_close(s->c, now, code, "control stream");
}

/* ---- dial streams ---- */

static struct dial *dial_find(struct cw_as *s, uint64_t id)
{
	struct dial *d = s->dials;

	while (d && d->id != id)
		d = d->next;
	return d;
}

static void dial_queue(struct cw_as *s, struct dial *d, unsigned flags)
{
	d->flags |= flags;
	if (d->queued)
		return;
	d->queued = true;
	d->evnext = NULL;
	if (s->evtail)
		s->evtail->evnext = d;
	else
		s->evhead = d;
	s->evtail = d;
}

static void dial_unqueue(struct cw_as *s, struct dial *d)
{
	struct dial **pp = &s->evhead, *prev = NULL;

	if (!d->queued)
		return;
	while (*pp != d) {
		prev = *pp;
		pp = &(*pp)->evnext;
	}
	*pp = d->evnext;
	if (s->evtail == d)
		s->evtail = prev;
	d->queued = false;
}

static void dial_free(struct cw_as *s, struct dial *d)
{
	struct dial **pp = &s->dials;

	while (*pp != d)
		pp = &(*pp)->next;
	*pp = d->next;
	dial_unqueue(s, d);
	cw_msg_decoder_free(&d->dec);
	s->a->free(s->a->ctx, d, sizeof(*d));
}

static struct dial *dial_new(struct cw_as *s, uint64_t id)
{
	struct dial *d = s->a->alloc(s->a->ctx, sizeof(*d));

	if (!d)
		return NULL;
	memset(d, 0, sizeof(*d));
	if (cw_msg_decoder_init(&d->dec, s->a, CW_MSG_SIZE_DEFAULT)) {
		s->a->free(s->a->ctx, d, sizeof(*d));
		return NULL;
	}
	d->id = id;
	d->next = s->dials;
	s->dials = d;
	return d;
}

/* A stream error on @d (§1): reset and stop with @code. */
static void dial_abort(struct cw_as *s, struct dial *d, uint64_t code, bool tell_shell)
{
	cw_conn_stream_reset(s->c, d->id, code);
	cw_conn_stream_stop(s->c, d->id, code);
	/* A shell that has not taken the Dial event yet never hears of it. */
	if (tell_shell && !(d->flags & F_DIAL)) {
		d->phase = D_GONE;
		dial_queue(s, d, CW_AS_F_ABORTED);
	} else {
		dial_free(s, d);
	}
}

/* Write a whole small message on dial stream @id. */
static int stream_put(struct cw_as *s, uint64_t id, const cw_envelope *env)
{
	uint8_t buf[SMALL_MSG_MAX];
	ptrdiff_t len = cw_msg_encode(env, s->peer_msg_limit, buf, sizeof(buf));
	size_t n = 0;
	int r;

	if (len < 0)
		return (int)len;
	r = cw_conn_stream_write(s->c, id, buf, (size_t)len, &n);
	if (r == 0 && n != (size_t)len)
		r = -ENOBUFS; /* a fresh stream always has room for this */
	return r;
}

static int put_dial_result(struct cw_as *s, struct dial *d, bool ok, int err, const char *reason)
{
	Causeway__V1__DialResult dr = CAUSEWAY__V1__DIAL_RESULT__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	char why[CW_MSG_REASON_MAX + 1];

	copy_str(why, sizeof(why), reason);
	dr.request_id = d->request_id;
	dr.ok = ok;
	dr.error = ok ? CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_NONE : (Causeway__V1__DialError)err;
	dr.reason = why;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_DIAL_RESULT;
	env.dial_result = &dr;
	return stream_put(s, d->id, &env);
}

/*
 * End a stream the agent will not serve once its answer (DialResult or
 * Error) was written with result @r: FIN, then discard what the gateway
 * still sends until its FIN.
 */
static void dial_refuse(struct cw_as *s, struct dial *d, int r)
{
	if (r == 0)
		r = cw_conn_stream_finish(s->c, d->id);
	if (r) {
		dial_abort(s, d, CW_AS_SERR_INTERNAL, false);
		return;
	}
	d->phase = D_DONE;
	d->tx_done = true;
	if (d->early_fin)
		dial_free(s, d);
}

/* Dial's fields, copied into @d before its Envelope is freed. */
static bool take_dial(struct cw_as *s, struct dial *d, const Causeway__V1__Dial *m)
{
	bool ok_port = m->port >= 1 && m->port <= 65535;

	d->request_id = m->request_id;
	copy_str(d->host, sizeof(d->host), m->host[0] ? m->host : LOOPBACK);
	d->port = ok_port ? (uint16_t)m->port : 0;
	d->timeout_ms = m->timeout_ms ? m->timeout_ms : s->conf->dial.connect_timeout_ms;
	return ok_port;
}

static void on_dial(struct cw_as *s, struct dial *d, bool ok_port)
{
	s->info.dials_total++;
	if (!ok_port || !cw_agent_dial_allowed(&s->conf->dial, d->host, d->port)) {
		s->info.dials_refused++;
		dial_refuse(s, d,
			    put_dial_result(s, d, false,
					    CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_NOT_ALLOWED,
					    "not in the agent's allow-list"));
		return;
	}
	d->phase = D_WAIT_RESULT;
	dial_queue(s, d, F_DIAL);
}

static void put_unsupported(struct cw_as *s, struct dial *d)
{
	Causeway__V1__Error e = CAUSEWAY__V1__ERROR__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	e.code = CW_AS_SERR_UNSUPPORTED;
	e.reason = (char *)"unknown message";
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_ERROR;
	env.error = &e;
	dial_refuse(s, d, stream_put(s, d->id, &env));
}

static uint64_t decode_code(ptrdiff_t err)
{
	if (err == -EMSGSIZE)
		return CW_AS_SERR_MESSAGE_TOO_LARGE;
	return err == -ENOMEM ? CW_AS_SERR_INTERNAL : CW_AS_SERR_MESSAGE_DECODE_ERROR;
}

/*
 * Bytes of a stream still waiting for its Dial. Returns true when the
 * stream moved on (answered, refused or freed): @d may be gone.
 */
static bool dial_feed(struct cw_as *s, struct dial *d, const uint8_t *p, size_t n, bool fin)
{
	cw_envelope *env = NULL;
	ptrdiff_t used = n ? cw_msg_decode(&d->dec, p, n, &env) : 0;
	Causeway__V1__Envelope__MsgCase what;
	bool ok_port = false;

	if (used < 0) {
		dial_abort(s, d, decode_code(used), false);
		return true;
	}
	if (!env) {
		if (fin)
			dial_abort(s, d, CW_AS_SERR_MESSAGE_DECODE_ERROR, false);
		return fin;
	}
	what = env->msg_case;
	if (what == CAUSEWAY__V1__ENVELOPE__MSG_DIAL)
		ok_port = take_dial(s, d, env->dial);
	cw_msg_free(&d->dec, env);
	d->early_fin = fin && (size_t)used == n;
	/* Raw bytes may follow only our DialResult{ok} (§13.5). */
	if ((size_t)used < n || (what != CAUSEWAY__V1__ENVELOPE__MSG_DIAL &&
				 what != CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET))
		dial_abort(s, d, CW_AS_SERR_UNEXPECTED_MESSAGE, false);
	else if (what == CAUSEWAY__V1__ENVELOPE__MSG_DIAL)
		on_dial(s, d, ok_port);
	else
		put_unsupported(s, d);
	return true;
}

static void dial_read_first(struct cw_as *s, struct dial *d)
{
	uint8_t buf[READ_CHUNK];
	uint64_t code;
	size_t n;
	bool fin;
	int r;

	while (d->phase == D_WAIT_DIAL &&
	       (r = cw_conn_stream_read(s->c, d->id, buf, sizeof(buf), &n, &fin, &code)) == 0) {
		if (dial_feed(s, d, buf, n, fin))
			return;
	}
	if (d->phase == D_WAIT_DIAL && r != -EAGAIN)
		dial_abort(s, d, CW_AS_SERR_CANCELLED, false);
}

/* Discard what the gateway still sends on a refused stream. */
static void dial_drain(struct cw_as *s, struct dial *d)
{
	uint8_t buf[READ_CHUNK];
	uint64_t code;
	size_t n;
	bool fin = false;
	int r;

	do
		r = cw_conn_stream_read(s->c, d->id, buf, sizeof(buf), &n, &fin, &code);
	while (r == 0 && !fin);
	if (fin || r != -EAGAIN)
		dial_free(s, d);
}

/* Before our result: only a FIN may arrive (kept for the raw phase). */
static void dial_check_early(struct cw_as *s, struct dial *d)
{
	struct cw_stream_info si;

	if (cw_streams_info(cw_conn_streams(s->c), d->id, &si) < 0 ||
	    si.rx == CW_STREAM_RX_RESET_RECVD || si.rx == CW_STREAM_RX_RESET_READ)
		dial_abort(s, d, CW_AS_SERR_CANCELLED, true);
	else if (si.rx_readable)
		dial_abort(s, d, CW_AS_SERR_UNEXPECTED_MESSAGE, true);
}

/* ---- API streams (§13.4) ---- */

static struct api *api_find(const struct cw_as *s, uint64_t id)
{
	struct api *a;

	for (a = s->apis; a && a->id != id; a = a->next)
		;
	return a;
}

static void api_unqueue(struct cw_as *s, struct api *a)
{
	struct api **pp;

	if (!a->queued)
		return;
	for (pp = &s->api_evhead; *pp != a; pp = &(*pp)->evnext)
		;
	*pp = a->evnext;
	if (s->api_evtail == a) {
		s->api_evtail = NULL;
		for (struct api *q = s->api_evhead; q; q = q->evnext)
			s->api_evtail = q;
	}
	a->evnext = NULL;
	a->queued = false;
}

static void api_queue(struct cw_as *s, struct api *a, unsigned flags)
{
	a->flags |= flags;
	if (a->queued || !a->flags)
		return;
	a->queued = true;
	if (s->api_evtail)
		s->api_evtail->evnext = a;
	else
		s->api_evhead = a;
	s->api_evtail = a;
}

static void api_free(struct cw_as *s, struct api *a)
{
	struct api **pp;

	api_unqueue(s, a);
	for (pp = &s->apis; *pp != a; pp = &(*pp)->next)
		;
	*pp = a->next;
	cw_msg_decoder_free(&a->dec);
	s->a->free(s->a->ctx, a, sizeof(*a));
}

/* The gateway aborts with RESET_STREAM and STOP_SENDING: the reset, with
 * its code, is what cw_as_api_read() reports. */
static void api_event(struct cw_as *s, struct api *a, unsigned ev)
{
	if (ev & (CW_STREAM_EV_READABLE | CW_STREAM_EV_STOPPED))
		api_queue(s, a, CW_AS_F_READABLE);
}

static void on_stream_event(struct cw_as *s, uint64_t id, unsigned ev)
{
	struct dial *d;
	struct api *a;

	if (!(id & 1)) {
		if ((a = api_find(s, id)))
			api_event(s, a, ev);
		return;
	}
	d = dial_find(s, id);

	if (!d) {
		/* Only a stream the gateway newly opened; forgotten ones stay so. */
		if (!(id & 1) || id < s->next_peer_id)
			return;
		s->next_peer_id = id + 4;
		d = dial_new(s, id);
		if (!d) {
			cw_conn_stream_reset(s->c, id, CW_AS_SERR_INTERNAL);
			cw_conn_stream_stop(s->c, id, CW_AS_SERR_INTERNAL);
			return;
		}
	}
	switch (d->phase) {
	case D_WAIT_DIAL:
		/* Nothing but Hello goes out before HelloAck (§13.3); a Dial
		 * reordered ahead of HelloAck waits for it. */
		if (s->state == CW_AS_ESTABLISHED)
			dial_read_first(s, d);
		else
			s->deferred = true;
		break;
	case D_WAIT_RESULT:
		if (ev & CW_STREAM_EV_STOPPED)
			dial_abort(s, d, CW_AS_SERR_CANCELLED, true);
		else
			dial_check_early(s, d);
		break;
	case D_RAW:
		if (ev & CW_STREAM_EV_STOPPED)
			dial_abort(s, d, CW_AS_SERR_CONNECTION_RESET, true);
		else
			dial_queue(s, d,
				   ((ev & CW_STREAM_EV_READABLE) ? CW_AS_F_READABLE : 0) |
				       ((ev & CW_STREAM_EV_WRITABLE) ? CW_AS_F_WRITABLE : 0));
		break;
	case D_DONE:
		dial_drain(s, d);
		break;
	case D_GONE:
		break;
	}
}

/* ---- driving ---- */

static enum cw_as_end end_of(enum cw_conn_end e)
{
	switch (e) {
	case CW_CONN_END_LOCAL:
		return CW_AS_END_LOCAL;
	case CW_CONN_END_PEER:
		return CW_AS_END_PEER;
	case CW_CONN_END_IDLE:
		return CW_AS_END_IDLE;
	case CW_CONN_END_HANDSHAKE:
		return CW_AS_END_HANDSHAKE;
	default:
		return CW_AS_END_NONE;
	}
}

static void sync_state(struct cw_as *s)
{
	enum cw_conn_state cs = cw_conn_state(s->c);

	if (cs == CW_CONN_CLOSING || cs == CW_CONN_DRAINING || cs == CW_CONN_CLOSED) {
		s->end = end_of(cw_conn_end(s->c));
		s->state = cs == CW_CONN_CLOSED ? CW_AS_ENDED : CW_AS_CLOSING;
	}
}

/* After every input: Hello, stream events, pending output, state. */
static void advance(struct cw_as *s, uint64_t now)
{
	unsigned ev;
	uint64_t id;

	if (s->state == CW_AS_ENDED)
		return;
	sync_state(s);
	if (s->state == CW_AS_HANDSHAKING && cw_conn_state(s->c) == CW_CONN_ESTABLISHED &&
	    send_hello(s, now) < 0)
		cw_conn_close(s->c, now, CW_AS_APPLICATION_INTERNAL, "hello");
	while (cw_conn_next_event(s->c, &id, &ev) == 0) {
		if (id == CW_STREAMS_CONTROL_ID) {
			if (ev & CW_STREAM_EV_READABLE)
				ctl_read(s, now);
		} else {
			on_stream_event(s, id, ev);
		}
	}
	if (s->deferred && s->state == CW_AS_ESTABLISHED) {
		struct dial *d = s->dials, *next;

		s->deferred = false;
		for (; d; d = next) {
			next = d->next;
			if (d->phase == D_WAIT_DIAL)
				dial_read_first(s, d);
		}
	}
	ctl_flush(s);
	sync_state(s);
}

int cw_as_new(const struct cw_as_cfg *cfg, uint64_t now, struct cw_as **out)
{
	const struct cw_alloc *a;
	struct cw_conn_cfg cc = {0};
	struct cw_hs_agent_cfg hs;
	struct cw_as *s;
	int r;

	if (!cfg || !out || !cfg->conf || !cfg->node_name || !cfg->node_name[0] ||
	    strlen(cfg->node_name) > CW_MSG_NAME_MAX || !cfg->hs.tls ||
	    cfg->n_dict_ids > CW_AS_DICT_IDS_MAX || (cfg->n_dict_ids && !cfg->dict_ids))
		return -EINVAL;
	a = cfg->alloc ? cfg->alloc : cw_alloc_default();
	s = a->alloc(a->ctx, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->a = a;
	s->conf = cfg->conf;
	copy_str(s->node_name, sizeof(s->node_name), cfg->node_name);
	copy_str(s->version, sizeof(s->version), cfg->agent_version);
	if (cfg->n_dict_ids)
		memcpy(s->dict_ids, cfg->dict_ids, cfg->n_dict_ids * sizeof(uint32_t));
	s->n_dict_ids = cfg->n_dict_ids;
	s->capacity = cfg->capacity;
	memcpy(s->boot_id, cfg->boot_id, sizeof(s->boot_id));
	s->now0 = now;
	s->wall0 = cfg->wall_ms;
	s->peer_msg_limit = CW_MSG_SIZE_FLOOR;
	s->hello_deadline = s->hb_due = NEVER;
	s->next_peer_id = 1;
	cw_streams_config_default(&s->sc, false);
	cc.alloc = a;
	cc.streams = &s->sc;
	cc.idle_timeout_ns = (uint64_t)cfg->conf->keepalive.idle_timeout_ms * MS;
	cc.keepalive_ns = (uint64_t)cfg->conf->keepalive.interval_ms * MS;
	cc.seed = cfg->seed;
	hs = cfg->hs;
	hs.alloc = a;
	memcpy(s->cid, hs.cid, CW_CID_LEN);
	memcpy(s->odcid, hs.odcid, CW_CID_LEN);
	r = cw_msg_decoder_init(&s->ctl, a, CW_MSG_SIZE_DEFAULT);
	if (r == 0)
		r = cw_conn_agent_new(&cc, &hs, now, &s->c);
	if (r) {
		cw_as_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void cw_as_free(struct cw_as *s)
{
	if (!s)
		return;
	while (s->dials)
		dial_free(s, s->dials);
	while (s->apis)
		api_free(s, s->apis);
	cw_msg_decoder_free(&s->ctl);
	if (s->out)
		s->a->free(s->a->ctx, s->out, s->out_cap);
	cw_conn_free(s->c);
	s->a->free(s->a->ctx, s, sizeof(*s));
}

/*
 * §15.2: a Version Negotiation packet is unauthenticated, so it counts only
 * for an attempt that has received nothing else, when it echoes both CIDs
 * of our first INITIAL and does not list the version we used (else it is
 * forged or corrupted). Then the attempt has failed. Returns whether @d
 * was one (taken or ignored).
 */
static bool version_negotiation(struct cw_as *s, const uint8_t *d, size_t len)
{
	const struct cw_hs *hs = cw_conn_hs(s->c);
	size_t off = 5;

	if (len < 7 || !(d[0] & 0x80) || d[1] || d[2] || d[3] || d[4])
		return false;
	if (!hs || cw_hs_counters(hs)->pkts_in || cw_hs_counters(hs)->retries)
		return true;
	if (d[off] != CW_CID_LEN || len < off + 2 + 2 * CW_CID_LEN ||
	    memcmp(d + off + 1, s->cid, CW_CID_LEN))
		return true;
	off += 1 + CW_CID_LEN;
	if (d[off] != CW_CID_LEN || memcmp(d + off + 1, s->odcid, CW_CID_LEN))
		return true;
	off += 1 + CW_CID_LEN;
	if (len == off || (len - off) % 4)
		return true;
	for (; off < len; off += 4)
		if (((uint32_t)d[off] << 24 | (uint32_t)d[off + 1] << 16 |
		     (uint32_t)d[off + 2] << 8 | d[off + 3]) == CW_VERSION_1)
			return true;
	s->state = CW_AS_ENDED;
	s->end = CW_AS_END_VERSION;
	return true;
}

int cw_as_recv(struct cw_as *s, uint64_t now, uint8_t *dgram, size_t len)
{
	uint8_t tail[CW_RESET_MIN_LEN] = {0};
	bool check;
	uint64_t dropped;
	int r;

	if (!s || !dgram)
		return -EINVAL;
	if (s->state == CW_AS_ENDED || version_negotiation(s, dgram, len))
		return 0;
	/* Decryption works in place: keep the bytes a reset token would be. */
	check = s->has_token && len >= CW_RESET_MIN_LEN;
	if (check)
		memcpy(tail + CW_RESET_MIN_LEN - CW_RESET_TOKEN_LEN,
		       dgram + len - CW_RESET_TOKEN_LEN, CW_RESET_TOKEN_LEN);
	dropped = cw_conn_stats(s->c)->dropped;
	r = cw_conn_recv(s->c, now, dgram, len);
	if (r)
		return r;
	if (check && cw_conn_stats(s->c)->dropped > dropped &&
	    cw_reset_match(tail, sizeof(tail), s->token)) {
		s->state = CW_AS_ENDED;
		s->end = CW_AS_END_RESET;
		return 0;
	}
	advance(s, now);
	return 0;
}

/* The Close message left in a packet: CONNECTION_CLOSE may follow (§11.3). */
static bool close_ready(const struct cw_as *s)
{
	struct cw_stream_info si;

	if (s->out_off != s->out_len)
		return false;
	return cw_streams_info(cw_conn_streams(s->c), CW_STREAMS_CONTROL_ID, &si) < 0 ||
	       si.tx_sent >= s->ctl_written;
}

int cw_as_send(struct cw_as *s, uint64_t now, uint8_t *out, size_t cap)
{
	int n;

	if (!s || !out)
		return -EINVAL;
	if (s->state == CW_AS_ENDED)
		return 0;
	n = cw_conn_send(s->c, now, out, cap);
	if (n == 0 && s->close_pending && close_ready(s)) {
		s->close_pending = false;
		cw_conn_close(s->c, now, s->close_code, s->close_reason);
		n = cw_conn_send(s->c, now, out, cap);
	}
	sync_state(s);
	return n;
}

uint64_t cw_as_next_timeout(const struct cw_as *s)
{
	uint64_t t;

	if (!s || s->state == CW_AS_ENDED)
		return NEVER;
	t = cw_conn_next_timeout(s->c);
	if (s->state == CW_AS_HELLO_SENT && s->hello_deadline < t)
		t = s->hello_deadline;
	if (s->state == CW_AS_ESTABLISHED && s->hb_due < t)
		t = s->hb_due;
	return t;
}

void cw_as_on_timeout(struct cw_as *s, uint64_t now)
{
	if (!s || s->state == CW_AS_ENDED)
		return;
	if (cw_conn_next_timeout(s->c) <= now)
		cw_conn_on_timeout(s->c, now);
	sync_state(s);
	if (s->state == CW_AS_HELLO_SENT && now >= s->hello_deadline) {
		s->hello_deadline = NEVER;
		cw_conn_close(s->c, now, CW_AS_HELLO_TIMEOUT, "no HelloAck");
	}
	if (s->state == CW_AS_ESTABLISHED && now >= s->hb_due)
		send_heartbeat(s, now);
	advance(s, now);
}

static int api_next_event(struct cw_as *s, struct cw_as_event *ev)
{
	struct api *a = s->api_evhead;

	if (!a)
		return -ENOENT;
	api_unqueue(s, a);
	memset(ev, 0, sizeof(*ev));
	ev->type = CW_AS_EV_API;
	ev->stream = a->id;
	ev->flags = a->flags;
	a->flags = 0;
	return 0;
}

int cw_as_next_event(struct cw_as *s, struct cw_as_event *ev)
{
	struct dial *d;

	if (!s || !ev)
		return -EINVAL;
	d = s->evhead;
	if (!d)
		return api_next_event(s, ev);
	dial_unqueue(s, d);
	memset(ev, 0, sizeof(*ev));
	ev->stream = d->id;
	if (d->flags & F_DIAL) {
		ev->type = CW_AS_EV_DIAL;
		ev->request_id = d->request_id;
		copy_str(ev->host, sizeof(ev->host), d->host);
		ev->port = d->port;
		ev->timeout_ms = d->timeout_ms;
		d->flags &= ~(unsigned)F_DIAL;
		if (d->flags)
			dial_queue(s, d, 0);
		return 0;
	}
	ev->type = CW_AS_EV_STREAM;
	ev->flags = d->flags;
	d->flags = 0;
	if (d->phase == D_GONE)
		dial_free(s, d);
	return 0;
}

int cw_as_dial_result(struct cw_as *s, uint64_t id, bool ok, int dial_error, const char *reason)
{
	struct dial *d;
	struct cw_stream_info si;
	int r;

	if (!s || (!ok &&
		   (dial_error <= 0 || dial_error > CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_INTERNAL)))
		return -EINVAL;
	d = dial_find(s, id);
	if (!d || d->phase != D_WAIT_RESULT)
		return -ENOENT;
	r = put_dial_result(s, d, ok, dial_error, reason);
	if (!ok || r) {
		dial_refuse(s, d, r);
		return r;
	}
	d->phase = D_RAW;
	/* A FIN that came while connecting is for the shell to read now. */
	if (d->early_fin || (cw_streams_info(cw_conn_streams(s->c), id, &si) == 0 &&
			     (si.rx == CW_STREAM_RX_DATA_RECVD || si.rx_readable)))
		dial_queue(s, d, CW_AS_F_READABLE);
	return 0;
}

static struct dial *raw_dial(struct cw_as *s, uint64_t id)
{
	struct dial *d = s ? dial_find(s, id) : NULL;

	return d && d->phase == D_RAW ? d : NULL;
}

static void raw_maybe_free(struct cw_as *s, struct dial *d)
{
	if (d->rx_done && d->tx_done)
		dial_free(s, d);
}

int cw_as_stream_read(struct cw_as *s, uint64_t id, uint8_t *buf, size_t cap, size_t *n, bool *fin,
		      uint64_t *code)
{
	struct dial *d = raw_dial(s, id);
	int r;

	if (!d || d->rx_done)
		return -ENOENT;
	if (d->early_fin) {
		*n = 0;
		*fin = true;
		d->rx_done = true;
		raw_maybe_free(s, d);
		return 0;
	}
	r = cw_conn_stream_read(s->c, id, buf, cap, n, fin, code);
	if (r == 0) {
		s->info.raw_in += *n;
		d->rx_done = *fin;
	} else if (r == -ECONNRESET) {
		d->rx_done = true;
	}
	if (r == 0 || r == -ECONNRESET)
		raw_maybe_free(s, d);
	return r;
}

int cw_as_stream_write(struct cw_as *s, uint64_t id, const uint8_t *data, size_t len, size_t *n)
{
	struct dial *d = raw_dial(s, id);
	int r;

	if (!d || d->tx_done)
		return -ENOENT;
	r = cw_conn_stream_write(s->c, id, data, len, n);
	if (r == 0)
		s->info.raw_out += *n;
	return r;
}

int cw_as_stream_finish(struct cw_as *s, uint64_t id)
{
	struct dial *d = raw_dial(s, id);
	int r;

	if (!d || d->tx_done)
		return -ENOENT;
	r = cw_conn_stream_finish(s->c, id);
	if (r == 0 || r == -EPIPE) {
		d->tx_done = true;
		raw_maybe_free(s, d);
	}
	return r;
}

int cw_as_stream_abort(struct cw_as *s, uint64_t id, uint64_t code)
{
	struct dial *d = s ? dial_find(s, id) : NULL;

	if (!d)
		return -ENOENT;
	dial_abort(s, d, code, false);
	return 0;
}

void cw_as_shutdown(struct cw_as *s, uint64_t now, uint32_t code, const char *reason)
{
	Causeway__V1__Close cl = CAUSEWAY__V1__CLOSE__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	if (!s || s->state >= CW_AS_CLOSING || s->close_pending)
		return;
	copy_str(s->close_reason, sizeof(s->close_reason), reason);
	if (s->state != CW_AS_ESTABLISHED) {
		cw_conn_close(s->c, now, code, s->close_reason);
		sync_state(s);
		return;
	}
	cl.code = code;
	cl.reason = s->close_reason;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_CLOSE;
	env.close = &cl;
	s->close_code = code;
	s->close_pending = true;
	if (ctl_queue(s, &env) == 0)
		ctl_flush(s);
}

enum cw_as_state cw_as_state(const struct cw_as *s)
{
	return s->state;
}

void cw_as_info(const struct cw_as *s, struct cw_as_info *out)
{
	const struct cw_conn_stats *cs = cw_conn_stats(s->c);

	*out = s->info;
	out->state = s->state;
	out->end = s->end;
	out->close_code = cw_conn_close_code(s->c, s->end != CW_AS_END_PEER);
	out->srtt_ns = cw_conn_srtt(s->c);
	out->dgrams_in = cs->dgrams_in;
	out->dgrams_out = cs->dgrams_out;
	out->dials_active = 0;
	for (const struct dial *d = s->dials; d; d = d->next)
		out->dials_active += d->phase == D_WAIT_RESULT || d->phase == D_RAW;
}

const uint8_t *cw_as_ticket(const struct cw_as *s, size_t *len)
{
	return cw_conn_ticket(s->c, len);
}

/* ---- API streams: the shell's calls ---- */

/* Write all of @env on @id: the encoded request must fit the send buffer. */
static int api_write(struct cw_as *s, uint64_t id, const cw_envelope *env)
{
	size_t len = cw_msg_encoded_len(env), w;
	uint8_t *b;
	ptrdiff_t n;
	int r;

	if (len > s->peer_msg_limit)
		return -EMSGSIZE;
	b = s->a->alloc(s->a->ctx, len);
	if (!b)
		return -ENOMEM;
	n = cw_msg_encode(env, s->peer_msg_limit, b, len);
	r = n < 0 ? (int)n : cw_conn_stream_write(s->c, id, b, (size_t)n, &w);
	if (r == 0 && w != (size_t)n)
		r = -ENOBUFS;
	s->a->free(s->a->ctx, b, len);
	return r;
}

int cw_as_api_open(struct cw_as *s, const cw_envelope *req, uint64_t *id)
{
	struct api *a;
	int r;

	if (!s || !req || !id || req->msg_case != CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST)
		return -EINVAL;
	if (s->state != CW_AS_ESTABLISHED)
		return -ENOTCONN;
	a = s->a->alloc(s->a->ctx, sizeof(*a));
	if (!a)
		return -ENOMEM;
	memset(a, 0, sizeof(*a));
	(void)cw_msg_decoder_init(&a->dec, s->a, CW_MSG_SIZE_DEFAULT); /* valid: cannot fail */
	r = cw_conn_stream_open(s->c, &a->id);
	if (r < 0) {
		cw_msg_decoder_free(&a->dec);
		s->a->free(s->a->ctx, a, sizeof(*a));
		return r == -ENOSPC ? -EAGAIN : r;
	}
	a->next = s->apis;
	s->apis = a;
	r = api_write(s, a->id, req);
	r = r ? r : cw_conn_stream_finish(s->c, a->id);
	if (r < 0) {
		cw_conn_stream_reset(s->c, a->id, CW_AS_SERR_CANCELLED);
		cw_conn_stream_stop(s->c, a->id, CW_AS_SERR_CANCELLED);
		api_free(s, a);
		return r;
	}
	*id = a->id;
	return 0;
}

/* Refill @a's input from its stream; 0, or the errors of the read. */
static int api_fill(struct cw_as *s, struct api *a, uint64_t *code)
{
	size_t n;
	bool fin = false;
	int r = cw_conn_stream_read(s->c, a->id, a->in, sizeof(a->in), &n, &fin, code);

	if (r < 0)
		return r;
	a->in_off = 0;
	a->in_len = n;
	a->fin = fin;
	return 0;
}

int cw_as_api_read(struct cw_as *s, uint64_t id, cw_envelope **env, uint64_t *code)
{
	struct api *a = s ? api_find(s, id) : NULL;
	ptrdiff_t k;
	int r;

	if (!a || !env || !code)
		return -ENOENT;
	*env = NULL;
	for (;;) {
		if (a->in_off == a->in_len) {
			if (a->fin) {
				r = cw_msg_decoder_finish(&a->dec);
				api_free(s, a);
				return r < 0 ? r : -EPIPE;
			}
			if ((r = api_fill(s, a, code)) < 0) {
				if (r != -EAGAIN)
					api_free(s, a);
				return r;
			}
			continue;
		}
		k = cw_msg_decode(&a->dec, a->in + a->in_off, a->in_len - a->in_off, env);
		if (k < 0) {
			cw_as_api_cancel(s, id);
			return (int)k;
		}
		a->in_off += (size_t)k;
		if (*env)
			return 0;
	}
}

void cw_as_api_msg_free(struct cw_as *s, uint64_t id, cw_envelope *env)
{
	struct api *a = s ? api_find(s, id) : NULL;

	if (a)
		cw_msg_free(&a->dec, env);
}

int cw_as_api_cancel(struct cw_as *s, uint64_t id)
{
	struct api *a = s ? api_find(s, id) : NULL;

	if (!a)
		return -ENOENT;
	cw_conn_stream_reset(s->c, id, CW_AS_SERR_CANCELLED);
	cw_conn_stream_stop(s->c, id, CW_AS_SERR_CANCELLED);
	api_free(s, a);
	return 0;
}
