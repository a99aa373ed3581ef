/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UDP echo service: returns every datagram to its sender unchanged. Used by
 * the integration tests and the benchmarks ([dataplane] echo_port).
 */
#ifndef CW_ECHO_H
#define CW_ECHO_H

#include "handler.h"

/* Fill @h with the echo handler on @udp_port (host order). */
void cw_echo_handler(struct cw_handler *h, uint16_t udp_port);

#endif
