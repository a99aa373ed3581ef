/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watches the edge hub serves from its store (edgestore.h) while the
 * gateway cannot be reached: instead of a hang, or a 410 that sends the
 * client to list again, a watch of a view the store has gets
 *   - from resourceVersion RV: the view's changes after RV, as
 *     ADDED/MODIFIED/DELETED lines; RV older than the history the store
 *     keeps: one ERROR line (410 Expired) and the end, as the API server
 *     does;
 *   - without one (or "0"): the view's objects, each as ADDED;
 * then it is held open, with a BOOKMARK at the view's version every
 * CW_EDGEWATCH_BOOKMARK_S seconds when the client allows them, until its
 * timeoutSeconds (CW_EDGEWATCH_TIMEOUT_S when it gives none) or until
 * the link is back (cw_edgewatch_end_all()), when it ends cleanly (the
 * chunked answer's end) and the client watches again, through the
 * tunnel, from the version it has. The answers carry X-Causeway-Cache:
 * hit.
 */
#ifndef CW_AGENT_EDGEWATCH_H
#define CW_AGENT_EDGEWATCH_H

#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "edgestore.h"
#include "edgeview.h"

#define CW_EDGEWATCH_BOOKMARK_S 60
#define CW_EDGEWATCH_TIMEOUT_S	300

struct cw_edgewatch;

struct cw_edgewatch_stats {
	uint64_t served;  /* watches answered from the store */
	uint64_t expired; /* of which answered 410 (too old) */
	uint64_t open;	  /* held open now */
};

/* The offline watches of @es on @base. Returns 0 and *@out, -ENOMEM. */
int cw_edgewatch_new(struct event_base *base, struct cw_edgestore *es, struct cw_edgewatch **out);

/* End every watch and free @w (NULL: no-op). */
void cw_edgewatch_free(struct cw_edgewatch *w);

/*
 * Answer watch request @req of view @v from the store. Returns 0 (@req is
 * answered, or held open: no longer the caller's), -ENOENT (the store
 * does not have the view), -ENOMEM, -EIO, -EBADMSG (@req is still the
 * caller's to answer).
 */
int cw_edgewatch_serve(struct cw_edgewatch *w, struct evhttp_request *req,
		       const struct cw_edgeview *v);

/* The link is back: end every open watch. */
void cw_edgewatch_end_all(struct cw_edgewatch *w);

void cw_edgewatch_stats(const struct cw_edgewatch *w, struct cw_edgewatch_stats *out);

#endif /* CW_AGENT_EDGEWATCH_H */
