/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/keys.c: HKDF against RFC 5869 and RFC 9001 (through the generic
 * extract/expand, with the "tls13 " labels built here by hand), the "cw1 "
 * labels against values computed independently with Python's hmac and
 * hashlib, and the exporter on a real TLS 1.3 handshake between two SSL
 * objects over a BIO pair with a certificate made in the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "testutil.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tunnel/keys.h"

/* ---- helpers ---------------------------------------------------------- */

static void assert_hex(const uint8_t *got, size_t len, const char *want)
{
	uint8_t w[512];

	assert_int_equal(tu_unhex(want, w), len);
	assert_memory_equal(got, w, len);
}

/* "tls13 "-prefixed HkdfLabel, built independently of keys.c. */
static size_t tls13_info(uint8_t *info, uint16_t len, const char *label)
{
	size_t n = 0, ll = strlen(label);

	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;
	return n;
}

/* ---- HKDF ------------------------------------------------------------- */

static void test_hkdf_rfc5869_case1(void **state)
{
	uint8_t ikm[22], salt[13], info[10], prk[32], okm[42];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(0xf0 + i);

	assert_int_equal(cw_hkdf_extract(salt, sizeof(salt), ikm, sizeof(ikm), prk), 0);
	assert_hex(prk, 32, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
	assert_int_equal(cw_hkdf_expand(prk, sizeof(prk), info, sizeof(info), okm, sizeof(okm)), 0);
	assert_hex(okm, 42,
		   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3400720"
		   "8d5b887185865");
}

/* RFC 9001 Appendix A.1: the same construction with QUIC's salt and
 * labels, so the extract/expand plumbing is checked against a published
 * vector rather than only against our own Python. */
static void test_hkdf_rfc9001_initial(void **state)
{
	uint8_t salt[20], dcid[8], initial[32], client[32], server[32], key[16], iv[12];
	uint8_t info[64];
	size_t n;

	(void)state;
	tu_unhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a", salt);
	tu_unhex("8394c8f03e515708", dcid);
	assert_int_equal(cw_hkdf_extract(salt, sizeof(salt), dcid, sizeof(dcid), initial), 0);
	assert_hex(initial, 32, "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44");

	n = tls13_info(info, 32, "client in");
	assert_int_equal(cw_hkdf_expand(initial, 32, info, n, client, 32), 0);
	assert_hex(client, 32, "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea");
	n = tls13_info(info, 32, "server in");
	assert_int_equal(cw_hkdf_expand(initial, 32, info, n, server, 32), 0);
	assert_hex(server, 32, "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b");
	n = tls13_info(info, 16, "quic key");
	assert_int_equal(cw_hkdf_expand(client, 32, info, n, key, 16), 0);
	assert_hex(key, 16, "1f369613dd76d5467730efcbe3b1a22d");
	n = tls13_info(info, 12, "quic iv");
	assert_int_equal(cw_hkdf_expand(client, 32, info, n, iv, 12), 0);
	assert_hex(iv, 12, "fa044b2f42a3fd3b46fb255c");
}

static void test_expand_label_with_context(void **state)
{
	uint8_t secret[32], out[42];
	const uint8_t ctx[3] = {0xa1, 0xa2, 0xa3};

	(void)state;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)i;
	assert_int_equal(cw_hkdf_expand_label(secret, 32, "test", ctx, 3, out, sizeof(out)), 0);
	assert_hex(out, 42,
		   "5670cd4c3c52cf65b0aa8a258f66825de8fcb646b8d3e184bcc0c0b43f70eb8e877ed1c"
		   "6267c82d5c772");
}

static void test_initial_salt(void **state)
{
	static const char text[] = "causeway initial salt v1";
	uint8_t md[32];
	unsigned int len;

	(void)state;
	assert_int_equal(EVP_Digest(text, sizeof(text) - 1, md, &len, EVP_sha256(), NULL), 1);
	assert_memory_equal(cw_initial_salt, md, CW_INITIAL_SALT_LEN);
	assert_hex(cw_initial_salt, 16, "906517d9f73fae32457292ba40772b0f");
}

