/* SPDX-License-Identifier: Apache-2.0 */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t, strnlen under -std=c11 */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define SUITES_AES_FIRST    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
#define SUITES_CHACHA_FIRST "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define GROUPS		    "X25519:P-256" /* X25519 first: the agent's only key share */
#define ALPN_WIRE	    "\x0a" CW_TLS_ALPN
#define ALPN_LEN	    (sizeof(CW_TLS_ALPN) - 1)
#define NODE_URI_PREFIX	    "causeway:node:"
#define NODE_CN_PREFIX	    "node:"
#define TICKET_NAME_LEN	    16
#define OUTQ_MIN	    1024

struct ticket_key {
	uint8_t name[TICKET_NAME_LEN];
	uint8_t aes[32];
	uint8_t hmac[32];
};

struct cw_tls_server_ctx {
	const struct cw_alloc *alloc;
	SSL_CTX *ssl_ctx;
	EVP_CIPHER *ticket_cipher; /* AES-256-CBC, fetched once, not per ticket */
	pthread_rwlock_t lock;	   /* guards the ticket keys only */
	struct ticket_key cur, prev;
	bool have_prev;
};

struct cw_tls_client_ctx {
	const struct cw_alloc *alloc;
	SSL_CTX *ssl_ctx;
	bool gateway_is_ip;
	char gateway_name[CW_TLS_NODE_NAME_MAX + 1];
};

/* Bytes TLS wrote for one level, not yet taken. */
struct outq {
	uint8_t *buf;
	uint32_t cap, head, len;
	uint32_t total; /* ever queued: the level's CRYPTO stream length */
};

struct cw_tls_conn {
	const struct cw_alloc *alloc;
	SSL *ssl;
	int64_t wall_time;
	bool server;
	bool peer_spoke; /* agent: CRYPTO data received, so output is Handshake */
	bool answered;	 /* gateway: first flight written, ClientHello complete */
	bool resumed;
	bool refused;	    /* gateway: our verify callback refused the node name */
	bool post_refused;  /* agent: a post-handshake message other than a ticket */
	uint32_t hello_end; /* gateway: Initial bytes that carried the ClientHello */
	enum cw_tls_state state;
	int err;
	uint8_t alert, sent_alert, recv_alert, own_alert;
	enum cw_aead_alg alg;
	uint32_t in_total[2];
	struct outq out[2];
	struct cw_tls_counters ctr;
	uint8_t client_secret[CW_SECRET_LEN];
	uint8_t server_secret[CW_SECRET_LEN];
	uint8_t *ticket;
	size_t ticket_len;
	char node_name[CW_TLS_NODE_NAME_MAX + 1];
};

/* ---- node names ---- */

static bool dns_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

bool cw_tls_node_name_valid(const char *name, size_t len)
{
	if (!name || len == 0 || len > CW_TLS_NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool label_edge =
		    i == 0 || i + 1 == len || name[i - 1] == '.' || name[i + 1] == '.';

		if (ch == '.') {
			if (i == 0 || i + 1 == len || name[i - 1] == '.')
				return false;
		} else if (ch == '-') {
			if (label_edge)
				return false;
		} else if (!dns_alnum(ch)) {
			return false;
		}
	}
	return true;
}

/* Copies @data[0..@len) into @out as a C string when it is a valid name. */
static int take_node_name(const unsigned char *data, int len, char *out)
{
	if (len <= 0 || !cw_tls_node_name_valid((const char *)data, (size_t)len))
		return -EACCES;
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	return 0;
}

/*
 * The SAN URI causeway:node:<name>; 1 if found (0 in *rc when valid),
 * 0 if the certificate has none. Two such URIs are ambiguous: refused.
 */
static int node_name_from_san(X509 *x, char *out, int *rc)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	const size_t plen = sizeof(NODE_URI_PREFIX) - 1;
	int found = 0;

	*rc = -EACCES;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;
		int len;

		if (g->type != GEN_URI)
			continue;
		d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (len < (int)plen || memcmp(d, NODE_URI_PREFIX, plen) != 0)
			continue;
		if (found++) {
			*rc = -EACCES;
			break;
		}
		*rc = take_node_name(d + plen, len - (int)plen, out);
	}
	GENERAL_NAMES_free(gens);
	return found;
}

