/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replies: JSON bodies, and errors as kube-apiserver sends them, a
 * meta.k8s.io Status with reason, message, details and code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "tests/tools/fake_apiserver.h"

const char *fa_reason_phrase(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 500:
		return "Internal Server Error";
	case 504:
		return "Gateway Timeout";
	}
	return "Unknown";
}

void fa_reply_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!buf || !text) {
		free(text);
		if (buf)
			evbuffer_free(buf);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, code, fa_reason_phrase(code), buf);
	evbuffer_free(buf);
}

json_t *fa_status(int code, const char *reason, const char *message, const struct fa_resource *res,
		  const char *name)
{
	json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
			       "apiVersion", "v1", "metadata", "status", "Failure", "message",
			       message, "reason", reason, "code", code);
	json_t *details;

	if (!st || (!res && !name))
		return st;
	details = json_object();
	if (name)
		json_object_set_new(details, "name", json_string(name));
	if (res) {
		if (*res->group)
			json_object_set_new(details, "group", json_string(res->group));
		json_object_set_new(details, "kind", json_string(res->name));
	}
	json_object_set_new(st, "details", details);
	return st;
}

void fa_reply_error(struct evhttp_request *req, int code, const char *reason,
		    const struct fa_resource *res, const char *name, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fa_reply_json(req, code, fa_status(code, reason, msg, res, name));
}

int fa_body_json(struct evhttp_request *req, json_t **out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *p = (const char *)evbuffer_pullup(in, -1);
	json_error_t e;

	*out = p ? json_loadb(p, len, 0, &e) : NULL;
	if (!*out) {
		fa_reply_error(req, 400, "BadRequest", NULL, NULL, "invalid JSON body: %s",
			       p ? e.text : "empty body");
		return -EINVAL;
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		fa_reply_error(req, 400, "BadRequest", NULL, NULL,
			       "the request body must be a JSON object");
		return -EINVAL;
	}
	return 0;
}

const char *fa_media_type(struct evhttp_request *req, char *buf, size_t len)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");

	snprintf(buf, len, "%s", ct ? ct : "");
	buf[strcspn(buf, "; ")] = '\0';
	return buf;
}
