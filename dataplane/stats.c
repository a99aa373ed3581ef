/* SPDX-License-Identifier: Apache-2.0 */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_telemetry.h>

static const struct cw_dp *cw_stats_dp; /* telemetry callbacks take no context */

static double rate(uint64_t now, uint64_t then, double secs)
{
	return secs > 0 ? (double)(now - then) / secs : 0;
}

static void print_row(FILE *out, const char *who, const struct cw_counters *c,
		      const struct cw_counters *p, double secs)
{
	fprintf(out,
		"%-8s rx %12" PRIu64 " pkts %14" PRIu64 " bytes %11.0f pps | tx %12" PRIu64
		" pkts %14" PRIu64 " bytes %11.0f pps | drops %10" PRIu64 "\n",
		who, c->rx_pkts, c->rx_bytes, rate(c->rx_pkts, p->rx_pkts, secs), c->tx_pkts,
		c->tx_bytes, rate(c->tx_pkts, p->tx_pkts, secs), cw_counters_drops(c));
}

/* The tunnel's figures of one worker, or of all: testpmd-style, one line. */
static void print_tunnel(FILE *out, const char *who, const uint64_t *t)
{
	fprintf(out,
		"%-8s tunnel sessions %" PRIu64 " | handshakes full %" PRIu64 " resumed %" PRIu64
		" failed %" PRIu64 " offloaded %" PRIu64 " refused %" PRIu64
		" | redirects out %" PRIu64 " in %" PRIu64 " ring-full %" PRIu64
		" | retransmits %" PRIu64 " | decrypt-failed %" PRIu64 " decompress-failed %" PRIu64
		" | routes hub %" PRIu64 " upstream %" PRIu64 " deny %" PRIu64
		" | event-ring-full %" PRIu64 " api-busy %" PRIu64 " | memory %" PRIu64 " B\n",
		who, t[CW_TCTR_SESSIONS], t[CW_TCTR_HS_FULL], t[CW_TCTR_HS_RESUMED],
		t[CW_TCTR_HS_FAILED], t[CW_TCTR_HS_OFFLOADED], t[CW_TCTR_HS_REFUSED],
		t[CW_TCTR_REDIRECT_OUT], t[CW_TCTR_REDIRECT_IN], t[CW_TCTR_REDIRECT_FULL],
		t[CW_TCTR_RETRANSMITS], t[CW_TCTR_DECRYPT_FAILED], t[CW_TCTR_BODY_FAILED],
		t[CW_TCTR_ROUTE_HUB], t[CW_TCTR_ROUTE_UPSTREAM], t[CW_TCTR_ROUTE_DENY],
		t[CW_TCTR_EVENT_FULL], t[CW_TCTR_API_BUSY], t[CW_TCTR_MEMORY]);
}

void cw_stats_print(const struct cw_dp *dp, struct cw_stats_snap *prev, FILE *out)
{
	uint64_t now = rte_rdtsc();
	double secs = prev->tsc ? (double)(now - prev->tsc) / (double)dp->tsc_hz : 0;
	struct cw_counters cur[CW_MAX_WORKERS], tot, ptot;
	char who[24];

	for (unsigned i = 0; i < dp->n_workers; i++)
		cw_counters_sum(&dp->counters[i], 1, &cur[i]);
	cw_counters_sum(cur, dp->n_workers, &tot);
	cw_counters_sum(prev->per, dp->n_workers, &ptot);
	fprintf(out, "---- causewayd statistics (%.1f s interval) ----\n", secs);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		snprintf(who, sizeof(who), "lcore%u", dp->lcores[i]);
		print_row(out, who, &cur[i], &prev->per[i], secs);
	}
	print_row(out, "total", &tot, &ptot, secs);
	if (dp->conf->tunnel.port) {
		for (unsigned i = 0; i < dp->n_workers; i++) {
			snprintf(who, sizeof(who), "lcore%u", dp->lcores[i]);
			print_tunnel(out, who, cur[i].tun);
		}
		print_tunnel(out, "total", tot.tun);
	}
	fprintf(out,
		"arp in %" PRIu64 " out %" PRIu64 " | icmp echo %" PRIu64 " | udp in %" PRIu64
		" out %" PRIu64 "\n",
		tot.arp_in, tot.arp_out, tot.icmp_echo, tot.udp_in, tot.udp_out);
	fprintf(out, "drops:");
	for (unsigned d = 0; d < CW_DROP_MAX; d++)
		if (tot.drops[d])
			fprintf(out, " %s=%" PRIu64, cw_drop_name((enum cw_drop)d), tot.drops[d]);
	fprintf(out, "%s\n", cw_counters_drops(&tot) ? "" : " none");
	fflush(out);
	memcpy(prev->per, cur, sizeof(cur[0]) * dp->n_workers);
	prev->tsc = now;
}

static void fill_dict(struct rte_tel_data *d, const struct cw_counters *c)
{
	char name[64];

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx_pkts", c->rx_pkts);
	rte_tel_data_add_dict_u64(d, "rx_bytes", c->rx_bytes);
	rte_tel_data_add_dict_u64(d, "tx_pkts", c->tx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_bytes", c->tx_bytes);
	rte_tel_data_add_dict_u64(d, "arp_in", c->arp_in);
	rte_tel_data_add_dict_u64(d, "arp_out", c->arp_out);
	rte_tel_data_add_dict_u64(d, "icmp_echo", c->icmp_echo);
	rte_tel_data_add_dict_u64(d, "udp_in", c->udp_in);
	rte_tel_data_add_dict_u64(d, "udp_out", c->udp_out);
	rte_tel_data_add_dict_u64(d, "drops", cw_counters_drops(c));
	for (unsigned i = 0; i < CW_DROP_MAX; i++) {
		snprintf(name, sizeof(name), "drop_%s", cw_drop_name((enum cw_drop)i));
		rte_tel_data_add_dict_u64(d, name, c->drops[i]);
	}
	for (unsigned i = 0; i < CW_TCTR_MAX; i++) {
		snprintf(name, sizeof(name), "tunnel_%s", cw_tctr_name((enum cw_tctr)i));
		rte_tel_data_add_dict_u64(d, name, c->tun[i]);
	}
}

/* {"total": {...}, "worker0": {...}, ...} */
static int telemetry_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct cw_dp *dp = cw_stats_dp;
	struct cw_counters c;
	char name[32];

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (int i = -1; i < (int)dp->n_workers; i++) {
		struct rte_tel_data *sub = rte_tel_data_alloc();

		if (!sub)
			return -ENOMEM;
		if (i < 0)
			cw_counters_sum(dp->counters, dp->n_workers, &c);
		else
			cw_counters_sum(&dp->counters[i], 1, &c);
		fill_dict(sub, &c);
		snprintf(name, sizeof(name), i < 0 ? "total" : "worker%d", i);
		rte_tel_data_add_dict_container(d, name, sub, 0);
	}
	return 0;
}

int cw_stats_telemetry_init(const struct cw_dp *dp)
{
	cw_stats_dp = dp;
	return rte_telemetry_register_cmd("/causeway/stats", telemetry_stats,
					  "Causeway dataplane counters, total and per worker. "
					  "No parameters.");
}
