/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "cid.h"

#define ROUNDS 4

_Static_assert(CW_CID_LEN == 8, "the Feistel network works on two 32-bit halves");

int cw_cid_codec_init(struct cw_cid_codec *c, const uint8_t key[CW_CID_KEY_LEN])
{
	EVP_CIPHER *aes;
	int ok;

	if (!c)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	if (!key)
		return -EINVAL;
	c->ctx = EVP_CIPHER_CTX_new();
	if (!c->ctx)
		return -ENOMEM;
	aes = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	/* No padding: every call is exactly one block, so ECB keeps no state
	 * between calls and the context can be reused as is. */
	ok = aes && EVP_EncryptInit_ex(c->ctx, aes, NULL, key, NULL) == 1 &&
	     EVP_CIPHER_CTX_set_padding(c->ctx, 0) == 1;
	EVP_CIPHER_free(aes);
	if (!ok) {
		cw_cid_codec_free(c);
		return -EIO;
	}
	return 0;
}

void cw_cid_codec_free(struct cw_cid_codec *c)
{
	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->ctx);
	c->ctx = NULL;
}

static int round_f(const struct cw_cid_codec *c, uint8_t i, uint32_t r, uint32_t *f)
{
	uint8_t in[16] = {i, (uint8_t)(r >> 24), (uint8_t)(r >> 16), (uint8_t)(r >> 8), (uint8_t)r};
	uint8_t out[16];
	int n;

	if (EVP_EncryptUpdate(c->ctx, out, &n, in, sizeof(in)) != 1 || n != sizeof(out))
		return -EIO;
	*f = (uint32_t)out[0] << 24 | (uint32_t)out[1] << 16 | (uint32_t)out[2] << 8 | out[3];
	return 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int cw_cid_encode(const struct cw_cid_codec *c, uint8_t worker, uint32_t slot, uint32_t nonce,
		  uint8_t cid[CW_CID_LEN])
{
	uint32_t l = (uint32_t)worker << 24 | slot, r = nonce, f, t;
	int rc;

	if (!c || !c->ctx || !cid || slot > CW_CID_SLOT_MAX)
		return -EINVAL;
	for (uint8_t i = 0; i < ROUNDS; i++) {
		rc = round_f(c, i, r, &f);
		if (rc)
			return rc;
		t = r;
		r = l ^ f;
		l = t;
	}
	put32(cid, l);
	put32(cid + 4, r);
	return 0;
}

int cw_cid_decode(const struct cw_cid_codec *c, const uint8_t cid[CW_CID_LEN], uint8_t *worker,
		  uint32_t *slot, uint32_t *nonce)
{
	uint32_t l, r, f, t;
	int rc;

	if (!c || !c->ctx || !cid)
		return -EINVAL;
	l = get32(cid);
	r = get32(cid + 4);
	for (int i = ROUNDS - 1; i >= 0; i--) {
		rc = round_f(c, (uint8_t)i, l, &f);
		if (rc)
			return rc;
		t = l;
		l = r ^ f;
		r = t;
	}
	if (worker)
		*worker = (uint8_t)(l >> 24);
	if (slot)
		*slot = l & CW_CID_SLOT_MAX;
	if (nonce)
		*nonce = r;
	return 0;
}
