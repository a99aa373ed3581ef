/* SPDX-License-Identifier: Apache-2.0 */
#include "edgewatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

/* One watch held open. */
struct owatch {
	struct cw_edgewatch *w;
	struct evhttp_request *req;
	struct cw_edgeview v;
	char kind[CW_LIST_KIND_MAX]; /* of one object: the List's kind without "List" */
	char api[CW_LIST_API_MAX];
	struct event *bookmark, *end;
	struct owatch *prev, *next;
};

struct cw_edgewatch {
	struct event_base *base;
	struct cw_edgestore *es;
	struct owatch *open;
	struct cw_edgewatch_stats st;
};

static void owatch_free(struct owatch *o)
{
	struct cw_edgewatch *w = o->w;

	if (o->prev)
		o->prev->next = o->next;
	else
		w->open = o->next;
	if (o->next)
		o->next->prev = o->prev;
	w->st.open--;
	evhttp_connection_set_closecb(evhttp_request_get_connection(o->req), NULL, NULL);
	if (o->bookmark)
		event_free(o->bookmark);
	if (o->end)
		event_free(o->end);
	free(o);
}

/* The answer's clean end: the client watches again from what it has. */
static void owatch_end(struct owatch *o)
{
	struct evhttp_request *req = o->req;

	owatch_free(o);
	evhttp_send_reply_end(req);
}

static void on_close(struct evhttp_connection *conn, void *arg)
{
	(void)conn;
	owatch_free(arg);
}

static void on_end(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	owatch_end(arg);
}

static void on_bookmark(evutil_socket_t fd, short what, void *arg)
{
	struct owatch *o = arg;
	struct cw_edgestore_head h;
	struct evbuffer *b;

	(void)fd;
	(void)what;
	if (cw_edgestore_head(o->w->es, &o->v, &h) || !(b = evbuffer_new()))
		return; /* none this time */
	/* Never behind the client's own version: it has what lies between. */
	if (h.rv < o->v.rv)
		h.rv = o->v.rv;
	evbuffer_add_printf(
	    b,
	    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
	    "\"metadata\":{\"resourceVersion\":\"%" PRIu64 "\"}}}\n",
	    o->kind, o->api, h.rv);
	evhttp_send_reply_chunk(o->req, b);
	evbuffer_free(b);
}

static void start_reply(struct evhttp_request *req)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);

	evhttp_add_header(oh, "Content-Type", "application/json");
	evhttp_add_header(oh, "X-Causeway-Cache", "hit");
	evhttp_send_reply_start(req, 200, NULL);
}

/* Too old a version: the API server's ERROR event, and the end. */
static void expired(struct cw_edgewatch *w, struct evhttp_request *req, struct evbuffer *b)
{
	static const char gone[] =
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version\","
	    "\"reason\":\"Expired\",\"code\":410}}\n";

	w->st.expired++;
	evbuffer_drain(b, evbuffer_get_length(b));
	evbuffer_add(b, gone, sizeof(gone) - 1);
	start_reply(req);
	evhttp_send_reply_chunk(req, b);
	evhttp_send_reply_end(req);
}

/* Timers and the list entry of @o. Returns 0 or -ENOMEM. */
static int hold(struct owatch *o)
{
	struct cw_edgewatch *w = o->w;
	struct timeval every = {.tv_sec = CW_EDGEWATCH_BOOKMARK_S};
	struct timeval until = {.tv_sec = o->v.timeout_s ? o->v.timeout_s : CW_EDGEWATCH_TIMEOUT_S};

	o->end = evtimer_new(w->base, on_end, o);
	if (!o->end || evtimer_add(o->end, &until))
		return -ENOMEM;
	if (o->v.bookmarks) {
		o->bookmark = event_new(w->base, -1, EV_PERSIST, on_bookmark, o);
		if (!o->bookmark || evtimer_add(o->bookmark, &every))
			return -ENOMEM;
	}
	return 0;
}

int cw_edgewatch_serve(struct cw_edgewatch *w, struct evhttp_request *req,
		       const struct cw_edgeview *v)
{
	struct cw_edgestore_head h;
	struct evbuffer *b;
	struct owatch *o;
	uint64_t rv;
	size_t kl;
	int rc = cw_edgestore_head(w->es, v, &h);

	if (rc)
		return rc;
	o = calloc(1, sizeof(*o));
	b = evbuffer_new();
	rc = o && b ? cw_edgestore_replay(w->es, v, v->rv, b, &rv) : -ENOMEM;
	if (rc == -ESTALE) {
		expired(w, req, b);
		w->st.served++;
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	*o = (struct owatch){.w = w, .req = req, .v = *v, .next = w->open};
	kl = strlen(h.kind);
	if (kl > 4 && !strcmp(h.kind + kl - 4, "List"))
		kl -= 4;
	memcpy(o->kind, h.kind, kl);
	memcpy(o->api, h.api, sizeof(o->api));
	if (hold(o)) {
		if (o->end)
			event_free(o->end);
		if (o->bookmark)
			event_free(o->bookmark);
		rc = -ENOMEM;
		goto out;
	}
	if (w->open)
		w->open->prev = o;
	w->open = o;
	w->st.open++;
	w->st.served++;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, o);
	start_reply(req);
	if (evbuffer_get_length(b))
		evhttp_send_reply_chunk(req, b);
	o = NULL;
out:
	free(o);
	if (b)
		evbuffer_free(b);
	return rc;
}

void cw_edgewatch_end_all(struct cw_edgewatch *w)
{
	while (w && w->open)
		owatch_end(w->open);
}

void cw_edgewatch_stats(const struct cw_edgewatch *w, struct cw_edgewatch_stats *out)
{
	if (w)
		*out = w->st;
	else
		memset(out, 0, sizeof(*out));
}

int cw_edgewatch_new(struct event_base *base, struct cw_edgestore *es, struct cw_edgewatch **out)
{
	struct cw_edgewatch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->base = base;
	w->es = es;
	*out = w;
	return 0;
}

void cw_edgewatch_free(struct cw_edgewatch *w)
{
	cw_edgewatch_end_all(w);
	free(w);
}
