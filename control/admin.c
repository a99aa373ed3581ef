/* SPDX-License-Identifier: Apache-2.0 */
#include "control/admin.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <urcu-qsbr.h>

#include "control/apiserve.h"
#include "control/plane.h"
#include "control/hubserve.h"
#include "control/reflector.h"
#include "control/route.h"
#include "control/upstream.h"
#include "dataplane/counters.h"
#include "dataplane/log.h"
#include "dataplane/tunnel_svc.h"

enum fmt { FMT_JSON = 0, FMT_TEXT, FMT_METRICS };

struct cw_admin {
	struct cw_plane *p;
	struct evhttp *http;
};

/* One pending request: the HTTP request and the workers' parts. */
struct pending {
	struct cw_admin *a;
	struct evhttp_request *req;
	enum fmt fmt;
	struct cw_tstats_req st;
};

/* The directory's view of a node (pool), or "" when it left meanwhile. */
static void node_pool(struct cw_plane *p, const struct cw_tsess *s, char *pool, size_t cap)
{
	struct cw_node_info n;

	pool[0] = '\0';
	rcu_read_lock();
	if (!cw_nodedir_get(p->nodes, s->node, &n) && n.session_id == s->session_id)
		snprintf(pool, cap, "%s", n.pool);
	rcu_read_unlock();
}

_Static_assert(sizeof(struct cw_gw_stats) % sizeof(uint64_t) == 0, "counters only");

static void gw_sum(const struct cw_tstats_req *r, unsigned n, struct cw_gw_stats *t)
{
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)t;

	memset(t, 0, sizeof(*t));
	for (unsigned w = 0; w < n; w++) {
		src = (const uint64_t *)&r->gw[w];
		for (size_t i = 0; i < sizeof(*t) / sizeof(uint64_t); i++)
			dst[i] += src[i];
	}
}

static void render_json(struct pending *pd, struct evbuffer *b, unsigned nw, uint64_t now)
{
	struct cw_plane *p = pd->a->p;
	struct cw_gw_stats g;
	bool first = true;

	gw_sum(&pd->st, nw, &g);
	evbuffer_add_printf(b,
			    "{\"uptime_s\":%llu,\"workers\":%u,\"sessions\":%llu,"
			    "\"handshakes\":{\"full\":%llu,\"resumed\":%llu,\"failed\":%llu},"
			    "\"nodes\":[",
			    (unsigned long long)((now - p->started_ns) / 1000000000u), nw,
			    (unsigned long long)g.sessions, (unsigned long long)g.hs_full,
			    (unsigned long long)g.hs_resumed, (unsigned long long)g.hs_failed);
	for (unsigned w = 0; w < nw; w++)
		for (uint32_t i = 0; i < pd->st.n_sess[w]; i++) {
			const struct cw_tsess *s = &pd->st.sess[w][i];
			char addr[64], pool[CW_POOL_NAME_MAX + 1];

			cw_gw_addr_str(&s->addr, addr, sizeof(addr));
			node_pool(p, s, pool, sizeof(pool));
			/* Node and pool names are DNS labels: nothing to escape. */
			evbuffer_add_printf(
			    b,
			    "%s{\"name\":\"%s\",\"pool\":\"%s\",\"address\":\"%s\","
			    "\"worker\":%u,\"session\":\"%#llx\",\"rtt_us\":%llu,"
			    "\"bytes_in\":%llu,\"bytes_out\":%llu,\"streams\":%u,\"since_s\":%llu}",
			    first ? "" : ",", s->node, pool, addr, s->worker,
			    (unsigned long long)s->session_id,
			    (unsigned long long)(s->srtt_ns / 1000),
			    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
			    s->streams, (unsigned long long)((now - s->since_ns) / 1000000000u));
			first = false;
		}
	evbuffer_add_printf(b, "]}\n");
}

