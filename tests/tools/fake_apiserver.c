/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-fake-apiserver: kube-apiserver's REST/JSON protocol over plain
 * HTTP for tests (see fake_apiserver.h for the parts).
 *
 *   causeway-fake-apiserver --listen 127.0.0.1:PORT [--seed-dir DIR]
 *                           [--history N] [--bookmark-ms MS]
 *                           [--tls-cert PEM --tls-key PEM] [--token TOKEN]
 *
 * Prints "fake-apiserver: ready on ADDR:PORT" once it accepts requests
 * (PORT 0 picks a free one); SIGTERM or SIGINT stop it with status 0.
 * With --token, API and discovery requests need "Authorization: Bearer
 * TOKEN" (401 otherwise); the /fake/ test controls never do.
 * This file: the command line, the loop, and routing a URL to a verb:
 *   /api/v1/[namespaces/NS/]RESOURCE[/NAME[/status]]
 *   /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/status]]
 * (/api/v1/namespaces/NAME is the namespace NAME itself).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "tests/tools/fake_apiserver.h"

#define MAX_BODY (3u << 20) /* kube-apiserver's request size limit */

const char *fa_param(const struct fa_req *r, const char *key)
{
	return evhttp_find_header(r->query, key);
}

static bool truthy(const char *v)
{
	return v && (!strcmp(v, "1") || !strcmp(v, "true"));
}

/* The verb of @r, for counting and dispatch. */
static const char *verb(const struct fa_req *r)
{
	switch (evhttp_request_get_command(r->req)) {
	case EVHTTP_REQ_GET:
		if (r->name)
			return "get";
		return truthy(fa_param(r, "watch")) ? "watch" : "list";
	case EVHTTP_REQ_POST:
		return r->name ? NULL : "create";
	case EVHTTP_REQ_PUT:
		return r->name ? "update" : NULL;
	case EVHTTP_REQ_PATCH:
		return r->name ? "patch" : NULL;
	case EVHTTP_REQ_DELETE:
		return r->name ? "delete" : NULL;
	default:
		return NULL;
	}
}

static void dispatch(struct fa_req *r)
{
	const char *v = verb(r);
	char counted[80];

	if (!v || (r->sub && strcmp(v, "get") && strcmp(v, "update") && strcmp(v, "patch"))) {
		fa_reply_error(r->req, 405, "MethodNotAllowed", r->res, r->name,
			       "the server does not allow this method on the requested resource");
		return;
	}
	snprintf(counted, sizeof(counted), "%s%s%s", r->res->name, r->sub ? "/" : "",
		 r->sub ? r->sub : "");
	fa_count(r->srv, v, counted);
	if (!strcmp(v, "get"))
		fa_get(r);
	else if (!strcmp(v, "watch"))
		fa_watch_start(r);
	else if (!strcmp(v, "list"))
		fa_list(r);
	else if (!strcmp(v, "create"))
		fa_create(r);
	else if (!strcmp(v, "update"))
		fa_update(r);
	else if (!strcmp(v, "patch"))
		fa_patch(r);
	else
		fa_delete(r);
}

/*
 * Route the segments after /api/v1/ or /apis/G/V/ (@seg, @n of them) to a
 * resource. False if the URL names nothing served.
 */
static bool route(struct fa_req *r, const char *group, const char *version, char **seg, size_t n)
{
	size_t i = 0;

	if (n >= 3 && !strcmp(seg[0], "namespaces")) {
		r->ns = seg[1];
		i = 2;
	}
	if (i >= n || n - i > 3)
		return false;
	r->res = fa_resource_find(group, version, seg[i]);
	r->name = n - i > 1 ? seg[i + 1] : NULL;
	r->sub = n - i > 2 ? seg[i + 2] : NULL;
	if (!r->res || (r->ns && !r->res->namespaced) || (r->name && !*r->name))
		return false;
	if (r->sub && (strcmp(r->sub, "status") || !r->res->has_status))
		return false;
	/* a namespaced object is only addressed inside its namespace */
	return !(r->name && r->res->namespaced && !r->ns);
}

/* Split @path (modified) at '/' into at most @max segments. */
static size_t split(char *path, char **seg, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return max + 1;
		seg[n++] = s;
	}
	return n;
}

static void serve_api(struct fa_server *srv, struct evhttp_request *req, const char *path,
		      struct evkeyvalq *query)
{
	char *copy = strdup(path), *seg[8], group[128] = "", version[16] = "v1";
	struct fa_req r = {.srv = srv, .req = req, .query = query};
	size_t n = copy ? split(copy, seg, 8) : 0, skip = 2;

	if (n >= 3 && !strcmp(seg[0], "apis")) {
		snprintf(group, sizeof(group), "%s", seg[1]);
		snprintf(version, sizeof(version), "%s", seg[2]);
		skip = 3;
	} else if (n < 2 || strcmp(seg[0], "api") || strcmp(seg[1], "v1")) {
		n = 0;
	}
	if (n > skip && n <= 8 && route(&r, group, version, seg + skip, n - skip))
		dispatch(&r);
	else
		fa_reply_error(req, 404, "NotFound", NULL, NULL,
			       "the server could not find the "
			       "requested resource");
	free(copy);
}

