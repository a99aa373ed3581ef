/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A reflector (DESIGN.md §5): one resource of the upstream API server
 * kept in the hub's store, with one watch however many agents read it.
 *
 * List, then watch from the list's resourceVersion (with bookmarks); each
 * event is applied to the store (hub/store.h) and announced (@on_change).
 * When the watch ends it is taken up again from the store's highest
 * resourceVersion; when the server answers 410 Gone (its history was
 * compacted) the resource is listed again and the store applies the list
 * as the difference, recording it as events, so no watcher misses a
 * change. A store that already holds the resource (a restart with a warm
 * store) resumes with a watch from its resourceVersion, without a list.
 * Errors back off from 0.5 s to 30 s.
 *
 * On the control thread's loop, through the upstream client's settings
 * (control/upstream.h) and its libcurl multi (control/curlev.h).
 */
#ifndef CW_REFLECTOR_H
#define CW_REFLECTOR_H

#include <stdint.h>

#include "control/curlev.h"
#include "control/upstream.h"
#include "hub/store.h"

struct event_base;
struct cw_reflector;

struct cw_reflector_stats {
	uint64_t lists, relists; /* full lists; of which after 410 Gone */
	uint64_t watches;	 /* watches started */
	uint64_t events, bookmarks;
	uint64_t errors; /* failed transfers, bad answers, store errors */
	uint64_t rv;	 /* the store's highest resourceVersion of it */
};

/*
 * Reflect the resource at API path @path ("/api/v1/pods",
 * "/apis/discovery.k8s.io/v1/endpointslices") into @store under the name
 * cw_reflector_resource() gives. @on_change(@ctx, resource, rv) runs after
 * each change the store took. Starts at once. Returns 0 and *@out,
 * -EINVAL (a path of neither form), -ENOMEM.
 */
int cw_reflector_new(struct event_base *base, struct cw_curlev *cev, struct cw_upstream *up,
		     struct cw_store *store, const char *path,
		     void (*on_change)(void *ctx, const char *resource, uint64_t rv), void *ctx,
		     struct cw_reflector **out);

/* The store's name of the resource at API path @path into @out: "/api/v1/RES"
 * is "RES", "/apis/GROUP/VERSION/RES" is "RES.GROUP". Returns 0 or -EINVAL. */
int cw_reflector_name(const char *path, char *out, size_t cap);

/* Stop and free @r (NULL: no-op). */
void cw_reflector_free(struct cw_reflector *r);

/* The store's name of the resource: "pods", "endpointslices.discovery.k8s.io". */
const char *cw_reflector_resource(const struct cw_reflector *r);

const struct cw_reflector_stats *cw_reflector_stats(const struct cw_reflector *r);

#endif /* CW_REFLECTOR_H */
