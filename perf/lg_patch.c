/* SPDX-License-Identifier: Apache-2.0 */
#include "lg_patch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int cw_lg_patch_connect(struct cw_lg_patch *p, const char *hostport)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *colon = strrchr(hostport, ':');
	char host[INET_ADDRSTRLEN];
	char *end;
	unsigned long port;

	*p = (struct cw_lg_patch){.fd = -1};
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	port = strtoul(colon + 1, &end, 10);
	if (*end || !port || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);
	if ((p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		cw_lg_patch_close(p);
		return rc;
	}
	return 0;
}

int cw_lg_patch_send(struct cw_lg_patch *p, const char *path, const char *value)
{
	char body[256], req[1024];
	int nb = snprintf(body, sizeof(body), "{\"metadata\":{\"annotations\":{\"%s\":\"%s\"}}}",
			  CW_LG_PATCH_KEY, value);
	int nr = snprintf(req, sizeof(req),
			  "PATCH %s HTTP/1.1\r\nHost: apiserver\r\n"
			  "Content-Type: application/merge-patch+json\r\n"
			  "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			  path, nb, body);
	ssize_t n;

	if (nb >= (int)sizeof(body) || nr >= (int)sizeof(req))
		return -EINVAL;
	n = send(p->fd, req, (size_t)nr, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == nr ? 0 : -EIO;
}

int cw_lg_patch_poll(struct cw_lg_patch *p)
{
	char *sp;
	ssize_t n;

	if (p->status)
		return 1;
	n = recv(p->fd, p->head + p->len, sizeof(p->head) - 1 - p->len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	p->len += (size_t)n;
	p->head[p->len] = '\0';
	if (p->len < 12)
		return 0;
	sp = strchr(p->head, ' ');
	if (strncmp(p->head, "HTTP/1.", 7) || !sp)
		return -EPROTO;
	p->status = atoi(sp + 1);
	cw_lg_patch_close(p);
	return p->status > 0 ? 1 : -EPROTO;
}

void cw_lg_patch_close(struct cw_lg_patch *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}
