/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secrets the gateway keeps across restarts in small files (the stateless
 * reset key, the session ticket keys): read exactly, written atomically
 * with mode 0600 so that a crash never leaves half a key behind.
 */
#ifndef CW_KEYFILE_H
#define CW_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read exactly @len bytes from @path into @key. Returns 0, -ENOENT when
 * there is no such file, -EINVAL when it does not hold exactly @len bytes,
 * or another -errno.
 */
int cw_keyfile_read(const char *path, uint8_t *key, size_t len);

/* Replace @path with @len bytes of @key (via PATH.tmp and rename, 0600).
 * Returns 0 or -errno. */
int cw_keyfile_write(const char *path, const uint8_t *key, size_t len);

/* Read @path, or fill @key at random and create it. 0 or as above, -EIO
 * when no random bytes could be had. */
int cw_keyfile_load_or_create(const char *path, uint8_t *key, size_t len);

#endif /* CW_KEYFILE_H */
