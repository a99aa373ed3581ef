/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's admin endpoint ([admin] listen, HTTP on libevent's evhttp):
 *   GET /healthz  200 "ok" while the session to the gateway is
 *                 established, else 503 with the state
 *   GET /status   the session and its counters as one JSON object
 *   GET /metrics  Prometheus text: the edge hub's counters
 *                 (causeway_agent_hub_*) and the offline write queue's
 *                 (causeway_agent_write_queue_*)
 * Anything else is 404, a method other than GET or HEAD 405.
 */
#ifndef CW_AGENT_ADMIN_H
#define CW_AGENT_ADMIN_H

#include <event2/event.h>

#include "control/agent_config.h"
#include "edgehub.h"
#include "uplink.h"
#include "writereplay.h"

struct cw_admin;

/*
 * Listen on @at (port 0: off, *@out NULL) and serve @u's state, and the
 * counters of @hub and @wq (either may be NULL: zeros). Returns 0,
 * -EADDRINUSE (or another -errno) when the address cannot be bound, or
 * -ENOMEM.
 */
int cw_admin_new(struct event_base *base, const struct cw_ini_listen *at, const struct cw_uplink *u,
		 const char *node_name, const struct cw_edgehub *hub,
		 const struct cw_writereplay *wq, struct cw_admin **out);

void cw_admin_free(struct cw_admin *a);

#endif
