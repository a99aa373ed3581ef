/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The causewayd INI parser.
 *
 * Hand-written because every mistake must be reported as FILE:LINE with the
 * key, and no INI library in Debian tells its handler the line. Keys are
 * table-driven: one row names a key's section, how to parse and print it and
 * where it lives, so the parser, the printer and the duplicate-key check can
 * never disagree about which keys exist.
 *
 * The file is parsed into a scratch copy that only reaches the caller once
 * every check has passed: a bad file on SIGHUP leaves the running config as
 * it was.
 */
#include "control/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CW_LINE_MAX   4096
#define CW_FILE_MAX   (1024 * 1024)
#define CW_LCORE_MAX  1024 /* ids are < this, as EAL's RTE_MAX_LCORE may be */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(sizeof(enum cw_backend) == sizeof(uint32_t), "enums are stored as uint32_t");
_Static_assert(sizeof(enum cw_hugepages) == sizeof(uint32_t), "enums are stored as uint32_t");
_Static_assert(sizeof(enum cw_log_level) == sizeof(uint32_t), "enums are stored as uint32_t");

/* Port instances follow the three single sections in the bookkeeping arrays. */
enum cw_sect { SEC_EAL, SEC_DP, SEC_LOG, SEC_PORT, SEC_NONE };
#define N_INST (SEC_PORT + CW_MAX_PORTS)

enum cw_key_id {
	K_EAL_LCORES,
	K_EAL_MEMORY,
	K_EAL_HUGEPAGES,
	K_EAL_FILE_PREFIX,
	K_EAL_EXTRA_ARGS,
	K_PORT_DEVICE,
	K_PORT_ADDRESS,
	K_PORT_GATEWAY,
	K_PORT_MTU,
	K_PORT_RX_DESC,
	K_PORT_TX_DESC,
	K_PORT_VLAN,
	K_DP_WORKERS,
	K_DP_BURST,
	K_DP_MBUF_POOL_SIZE,
	K_DP_MBUF_CACHE,
	K_DP_BACKEND,
	K_DP_STATS_INTERVAL,
	K_DP_ECHO_PORT,
	K_DP_SOCKET_ADDRESS,
	K_DP_NEIGH_TIMEOUT,
	K_DP_FRAG_TIMEOUT,
	K_DP_FRAG_MAX_ENTRIES,
	K_DP_MBUF_SIZE,
	K_LOG_LEVEL,
	N_KEYS
};

struct cw_key;

struct cw_parser {
	struct cw_config c; /* scratch, copied out on success */
	const char *name;
	char *err;
	size_t errlen;
	unsigned line;
	enum cw_sect sect;
	unsigned inst;			   /* index into the arrays below */
	void *base;			   /* struct of the current section */
	unsigned sect_line[N_INST];	   /* header line; 0 = not seen */
	unsigned key_line[N_INST][N_KEYS]; /* 0 = key not set */
};

/* @base is the section's struct: the key's field is at base + k->off. */
typedef int cw_parse_fn(struct cw_parser *p, const struct cw_key *k, void *base, const char *val);
typedef void cw_print_fn(const struct cw_key *k, const void *base, FILE *out);

struct cw_key {
	enum cw_sect sect;
	const char *name;
	cw_parse_fn *parse;
	cw_print_fn *print;
	size_t off, size;
	uint32_t min, max;	  /* numbers: range; enums: max is the last value */
	const char *const *names; /* enums: names[value] */
	bool empty_ok;		  /* "key =" is a value, not a mistake */
};

static const char *const cw_huge_names[] = {"auto", "yes", "no"};
static const char *const cw_backend_names[] = {"dpdk", "socket"};
static const char *const cw_level_names[] = {"error", "warning", "info", "debug"};

/* ---- errors ---- */

