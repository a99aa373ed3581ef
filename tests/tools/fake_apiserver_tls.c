/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS for the fake apiserver, as the hub's upstream client meets
 * kube-apiserver: every connection evhttp accepts gets an OpenSSL
 * bufferevent in accepting state, TLS 1.2 or later, with the given
 * certificate chain and key.
 */
#include <errno.h>
#include <stdio.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tests/tools/fake_apiserver.h"

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

int fa_tls_setup(struct evhttp *http, const char *cert, const char *key, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return -ENOMEM;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "fake-apiserver: TLS setup with %s and %s failed: %s\n", cert, key,
			ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	evhttp_set_bevcb(http, tls_bev, ctx);
	*out = ctx;
	return 0;
}
