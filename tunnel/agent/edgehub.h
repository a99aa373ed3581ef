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
 * With a cache (edgecache.h), every whole 200 answer to a GET that is not
 * a watch is kept; without a session, or when the gateway answers that it
 * cannot serve (UPSTREAM_UNAVAILABLE, REFUSED), the kept answer to the
 * same request is served (header X-Causeway-Cache: hit), else 503. A
 * watch without a session gets an ERROR event (410 Expired) and its end,
 * so that the client lists again, from the cache, instead of hanging.
 */
#ifndef CW_AGENT_EDGEHUB_H
#define CW_AGENT_EDGEHUB_H

#include <stdint.h>

#include <event2/event.h>

#include "control/ini.h"
#include "edgecache.h"
#include "session.h"

struct cw_edgehub;

struct cw_edgehub_stats {
	uint64_t requests;    /* taken from local clients */
	uint64_t forwarded;   /* sent through the tunnel */
	uint64_t unavailable; /* answered 503: no session */
	uint64_t errors;      /* answered from the gateway's Error */
	uint64_t cancelled;   /* clients that left before the answer ended */
	uint64_t body_bytes;  /* answer bytes to local clients */
	uint64_t from_cache;  /* answered from the cache */
};

/* Listen on @listen (port 0: returns 0 and *@out NULL), with @cache (may
 * be NULL; the caller's, it must outlive @out). Returns 0, -EIO (the
 * address cannot be bound: logged), -ENOMEM. */
int cw_edgehub_new(struct event_base *base, const struct cw_ini_listen *listen,
		   struct cw_edgecache *cache, struct cw_edgehub **out);

/* End every request and free @h (NULL: no-op). */
void cw_edgehub_free(struct cw_edgehub *h);

/*
 * Session @as is the one to use from now on (NULL: none); @kick(@ctx)
 * tells its owner that it has something to send. Requests on the
 * previous session are answered as cut short.
 */
void cw_edgehub_attach(struct cw_edgehub *h, struct cw_as *as, void (*kick)(void *), void *ctx);

/* A CW_AS_EV_API event of the attached session. */
void cw_edgehub_on_event(struct cw_edgehub *h, const struct cw_as_event *ev);

void cw_edgehub_stats(const struct cw_edgehub *h, struct cw_edgehub_stats *out);

#endif
