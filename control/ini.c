/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict INI engine.
 *
 * Hand-written because every mistake must be reported as FILE:LINE with the
 * key, and no INI library in Debian tells its handler the line.
 *
 * Bookkeeping is per section instance: a single section has one instance,
 * a named section [name NAME] up to its max. For each instance the engine
 * keeps the header line, the NAME, and the line of every key set in it, so
 * that duplicate keys, missing required keys and the schema's cross-key
 * checks can all name a line.
 */
#include "control/ini.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct cw_ini_inst {
	unsigned line; /* header line; 0 = not seen */
	char name[CW_INI_NAME_MAX];
};

struct cw_ini {
	const struct cw_ini_schema *s;
	void *ctx;
	const char *name;
	char *err;
	size_t errlen;
	unsigned line;
	unsigned sect; /* s->n_sects: outside any section */
	unsigned idx;  /* instance within sect */
	unsigned inst; /* instance number over all sections */
	void *base;    /* struct of the current instance */
	unsigned n_inst;
	unsigned *first;	   /* [sect]: instance number of its instance 0 */
	unsigned *count;	   /* [sect]: instances opened */
	unsigned *key_line;	   /* [inst * n_keys + key]: 0 = not set */
	struct cw_ini_inst *insts; /* [inst] */
};

/* ---- errors ---- */

__attribute__((format(printf, 4, 0))) static int verr(struct cw_ini *p, unsigned line,
						      const char *key, const char *fmt, va_list ap)
{
	size_t n = 0;
	int r;

	if (!p->err || !p->errlen)
		return -EINVAL;
	r = line ? snprintf(p->err, p->errlen, "%s:%u: ", p->name, line)
		 : snprintf(p->err, p->errlen, "%s: ", p->name);
	n = r > 0 ? (size_t)r : 0;
	if (key && n < p->errlen) {
		r = snprintf(p->err + n, p->errlen - n, "key '%s': ", key);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n < p->errlen)
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	return -EINVAL;
}

