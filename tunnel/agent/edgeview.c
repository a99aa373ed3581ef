/* SPDX-License-Identifier: Apache-2.0 */
#include "edgeview.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hub/object.h"
#include "hub/query.h"

#define VALUE_MAX 1024 /* one decoded parameter value, with its NUL */
#define SEG_MAX	  8

/* Bit flags of the parameters seen, to refuse one given twice. */
enum {
	P_WATCH = 1,
	P_RV = 2,
	P_RVMATCH = 4,
	P_LIMIT = 8,
	P_CONT = 16,
	P_TIMEOUT = 32,
	P_BOOKMARKS = 64,
	P_LABELS = 128,
	P_FIELDS = 256,
};

static bool truthy(const char *v)
{
	return !strcmp(v, "true") || !strcmp(v, "1");
}

/* @s appended to the key at *@k, encoded when @enc. */
static int key_add(struct cw_edgeview *v, size_t *k, const char *s, bool enc)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = !enc || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (*k + (plain ? 1 : 3) >= sizeof(v->key))
			return -ENAMETOOLONG;
		if (plain) {
			v->key[(*k)++] = (char)c;
			continue;
		}
		v->key[(*k)++] = '%';
		v->key[(*k)++] = hex[c >> 4];
		v->key[(*k)++] = hex[c & 15];
	}
	v->key[*k] = '\0';
	return 0;
}

/*
 * The path of a collection into the key: /api/V or /apis/G/V, an optional
 * legacy "watch", an optional namespaces/NS, then the resource alone.
 */
static int path_key(struct cw_edgeview *v, const char *path, size_t n, size_t *k)
{
	const char *seg[SEG_MAX];
	size_t len[SEG_MAX], ns = 0, i, first;
	const char *p = path, *end;

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (end = path + n; p < end; p = p + len[ns - 1]) {
		const char *q;

		if (*p++ != '/' || ns == SEG_MAX)
			return -ENOENT; /* not a path, or more segments than a collection has */
		q = memchr(p, '/', (size_t)(end - p));
		q = q ? q : end;
		if (q == p || (q - p == 1 && *p == '.') || (q - p == 2 && !memcmp(p, "..", 2)))
			return -ENOENT;
		seg[ns] = p;
		len[ns++] = (size_t)(q - p);
	}
#define SEG_IS(j, s) (len[j] == sizeof(s) - 1 && !memcmp(seg[j], s, sizeof(s) - 1))
	if (ns >= 2 && SEG_IS(0, "api"))
		first = 2;
	else if (ns >= 3 && SEG_IS(0, "apis"))
		first = 3;
	else
		return -ENOENT;
	i = first;
	if (i < ns && SEG_IS(i, "watch")) {
		v->watch = true;
		i++;
	}
	if (ns - i >= 3 && SEG_IS(i, "namespaces"))
		i += 2;
	if (ns - i != 1)
		return -ENOENT;
#undef SEG_IS
	*k = 0;
	for (size_t j = 0; j < ns; j++) {
		if (j == first && v->watch)
			continue;
		if (*k + 1 + len[j] >= sizeof(v->key))
			return -ENAMETOOLONG;
		v->key[(*k)++] = '/';
		memcpy(v->key + *k, seg[j], len[j]);
		*k += len[j];
	}
	v->key[*k] = '\0';
	return 0;
}

/* One name=value parameter; @labels and @fields keep the selectors. */
static int param(struct cw_edgeview *v, const char *name, const char *val, unsigned *seen,
		 char *labels, char *fields)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
	    {"watch", P_WATCH},
	    {"resourceVersion", P_RV},
	    {"resourceVersionMatch", P_RVMATCH},
	    {"limit", P_LIMIT},
	    {"continue", P_CONT},
	    {"timeoutSeconds", P_TIMEOUT},
	    {"allowWatchBookmarks", P_BOOKMARKS},
	    {"labelSelector", P_LABELS},
	    {"fieldSelector", P_FIELDS},
	};
	unsigned bit = 0;
	uint64_t t;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !bit; i++)
		if (!strcmp(name, known[i].name))
			bit = known[i].bit;
	if (!bit)
		return -ENOENT;
	if (*seen & bit)
		return -EINVAL;
	*seen |= bit;
	switch (bit) {
	case P_WATCH:
		v->watch = v->watch || truthy(val);
		return 0;
	case P_BOOKMARKS:
		v->bookmarks = truthy(val);
		return 0;
	case P_RV:
		return *val ? cw_rv_parse(val, strlen(val), &v->rv) : 0;
	case P_CONT:
		v->cont = *val != '\0';
		return 0;
	case P_TIMEOUT:
		if (cw_rv_parse(val, strlen(val), &t) || t > UINT32_MAX)
			return -EINVAL;
		v->timeout_s = (uint32_t)t;
		return 0;
	case P_LABELS:
		strcpy(labels, val);
		return 0;
	case P_FIELDS:
		strcpy(fields, val);
		return 0;
	default:
		return 0; /* limit, resourceVersionMatch: not the view's */
	}
}

static int query(struct cw_edgeview *v, const char *q, char *labels, char *fields)
{
	char name[64], val[VALUE_MAX];
	unsigned seen = 0;
	int rc = 0;

	while (*q && !rc) {
		size_t n = strcspn(q, "&"), eq = strcspn(q, "=");

		if (eq > n)
			eq = n;
		if (n) {
			rc = cw_query_unescape(q, eq, name, sizeof(name));
			if (rc >= 0)
				rc = cw_query_unescape(q + eq + (eq < n), n - eq - (eq < n), val,
						       sizeof(val));
			if (rc > 0)
				rc = 0;
			if (rc == -ENAMETOOLONG && eq >= sizeof(name))
				rc = -ENOENT; /* no parameter has so long a name */
			if (!rc)
				rc = param(v, name, val, &seen, labels, fields);
		}
		q += n + (q[n] == '&');
	}
	return rc;
}

/* FNV-1a, 64 bits: short names that stay put across restarts. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

int cw_edgeview_parse(const char *uri, struct cw_edgeview *v)
{
	char labels[VALUE_MAX] = "", fields[VALUE_MAX] = "";
	const char *q = strchr(uri, '?');
	size_t k;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = path_key(v, uri, q ? (size_t)(q - uri) : strlen(uri), &k);
	if (!rc && q)
		rc = query(v, q + 1, labels, fields);
	if (!rc && *fields) {
		rc = key_add(v, &k, "?fieldSelector=", false);
		if (!rc)
			rc = key_add(v, &k, fields, true);
	}
	if (!rc && *labels) {
		rc = key_add(v, &k, *fields ? "&labelSelector=" : "?labelSelector=", false);
		if (!rc)
			rc = key_add(v, &k, labels, true);
	}
	if (rc)
		return rc;
	snprintf(v->name, sizeof(v->name), "view-%016" PRIx64, fnv1a(v->key));
	return 0;
}
