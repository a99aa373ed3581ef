/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `causewayctl status`: the connected nodes as the gateway's admin API
 * (control/admin.h) reports them.
 */
#ifndef CW_STATUS_H
#define CW_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#define CW_STATUS_DEFAULT_ADMIN "127.0.0.1:10267"

/*
 * GET /status.txt (or /status with @json) from the admin API at @admin
 * ("host:port") and write the body to @out. Returns 0, or -EIO with the
 * reason in @err (no answer, or an HTTP status other than 200).
 */
int cw_status_fetch(const char *admin, bool json, FILE *out, char *err, size_t errlen);

#endif /* CW_STATUS_H */
