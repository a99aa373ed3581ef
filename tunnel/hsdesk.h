/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake desk: gateway handshakes run away from the workers
 * (DESIGN.md §3), sans-I/O. A worker's gateway (gateway.h, cfg.offload)
 * screens an INITIAL, checks its retry token, reserves the session's slot
 * and CID, and hands the INITIAL over as a job (cw_gw_hs_job); the desk
 * runs the TLS handshake (the public-key work: signature, verification,
 * key exchange) and gives the connection back once it has left the
 * handshake, established or failed, for the owner's cw_gw_adopt().
 *
 * One desk per handshake thread; not thread-safe. Datagrams in
 * (cw_hsd_start(), cw_hsd_input()), datagrams out (cw_hsd_output(), to be
 * sent by the owning worker from the session's address), @now in
 * nanoseconds on the workers' clock, timers (cw_hsd_next_timeout(),
 * cw_hsd_on_timeout()), and finished handshakes (cw_hsd_take()). Every job
 * started ends in exactly one record from cw_hsd_take(); one that could
 * not start is the caller's to report to its owner (cw_gw_adopt() with no
 * connection), so that the owner always frees the slot it reserved.
 *
 * Memory: the desk (about 100 bytes per job of cfg.max_jobs, and two
 * bucket pointers per job) from cfg.alloc, and each job's connection
 * through an allocator of the job's own wrapping cfg.alloc, so that what a
 * connection holds when it is handed over is known (cw_hsd_done.bytes).
 * Pending jobs are found by a scan for the next timer: cheap next to the
 * public-key operations of each.
 */
#ifndef CW_HSDESK_H
#define CW_HSDESK_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "conn.h"
#include "gateway.h"
#include "tls.h"

struct cw_hsd_cfg {
	const struct cw_alloc *alloc; /* NULL: cw_alloc_default(); malloc-based, since
				       * the connections it allocates are freed by
				       * their owners' allocators */
	const struct cw_tls_server_ctx *tls;
	const struct cw_conn_cfg *conn; /* the workers' connection settings; NULL: defaults */
	uint32_t max_jobs;		/* handshakes at once, 1 .. 65536 */
};

/* A handshake that left the desk. */
struct cw_hsd_done {
	uint64_t session_id;
	/* The connection, out of the handshake: established, closing or
	 * closed. Ownership passes to the caller, who must move it to the
	 * owner's allocator (cw_conn_set_alloc()) before anything else calls
	 * it, then give it to the owner's cw_gw_adopt(). */
	struct cw_conn *conn;
	uint64_t bytes, blocks; /* what conn holds, allocated through the desk */
	uint64_t sent;		/* UDP payload bytes the desk had sent for it */
};

struct cw_hsd;

/* Returns 0 and *@out, or -EINVAL, -ENOMEM. */
int cw_hsd_new(const struct cw_hsd_cfg *cfg, struct cw_hsd **out);

/* Free @h and every connection it still holds (NULL: no-op). */
void cw_hsd_free(struct cw_hsd *h);

/* Unix time in seconds for certificate checks; set at start and about once
 * a second. */
void cw_hsd_set_wall_time(struct cw_hsd *h, int64_t unix_s);

/*
 * Start handshake @job with its INITIAL @dgram (@len bytes, decrypted in
 * place). Returns 0: the job is here and ends in a record from
 * cw_hsd_take(). Otherwise nothing is kept: -EBADMSG (the INITIAL did not
 * authenticate), -EBUSY (cfg.max_jobs are running), -EEXIST (that session
 * is here already), -ENOMEM, -EINVAL.
 */
int cw_hsd_start(struct cw_hsd *h, uint64_t now, const struct cw_gw_hs_job *job, uint8_t *dgram,
		 size_t len);

/*
 * Datagram @dgram (@len bytes, decrypted in place) from @from for session
 * @session_id. Returns 0, or -ENOENT when no handshake of that session is
 * here (it has been handed over, or never was): the caller gives the
 * datagram back to the owner, whose session it now is.
 */
int cw_hsd_input(struct cw_hsd *h, uint64_t now, uint64_t session_id, const struct cw_gw_addr *from,
		 uint8_t *dgram, size_t len);

/*
 * Write the next datagram due into @out (@cap >= CW_CONN_DGRAM_MAX):
 * returns its length and sets *@session_id (its owner sends it) and *@to;
 * 0 when nothing is due; -EINVAL.
 */
int cw_hsd_output(struct cw_hsd *h, uint64_t now, uint8_t *out, size_t cap, uint64_t *session_id,
		  struct cw_gw_addr *to);

/* When cw_hsd_on_timeout() is due next, or UINT64_MAX. */
uint64_t cw_hsd_next_timeout(const struct cw_hsd *h);

/* Run the handshakes' timers due at @now. */
void cw_hsd_on_timeout(struct cw_hsd *h, uint64_t now);

/* The next handshake that left the desk: 0 and *@d, or -EAGAIN. */
int cw_hsd_take(struct cw_hsd *h, struct cw_hsd_done *d);

/* Handshakes in progress here. */
uint32_t cw_hsd_jobs(const struct cw_hsd *h);

#endif /* CW_HSDESK_H */
