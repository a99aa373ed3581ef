/* SPDX-License-Identifier: Apache-2.0 */
/* Counters of the relay: a line per direction on stderr, JSON for tests. */
#include "relay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const cw_rl_dir_name[CW_RL_DIRS] = {"up", "down"};

uint64_t cw_rl_dropped(const struct cw_rl_counters *k)
{
	return k->dropped_loss + k->dropped_blackout + k->dropped_rate + k->dropped_overflow +
	       k->dropped_error + k->dropped_client_cap;
}

void cw_rl_stats_print(const struct cw_rl_stats *s, const char *when)
{
	fprintf(stderr,
		"relay: %s: %.3f s, seed %" PRIu64 ", clients %u (total %" PRIu64
		", expired %" PRIu64 "), rebinds %" PRIu64 "\n",
		when, (double)s->elapsed_ns / CW_RL_NS, s->seed, s->clients, s->clients_total,
		s->clients_expired, s->rebinds);
	for (unsigned d = 0; d < CW_RL_DIRS; d++) {
		const struct cw_rl_counters *k = &s->dir[d];

		fprintf(stderr,
			"relay: %s: rx %" PRIu64 " forwarded %" PRIu64 " dropped %" PRIu64
			" (loss %" PRIu64 " blackout %" PRIu64 " rate %" PRIu64 " overflow %" PRIu64
			" error %" PRIu64 " client-cap %" PRIu64 ") duplicated %" PRIu64
			" corrupted %" PRIu64 " reordered %" PRIu64 " pending %" PRIu64 "\n",
			cw_rl_dir_name[d], k->rx, k->tx, cw_rl_dropped(k), k->dropped_loss,
			k->dropped_blackout, k->dropped_rate, k->dropped_overflow, k->dropped_error,
			k->dropped_client_cap, k->duplicated, k->corrupted, k->reordered,
			k->pending);
	}
}

static void cw_rl_json_dir(FILE *f, const char *name, const struct cw_rl_counters *k, bool last)
{
	fprintf(f,
		"  \"%s\": {\"rx\": %" PRIu64 ", \"rx_bytes\": %" PRIu64 ", \"forwarded\": %" PRIu64
		", \"forwarded_bytes\": %" PRIu64 ", \"dropped\": %" PRIu64
		", \"dropped_loss\": %" PRIu64 ", \"dropped_blackout\": %" PRIu64
		", \"dropped_rate\": %" PRIu64 ", \"dropped_overflow\": %" PRIu64
		", \"dropped_error\": %" PRIu64 ", \"dropped_client_cap\": %" PRIu64
		", \"duplicated\": %" PRIu64 ", \"corrupted\": %" PRIu64 ", \"reordered\": %" PRIu64
		", \"held\": %" PRIu64 ", \"pending\": %" PRIu64 ", \"digest\": \"%016" PRIx64
		"\"}%s\n",
		name, k->rx, k->rx_bytes, k->tx, k->tx_bytes, cw_rl_dropped(k), k->dropped_loss,
		k->dropped_blackout, k->dropped_rate, k->dropped_overflow, k->dropped_error,
		k->dropped_client_cap, k->duplicated, k->corrupted, k->reordered, k->held,
		k->pending, k->digest, last ? "" : ",");
}

/* Open "@path.tmp"; the caller renames it over @path once complete. */
static FILE *cw_rl_open_tmp(const char *path, char *tmp, size_t n)
{
	if ((size_t)snprintf(tmp, n, "%s.tmp", path) >= n) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return fopen(tmp, "w");
}

static int cw_rl_commit(FILE *f, const char *tmp, const char *path)
{
	int bad = ferror(f);

	if (fclose(f) != 0 || bad) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

int cw_rl_stats_json(const struct cw_rl_stats *s, const char *path)
{
	char tmp[4096];
	FILE *f = cw_rl_open_tmp(path, tmp, sizeof(tmp));

	if (!f)
		return -errno;
	fprintf(f,
		"{\n  \"seed\": %" PRIu64 ",\n  \"elapsed_s\": %.6f,\n  \"clients\": %u,\n"
		"  \"clients_total\": %" PRIu64 ",\n  \"clients_expired\": %" PRIu64
		",\n  \"rebinds\": %" PRIu64 ",\n  \"blackout_toggles\": %" PRIu64 ",\n",
		s->seed, (double)s->elapsed_ns / CW_RL_NS, s->clients, s->clients_total,
		s->clients_expired, s->rebinds, s->blackout_toggles);
	cw_rl_json_dir(f, "up", &s->dir[CW_RL_UP], false);
	cw_rl_json_dir(f, "down", &s->dir[CW_RL_DOWN], true);
	fprintf(f, "}\n");
	return cw_rl_commit(f, tmp, path);
}

int cw_rl_write_file(const char *path, const char *text)
{
	char tmp[4096];
	FILE *f = cw_rl_open_tmp(path, tmp, sizeof(tmp));

	if (!f)
		return -errno;
	fprintf(f, "%s\n", text);
	return cw_rl_commit(f, tmp, path);
}
