/* SPDX-License-Identifier: Apache-2.0 */
#include "control/reflector.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dataplane/log.h"
#include "hub/lines.h"
#include "hub/liststore.h"

#define PATH_LEN     256
#define BATCH	     64		/* watch events applied in one transaction */
#define WATCH_S	     290	/* the server ends a watch after this; we watch again */
#define LIST_TIMEOUT 60000	/* ms */
#define BACKOFF_MIN  500	/* ms */
#define BACKOFF_MAX  30000	/* ms */
#define LINE_MAX_LEN (3u << 20) /* an event line: an object at kube-apiserver's limit */

enum rf_phase { RF_LIST, RF_WATCH };

struct cw_reflector {
	struct event_base *base;
	struct cw_curlev *cev;
	struct cw_upstream *up;
	struct cw_store *store;
	char path[PATH_LEN];
	char resource[PATH_LEN];
	void (*on_change)(void *ctx, const char *resource, uint64_t rv);
	void *ctx;

	enum rf_phase phase;
	bool need_list; /* the next start lists (first sync, or after 410) */
	bool gone;	/* the watch said 410 Gone */
	CURL *easy;
	struct curl_slist *hdrs;
	struct cw_curlev_job job;
	uint8_t *buf; /* a list's body */
	size_t len, cap;
	struct cw_lines lines; /* a watch's */
	struct event *timer;
	uint32_t backoff_ms;
	struct cw_reflector_stats st;
};

static void start(struct cw_reflector *r);

/* ---- names ---- */

int cw_reflector_name(const char *path, char *out, size_t cap)
{
	char group[PATH_LEN], version[PATH_LEN], res[PATH_LEN];
	int n = 0;

	if (sscanf(path, "/api/v1/%255[a-z0-9-]%n", res, &n) == 1 && !path[n])
		return snprintf(out, cap, "%s", res) < (int)cap ? 0 : -EINVAL;
	n = 0;
	if (sscanf(path, "/apis/%255[a-z0-9.-]/%255[a-z0-9]/%255[a-z0-9-]%n", group, version, res,
		   &n) == 3 &&
	    !path[n])
		return snprintf(out, cap, "%s.%s", res, group) < (int)cap ? 0 : -EINVAL;
	return -EINVAL;
}

/* ---- transfers ---- */