static void render_text(struct pending *pd, struct evbuffer *b, unsigned nw, uint64_t now)
{
	evbuffer_add_printf(b, "%-32s %-16s %-21s %9s %12s %12s %7s %9s\n", "NODE", "POOL",
			    "ADDRESS", "RTT(us)", "BYTES-IN", "BYTES-OUT", "STREAMS", "SINCE(s)");
	for (unsigned w = 0; w < nw; w++)
		for (uint32_t i = 0; i < pd->st.n_sess[w]; i++) {
			const struct cw_tsess *s = &pd->st.sess[w][i];
			char addr[64], pool[CW_POOL_NAME_MAX + 1];

			cw_gw_addr_str(&s->addr, addr, sizeof(addr));
			node_pool(pd->a->p, s, pool, sizeof(pool));
			evbuffer_add_printf(
			    b, "%-32s %-16s %-21s %9llu %12llu %12llu %7u %9llu\n", s->node,
			    pool[0] ? pool : "-", addr, (unsigned long long)(s->srtt_ns / 1000),
			    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
			    s->streams, (unsigned long long)((now - s->since_ns) / 1000000000u));
		}
}

static void family(struct evbuffer *b, const char *name, const char *help, const char *type)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, help, "counter");
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* A dataplane counter per worker: the field at @off of struct cw_counters. */
static void per_worker(struct evbuffer *b, const struct cw_plane *p, const char *name,
		       const char *help, size_t off)
{
	family(b, name, help, "counter");
	for (unsigned w = 0; w < p->n_ctr; w++) {
		const uint64_t *f = (const uint64_t *)((const char *)&p->ctr[w] + off);

		evbuffer_add_printf(b, "%s{worker=\"%u\"} %llu\n", name, w,
				    (unsigned long long)__atomic_load_n(f, __ATOMIC_RELAXED));
	}
}

static void render_dataplane(struct evbuffer *b, const struct cw_plane *p)
{
	per_worker(b, p, "causeway_rx_packets_total", "Packets received",
		   offsetof(struct cw_counters, rx_pkts));
	per_worker(b, p, "causeway_rx_bytes_total", "Bytes received",
		   offsetof(struct cw_counters, rx_bytes));
	per_worker(b, p, "causeway_tx_packets_total", "Packets sent",
		   offsetof(struct cw_counters, tx_pkts));
	per_worker(b, p, "causeway_tx_bytes_total", "Bytes sent",
		   offsetof(struct cw_counters, tx_bytes));
	per_worker(b, p, "causeway_udp_in_total", "Datagrams handed to handlers",
		   offsetof(struct cw_counters, udp_in));
	per_worker(b, p, "causeway_udp_out_total", "Datagrams sent by handlers",
		   offsetof(struct cw_counters, udp_out));
	family(b, "causeway_drops_total", "Packets dropped, by worker and reason", "counter");
	for (unsigned w = 0; w < p->n_ctr; w++)
		for (unsigned d = 0; d < CW_DROP_MAX; d++)
			evbuffer_add_printf(
			    b, "causeway_drops_total{worker=\"%u\",reason=\"%s\"} %llu\n", w,
			    cw_drop_name(d), (unsigned long long)cw_ctr_get(p->ctr[w].drops[d]));
}

static void render_tunnel(struct evbuffer *b, const struct cw_gw_stats *g)
{
	family(b, "causeway_sessions", "Tunnel sessions now, handshaking included", "gauge");
	evbuffer_add_printf(b, "causeway_sessions %llu\n", (unsigned long long)g->sessions);
	metric(b, "causeway_handshakes_full_total", "Full handshakes", g->hs_full);
	metric(b, "causeway_handshakes_resumed_total", "Resumed handshakes", g->hs_resumed);
	metric(b, "causeway_handshakes_failed_total", "Failed handshakes", g->hs_failed);
	metric(b, "causeway_handshakes_offloaded_total", "Handshakes run on a handshake thread",
	       g->hs_away);
	metric(b, "causeway_handshakes_refused_total",
	       "Handshakes a handshake thread could not take or start", g->hs_refused);
	metric(b, "causeway_retries_total", "RETRY packets sent", g->retries_sent);
	metric(b, "causeway_invalid_tokens_total", "Retry tokens refused", g->invalid_token);
	metric(b, "causeway_decrypt_failures_total", "1-RTT packets failing authentication",
	       g->decrypt_failed);
	metric(b, "causeway_retransmits_total", "STREAM frames sent again after a loss",
	       g->retransmits);
	metric(b, "causeway_stateless_resets_total", "Stateless resets sent", g->resets_sent);
	metric(b, "causeway_node_name_mismatch_total", "Hello names not matching certificates",
	       g->name_mismatch);
	metric(b, "causeway_address_changes_total", "NAT rebindings adopted", g->addr_changes);
	metric(b, "causeway_dials_total", "Dial streams opened", g->dials);
	family(b, "causeway_api_requests_total", "Agent API requests by route action", "counter");
	for (unsigned a = 0; a < CW_GW_N_ROUTES; a++)
		evbuffer_add_printf(b, "causeway_api_requests_total{action=\"%s\"} %llu\n",
				    cw_route_action_name(a), (unsigned long long)g->routed[a]);
	metric(b, "causeway_api_refused_total", "Agent API requests answered REFUSED",
	       g->api_refused);
	metric(b, "causeway_api_malformed_total", "Agent API streams aborted as malformed",
	       g->api_bad);
	metric(b, "causeway_api_body_failures_total",
	       "Agent API request bodies that did not decompress", g->body_failed);
}

