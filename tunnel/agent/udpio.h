/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batched datagram I/O on a connected, non-blocking datagram socket: the
 * agent's uplink sends the datagrams one cw_as_send() round produced with
 * one sendmmsg() and receives up to CW_UDPIO_BATCH with one recvmmsg(),
 * instead of one system call per datagram (the agent's send path was 65 %
 * send() before, perf/RESULTS.md, issue 3).
 *
 * Sending: the caller fills the queue (cw_udpio_tx_slot() and
 * cw_udpio_tx_commit()) and flushes it; what the socket does not take
 * (EAGAIN) stays queued, in order, for the next flush once the socket is
 * writable, and the caller produces no new datagrams meanwhile: that is
 * the backpressure. Where the kernel has UDP GSO (UDP_SEGMENT), each run
 * of equal-sized datagrams (the last one of a run may be shorter) goes as
 * one message that the kernel splits into the datagrams: one trip through
 * the stack for up to 64 of them.
 *
 * A datagram the socket refuses for any other reason (an ICMP error
 * reported back, ENOBUFS) is dropped and counted: for UDP a datagram lost
 * here is one lost on the way, and the protocol's loss recovery resends
 * its frames.
 */
#ifndef CW_AGENT_UDPIO_H
#define CW_AGENT_UDPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CW_UDPIO_BATCH 64
#define CW_UDPIO_DGRAM 2048 /* bytes per slot: >= CW_CONN_DGRAM_MAX */

struct cw_udpio_tx {
	int fd;
	bool gso;	  /* the socket takes UDP_SEGMENT */
	unsigned head, n; /* queued, unsent: slots [head, n) */
	uint16_t len[CW_UDPIO_BATCH];
	struct iovec iov[CW_UDPIO_BATCH];
	struct mmsghdr msg[CW_UDPIO_BATCH];
	unsigned msg_dgrams[CW_UDPIO_BATCH]; /* datagrams in each message */
	uint8_t cmsg[CW_UDPIO_BATCH][CMSG_SPACE(sizeof(uint16_t))];
	uint8_t buf[CW_UDPIO_BATCH][CW_UDPIO_DGRAM];
	/* Since cw_udpio_tx_init(), over every socket given to it. */
	uint64_t dgrams, bytes, dropped, syscalls;
};

/*
 * Receiving: up to CW_UDPIO_BATCH messages per recvmmsg(). Where the kernel
 * has UDP GRO (UDP_GRO), one message holds a run of datagrams of one size
 * (the last one possibly shorter) that came in one piece, as a UDP GSO
 * sender sent them, or that the kernel coalesced: the run takes one trip
 * through the stack, and cw_udpio_rx_next() cuts it back into its
 * datagrams. Hence a slot holds 64 KiB, the most one message can.
 */
#define CW_UDPIO_RX_SLOT 65536

struct cw_udpio_rx {
	bool gro;		      /* the socket coalesces runs (UDP_GRO) */
	unsigned n;		      /* messages of the last receive */
	unsigned cur;		      /* the message cw_udpio_rx_next() cuts from */
	size_t off;		      /* the offset of the next datagram in it */
	uint32_t seg[CW_UDPIO_BATCH]; /* each message's datagram size */
	struct mmsghdr msg[CW_UDPIO_BATCH];
	struct iovec iov[CW_UDPIO_BATCH];
	uint8_t cmsg[CW_UDPIO_BATCH][CMSG_SPACE(sizeof(int))];
	uint8_t buf[CW_UDPIO_BATCH][CW_UDPIO_RX_SLOT];
};

/* Zero @t, counters included; no socket yet (flush sends nothing). */
void cw_udpio_tx_init(struct cw_udpio_tx *t);

/*
 * Send on @fd (connected, non-blocking) from now on: the queue is emptied
 * (what was queued for the previous socket is forgotten, not counted), the
 * counters kept. Probes UDP GSO on @fd; a socket that is not UDP, or a
 * kernel without it, sends one datagram per message.
 */
void cw_udpio_tx_open(struct cw_udpio_tx *t, int fd);

/*
 * The next free slot, of CW_UDPIO_DGRAM bytes, or NULL when the queue is
 * full or still holds unsent datagrams (flush first).
 */
uint8_t *cw_udpio_tx_slot(struct cw_udpio_tx *t);

/* Queue the slot cw_udpio_tx_slot() returned, holding @len bytes (> 0). */
void cw_udpio_tx_commit(struct cw_udpio_tx *t, size_t len);

/* True while datagrams wait in the queue. */
bool cw_udpio_tx_queued(const struct cw_udpio_tx *t);

/*
 * Send the queue, in order. Returns 0 when the queue is empty (everything
 * sent, or dropped and counted in dropped), -EAGAIN when the socket took
 * only part of it: the rest stays queued; flush again once the socket is
 * writable.
 */
int cw_udpio_tx_flush(struct cw_udpio_tx *t);

/* Set up @r's messages once; the buffers are reused by every receive. */
void cw_udpio_rx_init(struct cw_udpio_rx *r);

/*
 * Receive from @fd from now on: asks it for UDP GRO. Returns true when the
 * socket coalesces (r->gro); false on a kernel without UDP GRO or a socket
 * that is not UDP, which then delivers one datagram per message, as
 * cw_udpio_rx_init() left it. Either way the receive works alike.
 */
bool cw_udpio_rx_open(struct cw_udpio_rx *r, int fd);

/*
 * Receive up to CW_UDPIO_BATCH messages from @fd with one recvmmsg():
 * returns how many datagrams they hold (> 0; take them in order with
 * cw_udpio_rx_next()), or -errno: -EAGAIN when none is waiting,
 * -ECONNREFUSED and the like for an ICMP error reported on the socket.
 */
int cw_udpio_rx_recv(struct cw_udpio_rx *r, int fd);

/*
 * The next datagram of the last receive: its first byte, and its length in
 * *@len; NULL after the last one. The bytes are the caller's to change in
 * place (decryption) until the next cw_udpio_rx_recv().
 */
uint8_t *cw_udpio_rx_next(struct cw_udpio_rx *r, size_t *len);

#endif
