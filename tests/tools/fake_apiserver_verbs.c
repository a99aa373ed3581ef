/* SPDX-License-Identifier: Apache-2.0 */
/*
 * get, list, create, update (PUT), patch and delete on the store, with
 * kube-apiserver's rules where tests can see them: uid, creationTimestamp,
 * generation (+1 when spec changes) and resourceVersion set by the server;
 * 409 AlreadyExists on create, 409 Conflict on a stale resourceVersion; a
 * write that changes nothing makes no revision; on pods and nodes the main
 * resource ignores status and /status changes nothing but status.
 *
 * list: labelSelector, fieldSelector, limit and continue (the token carries
 * the snapshot revision: later pages are served as of it; 410 Expired when
 * the history no longer reaches it). resourceVersion: unset, "" or "0" -
 * the current state; N with resourceVersionMatch=Exact, or with no match
 * and a limit - the state at N (410 Expired if compacted, 504 if in the
 * future); N otherwise (NotOlderThan) - the current state, 504 if N is
 * ahead of it. Delete is immediate (no graceful deletion, no finalizers).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "tests/tools/fake_apiserver.h"

int fa_selectors(struct fa_req *r, struct cw_selector **labels, struct cw_selector **fields)
{
	char err[CW_SELECTOR_ERR_MAX];

	*fields = NULL;
	if (cw_label_selector_parse(fa_param(r, "labelSelector"), labels, err, sizeof(err)) < 0 ||
	    cw_field_selector_parse(fa_param(r, "fieldSelector"), fields, err, sizeof(err)) < 0) {
		cw_selector_free(*labels);
		*labels = NULL;
		fa_reply_error(r->req, 400, "BadRequest", NULL, NULL,
			       "unable to parse requirement: %s", err);
		return -EINVAL;
	}
	return 0;
}

static const char *meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* A decimal revision: 0 and *@rv, or -1. */
static int parse_rv(const char *s, uint64_t *rv)
{
	char *end;

	if (!s || !*s || *s < '0' || *s > '9')
		return -1;
	*rv = strtoull(s, &end, 10);
	return *end ? -1 : 0;
}

void fa_get(struct fa_req *r)
{
	char *key = fa_key(r->res, r->ns, r->name);
	json_t *obj = key ? fa_store_get(&r->srv->store, key) : NULL;

	free(key);
	if (!obj) {
		fa_reply_error(r->req, 404, "NotFound", r->res, r->name, "%s \"%s\" not found",
			       r->res->name, r->name);
		return;
	}
	fa_reply_json(r->req, 200, json_incref(obj));
}

/* ---- list ---- */

struct list_args {
	uint64_t rv;	  /* serve the state at this revision */
	char *start;	  /* continue after this key; NULL: from the first */
	size_t limit;	  /* 0: all */
	bool from_token;  /* rv came from a continue token */
	bool exact;	  /* rv must be served exactly */
	uint64_t min_rv;  /* NotOlderThan */
	const char *what; /* for error messages */
};

static char *make_token(uint64_t rv, const char *start)
{
	json_t *t = json_pack("{s:s, s:I, s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv,
			      "start", start);
	char *text = t ? json_dumps(t, JSON_COMPACT) : NULL, *out = NULL;
	size_t n = text ? strlen(text) : 0;

	json_decref(t);
	if (text && (out = malloc(4 * ((n + 2) / 3) + 1)))
		EVP_EncodeBlock((unsigned char *)out, (unsigned char *)text, (int)n);
	free(text);
	return out;
}

