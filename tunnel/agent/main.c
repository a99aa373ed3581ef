/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-agent: the edge side of the Causeway tunnel. It dials out to
 * the gateway (uplink.c), serves the gateway's dial streams to local
 * ports on its allow-list (dial.c), serves the node's Kubernetes API
 * through the tunnel (edgehub.c) and keeps its writes while the API
 * server cannot be reached (writereplay.c), and answers health and status
 * questions locally (admin.c).
 *
 *   causeway-agent -c FILE           run
 *   causeway-agent --check -c FILE   check FILE, print the effective
 *                                    configuration, exit 0 (or 2)
 *
 * Exit status: 0 after SIGINT/SIGTERM (Close(SHUTDOWN) sent to the
 * gateway), 2 for a bad command line or configuration (FILE:LINE: ...),
 * 1 when startup fails otherwise (certificate, dictionary, admin address).
 * SIGHUP reloads the reloadable keys ([dial] allow, [log] level).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>
#include <zstd.h>

#include "admin.h"
#include "control/agent_config.h"
#include "log.h"
#include "node.h"
#include "tunnel/tls.h"
#include "uplink.h"
#include "writereplay.h"

#define AGENT_VERSION  "0.1.0"
#define DICT_FILE_MAX  (1u << 20)
#define EDGE_CACHE_MAP ((size_t)1 << 30) /* the edge cache's size limit */
#define EDGE_STORE_MAP ((size_t)1 << 30) /* the edge store's (views') size limit */
#define EXIT_CONFIG    2
#define EXIT_STARTUP   1

struct agent {
	const char *path;
	struct cw_agent_config conf;
	struct event_base *base;
	struct cw_uplink *up;
	struct cw_admin *admin;
	struct cw_edgehub *hub;
	struct cw_edgecache *cache; /* NULL when [agent] cache_dir cannot be opened */
	struct cw_writeq *writes;   /* NULL when cache_dir/writes cannot be opened */
	struct cw_writereplay *replay;
	struct cw_edgestore *store; /* cache_dir/objects; NULL when it cannot be opened */
	char node_name[CW_TLS_NODE_NAME_MAX + 1];
};

static void usage(FILE *out)
{
	fprintf(out, "usage: causeway-agent [--check] -c FILE\n"
		     "  -c, --config FILE  the agent configuration (conf/agent.conf documents it)\n"
		     "      --check        check FILE, print the effective configuration, exit\n"
		     "  -V, --version      print the version\n");
}

/* The node name: the configured one, else the one in the certificate. */
static int resolve_node_name(struct agent *ag)
{
	struct cw_tls_pem cert = {.path = ag->conf.tls.cert_file};
	int r;

	if (ag->conf.agent.node_name[0]) {
		snprintf(ag->node_name, sizeof(ag->node_name), "%s", ag->conf.agent.node_name);
		return 0;
	}
	r = cw_tls_cert_node_name(&cert, ag->node_name);
	if (r)
		cw_aerr("%s: no node name (CN=node:NAME or SAN URI causeway:node:NAME): %s",
			ag->conf.tls.cert_file, r == -EACCES ? "none valid" : "cannot read");
	return r;
}

/* The id of the [agent] dictionary offered in Hello; 0 without one. */
static int dictionary_id(const char *path, uint32_t *id)
{
	FILE *f;
	uint8_t *buf;
	size_t len;
	int r = 0;

	*id = 0;
	if (!path[0])
		return 0;
	f = fopen(path, "rb");
	buf = malloc(DICT_FILE_MAX + 1);
	if (!f || !buf) {
		r = f ? -ENOMEM : -errno;
	} else {
		len = fread(buf, 1, DICT_FILE_MAX + 1, f);
		if (ferror(f))
			r = -EIO;
		else if (len > DICT_FILE_MAX)
			r = -EFBIG;
		else if (!(*id = ZSTD_getDictID_fromDict(buf, len)))
			r = -EBADMSG;
	}
	if (f)
		fclose(f);
	free(buf);
	if (r)
		cw_aerr("dictionary %s: %s", path,
			r == -EBADMSG ? "not a zstd dictionary" : strerror(-r));
	return r;
}