/* The subject's single CN, which must read node:<name>. */
static int node_name_from_cn(X509 *x, char *out)
{
	const X509_NAME *n = X509_get_subject_name(x);
	const size_t plen = sizeof(NODE_CN_PREFIX) - 1;
	int idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	const ASN1_STRING *s;
	const unsigned char *d;
	int len, type;

	if (idx < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, idx) >= 0)
		return -EACCES;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
	type = ASN1_STRING_type(s);
	/* Single-byte string types only: a BMP or universal string is refused
	 * instead of being read byte by byte. */
	if (type != V_ASN1_UTF8STRING && type != V_ASN1_PRINTABLESTRING && type != V_ASN1_IA5STRING)
		return -EACCES;
	d = ASN1_STRING_get0_data(s);
	len = ASN1_STRING_length(s);
	if (len < (int)plen || memcmp(d, NODE_CN_PREFIX, plen) != 0)
		return -EACCES;
	return take_node_name(d + plen, len - (int)plen, out);
}

static int node_name_from_cert(X509 *x, char *out)
{
	int rc;

	if (!x)
		return -EACCES;
	if (node_name_from_san(x, out, &rc))
		return rc;
	return node_name_from_cn(x, out);
}

/* ---- out-queues ---- */

static void outq_free(const struct cw_alloc *a, struct outq *q)
{
	if (q->buf)
		a->free(a->ctx, q->buf, q->cap);
	q->buf = NULL;
	q->cap = q->head = q->len = 0;
}

static int outq_grow(const struct cw_alloc *a, struct outq *q, uint32_t need)
{
	uint32_t cap = q->cap ? q->cap : OUTQ_MIN;
	uint8_t *buf;

	while (cap < need)
		cap *= 2;
	if (cap > CW_TLS_CRYPTO_MAX)
		cap = CW_TLS_CRYPTO_MAX;
	buf = a->alloc(a->ctx, cap);
	if (!buf)
		return -ENOMEM;
	if (q->len)
		memcpy(buf, q->buf + q->head, q->len);
	outq_free(a, q);
	q->buf = buf;
	q->cap = cap;
	return 0;
}

static int outq_push(const struct cw_alloc *a, struct outq *q, const uint8_t *d, size_t n)
{
	uint32_t need;

	if (n > CW_TLS_CRYPTO_MAX - q->total)
		return -EMSGSIZE;
	need = q->len + (uint32_t)n;
	if (q->head + need > q->cap) {
		if (need <= q->cap) {
			memmove(q->buf, q->buf + q->head, q->len);
		} else {
			int rc = outq_grow(a, q, need);

			if (rc)
				return rc;
		}
		q->head = 0;
	}
	memcpy(q->buf + q->head + q->len, d, n);
	q->len += (uint32_t)n;
	q->total += (uint32_t)n;
	return 0;
}

/* ---- PEM loading ---- */

static bool pem_ok(const struct cw_tls_pem *p)
{
	if (p->path)
		return !p->data;
	return p->data && p->len > 0 && p->len <= INT_MAX;
}

static BIO *pem_bio(const struct cw_tls_pem *p)
{
	if (p->path)
		return BIO_new_file(p->path, "r");
	return BIO_new_mem_buf(p->data, (int)p->len);
}

int cw_tls_cert_node_name(const struct cw_tls_pem *cert, char out[CW_TLS_NODE_NAME_MAX + 1])
{
	BIO *b;
	X509 *x;
	int rc;

	if (!cert || !out || !pem_ok(cert))
		return -EINVAL;
	b = pem_bio(cert);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	ERR_clear_error();
	if (!x)
		return -EBADMSG;
	rc = node_name_from_cert(x, out);
	X509_free(x);
	return rc;
}

/* Leaf first, then chain certificates in order. */
static int load_chain(SSL_CTX *ctx, const struct cw_tls_pem *p)
{
	BIO *b = pem_bio(p);
	X509 *x;
	int rc = -EBADMSG;

	if (!b)
		return -EBADMSG;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x && SSL_CTX_use_certificate(ctx, x) == 1) {
		rc = 0;
		X509_free(x);
		while (rc == 0 && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
			if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
				X509_free(x);
				rc = -EBADMSG;
			}
	} else {
		X509_free(x);
	}
	BIO_free(b);
	return rc;
}

static int load_key(SSL_CTX *ctx, const struct cw_tls_pem *p)
{
	BIO *b = pem_bio(p);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	int rc = -EBADMSG;

	if (k && SSL_CTX_use_PrivateKey(ctx, k) == 1 && SSL_CTX_check_private_key(ctx) == 1)
		rc = 0;
	EVP_PKEY_free(k);
	BIO_free(b);
	return rc;
}

