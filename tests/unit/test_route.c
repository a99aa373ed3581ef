/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control/route.c: rule parsing, first-match semantics over methods and
 * paths, errors, and a table swapped under concurrent readers.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <urcu-qsbr.h>

#include <cmocka.h>

#include "control/route.h"

static char why[512];

static void add(struct cw_route_conf *c, const char *text)
{
	int rc = cw_route_parse_rule(text, &c->rules[c->n_rules], why, sizeof(why));

	if (rc)
		print_error("%s: %s\n", text, why);
	assert_int_equal(rc, 0);
	c->n_rules++;
}

static struct cw_route_table *compile(const struct cw_route_conf *c, unsigned readers)
{
	struct cw_route_table *t = NULL;
	int rc = cw_route_compile(c, readers, &t, why, sizeof(why));

	if (rc)
		print_error("compile: %s\n", why);
	assert_int_equal(rc, 0);
	return t;
}

static int route(const struct cw_route_table *t, const char *method, const char *path, int *rule)
{
	return cw_route_match(t, 0, cw_route_method(method, strlen(method)), path, strlen(path),
			      rule);
}

/* ---- parsing ---- */

static const struct {
	const char *text;
	int rc;
	uint32_t methods, action;
	const char *pattern, *printed;
} rules[] = {
    {"GET ^/api hub", 0, CW_ROUTE_M_GET, CW_ROUTE_HUB, "^/api", "GET ^/api hub"},
    {"  *\t.*   deny  ", 0, CW_ROUTE_M_ANY, CW_ROUTE_DENY, ".*", "* .* deny"},
    {"DELETE,GET,GET ^/x upstream", 0, CW_ROUTE_M_GET | CW_ROUTE_M_DELETE, CW_ROUTE_UPSTREAM, "^/x",
     "GET,DELETE ^/x upstream"},
    {"GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS ^/ hub", 0, CW_ROUTE_M_ANY & ~CW_ROUTE_M_OTHER,
     CW_ROUTE_HUB, "^/", "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS ^/ hub"},
    {"", -EINVAL, 0, 0, NULL, NULL},
    {"GET ^/api", -EINVAL, 0, 0, NULL, NULL},
    {"GET ^/api hub now", -EINVAL, 0, 0, NULL, NULL},
    {"GET,,HEAD ^/api hub", -EINVAL, 0, 0, NULL, NULL},
    {",GET ^/api hub", -EINVAL, 0, 0, NULL, NULL},
    {"GET, ^/api hub", -EINVAL, 0, 0, NULL, NULL},
    {"Get ^/api hub", -EINVAL, 0, 0, NULL, NULL},
    {"GET ^/api Hub", -EINVAL, 0, 0, NULL, NULL},
    {"GET ^/api/( hub", -EINVAL, 0, 0, NULL, NULL},
    {"GET \\ hub", -EINVAL, 0, 0, NULL, NULL},
    {"GET (?<=a)b hub", -EINVAL, 0, 0, NULL, NULL}, /* lookbehind: not Hyperscan's */
    {"GET a\\1 hub", -EINVAL, 0, 0, NULL, NULL},    /* back-references: not Hyperscan's */
};

static void test_parse_rule(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct cw_route_rule r;
		char out[512];
		int rc;

		why[0] = '\0';
		rc = cw_route_parse_rule(rules[i].text, &r, why, sizeof(why));
		if (rc != rules[i].rc)
			print_error("rule '%s': %d (%s)\n", rules[i].text, rc, why);
		assert_int_equal(rc, rules[i].rc);
		if (rc) {
			assert_true(why[0] != '\0');
			continue;
		}
		assert_int_equal(r.methods, rules[i].methods);
		assert_int_equal(r.action, rules[i].action);
		assert_string_equal(r.pattern, rules[i].pattern);
		cw_route_format_rule(&r, out, sizeof(out));
		assert_string_equal(out, rules[i].printed);
	}
}

