/* SPDX-License-Identifier: Apache-2.0 */
#include "echo.h"

#include <rte_mbuf.h>

/* Zero copy: each payload mbuf goes straight back with the addresses
 * swapped. */
static uint16_t echo_rx(void *ctx, unsigned worker, struct cw_dgram *in, uint16_t n,
			struct cw_dgram *out, uint16_t out_cap)
{
	uint16_t i, k = 0;

	(void)ctx;
	(void)worker;
	for (i = 0; i < n; i++) {
		struct cw_dgram d = in[i];

		if (k == out_cap) {
			rte_pktmbuf_free(d.m);
			continue;
		}
		out[k].m = d.m;
		out[k].src_ip = d.dst_ip;
		out[k].dst_ip = d.src_ip;
		out[k].src_port = d.dst_port;
		out[k].dst_port = d.src_port;
		out[k].port = d.port;
		out[k].udp_csum = d.udp_csum;
		k++;
	}
	return k;
}

void cw_echo_handler(struct cw_handler *h, uint16_t udp_port)
{
	*h = (struct cw_handler){0};
	h->name = "echo";
	h->udp_port = udp_port;
	h->rx = echo_rx;
	h->answers = true;
	h->reflect = true;
}
