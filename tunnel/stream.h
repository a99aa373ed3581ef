/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The streams of one session (PROTOCOL.md §9): stream IDs, opening and
 * stream limits, per-stream and connection flow control, FIN, RESET_STREAM
 * and STOP_SENDING, final sizes, and which frames to send next.
 *
 * The table neither encodes nor decodes frames. Decoded frames come in as
 * struct cw_stream_frame (cw_streams_on_frame()); frames to send go out
 * as the same struct (cw_streams_next_ctrl(), cw_streams_next_data()), and
 * the loss recovery layer, which remembers them per packet, reports them
 * back acknowledged or lost (cw_streams_on_acked(), cw_streams_on_lost()).
 *
 * Stream IDs are 4n + initiator (0 agent, 1 gateway), bidirectional only.
 * Each stream has a receive side (a reorder buffer, rob.h) and a send side
 * (a send buffer, sendbuf.h). A stream's state is freed when both sides
 * reach a terminal state: everything received and read (or the peer's
 * reset delivered to the reader), and everything sent and acknowledged (or
 * our reset acknowledged). Frames for a freed stream are ignored.
 *
 * Scheduling: streams with data to send sit on a round-robin list and get
 * one frame each in turn. A stream blocked by its own flow-control limit
 * leaves the list until the peer raises the limit, so one stalled reader
 * costs the others nothing (§9.5, §17 "Stream isolation").
 *
 * Bounds: at most `max_streams` peer-initiated streams exist at once (the
 * limit we grant only grows as they are freed) and at most
 * `max_local_streams` local ones. Each stream buffers at most its receive
 * window (<= CW_ROB_MAX_SPAN) and `send_buffer` bytes to send. Control
 * frames pending are flags on the stream, so queues never outgrow the
 * table. Memory comes only from the injected allocator. A stream with
 * nothing buffered holds only its own struct (about 400 bytes on LP64),
 * and after cw_streams_trim() nothing else: chunks and range sets are
 * allocated while data is in flight, and a receive chunk stays with a
 * reader that keeps up until the trim.
 *
 * Errors: functions return 0 or a negative errno. A peer violation is
 * -EPROTO, and cw_streams_error() then gives the code for CONNECTION_CLOSE
 * (§12.1, or CONTROL_STREAM_ERROR of §12.3 for stream 0); the session must
 * close. -ENOMEM means the allocator failed (INTERNAL_ERROR).
 */
#ifndef CW_STREAM_H
#define CW_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "rob.h"
#include "sendbuf.h"

/* Frame types (§8), used as the type of a struct cw_stream_frame. */
#define CW_SFRAME_RESET_STREAM	      0x04
#define CW_SFRAME_STOP_SENDING	      0x05
#define CW_SFRAME_STREAM	      0x08 /* FIN, offset and length are fields */
#define CW_SFRAME_MAX_DATA	      0x10
#define CW_SFRAME_MAX_STREAM_DATA     0x11
#define CW_SFRAME_MAX_STREAMS	      0x12
#define CW_SFRAME_DATA_BLOCKED	      0x14
#define CW_SFRAME_STREAM_DATA_BLOCKED 0x15

/* Connection error codes this layer reports (§12.1, §12.3). */
#define CW_SERR_FLOW_CONTROL   0x03
#define CW_SERR_STREAM_LIMIT   0x04
#define CW_SERR_STREAM_STATE   0x05
#define CW_SERR_FINAL_SIZE     0x06
#define CW_SERR_FRAME_ENCODING 0x07
#define CW_SERR_CONTROL_STREAM 0x1005

/* Transport parameter floors (§9.6) and auto-tuning caps (§9.5). */
#define CW_STREAMS_MIN_MAX_DATA	       (UINT64_C(256) << 10)
#define CW_STREAMS_MIN_MAX_STREAM_DATA (UINT64_C(64) << 10)
#define CW_STREAMS_MIN_MAX_STREAMS     16
#define CW_STREAMS_MAX_STREAM_WINDOW   (UINT64_C(16) << 20)
#define CW_STREAMS_MAX_CONN_WINDOW     (UINT64_C(32) << 20)
#define CW_STREAMS_MAX_MAX_STREAMS     (UINT64_C(1) << 60)
#define CW_STREAMS_CONTROL_ID	       0

