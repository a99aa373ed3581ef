/* SPDX-License-Identifier: Apache-2.0 */
#include "lg_watch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tunnel/compress.h"
#include "tunnel/msg_body.h"

#define LIST_MAX  (64u << 20) /* the largest list body taken */
#define EVENT_MAX (16u << 20) /* the largest event object decoded */
#define QUERY_MAX 512

enum { C_IDLE, C_LIST, C_WATCH, C_FAILED };
enum { SEL_NONE, SEL_NODE, SEL_NAME };

static const struct {
	const char *name, *path;
	int sel;
} res_tab[] = {
    {"pods", "/api/v1/pods", SEL_NODE},
    {"nodes", "/api/v1/nodes", SEL_NAME},
    {"services", "/api/v1/services", SEL_NONE},
    {"endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", SEL_NONE},
    {"configmaps", "/api/v1/configmaps", SEL_NONE},
};

int cw_lgw_init(struct cw_lgw *w, const char *list, unsigned sessions)
{
	const char *p = list;

	*w = (struct cw_lgw){0};
	while (*p) {
		size_t n = strcspn(p, ","), k;

		for (k = 0; k < sizeof(res_tab) / sizeof(res_tab[0]); k++)
			if (strlen(res_tab[k].name) == n && !strncmp(res_tab[k].name, p, n))
				break;
		if (k == sizeof(res_tab) / sizeof(res_tab[0]) || w->n_res == CW_LGW_MAX_RES ||
		    memchr(w->res, (int)k, w->n_res))
			return -EINVAL;
		w->res[w->n_res++] = (uint8_t)k;
		p += n + (p[n] == ',');
	}
	if (!w->n_res)
		return -EINVAL;
	w->delays = calloc(sessions, sizeof(*w->delays));
	w->ready = calloc(sessions, sizeof(*w->ready));
	if (!w->delays || !w->ready || cw_compress_init(&w->cz, NULL, 0) < 0)
		return -ENOMEM;
	return 0;
}

void cw_lgw_free(struct cw_lgw *w)
{
	cw_compress_free(w->cz);
	free(w->scratch);
	free(w->delays);
	free(w->ready);
	*w = (struct cw_lgw){0};
}

void cw_lgw_sess_free(struct cw_lgw_sess *ws)
{
	for (unsigned k = 0; k < CW_LGW_MAX_RES; k++) {
		free(ws->c[k].buf);
		ws->c[k].buf = NULL;
	}
}

/* Open resource @k's list (@watch false) or its watch from c->rv. */
static int call_open(struct cw_lgw *w, struct cw_lgw_call *c, unsigned k, struct cw_as *as,
		     const char *node, bool watch, uint64_t now)
{
	Causeway__V1__ApiRequest rq = CAUSEWAY__V1__API_REQUEST__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	/* The watch's parameters before the selector: room for both. */
	char query[QUERY_MAX + 96], sel[QUERY_MAX] = "";
	int sk = res_tab[w->res[k]].sel, rc;

	if (sk != SEL_NONE)
		snprintf(sel, sizeof(sel), "fieldSelector=%s%%3D%s",
			 sk == SEL_NODE ? "spec.nodeName" : "metadata.name", node);
	if (watch)
		snprintf(query, sizeof(query),
			 "watch=true&allowWatchBookmarks=true&resourceVersion=%" PRIu64 "%s%s",
			 c->rv, *sel ? "&" : "", sel);
	else
		snprintf(query, sizeof(query), "%s", sel);
	rq.verb = "GET";
	rq.path = (char *)res_tab[w->res[k]].path;
	rq.query = query;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	rc = cw_as_api_open(as, &env, &c->id);
	if (rc < 0) {
		c->state = C_FAILED;
		w->bad++;
		return rc;
	}
	c->state = watch ? C_WATCH : C_LIST;
	c->status_ok = false;
	c->len = 0;
	c->t0 = now;
	*(watch ? &w->watches : &w->lists) += 1;
	return 0;
}

int cw_lgw_start(struct cw_lgw *w, struct cw_lgw_sess *ws, struct cw_as *as, const char *node,
		 uint64_t now)
{
	int first = 0;

	ws->start_ns = now;
	for (unsigned k = 0; k < w->n_res; k++) {
		int rc = call_open(w, &ws->c[k], k, as, node, false, now);

		first = first ? first : rc;
	}
	return first;
}

/* Append a list part's body to c->buf. Returns 0 or -errno. */
static int list_part(struct cw_lgw *w, struct cw_lgw_call *c, const Causeway__V1__Body *b)
{
	ptrdiff_t n = cw_msg_body_len(b, LIST_MAX - c->len);

	if (n < 0)
		return (int)n;
	if (c->len + (size_t)n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		uint8_t *p;

		while (cap < c->len + (size_t)n)
			cap *= 2;
		if (!(p = realloc(c->buf, cap)))
			return -ENOMEM;
		c->buf = p;
		c->cap = cap;
	}
	n = cw_msg_body_unpack(w->cz, 0, b, c->buf + c->len, c->cap - c->len);
	if (n < 0)
		return (int)n;
	c->len += (size_t)n;
	return 0;
}

