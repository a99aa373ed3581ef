/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watch streams: a chunked 200 answer of JSON lines {"type":...,"object":...}.
 *
 * resourceVersion unset or "0": ADDED for every selected object, then the
 * changes. N: the retained changes after N, then live ones; N older than the
 * history: one ERROR event carrying a 410 Expired Status, then the end (as
 * kube-apiserver does). With selectors, a change that moves an object into
 * the selection is ADDED and one that moves it out is DELETED.
 * allowWatchBookmarks: a BOOKMARK with the current revision every
 * --bookmark-ms; timeoutSeconds: the stream ends cleanly after that long.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "tests/tools/fake_apiserver.h"

struct fa_watch {
	struct fa_server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	const struct fa_resource *res;
	char *ns;
	struct cw_selector *labels, *fields;
	struct event *bookmark, *timeout;
	struct fa_watch *prev, *next;
};

static void unlink_watch(struct fa_watch *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		w->srv->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

static void free_watch(struct fa_watch *w)
{
	unlink_watch(w);
	if (w->bookmark)
		event_free(w->bookmark);
	if (w->timeout)
		event_free(w->timeout);
	cw_selector_free(w->labels);
	cw_selector_free(w->fields);
	free(w->ns);
	free(w);
}

/*
 * The client went away. libevent detaches an unfinished request from a
 * failed connection and leaves it to its owner: ending it frees it.
 */
static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct fa_watch *w = arg;

	(void)conn;
	if (!evhttp_request_get_connection(w->req))
		evhttp_send_reply_end(w->req);
	free_watch(w);
}

/* End the stream from this side. */
static void end_watch(struct fa_watch *w)
{
	evhttp_connection_set_closecb(w->conn, NULL, NULL);
	evhttp_send_reply_end(w->req);
	free_watch(w);
}

static void send_event(struct fa_watch *w, const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
	char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	struct evbuffer *buf = evbuffer_new();

	json_decref(ev);
	if (text && buf && evbuffer_add_printf(buf, "%s\n", text) >= 0)
		evhttp_send_reply_chunk(w->req, buf);
	if (buf)
		evbuffer_free(buf);
	free(text);
}

static bool selects(const struct fa_watch *w, const struct fa_event *ev, const json_t *obj)
{
	char prefix[300];

	if (!obj || ev->res != w->res)
		return false;
	snprintf(prefix, sizeof(prefix), "%s/%s/", w->res->name, w->ns ? w->ns : "");
	if (w->ns && strncmp(ev->key, prefix, strlen(prefix)))
		return false;
	return cw_selector_match(w->labels, obj) && cw_selector_match(w->fields, obj);
}

static void deliver(void *arg, const struct fa_event *ev)
{
	struct fa_watch *w = arg;
	bool was = selects(w, ev, ev->prev);
	bool is = ev->type != FA_DELETED && selects(w, ev, ev->obj);

	if (!was && is)
		send_event(w, "ADDED", ev->obj);
	else if (was && is)
		send_event(w, "MODIFIED", ev->obj);
	else if (was)
		send_event(w, "DELETED", ev->obj);
}

void fa_watch_event(void *srv, const struct fa_event *ev)
{
	struct fa_server *s = srv;

	for (struct fa_watch *w = s->watches; w; w = w->next)
		deliver(w, ev);
}

static void on_bookmark(evutil_socket_t fd, short what, void *arg)
{
	struct fa_watch *w = arg;
	char av[64], rv[24];
	json_t *obj;

	(void)fd;
	(void)what;
	snprintf(rv, sizeof(rv), "%" PRIu64, w->srv->store.rv);
	obj = json_pack("{s:s, s:s, s:{s:s}}", "kind", w->res->kind, "apiVersion",
			fa_api_version(w->res, av, sizeof(av)), "metadata", "resourceVersion", rv);
	if (obj)
		send_event(w, "BOOKMARK", obj);
	json_decref(obj);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	end_watch(arg);
}

static void initial_state(struct fa_watch *w)
{
	char prefix[300];
	const char *key;
	json_t *snap, *obj;

	snprintf(prefix, sizeof(prefix), "%s/%s%s", w->res->name, w->ns ? w->ns : "",
		 w->ns ? "/" : "");
	if (fa_store_snapshot(&w->srv->store, prefix, w->srv->store.rv, &snap) < 0)
		return;
	json_object_foreach(snap, key, obj)
	{
		if (cw_selector_match(w->labels, obj) && cw_selector_match(w->fields, obj))
			send_event(w, "ADDED", obj);
	}
	json_decref(snap);
}

