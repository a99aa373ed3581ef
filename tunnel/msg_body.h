/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request and response bodies in the message layer (tunnel/PROTOCOL.md
 * §14): the glue between causeway.v1.Body (encoding, uncompressed length,
 * bytes) and the compression context of tunnel/compress.h.
 *
 * Packing applies the sender policy: small bodies travel as they are, the
 * rest as one zstd frame, with the dictionary agreed in Hello/HelloAck when
 * there is one, and as they are again when zstd does not make them
 * smaller. Unpacking is the hostile side: the decoded length is settled
 * from the declared length and the receiver's cap before anything is
 * decoded or allocated, so a decompression bomb costs a header check.
 *
 * Every error of the unpacking side is DECOMPRESSION_FAILED on the wire
 * (§12.4), except -ENOMEM, which is this side's INTERNAL_ERROR.
 */
#ifndef CW_MSG_BODY_H
#define CW_MSG_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/alloc.h"
#include "tunnel/causeway.pb-c.h"
#include "tunnel/compress.h"

/*
 * Bodies shorter than this travel as IDENTITY (§14, sender policy). A zstd
 * frame with the dictionary costs about 9 k instructions to make and 3 k
 * to decode whatever the size (table set-up, entropy headers), so below
 * 512 bytes it costs over 70 instructions per byte it saves (a 256-byte
 * Lease: 15 k to save 180 bytes; a 470-byte one: 24 k to save 340), four
 * times what a pod costs (18 per byte) and what carrying a byte through
 * the tunnel costs (16, both sides). Small bodies are many messages but
 * few bytes; the bytes are in the large ones, which are still compressed
 * (perf/RESULTS.md, "Tunnel in-process (issue 3)").
 */
#define CW_MSG_BODY_COMPRESS_MIN 512

/*
 * Initialise @body for @len bytes of JSON at @src: IDENTITY under
 * CW_MSG_BODY_COMPRESS_MIN bytes, otherwise ZSTD_DICT with @dict_id (the
 * agreed HelloAck.dictionary_id) or, when @dict_id is 0, ZSTD; IDENTITY
 * after all when the frame would not be smaller than the body or does not
 * fit in @cap. The frame is written to @dst (@cap bytes; @len - 1 bytes
 * are always enough). body->data then points into @dst, or at @src for
 * IDENTITY: both must stay valid until the message is packed. Returns the
 * encoding used (enum cw_encoding), or -ENOKEY when @dict_id is not
 * loaded in @c, -ENOMEM or -EIO from cw_compress.
 *
 * Fan-out (one object to many watchers): pack once into a @dst that lives
 * as long as needed and put the same @body in every message; nothing in
 * it refers to @c, and the receivers only decompress.
 */
int cw_msg_body_pack(struct cw_compress *c, uint32_t dict_id, const void *src, size_t len,
		     void *dst, size_t cap, Causeway__V1__Body *body);

/*
 * Initialise @body as IDENTITY for bytes that are not to be compressed
 * (protobuf or already compressed content); body->data points at @src.
 */
void cw_msg_body_identity(Causeway__V1__Body *body, const void *src, size_t len);

/*
 * The decoded length of @body (NULL: no body, 0) as far as it can be known
 * without decoding, given the receiver's cap @cap (its max_message_size
 * unless configured lower). Returns the length, or:
 *   -EMSGSIZE  the declared length (or, for IDENTITY, the data) exceeds @cap
 *   -EBADMSG   an encoding this version does not know; an IDENTITY body
 *              whose declared length is neither 0 nor the data's length
 */
ptrdiff_t cw_msg_body_len(const Causeway__V1__Body *body, size_t cap);

/*
 * Decode @body into @dst, which has room for @cap bytes (the cap of §14),
 * with @dict_id the agreed dictionary (0: none). Writes at most
 * cw_msg_body_len(body, cap) bytes. Returns the decoded length, or the
 * errors of cw_msg_body_len and:
 *   -EBADMSG   a frame that is not exactly one zstd frame, states no or
 *              another content size, has a window over 16 MiB, names
 *              another dictionary than agreed (or any, for ZSTD), or does
 *              not decode to exactly the declared length
 *   -ENOKEY    ZSTD_DICT while no dictionary is agreed, or the agreed one
 *              is not loaded in @c
 */
ptrdiff_t cw_msg_body_unpack(struct cw_compress *c, uint32_t dict_id,
			     const Causeway__V1__Body *body, void *dst, size_t cap);

/*
 * As cw_msg_body_unpack, into a buffer of exactly the decoded length from
 * @a: *@out (NULL when the length is 0) and *@out_len; free it with
 * @a->free(@a->ctx, *@out, *@out_len). A body cw_msg_body_len rejects
 * allocates nothing. Returns 0, the errors of cw_msg_body_unpack (nothing
 * is left allocated), or -ENOMEM.
 */
int cw_msg_body_unpack_alloc(struct cw_compress *c, uint32_t dict_id,
			     const Causeway__V1__Body *body, size_t cap, const struct cw_alloc *a,
			     uint8_t **out, size_t *out_len);

#endif /* CW_MSG_BODY_H */
