/* SPDX-License-Identifier: Apache-2.0 */
#include "uplink.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "dial.h"
#include "log.h"
#include "node.h"
#include "reconnect.h"
#include "ticket.h"
#include "tunnel/tls.h"
#include "udpio.h"

#define MS		UINT64_C(1000000)
#define STATUS_PERIOD_S 10
#define STOP_GRACE_MS	2000

struct cw_uplink {
	struct cw_uplink_cfg cfg;
	struct event *timer, *kick, *retry, *rx, *wr, *status_tick, *stop_timer;
	struct cw_reconnect rc;
	uint32_t idx; /* the address of the current or next attempt */

	/* The current attempt, or none while backing off. */
	int fd;
	struct cw_tls_client_ctx *tls;
	struct cw_as *as;
	struct cw_dials *dials;
	bool was_up;
	uint64_t started_at;
	char gateway[CW_AGENT_HOST_LEN + 64];

	uint8_t ticket[CW_TLS_TICKET_MAX];
	size_t ticket_len;

	uint64_t retry_at;
	bool stopping;
	void (*done)(void *);
	void *done_ctx;

	/* Over all sessions (what went out: in tx). */
	uint64_t bytes_in, dgrams_in;
	uint64_t attempts, sessions, resets;
	uint64_t dials_total, dials_refused; /* of ended sessions */
	struct cw_dials_stats dial_sum;

