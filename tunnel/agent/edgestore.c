/* SPDX-License-Identifier: Apache-2.0 */
#include "edgestore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hub/liststore.h"
#include "hub/store.h"

#define HEAD_KEY_MAX (sizeof("view:") + CW_EDGEVIEW_NAME_MAX)

struct cw_edgestore {
	struct cw_store *s;
	struct cw_edgecache *heads;
	struct cw_edgestore_stats st;
};

/* ---- heads: "KIND\nAPIVERSION\nKEY" in the edge cache ---- */

struct head_get {
	const struct cw_edgeview *v;
	struct cw_edgestore_head *h;
};

static int head_parse(const char *ctype, const void *body, size_t len, void *arg)
{
	struct head_get *g = arg;
	const char *p = body, *end = p + len, *nl1, *nl2;
	size_t klen = strlen(g->v->key);

	(void)ctype;
	nl1 = memchr(p, '\n', len);
	nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
	if (!nl2 || (size_t)(nl1 - p) >= sizeof(g->h->kind) ||
	    (size_t)(nl2 - nl1 - 1) >= sizeof(g->h->api))
		return -EIO;
	if ((size_t)(end - nl2 - 1) != klen || memcmp(nl2 + 1, g->v->key, klen))
		return -EEXIST; /* another view with the same name */
	memcpy(g->h->kind, p, (size_t)(nl1 - p));
	g->h->kind[nl1 - p] = '\0';
	memcpy(g->h->api, nl1 + 1, (size_t)(nl2 - nl1 - 1));
	g->h->api[nl2 - nl1 - 1] = '\0';
	return 0;
}

/* The stored head of @v: 0, -ENOENT (none), -EEXIST (another view's), -EIO. */
static int head_get(struct cw_edgestore *es, const struct cw_edgeview *v,
		    struct cw_edgestore_head *h)
{
	char k[HEAD_KEY_MAX];
	struct head_get g = {v, h};

	snprintf(k, sizeof(k), "view:%s", v->name);
	return cw_edgecache_get(es->heads, k, head_parse, &g);
}

/* Kinds and apiVersions go into JSON unescaped: only their usual bytes. */
static bool plain(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./-") ==
	       strlen(s);
}

static int head_put(struct cw_edgestore *es, const struct cw_edgeview *v, const char *kind,
		    const char *api)
{
	char k[HEAD_KEY_MAX],
	    body[sizeof(((struct cw_edgestore_head *)0)->kind) +
		 sizeof(((struct cw_edgestore_head *)0)->api) + CW_EDGEVIEW_KEY_MAX];
	int n;

	snprintf(k, sizeof(k), "view:%s", v->name);
	n = snprintf(body, sizeof(body), "%s\n%s\n%s", kind, api, v->key);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -EINVAL;
	return cw_edgecache_put(es->heads, k, "", body, (size_t)n);
}

/* ---- learning ---- */

int cw_edgestore_learn_list(struct cw_edgestore *es, const struct cw_edgeview *v, const void *body,
			    size_t len)
{
	struct cw_edgestore_head h;
	struct cw_list l;
	int had = head_get(es, v, &h), rc;

	if (v->cont)
		return -EINVAL;
	if (had < 0 && had != -ENOENT)
		return had == -EEXIST ? -EEXIST : -EIO;
	rc = cw_list_store(es->s, v->name, body, len, &l);
	if (!rc && (!plain(l.kind) || !plain(l.api_version)))
		rc = -EINVAL;
	if (!rc && (had || strcmp(h.kind, l.kind) || strcmp(h.api, l.api_version)))
		rc = head_put(es, v, l.kind, l.api_version);
	es->st.lists += rc == 0;
	return rc;
}

bool cw_edgestore_follows(struct cw_edgestore *es, const struct cw_edgeview *v)
{
	struct cw_edgestore_head h;
	struct cw_store_stat st;

	return v->rv && head_get(es, v, &h) == 0 && cw_store_stat(es->s, v->name, &st) == 0 &&
	       st.list_rv && v->rv <= st.highest_rv;
}

/* A BOOKMARK's version: the event's, else its object's metadata. */
static int bookmark_rv(uint64_t ev_rv, const void *obj, size_t len, uint64_t *rv)
{
	json_t *root, *s;
	int rc = -EINVAL;

	*rv = ev_rv;
	if (ev_rv)
		return 0;
	root = json_loadb(obj, len, 0, NULL);
	s = json_object_get(json_object_get(root, "metadata"), "resourceVersion");
	if (json_is_string(s))
		rc = cw_rv_parse(json_string_value(s), json_string_length(s), rv);
	json_decref(root);
	return rc;
}

/* Events parsed but not yet applied, for one transaction. */
struct batch {
	struct cw_obj obj[CW_EDGESTORE_BATCH];
	struct cw_store_event ev[CW_EDGESTORE_BATCH];
	size_t n;
};

