/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/agent/writepolicy.c: which writes are queued, what each answer
 * to a replayed one leads to (the conflict policy per resource), and the
 * bodies the policy sends again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"
#include "tunnel/agent/writepolicy.h"

static void test_classify(void **state)
{
	static const struct {
		const char *verb, *uri;
		enum cw_wp_kind want;
	} cases[] = {
	    {"PATCH", "/api/v1/namespaces/default/pods/p1/status", CW_WP_POD_STATUS},
	    {"PUT", "/api/v1/namespaces/default/pods/p1/status?fieldManager=k", CW_WP_POD_STATUS},
	    {"POST", "/api/v1/namespaces/default/pods/p1/status", CW_WP_NONE},
	    {"PATCH", "/api/v1/namespaces/default/pods/p1", CW_WP_NONE},
	    {"DELETE", "/api/v1/namespaces/default/pods/p1", CW_WP_NONE},
	    {"POST", "/api/v1/namespaces/default/pods", CW_WP_NONE},
	    {"PATCH", "/api/v1/nodes/edge-1/status", CW_WP_NODE_STATUS},
	    {"PUT", "//api/v1/nodes/edge-1/status", CW_WP_NODE_STATUS},
	    {"PATCH", "/api/v1/nodes/edge-1", CW_WP_NONE},
	    {"PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1",
	     CW_WP_LEASE},
	    {"PATCH", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1",
	     CW_WP_LEASE},
	    {"POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", CW_WP_LEASE},
	    {"POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1",
	     CW_WP_NONE},
	    {"PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", CW_WP_NONE},
	    {"DELETE", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1",
	     CW_WP_NONE},
	    {"PUT", "/apis/coordination.k8s.io/v2/namespaces/n/leases/edge-1", CW_WP_NONE},
	    {"POST", "/api/v1/namespaces/default/events", CW_WP_EVENT},
	    {"PATCH", "/api/v1/namespaces/default/events/e1", CW_WP_EVENT},
	    {"PUT", "/api/v1/namespaces/default/events/e1", CW_WP_NONE},
	    {"POST", "/apis/events.k8s.io/v1/namespaces/default/events", CW_WP_EVENT},
	    {"PATCH", "/apis/events.k8s.io/v1/namespaces/default/events/e1", CW_WP_EVENT},
	    {"POST", "/api/v1/events", CW_WP_NONE},
	    {"PATCH", "/api/v1/namespaces/default/configmaps/c", CW_WP_NONE},
	    {"PATCH", "/api/v1/namespaces/default/pods/p1/status/x", CW_WP_NONE},
	    {"PATCH", "/a/b/c/d/e/f/g/h/i/status", CW_WP_NONE},
	    {"PATCH", "", CW_WP_NONE},
	    {"PATCH", "/", CW_WP_NONE},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cw_wp_kind got = cw_wp_classify(cases[i].verb, cases[i].uri);

		if (got != cases[i].want)
			fail_msg("%s %s: %d, not %d", cases[i].verb, cases[i].uri, got,
				 cases[i].want);
	}
}

static void test_decide(void **state)
{
	static const struct {
		enum cw_wp_kind kind;
		const char *verb;
		unsigned status;
		enum cw_wp_action want;
	} cases[] = {
	    {CW_WP_POD_STATUS, "PATCH", 200, CW_WP_DONE},
	    {CW_WP_EVENT, "POST", 201, CW_WP_DONE},
	    {CW_WP_LEASE, "PUT", 0, CW_WP_RETRY},
	    {CW_WP_LEASE, "PUT", 500, CW_WP_RETRY},
	    {CW_WP_LEASE, "PUT", 503, CW_WP_RETRY},
	    {CW_WP_EVENT, "POST", 429, CW_WP_RETRY},
	    {CW_WP_POD_STATUS, "PATCH", 409, CW_WP_REAPPLY},
	    {CW_WP_NODE_STATUS, "PUT", 409, CW_WP_REAPPLY},
	    {CW_WP_LEASE, "PUT", 409, CW_WP_LEASE_READ},
	    {CW_WP_LEASE, "PATCH", 409, CW_WP_LEASE_READ},
	    {CW_WP_LEASE, "POST", 409, CW_WP_RESOLVED},
	    {CW_WP_EVENT, "POST", 409, CW_WP_RESOLVED},
	    {CW_WP_EVENT, "PATCH", 409, CW_WP_RESOLVED},
	    {CW_WP_NONE, "PUT", 409, CW_WP_DROP},
	    {CW_WP_POD_STATUS, "PATCH", 404, CW_WP_DROP},
	    {CW_WP_LEASE, "PUT", 422, CW_WP_DROP},
	    {CW_WP_EVENT, "POST", 403, CW_WP_DROP},
	    {CW_WP_POD_STATUS, "PATCH", 302, CW_WP_DROP},
	    /* second tries */
	    {CW_WP_NONE, "PATCH", 200, CW_WP_DONE},
	    {CW_WP_NONE, "GET", 0, CW_WP_RETRY},
	    {CW_WP_NONE, "GET", 404, CW_WP_DROP},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cw_wp_action got = cw_wp_decide(cases[i].kind, cases[i].verb, cases[i].status);

		if (got != cases[i].want)
			fail_msg("kind %d %s %u: %d, not %d", cases[i].kind, cases[i].verb,
				 cases[i].status, got, cases[i].want);
	}
	assert_true(cw_wp_supersedes(CW_WP_LEASE, "PUT"));
	assert_false(cw_wp_supersedes(CW_WP_LEASE, "PATCH"));
	assert_false(cw_wp_supersedes(CW_WP_LEASE, "POST"));
	assert_false(cw_wp_supersedes(CW_WP_POD_STATUS, "PUT"));
	assert_false(cw_wp_supersedes(CW_WP_EVENT, "POST"));
}