static void on_stopped(void *arg)
{
	struct agent *ag = arg;

	event_base_loopexit(ag->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *ag = arg;

	(void)what;
	cw_ainfo("signal %d: stopping", (int)sig);
	cw_uplink_stop(ag->up, on_stopped, ag);
}

/* SIGHUP: the reloadable keys only; the rest need a restart. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct agent *ag = arg;
	char err[CW_AGENT_CONF_ERR_LEN];
	struct cw_agent_config *c = malloc(sizeof(*c));

	(void)sig;
	(void)what;
	if (!c)
		return;
	if (cw_agent_config_load(c, ag->path, err, sizeof(err)) == 0) {
		ag->conf.dial.n_allow = c->dial.n_allow;
		memcpy(ag->conf.dial.allow, c->dial.allow, sizeof(c->dial.allow));
		ag->conf.log_level = c->log_level;
		cw_alog_set_level(c->log_level);
		cw_ainfo("reloaded %s: [dial] allow (%u entries), [log] level", ag->path,
			 c->dial.n_allow);
	} else {
		cw_aerr("reload refused, keeping the running configuration: %s", err);
	}
	free(c);
}

/* The offline write queue in cache_dir/writes; without it writes that
 * cannot go through get 503. */
static int open_writes(struct agent *ag)
{
	const struct cw_agent_hub_conf *h = &ag->conf.hub;
	char dir[CW_AGENT_PATH_LEN + 8];
	int r;

	if (!ag->hub)
		return 0;
	snprintf(dir, sizeof(dir), "%s/writes", ag->conf.agent.cache_dir);
	r = cw_writeq_open(dir, h->queue_max_entries, (uint64_t)h->queue_max_mb << 20, &ag->writes);
	if (r < 0) {
		cw_awarn("edge hub: write queue %s: %s: writes need the gateway", dir,
			 strerror(-r));
		return 0;
	}
	if (cw_writeq_depth(ag->writes))
		cw_ainfo("edge hub: %u writes queued, replayed when the gateway is reached",
			 cw_writeq_depth(ag->writes));
	r = cw_writereplay_new(ag->base, ag->writes, ag->node_name, &ag->replay);
	if (r < 0)
		return r;
	cw_edgehub_set_queue(ag->hub, ag->replay);
	return 0;
}

/* The views' store next to the cache (edgestore.h); without it the
 * cache keeps answers by URI only. */
static void open_store(struct agent *ag)
{
	char dir[CW_AGENT_PATH_LEN + sizeof("/objects")];
	int r;

	if (!ag->cache)
		return;
	snprintf(dir, sizeof(dir), "%s/objects", ag->conf.agent.cache_dir);
	r = cw_edgestore_open(dir, EDGE_STORE_MAP, ag->cache, &ag->store);
	if (r < 0)
		cw_awarn("edge hub: store %s: %s: lists and watches are not kept", dir,
			 strerror(-r));
}

static int run(struct agent *ag)
{
	struct cw_uplink_cfg uc = {.conf = &ag->conf, .agent_version = AGENT_VERSION};
	struct event *sig[3] = {NULL};
	int r, rc = EXIT_STARTUP;

	cw_alog_set_level(ag->conf.log_level);
	if (resolve_node_name(ag) || dictionary_id(ag->conf.agent.dictionary, &uc.dict_id))
		return EXIT_STARTUP;
	if (RAND_bytes(uc.boot_id, sizeof(uc.boot_id)) != 1) {
		cw_aerr("no randomness for the boot id");
		return EXIT_STARTUP;
	}
	cw_node_capacity(ag->conf.agent.cache_dir, &uc.capacity);
	signal(SIGPIPE, SIG_IGN);
	ag->base = event_base_new();
	if (!ag->base)
		return EXIT_STARTUP;
	uc.base = ag->base;
	uc.node_name = ag->node_name;
	sig[0] = evsignal_new(ag->base, SIGINT, on_signal, ag);
	sig[1] = evsignal_new(ag->base, SIGTERM, on_signal, ag);
	sig[2] = evsignal_new(ag->base, SIGHUP, on_hup, ag);
	r = cw_edgecache_open(ag->conf.agent.cache_dir, EDGE_CACHE_MAP, &ag->cache);
	if (r < 0)
		cw_awarn("edge hub: cache %s: %s: the node's reads are not kept",
			 ag->conf.agent.cache_dir, strerror(-r));
	open_store(ag);
	if (cw_edgehub_new(ag->base, &ag->conf.hub.listen, ag->cache, ag->store, &ag->hub) < 0 ||
	    open_writes(ag) < 0) {
		cw_edgehub_free(ag->hub);
		cw_writeq_close(ag->writes);
		cw_edgestore_close(ag->store);
		cw_edgecache_close(ag->cache);
		event_base_free(ag->base);
		return EXIT_STARTUP;
	}
	uc.hub = ag->hub;
	ag->up = cw_uplink_new(&uc);
	if (ag->up && sig[0] && sig[1] && sig[2] && !evsignal_add(sig[0], NULL) &&
	    !evsignal_add(sig[1], NULL) && !evsignal_add(sig[2], NULL)) {
		r = cw_admin_new(ag->base, &ag->conf.admin, ag->up, ag->node_name, ag->hub,
				 ag->replay, &ag->admin);
		if (r == 0) {
			cw_ainfo("node %s, version %s, %u gateway address(es)", ag->node_name,
				 AGENT_VERSION, ag->conf.gateway.n_addrs);
			rc = event_base_dispatch(ag->base) < 0 ? EXIT_STARTUP : 0;
		}
	}
	cw_admin_free(ag->admin);
	cw_uplink_free(ag->up);
	cw_edgehub_free(ag->hub);
	cw_writereplay_free(ag->replay);
	cw_writeq_close(ag->writes);
	cw_edgestore_close(ag->store);
	cw_edgecache_close(ag->cache);
	for (int i = 0; i < 3; i++)
		if (sig[i])
			event_free(sig[i]);
	event_base_free(ag->base);
	return rc;
}

int main(int argc, char **argv)
{
	static struct agent ag;
	char err[CW_AGENT_CONF_ERR_LEN];
	bool check = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check")) {
			check = true;
		} else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
			   i + 1 < argc) {
			ag.path = argv[++i];
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("causeway-agent %s\n", AGENT_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "causeway-agent: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	if (!ag.path) {
		usage(stderr);
		return EXIT_CONFIG;
	}
	if (cw_agent_config_load(&ag.conf, ag.path, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_CONFIG;
	}
	if (check) {
		cw_agent_config_print(&ag.conf, stdout);
		return 0;
	}
	return run(&ag);
}