	struct cw_udpio_tx tx;
	struct cw_udpio_rx rx_batch;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rand64(void)
{
	uint64_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		cw_awarn("RAND_bytes failed: jitter is not random");
	return v;
}

static struct timeval tv_of(uint64_t ns)
{
	return (struct timeval){(time_t)(ns / 1000000000u), (suseconds_t)(ns % 1000000000u / 1000)};
}

static void schedule_attempt(struct cw_uplink *u, uint64_t delay_ns);

/* ---- the ticket ---- */

static void keep_ticket(struct cw_uplink *u)
{
	const char *path = u->cfg.conf->tls.ticket_file;
	const uint8_t *t;
	size_t len = 0;
	int r;

	t = cw_as_ticket(u->as, &len);
	if (!t || len > sizeof(u->ticket) ||
	    (len == u->ticket_len && memcmp(t, u->ticket, len) == 0))
		return;
	memcpy(u->ticket, t, len);
	u->ticket_len = len;
	if (!path[0])
		return;
	r = cw_ticket_save(path, t, len);
	if (r)
		cw_awarn("ticket_file %s: %s (resuming from memory only)", path, strerror(-r));
}

static void load_ticket(struct cw_uplink *u)
{
	const char *path = u->cfg.conf->tls.ticket_file;
	int r;

	if (!path[0])
		return;
	r = cw_ticket_load(path, u->ticket, sizeof(u->ticket), &u->ticket_len);
	if (r == 0)
		cw_ainfo("resuming with the session ticket in %s", path);
	else if (r != -ENOENT)
		cw_awarn("ticket_file %s: %s (full handshake)", path, strerror(-r));
	if (r)
		u->ticket_len = 0;
}

/* ---- one session ---- */

/*
 * The session's datagrams out, a batch at a time. While the socket holds
 * back part of a batch, the session is asked for nothing more (its data
 * waits in its streams, under its congestion control) until the socket is
 * writable again: on_writable() drives again then.
 */
static void flush(struct cw_uplink *u, uint64_t now)
{
	uint8_t *b;
	int n = 1;

	for (;;) {
		if (cw_udpio_tx_flush(&u->tx) == -EAGAIN) {
			if (event_add(u->wr, NULL))
				cw_aerr("cannot wait for the socket to the gateway");
			return;
		}
		if (n <= 0)
			break;
		while ((b = cw_udpio_tx_slot(&u->tx)) &&
		       (n = cw_as_send(u->as, now, b, CW_UDPIO_DGRAM)) > 0)
			cw_udpio_tx_commit(&u->tx, (size_t)n);
	}
	if (n < 0)
		cw_aerr("session: %s", strerror(-n));
}

static enum cw_backoff_why why_of(const struct cw_as_info *in, bool was_up)
{
	if (in->end == CW_AS_END_RESET)
		return CW_BACKOFF_RESET;
	if (in->end == CW_AS_END_PEER && in->close_code == CW_AS_SESSION_REPLACED)
		return CW_BACKOFF_REPLACED;
	return was_up ? CW_BACKOFF_CLOSED : CW_BACKOFF_FAILED;
}

static const char *end_name(enum cw_as_end e)
{
	static const char *const N[] = {"none",
					"handshake failed",
					"idle timeout",
					"closed by us",
					"closed by the gateway",
					"stateless reset",
					"the gateway speaks no version of ours"};

	return N[e];
}

static void drop_session(struct cw_uplink *u)
{
	struct cw_dials_stats ds;
	struct cw_as_info in;

	if (u->as) {
		cw_as_info(u->as, &in);
		u->dials_total += in.dials_total;
		u->dials_refused += in.dials_refused;
	}
	if (u->dials) {
		cw_dials_stats(u->dials, &ds);
		u->dial_sum.connected += ds.connected;
		u->dial_sum.failed += ds.failed;
		u->dial_sum.aborted += ds.aborted;
		u->dial_sum.tcp_in += ds.tcp_in;
		u->dial_sum.tcp_out += ds.tcp_out;
	}
	cw_dials_free(u->dials);
	cw_edgehub_attach(u->cfg.hub, NULL, NULL, NULL);
	cw_as_free(u->as);
	cw_tls_client_ctx_free(u->tls);
	if (u->rx)
		event_free(u->rx);
	if (u->wr)
		event_free(u->wr);
	if (u->fd >= 0)
		close(u->fd);
	if (u->timer)
		event_del(u->timer);
	u->dials = NULL;
	u->as = NULL;
	u->tls = NULL;
	u->rx = NULL;
	u->wr = NULL;
	u->fd = -1;
	u->gateway[0] = '\0';
}

static void session_ended(struct cw_uplink *u, uint64_t now)
{
	uint32_t n = u->cfg.conf->gateway.n_addrs;
	struct cw_as_info in;
	enum cw_backoff_why why;
	uint64_t lasted, delay;

	cw_as_info(u->as, &in);
	why = why_of(&in, u->was_up);
	lasted = u->was_up ? now - in.up_at : 0;
	if (why == CW_BACKOFF_REPLACED)
		cw_aerr("session replaced: another agent holds the identity of node %s",
			u->cfg.node_name);
	else
		cw_ainfo("session to %s ended: %s (code %" PRId64 ")", u->gateway, end_name(in.end),
			 in.close_code);
	u->resets += in.end == CW_AS_END_RESET;
	if (u->was_up) {
		keep_ticket(u);
	} else if (in.close_code >= 0 && in.close_code < CW_AS_SHUTDOWN) {
		/* The handshake was refused (a transport or TLS code), not timed
		 * out: a ticket the gateway no longer takes must not fail every
		 * attempt. */
		u->ticket_len = 0;
	}
	delay = cw_reconnect_next(&u->rc, why, lasted, (uint64_t)in.retry_after_ms * MS, rand64());
	drop_session(u);
	u->idx = u->was_up ? 0 : (u->idx + 1) % (n ? n : 1);
	if (u->stopping) {
		if (u->stop_timer)
			event_del(u->stop_timer);
		u->done(u->done_ctx);
		return;
	}
	schedule_attempt(u, delay);
}

static void arm_timer(struct cw_uplink *u, uint64_t now)
{
	uint64_t t = cw_as_next_timeout(u->as);

	if (t == UINT64_MAX) {
		event_del(u->timer);
		return;
	}
	struct timeval tv = tv_of(t > now ? t - now : 0);

	evtimer_add(u->timer, &tv);
}

/* After every input: events to the dial side, datagrams out, state. */
static void drive(struct cw_uplink *u, uint64_t now)
{
	struct cw_as_event ev;
	enum cw_as_state st;

	while (cw_as_next_event(u->as, &ev) == 0)
		if (ev.type == CW_AS_EV_API)
			cw_edgehub_on_event(u->cfg.hub, &ev);
		else
			cw_dials_on_event(u->dials, &ev);
	flush(u, now);
	st = cw_as_state(u->as);
	if (st == CW_AS_ESTABLISHED && !u->was_up) {
		struct cw_as_info in;

		cw_as_info(u->as, &in);
		u->was_up = true;
		u->sessions++;
		cw_ainfo("session %" PRIu64 " up to %s as node %s", in.session_id, u->gateway,
			 u->cfg.node_name);
		keep_ticket(u);
		cw_edgehub_up(u->cfg.hub);
	}
	if (st == CW_AS_ENDED) {
		session_ended(u, now);
		return;
	}
	arm_timer(u, now);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cw_uplink *u = arg;
	uint64_t now = now_ns();

	(void)fd;
	(void)what;
	cw_as_on_timeout(u->as, now);
	drive(u, now);
}

/* Something gave the session data to send (dial side): one flush per loop turn. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct cw_uplink *u = arg;

	(void)fd;
	(void)what;
	if (u->as)
		drive(u, now_ns());
}

static void kick(void *arg)
{
	struct cw_uplink *u = arg;

	event_active(u->kick, EV_TIMEOUT, 0);
}

/* The socket took datagrams again: send what waited, and what is due. */
static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct cw_uplink *u = arg;

