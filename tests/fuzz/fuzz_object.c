/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for hub/object.c. The input is parsed three ways: as
 * an object, as a watch event line, and as the object of an ADDED line
 * built around it. A parsed object must obey the limits object.h
 * promises and keep pointing at the input's bytes; a parsed event's
 * object range must be a JSON object on its own, equal to what the event
 * parse saw, and parse as an object with the same key fields; wrapping
 * the input in an envelope must succeed exactly when the input parses
 * as an object, with the range being the input minus its surrounding
 * whitespace. A violated invariant traps.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/object.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static void check_obj(const struct cw_obj *o, const uint8_t *data, size_t size)
{
	json_t *rv = json_object_get(json_object_get(o->root, "metadata"), "resourceVersion");
	char buf[32];
	const char *k;
	json_t *v;

	check(o->bytes == (const char *)data && o->len == size);
	check(o->name && o->name[0] && strlen(o->name) <= CW_OBJ_NAME_MAX);
	check(o->ns && strlen(o->ns) <= CW_OBJ_NS_MAX);
	check(!o->node || (o->node[0] && strlen(o->node) <= CW_OBJ_NAME_MAX));
	check(o->rv > 0);
	/* The RV is canonical: printing it gives the string back. */
	snprintf(buf, sizeof(buf), "%" PRIu64, o->rv);
	check(json_is_string(rv) && strcmp(json_string_value(rv), buf) == 0);
	if (o->labels)
		json_object_foreach(o->labels, k, v) check(json_is_string(v));
}

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void check_event(const struct cw_watch_event *ev, const uint8_t *data, size_t size)
{
	const char *obj = (const char *)data + ev->obj_off;
	json_error_t err;
	struct cw_obj o;
	json_t *alone;

	check(ev->obj_off < size && ev->obj_len >= 2 && ev->obj_len <= size - ev->obj_off);
	check(obj[0] == '{' && obj[ev->obj_len - 1] == '}');
	check(ev->obj.bytes == obj && ev->obj.len == ev->obj_len);
	check(ev->type >= CW_EV_ADDED && ev->type <= CW_EV_ERROR);
	alone = json_loadb(obj, ev->obj_len, JSON_REJECT_DUPLICATES, &err);
	check(alone && json_equal(alone, ev->obj.root));
	json_decref(alone);
	if (ev->type == CW_EV_BOOKMARK)
		check(ev->obj.rv > 0);
	if (ev->type == CW_EV_ERROR || ev->type == CW_EV_BOOKMARK)
		return;
	check(cw_obj_parse(&o, obj, ev->obj_len) == 0);
	check(strcmp(o.name, ev->obj.name) == 0 && strcmp(o.ns, ev->obj.ns) == 0);
	check(o.rv == ev->obj.rv && o.deleting == ev->obj.deleting);
	check((o.node == NULL) == (ev->obj.node == NULL));
	cw_obj_release(&o);
}

static const char head[] = "{\"type\":\"ADDED\",\"object\":";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_watch_event ev;
	struct cw_obj o;
	size_t lead = 0, trail = 0;
	char *line;
	int obj_rc, rc;

	obj_rc = cw_obj_parse(&o, data, size);
	check(obj_rc == 0 || obj_rc == -EINVAL);
	if (obj_rc == 0)
		check_obj(&o, data, size);
	cw_obj_release(&o);

	rc = cw_watch_event_parse(&ev, data, size);
	check(rc == 0 || rc == -EINVAL);
	if (rc == 0)
		check_event(&ev, data, size);
	cw_watch_event_release(&ev);

	line = malloc(sizeof(head) + size + 1);
	check(line);
	memcpy(line, head, sizeof(head) - 1);
	memcpy(line + sizeof(head) - 1, data, size);
	line[sizeof(head) - 1 + size] = '}';
	rc = cw_watch_event_parse(&ev, line, sizeof(head) + size);
	check(rc == obj_rc);
	if (rc == 0) {
		while (lead < size && is_ws(data[lead]))
			lead++;
		while (trail < size - lead && is_ws(data[size - 1 - trail]))
			trail++;
		check(ev.type == CW_EV_ADDED && ev.obj_off == sizeof(head) - 1 + lead);
		check(ev.obj_len == size - lead - trail);
		check_event(&ev, (const uint8_t *)line, sizeof(head) + size);
	}
	cw_watch_event_release(&ev);
	free(line);
	return 0;
}
