/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-agent's configuration schema on the INI engine (control/ini.h):
 * its key table, defaults, value syntaxes (names, labels, host:port lists)
 * and the checks that need more than one key.
 */
#include "control/agent_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/ini.h"

_Static_assert(sizeof(enum cw_agent_jitter) == sizeof(uint32_t), "enums are stored as uint32_t");
_Static_assert(sizeof(enum cw_agent_log_level) == sizeof(uint32_t), "enums are stored as uint32_t");

/* Matched and printed in this order. */
enum cw_sect {
	SEC_AGENT,
	SEC_GATEWAY,
	SEC_TLS,
	SEC_DIAL,
	SEC_ADMIN,
	SEC_HUB,
	SEC_KEEPALIVE,
	SEC_RECONNECT,
	SEC_LOG,
	N_SECTS
};

enum cw_key_id {
	K_NODE_NAME,
	K_POOL,
	K_LABELS,
	K_CACHE_DIR,
	K_DICTIONARY,
	K_GW_ADDRESS,
	K_GW_SERVER_NAME,
	K_GW_CA_FILE,
	K_TLS_CERT_FILE,
	K_TLS_KEY_FILE,
	K_TLS_TICKET_FILE,
	K_DIAL_ALLOW,
	K_DIAL_CONNECT_TIMEOUT,
	K_ADMIN_LISTEN,
	K_HUB_LISTEN,
	K_HUB_QUEUE_MAX_ENTRIES,
	K_HUB_QUEUE_MAX_MB,
	K_KA_IDLE_TIMEOUT,
	K_KA_INTERVAL,
	K_KA_HEARTBEAT,
	K_RC_INITIAL,
	K_RC_MAX,
	K_RC_JITTER,
	K_RC_RESET_AFTER,
	K_LOG_LEVEL,
	N_KEYS
};

static const char *const cw_jitter_names[] = {"full", "none"};
static const char *const cw_level_names[] = {"error", "warning", "info", "debug"};

#define LOOPBACK "127.0.0.1" /* Dial's default host, PROTOCOL.md §13.5 */

/* ---- names ---- */

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || cw_ini_is_digit(ch);
}

static bool is_alnum(char ch)
{
	return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

/*
 * Dot-separated labels of letters, digits and '-', each starting and ending
 * with a letter or digit, at most 253 characters. Kubernetes' DNS-1123
 * subdomain (node names, object names) is this in lower case; a host name
 * may use upper case and keeps each label to 63 characters.
 */
static bool is_dns_name(const char *s, bool upper_ok, size_t label_max)
{
	size_t n = strlen(s), label = 0;

	if (n < 1 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0 || !is_alnum(s[i - 1]) || !is_alnum(s[i + 1]))
				return false;
			label = 0;
			continue;
		}
		if (++label > label_max)
			return false;
		if (ch == '-' && (i == 0 || i == n - 1))
			return false;
		if (ch != '-' && !(upper_ok ? is_alnum(ch) : is_lower_alnum(ch)))
			return false;
	}
	return true;
}

static bool is_dns1123(const char *s)
{
	return is_dns_name(s, false, 253);
}

/* Digits and dots only: meant as an IPv4 address, never as a name. */
static bool looks_numeric(const char *s)
{
	return strspn(s, "0123456789.") == strlen(s);
}

static bool is_ipv4(const char *s)
{
	const char *end;
	uint32_t a;

	return !cw_ini_parse_ip(s, &end, &a) && !*end;
}

static bool is_ipv6(const char *s)
{
	unsigned char a[16];

	return strlen(s) < 46 && inet_pton(AF_INET6, s, a) == 1;
}

/* A host to dial or allow: an IPv4 or IPv6 literal, or a DNS name. */
static bool is_host(const char *s)
{
	if (strchr(s, ':'))
		return is_ipv6(s);
	if (looks_numeric(s))
		return is_ipv4(s);
	return is_dns_name(s, true, 63);
}

/*
 * A label name: 1..63 characters of A-Z a-z 0-9 - _ ., starting and ending
 * with a letter or digit (Kubernetes' qualified-name part). Values are the
 * same or empty.
 */
static bool is_label_name(const char *s, size_t n)
{
	if (n < 1 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	}
	return true;
}

