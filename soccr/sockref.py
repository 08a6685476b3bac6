"""Accept either a socket.socket or a raw file descriptor wherever a socket is taken."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Union

from .errors import NotTcpSocketError

SocketLike = Union[socket.socket, int]


@contextlib.contextmanager
def borrowed(sock: SocketLike) -> Iterator[socket.socket]:
    """A socket.socket for the duration of a call, never closing the caller's.

    A plain fd is wrapped for the call and detached afterwards, so the
    descriptor stays the caller's (and messages name its real number).
    """
    if isinstance(sock, socket.socket):
        if sock.fileno() < 0:
            raise NotTcpSocketError("the socket is closed")
        yield sock
        return
    if isinstance(sock, bool) or not isinstance(sock, int):
        raise NotTcpSocketError(
            f"expected a socket.socket or a file descriptor, got {type(sock).__name__}")
    if sock < 0:
        raise NotTcpSocketError(f"fd {sock} is not a file descriptor")
    try:
        wrapped = socket.socket(fileno=sock)
    except OSError as e:
        raise NotTcpSocketError(f"fd {sock} is not a socket: {e.strerror}") from None
    try:
        yield wrapped
    finally:
        wrapped.detach()


def close(sock: SocketLike) -> None:
    """Close the caller's socket object or descriptor."""
    if isinstance(sock, socket.socket):
        sock.close()
    else:
        os.close(sock)