static bool authorized(const struct fa_server *srv, struct evhttp_request *req)
{
	const char *auth =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	return !srv->token ||
	       (auth && !strncmp(auth, "Bearer ", 7) && !strcmp(auth + 7, srv->token));
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct fa_server *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri), *q = evhttp_uri_get_query(uri);
	struct evkeyvalq query = {0};
	json_t *doc;

	TAILQ_INIT(&query);
	if (q && evhttp_parse_query_str(q, &query) < 0) {
		fa_reply_error(req, 400, "BadRequest", NULL, NULL, "malformed query string");
		return;
	}
	path = path && *path ? path : "/";
	if (strncmp(path, "/fake/", 6) && !authorized(srv, req)) {
		fa_reply_error(req, 401, "Unauthorized", NULL, NULL, "Unauthorized");
	} else if (!strncmp(path, "/fake/", 6)) {
		fa_admin(srv, req, path, &query);
	} else if (evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
		   (doc = fa_discovery(path))) {
		fa_count(srv, "discovery", path);
		fa_reply_json(req, 200, doc);
	} else {
		serve_api(srv, req, path, &query);
	}
	evhttp_clear_headers(&query);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

struct opts {
	const char *listen;
	const char *seed_dir;
	const char *tls_cert, *tls_key, *token;
	size_t history;
	uint64_t bookmark_ms;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: causeway-fake-apiserver --listen ADDR:PORT [--seed-dir DIR] "
		   "[--history N] [--bookmark-ms MS] [--tls-cert PEM --tls-key PEM] "
		   "[--token TOKEN]\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"seed-dir", required_argument, NULL, 's'},
	    {"history", required_argument, NULL, 'H'},
	    {"bookmark-ms", required_argument, NULL, 'b'},
	    {"tls-cert", required_argument, NULL, 'c'},
	    {"tls-key", required_argument, NULL, 'k'},
	    {"token", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	*o = (struct opts){.history = 1000, .bookmark_ms = 1000};
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 's':
			o->seed_dir = optarg;
			break;
		case 'c':
			o->tls_cert = optarg;
			break;
		case 'k':
			o->tls_key = optarg;
			break;
		case 't':
			o->token = optarg;
			break;
		case 'H':
		case 'b':
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (*end || !*optarg || errno || v == 0 || v > 100000000) {
				fprintf(stderr, "fake-apiserver: bad number '%s'\n", optarg);
				return -EINVAL;
			}
			if (c == 'H')
				o->history = (size_t)v;
			else
				o->bookmark_ms = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!o->listen || optind != argc || !o->tls_cert != !o->tls_key) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* Bind @spec ("ADDR:PORT") and print where it listens. */
static int bind_listener(struct evhttp *http, const char *spec)
{
	char host[64];
	unsigned port;
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (sscanf(spec, "%63[^:]:%u", host, &port) != 2 || port > 65535) {
		fprintf(stderr, "fake-apiserver: bad --listen '%s' (want IPv4:PORT)\n", spec);
		return -EINVAL;
	}
	bs = evhttp_bind_socket_with_handle(http, host, (uint16_t)port);
	if (!bs) {
		fprintf(stderr, "fake-apiserver: cannot listen on %s\n", spec);
		return -EADDRINUSE;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	printf("fake-apiserver: ready on %s:%u\n", host, ntohs(sa.sin_port));
	fflush(stdout);
	return 0;
}

static int setup(struct fa_server *srv, const struct opts *o, SSL_CTX **tls)
{
	int rc;

	srv->bookmark_ms = o->bookmark_ms;
	srv->token = o->token;
	srv->requests = json_object();
	srv->base = event_base_new();
	srv->http = srv->base ? evhttp_new(srv->base) : NULL;
	if (!srv->requests || !srv->http)
		return -ENOMEM;
	if ((rc = fa_store_init(&srv->store, o->history, fa_watch_event, srv)) < 0)
		return rc;
	if (o->seed_dir && (rc = fa_seed(srv, o->seed_dir)) < 0) {
		fprintf(stderr, "fake-apiserver: cannot seed from %s: %s\n", o->seed_dir,
			strerror(-rc));
		return rc;
	}
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						  EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
						  EVHTTP_REQ_HEAD);
	evhttp_set_max_body_size(srv->http, MAX_BODY);
	evhttp_set_gencb(srv->http, on_request, srv);
	if (o->tls_cert && (rc = fa_tls_setup(srv->http, o->tls_cert, o->tls_key, tls)) < 0)
		return rc;
	return bind_listener(srv->http, o->listen);
}

int main(int argc, char **argv)
{
	struct fa_server srv = {0};
	struct event *sigs[2] = {NULL, NULL};
	SSL_CTX *tls = NULL;
	struct opts o;
	int rc;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	rc = setup(&srv, &o, &tls);
	if (rc == 0) {
		sigs[0] = evsignal_new(srv.base, SIGTERM, on_signal, srv.base);
		sigs[1] = evsignal_new(srv.base, SIGINT, on_signal, srv.base);
		if (!sigs[0] || !sigs[1] || event_add(sigs[0], NULL) < 0 ||
		    event_add(sigs[1], NULL) < 0)
			rc = -ENOMEM;
	}
	if (rc == 0 && event_base_dispatch(srv.base) < 0)
		rc = -EIO;
	fa_watch_close_all(&srv);
	for (int i = 0; i < 2; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (srv.http)
		evhttp_free(srv.http);
	if (srv.base)
		event_base_free(srv.base);
	SSL_CTX_free(tls);
	fa_store_free(&srv.store);
	json_decref(srv.requests);
	return rc < 0 ? 1 : 0;
}
