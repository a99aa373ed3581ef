/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub/list.c: List responses split into their items, each the bytes it was
 * sent as, whatever the members' order, spacing and escapes around them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hub/list.h"

static void want_items(const char *doc, const char *const *items, size_t n, uint64_t rv,
		       const char *cont)
{
	struct cw_list l;

	assert_int_equal(cw_list_parse(doc, strlen(doc), &l), 0);
	assert_string_equal(l.kind, strstr(doc, "PodList") ? "PodList" : "");
	assert_string_equal(l.api_version, strstr(doc, "\"v1\"") ? "v1" : "");
	assert_int_equal(l.rv, rv);
	assert_string_equal(l.cont, cont);
	assert_int_equal(l.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(l.items[i].len, strlen(items[i]));
		assert_memory_equal(doc + l.items[i].off, items[i], l.items[i].len);
	}
	cw_list_release(&l);
	cw_list_release(&l); /* idempotent */
}

static void test_items_as_sent(void **state)
{
	static const char *const two[] = {
	    "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"7\"},\"spec\":{\"x\":[1,{\"y\":\"]"
	    "}\"}]}}",
	    "{ \"metadata\" : { \"name\" : \"b\\\"}\" , \"resourceVersion\" : \"9\" } }"};
	char doc[1024];

	(void)state;
	snprintf(doc, sizeof(doc),
		 "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		 "\"12\"},\"items\":[%s,\n  %s ]}",
		 two[0], two[1]);
	want_items(doc, two, 2, 12, "");
	/* items before metadata, a continue token, scalars of every kind around */
	snprintf(
	    doc, sizeof(doc),
	    " {\"items\" : [ %s ] , \"n\":-1.5e3,\"t\":true,\"z\":null,\"s\":\"[{\\\"items\\\"\","
	    "\"metadata\":{\"resourceVersion\":\"40\",\"continue\":\"abc=\"},"
	    "\"kind\":\"PodList\"}\n",
	    two[1]);
	want_items(doc, two + 1, 1, 40, "abc=");
	want_items("{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[]}", NULL, 0, 3, "");
}

static void test_rejected(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"metadata\":{\"resourceVersion\":\"3\"}}",		/* no items */
	    "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":{}}",	/* not an array */
	    "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[1]}", /* not objects */
	    "{\"metadata\":{\"resourceVersion\":\"03\"},\"items\":[]}", /* not canonical */
	    "{\"metadata\":{},\"items\":[]}",				/* no rv */
	    "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[],\"items\":[]}", /* twice */
	    "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[{}]",		    /* cut */
	    "{\"metadata\":{\"resourceVersion\":\"3\",\"continue\":7},\"items\":[]}",
	    "{\"kind\":1,\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[]}",
	    "{\"apiVersion\":[],\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[]}",
	};
	struct cw_list l;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_list_parse(bad[i], strlen(bad[i]), &l), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_items_as_sent),
	    cmocka_unit_test(test_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
