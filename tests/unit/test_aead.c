/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/aead.c: published vectors (AES-128-GCM test case 4 of McGrew and
 * Viega's GCM specification, ChaCha20-Poly1305 of RFC 8439 §2.8.2) reached
 * through the nonce construction, round trips of both ciphers in place and
 * out of place, every tampered byte rejected with the plaintext wiped, and
 * key updates between two endpoints checked against keys derived by hand;
 * the short-header packet and RETRY tag of PROTOCOL.md Appendix B.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "testutil.h"

#include <openssl/evp.h>

#include "tunnel/aead.h"

#define BUF 2048

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Packet keys whose nonce for @pn is @nonce: iv = nonce XOR pn, computed
 * here byte by byte rather than with cw_aead_nonce(). */
static void keys_for(struct cw_pkt_keys *k, const char *key_hex, const char *nonce_hex, uint64_t pn)
{
	memset(k, 0, sizeof(*k));
	k->key_len = (uint8_t)tu_unhex(key_hex, k->key);
	assert_int_equal(tu_unhex(nonce_hex, k->iv), CW_IV_LEN);
	for (int i = 0; i < 8; i++)
		k->iv[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* ---- nonce ------------------------------------------------------------- */

static void test_nonce(void **state)
{
	static const struct {
		uint64_t pn;
		uint8_t want[CW_IV_LEN];
	} t[] = {
	    {0, {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b}},
	    {1, {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0a}},
	    {0x0123456789abcdefull,
	     {0x00, 0x01, 0x02, 0x03, 0x05, 0x26, 0x43, 0x60, 0x81, 0xa2, 0xc7, 0xe4}},
	    {(1ull << 62) - 1,
	     {0x00, 0x01, 0x02, 0x03, 0x3b, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4}},
	    {UINT64_MAX, {0x00, 0x01, 0x02, 0x03, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4}},
	};
	const uint8_t iv[CW_IV_LEN] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	uint8_t nonce[CW_IV_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cw_aead_nonce(iv, t[i].pn, nonce);
		assert_memory_equal(nonce, t[i].want, CW_IV_LEN);
	}
}

/* ---- known-answer vectors ---------------------------------------------- */

struct kat {
	enum cw_aead_alg alg;
	const char *key, *nonce, *aad, *pt, *ct_tag;
	uint64_t pn;
};

static const struct kat kats[] = {
    /* GCM spec test case 4 (AES-128, 60-byte plaintext, 20-byte AAD). */
    {CW_AEAD_AES_128_GCM, "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e"
     "2449a6b525b16aedf5aa0de657ba637b39",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a"
     "5aac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47",
     0x2a},
    /* RFC 8439 §2.8.2 ("Ladies and Gentlemen of the class of '99..."). */
    {CW_AEAD_CHACHA20_POLY1305, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
     "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7",
     "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966"
     "204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f72207468652066757475"
     "72652c2073756e73637265656e20776f756c642062652069742e",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
     "da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad67594"
     "5585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b61161ae10b594f09e26a7e902ecbd0600691",
     0x0102030405060708ull},
};

static void test_known_answers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		const struct kat *v = &kats[i];
		uint8_t aad[64], pt[BUF], want[BUF], buf[BUF];
		size_t aad_len = tu_unhex(v->aad, aad), pt_len = tu_unhex(v->pt, pt);
		struct cw_aead s, o;
		struct cw_pkt_keys k;

		assert_int_equal(tu_unhex(v->ct_tag, want), pt_len + CW_AEAD_TAG_LEN);
		keys_for(&k, v->key, v->nonce, v->pn);
		assert_int_equal(cw_aead_init(&s, v->alg, &k, true), 0);
		assert_int_equal(cw_aead_init(&o, v->alg, &k, false), 0);

		/* Out of place. */
		assert_int_equal(cw_aead_seal(&s, v->pn, aad, aad_len, pt, pt_len, buf), 0);
		assert_memory_equal(buf, want, pt_len + CW_AEAD_TAG_LEN);
		memset(buf, 0, sizeof(buf));
		assert_int_equal(
		    cw_aead_open(&o, v->pn, aad, aad_len, want, pt_len + CW_AEAD_TAG_LEN, buf), 0);
		assert_memory_equal(buf, pt, pt_len);

		/* In place, twice: the per-packet nonce reset leaves no state. */
		for (int r = 0; r < 2; r++) {
			memcpy(buf, pt, pt_len);
			assert_int_equal(cw_aead_seal(&s, v->pn, aad, aad_len, buf, pt_len, buf),
					 0);
			assert_memory_equal(buf, want, pt_len + CW_AEAD_TAG_LEN);
			assert_int_equal(cw_aead_open(&o, v->pn, aad, aad_len, buf,
						      pt_len + CW_AEAD_TAG_LEN, buf),
					 0);
			assert_memory_equal(buf, pt, pt_len);
		}
		cw_aead_free(&s);
		cw_aead_free(&o);
	}
}

/* PROTOCOL.md Appendix B.5: a whole short-header packet, from the phase-0
 * keys of secret 00..1f (B.3) to the bytes on the wire. */
static void test_protocol_b5(void **state)
{
	uint8_t secret[32], want[28], pkt[28], out[1];
	const uint8_t ping = 0x01;
	struct cw_keyset ks, peer;

	(void)state;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)i;
	assert_int_equal(tu_unhex("41f05ea6e141bd82655c02ffea357b3f761abe3c35f79fe43e3481fc", want),
			 28);
	assert_int_equal(cw_keyset_init(&ks, CW_AEAD_AES_128_GCM, secret, secret), 0);
	assert_int_equal(cw_keyset_init(&peer, CW_AEAD_AES_128_GCM, secret, secret), 0);
	memcpy(pkt, want, 11);
	assert_int_equal(cw_keyset_seal(&ks, 0xac5c02, pkt, 11, &ping, 1, pkt + 11), 0);
	assert_memory_equal(pkt, want, sizeof(want));
	assert_int_equal(
	    cw_keyset_open(&peer, 0, 0xac5c02, want, 11, want + 11, sizeof(want) - 11, out, NULL),
	    0);
	assert_int_equal(out[0], ping);
	cw_keyset_free(&ks);
	cw_keyset_free(&peer);
}

