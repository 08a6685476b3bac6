"""Low-level TCP repair operations on one socket.

Thin wrappers around setsockopt/getsockopt/ioctl that speak soccr's types.
Python's socket methods take raw bytes for options, so no C is needed.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct

from . import kernel
from .errors import NotTcpSocketError, RepairPermissionError

_INT = struct.Struct("i")
_UINT = struct.Struct("I")


def describe(sock: socket.socket) -> str:
    """'fd 5 (127.0.0.1:40000 -> 127.0.0.1:5000)', as far as it is known."""
    text = f"fd {sock.fileno()}"
    try:
        local, peer = sock.getsockname(), sock.getpeername()
    except OSError:
        return text
    return f"{text} ({endpoint(local)} -> {endpoint(peer)})"


def endpoint(addr: tuple) -> str:
    """'127.0.0.1:80' or '[::1]:80'."""
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_tcp(sock: socket.socket) -> None:
    """Raise NotTcpSocketError unless sock is an IPv4/IPv6 TCP stream socket."""
    try:
        family = sock.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN)
        kind = sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
        proto = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    except OSError as e:
        raise NotTcpSocketError(f"fd {sock.fileno()} is not a socket: {e.strerror}") from None
    if family not in (socket.AF_INET, socket.AF_INET6) or kind != socket.SOCK_STREAM \
            or proto != socket.IPPROTO_TCP:
        raise NotTcpSocketError(
            f"fd {sock.fileno()} is not a TCP socket (family {family}, type {kind}, "
            f"protocol {proto}); soccr handles IPv4/IPv6 TCP only")


def tcp_info(sock: socket.socket) -> kernel.TcpInfoHead:
    raw = sock.getsockopt(kernel.SOL_TCP, kernel.TCP_INFO, kernel.TcpInfoHead.LAYOUT.size)
    return kernel.TcpInfoHead.unpack(raw)


def repair_on(sock: socket.socket, where: str | None = None) -> None:
    """Enter repair mode; a refusal for lack of CAP_NET_ADMIN gets its own error.

    `where` names the socket in that message when its fd means nothing to
    the caller (a socket restore() has just created).
    """
    try:
        sock.setsockopt(kernel.SOL_TCP, kernel.TCP_REPAIR, kernel.TCP_REPAIR_ON)
    except OSError as e:
        if e.errno == errno.EPERM:
            raise RepairPermissionError(
                f"{where or describe(sock)}: TCP repair mode refused: CAP_NET_ADMIN is needed "
                f"in the socket's network namespace") from None
        raise


def repair_off(sock: socket.socket, window_probe: bool = True) -> None:
    """Leave repair mode; by default the kernel sends a window probe to resync the peer."""
    value = kernel.TCP_REPAIR_OFF if window_probe else kernel.TCP_REPAIR_OFF_NO_WP
    sock.setsockopt(kernel.SOL_TCP, kernel.TCP_REPAIR, value)


def select_queue(sock: socket.socket, queue: int) -> None:
    sock.setsockopt(kernel.SOL_TCP, kernel.TCP_REPAIR_QUEUE, queue)


def get_queue_seq(sock: socket.socket, queue: int) -> int:
    select_queue(sock, queue)
    raw = sock.getsockopt(kernel.SOL_TCP, kernel.TCP_QUEUE_SEQ, _UINT.size)
    return _UINT.unpack(raw)[0]


def set_queue_seq(sock: socket.socket, queue: int, seq: int) -> None:
    select_queue(sock, queue)
    sock.setsockopt(kernel.SOL_TCP, kernel.TCP_QUEUE_SEQ, _UINT.pack(seq & 0xFFFFFFFF))


def queue_size(sock: socket.socket, request: int) -> int:
    """SIOCINQ / SIOCOUTQ / SIOCOUTQNSD: a byte count of one queue."""
    raw = fcntl.ioctl(sock.fileno(), request, _INT.pack(0))
    return _INT.unpack(raw)[0]


def peek_queue(sock: socket.socket, queue: int, length: int) -> bytes:
    """Copy a whole queue without consuming it (repair mode MSG_PEEK).

    One byte more than expected is asked for, so that a queue that grew
    meanwhile shows up as a longer result instead of going unnoticed.
    """
    select_queue(sock, queue)
    if length == 0:
        return b""
    buf = bytearray(length + 1)
    timeout = sock.gettimeout()
    if timeout:
        # With a timeout Python polls for input before recv, and poll knows
        # nothing of the send queue: make the call directly (it cannot block).
        sock.settimeout(0.0)
    try:
        got = sock.recv_into(buf, length + 1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    finally:
        if timeout:
            sock.settimeout(timeout)
    return bytes(memoryview(buf)[:got])


def fill_queue(sock: socket.socket, queue: int, data: bytes) -> None:
    """Write data into a queue in repair mode (nothing goes on the wire).

    The kernel builds one buffer per call for the receive queue, so a large
    write can fail with ENOMEM; then the chunk size is halved and retried.
    """
    select_queue(sock, queue)
    view = memoryview(data)
    chunk = max(len(view), 1)
    while view:
        try:
            sent = sock.send(view[:chunk])
        except OSError as e:
            if e.errno in (errno.ENOMEM, errno.ENOBUFS) and chunk > 1024:
                chunk //= 2
                continue
            raise
        view = view[sent:]


def get_window(sock: socket.socket) -> kernel.TcpRepairWindow | None:
    """The window state, or None on kernels older than TCP_REPAIR_WINDOW (4.8)."""
    try:
        raw = sock.getsockopt(kernel.SOL_TCP, kernel.TCP_REPAIR_WINDOW,
                              kernel.TcpRepairWindow.LAYOUT.size)
    except OSError as e:
        if e.errno == errno.ENOPROTOOPT:
            return None
        raise
    return kernel.TcpRepairWindow.unpack(raw)


def set_window(sock: socket.socket, window: kernel.TcpRepairWindow) -> None:
    sock.setsockopt(kernel.SOL_TCP, kernel.TCP_REPAIR_WINDOW, window.pack())


def set_options(sock: socket.socket, options: list[kernel.TcpRepairOpt]) -> None:
    array = b"".join(option.pack() for option in options)
    sock.setsockopt(kernel.SOL_TCP, kernel.TCP_REPAIR_OPTIONS, array)


def get_uint(sock: socket.socket, option: int) -> int:
    return _UINT.unpack(sock.getsockopt(kernel.SOL_TCP, option, _UINT.size))[0]


def set_uint(sock: socket.socket, option: int, value: int) -> None:
    sock.setsockopt(kernel.SOL_TCP, option, _UINT.pack(value & 0xFFFFFFFF))


def ensure_buffer(sock: socket.socket, size_opt: int, force_opt: int, payload: int) -> None:
    """Make sure a socket buffer can hold `payload` bytes plus bookkeeping.

    A restored queue must fit at once (nothing drains it in repair mode),
    and the original socket's buffer may have grown by autotuning beyond
    the default of a new socket. The kernel doubles the value it is given.
    """
    if payload == 0:
        return
    want = 2 * payload + 65536
    if sock.getsockopt(socket.SOL_SOCKET, size_opt) >= want:
        return
    sock.setsockopt(socket.SOL_SOCKET, force_opt, want // 2)


def resync_mss(sock: socket.socket) -> None:
    """Make the kernel recompute the segment size of a repaired socket.

    connect() in repair mode sizes segments with the default MSS clamp;
    neither TCP_REPAIR_OPTIONS nor TCP_REPAIR_WINDOW redo that, so a
    restored connection would send small segments (or, with a small peer
    window, too big ones). Replacing the IP-level options — with nothing —
    makes the kernel compute it again from the path MTU, the restored
    clamp and the restored window, and changes nothing else.
    """
    if sock.family == socket.AF_INET6:
        # An options buffer holding one control message that IPv6 ignores
        # (not SOL_IPV6): the installed option set stays empty.
        empty = struct.pack("@NiI", struct.calcsize("@NiI"), socket.IPPROTO_TCP, 0)
        sock.setsockopt(socket.IPPROTO_IPV6, kernel.IPV6_2292PKTOPTIONS, empty)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b"")
