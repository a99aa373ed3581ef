/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawsend: send crafted, mostly malformed, UDP/IPv4 Ethernet frames on an
 * interface through an AF_PACKET raw socket, to test how a receiver copes.
 *
 *   rawsend [-s SRC_IP] IFACE DST_MAC DST_IP DST_PORT KIND [count]
 *
 * Source MAC is the interface's, source IP its first IPv4 address (or
 * SRC_IP), source port 40000. KIND is one of:
 *   good          a fully valid UDP datagram
 *   bad-ip-csum   valid except a wrong IPv4 header checksum
 *   trunc-udp     IPv4 header consistent with the 20 UDP bytes present, but
 *                 the UDP length field claims 100 (UDP checksum 0 = none)
 *   wrong-mac     valid, but to destination MAC 02:00:00:00:00:99
 *   ttl0          valid with TTL 0 (checksums correct)
 *   bad-udp-csum  valid except a wrong, non-zero UDP checksum
 *   vlan-good     valid, inside an 802.1Q priority tag (VLAN 0)
 * Exit status: 0 after sending count (default 1) frames, 1 on a send or
 * interface error, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define CW_SRC_PORT	 40000
#define CW_PAYLOAD_LEN	 32
#define CW_TRUNC_PRESENT 12  /* payload bytes actually present in trunc-udp */
#define CW_TRUNC_CLAIM	 100 /* UDP length trunc-udp claims */
#define CW_TTL		 64
#define CW_FRAME_MAX	 128

enum cw_kind {
	CW_GOOD,
	CW_BAD_IP_CSUM,
	CW_TRUNC_UDP,
	CW_WRONG_MAC,
	CW_TTL0,
	CW_BAD_UDP_CSUM,
	CW_VLAN_GOOD,
	CW_KIND_MAX
};

static const char *const cw_kind_names[CW_KIND_MAX] = {
    [CW_GOOD] = "good",		  [CW_BAD_IP_CSUM] = "bad-ip-csum",
    [CW_TRUNC_UDP] = "trunc-udp", [CW_WRONG_MAC] = "wrong-mac",
    [CW_TTL0] = "ttl0",		  [CW_BAD_UDP_CSUM] = "bad-udp-csum",
    [CW_VLAN_GOOD] = "vlan-good",
};

static const uint8_t cw_wrong_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};

struct cw_send {
	const char *ifname;
	int ifindex;
	uint8_t src_mac[6], dst_mac[6];
	struct in_addr src_ip, dst_ip;
	uint16_t dst_port;
	enum cw_kind kind;
	unsigned long count;
	bool have_src_ip;
};

/* One frame; headers are written byte by byte, so no alignment assumptions. */
struct cw_frame {
	uint8_t buf[CW_FRAME_MAX];
	size_t len;
	size_t l3; /* offset of the IPv4 header */
};

static void cw_usage(void)
{
	fprintf(stderr,
		"usage: rawsend [-s SRC_IP] IFACE DST_MAC DST_IP DST_PORT KIND [count]\n"
		"  KIND: good bad-ip-csum trunc-udp wrong-mac ttl0 bad-udp-csum vlan-good\n");
	exit(2);
}

static void cw_die(const char *what, const char *detail)
{
	fprintf(stderr, "rawsend: %s: %s\n", what, detail);
	exit(1);
}

static void cw_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t cw_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t cw_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A wrong checksum that no receiver can take for the right one. */
static uint16_t cw_spoil(uint16_t csum)
{
	/* differs by 0xff or 0x101: never 0 modulo 0xffff, so never equivalent */
	uint16_t bad = csum ^ 0x0101;

	return bad ? bad : 0x0101;
}

static size_t cw_put_eth(const struct cw_send *s, uint8_t *p)
{
	memcpy(p, s->kind == CW_WRONG_MAC ? cw_wrong_mac : s->dst_mac, 6);
	memcpy(p + 6, s->src_mac, 6);
	if (s->kind != CW_VLAN_GOOD) {
		cw_put16(p + 12, ETHERTYPE_IP);
		return 14;
	}
	cw_put16(p + 12, ETHERTYPE_VLAN);
	cw_put16(p + 14, 0); /* PCP 0, DEI 0, VID 0: priority tag */
	cw_put16(p + 16, ETHERTYPE_IP);
	return 18;
}

static void cw_put_ip(const struct cw_send *s, uint8_t *ip, uint16_t total_len, uint16_t id)
{
	uint16_t csum;

	ip[0] = 0x45; /* version 4, IHL 5 */
	ip[1] = 0;
	cw_put16(ip + 2, total_len);
	cw_put16(ip + 4, id);
	cw_put16(ip + 6, 0x4000); /* DF, offset 0 */
	ip[8] = s->kind == CW_TTL0 ? 0 : CW_TTL;
	ip[9] = IPPROTO_UDP;
	cw_put16(ip + 10, 0);
	memcpy(ip + 12, &s->src_ip, 4);
	memcpy(ip + 16, &s->dst_ip, 4);
	csum = cw_fold(cw_sum(0, ip, 20));
	if (s->kind == CW_BAD_IP_CSUM)
		csum = cw_spoil(csum);
	cw_put16(ip + 10, csum);
}

static uint16_t cw_udp_csum(const uint8_t *ip, const uint8_t *udp, size_t len)
{
	uint32_t sum = cw_sum(0, ip + 12, 8); /* pseudo-header: addresses */
	uint16_t csum;

	sum += IPPROTO_UDP + (uint32_t)len;
	csum = cw_fold(cw_sum(sum, udp, len));
	return csum ? csum : 0xffff;
}

