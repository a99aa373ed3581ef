/* SPDX-License-Identifier: Apache-2.0 */
#include "edgehub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "edgewatch.h"
#include "log.h"
#include "tunnel/gateway.h"
#include "tunnel/msg_body.h"

#define MAX_HEADERS  8
#define PATH_MAX_LEN 4096
#define KEEP_MAX     (64u << 20) /* larger answers are not kept in the cache */
#define CTYPE_MAX    128

/* A local client's request while its answer is under way. */
struct ereq {
	struct cw_edgehub *h;
	struct evhttp_request *req;
	uint64_t id;
	bool chunked;	/* the reply started in parts */
	bool replied;	/* a whole reply went out; only the FIN is left */
	bool cacheable; /* a GET, not a watch: its 200 answer is kept */
	bool is_view;	/* a GET of a view (edgeview.h), with a store */
	bool learn;	/* a watch the store follows (cw_edgestore_follows) */
	uint32_t status;
	char ctype[CTYPE_MAX];
	struct evbuffer *keep;	 /* the answer's body so far, for the cache */
	struct cw_edgeview view; /* when is_view */
	/* Events of a watch the store follows, learnt a read's worth at a time
	 * (one transaction): their objects one after the other in @learnt. */
	struct evbuffer *learnt;
	struct queued {
		enum cw_ev_type type;
		uint64_t rv;
		size_t len;
	} lq[CW_EDGESTORE_BATCH];
	size_t nlq;
	struct ereq *prev, *next;
};

struct cw_edgehub {
	struct evhttp *http;
	struct cw_as *as;
	void (*kick)(void *ctx);
	void *kick_ctx;
	struct ereq *reqs;
	struct cw_compress *zc; /* zstd bodies without a dictionary */
	struct cw_edgecache *cache;
	struct cw_writereplay *wq;    /* NULL: writes are not queued */
	struct cw_edgestore *store;   /* NULL: no views kept */
	struct cw_edgewatch *watches; /* offline watches; NULL without a store */
	struct cw_edgehub_stats st;
};

/* ---- answers of our own: Kubernetes Status ---- */

static void status_reply(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(req, code, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add_printf(b,
			    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
			    "\"status\":\"Failure\",\"message\":\"%s\",\"reason\":\"%s\","
			    "\"code\":%d}\n",
			    msg, reason, code);
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

/* The gateway's Error as the Status an API server would have given. */
static void error_reply(struct evhttp_request *req, uint32_t code)
{
	switch (code) {
	case CW_SE_TIMEOUT:
		status_reply(req, 504, "Timeout", "the request timed out behind the gateway");
		break;
	case CW_SE_UNSUPPORTED:
		status_reply(req, 501, "NotImplemented", "the gateway does not serve this request");
		break;
	case CW_SE_REFUSED:
	case CW_SE_UPSTREAM_UNAVAILABLE:
		status_reply(req, 503, "ServiceUnavailable", "the API server is not reachable");
		break;
	default:
		status_reply(req, 502, "InternalError", "the gateway could not answer");
		break;
	}
}

/* ---- requests ---- */

/* The events queued by learn() into the store. */
static void learn_flush(struct ereq *e)
{
	struct cw_edgestore_event evs[CW_EDGESTORE_BATCH];
	const char *p;
	int rc;

	if (!e->nlq)
		return;
	p = (const char *)evbuffer_pullup(e->learnt, -1);
	for (size_t i = 0; i < e->nlq; p += e->lq[i++].len)
		evs[i] = (struct cw_edgestore_event){e->lq[i].type, e->lq[i].rv, p, e->lq[i].len};
	rc = cw_edgestore_learn_events(e->h->store, &e->view, evs, e->nlq);
	evbuffer_drain(e->learnt, evbuffer_get_length(e->learnt));
	e->nlq = 0;
	if (rc) {
		cw_awarn("edge hub: %s: events not kept in the store: %s", e->view.key,
			 strerror(-rc));
		e->learn = false;
	}
}

/* Free @e; @conn (NULL: none) lives on, so its close callback must no
 * longer name @e. Taken before the answer ends: libevent may free the
 * request once the answer is out, and has freed it when its connection
 * closes. */
static void ereq_free(struct ereq *e, struct evhttp_connection *conn)
{
	struct cw_edgehub *h = e->h;

	learn_flush(e);
	if (e->prev)
		e->prev->next = e->next;
	else
		h->reqs = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (conn)
		evhttp_connection_set_closecb(conn, NULL, NULL);
	if (e->keep)
		evbuffer_free(e->keep);
	if (e->learnt)
		evbuffer_free(e->learnt);
	free(e);
}

/* ---- the cache ---- */

static bool is_watch(struct evhttp_request *req)
{
	const char *q = strchr(evhttp_request_get_uri(req), '?');

	return strstr(evhttp_request_get_uri(req), "/watch/") ||
	       (q && (strstr(q, "watch=true") || strstr(q, "watch=1")));
}

static bool is_cacheable(struct evhttp_request *req)
{
	return evhttp_request_get_command(req) == EVHTTP_REQ_GET && !is_watch(req);
}

static void hit(struct evhttp_request *req, const char *ctype, struct evbuffer *b)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);

	if (*ctype)
		evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "X-Causeway-Cache", "hit");
	evhttp_send_reply(req, 200, NULL, b);
}

