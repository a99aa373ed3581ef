/* SPDX-License-Identifier: Apache-2.0 */
#include "control/hubserve.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "dataplane/log.h"
#include "hub/object.h"
#include "hub/selector.h"
#include "tunnel/msg_body.h"

#define PART_MAX    (32u << 10)	 /* body bytes per ApiResponse */
#define PENDING_MAX (256u << 10) /* a watcher's encoded events not yet in its stream */
#define NAME_LEN    256
#define WATCH_MAX_S 1800 /* a watch ends after this at the latest */
#define MAX_RES	    16
#define MEMO	    64 /* recent events' keys, per resource */

/* What a request asks of the store. */
struct ask {
	int res;	      /* index into h->res */
	char api[NAME_LEN];   /* "v1", "discovery.k8s.io/v1" */
	char ns[NAME_LEN];    /* "": all namespaces */
	char name[NAME_LEN];  /* "": a list or a watch */
	char node[NAME_LEN];  /* fieldSelector spec.nodeName; "": any */
	char fname[NAME_LEN]; /* fieldSelector metadata.name; "": any */
	bool watch;
	uint64_t rv;
	enum cw_rv_match match;
	size_t limit;
	char cont[CW_STORE_CONTINUE_MAX];
	uint32_t timeout_s;
	struct cw_selector *labels, *fields; /* NULL: none */
};

/* One request being answered: a body, or a watch. */
struct hcall {
	struct cw_hubserve *h;
	struct cw_api_call *call;
	struct evbuffer *out; /* encoded messages not yet in the stream */
	bool fin;	      /* nothing more after out: end once it is sent */
	bool watch;
	struct ask a;
	uint64_t sent_rv; /* a watcher's cursor; 0 until its first state is out */
	struct event *timer;
	struct hcall *prev, *next; /* watchers */
};

/* A recent event's object, parsed once for every watcher. */
struct memo {
	uint64_t rv;
	int type;
	bool ok;
	struct cw_obj o; /* its bytes are not kept: only root and what points into it */
};

struct hres {
	char name[NAME_LEN];
	struct memo memo[MEMO];
};

struct cw_hubserve {
	struct event_base *base;
	struct cw_store *store;
	cw_api_handler_fn upstream;
	void *up_ctx;
	struct hres res[MAX_RES];
	unsigned n;
	struct hcall *watchers;
	struct cw_hubserve_stats st;
};

/* ---- messages ---- */

static int put(struct hcall *c, const cw_envelope *env)
{
	size_t len = cw_msg_encoded_len(env);
	struct evbuffer_iovec v;
	ptrdiff_t n;

	if (evbuffer_reserve_space(c->out, (ev_ssize_t)len, &v, 1) < 1)
		return -ENOMEM;
	n = cw_msg_encode(env, c->call->req->peer_msg_max, v.iov_base, v.iov_len);
	if (n < 0)
		return (int)n;
	v.iov_len = (size_t)n;
	return evbuffer_commit_space(c->out, &v, 1) ? -ENOMEM : 0;
}

/* @json as ApiResponse parts: status and content-type on the first. */
static int put_body(struct hcall *c, int status, struct evbuffer *json)
{
	Causeway__V1__Header h = CAUSEWAY__V1__HEADER__INIT, *hs[1] = {&h};
	size_t left = evbuffer_get_length(json);
	bool first = true;
	int rc = 0;

	h.name = "content-type";
	h.value = "application/json";
	do {
		Causeway__V1__ApiResponse a = CAUSEWAY__V1__API_RESPONSE__INIT;
		Causeway__V1__Body b = CAUSEWAY__V1__BODY__INIT;
		cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
		size_t n = left < PART_MAX ? left : PART_MAX;

		if (first) {
			a.status = (uint32_t)status;
			a.n_headers = 1;
			a.headers = hs;
		}
		if (n) {
			cw_msg_body_identity(&b, evbuffer_pullup(json, (ev_ssize_t)n), n);
			a.body = &b;
		}
		a.more = left > n;
		env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
		env.api_response = &a;
		rc = put(c, &env);
		evbuffer_drain(json, n);
		left -= n;
		first = false;
	} while (!rc && left);
	return rc;
}

static int put_status(struct hcall *c, int code, const char *reason, const char *msg)
{
	struct evbuffer *j = evbuffer_new();
	int rc;

	if (!j)
		return -ENOMEM;
	evbuffer_add_printf(
	    j,
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	    "\"status\":\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
	    msg, reason, code);
	rc = put_body(c, code, j);
	evbuffer_free(j);
	return rc;
}

