/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub/store.c: objects, the node index, list pages, history and 410 Gone,
 * idempotent replays, re-lists that record exactly the difference, and a
 * store that survives kill -9 at random points with everything committed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hub/store.h"
#include "testutil.h"

#define MAP_SIZE (64u << 20)

struct tmp {
	char dir[64];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/cw-store-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
}

static void tmp_drop(struct tmp *t)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", t->dir);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/lock.mdb", t->dir);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rmdir(t->dir), 0);
}

/* One object: its JSON and its parse. */
struct pod {
	char json[512];
	struct cw_obj o;
};

static void pod_make(struct pod *p, const char *ns, const char *name, uint64_t rv, const char *node,
		     const char *app)
{
	char spec[300] = "";
	int n;

	if (node)
		assert_true(snprintf(spec, sizeof(spec), ",\"spec\":{\"nodeName\":\"%s\"}", node) <
			    (int)sizeof(spec));
	n = snprintf(
	    p->json, sizeof(p->json),
	    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
	    "\"namespace\":\"%s\",\"resourceVersion\":\"%llu\",\"labels\":{\"app\":\"%s\"}}%s}",
	    name, ns, (unsigned long long)rv, app ? app : "x", spec);
	assert_true(n > 0 && n < (int)sizeof(p->json));
	assert_int_equal(cw_obj_parse(&p->o, p->json, strlen(p->json)), 0);
}

static int apply_pod(struct cw_store *s, const char *res, enum cw_ev_type type, const char *ns,
		     const char *name, uint64_t rv, const char *node)
{
	struct pod p;
	int rc;

	pod_make(&p, ns, name, rv, node, NULL);
	rc = cw_store_apply(s, res, type, &p.o);
	cw_obj_release(&p.o);
	return rc;
}

/* Objects a read function passed, in order: name and bytes. */
struct seen {
	int n;
	char names[64][64];
	char bytes[64][512];
	uint64_t rv[64];
	enum cw_ev_type type[64];
	int stop_after; /* 0: never */
};

static void seen_add(struct seen *sn, const struct cw_store_item *it)
{
	struct cw_obj o;

	assert_true(sn->n < 64);
	assert_true(it->len < sizeof(sn->bytes[0]));
	memcpy(sn->bytes[sn->n], it->bytes, it->len);
	sn->bytes[sn->n][it->len] = '\0';
	assert_int_equal(cw_obj_parse(&o, it->bytes, it->len), 0);
	snprintf(sn->names[sn->n], sizeof(sn->names[0]), "%s/%s", o.ns, o.name);
	assert_true(o.rv == it->rv);
	cw_obj_release(&o);
	sn->n++;
}

static int seen_item(const struct cw_store_item *it, void *ctx)
{
	struct seen *sn = ctx;

	seen_add(sn, it);
	return sn->stop_after && sn->n == sn->stop_after ? 99 : 0;
}

static int seen_event(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it, void *ctx)
{
	struct seen *sn = ctx;

	sn->type[sn->n] = type;
	sn->rv[sn->n] = rv;
	return seen_item(it, ctx);
}

static struct cw_store *open_store(struct tmp *t, uint32_t history)
{
	struct cw_store *s = NULL;

	assert_int_equal(cw_store_open(t->dir, MAP_SIZE, history, &s), 0);
	return s;
}

static void test_put_get_delete(void **state)
{
	struct cw_store_stat st;
	struct seen sn = {0};
	struct cw_store *s;
	struct tmp t;
	struct pod p;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	pod_make(&p, "default", "web", 10, "n1", "web");
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_ADDED, &p.o), 0);
	assert_int_equal(cw_store_get(s, "pods", "default", "web", seen_item, &sn), 0);
	assert_int_equal(sn.n, 1);
	assert_string_equal(sn.bytes[0], p.json);
	cw_obj_release(&p.o);
	assert_int_equal(cw_store_get(s, "pods", "other", "web", seen_item, &sn), -ENOENT);
	assert_int_equal(cw_store_get(s, "nodes", "default", "web", seen_item, &sn), -ENOENT);

	pod_make(&p, "default", "web", 11, "n1", "web2");
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_MODIFIED, &p.o), 0);
	assert_int_equal(cw_store_get(s, "pods", "default", "web", seen_item, &sn), 0);
	assert_string_equal(sn.bytes[1], p.json);
	cw_obj_release(&p.o);

	/* Cluster-scoped: namespace "". */
	assert_int_equal(apply_pod(s, "nodes", CW_EV_ADDED, "", "edge-1", 12, NULL), 0);
	assert_int_equal(cw_store_get(s, "nodes", "", "edge-1", seen_item, &sn), 0);
	assert_string_equal(sn.names[2], "/edge-1");

	assert_int_equal(apply_pod(s, "pods", CW_EV_DELETED, "default", "web", 13, "n1"), 0);
	assert_int_equal(cw_store_get(s, "pods", "default", "web", seen_item, &sn), -ENOENT);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.highest_rv == 13 && st.events == 3 && st.objects == 0);
	assert_true(st.oldest_rv == 10 && st.complete_after == 9 && st.list_rv == 0);
	assert_int_equal(cw_store_stat(s, "nodes", &st), 0);
	assert_true(st.highest_rv == 12 && st.events == 1 && st.objects == 1);
	assert_int_equal(cw_store_stat(s, "services", &st), 0);
	assert_true(st.highest_rv == 0 && st.events == 0 && st.objects == 0);

	/* Deleting an object never stored is an event all the same. */
	assert_int_equal(apply_pod(s, "pods", CW_EV_DELETED, "default", "ghost", 14, NULL), 0);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.highest_rv == 14 && st.events == 4 && st.objects == 0);

	/* Persisted: a reopened store has it all. */
	cw_store_close(s);
	s = open_store(&t, 100);
	assert_int_equal(cw_store_get(s, "nodes", "", "edge-1", seen_item, &sn), 0);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.highest_rv == 14 && st.events == 4);
	cw_store_close(s);
	tmp_drop(&t);
}

static int list_all(struct cw_store *s, const char *res, const char *ns, const char *node,
		    struct seen *sn, uint64_t *list_rv)
{
	struct cw_store_list_req q = {.resource = res, .ns = ns, .node = node};
	char cont[CW_STORE_CONTINUE_MAX];
	int rc;

	memset(sn, 0, sizeof(*sn));
	rc = cw_store_list(s, &q, seen_item, sn, list_rv, cont);
	if (!rc)
		assert_string_equal(cont, "");
	return rc;
}

