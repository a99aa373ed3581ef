/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-agent configuration: an INI file on the engine of control/ini.h
 * (conf/agent.conf documents every key). Strict like causewayd's: an
 * unknown section or key, a malformed value or an out-of-range number is an
 * error "FILE:LINE: key 'x': reason", and the agent exits 2 before dialing.
 *
 * Defaults follow tunnel/PROTOCOL.md: gateway port 10262 (§1), keepalive
 * and idle timeout (§11.1), reconnect backoff (§11.6), the Dial allow-list
 * and connect timeout (§13.5), the edge hub on 127.0.0.1:10261 (DESIGN.md
 * §5).
 */
#ifndef CW_AGENT_CONFIG_H
#define CW_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "control/ini.h"

#define CW_AGENT_GATEWAY_PORT  10262 /* PROTOCOL.md §1 */
#define CW_AGENT_MAX_GATEWAYS  8
#define CW_AGENT_MAX_LABELS    32
#define CW_AGENT_MAX_ALLOW     64  /* Hello.allowed_ports holds at most 64 */
#define CW_AGENT_HOST_LEN      254 /* DNS name of at most 253 characters */
#define CW_AGENT_NAME_LEN      254 /* Kubernetes node / pool name, at most 253 */
#define CW_AGENT_LABEL_KEY_LEN 318 /* prefix (253) '/' name (63) */
#define CW_AGENT_LABEL_VAL_LEN 64
#define CW_AGENT_PATH_LEN      1024
#define CW_AGENT_CONF_ERR_LEN  512

/*
 * A host and port. @host is a DNS name, an IPv4 literal or an IPv6 literal
 * (kept without the brackets the file writes around it).
 */
struct cw_agent_endpoint {
	char host[CW_AGENT_HOST_LEN];
	uint16_t port;
};

struct cw_agent_label {
	char key[CW_AGENT_LABEL_KEY_LEN];
	char value[CW_AGENT_LABEL_VAL_LEN];
};

struct cw_agent_node_conf {
	char node_name[CW_AGENT_NAME_LEN]; /* "" = the name in the certificate */
	char pool[CW_AGENT_NAME_LEN];	   /* "" = the gateway decides by labels */
	struct cw_agent_label labels[CW_AGENT_MAX_LABELS];
	uint32_t n_labels;
	char cache_dir[CW_AGENT_PATH_LEN];  /* the edge hub's LMDB environment */
	char dictionary[CW_AGENT_PATH_LEN]; /* zstd dictionary; "" = none */
};

struct cw_agent_gateway_conf {
	struct cw_agent_endpoint addrs[CW_AGENT_MAX_GATEWAYS]; /* tried in order */
	uint32_t n_addrs;
	char server_name[CW_AGENT_HOST_LEN]; /* "" = the host dialed */
	char ca_file[CW_AGENT_PATH_LEN];
};

struct cw_agent_tls_conf {
	char cert_file[CW_AGENT_PATH_LEN];
	char key_file[CW_AGENT_PATH_LEN];
	char ticket_file[CW_AGENT_PATH_LEN]; /* "" = tickets are not kept on disk */
};

struct cw_agent_dial_conf {
	struct cw_agent_endpoint allow[CW_AGENT_MAX_ALLOW];
	uint32_t n_allow;
	uint32_t connect_timeout_ms; /* when Dial.timeout_ms is 0 */
};

struct cw_agent_keepalive_conf {
	uint32_t idle_timeout_ms;      /* offered; the session uses the smaller one */
	uint32_t interval_ms;	       /* K = min(interval_ms, idle timeout / 3) */
	uint32_t heartbeat_interval_s; /* status Heartbeat at least this often */
};

struct cw_agent_hub_conf {
	struct cw_ini_listen listen;
	uint32_t queue_max_entries; /* the offline write queue's bounds */
	uint32_t queue_max_mb;
};

enum cw_agent_jitter { CW_AGENT_JITTER_FULL = 0, CW_AGENT_JITTER_NONE = 1 };

struct cw_agent_reconnect_conf {
	uint32_t initial_ms;	     /* first delay; doubles per failed attempt */
	uint32_t max_ms;	     /* cap of the delay */
	enum cw_agent_jitter jitter; /* full: each delay uniform in [0, current] */
	uint32_t reset_after_ms;     /* a session this long restarts the backoff */
};

enum cw_agent_log_level {
	CW_AGENT_LOG_ERR = 0,
	CW_AGENT_LOG_WARN,
	CW_AGENT_LOG_INFO,
	CW_AGENT_LOG_DEBUG
};

struct cw_agent_config {
	struct cw_agent_node_conf agent;
	struct cw_agent_gateway_conf gateway;
	struct cw_agent_tls_conf tls;
	struct cw_agent_dial_conf dial;
	struct cw_ini_listen admin; /* [admin] listen */
	struct cw_agent_hub_conf hub;
	struct cw_agent_keepalive_conf keepalive;
	struct cw_agent_reconnect_conf reconnect;
	enum cw_agent_log_level log_level;
};

/*
 * Fill @c with the documented defaults (those of conf/agent.conf). Leaves
 * no gateway address: [gateway] address is required.
 */
void cw_agent_config_defaults(struct cw_agent_config *c);

/*
 * Parse @text (defaults first, then the text) into @c; @name is used in
 * messages. @c is written only on success. Returns 0, -EINVAL with
 * "NAME:LINE: key 'x': reason" (or "NAME:LINE: reason", "NAME: reason")
 * in @err, or -ENOMEM.
 */
int cw_agent_config_parse(struct cw_agent_config *c, const char *name, const char *text, char *err,
			  size_t errlen);

/* Same from the file at @path; -errno / -EFBIG when it cannot be read. */
int cw_agent_config_load(struct cw_agent_config *c, const char *path, char *err, size_t errlen);

/* Print the effective configuration as a valid INI file that parses back to @c. */
void cw_agent_config_print(const struct cw_agent_config *c, FILE *out);

/*
 * Whether the allow-list permits a Dial to @host:@port (@host "" means
 * 127.0.0.1, as PROTOCOL.md §13.5). Hosts compare as written, ignoring case.
 */
bool cw_agent_dial_allowed(const struct cw_agent_dial_conf *d, const char *host, uint16_t port);

#endif
