/* SPDX-License-Identifier: Apache-2.0 */
#include "hub/query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub/object.h"

#define SEGS	  8 /* /apis/G/V/namespaces/NS/RES/NAME is 7 */
#define NUM_MAX	  20
#define PARAM_MAX 9

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cw_query_unescape(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;

			if (lo < 0)
				return -EINVAL;
			c = hi << 4 | lo;
			i += 2;
		}
		if (!c)
			return -EINVAL; /* a C string cannot carry it */
		if (n + 1 >= cap)
			return -ENAMETOOLONG;
		out[n++] = (char)c;
	}
	if (!cap)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return (int)n;
}

/* @x @sep @y into @out; false when it does not fit. */
static bool join(char *out, size_t cap, const char *x, const char *sep, const char *y)
{
	size_t a = strlen(x), b = strlen(sep), c = strlen(y);

	if (a + b + c >= cap)
		return false;
	memcpy(out, x, a);
	memcpy(out + a, sep, b);
	memcpy(out + a + b, y, c + 1);
	return true;
}

static int parse_path(const char *path, struct cw_hub_query *q)
{
	char seg[SEGS][CW_QUERY_SEG_MAX];
	const char *p = path;
	int n = 0, i;
	bool core;

	while (*p == '/' && n < SEGS) {
		size_t k = strcspn(++p, "/");

		if (!k || k >= CW_QUERY_SEG_MAX)
			return -EINVAL;
		memcpy(seg[n], p, k);
		seg[n++][k] = '\0';
		p += k;
	}
	if (*p)
		return -EINVAL;
	core = n >= 2 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1");
	if (core) {
		i = 2;
		strcpy(q->api, "v1");
	} else if (n >= 3 && !strcmp(seg[0], "apis")) {
		i = 3;
		join(q->api, sizeof(q->api), seg[1], "/", seg[2]);
	} else {
		return -EINVAL;
	}
	if (n - i >= 3 && !strcmp(seg[i], "namespaces")) {
		strcpy(q->ns, seg[i + 1]);
		i += 2;
	}
	if (n - i < 1 || n - i > 2)
		return -EINVAL;
	join(q->resource, sizeof(q->resource), seg[i], core ? "" : ".", core ? "" : seg[1]);
	if (n - i == 2)
		strcpy(q->name, seg[i + 1]);
	return 0;
}

/* A canonical decimal no greater than @max. */
static int parse_num(const char *v, uint64_t max, uint64_t *out)
{
	size_t n = strlen(v);

	if (n > NUM_MAX || cw_rv_parse(v, n, out) || *out > max)
		return -EINVAL;
	return 0;
}

/* The value of term @t (@k bytes) when it is @field=X or @field==X,
 * into @out (@cap bytes); an escape in it would need unescaping: left to
 * the selector. */
static void plain_term(const char *t, size_t k, const char *field, char *out, size_t cap)
{
	size_t fl = strlen(field), vl;
	const char *v;

	if (k <= fl || strncmp(t, field, fl) || t[fl] != '=')
		return;
	v = t + fl + 1 + (t[fl + 1] == '=');
	vl = k - (size_t)(v - t);
	if (vl && vl < cap && !memchr(v, '\\', vl)) {
		memcpy(out, v, vl);
		out[vl] = '\0';
	}
}

/*
 * The field selector, and its plain spec.nodeName=X term (a node's own
 * pods: the store's index) and metadata.name=X term (a node's own Node:
 * the store's keys) picked out of the compiled text.
 */
static int parse_fields(const char *sel, struct cw_hub_query *q)
{
	const char *t = sel;
	int rc = cw_field_selector_parse(sel, &q->fields, NULL, 0);

	while (!rc && *t) {
		size_t k = strcspn(t, ",");

		plain_term(t, k, "spec.nodeName", q->node, sizeof(q->node));
		plain_term(t, k, "metadata.name", q->fname, sizeof(q->fname));
		t += k + (t[k] == ',');
	}
	return rc;
}

/* Go's strconv.ParseBool, and "" for false. */
static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const f[] = {"", "0", "f", "F", "false", "FALSE", "False"};

	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]) && strcmp(v, t[i]); i++)
		;
	*out = i < sizeof(t) / sizeof(t[0]);
	if (*out)
		return 0;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(v, f[i]))
			return 0;
	return -EINVAL;
}

