/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS session ticket on disk ([tls] ticket_file), so that a restarted
 * agent resumes without a full handshake (PROTOCOL.md §7.1, §11.6). The
 * file holds the serialised session as tls.h hands it out, mode 0600; it
 * is replaced atomically (write a temporary file, fsync, rename), so a
 * crash leaves the old ticket or the new one, never a torn one.
 */
#ifndef CW_AGENT_TICKET_H
#define CW_AGENT_TICKET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read @path into @buf (@cap bytes); *@len gets the size. Returns 0,
 * -ENOENT when there is no file, -EFBIG when it exceeds @cap, or -errno.
 */
int cw_ticket_load(const char *path, uint8_t *buf, size_t cap, size_t *len);

/* Replace @path with @len bytes of @data. Returns 0 or -errno. */
int cw_ticket_save(const char *path, const uint8_t *data, size_t len);

#endif
