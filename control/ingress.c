/* SPDX-License-Identifier: Apache-2.0 */
#include "control/ingress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <urcu-qsbr.h>

#include "control/http_head.h"
#include "control/plane.h"
#include "dataplane/log.h"
#include "dataplane/tunnel_svc.h"

#define CW_INGRESS_OUT_MAX  (256u << 10) /* client output bytes before we stop reading "down" */
#define CW_DIAL_NOT_ALLOWED 1		 /* DialError of the proto */

enum ic_state { IC_HEAD = 0, IC_DIALING, IC_RELAY, IC_DONE };

struct iclient {
	struct cw_ingress *in;
	struct iclient *prev, *next;
	struct bufferevent *bev;
	struct event *timer;
	struct cw_chan *chan;
	enum ic_state state;
	bool is_connect, down_closed, client_eof;
	bool complete; /* both directions ended normally: no reset on close */
	char peer[64];
	struct cw_http_head head;
	struct cw_http_field fields[CW_HTTP_FIELDS_MAX_DEFAULT];
	char buf[CW_HTTP_HEAD_MAX_DEFAULT];
};

struct cw_ingress {
	struct cw_plane *p;
	struct evconnlistener *listener;
	struct iclient *clients;
	uint64_t active;
};

static void client_free(struct iclient *c)
{
	if (c->chan) {
		if (!c->complete && !atomic_load(&c->chan->gone)) {
			atomic_store(&c->chan->abort_c, true);
			cw_tunnel_svc_kick(c->in->p->tsvc, c->chan);
		}
		c->chan->cuser = NULL;
		cw_chan_put(c->chan);
	}
	if (c->timer)
		event_free(c->timer);
	bufferevent_free(c->bev);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->in->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->in->active--;
	c->in->p->st.ingress_active = c->in->active;
	free(c);
}

/* Close once what is queued for the client has gone out. */
static void on_drained(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_free(arg);
}

static void finish_after_flush(struct iclient *c)
{
	c->state = IC_DONE;
	bufferevent_disable(c->bev, EV_READ);
	if (!evbuffer_get_length(bufferevent_get_output(c->bev))) {
		client_free(c);
		return;
	}
	bufferevent_setcb(c->bev, NULL, on_drained, NULL, c);
}

/* A one-line error answer, then close. */
static void answer_error(struct iclient *c, int status, const char *reason)
{
	struct cw_plane_stats *st = &c->in->p->st;
	char out[CW_HTTP_REASON_MAX + 256];
	int n = cw_http_render_error(out, sizeof(out), status, reason);

	if (status >= 400 && status < 400 + CW_INGRESS_ERR_CODES)
		st->ingress_errors[status - 400]++;
	cw_debug("ingress %s: %d %s", c->peer, status, reason ? reason : "");
	if (n > 0)
		bufferevent_write(c->bev, out, (size_t)n);
	finish_after_flush(c);
}

static bool port_allowed(const struct cw_node_info *n, uint16_t port)
{
	if (!n->n_allowed)
		return true; /* the agent stated no list: its own check decides */
	for (unsigned i = 0; i < n->n_allowed; i++)
		if (n->allowed_ports[i] == port)
			return true;
	return false;
}

static bool hop_by_hop(const struct cw_http_field *f)
{
	static const char *const names[] = {"connection",
					    "proxy-connection",
					    "keep-alive",
					    "proxy-authorization",
					    "proxy-authenticate",
					    "te",
					    "trailer",
					    "upgrade"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f->name_len == strlen(names[i]) && !strncasecmp(f->name, names[i], f->name_len))
			return true;
	return false;
}

/* The request in origin form for the node, into "up" (a head is far
 * smaller than the ring, which is empty now). */
