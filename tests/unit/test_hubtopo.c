/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control/hubtopo.c: the topology filter fed from the hub's store and the
 * node directory. A node's pool label wins over its session's pool, which
 * serves a node without one; a relabelled node or re-annotated Service is
 * seen at once (the caches follow the resourceVersion); a slice is
 * filtered only for a Service that asks and a requester with a pool.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "control/hubtopo.h"
#include "control/nodedir.h"

struct fx {
	char dir[64];
	struct cw_store *store;
	struct cw_nodedir *nodes;
	struct cw_hubtopo *t;
	uint64_t rv;
};

/* Store @json (its resourceVersion is set from the fixture's counter). */
static void put(struct fx *f, const char *res, const char *fmt, const char *a, const char *b)
{
	char json[1024];
	struct cw_obj o;

	snprintf(json, sizeof(json), fmt, a, b, (unsigned long long)++f->rv);
	assert_int_equal(cw_obj_parse(&o, json, strlen(json)), 0);
	assert_int_equal(cw_store_apply(f->store, res, CW_EV_MODIFIED, &o), 0);
	cw_obj_release(&o);
}

#define NODE "{\"metadata\":{\"name\":\"%s\",\"labels\":{%s},\"resourceVersion\":\"%llu\"}}"
#define SVC                                                                                        \
	"{\"metadata\":{\"name\":\"%s\",\"namespace\":\"d\",\"annotations\":{%s},"                 \
	"\"resourceVersion\":\"%llu\"}}"

static void session(struct fx *f, const char *node, const char *pool)
{
	struct cw_node_info n = {0};

	snprintf(n.name, sizeof(n.name), "%s", node);
	snprintf(n.pool, sizeof(n.pool), "%s", pool);
	rcu_read_lock();
	assert_true(cw_nodedir_put(f->nodes, &n, NULL, NULL) >= 0);
	rcu_read_unlock();
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cw-hubtopo-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(cw_store_open(f->dir, 16u << 20, 100, &f->store), 0);
	f->nodes = cw_nodedir_new();
	assert_non_null(f->nodes);
	assert_int_equal(cw_hubtopo_new(f->store, f->nodes, &f->t), 0);
	put(f, "nodes", NODE, "n1", "\"causeway.io/pool\":\"east\"");
	put(f, "nodes", NODE, "n2", "\"apps.openyurt.io/nodepool\":\"west\"");
	put(f, "nodes", NODE, "n3", "");
	put(f, "services", SVC, "web", "\"causeway.io/topology\":\"pool\"");
	put(f, "services", SVC, "db", "");
	session(f, "n1", "other"); /* the label wins */
	session(f, "n3", "south");
	session(f, "n4", "north"); /* no Node object at all */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	cw_hubtopo_free(f->t);
	cw_nodedir_free(f->nodes);
	cw_store_close(f->store);
	snprintf(p, sizeof(p), "%s/data.mdb", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const char *pool_of(struct fx *f, const char *node)
{
	static char pool[CW_TOPO_POOL_MAX];
	int rc = cw_hubtopo_node_pool(f->t, node, pool);

	return rc == -ENOENT ? "-" : rc ? "error" : pool;
}

static void test_node_pools(void **state)
{
	struct fx *f = *state;

	assert_string_equal(pool_of(f, "n1"), "east");
	assert_string_equal(pool_of(f, "n2"), "west");
	assert_string_equal(pool_of(f, "n3"), "south");
	assert_string_equal(pool_of(f, "n4"), "north");
	assert_string_equal(pool_of(f, "n5"), "-");
	/* Relabelled: seen at once. */
	put(f, "nodes", NODE, "n1", "\"causeway.io/pool\":\"west\"");
	assert_string_equal(pool_of(f, "n1"), "west");
	put(f, "nodes", NODE, "n1", "");
	assert_string_equal(pool_of(f, "n1"), "other");
}

static struct cw_obj *slice(const char *json)
{
	struct cw_obj *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	assert_int_equal(cw_obj_parse(o, json, strlen(json)), 0);
	return o;
}

#define SLICE(svc)                                                                                 \
	"{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\",\"resourceVersion\":\"1\","             \
	"\"labels\":{\"kubernetes.io/service-name\":\"" svc "\"}},\"endpoints\":["                 \
	"{\"addresses\":[\"10.0.0.1\"],\"nodeName\":\"n1\"},"                                      \
	"{\"addresses\":[\"10.0.0.2\"],\"nodeName\":\"n2\"},"                                      \
	"{\"addresses\":[\"10.0.0.4\"],\"nodeName\":\"n4\"}]}"

static void test_filter(void **state)
{
	struct fx *f = *state;
	struct cw_obj *web = slice(SLICE("web")), *db = slice(SLICE("db")),
		      *none = slice(SLICE("gone"));
	char *out;
	size_t len;

	assert_true(cw_hubtopo_wanted(f->t, web));
	assert_false(cw_hubtopo_wanted(f->t, db));
	assert_false(cw_hubtopo_wanted(f->t, none)); /* no such Service */
	assert_int_equal(cw_hubtopo_filter(f->t, web, web->bytes, web->len, "east", &out, &len), 0);
	assert_non_null(out);
	assert_non_null(strstr(out, "10.0.0.1"));
	assert_null(strstr(out, "10.0.0.2"));
	assert_null(strstr(out, "10.0.0.4"));
	free(out);
	/* n4 is known by its session only. */
	assert_int_equal(cw_hubtopo_filter(f->t, web, web->bytes, web->len, "north", &out, &len),
			 0);
	assert_non_null(out);
	assert_non_null(strstr(out, "10.0.0.4"));
	assert_null(strstr(out, "10.0.0.1"));
	free(out);
	/* Not asked, or no pool to filter by: as sent. */
	assert_int_equal(cw_hubtopo_filter(f->t, db, db->bytes, db->len, "east", &out, &len), 0);
	assert_null(out);
	assert_int_equal(cw_hubtopo_filter(f->t, web, web->bytes, web->len, "", &out, &len), 0);
	assert_null(out);
	/* The annotation taken off: seen at once. */
	put(f, "services", SVC, "web", "");
	assert_false(cw_hubtopo_wanted(f->t, web));
	assert_int_equal(cw_hubtopo_filter(f->t, web, web->bytes, web->len, "east", &out, &len), 0);
	assert_null(out);
	cw_obj_release(web);
	cw_obj_release(db);
	cw_obj_release(none);
	free(web);
	free(db);
	free(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_node_pools, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