__attribute__((format(printf, 4, 0))) static int verr(struct cw_parser *p, unsigned line,
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

/* "FILE:LINE: key 'KEY': ..." (or without the parts that are 0 / NULL). */
__attribute__((format(printf, 4, 5))) static int fail(struct cw_parser *p, unsigned line,
						      const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verr(p, line, key, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- field access ---- */

static void *field(void *base, const struct cw_key *k)
{
	return (char *)base + k->off;
}

static const void *cfield(const void *base, const struct cw_key *k)
{
	return (const char *)base + k->off;
}

/* memcpy, so one routine serves uint16_t, uint32_t and the enums. */
static void store_uint(void *f, size_t size, uint32_t v)
{
	uint16_t v16 = (uint16_t)v;

	if (size == sizeof(v16))
		memcpy(f, &v16, sizeof(v16));
	else
		memcpy(f, &v, sizeof(v));
}

static uint32_t load_uint(const void *f, size_t size)
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

static void store_str(void *f, size_t size, const char *s)
{
	memset(f, 0, size);
	memcpy(f, s, strlen(s));
}

/* ---- lexical helpers ---- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static char *trim(char *s)
{
	char *e;

	while (is_blank(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_blank(e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* Names end up in EAL arguments and log lines: keep them to a safe set. */
static bool is_ident(const char *s, size_t maxlen)
{
	size_t n = strlen(s);

	if (n < 1 || n > maxlen)
		return false;
	for (; *s; s++) {
		if (!is_digit(*s) && !(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    *s != '_' && *s != '-')
			return false;
	}
	return true;
}

/*
 * Decimal digits only: no sign, no 0x, nothing after. Values that do not fit
 * 32 bits become UINT64_MAX so the caller reports them as out of range.
 */
static int parse_dec(const char *s, uint64_t *v)
{
	*v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (!is_digit(*s))
			return -EINVAL;
		if (*v <= UINT32_MAX)
			*v = *v * 10 + (uint64_t)(*s - '0');
	}
	if (*v > UINT32_MAX)
		*v = UINT64_MAX;
	return 0;
}

/*
 * One dotted-quad octet. Leading zeros are refused: inet_aton() reads them
 * as octal, so "010" would mean different things to different tools.
 */
static int parse_octet(const char **s, uint8_t *o)
{
	const char *q = *s;
	unsigned v = 0, n = 0;

	while (is_digit(*q) && n < 4) {
		v = v * 10 + (unsigned)(*q++ - '0');
		n++;
	}
	if (n == 0 || n > 3 || v > 255 || (n > 1 && **s == '0'))
		return -EINVAL;
	*o = (uint8_t)v;
	*s = q;
	return 0;
}

/* a.b.c.d into network byte order; *end is left after the last octet. */
static int parse_ip(const char *s, const char **end, uint32_t *addr)
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

static const char *ip_str(uint32_t addr, char buf[16])
{
	uint8_t b[4];

	memcpy(b, &addr, sizeof(b));
	snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}

static uint32_t mask_of(unsigned len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

/* ---- lcore lists ("0-1", "0,2-3") ---- */

struct cw_lcores {
	uint32_t ids[CW_LCORE_MAX];
	unsigned n;
	bool has[CW_LCORE_MAX];
};

/*
 * One id; *s is left after its digits. -EINVAL is a syntax error, for the
 * caller to word; -ERANGE comes with its reason in @why.
 */
static int lcore_id(const char **s, unsigned *id, char *why, size_t len)
{
	const char *q = *s;
	uint64_t v = 0;

	while (is_digit(*q)) {
		if (v < CW_LCORE_MAX)
			v = v * 10 + (uint64_t)(*q - '0');
		q++;
	}
	if (q == *s)
		return -EINVAL;
	if (v >= CW_LCORE_MAX) {
		snprintf(why, len, "lcore %.*s is out of range 0..%u", (int)(q - *s), *s,
			 CW_LCORE_MAX - 1);
		return -ERANGE;
	}
	*id = (unsigned)v;
	*s = q;
	return 0;
}

/*
 * Items must ascend: then the first id is also the lowest, which is the one
 * EAL makes its main lcore, so "first" means the same here and in EAL.
 */
static int lcores_add(struct cw_lcores *l, unsigned a, unsigned b, char *why, size_t len)
{
	unsigned last = l->n ? l->ids[l->n - 1] : 0;

	if (b < a) {
		snprintf(why, len, "range %u-%u is reversed", a, b);
		return -ERANGE;
	}
	if (l->n && a <= last) {
		if (l->has[a])
			snprintf(why, len, "lcore %u is listed twice", a);
		else
			snprintf(why, len,
				 "lcore %u is listed after %u: list lcores in ascending order", a,
				 last);
		return -ERANGE;
	}
	for (unsigned i = a; i <= b; i++) {
		l->has[i] = true;
		l->ids[l->n++] = i;
	}
	return 0;
}

static int lcores_item(struct cw_lcores *l, const char **s, char *why, size_t len)
{
	unsigned a, b;
	int rc;

	if ((rc = lcore_id(s, &a, why, len)))
		return rc;
	b = a;
	if (**s == '-') {
		(*s)++;
		if ((rc = lcore_id(s, &b, why, len)))
			return rc;
	}
	return lcores_add(l, a, b, why, len);
}

/* "0-1", "0,2-3": ids below CW_LCORE_MAX, as EAL's -l takes them. */
static int lcores_parse(struct cw_lcores *l, const char *s, char *why, size_t len)
{
	const char *q = s;
	int rc;

	memset(l, 0, sizeof(*l));
	do {
		rc = lcores_item(l, &q, why, len);
		if (rc == -ERANGE)
			return -EINVAL;
		if (rc)
			break;
		if (*q == '\0')
			return 0;
	} while (*q++ == ',');
	snprintf(why, len, "'%s' is not an lcore list like 0-1 or 0,2-3", s);
	return -EINVAL;
}

/* The inverse of lcores_parse(), folding runs back into ranges. */
static void lcores_format(const uint32_t *ids, unsigned n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n && off < len; i++) {
		unsigned j = i;
		int r;

		while (j + 1 < n && ids[j + 1] == ids[j] + 1)
			j++;
		if (j == i)
			r = snprintf(buf + off, len - off, "%s%u", i ? "," : "", ids[i]);
		else
			r = snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "", ids[i], ids[j]);
		off += r > 0 ? (size_t)r : 0;
		i = j;
	}
}

/* ---- value parsers, one per kind of key ---- */

static int parse_uint(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	uint64_t v;

	if (parse_dec(val, &v))
		return fail(p, p->line, k->name, "'%s' is not a decimal number", val);
	if (v < k->min || v > k->max)
		return fail(p, p->line, k->name, "%s is out of range %u..%u", val, k->min, k->max);
	store_uint(field(base, k), k->size, (uint32_t)v);
	return 0;
}

/* Descriptor rings: the PMDs want a power of two. */
static int parse_pow2(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	int rc = parse_uint(p, k, base, val);
	uint32_t v;

	if (rc)
		return rc;
	v = load_uint(field(base, k), k->size);
	if (v & (v - 1))
		return fail(p, p->line, k->name, "%s is not a power of two", val);
	return 0;
}

/* "expected a, b or c" from the key's name list. */
static int enum_fail(struct cw_parser *p, const struct cw_key *k)
{
	char buf[128];
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i <= k->max && off < sizeof(buf); i++) {
		const char *sep = i == 0 ? "" : i == k->max ? " or " : ", ";
		int r = snprintf(buf + off, sizeof(buf) - off, "%s%s", sep, k->names[i]);

		off += r > 0 ? (size_t)r : 0;
	}
	return fail(p, p->line, k->name, "expected %s", buf);
}

static int parse_enum(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	for (uint32_t i = 0; i <= k->max; i++) {
		if (!strcmp(val, k->names[i])) {
			store_uint(field(base, k), k->size, i);
			return 0;
		}
	}
	return enum_fail(p, k);
}

static int parse_str(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	if (strlen(val) >= k->size)
		return fail(p, p->line, k->name, "value is too long (at most %zu characters)",
			    k->size - 1);
	store_str(field(base, k), k->size, val);
	return 0;
}

static int parse_ident(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	if (!is_ident(val, k->size - 1))
		return fail(p, p->line, k->name, "'%s' is not 1..%zu characters of A-Z a-z 0-9 _ -",
			    val, k->size - 1);
	store_str(field(base, k), k->size, val);
	return 0;
}

static int parse_lcores(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	struct cw_lcores l;
	char why[160];

	if (lcores_parse(&l, val, why, sizeof(why)))
		return fail(p, p->line, k->name, "%s", why);
	return parse_str(p, k, base, val);
}

static int parse_workers(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	struct cw_dataplane_conf *dp = base;
	struct cw_lcores l;
	char why[160];

	if (lcores_parse(&l, val, why, sizeof(why)))
		return fail(p, p->line, k->name, "%s", why);
	if (l.n > CW_MAX_WORKERS)
		return fail(p, p->line, k->name, "%u lcores listed, at most %u", l.n,
			    CW_MAX_WORKERS);
	memset(dp->workers, 0, sizeof(dp->workers));
	memcpy(dp->workers, l.ids, l.n * sizeof(l.ids[0]));
	dp->n_workers = l.n;
	return 0;
}

static int parse_ipv4(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	const char *end;
	uint32_t a;

	if (parse_ip(val, &end, &a) || *end)
		return fail(p, p->line, k->name, "'%s' is not an IPv4 address", val);
	store_uint(field(base, k), k->size, a);
	return 0;
}

/* A host address must be neither the subnet's network nor its broadcast. */
static const char *host_problem(uint32_t a, unsigned len)
{
	uint32_t host = a & ~mask_of(len);

	if (!a)
		return "is not a usable address";
	if (len <= 30 && host == 0)
		return "is the network address of its subnet";
	if (len <= 30 && host == ~mask_of(len))
		return "is the broadcast address of its subnet";
	return NULL;
}

static int parse_prefix(const char *s, unsigned *len)
{
	uint64_t v;

	if (parse_dec(s, &v) || v < 1 || v > 32)
		return -EINVAL;
	*len = (unsigned)v;
	return 0;
}

/* Two ports answering ARP for one address would split its traffic. */
static int addr_taken(struct cw_parser *p, const struct cw_key *k, uint32_t a)
{
	unsigned me = p->inst - SEC_PORT;
	char ip[16];

	for (unsigned i = 0; i < me; i++) {
		if (p->c.ports[i].addr == a)
			return fail(p, p->line, k->name, "%s is already used by port '%s'",
				    ip_str(a, ip), p->c.ports[i].name);
	}
	return 0;
}

static int parse_cidr(struct cw_parser *p, const struct cw_key *k, void *base, const char *val)
{
	struct cw_port_conf *port = base;
	const char *end, *why;
	unsigned len;
	uint32_t a;
	char ip[16];

	if (parse_ip(val, &end, &a) || (*end && *end != '/'))
		return fail(p, p->line, k->name, "'%s' is not an IPv4 address like 192.0.2.1/24",
			    val);
	if (!*end)
		return fail(p, p->line, k->name, "'%s' has no prefix length: expected a.b.c.d/len",
			    val);
	if (parse_prefix(end + 1, &len))
		return fail(p, p->line, k->name, "prefix length '%s' is out of range 1..32",
			    end + 1);
	if ((why = host_problem(a, len)))
		return fail(p, p->line, k->name, "%s %s", ip_str(a, ip), why);
	port->addr = a;
	port->prefix_len = (uint8_t)len;
	return addr_taken(p, k, a);
}

/* ---- value printers: "key = value" that the parsers read back ---- */

static void print_uint(const struct cw_key *k, const void *base, FILE *out)
{
	fprintf(out, "%s = %u\n", k->name, load_uint(cfield(base, k), k->size));
}

static void print_enum(const struct cw_key *k, const void *base, FILE *out)
{
	uint32_t v = load_uint(cfield(base, k), k->size);

	fprintf(out, "%s = %s\n", k->name, v <= k->max ? k->names[v] : "?");
}

static void print_str(const struct cw_key *k, const void *base, FILE *out)
{
	const char *s = cfield(base, k);

	/* No trailing blank after '=' for an empty value. */
	fprintf(out, "%s =%s%.*s\n", k->name, *s ? " " : "", (int)k->size, s);
}

static void print_ipv4(const struct cw_key *k, const void *base, FILE *out)
{
	char ip[16];

	fprintf(out, "%s = %s\n", k->name, ip_str(load_uint(cfield(base, k), k->size), ip));
}

/* 0 means "no gateway", which has no value syntax: leave the key out. */
static void print_gateway(const struct cw_key *k, const void *base, FILE *out)
{
	if (load_uint(cfield(base, k), k->size))
		print_ipv4(k, base, out);
	else
		fprintf(out, "# %s: none\n", k->name);
}

static void print_cidr(const struct cw_key *k, const void *base, FILE *out)
{
	const struct cw_port_conf *port = base;
	char ip[16];

	fprintf(out, "%s = %s/%u\n", k->name, ip_str(port->addr, ip), port->prefix_len);
}

static void print_workers(const struct cw_key *k, const void *base, FILE *out)
{
	const struct cw_dataplane_conf *dp = base;
	char buf[CW_MAX_WORKERS * 6];
	unsigned n = dp->n_workers < CW_MAX_WORKERS ? dp->n_workers : CW_MAX_WORKERS;

	lcores_format(dp->workers, n, buf, sizeof(buf));
	if (n)
		fprintf(out, "%s = %s\n", k->name, buf);
	else
		fprintf(out, "# %s: none\n", k->name);
}

/* ---- the key table ---- */

#define FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)
#define EAL(f)	       FIELD(struct cw_eal_conf, f)
#define PORT(f)	       FIELD(struct cw_port_conf, f)
#define DP(f)	       FIELD(struct cw_dataplane_conf, f)
#define LOG(f)	       FIELD(struct cw_log_conf, f)

/* Row macros: number with range, enum with names, anything else. */
/* clang-format off */
#define NUM(sect, name, fld, lo, hi) \
	{sect, name, parse_uint, print_uint, fld, lo, hi, NULL, false}
#define POW2(sect, name, fld, lo, hi) \
	{sect, name, parse_pow2, print_uint, fld, lo, hi, NULL, false}
#define ENUM(sect, name, fld, names) \
	{sect, name, parse_enum, print_enum, fld, 0, ARRAY_SIZE(names) - 1, names, false}
#define OTHER(sect, name, parse, print, fld, empty_ok) \
	{sect, name, parse, print, fld, 0, 0, NULL, empty_ok}

static const struct cw_key cw_keys[N_KEYS] = {
	[K_EAL_LCORES]		= OTHER(SEC_EAL, "lcores", parse_lcores, print_str,
					EAL(lcores), false),
	[K_EAL_MEMORY]		= NUM(SEC_EAL, "memory", EAL(memory_mb), 0, 1048576),
	[K_EAL_HUGEPAGES]	= ENUM(SEC_EAL, "hugepages", EAL(hugepages), cw_huge_names),
	[K_EAL_FILE_PREFIX]	= OTHER(SEC_EAL, "file_prefix", parse_ident, print_str,
					EAL(file_prefix), false),
	[K_EAL_EXTRA_ARGS]	= OTHER(SEC_EAL, "extra_args", parse_str, print_str,
					EAL(extra_args), true),

	[K_PORT_DEVICE]		= OTHER(SEC_PORT, "device", parse_str, print_str,
					PORT(device), false),
	[K_PORT_ADDRESS]	= OTHER(SEC_PORT, "address", parse_cidr, print_cidr,
					PORT(addr), false),
	[K_PORT_GATEWAY]	= OTHER(SEC_PORT, "gateway", parse_ipv4, print_gateway,
					PORT(gateway), false),
	[K_PORT_MTU]		= NUM(SEC_PORT, "mtu", PORT(mtu), 576, 9000),
	[K_PORT_RX_DESC]	= POW2(SEC_PORT, "rx_desc", PORT(rx_desc), 64, 16384),
	[K_PORT_TX_DESC]	= POW2(SEC_PORT, "tx_desc", PORT(tx_desc), 64, 16384),
	[K_PORT_VLAN]		= NUM(SEC_PORT, "vlan", PORT(vlan), 0, 4094),

	[K_DP_WORKERS]		= OTHER(SEC_DP, "workers", parse_workers, print_workers,
					DP(workers), false),
	[K_DP_BURST]		= NUM(SEC_DP, "burst", DP(burst), 1, 512),
	[K_DP_MBUF_POOL_SIZE]	= NUM(SEC_DP, "mbuf_pool_size", DP(mbuf_pool_size),
				      1023, 16777215),
	[K_DP_MBUF_CACHE]	= NUM(SEC_DP, "mbuf_cache", DP(mbuf_cache), 0, 512),
	[K_DP_BACKEND]		= ENUM(SEC_DP, "backend", DP(backend), cw_backend_names),
	[K_DP_STATS_INTERVAL]	= NUM(SEC_DP, "stats_interval", DP(stats_interval), 0, 3600),
	[K_DP_ECHO_PORT]	= NUM(SEC_DP, "echo_port", DP(echo_port), 0, 65535),
	[K_DP_SOCKET_ADDRESS]	= OTHER(SEC_DP, "socket_address", parse_ipv4, print_ipv4,
					DP(socket_addr), false),
	[K_DP_NEIGH_TIMEOUT]	= NUM(SEC_DP, "neigh_timeout", DP(neigh_timeout), 1, 86400),
	[K_DP_FRAG_TIMEOUT]	= NUM(SEC_DP, "frag_timeout", DP(frag_timeout_ms), 10, 60000),
	[K_DP_FRAG_MAX_ENTRIES]	= NUM(SEC_DP, "frag_max_entries", DP(frag_max_entries),
				      1, 1048576),
	[K_DP_MBUF_SIZE]	= NUM(SEC_DP, "mbuf_size", DP(mbuf_size), 1024, 65000),

	[K_LOG_LEVEL]		= ENUM(SEC_LOG, "level", LOG(level), cw_level_names),
};
/* clang-format on */

static const struct cw_key *find_key(enum cw_sect sect, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (cw_keys[i].sect == sect && !strcmp(cw_keys[i].name, name))
			return &cw_keys[i];
	}
	return NULL;
}

