/* SPDX-License-Identifier: Apache-2.0 */
#include "sockio.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <urcu-qsbr.h>

#include "log.h"

#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h, Linux 5.0 */
#endif

#define CW_SOCK_BURST	 64
#define CW_SOCK_MAX_UDP	 65536
#define CW_SOCK_MAX_SEGS 64 /* segments of one outgoing datagram */
#define CW_SOCK_IDLE_MS	 50 /* poll() timeout when every socket is empty */
#define CW_SOCK_RX_CMSG	 (CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int)))
#define CW_SOCK_TX_CMSG	 (CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)))
#define CW_SOCK_GSO_MAX	 65000 /* bytes of one GSO message (UDP's length field) */

/*
 * One recvmmsg slot: a datagram lands in the mbuf's data room, what does
 * not fit in the slot's overflow buffer. With UDP GRO a slot may hold a run
 * of datagrams of one size instead (the last one possibly shorter; the
 * kernel gives the size in a cmsg), as a GSO sender sent them or as the
 * kernel coalesced them: the run is copied out into one mbuf per datagram
 * and the slot keeps its mbuf.
 */
struct cw_sock_rx {
	struct rte_mbuf *m[CW_SOCK_BURST];
	struct mmsghdr msg[CW_SOCK_BURST];
	struct iovec iov[CW_SOCK_BURST][2];
	struct sockaddr_in from[CW_SOCK_BURST];
	uint8_t cmsg[CW_SOCK_BURST][CW_SOCK_RX_CMSG];
};

/*
 * One sendmmsg message per datagram, or per run of datagrams of one size
 * to one destination, sent as one UDP GSO message (the kernel cuts it at
 * seg bytes; the last datagram of a run may be shorter).
 */
struct cw_sock_tx {
	struct mmsghdr msg[CW_SOCK_BURST];
	struct iovec iov[CW_SOCK_BURST][CW_SOCK_MAX_SEGS];
	struct sockaddr_in to[CW_SOCK_BURST];
	uint32_t src[CW_SOCK_BURST];
	uint16_t seg[CW_SOCK_BURST], ndg[CW_SOCK_BURST];
	uint32_t bytes[CW_SOCK_BURST];
	bool closed[CW_SOCK_BURST]; /* a shorter datagram ended the run */
	uint8_t cmsg[CW_SOCK_BURST][CW_SOCK_TX_CMSG];
};

struct cw_sock_worker {
	struct cw_dp *dp;
	unsigned idx, lcore;
	uint16_t burst;
	struct cw_counters *ctr;
	int fd[CW_MAX_HANDLERS];
	bool gso; /* the kernel takes UDP_SEGMENT (off after it refused one) */
	/* Tail of datagrams longer than one mbuf; copied into a chain. */
	uint8_t (*overflow)[CW_SOCK_MAX_UDP];
	struct cw_sock_rx rx;
	struct cw_sock_tx tx;
	struct cw_dgram in[CW_SOCK_BURST], out[CW_SOCK_BURST];
};

static int sock_open(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_addr.s_addr = addr, .sin_port = htons(port)};
	int one = 1, buf = 4 << 20;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Give RX slot @i a fresh mbuf; its first iovec points into the data room. */
static int rx_slot_refill(struct cw_sock_worker *w, unsigned i)
{
	struct cw_sock_rx *rx = &w->rx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->dp->pool);

	rx->m[i] = m;
	if (!m) {
		cw_ctr_add(w->ctr->drops[CW_DROP_NO_MBUF], 1);
		return -ENOMEM;
	}
	rx->iov[i][0].iov_base = rte_pktmbuf_mtod(m, void *);
	rx->iov[i][0].iov_len = rte_pktmbuf_tailroom(m);
	rx->iov[i][1].iov_base = w->overflow[i];
	rx->iov[i][1].iov_len = CW_SOCK_MAX_UDP;
	return 0;
}