static void test_index_follows_node(void **state)
{
	struct cw_store *s;
	struct seen sn;
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "a", "p", 1, NULL), 0);
	assert_int_equal(list_all(s, "pods", NULL, "n1", &sn, &rv), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(apply_pod(s, "pods", CW_EV_MODIFIED, "a", "p", 2, "n1"), 0);
	assert_int_equal(list_all(s, "pods", NULL, "n1", &sn, &rv), 0);
	assert_int_equal(sn.n, 1);
	assert_true(rv == 2);
	assert_int_equal(apply_pod(s, "pods", CW_EV_MODIFIED, "a", "p", 3, "n2"), 0);
	assert_int_equal(list_all(s, "pods", NULL, "n1", &sn, &rv), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(list_all(s, "pods", NULL, "n2", &sn, &rv), 0);
	assert_int_equal(sn.n, 1);
	/* A node name that is a prefix of another must not match it. */
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "a", "q", 4, "n22"), 0);
	assert_int_equal(list_all(s, "pods", NULL, "n2", &sn, &rv), 0);
	assert_int_equal(sn.n, 1);
	assert_string_equal(sn.names[0], "a/p");
	assert_int_equal(apply_pod(s, "pods", CW_EV_MODIFIED, "a", "p", 5, NULL), 0);
	assert_int_equal(list_all(s, "pods", NULL, "n2", &sn, &rv), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(apply_pod(s, "pods", CW_EV_DELETED, "a", "q", 6, "n22"), 0);
	assert_int_equal(list_all(s, "pods", NULL, "n22", &sn, &rv), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(list_all(s, "pods", NULL, NULL, &sn, &rv), 0);
	assert_int_equal(sn.n, 1);
	assert_true(rv == 6);
	cw_store_close(s);
	tmp_drop(&t);
}

/* A list by name, from the keys: exact names only, in every namespace
 * listed, through the node index too. */
static void test_list_by_name(void **state)
{
	struct cw_store_list_req q = {.resource = "pods", .name = "p"};
	char cont[CW_STORE_CONTINUE_MAX];
	struct cw_store *s;
	struct seen sn = {0};
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "a", "p", 1, "n1"), 0);
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "b", "p", 2, "n2"), 0);
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "a", "pp", 3, "n1"), 0);
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "a", "xp", 4, "n1"), 0);
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 0);
	assert_int_equal(sn.n, 2);
	assert_string_equal(sn.names[0], "a/p");
	assert_string_equal(sn.names[1], "b/p");
	memset(&sn, 0, sizeof(sn));
	q.ns = "b";
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 0);
	assert_int_equal(sn.n, 1);
	assert_string_equal(sn.names[0], "b/p");
	memset(&sn, 0, sizeof(sn));
	q.ns = NULL;
	q.node = "n1";
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 0);
	assert_int_equal(sn.n, 1);
	assert_string_equal(sn.names[0], "a/p");
	cw_store_close(s);
	tmp_drop(&t);
}

/* 30 pods: namespaces ns0..ns2, nodes n0..n2, app even/odd. */
static struct cw_store *thirty(struct tmp *t, uint32_t history)
{
	struct cw_store *s = open_store(t, history);

	for (int i = 0; i < 30; i++) {
		char ns[8], name[16], node[8];
		struct pod p;
		snprintf(ns, sizeof(ns), "ns%d", i % 3);
		snprintf(name, sizeof(name), "pod-%02d", i);
		snprintf(node, sizeof(node), "n%d", (i / 3) % 3);
		pod_make(&p, ns, name, 100 + (uint64_t)i, node, i % 2 ? "odd" : "even");
		assert_int_equal(cw_store_apply(s, "pods", CW_EV_ADDED, &p.o), 0);
		cw_obj_release(&p.o);
	}
	return s;
}

static int app_is(const struct cw_obj *o, void *ctx)
{
	json_t *app = json_object_get(o->labels, "app");

	return app && strcmp(json_string_value(app), ctx) == 0;
}

static int fail_filter(const struct cw_obj *o, void *ctx)
{
	(void)o;
	(void)ctx;
	return -EPROTO;
}

static void test_list_filters(void **state)
{
	struct cw_store_list_req q = {.resource = "pods"};
	char cont[CW_STORE_CONTINUE_MAX];
	struct cw_store *s;
	struct seen sn;
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = thirty(&t, 100);
	assert_int_equal(list_all(s, "pods", NULL, NULL, &sn, &rv), 0);
	assert_int_equal(sn.n, 30);
	assert_true(rv == 129);
	for (int i = 1; i < 30; i++) /* key order: namespace, then name */
		assert_true(strcmp(sn.names[i - 1], sn.names[i]) < 0);
	assert_string_equal(sn.names[0], "ns0/pod-00");
	assert_string_equal(sn.names[10], "ns1/pod-01");

	assert_int_equal(list_all(s, "pods", "ns1", NULL, &sn, &rv), 0);
	assert_int_equal(sn.n, 10);
	for (int i = 0; i < sn.n; i++)
		assert_memory_equal(sn.names[i], "ns1/", 4);
	assert_int_equal(list_all(s, "pods", "ns", NULL, &sn, &rv), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(list_all(s, "pods", NULL, "n1", &sn, &rv), 0);
	assert_int_equal(sn.n, 9); /* pods 3,4,5, 12,13,14, 21,22,23 */
	assert_true(rv == 129);
	assert_int_equal(list_all(s, "pods", "ns2", "n1", &sn, &rv), 0);
	assert_int_equal(sn.n, 3);
	assert_string_equal(sn.names[0], "ns2/pod-05");
	assert_string_equal(sn.names[1], "ns2/pod-14");
	assert_string_equal(sn.names[2], "ns2/pod-23");
	assert_int_equal(list_all(s, "nodes", NULL, NULL, &sn, &rv), 0);
	assert_true(sn.n == 0 && rv == 0);

	q.filter = app_is;
	q.filter_ctx = "odd";
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 0);
	assert_int_equal(sn.n, 15);
	q.ns = "ns0";
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 0);
	assert_int_equal(sn.n, 5);
	q.filter = fail_filter;
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), -EPROTO);
	q.filter = NULL;
	memset(&sn, 0, sizeof(sn));
	sn.stop_after = 2;
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 99);
	assert_int_equal(sn.n, 2);

	/* resourceVersion and resourceVersionMatch. */
	q = (struct cw_store_list_req){.resource = "pods", .rv = 130, .rv_match = CW_RV_NOT_OLDER};
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), -EAGAIN);
	q.rv = 5;
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 0);
	assert_true(sn.n == 30 && rv == 129);
	q.rv_match = CW_RV_EXACT;
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), -ESTALE);
	q.rv = 130;
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), -EAGAIN);
	q.rv = 129;
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 0);
	assert_int_equal(sn.n, 30);
	q.rv_match = 7;
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), -EINVAL);
	q = (struct cw_store_list_req){.resource = "pods", .node = ""};
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), -EINVAL);
	q = (struct cw_store_list_req){.resource = ""};
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), -EINVAL);
	cw_store_close(s);
	tmp_drop(&t);
}

