/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test controls under /fake/ (not counted as API requests):
 *   GET  /fake/stats           requests by verb and resource, open watches
 *                              by resource, watches ever opened, revisions
 *   POST /fake/compact?keep=N  forget all but the last N changes: watches
 *                              and lists from before them get 410
 *   POST /fake/restart         what a restarted apiserver with a compacted
 *                              store looks like: all history forgotten and
 *                              every open watch ended
 * so that tests can assert the load on the upstream and provoke 410 Gone.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/fake_apiserver.h"

void fa_count(struct fa_server *srv, const char *verb, const char *resource)
{
	json_t *by_res = json_object_get(srv->requests, verb), *n;

	srv->requests_total++;
	if (!by_res) {
		by_res = json_object();
		if (json_object_set_new(srv->requests, verb, by_res) < 0)
			return;
	}
	n = json_object_get(by_res, resource);
	json_object_set_new(by_res, resource, json_integer(json_integer_value(n) + 1));
}

static json_t *open_watches(const struct fa_server *srv)
{
	const struct fa_resource *res;
	json_t *o = json_object();

	for (size_t i = 0; o && (res = fa_resource_at(i)); i++) {
		size_t n = fa_watch_count(srv, res);

		if (n)
			json_object_set_new(o, res->name, json_integer((json_int_t)n));
	}
	return o;
}

static json_t *stats(const struct fa_server *srv)
{
	return json_pack("{s:O, s:I, s:o, s:I, s:I, s:I, s:I, s:I}", "requests", srv->requests,
			 "requests_total", (json_int_t)srv->requests_total, "watches_open",
			 open_watches(srv), "watches_open_total",
			 (json_int_t)fa_watch_count(srv, NULL), "watches_total",
			 (json_int_t)srv->watches_total, "resource_version",
			 (json_int_t)srv->store.rv, "compacted_revision",
			 (json_int_t)srv->store.compacted, "history", (json_int_t)srv->store.len);
}

void fa_admin(struct fa_server *srv, struct evhttp_request *req, const char *path,
	      struct evkeyvalq *query)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *keep = evhttp_find_header(query, "keep");
	char *end;
	long n;

	if (!strcmp(path, "/fake/stats") && m == EVHTTP_REQ_GET) {
		fa_reply_json(req, 200, stats(srv));
	} else if (!strcmp(path, "/fake/compact") && m == EVHTTP_REQ_POST) {
		n = keep ? strtol(keep, &end, 10) : -1;
		if (!keep || *end || n < 0) {
			fa_reply_error(req, 400, "BadRequest", NULL, NULL,
				       "compact needs keep=N, N >= 0");
			return;
		}
		fa_store_compact(&srv->store, (size_t)n);
		fa_reply_json(req, 200, stats(srv));
	} else if (!strcmp(path, "/fake/restart") && m == EVHTTP_REQ_POST) {
		fa_store_compact(&srv->store, 0);
		fa_watch_close_all(srv);
		fa_reply_json(req, 200, stats(srv));
	} else {
		fa_reply_error(req, 404, "NotFound", NULL, NULL, "no admin endpoint %s", path);
	}
}