static int cached(const char *ctype, const void *body, size_t len, void *arg)
{
	struct evhttp_request *req = arg;
	struct evbuffer *b = evbuffer_new();

	if (!b || evbuffer_add(b, body, len)) {
		if (b)
			evbuffer_free(b);
		return -ENOMEM;
	}
	hit(req, ctype, b);
	evbuffer_free(b);
	return 0;
}

/* The list of a view, from the store: true when it went out. */
static bool list_from_store(struct cw_edgehub *h, struct evhttp_request *req)
{
	struct cw_edgeview v;
	struct evbuffer *b;
	bool ok;

	if (!h->store || cw_edgeview_parse(evhttp_request_get_uri(req), &v) || v.watch || v.cont ||
	    !(b = evbuffer_new()))
		return false;
	ok = cw_edgestore_list(h->store, &v, b) == 0;
	if (ok)
		hit(req, "application/json", b);
	evbuffer_free(b);
	return ok;
}

/* The kept answer to @req (a view's list from the store, else the answer
 * kept by URI): true when it went out. */
static bool from_cache(struct cw_edgehub *h, struct evhttp_request *req)
{
	if (!h->cache || !is_cacheable(req) ||
	    (!list_from_store(h, req) &&
	     cw_edgecache_get(h->cache, evhttp_request_get_uri(req), cached, req)))
		return false;
	h->st.from_cache++;
	return true;
}

/* A watch of a view the store has, served from it: true when it was. */
static bool watch_from_store(struct cw_edgehub *h, struct evhttp_request *req)
{
	struct cw_edgeview v;

	if (!h->watches || evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
	    cw_edgeview_parse(evhttp_request_get_uri(req), &v) || !v.watch ||
	    cw_edgewatch_serve(h->watches, req, &v))
		return false;
	h->st.from_cache++;
	return true;
}

/* No session: the cache, a watch from the store or told to list again, or 503. */
static void offline(struct cw_edgehub *h, struct evhttp_request *req)
{
	static const char gone[] =
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"metadata\":{},\"status\":\"Failure\",\"message\":\"the gateway is not "
	    "reachable: list again\",\"reason\":\"Expired\",\"code\":410}}\n";
	struct evbuffer *b;

	if (from_cache(h, req) || watch_from_store(h, req))
		return;
	if (h->cache && evhttp_request_get_command(req) == EVHTTP_REQ_GET && is_watch(req) &&
	    (b = evbuffer_new())) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
		evbuffer_add(b, gone, sizeof(gone) - 1);
		evhttp_send_reply(req, 200, NULL, b);
		evbuffer_free(b);
		return;
	}
	h->st.unavailable++;
	status_reply(req, 503, "ServiceUnavailable", "the gateway is not reachable");
}

/* A whole 200 answer: a view's list into the store, what it cannot take
 * (another page, not a List) by URI. */
static void keep_answer(struct ereq *e)
{
	const char *uri = evhttp_request_get_uri(e->req);
	size_t n = evbuffer_get_length(e->keep);
	const void *body = evbuffer_pullup(e->keep, (ev_ssize_t)n);
	int rc = -EINVAL;

	if (e->is_view && !e->view.watch && !e->view.cont)
		rc = cw_edgestore_learn_list(e->h->store, &e->view, body, n);
	if (rc && rc != -EINVAL && rc != -ESTALE)
		cw_awarn("edge hub: %s not kept in the store: %s", uri, strerror(-rc));
	if ((rc == 0 || rc == -ESTALE) && e->is_view)
		return; /* the store answers for the view */
	if (cw_edgecache_put(e->h->cache, uri, e->ctype, body, n) < 0)
		cw_awarn("edge hub: %s not kept in the cache", uri);
}