/* Pages of @limit until the token is empty; returns the number of pages. */
static int pages(struct cw_store *s, struct cw_store_list_req q, size_t limit, struct seen *sn,
		 uint64_t *first_rv)
{
	char cont[CW_STORE_CONTINUE_MAX] = "", next[CW_STORE_CONTINUE_MAX];
	int n = 0;

	memset(sn, 0, sizeof(*sn));
	q.limit = limit;
	do {
		uint64_t rv;
		int before = sn->n;
		q.cont = cont;
		assert_int_equal(cw_store_list(s, &q, seen_item, sn, &rv, next), 0);
		if (n == 0)
			*first_rv = rv;
		assert_true(rv == *first_rv);
		assert_true((size_t)(sn->n - before) <= limit);
		memcpy(cont, next, sizeof(cont));
		n++;
	} while (cont[0]);
	return n;
}

static void test_list_pages(void **state)
{
	struct cw_store_list_req q = {.resource = "pods", .limit = 7};
	char cont[CW_STORE_CONTINUE_MAX], cont2[CW_STORE_CONTINUE_MAX];
	struct seen sn, all;
	struct cw_store *s;
	uint64_t rv, rv2;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = thirty(&t, 40);
	assert_int_equal(list_all(s, "pods", NULL, NULL, &all, &rv), 0);
	assert_int_equal(pages(s, q, 7, &sn, &rv), 5);
	assert_int_equal(sn.n, 30);
	for (int i = 0; i < 30; i++)
		assert_string_equal(sn.names[i], all.names[i]);
	assert_int_equal(pages(s, q, 30, &sn, &rv), 1); /* exactly the limit: no token */
	assert_int_equal(sn.n, 30);
	q.ns = "ns2";
	q.node = "n1";
	assert_int_equal(pages(s, q, 1, &sn, &rv), 3);
	assert_int_equal(sn.n, 3);
	assert_string_equal(sn.names[2], "ns2/pod-23");

	/* Between pages the state moves on: the next page reads it, the RV
	 * stays the first page's, and the change is in the history after it. */
	q = (struct cw_store_list_req){.resource = "pods", .limit = 10};
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont), 0);
	assert_true(sn.n == 10 && rv == 129 && cont[0]);
	assert_int_equal(apply_pod(s, "pods", CW_EV_DELETED, "ns2", "pod-29", 130, NULL), 0);
	q.cont = cont;
	q.limit = 0;
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv2, cont2), 0);
	assert_true(sn.n == 29 && rv2 == 129 && !cont2[0]);

	/* Tokens only fit the list they came from. */
	q.ns = "ns1";
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont2), -EINVAL);
	q.ns = NULL;
	q.node = "n1";
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont2), -EINVAL);
	q.node = NULL;
	static const char *const junk[] = {"x",	      "129",  "129-o", "129-oa",
					   "129-ozz", "-o00", "0-o00", "129-x00"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		q.cont = junk[i];
		assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont2), -EINVAL);
	}
	q.cont = cont;
	q.rv = 129;
	q.rv_match = CW_RV_NOT_OLDER;
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont2), -EINVAL);
	q.rv_match = CW_RV_ANY;

	/* Once the history after the token's RV is trimmed it has expired. */
	for (int i = 0; i < 40; i++)
		assert_int_equal(
		    apply_pod(s, "pods", CW_EV_MODIFIED, "ns0", "pod-00", 131 + (uint64_t)i, NULL),
		    0);
	assert_int_equal(cw_store_list(s, &q, seen_item, &sn, &rv, cont2), -ESTALE);
	assert_string_equal(cont2, "");
	cw_store_close(s);
	tmp_drop(&t);
}

static void test_watch_from(void **state)
{
	struct cw_store_stat st;
	struct cw_store *s;
	struct seen sn = {0};
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 5);
	for (uint64_t r = 1; r <= 10; r++) {
		char name[8];
		snprintf(name, sizeof(name), "p%d", (int)(r % 3));
		assert_int_equal(
		    apply_pod(s, "pods", r <= 3 ? CW_EV_ADDED : CW_EV_MODIFIED, "d", name, r, NULL),
		    0);
	}
	assert_int_equal(apply_pod(s, "pods", CW_EV_DELETED, "d", "p2", 11, NULL), 0);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.events == 5 && st.oldest_rv == 7 && st.complete_after == 6);

	/* From the retention edge: everything kept, in order. */
	assert_int_equal(cw_store_watch_from(s, "pods", 6, seen_event, &sn, &rv), 0);
	assert_int_equal(sn.n, 5);
	assert_true(rv == 11);
	for (int i = 0; i < 5; i++)
		assert_true(sn.rv[i] == 7 + (uint64_t)i);
	assert_int_equal(sn.type[0], CW_EV_MODIFIED);
	assert_int_equal(sn.type[4], CW_EV_DELETED);
	assert_string_equal(sn.names[4], "d/p2"); /* the deleted object's last state */
	/* One older: its successor was trimmed. */
	assert_int_equal(cw_store_watch_from(s, "pods", 5, seen_event, &sn, &rv), -ESTALE);
	assert_int_equal(cw_store_watch_from(s, "pods", 1, seen_event, &sn, &rv), -ESTALE);
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_watch_from(s, "pods", 9, seen_event, &sn, &rv), 0);
	assert_true(sn.n == 2 && sn.rv[0] == 10 && sn.rv[1] == 11);
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_watch_from(s, "pods", 11, seen_event, &sn, &rv), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(cw_store_watch_from(s, "pods", 500, seen_event, &sn, &rv), 0);
	assert_true(sn.n == 0 && rv == 11);
	assert_int_equal(cw_store_watch_from(s, "pods", UINT64_MAX, seen_event, &sn, &rv), 0);
	assert_int_equal(sn.n, 0);

	/* "0": the current state as ADDED, each with its own RV. */
	assert_int_equal(cw_store_watch_from(s, "pods", 0, seen_event, &sn, &rv), 0);
	assert_int_equal(sn.n, 2);
	assert_true(rv == 11);
	assert_int_equal(sn.type[0], CW_EV_ADDED);
	assert_string_equal(sn.names[0], "d/p0");
	assert_true(sn.rv[0] == 9 && sn.rv[1] == 10);

	/* A callback's error stops the walk and comes back. */
	memset(&sn, 0, sizeof(sn));
	sn.stop_after = 1;
	assert_int_equal(cw_store_watch_from(s, "pods", 6, seen_event, &sn, &rv), 99);
	assert_int_equal(sn.n, 1);
	/* An unknown resource: nothing, from anywhere. */
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_watch_from(s, "nodes", 3, seen_event, &sn, &rv), 0);
	assert_true(sn.n == 0 && rv == 0);
	cw_store_close(s);
	tmp_drop(&t);
}

