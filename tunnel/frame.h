/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frames (PROTOCOL.md §8): the decrypted payload of a packet is a sequence
 * of frames, each a varint type and its fields.
 *
 * Decoding is a pure parser over hostile bytes: an iterator hands out one
 * frame at a time, never reads past the payload and never allocates or
 * copies: STREAM and CRYPTO data and the CONNECTION_CLOSE reason point into
 * the payload, so the caller keeps it alive while it uses the frame. Every
 * constraint §8 and §16 put on a single frame is checked here, including
 * which frames a packet type may carry and which side may send them;
 * constraints that need session state (stream limits, flow control, final
 * sizes, acknowledged packet numbers) are the caller's.
 *
 * Encoding writes one frame into a caller buffer with a capacity, all or
 * nothing, in the shortest varint forms; size helpers tell a packetiser
 * beforehand what fits. The encoders refuse anything the decoder would
 * reject, except the per-packet-type rules, which the caller checks with
 * cw_frame_allowed().
 */
#ifndef CW_FRAME_H
#define CW_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ackranges.h"
#include "header.h"

/* Frame types. STREAM is 0x08 | the flags below; the decoder reports every
 * STREAM frame as CW_FRAME_STREAM. */
enum cw_frame_type {
	CW_FRAME_PADDING = 0x00,
	CW_FRAME_PING = 0x01,
	CW_FRAME_ACK = 0x02,
	CW_FRAME_RESET_STREAM = 0x04,
	CW_FRAME_STOP_SENDING = 0x05,
	CW_FRAME_CRYPTO = 0x06,
	CW_FRAME_STREAM = 0x08,
	CW_FRAME_MAX_DATA = 0x10,
	CW_FRAME_MAX_STREAM_DATA = 0x11,
	CW_FRAME_MAX_STREAMS = 0x12,
	CW_FRAME_DATA_BLOCKED = 0x14,
	CW_FRAME_STREAM_DATA_BLOCKED = 0x15,
	CW_FRAME_CONNECTION_CLOSE = 0x1c,
	CW_FRAME_HANDSHAKE_DONE = 0x1e,
};

#define CW_STREAM_FLAG_FIN 0x01
#define CW_STREAM_FLAG_LEN 0x02
#define CW_STREAM_FLAG_OFF 0x04

/* Limits of §8 and §16. */
#define CW_CRYPTO_STREAM_MAX  65536u			/* offset + length, per space */
#define CW_STREAM_OFFSET_MAX  ((UINT64_C(1) << 62) - 1) /* offset + length */
#define CW_MAX_STREAMS_MAX    (UINT64_C(1) << 60)
#define CW_CLOSE_REASON_MAX   256u
#define CW_APP_ERROR_MIN      0x1000u /* codes from here on: 1-RTT packets only */
#define CW_STREAM_ID_BAD_BITS 0x02u   /* bit 1: no unidirectional streams */

/* Transport error codes (§12.1), as CONNECTION_CLOSE carries them. */
enum cw_transport_error {
	CW_TE_NO_ERROR = 0x00,
	CW_TE_INTERNAL_ERROR = 0x01,
	CW_TE_CONNECTION_REFUSED = 0x02,
	CW_TE_FLOW_CONTROL_ERROR = 0x03,
	CW_TE_STREAM_LIMIT_ERROR = 0x04,
	CW_TE_STREAM_STATE_ERROR = 0x05,
	CW_TE_FINAL_SIZE_ERROR = 0x06,
	CW_TE_FRAME_ENCODING_ERROR = 0x07,
	CW_TE_TRANSPORT_PARAMETER_ERROR = 0x08,
	CW_TE_PROTOCOL_VIOLATION = 0x0a,
	CW_TE_INVALID_TOKEN = 0x0b,
	CW_TE_CRYPTO_BUFFER_EXCEEDED = 0x0d,
	CW_TE_KEY_UPDATE_ERROR = 0x0e,
	CW_TE_AEAD_LIMIT_REACHED = 0x0f,
};

/* Who sent the packet: HANDSHAKE_DONE comes only from the gateway, whose
 * INITIAL packets carry no TLS bytes (§7.2). */
enum cw_frame_sender {
	CW_FROM_AGENT = 0,
	CW_FROM_GATEWAY = 1,
};

struct cw_frame_reset_stream {
	uint64_t stream_id, error_code, final_size;
};

struct cw_frame_stop_sending {
	uint64_t stream_id, error_code;
};

struct cw_frame_crypto {
	uint64_t offset;
	const uint8_t *data; /* into the payload */
	size_t len;
};

struct cw_frame_stream {
	uint64_t stream_id, offset;
	const uint8_t *data; /* into the payload */
	size_t len;	     /* 0 without fin is decoded; §8.8 has the receiver
			      * ignore it, and the encoder refuses it */
	bool fin;
};

