/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causewayd: configuration, EAL, ports and workers; the main lcore prints
 * statistics until SIGINT/SIGTERM, then drains and shuts down.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <urcu-qsbr.h>

#include "control/config.h"
#include "control/plane.h"
#include "dp.h"
#include "eal.h"
#include "echo.h"
#include "log.h"
#include "port.h"
#include "sockio.h"
#include "stats.h"
#include "tunnel_svc.h"
#include "worker.h"

#define CW_DEFAULT_CONF	  "/etc/causeway/causeway.conf"
#define CW_EXIT_CONFIG	  2
#define CW_INDIRECT_RATIO 4 /* indirect mbufs per direct one: fragments only */

volatile bool cw_quit;
static volatile sig_atomic_t cw_reload;
static const char *cw_conf_path;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		cw_reload = 1;
	else
		__atomic_store_n(&cw_quit, true, __ATOMIC_RELAXED);
}

/*
 * SIGHUP: re-read the file. The log level and the [route] rules apply
 * live; a bad file changes nothing, and other changes wait for a restart,
 * as documented in conf/causeway.conf.
 */
static void reload(const struct cw_config *running, struct cw_tunnel_svc *tsvc)
{
	static struct cw_config next;
	char err[CW_CONF_ERR_LEN];

	cw_reload = 0;
	if (cw_config_load(&next, cw_conf_path, err, sizeof(err)) < 0) {
		cw_err("reload refused, configuration unchanged: %s", err);
		return;
	}
	if (tsvc && cw_tunnel_svc_set_routes(tsvc, &next.route, err, sizeof(err)) < 0) {
		cw_err("reload refused, configuration unchanged: %s", err);
		return;
	}
	if (tsvc)
		cw_info("routes: %u rules, default %s", next.route.n_rules,
			cw_route_action_name(next.route.default_action));
	cw_log_set_level(next.log.level);
	next.log = running->log;
	next.route = running->route;
	if (memcmp(&next, running, sizeof(next)) != 0)
		cw_warn("reload: restart-only settings changed in %s; restart to apply them",
			cw_conf_path);
	cw_info("reloaded %s", cw_conf_path);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: causewayd [-c FILE] [--check]\n"
		     "  -c, --config FILE  configuration (default " CW_DEFAULT_CONF ")\n"
		     "  --check            validate FILE, print the effective configuration, "
		     "exit\n"
		     "exit status: 0 ok, 1 runtime failure, 2 configuration error\n");
}

