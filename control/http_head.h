/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An incremental, bounded parser for one HTTP/1.1 request head (RFC 9112),
 * written for the cloud ingress (DESIGN.md §6): a forward proxy that takes
 * `CONNECT node:port` and absolute-form `METHOD http://node[:port]/path`,
 * and, with a flag, origin-form for the admin API.
 *
 * The caller feeds bytes as they arrive. The parser copies the head into
 * storage the caller provides (so its size is the head limit), stops at the
 * blank line that ends it and never takes a byte beyond it: what follows is
 * the body or, after CONNECT, the tunnel. Every field it reports points into
 * that storage and stays valid until the next reset.
 *
 * The result depends only on the bytes, never on how they were split into
 * feeds: each byte is examined once, in order, and a line is judged when its
 * terminator arrives, so the first fault in byte order wins either way.
 *
 * Decisions where RFC 9112 leaves a choice (strict, because the ingress
 * hands the bytes after the head to another parser, and any difference
 * between two parsers' framing is a request-smuggling hole):
 *  - lines end in CRLF only: a bare LF (§2.2 MAY accept) and a bare CR are
 *    400; empty lines before the request line are skipped (§2.2 SHOULD);
 *  - exactly one SP between the request line's three parts;
 *  - obs-fold and whitespace before the first field line are 400 (§5.2);
 *  - whitespace between a field name and its colon is 400 (§5.1 MUST);
 *  - Content-Length is 1*DIGIT (at most 19 digits); a second Content-Length
 *    field line is 400 even with an equal value, and so is a list;
 *  - Transfer-Encoding with Content-Length, in HTTP/1.0, or on CONNECT is
 *    400; chunked must be the last coding and appear once (400); any other
 *    coding, even if well placed, is 501 (the ingress decodes none);
 *  - CONNECT takes no body: a Content-Length other than 0 is 400;
 *  - HTTP/1.x with x > 1 is handled as HTTP/1.1 (RFC 9110 §2.5); any other
 *    major version is 505; a version that is not `HTTP/` DIGIT "." DIGIT
 *    (case-sensitive) is 400;
 *  - `https://` in absolute form is 400: the ingress relays plain bytes and
 *    does not originate TLS; a client reaches a TLS port with CONNECT, which
 *    is what curl, Go (kube-apiserver, prometheus) and konnectivity do;
 *  - the asterisk form (`OPTIONS *`) is 400;
 *  - the host of a CONNECT or absolute-form target must be a Kubernetes
 *    node name (lowercase RFC 1123 subdomain, labels of 1-63 bytes, at most
 *    253 bytes) or an IPv4 literal: a host whose last label is all digits
 *    must be a dotted quad without leading zeros. Upper case, IPv6
 *    literals, userinfo, percent-encoding, an empty or missing port (CONNECT
 *    needs one), port 0 or above 65535 are 400, as is a fragment, a
 *    malformed percent-escape, a control or a non-ASCII byte anywhere in
 *    the target (other visible ASCII in path and query is the origin
 *    server's to judge);
 *  - Host: at most one field line (400), its value made only of URI host
 *    and port characters (400); required in HTTP/1.1 unless the target is in
 *    absolute form, whose host overrides it (RFC 9110 §7.2). A CONNECT's
 *    Host is required but not compared with the target: kube-apiserver's
 *    egress dialer sends `Host: 127.0.0.1`.
 */
#ifndef CW_HTTP_HEAD_H
#define CW_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_HTTP_HEAD_MAX_DEFAULT   16384 /* bytes of storage the ingress gives one head */
#define CW_HTTP_FIELDS_MAX_DEFAULT 100
#define CW_HTTP_LINE_MAX_DEFAULT   8192
#define CW_HTTP_HEAD_MAX_CAP	   (1u << 20) /* init refuses more storage than this */
#define CW_HTTP_HOST_MAX	   253
#define CW_HTTP_REASON_MAX	   256 /* bytes of reason text a rendered error keeps */

/* Accept origin-form targets (`GET /path`), for the admin API. */
#define CW_HTTP_ALLOW_ORIGIN_FORM 0x1u

/* cw_http_head_feed() results other than errors. */
#define CW_HTTP_NEED_MORE 0
#define CW_HTTP_DONE	  1

/* The answer a CONNECT gets once the dial stream is up. */
#define CW_HTTP_CONNECT_OK "HTTP/1.1 200 Connection Established\r\n\r\n"

enum cw_http_form {
	CW_HTTP_FORM_NONE = 0,
	CW_HTTP_FORM_AUTHORITY, /* CONNECT host:port */
	CW_HTTP_FORM_ABSOLUTE,	/* http://host[:port]/path?query */
	CW_HTTP_FORM_ORIGIN,	/* /path?query, only with CW_HTTP_ALLOW_ORIGIN_FORM */
};

/* How the body after the head is delimited (RFC 9112 §6.3). */
enum cw_http_body {
	CW_HTTP_BODY_NONE = 0, /* no body: no Content-Length nor Transfer-Encoding */
	CW_HTTP_BODY_LENGTH,   /* content_length bytes (which may be 0) */
	CW_HTTP_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
};

/* One field line, whitespace around the value removed. Not NUL-terminated. */
struct cw_http_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* The parsed request; valid once cw_http_head_feed() returned CW_HTTP_DONE. */
struct cw_http_request {
	const char *method;
	size_t method_len;
	bool is_connect;
	int version_minor; /* 0 for HTTP/1.0, 1 for HTTP/1.1 (and 1.x, x > 1) */
	enum cw_http_form form;
	/*
	 * Target host and port, for the authority and absolute forms only
	 * (host_len 0 and port 0 in origin form). port is 80 when an http://
	 * target names none. host_is_ipv4 tells a dotted quad from a node name.
	 */
	const char *host;
	size_t host_len;
	uint16_t port;
	bool host_is_ipv4;
	/*
	 * Path and query as sent, for the absolute and origin forms. In
	 * absolute form it may be empty or start with '?' (`http://n:1?q`):
	 * a forwarder then sends "/" before it (RFC 9112 §3.2.1).
	 */
	const char *origin;
	size_t origin_len;
	/* The Host field's value, or NULL when there is none. */
	const char *host_field;
	size_t host_field_len;
	enum cw_http_body body;
	uint64_t content_length; /* with CW_HTTP_BODY_LENGTH */
	/* Tokens seen in Connection and Proxy-Connection. */
	bool conn_close, conn_keep_alive, conn_upgrade;
	/* Whether the client expects the connection to persist (§9.3). */
	bool keep_alive;
	const struct cw_http_field *fields; /* in order of arrival */
	size_t nfields;
};

/* Storage and limits of one parser. */
struct cw_http_head_cfg {
	char *buf;	 /* holds the head: its size is the head limit (431) */
	size_t head_max; /* bytes of buf, 64 .. CW_HTTP_HEAD_MAX_CAP */
	struct cw_http_field *fields;
	size_t fields_max; /* entries of fields: more field lines are 431 */
	size_t line_max;   /* bytes of one line without its CRLF; 0 = head_max */
	unsigned flags;	   /* CW_HTTP_ALLOW_* */
};

struct cw_http_head {
	struct cw_http_head_cfg cfg;
	struct cw_http_request req;
	size_t len;	   /* bytes of the head taken so far */
	size_t line_start; /* offset in buf of the line being read */
	int state;
	int result;	     /* sticky once DONE or an error */
	unsigned sp;	     /* SPs seen in the request line so far */
	bool in_fields;	     /* past the request line */
	bool cl_seen;	     /* a Content-Length field line was seen */
	bool te_seen;	     /* a Transfer-Encoding field line was seen */
	unsigned te_chunked; /* chunked codings seen */
	bool te_last_chunked;
	bool te_other; /* a coding other than chunked */
	/* With an error: the status to answer and a one-line reason. */
	int status;
	const char *reason;
};

/*
 * Set @h up over @cfg's storage (which must outlive it) and reset it.
 * Returns 0, or -EINVAL when buf is NULL, head_max is outside
 * 64 .. CW_HTTP_HEAD_MAX_CAP, fields is NULL with fields_max > 0, or
 * line_max exceeds head_max.
 */
int cw_http_head_init(struct cw_http_head *h, const struct cw_http_head_cfg *cfg);

/* Forget everything parsed, to read a new head with the same storage. */
void cw_http_head_reset(struct cw_http_head *h);

/*
 * Feed the @len bytes at @in, which follow those fed before. @used gets
 * how many of them the head took. Returns:
 *  CW_HTTP_NEED_MORE  the head is not complete; all @len bytes were taken;
 *  CW_HTTP_DONE       the head ended at @in + *used, where the body or the
 *                     tunnel begins; h->req holds the request;
 *  -EMSGSIZE          a limit was hit: h->status is 414 (request target
 *                     too long), 431 (field line, field count or head too
 *                     large) or 400 (method or version too long);
 *  -EBADMSG           the head is malformed or not acceptable: h->status is
 *                     400, 501 (transfer coding) or 505 (version).
 * With an error, h->reason is a static one-line text (no CR, LF or
 * quote) that can be the body of the answer; the connection must then be
 * closed. The result is sticky: later feeds return it again with *used 0.
 */
int cw_http_head_feed(struct cw_http_head *h, const uint8_t *in, size_t len, size_t *used);

/* The standard reason phrase of @status, or NULL for one not rendered here. */
const char *cw_http_status_text(int status);

/*
 * Write the complete error answer
 *   HTTP/1.1 <status> <phrase>\r\nContent-Type: text/plain\r\n
 *   Content-Length: N\r\nConnection: close\r\n\r\n<reason>\n
 * into @out. @reason (which may come from the peer: a DialResult) is cut to
 * CW_HTTP_REASON_MAX bytes, stops at its first NUL, and every byte outside
 * printable ASCII in it is written as '?', so the body is one line. NULL
 * means the status's phrase. A NUL follows the answer, so @cap must exceed
 * its length by one. Returns the bytes written (the NUL not counted), or
 * -EINVAL for a status cw_http_status_text() does not know, or -ENOSPC when
 * @cap is too small (nothing usable is written then).
 */
int cw_http_render_error(char *out, size_t cap, int status, const char *reason);

#endif /* CW_HTTP_HEAD_H */
