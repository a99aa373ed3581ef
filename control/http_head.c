/* SPDX-License-Identifier: Apache-2.0 */
#include "control/http_head.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { ST_LINE, ST_CR };

static int fail(struct cw_http_head *h, int rc, int status, const char *reason)
{
	h->result = rc;
	h->status = status;
	h->reason = reason;
	return rc;
}

static int bad(struct cw_http_head *h, const char *reason)
{
	return fail(h, -EBADMSG, 400, reason);
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	return is_digit(c) || is_alpha(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);

	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}

int cw_http_head_init(struct cw_http_head *h, const struct cw_http_head_cfg *cfg)
{
	if (!cfg->buf || cfg->head_max < 64 || cfg->head_max > CW_HTTP_HEAD_MAX_CAP ||
	    (!cfg->fields && cfg->fields_max) || cfg->line_max > cfg->head_max)
		return -EINVAL;
	h->cfg = *cfg;
	if (!h->cfg.line_max)
		h->cfg.line_max = h->cfg.head_max;
	cw_http_head_reset(h);
	return 0;
}

void cw_http_head_reset(struct cw_http_head *h)
{
	struct cw_http_head_cfg cfg = h->cfg;

	memset(h, 0, sizeof(*h));
	h->cfg = cfg;
	h->state = ST_LINE;
	h->result = CW_HTTP_NEED_MORE;
	h->req.fields = cfg.fields;
}

/*
 * A limit was hit while reading a line. In the request line the status
 * names the part being read when it happened.
 */
static int too_big(struct cw_http_head *h)
{
	if (h->in_fields)
		return fail(h, -EMSGSIZE, 431, "request header fields too large");
	if (h->sp == 1)
		return fail(h, -EMSGSIZE, 414, "request target too long");
	return fail(h, -EMSGSIZE, 400, "request line too long");
}

/* 1 to 5 digits, 1..65535. */
static bool parse_port(const char *p, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)p[i]))
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Dotted quad, each part 0..255 without leading zeros (no octal guessing). */
static bool is_ipv4(const char *s, size_t n)
{
	unsigned parts = 0;
	size_t i = 0;

	while (i <= n) {
		size_t j = i;
		unsigned v = 0;
		while (j < n && is_digit((unsigned char)s[j])) {
			v = v * 10 + (unsigned)(s[j] - '0');
			if (j - i >= 3)
				return false;
			j++;
		}
		if (j == i || v > 255 || (j - i > 1 && s[i] == '0'))
			return false;
		parts++;
		if (j == n)
			break;
		if (s[j] != '.' || parts == 4)
			return false;
		i = j + 1;
	}
	return parts == 4;
}

/* Lowercase RFC 1123 subdomain: labels of [a-z0-9-], 1..63, no '-' at an end. */
static bool is_node_name(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > CW_HTTP_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

/*
 * A host whose last label is all digits is read as an IPv4 address, as
 * URL parsers do, so "10.0.0.300" cannot slip through as a name.
 */
static int check_host(struct cw_http_head *h, const char *s, size_t n)
{
	size_t last = n;
	bool numeric = true;

	while (last > 0 && s[last - 1] != '.')
		last--;
	for (size_t i = last; i < n; i++)
		numeric = numeric && is_digit((unsigned char)s[i]);
	if (last < n && numeric) {
		if (!is_ipv4(s, n))
			return bad(h, "invalid IPv4 address in target");
		h->req.host_is_ipv4 = true;
		return 0;
	}
	if (!is_node_name(s, n))
		return bad(h, "target host is not a valid node name");
	return 0;
}

static int parse_authority(struct cw_http_head *h, const char *a, size_t n, bool need_port)
{
	const char *colon;
	size_t hlen;

	if (memchr(a, '@', n))
		return bad(h, "userinfo in target not allowed");
	if (memchr(a, '[', n))
		return bad(h, "IPv6 literal targets not supported");
	if (memchr(a, '%', n))
		return bad(h, "percent-encoded target host not allowed");
	colon = memchr(a, ':', n);
	hlen = colon ? (size_t)(colon - a) : n;
	if (hlen == 0)
		return bad(h, "empty target host");
	if (colon) {
		if (!parse_port(colon + 1, n - hlen - 1, &h->req.port))
			return bad(h, "invalid target port");
	} else if (need_port) {
		return bad(h, "CONNECT target needs host:port");
	} else {
		h->req.port = 80;
	}
	h->req.host = a;
	h->req.host_len = hlen;
	return check_host(h, a, hlen);
}

/* Path and query: visible ASCII, '%' only as a complete escape. */
static int check_origin(struct cw_http_head *h, const char *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (o[i] != '%')
			continue;
		if (n - i < 3 || !is_hex((unsigned char)o[i + 1]) ||
		    !is_hex((unsigned char)o[i + 2]))
			return bad(h, "malformed percent-encoding in target");
		i += 2;
	}
	h->req.origin = o;
	h->req.origin_len = n;
	return 0;
}

