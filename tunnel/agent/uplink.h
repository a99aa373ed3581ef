/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's link to the gateway: one session (session.h) at a time on a
 * connected UDP socket, driven by libevent, and the reconnect loop around
 * it (PROTOCOL.md §11.6): the [gateway] addresses are tried in order (the
 * next one after an attempt that never came up, the first one again after
 * a session that did), each attempt resolves its host afresh and loads the
 * certificates afresh, resumes with the saved TLS session ticket when there
 * is one (kept in [tls] ticket_file when set), and the delay between
 * attempts follows [reconnect] (reconnect.h).
 */
#ifndef CW_AGENT_UPLINK_H
#define CW_AGENT_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "control/agent_config.h"
#include "edgehub.h"
#include "session.h"

/* What the process knows about itself, fixed for its lifetime. */
struct cw_uplink_cfg {
	struct event_base *base;
	const struct cw_agent_config *conf; /* may change under SIGHUP: dial, log */
	const char *node_name;
	const char *agent_version;
	uint32_t dict_id; /* 0: no dictionary */
	struct cw_as_capacity capacity;
	uint8_t boot_id[CW_AS_BOOT_ID_LEN];
	struct cw_edgehub *hub; /* served through each session; may be NULL */
};

/* For the admin endpoint. */
struct cw_uplink_status {
	const char
	    *state; /* "connecting", "hello", "established", "closing", "backoff", "stopped" */
	bool up;
	char gateway[CW_AGENT_HOST_LEN + 64]; /* "host:port (address)" now, "" between */
	uint64_t session_id;
	uint64_t up_for_ms;
	uint64_t rtt_us;
	uint64_t bytes_in, bytes_out;	/* UDP payload, all sessions */
	uint64_t dgrams_in, dgrams_out; /* all sessions */
	uint64_t heartbeats;		/* current session */
	uint64_t dials_active, dials_total, dials_refused, dials_failed, dials_aborted;
	uint64_t dial_bytes_in, dial_bytes_out; /* local TCP bytes, all sessions */
	uint64_t attempts, sessions, reconnects, resets;
	uint64_t next_attempt_ms; /* in backoff: ms until the next attempt */
};

struct cw_uplink;

/* Start: the first attempt runs from the event loop at once. NULL on ENOMEM. */
struct cw_uplink *cw_uplink_new(const struct cw_uplink_cfg *cfg);

/*
 * Orderly stop: Close(SHUTDOWN) to the gateway if a session is up, then
 * @done(@ctx) once the session ended (at most a few PTOs), or at once.
 */
void cw_uplink_stop(struct cw_uplink *u, void (*done)(void *), void *ctx);

void cw_uplink_free(struct cw_uplink *u);

void cw_uplink_status(const struct cw_uplink *u, struct cw_uplink_status *out);

#endif