static void rx_reset_hdr(struct cw_sock_worker *w, unsigned i)
{
	struct msghdr *h = &w->rx.msg[i].msg_hdr;

	h->msg_name = &w->rx.from[i];
	h->msg_namelen = sizeof(w->rx.from[i]);
	h->msg_iov = w->rx.iov[i];
	h->msg_iovlen = 2;
	h->msg_control = w->rx.cmsg[i];
	h->msg_controllen = CW_SOCK_RX_CMSG;
	h->msg_flags = 0;
}

struct cw_sock_worker *cw_sock_worker_create(struct cw_dp *dp, unsigned idx, unsigned lcore)
{
	int socket = (int)rte_lcore_to_socket_id(lcore);
	struct cw_sock_worker *w;

	w = rte_zmalloc_socket("cw_sock_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (!w)
		return NULL;
	w->dp = dp;
	w->idx = idx;
	w->lcore = lcore;
	w->burst = dp->conf->dp.burst < CW_SOCK_BURST ? dp->conf->dp.burst : CW_SOCK_BURST;
	w->ctr = &dp->counters[idx];
	for (unsigned h = 0; h < CW_MAX_HANDLERS; h++)
		w->fd[h] = -1;
	w->gso = true;
	w->overflow = rte_malloc_socket("cw_sock_overflow", (size_t)CW_SOCK_BURST * CW_SOCK_MAX_UDP,
					0, socket);
	if (!w->overflow)
		goto fail;
	for (unsigned i = 0; i < w->burst; i++)
		if (rx_slot_refill(w, i) < 0)
			goto fail;
	for (unsigned h = 0; h < dp->handlers.n; h++) {
		w->fd[h] = sock_open(dp->conf->dp.socket_addr, dp->handlers.h[h].udp_port);
		if (w->fd[h] < 0) {
			cw_err("socket backend: cannot bind UDP port %u for %s: %s",
			       dp->handlers.h[h].udp_port, dp->handlers.h[h].name,
			       strerror(-w->fd[h]));
			goto fail;
		}
	}
	if (cw_sock_worker_set_gro(w, true) < 0)
		cw_info("socket worker %u: no UDP GRO, one datagram per receive", idx);
	return w;
fail:
	cw_sock_worker_free(w);
	return NULL;
}

int cw_sock_worker_set_gro(struct cw_sock_worker *w, bool on)
{
	int v = on;

	for (unsigned h = 0; h < w->dp->handlers.n; h++)
		if (setsockopt(w->fd[h], IPPROTO_UDP, UDP_GRO, &v, sizeof(v)) < 0)
			return -errno;
	return 0;
}

void cw_sock_worker_free(struct cw_sock_worker *w)
{
	if (!w)
		return;
	for (unsigned h = 0; h < CW_MAX_HANDLERS; h++)
		if (w->fd[h] >= 0)
			close(w->fd[h]);
	for (unsigned i = 0; i < CW_SOCK_BURST; i++)
		rte_pktmbuf_free(w->rx.m[i]);
	rte_free(w->overflow);
	rte_free(w);
}

/* Move the part of a long datagram that overflowed into chained mbufs. */
static int rx_chain_tail(struct cw_sock_worker *w, struct rte_mbuf *m, const uint8_t *tail,
			 uint32_t len)
{
	while (len) {
		struct rte_mbuf *seg = rte_pktmbuf_alloc(w->dp->pool);
		uint32_t n;

		if (!seg)
			return -ENOMEM;
		n = RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(seg));
		memcpy(rte_pktmbuf_append(seg, (uint16_t)n), tail, n);
		if (rte_pktmbuf_chain(m, seg) < 0) {
			rte_pktmbuf_free(seg);
			return -E2BIG;
		}
		tail += n;
		len -= n;
	}
	return 0;
}

/* The address slot @i's datagrams came to, and their size when the slot
 * holds a GRO run (else 0). */
