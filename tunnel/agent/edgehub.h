/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The edge hub's front (DESIGN.md §5): the Kubernetes API that kubelet,
 * kube-proxy and anything else on the node use, plain HTTP on [hub]
 * listen (127.0.0.1:10261, the YurtHub port).
 *
 * While a session to the gateway is up, every request goes through it as
 * an API stream (PROTOCOL.md §13.4) and the answer comes back as it
 * arrives: ApiResponse parts as the body of one HTTP answer (chunked when
 * it comes in several parts), a watch as one JSON event per line
 * ({"type":...,"object":...}), the gateway's Error as a Kubernetes Status
 * (503 UPSTREAM_UNAVAILABLE or REFUSED, 504 TIMEOUT, 501 UNSUPPORTED, 502
 * otherwise). A session that ends ends the requests that used it; a
 * client that goes away cancels its stream.
 *
 * What it keeps while connected: a list or watch of a view (edgeview.h:
 * a collection with its selectors) goes to the store (edgestore.h), a
 * whole List answer as the view's state, and each event of a watch that
 * continues what the store has, so the view follows its watch. Every
 * other whole 200 answer to a GET that is not a watch (one object,
 * discovery, a page of a paged list) is kept by URI in the cache
 * (edgecache.h).
 *
 * Without a session, or when the gateway answers that it cannot serve
 * (UPSTREAM_UNAVAILABLE, REFUSED): a view's list is built from the store
 * (its real resourceVersion), anything else is the answer kept by URI
 * (both with header X-Causeway-Cache: hit), else 503. A watch of a view
 * the store has is served by edgewatch.h (the changes after its version,
 * then held open with bookmarks until its timeoutSeconds, or until
 * cw_edgehub_up()); a watch of a view the store does not have gets an
 * ERROR event (410 Expired) and its end, so that the client lists again
 * instead of hanging.
 *
 * With a write queue (cw_edgehub_set_queue(), writereplay.h), the writes
 * writepolicy.h names (pod and node status, leases, events) made without
 * a session, answered by the gateway's Error UPSTREAM_UNAVAILABLE or
 * REFUSED, or made while earlier ones still wait (so that none overtakes
 * another) are queued on disk and answered at once with header
 * X-Causeway-Queued: SEQ: a POST or PUT of JSON with its own object (201,
 * 200), anything else with 202 and a Status {"status":"Success",
 * "reason":"Queued"}; a full queue is 503. Other writes get 503 as before.
 * The queue is replayed in order through each session that comes up.
 */
#ifndef CW_AGENT_EDGEHUB_H
#define CW_AGENT_EDGEHUB_H

#include <stdint.h>

#include <event2/event.h>

#include "control/ini.h"
#include "edgecache.h"
#include "edgestore.h"
#include "session.h"
#include "writereplay.h"

struct cw_edgehub;

struct cw_edgehub_stats {
	uint64_t requests;    /* taken from local clients */
	uint64_t forwarded;   /* sent through the tunnel */
	uint64_t unavailable; /* answered 503: no session, or the write queue full */
	uint64_t errors;      /* answered from the gateway's Error */
	uint64_t cancelled;   /* clients that left before the answer ended */
	uint64_t body_bytes;  /* answer bytes to local clients */
	uint64_t from_cache;  /* answered from the cache */
};

/* Listen on @listen (port 0: returns 0 and *@out NULL), with @cache and
 * @store (either may be NULL, the store is used only with the cache; the
 * caller's, they must outlive @out). Returns 0, -EIO (the address cannot
 * be bound: logged), -ENOMEM. */
int cw_edgehub_new(struct event_base *base, const struct cw_ini_listen *listen,
		   struct cw_edgecache *cache, struct cw_edgestore *store, struct cw_edgehub **out);

/* End every request and free @h (NULL: no-op). */
void cw_edgehub_free(struct cw_edgehub *h);

/*
 * Session @as is the one to use from now on (NULL: none); @kick(@ctx)
 * tells its owner that it has something to send. Requests on the
 * previous session are answered as cut short.
 */
void cw_edgehub_attach(struct cw_edgehub *h, struct cw_as *as, void (*kick)(void *), void *ctx);

/*
 * The attached session is established: the watches served from the
 * store end, so that their clients watch again through it. (A session is
 * attached at each attempt, before it is known to work.)
 */
void cw_edgehub_up(struct cw_edgehub *h);

/* A CW_AS_EV_API event of the attached session. */
void cw_edgehub_on_event(struct cw_edgehub *h, const struct cw_as_event *ev);

/* Queue writes in @wq (the caller's: it must outlive @h; NULL: none) and
 * replay them through the attached sessions. */
void cw_edgehub_set_queue(struct cw_edgehub *h, struct cw_writereplay *wq);

void cw_edgehub_stats(const struct cw_edgehub *h, struct cw_edgehub_stats *out);

#endif