static int write_origin_request(struct iclient *c)
{
	const struct cw_http_request *r = &c->head.req;
	struct evbuffer *b = evbuffer_new();
	int rc = -ENOMEM;

	if (!b)
		return rc;
	evbuffer_add_printf(b, "%.*s %s%.*s HTTP/1.1\r\n", (int)r->method_len, r->method,
			    (!r->origin_len || r->origin[0] != '/') ? "/" : "", (int)r->origin_len,
			    r->origin);
	for (size_t i = 0; i < r->nfields; i++) {
		const struct cw_http_field *f = &r->fields[i];

		if (!hop_by_hop(f))
			evbuffer_add_printf(b, "%.*s: %.*s\r\n", (int)f->name_len, f->name,
					    (int)f->value_len, f->value);
	}
	evbuffer_add_printf(b, "Connection: close\r\n\r\n");
	if (evbuffer_get_length(b) <= cw_bring_room(&c->chan->up)) {
		size_t len = evbuffer_get_length(b);

		cw_bring_write(&c->chan->up, evbuffer_pullup(b, -1), len);
		c->in->p->st.dial_bytes_up += len;
		rc = 0;
	}
	evbuffer_free(b);
	return rc;
}

/* One timer per client: for its request head, then for the dial. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct iclient *c = arg;

	(void)fd;
	(void)what;
	if (c->state == IC_HEAD)
		answer_error(c, 408, "no complete request head in time");
	else if (c->state == IC_DIALING)
		answer_error(c, 502, "the node did not answer the dial in time");
}

static void start_dial(struct iclient *c, const struct cw_node_info *n)
{
	const struct cw_http_request *r = &c->head.req;
	struct cw_plane *p = c->in->p;
	struct timeval tv;
	struct cw_chan *ch = cw_chan_new();

	if (!ch) {
		answer_error(c, 503, "gateway out of memory");
		return;
	}
	ch->session_id = n->session_id;
	ch->worker = n->worker;
	ch->port = r->port;
	ch->timeout_ms = p->conf->ingress.dial_timeout_ms;
	snprintf(ch->origin, sizeof(ch->origin), "%s", c->peer);
	ch->cuser = c;
	c->chan = ch;
	if (!r->is_connect && write_origin_request(c) < 0) {
		answer_error(c, 503, "gateway out of memory");
		return;
	}
	if (cw_tunnel_svc_kick(p->tsvc, ch) < 0) {
		/* The worker never saw it: its reference is ours to drop. */
		atomic_store(&ch->gone, true);
		ch->wput = true;
		cw_chan_put(ch);
		answer_error(c, 503, "gateway busy");
		return;
	}
	c->state = IC_DIALING;
	bufferevent_disable(c->bev, EV_READ);
	tv.tv_sec = (p->conf->ingress.dial_timeout_ms + 1000) / 1000;
	tv.tv_usec = 0;
	evtimer_add(c->timer, &tv);
}

static void route(struct iclient *c)
{
	const struct cw_http_request *r = &c->head.req;
	struct cw_node_info n;
	char host[CW_HTTP_HOST_MAX + 1], why[CW_HTTP_HOST_MAX + 64];
	int rc;

	c->is_connect = r->is_connect;
	snprintf(host, sizeof(host), "%.*s", (int)r->host_len, r->host);
	if (r->form != CW_HTTP_FORM_AUTHORITY && r->form != CW_HTTP_FORM_ABSOLUTE) {
		answer_error(c, 400, "expected CONNECT node:port or an absolute-form target");
		return;
	}
	rcu_read_lock();
	rc = cw_nodedir_get(c->in->p->nodes, host, &n);
	rcu_read_unlock();
	if (rc < 0) {
		snprintf(why, sizeof(why), "node %s is not connected", host);
		answer_error(c, 502, why);
		return;
	}
	if (!port_allowed(&n, r->port)) {
		snprintf(why, sizeof(why), "port %u is not allowed on node %s", r->port, host);
		answer_error(c, 403, why);
		return;
	}
	start_dial(c, &n);
}

static void read_head(struct iclient *c)
{
	struct evbuffer *inb = bufferevent_get_input(c->bev);

	while (evbuffer_get_length(inb) && c->state == IC_HEAD) {
		struct evbuffer_iovec v;
		size_t used = 0;
		int rc;

		if (evbuffer_peek(inb, -1, NULL, &v, 1) < 1)
			break;
		rc = cw_http_head_feed(&c->head, v.iov_base, v.iov_len, &used);
		evbuffer_drain(inb, used);
		if (rc == CW_HTTP_DONE)
			route(c);
		else if (rc < 0)
			answer_error(c, c->head.status, c->head.reason);
	}
}