static void test_pattern_length(void **state)
{
	char text[CW_ROUTE_PATTERN_MAX + 32], pat[CW_ROUTE_PATTERN_MAX + 1];
	struct cw_route_rule r;

	(void)state;
	memset(pat, 'a', sizeof(pat));
	pat[0] = '^';
	pat[CW_ROUTE_PATTERN_MAX - 1] = '\0'; /* the longest that fits */
	snprintf(text, sizeof(text), "GET %s hub", pat);
	assert_int_equal(cw_route_parse_rule(text, &r, why, sizeof(why)), 0);
	assert_int_equal(strlen(r.pattern), CW_ROUTE_PATTERN_MAX - 1);
	pat[CW_ROUTE_PATTERN_MAX - 1] = 'a';
	pat[CW_ROUTE_PATTERN_MAX] = '\0';
	snprintf(text, sizeof(text), "GET %s hub", pat);
	assert_int_equal(cw_route_parse_rule(text, &r, why, sizeof(why)), -ENAMETOOLONG);
}

static void test_methods(void **state)
{
	(void)state;
	assert_int_equal(cw_route_method("GET", 3), CW_ROUTE_M_GET);
	assert_int_equal(cw_route_method("OPTIONS", 7), CW_ROUTE_M_OPTIONS);
	assert_int_equal(cw_route_method("GETX", 3), CW_ROUTE_M_GET); /* @len counts */
	assert_int_equal(cw_route_method("GETX", 4), CW_ROUTE_M_OTHER);
	assert_int_equal(cw_route_method("get", 3), CW_ROUTE_M_OTHER);
	assert_int_equal(cw_route_method("", 0), CW_ROUTE_M_OTHER);
	assert_string_equal(cw_route_action_name(CW_ROUTE_UPSTREAM), "upstream");
	assert_string_equal(cw_route_action_name(CW_ROUTE_N_ACTIONS), "?");
}

/* ---- matching ---- */

static void test_first_match_wins(void **state)
{
	struct cw_route_conf c = {.default_action = CW_ROUTE_UPSTREAM};
	struct cw_route_table *t;
	int rule;

	(void)state;
	add(&c, "GET,HEAD ^/api/v1/namespaces/[^/]+/secrets deny"); /* 0 */
	add(&c, "GET ^/api/v1/namespaces/[^/]+/ hub");		    /* 1 */
	add(&c, "PATCH /status$ upstream");			    /* 2 */
	add(&c, "* ^/api/v1/nodes hub");			    /* 3 */
	add(&c, "DELETE .* deny");				    /* 4 */
	t = compile(&c, 1);

	/* rule 1 matches too; the earlier rule 0 wins */
	assert_int_equal(route(t, "GET", "/api/v1/namespaces/a/secrets/s", &rule), CW_ROUTE_DENY);
	assert_int_equal(rule, 0);
	assert_int_equal(route(t, "GET", "/api/v1/namespaces/a/pods", &rule), CW_ROUTE_HUB);
	assert_int_equal(rule, 1);
	/* method filter: POST names no rule but rule 3's "*" */
	assert_int_equal(route(t, "POST", "/api/v1/namespaces/a/pods", &rule), CW_ROUTE_UPSTREAM);
	assert_int_equal(rule, -1);
	assert_int_equal(route(t, "PATCH", "/api/v1/namespaces/a/pods/p/status", &rule),
			 CW_ROUTE_UPSTREAM);
	assert_int_equal(rule, 2);
	/* unanchored: "/status$" is searched anywhere in the path */
	assert_int_equal(route(t, "PATCH", "/api/v1/nodes/n/status", &rule), CW_ROUTE_UPSTREAM);
	assert_int_equal(rule, 2);
	assert_int_equal(route(t, "PATCH", "/api/v1/nodes/n", &rule), CW_ROUTE_HUB);
	assert_int_equal(rule, 3);
	/* an unknown method matches only "*" rules */
	assert_int_equal(route(t, "BREW", "/api/v1/nodes", &rule), CW_ROUTE_HUB);
	assert_int_equal(rule, 3);
	assert_int_equal(route(t, "BREW", "/api/v1/namespaces/a/secrets", &rule),
			 CW_ROUTE_UPSTREAM);
	assert_int_equal(rule, -1);
	/* the path is matched exactly as given, with no NUL needed */
	assert_int_equal(cw_route_match(t, 0, CW_ROUTE_M_GET, "/api/v1/nodesXYZ", 13, &rule),
			 CW_ROUTE_HUB);
	assert_int_equal(rule, 3);
	assert_int_equal(route(t, "DELETE", "/apis/apps/v1/x", &rule), CW_ROUTE_DENY);
	assert_int_equal(rule, 4);
	assert_int_equal(route(t, "GET", "", &rule), CW_ROUTE_UPSTREAM);
	assert_int_equal(route(t, "GET", "/healthz", NULL), CW_ROUTE_UPSTREAM);
	cw_route_table_free(t);
}