static uint32_t rx_cmsg(struct cw_sock_worker *w, unsigned i, uint32_t *seg)
{
	struct msghdr *h = &w->rx.msg[i].msg_hdr;
	uint32_t dst = 0;

	*seg = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			dst = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr.s_addr;
		} else if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
			int v;

			memcpy(&v, CMSG_DATA(c), sizeof(v));
			*seg = v > 0 ? (uint32_t)v : 0;
		}
	}
	return dst;
}

static void rx_addr(struct cw_sock_worker *w, unsigned i, uint32_t dst, uint16_t udp_port,
		    struct cw_dgram *d)
{
	d->src_ip = w->rx.from[i].sin_addr.s_addr;
	d->src_port = w->rx.from[i].sin_port;
	d->dst_ip = dst;
	d->dst_port = htons(udp_port);
	d->port = 0;
	d->udp_csum = 0; /* the kernel checked it and does not tell */
}

/* Turn received slot @i into a datagram; returns 0 or a drop reason + 1. */
static int rx_take(struct cw_sock_worker *w, unsigned i, struct cw_dgram *d)
{
	struct rte_mbuf *m = w->rx.m[i];
	uint32_t len = w->rx.msg[i].msg_len, room = (uint32_t)w->rx.iov[i][0].iov_len;

	rte_pktmbuf_append(m, (uint16_t)RTE_MIN(len, room));
	if (len > room && rx_chain_tail(w, m, w->overflow[i], len - room) < 0)
		return CW_DROP_NO_MBUF + 1;
	d->m = m;
	return 0;
}

/* @n bytes from offset @off of slot @i's message: the data room, then the
 * overflow buffer. */
static void rx_read(struct cw_sock_worker *w, unsigned i, uint32_t off, uint8_t *dst, uint32_t n)
{
	uint32_t in_room = (uint32_t)w->rx.iov[i][0].iov_len;

	if (off < in_room) {
		uint32_t k = RTE_MIN(n, in_room - off);

		memcpy(dst, (const uint8_t *)w->rx.iov[i][0].iov_base + off, k);
		dst += k;
		off += k;
		n -= k;
	}
	if (n)
		memcpy(dst, w->overflow[i] + (off - in_room), n);
}

/* Bytes [@off, @off + @len) of slot @i's message in fresh mbufs (a chain if
 * they do not fit in one); NULL when the pool runs out. */
static struct rte_mbuf *rx_copy(struct cw_sock_worker *w, unsigned i, uint32_t off, uint32_t len)
{
	struct rte_mbuf *head = NULL;

	do {
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->dp->pool);
		uint32_t n;

		if (!m)
			goto fail;
		n = RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(m));
		rx_read(w, i, off, rte_pktmbuf_mtod(m, uint8_t *), n);
		rte_pktmbuf_append(m, (uint16_t)n);
		if (!head) {
			head = m;
		} else if (rte_pktmbuf_chain(head, m) < 0) {
			rte_pktmbuf_free(m);
			goto fail;
		}
		off += n;
		len -= n;
	} while (len);
	return head;
fail:
	rte_pktmbuf_free(head);
	return NULL;
}

static void sock_send(struct cw_sock_worker *w, unsigned h, uint16_t n);

/* Hand in[0, @n) to handler @h and send its answers. */
static void sock_deliver(struct cw_sock_worker *w, unsigned h, unsigned n)
{
	const struct cw_handler *hd = &w->dp->handlers.h[h];
	uint16_t k;

	if (!n)
		return;
	k = hd->rx(hd->ctx, w->idx, w->in, (uint16_t)n, w->out, CW_SOCK_BURST);
	if (k < n && hd->answers)
		cw_ctr_add(w->ctr->drops[CW_DROP_HANDLER], n - k);
	sock_send(w, h, k);
}

/* One more datagram in in[]: a full in[] goes to the handler. */
static void rx_push(struct cw_sock_worker *w, unsigned h, unsigned *k, unsigned *total)
{
	cw_ctr_add(w->ctr->udp_in, 1);
	(*total)++;
	if (++*k == CW_SOCK_BURST) {
		sock_deliver(w, h, *k);
		*k = 0;
	}
}