/* ---- defaults ---- */

static void port_defaults(struct cw_port_conf *port)
{
	memset(port, 0, sizeof(*port));
	port->mtu = 1500;
	port->rx_desc = 1024;
	port->tx_desc = 1024;
}

void cw_config_defaults(struct cw_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->eal.lcores, "0-1");
	c->eal.memory_mb = 256;
	c->eal.hugepages = CW_HUGE_AUTO;
	strcpy(c->eal.file_prefix, "causeway");
	c->dp.workers[0] = 1; /* every [eal] lcore but the main one */
	c->dp.n_workers = 1;
	c->dp.burst = 32;
	c->dp.mbuf_pool_size = 8191;
	c->dp.mbuf_cache = 256;
	c->dp.backend = CW_BACKEND_DPDK;
	c->dp.stats_interval = 10;
	c->dp.neigh_timeout = 300;
	c->dp.frag_timeout_ms = 2000;
	c->dp.frag_max_entries = 4096;
	c->dp.mbuf_size = 2048;
	c->log.level = CW_LOG_INFO;
}

/* ---- sections ---- */

static void sect_title(const struct cw_parser *p, char *buf, size_t len)
{
	static const char *const names[] = {"eal", "dataplane", "log"};

	if (p->sect == SEC_PORT)
		snprintf(buf, len, "[port %s]", p->c.ports[p->inst - SEC_PORT].name);
	else
		snprintf(buf, len, "[%s]", names[p->sect]);
}

