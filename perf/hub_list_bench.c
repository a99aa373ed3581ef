/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub-list-bench: what the hub's LMDB store (hub/store.c) costs for the
 * lists kubelet and kube-proxy make. N pods are made from a real pod
 * (tests/unit/fixtures/k8s/pod.json by default) with the name, uid, RV
 * and node varied, loaded as one first sync (cw_store_replace), then
 * changed by E single-event commits (cw_store_apply, one synced
 * transaction each) and E more in batches of B (cw_store_apply_batch),
 * then listed: every pod, the pods of one node
 * (through the node index), and every pod through a label filter (which
 * parses each object). Times are the median of --runs runs, wall clock,
 * one thread.
 *
 *     hub-list-bench [--pods N] [--nodes M] [--events E] [--batch B]
 *                    [--runs R] [--template FILE] [--dir DIR] [--check]
 *
 * --check verifies every list against the generated pods (byte-exact) and
 * exits 1 on a mismatch; the perf-smoke suite runs it with small sizes.
 * The store lives in a fresh directory under --dir (default $TMPDIR or
 * /tmp), removed at the end.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "hub/store.h"

struct bench {
	unsigned long pods, nodes, events, batch, runs;
	bool check;
	char **json, **ev_json; /* the pods; the events' new versions (2E) */
	struct cw_obj *objs, *ev_objs;
	struct cw_store *store;
};

struct tally {
	unsigned long n;
	size_t bytes;
	const struct bench *b;
	bool bad;
};

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "hub-list-bench: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned long n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Pod @i from @tmpl: name, uid, RV, node and one label varied. */
static char *make_pod(json_t *tmpl, unsigned long i, unsigned long nodes, uint64_t rv)
{
	json_t *p = json_deep_copy(tmpl), *meta, *labels;
	char buf[64];
	char *out;

	if (!p)
		die("%s", "out of memory");
	meta = json_object_get(p, "metadata");
	labels = json_object_get(meta, "labels");
	snprintf(buf, sizeof(buf), "pod-%06lu", i);
	json_object_set_new(meta, "name", json_string(buf));
	snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012lu", i);
	json_object_set_new(meta, "uid", json_string(buf));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)rv);
	json_object_set_new(meta, "resourceVersion", json_string(buf));
	if (json_is_object(labels))
		json_object_set_new(labels, "shard", json_string(i % 2 ? "odd" : "even"));
	snprintf(buf, sizeof(buf), "edge-%04lu", i % nodes);
	json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(buf));
	out = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	if (!out)
		die("%s", "out of memory");
	return out;
}

static void make_set(json_t *tmpl, char ***json, struct cw_obj **objs, unsigned long n,
		     unsigned long pods, unsigned long nodes, uint64_t rv)
{
	*json = calloc(n ? n : 1, sizeof(**json));
	*objs = calloc(n ? n : 1, sizeof(**objs));
	if (!*json || !*objs)
		die("%s", "out of memory");
	for (unsigned long i = 0; i < n; i++) {
		(*json)[i] = make_pod(tmpl, i % pods, nodes, rv + i);
		if (cw_obj_parse(&(*objs)[i], (*json)[i], strlen((*json)[i])))
			die("%s", "a generated pod does not parse");
	}
}

/* The pods, and for each event the next version of pod (event % pods). */
static void make_pods(struct bench *b, const char *path)
{
	json_error_t err;
	json_t *tmpl = json_load_file(path, 0, &err);

	if (!tmpl || !json_is_object(json_object_get(tmpl, "spec")))
		die("%s: not a pod", path);
	make_set(tmpl, &b->json, &b->objs, b->pods, b->pods, b->nodes, 1000);
	make_set(tmpl, &b->ev_json, &b->ev_objs, 2 * b->events, b->pods, b->nodes, 1000 + b->pods);
	json_decref(tmpl);
}