	(void)fd;
	(void)what;
	drive(u, now_ns());
}

/* One batch per wakeup (with UDP GRO, runs of datagrams cut back apart), then
 * the answers to all of it in one flush. */
static void on_rx(evutil_socket_t fd, short what, void *arg)
{
	struct cw_uplink *u = arg;
	uint64_t now = now_ns();
	int n = cw_udpio_rx_recv(&u->rx_batch, fd);
	uint8_t *p;
	size_t len;

	(void)what;
	/* ECONNREFUSED: an ICMP port unreachable; the session's own timers
	 * decide when the gateway is gone. */
	if (n < 0 && n != -EAGAIN)
		cw_adebug("recv from gateway: %s", strerror(-n));
	while (n > 0 && (p = cw_udpio_rx_next(&u->rx_batch, &len))) {
		u->bytes_in += len;
		u->dgrams_in++;
		cw_as_recv(u->as, now, p, len);
		if (cw_as_state(u->as) == CW_AS_ENDED)
			break;
	}
	drive(u, now);
}

/* A connected UDP socket to @ep; 0 and *@fd, or -errno / a getaddrinfo code. */
static int open_socket(struct cw_uplink *u, const struct cw_agent_endpoint *ep, int *fd)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *res, *ai;
	char port[8], host[INET6_ADDRSTRLEN] = "?";
	int r, s = -1;

	snprintf(port, sizeof(port), "%u", ep->port);
	r = getaddrinfo(ep->host, port, &hints, &res);
	if (r) {
		cw_awarn("gateway %s:%u: %s", ep->host, ep->port, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s >= 0 && connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
			getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0,
				    NI_NUMERICHOST);
			break;
		}
		r = -errno;
		if (s >= 0)
			close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s < 0) {
		cw_awarn("gateway %s:%u: %s", ep->host, ep->port, strerror(-r));
		return r;
	}
	snprintf(u->gateway, sizeof(u->gateway), "%s:%u (%s)", ep->host, ep->port, host);
	*fd = s;
	return 0;
}

static int new_tls(struct cw_uplink *u, const struct cw_agent_endpoint *ep)
{
	const struct cw_agent_config *c = u->cfg.conf;
	struct cw_tls_client_cfg tc = {
	    .cert = {.path = c->tls.cert_file},
	    .key = {.path = c->tls.key_file},
	    .gateway_ca = {.path = c->gateway.ca_file},
	    .gateway_name = c->gateway.server_name[0] ? c->gateway.server_name : ep->host,
	};
	int r = cw_tls_client_ctx_new(&tc, NULL, &u->tls);

	if (r)
		cw_aerr("TLS: cannot load cert_file %s, key_file %s or ca_file %s: %s",
			c->tls.cert_file, c->tls.key_file, c->gateway.ca_file, strerror(-r));
	return r;
}

