/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake threads (DESIGN.md §3): the TLS handshakes of the tunnel run
 * here, each thread with its own handshake desk (tunnel/hsdesk.h), so that
 * a worker lcore never spends milliseconds on signatures and certificate
 * checks while its sessions wait.
 *
 * Workers and threads talk through single-producer, single-consumer
 * rte_rings, one per (worker, thread) pair and direction, carrying mbufs
 * with a struct cw_hsmsg in front of the data (worker -> thread) or after
 * it (thread -> worker: a datagram to send starts where a worker's own
 * would, which af_xdp's zero-copy transmit wants):
 *   worker -> thread  START (an accepted INITIAL and its job), INPUT (a
 *                     datagram of a session whose handshake is there);
 *   thread -> worker  OUTPUT (a datagram for the worker to send), DONE
 *                     (the connection, or none, for cw_gw_adopt()), BACK
 *                     (an INPUT whose handshake had already left: the
 *                     worker's session now).
 * A session's messages always go to the same thread (by its id). The
 * threads are plain pthreads created on the calling (main lcore's) CPUs;
 * they sleep in poll() on an eventfd the workers signal
 * (cw_hsthr_kick()) and wake the socket backend's workers through their
 * wake fds. Buffers come from the dataplane's mbuf pool.
 */
#ifndef CW_HSTHREAD_H
#define CW_HSTHREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"
#include "tunnel/conn.h"
#include "tunnel/gateway.h"
#include "tunnel/tls.h"

struct rte_mbuf;
struct rte_mempool;

enum cw_hsmsg_type { CW_HSM_START = 1, CW_HSM_INPUT, CW_HSM_OUTPUT, CW_HSM_DONE, CW_HSM_BACK };

/* In front of the datagram (START, INPUT, OUTPUT, BACK) or alone (DONE). */
struct cw_hsmsg {
	uint64_t session_id;
	uint64_t seed;		    /* START: the connection's cw_conn_cfg.seed */
	struct cw_conn *conn;	    /* DONE: NULL when the handshake could not start */
	uint64_t bytes, sent;	    /* DONE: what conn holds; bytes sent for it */
	uint32_t peer_ip, local_ip; /* network order */
	uint16_t peer_port, port;   /* network order; dataplane port index */
	uint8_t type, validated;    /* START: the screen's verdict (cw_hs_screen) */
	uint8_t cid[CW_CID_LEN], odcid[CW_CID_LEN], dcid[CW_CID_LEN], agent_cid[CW_CID_LEN];
};

struct cw_hsthr_cfg {
	unsigned n_threads; /* 1 .. CW_MAX_HS_THREADS */
	unsigned n_workers;
	const struct cw_tls_server_ctx *tls;
	const struct cw_conn_cfg *conn;
	struct rte_mempool *pool;
	const int *wake_fds; /* per worker, signalled when its rings get work; NULL: workers poll */
	uint32_t max_jobs;   /* handshakes in progress per thread */
};

struct cw_hsthr;

/* Create the rings and start the threads. Returns 0 and *@out, -EINVAL
 * (also when the pool's buffers cannot hold a message and a datagram),
 * -ENOMEM, or a pthread error as a negative errno. */
int cw_hsthr_start(const struct cw_hsthr_cfg *cfg, struct cw_hsthr **out);

/* Stop and join the threads; free what the rings still hold, connections
 * included. The workers must have stopped (NULL: no-op). */
void cw_hsthr_stop(struct cw_hsthr *h);

/*
 * Worker @w: pass @m (data: a cw_hsmsg, START or INPUT, then the
 * datagram) to the thread of its session. Returns 0, or -ENOBUFS when that
 * ring is full (@m is not taken). Lock-free, no system call.
 */
int cw_hsthr_post(struct cw_hsthr *h, unsigned w, struct rte_mbuf *m);

/* Worker @w: wake the threads it posted to since its last kick (one
 * eventfd write each; call once per burst). */
void cw_hsthr_kick(struct cw_hsthr *h, unsigned w);

/* Worker @w: up to @n messages for it into @ms; returns how many. */
unsigned cw_hsthr_take(struct cw_hsthr *h, unsigned w, struct rte_mbuf **ms, unsigned n);

/* Whether messages for worker @w wait. */
bool cw_hsthr_pending(const struct cw_hsthr *h, unsigned w);

/* The message at the front of @m into *@out, and *@msg there: copies, as
 * a message prepended to a received datagram need not be aligned. */
void cw_hsmsg_read(const struct rte_mbuf *m, struct cw_hsmsg *out);
void cw_hsmsg_write(struct rte_mbuf *m, const struct cw_hsmsg *msg);

/* Thread -> worker: the message at the end of @m, taken off (*@out). */
void cw_hsmsg_take_tail(struct rte_mbuf *m, struct cw_hsmsg *out);

/* The job a START message carries (cw_hsd_start()); its datagram follows. */
void cw_hsmsg_job(const struct cw_hsmsg *msg, struct cw_gw_hs_job *job);

/* The START message of @job that came to @local_ip (network order) on
 * dataplane port @port. */
void cw_hsmsg_start(struct cw_hsmsg *msg, const struct cw_gw_hs_job *job, uint32_t local_ip,
		    uint16_t port);

#endif /* CW_HSTHREAD_H */
