/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control/http_head.c: accepted heads with every parsed field, a table of
 * rejections with their status, each input fed whole, at every split point
 * and byte by byte (the outcome must not change), the bytes after the head
 * left alone, limits at their edge, and request-smuggling cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "control/http_head.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char buf[CW_HTTP_HEAD_MAX_DEFAULT];
static struct cw_http_field fields[CW_HTTP_FIELDS_MAX_DEFAULT];

struct outcome {
	int rc;
	int status;
	size_t used; /* bytes of the input the head took */
	const char *reason;
};

static void setup(struct cw_http_head *h, size_t head_max, size_t fields_max, size_t line_max,
		  unsigned flags)
{
	struct cw_http_head_cfg cfg = {
	    .buf = buf,
	    .head_max = head_max,
	    .fields = fields,
	    .fields_max = fields_max,
	    .line_max = line_max,
	    .flags = flags,
	};

	assert_int_equal(cw_http_head_init(h, &cfg), 0);
}

static void setup_default(struct cw_http_head *h, unsigned flags)
{
	setup(h, CW_HTTP_HEAD_MAX_DEFAULT, CW_HTTP_FIELDS_MAX_DEFAULT, CW_HTTP_LINE_MAX_DEFAULT,
	      flags);
}

/* Feed @in in pieces: [0, split) then the rest, each in @chunk-byte feeds (0 = whole). */
static struct outcome feed(struct cw_http_head *h, const char *in, size_t len, size_t split,
			   size_t chunk)
{
	struct outcome o = {CW_HTTP_NEED_MORE, 0, 0, NULL};
	size_t off = 0;

	cw_http_head_reset(h);
	while (off < len) {
		size_t end = off < split ? split : len, n = end - off, used = 0;
		if (chunk && n > chunk)
			n = chunk;
		o.rc = cw_http_head_feed(h, (const uint8_t *)in + off, n, &used);
		assert_true(used <= n);
		o.used += used;
		if (o.rc != CW_HTTP_NEED_MORE) {
			assert_true(used > 0);
			break;
		}
		assert_int_equal(used, n);
		off += n;
	}
	o.status = h->status;
	o.reason = h->reason;
	if (o.rc != CW_HTTP_NEED_MORE) {
		size_t again = 99;
		assert_int_equal(cw_http_head_feed(h, (const uint8_t *)"x", 1, &again), o.rc);
		assert_int_equal(again, 0);
	}
	return o;
}

/* Every way of cutting @in gives the outcome of feeding it whole. */
static struct outcome feed_all_ways(struct cw_http_head *h, const char *in, size_t len)
{
	struct outcome whole = feed(h, in, len, 0, 0);

	for (size_t k = 0; k <= len; k++) {
		struct outcome o = feed(h, in, len, k, 0);
		assert_int_equal(o.rc, whole.rc);
		assert_int_equal(o.status, whole.status);
		assert_int_equal(o.used, whole.used);
		assert_ptr_equal(o.reason, whole.reason);
	}
	struct outcome o = feed(h, in, len, 0, 1);
	assert_int_equal(o.rc, whole.rc);
	assert_int_equal(o.used, whole.used);
	assert_ptr_equal(o.reason, whole.reason);
	/* The final state is the one of a whole feed, for the caller to read. */
	return feed(h, in, len, 0, 0);
}

static void assert_span(const char *p, size_t n, const char *want)
{
	assert_int_equal(n, strlen(want));
	if (n)
		assert_memory_equal(p, want, n);
	if (p)
		assert_true(p >= buf && p + n <= buf + sizeof(buf));
}

/* @in is a head followed by @tail bytes of body or tunnel. */
static struct outcome parse_ok(struct cw_http_head *h, const char *in, size_t tail)
{
	size_t head_len = strlen(in) - tail;
	struct outcome o = feed_all_ways(h, in, strlen(in));

	if (o.rc != CW_HTTP_DONE)
		print_error("unexpected %d %d %s for: %s\n", o.rc, o.status, o.reason, in);
	assert_int_equal(o.rc, CW_HTTP_DONE);
	assert_int_equal(o.used, head_len);
	assert_int_equal(h->len, head_len);
	assert_memory_equal(buf, in, head_len);
	return o;
}