static int add_timers(struct fa_watch *w, struct fa_req *r)
{
	const char *bm = fa_param(r, "allowWatchBookmarks");
	const char *to = fa_param(r, "timeoutSeconds");
	struct timeval tv;

	if (bm && (!strcmp(bm, "true") || !strcmp(bm, "1"))) {
		w->bookmark = event_new(w->srv->base, -1, EV_PERSIST, on_bookmark, w);
		tv.tv_sec = (time_t)(w->srv->bookmark_ms / 1000);
		tv.tv_usec = (suseconds_t)(w->srv->bookmark_ms % 1000 * 1000);
		if (!w->bookmark || event_add(w->bookmark, &tv) < 0)
			return -ENOMEM;
	}
	if (to && atoi(to) > 0) {
		w->timeout = evtimer_new(w->srv->base, on_timeout, w);
		tv.tv_sec = atoi(to);
		tv.tv_usec = 0;
		if (!w->timeout || event_add(w->timeout, &tv) < 0)
			return -ENOMEM;
	}
	return 0;
}

/*
 * A revision the watch cannot start from, as an ERROR event: 410 Expired
 * when the history no longer reaches it, 504 Timeout when it is in the
 * future (kube-apiserver waits a few seconds for it first).
 */
static void send_unservable(struct fa_watch *w, const char *rv, int rc)
{
	char msg[128];
	json_t *st;

	if (rc == -ESTALE) {
		snprintf(msg, sizeof(msg), "too old resource version: %s (%" PRIu64 ")", rv,
			 w->srv->store.compacted + 1);
		st = fa_status(410, "Expired", msg, NULL, NULL);
	} else {
		snprintf(msg, sizeof(msg), "Too large resource version: %s, current: %" PRIu64, rv,
			 w->srv->store.rv);
		st = fa_status(504, "Timeout", msg, NULL, NULL);
	}
	if (st)
		send_event(w, "ERROR", st);
	json_decref(st);
}

void fa_watch_start(struct fa_req *r)
{
	const char *rvs = fa_param(r, "resourceVersion");
	struct fa_watch *w = calloc(1, sizeof(*w));
	uint64_t rv = 0;
	char *end = NULL;
	int rc = 0;

	if (!w) {
		fa_reply_error(r->req, 500, "InternalError", NULL, NULL, "out of memory");
		return;
	}
	if (rvs && *rvs && ((rv = strtoull(rvs, &end, 10)), *end || *rvs < '0' || *rvs > '9')) {
		free(w);
		fa_reply_error(r->req, 400, "BadRequest", NULL, NULL,
			       "invalid resourceVersion \"%s\"", rvs);
		return;
	}
	if (fa_selectors(r, &w->labels, &w->fields) < 0) {
		free(w);
		return;
	}
	w->srv = r->srv;
	w->req = r->req;
	w->res = r->res;
	w->conn = evhttp_request_get_connection(r->req);
	w->next = r->srv->watches;
	if (w->next)
		w->next->prev = w;
	r->srv->watches = w;
	if ((r->ns && !(w->ns = strdup(r->ns))) || add_timers(w, r) < 0) {
		free_watch(w);
		fa_reply_error(r->req, 500, "InternalError", NULL, NULL, "out of memory");
		return;
	}
	r->srv->watches_total++;
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
			  "application/json");
	evhttp_send_reply_start(r->req, 200, "OK");
	evhttp_connection_set_closecb(w->conn, on_close, w);
	if (!rvs || !*rvs || rv == 0)
		initial_state(w);
	else
		rc = fa_store_since(&r->srv->store, rv, deliver, w);
	if (rc < 0) {
		send_unservable(w, rvs, rc);
		end_watch(w);
	}
}

void fa_watch_close_all(struct fa_server *srv)
{
	while (srv->watches)
		end_watch(srv->watches);
}

size_t fa_watch_count(const struct fa_server *srv, const struct fa_resource *res)
{
	size_t n = 0;

	for (const struct fa_watch *w = srv->watches; w; w = w->next)
		n += !res || w->res == res;
	return n;
}