static int read_token(const char *tok, struct list_args *a)
{
	size_t n = strlen(tok);
	unsigned char *raw = malloc(n + 1);
	int len = raw && n % 4 == 0 ? EVP_DecodeBlock(raw, (const unsigned char *)tok, (int)n) : -1;
	json_t *t = NULL;
	json_int_t rv = 0;
	const char *start = NULL;

	if (len >= 0) {
		/* EVP_DecodeBlock counts the padding as zero bytes */
		while (len > 0 && raw[len - 1] == 0)
			len--;
		t = json_loadb((const char *)raw, (size_t)len, 0, NULL);
	}
	free(raw);
	if (!t || json_unpack(t, "{s:I, s:s}", "rv", &rv, "start", &start) < 0 || rv < 0 ||
	    !(a->start = strdup(start))) {
		json_decref(t);
		return -EINVAL;
	}
	a->rv = (uint64_t)rv;
	a->from_token = true;
	json_decref(t);
	return 0;
}

/* Read list parameters into @a: 0, or an error already replied. */
static int list_args(struct fa_req *r, struct list_args *a)
{
	const char *rv = fa_param(r, "resourceVersion"),
		   *match = fa_param(r, "resourceVersionMatch");
	const char *cont = fa_param(r, "continue"), *limit = fa_param(r, "limit");
	uint64_t n = 0;

	memset(a, 0, sizeof(*a));
	a->rv = r->srv->store.rv;
	if (limit && *limit && (parse_rv(limit, &n) < 0)) {
		fa_reply_error(r->req, 400, "BadRequest", NULL, NULL, "invalid limit \"%s\"",
			       limit);
		return -EINVAL;
	}
	a->limit = (size_t)n;
	if (match && *match && (!rv || !*rv)) {
		fa_reply_error(
		    r->req, 400, "BadRequest", NULL, NULL,
		    "resourceVersionMatch is forbidden unless resourceVersion is provided");
		return -EINVAL;
	}
	if (match && *match && strcmp(match, "Exact") && strcmp(match, "NotOlderThan")) {
		fa_reply_error(r->req, 400, "BadRequest", NULL, NULL,
			       "unsupported resourceVersionMatch \"%s\"", match);
		return -EINVAL;
	}
	if (cont && *cont) {
		if ((rv && *rv) || read_token(cont, a) < 0) {
			fa_reply_error(r->req, 400, "BadRequest", NULL, NULL,
				       (rv && *rv) ? "specifying resource version is not allowed "
						     "when using continue"
						   : "continue key is not valid");
			return -EINVAL;
		}
		return 0;
	}
	if (!rv || !*rv || !strcmp(rv, "0"))
		return 0;
	if (parse_rv(rv, &n) < 0) {
		fa_reply_error(r->req, 400, "BadRequest", NULL, NULL,
			       "invalid resourceVersion \"%s\"", rv);
		return -EINVAL;
	}
	a->exact = (match && !strcmp(match, "Exact")) || ((!match || !*match) && a->limit);
	if (a->exact)
		a->rv = n;
	else
		a->min_rv = n;
	return 0;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool selected(const json_t *obj, const struct cw_selector *ls, const struct cw_selector *fs)
{
	return cw_selector_match(ls, obj) && cw_selector_match(fs, obj);
}

/* The List of @snap's selected objects after a->start, at most a->limit. */
static json_t *build_list(struct fa_req *r, const struct list_args *a, json_t *snap,
			  const struct cw_selector *ls, const struct cw_selector *fs)
{
	size_t n = json_object_size(snap), k = 0, i, left = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys)), *key, *last = NULL;
	char kind[80], av[64], rvs[24];
	json_t *items = json_array(), *v, *list;

	if (!keys || !items) {
		free(keys);
		json_decref(items);
		return NULL;
	}
	json_object_foreach(snap, key, v) keys[k++] = key;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	for (i = 0; i < n; i++) {
		v = json_object_get(snap, keys[i]);
		if ((a->start && strcmp(keys[i], a->start) <= 0) || !selected(v, ls, fs))
			continue;
		if (a->limit && json_array_size(items) == a->limit) {
			left++;
			continue;
		}
		json_array_append(items, v);
		last = keys[i];
	}
	snprintf(kind, sizeof(kind), "%sList", r->res->kind);
	snprintf(rvs, sizeof(rvs), "%" PRIu64, a->rv);
	list = json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", kind, "apiVersion",
			 fa_api_version(r->res, av, sizeof(av)), "metadata", "resourceVersion", rvs,
			 "items", items);
	if (list && left) {
		json_t *md = json_object_get(list, "metadata");
		char *tok = make_token(a->rv, last);

		json_object_set_new(md, "continue", json_string(tok ? tok : ""));
		json_object_set_new(md, "remainingItemCount", json_integer((json_int_t)left));
		free(tok);
	}
	free(keys);
	return list;
}

