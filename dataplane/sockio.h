/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel-socket backend: the same handlers, fed by one UDP socket per
 * handler per worker (SO_REUSEPORT spreads flows over workers) with
 * recvmmsg/sendmmsg instead of DPDK ports. For development, for hosts
 * without hugepages or a spare NIC, and as the baseline of every DPDK
 * figure. Packets land directly in mbuf data rooms, so handlers cannot tell
 * the backends apart.
 */
#ifndef CW_SOCKIO_H
#define CW_SOCKIO_H

#include "dp.h"

struct cw_sock_worker;

/* Open and bind worker @idx's sockets. Returns NULL (and logs) on failure. */
struct cw_sock_worker *cw_sock_worker_create(struct cw_dp *dp, unsigned idx, unsigned lcore);
void cw_sock_worker_free(struct cw_sock_worker *w);

/* lcore entry point: loop until cw_quit. */
int cw_sock_worker_main(void *arg);

#endif
