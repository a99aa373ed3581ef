/* SPDX-License-Identifier: Apache-2.0 */
#include "control/upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "control/curlev.h"
#include "dataplane/log.h"
#include "tunnel/msg_body.h"

#define TOKEN_MAX 8192
#define CTYPE_MAX 128

/* One request in flight to the server. */
struct up_req {
	struct cw_upstream *u;
	struct cw_api_call *call;
	struct cw_curlev_job job;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	char ctype[CTYPE_MAX]; /* the answer's content-type */
	bool started;	       /* status and headers went out */
	bool paused;	       /* waiting for room in the channel */
	bool finishing;	       /* the transfer is over; its last message waits for room */
	struct up_req *prev, *next;
};

struct cw_upstream {
	const struct cw_upstream_conf *conf;
	struct cw_curlev *cev;
	char auth[TOKEN_MAX + 32]; /* "Authorization: Bearer ..."; "" without a token */
	struct up_req *reqs;	   /* in flight */
	uint32_t n;
	struct cw_upstream_stats st;
};

/* ---- the answer, as ApiResponse messages ---- */

/* ApiResponse with status and content-type (first only), @len bytes of
 * body, @more. Returns cw_api_call_write()'s result. */
static int respond(struct up_req *r, const void *body, size_t len, bool more)
{
	Causeway__V1__ApiResponse a = CAUSEWAY__V1__API_RESPONSE__INIT;
	Causeway__V1__Header h = CAUSEWAY__V1__HEADER__INIT, *hs[1] = {&h};
	Causeway__V1__Body b = CAUSEWAY__V1__BODY__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	long status = 0;
	int rc;

	if (!r->started) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		a.status = (uint32_t)status;
		if (r->ctype[0]) {
			h.name = "content-type";
			h.value = r->ctype;
			a.n_headers = 1;
			a.headers = hs;
		}
	}
	if (len) {
		cw_msg_body_identity(&b, body, len);
		a.body = &b;
	}
	a.more = more;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
	env.api_response = &a;
	rc = cw_api_call_write(r->call, &env);
	if (rc == 0 && !r->started) {
		r->started = true;
		r->u->st.answered[status >= 200 && status < 600 ? status / 100 : 0]++;
	}
	return rc;
}

/* Body bytes from the server: one message each, or a pause for room. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct up_req *r = arg;

	if (respond(r, p, size * n, true) == -EAGAIN) {
		r->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	r->u->st.body_bytes += size * n;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct up_req *r = arg;
	size_t len = size * n, k = sizeof("content-type:") - 1;

	if (len > k && !strncasecmp(p, "content-type:", k)) {
		while (k < len && (p[k] == ' ' || p[k] == '\t'))
			k++;
		while (len > k && (p[len - 1] == '\r' || p[len - 1] == '\n'))
			len--;
		snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)(len - k), p + k);
	}
	return size * n;
}

/* ---- requests ---- */

static void req_free(struct up_req *r)
{
	struct cw_upstream *u = r->u;

	if (r->easy) {
		cw_curlev_remove(u->cev, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	free(r->url);
	if (r->prev)
		r->prev->next = r->next;
	else
		u->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	u->n--;
	free(r);
}

/* Error{@code} when nothing was answered yet, else a reset. */
static void fail(struct up_req *r, uint64_t code, const char *reason)
{
	if (r->started)
		cw_api_call_end(r->call, true);
	else
		cw_api_call_refuse(r->call, code, reason);
	req_free(r);
}

/* The transfer is over: the last message, once there is room for it. */
static void finish(struct up_req *r)
{
	int rc = respond(r, NULL, 0, false);

	if (rc == -EAGAIN) {
		r->finishing = true;
		return;
	}
	cw_api_call_end(r->call, rc < 0);
	req_free(r);
}

static void transfer_done(void *ctx, CURLcode rc)
{
	struct up_req *r = ctx;

	if (rc == CURLE_OK) {
		finish(r);
		return;
	}
	r->u->st.failed++;
	cw_warn("upstream: %s: %s", r->url, curl_easy_strerror(rc));
	fail(r, rc == CURLE_OPERATION_TIMEDOUT ? CW_SE_TIMEOUT : CW_SE_UPSTREAM_UNAVAILABLE,
	     curl_easy_strerror(rc));
}

/* A watch is the hub's to serve: the query says watch=true (or 1), or the
 * path is a legacy /watch/ one. */
static bool is_watch(const Causeway__V1__ApiRequest *rq)
{
	const char *q = rq->query ? rq->query : "";

	return strstr(rq->path, "/watch/") || !strncmp(q, "watch=true", 10) ||
	       !strncmp(q, "watch=1", 7) || strstr(q, "&watch=true") || strstr(q, "&watch=1");
}

/* The request's body as the server gets it: decoded, or an identity one
 * as sent. NULL with *@len 0 when there is none; -1 in *@len when it is
 * encoded and this gateway cannot decode it (no dictionary). */
static const void *body_of(const struct cw_gw_api_req *req, long *len)
{
	const Causeway__V1__Body *b = req->rq->body;

	*len = 0;
	if (req->body) {
		*len = (long)req->body_len;
		return req->body;
	}
	if (!b)
		return NULL;
	if (b->encoding != CAUSEWAY__V1__ENCODING__IDENTITY) {
		*len = -1;
		return NULL;
	}
	*len = (long)b->data.len;
	return b->data.data;
}

static int headers_of(struct cw_upstream *u, struct up_req *r, const Causeway__V1__ApiRequest *rq)
{
	char line[512];

	for (size_t i = 0; i < rq->n_headers; i++) {
		const char *n = rq->headers[i]->name;

		/* The agent's credentials are not ours to pass on. */
		if (strcasecmp(n, "content-type") && strcasecmp(n, "accept"))
			continue;
		snprintf(line, sizeof(line), "%s: %s", n, rq->headers[i]->value);
		if (!(r->hdrs = curl_slist_append(r->hdrs, line)))
			return -ENOMEM;
	}
	if (u->auth[0] && !(r->hdrs = cw_upstream_auth(u, r->hdrs)))
		return -ENOMEM;
	return 0;
}

CURL *cw_upstream_easy(struct cw_upstream *u, const char *url)
{
	const struct cw_upstream_conf *c = u->conf;
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "causewayd/0.1.0");
	if (c->ca[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca);
	if (c->cert[0]) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->key);
	}
	return e;
}

