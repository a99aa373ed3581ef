/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Label and field selectors: the grammar of apimachinery's
 * labels/selector.go (its lexer, parser and NewRequirement validation) and
 * fields/selector.go (terms split on unescaped commas), compiled into an
 * array of requirements that a match walks once.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/selector.h"

enum op {
	OP_EQ,
	OP_NE,
	OP_IN,
	OP_NOTIN,
	OP_EXISTS,
	OP_NOT_EXISTS,
	OP_GT,
	OP_LT,
};

struct req {
	char *key;
	enum op op;
	char **vals;
	size_t nvals;
	long long num; /* OP_GT, OP_LT */
};

struct cw_selector {
	bool fields;
	size_t n;
	struct req *reqs;
};

static const char *const field_names[] = {"metadata.name", "metadata.namespace", "spec.nodeName",
					  "status.phase"};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		/* the message quotes input: keep it one printable line */
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return -EINVAL;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A label name or value: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], <= 63. */
static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool dns_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* DNS-1123 subdomain: dot-separated [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 253. */
static bool valid_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!dns_char(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		if (i == start || !dns_char(s[start]) || !dns_char(s[i - 1]))
			return false;
		start = i + 1;
	}
	return true;
}

static int check_key(const char *k, char *err, size_t errlen)
{
	const char *slash = strchr(k, '/');
	const char *name = slash ? slash + 1 : k;

	if (slash && strchr(name, '/'))
		return fail(err, errlen, "invalid label key \"%s\": at most one '/'", k);
	if (slash && !valid_subdomain(k, (size_t)(slash - k)))
		return fail(err, errlen,
			    "invalid label key \"%s\": prefix part must be a DNS-1123 subdomain",
			    k);
	if (!valid_name(name, strlen(name)))
		return fail(err, errlen,
			    "invalid label key \"%s\": name part must be 1-63 alphanumeric, '-', "
			    "'_' or '.' characters, starting and ending with an alphanumeric",
			    k);
	return 0;
}

static int check_value(const char *key, const char *v, char *err, size_t errlen)
{
	if (*v && !valid_name(v, strlen(v)))
		return fail(err, errlen,
			    "invalid label value \"%s\" for key \"%s\": at most 63 alphanumeric, "
			    "'-', '_' or '.' characters, starting and ending with an alphanumeric",
			    v, key);
	return 0;
}

/* ---- the label selector lexer ---- */

enum tok {
	T_END,
	T_IDENT,
	T_NOT,
	T_NE,
	T_EQ,
	T_DEQ,
	T_OPEN,
	T_CLOSE,
	T_COMMA,
	T_GT,
	T_LT,
};

struct lexer {
	const char *s;
	size_t pos;
	/* the last token read */
	enum tok tok;
	const char *lit;
	size_t len;
};

static bool special(char c)
{
	return c && strchr("=!(),><", c);
}

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void lex(struct lexer *l)
{
	const char *p;

	while (space(l->s[l->pos]))
		l->pos++;
	p = l->s + l->pos;
	l->lit = p;
	l->len = 1;
	switch (*p) {
	case '\0':
		l->tok = T_END;
		l->len = 0;
		return;
	case '!':
		l->tok = p[1] == '=' ? T_NE : T_NOT;
		break;
	case '=':
		l->tok = p[1] == '=' ? T_DEQ : T_EQ;
		break;
	case '(':
		l->tok = T_OPEN;
		break;
	case ')':
		l->tok = T_CLOSE;
		break;
	case ',':
		l->tok = T_COMMA;
		break;
	case '>':
		l->tok = T_GT;
		break;
	case '<':
		l->tok = T_LT;
		break;
	default:
		l->tok = T_IDENT;
		l->len = 0;
		while (p[l->len] && !space(p[l->len]) && !special(p[l->len]))
			l->len++;
		break;
	}
	if (l->tok == T_NE || l->tok == T_DEQ)
		l->len = 2;
	l->pos += l->len;
}

/* The next token without consuming it. */
static enum tok peek(const struct lexer *l)
{
	struct lexer c = *l;

	lex(&c);
	return c.tok;
}