/* Checks that need the whole [port NAME] section, at its end. */
static int close_port(struct cw_parser *p)
{
	struct cw_port_conf *port = p->base;
	unsigned *kl = p->key_line[p->inst], gl = kl[K_PORT_GATEWAY];
	const char *why;
	char ip[16];

	if (!kl[K_PORT_DEVICE])
		return fail(p, p->sect_line[p->inst], NULL, "port '%s': missing key 'device'",
			    port->name);
	if (!kl[K_PORT_ADDRESS])
		return fail(p, p->sect_line[p->inst], NULL, "port '%s': missing key 'address'",
			    port->name);
	if (!gl)
		return 0;
	ip_str(port->gateway, ip);
	if ((port->gateway ^ port->addr) & mask_of(port->prefix_len))
		return fail(p, gl, "gateway", "%s is outside the port's subnet", ip);
	if (port->gateway == port->addr)
		return fail(p, gl, "gateway", "%s is the port's own address", ip);
	if ((why = host_problem(port->gateway, port->prefix_len)))
		return fail(p, gl, "gateway", "%s %s", ip, why);
	return 0;
}

static int close_section(struct cw_parser *p)
{
	int rc = p->sect == SEC_PORT ? close_port(p) : 0;

	p->sect = SEC_NONE;
	return rc;
}