static int new_session(struct cw_uplink *u, uint64_t now)
{
	struct cw_as_cfg ac = {
	    .conf = u->cfg.conf,
	    .node_name = u->cfg.node_name,
	    .agent_version = u->cfg.agent_version,
	    .dict_ids = &u->cfg.dict_id,
	    .n_dict_ids = u->cfg.dict_id ? 1 : 0,
	    .capacity = u->cfg.capacity,
	    .hs = {.tls = u->tls,
		   .wall_time = (int64_t)time(NULL),
		   .ticket = u->ticket_len ? u->ticket : NULL,
		   .ticket_len = u->ticket_len},
	    .seed = rand64(),
	    .wall_ms = wall_ms(),
	};
	struct cw_as_status st;
	int r;

	memcpy(ac.boot_id, u->cfg.boot_id, sizeof(ac.boot_id));
	/* Fresh CIDs every attempt (§4.1, §11.6). */
	if (RAND_bytes(ac.hs.cid, sizeof(ac.hs.cid)) != 1 ||
	    RAND_bytes(ac.hs.odcid, sizeof(ac.hs.odcid)) != 1)
		return -EIO;
	r = cw_as_new(&ac, now, &u->as);
	if (r)
		return r;
	cw_node_status(&st);
	cw_as_set_status(u->as, now, &st);
	u->dials = cw_dials_new(u->cfg.base, u->as, kick, u);
	cw_edgehub_attach(u->cfg.hub, u->as, kick, u);
	u->rx = event_new(u->cfg.base, u->fd, EV_READ | EV_PERSIST, on_rx, u);
	u->wr = event_new(u->cfg.base, u->fd, EV_WRITE, on_writable, u);
	cw_udpio_tx_open(&u->tx, u->fd);
	if (!cw_udpio_rx_open(&u->rx_batch, u->fd))
		cw_adebug("no UDP GRO on the socket to the gateway: one datagram per receive");
	if (!u->dials || !u->rx || !u->wr)
		return -ENOMEM;
	return event_add(u->rx, NULL) ? -EIO : 0;
}

static void attempt(struct cw_uplink *u)
{
	const struct cw_agent_endpoint *ep = &u->cfg.conf->gateway.addrs[u->idx];
	uint64_t now = now_ns();
	int r;

	u->attempts++;
	u->was_up = false;
	u->started_at = now;
	r = open_socket(u, ep, &u->fd);
	if (r == 0)
		r = new_tls(u, ep);
	if (r == 0)
		r = new_session(u, now);
	if (r) {
		uint32_t n = u->cfg.conf->gateway.n_addrs;

		cw_awarn("attempt to %s:%u failed: %s", ep->host, ep->port, strerror(-r));
		drop_session(u);
		u->idx = (u->idx + 1) % (n ? n : 1);
		schedule_attempt(u, cw_reconnect_next(&u->rc, CW_BACKOFF_FAILED, 0, 0, rand64()));
		return;
	}
	cw_ainfo("connecting to %s%s", u->gateway, u->ticket_len ? " (resuming)" : "");
	drive(u, now);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	attempt(arg);
}

static void schedule_attempt(struct cw_uplink *u, uint64_t delay_ns)
{
	struct timeval tv = tv_of(delay_ns);

	u->retry_at = now_ns() + delay_ns;
	if (delay_ns)
		cw_ainfo("next attempt in %" PRIu64 " ms", delay_ns / MS);
	evtimer_add(u->retry, &tv);
}

/* Load and uptime for the next Heartbeat. */
static void on_status_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cw_uplink *u = arg;
	struct cw_as_status st;

	(void)fd;
	(void)what;
	if (!u->as)
		return;
	cw_node_status(&st);
	cw_as_set_status(u->as, now_ns(), &st);
	drive(u, now_ns());
}

struct cw_uplink *cw_uplink_new(const struct cw_uplink_cfg *cfg)
{
	struct cw_uplink *u = calloc(1, sizeof(*u));
	struct timeval period = {STATUS_PERIOD_S, 0};