/*
 * One stream-related frame, decoded or to be encoded. Fields not used by
 * the type are 0.
 *  RESET_STREAM:        stream_id, code, final_size
 *  STOP_SENDING:        stream_id, code
 *  STREAM:              stream_id, offset, data, len, fin
 *  MAX_DATA:            value
 *  MAX_STREAM_DATA:     stream_id, value
 *  MAX_STREAMS:         value
 *  DATA_BLOCKED:        value
 *  STREAM_DATA_BLOCKED: stream_id, value
 */
struct cw_stream_frame {
	uint8_t type;
	bool fin;
	uint64_t stream_id;
	uint64_t offset;
	const uint8_t *data;
	size_t len;
	uint64_t code;
	uint64_t final_size;
	uint64_t value;
};

struct cw_streams_config {
	uint64_t max_data;	  /* initial_max_data we grant */
	uint64_t max_stream_data; /* initial_max_stream_data we grant */
	uint64_t max_streams;	  /* initial_max_streams we grant, <= 2^20 */
	/* Auto-tuning caps (§9.5); equal to the above to disable growth. */
	uint64_t max_data_cap;
	uint64_t max_stream_data_cap;
	uint64_t send_buffer;	    /* per-stream send buffer, bytes, <= 64 MiB */
	uint32_t max_local_streams; /* local streams open at once */
};

/* Receive side states (RFC 9000 §3.2); DATA_READ and RESET_READ are terminal. */
enum cw_stream_rx_state {
	CW_STREAM_RX_RECV,
	CW_STREAM_RX_SIZE_KNOWN,
	CW_STREAM_RX_DATA_RECVD,
	CW_STREAM_RX_DATA_READ,
	CW_STREAM_RX_RESET_RECVD,
	CW_STREAM_RX_RESET_READ,
};

/* Send side states (RFC 9000 §3.1); DATA_RECVD and RESET_RECVD are terminal. */
enum cw_stream_tx_state {
	CW_STREAM_TX_READY,
	CW_STREAM_TX_SEND,
	CW_STREAM_TX_DATA_SENT,
	CW_STREAM_TX_DATA_RECVD,
	CW_STREAM_TX_RESET_SENT,
	CW_STREAM_TX_RESET_RECVD,
};

/* Application events (cw_streams_next_event()). */
#define CW_STREAM_EV_NEW      0x01 /* the peer opened the stream */
#define CW_STREAM_EV_READABLE 0x02 /* data, the end, or a reset to read */
#define CW_STREAM_EV_WRITABLE 0x04 /* send buffer space after a short write */
#define CW_STREAM_EV_STOPPED  0x08 /* the peer sent STOP_SENDING */

struct cw_stream;

struct cw_stream_list {
	struct cw_stream *head, *tail;
};

struct cw_streams_stats {
	uint64_t opened_local, opened_peer, freed;
	uint64_t rx_bytes, tx_bytes, retx_bytes; /* stream payload */
	uint64_t blocked_rx;			 /* DATA_BLOCKED / STREAM_DATA_BLOCKED received */
};

struct cw_streams {
	const struct cw_alloc *a;
	struct cw_streams_config cfg;
	bool gateway; /* our initiator bit */
	uint64_t error;

	struct cw_stream **buckets; /* hash of live streams, chained */
	uint32_t nbuckets, count, local_count;

	uint64_t next_local;	      /* n of the next local stream */
	uint64_t next_peer;	      /* n above every peer stream opened */
	uint64_t tx_max_streams;      /* the peer's limit on our streams */
	uint64_t rx_max_streams;      /* our limit on the peer's, as sent */
	uint64_t rx_max_streams_next; /* what we would grant now */
	uint64_t peer_freed;	      /* peer-initiated streams freed */