/* Slot @i holds a GRO run of @seg-byte datagrams: one mbuf for each. */
static void rx_split(struct cw_sock_worker *w, unsigned h, unsigned i, uint32_t dst, uint32_t seg,
		     unsigned *k, unsigned *total)
{
	uint32_t len = w->rx.msg[i].msg_len;

	for (uint32_t off = 0; off < len; off += seg) {
		uint32_t n = RTE_MIN(seg, len - off);
		struct cw_dgram *d = &w->in[*k];

		cw_ctr_add(w->ctr->rx_pkts, 1);
		cw_ctr_add(w->ctr->rx_bytes, n);
		d->m = rx_copy(w, i, off, n);
		if (!d->m) {
			cw_ctr_add(w->ctr->drops[CW_DROP_NO_MBUF], 1);
			continue;
		}
		rx_addr(w, i, dst, w->dp->handlers.h[h].udp_port, d);
		rx_push(w, h, k, total);
	}
}

/* Slot @i holds one datagram: its mbuf goes to the handler. */
static void rx_one(struct cw_sock_worker *w, unsigned h, unsigned i, uint32_t dst, unsigned *k,
		   unsigned *total)
{
	struct cw_dgram *d = &w->in[*k];
	int drop;

	cw_ctr_add(w->ctr->rx_pkts, 1);
	cw_ctr_add(w->ctr->rx_bytes, w->rx.msg[i].msg_len);
	drop = w->rx.msg[i].msg_hdr.msg_flags & MSG_TRUNC ? CW_DROP_TOO_BIG + 1 : rx_take(w, i, d);
	if (drop) {
		cw_ctr_add(w->ctr->drops[drop - 1], 1);
		rte_pktmbuf_free(w->rx.m[i]);
	}
	w->rx.m[i] = NULL;
	if (drop)
		return;
	rx_addr(w, i, dst, w->dp->handlers.h[h].udp_port, d);
	rx_push(w, h, k, total);
}

/*
 * Receive a batch on handler @h's socket and hand its datagrams to the
 * handler, CW_SOCK_BURST at a time, the answers sent after each. Returns
 * how many datagrams it handed over.
 */