static int put_event(struct hcall *c, enum cw_ev_type type, uint64_t rv, const void *obj,
		     size_t len)
{
	Causeway__V1__WatchEvent w = CAUSEWAY__V1__WATCH_EVENT__INIT;
	Causeway__V1__Body b = CAUSEWAY__V1__BODY__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	char rvs[24];

	snprintf(rvs, sizeof(rvs), "%" PRIu64, rv);
	w.type = (Causeway__V1__WatchEventType)type; /* the same numbering */
	w.resource_version = rvs;
	cw_msg_body_identity(&b, obj, len);
	w.object = &b;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_WATCH_EVENT;
	env.watch_event = &w;
	c->h->st.events++;
	return put(c, &env);
}

/* ---- sending, ending ---- */

static void call_free(struct hcall *c)
{
	if (c->watch) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->h->watchers = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->h->st.watchers--;
	}
	if (c->timer)
		event_free(c->timer);
	cw_selector_free(c->a.labels);
	cw_selector_free(c->a.fields);
	evbuffer_free(c->out);
	free(c);
}

/* As much of out as the stream takes; the end once all went. Returns
 * false when @c is gone. */
static bool drain(struct hcall *c)
{
	size_t len;

	while ((len = evbuffer_get_length(c->out))) {
		size_t n = len < 65536 ? len : 65536;
		size_t k =
		    cw_api_call_write_bytes(c->call, evbuffer_pullup(c->out, (ev_ssize_t)n), n);

		if (!k)
			return true;
		evbuffer_drain(c->out, k);
	}
	if (!c->fin)
		return true;
	cw_api_call_end(c->call, false);
	call_free(c);
	return false;
}

/* ---- requests ---- */

static int res_index(const struct cw_hubserve *h, const char *name)
{
	for (unsigned i = 0; i < h->n; i++)
		if (!strcmp(h->res[i].name, name))
			return (int)i;
	return -1;
}

/* @x @sep @y into @out (@sep and @y may be ""); false when it does not fit. */
static bool join(char *out, size_t cap, const char *x, const char *sep, const char *y)
{
	size_t a = strlen(x), b = strlen(sep), c = strlen(y);

	if (a + b + c >= cap)
		return false;
	memcpy(out, x, a);
	memcpy(out + a, sep, b);
	memcpy(out + a + b, y, c + 1);
	return true;
}

/* The path's parts: false for a path the hub does not serve. */
static bool parse_path(const struct cw_hubserve *h, const char *path, struct ask *a)
{
	char seg[8][NAME_LEN], res[2 * NAME_LEN];
	const char *p = path;
	int n = 0, i = 0;
	bool core;

	while (*p == '/' && n < 8) {
		size_t k = strcspn(++p, "/");

		if (!k || k >= NAME_LEN)
			return false;
		memcpy(seg[n], p, k);
		seg[n++][k] = '\0';
		p += k;
	}
	if (*p)
		return false;
	core = n >= 2 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1");
	if (core) {
		i = 2;
		join(a->api, sizeof(a->api), "v1", "", "");
	} else if (n >= 3 && !strcmp(seg[0], "apis")) {
		i = 3;
		if (!join(a->api, sizeof(a->api), seg[1], "/", seg[2]))
			return false;
	} else {
		return false;
	}
	if (n - i >= 3 && !strcmp(seg[i], "namespaces")) {
		join(a->ns, sizeof(a->ns), seg[i + 1], "", "");
		i += 2;
	}
	if (n - i < 1 || n - i > 2)
		return false;
	if (!join(res, sizeof(res), seg[i], core ? "" : ".", core ? "" : seg[1]))
		return false;
	if (n - i == 2)
		join(a->name, sizeof(a->name), seg[i + 1], "", "");
	a->res = res_index(h, res);
	return a->res >= 0;
}

/*
 * A field selector: compiled for matching, and its plain spec.nodeName=X
 * term (a node's own pods: the store's index) picked out. False for one
 * the hub does not serve (the upstream answers it, or refuses it).
 */
