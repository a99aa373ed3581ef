/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/agent/edgeview.c: list and watch queries normalised to the view
 * the edge store keeps them under.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/agent/edgeview.h"

static void want_key(const char *uri, const char *key)
{
	struct cw_edgeview v;

	assert_int_equal(cw_edgeview_parse(uri, &v), 0);
	assert_string_equal(v.key, key);
}

static void test_watch_and_list_are_one_view(void **state)
{
	struct cw_edgeview l, w;

	(void)state;
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1", &l),
			 0);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1"
					   "&watch=true&resourceVersion=5&timeoutSeconds=300"
					   "&allowWatchBookmarks=true",
					   &w),
			 0);
	assert_string_equal(l.key, "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1");
	assert_string_equal(w.key, l.key);
	assert_string_equal(w.name, l.name);
	assert_false(l.watch);
	assert_false(l.bookmarks);
	assert_int_equal(l.rv, 0);
	assert_int_equal(l.timeout_s, 0);
	assert_true(w.watch);
	assert_true(w.bookmarks);
	assert_int_equal(w.rv, 5);
	assert_int_equal(w.timeout_s, 300);
	/* "view-" and 16 hex digits */
	assert_int_equal(strlen(l.name), 21);
	assert_memory_equal(l.name, "view-", 5);
	assert_int_equal(strspn(l.name + 5, "0123456789abcdef"), 16);
}

static void test_spellings_of_one_view(void **state)
{
	static const char *const same[] = {
	    "/api/v1/pods?fieldSelector=spec.nodeName=edge-1",
	    "/api/v1/pods/?fieldSelector=spec.nodeName%3dedge-1",
	    "/api/v1/watch/pods?fieldSelector=spec.nodeName%3Dedge-1",
	    "/api/v1/pods?limit=500&fieldSelector=spec.nodeName%3Dedge-1&resourceVersion=0"
	    "&resourceVersionMatch=NotOlderThan",
	    "/api/v1/pods?labelSelector=&fieldSelector=spec.nodeName%3Dedge-1&",
	};
	struct cw_edgeview v;

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		want_key(same[i], "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1");
	assert_int_equal(cw_edgeview_parse(same[2], &v), 0);
	assert_true(v.watch); /* the legacy /watch/ path */
	/* Selectors in either order; '+' is a space. */
	want_key("/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app+in+(a,b)"
		 "&fieldSelector=status.phase!%3DFailed",
		 "/api/v1/namespaces/kube-system/pods?fieldSelector=status.phase%21%3DFailed"
		 "&labelSelector=k8s-app%20in%20%28a%2Cb%29");
	want_key("/apis/discovery.k8s.io/v1/endpointslices?labelSelector=a%3Db",
		 "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=a%3Db");
	want_key("/api/v1/namespaces", "/api/v1/namespaces");
	want_key("/api/v1/nodes?watch=1", "/api/v1/nodes");
}

static void test_views_apart(void **state)
{
	static const char *const uris[] = {
	    "/api/v1/pods",
	    "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1",
	    "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-2",
	    "/api/v1/pods?labelSelector=spec.nodeName%3Dedge-1",
	    "/api/v1/namespaces/default/pods",
	    "/api/v1/namespaces/default/configmaps",
	    "/apis/coordination.k8s.io/v1/leases",
	};
	struct cw_edgeview v[sizeof(uris) / sizeof(uris[0])];

	(void)state;
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		assert_int_equal(cw_edgeview_parse(uris[i], &v[i]), 0);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(v[i].key, v[j].key);
			assert_string_not_equal(v[i].name, v[j].name);
		}
	}
}

static void test_not_views(void **state)
{
	static const char *const uris[] = {
	    "/api/v1/namespaces/default/pods/p1",
	    "/api/v1/namespaces/default/pods/p1/status",
	    "/api/v1/namespaces/default",
	    "/api/v1/nodes/edge-1",
	    "/apis/apps/v1/namespaces/default/deployments/d/scale",
	    "/api/v1",
	    "/api",
	    "/apis/apps/v1",
	    "/healthz",
	    "/version?timeout=32s",
	    "/",
	    "",
	    "api/v1/pods",
	    "/api/v1//pods",
	    "/api/v1/../v1/pods",
	    "/api/v1/pods?pretty=true",
	    "/api/v1/pods?sendInitialEvents=true&watch=true",
	    "/api/v1/a/b/c/d/e/f/g/h/pods",
	};
	struct cw_edgeview v;

	(void)state;
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		print_message("%s\n", uris[i]);
		assert_int_equal(cw_edgeview_parse(uris[i], &v), -ENOENT);
	}
}

static void test_paging_and_errors(void **state)
{
	char uri[1200];
	struct cw_edgeview v;

	(void)state;
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?limit=500&continue=abc", &v), 0);
	assert_true(v.cont);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?limit=500&continue=", &v), 0);
	assert_false(v.cont);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?resourceVersion=abc", &v), -EINVAL);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?resourceVersion=007", &v), -EINVAL);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?timeoutSeconds=-1", &v), -EINVAL);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?labelSelector=a%zz", &v), -EINVAL);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?labelSelector=a%4", &v), -EINVAL);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?labelSelector=a%00", &v), -EINVAL);
	assert_int_equal(cw_edgeview_parse("/api/v1/pods?watch=true&watch=false", &v), -EINVAL);
	/* A key beyond what the store's keys allow. */
	strcpy(uri, "/api/v1/pods?labelSelector=");
	memset(uri + strlen(uri), 'a', 390);
	uri[sizeof("/api/v1/pods?labelSelector=") - 1 + 390] = '\0';
	assert_int_equal(cw_edgeview_parse(uri, &v), -ENAMETOOLONG);
	uri[sizeof("/api/v1/pods?labelSelector=") - 1 + 300] = '\0';
	assert_int_equal(cw_edgeview_parse(uri, &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_watch_and_list_are_one_view),
	    cmocka_unit_test(test_spellings_of_one_view),
	    cmocka_unit_test(test_views_apart),
	    cmocka_unit_test(test_not_views),
	    cmocka_unit_test(test_paging_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