static void test_idempotent_replay(void **state)
{
	struct cw_store_stat st, st2;
	struct cw_store *s;
	struct seen a, b;
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	for (int round = 0; round < 2; round++) {
		/* The second round replays every event: nothing may change. */
		assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "d", "a", 10, "n1"), 0);
		assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "d", "b", 11, "n1"), 0);
		assert_int_equal(apply_pod(s, "pods", CW_EV_MODIFIED, "d", "a", 12, "n2"), 0);
		assert_int_equal(apply_pod(s, "pods", CW_EV_DELETED, "d", "b", 13, "n1"), 0);
		if (round == 0) {
			assert_int_equal(cw_store_stat(s, "pods", &st), 0);
			assert_int_equal(list_all(s, "pods", NULL, NULL, &a, &rv), 0);
		}
	}
	assert_int_equal(cw_store_stat(s, "pods", &st2), 0);
	assert_memory_equal(&st, &st2, sizeof(st));
	assert_true(st.events == 4 && st.objects == 1 && st.highest_rv == 13);
	assert_int_equal(list_all(s, "pods", NULL, NULL, &b, &rv), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(a.bytes[0], b.bytes[0]);
	assert_int_equal(list_all(s, "pods", NULL, "n1", &b, &rv), 0);
	assert_int_equal(b.n, 0);
	assert_int_equal(list_all(s, "pods", NULL, "n2", &b, &rv), 0);
	assert_int_equal(b.n, 1);
	cw_store_close(s);
	tmp_drop(&t);
}

/* A re-list's differences come to a follower as events at one version:
 * each is taken; the same ones again change nothing. */
static void test_same_rv(void **state)
{
	struct cw_store_stat st, st2;
	struct cw_store *s;
	struct seen sn = {0};
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "d", "a", 10, "n1"), 0);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "d", "c", 20, "n1"), 0);
		assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "d", "e", 20, "n1"), 0);
		assert_int_equal(apply_pod(s, "pods", CW_EV_DELETED, "d", "a", 20, "n1"), 0);
		if (round == 0)
			assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	}
	assert_int_equal(cw_store_stat(s, "pods", &st2), 0);
	assert_memory_equal(&st, &st2, sizeof(st));
	assert_true(st.events == 4 && st.objects == 2 && st.highest_rv == 20);
	assert_int_equal(cw_store_watch_from(s, "pods", 10, seen_event, &sn, &rv), 0);
	assert_int_equal(sn.n, 3);
	assert_string_equal(sn.names[0], "d/c");
	assert_string_equal(sn.names[1], "d/e");
	assert_string_equal(sn.names[2], "d/a");
	assert_true(sn.type[0] == CW_EV_ADDED && sn.type[1] == CW_EV_ADDED &&
		    sn.type[2] == CW_EV_DELETED);
	assert_true(sn.rv[0] == 20 && sn.rv[1] == 20 && sn.rv[2] == 20);
	/* Below the highest version: skipped as before. */
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "d", "f", 15, "n1"), 0);
	assert_int_equal(cw_store_stat(s, "pods", &st2), 0);
	assert_int_equal(st2.objects, 2);
	cw_store_close(s);
	tmp_drop(&t);
}

struct diffs {
	struct seen sn;
	int fail;
};

static int diff_cb(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it, void *ctx)
{
	struct diffs *d = ctx;

	if (d->fail)
		return d->fail;
	return seen_event(type, rv, it, &d->sn);
}

