/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causewayd's configuration schema on the INI engine (control/ini.h): its
 * key table, its defaults and the checks that need more than one key.
 *
 * The file is parsed into a scratch copy that only reaches the caller once
 * every check has passed: a bad file on SIGHUP leaves the running config as
 * it was.
 */
#include "control/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "control/ini.h"

#define CW_LCORE_MAX 1024 /* ids are < this, as EAL's RTE_MAX_LCORE may be */

_Static_assert(sizeof(enum cw_backend) == sizeof(uint32_t), "enums are stored as uint32_t");
_Static_assert(sizeof(enum cw_hugepages) == sizeof(uint32_t), "enums are stored as uint32_t");
_Static_assert(sizeof(enum cw_log_level) == sizeof(uint32_t), "enums are stored as uint32_t");
_Static_assert(sizeof(enum cw_retry_mode) == sizeof(uint32_t), "enums are stored as uint32_t");
_Static_assert(CW_NAME_LEN <= CW_INI_NAME_MAX, "port names fit the engine's instance names");

/* Matched in this order; printed in the order of cw_config_print(). */
enum cw_sect {
	SEC_EAL,
	SEC_DP,
	SEC_TUNNEL,
	SEC_INGRESS,
	SEC_ADMIN,
	SEC_UPSTREAM,
	SEC_HUB,
	SEC_ROUTE,
	SEC_LOG,
	SEC_PORT,
	N_SECTS
};

enum cw_key_id {
	K_EAL_LCORES,
	K_EAL_CPUS,
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
	K_TUN_PORT,
	K_TUN_CERT,
	K_TUN_KEY,
	K_TUN_CA,
	K_TUN_DICTIONARY,
	K_TUN_RESET_KEY,
	K_TUN_TICKET_KEYS,
	K_TUN_RETRY,
	K_TUN_RETRY_LOAD,
	K_TUN_MAX_SESSIONS,
	K_TUN_IDLE_TIMEOUT,
	K_TUN_HEARTBEAT,
	K_TUN_HS_THREADS,
	K_ING_LISTEN,
	K_ING_DIAL_TIMEOUT,
	K_ING_HEAD_TIMEOUT,
	K_ING_MAX_CLIENTS,
	K_ADM_LISTEN,
	K_UP_SERVER,
	K_UP_CA,
	K_UP_CERT,
	K_UP_KEY,
	K_UP_TOKEN_FILE,
	K_UP_TIMEOUT,
	K_UP_MAX_REQUESTS,
	K_HUB_STORE,
	K_HUB_RESOURCES,
	K_HUB_MAP_SIZE,
	K_HUB_HISTORY,
	K_ROUTE_RULE,
	K_ROUTE_DEFAULT,
	K_LOG_LEVEL,
	N_KEYS
};