	/* Connection flow control, our sending. */
	uint64_t tx_max_data;	/* the peer's limit */
	uint64_t tx_data;	/* new bytes sent, all streams */
	uint64_t tx_blocked_at; /* limit we sent DATA_BLOCKED for, or UINT64_MAX */
	/* Connection flow control, the peer's sending. */
	uint64_t rx_max_data; /* limit as sent */
	uint64_t rx_window;
	uint64_t rx_data;	     /* sum of highest offsets received */
	uint64_t rx_consumed;	     /* read or discarded */
	uint64_t rx_last_update;     /* ns, for auto-tuning */
	uint64_t peer_stream_window; /* the peer's initial_max_stream_data */

	uint64_t now, srtt; /* from cw_streams_set_clock() */

	/* Pending connection-level frames. */
	bool want_max_data, want_max_streams, want_data_blocked;

	struct cw_stream_list send; /* round robin: data to send */
	struct cw_stream_list ctrl; /* control frames to send */
	struct cw_stream_list events;

	struct cw_streams_stats stats;
};

/*
 * Set up the table of one session; @gateway selects our initiator bit.
 * Returns 0, -EINVAL when a limit is below its floor (§9.6), a cap below
 * its initial value or above its maximum, or -ENOMEM.
 */
int cw_streams_init(struct cw_streams *t, const struct cw_streams_config *cfg, bool gateway,
		    const struct cw_alloc *a);

/* Free every stream and the table's memory. */
void cw_streams_free(struct cw_streams *t);

/* Give back what drained streams keep for their next bytes (cw_rob_trim()):
 * for a session gone quiet. */
void cw_streams_trim(struct cw_streams *t);

/* A reasonable configuration: the recommended values of §9.6. */
void cw_streams_config_default(struct cw_streams_config *cfg, bool gateway);

/*
 * The peer's transport parameters arrived; 0 means the default (§9.6).
 * Each limit becomes max(current, stated). Returns 0, or -EPROTO
 * (TRANSPORT_PARAMETER_ERROR is the session's to send) when one is below
 * its floor.
 */
int cw_streams_set_peer_params(struct cw_streams *t, uint64_t max_data, uint64_t max_stream_data,
			       uint64_t max_streams);

/* Time and smoothed RTT (ns) for auto-tuning; srtt 0 disables it. */
void cw_streams_set_clock(struct cw_streams *t, uint64_t now, uint64_t srtt);

/* The connection error code after a -EPROTO. */
static inline uint64_t cw_streams_error(const struct cw_streams *t)
{
	return t->error;
}

/* -- application side -- */

/*
 * Open the next local stream; *@id gets its ID. Returns 0, -EAGAIN when
 * the peer's stream limit is reached (queue and retry after MAX_STREAMS),
 * -ENOSPC at max_local_streams, or -ENOMEM.
 */
int cw_streams_open(struct cw_streams *t, uint64_t *id);

/*
 * Queue up to @len bytes on stream @id; *@n gets the count taken. Returns
 * 0, -EAGAIN when the send buffer is full (CW_STREAM_EV_WRITABLE follows),
 * -EPIPE when the direction is finished or reset (after STOP_SENDING too),
 * -ENOENT for no such stream, or -ENOMEM.
 */
int cw_streams_write(struct cw_streams *t, uint64_t id, const uint8_t *data, size_t len, size_t *n);

/* Finish the send direction (FIN). -EINVAL on stream 0, -EPIPE, -ENOENT. */
int cw_streams_finish(struct cw_streams *t, uint64_t id);

/*
 * Read up to @cap bytes from stream @id; *@n gets the count, *@fin whether
 * the end of the stream has been reached (all data read). Returns 0 (with
 * *@n possibly 0 only when *@fin), -EAGAIN when nothing is readable yet,
 * -ECONNRESET when the peer reset the direction (*@code gets its code;
 * the side is closed once it has been reported), -EPIPE after
 * cw_streams_stop(), or -ENOENT.
 */