/* [prefix/]name, the prefix a DNS-1123 subdomain. */
static bool is_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	char prefix[254];
	size_t n;

	if (!slash)
		return is_label_name(s, strlen(s));
	n = (size_t)(slash - s);
	if (n >= sizeof(prefix))
		return false;
	memcpy(prefix, s, n);
	prefix[n] = '\0';
	return is_dns1123(prefix) && is_label_name(slash + 1, strlen(slash + 1));
}

/* ---- comma-separated lists ---- */

typedef int item_fn(struct cw_ini *p, const struct cw_ini_key *k, void *base, char *item);

/* @fn for each comma-separated item of @val, trimmed; none may be empty. */
static int each_item(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val,
		     item_fn *fn)
{
	char buf[CW_INI_LINE_MAX], *s = buf;
	int rc;

	/* A value is part of one line, so it fits. */
	snprintf(buf, sizeof(buf), "%s", val);
	for (;;) {
		char *comma = strchr(s, ','), *item;

		if (comma)
			*comma = '\0';
		item = cw_ini_trim(s);
		if (!*item)
			return cw_ini_fail(p, cw_ini_line(p), k->name, "empty item in list '%s'",
					   val);
		if ((rc = fn(p, k, base, item)))
			return rc;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

/* ---- host:port ---- */

static int parse_port(struct cw_ini *p, const struct cw_ini_key *k, const char *s, uint16_t *port)
{
	uint64_t v;

	if (cw_ini_parse_dec(s, &v) || v < 1 || v > 65535)
		return cw_ini_fail(p, cw_ini_line(p), k->name, "port '%s' is not a number 1..65535",
				   s);
	*port = (uint16_t)v;
	return 0;
}

/*
 * "host", "host:port", "[v6]" or "[v6]:port" into @e; without a port,
 * @e->port is left alone. *@has_port says whether one was given.
 */
static int parse_endpoint(struct cw_ini *p, const struct cw_ini_key *k, char *s,
			  struct cw_agent_endpoint *e, bool *has_port)
{
	char *host = s, *port = NULL, *close;

	if (*s == '[') {
		if (!(close = strchr(s, ']')) || (close[1] && close[1] != ':'))
			return cw_ini_fail(p, cw_ini_line(p), k->name, "'%s' is not [IPv6]:port",
					   s);
		*close = '\0';
		host = s + 1;
		port = close[1] ? close + 2 : NULL;
		if (!strchr(host, ':') || !is_ipv6(host))
			return cw_ini_fail(p, cw_ini_line(p), k->name,
					   "'%s' is not an IPv6 address", host);
	} else if ((port = strchr(s, ':'))) {
		if (strchr(port + 1, ':'))
			return cw_ini_fail(p, cw_ini_line(p), k->name,
					   "'%s': write an IPv6 address in brackets, as "
					   "[2001:db8::1]:10262",
					   s);
		*port++ = '\0';
	}
	if (!is_host(host))
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "'%s' is not a host name or IP address", host);
	if (port && parse_port(p, k, port, &e->port))
		return -EINVAL;
	*has_port = port != NULL;
	cw_ini_store_str(e->host, sizeof(e->host), host);
	return 0;
}

static bool same_endpoint(const struct cw_agent_endpoint *a, const struct cw_agent_endpoint *b)
{
	return a->port == b->port && !strcasecmp(a->host, b->host);
}

/* Append @e to @list of *@n, refusing duplicates and overflow. */
static int add_endpoint(struct cw_ini *p, const struct cw_ini_key *k,
			struct cw_agent_endpoint *list, uint32_t *n, uint32_t max,
			const struct cw_agent_endpoint *e)
{
	const char *fmt =
	    strchr(e->host, ':') ? "[%s]:%u is listed twice" : "%s:%u is listed twice";

	for (uint32_t i = 0; i < *n; i++) {
		if (same_endpoint(&list[i], e))
			return cw_ini_fail(p, cw_ini_line(p), k->name, fmt, e->host, e->port);
	}
	if (*n == max)
		return cw_ini_fail(p, cw_ini_line(p), k->name, "more than %u entries", max);
	list[(*n)++] = *e;
	return 0;
}

static void print_endpoints(const struct cw_ini_key *k, const struct cw_agent_endpoint *list,
			    uint32_t n, FILE *out)
{
	fprintf(out, "%s =", k->name);
	for (uint32_t i = 0; i < n; i++) {
		const char *fmt = strchr(list[i].host, ':') ? "%s[%s]:%u" : "%s%s:%u";

		fprintf(out, fmt, i ? ", " : " ", list[i].host, list[i].port);
	}
	fprintf(out, "\n");
}

/* ---- value parsers ---- */

static int parse_name(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	if (*val && !is_dns1123(val))
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "'%s' is not a valid Kubernetes name: at most 253 characters "
				   "of a-z 0-9 - ., each dot-separated part starting and ending "
				   "with a-z or 0-9",
				   val);
	return cw_ini_parse_str(p, k, base, val);
}