static void test_replace_diff(void **state)
{
	struct pod a, b, c, b2, d;
	struct cw_store_stat st;
	struct diffs df = {0};
	struct seen sn = {0};
	struct cw_store *s;
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	pod_make(&a, "d", "a", 1, "n1", NULL);
	pod_make(&b, "d", "b", 2, "n1", NULL);
	pod_make(&c, "d", "c", 3, "n2", NULL);
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_ADDED, &a.o), 0);
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_ADDED, &b.o), 0);
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_ADDED, &c.o), 0);

	/* A re-list at 10: a unchanged, b modified (and moved), c gone, d new. */
	pod_make(&b2, "d", "b", 5, "n2", NULL);
	pod_make(&d, "d", "d", 6, "n1", NULL);
	assert_int_equal(
	    cw_store_replace(s, "pods", (struct cw_obj[]){d.o, a.o, b2.o}, 3, 9, diff_cb, &df), 0);
	assert_int_equal(df.sn.n, 3);
	assert_int_equal(df.sn.type[0], CW_EV_DELETED);
	assert_string_equal(df.sn.bytes[0], c.json);
	assert_int_equal(df.sn.type[1], CW_EV_MODIFIED);
	assert_string_equal(df.sn.bytes[1], b2.json);
	assert_int_equal(df.sn.type[2], CW_EV_ADDED);
	assert_string_equal(df.sn.bytes[2], d.json);
	for (int i = 0; i < 3; i++)
		assert_true(df.sn.rv[i] == 9);

	/* The same three events are in the history, after what was there. */
	assert_int_equal(cw_store_watch_from(s, "pods", 3, seen_event, &sn, &rv), 0);
	assert_int_equal(sn.n, 3);
	assert_true(rv == 9);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sn.type[i], df.sn.type[i]);
		assert_string_equal(sn.bytes[i], df.sn.bytes[i]);
		assert_true(sn.rv[i] == 9);
	}
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.highest_rv == 9 && st.list_rv == 9 && st.objects == 3 && st.events == 6);
	assert_int_equal(list_all(s, "pods", NULL, "n1", &sn, &rv), 0);
	assert_true(sn.n == 2 && strcmp(sn.names[0], "d/a") == 0 &&
		    strcmp(sn.names[1], "d/d") == 0);
	assert_int_equal(list_all(s, "pods", NULL, "n2", &sn, &rv), 0);
	assert_true(sn.n == 1 && strcmp(sn.names[0], "d/b") == 0);

	/* The same list again: no difference, no event. */
	memset(&df, 0, sizeof(df));
	assert_int_equal(
	    cw_store_replace(s, "pods", (struct cw_obj[]){d.o, a.o, b2.o}, 3, 9, diff_cb, &df), 0);
	assert_int_equal(df.sn.n, 0);
	/* An older list, a duplicate, a failing callback: nothing changes. */
	assert_int_equal(cw_store_replace(s, "pods", &a.o, 1, 8, NULL, NULL), -ESTALE);
	assert_int_equal(
	    cw_store_replace(s, "pods", (struct cw_obj[]){a.o, a.o}, 2, 20, NULL, NULL), -EINVAL);
	df.fail = -EPIPE;
	assert_int_equal(cw_store_replace(s, "pods", NULL, 0, 20, diff_cb, &df), -EPIPE);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.highest_rv == 9 && st.objects == 3 && st.events == 6);

	/* Same RV as the last events: the new ones go after them. */
	df.fail = 0;
	assert_int_equal(cw_store_replace(s, "pods", &a.o, 1, 9, diff_cb, &df), 0);
	assert_int_equal(df.sn.n, 2);
	memset(&sn, 0, sizeof(sn));
	assert_int_equal(cw_store_watch_from(s, "pods", 3, seen_event, &sn, &rv), 0);
	assert_int_equal(sn.n, 5);
	assert_string_equal(sn.names[3], "d/b");
	assert_int_equal(sn.type[4], CW_EV_DELETED);
	assert_int_equal(list_all(s, "pods", NULL, NULL, &sn, &rv), 0);
	assert_true(sn.n == 1 && strcmp(sn.names[0], "d/a") == 0);

	/* A first sync: the diff is every object, the history starts there. */
	memset(&df, 0, sizeof(df));
	assert_int_equal(
	    cw_store_replace(s, "other", (struct cw_obj[]){a.o, d.o}, 2, 50, diff_cb, &df), 0);
	assert_int_equal(df.sn.n, 2);
	assert_int_equal(cw_store_stat(s, "other", &st), 0);
	assert_true(st.events == 0 && st.complete_after == 50 && st.objects == 2);
	assert_int_equal(cw_store_watch_from(s, "other", 49, seen_event, &sn, &rv), -ESTALE);
	assert_int_equal(list_all(s, "other", NULL, "n1", &sn, &rv), 0);
	assert_true(sn.n == 2 && rv == 50);

	/* Deleting everything. */
	assert_int_equal(cw_store_replace(s, "other", NULL, 0, 51, NULL, NULL), 0);
	assert_int_equal(list_all(s, "other", NULL, "n1", &sn, &rv), 0);
	assert_int_equal(sn.n, 0);
	assert_int_equal(cw_store_stat(s, "other", &st), 0);
	assert_true(st.events == 2 && st.objects == 0);
	cw_obj_release(&a.o);
	cw_obj_release(&b.o);
	cw_obj_release(&c.o);
	cw_obj_release(&b2.o);
	cw_obj_release(&d.o);
	cw_store_close(s);
	tmp_drop(&t);
}

/* Events with their previous states: the types, and prev's bytes ("" for none). */
struct prevs {
	int n;
	enum cw_ev_type type[8];
	char prev[8][512];
	char bytes[8][512];
};

static int prev_cb(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it, void *ctx)
{
	struct prevs *p = ctx;

	(void)rv;
	assert_true(p->n < 8 && it->len < 512 && it->prev_len < 512);
	assert_true(it->prev || !it->prev_len);
	p->type[p->n] = type;
	memcpy(p->prev[p->n], it->prev ? it->prev : "", it->prev_len);
	p->prev[p->n][it->prev_len] = '\0';
	memcpy(p->bytes[p->n], it->bytes, it->len);
	p->bytes[p->n][it->len] = '\0';
	p->n++;
	return 0;
}

static int no_prev(const struct cw_store_item *it, void *ctx)
{
	assert_null(it->prev);
	assert_int_equal(it->prev_len, 0);
	return seen_item(it, ctx);
}

/* A history event keeps the state its object replaced (a selector's
 * watcher sees objects leave it), from a watch event and from a re-list;
 * reads of objects have none. */
static void test_prev(void **state)
{
	struct pod a1, a2, a3, b1, b2;
	struct prevs pv = {0}, df = {0};
	struct seen sn = {0};
	struct cw_store *s;
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	pod_make(&a1, "d", "a", 1, "n1", "a");
	pod_make(&a2, "d", "a", 2, "n1", "b");
	pod_make(&a3, "d", "a", 5, "n1", "c");
	pod_make(&b1, "d", "b", 3, NULL, "a");
	pod_make(&b2, "d", "b", 4, NULL, "a");
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_ADDED, &a1.o), 0);
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_MODIFIED, &a2.o), 0);
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_ADDED, &b1.o), 0);
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_DELETED, &b2.o), 0);
	/* A re-list at 6: a modified again, b back. */
	assert_int_equal(
	    cw_store_replace(s, "pods", (struct cw_obj[]){a3.o, b1.o}, 2, 6, prev_cb, &df), 0);
	assert_int_equal(df.n, 2);
	assert_int_equal(df.type[0], CW_EV_MODIFIED);
	assert_string_equal(df.prev[0], a2.json);
	assert_string_equal(df.bytes[0], a3.json);
	assert_int_equal(df.type[1], CW_EV_ADDED);
	assert_string_equal(df.prev[1], "");

	assert_int_equal(cw_store_watch_from(s, "pods", 1, prev_cb, &pv, &rv), 0);
	assert_int_equal(pv.n, 5);
	assert_int_equal(pv.type[0], CW_EV_MODIFIED);
	assert_string_equal(pv.prev[0], a1.json);
	assert_string_equal(pv.bytes[0], a2.json);
	assert_int_equal(pv.type[1], CW_EV_ADDED);
	assert_string_equal(pv.prev[1], "");
	assert_int_equal(pv.type[2], CW_EV_DELETED);
	assert_string_equal(pv.prev[2], "");
	assert_string_equal(pv.bytes[2], b2.json);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pv.type[3 + i], df.type[i]);
		assert_string_equal(pv.prev[3 + i], df.prev[i]);
		assert_string_equal(pv.bytes[3 + i], df.bytes[i]);
	}
	/* The snapshot of a watch from 0 and lists: objects alone. */
	memset(&pv, 0, sizeof(pv));
	assert_int_equal(cw_store_watch_from(s, "pods", 0, prev_cb, &pv, &rv), 0);
	assert_int_equal(pv.n, 2);
	assert_string_equal(pv.prev[0], "");
	assert_string_equal(pv.prev[1], "");
	assert_int_equal(cw_store_get(s, "pods", "d", "a", no_prev, &sn), 0);
	assert_int_equal(sn.n, 1);
	assert_string_equal(sn.bytes[0], a3.json);
	cw_obj_release(&a1.o);
	cw_obj_release(&a2.o);
	cw_obj_release(&a3.o);
	cw_obj_release(&b1.o);
	cw_obj_release(&b2.o);
	cw_store_close(s);
	tmp_drop(&t);
}

