/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service topology filter as the cloud hub applies it
 * (hub/topology.h): the Services, the Nodes and the requesting node's pool
 * looked up in the hub's store, for control/hubserve.c.
 *
 * A node's pool: its Node object's pool label (causeway.io/pool, else
 * apps.openyurt.io/nodepool) in the store's "nodes", else the pool of its
 * session in the node directory (the agent's Assignment). The label comes
 * first because it is what the endpoints' nodes are known by: a node
 * without a session has only its label, and both sides of the comparison
 * must read the same source when they can.
 *
 * An EndpointSlice is filtered when the Service its
 * kubernetes.io/service-name label names (same namespace; in the store's
 * "services") asks for it, and the requesting node has a pool. So
 * [hub] resources needs /api/v1/services and /api/v1/nodes next to
 * /apis/discovery.k8s.io/v1/endpointslices.
 *
 * Lookups read the store each time (a get is one LMDB read) and keep
 * what they parsed, by name and resourceVersion, in small direct-mapped
 * caches: a Node or Service is parsed again only when it changed. On the
 * control thread (the node directory's RCU rules: a registered thread).
 */
#ifndef CW_HUBTOPO_H
#define CW_HUBTOPO_H

#include <stdbool.h>
#include <stddef.h>

#include "hub/object.h"
#include "hub/store.h"
#include "hub/topology.h"

struct cw_nodedir;
struct cw_hubtopo;

/* Returns 0 and *@out, -ENOMEM. @nodes may be NULL (labels only). */
int cw_hubtopo_new(struct cw_store *store, struct cw_nodedir *nodes, struct cw_hubtopo **out);

void cw_hubtopo_free(struct cw_hubtopo *t);

/* Node @node's pool into @pool (CW_TOPO_POOL_MAX bytes). Returns 0,
 * -ENOENT when it has none known, or the store's error. */
int cw_hubtopo_node_pool(struct cw_hubtopo *t, const char *node, char *pool);

/* True when the Service of EndpointSlice @slice (parsed) asks for the
 * pool filter. */
bool cw_hubtopo_wanted(struct cw_hubtopo *t, const struct cw_obj *slice);

/*
 * EndpointSlice @slice (parsed from @bytes[0..@len), which must be valid
 * now: @slice->bytes may be stale) for a node of @pool: *@out NULL when they
 * are to be sent unchanged (the Service does not ask, nothing is
 * dropped, or the slice cannot be rewritten: the filter fails open), else
 * the filtered JSON (malloc'd, *@out_len bytes). Returns 0 or -ENOMEM.
 */
int cw_hubtopo_filter(struct cw_hubtopo *t, const struct cw_obj *slice, const void *bytes,
		      size_t len, const char *pool, char **out, size_t *out_len);

#endif /* CW_HUBTOPO_H */
