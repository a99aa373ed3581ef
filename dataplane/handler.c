/* SPDX-License-Identifier: Apache-2.0 */
#include "handler.h"

#include <arpa/inet.h>
#include <errno.h>

int cw_handlers_add(struct cw_handlers *hs, const struct cw_handler *h)
{
	for (unsigned i = 0; i < hs->n; i++)
		if (hs->h[i].udp_port == h->udp_port)
			return -EEXIST;
	if (hs->n == CW_MAX_HANDLERS)
		return -ENOSPC;
	hs->h[hs->n] = *h;
	hs->port_n[hs->n] = htons(h->udp_port);
	return (int)hs->n++;
}
