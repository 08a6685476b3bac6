"""Segments delivered to a restored socket as if the peer had sent them.

A half-closed connection cannot be rebuilt with socket calls alone: the
FIN the peer sent earlier must reach the new socket's receive side, and an
acknowledgement of our own FIN must make the kernel believe the peer got
it. The peer will not send either again, so restore() hands them to the
local stack itself through a raw socket. The segment is addressed to this
host (the restored socket's own address), so it never leaves the machine.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

TCP_FIN = 0x01
TCP_ACK = 0x10
IPV6_HDRINCL = 36  # linux/in6.h; not exported by Python's socket module


def send_segment(family: int, local: tuple, peer: tuple, seq: int, ack: int,
                 flags: int, window: int) -> None:
    """Deliver one empty TCP segment from `peer` to `local`."""
    src, dst = ipaddress.ip_address(peer[0]), ipaddress.ip_address(local[0])
    if family == socket.AF_INET6 and isinstance(src, ipaddress.IPv6Address) \
            and isinstance(dst, ipaddress.IPv6Address):
        src4, dst4 = src.ipv4_mapped, dst.ipv4_mapped
        if src4 and dst4:
            src, dst = src4, dst4  # IPv4 on the wire
    tcp = _tcp_header(src, dst, peer[1], local[1], seq, ack, flags, window)
    if src.version == 4:
        packet = _ipv4_header(src, dst, len(tcp)) + tcp
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
            raw.sendto(packet, (str(dst), 0))
    else:
        packet = _ipv6_header(src, dst, len(tcp)) + tcp
        scope = local[3] if len(local) == 4 else 0
        with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
            raw.setsockopt(socket.IPPROTO_IPV6, IPV6_HDRINCL, 1)
            raw.sendto(packet, (str(dst), 0, 0, scope))


def _tcp_header(src: IPAddress, dst: IPAddress, sport: int, dport: int, seq: int, ack: int,
                flags: int, window: int) -> bytes:
    fields = (sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
              min(window, 0xFFFF))
    header = struct.pack("!HHIIBBHHH", *fields, 0, 0)
    if src.version == 4:
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(header))
    else:
        pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(header), socket.IPPROTO_TCP)
    return struct.pack("!HHIIBBHHH", *fields, _checksum(pseudo + header), 0)


def _ipv4_header(src: IPAddress, dst: IPAddress, payload: int) -> bytes:
    # version/IHL, TOS, total length, id, fragment, TTL, protocol, checksum;
    # with IPPROTO_RAW the kernel fills in the id and header checksum.
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + payload, 0, 0, 64,
                       socket.IPPROTO_TCP, 0) + src.packed + dst.packed


def _ipv6_header(src: IPAddress, dst: IPAddress, payload: int) -> bytes:
    return struct.pack("!IHBB", 6 << 28, payload, socket.IPPROTO_TCP, 64) + src.packed + dst.packed


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
