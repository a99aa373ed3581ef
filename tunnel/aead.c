/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

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

/* @names is a provider's "name1:name2:..." list. */
static bool names_have(const char *names, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = names;; p++) {
		if (OPENSSL_strncasecmp(p, name, n) == 0 && (p[n] == '\0' || p[n] == ':'))
			return true;
		p = strchr(p, ':');
		if (!p)
			return false;
	}
}

/* What every context of one cipher and direction shares: the fetched
 * cipher, which holds its provider, and the provider's functions. Found
 * once per process: the fetch and the query cost about 1 us, several
 * times the context itself, and a session makes its contexts again each
 * time it wakes from cold (conn.h), 10,000 sessions at once when a change
 * reaches every watching agent. */
struct cw_aead_impl {
	EVP_CIPHER *cipher; /* kept until exit */
	void *provctx;
	OSSL_FUNC_cipher_newctx_fn *newctx;
	struct cw_aead_fns fn;
	int err; /* of finding it: 0 or -EIO */
};

#define N_ALGS (CW_AEAD_CHACHA20_POLY1305 + 1)

static struct cw_aead_impl impls[N_ALGS][2]; /* [alg][seal] */
static pthread_once_t impls_once = PTHREAD_ONCE_INIT;

static void fns_set(struct cw_aead_impl *im, const OSSL_DISPATCH *d, bool seal)
{
	for (; d->function_id; d++) {
		switch (d->function_id) {
		case OSSL_FUNC_CIPHER_NEWCTX:
			im->newctx = OSSL_FUNC_cipher_newctx(d);
			break;
		case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
			if (seal)
				im->fn.init = OSSL_FUNC_cipher_encrypt_init(d);
			break;
		case OSSL_FUNC_CIPHER_DECRYPT_INIT:
			if (!seal)
				im->fn.init = OSSL_FUNC_cipher_decrypt_init(d);
			break;
		case OSSL_FUNC_CIPHER_UPDATE:
			im->fn.update = OSSL_FUNC_cipher_update(d);
			break;
		case OSSL_FUNC_CIPHER_FINAL:
			im->fn.final = OSSL_FUNC_cipher_final(d);
			break;
		case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
			im->fn.get_params = OSSL_FUNC_cipher_get_ctx_params(d);
			break;
		case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
			im->fn.set_params = OSSL_FUNC_cipher_set_ctx_params(d);
			break;
		case OSSL_FUNC_CIPHER_FREECTX:
			im->fn.freectx = OSSL_FUNC_cipher_freectx(d);
			break;
		}
	}
}

/*
 * The functions of the implementation EVP_CIPHER_fetch() chose, found in
 * its provider's table under the same name. The functions are the
 * provider's public interface (provider-cipher(7)): EVP calls the same
 * ones, with the same arguments but for the IV length it asks the
 * provider for each time, which here is the fixed CW_IV_LEN.
 */
static int impl_find(struct cw_aead_impl *im, const char *name, bool seal)
{
	const OSSL_PROVIDER *prov;
	const OSSL_ALGORITHM *algs, *alg;
	int no_cache;

	im->cipher = EVP_CIPHER_fetch(NULL, name, NULL);
	if (!im->cipher || EVP_CIPHER_get_iv_length(im->cipher) != CW_IV_LEN)
		return -EIO;
	prov = EVP_CIPHER_get0_provider(im->cipher);
	algs = prov ? OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER, &no_cache) : NULL;
	for (alg = algs; alg && alg->algorithm_names; alg++) {
		if (names_have(alg->algorithm_names, name)) {
			fns_set(im, alg->implementation, seal);
			break;
		}
	}
	if (algs)
		OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_CIPHER, algs);
	if (!im->newctx || !im->fn.init || !im->fn.update || !im->fn.final || !im->fn.get_params ||
	    !im->fn.set_params || !im->fn.freectx)
		return -EIO;
	im->provctx = OSSL_PROVIDER_get0_provider_ctx(prov);
	return 0;
}

static void impls_find(void)
{
	for (int alg = 0; alg < N_ALGS; alg++)
		for (int seal = 0; seal < 2; seal++)
			impls[alg][seal].err = impl_find(&impls[alg][seal], cipher_name(alg), seal);
}

int cw_aead_init(struct cw_aead *a, enum cw_aead_alg alg, const struct cw_pkt_keys *keys, bool seal)
{
	const struct cw_aead_impl *im;

	if (!a)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	if (!cipher_name(alg) || !keys || keys->key_len != cw_aead_key_len(alg))
		return -EINVAL;
	if (pthread_once(&impls_once, impls_find))
		return -EIO;
	im = &impls[alg][seal];
	if (im->err)
		return im->err;
	a->ctx = im->newctx(im->provctx);
	if (!a->ctx)
		return -ENOMEM;
	a->fn = &im->fn;
	if (a->fn->init(a->ctx, keys->key, keys->key_len, NULL, 0, NULL) != 1) {
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
	/* The provider cleanses the key schedule as it frees its context. */
	if (a->ctx)
		a->fn->freectx(a->ctx);
	OPENSSL_cleanse(a, sizeof(*a));
}

/*
 * The tag is a parameter of the provider's context: each exchange costs
 * a lookup by name of every parameter the cipher knows (~500
 * instructions), which no public interface avoids.
 */
static int aead_get_tag(struct cw_aead *a, uint8_t tag[CW_AEAD_TAG_LEN])
{
	OSSL_PARAM p[2] = {
	    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, CW_AEAD_TAG_LEN),
	    OSSL_PARAM_END,
	};

	return a->fn->get_params(a->ctx, p) == 1 ? 0 : -EIO;
}

