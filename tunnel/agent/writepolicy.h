/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the edge hub does with the node's writes while the API server
 * cannot be reached, and with their answers when they are replayed: pure
 * functions, no I/O (writereplay.c drives them, tests/unit/
 * test_writepolicy.c checks them).
 *
 * Queued (cw_wp_classify()): the writes a node makes on its own behalf,
 * which lose nothing by arriving late -
 *   pod status     PATCH or PUT  /api/v1/namespaces/NS/pods/NAME/status
 *   node status    PATCH or PUT  /api/v1/nodes/NAME/status
 *   leases         POST, PUT or PATCH
 *                  /apis/coordination.k8s.io/v1/namespaces/NS/leases[/NAME]
 *   events         POST or PATCH /api/v1/namespaces/NS/events[/NAME] and
 *                  /apis/events.k8s.io/v1/namespaces/NS/events[/NAME]
 * Anything else (creating or deleting pods, spec changes...) is refused
 * with 503 as before: replayed late it could undo someone else's decision.
 *
 * Replay (cw_wp_decide()), one entry at a time, oldest first:
 *   2xx                              done: the entry goes
 *   no answer (session lost, any Error
 *   from the gateway), a 5xx or 429  kept: replay stops, tried again later;
 *                                    a write the API server did apply is
 *                                    then a 409 (lease, event) or the same
 *                                    status again: harmless
 *   409 Conflict, by resource:
 *     pod or node status             re-sent once without its precondition
 *                                    (metadata.resourceVersion taken out of
 *                                    the body): the node is the authority
 *                                    on its own status
 *     a lease PUT or PATCH           the current lease is read; if its
 *                                    holderIdentity is this node or empty
 *                                    ours is written with the current
 *                                    resourceVersion (the node's renewal
 *                                    wins), else ours is dropped
 *     an event, a lease POST         409 AlreadyExists: it is there, left
 *                                    as it is; the entry goes
 *     anything else                  dropped and logged
 *   any other 4xx                    dropped, counted and logged
 * Every 409 handled by the policy counts as a conflict resolved; every
 * entry thrown away unapplied (other 4xx, a lease another node holds, a
 * conflict with no policy) counts as dropped.
 *
 * Coalescing (cw_wp_supersedes()): a lease PUT replaces whole any PUT of
 * the same lease still queued, so only the latest renewal is replayed.
 */
#ifndef CW_AGENT_WRITEPOLICY_H
#define CW_AGENT_WRITEPOLICY_H

#include <stdbool.h>
#include <stddef.h>

enum cw_wp_kind {
	CW_WP_NONE = 0, /* not queued: 503 without a session */
	CW_WP_POD_STATUS,
	CW_WP_NODE_STATUS,
	CW_WP_LEASE,
	CW_WP_EVENT,
};

enum cw_wp_action {
	CW_WP_DONE = 0,	  /* applied: remove the entry */
	CW_WP_RETRY,	  /* keep it, stop, try again after a backoff */
	CW_WP_REAPPLY,	  /* send cw_wp_strip_rv() of the body */
	CW_WP_LEASE_READ, /* GET the lease, then cw_wp_lease_rebase() */
	CW_WP_RESOLVED,	  /* a conflict settled by leaving it: remove */
	CW_WP_DROP,	  /* cannot be applied: remove, count, log */
};

/* Which queued kind the write @verb @uri (path and query) is. */
enum cw_wp_kind cw_wp_classify(const char *verb, const char *uri);

/*
 * What to do after the answer @status (an HTTP status; 0: no answer from
 * the API server - session lost, the gateway's Error) to the first try of
 * a @kind write with @verb. A second try (the body of CW_WP_REAPPLY, the
 * lease of CW_WP_LEASE_READ, or that GET itself) is decided as CW_WP_NONE:
 * 2xx done, no answer / 5xx / 429 retry, anything else drop.
 */
enum cw_wp_action cw_wp_decide(enum cw_wp_kind kind, const char *verb, unsigned status);

/* Whether a queued @verb of @kind replaces earlier ones of the same URI. */
bool cw_wp_supersedes(enum cw_wp_kind kind, const char *verb);

/*
 * @body (JSON object, @len bytes) without metadata.resourceVersion, into
 * *@out (malloc'd, *@out_len bytes). Returns 0, -ENOENT (it had none: the
 * conflict is not about it), -EINVAL (not a JSON object), -ENOMEM.
 */
int cw_wp_strip_rv(const void *body, size_t len, char **out, size_t *out_len);

/*
 * Our lease write @ours (the queued PUT's body, or with @patch a patch of
 * one) made to apply on top of @current (the lease upstream now), into
 * *@out (malloc'd, *@out_len bytes): a PUT body with @current's
 * metadata.resourceVersion, a patch without any (unconditional). Returns
 * 0, -EPERM when @current's spec.holderIdentity is neither @node nor
 * empty (drop ours), -EINVAL (not JSON objects), -ENOMEM.
 */
int cw_wp_lease_rebase(const void *ours, size_t ours_len, bool patch, const void *current,
		       size_t cur_len, const char *node, char **out, size_t *out_len);

#endif /* CW_AGENT_WRITEPOLICY_H */