static int load_ca(SSL_CTX *ctx, const struct cw_tls_pem *p)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *b = pem_bio(p);
	X509 *x;
	int n = 0, rc = 0;

	if (!b)
		return -EBADMSG;
	while (rc == 0 && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		if (X509_STORE_add_cert(store, x) != 1)
			rc = -EBADMSG;
		X509_free(x);
		n++;
	}
	BIO_free(b);
	return n ? rc : -EBADMSG;
}

static int load_creds(SSL_CTX *ctx, const struct cw_tls_pem *cert, const struct cw_tls_pem *key,
		      const struct cw_tls_pem *ca)
{
	int rc = load_chain(ctx, cert);

	if (!rc)
		rc = load_key(ctx, key);
	if (!rc)
		rc = load_ca(ctx, ca);
	/* PEM reading ends on an EOF error; leave no stale errors behind. */
	ERR_clear_error();
	return rc;
}

/* ---- callbacks ---- */

static struct cw_tls_conn *conn_of(const SSL *s)
{
	return SSL_get_app_data(s);
}

static void info_cb(const SSL *s, int where, int ret)
{
	struct cw_tls_conn *c = conn_of(s);

	if (!c || !(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
		return;
	if (where & SSL_CB_WRITE)
		c->sent_alert = (uint8_t)(ret & 0xff);
	else
		c->recv_alert = (uint8_t)(ret & 0xff);
}

static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *s,
		   void *arg)
{
	struct cw_tls_conn *c = conn_of(s);

	(void)version;
	(void)arg;
	if (!c || content_type != SSL3_RT_HANDSHAKE || len < 1)
		return;
	/* No read-ahead: TLS has read exactly the records up to this one. */
	if (!write_p && *(const uint8_t *)buf == SSL3_MT_CLIENT_HELLO && !c->hello_end)
		c->hello_end = c->in_total[CW_PKT_INITIAL] - (uint32_t)BIO_pending(SSL_get_rbio(s));
	/* §7.1: NewSessionTicket is the only post-handshake message. */
	if (!write_p && c->state == CW_TLS_COMPLETE &&
	    *(const uint8_t *)buf != SSL3_MT_NEWSESSION_TICKET)
		c->post_refused = true;
	if (*(const uint8_t *)buf != SSL3_MT_CERTIFICATE_VERIFY)
		return;
	if (write_p)
		c->ctr.cert_verify_sent++;
	else
		c->ctr.cert_verify_received++;
}

/* Counts the work and, on the gateway, refuses a leaf without a node name. */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *s = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct cw_tls_conn *c = s ? conn_of(s) : NULL;

	if (!c)
		return 0;
	c->ctr.certs_verified++;
	if (!ok || !c->server || X509_STORE_CTX_get_error_depth(xs) != 0)
		return ok;
	if (node_name_from_cert(X509_STORE_CTX_get_current_cert(xs), c->node_name) == 0)
		return 1;
	c->refused = true;
	c->own_alert = CW_TLS_ALERT_ACCESS_DENIED;
	X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/* An ALPN extension is mandatory; the selection callback only runs with one. */
static int client_hello_cb(SSL *s, int *al, void *arg)
{
	const unsigned char *ext;
	size_t len;

	(void)arg;
	if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
				      &len) == 1)
		return SSL_CLIENT_HELLO_SUCCESS;
	*al = SSL_AD_NO_APPLICATION_PROTOCOL;
	return SSL_CLIENT_HELLO_ERROR;
}

static int alpn_select_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
			  const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)s;
	(void)arg;
	for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == ALPN_LEN && i + 1u + ALPN_LEN <= inlen &&
		    memcmp(in + i + 1, CW_TLS_ALPN, ALPN_LEN) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)ALPN_LEN;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int ticket_crypto_init(const EVP_CIPHER *cipher, const struct ticket_key *k,
			      unsigned char *iv, EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[3];

	params[0] =
	    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex(ectx, cipher, NULL, k->aes, iv, enc) != 1)
		return -1;
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/*
 * Encrypts under the current key; decrypts under the current (1) or the
 * previous one (2: renew); any other name is unknown (0: full handshake).
 */
