/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The edge hub's cache (DESIGN.md §5): the node's last answers to its
 * reads, on disk (LMDB in [agent] cache_dir), so that kubelet and
 * kube-proxy keep getting them while the gateway cannot be reached, and
 * after the agent restarts with no link.
 *
 * Keyed by the request as the client made it (method and URI: path and
 * query), like YurtHub's: an answer serves exactly the request that got
 * it. Only whole 200 answers to GETs that are not watches are kept, with
 * their content-type; a newer one replaces the older. Lists of views are
 * kept by the edge store instead (edgestore.h), which also keeps the
 * heads of its views here, under keys "view:NAME" (no URI starts so).
 * One LMDB write transaction per answer, synced: a kill -9 or power cut
 * leaves the last one stored.
 */
#ifndef CW_AGENT_EDGECACHE_H
#define CW_AGENT_EDGECACHE_H

#include <stddef.h>
#include <stdint.h>

#define CW_EDGECACHE_KEY_MAX 511 /* LMDB's key limit: longer URIs are not kept */

struct cw_edgecache;

struct cw_edgecache_stats {
	uint64_t stored, hits, misses;
	uint64_t entries; /* at open, then as stored */
};

/* Open (creating it) the cache in directory @dir, at most @map_size bytes.
 * Returns 0 and *@out, or a negative errno (logged by the caller). */
int cw_edgecache_open(const char *dir, size_t map_size, struct cw_edgecache **out);

void cw_edgecache_close(struct cw_edgecache *c);

/* Keep @body (@len bytes, content-type @ctype, may be "") as the answer to
 * GET @uri. Returns 0, -ENAMETOOLONG (not kept), -ENOSPC, -EIO. */
int cw_edgecache_put(struct cw_edgecache *c, const char *uri, const char *ctype, const void *body,
		     size_t len);

/*
 * The kept answer to GET @uri, passed to @fn (content-type, body; valid
 * during the call), whose return is returned. -ENOENT when there is none.
 */
int cw_edgecache_get(struct cw_edgecache *c, const char *uri,
		     int (*fn)(const char *ctype, const void *body, size_t len, void *ctx),
		     void *ctx);

const struct cw_edgecache_stats *cw_edgecache_stats(const struct cw_edgecache *c);

#endif /* CW_AGENT_EDGECACHE_H */