static bool parse_fields(const char *sel, struct ask *a)
{
	char buf[2 * NAME_LEN + 64], err[CW_SELECTOR_ERR_MAX], *save, *t;

	if (strlen(sel) >= sizeof(buf) ||
	    cw_field_selector_parse(sel, &a->fields, err, sizeof(err)) < 0)
		return false;
	strcpy(buf, sel);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const char *v = !strncmp(t, "spec.nodeName==", 15)  ? t + 15
				: !strncmp(t, "spec.nodeName=", 14) ? t + 14
								    : NULL;

		if (v && *v && !strchr(v, '\\') && strlen(v) < NAME_LEN)
			strcpy(a->node, v);
	}
	return true;
}

static bool truthy(const char *v)
{
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/* The query's parameters; false for one the hub does not serve. */
static bool parse_query(const char *query, struct ask *a)
{
	char err[CW_SELECTOR_ERR_MAX];
	struct evkeyvalq kv;
	struct evkeyval *e;
	bool ok = true;

	TAILQ_INIT(&kv);
	if (!*query)
		return true;
	if (evhttp_parse_query_str(query, &kv) < 0)
		return false;
	TAILQ_FOREACH(e, &kv, next)
	{
		if (!strcmp(e->key, "watch"))
			a->watch = truthy(e->value);
		else if (!strcmp(e->key, "resourceVersion"))
			ok = !*e->value || !strcmp(e->value, "0") ||
			     !cw_rv_parse(e->value, strlen(e->value), &a->rv);
		else if (!strcmp(e->key, "resourceVersionMatch"))
			a->match = !strcmp(e->value, "Exact") ? CW_RV_EXACT : CW_RV_NOT_OLDER;
		else if (!strcmp(e->key, "limit"))
			a->limit = strtoul(e->value, NULL, 10);
		else if (!strcmp(e->key, "continue"))
			ok = strlen(e->value) < sizeof(a->cont) && strcpy(a->cont, e->value);
		else if (!strcmp(e->key, "fieldSelector"))
			ok = parse_fields(e->value, a);
		else if (!strcmp(e->key, "timeoutSeconds"))
			a->timeout_s = (uint32_t)strtoul(e->value, NULL, 10);
		else if (!strcmp(e->key, "labelSelector"))
			ok = !*e->value ||
			     cw_label_selector_parse(e->value, &a->labels, err, sizeof(err)) == 0;
		else if (strcmp(e->key, "allowWatchBookmarks"))
			ok = false;
		if (!ok)
			break;
	}
	evhttp_clear_headers(&kv);
	if (a->rv && a->match == CW_RV_ANY)
		a->match = CW_RV_NOT_OLDER;
	return ok;
}

/* ---- lists and gets ---- */

static const char *list_kind(const char *res)
{
	static const char *const k[][2] = {
	    {"pods", "PodList"},
	    {"nodes", "NodeList"},
	    {"services", "ServiceList"},
	    {"configmaps", "ConfigMapList"},
	    {"secrets", "SecretList"},
	    {"endpointslices.discovery.k8s.io", "EndpointSliceList"},
	    {"leases.coordination.k8s.io", "LeaseList"},
	    {"namespaces", "NamespaceList"},
	};

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (!strcmp(k[i][0], res))
			return k[i][1];
	return "List";
}

struct list_ctx {
	struct evbuffer *j;
	const struct ask *a;
	size_t n;
};

static bool selected(const struct ask *a, const struct cw_obj *o)
{
	return (!a->fname[0] || !strcmp(o->name, a->fname)) &&
	       (!a->labels || cw_selector_match_labels(a->labels, o->labels)) &&
	       (!a->fields || cw_selector_match(a->fields, o->root));
}

static int list_filter(const struct cw_obj *o, void *arg)
{
	return selected(arg, o);
}

static int list_item(const struct cw_store_item *it, void *arg)
{
	struct list_ctx *l = arg;

	if (l->n++)
		evbuffer_add(l->j, ",", 1);
	return evbuffer_add(l->j, it->bytes, it->len) ? -ENOMEM : 0;
}

static int answer_list(struct hcall *c)
{
	struct cw_hubserve *h = c->h;
	struct ask *a = &c->a;
	struct cw_store_list_req q = {.resource = h->res[a->res].name,
				      .ns = a->ns[0] ? a->ns : NULL,
				      .node = a->node[0] ? a->node : NULL,
				      .filter = a->fname[0] || a->labels || a->fields ? list_filter
										      : NULL,
				      .filter_ctx = a,
				      .limit = a->limit,
				      .cont = a->cont,
				      .rv = a->rv,
				      .rv_match = a->match};
	struct list_ctx l = {.j = evbuffer_new(), .a = a};
	char cont[CW_STORE_CONTINUE_MAX] = "";
	uint64_t rv = 0;
	int rc;

	if (!l.j)
		return -ENOMEM;
	evbuffer_add_printf(l.j, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"items\":[",
			    list_kind(q.resource), a->api);
	rc = cw_store_list(h->store, &q, list_item, &l, &rv, cont);
	if (rc == -ESTALE)
		rc = put_status(c, 410, "Expired", "the resourceVersion or continue is too old");
	else if (rc == -EAGAIN)
		rc = put_status(c, 504, "Timeout", "Too large resource version");
	else if (!rc) {
		evbuffer_add_printf(l.j, "],\"metadata\":{\"resourceVersion\":\"%" PRIu64 "\"", rv);
		if (cont[0])
			evbuffer_add_printf(l.j, ",\"continue\":\"%s\"", cont);
		evbuffer_add(l.j, "}}", 2);
		rc = put_body(c, 200, l.j);
		h->st.lists++;
	}
	evbuffer_free(l.j);
	return rc;
}

static int get_item(const struct cw_store_item *it, void *arg)
{
	return evbuffer_add(arg, it->bytes, it->len) ? -ENOMEM : 0;
}

static int answer_get(struct hcall *c)
{
	struct evbuffer *j = evbuffer_new();
	int rc;

	if (!j)
		return -ENOMEM;
	rc = cw_store_get(c->h->store, c->h->res[c->a.res].name, c->a.ns, c->a.name, get_item, j);
	if (rc == -ENOENT)
		rc = put_status(c, 404, "NotFound", "not found");
	else if (!rc)
		rc = put_body(c, 200, j);
	c->h->st.gets += rc == 0;
	evbuffer_free(j);
	return rc;
}

/* ---- watches ---- */

/* Event @rv of @r parsed, from the memo or into it; NULL when it does
 * not parse (it is not sent). */
static const struct memo *memo_of(struct hres *r, uint64_t rv, enum cw_ev_type type,
				  const struct cw_store_item *it)
{
	struct memo *m = &r->memo[rv % MEMO];

	if (rv && m->ok && m->rv == rv && m->type == (int)type)
		return m;
	if (m->ok)
		cw_obj_release(&m->o);
	m->ok = cw_obj_parse(&m->o, it->bytes, it->len) == 0;
	m->rv = rv;
	m->type = (int)type;
	return m->ok ? m : NULL;
}

static bool wanted(const struct ask *a, const struct memo *m)
{
	return m && (!a->ns[0] || !strcmp(a->ns, m->o.ns)) &&
	       (!a->node[0] || (m->o.node && !strcmp(a->node, m->o.node))) &&
	       (!a->name[0] || !strcmp(a->name, m->o.name)) && selected(a, &m->o);
}

static int watch_event(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it, void *arg)
{
	struct hcall *c = arg;
	bool snapshot = !c->sent_rv; /* objects in key order, not RV order */
	int rc = 0;

	if (wanted(&c->a, memo_of(&c->h->res[c->a.res], snapshot ? 0 : rv, type, it)))
		rc = put_event(c, type, rv, it->bytes, it->len);
	if (rc || snapshot)
		return rc;
	c->sent_rv = rv;
	return evbuffer_get_length(c->out) > PENDING_MAX; /* 1: enough for now */
}

/* Read on from the cursor while the stream keeps up. */
static void watch_pump(struct hcall *c)
{
	struct cw_hubserve *h = c->h;

	while (drain(c) && !c->fin && !evbuffer_get_length(c->out)) {
		uint64_t before = c->sent_rv, rv = 0;
		int rc = cw_store_watch_from(h->store, h->res[c->a.res].name, c->sent_rv,
					     watch_event, c, &rv);

		if (rc == -ESTALE) {
			static const char gone[] =
			    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
			    "\"status\":\"Failure\",\"message\":\"too old resource version\","
			    "\"reason\":\"Expired\",\"code\":410}";

			h->st.expired++;
			c->fin = true;
			if (!put_event(c, CW_EV_ERROR, 0, gone, sizeof(gone) - 1))
				continue; /* drain() ends it once sent */
			rc = -ENOMEM;
		}
		if (rc < 0) {
			cw_api_call_end(c->call, true);
			call_free(c);
			return;
		}
		if (rc == 0 && rv > c->sent_rv)
			c->sent_rv = rv; /* everything up to the snapshot's version went */
		if (c->sent_rv == before && !evbuffer_get_length(c->out))
			return; /* nothing new */
	}
}

static void on_watch_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hcall *c = arg;

	(void)fd;
	(void)what;
	c->fin = true;
	drain(c);
}

