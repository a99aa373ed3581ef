/* SPDX-License-Identifier: Apache-2.0 */
#include "control/plane.h"

#include <errno.h>
#include <string.h>

#include <event2/event.h>
#include <urcu-qsbr.h>

#include "control/admin.h"
#include "control/apiserve.h"
#include "control/curlev.h"
#include "control/hubserve.h"
#include "control/ingress.h"
#include "control/reflector.h"
#include "control/upstream.h"
#include "dataplane/log.h"
#include "dataplane/tunnel_svc.h"

#define CW_PLANE_TICK_US    50000
#define CW_TICKET_ROTATE_NS (UINT64_C(3600) * 1000000000u) /* §7.1: at least hourly */
#define CW_SESSION_REPLACED 0x1001			   /* PROTOCOL.md §12.3 */

/* A session said Hello: it is now the node's (§11.2 replaces an older one). */
static void session_up(struct cw_plane *p, const struct cw_tev *ev)
{
	struct cw_node_info n = {0}, old;
	char a[64];
	int rc;

	snprintf(n.name, sizeof(n.name), "%s", ev->node);
	snprintf(n.pool, sizeof(n.pool), "%s", ev->pool);
	snprintf(n.agent_version, sizeof(n.agent_version), "%s", ev->agent_version);
	n.worker = ev->worker;
	n.slot = ev->slot;
	n.since = cw_mono_ns();
	memcpy(n.addr, ev->addr.addr, sizeof(n.addr));
	n.family = ev->addr.family;
	n.port = ev->addr.port;
	n.session_id = ev->session_id;
	n.n_allowed = (uint8_t)ev->n_allowed;
	memcpy(n.allowed_ports, ev->allowed_ports, sizeof(uint16_t) * ev->n_allowed);
	n.resumed = ev->resumed;
	rcu_read_lock();
	rc = cw_nodedir_put(p->nodes, &n, NULL, &old);
	rcu_read_unlock();
	if (rc < 0) {
		cw_err("node %s: cannot register: %s", n.name, strerror(-rc));
		return;
	}
	p->st.sessions_up++;
	cw_info("node %s connected from %s (session %#llx, worker %u, %s)", n.name,
		cw_gw_addr_str(&ev->addr, a, sizeof(a)), (unsigned long long)n.session_id, n.worker,
		n.resumed ? "resumed" : "full handshake");
	if (rc == 1 && old.session_id != n.session_id) {
		p->st.replaced++;
		cw_warn("node %s: session %#llx replaced by %#llx", n.name,
			(unsigned long long)old.session_id, (unsigned long long)n.session_id);
		cw_tunnel_svc_close(p->tsvc, old.worker, old.session_id, CW_SESSION_REPLACED,
				    "replaced by a newer session");
	}
}

static void session_down(struct cw_plane *p, const struct cw_tev *ev)
{
	struct cw_node_info n;

	p->st.sessions_down++;
	rcu_read_lock();
	if (!cw_nodedir_get(p->nodes, ev->node, &n) && n.session_id == ev->session_id)
		cw_nodedir_del(p->nodes, ev->node, n.gen);
	rcu_read_unlock();
	cw_info("node %s disconnected (session %#llx, end %d, code %lld)", ev->node,
		(unsigned long long)ev->session_id, (int)ev->end, (long long)ev->code);
}

static void session_addr(struct cw_plane *p, const struct cw_tev *ev)
{
	struct cw_node_info n;
	char a[64];

	p->st.addr_changes++;
	rcu_read_lock();
	if (!cw_nodedir_get(p->nodes, ev->node, &n) && n.session_id == ev->session_id) {
		memcpy(n.addr, ev->addr.addr, sizeof(n.addr));
		n.family = ev->addr.family;
		n.port = ev->addr.port;
		cw_nodedir_put(p->nodes, &n, NULL, NULL);
	}
	rcu_read_unlock();
	cw_info("node %s moved to %s", ev->node, cw_gw_addr_str(&ev->addr, a, sizeof(a)));
}

static void on_tev(void *ctx, const struct cw_tev *ev)
{
	struct cw_plane *p = ctx;

	switch (ev->type) {
	case CW_TEV_SESSION_UP:
		session_up(p, ev);
		break;
	case CW_TEV_SESSION_DOWN:
		session_down(p, ev);
		break;
	case CW_TEV_SESSION_ADDR:
		session_addr(p, ev);
		break;
	case CW_TEV_CHAN:
		if (ev->chan->api)
			cw_apiserve_event(p->api, ev->chan);
		else
			cw_ingress_chan_event(p->ingress, ev->chan);
		break;
	case CW_TEV_STATS:
		cw_admin_stats_part(p->admin, ev->req);
		break;
	}
}

static void on_tunnel(evutil_socket_t fd, short what, void *arg)
{
	struct cw_plane *p = arg;

	(void)fd;
	(void)what;
	cw_tunnel_svc_events(p->tsvc, on_tev, p);
}

