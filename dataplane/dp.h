/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dataplane as a whole: configuration, ports, handlers and workers.
 * Built by the main lcore before any worker starts and read-only afterwards,
 * except for each worker's own counters and the neighbour tables (which
 * have their own concurrency rules, see neigh.h).
 */
#ifndef CW_DP_H
#define CW_DP_H

#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"
#include "counters.h"
#include "handler.h"

struct rte_mempool;
struct cw_neigh;

struct cw_port {
	const struct cw_port_conf *conf;
	uint16_t port_id; /* DPDK ethdev id */
	uint8_t mac[6];
	uint32_t addr;	  /* network order */
	uint32_t netmask; /* network order */
	int vlan_tci;	  /* -1: untagged */
	struct cw_neigh *neigh;
	bool tx_multi_seg; /* else chained frames are linearised before TX */
	bool rx_csum;	   /* the NIC verifies IPv4 and UDP checksums (ol_flags) */
	bool started;
};

struct cw_dp {
	const struct cw_config *conf;
	struct cw_port ports[CW_MAX_PORTS];
	unsigned n_ports;
	struct cw_handlers handlers;
	unsigned n_workers;
	unsigned lcores[CW_MAX_WORKERS]; /* lcore of each worker */
	void *workers[CW_MAX_WORKERS];	 /* struct cw_worker or cw_sock_worker */
	bool rcu_workers;		 /* workers are QSBR readers (the tunnel runs) */
	struct cw_counters *counters;	 /* n_workers blocks, one per worker */
	struct rte_mempool *pool;	 /* packet buffers */
	struct rte_mempool *indirect;	 /* fragment headers pointing into payloads */
	uint64_t tsc_hz;
};

/* Set by the signal handler; workers poll it once per loop iteration. */
extern volatile bool cw_quit;

#endif
