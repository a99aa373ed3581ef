/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub/topology.c: an EndpointSlice filtered to the endpoints of one pool
 * (only endpoints[] changes, in order, the rest as it was; NULL when
 * nothing is dropped), which Services ask for it, which labels name a
 * node's pool.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hub/topology.h"

/* Nodes n1, n2 in pool "east", n3 in "west", n4 without one. */
static int pools(const char *node, char *pool, void *ctx)
{
	int *calls = ctx;

	(*calls)++;
	if (!strcmp(node, "n1") || !strcmp(node, "n2"))
		strcpy(pool, "east");
	else if (!strcmp(node, "n3"))
		strcpy(pool, "west");
	else
		return -ENOENT;
	return 0;
}

static int broken(const char *node, char *pool, void *ctx)
{
	(void)node;
	(void)pool;
	(void)ctx;
	return -EIO;
}

#define HEAD                                                                                       \
	"{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\","                      \
	"\"metadata\":{\"name\":\"web-x\",\"namespace\":\"default\",\"resourceVersion\":\"9\","    \
	"\"labels\":{\"kubernetes.io/service-name\":\"web\"}},\"addressType\":\"IPv4\","
#define EP(ip, node) "{\"addresses\":[\"" ip "\"],\"nodeName\":\"" node "\"}"
#define TAIL	     ",\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}"

static void filter(const char *in, const char *pool, const char *want, int want_calls)
{
	char *out = (char *)1;
	size_t len = 1;
	int calls = 0;

	assert_int_equal(cw_topo_filter(in, strlen(in), pool, pools, &calls, &out, &len), 0);
	if (!want) {
		assert_null(out);
		assert_int_equal(len, 0);
	} else {
		assert_non_null(out);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(out, want, len);
	}
	assert_int_equal(calls, want_calls);
	free(out);
}

static void test_filter(void **state)
{
	const char *slice =
	    HEAD "\"endpoints\":[" EP("10.0.0.1", "n1") "," EP("10.0.0.3", "n3") "," EP(
		"10.0.0.2", "n2") "," EP("10.0.0.4", "n4") "," EP("10.0.0.5", "n3") "]" TAIL;

	(void)state;
	/* Only endpoints[] changes; the members stay where they were. */
	filter(slice, "east",
	       HEAD "\"endpoints\":[" EP("10.0.0.1", "n1") "," EP("10.0.0.2", "n2") "]" TAIL, 5);
	filter(slice, "west",
	       HEAD "\"endpoints\":[" EP("10.0.0.3", "n3") "," EP("10.0.0.5", "n3") "]" TAIL, 5);
	filter(slice, "north", HEAD "\"endpoints\":[]" TAIL, 5);
}

static void test_unchanged(void **state)
{
	/* Bytes as sent, spacing and all, when nothing is dropped. */
	const char *all =
	    HEAD " \"endpoints\": [" EP("10.0.0.1", "n1") ", " EP("10.0.0.2", "n2") "]" TAIL;
	const char *none = HEAD "\"endpoints\":[]" TAIL;
	const char *null = HEAD "\"endpoints\":null" TAIL;
	const char *absent = "{\"kind\":\"EndpointSlice\"}";

	(void)state;
	filter(all, "east", NULL, 2);
	filter(none, "east", NULL, 0);
	filter(null, "east", NULL, 0);
	filter(absent, "east", NULL, 0);
}

static void test_no_node(void **state)
{
	/* An endpoint without a node, or not an object, is not in any pool. */
	const char *s =
	    HEAD "\"endpoints\":[{\"addresses\":[\"10.0.0.9\"]},7," EP("10.0.0.1", "n1") "]" TAIL;

	(void)state;
	filter(s, "east", HEAD "\"endpoints\":[" EP("10.0.0.1", "n1") "]" TAIL, 1);
}

static void test_errors(void **state)
{
	const char *s = HEAD "\"endpoints\":[" EP("10.0.0.1", "n1") "]" TAIL;
	const char *dup = "{\"endpoints\":[],\"endpoints\":[]}";
	char *out;
	size_t len;
	int calls = 0;

	(void)state;
	assert_int_equal(cw_topo_filter(s, strlen(s), "east", broken, NULL, &out, &len), -EIO);
	assert_null(out);
	assert_int_equal(cw_topo_filter("[1]", 3, "east", pools, &calls, &out, &len), -EINVAL);
	assert_int_equal(cw_topo_filter("{", 1, "east", pools, &calls, &out, &len), -EINVAL);
	assert_int_equal(cw_topo_filter(dup, strlen(dup), "east", pools, &calls, &out, &len),
			 -EINVAL);
	assert_int_equal(cw_topo_filter(s, strlen(s), "", pools, &calls, &out, &len), -EINVAL);
	assert_null(out);
	assert_int_equal(calls, 0);
}

static json_t *load(const char *j)
{
	json_t *v = json_loads(j, 0, NULL);

	assert_non_null(v);
	return v;
}

static bool wants(const char *annotations)
{
	char buf[512];
	json_t *svc;
	bool w;

	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"web\",\"annotations\":%s}}",
		 annotations);
	svc = load(buf);
	w = cw_topo_service_wants_pool(svc);
	json_decref(svc);
	return w;
}

static void test_service(void **state)
{
	json_t *bare = load("{\"metadata\":{\"name\":\"web\"}}");

	(void)state;
	assert_true(wants("{\"causeway.io/topology\":\"pool\"}"));
	assert_true(wants("{\"openyurt.io/topologyKeys\":\"openyurt.io/nodepool\"}"));
	assert_true(wants("{\"openyurt.io/topologyKeys\":\"kubernetes.io/zone\"}"));
	assert_false(wants("{\"causeway.io/topology\":\"node\"}"));
	assert_false(wants("{\"openyurt.io/topologyKeys\":\"kubernetes.io/hostname\"}"));
	assert_false(wants("{\"causeway.io/topology\":7}"));
	assert_false(wants("{}"));
	assert_false(wants("null"));
	assert_false(cw_topo_service_wants_pool(bare));
	assert_false(cw_topo_service_wants_pool(NULL));
	json_decref(bare);
}

static void test_node_pool(void **state)
{
	json_t *both = load("{\"causeway.io/pool\":\"a\",\"apps.openyurt.io/nodepool\":\"b\"}");
	json_t *yurt = load("{\"apps.openyurt.io/nodepool\":\"b\"}");
	json_t *empty = load("{\"causeway.io/pool\":\"\",\"apps.openyurt.io/nodepool\":\"b\"}");
	json_t *other = load("{\"zone\":\"z\"}");
	char lng[128];
	json_t *toolong;

	(void)state;
	assert_string_equal(cw_topo_node_pool(both), "a");
	assert_string_equal(cw_topo_node_pool(yurt), "b");
	assert_string_equal(cw_topo_node_pool(empty), "b");
	assert_null(cw_topo_node_pool(other));
	assert_null(cw_topo_node_pool(NULL));
	memset(lng, 'p', CW_TOPO_POOL_MAX);
	lng[CW_TOPO_POOL_MAX] = '\0';
	toolong = json_pack("{ss}", "causeway.io/pool", lng);
	assert_null(cw_topo_node_pool(toolong));
	json_decref(toolong);
	json_decref(both);
	json_decref(yurt);
	json_decref(empty);
	json_decref(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_filter),  cmocka_unit_test(test_unchanged),
	    cmocka_unit_test(test_no_node), cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_service), cmocka_unit_test(test_node_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
