/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-fake-apiserver: a test double that speaks kube-apiserver's REST/
 * JSON protocol for the resources the hub caches. One concern per file:
 *   fake_apiserver.c            CLI, event loop, routing, request counters
 *   fake_apiserver_discovery.c  the resource table and discovery documents
 *   fake_apiserver_store.c      objects, the revision counter, history
 *   fake_apiserver_verbs.c      get, list, create, update, patch, delete
 *   fake_apiserver_patch.c      JSON merge patch and strategic merge patch
 *   fake_apiserver_watch.c      watch streams, bookmarks, timeouts
 *   fake_apiserver_reply.c      JSON replies and Status errors
 *   fake_apiserver_admin.c      /fake/ test controls and statistics
 *   fake_apiserver_tls.c        HTTPS
 * Everything runs on one libevent loop: no locking anywhere.
 */
#ifndef CW_FAKE_APISERVER_H
#define CW_FAKE_APISERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "hub/selector.h"

struct fa_resource {
	const char *name;     /* plural, as in the URL: "pods" */
	const char *singular; /* "pod" */
	const char *kind;     /* "Pod" */
	const char *group;    /* "" for the core group */
	const char *version;  /* "v1" */
	const char *short_name;
	bool namespaced;
	bool has_status; /* a /status subresource; the main resource keeps status */
};

/* ---- discovery ---- */

/* The @i-th served resource, NULL past the last. */
const struct fa_resource *fa_resource_at(size_t i);
/* The served resource named @name in @group/@version, or NULL. */
const struct fa_resource *fa_resource_find(const char *group, const char *version,
					   const char *name);
/* The resource whose objects have @api_version ("v1", "g/v") and @kind. */
const struct fa_resource *fa_resource_by_kind(const char *api_version, const char *kind);
/* "v1" or "group/version" into @buf (at least 64 bytes). */
const char *fa_api_version(const struct fa_resource *res, char *buf, size_t len);
/* The discovery document for @path (/version, /api, /apis...), or NULL. */
json_t *fa_discovery(const char *path);

/* ---- store ---- */

enum fa_ev_type { FA_ADDED, FA_MODIFIED, FA_DELETED };

struct fa_event {
	uint64_t rv;
	enum fa_ev_type type;
	const struct fa_resource *res;
	char *key;
	json_t *obj;  /* the object after; for FA_DELETED its last state at rv */
	json_t *prev; /* the object before; NULL for FA_ADDED */
};

typedef void fa_event_fn(void *arg, const struct fa_event *ev);

struct fa_store {
	json_t *objs;	    /* key "resource/namespace/name" -> object */
	uint64_t rv;	    /* the last revision written */
	uint64_t compacted; /* changes up to this revision are forgotten */
	struct fa_event *ring;
	size_t cap, head, len; /* history: the @len changes after @compacted */
	uint64_t uid_seq;
	fa_event_fn *on_event;
	void *arg;
};

/* An empty store keeping the last @history changes. 0 or -ENOMEM. */
int fa_store_init(struct fa_store *st, size_t history, fa_event_fn *fn, void *arg);
void fa_store_free(struct fa_store *st);
/* The key of an object (malloc'd), NULL on allocation failure. */
char *fa_key(const struct fa_resource *res, const char *ns, const char *name);
/* The object at @key now (borrowed), or NULL. */
json_t *fa_store_get(const struct fa_store *st, const char *key);
/*
 * Write @obj (reference stolen; the store owns it and sets its
 * metadata.resourceVersion) at @key as a new revision, recorded in the
 * history and passed to the event callback. 0 or -ENOMEM.
 */
int fa_store_put(struct fa_store *st, const struct fa_resource *res, const char *key, json_t *obj);
/* Delete @key as a new revision; *@last (new reference) gets its final state. */
int fa_store_delete(struct fa_store *st, const struct fa_resource *res, const char *key,
		    json_t **last);
/*
 * The objects under key prefix @prefix as they were at revision @rv: a new
 * JSON object key -> object. -EOVERFLOW if @rv > st->rv, -ESTALE if the
 * history no longer reaches back to @rv, -ENOMEM.
 */
int fa_store_snapshot(const struct fa_store *st, const char *prefix, uint64_t rv, json_t **out);
/*
 * Call @fn for every retained change after revision @rv, oldest first.
 * -ESTALE if changes after @rv have been forgotten, -EOVERFLOW if @rv is in
 * the future.
 */
int fa_store_since(const struct fa_store *st, uint64_t rv, fa_event_fn *fn, void *arg);
/* Forget all but the last @keep changes. */
void fa_store_compact(struct fa_store *st, size_t keep);
/* A fresh uid, "00000000-0000-4000-8000-" and a 12-digit sequence number. */
void fa_store_uid(struct fa_store *st, char buf[37]);