/* PROTOCOL.md §6.8 and Appendix B.9: the RETRY integrity tag. */
static void test_retry_tag(void **state)
{
	uint8_t pkt[69], odcid[8], tag[CW_AEAD_TAG_LEN], md[32];
	unsigned int mdlen;
	struct cw_aead a;

	(void)state;
	/* The fixed values are what their derivation says. */
	assert_int_equal(EVP_Digest("causeway retry key v1", 21, md, &mdlen, EVP_sha256(), NULL),
			 1);
	assert_memory_equal(md, cw_retry_key, 16);
	assert_int_equal(EVP_Digest("causeway retry nonce v1", 23, md, &mdlen, EVP_sha256(), NULL),
			 1);
	assert_memory_equal(md, cw_retry_nonce, 12);

	assert_int_equal(tu_unhex("e04357000108f067a5502a4262b5085f3a2c0e91b7d448016926a0c0088394c8"
				  "f03e51570888f892e301578a51a5ffe64ed2a1f0dfab3965903a1525dff23b6c"
				  "98dce74ad1",
				  pkt),
			 sizeof(pkt));
	tu_unhex("8394c8f03e515708", odcid);
	assert_int_equal(cw_retry_init(&a), 0);
	assert_int_equal(cw_retry_tag(&a, odcid, sizeof(odcid), pkt, sizeof(pkt) - 16, tag), 0);
	assert_memory_equal(tag, pkt + sizeof(pkt) - 16, 16);
	assert_int_equal(cw_retry_verify(&a, odcid, sizeof(odcid), pkt, sizeof(pkt)), 0);

	/* Another original DCID (an off-path forger's guess), any flipped bit,
	 * or a truncated packet fails. */
	odcid[7] ^= 1;
	assert_int_equal(cw_retry_verify(&a, odcid, sizeof(odcid), pkt, sizeof(pkt)), -EBADMSG);
	assert_int_equal(cw_retry_verify(&a, odcid, 7, pkt, sizeof(pkt)), -EBADMSG);
	odcid[7] ^= 1;
	for (size_t i = 0; i < sizeof(pkt) * 8; i++) {
		pkt[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(cw_retry_verify(&a, odcid, sizeof(odcid), pkt, sizeof(pkt)),
				 -EBADMSG);
		pkt[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_int_equal(cw_retry_verify(&a, odcid, sizeof(odcid), pkt, sizeof(pkt) - 1), -EBADMSG);
	assert_int_equal(cw_retry_verify(&a, odcid, sizeof(odcid), pkt, 15), -EBADMSG);
	assert_int_equal(cw_retry_verify(&a, odcid, 21, pkt, sizeof(pkt)), -EINVAL);
	assert_int_equal(cw_retry_verify(&a, odcid, sizeof(odcid), pkt, sizeof(pkt)), 0);
	cw_aead_free(&a);
}

/* ---- round trips and rejection ----------------------------------------- */

static void pair(enum cw_aead_alg alg, struct cw_aead *s, struct cw_aead *o, uint8_t seed)
{
	struct cw_pkt_keys k = {.key_len = (uint8_t)cw_aead_key_len(alg)};

	fill(k.key, sizeof(k.key), seed);
	fill(k.iv, sizeof(k.iv), (uint8_t)(seed + 100));
	assert_int_equal(cw_aead_init(s, alg, &k, true), 0);
	assert_int_equal(cw_aead_init(o, alg, &k, false), 0);
}

static void test_round_trips(void **state)
{
	static const size_t lens[] = {0, 1, 15, 16, 17, 63, 64, 1000, 1350 - 30};
	static const size_t aads[] = {0, 1, 13, 20};

	(void)state;
	for (int alg = 0; alg < 2; alg++) {
		struct cw_aead s, o;

		pair((enum cw_aead_alg)alg, &s, &o, 1);
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			for (size_t a = 0; a < sizeof(aads) / sizeof(aads[0]); a++) {
				uint8_t aad[32], pt[BUF], ct[BUF], back[BUF];
				uint64_t pn = l * 1000 + a;
				size_t n = lens[l];

				fill(aad, aads[a], 9);
				fill(pt, n, (uint8_t)(l + a));
				assert_int_equal(
				    cw_aead_seal(&s, pn, aads[a] ? aad : NULL, aads[a], pt, n, ct),
				    0);
				if (n >= 16)
					assert_memory_not_equal(ct, pt, n);
				assert_int_equal(cw_aead_open(&o, pn, aads[a] ? aad : NULL, aads[a],
							      ct, n + CW_AEAD_TAG_LEN, back),
						 0);
				assert_memory_equal(back, pt, n);
				/* Another packet number is another nonce. */
				assert_int_equal(cw_aead_open(&o, pn + 1, aads[a] ? aad : NULL,
							      aads[a], ct, n + CW_AEAD_TAG_LEN,
							      back),
						 -EBADMSG);
			}
		}
		cw_aead_free(&s);
		cw_aead_free(&o);
	}
}

/* The same packet through OpenSSL's EVP interface, as reference. */
static void evp_seal(enum cw_aead_alg alg, const struct cw_pkt_keys *k, uint64_t pn,
		     const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
		     uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *cipher =
	    alg == CW_AEAD_AES_128_GCM ? EVP_aes_128_gcm() : EVP_chacha20_poly1305();
	uint8_t nonce[CW_IV_LEN];
	int n;

	assert_non_null(c);
	cw_aead_nonce(k->iv, pn, nonce);
	assert_int_equal(EVP_EncryptInit_ex(c, cipher, NULL, k->key, nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len), 1);
	assert_int_equal(EVP_EncryptUpdate(c, out, &n, in, (int)len), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, out + len, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, CW_AEAD_TAG_LEN, out + len),
			 1);
	EVP_CIPHER_CTX_free(c);
}

/* Packets sealed one after the other on one context, with a rejected
 * packet between them on the opening side, are each what a fresh EVP
 * context makes of them: no state leaks from one packet to the next. */
static void test_matches_evp(void **state)
{
	static const size_t lens[] = {0, 1, 15, 16, 17, 255, 1321, 1000, 3};

	(void)state;
	for (int alg = 0; alg < 2; alg++) {
		struct cw_pkt_keys k = {.key_len = (uint8_t)cw_aead_key_len((enum cw_aead_alg)alg)};
		struct cw_aead s, o;

		fill(k.key, k.key_len, 0x31);
		fill(k.iv, CW_IV_LEN, 0x52);
		assert_int_equal(cw_aead_init(&s, (enum cw_aead_alg)alg, &k, true), 0);
		assert_int_equal(cw_aead_init(&o, (enum cw_aead_alg)alg, &k, false), 0);
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			uint8_t aad[21], pt[BUF], ct[BUF], ref[BUF], back[BUF];
			size_t n = lens[i], aad_len = i % 3 ? 13 + i : 1;
			uint64_t pn = 0x1234567 * i;

			fill(aad, aad_len, (uint8_t)i);
			fill(pt, n, (uint8_t)(0x70 + i));
			evp_seal((enum cw_aead_alg)alg, &k, pn, aad, aad_len, pt, n, ref);
			assert_int_equal(cw_aead_seal(&s, pn, aad, aad_len, pt, n, ct), 0);
			assert_memory_equal(ct, ref, n + CW_AEAD_TAG_LEN);

			ct[n] ^= 0x80;
			assert_int_equal(
			    cw_aead_open(&o, pn, aad, aad_len, ct, n + CW_AEAD_TAG_LEN, back),
			    -EBADMSG);
			ct[n] ^= 0x80;
			assert_int_equal(
			    cw_aead_open(&o, pn, aad, aad_len, ct, n + CW_AEAD_TAG_LEN, back), 0);
			assert_memory_equal(back, pt, n);
		}
		cw_aead_free(&s);
		cw_aead_free(&o);
	}
}