static void test_no_rules(void **state)
{
	struct cw_route_conf c = {.default_action = CW_ROUTE_DENY};
	struct cw_route_table *t = compile(&c, 3);
	int rule = 7;

	(void)state;
	assert_int_equal(cw_route_readers(t), 3);
	assert_int_equal(cw_route_match(t, 2, CW_ROUTE_M_GET, "/api", 4, &rule), CW_ROUTE_DENY);
	assert_int_equal(rule, -1);
	cw_route_table_free(t);
	cw_route_table_free(NULL);
}

static void test_bad_arguments(void **state)
{
	struct cw_route_conf c = {.default_action = CW_ROUTE_HUB};
	struct cw_route_table *t = NULL;

	(void)state;
	add(&c, "GET ^/a hub");
	assert_int_equal(cw_route_compile(&c, 0, &t, why, sizeof(why)), -EINVAL);
	assert_int_equal(cw_route_compile(&c, CW_ROUTE_MAX_READERS + 1, &t, why, sizeof(why)),
			 -EINVAL);
	c.default_action = CW_ROUTE_N_ACTIONS;
	assert_int_equal(cw_route_compile(&c, 1, &t, why, sizeof(why)), -EINVAL);
	c.default_action = CW_ROUTE_HUB;
	c.rules[0].action = 9;
	assert_int_equal(cw_route_compile(&c, 1, &t, why, sizeof(why)), -EINVAL);
	c.rules[0].action = CW_ROUTE_HUB;
	c.rules[0].methods = 0;
	assert_int_equal(cw_route_compile(&c, 1, &t, why, sizeof(why)), -EINVAL);
	c.rules[0].methods = CW_ROUTE_M_GET;
	/* a pattern that never went through cw_route_parse_rule() */
	strcpy(c.rules[0].pattern, "^/(a");
	assert_int_equal(cw_route_compile(&c, 1, &t, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "route rule 1: "));
	assert_null(t);

	strcpy(c.rules[0].pattern, "^/a");
	t = compile(&c, 2);
	assert_int_equal(cw_route_match(t, 2, CW_ROUTE_M_GET, "/a", 2, NULL), -EINVAL);
	assert_int_equal(cw_route_match(t, 0, CW_ROUTE_M_GET | CW_ROUTE_M_PUT, "/a", 2, NULL),
			 -EINVAL);
	assert_int_equal(cw_route_match(t, 0, 0, "/a", 2, NULL), -EINVAL);
	assert_int_equal(cw_route_match(t, 0, 1u << 9, "/a", 2, NULL), -EINVAL);
	assert_int_equal(cw_route_match(t, 1, CW_ROUTE_M_GET, "/a", 2, NULL), CW_ROUTE_HUB);
	cw_route_table_free(t);
}

/* Every rule slot in use: the last rule still wins where it alone matches. */
static void test_full_table(void **state)
{
	struct cw_route_conf c = {.default_action = CW_ROUTE_UPSTREAM};
	struct cw_route_table *t;
	char text[64], path[32];
	int rule;

	(void)state;
	for (int i = 0; i < CW_ROUTE_MAX_RULES; i++) {
		snprintf(text, sizeof(text), "GET ^/r%d$ %s", i, i % 2 ? "deny" : "hub");
		add(&c, text);
	}
	t = compile(&c, 1);
	for (int i = 0; i < CW_ROUTE_MAX_RULES; i++) {
		snprintf(path, sizeof(path), "/r%d", i);
		assert_int_equal(route(t, "GET", path, &rule),
				 i % 2 ? CW_ROUTE_DENY : CW_ROUTE_HUB);
		assert_int_equal(rule, i);
	}
	assert_int_equal(route(t, "GET", "/r128", &rule), CW_ROUTE_UPSTREAM);
	cw_route_table_free(t);
}