static void test_initial_secrets_and_keys(void **state)
{
	const uint8_t dcid[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	uint8_t client[32], server[32], next[32];
	struct cw_pkt_keys k;

	(void)state;
	assert_int_equal(cw_keys_initial(dcid, sizeof(dcid), client, server), 0);
	assert_hex(client, 32, "3176598ba68eaaa8c09e4d69fe0114ccb602b9bef338bc8c708cfbfa52986609");
	assert_hex(server, 32, "7900894fe7b14eefdc7d63fb447c39be1dd445b12a3fdc76acf5746aae3f645e");

	assert_int_equal(cw_keys_derive(client, CW_AEAD_AES_128_GCM, &k), 0);
	assert_int_equal(k.key_len, 16);
	assert_hex(k.key, 16, "4b8dd576864a00d578e6887a54aedbf9");
	assert_hex(k.iv, 12, "c8557292c1c93fd51085e9b0");

	assert_int_equal(cw_keys_derive(client, CW_AEAD_CHACHA20_POLY1305, &k), 0);
	assert_int_equal(k.key_len, 32);
	assert_hex(k.key, 32, "1c6a7e7a4f235e211b1c6cbb4e4d557e7efb49aa89903b94418f5b72b30db952");
	assert_hex(k.iv, 12, "c8557292c1c93fd51085e9b0");

	assert_int_equal(cw_keys_derive(server, CW_AEAD_AES_128_GCM, &k), 0);
	assert_hex(k.key, 16, "d529df255c8087c066883e11c67e7438");
	assert_hex(k.iv, 12, "98eef5d63a634b9db01f2e1b");

	assert_int_equal(cw_keys_next_secret(client, next), 0);
	assert_hex(next, 32, "177b8f8e205a9720c596344eb8acf0345baeca11b9f016947b1e56b6ef764afc");
	/* In place gives the same. */
	assert_int_equal(cw_keys_next_secret(client, client), 0);
	assert_memory_equal(client, next, 32);
}

/* PROTOCOL.md Appendix B.2: the long-header secrets of both packet types. */
static void test_protocol_b2(void **state)
{
	static const struct {
		bool hs;
		const char *client, *ckey, *civ, *server, *skey, *siv;
	} t[] = {
	    {false, "c3022175e0a2e84d271a19ea5425322ef4cd7a98ab93bedb89f9f0e1ae136674",
	     "17d5d8a1063bb49319dd9a7f13e7dc38", "780306852cb5a7a87fe98db1",
	     "398a2d5d6805dc129afc03d752213bf263f4e3821e75fb1f8cd136127bc05432",
	     "8fd2bf1c0984aafbe6855e299c65eb1f", "c7bced7ae7847a86d7d05ba0"},
	    {true, "1f362ef35099490fda356e480f618aa34738d9a86ad862b49e7434930e5de356",
	     "d66fa9608ea5f1de1c3735b9c3fc996e", "5060d8967fe9b033522f5307",
	     "57b18b3a687ebf689e0b2fa524580f82242b169eb1a09d407188d98f09c3aa24",
	     "56f1d1e8d3f3fd25b2fbb341e7f1612d", "effc210918216b2661015677"},
	};
	uint8_t dcid[8], initial[32], c[32], s[32];
	struct cw_pkt_keys k;

	(void)state;
	tu_unhex("8394c8f03e515708", dcid);
	assert_int_equal(
	    cw_hkdf_extract(cw_initial_salt, CW_INITIAL_SALT_LEN, dcid, sizeof(dcid), initial), 0);
	assert_hex(initial, 32, "07bf6a3959c23ceb50609970fe9c5d8a948f2be8d74d7cc208d8e9d20fa45d38");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].hs)
			assert_int_equal(cw_keys_handshake(dcid, sizeof(dcid), c, s), 0);
		else
			assert_int_equal(cw_keys_initial(dcid, sizeof(dcid), c, s), 0);
		assert_hex(c, 32, t[i].client);
		assert_hex(s, 32, t[i].server);
		assert_int_equal(cw_keys_derive(c, CW_AEAD_AES_128_GCM, &k), 0);
		assert_hex(k.key, 16, t[i].ckey);
		assert_hex(k.iv, 12, t[i].civ);
		assert_int_equal(cw_keys_derive(s, CW_AEAD_AES_128_GCM, &k), 0);
		assert_hex(k.key, 16, t[i].skey);
		assert_hex(k.iv, 12, t[i].siv);
	}
	assert_int_equal(cw_keys_handshake(dcid, 0, c, s), -EINVAL);
}