int cw_ini_fail(struct cw_ini *p, unsigned line, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verr(p, line, key, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- accessors for the schema's callbacks ---- */

unsigned cw_ini_line(const struct cw_ini *p)
{
	return p->line;
}

unsigned cw_ini_index(const struct cw_ini *p)
{
	return p->idx;
}

void *cw_ini_ctx(const struct cw_ini *p)
{
	return p->ctx;
}

static unsigned sect_size(const struct cw_ini_sect *sect)
{
	return sect->max ? sect->max : 1;
}

unsigned cw_ini_sect_line(const struct cw_ini *p, unsigned sect, unsigned idx)
{
	if (sect >= p->s->n_sects || idx >= sect_size(&p->s->sects[sect]))
		return 0;
	return p->insts[p->first[sect] + idx].line;
}

unsigned cw_ini_key_line(const struct cw_ini *p, unsigned idx, unsigned key)
{
	unsigned sect;

	if (key >= p->s->n_keys)
		return 0;
	sect = p->s->keys[key].sect;
	if (idx >= sect_size(&p->s->sects[sect]))
		return 0;
	return p->key_line[(p->first[sect] + idx) * p->s->n_keys + key];
}

/* ---- field access ---- */

void *cw_ini_field(void *base, const struct cw_ini_key *k)
{
	return (char *)base + k->off;
}

const void *cw_ini_cfield(const void *base, const struct cw_ini_key *k)
{
	return (const char *)base + k->off;
}

/* memcpy, so one routine serves uint16_t, uint32_t and the enums. */
void cw_ini_store_uint(void *f, size_t size, uint32_t v)
{
	uint16_t v16 = (uint16_t)v;

	if (size == sizeof(v16))
		memcpy(f, &v16, sizeof(v16));
	else
		memcpy(f, &v, sizeof(v));
}

uint32_t cw_ini_load_uint(const void *f, size_t size)
{
	uint16_t v16;
	uint32_t v;

	if (size == sizeof(v16)) {
		memcpy(&v16, f, sizeof(v16));
		return v16;
	}
	memcpy(&v, f, sizeof(v));
	return v;
}

void cw_ini_store_str(void *f, size_t size, const char *s)
{
	memset(f, 0, size);
	memcpy(f, s, strlen(s));
}

/* ---- lexical helpers ---- */

bool cw_ini_is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

bool cw_ini_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

char *cw_ini_trim(char *s)
{
	char *e;

	while (cw_ini_is_blank(*s))
		s++;
	e = s + strlen(s);
	while (e > s && cw_ini_is_blank(e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* Names end up in command lines and log lines: keep them to a safe set. */
bool cw_ini_is_ident(const char *s, size_t maxlen)
{
	size_t n = strlen(s);

	if (n < 1 || n > maxlen)
		return false;
	for (; *s; s++) {
		if (!cw_ini_is_digit(*s) && !(*s >= 'a' && *s <= 'z') &&
		    !(*s >= 'A' && *s <= 'Z') && *s != '_' && *s != '-')
			return false;
	}
	return true;
}

int cw_ini_parse_dec(const char *s, uint64_t *v)
{
	*v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (!cw_ini_is_digit(*s))
			return -EINVAL;
		if (*v <= UINT32_MAX)
			*v = *v * 10 + (uint64_t)(*s - '0');
	}
	if (*v > UINT32_MAX)
		*v = UINT64_MAX;
	return 0;
}

/* One dotted-quad octet, without leading zeros. */
static int parse_octet(const char **s, uint8_t *o)
{
	const char *q = *s;
	unsigned v = 0, n = 0;

	while (cw_ini_is_digit(*q) && n < 4) {
		v = v * 10 + (unsigned)(*q++ - '0');
		n++;
	}
	if (n == 0 || n > 3 || v > 255 || (n > 1 && **s == '0'))
		return -EINVAL;
	*o = (uint8_t)v;
	*s = q;
	return 0;
}

int cw_ini_parse_ip(const char *s, const char **end, uint32_t *addr)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++) {
		if (i > 0 && *s++ != '.')
			return -EINVAL;
		if (parse_octet(&s, &b[i]))
			return -EINVAL;
	}
	memcpy(addr, b, sizeof(*addr));
	*end = s;
	return 0;
}

const char *cw_ini_ip_str(uint32_t addr, char buf[16])
{
	uint8_t b[4];

	memcpy(b, &addr, sizeof(b));
	snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}

/* ---- value parsers ---- */

int cw_ini_parse_uint(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	uint64_t v;

	if (cw_ini_parse_dec(val, &v))
		return cw_ini_fail(p, p->line, k->name, "'%s' is not a decimal number", val);
	if (v < k->min || v > k->max)
		return cw_ini_fail(p, p->line, k->name, "%s is out of range %u..%u", val, k->min,
				   k->max);
	cw_ini_store_uint(cw_ini_field(base, k), k->size, (uint32_t)v);
	return 0;
}

int cw_ini_parse_pow2(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	int rc = cw_ini_parse_uint(p, k, base, val);
	uint32_t v;

	if (rc)
		return rc;
	v = cw_ini_load_uint(cw_ini_field(base, k), k->size);
	if (v & (v - 1))
		return cw_ini_fail(p, p->line, k->name, "%s is not a power of two", val);
	return 0;
}

/* "expected a, b or c" from the key's name list. */
static int enum_fail(struct cw_ini *p, const struct cw_ini_key *k)
{
	char buf[128];
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i <= k->max && off < sizeof(buf); i++) {
		const char *sep = i == 0 ? "" : i == k->max ? " or " : ", ";
		int r = snprintf(buf + off, sizeof(buf) - off, "%s%s", sep, k->names[i]);

		off += r > 0 ? (size_t)r : 0;
	}
	return cw_ini_fail(p, p->line, k->name, "expected %s", buf);
}

int cw_ini_parse_enum(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	for (uint32_t i = 0; i <= k->max; i++) {
		if (!strcmp(val, k->names[i])) {
			cw_ini_store_uint(cw_ini_field(base, k), k->size, i);
			return 0;
		}
	}
	return enum_fail(p, k);
}

int cw_ini_parse_str(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	if (strlen(val) >= k->size)
		return cw_ini_fail(p, p->line, k->name,
				   "value is too long (at most %zu characters)", k->size - 1);
	cw_ini_store_str(cw_ini_field(base, k), k->size, val);
	return 0;
}

int cw_ini_parse_ident(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	if (!cw_ini_is_ident(val, k->size - 1))
		return cw_ini_fail(p, p->line, k->name,
				   "'%s' is not 1..%zu characters of A-Z a-z 0-9 _ -", val,
				   k->size - 1);
	cw_ini_store_str(cw_ini_field(base, k), k->size, val);
	return 0;
}

int cw_ini_parse_ipv4(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	const char *end;
	uint32_t a;

	if (cw_ini_parse_ip(val, &end, &a) || *end)
		return cw_ini_fail(p, p->line, k->name, "'%s' is not an IPv4 address", val);
	cw_ini_store_uint(cw_ini_field(base, k), k->size, a);
	return 0;
}

/* a.b.c.d:port into a struct cw_ini_listen field; empty: the listener is off. */
int cw_ini_parse_listen(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	struct cw_ini_listen *l = cw_ini_field(base, k);
	const char *end;
	uint64_t port;
	uint32_t a;

	if (!*val) {
		memset(l, 0, sizeof(*l));
		return 0;
	}
	if (cw_ini_parse_ip(val, &end, &a) || *end != ':')
		return cw_ini_fail(p, p->line, k->name,
				   "'%s' is not an IPv4 address and port like 127.0.0.1:8080", val);
	if (cw_ini_parse_dec(end + 1, &port) || port < 1 || port > 65535)
		return cw_ini_fail(p, p->line, k->name, "port '%s' is not a number 1..65535",
				   end + 1);
	l->addr = a;
	l->port = (uint16_t)port;
	return 0;
}

/* Configuration belongs to no working directory: paths are absolute. */
int cw_ini_parse_path(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	if (*val && *val != '/')
		return cw_ini_fail(p, p->line, k->name, "'%s' is not an absolute path", val);
	return cw_ini_parse_str(p, k, base, val);
}

/* ---- value printers ---- */

void cw_ini_print_uint(const struct cw_ini_key *k, const void *base, FILE *out)
{
	fprintf(out, "%s = %u\n", k->name, cw_ini_load_uint(cw_ini_cfield(base, k), k->size));
}

void cw_ini_print_listen(const struct cw_ini_key *k, const void *base, FILE *out)
{
	const struct cw_ini_listen *l = cw_ini_cfield(base, k);
	char ip[16];

	if (l->port)
		fprintf(out, "%s = %s:%u\n", k->name, cw_ini_ip_str(l->addr, ip), l->port);
	else
		fprintf(out, "%s =\n", k->name);
}

void cw_ini_print_enum(const struct cw_ini_key *k, const void *base, FILE *out)
{
	uint32_t v = cw_ini_load_uint(cw_ini_cfield(base, k), k->size);

	fprintf(out, "%s = %s\n", k->name, v <= k->max ? k->names[v] : "?");
}

void cw_ini_print_str(const struct cw_ini_key *k, const void *base, FILE *out)
{
	const char *s = cw_ini_cfield(base, k);

	/* No trailing blank after '=' for an empty value. */
	fprintf(out, "%s =%s%.*s\n", k->name, *s ? " " : "", (int)k->size, s);
}

void cw_ini_print_ipv4(const struct cw_ini_key *k, const void *base, FILE *out)
{
	char ip[16];

	fprintf(out, "%s = %s\n", k->name,
		cw_ini_ip_str(cw_ini_load_uint(cw_ini_cfield(base, k), k->size), ip));
}

/* ---- sections ---- */

static const struct cw_ini_key *find_key(const struct cw_ini *p, const char *name)
{
	for (unsigned i = 0; i < p->s->n_keys; i++) {
		if (p->s->keys[i].sect == p->sect && !strcmp(p->s->keys[i].name, name))
			return &p->s->keys[i];
	}
	return NULL;
}

static void sect_title(const struct cw_ini *p, char *buf, size_t len)
{
	const struct cw_ini_sect *sect = &p->s->sects[p->sect];

	if (sect->max)
		snprintf(buf, len, "[%s %s]", sect->name, p->insts[p->inst].name);
	else
		snprintf(buf, len, "[%s]", sect->name);
}

/* Required keys of the current instance, in table order. */
static int check_required(struct cw_ini *p)
{
	const struct cw_ini_sect *sect = &p->s->sects[p->sect];
	const struct cw_ini_inst *in = &p->insts[p->inst];

	for (unsigned i = 0; i < p->s->n_keys; i++) {
		const struct cw_ini_key *k = &p->s->keys[i];

		if (k->sect != p->sect || !k->required || p->key_line[p->inst * p->s->n_keys + i])
			continue;
		if (sect->max)
			return cw_ini_fail(p, in->line, NULL, "%s '%s': missing key '%s'",
					   sect->name, in->name, k->name);
		return cw_ini_fail(p, in->line, NULL, "missing key '%s' in section [%s]", k->name,
				   sect->name);
	}
	return 0;
}

static int close_section(struct cw_ini *p)
{
	int rc = 0;

	if (p->sect == p->s->n_sects)
		return 0;
	rc = check_required(p);
	if (!rc && p->s->close)
		rc = p->s->close(p, p->sect, p->idx, p->base);
	p->sect = p->s->n_sects;
	return rc;
}

static void enter(struct cw_ini *p, unsigned sect, unsigned idx, const char *name)
{
	p->sect = sect;
	p->idx = idx;
	p->inst = p->first[sect] + idx;
	p->insts[p->inst].line = p->line;
	p->base = p->s->open(p->ctx, sect, idx, name);
}

static int open_single(struct cw_ini *p, unsigned sect)
{
	const char *name = p->s->sects[sect].name;

	if (p->insts[p->first[sect]].line)
		return cw_ini_fail(p, p->line, NULL, "duplicate section [%s]", name);
	p->count[sect] = 1;
	enter(p, sect, 0, NULL);
	return 0;
}

static int open_named(struct cw_ini *p, unsigned sect, const char *name)
{
	const struct cw_ini_sect *sc = &p->s->sects[sect];
	unsigned n = p->count[sect];

	if (!*name)
		return cw_ini_fail(p, p->line, NULL, "section [%s] needs a name: [%s NAME]",
				   sc->name, sc->name);
	if (!cw_ini_is_ident(name, sc->name_max))
		return cw_ini_fail(
		    p, p->line, NULL,
		    "invalid %s name '%s': expected 1..%u characters of A-Z a-z 0-9 _ -", sc->name,
		    name, sc->name_max);
	for (unsigned i = 0; i < n; i++) {
		if (!strcmp(p->insts[p->first[sect] + i].name, name))
			return cw_ini_fail(p, p->line, NULL, "duplicate section [%s %s]", sc->name,
					   name);
	}
	if (n == sc->max)
		return cw_ini_fail(p, p->line, NULL, "too many [%s NAME] sections (at most %u)",
				   sc->name, sc->max);
	strcpy(p->insts[p->first[sect] + n].name, name);
	p->count[sect] = n + 1;
	enter(p, sect, n, name);
	return 0;
}

static bool names_named(const char *in, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(in, name, n) && (!in[n] || cw_ini_is_blank(in[n]));
}

/* @s is trimmed and starts with '['. */
static int parse_header(struct cw_ini *p, char *s)
{
	char *end = strchr(s, ']'), *in;
	int rc;

	if ((rc = close_section(p)))
		return rc;
	if (!end)
		return cw_ini_fail(p, p->line, NULL, "missing ']'");
	if (end[1])
		return cw_ini_fail(p, p->line, NULL, "unexpected text after ']'");
	*end = '\0';
	in = cw_ini_trim(s + 1);
	for (unsigned i = 0; i < p->s->n_sects; i++) {
		const struct cw_ini_sect *sect = &p->s->sects[i];

		if (!sect->max && !strcmp(in, sect->name))
			return open_single(p, i);
		if (sect->max && names_named(in, sect->name))
			return open_named(p, i, cw_ini_trim(in + strlen(sect->name)));
	}
	return cw_ini_fail(p, p->line, NULL, "unknown section '%s'", in);
}

/* ---- lines ---- */

static int parse_keyval(struct cw_ini *p, char *s)
{
	char *eq = strchr(s, '='), *key, *val, title[CW_INI_NAME_MAX * 2];
	const struct cw_ini_key *k;
	unsigned *seen;

	if (!eq || eq == s)
		return cw_ini_fail(p, p->line, NULL, "expected 'key = value'");
	*eq = '\0';
	key = cw_ini_trim(s);
	val = cw_ini_trim(eq + 1);
	if (*val == '#') /* "key =# note": no value, as with "key = # note" */
		*val = '\0';
	if (p->sect == p->s->n_sects)
		return cw_ini_fail(p, p->line, NULL, "key outside any section");
	if (!(k = find_key(p, key))) {
		sect_title(p, title, sizeof(title));
		return cw_ini_fail(p, p->line, key, "unknown key in section %s", title);
	}
	seen = &p->key_line[p->inst * p->s->n_keys + (unsigned)(k - p->s->keys)];
	if (*seen && !k->repeat)
		return cw_ini_fail(p, p->line, key, "duplicate key");
	if (!*seen)
		*seen = p->line;
	if (!*val && !k->empty_ok)
		return cw_ini_fail(p, p->line, key, "missing value");
	return k->parse(p, k, p->base, val);
}

/*
 * A '#' after a blank starts a comment; a '#' inside a value does not, so
 * "iface=a#b" survives. A parsed value never holds a blank followed by a '#'.
 */
static void cut_comment(char *s)
{
	for (char *q = s; *q; q++) {
		if (*q == '#' && q > s && cw_ini_is_blank(q[-1])) {
			*q = '\0';
			return;
		}
	}
}

static int parse_line(struct cw_ini *p, char *line)
{
	size_t n = strlen(line);
	char *s;

	if (n && line[n - 1] == '\r')
		line[--n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return cw_ini_fail(p, p->line, NULL, "control character 0x%02x in line",
					   (unsigned char)line[i]);
	}
	s = cw_ini_trim(line);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	cut_comment(s);
	s = cw_ini_trim(s);
	return *s == '[' ? parse_header(p, s) : parse_keyval(p, s);
}

/* Required keys of single sections that never appeared. */
static int check_absent(struct cw_ini *p)
{
	for (unsigned i = 0; i < p->s->n_keys; i++) {
		const struct cw_ini_key *k = &p->s->keys[i];
		const struct cw_ini_sect *sect = &p->s->sects[k->sect];

		if (k->required && !sect->max && !p->insts[p->first[k->sect]].line)
			return cw_ini_fail(p, 0, NULL, "missing key '%s' in section [%s]", k->name,
					   sect->name);
	}
	return 0;
}

static int finish(struct cw_ini *p)
{
	int rc;

	if ((rc = close_section(p)) || (rc = check_absent(p)))
		return rc;
	return p->s->finish ? p->s->finish(p) : 0;
}

static int parse_text(struct cw_ini *p, const char *text)
{
	char buf[CW_INI_LINE_MAX];
	const char *s = text;
	int rc;

	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		p->line++;
		if (n >= sizeof(buf))
			return cw_ini_fail(p, p->line, NULL,
					   "line is too long (at most %zu characters)",
					   sizeof(buf) - 1);
		memcpy(buf, s, n);
		buf[n] = '\0';
		if ((rc = parse_line(p, buf)))
			return rc;
		s += n + (nl != NULL);
	}
	return finish(p);
}

