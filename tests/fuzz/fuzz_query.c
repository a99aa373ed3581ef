/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for hub/query.c, the hub route's reading of a request.
 * The input up to the first '?' is the path, the rest the query string
 * (up to a NUL). A parse must return 0, -EINVAL (no selector left) or
 * -ENOMEM; a parsed request must keep the limits query.h promises (a
 * resource, NUL-terminated fields, no watch of a named object, a match
 * mode with a resourceVersion) and parse the same way twice; its scalar
 * parameters, written back as a canonical query, must parse to the same
 * values. cw_query_unescape of the raw input never writes a NUL nor more
 * bytes than it read. A violated invariant traps.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/query.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void check_query(const struct cw_hub_query *q)
{
	check(terminated(q->resource, sizeof(q->resource)) && q->resource[0]);
	check(terminated(q->api, sizeof(q->api)) && q->api[0]);
	check(terminated(q->ns, sizeof(q->ns)));
	check(terminated(q->name, sizeof(q->name)));
	check(terminated(q->node, sizeof(q->node)));
	check(terminated(q->cont, sizeof(q->cont)));
	check(!q->watch || !q->name[0]);
	check(!q->rv || q->match != CW_RV_ANY);
	check(!q->node[0] || q->fields);
	check(!strchr(q->resource, '/') && !strchr(q->ns, '/') && !strchr(q->name, '/'));
}

static void same(const struct cw_hub_query *a, const struct cw_hub_query *b)
{
	check(!strcmp(a->resource, b->resource) && !strcmp(a->api, b->api));
	check(!strcmp(a->ns, b->ns) && !strcmp(a->name, b->name) && !strcmp(a->node, b->node));
	check(a->watch == b->watch && a->bookmarks == b->bookmarks && a->rv == b->rv);
	check(a->match == b->match && a->limit == b->limit && a->timeout_s == b->timeout_s);
	check(!strcmp(a->cont, b->cont));
	check(!a->labels == !b->labels && !a->fields == !b->fields);
}

/* @s %-escaped, every byte but the unreserved ones. */
static size_t escape(char *out, const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			out[n++] = (char)c;
		else
			n += (size_t)sprintf(out + n, "%%%02X", c);
	}
	out[n] = '\0';
	return n;
}

static const char *const match_names[] = {"", "NotOlderThan", "Exact"};

/* The scalar parameters of @q written back and read again. */
static void round_trip(const char *path, const struct cw_hub_query *q)
{
	char *query = malloc(3 * sizeof(q->cont) + 256), *p = query;
	struct cw_hub_query r;

	check(query != NULL);
	p += sprintf(p, "watch=%s&allowWatchBookmarks=%s&resourceVersionMatch=%s",
		     q->watch ? "true" : "false", q->bookmarks ? "1" : "0", match_names[q->match]);
	p += sprintf(
	    p, "&resourceVersion=%" PRIu64 "&limit=%zu&timeoutSeconds=%" PRIu32 "&continue=", q->rv,
	    q->limit, q->timeout_s);
	escape(p, q->cont);
	check(cw_hub_query_parse(path, query, &r) == 0);
	check(r.watch == q->watch && r.bookmarks == q->bookmarks && r.rv == q->rv);
	check(r.match == q->match && r.limit == q->limit && r.timeout_s == q->timeout_s);
	check(!strcmp(r.cont, q->cont) && !strcmp(r.resource, q->resource));
	cw_hub_query_release(&r);
	free(query);
}

static void fuzz_unescape(const uint8_t *data, size_t size)
{
	char out[512];
	int n = cw_query_unescape((const char *)data, size, out, sizeof(out));

	if (n < 0) {
		check(n == -EINVAL || n == -ENAMETOOLONG);
		return;
	}
	check((size_t)n <= size && out[n] == '\0' && strlen(out) == (size_t)n);
	/* Nothing to decode: the bytes as they were. */
	if (!memchr(data, '%', size) && !memchr(data, '+', size))
		check((size_t)n == size && !memcmp(out, data, size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *query;
	struct cw_hub_query q, q2;
	int rc;

	if (!buf)
		return 0;
	fuzz_unescape(data, size);
	memcpy(buf, data, size);
	buf[size] = '\0';
	query = strchr(buf, '?');
	if (query)
		*query++ = '\0';
	rc = cw_hub_query_parse(buf, query, &q);
	check(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc) {
		check(!q.labels && !q.fields);
		free(buf);
		return 0;
	}
	check_query(&q);
	check(cw_hub_query_parse(buf, query, &q2) == 0);
	same(&q, &q2);
	cw_hub_query_release(&q2);
	round_trip(buf, &q);
	cw_hub_query_release(&q);
	cw_hub_query_release(&q); /* idempotent */
	free(buf);
	return 0;
}
