/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reorder buffer: receive-side reassembly of one byte stream (a stream's
 * direction from the peer, PROTOCOL.md §9.3, or a CRYPTO stream, §7.2).
 *
 * Data may arrive in any order, duplicated or overlapping; the reader gets
 * every byte once, in order. Overlapping bytes are taken from the first
 * copy received (§8.8): later copies are not compared, only skipped.
 *
 * Memory: bytes live in CW_ROB_CHUNK-byte chunks, each with a bitmap of the
 * bytes present at or above the first missing byte (below it every byte is
 * present, so data arriving in order is copied without touching the
 * bitmap), allocated through the injected allocator when data for
 * them first arrives and freed as soon as the reader has read past them;
 * the chunk under the read offset stays when the reader has read
 * everything that arrived (the next bytes go there) until the final size
 * is read or cw_rob_trim() is called.
 * The buffer only accepts data below its limit (the flow-control limit the
 * receiver advertised, or 65536 for CRYPTO), and the limit may not run more
 * than CW_ROB_MAX_SPAN bytes ahead of the read offset, so a buffer never
 * holds more than that many bytes (plus one partial chunk at either end)
 * whatever the peer sends. A peer that leaves a hole after every byte costs
 * the same memory as one that fills the window.
 *
 * Error codes map to the transport errors of §12.1:
 *  -ERANGE  offset + length above 2^62 - 1: FRAME_ENCODING_ERROR;
 *  -EDQUOT  data beyond the limit: FLOW_CONTROL_ERROR (CRYPTO_BUFFER_EXCEEDED
 *           for a CRYPTO stream);
 *  -EPROTO  final size changed, or data beyond it: FINAL_SIZE_ERROR;
 *  -ENOMEM  the allocator failed: INTERNAL_ERROR.
 */
#ifndef CW_ROB_H
#define CW_ROB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "chunkmap.h"

#define CW_ROB_CHUNK 4096
/* The per-stream window cap of §9.5 (auto-tuning stops at 16 MiB). */
#define CW_ROB_MAX_SPAN (UINT64_C(16) << 20)
#define CW_ROB_NO_FINAL UINT64_MAX

/* What one chunk costs the allocator: the bytes and their bitmap. */
struct cw_rob_chunk {
	uint64_t bits[CW_ROB_CHUNK / 64];
	uint8_t data[CW_ROB_CHUNK];
};

struct cw_rob {
	const struct cw_alloc *a;
	struct cw_chunkmap map;
	uint64_t read_off; /* bytes the reader has consumed */
	uint64_t ready;	   /* [read_off, ready) are all present */
	uint64_t highest;  /* highest offset + length received */
	uint64_t limit;	   /* data must end at or below this */
	uint64_t final;	   /* final size, or CW_ROB_NO_FINAL */
	bool discard;	   /* keep checking frames, store nothing */
};

/*
 * Start an empty buffer accepting bytes [0, @limit). Nothing is allocated.
 * Returns 0, or -EINVAL when @limit exceeds CW_ROB_MAX_SPAN.
 */
int cw_rob_init(struct cw_rob *r, const struct cw_alloc *a, uint64_t limit);

/* Free every chunk. The buffer may be re-initialised afterwards. */
void cw_rob_free(struct cw_rob *r);

/*
 * Raise the limit to @limit (a lower value is ignored: limits never
 * decrease). Returns 0, or -EINVAL when @limit would run more than
 * CW_ROB_MAX_SPAN ahead of the read offset.
 */
int cw_rob_set_limit(struct cw_rob *r, uint64_t limit);

/*
 * Whether data [@off, @off + @len), with @fin, would be accepted; changes
 * nothing. 0 or -ERANGE / -EDQUOT / -EPROTO as above. FIN sets the final
 * size to @off + @len, which must not be below data already received.
 */
int cw_rob_check(const struct cw_rob *r, uint64_t off, size_t len, bool fin);

/*
 * Check (as cw_rob_check()) and store the bytes not received before.
 * Returns 0 or a code above; on -ENOMEM part of the data may be stored
 * (the buffer stays consistent, and the peer will resend the rest).
 */
int cw_rob_insert(struct cw_rob *r, uint64_t off, const uint8_t *data, size_t len, bool fin);

/*
 * Learn the final size without data (RESET_STREAM). Returns 0, -EPROTO when
 * a different final size is known or data beyond @final was received, or
 * -EDQUOT when @final is beyond the limit.
 */
int cw_rob_set_final(struct cw_rob *r, uint64_t final);

/* Bytes readable now, in order from the read offset. */
static inline uint64_t cw_rob_readable(const struct cw_rob *r)
{
	return r->ready - r->read_off;
}

/* Copy up to @cap readable bytes to @buf and consume them; returns the count. */
size_t cw_rob_read(struct cw_rob *r, uint8_t *buf, size_t cap);

/*
 * Zero-copy read: the readable bytes at the read offset that are contiguous
 * in memory (up to the end of a chunk); *@len gets their count (0: none).
 * The pointer is valid until the next call that changes the buffer.
 */
const uint8_t *cw_rob_peek(const struct cw_rob *r, size_t *len);

/* Consume @n bytes (at most cw_rob_readable()); returns the count consumed. */
size_t cw_rob_consume(struct cw_rob *r, size_t n);

/* Free the chunk a reader that read everything leaves (see above), so
 * that a buffer with nothing unread holds no memory. */
void cw_rob_trim(struct cw_rob *r);

/* Whether the final size is known and every byte up to it has been read. */
static inline bool cw_rob_finished(const struct cw_rob *r)
{
	return r->final != CW_ROB_NO_FINAL && r->read_off == r->final;
}

/* Whether the final size is known and every byte up to it has arrived. */
static inline bool cw_rob_complete(const struct cw_rob *r)
{
	return r->final != CW_ROB_NO_FINAL && r->ready == r->final;
}

/*
 * Drop all buffered bytes and store none from now on (the stream was
 * reset or the reader stopped): frames are still checked, and the highest
 * offset and final size still tracked, for flow control. Reads return 0.
 */
void cw_rob_discard(struct cw_rob *r);

#endif /* CW_ROB_H */
