/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Agents' API requests on the control thread (PROTOCOL.md §13.4). A
 * worker hands a request its route table sends to the hub or the upstream
 * over as an API channel (control/chan.h, cw_chan_new_api()): the request
 * and its decoded body travel by pointer, not copied, and the answer goes
 * back as encoded messages in the channel's "up" ring, which the worker
 * writes to the agent's stream as they come, with backpressure.
 *
 * A handler serves each route; the hub and the upstream client register
 * here (cw_apiserve_set_handler()). A route with no handler is answered
 * Error{UPSTREAM_UNAVAILABLE}, so that the agent serves the request from
 * its cache.
 */
#ifndef CW_APISERVE_H
#define CW_APISERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/chan.h"
#include "tunnel/gateway.h"

struct cw_tunnel_svc;
struct cw_apiserve;

struct cw_api_call;

/*
 * Serve @call, or start to: answer with cw_api_call_write() and end with
 * cw_api_call_end(). Called again (@more) when the channel moved: room in
 * "up", or the agent cancelled (cw_api_call_cancelled()). Returns 0; a
 * negative errno before anything was written answers Error{INTERNAL_ERROR}.
 */
typedef int (*cw_api_handler_fn)(void *ctx, struct cw_api_call *call, bool more);

/*
 * Hand @call on to handler @fn(@ctx) (a handler that serves only part of
 * its route): it is called now as for a new request, and from then on
 * for every change. NULL: answered Error{UPSTREAM_UNAVAILABLE}. Returns
 * what @fn returns.
 */
int cw_api_call_pass(struct cw_api_call *call, cw_api_handler_fn fn, void *ctx);

/* One request being served: what a handler gets and answers through. */
struct cw_api_call {
	struct cw_apiserve *srv;
	struct cw_chan *chan;
	const struct cw_gw_api_req *req; /* valid until cw_api_call_end() */
	void *user;			 /* the handler's */
	bool cancel_seen;
	cw_api_handler_fn fn; /* who serves it: the route's handler, or whom it passed it to */
	void *fn_ctx;
};

/* Counters (admin /metrics). */
struct cw_apiserve_stats {
	uint64_t requests[CW_GW_N_ROUTES]; /* by route */
	uint64_t body_bytes;		   /* of request bodies, as decoded */
	uint64_t unavailable;		   /* answered UPSTREAM_UNAVAILABLE: no handler */
	uint64_t failed;		   /* handler errors, answered INTERNAL_ERROR */
	uint64_t cancelled;		   /* requests the agent cancelled */
};

/* Returns 0 and *@out, or -ENOMEM. */
int cw_apiserve_new(struct cw_tunnel_svc *tsvc, struct cw_apiserve **out);

/* Free @s (NULL: no-op). Its handlers must have ended their calls. */
void cw_apiserve_free(struct cw_apiserve *s);

/* Serve @route's requests with @fn (NULL: none). */
void cw_apiserve_set_handler(struct cw_apiserve *s, enum cw_gw_route route, cw_api_handler_fn fn,
			     void *ctx);

/* An API channel moved (a CW_TEV_CHAN event of one with c->api). */
void cw_apiserve_event(struct cw_apiserve *s, struct cw_chan *c);

const struct cw_apiserve_stats *cw_apiserve_stats(const struct cw_apiserve *s);

/*
 * Queue encoded message @env for the agent. Returns 0, -EAGAIN when "up"
 * has no room for it now (call again when the handler is called with
 * @more), the errors of cw_msg_encode() (-EMSGSIZE: larger than the agent
 * takes), -ENOMEM, -EINVAL.
 */
int cw_api_call_write(struct cw_api_call *call, const cw_envelope *env);

/*
 * Queue up to @len bytes of messages the caller encoded itself (a byte
 * stream: a message may span calls). Returns how many were taken; 0 when
 * "up" has no room now (call again when the handler is called with @more).
 */
size_t cw_api_call_write_bytes(struct cw_api_call *call, const uint8_t *p, size_t len);

/* Whether the agent cancelled the request (STOP_SENDING / RESET_STREAM). */
bool cw_api_call_cancelled(const struct cw_api_call *call);

/* Error{@code, @reason} then the end: a request not served (the stream is
 * reset when even that does not fit). @call is freed. */
void cw_api_call_refuse(struct cw_api_call *call, uint64_t code, const char *reason);

/* The answer is complete (FIN after what was written), or abandoned when
 * @abort (the stream is reset). @call is freed. */
void cw_api_call_end(struct cw_api_call *call, bool abort);

#endif /* CW_APISERVE_H */
