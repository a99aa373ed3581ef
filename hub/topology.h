/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service topology filter (DESIGN.md §5, issue 5): an EndpointSlice
 * sent to a node keeps only the endpoints on nodes of that node's pool,
 * when its Service asks for it.
 *
 * A Service asks with the annotation
 *     causeway.io/topology: pool
 * or OpenYurt's
 *     openyurt.io/topologyKeys: openyurt.io/nodepool   (or kubernetes.io/zone,
 *                                                       which OpenYurt reads alike)
 * The EndpointSlice names its Service with the label
 * kubernetes.io/service-name (same namespace). A node's pool is its label
 * causeway.io/pool, else OpenYurt's apps.openyurt.io/nodepool.
 *
 * Pure functions over JSON: where the Service, the nodes and the
 * requester's pool come from is the caller's (control/hubserve.c).
 */
#ifndef CW_HUB_TOPOLOGY_H
#define CW_HUB_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CW_TOPO_SERVICE_LABEL "kubernetes.io/service-name"
#define CW_TOPO_POOL_MAX      64 /* a pool name (a label value, <= 63), with its NUL */

/* The pool named by node labels @labels (a JSON object; NULL allowed), or
 * NULL when it has none (or an empty or over-long one). Points into @labels. */
const char *cw_topo_node_pool(const json_t *labels);

/* True when the Service object @svc (its parsed JSON; NULL allowed) asks
 * for its endpoints to be filtered by pool. */
bool cw_topo_service_wants_pool(const json_t *svc);

/*
 * The pool of node @node into @pool (CW_TOPO_POOL_MAX bytes): 0, -ENOENT
 * when the node or its pool is unknown, or another negative errno (which
 * stops the filter and is returned).
 */
typedef int (*cw_topo_pool_fn)(const char *node, char *pool, void *ctx);

/*
 * Filter the EndpointSlice JSON @slice[0..@len) for a node of pool @pool
 * (non-empty): endpoints[] keeps the endpoints whose nodeName is in @pool
 * by @fn (one without a nodeName, or on a node of unknown pool, is not in
 * it), in their order; every other member stays as it is (re-serialised
 * by jansson, compact, in the same order). When every endpoint stays (or
 * there is no endpoints array) *@out is NULL: serve @slice unchanged.
 * Else *@out is the filtered JSON (malloc'd, *@out_len bytes, not
 * NUL-terminated for the caller's purpose but NUL-terminated in memory).
 * Returns 0, -EINVAL (not a JSON object, or duplicate keys: a rewrite
 * would lose them), -ENOMEM, or @fn's error.
 */
int cw_topo_filter(const void *slice, size_t len, const char *pool, cw_topo_pool_fn fn, void *ctx,
		   char **out, size_t *out_len);

#endif /* CW_HUB_TOPOLOGY_H */
