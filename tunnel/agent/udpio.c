/* SPDX-License-Identifier: Apache-2.0 */
#include "udpio.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h, Linux 4.18 */
#endif
#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h, Linux 5.0 */
#endif

/* One GSO message: the kernel's UDP_MAX_SEGMENTS, and its payload well under
 * the 64 KiB an IP packet can hold before the split. */
#define GSO_MAX_SEGS  64
#define GSO_MAX_BYTES 60000

void cw_udpio_tx_init(struct cw_udpio_tx *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

void cw_udpio_tx_open(struct cw_udpio_tx *t, int fd)
{
	int off = 0;

	t->fd = fd;
	t->head = 0;
	t->n = 0;
	/* Size 0 leaves the socket's own datagrams unsplit: only a message's
	 * cmsg asks for the split. */
	t->gso = setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &off, sizeof(off)) == 0;
}

uint8_t *cw_udpio_tx_slot(struct cw_udpio_tx *t)
{
	if (t->head != 0 || t->n == CW_UDPIO_BATCH)
		return NULL;
	return t->buf[t->n];
}

void cw_udpio_tx_commit(struct cw_udpio_tx *t, size_t len)
{
	t->len[t->n] = (uint16_t)len;
	t->iov[t->n] = (struct iovec){t->buf[t->n], len};
	t->n++;
}

bool cw_udpio_tx_queued(const struct cw_udpio_tx *t)
{
	return t->head != t->n;
}

/* How many datagrams from slot @i go in one message: a run of one size, the
 * last one possibly shorter (what UDP_SEGMENT splits back exactly). */
static unsigned run_at(const struct cw_udpio_tx *t, unsigned i)
{
	unsigned seg = t->len[i], k = 1, bytes = seg;

	if (!t->gso)
		return 1;
	while (i + k < t->n && k < GSO_MAX_SEGS && bytes + t->len[i + k] <= GSO_MAX_BYTES &&
	       t->len[i + k] <= seg) {
		bytes += t->len[i + k];
		if (t->len[i + k++] < seg)
			break;
	}
	return k;
}

static void set_segment(struct cw_udpio_tx *t, unsigned m, uint16_t seg)
{
	struct msghdr *h = &t->msg[m].msg_hdr;
	struct cmsghdr *c;

	h->msg_control = t->cmsg[m];
	h->msg_controllen = sizeof(t->cmsg[m]);
	c = CMSG_FIRSTHDR(h);
	c->cmsg_level = IPPROTO_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
}

/* The messages for the queued datagrams; returns how many. */
static unsigned build(struct cw_udpio_tx *t)
{
	unsigned m = 0;

	for (unsigned i = t->head; i < t->n; i += t->msg_dgrams[m++]) {
		struct msghdr *h = &t->msg[m].msg_hdr;
		unsigned k = run_at(t, i);

		memset(h, 0, sizeof(*h));
		h->msg_iov = &t->iov[i];
		h->msg_iovlen = k;
		t->msg_dgrams[m] = k;
		if (k > 1)
			set_segment(t, m, t->len[i]);
	}
	return m;
}

/* Messages [0, @m) left the socket: their datagrams are done. */
static void advance(struct cw_udpio_tx *t, unsigned m, bool sent)
{
	for (unsigned j = 0; j < m; j++) {
		for (unsigned k = 0; k < t->msg_dgrams[j]; k++, t->head++) {
			if (sent) {
				t->dgrams++;
				t->bytes += t->len[t->head];
			} else {
				t->dropped++;
			}
		}
	}
}

/* sendmmsg() failed on the first message with @err: retry, or drop it. */
static void on_error(struct cw_udpio_tx *t, int err)
{
	if (err == EINTR)
		return;
	/* A path or device that cannot take GSO (no checksum offload, an MTU
	 * below the segment): send these and later datagrams one by one. */
	if (t->msg_dgrams[0] > 1 && (err == EIO || err == EINVAL || err == EMSGSIZE)) {
		t->gso = false;
		return;
	}
	advance(t, 1, false);
}

int cw_udpio_tx_flush(struct cw_udpio_tx *t)
{
	while (t->head < t->n) {
		unsigned m = build(t);
		int r = sendmmsg(t->fd, t->msg, m, MSG_DONTWAIT | MSG_NOSIGNAL);

		t->syscalls++;
		if (r > 0) {
			advance(t, (unsigned)r, true);
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		on_error(t, r < 0 ? errno : EIO);
	}
	t->head = 0;
	t->n = 0;
	return 0;
}

void cw_udpio_rx_init(struct cw_udpio_rx *r)
{
	memset(r->msg, 0, sizeof(r->msg));
	r->gro = false;
	r->n = r->cur = 0;
	r->off = 0;
	for (unsigned i = 0; i < CW_UDPIO_BATCH; i++) {
		r->iov[i] = (struct iovec){r->buf[i], sizeof(r->buf[i])};
		r->msg[i].msg_hdr.msg_iov = &r->iov[i];
		r->msg[i].msg_hdr.msg_iovlen = 1;
	}
}

bool cw_udpio_rx_open(struct cw_udpio_rx *r, int fd)
{
	int one = 1;

	r->gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	return r->gro;
}

/* The datagram size of message @i: the GRO segment size, else its length. */
static size_t segment_of(struct cw_udpio_rx *r, unsigned i)
{
	struct msghdr *h = &r->msg[i].msg_hdr;
	size_t len = r->msg[i].msg_len;

	if (!r->gro)
		return len;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int seg;

		if (c->cmsg_level != IPPROTO_UDP || c->cmsg_type != UDP_GRO)
			continue;
		memcpy(&seg, CMSG_DATA(c), sizeof(seg));
		return seg > 0 && (size_t)seg < len ? (size_t)seg : len;
	}
	return len;
}

/* Where a message may hold a run, the kernel says its size in a cmsg. */
static void arm_cmsg(struct cw_udpio_rx *r)
{
	for (unsigned i = 0; i < CW_UDPIO_BATCH; i++) {
		r->msg[i].msg_hdr.msg_control = r->gro ? r->cmsg[i] : NULL;
		r->msg[i].msg_hdr.msg_controllen = r->gro ? sizeof(r->cmsg[i]) : 0;
	}
}

int cw_udpio_rx_recv(struct cw_udpio_rx *r, int fd)
{
	int n, dgrams = 0;

	r->n = r->cur = 0;
	r->off = 0;
	arm_cmsg(r);
	do
		n = recvmmsg(fd, r->msg, CW_UDPIO_BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (!n)
		return -EAGAIN;
	r->n = (unsigned)n;
	for (unsigned i = 0; i < r->n; i++) {
		size_t len = r->msg[i].msg_len, seg = segment_of(r, i);

		/* An empty datagram is one datagram too. */
		dgrams += len ? (int)((len + seg - 1) / seg) : 1;
		r->seg[i] = (uint32_t)seg;
	}
	return dgrams;
}

uint8_t *cw_udpio_rx_next(struct cw_udpio_rx *r, size_t *len)
{
	uint8_t *p;
	size_t total, seg;

	if (r->cur == r->n)
		return NULL;
	total = r->msg[r->cur].msg_len;
	seg = r->seg[r->cur];
	p = r->buf[r->cur] + r->off;
	*len = total - r->off < seg ? total - r->off : seg;
	r->off += *len;
	if (r->off >= total) {
		r->cur++;
		r->off = 0;
	}
	return p;
}