/*
 * libevent 2.1 reads at most 4 KiB per call (EVBUFFER_MAX_READ): with its
 * buffer empty, read the client socket straight into "up" instead, as much
 * as the ring has room for in one piece. EOF as on_event() would see it; an
 * error is left for libevent's next read to report.
 */
static bool read_direct(struct iclient *c)
{
	uint8_t *p;
	size_t room = cw_bring_reserve(&c->chan->up, &p);
	ssize_t n;

	if (!room || c->client_eof)
		return false;
	n = recv(bufferevent_getfd(c->bev), p, room, MSG_DONTWAIT);
	if (n > 0) {
		cw_bring_commit(&c->chan->up, (size_t)n);
		c->in->p->st.dial_bytes_up += (uint64_t)n;
		return true;
	}
	if (n == 0) {
		c->client_eof = true;
		bufferevent_disable(c->bev, EV_READ);
	}
	return false;
}

/* Client -> "up", as far as the ring has room. */
static void pump_up(struct iclient *c)
{
	struct evbuffer *inb = bufferevent_get_input(c->bev);
	bool moved = false;

	while (evbuffer_get_length(inb) && cw_bring_room(&c->chan->up)) {
		struct evbuffer_iovec v;
		size_t n;

		if (evbuffer_peek(inb, -1, NULL, &v, 1) < 1)
			break;
		n = cw_bring_write(&c->chan->up, v.iov_base, v.iov_len);
		evbuffer_drain(inb, n);
		c->in->p->st.dial_bytes_up += n;
		moved = true;
	}
	if (!evbuffer_get_length(inb) && read_direct(c))
		moved = true;
	/* Backpressure: stop reading the socket while the ring is full. */
	if (evbuffer_get_length(inb)) {
		bufferevent_disable(c->bev, EV_READ);
	} else if (c->client_eof) {
		/* FIN only after the last byte is in the ring. */
		if (!atomic_load(&c->chan->up_fin)) {
			atomic_store(&c->chan->up_fin, true);
			moved = true;
		}
	} else {
		bufferevent_enable(c->bev, EV_READ);
	}
	if (moved)
		cw_tunnel_svc_kick(c->in->p->tsvc, c->chan);
}

/* Bytes of @p the client socket took at once, without waiting (0 on any
 * error: libevent's write of the rest reports it). */
static size_t send_direct(struct iclient *c, const uint8_t *p, size_t n)
{
	ssize_t r = send(bufferevent_getfd(c->bev), p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

	return r > 0 ? (size_t)r : 0;
}

/*
 * "down" -> client, while its output buffer is not too full: straight to
 * the socket while that buffer is empty (no copy into it), what the socket
 * does not take through the buffer, which libevent writes when it can.
 */
static void pump_down(struct iclient *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const uint8_t *p;
	bool moved = false;
	size_t n;

	while (evbuffer_get_length(out) < CW_INGRESS_OUT_MAX &&
	       (n = cw_bring_peek(&c->chan->down, &p))) {
		size_t sent = evbuffer_get_length(out) ? 0 : send_direct(c, p, n);

		if (sent < n)
			bufferevent_write(c->bev, p + sent, n - sent);
		cw_bring_consume(&c->chan->down, n);
		c->in->p->st.dial_bytes_down += n;
		moved = true;
	}
	if (moved)
		cw_tunnel_svc_kick(c->in->p->tsvc, c->chan);
	if (!c->down_closed && atomic_load(&c->chan->down_fin) && !cw_bring_used(&c->chan->down)) {
		c->down_closed = true;
		if (!evbuffer_get_length(out))
			shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	}
}

static void relay(struct iclient *c)
{
	struct cw_chan *ch = c->chan;

	if (atomic_load(&ch->reset_w)) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};

		/* The node's connection was reset: so is the client's. */
		setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		client_free(c);
		return;
	}
	pump_down(c);
	pump_up(c);
	if (c->down_closed && atomic_load(&ch->up_fin)) {
		/* The worker sends the rest of "up" and its FIN on its own. */
		c->complete = true;
		finish_after_flush(c);
		return;
	}
	if (atomic_load(&ch->gone) && !cw_bring_used(&ch->down))
		finish_after_flush(c);
}

