/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for control/http_head.c. The first input byte picks the
 * limits (bit 0: origin form allowed; bits 2-1: head size; bits 4-3: line
 * length; bits 7-5: field count), the second seeds the cutting of the rest
 * into feeds of 1-16 bytes. The rest, fed whole to one parser and in pieces
 * to another, must give the same result; a head that ends must end inside
 * the input with every parsed field inside the head; an error must carry a
 * status of its class and a one-line reason. The error answer rendered from
 * it, and from the raw input as a reason, must be well formed. A violated
 * invariant traps.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/http_head.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define HEAD_MAX 16384

static const size_t head_sizes[4] = {64, 256, 1024, HEAD_MAX};
static const size_t line_sizes[4] = {0, 32, 100, 8192};
static const size_t field_counts[8] = {0, 1, 2, 4, 8, 16, 100, 100};

struct run {
	char buf[HEAD_MAX];
	struct cw_http_field fields[100];
	struct cw_http_head h;
	int rc;
	size_t used;
};

static struct run whole, pieces;

static void setup(struct run *r, uint8_t sel)
{
	struct cw_http_head_cfg cfg = {
	    .buf = r->buf,
	    .head_max = head_sizes[(sel >> 1) & 3],
	    .fields = r->fields,
	    .fields_max = field_counts[sel >> 5],
	    .line_max = line_sizes[(sel >> 3) & 3],
	    .flags = sel & 1 ? CW_HTTP_ALLOW_ORIGIN_FORM : 0,
	};

	if (cfg.line_max > cfg.head_max)
		cfg.line_max = cfg.head_max;
	memset(r->buf, 0xa5, sizeof(r->buf));
	check(cw_http_head_init(&r->h, &cfg) == 0);
	r->used = 0;
}

static void feed(struct run *r, const uint8_t *in, size_t len, uint32_t seed)
{
	size_t off = 0;

	r->rc = CW_HTTP_NEED_MORE;
	while (off < len) {
		size_t n = len - off, used = 0;
		if (seed) {
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			if (n > 1 + seed % 16)
				n = 1 + seed % 16;
		}
		r->rc = cw_http_head_feed(&r->h, in + off, n, &used);
		check(used <= n);
		r->used += used;
		if (r->rc != CW_HTTP_NEED_MORE)
			break;
		check(used == n);
		off += n;
	}
}

static bool inside(const struct run *r, const char *p, size_t n)
{
	if (!p)
		return n == 0;
	return p >= r->buf && n <= r->used && (size_t)(p - r->buf) <= r->used - n;
}

static size_t off(const struct run *r, const char *p)
{
	return p ? (size_t)(p - r->buf) + 1 : 0;
}

static bool tchars(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", p[i]))
			return false;
	return n > 0;
}

static void check_request(const struct run *r, const struct run *o)
{
	const struct cw_http_request *q = &r->h.req, *p = &o->h.req;

	check(inside(r, q->method, q->method_len) && tchars(q->method, q->method_len));
	check(inside(r, q->host, q->host_len) && q->host_len <= CW_HTTP_HOST_MAX);
	check(inside(r, q->origin, q->origin_len));
	check(inside(r, q->host_field, q->host_field_len));
	check(q->version_minor == 0 || q->version_minor == 1);
	if (q->form == CW_HTTP_FORM_AUTHORITY || q->form == CW_HTTP_FORM_ABSOLUTE)
		check(q->host_len > 0 && q->port > 0);
	else
		check(q->form == CW_HTTP_FORM_ORIGIN &&
		      (r->h.cfg.flags & CW_HTTP_ALLOW_ORIGIN_FORM));
	check(q->is_connect == (q->form == CW_HTTP_FORM_AUTHORITY));
	check(!(q->is_connect && q->body == CW_HTTP_BODY_CHUNKED));
	check(q->nfields <= r->h.cfg.fields_max && q->fields == r->fields);
	for (size_t i = 0; i < q->nfields; i++) {
		const struct cw_http_field *f = &q->fields[i], *g = &p->fields[i];
		check(inside(r, f->name, f->name_len) && tchars(f->name, f->name_len));
		check(inside(r, f->value, f->value_len));
		check(!memchr(f->value, '\r', f->value_len) &&
		      !memchr(f->value, '\n', f->value_len));
		check(off(r, f->name) == off(o, g->name) && f->name_len == g->name_len);
		check(off(r, f->value) == off(o, g->value) && f->value_len == g->value_len);
	}
	check(off(r, q->method) == off(o, p->method) && off(r, q->host) == off(o, p->host));
	check(off(r, q->origin) == off(o, p->origin) && q->origin_len == p->origin_len);
	check(off(r, q->host_field) == off(o, p->host_field));
	check(q->port == p->port && q->form == p->form && q->body == p->body &&
	      q->content_length == p->content_length && q->keep_alive == p->keep_alive &&
	      q->nfields == p->nfields && q->host_is_ipv4 == p->host_is_ipv4);
}

static void check_error(const struct run *r)
{
	const struct cw_http_head *h = &r->h;

	check(r->used >= 1);
	check(h->reason && !strpbrk(h->reason, "\r\n\""));
	if (r->rc == -EMSGSIZE)
		check(h->status == 414 || h->status == 431 || h->status == 400);
	else
		check(r->rc == -EBADMSG &&
		      (h->status == 400 || h->status == 501 || h->status == 505));
}

/* A rendered answer: one status line, a Content-Length that matches. */
static void check_render(int status, const char *reason)
{
	char out[1024];
	int n = cw_http_render_error(out, sizeof(out), status, reason);
	const char *body, *cl;
	size_t blen;

	check(n > 0 && (size_t)n < sizeof(out));
	check(strlen(out) == (size_t)n);
	body = strstr(out, "\r\n\r\n");
	check(body);
	body += 4;
	blen = (size_t)n - (size_t)(body - out);
	check(blen >= 1 && blen <= CW_HTTP_REASON_MAX + 1);
	check(memchr(body, '\n', blen) == body + blen - 1 && !memchr(body, '\r', blen));
	cl = strstr(out, "Content-Length: ");
	check(cl && (size_t)strtoul(cl + 16, NULL, 10) == blen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[300];

	if (size < 2)
		return 0;
	setup(&whole, data[0]);
	setup(&pieces, data[0]);
	feed(&whole, data + 2, size - 2, 0);
	feed(&pieces, data + 2, size - 2, 0x9e3779b9u * (data[1] + 1u));

	check(whole.rc == pieces.rc && whole.used == pieces.used);
	check(whole.h.status == pieces.h.status && whole.h.reason == pieces.h.reason);
	check(whole.used <= size - 2 && whole.h.len <= whole.h.cfg.head_max);
	check(memcmp(whole.buf, data + 2, whole.h.len) == 0);
	check(memcmp(pieces.buf, data + 2, pieces.h.len) == 0);
	if (whole.rc == CW_HTTP_NEED_MORE) {
		check(whole.used == size - 2 && whole.h.len == whole.used);
	} else if (whole.rc == CW_HTTP_DONE) {
		check(whole.h.len == whole.used && whole.used >= 4);
		check(memcmp(whole.buf + whole.used - 4, "\r\n\r\n", 4) == 0);
		check_request(&whole, &pieces);
		check_request(&pieces, &whole);
	} else {
		check_error(&whole);
		check_render(whole.h.status, whole.h.reason);
	}

	size_t n = size - 2 < sizeof(reason) - 1 ? size - 2 : sizeof(reason) - 1;
	memcpy(reason, data + 2, n);
	reason[n] = '\0';
	check_render(502, reason);
	return 0;
}
