/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes objects and watch event lines: see object.h. */
#include <errno.h>
#include <string.h>

#include "hub/object.h"

enum need {
	NEED_NAME = 1,
	NEED_RV = 2,
};

#define JSON_FLAGS (JSON_REJECT_DUPLICATES)

int cw_rv_parse(const char *s, size_t len, uint64_t *rv)
{
	uint64_t v = 0;

	if (len == 0 || (s[0] == '0' && len > 1))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*rv = v;
	return 0;
}

const char *cw_ev_type_name(enum cw_ev_type t)
{
	static const char *const names[] = {
	    [CW_EV_ADDED] = "ADDED",	 [CW_EV_MODIFIED] = "MODIFIED",
	    [CW_EV_DELETED] = "DELETED", [CW_EV_BOOKMARK] = "BOOKMARK",
	    [CW_EV_ERROR] = "ERROR",
	};

	if ((unsigned)t >= sizeof(names) / sizeof(names[0]) || !names[t])
		return "?";
	return names[t];
}

/* Member @key of @parent: NULL when absent or null, -EINVAL in *@rc when
 * present with another type than @type. */
static json_t *member(json_t *parent, const char *key, json_type type, int *rc)
{
	json_t *v = parent ? json_object_get(parent, key) : NULL;

	if (!v || json_is_null(v))
		return NULL;
	if (json_typeof(v) != type) {
		*rc = -EINVAL;
		return NULL;
	}
	return v;
}

/* A string member no longer than @max bytes, or NULL. */
static const char *str_member(json_t *parent, const char *key, size_t max, int *rc)
{
	json_t *v = member(parent, key, JSON_STRING, rc);

	if (v && json_string_length(v) > max) {
		*rc = -EINVAL;
		return NULL;
	}
	return v ? json_string_value(v) : NULL;
}

static int labels_ok(json_t *labels)
{
	const char *k;
	json_t *v;

	json_object_foreach(labels, k, v)
	{
		if (!json_is_string(v))
			return -EINVAL;
	}
	return 0;
}

/* Fill the fields of @o from its parsed @root, which it takes over. */
static int obj_fill(struct cw_obj *o, json_t *root, unsigned need)
{
	json_t *meta, *spec, *rvj;
	int rc = 0;

	o->root = root;
	o->api_version = str_member(root, "apiVersion", SIZE_MAX, &rc);
	o->kind = str_member(root, "kind", SIZE_MAX, &rc);
	meta = member(root, "metadata", JSON_OBJECT, &rc);
	spec = member(root, "spec", JSON_OBJECT, &rc);
	o->ns = str_member(meta, "namespace", CW_OBJ_NS_MAX, &rc);
	if (!o->ns)
		o->ns = "";
	o->name = str_member(meta, "name", CW_OBJ_NAME_MAX, &rc);
	o->uid = str_member(meta, "uid", SIZE_MAX, &rc);
	o->node = str_member(spec, "nodeName", CW_OBJ_NAME_MAX, &rc);
	if (o->node && !o->node[0])
		o->node = NULL;
	o->labels = member(meta, "labels", JSON_OBJECT, &rc);
	o->deleting = member(meta, "deletionTimestamp", JSON_STRING, &rc) != NULL;
	rvj = member(meta, "resourceVersion", JSON_STRING, &rc);
	if (rc)
		return rc;
	if (rvj && cw_rv_parse(json_string_value(rvj), json_string_length(rvj), &o->rv))
		return -EINVAL;
	if ((need & NEED_NAME) && (!o->name || !o->name[0]))
		return -EINVAL;
	if ((need & NEED_RV) && o->rv == 0)
		return -EINVAL;
	return o->labels ? labels_ok(o->labels) : 0;
}

/* jansson reports an allocation failure only as text. */
static int load_error(const json_error_t *err)
{
	return json_error_code(err) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
}

int cw_obj_parse(struct cw_obj *o, const void *bytes, size_t len)
{
	json_error_t err;
	json_t *root;
	int rc;

	memset(o, 0, sizeof(*o));
	if (memchr(bytes, '\0', len))
		return -EINVAL; /* jansson would skip some (after a number) */
	root = json_loadb(bytes, len, JSON_FLAGS, &err);
	if (!root)
		return load_error(&err);
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	rc = obj_fill(o, root, NEED_NAME | NEED_RV);
	if (rc) {
		cw_obj_release(o);
		return rc;
	}
	o->bytes = bytes;
	o->len = len;
	return 0;
}

void cw_obj_release(struct cw_obj *o)
{
	json_decref(o->root);
	memset(o, 0, sizeof(*o));
}

/* The envelope scanner: a cursor over the line. */
struct scan {
	const char *p;
	size_t len, pos;
};