int cw_streams_read(struct cw_streams *t, uint64_t id, uint8_t *buf, size_t cap, size_t *n,
		    bool *fin, uint64_t *code);

/*
 * Abandon the send direction with RESET_STREAM(@code). -EINVAL on stream
 * 0, -ENOENT. A direction already finished and acknowledged or reset is
 * left as it is.
 */
int cw_streams_reset(struct cw_streams *t, uint64_t id, uint64_t code);

/*
 * Ask the peer to stop with STOP_SENDING(@code); further data is dropped
 * (and its credit returned at once). -EINVAL on stream 0, -ENOENT.
 */
int cw_streams_stop(struct cw_streams *t, uint64_t id, uint64_t code);

/* A stream error (§1): reset and stop with @code. */
int cw_streams_abort(struct cw_streams *t, uint64_t id, uint64_t code);

/*
 * Take the next stream with events: *@id and *@events (CW_STREAM_EV_*).
 * Each stream is queued at most once. Returns 0 or -ENOENT.
 */
int cw_streams_next_event(struct cw_streams *t, uint64_t *id, unsigned *events);

/* State of stream @id for inspection; -ENOENT when it does not exist. */
struct cw_stream_info {
	enum cw_stream_rx_state rx;
	enum cw_stream_tx_state tx;
	uint64_t rx_limit, tx_limit; /* stream flow-control limits */
	uint64_t rx_readable;	     /* bytes readable now */
	uint64_t tx_space;	     /* bytes writable now */
	uint64_t rx_highest;	     /* highest offset received */
	uint64_t tx_sent;	     /* highest offset sent */
	uint64_t reset_code;	     /* the peer's RESET_STREAM code */
	uint64_t stop_code;	     /* the peer's STOP_SENDING code */
};
int cw_streams_info(const struct cw_streams *t, uint64_t id, struct cw_stream_info *info);

/* -- wire side -- */

/*
 * A decoded RESET_STREAM, STOP_SENDING, STREAM, MAX_DATA, MAX_STREAM_DATA,
 * MAX_STREAMS, DATA_BLOCKED or STREAM_DATA_BLOCKED frame from the peer (in
 * a 1-RTT packet). Returns 0, -EPROTO (see cw_streams_error()), -EINVAL
 * for another type, or -ENOMEM.
 */
int cw_streams_on_frame(struct cw_streams *t, const struct cw_stream_frame *f);

/*
 * The next control frame to send (RESET_STREAM, STOP_SENDING, MAX_*,
 * *_BLOCKED), marked as sent. Returns 0 or -ENOENT.
 */
int cw_streams_next_ctrl(struct cw_streams *t, struct cw_stream_frame *f);

/*
 * The next STREAM frame to send, round robin over streams, with at most
 * @max_len bytes of data (a FIN-only frame needs none), marked as sent.
 * f->data stays valid until the next call that processes an
 * acknowledgment, a reset or frees the table. Returns 0 or -ENOENT.
 */
int cw_streams_next_data(struct cw_streams *t, size_t max_len, struct cw_stream_frame *f);

/* Whether cw_streams_next_ctrl() / _next_data() may return a frame. */
bool cw_streams_want_send(const struct cw_streams *t);

/*
 * A frame we sent (as returned above; data may be NULL) was acknowledged.
 * Returns 0, or -ENOMEM when the send buffer could not record it (the
 * session must close with INTERNAL_ERROR).
 */
int cw_streams_on_acked(struct cw_streams *t, const struct cw_stream_frame *f);

/* A frame we sent was declared lost: resend what is still needed. 0 or -ENOMEM. */
int cw_streams_on_lost(struct cw_streams *t, const struct cw_stream_frame *f);

#endif /* CW_STREAM_H */
