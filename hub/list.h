/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Kubernetes List response ({"kind":"PodList","metadata":{...},
 * "items":[...]}) split into its items where they stand in the buffer, so
 * that the reflector stores each object as the bytes the upstream sent
 * (DESIGN.md §5) and never re-serialises one.
 *
 * The whole response is parsed once by jansson (it must be valid JSON, an
 * object whose "items" is an array of objects and whose
 * metadata.resourceVersion is a canonical decimal, object.h); the item
 * boundaries then come from a scan of the top level that skips over
 * values without parsing them again.
 */
#ifndef CW_HUB_LIST_H
#define CW_HUB_LIST_H

#include <stddef.h>
#include <stdint.h>

#define CW_LIST_CONTINUE_MAX 1024 /* metadata.continue, with its NUL */
#define CW_LIST_KIND_MAX     64	  /* kind, with its NUL */
#define CW_LIST_API_MAX	     128  /* apiVersion, with its NUL */

/* One item: bytes off .. off + len of the response. */
struct cw_list_item {
	size_t off, len;
};

struct cw_list {
	char kind[CW_LIST_KIND_MAX];	   /* "PodList"...; "" when absent */
	char api_version[CW_LIST_API_MAX]; /* "v1"...; "" when absent */
	uint64_t rv;			   /* metadata.resourceVersion */
	char cont[CW_LIST_CONTINUE_MAX];   /* metadata.continue; "" on the last page */
	struct cw_list_item *items;	   /* malloc'd; cw_list_release() */
	size_t n;
};

/*
 * Split the List in @buf[0..@len) into *@out. Returns 0 (release with
 * cw_list_release()), -EINVAL (not such a List: malformed JSON, no items
 * array, an item that is not an object, a bad resourceVersion, a kind,
 * apiVersion or continue token that is not a string or too long),
 * -ENOMEM.
 */
int cw_list_parse(const void *buf, size_t len, struct cw_list *out);

/* Free what cw_list_parse() allocated; idempotent. */
void cw_list_release(struct cw_list *l);

#endif /* CW_HUB_LIST_H */