static void skip_ws(struct scan *s)
{
	while (s->pos < s->len && s->p[s->pos] && strchr(" \t\r\n", s->p[s->pos]))
		s->pos++;
}

static bool take(struct scan *s, char c)
{
	skip_ws(s);
	if (s->pos >= s->len || s->p[s->pos] != c)
		return false;
	s->pos++;
	return true;
}

/* A string without escapes or control characters; its body in *@str. */
static int plain_string(struct scan *s, const char **str, size_t *n)
{
	size_t start;

	if (!take(s, '"'))
		return -EINVAL;
	start = s->pos;
	for (; s->pos < s->len && s->p[s->pos] != '"'; s->pos++) {
		unsigned char c = (unsigned char)s->p[s->pos];
		if (c < 0x20 || c == '\\')
			return -EINVAL;
	}
	if (s->pos >= s->len)
		return -EINVAL;
	*str = s->p + start;
	*n = s->pos - start;
	s->pos++;
	return 0;
}

static bool word_is(const char *p, size_t n, const char *w)
{
	return n == strlen(w) && memcmp(p, w, n) == 0;
}

static int event_type(struct scan *s, enum cw_ev_type *t)
{
	const char *str;
	size_t n;
	int rc = plain_string(s, &str, &n);

	if (rc)
		return rc;
	for (enum cw_ev_type i = CW_EV_ADDED; i <= CW_EV_ERROR; i++) {
		if (word_is(str, n, cw_ev_type_name(i))) {
			*t = i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * The object value: jansson parses it in place and, with the EOF check
 * off, stops at its closing brace and reports how many bytes it read.
 */
static int event_object(struct scan *s, struct cw_watch_event *ev)
{
	json_error_t err;
	json_t *root;

	skip_ws(s);
	if (s->pos >= s->len || s->p[s->pos] != '{')
		return -EINVAL;
	root =
	    json_loadb(s->p + s->pos, s->len - s->pos, JSON_FLAGS | JSON_DISABLE_EOF_CHECK, &err);
	if (!root)
		return load_error(&err);
	ev->obj.root = root;
	if (err.position < 2 || (size_t)err.position > s->len - s->pos ||
	    s->p[s->pos + (size_t)err.position - 1] != '}')
		return -EINVAL;
	ev->obj_off = s->pos;
	ev->obj_len = (size_t)err.position;
	s->pos += ev->obj_len;
	return 0;
}

static int envelope(struct scan *s, struct cw_watch_event *ev)
{
	bool have_type = false, have_obj = false;
	int rc;

	if (!take(s, '{'))
		return -EINVAL;
	do {
		const char *key;
		size_t n;

		rc = plain_string(s, &key, &n);
		if (rc || !take(s, ':'))
			return -EINVAL;
		if (word_is(key, n, "type") && !have_type) {
			rc = event_type(s, &ev->type);
			have_type = true;
		} else if (word_is(key, n, "object") && !have_obj) {
			rc = event_object(s, ev);
			have_obj = true;
		} else {
			return -EINVAL;
		}
		if (rc)
			return rc;
	} while (take(s, ','));
	if (!take(s, '}') || !have_type || !have_obj)
		return -EINVAL;
	skip_ws(s);
	return s->pos == s->len ? 0 : -EINVAL;
}

static int event_fields(struct cw_watch_event *ev, const char *line)
{
	json_t *root = ev->obj.root, *code;
	int rc;

	switch (ev->type) {
	case CW_EV_BOOKMARK:
		rc = obj_fill(&ev->obj, root, NEED_RV);
		break;
	case CW_EV_ERROR:
		code = json_object_get(root, "code");
		if (json_is_integer(code) && json_integer_value(code) > 0 &&
		    json_integer_value(code) < 1000)
			ev->code = (int)json_integer_value(code);
		rc = 0;
		break;
	default:
		rc = obj_fill(&ev->obj, root, NEED_NAME | NEED_RV);
		break;
	}
	ev->obj.bytes = line + ev->obj_off;
	ev->obj.len = ev->obj_len;
	return rc;
}

int cw_watch_event_parse(struct cw_watch_event *ev, const void *line, size_t len)
{
	struct scan s = {.p = line, .len = len};
	int rc;

	memset(ev, 0, sizeof(*ev));
	if (memchr(line, '\0', len))
		return -EINVAL;
	rc = envelope(&s, ev);
	if (!rc)
		rc = event_fields(ev, line);
	if (rc)
		cw_watch_event_release(ev);
	return rc;
}

void cw_watch_event_release(struct cw_watch_event *ev)
{
	cw_obj_release(&ev->obj);
	memset(ev, 0, sizeof(*ev));
}
