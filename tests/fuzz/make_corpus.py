#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpus of fuzz_parse: one frame per file in corpus/parse/.

The frames are addressed to the interface fuzz_parse.c pretends to be
(02:00:00:00:00:01, 10.0.0.1) from a peer (02:00:00:00:00:02, 10.0.0.2),
so each seed reaches deep into the parser. Deterministic: running it again
rewrites the same bytes. Python standard library only.

    tests/fuzz/make_corpus.py [OUTDIR]     (default: corpus/parse/ next to this file)
"""

import os
import struct
import sys

OUR_MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000002")
BCAST = b"\xff" * 6
OUR_IP = bytes([10, 0, 0, 1])
PEER_IP = bytes([10, 0, 0, 2])
ETH_IP, ETH_ARP, ETH_VLAN = 0x0800, 0x0806, 0x8100
TCI = 0x2064  # PCP 1, VID 100


def csum(data):
    """Internet checksum (RFC 1071) of data, as an int."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, ethertype, vlan=None, src=PEER_MAC):
    if vlan is None:
        return dst + src + struct.pack("!H", ethertype)
    return dst + src + struct.pack("!HHH", ETH_VLAN, vlan, ethertype)


def ipv4(proto, payload, options=b"", frag=0, ident=0x1234, ttl=64, total=None):
    """An IPv4 header (with a valid checksum) followed by payload."""
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    if total is None:
        total = ihl * 4 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, frag, ttl, proto, 0,
                      PEER_IP, OUR_IP) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def udp(payload, sport=40000, dport=7000, checksum=True):
    length = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    if not checksum:
        return seg
    pseudo = PEER_IP + OUR_IP + struct.pack("!BBH", 0, 17, length)
    c = csum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp_echo(data, ident=0xBEEF, seq=7):
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, op, sha, spa, tha, tpa)


def pattern(n, seed=0):
    return bytes((seed + 7 * i) & 0xFF for i in range(n))


def seeds():
    data = pattern(64, 0x40)
    dgram = udp(pattern(1000, 0x11))
    # Record Route (7) with room for 4 addresses, then NOPs/EOL to 4 bytes.
    rr = bytes([7, 19, 4]) + b"\0" * 16 + b"\0"
    return {
        "arp_request": eth(BCAST, ETH_ARP) + arp(1, PEER_MAC, PEER_IP, b"\0" * 6, OUR_IP),
        "arp_reply_vlan": eth(OUR_MAC, ETH_ARP, TCI) + arp(2, PEER_MAC, PEER_IP, OUR_MAC,
                                                          OUR_IP),
        "icmp_echo": eth(OUR_MAC, ETH_IP) + ipv4(1, icmp_echo(pattern(56, 0x10))),
        "icmp_echo_vlan_options": eth(OUR_MAC, ETH_IP, TCI) + ipv4(
            1, icmp_echo(pattern(24)), options=b"\x01\x01\x01\x00"),
        "udp": eth(OUR_MAC, ETH_IP) + ipv4(17, udp(data)),
        "udp_vlan": eth(OUR_MAC, ETH_IP, TCI) + ipv4(17, udp(data)),
        "udp_bcast_padded": (eth(BCAST, ETH_IP) + ipv4(17, udp(b"hi", checksum=False))
                             ).ljust(60, b"\xee"),
        "udp_ipv4_options": eth(OUR_MAC, ETH_IP) + ipv4(17, udp(data), options=rr),
        "udp_frag_first": eth(OUR_MAC, ETH_IP) + ipv4(17, dgram[:512], frag=0x2000,
                                                      ident=0x4242),
        "udp_frag_last": eth(OUR_MAC, ETH_IP) + ipv4(17, dgram[512:], frag=512 // 8,
                                                     ident=0x4242),
        "truncated_ipv4": (eth(OUR_MAC, ETH_IP) + ipv4(17, udp(data)))[:14 + 17],
        "truncated_udp": eth(OUR_MAC, ETH_IP) + ipv4(17, udp(data), total=20 + 6)[:26],
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "parse")
    os.makedirs(out, exist_ok=True)
    for name, frame in sorted(seeds().items()):
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(frame)
    return 0


if __name__ == "__main__":
    sys.exit(main())