/* PROTOCOL.md Appendix B.3: 1-RTT keys of secret 00..1f and phase 1. */
static void test_protocol_b3(void **state)
{
	uint8_t secret[32], next[32];
	struct cw_pkt_keys k;

	(void)state;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)i;
	assert_int_equal(cw_keys_derive(secret, CW_AEAD_AES_128_GCM, &k), 0);
	assert_hex(k.key, 16, "e4547e2fe547c7295150b81e172dcdfe");
	assert_hex(k.iv, 12, "51d6fb3d0db2bbac2d72bb7e");
	assert_int_equal(cw_keys_derive(secret, CW_AEAD_CHACHA20_POLY1305, &k), 0);
	assert_hex(k.key, 32, "746b2aed3ae12e39c8f1e95863b60ea2f4a4616325b582f646c379360a93d3c0");
	assert_hex(k.iv, 12, "51d6fb3d0db2bbac2d72bb7e");
	assert_int_equal(cw_keys_next_secret(secret, next), 0);
	assert_hex(next, 32, "62bbd5d2554500bc8ccdfb21bb57b7d28153a42f00970439c04fbfd6491f77e2");
	assert_int_equal(cw_keys_derive(next, CW_AEAD_AES_128_GCM, &k), 0);
	assert_hex(k.key, 16, "64a98251b4a43f7a9145c348f61c0723");
	assert_hex(k.iv, 12, "a54e63a5830c57746eed5d5f");
}

static void test_bad_arguments(void **state)
{
	uint8_t secret[32] = {0}, out[64], c[32], s[32], dcid[21] = {0};
	char label[CW_HKDF_LABEL_MAX + 2];
	struct cw_pkt_keys k;

	(void)state;
	memset(label, 'a', sizeof(label));
	label[CW_HKDF_LABEL_MAX] = 0;
	assert_int_equal(cw_hkdf_expand_label(secret, 32, label, NULL, 0, out, 32), 0);
	label[CW_HKDF_LABEL_MAX] = 'a';
	label[CW_HKDF_LABEL_MAX + 1] = 0;
	assert_int_equal(cw_hkdf_expand_label(secret, 32, label, NULL, 0, out, 32), -EINVAL);
	assert_int_equal(cw_hkdf_expand_label(secret, 32, "", NULL, 0, out, 32), -EINVAL);
	assert_int_equal(cw_hkdf_expand_label(secret, 32, NULL, NULL, 0, out, 32), -EINVAL);
	assert_int_equal(cw_hkdf_expand_label(secret, 32, "x", NULL, 1, out, 32), -EINVAL);
	assert_int_equal(cw_hkdf_expand_label(secret, 32, "x", out, 256, out, 32), -EINVAL);
	assert_int_equal(cw_hkdf_expand_label(secret, 32, "x", NULL, 0, out, 0), -EINVAL);
	assert_int_equal(cw_hkdf_expand_label(secret, 16, "x", NULL, 0, out, 32), -EINVAL);
	assert_int_equal(cw_hkdf_expand(secret, 32, NULL, 0, out, 255 * 32 + 1), -EINVAL);
	assert_int_equal(cw_hkdf_extract(NULL, 0, secret, 0, out), -EINVAL);
	/* An empty salt is legal and means 32 zero bytes (RFC 5869 §2.2). */
	assert_int_equal(cw_hkdf_extract(NULL, 0, secret, 32, c), 0);
	assert_int_equal(cw_hkdf_extract(secret, 32, secret, 32, s), 0);
	assert_memory_equal(c, s, 32);

	assert_int_equal(cw_keys_derive(secret, (enum cw_aead_alg)7, &k), -EINVAL);
	assert_int_equal(cw_aead_key_len((enum cw_aead_alg)7), 0);
	assert_int_equal(cw_keys_initial(dcid, 0, c, s), -EINVAL);
	assert_int_equal(cw_keys_initial(dcid, 21, c, s), -EINVAL);
	assert_int_equal(cw_keys_initial(dcid, 20, c, s), 0);
	assert_int_equal(cw_keys_initial(dcid, 1, c, s), 0);
}

