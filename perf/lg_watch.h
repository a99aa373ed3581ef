/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-loadgen's watch mode: each emulated agent does what a kubelet
 * (and kube-proxy) does through the hub route, over its session's API
 * streams: for every configured resource a list, then a watch from the
 * list's resourceVersion, held (and taken up again from the last version
 * seen if the gateway ends it). Events are counted per session; one change
 * made upstream (the marker: an object PATCHed with a unique annotation
 * value) is timed to every session that receives it.
 *
 * Resources and what a node asks of them:
 *   pods            /api/v1/pods?fieldSelector=spec.nodeName=NODE
 *   nodes           /api/v1/nodes?fieldSelector=metadata.name=NODE
 *   services        /api/v1/services
 *   endpointslices  /apis/discovery.k8s.io/v1/endpointslices
 *   configmaps      /api/v1/configmaps
 * (the last three unfiltered, as kube-proxy watches them; kubelet's
 * per-name configmap watches are not modelled).
 */
#ifndef CW_PERF_LG_WATCH_H
#define CW_PERF_LG_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/agent/session.h"

#define CW_LGW_MAX_RES 5

#define CW_LGW_MAX_MARKS 16 /* markers per run */

/* One list-then-watch of a session. */
struct cw_lgw_call {
	uint64_t id;  /* its API stream */
	uint64_t rv;  /* the list's resourceVersion, then the last event's */
	uint64_t t0;  /* when the list was opened */
	uint8_t *buf; /* a list's decoded body so far */
	size_t len, cap;
	uint8_t state; /* enum in lg_watch.c */
	bool status_ok;
};

struct cw_lgw_sess {
	struct cw_lgw_call c[CW_LGW_MAX_RES];
	uint32_t marker_seen; /* the last marker it received (1, 2, ...); 0: none */
	uint64_t start_ns;    /* when its lists were opened */
	uint32_t events;
	bool watching; /* every watch has been opened once */
};

/* Shared by all sessions: the configuration and the counters. */
struct cw_lgw {
	unsigned n_res;
	uint8_t res[CW_LGW_MAX_RES]; /* indexes into the table in lg_watch.c */
	char token[64];		     /* the marker's annotation value; "" until made */
	uint64_t marker_t0;	     /* when the change was sent; 0: not yet */
	unsigned n_marks;	     /* markers made so far */
	/* Each marker's delays (ms: min, p50, p99, max) over the sessions
	 * that received it (sessions), once the next marker is made. */
	struct cw_lgw_mark {
		unsigned sessions;
		double min, p50, p99, max;
	} marks[CW_LGW_MAX_MARKS];
	struct cw_compress *cz; /* bodies the gateway compressed (no dictionary) */
	uint8_t *scratch;	/* a decoded event */
	size_t scratch_cap;
	double *delays; /* ms from the last change to each session that received it */
	double *ready;	/* ms from each session's lists to all its watches open */
	uint64_t list_n[CW_LGW_MAX_RES], list_ns[CW_LGW_MAX_RES], list_max[CW_LGW_MAX_RES];
	unsigned watching, marked; /* watching: with every watch opened */
	uint64_t lists, list_errors, items, watches, rewatches, events, bookmarks;
	uint64_t bad; /* malformed bodies, failed opens, resets */
};

/*
 * Set up @w for @sessions sessions and the comma-separated resource names
 * @list (names above, at most CW_LGW_MAX_RES, each once). Returns 0,
 * -EINVAL (an unknown or repeated name, too many) or -ENOMEM.
 */
int cw_lgw_init(struct cw_lgw *w, const char *list, unsigned sessions);
void cw_lgw_free(struct cw_lgw *w);

/*
 * Session @ws (of node @node, its session @as up) starts its lists, one
 * per resource, at once as a kubelet's reflectors do. A list that cannot
 * be opened is counted bad. Returns 0 or the first error of
 * cw_as_api_open().
 */
int cw_lgw_start(struct cw_lgw *w, struct cw_lgw_sess *ws, struct cw_as *as, const char *node,
		 uint64_t now);

/*
 * Read what arrived on API stream @id of session @ws at @now: list parts
 * are collected and, at the list's end, its watch is opened from its
 * resourceVersion; watch events are counted and checked for the marker. A
 * watch the gateway ends is opened again from the last version seen,
 * unless @closing. Returns true when @id is one of @ws's streams.
 */
bool cw_lgw_read(struct cw_lgw *w, struct cw_lgw_sess *ws, struct cw_as *as, const char *node,
		 uint64_t id, uint64_t now, bool closing);

/*
 * The marker for a change sent at @now: the annotation value to PATCH,
 * unique to this run and marker, copied to @value (@cap bytes); events
 * carrying it are timed from @now. The previous marker's delays are
 * summed up (marks[]). Returns -ENOSPC after CW_LGW_MAX_MARKS markers.
 */
int cw_lgw_arm(struct cw_lgw *w, uint64_t now, char *value, size_t cap);

/*
 * The "watch" object of the JSON summary to stdout: counters, the events
 * per session (@min_events..@max_events, counted by the caller), each
 * resource's list time (mean and max ms), the time from a session's lists
 * to all its watches open and the markers' delays (min, p50, p99, max in
 * ms over the sessions concerned): "marker" the first, "markers" all.
 */
void cw_lgw_summary(struct cw_lgw *w, uint32_t min_events, uint32_t max_events);

/* Free what session @ws still holds (list bodies). */
void cw_lgw_sess_free(struct cw_lgw_sess *ws);

#endif
