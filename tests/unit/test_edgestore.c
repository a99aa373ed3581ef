/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/agent/edgestore.c: a view learnt from its list and from the
 * events of its watch, served as a List with the view's real
 * resourceVersion and as the changes after a version; kept across a
 * reopen; views whose names collide never mixed.
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

#include "tunnel/agent/edgestore.h"

#define MAP_SIZE (16u << 20)

/* A watch line, and the pods the tests use. */
#define EV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"
#define A4	      POD("a", "4")
#define A13	      POD("a", "13")
#define B7	      POD("b", "7")
#define C12	      POD("c", "12")
#define LIST_HEAD     "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":["
#define LIST_RV(rv)   "],\"metadata\":{\"resourceVersion\":\"" rv "\"}}"

#define POD(name, rv)                                                                              \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\",\"resourceVersion\":\"" rv \
	"\"},\"spec\":{\"nodeName\":\"edge-1\"}}"

struct fx {
	char dir[64], objects[80];
	struct cw_edgecache *cache;
	struct cw_edgestore *es;
	struct cw_edgeview v;
};

static void fx_open(struct fx *f)
{
	assert_int_equal(cw_edgecache_open(f->dir, MAP_SIZE, &f->cache), 0);
	assert_int_equal(cw_edgestore_open(f->objects, MAP_SIZE, f->cache, &f->es), 0);
}

static void fx_close(struct fx *f)
{
	cw_edgestore_close(f->es);
	cw_edgecache_close(f->cache);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cw-edgestore-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->objects, sizeof(f->objects), "%s/objects", f->dir);
	fx_open(f);
	assert_int_equal(
	    cw_edgeview_parse("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1", &f->v), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	fx_close(f);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", i ? f->dir : f->objects, "data.mdb");
		assert_int_equal(unlink(p), 0);
		snprintf(p, sizeof(p), "%s/%s", i ? f->dir : f->objects, "lock.mdb");
		assert_int_equal(unlink(p), 0);
	}
	assert_int_equal(rmdir(f->objects), 0);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void learn_list(struct fx *f, const char *list, int want)
{
	assert_int_equal(cw_edgestore_learn_list(f->es, &f->v, list, strlen(list)), want);
}

static void learn(struct fx *f, enum cw_ev_type t, uint64_t ev_rv, const char *obj, int want)
{
	struct cw_edgestore_event e = {t, ev_rv, obj, strlen(obj)};

	assert_int_equal(cw_edgestore_learn_events(f->es, &f->v, &e, 1), want);
}

static void want_list(struct fx *f, const char *want)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;

	assert_non_null(b);
	assert_int_equal(cw_edgestore_list(f->es, &f->v, b), 0);
	n = evbuffer_get_length(b);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(evbuffer_pullup(b, -1), want, n);
	evbuffer_free(b);
}

static void want_replay(struct fx *f, uint64_t from, const char *want, uint64_t want_rv)
{
	struct evbuffer *b = evbuffer_new();
	uint64_t rv = 0;
	size_t n;

	assert_non_null(b);
	assert_int_equal(cw_edgestore_replay(f->es, &f->v, from, b, &rv), 0);
	n = evbuffer_get_length(b);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(evbuffer_pullup(b, -1), want, n);
	assert_int_equal(rv, want_rv);
	evbuffer_free(b);
}

static bool follows(struct fx *f, const char *uri)
{
	struct cw_edgeview w;

	assert_int_equal(cw_edgeview_parse(uri, &w), 0);
	return cw_edgestore_follows(f->es, &w);
}

static void test_list_then_watch(void **state)
{
	struct fx *f = *state;
	struct cw_edgestore_head h;

	assert_int_equal(cw_edgestore_head(f->es, &f->v, &h), -ENOENT);
	assert_false(follows(f, "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&watch=1"
				"&resourceVersion=10"));
	learn_list(f,
		   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		   "\"10\"},\"items\":[" A4 ", " B7 "]}",
		   0);
	want_list(f, LIST_HEAD A4 "," B7 LIST_RV("10"));
	/* A watch from the list's version or an older one continues it. */
	assert_true(follows(f, "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&watch=1"
			       "&resourceVersion=10"));
	assert_true(follows(f, "/api/v1/watch/pods?fieldSelector=spec.nodeName%3Dedge-1"
			       "&resourceVersion=8"));
	assert_false(follows(f, "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&watch=1"
				"&resourceVersion=11"));
	assert_false(follows(f, "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&watch=1"));
	assert_false(follows(f, "/api/v1/pods?watch=1&resourceVersion=10"));

	learn(f, CW_EV_ADDED, 12, C12, 0);
	learn(f, CW_EV_MODIFIED, 0, A13, 0);
	learn(f, CW_EV_ADDED, 12, C12, 0); /* again: nothing changes */
	/* A re-list difference: the object's last state at the event's version. */
	learn(f, CW_EV_DELETED, 14, B7, 0);
	want_list(f, LIST_HEAD A13 "," C12 LIST_RV("14"));
	want_replay(f, 10, EV("ADDED", C12) EV("MODIFIED", A13) EV("DELETED", B7), 14);
	want_replay(f, 13, EV("DELETED", B7), 14);
	want_replay(f, 0, EV("ADDED", A13) EV("ADDED", C12), 14);
	/* A bookmark's version from its object. */
	learn(f, CW_EV_BOOKMARK, 0,
	      "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"20\"}}",
	      0);
	assert_int_equal(cw_edgestore_head(f->es, &f->v, &h), 0);
	assert_string_equal(h.kind, "PodList");
	assert_string_equal(h.api, "v1");
	assert_int_equal(h.rv, 20);
	learn(f, CW_EV_ERROR, 0, "{\"kind\":\"Status\",\"code\":410}", -EINVAL);
	learn(f, CW_EV_ADDED, 21, "{\"metadata\":{}}", -EINVAL);
	assert_int_equal(cw_edgestore_stats(f->es)->lists, 1);
	assert_int_equal(cw_edgestore_stats(f->es)->events, 4);
}

