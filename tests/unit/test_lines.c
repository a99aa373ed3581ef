/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub/lines.c: a watch stream's chunks, cut anywhere, give the same lines
 * as the whole stream, each passed once and in order; a line that never
 * ends is refused; a stop from the callback is returned.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hub/lines.h"

struct got {
	char text[1024];
	size_t len;
	int lines, stop_at;
};

static int take(const uint8_t *line, size_t len, void *ctx)
{
	struct got *g = ctx;

	assert_true(len >= 1 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1));
	assert_true(g->len + len + 1 < sizeof(g->text));
	memcpy(g->text + g->len, line, len);
	g->len += len;
	g->text[g->len++] = '|';
	g->text[g->len] = '\0';
	return ++g->lines == g->stop_at ? 7 : 0;
}

static const char stream[] =
    "{\"type\":\"ADDED\"}\n{\"type\":\"MODIFIED\"}\n\n{\"type\":\"DELETED\"}\nrest";
static const char want[] =
    "{\"type\":\"ADDED\"}\n|{\"type\":\"MODIFIED\"}\n|\n|{\"type\":\"DELETED\"}\n|";

/* Every cut of the stream into two and three chunks: the same lines. */
static void test_cuts(void **state)
{
	size_t n = strlen(stream);

	(void)state;
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b++) {
			struct cw_lines l = {.max = 64};
			struct got g = {.len = 0};

			assert_int_equal(cw_lines_feed(&l, stream, a, take, &g), 0);
			assert_int_equal(cw_lines_feed(&l, stream + a, b - a, take, &g), 0);
			assert_int_equal(cw_lines_feed(&l, stream + b, n - b, take, &g), 0);
			assert_string_equal(g.text, want);
			assert_int_equal(g.lines, 4);
			/* What is left is the unfinished line. */
			assert_int_equal(l.len - l.off, 4);
			assert_memory_equal(l.buf + l.off, "rest", 4);
			cw_lines_release(&l);
		}
	}
}

static void test_too_long(void **state)
{
	struct cw_lines l = {.max = 8};
	struct got g = {.len = 0};

	(void)state;
	assert_int_equal(cw_lines_feed(&l, "12345678", 8, take, &g), 0);
	assert_int_equal(cw_lines_feed(&l, "9", 1, take, &g), -EMSGSIZE);
	/* A whole line longer than max in one chunk is fine: nothing is kept. */
	cw_lines_reset(&l);
	assert_int_equal(cw_lines_feed(&l, "0123456789abcdef\n", 17, take, &g), 0);
	assert_int_equal(g.lines, 1);
	cw_lines_release(&l);
	assert_null(l.buf);
	assert_int_equal(l.max, 8);
}

static void test_stop(void **state)
{
	struct cw_lines l = {.max = 64};
	struct got g = {.stop_at = 2};

	(void)state;
	assert_int_equal(cw_lines_feed(&l, stream, strlen(stream), take, &g), 7);
	assert_int_equal(g.lines, 2);
	/* A new stream after the reset: nothing of the old one. */
	cw_lines_reset(&l);
	g = (struct got){.len = 0};
	assert_int_equal(cw_lines_feed(&l, "x\n", 2, take, &g), 0);
	assert_string_equal(g.text, "x\n|");
	cw_lines_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cuts),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