static void test_apply_batch(void **state)
{
	struct cw_store_event evs[4];
	struct cw_store_stat st;
	struct seen sn = {0};
	struct cw_store *s;
	struct pod p[4];
	char big[400];
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	pod_make(&p[0], "d", "a", 5, "n1", NULL);
	pod_make(&p[1], "d", "b", 6, "n1", NULL);
	pod_make(&p[2], "d", "a", 7, "n2", NULL);
	pod_make(&p[3], "d", "b", 8, NULL, NULL);
	for (int i = 0; i < 4; i++)
		evs[i] = (struct cw_store_event){i < 2 ? CW_EV_ADDED : CW_EV_MODIFIED, &p[i].o};
	evs[3].type = CW_EV_DELETED;
	/* All or none: a bad event anywhere fails the batch before any write. */
	evs[2].type = CW_EV_BOOKMARK;
	assert_int_equal(cw_store_apply_batch(s, "pods", evs, 4), -EINVAL);
	evs[2].type = CW_EV_MODIFIED;
	assert_int_equal(cw_store_apply_batch(s, "pods", evs, 2), 0);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.highest_rv == 6 && st.events == 2 && st.objects == 2);
	/* A batch that starts with replays applies only what is new. */
	assert_int_equal(cw_store_apply_batch(s, "pods", evs, 4), 0);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.highest_rv == 8 && st.events == 4 && st.objects == 1);
	assert_int_equal(cw_store_watch_from(s, "pods", 4, seen_event, &sn, &rv), 0);
	assert_int_equal(sn.n, 4);
	assert_true(sn.rv[0] == 5 && sn.rv[3] == 8 && sn.type[3] == CW_EV_DELETED);
	assert_int_equal(list_all(s, "pods", NULL, "n2", &sn, &rv), 0);
	assert_true(sn.n == 1 && strcmp(sn.names[0], "d/a") == 0);
	assert_int_equal(cw_store_apply_batch(s, "pods", evs, 0), 0);
	for (int i = 0; i < 4; i++)
		cw_obj_release(&p[i].o);

	/* An error in the middle (a key too long) leaves the first undone. */
	memset(big, 'n', 253);
	big[253] = '\0';
	pod_make(&p[0], "d", "c", 9, NULL, NULL);
	pod_make(&p[1], "d", big, 20, NULL, NULL);
	memset(big, 'r', 260);
	big[260] = '\0';
	evs[0] = (struct cw_store_event){CW_EV_ADDED, &p[0].o};
	evs[1] = (struct cw_store_event){CW_EV_ADDED, &p[1].o};
	assert_int_equal(cw_store_apply_batch(s, big, evs, 1), 0);
	assert_int_equal(cw_store_apply_batch(s, big, evs + 1, 1), -ENAMETOOLONG);
	assert_int_equal(cw_store_apply_batch(s, "other", evs, 2), 0);
	assert_int_equal(cw_store_stat(s, big, &st), 0);
	assert_true(st.highest_rv == 9 && st.events == 1 && st.objects == 1);
	evs[0].obj = &p[2].o;
	pod_make(&p[2], "d", "e", 11, NULL, NULL);
	assert_int_equal(cw_store_apply_batch(s, big, evs, 2), -ENAMETOOLONG);
	assert_int_equal(cw_store_stat(s, big, &st), 0);
	assert_true(st.highest_rv == 9 && st.events == 1 && st.objects == 1);
	cw_obj_release(&p[2].o);
	cw_obj_release(&p[0].o);
	cw_obj_release(&p[1].o);
	cw_store_close(s);
	tmp_drop(&t);
}

static void test_bookmark(void **state)
{
	struct cw_store_stat st;
	struct cw_store *s;
	struct seen sn = {0};
	uint64_t rv;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	s = open_store(&t, 100);
	assert_int_equal(cw_store_bookmark(s, "pods", 50), 0);
	assert_int_equal(cw_store_rv(s, "pods", &rv), 0);
	assert_true(rv == 50);
	assert_int_equal(cw_store_bookmark(s, "pods", 40), 0);
	assert_int_equal(cw_store_rv(s, "pods", &rv), 0);
	assert_true(rv == 50);
	/* Events up to the bookmark have all been seen: this one is old. */
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "d", "a", 45, NULL), 0);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.events == 0 && st.objects == 0 && st.complete_after == 50);
	assert_int_equal(cw_store_watch_from(s, "pods", 10, seen_event, &sn, &rv), -ESTALE);
	assert_int_equal(apply_pod(s, "pods", CW_EV_ADDED, "d", "a", 51, NULL), 0);
	assert_int_equal(cw_store_bookmark(s, "pods", 60), 0);
	assert_int_equal(cw_store_watch_from(s, "pods", 50, seen_event, &sn, &rv), 0);
	assert_true(sn.n == 1 && sn.rv[0] == 51 && rv == 60);
	assert_int_equal(cw_store_bookmark(s, "pods", 0), -EINVAL);
	assert_int_equal(cw_store_bookmark(s, "", 1), -EINVAL);
	cw_store_close(s);
	tmp_drop(&t);
}

