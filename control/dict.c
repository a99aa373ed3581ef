/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dictionary training (dict.h): read the samples, hand them to zstd's
 * ZDICT_trainFromBuffer. Its default trainer (fastCover, single-threaded,
 * fixed parameters) and its id, a hash of the dictionary's content, make
 * the result a function of the input bytes alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zdict.h>

#include "dict.h"

static int has_json_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* strcmp, not alphasort: the order must not depend on the locale. */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int grow(struct cw_dict_samples *s, size_t more)
{
	if (s->n == s->sizes_cap) {
		unsigned ncap = s->sizes_cap ? s->sizes_cap * 2 : 1024;
		size_t *p = realloc(s->sizes, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->sizes = p;
		s->sizes_cap = ncap;
	}
	if (s->len + more > s->buf_cap) {
		size_t ncap = s->buf_cap ? s->buf_cap : 1u << 20;
		uint8_t *p;

		while (ncap < s->len + more)
			ncap *= 2;
		p = realloc(s->buf, ncap);
		if (!p)
			return -ENOMEM;
		s->buf = p;
		s->buf_cap = ncap;
	}
	return 0;
}

static int add_file(struct cw_dict_samples *s, int dfd, const char *name, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	int fd, rc = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	/* Directories or sockets named *.json are not samples. */
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		goto out;
	rc = grow(s, (size_t)st.st_size);
	if (rc < 0)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, s->buf + s->len + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto fail;
		}
		if (r == 0)
			break; /* shrank while we read: take what is there */
		got += (size_t)r;
	}
	if (got) {
		s->len += got;
		s->sizes[s->n++] = got;
		rc = 1;
	}
out:
	close(fd);
	return rc;
fail:
	snprintf(err, errlen, "%s: %s", name, strerror(-rc));
	if (fd >= 0)
		close(fd);
	return rc;
}

int cw_dict_load_dir(struct cw_dict_samples *s, const char *dir, char *err, size_t errlen)
{
	char **names = NULL;
	size_t nnames = 0, cap = 0;
	struct dirent *de;
	int added = 0, rc = 0;
	DIR *d = opendir(dir);

	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return rc;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!has_json_suffix(de->d_name))
			continue;
		if (nnames == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			char **p = realloc(names, ncap * sizeof(*p));

			if (!p) {
				rc = -ENOMEM;
				goto done;
			}
			names = p;
			cap = ncap;
		}
		names[nnames] = strdup(de->d_name);
		if (!names[nnames]) {
			rc = -ENOMEM;
			goto done;
		}
		nnames++;
	}
	if (errno) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto done;
	}
	if (nnames)
		qsort(names, nnames, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nnames; i++) {
		rc = add_file(s, dirfd(d), names[i], err, errlen);
		if (rc < 0)
			goto done;
		added += rc;
	}
	rc = added;
done:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", dir);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

void cw_dict_samples_free(struct cw_dict_samples *s)
{
	free(s->buf);
	free(s->sizes);
	memset(s, 0, sizeof(*s));
}

ptrdiff_t cw_dict_train(const struct cw_dict_samples *s, void *dict, size_t cap, uint32_t *id,
			char *err, size_t errlen)
{
	size_t r;

	if (s->n == 0) {
		snprintf(err, errlen, "no samples");
		return -EINVAL;
	}
	r = ZDICT_trainFromBuffer(dict, cap, s->buf, s->sizes, s->n);
	if (ZDICT_isError(r)) {
		/* zstd wants roughly 100 times the dictionary size in samples,
		 * and many of them; its own message does not say so. */
		snprintf(err, errlen,
			 "zstd: %s (%u samples, %zu bytes; give it about 100x the dictionary size "
			 "in many small samples, or a smaller --size)",
			 ZDICT_getErrorName(r), s->n, s->len);
		return -EINVAL;
	}
	*id = ZDICT_getDictID(dict, r);
	return (ptrdiff_t)r;
}