/* After the events, the latest version of each pod is the expected one. */
static void events_done(struct bench *b)
{
	for (unsigned long e = 0; e < 2 * b->events; e++) {
		unsigned long i = e % b->pods;
		cw_obj_release(&b->objs[i]);
		free(b->json[i]);
		b->json[i] = b->ev_json[e];
		b->objs[i] = b->ev_objs[e];
	}
	free(b->ev_json);
	free(b->ev_objs);
}

/* Names are pod-NNNNNN: the index is in the name. */
static int tally_cb(const struct cw_store_item *it, void *ctx)
{
	struct tally *t = ctx;

	t->n++;
	t->bytes += it->len;
	if (t->b->check) {
		const char *p = memmem(it->bytes, it->len, "\"name\":\"pod-", 12);
		unsigned long i = p ? strtoul(p + 12, NULL, 10) : ~0ul;
		if (i >= t->b->pods || strlen(t->b->json[i]) != it->len ||
		    memcmp(t->b->json[i], it->bytes, it->len))
			t->bad = true;
	}
	return 0;
}

static int shard_odd(const struct cw_obj *o, void *ctx)
{
	json_t *v = json_object_get(o->labels, "shard");

	(void)ctx;
	return v && strcmp(json_string_value(v), "odd") == 0;
}

/* One list; its wall time, and the objects it passed in *@t. */
static double timed_list(struct bench *b, const struct cw_store_list_req *q, struct tally *t)
{
	char cont[CW_STORE_CONTINUE_MAX];
	uint64_t rv;
	double t0 = now_s();
	int rc;

	*t = (struct tally){.b = b};
	rc = cw_store_list(b->store, q, tally_cb, t, &rv, cont);
	if (rc)
		die("list: %s", strerror(-rc));
	return now_s() - t0;
}

static bool run_lists(struct bench *b, double *all, double *node, double *filt)
{
	double *v = calloc(b->runs, sizeof(*v));
	struct cw_store_list_req q = {.resource = "pods"};
	unsigned long per_node = b->pods / b->nodes;
	bool ok = true;
	struct tally t;
	char nn[32];

	if (!v)
		die("%s", "out of memory");
	for (unsigned long r = 0; r < b->runs; r++) {
		v[r] = timed_list(b, &q, &t);
		ok &= t.n == b->pods && !t.bad;
	}
	*all = median(v, b->runs);
	q.node = nn;
	for (unsigned long r = 0; r < b->runs; r++) {
		unsigned long k = (r * 7919) % b->nodes;
		snprintf(nn, sizeof(nn), "edge-%04lu", k);
		v[r] = timed_list(b, &q, &t);
		ok &= (t.n == per_node || t.n == per_node + 1) && !t.bad;
	}
	*node = median(v, b->runs);
	q.node = NULL;
	q.filter = shard_odd;
	for (unsigned long r = 0; r < b->runs; r++) {
		v[r] = timed_list(b, &q, &t);
		ok &= t.n == b->pods / 2 && !t.bad;
	}
	*filt = median(v, b->runs);
	free(v);
	return ok;
}

/* Pods re-applied with a newer RV: one txn each, then in batches. */
static void run_events(struct bench *b, double *single, double *batched)
{
	struct cw_store_event *evs = calloc(b->batch, sizeof(*evs));
	double t0 = now_s();

	if (!evs)
		die("%s", "out of memory");
	for (unsigned long e = 0; e < b->events; e++) {
		int rc = cw_store_apply(b->store, "pods", CW_EV_MODIFIED, &b->ev_objs[e]);
		if (rc)
			die("apply: %s", strerror(-rc));
	}
	*single = now_s() - t0;
	t0 = now_s();
	for (unsigned long e = b->events; e < 2 * b->events; e += b->batch) {
		unsigned long n = 2 * b->events - e < b->batch ? 2 * b->events - e : b->batch;
		int rc;
		for (unsigned long i = 0; i < n; i++)
			evs[i] = (struct cw_store_event){CW_EV_MODIFIED, &b->ev_objs[e + i]};
		rc = cw_store_apply_batch(b->store, "pods", evs, n);
		if (rc)
			die("apply: %s", strerror(-rc));
	}
	*batched = now_s() - t0;
	free(evs);
	events_done(b);
}

