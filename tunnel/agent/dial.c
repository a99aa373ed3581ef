/* SPDX-License-Identifier: Apache-2.0 */
#include "dial.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"

#define CHUNK	     16384
#define TCP_READ_MAX (64 * 1024)

struct dconn {
	struct dconn *next;
	struct cw_dials *ds;
	uint64_t id;
	struct bufferevent *bev;
	struct event *timer; /* connect timeout */
	bool connected;
	bool tcp_eof;	 /* the local peer finished sending */
	bool fin_sent;	 /* ... and the stream got every byte and FIN */
	bool stream_fin; /* the gateway finished sending */
	bool shut;	 /* ... and the socket got every byte and SHUT_WR */
};

struct cw_dials {
	struct event_base *base;
	struct cw_as *as;
	void (*kick)(void *);
	void *kick_ctx;
	struct dconn *conns;
	struct cw_dials_stats st;
};

struct cw_dials *cw_dials_new(struct event_base *base, struct cw_as *as, void (*kick)(void *),
			      void *kick_ctx)
{
	struct cw_dials *ds = calloc(1, sizeof(*ds));

	if (!ds)
		return NULL;
	ds->base = base;
	ds->as = as;
	ds->kick = kick;
	ds->kick_ctx = kick_ctx;
	return ds;
}

static void dconn_free(struct dconn *c, bool rst)
{
	struct dconn **pp = &c->ds->conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	if (rst && c->bev) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		evutil_socket_t fd = bufferevent_getfd(c->bev);

		/* Closing with unsent data or a zero linger sends RST: the
		 * local peer sees the reset the gateway side saw (§13.5). */
		if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
			cw_adebug("dial %" PRIu64 ": SO_LINGER: %s", c->id, strerror(errno));
	}
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->timer)
		event_free(c->timer);
	c->ds->st.active--;
	free(c);
}

void cw_dials_free(struct cw_dials *ds)
{
	if (!ds)
		return;
	while (ds->conns)
		dconn_free(ds->conns, true);
	free(ds);
}

static struct dconn *dconn_find(struct cw_dials *ds, uint64_t id)
{
	struct dconn *c = ds->conns;

	while (c && c->id != id)
		c = c->next;
	return c;
}

/* Both directions ended on their own or one side was reset. */
static void dconn_abort(struct dconn *c, const char *why)
{
	cw_adebug("dial %" PRIu64 ": aborted: %s", c->id, why);
	c->ds->st.aborted++;
	cw_as_stream_abort(c->ds->as, c->id, CW_AS_SERR_CONNECTION_RESET);
	c->ds->kick(c->ds->kick_ctx);
	dconn_free(c, true);
}

/* Both directions finished: close without a reset. True when freed. */
static bool dconn_maybe_done(struct dconn *c)
{
	if (!c->fin_sent || !c->shut)
		return false;
	cw_adebug("dial %" PRIu64 ": closed", c->id);
	dconn_free(c, false);
	return true;
}

/*
 * libevent 2.1 reads at most 4 KiB per call however much the socket holds
 * (EVBUFFER_MAX_READ): one loop turn, one stream write and one round of
 * datagrams per 4 KiB. Read up to TCP_READ_MAX here instead, into the input
 * buffer as libevent does (its end is frozen but while libevent reads). An
 * error is left for libevent's next read to report: the socket stays
 * readable.
 */
static void tcp_read_more(struct dconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v;
	ssize_t n = -1;

	if (c->tcp_eof)
		return;
	evbuffer_unfreeze(in, 0);
	if (evbuffer_reserve_space(in, TCP_READ_MAX, &v, 1) == 1) {
		n = recv(bufferevent_getfd(c->bev), v.iov_base,
			 v.iov_len < TCP_READ_MAX ? v.iov_len : TCP_READ_MAX, MSG_DONTWAIT);
		v.iov_len = n > 0 ? (size_t)n : 0;
		if (n > 0 && evbuffer_commit_space(in, &v, 1) < 0)
			n = -1;
	}
	evbuffer_freeze(in, 0);
	if (n == 0) {
		c->tcp_eof = true;
		bufferevent_disable(c->bev, EV_READ);
	}
}

/* TCP -> stream, as far as the stream takes it. True when @c was freed. */
static bool tcp_to_stream(struct dconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	bool refilled = false;
	size_t len;

	for (;;) {
		size_t chunk, n = 0;
		int r;

		/* Once per call, so that the datagrams go out between reads. */
		if (!evbuffer_get_length(in) && !refilled) {
			refilled = true;
			tcp_read_more(c);
		}
		len = evbuffer_get_length(in);
		if (!len)
			break;
		chunk = len < CHUNK ? len : CHUNK;
		r = cw_as_stream_write(c->ds->as, c->id, evbuffer_pullup(in, (ssize_t)chunk), chunk,
				       &n);

		if (r < 0 && r != -EAGAIN) {
			dconn_abort(c, "stream closed for writing");
			return true;
		}
		evbuffer_drain(in, n);
		c->ds->st.tcp_in += n;
		c->ds->kick(c->ds->kick_ctx);
		if (n < chunk) {
			/* CW_AS_F_WRITABLE brings us back. */
			bufferevent_disable(c->bev, EV_READ);
			return false;
		}
	}
	if (!c->tcp_eof) {
		bufferevent_enable(c->bev, EV_READ);
		return false;
	}
	if (!c->fin_sent) {
		c->fin_sent = true;
		cw_as_stream_finish(c->ds->as, c->id);
		c->ds->kick(c->ds->kick_ctx);
	}
	return dconn_maybe_done(c);
}

