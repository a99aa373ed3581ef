/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control/agent_config.c: every key, every kind of error with its exact
 * FILE:LINE message, the print -> parse round trip, and conf/agent.conf
 * documenting exactly the defaults.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "control/agent_config.h"

/* The one key without a default: line 1..2 of most test texts. */
#define GW "[gateway]\naddress = gw.example.net\n"

static char err[CW_AGENT_CONF_ERR_LEN];

static int parse(struct cw_agent_config *c, const char *text)
{
	err[0] = '\0';
	return cw_agent_config_parse(c, "t.conf", text, err, sizeof(err));
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void expect_error(const char *text, const char *msg)
{
	struct cw_agent_config c;
	int rc = parse(&c, text);

	if (rc != -EINVAL || strcmp(err, msg))
		print_error("text:\n%s\n", text);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, msg);
}

static void expect_ok(struct cw_agent_config *c, const char *text)
{
	int rc = parse(c, text);

	if (rc)
		print_error("unexpected error: %s\ntext:\n%s\n", err, text);
	assert_int_equal(rc, 0);
}

static char *print_text(const struct cw_agent_config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	cw_agent_config_print(c, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* Print @c, parse it back: the same bytes, and printing is a fixed point. */
static void assert_round_trip(const struct cw_agent_config *c)
{
	struct cw_agent_config *back = malloc(sizeof(*back));
	char *text = print_text(c), *again;

	assert_non_null(back);
	memset(back, 0xa5, sizeof(*back));
	expect_ok(back, text);
	assert_memory_equal(back, c, sizeof(*back));
	again = print_text(back);
	assert_string_equal(again, text);
	free(text);
	free(again);
	free(back);
}

static void set_endpoint(struct cw_agent_endpoint *e, const char *host, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	strcpy(e->host, host);
	e->port = port;
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	struct cw_agent_config c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	cw_agent_config_defaults(&c);
	assert_string_equal(c.agent.node_name, "");
	assert_string_equal(c.agent.pool, "");
	assert_int_equal(c.agent.n_labels, 0);
	assert_string_equal(c.agent.cache_dir, "/var/lib/causeway/cache");
	assert_string_equal(c.agent.dictionary, "");
	assert_int_equal(c.gateway.n_addrs, 0);
	assert_string_equal(c.gateway.server_name, "");
	assert_string_equal(c.gateway.ca_file, "/etc/causeway/ca.crt");
	assert_string_equal(c.tls.cert_file, "/etc/causeway/agent.crt");
	assert_string_equal(c.tls.key_file, "/etc/causeway/agent.key");
	assert_string_equal(c.tls.ticket_file, "/var/lib/causeway/ticket");
	assert_int_equal(c.dial.n_allow, 3);
	assert_string_equal(c.dial.allow[0].host, "127.0.0.1");
	assert_int_equal(c.dial.allow[0].port, 10250);
	assert_string_equal(c.dial.allow[1].host, "127.0.0.1");
	assert_int_equal(c.dial.allow[1].port, 10255);
	assert_string_equal(c.dial.allow[2].host, "127.0.0.1");
	assert_int_equal(c.dial.allow[2].port, 9100);
	assert_int_equal(c.dial.connect_timeout_ms, 10000);
	assert_int_equal(c.admin.addr, ip("127.0.0.1"));
	assert_int_equal(c.admin.port, 10263);
	assert_int_equal(c.hub.listen.addr, ip("127.0.0.1"));
	assert_int_equal(c.hub.listen.port, 10261);
	assert_int_equal(c.hub.queue_max_entries, 10000);
	assert_int_equal(c.hub.queue_max_mb, 64);
	/* PROTOCOL.md §11.1 and Appendix A */
	assert_int_equal(c.keepalive.idle_timeout_ms, 90000);
	assert_int_equal(c.keepalive.interval_ms, 25000);
	assert_int_equal(c.keepalive.heartbeat_interval_s, 600);
	/* PROTOCOL.md §11.6 */
	assert_int_equal(c.reconnect.initial_ms, 1000);
	assert_int_equal(c.reconnect.max_ms, 60000);
	assert_int_equal(c.reconnect.jitter, CW_AGENT_JITTER_FULL);
	assert_int_equal(c.reconnect.reset_after_ms, 60000);
	assert_int_equal(c.log_level, CW_AGENT_LOG_INFO);
}

static void test_minimal_file(void **state)
{
	struct cw_agent_config c, want;

	(void)state;
	cw_agent_config_defaults(&want);
	set_endpoint(&want.gateway.addrs[0], "gw.example.net", CW_AGENT_GATEWAY_PORT);
	want.gateway.n_addrs = 1;
	memset(&c, 0xa5, sizeof(c));
	expect_ok(&c, GW);
	assert_memory_equal(&c, &want, sizeof(c));
	assert_round_trip(&c);
}

/* The example file documents exactly the defaults (and one gateway). */
static void test_example_file(void **state)
{
	const char *path = CW_SOURCE_ROOT "/conf/agent.conf";
	struct cw_agent_config c, want;

	(void)state;
	cw_agent_config_defaults(&want);
	set_endpoint(&want.gateway.addrs[0], "gateway.example.net", 10262);
	want.gateway.n_addrs = 1;
	err[0] = '\0';
	if (cw_agent_config_load(&c, path, err, sizeof(err)))
		print_error("%s\n", err);
	assert_int_equal(cw_agent_config_load(&c, path, err, sizeof(err)), 0);
	assert_memory_equal(&c, &want, sizeof(c));
	assert_round_trip(&c);
}

static const char full[] = "[agent]\n"
			   "node_name = edge-0042.room-a\n"
			   "pool = room-a\n"
			   "labels = topology.kubernetes.io/zone=room-a, causeway.io/rack=r12,"
			   "plain=, x=Y_1.z\n"
			   "cache_dir = /srv/cw/cache\n"
			   "dictionary = /etc/causeway/causeway.dict\n"
			   "[gateway]\n"
			   "address = gw1.example.net, 192.0.2.10:443\n"
			   "address = [2001:db8::1]:10000\n"
			   "server_name = gw.example.net\n"
			   "ca_file = /srv/cw/ca.pem\n"
			   "[tls]\n"
			   "cert_file = /srv/cw/node.pem\n"
			   "key_file = /srv/cw/node.key\n"
			   "ticket_file =\n"
			   "[dial]\n"
			   "allow = 10250, 10.1.2.3:9100, node-exporter.local:9101, [::1]:8080\n"
			   "connect_timeout_ms = 2500\n"
			   "[admin]\n"
			   "listen = 0.0.0.0:9999\n"
			   "[hub]\n"
			   "listen =\n"
			   "queue_max_entries = 1\n"
			   "queue_max_mb = 4096\n"
			   "[keepalive]\n"
			   "idle_timeout_ms = 30000\n"
			   "interval_ms = 5000\n"
			   "heartbeat_interval_s = 60\n"
			   "[reconnect]\n"
			   "initial_ms = 500\n"
			   "max_ms = 30000\n"
			   "jitter = none\n"
			   "reset_after_ms = 120000\n"
			   "[log]\n"
			   "level = debug\n";

static void test_full_file(void **state)
{
	struct cw_agent_config c;

	(void)state;
	expect_ok(&c, full);
	assert_string_equal(c.agent.node_name, "edge-0042.room-a");
	assert_string_equal(c.agent.pool, "room-a");
	assert_int_equal(c.agent.n_labels, 4);
	assert_string_equal(c.agent.labels[0].key, "topology.kubernetes.io/zone");
	assert_string_equal(c.agent.labels[0].value, "room-a");
	assert_string_equal(c.agent.labels[1].key, "causeway.io/rack");
	assert_string_equal(c.agent.labels[1].value, "r12");
	assert_string_equal(c.agent.labels[2].key, "plain");
	assert_string_equal(c.agent.labels[2].value, "");
	assert_string_equal(c.agent.labels[3].key, "x");
	assert_string_equal(c.agent.labels[3].value, "Y_1.z");
	assert_string_equal(c.agent.cache_dir, "/srv/cw/cache");
	assert_string_equal(c.agent.dictionary, "/etc/causeway/causeway.dict");
	/* both lines add up, in file order; the default port fills in */
	assert_int_equal(c.gateway.n_addrs, 3);
	assert_string_equal(c.gateway.addrs[0].host, "gw1.example.net");
	assert_int_equal(c.gateway.addrs[0].port, 10262);
	assert_string_equal(c.gateway.addrs[1].host, "192.0.2.10");
	assert_int_equal(c.gateway.addrs[1].port, 443);
	assert_string_equal(c.gateway.addrs[2].host, "2001:db8::1");
	assert_int_equal(c.gateway.addrs[2].port, 10000);
	assert_string_equal(c.gateway.server_name, "gw.example.net");
	assert_string_equal(c.gateway.ca_file, "/srv/cw/ca.pem");
	assert_string_equal(c.tls.cert_file, "/srv/cw/node.pem");
	assert_string_equal(c.tls.key_file, "/srv/cw/node.key");
	assert_string_equal(c.tls.ticket_file, "");
	assert_int_equal(c.dial.n_allow, 4);
	assert_string_equal(c.dial.allow[0].host, "127.0.0.1");
	assert_int_equal(c.dial.allow[0].port, 10250);
	assert_string_equal(c.dial.allow[1].host, "10.1.2.3");
	assert_int_equal(c.dial.allow[1].port, 9100);
	assert_string_equal(c.dial.allow[2].host, "node-exporter.local");
	assert_int_equal(c.dial.allow[2].port, 9101);
	assert_string_equal(c.dial.allow[3].host, "::1");
	assert_int_equal(c.dial.allow[3].port, 8080);
	assert_int_equal(c.dial.connect_timeout_ms, 2500);
	assert_int_equal(c.admin.addr, ip("0.0.0.0"));
	assert_int_equal(c.admin.port, 9999);
	assert_int_equal(c.hub.listen.addr, 0);
	assert_int_equal(c.hub.listen.port, 0);
	assert_int_equal(c.hub.queue_max_entries, 1);
	assert_int_equal(c.hub.queue_max_mb, 4096);
	assert_int_equal(c.keepalive.idle_timeout_ms, 30000);
	assert_int_equal(c.keepalive.interval_ms, 5000);
	assert_int_equal(c.keepalive.heartbeat_interval_s, 60);
	assert_int_equal(c.reconnect.initial_ms, 500);
	assert_int_equal(c.reconnect.max_ms, 30000);
	assert_int_equal(c.reconnect.jitter, CW_AGENT_JITTER_NONE);
	assert_int_equal(c.reconnect.reset_after_ms, 120000);
	assert_int_equal(c.log_level, CW_AGENT_LOG_DEBUG);
	assert_round_trip(&c);
}

static void test_print_text(void **state)
{
	static const char want[] = "# causeway-agent effective configuration\n"
				   "\n[agent]\n"
				   "node_name =\n"
				   "pool =\n"
				   "labels =\n"
				   "cache_dir = /var/lib/causeway/cache\n"
				   "dictionary =\n"
				   "\n[gateway]\n"
				   "address = gw.example.net:10262\n"
				   "server_name =\n"
				   "ca_file = /etc/causeway/ca.crt\n"
				   "\n[tls]\n"
				   "cert_file = /etc/causeway/agent.crt\n"
				   "key_file = /etc/causeway/agent.key\n"
				   "ticket_file = /var/lib/causeway/ticket\n"
				   "\n[dial]\n"
				   "allow = 127.0.0.1:10250, 127.0.0.1:10255, 127.0.0.1:9100\n"
				   "connect_timeout_ms = 10000\n"
				   "\n[admin]\n"
				   "listen = 127.0.0.1:10263\n"
				   "\n[hub]\n"
				   "listen = 127.0.0.1:10261\n"
				   "queue_max_entries = 10000\n"
				   "queue_max_mb = 64\n"
				   "\n[keepalive]\n"
				   "idle_timeout_ms = 90000\n"
				   "interval_ms = 25000\n"
				   "heartbeat_interval_s = 600\n"
				   "\n[reconnect]\n"
				   "initial_ms = 1000\n"
				   "max_ms = 60000\n"
				   "jitter = full\n"
				   "reset_after_ms = 60000\n"
				   "\n[log]\n"
				   "level = info\n";
	struct cw_agent_config c;
	char *text;

	(void)state;
	expect_ok(&c, GW);
	text = print_text(&c);
	assert_string_equal(text, want);
	free(text);
}

/* ---- errors: one row per kind, with its exact message ---- */

struct error_case {
	const char *text, *msg;
};

/* clang-format off */
static const struct error_case errors[] = {
	/* lines and sections: the engine, as for causewayd */
	{"[agent\n", "t.conf:1: missing ']'"},
	{"[agent] x\n", "t.conf:1: unexpected text after ']'"},
	{"[agents]\n", "t.conf:1: unknown section 'agents'"},
	{"[agent foo]\n", "t.conf:1: unknown section 'agent foo'"},
	{GW "[gateway]\n", "t.conf:3: duplicate section [gateway]"},
	{"pool = a\n", "t.conf:1: key outside any section"},
	{GW "[agent]\nname\n", "t.conf:4: expected 'key = value'"},
	{GW "[agent]\n= x\n", "t.conf:4: expected 'key = value'"},
	{GW "[agent]\nfoo = 1\n", "t.conf:4: key 'foo': unknown key in section [agent]"},
	{GW "[hub]\nlevel = info\n", "t.conf:4: key 'level': unknown key in section [hub]"},
	{GW "[agent]\npool = a\npool = b\n", "t.conf:5: key 'pool': duplicate key"},
	{GW "[agent]\ncache_dir =\n", "t.conf:4: key 'cache_dir': missing value"},
	{GW "[agent]\ncache_dir = # none\n", "t.conf:4: key 'cache_dir': missing value"},
	{GW "[log]\nlevel = info\x01\n", "t.conf:4: control character 0x01 in line"},
	/* the required gateway */
	{"[agent]\n", "t.conf: missing key 'address' in section [gateway]"},
	{"", "t.conf: missing key 'address' in section [gateway]"},
	{"[agent]\n[gateway]\nca_file = /ca\n",
	 "t.conf:2: missing key 'address' in section [gateway]"},
	{"[gateway]\naddress =\n", "t.conf:2: key 'address': missing value"},
	/* names */
	{GW "[agent]\nnode_name = Edge-1\n",
	 "t.conf:4: key 'node_name': 'Edge-1' is not a valid Kubernetes name: at most 253 "
	 "characters of a-z 0-9 - ., each dot-separated part starting and ending with a-z or 0-9"},
	{GW "[agent]\nnode_name = -edge\n",
	 "t.conf:4: key 'node_name': '-edge' is not a valid Kubernetes name: at most 253 "
	 "characters of a-z 0-9 - ., each dot-separated part starting and ending with a-z or 0-9"},
	{GW "[agent]\nnode_name = edge-.a\n",
	 "t.conf:4: key 'node_name': 'edge-.a' is not a valid Kubernetes name: at most 253 "
	 "characters of a-z 0-9 - ., each dot-separated part starting and ending with a-z or 0-9"},
	{GW "[agent]\nnode_name = a..b\n",
	 "t.conf:4: key 'node_name': 'a..b' is not a valid Kubernetes name: at most 253 "
	 "characters of a-z 0-9 - ., each dot-separated part starting and ending with a-z or 0-9"},
	{GW "[agent]\npool = room_a\n",
	 "t.conf:4: key 'pool': 'room_a' is not a valid Kubernetes name: at most 253 "
	 "characters of a-z 0-9 - ., each dot-separated part starting and ending with a-z or 0-9"},
	/* labels */
	{GW "[agent]\nlabels = zone\n", "t.conf:4: key 'labels': 'zone' is not key=value"},
	{GW "[agent]\nlabels = a=1,,b=2\n", "t.conf:4: key 'labels': empty item in list 'a=1,,b=2'"},
	{GW "[agent]\nlabels = a=1,\n", "t.conf:4: key 'labels': empty item in list 'a=1,'"},
	{GW "[agent]\nlabels = =1\n",
	 "t.conf:4: key 'labels': '' is not a Kubernetes label key ([prefix/]name)"},
	{GW "[agent]\nlabels = Example.com/x=1\n",
	 "t.conf:4: key 'labels': 'Example.com/x' is not a Kubernetes label key ([prefix/]name)"},
	{GW "[agent]\nlabels = a/b/c=1\n",
	 "t.conf:4: key 'labels': 'a/b/c' is not a Kubernetes label key ([prefix/]name)"},
	{GW "[agent]\nlabels = zone=-a\n",
	 "t.conf:4: key 'labels': '-a' is not a Kubernetes label value (label 'zone')"},
	{GW "[agent]\nlabels = a=1, b=2, a=3\n", "t.conf:4: key 'labels': label 'a' is given twice"},
	/* paths */
	{GW "[agent]\ncache_dir = var/cache\n",
	 "t.conf:4: key 'cache_dir': 'var/cache' is not an absolute path"},
	{GW "[tls]\ncert_file = ./node.pem\n",
	 "t.conf:4: key 'cert_file': './node.pem' is not an absolute path"},
	{"[gateway]\naddress = gw\nca_file = ca.pem\n",
	 "t.conf:3: key 'ca_file': 'ca.pem' is not an absolute path"},
	/* gateway addresses */
	{"[gateway]\naddress = gw_1.example.net\n",
	 "t.conf:2: key 'address': 'gw_1.example.net' is not a host name or IP address"},
	{"[gateway]\naddress = 192.0.2.300\n",
	 "t.conf:2: key 'address': '192.0.2.300' is not a host name or IP address"},
	{"[gateway]\naddress = 192.0.2.01\n",
	 "t.conf:2: key 'address': '192.0.2.01' is not a host name or IP address"},
	{"[gateway]\naddress = gw:0\n", "t.conf:2: key 'address': port '0' is not a number 1..65535"},
	{"[gateway]\naddress = gw:65536\n",
	 "t.conf:2: key 'address': port '65536' is not a number 1..65535"},
	{"[gateway]\naddress = gw:\n", "t.conf:2: key 'address': port '' is not a number 1..65535"},
	{"[gateway]\naddress = 2001:db8::1\n",
	 "t.conf:2: key 'address': '2001:db8::1': write an IPv6 address in brackets, as "
	 "[2001:db8::1]:10262"},
	{"[gateway]\naddress = [2001:db8::1\n",
	 "t.conf:2: key 'address': '[2001:db8::1' is not [IPv6]:port"},
	{"[gateway]\naddress = [gw]:1\n", "t.conf:2: key 'address': 'gw' is not an IPv6 address"},
	{"[gateway]\naddress = gw, gw:10262\n",
	 "t.conf:2: key 'address': gw:10262 is listed twice"},
	{"[gateway]\naddress = a, b, c, d\naddress = e, f, g, h\naddress = i\n",
	 "t.conf:4: key 'address': more than 8 entries"},
	{"[gateway]\naddress = gw\nserver_name = gw!\n",
	 "t.conf:3: key 'server_name': 'gw!' is not a host name or IP address"},
	/* dial */
	{GW "[dial]\nallow = localhost\n",
	 "t.conf:4: key 'allow': 'localhost' has no port: expected PORT or HOST:PORT"},
	{GW "[dial]\nallow = 0\n", "t.conf:4: key 'allow': port '0' is not a number 1..65535"},
	{GW "[dial]\nallow = 10250, 127.0.0.1:10250\n",
	 "t.conf:4: key 'allow': 127.0.0.1:10250 is listed twice"},
	{GW "[dial]\nallow = [::1]:1, [::1]:1\n", "t.conf:4: key 'allow': [::1]:1 is listed twice"},
	{GW "[hub]\nqueue_max_entries = 0\n",
	 "t.conf:4: key 'queue_max_entries': 0 is out of range 1..1000000"},
	{GW "[hub]\nqueue_max_entries = 1000001\n",
	 "t.conf:4: key 'queue_max_entries': 1000001 is out of range 1..1000000"},
	{GW "[hub]\nqueue_max_mb = 4097\n",
	 "t.conf:4: key 'queue_max_mb': 4097 is out of range 1..4096"},
	{GW "[dial]\nconnect_timeout_ms = 99\n",
	 "t.conf:4: key 'connect_timeout_ms': 99 is out of range 100..120000"},
	{GW "[dial]\nconnect_timeout_ms = 1s\n",
	 "t.conf:4: key 'connect_timeout_ms': '1s' is not a decimal number"},
	/* listeners */
	{GW "[admin]\nlisten = localhost:1\n",
	 "t.conf:4: key 'listen': 'localhost:1' is not an IPv4 address and port like "
	 "127.0.0.1:8080"},
	{GW "[admin]\nlisten = 127.0.0.1\n",
	 "t.conf:4: key 'listen': '127.0.0.1' is not an IPv4 address and port like "
	 "127.0.0.1:8080"},
	{GW "[hub]\nlisten = 127.0.0.1:0\n", "t.conf:4: key 'listen': port '0' is not a number 1..65535"},
	{GW "[admin]\nlisten = 127.0.0.1:10261\n",
	 "t.conf:4: key 'listen': 127.0.0.1:10261 is also the [hub] listen address"},
	{GW "[hub]\nlisten = 127.0.0.1:10263\n",
	 "t.conf:4: key 'listen': 127.0.0.1:10263 is also the [admin] listen address"},
	{GW "[hub]\nlisten = 127.0.0.1:7\n[admin]\nlisten = 127.0.0.1:7\n",
	 "t.conf:6: key 'listen': 127.0.0.1:7 is also the [hub] listen address"},
	/* keepalive and reconnect */
	{GW "[keepalive]\nidle_timeout_ms = 9999\n",
	 "t.conf:4: key 'idle_timeout_ms': 9999 is out of range 10000..600000"},
	{GW "[keepalive]\ninterval_ms = 25001\n",
	 "t.conf:4: key 'interval_ms': 25001 is out of range 1000..25000"},
	{GW "[keepalive]\nheartbeat_interval_s = 9\n",
	 "t.conf:4: key 'heartbeat_interval_s': 9 is out of range 10..86400"},
	{GW "[reconnect]\ninitial_ms = -1\n",
	 "t.conf:4: key 'initial_ms': '-1' is not a decimal number"},
	{GW "[reconnect]\nmax_ms = 99999999999\n",
	 "t.conf:4: key 'max_ms': 99999999999 is out of range 1000..3600000"},
	{GW "[reconnect]\nmax_ms = 2000\ninitial_ms = 3000\n",
	 "t.conf:4: key 'max_ms': 2000 is less than initial_ms 3000"},
	{GW "[reconnect]\ninitial_ms = 60001\n",
	 "t.conf:4: key 'initial_ms': 60001 is out of range 100..60000"},
	{GW "[reconnect]\njitter = equal\n", "t.conf:4: key 'jitter': expected full or none"},
	{GW "[log]\nlevel = trace\n",
	 "t.conf:4: key 'level': expected error, warning, info or debug"},
};
/* clang-format on */

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		expect_error(errors[i].text, errors[i].msg);
}

/* Values at and just past each size limit. */
static void test_limits(void **state)
{
	struct cw_agent_config *c = malloc(sizeof(*c));
	char *text = malloc(8192), name[300], msg[600];
	size_t off;

	(void)state;
	assert_non_null(c);
	assert_non_null(text);
	/* a node name of 253 characters is valid, 254 is not */
	memset(name, 'a', 253);
	for (size_t i = 63; i < 253; i += 64)
		name[i] = '.';
	name[253] = '\0';
	snprintf(text, 8192, GW "[agent]\nnode_name = %s\n", name);
	expect_ok(c, text);
	assert_string_equal(c->agent.node_name, name);
	strcpy(name + 253, "a");
	snprintf(text, 8192, GW "[agent]\nnode_name = %s\n", name);
	snprintf(msg, sizeof(msg),
		 "t.conf:4: key 'node_name': '%s' is not a valid Kubernetes name: at most 253 "
		 "characters of a-z 0-9 - ., each dot-separated part starting and ending with "
		 "a-z or 0-9",
		 name);
	expect_error(text, msg);

	/* 32 labels, then 33 */
	off = (size_t)snprintf(text, 8192, GW "[agent]\nlabels = l0=v");
	for (int i = 1; i < 32; i++)
		off += (size_t)snprintf(text + off, 8192 - off, ", l%d=v", i);
	snprintf(text + off, 8192 - off, "\n");
	expect_ok(c, text);
	assert_int_equal(c->agent.n_labels, 32);
	assert_string_equal(c->agent.labels[31].key, "l31");
	snprintf(text + off, 8192 - off, ", l32=v\n");
	expect_error(text, "t.conf:4: key 'labels': more than 32 labels");

	/* 64 allow-list entries, then 65 */
	off = (size_t)snprintf(text, 8192, GW "[dial]\nallow = 1");
	for (int i = 2; i <= 64; i++)
		off += (size_t)snprintf(text + off, 8192 - off, ",%d", i);
	snprintf(text + off, 8192 - off, "\n");
	expect_ok(c, text);
	assert_int_equal(c->dial.n_allow, 64);
	assert_int_equal(c->dial.allow[63].port, 64);
	assert_round_trip(c);
	snprintf(text + off, 8192 - off, ",65\n");
	expect_error(text, "t.conf:4: key 'allow': more than 64 entries");

	/* a path of 1023 characters fits, 1024 does not */
	text[0] = '\0';
	off = (size_t)snprintf(text, 8192, GW "[tls]\nkey_file = /");
	memset(text + off, 'k', 1022);
	strcpy(text + off + 1022, "\n");
	expect_ok(c, text);
	assert_int_equal(strlen(c->tls.key_file), 1023);
	strcpy(text + off + 1022, "k\n");
	expect_error(text, "t.conf:4: key 'key_file': value is too long (at most 1023 characters)");

	/* a value too long for the host field is no host */
	memset(name, 'a', 254);
	name[254] = '\0';
	snprintf(text, 8192, "[gateway]\naddress = %s:1\n", name);
	snprintf(msg, sizeof(msg), "t.conf:2: key 'address': '%s' is not a host name or IP address",
		 name);
	expect_error(text, msg);
	/* a DNS label of 64 characters likewise */
	snprintf(text, 8192, "[gateway]\naddress = %.64s.net\n", name);
	snprintf(msg, sizeof(msg),
		 "t.conf:2: key 'address': '%.64s.net' is not a host name or IP address", name);
	expect_error(text, msg);
	free(text);
	free(c);
}

static void test_comments_and_forms(void **state)
{
	struct cw_agent_config c;

	(void)state;
	expect_ok(&c, "# agent\n"
		      "; also a comment\n"
		      "\n"
		      "  [ gateway ]  \r\n"
		      "\taddress=GW.Example.NET:1 ,  192.0.2.1  # the second one\n"
		      "[agent]\n"
		      "labels = a=1 , b = 2 # note\n"
		      "node_name =# none\n"
		      "[dial]\n"
		      "allow = 80,node-1:1\n");
	assert_int_equal(c.gateway.n_addrs, 2);
	assert_string_equal(c.gateway.addrs[0].host, "GW.Example.NET");
	assert_int_equal(c.gateway.addrs[0].port, 1);
	assert_string_equal(c.gateway.addrs[1].host, "192.0.2.1");
	assert_int_equal(c.gateway.addrs[1].port, 10262);
	assert_int_equal(c.agent.n_labels, 2);
	assert_string_equal(c.agent.labels[1].key, "b");
	assert_string_equal(c.agent.labels[1].value, "2");
	assert_string_equal(c.agent.node_name, "");
	assert_int_equal(c.dial.n_allow, 2);
	assert_string_equal(c.dial.allow[0].host, "127.0.0.1");
	assert_int_equal(c.dial.allow[0].port, 80);
	assert_string_equal(c.dial.allow[1].host, "node-1");
	/* a '#' inside a value is the value's: here it makes a bad host */
	expect_error(GW "[dial]\nallow = x#y:1\n",
		     "t.conf:4: key 'allow': 'x#y' is not a host name or IP address");
	/* an empty list replaces the default one */
	expect_ok(&c, GW "[dial]\nallow =\n");
	assert_int_equal(c.dial.n_allow, 0);
	assert_round_trip(&c);
}

static void test_dial_allowed(void **state)
{
	struct cw_agent_config c, want;

	(void)state;
	cw_agent_config_defaults(&c);
	assert_true(cw_agent_dial_allowed(&c.dial, "", 10250));
	assert_true(cw_agent_dial_allowed(&c.dial, "127.0.0.1", 10255));
	assert_true(cw_agent_dial_allowed(&c.dial, "", 9100));
	assert_false(cw_agent_dial_allowed(&c.dial, "", 22));
	assert_false(cw_agent_dial_allowed(&c.dial, "10.0.0.1", 10250));
	/* bare ports are on 127.0.0.1: the spelling is the default */
	expect_ok(&c, GW "[dial]\nallow = 127.0.0.1:10250,10255,9100\n");
	cw_agent_config_defaults(&want);
	assert_memory_equal(&c.dial, &want.dial, sizeof(c.dial));
	expect_ok(&c, GW "[dial]\nallow = Node.Local:8080, [::1]:80\n");
	assert_true(cw_agent_dial_allowed(&c.dial, "node.local", 8080));
	assert_true(cw_agent_dial_allowed(&c.dial, "::1", 80));
	assert_false(cw_agent_dial_allowed(&c.dial, "", 8080));
	assert_false(cw_agent_dial_allowed(&c.dial, "", 10250));
}

static void test_error_leaves_config(void **state)
{
	struct cw_agent_config c, before;

	(void)state;
	expect_ok(&c, full);
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(parse(&c, GW "[agent]\npool = b\n[log]\nlevel = x\n"), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(cw_agent_config_parse(&c, "t.conf", "[x]\n", NULL, 0), -EINVAL);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
	char dir[] = "/tmp/cw-test-agent-config-XXXXXX", path[64], msg[160];
	static const char nul[] = GW "[log]\nlevel = info\0\n";
	struct cw_agent_config c;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	assert_int_equal(cw_agent_config_load(&c, path, err, sizeof(err)), -ENOENT);
	snprintf(msg, sizeof(msg), "%s: No such file or directory", path);
	assert_string_equal(err, msg);

	snprintf(path, sizeof(path), "%s/a.conf", dir);
	write_file(path, full, strlen(full));
	assert_int_equal(cw_agent_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.log_level, CW_AGENT_LOG_DEBUG);

	write_file(path, GW "[keepalive]\ninterval_ms = 0\n", strlen(GW) + 28);
	assert_int_equal(cw_agent_config_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:4: key 'interval_ms': 0 is out of range 1000..25000", path);
	assert_string_equal(err, msg);

	write_file(path, nul, sizeof(nul) - 1);
	assert_int_equal(cw_agent_config_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:4: control character 0x00 in line", path);
	assert_string_equal(err, msg);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),	 cmocka_unit_test(test_minimal_file),
	    cmocka_unit_test(test_example_file), cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_print_text),	 cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limits),	 cmocka_unit_test(test_comments_and_forms),
	    cmocka_unit_test(test_dial_allowed), cmocka_unit_test(test_error_leaves_config),
	    cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