/* @json parsed; the test fails when it is not JSON. */
static json_t *parse(const char *json, size_t len)
{
	json_t *o = json_loadb(json, len, 0, NULL);

	assert_non_null(o);
	return o;
}

static void assert_json_equal(const char *got, size_t len, const char *want)
{
	json_t *g = parse(got, len), *w = parse(want, strlen(want));

	if (!json_equal(g, w))
		fail_msg("%.*s is not %s", (int)len, got, want);
	json_decref(g);
	json_decref(w);
}

static void test_strip_rv(void **state)
{
	const char *p = "{\"metadata\":{\"resourceVersion\":\"7\",\"uid\":\"u\"},"
			"\"status\":{\"phase\":\"Running\"}}";
	char *out;
	size_t len;

	(void)state;
	assert_int_equal(cw_wp_strip_rv(p, strlen(p), &out, &len), 0);
	assert_json_equal(out, len,
			  "{\"metadata\":{\"uid\":\"u\"},\"status\":{\"phase\":\"Running\"}}");
	free(out);
	p = "{\"status\":{\"phase\":\"Running\"}}";
	assert_int_equal(cw_wp_strip_rv(p, strlen(p), &out, &len), -ENOENT);
	p = "{\"metadata\":{\"uid\":\"u\"}}";
	assert_int_equal(cw_wp_strip_rv(p, strlen(p), &out, &len), -ENOENT);
	p = "[1]";
	assert_int_equal(cw_wp_strip_rv(p, strlen(p), &out, &len), -EINVAL);
	p = "{\"metadata\":";
	assert_int_equal(cw_wp_strip_rv(p, strlen(p), &out, &len), -EINVAL);
}

static const char ours[] =
    "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
    "\"edge-1\",\"namespace\":\"kube-node-lease\",\"resourceVersion\":\"5\"},\"spec\":{"
    "\"holderIdentity\":\"edge-1\",\"renewTime\":\"2026-01-01T00:00:09.000000Z\"}}";

static void current(char *buf, size_t cap, const char *holder, const char *rv)
{
	snprintf(buf, cap,
		 "{\"metadata\":{\"name\":\"edge-1\",\"resourceVersion\":\"%s\"},\"spec\":{%s%s%s"
		 "\"renewTime\":\"2026-01-01T00:00:05.000000Z\"}}",
		 rv, holder ? "\"holderIdentity\":\"" : "", holder ? holder : "",
		 holder ? "\"," : "");
}

static void test_lease_rebase(void **state)
{
	char cur[512], *out;
	const char *patch = "{\"metadata\":{\"resourceVersion\":\"5\"},\"spec\":{\"renewTime\":"
			    "\"2026-01-01T00:00:09.000000Z\"}}";
	size_t len;
	json_t *o;

	(void)state;
	/* ours, on top of the current version */
	current(cur, sizeof(cur), "edge-1", "12");
	assert_int_equal(
	    cw_wp_lease_rebase(ours, strlen(ours), false, cur, strlen(cur), "edge-1", &out, &len),
	    0);
	o = parse(out, len);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion")),
	    "12");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "spec"), "renewTime")),
	    "2026-01-01T00:00:09.000000Z");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "spec"), "holderIdentity")),
	    "edge-1");
	json_decref(o);
	free(out);
	/* a lease with no holder is ours to take; one without holderIdentity too */
	current(cur, sizeof(cur), "", "13");
	assert_int_equal(
	    cw_wp_lease_rebase(ours, strlen(ours), false, cur, strlen(cur), "edge-1", &out, &len),
	    0);
	free(out);
	current(cur, sizeof(cur), NULL, "13");
	assert_int_equal(
	    cw_wp_lease_rebase(ours, strlen(ours), false, cur, strlen(cur), "edge-1", &out, &len),
	    0);
	free(out);
	/* another node holds it: ours is dropped */
	current(cur, sizeof(cur), "edge-2", "14");
	assert_int_equal(
	    cw_wp_lease_rebase(ours, strlen(ours), false, cur, strlen(cur), "edge-1", &out, &len),
	    -EPERM);
	/* a patch goes without a precondition */
	current(cur, sizeof(cur), "edge-1", "15");
	assert_int_equal(
	    cw_wp_lease_rebase(patch, strlen(patch), true, cur, strlen(cur), "edge-1", &out, &len),
	    0);
	assert_json_equal(
	    out, len, "{\"metadata\":{},\"spec\":{\"renewTime\":\"2026-01-01T00:00:09.000000Z\"}}");
	free(out);
	/* not JSON objects; a current lease without a resourceVersion */
	assert_int_equal(cw_wp_lease_rebase("x", 1, false, cur, strlen(cur), "edge-1", &out, &len),
			 -EINVAL);
	assert_int_equal(
	    cw_wp_lease_rebase(ours, strlen(ours), false, "[]", 2, "edge-1", &out, &len), -EINVAL);
	assert_int_equal(
	    cw_wp_lease_rebase(ours, strlen(ours), false, "{}", 2, "edge-1", &out, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_decide),
	    cmocka_unit_test(test_strip_rv),
	    cmocka_unit_test(test_lease_rebase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
