/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub/selector.c: label and field selectors with the semantics of the
 * Kubernetes documentation ("Labels and Selectors", "Field Selectors") and
 * apimachinery's parser: what matches, what is rejected and why.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hub/selector.h"

static json_t *labels(const char *json)
{
	json_error_t e;
	json_t *j = json_loads(json, 0, &e);

	assert_non_null(j);
	return j;
}

/* Parse @sel (must succeed) and match it against labels @json. */
static bool lmatch(const char *sel, const char *json)
{
	char err[CW_SELECTOR_ERR_MAX] = "";
	struct cw_selector *s;
	json_t *l = labels(json);
	bool m;

	assert_int_equal(cw_label_selector_parse(sel, &s, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	m = cw_selector_match_labels(s, l);
	cw_selector_free(s);
	json_decref(l);
	return m;
}

static const char *PROD_FE = "{\"environment\":\"production\",\"tier\":\"frontend\"}";
static const char *PROD_BE = "{\"environment\":\"production\",\"tier\":\"backend\"}";
static const char *QA = "{\"environment\":\"qa\",\"partition\":\"customerA\"}";
static const char *NONE = "{}";

static void test_equality(void **state)
{
	(void)state;
	assert_true(lmatch("environment = production", PROD_FE));
	assert_true(lmatch("environment==production", PROD_BE));
	assert_false(lmatch("environment=production", QA));
	assert_false(lmatch("environment=production", NONE));
	/* != also selects objects without the key */
	assert_true(lmatch("tier != frontend", PROD_BE));
	assert_true(lmatch("tier != frontend", QA));
	assert_false(lmatch("tier != frontend", PROD_FE));
	/* comma is AND */
	assert_true(lmatch("environment=production,tier!=frontend", PROD_BE));
	assert_false(lmatch("environment=production,tier!=frontend", PROD_FE));
	assert_false(lmatch("environment=production,tier!=frontend", QA));
	/* a= selects the empty value, not a missing key */
	assert_true(lmatch("a=", "{\"a\":\"\"}"));
	assert_false(lmatch("a=", NONE));
}

static void test_sets(void **state)
{
	(void)state;
	assert_true(lmatch("environment in (production, qa)", QA));
	assert_true(lmatch("environment in (production,qa)", PROD_FE));
	assert_false(lmatch("environment in (qa)", PROD_FE));
	assert_false(lmatch("environment in (qa)", NONE));
	assert_true(lmatch("tier notin (frontend, backend)", QA));
	assert_true(lmatch("tier notin (frontend, backend)", NONE));
	assert_false(lmatch("tier notin (frontend,backend)", PROD_BE));
	assert_true(lmatch("partition", QA));
	assert_false(lmatch("partition", PROD_FE));
	assert_true(lmatch("!partition", PROD_FE));
	assert_false(lmatch("!partition", QA));
	assert_true(lmatch("partition,environment notin (qa)", "{\"partition\":\"x\"}"));
	assert_false(lmatch("partition,environment notin (qa)", QA));
	/* empty members: "in ()" is in (""), "(a,)" holds "" too */
	assert_true(lmatch("a in ()", "{\"a\":\"\"}"));
	assert_false(lmatch("a in ()", "{\"a\":\"x\"}"));
	assert_true(lmatch("a in (x,)", "{\"a\":\"\"}"));
	assert_true(lmatch("a in (,x)", "{\"a\":\"x\"}"));
	/* "in" as a key is an identifier, not the operator */
	assert_true(lmatch("in in (in)", "{\"in\":\"in\"}"));
}

static void test_numbers(void **state)
{
	(void)state;
	assert_true(lmatch("gen>5", "{\"gen\":\"6\"}"));
	assert_false(lmatch("gen>5", "{\"gen\":\"5\"}"));
	assert_false(lmatch("gen>5", "{\"gen\":\"x\"}"));
	assert_false(lmatch("gen>5", NONE));
	assert_true(lmatch("gen<5", "{\"gen\":\"4\"}"));
	assert_false(lmatch("gen<5", "{\"gen\":\"5\"}"));
}

static void test_empty(void **state)
{
	struct cw_selector *s;

	(void)state;
	assert_true(lmatch("", PROD_FE));
	assert_true(lmatch("   ", NONE));
	assert_int_equal(cw_label_selector_parse(NULL, &s, NULL, 0), 0);
	assert_true(cw_selector_empty(s));
	assert_true(cw_selector_match_labels(s, NULL));
	cw_selector_free(s);
	assert_int_equal(cw_label_selector_parse("a", &s, NULL, 0), 0);
	assert_false(cw_selector_empty(s));
	assert_false(cw_selector_match_labels(s, NULL));
	cw_selector_free(s);
}

static void test_keys(void **state)
{
	(void)state;
	assert_true(lmatch("app.kubernetes.io/name=web", "{\"app.kubernetes.io/name\":\"web\"}"));
	assert_true(lmatch("A_b.c-D=X.y_Z-1", "{\"A_b.c-D\":\"X.y_Z-1\"}"));
	/* 63 characters are fine */
	assert_true(
	    lmatch("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		   "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":\"\"}"));
}

/* Must fail with -EINVAL and a message containing @want. */
static void bad(int (*parse)(const char *, struct cw_selector **, char *, size_t), const char *sel,
		const char *want)
{
	char err[CW_SELECTOR_ERR_MAX] = "";
	struct cw_selector *s = (struct cw_selector *)1;

	assert_int_equal(parse(sel, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	if (!strstr(err, want))
		fail_msg("selector '%s': error '%s' lacks '%s'", sel, err, want);
}

static void test_label_errors(void **state)
{
	(void)state;
	bad(cw_label_selector_parse, "a=b=c", "found '=', expected: ',' or 'end of string'");
	bad(cw_label_selector_parse, "a,", "found 'end of string', expected: identifier after ','");
	bad(cw_label_selector_parse, "a,,b", "found ',', expected: identifier after ','");
	bad(cw_label_selector_parse, ",a", "found ',', expected: identifier");
	bad(cw_label_selector_parse, "a in", "found 'end of string', expected: '('");
	bad(cw_label_selector_parse, "a in (x", "found 'end of string', expected: ',' or ')'");
	bad(cw_label_selector_parse, "a in (x y)", "found 'y', expected: ',' or ')'");
	bad(cw_label_selector_parse, "a (x)", "found '(', expected: [!=, ==, =, >, <, in, notin]");
	bad(cw_label_selector_parse, "a b", "found 'b', expected: [!=");
	bad(cw_label_selector_parse, "!a=b", "found '=', expected: ',' or 'end of string'");
	bad(cw_label_selector_parse, "a==(b)", "found '(', expected: identifier");
	bad(cw_label_selector_parse, "a>b", "must be an integer");
	bad(cw_label_selector_parse, "a>", "must be an integer");
	bad(cw_label_selector_parse, "-a=b", "name part must be");
	bad(cw_label_selector_parse, "a-=b", "name part must be");
	bad(cw_label_selector_parse,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "name part");
	bad(cw_label_selector_parse, "Example.com/a", "prefix part must be a DNS-1123 subdomain");
	bad(cw_label_selector_parse, "/a", "prefix part");
	bad(cw_label_selector_parse, "a..b.com/x", "prefix part");
	bad(cw_label_selector_parse, "a/b/c", "at most one '/'");
	bad(cw_label_selector_parse, "a/", "name part");
	bad(cw_label_selector_parse, "a=b$", "invalid label value \"b$\"");
	bad(cw_label_selector_parse, "a in (x,-y)", "invalid label value \"-y\"");
	bad(cw_label_selector_parse,
	    "a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "invalid label value");
}

/* Parse field selector @sel and match it against object @json. */
static bool fmatch(const char *sel, const char *json)
{
	char err[CW_SELECTOR_ERR_MAX] = "";
	struct cw_selector *s;
	json_t *o = labels(json);
	bool m;

	assert_int_equal(cw_field_selector_parse(sel, &s, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	m = cw_selector_match(s, o);
	cw_selector_free(s);
	json_decref(o);
	return m;
}

static const char *POD = "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
			 "\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"edge-1\"},"
			 "\"status\":{\"phase\":\"Running\"}}";
static const char *PENDING = "{\"metadata\":{\"name\":\"a,b=c\\\\\",\"namespace\":\"kube-system\"},"
			     "\"spec\":{},\"status\":{\"phase\":\"Pending\"}}";

static void test_fields(void **state)
{
	(void)state;
	assert_true(fmatch("", POD));
	assert_true(fmatch("metadata.name=web-1", POD));
	assert_true(fmatch("metadata.name==web-1,metadata.namespace=default", POD));
	assert_false(fmatch("metadata.name=web-1,metadata.namespace=kube-system", POD));
	assert_true(fmatch("spec.nodeName=edge-1", POD));
	/* unscheduled pods have no nodeName: it compares as "" */
	assert_true(fmatch("spec.nodeName=", PENDING));
	assert_false(fmatch("spec.nodeName=", POD));
	assert_true(fmatch("status.phase!=Running", PENDING));
	assert_false(fmatch("status.phase!=Running", POD));
	assert_true(fmatch("metadata.name=a\\,b\\=c\\\\", PENDING));
	assert_true(fmatch("metadata.namespace!=default,status.phase=Pending", PENDING));
	/* empty terms are skipped, as in apimachinery */
	assert_true(fmatch(",metadata.name=web-1,", POD));
}

static void test_field_errors(void **state)
{
	(void)state;
	bad(cw_field_selector_parse, "metadata.uid=x", "field label not supported: metadata.uid");
	bad(cw_field_selector_parse, "=x", "field label not supported: ");
	bad(cw_field_selector_parse, "metadata.name", "can't understand 'metadata.name'");
	bad(cw_field_selector_parse, "metadata.name=a=b", "unescaped '='");
	bad(cw_field_selector_parse, "metadata.name=a\\x", "invalid escape sequence");
	bad(cw_field_selector_parse, "metadata.name=a\\", "invalid escape sequence");
	/* input quoted in a message stays on one line */
	bad(cw_field_selector_parse, "spec\nname=x", "field label not supported: spec?name");
}

/* A label selector applied to a whole object looks at metadata.labels. */
static void test_object(void **state)
{
	struct cw_selector *s;
	json_t *o = labels(POD);

	(void)state;
	assert_int_equal(cw_label_selector_parse("app=web", &s, NULL, 0), 0);
	assert_true(cw_selector_match(s, o));
	cw_selector_free(s);
	assert_int_equal(cw_label_selector_parse("app in (db)", &s, NULL, 0), 0);
	assert_false(cw_selector_match(s, o));
	cw_selector_free(s);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_equality), cmocka_unit_test(test_sets),
	    cmocka_unit_test(test_numbers),  cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_keys),     cmocka_unit_test(test_label_errors),
	    cmocka_unit_test(test_fields),   cmocka_unit_test(test_field_errors),
	    cmocka_unit_test(test_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