static int open_single(struct cw_parser *p, enum cw_sect sect, void *base, const char *title)
{
	if (p->sect_line[sect])
		return fail(p, p->line, NULL, "duplicate section [%s]", title);
	p->sect = sect;
	p->inst = sect;
	p->base = base;
	p->sect_line[sect] = p->line;
	return 0;
}

static int open_port(struct cw_parser *p, const char *name)
{
	struct cw_config *c = &p->c;

	if (!*name)
		return fail(p, p->line, NULL, "section [port] needs a name: [port NAME]");
	if (!is_ident(name, CW_NAME_LEN - 1))
		return fail(p, p->line, NULL,
			    "invalid port name '%s': expected 1..%u characters of A-Z a-z 0-9 _ -",
			    name, CW_NAME_LEN - 1);
	for (unsigned i = 0; i < c->n_ports; i++) {
		if (!strcmp(c->ports[i].name, name))
			return fail(p, p->line, NULL, "duplicate section [port %s]", name);
	}
	if (c->n_ports == CW_MAX_PORTS)
		return fail(p, p->line, NULL, "too many [port NAME] sections (at most %u)",
			    CW_MAX_PORTS);
	p->sect = SEC_PORT;
	p->inst = SEC_PORT + c->n_ports;
	p->base = &c->ports[c->n_ports];
	p->sect_line[p->inst] = p->line;
	port_defaults(p->base);
	strcpy(c->ports[c->n_ports++].name, name);
	return 0;
}