static int ticket_key_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx,
			 EVP_MAC_CTX *hctx, int enc)
{
	struct cw_tls_server_ctx *sc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
	struct ticket_key k;
	int rc = 0;

	pthread_rwlock_rdlock(&sc->lock);
	if (enc || memcmp(name, sc->cur.name, TICKET_NAME_LEN) == 0) {
		k = sc->cur;
		rc = 1;
	} else if (sc->have_prev && memcmp(name, sc->prev.name, TICKET_NAME_LEN) == 0) {
		k = sc->prev;
		rc = 2;
	}
	pthread_rwlock_unlock(&sc->lock);
	if (rc == 0)
		return 0;
	if (enc) {
		memcpy(name, k.name, TICKET_NAME_LEN);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(sc->ticket_cipher)) != 1)
			rc = -1;
	}
	if (rc > 0 && ticket_crypto_init(sc->ticket_cipher, &k, iv, ectx, hctx, enc) != 0)
		rc = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

/* A ticket whose stored agent certificate has expired is refused (§7.1). */
static SSL_TICKET_RETURN ticket_dec_cb(SSL *s, SSL_SESSION *ss, const unsigned char *keyname,
				       size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
	struct cw_tls_conn *c = conn_of(s);
	X509 *peer;
	time_t t;

	(void)keyname;
	(void)keyname_len;
	(void)arg;
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		break;
	case SSL_TICKET_EMPTY:
	case SSL_TICKET_NO_DECRYPT:
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	default:
		return SSL_TICKET_RETURN_ABORT;
	}
	peer = SSL_SESSION_get0_peer(ss);
	t = (time_t)c->wall_time;
	if (!peer || X509_cmp_time(X509_get0_notAfter(peer), &t) <= 0 ||
	    X509_cmp_time(X509_get0_notBefore(peer), &t) >= 0)
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	/* Renew always: every session leaves the agent a fresh ticket, so
	 * that no ticket is presented twice (RFC 8446 §C.4). */
	return SSL_TICKET_RETURN_USE_RENEW;
}

/* The agent keeps only the latest ticket, serialised. */
static int new_session_cb(SSL *s, SSL_SESSION *sess)
{
	struct cw_tls_conn *c = conn_of(s);
	int n = i2d_SSL_SESSION(sess, NULL);
	unsigned char *buf, *p;

	if (!c || n <= 0 || n > CW_TLS_TICKET_MAX)
		return 0;
	buf = c->alloc->alloc(c->alloc->ctx, (size_t)n);
	if (!buf)
		return 0;
	p = buf;
	if (i2d_SSL_SESSION(sess, &p) != n) {
		c->alloc->free(c->alloc->ctx, buf, (size_t)n);
		return 0;
	}
	if (c->ticket) {
		OPENSSL_cleanse(c->ticket, c->ticket_len);
		c->alloc->free(c->alloc->ctx, c->ticket, c->ticket_len);
	}
	c->ticket = buf;
	c->ticket_len = (size_t)n;
	return 0; /* no reference kept on @sess */
}

/* ---- contexts ---- */

static SSL_CTX *profile_ctx(const SSL_METHOD *m, const char *suites)
{
	SSL_CTX *ctx = SSL_CTX_new(m);

	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, suites) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, GROUPS) != 1 || SSL_CTX_set_max_early_data(ctx, 0) != 1 ||
	    SSL_CTX_set_recv_max_early_data(ctx, 0) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
	/* Send the configured chain as it is. OpenSSL would otherwise build
	 * one from the CA store on every handshake (a chain verification,
	 * signature included) and append the trust anchor, which the peer
	 * has and must still parse. */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_verify_depth(ctx, 4);
	return ctx;
}

static void ticket_key_set(struct ticket_key *k, const uint8_t raw[CW_TLS_TICKET_KEY_LEN])
{
	memcpy(k->name, raw, TICKET_NAME_LEN);
	memcpy(k->aes, raw + TICKET_NAME_LEN, sizeof(k->aes));
	memcpy(k->hmac, raw + TICKET_NAME_LEN + sizeof(k->aes), sizeof(k->hmac));
}