static const char *const cw_huge_names[] = {"auto", "yes", "no"};
static const char *const cw_backend_names[] = {"dpdk", "socket"};
static const char *const cw_retry_names[] = {"never", "always", "under-load"};
static const char *const cw_level_names[] = {"error", "warning", "info", "debug"};

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

	while (cw_ini_is_digit(*q)) {
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

/* ---- value parsers for causewayd's own kinds of keys ---- */

static int parse_lcores(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	struct cw_lcores l;
	char why[160];

	if (lcores_parse(&l, val, why, sizeof(why)))
		return cw_ini_fail(p, cw_ini_line(p), k->name, "%s", why);
	return cw_ini_parse_str(p, k, base, val);
}

/* "" or a CPU list in the syntax of lcores. */
static int parse_cpus(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	return *val ? parse_lcores(p, k, base, val) : cw_ini_parse_str(p, k, base, val);
}

static int parse_workers(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	struct cw_dataplane_conf *dp = base;
	struct cw_lcores l;
	char why[160];

	if (lcores_parse(&l, val, why, sizeof(why)))
		return cw_ini_fail(p, cw_ini_line(p), k->name, "%s", why);
	if (l.n > CW_MAX_WORKERS)
		return cw_ini_fail(p, cw_ini_line(p), k->name, "%u lcores listed, at most %u", l.n,
				   CW_MAX_WORKERS);
	memset(dp->workers, 0, sizeof(dp->workers));
	memcpy(dp->workers, l.ids, l.n * sizeof(l.ids[0]));
	dp->n_workers = l.n;
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

	if (cw_ini_parse_dec(s, &v) || v < 1 || v > 32)
		return -EINVAL;
	*len = (unsigned)v;
	return 0;
}

/* Two ports answering ARP for one address would split its traffic. */
static int addr_taken(struct cw_ini *p, const struct cw_ini_key *k, uint32_t a)
{
	const struct cw_config *c = cw_ini_ctx(p);
	unsigned me = cw_ini_index(p);
	char ip[16];

	for (unsigned i = 0; i < me; i++) {
		if (c->ports[i].addr == a)
			return cw_ini_fail(p, cw_ini_line(p), k->name,
					   "%s is already used by port '%s'", cw_ini_ip_str(a, ip),
					   c->ports[i].name);
	}
	return 0;
}

static int parse_cidr(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	struct cw_port_conf *port = base;
	const char *end, *why;
	unsigned len;
	uint32_t a;
	char ip[16];

	if (cw_ini_parse_ip(val, &end, &a) || (*end && *end != '/'))
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "'%s' is not an IPv4 address like 192.0.2.1/24", val);
	if (!*end)
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "'%s' has no prefix length: expected a.b.c.d/len", val);
	if (parse_prefix(end + 1, &len))
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "prefix length '%s' is out of range 1..32", end + 1);
	if ((why = host_problem(a, len)))
		return cw_ini_fail(p, cw_ini_line(p), k->name, "%s %s", cw_ini_ip_str(a, ip), why);
	port->addr = a;
	port->prefix_len = (uint8_t)len;
	return addr_taken(p, k, a);
}

/* ---- value printers: "key = value" that the parsers read back ---- */

/* 0 means "no gateway", which has no value syntax: leave the key out. */
static void print_gateway(const struct cw_ini_key *k, const void *base, FILE *out)
{
	if (cw_ini_load_uint(cw_ini_cfield(base, k), k->size))
		cw_ini_print_ipv4(k, base, out);
	else
		fprintf(out, "# %s: none\n", k->name);
}

static void print_cidr(const struct cw_ini_key *k, const void *base, FILE *out)
{
	const struct cw_port_conf *port = base;
	char ip[16];

	fprintf(out, "%s = %s/%u\n", k->name, cw_ini_ip_str(port->addr, ip), port->prefix_len);
}

static void print_workers(const struct cw_ini_key *k, const void *base, FILE *out)
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

/* ---- route rules: "METHODS PATTERN ACTION", in file order ---- */

static int parse_rule(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	struct cw_route_conf *rc = base;
	char why[384];

	if (rc->n_rules == CW_ROUTE_MAX_RULES)
		return cw_ini_fail(p, cw_ini_line(p), k->name, "more than %d rules",
				   CW_ROUTE_MAX_RULES);
	if (cw_route_parse_rule(val, &rc->rules[rc->n_rules], why, sizeof(why)))
		return cw_ini_fail(p, cw_ini_line(p), k->name, "%s", why);
	rc->n_rules++;
	return 0;
}

static void print_rules(const struct cw_ini_key *k, const void *base, FILE *out)
{
	const struct cw_route_conf *rc = base;
	char buf[CW_ROUTE_PATTERN_MAX + 96];

	for (uint32_t i = 0; i < rc->n_rules; i++) {
		cw_route_format_rule(&rc->rules[i], buf, sizeof(buf));
		fprintf(out, "%s = %s\n", k->name, buf);
	}
}

