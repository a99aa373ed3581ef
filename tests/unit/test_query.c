/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub/query.c: the hub route's reading of a request's path and query
 * string (what kube-apiserver would make of them, or -EINVAL for what the
 * hub leaves to the upstream), and the watch cache's rule for objects
 * entering and leaving a watcher's selector.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hub/query.h"

static void test_paths(void **state)
{
	struct cw_hub_query q;

	(void)state;
	assert_int_equal(cw_hub_query_parse("/api/v1/pods", NULL, &q), 0);
	assert_string_equal(q.resource, "pods");
	assert_string_equal(q.api, "v1");
	assert_string_equal(q.ns, "");
	assert_string_equal(q.name, "");
	assert_false(q.watch);
	assert_int_equal(q.match, CW_RV_ANY);

	assert_int_equal(cw_hub_query_parse("/api/v1/namespaces/kube-system/configmaps/cm", "", &q),
			 0);
	assert_string_equal(q.resource, "configmaps");
	assert_string_equal(q.ns, "kube-system");
	assert_string_equal(q.name, "cm");

	assert_int_equal(
	    cw_hub_query_parse("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", NULL,
			       &q),
	    0);
	assert_string_equal(q.resource, "endpointslices.discovery.k8s.io");
	assert_string_equal(q.api, "discovery.k8s.io/v1");
	assert_string_equal(q.ns, "default");

	/* The namespaces resource itself, and one namespace by name. */
	assert_int_equal(cw_hub_query_parse("/api/v1/namespaces", NULL, &q), 0);
	assert_string_equal(q.resource, "namespaces");
	assert_int_equal(cw_hub_query_parse("/api/v1/namespaces/default", NULL, &q), 0);
	assert_string_equal(q.resource, "namespaces");
	assert_string_equal(q.name, "default");
}

static void test_bad_paths(void **state)
{
	static const char *const bad[] = {
	    "",
	    "/",
	    "/api",
	    "/api/v1",
	    "/api/v2/pods",
	    "/apis/apps",
	    "/apis/apps/v1",
	    "api/v1/pods",
	    "/api/v1/pods/",
	    "/api//v1/pods",
	    "/api/v1/namespaces/default/pods/p1/status", /* a subresource */
	    "/api/v1/pods/a/b/c/d/e/f/g",
	};
	struct cw_hub_query q;
	char longseg[CW_QUERY_SEG_MAX + 16] = "/api/v1/";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_hub_query_parse(bad[i], NULL, &q), -EINVAL);
	memset(longseg + 8, 'x', CW_QUERY_SEG_MAX);
	longseg[8 + CW_QUERY_SEG_MAX] = '\0';
	assert_int_equal(cw_hub_query_parse(longseg, NULL, &q), -EINVAL);
}

static void test_params(void **state)
{
	struct cw_hub_query q;

	(void)state;
	assert_int_equal(cw_hub_query_parse("/api/v1/pods",
					    "watch=true&resourceVersion=42&timeoutSeconds=30&"
					    "allowWatchBookmarks=true",
					    &q),
			 0);
	assert_true(q.watch);
	assert_true(q.bookmarks);
	assert_int_equal(q.rv, 42);
	assert_int_equal(q.match, CW_RV_NOT_OLDER); /* a resourceVersion alone */
	assert_int_equal(q.timeout_s, 30);
	cw_hub_query_release(&q);

	assert_int_equal(
	    cw_hub_query_parse("/api/v1/pods",
			       "resourceVersion=7&resourceVersionMatch=Exact&limit=500&"
			       "continue=7-oabc",
			       &q),
	    0);
	assert_int_equal(q.match, CW_RV_EXACT);
	assert_int_equal(q.limit, 500);
	assert_string_equal(q.cont, "7-oabc");

	/* "0" and "": any version; a key alone is an empty value; &&: nothing. */
	assert_int_equal(cw_hub_query_parse("/api/v1/pods", "resourceVersion=0&&watch", &q), 0);
	assert_int_equal(q.rv, 0);
	assert_int_equal(q.match, CW_RV_ANY);
	assert_false(q.watch);
	assert_int_equal(cw_hub_query_parse("/api/v1/pods", "watch=1", &q), 0);
	assert_true(q.watch);
	assert_int_equal(cw_hub_query_parse("/api/v1/pods", "watch=False", &q), 0);
	assert_false(q.watch);
}

