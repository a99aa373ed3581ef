/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compress-ratio: how well the tunnel's body compression does on a
 * directory of Kubernetes objects, per object type, with and without the
 * dictionary. It goes through tunnel/compress.c itself (same level, same
 * frame options as the tunnel) and decompresses every frame back, so the
 * figures are those of the code that ships. Files are named KIND-*.json
 * (conf/dict/gen-k8s-objects.py); the kind is the name up to the first '-'.
 *
 *     compress-ratio [-l LEVEL] [-d DICT] DIR
 *
 * Ratios are total input bytes over total output bytes per kind; "p10" is
 * the ratio the worst tenth of objects stay above. Timings are wall clock
 * per object with the dictionary, single thread, compression and
 * decompression separately.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "tunnel/compress.h"

#define MAX_KINDS 16
#define KIND_LEN  32
#define REPEAT	  5

struct obj {
	char kind[KIND_LEN];
	uint8_t *data;
	size_t len;
};

struct kind_stats {
	char name[KIND_LEN];
	unsigned n;
	size_t raw, plain, dict;
	double *ratios; /* per object, with the dictionary */
	double ns_c, ns_d;
};

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "compress-ratio: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		die("%s: cannot open", path);
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0)
		die("%s: cannot size", path);
	rewind(f);
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		die("%s: cannot read", path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct obj *load(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	struct obj *objs;

	if (!d)
		die("%s: cannot open directory", dir);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				die("%s", "out of memory");
		}
		names[n] = strdup(de->d_name);
		if (!names[n++])
			die("%s", "out of memory");
	}
	closedir(d);
	if (!n)
		die("%s: no *.json files", dir);
	qsort(names, n, sizeof(*names), cmp_str);
	objs = calloc(n, sizeof(*objs));
	if (!objs)
		die("%s", "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t k = strcspn(names[i], "-.");

		if (k >= KIND_LEN)
			k = KIND_LEN - 1;
		memcpy(objs[i].kind, names[i], k);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		objs[i].data = slurp(path, &objs[i].len);
		free(names[i]);
	}
	free(names);
	*count = n;
	return objs;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Compress @o @REPEAT times (the last result stays in @z), check the round
 * trip, and add the time per operation to *@ns_c / *@ns_d. */
static size_t measure(struct cw_compress *c, enum cw_encoding enc, uint32_t id, const struct obj *o,
		      uint8_t *z, size_t zcap, uint8_t *out, double *ns_c, double *ns_d)
{
	ptrdiff_t zl = 0, ol = 0;
	double t0 = now_ns();

	for (int r = 0; r < REPEAT; r++)
		zl = cw_compress(c, enc, id, o->data, o->len, z, zcap);
	if (zl < 0)
		die("compression failed: %s", strerror((int)-zl));
	*ns_c += (now_ns() - t0) / REPEAT;
	t0 = now_ns();
	for (int r = 0; r < REPEAT; r++)
		ol = cw_decompress(c, enc, id, z, (size_t)zl, o->len, out, o->len);
	*ns_d += (now_ns() - t0) / REPEAT;
	if (ol != (ptrdiff_t)o->len || memcmp(out, o->data, o->len))
		die("%s: round trip mismatch", o->kind);
	return (size_t)zl;
}

static struct kind_stats *kind_of(struct kind_stats *ks, unsigned *nk, const char *name,
				  size_t count)
{
	for (unsigned i = 0; i < *nk; i++)
		if (!strcmp(ks[i].name, name))
			return &ks[i];
	if (*nk == MAX_KINDS)
		die("%s: too many object kinds", name);
	memset(&ks[*nk], 0, sizeof(ks[*nk]));
	snprintf(ks[*nk].name, KIND_LEN, "%s", name);
	ks[*nk].ratios = calloc(count, sizeof(double));
	if (!ks[*nk].ratios)
		die("%s", "out of memory");
	return &ks[(*nk)++];
}

