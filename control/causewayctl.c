/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causewayctl: the operator's tool. One subcommand per concern; each
 * reports usage errors with exit status 2 and a usage line, runtime
 * failures with status 1 and the reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/dict.h"
#include "control/status.h"

#define EXIT_USAGE 2

static const char usage_main[] = "usage: causewayctl COMMAND [ARGS]\n";
static const char usage_status[] = "usage: causewayctl status [--admin HOST:PORT] [--json]\n";
static const char usage_dict_train[] =
    "usage: causewayctl dict train [-o FILE] [--size BYTES] DIR\n";

static const char help_text[] =
    "\n"
    "Commands:\n"
    "  status [--admin HOST:PORT] [--json]\n"
    "      The edge nodes connected to the gateway: name, pool, address, RTT,\n"
    "      bytes in and out, open streams, and seconds since they connected,\n"
    "      from causewayd's admin API (default " CW_STATUS_DEFAULT_ADMIN ",\n"
    "      [admin] listen). --json prints the API's JSON with counters.\n"
    "  dict train [-o FILE] [--size BYTES] DIR\n"
    "      Train a zstd dictionary for the tunnel's message compression from\n"
    "      every *.json file in DIR (one Kubernetes object per file, as the API\n"
    "      server serves it). Writes FILE (default causeway.dict), at most BYTES\n"
    "      bytes (default 112640), and prints its dictionary id, the number of\n"
    "      samples and their total size. The dictionary id is what agents and the\n"
    "      gateway agree on in Hello; conf/dict/regen.sh rebuilds the default.\n"
    "\n"
    "Options:\n"
    "  -h, --help  this text\n";

static int usage(const char *line, const char *why)
{
	if (why)
		fprintf(stderr, "causewayctl: %s\n", why);
	fputs(line, stderr);
	return EXIT_USAGE;
}

/* Write via a temporary name so a reader never sees half a dictionary. */
static int write_file(const char *path, const void *data, size_t len)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 8);
	FILE *f;
	int ok;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, plen + 8, "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f) {
		int rc = -errno;

		free(tmp);
		return rc;
	}
	ok = fwrite(data, 1, len, f) == len;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) < 0) {
		int rc = errno ? -errno : -EIO;

		unlink(tmp);
		free(tmp);
		return rc;
	}
	free(tmp);
	return 0;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < CW_DICT_SIZE_MIN || v > CW_DICT_SIZE_MAX)
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

static int cmd_dict_train(int argc, char **argv)
{
	const char *out = "causeway.dict", *dir = NULL;
	size_t size = CW_DICT_SIZE_DEFAULT;
	struct cw_dict_samples s = {0};
	char err[512];
	uint32_t id;
	ptrdiff_t dlen;
	void *dict;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_dict_train, stdout);
			return 0;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			if (++i == argc)
				return usage(usage_dict_train, "-o needs a file name");
			out = argv[i];
		} else if (!strcmp(a, "--size")) {
			if (++i == argc)
				return usage(usage_dict_train, "--size needs a number of bytes");
			if (parse_size(argv[i], &size) < 0) {
				snprintf(err, sizeof(err), "--size: '%s' is not a size in %u..%u",
					 argv[i], CW_DICT_SIZE_MIN, CW_DICT_SIZE_MAX);
				return usage(usage_dict_train, err);
			}
		} else if (a[0] == '-' && a[1]) {
			snprintf(err, sizeof(err), "unknown option '%s'", a);
			return usage(usage_dict_train, err);
		} else if (dir) {
			return usage(usage_dict_train, "only one DIR");
		} else {
			dir = a;
		}
	}
	if (!dir)
		return usage(usage_dict_train, "DIR missing");

	rc = cw_dict_load_dir(&s, dir, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "causewayctl: %s\n", err);
		cw_dict_samples_free(&s);
		return 1;
	}
	if (rc == 0) {
		fprintf(stderr, "causewayctl: %s: no *.json files\n", dir);
		cw_dict_samples_free(&s);
		return 1;
	}
	dict = malloc(size);
	if (!dict) {
		fprintf(stderr, "causewayctl: out of memory\n");
		cw_dict_samples_free(&s);
		return 1;
	}
	dlen = cw_dict_train(&s, dict, size, &id, err, sizeof(err));
	if (dlen < 0) {
		fprintf(stderr, "causewayctl: %s: %s\n", dir, err);
		rc = 1;
		goto done;
	}
	rc = write_file(out, dict, (size_t)dlen);
	if (rc < 0) {
		fprintf(stderr, "causewayctl: %s: %s\n", out, strerror(-rc));
		rc = 1;
		goto done;
	}
	printf("%s: dict id %u, %td bytes, trained on %u samples (%zu bytes)\n", out, id, dlen, s.n,
	       s.len);
	rc = 0;
done:
	free(dict);
	cw_dict_samples_free(&s);
	return rc;
}

static int cmd_status(int argc, char **argv)
{
	const char *admin = CW_STATUS_DEFAULT_ADMIN;
	bool json = false;
	char err[640];

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage_status, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--admin")) {
			if (++i == argc)
				return usage(usage_status, "--admin needs HOST:PORT");
			admin = argv[i];
		} else {
			snprintf(err, sizeof(err), "unknown argument '%s'", argv[i]);
			return usage(usage_status, err);
		}
	}
	if (cw_status_fetch(admin, json, stdout, err, sizeof(err)) < 0) {
		fprintf(stderr, "causewayctl: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char why[256];

	if (argc < 2)
		return usage(usage_main, "no command");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_main, stdout);
		fputs(help_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 2, argv + 2);
	if (!strcmp(argv[1], "dict")) {
		if (argc < 3)
			return usage(usage_dict_train, "dict: no subcommand");
		if (!strcmp(argv[2], "train"))
			return cmd_dict_train(argc - 3, argv + 3);
		snprintf(why, sizeof(why), "dict: unknown subcommand '%s'", argv[2]);
		return usage(usage_dict_train, why);
	}
	snprintf(why, sizeof(why), "unknown command '%s' (causewayctl --help lists them)", argv[1]);
	return usage(usage_main, why);
}