static void test_tampering(void **state)
{
	(void)state;
	for (int alg = 0; alg < 2; alg++) {
		uint8_t aad[20], pt[100], ct[100 + CW_AEAD_TAG_LEN], bad[sizeof(ct)], out[100];
		struct cw_aead s, o, other_s, other_o;

		pair((enum cw_aead_alg)alg, &s, &o, 1);
		pair((enum cw_aead_alg)alg, &other_s, &other_o, 2);
		fill(aad, sizeof(aad), 3);
		fill(pt, sizeof(pt), 4);
		assert_int_equal(cw_aead_seal(&s, 77, aad, sizeof(aad), pt, sizeof(pt), ct), 0);

		/* Every bit position of ciphertext and tag, one at a time. */
		for (size_t i = 0; i < sizeof(ct) * 8; i++) {
			memcpy(bad, ct, sizeof(ct));
			bad[i / 8] ^= (uint8_t)(1u << (i % 8));
			memset(out, 0xaa, sizeof(out));
			assert_int_equal(
			    cw_aead_open(&o, 77, aad, sizeof(aad), bad, sizeof(bad), out),
			    -EBADMSG);
			assert_true(all_zero(out, sizeof(out)));
		}
		for (size_t i = 0; i < sizeof(aad); i++) {
			aad[i] ^= 0x40;
			assert_int_equal(
			    cw_aead_open(&o, 77, aad, sizeof(aad), ct, sizeof(ct), out), -EBADMSG);
			aad[i] ^= 0x40;
		}
		/* Dropped AAD, truncated or extended input, wrong key. */
		assert_int_equal(cw_aead_open(&o, 77, NULL, 0, ct, sizeof(ct), out), -EBADMSG);
		assert_int_equal(cw_aead_open(&o, 77, aad, sizeof(aad) - 1, ct, sizeof(ct), out),
				 -EBADMSG);
		assert_int_equal(cw_aead_open(&o, 77, aad, sizeof(aad), ct, sizeof(ct) - 1, out),
				 -EBADMSG);
		for (size_t n = 0; n < CW_AEAD_TAG_LEN; n++)
			assert_int_equal(cw_aead_open(&o, 77, aad, sizeof(aad), ct, n, out),
					 -EBADMSG);
		assert_int_equal(cw_aead_open(&other_o, 77, aad, sizeof(aad), ct, sizeof(ct), out),
				 -EBADMSG);

		/* In place: the failed buffer is wiped, not left half-decrypted. */
		memcpy(bad, ct, sizeof(ct));
		bad[sizeof(bad) - 1] ^= 1;
		assert_int_equal(cw_aead_open(&o, 77, aad, sizeof(aad), bad, sizeof(bad), bad),
				 -EBADMSG);
		assert_true(all_zero(bad, sizeof(pt)));

		/* The context still works after failures. */
		assert_int_equal(cw_aead_open(&o, 77, aad, sizeof(aad), ct, sizeof(ct), out), 0);
		assert_memory_equal(out, pt, sizeof(pt));

		cw_aead_free(&s);
		cw_aead_free(&o);
		cw_aead_free(&other_s);
		cw_aead_free(&other_o);
	}
}

