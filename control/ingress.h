/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cloud ingress (DESIGN.md §6): a TCP listener on the control thread
 * that takes `CONNECT node:port` and absolute-form `METHOD
 * http://node:port/path` requests (control/http_head.h) and relays each
 * through a dial stream to the node's agent (control/chan.h).
 *
 * Answers of its own, each one line of text and the connection closed:
 * 400 (or 414, 431, 501, 505) for a malformed head, 403 when the agent's
 * allow-list refuses the port (from its Hello, or its DialResult), 502 when
 * the node is unknown or not connected, the dial fails, times out, or the
 * session ends before the answer, 503 when the gateway is out of
 * resources. Nothing waits without a deadline.
 *
 * Forward proxy: the request goes to the node in origin form with
 * hop-by-hop fields removed and `Connection: close`, so one connection
 * carries one request; the response bytes come back unchanged.
 */
#ifndef CW_INGRESS_H
#define CW_INGRESS_H

struct cw_plane;
struct cw_chan;
struct cw_ingress;

/* Listen on the configured address. 0, or a negative errno (logged). */
int cw_ingress_new(struct cw_plane *p, struct cw_ingress **out);

/* Close the listener and every client (NULL: no-op). */
void cw_ingress_free(struct cw_ingress *in);

/* The worker changed @c (result, bytes, FIN, reset, gone). */
void cw_ingress_chan_event(struct cw_ingress *in, struct cw_chan *c);

#endif /* CW_INGRESS_H */