/* "" or http(s)://HOST[:PORT], nothing after: paths are the agents'. */
static int parse_server(struct cw_ini *p, const struct cw_ini_key *k, void *base, const char *val)
{
	const char *host = !strncmp(val, "https://", 8)	 ? val + 8
			   : !strncmp(val, "http://", 7) ? val + 7
							 : NULL;

	if (!*val)
		return cw_ini_parse_str(p, k, base, val);
	if (!host || !*host || strpbrk(host, "/?# \t"))
		return cw_ini_fail(p, cw_ini_line(p), k->name,
				   "'%s' is not http://HOST[:PORT] or https://HOST[:PORT]", val);
	return cw_ini_parse_str(p, k, base, val);
}

/* "/api/v1/RES" or "/apis/GROUP/VERSION/RES", comma-separated. */
static int parse_resources(struct cw_ini *p, const struct cw_ini_key *k, void *base,
			   const char *val)
{
	struct cw_hub_conf *h = base;
	char tmp[CW_HUB_RESOURCES_MAX * CW_HUB_PATH_LEN], *save, *tok;
	uint32_t n = 0;

	if (strlen(val) >= sizeof(tmp))
		return cw_ini_fail(p, cw_ini_line(p), k->name, "too long");
	strcpy(tmp, val);
	for (tok = strtok_r(tmp, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (n == CW_HUB_RESOURCES_MAX)
			return cw_ini_fail(p, cw_ini_line(p), k->name, "more than %d resources",
					   CW_HUB_RESOURCES_MAX);
		if ((strncmp(tok, "/api/v1/", 8) && strncmp(tok, "/apis/", 6)) ||
		    strlen(tok) >= CW_HUB_PATH_LEN)
			return cw_ini_fail(
			    p, cw_ini_line(p), k->name,
			    "'%s' is not /api/v1/RESOURCE or /apis/GROUP/VERSION/RESOURCE", tok);
		strcpy(h->resources[n++], tok);
	}
	h->n_resources = n;
	return 0;
}

static void print_resources(const struct cw_ini_key *k, const void *base, FILE *out)
{
	const struct cw_hub_conf *h = base;

	fprintf(out, "%s =", k->name);
	for (uint32_t i = 0; i < h->n_resources; i++)
		fprintf(out, "%s %s", i ? "," : "", h->resources[i]);
	fprintf(out, "\n");
}

/* ---- the key table ---- */

#define EAL(f)	CW_INI_FIELD(struct cw_eal_conf, f)
#define PORT(f) CW_INI_FIELD(struct cw_port_conf, f)
#define DP(f)	CW_INI_FIELD(struct cw_dataplane_conf, f)
#define LOG(f)	CW_INI_FIELD(struct cw_log_conf, f)
#define TUN(f)	CW_INI_FIELD(struct cw_tunnel_conf, f)
#define ING(f)	CW_INI_FIELD(struct cw_ingress_conf, f)
#define ADM(f)	CW_INI_FIELD(struct cw_admin_conf, f)
#define UP(f)	CW_INI_FIELD(struct cw_upstream_conf, f)
#define HUB(f)	CW_INI_FIELD(struct cw_hub_conf, f)
#define RT(f)	CW_INI_FIELD(struct cw_route_conf, f)
/* An optional absolute path (a row by hand: OTHER would see fld's comma). */
#define PATH(sect, name, fld)                                                                      \
	{                                                                                          \
		sect, name, cw_ini_parse_path, cw_ini_print_str, fld, 0, 0, NULL, true, false,     \
		    false                                                                          \
	}
#define NUM    CW_INI_NUM
#define POW2   CW_INI_POW2
#define ENUM   CW_INI_ENUM
#define OTHER  CW_INI_OTHER
#define NEEDED CW_INI_REQUIRED
/* clang-format off */
static const struct cw_ini_key cw_keys[N_KEYS] = {
	[K_EAL_LCORES]		= OTHER(SEC_EAL, "lcores", parse_lcores, cw_ini_print_str,
					EAL(lcores), false),
	[K_EAL_CPUS]		= OTHER(SEC_EAL, "cpus", parse_cpus, cw_ini_print_str, EAL(cpus),
					true),
	[K_EAL_MEMORY]		= NUM(SEC_EAL, "memory", EAL(memory_mb), 0, 1048576),
	[K_EAL_HUGEPAGES]	= ENUM(SEC_EAL, "hugepages", EAL(hugepages), cw_huge_names),
	[K_EAL_FILE_PREFIX]	= OTHER(SEC_EAL, "file_prefix", cw_ini_parse_ident, cw_ini_print_str,
					EAL(file_prefix), false),
	[K_EAL_EXTRA_ARGS]	= OTHER(SEC_EAL, "extra_args", cw_ini_parse_str, cw_ini_print_str,
					EAL(extra_args), true),

	[K_PORT_DEVICE]		= NEEDED(SEC_PORT, "device", cw_ini_parse_str, cw_ini_print_str,
					 PORT(device)),
	[K_PORT_ADDRESS]	= NEEDED(SEC_PORT, "address", parse_cidr, print_cidr,
					 PORT(addr)),
	[K_PORT_GATEWAY]	= OTHER(SEC_PORT, "gateway", cw_ini_parse_ipv4, print_gateway,
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
	[K_DP_SOCKET_ADDRESS]	= OTHER(SEC_DP, "socket_address", cw_ini_parse_ipv4, cw_ini_print_ipv4,
					DP(socket_addr), false),
	[K_DP_NEIGH_TIMEOUT]	= NUM(SEC_DP, "neigh_timeout", DP(neigh_timeout), 1, 86400),
	[K_DP_FRAG_TIMEOUT]	= NUM(SEC_DP, "frag_timeout", DP(frag_timeout_ms), 10, 60000),
	[K_DP_FRAG_MAX_ENTRIES]	= NUM(SEC_DP, "frag_max_entries", DP(frag_max_entries),
				      1, 1048576),
	[K_DP_MBUF_SIZE]	= NUM(SEC_DP, "mbuf_size", DP(mbuf_size), 1024, 65000),

	[K_TUN_PORT]		= NUM(SEC_TUNNEL, "port", TUN(port), 0, 65535),
	[K_TUN_CERT]		= PATH(SEC_TUNNEL, "cert", TUN(cert)),
	[K_TUN_KEY]		= PATH(SEC_TUNNEL, "key", TUN(key)),
	[K_TUN_CA]		= PATH(SEC_TUNNEL, "ca", TUN(ca)),
	[K_TUN_DICTIONARY]	= PATH(SEC_TUNNEL, "dictionary", TUN(dictionary)),
	[K_TUN_RESET_KEY]	= PATH(SEC_TUNNEL, "reset_key", TUN(reset_key)),
	[K_TUN_TICKET_KEYS]	= PATH(SEC_TUNNEL, "ticket_keys", TUN(ticket_keys)),
	[K_TUN_RETRY]		= ENUM(SEC_TUNNEL, "retry", TUN(retry), cw_retry_names),
	[K_TUN_RETRY_LOAD]	= NUM(SEC_TUNNEL, "retry_load", TUN(retry_load), 1, 1000000),
	[K_TUN_MAX_SESSIONS]	= NUM(SEC_TUNNEL, "max_sessions", TUN(max_sessions), 1, 16777215),
	[K_TUN_IDLE_TIMEOUT]	= NUM(SEC_TUNNEL, "idle_timeout", TUN(idle_timeout_ms), 10000, 600000),
	[K_TUN_HEARTBEAT]	= NUM(SEC_TUNNEL, "heartbeat_interval", TUN(heartbeat_interval_s),
				      10, 86400),
	[K_TUN_HS_THREADS]	= NUM(SEC_TUNNEL, "handshake_threads", TUN(handshake_threads), 0,
				      CW_MAX_HS_THREADS),

	[K_ING_LISTEN]		= OTHER(SEC_INGRESS, "listen", cw_ini_parse_listen, cw_ini_print_listen,
					ING(listen), true),
	[K_ING_DIAL_TIMEOUT]	= NUM(SEC_INGRESS, "dial_timeout", ING(dial_timeout_ms), 100, 120000),
	[K_ING_HEAD_TIMEOUT]	= NUM(SEC_INGRESS, "head_timeout", ING(head_timeout_ms), 100, 120000),
	[K_ING_MAX_CLIENTS]	= NUM(SEC_INGRESS, "max_clients", ING(max_clients), 1, 1000000),

	[K_ADM_LISTEN]		= OTHER(SEC_ADMIN, "listen", cw_ini_parse_listen, cw_ini_print_listen,
					ADM(listen), true),

	[K_ROUTE_RULE]		= {SEC_ROUTE, "rule", parse_rule, print_rules, RT(rules), 0, 0, NULL,
				   false, false, true},
	[K_ROUTE_DEFAULT]	= ENUM(SEC_ROUTE, "default", RT(default_action),
				       cw_route_action_names),

	[K_LOG_LEVEL]		= ENUM(SEC_LOG, "level", LOG(level), cw_level_names),

	[K_UP_SERVER]		= OTHER(SEC_UPSTREAM, "server", parse_server, cw_ini_print_str,
					UP(server), true),
	[K_UP_CA]		= PATH(SEC_UPSTREAM, "ca", UP(ca)),
	[K_UP_CERT]		= PATH(SEC_UPSTREAM, "cert", UP(cert)),
	[K_UP_KEY]		= PATH(SEC_UPSTREAM, "key", UP(key)),
	[K_UP_TOKEN_FILE]	= PATH(SEC_UPSTREAM, "token_file", UP(token_file)),
	[K_UP_TIMEOUT]		= NUM(SEC_UPSTREAM, "timeout", UP(timeout_ms), 100, 600000),
	[K_UP_MAX_REQUESTS]	= NUM(SEC_UPSTREAM, "max_requests", UP(max_requests), 1, 100000),

	[K_HUB_STORE]		= PATH(SEC_HUB, "store", HUB(store)),
	[K_HUB_RESOURCES]	= OTHER(SEC_HUB, "resources", parse_resources, print_resources,
					HUB(resources), true),
	[K_HUB_MAP_SIZE]	= NUM(SEC_HUB, "map_size", HUB(map_size_mb), 16, 1048576),
	[K_HUB_HISTORY]		= NUM(SEC_HUB, "history", HUB(history), 100, 10000000),
};
/* clang-format on */

static const struct cw_ini_sect cw_sects[N_SECTS] = {
    [SEC_EAL] = {"eal", 0, 0},	     [SEC_DP] = {"dataplane", 0, 0},
    [SEC_TUNNEL] = {"tunnel", 0, 0}, [SEC_INGRESS] = {"ingress", 0, 0},
    [SEC_ADMIN] = {"admin", 0, 0},   [SEC_UPSTREAM] = {"upstream", 0, 0},
    [SEC_HUB] = {"hub", 0, 0},	     [SEC_ROUTE] = {"route", 0, 0},
    [SEC_LOG] = {"log", 0, 0},	     [SEC_PORT] = {"port", CW_MAX_PORTS, CW_NAME_LEN - 1},
};

/* ---- defaults ---- */

/* What kubelet and kube-proxy read; leases and events are written. */
static void hub_defaults(struct cw_hub_conf *h)
{
	static const char *const res[] = {
	    "/api/v1/pods",	  "/api/v1/nodes",   "/api/v1/services",
	    "/api/v1/configmaps", "/api/v1/secrets", "/apis/discovery.k8s.io/v1/endpointslices"};

	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++)
		strcpy(h->resources[i], res[i]);
	h->n_resources = sizeof(res) / sizeof(res[0]);
}

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
	c->tunnel.retry = CW_RETRY_MODE_UNDER_LOAD;
	c->tunnel.retry_load = 256;
	c->tunnel.max_sessions = 65536;
	c->tunnel.idle_timeout_ms = 90000;
	c->tunnel.heartbeat_interval_s = 600;
	c->tunnel.handshake_threads = 1;
	c->upstream.timeout_ms = 30000;
	c->upstream.max_requests = 1024;
	c->hub.map_size_mb = 4096;
	c->hub.history = 100000;
	hub_defaults(&c->hub);
	c->ingress.listen.addr = htonl(INADDR_LOOPBACK);
	c->ingress.listen.port = 10265;
	c->ingress.dial_timeout_ms = 10000;
	c->ingress.head_timeout_ms = 10000;
	c->ingress.max_clients = 4096;
	c->admin.listen.addr = htonl(INADDR_LOOPBACK);
	c->admin.listen.port = 10267;
	c->route.default_action = CW_ROUTE_UPSTREAM;
	c->log.level = CW_LOG_INFO;
}

