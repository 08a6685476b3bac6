"""restore(): recreate a saved connection in a new socket.

Order matters, because the kernel only accepts each step in a given state:
sequence numbers only before connect(); options only after connect() and
before any data; the window only once the receive queue (and so rcv_nxt)
is back. Data the original had put on the wire goes back in repair mode,
so the kernel counts it as sent and retransmits it until the peer acks;
data never transmitted is written normally after repair mode ends.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from . import kernel, repair
from .errors import RestoreError, SoccrError, UnsupportedStateError
from .state import TcpState


def restore(state: TcpState) -> socket.socket:
    """A new connected socket that carries the saved connection on.

    Needs CAP_NET_ADMIN. The local address may still be held by another
    socket (for instance a listener): repair mode binds regardless. The
    peer must not have seen the original go away, i.e. it was released
    with close=True and no packet of the peer was answered in between.
    """
    if state.state != "ESTABLISHED":
        raise UnsupportedStateError(
            f"cannot restore a connection in TCP state {state.state}; "
            f"soccr restores ESTABLISHED connections only", state.state)
    s = socket.socket(state.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        repair.repair_on(s)
        _rebuild(s, state)
    except BaseException:
        _discard(s)
        raise
    return s


def _rebuild(s: socket.socket, st: TcpState) -> None:
    where = f"{_endpoint(st.local)} -> {_endpoint(st.peer)}"
    sent, unsent = st.sent_queue, st.unsent_queue

    with _step(where, "size the socket buffers"):
        repair.ensure_buffer(s, socket.SO_SNDBUF, kernel.SO_SNDBUFFORCE, len(st.send_queue))
        repair.ensure_buffer(s, socket.SO_RCVBUF, kernel.SO_RCVBUFFORCE, len(st.recv_queue))
    # The queue writes below advance these to the saved snd_seq / rcv_seq.
    with _step(where, "set the sequence numbers"):
        repair.set_queue_seq(s, kernel.TCP_SEND_QUEUE, st.snd_seq - len(st.send_queue))
        repair.set_queue_seq(s, kernel.TCP_RECV_QUEUE, st.rcv_seq - len(st.recv_queue))
    # Repair mode lets bind() share a port still held by others (a listener,
    # a socket in TIME_WAIT). Setting SO_REUSEADDR now would cancel that.
    with _step(where, f"bind to {_endpoint(st.local)}"):
        s.bind(st.local)
    with _step(where, f"connect to {_endpoint(st.peer)} in repair mode"):
        s.connect(st.peer)
    with _step(where, "restore the TCP options"):
        repair.set_options(s, _repair_options(st))
        if st.timestamps and st.timestamp is not None:
            repair.set_uint(s, kernel.TCP_TIMESTAMP, st.timestamp)
    with _step(where, f"restore the receive queue ({len(st.recv_queue)} bytes)"):
        repair.fill_queue(s, kernel.TCP_RECV_QUEUE, st.recv_queue)
    with _step(where, f"restore the sent, unacknowledged data ({len(sent)} bytes)"):
        repair.fill_queue(s, kernel.TCP_SEND_QUEUE, sent)
    if st.window is not None:
        with _step(where, "restore the window"):
            w = st.window
            repair.set_window(s, kernel.TcpRepairWindow(
                w.snd_wl1, w.snd_wnd, w.max_window, w.rcv_wnd, w.rcv_wup))
    with _step(where, "restore TCP_NODELAY/TCP_CORK"):
        repair.set_uint(s, kernel.TCP_NODELAY, int(st.nodelay))
        repair.set_uint(s, kernel.TCP_CORK, int(st.cork))
    with _step(where, "leave repair mode"):
        repair.select_queue(s, kernel.TCP_NO_QUEUE)
        repair.repair_off(s)
    with _step(where, f"queue the unsent data ({len(unsent)} bytes)"):
        s.sendall(unsent)


def _repair_options(st: TcpState) -> list[kernel.TcpRepairOpt]:
    """The negotiated options, as TCP_REPAIR_OPTIONS takes them."""
    opts = [kernel.TcpRepairOpt(kernel.TCPOPT_MAXSEG, st.mss_clamp)]
    if st.sack:
        opts.append(kernel.TcpRepairOpt(kernel.TCPOPT_SACK_PERM, 0))
    if st.window_scaling:
        opts.append(kernel.TcpRepairOpt(kernel.TCPOPT_WINDOW, st.snd_wscale | st.rcv_wscale << 16))
    if st.timestamps:
        opts.append(kernel.TcpRepairOpt(kernel.TCPOPT_TIMESTAMP, 0))
    return opts


@contextlib.contextmanager
def _step(where: str, what: str) -> Iterator[None]:
    """Name the step that failed: 'restore A -> B: bind to A: Address in use'."""
    try:
        yield
    except SoccrError:
        raise
    except OSError as e:
        raise RestoreError(f"restore {where}: {what}: {e.strerror or e}") from None


def _discard(s: socket.socket) -> None:
    """Close a half-built socket silently: in repair mode nothing reaches the peer."""
    try:
        repair.repair_on(s)
    except (OSError, SoccrError):
        pass
    s.close()


def _endpoint(addr: tuple) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
