/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake apiserver's objects, as etcd keeps them for kube-apiserver: one
 * revision counter for everything (every write +1), and a bounded history
 * of changes, each with the object before and after, so that a watch can
 * start from any retained revision and a list can be served as of one
 * (current objects with the later changes undone). Objects are never
 * modified once stored: a write stores a new object, and the history holds
 * references.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/fake_apiserver.h"

int fa_store_init(struct fa_store *st, size_t history, fa_event_fn *fn, void *arg)
{
	memset(st, 0, sizeof(*st));
	st->cap = history ? history : 1;
	st->objs = json_object();
	st->ring = calloc(st->cap, sizeof(*st->ring));
	st->on_event = fn;
	st->arg = arg;
	if (!st->objs || !st->ring) {
		fa_store_free(st);
		return -ENOMEM;
	}
	return 0;
}

static struct fa_event *at(const struct fa_store *st, size_t i)
{
	return &st->ring[(st->head + i) % st->cap];
}

static void drop_oldest(struct fa_store *st)
{
	struct fa_event *e = at(st, 0);

	st->compacted = e->rv;
	free(e->key);
	json_decref(e->obj);
	json_decref(e->prev);
	memset(e, 0, sizeof(*e));
	st->head = (st->head + 1) % st->cap;
	st->len--;
}

void fa_store_free(struct fa_store *st)
{
	while (st->len)
		drop_oldest(st);
	free(st->ring);
	json_decref(st->objs);
	memset(st, 0, sizeof(*st));
}

void fa_store_compact(struct fa_store *st, size_t keep)
{
	while (st->len > keep)
		drop_oldest(st);
	if (keep == 0)
		st->compacted = st->rv;
}

char *fa_key(const struct fa_resource *res, const char *ns, const char *name)
{
	char *key;

	if (asprintf(&key, "%s/%s/%s", res->name, ns ? ns : "", name) < 0)
		return NULL;
	return key;
}

json_t *fa_store_get(const struct fa_store *st, const char *key)
{
	return json_object_get(st->objs, key);
}

void fa_store_uid(struct fa_store *st, char buf[37])
{
	snprintf(buf, 37, "00000000-0000-4000-8000-%012" PRIu64,
		 (uint64_t)(++st->uid_seq % 1000000000000ull));
}

static int set_rv(json_t *obj, uint64_t rv)
{
	char s[24];
	json_t *md = json_object_get(obj, "metadata");

	snprintf(s, sizeof(s), "%" PRIu64, rv);
	if (!json_is_object(md)) {
		md = json_object();
		if (json_object_set_new(obj, "metadata", md) < 0)
			return -ENOMEM;
	}
	return json_object_set_new(md, "resourceVersion", json_string(s)) < 0 ? -ENOMEM : 0;
}

/* Record a change (references stolen) and tell the watches. */
static int record(struct fa_store *st, enum fa_ev_type type, const struct fa_resource *res,
		  const char *key, json_t *obj, json_t *prev)
{
	struct fa_event *e;
	char *k = strdup(key);

	if (!k) {
		json_decref(obj);
		json_decref(prev);
		return -ENOMEM;
	}
	if (st->len == st->cap)
		drop_oldest(st);
	e = at(st, st->len++);
	*e = (struct fa_event){
	    .rv = st->rv, .type = type, .res = res, .key = k, .obj = obj, .prev = prev};
	if (st->on_event)
		st->on_event(st->arg, e);
	return 0;
}

int fa_store_put(struct fa_store *st, const struct fa_resource *res, const char *key, json_t *obj)
{
	json_t *prev = json_incref(json_object_get(st->objs, key));

	if (set_rv(obj, st->rv + 1) < 0 || json_object_set(st->objs, key, obj) < 0) {
		json_decref(obj);
		json_decref(prev);
		return -ENOMEM;
	}
	st->rv++;
	return record(st, prev ? FA_MODIFIED : FA_ADDED, res, key, obj, prev);
}

int fa_store_delete(struct fa_store *st, const struct fa_resource *res, const char *key,
		    json_t **last)
{
	json_t *prev = json_object_get(st->objs, key), *obj;

	if (!prev)
		return -ENOENT;
	obj = json_deep_copy(prev);
	if (!obj || set_rv(obj, st->rv + 1) < 0) {
		json_decref(obj);
		return -ENOMEM;
	}
	json_incref(prev);
	json_object_del(st->objs, key);
	st->rv++;
	*last = json_incref(obj);
	return record(st, FA_DELETED, res, key, obj, prev);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int fa_store_snapshot(const struct fa_store *st, const char *prefix, uint64_t rv, json_t **out)
{
	const char *key;
	json_t *map = json_object(), *v;

	if (rv > st->rv || rv < st->compacted) {
		json_decref(map);
		return rv > st->rv ? -EOVERFLOW : -ESTALE;
	}
	if (!map)
		return -ENOMEM;
	json_object_foreach(st->objs, key, v)
	{
		if (has_prefix(key, prefix) && json_object_set(map, key, v) < 0)
			goto nomem;
	}
	/* undo the changes after @rv, newest first */
	for (size_t i = st->len; i-- > 0;) {
		const struct fa_event *e = at(st, i);

		if (e->rv <= rv)
			break;
		if (!has_prefix(e->key, prefix))
			continue;
		if (e->type == FA_ADDED)
			json_object_del(map, e->key);
		else if (json_object_set(map, e->key, e->prev) < 0)
			goto nomem;
	}
	*out = map;
	return 0;
nomem:
	json_decref(map);
	return -ENOMEM;
}

int fa_store_since(const struct fa_store *st, uint64_t rv, fa_event_fn *fn, void *arg)
{
	if (rv > st->rv)
		return -EOVERFLOW;
	if (rv < st->compacted)
		return -ESTALE;
	for (size_t i = 0; i < st->len; i++)
		if (at(st, i)->rv > rv)
			fn(arg, at(st, i));
	return 0;
}