/* ---- sections ---- */

/*
 * Checks that need the whole [port NAME] section, at its end (the engine
 * has already seen to its required keys).
 */
static int close_port(struct cw_ini *p, unsigned idx, struct cw_port_conf *port)
{
	unsigned gl = cw_ini_key_line(p, idx, K_PORT_GATEWAY);
	const char *why;
	char ip[16];

	if (!gl)
		return 0;
	cw_ini_ip_str(port->gateway, ip);
	if ((port->gateway ^ port->addr) & mask_of(port->prefix_len))
		return cw_ini_fail(p, gl, "gateway", "%s is outside the port's subnet", ip);
	if (port->gateway == port->addr)
		return cw_ini_fail(p, gl, "gateway", "%s is the port's own address", ip);
	if ((why = host_problem(port->gateway, port->prefix_len)))
		return cw_ini_fail(p, gl, "gateway", "%s %s", ip, why);
	return 0;
}

/* A tunnel cannot start without its certificate, key and CA. */
static int close_tunnel(struct cw_ini *p, const struct cw_tunnel_conf *t)
{
	static const struct {
		unsigned key;
		const char *name;
	} need[] = {{K_TUN_CERT, "cert"}, {K_TUN_KEY, "key"}, {K_TUN_CA, "ca"}};
	const char *val[] = {t->cert, t->key, t->ca};

	if (!t->port)
		return 0;
	for (unsigned i = 0; i < 3; i++)
		if (!*val[i])
			return cw_ini_fail(p, cw_ini_sect_line(p, SEC_TUNNEL, 0), need[i].name,
					   "required when port is set");
	return 0;
}