static int parse_absolute(struct cw_http_head *h, const char *t, size_t n)
{
	size_t s = 0, a;

	while (s < n && (is_alpha((unsigned char)t[s]) || is_digit((unsigned char)t[s]) ||
			 t[s] == '+' || t[s] == '-' || t[s] == '.'))
		s++;
	if (s == 0 || !is_alpha((unsigned char)t[0]) || s == n || t[s] != ':')
		return bad(h, "malformed request target");
	if (ieq(t, s, "https"))
		return bad(h, "https target: use CONNECT");
	if (!ieq(t, s, "http"))
		return bad(h, "unsupported URI scheme");
	if (n - s < 3 || t[s + 1] != '/' || t[s + 2] != '/')
		return bad(h, "malformed request target");
	s += 3;
	for (a = s; a < n && t[a] != '/' && t[a] != '?'; a++)
		;
	h->req.form = CW_HTTP_FORM_ABSOLUTE;
	if (parse_authority(h, t + s, a - s, false))
		return h->result;
	return check_origin(h, t + a, n - a);
}

static int parse_target(struct cw_http_head *h, const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f)
			return bad(h, "invalid character in request target");
		if (c == '#')
			return bad(h, "fragment in request target");
	}
	if (h->req.is_connect) {
		h->req.form = CW_HTTP_FORM_AUTHORITY;
		return parse_authority(h, t, n, true);
	}
	if (t[0] == '/') {
		if (!(h->cfg.flags & CW_HTTP_ALLOW_ORIGIN_FORM))
			return bad(h, "this is a proxy: send an absolute http:// URI or CONNECT");
		h->req.form = CW_HTTP_FORM_ORIGIN;
		return check_origin(h, t, n);
	}
	if (n == 1 && t[0] == '*')
		return bad(h, "asterisk-form target not supported");
	return parse_absolute(h, t, n);
}

static int parse_version(struct cw_http_head *h, const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) || !is_digit((unsigned char)v[5]) || v[6] != '.' ||
	    !is_digit((unsigned char)v[7]))
		return bad(h, "malformed HTTP version");
	if (v[5] != '1')
		return fail(h, -EBADMSG, 505, "HTTP version not supported");
	h->req.version_minor = v[7] == '0' ? 0 : 1;
	return 0;
}

/* method SP request-target SP HTTP-version, each SP exactly one. */
static int parse_request_line(struct cw_http_head *h, const char *l, size_t n)
{
	const char *sp1 = memchr(l, ' ', n), *sp2, *t;

	if (!sp1)
		return bad(h, "malformed request line");
	t = sp1 + 1;
	sp2 = memchr(t, ' ', n - (size_t)(t - l));
	/* Empty parts and a third SP are how extra whitespace shows. */
	if (!sp2 || sp1 == l || sp2 == t || memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - l)))
		return bad(h, "malformed request line");
	if (parse_version(h, sp2 + 1, n - (size_t)(sp2 + 1 - l)))
		return h->result;
	for (const char *m = l; m < sp1; m++)
		if (!is_tchar((unsigned char)*m))
			return bad(h, "invalid method");
	h->req.method = l;
	h->req.method_len = (size_t)(sp1 - l);
	h->req.is_connect = h->req.method_len == 7 && !memcmp(l, "CONNECT", 7);
	return parse_target(h, t, (size_t)(sp2 - t));
}