/* The answer is over (@rc: cw_as_api_read()'s end). */
static void ereq_end(struct ereq *e, int rc)
{
	/* NULL: handed to the offline watches. */
	struct evhttp_connection *conn = e->req ? evhttp_request_get_connection(e->req) : NULL;

	if (rc == -EPIPE && e->keep && e->status == 200 && e->h->cache)
		keep_answer(e);
	if (e->chunked)
		evhttp_send_reply_end(e->req);
	/* Cut short before a reply: the kept answer, when there is one. */
	else if (!e->replied && !from_cache(e->h, e->req))
		status_reply(e->req, 502, "InternalError",
			     rc == -EPIPE ? "the gateway sent no answer"
					  : "the gateway's answer was cut short");
	ereq_free(e, conn);
}

/* A client that went away: its stream is cancelled. */
static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct ereq *e = arg;

	(void)conn;
	e->h->st.cancelled++;
	if (e->h->as && cw_as_api_cancel(e->h->as, e->id) == 0 && e->h->kick)
		e->h->kick(e->h->kick_ctx);
	ereq_free(e, NULL);
}

static const char *verb_of(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	default:
		return NULL;
	}
}

/* Content-Type and Accept: what the answer's form depends on. */
static size_t headers_of(struct evhttp_request *req, Causeway__V1__Header *hs,
			 Causeway__V1__Header **hp)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	static const char *const keep[] = {"content-type", "accept"};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]) && n < MAX_HEADERS; i++) {
		const char *v = evhttp_find_header(in, keep[i]);

		if (!v)
			continue;
		causeway__v1__header__init(&hs[n]);
		hs[n].name = (char *)keep[i];
		hs[n].value = (char *)v;
		hp[n] = &hs[n];
		n++;
	}
	return n;
}

/* ---- the offline write queue ---- */

/* Queued: a POST or PUT of JSON gets its own object back (the object as it
 * will be written; the API server has not set its resourceVersion yet),
 * anything else a Status "Queued"; both with X-Causeway-Queued: SEQ. */
static void queued_reply(struct evhttp_request *req, const char *verb, const char *ctype,
			 uint64_t seq)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	bool echo = (!strcmp(verb, "POST") || !strcmp(verb, "PUT")) && ctype &&
		    !strncasecmp(ctype, "application/json", 16);
	struct evbuffer *b = evbuffer_new();
	char n[24];

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	snprintf(n, sizeof(n), "%" PRIu64, seq);
	evhttp_add_header(oh, "X-Causeway-Queued", n);
	evhttp_add_header(oh, "Content-Type", "application/json");
	if (echo)
		evbuffer_add_buffer_reference(b, evhttp_request_get_input_buffer(req));
	else
		evbuffer_add_printf(
		    b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
		       "\"status\":\"Success\",\"message\":\"queued until the API "
		       "server can be reached\",\"reason\":\"Queued\",\"code\":202}\n");
	evhttp_send_reply(req, echo ? (!strcmp(verb, "POST") ? 201 : 200) : 202, NULL, b);
	evbuffer_free(b);
}

/* A write the queue takes (writereplay.h) goes into it and is answered:
 * true when @req was answered (queued, or 503 when it cannot be). */
static bool queued(struct cw_edgehub *h, struct evhttp_request *req)
{
	const char *verb = verb_of(evhttp_request_get_command(req));
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	uint64_t seq;
	int rc;

	if (!h->wq || !verb || !strcmp(verb, "GET") || !strcmp(verb, "HEAD"))
		return false;
	rc = cw_writereplay_enqueue(h->wq, verb, evhttp_request_get_uri(req), ct ? ct : "",
				    evbuffer_pullup(in, -1), evbuffer_get_length(in), &seq);
	if (rc == -EPERM)
		return false;
	if (rc < 0) {
		h->st.unavailable++;
		status_reply(req, 503, "ServiceUnavailable",
			     rc == -ENOSPC ? "the offline write queue is full"
					   : "the write cannot be queued");
		return true;
	}
	queued_reply(req, verb, ct, seq);
	return true;
}