/* Agents' API requests that reached the control thread (apiserve.h). */
static void render_api(struct evbuffer *b, const struct cw_apiserve *api)
{
	const struct cw_apiserve_stats *s;

	if (!api)
		return;
	s = cw_apiserve_stats(api);
	family(b, "causeway_api_forwarded_total",
	       "Agent API requests handed to the control thread, by route action", "counter");
	for (unsigned a = 0; a < CW_GW_N_ROUTES; a++)
		if (a != CW_GW_ROUTE_DENY)
			evbuffer_add_printf(b, "causeway_api_forwarded_total{action=\"%s\"} %llu\n",
					    cw_route_action_name(a),
					    (unsigned long long)s->requests[a]);
	metric(b, "causeway_api_forwarded_body_bytes_total",
	       "Decoded body bytes of API requests handed to the control thread", s->body_bytes);
	metric(b, "causeway_api_unavailable_total",
	       "API requests answered UPSTREAM_UNAVAILABLE: nothing serves their route",
	       s->unavailable);
	metric(b, "causeway_api_cancelled_total", "API requests the agent cancelled", s->cancelled);
}

/* Requests passed to the Kubernetes API server (upstream.h). */
static void render_upstream(struct evbuffer *b, const struct cw_upstream *u)
{
	static const char *const cls[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	const struct cw_upstream_stats *s;

	if (!u)
		return;
	s = cw_upstream_stats(u);
	metric(b, "causeway_upstream_requests_total", "API requests passed to the upstream",
	       s->requests);
	family(b, "causeway_upstream_answers_total", "Upstream answers relayed, by status class",
	       "counter");
	for (unsigned i = 0; i < 6; i++)
		evbuffer_add_printf(b, "causeway_upstream_answers_total{class=\"%s\"} %llu\n",
				    cls[i], (unsigned long long)s->answered[i]);
	metric(b, "causeway_upstream_failures_total",
	       "Upstream requests with no answer (connection, TLS, timeout)", s->failed);
	metric(b, "causeway_upstream_busy_total", "API requests refused: max_requests in flight",
	       s->busy);
	metric(b, "causeway_upstream_watches_refused_total",
	       "Watches refused by the upstream route (the hub serves them)", s->watches);
	metric(b, "causeway_upstream_body_bytes_total", "Body bytes of upstream answers relayed",
	       s->body_bytes);
}

/* The cloud hub's reflectors, by resource. */
static void render_hub(struct evbuffer *b, const struct cw_plane *p)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} m[] = {
	    {"causeway_hub_resource_version", "Highest resourceVersion in the hub's store",
	     offsetof(struct cw_reflector_stats, rv)},
	    {"causeway_hub_lists_total", "Full lists of the upstream",
	     offsetof(struct cw_reflector_stats, lists)},
	    {"causeway_hub_relists_total", "Lists again after 410 Gone",
	     offsetof(struct cw_reflector_stats, relists)},
	    {"causeway_hub_watches_total", "Upstream watches started",
	     offsetof(struct cw_reflector_stats, watches)},
	    {"causeway_hub_events_total", "Watch events stored",
	     offsetof(struct cw_reflector_stats, events)},
	    {"causeway_hub_errors_total", "Failed upstream transfers and store writes",
	     offsetof(struct cw_reflector_stats, errors)},
	};

	if (p->hub) {
		const struct cw_hubserve_stats *s = cw_hubserve_stats(p->hub);

		family(b, "causeway_hub_requests_total",
		       "Agents' hub route requests, by how they were served", "counter");
		evbuffer_add_printf(b,
				    "causeway_hub_requests_total{served=\"list\"} %llu\n"
				    "causeway_hub_requests_total{served=\"get\"} %llu\n"
				    "causeway_hub_requests_total{served=\"watch\"} %llu\n"
				    "causeway_hub_requests_total{served=\"upstream\"} %llu\n",
				    (unsigned long long)s->lists, (unsigned long long)s->gets,
				    (unsigned long long)s->watches, (unsigned long long)s->passed);
		metric(b, "causeway_hub_watch_events_total", "Watch events sent to agents",
		       s->events);
		metric(b, "causeway_hub_watch_encodes_total",
		       "Watch events encoded: once per event, type and pool however many get it",
		       s->encodes);
		metric(b, "causeway_hub_fanouts_total",
		       "Changes read from the store once for every watcher caught up", s->fanouts);
		metric(b, "causeway_hub_watches_expired_total", "Agents' watches answered 410 Gone",
		       s->expired);
		metric(b, "causeway_hub_topology_filtered_total",
		       "EndpointSlices sent to agents with other pools' endpoints left out",
		       s->filtered);
		metric(
		    b, "causeway_hub_topology_runs_total",
		    "EndpointSlices put through the topology filter (a watch event once per pool)",
		    s->topo_runs);
		family(b, "causeway_hub_watchers", "Agents' watches open now", "gauge");
		evbuffer_add_printf(b, "causeway_hub_watchers %llu\n",
				    (unsigned long long)s->watchers);
	}
	for (size_t k = 0; p->n_refl && k < sizeof(m) / sizeof(m[0]); k++) {
		family(b, m[k].name, m[k].help, k ? "counter" : "gauge");
		for (unsigned i = 0; i < p->n_refl; i++)
			evbuffer_add_printf(
			    b, "%s{resource=\"%s\"} %llu\n", m[k].name,
			    cw_reflector_resource(p->refl[i]),
			    (unsigned long long)*(
				const uint64_t *)((const char *)cw_reflector_stats(p->refl[i]) +
						  m[k].off));
	}
}