/* @s is trimmed and starts with '['. */
static int parse_header(struct cw_parser *p, char *s)
{
	char *end = strchr(s, ']'), *in;
	int rc;

	if ((rc = close_section(p)))
		return rc;
	if (!end)
		return fail(p, p->line, NULL, "missing ']'");
	if (end[1])
		return fail(p, p->line, NULL, "unexpected text after ']'");
	*end = '\0';
	in = trim(s + 1);
	if (!strcmp(in, "eal"))
		return open_single(p, SEC_EAL, &p->c.eal, in);
	if (!strcmp(in, "dataplane"))
		return open_single(p, SEC_DP, &p->c.dp, in);
	if (!strcmp(in, "log"))
		return open_single(p, SEC_LOG, &p->c.log, in);
	if (!strncmp(in, "port", 4) && (!in[4] || is_blank(in[4])))
		return open_port(p, trim(in + 4));
	return fail(p, p->line, NULL, "unknown section '%s'", in);
}

/* ---- lines ---- */

static int parse_keyval(struct cw_parser *p, char *s)
{
	char *eq = strchr(s, '='), *key, *val, title[64];
	const struct cw_key *k;
	unsigned *seen;

	if (!eq || eq == s)
		return fail(p, p->line, NULL, "expected 'key = value'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (*val == '#') /* "key =# note": no value, as with "key = # note" */
		*val = '\0';
	if (p->sect == SEC_NONE)
		return fail(p, p->line, NULL, "key outside any section");
	if (!(k = find_key(p->sect, key))) {
		sect_title(p, title, sizeof(title));
		return fail(p, p->line, key, "unknown key in section %s", title);
	}
	seen = &p->key_line[p->inst][k - cw_keys];
	if (*seen)
		return fail(p, p->line, key, "duplicate key");
	*seen = p->line;
	if (!*val && !k->empty_ok)
		return fail(p, p->line, key, "missing value");
	return k->parse(p, k, p->base, val);
}

/*
 * A '#' after a blank starts a comment; a '#' inside a value does not, so
 * "iface=a#b" survives. A parsed value never holds a blank followed by a '#'.
 */
static void cut_comment(char *s)
{
	for (char *q = s; *q; q++) {
		if (*q == '#' && q > s && is_blank(q[-1])) {
			*q = '\0';
			return;
		}
	}
}

static int parse_line(struct cw_parser *p, char *line)
{
	size_t n = strlen(line);
	char *s;

	if (n && line[n - 1] == '\r')
		line[--n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return fail(p, p->line, NULL, "control character 0x%02x in line",
				    (unsigned char)line[i]);
	}
	s = trim(line);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	cut_comment(s);
	s = trim(s);
	return *s == '[' ? parse_header(p, s) : parse_keyval(p, s);
}

/* ---- whole-file checks ---- */

static int default_workers(struct cw_parser *p, const struct cw_lcores *l)
{
	struct cw_dataplane_conf *dp = &p->c.dp;
	unsigned line = p->key_line[SEC_EAL][K_EAL_LCORES];

	if (l->n < 2)
		return fail(p, line, "lcores",
			    "'%s' leaves no worker lcore: the first lcore is the main lcore",
			    p->c.eal.lcores);
	if (l->n - 1 > CW_MAX_WORKERS)
		return fail(p, line, "lcores", "'%s' gives %u worker lcores, at most %u",
			    p->c.eal.lcores, l->n - 1, CW_MAX_WORKERS);
	memset(dp->workers, 0, sizeof(dp->workers));
	memcpy(dp->workers, l->ids + 1, (l->n - 1) * sizeof(l->ids[0]));
	dp->n_workers = l->n - 1;
	return 0;
}

/* Workers are checked against [eal] lcores, which may come later in the file. */
static int check_workers(struct cw_parser *p)
{
	const struct cw_dataplane_conf *dp = &p->c.dp;
	unsigned line = p->key_line[SEC_DP][K_DP_WORKERS];
	struct cw_lcores l;
	char why[160];

	if (lcores_parse(&l, p->c.eal.lcores, why, sizeof(why)))
		return fail(p, 0, "lcores", "%s", why); /* defaults are valid */
	if (!line)
		return default_workers(p, &l);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		uint32_t w = dp->workers[i];

		if (w == l.ids[0])
			return fail(p, line, "workers",
				    "lcore %u is the main lcore (the first of [eal] lcores)", w);
		if (!l.has[w])
			return fail(p, line, "workers", "lcore %u is not in [eal] lcores '%s'", w,
				    p->c.eal.lcores);
	}
	return 0;
}

