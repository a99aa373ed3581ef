/* SPDX-License-Identifier: Apache-2.0 */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

void *tu_count_alloc(void *ctx, size_t n)
{
	struct tu_counter *c = ctx;

	if (c->fail_in && --c->fail_in == 0)
		return NULL;
	c->bytes += n;
	c->blocks++;
	if (c->bytes > c->peak)
		c->peak = c->bytes;
	return malloc(n);
}

void tu_count_free(void *ctx, void *p, size_t n)
{
	struct tu_counter *c = ctx;

	assert_non_null(p);
	assert_true(c->bytes >= n);
	assert_true(c->blocks > 0);
	c->bytes -= n;
	c->blocks--;
	free(p);
}

size_t tu_unhex(const char *s, uint8_t *out)
{
	size_t n = 0;

	for (; s[0] && s[1]; s += 2) {
		unsigned v;

		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

uint8_t *tu_read_source_file(const char *rel, size_t *len)
{
	char path[1024];
	uint8_t *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s%s", CW_SOURCE_ROOT, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}
