/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A List response made the state of one of the store's resources: the
 * cloud hub's reflector after each list of the upstream, the edge hub's
 * store after each whole list of a view that passes through the tunnel.
 */
#ifndef CW_HUB_LISTSTORE_H
#define CW_HUB_LISTSTORE_H

#include <stddef.h>

#include "hub/list.h"
#include "hub/store.h"

/*
 * The whole List in @buf[0..@len) as the state of @resource in @s: split,
 * each item parsed (object.h), all passed to cw_store_replace() at the
 * List's resourceVersion (the differences become events). *@head (may be
 * NULL) receives the List's kind, apiVersion and RV (no items). Returns 0,
 * -EINVAL (not a List, an item that is not an object the store takes, a
 * List with a continue token: not the whole), -ENOMEM, or
 * cw_store_replace()'s error (-ESTALE: the store is newer).
 */
int cw_list_store(struct cw_store *s, const char *resource, const void *buf, size_t len,
		  struct cw_list *head);

#endif /* CW_HUB_LISTSTORE_H */