/* URI host and port characters: reg-name, IP-literal brackets, ':'. */
static bool host_field_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!(is_alpha(c) || is_digit(c) || (c && strchr("-._~!$&'()*+,;=:[]%", c))))
			return false;
	}
	return true;
}

static int parse_content_length(struct cw_http_head *h, const char *v, size_t n)
{
	uint64_t x = 0;

	if (h->cl_seen)
		return bad(h, "duplicate Content-Length");
	h->cl_seen = true;
	/* 19 digits cannot overflow 64 bits. */
	if (n == 0 || n > 19)
		return bad(h, "invalid Content-Length");
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)v[i]))
			return bad(h, "invalid Content-Length");
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	h->req.content_length = x;
	return 0;
}

/*
 * Call @fn on each element of the comma-separated list @v, whitespace
 * trimmed, empty ones skipped (RFC 9110 §5.6.1). Stops at an error.
 */
static int for_each_element(struct cw_http_head *h, const char *v, size_t n,
			    int (*fn)(struct cw_http_head *, const char *, size_t))
{
	size_t i = 0;

	while (i < n) {
		size_t s = i, e;
		while (i < n && v[i] != ',')
			i++;
		e = i++;
		while (s < e && is_ows((unsigned char)v[s]))
			s++;
		while (e > s && is_ows((unsigned char)v[e - 1]))
			e--;
		if (e > s && fn(h, v + s, e - s))
			return h->result;
	}
	return 0;
}

static int te_element(struct cw_http_head *h, const char *e, size_t n)
{
	h->te_last_chunked = ieq(e, n, "chunked");
	if (h->te_last_chunked)
		h->te_chunked++;
	else
		h->te_other = true;
	return 0;
}

static int conn_element(struct cw_http_head *h, const char *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)e[i]))
			return bad(h, "invalid Connection option");
	if (ieq(e, n, "close"))
		h->req.conn_close = true;
	else if (ieq(e, n, "keep-alive"))
		h->req.conn_keep_alive = true;
	else if (ieq(e, n, "upgrade"))
		h->req.conn_upgrade = true;
	return 0;
}

static int field_semantics(struct cw_http_head *h, const struct cw_http_field *f)
{
	if (ieq(f->name, f->name_len, "host")) {
		if (h->req.host_field)
			return bad(h, "duplicate Host");
		if (!host_field_ok(f->value, f->value_len))
			return bad(h, "invalid Host");
		h->req.host_field = f->value;
		h->req.host_field_len = f->value_len;
		return 0;
	}
	if (ieq(f->name, f->name_len, "content-length"))
		return parse_content_length(h, f->value, f->value_len);
	if (ieq(f->name, f->name_len, "transfer-encoding")) {
		h->te_seen = true;
		return for_each_element(h, f->value, f->value_len, te_element);
	}
	if (ieq(f->name, f->name_len, "connection") ||
	    ieq(f->name, f->name_len, "proxy-connection"))
		return for_each_element(h, f->value, f->value_len, conn_element);
	return 0;
}

/* field-name ":" OWS field-value OWS (RFC 9112 §5). */
static int parse_field_line(struct cw_http_head *h, const char *l, size_t n)
{
	struct cw_http_field *f;
	size_t i = 0, vs, ve;

	if (is_ows((unsigned char)l[0]))
		return bad(h, "obs-fold or whitespace before a field line");
	if (h->req.nfields == h->cfg.fields_max)
		return fail(h, -EMSGSIZE, 431, "too many header fields");
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == n || l[i] != ':')
		return bad(h, i < n && is_ows((unsigned char)l[i]) ? "whitespace before colon"
								   : "invalid field name");
	if (i == 0)
		return bad(h, "empty field name");
	for (vs = i + 1; vs < n && is_ows((unsigned char)l[vs]); vs++)
		;
	for (ve = n; ve > vs && is_ows((unsigned char)l[ve - 1]); ve--)
		;
	for (size_t j = vs; j < ve; j++) {
		unsigned char c = (unsigned char)l[j];
		if (c != '\t' && (c < 0x20 || c == 0x7f))
			return bad(h, "invalid character in field value");
	}
	f = &h->cfg.fields[h->req.nfields++];
	f->name = l;
	f->name_len = i;
	f->value = l + vs;
	f->value_len = ve - vs;
	return field_semantics(h, f);
}