static int flush(struct cw_edgestore *es, const struct cw_edgeview *v, struct batch *b)
{
	int rc = b->n ? cw_store_apply_batch(es->s, v->name, b->ev, b->n) : 0;

	es->st.events += rc ? 0 : b->n;
	while (b->n)
		cw_obj_release(&b->obj[--b->n]);
	return rc;
}

/* One event into @b, or a BOOKMARK after what @b holds. */
static int add(struct cw_edgestore *es, const struct cw_edgeview *v, struct batch *b,
	       const struct cw_edgestore_event *e)
{
	struct cw_obj *o = &b->obj[b->n];
	uint64_t rv;
	int rc;

	if (e->type == CW_EV_BOOKMARK) {
		rc = bookmark_rv(e->rv, e->obj, e->len, &rv);
		if (!rc)
			rc = flush(es, v, b);
		return rc ? rc : cw_store_bookmark(es->s, v->name, rv);
	}
	if (e->type != CW_EV_ADDED && e->type != CW_EV_MODIFIED && e->type != CW_EV_DELETED)
		return -EINVAL;
	rc = cw_obj_parse(o, e->obj, e->len);
	if (rc)
		return rc;
	if (e->rv > o->rv)
		o->rv = e->rv;
	b->ev[b->n++] = (struct cw_store_event){e->type, o};
	return b->n == CW_EDGESTORE_BATCH ? flush(es, v, b) : 0;
}

int cw_edgestore_learn_events(struct cw_edgestore *es, const struct cw_edgeview *v,
			      const struct cw_edgestore_event *evs, size_t n)
{
	struct batch b = {.n = 0};
	int rc = 0, frc;

	for (size_t i = 0; i < n && !rc; i++)
		rc = add(es, v, &b, &evs[i]);
	frc = flush(es, v, &b);
	return rc ? rc : frc;
}

/* ---- serving ---- */

int cw_edgestore_head(struct cw_edgestore *es, const struct cw_edgeview *v,
		      struct cw_edgestore_head *h)
{
	int rc = head_get(es, v, h);

	if (rc == -EEXIST)
		return -ENOENT;
	return rc ? rc : cw_store_rv(es->s, v->name, &h->rv);
}

struct items {
	struct evbuffer *out;
	size_t n;
};

static int list_item(const struct cw_store_item *it, void *arg)
{
	struct items *l = arg;

	if (l->n++ && evbuffer_add(l->out, ",", 1))
		return -ENOMEM;
	return evbuffer_add(l->out, it->bytes, it->len) ? -ENOMEM : 0;
}

int cw_edgestore_list(struct cw_edgestore *es, const struct cw_edgeview *v, struct evbuffer *out)
{
	struct cw_store_list_req q = {.resource = v->name};
	struct cw_edgestore_head h;
	struct items l = {out, 0};
	char cont[CW_STORE_CONTINUE_MAX];
	uint64_t rv = 0;
	int rc = cw_edgestore_head(es, v, &h);

	if (rc)
		return rc;
	if (evbuffer_add_printf(out, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"items\":[",
				h.kind[0] ? h.kind : "List", h.api) < 0)
		return -ENOMEM;
	rc = cw_store_list(es->s, &q, list_item, &l, &rv, cont);
	if (!rc && evbuffer_add_printf(out, "],\"metadata\":{\"resourceVersion\":\"%" PRIu64 "\"}}",
				       rv) < 0)
		rc = -ENOMEM;
	return rc;
}

static int replay_event(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it,
			void *arg)
{
	struct evbuffer *out = arg;

	(void)rv;
	if (evbuffer_add_printf(out, "{\"type\":\"%s\",\"object\":", cw_ev_type_name(type)) < 0 ||
	    evbuffer_add(out, it->bytes, it->len) || evbuffer_add(out, "}\n", 2))
		return -ENOMEM;
	return 0;
}

int cw_edgestore_replay(struct cw_edgestore *es, const struct cw_edgeview *v, uint64_t from,
			struct evbuffer *out, uint64_t *rv)
{
	struct cw_edgestore_head h;
	int rc = cw_edgestore_head(es, v, &h);

	return rc ? rc : cw_store_watch_from(es->s, v->name, from, replay_event, out, rv);
}

const struct cw_edgestore_stats *cw_edgestore_stats(const struct cw_edgestore *es)
{
	return &es->st;
}

int cw_edgestore_open(const char *dir, size_t map_size, struct cw_edgecache *heads,
		      struct cw_edgestore **out)
{
	struct cw_edgestore *es = calloc(1, sizeof(*es));
	int rc;

	if (!es)
		return -ENOMEM;
	rc = cw_store_open(dir, map_size, CW_EDGESTORE_HISTORY, &es->s);
	if (rc) {
		free(es);
		return rc;
	}
	es->heads = heads;
	*out = es;
	return 0;
}

void cw_edgestore_close(struct cw_edgestore *es)
{
	if (!es)
		return;
	cw_store_close(es->s);
	free(es);
}