/* A whole list: its resourceVersion (for the watch) and items. */
static int list_done(struct cw_lgw *w, struct cw_lgw_call *c)
{
	json_t *doc = c->status_ok ? json_loadb((const char *)c->buf, c->len, 0, NULL) : NULL;
	const char *rv =
	    json_string_value(json_object_get(json_object_get(doc, "metadata"), "resourceVersion"));
	json_t *items = json_object_get(doc, "items");
	char *end;
	int rc = -EBADMSG;

	if (rv && json_is_array(items)) {
		c->rv = strtoull(rv, &end, 10);
		w->items += json_array_size(items);
		rc = *end ? -EBADMSG : 0;
	}
	json_decref(doc);
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
	return rc;
}

/* Whether event object @b carries the marker's value. */
static bool has_marker(struct cw_lgw *w, const Causeway__V1__Body *b)
{
	ptrdiff_t n = cw_msg_body_len(b, EVENT_MAX);

	if (n <= 0)
		return false;
	if ((size_t)n > w->scratch_cap) {
		uint8_t *p = realloc(w->scratch, (size_t)n);

		if (!p)
			return false;
		w->scratch = p;
		w->scratch_cap = (size_t)n;
	}
	n = cw_msg_body_unpack(w->cz, 0, b, w->scratch, w->scratch_cap);
	return n > 0 && memmem(w->scratch, (size_t)n, w->token, strlen(w->token));
}

static void on_event(struct cw_lgw *w, struct cw_lgw_sess *ws, struct cw_lgw_call *c,
		     const Causeway__V1__WatchEvent *e, uint64_t now)
{
	w->events++;
	ws->events++;
	if (e->type == CAUSEWAY__V1__WATCH_EVENT_TYPE__EVENT_BOOKMARK)
		w->bookmarks++;
	if (e->type == CAUSEWAY__V1__WATCH_EVENT_TYPE__EVENT_ERROR) {
		c->rv = 0; /* 410: list again when the watch ends */
		return;
	}
	if (e->resource_version && *e->resource_version)
		c->rv = strtoull(e->resource_version, NULL, 10);
	if (w->n_marks && ws->marker_seen != w->n_marks && e->object && has_marker(w, e->object)) {
		ws->marker_seen = w->n_marks;
		w->delays[w->marked++] = (double)(now - w->marker_t0) / 1e6;
	}
}

/* One message of call @c. */
static void on_msg(struct cw_lgw *w, struct cw_lgw_sess *ws, struct cw_lgw_call *c,
		   const cw_envelope *env, uint64_t now)
{
	const Causeway__V1__ApiResponse *a = env->api_response;

	switch (env->msg_case) {
	case CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE:
		if (a->status)
			c->status_ok = a->status == 200;
		if (c->state == C_LIST && a->body && c->status_ok && list_part(w, c, a->body) < 0) {
			w->bad++;
			c->status_ok = false;
		}
		break;
	case CAUSEWAY__V1__ENVELOPE__MSG_WATCH_EVENT:
		if (c->state == C_WATCH)
			on_event(w, ws, c, env->watch_event, now);
		break;
	default:
		w->bad++;
		break;
	}
}

/* Call @c ended (@r: -EPIPE after a clean FIN); what follows it. */
static void on_end(struct cw_lgw *w, struct cw_lgw_sess *ws, unsigned k, struct cw_as *as,
		   const char *node, int r, uint64_t now, bool closing)
{
	struct cw_lgw_call *c = &ws->c[k];
	bool was_list = c->state == C_LIST;

	c->state = C_IDLE;
	if (r != -EPIPE)
		w->bad++;
	if (was_list) {
		w->list_n[k]++;
		w->list_ns[k] += now - c->t0;
		w->list_max[k] = w->list_max[k] > now - c->t0 ? w->list_max[k] : now - c->t0;
	}
	if (was_list && list_done(w, c) < 0) {
		w->list_errors++;
		c->state = C_FAILED;
		return;
	}
	if (closing)
		return;
	if (!was_list)
		w->rewatches++;
	/* After a 410 (rv 0): list again, as a reflector does. */
	if (call_open(w, c, k, as, node, was_list || c->rv, now) < 0 || !was_list || ws->watching)
		return;
	for (unsigned i = 0; i < w->n_res; i++)
		if (ws->c[i].state != C_WATCH)
			return;
	ws->watching = true;
	w->ready[w->watching++] = (double)(now - ws->start_ns) / 1e6;
}