static unsigned sock_receive(struct cw_sock_worker *w, unsigned h)
{
	unsigned avail, k = 0, total = 0;
	int n;

	/* Slots handed to the handler last time get their mbufs back now. */
	for (avail = 0; avail < w->burst; avail++) {
		if (!w->rx.m[avail] && rx_slot_refill(w, avail) < 0)
			break;
		rx_reset_hdr(w, avail);
	}
	if (!avail)
		return 0;
	n = recvmmsg(w->fd[h], w->rx.msg, avail, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	for (unsigned i = 0; i < (unsigned)n; i++) {
		uint32_t seg, dst = rx_cmsg(w, i, &seg);

		if (seg && seg < w->rx.msg[i].msg_len &&
		    !(w->rx.msg[i].msg_hdr.msg_flags & MSG_TRUNC))
			rx_split(w, h, i, dst, seg, &k, &total);
		else
			rx_one(w, h, i, dst, &k, &total);
	}
	sock_deliver(w, h, k);
	return total;
}

static int tx_prepare(struct cw_sock_worker *w, unsigned i, const struct cw_dgram *d)
{
	struct msghdr *h = &w->tx.msg[i].msg_hdr;
	unsigned s = 0;

	if (d->m->nb_segs > CW_SOCK_MAX_SEGS)
		return -E2BIG;
	for (struct rte_mbuf *seg = d->m; seg; seg = seg->next, s++) {
		w->tx.iov[i][s].iov_base = rte_pktmbuf_mtod(seg, void *);
		w->tx.iov[i][s].iov_len = rte_pktmbuf_data_len(seg);
	}
	w->tx.to[i] = (struct sockaddr_in){
	    .sin_family = AF_INET, .sin_addr.s_addr = d->dst_ip, .sin_port = d->dst_port};
	w->tx.src[i] = d->src_ip;
	w->tx.seg[i] = (uint16_t)rte_pktmbuf_pkt_len(d->m);
	w->tx.ndg[i] = 1;
	w->tx.bytes[i] = rte_pktmbuf_pkt_len(d->m);
	w->tx.closed[i] = d->m->nb_segs != 1;
	memset(h, 0, sizeof(*h));
	h->msg_name = &w->tx.to[i];
	h->msg_namelen = sizeof(w->tx.to[i]);
	h->msg_iov = w->tx.iov[i];
	h->msg_iovlen = s;
	return 0;
}

/* Append @d to message @i's GSO run if it may go in it (one destination,
 * one source, one size but a shorter last one, within the limits). */
static bool tx_append(struct cw_sock_worker *w, unsigned i, const struct cw_dgram *d)
{
	uint32_t len = rte_pktmbuf_pkt_len(d->m);
	struct msghdr *h = &w->tx.msg[i].msg_hdr;

	if (!w->gso || w->tx.closed[i] || d->m->nb_segs != 1 || len > w->tx.seg[i] ||
	    w->tx.to[i].sin_addr.s_addr != d->dst_ip || w->tx.to[i].sin_port != d->dst_port ||
	    w->tx.src[i] != d->src_ip || h->msg_iovlen == CW_SOCK_MAX_SEGS ||
	    w->tx.bytes[i] + len > CW_SOCK_GSO_MAX)
		return false;
	w->tx.iov[i][h->msg_iovlen].iov_base = rte_pktmbuf_mtod(d->m, void *);
	w->tx.iov[i][h->msg_iovlen].iov_len = len;
	h->msg_iovlen++;
	w->tx.ndg[i]++;
	w->tx.bytes[i] += len;
	w->tx.closed[i] = len < w->tx.seg[i];
	return true;
}

/* The control messages of message @i: the source address, the GSO size. */
static void tx_cmsg(struct cw_sock_worker *w, unsigned i)
{
	struct msghdr *h = &w->tx.msg[i].msg_hdr;
	struct cmsghdr *c;
	size_t len = 0;

	h->msg_control = w->tx.cmsg[i];
	h->msg_controllen = CW_SOCK_TX_CMSG;
	c = CMSG_FIRSTHDR(h);
	if (w->tx.src[i]) { /* answer from the address the request came to */
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
		*(struct in_pktinfo *)CMSG_DATA(c) =
		    (struct in_pktinfo){.ipi_spec_dst.s_addr = w->tx.src[i]};
		len += CMSG_SPACE(sizeof(struct in_pktinfo));
		c = CMSG_NXTHDR(h, c);
	}
	if (w->tx.ndg[i] > 1) {
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &w->tx.seg[i], sizeof(uint16_t));
		len += CMSG_SPACE(sizeof(uint16_t));
	}
	h->msg_controllen = len;
	if (!len)
		h->msg_control = NULL;
}

static void sock_send(struct cw_sock_worker *w, unsigned h, uint16_t n)
{
	unsigned k = 0, sent = 0, dgrams = 0, done = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (k && tx_append(w, k - 1, &w->out[i]))
			continue;
		if (tx_prepare(w, k, &w->out[i]) < 0) {
			cw_ctr_add(w->ctr->drops[CW_DROP_TOO_BIG], 1);
			rte_pktmbuf_free(w->out[i].m);
			w->out[i].m = NULL;
			continue;
		}
		k++;
	}
	for (unsigned i = 0; i < k; i++) {
		tx_cmsg(w, i);
		dgrams += w->tx.ndg[i];
	}
	while (sent < k) {
		int r = sendmmsg(w->fd[h], w->tx.msg + sent, k - sent, MSG_DONTWAIT);

		if (r < 0 && w->gso && (errno == EIO || errno == EINVAL) && w->tx.ndg[sent] > 1) {
			/* The kernel or the route cannot segment: never again. */
			cw_warn("socket worker %u: UDP GSO refused (%s), sending one by one",
				w->idx, strerror(errno));
			w->gso = false;
		}
		if (r <= 0)
			break;
		for (int i = 0; i < r; i++) {
			cw_ctr_add(w->ctr->tx_pkts, w->tx.ndg[sent + i]);
			cw_ctr_add(w->ctr->tx_bytes, w->tx.bytes[sent + i]);
			done += w->tx.ndg[sent + i];
		}
		sent += (unsigned)r;
	}
	cw_ctr_add(w->ctr->udp_out, done);
	cw_ctr_add(w->ctr->drops[CW_DROP_TX_FULL], dgrams - done);
	for (uint16_t i = 0; i < n; i++)
		rte_pktmbuf_free(w->out[i].m);
}

