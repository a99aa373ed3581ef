/* SPDX-License-Identifier: Apache-2.0 */
#include "apiserve.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "dataplane/log.h"
#include "dataplane/tunnel_svc.h"
#include "tunnel/msg.h"

#define API_RING (64u << 10) /* bytes of an answer in flight to the worker */

struct cw_apiserve {
	struct cw_tunnel_svc *tsvc;
	struct {
		cw_api_handler_fn fn;
		void *ctx;
	} h[CW_GW_N_ROUTES];
	struct cw_apiserve_stats st;
};

int cw_apiserve_new(struct cw_tunnel_svc *tsvc, struct cw_apiserve **out)
{
	struct cw_apiserve *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->tsvc = tsvc;
	*out = s;
	return 0;
}

void cw_apiserve_free(struct cw_apiserve *s)
{
	free(s);
}

void cw_apiserve_set_handler(struct cw_apiserve *s, enum cw_gw_route route, cw_api_handler_fn fn,
			     void *ctx)
{
	if ((unsigned)route < CW_GW_N_ROUTES) {
		s->h[route].fn = fn;
		s->h[route].ctx = ctx;
	}
}

const struct cw_apiserve_stats *cw_apiserve_stats(const struct cw_apiserve *s)
{
	return &s->st;
}

/* Tell the worker that "up" or the flags moved. */
static void kick(struct cw_api_call *call)
{
	if (cw_tunnel_svc_kick(call->srv->tsvc, call->chan) < 0)
		cw_warn("api: worker %u's ring is full: an answer waits", call->chan->worker);
}

int cw_api_call_write(struct cw_api_call *call, const cw_envelope *env)
{
	size_t len;
	uint8_t *buf;
	ptrdiff_t n;

	if (!call || !env)
		return -EINVAL;
	len = cw_msg_encoded_len(env);
	if (cw_bring_room(&call->chan->up) < len && cw_chan_want_room(call->chan) < len)
		return -EAGAIN;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	n = cw_msg_encode(env, call->req->peer_msg_max, buf, len);
	if (n >= 0)
		cw_bring_write(&call->chan->up, buf, (size_t)n);
	free(buf);
	if (n < 0)
		return (int)n;
	kick(call);
	return 0;
}

size_t cw_api_call_write_bytes(struct cw_api_call *call, const uint8_t *p, size_t len)
{
	size_t n = cw_bring_write(&call->chan->up, p, len);

	if (n < len && cw_chan_want_room(call->chan))
		n += cw_bring_write(&call->chan->up, p + n, len - n);
	if (n)
		kick(call);
	return n;
}

bool cw_api_call_cancelled(const struct cw_api_call *call)
{
	return atomic_load_explicit(&call->chan->reset_w, memory_order_acquire) ||
	       atomic_load_explicit(&call->chan->gone, memory_order_acquire);
}

void cw_api_call_end(struct cw_api_call *call, bool abort)
{
	struct cw_chan *c = call->chan;

	atomic_store_explicit(abort ? &c->abort_c : &c->up_fin, true, memory_order_release);
	kick(call);
	c->cuser = NULL;
	free(call);
	cw_chan_put(c); /* ours; the worker's goes when it is done */
}

void cw_api_call_refuse(struct cw_api_call *call, uint64_t code, const char *reason)
{
	Causeway__V1__Error er = CAUSEWAY__V1__ERROR__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;

	er.code = code;
	er.reason = (char *)reason;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_ERROR;
	env.error = &er;
	/* An Error is small: only a ring full of an answer has no room. */
	cw_api_call_end(call, cw_api_call_write(call, &env) < 0);
}

int cw_api_call_pass(struct cw_api_call *call, cw_api_handler_fn fn, void *ctx)
{
	call->fn = fn;
	call->fn_ctx = ctx;
	if (fn)
		return fn(ctx, call, false);
	call->srv->st.unavailable++;
	cw_api_call_refuse(call, CW_SE_UPSTREAM_UNAVAILABLE,
			   "no upstream is configured on this gateway");
	return 0;
}

static void start(struct cw_apiserve *s, struct cw_chan *c)
{
	const struct cw_gw_api_req *req = c->api;
	struct cw_api_call *call = calloc(1, sizeof(*call));
	int rc;

	if (call && cw_chan_api_ring(c, API_RING) < 0) {
		free(call);
		call = NULL;
	}
	if (!call) {
		cw_err("api: out of memory for a request of %s", req->node);
		atomic_store_explicit(&c->abort_c, true, memory_order_release);
		(void)cw_tunnel_svc_kick(s->tsvc, c);
		cw_chan_put(c);
		return;
	}
	*call = (struct cw_api_call){.srv = s,
				     .chan = c,
				     .req = req,
				     .fn = s->h[req->route].fn,
				     .fn_ctx = s->h[req->route].ctx};
	c->cuser = call;
	s->st.requests[req->route]++;
	s->st.body_bytes += req->body_len;
	if (!call->fn) {
		s->st.unavailable++;
		cw_api_call_refuse(call, CW_SE_UPSTREAM_UNAVAILABLE,
				   req->route == CW_GW_ROUTE_HUB
				       ? "the hub is not running on this gateway"
				       : "no upstream is configured on this gateway");
		return;
	}
	rc = call->fn(call->fn_ctx, call, false);
	if (rc < 0) {
		s->st.failed++;
		cw_api_call_refuse(call, CW_SE_INTERNAL_ERROR,
				   "the gateway failed to serve the request");
	}
}

void cw_apiserve_event(struct cw_apiserve *s, struct cw_chan *c)
{
	struct cw_api_call *call = c->cuser;

	if (!c->cstarted) {
		c->cstarted = true;
		start(s, c);
		return;
	}
	if (!call)
		return; /* answered; the worker finishes on its own */
	if (!call->cancel_seen && cw_api_call_cancelled(call)) {
		call->cancel_seen = true;
		s->st.cancelled++;
	}
	if (call->fn(call->fn_ctx, call, true) < 0) {
		s->st.failed++;
		cw_api_call_end(call, true);
	}
}
