/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel-socket backend: the same handlers, fed by one UDP socket per
 * handler per worker (SO_REUSEPORT spreads flows over workers) with
 * recvmmsg/sendmmsg instead of DPDK ports. For development, for hosts
 * without hugepages or a spare NIC, and as the baseline of every DPDK
 * figure. Packets land directly in mbuf data rooms, so handlers cannot tell
 * the backends apart. Where the kernel has UDP GRO, a run of equal-sized
 * datagrams from one sender (a UDP GSO message) comes in as one message
 * and is cut back into its datagrams, each in an mbuf of its own with the
 * run's addresses.
 */
#ifndef CW_SOCKIO_H
#define CW_SOCKIO_H

#include "dp.h"

struct cw_sock_worker;

/* Open and bind worker @idx's sockets. Returns NULL (and logs) on failure. */
struct cw_sock_worker *cw_sock_worker_create(struct cw_dp *dp, unsigned idx, unsigned lcore);
void cw_sock_worker_free(struct cw_sock_worker *w);

/*
 * Ask the worker's sockets for UDP GRO (@on) or not: cw_sock_worker_create()
 * asks, and carries on without where refused. The datagrams the handlers
 * get are the same either way. Returns 0, or -errno from the first socket
 * that refused (-ENOPROTOOPT: a kernel before Linux 5.0).
 */
int cw_sock_worker_set_gro(struct cw_sock_worker *w, bool on);

/* lcore entry point: loop until cw_quit. */
int cw_sock_worker_main(void *arg);

#endif