/* MAX_DATA, MAX_STREAMS and DATA_BLOCKED carry one value. */
struct cw_frame_limit {
	uint64_t max;
};

/* MAX_STREAM_DATA and STREAM_DATA_BLOCKED. */
struct cw_frame_stream_limit {
	uint64_t stream_id, max;
};

struct cw_frame_close {
	uint64_t error_code;   /* §12: transport, crypto or application */
	uint64_t frame_type;   /* the frame at fault, 0 if none */
	const uint8_t *reason; /* into the payload, UTF-8 for logs only */
	size_t reason_len;     /* at most CW_CLOSE_REASON_MAX: a longer one
				* received is truncated, as §8.14 says */
};

/*
 * One decoded frame. Only the member that type names is set. The ACK's
 * ranges make it about 1 KiB: a receiver reuses one for a whole payload.
 */
struct cw_frame {
	enum cw_frame_type type;
	size_t wire_len; /* bytes it took in the payload; a run of PADDING
			  * bytes is reported as one frame of that length */
	union {
		struct cw_ack_frame ack;
		struct cw_frame_reset_stream reset_stream;
		struct cw_frame_stop_sending stop_sending;
		struct cw_frame_crypto crypto;
		struct cw_frame_stream stream;
		struct cw_frame_limit max_data, max_streams, data_blocked;
		struct cw_frame_stream_limit max_stream_data, stream_data_blocked;
		struct cw_frame_close close;
	};
};

/* Walks the frames of one packet payload; see cw_frame_next(). */
struct cw_frame_iter {
	const uint8_t *p;
	size_t len, off;
	enum cw_pkt_type pkt;
	enum cw_frame_sender from;
	int err;	     /* the error that stopped the walk, or 0 */
	uint64_t frame_type; /* wire type of the last frame read; after an
			      * error the Frame Type for CONNECTION_CLOSE
			      * (0 when the type itself was unreadable) */
	bool ack_eliciting;  /* an ack-eliciting frame was decoded */
	bool in_flight;	     /* ... or a PADDING frame (§8.1) */
};

/*
 * Start walking the decrypted @payload (@len bytes, tag excluded) of a
 * packet of type @pkt (CW_PKT_INITIAL, CW_PKT_HANDSHAKE or CW_PKT_SHORT)
 * sent by @from. Nothing is read until cw_frame_next().
 */
void cw_frame_iter_init(struct cw_frame_iter *it, const uint8_t *payload, size_t len,
			enum cw_pkt_type pkt, enum cw_frame_sender from);

/*
 * Decode the next frame into @f. Returns 1 with a frame in @f, 0 at the end
 * of the payload, or a negative error that ends the walk (later calls
 * return it again). Each error names one transport error code, given by
 * cw_frame_error_code():
 *  -ENODATA     the payload is empty (PROTOCOL_VIOLATION);
 *  -EPROTO      a frame type the packet type does not allow, one its sender
 *               may not send (HANDSHAKE_DONE from the agent; anything but
 *               ACK, CONNECTION_CLOSE and PADDING in a gateway INITIAL), or
 *               a CONNECTION_CLOSE with an application code (>= 0x1000) in
 *               a long-header packet (PROTOCOL_VIOLATION);
 *  -EOPNOTSUPP  a frame type version 1 does not define
 *               (FRAME_ENCODING_ERROR);
 *  -EBADMSG     a truncated frame: a field, the data or the reason runs
 *               past the payload (FRAME_ENCODING_ERROR);
 *  -ERANGE      a field beyond its limit: STREAM offset + length above
 *               2^62 - 1, MAX_STREAMS above 2^60, an ACK range below packet
 *               number 0 (FRAME_ENCODING_ERROR);
 *  -ENOSTR      a stream ID with bit 1 set (STREAM_STATE_ERROR);
 *  -ENOBUFS     CRYPTO offset + length above 65536
 *               (CRYPTO_BUFFER_EXCEEDED);
 *  -EINVAL      @pkt is not a type that carries frames (INTERNAL_ERROR).
 * The checks run in that order: the type, then that the whole frame is
 * there, then its values; so a truncated frame naming a bad stream ID is
 * FRAME_ENCODING_ERROR. On error @f holds nothing of use, and the walk's
 * frame_type names the frame at fault.
 */
int cw_frame_next(struct cw_frame_iter *it, struct cw_frame *f);

/* The transport error code (§12.1) for an error of cw_frame_next();
 * INTERNAL_ERROR for any other value. */
uint64_t cw_frame_error_code(int err);

/* Whether §8.1 lets @from put a frame of wire type @type (STREAM: any of
 * 0x08..0x0f) in a packet of type @pkt. False for unknown types. */
bool cw_frame_allowed(uint64_t type, enum cw_pkt_type pkt, enum cw_frame_sender from);

