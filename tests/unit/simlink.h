/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A simulated network with a virtual clock for tests of the sans-I/O
 * tunnel: endpoints exchange datagrams over links that lose, delay,
 * reorder, duplicate and corrupt them, and go dark for a while, all drawn
 * from one seeded PRNG. Time only moves when sim_run() jumps to the next
 * event (a datagram arriving or an endpoint's timer), so a 10-second
 * blackout costs no wall-clock time and every run with the same seed and the
 * same endpoints is identical.
 */
#ifndef CW_SIMLINK_H
#define CW_SIMLINK_H

#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_EPS   8
#define SIM_MAX_DGRAM 2048
#define SIM_NEVER     UINT64_MAX

struct sim;

/* What the simulation calls on an endpoint. */
struct sim_ep_ops {
	/* Datagram @d (@len bytes, valid during the call) arrived from @from. */
	void (*recv)(void *ep, struct sim *s, int from, uint64_t now, const uint8_t *d, size_t len);
	/* When the endpoint next wants on_timeout (SIM_NEVER: not at all). */
	uint64_t (*next_timeout)(void *ep);
	void (*on_timeout)(void *ep, struct sim *s, uint64_t now);
};

/* Impairments of one direction of a link. Probabilities are in [0, 1]. */
struct sim_impair {
	double loss, dup, corrupt, reorder;
	uint64_t delay_ns, jitter_ns;	     /* each datagram: delay + uniform [0, jitter] */
	uint64_t reorder_ns;		     /* a reordered datagram is held this much longer */
	uint64_t blackout_from, blackout_to; /* sent in [from, to): dropped */
	uint32_t max_in_flight;		     /* 0: 4096 */
};

struct sim_link_stats {
	uint64_t sent, delivered, lost, blackholed, overflow, duplicated, corrupted, reordered;
	uint64_t bytes_delivered;
};

/* A simulation seeded with @seed, at time 0. NULL when out of memory. */
struct sim *sim_new(uint64_t seed);
void sim_free(struct sim *s);

/* Add an endpoint; returns its id (0, 1, ...) or -1 when SIM_MAX_EPS are in. */
int sim_add_ep(struct sim *s, const struct sim_ep_ops *ops, void *ep);

/* Set the impairments from @from to @to (default: none, 0 delay). */
void sim_set_impair(struct sim *s, int from, int to, const struct sim_impair *imp);

/*
 * Send datagram @d (copied, at most SIM_MAX_DGRAM bytes) from @from to
 * @to at the current time. Called by endpoints from their callbacks or by
 * the test between runs.
 */
void sim_send(struct sim *s, int from, int to, const uint8_t *d, size_t len);

uint64_t sim_now(const struct sim *s);

/*
 * Process events in time order up to and including @until. Returns when
 * nothing is left before @until (the clock then stands at the last event,
 * or at @until if @until is not SIM_NEVER), or after @max_events events.
 * Returns the number of events processed.
 */
uint64_t sim_run(struct sim *s, uint64_t until, uint64_t max_events);

const struct sim_link_stats *sim_stats(const struct sim *s, int from, int to);

/* A uniformly random 64-bit value from the simulation's PRNG (for endpoints
 * that need randomness and must stay deterministic). */
uint64_t sim_rand(struct sim *s);

#endif