/* ---- the server ---- */

struct fa_watch;

struct fa_server {
	struct event_base *base;
	struct evhttp *http;
	struct fa_store store;
	struct fa_watch *watches; /* doubly linked */
	uint64_t bookmark_ms;
	const char *token; /* NULL: no authentication */
	json_t *requests;  /* verb -> resource -> count */
	uint64_t requests_total;
	uint64_t watches_total;
};

/* A request to a resource URL, routed. */
struct fa_req {
	struct fa_server *srv;
	struct evhttp_request *req;
	const struct fa_resource *res;
	const char *ns;	  /* NULL: none in the URL */
	const char *name; /* NULL: a collection */
	const char *sub;  /* NULL or "status" */
	struct evkeyvalq *query;
};

/* A query parameter, NULL if absent. */
const char *fa_param(const struct fa_req *r, const char *key);

/* ---- verbs ---- */

void fa_get(struct fa_req *r);
void fa_list(struct fa_req *r);
void fa_create(struct fa_req *r);
void fa_update(struct fa_req *r);
void fa_patch(struct fa_req *r);
void fa_delete(struct fa_req *r);
/*
 * Create @obj (reference stolen) as a @res in namespace @ns (NULL: from the
 * object). Returns the HTTP status (201, or an error) and in *@out a new
 * reference to the created object or to a Status.
 */
int fa_create_object(struct fa_server *srv, const struct fa_resource *res, const char *ns,
		     json_t *obj, json_t **out);
/* Load every *.json file in @dir (an object or a List) in name order. 0 or -errno. */
int fa_seed(struct fa_server *srv, const char *dir);
/* Parse selectors from the query: 0, or an error already replied. */
int fa_selectors(struct fa_req *r, struct cw_selector **labels, struct cw_selector **fields);

/* ---- patch ---- */

/* RFC 7386: a new object, @target with @patch merged in. NULL: no memory. */
json_t *fa_merge_patch(const json_t *target, const json_t *patch);
/*
 * Strategic merge patch: as RFC 7386, plus lists merged by key for the
 * fields in fake_apiserver_patch.c's table, $patch: delete/replace and
 * $deleteFromPrimitiveList; $setElementOrder and $retainKeys are ignored.
 * NULL with @err set (at most 256 bytes) on a malformed patch.
 */
json_t *fa_strategic_merge(const json_t *target, const json_t *patch, char *err);

/* ---- watch ---- */

/* Start a watch stream for @r (GET ?watch=1). */
void fa_watch_start(struct fa_req *r);
/* Send @ev to every watch that selects it (the store's event callback). */
void fa_watch_event(void *srv, const struct fa_event *ev);
/* End every watch stream (as a restart does). */
void fa_watch_close_all(struct fa_server *srv);
/* Open watches of @res (NULL: all). */
size_t fa_watch_count(const struct fa_server *srv, const struct fa_resource *res);

/* ---- replies ---- */

/* Send @body (reference stolen) as JSON with status @code. */
void fa_reply_json(struct evhttp_request *req, int code, json_t *body);
/* A Status object: failure @code/@reason with @message; @res/@name for details. */
json_t *fa_status(int code, const char *reason, const char *message, const struct fa_resource *res,
		  const char *name);
/* Reply with a failure Status; @fmt formats the message. */
void fa_reply_error(struct evhttp_request *req, int code, const char *reason,
		    const struct fa_resource *res, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The HTTP reason phrase of @code. */
const char *fa_reason_phrase(int code);
/* The media type of the request body (no parameters) in @buf, "" if none. */
const char *fa_media_type(struct evhttp_request *req, char *buf, size_t len);
/* The request body as JSON: 0, or -EINVAL with an error already replied. */
int fa_body_json(struct evhttp_request *req, json_t **out);

/* ---- admin ---- */

/* Serve /fake/...: stats, compact, restart. */
void fa_admin(struct fa_server *srv, struct evhttp_request *req, const char *path,
	      struct evkeyvalq *query);
/* Count one request of @verb on @resource. */
void fa_count(struct fa_server *srv, const char *verb, const char *resource);

/* ---- TLS ---- */

/*
 * Serve HTTPS on @http with certificate chain file @cert and key file @key
 * (PEM); *@out gets the context to free after evhttp_free. 0, -EINVAL (bad
 * files, reason on stderr) or -ENOMEM.
 */
int fa_tls_setup(struct evhttp *http, const char *cert, const char *key, SSL_CTX **out);

#endif
