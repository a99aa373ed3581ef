/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A watch stream split into its lines as its chunks arrive: kube-apiserver
 * writes one JSON event per line, "\n"-terminated, and a transfer's
 * chunks cut them anywhere. Each whole line is passed on where it stands
 * in the buffer (the reflector keeps pointers into it until its batch of
 * events is stored); the unfinished one waits for the next chunk.
 *
 * Sans-I/O: bytes in, lines out; control/reflector.c feeds it from
 * libcurl, tests/fuzz/fuzz_lines.c from arbitrary cuts.
 */
#ifndef CW_HUB_LINES_H
#define CW_HUB_LINES_H

#include <stddef.h>
#include <stdint.h>

struct cw_lines {
	uint8_t *buf;
	size_t len, cap;
	size_t off;  /* bytes of buf already passed on */
	size_t scan; /* buf[off..scan) holds no '\n' */
	size_t max;  /* the longest unfinished line kept; set before the first feed */
};

/* A line: @len bytes, the last one '\n'; non-zero stops the feed. */
typedef int (*cw_line_fn)(const uint8_t *line, size_t len, void *ctx);

/*
 * Append @chunk[0..@n) and pass each line it completes to @fn, in order.
 * The lines point into @l's buffer and stay valid until the next call on
 * @l. A non-zero return from @fn stops the feed and is returned: the
 * stream is to end, reset @l before another. Returns 0, @fn's value,
 * -ENOMEM, or -EMSGSIZE when the unfinished line left is longer than
 * @l->max (a line that never ends).
 */
int cw_lines_feed(struct cw_lines *l, const void *chunk, size_t n, cw_line_fn fn, void *ctx);

/* Forget what is buffered (a new stream); the memory stays for it. */
void cw_lines_reset(struct cw_lines *l);

/* Free the buffer; @l is then empty (max kept). */
void cw_lines_release(struct cw_lines *l);

#endif /* CW_HUB_LINES_H */
