/* SPDX-License-Identifier: Apache-2.0 */
/* Sessions by destination CID (cidmap.h). */
#include "cidmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cw_cidmap_init(struct cw_cidmap *m, size_t n)
{
	m->cap = 2 * n + 1;
	m->e = calloc(m->cap, sizeof(*m->e));
	return m->e ? 0 : -ENOMEM;
}

void cw_cidmap_free(struct cw_cidmap *m)
{
	free(m->e);
	m->e = NULL;
}

static size_t home(const struct cw_cidmap *m, const uint8_t *cid)
{
	uint64_t h;

	memcpy(&h, cid, sizeof(h));
	return (size_t)(h % m->cap);
}

void cw_cidmap_put(struct cw_cidmap *m, const uint8_t cid[CW_CID_LEN], uint32_t idx)
{
	size_t k = home(m, cid);

	while (m->e[k].val)
		k = (k + 1) % m->cap;
	memcpy(m->e[k].cid, cid, CW_CID_LEN);
	m->e[k].val = idx + 1;
}

int64_t cw_cidmap_get(const struct cw_cidmap *m, const uint8_t *cid)
{
	for (size_t k = home(m, cid); m->e[k].val; k = (k + 1) % m->cap)
		if (!memcmp(m->e[k].cid, cid, CW_CID_LEN))
			return (int64_t)m->e[k].val - 1;
	return -1;
}

const uint8_t *cw_cidmap_dcid(const uint8_t *d, size_t len)
{
	if (len >= 1 + CW_CID_LEN && !(d[0] & 0x80))
		return d + 1; /* short header (§5.4) */
	if (len >= 6 + CW_CID_LEN && d[5] == CW_CID_LEN)
		return d + 6; /* long header (§5.2) */
	return NULL;
}
