/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent reports about its node in Hello (capacity) and Heartbeat
 * (status), measured with sysconf(), statvfs(), getloadavg() and
 * sysinfo(). A value that cannot be measured is 0 ("unknown" on the wire).
 */
#ifndef CW_AGENT_NODE_H
#define CW_AGENT_NODE_H

#include "session.h"

/* CPUs, memory, and the space of the file system holding @cache_dir. */
void cw_node_capacity(const char *cache_dir, struct cw_as_capacity *out);

/* Load and uptime. The agent does not probe kubelet yet: kubelet_healthy
 * is false and the offline queue (the edge hub's) is empty. */
void cw_node_status(struct cw_as_status *out);

#endif