/* ---- publication under RCU ---- */

#define N_READERS 2
#define N_SWAPS	  300

struct reader {
	pthread_t th;
	unsigned idx;
	struct cw_routes *routes;
	atomic_bool *stop;
	atomic_ulong matches;
	unsigned long seen[CW_ROUTE_N_ACTIONS], bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	rcu_register_thread();
	while (!atomic_load(r->stop)) {
		const struct cw_route_table *t;
		int a;

		rcu_read_lock();
		t = cw_routes_get(r->routes);
		a = cw_route_match(t, r->idx, CW_ROUTE_M_GET, "/api/v1/pods", 12, NULL);
		rcu_read_unlock();
		if (a == CW_ROUTE_HUB || a == CW_ROUTE_DENY)
			r->seen[a]++;
		else
			r->bad++;
		atomic_fetch_add(&r->matches, 1);
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

/*
 * Wait until every reader has finished a match that began after this call:
 * the second one to complete from now did.
 */
static void wait_readers(struct reader *rd)
{
	unsigned long since[N_READERS];

	for (int i = 0; i < N_READERS; i++)
		since[i] = atomic_load(&rd[i].matches);
	for (int i = 0; i < N_READERS; i++)
		while (atomic_load(&rd[i].matches) < since[i] + 2)
			sched_yield();
}

/*
 * The writer swaps a table routing /api/v1/pods to hub for one routing it
 * to deny, and back, N_SWAPS times while readers match without pause; after
 * each swap it waits until every reader has matched again. Every match gets
 * one of the two answers (never an error, never a freed table: ASan), both
 * are seen by every reader, and the old tables are freed (leak check).
 */
static void test_swap_under_readers(void **state)
{
	struct cw_route_conf hub = {.default_action = CW_ROUTE_UPSTREAM};
	struct cw_route_conf deny = {.default_action = CW_ROUTE_UPSTREAM};
	struct reader rd[N_READERS];
	struct cw_routes routes;
	atomic_bool stop = false;

	(void)state;
	add(&hub, "GET ^/api/v1/pods$ hub");
	add(&deny, "* /pods deny");
	cw_routes_init(&routes, compile(&hub, N_READERS));
	memset(rd, 0, sizeof(rd));
	for (unsigned i = 0; i < N_READERS; i++) {
		rd[i].idx = i;
		rd[i].routes = &routes;
		rd[i].stop = &stop;
		atomic_init(&rd[i].matches, 0);
		assert_int_equal(pthread_create(&rd[i].th, NULL, reader_main, &rd[i]), 0);
	}
	for (int s = 0; s < N_SWAPS; s++) {
		cw_routes_swap(&routes, compile(s % 2 ? &hub : &deny, N_READERS));
		wait_readers(rd);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < N_READERS; i++) {
		assert_int_equal(pthread_join(rd[i].th, NULL), 0);
		assert_int_equal(rd[i].bad, 0);
		assert_true(rd[i].seen[CW_ROUTE_HUB] > 0);
		assert_true(rd[i].seen[CW_ROUTE_DENY] > 0);
		assert_int_equal(rd[i].seen[CW_ROUTE_HUB] + rd[i].seen[CW_ROUTE_DENY],
				 atomic_load(&rd[i].matches));
	}
	cw_routes_fini(&routes);
	assert_null(cw_routes_get(&routes));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_rule), cmocka_unit_test(test_pattern_length),
	    cmocka_unit_test(test_methods),    cmocka_unit_test(test_first_match_wins),
	    cmocka_unit_test(test_no_rules),   cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_full_table), cmocka_unit_test(test_swap_under_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