static char *list_prefix(const struct fa_req *r)
{
	char *p;

	if (asprintf(&p, "%s/%s%s", r->res->name, r->ns ? r->ns : "", r->ns ? "/" : "") < 0)
		return NULL;
	return p;
}

/* The snapshot for @a, or NULL with the error replied. */
static json_t *list_snapshot(struct fa_req *r, const struct list_args *a)
{
	const struct fa_store *st = &r->srv->store;
	char *prefix = list_prefix(r);
	json_t *snap = NULL;
	int rc = prefix ? 0 : -ENOMEM;

	if (a->min_rv > st->rv)
		rc = -EOVERFLOW;
	else if (rc == 0)
		rc = fa_store_snapshot(st, prefix, a->rv, &snap);
	free(prefix);
	if (rc == -ESTALE && a->from_token)
		fa_reply_error(r->req, 410, "Expired", NULL, NULL,
			       "The provided continue parameter is too old to display a "
			       "consistent list result. You can start a new list without the "
			       "continue parameter.");
	else if (rc == -ESTALE)
		fa_reply_error(r->req, 410, "Expired", NULL, NULL,
			       "too old resource version: %" PRIu64 " (%" PRIu64 ")", a->rv,
			       st->compacted + 1);
	else if (rc == -EOVERFLOW)
		fa_reply_error(r->req, 504, "Timeout", NULL, NULL,
			       "Too large resource version: %" PRIu64 ", current: %" PRIu64,
			       a->min_rv > a->rv ? a->min_rv : a->rv, st->rv);
	else if (rc < 0)
		fa_reply_error(r->req, 500, "InternalError", NULL, NULL, "out of memory");
	return rc < 0 ? NULL : snap;
}

void fa_list(struct fa_req *r)
{
	struct cw_selector *ls, *fs;
	struct list_args a;
	json_t *snap, *list;

	if (list_args(r, &a) < 0)
		return;
	if (fa_selectors(r, &ls, &fs) < 0) {
		free(a.start);
		return;
	}
	snap = list_snapshot(r, &a);
	if (snap) {
		list = build_list(r, &a, snap, ls, fs);
		if (list)
			fa_reply_json(r->req, 200, list);
		else
			fa_reply_error(r->req, 500, "InternalError", NULL, NULL, "out of memory");
	}
	json_decref(snap);
	cw_selector_free(ls);
	cw_selector_free(fs);
	free(a.start);
}

/* ---- create ---- */