static void render_ingress(struct evbuffer *b, const struct cw_plane_stats *s)
{
	static const char name[] = "causeway_ingress_answers_total";

	metric(b, "causeway_sessions_replaced_total", "Sessions replaced by newer ones",
	       s->replaced);
	metric(b, "causeway_ingress_clients_total", "Ingress connections accepted",
	       s->ingress_clients);
	family(b, "causeway_ingress_clients", "Ingress connections now", "gauge");
	evbuffer_add_printf(b, "causeway_ingress_clients %llu\n",
			    (unsigned long long)s->ingress_active);
	family(b, name, "Ingress answers by status (200: relayed)", "counter");
	evbuffer_add_printf(b, "%s{code=\"200\"} %llu\n", name, (unsigned long long)s->dials_ok);
	for (unsigned i = 0; i < CW_INGRESS_ERR_CODES; i++)
		if (s->ingress_errors[i])
			evbuffer_add_printf(b, "%s{code=\"%u\"} %llu\n", name, 400 + i,
					    (unsigned long long)s->ingress_errors[i]);
	metric(b, "causeway_ingress_bytes_up_total", "Bytes relayed client to node",
	       s->dial_bytes_up);
	metric(b, "causeway_ingress_bytes_down_total", "Bytes relayed node to client",
	       s->dial_bytes_down);
}

static void render_redirects(struct evbuffer *b, const struct cw_tstats_req *r, unsigned nw)
{
	static const char name[] = "causeway_redirects_total";

	family(b, name, "Datagrams that arrived on a worker not owning their session", "counter");
	for (unsigned w = 0; w < nw; w++)
		evbuffer_add_printf(b,
				    "%s{worker=\"%u\",dir=\"out\"} %llu\n"
				    "%s{worker=\"%u\",dir=\"in\"} %llu\n",
				    name, w, (unsigned long long)r->redir[w].out, name, w,
				    (unsigned long long)r->redir[w].in);
	family(b, "causeway_redirect_drops_total", "Redirects dropped: the ring was full",
	       "counter");
	for (unsigned w = 0; w < nw; w++)
		evbuffer_add_printf(b, "causeway_redirect_drops_total{worker=\"%u\"} %llu\n", w,
				    (unsigned long long)r->redir[w].full);
}