/* More events than one transaction takes, a bookmark among them, an ERROR
 * at the end: all before the ERROR are learnt, in order. */
static void test_batches(void **state)
{
	enum { N = CW_EDGESTORE_BATCH + 6 };
	static char objs[N][160];
	struct cw_edgestore_event evs[N + 2];
	struct cw_edgestore_head h;
	struct fx *f = *state;
	char last[200];

	learn_list(f,
		   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		   "\"10\"},\"items\":[]}",
		   0);
	for (int i = 0; i < N; i++) {
		snprintf(objs[i], sizeof(objs[i]),
			 "{\"metadata\":{\"name\":\"p%d\",\"resourceVersion\":\"%d\"}}", i, 11 + i);
		evs[i + (i >= 5)] =
		    (struct cw_edgestore_event){CW_EV_ADDED, 0, objs[i], strlen(objs[i])};
	}
	evs[5] = (struct cw_edgestore_event){CW_EV_BOOKMARK, 15, "{}", 2};
	evs[N + 1] = (struct cw_edgestore_event){CW_EV_ERROR, 0, "{}", 2};
	assert_int_equal(cw_edgestore_learn_events(f->es, &f->v, evs, N + 2), -EINVAL);
	assert_int_equal(cw_edgestore_head(f->es, &f->v, &h), 0);
	assert_int_equal(h.rv, 10 + N);
	assert_int_equal(cw_edgestore_stats(f->es)->events, N);
	snprintf(last, sizeof(last), "{\"type\":\"ADDED\",\"object\":%s}\n", objs[N - 1]);
	want_replay(f, 9 + N, last, 10 + N);
}

static void test_relist_history_and_reopen(void **state)
{
	struct fx *f = *state;
	struct evbuffer *b = evbuffer_new();
	uint64_t rv;

	assert_non_null(b);
	learn_list(f,
		   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		   "\"10\"},\"items\":[" A4 "," B7 "]}",
		   0);
	/* Older than the view: not taken. */
	learn_list(f,
		   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		   "\"9\"},\"items\":[]}",
		   -ESTALE);
	/* Not the whole: another page follows. */
	learn_list(f,
		   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		   "\"30\",\"continue\":\"x\"},\"items\":[]}",
		   -EINVAL);
	learn_list(f, "{\"kind\":\"Status\"}", -EINVAL);
	/* A later list: the differences are events after the first. */
	learn_list(f,
		   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		   "\"30\"},\"items\":[" B7 "]}",
		   0);
	want_replay(f, 10, EV("DELETED", A4), 30);
	/* Before the first list: the history does not go back so far. */
	assert_int_equal(cw_edgestore_replay(f->es, &f->v, 9, b, &rv), -ESTALE);
	fx_close(f);
	fx_open(f);
	want_list(f, LIST_HEAD B7 LIST_RV("30"));
	want_replay(f, 10, EV("DELETED", A4), 30);
	evbuffer_free(b);
}

static void test_views_never_mixed(void **state)
{
	static const char other[] = "PodList\nv1\n/api/v1/pods?labelSelector=x";
	struct fx *f = *state;
	struct cw_edgestore_head h;
	struct evbuffer *b = evbuffer_new();
	char key[64];

	assert_non_null(b);
	/* Another view under this one's name, as a hash collision would have it. */
	snprintf(key, sizeof(key), "view:%s", f->v.name);
	assert_int_equal(cw_edgecache_put(f->cache, key, "", other, strlen(other)), 0);
	learn_list(f,
		   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		   "\"10\"},\"items\":[]}",
		   -EEXIST);
	assert_int_equal(cw_edgestore_head(f->es, &f->v, &h), -ENOENT);
	assert_int_equal(cw_edgestore_list(f->es, &f->v, b), -ENOENT);
	assert_int_equal(evbuffer_get_length(b), 0);
	/* A later page is never learnt. */
	f->v.cont = true;
	learn_list(f,
		   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		   "\"10\"},\"items\":[]}",
		   -EINVAL);
	evbuffer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_list_then_watch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relist_history_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_views_never_mixed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
