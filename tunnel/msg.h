/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The message layer's framing (tunnel/PROTOCOL.md §13.1): on a stream each
 * message is a varint length followed by that many bytes of a protobuf
 * causeway.v1.Envelope (tunnel/proto/causeway.proto).
 *
 * Sending is one call into a caller buffer. Receiving is incremental: the
 * stream hands over bytes in order, in whatever chunks the packets carried
 * them, and gets back whole Envelopes one at a time. The decoder is built
 * for a hostile peer:
 *  - a length above the receiver's limit fails as soon as the prefix is
 *    complete, before a byte of the body is buffered;
 *  - the body buffer grows with the bytes actually received (never to the
 *    declared length up front), so a prefix announcing 16 MiB followed by
 *    silence costs nothing;
 *  - protobuf-c allocates through a budget of CW_MSG_DECODE_BUDGET(length)
 *    bytes per message, so input made of thousands of empty submessages or
 *    unknown fields cannot turn a message into many times its size;
 *  - the decoded Envelope is checked against the field limits of §16
 *    before the caller sees it (see cw_msg_check).
 * It never reads past the message it is decoding, so the caller of a dial
 * stream can switch to raw bytes right after Dial/DialResult.
 *
 * Errors map to the stream codes of §12.4 (on stream 0 every one is the
 * connection error CONTROL_STREAM_ERROR):
 *   -EMSGSIZE  MESSAGE_TOO_LARGE
 *   -EBADMSG   MESSAGE_DECODE_ERROR
 *   -ENOMEM    INTERNAL_ERROR (the injected allocator refused)
 */
#ifndef CW_MSG_H
#define CW_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/alloc.h"
#include "tunnel/causeway.pb-c.h"
#include "tunnel/varint.h"

typedef Causeway__V1__Envelope cw_envelope;

/* max_message_size (§9.6): floor, default, largest allowed. */
#define CW_MSG_SIZE_FLOOR   (UINT32_C(1) << 20)
#define CW_MSG_SIZE_DEFAULT (UINT32_C(16) << 20)
#define CW_MSG_SIZE_MAX	    (UINT32_C(64) << 20)

/* The encoded Hello fits the floor stream window (§13.3). */
#define CW_MSG_HELLO_MAX 61440

/* Field limits of §16, in bytes unless named a count. */
#define CW_MSG_NAME_MAX		253 /* node_name, pool, Dial.host */
#define CW_MSG_LABELS_MAX	128
#define CW_MSG_LABEL_KEY_MAX	317
#define CW_MSG_LABEL_VALUE_MAX	63
#define CW_MSG_DICT_IDS_MAX	16
#define CW_MSG_LIST_MAX		64 /* allowed_ports, peers, targets, results */
#define CW_MSG_FEATURES_MAX	16
#define CW_MSG_FEATURE_LEN_MAX	64
#define CW_MSG_VERSION_MAX	64   /* agent_version, gateway_version */
#define CW_MSG_TOKEN_LEN	16   /* boot_id, stateless_reset_token: 0 or this */
#define CW_MSG_PATH_MAX		8192 /* ApiRequest path and query, each */
#define CW_MSG_HEADERS_MAX	128
#define CW_MSG_HEADER_BYTES_MAX 65536 /* names and values of one message */
#define CW_MSG_REASON_MAX	256

/*
 * What protobuf-c may allocate while decoding one message of @len bytes:
 * a legitimate message needs about its own size (strings and bytes are
 * copied) plus a few hundred bytes per list entry, and the lists are
 * capped by §16, hence the constant. The buffer holding the raw message
 * (at most @len) comes on top.
 */
#define CW_MSG_DECODE_BUDGET(len) ((size_t)(len)*4 + (size_t)128 * 1024)

/* Wire bytes of a message whose Envelope is @len bytes long. */
static inline size_t cw_msg_wire_len(size_t len)
{
	return cw_varint_len(len) + len;
}

/*
 * Check @env against §13.1 and the field limits of §16: exactly one known
 * oneof member, present (or, from the wire, only unknown fields: a member
 * of a later version), every string, list and bytes field within its limit,
 * dictionary ids non-zero, the Hello message (its own encoding, without
 * the Envelope's tag and length) at most CW_MSG_HELLO_MAX bytes. Values
 * the layer above interprets (stream placement, TransportParams floors,
 * enum values, ports) are not checked. Returns 0 or -EBADMSG.
 */
