"""IPv4 and IPv6 sockets that hold no connection: listening TCP sockets
(address, port, backlog), TCP sockets not connected yet (bound or not),
and UDP sockets (bound, connected or neither), as inet_sk_entry in
files.img with their SOL_SOCKET options (shared with unix sockets:
unix_opts) and IPV6_V6ONLY.

What is read: the family, type and protocol (SO_DOMAIN, SO_TYPE,
SO_PROTOCOL), the names (getsockname, getpeername) and the TCP state
(TCP_INFO) on criu's own copy of the task's socket (pidfd_getfd); the
backlog of a listening socket from sock_diag (INET_DIAG, through
pyroute2), the only place the kernel shows it.

Refused at dump, naming the socket: established and closing TCP
connections (they need TCP repair: --tcp-established is not supported
yet), a listening socket with connections not yet accepted (they would be
lost), raw and other kinds.  Datagrams waiting in a UDP socket's queue
are not kept (as in CRIU); the dump log says how many bytes were there.
"""

from __future__ import annotations

import ctypes
import fcntl
import ipaddress
import os
import socket
import stat
from typing import Any

from compel.native import pidfd as npidfd
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask
from criu.resources.fdtypes import unix_opts

FD_TYPE = 4                         # fd_types.INETSK

# include/net/tcp_states.h
TCP_ESTABLISHED = 1
TCP_CLOSE = 7
TCP_LISTEN = 10
SO_DOMAIN = 39
SO_PROTOCOL = 38
TCP_INFO = 11


def match(info: proc.FdInfo) -> bool:
    """Every socket the unix kind (earlier in the table) left: dump()
    checks the family and refuses what is not IPv4 or IPv6."""
    return stat.S_ISSOCK(info.st.st_mode)


def _words(family: int, host: str) -> list[int]:
    """An address as the image keeps it: 32-bit words in network order
    (what the bytes read as a little-endian u32, as CRIU's do)."""
    packed = socket.inet_pton(family, host.split("%", 1)[0])
    return [int.from_bytes(packed[i:i + 4], "little")
            for i in range(0, len(packed), 4)]


def _host(family: int, words: Any) -> str:
    packed = b"".join(int(w).to_bytes(4, "little") for w in words)
    if not packed:
        packed = bytes(4 if family == socket.AF_INET else 16)
    return socket.inet_ntop(family, packed)


def _backlog(family: int, ino: int) -> int:
    from pyroute2.netlink.diag import DiagSocket
    with DiagSocket() as ds:
        ds.bind()
        for msg in ds.get_sock_stats(family=family,
                                     protocol=socket.IPPROTO_TCP,
                                     states=1 << TCP_LISTEN):
            if msg["idiag_inode"] == ino:
                return int(msg["idiag_wqueue"])
    return socket.SOMAXCONN


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import sk_inet_pb2
    where = f"{files.where(task.pid, info.fd)}: {info.target}"
    try:
        copy = npidfd.fd_of(task.pid, info.fd)
    except OSError as e:
        raise DumpError(f"{where}: cannot get the socket: {e.strerror}") \
            from e
    with socket.socket(fileno=copy) as sk:
        family = sk.getsockopt(socket.SOL_SOCKET, SO_DOMAIN)
        if family not in (socket.AF_INET, socket.AF_INET6):
            names = {int(socket.AF_NETLINK): "AF_NETLINK",
                     int(socket.AF_PACKET): "AF_PACKET"}
            name = names.get(family, f"family {family}")
            raise DumpError(f"{where}: {name} sockets are not supported "
                            "yet")
        sk_type = sk.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
        proto = sk.getsockopt(socket.SOL_SOCKET, SO_PROTOCOL)
        src = sk.getsockname()
        try:
            dst = sk.getpeername()
        except OSError:
            dst = None
        if sk_type == socket.SOCK_STREAM and proto == socket.IPPROTO_TCP:
            state = sk.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 1)[0]
            if state not in (TCP_LISTEN, TCP_CLOSE):
                raise DumpError(f"{where}: a TCP connection (state {state})"
                                ": --tcp-established is not supported yet")
        elif sk_type == socket.SOCK_DGRAM and proto == socket.IPPROTO_UDP:
            state = TCP_ESTABLISHED if dst else TCP_CLOSE
            queued = fcntl_int(sk, 0x541B)          # FIONREAD
            if queued:
                ctx.log.warning("%s: %d bytes queued in a UDP socket are "
                                "not kept", where, queued)
        else:
            raise DumpError(f"{where}: socket type {sk_type} protocol "
                            f"{proto} is not supported yet")
        try:
            opts = unix_opts.dump_opts(sk)
        except unix_opts.FilterAttached:
            raise DumpError(f"{where}: a BPF filter is attached: not "
                            "supported yet") from None
        entry = sk_inet_pb2.inet_sk_entry(
            id=files.new_id(ctx), ino=info.st.st_ino, family=family,
            type=sk_type, proto=proto, state=state, src_port=src[1],
            dst_port=dst[1] if dst else 0,
            flags=files.file_flags(info), backlog=0,
            src_addr=_words(family, src[0]),
            dst_addr=_words(family, dst[0]) if dst else [],
            fown=files.fown(), opts=opts)
        if family == socket.AF_INET6:
            entry.v6only = bool(sk.getsockopt(socket.IPPROTO_IPV6,
                                              socket.IPV6_V6ONLY))
        if state == TCP_LISTEN:
            entry.backlog = _backlog(family, info.st.st_ino)
            waiting = sk.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 32)
            # tcpi_unacked (offset 24) is the accept queue's length
            # for a listening socket.
            if int.from_bytes(waiting[24:28], "little"):
                raise DumpError(f"{where}: connections wait in its accept "
                                "queue: not supported yet")
    ctx.log.info("%s: %s port %d state %d", where,
                 "TCP" if proto == socket.IPPROTO_TCP else "UDP",
                 entry.src_port, state)
    return files.add_file(ctx, FD_TYPE, isk=entry)


def fcntl_int(sk: socket.socket, request: int) -> int:
    buf = fcntl.ioctl(sk.fileno(), request, bytes(ctypes.sizeof(ctypes.c_int)))
    return int.from_bytes(buf, "little")


# ------------------------------------------------------------- restore side
def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    ie, where = entry.isk, files.where(task.pid, fd)
    what = f"{where}: socket:[{ie.ino}]"
    try:
        sk = socket.socket(ie.family, ie.type, ie.proto)
    except OSError as e:
        raise RestoreError(f"{what}: cannot make the socket: "
                           f"{e.strerror}") from e
    try:
        unix_opts.restore_opts(sk, ie.opts)
        if ie.family == socket.AF_INET6 and ie.HasField("v6only"):
            sk.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                          int(ie.v6only))
        src = _host(ie.family, ie.src_addr)
        if ie.src_port or ipaddress.ip_address(src).packed.strip(b"\0"):
            sk.bind((src, ie.src_port))
        if ie.state == TCP_LISTEN:
            sk.listen(ie.backlog)
        elif ie.dst_port:
            sk.connect((_host(ie.family, ie.dst_addr), ie.dst_port))
        new = sk.detach()
    except OSError as e:
        sk.close()
        raise RestoreError(f"{what}: cannot set it up again (port "
                           f"{ie.src_port}): {e.strerror}") from e
    fcntl.fcntl(new, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
    fcntl.fcntl(new, fcntl.F_SETFL, ie.flags & ~files.OPEN_ONLY_FLAGS)
    return new