/* Whether a frame of wire type @type is ack-eliciting (§8.1). */
bool cw_frame_ack_eliciting(uint64_t type);

/*
 * Encoders. Each writes one frame at @out, which has @cap bytes, and
 * returns the bytes written, or writes nothing and returns:
 *  -ENOSPC  it does not fit in @cap;
 *  -ERANGE  a value is beyond what the frame may carry (above 2^62 - 1, or
 *           the frame's own limit as the decoder enforces it);
 *  -EINVAL  a stream ID with bit 1 set, or as stated per function.
 */

/* @n PADDING frames (@n zero bytes); -EINVAL for 0. */
int cw_frame_encode_padding(uint8_t *out, size_t cap, size_t n);

int cw_frame_encode_ping(uint8_t *out, size_t cap);

/*
 * ACK for the @n ranges @r (descending, disjoint, non-adjacent, as a
 * cw_ackset keeps them), @ack_delay in units of 8 µs. Unlike the other
 * encoders, ranges that do not fit are left out from the lowest up (the
 * frame written is complete; its receiver merely learns less), so it fails
 * with -ENOSPC only when not even the first range fits. -EINVAL for @n 0
 * or ranges out of order.
 */
int cw_frame_encode_ack(uint8_t *out, size_t cap, const struct cw_ack_range *r, size_t n,
			uint64_t ack_delay);

int cw_frame_encode_reset_stream(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t error_code,
				 uint64_t final_size);

int cw_frame_encode_stop_sending(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t error_code);

/* CRYPTO with @len bytes of @data at @offset; -ERANGE when @offset + @len
 * exceeds CW_CRYPTO_STREAM_MAX. */
int cw_frame_encode_crypto(uint8_t *out, size_t cap, uint64_t offset, const uint8_t *data,
			   size_t len);

/*
 * STREAM for @s. With @last, the frame has no Length field and its data
 * runs to the end of the packet: the caller puts nothing after it.
 * The Offset field is left out when the offset is 0. -EINVAL for no data
 * without FIN; -ERANGE when offset + len exceeds CW_STREAM_OFFSET_MAX.
 */
int cw_frame_encode_stream(uint8_t *out, size_t cap, const struct cw_frame_stream *s, bool last);

int cw_frame_encode_max_data(uint8_t *out, size_t cap, uint64_t max);

int cw_frame_encode_max_stream_data(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t max);

/* -ERANGE for @max above CW_MAX_STREAMS_MAX. */
int cw_frame_encode_max_streams(uint8_t *out, size_t cap, uint64_t max);

int cw_frame_encode_data_blocked(uint8_t *out, size_t cap, uint64_t max);

int cw_frame_encode_stream_data_blocked(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t max);

/*
 * CONNECTION_CLOSE; @reason may be NULL when @reason_len is 0. -EINVAL for
 * a reason over CW_CLOSE_REASON_MAX. A code of CW_APP_ERROR_MIN or more
 * may only go in a 1-RTT packet: the caller checks that (§8.14).
 */
int cw_frame_encode_connection_close(uint8_t *out, size_t cap, uint64_t error_code,
				     uint64_t frame_type, const uint8_t *reason, size_t reason_len);

int cw_frame_encode_handshake_done(uint8_t *out, size_t cap);

/*
 * Encode @f, as decoded or filled in by the caller, with the encoder of its
 * type: a STREAM frame with a Length field, PADDING as f->wire_len bytes,
 * ACK from f->ack.r[0 .. f->ack.n).
 */
int cw_frame_encode(uint8_t *out, size_t cap, const struct cw_frame *f);

/*
 * Sizes. Each returns the bytes its encoder would write, or 0 when the
 * encoder would refuse the values (whatever the capacity).
 */

/* ACK with all @n ranges (the encoder drops some only to fit @cap). */
size_t cw_frame_ack_size(const struct cw_ack_range *r, size_t n, uint64_t ack_delay);
size_t cw_frame_crypto_size(uint64_t offset, size_t len);
size_t cw_frame_stream_size(uint64_t stream_id, uint64_t offset, size_t len, bool last);
size_t cw_frame_close_size(uint64_t error_code, uint64_t frame_type, size_t reason_len);
/* What cw_frame_encode(@f) writes (with a capacity large enough). */
size_t cw_frame_size(const struct cw_frame *f);

/*
 * Fitting data to the space left in a packet. Each returns the most data
 * bytes a frame at @offset can carry in at most @space bytes, within the
 * stream's offset limit; 0 when no data fits, including when not even the
 * header does (a FIN-only STREAM frame fits if cw_frame_stream_size() with
 * length 0 is at most @space). @last as for cw_frame_encode_stream().
 */
size_t cw_frame_crypto_fit(uint64_t offset, size_t space);
size_t cw_frame_stream_fit(uint64_t stream_id, uint64_t offset, size_t space, bool last);

#endif /* CW_FRAME_H */