static int server_ssl_ctx(struct cw_tls_server_ctx *sc, const struct cw_tls_server_cfg *cfg)
{
	static const unsigned char sid_ctx[] = CW_TLS_ALPN;
	uint32_t lifetime =
	    cfg->ticket_lifetime_s ? cfg->ticket_lifetime_s : CW_TLS_TICKET_LIFETIME_MAX;
	SSL_CTX *ctx = profile_ctx(TLS_server_method(),
				   cfg->prefer_chacha20 ? SUITES_CHACHA_FIRST : SUITES_AES_FIRST);

	if (!ctx)
		return -ENOMEM;
	sc->ssl_ctx = ctx;
	SSL_CTX_set_app_data(ctx, sc);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	/* Stateless tickets only: nothing is cached per session. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, (long)lifetime);
	SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1 ||
	    SSL_CTX_set_num_tickets(ctx, 1) != 1 ||
	    SSL_CTX_set_session_ticket_cb(ctx, NULL, ticket_dec_cb, NULL) != 1)
		return -ENOMEM;
	return load_creds(ctx, &cfg->cert_chain, &cfg->key, &cfg->node_ca);
}

int cw_tls_server_ctx_new(const struct cw_tls_server_cfg *cfg, const struct cw_alloc *a,
			  struct cw_tls_server_ctx **out)
{
	struct cw_tls_server_ctx *sc;
	int rc;

	if (!cfg || !out || !pem_ok(&cfg->cert_chain) || !pem_ok(&cfg->key) ||
	    !pem_ok(&cfg->node_ca) || cfg->ticket_lifetime_s > CW_TLS_TICKET_LIFETIME_MAX)
		return -EINVAL;
	a = a ? a : cw_alloc_default();
	sc = a->alloc(a->ctx, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	memset(sc, 0, sizeof(*sc));
	sc->alloc = a;
	if (pthread_rwlock_init(&sc->lock, NULL) != 0) {
		a->free(a->ctx, sc, sizeof(*sc));
		return -ENOMEM;
	}
	ticket_key_set(&sc->cur, cfg->ticket_key);
	sc->ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	rc = sc->ticket_cipher ? server_ssl_ctx(sc, cfg) : -ENOMEM;
	if (rc) {
		cw_tls_server_ctx_free(sc);
		return rc;
	}
	*out = sc;
	return 0;
}

void cw_tls_server_ctx_free(struct cw_tls_server_ctx *sc)
{
	const struct cw_alloc *a;

	if (!sc)
		return;
	a = sc->alloc;
	SSL_CTX_free(sc->ssl_ctx);
	EVP_CIPHER_free(sc->ticket_cipher);
	pthread_rwlock_destroy(&sc->lock);
	OPENSSL_cleanse(sc, sizeof(*sc));
	a->free(a->ctx, sc, sizeof(*sc));
}

int cw_tls_server_ctx_rotate_ticket_key(struct cw_tls_server_ctx *sc,
					const uint8_t key[CW_TLS_TICKET_KEY_LEN])
{
	int rc = 0;

	if (!sc || !key)
		return -EINVAL;
	pthread_rwlock_wrlock(&sc->lock);
	if (memcmp(key, sc->cur.name, TICKET_NAME_LEN) == 0) {
		rc = -EINVAL;
	} else {
		sc->prev = sc->cur;
		sc->have_prev = true;
		ticket_key_set(&sc->cur, key);
	}
	pthread_rwlock_unlock(&sc->lock);
	return rc;
}

static bool is_ip_literal(const char *name)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);

	ASN1_OCTET_STRING_free(ip);
	ERR_clear_error();
	return ip != NULL;
}

static int client_ssl_ctx(struct cw_tls_client_ctx *cc, const struct cw_tls_client_cfg *cfg)
{
	SSL_CTX *ctx = profile_ctx(TLS_client_method(), SUITES_AES_FIRST);

	if (!ctx)
		return -ENOMEM;
	cc->ssl_ctx = ctx;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	/* Tickets go to new_session_cb and from there to the caller. */
	SSL_CTX_set_session_cache_mode(ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	if (SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)ALPN_WIRE, ALPN_LEN + 1) != 0)
		return -ENOMEM;
	return load_creds(ctx, &cfg->cert, &cfg->key, &cfg->gateway_ca);
}

int cw_tls_client_ctx_new(const struct cw_tls_client_cfg *cfg, const struct cw_alloc *a,
			  struct cw_tls_client_ctx **out)
{
	struct cw_tls_client_ctx *cc;
	size_t nlen;
	int rc;