static int aead_set_tag(struct cw_aead *a, uint8_t tag[CW_AEAD_TAG_LEN])
{
	OSSL_PARAM p[2] = {
	    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, CW_AEAD_TAG_LEN),
	    OSSL_PARAM_END,
	};

	return a->fn->set_params(a->ctx, p) == 1 ? 0 : -EIO;
}

/* New nonce: a fresh AEAD operation under the same key. */
static int aead_start(struct cw_aead *a, const uint8_t nonce[CW_IV_LEN])
{
	return a->fn->init(a->ctx, NULL, 0, nonce, CW_IV_LEN, NULL) == 1 ? 0 : -EIO;
}

/* Associated data when @out is NULL, else en- or decryption into @out. */
static int aead_update(struct cw_aead *a, uint8_t *out, const uint8_t *in, size_t len)
{
	size_t n;

	if (!len)
		return 0;
	return a->fn->update(a->ctx, out, &n, len, in, len) == 1 ? 0 : -EIO;
}

/* Both ciphers are stream modes: final emits no bytes at @out, it
 * computes (or, opening, verifies) the tag. */
static int aead_final(struct cw_aead *a, uint8_t *out)
{
	size_t n;

	return a->fn->final(a->ctx, out, &n, 0) == 1 ? 0 : -EIO;
}

int cw_aead_seal(struct cw_aead *a, uint64_t pn, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t nonce[CW_IV_LEN];
	int rc;

	if (!a || !a->ctx || !a->seal || (!aad && aad_len) || (!in && in_len) || !out)
		return -EINVAL;
	if (in_len > CW_AEAD_MAX_LEN || aad_len > CW_AEAD_MAX_LEN)
		return -EMSGSIZE;

	cw_aead_nonce(a->iv, pn, nonce);
	rc = aead_start(a, nonce);
	if (!rc)
		rc = aead_update(a, NULL, aad, aad_len);
	if (!rc)
		rc = aead_update(a, out, in, in_len);
	if (!rc)
		rc = aead_final(a, out + in_len);
	return rc ? rc : aead_get_tag(a, out + in_len);
}

int cw_aead_open(struct cw_aead *a, uint64_t pn, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t nonce[CW_IV_LEN], tag[CW_AEAD_TAG_LEN];
	size_t ct_len;

	if (!a || !a->ctx || a->seal || (!aad && aad_len) || !in || !out)
		return -EINVAL;
	if (in_len > CW_AEAD_MAX_LEN + CW_AEAD_TAG_LEN || aad_len > CW_AEAD_MAX_LEN)
		return -EMSGSIZE;
	if (in_len < CW_AEAD_TAG_LEN)
		return -EBADMSG;
	ct_len = in_len - CW_AEAD_TAG_LEN;
	/* A copy: a parameter's data pointer is not const and @in is the
	 * caller's. */
	memcpy(tag, in + ct_len, CW_AEAD_TAG_LEN);

	cw_aead_nonce(a->iv, pn, nonce);
	if (aead_start(a, nonce) || aead_set_tag(a, tag) || aead_update(a, NULL, aad, aad_len) ||
	    aead_update(a, out, in, ct_len))
		goto err;
	if (aead_final(a, out + ct_len))
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

	if (!a || !a->ctx || !a->seal || (!odcid && odcid_len) || odcid_len > 20 || !pkt || !tag)
		return -EINVAL;
	if (pkt_len > CW_AEAD_MAX_LEN)
		return -EMSGSIZE;
	/* GCM takes its associated data in pieces, so the pseudo-packet is
	 * never assembled in a buffer. */
	if (aead_start(a, a->iv) || aead_update(a, NULL, &len, 1) ||
	    aead_update(a, NULL, odcid, odcid_len) || aead_update(a, NULL, pkt, pkt_len) ||
	    aead_final(a, tag))
		return -EIO;
	return aead_get_tag(a, tag);
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
	if (a->fn->init(a->ctx, k->key, k->key_len, NULL, 0, NULL) != 1)
		return -EIO;
	memcpy(a->iv, k->iv, CW_IV_LEN);
	return 0;
}