static bool lit_is(const struct lexer *l, const char *word)
{
	return l->tok == T_IDENT && l->len == strlen(word) && !memcmp(l->lit, word, l->len);
}

/* "found 'X'" for error messages; the end of the string as apimachinery says it. */
static int unexpected(const struct lexer *l, const char *want, char *err, size_t errlen)
{
	if (l->tok == T_END)
		return fail(err, errlen, "found 'end of string', expected: %s", want);
	return fail(err, errlen, "found '%.*s', expected: %s", (int)(l->len > 64 ? 64 : l->len),
		    l->lit, want);
}

/* ---- building the compiled form ---- */

static void req_clear(struct req *r)
{
	for (size_t i = 0; i < r->nvals; i++)
		free(r->vals[i]);
	free(r->vals);
	free(r->key);
	memset(r, 0, sizeof(*r));
}

static int add_val(struct req *r, const char *v, size_t n)
{
	char **vals;

	for (size_t i = 0; i < r->nvals; i++)
		if (strlen(r->vals[i]) == n && !memcmp(r->vals[i], v, n))
			return 0;
	vals = realloc(r->vals, (r->nvals + 1) * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	r->vals = vals;
	vals[r->nvals] = strndup(v, n);
	if (!vals[r->nvals])
		return -ENOMEM;
	r->nvals++;
	return 0;
}

static int push_req(struct cw_selector *sel, struct req *r)
{
	struct req *reqs = realloc(sel->reqs, (sel->n + 1) * sizeof(*reqs));

	if (!reqs)
		return -ENOMEM;
	sel->reqs = reqs;
	reqs[sel->n++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

static struct cw_selector *sel_new(bool fields)
{
	struct cw_selector *sel = calloc(1, sizeof(*sel));

	if (sel)
		sel->fields = fields;
	return sel;
}

void cw_selector_free(struct cw_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		req_clear(&sel->reqs[i]);
	free(sel->reqs);
	free(sel);
}

/* ---- the label selector parser ---- */

/* "(a,b,,c)": apimachinery's parseValues and parseIdentifiersList. */
static int parse_set(struct lexer *l, struct req *r, char *err, size_t errlen)
{
	int rc;

	lex(l);
	if (l->tok != T_OPEN)
		return unexpected(l, "'('", err, errlen);
	if (peek(l) == T_CLOSE) {
		lex(l);
		return add_val(r, "", 0);
	}
	for (;;) {
		lex(l);
		if (l->tok == T_IDENT) {
			if ((rc = add_val(r, l->lit, l->len)) < 0)
				return rc;
			lex(l);
			if (l->tok == T_CLOSE)
				return 0;
			if (l->tok != T_COMMA)
				return unexpected(l, "',' or ')'", err, errlen);
			if (peek(l) == T_CLOSE) {
				lex(l);
				return add_val(r, "", 0);
			}
		} else if (l->tok == T_COMMA) {
			/* "(," ",," ",)": empty members */
			if ((rc = add_val(r, "", 0)) < 0)
				return rc;
			if (peek(l) == T_CLOSE) {
				lex(l);
				return 0;
			}
		} else {
			return unexpected(l, "',', or identifier", err, errlen);
		}
	}
}

/* After =, ==, !=, > or <: one value, empty at a comma or the end. */
static int parse_exact(struct lexer *l, struct req *r, char *err, size_t errlen)
{
	enum tok t = peek(l);

	if (t == T_END || t == T_COMMA)
		return add_val(r, "", 0);
	lex(l);
	if (l->tok != T_IDENT)
		return unexpected(l, "identifier", err, errlen);
	return add_val(r, l->lit, l->len);
}

static int parse_number(struct req *r, char *err, size_t errlen)
{
	const char *v = r->vals[0];
	char *end;

	errno = 0;
	r->num = strtoll(v, &end, 10);
	if (!*v || *end || errno || !(v[0] == '-' || v[0] == '+' || (v[0] >= '0' && v[0] <= '9')))
		return fail(err, errlen, "for 'Gt', 'Lt' operators, the value must be an integer");
	return 0;
}

static int parse_operator(struct lexer *l, struct req *r, char *err, size_t errlen)
{
	lex(l);
	if (lit_is(l, "in") || lit_is(l, "notin")) {
		r->op = lit_is(l, "in") ? OP_IN : OP_NOTIN;
		return parse_set(l, r, err, errlen);
	}
	switch (l->tok) {
	case T_EQ:
	case T_DEQ:
		r->op = OP_EQ;
		break;
	case T_NE:
		r->op = OP_NE;
		break;
	case T_GT:
		r->op = OP_GT;
		break;
	case T_LT:
		r->op = OP_LT;
		break;
	default:
		return unexpected(l, "[!=, ==, =, >, <, in, notin]", err, errlen);
	}
	return parse_exact(l, r, err, errlen);
}

static int parse_requirement(struct lexer *l, struct req *r, char *err, size_t errlen)
{
	enum tok t;
	int rc;

	lex(l);
	r->op = OP_EXISTS;
	if (l->tok == T_NOT) {
		r->op = OP_NOT_EXISTS;
		lex(l);
	}
	if (l->tok != T_IDENT)
		return unexpected(l, "identifier", err, errlen);
	if (!(r->key = strndup(l->lit, l->len)))
		return -ENOMEM;
	if ((rc = check_key(r->key, err, errlen)) < 0)
		return rc;
	t = peek(l);
	if (r->op == OP_NOT_EXISTS || t == T_END || t == T_COMMA)
		return 0;
	if ((rc = parse_operator(l, r, err, errlen)) < 0)
		return rc;
	if ((r->op == OP_GT || r->op == OP_LT) && (rc = parse_number(r, err, errlen)) < 0)
		return rc;
	for (size_t i = 0; i < r->nvals; i++)
		if ((rc = check_value(r->key, r->vals[i], err, errlen)) < 0)
			return rc;
	return 0;
}

static int parse_labels(struct cw_selector *sel, const char *text, char *err, size_t errlen)
{
	struct lexer l = {.s = text};
	struct req r = {0};
	int rc;

	if (peek(&l) == T_END)
		return 0;
	for (;;) {
		/* !key stands alone: "!a=b" is an error at the '=' */
		rc = parse_requirement(&l, &r, err, errlen);
		if (rc == 0)
			rc = push_req(sel, &r);
		if (rc < 0) {
			req_clear(&r);
			return rc;
		}
		lex(&l);
		if (l.tok == T_END)
			return 0;
		if (l.tok != T_COMMA)
			return unexpected(&l, "',' or 'end of string'", err, errlen);
		if (peek(&l) == T_END || peek(&l) == T_COMMA) {
			lex(&l);
			return unexpected(&l, "identifier after ','", err, errlen);
		}
	}
}

int cw_label_selector_parse(const char *text, struct cw_selector **out, char *err, size_t errlen)
{
	struct cw_selector *sel = sel_new(false);
	int rc;

	*out = NULL;
	if (!sel)
		return -ENOMEM;
	rc = parse_labels(sel, text ? text : "", err, errlen);
	if (rc < 0) {
		cw_selector_free(sel);
		return rc;
	}
	*out = sel;
	return 0;
}

/* ---- field selectors ---- */

/* Unescape "\\" "\," "\=" in [v, v+n); an unescaped ',' or '=' is an error. */
static int unescape(const char *v, size_t n, char **out, char *err, size_t errlen)
{
	char *o = malloc(n + 1);
	size_t k = 0;

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == '\\') {
			if (i + 1 == n || !strchr("\\,=", v[i + 1])) {
				free(o);
				return fail(err, errlen, "invalid escape sequence in field value");
			}
			c = v[++i];
		} else if (c == ',' || c == '=') {
			free(o);
			return fail(err, errlen, "invalid field selector: unescaped '%c' in value",
				    c);
		}
		o[k++] = c;
	}
	o[k] = '\0';
	*out = o;
	return 0;
}

/* One "lhs op rhs" term: the first "!=", "==" or "=" splits it. */
static int parse_term(struct cw_selector *sel, const char *t, size_t n, char *err, size_t errlen)
{
	struct req r = {0};
	size_t i, oplen = 0;
	int rc;

	for (i = 0; i < n && !oplen; i++) {
		if (i + 1 < n && (t[i] == '!' || t[i] == '=') && t[i + 1] == '=')
			oplen = 2;
		else if (t[i] == '=')
			oplen = 1;
	}
	if (!oplen)
		return fail(err, errlen, "invalid field selector: can't understand '%.*s'",
			    (int)(n > 64 ? 64 : n), t);
	i--;
	r.op = t[i] == '!' ? OP_NE : OP_EQ;
	for (size_t f = 0; f < sizeof(field_names) / sizeof(field_names[0]); f++)
		if (strlen(field_names[f]) == i && !memcmp(field_names[f], t, i))
			r.key = strdup(field_names[f]);
	if (!r.key)
		return fail(err, errlen, "field label not supported: %.*s", (int)(i > 64 ? 64 : i),
			    t);
	r.vals = calloc(1, sizeof(*r.vals));
	rc = r.vals ? 0 : -ENOMEM;
	if (rc == 0 && (rc = unescape(t + i + oplen, n - i - oplen, &r.vals[0], err, errlen)) == 0)
		r.nvals = 1;
	if (rc == 0)
		rc = push_req(sel, &r);
	req_clear(&r);
	return rc;
}

int cw_field_selector_parse(const char *text, struct cw_selector **out, char *err, size_t errlen)
{
	struct cw_selector *sel = sel_new(true);
	size_t start = 0, i;
	int rc = 0;

	*out = NULL;
	if (!sel)
		return -ENOMEM;
	text = text ? text : "";
	for (i = 0; rc == 0; i++) {
		if (text[i] == '\\' && text[i + 1]) {
			i++;
			continue;
		}
		if (text[i] && text[i] != ',')
			continue;
		if (i > start)
			rc = parse_term(sel, text + start, i - start, err, errlen);
		if (!text[i])
			break;
		start = i + 1;
	}
	if (rc < 0) {
		cw_selector_free(sel);
		return rc;
	}
	*out = sel;
	return 0;
}

/* ---- matching ---- */

bool cw_selector_empty(const struct cw_selector *sel)
{
	return sel->n == 0;
}

static bool in_vals(const struct req *r, const char *v)
{
	for (size_t i = 0; i < r->nvals; i++)
		if (!strcmp(r->vals[i], v))
			return true;
	return false;
}

static bool req_match(const struct req *r, const char *v)
{
	long long x;
	char *end;

	switch (r->op) {
	case OP_EQ:
	case OP_IN:
		return v && in_vals(r, v);
	case OP_NE:
	case OP_NOTIN:
		return !v || !in_vals(r, v);
	case OP_EXISTS:
		return v != NULL;
	case OP_NOT_EXISTS:
		return v == NULL;
	case OP_GT:
	case OP_LT:
		if (!v || !*v)
			return false;
		errno = 0;
		x = strtoll(v, &end, 10);
		if (*end || errno)
			return false;
		return r->op == OP_GT ? x > r->num : x < r->num;
	}
	return false;
}

bool cw_selector_match_labels(const struct cw_selector *sel, const json_t *labels)
{
	for (size_t i = 0; i < sel->n; i++) {
		const json_t *v =
		    json_is_object(labels) ? json_object_get(labels, sel->reqs[i].key) : NULL;

		if (!req_match(&sel->reqs[i], json_is_string(v) ? json_string_value(v) : NULL))
			return false;
	}
	return true;
}

/* The string at dotted @path in @obj, "" when absent or not a string. */
static const char *field_value(const json_t *obj, const char *path)
{
	char part[32];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(part, sizeof(part), "%.*s", (int)(dot - path), path);
		obj = json_object_get(obj, part);
		path = dot + 1;
	}
	obj = json_object_get(obj, path);
	return json_is_string(obj) ? json_string_value(obj) : "";
}

bool cw_selector_match(const struct cw_selector *sel, const json_t *obj)
{
	if (!sel->fields)
		return cw_selector_match_labels(
		    sel, json_object_get(json_object_get(obj, "metadata"), "labels"));
	for (size_t i = 0; i < sel->n; i++)
		if (!req_match(&sel->reqs[i], field_value(obj, sel->reqs[i].key)))
			return false;
	return true;
}
