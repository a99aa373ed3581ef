/* SPDX-License-Identifier: Apache-2.0 */
#include "control/hubserve.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "control/hubtopo.h"
#include "dataplane/log.h"
#include "hub/object.h"
#include "hub/query.h"
#include "hub/selector.h"
#include "tunnel/msg.h"
#include "tunnel/msg_body.h"
#include "tunnel/varint.h"

#define PART_MAX    (32u << 10)	 /* body bytes per ApiResponse */
#define PENDING_MAX (256u << 10) /* a watcher's encoded events not yet in its stream */
#define NAME_LEN    256
#define WATCH_MAX_S 1800 /* a watch ends after this at the latest */
#define MAX_RES	    16
#define MEMO	    64 /* recent events' keys, per resource */
#define SLICES	    "endpointslices.discovery.k8s.io"

/*
 * One request being answered: a body, or a watch. A fan-out reads the
 * first fields of every watcher of a resource, 10,000 of them for a
 * fleet: they come first, in one cache line, and the query (kilobytes
 * of names) after them is not read for a watcher that filters nothing.
 */
struct hcall {
	struct hcall *prev, *next; /* watchers */
	uint64_t sent_rv;	   /* a watcher's cursor; 0 until its first state is out */
	struct cw_api_call *call;
	struct evbuffer *out; /* encoded messages not yet in the stream */
	struct cw_hubserve *h;
	uint32_t peer_max; /* the agent's max_message_size */
	int res;	   /* index into h->res */
	int err;	   /* the fan-out's error for it: ended after it */
	bool held;	   /* out may hold some: without, no need to look */
	bool fin;	   /* nothing more after out: end once it is sent */
	bool watch;
	bool fed;   /* in its resource's fan-out now */
	bool plain; /* a watch of every object of its resource: no filter */
	bool topo;  /* pool[] set */
	struct event *timer;
	struct cw_hub_query a;
	char pool[CW_TOPO_POOL_MAX]; /* EndpointSlices: the requester's, to filter by; "": none */
};

/* An EndpointSlice event's bytes for the nodes of one pool. */
struct cut {
	char pool[CW_TOPO_POOL_MAX];
	char *bytes; /* NULL: the event's own */
	size_t len;
};

/* An event encoded as a WatchEvent message, for every watcher that is
 * sent it as @type with the same bytes. */
struct enc {
	int type;
	int cut; /* the object bytes it carries: cut's index, -1 the event's own */
	uint8_t *bytes;
	size_t len;
	size_t env_len; /* the Envelope without its prefix: against peer_msg_max */
};

/*
 * A recent event's object, parsed once for every watcher, and what all
 * watchers need of it: its previous state parsed (for selectors) and its
 * filtered bytes per pool (for the topology filter), each made by the
 * first watcher that needs it. Keyed by the event's RV, the object's RV
 * and length: a re-list records many events at one RV.
 */
struct memo {
	uint64_t rv, obj_rv;
	size_t len;
	int type;
	bool ok;
	struct cw_obj o; /* its bytes are not kept: only root and what points into it */
	int prev;	 /* 1: parsed into po; 0: not yet; -1: none */
	struct cw_obj po;
	struct cut *cut; /* one per pool met */
	size_t ncut;
	struct enc *enc; /* one per type and bytes sent */
	size_t nenc;
};

struct hres {
	char name[NAME_LEN];
	struct memo memo[MEMO];
	struct hcall *watchers;
	size_t n_watchers;
	uint64_t head;	     /* the RV the last fan-out read up to; 0: none yet */
	struct hcall **feed; /* the fan-out's watchers: caught up at head */
	size_t nfeed, feed_cap;
};