static void test_selectors(void **state)
{
	struct cw_hub_query q;
	json_t *a = json_pack("{s{s{ss}}}", "metadata", "labels", "app", "a");
	json_t *b = json_pack("{s{s{ss}}}", "metadata", "labels", "app", "b");

	(void)state;
	/* %3D is '=', '+' a space: "app in (a)". */
	assert_int_equal(cw_hub_query_parse("/api/v1/pods", "labelSelector=app+in+%28a%29", &q), 0);
	assert_non_null(q.labels);
	assert_null(q.fields);
	assert_true(cw_selector_match(q.labels, a));
	assert_false(cw_selector_match(q.labels, b));
	cw_hub_query_release(&q);
	assert_null(q.labels);

	/* The plain node term is picked out for the index, the rest compiled. */
	assert_int_equal(cw_hub_query_parse("/api/v1/pods",
					    "fieldSelector=status.phase%21%3DFailed,"
					    "spec.nodeName%3D%3Dedge-1",
					    &q),
			 0);
	assert_non_null(q.fields);
	assert_string_equal(q.node, "edge-1");
	cw_hub_query_release(&q);
	assert_int_equal(
	    cw_hub_query_parse("/api/v1/pods", "fieldSelector=spec.nodeName%21%3Dx", &q), 0);
	assert_string_equal(q.node, ""); /* != is no index lookup */
	cw_hub_query_release(&q);
	/* A node's own Node: the name term, checked on the store's keys. */
	assert_int_equal(
	    cw_hub_query_parse("/api/v1/nodes", "fieldSelector=metadata.name%3Dedge-1", &q), 0);
	assert_string_equal(q.fname, "edge-1");
	assert_string_equal(q.node, "");
	cw_hub_query_release(&q);
	assert_int_equal(
	    cw_hub_query_parse("/api/v1/nodes",
			       "fieldSelector=metadata.namespace%3Dx,metadata.name%21%3Dy", &q),
	    0);
	assert_string_equal(q.fname, "");
	cw_hub_query_release(&q);
	assert_int_equal(cw_hub_query_parse("/api/v1/pods", "labelSelector=&fieldSelector=", &q),
			 0);
	assert_null(q.labels);
	assert_null(q.fields);
	json_decref(a);
	json_decref(b);
}

static void test_bad_params(void **state)
{
	static const char *const bad[] = {
	    "watch=yes",
	    "resourceVersion=007",
	    "resourceVersion=-1",
	    "resourceVersion=18446744073709551616",
	    "resourceVersionMatch=Newer",
	    "limit=ten",
	    "limit=-5",
	    "timeoutSeconds=4294967296",
	    "labelSelector=app%3D%3D%3D",
	    "fieldSelector=nonsense",
	    "labelSelector=a&labelSelector=b", /* repeated */
	    "watch=true&watch=false",
	    "pretty=true", /* unknown: the upstream's */
	    "labelSelector=%zz",
	    "labelSelector=%4",
	    "continue=%00",
	};
	struct cw_hub_query q;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cw_hub_query_parse("/api/v1/pods", bad[i], &q), -EINVAL);
		assert_null(q.labels); /* released on the error */
		assert_null(q.fields);
	}
	/* A watch of one named object is the upstream's. */
	assert_int_equal(cw_hub_query_parse("/api/v1/namespaces/d/pods/p1", "watch=true", &q),
			 -EINVAL);
}

static void test_unescape(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(cw_query_unescape("a+b%2C%2c", 9, out, sizeof(out)), 5);
	assert_string_equal(out, "a b,,");
	assert_int_equal(cw_query_unescape("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(cw_query_unescape("1234567", 7, out, sizeof(out)), 7);
	assert_int_equal(cw_query_unescape("12345678", 8, out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(cw_query_unescape("%", 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(cw_query_unescape("%g0", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(cw_query_unescape("%00", 3, out, sizeof(out)), -EINVAL);
	/* Only @len bytes are read: "%4" then a byte that is not there. */
	assert_int_equal(cw_query_unescape("%41", 2, out, sizeof(out)), -EINVAL);
}

/* The watch cache's rule: prevObject matched / object matches. */
static void test_watch_type(void **state)
{
	(void)state;
	assert_int_equal(cw_hub_watch_type(CW_EV_MODIFIED, 1, true), CW_EV_MODIFIED);
	assert_int_equal(cw_hub_watch_type(CW_EV_MODIFIED, 1, false), CW_EV_DELETED);
	assert_int_equal(cw_hub_watch_type(CW_EV_MODIFIED, 0, true), CW_EV_ADDED);
	assert_int_equal(cw_hub_watch_type(CW_EV_MODIFIED, 0, false), 0);
	/* Unknown previous state: by the object alone. */
	assert_int_equal(cw_hub_watch_type(CW_EV_MODIFIED, -1, true), CW_EV_MODIFIED);
	assert_int_equal(cw_hub_watch_type(CW_EV_MODIFIED, -1, false), 0);
	assert_int_equal(cw_hub_watch_type(CW_EV_ADDED, -1, true), CW_EV_ADDED);
	assert_int_equal(cw_hub_watch_type(CW_EV_ADDED, -1, false), 0);
	/* An ADDED over a stored object: by what the watcher had. */
	assert_int_equal(cw_hub_watch_type(CW_EV_ADDED, 1, false), CW_EV_DELETED);
	assert_int_equal(cw_hub_watch_type(CW_EV_ADDED, 1, true), CW_EV_MODIFIED);
	assert_int_equal(cw_hub_watch_type(CW_EV_ADDED, 0, true), CW_EV_ADDED);
	assert_int_equal(cw_hub_watch_type(CW_EV_DELETED, -1, true), CW_EV_DELETED);
	assert_int_equal(cw_hub_watch_type(CW_EV_DELETED, -1, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paths),      cmocka_unit_test(test_bad_paths),
	    cmocka_unit_test(test_params),     cmocka_unit_test(test_selectors),
	    cmocka_unit_test(test_bad_params), cmocka_unit_test(test_unescape),
	    cmocka_unit_test(test_watch_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