static int parse_args(int argc, char **argv, const char **conf, bool *check)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check", no_argument, NULL, 'k'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int o;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			*conf = optarg;
			break;
		case 'k':
			*check = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int eal_start(const struct cw_config *c)
{
	struct cw_eal_args a;
	int rc = cw_eal_args_build(c, cw_eal_huge_available(), &a);

	if (rc < 0) {
		cw_err("EAL arguments too long");
		return rc;
	}
	for (int i = 1; i < a.argc; i++)
		cw_debug("EAL arg: %s", a.argv[i]);
	rc = rte_eal_init(a.argc, a.argv);
	if (rc < 0) {
		cw_err("EAL init failed: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

static int pools_create(struct cw_dp *dp)
{
	const struct cw_config *c = dp->conf;
	uint32_t data = c->dp.mbuf_size;
	int socket = (int)rte_socket_id();
	uint32_t room;

	/* A whole frame of the largest MTU (with a VLAN tag) in one buffer. */
	for (unsigned i = 0; i < c->n_ports; i++)
		data = RTE_MAX(data, (uint32_t)c->ports[i].mtu + RTE_ETHER_HDR_LEN + 4);
	room = RTE_PKTMBUF_HEADROOM + data;
	dp->pool = rte_pktmbuf_pool_create("cw_pkt", c->dp.mbuf_pool_size, c->dp.mbuf_cache, 0,
					   (uint16_t)room, socket);
	if (!dp->pool) {
		cw_err("cannot create the mbuf pool (%u mbufs of %u bytes): %s; raise [eal] memory",
		       c->dp.mbuf_pool_size, room, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (c->dp.backend == CW_BACKEND_SOCKET)
		return 0;
	dp->indirect =
	    rte_pktmbuf_pool_create("cw_indirect", c->dp.mbuf_pool_size * CW_INDIRECT_RATIO,
				    c->dp.mbuf_cache, 0, 0, socket);
	if (!dp->indirect) {
		cw_err("cannot create the indirect mbuf pool: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

static int workers_create(struct cw_dp *dp)
{
	const struct cw_dataplane_conf *c = &dp->conf->dp;

	dp->counters =
	    rte_zmalloc("cw_counters", sizeof(*dp->counters) * c->n_workers, RTE_CACHE_LINE_SIZE);
	if (!dp->counters)
		return -ENOMEM;
	for (unsigned i = 0; i < c->n_workers; i++) {
		unsigned lcore = c->workers[i];

		if (!rte_lcore_is_enabled(lcore) || lcore == rte_get_main_lcore()) {
			cw_err("worker lcore %u is not an EAL worker lcore", lcore);
			return -EINVAL;
		}
		dp->lcores[i] = lcore;
		if (c->backend == CW_BACKEND_SOCKET)
			dp->workers[i] = cw_sock_worker_create(dp, i, lcore);
		else
			dp->workers[i] = cw_worker_create(dp, i, lcore);
		if (!dp->workers[i])
			return -ENOMEM;
		dp->n_workers = i + 1;
	}
	return 0;
}

static void workers_free(struct cw_dp *dp)
{
	for (unsigned i = 0; i < dp->n_workers; i++) {
		if (dp->conf->dp.backend == CW_BACKEND_SOCKET)
			cw_sock_worker_free(dp->workers[i]);
		else
			cw_worker_free(dp->workers[i]);
	}
	dp->n_workers = 0;
	rte_free(dp->counters);
}

static int handlers_register(struct cw_dp *dp, struct cw_tunnel_svc **tsvc)
{
	struct cw_handler h;
	int rc;

	if (dp->conf->dp.echo_port) {
		cw_echo_handler(&h, dp->conf->dp.echo_port);
		rc = cw_handlers_add(&dp->handlers, &h);
		if (rc < 0)
			return rc;
		cw_info("echo service on UDP port %u", h.udp_port);
	}
	if (!dp->conf->tunnel.port)
		return 0;
	rc = cw_tunnel_svc_create(dp, tsvc);
	if (rc < 0)
		return rc;
	cw_tunnel_svc_handler(*tsvc, &h);
	rc = cw_handlers_add(&dp->handlers, &h);
	if (rc < 0) {
		cw_err("tunnel: UDP port %u is taken by another handler", h.udp_port);
		return rc;
	}
	cw_info("tunnel on UDP port %u", h.udp_port);
	return 0;
}

/* A worker as an RCU reader of the tables the control thread publishes. */
struct launch {
	lcore_function_t *fn;
	void *arg;
};

static int worker_rcu_main(void *p)
{
	const struct launch *l = p;
	int rc;

	rcu_register_thread();
	rc = l->fn(l->arg);
	rcu_unregister_thread();
	return rc;
}

/*
 * Workers that run the tunnel read its route table under QSBR RCU: they
 * register, and the tunnel's poll reports their quiescent states. Without
 * the tunnel they must not register: nothing would report for them.
 */
static void workers_launch(struct cw_dp *dp, bool rcu)
{
	static struct launch l[CW_MAX_WORKERS];
	lcore_function_t *fn =
	    dp->conf->dp.backend == CW_BACKEND_SOCKET ? cw_sock_worker_main : cw_worker_main;

	dp->rcu_workers = rcu;
	for (unsigned i = 0; i < dp->n_workers; i++) {
		l[i] = (struct launch){fn, dp->workers[i]};
		if (rcu)
			rte_eal_remote_launch(worker_rcu_main, &l[i], dp->lcores[i]);
		else
			rte_eal_remote_launch(fn, dp->workers[i], dp->lcores[i]);
	}
}

struct main_ctx {
	struct cw_dp *dp;
	struct cw_tunnel_svc *tsvc;
	struct cw_plane *plane;
	struct cw_stats_snap *snap;
	uint64_t interval, next;
};

/* The control thread's tick: signals, reload, statistics. */
static void main_tick(void *arg)
{
	struct main_ctx *m = arg;

	if (__atomic_load_n(&cw_quit, __ATOMIC_RELAXED)) {
		cw_plane_stop(m->plane);
		return;
	}
	if (cw_reload)
		reload(m->dp->conf, m->tsvc);
	if (m->interval && rte_rdtsc() >= m->next) {
		cw_stats_print(m->dp, m->snap, stdout);
		m->next += m->interval;
	}
}

static int run(struct cw_dp *dp, struct cw_tunnel_svc **tsvc)
{
	static struct cw_stats_snap snap;
	static struct cw_plane plane;
	struct main_ctx m = {.dp = dp, .plane = &plane, .snap = &snap};
	int rc;

	dp->tsc_hz = rte_get_tsc_hz();
	rc = pools_create(dp);
	rc = rc ? rc : handlers_register(dp, tsvc);
	if (!rc && dp->conf->dp.backend == CW_BACKEND_DPDK)
		rc = cw_ports_start(dp);
	rc = rc ? rc : workers_create(dp);
	if (!rc && cw_stats_telemetry_init(dp) < 0)
		cw_warn("telemetry command /causeway/stats not registered");
	if (rc < 0)
		return rc;
	m.tsvc = *tsvc;
	rc = cw_plane_init(&plane, dp->conf, *tsvc, main_tick, &m);
	if (rc < 0) {
		cw_plane_fini(&plane);
		return rc;
	}
	plane.ctr = dp->counters;
	plane.n_ctr = dp->n_workers;
	m.interval = dp->conf->dp.stats_interval * dp->tsc_hz;
	m.next = rte_rdtsc() + m.interval;
	workers_launch(dp, *tsvc != NULL);
	printf("causewayd: ready (%u worker%s, backend %s)\n", dp->n_workers,
	       dp->n_workers == 1 ? "" : "s",
	       dp->conf->dp.backend == CW_BACKEND_SOCKET ? "socket" : "dpdk");
	fflush(stdout);
	cw_stats_print(dp, &snap, stdout);
	cw_plane_run(&plane);
	cw_info("stopping");
	rte_eal_mp_wait_lcore();
	cw_plane_fini(&plane);
	printf("final statistics:\n");
	cw_stats_print(dp, &snap, stdout);
	return 0;
}

/*
 * Freed heap stays with the process. glibc hands the top of an arena back
 * to the kernel once 128 KiB of it is free; a worker that then queues one
 * watch event on each of 10,000 sessions faults in and zeroes tens of
 * megabytes of send buffers again, every time (three quarters of its time
 * in such a fan-out; perf/RESULTS.md). The gateway's memory is bounded by
 * its configuration (sessions, buffers), so keeping its high-water mark
 * costs nothing it did not need already.
 * A thread's arena also starts with 64 MiB writable (address space, not
 * memory): glibc grows it by mprotect(2) as far as each allocation needs,
 * page by page, and the first change fanned out to every session (all of
 * them awake at once, a peak no bring-up reaches) made about 4,000 such
 * calls on the worker.
 */
static void heap_keep(void)
{
	if (!mallopt(M_TOP_PAD, 64 << 20))
		cw_warn("mallopt(M_TOP_PAD) failed");
	if (!mallopt(M_TRIM_THRESHOLD, INT_MAX))
		cw_warn("mallopt(M_TRIM_THRESHOLD) failed: freed memory goes back to the kernel");
}

int main(int argc, char **argv)
{
	static struct cw_config conf;
	static struct cw_dp dp;
	struct cw_tunnel_svc *tsvc = NULL;
	const char *path = CW_DEFAULT_CONF;
	char err[CW_CONF_ERR_LEN];
	bool check = false;
	int rc;

	if (parse_args(argc, argv, &path, &check) < 0)
		return CW_EXIT_CONFIG;
	if (cw_config_load(&conf, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return CW_EXIT_CONFIG;
	}
	if (check) {
		cw_config_print(&conf, stdout);
		return 0;
	}
	cw_log_set_level(conf.log.level);
	dp.conf = &conf;
	cw_conf_path = path;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	/* An ingress or admin client that goes away mid-write is an error on
	 * that connection, not the end of the gateway. */
	signal(SIGPIPE, SIG_IGN);
	heap_keep();
	if (eal_start(&conf) < 0)
		return 1;
	rc = run(&dp, &tsvc);
	if (rc < 0) {
		__atomic_store_n(&cw_quit, true, __ATOMIC_RELAXED);
		rte_eal_mp_wait_lcore();
	}
	workers_free(&dp);
	cw_tunnel_svc_free(tsvc);
	cw_ports_stop(&dp);
	rte_mempool_free(dp.pool);
	rte_mempool_free(dp.indirect);
	rte_eal_cleanup();
	return rc < 0 ? 1 : 0;
}