static void test_tag_only(void **state)
{
	uint8_t tag[CW_AEAD_TAG_LEN], out[1];
	const uint8_t aad[4] = {1, 2, 3, 4};
	struct cw_aead s, o;

	(void)state;
	pair(CW_AEAD_AES_128_GCM, &s, &o, 5);
	assert_int_equal(cw_aead_seal(&s, 0, aad, sizeof(aad), NULL, 0, tag), 0);
	assert_int_equal(cw_aead_open(&o, 0, aad, sizeof(aad), tag, sizeof(tag), out), 0);
	tag[0] ^= 1;
	assert_int_equal(cw_aead_open(&o, 0, aad, sizeof(aad), tag, sizeof(tag), out), -EBADMSG);
	cw_aead_free(&s);
	cw_aead_free(&o);
}

static void test_bad_arguments(void **state)
{
	struct cw_pkt_keys k = {.key_len = 16};
	uint8_t buf[64] = {0};
	struct cw_aead s, o, z;

	(void)state;
	assert_int_equal(cw_aead_init(&z, CW_AEAD_CHACHA20_POLY1305, &k, true), -EINVAL);
	assert_null(z.ctx);
	cw_aead_free(&z);
	assert_int_equal(cw_aead_init(&z, (enum cw_aead_alg)9, &k, true), -EINVAL);
	assert_int_equal(cw_aead_init(&z, CW_AEAD_AES_128_GCM, NULL, true), -EINVAL);
	cw_aead_free(NULL);

	pair(CW_AEAD_AES_128_GCM, &s, &o, 6);
	/* A context only works in the direction it was made for. */
	assert_int_equal(cw_aead_open(&s, 0, NULL, 0, buf, 32, buf), -EINVAL);
	assert_int_equal(cw_aead_seal(&o, 0, NULL, 0, buf, 16, buf), -EINVAL);
	assert_int_equal(cw_aead_seal(&s, 0, NULL, 1, buf, 16, buf), -EINVAL);
	assert_int_equal(cw_aead_seal(&s, 0, NULL, 0, buf, (size_t)CW_AEAD_MAX_LEN + 1, buf),
			 -EMSGSIZE);
	cw_aead_free(&s);
	cw_aead_free(&o);
	/* Freed twice is harmless. */
	cw_aead_free(&s);
}