/* QSBR: the control thread is a reader too; its quiescent states let
 * call_rcu free replaced directory entries. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cw_plane *p = arg;

	(void)fd;
	(void)what;
	rcu_quiescent_state();
	if (p->tsvc)
		cw_tunnel_svc_events(p->tsvc, on_tev, p);
	if (p->tsvc && cw_mono_ns() >= p->next_rotate_ns) {
		p->next_rotate_ns = cw_mono_ns() + CW_TICKET_ROTATE_NS;
		if (cw_tunnel_svc_rotate_tickets(p->tsvc) < 0)
			cw_warn("tunnel: session ticket key rotation failed");
	}
	p->tick(p->tick_ctx);
}

/* The hub route, served from the store; the rest goes upstream. */
static int hub_serve(struct cw_plane *p)
{
	const struct cw_hub_conf *h = &p->conf->hub;
	char names[CW_HUB_RESOURCES_MAX][CW_HUB_PATH_LEN];
	const char *ptr[CW_HUB_RESOURCES_MAX];
	int rc;

	for (uint32_t i = 0; i < h->n_resources; i++) {
		if (cw_reflector_name(h->resources[i], names[i], sizeof(names[i])) < 0) {
			cw_err("hub: %s is not an API path", h->resources[i]);
			return -EINVAL;
		}
		ptr[i] = names[i];
	}
	rc = cw_hubserve_new(p->base, p->store, p->nodes, ptr, h->n_resources, cw_upstream_serve,
			     p->upstream, &p->hub);
	if (rc < 0)
		return rc;
	cw_apiserve_set_handler(p->api, CW_GW_ROUTE_HUB, cw_hubserve_serve, p->hub);
	return 0;
}

/* The cloud hub: its store and a reflector per resource. */
static int hub_start(struct cw_plane *p)
{
	const struct cw_hub_conf *h = &p->conf->hub;
	int rc;

	if (!p->upstream) {
		cw_err("hub: [hub] store needs [upstream] server");
		return -EINVAL;
	}
	rc = cw_store_open(h->store, (size_t)h->map_size_mb << 20, h->history, &p->store);
	if (rc < 0) {
		cw_err("hub: store %s: %s", h->store, strerror(-rc));
		return rc;
	}
	rc = hub_serve(p);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < h->n_resources; i++) {
		rc = cw_reflector_new(p->base, p->curl, p->upstream, p->store, h->resources[i],
				      cw_hubserve_changed, p->hub, &p->refl[p->n_refl]);
		if (rc < 0) {
			cw_err("hub: %s: %s", h->resources[i], strerror(-rc));
			return rc;
		}
		p->n_refl++;
	}
	return 0;
}

int cw_plane_init(struct cw_plane *p, const struct cw_config *conf, struct cw_tunnel_svc *tsvc,
		  void (*tick)(void *ctx), void *tick_ctx)
{
	struct timeval tv = {.tv_usec = CW_PLANE_TICK_US};
	int rc;

	memset(p, 0, sizeof(*p));
	p->conf = conf;
	p->tsvc = tsvc;
	p->tick = tick;
	p->tick_ctx = tick_ctx;
	p->started_ns = cw_mono_ns();
	p->next_rotate_ns = p->started_ns + CW_TICKET_ROTATE_NS;
	rcu_register_thread();
	p->base = event_base_new();
	p->nodes = cw_nodedir_new();
	if (!p->base || !p->nodes)
		return -ENOMEM;
	p->ev_tick = event_new(p->base, -1, EV_PERSIST, on_tick, p);
	if (!p->ev_tick || event_add(p->ev_tick, &tv) < 0)
		return -ENOMEM;
	if (tsvc) {
		p->ev_tunnel = event_new(p->base, cw_tunnel_svc_event_fd(tsvc),
					 EV_READ | EV_PERSIST, on_tunnel, p);
		if (!p->ev_tunnel || event_add(p->ev_tunnel, NULL) < 0)
			return -ENOMEM;
		if ((rc = cw_apiserve_new(tsvc, &p->api)) < 0)
			return rc;
		if (conf->upstream.server[0]) {
			rc = cw_curlev_new(p->base, &p->curl);
			if (!rc)
				rc = cw_upstream_new(p->curl, &conf->upstream, &p->upstream);
			if (rc < 0)
				return rc;
			cw_apiserve_set_handler(p->api, CW_GW_ROUTE_UPSTREAM, cw_upstream_serve,
						p->upstream);
		}
		if (conf->hub.store[0] && (rc = hub_start(p)) < 0)
			return rc;
		if (conf->ingress.listen.port && (rc = cw_ingress_new(p, &p->ingress)) < 0)
			return rc;
	}
	if (conf->admin.listen.port && (rc = cw_admin_new(p, &p->admin)) < 0)
		return rc;
	return 0;
}

void cw_plane_run(struct cw_plane *p)
{
	event_base_dispatch(p->base);
}

void cw_plane_stop(struct cw_plane *p)
{
	event_base_loopbreak(p->base);
}

void cw_plane_fini(struct cw_plane *p)
{
	cw_ingress_free(p->ingress);
	for (unsigned i = 0; i < p->n_refl; i++)
		cw_reflector_free(p->refl[i]);
	cw_hubserve_free(p->hub);
	cw_store_close(p->store);
	cw_upstream_free(p->upstream);
	cw_curlev_free(p->curl);
	cw_apiserve_free(p->api);
	cw_admin_free(p->admin);
	if (p->ev_tunnel)
		event_free(p->ev_tunnel);
	if (p->ev_tick)
		event_free(p->ev_tick);
	if (p->base)
		event_base_free(p->base);
	if (p->nodes) {
		rcu_thread_offline();
		cw_nodedir_free(p->nodes);
		rcu_thread_online();
	}
	rcu_unregister_thread();
}