struct curl_slist *cw_upstream_auth(struct cw_upstream *u, struct curl_slist *hdrs)
{
	return u->auth[0] ? curl_slist_append(hdrs, u->auth) : hdrs;
}

static int easy_setup(struct cw_upstream *u, struct up_req *r, const struct cw_gw_api_req *req)
{
	const Causeway__V1__ApiRequest *rq = req->rq;
	const struct cw_upstream_conf *c = u->conf;
	const void *body;
	long len;

	body = body_of(req, &len);
	if (len < 0)
		return -ENOTSUP;
	if (asprintf(&r->url, "%s%s%s%s", c->server, rq->path, rq->query && *rq->query ? "?" : "",
		     rq->query ? rq->query : "") < 0) {
		r->url = NULL;
		return -ENOMEM;
	}
	r->easy = cw_upstream_easy(u, r->url);
	if (!r->easy || headers_of(u, r, rq) < 0)
		return -ENOMEM;
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, rq->verb);
	if (body) {
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, len);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	r->job = (struct cw_curlev_job){transfer_done, r};
	return cw_curlev_add(u->cev, r->easy, &r->job);
}

static int start(struct cw_upstream *u, struct cw_api_call *call)
{
	struct up_req *r;
	int rc;

	if (is_watch(call->req->rq)) {
		u->st.watches++;
		return -ENOTSUP;
	}
	if (u->n >= u->conf->max_requests) {
		u->st.busy++;
		return -EBUSY;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct up_req){.u = u, .call = call, .next = u->reqs};
	if (u->reqs)
		u->reqs->prev = r;
	u->reqs = r;
	u->n++;
	call->user = r;
	rc = easy_setup(u, r, call->req);
	if (rc < 0) {
		call->user = NULL;
		req_free(r);
		return rc;
	}
	u->st.requests++;
	return 0;
}

int cw_upstream_serve(void *ctx, struct cw_api_call *call, bool more)
{
	struct cw_upstream *u = ctx;
	struct up_req *r = call->user;
	int rc;

	if (!more) {
		rc = start(u, call);
		if (rc == -ENOTSUP)
			cw_api_call_refuse(
			    call, CW_SE_UNSUPPORTED,
			    "watches are served by the hub; this request cannot be passed on");
		else if (rc == -EBUSY)
			cw_api_call_refuse(call, CW_SE_UPSTREAM_UNAVAILABLE,
					   "too many requests to the upstream");
		return rc == -ENOTSUP || rc == -EBUSY ? 0 : rc;
	}
	if (cw_api_call_cancelled(call)) {
		cw_api_call_end(call, true);
		req_free(r);
	} else if (r->finishing) {
		finish(r);
	} else if (r->paused) {
		r->paused = false;
		curl_easy_pause(r->easy, CURLPAUSE_CONT);
	}
	return 0;
}

const struct cw_upstream_stats *cw_upstream_stats(const struct cw_upstream *u)
{
	return &u->st;
}

const char *cw_upstream_server(const struct cw_upstream *u)
{
	return u->conf->server;
}

/* ---- set-up ---- */

static int token_load(struct cw_upstream *u, const char *path)
{
	char tok[TOKEN_MAX];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		cw_err("upstream: token file %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	n = fread(tok, 1, sizeof(tok) - 1, f);
	fclose(f);
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		n--;
	tok[n] = '\0';
	if (!n || strpbrk(tok, "\r\n")) {
		cw_err("upstream: token file %s: not one line of token", path);
		return -EINVAL;
	}
	snprintf(u->auth, sizeof(u->auth), "Authorization: Bearer %s", tok);
	return 0;
}

int cw_upstream_new(struct cw_curlev *cev, const struct cw_upstream_conf *conf,
		    struct cw_upstream **out)
{
	struct cw_upstream *u;
	int rc;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->conf = conf;
	u->cev = cev;
	if (conf->token_file[0] && (rc = token_load(u, conf->token_file)) < 0) {
		cw_upstream_free(u);
		return rc;
	}
	cw_info("upstream: %s", conf->server);
	*out = u;
	return 0;
}

void cw_upstream_free(struct cw_upstream *u)
{
	if (!u)
		return;
	while (u->reqs) {
		cw_api_call_end(u->reqs->call, true);
		req_free(u->reqs);
	}
	explicit_bzero(u->auth, sizeof(u->auth));
	free(u);
}
