/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub/object.c: the fields the hub keys and indexes on, the strict
 * resourceVersion, and watch event lines whose object comes back as the
 * exact bytes of the line.
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

#include "hub/object.h"
#include "testutil.h"

static int parse_str(struct cw_obj *o, const char *s)
{
	return cw_obj_parse(o, s, strlen(s));
}

static void test_pod_fixture(void **state)
{
	size_t len;
	uint8_t *pod = tu_read_source_file("/tests/unit/fixtures/k8s/pod.json", &len);
	struct cw_obj o;

	(void)state;
	assert_int_equal(cw_obj_parse(&o, pod, len), 0);
	assert_ptr_equal(o.bytes, pod);
	assert_int_equal(o.len, len);
	assert_string_equal(o.api_version, "v1");
	assert_string_equal(o.kind, "Pod");
	assert_string_equal(o.ns, "logging");
	assert_string_equal(o.name, "fluent-bit-pjwlb");
	assert_string_equal(o.uid, "4ae02db6-0025-4c96-9ae3-c17dab186310");
	assert_true(o.rv == 108362365);
	assert_string_equal(o.node, "xa-cm-34-n013");
	assert_non_null(o.labels);
	assert_int_equal(json_object_size(o.labels), 3);
	assert_string_equal(json_string_value(json_object_get(o.labels, "pod-template-generation")),
			    "8");
	assert_false(o.deleting);
	cw_obj_release(&o);
	assert_null(o.root);
	cw_obj_release(&o);
	free(pod);
}

static void test_cluster_scoped_and_optional(void **state)
{
	size_t len;
	uint8_t *node = tu_read_source_file("/tests/unit/fixtures/k8s/node.json", &len);
	struct cw_obj o;

	(void)state;
	assert_int_equal(cw_obj_parse(&o, node, len), 0);
	assert_string_equal(o.kind, "Node");
	assert_string_equal(o.ns, "");
	assert_null(o.node);
	cw_obj_release(&o);
	free(node);

	/* A List item: no apiVersion or kind; nulls count as absent. */
	assert_int_equal(parse_str(&o, " {\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"7\","
				       "\"namespace\":null,\"labels\":null,\"deletionTimestamp\":"
				       "\"2026-01-01T00:00:00Z\"},\"spec\":{\"nodeName\":\"\"}}\n"),
			 0);
	assert_null(o.api_version);
	assert_null(o.kind);
	assert_null(o.uid);
	assert_null(o.labels);
	assert_null(o.node); /* "" is no node */
	assert_string_equal(o.ns, "");
	assert_true(o.deleting);
	assert_true(o.rv == 7);
	cw_obj_release(&o);
}

static void test_rv_parse(void **state)
{
	static const char *const bad[] = {"",
					  "00",
					  "01",
					  "-1",
					  "+1",
					  " 1",
					  "1 ",
					  "1a",
					  "0x10",
					  "18446744073709551616",
					  "99999999999999999999"};
	uint64_t rv = 5;

	(void)state;
	assert_int_equal(cw_rv_parse("0", 1, &rv), 0);
	assert_true(rv == 0);
	assert_int_equal(cw_rv_parse("647339842", 9, &rv), 0);
	assert_true(rv == 647339842);
	assert_int_equal(cw_rv_parse("18446744073709551615", 20, &rv), 0);
	assert_true(rv == UINT64_MAX);
	assert_string_equal(cw_ev_type_name(CW_EV_BOOKMARK), "BOOKMARK");
	assert_string_equal(cw_ev_type_name(0), "?");
	assert_string_equal(cw_ev_type_name(CW_EV_ERROR + 1), "?");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rv = 5;
		assert_int_equal(cw_rv_parse(bad[i], strlen(bad[i]), &rv), -EINVAL);
		assert_true(rv == 5);
	}
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
	    "[]",
	    "{}",
	    "{\"metadata\":{\"resourceVersion\":\"1\"}}",
	    "{\"metadata\":{\"name\":\"\",\"resourceVersion\":\"1\"}}",
	    "{\"metadata\":{\"name\":\"a\"}}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"0\"}}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"abc\"}}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":12}}",
	    "{\"metadata\":{\"name\":7,\"resourceVersion\":\"1\"}}",
	    "{\"metadata\":[],\"kind\":\"Pod\"}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\",\"labels\":[]}}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\",\"labels\":{\"k\":1}}}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"},\"spec\":{\"nodeName\":3}}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"},\"kind\":1}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}} x",
	    "{\"metadata\":{\"name\":\"a\",\"name\":\"b\",\"resourceVersion\":\"1\"}}",
	    "{\"metadata\":{\"name\":\"a\\u0000b\",\"resourceVersion\":\"1\"}}",
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}",
	};
	char big[600];
	struct cw_obj o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_str(&o, bad[i]), -EINVAL);
		assert_null(o.root);
	}
	/* Name 254 bytes, then 253; namespace 64 bytes. */
	snprintf(big, sizeof(big), "{\"metadata\":{\"name\":\"%0254d\",\"resourceVersion\":\"1\"}}",
		 0);
	assert_int_equal(parse_str(&o, big), -EINVAL);
	snprintf(big, sizeof(big), "{\"metadata\":{\"name\":\"%0253d\",\"resourceVersion\":\"1\"}}",
		 0);
	assert_int_equal(parse_str(&o, big), 0);
	assert_int_equal(strlen(o.name), 253);
	cw_obj_release(&o);
	snprintf(
	    big, sizeof(big),
	    "{\"metadata\":{\"name\":\"a\",\"namespace\":\"%064d\",\"resourceVersion\":\"1\"}}", 0);
	assert_int_equal(parse_str(&o, big), -EINVAL);
	/* A NUL byte, which jansson skips after a number. */
	static const char nul[] = "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\","
				  "\"x\":1\0}}";
	static const char nul_ev[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":"
				     "\"a\",\"resourceVersion\":\"1\",\"x\":1\0}}}";
	struct cw_watch_event ev;
	assert_int_equal(cw_obj_parse(&o, nul, sizeof(nul) - 1), -EINVAL);
	assert_int_equal(cw_watch_event_parse(&ev, nul_ev, sizeof(nul_ev) - 1), -EINVAL);
}