/* ---- exporter over a real handshake ------------------------------------ */

struct tls_fixture {
	EVP_PKEY *pkey;
	X509 *cert;
};

static int tls_setup(void **state)
{
	struct tls_fixture *f = calloc(1, sizeof(*f));
	X509_NAME *name;

	if (!f)
		return -1;
	f->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	f->cert = X509_new();
	if (!f->pkey || !f->cert)
		return -1;
	X509_set_version(f->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(f->cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(f->cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(f->cert), 3600);
	X509_set_pubkey(f->cert, f->pkey);
	name = X509_get_subject_name(f->cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"gw.test", -1,
				   -1, 0);
	X509_set_issuer_name(f->cert, name);
	if (!X509_sign(f->cert, f->pkey, EVP_sha256()))
		return -1;
	*state = f;
	return 0;
}

static int tls_teardown(void **state)
{
	struct tls_fixture *f = *state;

	X509_free(f->cert);
	EVP_PKEY_free(f->pkey);
	free(f);
	return 0;
}

static bool hs_step(SSL *ssl)
{
	int rc = SSL_do_handshake(ssl);

	if (rc == 1)
		return true;
	rc = SSL_get_error(ssl, rc);
	assert_true(rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE);
	return false;
}

/* Client and server over a BIO pair, the client verifying the server's
 * self-signed certificate. When @run is false the handshake is not started. */
static void tls_pair(const struct tls_fixture *f, int max_version, const char *suites, bool run,
		     SSL **pc, SSL **ps)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	BIO *bc, *bs;
	SSL *c, *s;
	bool cd = false, sd = false;

	assert_non_null(cctx);
	assert_non_null(sctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(cctx, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, max_version), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(sctx, max_version), 1);
	assert_int_equal(SSL_CTX_use_certificate(sctx, f->cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, f->pkey), 1);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), f->cert), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	if (suites)
		assert_int_equal(SSL_CTX_set_ciphersuites(sctx, suites), 1);

	c = SSL_new(cctx);
	s = SSL_new(sctx);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	assert_non_null(c);
	assert_non_null(s);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);

	for (int i = 0; run && i < 16 && !(cd && sd); i++) {
		cd = cd || hs_step(c);
		sd = sd || hs_step(s);
	}
	if (run) {
		assert_true(cd && sd);
		assert_int_equal(SSL_get_verify_result(c), X509_V_OK);
	}
	*pc = c;
	*ps = s;
}

