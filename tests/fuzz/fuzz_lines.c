/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the reflector's watch stream path: chunks
 * (hub/lines.c) to lines to events (hub/object.c). The first input byte
 * sets the longest unfinished line kept (4 x the byte), the second seeds
 * the chunk sizes; the rest is the stream, fed in those chunks. Each line
 * passed must be the next line of the stream, byte for byte, up to and
 * with its '\n', whatever the cuts; -EMSGSIZE must come exactly when the
 * unfinished line left after a chunk is longer than the limit; at the end
 * every line of what was fed has been passed. Each line is parsed as a
 * watch event, whose object must lie inside it as a JSON object. A
 * violated invariant traps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/lines.h"
#include "hub/object.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

struct ref {
	const uint8_t *s;
	size_t pos; /* where the next line starts in s */
};

static int on_line(const uint8_t *line, size_t len, void *ctx)
{
	struct ref *r = ctx;
	struct cw_watch_event ev;
	const uint8_t *nl = memchr(r->s + r->pos, '\n', len);

	check(len && nl == r->s + r->pos + len - 1);
	check(!memcmp(line, r->s + r->pos, len));
	r->pos += len;
	if (cw_watch_event_parse(&ev, line, len) == 0) {
		check(ev.obj_off + ev.obj_len <= len && ev.obj_len >= 2);
		check(line[ev.obj_off] == '{' && line[ev.obj_off + ev.obj_len - 1] == '}');
		cw_watch_event_release(&ev);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_lines l;
	struct ref r;
	uint32_t rnd;
	size_t fed = 0, n;
	int rc = 0;

	if (size < 2)
		return 0;
	l = (struct cw_lines){.max = (size_t)data[0] * 4};
	rnd = data[1] | 1u;
	r = (struct ref){.s = data + 2};
	n = size - 2;
	while (fed < n && !rc) {
		size_t k;

		rnd = rnd * 1103515245u + 12345u;
		k = (rnd >> 16) % 97; /* 0 too: an empty chunk changes nothing */
		if (k > n - fed)
			k = n - fed;
		rc = cw_lines_feed(&l, r.s + fed, k, on_line, &r);
		fed += k;
		check(rc == 0 || rc == -EMSGSIZE);
		/* Every whole line fed has been passed; the rest is the unfinished one. */
		check(!memchr(r.s + r.pos, '\n', fed - r.pos));
		check((rc == -EMSGSIZE) == (fed - r.pos > l.max));
	}
	cw_lines_release(&l);
	return 0;
}