static int close_section(struct cw_ini *p, unsigned sect, unsigned idx, void *base)
{
	if (sect == SEC_TUNNEL)
		return close_tunnel(p, base);
	return sect == SEC_PORT ? close_port(p, idx, base) : 0;
}

/* The struct of a section; a new [port NAME] starts from its defaults. */
static void *open_section(void *ctx, unsigned sect, unsigned idx, const char *name)
{
	struct cw_config *c = ctx;

	switch (sect) {
	case SEC_EAL:
		return &c->eal;
	case SEC_DP:
		return &c->dp;
	case SEC_TUNNEL:
		return &c->tunnel;
	case SEC_INGRESS:
		return &c->ingress;
	case SEC_ADMIN:
		return &c->admin;
	case SEC_UPSTREAM:
		return &c->upstream;
	case SEC_HUB:
		return &c->hub;
	case SEC_ROUTE:
		return &c->route;
	case SEC_LOG:
		return &c->log;
	default:
		port_defaults(&c->ports[idx]);
		strcpy(c->ports[idx].name, name);
		c->n_ports = idx + 1;
		return &c->ports[idx];
	}
}

/* ---- whole-file checks ---- */

static int default_workers(struct cw_ini *p, const struct cw_lcores *l)
{
	struct cw_config *c = cw_ini_ctx(p);
	struct cw_dataplane_conf *dp = &c->dp;
	unsigned line = cw_ini_key_line(p, 0, K_EAL_LCORES);

	if (l->n < 2)
		return cw_ini_fail(p, line, "lcores",
				   "'%s' leaves no worker lcore: the first lcore is the main lcore",
				   c->eal.lcores);
	if (l->n - 1 > CW_MAX_WORKERS)
		return cw_ini_fail(p, line, "lcores", "'%s' gives %u worker lcores, at most %u",
				   c->eal.lcores, l->n - 1, CW_MAX_WORKERS);
	memset(dp->workers, 0, sizeof(dp->workers));
	memcpy(dp->workers, l->ids + 1, (l->n - 1) * sizeof(l->ids[0]));
	dp->n_workers = l->n - 1;
	return 0;
}