	if (!cfg || !out || !pem_ok(&cfg->cert) || !pem_ok(&cfg->key) ||
	    !pem_ok(&cfg->gateway_ca) || !cfg->gateway_name)
		return -EINVAL;
	nlen = strnlen(cfg->gateway_name, CW_TLS_NODE_NAME_MAX + 1);
	if (nlen == 0 || nlen > CW_TLS_NODE_NAME_MAX)
		return -EINVAL;
	a = a ? a : cw_alloc_default();
	cc = a->alloc(a->ctx, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	memset(cc, 0, sizeof(*cc));
	cc->alloc = a;
	memcpy(cc->gateway_name, cfg->gateway_name, nlen);
	cc->gateway_is_ip = is_ip_literal(cc->gateway_name);
	rc = client_ssl_ctx(cc, cfg);
	if (rc) {
		cw_tls_client_ctx_free(cc);
		return rc;
	}
	*out = cc;
	return 0;
}

void cw_tls_client_ctx_free(struct cw_tls_client_ctx *cc)
{
	const struct cw_alloc *a;

	if (!cc)
		return;
	a = cc->alloc;
	SSL_CTX_free(cc->ssl_ctx);
	a->free(a->ctx, cc, sizeof(*cc));
}

/* ---- handshake ---- */

static int conn_new(SSL_CTX *ctx, const struct cw_alloc *a, bool server, int64_t wall_time,
		    struct cw_tls_conn **out)
{
	struct cw_tls_conn *c = a->alloc(a->ctx, sizeof(*c));
	BIO *rbio, *wbio;

	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->alloc = a;
	c->server = server;
	c->wall_time = wall_time;
	c->ssl = SSL_new(ctx);
	rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !rbio || !wbio) {
		BIO_free(rbio);
		BIO_free(wbio);
		cw_tls_conn_free(c);
		return -ENOMEM;
	}
	SSL_set_bio(c->ssl, rbio, wbio);
	SSL_set_app_data(c->ssl, c);
	SSL_set_info_callback(c->ssl, info_cb);
	SSL_set_msg_callback(c->ssl, msg_cb);
	X509_VERIFY_PARAM_set_time(SSL_get0_param(c->ssl), (time_t)wall_time);
	*out = c;
	return 0;
}

static void wipe_results(struct cw_tls_conn *c)
{
	OPENSSL_cleanse(c->client_secret, sizeof(c->client_secret));
	OPENSSL_cleanse(c->server_secret, sizeof(c->server_secret));
	if (c->ticket) {
		OPENSSL_cleanse(c->ticket, c->ticket_len);
		c->alloc->free(c->alloc->ctx, c->ticket, c->ticket_len);
	}
	c->ticket = NULL;
	c->ticket_len = 0;
}

/* Sticky failure: output, results and TLS go; code and alert stay. */
static int fail(struct cw_tls_conn *c, int err, uint8_t alert)
{
	c->state = CW_TLS_FAILED;
	c->err = err;
	c->alert = alert;
	outq_free(c->alloc, &c->out[CW_PKT_INITIAL]);
	outq_free(c->alloc, &c->out[CW_PKT_HANDSHAKE]);
	wipe_results(c);
	c->node_name[0] = '\0';
	cw_tls_conn_release_tls(c);
	ERR_clear_error();
	return err;
}

/* TLS gave up: name the alert and tell a refused peer certificate apart. */
static int fail_tls(struct cw_tls_conn *c)
{
	uint8_t alert = c->own_alert	? c->own_alert
			: c->sent_alert ? c->sent_alert
			: c->recv_alert ? c->recv_alert
					: CW_TLS_ALERT_INTERNAL_ERROR;
	bool refused = c->refused || SSL_get_verify_result(c->ssl) != X509_V_OK ||
		       alert == CW_TLS_ALERT_CERTIFICATE_REQUIRED;

	return fail(c, refused ? -EACCES : -EPROTO, alert);
}

/* Moves what TLS wrote into the out-queue of the level §7.2 assigns. */
static int drain(struct cw_tls_conn *c)
{
	enum cw_pkt_type lvl = c->server || c->peer_spoke ? CW_PKT_HANDSHAKE : CW_PKT_INITIAL;
	BIO *w = SSL_get_wbio(c->ssl);
	uint8_t buf[4096];
	int n;

	while ((n = BIO_read(w, buf, sizeof(buf))) > 0) {
		int rc = outq_push(c->alloc, &c->out[lvl], buf, (size_t)n);

		if (rc)
			return rc;
		c->answered = c->answered || c->server;
	}
	return 0;
}