struct cw_hubserve {
	struct event_base *base;
	struct cw_store *store;
	cw_api_handler_fn upstream;
	void *up_ctx;
	struct hres res[MAX_RES];
	unsigned n;
	struct cw_hubtopo *topo;
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
	c->held = true;
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

/* A WatchEvent message's parts, ready to encode. */
struct evmsg {
	Causeway__V1__WatchEvent w;
	Causeway__V1__Body b;
	cw_envelope env;
	char rvs[24];
};

static void evmsg_init(struct evmsg *e, enum cw_ev_type type, uint64_t rv, const void *obj,
		       size_t len)
{
	*e = (struct evmsg){.w = CAUSEWAY__V1__WATCH_EVENT__INIT,
			    .b = CAUSEWAY__V1__BODY__INIT,
			    .env = CAUSEWAY__V1__ENVELOPE__INIT};
	snprintf(e->rvs, sizeof(e->rvs), "%" PRIu64, rv);
	e->w.type = (Causeway__V1__WatchEventType)type; /* the same numbering */
	e->w.resource_version = e->rvs;
	cw_msg_body_identity(&e->b, obj, len);
	e->w.object = &e->b;
	e->env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_WATCH_EVENT;
	e->env.watch_event = &e->w;
}

static int put_event(struct hcall *c, enum cw_ev_type type, uint64_t rv, const void *obj,
		     size_t len)
{
	struct evmsg e;

	evmsg_init(&e, type, rv, obj, len);
	c->h->st.events++;
	c->h->st.encodes++;
	return put(c, &e.env);
}

/* Encoded bytes for @c's stream: into its ring while out is empty and
 * the ring has room, the rest behind out. */
static int put_bytes(struct hcall *c, const uint8_t *p, size_t len)
{
	size_t k = c->held ? 0 : cw_api_call_write_bytes(c->call, p, len);

	if (k == len)
		return 0;
	c->held = true;
	return evbuffer_add(c->out, p + k, len - k) ? -ENOMEM : 0;
}

/* ---- sending, ending ---- */

static void call_free(struct hcall *c)
{
	if (c->watch) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->h->res[c->res].watchers = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->h->res[c->res].n_watchers--;
		c->h->st.watchers--;
	}
	if (c->timer)
		event_free(c->timer);
	cw_hub_query_release(&c->a);
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
	c->held = false;
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

/* An EndpointSlice's bytes for @c's pool: *@b, *@n left as they are when
 * not filtered, else pointed at @buf's filtered copy (the caller frees). */
static int topo_bytes(struct hcall *c, const struct cw_obj *o, const void **b, size_t *n,
		      char **buf)
{
	size_t len;
	int rc = cw_hubtopo_filter(c->h->topo, o, *b, *n, c->pool, buf, &len);

	c->h->st.topo_runs++;
	if (!rc && *buf) {
		*b = *buf;
		*n = len;
		c->h->st.filtered++;
	}
	return rc;
}

struct list_ctx {
	struct evbuffer *j;
	struct hcall *c;
	size_t n;
};

static bool selected(const struct cw_hub_query *a, const struct cw_obj *o)
{
	return (!a->labels || cw_selector_match_labels(a->labels, o->labels)) &&
	       (!a->fields || cw_selector_match(a->fields, o->root));
}

static int list_filter(const struct cw_obj *o, void *arg)
{
	return selected(arg, o);
}

/* An item as the requester is to see it: filtered by pool for it. */
static int add_item(struct hcall *c, struct evbuffer *j, const struct cw_store_item *it)
{
	const void *b = it->bytes;
	size_t n = it->len;
	char *buf = NULL;
	struct cw_obj o;
	int rc = 0;

	if (c->topo && !cw_obj_parse(&o, it->bytes, it->len)) {
		rc = topo_bytes(c, &o, &b, &n, &buf);
		cw_obj_release(&o);
	}
	if (!rc && evbuffer_add(j, b, n))
		rc = -ENOMEM;
	free(buf);
	return rc;
}

static int list_item(const struct cw_store_item *it, void *arg)
{
	struct list_ctx *l = arg;

	if (l->n++ && evbuffer_add(l->j, ",", 1))
		return -ENOMEM;
	return add_item(l->c, l->j, it);
}

static int answer_list(struct hcall *c)
{
	struct cw_hubserve *h = c->h;
	struct cw_hub_query *a = &c->a;
	struct cw_store_list_req q = {.resource = h->res[c->res].name,
				      .ns = a->ns[0] ? a->ns : NULL,
				      .node = a->node[0] ? a->node : NULL,
				      .name = a->fname[0] ? a->fname : NULL,
				      .filter = a->labels || a->fields ? list_filter : NULL,
				      .filter_ctx = a,
				      .limit = a->limit,
				      .cont = a->cont,
				      .rv = a->rv,
				      .rv_match = a->match};
	struct list_ctx l = {.j = evbuffer_new(), .c = c};
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

struct get_ctx {
	struct evbuffer *j;
	struct hcall *c;
};

static int get_item(const struct cw_store_item *it, void *arg)
{
	struct get_ctx *g = arg;

	return add_item(g->c, g->j, it);
}

static int answer_get(struct hcall *c)
{
	struct get_ctx g = {.j = evbuffer_new(), .c = c};
	int rc;

	if (!g.j)
		return -ENOMEM;
	rc = cw_store_get(c->h->store, c->h->res[c->res].name, c->a.ns, c->a.name, get_item, &g);
	if (rc == -ENOENT)
		rc = put_status(c, 404, "NotFound", "not found");
	else if (!rc)
		rc = put_body(c, 200, g.j);
	c->h->st.gets += rc == 0;
	evbuffer_free(g.j);
	return rc;
}

/* ---- watches ---- */

static void memo_clear(struct memo *m)
{
	if (m->ok)
		cw_obj_release(&m->o);
	if (m->prev > 0)
		cw_obj_release(&m->po);
	for (size_t i = 0; i < m->ncut; i++)
		free(m->cut[i].bytes);
	free(m->cut);
	for (size_t i = 0; i < m->nenc; i++)
		free(m->enc[i].bytes);
	free(m->enc);
	*m = (struct memo){0};
}

/* Event @rv of @r parsed, from the memo or into it; NULL when it does
 * not parse (it is not sent). */
static struct memo *memo_of(struct hres *r, uint64_t rv, enum cw_ev_type type,
			    const struct cw_store_item *it)
{
	/* A re-list's events share one RV: their objects' RVs spread them. */
	struct memo *m = &r->memo[(rv && it->rv != rv ? rv ^ it->rv : rv) % MEMO];

	if (rv && m->ok && m->rv == rv && m->type == (int)type && m->obj_rv == it->rv &&
	    m->len == it->len)
		return m;
	memo_clear(m);
	m->rv = rv;
	m->obj_rv = it->rv;
	m->len = it->len;
	m->type = (int)type;
	m->ok = cw_obj_parse(&m->o, it->bytes, it->len) == 0;
	return m->ok ? m : NULL;
}

/* The event's previous state, parsed; NULL when there is none. */
static const struct cw_obj *memo_prev(struct memo *m, const struct cw_store_item *it)
{
	if (!m->prev)
		m->prev = it->prev && !cw_obj_parse(&m->po, it->prev, it->prev_len) ? 1 : -1;
	return m->prev > 0 ? &m->po : NULL;
}

/* The event's bytes for @c's pool (*@b, *@n), filtered once per pool;
 * *@cut is the index of the filtered copy in m->cut, -1 for the event's
 * own bytes. Returns 0, -ENOMEM, the filter's errors. */
static int memo_cut(struct hcall *c, struct memo *m, const void **b, size_t *n, int *cut)
{
	struct cut *k;
	char *buf = NULL;
	int rc;

	*cut = -1;
	for (size_t i = 0; i < m->ncut; i++) {
		k = &m->cut[i];
		if (!strcmp(k->pool, c->pool)) {
			if (k->bytes) {
				*b = k->bytes;
				*n = k->len;
				*cut = (int)i;
				c->h->st.filtered++;
			}
			return 0;
		}
	}
	k = realloc(m->cut, (m->ncut + 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	m->cut = k;
	rc = topo_bytes(c, &m->o, b, n, &buf);
	if (rc)
		return rc;
	k = &m->cut[m->ncut];
	*k = (struct cut){.bytes = buf, .len = buf ? *n : 0};
	memcpy(k->pool, c->pool, sizeof(k->pool));
	*cut = buf ? (int)m->ncut : -1;
	m->ncut++;
	return 0;
}

/* Event @rv sent as @type with bytes @obj (the event's own, or cut @cut),
 * encoded once for every watcher sent the same. Returns 0 and *@out,
 * -ENOMEM, cw_msg_encode()'s errors. */
static int memo_enc(struct cw_hubserve_stats *st, struct memo *m, enum cw_ev_type type, uint64_t rv,
		    const void *obj, size_t len, int cut, const struct enc **out)
{
	struct evmsg e;
	struct enc *x;
	ptrdiff_t n;

	for (size_t i = 0; i < m->nenc; i++)
		if (m->enc[i].type == (int)type && m->enc[i].cut == cut) {
			*out = &m->enc[i];
			return 0;
		}
	x = realloc(m->enc, (m->nenc + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	m->enc = x;
	x = &m->enc[m->nenc];
	evmsg_init(&e, type, rv, obj, len);
	*x = (struct enc){.type = (int)type, .cut = cut, .len = cw_msg_encoded_len(&e.env)};
	x->bytes = malloc(x->len);
	if (!x->bytes)
		return -ENOMEM;
	n = cw_msg_encode(&e.env, CW_MSG_SIZE_MAX, x->bytes, x->len);
	if (n < 0) {
		free(x->bytes);
		return (int)n;
	}
	x->env_len = x->len - cw_varint_len_from_byte(x->bytes[0]);
	m->nenc++;
	st->encodes++;
	*out = x;
	return 0;
}

/* Whether object @o is one @a watches (its selectors aside: they may
 * change, the rest never does for a key). */
static bool in_scope(const struct cw_hub_query *a, const struct cw_obj *o)
{
	return (!a->ns[0] || !strcmp(a->ns, o->ns)) && (!a->name[0] || !strcmp(a->name, o->name));
}

static bool matches(const struct cw_hub_query *a, const struct cw_obj *o)
{
	return (!a->node[0] || (o->node && !strcmp(a->node, o->node))) && selected(a, o);
}

/* The type to send @c for event @type of @m (0: none), by its selectors
 * on the object and on its previous state (hub/query.h). */
static enum cw_ev_type watch_type(struct hcall *c, struct memo *m, enum cw_ev_type type,
				  const struct cw_store_item *it)
{
	const struct cw_hub_query *a = &c->a;
	const struct cw_obj *prev;
	int before = -1;

	if (!m)
		return 0;
	if (c->plain)
		return type;
	if (!in_scope(a, &m->o))
		return 0;
	if (!a->node[0] && !a->labels && !a->fields)
		return type;
	if (type != CW_EV_DELETED && (prev = memo_prev(m, it)))
		before = matches(a, prev);
	return cw_hub_watch_type(type, before, matches(a, &m->o));
}

/* Event @rv of @m (@it) to @c as @send: a snapshot's (@alone) encoded
 * for @c alone, the others from the memo's encoding. */
static int send_event(struct hcall *c, struct memo *m, enum cw_ev_type send, uint64_t rv,
		      const struct cw_store_item *it, bool alone)
{
	const void *b = it->bytes;
	size_t n = it->len;
	const struct enc *e = NULL;
	int cut = -1, rc = 0;

	if (c->topo)
		rc = memo_cut(c, m, &b, &n, &cut);
	if (rc || alone)
		return rc ? rc : put_event(c, send, rv, b, n);
	rc = memo_enc(&c->h->st, m, send, rv, b, n, cut, &e);
	if (rc)
		return rc;
	if (e->env_len > c->peer_max)
		return -EMSGSIZE;
	c->h->st.events++;
	return put_bytes(c, e->bytes, e->len);
}

static int watch_event(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it, void *arg)
{
	struct hcall *c = arg;
	bool snapshot = !c->sent_rv; /* objects in key order, not RV order */
	struct memo *m = memo_of(&c->h->res[c->res], snapshot ? 0 : rv, type, it);
	enum cw_ev_type send = watch_type(c, m, type, it);
	int rc = send ? send_event(c, m, send, rv, it, snapshot) : 0;

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
		int rc = cw_store_watch_from(h->store, h->res[c->res].name, c->sent_rv, watch_event,
					     c, &rv);

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
	c->next = c->h->res[c->res].watchers;
	if (c->next)
		c->next->prev = c;
	c->h->res[c->res].watchers = c;
	c->h->res[c->res].n_watchers++;
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
	struct cw_hub_query a;
	int res = -1, rc;

	rc = strcmp(rq->verb, "GET") ? -EINVAL : cw_hub_query_parse(rq->path, rq->query, &a);
	if (rc == -ENOMEM)
		return rc;
	if (!rc && (res = res_index(h, a.resource)) < 0)
		cw_hub_query_release(&a);
	if (rc || res < 0) {
		h->st.passed++;
		return cw_api_call_pass(call, h->upstream, h->up_ctx);
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->out = evbuffer_new())) {
		free(c);
		cw_hub_query_release(&a);
		return -ENOMEM;
	}
	*c = (struct hcall){.h = h, .call = call, .out = c->out, .res = res, .a = a};
	if (!strcmp(a.resource, SLICES) && call->req->node &&
	    cw_hubtopo_node_pool(h->topo, call->req->node, c->pool))
		c->pool[0] = '\0';
	c->topo = c->pool[0] != '\0';
	c->plain = !a.ns[0] && !a.name[0] && !a.node[0] && !a.labels && !a.fields;
	c->peer_max = call->req->peer_msg_max;
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

/* ---- fan-out ---- */

/* The watchers of @r that have been sent everything up to r->head and
 * have nothing waiting: these take the next events from one read. */
static int feed_gather(struct hres *r)
{
	r->nfeed = 0;
	if (!r->head)
		return 0;
	if (r->n_watchers > r->feed_cap) {
		struct hcall **f = realloc(r->feed, r->n_watchers * sizeof(*f));

		if (!f)
			return -ENOMEM;
		r->feed = f;
		r->feed_cap = r->n_watchers;
	}
	for (struct hcall *c = r->watchers; c; c = c->next)
		if (c->sent_rv == r->head && !c->fin && !c->held) {
			c->fed = true;
			r->feed[r->nfeed++] = c;
		}
	return 0;
}

/* One event to every watcher still in the fan-out: parsed, filtered and
 * encoded once (the memo), copied to each. A watcher whose stream falls
 * behind leaves it and reads on from its cursor when it has room. */
static int feed_event(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it, void *arg)
{
	struct hres *r = arg;
	struct memo *m = memo_of(r, rv, type, it);

	for (size_t i = 0; i < r->nfeed;) {
		struct hcall *c = r->feed[i];
		enum cw_ev_type send = watch_type(c, m, type, it);
		int rc = send ? send_event(c, m, send, rv, it, false) : 0;

		if (rc)
			c->err = rc;
		else
			c->sent_rv = rv;
		if (rc || (c->held && evbuffer_get_length(c->out) > PENDING_MAX)) {
			c->fed = false;
			r->feed[i] = r->feed[--r->nfeed];
		} else {
			i++;
		}
	}
	return r->nfeed ? 0 : 1; /* 1: nobody is left to read for */
}

/*
 * The watchers caught up at the last fan-out get the new events from one
 * read of the history; the others (behind, or started since) read on
 * from their own cursors. Either way each watcher's cursor ends at the
 * store's highest RV unless its stream is full.
 */
void cw_hubserve_changed(void *ctx, const char *resource, uint64_t rv)
{
	struct cw_hubserve *h = ctx;
	int i = res_index(h, resource), rc = 1;
	struct hcall *c, *next;
	struct hres *r;
	uint64_t head = 0;

	if (i < 0)
		return;
	r = &h->res[i];
	if (!feed_gather(r) && r->nfeed) {
		rc = cw_store_watch_from(h->store, r->name, r->head, feed_event, r, &head);
		h->st.fanouts++;
	}
	for (c = r->watchers; c; c = next) {
		bool fed = c->fed;

		next = c->next;
		c->fed = false;
		if (c->err) {
			cw_api_call_end(c->call, true);
			call_free(c);
		} else if (fed && !rc) {
			if (head > c->sent_rv)
				c->sent_rv = head; /* up to the read's snapshot: all went */
		} else {
			watch_pump(c);
		}
	}
	r->nfeed = 0;
	r->head = rc ? rv : head;
}

const struct cw_hubserve_stats *cw_hubserve_stats(const struct cw_hubserve *h)
{
	return &h->st;
}

int cw_hubserve_new(struct event_base *base, struct cw_store *store, struct cw_nodedir *nodes,
		    const char *const *resources, unsigned n, cw_api_handler_fn upstream,
		    void *up_ctx, struct cw_hubserve **out)
{
	struct cw_hubserve *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	*h = (struct cw_hubserve){
	    .base = base, .store = store, .upstream = upstream, .up_ctx = up_ctx};
	if (cw_hubtopo_new(store, nodes, &h->topo)) {
		free(h);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n && i < MAX_RES; i++)
		snprintf(h->res[h->n++].name, NAME_LEN, "%s", resources[i]);
	*out = h;
	return 0;
}

void cw_hubserve_free(struct cw_hubserve *h)
{
	if (!h)
		return;
	for (unsigned i = 0; i < h->n; i++) {
		struct hres *r = &h->res[i];

		while (r->watchers) {
			cw_api_call_end(r->watchers->call, true);
			call_free(r->watchers);
		}
		for (unsigned k = 0; k < MEMO; k++)
			memo_clear(&r->memo[k]);
		free(r->feed);
	}
	cw_hubtopo_free(h->topo);
	free(h);
}
