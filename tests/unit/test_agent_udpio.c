/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/agent/udpio.c: a batch leaves in one system call and arrives in
 * order, byte-exact; a socket that takes only part of it (EAGAIN) keeps the
 * rest queued, in order, until it is writable; refused datagrams are
 * dropped and counted; UDP GSO splits runs of equal-sized datagrams back
 * into the same datagrams; recvmmsg hands them over in batches, and where
 * the socket has UDP GRO a run arrives as one message that is cut back into
 * the datagrams sent.
 *
 * AF_UNIX datagram socket pairs stand in for a connected UDP socket where
 * the receiver must be able to hold the sender back: with a small send
 * buffer the sender's datagrams count against it until the receiver reads
 * them, where UDP over loopback frees them at once and never says EAGAIN.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunnel/agent/udpio.h"

struct fixture {
	struct cw_udpio_tx *tx;
	struct cw_udpio_rx *rx;
	int fd[2];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->tx = malloc(sizeof(*f->tx));
	f->rx = malloc(sizeof(*f->rx));
	assert_non_null(f->tx);
	assert_non_null(f->rx);
	cw_udpio_tx_init(f->tx);
	cw_udpio_rx_init(f->rx);
	f->fd[0] = f->fd[1] = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 2; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	free(f->tx);
	free(f->rx);
	free(f);
	return 0;
}

static void unix_pair(struct fixture *f)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, f->fd), 0);
	cw_udpio_tx_open(f->tx, f->fd[0]);
	assert_false(f->tx->gso);
}

