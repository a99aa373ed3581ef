/* SPDX-License-Identifier: Apache-2.0 */
#include "hub/topology.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

const char *cw_topo_node_pool(const json_t *labels)
{
	static const char *const keys[] = {"causeway.io/pool", "apps.openyurt.io/nodepool"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = str(labels, keys[i]);

		if (v && *v && strlen(v) < CW_TOPO_POOL_MAX)
			return v;
	}
	return NULL;
}

bool cw_topo_service_wants_pool(const json_t *svc)
{
	const json_t *ann = json_object_get(json_object_get(svc, "metadata"), "annotations");
	const char *cw = str(ann, "causeway.io/topology");
	const char *yurt = str(ann, "openyurt.io/topologyKeys");

	return (cw && !strcmp(cw, "pool")) || (yurt && (!strcmp(yurt, "openyurt.io/nodepool") ||
							!strcmp(yurt, "kubernetes.io/zone")));
}

/* 1 when endpoint @ep is on a node of @pool, 0 when not, or @fn's error. */
static int in_pool(const json_t *ep, const char *pool, cw_topo_pool_fn fn, void *ctx)
{
	const char *node = str(ep, "nodeName");
	char p[CW_TOPO_POOL_MAX];
	int rc;

	if (!node || !*node)
		return 0;
	rc = fn(node, p, ctx);
	if (rc == -ENOENT)
		return 0;
	return rc < 0 ? rc : !strcmp(p, pool);
}

/* The endpoints of @eps in @pool into *@kept (NULL when all are). */
static int keep(json_t *eps, const char *pool, cw_topo_pool_fn fn, void *ctx, json_t **kept)
{
	size_t i;
	json_t *ep;

	*kept = NULL;
	json_array_foreach(eps, i, ep)
	{
		int rc = in_pool(ep, pool, fn, ctx);

		if (rc < 0)
			return rc;
		if (rc && *kept && json_array_append(*kept, ep))
			return -ENOMEM;
		if (!rc && !*kept) {
			/* The first one dropped: the ones before it stay. */
			*kept = json_array();
			for (size_t k = 0; *kept && k < i; k++)
				if (json_array_append(*kept, json_array_get(eps, k)))
					return -ENOMEM;
			if (!*kept)
				return -ENOMEM;
		}
	}
	return 0;
}

int cw_topo_filter(const void *slice, size_t len, const char *pool, cw_topo_pool_fn fn, void *ctx,
		   char **out, size_t *out_len)
{
	json_t *root, *eps, *kept = NULL;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!pool || !*pool || !fn)
		return -EINVAL;
	root = json_loadb(slice, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	eps = json_object_get(root, "endpoints");
	rc = json_is_array(eps) ? keep(eps, pool, fn, ctx, &kept) : 0;
	if (!rc && kept) {
		/* json_object_set keeps the member where it stands. */
		rc = json_object_set(root, "endpoints", kept) ? -ENOMEM : 0;
		*out = rc ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!rc && !*out)
			rc = -ENOMEM;
		*out_len = *out ? strlen(*out) : 0;
	}
	json_decref(kept);
	json_decref(root);
	return rc;
}