static int on_complete(struct cw_tls_conn *c)
{
	const unsigned char *alpn;
	unsigned int alpn_len;

	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn_len != ALPN_LEN || memcmp(alpn, CW_TLS_ALPN, ALPN_LEN) != 0)
		return fail(c, -EPROTO, CW_TLS_ALERT_NO_APPLICATION_PROTOCOL);
	if (cw_keys_suite_alg(c->ssl, &c->alg) != 0)
		return fail(c, -EPROTO, CW_TLS_ALERT_HANDSHAKE_FAILURE);
	if (cw_keys_export(c->ssl, c->client_secret, c->server_secret) != 0)
		return fail(c, -EPROTO, CW_TLS_ALERT_INTERNAL_ERROR);
	c->resumed = SSL_session_reused(c->ssl) == 1;
	/* A resumed session carries the certificate of the full handshake. */
	if (c->server && node_name_from_cert(SSL_get0_peer_certificate(c->ssl), c->node_name))
		return fail(c, -EACCES, CW_TLS_ALERT_ACCESS_DENIED);
	c->state = CW_TLS_COMPLETE;
	/* The gateway's NewSessionTicket is already queued: TLS is done. */
	if (c->server)
		cw_tls_conn_release_tls(c);
	return 0;
}

/* After completion only NewSessionTicket may arrive; data is a violation. */
static int post_handshake(struct cw_tls_conn *c)
{
	uint8_t b;
	int n = SSL_read(c->ssl, &b, 1);

	if (n > 0 || c->post_refused)
		return fail(c, -EPROTO, CW_TLS_ALERT_UNEXPECTED_MESSAGE);
	if (SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ)
		return fail_tls(c);
	return drain(c) ? fail(c, -EPROTO, CW_TLS_ALERT_INTERNAL_ERROR) : 0;
}

static int step(struct cw_tls_conn *c)
{
	int n, rc;

	ERR_clear_error();
	if (c->state == CW_TLS_COMPLETE)
		return post_handshake(c);
	n = SSL_do_handshake(c->ssl);
	if (n != 1 && SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ)
		return fail_tls(c);
	rc = drain(c);
	if (rc)
		return fail(c, rc == -EMSGSIZE ? -EPROTO : rc, CW_TLS_ALERT_INTERNAL_ERROR);
	return n == 1 ? on_complete(c) : 0;
}

int cw_tls_server_conn_new(const struct cw_tls_server_ctx *sc, int64_t wall_time,
			   struct cw_tls_conn **out)
{
	int rc;

	if (!sc || !out)
		return -EINVAL;
	rc = conn_new(sc->ssl_ctx, sc->alloc, true, wall_time, out);
	if (!rc)
		SSL_set_accept_state((*out)->ssl);
	return rc;
}

static void client_resume(SSL *ssl, const uint8_t *ticket, size_t len)
{
	const unsigned char *p = ticket;
	SSL_SESSION *sess;

	if (!ticket || len == 0 || len > CW_TLS_TICKET_MAX)
		return;
	sess = d2i_SSL_SESSION(NULL, &p, (long)len);
	if (sess && p == ticket + len && SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION &&
	    SSL_SESSION_is_resumable(sess))
		SSL_set_session(ssl, sess);
	SSL_SESSION_free(sess);
	ERR_clear_error();
}

static int client_peer(SSL *ssl, const struct cw_tls_client_ctx *cc)
{
	if (cc->gateway_is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), cc->gateway_name) == 1
			   ? 0
			   : -ENOMEM;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set_tlsext_host_name(ssl, cc->gateway_name) != 1 ||
	    SSL_set1_host(ssl, cc->gateway_name) != 1)
		return -ENOMEM;
	return 0;
}