/* Two UDP sockets on 127.0.0.1 connected to each other. */
static void udp_pair(struct fixture *f)
{
	struct sockaddr_in a[2];
	socklen_t len = sizeof(a[0]);
	int buf = 1 << 20; /* a whole batch waits in the receiver at once */

	for (int i = 0; i < 2; i++) {
		a[i] = (struct sockaddr_in){.sin_family = AF_INET,
					    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		f->fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		assert_true(f->fd[i] >= 0);
		assert_int_equal(setsockopt(f->fd[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)), 0);
		assert_int_equal(bind(f->fd[i], (struct sockaddr *)&a[i], sizeof(a[i])), 0);
		assert_int_equal(getsockname(f->fd[i], (struct sockaddr *)&a[i], &len), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(connect(f->fd[i], (struct sockaddr *)&a[1 - i], sizeof(a[0])), 0);
	cw_udpio_tx_open(f->tx, f->fd[0]);
}

/* Datagram @seq: @len bytes, its number in the first two, then a pattern. */
static void fill(uint8_t *p, size_t len, unsigned seq)
{
	p[0] = (uint8_t)(seq >> 8);
	p[1] = (uint8_t)seq;
	for (size_t i = 2; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i);
}

static void queue(struct cw_udpio_tx *t, size_t len, unsigned seq)
{
	uint8_t *b = cw_udpio_tx_slot(t);

	assert_non_null(b);
	fill(b, len, seq);
	cw_udpio_tx_commit(t, len);
}

/* Receive everything waiting on @fd; check it is datagrams *@seq, ... with
 * lengths @lens[*@seq], ...; advance *@seq. Returns the messages it took. */
static unsigned expect(struct fixture *f, int fd, const size_t *lens, unsigned *seq)
{
	uint8_t want[CW_UDPIO_DGRAM];
	const uint8_t *p;
	unsigned msgs = 0;
	size_t len;
	int n;

	while ((n = cw_udpio_rx_recv(f->rx, fd)) > 0) {
		int got = 0;

		msgs += f->rx->n;
		for (; (p = cw_udpio_rx_next(f->rx, &len)); got++, (*seq)++) {
			assert_int_equal(len, lens[*seq]);
			fill(want, lens[*seq], *seq);
			assert_memory_equal(p, want, lens[*seq]);
		}
		assert_int_equal(got, n);
	}
	assert_int_equal(n, -EAGAIN);
	return msgs;
}

static bool writable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

static void test_batch_one_call(void **state)
{
	struct fixture *f = *state;
	size_t lens[8];
	unsigned seq = 0;

	unix_pair(f);
	assert_false(cw_udpio_tx_queued(f->tx));
	assert_int_equal(cw_udpio_tx_flush(f->tx), 0); /* empty: no call */
	assert_int_equal(f->tx->syscalls, 0);
	for (unsigned i = 0; i < 8; i++) {
		lens[i] = 100 + i * 150;
		queue(f->tx, lens[i], i);
	}
	assert_true(cw_udpio_tx_queued(f->tx));
	assert_int_equal(cw_udpio_tx_flush(f->tx), 0);
	assert_false(cw_udpio_tx_queued(f->tx));
	assert_int_equal(f->tx->syscalls, 1);
	assert_int_equal(f->tx->dgrams, 8);
	assert_int_equal(f->tx->bytes, 8 * 100 + 150 * 28);
	assert_int_equal(f->tx->dropped, 0);
	expect(f, f->fd[1], lens, &seq);
	assert_int_equal(seq, 8);
}

static void test_full_queue(void **state)
{
	struct fixture *f = *state;

	unix_pair(f);
	for (unsigned i = 0; i < CW_UDPIO_BATCH; i++)
		queue(f->tx, 10, i);
	assert_null(cw_udpio_tx_slot(f->tx));
}

/* The receiver holds the sender back: nothing lost, nothing reordered, and
 * the socket is not writable while it holds back (no busy loop). */
static void test_eagain_keeps_order(void **state)
{
	struct fixture *f = *state;
	size_t lens[CW_UDPIO_BATCH];
	unsigned seq = 0, rounds = 0;
	int small = 4096; /* the kernel's floor: a few datagrams */

	unix_pair(f);
	assert_int_equal(setsockopt(f->fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	for (unsigned i = 0; i < CW_UDPIO_BATCH; i++) {
		lens[i] = 64 + i * 20;
		queue(f->tx, lens[i], i);
	}
	while (cw_udpio_tx_flush(f->tx) == -EAGAIN) {
		assert_true(cw_udpio_tx_queued(f->tx));
		assert_null(cw_udpio_tx_slot(f->tx));
		assert_false(writable(f->fd[0]));
		assert_true(f->tx->dgrams < CW_UDPIO_BATCH);
		expect(f, f->fd[1], lens, &seq);
		assert_int_equal(seq, f->tx->dgrams);
		assert_true(writable(f->fd[0]));
		rounds++;
	}
	expect(f, f->fd[1], lens, &seq);
	assert_true(rounds > 0);
	assert_int_equal(seq, CW_UDPIO_BATCH);
	assert_int_equal(f->tx->dgrams, CW_UDPIO_BATCH);
	assert_int_equal(f->tx->dropped, 0);
	assert_false(cw_udpio_tx_queued(f->tx));
	assert_non_null(cw_udpio_tx_slot(f->tx));
}

static void test_refused_dropped(void **state)
{
	struct fixture *f = *state;

	unix_pair(f);
	close(f->fd[1]);
	f->fd[1] = -1;
	for (unsigned i = 0; i < 3; i++)
		queue(f->tx, 50, i);
	assert_int_equal(cw_udpio_tx_flush(f->tx), 0);
	assert_false(cw_udpio_tx_queued(f->tx));
	assert_int_equal(f->tx->dropped, 3);
	assert_int_equal(f->tx->dgrams, 0);
}

/* Runs of one size (the last one shorter) as one GSO message each; the
 * receiver sees the datagrams as queued. */
static void test_udp_runs(void **state)
{
	struct fixture *f = *state;
	size_t lens[27];
	unsigned seq = 0, k = 0;

	udp_pair(f);
	while (k < 20)
		lens[k++] = 1200;
	lens[k++] = 300;
	while (k < 26)
		lens[k++] = 1000;
	lens[k++] = 1200;
	for (unsigned i = 0; i < k; i++)
		queue(f->tx, lens[i], i);
	assert_int_equal(cw_udpio_tx_flush(f->tx), 0);
	assert_int_equal(f->tx->syscalls, 1);
	assert_int_equal(f->tx->dgrams, k);
	if (f->tx->gso) {
		assert_int_equal(f->tx->msg_dgrams[0], 21);
		assert_int_equal(f->tx->msg_dgrams[1], 5);
		assert_int_equal(f->tx->msg_dgrams[2], 1);
	}
	expect(f, f->fd[1], lens, &seq);
	assert_int_equal(seq, k);
}

/* A run longer than one GSO message can carry is split over several. */
static void test_udp_long_run(void **state)
{
	struct fixture *f = *state;
	size_t lens[CW_UDPIO_BATCH];
	unsigned seq = 0;

	udp_pair(f);
	for (unsigned i = 0; i < CW_UDPIO_BATCH; i++) {
		lens[i] = 1350;
		queue(f->tx, lens[i], i);
	}
	assert_int_equal(cw_udpio_tx_flush(f->tx), 0);
	assert_int_equal(f->tx->dgrams, CW_UDPIO_BATCH);
	if (f->tx->gso)
		assert_true(f->tx->msg_dgrams[0] > 1 && f->tx->msg_dgrams[0] * 1350 <= 65507);
	expect(f, f->fd[1], lens, &seq);
	assert_int_equal(seq, CW_UDPIO_BATCH);
}

/* A GSO run of @n datagrams of @seg bytes and a last one of @last bytes,
 * sent in one message; their lengths in @lens. */
static void send_run(struct fixture *f, size_t *lens, unsigned n, size_t seg, size_t last)
{
	for (unsigned i = 0; i <= n; i++) {
		lens[i] = i < n ? seg : last;
		queue(f->tx, lens[i], i);
	}
	assert_true(f->tx->gso);
	assert_int_equal(cw_udpio_tx_flush(f->tx), 0);
	assert_int_equal(f->tx->syscalls, 1);
	assert_int_equal(f->tx->msg_dgrams[0], n + 1);
}

/* With UDP GRO the run arrives as one message and is cut back into exactly
 * the datagrams sent, byte for byte. */
static void test_gro_splits_run(void **state)
{
	struct fixture *f = *state;
	size_t lens[31];
	unsigned seq = 0;

	udp_pair(f);
	assert_true(cw_udpio_rx_open(f->rx, f->fd[1]));
	send_run(f, lens, 30, 1350, 77);
	assert_int_equal(expect(f, f->fd[1], lens, &seq), 1);
	assert_int_equal(seq, 31);
	assert_null(cw_udpio_rx_next(f->rx, &lens[0]));
}

/* Without GRO the same run arrives as one message per datagram, with the
 * same result. */
static void test_no_gro_same_datagrams(void **state)
{
	struct fixture *f = *state;
	size_t lens[31];
	unsigned seq = 0;

	udp_pair(f);
	assert_false(f->rx->gro);
	send_run(f, lens, 30, 1350, 77);
	assert_int_equal(expect(f, f->fd[1], lens, &seq), 31);
	assert_int_equal(seq, 31);
}

/* Runs, single datagrams and an empty one mixed in one receive: every
 * message is cut at its own size. */
static void test_gro_mixed_runs(void **state)
{
	struct fixture *f = *state;
	size_t lens[40];
	unsigned seq = 0, k = 0;

	udp_pair(f);
	assert_true(cw_udpio_rx_open(f->rx, f->fd[1]));
	while (k < 12)
		lens[k++] = 1000;
	lens[k++] = 999;
	lens[k++] = 1400;
	while (k < 30)
		lens[k++] = 500;
	lens[k++] = 2;
	lens[k++] = 2;
	for (unsigned i = 0; i < k; i++)
		queue(f->tx, lens[i], i);
	assert_int_equal(cw_udpio_tx_flush(f->tx), 0);
	assert_int_equal(f->tx->dgrams, k);
	assert_true(expect(f, f->fd[1], lens, &seq) < k);
	assert_int_equal(seq, k);
}

/* A socket that is not UDP refuses GRO and still receives. */
static void test_gro_refused(void **state)
{
	struct fixture *f = *state;
	size_t lens[3] = {10, 20, 30};
	unsigned seq = 0;

	unix_pair(f);
	assert_false(cw_udpio_rx_open(f->rx, f->fd[1]));
	for (unsigned i = 0; i < 3; i++)
		queue(f->tx, lens[i], i);
	assert_int_equal(cw_udpio_tx_flush(f->tx), 0);
	assert_int_equal(expect(f, f->fd[1], lens, &seq), 3);
	assert_int_equal(seq, 3);
}

static void test_rx_empty(void **state)
{
	struct fixture *f = *state;

	unix_pair(f);
	assert_int_equal(cw_udpio_rx_recv(f->rx, f->fd[1]), -EAGAIN);
	assert_int_equal(cw_udpio_rx_recv(f->rx, -1), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_batch_one_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eagain_keeps_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_udp_runs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_udp_long_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gro_splits_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_gro_same_datagrams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gro_mixed_runs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gro_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_empty, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