/* Through the tunnel: ApiRequest and FIN. Returns 0 and *@id, or the HTTP
 * status to answer with. */
static int forward(struct cw_edgehub *h, struct evhttp_request *req, uint64_t *id)
{
	Causeway__V1__ApiRequest rq = CAUSEWAY__V1__API_REQUEST__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	Causeway__V1__Header hs[MAX_HEADERS], *hp[MAX_HEADERS];
	Causeway__V1__Body body = CAUSEWAY__V1__BODY__INIT;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *uri = evhttp_request_get_uri(req), *q = strchr(uri, '?');
	char path[PATH_MAX_LEN];
	size_t len = evbuffer_get_length(in);
	int rc;

	rq.verb = (char *)verb_of(evhttp_request_get_command(req));
	if (!rq.verb)
		return 405;
	if ((size_t)(q ? q - uri : (ptrdiff_t)strlen(uri)) >= sizeof(path))
		return 414;
	snprintf(path, sizeof(path), "%.*s", (int)(q ? q - uri : (ptrdiff_t)strlen(uri)), uri);
	rq.path = path;
	rq.query = (char *)(q ? q + 1 : "");
	rq.n_headers = headers_of(req, hs, hp);
	rq.headers = hp;
	if (len) {
		cw_msg_body_identity(&body, evbuffer_pullup(in, -1), len);
		rq.body = &body;
	}
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	rc = cw_as_api_open(h->as, &env, id);
	if (rc == -EMSGSIZE || rc == -ENOBUFS)
		return 413;
	if (rc == -ENOTCONN || rc == -EAGAIN)
		return 503;
	return rc < 0 ? 500 : 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct cw_edgehub *h = arg;
	struct ereq *e;
	uint64_t id;
	int code;

	h->st.requests++;
	/* Behind the writes already queued, never around them. */
	if ((!h->as || cw_as_state(h->as) != CW_AS_ESTABLISHED || cw_writereplay_pending(h->wq)) &&
	    queued(h, req))
		return;
	if (!h->as || cw_as_state(h->as) != CW_AS_ESTABLISHED) {
		offline(h, req);
		return;
	}
	e = calloc(1, sizeof(*e));
	code = e ? forward(h, req, &id) : 500;
	if (code) {
		free(e);
		status_reply(req, code, code == 503 ? "ServiceUnavailable" : "BadRequest",
			     "the request cannot go through the gateway");
		return;
	}
	*e = (struct ereq){.h = h, .req = req, .id = id, .next = h->reqs};
	e->cacheable = h->cache && is_cacheable(req);
	if (e->cacheable && !(e->keep = evbuffer_new()))
		e->cacheable = false;
	e->is_view = h->store && evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
		     cw_edgeview_parse(evhttp_request_get_uri(req), &e->view) == 0;
	e->learn = e->is_view && e->view.watch && cw_edgestore_follows(h->store, &e->view);
	if (h->reqs)
		h->reqs->prev = e;
	h->reqs = e;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, e);
	h->st.forwarded++;
	h->kick(h->kick_ctx);
}

/* ---- answers from the gateway ---- */

/* @b's bytes as sent (identity) or decoded into @tmp (zstd, no dictionary). */
static const void *body_bytes(struct cw_edgehub *h, const Causeway__V1__Body *b, size_t *len,
			      uint8_t **tmp)
{
	*tmp = NULL;
	*len = 0;
	if (!b)
		return "";
	if (b->encoding == CAUSEWAY__V1__ENCODING__IDENTITY) {
		*len = b->data.len;
		return b->data.data;
	}
	if (cw_msg_body_unpack_alloc(h->zc, 0, b, CW_MSG_SIZE_DEFAULT, cw_alloc_default(), tmp,
				     len) < 0)
		return NULL;
	return *tmp ? (const void *)*tmp : "";
}

static void add_body(struct cw_edgehub *h, struct evbuffer *out, const Causeway__V1__Body *b,
		     bool *ok)
{
	uint8_t *tmp;
	size_t len;
	const void *p = body_bytes(h, b, &len, &tmp);

	*ok = p != NULL;
	if (p && len) {
		evbuffer_add(out, p, len);
		h->st.body_bytes += len;
	}
	free(tmp);
}