static void test_bad_args(void **state)
{
	struct cw_store *s = NULL;
	struct seen sn = {0};
	char res[520];
	struct tmp t;
	struct pod p;

	(void)state;
	tmp_make(&t);
	assert_int_equal(cw_store_open(t.dir, MAP_SIZE, 0, &s), -EINVAL);
	assert_int_equal(cw_store_open(t.dir, 0, 10, &s), -EINVAL);
	assert_int_equal(cw_store_open("/proc/cw-no-such/x", MAP_SIZE, 10, &s), -ENOENT);
	s = open_store(&t, 10);
	pod_make(&p, "d", "a", 1, "n1", NULL);
	assert_int_equal(cw_store_apply(s, "pods", CW_EV_BOOKMARK, &p.o), -EINVAL);
	assert_int_equal(cw_store_apply(s, "", CW_EV_ADDED, &p.o), -EINVAL);
	/* Keys beyond LMDB's 511 bytes. */
	memset(res, 'r', sizeof(res) - 1);
	res[sizeof(res) - 1] = '\0';
	assert_int_equal(cw_store_apply(s, res, CW_EV_ADDED, &p.o), -ENAMETOOLONG);
	cw_obj_release(&p.o);
	assert_int_equal(cw_store_get(s, res, "d", "a", seen_item, &sn), -ENAMETOOLONG);
	assert_int_equal(cw_store_get(s, "pods", "d", "", seen_item, &sn), -EINVAL);
	cw_store_close(s);
	tmp_drop(&t);
}

static int count_cb(const struct cw_store_item *it, void *ctx)
{
	(void)it;
	(*(int *)ctx)++;
	return 0;
}

/* A reader on another thread, parked inside its list callback. */
struct parked {
	struct cw_store *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool inside, written;
	int n, rc;
	uint64_t rv;
};

