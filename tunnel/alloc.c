/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "alloc.h"

static void *default_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return malloc(n);
}

static void default_free(void *ctx, void *p, size_t n)
{
	(void)ctx;
	(void)n;
	free(p);
}

static const struct cw_alloc default_alloc_ops = {default_alloc, default_free, NULL};

const struct cw_alloc *cw_alloc_default(void)
{
	return &default_alloc_ops;
}