static void transfer_end(struct cw_reflector *r)
{
	if (r->easy) {
		cw_curlev_remove(r->cev, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	r->easy = NULL;
	r->hdrs = NULL;
	r->len = 0;
	cw_lines_reset(&r->lines);
}

static int buf_add(struct cw_reflector *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 65536;
		uint8_t *b;

		while (cap < r->len + n)
			cap *= 2;
		b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

static void backoff(struct cw_reflector *r)
{
	struct timeval tv = {.tv_sec = r->backoff_ms / 1000,
			     .tv_usec = (r->backoff_ms % 1000) * 1000};

	r->st.errors++;
	transfer_end(r);
	evtimer_add(r->timer, &tv);
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff_ms * 2;
}

static void changed(struct cw_reflector *r)
{
	if (cw_store_rv(r->store, r->resource, &r->st.rv) == 0 && r->on_change)
		r->on_change(r->ctx, r->resource, r->st.rv);
}

/* ---- the list ---- */

static size_t on_list_body(char *p, size_t size, size_t n, void *arg)
{
	struct cw_reflector *r = arg;

	return buf_add(r, p, size * n) ? 0 : size * n;
}

/* The list into the store as one replace. */
static int list_apply(struct cw_reflector *r)
{
	int rc = cw_list_store(r->store, r->resource, r->buf, r->len, NULL);

	return rc == -ESTALE ? 0 : rc; /* the store is newer: watch from it */
}

static void list_done(void *ctx, CURLcode rc)
{
	struct cw_reflector *r = ctx;
	long status = 0;
	int e;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200) {
		cw_warn("hub: list %s: %s (HTTP %ld)", r->path, curl_easy_strerror(rc), status);
		backoff(r);
		return;
	}
	e = list_apply(r);
	if (e) {
		cw_warn("hub: list %s: %s", r->path, strerror(-e));
		backoff(r);
		return;
	}
	r->st.lists++;
	r->need_list = false;
	r->backoff_ms = BACKOFF_MIN;
	transfer_end(r);
	changed(r);
	start(r);
}

/* ---- the watch ---- */

/* Events of one callback's lines go to the store together. */
struct batch {
	struct cw_reflector *r;
	struct cw_watch_event ev[BATCH];
	struct cw_store_event se[BATCH];
	size_t n;
};

static int batch_flush(struct cw_reflector *r, struct batch *b)
{
	int rc = b->n ? cw_store_apply_batch(r->store, r->resource, b->se, b->n) : 0;

	r->st.events += rc ? 0 : b->n;
	while (b->n)
		cw_watch_event_release(&b->ev[--b->n]);
	return rc;
}

/* One line; returns 0, 1 when the watch must stop (410), or an error. */
static int watch_line(const uint8_t *line, size_t len, void *arg)
{
	struct batch *b = arg;
	struct cw_reflector *r = b->r;
	struct cw_watch_event *ev = &b->ev[b->n];
	int rc = cw_watch_event_parse(ev, line, len);

	if (rc)
		return rc;
	switch (ev->type) {
	case CW_EV_ADDED:
	case CW_EV_MODIFIED:
	case CW_EV_DELETED:
		b->se[b->n] = (struct cw_store_event){ev->type, &ev->obj};
		return ++b->n == BATCH ? batch_flush(r, b) : 0;
	case CW_EV_BOOKMARK:
		rc = batch_flush(r, b);
		if (!rc)
			rc = cw_store_bookmark(r->store, r->resource, ev->obj.rv);
		r->st.bookmarks++;
		break;
	default:
		rc = ev->code == 410 ? 1 : -EPROTO;
		break;
	}
	cw_watch_event_release(ev);
	return rc;
}

static size_t on_watch_body(char *p, size_t size, size_t n, void *arg)
{
	struct cw_reflector *r = arg;
	struct batch b = {.r = r, .n = 0};
	uint64_t seen = r->st.events + r->st.bookmarks;
	int rc = cw_lines_feed(&r->lines, p, size * n, watch_line, &b);

	/* Before the next feed: the events point into its buffer. */
	if (!rc)
		rc = batch_flush(r, &b);
	else
		(void)batch_flush(r, &b);
	if (r->st.events + r->st.bookmarks != seen) /* not for a chunk without a whole line */
		changed(r);
	if (rc == 1)
		r->gone = true;
	else if (rc)
		cw_warn("hub: watch %s: %s", r->path, strerror(-rc));
	return rc ? 0 : size * n; /* 0 ends the transfer */
}

static void watch_done(void *ctx, CURLcode rc)
{
	struct cw_reflector *r = ctx;
	long status = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->gone || status == 410) {
		cw_info("hub: %s: 410 Gone, listing again", r->path);
		r->gone = false;
		r->need_list = true;
		r->st.relists++;
		transfer_end(r);
		start(r);
		return;
	}
	if (rc != CURLE_OK || status != 200) {
		cw_warn("hub: watch %s: %s (HTTP %ld)", r->path, curl_easy_strerror(rc), status);
		backoff(r);
		return;
	}
	r->backoff_ms = BACKOFF_MIN;
	transfer_end(r);
	start(r); /* the server's timeout: watch again from where we are */
}

/* ---- starting ---- */

static int transfer(struct cw_reflector *r, const char *query, bool watch)
{
	char url[2 * PATH_LEN + 1024];

	snprintf(url, sizeof(url), "%s%s%s", cw_upstream_server(r->up), r->path, query);
	r->easy = cw_upstream_easy(r->up, url);
	r->hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!r->easy || !r->hdrs || !(r->hdrs = cw_upstream_auth(r->up, r->hdrs)))
		return -ENOMEM;
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, watch ? on_watch_body : on_list_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
			 watch ? (long)(WATCH_S + 30) * 1000 : (long)LIST_TIMEOUT);
	r->job = (struct cw_curlev_job){watch ? watch_done : list_done, r};
	r->phase = watch ? RF_WATCH : RF_LIST;
	return cw_curlev_add(r->cev, r->easy, &r->job);
}

static void start(struct cw_reflector *r)
{
	struct cw_store_stat st;
	char q[128];
	int rc = cw_store_stat(r->store, r->resource, &st);

	if (!rc && (r->need_list || !st.list_rv)) {
		rc = transfer(r, "", false);
	} else if (!rc) {
		snprintf(q, sizeof(q),
			 "?watch=1&resourceVersion=%" PRIu64 "&allowWatchBookmarks=true"
			 "&timeoutSeconds=%u",
			 st.highest_rv, WATCH_S);
		r->st.watches++;
		rc = transfer(r, q, true);
	}
	if (rc) {
		cw_warn("hub: %s: %s", r->path, strerror(-rc));
		backoff(r);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start(arg);
}

int cw_reflector_new(struct event_base *base, struct cw_curlev *cev, struct cw_upstream *up,
		     struct cw_store *store, const char *path,
		     void (*on_change)(void *ctx, const char *resource, uint64_t rv), void *ctx,
		     struct cw_reflector **out)
{
	char res[PATH_LEN];
	struct cw_reflector *r;

	if (strlen(path) >= PATH_LEN || cw_reflector_name(path, res, sizeof(res)) < 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct cw_reflector){.base = base,
				   .cev = cev,
				   .up = up,
				   .store = store,
				   .on_change = on_change,
				   .ctx = ctx,
				   .lines = {.max = LINE_MAX_LEN},
				   .backoff_ms = BACKOFF_MIN};
	strcpy(r->path, path);
	strcpy(r->resource, res);
	r->timer = evtimer_new(base, on_timer, r);
	if (!r->timer) {
		free(r);
		return -ENOMEM;
	}
	cw_info("hub: reflecting %s as %s", r->path, r->resource);
	start(r);
	*out = r;
	return 0;
}

void cw_reflector_free(struct cw_reflector *r)
{
	if (!r)
		return;
	transfer_end(r);
	if (r->timer)
		event_free(r->timer);
	free(r->buf);
	cw_lines_release(&r->lines);
	free(r);
}

const char *cw_reflector_resource(const struct cw_reflector *r)
{
	return r->resource;
}

const struct cw_reflector_stats *cw_reflector_stats(const struct cw_reflector *r)
{
	return &r->st;
}