static void dial_answered(struct iclient *c)
{
	struct cw_chan *ch = c->chan;
	int result = atomic_load_explicit(&ch->result, memory_order_acquire);

	if (result == CW_CHAN_PENDING) {
		if (atomic_load(&ch->gone))
			answer_error(c, 502, "the node's session ended before it answered");
		return;
	}
	evtimer_del(c->timer);
	if (result == CW_CHAN_FAILED) {
		answer_error(c, ch->dial_error == CW_DIAL_NOT_ALLOWED ? 403 : 502,
			     ch->reason[0] ? ch->reason : "the node could not connect");
		return;
	}
	c->in->p->st.dials_ok++;
	c->state = IC_RELAY;
	if (c->is_connect)
		bufferevent_write(c->bev, CW_HTTP_CONNECT_OK, strlen(CW_HTTP_CONNECT_OK));
	bufferevent_enable(c->bev, EV_READ);
	relay(c);
}

void cw_ingress_chan_event(struct cw_ingress *in, struct cw_chan *ch)
{
	struct iclient *c = ch->cuser;

	(void)in;
	if (!c)
		return; /* the client is gone; the worker finishes on its own */
	if (c->state == IC_DIALING)
		dial_answered(c);
	else if (c->state == IC_RELAY)
		relay(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct iclient *c = arg;

	(void)bev;
	if (c->state == IC_HEAD)
		read_head(c);
	else if (c->state == IC_RELAY)
		relay(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct iclient *c = arg;

	(void)bev;
	if (c->state != IC_RELAY)
		return;
	if (c->down_closed && !evbuffer_get_length(bufferevent_get_output(c->bev)))
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	relay(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct iclient *c = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && c->state == IC_RELAY) {
		/* Half-close: the client finished sending; the node still may. */
		c->client_eof = true;
		bufferevent_disable(c->bev, EV_READ);
		relay(c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
		      void *arg)
{
	struct timeval tv;
	struct cw_ingress *in = arg;
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	struct cw_http_head_cfg hc = {0};
	struct iclient *c;
	char ip[INET_ADDRSTRLEN];

	(void)l;
	(void)len;
	in->p->st.ingress_clients++;
	if (in->active >= in->p->conf->ingress.max_clients || !(c = calloc(1, sizeof(*c)))) {
		evutil_closesocket(fd);
		return;
	}
	c->in = in;
	snprintf(c->peer, sizeof(c->peer), "%s:%u",
		 inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) ? ip : "?",
		 ntohs(sin->sin_port));
	hc.buf = c->buf;
	hc.head_max = sizeof(c->buf);
	hc.fields = c->fields;
	hc.fields_max = CW_HTTP_FIELDS_MAX_DEFAULT;
	c->bev = bufferevent_socket_new(in->p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(in->p->base, on_timeout, c);
	if (!c->bev || !c->timer || cw_http_head_init(&c->head, &hc) < 0) {
		if (c->timer)
			event_free(c->timer);
		if (c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		free(c);
		return;
	}
	tv.tv_sec = in->p->conf->ingress.head_timeout_ms / 1000;
	tv.tv_usec = in->p->conf->ingress.head_timeout_ms % 1000 * 1000;
	evtimer_add(c->timer, &tv);
	in->active++;
	in->p->st.ingress_active = in->active;
	c->next = in->clients;
	if (c->next)
		c->next->prev = c;
	in->clients = c;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ);
}

int cw_ingress_new(struct cw_plane *p, struct cw_ingress **out)
{
	struct cw_ingress *in = calloc(1, sizeof(*in));
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = p->conf->ingress.listen.addr,
				 .sin_port = htons(p->conf->ingress.listen.port)};

	if (!in)
		return -ENOMEM;
	in->p = p;
	in->listener = evconnlistener_new_bind(p->base, on_accept, in,
					       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
					       (struct sockaddr *)&sa, sizeof(sa));
	if (!in->listener) {
		int rc = -errno;

		cw_err("ingress: cannot listen on port %u: %s", p->conf->ingress.listen.port,
		       strerror(errno));
		free(in);
		return rc ? rc : -EIO;
	}
	cw_info("ingress listening on TCP port %u", p->conf->ingress.listen.port);
	*out = in;
	return 0;
}

void cw_ingress_free(struct cw_ingress *in)
{
	if (!in)
		return;
	evconnlistener_free(in->listener);
	while (in->clients)
		client_free(in->clients);
	free(in);
}
