/* SPDX-License-Identifier: Apache-2.0 */
#include "hub/liststore.h"

#include <errno.h>
#include <stdlib.h>

#include "hub/object.h"

int cw_list_store(struct cw_store *s, const char *resource, const void *buf, size_t len,
		  struct cw_list *head)
{
	struct cw_list l;
	struct cw_obj *objs;
	size_t i;
	int rc = cw_list_parse(buf, len, &l);

	if (rc)
		return rc;
	objs = calloc(l.n ? l.n : 1, sizeof(*objs));
	rc = !objs ? -ENOMEM : l.cont[0] ? -EINVAL : 0;
	for (i = 0; !rc && i < l.n; i++)
		rc = cw_obj_parse(&objs[i], (const char *)buf + l.items[i].off, l.items[i].len);
	if (!rc)
		rc = cw_store_replace(s, resource, objs, l.n, l.rv, NULL, NULL);
	while (objs && i--)
		cw_obj_release(&objs[i]);
	free(objs);
	cw_list_release(&l);
	if (head)
		*head = l;
	return rc;
}
