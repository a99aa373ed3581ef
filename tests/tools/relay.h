/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared types of the UDP impairment relay (relay.c and relay_*.c).
 *
 * Two directions: UP is client -> upstream, DOWN is upstream -> client.
 * Every random decision about a datagram is a pure function of (seed,
 * direction, index of the datagram in that direction, field), so a run
 * with the same seed and the same input sequence makes the same decisions,
 * whatever the timing (relay_impair.c).
 */
#ifndef CW_RELAY_H
#define CW_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CW_RL_UP	    0
#define CW_RL_DOWN	    1
#define CW_RL_DIRS	    2
#define CW_RL_MAX_BLACKOUTS 16
#define CW_RL_MAX_DGRAM	    65535
#define CW_RL_NS	    1000000000ULL

/* Impairments of one direction; probabilities are 0..1. */
struct cw_rl_dir_conf {
	double loss;
	bool ge; /* Gilbert-Elliott burst loss instead of loss */
	double ge_p, ge_r, ge_bad_loss, ge_good_loss;
	uint64_t delay_ns, jitter_ns;
	double reorder;
	unsigned reorder_gap;
	uint64_t reorder_hold_ns;
	double dup, corrupt;
	uint64_t rate;	     /* bytes/s, 0: unlimited */
	uint64_t rate_burst; /* bytes the bucket holds */
	uint64_t rate_queue; /* bytes of backlog before the shaper drops */
};

struct cw_rl_window {
	uint64_t from_ns, to_ns; /* since the epoch */
};

struct cw_rl_conf {
	struct sockaddr_storage listen, upstream;
	socklen_t listen_len, upstream_len;
	uint64_t seed;
	struct cw_rl_dir_conf dir[CW_RL_DIRS];
	struct cw_rl_window blackout[CW_RL_MAX_BLACKOUTS];
	unsigned n_blackouts;
	bool epoch_first; /* times count from the first datagram, not start */
	uint64_t rebind_ns;
	unsigned max_clients;
	uint64_t client_idle_ns;
	unsigned max_pending;
	uint64_t max_pending_bytes;
	uint64_t stats_interval_ns;
	int sockbuf;
	const char *stats_file, *port_file;
};

struct cw_rl_counters {
	uint64_t rx, rx_bytes, tx, tx_bytes;
	uint64_t dropped_loss, dropped_blackout, dropped_rate, dropped_overflow;
	uint64_t dropped_error, dropped_client_cap;
	uint64_t duplicated, corrupted, reordered, held, pending;
	uint64_t digest; /* FNV-1a over every random decision, in order */
};

struct cw_rl_stats {
	uint64_t seed, elapsed_ns;
	unsigned clients;
	uint64_t clients_total, clients_expired, rebinds, blackout_toggles;
	bool blackout_manual;
	struct cw_rl_counters dir[CW_RL_DIRS];
};

/* relay_opts.c: fill @c from the command line; exits 2 on a usage error,
 * 0 after --help. */
void cw_rl_parse(struct cw_rl_conf *c, int argc, char **argv);

/* relay_stats.c */
uint64_t cw_rl_dropped(const struct cw_rl_counters *k);
void cw_rl_stats_print(const struct cw_rl_stats *s, const char *when);
/* Write @s as JSON to @path (atomically: a temporary file renamed);
 * 0 or -errno. */
int cw_rl_stats_json(const struct cw_rl_stats *s, const char *path);
/* Write "@text\n" to @path atomically; 0 or -errno. */
int cw_rl_write_file(const char *path, const char *text);

#endif
