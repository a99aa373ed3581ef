/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON merge patch (RFC 7386) and a strategic merge patch covering what
 * kubelet, kube-proxy and kubectl send for the served resources.
 *
 * Strategic merge here is RFC 7386 plus, for the list fields named in
 * merge_keys (by field name, whatever the type: the Go struct tags are not
 * available), a merge of elements by their key: a patch element updates the
 * element with the same key (recursively) or is appended; "$patch": "delete"
 * in an element removes it. "finalizers" merges as a set of strings.
 * "$patch": "replace" in an object replaces it; "$deleteFromPrimitiveList/F"
 * removes strings from list F. "$setElementOrder/F" and "$retainKeys" are
 * accepted and ignored (element order stays the target's, new ones last).
 * Other lists are replaced, as for lists without a patch strategy.
 */
#include <stdio.h>
#include <string.h>

#include "tests/tools/fake_apiserver.h"

static const struct {
	const char *field;
	const char *key;
} merge_keys[] = {
    {"conditions", "type"},
    {"containerStatuses", "name"},
    {"initContainerStatuses", "name"},
    {"ephemeralContainerStatuses", "name"},
    {"containers", "name"},
    {"initContainers", "name"},
    {"volumes", "name"},
    {"env", "name"},
    {"volumeMounts", "mountPath"},
    {"imagePullSecrets", "name"},
    {"addresses", "type"},
    {"podIPs", "ip"},
    {"hostIPs", "ip"},
};

static json_t *merge(json_t *target, const json_t *patch, bool strategic, char *err);

json_t *fa_merge_patch(const json_t *target, const json_t *patch)
{
	return merge(json_deep_copy(target), patch, false, NULL);
}

json_t *fa_strategic_merge(const json_t *target, const json_t *patch, char *err)
{
	return merge(json_deep_copy(target), patch, true, err);
}

static const char *merge_key(const char *field)
{
	for (size_t i = 0; i < sizeof(merge_keys) / sizeof(merge_keys[0]); i++)
		if (!strcmp(merge_keys[i].field, field))
			return merge_keys[i].key;
	return NULL;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The index in @list of the element whose @key equals @val's, or -1. */
static long find_keyed(const json_t *list, const char *key, const json_t *val)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		if (json_equal(json_object_get(e, key), val))
			return (long)i;
	}
	return -1;
}

/* Merge list @patch into list @target (owned) by @key. */
static json_t *merge_list(json_t *target, const json_t *patch, const char *key, char *err)
{
	size_t i;
	json_t *p;

	json_array_foreach(patch, i, p)
	{
		const json_t *kv = json_object_get(p, key);
		const char *directive = json_string_value(json_object_get(p, "$patch"));
		long at;

		if (!kv) {
			snprintf(err, 256, "list element without its merge key \"%s\"", key);
			json_decref(target);
			return NULL;
		}
		at = find_keyed(target, key, kv);
		if (directive && !strcmp(directive, "delete")) {
			if (at >= 0)
				json_array_remove(target, (size_t)at);
		} else if (at >= 0) {
			json_t *m =
			    merge(json_incref(json_array_get(target, (size_t)at)), p, true, err);
			if (!m) {
				json_decref(target);
				return NULL;
			}
			json_array_set_new(target, (size_t)at, m);
		} else if (json_array_append_new(target, merge(json_object(), p, true, err)) < 0) {
			json_decref(target);
			return NULL;
		}
	}
	return target;
}

/* Union of string lists: the target's, then the patch's new ones. */
static json_t *merge_set(json_t *target, const json_t *patch)
{
	size_t i, j;
	json_t *p, *t;

	json_array_foreach(patch, i, p)
	{
		bool seen = false;

		json_array_foreach(target, j, t) seen = seen || json_equal(t, p);
		if (!seen)
			json_array_append(target, p);
	}
	return target;
}

static void delete_from_list(json_t *obj, const char *field, const json_t *values)
{
	json_t *list = json_deep_copy(json_object_get(obj, field)), *v;
	size_t i;

	if (!json_is_array(list)) {
		json_decref(list);
		return;
	}
	/* the list may be shared with the stored object: edit a copy */
	json_object_set_new(obj, field, list);

	json_array_foreach(values, i, v)
	{
		long at = -1;
		size_t j;
		json_t *t;

		json_array_foreach(list, j, t)
		{
			if (at < 0 && json_equal(t, v))
				at = (long)j;
		}
		if (at >= 0)
			json_array_remove(list, (size_t)at);
	}
}

/* Patch one field @k of object @target with @v. NULL result: error. */
static json_t *merge_field(json_t *target, const char *k, const json_t *v, bool strategic,
			   char *err)
{
	json_t *cur = json_object_get(target, k);
	const char *key = strategic ? merge_key(k) : NULL;
	json_t *m;

	if (json_is_null(v)) {
		json_object_del(target, k);
		return target;
	}
	if (key && json_is_array(v) && json_is_array(cur))
		m = merge_list(json_deep_copy(cur), v, key, err);
	else if (strategic && !strcmp(k, "finalizers") && json_is_array(v) && json_is_array(cur))
		m = merge_set(json_deep_copy(cur), v);
	else if (json_is_object(v))
		m = merge(json_incref(cur), v, strategic, err);
	else if (strategic && key && json_is_array(v))
		m = merge_list(json_array(), v, key, err);
	else
		m = json_deep_copy(v);
	if (!m) {
		json_decref(target);
		return NULL;
	}
	json_object_set_new(target, k, m);
	return target;
}

static json_t *merge(json_t *target, const json_t *patch, bool strategic, char *err)
{
	const char *k, *directive;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	directive = strategic ? json_string_value(json_object_get(patch, "$patch")) : NULL;
	if (!json_is_object(target) || (directive && !strcmp(directive, "replace"))) {
		json_decref(target);
		target = json_object();
	} else {
		/* the history may hold references to @target: never edit it in place */
		json_t *copy = json_copy(target);

		json_decref(target);
		target = copy;
	}
	json_object_foreach((json_t *)patch, k, v)
	{
		if (strategic && starts(k, "$deleteFromPrimitiveList/")) {
			delete_from_list(target, k + strlen("$deleteFromPrimitiveList/"), v);
			continue;
		}
		if (strategic && (k[0] == '$'))
			continue;
		target = merge_field(target, k, v, strategic, err);
		if (!target)
			return NULL;
	}
	return target;
}
