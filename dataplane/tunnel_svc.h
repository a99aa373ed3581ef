/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel service: the gateway side of tunnel/ (gateway.h) as a UDP
 * handler of the dataplane (handler.h), one cw_gw per worker, and the
 * worker half of the rings that join the workers to the control thread.
 *
 * Threads. Each worker owns its cw_gw and is the only one to touch it. The
 * control thread talks to worker k only through k's ring of work (an MPSC
 * rte_ring of tagged pointers: dial channels (control/chan.h) and commands)
 * and k's wake eventfd; worker k answers through its event ring (SPSC) and
 * the control thread's eventfd. Nothing on a worker blocks or locks; the
 * only allocations there are for session events and admin requests, which
 * are rare.
 */
#ifndef CW_TUNNEL_SVC_H
#define CW_TUNNEL_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "control/chan.h"
#include "control/config.h"
#include "control/nodedir.h"
#include "handler.h"
#include "tunnel/gateway.h"

struct cw_dp;
struct cw_tunnel_svc;

enum cw_tev_type {
	CW_TEV_SESSION_UP = 0,
	CW_TEV_SESSION_DOWN,
	CW_TEV_SESSION_ADDR,
	CW_TEV_CHAN,  /* @chan changed: result, bytes, FIN, gone */
	CW_TEV_STATS, /* a worker answered a cw_tunnel_svc_stats() request */
};

/* One session's figures for the admin API. */
struct cw_tsess {
	uint64_t session_id;
	char node[CW_NODE_NAME_MAX + 1];
	struct cw_gw_addr addr;
	uint64_t srtt_ns, bytes_in, bytes_out, since_ns;
	uint32_t streams;
	uint8_t worker;
};

/* Datagrams that arrived on a worker other than their session's owner. */
struct cw_tsvc_redir_stats {
	uint64_t out;  /* handed to their owner */
	uint64_t in;   /* taken from other workers */
	uint64_t full; /* dropped: the ring to the owner was full */
};

/* A request for every session's figures and every worker's counters. */
struct cw_tstats_req {
	unsigned pending; /* workers that have not answered; control thread only */
	void *user;	  /* the control thread's (e.g. the HTTP request) */
	struct cw_tsess *sess[CW_MAX_WORKERS];
	uint32_t n_sess[CW_MAX_WORKERS];
	struct cw_gw_stats gw[CW_MAX_WORKERS];
	struct cw_tsvc_redir_stats redir[CW_MAX_WORKERS];
};

/* What the control thread receives (cw_tunnel_svc_events()). */
struct cw_tev {
	enum cw_tev_type type;
	uint8_t worker;
	uint32_t slot;
	uint64_t session_id;
	char node[CW_NODE_NAME_MAX + 1];
	char pool[CW_POOL_NAME_MAX + 1];
	char agent_version[64];
	struct cw_gw_addr addr;
	uint16_t allowed_ports[CW_GW_ALLOWED_MAX];
	uint32_t n_allowed;
	bool resumed;
	enum cw_conn_end end;
	int64_t code;
	struct cw_chan *chan;	   /* CW_TEV_CHAN */
	struct cw_tstats_req *req; /* CW_TEV_STATS */
};

/*
 * Load the tunnel's certificates, keys and dictionary per @dp->conf->tunnel
 * and prepare one gateway per worker (dp->n_workers must be set, the
 * workers not yet running). Returns 0 and *@out, or a negative errno with
 * the reason logged.
 */
int cw_tunnel_svc_create(struct cw_dp *dp, struct cw_tunnel_svc **out);

/* After every worker stopped. NULL: no-op. */
void cw_tunnel_svc_free(struct cw_tunnel_svc *t);

/*
 * Compile @rc ([route]) and publish it to the workers, which route agents'
 * API requests by it from their next request on; the table it replaces is
 * freed once no worker holds it (RCU). Control thread. Returns 0, or
 * -EINVAL / -ENOMEM with the reason in @err, the running table unchanged.
 * Workers read the table as registered liburcu QSBR threads: whoever
 * launches them registers them (rcu_register_thread()); the service's poll
 * reports their quiescent states.
 */
int cw_tunnel_svc_set_routes(struct cw_tunnel_svc *t, const struct cw_route_conf *rc, char *err,
			     size_t errlen);

/* The UDP handler to register with the dataplane. */
void cw_tunnel_svc_handler(struct cw_tunnel_svc *t, struct cw_handler *h);

/* ---- control thread ---- */

/* The fd that turns readable when events wait (an eventfd). */
int cw_tunnel_svc_event_fd(const struct cw_tunnel_svc *t);

/*
 * Hand every waiting event to @fn, which owns nothing of it (copy what it
 * keeps) except that a CW_TEV_CHAN event's mark is cleared before @fn runs.
 * Returns the number handled.
 */
unsigned cw_tunnel_svc_events(struct cw_tunnel_svc *t,
			      void (*fn)(void *ctx, const struct cw_tev *ev), void *ctx);

/*
 * Start dial channel @c (its session_id, worker, host, port, timeout and
 * origin set) on its worker, or tell the worker that @c changed (bytes in
 * up, up_fin, abort_c). Returns 0, or -ENOBUFS when the worker's ring is
 * full (the channel was not queued: the caller fails it).
 */
int cw_tunnel_svc_kick(struct cw_tunnel_svc *t, struct cw_chan *c);

/* Ask worker @worker to close @session_id with @code (§12.3). 0, -ENOBUFS,
 * -ENOMEM. */
int cw_tunnel_svc_close(struct cw_tunnel_svc *t, unsigned worker, uint64_t session_id,
			uint64_t code, const char *reason);

/* Send @req to every worker; CW_TEV_STATS events bring it back, one per
 * worker, req->pending counting down is the caller's job. 0 or -ENOBUFS
 * (nothing sent). */
int cw_tunnel_svc_stats(struct cw_tunnel_svc *t, struct cw_tstats_req *req);

/*
 * Make a new session ticket key current (the current one stays accepted
 * as the previous one) and save both to [tunnel] ticket_keys when set;
 * PROTOCOL.md §7.1 asks for this at least hourly. Thread-safe against the
 * workers' handshakes. Returns 0, -EIO.
 */
int cw_tunnel_svc_rotate_tickets(struct cw_tunnel_svc *t);

/* Number of workers. */
unsigned cw_tunnel_svc_workers(const struct cw_tunnel_svc *t);

#endif /* CW_TUNNEL_SVC_H */