static void test_connect(void **state)
{
	struct cw_http_head h;
	const char *in = "CONNECT node-1.edge:10250 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "User-Agent: Go-http-client/1.1\r\n\r\n\x16\x03\x01";

	(void)state;
	setup_default(&h, 0);
	parse_ok(&h, in, 3);
	assert_span(h.req.method, h.req.method_len, "CONNECT");
	assert_true(h.req.is_connect);
	assert_int_equal(h.req.form, CW_HTTP_FORM_AUTHORITY);
	assert_span(h.req.host, h.req.host_len, "node-1.edge");
	assert_int_equal(h.req.port, 10250);
	assert_false(h.req.host_is_ipv4);
	assert_null(h.req.origin);
	assert_span(h.req.host_field, h.req.host_field_len, "127.0.0.1");
	assert_int_equal(h.req.version_minor, 1);
	assert_int_equal(h.req.body, CW_HTTP_BODY_NONE);
	assert_true(h.req.keep_alive);
	assert_int_equal(h.req.nfields, 2);
	assert_span(h.req.fields[1].name, h.req.fields[1].name_len, "User-Agent");
	assert_span(h.req.fields[1].value, h.req.fields[1].value_len, "Go-http-client/1.1");
}

static void test_absolute_forms(void **state)
{
	static const struct {
		const char *in, *host, *origin;
		uint16_t port;
		bool ipv4;
	} rows[] = {
	    {"GET http://node-1:10255/metrics HTTP/1.1\r\nHost: node-1:10255\r\n\r\n", "node-1",
	     "/metrics", 10255, false},
	    {"GET http://node-1/ HTTP/1.1\r\n\r\n", "node-1", "/", 80, false},
	    {"GET http://node-1 HTTP/1.1\r\n\r\n", "node-1", "", 80, false},
	    {"GET http://node-1?a=b HTTP/1.1\r\n\r\n", "node-1", "?a=b", 80, false},
	    {"GET HTTP://10.0.0.5:9100/metrics?x=1&y=%2F HTTP/1.1\r\n\r\n", "10.0.0.5",
	     "/metrics?x=1&y=%2F", 9100, true},
	    {"POST http://a.b.c:65535/api/v1/x?watch=true HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	     "a.b.c", "/api/v1/x?watch=true", 65535, false},
	    {"GET http://0.0.0.0:1/ HTTP/1.1\r\n\r\n", "0.0.0.0", "/", 1, true},
	};
	struct cw_http_head h;

	(void)state;
	setup_default(&h, 0);
	for (size_t i = 0; i < N(rows); i++) {
		parse_ok(&h, rows[i].in, 0);
		assert_int_equal(h.req.form, CW_HTTP_FORM_ABSOLUTE);
		assert_false(h.req.is_connect);
		assert_span(h.req.host, h.req.host_len, rows[i].host);
		assert_span(h.req.origin, h.req.origin_len, rows[i].origin);
		assert_int_equal(h.req.port, rows[i].port);
		assert_int_equal(h.req.host_is_ipv4, rows[i].ipv4);
	}
	assert_span(h.req.method, h.req.method_len, "GET");
	assert_int_equal(h.req.body, CW_HTTP_BODY_NONE);
}

static void test_http10_and_connection(void **state)
{
	struct cw_http_head h;

	(void)state;
	setup_default(&h, 0);
	parse_ok(&h, "GET http://n/ HTTP/1.0\r\n\r\n", 0);
	assert_int_equal(h.req.version_minor, 0);
	assert_false(h.req.keep_alive);
	assert_null(h.req.host_field);

	parse_ok(&h, "GET http://n/ HTTP/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\n", 0);
	assert_true(h.req.conn_keep_alive);
	assert_true(h.req.keep_alive);

	parse_ok(&h, "GET http://n/ HTTP/1.1\r\nConnection: ,upgrade , close,\r\n\r\n", 0);
	assert_true(h.req.conn_close);
	assert_true(h.req.conn_upgrade);
	assert_false(h.req.keep_alive);

	/* HTTP/1.x above 1.1 is read as 1.1 (RFC 9110 §2.5). */
	parse_ok(&h, "GET http://n/ HTTP/1.2\r\n\r\n", 0);
	assert_int_equal(h.req.version_minor, 1);

	/* Empty lines before the request line are skipped, but kept in the head. */
	parse_ok(&h, "\r\n\r\nGET http://n/ HTTP/1.1\r\n\r\n", 0);
	assert_span(h.req.method, h.req.method_len, "GET");
}

static void test_fields(void **state)
{
	struct cw_http_head h;
	const char *in = "PUT http://n/x HTTP/1.1\r\nX-Empty:\r\nX-Ows: \t a b \t\r\n"
			 "X-Obs: caf\xc3\xa9\r\nContent-Length: 0012\r\n\r\nbody";

	(void)state;
	setup_default(&h, 0);
	parse_ok(&h, in, 4);
	assert_int_equal(h.req.nfields, 4);
	assert_span(h.req.fields[0].name, h.req.fields[0].name_len, "X-Empty");
	assert_span(h.req.fields[0].value, h.req.fields[0].value_len, "");
	assert_span(h.req.fields[1].value, h.req.fields[1].value_len, "a b");
	assert_span(h.req.fields[2].value, h.req.fields[2].value_len, "caf\xc3\xa9");
	assert_int_equal(h.req.body, CW_HTTP_BODY_LENGTH);
	assert_int_equal(h.req.content_length, 12);

	parse_ok(&h, "POST http://n/ HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\n", 3);
	assert_int_equal(h.req.body, CW_HTTP_BODY_CHUNKED);
	parse_ok(&h, "POST http://n/ HTTP/1.1\r\nTransfer-Encoding: ,chunked,\r\n\r\n", 0);
	assert_int_equal(h.req.body, CW_HTTP_BODY_CHUNKED);
	parse_ok(&h, "POST http://n/ HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n", 0);
	assert_true(h.req.content_length == 9999999999999999999ull);
	parse_ok(&h, "CONNECT n:1 HTTP/1.1\r\nHost: n:1\r\nContent-Length: 0\r\n\r\n", 0);
	assert_int_equal(h.req.body, CW_HTTP_BODY_LENGTH);
	assert_int_equal(h.req.content_length, 0);
}

static void test_origin_form(void **state)
{
	struct cw_http_head h;
	const char *in = "GET /metrics?x HTTP/1.1\r\nHost: [::1]:10267\r\n\r\n";

	(void)state;
	setup_default(&h, CW_HTTP_ALLOW_ORIGIN_FORM);
	parse_ok(&h, in, 0);
	assert_int_equal(h.req.form, CW_HTTP_FORM_ORIGIN);
	assert_span(h.req.origin, h.req.origin_len, "/metrics?x");
	assert_int_equal(h.req.host_len, 0);
	assert_int_equal(h.req.port, 0);
	assert_span(h.req.host_field, h.req.host_field_len, "[::1]:10267");

	/* Without the flag the ingress refuses it. */
	setup_default(&h, 0);
	struct outcome o = feed_all_ways(&h, in, strlen(in));
	assert_int_equal(o.rc, -EBADMSG);
	assert_int_equal(o.status, 400);
	assert_int_equal(o.used, 25);
}

struct bad_row {
	const char *in;
	int rc;
	int status;
	size_t len; /* 0: strlen(in) */
};

#define R400(s)                                                                                    \
	{                                                                                          \
		s, -EBADMSG, 400, 0                                                                \
	}
#define GET(t)	"GET " t " HTTP/1.1\r\n\r\n"
#define CON(t)	"CONNECT " t " HTTP/1.1\r\nHost: x\r\n\r\n"
#define POST(f) "POST http://n/ HTTP/1.1\r\n" f "\r\n"

static const struct bad_row bad_rows[] = {
    /* request line */
    R400("\r\n\nGET http://n/ HTTP/1.1\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA: b\rc\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA: b\n\r\n"),
    R400("GET  http://n/ HTTP/1.1\r\n\r\n"),
    R400("GET http://n/  HTTP/1.1\r\n\r\n"),
    R400(" GET http://n/ HTTP/1.1\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1 \r\n\r\n"),
    R400("GET\thttp://n/ HTTP/1.1\r\n\r\n"),
    R400("GET http://n/\r\n\r\n"),
    R400("GET\r\n\r\n"),
    R400("G(T http://n/ HTTP/1.1\r\n\r\n"),
    R400("GET http://n/ http/1.1\r\n\r\n"),
    R400("GET http://n/ HTTP/1.10\r\n\r\n"),
    R400("GET http://n/ HTTP/1\r\n\r\n"),
    R400("GET http://n/ HTTP/a.1\r\n\r\n"),
    {"GET http://n/ HTTP/2.0\r\n\r\n", -EBADMSG, 505, 0},
    {"GET http://n/ HTTP/0.9\r\n\r\n", -EBADMSG, 505, 0},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", -EBADMSG, 505, 0},
    /* targets */
    R400(GET("/")),
    R400(GET("*")),
    R400(GET("https://n/")),
    R400(GET("ftp://n/")),
    R400(GET("http:/n/")),
    R400(GET("http:n")),
    R400(GET("://n/")),
    R400(GET("1http://n/")),
    R400(GET("n:80")),
    R400(GET("http://")),
    R400(GET("http:///x")),
    R400(GET("http://user@n/")),
    R400(GET("http://user:pw@n:80/")),
    R400(GET("http://n/a#frag")),
    R400(GET("http://n/a%2")),
    R400(GET("http://n/a%zz")),
    R400(GET("http://n/\x7f")),
    R400(GET("http://n/\x80")),
    R400(GET("http://n\x01/")),
    R400(GET("http://%6e/")),
    R400(GET("http://[::1]:80/")),
    R400(GET("http://N/")),
    R400(GET("http://n_1/")),
    R400(GET("http://-n/")),
    R400(GET("http://n-/")),
    R400(GET("http://n..m/")),
    R400(GET("http://.n/")),
    R400(GET("http://n./")),
    R400(GET("http://n:/")),
    R400(GET("http://n:0/")),
    R400(GET("http://n:65536/")),
    R400(GET("http://n:100000/")),
    R400(GET("http://n:+80/")),
    R400(GET("http://n:80:80/")),
    R400(GET("http://10.0.0.256/")),
    R400(GET("http://10.0.0.01/")),
    R400(GET("http://10.0.0/")),
    R400(GET("http://10.0.0.1.2/")),
    R400(GET("http://1234/")),
    R400(GET("http://node.1/")),
    R400(GET("http://0x7f.0.0.1/")),
    R400(CON("n")),
    R400(CON("n:")),
    R400(CON(":80")),
    R400(CON("n:0")),
    R400(CON("http://n:80")),
    R400(CON("/x")),
    R400(CON("u@n:80")),
    R400("CONNECT n:80 HTTP/1.1\r\n\r\n"),
    /* field lines */
    R400("GET http://n/ HTTP/1.1\r\n Host: n\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA : b\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA\t: b\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\n: b\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA(: b\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA: b\x01\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nA: b\x7f\r\n\r\n"),
    {"GET http://n/ HTTP/1.1\r\nA: \0\r\n\r\n", -EBADMSG, 400, 32},
    R400("GET http://n/ HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nHost: a b\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nHost: a/b\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nHost: a@b\r\n\r\n"),
    R400("GET http://n/ HTTP/1.1\r\nConnection: clo(se\r\n\r\n"),
    R400("GET /x HTTP/1.1\r\n\r\n"),
    /* smuggling: Content-Length */
    R400(POST("Content-Length: 1\r\nContent-Length: 1\r\n")),
    R400(POST("Content-Length: 1\r\ncontent-length: 2\r\n")),
    R400(POST("Content-Length: 1, 1\r\n")),
    R400(POST("Content-Length: 1 2\r\n")),
    R400(POST("Content-Length: +1\r\n")),
    R400(POST("Content-Length: -1\r\n")),
    R400(POST("Content-Length: 0x10\r\n")),
    R400(POST("Content-Length:\r\n")),
    R400(POST("Content-Length: 1.0\r\n")),
    R400(POST("Content-Length: 10000000000000000000\r\n")),
    R400(POST("Content-Length : 1\r\n")),
    R400(POST("Content-Length\t: 1\r\n")),
    R400(POST("Content-Length: 1\r\n Content-Length: 2\r\n")),
    /* smuggling: Transfer-Encoding */
    R400(POST("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")),
    R400(POST("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")),
    R400(POST("Transfer-Encoding: chunked, gzip\r\n")),
    R400(POST("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n")),
    R400(POST("Transfer-Encoding: chunked, chunked\r\n")),
    R400(POST("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
    R400(POST("Transfer-Encoding: xchunked\r\n")),
    R400(POST("Transfer-Encoding: chunked;x=1\r\n")),
    R400(POST("Transfer-Encoding: chunked x\r\n")),
    R400(POST("Transfer-Encoding:\r\n")),
    R400(POST("Transfer-Encoding : chunked\r\n")),
    R400(POST("Transfer-Encoding: chunked\r\n\tgzip\r\n")),
    R400("POST http://n/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
    {POST("Transfer-Encoding: gzip, chunked\r\n"), -EBADMSG, 501, 0},
    {POST("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), -EBADMSG, 501, 0},
    {POST("Transfer-Encoding: identity, chunked\r\n"), -EBADMSG, 501, 0},
    /* CONNECT carries no body */
    R400("CONNECT n:1 HTTP/1.1\r\nHost: n\r\nContent-Length: 1\r\n\r\n"),
    R400("CONNECT n:1 HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n"),
};

static void test_rejections(void **state)
{
	struct cw_http_head h;

	(void)state;
	for (size_t i = 0; i < N(bad_rows); i++) {
		const struct bad_row *r = &bad_rows[i];
		size_t len = r->len ? r->len : strlen(r->in);
		setup_default(&h, 0);
		struct outcome o = feed_all_ways(&h, r->in, len);
		if (o.rc != r->rc || o.status != r->status)
			print_error("row %zu: got %d %d (%s) for: %s\n", i, o.rc, o.status,
				    o.reason ? o.reason : "-", r->in);
		assert_int_equal(o.rc, r->rc);
		assert_int_equal(o.status, r->status);
		assert_non_null(o.reason);
		assert_null(strpbrk(o.reason, "\r\n\""));
		assert_true(o.used >= 1 && o.used <= len);
	}
}

/* An error is reported at the byte that shows it, not at the blank line. */
static void test_error_positions(void **state)
{
	static const struct {
		const char *in;
		size_t used;
	} rows[] = {
	    {"GET http://n/ HTTP/1.1\nXXXX", 23},
	    {"GET http://n/ HTTP/1.1\rXXXX", 24},
	    {"GET https://n/ HTTP/1.1\r\nXXXX", 25},
	    {"GET http://n/ HTTP/1.1\r\n A: b\r\nXXXX", 31},
	    {"GET http://n/ HTTP/1.1\r\nA: b\r\nXXXX", 0},
	};
	struct cw_http_head h;

	(void)state;
	setup_default(&h, 0);
	for (size_t i = 0; i < N(rows); i++) {
		struct outcome o = feed_all_ways(&h, rows[i].in, strlen(rows[i].in));
		assert_int_equal(o.used, rows[i].used ? rows[i].used : strlen(rows[i].in));
		assert_int_equal(o.rc, rows[i].used ? -EBADMSG : CW_HTTP_NEED_MORE);
	}
}

static size_t build(char *out, size_t cap, const char *prefix, size_t pad, const char *suffix)
{
	int n = snprintf(out, cap, "%s%*s%s", prefix, (int)pad, "", suffix);

	assert_true(n > 0 && (size_t)n < cap);
	for (size_t i = strlen(prefix); i < strlen(prefix) + pad; i++)
		out[i] = 'a';
	return (size_t)n;
}

static void test_limits(void **state)
{
	char in[1024];
	struct cw_http_head h;
	struct outcome o;
	size_t n;

	(void)state;
	/* Whole head of exactly head_max bytes, then one more. */
	setup(&h, 256, 8, 0, 0);
	n = build(in, sizeof(in), "GET http://n/ HTTP/1.1\r\nX: ", 256 - 31, "\r\n\r\n");
	assert_int_equal(n, 256);
	o = feed_all_ways(&h, in, n);
	assert_int_equal(o.rc, CW_HTTP_DONE);
	assert_int_equal(o.used, 256);
	n = build(in, sizeof(in), "GET http://n/ HTTP/1.1\r\nX: ", 256 - 30, "\r\n\r\n");
	o = feed_all_ways(&h, in, n);
	assert_int_equal(o.rc, -EMSGSIZE);
	assert_int_equal(o.status, 431);
	assert_int_equal(o.used, 257);

	/* A field line of line_max bytes, then one more. */
	setup(&h, 1024, 8, 100, 0);
	n = build(in, sizeof(in), "GET http://n/ HTTP/1.1\r\nX: ", 97, "\r\n\r\n");
	assert_int_equal(feed_all_ways(&h, in, n).rc, CW_HTTP_DONE);
	n = build(in, sizeof(in), "GET http://n/ HTTP/1.1\r\nX: ", 98, "\r\n\r\n");
	o = feed_all_ways(&h, in, n);
	assert_int_equal(o.rc, -EMSGSIZE);
	assert_int_equal(o.status, 431);
	assert_int_equal(o.used, 24 + 101);

	/* A request line of line_max bytes; longer in the target is 414. */
	n = build(in, sizeof(in), "GET http://n/", 100 - 22, " HTTP/1.1\r\n\r\n");
	assert_int_equal(feed_all_ways(&h, in, n).rc, CW_HTTP_DONE);
	n = build(in, sizeof(in), "GET http://n/", 200, " HTTP/1.1\r\n\r\n");
	o = feed_all_ways(&h, in, n);
	assert_int_equal(o.rc, -EMSGSIZE);
	assert_int_equal(o.status, 414);
	assert_int_equal(o.used, 101);
	/* ... in the method or the version it is 400. */
	n = build(in, sizeof(in), "G", 200, " http://n/ HTTP/1.1\r\n\r\n");
	o = feed_all_ways(&h, in, n);
	assert_int_equal(o.rc, -EMSGSIZE);
	assert_int_equal(o.status, 400);
	n = build(in, sizeof(in), "GET http://n/ HTTP/1.1", 100, "\r\n\r\n");
	o = feed_all_ways(&h, in, n);
	assert_int_equal(o.rc, -EMSGSIZE);
	assert_int_equal(o.status, 400);
	/* The head limit hit inside the target is 414 as well. */
	setup(&h, 64, 8, 0, 0);
	n = build(in, sizeof(in), "GET http://n/", 100, " HTTP/1.1\r\n\r\n");
	o = feed_all_ways(&h, in, n);
	assert_int_equal(o.status, 414);
	assert_int_equal(o.used, 65);

	/* fields_max field lines, then one more. */
	setup(&h, 1024, 3, 0, 0);
	strcpy(in, "GET http://n/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
	assert_int_equal(feed_all_ways(&h, in, strlen(in)).rc, CW_HTTP_DONE);
	strcpy(in, "GET http://n/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
	o = feed_all_ways(&h, in, strlen(in));
	assert_int_equal(o.rc, -EMSGSIZE);
	assert_int_equal(o.status, 431);
	assert_int_equal(o.used, 48);
	/* No field lines at all. */
	setup(&h, 1024, 0, 0, 0);
	strcpy(in, "GET http://n/ HTTP/1.1\r\n\r\n");
	assert_int_equal(feed_all_ways(&h, in, strlen(in)).rc, CW_HTTP_DONE);

	/* Longest node name and label; one byte more. */
	char name[300], label[80];
	memset(name, 'a', sizeof(name));
	for (size_t i = 63; i < 253; i += 64)
		name[i] = '.';
	setup_default(&h, 0);
	snprintf(in, sizeof(in), "CONNECT %.253s:1 HTTP/1.1\r\nHost: x\r\n\r\n", name);
	assert_int_equal(feed_all_ways(&h, in, strlen(in)).rc, CW_HTTP_DONE);
	assert_int_equal(h.req.host_len, 253);
	snprintf(in, sizeof(in), "CONNECT %.254s:1 HTTP/1.1\r\nHost: x\r\n\r\n", name);
	assert_int_equal(feed_all_ways(&h, in, strlen(in)).status, 400);
	memset(label, 'b', sizeof(label));
	snprintf(in, sizeof(in), "CONNECT %.63s.c:1 HTTP/1.1\r\nHost: x\r\n\r\n", label);
	assert_int_equal(feed_all_ways(&h, in, strlen(in)).rc, CW_HTTP_DONE);
	snprintf(in, sizeof(in), "CONNECT %.64s.c:1 HTTP/1.1\r\nHost: x\r\n\r\n", label);
	assert_int_equal(feed_all_ways(&h, in, strlen(in)).status, 400);
	strcpy(in, "CONNECT 255.255.255.255:65535 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(feed_all_ways(&h, in, strlen(in)).rc, CW_HTTP_DONE);
	assert_true(h.req.host_is_ipv4);
	assert_int_equal(h.req.port, 65535);
}

static void test_init_and_reset(void **state)
{
	struct cw_http_head h;
	struct cw_http_head_cfg cfg = {buf, 64, fields, 1, 0, 0};

	(void)state;
	assert_int_equal(cw_http_head_init(&h, &cfg), 0);
	assert_int_equal(h.cfg.line_max, 64);
	cfg.head_max = 63;
	assert_int_equal(cw_http_head_init(&h, &cfg), -EINVAL);
	cfg.head_max = CW_HTTP_HEAD_MAX_CAP + 1;
	assert_int_equal(cw_http_head_init(&h, &cfg), -EINVAL);
	cfg.head_max = 64;
	cfg.line_max = 65;
	assert_int_equal(cw_http_head_init(&h, &cfg), -EINVAL);
	cfg.line_max = 0;
	cfg.buf = NULL;
	assert_int_equal(cw_http_head_init(&h, &cfg), -EINVAL);
	cfg.buf = buf;
	cfg.fields = NULL;
	assert_int_equal(cw_http_head_init(&h, &cfg), -EINVAL);
	cfg.fields_max = 0;
	assert_int_equal(cw_http_head_init(&h, &cfg), 0);

	/* A parser that failed reads a new head after reset. */
	setup_default(&h, 0);
	size_t used;
	assert_int_equal(cw_http_head_feed(&h, (const uint8_t *)"\n", 1, &used), -EBADMSG);
	cw_http_head_reset(&h);
	const char *in = "GET http://n/ HTTP/1.1\r\n\r\n";
	assert_int_equal(cw_http_head_feed(&h, (const uint8_t *)in, strlen(in), &used),
			 CW_HTTP_DONE);
	assert_int_equal(used, strlen(in));
	assert_int_equal(h.status, 0);
	assert_null(h.reason);
	assert_int_equal(cw_http_head_feed(&h, (const uint8_t *)in, 0, &used), CW_HTTP_DONE);
}

static void test_render_error(void **state)
{
	char out[512];
	const char *want = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
			   "Content-Length: 23\r\nConnection: close\r\n\r\n"
			   "node edge-7 not here??\n";
	int n;

	(void)state;
	n = cw_http_render_error(out, sizeof(out), 502, "node edge-7 not here\r\n");
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, strlen(want));
	/* Exactly enough room (plus the NUL), then one byte less. */
	assert_int_equal(
	    cw_http_render_error(out, strlen(want) + 1, 502, "node edge-7 not here\r\n"), n);
	assert_int_equal(cw_http_render_error(out, strlen(want), 502, "node edge-7 not here\r\n"),
			 -ENOSPC);
	assert_int_equal(cw_http_render_error(out, sizeof(out), 299, "x"), -EINVAL);

	n = cw_http_render_error(out, sizeof(out), 403, NULL);
	want = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
	       "Connection: close\r\n\r\nForbidden\n";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, strlen(want));

	/* A long reason from the peer is cut, and its bytes made printable. */
	char reason[400];
	memset(reason, '\x80', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	char big[1024];
	n = cw_http_render_error(big, sizeof(big), 400, reason);
	assert_true(n > 0);
	assert_non_null(strstr(big, "Content-Length: 257\r\n"));
	const char *body = strstr(big, "\r\n\r\n") + 4;
	assert_int_equal(strlen(body), 257);
	assert_int_equal(strspn(body, "?"), 256);

	static const int statuses[] = {400, 403, 404, 405, 408, 414, 431,
				       500, 501, 502, 503, 504, 505};
	for (size_t i = 0; i < N(statuses); i++)
		assert_true(cw_http_render_error(out, sizeof(out), statuses[i], "r") > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect),
	    cmocka_unit_test(test_absolute_forms),
	    cmocka_unit_test(test_http10_and_connection),
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_origin_form),
	    cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_error_positions),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_init_and_reset),
	    cmocka_unit_test(test_render_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