static int start_watch(struct hcall *c)
{
	Causeway__V1__ApiResponse a = CAUSEWAY__V1__API_RESPONSE__INIT;
	Causeway__V1__Header hd = CAUSEWAY__V1__HEADER__INIT, *hs[1] = {&hd};
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	uint32_t t = c->a.timeout_s && c->a.timeout_s < WATCH_MAX_S ? c->a.timeout_s : WATCH_MAX_S;
	struct timeval tv = {.tv_sec = t};
	int rc;

	hd.name = "content-type";
	hd.value = "application/json";
	a.status = 200;
	a.n_headers = 1;
	a.headers = hs;
	a.more = true; /* the events follow */
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
	env.api_response = &a;
	rc = put(c, &env);
	c->timer = evtimer_new(c->h->base, on_watch_timeout, c);
	if (rc || !c->timer || evtimer_add(c->timer, &tv))
		return rc ? rc : -ENOMEM;
	c->watch = true;
	c->sent_rv = c->a.rv;
	c->next = c->h->watchers;
	if (c->next)
		c->next->prev = c;
	c->h->watchers = c;
	c->h->st.watches++;
	c->h->st.watchers++;
	watch_pump(c);
	return 0;
}

/* ---- the handler ---- */

static int start(struct cw_hubserve *h, struct cw_api_call *call)
{
	const Causeway__V1__ApiRequest *rq = call->req->rq;
	struct hcall *c;
	struct ask a = {.res = -1};
	int rc;

	if (strcmp(rq->verb, "GET") || !parse_path(h, rq->path, &a) ||
	    !parse_query(rq->query ? rq->query : "", &a) || (a.watch && a.name[0])) {
		cw_selector_free(a.labels);
		cw_selector_free(a.fields);
		h->st.passed++;
		return cw_api_call_pass(call, h->upstream, h->up_ctx);
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->out = evbuffer_new())) {
		free(c);
		cw_selector_free(a.labels);
		cw_selector_free(a.fields);
		return -ENOMEM;
	}
	*c = (struct hcall){.h = h, .call = call, .out = c->out, .a = a};
	call->user = c;
	if (a.watch)
		return start_watch(c);
	rc = a.name[0] ? answer_get(c) : answer_list(c);
	if (rc) {
		call->user = NULL;
		call_free(c);
		return rc;
	}
	c->fin = true;
	drain(c);
	return 0;
}

