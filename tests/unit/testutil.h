/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the cmocka unit tests. */
#ifndef CW_TESTUTIL_H
#define CW_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * An allocator for struct cw_alloc (tunnel/alloc.h) that counts live bytes
 * and blocks and the peak, and refuses one allocation when fail_in counts
 * down to 1. free() checks it is given a block and a size it can account
 * for. Use as {tu_count_alloc, tu_count_free, &counter}.
 */
struct tu_counter {
	size_t bytes, blocks, peak;
	int fail_in;
};

void *tu_count_alloc(void *ctx, size_t n);
void tu_count_free(void *ctx, void *p, size_t n);

/* Decode the hex string @s (pairs of digits, no separators) into @out;
 * returns the number of bytes. */
size_t tu_unhex(const char *s, uint8_t *out);

/* The file @rel under the source tree (e.g. "/conf/causeway.dict"), in a
 * malloc'd buffer of *@len > 0 bytes; fails the test when it cannot. */
uint8_t *tu_read_source_file(const char *rel, size_t *len);

#endif