static void on_response(struct ereq *e, const Causeway__V1__ApiResponse *a)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(e->req);
	struct evbuffer *b = evbuffer_new();
	bool ok = true;

	if (!b)
		return;
	if (!e->chunked && !e->replied) {
		e->status = a->status;
		for (size_t i = 0; i < a->n_headers; i++) {
			evhttp_add_header(oh, a->headers[i]->name, a->headers[i]->value);
			if (!strcasecmp(a->headers[i]->name, "content-type"))
				snprintf(e->ctype, sizeof(e->ctype), "%s", a->headers[i]->value);
		}
	}
	add_body(e->h, b, a->body, &ok);
	if (ok && e->keep) {
		if (evbuffer_get_length(e->keep) + evbuffer_get_length(b) > KEEP_MAX ||
		    evbuffer_add(e->keep, evbuffer_pullup(b, -1), evbuffer_get_length(b))) {
			evbuffer_free(e->keep);
			e->keep = NULL;
		}
	}
	if (!ok) {
		cw_awarn("edge hub: an answer's body does not decode");
		evbuffer_free(b);
		return;
	}
	if (!e->chunked && !e->replied && !a->more) {
		evhttp_send_reply(e->req, (int)a->status, NULL, b);
		e->replied = true;
	} else if (!e->replied) {
		if (!e->chunked)
			evhttp_send_reply_start(e->req, (int)a->status, NULL);
		e->chunked = true;
		evhttp_send_reply_chunk(e->req, b);
	}
	evbuffer_free(b);
}

static const char *event_type(Causeway__V1__WatchEventType t)
{
	switch (t) {
	case CAUSEWAY__V1__WATCH_EVENT_TYPE__EVENT_ADDED:
		return "ADDED";
	case CAUSEWAY__V1__WATCH_EVENT_TYPE__EVENT_MODIFIED:
		return "MODIFIED";
	case CAUSEWAY__V1__WATCH_EVENT_TYPE__EVENT_DELETED:
		return "DELETED";
	case CAUSEWAY__V1__WATCH_EVENT_TYPE__EVENT_BOOKMARK:
		return "BOOKMARK";
	default:
		return "ERROR";
	}
}

/* An event of a watch the store follows, queued for it (learn_flush()).
 * After an ERROR event (a 410...) the store follows this watch no more. */
static void learn(struct ereq *e, const Causeway__V1__WatchEvent *w, const void *obj, size_t len)
{
	const char *rvs = w->resource_version ? w->resource_version : "";
	struct queued *q = &e->lq[e->nlq];

	if (w->type == CAUSEWAY__V1__WATCH_EVENT_TYPE__EVENT_ERROR) {
		learn_flush(e);
		e->learn = false;
		return;
	}
	if ((!e->learnt && !(e->learnt = evbuffer_new())) || evbuffer_add(e->learnt, obj, len)) {
		e->learn = false; /* an event missed: the store cannot follow */
		return;
	}
	q->type = (enum cw_ev_type)w->type; /* the same numbering */
	q->len = len;
	if (cw_rv_parse(rvs, strlen(rvs), &q->rv))
		q->rv = 0;
	if (++e->nlq == CW_EDGESTORE_BATCH)
		learn_flush(e);
}

/* One watch event, one JSON line, as kube-apiserver streams them. */
static void on_watch_event(struct ereq *e, const Causeway__V1__WatchEvent *w)
{
	struct evbuffer *b = evbuffer_new();
	bool ok = true;
	size_t off;

	if (!b || e->replied)
		goto out;
	if (!e->chunked) {
		evhttp_add_header(evhttp_request_get_output_headers(e->req), "Content-Type",
				  "application/json");
		evhttp_send_reply_start(e->req, 200, NULL);
		e->chunked = true;
	}
	evbuffer_add_printf(b, "{\"type\":\"%s\",\"object\":", event_type(w->type));
	off = evbuffer_get_length(b);
	add_body(e->h, b, w->object, &ok);
	if (ok && e->learn)
		learn(e, w, (const char *)evbuffer_pullup(b, -1) + off,
		      evbuffer_get_length(b) - off);
	evbuffer_add(b, "}\n", 2);
	if (ok)
		evhttp_send_reply_chunk(e->req, b);
out:
	if (b)
		evbuffer_free(b);
}

