/* SPDX-License-Identifier: Apache-2.0 */
#include "eal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "port.h"

static int add(struct cw_eal_args *a, const char *s)
{
	size_t n = strlen(s) + 1;

	if (a->argc + 1 >= CW_EAL_MAX_ARGS || a->used + n > sizeof(a->buf))
		return -E2BIG;
	memcpy(a->buf + a->used, s, n);
	a->argv[a->argc++] = a->buf + a->used;
	a->argv[a->argc] = NULL;
	a->used += n;
	return 0;
}

static int add2(struct cw_eal_args *a, const char *k, const char *v)
{
	int rc = add(a, k);

	return rc ? rc : add(a, v);
}

/* Extra operator arguments, split on blanks (no quoting: EAL needs none). */
static int add_extra(struct cw_eal_args *a, const char *extra)
{
	char tok[CW_EAL_ARGS_LEN];
	const char *p = extra;

	while (*p) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (!n)
			break;
		snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
		if (add(a, tok))
			return -E2BIG;
		p += n;
	}
	return 0;
}

static int add_ports(const struct cw_config *c, struct cw_eal_args *a)
{
	bool any_pci = false;
	int rc = 0;

	for (unsigned i = 0; i < c->n_ports && !rc; i++) {
		bool pci = cw_port_is_pci(c->ports[i].device);

		any_pci |= pci;
		rc = add2(a, pci ? "-a" : "--vdev", c->ports[i].device);
	}
	/* Without an allow-list EAL would take every bound NIC. */
	if (!rc && !any_pci)
		rc = add(a, "--no-pci");
	return rc;
}

/* -l pins lcore N to CPU N; with cpus, every lcore's thread may run on any
 * of them (EAL --lcores "(LCORES)@(CPUS)"). */
static int add_lcores(struct cw_eal_args *a, const struct cw_eal_conf *e)
{
	char map[2 * sizeof(e->lcores) + 8];

	if (!e->cpus[0])
		return add2(a, "-l", e->lcores);
	snprintf(map, sizeof(map), "(%s)@(%s)", e->lcores, e->cpus);
	return add2(a, "--lcores", map);
}

int cw_eal_args_build(const struct cw_config *c, bool huge_available, struct cw_eal_args *a)
{
	bool huge =
	    c->eal.hugepages == CW_HUGE_YES || (c->eal.hugepages == CW_HUGE_AUTO && huge_available);
	bool socket = c->dp.backend == CW_BACKEND_SOCKET;
	char mem[16];
	int rc;

	memset(a, 0, sizeof(*a));
	snprintf(mem, sizeof(mem), "%u", c->eal.memory_mb);
	rc = add(a, "causewayd");
	rc = rc ?: add_lcores(a, &c->eal);
	rc = rc ?: add2(a, "--file-prefix", c->eal.file_prefix);
	if (c->eal.memory_mb)
		rc = rc ?: add2(a, "-m", mem);
	/* --no-huge memory is anonymous; hugepages are memfd-backed so that no
	 * file in hugetlbfs outlives the process. */
	if (!huge || socket)
		rc = rc ?: add(a, "--no-huge");
	else
		rc = rc ?: add(a, "--in-memory");
	if (socket)
		rc = rc ?: add(a, "--no-pci");
	else
		rc = rc ?: add_ports(c, a);
	return rc ?: add_extra(a, c->eal.extra_args);
}

bool cw_eal_huge_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long n = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %lu", &n) == 1)
			break;
	fclose(f);
	return n > 0;
}
