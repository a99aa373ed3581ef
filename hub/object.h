/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One Kubernetes object, parsed once (jansson) for what the hub needs to
 * key, index and filter it, next to the bytes it came in: the hub serves
 * objects as the same JSON bytes the upstream sent (DESIGN.md §5), so the
 * parse never rewrites them.
 *
 * resourceVersion: Kubernetes calls it an opaque string, but every
 * apiserver on etcd sends etcd's revision, a decimal integer, and the hub
 * needs the order (watch from, idempotent replay, 410 Gone). So the hub
 * accepts only a canonical decimal (digits, no sign, no leading zero,
 * no more than UINT64_MAX) and rejects any other string with -EINVAL.
 *
 * Also here: the envelope of one watch event line,
 * {"type":"ADDED","object":{...}}, which yields the type and where the
 * object's bytes are inside the line, so they are stored and served
 * unchanged.
 */
#ifndef CW_HUB_OBJECT_H
#define CW_HUB_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CW_OBJ_NAME_MAX 253 /* metadata.name, spec.nodeName: a DNS-1123 subdomain */
#define CW_OBJ_NS_MAX	63  /* metadata.namespace: a DNS-1123 label */

enum cw_ev_type {
	CW_EV_ADDED = 1,
	CW_EV_MODIFIED,
	CW_EV_DELETED,
	CW_EV_BOOKMARK,
	CW_EV_ERROR,
};

/*
 * The fields of one object. Strings point into @root and live as long as
 * it does; @bytes/@len are the caller's buffer, not copied or owned.
 */
struct cw_obj {
	const char *bytes; /* the object's JSON exactly as received */
	size_t len;
	json_t *root;			/* owned: cw_obj_release() drops it */
	const char *api_version, *kind; /* NULL when absent (items of a List) */
	const char *ns;			/* metadata.namespace; "" when cluster-scoped */
	const char *name;		/* NULL only in BOOKMARK and ERROR event objects */
	const char *uid;		/* NULL when absent */
	const char *node;		/* spec.nodeName; NULL when absent or "" */
	json_t *labels;			/* metadata.labels (string values); NULL when absent */
	uint64_t rv;			/* metadata.resourceVersion; 0 when absent */
	bool deleting;			/* metadata.deletionTimestamp is set */
};

/*
 * Parse the JSON object in @bytes[0..@len) (nothing else may follow but
 * whitespace) into *@o. Required: metadata.name (1..CW_OBJ_NAME_MAX bytes)
 * and metadata.resourceVersion (canonical decimal, > 0). Optional, but
 * with the right type when present (null counts as absent): apiVersion,
 * kind, metadata.namespace (<= CW_OBJ_NS_MAX bytes), .uid, .labels (an
 * object of strings), .deletionTimestamp, spec.nodeName (<=
 * CW_OBJ_NAME_MAX bytes). Duplicate keys, NUL bytes and NUL characters
 * (\u0000) are rejected. Returns 0 (release *@o with cw_obj_release), -EINVAL for
 * JSON that is malformed or misses a rule above (*@o is then left empty),
 * -ENOMEM.
 */
int cw_obj_parse(struct cw_obj *o, const void *bytes, size_t len);

/* Drop what cw_obj_parse or cw_watch_event_parse holds in *@o; idempotent. */
void cw_obj_release(struct cw_obj *o);

/*
 * The canonical decimal resourceVersion @s[0..@len) into *@rv (0 allowed:
 * Kubernetes' "any version" in queries). Returns 0 or -EINVAL (empty,
 * non-digit, leading zero, overflow).
 */
int cw_rv_parse(const char *s, size_t len, uint64_t *rv);

/* "ADDED", "MODIFIED", ...; "?" for a value outside the enum. */
const char *cw_ev_type_name(enum cw_ev_type t);

struct cw_watch_event {
	enum cw_ev_type type;
	size_t obj_off, obj_len; /* the object is line + obj_off, obj_len bytes */
	struct cw_obj obj;	 /* obj.bytes points into the line; ERROR: only
				    bytes, len and root are set */
	int code;		 /* ERROR: the Status object's code (410...), else 0 */
};

/*
 * Parse one watch event @line[0..@len): a JSON object with exactly the
 * members "type" and "object" in either order, optionally surrounded by
 * whitespace (the trailing newline of the stream is allowed). Member
 * names and the type must be written without escapes (as the apiserver
 * writes them); the line may not hold a NUL byte. The object is parsed as by cw_obj_parse for
 * ADDED, MODIFIED and DELETED; a BOOKMARK object needs only its resourceVersion; an ERROR object (a
 * Status) needs nothing but to be a JSON object, and its "code" is copied to ev->code. Returns 0
 * (release with cw_watch_event_release), -EINVAL for anything else, -ENOMEM.
 */
int cw_watch_event_parse(struct cw_watch_event *ev, const void *line, size_t len);

/* Drop what cw_watch_event_parse holds; idempotent. */
void cw_watch_event_release(struct cw_watch_event *ev);

#endif
