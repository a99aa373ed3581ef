/* SPDX-License-Identifier: Apache-2.0 */
/* DPDK port bring-up from the [port NAME] sections. */
#ifndef CW_PORT_H
#define CW_PORT_H

#include "dp.h"

/*
 * Find the ethdev of every configured port, configure one RX/TX queue pair
 * per worker, start it with promiscuous mode off, log its link, and create
 * its neighbour table. Returns 0 or a negative errno (logged).
 */
int cw_ports_start(struct cw_dp *dp);

/* Stop and close every started port and free its neighbour table. */
void cw_ports_stop(struct cw_dp *dp);

/* The ethdev name EAL gives @device (a vdev string or a PCI address). */
void cw_port_dev_name(const char *device, char *name, size_t len);

/* True when @device looks like a PCI address ([DDDD:]BB:DD.F). */
bool cw_port_is_pci(const char *device);

#endif