static int finish(struct cw_parser *p)
{
	int rc;

	if ((rc = close_section(p)) || (rc = check_workers(p)))
		return rc;
	if (p->c.dp.backend == CW_BACKEND_DPDK && !p->c.n_ports)
		return fail(p, 0, NULL, "backend 'dpdk' needs at least one [port NAME] section");
	return 0;
}

static int parse_text(struct cw_parser *p, const char *text)
{
	char buf[CW_LINE_MAX];
	const char *s = text;
	int rc;

	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		p->line++;
		if (n >= sizeof(buf))
			return fail(p, p->line, NULL, "line is too long (at most %zu characters)",
				    sizeof(buf) - 1);
		memcpy(buf, s, n);
		buf[n] = '\0';
		if ((rc = parse_line(p, buf)))
			return rc;
		s += n + (nl != NULL);
	}
	return finish(p);
}

int cw_config_parse(struct cw_config *c, const char *name, const char *text, char *err,
		    size_t errlen)
{
	struct cw_parser *p = calloc(1, sizeof(*p));
	int rc;

	if (!p) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", name, strerror(ENOMEM));
		return -ENOMEM;
	}
	cw_config_defaults(&p->c);
	p->name = name;
	p->err = err;
	p->errlen = errlen;
	p->sect = SEC_NONE;
	rc = parse_text(p, text);
	if (!rc)
		memcpy(c, &p->c, sizeof(*c));
	free(p);
	return rc;
}