#define POD                                                                                        \
	"{\"kind\":\"Pod\", \"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","           \
	"\"resourceVersion\":\"42\",\"annotations\":{\"n\":\"\\u00e9\\\"}\"}},"                    \
	"\"spec\":{\"nodeName\":\"edge-1\"}}"

static void test_watch_event(void **state)
{
	static const char line[] = "{\"type\":\"MODIFIED\",\"object\":" POD "}\n";
	static const char swapped[] = " { \"object\" : " POD " , \"type\" : \"DELETED\" } ";
	struct cw_watch_event ev;

	(void)state;
	assert_int_equal(cw_watch_event_parse(&ev, line, strlen(line)), 0);
	assert_int_equal(ev.type, CW_EV_MODIFIED);
	assert_int_equal(ev.obj_len, strlen(POD));
	assert_memory_equal(line + ev.obj_off, POD, strlen(POD));
	assert_ptr_equal(ev.obj.bytes, line + ev.obj_off);
	assert_int_equal(ev.obj.len, ev.obj_len);
	assert_string_equal(ev.obj.name, "web-1");
	assert_string_equal(ev.obj.ns, "default");
	assert_string_equal(ev.obj.node, "edge-1");
	assert_true(ev.obj.rv == 42);
	cw_watch_event_release(&ev);
	cw_watch_event_release(&ev);

	assert_int_equal(cw_watch_event_parse(&ev, swapped, strlen(swapped)), 0);
	assert_int_equal(ev.type, CW_EV_DELETED);
	assert_memory_equal(swapped + ev.obj_off, POD, strlen(POD));
	assert_int_equal(ev.obj_len, strlen(POD));
	cw_watch_event_release(&ev);
}

static void test_bookmark_and_error(void **state)
{
	static const char bm[] =
	    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
	    "\"metadata\":"
	    "{\"resourceVersion\":\"9001\",\"annotations\":{\"k8s.io/initial-events-end\":"
	    "\"true\"}}}}";
	static const char err[] =
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"metadata\":"
	    "{},\"status\":\"Failure\",\"message\":\"too old resource version: 1 (2)\","
	    "\"reason\":\"Expired\",\"code\":410}}";
	static const char bm_norv[] = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}";
	struct cw_watch_event ev;

	(void)state;
	assert_int_equal(cw_watch_event_parse(&ev, bm, strlen(bm)), 0);
	assert_int_equal(ev.type, CW_EV_BOOKMARK);
	assert_true(ev.obj.rv == 9001);
	assert_null(ev.obj.name);
	cw_watch_event_release(&ev);

	assert_int_equal(cw_watch_event_parse(&ev, err, strlen(err)), 0);
	assert_int_equal(ev.type, CW_EV_ERROR);
	assert_int_equal(ev.code, 410);
	assert_int_equal(ev.obj_off + ev.obj_len + 1, strlen(err));
	cw_watch_event_release(&ev);

	assert_int_equal(cw_watch_event_parse(&ev, bm_norv, strlen(bm_norv)), -EINVAL);
}

static void test_watch_event_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "{}",
	    "{\"type\":\"ADDED\"}",
	    "{\"object\":" POD "}",
	    "{\"type\":\"UPDATED\",\"object\":" POD "}",
	    "{\"type\":\"added\",\"object\":" POD "}",
	    "{\"type\":\"\\u0041DDED\",\"object\":" POD "}",
	    "{\"type\":\"ADDED\",\"type\":\"ADDED\",\"object\":" POD "}",
	    "{\"type\":\"ADDED\",\"object\":" POD ",\"extra\":1}",
	    "{\"type\":\"ADDED\",\"object\":[" POD "]}",
	    "{\"type\":\"ADDED\",\"object\":" POD "} {}",
	    "{\"type\":\"ADDED\",\"object\":" POD ",}",
	    "{\"type\":\"ADDED\" \"object\":" POD "}",
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
	    "[\"type\",\"ADDED\"]",
	};
	static const char good[] = "{\"type\":\"ADDED\",\"object\":" POD "}";
	struct cw_watch_event ev;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_watch_event_parse(&ev, bad[i], strlen(bad[i])), -EINVAL);
	/* Every truncation of a good line fails, without reading past it. */
	for (size_t n = 0; n < strlen(good); n++) {
		char *cut = malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, good, n);
		assert_int_equal(cw_watch_event_parse(&ev, cut, n), -EINVAL);
		free(cut);
	}
	assert_int_equal(cw_watch_event_parse(&ev, good, strlen(good)), 0);
	cw_watch_event_release(&ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pod_fixture),
	    cmocka_unit_test(test_cluster_scoped_and_optional),
	    cmocka_unit_test(test_rv_parse),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_watch_event),
	    cmocka_unit_test(test_bookmark_and_error),
	    cmocka_unit_test(test_watch_event_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