/* The state and its arrays in one block, all of unsigned alignment. */
static struct cw_ini *ini_new(const struct cw_ini_schema *s)
{
	unsigned n_inst = 0;
	size_t size;
	struct cw_ini *p;

	for (unsigned i = 0; i < s->n_sects; i++)
		n_inst += sect_size(&s->sects[i]);
	size = sizeof(*p) + sizeof(unsigned) * (2 * s->n_sects + (size_t)n_inst * s->n_keys) +
	       sizeof(struct cw_ini_inst) * n_inst;
	if (!(p = calloc(1, size)))
		return NULL;
	p->n_inst = n_inst;
	p->first = (unsigned *)(p + 1);
	p->count = p->first + s->n_sects;
	p->key_line = p->count + s->n_sects;
	p->insts = (struct cw_ini_inst *)(p->key_line + (size_t)n_inst * s->n_keys);
	for (unsigned i = 0, f = 0; i < s->n_sects; i++) {
		p->first[i] = f;
		f += sect_size(&s->sects[i]);
	}
	return p;
}

int cw_ini_parse(const struct cw_ini_schema *s, void *ctx, const char *name, const char *text,
		 char *err, size_t errlen)
{
	struct cw_ini *p = ini_new(s);
	int rc;

	if (!p) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", name, strerror(ENOMEM));
		return -ENOMEM;
	}
	p->s = s;
	p->ctx = ctx;
	p->name = name;
	p->err = err;
	p->errlen = errlen;
	p->sect = s->n_sects;
	rc = parse_text(p, text);
	free(p);
	return rc;
}