/* ---- files ---- */

static int read_fail(const char *path, int rc, char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}

/* The whole file, NUL-terminated, in *buf; *len excludes the NUL. */
static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t n;
	int rc = 0;

	if (!f)
		return errno ? -errno : -EIO;
	*buf = malloc(CW_FILE_MAX + 1);
	if (!*buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(*buf, 1, CW_FILE_MAX + 1, f);
	if (ferror(f))
		rc = errno ? -errno : -EIO;
	else if (n > CW_FILE_MAX)
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

int cw_config_load(struct cw_config *c, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	errno = 0;
	if ((rc = read_file(path, &buf, &len)))
		return read_fail(path, rc, err, errlen);
	rc = check_nul(path, buf, len, err, errlen);
	if (!rc)
		rc = cw_config_parse(c, path, buf, err, errlen);
	free(buf);
	return rc;
}

/* ---- printing ---- */

static void print_keys(enum cw_sect sect, const void *base, FILE *out)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (cw_keys[i].sect == sect)
			cw_keys[i].print(&cw_keys[i], base, out);
	}
}

void cw_config_print(const struct cw_config *c, FILE *out)
{
	unsigned n = c->n_ports < CW_MAX_PORTS ? c->n_ports : CW_MAX_PORTS;

	fprintf(out, "# causewayd effective configuration\n\n[eal]\n");
	print_keys(SEC_EAL, &c->eal, out);
	for (unsigned i = 0; i < n; i++) {
		fprintf(out, "\n[port %s]\n", c->ports[i].name);
		print_keys(SEC_PORT, &c->ports[i], out);
	}
	fprintf(out, "\n[dataplane]\n");
	print_keys(SEC_DP, &c->dp, out);
	fprintf(out, "\n[log]\n");
	print_keys(SEC_LOG, &c->log, out);
}