/* Configuration belongs to no working directory: paths are absolute. */
static int parse_path(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	if (*val && *val != '/')
		return cw_ini_fail(p, cw_ini_line(p), k->name, "'%s' is not an absolute path", val);
	return cw_ini_parse_str(p, k, base, val);
}

static int parse_server_name(struct cw_ini *p, const struct cw_ini_key *k, void *base,
			     const char *val)
{
	if (*val && !is_host(val))
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "'%s' is not a host name or IP address", val);
	return cw_ini_parse_str(p, k, base, val);
}

static int label_item(struct cw_ini *p, const struct cw_ini_key *k, void *base, char *item)
{
	struct cw_agent_node_conf *a = base;
	char *eq = strchr(item, '='), *key, *val;

	if (!eq)
		return cw_ini_fail(p, cw_ini_line(p), k->name, "'%s' is not key=value", item);
	*eq = '\0';
	key = cw_ini_trim(item);
	val = cw_ini_trim(eq + 1);
	if (!is_label_key(key))
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "'%s' is not a Kubernetes label key ([prefix/]name)", key);
	if (*val && !is_label_name(val, strlen(val)))
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "'%s' is not a Kubernetes label value (label '%s')", val, key);
	for (uint32_t i = 0; i < a->n_labels; i++) {
		if (!strcmp(a->labels[i].key, key))
			return cw_ini_fail(p, cw_ini_line(p), k->name, "label '%s' is given twice",
					   key);
	}
	if (a->n_labels == CW_AGENT_MAX_LABELS)
		return cw_ini_fail(p, cw_ini_line(p), k->name, "more than %u labels",
				   CW_AGENT_MAX_LABELS);
	cw_ini_store_str(a->labels[a->n_labels].key, sizeof(a->labels[0].key), key);
	cw_ini_store_str(a->labels[a->n_labels].value, sizeof(a->labels[0].value), val);
	a->n_labels++;
	return 0;
}

/* The list replaces the default (no labels); "labels =" keeps none. */
static int parse_labels(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	struct cw_agent_node_conf *a = base;

	memset(a->labels, 0, sizeof(a->labels));
	a->n_labels = 0;
	return *val ? each_item(p, k, base, val, label_item) : 0;
}

static int gateway_item(struct cw_ini *p, const struct cw_ini_key *k, void *base, char *item)
{
	struct cw_agent_gateway_conf *g = base;
	struct cw_agent_endpoint e = {.port = CW_AGENT_GATEWAY_PORT};
	bool has_port;

	if (parse_endpoint(p, k, item, &e, &has_port))
		return -EINVAL;
	return add_endpoint(p, k, g->addrs, &g->n_addrs, CW_AGENT_MAX_GATEWAYS, &e);
}

/* Repeatable: each line appends to the list. */
static int parse_gateways(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	return each_item(p, k, base, val, gateway_item);
}

/* PORT (on 127.0.0.1) or HOST:PORT. */
static int allow_item(struct cw_ini *p, const struct cw_ini_key *k, void *base, char *item)
{
	struct cw_agent_dial_conf *d = base;
	struct cw_agent_endpoint e = {.port = 0};
	bool has_port;

	if (strspn(item, "0123456789") == strlen(item)) {
		strcpy(e.host, LOOPBACK);
		if (parse_port(p, k, item, &e.port))
			return -EINVAL;
	} else {
		if (parse_endpoint(p, k, item, &e, &has_port))
			return -EINVAL;
		if (!has_port)
			return cw_ini_fail(p, cw_ini_line(p), k->name,
					   "'%s' has no port: expected PORT or HOST:PORT", item);
	}
	return add_endpoint(p, k, d->allow, &d->n_allow, CW_AGENT_MAX_ALLOW, &e);
}

