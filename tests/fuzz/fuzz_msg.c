/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the message stream decoder (tunnel/msg.c). Input:
 * byte 0 picks the receiver's limit (bit 0: 4096 bytes, else the 16 MiB
 * default) and seeds the chunk sizes (bits 7-1); the rest is the stream. It is decoded
 * whole and in chunks, and both must yield the same Envelopes and end the
 * same way. Every Envelope is encoded again and decoded again to the same
 * bytes; memory stays within the documented bounds and is all returned.
 * A violated invariant traps.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/msg.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

/* ---- counting allocator ------------------------------------------------- */

struct counter {
	size_t cur, peak;
};

static void *cnt_alloc(void *ctx, size_t n)
{
	struct counter *c = ctx;
	void *p = malloc(n ? n : 1);

	if (p) {
		c->cur += n;
		if (c->cur > c->peak)
			c->peak = c->cur;
	}
	return p;
}

static void cnt_free(void *ctx, void *p, size_t n)
{
	struct counter *c = ctx;

	check(c->cur >= n);
	c->cur -= n;
	free(p);
}

/* ---- one pass over the stream -------------------------------------------- */

struct run {
	size_t count;  /* Envelopes decoded */
	int end;       /* the first error, else what FIN says */
	uint64_t hash; /* FNV-1a over every Envelope's packed bytes */
};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint8_t *pack(const cw_envelope *env, size_t *len)
{
	uint8_t *p;

	*len = protobuf_c_message_get_packed_size(&env->base);
	p = malloc(*len ? *len : 1);
	check(p);
	check(protobuf_c_message_pack(&env->base, p) == *len);
	return p;
}

/*
 * Encode @env again and decode the result: it must come back identical.
 * An Envelope of only unknown fields cannot be sent.
 */
static void reencode(const cw_envelope *env, const uint8_t *packed, size_t plen)
{
	struct counter c = {0, 0};
	const struct cw_alloc a = {cnt_alloc, cnt_free, &c};
	size_t cap = cw_msg_encoded_len(env), n2;
	uint8_t *buf = malloc(cap), *p2;
	struct cw_msg_decoder d;
	cw_envelope *again;
	ptrdiff_t r;

	check(buf);
	r = cw_msg_encode(env, CW_MSG_SIZE_MAX, buf, cap);
	if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET) {
		check(r == -EINVAL);
		free(buf);
		return;
	}
	check(r == (ptrdiff_t)cap);
	check(cw_msg_check(env) == 0);
	check(cw_msg_decoder_init(&d, &a, CW_MSG_SIZE_MAX) == 0);
	check(cw_msg_decode(&d, buf, cap, &again) == (ptrdiff_t)cap);
	check(again && again->msg_case == env->msg_case);
	p2 = pack(again, &n2);
	check(n2 == plen && memcmp(p2, packed, plen) == 0);
	free(p2);
	cw_msg_free(&d, again);
	cw_msg_decoder_free(&d);
	check(c.cur == 0);
	free(buf);
}

static size_t next_chunk(uint32_t *seed, size_t left)
{
	size_t n;

	if (*seed == 0)
		return left;
	*seed = *seed * 1103515245u + 12345u;
	/* mostly tiny pieces, sometimes large ones */
	n = 1 + ((*seed >> 16) % ((*seed & 0x8000) ? 512 : 7));
	return n < left ? n : left;
}

static void run(const uint8_t *in, size_t len, size_t limit, uint32_t seed, bool deep,
		struct run *out)
{
	struct counter c = {0, 0};
	const struct cw_alloc a = {cnt_alloc, cnt_free, &c};
	struct cw_msg_decoder d;
	size_t at = 0;

	memset(out, 0, sizeof(*out));
	out->hash = 0xcbf29ce484222325ull;
	check(cw_msg_decoder_init(&d, &a, limit) == 0);
	while (at < len) {
		size_t chunk = next_chunk(&seed, len - at), off = 0;

		while (off < chunk) {
			cw_envelope *env;
			ptrdiff_t r = cw_msg_decode(&d, in + at + off, chunk - off, &env);

			if (r < 0) {
				check(!env);
				check(r == -EBADMSG || r == -EMSGSIZE);
				out->end = (int)r;
				goto done;
			}
			check(r > 0 && (size_t)r <= chunk - off);
			off += (size_t)r;
			check(env || off == chunk);
			if (env) {
				size_t plen;
				uint8_t *p = pack(env, &plen);

				out->hash = fnv(out->hash, p, plen);
				out->count++;
				if (deep)
					reencode(env, p, plen);
				free(p);
				cw_msg_free(&d, env);
			}
		}
		at += chunk;
	}
	out->end = cw_msg_decoder_finish(&d);
	check(out->end == 0 || out->end == -EBADMSG);
done:
	check(cw_msg_decoder_finish(&d) == out->end);
	cw_msg_decoder_free(&d);
	check(c.cur == 0);
	/* Body buffer: doubling from 2 KiB, at most twice what arrived;
	 * protobuf-c: its budget for a message no longer than the input. */
	check(c.peak <= 4096 + 2 * len + CW_MSG_DECODE_BUDGET(len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, chunked;
	size_t limit;
	uint32_t seed;

	if (size < 1)
		return 0;
	limit = (data[0] & 1) ? 4096 : CW_MSG_SIZE_DEFAULT;
	seed = data[0] >> 1;
	data++;
	size--;
	run(data, size, limit, 0, true, &whole);
	run(data, size, limit, seed ? seed * 2654435761u : 1, false, &chunked);
	check(whole.count == chunked.count);
	check(whole.end == chunked.end);
	check(whole.hash == chunked.hash);
	return 0;
}