/* The handlers' own work; returns the earliest deadline they asked for. */
static uint64_t sock_poll_handlers(struct cw_sock_worker *w)
{
	const struct cw_handlers *hs = &w->dp->handlers;
	uint64_t next = UINT64_MAX;

	for (unsigned h = 0; h < hs->n; h++) {
		uint64_t t = UINT64_MAX;
		uint16_t k;

		if (!hs->h[h].poll)
			continue;
		do {
			k = hs->h[h].poll(hs->h[h].ctx, w->idx, w->out, CW_SOCK_BURST, &t);
			sock_send(w, h, k);
		} while (k == CW_SOCK_BURST);
		next = t < next ? t : next;
	}
	return next;
}

/*
 * Sleep until a socket or a wake fd is readable, or the deadline @next. A
 * wake eventfd that woke us is reset here, not in every handler poll: a
 * busy worker would read it in vain every round.
 */
static void sock_idle(struct cw_sock_worker *w, uint64_t next)
{
	const struct cw_handlers *hs = &w->dp->handlers;
	struct pollfd p[2 * CW_MAX_HANDLERS];
	bool wake[2 * CW_MAX_HANDLERS];
	uint64_t now = cw_mono_ns(), v;
	int ms = CW_SOCK_IDLE_MS, rc;
	unsigned n = 0;

	if (next <= now)
		return;
	if (next - now < (uint64_t)CW_SOCK_IDLE_MS * 1000000u)
		ms = (int)((next - now + 999999u) / 1000000u);
	for (unsigned h = 0; h < hs->n; h++) {
		int fd = hs->h[h].wake_fd ? hs->h[h].wake_fd(hs->h[h].ctx, w->idx) : -1;

		wake[n] = false;
		p[n++] = (struct pollfd){.fd = w->fd[h], .events = POLLIN};
		if (fd >= 0) {
			wake[n] = true;
			p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
	}
	/* Asleep this worker holds no RCU reference: grace periods need not
	 * wait for it to wake. */
	if (w->dp->rcu_workers)
		rcu_thread_offline();
	rc = poll(p, n, ms);
	if (w->dp->rcu_workers)
		rcu_thread_online();
	if (rc <= 0)
		return;
	for (unsigned i = 0; i < n; i++)
		if (wake[i] && (p[i].revents & POLLIN) && read(p[i].fd, &v, sizeof(v)) < 0 &&
		    errno != EAGAIN)
			cw_warn("socket worker %u: wake fd: %s", w->idx, strerror(errno));
}

int cw_sock_worker_main(void *arg)
{
	struct cw_sock_worker *w = arg;
	const struct cw_handlers *hs = &w->dp->handlers;

	cw_info("socket worker %u running on lcore %u", w->idx, w->lcore);
	while (!__atomic_load_n(&cw_quit, __ATOMIC_RELAXED)) {
		unsigned busy = 0;
		uint64_t next;

		for (unsigned h = 0; h < hs->n; h++)
			busy += sock_receive(w, h);
		next = sock_poll_handlers(w);
		if (!busy)
			sock_idle(w, next);
	}
	for (unsigned h = 0; h < hs->n; h++)
		if (hs->h[h].stop)
			hs->h[h].stop(hs->h[h].ctx, w->idx);
	sock_poll_handlers(w);
	return 0;
}
