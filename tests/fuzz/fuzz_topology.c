/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for hub/topology.c. The first input byte picks the
 * requester's pool ("east" when even, "west" when odd), the rest is the
 * EndpointSlice JSON. A node's pool comes from its name's first letter
 * ('e': east, 'w': west, 'x': the lookup fails with -EIO, else none).
 * The filter must return 0, -EINVAL, -ENOMEM or the lookup's -EIO; on 0
 * with no output every endpoint is in the pool (or there is no
 * endpoints array); with output, the result is a JSON object with the
 * input's members in the input's order, all equal but endpoints, which
 * holds exactly the input's endpoints in the pool, in order. The Service
 * and node label readers run on the input too. A violated invariant
 * traps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/topology.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static int pool_of(const char *node, char *pool, void *ctx)
{
	(void)ctx;
	check(node && node[0]);
	switch (node[0]) {
	case 'e':
		strcpy(pool, "east");
		return 0;
	case 'w':
		strcpy(pool, "west");
		return 0;
	case 'x':
		return -EIO;
	default:
		return -ENOENT;
	}
}

/* 1 in @pool, 0 not, -1 the lookup fails: as the filter must see it. */
static int in_pool(const json_t *ep, const char *pool)
{
	const char *node = json_string_value(json_object_get(ep, "nodeName"));
	char p[CW_TOPO_POOL_MAX];
	int rc;

	if (!node || !node[0])
		return 0;
	rc = pool_of(node, p, NULL);
	if (rc == -EIO)
		return -1;
	return !rc && !strcmp(p, pool);
}

static void check_output(const json_t *in, const char *out, size_t len, const char *pool)
{
	json_t *o = json_loadb(out, len, JSON_REJECT_DUPLICATES, NULL);
	const json_t *eps = json_object_get(in, "endpoints"), *got;
	void *a = json_object_iter((json_t *)in), *b;
	size_t i, k = 0;
	json_t *ep;

	check(json_is_object(o) && json_object_size(o) == json_object_size(in));
	b = json_object_iter(o);
	for (; a; a = json_object_iter_next((json_t *)in, a), b = json_object_iter_next(o, b)) {
		check(b && !strcmp(json_object_iter_key(a), json_object_iter_key(b)));
		if (strcmp(json_object_iter_key(a), "endpoints"))
			check(json_equal(json_object_iter_value(a), json_object_iter_value(b)));
	}
	got = json_object_get(o, "endpoints");
	check(json_is_array(eps) && json_is_array(got) &&
	      json_array_size(got) < json_array_size(eps));
	json_array_foreach(eps, i, ep)
	{
		if (in_pool(ep, pool) == 1)
			check(json_equal(ep, json_array_get(got, k++)));
	}
	check(k == json_array_size(got));
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *pool;
	json_t *in, *ep;
	char *out = NULL;
	size_t len = 0, i;
	int rc, fails = 0, all = 1;

	if (!size)
		return 0;
	pool = data[0] & 1 ? "west" : "east";
	rc = cw_topo_filter(data + 1, size - 1, pool, pool_of, NULL, &out, &len);
	check(rc == 0 || rc == -EINVAL || rc == -ENOMEM || rc == -EIO);
	in = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	check(rc != -EINVAL || !json_is_object(in));
	if (json_is_object(in)) {
		const char *p =
		    cw_topo_node_pool(json_object_get(json_object_get(in, "metadata"), "labels"));

		check(!p || (p[0] && strlen(p) < CW_TOPO_POOL_MAX));
		(void)cw_topo_service_wants_pool(in);
		json_array_foreach(json_object_get(in, "endpoints"), i, ep)
		{
			int r = in_pool(ep, pool);

			fails |= r < 0;
			all &= r == 1;
		}
	}
	if (rc == -EIO)
		check(fails);
	if (rc == 0 && !out)
		check(all);
	if (rc == 0 && out)
		check_output(in, out, len, pool);
	if (rc)
		check(!out && !len);
	free(out);
	json_decref(in);
	return 0;
}
