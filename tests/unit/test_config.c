/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control/config.c: every key, every kind of error with its exact
 * FILE:LINE message, the print -> parse round trip and the example file.
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

#include "control/config.h"

/* A minimal valid port: lines 1..3 of most test texts. */
#define PORT "[port p0]\ndevice = net_null0\naddress = 10.0.0.1/24\n"

static char err[CW_CONF_ERR_LEN];

static int parse(struct cw_config *c, const char *text)
{
	err[0] = '\0';
	return cw_config_parse(c, "t.conf", text, err, sizeof(err));
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* Parse @text, which must fail with exactly @msg. */
static void expect_error(const char *text, const char *msg)
{
	struct cw_config c;
	int rc = parse(&c, text);

	if (rc != -EINVAL || strcmp(err, msg))
		print_error("text:\n%s\n", text);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, msg);
}

static void expect_ok(struct cw_config *c, const char *text)
{
	int rc = parse(c, text);

	if (rc)
		print_error("unexpected error: %s\ntext:\n%s\n", err, text);
	assert_int_equal(rc, 0);
}

/* Print @c, parse it back: the same bytes, and printing is a fixed point. */
static void assert_round_trip(const struct cw_config *c)
{
	struct cw_config back;
	char *text = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	cw_config_print(c, f);
	assert_int_equal(fclose(f), 0);
	memset(&back, 0xa5, sizeof(back));
	expect_ok(&back, text);
	assert_memory_equal(&back, c, sizeof(back));
	f = open_memstream(&again, &len2);
	assert_non_null(f);
	cw_config_print(&back, f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(again, text);
	free(text);
	free(again);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	struct cw_config c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	cw_config_defaults(&c);
	assert_string_equal(c.eal.lcores, "0-1");
	assert_int_equal(c.eal.memory_mb, 256);
	assert_int_equal(c.eal.hugepages, CW_HUGE_AUTO);
	assert_string_equal(c.eal.file_prefix, "causeway");
	assert_string_equal(c.eal.extra_args, "");
	assert_int_equal(c.n_ports, 0);
	assert_int_equal(c.dp.n_workers, 1);
	assert_int_equal(c.dp.workers[0], 1);
	assert_int_equal(c.dp.burst, 32);
	assert_int_equal(c.dp.mbuf_pool_size, 8191);
	assert_int_equal(c.dp.mbuf_cache, 256);
	assert_int_equal(c.dp.backend, CW_BACKEND_DPDK);
	assert_int_equal(c.dp.stats_interval, 10);
	assert_int_equal(c.dp.echo_port, 0);
	assert_int_equal(c.dp.socket_addr, 0);
	assert_int_equal(c.dp.neigh_timeout, 300);
	assert_int_equal(c.dp.frag_timeout_ms, 2000);
	assert_int_equal(c.dp.frag_max_entries, 4096);
	assert_int_equal(c.log.level, CW_LOG_INFO);
}

/* A file with just a port gives the defaults everywhere else. */
static void test_minimal_file(void **state)
{
	struct cw_config c, d;

	(void)state;
	expect_ok(&c, PORT);
	cw_config_defaults(&d);
	assert_memory_equal(&c.eal, &d.eal, sizeof(d.eal));
	assert_memory_equal(&c.dp, &d.dp, sizeof(d.dp));
	assert_memory_equal(&c.log, &d.log, sizeof(d.log));
	assert_int_equal(c.n_ports, 1);
	assert_string_equal(c.ports[0].name, "p0");
	assert_string_equal(c.ports[0].device, "net_null0");
	assert_int_equal(c.ports[0].addr, ip("10.0.0.1"));
	assert_int_equal(c.ports[0].prefix_len, 24);
	assert_int_equal(c.ports[0].gateway, 0);
	assert_int_equal(c.ports[0].mtu, 1500);
	assert_int_equal(c.ports[0].rx_desc, 1024);
	assert_int_equal(c.ports[0].tx_desc, 1024);
	assert_int_equal(c.ports[0].vlan, 0);
}

static void test_socket_backend_needs_no_port(void **state)
{
	struct cw_config c;

	(void)state;
	expect_ok(&c, "[dataplane]\nbackend = socket\n");
	assert_int_equal(c.dp.backend, CW_BACKEND_SOCKET);
	assert_int_equal(c.n_ports, 0);
	/* the empty text fails only the whole-file check */
	expect_error("", "t.conf: backend 'dpdk' needs at least one [port NAME] section");
}

/* ---- a full file ---- */

static const char full[] = "# every key, none at its default\n"
			   "[eal]\n"
			   "lcores = 2,4-7\n"
			   "memory = 1024\n"
			   "hugepages = yes\n"
			   "file_prefix = cw-test_1\n"
			   "extra_args = --vdev=net_tap0,iface=cw0 --no-pci\n"
			   "\n"
			   "[port wan]\n"
			   "device = 0000:01:00.0\n"
			   "address = 192.0.2.10/24\n"
			   "gateway = 192.0.2.1\n"
			   "mtu = 9000\n"
			   "rx_desc = 4096\n"
			   "tx_desc = 64\n"
			   "vlan = 4094\n"
			   "\n"
			   "[port lan-1]\n"
			   "device = net_tap1,iface=cw1\n"
			   "address = 198.51.100.1/32\n"
			   "\n"
			   "[dataplane]\n"
			   "workers = 4,6-7\n"
			   "burst = 512\n"
			   "mbuf_pool_size = 16777215\n"
			   "mbuf_cache = 0\n"
			   "backend = socket\n"
			   "stats_interval = 0\n"
			   "echo_port = 7\n"
			   "socket_address = 127.0.0.1\n"
			   "neigh_timeout = 86400\n"
			   "frag_timeout = 10\n"
			   "frag_max_entries = 1048576\n"
			   "\n"
			   "[log]\n"
			   "level = debug\n";

static void test_full_file(void **state)
{
	struct cw_config c;
	const struct cw_port_conf *w = &c.ports[0], *l = &c.ports[1];

	(void)state;
	expect_ok(&c, full);
	assert_string_equal(c.eal.lcores, "2,4-7");
	assert_int_equal(c.eal.memory_mb, 1024);
	assert_int_equal(c.eal.hugepages, CW_HUGE_YES);
	assert_string_equal(c.eal.file_prefix, "cw-test_1");
	assert_string_equal(c.eal.extra_args, "--vdev=net_tap0,iface=cw0 --no-pci");
	assert_int_equal(c.n_ports, 2);
	assert_string_equal(w->name, "wan");
	assert_string_equal(w->device, "0000:01:00.0");
	assert_int_equal(w->addr, ip("192.0.2.10"));
	assert_int_equal(w->prefix_len, 24);
	assert_int_equal(w->gateway, ip("192.0.2.1"));
	assert_int_equal(w->mtu, 9000);
	assert_int_equal(w->rx_desc, 4096);
	assert_int_equal(w->tx_desc, 64);
	assert_int_equal(w->vlan, 4094);
	assert_string_equal(l->name, "lan-1");
	assert_string_equal(l->device, "net_tap1,iface=cw1");
	assert_int_equal(l->addr, ip("198.51.100.1"));
	assert_int_equal(l->prefix_len, 32);
	assert_int_equal(l->gateway, 0);
	assert_int_equal(l->mtu, 1500);
	assert_int_equal(c.dp.n_workers, 3);
	assert_int_equal(c.dp.workers[0], 4);
	assert_int_equal(c.dp.workers[1], 6);
	assert_int_equal(c.dp.workers[2], 7);
	assert_int_equal(c.dp.workers[3], 0);
	assert_int_equal(c.dp.burst, 512);
	assert_int_equal(c.dp.mbuf_pool_size, 16777215);
	assert_int_equal(c.dp.mbuf_cache, 0);
	assert_int_equal(c.dp.backend, CW_BACKEND_SOCKET);
	assert_int_equal(c.dp.stats_interval, 0);
	assert_int_equal(c.dp.echo_port, 7);
	assert_int_equal(c.dp.socket_addr, ip("127.0.0.1"));
	assert_int_equal(c.dp.neigh_timeout, 86400);
	assert_int_equal(c.dp.frag_timeout_ms, 10);
	assert_int_equal(c.dp.frag_max_entries, 1048576);
	assert_int_equal(c.log.level, CW_LOG_DEBUG);
}

static void test_enum_values(void **state)
{
	static const struct {
		const char *text;
		size_t off;
		uint32_t want;
	} t[] = {
	    {PORT "[eal]\nhugepages = auto\n", offsetof(struct cw_config, eal.hugepages),
	     CW_HUGE_AUTO},
	    {PORT "[eal]\nhugepages = no\n", offsetof(struct cw_config, eal.hugepages), CW_HUGE_NO},
	    {PORT "[dataplane]\nbackend = dpdk\n", offsetof(struct cw_config, dp.backend),
	     CW_BACKEND_DPDK},
	    {PORT "[log]\nlevel = error\n", offsetof(struct cw_config, log.level), CW_LOG_ERR},
	    {PORT "[log]\nlevel = warning\n", offsetof(struct cw_config, log.level), CW_LOG_WARN},
	    {PORT "[log]\nlevel = info\n", offsetof(struct cw_config, log.level), CW_LOG_INFO},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cw_config c;
		uint32_t v;

		expect_ok(&c, t[i].text);
		memcpy(&v, (char *)&c + t[i].off, sizeof(v));
		assert_int_equal(v, t[i].want);
	}
}

/* The file operators start from parses, and documents the real defaults. */
static void test_example_file(void **state)
{
	const char *path = CW_SOURCE_ROOT "/conf/causeway.conf";
	struct cw_config c, d;

	(void)state;
	assert_int_equal(cw_config_load(&c, path, err, sizeof(err)), 0);
	cw_config_defaults(&d);
	assert_memory_equal(&c.eal, &d.eal, sizeof(d.eal));
	assert_memory_equal(&c.dp, &d.dp, sizeof(d.dp));
	assert_memory_equal(&c.log, &d.log, sizeof(d.log));
	assert_int_equal(c.n_ports, 1);
	assert_string_equal(c.ports[0].name, "p0");
	assert_int_equal(c.ports[0].mtu, 1500);
	assert_int_equal(c.ports[0].rx_desc, 1024);
	assert_int_equal(c.ports[0].tx_desc, 1024);
	assert_int_equal(c.ports[0].vlan, 0);
	assert_round_trip(&c);
}

/* ---- syntax ---- */

static void test_comments_and_whitespace(void **state)
{
	struct cw_config c;

	(void)state;
	expect_ok(&c, "# comment\n"
		      "; comment too\n"
		      "   # indented comment\n"
		      "\n"
		      "  \t \n"
		      "  [ port   p0 ]   # trailing comment\n"
		      "\tdevice\t=\tnet_pcap0,iface=a#b\t# '#' after a blank starts a comment\n"
		      "address=10.0.0.1/24 # no blanks around '='\n"
		      "[dataplane]\r\n"
		      "burst = 64\r\n"
		      "[eal]\n"
		      "extra_args =    \n"
		      "[log]\n"
		      "level = debug"); /* no final newline */
	assert_string_equal(c.ports[0].name, "p0");
	assert_string_equal(c.ports[0].device, "net_pcap0,iface=a#b");
	assert_int_equal(c.ports[0].addr, ip("10.0.0.1"));
	assert_int_equal(c.dp.burst, 64);
	assert_string_equal(c.eal.extra_args, "");
	assert_int_equal(c.log.level, CW_LOG_DEBUG);
}

/* Sections may come in any order; a value with '=' keeps everything after the first. */
static void test_order_and_equals(void **state)
{
	struct cw_config c;

	(void)state;
	expect_ok(&c, "[log]\nlevel = error\n[dataplane]\nburst = 1\n[eal]\n"
		      "extra_args = --vdev=net_null0,size=64\n" PORT);
	assert_int_equal(c.log.level, CW_LOG_ERR);
	assert_int_equal(c.dp.burst, 1);
	assert_string_equal(c.eal.extra_args, "--vdev=net_null0,size=64");
	assert_int_equal(c.n_ports, 1);
}

/* ---- errors: every kind, exact message and line ---- */

static const struct {
	const char *text, *msg;
} errors[] = {
    /* lines without a key */
    {PORT "[foo]\n", "t.conf:4: unknown section 'foo'"},
    {PORT "[foo bar]\n", "t.conf:4: unknown section 'foo bar'"},
    {PORT "[]\n", "t.conf:4: unknown section ''"},
    {PORT "[portal]\n", "t.conf:4: unknown section 'portal'"},
    {PORT "[eal x]\n", "t.conf:4: unknown section 'eal x'"},
    {PORT "[EAL]\n", "t.conf:4: unknown section 'EAL'"},
    {PORT "[dataplane\n", "t.conf:4: missing ']'"},
    {PORT "[dataplane] x\n", "t.conf:4: unexpected text after ']'"},
    {PORT "[dataplane]#x\n", "t.conf:4: unexpected text after ']'"},
    {"[eal]\n" PORT "[eal]\n", "t.conf:5: duplicate section [eal]"},
    {"[dataplane]\n[log]\n[dataplane]\n" PORT, "t.conf:3: duplicate section [dataplane]"},
    {"[log]\n[log]\n" PORT, "t.conf:2: duplicate section [log]"},
    {PORT "[dataplane]\nburst 32\n", "t.conf:5: expected 'key = value'"},
    {PORT "[dataplane]\n= 32\n", "t.conf:5: expected 'key = value'"},
    {PORT "[dataplane]\n  =\n", "t.conf:5: expected 'key = value'"},
    {"burst = 32\n" PORT, "t.conf:1: key outside any section"},
    {"\n# c\nburst\n", "t.conf:3: expected 'key = value'"},
    {PORT "[dataplane]\nburst = 3\x01\n", "t.conf:5: control character 0x01 in line"},
    {PORT "[dataplane]\nburst = 3\r2\n", "t.conf:5: control character 0x0d in line"},
    /* route rules */
    {PORT "[route]\nrule = GET ^/api\n",
     "t.conf:5: key 'rule': want 'METHODS PATTERN ACTION', e.g. 'GET ^/api/v1/pods hub'"},
    {PORT "[route]\nrule = GET ^/api hub extra\n",
     "t.conf:5: key 'rule': want 'METHODS PATTERN ACTION', e.g. 'GET ^/api/v1/pods hub'"},
    {PORT "[route]\nrule = GET,FETCH ^/api hub\n",
     "t.conf:5: key 'rule': unknown method 'FETCH' (GET, HEAD, POST, PUT, PATCH, DELETE, "
     "OPTIONS or *)"},
    {PORT "[route]\nrule = get ^/api hub\n",
     "t.conf:5: key 'rule': unknown method 'get' (GET, HEAD, POST, PUT, PATCH, DELETE, "
     "OPTIONS or *)"},
    {PORT "[route]\nrule = GET, ^/api hub\n", "t.conf:5: key 'rule': method list ends with ','"},
    {PORT "[route]\nrule = GET ^/api cache\n",
     "t.conf:5: key 'rule': unknown action 'cache' (hub, upstream or deny)"},
    {PORT "[route]\nrule = * ^/api/(v1 hub\n",
     "t.conf:5: key 'rule': pattern '^/api/(v1': Missing close parenthesis for group started "
     "at index 6."},
    {PORT "[route]\ndefault = hub\ndefault = deny\n", "t.conf:6: key 'default': duplicate key"},
    {PORT "[route]\ndefault = cache\n", "t.conf:5: key 'default': expected hub, upstream or deny"},
    /* keys */
    {PORT "[dataplane]\nfrobnicate = 1\n",
     "t.conf:5: key 'frobnicate': unknown key in section [dataplane]"},
    {PORT "[dataplane]\nBurst = 1\n", "t.conf:5: key 'Burst': unknown key in section [dataplane]"},
    {PORT "mtu_bytes = 1\n", "t.conf:4: key 'mtu_bytes': unknown key in section [port p0]"},
    {"[eal]\nburst = 1\n", "t.conf:2: key 'burst': unknown key in section [eal]"},
    {"[log]\nlevel = info\nfile = x\n", "t.conf:3: key 'file': unknown key in section [log]"},
    {PORT "[dataplane]\nburst = 32\nburst = 32\n", "t.conf:6: key 'burst': duplicate key"},
    {PORT "device = net_null1\n", "t.conf:4: key 'device': duplicate key"},
    {PORT "[dataplane]\nburst =\n", "t.conf:5: key 'burst': missing value"},
    {PORT "[dataplane]\nburst = # nothing\n", "t.conf:5: key 'burst': missing value"},
    {PORT "[dataplane]\nburst =# nothing\n", "t.conf:5: key 'burst': missing value"},
    {"[port p0]\ndevice =#x\n", "t.conf:2: key 'device': missing value"},
    {PORT "[eal]\nlcores =\n", "t.conf:5: key 'lcores': missing value"},
    {"[port p0]\ndevice =\n", "t.conf:2: key 'device': missing value"},
    /* numbers */
    {PORT "[dataplane]\nburst = 0\n", "t.conf:5: key 'burst': 0 is out of range 1..512"},
    {PORT "[dataplane]\nburst = 513\n", "t.conf:5: key 'burst': 513 is out of range 1..512"},
    {PORT "[dataplane]\nburst = 32x\n", "t.conf:5: key 'burst': '32x' is not a decimal number"},
    {PORT "[dataplane]\nburst = 3 2\n", "t.conf:5: key 'burst': '3 2' is not a decimal number"},
    {PORT "[dataplane]\nburst = -1\n", "t.conf:5: key 'burst': '-1' is not a decimal number"},
    {PORT "[dataplane]\nburst = +1\n", "t.conf:5: key 'burst': '+1' is not a decimal number"},
    {PORT "[dataplane]\nburst = 0x20\n", "t.conf:5: key 'burst': '0x20' is not a decimal number"},
    {PORT "[dataplane]\nburst = 1e2\n", "t.conf:5: key 'burst': '1e2' is not a decimal number"},
    {PORT "[dataplane]\nburst = 32.0\n", "t.conf:5: key 'burst': '32.0' is not a decimal number"},
    {PORT "[dataplane]\nburst = 4294967296\n",
     "t.conf:5: key 'burst': 4294967296 is out of range 1..512"},
    {PORT "[dataplane]\nburst = 4294967328\n", /* 2^32 + 32: no wrap to 32 */
     "t.conf:5: key 'burst': 4294967328 is out of range 1..512"},
    {PORT "[dataplane]\nburst = 18446744073709551648\n", /* 2^64 + 32 */
     "t.conf:5: key 'burst': 18446744073709551648 is out of range 1..512"},
    {PORT "[dataplane]\nmbuf_pool_size = 1022\n",
     "t.conf:5: key 'mbuf_pool_size': 1022 is out of range 1023..16777215"},
    {PORT "[dataplane]\nmbuf_pool_size = 16777216\n",
     "t.conf:5: key 'mbuf_pool_size': 16777216 is out of range 1023..16777215"},
    {PORT "[dataplane]\nmbuf_cache = 513\n",
     "t.conf:5: key 'mbuf_cache': 513 is out of range 0..512"},
    {PORT "[dataplane]\nstats_interval = 3601\n",
     "t.conf:5: key 'stats_interval': 3601 is out of range 0..3600"},
    {PORT "[dataplane]\necho_port = 65536\n",
     "t.conf:5: key 'echo_port': 65536 is out of range 0..65535"},
    {PORT "[dataplane]\nneigh_timeout = 0\n",
     "t.conf:5: key 'neigh_timeout': 0 is out of range 1..86400"},
    {PORT "[dataplane]\nneigh_timeout = 86401\n",
     "t.conf:5: key 'neigh_timeout': 86401 is out of range 1..86400"},
    {PORT "[dataplane]\nfrag_timeout = 9\n",
     "t.conf:5: key 'frag_timeout': 9 is out of range 10..60000"},
    {PORT "[dataplane]\nfrag_timeout = 60001\n",
     "t.conf:5: key 'frag_timeout': 60001 is out of range 10..60000"},
    {PORT "[dataplane]\nfrag_max_entries = 0\n",
     "t.conf:5: key 'frag_max_entries': 0 is out of range 1..1048576"},
    {PORT "[dataplane]\nfrag_max_entries = 1048577\n",
     "t.conf:5: key 'frag_max_entries': 1048577 is out of range 1..1048576"},
    {PORT "[eal]\nmemory = 1048577\n",
     "t.conf:5: key 'memory': 1048577 is out of range 0..1048576"},
    {PORT "mtu = 575\n", "t.conf:4: key 'mtu': 575 is out of range 576..9000"},
    {PORT "mtu = 9001\n", "t.conf:4: key 'mtu': 9001 is out of range 576..9000"},
    {PORT "rx_desc = 32\n", "t.conf:4: key 'rx_desc': 32 is out of range 64..16384"},
    {PORT "rx_desc = 1000\n", "t.conf:4: key 'rx_desc': 1000 is not a power of two"},
    {PORT "tx_desc = 32768\n", "t.conf:4: key 'tx_desc': 32768 is out of range 64..16384"},
    {PORT "tx_desc = 1536\n", "t.conf:4: key 'tx_desc': 1536 is not a power of two"},
    {PORT "vlan = 4095\n", "t.conf:4: key 'vlan': 4095 is out of range 0..4094"},
    /* enums */
    {PORT "[eal]\nhugepages = maybe\n", "t.conf:5: key 'hugepages': expected auto, yes or no"},
    {PORT "[eal]\nhugepages = YES\n", "t.conf:5: key 'hugepages': expected auto, yes or no"},
    {PORT "[dataplane]\nbackend = xdp\n", "t.conf:5: key 'backend': expected dpdk or socket"},
    {PORT "[log]\nlevel = verbose\n",
     "t.conf:5: key 'level': expected error, warning, info or debug"},
    {PORT "[log]\nlevel = debug ; not a comment\n",
     "t.conf:5: key 'level': expected error, warning, info or debug"},
    /* strings */
    {PORT "[eal]\nfile_prefix = cause way\n",
     "t.conf:5: key 'file_prefix': 'cause way' is not 1..63 characters of A-Z a-z 0-9 _ -"},
    {PORT "[eal]\nfile_prefix = ../x\n",
     "t.conf:5: key 'file_prefix': '../x' is not 1..63 characters of A-Z a-z 0-9 _ -"},
    /* ports */
    {"[port]\n", "t.conf:1: section [port] needs a name: [port NAME]"},
    {"[port p.0]\n",
     "t.conf:1: invalid port name 'p.0': expected 1..31 characters of A-Z a-z 0-9 _ -"},
    {"[port p 0]\n",
     "t.conf:1: invalid port name 'p 0': expected 1..31 characters of A-Z a-z 0-9 _ -"},
    {PORT "[port p0]\n", "t.conf:4: duplicate section [port p0]"},
    {"[port p0]\naddress = 10.0.0.1/24\n[dataplane]\n",
     "t.conf:1: port 'p0': missing key 'device'"},
    {"[port p0]\ndevice = net_null0\n", "t.conf:1: port 'p0': missing key 'address'"},
    {"[port p0]\n", "t.conf:1: port 'p0': missing key 'device'"},
    {PORT "\n\n[port p1]\ndevice = x\n[log]\n", "t.conf:6: port 'p1': missing key 'address'"},
    /* the section is checked when it closes, before a later header's own error */
    {"[port p0]\ndevice = x\n[foo]\n", "t.conf:1: port 'p0': missing key 'address'"},
    {PORT "address = 10.0.0.2/24\n", "t.conf:4: key 'address': duplicate key"},
    {"[port p0]\naddress = 10.0.0.1\n",
     "t.conf:2: key 'address': '10.0.0.1' has no prefix length: expected a.b.c.d/len"},
    {"[port p0]\naddress = 10.0.0.1/\n",
     "t.conf:2: key 'address': prefix length '' is out of range 1..32"},
    {"[port p0]\naddress = 10.0.0.1/0\n",
     "t.conf:2: key 'address': prefix length '0' is out of range 1..32"},
    {"[port p0]\naddress = 10.0.0.1/33\n",
     "t.conf:2: key 'address': prefix length '33' is out of range 1..32"},
    {"[port p0]\naddress = 10.0.0.1/24x\n",
     "t.conf:2: key 'address': prefix length '24x' is out of range 1..32"},
    {"[port p0]\naddress = 10.0.0.256/24\n",
     "t.conf:2: key 'address': '10.0.0.256/24' is not an IPv4 address like 192.0.2.1/24"},
    {"[port p0]\naddress = 10.0.0/24\n",
     "t.conf:2: key 'address': '10.0.0/24' is not an IPv4 address like 192.0.2.1/24"},
    {"[port p0]\naddress = 10.0.0.1.1/24\n",
     "t.conf:2: key 'address': '10.0.0.1.1/24' is not an IPv4 address like 192.0.2.1/24"},
    {"[port p0]\naddress = 10.0.0.01/24\n",
     "t.conf:2: key 'address': '10.0.0.01/24' is not an IPv4 address like 192.0.2.1/24"},
    {"[port p0]\naddress = host/24\n",
     "t.conf:2: key 'address': 'host/24' is not an IPv4 address like 192.0.2.1/24"},
    {"[port p0]\naddress = 10.0.0.0/24\n",
     "t.conf:2: key 'address': 10.0.0.0 is the network address of its subnet"},
    {"[port p0]\naddress = 10.0.0.255/24\n",
     "t.conf:2: key 'address': 10.0.0.255 is the broadcast address of its subnet"},
    {"[port p0]\naddress = 0.0.0.0/32\n",
     "t.conf:2: key 'address': 0.0.0.0 is not a usable address"},
    {PORT "[port p1]\ndevice = y\naddress = 10.0.0.1/16\n",
     "t.conf:6: key 'address': 10.0.0.1 is already used by port 'p0'"},
    {PORT "gateway = 10.0.1.1\n", "t.conf:4: key 'gateway': 10.0.1.1 is outside the port's subnet"},
    /* reported at the gateway line even when the address comes later */
    {"[port p0]\ndevice = x\ngateway = 10.0.1.1\naddress = 10.0.0.1/24\n",
     "t.conf:3: key 'gateway': 10.0.1.1 is outside the port's subnet"},
    {PORT "gateway = 10.0.0.1\n", "t.conf:4: key 'gateway': 10.0.0.1 is the port's own address"},
    {PORT "gateway = 10.0.0.0\n",
     "t.conf:4: key 'gateway': 10.0.0.0 is the network address of its subnet"},
    {PORT "gateway = 10.0.0.255\n",
     "t.conf:4: key 'gateway': 10.0.0.255 is the broadcast address of its subnet"},
    {PORT "gateway = 10.0.0.x\n", "t.conf:4: key 'gateway': '10.0.0.x' is not an IPv4 address"},
    {PORT "gateway = 10.0.0.2/24\n",
     "t.conf:4: key 'gateway': '10.0.0.2/24' is not an IPv4 address"},
    {PORT "[dataplane]\nsocket_address = 1.2.3\n",
     "t.conf:5: key 'socket_address': '1.2.3' is not an IPv4 address"},
    {PORT "[dataplane]\nsocket_address = 010.0.0.1\n",
     "t.conf:5: key 'socket_address': '010.0.0.1' is not an IPv4 address"},
    {PORT "[dataplane]\nsocket_address = 1.2.3.4 5\n",
     "t.conf:5: key 'socket_address': '1.2.3.4 5' is not an IPv4 address"},
    /* tunnel, ingress, admin */
    {PORT "[tunnel]\nport = 10262\ncert = /c\nkey = /k\n",
     "t.conf:4: key 'ca': required when port is set"},
    {PORT "[tunnel]\ncert = relative.pem\n",
     "t.conf:5: key 'cert': 'relative.pem' is not an absolute path"},
    {PORT "[tunnel]\nretry = sometimes\n",
     "t.conf:5: key 'retry': expected never, always or under-load"},
    {PORT "[tunnel]\nidle_timeout = 5000\n",
     "t.conf:5: key 'idle_timeout': 5000 is out of range 10000..600000"},
    {PORT "[ingress]\nlisten = 127.0.0.1\n",
     "t.conf:5: key 'listen': '127.0.0.1' is not an IPv4 address and port like "
     "127.0.0.1:8080"},
    {PORT "[admin]\nlisten = 127.0.0.1:0\n",
     "t.conf:5: key 'listen': port '0' is not a number 1..65535"},
    /* whole file */
    {"[dataplane]\nbackend = dpdk\n",
     "t.conf: backend 'dpdk' needs at least one [port NAME] section"},
    {"# nothing\n", "t.conf: backend 'dpdk' needs at least one [port NAME] section"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		expect_error(errors[i].text, errors[i].msg);
}

/* The tunnel's keys land in their fields; an empty listen turns it off. */
static void test_tunnel_sections(void **state)
{
	struct cw_config c;

	(void)state;
	expect_ok(&c, PORT "[tunnel]\nport = 10262\ncert = /etc/c.pem\nkey = /etc/k.pem\n"
			   "ca = /etc/ca.pem\nretry = always\nmax_sessions = 100\n"
			   "[ingress]\nlisten = 192.0.2.1:8080\n[admin]\nlisten =\n");
	assert_int_equal(c.tunnel.port, 10262);
	assert_string_equal(c.tunnel.ca, "/etc/ca.pem");
	assert_int_equal(c.tunnel.retry, CW_RETRY_MODE_ALWAYS);
	assert_int_equal(c.tunnel.max_sessions, 100);
	assert_int_equal(c.ingress.listen.addr, htonl(0xc0000201));
	assert_int_equal(c.ingress.listen.port, 8080);
	assert_int_equal(c.admin.listen.port, 0);
}

/* One text per length limit: the longest accepted, then one more. */
static void test_length_limits(void **state)
{
	char text[2048], v[1024];
	struct cw_config c;

	(void)state;
	memset(v, 'a', sizeof(v));
	snprintf(text, sizeof(text), PORT "[eal]\nfile_prefix = %.63s\n", v);
	expect_ok(&c, text);
	assert_int_equal(strlen(c.eal.file_prefix), 63);
	snprintf(text, sizeof(text), PORT "[eal]\nfile_prefix = %.64s\n", v);
	expect_error(text,
		     "t.conf:5: key 'file_prefix': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaa' is not 1..63 characters of A-Z a-z 0-9 _ -");
	snprintf(text, sizeof(text), PORT "[eal]\nextra_args = %.511s\n", v);
	expect_ok(&c, text);
	assert_int_equal(strlen(c.eal.extra_args), 511);
	snprintf(text, sizeof(text), PORT "[eal]\nextra_args = %.512s\n", v);
	expect_error(text,
		     "t.conf:5: key 'extra_args': value is too long (at most 511 characters)");
	snprintf(text, sizeof(text), "[port p0]\ndevice = %.255s\naddress = 10.0.0.1/24\n", v);
	expect_ok(&c, text);
	assert_int_equal(strlen(c.ports[0].device), 255);
	snprintf(text, sizeof(text), "[port p0]\ndevice = %.256s\n", v);
	expect_error(text, "t.conf:2: key 'device': value is too long (at most 255 characters)");
	snprintf(text, sizeof(text), "[port %.31s]\ndevice = x\naddress = 10.0.0.1/24\n", v);
	expect_ok(&c, text);
	assert_int_equal(strlen(c.ports[0].name), 31);
	snprintf(text, sizeof(text), "[port %.32s]\n", v);
	expect_error(text, "t.conf:1: invalid port name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': "
			   "expected 1..31 characters of A-Z a-z 0-9 _ -");
}

static void test_line_too_long(void **state)
{
	char *text = malloc(8192);

	(void)state;
	assert_non_null(text);
	strcpy(text, PORT "# ");
	memset(text + strlen(text), 'x', 5000);
	strcpy(text + strlen(PORT) + 2 + 5000, "\n");
	expect_error(text, "t.conf:4: line is too long (at most 4095 characters)");
	free(text);
}

static void test_too_many_ports(void **state)
{
	char text[1024];
	size_t off = 0;
	struct cw_config c;

	(void)state;
	for (unsigned i = 0; i < CW_MAX_PORTS; i++)
		off +=
		    (size_t)snprintf(text + off, sizeof(text) - off,
				     "[port p%u]\ndevice = d%u\naddress = 10.0.%u.1/24\n", i, i, i);
	expect_ok(&c, text);
	assert_int_equal(c.n_ports, CW_MAX_PORTS);
	assert_string_equal(c.ports[7].name, "p7");
	assert_int_equal(c.ports[7].addr, ip("10.0.7.1"));
	snprintf(text + off, sizeof(text) - off, "[port p8]\n");
	expect_error(text, "t.conf:25: too many [port NAME] sections (at most 8)");
}

static void test_number_forms(void **state)
{
	struct cw_config c;

	(void)state;
	/* decimal with leading zeros is still decimal, never octal */
	expect_ok(&c, PORT "[dataplane]\nburst = 010\necho_port = 65535\n"
			   "mbuf_pool_size = 1023\nstats_interval = 3600\n");
	assert_int_equal(c.dp.burst, 10);
	assert_int_equal(c.dp.echo_port, 65535);
	assert_int_equal(c.dp.mbuf_pool_size, 1023);
	assert_int_equal(c.dp.stats_interval, 3600);
	expect_ok(&c, "[port p0]\ndevice = x\naddress = 10.0.0.1/24\nmtu = 576\n"
		      "rx_desc = 64\ntx_desc = 16384\nvlan = 1\n[eal]\nmemory = 0\n");
	assert_int_equal(c.ports[0].mtu, 576);
	assert_int_equal(c.ports[0].rx_desc, 64);
	assert_int_equal(c.ports[0].tx_desc, 16384);
	assert_int_equal(c.ports[0].vlan, 1);
	assert_int_equal(c.eal.memory_mb, 0);
}

static void test_addresses(void **state)
{
	struct cw_config c;

	(void)state;
	/* /31 and /32 have no network or broadcast address */
	expect_ok(&c, "[port a]\ndevice = x\naddress = 10.0.0.0/31\ngateway = 10.0.0.1\n"
		      "[port b]\ndevice = y\naddress = 10.0.1.255/32\n"
		      "[port c]\ndevice = z\naddress = 0.0.0.1/1\ngateway = 127.255.255.254\n");
	assert_int_equal(c.ports[0].addr, ip("10.0.0.0"));
	assert_int_equal(c.ports[0].prefix_len, 31);
	assert_int_equal(c.ports[0].gateway, ip("10.0.0.1"));
	assert_int_equal(c.ports[1].addr, ip("10.0.1.255"));
	assert_int_equal(c.ports[1].prefix_len, 32);
	assert_int_equal(c.ports[2].gateway, ip("127.255.255.254"));
	/* the same address on two ports is refused even with other prefixes */
	expect_error("[port a]\ndevice = x\naddress = 10.0.0.1/8\n"
		     "[port b]\ndevice = y\naddress = 10.0.0.1/32\n",
		     "t.conf:6: key 'address': 10.0.0.1 is already used by port 'a'");
	expect_ok(&c, PORT "[dataplane]\nsocket_address = 255.255.255.255\n");
	assert_int_equal(c.dp.socket_addr, 0xffffffffu);
}

/* ---- lcore lists ---- */

/* [eal] lcores = @lcores and the workers that it defaults to. */
static void expect_lcores(const char *lcores, const uint32_t *want, unsigned n)
{
	char text[4096];
	struct cw_config c;

	snprintf(text, sizeof(text), PORT "[eal]\nlcores = %s\n", lcores);
	expect_ok(&c, text);
	assert_string_equal(c.eal.lcores, lcores);
	assert_int_equal(c.dp.n_workers, n);
	assert_memory_equal(c.dp.workers, want, n * sizeof(want[0]));
	for (unsigned i = n; i < CW_MAX_WORKERS; i++)
		assert_int_equal(c.dp.workers[i], 0);
}

static void test_lcores_valid(void **state)
{
	static const uint32_t w1[] = {1}, w23[] = {2, 3}, w1023[] = {1023}, w67[] = {6, 7},
			      w135[] = {1, 3, 4, 5, 9};

	(void)state;
	expect_lcores("0-1", w1, 1);
	expect_lcores("0,1", w1, 1);
	expect_lcores("0,2-3", w23, 2);
	expect_lcores("1,2,3", w23, 2);
	expect_lcores("5-7", w67, 2);
	expect_lcores("0,1023", w1023, 1);
	expect_lcores("1022-1023", w1023, 1);
	expect_lcores("00-01", w1, 1);
	expect_lcores("0-1,3-5,9", w135, 5);
}

static void expect_lcores_error(const char *lcores, const char *why)
{
	char text[512], msg[512];

	snprintf(text, sizeof(text), PORT "[eal]\nlcores = %s\n", lcores);
	snprintf(msg, sizeof(msg), "t.conf:5: key 'lcores': %s", why);
	expect_error(text, msg);
}

static void test_lcores_invalid(void **state)
{
	static const char *const syntax[] = {
	    ",",   "0,", ",0",	 "0,,1", "0--1", "0-1-2", "-1",	  "+1",	 "1a",
	    "0x1", "a",	 "0 ,1", "0, 1", "0-",	 "-",	  "1-2,", "0;1", "0-1 2",
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		snprintf(why, sizeof(why), "'%s' is not an lcore list like 0-1 or 0,2-3",
			 syntax[i]);
		expect_lcores_error(syntax[i], why);
	}
	expect_lcores_error("1024", "lcore 1024 is out of range 0..1023");
	expect_lcores_error("0-1024", "lcore 1024 is out of range 0..1023");
	expect_lcores_error("0,99999999999999999999",
			    "lcore 99999999999999999999 is out of range 0..1023");
	expect_lcores_error("3-1", "range 3-1 is reversed");
	expect_lcores_error("0,0", "lcore 0 is listed twice");
	expect_lcores_error("0-3,2", "lcore 2 is listed twice");
	expect_lcores_error("0-3,3-4", "lcore 3 is listed twice");
	expect_lcores_error("2,1", "lcore 1 is listed after 2: list lcores in ascending order");
	expect_lcores_error("0,4,2-5", "lcore 2 is listed after 4: list lcores in ascending order");
	/* the main lcore alone leaves nothing to poll the ports */
	expect_lcores_error("0", "'0' leaves no worker lcore: the first lcore is the main lcore");
	expect_lcores_error("7-7",
			    "'7-7' leaves no worker lcore: the first lcore is the main lcore");
	expect_lcores_error("0-65", "'0-65' gives 65 worker lcores, at most 64");
	/* all 1024 ids is a valid list but too long for the 128-byte field */
	expect_lcores_error(
	    "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,"
	    "27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49",
	    "value is too long (at most 127 characters)");
}

/* ---- workers ---- */

static void test_workers(void **state)
{
	static const uint32_t w2[] = {2}, w13[] = {1, 3};
	struct cw_config c;

	(void)state;
	expect_ok(&c, PORT "[eal]\nlcores = 0-3\n[dataplane]\nworkers = 1,3\n");
	assert_int_equal(c.dp.n_workers, 2);
	assert_memory_equal(c.dp.workers, w13, sizeof(w13));
	/* [eal] may come after [dataplane]: checked once the file is read */
	expect_ok(&c, PORT "[dataplane]\nworkers = 2\n[eal]\nlcores = 1-2\n");
	assert_int_equal(c.dp.n_workers, 1);
	assert_memory_equal(c.dp.workers, w2, sizeof(w2));
	/* explicit workers lift the limit on how many lcores EAL gets */
	expect_ok(&c, PORT "[eal]\nlcores = 0-99\n[dataplane]\nworkers = 1-64\n");
	assert_int_equal(c.dp.n_workers, 64);
	assert_int_equal(c.dp.workers[63], 64);
	expect_error(PORT "[eal]\nlcores = 0-99\n[dataplane]\nworkers = 1-65\n",
		     "t.conf:7: key 'workers': 65 lcores listed, at most 64");
	expect_error(
	    PORT "[dataplane]\nworkers = 0-1\n",
	    "t.conf:5: key 'workers': lcore 0 is the main lcore (the first of [eal] lcores)");
	expect_error(PORT "[dataplane]\nworkers = 1-2\n",
		     "t.conf:5: key 'workers': lcore 2 is not in [eal] lcores '0-1'");
	expect_error(PORT "[dataplane]\nworkers = 4\n\n[eal]\nlcores = 0-3\n",
		     "t.conf:5: key 'workers': lcore 4 is not in [eal] lcores '0-3'");
	expect_error(PORT "[eal]\nlcores = 2,4\n[dataplane]\nworkers = 3\n",
		     "t.conf:7: key 'workers': lcore 3 is not in [eal] lcores '2,4'");
	expect_error(
	    PORT "[eal]\nlcores = 2,4\n[dataplane]\nworkers = 2\n",
	    "t.conf:7: key 'workers': lcore 2 is the main lcore (the first of [eal] lcores)");
	expect_error(PORT "[dataplane]\nworkers = 1,1\n",
		     "t.conf:5: key 'workers': lcore 1 is listed twice");
	expect_error(PORT "[dataplane]\nworkers = x\n",
		     "t.conf:5: key 'workers': 'x' is not an lcore list like 0-1 or 0,2-3");
	/* a line error earlier in the file wins over the workers check */
	expect_error(PORT "[dataplane]\nworkers = 5\nburst = 0\n",
		     "t.conf:6: key 'burst': 0 is out of range 1..512");
	/* the workers check comes before the whole-file port check */
	expect_error("[dataplane]\nworkers = 5\n",
		     "t.conf:2: key 'workers': lcore 5 is not in [eal] lcores '0-1'");
	/* naming the default explicitly is the same as leaving it out */
	expect_ok(&c, PORT "[dataplane]\nworkers = 1\n");
	assert_int_equal(c.dp.n_workers, 1);
	assert_int_equal(c.dp.workers[0], 1);
}

/* ---- round trip ---- */

static void test_round_trip(void **state)
{
	struct cw_config c;

	(void)state;
	expect_ok(&c, full);
	assert_round_trip(&c);
	expect_ok(&c, PORT);
	assert_round_trip(&c);
	expect_ok(&c, "[dataplane]\nbackend = socket\n");
	assert_round_trip(&c);
	expect_ok(&c, PORT "[eal]\nlcores = 0,2-5,7,9-10\n");
	assert_round_trip(&c);
	assert_int_equal(c.dp.n_workers, 7);
	expect_ok(&c, PORT "[eal]\nlcores = 0-99\n[dataplane]\nworkers = 1-10,12,14-64\n");
	assert_round_trip(&c);
}

/* [route]: rules kept in file order with their lines; printed back. */
static void test_route_rules(void **state)
{
	struct cw_config c;
	const struct cw_route_conf *r = &c.route;

	(void)state;
	expect_ok(&c, PORT "[route]\n"
			   "rule = GET,HEAD ^/api/v1/namespaces/[^/]+/pods(/|$) hub\n"
			   "# secrets never leave the cloud\n"
			   "rule = *\t^/api/v1/secrets deny  # comment\n"
			   "rule = PATCH,PUT,POST,DELETE,OPTIONS .* upstream\n"
			   "default = deny\n");
	assert_int_equal(r->n_rules, 3);
	assert_int_equal(r->default_action, CW_ROUTE_DENY);
	assert_string_equal(r->rules[0].pattern, "^/api/v1/namespaces/[^/]+/pods(/|$)");
	assert_int_equal(r->rules[0].methods, CW_ROUTE_M_GET | CW_ROUTE_M_HEAD);
	assert_int_equal(r->rules[0].action, CW_ROUTE_HUB);
	assert_int_equal(r->rules[1].methods, CW_ROUTE_M_ANY);
	assert_string_equal(r->rules[1].pattern, "^/api/v1/secrets");
	assert_int_equal(r->rules[1].action, CW_ROUTE_DENY);
	assert_int_equal(r->rules[2].methods, CW_ROUTE_M_PATCH | CW_ROUTE_M_PUT | CW_ROUTE_M_POST |
						  CW_ROUTE_M_DELETE | CW_ROUTE_M_OPTIONS);
	assert_int_equal(r->rules[2].action, CW_ROUTE_UPSTREAM);
	assert_round_trip(&c);
}

/* One rule too many is refused on its own line. */
static void test_route_rule_limit(void **state)
{
	size_t cap = 64 + (CW_ROUTE_MAX_RULES + 1) * 32;
	char *text = malloc(cap), want[96];
	size_t n = (size_t)snprintf(text, cap, PORT "[route]\n");
	struct cw_config c;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i <= CW_ROUTE_MAX_RULES; i++)
		n += (size_t)snprintf(text + n, cap - n, "rule = GET ^/r%d hub\n", i);
	snprintf(want, sizeof(want), "t.conf:%d: key 'rule': more than %d rules",
		 5 + CW_ROUTE_MAX_RULES, CW_ROUTE_MAX_RULES);
	assert_int_equal(parse(&c, text), -EINVAL);
	assert_string_equal(err, want);
	free(text);
}

/* The printed text itself: every key, in a fixed order. */
static void test_print_text(void **state)
{
	static const char want[] = "# causewayd effective configuration\n"
				   "\n"
				   "[eal]\n"
				   "lcores = 0-1\n"
				   "cpus =\n"
				   "memory = 256\n"
				   "hugepages = auto\n"
				   "file_prefix = causeway\n"
				   "extra_args =\n"
				   "\n"
				   "[port p0]\n"
				   "device = net_null0\n"
				   "address = 10.0.0.1/24\n"
				   "# gateway: none\n"
				   "mtu = 1500\n"
				   "rx_desc = 1024\n"
				   "tx_desc = 1024\n"
				   "vlan = 0\n"
				   "\n"
				   "[dataplane]\n"
				   "workers = 1\n"
				   "burst = 32\n"
				   "mbuf_pool_size = 8191\n"
				   "mbuf_cache = 256\n"
				   "backend = dpdk\n"
				   "stats_interval = 10\n"
				   "echo_port = 0\n"
				   "socket_address = 0.0.0.0\n"
				   "neigh_timeout = 300\n"
				   "frag_timeout = 2000\n"
				   "frag_max_entries = 4096\n"
				   "mbuf_size = 2048\n"
				   "\n"
				   "[tunnel]\n"
				   "port = 0\n"
				   "cert =\n"
				   "key =\n"
				   "ca =\n"
				   "dictionary =\n"
				   "reset_key =\n"
				   "ticket_keys =\n"
				   "retry = under-load\n"
				   "retry_load = 256\n"
				   "max_sessions = 65536\n"
				   "idle_timeout = 90000\n"
				   "heartbeat_interval = 600\n"
				   "handshake_threads = 1\n"
				   "\n"
				   "[ingress]\n"
				   "listen = 127.0.0.1:10265\n"
				   "dial_timeout = 10000\n"
				   "head_timeout = 10000\n"
				   "max_clients = 4096\n"
				   "\n"
				   "[admin]\n"
				   "listen = 127.0.0.1:10267\n"
				   "\n"
				   "[upstream]\n"
				   "server =\n"
				   "ca =\n"
				   "cert =\n"
				   "key =\n"
				   "token_file =\n"
				   "timeout = 30000\n"
				   "max_requests = 1024\n"
				   "\n"
				   "[hub]\n"
				   "store =\n"
				   "resources = /api/v1/pods, /api/v1/nodes, /api/v1/services, "
				   "/api/v1/configmaps, /api/v1/secrets, "
				   "/apis/discovery.k8s.io/v1/endpointslices\n"
				   "map_size = 4096\n"
				   "history = 100000\n"
				   "\n"
				   "[route]\n"
				   "default = upstream\n"
				   "\n"
				   "[log]\n"
				   "level = info\n";
	struct cw_config c;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	expect_ok(&c, PORT);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	cw_config_print(&c, f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(text, want);
	free(text);
}

/* ---- the API around the parser ---- */

/* A failed parse (a SIGHUP reload, say) leaves the caller's config alone. */
static void test_error_leaves_config(void **state)
{
	struct cw_config c, before;

	(void)state;
	expect_ok(&c, full);
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(parse(&c, PORT "[dataplane]\nburst = 64\nmtu = 1\n"), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_err_buffer(void **state)
{
	struct cw_config c;
	char small[12];

	(void)state;
	/* truncated, but terminated */
	memset(small, 'x', sizeof(small));
	assert_int_equal(cw_config_parse(&c, "t.conf", "[foo]\n", small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "t.conf:1: u");
	/* no buffer at all */
	assert_int_equal(cw_config_parse(&c, "t.conf", "[foo]\n", NULL, 0), -EINVAL);
	/* the name is used exactly as given */
	assert_int_equal(cw_config_parse(&c, "../x/y.conf", "[foo]\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "../x/y.conf:1: unknown section 'foo'");
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
	char dir[] = "/tmp/cw-test-config-XXXXXX", path[64], msg[160];
	static const char nul[] = PORT "[dataplane]\nburst = 3\0"
				       "2\n";
	struct cw_config c;
	char *big;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	assert_int_equal(cw_config_load(&c, path, err, sizeof(err)), -ENOENT);
	snprintf(msg, sizeof(msg), "%s: No such file or directory", path);
	assert_string_equal(err, msg);

	assert_int_equal(cw_config_load(&c, dir, err, sizeof(err)), -EISDIR);
	snprintf(msg, sizeof(msg), "%s: Is a directory", dir);
	assert_string_equal(err, msg);

	snprintf(path, sizeof(path), "%s/ok.conf", dir);
	write_file(path, full, strlen(full));
	assert_int_equal(cw_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.dp.burst, 512);
	unlink(path);

	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	write_file(path, PORT "[dataplane]\nburst = 0\n", strlen(PORT) + 22);
	assert_int_equal(cw_config_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:5: key 'burst': 0 is out of range 1..512", path);
	assert_string_equal(err, msg);

	/* a NUL byte would end the text early: it is an error on its line */
	write_file(path, nul, sizeof(nul) - 1);
	assert_int_equal(cw_config_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:5: control character 0x00 in line", path);
	assert_string_equal(err, msg);
	unlink(path);

	/* a config file larger than 1 MiB is a mistake, not something to read */
	big = malloc(1024 * 1024 + 1);
	assert_non_null(big);
	memset(big, '#', 1024 * 1024 + 1);
	write_file(path, big, 1024 * 1024);
	assert_int_equal(cw_config_load(&c, path, err, sizeof(err)), -EINVAL);
	write_file(path, big, 1024 * 1024 + 1);
	assert_int_equal(cw_config_load(&c, path, err, sizeof(err)), -EFBIG);
	snprintf(msg, sizeof(msg), "%s: File too large", path);
	assert_string_equal(err, msg);
	free(big);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_minimal_file),
	    cmocka_unit_test(test_socket_backend_needs_no_port),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_enum_values),
	    cmocka_unit_test(test_example_file),
	    cmocka_unit_test(test_comments_and_whitespace),
	    cmocka_unit_test(test_order_and_equals),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_tunnel_sections),
	    cmocka_unit_test(test_length_limits),
	    cmocka_unit_test(test_line_too_long),
	    cmocka_unit_test(test_too_many_ports),
	    cmocka_unit_test(test_number_forms),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_lcores_valid),
	    cmocka_unit_test(test_lcores_invalid),
	    cmocka_unit_test(test_workers),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_route_rules),
	    cmocka_unit_test(test_route_rule_limit),
	    cmocka_unit_test(test_print_text),
	    cmocka_unit_test(test_error_leaves_config),
	    cmocka_unit_test(test_err_buffer),
	    cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
