/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub's object store (DESIGN.md §5) on one LMDB environment: the
 * objects of every resource, an index of objects by spec.nodeName, per
 * resource the highest resourceVersion seen and the list RV of the last
 * full sync, and a bounded history of events from which watches resume.
 *
 * Crash consistency: every write function is one LMDB transaction,
 * committed with a sync; a kill -9 or a power cut leaves the state of the
 * last commit, objects, index, history and RVs together.
 *
 * Resources are named as in the API path ("pods", "nodes",
 * "endpointslices.discovery.k8s.io"); cluster-scoped objects have the
 * namespace "". Keys are resource\0namespace\0name (index:
 * resource\0node\0namespace\0name) and must fit LMDB's key limit (511
 * bytes): a longer one gives -ENAMETOOLONG.
 *
 * resourceVersions are etcd revisions (see object.h). Events of one
 * resource arrive in increasing RV order (one watch per resource), so an
 * event whose RV is below the resource's highest RV has been applied
 * already, and applying it again changes nothing: replays after a crash
 * are harmless. Several events may share one RV: a re-list's differences
 * (cw_store_replace) are all at the list's; an event at the highest RV is
 * taken as another of them unless the store holds its object at that
 * version already (or, for DELETED, does not hold it).
 *
 * History and 410 Gone: each resource keeps its last `history` events.
 * Its history is complete for RVs above `complete_after` (the RV of the
 * newest event trimmed, or where the store's knowledge of the resource
 * starts); a watch or a list continuation from an older RV gives -ESTALE,
 * which the serving layer answers with 410 Gone ("too old resource
 * version" / "continue expired"), and the client re-lists.
 *
 * Threads: LMDB readers never block the writer nor each other. Read
 * functions (get, list, watch_from, stat) may run on any thread at the
 * same time, each in its own read transaction (the environment is opened
 * with MDB_NOTLS); at most 126 at once. Write functions (apply, bookmark,
 * replace) are serialised by LMDB; the design has one writer thread.
 * Callbacks run inside the transaction: they must not call the store's
 * write functions, and the bytes they get are valid only during the call;
 * keep them short, as pages a reader still sees cannot be reused and the
 * file grows meanwhile.
 * Open a path once per process (an LMDB rule) and not across fork().
 */
#ifndef CW_HUB_STORE_H
#define CW_HUB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub/object.h"

/* A continue token's size, with its NUL. */
#define CW_STORE_CONTINUE_MAX 1100

/* An object's flags as stored. */
#define CW_STORE_F_DELETING 1u /* metadata.deletionTimestamp is set */

struct cw_store;

/* One stored object as a read function hands it over. */
struct cw_store_item {
	const void *bytes; /* the JSON as the upstream sent it */
	size_t len;
	uint64_t rv;
	uint32_t flags; /* CW_STORE_F_* */
	/* A history event that replaced a stored object (MODIFIED, or an
	 * ADDED over one): that object's bytes as they were, so a watch with
	 * a selector sees an object leave it (apiserver's prevObject); NULL
	 * otherwise, and in events recorded before the store kept it. */
	const void *prev;
	size_t prev_len;
};

/*
 * Open (creating it and the directory @path if missing) the store in
 * directory @path, mapping at most @map_size bytes (the database's size
 * limit; a multiple of the page size), keeping @history events per
 * resource (>= 1). Returns 0 and *@out, -EINVAL for a bad argument,
 * -ENOMEM, -EAGAIN (LMDB's reader table is full), -EIO (not an LMDB
 * environment of this version), or the negative errno of a file error
 * (-EACCES, -ENOENT, -ENOSPC...).
 */
int cw_store_open(const char *path, size_t map_size, uint32_t history, struct cw_store **out);

/* Close @s (NULL allowed). No transaction may still run. */
void cw_store_close(struct cw_store *s);

/*
 * Apply one watch event (ADDED, MODIFIED or DELETED) for object @o of
 * @resource in one transaction: the object is put (ADDED, MODIFIED: both
 * are upserts) or deleted (DELETED; one that is not stored is fine), its
 * node index entry follows, the event is appended to the history (a
 * DELETED one keeps @o, the object's last state), the oldest event is
 * trimmed beyond the limit and the resource's highest RV becomes @o->rv.
 * An event with @o->rv below the resource's highest RV, or at it and
 * already held (see above), changes nothing and returns 0. Returns 0, -EINVAL (bad type, empty
 * resource), -ENAMETOOLONG (key), -ENOSPC (the map is full; nothing changed), -EIO.
 */
int cw_store_apply(struct cw_store *s, const char *resource, enum cw_ev_type type,
		   const struct cw_obj *o);

/* One watch event for cw_store_apply_batch. */
struct cw_store_event {
	enum cw_ev_type type;
	const struct cw_obj *obj;
};

/*
 * Apply @evs[0..@n), events of @resource in RV order, as cw_store_apply
 * would one after the other, but in one transaction: one sync for all
 * (a commit costs milliseconds on a real disk; perf/hub_list_bench.c),
 * and all or none of them. Events cw_store_apply would skip are
 * skipped. Returns as cw_store_apply; on an error nothing of
 * the batch is applied.
 */
int cw_store_apply_batch(struct cw_store *s, const char *resource, const struct cw_store_event *evs,
			 size_t n);

/*
 * A BOOKMARK at @rv: every event of @resource up to @rv has been seen.
 * Raises the highest RV to @rv (never lowers it). Returns 0, -EINVAL
 * (@rv 0, empty resource), -ENOSPC, -EIO.
 */
int cw_store_bookmark(struct cw_store *s, const char *resource, uint64_t rv);

/* A change found by cw_store_replace, or an event of cw_store_watch_from. */
typedef int (*cw_store_event_fn)(enum cw_ev_type type, uint64_t rv, const struct cw_store_item *it,
				 void *ctx);

/*
 * A full list of @resource at @list_rv (the first sync, or a re-list
 * after 410 Gone): in one transaction the resource's objects become
 * exactly @objs[0..@n), and each difference with the stored set is an
 * event at @list_rv, recorded in the history (so watchers from an
 * earlier RV lose no change) and passed to @diff (may be NULL): ADDED for
 * a new object, MODIFIED for one whose RV changed, DELETED (with the
 * stored object) for one not in the list. The first sync of a resource
 * the store does not know records no history (nothing to resume from):
 * its history starts at @list_rv. @diff runs before the commit; a non-zero
 * return from it cancels the replace (nothing changes) and is returned.
 * Highest and list RV become @list_rv. Returns 0, -EINVAL (bad argument,
 * two objects with the same namespace and name), -ESTALE (@list_rv below
 * the resource's highest RV: an older state than the store's),
 * -ENAMETOOLONG, -ENOMEM, -ENOSPC, -EIO.
 */
int cw_store_replace(struct cw_store *s, const char *resource, const struct cw_obj *objs, size_t n,
		     uint64_t list_rv, cw_store_event_fn diff, void *ctx);

/*
 * Filter for cw_store_list: 1 to take the object, 0 to skip it, a
 * negative errno to stop the list with that error. The label and field
 * selectors plug in here. Each candidate is parsed for it (jansson, tens
 * of microseconds for a pod: perf/hub_list_bench.c), so narrow the list
 * by namespace and node first.
 */
typedef int (*cw_store_filter_fn)(const struct cw_obj *o, void *ctx);

/* What a list asks for (Kubernetes list parameters). */
enum cw_rv_match {
	CW_RV_ANY = 0,	     /* resourceVersion "" or "0": the current state */
	CW_RV_NOT_OLDER = 1, /* resourceVersionMatch=NotOlderThan (or rv alone) */
	CW_RV_EXACT = 2,     /* resourceVersionMatch=Exact */
};

struct cw_store_list_req {
	const char *resource;
	const char *ns;		   /* NULL: every namespace */
	const char *node;	   /* NULL: any; else through the node index */
	const char *name;	   /* NULL: any; else only objects so named (from the key) */
	cw_store_filter_fn filter; /* NULL: every object */
	void *filter_ctx;
	size_t limit;	  /* objects per page; 0: no limit */
	const char *cont; /* continue token from the previous page, NULL or "" */
	uint64_t rv;	  /* with rv_match, ignored for CW_RV_ANY */
	enum cw_rv_match rv_match;
};

/*
 * List @req->resource in one read transaction (a consistent snapshot),
 * in key order (namespace, name), calling @cb for each object that passes
 * the namespace, node, name and filter (a non-zero return stops the list and is
 * returned). *@list_rv is the resource's highest RV at the snapshot (0:
 * never synced). When @req->limit objects were passed and more keys
 * remain, @cont_out (CW_STORE_CONTINUE_MAX bytes) receives a token for
 * the next page, else "". A continued page reads the state current at
 * that call after the previous page's last key, and reports the first
 * page's RV as *@list_rv: changes in between are in the history after
 * that RV, so a watch from it replays them; once they are trimmed from
 * the history the token is expired (-ESTALE, 410 "continue expired").
 * resourceVersion rules: NOT_OLDER with @rv above the highest RV gives
 * -EAGAIN (Kubernetes "Too large resource version": retry later); EXACT
 * gives -EAGAIN above, -ESTALE below the highest RV (the store keeps no
 * older states: 410). A continue token comes with no resourceVersion
 * (Kubernetes rejects both). Returns 0, -EINVAL (bad request or token: a
 * token from another namespace or node filter is bad), -ESTALE, -EAGAIN,
 * -ENAMETOOLONG (namespace or node too long for a key), -ENOMEM, -EIO,
 * -EBADMSG (a stored record is corrupt), or @cb's or the filter's error.
 */
int cw_store_list(struct cw_store *s, const struct cw_store_list_req *req,
		  int (*cb)(const struct cw_store_item *it, void *ctx), void *ctx,
		  uint64_t *list_rv, char *cont_out);

/*
 * The object @ns/@name of @resource (@ns "" when cluster-scoped) passed to
 * @cb, whose return is returned. Returns -ENOENT when absent, -EINVAL,
 * -ENAMETOOLONG, -EBADMSG, -EIO.
 */
int cw_store_get(struct cw_store *s, const char *resource, const char *ns, const char *name,
		 int (*cb)(const struct cw_store_item *it, void *ctx), void *ctx);

/*
 * The events of @resource after @from_rv, oldest first, to @cb (type, the
 * event's RV, the object) in one read transaction; a non-zero return from
 * @cb stops and is returned. *@rv_out (may be NULL) is the highest RV at
 * that snapshot: the caller continues from it (and may send a BOOKMARK
 * with it). @from_rv 0 is Kubernetes' resourceVersion "0" or unset: start
 * from the current state, passed as an ADDED event per object with the
 * object's own RV. A @from_rv above the highest RV passes nothing.
 * Returns 0, -ESTALE when @from_rv is older than the history keeps
 * (before complete_after: 410 Gone), -EINVAL, -EBADMSG, -EIO.
 */
int cw_store_watch_from(struct cw_store *s, const char *resource, uint64_t from_rv,
			cw_store_event_fn cb, void *ctx, uint64_t *rv_out);

/* What the store knows of one resource. */
struct cw_store_stat {
	uint64_t highest_rv;	 /* highest RV seen (events, bookmarks, lists) */
	uint64_t list_rv;	 /* RV of the last cw_store_replace, 0 if none */
	uint64_t complete_after; /* the history holds every event above this RV */
	uint64_t oldest_rv;	 /* RV of the oldest event kept, 0 if none */
	uint64_t events;	 /* events in the history */
	uint64_t objects;	 /* objects stored */
};

/*
 * Fill *@st for @resource (all zero for one never seen). Returns 0,
 * -EINVAL, -EBADMSG, -EIO.
 */
int cw_store_stat(struct cw_store *s, const char *resource, struct cw_store_stat *st);

/* The highest RV of @resource into *@rv (0: never seen). Returns as cw_store_stat. */
int cw_store_rv(struct cw_store *s, const char *resource, uint64_t *rv);

#endif
