/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compression dictionary training for `causewayctl dict train`.
 *
 * The samples are every *.json file of one directory, read in byte order of
 * their names so the same directory always trains the same dictionary
 * (conf/dict/regen.sh depends on that). Operator tooling, not the data
 * path: plain malloc.
 */
#ifndef CW_DICT_H
#define CW_DICT_H

#include <stddef.h>
#include <stdint.h>

/* zstd's recommended size for small-object dictionaries (its CLI default). */
#define CW_DICT_SIZE_DEFAULT (112640u)
#define CW_DICT_SIZE_MIN     (256u)
#define CW_DICT_SIZE_MAX     (16u * 1024 * 1024)

/* Training samples: one buffer with every file back to back, and sizes. */
struct cw_dict_samples {
	uint8_t *buf;
	size_t len;
	size_t *sizes;
	unsigned n;
	size_t buf_cap;
	unsigned sizes_cap;
};

/*
 * Append every regular *.json file of @dir to @s (zero-initialised before
 * the first call). Empty files are skipped: zstd cannot learn from them.
 * Returns the number of files added, or a negative errno with @err (@errlen
 * bytes) naming the file or directory at fault.
 */
int cw_dict_load_dir(struct cw_dict_samples *s, const char *dir, char *err, size_t errlen);

void cw_dict_samples_free(struct cw_dict_samples *s);

/*
 * Train a dictionary of at most @cap bytes from @s into @dict. Returns its
 * size with *@id set to its dictionary id, or -EINVAL with @err explaining
 * (too few or too small samples, as zstd reports it).
 */
ptrdiff_t cw_dict_train(const struct cw_dict_samples *s, void *dict, size_t cap, uint32_t *id,
			char *err, size_t errlen);

#endif /* CW_DICT_H */
