/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub route (DESIGN.md §5): agents' reads of the resources the cloud
 * hub reflects are answered from its store (hub/store.h), so the upstream
 * sees one watch per resource however many agents there are.
 *
 *   GET .../RESOURCE            a List: {"kind":"...List","metadata":
 *                               {"resourceVersion":...},"items":[...]}, the
 *                               items the bytes the upstream sent; limit and
 *                               continue; resourceVersion(Match)
 *   GET .../RESOURCE/NAME       the object, or 404 NotFound
 *   GET ...?watch=true          ApiResponse 200, then WatchEvents from the
 *                               resourceVersion asked (the store's history;
 *                               ERROR 410 Expired when it is older), then
 *                               live; ends after timeoutSeconds
 *
 * in all namespaces or one (/namespaces/NS/), with labelSelector and
 * fieldSelector (spec.nodeName= through the store's node index). What the
 * hub does not serve this way (other verbs, other resources, what
 * hub/query.h does not parse) goes to the upstream route's handler
 * unchanged.
 *
 * A watch with a selector sees an object that stops matching it as
 * DELETED (the new object) and one that starts to as ADDED, as from
 * kube-apiserver's watch cache: the store's history keeps each event's
 * previous state (hub/store.h).
 *
 * EndpointSlices are filtered by the requesting node's pool when their
 * Service asks for it (control/hubtopo.h): in lists, gets and watch
 * events; a watch event is parsed and filtered once per pool however
 * many watchers it goes to.
 *
 * A watcher's cursor is the resourceVersion it has been sent up to: each
 * change the reflectors announce (cw_hubserve_changed()) and each time
 * its stream has room again, it reads on from the store's history, so a
 * slow agent holds no queue of its own and a fast one is not held back.
 * The watchers that were caught up with the previous change, nearly all
 * of them, take a change from one read of the history together, and each
 * event is encoded once per type and pool, whatever the number of
 * watchers: what a watcher costs is a copy of those bytes into its
 * stream.
 */
#ifndef CW_HUBSERVE_H
#define CW_HUBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/apiserve.h"
#include "hub/store.h"

struct event_base;
struct cw_hubserve;
struct cw_nodedir;

struct cw_hubserve_stats {
	uint64_t lists, gets, watches; /* served from the store */
	uint64_t passed;	       /* handed to the upstream route */
	uint64_t events;	       /* watch events sent */
	uint64_t expired;	       /* watches answered 410 (too old) */
	uint64_t filtered;	       /* EndpointSlices sent with endpoints left out */
	uint64_t topo_runs;	       /* put through the filter: a watch event once per pool */
	uint64_t watchers;	       /* open now */
	uint64_t fanouts;	       /* changes read once for all watchers caught up */
	uint64_t encodes;	       /* watch events encoded: once per event, type, pool */
};

/*
 * Serve from @store the resources named @resources[0..@n) (store names,
 * see control/reflector.h), passing the rest to @upstream(@up_ctx) (NULL:
 * answered UPSTREAM_UNAVAILABLE). @nodes (may be NULL): the node
 * directory, for the pools of nodes without a pool label. Returns 0 and
 * *@out, -ENOMEM.
 */
int cw_hubserve_new(struct event_base *base, struct cw_store *store, struct cw_nodedir *nodes,
		    const char *const *resources, unsigned n, cw_api_handler_fn upstream,
		    void *up_ctx, struct cw_hubserve **out);

/* End every watch and free @h (NULL: no-op). */
void cw_hubserve_free(struct cw_hubserve *h);

/* The apiserve handler of the hub route; @ctx is the cw_hubserve. */
int cw_hubserve_serve(void *ctx, struct cw_api_call *call, bool more);

/* A reflector stored changes of @resource up to @rv, the store's highest
 * RV for it now: watchers read on. */
void cw_hubserve_changed(void *ctx, const char *resource, uint64_t rv);

const struct cw_hubserve_stats *cw_hubserve_stats(const struct cw_hubserve *h);

#endif /* CW_HUBSERVE_H */
