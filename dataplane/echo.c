/* SPDX-License-Identifier: Apache-2.0 */
#include "echo.h"

#include <rte_mbuf.h>

/* Zero copy: the payload mbuf goes straight back with the addresses swapped. */
static uint16_t echo_rx(void *ctx, unsigned worker, struct cw_dgram *in, uint16_t n,
			struct cw_dgram *out, uint16_t out_cap)
{
	uint16_t i, k = 0;

	(void)ctx;
	(void)worker;
	for (i = 0; i < n; i++) {
		if (k == out_cap) {
			rte_pktmbuf_free(in[i].m);
			continue;
		}
		out[k] = in[i];
		out[k].src_ip = in[i].dst_ip;
		out[k].dst_ip = in[i].src_ip;
		out[k].src_port = in[i].dst_port;
		out[k].dst_port = in[i].src_port;
		k++;
	}
	return k;
}

void cw_echo_handler(struct cw_handler *h, uint16_t udp_port)
{
	h->name = "echo";
	h->udp_port = udp_port;
	h->rx = echo_rx;
	h->ctx = NULL;
}
