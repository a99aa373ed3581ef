/* SPDX-License-Identifier: Apache-2.0 */
#include "csum.h"

uint64_t cw_csum_add_n(const void *data, size_t len, uint64_t s)
{
	const uint8_t *p = data;
	uint64_t a, b, c, d, t;
	uint32_t w32;
	uint16_t w16;

	if (len >= 8) {
		/* 32 bytes a step in two carry chains, which run in parallel. */
		for (t = 0; len > 32; p += 32, len -= 32) {
			memcpy(&a, p, 8);
			memcpy(&b, p + 8, 8);
			memcpy(&c, p + 16, 8);
			memcpy(&d, p + 24, 8);
			s = cw_csum_add64(cw_csum_add64(s, a), c);
			t = cw_csum_add64(cw_csum_add64(t, b), d);
		}
		return cw_csum_add_short_n(p, len, cw_csum_add64(s, t));
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		s = cw_csum_add64(s, w32);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		s = cw_csum_add64(s, w16);
		p += 2;
		len -= 2;
	}
	if (len) /* the odd byte is the high half of a big-endian word */
		s = cw_csum_add64(s, htons((uint16_t)(p[0] << 8)));
	return s;
}

uint32_t cw_csum_partial(const void *data, size_t len, uint32_t sum)
{
	return sum + ntohs(cw_csum_fold_n(cw_csum_add_n(data, len, 0)));
}

uint16_t cw_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

uint32_t cw_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];

	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = proto;
	memcpy(ph + 10, &len, 2);
	return cw_csum_partial(ph, sizeof(ph), 0);
}
