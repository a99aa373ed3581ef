/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dataplane/heap.c: nothing to do below a block, and, with glibc's
 * trimming off as in causewayd, the pages of what it warms are resident
 * afterwards (the process's RSS grew by them).
 */
#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "dataplane/heap.h"

/* Resident bytes of this process. */
static size_t rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu %lu", &size, &res), 2);
	fclose(f);
	return (size_t)res * 4096;
}

static void test_small(void **state)
{
	(void)state;
	assert_int_equal(cw_heap_warm(0), 0);
	assert_int_equal(cw_heap_warm(1000), 0);
}

static void test_resident(void **state)
{
	const size_t n = (size_t)32 << 20;
	size_t before;

	(void)state;
	before = rss();
	assert_int_equal(cw_heap_warm(n), 0);
	assert_true(rss() >= before + n - ((size_t)1 << 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small),
	    cmocka_unit_test(test_resident),
	};

	/* AddressSanitizer's allocator refuses it, and does not trim. */
	(void)mallopt(M_TRIM_THRESHOLD, INT_MAX);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