static void now_rfc3339(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int creation_error(const struct fa_resource *res, const char *name, int code,
			  const char *reason, const char *msg, json_t **out)
{
	*out = fa_status(code, reason, msg, res, name);
	return code;
}

/* Fill in what the server owns on a new object: 0 or an HTTP error status. */
static int new_metadata(struct fa_server *srv, const struct fa_resource *res, const char *ns,
			json_t *obj, json_t *md, json_t **out)
{
	char uid[37], ts[32], av[64], name[300];
	const char *n = json_string_value(json_object_get(md, "name"));
	const char *gen = json_string_value(json_object_get(md, "generateName"));
	const char *ons = json_string_value(json_object_get(md, "namespace"));

	fa_store_uid(&srv->store, uid);
	if ((!n || !*n) && gen && *gen) {
		/* five characters from the uid sequence, as [a-z0-9]{5} */
		snprintf(name, sizeof(name), "%s%05" PRIx64, gen, srv->store.uid_seq & 0xfffff);
		json_object_set_new(md, "name", json_string(name));
		n = json_string_value(json_object_get(md, "name"));
	}
	if (!n || !*n)
		return creation_error(res, NULL, 422, "Invalid",
				      "metadata.name: Required value: name or generateName is "
				      "required",
				      out);
	if (res->namespaced && ns && ons && *ons && strcmp(ns, ons))
		return creation_error(res, n, 400, "BadRequest",
				      "the namespace of the provided object does not match the "
				      "namespace sent on the request",
				      out);
	if (res->namespaced && !ns && !(ns = ons))
		return creation_error(res, n, 400, "BadRequest",
				      "the namespace of the object is not set", out);
	now_rfc3339(ts);
	if (res->namespaced)
		json_object_set_new(md, "namespace", json_string(ns));
	else
		json_object_del(md, "namespace");
	json_object_set_new(md, "uid", json_string(uid));
	json_object_set_new(md, "creationTimestamp", json_string(ts));
	if (json_object_get(obj, "spec"))
		json_object_set_new(md, "generation", json_integer(1));
	json_object_del(md, "resourceVersion");
	json_object_set_new(obj, "kind", json_string(res->kind));
	json_object_set_new(obj, "apiVersion", json_string(fa_api_version(res, av, sizeof(av))));
	return 0;
}

int fa_create_object(struct fa_server *srv, const struct fa_resource *res, const char *ns,
		     json_t *obj, json_t **out)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	char *key = NULL, msg[400];
	int code;

	if (!json_is_object(md))
		json_object_set_new(obj, "metadata", md = json_object());
	if (kind && strcmp(kind, res->kind)) {
		snprintf(msg, sizeof(msg), "the kind \"%s\" does not match the resource %s", kind,
			 res->name);
		code = creation_error(res, NULL, 400, "BadRequest", msg, out);
	} else if (!(code = new_metadata(srv, res, ns, obj, md, out))) {
		key = fa_key(res, meta_str(obj, "namespace"), meta_str(obj, "name"));
		if (!key) {
			code =
			    creation_error(res, NULL, 500, "InternalError", "out of memory", out);
		} else if (fa_store_get(&srv->store, key)) {
			snprintf(msg, sizeof(msg), "%s \"%s\" already exists", res->name,
				 meta_str(obj, "name"));
			code = creation_error(res, meta_str(obj, "name"), 409, "AlreadyExists", msg,
					      out);
		} else {
			*out = json_incref(obj);
			code =
			    fa_store_put(&srv->store, res, key, json_incref(obj)) < 0 ? 500 : 201;
		}
	}
	free(key);
	json_decref(obj);
	return code;
}

/* Objects come as JSON (not protobuf, which kubectl uses for some typed calls). */
static int json_only(struct fa_req *r)
{
	char ct[128];

	if (!*fa_media_type(r->req, ct, sizeof(ct)) || !strcmp(ct, "application/json"))
		return 0;
	fa_reply_error(r->req, 415, "UnsupportedMediaType", NULL, NULL,
		       "the body of the request was in an unknown format - accepted media types "
		       "include: application/json");
	return -EINVAL;
}

void fa_create(struct fa_req *r)
{
	json_t *obj, *out;
	int code;

	if (json_only(r) < 0 || fa_body_json(r->req, &obj) < 0)
		return;
	code = fa_create_object(r->srv, r->res, r->ns, obj, &out);
	fa_reply_json(r->req, code, out);
}

/* ---- update and patch ---- */