/* The list replaces the default; "allow =" permits no Dial at all. */
static int parse_allow(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	struct cw_agent_dial_conf *d = base;

	memset(d->allow, 0, sizeof(d->allow));
	d->n_allow = 0;
	return *val ? each_item(p, k, base, val, allow_item) : 0;
}

/* ---- value printers ---- */

static void print_labels(const struct cw_ini_key *k, const void *base, FILE *out)
{
	const struct cw_agent_node_conf *a = base;

	fprintf(out, "%s =", k->name);
	for (uint32_t i = 0; i < a->n_labels && i < CW_AGENT_MAX_LABELS; i++)
		fprintf(out, "%s%s=%s", i ? ", " : " ", a->labels[i].key, a->labels[i].value);
	fprintf(out, "\n");
}

static void print_gateways(const struct cw_ini_key *k, const void *base, FILE *out)
{
	const struct cw_agent_gateway_conf *g = base;

	print_endpoints(k, g->addrs, g->n_addrs <= CW_AGENT_MAX_GATEWAYS ? g->n_addrs : 0, out);
}

static void print_allow(const struct cw_ini_key *k, const void *base, FILE *out)
{
	const struct cw_agent_dial_conf *d = base;

	print_endpoints(k, d->allow, d->n_allow <= CW_AGENT_MAX_ALLOW ? d->n_allow : 0, out);
}

/* ---- the key table ---- */

#define AGENT(f)    CW_INI_FIELD(struct cw_agent_node_conf, f)
#define GW(f)	    CW_INI_FIELD(struct cw_agent_gateway_conf, f)
#define TLS(f)	    CW_INI_FIELD(struct cw_agent_tls_conf, f)
#define DIAL(f)	    CW_INI_FIELD(struct cw_agent_dial_conf, f)
#define KA(f)	    CW_INI_FIELD(struct cw_agent_keepalive_conf, f)
#define RC(f)	    CW_INI_FIELD(struct cw_agent_reconnect_conf, f)
#define HUB(f)	    CW_INI_FIELD(struct cw_agent_hub_conf, f)
#define WHOLE(type) 0, sizeof(type) /* the section's struct is the value */
#define NUM	    CW_INI_NUM
#define ENUM	    CW_INI_ENUM
#define OTHER	    CW_INI_OTHER
#define STR	    cw_ini_print_str
#define LIST_NEEDED CW_INI_REQUIRED_LIST
/* clang-format off */
static const struct cw_ini_key cw_keys[N_KEYS] = {
	[K_NODE_NAME]		= OTHER(SEC_AGENT, "node_name", parse_name, STR,
					AGENT(node_name), true),
	[K_POOL]		= OTHER(SEC_AGENT, "pool", parse_name, STR, AGENT(pool), true),
	[K_LABELS]		= OTHER(SEC_AGENT, "labels", parse_labels, print_labels,
					AGENT(labels), true),
	[K_CACHE_DIR]		= OTHER(SEC_AGENT, "cache_dir", parse_path, STR,
					AGENT(cache_dir), false),
	[K_DICTIONARY]		= OTHER(SEC_AGENT, "dictionary", parse_path, STR,
					AGENT(dictionary), true),

	[K_GW_ADDRESS]		= LIST_NEEDED(SEC_GATEWAY, "address", parse_gateways,
					      print_gateways, GW(addrs)),
	[K_GW_SERVER_NAME]	= OTHER(SEC_GATEWAY, "server_name", parse_server_name, STR,
					GW(server_name), true),
	[K_GW_CA_FILE]		= OTHER(SEC_GATEWAY, "ca_file", parse_path, STR, GW(ca_file),
					false),

	[K_TLS_CERT_FILE]	= OTHER(SEC_TLS, "cert_file", parse_path, STR, TLS(cert_file),
					false),
	[K_TLS_KEY_FILE]	= OTHER(SEC_TLS, "key_file", parse_path, STR, TLS(key_file),
					false),
	[K_TLS_TICKET_FILE]	= OTHER(SEC_TLS, "ticket_file", parse_path, STR,
					TLS(ticket_file), true),

	[K_DIAL_ALLOW]		= OTHER(SEC_DIAL, "allow", parse_allow, print_allow,
					DIAL(allow), true),
	[K_DIAL_CONNECT_TIMEOUT] = NUM(SEC_DIAL, "connect_timeout_ms",
				       DIAL(connect_timeout_ms), 100, 120000),

	[K_ADMIN_LISTEN]	= OTHER(SEC_ADMIN, "listen", cw_ini_parse_listen,
					cw_ini_print_listen, WHOLE(struct cw_ini_listen), true),
	[K_HUB_LISTEN]		= OTHER(SEC_HUB, "listen", cw_ini_parse_listen,
					cw_ini_print_listen, HUB(listen), true),
	[K_HUB_QUEUE_MAX_ENTRIES] = NUM(SEC_HUB, "queue_max_entries",
					HUB(queue_max_entries), 1, 1000000),
	[K_HUB_QUEUE_MAX_MB]	= NUM(SEC_HUB, "queue_max_mb", HUB(queue_max_mb), 1, 4096),

	[K_KA_IDLE_TIMEOUT]	= NUM(SEC_KEEPALIVE, "idle_timeout_ms", KA(idle_timeout_ms),
				      10000, 600000),
	[K_KA_INTERVAL]		= NUM(SEC_KEEPALIVE, "interval_ms", KA(interval_ms),
				      1000, 25000),
	[K_KA_HEARTBEAT]	= NUM(SEC_KEEPALIVE, "heartbeat_interval_s",
				      KA(heartbeat_interval_s), 10, 86400),

	[K_RC_INITIAL]		= NUM(SEC_RECONNECT, "initial_ms", RC(initial_ms), 100, 60000),
	[K_RC_MAX]		= NUM(SEC_RECONNECT, "max_ms", RC(max_ms), 1000, 3600000),
	[K_RC_JITTER]		= ENUM(SEC_RECONNECT, "jitter", RC(jitter), cw_jitter_names),
	[K_RC_RESET_AFTER]	= NUM(SEC_RECONNECT, "reset_after_ms", RC(reset_after_ms),
				      1000, 3600000),

	[K_LOG_LEVEL]		= ENUM(SEC_LOG, "level", WHOLE(enum cw_agent_log_level),
				       cw_level_names),
};
/* clang-format on */