static void row(const struct kind_stats *k)
{
	double p10 = 0;

	if (k->n) {
		qsort(k->ratios, k->n, sizeof(double), cmp_double);
		p10 = k->ratios[k->n / 10];
	}
	printf("%-14s %7u %8zu %8zu %6.2fx %8zu %6.2fx %6.2fx %8.0f %8.0f\n", k->name, k->n,
	       k->n ? k->raw / k->n : 0, k->n ? k->plain / k->n : 0,
	       k->plain ? (double)k->raw / (double)k->plain : 0, k->n ? k->dict / k->n : 0,
	       k->dict ? (double)k->raw / (double)k->dict : 0, p10, k->n ? k->ns_c / k->n : 0,
	       k->n ? k->ns_d / k->n : 0);
}

int main(int argc, char **argv)
{
	const char *dict_path = NULL, *dir = NULL;
	unsigned long level = CW_COMPRESS_LEVEL_DEFAULT;
	struct kind_stats ks[MAX_KINDS + 1], *all = &ks[MAX_KINDS];
	struct cw_compress *c;
	struct obj *objs;
	size_t n, maxlen = 0, dlen = 0;
	uint8_t *dict = NULL, *z, *out;
	uint32_t id = 0;
	unsigned nk = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-l") && i + 1 < argc) {
			if (cw_cli_num(argv[++i], 1, 22, &level) < 0)
				die("-l %s: not a zstd level (1..22)", argv[i]);
		} else if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			dict_path = argv[++i];
		} else if (argv[i][0] != '-' && !dir) {
			dir = argv[i];
		} else {
			fprintf(stderr, "usage: compress-ratio [-l LEVEL] [-d DICT] DIR\n");
			return 2;
		}
	}
	if (!dir || !dict_path) {
		fprintf(stderr, "usage: compress-ratio [-l LEVEL] -d DICT DIR\n");
		return 2;
	}
	objs = load(dir, &n);
	rc = cw_compress_init(&c, NULL, (int)level);
	if (rc < 0)
		die("init: %s", strerror(-rc));
	dict = slurp(dict_path, &dlen);
	rc = cw_compress_add_dict(c, dict, dlen, &id);
	if (rc < 0)
		die("dictionary: %s", strerror(-rc));
	for (size_t i = 0; i < n; i++)
		if (objs[i].len > maxlen)
			maxlen = objs[i].len;
	z = malloc(cw_compress_bound(maxlen));
	out = malloc(maxlen ? maxlen : 1);
	if (!z || !out)
		die("%s", "out of memory");
	memset(all, 0, sizeof(*all));
	snprintf(all->name, KIND_LEN, "all");
	all->ratios = calloc(n, sizeof(double));
	if (!all->ratios)
		die("%s", "out of memory");

	for (size_t i = 0; i < n; i++) {
		struct kind_stats *k = kind_of(ks, &nk, objs[i].kind, n);
		double ignore = 0, ns_c = 0, ns_d = 0;
		size_t p, d;

		p = measure(c, CW_ENC_ZSTD, 0, &objs[i], z, cw_compress_bound(maxlen), out, &ignore,
			    &ignore);
		d = measure(c, CW_ENC_ZSTD_DICT, id, &objs[i], z, cw_compress_bound(maxlen), out,
			    &ns_c, &ns_d);
		for (struct kind_stats *t = k; t; t = t == all ? NULL : all) {
			t->ratios[t->n++] = (double)objs[i].len / (double)d;
			t->raw += objs[i].len;
			t->plain += p;
			t->dict += d;
			t->ns_c += ns_c;
			t->ns_d += ns_d;
		}
	}

	printf("zstd level %lu, dictionary %s (id %u, %zu bytes), %zu objects from %s\n", level,
	       dict_path, id, dlen, n, dir);
	printf("%-14s %7s %8s %8s %7s %8s %7s %7s %8s %8s\n", "kind", "objects", "mean B", "zstd B",
	       "ratio", "+dict B", "ratio", "p10", "comp ns", "dec ns");
	for (unsigned i = 0; i < nk; i++)
		row(&ks[i]);
	row(all);

	for (unsigned i = 0; i <= MAX_KINDS; i++)
		if (i < nk || i == MAX_KINDS)
			free(ks[i].ratios);
	for (size_t i = 0; i < n; i++)
		free(objs[i].data);
	free(objs);
	free(z);
	free(out);
	free(dict);
	cw_compress_free(c);
	return 0;
}