int cw_keyset_init(struct cw_keyset *ks, enum cw_aead_alg alg,
		   const uint8_t tx_secret[CW_SECRET_LEN], const uint8_t rx_secret[CW_SECRET_LEN])
{
	int rc;

	if (!ks)
		return -EINVAL;
	memset(ks, 0, sizeof(*ks));
	if (!tx_secret || !rx_secret || !cw_aead_key_len(alg))
		return -EINVAL;
	ks->alg = alg;
	ks->rx_first_pn = UINT64_MAX;
	memcpy(ks->tx_secret, tx_secret, CW_SECRET_LEN);

	rc = cw_keys_derive(tx_secret, alg, &ks->tx_keys);
	if (!rc)
		rc = cw_keys_derive(rx_secret, alg, &ks->rx_keys);
	if (!rc)
		rc = cw_keys_next_secret(rx_secret, ks->rx_next_secret);
	if (!rc)
		rc = cw_keys_derive(ks->rx_next_secret, alg, &ks->rx_next_keys);
	if (!rc)
		rc = cw_aead_init(&ks->tx, alg, &ks->tx_keys, true);
	if (!rc)
		rc = cw_aead_init(&ks->rx, alg, &ks->rx_keys, false);
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

/* @a's context, made from @k unless it exists; a freed keyset's keys
 * are zeroed, which cw_aead_init() refuses (-EINVAL). */
static int ctx_ready(const struct cw_keyset *ks, struct cw_aead *a, const struct cw_pkt_keys *k,
		     bool seal)
{
	if (a->ctx)
		return 0;
	return cw_aead_init(a, ks->alg, k, seal);
}

/* Sealing after cw_keyset_sleep(): out of line, so that sealing with a
 * context stays a bare tail call (no stack frame) on the packet path. */
static __attribute__((noinline)) int seal_waking(struct cw_keyset *ks, uint64_t pn,
						 const uint8_t *aad, size_t aad_len,
						 const uint8_t *in, size_t in_len, uint8_t *out)
{
	int rc = ctx_ready(ks, &ks->tx, &ks->tx_keys, true);

	return rc ? rc : cw_aead_seal(&ks->tx, pn, aad, aad_len, in, in_len, out);
}

int cw_keyset_seal(struct cw_keyset *ks, uint64_t pn, const uint8_t *aad, size_t aad_len,
		   const uint8_t *in, size_t in_len, uint8_t *out)
{
	if (!ks)
		return -EINVAL;
	if (!ks->tx.ctx)
		return seal_waking(ks, pn, aad, aad_len, in, in_len, out);
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
 * derivations, then the contexts of the current keys and of the new
 * receive keys. */
static int keyset_rotate(struct cw_keyset *ks)
{
	uint8_t tx_secret[CW_SECRET_LEN], next_secret[CW_SECRET_LEN];
	struct cw_pkt_keys txk, nextk;
	int rc;

	rc = cw_keys_next_secret(ks->tx_secret, tx_secret);
	if (!rc)
		rc = cw_keys_derive(tx_secret, ks->alg, &txk);
	if (!rc)
		rc = cw_keys_next_secret(ks->rx_next_secret, next_secret);
	if (!rc)
		rc = cw_keys_derive(next_secret, ks->alg, &nextk);
	if (!rc)
		rc = ctx_ready(ks, &ks->tx, &ks->tx_keys, true);
	if (!rc)
		rc = ctx_ready(ks, &ks->rx, &ks->rx_keys, false);
	if (!rc)
		rc = ctx_ready(ks, &ks->rx_next, &ks->rx_next_keys, false);
	if (!rc)
		rc = aead_rekey(&ks->tx, &txk);
	if (rc)
		goto out;

	/* The phase after next has no context until a packet needs it. */
	cw_aead_free(&ks->rx_prev);
	ks->rx_prev = ks->rx;
	ks->rx = ks->rx_next;
	memset(&ks->rx_next, 0, sizeof(ks->rx_next));
	ks->tx_keys = txk;
	ks->rx_keys = ks->rx_next_keys;
	ks->rx_next_keys = nextk;
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
	if (e == CW_KEY_CURRENT)
		rc = ctx_ready(ks, &ks->rx, &ks->rx_keys, false);
	else if (e == CW_KEY_NEXT)
		rc = ctx_ready(ks, &ks->rx_next, &ks->rx_next_keys, false);
	else
		rc = 0;
	if (rc)
		return rc;
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
	if (!ks || !ks->tx_keys.key_len)
		return -EINVAL;
	return keyset_rotate(ks);
}

void cw_keyset_discard_prev(struct cw_keyset *ks)
{
	if (!ks)
		return;
	/* Freed, not kept for the next update: an idle session holds two
	 * contexts (~1 KiB each), and the freed key schedule is cleansed, so
	 * a discarded key does not linger. */
	cw_aead_free(&ks->rx_prev);
	ks->has_prev = false;
}

void cw_keyset_sleep(struct cw_keyset *ks)
{
	if (!ks)
		return;
	cw_aead_free(&ks->tx);
	cw_aead_free(&ks->rx);
	cw_aead_free(&ks->rx_next);
}