/* ---- printing ---- */

void cw_ini_print_section(const struct cw_ini_schema *s, unsigned sect, const char *inst_name,
			  const void *base, FILE *out)
{
	if (inst_name)
		fprintf(out, "[%s %s]\n", s->sects[sect].name, inst_name);
	else
		fprintf(out, "[%s]\n", s->sects[sect].name);
	for (unsigned i = 0; i < s->n_keys; i++) {
		if (s->keys[i].sect == sect)
			s->keys[i].print(&s->keys[i], base, out);
	}
}

/* ---- files ---- */

static int read_fail(const char *path, int rc, char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}

/* The whole file, NUL-terminated, in *buf; *len excludes the NUL. */
static int read_all(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t n;
	int rc = 0;

	if (!f)
		return errno ? -errno : -EIO;
	*buf = malloc(CW_INI_FILE_MAX + 1);
	if (!*buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(*buf, 1, CW_INI_FILE_MAX + 1, f);
	if (ferror(f))
		rc = errno ? -errno : -EIO;
	else if (n > CW_INI_FILE_MAX)
		rc = -EFBIG;
	fclose(f);
	if (rc) {
		free(*buf);
		return rc;
	}
	(*buf)[n] = '\0';
	*len = n;
	return 0;
}

/* A NUL would silently end the text early: name its line instead. */
static int check_nul(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
	const char *z = memchr(buf, '\0', len);
	unsigned line = 1;

	if (!z)
		return 0;
	for (const char *q = buf; q < z; q++)
		line += *q == '\n';
	if (err && errlen)
		snprintf(err, errlen, "%s:%u: control character 0x00 in line", path, line);
	return -EINVAL;
}

int cw_ini_read_file(const char *path, char **text, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	errno = 0;
	if ((rc = read_all(path, &buf, &len)))
		return read_fail(path, rc, err, errlen);
	if ((rc = check_nul(path, buf, len, err, errlen))) {
		free(buf);
		return rc;
	}
	*text = buf;
	return 0;
}

int cw_ini_parse_struct(const struct cw_ini_schema *s, void *out, size_t size,
			void (*defaults)(void *), const char *name, const char *text, char *err,
			size_t errlen)
{
	void *scratch = calloc(1, size);
	int rc;

	if (!scratch) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", name, strerror(ENOMEM));
		return -ENOMEM;
	}
	defaults(scratch);
	rc = cw_ini_parse(s, scratch, name, text, err, errlen);
	if (!rc)
		memcpy(out, scratch, size);
	free(scratch);
	return rc;
}

int cw_ini_load_struct(const struct cw_ini_schema *s, void *out, size_t size,
		       void (*defaults)(void *), const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	int rc = cw_ini_read_file(path, &text, err, errlen);

	if (rc)
		return rc;
	rc = cw_ini_parse_struct(s, out, size, defaults, path, text, err, errlen);
	free(text);
	return rc;
}
