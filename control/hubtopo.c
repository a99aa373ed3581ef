/* SPDX-License-Identifier: Apache-2.0 */
#include "control/hubtopo.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "control/nodedir.h"

#define NODE_SLOTS 1024
#define SVC_SLOTS  256
#define KEY_LEN	   (CW_OBJ_NS_MAX + 1 + CW_OBJ_NAME_MAX + 1)

/* What a Node or Service said at one resourceVersion. */
struct slot {
	char key[KEY_LEN]; /* "ns/name"; "" when empty */
	uint64_t rv;
	char pool[CW_TOPO_POOL_MAX]; /* a Node's; "" for none */
	bool wants;		     /* a Service's */
};

struct cw_hubtopo {
	struct cw_store *store;
	struct cw_nodedir *nodes;
	struct slot node[NODE_SLOTS];
	struct slot svc[SVC_SLOTS];
};

int cw_hubtopo_new(struct cw_store *store, struct cw_nodedir *nodes, struct cw_hubtopo **out)
{
	struct cw_hubtopo *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->store = store;
	t->nodes = nodes;
	*out = t;
	return 0;
}

void cw_hubtopo_free(struct cw_hubtopo *t)
{
	free(t);
}

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* A lookup: the slot for the key, filled from the stored object when it
 * is not already from that object's resourceVersion. */
struct look {
	struct slot *s;
	const char *key;
	void (*fill)(struct slot *s, const json_t *root);
};

static void fill_node(struct slot *s, const json_t *root)
{
	const json_t *labels = json_object_get(json_object_get(root, "metadata"), "labels");
	const char *pool = cw_topo_node_pool(labels);

	snprintf(s->pool, sizeof(s->pool), "%s", pool ? pool : "");
}

static void fill_svc(struct slot *s, const json_t *root)
{
	s->wants = cw_topo_service_wants_pool(root);
}

static int look_item(const struct cw_store_item *it, void *arg)
{
	struct look *l = arg;
	json_t *root;

	if (l->s->rv == it->rv && !strcmp(l->s->key, l->key))
		return 0;
	root = json_loadb(it->bytes, it->len, 0, NULL);
	if (!root)
		return -EBADMSG; /* the store holds what parsed: not expected */
	memset(l->s, 0, sizeof(*l->s));
	l->fill(l->s, root);
	json_decref(root);
	snprintf(l->s->key, sizeof(l->s->key), "%s", l->key);
	l->s->rv = it->rv;
	return 0;
}

static int lookup(struct cw_hubtopo *t, const char *res, const char *ns, const char *name,
		  struct slot *slots, size_t n, struct look *l)
{
	char key[KEY_LEN];

	if (snprintf(key, sizeof(key), "%s/%s", ns, name) >= (int)sizeof(key))
		return -ENOENT;
	l->key = key;
	l->s = &slots[fnv(key) % n];
	return cw_store_get(t->store, res, ns, name, look_item, l);
}

int cw_hubtopo_node_pool(struct cw_hubtopo *t, const char *node, char *pool)
{
	struct look l = {.fill = fill_node};
	struct cw_node_info n;
	int rc = lookup(t, "nodes", "", node, t->node, NODE_SLOTS, &l);

	if (!rc && l.s->pool[0]) {
		memcpy(pool, l.s->pool, CW_TOPO_POOL_MAX);
		return 0;
	}
	if (rc && rc != -ENOENT)
		return rc;
	if (!t->nodes)
		return -ENOENT;
	rcu_read_lock();
	rc = cw_nodedir_get(t->nodes, node, &n);
	rcu_read_unlock();
	if (rc || !n.pool[0])
		return -ENOENT;
	snprintf(pool, CW_TOPO_POOL_MAX, "%s", n.pool);
	return 0;
}

bool cw_hubtopo_wanted(struct cw_hubtopo *t, const struct cw_obj *slice)
{
	const char *svc = json_string_value(json_object_get(slice->labels, CW_TOPO_SERVICE_LABEL));
	struct look l = {.fill = fill_svc};

	return svc && *svc && !lookup(t, "services", slice->ns, svc, t->svc, SVC_SLOTS, &l) &&
	       l.s->wants;
}

static int pool_of(const char *node, char *pool, void *ctx)
{
	return cw_hubtopo_node_pool(ctx, node, pool);
}

int cw_hubtopo_filter(struct cw_hubtopo *t, const struct cw_obj *slice, const void *bytes,
		      size_t len, const char *pool, char **out, size_t *out_len)
{
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!pool[0] || !cw_hubtopo_wanted(t, slice))
		return 0;
	rc = cw_topo_filter(bytes, len, pool, pool_of, t, out, out_len);
	return rc == -ENOMEM ? rc : 0;
}
