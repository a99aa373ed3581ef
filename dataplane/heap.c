/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "heap.h"

#define WARM_BLOCK (64 * 1024)
#define WARM_PAGE  4096

/* Volatile: a store into memory freed right after is otherwise dead. */
static void touch(volatile char *p)
{
	for (size_t o = 0; o < WARM_BLOCK; o += WARM_PAGE)
		p[o] = 0;
}

int cw_heap_warm(size_t bytes)
{
	size_t n = bytes / WARM_BLOCK, i;
	void **b;
	int rc = 0;

	if (!n)
		return 0;
	b = malloc(n * sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		b[i] = malloc(WARM_BLOCK);
		if (!b[i]) {
			rc = -ENOMEM;
			break;
		}
		touch(b[i]);
	}
	while (i)
		free(b[--i]);
	free(b);
	return rc;
}