/* ---- key update -------------------------------------------------------- */

struct endpoint {
	struct cw_keyset ks;
	uint64_t next_pn;
};

/* Send @len bytes from @from to @to; returns what cw_keyset_open() says and
 * the epoch it used. */
static int xfer(struct endpoint *from, struct endpoint *to, size_t len, enum cw_key_epoch *e)
{
	uint8_t hdr[9], pt[200], pkt[200 + CW_AEAD_TAG_LEN], out[200];
	uint64_t pn = from->next_pn++;
	int rc;

	hdr[0] = (uint8_t)(0x40 | cw_keyset_tx_phase(&from->ks) << 2);
	fill(hdr + 1, 8, 0x33);
	fill(pt, len, (uint8_t)pn);
	assert_int_equal(cw_keyset_seal(&from->ks, pn, hdr, sizeof(hdr), pt, len, pkt), 0);
	rc = cw_keyset_open(&to->ks, (hdr[0] >> 2) & 1, pn, hdr, sizeof(hdr), pkt,
			    len + CW_AEAD_TAG_LEN, out, e);
	if (!rc)
		assert_memory_equal(out, pt, len);
	return rc;
}

/* A packet of @from sealed now but delivered later. */
struct held {
	uint8_t hdr[9], pkt[64 + CW_AEAD_TAG_LEN];
	uint64_t pn;
};

static void hold(struct endpoint *from, struct held *h)
{
	uint8_t pt[64];

	h->pn = from->next_pn++;
	h->hdr[0] = (uint8_t)(0x40 | cw_keyset_tx_phase(&from->ks) << 2);
	fill(h->hdr + 1, 8, 0x33);
	fill(pt, sizeof(pt), 1);
	assert_int_equal(cw_keyset_seal(&from->ks, h->pn, h->hdr, 9, pt, sizeof(pt), h->pkt), 0);
}

static int deliver(struct endpoint *to, const struct held *h, enum cw_key_epoch *e)
{
	uint8_t out[64];

	return cw_keyset_open(&to->ks, (h->hdr[0] >> 2) & 1, h->pn, h->hdr, 9, h->pkt,
			      sizeof(h->pkt), out, e);
}