bool cw_lgw_read(struct cw_lgw *w, struct cw_lgw_sess *ws, struct cw_as *as, const char *node,
		 uint64_t id, uint64_t now, bool closing)
{
	unsigned k;
	cw_envelope *env;
	uint64_t code;
	int r;

	for (k = 0; k < w->n_res; k++)
		if ((ws->c[k].state == C_LIST || ws->c[k].state == C_WATCH) && ws->c[k].id == id)
			break;
	if (k == w->n_res)
		return false;
	while ((r = cw_as_api_read(as, id, &env, &code)) == 0) {
		on_msg(w, ws, &ws->c[k], env, now);
		cw_as_api_msg_free(as, id, env);
	}
	if (r != -EAGAIN)
		on_end(w, ws, k, as, node, r, now, closing);
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The @pct percentile of sorted @v (n > 0), nearest rank. */
static double pct(const double *v, unsigned n, double p)
{
	unsigned i = (unsigned)((double)n * p / 100.0 + 0.999999);

	return v[(i ? i : 1) - 1];
}

/* ,"NAME":{"min":..,"p50":..,"p99":..,"max":..} of the @n values @v,
 * sorted here. */
static void print_pcts(const char *name, double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	if (n)
		printf(",\"%s\":{\"min\":%.3f,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", name, v[0],
		       pct(v, n, 50), pct(v, n, 99), v[n - 1]);
}

/* The last marker's delays into marks[]. */
static void mark_close(struct cw_lgw *w)
{
	struct cw_lgw_mark *m = &w->marks[w->n_marks - 1];
	unsigned n = w->marked;

	qsort(w->delays, n, sizeof(*w->delays), cmp_double);
	*m = (struct cw_lgw_mark){.sessions = n};
	if (n)
		*m = (struct cw_lgw_mark){n, w->delays[0], pct(w->delays, n, 50),
					  pct(w->delays, n, 99), w->delays[n - 1]};
	w->marked = 0;
}

int cw_lgw_arm(struct cw_lgw *w, uint64_t now, char *value, size_t cap)
{
	if (w->n_marks == CW_LGW_MAX_MARKS)
		return -ENOSPC;
	if (w->n_marks)
		mark_close(w);
	w->n_marks++;
	snprintf(w->token, sizeof(w->token), "lg-mark-%ld-%" PRIu64, (long)getpid(), now);
	snprintf(value, cap, "%s", w->token);
	w->marker_t0 = now;
	return 0;
}

/* "sessions":..,"delay_ms":{...} of marker @m. */
static void print_mark(const struct cw_lgw_mark *m)
{
	printf("\"sessions\":%u", m->sessions);
	if (m->sessions)
		printf(",\"delay_ms\":{\"min\":%.3f,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
		       m->min, m->p50, m->p99, m->max);
}

void cw_lgw_summary(struct cw_lgw *w, uint32_t min_events, uint32_t max_events)
{
	char names[128] = "";

	for (unsigned k = 0; k < w->n_res; k++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", k ? "," : "",
			 res_tab[w->res[k]].name);
	printf(",\"watch\":{\"resources\":\"%s\",\"watching\":%u,\"lists\":%" PRIu64
	       ",\"list_errors\":%" PRIu64 ",\"items_listed\":%" PRIu64 ",\"watches\":%" PRIu64
	       ",\"rewatches\":%" PRIu64 ",\"events\":%" PRIu64 ",\"bookmarks\":%" PRIu64
	       ",\"events_per_session\":{\"min\":%" PRIu32 ",\"max\":%" PRIu32 "},\"bad\":%" PRIu64
	       ",\"list_ms\":{",
	       names, w->watching, w->lists, w->list_errors, w->items, w->watches, w->rewatches,
	       w->events, w->bookmarks, min_events, max_events, w->bad);
	for (unsigned k = 0; k < w->n_res; k++)
		printf("%s\"%s\":{\"n\":%" PRIu64 ",\"mean\":%.3f,\"max\":%.3f}", k ? "," : "",
		       res_tab[w->res[k]].name, w->list_n[k],
		       w->list_n[k] ? (double)w->list_ns[k] / (double)w->list_n[k] / 1e6 : 0,
		       (double)w->list_max[k] / 1e6);
	printf("}");
	print_pcts("watching_ms", w->ready, w->watching);
	if (w->n_marks)
		mark_close(w);
	printf(",\"marker\":{\"sent\":%s,", w->n_marks ? "true" : "false");
	print_mark(&w->marks[0]);
	printf("},\"markers\":[");
	for (unsigned k = 0; k < w->n_marks; k++) {
		printf("%s{", k ? "," : "");
		print_mark(&w->marks[k]);
		printf("}");
	}
	printf("]}");
}
