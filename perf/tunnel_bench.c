/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-process, one-core costs of the tunnel's per-packet building blocks,
 * no I/O: packet protection (seal, open) at the tunnel's datagram size and
 * at a heartbeat's size, and a sealed packet's full receive path (header
 * parse, packet number, replay window, AEAD). These bound what the bulk
 * and small-message goals of the tunnel can reach before any stream or
 * recovery work is added.
 *
 *     tunnel-bench [--seconds S] [--chacha]
 *
 * Prints one line per measurement: packets/s, ns/packet and, for the bulk
 * size, payload GB/s. The median of 5 timed rounds each.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perf/common.h"
#include "tunnel/protect.h"

#define ROUNDS 5
#define BULK   1350 /* the max datagram size of PROTOCOL.md §5.1 */

static const uint8_t cid[CW_CID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct pair {
	struct cw_protect_short tx, rx;
	uint64_t pn;
};

static void pair_init(struct pair *p, enum cw_aead_alg alg)
{
	uint8_t a[CW_SECRET_LEN], b[CW_SECRET_LEN];

	for (unsigned i = 0; i < CW_SECRET_LEN; i++) {
		a[i] = (uint8_t)i;
		b[i] = (uint8_t)(0x80 + i);
	}
	if (cw_protect_short_init(&p->tx, alg, a, b, NULL) ||
	    cw_protect_short_init(&p->rx, alg, b, a, NULL)) {
		fprintf(stderr, "tunnel-bench: key setup failed\n");
		exit(1);
	}
	p->pn = 0;
}

enum what { SEAL, SEAL_OPEN };

/* Packets per second over @secs, one round. */
static double round_pps(struct pair *p, enum what w, size_t frames_len, double secs)
{
	static uint8_t frames[BULK], pkt[BULK + 64];
	uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9), n = 0, t = start;

	memset(frames, 0, sizeof(frames));
	frames[0] = 0x01;
	while (t < end) {
		for (int k = 0; k < 256; k++, n++) {
			const uint8_t *plain;
			struct cw_hdr h;
			size_t len;
			uint64_t pn;
			int pl = cw_protect_short_seal(&p->tx, pkt, sizeof(pkt), cid, p->pn,
						       p->pn ? p->pn - 1 : CW_PN_NONE, frames,
						       frames_len);

			p->pn++;
			if (pl < 0 ||
			    (w == SEAL_OPEN &&
			     (cw_hdr_decode(pkt, (size_t)pl, &h) ||
			      cw_protect_short_open(&p->rx, pkt, &h, &plain, &len, &pn)))) {
				fprintf(stderr, "tunnel-bench: packet %llu failed\n",
					(unsigned long long)p->pn);
				exit(1);
			}
		}
		t = now_ns();
	}
	return (double)n * 1e9 / (double)(t - start);
}

/* A fresh pair of endpoints per measurement: packet numbers must stay
 * within what the receiver can reconstruct. */
static void measure(const char *name, enum cw_aead_alg alg, enum what w, size_t len, double secs)
{
	uint64_t r[ROUNDS];
	struct pair pr, *p = &pr;
	double pps;

	pair_init(p, alg);
	for (int i = 0; i < ROUNDS; i++)
		r[i] = (uint64_t)round_pps(p, w, len, secs);
	qsort(r, ROUNDS, sizeof(r[0]), cmp_u64);
	pps = (double)r[ROUNDS / 2];
	printf("%-34s %5zu B frames: %10.0f packets/s %8.1f ns/packet %7.2f GB/s of frames\n", name,
	       len, pps, 1e9 / pps, pps * (double)len / 1e9);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"seconds", required_argument, NULL, 's'},
	    {"chacha", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum cw_aead_alg alg = CW_AEAD_AES_128_GCM;
	double secs = 0.5;
	int c;

	while ((c = getopt_long(argc, argv, "s:ch", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cw_cli_secs(optarg, 0.05, &secs) < 0) {
				fprintf(stderr, "tunnel-bench: --seconds: '%s'\n", optarg);
				return 2;
			}
			break;
		case 'c':
			alg = CW_AEAD_CHACHA20_POLY1305;
			break;
		case 'h':
			puts("usage: tunnel-bench [--seconds S] [--chacha]");
			return 0;
		default:
			fputs("usage: tunnel-bench [--seconds S] [--chacha]\n", stderr);
			return 2;
		}
	}
	printf("tunnel-bench: %s, median of %d rounds of %.2f s, one thread\n",
	       alg == CW_AEAD_AES_128_GCM ? "AES-128-GCM" : "ChaCha20-Poly1305", ROUNDS, secs);
	measure("seal", alg, SEAL, BULK - 1 - CW_CID_LEN - 4 - CW_AEAD_TAG_LEN, secs);
	measure("seal + parse + open", alg, SEAL_OPEN, BULK - 1 - CW_CID_LEN - 4 - CW_AEAD_TAG_LEN,
		secs);
	measure("seal + parse + open", alg, SEAL_OPEN, 200, secs);
	measure("seal + parse + open (heartbeat)", alg, SEAL_OPEN, 1, secs);
	return 0;
}
