/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The upstream route (DESIGN.md §5): agents' API requests the route table
 * sends to "upstream" are passed by the control thread to the Kubernetes
 * API server of [upstream], with the gateway's credentials (bearer token,
 * client certificate), and the answer streams back as ApiResponse messages
 * (PROTOCOL.md §13.4): status and headers first, the body in parts of at
 * most the agent's message size, the last with more = false. Request
 * bodies go out from the decoded request itself (no copy).
 *
 * libcurl's multi interface on the control thread's loop (curlev.h). The
 * answer is read from the server only as fast as the agent's stream takes
 * it: a transfer pauses while the channel has no room. Watches are the
 * hub's to serve (one upstream watch for every agent): a watch request is
 * answered Error{UNSUPPORTED} here. A request that cannot reach the server
 * is answered Error{UPSTREAM_UNAVAILABLE} (TIMEOUT when it took too long),
 * so the agent serves it from its cache; one past [upstream] max_requests
 * in flight too.
 */
#ifndef CW_UPSTREAM_H
#define CW_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "control/apiserve.h"
#include "control/config.h"

struct cw_curlev;
struct cw_upstream;

struct cw_upstream_stats {
	uint64_t requests;    /* passed to the server */
	uint64_t answered[6]; /* by status class: [2] 2xx ... [5] 5xx; [0] other */
	uint64_t failed;      /* no answer: connection, TLS or timeout */
	uint64_t busy;	      /* refused: max_requests in flight */
	uint64_t watches;     /* refused: watches are the hub's */
	uint64_t body_bytes;  /* of answers, relayed */
};

/*
 * The client for @conf (server set) on @cev. Reads the token file.
 * Returns 0 and *@out, -EINVAL (logged), -ENOMEM.
 */
int cw_upstream_new(struct cw_curlev *cev, const struct cw_upstream_conf *conf,
		    struct cw_upstream **out);

/* Abandon what is in flight (streams reset) and free @u (NULL: no-op). */
void cw_upstream_free(struct cw_upstream *u);

/* The apiserve handler of the upstream route; @ctx is the cw_upstream. */
int cw_upstream_serve(void *ctx, struct cw_api_call *call, bool more);

const struct cw_upstream_stats *cw_upstream_stats(const struct cw_upstream *u);

/* An easy handle for @url (server + path) with the TLS settings of
 * [upstream] (CA, client certificate), for the hub's reflectors. NULL when
 * out of memory. */
CURL *cw_upstream_easy(struct cw_upstream *u, const char *url);

/* @hdrs with the bearer token appended, when there is one (NULL: out of
 * memory; @hdrs is then still the caller's). */
struct curl_slist *cw_upstream_auth(struct cw_upstream *u, struct curl_slist *hdrs);

/* [upstream] server. */
const char *cw_upstream_server(const struct cw_upstream *u);

#endif /* CW_UPSTREAM_H */