static const struct cw_ini_sect cw_sects[N_SECTS] = {
    [SEC_AGENT] = {"agent", 0, 0},
    [SEC_GATEWAY] = {"gateway", 0, 0},
    [SEC_TLS] = {"tls", 0, 0},
    [SEC_DIAL] = {"dial", 0, 0},
    [SEC_ADMIN] = {"admin", 0, 0},
    [SEC_HUB] = {"hub", 0, 0},
    [SEC_KEEPALIVE] = {"keepalive", 0, 0},
    [SEC_RECONNECT] = {"reconnect", 0, 0},
    [SEC_LOG] = {"log", 0, 0},
};

/* ---- defaults ---- */

static uint32_t loopback(void)
{
	return htonl(0x7f000001);
}

void cw_agent_config_defaults(struct cw_agent_config *c)
{
	static const uint16_t dial_ports[] = {10250, 10255, 9100};

	memset(c, 0, sizeof(*c));
	strcpy(c->agent.cache_dir, "/var/lib/causeway/cache");
	strcpy(c->gateway.ca_file, "/etc/causeway/ca.crt");
	strcpy(c->tls.cert_file, "/etc/causeway/agent.crt");
	strcpy(c->tls.key_file, "/etc/causeway/agent.key");
	strcpy(c->tls.ticket_file, "/var/lib/causeway/ticket");
	for (size_t i = 0; i < sizeof(dial_ports) / sizeof(dial_ports[0]); i++) {
		strcpy(c->dial.allow[i].host, LOOPBACK);
		c->dial.allow[i].port = dial_ports[i];
	}
	c->dial.n_allow = sizeof(dial_ports) / sizeof(dial_ports[0]);
	c->dial.connect_timeout_ms = 10000;
	c->admin.addr = loopback();
	c->admin.port = 10263;
	c->hub.listen.addr = loopback();
	c->hub.listen.port = 10261;
	c->hub.queue_max_entries = 10000;
	c->hub.queue_max_mb = 64;
	c->keepalive.idle_timeout_ms = 90000;
	c->keepalive.interval_ms = 25000;
	c->keepalive.heartbeat_interval_s = 600;
	c->reconnect.initial_ms = 1000;
	c->reconnect.max_ms = 60000;
	c->reconnect.jitter = CW_AGENT_JITTER_FULL;
	c->reconnect.reset_after_ms = 60000;
	c->log_level = CW_AGENT_LOG_INFO;
}