/* Workers are checked against [eal] lcores, which may come later in the file. */
static int check_workers(struct cw_ini *p)
{
	const struct cw_config *c = cw_ini_ctx(p);
	const struct cw_dataplane_conf *dp = &c->dp;
	unsigned line = cw_ini_key_line(p, 0, K_DP_WORKERS);
	struct cw_lcores l;
	char why[160];

	if (lcores_parse(&l, c->eal.lcores, why, sizeof(why)))
		return cw_ini_fail(p, 0, "lcores", "%s", why); /* defaults are valid */
	if (!line)
		return default_workers(p, &l);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		uint32_t w = dp->workers[i];

		if (w == l.ids[0])
			return cw_ini_fail(p, line, "workers",
					   "lcore %u is the main lcore (the first of [eal] lcores)",
					   w);
		if (!l.has[w])
			return cw_ini_fail(p, line, "workers",
					   "lcore %u is not in [eal] lcores '%s'", w,
					   c->eal.lcores);
	}
	return 0;
}

static int finish(struct cw_ini *p)
{
	const struct cw_config *c = cw_ini_ctx(p);
	int rc;

	if ((rc = check_workers(p)))
		return rc;
	if (c->dp.backend == CW_BACKEND_DPDK && !c->n_ports)
		return cw_ini_fail(p, 0, NULL,
				   "backend 'dpdk' needs at least one [port NAME] section");
	return 0;
}

