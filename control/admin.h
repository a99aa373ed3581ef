/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin API (DESIGN.md §6) on the control thread, plain HTTP on the
 * configured address (default 127.0.0.1:10267):
 *   GET /healthz     200 "ok"
 *   GET /status      JSON: uptime, counters, and every connected node with
 *                    pool, address, RTT, bytes, streams and since when
 *   GET /status.txt  the same nodes as a table (causewayctl status)
 *   GET /metrics     Prometheus text: dataplane, tunnel and ingress counters
 * Session figures live on the workers; a request asks each worker for its
 * part (dataplane/tunnel_svc.h) and is answered when all have replied.
 */
#ifndef CW_ADMIN_H
#define CW_ADMIN_H

struct cw_plane;
struct cw_admin;
struct cw_tstats_req;

/* Listen. 0, or a negative errno (logged). */
int cw_admin_new(struct cw_plane *p, struct cw_admin **out);

/* Stop listening (NULL: no-op). */
void cw_admin_free(struct cw_admin *a);

/* One worker's part of @req arrived. */
void cw_admin_stats_part(struct cw_admin *a, struct cw_tstats_req *req);

#endif /* CW_ADMIN_H */
