/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Send buffer of one stream direction (PROTOCOL.md §9.3-§9.4): the bytes
 * the application wrote, kept until the peer acknowledges them.
 *
 * Offsets: [0, una) acknowledged and freed; [una, sent) sent at least once,
 * each byte either acknowledged (the `acked` set), waiting for
 * retransmission (the `retx` set) or in flight; [sent, written) never sent.
 * Retransmissions go first and are not subject to flow control (their
 * credit was taken when first sent); new bytes only below the limit the
 * caller passes.
 *
 * Memory: bytes live in CW_SENDBUF_CHUNK-byte chunks from the injected
 * allocator, freed as `una` passes them; written - una never exceeds the
 * capacity given at init. A chunk started while nothing is unacknowledged
 * (an idle stream's next message: a watch event, an answer) holds only
 * the bytes from there on, in CW_SENDBUF_CHUNK_MIN and steps of 4x, and
 * grows (copied) as more is written; it is made full-sized once sent bytes
 * await their acknowledgment or it would reach the chunk's end: a gateway
 * fanning one change out to 10,000 sessions holds one chunk per session,
 * and full chunks made that 164 MB for events of a few hundred bytes,
 * every page of it new memory the first time. The two range sets are allocated together only
 * while one of them is in use (an acknowledgment out of order, a loss),
 * so an idle or loss-free stream holds none. Both are bounded
 * (rangeset.h). When
 * the acknowledged set is full, an acknowledgment it cannot record is
 * turned into a retransmission (the bytes are sent and acknowledged again
 * later); when the retransmission set is full it over-approximates. Either
 * way some bytes may be sent twice, none is lost, and the receiver drops
 * duplicates.
 */
#ifndef CW_SENDBUF_H
#define CW_SENDBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "chunkmap.h"
#include "rangeset.h"

#define CW_SENDBUF_CHUNK 16384
/* Smallest chunk a burst starts with; a chunk grows by 4x to
 * CW_SENDBUF_CHUNK as it fills. */
#define CW_SENDBUF_CHUNK_MIN 256
/* Largest capacity: 64 MiB, far above any stream window. */
#define CW_SENDBUF_MAX_CAP (UINT64_C(64) << 20)

struct cw_sendbuf_ranges {
	struct cw_rangeset acked; /* above una */
	struct cw_rangeset retx;  /* lost, waiting to be resent */
};

struct cw_sendbuf {
	const struct cw_alloc *a;
	struct cw_chunkmap map;
	uint64_t una;		      /* every byte below is acknowledged */
	uint64_t sent;		      /* every byte below was sent at least once */
	uint64_t written;	      /* bytes the application wrote */
	uint64_t cap;		      /* written - una never exceeds this */
	uint32_t wbase;		      /* the chunk at `written`, if any, holds */
	uint32_t wcap;		      /* its bytes [wbase, wbase + wcap) */
	struct cw_sendbuf_ranges *rs; /* NULL while both sets are empty */
	bool fin;		      /* the application finished writing */
	bool fin_pending;	      /* FIN to be sent (first time or again) */
	bool fin_acked;
	bool reset; /* abandoned: nothing more is sent */
};

/* A STREAM frame's worth of data chosen for sending. */
struct cw_sendbuf_span {
	uint64_t offset;
	const uint8_t *data; /* valid until the next write, ack, reset or free */
	size_t len;
	bool fin;
};

/*
 * Start an empty buffer holding at most @cap unacknowledged bytes.
 * Returns 0 or -EINVAL when @cap is 0 or above CW_SENDBUF_MAX_CAP.
 */
int cw_sendbuf_init(struct cw_sendbuf *b, const struct cw_alloc *a, uint64_t cap);

/* Free every chunk. */
void cw_sendbuf_free(struct cw_sendbuf *b);

/* Bytes the application may write now. */
static inline uint64_t cw_sendbuf_space(const struct cw_sendbuf *b)
{
	return b->fin || b->reset ? 0 : b->cap - (b->written - b->una);
}

/*
 * Append up to @len bytes of @data; *@n gets the count taken (as many as
 * fit). Returns 0, -EAGAIN when nothing fits (@len > 0), -EPIPE after FIN
 * or reset, or -ENOMEM (*@n says how much was taken before).
 */
int cw_sendbuf_write(struct cw_sendbuf *b, const uint8_t *data, size_t len, size_t *n);

/* No more writes: the final size is what was written. -EPIPE after reset. */
int cw_sendbuf_finish(struct cw_sendbuf *b);

/*
 * Choose the next frame's data: lost bytes first (lowest offset), then new
 * bytes below @limit, then a lone FIN. At most @max_len bytes, and never
 * across a chunk boundary. The chosen bytes count as sent. Returns 0 with
 * *@s filled, or -ENOENT when there is nothing to send. The span's data
 * is valid until the next write, ack, reset or free.
 */
int cw_sendbuf_next(struct cw_sendbuf *b, size_t max_len, uint64_t limit,
		    struct cw_sendbuf_span *s);

/* Whether cw_sendbuf_next() with @limit would return something. */
bool cw_sendbuf_has_data(const struct cw_sendbuf *b, uint64_t limit);

/* Whether lost bytes or a FIN wait (these need no flow-control credit). */
bool cw_sendbuf_has_retx(const struct cw_sendbuf *b);

/* Whether new bytes wait that the limit @limit holds back. */
static inline bool cw_sendbuf_blocked(const struct cw_sendbuf *b, uint64_t limit)
{
	return !b->reset && b->sent < b->written && b->sent >= limit;
}

/*
 * The peer acknowledged a frame with [off, off + len) and @fin. Returns 0,
 * or -ENOMEM when the range sets could not be allocated (the
 * acknowledgment is then not recorded, and the bytes would never be
 * released: the session must close with INTERNAL_ERROR).
 */
int cw_sendbuf_on_acked(struct cw_sendbuf *b, uint64_t off, size_t len, bool fin);

/*
 * A frame with [off, off + len) and @fin was lost: resend what is
 * unacknowledged. Returns 0 or -ENOMEM as cw_sendbuf_on_acked().
 */
int cw_sendbuf_on_lost(struct cw_sendbuf *b, uint64_t off, size_t len, bool fin);

/* Abandon the direction: free all bytes, send nothing more. */
void cw_sendbuf_reset(struct cw_sendbuf *b);

/* Whether FIN was written and everything, FIN included, is acknowledged. */
static inline bool cw_sendbuf_done(const struct cw_sendbuf *b)
{
	return b->fin && b->fin_acked && b->una == b->written;
}

#endif /* CW_SENDBUF_H */