static void test_export_tls13(void **state)
{
	const struct tls_fixture *f = *state;
	uint8_t cc[32], cs[32], sc[32], ss[32], zero[32] = {0}, raw[32];
	SSL *c, *s;

	tls_pair(f, TLS1_3_VERSION, NULL, true, &c, &s);
	assert_int_equal(SSL_version(c), TLS1_3_VERSION);
	assert_int_equal(cw_keys_export(c, cc, cs), 0);
	assert_int_equal(cw_keys_export(s, sc, ss), 0);
	/* Both ends agree, and the two directions differ. */
	assert_memory_equal(cc, sc, 32);
	assert_memory_equal(cs, ss, 32);
	assert_memory_not_equal(cc, cs, 32);
	assert_memory_not_equal(cc, zero, 32);
	assert_memory_not_equal(cs, zero, 32);
	/* The labels are the ones PROTOCOL.md names, with no context. */
	assert_int_equal(SSL_export_keying_material(s, raw, 32, "EXPORTER-causeway client secret",
						    31, NULL, 0, 0),
			 1);
	assert_memory_equal(raw, cc, 32);
	assert_int_equal(SSL_export_keying_material(c, raw, 32, "EXPORTER-causeway server secret",
						    31, NULL, 0, 0),
			 1);
	assert_memory_equal(raw, cs, 32);
	SSL_free(c);
	SSL_free(s);

	/* A second handshake yields fresh secrets. */
	tls_pair(f, TLS1_3_VERSION, NULL, true, &c, &s);
	assert_int_equal(cw_keys_export(c, sc, ss), 0);
	assert_memory_not_equal(cc, sc, 32);
	assert_memory_not_equal(cs, ss, 32);
	SSL_free(c);
	SSL_free(s);
}

static void test_suite_alg(void **state)
{
	static const struct {
		const char *suites;
		enum cw_aead_alg want;
	} t[] = {
	    {"TLS_AES_128_GCM_SHA256", CW_AEAD_AES_128_GCM},
	    {"TLS_CHACHA20_POLY1305_SHA256", CW_AEAD_CHACHA20_POLY1305},
	};
	const struct tls_fixture *f = *state;
	enum cw_aead_alg alg;
	SSL *c, *s;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		tls_pair(f, TLS1_3_VERSION, t[i].suites, true, &c, &s);
		alg = (enum cw_aead_alg) - 1;
		assert_int_equal(cw_keys_suite_alg(c, &alg), 0);
		assert_int_equal(alg, t[i].want);
		alg = (enum cw_aead_alg) - 1;
		assert_int_equal(cw_keys_suite_alg(s, &alg), 0);
		assert_int_equal(alg, t[i].want);
		SSL_free(c);
		SSL_free(s);
	}
	/* Outside the profile: AES-256-GCM. */
	tls_pair(f, TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", true, &c, &s);
	assert_int_equal(cw_keys_suite_alg(c, &alg), -EPROTO);
	SSL_free(c);
	SSL_free(s);
	tls_pair(f, TLS1_3_VERSION, NULL, false, &c, &s);
	assert_int_equal(cw_keys_suite_alg(c, &alg), -EAGAIN);
	SSL_free(c);
	SSL_free(s);
}

static void test_export_refused(void **state)
{
	const struct tls_fixture *f = *state;
	uint8_t a[32], b[32];
	SSL *c, *s;

	tls_pair(f, TLS1_3_VERSION, NULL, false, &c, &s);
	assert_int_equal(cw_keys_export(c, a, b), -EAGAIN);
	assert_int_equal(cw_keys_export(s, a, b), -EAGAIN);
	SSL_free(c);
	SSL_free(s);

	tls_pair(f, TLS1_2_VERSION, NULL, true, &c, &s);
	assert_int_equal(SSL_version(c), TLS1_2_VERSION);
	assert_int_equal(cw_keys_export(c, a, b), -EPROTO);
	assert_int_equal(cw_keys_export(s, a, b), -EPROTO);
	SSL_free(c);
	SSL_free(s);

	assert_int_equal(cw_keys_export(NULL, a, b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hkdf_rfc5869_case1),
	    cmocka_unit_test(test_hkdf_rfc9001_initial),
	    cmocka_unit_test(test_expand_label_with_context),
	    cmocka_unit_test(test_initial_salt),
	    cmocka_unit_test(test_initial_secrets_and_keys),
	    cmocka_unit_test(test_protocol_b2),
	    cmocka_unit_test(test_protocol_b3),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test_setup_teardown(test_export_tls13, tls_setup, tls_teardown),
	    cmocka_unit_test_setup_teardown(test_suite_alg, tls_setup, tls_teardown),
	    cmocka_unit_test_setup_teardown(test_export_refused, tls_setup, tls_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