static void cw_put_payload(const struct cw_send *s, uint8_t *p, size_t len, unsigned long seq)
{
	char text[CW_PAYLOAD_LEN + 1];

	memset(p, 0, len);
	snprintf(text, sizeof(text), "rawsend %s %lu", cw_kind_names[s->kind], seq);
	memcpy(p, text, strlen(text) < len ? strlen(text) : len);
}

static void cw_build(const struct cw_send *s, struct cw_frame *f, unsigned long seq, uint16_t id)
{
	bool trunc = s->kind == CW_TRUNC_UDP;
	size_t payload = trunc ? CW_TRUNC_PRESENT : CW_PAYLOAD_LEN;
	uint8_t *ip, *udp;

	f->l3 = cw_put_eth(s, f->buf);
	ip = f->buf + f->l3;
	udp = ip + 20;
	cw_put_payload(s, udp + 8, payload, seq);
	cw_put16(udp, CW_SRC_PORT);
	cw_put16(udp + 2, s->dst_port);
	cw_put16(udp + 4, (uint16_t)(trunc ? CW_TRUNC_CLAIM : 8 + payload));
	cw_put16(udp + 6, 0);
	cw_put_ip(s, ip, (uint16_t)(20 + 8 + payload), id);
	if (!trunc) {
		uint16_t csum = cw_udp_csum(ip, udp, 8 + payload);

		cw_put16(udp + 6, s->kind == CW_BAD_UDP_CSUM ? cw_spoil(csum) : csum);
	}
	f->len = f->l3 + 20 + 8 + payload;
}

static void cw_if_info(struct cw_send *s)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		cw_die("socket", strerror(errno));
	if (strlen(s->ifname) >= IFNAMSIZ)
		cw_die(s->ifname, "interface name too long");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, s->ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		cw_die(s->ifname, strerror(errno));
	s->ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		cw_die("SIOCGIFHWADDR", strerror(errno));
	memcpy(s->src_mac, ifr.ifr_hwaddr.sa_data, 6);
	if (!s->have_src_ip) {
		ifr.ifr_addr.sa_family = AF_INET;
		if (ioctl(fd, SIOCGIFADDR, &ifr) < 0)
			cw_die(s->ifname, errno == EADDRNOTAVAIL ? "no IPv4 address (use -s SRC_IP)"
								 : strerror(errno));
		s->src_ip = ((struct sockaddr_in *)(void *)&ifr.ifr_addr)->sin_addr;
	}
	close(fd);
}

static void cw_parse_mac(const char *str, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(str, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6) {
		fprintf(stderr, "rawsend: bad MAC address '%s'\n", str);
		exit(2);
	}
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
}

static unsigned long cw_number(const char *str, unsigned long min, unsigned long max,
			       const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(str, &end, 10);
	if (errno || end == str || *end || str[0] == '-' || v < min || v > max) {
		fprintf(stderr, "rawsend: bad %s '%s' (want %lu..%lu)\n", what, str, min, max);
		exit(2);
	}
	return v;
}

static void cw_parse_ip(const char *str, struct in_addr *a)
{
	if (inet_pton(AF_INET, str, a) != 1) {
		fprintf(stderr, "rawsend: bad IPv4 address '%s'\n", str);
		exit(2);
	}
}

static enum cw_kind cw_parse_kind(const char *str)
{
	for (int k = 0; k < CW_KIND_MAX; k++)
		if (strcmp(str, cw_kind_names[k]) == 0)
			return (enum cw_kind)k;
	fprintf(stderr, "rawsend: unknown KIND '%s'\n", str);
	cw_usage();
	return CW_GOOD;
}

static void cw_parse(struct cw_send *s, int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "s:h")) != -1) {
		if (opt != 's')
			cw_usage();
		cw_parse_ip(optarg, &s->src_ip);
		s->have_src_ip = true;
	}
	argc -= optind;
	argv += optind;
	if (argc < 5 || argc > 6)
		cw_usage();
	s->ifname = argv[0];
	cw_parse_mac(argv[1], s->dst_mac);
	cw_parse_ip(argv[2], &s->dst_ip);
	s->dst_port = (uint16_t)cw_number(argv[3], 1, 65535, "DST_PORT");
	s->kind = cw_parse_kind(argv[4]);
	s->count = argc == 6 ? cw_number(argv[5], 1, 100000000, "count") : 1;
}

/* Send one frame; wait and retry while the device queue is full. */
static void cw_xmit(int fd, const struct cw_frame *f, const struct sockaddr_ll *sll)
{
	for (int tries = 0;; tries++) {
		if (sendto(fd, f->buf, f->len, 0, (const struct sockaddr *)sll, sizeof(*sll)) ==
		    (ssize_t)f->len)
			return;
		if ((errno != ENOBUFS && errno != EAGAIN && errno != EINTR) || tries >= 1000)
			cw_die("sendto", strerror(errno));
		usleep(1000);
	}
}

int main(int argc, char **argv)
{
	struct cw_send s = {0};
	struct sockaddr_ll sll = {0};
	struct cw_frame f;
	uint16_t id = (uint16_t)getpid();
	int fd;

	cw_parse(&s, argc, argv);
	cw_if_info(&s);
	/* protocol 0: this socket only sends, it receives nothing */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		cw_die("socket(AF_PACKET)", strerror(errno));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = s.ifindex;
	sll.sll_halen = 6;
	for (unsigned long i = 0; i < s.count; i++) {
		cw_build(&s, &f, i + 1, id++);
		memcpy(sll.sll_addr, f.buf, 6);
		cw_xmit(fd, &f, &sll);
	}
	close(fd);
	return 0;
}