static int park_cb(const struct cw_store_item *it, void *ctx)
{
	struct parked *p = ctx;

	(void)it;
	pthread_mutex_lock(&p->mu);
	if (p->n++ == 0) {
		p->inside = true;
		pthread_cond_broadcast(&p->cv);
		while (!p->written)
			pthread_cond_wait(&p->cv, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void *park_reader(void *arg)
{
	struct parked *p = arg;
	struct cw_store_list_req q = {.resource = "pods"};
	char cont[CW_STORE_CONTINUE_MAX];

	p->rc = cw_store_list(p->s, &q, park_cb, p, &p->rv, cont);
	return NULL;
}

/* Snapshots on other threads while the writer commits: a reader never
 * blocks the writer and sees its snapshot only. */
static void test_readers(void **state)
{
	struct parked p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct cw_store_stat st;
	pthread_t th;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	p.s = thirty(&t, 100);
	assert_int_equal(pthread_create(&th, NULL, park_reader, &p), 0);
	pthread_mutex_lock(&p.mu);
	while (!p.inside)
		pthread_cond_wait(&p.cv, &p.mu);
	pthread_mutex_unlock(&p.mu);
	/* The reader holds its transaction: these commits must not wait. */
	assert_int_equal(apply_pod(p.s, "pods", CW_EV_ADDED, "ns9", "late", 200, NULL), 0);
	assert_int_equal(apply_pod(p.s, "pods", CW_EV_DELETED, "ns0", "pod-00", 201, NULL), 0);
	assert_int_equal(cw_store_stat(p.s, "pods", &st), 0);
	assert_true(st.highest_rv == 201 && st.objects == 30);
	pthread_mutex_lock(&p.mu);
	p.written = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	assert_int_equal(pthread_join(th, NULL), 0);
	/* Its snapshot: the 30 pods at RV 129, neither change. */
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.n, 30);
	assert_true(p.rv == 129);
	cw_store_close(p.s);
	tmp_drop(&t);
}

/* A full map fails the event whole; what was committed stays usable. */
static void test_map_full(void **state)
{
	static char big[3000];
	struct cw_store_stat st;
	struct cw_store *s = NULL;
	struct cw_store_list_req q = {.resource = "configmaps"};
	char cont[CW_STORE_CONTINUE_MAX];
	uint64_t rv = 0, list_rv;
	struct tmp t;
	int rc = 0, n = 0;

	(void)state;
	tmp_make(&t);
	assert_int_equal(cw_store_open(t.dir, 256 << 10, 1000, &s), 0);
	memset(big, 'x', sizeof(big) - 1);
	while (!rc && rv < 1000) {
		char json[3200];
		struct cw_obj o;
		snprintf(json, sizeof(json),
			 "{\"metadata\":{\"name\":\"p%llu\",\"resourceVersion\":\"%llu\"},"
			 "\"data\":\"%s\"}",
			 (unsigned long long)(rv % 8), (unsigned long long)(rv + 1), big);
		assert_int_equal(cw_obj_parse(&o, json, strlen(json)), 0);
		rc = cw_store_apply(s, "configmaps", CW_EV_MODIFIED, &o);
		cw_obj_release(&o);
		rv += !rc;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(cw_store_stat(s, "configmaps", &st), 0);
	assert_true(st.highest_rv == rv && st.events == rv && st.objects == (rv < 8 ? rv : 8));
	assert_int_equal(cw_store_list(s, &q, count_cb, &n, &list_rv, cont), 0);
	assert_true(n == (int)st.objects && list_rv == rv);
	cw_store_close(s);
	tmp_drop(&t);
}

/*
 * The crash test. A child applies a deterministic event sequence (event
 * r at RV r) and writes each RV to a pipe after its commit; the parent
 * kills it with SIGKILL at a random point, reopens the store and checks
 * it holds exactly the state after some RV >= the last one reported,
 * with an index and a history that match.
 */
#define CR_OBJS	 24
#define CR_NODES 4
#define CR_BASE	 1000 /* the sequence starts after a bookmark at this RV */

struct sim {
	bool live[CR_OBJS];
	int node[CR_OBJS];    /* -1: none */
	uint64_t rv[CR_OBJS]; /* of the last write */
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* Event @r on @sim: its type, object and node; updates @sim. */
static enum cw_ev_type sim_step(struct sim *sim, uint64_t r, int *k, int *node)
{
	uint64_t h = mix(r);
	enum cw_ev_type type;

	*k = (int)(h % CR_OBJS);
	*node = (int)((h >> 16) % (CR_NODES + 1)) - 1;
	if (!sim->live[*k])
		type = CW_EV_ADDED;
	else if ((h >> 32) % 4 == 0)
		type = CW_EV_DELETED, *node = sim->node[*k];
	else
		type = CW_EV_MODIFIED;
	sim->live[*k] = type != CW_EV_DELETED;
	sim->node[*k] = *node;
	sim->rv[*k] = r;
	return type;
}

static void cr_pod(struct pod *p, int k, uint64_t rv, int node)
{
	char name[16], nn[16];

	assert_true(snprintf(name, sizeof(name), "p%02d", k) < (int)sizeof(name));
	assert_true(snprintf(nn, sizeof(nn), "n%d", node) < (int)sizeof(nn));
	pod_make(p, k % 2 ? "kube-system" : "default", name, rv, node >= 0 ? nn : NULL, NULL);
}

static void sim_run(struct sim *sim, uint64_t upto)
{
	int k, node;

	memset(sim, 0, sizeof(*sim));
	for (uint64_t r = CR_BASE + 1; r <= upto; r++)
		sim_step(sim, r, &k, &node);
}

static int cr_apply(struct cw_store *s, struct sim *sim, uint64_t r)
{
	enum cw_ev_type type;
	struct pod p;
	int k, node, rc;

	type = sim_step(sim, r, &k, &node);
	cr_pod(&p, k, r, node);
	rc = cw_store_apply(s, "pods", type, &p.o);
	cw_obj_release(&p.o);
	return rc;
}

static void crash_child(const char *dir, int fd)
{
	struct cw_store *s;
	struct sim sim, replay;
	uint64_t h;

	if (cw_store_open(dir, MAP_SIZE, 64, &s) || cw_store_rv(s, "pods", &h))
		_exit(2);
	if (h == 0 && cw_store_bookmark(s, "pods", CR_BASE))
		_exit(2);
	h = h ? h : CR_BASE;
	sim_run(&sim, h);
	/* Replays of events already committed must be no-ops. */
	sim_run(&replay, h - 5 > CR_BASE ? h - 5 : CR_BASE);
	for (uint64_t r = h - 4 > CR_BASE ? h - 4 : CR_BASE + 1; r <= h; r++)
		if (cr_apply(s, &replay, r))
			_exit(3);
	for (uint64_t r = h + 1;; r++) {
		if (cr_apply(s, &sim, r) || write(fd, &r, sizeof(r)) != sizeof(r))
			_exit(4);
	}
}

struct hist_check {
	uint64_t next;
	struct sim sim;
};

/* History events must be RV next, next+1, ... each as the sequence says. */
static int hist_cb(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it, void *ctx)
{
	struct hist_check *h = ctx;
	struct pod p;
	int k, node;

	assert_true(rv == h->next);
	assert_int_equal(type, sim_step(&h->sim, rv, &k, &node));
	cr_pod(&p, k, rv, node);
	assert_int_equal(it->len, strlen(p.json));
	assert_memory_equal(it->bytes, p.json, it->len);
	cw_obj_release(&p.o);
	h->next++;
	return 0;
}

static void crash_check(const char *dir, uint64_t committed, uint64_t *highest)
{
	struct cw_store_stat st;
	struct hist_check hc;
	struct cw_store *s;
	struct sim sim;
	struct seen sn;
	int live = 0, on_node[CR_NODES] = {0}, total = 0;
	uint64_t rv;

	assert_int_equal(cw_store_open(dir, MAP_SIZE, 64, &s), 0);
	assert_int_equal(cw_store_stat(s, "pods", &st), 0);
	assert_true(st.highest_rv >= committed);
	assert_true(st.highest_rv <= committed + 1); /* at most the one in flight */
	*highest = st.highest_rv;
	sim_run(&sim, st.highest_rv);

	/* The objects are exactly the sequence's state at that RV. */
	assert_int_equal(list_all(s, "pods", NULL, NULL, &sn, &rv), 0);
	assert_true(rv == st.highest_rv);
	for (int k = 0; k < CR_OBJS; k++) {
		struct pod p;
		bool found = false;
		if (!sim.live[k])
			continue;
		live++;
		if (sim.node[k] >= 0)
			on_node[sim.node[k]]++;
		cr_pod(&p, k, sim.rv[k], sim.node[k]);
		for (int i = 0; i < sn.n; i++)
			found |= strcmp(sn.bytes[i], p.json) == 0;
		assert_true(found);
		cw_obj_release(&p.o);
	}
	assert_int_equal(sn.n, live);
	assert_true(st.objects == (uint64_t)live);
	/* The index has exactly the objects on each node. */
	for (int n = 0; n < CR_NODES; n++) {
		char nn[8];
		int got = 0;
		struct cw_store_list_req q = {.resource = "pods", .node = nn};
		char cont[CW_STORE_CONTINUE_MAX];
		snprintf(nn, sizeof(nn), "n%d", n);
		assert_int_equal(cw_store_list(s, &q, count_cb, &got, &rv, cont), 0);
		assert_int_equal(got, on_node[n]);
		total += got;
	}
	assert_true(total <= live);
	/* The history: contiguous up to the highest RV, as long as it says. */
	assert_true(st.events == 64 || st.complete_after == CR_BASE);
	assert_true(st.complete_after + st.events == st.highest_rv);
	assert_true(st.oldest_rv == st.complete_after + 1);
	sim_run(&hc.sim, st.complete_after);
	hc.next = st.complete_after + 1;
	assert_int_equal(cw_store_watch_from(s, "pods", st.complete_after, hist_cb, &hc, &rv), 0);
	assert_true(hc.next == st.highest_rv + 1);
	cw_store_close(s);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_crash_kill9(void **state)
{
	uint64_t seed = 20261127, highest = CR_BASE;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	for (int round = 0; round < 24; round++) {
		uint64_t committed = highest, r;
		int fds[2], status, want = 1 + (int)(xorshift(&seed) % 40), got = 0;
		struct pollfd pfd;
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(t.dir, fds[1]);
		}
		close(fds[1]);
		pfd = (struct pollfd){.fd = fds[0], .events = POLLIN};
		while (got < want) {
			assert_int_equal(poll(&pfd, 1, 10000), 1);
			assert_int_equal(read(fds[0], &r, sizeof(r)), sizeof(r));
			assert_true(r == committed + 1);
			committed = r;
			got++;
		}
		usleep((useconds_t)(xorshift(&seed) % 3000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		while (read(fds[0], &r, sizeof(r)) == sizeof(r)) {
			assert_true(r == committed + 1);
			committed = r;
		}
		close(fds[0]);
		crash_check(t.dir, committed, &highest);
	}
	assert_true(highest > CR_BASE + 64); /* the history was trimmed on the way */
	tmp_drop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get_delete), cmocka_unit_test(test_index_follows_node),
	    cmocka_unit_test(test_list_filters),   cmocka_unit_test(test_list_pages),
	    cmocka_unit_test(test_watch_from),	   cmocka_unit_test(test_idempotent_replay),
	    cmocka_unit_test(test_replace_diff),   cmocka_unit_test(test_bookmark),
	    cmocka_unit_test(test_apply_batch),	   cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_map_full),	   cmocka_unit_test(test_readers),
	    cmocka_unit_test(test_crash_kill9),	   cmocka_unit_test(test_prev),
	    cmocka_unit_test(test_same_rv),	   cmocka_unit_test(test_list_by_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
