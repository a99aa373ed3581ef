#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpus of fuzz_msg: one message stream per file in corpus/msg/.

Each file is fuzz_msg's control byte (bit 0: 4096-byte limit; bits 7-1:
chunking seed) followed by length-prefixed causeway.v1.Envelope messages
(tunnel/PROTOCOL.md §13.1), encoded here by hand so that the seeds do not
depend on the code under test. Deterministic: running it again rewrites the
same bytes. Python standard library only.

    tests/fuzz/make_msg_corpus.py [OUTDIR]   (default: corpus/msg/ next to this file)
"""

import os
import sys


def pb_varint(v):
    """Protobuf base-128 varint."""
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def quic_varint(v):
    """QUIC varint, shortest form (PROTOCOL.md §3)."""
    if v < 1 << 6:
        return bytes([v])
    if v < 1 << 14:
        return (v | 0x4000).to_bytes(2, "big")
    if v < 1 << 30:
        return (v | 0x80000000).to_bytes(4, "big")
    return (v | 0xC000000000000000).to_bytes(8, "big")


def vint(field, v):
    return pb_varint(field << 3) + pb_varint(v)


def ld(field, b):
    if isinstance(b, str):
        b = b.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(b)) + b


def msg(field, body):
    """One message: prefix and an Envelope holding member `field`."""
    env = ld(field, body)
    return quic_varint(len(env)) + env


def body(enc, data, ulen=0):
    return (vint(1, enc) if enc else b"") + (vint(2, ulen) if ulen else b"") + ld(3, data)


def header(name, value):
    return ld(1, name) + ld(2, value)


def peer(name, addr, port):
    return ld(1, name) + ld(2, addr) + vint(3, port)


HELLO = (ld(1, "edge-01") + ld(2, "store-042")
         + ld(3, ld(1, "kubernetes.io/hostname") + ld(2, "edge-01"))
         + ld(3, ld(1, "topology.kubernetes.io/zone") + ld(2, "store-042"))
         + ld(4, vint(1, 4000) + vint(2, 8 << 30) + vint(3, 110))
         + ld(5, "0.1.0")
         + ld(6, pb_varint(0x12345678) + pb_varint(7))
         + ld(7, vint(1, 8 << 20) + vint(6, 16 << 20))
         + ld(8, pb_varint(10250) + pb_varint(10255) + pb_varint(9100))
         + ld(9, bytes(range(16))))
HELLO_ACK = (ld(1, "edge-01") + vint(2, 0x12345678) + ld(3, vint(3, 1024))
             + ld(4, "0.1.0") + vint(5, 42) + ld(6, bytes(range(16, 32)))
             + vint(7, 600) + vint(8, 1764201600000))
HEARTBEAT = vint(1, 1) + vint(2, 1764201600123) + vint(3, 1) + vint(5, 250)
ASSIGNMENT = (vint(1, 3) + ld(2, "store-042") + ld(3, peer("edge-02", "10.1.0.2", 10250))
              + ld(3, peer("edge-03", "fd00::3", 10250)) + vint(4, 15000))
PROBE = (vint(1, 9) + ld(3, ld(1, "edge-02") + vint(2, 1) + vint(3, 850)
                         + vint(4, 1764201600456)))
CLOSE = vint(1, 0x1000) + ld(2, "draining") + vint(3, 5000)
API_REQUEST = (ld(1, "GET") + ld(2, "/api/v1/namespaces/kube-system/pods")
               + ld(3, "watch=true&resourceVersion=10")
               + ld(4, header("accept", "application/json")) + vint(6, 30000))
POD = b'{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0"}}'
API_RESPONSE = (vint(1, 200) + ld(2, header("content-type", "application/json"))
                + ld(3, body(0, POD)) + vint(4, 1))
WATCH = vint(1, 2) + ld(2, "123456") + ld(3, body(2, b"\x28\xb5\x2f\xfd" + bytes(12), 1000))
DIAL = vint(1, 7) + ld(2, "127.0.0.1") + vint(3, 10250)  # PROTOCOL.md B.8
DIAL_RESULT = vint(1, 7) + vint(3, 2) + ld(4, "connection refused")
ERROR = vint(1, 0x0B) + ld(2, "kube-apiserver unreachable")

SEEDS = {
    "b8_dial.bin": b"\x00" + msg(7, DIAL),
    "b8_dial_small_limit.bin": b"\x0b" + msg(7, DIAL) * 3,
    "control_agent.bin": b"\x06" + msg(1, HELLO) + msg(3, HEARTBEAT) + msg(10, PROBE)
    + msg(11, CLOSE),
    "control_gateway.bin": b"\x10" + msg(2, HELLO_ACK) + msg(9, ASSIGNMENT)
    + msg(10, vint(1, 9) + ld(2, peer("edge-02", "10.1.0.2", 10250))),
    "api_request.bin": b"\x22" + msg(4, API_REQUEST),
    "api_response.bin": b"\x31" + msg(5, API_RESPONSE) + msg(5, vint(4, 0)),
    "watch.bin": b"\x44" + msg(5, vint(1, 200)) + msg(6, WATCH) * 2,
    "dial_result_raw.bin": b"\x52" + msg(8, DIAL_RESULT) + b"HTTP/1.1 200 OK\r\n\r\n",
    "error.bin": b"\x60" + msg(12, ERROR),
    "unknown_member.bin": b"\x72" + quic_varint(3) + ld(13, b"A") + msg(7, DIAL),
    "non_minimal_prefix.bin": b"\x80" + b"\x80\x00\x00\x12" + msg(7, DIAL)[1:],
    "too_large.bin": b"\x01" + quic_varint(4097) + b"\x3a",
    "zero_length.bin": b"\x00\x00",
    "fin_in_body.bin": b"\x90" + msg(7, DIAL)[:-3],
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "msg")
    os.makedirs(outdir, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
