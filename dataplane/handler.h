/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UDP handlers: the datagram-level interface between the dataplane and the
 * services above it (the echo service now, the tunnel later). A handler
 * never sees Ethernet or IP; it gets batches of datagrams and returns
 * datagrams to send. The same handler runs on the DPDK backend and on the
 * kernel-socket backend.
 */
#ifndef CW_HANDLER_H
#define CW_HANDLER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct rte_mbuf;

/* CLOCK_MONOTONIC in ns: the clock of cw_handler_poll_fn's deadlines. */
static inline uint64_t cw_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define CW_MAX_HANDLERS 4

struct cw_dgram {
	struct rte_mbuf *m; /* data starts at the UDP payload; pkt_len = length */
	/* Addresses, then ports, in the order of the IPv4 and UDP headers: the
	 * DPDK worker copies the four from a frame at once. */
	uint32_t src_ip, dst_ip;     /* network order */
	uint16_t src_port, dst_port; /* network order */
	uint16_t port;		     /* dataplane port index (0 on the socket backend) */
	/*
	 * UDP checksum, network order. In: as received (0 = none or unknown).
	 * Out: a checksum valid for exactly these addresses, ports and payload,
	 * or 0 to have the dataplane compute one (a reflecting handler's 0:
	 * send none). Swapping source and destination keeps it valid (the sum
	 * is symmetric), so an echo passes it through; a handler that changes
	 * anything else must zero it.
	 */
	uint16_t udp_csum;
};

/*
 * Handle @n datagrams of @in on worker @worker. Ownership of every input
 * mbuf passes to the handler: it either frees it or places it (or any other
 * mbuf) in @out, at most @out_cap entries, whose sources and destinations it
 * sets. Returns the number of datagrams written to @out. @out_cap is what
 * the port can take now: less than the burst, even 0, while its TX queue
 * is backed up (a handler that answers, @answers, always gets the burst).
 * Runs on a worker lcore: it must not block, lock or allocate from the
 * heap.
 */
typedef uint16_t (*cw_handler_rx_fn)(void *ctx, unsigned worker, struct cw_dgram *in, uint16_t n,
				     struct cw_dgram *out, uint16_t out_cap);

/*
 * Optional: the handler's work that no datagram triggers (timers, data
 * queued by other threads). Called on worker @worker once per loop
 * iteration on the DPDK backend, and on the socket backend whenever the
 * worker wakes (datagrams, the handler's wake fd, or the deadline). Writes
 * datagrams to @out as rx does and returns their number; when that is
 * @out_cap it is called again at once. Sets *@next_ns to the
 * CLOCK_MONOTONIC time in ns it wants to run again at the latest
 * (UINT64_MAX: no deadline). Same rules as rx: no blocking, no locks.
 */
typedef uint16_t (*cw_handler_poll_fn)(void *ctx, unsigned worker, struct cw_dgram *out,
				       uint16_t out_cap, uint64_t *next_ns);

/*
 * Optional: an eventfd that other threads signal when they queued work for
 * worker @worker, or -1. The socket backend sleeps in poll() on it with its
 * sockets and resets it (reads it) when it woke it; the work itself is the
 * handler's poll's to find.
 */
typedef int (*cw_handler_wake_fd_fn)(void *ctx, unsigned worker);

/*
 * Optional: the gateway is stopping. Called once on worker @worker when
 * its loop has ended, before one last poll whose datagrams still go out:
 * the handler tells its peers (the tunnel closes every session with
 * SHUTDOWN, so that agents reconnect at once rather than after their idle
 * timeout).
 */
typedef void (*cw_handler_stop_fn)(void *ctx, unsigned worker);

struct cw_handler {
	const char *name;
	uint16_t udp_port; /* host order */
	cw_handler_rx_fn rx;
	/* One answer per datagram is the rule (echo): fewer are counted as
	 * "handler" drops. Otherwise the handler counts its own. */
	bool answers;
	cw_handler_poll_fn poll;       /* NULL: none */
	cw_handler_wake_fd_fn wake_fd; /* NULL: none */
	cw_handler_stop_fn stop;       /* NULL: none */
	void *ctx;
	/*
	 * @rx returns every datagram to its sender unchanged, with nothing but
	 * the addresses and ports swapped (an echo), its UDP checksum passed
	 * through: a datagram that came without one (0, which RFC 768 allows
	 * over IPv4) goes back without one. The DPDK worker may then answer a
	 * datagram in its own frame without calling @rx; the reply is the one
	 * @rx would have sent.
	 */
	bool reflect;
};

struct cw_handlers {
	unsigned n;
	struct cw_handler h[CW_MAX_HANDLERS];
	uint16_t port_n[CW_MAX_HANDLERS]; /* h[i].udp_port in network order, for the lookup */
};

/*
 * Register @h. Only before the workers start. Returns its index, -EEXIST if
 * the UDP port is taken, -ENOSPC when CW_MAX_HANDLERS are registered.
 */
int cw_handlers_add(struct cw_handlers *hs, const struct cw_handler *h);

/* Index of the handler for @udp_port (network order), or -1. */
static inline int cw_handlers_find(const struct cw_handlers *hs, uint16_t udp_port_n)
{
	for (unsigned i = 0; i < hs->n; i++)
		if (hs->port_n[i] == udp_port_n)
			return (int)i;
	return -1;
}

#endif