static void parse_args(struct bench *b, int argc, char **argv, const char **tmpl, const char **dir)
{
	for (int i = 1; i < argc; i++) {
		unsigned long *num = NULL, max = 10000000;
		if (!strcmp(argv[i], "--pods"))
			num = &b->pods;
		else if (!strcmp(argv[i], "--nodes"))
			num = &b->nodes;
		else if (!strcmp(argv[i], "--events"))
			num = &b->events;
		else if (!strcmp(argv[i], "--batch"))
			num = &b->batch;
		else if (!strcmp(argv[i], "--runs"))
			num = &b->runs;
		else if (!strcmp(argv[i], "--check"))
			b->check = true;
		else if (!strcmp(argv[i], "--template") && i + 1 < argc)
			*tmpl = argv[++i];
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			*dir = argv[++i];
		else
			die("unknown argument %s", argv[i]);
		if (num && (i + 1 >= argc ||
			    cw_cli_num(argv[++i], num == &b->events ? 0 : 1, max, num) < 0))
			die("%s: needs a number", argv[i - 1]);
	}
	if (b->nodes > b->pods)
		die("%s", "--nodes must not exceed --pods");
}

static void remove_store(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	struct bench b = {.pods = 10000, .nodes = 100, .events = 1000, .batch = 100, .runs = 21};
	const char *tmpl = CW_SOURCE_ROOT "/tests/unit/fixtures/k8s/pod.json";
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	double t_load, t_ev, t_batch, t_all, t_node, t_filt;
	char dir[4096];
	size_t total = 0;
	bool ok;
	int rc;

	parse_args(&b, argc, argv, &tmpl, &base);
	make_pods(&b, tmpl);
	for (unsigned long i = 0; i < b.pods; i++)
		total += b.objs[i].len;
	snprintf(dir, sizeof(dir), "%s/hub-list-bench-XXXXXX", base);
	if (!mkdtemp(dir))
		die("%s: cannot make a directory", dir);
	rc = cw_store_open(dir, (size_t)1 << 32, 1000, &b.store);
	if (rc)
		die("open: %s", strerror(-rc));

	t_load = now_s();
	rc = cw_store_replace(b.store, "pods", b.objs, b.pods, 999 + b.pods, NULL, NULL);
	if (rc)
		die("replace: %s", strerror(-rc));
	t_load = now_s() - t_load;
	run_events(&b, &t_ev, &t_batch);
	ok = run_lists(&b, &t_all, &t_node, &t_filt);

	printf("pods %lu (%.0f bytes each on average), nodes %lu, runs %lu\n", b.pods,
	       (double)total / (double)b.pods, b.nodes, b.runs);
	printf("first sync (one txn)   %10.3f ms  %8.0f pods/s\n", t_load * 1e3,
	       (double)b.pods / t_load);
	if (b.events) {
		printf("single-event commits   %10.3f ms  %8.3f ms/event\n", t_ev * 1e3,
		       t_ev * 1e3 / (double)b.events);
		printf("batches of %-6lu      %10.3f ms  %8.3f ms/event\n", b.batch, t_batch * 1e3,
		       t_batch * 1e3 / (double)b.events);
	}
	printf("list all               %10.3f ms  %8.3f us/pod\n", t_all * 1e3,
	       t_all * 1e6 / (double)b.pods);
	printf("list one node (index)  %10.3f ms  (%lu pods)\n", t_node * 1e3, b.pods / b.nodes);
	printf("list all, label filter %10.3f ms  %8.3f us/pod\n", t_filt * 1e3,
	       t_filt * 1e6 / (double)b.pods);

	cw_store_close(b.store);
	remove_store(dir);
	for (unsigned long i = 0; i < b.pods; i++) {
		cw_obj_release(&b.objs[i]);
		free(b.json[i]);
	}
	free(b.objs);
	free(b.json);
	if (b.check && !ok) {
		fprintf(stderr, "hub-list-bench: a list did not match the pods\n");
		return 1;
	}
	return 0;
}