/* @proposed (owned) as the next version of @old under the rules above. */
static json_t *next_version(const struct fa_req *r, const json_t *old, json_t *proposed)
{
	json_t *next = json_deep_copy(r->sub ? old : proposed), *md;
	json_t *omd = json_object_get(old, "metadata");
	json_t *status = json_object_get(r->sub ? proposed : old, "status");
	json_int_t gen;

	/* one of the two parts comes from the other object, absent or not */
	if (next && (r->sub || r->res->has_status)) {
		if (status)
			json_object_set(next, "status", status);
		else
			json_object_del(next, "status");
	}
	json_decref(proposed);
	if (!next)
		return NULL;
	if (!json_is_object(md = json_object_get(next, "metadata")))
		json_object_set_new(next, "metadata", md = json_object());
	for (const char *const *f =
		 (const char *const[]){"name", "namespace", "uid", "creationTimestamp",
				       "generation", "resourceVersion", NULL};
	     *f; f++) {
		json_t *v = json_object_get(omd, *f);
		if (v)
			json_object_set(md, *f, v);
		else
			json_object_del(md, *f);
	}
	gen = json_integer_value(json_object_get(omd, "generation"));
	if (!json_equal(json_object_get(old, "spec"), json_object_get(next, "spec")))
		json_object_set_new(md, "generation", json_integer(gen + 1));
	json_object_set(next, "kind", json_object_get(old, "kind"));
	json_object_set(next, "apiVersion", json_object_get(old, "apiVersion"));
	return next;
}

/* Store @proposed (owned) as the new version of @key and reply. */
static void commit(struct fa_req *r, const char *key, const json_t *old, json_t *proposed)
{
	const char *want = meta_str(proposed, "resourceVersion");
	const char *name = meta_str(proposed, "name");
	json_t *next;

	if (want && *want && strcmp(want, meta_str(old, "resourceVersion"))) {
		json_decref(proposed);
		fa_reply_error(r->req, 409, "Conflict", r->res, r->name,
			       "Operation cannot be fulfilled on %s \"%s\": the object has been "
			       "modified; please apply your changes to the latest version and try "
			       "again",
			       r->res->name, r->name);
		return;
	}
	if (name && strcmp(name, r->name)) {
		json_decref(proposed);
		fa_reply_error(r->req, 400, "BadRequest", r->res, r->name,
			       "the name of the object (%s) does not match the name on the URL "
			       "(%s)",
			       name, r->name);
		return;
	}
	next = next_version(r, old, proposed);
	if (!next) {
		fa_reply_error(r->req, 500, "InternalError", NULL, NULL, "out of memory");
		return;
	}
	if (json_equal(next, old)) {
		json_decref(next);
		fa_reply_json(r->req, 200, json_incref((json_t *)old));
		return;
	}
	if (fa_store_put(&r->srv->store, r->res, key, json_incref(next)) < 0) {
		json_decref(next);
		fa_reply_error(r->req, 500, "InternalError", NULL, NULL, "out of memory");
		return;
	}
	fa_reply_json(r->req, 200, next);
}

/* The stored object for the URL, or NULL with 404 replied. */
static json_t *existing(struct fa_req *r, char **key)
{
	json_t *old;

	*key = fa_key(r->res, r->ns, r->name);
	old = *key ? fa_store_get(&r->srv->store, *key) : NULL;
	if (!old)
		fa_reply_error(r->req, 404, "NotFound", r->res, r->name, "%s \"%s\" not found",
			       r->res->name, r->name);
	return old;
}

void fa_update(struct fa_req *r)
{
	json_t *obj, *old;
	char *key;

	if (json_only(r) < 0 || fa_body_json(r->req, &obj) < 0)
		return;
	old = existing(r, &key);
	if (old)
		commit(r, key, json_incref(old), obj);
	else
		json_decref(obj);
	json_decref(old);
	free(key);
}