	if (!u)
		return NULL;
	u->cfg = *cfg;
	u->fd = -1;
	cw_udpio_tx_init(&u->tx);
	cw_udpio_rx_init(&u->rx_batch);
	cw_reconnect_init(&u->rc, &cfg->conf->reconnect);
	u->timer = evtimer_new(cfg->base, on_timer, u);
	u->retry = evtimer_new(cfg->base, on_retry, u);
	u->kick = event_new(cfg->base, -1, 0, on_kick, u);
	u->status_tick = event_new(cfg->base, -1, EV_PERSIST, on_status_tick, u);
	if (!u->timer || !u->retry || !u->kick || !u->status_tick) {
		cw_uplink_free(u);
		return NULL;
	}
	load_ticket(u);
	evtimer_add(u->status_tick, &period);
	schedule_attempt(u, 0);
	return u;
}

static void on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct cw_uplink *u = arg;

	(void)fd;
	(void)what;
	cw_awarn("gateway did not confirm the close in time");
	drop_session(u);
	u->done(u->done_ctx);
}

void cw_uplink_stop(struct cw_uplink *u, void (*done)(void *), void *ctx)
{
	struct timeval grace = {STOP_GRACE_MS / 1000, (STOP_GRACE_MS % 1000) * 1000};

	if (u->stopping)
		return;
	u->stopping = true;
	u->done = done;
	u->done_ctx = ctx;
	event_del(u->retry);
	event_del(u->status_tick);
	if (!u->as) {
		done(ctx);
		return;
	}
	u->stop_timer = evtimer_new(u->cfg.base, on_stop_timeout, u);
	if (u->stop_timer)
		evtimer_add(u->stop_timer, &grace);
	cw_as_shutdown(u->as, now_ns(), CW_AS_SHUTDOWN, "agent stopping");
	drive(u, now_ns());
}

void cw_uplink_free(struct cw_uplink *u)
{
	if (!u)
		return;
	drop_session(u);
	if (u->timer)
		event_free(u->timer);
	if (u->retry)
		event_free(u->retry);
	if (u->kick)
		event_free(u->kick);
	if (u->status_tick)
		event_free(u->status_tick);
	if (u->stop_timer)
		event_free(u->stop_timer);
	free(u);
}

static const char *state_name(const struct cw_uplink *u)
{
	static const char *const N[] = {"connecting", "hello", "established", "closing", "closing"};

	if (!u->as)
		return u->stopping ? "stopped" : "backoff";
	return N[cw_as_state(u->as)];
}

void cw_uplink_status(const struct cw_uplink *u, struct cw_uplink_status *out)
{
	uint64_t now = now_ns();
	struct cw_dials_stats ds = {0};
	struct cw_as_info in = {0};

	memset(out, 0, sizeof(*out));
	out->state = state_name(u);
	snprintf(out->gateway, sizeof(out->gateway), "%s", u->gateway);
	if (u->as) {
		cw_as_info(u->as, &in);
		out->up = in.state == CW_AS_ESTABLISHED;
		out->session_id = in.session_id;
		out->up_for_ms = out->up ? (now - in.up_at) / MS : 0;
		out->rtt_us = in.srtt_ns / 1000;
		out->heartbeats = in.heartbeats;
	}
	out->dials_total = u->dials_total + in.dials_total;
	out->dials_refused = u->dials_refused + in.dials_refused;
	if (u->dials)
		cw_dials_stats(u->dials, &ds);
	out->dials_active = ds.active;
	out->dials_failed = u->dial_sum.failed + ds.failed;
	out->dials_aborted = u->dial_sum.aborted + ds.aborted;
	out->dial_bytes_in = u->dial_sum.tcp_in + ds.tcp_in;
	out->dial_bytes_out = u->dial_sum.tcp_out + ds.tcp_out;
	out->bytes_in = u->bytes_in;
	out->bytes_out = u->tx.bytes;
	out->dgrams_in = u->dgrams_in;
	out->dgrams_out = u->tx.dgrams;
	out->attempts = u->attempts;
	out->sessions = u->sessions;
	out->reconnects = u->attempts ? u->attempts - 1 : 0;
	out->resets = u->resets;
	out->next_attempt_ms = !u->as && u->retry_at > now ? (u->retry_at - now) / MS : 0;
}