/* ---- sections ---- */

/* Where each section's struct lives in struct cw_agent_config. */
static const size_t cw_sect_off[N_SECTS] = {
    [SEC_AGENT] = offsetof(struct cw_agent_config, agent),
    [SEC_GATEWAY] = offsetof(struct cw_agent_config, gateway),
    [SEC_TLS] = offsetof(struct cw_agent_config, tls),
    [SEC_DIAL] = offsetof(struct cw_agent_config, dial),
    [SEC_ADMIN] = offsetof(struct cw_agent_config, admin),
    [SEC_HUB] = offsetof(struct cw_agent_config, hub),
    [SEC_KEEPALIVE] = offsetof(struct cw_agent_config, keepalive),
    [SEC_RECONNECT] = offsetof(struct cw_agent_config, reconnect),
    [SEC_LOG] = offsetof(struct cw_agent_config, log_level),
};

static void *open_section(void *ctx, unsigned sect, unsigned idx, const char *name)
{
	(void)idx;
	(void)name;
	return (char *)ctx + cw_sect_off[sect];
}

/* ---- whole-file checks ---- */

/*
 * Only an explicit max_ms can be below initial_ms: the default max_ms is
 * the top of initial_ms's range.
 */
static int check_backoff(struct cw_ini *p)
{
	const struct cw_agent_config *c = cw_ini_ctx(p);
	const struct cw_agent_reconnect_conf *r = &c->reconnect;

	if (r->max_ms >= r->initial_ms)
		return 0;
	return cw_ini_fail(p, cw_ini_key_line(p, 0, K_RC_MAX), "max_ms",
			   "%u is less than initial_ms %u", r->max_ms, r->initial_ms);
}

/* Reported on whichever of the two lines comes later. */
static int check_listeners(struct cw_ini *p)
{
	const struct cw_agent_config *c = cw_ini_ctx(p);
	unsigned al = cw_ini_key_line(p, 0, K_ADMIN_LISTEN),
		 hl = cw_ini_key_line(p, 0, K_HUB_LISTEN);
	char ip[16];

	if (!c->admin.port || c->admin.port != c->hub.listen.port ||
	    c->admin.addr != c->hub.listen.addr)
		return 0;
	cw_ini_ip_str(c->admin.addr, ip);
	if (al >= hl)
		return cw_ini_fail(p, al, "listen", "%s:%u is also the [hub] listen address", ip,
				   c->admin.port);
	return cw_ini_fail(p, hl, "listen", "%s:%u is also the [admin] listen address", ip,
			   c->hub.listen.port);
}

static int finish(struct cw_ini *p)
{
	int rc;

	if ((rc = check_backoff(p)))
		return rc;
	return check_listeners(p);
}

static const struct cw_ini_schema cw_schema = {
    .sects = cw_sects,
    .n_sects = N_SECTS,
    .keys = cw_keys,
    .n_keys = N_KEYS,
    .open = open_section,
    .finish = finish,
};

/* ---- public ---- */

static void defaults(void *c)
{
	cw_agent_config_defaults(c);
}

int cw_agent_config_parse(struct cw_agent_config *c, const char *name, const char *text, char *err,
			  size_t errlen)
{
	return cw_ini_parse_struct(&cw_schema, c, sizeof(*c), defaults, name, text, err, errlen);
}

int cw_agent_config_load(struct cw_agent_config *c, const char *path, char *err, size_t errlen)
{
	return cw_ini_load_struct(&cw_schema, c, sizeof(*c), defaults, path, err, errlen);
}

void cw_agent_config_print(const struct cw_agent_config *c, FILE *out)
{
	fprintf(out, "# causeway-agent effective configuration\n");
	for (unsigned s = 0; s < N_SECTS; s++) {
		fprintf(out, "\n");
		cw_ini_print_section(&cw_schema, s, NULL, (const char *)c + cw_sect_off[s], out);
	}
}

bool cw_agent_dial_allowed(const struct cw_agent_dial_conf *d, const char *host, uint16_t port)
{
	struct cw_agent_endpoint want = {.port = port};

	snprintf(want.host, sizeof(want.host), "%s", *host ? host : LOOPBACK);
	for (uint32_t i = 0; i < d->n_allow && i < CW_AGENT_MAX_ALLOW; i++) {
		if (same_endpoint(&d->allow[i], &want))
			return true;
	}
	return false;
}
