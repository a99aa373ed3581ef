/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message-body compression (compress.h). The checks in cw_decompress run
 * on the frame header alone (zstd's own parsers), before zstd decodes
 * anything, and the decoder then gets a buffer of exactly the declared
 * size (plus, for small dictionary bodies, zstd's copy over-length in the
 * context's own scratch): the header is never trusted to bound the output.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem, the *_advanced constructors */
#include <zstd.h>
#include <zstd_errors.h>

#include "compress.h"

/* Bodies are mostly single objects of a few KiB: digest the dictionary for
 * that size rather than for an unknown one, which would pick tables sized
 * for megabytes. Larger inputs still compress correctly. The same bound
 * decides which bodies decode behind the dictionary (decode_buffer). */
#define SMALL_BODY (16u * 1024)

/*
 * Shortest match the fast strategies (levels 1 to 4) look for against the
 * dictionary; zstd's own tables say 5 or 6. Kubernetes JSON shares long
 * runs with the dictionary, and each extra match of 5 or 6 bytes is one
 * more sequence for both ends to code, which costs more than the bytes it
 * saves: on 2.4 KiB pods 7 makes frames 4 % smaller, compression 2 % and
 * decompression 6 % cheaper, and no object type loses (perf/RESULTS.md).
 */
#define DICT_MIN_MATCH 7

/* How far zstd's decoder may copy past the end of what it decodes when it
 * has the room (WILDCOPY_OVERLENGTH): with it, the last sequences of a
 * body take the fast path too. */
#define DECODE_SLACK 32

/*
 * A dictionary and, right behind its bytes, room to decode a small body
 * into: zstd then sees the dictionary's content and the output as one
 * contiguous history and copies matches into the dictionary inline instead
 * of through its separate-segment path (decode_buffer).
 */
struct cw_dict {
	uint32_t id;
	uint8_t *bytes; /* our copy, then the scratch: both digested forms refer to it */
	size_t len, bytes_size;
	void *cdict_mem; /* the static CDict lives here */
	size_t cdict_size;
	const ZSTD_CDict *cdict;
	ZSTD_DDict *ddict;
};

struct cw_compress {
	struct cw_alloc mem;
	ZSTD_customMem zmem; /* routes zstd's allocations through alloc_hook */
	int alloc_failed;    /* tells -ENOMEM from a bad dictionary */
	int level;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	unsigned ndicts;
	struct cw_dict dicts[CW_COMPRESS_MAX_DICTS];
};

/* zstd frees without a size, which struct cw_alloc needs: each block zstd
 * asks for carries its size in a header (16 bytes keep the alignment). */
#define ZHDR 16

static void *alloc_hook(void *opaque, size_t size)
{
	struct cw_compress *c = opaque;
	uint8_t *p = size <= SIZE_MAX - ZHDR ? c->mem.alloc(c->mem.ctx, size + ZHDR) : NULL;

	if (!p) {
		c->alloc_failed = 1;
		return NULL;
	}
	memcpy(p, &size, sizeof(size));
	return p + ZHDR;
}

static void free_hook(void *opaque, void *ptr)
{
	struct cw_compress *c = opaque;
	uint8_t *p = ptr;
	size_t size;

	if (!p)
		return;
	p -= ZHDR;
	memcpy(&size, p, sizeof(size));
	c->mem.free(c->mem.ctx, p, size + ZHDR);
}

int cw_compress_init(struct cw_compress **out, const struct cw_alloc *mem, int level)
{
	struct cw_alloc m = *cw_alloc_default();
	struct cw_compress *c;

	if (mem) {
		if (!mem->alloc || !mem->free)
			return -EINVAL;
		m = *mem;
	}
	if (level == 0)
		level = CW_COMPRESS_LEVEL_DEFAULT;
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return -EINVAL;
	c = m.alloc(m.ctx, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->mem = m;
	c->zmem = (ZSTD_customMem){alloc_hook, free_hook, c};
	c->level = level;
	c->cctx = ZSTD_createCCtx_advanced(c->zmem);
	c->dctx = ZSTD_createDCtx_advanced(c->zmem);
	if (!c->cctx || !c->dctx) {
		cw_compress_free(c);
		return -ENOMEM;
	}
	/* Single-shot decoding never allocates a window (the output buffer is
	 * one), but a streaming use of this context must not be sized by the
	 * peer either. */
	if (ZSTD_isError(
		ZSTD_DCtx_setParameter(c->dctx, ZSTD_d_windowLogMax, CW_COMPRESS_WINDOW_LOG_MAX))) {
		cw_compress_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

static void dict_release(struct cw_compress *c, struct cw_dict *d)
{
	ZSTD_freeDDict(d->ddict);
	if (d->cdict_mem)
		c->mem.free(c->mem.ctx, d->cdict_mem, d->cdict_size);
	if (d->bytes)
		c->mem.free(c->mem.ctx, d->bytes, d->bytes_size);
	memset(d, 0, sizeof(*d));
}

void cw_compress_free(struct cw_compress *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->ndicts; i++)
		dict_release(c, &c->dicts[i]);
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	c->mem.free(c->mem.ctx, c, sizeof(*c));
}

uint32_t cw_compress_dict_id(const void *dict, size_t len)
{
	if (!dict)
		return 0;
	return ZSTD_getDictID_fromDict(dict, len);
}

static struct cw_dict *dict_find(const struct cw_compress *c, uint32_t id)
{
	for (unsigned i = 0; i < c->ndicts; i++)
		if (c->dicts[i].id == id)
			return (struct cw_dict *)&c->dicts[i];
	return NULL;
}

int cw_compress_has_dict(const struct cw_compress *c, uint32_t id)
{
	return id != 0 && dict_find(c, id) != NULL;
}

int cw_compress_add_dict(struct cw_compress *c, const void *dict, size_t len, uint32_t *id)
{
	uint32_t did = cw_compress_dict_id(dict, len);
	struct cw_dict *d;
	ZSTD_compressionParameters cp;
	size_t wsize;

	if (did == 0)
		return -EINVAL;
	if (dict_find(c, did))
		return -EEXIST;
	if (c->ndicts == CW_COMPRESS_MAX_DICTS)
		return -ENOSPC;
	d = &c->dicts[c->ndicts];
	d->id = did;
	if (len > SIZE_MAX - SMALL_BODY - DECODE_SLACK)
		return -ENOMEM;
	d->bytes_size = len + SMALL_BODY + DECODE_SLACK;
	d->bytes = c->mem.alloc(c->mem.ctx, d->bytes_size);
	if (!d->bytes) {
		memset(d, 0, sizeof(*d));
		return -ENOMEM;
	}
	d->len = len;
	memcpy(d->bytes, dict, len);
	c->alloc_failed = 0;
	cp = ZSTD_getCParams(c->level, SMALL_BODY, len);
	if (cp.strategy <= ZSTD_dfast)
		cp.minMatch = DICT_MIN_MATCH;
	/* A static CDict in memory we allocate ourselves: zstd 1.5.4's
	 * ZSTD_createCDict_advanced dereferences NULL when one of its own
	 * allocations fails. */
	wsize = ZSTD_estimateCDictSize_advanced(len, cp, ZSTD_dlm_byRef);
	d->cdict_mem = c->mem.alloc(c->mem.ctx, wsize);
	if (!d->cdict_mem) {
		dict_release(c, d);
		return -ENOMEM;
	}
	d->cdict_size = wsize;
	/* fullDict: a header that claims a dictionary but whose entropy
	 * tables do not load is refused rather than used as raw content. */
	d->cdict = ZSTD_initStaticCDict(d->cdict_mem, wsize, d->bytes, len, ZSTD_dlm_byRef,
					ZSTD_dct_fullDict, cp);
	if (d->cdict)
		d->ddict = ZSTD_createDDict_advanced(d->bytes, len, ZSTD_dlm_byRef,
						     ZSTD_dct_fullDict, c->zmem);
	if (!d->cdict || !d->ddict) {
		int rc = c->alloc_failed ? -ENOMEM : -EINVAL;

		dict_release(c, d);
		return rc;
	}
	c->ndicts++;
	if (id)
		*id = did;
	return 0;
}

size_t cw_compress_bound(size_t len)
{
	return ZSTD_compressBound(len);
}

static ptrdiff_t zstd_compress_error(size_t r)
{
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_dstSize_tooSmall:
		return -ENOSPC;
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

ptrdiff_t cw_compress(struct cw_compress *c, enum cw_encoding enc, uint32_t dict_id,
		      const void *src, size_t len, void *dst, size_t cap)
{
	const struct cw_dict *d;
	size_t r;

	if (len > PTRDIFF_MAX)
		return -EINVAL;
	switch (enc) {
	case CW_ENC_IDENTITY:
		if (len > cap)
			return -ENOSPC;
		if (len)
			memcpy(dst, src, len);
		return (ptrdiff_t)len;
	case CW_ENC_ZSTD:
		r = ZSTD_compressCCtx(c->cctx, dst, cap, src, len, c->level);
		break;
	case CW_ENC_ZSTD_DICT:
		d = dict_id ? dict_find(c, dict_id) : NULL;
		if (!d)
			return -ENOKEY;
		r = ZSTD_compress_usingCDict(c->cctx, dst, cap, src, len, d->cdict);
		break;
	default:
		return -EINVAL;
	}
	if (ZSTD_isError(r))
		return zstd_compress_error(r);
	return (ptrdiff_t)r;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Everything that can be decided from the frame header and the block
 * headers (tunnel/PROTOCOL.md §14): exactly one standard frame (no
 * skippable frames, no legacy formats, nothing after it), its content size
 * stated and equal to @declared, a window of at most 2^24 bytes, made with
 * dictionary @dict_id (0: none).
 */
static int check_frame(const uint8_t *src, size_t len, size_t declared, size_t cap,
		       uint32_t dict_id)
{
	ZSTD_frameHeader fh;
	size_t flen;

	if (len < 4 || le32(src) != ZSTD_MAGICNUMBER)
		return -EBADMSG;
	if (ZSTD_getFrameHeader(&fh, src, len) != 0 || fh.frameType != ZSTD_frame)
		return -EBADMSG;
	if (fh.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN)
		return -EBADMSG;
	if (fh.frameContentSize > cap)
		return -EMSGSIZE;
	if (fh.frameContentSize != declared)
		return -EBADMSG;
	/* Single-shot decoding does not allocate a window, but a frame that
	 * asks for more than a streaming receiver would grant is not ours. */
	if (fh.windowSize > (1ull << CW_COMPRESS_WINDOW_LOG_MAX))
		return -EBADMSG;
	/* Our frames always name their dictionary; one that does not, or
	 * names another, would decode to garbage or fail half way. */
	if (fh.dictID != dict_id)
		return -EBADMSG;
	flen = ZSTD_findFrameCompressedSize(src, len);
	if (ZSTD_isError(flen) || flen != len)
		return -EBADMSG;
	return 0;
}

/*
 * Where to decode @declared bytes made with @d: behind the dictionary when
 * they fit there (the layout of struct cw_dict), else @dst itself. Either
 * way the buffer bounds the output, and *@room is what zstd is given.
 */
static uint8_t *decode_buffer(const struct cw_dict *d, size_t declared, uint8_t *dst, size_t *room)
{
	if (d && declared <= SMALL_BODY) {
		*room = declared + DECODE_SLACK;
		return d->bytes + d->len;
	}
	*room = declared;
	return dst;
}

ptrdiff_t cw_decompress(struct cw_compress *c, enum cw_encoding enc, uint32_t dict_id,
			const void *src, size_t len, size_t declared, void *dst, size_t cap)
{
	const ZSTD_DDict *ddict = NULL;
	const struct cw_dict *d = NULL;
	uint8_t *out;
	size_t r, room;
	int rc;

	/* The encoding comes off the wire: an unknown one is the peer's. */
	if (enc != CW_ENC_IDENTITY && enc != CW_ENC_ZSTD && enc != CW_ENC_ZSTD_DICT)
		return -EBADMSG;
	if (declared > cap || declared > PTRDIFF_MAX)
		return -EMSGSIZE;
	if (enc == CW_ENC_IDENTITY) {
		/* A declared length of 0 means "the data's own length". */
		if (declared != 0 && len != declared)
			return -EBADMSG;
		if (len > cap)
			return -EMSGSIZE;
		if (len)
			memcpy(dst, src, len);
		return (ptrdiff_t)len;
	}
	if (enc == CW_ENC_ZSTD_DICT) {
		d = dict_id ? dict_find(c, dict_id) : NULL;
		if (!d)
			return -ENOKEY;
		ddict = d->ddict;
	} else {
		dict_id = 0;
	}
	rc = check_frame(src, len, declared, cap, dict_id);
	if (rc < 0)
		return rc;
	/* Room for @declared bytes (and the slack the scratch has): a header
	 * that understates the content makes zstd stop with an error at the
	 * end of the buffer, and one that overstates it is caught by zstd's
	 * own count against the header. Only a whole body reaches @dst. */
	out = decode_buffer(d, declared, dst, &room);
	r = ZSTD_decompress_usingDDict(c->dctx, out, room, src, len, ddict);
	if (ZSTD_isError(r) || r != declared)
		return -EBADMSG;
	if (out != dst && r)
		memcpy(dst, out, r);
	return (ptrdiff_t)r;
}