int cw_msg_check(const cw_envelope *env);

/*
 * Write @env with its length prefix to @out (@cap bytes). @limit is the
 * peer's max_message_size (CW_MSG_SIZE_FLOOR until its Hello/HelloAck has
 * arrived). Returns the bytes written, or:
 *   -EINVAL    @env has no oneof member set or breaks a limit of §16
 *              (cw_msg_check): the peer would reject it
 *   -EMSGSIZE  the Envelope is longer than @limit
 *   -ENOSPC    it does not fit in @cap (nothing written; see
 *              cw_msg_encoded_len)
 */
ptrdiff_t cw_msg_encode(const cw_envelope *env, size_t limit, uint8_t *out, size_t cap);

/* Bytes cw_msg_encode writes for @env: prefix and Envelope. */
size_t cw_msg_encoded_len(const cw_envelope *env);

/*
 * Incremental decoder of one direction of one stream. Idle (between
 * messages) it holds no memory; mid-message it holds the body bytes
 * received so far (have), in a buffer of at most twice that or 2 KiB,
 * whichever is larger, and never more than the limit. Those bytes are not
 * yet a message: a stream layer that grants flow-control credit as it
 * hands bytes over should count them as still buffered, or a peer could
 * hold up to the limit on every stream it opens.
 */
struct cw_msg_decoder {
	const struct cw_alloc *alloc;
	size_t limit;		    /* our max_message_size */
	size_t len;		    /* the current message's length; 0 while in the prefix */
	uint8_t *buf;		    /* body bytes so far, when they span chunks */
	size_t have, cap;	    /* bytes in buf, its size */
	size_t held;		    /* bytes protobuf-c holds for undecoded and live Envelopes */
	size_t budget_end;	    /* what held may reach while unpacking */
	struct cw_msg_arena *arena; /* while unpacking a small message (msg.c) */
	size_t arena_used;	    /* bytes of it carved so far */
	uint8_t prefix[CW_VARINT_MAX_LEN];
	uint8_t prefix_have;
	bool oom; /* the last unpack failed for want of memory */
	int err;  /* sticky: once set, every call returns it */
};

/*
 * Prepare @d to receive messages of at most @limit bytes (1 ..
 * CW_MSG_SIZE_MAX; the protocol's floor is for advertised limits, not
 * enforced here), allocating through @alloc, which must outlive @d.
 * Returns 0 or -EINVAL.
 */
int cw_msg_decoder_init(struct cw_msg_decoder *d, const struct cw_alloc *alloc, size_t limit);

/*
 * Consume bytes @in[0..@len) of the stream, in order, until either they
 * run out or one Envelope is complete. Returns the number of bytes
 * consumed, with *@out set to the decoded Envelope (owned by the caller,
 * free it with cw_msg_free) or NULL. When *@out is set the bytes after the
 * return value are not consumed: call again with the rest. An Envelope
 * whose msg_case is CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET carries only a
 * member this version does not know (§13.1: ignore it on stream 0, answer
 * Error{UNSUPPORTED} elsewhere). Errors, after which the decoder only
 * returns the same error again:
 *   -EMSGSIZE  the length prefix exceeds the limit
 *   -EBADMSG   a zero length, an Envelope that does not parse, has no
 *              member set, breaks a limit of §16 (cw_msg_check), contains
 *              a string with a NUL byte or a field number 0, or needs more
 *              than its decoding budget
 *   -ENOMEM    the allocator refused
 */
ptrdiff_t cw_msg_decode(struct cw_msg_decoder *d, const uint8_t *in, size_t len, cw_envelope **out);

/*
 * The stream's FIN has arrived: 0 if it fell between two messages,
 * -EBADMSG if it cut one (or its prefix) short, or the sticky error.
 */
int cw_msg_decoder_finish(struct cw_msg_decoder *d);

/* Free an Envelope @d returned. NULL is a no-op. */
void cw_msg_free(struct cw_msg_decoder *d, cw_envelope *env);

/*
 * Release @d's buffer. Envelopes it returned must have been freed first
 * (they are accounted to it).
 */
void cw_msg_decoder_free(struct cw_msg_decoder *d);

#endif /* CW_MSG_H */