int cw_hubserve_serve(void *ctx, struct cw_api_call *call, bool more)
{
	struct cw_hubserve *h = ctx;
	struct hcall *c = call->user;

	if (!more)
		return start(h, call);
	if (cw_api_call_cancelled(call)) {
		cw_api_call_end(call, true);
		call_free(c);
		return 0;
	}
	if (c->watch)
		watch_pump(c);
	else
		drain(c);
	return 0;
}

void cw_hubserve_changed(void *ctx, const char *resource, uint64_t rv)
{
	struct cw_hubserve *h = ctx;
	int r = res_index(h, resource);
	struct hcall *c = h->watchers, *next;

	(void)rv;
	for (; c; c = next) {
		next = c->next;
		if (c->a.res == r)
			watch_pump(c);
	}
}

const struct cw_hubserve_stats *cw_hubserve_stats(const struct cw_hubserve *h)
{
	return &h->st;
}

int cw_hubserve_new(struct event_base *base, struct cw_store *store, const char *const *resources,
		    unsigned n, cw_api_handler_fn upstream, void *up_ctx, struct cw_hubserve **out)
{
	struct cw_hubserve *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	*h = (struct cw_hubserve){
	    .base = base, .store = store, .upstream = upstream, .up_ctx = up_ctx};
	for (unsigned i = 0; i < n && i < MAX_RES; i++)
		snprintf(h->res[h->n++].name, NAME_LEN, "%s", resources[i]);
	*out = h;
	return 0;
}

void cw_hubserve_free(struct cw_hubserve *h)
{
	if (!h)
		return;
	while (h->watchers) {
		cw_api_call_end(h->watchers->call, true);
		call_free(h->watchers);
	}
	for (unsigned i = 0; i < h->n; i++)
		for (unsigned k = 0; k < MEMO; k++)
			if (h->res[i].memo[k].ok)
				cw_obj_release(&h->res[i].memo[k].o);
	free(h);
}
