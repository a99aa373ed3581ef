/* SPDX-License-Identifier: Apache-2.0 */
#include "hub/list.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hub/object.h"

/* A cursor over JSON that jansson has already accepted as valid. */
struct cur {
	const char *p, *end;
};

static void ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* Past a string starting at its opening quote. */
static void skip_string(struct cur *c)
{
	for (c->p++; c->p < c->end && *c->p != '"'; c->p++)
		if (*c->p == '\\')
			c->p++;
	c->p++;
}

/* Past one value of any kind: brackets are counted outside strings. */
static void skip_value(struct cur *c)
{
	int depth = 0;

	ws(c);
	if (*c->p != '{' && *c->p != '[' && *c->p != '"') { /* number, true, false, null */
		while (c->p < c->end && !strchr(",}] \t\r\n", *c->p))
			c->p++;
		return;
	}
	do {
		if (*c->p == '"') {
			skip_string(c);
			continue;
		}
		if (*c->p == '{' || *c->p == '[')
			depth++;
		else if (*c->p == '}' || *c->p == ']')
			depth--;
		c->p++;
	} while (c->p < c->end && depth > 0);
}

/* Whether the member name at the cursor (a string) is "items"; moves past
 * it and its colon. Names with escapes are never "items" here. */
static bool name_is_items(struct cur *c)
{
	const char *start = c->p + 1;
	bool yes;

	skip_string(c);
	yes = c->p - start - 1 == 5 && !memcmp(start, "items", 5);
	ws(c);
	c->p++; /* ':' */
	return yes;
}

/* The items array at the cursor: each element's range. */
static int items(struct cur *c, const char *base, struct cw_list *l, size_t n)
{
	ws(c);
	c->p++; /* '[' */
	for (size_t i = 0; i < n; i++) {
		const char *start;

		ws(c);
		start = c->p;
		skip_value(c);
		l->items[i] = (struct cw_list_item){(size_t)(start - base), (size_t)(c->p - start)};
		ws(c);
		c->p++; /* ',' or ']' */
	}
	l->n = n;
	return 0;
}

/* Find "items" among the top-level members and split it. */
static int scan(const char *buf, size_t len, struct cw_list *l, size_t n)
{
	struct cur c = {buf, buf + len};

	ws(&c);
	c.p++; /* '{' */
	for (;;) {
		ws(&c);
		if (*c.p != '"')
			return -EINVAL;
		if (name_is_items(&c))
			return items(&c, buf, l, n);
		skip_value(&c);
		ws(&c);
		if (*c.p++ != ',')
			return -EINVAL;
	}
}

/* Member @name of @root, a string, into @out (@cap with the NUL); "" when absent. */
static int top_string(json_t *root, const char *name, char *out, size_t cap)
{
	json_t *v = json_object_get(root, name);

	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= cap)
		return -EINVAL;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int metadata(json_t *root, struct cw_list *l)
{
	json_t *md = json_object_get(root, "metadata");
	json_t *rv = md ? json_object_get(md, "resourceVersion") : NULL;
	json_t *cont = md ? json_object_get(md, "continue") : NULL;

	if (!json_is_string(rv) ||
	    cw_rv_parse(json_string_value(rv), json_string_length(rv), &l->rv) < 0 ||
	    top_string(root, "kind", l->kind, sizeof(l->kind)) < 0 ||
	    top_string(root, "apiVersion", l->api_version, sizeof(l->api_version)) < 0)
		return -EINVAL;
	l->cont[0] = '\0';
	if (cont && !json_is_null(cont)) {
		if (!json_is_string(cont) || json_string_length(cont) >= sizeof(l->cont))
			return -EINVAL;
		memcpy(l->cont, json_string_value(cont), json_string_length(cont) + 1);
	}
	return 0;
}

int cw_list_parse(const void *buf, size_t len, struct cw_list *out)
{
	json_error_t err;
	json_t *root, *its;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return json_error_code(&err) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
	its = json_object_get(root, "items");
	rc = json_is_object(root) && json_is_array(its) ? metadata(root, out) : -EINVAL;
	n = rc ? 0 : json_array_size(its);
	for (size_t i = 0; !rc && i < n; i++)
		if (!json_is_object(json_array_get(its, i)))
			rc = -EINVAL;
	json_decref(root);
	if (rc)
		return rc;
	out->items = calloc(n ? n : 1, sizeof(*out->items));
	if (!out->items)
		return -ENOMEM;
	rc = scan(buf, len, out, n);
	if (rc)
		cw_list_release(out);
	return rc;
}

void cw_list_release(struct cw_list *l)
{
	free(l->items);
	l->items = NULL;
	l->n = 0;
}
