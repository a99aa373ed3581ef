/* SPDX-License-Identifier: Apache-2.0 */
#include "control/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

int cw_keyfile_read(const char *path, uint8_t *key, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t extra;
	ssize_t n, more;

	if (fd < 0)
		return -errno;
	n = read(fd, key, len);
	more = read(fd, &extra, 1);
	close(fd);
	if (n < 0)
		return -EIO;
	return (size_t)n == len && more == 0 ? 0 : -EINVAL;
}

int cw_keyfile_write(const char *path, const uint8_t *key, size_t len)
{
	char tmp[4096];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, key, len) != (ssize_t)len || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int cw_keyfile_load_or_create(const char *path, uint8_t *key, size_t len)
{
	int rc = cw_keyfile_read(path, key, len);

	if (rc != -ENOENT)
		return rc;
	if (RAND_bytes(key, (int)len) != 1)
		return -EIO;
	return cw_keyfile_write(path, key, len);
}
