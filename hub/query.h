/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a read of the Kubernetes API asks, from its path and query string,
 * as the cloud hub serves it (control/hubserve.c):
 *
 *   /api/v1[/namespaces/NS]/RESOURCE[/NAME]
 *   /apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[/NAME]
 *
 * and the list/watch parameters watch, resourceVersion,
 * resourceVersionMatch, limit, continue, timeoutSeconds, labelSelector,
 * fieldSelector, allowWatchBookmarks. The query string is decoded as Go's
 * url.ParseQuery does ('&'-separated key=value pairs, %XX and '+').
 *
 * Anything the hub does not serve gives -EINVAL, so that the request goes
 * to the upstream unchanged, which answers it (or refuses it) itself: a
 * path of another shape, a subresource, an unknown, repeated or
 * malformed parameter (a bad %-escape, a number that is not a canonical
 * decimal, an unknown resourceVersionMatch), a selector that does not
 * parse, a watch of one named object.
 */
#ifndef CW_HUB_QUERY_H
#define CW_HUB_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub/selector.h"
#include "hub/store.h"

#define CW_QUERY_SEG_MAX 256 /* a path segment, with its NUL */

struct cw_hub_query {
	char resource[2 * CW_QUERY_SEG_MAX]; /* the store's name: "pods",
						"endpointslices.discovery.k8s.io" */
	char api[2 * CW_QUERY_SEG_MAX];	     /* "v1", "discovery.k8s.io/v1" */
	char ns[CW_QUERY_SEG_MAX];	     /* "": all namespaces (or cluster-scoped) */
	char name[CW_QUERY_SEG_MAX];	     /* "": a list or a watch */
	char node[CW_QUERY_SEG_MAX];  /* fieldSelector's plain spec.nodeName=X term; "": none */
	char fname[CW_QUERY_SEG_MAX]; /* its plain metadata.name=X term; "": none */
	bool watch;
	bool bookmarks; /* allowWatchBookmarks */
	uint64_t rv;	/* resourceVersion; 0: unset or "0" */
	enum cw_rv_match match;
	size_t limit; /* 0: none */
	char cont[CW_STORE_CONTINUE_MAX];
	uint32_t timeout_s;		     /* 0: none */
	struct cw_selector *labels, *fields; /* NULL: none */
};

/*
 * Parse @path and @query (NUL-terminated; @query without the '?', NULL or
 * "" for none) into *@q. Returns 0 (release *@q with cw_hub_query_release),
 * -EINVAL for a request the hub does not serve (*@q is then released), or
 * -ENOMEM.
 */
int cw_hub_query_parse(const char *path, const char *query, struct cw_hub_query *q);

/*
 * What a watcher with a selector is sent for an event of @type (ADDED,
 * MODIFIED, DELETED) whose object matches the selector (@now; for DELETED:
 * the object's last state) and whose previous state did (@before: 1 or 0;
 * -1 unknown: no previous state, or a DELETED), as kube-apiserver's watch
 * cache decides (cacheWatcher.convertToWatchEvent): in the selector
 * before and after is MODIFIED, only after ADDED, only before DELETED,
 * neither nothing (0). Without a previous state the object alone decides
 * and the type stays. (The apiserver's DELETED for an object leaving the
 * selector carries the previous state with the event's resourceVersion;
 * the hub sends the new object, which has that resourceVersion as sent.)
 */
enum cw_ev_type cw_hub_watch_type(enum cw_ev_type type, int before, bool now);

/* Free the selectors *@q holds; idempotent. */
void cw_hub_query_release(struct cw_hub_query *q);

/*
 * Decode the query-string component @s[0..@len) ('+' is a space, %XX a
 * byte) into @out (@cap bytes, NUL-terminated). Returns the decoded
 * length, -EINVAL for a bad escape or a NUL byte, -ENAMETOOLONG when it
 * does not fit.
 */
int cw_query_unescape(const char *s, size_t len, char *out, size_t cap);

#endif /* CW_HUB_QUERY_H */
