/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message-body compression: zstd, optionally with a trained dictionary.
 *
 * Kubernetes JSON bodies travel as (encoding, uncompressed length, bytes);
 * the dictionary both sides use is zstd's own id, agreed in Hello/HelloAck
 * (tunnel/PROTOCOL.md). A context is owned by one thread: its zstd contexts
 * and digested dictionaries are made once, so the per-message path does no
 * dictionary work and, when decompressing, no allocation at all.
 *
 * Decompression is the hostile side. The output is bounded by
 * min(declared length, cap) before a single byte is decoded: a frame must
 * state its content size, that size must equal the declared length and fit
 * the cap, and the decoder is handed exactly that many bytes of buffer (a
 * dictionary body of up to 16 KiB: a buffer of the context's, behind the
 * dictionary, with zstd's 32 bytes of copy slack, from which only a whole
 * body is copied out), so a frame that lies about its size fails instead
 * of writing past it. A bomb costs the receiver a header parse, never an
 * allocation.
 */
#ifndef CW_COMPRESS_H
#define CW_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

/* Wire values of the body encoding enum: never renumber. */
enum cw_encoding {
	CW_ENC_IDENTITY = 0,
	CW_ENC_ZSTD = 1,
	CW_ENC_ZSTD_DICT = 2,
};

/* The tunnel's level. On Kubernetes JSON with the dictionary, level 1
 * loses a tenth of the ratio and costs more CPU, not less, and level 9
 * gains a sixth for five times the CPU per message (perf/compress-ratio.sh
 * sweeps them). */
#define CW_COMPRESS_LEVEL_DEFAULT 3

/* Dictionaries one context can hold: the current one and the previous
 * one during a rollout, with room to spare. */
#define CW_COMPRESS_MAX_DICTS 4

/* Streaming decoders (long watch streams) must not be talked into a window
 * larger than the biggest message (16 MiB). */
#define CW_COMPRESS_WINDOW_LOG_MAX 24

struct cw_compress;

/*
 * Create a context compressing at @level (0: CW_COMPRESS_LEVEL_DEFAULT),
 * allocating through @mem (NULL: cw_alloc_default()), zstd's own
 * allocations included. Returns 0 with *@out set, -EINVAL for a level zstd
 * does not support or a @mem without both functions, -ENOMEM.
 */
int cw_compress_init(struct cw_compress **out, const struct cw_alloc *mem, int level);

/* Free the context, its zstd contexts and its dictionaries. NULL is a no-op. */
void cw_compress_free(struct cw_compress *c);

/*
 * Digest a zstd dictionary (as `causewayctl dict train` writes it) for both
 * directions; the bytes are copied (with 16 KiB of decoding room behind
 * them), @dict may be freed on return. Returns 0
 * with *@id set (when @id is non-NULL) to its dictionary id; -EINVAL if it
 * is not a zstd dictionary with a non-zero id (raw content cannot be named
 * in Hello); -EEXIST if a dictionary with that id is already loaded;
 * -ENOSPC if CW_COMPRESS_MAX_DICTS are; -ENOMEM.
 */
int cw_compress_add_dict(struct cw_compress *c, const void *dict, size_t len, uint32_t *id);

/* Non-zero if a dictionary with @id is loaded. */
int cw_compress_has_dict(const struct cw_compress *c, uint32_t id);

/*
 * The dictionary id of a dictionary file's bytes, 0 if they are not a zstd
 * dictionary. No context needed: the agent lists its ids before any.
 */
uint32_t cw_compress_dict_id(const void *dict, size_t len);

/* Worst-case compressed size of @len bytes, for sizing @dst. */
size_t cw_compress_bound(size_t len);

/*
 * Encode @len bytes of @src into @dst (@cap bytes) with @enc; @dict_id
 * names the dictionary for CW_ENC_ZSTD_DICT and is ignored otherwise.
 * zstd frames carry their content size and dictionary id, no checksum (the
 * AEAD already authenticates the bytes). Returns the encoded length;
 * -ENOSPC if it does not fit in @cap (cw_compress_bound(len) always fits);
 * -ENOKEY if @dict_id is not loaded; -EINVAL for an unknown @enc;
 * -ENOMEM if zstd needed memory for a larger input than before and the
 * allocator refused; -EIO for any other zstd failure.
 */
ptrdiff_t cw_compress(struct cw_compress *c, enum cw_encoding enc, uint32_t dict_id,
		      const void *src, size_t len, void *dst, size_t cap);

/*
 * Decode @len bytes of @src, sent as @enc with dictionary @dict_id (for
 * CW_ENC_ZSTD_DICT) and a declared uncompressed length @declared, into @dst
 * of @cap bytes. Writes at most min(@declared, @cap) bytes (for IDENTITY,
 * whose @declared may be 0 meaning @len: at most min(@len, @cap)) and
 * allocates nothing. Returns the decoded length, and otherwise:
 *   -EMSGSIZE  @declared, the frame's content size or the identity length
 *              exceeds @cap
 *   -EBADMSG   anything else wrong with the bytes: an unknown @enc; not
 *              exactly one zstd frame; no content size in the header; a
 *              content size or an identity length that differs from
 *              @declared; a window over 2^CW_COMPRESS_WINDOW_LOG_MAX; a
 *              frame made with another dictionary (or with one, for
 *              CW_ENC_ZSTD); truncated or corrupt data; output that does
 *              not match the header
 *   -ENOKEY    CW_ENC_ZSTD_DICT with a @dict_id this context does not hold
 * All of them are the peer's doing (-ENOKEY: it used a dictionary that
 * was not agreed): the caller counts them apart and drops the message
 * (DECOMPRESSION_FAILED in tunnel/PROTOCOL.md §14).
 */
ptrdiff_t cw_decompress(struct cw_compress *c, enum cw_encoding enc, uint32_t dict_id,
			const void *src, size_t len, size_t declared, void *dst, size_t cap);

#endif /* CW_COMPRESS_H */