/* A watch the gateway cannot serve, to the offline watches: true when
 * they took it (the request is theirs). */
static bool hand_watch(struct ereq *e)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(e->req);

	if (!e->is_view || !e->view.watch)
		return false;
	evhttp_connection_set_closecb(conn, NULL, NULL);
	if (watch_from_store(e->h, e->req)) {
		e->req = NULL;
		return true;
	}
	evhttp_connection_set_closecb(conn, on_close, e);
	return false;
}

static void deliver(struct ereq *e, const cw_envelope *env)
{
	switch (env->msg_case) {
	case CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE:
		on_response(e, env->api_response);
		break;
	case CAUSEWAY__V1__ENVELOPE__MSG_WATCH_EVENT:
		on_watch_event(e, env->watch_event);
		break;
	case CAUSEWAY__V1__ENVELOPE__MSG_ERROR:
		if (e->chunked || e->replied)
			break;
		e->replied = true;
		if ((env->error->code == CW_SE_UPSTREAM_UNAVAILABLE ||
		     env->error->code == CW_SE_REFUSED) &&
		    (from_cache(e->h, e->req) || hand_watch(e) || queued(e->h, e->req)))
			break;
		e->h->st.errors++;
		error_reply(e->req, env->error->code);
		break;
	default:
		break;
	}
}

void cw_edgehub_on_event(struct cw_edgehub *h, const struct cw_as_event *ev)
{
	struct ereq *e;
	cw_envelope *env;
	uint64_t code;
	int rc;

	if (!h || !h->as || cw_writereplay_on_event(h->wq, ev))
		return;
	for (e = h->reqs; e && e->id != ev->stream; e = e->next)
		;
	if (!e)
		return;
	while ((rc = cw_as_api_read(h->as, e->id, &env, &code)) == 0) {
		deliver(e, env);
		cw_as_api_msg_free(h->as, e->id, env);
	}
	learn_flush(e);
	if (rc != -EAGAIN)
		ereq_end(e, rc);
}

void cw_edgehub_up(struct cw_edgehub *h)
{
	if (h)
		cw_edgewatch_end_all(h->watches);
}

void cw_edgehub_attach(struct cw_edgehub *h, struct cw_as *as, void (*kick)(void *), void *ctx)
{
	if (!h)
		return;
	while (h->reqs)
		ereq_end(h->reqs, -ECONNRESET);
	h->as = as;
	h->kick = kick;
	h->kick_ctx = ctx;
	cw_writereplay_attach(h->wq, as, kick, ctx);
}

void cw_edgehub_set_queue(struct cw_edgehub *h, struct cw_writereplay *wq)
{
	if (h)
		h->wq = wq;
}

void cw_edgehub_stats(const struct cw_edgehub *h, struct cw_edgehub_stats *out)
{
	if (h)
		*out = h->st;
	else
		memset(out, 0, sizeof(*out));
}

int cw_edgehub_new(struct event_base *base, const struct cw_ini_listen *listen,
		   struct cw_edgecache *cache, struct cw_edgestore *store, struct cw_edgehub **out)
{
	struct cw_edgehub *h;
	struct in_addr a = {.s_addr = listen->addr};
	char ip[INET_ADDRSTRLEN];

	*out = NULL;
	if (!listen->port)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cache = cache;
	h->store = cache ? store : NULL;
	h->http = evhttp_new(base);
	if (!h->http || cw_compress_init(&h->zc, NULL, 0) < 0 ||
	    (h->store && cw_edgewatch_new(base, h->store, &h->watches) < 0)) {
		cw_edgehub_free(h);
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
						EVHTTP_REQ_HEAD);
	evhttp_set_gencb(h->http, on_request, h);
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	if (evhttp_bind_socket(h->http, ip, listen->port) < 0) {
		cw_aerr("edge hub: cannot listen on %s:%u", ip, listen->port);
		cw_edgehub_free(h);
		return -EIO;
	}
	cw_ainfo("edge hub: Kubernetes API on http://%s:%u", ip, listen->port);
	*out = h;
	return 0;
}

void cw_edgehub_free(struct cw_edgehub *h)
{
	if (!h)
		return;
	cw_edgehub_attach(h, NULL, NULL, NULL);
	cw_edgewatch_free(h->watches);
	if (h->http)
		evhttp_free(h->http);
	cw_compress_free(h->zc);
	free(h);
}
