/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aead.h"

void cw_aead_nonce(const uint8_t iv[CW_IV_LEN], uint64_t pn, uint8_t nonce[CW_IV_LEN])
{
	memcpy(nonce, iv, CW_IV_LEN);
	for (int i = 0; i < 8; i++)
		nonce[CW_IV_LEN - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

static const char *cipher_name(enum cw_aead_alg alg)
{
	switch (alg) {
	case CW_AEAD_AES_128_GCM:
		return "AES-128-GCM";
	case CW_AEAD_CHACHA20_POLY1305:
		return "ChaCha20-Poly1305";
	}
	return NULL;
}

int cw_aead_init(struct cw_aead *a, enum cw_aead_alg alg, const struct cw_pkt_keys *keys, bool seal)
{
	const char *name = cipher_name(alg);
	EVP_CIPHER *cipher;
	int ok;

	if (!a)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	if (!name || !keys || keys->key_len != cw_aead_key_len(alg))
		return -EINVAL;

	a->ctx = EVP_CIPHER_CTX_new();
	if (!a->ctx)
		return -ENOMEM;
	/* Fetched explicitly once so that no packet pays for an implicit
	 * fetch; the context keeps its own reference. */
	cipher = EVP_CIPHER_fetch(NULL, name, NULL);
	ok = cipher && EVP_CipherInit_ex(a->ctx, cipher, NULL, keys->key, NULL, seal) == 1 &&
	     EVP_CIPHER_CTX_get_iv_length(a->ctx) == CW_IV_LEN;
	EVP_CIPHER_free(cipher);
	if (!ok) {
		cw_aead_free(a);
		return -EIO;
	}
	memcpy(a->iv, keys->iv, CW_IV_LEN);
	a->seal = seal;
	return 0;
}

void cw_aead_free(struct cw_aead *a)
{
	if (!a)
		return;
	/* EVP_CIPHER_CTX_free() cleanses the key schedule itself. */
	EVP_CIPHER_CTX_free(a->ctx);
	OPENSSL_cleanse(a, sizeof(*a));
}

int cw_aead_seal(struct cw_aead *a, uint64_t pn, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t nonce[CW_IV_LEN];
	int n;

	if (!a || !a->ctx || !a->seal || (!aad && aad_len) || (!in && in_len) || !out)
		return -EINVAL;
	if (in_len > CW_AEAD_MAX_LEN || aad_len > CW_AEAD_MAX_LEN)
		return -EMSGSIZE;

	cw_aead_nonce(a->iv, pn, nonce);
	if (EVP_EncryptInit_ex(a->ctx, NULL, NULL, NULL, nonce) != 1)
		return -EIO;
	if (aad_len && EVP_EncryptUpdate(a->ctx, NULL, &n, aad, (int)aad_len) != 1)
		return -EIO;
	if (in_len && EVP_EncryptUpdate(a->ctx, out, &n, in, (int)in_len) != 1)
		return -EIO;
	/* Both ciphers are stream modes: Final emits no bytes, it computes
	 * the tag. */
	if (EVP_EncryptFinal_ex(a->ctx, out + in_len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, CW_AEAD_TAG_LEN, out + in_len) != 1)
		return -EIO;
	return 0;
}

int cw_aead_open(struct cw_aead *a, uint64_t pn, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t nonce[CW_IV_LEN], tag[CW_AEAD_TAG_LEN];
	size_t ct_len;
	int n;

	if (!a || !a->ctx || a->seal || (!aad && aad_len) || !in || !out)
		return -EINVAL;
	if (in_len > CW_AEAD_MAX_LEN + CW_AEAD_TAG_LEN || aad_len > CW_AEAD_MAX_LEN)
		return -EMSGSIZE;
	if (in_len < CW_AEAD_TAG_LEN)
		return -EBADMSG;
	ct_len = in_len - CW_AEAD_TAG_LEN;
	/* A copy: the control call takes a non-const pointer and @in is
	 * the caller's. */
	memcpy(tag, in + ct_len, CW_AEAD_TAG_LEN);

	cw_aead_nonce(a->iv, pn, nonce);
	if (EVP_DecryptInit_ex(a->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, CW_AEAD_TAG_LEN, tag) != 1)
		goto err;
	if (aad_len && EVP_DecryptUpdate(a->ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto err;
	if (ct_len && EVP_DecryptUpdate(a->ctx, out, &n, in, (int)ct_len) != 1)
		goto err;
	if (EVP_DecryptFinal_ex(a->ctx, out + ct_len, &n) != 1)
		goto bad;
	return 0;
err:
	OPENSSL_cleanse(out, ct_len);
	return -EIO;
bad:
	/* The plaintext is out before the tag is known to be wrong. */
	OPENSSL_cleanse(out, ct_len);
	return -EBADMSG;
}

const uint8_t cw_retry_key[16] = {
    0xe3, 0xe4, 0x98, 0xdb, 0xbb, 0x4a, 0x92, 0x48, 0x92, 0x14, 0xe1, 0x24, 0x3b, 0xff, 0x71, 0x5c,
};
const uint8_t cw_retry_nonce[12] = {
    0x07, 0x66, 0xfa, 0xd7, 0xe3, 0x15, 0x05, 0xc7, 0xda, 0xbc, 0x9e, 0x13,
};

int cw_retry_init(struct cw_aead *a)
{
	struct cw_pkt_keys k = {.key_len = sizeof(cw_retry_key)};

	memcpy(k.key, cw_retry_key, sizeof(cw_retry_key));
	/* With packet number 0 the nonce is the IV itself. */
	memcpy(k.iv, cw_retry_nonce, sizeof(cw_retry_nonce));
	return cw_aead_init(a, CW_AEAD_AES_128_GCM, &k, true);
}

int cw_retry_tag(struct cw_aead *a, const uint8_t *odcid, size_t odcid_len, const uint8_t *pkt,
		 size_t pkt_len, uint8_t tag[CW_AEAD_TAG_LEN])
{
	uint8_t len = (uint8_t)odcid_len;
	int n;

	if (!a || !a->ctx || !a->seal || (!odcid && odcid_len) || odcid_len > 20 || !pkt || !tag)
		return -EINVAL;
	if (pkt_len > CW_AEAD_MAX_LEN)
		return -EMSGSIZE;
	/* GCM takes its associated data in pieces, so the pseudo-packet is
	 * never assembled in a buffer. */
	if (EVP_EncryptInit_ex(a->ctx, NULL, NULL, NULL, a->iv) != 1 ||
	    EVP_EncryptUpdate(a->ctx, NULL, &n, &len, 1) != 1 ||
	    (odcid_len && EVP_EncryptUpdate(a->ctx, NULL, &n, odcid, (int)odcid_len) != 1) ||
	    (pkt_len && EVP_EncryptUpdate(a->ctx, NULL, &n, pkt, (int)pkt_len) != 1) ||
	    EVP_EncryptFinal_ex(a->ctx, tag, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, CW_AEAD_TAG_LEN, tag) != 1)
		return -EIO;
	return 0;
}

int cw_retry_verify(struct cw_aead *a, const uint8_t *odcid, size_t odcid_len, const uint8_t *pkt,
		    size_t pkt_len)
{
	uint8_t tag[CW_AEAD_TAG_LEN];
	int rc;

	if (!pkt)
		return -EINVAL;
	if (pkt_len < CW_AEAD_TAG_LEN)
		return -EBADMSG;
	rc = cw_retry_tag(a, odcid, odcid_len, pkt, pkt_len - CW_AEAD_TAG_LEN, tag);
	if (rc)
		return rc;
	return CRYPTO_memcmp(tag, pkt + pkt_len - CW_AEAD_TAG_LEN, CW_AEAD_TAG_LEN) ? -EBADMSG : 0;
}

/* New key and IV on an initialised context: no allocation, no fetch. */
static int aead_rekey(struct cw_aead *a, const struct cw_pkt_keys *k)
{
	if (EVP_CipherInit_ex(a->ctx, NULL, NULL, k->key, NULL, a->seal) != 1)
		return -EIO;
	memcpy(a->iv, k->iv, CW_IV_LEN);
	return 0;
}

int cw_keyset_init(struct cw_keyset *ks, enum cw_aead_alg alg,
		   const uint8_t tx_secret[CW_SECRET_LEN], const uint8_t rx_secret[CW_SECRET_LEN])
{
	struct cw_pkt_keys txk, rxk, nextk;
	int rc;

	if (!ks)
		return -EINVAL;
	memset(ks, 0, sizeof(*ks));
	if (!tx_secret || !rx_secret || !cw_aead_key_len(alg))
		return -EINVAL;
	ks->alg = alg;
	ks->rx_first_pn = UINT64_MAX;
	memcpy(ks->tx_secret, tx_secret, CW_SECRET_LEN);

	rc = cw_keys_derive(tx_secret, alg, &txk);
	if (!rc)
		rc = cw_keys_derive(rx_secret, alg, &rxk);
	if (!rc)
		rc = cw_keys_next_secret(rx_secret, ks->rx_next_secret);
	if (!rc)
		rc = cw_keys_derive(ks->rx_next_secret, alg, &nextk);
	if (!rc)
		rc = cw_aead_init(&ks->tx, alg, &txk, true);
	if (!rc)
		rc = cw_aead_init(&ks->rx, alg, &rxk, false);
	if (!rc)
		rc = cw_aead_init(&ks->rx_next, alg, &nextk, false);
	OPENSSL_cleanse(&txk, sizeof(txk));
	OPENSSL_cleanse(&rxk, sizeof(rxk));
	OPENSSL_cleanse(&nextk, sizeof(nextk));
	if (rc)
		cw_keyset_free(ks);
	return rc;
}

void cw_keyset_free(struct cw_keyset *ks)
{
	if (!ks)
		return;
	cw_aead_free(&ks->tx);
	cw_aead_free(&ks->rx);
	cw_aead_free(&ks->rx_next);
	cw_aead_free(&ks->rx_prev);
	OPENSSL_cleanse(ks, sizeof(*ks));
}

int cw_keyset_seal(struct cw_keyset *ks, uint64_t pn, const uint8_t *aad, size_t aad_len,
		   const uint8_t *in, size_t in_len, uint8_t *out)
{
	if (!ks)
		return -EINVAL;
	return cw_aead_seal(&ks->tx, pn, aad, aad_len, in, in_len, out);
}

enum cw_key_epoch cw_keyset_rx_epoch(const struct cw_keyset *ks, unsigned phase, uint64_t pn)
{
	if ((phase & 1) == ks->phase)
		return CW_KEY_CURRENT;
	/* The peer's next phase starts above every packet of its current
	 * one, so a lower number can only be an old packet. */
	if (ks->has_prev && pn < ks->rx_first_pn)
		return CW_KEY_PREVIOUS;
	if (!ks->has_prev && ks->rx_first_pn != UINT64_MAX && pn < ks->rx_first_pn)
		return CW_KEY_DISCARDED;
	return CW_KEY_NEXT;
}

/* Everything that can fail without touching @ks happens first: the two
 * derivations, then the context for the phase after next, which takes the
 * place of the old previous keys (dropped anyway). */
static int keyset_rotate(struct cw_keyset *ks)
{
	uint8_t tx_secret[CW_SECRET_LEN], next_secret[CW_SECRET_LEN];
	struct cw_pkt_keys txk, nextk;
	struct cw_aead spare;
	int rc;

	rc = cw_keys_next_secret(ks->tx_secret, tx_secret);
	if (!rc)
		rc = cw_keys_derive(tx_secret, ks->alg, &txk);
	if (!rc)
		rc = cw_keys_next_secret(ks->rx_next_secret, next_secret);
	if (!rc)
		rc = cw_keys_derive(next_secret, ks->alg, &nextk);
	if (rc)
		goto out;

	if (ks->rx_prev.ctx)
		rc = aead_rekey(&ks->rx_prev, &nextk);
	else
		rc = cw_aead_init(&ks->rx_prev, ks->alg, &nextk, false);
	if (rc) {
		cw_aead_free(&ks->rx_prev);
		ks->has_prev = false;
		goto out;
	}
	rc = aead_rekey(&ks->tx, &txk);
	if (rc)
		goto out;

	spare = ks->rx_prev;
	ks->rx_prev = ks->rx;
	ks->rx = ks->rx_next;
	ks->rx_next = spare;
	OPENSSL_cleanse(&spare, sizeof(spare));
	memcpy(ks->tx_secret, tx_secret, CW_SECRET_LEN);
	memcpy(ks->rx_next_secret, next_secret, CW_SECRET_LEN);
	ks->has_prev = true;
	ks->phase ^= 1;
	ks->rx_first_pn = UINT64_MAX;
	ks->updates++;
out:
	OPENSSL_cleanse(tx_secret, sizeof(tx_secret));
	OPENSSL_cleanse(next_secret, sizeof(next_secret));
	OPENSSL_cleanse(&txk, sizeof(txk));
	OPENSSL_cleanse(&nextk, sizeof(nextk));
	return rc;
}

int cw_keyset_open(struct cw_keyset *ks, unsigned phase, uint64_t pn, const uint8_t *aad,
		   size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out,
		   enum cw_key_epoch *epoch)
{
	enum cw_key_epoch e;
	struct cw_aead *a;
	int rc;

	if (!ks)
		return -EINVAL;
	e = cw_keyset_rx_epoch(ks, phase, pn);
	if (epoch)
		*epoch = e;
	if (e == CW_KEY_DISCARDED)
		return -ENOKEY;
	a = e == CW_KEY_CURRENT ? &ks->rx : e == CW_KEY_PREVIOUS ? &ks->rx_prev : &ks->rx_next;
	rc = cw_aead_open(a, pn, aad, aad_len, in, in_len, out);
	if (rc)
		return rc;

	if (e == CW_KEY_NEXT) {
		rc = keyset_rotate(ks);
		if (rc) {
			OPENSSL_cleanse(out, in_len - CW_AEAD_TAG_LEN);
			return rc;
		}
	}
	if (e != CW_KEY_PREVIOUS && pn < ks->rx_first_pn)
		ks->rx_first_pn = pn;
	return 0;
}

int cw_keyset_update(struct cw_keyset *ks)
{
	if (!ks || !ks->tx.ctx)
		return -EINVAL;
	return keyset_rotate(ks);
}

void cw_keyset_discard_prev(struct cw_keyset *ks)
{
	if (!ks)
		return;
	/* Freed, not kept for the next update: an idle session holds three
	 * contexts instead of four (~1.2 KiB each), and the freed key
	 * schedule is cleansed, so a discarded key does not linger. */
	cw_aead_free(&ks->rx_prev);
	ks->has_prev = false;
}
