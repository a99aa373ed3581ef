/* SPDX-License-Identifier: Apache-2.0 */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "log.h"

struct cw_admin {
	struct evhttp *http;
	const struct cw_uplink *u;
	const char *node_name;
	const struct cw_edgehub *hub;
	const struct cw_writereplay *wq;
};

/* JSON string body: node and host names are DNS names or IP literals, but
 * escape anyway rather than trust that. */
static void json_str(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			evbuffer_add_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			evbuffer_add_printf(b, "\\u%04x", ch);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void status_json(const struct cw_admin *a, struct evbuffer *b)
{
	struct cw_uplink_status st;

	cw_uplink_status(a->u, &st);
	evbuffer_add_printf(b, "{\"node\":");
	json_str(b, a->node_name);
	evbuffer_add_printf(b, ",\"state\":\"%s\",\"up\":%s,\"gateway\":", st.state,
			    st.up ? "true" : "false");
	json_str(b, st.gateway);
	evbuffer_add_printf(b,
			    ",\"session_id\":%" PRIu64 ",\"up_for_ms\":%" PRIu64
			    ",\"rtt_us\":%" PRIu64 ",\"heartbeats\":%" PRIu64
			    ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
			    ",\"datagrams_in\":%" PRIu64 ",\"datagrams_out\":%" PRIu64,
			    st.session_id, st.up_for_ms, st.rtt_us, st.heartbeats, st.bytes_in,
			    st.bytes_out, st.dgrams_in, st.dgrams_out);
	evbuffer_add_printf(b,
			    ",\"dials\":{\"active\":%" PRIu64 ",\"total\":%" PRIu64
			    ",\"refused\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"aborted\":%" PRIu64
			    ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 "}",
			    st.dials_active, st.dials_total, st.dials_refused, st.dials_failed,
			    st.dials_aborted, st.dial_bytes_in, st.dial_bytes_out);
	evbuffer_add_printf(b,
			    ",\"attempts\":%" PRIu64 ",\"sessions\":%" PRIu64
			    ",\"reconnects\":%" PRIu64 ",\"stateless_resets\":%" PRIu64
			    ",\"next_attempt_ms\":%" PRIu64 "}\n",
			    st.attempts, st.sessions, st.reconnects, st.resets, st.next_attempt_ms);
}

static void metric(struct evbuffer *b, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name,
			    type, name, v);
}

static void metrics_text(const struct cw_admin *a, struct evbuffer *b)
{
	struct cw_edgehub_stats h;
	struct cw_writereplay_stats w;

	cw_edgehub_stats(a->hub, &h);
	cw_writereplay_stats(a->wq, &w);
	metric(b, "causeway_agent_hub_requests_total", "counter",
	       "Requests taken from local clients.", h.requests);
	metric(b, "causeway_agent_hub_forwarded_total", "counter",
	       "Requests sent through the tunnel.", h.forwarded);
	metric(b, "causeway_agent_hub_unavailable_total", "counter",
	       "Requests answered 503: no session, or a write not queued.", h.unavailable);
	metric(b, "causeway_agent_hub_from_cache_total", "counter",
	       "Requests answered from the cache.", h.from_cache);
	metric(b, "causeway_agent_write_queue_queued_total", "counter",
	       "Writes taken into the offline queue.", w.queued);
	metric(b, "causeway_agent_write_queue_replayed_total", "counter",
	       "Queued writes applied upstream.", w.replayed);
	metric(b, "causeway_agent_write_queue_conflicts_resolved_total", "counter",
	       "Conflicts (409) of queued writes settled by the policy.", w.conflicts);
	metric(b, "causeway_agent_write_queue_dropped_total", "counter",
	       "Queued writes thrown away unapplied.", w.dropped);
	metric(b, "causeway_agent_write_queue_full_total", "counter",
	       "Writes refused because the queue was full.", w.full);
	metric(b, "causeway_agent_write_queue_depth", "gauge", "Writes queued now.", w.depth);
	metric(b, "causeway_agent_write_queue_bytes", "gauge", "Bytes queued now.", w.bytes);
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct cw_admin *a = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *b = evbuffer_new();
	struct cw_uplink_status st;

	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		evbuffer_add_printf(b, "method not allowed\n");
		reply(req, 405, "Method Not Allowed", "text/plain", b);
	} else if (path && strcmp(path, "/healthz") == 0) {
		cw_uplink_status(a->u, &st);
		evbuffer_add_printf(b, "%s\n", st.up ? "ok" : st.state);
		reply(req, st.up ? HTTP_OK : 503, st.up ? "OK" : "Service Unavailable",
		      "text/plain", b);
	} else if (path && strcmp(path, "/status") == 0) {
		status_json(a, b);
		reply(req, HTTP_OK, "OK", "application/json", b);
	} else if (path && strcmp(path, "/metrics") == 0) {
		metrics_text(a, b);
		reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4", b);
	} else {
		evbuffer_add_printf(b, "not found\n");
		reply(req, HTTP_NOTFOUND, "Not Found", "text/plain", b);
	}
	evbuffer_free(b);
}

int cw_admin_new(struct event_base *base, const struct cw_ini_listen *at, const struct cw_uplink *u,
		 const char *node_name, const struct cw_edgehub *hub,
		 const struct cw_writereplay *wq, struct cw_admin **out)
{
	struct cw_admin *a;
	char ip[INET_ADDRSTRLEN];
	struct in_addr in = {.s_addr = at->addr};

	*out = NULL;
	if (!at->port)
		return 0;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->u = u;
	a->node_name = node_name;
	a->hub = hub;
	a->wq = wq;
	a->http = evhttp_new(base);
	if (!a->http) {
		free(a);
		return -ENOMEM;
	}
	inet_ntop(AF_INET, &in, ip, sizeof(ip));
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(a->http, on_request, a);
	if (evhttp_bind_socket(a->http, ip, at->port) < 0) {
		int err = errno ? errno : EADDRINUSE;

		cw_aerr("admin: cannot listen on %s:%u: %s", ip, at->port, strerror(err));
		cw_admin_free(a);
		return -err;
	}
	cw_ainfo("admin endpoint on http://%s:%u/", ip, at->port);
	*out = a;
	return 0;
}

void cw_admin_free(struct cw_admin *a)
{
	if (!a)
		return;
	evhttp_free(a->http);
	free(a);
}
