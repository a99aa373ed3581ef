/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The edge hub's offline writes (DESIGN.md §5): taken into the durable
 * queue (writeq.h) while the API server cannot be reached, replayed
 * through the tunnel when it can, under the policy of writepolicy.h.
 *
 * Replay starts when a session is attached and established (until then it
 * looks again every CW_WRP_POLL_MS), and when an entry is queued while one
 * is. One entry at a time, oldest first, as an API stream like any other
 * request: a later write never overtakes an earlier one. An entry that
 * must be kept (no answer, the gateway's Error, a 5xx or 429) stops the
 * replay for a backoff of CW_WRP_BACKOFF_MIN_MS, doubling up to
 * CW_WRP_BACKOFF_MAX_MS, or until the next session.
 *
 * The cloud side queues nothing: causewayd answers a write it cannot pass
 * to the API server with Error UPSTREAM_UNAVAILABLE, and it is the edge
 * hub that keeps it, as here.
 */
#ifndef CW_AGENT_WRITEREPLAY_H
#define CW_AGENT_WRITEREPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "session.h"
#include "writeq.h"

#define CW_WRP_POLL_MS	      100
#define CW_WRP_BACKOFF_MIN_MS 1000
#define CW_WRP_BACKOFF_MAX_MS 30000

struct cw_writereplay_stats {
	uint64_t queued;    /* writes taken into the queue */
	uint64_t replayed;  /* entries applied upstream (2xx) */
	uint64_t conflicts; /* 409s settled by the policy */
	uint64_t dropped;   /* entries thrown away unapplied */
	uint64_t full;	    /* writes refused: the queue was full */
	uint32_t depth;	    /* entries queued now */
	uint64_t bytes;	    /* their bytes */
};

struct cw_writereplay;

/*
 * Replay @q (the caller's; it must outlive *@out) for node @node (the
 * lease policy's holderIdentity; kept as a pointer). Returns 0, -ENOMEM.
 */
int cw_writereplay_new(struct event_base *base, struct cw_writeq *q, const char *node,
		       struct cw_writereplay **out);

void cw_writereplay_free(struct cw_writereplay *r);

/*
 * Session @as (NULL: none) is the one to replay through from now on;
 * @kick(@ctx) tells its owner it has something to send. A replay under
 * way on the previous session is forgotten (its entry stays queued).
 */
void cw_writereplay_attach(struct cw_writereplay *r, struct cw_as *as, void (*kick)(void *),
			   void *ctx);

/* A CW_AS_EV_API event: true when it was for the replay's stream. */
bool cw_writereplay_on_event(struct cw_writereplay *r, const struct cw_as_event *ev);

/*
 * Queue @verb @uri (content-type @ctype, "" if none; body @body, @len
 * bytes) if it is a write writepolicy.h queues, and set *@seq. Returns 0,
 * -EPERM (not such a write), -ENOSPC (the queue is full: counted), or the
 * errors of cw_writeq_push().
 */
int cw_writereplay_enqueue(struct cw_writereplay *r, const char *verb, const char *uri,
			   const char *ctype, const void *body, size_t len, uint64_t *seq);

/* Whether writes are waiting: a new write of a queued kind must go behind
 * them, not around them. */
bool cw_writereplay_pending(const struct cw_writereplay *r);

void cw_writereplay_stats(const struct cw_writereplay *r, struct cw_writereplay_stats *out);

#endif /* CW_AGENT_WRITEREPLAY_H */