static void endpoints(struct endpoint *a, struct endpoint *b, enum cw_aead_alg alg,
		      uint8_t csec[32], uint8_t ssec[32])
{
	fill(csec, 32, 0x11);
	fill(ssec, 32, 0x22);
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	assert_int_equal(cw_keyset_init(&a->ks, alg, csec, ssec), 0);
	assert_int_equal(cw_keyset_init(&b->ks, alg, ssec, csec), 0);
}

static void test_key_update(void **state)
{
	(void)state;
	for (int alg = 0; alg < 2; alg++) {
		uint8_t csec[32], ssec[32], c1[32], s1[32];
		struct endpoint a, b;
		struct held old_a, old_a2;
		enum cw_key_epoch e;

		endpoints(&a, &b, (enum cw_aead_alg)alg, csec, ssec);
		assert_int_equal(xfer(&a, &b, 50, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);
		assert_int_equal(xfer(&b, &a, 50, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);
		/* Current-phase traffic makes no context for the next keys. */
		assert_null(a.ks.rx_next.ctx);
		assert_null(b.ks.rx_next.ctx);

		/* A sealed before its update, delivered after B followed. */
		hold(&a, &old_a);
		hold(&a, &old_a2);

		/* A initiates. Its old-phase traffic from B still opens. */
		assert_int_equal(cw_keyset_update(&a.ks), 0);
		assert_int_equal(cw_keyset_tx_phase(&a.ks), 1);
		assert_true(a.ks.has_prev);
		assert_non_null(a.ks.rx.ctx);
		assert_null(a.ks.rx_next.ctx);
		assert_int_equal(xfer(&b, &a, 10, &e), 0);
		assert_int_equal(e, CW_KEY_PREVIOUS);

		/* B sees the flipped bit, verifies with its next keys, follows. */
		assert_int_equal(xfer(&a, &b, 60, &e), 0);
		assert_int_equal(e, CW_KEY_NEXT);
		assert_int_equal(cw_keyset_tx_phase(&b.ks), 1);
		assert_int_equal(b.ks.updates, 1);
		assert_null(b.ks.rx_next.ctx);
		assert_int_equal(xfer(&b, &a, 70, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);
		assert_int_equal(xfer(&a, &b, 80, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);

		/* Reordered packet of the old phase: previous keys. */
		assert_int_equal(deliver(&b, &old_a, &e), 0);
		assert_int_equal(e, CW_KEY_PREVIOUS);
		assert_int_equal(cw_keyset_tx_phase(&b.ks), 1);

		/* The new keys are those of the "ku" secrets. */
		assert_int_equal(cw_keys_next_secret(csec, c1), 0);
		assert_int_equal(cw_keys_next_secret(ssec, s1), 0);
		assert_memory_equal(a.ks.tx_secret, c1, 32);
		assert_memory_equal(b.ks.tx_secret, s1, 32);
		{
			struct cw_pkt_keys k;
			struct cw_aead o;
			uint8_t hdr[1] = {0x44}, pt[5] = {1, 2, 3, 4, 5}, pkt[5 + 16], out[5];

			assert_int_equal(cw_keys_derive(c1, (enum cw_aead_alg)alg, &k), 0);
			assert_int_equal(cw_aead_init(&o, (enum cw_aead_alg)alg, &k, false), 0);
			assert_int_equal(cw_keyset_seal(&a.ks, 1000, hdr, 1, pt, 5, pkt), 0);
			assert_int_equal(cw_aead_open(&o, 1000, hdr, 1, pkt, sizeof(pkt), out), 0);
			assert_memory_equal(out, pt, 5);
			cw_aead_free(&o);
		}

		/* After 3 PTO B drops the previous keys: the last old-phase packet
		 * is dropped undecrypted and changes nothing. */
		cw_keyset_discard_prev(&b.ks);
		assert_false(b.ks.has_prev);
		assert_int_equal(deliver(&b, &old_a2, &e), -ENOKEY);
		assert_int_equal(e, CW_KEY_DISCARDED);
		assert_int_equal(cw_keyset_tx_phase(&b.ks), 1);
		assert_int_equal(b.ks.updates, 1);
		cw_keyset_discard_prev(&a.ks);

		/* Second update, this time from B, back to phase 0. */
		assert_int_equal(cw_keyset_update(&b.ks), 0);
		assert_int_equal(cw_keyset_tx_phase(&b.ks), 0);
		assert_int_equal(xfer(&b, &a, 90, &e), 0);
		assert_int_equal(e, CW_KEY_NEXT);
		assert_int_equal(cw_keyset_tx_phase(&a.ks), 0);
		assert_int_equal(xfer(&a, &b, 100, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);
		assert_int_equal(a.ks.updates, 2);
		assert_int_equal(b.ks.updates, 2);

		cw_keyset_free(&a.ks);
		cw_keyset_free(&b.ks);
		/* Freed twice is harmless. */
		cw_keyset_free(&a.ks);
	}
}

/* Updates back to back, previous keys never discarded (their context is
 * re-keyed each time): both ends follow the "ku" chain. */
static void test_repeated_updates(void **state)
{
	uint8_t csec[32], ssec[32];
	struct endpoint a, b;
	enum cw_key_epoch e;

	(void)state;
	endpoints(&a, &b, CW_AEAD_CHACHA20_POLY1305, csec, ssec);
	for (int i = 1; i <= 6; i++) {
		struct endpoint *init = i % 3 ? &a : &b, *resp = i % 3 ? &b : &a;

		assert_int_equal(cw_keyset_update(&init->ks), 0);
		assert_int_equal(xfer(init, resp, 30, &e), 0);
		assert_int_equal(e, CW_KEY_NEXT);
		assert_int_equal(xfer(resp, init, 30, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);
		assert_int_equal(cw_keys_next_secret(csec, csec), 0);
		assert_int_equal(cw_keys_next_secret(ssec, ssec), 0);
		assert_memory_equal(a.ks.tx_secret, csec, 32);
		assert_memory_equal(b.ks.tx_secret, ssec, 32);
		assert_int_equal(cw_keyset_tx_phase(&a.ks), (unsigned)i & 1);
		assert_int_equal(cw_keyset_tx_phase(&b.ks), (unsigned)i & 1);
		assert_true(a.ks.has_prev && b.ks.has_prev);
	}
	cw_keyset_free(&a.ks);
	cw_keyset_free(&b.ks);
}

/* An attacker flipping the key phase bit (it is in the AAD) cannot make a
 * receiver change keys. */
static void test_forged_phase(void **state)
{
	uint8_t csec[32], ssec[32], hdr[9], pt[40], pkt[40 + CW_AEAD_TAG_LEN], out[40];
	struct endpoint a, b;
	enum cw_key_epoch e;

	(void)state;
	endpoints(&a, &b, CW_AEAD_AES_128_GCM, csec, ssec);
	hdr[0] = 0x40;
	fill(hdr + 1, 8, 0x33);
	fill(pt, sizeof(pt), 7);
	assert_int_equal(cw_keyset_seal(&a.ks, 5, hdr, sizeof(hdr), pt, sizeof(pt), pkt), 0);
	hdr[0] |= 0x04;
	assert_int_equal(cw_keyset_open(&b.ks, 1, 5, hdr, sizeof(hdr), pkt, sizeof(pkt), out, &e),
			 -EBADMSG);
	assert_int_equal(e, CW_KEY_NEXT);
	assert_int_equal(cw_keyset_tx_phase(&b.ks), 0);
	assert_int_equal(b.ks.updates, 0);
	assert_int_equal(b.ks.rx_first_pn, UINT64_MAX);
	/* The genuine packet still opens under the current keys. */
	hdr[0] &= (uint8_t)~0x04;
	assert_int_equal(cw_keyset_open(&b.ks, 0, 5, hdr, sizeof(hdr), pkt, sizeof(pkt), out, &e),
			 0);
	assert_int_equal(e, CW_KEY_CURRENT);
	assert_memory_equal(out, pt, sizeof(pt));
	assert_int_equal(b.ks.rx_first_pn, 5);
	cw_keyset_free(&a.ks);
	cw_keyset_free(&b.ks);
}

/* The epoch choice of RFC 9001 §6.5, as a table. */
static void test_rx_epoch(void **state)
{
	uint8_t csec[32], ssec[32];
	struct endpoint a, b;
	static const struct {
		bool has_prev;
		uint64_t first_pn;
		unsigned phase;
		uint64_t pn;
		enum cw_key_epoch want;
	} t[] = {
	    {false, UINT64_MAX, 0, 0, CW_KEY_CURRENT},
	    {false, UINT64_MAX, 1, 0, CW_KEY_NEXT},
	    {false, 10, 1, 5, CW_KEY_DISCARDED},
	    {false, 10, 1, 10, CW_KEY_NEXT},
	    {true, UINT64_MAX, 1, 1000000, CW_KEY_PREVIOUS},
	    {true, 10, 1, 9, CW_KEY_PREVIOUS},
	    {true, 10, 1, 10, CW_KEY_NEXT},
	    {true, 10, 1, 11, CW_KEY_NEXT},
	    {true, 10, 0, 3, CW_KEY_CURRENT},
	    {true, 10, 2, 3, CW_KEY_CURRENT}, /* only the low bit counts */
	};

	(void)state;
	endpoints(&a, &b, CW_AEAD_AES_128_GCM, csec, ssec);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		a.ks.has_prev = t[i].has_prev;
		a.ks.rx_first_pn = t[i].first_pn;
		assert_int_equal(cw_keyset_rx_epoch(&a.ks, t[i].phase, t[i].pn), t[i].want);
	}
	cw_keyset_free(&a.ks);
	cw_keyset_free(&b.ks);
}

/*
 * After cw_keyset_sleep() the keyset holds no context of its current keys;
 * the next seal and open make them again from the kept keys, so traffic
 * continues in the same phase, and an update from asleep works too.
 */
static void test_keyset_sleep(void **state)
{
	(void)state;
	for (int alg = 0; alg < 2; alg++) {
		uint8_t csec[32], ssec[32];
		struct endpoint a, b;
		enum cw_key_epoch e;

		endpoints(&a, &b, (enum cw_aead_alg)alg, csec, ssec);
		assert_int_equal(xfer(&a, &b, 40, &e), 0);
		cw_keyset_sleep(&a.ks);
		cw_keyset_sleep(&b.ks);
		assert_false(cw_keyset_awake(&a.ks));
		assert_null(b.ks.tx.ctx);
		assert_null(b.ks.rx.ctx);
		assert_int_equal(xfer(&a, &b, 41, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);
		assert_non_null(a.ks.tx.ctx);
		assert_null(a.ks.rx.ctx);
		assert_non_null(b.ks.rx.ctx);
		assert_int_equal(xfer(&b, &a, 42, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);
		assert_int_equal(cw_keyset_tx_phase(&a.ks), 0);

		/* A sleeps again and updates from there; B follows. */
		cw_keyset_sleep(&a.ks);
		assert_int_equal(cw_keyset_update(&a.ks), 0);
		assert_int_equal(xfer(&a, &b, 43, &e), 0);
		assert_int_equal(e, CW_KEY_NEXT);
		assert_int_equal(xfer(&b, &a, 44, &e), 0);
		assert_int_equal(e, CW_KEY_CURRENT);
		assert_int_equal(cw_keyset_tx_phase(&b.ks), 1);
		cw_keyset_free(&a.ks);
		cw_keyset_free(&b.ks);
	}
}

static void test_keyset_bad_arguments(void **state)
{
	uint8_t sec[32] = {0};
	struct cw_keyset ks;

	(void)state;
	assert_int_equal(cw_keyset_init(&ks, (enum cw_aead_alg)3, sec, sec), -EINVAL);
	assert_null(ks.tx.ctx);
	cw_keyset_free(&ks);
	assert_int_equal(cw_keyset_init(&ks, CW_AEAD_AES_128_GCM, NULL, sec), -EINVAL);
	assert_int_equal(cw_keyset_update(&ks), -EINVAL);
	assert_int_equal(cw_keyset_init(NULL, CW_AEAD_AES_128_GCM, sec, sec), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nonce),
	    cmocka_unit_test(test_known_answers),
	    cmocka_unit_test(test_protocol_b5),
	    cmocka_unit_test(test_retry_tag),
	    cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_matches_evp),
	    cmocka_unit_test(test_tampering),
	    cmocka_unit_test(test_tag_only),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_key_update),
	    cmocka_unit_test(test_keyset_sleep),
	    cmocka_unit_test(test_repeated_updates),
	    cmocka_unit_test(test_forged_phase),
	    cmocka_unit_test(test_rx_epoch),
	    cmocka_unit_test(test_keyset_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
