/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A view of the edge hub's object store (edgestore.h): a list or watch
 * query without its paging, version and watch parameters. The resource's
 * path (namespace included) and its label and field selectors make the
 * view; so
 *   /api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1
 *   /api/v1/pods?watch=true&resourceVersion=5&fieldSelector=spec.nodeName=edge-1
 *   /api/v1/watch/pods?fieldSelector=spec.nodeName%3Dedge-1&allowWatchBookmarks=true
 * are one view, whose list the store keeps and whose watch events it
 * follows. kubelet and kube-proxy use a handful of fixed views.
 *
 * The normal form (the key) is the path, a trailing '/' and a legacy
 * /watch/ segment dropped, then fieldSelector and labelSelector in that
 * order when not empty, their values percent-decoded ('+' is a space, as
 * Go's url.ParseQuery has it) and encoded again, every byte but
 * [A-Za-z0-9-._~] as %XX in capitals. The store names the view by a
 * 64-bit FNV-1a hash of the key ("view-" and 16 hex digits), so its keys
 * stay short whatever the selectors; the store keeps the key too and
 * checks it, so two views that collide are never mixed (edgestore.c).
 *
 * Sans-I/O, no allocation.
 */
#ifndef CW_AGENT_EDGEVIEW_H
#define CW_AGENT_EDGEVIEW_H

#include <stdbool.h>
#include <stdint.h>

#define CW_EDGEVIEW_KEY_MAX  400 /* the key with its NUL: it is kept in LMDB (511) */
#define CW_EDGEVIEW_NAME_MAX 22	 /* "view-", 16 hex digits, NUL */

struct cw_edgeview {
	char key[CW_EDGEVIEW_KEY_MAX];
	char name[CW_EDGEVIEW_NAME_MAX]; /* the store's resource name */
	bool watch;			 /* watch=true/1, or a /watch/ path */
	bool bookmarks;			 /* allowWatchBookmarks=true/1 */
	bool cont;			 /* a continue token: a later page */
	uint64_t rv;			 /* resourceVersion; 0 when absent or "0" */
	uint32_t timeout_s;		 /* timeoutSeconds; 0 when absent */
};

/*
 * The view of request URI @uri (path and query, as an HTTP request line
 * has it) into *@v. Returns 0; -ENOENT when the request is not a list or
 * watch of a collection under /api/ or /apis/ (one object, a subresource,
 * another path) or asks something the view cannot answer (a parameter
 * other than watch, resourceVersion, resourceVersionMatch, limit,
 * continue, timeoutSeconds, allowWatchBookmarks, labelSelector and
 * fieldSelector); -EINVAL for a malformed query (bad %-escape, a
 * resourceVersion that is not a canonical decimal, a bad timeoutSeconds,
 * a parameter given twice); -ENAMETOOLONG when the key does not fit.
 */
int cw_edgeview_parse(const char *uri, struct cw_edgeview *v);

#endif /* CW_AGENT_EDGEVIEW_H */
