/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causewayd configuration: an INI file (conf/causeway.conf documents every
 * key). Parsing is strict: an unknown section or key, a malformed value or an
 * out-of-range number is an error naming FILE:LINE and the key, so an
 * operator never runs with a setting silently ignored.
 */
#ifndef CW_CONFIG_H
#define CW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "control/ini.h"
#include "control/route.h"

#define CW_MAX_PORTS	8
#define CW_MAX_WORKERS	64
#define CW_NAME_LEN	32
#define CW_DEVICE_LEN	256
#define CW_EAL_ARGS_LEN 512
#define CW_CONF_ERR_LEN 512
#define CW_PATH_LEN	1024

enum cw_backend { CW_BACKEND_DPDK = 0, CW_BACKEND_SOCKET = 1 };
enum cw_hugepages { CW_HUGE_AUTO = 0, CW_HUGE_YES = 1, CW_HUGE_NO = 2 };

struct cw_eal_conf {
	char lcores[128];		  /* EAL -l list; first lcore is the main lcore */
	char cpus[128];			  /* "": lcore N runs on CPU N; else the CPUs all share */
	uint32_t memory_mb;		  /* EAL -m; 0 = EAL default */
	enum cw_hugepages hugepages;	  /* auto: use them when any are reserved */
	char file_prefix[64];		  /* EAL --file-prefix */
	char extra_args[CW_EAL_ARGS_LEN]; /* appended verbatim, split on blanks */
};

struct cw_port_conf {
	char name[CW_NAME_LEN];	    /* from the section header [port NAME] */
	char device[CW_DEVICE_LEN]; /* PCI address or vdev string */
	uint32_t addr;		    /* IPv4, network byte order */
	uint8_t prefix_len;	    /* 1..32 */
	uint32_t gateway;	    /* network byte order; 0 = none */
	uint16_t mtu;		    /* 576..9000 */
	uint16_t rx_desc, tx_desc;  /* power of two, 64..16384 */
	uint16_t vlan;		    /* 0 = untagged, else 1..4094: tag used on TX */
};

struct cw_dataplane_conf {
	uint32_t workers[CW_MAX_WORKERS]; /* worker lcore ids */
	uint32_t n_workers;
	uint16_t burst;		 /* 1..512 */
	uint32_t mbuf_pool_size; /* mbufs per pool, 1023..16777215 */
	uint32_t mbuf_cache;	 /* per-lcore mempool cache, 0..512 */
	enum cw_backend backend;
	uint32_t stats_interval;   /* seconds, 0 = only on exit */
	uint16_t echo_port;	   /* 0 = echo handler off */
	uint32_t socket_addr;	   /* socket backend bind address, net order */
	uint32_t neigh_timeout;	   /* seconds a resolved neighbour stays valid */
	uint32_t frag_timeout_ms;  /* reassembly timeout */
	uint32_t frag_max_entries; /* concurrent datagrams being reassembled */
	uint32_t mbuf_size;	   /* packet bytes per mbuf, headroom excluded */
};

enum cw_retry_mode { CW_RETRY_MODE_NEVER = 0, CW_RETRY_MODE_ALWAYS, CW_RETRY_MODE_UNDER_LOAD };

/* The tunnel endpoint (tunnel/PROTOCOL.md); port 0 turns it off. */
struct cw_tunnel_conf {
	uint16_t port;		       /* UDP port agents dial; 0 = no tunnel */
	char cert[CW_PATH_LEN];	       /* gateway certificate chain, PEM */
	char key[CW_PATH_LEN];	       /* its private key, PEM */
	char ca[CW_PATH_LEN];	       /* CA that signs agent certificates, PEM */
	char dictionary[CW_PATH_LEN];  /* zstd dictionary offered to agents; "" = none */
	char reset_key[CW_PATH_LEN];   /* stateless reset key file; "" = no resets */
	char ticket_keys[CW_PATH_LEN]; /* session ticket keys file; "" = memory only */
	enum cw_retry_mode retry;
	uint32_t retry_load;	  /* under-load: handshakes in progress per worker */
	uint32_t max_sessions;	  /* per worker */
	uint32_t idle_timeout_ms; /* offered to agents */
	uint32_t heartbeat_interval_s;
	uint32_t handshake_threads; /* 0: handshakes run on the workers */
};

#define CW_MAX_HS_THREADS 8

/* The cloud ingress (DESIGN.md §6): HTTP CONNECT and forward proxy. */
struct cw_ingress_conf {
	struct cw_ini_listen listen;
	uint32_t dial_timeout_ms; /* the agent's connect, and our wait for it */
	uint32_t head_timeout_ms; /* for a client's request head */
	uint32_t max_clients;
};

/* The Kubernetes API server behind the gateway (the upstream route). */
struct cw_upstream_conf {
	char server[CW_PATH_LEN];     /* http(s)://host[:port]; "" = none */
	char ca[CW_PATH_LEN];	      /* CA of its certificate, PEM; "" = the system's */
	char cert[CW_PATH_LEN];	      /* client certificate, PEM; "" = none */
	char key[CW_PATH_LEN];	      /* its key */
	char token_file[CW_PATH_LEN]; /* bearer token, read at start; "" = none */
	uint32_t timeout_ms;	      /* a request's total time, watches excepted */
	uint32_t max_requests;	      /* in flight at once */
};

#define CW_HUB_RESOURCES_MAX 16
#define CW_HUB_PATH_LEN	     128

/* The cloud hub (DESIGN.md §5): resources reflected from the upstream. */
struct cw_hub_conf {
	char store[CW_PATH_LEN]; /* LMDB directory; "" = no hub */
	char resources[CW_HUB_RESOURCES_MAX][CW_HUB_PATH_LEN]; /* API paths */
	uint32_t n_resources;
	uint32_t map_size_mb; /* the store's size limit */
	uint32_t history;     /* events kept per resource for watches to resume */
};

/* The admin API: health, status JSON, metrics. */
struct cw_admin_conf {
	struct cw_ini_listen listen;
};

enum cw_log_level { CW_LOG_ERR = 0, CW_LOG_WARN, CW_LOG_INFO, CW_LOG_DEBUG };

struct cw_log_conf {
	enum cw_log_level level;
};

struct cw_config {
	struct cw_eal_conf eal;
	struct cw_port_conf ports[CW_MAX_PORTS];
	uint32_t n_ports;
	struct cw_dataplane_conf dp;
	struct cw_tunnel_conf tunnel;
	struct cw_ingress_conf ingress;
	struct cw_admin_conf admin;
	struct cw_upstream_conf upstream;
	struct cw_hub_conf hub;
	struct cw_route_conf route; /* reloads on SIGHUP */
	struct cw_log_conf log;
};

/* Fill @c with the documented defaults (the same as conf/causeway.conf). */
void cw_config_defaults(struct cw_config *c);

/*
 * Parse the file at @path into @c (defaults first, then the file).
 * Returns 0, or -EINVAL for a bad file with "FILE:LINE: key 'x': reason"
 * (or "FILE:LINE: reason" for lines without a key) in @err, or -errno when
 * the file cannot be read (with the reason in @err).
 */
int cw_config_load(struct cw_config *c, const char *path, char *err, size_t errlen);

/* Same as cw_config_load, from a string; @name is used in messages. */
int cw_config_parse(struct cw_config *c, const char *name, const char *text, char *err,
		    size_t errlen);

/* Print the effective configuration as a valid INI file. */
void cw_config_print(const struct cw_config *c, FILE *out);

#endif