int cw_tls_client_conn_new(const struct cw_tls_client_ctx *cc, int64_t wall_time,
			   const uint8_t *ticket, size_t ticket_len, struct cw_tls_conn **out)
{
	struct cw_tls_conn *c;
	int rc;

	if (!cc || !out)
		return -EINVAL;
	rc = conn_new(cc->ssl_ctx, cc->alloc, false, wall_time, &c);
	if (rc)
		return rc;
	SSL_set_connect_state(c->ssl);
	rc = client_peer(c->ssl, cc);
	if (!rc) {
		client_resume(c->ssl, ticket, ticket_len);
		rc = step(c);
	}
	if (!rc && c->state != CW_TLS_IN_PROGRESS)
		rc = -EPROTO;
	if (rc) {
		cw_tls_conn_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cw_tls_conn_free(struct cw_tls_conn *c)
{
	if (!c)
		return;
	cw_tls_conn_release_tls(c);
	outq_free(c->alloc, &c->out[CW_PKT_INITIAL]);
	outq_free(c->alloc, &c->out[CW_PKT_HANDSHAKE]);
	wipe_results(c);
	c->alloc->free(c->alloc->ctx, c, sizeof(*c));
}

/* §7.2: which peer bytes TLS may see now; 0 to go on. */
static int level_check(struct cw_tls_conn *c, enum cw_pkt_type level)
{
	if (!c->server)
		return level == CW_PKT_INITIAL ? fail(c, -EPROTO, 0) : 0;
	if (level == CW_PKT_INITIAL)
		return c->answered ? fail(c, -EPROTO, 0) : 0;
	return c->answered ? 0 : -EAGAIN;
}

int cw_tls_conn_feed(struct cw_tls_conn *c, enum cw_pkt_type level, const uint8_t *data, size_t len)
{
	int rc;

	if (!c || (level != CW_PKT_INITIAL && level != CW_PKT_HANDSHAKE) || (!data && len))
		return -EINVAL;
	if (c->err)
		return c->err;
	if (!c->ssl || len == 0)
		return 0;
	rc = level_check(c, level);
	if (rc)
		return rc;
	if (len > CW_TLS_CRYPTO_MAX - c->in_total[level])
		return fail(c, -EMSGSIZE, 0);
	c->in_total[level] += (uint32_t)len;
	c->peer_spoke = true;
	if (BIO_write(SSL_get_rbio(c->ssl), data, (int)len) != (int)len)
		return fail(c, -ENOMEM, CW_TLS_ALERT_INTERNAL_ERROR);
	rc = step(c);
	/* Initial data must end with the ClientHello (§7.2). */
	if (!rc && c->server && c->answered && c->in_total[CW_PKT_INITIAL] != c->hello_end)
		return fail(c, -EPROTO, 0);
	return rc;
}

size_t cw_tls_conn_pending(const struct cw_tls_conn *c, enum cw_pkt_type level)
{
	if (!c || (level != CW_PKT_INITIAL && level != CW_PKT_HANDSHAKE))
		return 0;
	return c->out[level].len;
}

size_t cw_tls_conn_take(struct cw_tls_conn *c, enum cw_pkt_type level, uint8_t *buf, size_t cap)
{
	struct outq *q;
	size_t n;

	if (!c || !buf || (level != CW_PKT_INITIAL && level != CW_PKT_HANDSHAKE))
		return 0;
	q = &c->out[level];
	n = cap < q->len ? cap : q->len;
	if (n == 0)
		return 0;
	memcpy(buf, q->buf + q->head, n);
	q->head += (uint32_t)n;
	q->len -= (uint32_t)n;
	/* An empty queue gives its memory back: an idle session keeps none. */
	if (q->len == 0)
		outq_free(c->alloc, q);
	return n;
}

enum cw_tls_state cw_tls_conn_state(const struct cw_tls_conn *c)
{
	return c->state;
}

uint8_t cw_tls_conn_alert(const struct cw_tls_conn *c)
{
	return c->state == CW_TLS_FAILED ? c->alert : 0;
}

int cw_tls_conn_secrets(const struct cw_tls_conn *c, uint8_t client[CW_SECRET_LEN],
			uint8_t server[CW_SECRET_LEN], enum cw_aead_alg *alg)
{
	if (!c || c->state != CW_TLS_COMPLETE)
		return -EAGAIN;
	memcpy(client, c->client_secret, CW_SECRET_LEN);
	memcpy(server, c->server_secret, CW_SECRET_LEN);
	*alg = c->alg;
	return 0;
}

bool cw_tls_conn_resumed(const struct cw_tls_conn *c)
{
	return c->state == CW_TLS_COMPLETE && c->resumed;
}

const char *cw_tls_conn_node_name(const struct cw_tls_conn *c)
{
	return c->server && c->state == CW_TLS_COMPLETE ? c->node_name : NULL;
}

const uint8_t *cw_tls_conn_ticket(const struct cw_tls_conn *c, size_t *len)
{
	*len = c->ticket_len;
	return c->ticket;
}

void cw_tls_conn_release_tls(struct cw_tls_conn *c)
{
	if (!c || !c->ssl)
		return;
	SSL_free(c->ssl);
	c->ssl = NULL;
}

bool cw_tls_conn_has_tls(const struct cw_tls_conn *c)
{
	return c->ssl != NULL;
}

void cw_tls_conn_counters(const struct cw_tls_conn *c, struct cw_tls_counters *out)
{
	*out = c->ctr;
}
