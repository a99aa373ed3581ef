/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The edge hub's object store (DESIGN.md §5): per view (edgeview.h) the
 * objects the node's clients listed and watched, with a real
 * resourceVersion and a history of changes, so that while the gateway
 * cannot be reached a list is the view's latest state and a watch replays
 * the changes its client has not seen.
 *
 * It is hub/store.h (the cloud hub's store) in its own LMDB environment
 * (the directory given, [agent] cache_dir/objects); each view is one of
 * its resources, named by edgeview.h. While connected it learns:
 *   - a whole List answer of a view (one page) replaces the view's
 *     objects at the List's resourceVersion, the differences recorded as
 *     events (cw_list_store): a watch from an older version sees them;
 *   - the events of a watch of a listed view, from a version the store
 *     has reached, are applied in order (BOOKMARK raises the view's
 *     version): the view follows the watch, whose client needs no new
 *     list for the store to stay current.
 * The head of each view (the List's kind and apiVersion, and the view's
 * key, checked so that two views whose names collide are never mixed) is
 * kept in the edge cache (edgecache.h) under "view:NAME".
 *
 * An event is applied at the larger of the WatchEvent's version and the
 * object's, so that a DELETED sent with the object's last state (a cloud
 * hub's re-list difference) is not taken for one already applied. Known
 * gap: a re-list difference is several events at one version, and the
 * store applies only the first of them (hub/store.h keeps one highest
 * version per resource); the view is whole again at its next list.
 *
 * Opening reads nothing but LMDB's meta pages: ready at once, however
 * many objects are kept. Not thread-safe: the agent's event loop owns it.
 */
#ifndef CW_AGENT_EDGESTORE_H
#define CW_AGENT_EDGESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "edgecache.h"
#include "edgeview.h"
#include "hub/list.h"
#include "hub/object.h"

#define CW_EDGESTORE_HISTORY 1000 /* events kept per view */
#define CW_EDGESTORE_BATCH   64	  /* events per transaction, at most */

struct cw_edgestore;

/* What the store knows of a view. */
struct cw_edgestore_head {
	char kind[CW_LIST_KIND_MAX]; /* the List's kind: "PodList" */
	char api[CW_LIST_API_MAX];   /* its apiVersion: "v1" */
	uint64_t rv;		     /* the view's resourceVersion (highest seen) */
};

struct cw_edgestore_stats {
	uint64_t lists;	 /* List answers learnt */
	uint64_t events; /* watch events learnt */
};

/*
 * Open (creating it) the store in directory @dir, at most @map_size bytes,
 * the views' heads in @heads (the caller's, it must outlive the store).
 * Returns 0 and *@out, or cw_store_open()'s error.
 */
int cw_edgestore_open(const char *dir, size_t map_size, struct cw_edgecache *heads,
		      struct cw_edgestore **out);

/* Close @es (NULL: no-op). */
void cw_edgestore_close(struct cw_edgestore *es);

/*
 * Learn @body[0..@len), a 200 answer to the list of view @v (not a later
 * page: @v->cont false). Returns 0; -EINVAL (not a whole List: a paged
 * one, or JSON the store cannot take), -ESTALE (older than what the store
 * has of the view: nothing changes), -EEXIST (another view has its name),
 * -ENOMEM, -ENOSPC, -EIO.
 */
int cw_edgestore_learn_list(struct cw_edgestore *es, const struct cw_edgeview *v, const void *body,
			    size_t len);

/*
 * Whether a watch of view @v from @v->rv continues what the store has:
 * the view was listed and @v->rv (non-zero) is not above its version, so
 * each event the watch brings is one the store can take in order.
 */
bool cw_edgestore_follows(struct cw_edgestore *es, const struct cw_edgeview *v);

/* One event of a watch, as it passed. */
struct cw_edgestore_event {
	enum cw_ev_type type;
	uint64_t rv; /* the WatchEvent's resourceVersion; 0: none given */
	const void *obj;
	size_t len;
};

/*
 * Learn @evs[0..@n), events in the order a watch for which
 * cw_edgestore_follows() was true brought them: one transaction (one
 * sync, as the agent's event loop waits for it) per CW_EDGESTORE_BATCH
 * events between bookmarks. Events older than the view change nothing.
 * Returns 0; -EINVAL at an ERROR event or an object that does not parse
 * (the events before it are learnt); -ENOSPC, -EIO, -ENOMEM (the events
 * of the transaction that failed are not). After an error, stop learning
 * from that watch: the store would miss an event.
 */
int cw_edgestore_learn_events(struct cw_edgestore *es, const struct cw_edgeview *v,
			      const struct cw_edgestore_event *evs, size_t n);

/*
 * The head of view @v into *@h. Returns 0, -ENOENT (never listed, or the
 * name is another view's), -EIO.
 */
int cw_edgestore_head(struct cw_edgestore *es, const struct cw_edgeview *v,
		      struct cw_edgestore_head *h);

/*
 * View @v as a List into @out: {"kind":...,"apiVersion":...,"metadata":
 * {"resourceVersion":"RV"},"items":[...]}, the items the bytes the
 * upstream sent, RV the view's version. Returns 0, -ENOENT (view unknown),
 * -ENOMEM, -EIO, -EBADMSG.
 */
int cw_edgestore_list(struct cw_edgestore *es, const struct cw_edgeview *v, struct evbuffer *out);

/*
 * The events of view @v after version @from (0: its objects, each as
 * ADDED) into @out as watch lines ({"type":"ADDED","object":...} and a
 * newline each); *@rv the version they reach. Returns 0, -ENOENT (view
 * unknown), -ESTALE (@from older than the history kept: 410 Gone),
 * -ENOMEM, -EIO, -EBADMSG.
 */
int cw_edgestore_replay(struct cw_edgestore *es, const struct cw_edgeview *v, uint64_t from,
			struct evbuffer *out, uint64_t *rv);

const struct cw_edgestore_stats *cw_edgestore_stats(const struct cw_edgestore *es);

#endif /* CW_AGENT_EDGESTORE_H */