static const struct cw_ini_schema cw_schema = {
    .sects = cw_sects,
    .n_sects = N_SECTS,
    .keys = cw_keys,
    .n_keys = N_KEYS,
    .open = open_section,
    .close = close_section,
    .finish = finish,
};

static void defaults(void *c)
{
	cw_config_defaults(c);
}

int cw_config_parse(struct cw_config *c, const char *name, const char *text, char *err,
		    size_t errlen)
{
	return cw_ini_parse_struct(&cw_schema, c, sizeof(*c), defaults, name, text, err, errlen);
}

int cw_config_load(struct cw_config *c, const char *path, char *err, size_t errlen)
{
	return cw_ini_load_struct(&cw_schema, c, sizeof(*c), defaults, path, err, errlen);
}

/* ---- printing ---- */

void cw_config_print(const struct cw_config *c, FILE *out)
{
	unsigned n = c->n_ports < CW_MAX_PORTS ? c->n_ports : CW_MAX_PORTS;

	fprintf(out, "# causewayd effective configuration\n\n");
	cw_ini_print_section(&cw_schema, SEC_EAL, NULL, &c->eal, out);
	for (unsigned i = 0; i < n; i++) {
		fprintf(out, "\n");
		cw_ini_print_section(&cw_schema, SEC_PORT, c->ports[i].name, &c->ports[i], out);
	}
	fprintf(out, "\n");
	cw_ini_print_section(&cw_schema, SEC_DP, NULL, &c->dp, out);
	fprintf(out, "\n");
	cw_ini_print_section(&cw_schema, SEC_TUNNEL, NULL, &c->tunnel, out);
	fprintf(out, "\n");
	cw_ini_print_section(&cw_schema, SEC_INGRESS, NULL, &c->ingress, out);
	fprintf(out, "\n");
	cw_ini_print_section(&cw_schema, SEC_ADMIN, NULL, &c->admin, out);
	fprintf(out, "\n");
	cw_ini_print_section(&cw_schema, SEC_UPSTREAM, NULL, &c->upstream, out);
	fprintf(out, "\n");
	cw_ini_print_section(&cw_schema, SEC_HUB, NULL, &c->hub, out);
	fprintf(out, "\n");
	cw_ini_print_section(&cw_schema, SEC_ROUTE, NULL, &c->route, out);
	fprintf(out, "\n");
	cw_ini_print_section(&cw_schema, SEC_LOG, NULL, &c->log, out);
}
