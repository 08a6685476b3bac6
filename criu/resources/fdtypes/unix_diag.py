"""What the kernel says about unix sockets, through sock_diag (UNIX_DIAG).

One netlink dump (pyroute2's DiagSocket) lists every AF_UNIX socket of
criu's network namespace with its inode, type, state, peer inode, bound
name, listen queue (UDIAG_SHOW_ICONS: the clients of connections not yet
accepted), queue lengths and shutdown state: everything /proc does not
show about a socket fd.

pyroute2 decodes UNIX_DIAG_NAME as a C string, which would cut an
abstract name (it starts with a NUL byte) to nothing, and UNIX_DIAG_ICONS
as hex text: the message class below takes the name as raw bytes and the
icons as an array of u32 inodes.
"""

from __future__ import annotations

import dataclasses
import functools
import socket
from typing import Any, Optional

# Socket states as unix sockets use them (include/net/tcp_states.h).
TCP_ESTABLISHED = 1
TCP_CLOSE = 7
TCP_LISTEN = 10

# sk_shutdown bits (include/net/sock.h); sk_shutdown in sk-opts.proto uses
# the same values (READ = 1, WRITE = 2, BOTH = 3).
RCV_SHUTDOWN = 1
SEND_SHUTDOWN = 2


@functools.cache
def _marshal() -> Any:
    """pyroute2's decoder class for unix_diag, made on first use: importing
    pyroute2 costs criu about 80 ms, which a tree without sockets should
    not pay."""
    from pyroute2.netlink.diag import MarshalDiag, unix_diag_msg

    class _UnixDiagMsg(unix_diag_msg):
        """unix_diag_msg with the name as bytes and the icons as inodes.

        struct unix_diag_msg {
            __u8  udiag_family;
            __u8  udiag_type;
            __u8  udiag_state;
            __u8  pad;
            __u32 udiag_ino;
            __u32 udiag_cookie[2];
        };
        """

        nla_map = (
            ("UNIX_DIAG_NAME", "cdata"),
            ("UNIX_DIAG_VFS", "unix_diag_vfs"),
            ("UNIX_DIAG_PEER", "uint32"),
            ("UNIX_DIAG_ICONS", "array(uint32)"),
            ("UNIX_DIAG_RQLEN", "unix_diag_rqlen"),
            ("UNIX_DIAG_MEMINFO", "hex"),
            ("UNIX_DIAG_SHUTDOWN", "uint8"),
        )

    class _Marshal(MarshalDiag):
        msg_map = {socket.AF_UNIX: _UnixDiagMsg}

    return _Marshal


@dataclasses.dataclass(frozen=True)
class UnixSock:
    """One unix socket as sock_diag describes it.

    name: the bound address as the kernel keeps it: empty (unbound), a
    path with its trailing NUL, or an abstract name (first byte NUL).
    rqueue/wqueue: for a listening socket, the connections waiting in its
    queue and its backlog; for others, bytes queued to read (for a dgram
    socket: the first message's length) and bytes sent not yet read.
    icons: for a listening socket, the inodes of the clients whose
    connections wait to be accepted (0: a client already closed).
    """

    ino: int
    type: int
    state: int
    name: bytes = b""
    vfs: Optional[tuple[int, int]] = None     # (dev, ino) of a path name
    peer: int = 0
    icons: tuple[int, ...] = ()
    rqueue: int = 0
    wqueue: int = 0
    shutdown: int = 0

    @property
    def path_name(self) -> bool:
        return bool(self.name) and self.name[0] != 0


def _decode(msg: Any) -> UnixSock:
    name = msg.get_attr("UNIX_DIAG_NAME")
    vfs = msg.get_attr("UNIX_DIAG_VFS")
    rq = msg.get_attr("UNIX_DIAG_RQLEN")
    return UnixSock(
        ino=msg["udiag_ino"], type=msg["udiag_type"],
        state=msg["udiag_state"], name=bytes(name or b""),
        vfs=(vfs["udiag_vfs_dev"], vfs["udiag_vfs_ino"]) if vfs else None,
        peer=msg.get_attr("UNIX_DIAG_PEER") or 0,
        icons=tuple(msg.get_attr("UNIX_DIAG_ICONS") or ()),
        rqueue=rq["udiag_rqueue"] if rq else 0,
        wqueue=rq["udiag_wqueue"] if rq else 0,
        shutdown=msg.get_attr("UNIX_DIAG_SHUTDOWN") or 0)


def sockets() -> dict[int, UnixSock]:
    """Every unix socket of criu's network namespace, by inode (OSError if
    sock_diag fails)."""
    from pyroute2.netlink.diag import (UDIAG_SHOW_ICONS, UDIAG_SHOW_NAME,
                                       UDIAG_SHOW_PEER, UDIAG_SHOW_RQLEN,
                                       UDIAG_SHOW_VFS, DiagSocket)
    show = (UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER |
            UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN)
    with DiagSocket() as ds:
        ds.set_marshal(_marshal()())
        ds.bind()
        msgs = ds.get_sock_stats(family=socket.AF_UNIX, show=show)
    out = {}
    for msg in msgs:
        if msg.get("udiag_family", socket.AF_UNIX) != socket.AF_UNIX:
            continue
        sk = _decode(msg)
        out[sk.ino] = sk
    return out


# Inodes known to be unix sockets, for match(): it is called once per fd
# and has no dump context, so the table is read again only when an inode
# is not in it (a socket made since, or one of another family).
_known: set[int] = set()


def is_unix(ino: int) -> bool:
    """Whether socket inode `ino` is an AF_UNIX socket (in criu's network
    namespace: the only one the dumped tree may use for now)."""
    if ino in _known:
        return True
    try:
        _known.clear()
        _known.update(sockets())
    except OSError:
        return False
    return ino in _known
