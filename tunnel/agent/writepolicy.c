/* SPDX-License-Identifier: Apache-2.0 */
#include "writepolicy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SEGS_MAX 8

struct seg {
	const char *p;
	size_t n;
};

/* The path's segments (the query left out); more than SEGS_MAX: 0. */
static size_t split(const char *uri, struct seg *s)
{
	size_t n = 0, len = strcspn(uri, "?");
	const char *end = uri + len;

	for (const char *p = uri; p < end;) {
		size_t l;

		while (p < end && *p == '/')
			p++;
		if (p == end)
			break;
		l = strcspn(p, "/?");
		if (n == SEGS_MAX)
			return 0;
		s[n++] = (struct seg){p, l};
		p += l;
	}
	return n;
}

static bool is(const struct seg *s, const char *w)
{
	return s->n == strlen(w) && !memcmp(s->p, w, s->n);
}

static bool verb_in(const char *verb, const char *a, const char *b)
{
	return !strcmp(verb, a) || (b && !strcmp(verb, b));
}

/* "/api/v1" or "/apis/GROUP/v1": the segments after it in *@rest. */
static bool api_prefix(const struct seg *s, size_t n, const char *group, size_t *rest)
{
	if (!*group && n >= 2 && is(&s[0], "api") && is(&s[1], "v1")) {
		*rest = 2;
		return true;
	}
	if (*group && n >= 3 && is(&s[0], "apis") && is(&s[1], group) && is(&s[2], "v1")) {
		*rest = 3;
		return true;
	}
	return false;
}

/* namespaces/NS/RES or namespaces/NS/RES/NAME after @at: 1 or 2 (a name). */
static int namespaced(const struct seg *s, size_t n, size_t at, const char *res)
{
	if (n < at + 3 || n > at + 4 || !is(&s[at], "namespaces") || !is(&s[at + 2], res))
		return 0;
	return n == at + 4 ? 2 : 1;
}

static enum cw_wp_kind collection_or_named(int form, const char *verb, const char *named_a,
					   const char *named_b, enum cw_wp_kind kind)
{
	if (form == 1 && !strcmp(verb, "POST"))
		return kind;
	if (form == 2 && verb_in(verb, named_a, named_b))
		return kind;
	return CW_WP_NONE;
}

enum cw_wp_kind cw_wp_classify(const char *verb, const char *uri)
{
	struct seg s[SEGS_MAX];
	size_t n = split(uri, s), r;
	bool status_verb = verb_in(verb, "PATCH", "PUT");

	if (api_prefix(s, n, "", &r)) {
		if (n == r + 5 && is(&s[r], "namespaces") && is(&s[r + 2], "pods") &&
		    is(&s[r + 4], "status"))
			return status_verb ? CW_WP_POD_STATUS : CW_WP_NONE;
		if (n == r + 3 && is(&s[r], "nodes") && is(&s[r + 2], "status"))
			return status_verb ? CW_WP_NODE_STATUS : CW_WP_NONE;
		return collection_or_named(namespaced(s, n, r, "events"), verb, "PATCH", NULL,
					   CW_WP_EVENT);
	}
	if (api_prefix(s, n, "events.k8s.io", &r))
		return collection_or_named(namespaced(s, n, r, "events"), verb, "PATCH", NULL,
					   CW_WP_EVENT);
	if (api_prefix(s, n, "coordination.k8s.io", &r))
		return collection_or_named(namespaced(s, n, r, "leases"), verb, "PUT", "PATCH",
					   CW_WP_LEASE);
	return CW_WP_NONE;
}

enum cw_wp_action cw_wp_decide(enum cw_wp_kind kind, const char *verb, unsigned status)
{
	if (status >= 200 && status < 300)
		return CW_WP_DONE;
	if (status == 0 || status == 429 || status >= 500)
		return CW_WP_RETRY;
	if (status != 409)
		return CW_WP_DROP;
	switch (kind) {
	case CW_WP_POD_STATUS:
	case CW_WP_NODE_STATUS:
		return CW_WP_REAPPLY;
	case CW_WP_LEASE:
		return strcmp(verb, "POST") ? CW_WP_LEASE_READ : CW_WP_RESOLVED;
	case CW_WP_EVENT:
		return CW_WP_RESOLVED;
	default:
		return CW_WP_DROP;
	}
}

bool cw_wp_supersedes(enum cw_wp_kind kind, const char *verb)
{
	return kind == CW_WP_LEASE && !strcmp(verb, "PUT");
}

static int dump(json_t *o, char **out, size_t *out_len)
{
	*out = json_dumps(o, JSON_COMPACT);
	if (!*out)
		return -ENOMEM;
	*out_len = strlen(*out);
	return 0;
}

static json_t *load_object(const void *p, size_t len)
{
	json_t *o = json_loadb(p, len, 0, NULL);

	if (o && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int cw_wp_strip_rv(const void *body, size_t len, char **out, size_t *out_len)
{
	json_t *o = load_object(body, len), *md;
	int rc;

	if (!o)
		return -EINVAL;
	md = json_object_get(o, "metadata");
	if (!json_is_object(md) || json_object_del(md, "resourceVersion"))
		rc = -ENOENT;
	else
		rc = dump(o, out, out_len);
	json_decref(o);
	return rc;
}

int cw_wp_lease_rebase(const void *ours, size_t ours_len, bool patch, const void *current,
		       size_t cur_len, const char *node, char **out, size_t *out_len)
{
	json_t *cur = load_object(current, cur_len), *o = load_object(ours, ours_len), *md;
	const char *holder, *rv;
	int rc = -EINVAL;

	if (!cur || !o)
		goto out;
	holder = json_string_value(json_object_get(json_object_get(cur, "spec"), "holderIdentity"));
	rv =
	    json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
	if (holder && *holder && strcmp(holder, node)) {
		rc = -EPERM;
		goto out;
	}
	md = json_object_get(o, "metadata");
	if (!json_is_object(md) && json_object_set_new(o, "metadata", md = json_object()))
		goto out;
	if (patch)
		json_object_del(md, "resourceVersion");
	else if (!rv || json_object_set_new(md, "resourceVersion", json_string(rv)))
		goto out;
	rc = dump(o, out, out_len);
out:
	json_decref(cur);
	json_decref(o);
	return rc;
}