static int parse_match(const char *v, enum cw_rv_match *m)
{
	if (!*v)
		*m = CW_RV_ANY;
	else if (!strcmp(v, "Exact"))
		*m = CW_RV_EXACT;
	else if (!strcmp(v, "NotOlderThan"))
		*m = CW_RV_NOT_OLDER;
	else
		return -EINVAL;
	return 0;
}

/* One parameter; @seen marks the ones met, by their index. */
static int param(const char *key, const char *v, struct cw_hub_query *q, unsigned *seen)
{
	static const char *const keys[PARAM_MAX] = {
	    "watch",	      "resourceVersion", "resourceVersionMatch",
	    "limit",	      "continue",	 "fieldSelector",
	    "timeoutSeconds", "labelSelector",	 "allowWatchBookmarks"};
	uint64_t x;
	int k = 0;

	while (k < PARAM_MAX && strcmp(key, keys[k]))
		k++;
	if (k == PARAM_MAX || *seen & 1u << k)
		return -EINVAL;
	*seen |= 1u << k;
	switch (k) {
	case 0:
		return parse_bool(v, &q->watch);
	case 1:
		return *v ? parse_num(v, UINT64_MAX, &q->rv) : 0;
	case 2:
		return parse_match(v, &q->match);
	case 3:
		if (*v && parse_num(v, SIZE_MAX, &x))
			return -EINVAL;
		q->limit = *v ? (size_t)x : 0;
		return 0;
	case 4:
		if (strlen(v) >= sizeof(q->cont))
			return -EINVAL;
		strcpy(q->cont, v);
		return 0;
	case 5:
		return *v ? parse_fields(v, q) : 0;
	case 6:
		if (*v && parse_num(v, UINT32_MAX, &x))
			return -EINVAL;
		q->timeout_s = *v ? (uint32_t)x : 0;
		return 0;
	case 7:
		return *v ? cw_label_selector_parse(v, &q->labels, NULL, 0) : 0;
	default:
		return parse_bool(v, &q->bookmarks);
	}
}

/* The next key=value pair of @query at *@at, decoded into @buf. */
static int next_pair(const char *query, size_t *at, char *buf, size_t cap, char **key, char **val)
{
	const char *p = query + *at;
	size_t len = strcspn(p, "&"), kl = strcspn(p, "=&");
	int a, b;

	*at += len + (p[len] == '&');
	a = cw_query_unescape(p, kl, buf, cap);
	if (a < 0)
		return a;
	*key = buf;
	*val = buf + a + 1;
	b = cw_query_unescape(p + kl + (kl < len), len - kl - (kl < len), *val,
			      cap - (size_t)a - 1);
	return b < 0 ? b : 0;
}

static int parse_query(const char *query, struct cw_hub_query *q)
{
	size_t n = strlen(query), at = 0;
	char *buf = malloc(n + 2), *key, *val;
	unsigned seen = 0;
	int rc = buf ? 0 : -ENOMEM;

	while (!rc && at < n) {
		rc = next_pair(query, &at, buf, n + 2, &key, &val);
		if (!rc && *key)
			rc = param(key, val, q, &seen);
	}
	free(buf);
	return rc;
}

int cw_hub_query_parse(const char *path, const char *query, struct cw_hub_query *q)
{
	int rc;

	*q = (struct cw_hub_query){.match = CW_RV_ANY};
	rc = parse_path(path, q);
	if (!rc && query)
		rc = parse_query(query, q);
	if (!rc && q->watch && q->name[0])
		rc = -EINVAL; /* a watch of one object: the upstream's */
	if (rc) {
		cw_hub_query_release(q);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if (q->rv && q->match == CW_RV_ANY)
		q->match = CW_RV_NOT_OLDER;
	return 0;
}

void cw_hub_query_release(struct cw_hub_query *q)
{
	cw_selector_free(q->labels);
	cw_selector_free(q->fields);
	q->labels = q->fields = NULL;
}

enum cw_ev_type cw_hub_watch_type(enum cw_ev_type type, int before, bool now)
{
	if (before < 0 || type == CW_EV_DELETED)
		return now ? type : 0;
	if (now)
		return before ? CW_EV_MODIFIED : CW_EV_ADDED;
	return before ? CW_EV_DELETED : 0;
}