static void render_metrics(struct pending *pd, struct evbuffer *b, unsigned nw)
{
	const struct cw_plane *p = pd->a->p;
	struct cw_gw_stats g;

	gw_sum(&pd->st, nw, &g);
	render_dataplane(b, p);
	render_tunnel(b, &g);
	render_redirects(b, &pd->st, nw);
	render_ingress(b, &p->st);
	render_api(b, p->api);
	render_upstream(b, p->upstream);
	render_hub(b, p);
}

static void pending_finish(struct pending *pd)
{
	unsigned nw = pd->a->p->tsvc ? cw_tunnel_svc_workers(pd->a->p->tsvc) : 0;
	struct evbuffer *b = evbuffer_new();
	uint64_t now = cw_mono_ns();
	const char *type = "text/plain; charset=utf-8";

	if (b) {
		if (pd->fmt == FMT_JSON) {
			render_json(pd, b, nw, now);
			type = "application/json";
		} else if (pd->fmt == FMT_TEXT) {
			render_text(pd, b, nw, now);
		} else {
			render_metrics(pd, b, nw);
			type = "text/plain; version=0.0.4";
		}
		evhttp_add_header(evhttp_request_get_output_headers(pd->req), "Content-Type", type);
		evhttp_send_reply(pd->req, HTTP_OK, "OK", b);
		evbuffer_free(b);
	} else {
		evhttp_send_error(pd->req, HTTP_INTERNAL, NULL);
	}
	for (unsigned w = 0; w < CW_MAX_WORKERS; w++)
		free(pd->st.sess[w]);
	free(pd);
}

void cw_admin_stats_part(struct cw_admin *a, struct cw_tstats_req *req)
{
	struct pending *pd = req->user;

	(void)a;
	if (--req->pending == 0)
		pending_finish(pd);
}

static void on_stats(struct evhttp_request *req, void *arg, enum fmt fmt)
{
	struct cw_admin *a = arg;
	struct pending *pd;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_send_error(req, 405, NULL);
		return;
	}
	pd = calloc(1, sizeof(*pd));
	if (!pd) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	pd->a = a;
	pd->req = req;
	pd->fmt = fmt;
	pd->st.user = pd;
	if (!a->p->tsvc) {
		pending_finish(pd);
		return;
	}
	if (cw_tunnel_svc_stats(a->p->tsvc, &pd->st) < 0) {
		free(pd);
		evhttp_send_error(req, HTTP_SERVUNAVAIL, "workers busy");
	}
}

static void on_json(struct evhttp_request *req, void *arg)
{
	on_stats(req, arg, FMT_JSON);
}

static void on_text(struct evhttp_request *req, void *arg)
{
	on_stats(req, arg, FMT_TEXT);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	on_stats(req, arg, FMT_METRICS);
}

static void on_healthz(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	(void)arg;
	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, "ok\n");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

int cw_admin_new(struct cw_plane *p, struct cw_admin **out)
{
	struct cw_admin *a = calloc(1, sizeof(*a));
	char ip[16];

	if (!a)
		return -ENOMEM;
	a->p = p;
	a->http = evhttp_new(p->base);
	if (!a->http)
		goto fail;
	cw_ini_ip_str(p->conf->admin.listen.addr, ip);
	if (evhttp_bind_socket(a->http, ip, p->conf->admin.listen.port) < 0) {
		cw_err("admin: cannot listen on %s:%u", ip, p->conf->admin.listen.port);
		goto fail;
	}
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET);
	evhttp_set_cb(a->http, "/healthz", on_healthz, a);
	evhttp_set_cb(a->http, "/status", on_json, a);
	evhttp_set_cb(a->http, "/status.txt", on_text, a);
	evhttp_set_cb(a->http, "/metrics", on_metrics, a);
	cw_info("admin API on %s:%u", ip, p->conf->admin.listen.port);
	*out = a;
	return 0;
fail:
	if (a->http)
		evhttp_free(a->http);
	free(a);
	return -EADDRINUSE;
}

void cw_admin_free(struct cw_admin *a)
{
	if (!a)
		return;
	evhttp_free(a->http);
	free(a);
}
