/* SPDX-License-Identifier: Apache-2.0 */
#include "node.h"

#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

void cw_node_capacity(const char *cache_dir, struct cw_as_capacity *out)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	struct statvfs vfs;

	memset(out, 0, sizeof(*out));
	if (cpus > 0)
		out->cpu_millis = (uint64_t)cpus * 1000;
	if (pages > 0 && psize > 0)
		out->memory_bytes = (uint64_t)pages * (uint64_t)psize;
	if (cache_dir[0] && statvfs(cache_dir, &vfs) == 0)
		out->ephemeral_storage_bytes = (uint64_t)vfs.f_blocks * vfs.f_frsize;
}

void cw_node_status(struct cw_as_status *out)
{
	struct sysinfo si;
	double load[1];

	memset(out, 0, sizeof(*out));
	if (getloadavg(load, 1) == 1 && load[0] >= 0)
		out->load_milli = (uint32_t)(load[0] * 1000);
	if (sysinfo(&si) == 0 && si.uptime > 0)
		out->uptime_s = (uint64_t)si.uptime;
}