/* Stream -> TCP while the socket's output buffer has room. */
static void stream_to_tcp(struct dconn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t buf[CHUNK];
	uint64_t code;
	size_t n;
	bool fin = false;

	while (!c->stream_fin && evbuffer_get_length(out) < CW_DIAL_OUT_MAX) {
		int r = cw_as_stream_read(c->ds->as, c->id, buf, sizeof(buf), &n, &fin, &code);

		if (r == -EAGAIN)
			break;
		if (r < 0) {
			dconn_abort(c, r == -ECONNRESET ? "gateway reset" : "stream gone");
			return;
		}
		if (n && bufferevent_write(c->bev, buf, n) < 0) {
			dconn_abort(c, "out of memory");
			return;
		}
		c->ds->st.tcp_out += n;
		c->ds->kick(c->ds->kick_ctx); /* reading may grant credit */
		c->stream_fin = fin;
	}
	if (c->stream_fin && !c->shut && evbuffer_get_length(out) == 0) {
		c->shut = true;
		if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) < 0)
			cw_adebug("dial %" PRIu64 ": shutdown: %s", c->id, strerror(errno));
		dconn_maybe_done(c);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct dconn *c = arg;

	(void)bev;
	tcp_to_stream(c);
}

/* The output buffer drained to its low watermark: more stream bytes fit. */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct dconn *c = arg;

	(void)bev;
	stream_to_tcp(c);
}

static int dial_error_of(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_REFUSED;
	case ETIMEDOUT:
		return CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
		return CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_UNREACHABLE;
	default:
		return CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_INTERNAL;
	}
}

static void dial_failed(struct dconn *c, int dial_error, const char *why)
{
	c->ds->st.failed++;
	cw_ainfo("dial %" PRIu64 ": failed: %s", c->id, why);
	cw_as_dial_result(c->ds->as, c->id, false, dial_error, why);
	c->ds->kick(c->ds->kick_ctx);
	dconn_free(c, false);
}

static int socket_error(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0)
		err = EVUTIL_SOCKET_ERROR();
	return err;
}

static void on_connected(struct dconn *c)
{
	int r;

	c->connected = true;
	event_del(c->timer);
	r = cw_as_dial_result(c->ds->as, c->id, true, 0, NULL);
	c->ds->kick(c->ds->kick_ctx);
	if (r < 0) {
		/* The gateway gave up on the stream while we connected. */
		dconn_free(c, true);
		return;
	}
	c->ds->st.connected++;
	cw_adebug("dial %" PRIu64 ": connected", c->id);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CW_DIAL_IN_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, CW_DIAL_OUT_MAX / 4, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	stream_to_tcp(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct dconn *c = arg;
	char why[128];

	if (what & BEV_EVENT_CONNECTED) {
		on_connected(c);
		return;
	}
	if (!c->connected) {
		int err = socket_error(bev);

		snprintf(why, sizeof(why), "%s", strerror(err));
		dial_failed(c, dial_error_of(err), why);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		dconn_abort(c, strerror(socket_error(bev)));
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->tcp_eof = true;
		tcp_to_stream(c);
	}
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dial_failed(arg, CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_TIMEOUT, "connect timed out");
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
	char ps[8];
	int r;

	snprintf(ps, sizeof(ps), "%u", port);
	r = getaddrinfo(host, ps, &hints, &res);
	if (r)
		return r;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void start_dial(struct cw_dials *ds, const struct cw_as_event *ev)
{
	struct timeval tv = {ev->timeout_ms / 1000, (ev->timeout_ms % 1000) * 1000};
	struct sockaddr_storage ss;
	struct dconn *c = calloc(1, sizeof(*c));
	socklen_t len;
	int r;

	if (!c) {
		cw_as_dial_result(ds->as, ev->stream, false,
				  CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_INTERNAL, "out of memory");
		ds->kick(ds->kick_ctx);
		return;
	}
	c->ds = ds;
	c->id = ev->stream;
	c->next = ds->conns;
	ds->conns = c;
	ds->st.active++;
	cw_ainfo("dial %" PRIu64 ": request %" PRIu64 " to %s:%u", c->id, ev->request_id, ev->host,
		 ev->port);
	/* Names resolve synchronously: the allow-list holds loopback and
	 * node-local names, which /etc/hosts answers. */
	r = resolve(ev->host, ev->port, &ss, &len);
	if (r) {
		dial_failed(c, CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_RESOLVE_FAILED,
			    gai_strerror(r));
		return;
	}
	c->bev = bufferevent_socket_new(ds->base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(ds->base, on_timeout, c);
	if (!c->bev || !c->timer) {
		dial_failed(c, CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_INTERNAL, "out of memory");
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	evtimer_add(c->timer, &tv);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, (int)len) < 0) {
		int err = EVUTIL_SOCKET_ERROR();

		dial_failed(c, dial_error_of(err), strerror(err));
	}
}

void cw_dials_on_event(struct cw_dials *ds, const struct cw_as_event *ev)
{
	struct dconn *c;

	if (ev->type == CW_AS_EV_DIAL) {
		start_dial(ds, ev);
		return;
	}
	c = dconn_find(ds, ev->stream);
	if (!c)
		return;
	if (ev->flags & CW_AS_F_ABORTED) {
		ds->st.aborted++;
		cw_adebug("dial %" PRIu64 ": aborted by the gateway", c->id);
		dconn_free(c, true);
		return;
	}
	if (!c->connected)
		return;
	if ((ev->flags & CW_AS_F_WRITABLE) && tcp_to_stream(c))
		return;
	if (ev->flags & CW_AS_F_READABLE)
		stream_to_tcp(c);
}

void cw_dials_stats(const struct cw_dials *ds, struct cw_dials_stats *out)
{
	*out = ds->st;
}