void fa_patch(struct fa_req *r)
{
	char ct[128], err[256] = "invalid patch";
	json_t *patch, *old, *patched = NULL;
	char *key;

	fa_media_type(r->req, ct, sizeof(ct));
	if (strcmp(ct, "application/merge-patch+json") &&
	    strcmp(ct, "application/strategic-merge-patch+json")) {
		fa_reply_error(r->req, 415, "UnsupportedMediaType", NULL, NULL,
			       "the body of the request was in an unknown format - accepted media "
			       "types include: application/merge-patch+json, "
			       "application/strategic-merge-patch+json");
		return;
	}
	if (fa_body_json(r->req, &patch) < 0)
		return;
	old = json_incref(existing(r, &key));
	if (old && !strcmp(ct, "application/merge-patch+json"))
		patched = fa_merge_patch(old, patch);
	else if (old)
		patched = fa_strategic_merge(old, patch, err);
	if (old && !patched)
		fa_reply_error(r->req, 400, "BadRequest", r->res, r->name, "%s", err);
	else if (old)
		commit(r, key, old, patched);
	json_decref(old);
	json_decref(patch);
	free(key);
}

/* ---- delete ---- */

void fa_delete(struct fa_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	json_t *opts = NULL, *old, *last;
	const char *want_rv = NULL, *want_uid = NULL;
	char *key;

	if (evbuffer_get_length(in) && fa_body_json(r->req, &opts) < 0)
		return;
	json_unpack(opts, "{s:{s?s, s?s}}", "preconditions", "resourceVersion", &want_rv, "uid",
		    &want_uid);
	old = existing(r, &key);
	if (old && ((want_rv && strcmp(want_rv, meta_str(old, "resourceVersion"))) ||
		    (want_uid && strcmp(want_uid, meta_str(old, "uid")))))
		fa_reply_error(r->req, 409, "Conflict", r->res, r->name,
			       "Operation cannot be fulfilled on %s \"%s\": the precondition does "
			       "not match (%s)",
			       r->res->name, r->name, want_rv ? "resourceVersion" : "uid");
	else if (old && fa_store_delete(&r->srv->store, r->res, key, &last) < 0)
		fa_reply_error(r->req, 500, "InternalError", NULL, NULL, "out of memory");
	else if (old)
		fa_reply_json(r->req, 200, last);
	json_decref(opts);
	free(key);
}

/* ---- seeding ---- */

/* A string field of @obj, "" if absent. */
static const char *str_field(const json_t *obj, const char *field)
{
	const char *v = json_string_value(json_object_get(obj, field));

	return v ? v : "";
}

static int seed_object(struct fa_server *srv, json_t *obj, const char *file)
{
	const struct fa_resource *res =
	    fa_resource_by_kind(str_field(obj, "apiVersion"), str_field(obj, "kind"));
	json_t *out;
	int code;

	if (!res) {
		fprintf(stderr, "fake-apiserver: %s: an object of no served kind\n", file);
		return -EINVAL;
	}
	code = fa_create_object(srv, res, NULL, json_incref(obj), &out);
	if (code != 201)
		fprintf(stderr, "fake-apiserver: %s: %s\n", file,
			json_string_value(json_object_get(out, "message")));
	json_decref(out);
	return code == 201 ? 0 : -EINVAL;
}

static int seed_file(struct fa_server *srv, const char *path)
{
	json_error_t e;
	json_t *doc = json_load_file(path, 0, &e), *items, *v;
	size_t i;
	int rc = 0;

	if (!doc) {
		fprintf(stderr, "fake-apiserver: %s:%d: %s\n", path, e.line, e.text);
		return -EINVAL;
	}
	items = json_object_get(doc, "items");
	if (json_is_array(items) && !strcmp(str_field(doc, "kind"), "List")) {
		json_array_foreach(items, i, v)
		{
			if (rc == 0)
				rc = seed_object(srv, v, path);
		}
	} else {
		rc = seed_object(srv, doc, path);
	}
	json_decref(doc);
	return rc;
}

static int json_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

int fa_seed(struct fa_server *srv, const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, json_file, alphasort), rc = 0;
	char path[4096];

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (rc == 0)
			rc = seed_file(srv, path);
		free(names[i]);
	}
	free(names);
	return rc;
}
