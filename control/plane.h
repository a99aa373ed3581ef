/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control thread of causewayd (DESIGN.md §3): one libevent loop on the
 * main lcore that runs the node directory's writer side, the cloud ingress
 * and the admin API, and takes the tunnel workers' events. It talks to the
 * workers only through the tunnel service's rings (dataplane/tunnel_svc.h).
 */
#ifndef CW_PLANE_H
#define CW_PLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/chan.h"
#include "control/config.h"
#include "control/nodedir.h"

struct event;
struct event_base;
struct cw_tunnel_svc;
struct cw_tev;
struct cw_ingress;
struct cw_admin;
struct cw_apiserve;
struct cw_upstream;
struct cw_curlev;
struct cw_store;
struct cw_reflector;
struct cw_hubserve;
struct cw_counters;

#define CW_INGRESS_ERR_CODES 200

/* Counters of the control thread (admin /metrics). */
struct cw_plane_stats {
	uint64_t sessions_up, sessions_down, replaced, addr_changes;
	uint64_t ingress_clients, ingress_active;
	uint64_t ingress_errors[CW_INGRESS_ERR_CODES]; /* answers 400..599, by status */
	uint64_t dials_ok, dial_bytes_up, dial_bytes_down;
};

struct cw_plane {
	const struct cw_config *conf;
	struct event_base *base;
	struct cw_tunnel_svc *tsvc; /* NULL: no tunnel */
	struct cw_nodedir *nodes;
	struct cw_ingress *ingress;
	struct cw_apiserve *api;      /* agents' API requests; NULL without the tunnel */
	struct cw_curlev *curl;	      /* HTTP clients' transfers on the loop */
	struct cw_upstream *upstream; /* NULL without [upstream] server */
	struct cw_store *store;	      /* the cloud hub's; NULL without [hub] store */
	struct cw_reflector *refl[CW_HUB_RESOURCES_MAX];
	unsigned n_refl;
	struct cw_hubserve *hub; /* serves the hub route from the store */
	struct cw_admin *admin;
	struct event *ev_tunnel, *ev_tick;
	void (*tick)(void *ctx); /* every 50 ms: stats printing, reload, quit */
	void *tick_ctx;
	uint64_t started_ns, next_rotate_ns;
	const struct cw_counters *ctr; /* the workers' dataplane counters */
	unsigned n_ctr;
	struct cw_plane_stats st;
};

/*
 * Set @p up on the calling thread (registered with RCU here): the event
 * loop, the node directory, the ingress and admin listeners from @conf.
 * @tsvc may be NULL. Returns 0 or a negative errno (logged).
 */
int cw_plane_init(struct cw_plane *p, const struct cw_config *conf, struct cw_tunnel_svc *tsvc,
		  void (*tick)(void *ctx), void *tick_ctx);

/* Run until cw_plane_stop(). */
void cw_plane_run(struct cw_plane *p);

/* From a tick: make cw_plane_run() return. */
void cw_plane_stop(struct cw_plane *p);

/* Close listeners and clients, free everything (the workers have stopped). */
void cw_plane_fini(struct cw_plane *p);

#endif /* CW_PLANE_H */
