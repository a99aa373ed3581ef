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
