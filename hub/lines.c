/* SPDX-License-Identifier: Apache-2.0 */
#include "hub/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CAP_MIN 65536

static int append(struct cw_lines *l, const void *p, size_t n)
{
	if (n > l->cap - l->len) {
		size_t cap = l->cap ? l->cap : CAP_MIN;
		uint8_t *b;

		while (cap - l->len < n) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		b = realloc(l->buf, cap);
		if (!b)
			return -ENOMEM;
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	return 0;
}

int cw_lines_feed(struct cw_lines *l, const void *chunk, size_t n, cw_line_fn fn, void *ctx)
{
	uint8_t *nl;
	int rc;

	/* The lines passed last time are no longer referenced: drop them. */
	if (l->off) {
		memmove(l->buf, l->buf + l->off, l->len - l->off);
		l->len -= l->off;
		l->scan -= l->off;
		l->off = 0;
	}
	if (!n)
		return 0;
	rc = append(l, chunk, n);
	/* No rescan of a long line's earlier chunks: quadratic otherwise. */
	while (!rc && (nl = memchr(l->buf + l->scan, '\n', l->len - l->scan))) {
		const uint8_t *line = l->buf + l->off;
		size_t k = (size_t)(nl - line) + 1;

		l->off += k;
		l->scan = l->off;
		rc = fn(line, k, ctx);
	}
	if (!rc) {
		l->scan = l->len;
		if (l->len - l->off > l->max)
			rc = -EMSGSIZE;
	}
	return rc;
}

void cw_lines_reset(struct cw_lines *l)
{
	l->len = l->off = l->scan = 0;
}

void cw_lines_release(struct cw_lines *l)
{
	free(l->buf);
	*l = (struct cw_lines){.max = l->max};
}
