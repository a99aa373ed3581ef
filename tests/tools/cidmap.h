/* SPDX-License-Identifier: Apache-2.0 */
/*
 * For tools that play many agents on shared sockets or one DPDK port
 * (cw-api-client, causeway-loadgen): which session a datagram from the
 * gateway is for, by its destination CID (the agent's own, tunnel/PROTOCOL.md
 * §4.1). A fixed-size open-addressing table, filled before use.
 */
#ifndef CW_TOOLS_CIDMAP_H
#define CW_TOOLS_CIDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/header.h" /* CW_CID_LEN */

struct cw_cidmap_entry {
	uint8_t cid[CW_CID_LEN];
	uint32_t val; /* the session's index + 1; 0: empty */
};

struct cw_cidmap {
	struct cw_cidmap_entry *e;
	size_t cap;
};

/* Room for @n sessions. Returns 0 or -ENOMEM. */
int cw_cidmap_init(struct cw_cidmap *m, size_t n);
void cw_cidmap_free(struct cw_cidmap *m);

/* Session @idx answers to @cid (random, so it is its own hash). At most the
 * @n of cw_cidmap_init(). */
void cw_cidmap_put(struct cw_cidmap *m, const uint8_t cid[CW_CID_LEN], uint32_t idx);

/* The index of the session @cid belongs to, or -1. */
int64_t cw_cidmap_get(const struct cw_cidmap *m, const uint8_t *cid);

/* The DCID of a datagram the gateway sent (short or long header), or NULL. */
const uint8_t *cw_cidmap_dcid(const uint8_t *d, size_t len);

#endif
