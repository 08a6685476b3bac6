"""Socket-level state of a unix socket: SOL_SOCKET options (sk_opts_entry)
and the messages queued to it, read without consuming them.

Both work on criu's own fd of the task's socket (pidfd_getfd): the same
socket, so getsockopt reads the task's settings and a peek sees its queue.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
from typing import Any

SOL_SOCKET = socket.SOL_SOCKET

# SOL_SOCKET option numbers (asm-generic/socket.h) missing from Python's
# socket module.
SO_NO_CHECK = 11
SO_RCVTIMEO_OLD = 20                # struct timeval, 64-bit time on x86_64
SO_SNDTIMEO_OLD = 21
SO_GET_FILTER = 26                  # = SO_ATTACH_FILTER
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
SO_PEEK_OFF = 42
SO_BUF_LOCK = 72

# In the kernel a buffer size is an int, and setsockopt doubles the value.
MAX_BUF = (2 ** 31 - 1) // 2

# Room for ancillary data of one peeked message: SCM_RIGHTS (up to 253
# fds), SCM_CREDENTIALS, SCM_SECURITY.
CMSG_ROOM = 4096


class Timeval(ctypes.Structure):
    """A socket timeout (SO_SNDTIMEO, SO_RCVTIMEO).

    struct timeval {
        long tv_sec;
        long tv_usec;
    };
    """

    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class Linger(ctypes.Structure):
    """SO_LINGER.

    struct linger {
        int l_onoff;
        int l_linger;
    };
    """

    _fields_ = [("l_onoff", ctypes.c_int), ("l_linger", ctypes.c_int)]


def _int(sk: socket.socket, opt: int) -> int:
    """An int option; 0 for one this family does not have (recent
    kernels refuse SO_PASSCRED and SO_PASSSEC on inet sockets)."""
    try:
        return sk.getsockopt(SOL_SOCKET, opt)
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            return 0
        raise


def _struct(sk: socket.socket, opt: int, cls: Any) -> Any:
    return cls.from_buffer_copy(sk.getsockopt(SOL_SOCKET, opt,
                                              ctypes.sizeof(cls)))


class FilterAttached(Exception):
    """The socket has a BPF filter (SO_ATTACH_FILTER), not kept yet."""


def dump_opts(sk: socket.socket) -> Any:
    """The sk_opts_entry of a socket (the values getsockopt returns: buffer
    sizes are the kernel's doubled ones, as CRIU stores them)."""
    from images.pb import sk_opts_pb2
    if _int(sk, SO_GET_FILTER):
        raise FilterAttached()
    snd = _struct(sk, SO_SNDTIMEO_OLD, Timeval)
    rcv = _struct(sk, SO_RCVTIMEO_OLD, Timeval)
    opts = sk_opts_pb2.sk_opts_entry(
        so_sndbuf=_int(sk, socket.SO_SNDBUF),
        so_rcvbuf=_int(sk, socket.SO_RCVBUF),
        so_snd_tmo_sec=snd.tv_sec, so_snd_tmo_usec=snd.tv_usec,
        so_rcv_tmo_sec=rcv.tv_sec, so_rcv_tmo_usec=rcv.tv_usec,
        reuseaddr=bool(_int(sk, socket.SO_REUSEADDR)),
        so_reuseport=bool(_int(sk, socket.SO_REUSEPORT)),
        so_priority=_int(sk, socket.SO_PRIORITY),
        so_rcvlowat=_int(sk, socket.SO_RCVLOWAT),
        so_passcred=bool(_int(sk, socket.SO_PASSCRED)),
        so_passsec=bool(_int(sk, socket.SO_PASSSEC)),
        so_dontroute=bool(_int(sk, socket.SO_DONTROUTE)),
        so_no_check=bool(_int(sk, SO_NO_CHECK)),
        so_broadcast=bool(_int(sk, socket.SO_BROADCAST)),
        so_keepalive=bool(_int(sk, socket.SO_KEEPALIVE)),
        so_oobinline=bool(_int(sk, socket.SO_OOBINLINE)),
        so_buf_lock=_int(sk, SO_BUF_LOCK))
    mark = _int(sk, socket.SO_MARK)
    if mark:
        opts.so_mark = mark         # setting it back needs CAP_NET_ADMIN
    linger = _struct(sk, socket.SO_LINGER, Linger)
    if linger.l_onoff:
        opts.so_linger = linger.l_linger
    dev = sk.getsockopt(SOL_SOCKET, socket.SO_BINDTODEVICE, 16)
    dev = dev.split(b"\0", 1)[0]
    if dev:
        opts.so_bound_dev = dev.decode()
    return opts


def restore_opts(sk: socket.socket, opts: Any) -> None:
    """Set every option of sk_opts_entry `opts` on sk.  Buffer sizes are
    forced (criu is privileged; the dumped size may be above the sysctl
    limits) and given halved, since the kernel doubles them."""
    sk.setsockopt(SOL_SOCKET, SO_SNDBUFFORCE, opts.so_sndbuf // 2)
    sk.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, opts.so_rcvbuf // 2)
    if opts.HasField("so_buf_lock"):
        # Setting the sizes locked them; the dump says whether they were.
        sk.setsockopt(SOL_SOCKET, SO_BUF_LOCK, opts.so_buf_lock)
    for field, opt in (("so_priority", socket.SO_PRIORITY),
                       ("so_rcvlowat", socket.SO_RCVLOWAT),
                       ("so_mark", socket.SO_MARK)):
        if opts.HasField(field):
            sk.setsockopt(SOL_SOCKET, opt, getattr(opts, field))
    for field, opt in (("reuseaddr", socket.SO_REUSEADDR),
                       ("so_reuseport", socket.SO_REUSEPORT),
                       ("so_passcred", socket.SO_PASSCRED),
                       ("so_passsec", socket.SO_PASSSEC),
                       ("so_dontroute", socket.SO_DONTROUTE),
                       ("so_no_check", SO_NO_CHECK),
                       ("so_broadcast", socket.SO_BROADCAST),
                       ("so_keepalive", socket.SO_KEEPALIVE),
                       ("so_oobinline", socket.SO_OOBINLINE)):
        if getattr(opts, field):
            sk.setsockopt(SOL_SOCKET, opt, 1)
    if opts.HasField("so_linger"):
        sk.setsockopt(SOL_SOCKET, socket.SO_LINGER,
                      bytes(Linger(1, opts.so_linger)))
    sk.setsockopt(SOL_SOCKET, SO_SNDTIMEO_OLD,
                  bytes(Timeval(opts.so_snd_tmo_sec, opts.so_snd_tmo_usec)))
    sk.setsockopt(SOL_SOCKET, SO_RCVTIMEO_OLD,
                  bytes(Timeval(opts.so_rcv_tmo_sec, opts.so_rcv_tmo_usec)))
    if opts.so_bound_dev:
        sk.setsockopt(SOL_SOCKET, socket.SO_BINDTODEVICE,
                      opts.so_bound_dev.encode())


class FdsInFlight(Exception):
    """A queued message carries file descriptors (SCM_RIGHTS)."""


def peek_queue(sk: socket.socket, sk_type: int, rq_bytes: int,
               read_shut: bool) -> list[bytes]:
    """The messages queued to sk, oldest first, left in the queue.

    A plain MSG_PEEK always returns the head of the queue; with
    SO_PEEK_OFF set, each peek starts where the previous one ended, so
    successive peeks walk the queue (the task's own peek offset is put
    back afterwards).  A dgram or seqpacket message bigger than the buffer
    comes in several peeks flagged MSG_TRUNC but the last, and is joined
    again; a stream's bytes come in chunks (message boundaries do not
    exist there).  rq_bytes (the bytes queued, from sock_diag) and
    read_shut tell an empty seqpacket message from end-of-file.
    """
    orig = sk.getsockopt(SOL_SOCKET, SO_PEEK_OFF)
    bufsize = max(sk.getsockopt(SOL_SOCKET, socket.SO_RCVBUF), 1 << 16)
    sk.setsockopt(SOL_SOCKET, SO_PEEK_OFF, 0)
    msgs: list[bytes] = []
    seen = 0
    try:
        part: list[bytes] = []
        while True:
            try:
                data, anc, flags, _ = sk.recvmsg(
                    bufsize, CMSG_ROOM,
                    socket.MSG_PEEK | socket.MSG_DONTWAIT |
                    socket.MSG_CMSG_CLOEXEC)
            except BlockingIOError:
                break
            _check_ancillary(anc)
            if not data and not part:
                if sk_type == socket.SOCK_STREAM:
                    break                   # end-of-file: peer shut down
                if (sk_type == socket.SOCK_SEQPACKET and read_shut and
                        seen >= rq_bytes):
                    break
            seen += len(data)
            if sk_type == socket.SOCK_STREAM:
                msgs.append(data)
                continue
            part.append(data)
            if not flags & socket.MSG_TRUNC:
                msgs.append(b"".join(part))
                part = []
    finally:
        sk.setsockopt(SOL_SOCKET, SO_PEEK_OFF, orig)
    return msgs


def _check_ancillary(anc: list[tuple[int, int, bytes]]) -> None:
    """Peeked fds are installed in criu: closed at once, then refused.
    Credentials and security labels are dropped: messages sent again at
    restore carry criu's."""
    rights = False
    for level, kind, data in anc:
        if level == SOL_SOCKET and kind == socket.SCM_RIGHTS:
            rights = True
            n = len(data) // 4
            for fd in (ctypes.c_int * n).from_buffer_copy(data[:n * 4]):
                try:
                    os.close(fd)
                except OSError:
                    pass
    if rights:
        raise FdsInFlight()


def send_all(sk: socket.socket, msgs: list[bytes], sk_type: int) -> None:
    """Queue msgs to sk's peer, each as one message (dgram, seqpacket) or
    back to back (stream); never waits (BlockingIOError if it would).
    The sender's buffer is raised first: the messages queued at the peer
    count against it."""
    sk.setsockopt(SOL_SOCKET, SO_SNDBUFFORCE, MAX_BUF)
    for msg in msgs:
        if sk_type == socket.SOCK_STREAM:
            view = memoryview(msg)
            while view:
                view = view[sk.send(view, socket.MSG_DONTWAIT):]
        else:
            sent = sk.send(msg, socket.MSG_DONTWAIT)
            if sent != len(msg):
                raise OSError(0, f"a {len(msg)}-byte message was cut to "
                              f"{sent} bytes")


class Sockaddr(ctypes.Structure):
    """A generic socket address, here only to say AF_UNSPEC.

    struct sockaddr {
        sa_family_t sa_family;
        char        sa_data[14];
    };
    """

    _fields_ = [("sa_family", ctypes.c_ushort),
                ("sa_data", ctypes.c_char * 14)]


def disconnect(sk: socket.socket) -> None:
    """connect(AF_UNSPEC): a dgram socket forgets its peer, so that any
    socket may send to it again (Python's connect() cannot say AF_UNSPEC
    on an AF_UNIX socket)."""
    from compel.native._libc import sys
    addr = Sockaddr(socket.AF_UNSPEC)
    sys("connect", sk.fileno(), ctypes.byref(addr),
        ctypes.sizeof(ctypes.c_ushort))