/* The blank line: rules that need the whole head (RFC 9112 §3.2, §6). */
static int finish_head(struct cw_http_head *h)
{
	struct cw_http_request *r = &h->req;

	if (r->version_minor == 1 && !r->host_field && r->form != CW_HTTP_FORM_ABSOLUTE)
		return bad(h, "missing Host header");
	if (h->te_seen) {
		if (r->version_minor == 0)
			return bad(h, "Transfer-Encoding in an HTTP/1.0 request");
		if (h->cl_seen)
			return bad(h, "both Content-Length and Transfer-Encoding");
		if (r->is_connect)
			return bad(h, "CONNECT request with a body");
		if (h->te_chunked != 1 || !h->te_last_chunked)
			return bad(h, "chunked must be the final transfer coding, once");
		if (h->te_other)
			return fail(h, -EBADMSG, 501, "transfer coding not supported");
		r->body = CW_HTTP_BODY_CHUNKED;
	} else if (h->cl_seen) {
		if (r->is_connect && r->content_length)
			return bad(h, "CONNECT request with a body");
		r->body = CW_HTTP_BODY_LENGTH;
	}
	r->keep_alive = !r->conn_close && (r->version_minor == 1 || r->conn_keep_alive);
	h->result = CW_HTTP_DONE;
	return CW_HTTP_DONE;
}

/* A CRLF arrived: judge the line before it. */
static int end_line(struct cw_http_head *h)
{
	const char *l = h->cfg.buf + h->line_start;
	size_t n = h->len - 2 - h->line_start;
	int rc = 0;

	if (!h->in_fields) {
		if (n == 0) /* an empty line before the request line */
			return 0;
		rc = parse_request_line(h, l, n);
		h->in_fields = true;
	} else if (n == 0) {
		rc = finish_head(h);
	} else {
		rc = parse_field_line(h, l, n);
	}
	return rc;
}

int cw_http_head_feed(struct cw_http_head *h, const uint8_t *in, size_t len, size_t *used)
{
	*used = 0;
	if (h->result != CW_HTTP_NEED_MORE)
		return h->result;
	for (size_t i = 0; i < len; i++) {
		unsigned char b = in[i];
		int rc;

		*used = i + 1;
		if (h->len == h->cfg.head_max)
			return too_big(h);
		h->cfg.buf[h->len++] = (char)b;
		if (h->state == ST_CR) {
			if (b != '\n')
				return bad(h, "bare CR in a line");
			h->state = ST_LINE;
			rc = end_line(h);
			h->line_start = h->len;
			if (rc)
				return rc;
			continue;
		}
		if (b == '\r') {
			h->state = ST_CR;
			continue;
		}
		if (b == '\n')
			return bad(h, "bare LF: lines must end in CRLF");
		if (!h->in_fields && b == ' ')
			h->sp++;
		if (h->len - h->line_start > h->cfg.line_max)
			return too_big(h);
	}
	return CW_HTTP_NEED_MORE;
}

const char *cw_http_status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	}
	return NULL;
}

int cw_http_render_error(char *out, size_t cap, int status, const char *reason)
{
	const char *phrase = cw_http_status_text(status);
	char body[CW_HTTP_REASON_MAX + 1];
	size_t n = 0;
	int w;

	if (!phrase)
		return -EINVAL;
	if (!reason)
		reason = phrase;
	for (; n < CW_HTTP_REASON_MAX && reason[n]; n++) {
		unsigned char c = (unsigned char)reason[n];
		body[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	body[n] = '\0';
	w = snprintf(out, cap,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s\n",
		     status, phrase, n + 1, body);
	if (w < 0 || (size_t)w >= cap)
		return -ENOSPC;
	return w;
}
